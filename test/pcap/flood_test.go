package pcap

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"fngw/test/harness"
)

// SYN flood: spoofed SYNs from many sources fill the session
// table; each new one then evicts the oldest of the half-open sessions the
// table hand meets (nat/evict.go), so new flows keep being accepted and
// nothing is refused, while an established connection keeps being
// forwarded; the half-open sessions expire after the SYN_RECV timeout once
// the flood stops.
//
// The flood is a pcap read by a third port (net_pcap rx_pcap, at the rate
// the gateway takes it): one SYN from each of N spoofed sources
// (100.64.0.0/10, every source a different address) to VIP:80, and, every
// eighth packet, a data segment of an established connection to VIP:443 (its
// SYN and ACK open the file). The table holds 1024 sessions per core (the
// smallest capacity the configuration accepts) and SYN_RECV lasts 2 s.
//
// N is 100 000 by default (CI); FNGW_FLOOD_SOURCES sets it (1 000 000 for
// the full run, an 86 MB pcap).

const (
	floodPort      = "dpdk2" // the rig's third port
	floodSvcPort   = 443     // the established connection's service
	floodRSPort    = 8443    // and its real server port
	floodCapacity  = 1024
	floodSynRecv   = 2 // seconds
	floodEstEvery  = 8 // one established segment per this many packets
	floodEstClient = 45000
)

// floodMAC is net_pcap's MAC for the third port (02:70:63:61:70:02; the test
// checks it).
var floodMAC = harness.MustMAC("02:70:63:61:70:02")

// writeFlood writes the flood pcap: the established connection's SYN and
// ACK, then sources SYNs with a data segment of that connection every
// floodEstEvery packets. It returns how many established segments (data and
// ACK, the SYN excluded) the file holds.
func writeFlood(t *testing.T, path string, sources int, dstMAC net.HardwareAddr) (est int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	hdr := make([]byte, 24)
	le := binary.LittleEndian
	le.PutUint32(hdr[0:], 0xa1b2c3d4)
	le.PutUint16(hdr[4:], 2)
	le.PutUint16(hdr[6:], 4)
	le.PutUint32(hdr[16:], 65535)
	le.PutUint32(hdr[20:], 1)
	w.Write(hdr)
	var rec [16]byte
	n := 0
	put := func(frame []byte) {
		le.PutUint32(rec[0:], uint32(1700000000+n/1000000))
		le.PutUint32(rec[4:], uint32(n%1000000))
		le.PutUint32(rec[8:], uint32(len(frame)))
		le.PutUint32(rec[12:], uint32(len(frame)))
		w.Write(rec[:])
		w.Write(frame)
		n++
	}
	estH := harness.Hosts{SrcMAC: clientMAC, DstMAC: dstMAC, Src: clientIP, Dst: vip, TTL: 64, ID: 1}
	put(harness.TCPSyn(estH, floodEstClient, floodSvcPort, 1000))
	put(harness.TCPAck(estH, floodEstClient, floodSvcPort, 1001, 1))
	est = 1
	seq := uint32(1001)
	payload := []byte("fngw established segment")
	syn := harness.TCPSyn(harness.Hosts{SrcMAC: clientMAC, DstMAC: dstMAC, Src: netip.MustParseAddr("100.64.0.0"), Dst: vip, TTL: 64}, 1, tcpVPort, 0)
	for i := range sources {
		if i%(floodEstEvery-1) == 0 {
			estH.ID++
			put(harness.TCPData(estH, floodEstClient, floodSvcPort, seq, 1, payload))
			seq += uint32(len(payload))
			est++
		}
		src := 100<<24 | 64<<16 + uint32(i) // 100.64.0.0 + i: a different source each
		binary.BigEndian.PutUint32(syn[14+12:], src)
		binary.BigEndian.PutUint16(syn[14+4:], uint16(i))               // IP ID
		binary.BigEndian.PutUint16(syn[14+20:], uint16(1024+i%60000))   // source port
		binary.BigEndian.PutUint32(syn[14+20+4:], uint32(i)*2654435761) // ISN
		harness.FixIPv4Checksum(syn)
		fixTCPChecksum(syn)
		put(syn)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return est
}

// fixTCPChecksum recomputes the TCP checksum of an untagged IPv4 frame.
func fixTCPChecksum(f []byte) {
	ip := f[14:]
	hl := int(ip[0]&0x0f) * 4
	tl := int(binary.BigEndian.Uint16(ip[2:]))
	seg := ip[hl:tl]
	seg[16], seg[17] = 0, 0
	s := uint32(6) + uint32(len(seg))
	for i := 12; i < 20; i += 2 {
		s += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	for i := 0; i+1 < len(seg); i += 2 {
		s += uint32(binary.BigEndian.Uint16(seg[i:]))
	}
	if len(seg)%2 == 1 {
		s += uint32(seg[len(seg)-1]) << 8
	}
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	binary.BigEndian.PutUint16(seg[16:], ^uint16(s))
}

// floodSample is the gateway's state at one instant of the flood.
type floodSample struct {
	at       time.Time
	rx       uint64 // packets the flood port received
	estIn    uint64 // packets the established connection's service forwarded
	created  uint64
	sessions int64
}

func sampleFlood(t *testing.T, g *harness.Gateway, port string) (floodSample, error) {
	// The port's counter is read before and after the service's, and
	// their mean taken: each reading is a CLI call, and at millions of
	// packets a second the time between them (longer on a busy machine)
	// would otherwise bias the established connection's share.
	s := floodSample{at: time.Now()}
	l0, err := g.Link(port)
	if err != nil {
		return s, err
	}
	var ls listJSON
	if err := g.JSON(&ls, "adm", "-L", "-n", "--stats"); err != nil {
		return s, err
	}
	for _, sv := range ls.Services {
		if sv.Service.Port == floodSvcPort {
			s.estIn = sv.Stats.InPkts
		}
	}
	l1, err := g.Link(port)
	if err != nil {
		return s, err
	}
	s.rx = l0.RxPackets/2 + l1.RxPackets/2 + (l0.RxPackets%2+l1.RxPackets%2)/2
	var cores []coreJSON
	if err := g.JSON(&cores, "stats"); err != nil {
		return s, err
	}
	for _, c := range cores {
		s.created += c.Created
		s.sessions += c.Sessions
	}
	return s, nil
}

// memJSON is `gw mem --json`.
type memJSON struct {
	Mbufs      int    `json:"mbufs"`
	MbufsInUse int    `json:"mbufs_in_use"`
	HeapBytes  uint64 `json:"go_heap_bytes"`
}

// envInt is the environment variable name as an integer, def when it is
// unset; the test fails unless it is from lo to hi.
func envInt(t *testing.T, name string, def, lo, hi int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		t.Fatalf("%s=%q: want %d to %d", name, v, lo, hi)
	}
	return n
}

func TestSYNFlood(t *testing.T) {
	sources := envInt(t, "FNGW_FLOOD_SOURCES", 100_000, 1000, 4_000_000)
	floodPcap := filepath.Join(harness.TempDir(t, "flood"), "flood.pcap")
	t0 := time.Now()
	est := writeFlood(t, floodPcap, sources, floodMAC)
	total := uint64(sources + est + 1)
	t.Logf("flood pcap: %d SYNs from %d sources, %d established segments, written in %v", sources, sources, est, time.Since(t0).Round(time.Millisecond))

	r := startRig(t, rigOpts{thirdRx: floodPcap,
		services: []harness.Service{fullnatService("tcp", floodSvcPort, floodRSPort)},
		session:  harness.Session{CapacityPerCore: floodCapacity, SynRecvTimeout: floodSynRecv}})
	g := r.g
	if mac := g.MustLink(floodPort).MAC; !strings.EqualFold(mac, floodMAC.String()) {
		t.Fatalf("port %s has MAC %s, the flood is addressed to %s", floodPort, mac, floodMAC)
	}

	// Sample while the flood runs, until its port has read the whole file.
	var samples []floodSample
	deadline := time.Now().Add(5 * time.Minute)
	for {
		s, err := sampleFlood(t, g, floodPort)
		if err != nil {
			t.Fatal(err)
		}
		samples = append(samples, s)
		if s.rx >= total {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the flood port received %d of %d packets in 5 minutes", s.rx, total)
		}
		time.Sleep(20 * time.Millisecond)
	}
	end := samples[len(samples)-1]
	memFlood := memJSON{}
	g.MustJSON(&memFlood, "mem")

	t.Run("established_connection_forwarded_during_the_flood", func(t *testing.T) {
		// Every segment of the established connection was forwarded:
		// a full table evicts half-open sessions, never established ones.
		harness.Eventually(t, fnTimeout, "every established segment forwarded", func() error {
			s, err := sampleFlood(t, g, floodPort)
			if err != nil {
				return err
			}
			if s.estIn != uint64(est+1) { // + its SYN
				return fmt.Errorf("the established connection's service forwarded %d packets, want %d", s.estIn, est+1)
			}
			return nil
		})
		// Rates between the first sample that saw the table full and
		// the last one.
		var first floodSample
		for _, s := range samples {
			if s.sessions >= floodCapacity {
				first = s
				break
			}
		}
		if first.at.IsZero() || !end.at.After(first.at) || end.rx == first.rx {
			t.Logf("the flood was over before two samples could time it (%d packets)", total)
			return
		}
		d := end.at.Sub(first.at).Seconds()
		t.Logf("flood: %.2f Mpps offered over %.2fs (%d packets, %d sessions created in a full table); established connection: %.0f kpps forwarded during it (%d segments, 1 in %d of the packets), none lost",
			float64(end.rx-first.rx)/d/1e6, d, end.rx-first.rx, end.created-first.created,
			float64(end.estIn-first.estIn)/d/1e3, end.estIn-first.estIn, floodEstEvery)
	})

	t.Run("new_flows_evict_half_open_sessions", func(t *testing.T) {
		var cores []coreJSON
		g.MustJSON(&cores, "stats")
		var created, expired uint64
		for _, c := range cores {
			created += c.Created
			expired += c.Expired
			for r, n := range c.Drops {
				t.Errorf("core %d dropped %d packets for %s", c.Core, n, r)
			}
		}
		// Every SYN got a session: in a full table, by evicting the
		// oldest half-open session the hand met.
		if created != uint64(sources)+1 {
			t.Errorf("%d sessions created, want the %d SYNs + the established connection's", created, sources+1)
		}
		if end.sessions > floodCapacity {
			t.Errorf("%d sessions at the end of the flood (capacity %d)", end.sessions, floodCapacity)
		}
		t.Logf("%d sessions created, none refused; %d sessions at the end of the flood, about %d evicted (created - expired - left)",
			created, end.sessions, int64(created)-int64(expired)-end.sessions)
	})

	t.Run("half_open_sessions_expire", func(t *testing.T) {
		start := time.Now()
		harness.Eventually(t, (floodSynRecv+5)*time.Second, "only the established connection left", func() error {
			s, err := sampleFlood(t, g, floodPort)
			if err != nil {
				return err
			}
			if s.sessions != 1 {
				return fmt.Errorf("%d sessions", s.sessions)
			}
			return nil
		})
		t.Logf("table back to the established connection alone %v after the flood (SYN_RECV timeout %ds)", time.Since(start).Round(100*time.Millisecond), floodSynRecv)
	})

	t.Run("new_connection_accepted_after_the_flood", func(t *testing.T) {
		cHosts := harness.Hosts{SrcMAC: clientMAC, DstMAC: mustMACOf(t, g, "dpdk0"), Src: clientIP, Dst: vip, TTL: 64, ID: 7}
		sofar, err := r.server.nonGratuitous() // the flood's forwarded packets
		if err != nil {
			t.Fatal(err)
		}
		r.server.got = sofar
		out := r.send(t, r.client, harness.TCPSyn(cHosts, 46000, tcpVPort, 5), r.server)
		if err := harness.Expect(out, harness.IPv4(lip, rip, 6), ports(transportSrcPort(t, out), tcpRPort), harness.ValidChecksums()); err != nil {
			t.Error(err)
		}
	})

	t.Run("mbufs_back", func(t *testing.T) {
		var m memJSON
		g.MustJSON(&m, "mem")
		t.Logf("mbufs in use: %d at the end of the flood, %d after (pool %d); go heap %d bytes", memFlood.MbufsInUse, m.MbufsInUse, m.Mbufs, m.HeapBytes)
		if m.MbufsInUse > memFlood.MbufsInUse+64 {
			t.Errorf("%d mbufs in use after the flood, %d at its end: leaking", m.MbufsInUse, memFlood.MbufsInUse)
		}
	})
	// The server side saw the established connection's segments, every SYN
	// and the recovery SYN: finish's per-frame accounting
	// does not apply; stop the gateway and require a clean exit.
	g.Stop()
}

func mustMACOf(t *testing.T, g *harness.Gateway, port string) net.HardwareAddr {
	t.Helper()
	var ls []struct {
		Name string `json:"dev"`
		MAC  string `json:"mac"`
	}
	g.MustJSON(&ls, "link", "show")
	for _, l := range ls {
		if l.Name == port {
			return harness.MustMAC(l.MAC)
		}
	}
	t.Fatalf("no port %s", port)
	return nil
}

// TestSYNFloodThroughput measures what an established connection gets
// while a SYN flood runs at the rate the worker can take: net_pcap replays
// a flood pcap from memory in a loop (infinite_rx) into one port and the
// forwarded packets go to a net_null port, so neither the file nor the tx
// pcap limits the rate. The pcap holds 32768 SYNs from distinct spoofed
// sources to VIP:80 and, every eighth packet, a segment of an established
// connection to VIP:443 (after its SYN and ACK). The table (1024 sessions)
// is full after the first loop. It runs FNGW_FLOOD_SECONDS (default 2) for
// the flood, and as long with the established connection's segments alone,
// and reports both rates. It asserts that the established connection's
// forwarded packets keep up with its share of what the port received (none
// is dropped: a full table evicts only half-open sessions) and that no SYN
// is refused: each one whose session was evicted meanwhile evicts another.
func TestSYNFloodThroughput(t *testing.T) {
	secs := envInt(t, "FNGW_FLOOD_SECONDS", 2, 1, 600)
	dir := harness.TempDir(t, "floodrate")
	// The flood comes in on the first port here: net_pcap's MAC for it.
	mac0 := harness.MustMAC("02:70:63:61:70:00")
	const sources = 32768
	flood := filepath.Join(dir, "flood.pcap")
	est := writeFlood(t, flood, sources, mac0)
	share := float64(est) / float64(sources+est+1) // the established connection's part of the flood
	alone := filepath.Join(dir, "alone.pcap")
	writeEstablishedOnly(t, alone, est, mac0)

	run := func(name, pcap string) (rxPPS, estPPS float64, cores []coreJSON) {
		t.Helper()
		harness.Prepare(t)
		g := harness.Start(t, harness.Config{
			IdleSleepUS: -1, // busy-poll: a rate measurement
			Ports: []harness.Port{
				{Name: "dpdk0", Device: "net_pcap0,rx_pcap=" + pcap + ",infinite_rx=1", Addrs: []string{"198.18.1.1/24"}},
				{Name: "dpdk1", Device: "net_null0,no-rx=1", Addrs: []string{"198.18.2.1/24"}},
			},
			Neighs: []harness.Neigh{fnRS},
			Services: []harness.Service{
				fullnatService("tcp", tcpVPort, tcpRPort),
				fullnatService("tcp", floodSvcPort, floodRSPort),
			},
			Session:  harness.Session{CapacityPerCore: floodCapacity, SynRecvTimeout: 60},
			Pool:     harness.Pool{Mbufs: 1<<17 - 1},
			MemoryMB: 1024,
		}, nil)
		if mac := g.MustLink("dpdk0").MAC; !strings.EqualFold(mac, mac0.String()) {
			t.Fatalf("%s: port dpdk0 has MAC %s, the pcaps are addressed to %s", name, mac, mac0)
		}
		time.Sleep(time.Second) // the replay gets going, the table fills
		a, err := sampleFlood(t, g, "dpdk0")
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(secs) * time.Second)
		b, err := sampleFlood(t, g, "dpdk0")
		if err != nil {
			t.Fatal(err)
		}
		g.MustJSON(&cores, "stats")
		g.Stop()
		d := b.at.Sub(a.at).Seconds()
		return float64(b.rx-a.rx) / d, float64(b.estIn-a.estIn) / d, cores
	}
	rx, estRate, cores := run("flood", flood)
	t.Logf("flood: %.2f Mpps received; established connection %.3f Mpps forwarded, %.1f%% of its share of the packets (%.1f%%)",
		rx/1e6, estRate/1e6, 100*estRate/(rx*share), 100*share)
	var created uint64
	for _, c := range cores {
		created += c.Created
		for r, n := range c.Drops {
			t.Errorf("core %d dropped %d packets for %s", c.Core, n, r)
		}
	}
	if created <= floodCapacity {
		t.Errorf("%d sessions created: want the table full (%d) and a new session for each later SYN", created, floodCapacity)
	}
	t.Logf("%d sessions created during the flood run", created)
	if estRate < 0.98*rx*share {
		t.Errorf("the established connection got %.0f pps of its %.0f pps share: dropped during the flood", estRate, rx*share)
	}
	rxAlone, estAlone, _ := run("alone", alone)
	t.Logf("without the flood: established connection %.2f Mpps forwarded (%.2f Mpps received)", estAlone/1e6, rxAlone/1e6)
}

// writeEstablishedOnly writes the established connection of writeFlood
// alone: its SYN, its ACK and n data segments.
func writeEstablishedOnly(t *testing.T, path string, n int, dstMAC net.HardwareAddr) {
	t.Helper()
	estH := harness.Hosts{SrcMAC: clientMAC, DstMAC: dstMAC, Src: clientIP, Dst: vip, TTL: 64, ID: 1}
	frames := [][]byte{harness.TCPSyn(estH, floodEstClient, floodSvcPort, 1000), harness.TCPAck(estH, floodEstClient, floodSvcPort, 1001, 1)}
	seq := uint32(1001)
	payload := []byte("fngw established segment")
	for range n {
		estH.ID++
		frames = append(frames, harness.TCPData(estH, floodEstClient, floodSvcPort, seq, 1, payload))
		seq += uint32(len(payload))
	}
	if err := harness.WritePcap(path, frames...); err != nil {
		t.Fatal(err)
	}
}
