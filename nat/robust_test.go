package nat

import (
	"testing"
	"time"

	"fngw/header"
)

// Hostile and unusual input to the datapath: each is dropped with its own
// reason, or forwarded by a documented rule (see docs/robustness.md).

// TestNewFlowTCPFlags: a segment without a session opens one only when it is
// a pure SYN; flag combinations no stack sends are told apart from ordinary
// strays (netfilter's tcp_valid_flags).
func TestNewFlowTCPFlags(t *testing.T) {
	const fURG = header.TCPFlagURG
	for _, tc := range []struct {
		name  string
		flags header.TCPFlags
		want  DropReason // ReasonNone: a session is created and the SYN sent
	}{
		{"syn", fSYN, ReasonNone},
		{"syn-psh", fSYN | fPSH, ReasonNone},
		{"syn-ece-cwr", fSYN | header.TCPFlagECE | header.TCPFlagCWR, ReasonNone},
		{"syn-fin", fSYN | fFIN, ReasonBadTCPFlags},
		{"syn-rst", fSYN | fRST, ReasonBadTCPFlags},
		{"syn-fin-rst-ack", fSYN | fFIN | fRST | fACK, ReasonBadTCPFlags},
		{"null", 0, ReasonBadTCPFlags},
		{"psh-only", fPSH, ReasonBadTCPFlags},
		{"fin-only", fFIN, ReasonBadTCPFlags},
		{"xmas", fFIN | fPSH | fURG, ReasonBadTCPFlags},
		{"syn-ack", fSYN | fACK, ReasonNoSession},
		{"ack", fACK, ReasonNoSession},
		{"fin-ack", fFIN | fACK, ReasonNoSession},
		{"rst", fRST, ReasonNoSession},
		{"rst-ack", fRST | fACK, ReasonNoSession},
		{"psh-ack", fPSH | fACK, ReasonNoSession},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOpts{})
			r, _ := e.run(0, fromClient(40000, tc.flags, 1, 0, "").frame(t))
			if tc.want == ReasonNone {
				if r.Act != ActTx || e.cores[0].tab.Len() != 1 {
					t.Fatalf("verdict %v/%v with %d sessions, want tx and one session", r.Act, r.Reason, e.cores[0].tab.Len())
				}
				return
			}
			if r.Act != ActDrop || r.Reason != tc.want {
				t.Fatalf("verdict %v/%v, want drop %v", r.Act, r.Reason, tc.want)
			}
			if n := e.cores[0].tab.Len(); n != 0 {
				t.Fatalf("%d sessions created", n)
			}
		})
	}
}

// TestValidTCPFlagsTable checks the packed table against netfilter's list,
// written out the long way.
func TestValidTCPFlagsTable(t *testing.T) {
	valid := map[header.TCPFlags]bool{
		fSYN: true, fSYN | header.TCPFlagURG: true, fSYN | fACK: true, fRST: true, fRST | fACK: true,
		fFIN | fACK: true, fFIN | fACK | header.TCPFlagURG: true, fACK: true, fACK | header.TCPFlagURG: true,
	}
	for f := 0; f < 256; f++ {
		fl := header.TCPFlags(f)
		core := fl & (fFIN | fSYN | fRST | fACK | header.TCPFlagURG)
		if got := isValidTCPFlags(fl); got != valid[core] {
			t.Errorf("flags %#02x: valid %v, want %v", f, got, valid[core])
		}
	}
}

// TestNoService: TCP and UDP to a VIP on a port without a service are
// dropped as no_service (silently, no RST or ICMP); to an address that is
// not a VIP they are not the datapath's.
func TestNoService(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    pkt
		act  Action
	}{
		{"tcp-vip-other-port", pkt{srcMAC: routerMAC, dstMAC: gwMAC0, src: cip, dst: vip, ttl: 64, proto: header.IPProtoTCP, sport: 1, dport: 22, flags: fSYN}, ActDrop},
		{"udp-vip-other-port", pkt{srcMAC: routerMAC, dstMAC: gwMAC0, src: cip, dst: vip, ttl: 64, proto: header.IPProtoUDP, sport: 1, dport: 53}, ActDrop},
		{"udp-vip-tcp-service-port", pkt{srcMAC: routerMAC, dstMAC: gwMAC0, src: cip, dst: vip, ttl: 64, proto: header.IPProtoUDP, sport: 1, dport: 80}, ActDrop},
		{"tcp-interface-address", pkt{srcMAC: routerMAC, dstMAC: gwMAC0, src: cip, dst: header.Addr4{198, 18, 0, 1}, ttl: 64, proto: header.IPProtoTCP, sport: 1, dport: 22, flags: fSYN}, ActNotMine},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOpts{})
			r, _ := e.run(0, tc.p.frame(t))
			if r.Act != tc.act || (tc.act == ActDrop && r.Reason != ReasonNoService) {
				t.Fatalf("verdict %v/%v, want %v (no_service)", r.Act, r.Reason, tc.act)
			}
		})
	}
}

// TestTrailerTrimmed: bytes after the IPv4 datagram beyond the 60-byte
// Ethernet minimum are cut, padding up to it is kept, and the datagram is
// forwarded exactly as without them.
func TestTrailerTrimmed(t *testing.T) {
	for _, tc := range []struct {
		name    string
		payload string
		trailer int
	}{
		{"long-datagram-long-trailer", "0123456789abcdef0123456789abcdef", 200},
		{"short-datagram-padded", "", 0},
		{"short-datagram-long-trailer", "", 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOpts{})
			e.mayMove = true // the frame's length may change
			in := pkt{srcMAC: routerMAC, dstMAC: gwMAC0, src: cip, dst: vip, ttl: 64, id: 9, proto: header.IPProtoUDP,
				sport: 5000, dport: 9000, payload: []byte(tc.payload)}.frame(t)
			plain := append([]byte(nil), in...)
			for len(plain) < minFrameLen {
				plain = append(plain, 0)
			}
			withTrailer := append(append([]byte(nil), plain...), make([]byte, tc.trailer)...)
			for i := len(plain); i < len(withTrailer); i++ {
				withTrailer[i] = 0xee
			}
			r, out := e.run(0, withTrailer)
			if r.Act != ActTx {
				t.Fatalf("verdict %v/%v, want tx", r.Act, r.Reason)
			}
			outCopy := append([]byte(nil), out...)
			// The same datagram without a trailer, on a fresh gateway.
			e2 := newEnv(t, envOpts{})
			_, want := e2.run(0, plain)
			sameFrame(t, outCopy, want)
		})
	}
}

// TestMalformedICMPToVIP: an ICMP message to a VIP or a local address too
// short for its header is malformed_l4; elsewhere it is not the datapath's.
func TestMalformedICMPToVIP(t *testing.T) {
	for _, tc := range []struct {
		name string
		dst  header.Addr4
		act  Action
	}{
		{"to-vip", vip, ActDrop},
		{"to-laddr", laddr1, ActDrop},
		{"to-interface", header.Addr4{198, 18, 0, 1}, ActNotMine},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOpts{})
			f := icmpErr{srcMAC: routerMAC, dstMAC: gwMAC0, src: cip, dst: tc.dst, ttl: 64, typ: 8}.frame(t)
			// Cut the ICMP header to 4 bytes: IPv4 total length 24.
			f = f[:header.EthernetLen+24]
			f[header.EthernetLen+2], f[header.EthernetLen+3] = 0, 24
			fixIPChecksum(f)
			r, _ := e.run(0, f)
			if r.Act != tc.act || (tc.act == ActDrop && r.Reason != ReasonMalformedL4) {
				t.Fatalf("verdict %v/%v, want %v (malformed_l4)", r.Act, r.Reason, tc.act)
			}
		})
	}
}

// TestOwnSource: a new flow from one of the gateway's own addresses (the
// VIP itself, a local address, an interface address) is spoofed: dropped
// before scheduling, no session.
func TestOwnSource(t *testing.T) {
	for _, src := range []header.Addr4{vip, laddr1, {198, 18, 0, 1}} {
		t.Run(src.String(), func(t *testing.T) {
			e := newEnv(t, envOpts{})
			p := fromClient(40000, fSYN, 1, 0, "")
			p.src = src
			e.expectDrop(0, p.frame(t), ReasonOwnSource)
			if n := e.cores[0].tab.Len(); n != 0 {
				t.Fatalf("%d sessions created", n)
			}
		})
	}
}

// TestSynRecvTimeout: a half-open connection (the client's SYN only, as a
// SYN flood leaves) expires after the SYN_RECV timeout, which
// Timeouts.SynRecv shortens.
func TestSynRecvTimeout(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.setTimeouts(Timeouts{SynRecv: 3 * time.Second})
	e.run(0, fromClient(40000, fSYN, 1, 0, "").frame(t))
	if s := e.session(0, header.IPProtoTCP, 40000, 80); s.State != StateSynRecv {
		t.Fatalf("state %v after the client's SYN, want SYN_RECV", s.State)
	}
	e.now += 2 * sec
	e.cores[0].Expire(e.svcs, e.now, 1000)
	if n := e.cores[0].tab.Len(); n != 1 {
		t.Fatalf("%d sessions after 2 s, want 1", n)
	}
	e.now += 2 * sec
	e.cores[0].Expire(e.svcs, e.now, 1000)
	if n := e.cores[0].tab.Len(); n != 0 {
		t.Fatalf("%d sessions after 4 s, want 0 (SYN_RECV timeout 3 s)", n)
	}
}

// TestPortPoolsReuseLate: a released local port is handed out again only
// after every other port of its pool (the real server may still hold the
// old connection in TIME_WAIT): a connection that ends and the next one
// never share a port while unused ones remain, and once the slice has been
// used the ports come back oldest-released first.
func TestPortPoolsReuseLate(t *testing.T) {
	p, err := NewPortPools(0, 1, PortRange{Min: 2000, Max: 2099}, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	lip, rip := header.Addr4{10, 0, 0, 1}, header.Addr4{10, 0, 0, 2}
	seen := map[uint16]bool{}
	var first uint16
	for i := range 100 {
		pool, port, ok := p.Alloc(header.IPProtoTCP, lip, rip, 80)
		if !ok || seen[port] {
			t.Fatalf("allocation %d: port %d (ok %v) handed out again while %d ports were never used", i, port, ok, 100-i)
		}
		if i == 0 {
			first = port
		}
		seen[port] = true
		p.Free(pool, port) // a short connection: released at once
	}
	// The slice is used up: the oldest released port (the first) is next.
	if _, port, ok := p.Alloc(header.IPProtoTCP, lip, rip, 80); !ok || port != first {
		t.Fatalf("after the slice: port %d (ok %v), want %d, released longest ago", port, ok, first)
	}
}
