package nat

import (
	"math/rand/v2"
	"testing"

	"fngw/header"
)

// benchFrame is a frame in an mbuf-like buffer that is restored from a
// template before each Process (rewrites are in place).
type benchFrame struct {
	tmpl []byte
	buf  []byte
	f    Frame
}

func newBenchFrame(b []byte) *benchFrame {
	bf := &benchFrame{tmpl: b, buf: make([]byte, 128+len(b)+64)}
	bf.reset()
	return bf
}

func (bf *benchFrame) reset() {
	copy(bf.buf[128:], bf.tmpl)
	bf.f = Frame{Buf: bf.buf, Off: 128, Len: len(bf.tmpl), L3: header.EthernetLen, Port: rxPort(bf.tmpl)}
}

// established returns an env with one established FULLNAT session and the
// frames of its two directions (64-byte data segments).
func established(tb testing.TB) (*env, *benchFrame, *benchFrame) {
	e := newEnv(tb, envOpts{sessions: 1 << 16})
	e.run(0, fromClient(40000, fSYN, 1, 0, "").frame(tb))
	s := e.session(0, header.IPProtoTCP, 40000, 80)
	fwd := fromClient(40000, fPSH|fACK, 2, 1, "0123456789")
	rep := pkt{srcMAC: rsMAC1, dstMAC: gwMAC1, src: rip1, dst: s.Reply.Dst, ttl: 64, proto: header.IPProtoTCP,
		sport: 8080, dport: s.Reply.DPort, flags: fPSH | fACK, seq: 1, ack: 2, payload: []byte("0123456789")}
	return e, newBenchFrame(fwd.frame(tb)), newBenchFrame(rep.frame(tb))
}

func benchProcess(b *testing.B, e *env, bf *benchFrame) {
	c := e.cores[0]
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		bf.reset()
		if r := c.Process(&bf.f, e.svcs, e.stack, e.now); r.Act != ActTx {
			b.Fatalf("verdict %+v", r)
		}
	}
}

func BenchmarkForwardEstablished(b *testing.B) {
	e, fwd, _ := established(b)
	benchProcess(b, e, fwd)
}

func BenchmarkReply(b *testing.B) {
	e, _, rep := established(b)
	benchProcess(b, e, rep)
}

// establishedMode returns an env with one established TCP session of mode m
// (ncores cores, the session on its owner) and the frames of its two
// directions (64-byte data segments; the reply is nil for DR and TUN).
func establishedMode(tb testing.TB, o envOpts) (*env, int, *benchFrame, *benchFrame) {
	if o.sessions == 0 {
		o.sessions = 1 << 16
	}
	e := newEnv(tb, o)
	c := 0
	if o.mode == ModeNAT && len(e.cores) > 1 {
		c = NATOwner(cip, 40000, len(e.cores))
	}
	e.run(c, fromClient(40000, fSYN, 1, 0, "").frame(tb))
	e.run(c, fromClient(40000, fACK, 2, 1, "").frame(tb))
	s := e.session(c, header.IPProtoTCP, 40000, 80)
	fwd := newBenchFrame(fromClient(40000, fPSH|fACK, 2, 1, "0123456789").frame(tb))
	if s.Reply.Proto == 0 {
		return e, c, fwd, nil
	}
	rep := pkt{srcMAC: rsMAC1, dstMAC: gwMAC1, src: s.Reply.Src, dst: s.Reply.Dst, ttl: 64, proto: header.IPProtoTCP,
		sport: s.Reply.SPort, dport: s.Reply.DPort, flags: fPSH | fACK, seq: 1, ack: 2, payload: []byte("0123456789")}
	return e, c, fwd, newBenchFrame(rep.frame(tb))
}

func benchCore(b *testing.B, e *env, c int, bf *benchFrame, want Action) {
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		bf.reset()
		if r := e.cores[c].Process(&bf.f, e.svcs, e.stack, e.now); r.Act != want {
			b.Fatalf("verdict %+v", r)
		}
	}
}

func BenchmarkNATForward(b *testing.B) {
	e, c, fwd, _ := establishedMode(b, envOpts{mode: ModeNAT})
	benchCore(b, e, c, fwd, ActTx)
}

func BenchmarkNATReply(b *testing.B) {
	e, c, _, rep := establishedMode(b, envOpts{mode: ModeNAT})
	benchCore(b, e, c, rep, ActTx)
}

// BenchmarkNATRedirect is the cost on a core that does not own a NAT
// connection: a session miss, then the hand-over decision.
func BenchmarkNATRedirect(b *testing.B) {
	e, c, _, rep := establishedMode(b, envOpts{mode: ModeNAT, ncores: 2})
	benchCore(b, e, 1-c, rep, ActRedirect)
}

func BenchmarkDRForward(b *testing.B) {
	e, c, fwd, _ := establishedMode(b, envOpts{mode: ModeDR})
	benchCore(b, e, c, fwd, ActTx)
}

func BenchmarkTUNForward(b *testing.B) {
	e, c, fwd, _ := establishedMode(b, envOpts{mode: ModeTUN})
	benchCore(b, e, c, fwd, ActTx)
}

// BenchmarkTUNFragNeeded answers a 1500-byte DF segment with an ICMP error
// built in place (the token bucket is made large enough never to refuse).
func BenchmarkTUNFragNeeded(b *testing.B) {
	e, c, _, _ := establishedMode(b, envOpts{mode: ModeTUN, icmpBurst: 1 << 30})
	big := newBenchFrame(fromClient(40000, fPSH|fACK, 2, 1, string(make([]byte, 1460))).frame(b))
	benchCore(b, e, c, big, ActTx)
}

// synFrames returns n SYNs from distinct clients.
func synFrames(tb testing.TB, n int) []*benchFrame {
	fs := make([]*benchFrame, n)
	for i := range fs {
		p := fromClient(uint16(1024+i%60000), fSYN, 1, 0, "")
		p.src = header.Addr4{100, 64, byte(i >> 16), byte(i >> 8)}
		fs[i] = newBenchFrame(p.frame(tb))
	}
	return fs
}

// BenchmarkNewFlow schedules a SYN, allocates a local port and creates the
// session; every len(syns) flows the sessions are expired (outside the timer).
func BenchmarkNewFlow(b *testing.B) {
	e := newEnv(b, envOpts{sessions: 1 << 14})
	c := e.cores[0]
	syns := synFrames(b, 1<<13)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		j := i % len(syns)
		if j == 0 && i > 0 {
			b.StopTimer()
			e.now += 100 * sec
			c.Expire(e.svcs, e.now, 1<<20)
			b.StartTimer()
		}
		bf := syns[j]
		bf.reset()
		if r := c.Process(&bf.f, e.svcs, e.stack, e.now); r.Act != ActTx {
			b.Fatalf("verdict %+v", r)
		}
	}
}

func TestProcessAllocsPerRun(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts")
	}
	t.Run("forward", func(t *testing.T) {
		e, fwd, _ := established(t)
		assertNoAllocs(t, e, fwd)
	})
	t.Run("reply", func(t *testing.T) {
		e, _, rep := established(t)
		assertNoAllocs(t, e, rep)
	})
	t.Run("icmp-translate", func(t *testing.T) {
		e, _, _ := established(t)
		s := e.session(0, header.IPProtoTCP, 40000, 80)
		sent := pkt{src: s.Reply.Dst, dst: rip1, ttl: 63, proto: header.IPProtoTCP, sport: s.Reply.DPort, dport: 8080, flags: fACK}
		in := icmpErr{srcMAC: hopMAC, dstMAC: gwMAC1, src: hopIP, dst: s.Reply.Dst, ttl: 64, typ: 3, code: 4, mtu: 1400, quoted: quote(t, sent, false)}
		assertNoAllocs(t, e, newBenchFrame(in.frame(t)))
	})
	for _, m := range []Mode{ModeNAT, ModeDR, ModeTUN} {
		t.Run(m.String()+"-forward", func(t *testing.T) {
			e, c, fwd, rep := establishedMode(t, envOpts{mode: m})
			assertCoreNoAllocs(t, e, c, fwd, ActTx)
			if rep != nil {
				assertCoreNoAllocs(t, e, c, rep, ActTx)
			}
		})
	}
	t.Run("nat-redirect", func(t *testing.T) {
		e, c, fwd, rep := establishedMode(t, envOpts{mode: ModeNAT, ncores: 2})
		assertCoreNoAllocs(t, e, 1-c, fwd, ActRedirect)
		assertCoreNoAllocs(t, e, 1-c, rep, ActRedirect)
	})
	t.Run("tun-frag-needed", func(t *testing.T) {
		e, c, _, _ := establishedMode(t, envOpts{mode: ModeTUN, icmpBurst: 1 << 30})
		big := newBenchFrame(fromClient(40000, fPSH|fACK, 2, 1, string(make([]byte, 1460))).frame(t))
		assertCoreNoAllocs(t, e, c, big, ActTx)
	})
	t.Run("tun-relay-frag-needed", func(t *testing.T) {
		e, c, _, _ := establishedMode(t, envOpts{mode: ModeTUN, icmpBurst: 1 << 30})
		inner := fromClient(40000, fPSH|fACK, 2, 1, string(make([]byte, 1400)))
		inner.ttl = 63
		q := ipipFrame(t, inner, rsMAC1, 0)[header.EthernetLen:][:576-28]
		in := icmpErr{srcMAC: hopMAC, dstMAC: gwMAC1, src: hopIP, dst: portAddr1, ttl: 64, typ: 3, code: 4, mtu: 1400, quoted: q}
		assertCoreNoAllocs(t, e, c, newBenchFrame(in.frame(t)), ActTx)
	})
	t.Run("tun-icmp-rate-limited", func(t *testing.T) {
		e, c, _, _ := establishedMode(t, envOpts{mode: ModeTUN, icmpRate: 1, icmpBurst: 1})
		big := newBenchFrame(fromClient(40000, fPSH|fACK, 2, 1, string(make([]byte, 1460))).frame(t))
		e.cores[c].Process(&big.f, e.svcs, e.stack, e.now) // takes the only token
		assertCoreNoAllocs(t, e, c, big, ActDrop)
	})
	t.Run("new-flow-and-expire", func(t *testing.T) {
		e := newEnv(t, envOpts{sessions: 1 << 12})
		c := e.cores[0]
		syns := synFrames(t, 1<<11)
		round := func() {
			for _, bf := range syns {
				bf.reset()
				if r := c.Process(&bf.f, e.svcs, e.stack, e.now); r.Act != ActTx {
					t.Fatalf("verdict %+v", r)
				}
			}
			e.now += 100 * sec
			if n := c.Expire(e.svcs, e.now, 1<<20); n != len(syns) {
				t.Fatalf("expired %d of %d", n, len(syns))
			}
		}
		round() // creates the port pools and grows their rings
		if a := testing.AllocsPerRun(5, round); a != 0 {
			t.Fatalf("%.1f allocations per %d new flows and their expiry", a, len(syns))
		}
	})
}

func assertNoAllocs(t testing.TB, e *env, bf *benchFrame) {
	c := e.cores[0]
	a := testing.AllocsPerRun(1000, func() {
		bf.reset()
		if r := c.Process(&bf.f, e.svcs, e.stack, e.now); r.Act != ActTx {
			t.Fatalf("verdict %+v", r)
		}
	})
	if a != 0 {
		t.Fatalf("%.1f allocations per packet", a)
	}
}

func assertCoreNoAllocs(t testing.TB, e *env, c int, bf *benchFrame, want Action) {
	t.Helper()
	a := testing.AllocsPerRun(1000, func() {
		bf.reset()
		if r := e.cores[c].Process(&bf.f, e.svcs, e.stack, e.now); r.Act != want {
			t.Fatalf("verdict %+v, want %v", r, want)
		}
	})
	if a != 0 {
		t.Fatalf("%.1f allocations per packet", a)
	}
}

// BenchmarkNewFlowBurst creates FULLNAT sessions from bursts of 64 SYNs, as
// a worker does, in a table of 2 Mi sessions (their 192 MiB far beyond the
// caches); ns/op is per new flow. In a fresh table the free list runs in
// index order, as NewTable leaves it, so new sessions are written in
// sequence; in a churned one it is in no order, as after hours of sessions
// ending in any order, so each new session is a random place in the table.
// Every 64 Ki flows the sessions are expired (outside the timer), which
// keeps the free list's order: the expired sessions go back to its head.
func BenchmarkNewFlowBurst(b *testing.B) {
	for _, churned := range []bool{false, true} {
		name := "fresh"
		if churned {
			name = "churned"
		}
		b.Run(name, func(b *testing.B) {
			e := newEnv(b, envOpts{sessions: 1 << 21})
			c := e.cores[0]
			if churned {
				churn(b, c.tab)
			}
			syns := synFrames(b, 1<<16)
			fs, rs := make([]Frame, hintChunk), make([]Result, hintChunk)
			b.ReportAllocs()
			b.ResetTimer()
			for done, j := 0, 0; done < b.N; {
				if j == len(syns) {
					b.StopTimer()
					e.now += 100 * sec
					c.Expire(e.svcs, e.now, 1<<20)
					j = 0
					b.StartTimer()
				}
				n := min(len(fs), b.N-done, len(syns)-j)
				for k := range n {
					syns[j+k].reset()
					fs[k] = syns[j+k].f
				}
				c.ProcessBurst(fs[:n], rs[:n], e.svcs, e.stack, e.now)
				for k := range n {
					if rs[k].Act != ActTx {
						b.Fatalf("flow %d: verdict %+v", j+k, rs[k])
					}
				}
				done, j = done+n, j+n
			}
		})
	}
}

// churn fills t and empties it again in a random order, which leaves its
// free list in no order.
func churn(tb testing.TB, t *Table) {
	for i := range t.Cap() {
		k := Tuple4{Src: header.Addr4{10, byte(i >> 16), byte(i >> 8), byte(i)}, Dst: header.Addr4{10, 255, 0, 1},
			SPort: 1024, DPort: 80, Proto: header.IPProtoTCP}
		if _, r := t.Insert(&k, &Tuple4{}, start); r != ReasonNone {
			tb.Fatalf("churn: insert %d: %v", i, r)
		}
	}
	for _, i := range rand.New(rand.NewPCG(1, 2)).Perm(t.Cap()) {
		t.Delete(int32(i))
	}
}
