package pcap

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/google/gopacket/layers"

	"fngw/test/harness"
)

// Attacks from the wire, packet-exact over net_pcap with the real gw
// binary: each is mounted the way a host on the wire would, and the
// gateway must keep serving (docs/robustness.md, "Spoofed floods and blind
// segments").

// waitDrops polls `gw stats --json` until the drop counters hold want
// (reasons not named must stay zero), so that frames that must produce
// nothing are known to have been processed.
func waitDrops(t *testing.T, g *harness.Gateway, want map[string]uint64) {
	t.Helper()
	harness.Eventually(t, fnTimeout, fmt.Sprintf("drops %v", want), func() error {
		got := drops(t, g)
		for r, n := range got {
			if n != want[r] {
				return fmt.Errorf("drops %v", got)
			}
		}
		for r, n := range want {
			if got[r] != n {
				return fmt.Errorf("drops %v", got)
			}
		}
		return nil
	})
}

// sendQuiet puts frame on the wire toward from's port for a frame the
// gateway must drop: nothing may leave because of it (finish checks the
// complete tx pcaps).
func (r *rig) sendQuiet(t *testing.T, from *side, frame []byte) {
	t.Helper()
	if err := from.sock.Send(frame); err != nil {
		t.Fatal(err)
	}
	from.sent++
}

// TestHardenBlindSegments: on an established FULLNAT connection, segments a
// host that knows only the connection's addresses and ports can forge:
//
//   - a RST with a random sequence number, from either side: dropped
//     (rst_out_of_window), nothing sent;
//   - a segment without flags: forwarded, but the state stays ESTABLISHED;
//   - a RST and a SYN forged together from the client's address: the RST
//     is dropped, the SYN goes on the same session (the same local port):
//     the client is not moved to another real server;
//   - a "reply" (RIP:rport -> LIP:lport) injected from the clients' side,
//     and a client segment from the servers' side: dropped
//     (wrong_ingress_port);
//
// then the connection idles past the CLOSE timeout (10 s) and still
// carries data both ways, listed as ESTABLISHED; and a second connection's
// local port is not the first one's successor (random local ports).
func TestHardenBlindSegments(t *testing.T) {
	r := startRig(t, rigOpts{})
	g, cl, sv := r.g, r.client, r.server
	cHosts, sHosts, toRS, toClient := r.flowHosts(0x1001, 0x2001)
	const cport = 40000
	const cISN, sISN = 1000, 5000

	out := r.send(t, cl, harness.TCPSyn(cHosts, cport, tcpVPort, cISN), sv)
	lport := transportSrcPort(t, out)
	r.send(t, sv, harness.TCP(sHosts, harness.TCPSeg{SrcPort: tcpRPort, DstPort: lport, Seq: sISN, Ack: cISN + 1, Flags: harness.SYN | harness.ACK}), cl)
	cHosts.ID++
	r.send(t, cl, harness.TCPAck(cHosts, cport, tcpVPort, cISN+1, sISN+1), sv)
	waitConns(t, g, 1, 0)

	// Blind RSTs from both sides.
	cHosts.ID++
	r.sendQuiet(t, cl, harness.TCP(cHosts, harness.TCPSeg{SrcPort: cport, DstPort: tcpVPort, Seq: cISN + 1 + 0x80000000, Flags: harness.RST}))
	sHosts.ID++
	r.sendQuiet(t, sv, harness.TCP(sHosts, harness.TCPSeg{SrcPort: tcpRPort, DstPort: lport, Seq: 0x9e3779b9, Ack: cISN + 1, Flags: harness.RST | harness.ACK}))
	waitDrops(t, g, map[string]uint64{"rst_out_of_window": 2})

	// A segment without flags: forwarded as it is (rewritten), no state change.
	cHosts.ID++
	r.step(t, "flagless_forwarded", cl, harness.TCP(cHosts, harness.TCPSeg{SrcPort: cport, DstPort: tcpVPort, Seq: 0x31337}), sv,
		harness.TCP(withID(toRS, cHosts.ID), harness.TCPSeg{SrcPort: lport, DstPort: tcpRPort, Seq: 0x31337}),
		ports(lport, tcpRPort))

	// RST then SYN from the client's address.
	cHosts.ID++
	r.sendQuiet(t, cl, harness.TCP(cHosts, harness.TCPSeg{SrcPort: cport, DstPort: tcpVPort, Seq: 0x77777777, Flags: harness.RST}))
	cHosts.ID++
	r.step(t, "forged_syn_same_session", cl, harness.TCPSyn(cHosts, cport, tcpVPort, 0x88888888), sv,
		harness.TCPSyn(withID(toRS, cHosts.ID), lport, tcpRPort, 0x88888888), ports(lport, tcpRPort))

	// Injected from the wrong side.
	sHosts.ID++
	injected := sHosts
	injected.SrcMAC, injected.DstMAC = clientMAC, cl.mac
	r.sendQuiet(t, cl, harness.TCPData(injected, tcpRPort, lport, sISN+1, cISN+1, []byte("HTTP/1.1 302 Found\r\n")))
	cHosts.ID++
	wrongSide := cHosts
	wrongSide.SrcMAC, wrongSide.DstMAC = rsMAC, sv.mac
	r.sendQuiet(t, sv, harness.TCPData(wrongSide, cport, tcpVPort, cISN+1, sISN+1, []byte("x")))
	waitDrops(t, g, map[string]uint64{"rst_out_of_window": 3, "wrong_ingress_port": 2})

	// Idle past CLOSE's 10 s: still ESTABLISHED, still carrying data.
	time.Sleep(11 * time.Second)
	conns, err := g.Conns()
	if err != nil || len(conns) != 1 || conns[0].State != "ESTABLISHED" {
		t.Fatalf("sessions after the attacks and 11 s idle: %+v (%v)", conns, err)
	}
	cHosts.ID++
	req := []byte("GET / HTTP/1.1\r\n\r\n")
	r.step(t, "data_to_rs_after", cl, harness.TCPData(cHosts, cport, tcpVPort, cISN+1, sISN+1, req), sv,
		harness.TCPData(withID(toRS, cHosts.ID), lport, tcpRPort, cISN+1, sISN+1, req), ports(lport, tcpRPort))
	sHosts.ID++
	resp := []byte("HTTP/1.1 204 No Content\r\n\r\n")
	ack := cISN + 1 + uint32(len(req))
	r.step(t, "data_to_client_after", sv, harness.TCPData(sHosts, tcpRPort, lport, sISN+1, ack, resp), cl,
		harness.TCPData(withID(toClient, sHosts.ID), tcpVPort, cport, sISN+1, ack, resp), ports(tcpVPort, cport))

	// A second connection: its local port is drawn at random, not the
	// first one's successor (1 chance in 64 512 to fail by luck).
	cHosts.ID++
	second := transportSrcPort(t, r.send(t, cl, harness.TCPSyn(cHosts, cport+1, tcpVPort, cISN), sv))
	if second == lport+1 {
		t.Errorf("local ports %d then %d: handed out in sequence", lport, second)
	}
	waitDrops(t, g, map[string]uint64{"rst_out_of_window": 3, "wrong_ingress_port": 2})
	r.finish(t)
}

// TestHardenUDPFloodThenTCP: 1100 spoofed UDP datagrams (a different
// source each, nobody answers) fill the one table of 1024 sessions that
// every service of the core shares; a real client's TCP connection to the
// other service is then accepted at once (a one-way UDP session is evicted
// for it, LVS drop_entry) and carries data both ways. Nothing is refused
// as table_full.
func TestHardenUDPFloodThenTCP(t *testing.T) {
	r := startRig(t, rigOpts{session: harness.Session{CapacityPerCore: 1024}})
	g, cl, sv := r.g, r.client, r.server
	const flood = 1100
	for i := range flood {
		h := harness.Hosts{SrcMAC: clientMAC, DstMAC: cl.mac, Src: netip.AddrFrom4([4]byte{100, 64 + byte(i>>16), byte(i >> 8), byte(i)}),
			Dst: vip, TTL: 64, ID: uint16(i)}
		r.sendQuiet(t, cl, harness.UDP(h, 1000, udpVPort, []byte("flood")))
	}
	// Every datagram is forwarded to the real server: the table is full
	// after 1024, and each later one evicted an older one-way session.
	harness.Eventually(t, fnTimeout, "the flood forwarded", func() error {
		got, err := sv.nonGratuitous()
		if err != nil || len(got) < flood {
			return fmt.Errorf("%d frames on %s (%v)", len(got), sv.port, err)
		}
		sv.got = got
		return nil
	})
	var cores []coreJSON
	g.MustJSON(&cores, "stats")
	if cores[0].Sessions != 1024 {
		t.Fatalf("%d sessions after the flood, want the table full (1024)", cores[0].Sessions)
	}

	cHosts := harness.Hosts{SrcMAC: clientMAC, DstMAC: cl.mac, Src: clientIP, Dst: vip, TTL: 64, ID: 0x1001}
	sHosts := harness.Hosts{SrcMAC: rsMAC, DstMAC: sv.mac, Src: rip, Dst: lip, TTL: 64, ID: 0x2001}
	const cport, cISN, sISN = 40000, 1000, 5000
	start := time.Now()
	out := r.send(t, cl, harness.TCPSyn(cHosts, cport, tcpVPort, cISN), sv)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the SYN took %v to be forwarded", d)
	}
	if err := harness.Expect(out, harness.IPv4(lip, rip, layers.IPProtocolTCP)); err != nil {
		t.Fatal(err)
	}
	lport := transportSrcPort(t, out)
	r.send(t, sv, harness.TCP(sHosts, harness.TCPSeg{SrcPort: tcpRPort, DstPort: lport, Seq: sISN, Ack: cISN + 1, Flags: harness.SYN | harness.ACK}), cl)
	cHosts.ID++
	r.send(t, cl, harness.TCPData(cHosts, cport, tcpVPort, cISN+1, sISN+1, []byte("ping")), sv)
	sHosts.ID++
	r.send(t, sv, harness.TCPData(sHosts, tcpRPort, lport, sISN+1, cISN+5, []byte("pong")), cl)
	waitDrops(t, g, map[string]uint64{})
	r.finish(t)
}

// TestHardenSynAckNoRearm: a SYN whose sender never acknowledges (a
// spoofed source would not) and the real server's SYN-ACK retransmissions:
// they are forwarded, but do not re-arm SYN_RECV, so the session ends
// tcp_syn_recv_timeout (2 s here) after the SYN; a SYN-ACK after that is
// dropped (no_session) and a new connection is accepted.
func TestHardenSynAckNoRearm(t *testing.T) {
	r := startRig(t, rigOpts{session: harness.Session{SynRecvTimeout: 2}})
	g, cl, sv := r.g, r.client, r.server
	cHosts := harness.Hosts{SrcMAC: clientMAC, DstMAC: cl.mac, Src: clientIP, Dst: vip, TTL: 64, ID: 0x1001}
	sHosts := harness.Hosts{SrcMAC: rsMAC, DstMAC: sv.mac, Src: rip, Dst: lip, TTL: 64, ID: 0x2001}
	const cport, cISN, sISN = 41000, 1000, 5000
	syn := time.Now()
	lport := transportSrcPort(t, r.send(t, cl, harness.TCPSyn(cHosts, cport, tcpVPort, cISN), sv))
	synAck := func() []byte {
		sHosts.ID++
		return harness.TCP(sHosts, harness.TCPSeg{SrcPort: tcpRPort, DstPort: lport, Seq: sISN, Ack: cISN + 1, Flags: harness.SYN | harness.ACK})
	}
	for _, at := range []time.Duration{500 * time.Millisecond, 1200 * time.Millisecond, 1800 * time.Millisecond} {
		time.Sleep(time.Until(syn.Add(at)))
		r.send(t, sv, synAck(), cl)
	}
	// Re-armed by the last SYN-ACK, the session would last until 3.8 s.
	time.Sleep(time.Until(syn.Add(3 * time.Second)))
	r.sendQuiet(t, sv, synAck())
	waitDrops(t, g, map[string]uint64{"no_session": 1})
	cHosts.ID++
	r.send(t, cl, harness.TCPSyn(cHosts, cport+1, tcpVPort, cISN), sv)
	r.finish(t)
}

// TestHardenTUNRelay: a router's fragmentation needed about the gateway's
// IPIP packet is relayed to the client only for a live TUN session of the
// quoted connection: forged ones (a connection that does not exist, a
// broadcast "client", the gateway's own address) make the gateway send
// nothing (relay_refused) and spend no ICMP token.
func TestHardenTUNRelay(t *testing.T) {
	m := mdMode{name: "tun", fwd: "tunnel", tcpRPort: 80, udpRPort: 53}
	syn := harness.TCP(mdFromClient, harness.TCPSeg{SrcPort: mdCPort, DstPort: 80, Seq: 1000, Flags: harness.SYN})
	synOut := mdIPIP(harness.TCP(mdHop(mdFromClient, gwMAC, mdRSMAC, 1), harness.TCPSeg{SrcPort: mdCPort, DstPort: 80, Seq: 1000, Flags: harness.SYN}), 0)
	routerHosts := harness.Hosts{SrcMAC: mdRouterMAC, DstMAC: gwMAC, Src: mdRouterIP, Dst: gwIP, TTL: 64, ID: 0x3333}
	// relayAbout is the router's message about the gateway's IPIP packet
	// carrying a data segment from src:sport.
	relayAbout := func(src netip.Addr, sport uint16) []byte {
		h := mdFromClient
		h.Src = src
		inner := harness.TCP(mdHop(h, gwMAC, mdRSMAC, 1), harness.TCPSeg{SrcPort: sport, DstPort: 80, Seq: 1001, Ack: 5001,
			Flags: harness.PSH | harness.ACK, Payload: pattern(1400)})
		quote := harness.IPv4Packet(mdIPIP(inner, 0))[:20+20+20+8]
		return harness.ICMPError(routerHosts, harness.ICMPDstUnreachable, harness.ICMPCodeFragNeeded, 1400, quote)
	}
	steps := []mdStep{
		{"forged_no_session_yet", relayAbout(mdCIP, mdCPort), nil},
		{"tcp_syn", syn, synOut},
		{"relayed", relayAbout(mdCIP, mdCPort), []byte{}}, // checked by fields below
		{"forged_other_connection", relayAbout(mdCIP, mdCPort+1), nil},
		{"forged_broadcast_client", relayAbout(netip.MustParseAddr("255.255.255.255"), mdCPort), nil},
		{"forged_own_address", relayAbout(gwIP, mdCPort), nil},
	}
	out, cores := mdRun(t, m, steps)
	if len(out) != 2 {
		t.Fatalf("the gateway sent %d frames besides gratuitous ARPs, want the IPIP SYN and one relayed error:\n%s",
			len(out), harness.DescribeAll(out))
	}
	if err := sameFrame(out[0], synOut); err != nil {
		t.Error(err)
	}
	if err := harness.Expect(out[1], harness.EthSrc(gwMAC), harness.EthDst(mdRouterMAC), harness.IPv4(mdVIP, mdCIP, layers.IPProtocolICMPv4),
		icmpError(harness.ICMPDstUnreachable, harness.ICMPCodeFragNeeded, 1380), harness.ValidChecksums()); err != nil {
		t.Error(err)
	}
	got := map[string]uint64{}
	for _, c := range cores {
		for r, n := range c.Drops {
			got[r] += n
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(map[string]uint64{"relay_refused": 4}) {
		t.Errorf("drops %v, want relay_refused 4", got)
	}
}
