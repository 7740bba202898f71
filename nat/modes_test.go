package nat

import (
	"testing"

	"fngw/header"
)

func TestNATMode(t *testing.T) {
	e := newEnv(t, envOpts{mode: ModeNAT})
	q := pkt{srcMAC: routerMAC, dstMAC: gwMAC0, src: cip, dst: vip, ttl: 64, id: 5, proto: header.IPProtoUDP,
		sport: 33333, dport: 9000, payload: []byte("ping")}
	// DNAT only: VIP:9000 → RIP:9001, the client address stays.
	want := q
	want.srcMAC, want.dstMAC, want.dst, want.dport, want.ttl = gwMAC1, rsMAC1, rip1, 9001, 63
	e.expectTx(0, q.frame(t), want.frame(t), 1)
	s := e.session(0, header.IPProtoUDP, 33333, 9000)
	if s.Mode != ModeNAT || s.Reply != (Tuple4{Src: rip1, Dst: cip, SPort: 9001, DPort: 33333, Proto: header.IPProtoUDP}) {
		t.Fatalf("NAT session %v %v", s.Mode, s.Reply)
	}
	if u := e.cores[0].LaddrUsage(nil); len(u) != 0 {
		t.Fatalf("NAT used local addresses: %+v", u)
	}
	// The real server routes its reply to the client through the gateway,
	// which restores the VIP as source.
	r := pkt{srcMAC: rsMAC1, dstMAC: gwMAC1, src: rip1, dst: cip, ttl: 64, id: 6, proto: header.IPProtoUDP,
		sport: 9001, dport: 33333, payload: []byte("pong")}
	back := r
	back.srcMAC, back.dstMAC, back.src, back.sport, back.ttl = gwMAC0, routerMAC, vip, 9000, 63
	e.expectTx(0, r.frame(t), back.frame(t), 0)

	// ICMP port unreachable from the real server to the client: outer source
	// becomes the VIP (LVS ip_vs_nat_icmp), the quote the client's datagram.
	sent := want
	in := icmpErr{srcMAC: rsMAC1, dstMAC: gwMAC1, src: rip1, dst: cip, ttl: 64, typ: 3, code: 3, quoted: quote(t, sent, true)}
	out := in
	out.srcMAC, out.dstMAC, out.src, out.ttl = gwMAC0, routerMAC, vip, 63
	orig := q
	orig.ttl = 63
	out.quoted = quote(t, orig, true)
	e.expectTx(0, in.frame(t), out.frame(t), 0)

	// ICMP from the client's side about the reply: its destination becomes
	// the real server, its source (the client's router) stays.
	sentBack := back
	in2 := icmpErr{srcMAC: routerMAC, dstMAC: gwMAC0, src: routerIP, dst: vip, ttl: 64, typ: 3, code: 4, mtu: 1300, quoted: quote(t, sentBack, false)}
	out2 := in2
	out2.srcMAC, out2.dstMAC, out2.dst, out2.ttl = gwMAC1, rsMAC1, rip1, 63
	rsSent := r
	rsSent.ttl = 63
	out2.quoted = quote(t, rsSent, false)
	e.expectTx(0, in2.frame(t), out2.frame(t), 1)
}

func TestDRMode(t *testing.T) {
	e := newEnv(t, envOpts{mode: ModeDR})
	syn := fromClient(40000, fSYN, 1, 0, "")
	// Only the MACs change: the real server has the VIP on lo. TTL too is
	// untouched: the frame is switched, not routed.
	want := syn
	want.srcMAC, want.dstMAC = gwMAC1, rsMAC1
	e.expectTx(0, syn.frame(t), want.frame(t), 1)
	s := e.session(0, header.IPProtoTCP, 40000, 80)
	if s.Mode != ModeDR || s.Flags&FlagNoOutput == 0 || s.Reply.Proto != 0 || s.Reply.Src != rip1 {
		t.Fatalf("DR session %v flags %b reply %v", s.Mode, s.Flags, s.Reply)
	}
	// The INPUT-ONLY table: an ACK establishes, the client's FIN moves to
	// FIN_WAIT (the server's replies are never seen).
	for _, st := range []struct {
		flags header.TCPFlags
		state State
	}{{fACK, StateEstablished}, {fPSH | fACK, StateEstablished}, {fFIN | fACK, StateFinWait}, {fACK, StateFinWait}} {
		in := fromClient(40000, st.flags, 2, 1, "data")
		w := in
		w.srcMAC, w.dstMAC = gwMAC1, rsMAC1
		e.expectTx(0, in.frame(t), w.frame(t), 1)
		if s.State != st.state {
			t.Fatalf("after %v: %v, want %v", st.flags, s.State, st.state)
		}
	}
	// TTL 1 is fine for DR (not routed).
	last := fromClient(40000, fACK, 3, 1, "")
	last.ttl = 1
	w := last
	w.srcMAC, w.dstMAC = gwMAC1, rsMAC1
	e.expectTx(0, last.frame(t), w.frame(t), 1)

	// ICMP from the client side about the server's direct reply goes to the
	// real server unchanged.
	reply := pkt{src: vip, dst: cip, ttl: 64, proto: header.IPProtoTCP, sport: 80, dport: 40000, flags: fACK}
	in := icmpErr{srcMAC: routerMAC, dstMAC: gwMAC0, src: routerIP, dst: vip, ttl: 64, typ: 3, code: 4, mtu: 1200, quoted: quote(t, reply, false)}
	out := in
	out.srcMAC, out.dstMAC = gwMAC1, rsMAC1
	e.expectTx(0, in.frame(t), out.frame(t), 1)
}
