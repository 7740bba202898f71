// Command ipipdecap is a user-space IPIP decapsulator (RFC 2003) for a real
// server in the TUN end-to-end tests, standing in for the kernel's ipip
// device on machines whose kernel has none. Run it inside the real server's
// network namespace (ip netns exec NS ipipdecap -tun NAME):
//
//	ipipdecap -tun NAME [-ready FILE]
//
// It creates the TUN device NAME (IFF_TUN, no packet information) and sets it
// up, then reads every IP protocol 4 packet the namespace receives from a raw
// socket, checks the outer header with fngw/tunnel.Decap and writes the inner
// packet into the TUN device: the namespace's own kernel then receives it as
// if it had arrived on NAME, so its TCP and UDP stack answers. The real
// server's set-up is the one an ipip device needs (VIP on lo, rp_filter 0 on
// NAME). -ready FILE is created once both are open.
//
// On SIGTERM or SIGINT it prints a JSON report to standard output and exits 0:
// packets decapsulated, bad ones (not a valid IPIP packet), the largest outer
// and inner packet, outer sources seen and how many outer headers had DF.
//
// It is test code: no part of the gateway uses it.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"fngw/tunnel"
)

type report struct {
	Packets  uint64         `json:"packets"`
	Bytes    uint64         `json:"bytes"` // inner bytes written
	Bad      uint64         `json:"bad"`
	MaxOuter int            `json:"max_outer"`
	MaxInner int            `json:"max_inner"`
	DF       uint64         `json:"df"`
	Sources  map[string]int `json:"sources"` // outer source -> packets
	Errors   []string       `json:"errors,omitempty"`
}

func main() {
	name := flag.String("tun", "", "TUN device to create (required)")
	ready := flag.String("ready", "", "file to create once the devices are open")
	flag.Parse()
	if *name == "" {
		fmt.Fprintln(os.Stderr, "usage: ipipdecap -tun NAME [-ready FILE]")
		os.Exit(2)
	}
	if err := run(*name, *ready); err != nil {
		fmt.Fprintln(os.Stderr, "ipipdecap:", err)
		os.Exit(1)
	}
}

func run(name, ready string) error {
	tun, err := openTUN(name)
	if err != nil {
		return err
	}
	raw, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_IPIP)
	if err != nil {
		return fmt.Errorf("raw socket for IP protocol 4: %w", err)
	}
	if ready != "" {
		if err := os.WriteFile(ready, nil, 0o644); err != nil {
			return err
		}
	}

	var mu sync.Mutex
	rep := report{Sources: map[string]int{}}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		mu.Lock()
		json.NewEncoder(os.Stdout).Encode(&rep)
		os.Exit(0)
	}()

	buf := make([]byte, 65536)
	for {
		n, err := unix.Read(raw, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("reading the raw socket: %w", err)
		}
		inner, outer, ok := tunnel.Decap(buf[:n])
		mu.Lock()
		if !ok {
			rep.Bad++
			mu.Unlock()
			continue
		}
		rep.Packets++
		rep.Bytes += uint64(len(inner))
		rep.MaxOuter = max(rep.MaxOuter, n)
		rep.MaxInner = max(rep.MaxInner, len(inner))
		if outer.DF() {
			rep.DF++
		}
		rep.Sources[outer.SourceAddress().String()]++
		if _, err := unix.Write(tun, inner); err != nil && len(rep.Errors) < 10 {
			rep.Errors = append(rep.Errors, fmt.Sprintf("writing %d bytes to %s: %v", len(inner), name, err))
		}
		mu.Unlock()
	}
}

// openTUN creates TUN device name in this namespace and sets it up.
func openTUN(name string) (int, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open /dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return -1, err
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		return -1, fmt.Errorf("TUNSETIFF %s: %w", name, err)
	}
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	defer unix.Close(s)
	up, err := unix.NewIfreq(name)
	if err != nil {
		return -1, err
	}
	if err := unix.IoctlIfreq(s, unix.SIOCGIFFLAGS, up); err != nil {
		return -1, fmt.Errorf("SIOCGIFFLAGS %s: %w", name, err)
	}
	up.SetUint16(up.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(s, unix.SIOCSIFFLAGS, up); err != nil {
		return -1, fmt.Errorf("setting %s up: %w", name, err)
	}
	return fd, nil
}
