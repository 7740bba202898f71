package nat

import (
	"net/netip"
	"testing"

	"fngw/arp"
	"fngw/header"
	"fngw/sched"
)

func TestProcessVerdicts(t *testing.T) {
	syn := fromClient(40000, fSYN, 1, 0, "")
	for _, tc := range []struct {
		name   string
		frame  func(t *testing.T) []byte
		act    Action
		reason DropReason
	}{
		{"non-syn-without-session", func(t *testing.T) []byte { return fromClient(40000, fACK, 1, 1, "x").frame(t) }, ActDrop, ReasonNoSession},
		{"syn-ack-without-session", func(t *testing.T) []byte { return fromClient(40000, fSYN|fACK, 1, 1, "").frame(t) }, ActDrop, ReasonNoSession},
		{"vip-port-without-service", func(t *testing.T) []byte {
			p := syn
			p.dport = 81
			return p.frame(t)
		}, ActDrop, ReasonNoService},
		{"other-address", func(t *testing.T) []byte {
			p := syn
			p.dst = header.Addr4{198, 18, 0, 1}
			return p.frame(t)
		}, ActNotMine, 0},
		{"ttl-1", func(t *testing.T) []byte {
			p := syn
			p.ttl = 1
			return p.frame(t)
		}, ActTx, 0}, // time exceeded sent instead (icmperr.go)
		{"later-fragment-to-vip-without-first", func(t *testing.T) []byte {
			b := syn.frame(t)
			b[header.EthernetLen+6], b[header.EthernetLen+7] = 0x20, 0x10 // MF, offset 128
			fixIPChecksum(b)
			return b
		}, ActDrop, ReasonFragNoFirst}, // first fragments are forwarded (frag_test.go)
		{"fragment-elsewhere", func(t *testing.T) []byte {
			p := syn
			p.mf, p.dst = true, header.Addr4{8, 8, 8, 8}
			return p.frame(t)
		}, ActNotMine, 0},
		{"truncated-tcp-to-vip", func(t *testing.T) []byte {
			b := syn.frame(t)
			b = b[:header.EthernetLen+20+12]
			b[header.EthernetLen+3] = 20 + 12 // total length
			fixIPChecksum(b)
			return b
		}, ActDrop, ReasonMalformedL4},
		{"to-laddr-without-session", func(t *testing.T) []byte {
			p := syn
			p.src, p.dst, p.sport, p.dport = rip1, laddr1, 8080, 2000
			return p.frame(t)
		}, ActDrop, ReasonNoSession},
		{"icmp-echo-to-vip", func(t *testing.T) []byte {
			return icmpErr{srcMAC: routerMAC, dstMAC: gwMAC0, src: cip, dst: vip, ttl: 64, typ: 8}.frame(t)
		}, ActNotMine, 0},
		{"bad-ip-version", func(t *testing.T) []byte {
			b := syn.frame(t)
			b[header.EthernetLen] = 0x65
			return b
		}, ActDrop, ReasonMalformedL3},
		{"total-length-beyond-frame", func(t *testing.T) []byte {
			b := syn.frame(t)
			b[header.EthernetLen+2] = 0x10
			return b
		}, ActDrop, ReasonMalformedL3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOpts{})
			e.mayMove = true // an ICMP error is built in the headroom
			r, _ := e.run(0, tc.frame(t))
			if r.Act != tc.act || (tc.act == ActDrop && r.Reason != tc.reason) {
				t.Fatalf("verdict %v/%v, want %v/%v", r.Act, r.Reason, tc.act, tc.reason)
			}
			if n := e.cores[0].tab.Len(); n != 0 {
				t.Fatalf("%d sessions created", n)
			}
			var st Stats
			e.cores[0].AddStats(&st)
			if st.Verdicts[tc.act] != 1 || (tc.act == ActDrop && st.Drops[tc.reason] != 1) {
				t.Fatalf("counters %+v", st)
			}
		})
	}
}

func fixIPChecksum(b []byte) {
	ip := header.IPv4(b[header.EthernetLen:])
	ip.SetChecksum(ip.CalculateChecksum())
}

func TestProcessFrameBounds(t *testing.T) {
	e := newEnv(t, envOpts{})
	b := fromClient(40000, fSYN, 1, 0, "").frame(t)
	for _, f := range []Frame{
		{Buf: b, Off: -1, Len: len(b), L3: 14},
		{Buf: b, Off: 0, Len: len(b) + 1, L3: 14},
		{Buf: b, Off: 1, Len: len(b), L3: 14},
		{Buf: b, Off: 0, Len: len(b), L3: 13},
		{Buf: b, Off: 0, Len: len(b), L3: len(b) - 19},
		{Buf: b, Off: 0, Len: -5, L3: 14},
	} {
		if r := e.cores[0].Process(&f, e.svcs, e.stack, e.now); r.Act != ActDrop || r.Reason != ReasonMalformedL3 {
			t.Errorf("frame %d+%d L3 %d: %v/%v", f.Off, f.Len, f.L3, r.Act, r.Reason)
		}
	}
}

func TestFullNATNeighbourMissing(t *testing.T) {
	e := newEnv(t, envOpts{noNeigh: true})
	in := fromClient(40000, fSYN, 1, 0, "")
	r, out := e.run(0, in.frame(t))
	if r != (Result{Act: ActControl, Reason: ReasonNoNeigh, Port: 1, NextHop: rip1.Uint32()}) {
		t.Fatalf("verdict %+v, want control/no_neigh on port 1", r)
	}
	// Rewritten except the destination MAC, which the control lcore writes.
	s := e.session(0, header.IPProtoTCP, 40000, 80)
	want := in
	want.srcMAC, want.src, want.dst, want.sport, want.dport, want.ttl = gwMAC1, s.Reply.Dst, rip1, s.Reply.DPort, 8080, 63
	sameFrame(t, out, want.frame(t))
	if s.egressValid(DirIn, e.stack) {
		t.Fatal("egress cached without a neighbour")
	}
	// Once the neighbour is known (a new snapshot generation) it is used.
	if err := e.arp.AddNeigh(1, rip1.Netip(), rsMAC1); err != nil {
		t.Fatal(err)
	}
	e.stack = e.arp.Snapshot()
	ack := fromClient(40000, fACK, 2, 1, "")
	want = ack
	want.srcMAC, want.dstMAC, want.src, want.dst, want.sport, want.dport, want.ttl = gwMAC1, rsMAC1, s.Reply.Dst, rip1, s.Reply.DPort, 8080, 63
	e.expectTx(0, ack.frame(t), want.frame(t), 1)
	if !s.egressValid(DirIn, e.stack) {
		t.Fatalf("egress not cached: %+v", s.Dir[DirIn])
	}
}

func TestFullNATNoRoute(t *testing.T) {
	e := newEnv(t, envOpts{noRSRoute: true})
	// The default route sends 10.1/16 out of port 0, where there is no LIP.
	e.expectDrop(0, fromClient(40000, fSYN, 1, 0, "").frame(t), ReasonNoLaddr)
	if err := e.arp.DelRoute(netip.MustParsePrefix("0.0.0.0/0")); err != nil {
		t.Fatal(err)
	}
	e.stack = e.arp.Snapshot() // no route at all to the real servers
	e.expectDrop(0, fromClient(40000, fSYN, 1, 0, "").frame(t), ReasonNoRoute)
	// NAT mode meets the missing route at egress.
	n := newEnv(t, envOpts{noRSRoute: true, noDefault: true, mode: ModeNAT})
	n.expectDrop(0, fromClient(40000, fSYN, 1, 0, "").frame(t), ReasonNoRoute)
}

func TestEgressRefreshedPerNeighbour(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.run(0, fromClient(40000, fSYN, 1, 0, "").frame(t))
	s := e.session(0, header.IPProtoTCP, 40000, 80)
	if !s.egressValid(DirIn, e.stack) || s.Dir[DirIn].DstMAC != rsMAC1 {
		t.Fatalf("egress cache %+v", s.Dir[DirIn])
	}
	reply := pkt{srcMAC: rsMAC1, dstMAC: gwMAC1, src: s.Reply.Src, dst: s.Reply.Dst, ttl: 64, proto: header.IPProtoTCP,
		sport: s.Reply.SPort, dport: s.Reply.DPort, flags: fSYN | fACK, seq: 9, ack: 2}
	if r, _ := e.run(0, reply.frame(t)); r.Act != ActTx || !s.egressValid(DirOut, e.stack) || !s.egressValid(DirIn, e.stack) {
		t.Fatalf("reply: %+v, egress cache %+v (refs %v)", r, s.Dir, s.ref)
	}
	// rip1 moves to another MAC: the session looks the egress toward it up
	// again; the egress toward the client, through another neighbour,
	// holds.
	newMAC := header.MAC{2, 0, 0, 0, 9, 9}
	if err := e.arp.AddNeigh(1, rip1.Netip(), newMAC); err != nil {
		t.Fatal(err)
	}
	e.stack = e.arp.Snapshot()
	if s.egressValid(DirIn, e.stack) || !s.egressValid(DirOut, e.stack) {
		t.Fatalf("after the real server's MAC changed: toward it valid %v (want false), toward the client %v (want true)",
			s.egressValid(DirIn, e.stack), s.egressValid(DirOut, e.stack))
	}
	ack := fromClient(40000, fACK, 2, 1, "")
	want := ack
	want.srcMAC, want.dstMAC, want.src, want.dst, want.sport, want.dport, want.ttl = gwMAC1, newMAC, s.Reply.Dst, rip1, s.Reply.DPort, 8080, 63
	e.expectTx(0, ack.frame(t), want.frame(t), 1)
	if !s.egressValid(DirIn, e.stack) || s.Dir[DirIn].DstMAC != newMAC {
		t.Fatalf("egress cache not refreshed: %+v", s.Dir[DirIn])
	}
	// A route change invalidates both.
	if err := e.arp.AddRoute(arp.Route{Prefix: netip.MustParsePrefix("100.64.0.0/24"), Port: 0}); err != nil {
		t.Fatal(err)
	}
	e.stack = e.arp.Snapshot()
	if s.egressValid(DirIn, e.stack) || s.egressValid(DirOut, e.stack) {
		t.Fatal("a route change left a cached egress valid")
	}
	reply.flags, reply.seq = fACK, 10
	if r, _ := e.run(0, reply.frame(t)); r.Act != ActTx || !s.egressValid(DirOut, e.stack) {
		t.Fatalf("reply: %+v, egress cache %+v (refs %v)", r, s.Dir, s.ref)
	}
}

// TestNewFlowEgressPerDestination: new flows take their egress from the
// core's cache of each destination's route and neighbour (destEgress),
// which a new stack generation, or a destination ID naming another address
// in a new services snapshot, must not let them reuse.
func TestNewFlowEgressPerDestination(t *testing.T) {
	e := newEnv(t, envOpts{})
	rip3, rsMAC3 := header.Addr4{10, 1, 0, 13}, header.MAC{2, 0, 0, 0, 1, 13}
	cport := uint16(40000)
	// flows sends n SYNs from new client ports and checks that each leaves
	// for the MAC want names for its real server.
	flows := func(n int, want map[header.Addr4]header.MAC) {
		t.Helper()
		for range n {
			r, out := e.run(0, fromClient(cport, fSYN, 1, 0, "").frame(t))
			cport++
			if r.Act != ActTx {
				t.Fatalf("client port %d: verdict %+v", cport-1, r)
			}
			ip := header.IPv4(out[header.EthernetLen:])
			dst, mac := ip.DestinationAddress(), *(*header.MAC)(out)
			if w, ok := want[dst]; !ok || mac != w {
				t.Fatalf("client port %d: to %v via %v, want %v", cport-1, dst, mac, w)
			}
		}
	}
	flows(4, map[header.Addr4]header.MAC{rip1: rsMAC1, rip2: rsMAC2})
	// rip1 moves to another MAC (a new generation).
	newMAC := header.MAC{2, 0, 0, 0, 9, 9}
	for _, n := range []struct {
		ip  header.Addr4
		mac header.MAC
	}{{rip1, newMAC}, {rip3, rsMAC3}} {
		if err := e.arp.AddNeigh(1, n.ip.Netip(), n.mac); err != nil {
			t.Fatal(err)
		}
	}
	e.stack = e.arp.Snapshot()
	flows(4, map[header.Addr4]header.MAC{rip1: newMAC, rip2: rsMAC2})
	// The same generation, and destT1's ID now names rip3.
	dc := []DestConf{{ID: destT1, Addr: rip3.Netip(), Port: 8080}, {ID: destT2, Addr: rip2.Netip(), Port: 8080}}
	sc := []sched.DestConf{{ID: destT1, Addr: rip3.Netip(), Port: 8080, Weight: 1}, {ID: destT2, Addr: rip2.Netip(), Port: 8080, Weight: 1}}
	rr, err := sched.NewService(sched.RR, 0, sc, e.conns, 1)
	if err != nil {
		t.Fatal(err)
	}
	e.svcs, err = NewServices([]ServiceConf{{ID: svcTCP, VIP: vip, Port: 80, Proto: header.IPProtoTCP, Sched: rr, Dests: dc,
		LocalAddrs: []LocalAddr{{laddr1, 1}, {laddr2, 1}}}}, Timeouts{}, Limits{MaxServices: 8, MaxDests: maxDest, MaxLocalAddrs: 8})
	if err != nil {
		t.Fatal(err)
	}
	flows(4, map[header.Addr4]header.MAC{rip3: rsMAC3, rip2: rsMAC2})
}

func TestRedirectToOwnerCore(t *testing.T) {
	e := newEnv(t, envOpts{ncores: 2})
	// Core 1 schedules the flow, so the local port is odd.
	e.run(1, fromClient(40000, fSYN, 1, 0, "").frame(t))
	s := e.session(1, header.IPProtoTCP, 40000, 80)
	lport := s.Reply.DPort
	if OwnerCore(lport, 2) != 1 {
		t.Fatalf("core 1 allocated port %d", lport)
	}
	reply := pkt{srcMAC: rsMAC1, dstMAC: gwMAC1, src: s.Reply.Src, dst: s.Reply.Dst, ttl: 64, proto: header.IPProtoTCP,
		sport: 8080, dport: lport, flags: fSYN | fACK, seq: 9, ack: 2}
	in := reply.frame(t)
	r, out := e.run(0, in)
	if r != redirectTo(1) {
		t.Fatalf("core 0 verdict %+v, want redirect to core 1", r)
	}
	sameFrame(t, out, in) // untouched
	if r, _ := e.run(1, in); r.Act != ActTx || r.Port != 0 {
		t.Fatalf("owner core verdict %+v", r)
	}
	// And the other way round: a flow of core 0 (even port) seen on core 1.
	e.run(0, fromClient(40001, fSYN, 1, 0, "").frame(t))
	s0 := e.session(0, header.IPProtoTCP, 40001, 80)
	reply.src, reply.dst, reply.dport = s0.Reply.Src, s0.Reply.Dst, s0.Reply.DPort
	if r, _ := e.run(1, reply.frame(t)); r != redirectTo(0) {
		t.Fatalf("core 1 verdict %+v, want redirect to core 0", r)
	}
	var st Stats
	e.cores[0].AddStats(&st)
	e.cores[1].AddStats(&st)
	if st.Verdicts[ActRedirect] != 2 {
		t.Fatalf("redirect counter %d", st.Verdicts[ActRedirect])
	}
}

func TestTableFullAndLaddrExhausted(t *testing.T) {
	t.Run("no-laddr-yet", func(t *testing.T) {
		// ipvsadm users add real servers before local addresses: the service
		// exists, and new flows are dropped until a local address is added.
		e := newEnv(t, envOpts{noLaddr: true})
		e.expectDrop(0, fromClient(1, fSYN, 1, 0, "").frame(t), ReasonNoLaddr)
	})
	t.Run("table-full", func(t *testing.T) {
		// Established sessions are never evicted: a full table of them
		// refuses new flows.
		e := newEnv(t, envOpts{sessions: 2})
		for cport := uint16(1); cport <= 2; cport++ {
			e.run(0, fromClient(cport, fSYN, 1, 0, "").frame(t))
			e.run(0, fromClient(cport, fACK, 2, 1, "").frame(t))
		}
		e.expectDrop(0, fromClient(3, fSYN, 1, 0, "").frame(t), ReasonTableFull)
		if r, _ := e.run(0, fromClient(1, fACK, 2, 1, "").frame(t)); r.Act != ActTx {
			t.Fatalf("existing flow %+v", r)
		}
	})
	t.Run("laddr-exhausted", func(t *testing.T) {
		// Two ports per (LIP, RS) pool, one LIP; rr alternates rip1, rip2.
		// The connections are established: no port to reclaim.
		e := newEnv(t, envOpts{ports: PortRange{Min: 2000, Max: 2001}, oneLaddr: true})
		for cport := uint16(1); cport <= 4; cport++ {
			if r, _ := e.run(0, fromClient(cport, fSYN, 1, 0, "").frame(t)); r.Act != ActTx {
				t.Fatalf("flow %d: %+v", cport, r)
			}
			e.run(0, fromClient(cport, fACK, 2, 1, "").frame(t))
		}
		e.expectDrop(0, fromClient(5, fSYN, 1, 0, "").frame(t), ReasonLaddrExhausted)
		for cport := uint16(1); cport <= 4; cport++ {
			if r, _ := e.run(0, fromClient(cport, fPSH|fACK, 2, 1, "x").frame(t)); r.Act != ActTx {
				t.Fatalf("existing flow %d disturbed: %+v", cport, r)
			}
		}
		if u := e.cores[0].LaddrUsage(nil); len(u) != 1 || u[0].InUse != 4 || u[0].Exhausted != 1 {
			t.Fatalf("usage %+v", u)
		}
		// The scheduler's pick was not kept: no connection counted for it.
		if a, i := e.active(destT1); a+i != 2 {
			t.Fatalf("rip1 counts %d+%d, want 2", a, i)
		}
	})
}

func TestSYNReusesTimeWaitSession(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.run(0, fromClient(40000, fSYN, 1, 0, "").frame(t))
	s := e.session(0, header.IPProtoTCP, 40000, 80)
	if s.DestID != destT1 {
		t.Fatal("first flow not on rip1")
	}
	s.State = StateTimeWait
	e.run(0, fromClient(40000, fSYN, 100, 0, "").frame(t))
	s = e.session(0, header.IPProtoTCP, 40000, 80)
	if s.DestID != destT2 || s.State != StateSynRecv {
		t.Fatalf("reused session: dest %d state %v, want a new one on rip2", s.DestID, s.State)
	}
	if a, i := e.active(destT1); a != 0 || i != 0 {
		t.Fatalf("old session still counted: %d %d", a, i)
	}
	// A SYN on a live (SYN_RECV) session is a retransmission: same session.
	e.run(0, fromClient(40000, fSYN, 100, 0, "").frame(t))
	if s2 := e.session(0, header.IPProtoTCP, 40000, 80); s2 != s || s2.DestID != destT2 {
		t.Fatal("retransmitted SYN created a session")
	}
}

func TestRSTMovesToClose(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.run(0, fromClient(40000, fSYN, 1, 0, "").frame(t))
	e.run(0, fromClient(40000, fACK, 2, 1, "").frame(t))
	s := e.session(0, header.IPProtoTCP, 40000, 80)
	// INPUT ack at SYN_RECV → ESTABLISHED (no SYN-ACK seen, as in LVS).
	if s.State != StateEstablished {
		t.Fatalf("state %v", s.State)
	}
	if a, i := e.active(destT1); a != 1 || i != 0 {
		t.Fatalf("established counts %d %d", a, i)
	}
	e.run(0, fromClient(40000, fRST, 2, 0, "").frame(t))
	if s.State != StateClose || s.Expires != e.now+10*sec {
		t.Fatalf("after RST: %v expires in %d", s.State, s.Expires-e.now)
	}
	if a, i := e.active(destT1); a != 0 || i != 1 {
		t.Fatalf("closed counts %d %d", a, i)
	}
	if n := e.cores[0].Expire(e.svcs, e.now+11*sec, 100); n != 1 {
		t.Fatalf("reaped %d", n)
	}
	if a, i := e.active(destT1); a != 0 || i != 0 {
		t.Fatalf("counts after expiry %d %d", a, i)
	}
}

func TestPersistenceTemplates(t *testing.T) {
	e := newEnv(t, envOpts{persist: true})
	for cport := uint16(1); cport <= 4; cport++ {
		e.run(0, fromClient(cport, fSYN, 1, 0, "").frame(t))
		if s := e.session(0, header.IPProtoTCP, cport, 80); s.DestID != destT1 {
			t.Fatalf("persistent client's flow %d went to dest %d", cport, s.DestID)
		}
	}
	svc := &e.svcs.svcs[e.svcs.lookup(vip, 80, header.IPProtoTCP)]
	if n := svc.sched.Templates(0); n != 0 {
		t.Fatalf("%d templates before a handshake completed", n)
	}
	for cport := uint16(1); cport <= 4; cport++ { // the handshakes complete
		e.run(0, fromClient(cport, fACK, 2, 1, "").frame(t))
	}
	if n := svc.sched.Templates(0); n != 1 {
		t.Fatalf("%d templates", n)
	}
	// Spoofed SYNs from 200 networks take none.
	for i := range 200 {
		p := fromClient(uint16(1000+i), fSYN, 1, 0, "")
		p.src = header.Addr4{100, 64, byte(i >> 8), byte(i)}
		if r, _ := e.run(0, p.frame(t)); r.Act == ActDrop {
			t.Fatalf("spoofed SYN %d: %+v", i, r)
		}
	}
	if n := svc.sched.Templates(0); n != 1 {
		t.Fatalf("%d templates after spoofed SYNs, want the real client's", n)
	}
	if r, _ := e.run(0, fromClient(5, fSYN, 1, 0, "").frame(t)); r.Act == ActDrop || e.session(0, header.IPProtoTCP, 5, 80).DestID != destT1 {
		t.Fatal("the real client's next connection left its template's destination")
	}
	// Sessions end (ESTABLISHED lasts 900 s); the template is released and
	// lives on for the persistence timeout, then Expire ages it out.
	if n := e.cores[0].Expire(e.svcs, e.now+901*sec, 1000); n != 205 {
		t.Fatalf("reaped %d sessions", n)
	}
	for range 2 { // Expire ages one service's tables per call
		e.cores[0].Expire(e.svcs, e.now+1300*sec, 1000)
	}
	if n := svc.sched.Templates(0); n != 0 {
		t.Fatalf("%d templates after their timeout", n)
	}
}

func TestNilServicesKeepsSessions(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.run(0, fromClient(40000, fSYN, 1, 0, "").frame(t))
	e.svcs = nil
	if r, _ := e.run(0, fromClient(40000, fACK, 2, 1, "").frame(t)); r.Act != ActTx {
		t.Fatalf("existing session without a snapshot: %+v", r)
	}
	if r, _ := e.run(0, fromClient(40001, fSYN, 1, 0, "").frame(t)); r.Act != ActNotMine {
		t.Fatalf("new flow without a snapshot: %+v", r)
	}
	if n := e.cores[0].Expire(nil, e.now+901*sec, 100); n != 1 {
		t.Fatalf("Expire without a snapshot reaped %d", n)
	}
}

// TestConcurrentReaders runs a core while another goroutine reads its
// counters; go test -race checks the single-writer scheme.
func TestConcurrentReaders(t *testing.T) {
	e := newEnv(t, envOpts{})
	c := e.cores[0]
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 2000 {
			var st Stats
			var es EndpointStats
			c.AddStats(&st)
			c.AddDestStats(destT1, &es)
			c.AddServiceStats(svcTCP, &es)
			_ = c.LaddrUsage(nil)
			_, _ = e.conns.Sum(destT1)
		}
	}()
	syns := synFrames(t, 512)
	for round := 0; ; round++ {
		for _, bf := range syns {
			bf.reset()
			c.Process(&bf.f, e.svcs, e.stack, e.now)
		}
		c.Flush()
		e.now += 200 * sec
		c.Expire(e.svcs, e.now, 1<<20)
		select {
		case <-done:
			var st Stats
			c.Flush()
			c.AddStats(&st)
			if st.SessionsCreated != uint64(512*(round+1)) || st.Sessions != 0 {
				t.Fatalf("after %d rounds: %+v", round+1, st)
			}
			return
		default:
		}
	}
}
