package nat

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"fngw/header"
	"fngw/sched"
)

// TestProcessBurstMatchesProcess drives two identical cores with the same
// random traffic, one frame at a time through Process and in random chunks
// through ProcessBurst: every verdict, every output byte and the final
// sessions must agree. The traffic is chosen to make the look-ahead's
// candidates go stale inside a burst: a small table that fills, several
// packets of one new flow in a burst, RSTs and FINs that close sessions,
// SYNs that reuse a closed connection's tuple, expiry between bursts that
// frees and reuses session slots, replies to local ports, and malformed and
// non-TCP/UDP frames among them.
func TestProcessBurstMatchesProcess(t *testing.T) {
	for _, ncores := range []int{1, 2} {
		one := newEnv(t, envOpts{sessions: 48, ncores: ncores})
		burst := newEnv(t, envOpts{sessions: 48, ncores: ncores})
		one.setTimeouts(Timeouts{TCP: 3 * time.Second, TCPFin: 2 * time.Second, UDP: 2 * time.Second})
		burst.setTimeouts(Timeouts{TCP: 3 * time.Second, TCPFin: 2 * time.Second, UDP: 2 * time.Second})
		r := rand.New(rand.NewPCG(7, uint64(ncores)))
		frames := trafficMix(t, r, 4000)
		seen := map[Action]int{}
		seenDrop := map[DropReason]int{}
		for done := 0; done < len(frames); {
			n := min(1+r.IntN(70), len(frames)-done)
			for _, res := range burstLikeProcess(t, one, burst, r.IntN(ncores), frames[done:done+n]) {
				seen[res.Act]++
				seenDrop[res.Reason]++
			}
			done += n
			if r.IntN(8) == 0 {
				step := int64(r.IntN(5)) * sec
				one.now += step
				burst.now += step
				for i := range ncores {
					if a, b := one.cores[i].Expire(one.svcs, one.now, 1000), burst.cores[i].Expire(burst.svcs, burst.now, 1000); a != b {
						t.Fatalf("core %d expired %d sessions after Process, %d after ProcessBurst", i, a, b)
					}
				}
			}
		}
		// The mix must have reached every path the look-ahead can go stale on.
		for _, a := range []Action{ActTx, ActDrop, ActNotMine} {
			if seen[a] == 0 {
				t.Errorf("%d cores: no %v verdict in the mix: %v", ncores, a, seen)
			}
		}
		if ncores > 1 && seen[ActRedirect] == 0 {
			t.Errorf("no redirect in the two-core mix: %v", seen)
		}
		for _, d := range []DropReason{ReasonNoSession, ReasonMalformedL3} {
			if seenDrop[d] == 0 {
				t.Errorf("%d cores: no %v drop in the mix: %v", ncores, d, seenDrop)
			}
		}
		// The table filled up: new flows evicted unreplied sessions, or
		// were refused.
		var st Stats
		for _, c := range burst.cores {
			c.Flush()
			c.AddStats(&st)
		}
		if st.SessionsEvicted == 0 && seenDrop[ReasonTableFull] == 0 {
			t.Errorf("%d cores: the table never filled: %+v", ncores, st)
		}
		sameState(t, one, burst)
	}
}

// burstLikeProcess runs frames as one ProcessBurst on core c of burst and
// one at a time through Process on core c of one, and fails unless every
// verdict and every frame's bytes agree. It returns the verdicts.
func burstLikeProcess(t *testing.T, one, burst *env, c int, frames [][]byte) []Result {
	t.Helper()
	var fs []Frame
	var bufs [][]byte
	for _, fr := range frames {
		// A truncated frame keeps its lost bytes after it in the
		// buffer, where the look-ahead may read them.
		b := make([]byte, 128+cap(fr)+64)
		copy(b[128:], fr[:cap(fr)])
		bufs = append(bufs, b)
		fs = append(fs, Frame{Buf: b, Off: 128, Len: len(fr), L3: header.EthernetLen, Port: rxPort(fr)})
	}
	rs := make([]Result, len(fs))
	burst.cores[c].ProcessBurst(fs, rs, burst.svcs, burst.stack, burst.now)
	for i := range fs {
		want, out := one.runOn(c, frames[i])
		got := bufs[i][fs[i].Off : fs[i].Off+fs[i].Len]
		if rs[i] != want || !bytes.Equal(got, out) {
			t.Fatalf("core %d, frame #%d of a burst of %d: ProcessBurst %+v % x\nProcess %+v % x",
				c, i, len(fs), rs[i], got, want, out)
		}
	}
	return rs
}

// TestProcessBurstLeastConn sends a burst of new flows to least-connection
// services: each flow must count on its real server before the next is
// scheduled, as with Process, so that they spread over both.
func TestProcessBurstLeastConn(t *testing.T) {
	for _, m := range []Mode{ModeFullNAT, ModeNAT} {
		one := newEnv(t, envOpts{mode: m, sched: sched.LC})
		burst := newEnv(t, envOpts{mode: m, sched: sched.LC})
		var frames [][]byte
		for i := range 8 {
			frames = append(frames, fromClient(uint16(40000+i), fSYN, 1, 0, "").frame(t))
			frames = append(frames, pkt{srcMAC: routerMAC, dstMAC: gwMAC0, src: cip, dst: vip, ttl: 64,
				proto: header.IPProtoUDP, sport: uint16(40000 + i), dport: 9000, payload: []byte("u")}.frame(t))
		}
		burstLikeProcess(t, one, burst, 0, frames)
		sameState(t, one, burst)
		for _, id := range []uint32{destT1, destT2, destU1, destU2} {
			if _, inactive := burst.conns.Sum(id); inactive != 4 {
				t.Errorf("%v: destination %d has %d inactive connections, want 4 of 8", m, id, inactive)
			}
		}
	}
}

// sameState fails unless the cores of a and b hold the same sessions and
// counted the same: core counters, every destination's and service's,
// local ports in use.
func sameState(t *testing.T, a, b *env) {
	t.Helper()
	for i := range a.cores {
		ca, cb := a.cores[i], b.cores[i]
		x, y := sessionsOf(ca.Table(), 1000), sessionsOf(cb.Table(), 1000)
		if len(x) != len(y) {
			t.Fatalf("core %d: %d sessions after Process, %d after ProcessBurst", i, len(x), len(y))
		}
		for j := range x {
			if x[j] != y[j] {
				t.Fatalf("core %d session %d: %+v vs %+v", i, j, x[j], y[j])
			}
		}
		ca.Flush()
		cb.Flush()
		var sa, sb Stats
		ca.AddStats(&sa)
		cb.AddStats(&sb)
		if sa != sb {
			t.Fatalf("core %d counted\n%+v after Process\n%+v after ProcessBurst", i, sa, sb)
		}
		for id := range uint32(maxDest) {
			var da, db, va, vb EndpointStats
			ca.AddDestStats(id, &da)
			cb.AddDestStats(id, &db)
			ca.AddServiceStats(id, &va)
			cb.AddServiceStats(id, &vb)
			if da != db || va != vb {
				t.Fatalf("core %d, id %d: destination %+v/%+v, service %+v/%+v", i, id, da, db, va, vb)
			}
		}
		if ua, ub := ca.LaddrUsage(nil), cb.LaddrUsage(nil); !slices.Equal(ua, ub) {
			t.Fatalf("core %d: local ports %v after Process, %v after ProcessBurst", i, ua, ub)
		}
	}
}

// TestProcessBurstDeferredFlows covers what ProcessBurst must settle before
// it goes on (see deferred.go), in single bursts: a real server's reply to a
// flow created earlier in the burst, the flow's own next segments and a
// reset and reuse of its tuple, an ICMP error about it, and a new flow
// whose reply tuple is taken (dropped, its port and template given back).
func TestProcessBurstDeferredFlows(t *testing.T) {
	one, burst := newEnv(t, envOpts{}), newEnv(t, envOpts{})
	// An identical core shows the reply tuples the SYNs are given.
	ref := newEnv(t, envOpts{})
	reply := func(cport uint16) Tuple4 {
		ref.run(0, fromClient(cport, fSYN, 1000, 0, "").frame(t))
		return ref.session(0, header.IPProtoTCP, cport, 80).Reply
	}
	fromRS := func(rt Tuple4, flags header.TCPFlags) []byte {
		return pkt{srcMAC: rsMAC1, dstMAC: gwMAC1, src: rt.Src, dst: rt.Dst, ttl: 64, proto: header.IPProtoTCP,
			sport: rt.SPort, dport: rt.DPort, flags: flags, seq: 5000, ack: 1001}.frame(t)
	}
	r1, r2 := reply(41000), reply(41001)
	q := pkt{src: vip, dst: cip, ttl: 60, proto: header.IPProtoTCP, sport: 80, dport: 41000, flags: fACK}.l3(t)[:28]
	rs := burstLikeProcess(t, one, burst, 0, [][]byte{
		fromClient(41000, fSYN, 1000, 0, "").frame(t),
		fromRS(r1, fSYN|fACK),
		fromClient(41000, fACK, 1001, 5001, "").frame(t),
		fromClient(41001, fSYN, 1000, 0, "").frame(t),
		fromClient(41001, fRST, 1001, 0, "").frame(t),
		fromClient(41001, fSYN, 2000, 0, "").frame(t),
		fromRS(r2, fSYN|fACK),
		icmpErr{srcMAC: routerMAC, dstMAC: gwMAC0, src: routerIP, dst: vip, ttl: 64,
			typ: header.ICMPv4DstUnreachable, code: header.ICMPv4FragNeeded, mtu: 1400, quoted: q}.frame(t),
	})
	for i, want := range []Action{ActTx, ActTx, ActTx, ActTx, ActTx, ActTx, ActTx} {
		if rs[i].Act != want {
			t.Errorf("frame %d: %+v, want %v", i, rs[i], want)
		}
	}
	sameState(t, one, burst)

	// A reply tuple in use: the next SYN's, held by another session.
	taken := reply(41002)
	other := Tuple4{Src: header.Addr4{192, 0, 2, 1}, Dst: vip, SPort: 1, DPort: 80, Proto: header.IPProtoTCP}
	for _, e := range []*env{one, burst} {
		if _, r := e.cores[0].tab.Insert(&other, &taken, e.now+100*sec); r != ReasonNone {
			t.Fatalf("Insert: %v", r)
		}
	}
	rs = burstLikeProcess(t, one, burst, 0, [][]byte{
		fromClient(41002, fSYN, 1000, 0, "").frame(t),
		fromClient(41003, fSYN, 1000, 0, "").frame(t),
		fromClient(41002, fACK, 1001, 5001, "").frame(t),
		fromClient(41003, fACK, 1001, 5001, "").frame(t),
	})
	if rs[0] != drop(ReasonSessionConflict) || rs[1].Act != ActTx || rs[2] != drop(ReasonNoSession) || rs[3].Act != ActTx {
		t.Errorf("verdicts %+v: want a conflict, a new flow, no session, the new flow's ACK", rs)
	}
	sameState(t, one, burst)
	// Each local port in use is a live session's: the conflict's was given
	// back (the session inserted by hand holds none).
	c := burst.cores[0]
	c.Flush()
	held, inUse := 0, 0
	for _, s := range sessionsOf(c.Table(), 1000) {
		if s.Orig != other && s.Mode == ModeFullNAT {
			held++
		}
	}
	for _, u := range c.LaddrUsage(nil) {
		inUse += int(u.InUse)
	}
	if held != 3 || inUse != held {
		t.Errorf("%d local ports in use, %d sessions holding one; want 3 and 3", inUse, held)
	}
}

// runOn is run without the canary checks, for frames that may be malformed.
func (e *env) runOn(c int, b []byte) (Result, []byte) {
	buf := make([]byte, 128+cap(b)+64)
	copy(buf[128:], b[:cap(b)])
	f := Frame{Buf: buf, Off: 128, Len: len(b), L3: header.EthernetLen, Port: rxPort(b)}
	r := e.cores[c].Process(&f, e.svcs, e.stack, e.now)
	return r, buf[f.Off : f.Off+f.Len]
}

// trafficMix returns n frames over a few dozen client ports: TCP segments with
// every flag combination a connection goes through, UDP datagrams, replies
// from both real servers to the first local ports of both local addresses,
// truncated frames and ICMP errors about the client's connections.
func trafficMix(t testing.TB, r *rand.Rand, n int) [][]byte {
	flags := []header.TCPFlags{fSYN, fSYN, fACK, fPSH | fACK, fFIN | fACK, fRST, fRST | fACK}
	out := make([][]byte, 0, n)
	for range n {
		cport := uint16(40000 + r.IntN(40))
		var b []byte
		switch x := r.IntN(20); {
		case x < 10:
			payload := "x"
			if r.IntN(25) == 0 {
				payload = strings.Repeat("x", 1440+r.IntN(40)) // may not fit the egress MTU
			}
			b = fromClient(cport, flags[r.IntN(len(flags))], 1, 1, payload).frame(t)
		case x < 13:
			b = pkt{srcMAC: routerMAC, dstMAC: gwMAC0, src: cip, dst: vip, ttl: 64, proto: header.IPProtoUDP,
				sport: cport, dport: 9000, payload: []byte("u")}.frame(t)
		case x < 17:
			rs := []header.Addr4{rip1, rip2}[r.IntN(2)]
			la := []header.Addr4{laddr1, laddr2}[r.IntN(2)]
			proto, sport := uint8(header.IPProtoTCP), uint16(8080)
			if r.IntN(3) == 0 {
				proto, sport = header.IPProtoUDP, 9001
			}
			b = pkt{srcMAC: rsMAC1, dstMAC: gwMAC1, src: rs, dst: la, ttl: 64, proto: proto, sport: sport,
				dport: uint16(1024 + r.IntN(24)), flags: flags[2+r.IntN(len(flags)-2)], payload: []byte("r")}.frame(t)
		case x < 19:
			b = fromClient(cport, fACK, 1, 1, "y").frame(t)
			b = b[:header.EthernetLen+20+r.IntN(len(b)-header.EthernetLen-20)] // truncated: bad lengths
		default:
			q := pkt{src: vip, dst: cip, ttl: 60, proto: header.IPProtoTCP, sport: 80, dport: cport, flags: fACK}.l3(t)[:28]
			b = icmpErr{srcMAC: routerMAC, dstMAC: gwMAC0, src: routerIP, dst: vip, ttl: 64,
				typ: header.ICMPv4DstUnreachable, code: header.ICMPv4FragNeeded, mtu: 1400, quoted: q}.frame(t)
		}
		if r.IntN(30) == 0 {
			b[header.EthernetLen+8] = 1 // TTL 1: time exceeded built in place
		}
		if l4 := b[min(len(b), header.EthernetLen+header.IPv4MinLen):]; r.IntN(30) == 0 && len(l4) >= header.TCPMinLen {
			// A malformed L4 header: a TCP data offset past the
			// segment, a UDP length past the datagram.
			switch b[header.EthernetLen+9] {
			case header.IPProtoTCP:
				l4[12] = 0xf0
			case header.IPProtoUDP:
				l4[4], l4[5] = 0xff, 0xff
			}
		}
		out = append(out, b)
	}
	return out
}

// TestLookupHintStale checks LookupHint against candidates that no longer
// name their tuple's session: deleted, and its slot reused by another tuple.
func TestLookupHintStale(t *testing.T) {
	tb, err := NewTable(TableConfig{Capacity: 4, Seed: 5}, 0)
	if err != nil {
		t.Fatal(err)
	}
	a := Tuple4{Src: header.Addr4{1, 1, 1, 1}, Dst: header.Addr4{2, 2, 2, 2}, SPort: 1, DPort: 80, Proto: 6}
	b := a
	b.SPort = 2
	ia, _ := tb.Insert(&a, &Tuple4{}, 1e12)
	cand := tb.Candidate(tb.Hash(&a))
	if cand != ia<<1 {
		t.Fatalf("Candidate(a) = %d, want %d", cand, ia<<1)
	}
	if i, d := tb.LookupHint(&a, tb.Hash(&a), cand); i != ia || d != DirIn {
		t.Fatalf("LookupHint(a, live candidate) = %d,%v", i, d)
	}
	tb.Delete(ia)
	if i, _ := tb.LookupHint(&a, tb.Hash(&a), cand); i != -1 {
		t.Fatalf("LookupHint(a) after Delete = %d: a freed session matched", i)
	}
	ib, _ := tb.Insert(&b, &Tuple4{}, 1e12)
	if ib != ia {
		t.Fatalf("slot not reused (%d, %d): the test needs it", ia, ib)
	}
	if i, _ := tb.LookupHint(&a, tb.Hash(&a), cand); i != -1 {
		t.Fatalf("LookupHint(a) with its slot now b's = %d", i)
	}
	if i, d := tb.LookupHint(&b, tb.Hash(&b), cand); i != ib || d != DirIn {
		t.Fatalf("LookupHint(b, a's old candidate) = %d,%v: must fall back to Lookup", i, d)
	}
}
