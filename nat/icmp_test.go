package nat

import (
	"testing"

	"fngw/header"
)

var hopMAC = header.MAC{2, 0, 0, 0, 1, 0xfe}

// quote returns what an ICMP error quotes of packet p: the whole IPv4 packet,
// or its header and the first 8 bytes of payload (RFC 792).
func quote(t *testing.T, p pkt, full bool) []byte {
	b := p.l3(t)
	if !full {
		b = b[:20+8]
	}
	return b
}

func TestICMPErrorTranslationFullNAT(t *testing.T) {
	for _, full := range []bool{false, true} {
		name := "rfc792-quote"
		if full {
			name = "full-quote"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, envOpts{})
			syn := fromClient(40000, fSYN, 1000, 0, "")
			syn.payload = []byte("fast open data")
			e.run(0, syn.frame(t))
			s := e.session(0, header.IPProtoTCP, 40000, 80)
			lip, lport := s.Reply.Dst, s.Reply.DPort

			// From the real servers' side: a router says fragmentation is
			// needed for the packet the gateway sent (LIP:lport → RIP:8080).
			sent := syn
			sent.src, sent.dst, sent.sport, sent.dport, sent.ttl = lip, rip1, lport, 8080, 63
			in := icmpErr{srcMAC: hopMAC, dstMAC: gwMAC1, src: hopIP, dst: lip, ttl: 64,
				typ: header.ICMPv4DstUnreachable, code: header.ICMPv4FragNeeded, mtu: 1400, quoted: quote(t, sent, full)}
			// The client gets it from the VIP, about its own packet.
			want := in
			want.srcMAC, want.dstMAC, want.src, want.dst, want.ttl = gwMAC0, routerMAC, vip, cip, 63
			want.quoted = quote(t, pkt{src: cip, dst: vip, ttl: 63, id: syn.id, proto: header.IPProtoTCP,
				sport: 40000, dport: 80, flags: fSYN, seq: 1000, payload: syn.payload}, full)
			e.expectTx(0, in.frame(t), want.frame(t), 0)
			_, out := e.run(0, in.frame(t))
			if d := decode(t, out); d.icmp.TypeCode.Type() != 3 || d.icmp.TypeCode.Code() != 4 || d.icmp.Seq != 1400 {
				t.Fatalf("decoded ICMP %+v", d.icmp)
			}

			// From the client's side: its router reports time exceeded for
			// the SYN-ACK the gateway sent (VIP:80 → CIP:40000).
			synack := pkt{src: rip1, dst: lip, ttl: 64, id: 3, proto: header.IPProtoTCP, sport: 8080, dport: lport,
				flags: fSYN | fACK, seq: 5000, ack: 1001, payload: []byte("x")}
			synack.srcMAC, synack.dstMAC = rsMAC1, gwMAC1
			e.run(0, synack.frame(t))
			sentBack := synack
			sentBack.src, sentBack.dst, sentBack.sport, sentBack.dport, sentBack.ttl = vip, cip, 80, 40000, 63
			in2 := icmpErr{srcMAC: routerMAC, dstMAC: gwMAC0, src: routerIP, dst: vip, ttl: 250,
				typ: header.ICMPv4TimeExceeded, code: header.ICMPv4TTLExceeded, quoted: quote(t, sentBack, full)}
			want2 := in2
			want2.srcMAC, want2.dstMAC, want2.src, want2.dst, want2.ttl = gwMAC1, rsMAC1, lip, rip1, 249
			orig := synack
			orig.ttl = 63
			want2.quoted = quote(t, orig, full)
			e.expectTx(0, in2.frame(t), want2.frame(t), 1)

			var st Stats
			e.cores[0].AddStats(&st)
			if st.ICMPTranslated != 3 {
				t.Fatalf("ICMP translated counter %d", st.ICMPTranslated)
			}
		})
	}
}

func TestICMPErrorWithoutSession(t *testing.T) {
	e := newEnv(t, envOpts{ncores: 2})
	q := pkt{src: laddr1, dst: rip1, ttl: 63, proto: header.IPProtoTCP, sport: 3001, dport: 8080, flags: fSYN}
	toLaddr := icmpErr{srcMAC: hopMAC, dstMAC: gwMAC1, src: hopIP, dst: laddr1, ttl: 64, typ: 3, code: 4, mtu: 1400, quoted: quote(t, q, false)}
	// Port 3001 is core 1's: core 0 redirects, core 1 has no session.
	if r, _ := e.run(0, toLaddr.frame(t)); r != redirectTo(1) {
		t.Fatalf("core 0: %+v", r)
	}
	e.expectDrop(1, toLaddr.frame(t), ReasonNoSession)
	q2 := pkt{src: vip, dst: cip, ttl: 63, proto: header.IPProtoTCP, sport: 80, dport: 40000, flags: fACK}
	toVIP := icmpErr{srcMAC: routerMAC, dstMAC: gwMAC0, src: routerIP, dst: vip, ttl: 64, typ: 11, quoted: quote(t, q2, false)}
	if r, _ := e.run(0, toVIP.frame(t)); r.Act != ActNotMine {
		t.Fatalf("ICMP to the VIP without a session: %+v", r)
	}
	short := toVIP
	short.quoted = short.quoted[:24]
	e.expectDrop(0, short.frame(t), ReasonMalformedL4)
	// A corrupted message about a live session is dropped, not re-checksummed.
	e.run(0, fromClient(40000, fSYN, 1, 0, "").frame(t))
	bad := toVIP
	bad.quoted = quote(t, q2, true)
	b := bad.frame(t)
	b[len(b)-1] ^= 0xff
	e.expectDrop(0, b, ReasonBadChecksum)
	redirect := toVIP
	redirect.typ = header.ICMPv4Redirect // not translated (LVS neither)
	if r, _ := e.run(0, redirect.frame(t)); r.Act != ActNotMine {
		t.Fatalf("ICMP redirect: %+v", r)
	}
}
