package nat

import (
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"fngw/header"
	"fngw/test/pkttest"
)

// originated is the ICMP error the gateway builds about the IPv4 packet
// quotedFrom (an Ethernet frame): from src to dst, TOS 0xc0, TTL 64, IPv4
// ID id, quoting the packet's header and 8 payload bytes as received.
func originated(t testing.TB, srcMAC, dstMAC header.MAC, src, dst header.Addr4, typ, code uint8, mtu uint16, id uint16, quotedFrom []byte) []byte {
	t.Helper()
	ip := header.IPv4(quotedFrom[header.EthernetLen:])
	quote := []byte(ip[:ip.HeaderLength()+8])
	l3 := &layers.IPv4{Version: 4, IHL: 5, TOS: 0xc0, Id: id, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: pkttest.IP(src), DstIP: pkttest.IP(dst)}
	icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, code), Seq: mtu}
	return withEthernet(srcMAC, dstMAC, pkttest.Serialize(l3, icmp, gopacket.Payload(quote)))
}

// TestTimeExceeded: a packet whose TTL would reach 0 is answered with ICMP
// time exceeded in transit, from the address it was sent to when the
// gateway owns it (the VIP; a local address) and from the receiving port's
// address otherwise (a NAT reply in transit), toward the packet's source
// through its route. Nothing is forwarded, no session is created by a new
// flow's TTL-1 SYN, and the error is counted as sent.
func TestTimeExceeded(t *testing.T) {
	t.Run("new-flow-to-vip", func(t *testing.T) {
		e := newEnv(t, envOpts{})
		e.mayMove = true
		for _, ttl := range []uint8{1, 0} {
			in := fromClient(40000, fSYN, 1, 0, "")
			in.ttl = ttl
			b := in.frame(t)
			want := originated(t, gwMAC0, routerMAC, vip, cip, header.ICMPv4TimeExceeded, 0, 0, uint16(1-ttl), b)
			e.expectTx(0, b, want, 0)
		}
		if n := e.cores[0].tab.Len(); n != 0 {
			t.Fatalf("%d sessions created by TTL-1 SYNs", n)
		}
		var st Stats
		e.cores[0].AddStats(&st)
		if st.ICMPSent != 2 || st.Drops[ReasonTTLExceeded] != 0 {
			t.Fatalf("ICMP sent %d, ttl_exceeded drops %d; want 2 and 0", st.ICMPSent, st.Drops[ReasonTTLExceeded])
		}
	})
	t.Run("fullnat-reply-to-laddr", func(t *testing.T) {
		e := newEnv(t, envOpts{})
		e.mayMove = true
		e.run(0, fromClient(40000, fSYN, 1, 0, "").frame(t))
		s := e.session(0, header.IPProtoTCP, 40000, 80)
		reply := pkt{srcMAC: rsMAC1, dstMAC: gwMAC1, src: s.Reply.Src, dst: s.Reply.Dst, ttl: 1, proto: header.IPProtoTCP,
			sport: s.Reply.SPort, dport: s.Reply.DPort, flags: fSYN | fACK, seq: 9, ack: 2}
		b := reply.frame(t)
		e.expectTx(0, b, originated(t, gwMAC1, rsMAC1, s.Reply.Dst, s.Reply.Src, header.ICMPv4TimeExceeded, 0, 0, 0, b), 1)
		if out := e.destStats(0, s.DestID).OutPkts; s.State != StateSynSent && s.State != StateNone && out != 0 {
			t.Fatalf("the dropped reply moved the session: %v, %d packets out", s.State, out)
		}
	})
	t.Run("nat-reply-in-transit", func(t *testing.T) {
		e := newEnv(t, envOpts{mode: ModeNAT})
		e.mayMove = true
		e.run(0, fromClient(40000, fSYN, 1, 0, "").frame(t))
		s := e.session(0, header.IPProtoTCP, 40000, 80)
		reply := pkt{srcMAC: rsMAC1, dstMAC: gwMAC1, src: s.Reply.Src, dst: cip, ttl: 1, proto: header.IPProtoTCP,
			sport: s.Reply.SPort, dport: 40000, flags: fSYN | fACK, seq: 9, ack: 2}
		b := reply.frame(t)
		port1 := header.Addr4{10, 1, 0, 1}
		e.expectTx(0, b, originated(t, gwMAC1, rsMAC1, port1, s.Reply.Src, header.ICMPv4TimeExceeded, 0, 0, 0, b), 1)
	})
	t.Run("not-about-icmp-errors", func(t *testing.T) {
		// An ICMP error in transit with TTL 1 is dropped, never answered
		// (RFC 1812 §4.3.2.7).
		e := newEnv(t, envOpts{})
		e.run(0, fromClient(40000, fSYN, 1, 0, "").frame(t))
		s := e.session(0, header.IPProtoTCP, 40000, 80)
		sent := pkt{src: s.Reply.Dst, dst: s.Reply.Src, ttl: 63, proto: header.IPProtoTCP, sport: s.Reply.DPort, dport: s.Reply.SPort, flags: fSYN}
		e.expectDrop(0, icmpErr{srcMAC: hopMAC, dstMAC: gwMAC1, src: hopIP, dst: s.Reply.Dst, ttl: 1, typ: 3, code: 1, quoted: sent.l3(t)}.frame(t), ReasonTTLExceeded)
	})
}

// TestICMPErrorRateLimit: the core's token bucket bounds the errors it
// originates; past it the packets are dropped as icmp_rate_limited, and the
// bucket refills with time.
func TestICMPErrorRateLimit(t *testing.T) {
	e := newEnv(t, envOpts{icmpRate: 10, icmpBurst: 3})
	e.mayMove = true
	ttl1 := func(cport uint16) []byte {
		p := fromClient(cport, fSYN, 1, 0, "")
		p.ttl = 1
		return p.frame(t)
	}
	for i := range 5 {
		r, _ := e.run(0, ttl1(uint16(40000+i)))
		want := ActTx
		if i >= 3 {
			want = ActDrop
		}
		if r.Act != want || (want == ActDrop && r.Reason != ReasonICMPRateLimited) {
			t.Fatalf("packet %d: %v/%v, want %v (burst 3, then icmp_rate_limited)", i, r.Act, r.Reason, want)
		}
	}
	e.now += sec / 10 // one token at 10/s
	if r, _ := e.run(0, ttl1(40010)); r.Act != ActTx {
		t.Fatalf("after 100 ms: %v/%v, want tx", r.Act, r.Reason)
	}
}

// TestFragmentationNeeded: a packet of an established FULLNAT or NAT
// session larger than the egress port's MTU (the ingress link is wider) is
// answered with fragmentation needed carrying that MTU when it has DF, from
// the VIP toward the client, and dropped as too_big without DF (the
// datapath does not fragment). The destination's counters do not move.
func TestFragmentationNeeded(t *testing.T) {
	big := string(make([]byte, 1500-40+1)) // IPv4 total length 1501 > 1500
	for _, mode := range []Mode{ModeFullNAT, ModeNAT, ModeDR} {
		t.Run(mode.String(), func(t *testing.T) {
			e := newEnv(t, envOpts{mode: mode})
			e.mayMove = true
			e.run(0, fromClient(40000, fSYN, 1, 0, "").frame(t))
			s := e.session(0, header.IPProtoTCP, 40000, 80)
			before := e.destStats(0, s.DestID).InPkts
			b := fromClient(40000, fACK|fPSH, 2, 1, big).frame(t)
			e.expectTx(0, b, originated(t, gwMAC0, routerMAC, vip, cip, header.ICMPv4DstUnreachable, header.ICMPv4FragNeeded, 1500, 0, b), 0)
			noDF := fromClient(40000, fACK|fPSH, 2, 1, big)
			noDF.noDF = true
			e.expectDrop(0, noDF.frame(t), ReasonTooBig)
			if in := e.destStats(0, s.DestID).InPkts; in != before {
				t.Fatalf("packets in %d, want %d: a packet not sent was counted", in, before)
			}
			// A packet that fits still goes through.
			ok := fromClient(40000, fACK|fPSH, 2, 1, big[:len(big)-1]).frame(t)
			if r, _ := e.run(0, ok); r.Act != ActTx || r.Port != 1 {
				t.Fatalf("a 1500-byte packet: %+v, want tx on port 1", r)
			}
		})
	}
}

// TestICMPErrorAllocs: originating an error allocates nothing (the egress
// lookup without a session uses a DirState on the stack).
func TestICMPErrorAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts")
	}
	e := newEnv(t, envOpts{icmpRate: 1e9, icmpBurst: 1 << 30})
	p := fromClient(40000, fSYN, 1, 0, "")
	p.ttl = 1
	assertCoreNoAllocs(t, e, 0, newBenchFrame(p.frame(t)), ActTx)
	e.run(0, fromClient(40001, fSYN, 1, 0, "").frame(t))
	big := fromClient(40001, fACK, 2, 1, string(make([]byte, 1500)))
	assertCoreNoAllocs(t, e, 0, newBenchFrame(big.frame(t)), ActTx)
}
