package harness

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// PacketSocket is an AF_PACKET socket bound to one interface of a namespace.
// It puts frames on that link exactly as the test built them (the kernel adds
// no header, no checksum and no padding) and receives nothing: it is opened
// with protocol 0, so no frame is queued to it. A test drives a gateway port
// that reads a live interface (net_pcap rx_iface=) by sending on the other end
// of a veth pair.
type PacketSocket struct {
	Link string
	ns   *Netns

	mu      sync.Mutex
	fd      int
	ifindex int
}

// Do runs f on an OS thread that has entered namespace n (the current one
// for a nil n) and returns f's error. The thread goes back to its original
// namespace afterwards and only then is unlocked; if it cannot go back it
// stays locked, so the runtime ends it with the goroutine rather than run
// other goroutines in n. (Letting every such thread end would be simpler but
// kills child processes: a gateway is started with Pdeathsig, which fires
// when the thread that forked it exits, and that thread may be this one.)
// Sockets f creates belong to n for good and may be used from any goroutine.
func (n *Netns) Do(f func() error) error {
	if n == nil {
		return f()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		target, err := os.Open("/run/netns/" + n.Name)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns %s: %w", n.Name, err)
			return
		}
		ferr := f()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("returning from %s: %w", n.Name, err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// OpenPacketSocket opens a send-only AF_PACKET socket on link inside n (a
// namespace of the test), closed by t.Cleanup. The socket belongs to n for good,
// wherever the test goroutine runs afterwards.
func (n *Netns) OpenPacketSocket(link string) *PacketSocket {
	n.t.Helper()
	s := &PacketSocket{Link: link, ns: n, fd: -1}
	err := n.Do(func() error {
		ifi, err := net.InterfaceByName(link)
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("AF_PACKET socket: %w", err)
		}
		s.fd, s.ifindex = fd, ifi.Index
		return nil
	})
	if err != nil {
		n.t.Fatalf("packet socket on %s in %s: %v", link, n, err)
	}
	n.t.Cleanup(func() { s.Close() })
	return s
}

// Send transmits one Ethernet frame on the link.
func (s *PacketSocket) Send(frame []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fd < 0 {
		return fmt.Errorf("packet socket on %s is closed", s.Link)
	}
	sa := &unix.SockaddrLinklayer{Ifindex: s.ifindex, Halen: 6}
	copy(sa.Addr[:], frame[:6])
	if err := unix.Sendto(s.fd, frame, 0, sa); err != nil {
		return fmt.Errorf("sending %d bytes on %s in %s: %w", len(frame), s.Link, s.ns, err)
	}
	return nil
}

// Close closes the socket; later calls do nothing.
func (s *PacketSocket) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fd < 0 {
		return nil
	}
	err := unix.Close(s.fd)
	s.fd = -1
	return err
}
