package pcap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"fngw/test/harness"
	"fngw/test/pkttest"
)

// FULLNAT packet-exact tests.
//
// The gateway picks the local port (lport) of each FULLNAT session, and the
// real server's reply must be addressed to it, so the reply cannot be written
// into an rx pcap before the gateway has run. Rather than rely on how the
// port allocator happens to order ports, the test talks to the gateway
// interactively: each net_pcap port reads a live interface (rx_iface=, one end
// of a veth pair inside the gateway's namespace) and writes what it sends to
// a tx pcap file (tx_pcap=, flushed after every burst). The test puts each
// crafted frame on the other end of the veth pair through an AF_PACKET socket,
// waits for the gateway's output in the tx pcap, learns the lport from it and
// builds the real server's answer from what the gateway actually sent. Every
// frame sent is still crafted byte by byte, nothing else crosses the veths
// (IPv6 off, no addresses), and every frame the gateway sends is asserted.
//
// Services, local addresses and neighbours come from the configuration file,
// so they exist before the first frame arrives.

var (
	vip       = netip.MustParseAddr("198.18.1.100")
	rsGwIP    = netip.MustParseAddr("198.18.2.1")
	rip       = netip.MustParseAddr("198.18.2.11")
	lip       = netip.MustParseAddr("198.18.2.100")
	rsMAC     = harness.MustMAC("02:00:00:00:02:0b")
	fnClient  = harness.Neigh{Addr: clientIP.String(), MAC: clientMAC.String(), Port: "dpdk0"}
	fnRS      = harness.Neigh{Addr: rip.String(), MAC: rsMAC.String(), Port: "dpdk1"}
	tcpVPort  = uint16(80)
	tcpRPort  = uint16(8080) // differs from the virtual port: the rewrite must change it
	udpVPort  = uint16(53)
	udpRPort  = uint16(5353)
	minLPort  = uint16(1024) // nat.DefaultPortRange.Min: FULLNAT never hands out a privileged port
	fnTimeout = 10 * time.Second
)

// fullnatServices are the services of the configuration: a TCP and a UDP
// FULLNAT service on the VIP, each with one real server on the server side
// and one local address there.
var fullnatServices = []harness.Service{
	fullnatService("tcp", tcpVPort, tcpRPort),
	fullnatService("udp", udpVPort, udpRPort),
}

// fullnatService is a round-robin FULLNAT service VIP:vport over the real
// server's port rport, with the local address on the server side.
func fullnatService(proto string, vport, rport uint16) harness.Service {
	return harness.Service{Proto: proto, VIP: netip.AddrPortFrom(vip, vport).String(), Sched: "rr",
		Laddrs: []harness.LocalAddr{{Addr: lip.String(), Port: "dpdk1"}},
		Dests:  []harness.Dest{{Addr: netip.AddrPortFrom(rip, rport).String(), Fwd: "fullnat"}}}
}

// side is one gateway port of the rig: the test sends on the veth peer of
// the interface the port reads, and reads the port's tx pcap.
type side struct {
	port string           // gateway port name
	mac  net.HardwareAddr // the port's MAC, from gw link show
	tx   string           // the port's tx pcap
	sock *harness.PacketSocket
	sent uint64   // frames the test put on the wire toward the port
	got  [][]byte // the gateway's frames the test has taken, gratuitous ARPs left out
}

// rig is a gateway with a client-side port (dpdk0, 198.18.1.1/24) and a
// server-side port (dpdk1, 198.18.2.1/24), both net_pcap over live veths,
// and the FULLNAT services; rigOpts adds to it.
type rig struct {
	g              *harness.Gateway
	client, server *side
	thirdTx        string // the tx pcap of the third port, if any
}

// flowHosts are the addresses of a FULLNAT flow through the rig: the
// client's and the real server's as they send (IP IDs from cID and sID),
// and the gateway's output toward the real server and toward the client.
func (r *rig) flowHosts(cID, sID uint16) (client, server, toRS, toClient harness.Hosts) {
	cl, sv := r.client, r.server
	return harness.Hosts{SrcMAC: clientMAC, DstMAC: cl.mac, Src: clientIP, Dst: vip, TTL: 64, ID: cID},
		harness.Hosts{SrcMAC: rsMAC, DstMAC: sv.mac, Src: rip, Dst: lip, TTL: 64, ID: sID},
		harness.Hosts{SrcMAC: sv.mac, DstMAC: rsMAC, Src: lip, Dst: rip, TTL: 63},
		harness.Hosts{SrcMAC: cl.mac, DstMAC: clientMAC, Src: vip, Dst: clientIP, TTL: 63}
}

// withID is h with IP ID id.
func withID(h harness.Hosts, id uint16) harness.Hosts { h.ID = id; return h }

// rigOpts is what a test adds to the rig.
type rigOpts struct {
	// thirdRx, when set, is a pcap file the third port (dpdk2,
	// 198.18.3.1/24) reads; it writes what it sends to rig.thirdTx.
	thirdRx string
	// vethMTU, when set, is the MTU of the client-side veth pair, so the
	// test can send frames larger than the gateway's port MTU (1500:
	// net_pcap cannot change it, and the gateway does not check the
	// ingress MTU, as a NIC with a wider MTU would not).
	vethMTU  int
	services []harness.Service // after fullnatServices
	session  harness.Session
}

func startRig(t *testing.T, o rigOpts) *rig {
	t.Helper()
	harness.Prepare(t)
	ns := harness.NewNetns(t, "gw") // before the gateway: cleanups stop it first
	dir := harness.TempDir(t, "pcap")
	r := &rig{client: &side{port: "dpdk0"}, server: &side{port: "dpdk1"}}
	var ports []harness.Port
	for i, s := range []*side{r.client, r.server} {
		gwEnd, testEnd := harness.UniqueIfName(), harness.UniqueIfName()
		ns.AddVeth(gwEnd, testEnd)
		if s == r.client && o.vethMTU != 0 {
			for _, l := range []string{gwEnd, testEnd} {
				ns.MustIP("link", "set", l, "mtu", fmt.Sprint(o.vethMTU))
			}
		}
		s.tx = filepath.Join(dir, s.port+"-tx.pcap")
		s.sock = ns.OpenPacketSocket(testEnd)
		ports = append(ports, harness.Port{Name: s.port,
			Device: fmt.Sprintf("net_pcap%d,rx_iface=%s,tx_pcap=%s", i, gwEnd, s.tx),
			Addrs:  []string{[]string{"198.18.1.1/24", "198.18.2.1/24"}[i]}})
	}
	if o.thirdRx != "" {
		r.thirdTx = filepath.Join(dir, "dpdk2-tx.pcap")
		ports = append(ports, harness.Port{Name: "dpdk2", Device: "net_pcap2,rx_pcap=" + o.thirdRx + ",tx_pcap=" + r.thirdTx,
			Addrs: []string{"198.18.3.1/24"}})
	}
	r.g = harness.Start(t, harness.Config{
		Ports:    ports,
		Neighs:   []harness.Neigh{fnClient, fnRS},
		Services: append(slices.Clone(fullnatServices), o.services...),
		Session:  o.session,
	}, ns)
	for _, s := range []*side{r.client, r.server} {
		mac, err := net.ParseMAC(r.g.MustLink(s.port).MAC)
		if err != nil {
			t.Fatalf("port %s: %v", s.port, err)
		}
		s.mac = mac
	}
	if bytes.Equal(r.client.mac, r.server.mac) {
		t.Fatalf("both ports have MAC %v", r.client.mac)
	}
	return r
}

// step is subtest name: send puts in on the wire toward from's port and the
// one frame the gateway sends on to's port because of it must be want (see
// expectFrame) and pass checks. It returns that frame (nil if the subtest
// failed before it came).
func (r *rig) step(t *testing.T, name string, from *side, in []byte, to *side, want []byte, checks ...harness.Check) []byte {
	t.Helper()
	var out []byte
	t.Run(name, func(t *testing.T) {
		out = r.send(t, from, in, to)
		expectFrame(t, name, out, want, checks...)
	})
	return out
}

// nonGratuitous reads the frames of s's tx pcap so far, gratuitous ARPs left out.
func (s *side) nonGratuitous() ([][]byte, error) {
	out, err := harness.ReadPcapSoFar(s.tx)
	_, rest := splitGratuitous(out)
	return rest, err
}

// send puts frame on the wire toward from's port, waits for the one frame the
// gateway sends on port to because of it and returns that frame. It fails
// the test if nothing comes or more than one frame does.
func (r *rig) send(t *testing.T, from *side, frame []byte, to *side) []byte {
	t.Helper()
	if err := from.sock.Send(frame); err != nil {
		t.Fatal(err)
	}
	from.sent++
	want := len(to.got) + 1
	var got [][]byte
	err := harness.Poll(fnTimeout, fmt.Sprintf("frame #%d on %s", want-1, to.port), func() error {
		var err error
		if got, err = to.nonGratuitous(); err != nil {
			return err
		}
		if len(got) < want {
			return fmt.Errorf("%d frames so far", len(got))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("after sending %s on %s: %v; gateway stats:\n%s", harness.Describe(frame), from.port, err, r.g.MustCmd("stats"))
	}
	if len(got) > want {
		t.Fatalf("after sending %s, port %s sent %d frames, want 1 more than the %d before:\n%s",
			harness.Describe(frame), to.port, len(got)-want+1, want-1, harness.DescribeAll(got))
	}
	to.got = got
	return got[want-1]
}

// finish checks that each port received exactly what the test sent, stops
// the gateway (exit status 0) and checks that the complete tx pcaps hold the
// frames the test took and nothing else besides gratuitous ARPs, which must
// announce the port's own address and the VIP (client side) or the local
// address (server side).
func (r *rig) finish(t *testing.T) {
	t.Helper()
	for _, s := range []*side{r.client, r.server} {
		r.g.WaitRxPackets(s.port, s.sent, fnTimeout)
	}
	r.g.Stop()
	for _, c := range []struct {
		s     *side
		addrs []netip.Addr
	}{{r.client, []netip.Addr{gwIP, vip}}, {r.server, []netip.Addr{rsGwIP, lip}}} {
		out, err := harness.ReadPcap(c.s.tx)
		if err != nil {
			t.Fatalf("tx pcap of %s after the gateway stopped: %v", c.s.port, err)
		}
		grat, rest := splitGratuitous(out)
		if len(rest) != len(c.s.got) {
			t.Errorf("port %s sent %d frames besides gratuitous ARPs, want the %d the test saw:\n%s",
				c.s.port, len(rest), len(c.s.got), harness.DescribeAll(out))
		}
		for _, a := range c.addrs {
			found := false
			for _, f := range grat {
				found = found || harness.Matches(f, harness.EthSrc(c.s.mac), harness.EthDst(harness.BroadcastMAC),
					harness.ARP(layers.ARPRequest, c.s.mac, a, zeroMAC, a))
			}
			if !found {
				t.Errorf("port %s announced no gratuitous ARP for %v; tx pcap:\n%s", c.s.port, a, harness.DescribeAll(out))
			}
		}
	}
}

// ports checks the TCP or UDP ports of a frame.
func ports(sport, dport uint16) harness.Check {
	return func(p gopacket.Packet) error {
		var s, d uint16
		switch l := p.TransportLayer().(type) {
		case *layers.TCP:
			s, d = uint16(l.SrcPort), uint16(l.DstPort)
		case *layers.UDP:
			s, d = uint16(l.SrcPort), uint16(l.DstPort)
		default:
			return errors.New("no TCP or UDP header")
		}
		if s != sport || d != dport {
			return fmt.Errorf("ports %d -> %d, want %d -> %d", s, d, sport, dport)
		}
		return nil
	}
}

// udpChecksum checks the UDP checksum field's exact value.
func udpChecksum(want uint16) harness.Check {
	return func(p gopacket.Packet) error {
		u, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if !ok {
			return errors.New("not UDP")
		}
		if u.Checksum != want {
			return fmt.Errorf("UDP checksum %#04x, want %#04x", u.Checksum, want)
		}
		return nil
	}
}

// icmpError checks an ICMP error's type, code and the 32-bit field after
// its checksum (the next-hop MTU for fragmentation needed).
func icmpError(typ, code uint8, rest uint32) harness.Check {
	return func(p gopacket.Packet) error {
		ic, ok := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
		if !ok {
			return errors.New("not ICMPv4")
		}
		got := uint32(ic.Id)<<16 | uint32(ic.Seq)
		if ic.TypeCode.Type() != typ || ic.TypeCode.Code() != code || got != rest {
			return fmt.Errorf("ICMP type %d code %d rest %#08x, want type %d code %d rest %#08x",
				ic.TypeCode.Type(), ic.TypeCode.Code(), got, typ, code, rest)
		}
		return nil
	}
}

// checksumOffsets returns the offsets in an Ethernet/IPv4 frame of the
// checksums whose value 0x0000 and 0xffff mean the same one's-complement
// number: the IPv4 header checksum, the TCP and ICMP checksums, and inside the
// datagram quoted by an ICMP error its IPv4 and TCP checksums. (UDP's are
// left out: there 0 means "no checksum" and a computed 0 is sent as 0xffff.)
func checksumOffsets(f []byte) []int {
	ihl := int(f[14]&0x0f) * 4
	offs := []int{14 + 10}
	l4 := 14 + ihl
	switch f[14+9] {
	case 6:
		offs = append(offs, l4+16)
	case 1:
		offs = append(offs, l4+2)
		if q := l4 + 8; len(f) >= q+20 {
			offs = append(offs, q+10)
			if f[q+9] == 6 {
				offs = append(offs, q+int(f[q]&0x0f)*4+16)
			}
		}
	}
	return offs
}

// sameFrame reports whether got is want byte for byte, allowing only the
// one's-complement equivalence 0x0000 = 0xffff in checksum fields (RFC 1624
// §3: an incremental update may produce either). It describes every
// differing byte.
func sameFrame(got, want []byte) error {
	if bytes.Equal(got, want) {
		return nil
	}
	if len(got) != len(want) {
		return fmt.Errorf("frame of %d bytes, want %d bytes:\n  got  %s\n  want %s", len(got), len(want), harness.Describe(got), harness.Describe(want))
	}
	equiv := map[int]bool{}
	for _, o := range checksumOffsets(want) {
		if o+2 > len(want) {
			continue
		}
		g, w := binary.BigEndian.Uint16(got[o:]), binary.BigEndian.Uint16(want[o:])
		if (g == 0 && w == 0xffff) || (g == 0xffff && w == 0) {
			equiv[o], equiv[o+1] = true, true
		}
	}
	var diffs []string
	for i := range got {
		if got[i] != want[i] && !equiv[i] {
			diffs = append(diffs, fmt.Sprintf("byte %d: %#02x, want %#02x", i, got[i], want[i]))
		}
	}
	if len(diffs) == 0 {
		return nil
	}
	return fmt.Errorf("frame differs from the expected one in %d bytes (%s):\n  got  %s\n  want %s",
		len(diffs), strings.Join(diffs, ", "), harness.Describe(got), harness.Describe(want))
}

// expectFrame asserts the frame's fields (for a readable message), that
// every checksum is valid (an independent verifier), and that it is exactly
// want.
func expectFrame(t *testing.T, what string, got, want []byte, checks ...harness.Check) {
	t.Helper()
	if err := harness.Expect(got, append(checks, harness.ValidChecksums())...); err != nil {
		t.Errorf("%s: %v", what, err)
	}
	if err := sameFrame(got, want); err != nil {
		t.Errorf("%s: %v", what, err)
	}
}

// transportSrcPort is the source port of a TCP or UDP frame.
func transportSrcPort(t *testing.T, f []byte) uint16 {
	t.Helper()
	switch l := pkttest.Decode(f).TransportLayer().(type) {
	case *layers.TCP:
		return uint16(l.SrcPort)
	case *layers.UDP:
		return uint16(l.SrcPort)
	}
	t.Fatalf("no TCP or UDP header in %s", harness.Describe(f))
	return 0
}

// listJSON is the part of `gw adm -L -n --json` the tests read.
type listJSON struct {
	Services []struct {
		Service struct {
			Proto string `json:"proto"`
			VIP   string `json:"vip"`
			Port  uint16 `json:"port"`
		} `json:"service"`
		Stats statsJSON `json:"stats"`
		Dests []struct {
			Dest struct {
				Addr string `json:"addr"`
				Port uint16 `json:"port"`
			} `json:"dest"`
			Stats statsJSON `json:"stats"`
		} `json:"dests"`
	} `json:"services"`
}

type statsJSON struct {
	Conns       uint64 `json:"conns"`
	InPkts      uint64 `json:"inpkts"`
	OutPkts     uint64 `json:"outpkts"`
	ActiveConns uint32 `json:"activeconns"`
	InactConns  uint32 `json:"inactconns"`
}

// coreJSON is one core of `gw stats --json`.
type coreJSON struct {
	Core           int               `json:"core"`
	Drops          map[string]uint64 `json:"drops"`
	Sessions       int64             `json:"sessions"`
	Created        uint64            `json:"sessions_created"`
	Expired        uint64            `json:"sessions_expired"`
	ICMPTranslated uint64            `json:"icmp_translated"`
}

// destStats returns the statistics of destination rip:rport of service
// vip:vport/proto from `gw adm -L -n --json`.
func destStats(g *harness.Gateway, proto string, vport uint16, rport uint16) (statsJSON, error) {
	var l listJSON
	if err := g.JSON(&l, "adm", "-L", "-n"); err != nil {
		return statsJSON{}, err
	}
	for _, s := range l.Services {
		if s.Service.Proto != proto || s.Service.VIP != vip.String() || s.Service.Port != vport {
			continue
		}
		for _, d := range s.Dests {
			if d.Dest.Addr == rip.String() && d.Dest.Port == rport {
				return d.Stats, nil
			}
		}
	}
	return statsJSON{}, fmt.Errorf("gw adm -L -n --json has no destination %s:%d under %s %s:%d: %+v", rip, rport, proto, vip, vport, l)
}

// waitConns waits until the TCP destination shows active and inactive
// connection counts (LVS's ActiveConn/InActConn).
func waitConns(t *testing.T, g *harness.Gateway, active, inact uint32) {
	t.Helper()
	harness.Eventually(t, fnTimeout, fmt.Sprintf("ActiveConn %d InActConn %d", active, inact), func() error {
		st, err := destStats(g, "tcp", tcpVPort, tcpRPort)
		if err != nil {
			return err
		}
		if st.ActiveConns != active || st.InactConns != inact {
			return fmt.Errorf("ActiveConn %d InActConn %d", st.ActiveConns, st.InactConns)
		}
		return nil
	})
}

// TestFullNAT drives one TCP connection, two UDP flows and ICMP errors
// about them through a FULLNAT service and asserts every frame the gateway
// sends, byte for byte:
//
//   - the client's SYN to VIP:80 leaves toward the real server as
//     LIP:lport -> RIP:8080, from the server-side port's MAC to the real
//     server's, TTL decremented, everything else unchanged, checksums valid;
//   - the real server's SYN-ACK to LIP:lport reaches the client from VIP:80;
//   - the handshake's ACK, data both ways and the FINs follow the session,
//     and ActiveConn/InActConn follow LVS's states;
//   - an ICMP fragmentation-needed from the real server about a forwarded
//     segment (quoting 548 bytes, as Linux does) reaches the client from the
//     VIP with the quoted datagram turned back into the client's own (its
//     addresses, ports, checksums), the MTU kept;
//   - the same request/reply rewrite for UDP, a UDP checksum of 0 stays 0,
//     and an ICMP port unreachable quoting only 8 bytes is translated too;
//   - the session listing names the local ports the test saw, the counters
//     count two translated ICMP errors and no drop, and the gateway sent
//     nothing else (besides gratuitous ARPs for its addresses, the VIP and
//     the LIP) and stops cleanly.
func TestFullNAT(t *testing.T) {
	r := startRig(t, rigOpts{})
	g, cl, sv := r.g, r.client, r.server
	// The client as it sends to the VIP, and the real server as it answers
	// the local address; the gateway's outputs are built from the same
	// hosts with the rewritten fields.
	cHosts, sHosts, toRS, toClient := r.flowHosts(0x1001, 0x2001)

	const cport = 40000
	const cISN, sISN = 1000, 5000
	var lport uint16
	var dataOut []byte // the client's data segment as the gateway forwarded it
	var dataIn []byte  // the same segment as the client sent it

	t.Run("tcp_syn_to_rs", func(t *testing.T) {
		in := harness.TCPSyn(cHosts, cport, tcpVPort, cISN)
		out := r.send(t, cl, in, sv)
		lport = transportSrcPort(t, out)
		if lport < minLPort {
			t.Errorf("local port %d is privileged; FULLNAT allocates from %d up", lport, minLPort)
		}
		want := harness.TCPSyn(withID(toRS, cHosts.ID), lport, tcpRPort, cISN)
		expectFrame(t, "SYN toward the real server", out, want,
			harness.EthSrc(sv.mac), harness.EthDst(rsMAC), harness.IPv4(lip, rip, layers.IPProtocolTCP),
			harness.TTL(63), ports(lport, tcpRPort))
	})
	if lport == 0 {
		t.Fatal("no local port learnt from the SYN; the rest depends on it")
	}

	toClientChecks := func(proto layers.IPProtocol, sport, dport uint16) []harness.Check {
		return []harness.Check{harness.EthSrc(cl.mac), harness.EthDst(clientMAC),
			harness.IPv4(vip, clientIP, proto), harness.TTL(63), ports(sport, dport)}
	}
	toRSChecks := func(proto layers.IPProtocol, sport, dport uint16) []harness.Check {
		return []harness.Check{harness.EthSrc(sv.mac), harness.EthDst(rsMAC),
			harness.IPv4(lip, rip, proto), harness.TTL(63), ports(sport, dport)}
	}

	synAck := harness.TCP(sHosts, harness.TCPSeg{SrcPort: tcpRPort, DstPort: lport, Seq: sISN, Ack: cISN + 1, Flags: harness.SYN | harness.ACK})
	r.step(t, "tcp_synack_to_client", sv, synAck, cl,
		harness.TCP(withID(toClient, sHosts.ID), harness.TCPSeg{SrcPort: tcpVPort, DstPort: cport, Seq: sISN, Ack: cISN + 1, Flags: harness.SYN | harness.ACK}),
		toClientChecks(layers.IPProtocolTCP, tcpVPort, cport)...)
	waitConns(t, g, 0, 1) // SYN_RECV: inactive (LVS counts a connection active once ESTABLISHED)

	cHosts.ID++
	r.step(t, "tcp_ack_to_rs", cl, harness.TCPAck(cHosts, cport, tcpVPort, cISN+1, sISN+1), sv,
		harness.TCPAck(withID(toRS, cHosts.ID), lport, tcpRPort, cISN+1, sISN+1),
		toRSChecks(layers.IPProtocolTCP, lport, tcpRPort)...)
	waitConns(t, g, 1, 0)

	payload := pattern(1200)
	cHosts.ID++
	dataIn = harness.TCPData(cHosts, cport, tcpVPort, cISN+1, sISN+1, payload)
	dataOut = r.step(t, "tcp_data_to_rs", cl, dataIn, sv,
		harness.TCPData(withID(toRS, cHosts.ID), lport, tcpRPort, cISN+1, sISN+1, payload),
		toRSChecks(layers.IPProtocolTCP, lport, tcpRPort)...)

	// Linux quotes at most 576 bytes of ICMP datagram: 20 + 8 + 548.
	const quoteLen, mtu = 548, 1400
	t.Run("icmp_frag_needed_to_client", func(t *testing.T) {
		if dataOut == nil {
			t.Skip("no forwarded data segment to quote")
		}
		quote := harness.IPv4Packet(dataOut)[:quoteLen]
		sHosts.ID++
		in := harness.ICMPError(sHosts, harness.ICMPDstUnreachable, harness.ICMPCodeFragNeeded, mtu, quote)
		out := r.send(t, sv, in, cl)
		// The client must see its own segment quoted, as the real server got
		// it: its addresses, ports and checksums, with the TTL the real
		// server saw (one less).
		wantQuote := harness.IPv4Packet(harness.WithTTL(dataIn, 63))[:quoteLen]
		want := harness.ICMPError(withID(toClient, sHosts.ID), harness.ICMPDstUnreachable, harness.ICMPCodeFragNeeded, mtu, wantQuote)
		expectFrame(t, "ICMP fragmentation needed toward the client", out, want,
			harness.EthSrc(cl.mac), harness.EthDst(clientMAC), harness.IPv4(vip, clientIP, layers.IPProtocolICMPv4),
			harness.TTL(63), icmpError(harness.ICMPDstUnreachable, harness.ICMPCodeFragNeeded, mtu))
	})

	reply := []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	sHosts.ID++
	r.step(t, "tcp_data_to_client", sv, harness.TCPData(sHosts, tcpRPort, lport, sISN+1, cISN+1+uint32(len(payload)), reply), cl,
		harness.TCPData(withID(toClient, sHosts.ID), tcpVPort, cport, sISN+1, cISN+1+uint32(len(payload)), reply),
		toClientChecks(layers.IPProtocolTCP, tcpVPort, cport)...)

	cSeq, sSeq := cISN+1+uint32(len(payload)), sISN+1+uint32(len(reply))
	cHosts.ID++
	r.step(t, "tcp_fin_to_rs", cl, harness.TCPFin(cHosts, cport, tcpVPort, cSeq, sSeq), sv,
		harness.TCPFin(withID(toRS, cHosts.ID), lport, tcpRPort, cSeq, sSeq),
		toRSChecks(layers.IPProtocolTCP, lport, tcpRPort)...)
	sHosts.ID++
	r.step(t, "tcp_fin_to_client", sv, harness.TCPFin(sHosts, tcpRPort, lport, sSeq, cSeq+1), cl,
		harness.TCPFin(withID(toClient, sHosts.ID), tcpVPort, cport, sSeq, cSeq+1),
		toClientChecks(layers.IPProtocolTCP, tcpVPort, cport)...)
	cHosts.ID++
	r.step(t, "tcp_last_ack_to_rs", cl, harness.TCPAck(cHosts, cport, tcpVPort, cSeq+1, sSeq+1), sv,
		harness.TCPAck(withID(toRS, cHosts.ID), lport, tcpRPort, cSeq+1, sSeq+1),
		toRSChecks(layers.IPProtocolTCP, lport, tcpRPort)...)
	waitConns(t, g, 0, 1) // closing: inactive until it expires

	// UDP: request and reply, then a flow without checksums, then an ICMP
	// port unreachable quoting the RFC 792 minimum (header + 8 bytes).
	const ucport, ucport0 = 50000, 50001
	var ulport, ulport0 uint16
	query, answer := []byte("fngw udp query"), []byte("fngw udp answer!")
	var udpOut []byte
	cHosts.ID++
	uIn := harness.UDP(cHosts, ucport, udpVPort, query)
	t.Run("udp_to_rs", func(t *testing.T) {
		udpOut = r.send(t, cl, uIn, sv)
		ulport = transportSrcPort(t, udpOut)
		if ulport < minLPort {
			t.Errorf("local port %d is privileged", ulport)
		}
		expectFrame(t, "UDP toward the real server", udpOut, harness.UDP(withID(toRS, cHosts.ID), ulport, udpRPort, query),
			toRSChecks(layers.IPProtocolUDP, ulport, udpRPort)...)
	})
	if ulport == 0 {
		t.Fatal("no local port learnt from the UDP datagram")
	}
	sHosts.ID++
	r.step(t, "udp_to_client", sv, harness.UDP(sHosts, udpRPort, ulport, answer), cl,
		harness.UDP(withID(toClient, sHosts.ID), udpVPort, ucport, answer),
		toClientChecks(layers.IPProtocolUDP, udpVPort, ucport)...)

	cHosts.ID++
	t.Run("udp_no_checksum_to_rs", func(t *testing.T) {
		out := r.send(t, cl, harness.WithoutUDPChecksum(harness.UDP(cHosts, ucport0, udpVPort, query)), sv)
		ulport0 = transportSrcPort(t, out)
		if ulport0 == ulport {
			t.Errorf("two UDP flows to the same real server share local port %d", ulport)
		}
		expectFrame(t, "UDP without checksum toward the real server", out,
			harness.WithoutUDPChecksum(harness.UDP(withID(toRS, cHosts.ID), ulport0, udpRPort, query)),
			append(toRSChecks(layers.IPProtocolUDP, ulport0, udpRPort), udpChecksum(0))...)
	})
	if ulport0 == 0 {
		t.Fatal("no local port learnt from the checksum-less UDP datagram")
	}
	sHosts.ID++
	r.step(t, "udp_no_checksum_to_client", sv, harness.WithoutUDPChecksum(harness.UDP(sHosts, udpRPort, ulport0, answer)), cl,
		harness.WithoutUDPChecksum(harness.UDP(withID(toClient, sHosts.ID), udpVPort, ucport0, answer)),
		append(toClientChecks(layers.IPProtocolUDP, udpVPort, ucport0), udpChecksum(0))...)

	t.Run("icmp_port_unreachable_to_client", func(t *testing.T) {
		ip := harness.IPv4Packet(udpOut)
		quote := ip[:int(ip[0]&0x0f)*4+8]
		sHosts.ID++
		in := harness.ICMPError(sHosts, harness.ICMPDstUnreachable, harness.ICMPCodePortUnreachable, 0, quote)
		out := r.send(t, sv, in, cl)
		wip := harness.IPv4Packet(harness.WithTTL(uIn, 63))
		want := harness.ICMPError(withID(toClient, sHosts.ID), harness.ICMPDstUnreachable, harness.ICMPCodePortUnreachable, 0, wip[:len(quote)])
		expectFrame(t, "ICMP port unreachable toward the client", out, want,
			harness.EthSrc(cl.mac), harness.EthDst(clientMAC), harness.IPv4(vip, clientIP, layers.IPProtocolICMPv4),
			harness.TTL(63), icmpError(harness.ICMPDstUnreachable, harness.ICMPCodePortUnreachable, 0))
	})

	t.Run("sessions_listed", func(t *testing.T) {
		conns, err := g.Conns()
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{
			fmt.Sprintf("tcp %s:%d %s:%d %s:%d %s:%d", clientIP, cport, vip, tcpVPort, lip, lport, rip, tcpRPort):     "",
			fmt.Sprintf("udp %s:%d %s:%d %s:%d %s:%d", clientIP, ucport, vip, udpVPort, lip, ulport, rip, udpRPort):   "",
			fmt.Sprintf("udp %s:%d %s:%d %s:%d %s:%d", clientIP, ucport0, vip, udpVPort, lip, ulport0, rip, udpRPort): "",
		}
		for _, s := range conns {
			k := strings.ToLower(s.Proto) + " " + s.Client + " " + s.Virtual + " " + s.Local + " " + s.Dest
			if _, ok := want[k]; !ok {
				t.Errorf("unexpected session %+v", s)
				continue
			}
			want[k] = s.State
		}
		for k, st := range want {
			if st == "" {
				t.Errorf("session %q not listed; gw adm -L -n -c --json: %+v", k, conns)
			}
		}
	})

	t.Run("counters", func(t *testing.T) {
		var cores []coreJSON
		g.MustJSON(&cores, "stats")
		var sessions int64
		var created, icmp uint64
		for _, c := range cores {
			sessions += c.Sessions
			created += c.Created
			icmp += c.ICMPTranslated
			for r, n := range c.Drops {
				t.Errorf("core %d dropped %d packets for %s", c.Core, n, r)
			}
		}
		if sessions != 3 || created != 3 || icmp != 2 {
			t.Errorf("gw stats: %d sessions, %d created, %d ICMP errors translated; want 3, 3, 2: %+v", sessions, created, icmp, cores)
		}
		st, err := destStats(g, "tcp", tcpVPort, tcpRPort)
		if err != nil {
			t.Fatal(err)
		}
		// In: SYN, ACK, data, FIN, ACK; out: SYN-ACK, data, FIN, and the
		// ICMP error if translated errors count as the connection's
		// traffic (LVS's handle_response_icmp counts them; either is fine).
		if st.Conns != 1 || st.InPkts != 5 || st.OutPkts < 3 || st.OutPkts > 4 {
			t.Errorf("TCP destination: conns %d inpkts %d outpkts %d, want 1, 5, 3 or 4", st.Conns, st.InPkts, st.OutPkts)
		}
	})

	r.finish(t)
}
