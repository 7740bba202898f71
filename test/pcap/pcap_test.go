package pcap

import (
	"bytes"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket/layers"

	"fngw/test/harness"
	"fngw/test/pkttest"
)

const port = "dpdk0"

var (
	gwIP      = netip.MustParseAddr("198.18.1.1")
	clientIP  = netip.MustParseAddr("198.18.1.2")
	otherIP   = netip.MustParseAddr("198.18.1.99") // on the connected subnet, owned by nobody
	clientMAC = harness.MustMAC("02:00:00:00:01:02")
	otherMAC  = harness.MustMAC("02:00:00:00:01:63")
	zeroMAC   = harness.MustMAC("00:00:00:00:00:00")

	// gwMAC is the address DPDK 22.11's net_pcap gives a port built from
	// rx_pcap/tx_pcap files: 02:70:63:61:70:00 ("\x02pcap\x00"; seen with
	// dpdk-testpmd's "show port info"). Input frames must be sent to it (the
	// gateway drops unicast frames to other MACs), and every frame the
	// gateway sends must come from it.
	gwMAC = harness.MustMAC("02:70:63:61:70:00")

	// client is the direction client -> gateway.
	client = harness.Hosts{SrcMAC: clientMAC, DstMAC: gwMAC, Src: clientIP, Dst: gwIP, ID: 0x4242}

	// staticClient is the neighbour entry the ICMP tests configure: nothing
	// answers the gateway's ARP requests on a pcap port.
	staticClient = harness.Neigh{Addr: clientIP.String(), MAC: clientMAC.String(), Port: port}
)

const (
	rxTimeout    = 30 * time.Second // until the port has received the whole rx pcap
	replyTimeout = 10 * time.Second // then until the expected replies are in the tx pcap
)

// runPcap runs a gateway configured as cfg plus one port (198.18.1.1/24)
// that reads in from its rx pcap. Once the port has received every frame and
// the tx pcap holds what done accepts (or replyTimeout has passed: the
// assertions on the final file then say what is missing), it reads the
// per-core counters, stops the gateway, asserting a clean exit, and returns
// every frame of the complete tx pcap and the counters.
func runPcap(t *testing.T, cfg harness.Config, in [][]byte, done func(out [][]byte) bool) ([][]byte, []coreJSON) {
	t.Helper()
	harness.Prepare(t)
	dir := harness.TempDir(t, "pcap")
	rx, tx := filepath.Join(dir, "rx.pcap"), filepath.Join(dir, "tx.pcap")
	if err := harness.WritePcap(rx, in...); err != nil {
		t.Fatal(err)
	}
	cfg.Ports = []harness.Port{{Name: port, Device: "net_pcap0,rx_pcap=" + rx + ",tx_pcap=" + tx, Addrs: []string{"198.18.1.1/24"}}}
	g := harness.Start(t, cfg, nil)
	if l := g.MustLink(port); !strings.EqualFold(l.MAC, gwMAC.String()) {
		t.Fatalf("port %s has MAC %q, but the test addresses its frames to %v (net_pcap's address in DPDK 22.11)", port, l.MAC, gwMAC)
	}
	g.WaitRxPackets(port, uint64(len(in)), rxTimeout)
	// net_pcap flushes the tx file after each burst, so the replies can be
	// awaited while the gateway runs; only the file after Stop is asserted.
	harness.Poll(replyTimeout, "the gateway's frames in the tx pcap", func() error {
		out, err := harness.ReadPcapSoFar(tx)
		if err != nil || !done(out) {
			return fmt.Errorf("tx pcap so far (err %v):\n%s", err, harness.DescribeAll(out))
		}
		return nil
	})
	if g.Exited() {
		t.Fatal("the gateway exited while processing the rx pcap")
	}
	var cores []coreJSON
	g.MustJSON(&cores, "stats")
	g.Stop()
	out, err := harness.ReadPcap(tx)
	if err != nil {
		t.Fatalf("tx pcap after the gateway stopped: %v", err)
	}
	return out, cores
}

// isGratuitous reports whether f is an ARP request whose sender and target
// addresses are equal: an announcement (RFC 5227), which the gateway sends
// for its addresses at start.
func isGratuitous(f []byte) bool {
	a, ok := pkttest.Decode(f).Layer(layers.LayerTypeARP).(*layers.ARP)
	return ok && a.Operation == layers.ARPRequest && bytes.Equal(a.SourceProtAddress, a.DstProtAddress)
}

// splitGratuitous separates the gateway's announcements from the other
// frames it sent.
func splitGratuitous(out [][]byte) (grat, rest [][]byte) {
	for _, f := range out {
		if isGratuitous(f) {
			grat = append(grat, f)
		} else {
			rest = append(rest, f)
		}
	}
	return grat, rest
}

// checkGratuitous asserts that the gateway announced 198.18.1.1 at least
// once and that every announcement is "who-has 198.18.1.1 tell 198.18.1.1"
// broadcast from the port's MAC, the target MAC zero (RFC 5227) or
// broadcast.
func checkGratuitous(t *testing.T, out [][]byte) {
	t.Helper()
	grat, _ := splitGratuitous(out)
	if len(grat) == 0 {
		t.Errorf("no gratuitous ARP for %v in the tx pcap:\n%s", gwIP, harness.DescribeAll(out))
	}
	for _, f := range grat {
		base := []harness.Check{harness.EthSrc(gwMAC), harness.EthDst(harness.BroadcastMAC)}
		errZero := harness.Expect(f, append(base, harness.ARP(layers.ARPRequest, gwMAC, gwIP, zeroMAC, gwIP))...)
		errBcast := harness.Expect(f, append(base, harness.ARP(layers.ARPRequest, gwMAC, gwIP, harness.BroadcastMAC, gwIP))...)
		if errZero != nil && errBcast != nil {
			t.Error(errZero)
		}
	}
}

// TestARPReply: one ARP request for the gateway's address gets exactly one
// ARP reply, to the client, from the port's MAC, with every field right.
func TestARPReply(t *testing.T) {
	reply := []harness.Check{
		harness.EthSrc(gwMAC), harness.EthDst(clientMAC),
		harness.ARP(layers.ARPReply, gwMAC, gwIP, clientMAC, clientIP),
	}
	out, _ := runPcap(t, harness.Config{}, [][]byte{harness.ARPRequest(clientMAC, clientIP, gwIP)}, func(out [][]byte) bool {
		_, rest := splitGratuitous(out)
		return len(rest) >= 1
	})
	t.Run("reply", func(t *testing.T) {
		_, rest := splitGratuitous(out)
		if len(rest) != 1 {
			t.Fatalf("want exactly one ARP reply besides gratuitous ARPs, the tx pcap holds:\n%s", harness.DescribeAll(out))
		}
		if err := harness.Expect(rest[0], reply...); err != nil {
			t.Error(err)
		}
	})
	t.Run("gratuitous", func(t *testing.T) { checkGratuitous(t, out) })
}

// echo is one ICMP echo request of TestICMPEcho.
type echo struct {
	name    string
	ttl     uint8
	id, seq uint16
	payload []byte
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	return b
}

func (e echo) request() []byte {
	h := client
	h.TTL, h.ID = e.ttl, client.ID+e.seq
	return harness.ICMPEchoRequest(h, e.id, e.seq, e.payload)
}

// reply are the checks of the echo reply to e: addresses swapped, TTL 64 (a
// fresh datagram, whatever the request's TTL), identifier, sequence number
// and payload unchanged, every checksum valid.
func (e echo) reply() []harness.Check {
	return []harness.Check{
		harness.EthSrc(gwMAC), harness.EthDst(clientMAC),
		harness.IPv4(gwIP, clientIP, layers.IPProtocolICMPv4), harness.TTL(64),
		harness.ICMPEcho(layers.ICMPv4TypeEchoReply, e.id, e.seq, e.payload),
		harness.ValidChecksums(),
	}
}

// TestICMPEcho: each echo request to the gateway's address gets exactly one
// correct echo reply. The client is a static neighbour from the config, so
// the gateway needs no ARP and must send nothing but the replies (and its
// gratuitous ARPs).
func TestICMPEcho(t *testing.T) {
	echoes := []echo{
		{name: "ping_default", ttl: 64, id: 0x1234, seq: 1, payload: pattern(56)},
		{name: "empty_payload", ttl: 64, id: 0x1234, seq: 2},
		{name: "odd_payload", ttl: 64, id: 0xfffe, seq: 3, payload: pattern(57)},
		{name: "full_mtu", ttl: 64, id: 0x0001, seq: 4, payload: pattern(1500 - 20 - 8)},
		{name: "request_ttl_1", ttl: 1, id: 0x0002, seq: 5, payload: pattern(8)},
		{name: "request_ttl_255", ttl: 255, id: 0x8000, seq: 0xffff, payload: pattern(32)},
	}
	var in [][]byte
	for _, e := range echoes {
		in = append(in, e.request())
	}
	out, _ := runPcap(t, harness.Config{Neighs: []harness.Neigh{staticClient}}, in, func(out [][]byte) bool {
		_, rest := splitGratuitous(out)
		return len(rest) >= len(echoes)
	})
	_, rest := splitGratuitous(out)
	if len(rest) != len(echoes) {
		t.Errorf("want exactly %d echo replies besides gratuitous ARPs, the tx pcap holds:\n%s", len(echoes), harness.DescribeAll(out))
	}
	for _, e := range echoes {
		t.Run(e.name, func(t *testing.T) {
			var got [][]byte
			for _, f := range rest {
				ic, ok := pkttest.Decode(f).Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
				if ok && ic.Seq == e.seq {
					got = append(got, f)
				}
			}
			if len(got) != 1 {
				t.Fatalf("%d frames with ICMP seq %d, want 1; tx pcap:\n%s", len(got), e.seq, harness.DescribeAll(out))
			}
			if err := harness.Expect(got[0], e.reply()...); err != nil {
				t.Error(err)
			}
		})
	}
	t.Run("gratuitous", func(t *testing.T) { checkGratuitous(t, out) })
}

// TestNothingForBadFrames: frames the gateway must drop produce no frame at
// all, and the gateway keeps working: a valid echo request after them is
// answered, and it stops cleanly.
func TestNothingForBadFrames(t *testing.T) {
	good := echo{id: 0x7777, seq: 42, ttl: 64, payload: pattern(56)}
	req := echo{id: 0x6666, seq: 7, ttl: 64, payload: pattern(56)}.request()
	toOther := client
	toOther.Dst = otherIP
	bad := []struct {
		name  string
		frame []byte
	}{
		{"bad_ipv4_checksum", harness.CorruptIPv4Checksum(req)},
		{"bad_icmp_checksum", harness.CorruptL4Checksum(req)},
		{"truncated_below_ethernet", harness.Truncated(req, 10)},
		{"truncated_ipv4_header", harness.Truncated(req, 14+12)},
		{"ipv4_total_length_beyond_frame", harness.WithIPv4TotalLength(req, uint16(len(req)-14+100))},
		{"ipv4_version_6", func() []byte {
			f := append([]byte(nil), req...)
			f[14] = 0x65
			return harness.FixIPv4Checksum(f)
		}()},
		{"unknown_ethertype", harness.WithEtherType(req, 0x88b5)},
		{"echo_to_other_mac", func() []byte {
			h := client
			h.DstMAC = otherMAC
			return harness.ICMPEchoRequest(h, 0x6666, 8, nil)
		}()},
		{"echo_to_unowned_ip", harness.ICMPEchoRequest(toOther, 0x6666, 9, nil)},
		{"arp_for_unowned_ip", harness.ARPRequest(clientMAC, clientIP, otherIP)},
	}
	var in [][]byte
	for _, b := range bad {
		in = append(in, b.frame)
	}
	in = append(in, good.request())
	out, _ := runPcap(t, harness.Config{Neighs: []harness.Neigh{staticClient}}, in, func(out [][]byte) bool {
		for _, f := range out {
			if harness.Matches(f, good.reply()...) {
				return true
			}
		}
		return false
	})
	// The good request is last: a reply provoked by a bad frame would come
	// before its reply, which is awaited, so it is in the file too.
	_, rest := splitGratuitous(out)
	if len(rest) != 1 {
		names := ""
		for _, b := range bad {
			names += "\n  " + b.name + ": " + harness.Describe(b.frame)
		}
		t.Fatalf("want only the echo reply to the final valid request; the tx pcap holds:\n%sinput bad frames:%s", harness.DescribeAll(out), names)
	}
	if err := harness.Expect(rest[0], good.reply()...); err != nil {
		t.Error(err)
	}
}
