package pcap

import (
	"bytes"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/gopacket/layers"

	"fngw/test/harness"
	"fngw/test/pkttest"
)

// The neighbour table under attack from the wire. One net_pcap port carries
// two connected subnets: 198.18.1.0/24 (the router, the real servers) and
// 10.64.0.0/16, where thousands of clients may live. Frames, in order:
//
//   - the DR real server's ARP request for the gateway: its entry is
//     learned (STALE), and pinned (a configured next hop);
//   - an ARP request for the gateway's address from a sender on no connected
//     subnet: answered, not learned;
//   - a SYN from each of nbFlood spoofed clients of 10.64/16 to a NAT
//     service, and the real server's SYN-ACK to each: every SYN-ACK needs
//     the client's MAC, an unresolved on-link address (the INCOMPLETE flood
//     of DPVS issue 198: a table of 1024 such entries, each alive ~7 s,
//     took every slot from the real servers; before, STALE entries like
//     the DR real server's were evicted for them);
//   - a SYN from 10.64.255.255, the /16's directed broadcast: dropped;
//   - a client's SYN (through the router) to the DR service: it must leave,
//     byte-exact, for the DR real server's MAC.
var (
	nbVIPNAT   = netip.MustParseAddr("198.18.1.100")
	nbVIPDR    = netip.MustParseAddr("198.18.1.101")
	nbRS1      = netip.MustParseAddr("198.18.1.11") // the NAT service's, static neighbour
	nbRS1MAC   = harness.MustMAC("02:00:00:00:01:0b")
	nbRS2      = netip.MustParseAddr("198.18.1.12") // the DR service's, learned
	nbRS2MAC   = harness.MustMAC("02:00:00:00:01:0c")
	nbRouter   = netip.MustParseAddr("198.18.1.254")
	nbRouterMA = harness.MustMAC("02:00:00:00:01:fe")
	nbClient   = netip.MustParseAddr("203.0.113.7")
	nbOffLink  = netip.MustParseAddr("203.0.113.9") // ARPs from no connected subnet
	nbOffMAC   = harness.MustMAC("02:00:00:00:71:09")
	nbFloodMAC = harness.MustMAC("02:00:00:00:64:01")
	nbBcast    = netip.MustParseAddr("10.64.255.255")
)

const nbFlood = 3000

// nbSpoofed is the i-th spoofed client of the flood, in 10.64.0.0/16.
func nbSpoofed(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 64, byte(1 + i>>8), byte(i)})
}

// runNeighPcap is runPcap over the two-subnet port: it runs the gateway on
// the frames in until they are all received and done accepts the tx pcap,
// and returns the frames sent (gratuitous ARPs left out), the per-core
// counters and the neighbour table, read before the gateway stopped.
func runNeighPcap(t *testing.T, cfg harness.Config, in [][]byte, done func(out [][]byte) bool) ([][]byte, []coreJSON, []harness.NeighEntry) {
	t.Helper()
	harness.Prepare(t)
	dir := harness.TempDir(t, "pcap")
	rx, tx := filepath.Join(dir, "rx.pcap"), filepath.Join(dir, "tx.pcap")
	if err := harness.WritePcap(rx, in...); err != nil {
		t.Fatal(err)
	}
	cfg.Ports = []harness.Port{{Name: port, Device: "net_pcap0,rx_pcap=" + rx + ",tx_pcap=" + tx,
		Addrs: []string{"198.18.1.1/24", "10.64.0.1/16"}}}
	g := harness.Start(t, cfg, nil)
	g.WaitRxPackets(port, uint64(len(in)), rxTimeout)
	harness.Poll(replyTimeout, "the gateway's frames in the tx pcap", func() error {
		out, err := harness.ReadPcapSoFar(tx)
		if _, rest := splitGratuitous(out); err != nil || !done(rest) {
			return fmt.Errorf("tx pcap so far (err %v): %d frames", err, len(out))
		}
		return nil
	})
	if g.Exited() {
		t.Fatal("the gateway exited while processing the rx pcap")
	}
	var cores []coreJSON
	g.MustJSON(&cores, "stats")
	neighs, err := g.Neighs()
	if err != nil {
		t.Fatal(err)
	}
	g.Stop()
	out, err := harness.ReadPcap(tx)
	if err != nil {
		t.Fatalf("tx pcap after the gateway stopped: %v", err)
	}
	_, rest := splitGratuitous(out)
	return rest, cores, neighs
}

// TestNeighFlood: see above. The gateway keeps serving: the DR SYN reaches
// the learned real server; unresolved clients hold a bounded share of the
// table and start a bounded number of resolutions; the off-link sender is
// answered and not learned; the broadcast source is counted and dropped.
func TestNeighFlood(t *testing.T) {
	fromRouter := harness.Hosts{SrcMAC: nbRouterMA, DstMAC: gwMAC, Src: nbClient, Dst: nbVIPDR, TTL: 64, ID: 0x3333}
	drSYN := harness.TCP(fromRouter, harness.TCPSeg{SrcPort: 40000, DstPort: 80, Seq: 77, Flags: harness.SYN})
	wantDR := harness.TCP(mdHop(fromRouter, gwMAC, nbRS2MAC, 0), harness.TCPSeg{SrcPort: 40000, DstPort: 80, Seq: 77, Flags: harness.SYN})

	in := [][]byte{harness.ARPRequest(nbRS2MAC, nbRS2, gwIP), harness.ARPRequest(nbOffMAC, nbOffLink, gwIP)}
	for i := range nbFlood {
		h := harness.Hosts{SrcMAC: nbFloodMAC, DstMAC: gwMAC, Src: nbSpoofed(i), Dst: nbVIPNAT, TTL: 64, ID: uint16(i)}
		in = append(in, harness.TCPSyn(h, uint16(10000+i%50000), 80, 1))
	}
	for i := range nbFlood {
		h := harness.Hosts{SrcMAC: nbRS1MAC, DstMAC: gwMAC, Src: nbRS1, Dst: nbSpoofed(i), TTL: 64, ID: uint16(i)}
		in = append(in, harness.TCP(h, harness.TCPSeg{SrcPort: 8080, DstPort: uint16(10000 + i%50000), Seq: 9, Ack: 2, Flags: harness.SYN | harness.ACK}))
	}
	in = append(in,
		harness.TCPSyn(harness.Hosts{SrcMAC: nbFloodMAC, DstMAC: gwMAC, Src: nbBcast, Dst: nbVIPNAT, TTL: 64}, 9999, 80, 1),
		drSYN,
	)
	isDR := func(f []byte) bool { return bytes.Equal(f[:6], nbRS2MAC) && f[12] == 0x08 && f[13] == 0x00 }
	out, cores, neighs := runNeighPcap(t, harness.Config{
		Routes: []harness.Route{{Prefix: "0.0.0.0/0", Via: nbRouter.String(), Port: port}},
		Neighs: []harness.Neigh{
			{Addr: nbRouter.String(), MAC: nbRouterMA.String(), Port: port},
			{Addr: nbRS1.String(), MAC: nbRS1MAC.String(), Port: port},
		},
		Services: []harness.Service{
			{Proto: "tcp", VIP: netip.AddrPortFrom(nbVIPNAT, 80).String(), Sched: "rr",
				Dests: []harness.Dest{{Addr: netip.AddrPortFrom(nbRS1, 8080).String(), Fwd: "masq"}}},
			{Proto: "tcp", VIP: netip.AddrPortFrom(nbVIPDR, 80).String(), Sched: "rr",
				Dests: []harness.Dest{{Addr: netip.AddrPortFrom(nbRS2, 80).String(), Fwd: "route"}}},
		},
	}, in, func(out [][]byte) bool {
		for _, f := range out {
			if isDR(f) {
				return true
			}
		}
		return false
	})

	var toRS1, toRS2, arpReplies, requests, probes int
	for _, f := range out {
		switch {
		case isDR(f):
			toRS2++
			if err := sameFrame(f, wantDR); err != nil {
				t.Errorf("the SYN to the DR real server after the flood: %v", err)
			}
		case bytes.Equal(f[:6], nbRS1MAC):
			toRS1++
		case harness.Matches(f, harness.ARP(layers.ARPReply, gwMAC, gwIP, nbOffMAC, nbOffLink)),
			harness.Matches(f, harness.ARP(layers.ARPReply, gwMAC, gwIP, nbRS2MAC, nbRS2)):
			arpReplies++
		default:
			a, ok := pkttest.Decode(f).Layer(layers.LayerTypeARP).(*layers.ARP)
			switch {
			case ok && a.Operation == layers.ARPRequest && netip.AddrFrom4([4]byte(a.DstProtAddress)) == nbRS2:
				probes++ // the entry in use is reconfirmed (DELAY, PROBE); nothing answers here
			case ok && a.Operation == layers.ARPRequest && strings.HasPrefix(netip.AddrFrom4([4]byte(a.DstProtAddress)).String(), "10.64."):
				requests++
			default:
				t.Errorf("unexpected frame: %s", harness.Describe(f))
			}
		}
	}
	if toRS2 != 1 || toRS1 != nbFlood || arpReplies != 2 {
		t.Errorf("sent %d SYNs to the DR real server (want 1), %d to the NAT one (want %d), %d ARP replies (want 2)", toRS2, toRS1, nbFlood, arpReplies)
	}
	// Resolutions the flood started: within the port's burst of 100
	// (ResolveRate), far from one per spoofed client; each sends up to 3
	// requests (mcast_solicit) in the seconds the test waits.
	if requests == 0 || requests > 3*100 {
		t.Errorf("%d ARP requests for the spoofed clients, want 1..300", requests)
	}
	incomplete, learned := 0, map[string]string{}
	for _, n := range neighs {
		if n.State == "INCOMPLETE" {
			incomplete++
		}
		learned[n.Addr] = n.State
	}
	if incomplete > 256 {
		t.Errorf("%d INCOMPLETE entries, want at most a quarter of the table (256)", incomplete)
	}
	if _, ok := learned[nbRS2.String()]; !ok {
		t.Errorf("the DR real server is not in the neighbour table (%d entries, %d INCOMPLETE)", len(neighs), incomplete)
	}
	if s, ok := learned[nbOffLink.String()]; ok {
		t.Errorf("a sender on no connected subnet was learned (%s)", s)
	}
	if d := cores[0].Drops["broadcast_source"]; d != 1 {
		t.Errorf("broadcast_source = %d, want 1 (drops %v)", d, cores[0].Drops)
	}
	t.Logf("%d frames in, %d SYNs forwarded, %d ARP requests for spoofed clients, %d probes of the DR real server, %d INCOMPLETE entries, %d entries; drops %v",
		len(in), toRS1, requests, probes, incomplete, len(neighs), cores[0].Drops)
}
