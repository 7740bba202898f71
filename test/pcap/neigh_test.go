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
//   - three SYNs of a client (through the router) to the DR service: each
//     must leave, byte-exact, for the DR real server's MAC.
//
// The port reads a live veth (rx_iface=) that the test writes to through an
// AF_PACKET socket, phase by phase: the DR real server's entry exists before
// the flood, the flood has been received before the SYNs are sent. So the
// outcome does not depend on how the gateway's lcores are scheduled on a
// busy machine (with every frame in an rx pcap it did: the SYNs could reach
// the worker before the control lcore had learned the real server).
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

// neighRig is a gateway whose one port (198.18.1.1/24 and 10.64.0.1/16)
// reads a live veth the test writes to and writes what it sends to a tx pcap.
type neighRig struct {
	g    *harness.Gateway
	sock *harness.PacketSocket
	tx   string
	sent uint64
}

func startNeighRig(t *testing.T, cfg harness.Config) *neighRig {
	t.Helper()
	harness.Prepare(t)
	ns := harness.NewNetns(t, "gw") // before the gateway: cleanups stop it first
	gwEnd, testEnd := harness.UniqueIfName(), harness.UniqueIfName()
	ns.AddVeth(gwEnd, testEnd)
	r := &neighRig{tx: filepath.Join(harness.TempDir(t, "pcap"), "tx.pcap"), sock: ns.OpenPacketSocket(testEnd)}
	cfg.Ports = []harness.Port{{Name: port, Device: "net_pcap0,rx_iface=" + gwEnd + ",tx_pcap=" + r.tx,
		Addrs: []string{"198.18.1.1/24", "10.64.0.1/16"}}}
	r.g = harness.Start(t, cfg, ns)
	return r
}

// send puts frames on the wire and waits until the port has received them.
func (r *neighRig) send(t *testing.T, frames ...[]byte) {
	t.Helper()
	for _, f := range frames {
		if err := r.sock.Send(f); err != nil {
			t.Fatal(err)
		}
	}
	r.sent += uint64(len(frames))
	r.g.WaitRxPackets(port, r.sent, rxTimeout)
}

// sentSoFar returns the frames the gateway sent so far, gratuitous ARPs left out.
func (r *neighRig) sentSoFar() ([][]byte, error) {
	out, err := harness.ReadPcapSoFar(r.tx)
	_, rest := splitGratuitous(out)
	return rest, err
}

// TestNeighFlood: see above. The gateway keeps serving: the DR SYN reaches
// the learned real server; unresolved clients hold a bounded share of the
// table and start a bounded number of resolutions; the off-link sender is
// answered and not learned; the broadcast source is counted and dropped.
func TestNeighFlood(t *testing.T) {
	fromRouter := harness.Hosts{SrcMAC: nbRouterMA, DstMAC: gwMAC, Src: nbClient, Dst: nbVIPDR, TTL: 64, ID: 0x3333}
	drSYN := func(sport uint16) []byte {
		return harness.TCP(fromRouter, harness.TCPSeg{SrcPort: sport, DstPort: 80, Seq: 77, Flags: harness.SYN})
	}
	wantDR := map[uint16][]byte{}
	for sport := uint16(40000); sport < 40003; sport++ {
		wantDR[sport] = harness.TCP(mdHop(fromRouter, gwMAC, nbRS2MAC, 0), harness.TCPSeg{SrcPort: sport, DstPort: 80, Seq: 77, Flags: harness.SYN})
	}
	isDR := func(f []byte) bool { return bytes.Equal(f[:6], nbRS2MAC) && f[12] == 0x08 && f[13] == 0x00 }
	r := startNeighRig(t, harness.Config{
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
	})
	neighs := func() map[string]string {
		t.Helper()
		ns, err := r.g.Neighs()
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, n := range ns {
			m[n.Addr] = n.State
		}
		return m
	}

	// The DR real server and an off-link host ARP for the gateway.
	r.send(t, harness.ARPRequest(nbRS2MAC, nbRS2, gwIP), harness.ARPRequest(nbOffMAC, nbOffLink, gwIP))
	harness.Poll(fnTimeout, "the DR real server learned", func() error {
		if _, ok := neighs()[nbRS2.String()]; !ok {
			return fmt.Errorf("not in the neighbour table")
		}
		return nil
	})
	// The flood, and a source equal to the /16's broadcast.
	var flood [][]byte
	for i := range nbFlood {
		h := harness.Hosts{SrcMAC: nbFloodMAC, DstMAC: gwMAC, Src: nbSpoofed(i), Dst: nbVIPNAT, TTL: 64, ID: uint16(i)}
		flood = append(flood, harness.TCPSyn(h, uint16(10000+i%50000), 80, 1))
	}
	for i := range nbFlood {
		h := harness.Hosts{SrcMAC: nbRS1MAC, DstMAC: gwMAC, Src: nbRS1, Dst: nbSpoofed(i), TTL: 64, ID: uint16(i)}
		flood = append(flood, harness.TCP(h, harness.TCPSeg{SrcPort: 8080, DstPort: uint16(10000 + i%50000), Seq: 9, Ack: 2, Flags: harness.SYN | harness.ACK}))
	}
	flood = append(flood, harness.TCPSyn(harness.Hosts{SrcMAC: nbFloodMAC, DstMAC: gwMAC, Src: nbBcast, Dst: nbVIPNAT, TTL: 64}, 9999, 80, 1))
	r.send(t, flood...)
	mid := neighs()
	// The client's SYNs to the DR service.
	for sport := range wantDR {
		r.send(t, drSYN(sport))
	}
	harness.Poll(fnTimeout, "the SYNs to the DR real server", func() error {
		out, err := r.sentSoFar()
		if err != nil {
			return err
		}
		n := 0
		for _, f := range out {
			if isDR(f) {
				n++
			}
		}
		if n < len(wantDR) {
			return fmt.Errorf("%d of %d so far", n, len(wantDR))
		}
		return nil
	})
	var cores []coreJSON
	r.g.MustJSON(&cores, "stats")
	r.g.Stop()
	out, err := harness.ReadPcap(r.tx)
	if err != nil {
		t.Fatalf("tx pcap after the gateway stopped: %v", err)
	}
	_, out = splitGratuitous(out)

	var toRS1, toRS2, arpReplies, requests, probes int
	for _, f := range out {
		switch {
		case isDR(f):
			toRS2++
			if err := sameFrame(f, wantDR[transportSrcPort(t, f)]); err != nil {
				t.Errorf("a SYN to the DR real server after the flood: %v", err)
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
	if toRS2 != len(wantDR) || toRS1 != nbFlood || arpReplies != 2 {
		t.Errorf("sent %d SYNs to the DR real server (want %d), %d to the NAT one (want %d), %d ARP replies (want 2)", toRS2, len(wantDR), toRS1, nbFlood, arpReplies)
	}
	// Resolutions the flood started: the port's burst of 100 and 100 a
	// second while the flood lasts (ResolveRate), each up to 3 requests
	// (mcast_solicit) before the gateway stops: far from the one per
	// spoofed client (3000 and more) that the flood would cost otherwise.
	if requests == 0 || requests > 1000 {
		t.Errorf("%d ARP requests for the spoofed clients, want 1..1000", requests)
	}
	incomplete := 0
	for _, st := range mid {
		if st == "INCOMPLETE" {
			incomplete++
		}
	}
	if incomplete > 256 {
		t.Errorf("%d INCOMPLETE entries after the flood, want at most a quarter of the table (256)", incomplete)
	}
	if _, ok := mid[nbRS2.String()]; !ok {
		t.Errorf("the DR real server left the neighbour table during the flood (%d entries, %d INCOMPLETE)", len(mid), incomplete)
	}
	if s, ok := mid[nbOffLink.String()]; ok {
		t.Errorf("a sender on no connected subnet was learned (%s)", s)
	}
	if d := cores[0].Drops["broadcast_source"]; d != 1 {
		t.Errorf("broadcast_source = %d, want 1 (drops %v)", d, cores[0].Drops)
	}
	t.Logf("%d frames in, %d SYNs forwarded, %d ARP requests for spoofed clients, %d probes of the DR real server, %d INCOMPLETE entries of %d after the flood; drops %v",
		r.sent, toRS1, requests, probes, incomplete, len(mid), cores[0].Drops)
}
