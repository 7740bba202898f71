package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"fngw/test/harness"
)

// End-to-end tests of the NAT (-m), DR (-g) and TUN (-i) forwarding modes,
// modelled on the Linux kernel's IPVS selftest (tools/testing/selftests/
// netfilter/ipvs.sh): a client namespace, the gateway's namespace and a real
// server namespace, each with its own kernel stack.
//
//	client 198.18.1.2 ──tap── dpdk0 198.18.1.1   dpdk1 198.18.2.1 ──tap── 198.18.2.11 real server
//	       198.18.9.1 ─────────────── veth (DR and TUN only) ─────────────── 198.18.9.2
//	                          VIP 198.18.1.100
//
// NAT: the real server's default route is the gateway (198.18.2.1), which
// rewrites VIP:80 to RIP:8080 and the replies back; the server sees the
// client's own address. DR and TUN: the real server holds the VIP on lo with
// ARP for it suppressed (arp_ignore=1, arp_announce=2), rp_filter=0, and
// answers the client directly over the veth, which bypasses the gateway; the
// client also runs rp_filter=0, since those answers come from the VIP on
// another interface than its route to the VIP. This kernel has no ipip
// module, so for TUN the real server runs ipipdecap (test/e2e/cmd/ipipdecap,
// built by the test): a raw protocol-4 socket feeding a TUN device, so that
// the server's own kernel TCP/UDP stack answers.
//
// The servers and clients are goroutines of the test: each socket is created
// on an OS thread moved into the right namespace (setns), then used from
// anywhere. Services are configured with the ipvsadm commands a user types.

const (
	mdGwClient = "198.18.1.1"
	mdClient   = "198.18.1.2"
	mdGwRS     = "198.18.2.1"
	mdRS       = "198.18.2.11"
	mdVIP      = "198.18.1.100"
	mdDirectCl = "198.18.9.1" // the client's end of the direct path
	mdDirectRS = "198.18.9.2"
	mdTunDev   = "ipipd"        // ipipdecap's TUN device in the real server's namespace
	mdRouter   = "198.18.2.254" // TestModesTUNRouted: the router toward 198.18.3.0/24
	mdRoutedRS = "198.18.3.11"

	mdFileSize = 8 << 20
	mdIOWait   = 120 * time.Second // one transfer, at most
)

// mdTopo is one running topology.
type mdTopo struct {
	mode           string // "nat", "dr" or "tun"
	g              *harness.Gateway
	client, rs, gw *harness.Netns
	tapC, tapS     string
	dir            string
	decap          *exec.Cmd // TUN: the decapsulator
	decapOut       *bytes.Buffer
	tcpPort        string // real server TCP port
	udpPort        string // real server UDP port
	udp            *mdUDPServer
	rsAddr         string // the real server's address (RIP)
	router         *harness.Netns
	// udpMax is the largest UDP payload the echo test sends: one that
	// fits the path MTU the client learns, since the client's kernel
	// fragments larger ones and the gateway does not forward fragments.
	udpMax int
}

// mdOpts vary a topology.
type mdOpts struct {
	cfg    harness.Config // Lcores...; ports are filled in
	queues int            // per port; 0 means 1
	// routedMTU, if set, puts a router namespace between the gateway and
	// the real server (198.18.2.254 → 198.18.3.0/24, RIP 198.18.3.11) whose
	// link to the real server has this MTU.
	routedMTU int
}

func mdListen(t *testing.T, ns *harness.Netns, network, addr string) net.Listener {
	t.Helper()
	var l net.Listener
	if err := ns.Do(func() (err error) { l, err = net.Listen(network, addr); return }); err != nil {
		t.Fatalf("listen %s %s in %s: %v", network, addr, ns, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func mdDial(ns *harness.Netns, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := ns.Do(func() (err error) {
		c, err = net.DialTimeout(network, addr, 10*time.Second)
		return
	})
	return c, err
}

// mdStart builds the topology for mode and starts the gateway, the real
// server's TCP and UDP servers and, for TUN, the decapsulator. Services are
// left to the test.
func mdStart(t *testing.T, mode string, o mdOpts) *mdTopo {
	t.Helper()
	harness.Prepare(t)
	cfg, queues := o.cfg, o.queues
	tp := &mdTopo{mode: mode, tcpPort: "80", udpPort: "53", rsAddr: mdRS, udpMax: 1400}
	if o.routedMTU != 0 {
		tp.rsAddr = mdRoutedRS
		tp.udpMax = o.routedMTU - 20 - 28
	}
	if mode == "nat" {
		tp.tcpPort, tp.udpPort = "8080", "5353" // NAT maps ports
	}
	var decapBin string
	if mode == "tun" {
		decapBin = decapCmd.binary(t)
	}
	// Namespaces first: cleanups run in reverse, so the gateway and the
	// processes stop before their namespaces go.
	tp.gw = harness.NewNetns(t, "gw")
	tp.client = harness.NewNetns(t, "client")
	tp.rs = harness.NewNetns(t, "rs")
	all := []*harness.Netns{tp.gw, tp.client, tp.rs}
	if o.routedMTU != 0 {
		tp.router = harness.NewNetns(t, "router")
		all = append(all, tp.router)
	}
	for _, ns := range all {
		ns.DisableIPv6()
	}
	tp.dir = harness.TempDir(t, "modes")

	tp.tapC, tp.tapS = harness.UniqueIfName(), harness.UniqueIfName()
	q := max(queues, 1)
	cfg.Ports = []harness.Port{
		{Name: "dpdk0", Device: "net_tap0,iface=" + tp.tapC, Queues: q, Addrs: []string{mdGwClient + "/24"}},
		{Name: "dpdk1", Device: "net_tap1,iface=" + tp.tapS, Queues: q, Addrs: []string{mdGwRS + "/24"}},
	}
	tp.g = harness.Start(t, cfg, tp.gw)
	tp.gw.WaitLink(tp.tapC, 10*time.Second)
	tp.gw.WaitLink(tp.tapS, 10*time.Second)

	tp.gw.MoveLink(tp.tapC, tp.client)
	tp.client.AddAddr(tp.tapC, mdClient+"/24")
	tp.client.LinkUp(tp.tapC)
	tp.client.AddRoute("default", mdGwClient)

	rsLink := tp.tapS
	if o.routedMTU == 0 {
		tp.gw.MoveLink(tp.tapS, tp.rs)
		tp.rs.AddAddr(tp.tapS, mdRS+"/24")
		tp.rs.LinkUp(tp.tapS)
	} else {
		// gateway ── 198.18.2.254 router 198.18.3.1 ──(MTU routedMTU)── 198.18.3.11
		tp.gw.MoveLink(tp.tapS, tp.router)
		tp.router.AddAddr(tp.tapS, mdRouter+"/24")
		tp.router.LinkUp(tp.tapS)
		a, b := harness.UniqueIfName(), harness.UniqueIfName()
		tp.router.AddVeth(a, b)
		tp.router.MoveLink(b, tp.rs)
		mtu := fmt.Sprint(o.routedMTU)
		tp.router.MustIP("link", "set", a, "mtu", mtu)
		tp.rs.MustIP("link", "set", b, "mtu", mtu)
		tp.router.AddAddr(a, "198.18.3.1/24")
		tp.rs.AddAddr(b, mdRoutedRS+"/24")
		tp.rs.LinkUp(b)
		tp.rs.AddRoute(mdGwRS+"/32", "198.18.3.1")
		tp.router.Sysctl("net.ipv4.ip_forward", "1")
		tp.g.MustCmd("ip", "route", "add", "198.18.3.0/24", "via", mdRouter, "dev", "dpdk1")
		rsLink = b
	}

	if mode == "nat" {
		// Replies must come back through the gateway.
		tp.rs.AddRoute("default", mdGwRS)
	} else {
		// The real-server set-up docs/modes.md gives for DR and TUN.
		tp.rs.MustIP("addr", "add", mdVIP+"/32", "dev", "lo")
		for _, kv := range [][2]string{
			{"net.ipv4.conf.all.arp_ignore", "1"}, {"net.ipv4.conf.all.arp_announce", "2"},
			{"net.ipv4.conf.all.rp_filter", "0"}, {"net.ipv4.conf.default.rp_filter", "0"},
			{"net.ipv4.conf." + rsLink + ".rp_filter", "0"},
		} {
			tp.rs.Sysctl(kv[0], kv[1])
		}
		// The direct path back to the client, bypassing the gateway.
		a, b := harness.UniqueIfName(), harness.UniqueIfName()
		tp.client.AddVeth(a, b)
		tp.client.MoveLink(b, tp.rs)
		tp.client.AddAddr(a, mdDirectCl+"/30")
		tp.rs.AddAddr(b, mdDirectRS+"/30")
		tp.rs.LinkUp(b)
		tp.rs.AddRoute("198.18.1.0/24", mdDirectCl)
		for _, l := range []string{"all", "default", a} {
			tp.client.Sysctl("net.ipv4.conf."+l+".rp_filter", "0")
		}
		tp.rs.Sysctl("net.ipv4.conf."+b+".rp_filter", "0")
	}
	if mode == "tun" {
		tp.startDecap(t, decapBin)
	}

	// The real server's services: on the VIP for DR and TUN (the packets
	// arrive addressed to it), on every address for NAT.
	host := mdVIP
	if mode == "nat" {
		host = "0.0.0.0"
	}
	go mdServeTCP(mdListen(t, tp.rs, "tcp4", net.JoinHostPort(host, tp.tcpPort)))
	var pc net.PacketConn
	if err := tp.rs.Do(func() (err error) {
		pc, err = net.ListenPacket("udp4", net.JoinHostPort(host, tp.udpPort))
		return
	}); err != nil {
		t.Fatalf("UDP listen in %s: %v", tp.rs, err)
	}
	t.Cleanup(func() { pc.Close() })
	tp.udp = &mdUDPServer{pc: pc, peers: map[string]int{}}
	go tp.udp.serve()
	return tp
}

// startDecap runs ipipdecap in the real server's namespace until the test
// ends; its report is read by decapReport.
func (tp *mdTopo) startDecap(t *testing.T, bin string) {
	t.Helper()
	ready := filepath.Join(tp.dir, "decap.ready")
	tp.decapOut = new(bytes.Buffer)
	cmd := tp.rs.Command(bin, "-tun", mdTunDev, "-ready", ready)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = tp.decapOut, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %v: %v", cmd.Args, err)
	}
	tp.decap = cmd
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		if t.Failed() {
			t.Logf("ipipdecap stderr:\n%s\nstdout:\n%s", stderr.String(), tp.decapOut.String())
		}
	})
	harness.Eventually(t, 10*time.Second, "ipipdecap ready", func() error {
		if _, err := os.Stat(ready); err != nil {
			return err
		}
		return nil
	})
	for _, l := range []string{mdTunDev} {
		tp.rs.Sysctl("net.ipv4.conf."+l+".rp_filter", "0")
	}
}

// mdDecapReport is ipipdecap's report.
type mdDecapReport struct {
	Packets  uint64         `json:"packets"`
	Bytes    uint64         `json:"bytes"`
	Bad      uint64         `json:"bad"`
	MaxOuter int            `json:"max_outer"`
	MaxInner int            `json:"max_inner"`
	DF       uint64         `json:"df"`
	Sources  map[string]int `json:"sources"`
	Errors   []string       `json:"errors"`
}

// decapReport stops ipipdecap (SIGTERM) and returns its report.
func (tp *mdTopo) decapReport(t *testing.T) mdDecapReport {
	t.Helper()
	tp.decap.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- tp.decap.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ipipdecap: %v", err)
		}
	case <-time.After(10 * time.Second):
		tp.decap.Process.Kill()
		t.Fatal("ipipdecap did not exit on SIGTERM")
	}
	var r mdDecapReport
	if err := json.Unmarshal(tp.decapOut.Bytes(), &r); err != nil {
		t.Fatalf("ipipdecap report %q: %v", tp.decapOut.String(), err)
	}
	return r
}

// The TCP test protocol: the client sends an operation byte and a 16-byte
// header (length, seed), then
//
//	'U' upload: length bytes; the server answers with their SHA-256 and the
//	    client address it saw ("IP:port"), after the client's FIN;
//	'D' download: the server sends length bytes of ChaCha8(seed) and closes.
func mdServeTCP(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(mdIOWait))
			var hdr [17]byte
			if _, err := io.ReadFull(c, hdr[:]); err != nil {
				return
			}
			n := int64(binary.BigEndian.Uint64(hdr[1:]))
			switch hdr[0] {
			case 'U':
				h := sha256.New()
				if got, err := io.Copy(h, c); err != nil || got != n {
					fmt.Fprintf(c, "ERR read %d of %d bytes: %v", got, n, err)
					return
				}
				c.Write(h.Sum(nil))
				io.WriteString(c, c.RemoteAddr().String())
			case 'D':
				var seed [32]byte
				copy(seed[:], hdr[9:17])
				io.CopyN(c, mrand.NewChaCha8(seed), n)
			}
		}()
	}
}

// upload sends size random bytes to VIP:80 from the client and returns the
// client address the server saw; it fails unless the server's SHA-256 of what
// it received is the data's.
func (tp *mdTopo) upload(t *testing.T, size int64) string {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	want := sha256.Sum256(data)
	c, hdr := tp.dialServer(t, 'U', size)
	defer c.Close()
	start := time.Now()
	if _, err := c.Write(append(hdr[:], data...)); err != nil {
		t.Fatalf("upload: after %v: %v; gateway stats:\n%s", time.Since(start), err, tp.stats())
	}
	c.(*net.TCPConn).CloseWrite()
	ans, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("upload: reading the server's answer: %v", err)
	}
	if len(ans) < sha256.Size || !bytes.Equal(ans[:sha256.Size], want[:]) {
		t.Fatalf("upload of %d bytes: the server answered %q, want the SHA-256 %x", size, ans, want)
	}
	d := time.Since(start)
	t.Logf("uploaded %d bytes in %v (%.0f Mbit/s), SHA-256 %x identical", size, d.Round(time.Millisecond), float64(size)*8/d.Seconds()/1e6, want[:8])
	return string(ans[sha256.Size:])
}

// dialServer connects from the client to VIP:80 with the I/O deadline set
// and returns the connection and the header of a request op for size bytes
// (its seed bytes, hdr[9:17], zero).
func (tp *mdTopo) dialServer(t *testing.T, op byte, size int64) (net.Conn, [17]byte) {
	t.Helper()
	c, err := mdDial(tp.client, "tcp4", mdVIP+":80")
	if err != nil {
		t.Fatalf("connect to %s:80 from the client: %v; gateway stats:\n%s", mdVIP, err, tp.stats())
	}
	c.SetDeadline(time.Now().Add(mdIOWait))
	var hdr [17]byte
	hdr[0] = op
	binary.BigEndian.PutUint64(hdr[1:], uint64(size))
	return c, hdr
}

// download receives size bytes from the server and fails unless they are
// the expected pseudo-random stream, byte for byte (SHA-256 compared).
func (tp *mdTopo) download(t *testing.T, size int64) {
	t.Helper()
	var seed [32]byte
	rand.Read(seed[:8])
	wantH := sha256.New()
	io.CopyN(wantH, mrand.NewChaCha8(seed), size)
	c, hdr := tp.dialServer(t, 'D', size)
	defer c.Close()
	copy(hdr[9:], seed[:8])
	start := time.Now()
	if _, err := c.Write(hdr[:]); err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, err := io.Copy(h, c)
	d := time.Since(start)
	if err != nil || n != size {
		t.Fatalf("download: %d of %d bytes after %v: %v; gateway stats:\n%s", n, size, d, err, tp.stats())
	}
	if got, want := h.Sum(nil), wantH.Sum(nil); !bytes.Equal(got, want) {
		t.Fatalf("download of %d bytes: SHA-256 %x, want %x", size, got, want)
	}
	t.Logf("downloaded %d bytes in %v (%.0f Mbit/s), identical", size, d.Round(time.Millisecond), float64(size)*8/d.Seconds()/1e6)
}

// mdUDPServer echoes datagrams and records the peer addresses it saw.
type mdUDPServer struct {
	pc    net.PacketConn
	mu    sync.Mutex
	peers map[string]int // IP -> datagrams
}

func (s *mdUDPServer) serve() {
	buf := make([]byte, 65536)
	for {
		n, from, err := s.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		s.mu.Lock()
		s.peers[from.(*net.UDPAddr).IP.String()]++
		s.mu.Unlock()
		s.pc.WriteTo(buf[:n], from)
	}
}

func (s *mdUDPServer) peersSeen() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string]int{}
	for k, v := range s.peers {
		m[k] = v
	}
	return m
}

// udpEcho sends n datagrams of random sizes (1 to maxSize bytes) and random
// contents to VIP:53 from one client socket, one at a time, and fails unless
// each comes back byte-identical (a lost datagram is resent, at most 3 times).
func (tp *mdTopo) udpEcho(t *testing.T, n, maxSize int) {
	t.Helper()
	c, err := mdDial(tp.client, "udp4", mdVIP+":53")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 65536)
	resent := 0
	for i := range n {
		d := make([]byte, 1+mrand.IntN(maxSize))
		rand.Read(d)
		ok := false
		for try := 0; try < 4 && !ok; try++ {
			if try > 0 {
				resent++
			}
			if _, err := c.Write(d); err != nil {
				t.Fatalf("datagram %d (%d bytes): %v", i, len(d), err)
			}
			c.SetReadDeadline(time.Now().Add(time.Second))
			for {
				m, err := c.Read(buf)
				if err != nil {
					break // timeout: send again
				}
				if bytes.Equal(buf[:m], d) {
					ok = true
					break
				}
				// An echo of an earlier resent datagram: keep reading.
			}
		}
		if !ok {
			t.Fatalf("datagram %d (%d bytes) never echoed; gateway stats:\n%s", i, len(d), tp.stats())
		}
	}
	t.Logf("%d datagrams echoed byte-identical (%d resent)", n, resent)
	if resent > n/20 {
		t.Errorf("%d of %d datagrams had to be resent", resent, n)
	}
}

// stats describes the state for a failure message: the gateway's counters
// and services, and the kernel counters of the client and the real server.
func (tp *mdTopo) stats() string {
	a, _ := tp.g.Cmd("stats")
	b, _ := tp.g.Cmd("adm", "-L", "-n", "--stats")
	c, _ := tp.client.Run("nstat", "-as")
	d, _ := tp.rs.Run("nstat", "-as")
	return a + b + "client kernel counters:\n" + c + "real server kernel counters:\n" + d
}

// adm runs gw adm args..., failing the test on error.
func (tp *mdTopo) adm(t *testing.T, args ...string) {
	t.Helper()
	tp.g.MustCmd(append([]string{"adm"}, args...)...)
}

// addServices configures VIP:80/tcp and VIP:53/udp with the real server in
// the topology's mode, as an LVS user would: ipvsadm -A, then -a with -m, -g
// or -i.
func (tp *mdTopo) addServices(t *testing.T) {
	t.Helper()
	flag := map[string][]string{"nat": {"-m"}, "dr": {"-g"}, "tun": {"-i", "--tun-type", "ipip"}}[tp.mode]
	tp.adm(t, "-A", "-t", mdVIP+":80", "-s", "rr")
	tp.adm(t, append([]string{"-a", "-t", mdVIP + ":80", "-r", tp.rsAddr + ":" + tp.tcpPort, "-w", "1"}, flag...)...)
	tp.adm(t, "-A", "-u", mdVIP+":53", "-s", "rr")
	tp.adm(t, append([]string{"-a", "-u", mdVIP + ":53", "-r", tp.rsAddr + ":" + tp.udpPort, "-w", "1"}, flag...)...)
}

// mdList is the part of `gw adm -L -n --stats --json` the tests read.
type mdList struct {
	Services []struct {
		Service struct {
			Proto string `json:"proto"`
			Port  uint16 `json:"port"`
		} `json:"service"`
		Dests []struct {
			Stats struct {
				Conns    uint64 `json:"conns"`
				InPkts   uint64 `json:"inpkts"`
				OutPkts  uint64 `json:"outpkts"`
				InBytes  uint64 `json:"inbytes"`
				OutBytes uint64 `json:"outbytes"`
			} `json:"stats"`
		} `json:"dests"`
	} `json:"services"`
}

// destCounters returns the real server's counters in service port/proto.
func (tp *mdTopo) destCounters(t *testing.T, proto string, port uint16) (conns, inPkts, outPkts, inBytes, outBytes uint64) {
	t.Helper()
	var l mdList
	tp.g.MustJSON(&l, "adm", "-L", "-n", "--stats")
	for _, s := range l.Services {
		if strings.EqualFold(s.Service.Proto, proto) && s.Service.Port == port && len(s.Dests) == 1 {
			st := s.Dests[0].Stats
			return st.Conns, st.InPkts, st.OutPkts, st.InBytes, st.OutBytes
		}
	}
	t.Fatalf("no %s service on port %d with one real server in gw adm -L -n --stats --json", proto, port)
	return
}

// mdCore is one core of `gw stats --json`.
type mdCore struct {
	Core        int               `json:"core"`
	RedirectOut uint64            `json:"redirect_out"`
	RedirectIn  uint64            `json:"redirect_in"`
	Drops       map[string]uint64 `json:"drops"`
}

// drops sums the drop counters of every core.
func (tp *mdTopo) drops(t *testing.T) (map[string]uint64, []mdCore) {
	t.Helper()
	var cs []mdCore
	tp.g.MustJSON(&cs, "stats")
	d := map[string]uint64{}
	for _, c := range cs {
		for r, n := range c.Drops {
			d[r] += n
		}
	}
	return d, cs
}

// checkDrops fails on drop reasons that mean lost or refused traffic; allowed
// lists the ones the test provokes (and no_session, a late retransmission
// after a session ended, is logged only).
func (tp *mdTopo) checkDrops(t *testing.T, allowed ...string) {
	t.Helper()
	d, _ := tp.drops(t)
	for r, n := range d {
		switch {
		case r == "no_session" || r == "not_for_us" || r == "other_host" || r == "l2_multicast":
			t.Logf("%d drops for %s", n, r)
		case slices.Contains(allowed, r):
			t.Logf("%d drops for %s (expected)", n, r)
		default:
			t.Errorf("%d packets dropped for %s", n, r)
		}
	}
}

// linkRxBytes is the bytes port received so far.
func (tp *mdTopo) linkRxBytes(port string) uint64 { return tp.g.MustLink(port).RxBytes }

// runTraffic is the traffic every mode must carry: an 8 MB upload and an 8 MB
// download, byte-identical, with the client's own address seen by the server;
// UDP echo; the session counters; and which way the bytes went: through
// the gateway both ways for NAT, only client → server for DR and TUN.
func runTraffic(t *testing.T, tp *mdTopo) {
	t.Run("tcp_upload_8MB", func(t *testing.T) {
		rx0 := tp.linkRxBytes("dpdk0")
		peer := tp.upload(t, mdFileSize)
		if host, _, _ := net.SplitHostPort(peer); host != mdClient {
			t.Errorf("the real server saw the client as %q, want %s (the client's own address)", peer, mdClient)
		}
		if rx := tp.linkRxBytes("dpdk0") - rx0; rx < mdFileSize {
			t.Errorf("dpdk0 received %d bytes during an upload of %d through the gateway", rx, mdFileSize)
		}
	})
	t.Run("tcp_download_8MB", func(t *testing.T) {
		rx0 := tp.linkRxBytes("dpdk1")
		tp.download(t, mdFileSize)
		rx := tp.linkRxBytes("dpdk1") - rx0
		switch tp.mode {
		case "nat":
			if rx < mdFileSize {
				t.Errorf("dpdk1 received %d bytes during a NAT download of %d: the replies must cross the gateway", rx, mdFileSize)
			}
		default:
			if rx > mdFileSize/20 {
				t.Errorf("dpdk1 received %d bytes during a %s download of %d: the replies must bypass the gateway", rx, tp.mode, mdFileSize)
			}
		}
	})
	t.Run("udp_echo", func(t *testing.T) {
		tp.udpEcho(t, 500, tp.udpMax)
		peers := tp.udp.peersSeen()
		if len(peers) != 1 || peers[mdClient] < 500 {
			t.Errorf("the UDP server saw peers %v, want only the client %s, at least 500 datagrams", peers, mdClient)
		}
	})
	t.Run("counters", func(t *testing.T) {
		conns, in, out, inB, outB := tp.destCounters(t, "TCP", 80)
		t.Logf("TCP real server: %d conns, in %d packets %d bytes, out %d packets %d bytes", conns, in, inB, out, outB)
		if conns < 2 || inB < mdFileSize {
			t.Errorf("TCP real server counted %d connections and %d bytes in, want at least 2 and %d", conns, inB, mdFileSize)
		}
		// Sessions exist in every mode; replies are only seen by NAT.
		if tp.mode == "nat" && outB < mdFileSize {
			t.Errorf("NAT real server counted %d bytes out, want at least %d", outB, mdFileSize)
		}
		if tp.mode != "nat" && (out != 0 || outB != 0) {
			t.Errorf("%s real server counted %d packets out: its replies must bypass the gateway", tp.mode, out)
		}
		var conn struct {
			Conns []struct {
				Proto  string `json:"proto"`
				Client string `json:"source"`
				Dest   string `json:"destination"`
				State  string `json:"state"`
			} `json:"conns"`
		}
		tp.g.MustJSON(&conn, "adm", "-L", "-n", "-c")
		found := false
		for _, c := range conn.Conns {
			found = found || (strings.HasPrefix(c.Client, mdClient+":") && strings.HasPrefix(c.Dest, tp.rsAddr+":"))
		}
		if !found {
			t.Errorf("gw adm -L -n -c lists no session from %s to %s: %+v", mdClient, tp.rsAddr, conn.Conns)
		}
	})
}

// TestModesNAT: masquerading (-m) with port mapping VIP:80 → RIP:8080 and
// VIP:53 → RIP:5353. The real server's default route is the gateway; it sees
// the client's own address; 8 MB each way cross the gateway byte-identical;
// UDP echo; nothing lost.
func TestModesNAT(t *testing.T) {
	tp := mdStart(t, "nat", mdOpts{})
	tp.addServices(t)
	runTraffic(t, tp)
	t.Run("no_lost_traffic", func(t *testing.T) { tp.checkDrops(t) })
}

// TestModesNATTwoWorkers: the NAT traffic with two workers sharing CPU 1 and
// two queues per tap, many connections: the kernel spreads flows over the
// queues by its own hash, so packets of either direction reach a core that
// does not own the connection and are redirected to NATOwner's core; every
// transfer still completes byte-identical.
func TestModesNATTwoWorkers(t *testing.T) {
	tp := mdStart(t, "nat", mdOpts{cfg: harness.Config{Lcores: "0@0,1@1,2@1"}, queues: 2})
	tp.addServices(t)
	t.Run("connections", func(t *testing.T) {
		for i := range 12 {
			if peer := tp.upload(t, 256<<10); !strings.HasPrefix(peer, mdClient+":") {
				t.Fatalf("connection %d: the server saw %q", i, peer)
			}
		}
		tp.download(t, mdFileSize)
		tp.udpEcho(t, 200, 1400)
	})
	t.Run("redirected", func(t *testing.T) {
		_, cs := tp.drops(t)
		var out, in uint64
		for _, c := range cs {
			out += c.RedirectOut
			in += c.RedirectIn
		}
		t.Logf("redirect ring: %d out, %d in, per core %+v", out, in, cs)
		if len(cs) != 2 || out == 0 || in != out {
			t.Errorf("two cores should hand NAT packets to each other: %d out, %d in over %d cores", out, in, len(cs))
		}
	})
	t.Run("no_lost_traffic", func(t *testing.T) { tp.checkDrops(t) })
}

// TestModesDR: direct routing (-g). Only the MACs change; the real server has
// the VIP on lo and answers the client over the direct path. ipvsadm refuses
// a port mapping for -g with its own explanation.
func TestModesDR(t *testing.T) {
	tp := mdStart(t, "dr", mdOpts{})
	t.Run("port_mapping_refused", func(t *testing.T) {
		tp.adm(t, "-A", "-t", mdVIP+":81", "-s", "rr")
		_, err := tp.g.Cmd("adm", "-a", "-t", mdVIP+":81", "-r", mdRS+":8081", "-g")
		var ce *harness.CmdError
		if !errors.As(err, &ce) || ce.ExitCode() <= 0 || !strings.Contains(ce.Stderr, "port") {
			t.Fatalf("-a with -g and another port: want a non-zero exit explaining the port, got %v", err)
		}
		tp.adm(t, "-D", "-t", mdVIP+":81")
	})
	tp.addServices(t)
	runTraffic(t, tp)
	t.Run("no_lost_traffic", func(t *testing.T) { tp.checkDrops(t) })
}

// TestModesTUN: IPIP tunnelling (-i --tun-type ipip), decapsulated on the real
// server by ipipdecap. Before the bulk traffic, path-MTU discovery through the
// tunnel: the client's DF datagram of 1500 bytes does not fit once
// encapsulated; the gateway answers with ICMP fragmentation needed (MTU
// 1480); the client's kernel lowers its path MTU to the VIP, refuses the next
// oversized send, and a datagram of the new size is echoed. The 8 MB upload
// then runs into the same limit with full-size TCP segments and completes.
// The decapsulator saw only outer packets from the gateway's port address, of
// at most 1500 bytes. GRE and GUE are refused with a clear message.
func TestModesTUN(t *testing.T) {
	tp := mdStart(t, "tun", mdOpts{})
	t.Run("tun_type_refused", func(t *testing.T) {
		tp.adm(t, "-A", "-t", mdVIP+":81", "-s", "rr")
		for _, typ := range []string{"gre", "gue"} {
			_, err := tp.g.Cmd("adm", "-a", "-t", mdVIP+":81", "-r", mdRS, "-i", "--tun-type", typ)
			var ce *harness.CmdError
			if !errors.As(err, &ce) || ce.ExitCode() <= 0 || !strings.Contains(ce.Stderr, typ) || !strings.Contains(ce.Stderr, "ipip") {
				t.Errorf("--tun-type %s: want a non-zero exit naming %s and ipip, got %v", typ, typ, err)
			}
		}
		tp.adm(t, "-D", "-t", mdVIP+":81")
	})
	tp.addServices(t)

	t.Run("pmtu_udp_df", func(t *testing.T) { tp.pmtuUDP(t, 1480) })

	t.Run("pmtu_tcp", func(t *testing.T) {
		// Forget the learnt MTU: the 8 MB upload below starts with
		// 1500-byte segments again (MSS 1460 from the SYN).
		tp.client.MustIP("route", "flush", "cache")
		if out := tp.client.MustIP("route", "get", mdVIP); strings.Contains(out, "mtu") {
			t.Fatalf("the path MTU is still cached: %q", out)
		}
	})
	runTraffic(t, tp)
	t.Run("pmtu_after_upload", func(t *testing.T) {
		out := tp.client.MustIP("route", "get", mdVIP)
		if !strings.Contains(out, "mtu 1480") {
			t.Errorf("ip route get %s in the client after the upload: %q, want a cached mtu 1480", mdVIP, out)
		}
	})
	t.Run("no_lost_traffic", func(t *testing.T) { tp.checkDrops(t, "icmp_rate_limited") })
	t.Run("decapsulated", func(t *testing.T) { tp.checkDecap(t, 1500) })
}

// TestModesTUNRouted: the real server is behind a router whose link to it has
// an MTU of 1400. The client's 1500-byte DF datagram first gets the gateway's
// own fragmentation needed (1480: its port's MTU less the outer header); at
// 1480 bytes the outer packet is 1500 and the router reports 1400 about it to
// the gateway, which relays 1380 to the client. The client's path MTU ends at
// 1380, its datagrams of that size are echoed, and the 8 MB transfers complete.
func TestModesTUNRouted(t *testing.T) {
	tp := mdStart(t, "tun", mdOpts{routedMTU: 1400})
	tp.addServices(t)
	t.Run("pmtu_udp_df", func(t *testing.T) { tp.pmtuUDP(t, 1480, 1380) })
	t.Run("pmtu_tcp", func(t *testing.T) { tp.client.MustIP("route", "flush", "cache") })
	runTraffic(t, tp)
	t.Run("pmtu_after_upload", func(t *testing.T) {
		if out := tp.client.MustIP("route", "get", mdVIP); !strings.Contains(out, "mtu 1380") {
			t.Errorf("ip route get %s in the client after the upload: %q, want a cached mtu 1380", mdVIP, out)
		}
	})
	t.Run("no_lost_traffic", func(t *testing.T) { tp.checkDrops(t, "icmp_rate_limited") })
	t.Run("decapsulated", func(t *testing.T) { tp.checkDecap(t, 1400) })
}

// pmtuUDP walks the client's path-MTU discovery toward the VIP with a
// connected UDP socket that sets DF on every datagram (IP_PMTUDISC_DO, what
// ping -M do does): starting at 1500 bytes, each datagram that does not fit
// must bring an ICMP fragmentation needed with the next MTU of mtus (the
// socket's pending error becomes EMSGSIZE, IP_MTU drops, a datagram of the
// old size is refused locally), and a datagram of the last MTU must be
// echoed byte-identical. The client's route cache then holds that MTU.
func (tp *mdTopo) pmtuUDP(t *testing.T, mtus ...int) {
	t.Helper()
	tp.client.MustIP("route", "flush", "cache")
	var c net.Conn
	if err := tp.client.Do(func() (err error) {
		c, err = net.Dial("udp4", mdVIP+":53")
		if err == nil {
			sc, _ := c.(*net.UDPConn).SyscallConn()
			sc.Control(func(fd uintptr) {
				err = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DO)
			})
		}
		return
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sockopt := func(level, opt int) int {
		var v int
		sc, _ := c.(*net.UDPConn).SyscallConn()
		sc.Control(func(fd uintptr) { v, _ = unix.GetsockoptInt(int(fd), level, opt) })
		return v
	}
	if m := sockopt(unix.IPPROTO_IP, unix.IP_MTU); m != 1500 {
		t.Fatalf("path MTU to the VIP before the test: %d, want 1500", m)
	}
	size := 1500
	for _, want := range mtus {
		if _, err := c.Write(make([]byte, size-28)); err != nil {
			t.Fatalf("a %d-byte datagram: %v", size, err)
		}
		harness.Eventually(t, 5*time.Second, fmt.Sprintf("the client's path MTU to the VIP to drop to %d", want), func() error {
			if m := sockopt(unix.IPPROTO_IP, unix.IP_MTU); m != want {
				return fmt.Errorf("IP_MTU %d", m)
			}
			return nil
		})
		// The connected socket was told (udp_err: the ICMP error is its
		// pending error, EMSGSIZE).
		if e := syscall.Errno(sockopt(unix.SOL_SOCKET, unix.SO_ERROR)); e != unix.EMSGSIZE {
			t.Errorf("the socket's pending error after the ICMP message for %d bytes: %v, want EMSGSIZE", size, e)
		}
		if _, err := c.Write(make([]byte, size-28)); !errors.Is(err, unix.EMSGSIZE) {
			t.Errorf("another %d-byte DF datagram: %v, want EMSGSIZE now that the path MTU is %d", size, err, want)
		}
		size = want
	}
	fits := make([]byte, size-28)
	rand.Read(fits)
	buf := make([]byte, 2000)
	for try := 0; ; try++ {
		if _, err := c.Write(fits); err != nil {
			t.Fatalf("a %d-byte datagram: %v", size, err)
		}
		c.SetReadDeadline(time.Now().Add(time.Second))
		n, err := c.Read(buf)
		if err == nil && bytes.Equal(buf[:n], fits) {
			break
		}
		if try == 3 {
			t.Fatalf("a %d-byte datagram was not echoed: %v", size, err)
		}
	}
	if out := tp.client.MustIP("route", "get", mdVIP); !strings.Contains(out, fmt.Sprintf("mtu %d", size)) {
		t.Errorf("ip route get %s in the client: %q, want a cached mtu %d", mdVIP, out, size)
	}
}

// checkDecap stops ipipdecap and checks what it saw: packets, none bad, only
// the gateway's port address as the outer source, outer packets of at most
// linkMTU bytes and full-size inner ones, at least the 8 MB upload.
func (tp *mdTopo) checkDecap(t *testing.T, linkMTU int) {
	t.Helper()
	r := tp.decapReport(t)
	t.Logf("ipipdecap: %+v", r)
	if r.Packets == 0 || r.Bad != 0 || len(r.Errors) != 0 {
		t.Errorf("ipipdecap: %d packets, %d bad, errors %v", r.Packets, r.Bad, r.Errors)
	}
	if r.MaxOuter > linkMTU || r.MaxInner > linkMTU-20 || r.MaxInner < linkMTU-100 {
		t.Errorf("largest outer packet %d bytes, inner %d: want at most %d and %d (and full-size segments)", r.MaxOuter, r.MaxInner, linkMTU, linkMTU-20)
	}
	if len(r.Sources) != 1 || r.Sources[mdGwRS] == 0 {
		t.Errorf("outer sources %v, want only the gateway's port address %s", r.Sources, mdGwRS)
	}
	if r.Bytes < mdFileSize {
		t.Errorf("only %d inner bytes decapsulated", r.Bytes)
	}
}
