package nat

import (
	"net/netip"
	"testing"

	"fngw/header"
	"fngw/sched"
)

const svcMark = 4 // fwmark 5, persistent, NAT

// markEnv is a NAT env with, beside VIP:80/tcp and VIP:9000/udp, the
// persistent fwmark-5 service over rip1 and rip2 and two rules: TCP to the
// VIP's /24 on ports 80-89, and UDP to 198.18.7.0/24 from the client's /24.
func markEnv(t *testing.T) *env {
	e := newEnv(t, envOpts{mode: ModeNAT})
	dc := []DestConf{{ID: 40, Addr: rip1.Netip(), Mode: ModeNAT}, {ID: 41, Addr: rip2.Netip(), Mode: ModeNAT}}
	sc := []sched.DestConf{{ID: 40, Addr: dc[0].Addr, Weight: 1}, {ID: 41, Addr: dc[1].Addr, Weight: 1}}
	s, err := sched.NewService(sched.RR, 0, sc, e.conns, 1, sched.WithPersistence(sched.Persistence{Timeout: 300e9}))
	if err != nil {
		t.Fatal(err)
	}
	e.confs = append(e.confs, ServiceConf{ID: svcMark, FwMark: 5, Sched: s, Dests: dc})
	e.setTimeouts(Timeouts{})
	if e.svcs, err = e.svcs.WithMarks([]MarkRule{
		{Mark: 5, Proto: header.IPProtoTCP, Dst: netip.MustParsePrefix("198.18.0.0/24"), DPortLo: 80, DPortHi: 89},
		{Mark: 5, Proto: header.IPProtoUDP, Dst: netip.MustParsePrefix("198.18.7.0/24"), Src: netip.MustParsePrefix("203.0.113.0/24")},
	}); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestFirewallMark: a fwmark service takes the new flows its mark rules
// match, before the VIP:port services (VIP:80 included, as LVS looks
// fwmark services up first), keeps the address and port each client asked
// for, and keys persistence on the mark: the client's TCP and UDP flows to
// different addresses go to one real server. Replies come back from the
// address and port the client asked for. A flow no rule matches goes to
// its VIP:port service, or none.
func TestFirewallMark(t *testing.T) {
	e := markEnv(t)
	type flow struct {
		proto        uint8
		dst          header.Addr4
		sport, dport uint16
	}
	var rs header.Addr4
	for i, f := range []flow{
		{header.IPProtoTCP, vip, 40000, 81},
		{header.IPProtoTCP, vip, 40001, 80},
		{header.IPProtoUDP, header.Addr4{198, 18, 7, 3}, 5000, 5353},
		{header.IPProtoTCP, header.Addr4{198, 18, 0, 77}, 40002, 89},
	} {
		p := pkt{srcMAC: routerMAC, dstMAC: gwMAC0, src: cip, dst: f.dst, ttl: 64, id: 7, proto: f.proto, sport: f.sport, dport: f.dport, seq: 1000}
		if f.proto == header.IPProtoTCP {
			p.flags = fSYN
		}
		r, out := e.run(0, p.frame(t))
		if r.Act != ActTx {
			t.Fatalf("flow %+v: %+v", f, r)
		}
		d := decode(t, out)
		got := header.Addr4(d.ip.DstIP.To4())
		if i == 0 {
			rs = got
		}
		k := Tuple4{Src: cip, Dst: f.dst, SPort: f.sport, DPort: f.dport, Proto: f.proto}
		idx, _ := e.cores[0].tab.Lookup(&k)
		if idx < 0 {
			t.Fatalf("flow %+v: no session", f)
		}
		s := e.cores[0].tab.At(idx)
		if s.SvcID != svcMark || got != rs {
			t.Errorf("flow %+v: service %d, real server %s; want the fwmark service %d and %s (its template)", f, s.SvcID, got, svcMark, rs)
		}
		if s.Orig.Dst != f.dst || s.Reply.SPort != f.dport {
			t.Errorf("flow %+v: session %v → %v, want the client's address and port kept", f, s.Orig, s.Reply)
		}
		if i == 0 {
			// The handshake binds the client's template.
			synAck := pkt{srcMAC: rsMACOf(got), dstMAC: gwMAC1, src: got, dst: cip, ttl: 64, proto: header.IPProtoTCP,
				sport: 81, dport: 40000, flags: fSYN | fACK, seq: 5000, ack: 1001}
			ack := pkt{srcMAC: routerMAC, dstMAC: gwMAC0, src: cip, dst: vip, ttl: 64, proto: header.IPProtoTCP,
				sport: 40000, dport: 81, flags: fACK, seq: 1001, ack: 5001}
			for _, p := range []pkt{synAck, ack} {
				if r, _ := e.run(0, p.frame(t)); r.Act != ActTx {
					t.Fatalf("handshake: %+v", r)
				}
			}
		}
		if f.proto == header.IPProtoUDP {
			reply := pkt{srcMAC: rsMACOf(got), dstMAC: gwMAC1, src: got, dst: cip, ttl: 64, proto: header.IPProtoUDP, sport: 5353, dport: 5000, payload: []byte("a")}
			r, out := e.run(0, reply.frame(t))
			if r.Act != ActTx {
				t.Fatalf("UDP reply: %+v", r)
			}
			if d := decode(t, out); d.ip.SrcIP.String() != "198.18.7.3" || d.udp.SrcPort != 5353 {
				t.Errorf("UDP reply from %s:%d, want 198.18.7.3:5353", d.ip.SrcIP, d.udp.SrcPort)
			}
		}
	}
	// No rule: UDP to VIP:9000 is its service's; TCP to VIP:90 has none.
	if r, _ := e.run(0, udpFrom(cip, 7, "x").frame(t)); r.Act != ActTx || e.session(0, header.IPProtoUDP, 7, 9000).SvcID != svcUDP {
		t.Errorf("UDP to VIP:9000: %+v, want its own service", r)
	}
	p := fromClient(40003, fSYN, 1, 0, "")
	p.dport = 90
	e.expectDrop(0, p.frame(t), ReasonNoService)
}

// TestMarkRulesRefused: WithMarks names the rule and what is wrong.
func TestMarkRulesRefused(t *testing.T) {
	e := newEnv(t, envOpts{})
	for _, tt := range []struct {
		r    MarkRule
		want string
	}{
		{MarkRule{}, "mark rule 0: mark 0 marks nothing"},
		{MarkRule{Mark: 1, Proto: 1}, "mark rule 0: protocol 1 is not tcp (6) or udp (17)"},
		{MarkRule{Mark: 1, DPortLo: 90, DPortHi: 80}, "mark rule 0: port range 90-80 is empty"},
		{MarkRule{Mark: 1, Dst: netip.MustParsePrefix("2001:db8::/32")}, "mark rule 0: destination 2001:db8::/32 is not IPv4"},
	} {
		if _, err := e.svcs.WithMarks([]MarkRule{tt.r}); err == nil || err.Error() != tt.want {
			t.Errorf("%+v: %v, want %q", tt.r, err, tt.want)
		}
	}
}
