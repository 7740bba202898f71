package lcore_test

import (
	"net"
	"net/netip"
	"testing"

	"fngw/dpdk"
	"fngw/dpdk/dpdktest"
	"fngw/lcore"
	"fngw/nat"
	"fngw/perf/datapath"
	"fngw/perf/gen"
)

// Benchmarks of the worker loop: rx burst → classify → nat → per-port tx
// buffers → tx burst, with an in-memory port (loopIO) that behaves like
// net_pcap with infinite_rx: every rx copies the next frame of a looped list
// into a free mbuf, tx and free give mbufs back. It allocates nothing, so the
// allocation counts are the worker's own. The traffic is the perf lab's
// (package perf/gen, lab addressing plan); the same loop over real DPDK
// ports is in package perf/worker.

// start is the monotonic clock of every rig at creation (ns).
const start = int64(1_000_000_000_000)

// mbufs is a free list of fake mbufs (dpdktest's layout) shared by the
// workers of a rig, as a mempool is: a redirected packet is received by one
// worker and sent, so freed, by another.
type mbufs struct{ free []*dpdk.Mbuf }

func newMbufs(n int) *mbufs {
	p := dpdktest.NewPool(n)
	m := &mbufs{}
	for range n {
		m.free = append(m.free, p.Packet(nil, 0, 0))
	}
	return m
}

// loopIO is an allocation-free lcore.IO over a shared free list: one worker's
// port queue replaying frames in a loop.
type loopIO struct {
	*mbufs
	frames [][]byte
	next   int
	rx, tx uint64
}

func (l *loopIO) RxBurst(port, q uint16, b *dpdk.Burst) int {
	n := 0
	for n < len(b.Pkts) && len(l.free) > 0 && len(l.frames) > 0 {
		m := l.free[len(l.free)-1]
		l.free = l.free[:len(l.free)-1]
		f := l.frames[l.next]
		if l.next++; l.next == len(l.frames) {
			l.next = 0
		}
		m.SetData(dpdk.DefaultHeadroom, len(f))
		copy(m.Data(), f)
		m.SetPort(port)
		m.SetOlFlags(0)
		b.Pkts[n] = m
		n++
	}
	l.rx += uint64(n)
	return n
}

func (l *loopIO) TxBurst(port, q uint16, b *dpdk.Burst, from, n int) int {
	l.free = append(l.free, b.Pkts[from:from+n]...)
	l.tx += uint64(n)
	return n
}

func (l *loopIO) FreeBulk(b *dpdk.Burst, from, n int) {
	l.free = append(l.free, b.Pkts[from:from+n]...)
}

func (l *loopIO) AllocBulk(b *dpdk.Burst, from, n int) bool {
	if len(l.free) < n {
		return false
	}
	for i := range n {
		b.Pkts[from+i] = l.free[len(l.free)-1]
		l.free = l.free[:len(l.free)-1]
	}
	return true
}

// ring is an allocation-free single-producer/single-consumer lcore.Ring for
// two workers polled from one goroutine.
type ring struct {
	q          []*dpdk.Mbuf
	head, tail int
}

func newRing(n int) *ring { return &ring{q: make([]*dpdk.Mbuf, n)} }

func (r *ring) Count() int { return r.tail - r.head }

func (r *ring) Enqueue(b *dpdk.Burst, from, n int) int {
	n = min(n, len(r.q)-1-r.Count())
	for i := range n {
		r.q[(r.tail+i)%len(r.q)] = b.Pkts[from+i]
	}
	r.tail += n
	return n
}

func (r *ring) Dequeue(b *dpdk.Burst, from, n int) int {
	n = min(n, r.Count())
	for i := range n {
		b.Pkts[from+i] = r.q[(r.head+i)%len(r.q)]
	}
	r.head += n
	return n
}

// rig is a datapath on the lab plan (package perf/datapath) with ncores
// workers, each with its own in-memory port queue over a shared mbuf store.
type rig struct {
	*datapath.Datapath
	ios []*loopIO
	now int64 // the clock the workers are polled with
}

func newRig(tb testing.TB, spec gen.Spec, ncores, sessions int) *rig {
	tb.Helper()
	store := newMbufs(4096 * ncores)
	r := &rig{now: start}
	for range ncores {
		r.ios = append(r.ios, &loopIO{mbufs: store})
	}
	d, err := datapath.New(datapath.Config{Spec: spec, Cores: ncores, Sessions: sessions,
		PortMACs: []net.HardwareAddr{gen.LabGatewayMAC},
		IO:       func(i int) lcore.IO { return r.ios[i] },
		Rx:       func(int) []lcore.Queue { return []lcore.Queue{{Port: 0, Queue: 0}} },
		NewBurst: dpdk.NewGoBurst,
		NewRing:  func(_ string, size int) (lcore.Ring, error) { return newRing(size), nil },
		Start:    start})
	if err != nil {
		tb.Fatal(err)
	}
	r.Datapath = d
	return r
}

// frames returns every frame of spec (copies).
func frames(tb testing.TB, spec gen.Spec) [][]byte {
	tb.Helper()
	b, err := gen.NewBuilder(spec)
	if err != nil {
		tb.Fatal(err)
	}
	var out [][]byte
	if err := b.Each(func(f []byte) error { out = append(out, append([]byte(nil), f...)); return nil }); err != nil {
		tb.Fatal(err)
	}
	return out
}

// poll runs worker i until it has handled at least n packets.
func (r *rig) poll(i, n int) {
	for done := 0; done < n; {
		done += r.Workers[i].Poll(r.now)
	}
}

// check fails unless every packet received so far left as transmitted.
func (r *rig) check(tb testing.TB) {
	tb.Helper()
	if d := r.Drops(); d != nil {
		tb.Fatalf("drops: %v", d)
	}
}

// established makes a one-core rig whose sessions for spec's flows exist
// (the first pass done) and returns it with the forward frames loaded.
func established(tb testing.TB, spec gen.Spec, sessions int) *rig {
	fwd := spec
	fwd.Mode = gen.Forward
	r := newRig(tb, fwd, 1, sessions)
	r.ios[0].frames = frames(tb, fwd)
	r.poll(0, fwd.Flows)
	if n := r.Created(); n != uint64(fwd.Flows) {
		tb.Fatalf("%d sessions created for %d flows", n, fwd.Flows)
	}
	return r
}

func labSpec(tb testing.TB, mode gen.Mode, proto string, flows, servers, lips int) gen.Spec {
	s, err := gen.LabSpec(mode, proto, flows, 64, 80, 8080, servers, lips)
	if err != nil {
		tb.Fatal(err)
	}
	s.Defaults()
	return s
}

// benchLoop reports per-packet time, Mpps and allocations per packet: b.N
// is a number of packets.
func benchLoop(b *testing.B, r *rig, i int) {
	b.ReportAllocs()
	b.ResetTimer()
	r.poll(i, b.N)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpps")
	r.check(b)
}

func BenchmarkWorkerEstablished1k(b *testing.B) {
	benchLoop(b, established(b, labSpec(b, gen.Forward, "udp", 1024, 1, 1), 1<<16), 0)
}

func BenchmarkWorkerEstablished64k(b *testing.B) {
	benchLoop(b, established(b, labSpec(b, gen.Forward, "udp", 1<<16, 2, 2), 1<<17), 0)
}

// BenchmarkWorkerReply sends the real servers' packets of established
// sessions (RS → LIP:lport, the ports perf/gen predicts).
func BenchmarkWorkerReply(b *testing.B) {
	sp := labSpec(b, gen.Reply, "udp", 1024, 1, 1)
	r := established(b, sp, 1<<16)
	r.ios[0].frames = frames(b, sp)
	benchLoop(b, r, 0)
}

// BenchmarkWorkerNewFlow creates a session per packet (unique TCP SYNs).
// After each pass over the flows the clock moves past their SYN_RECV timeout
// and the sessions are expired, outside the timer, so the next pass creates
// them again.
func BenchmarkWorkerNewFlow(b *testing.B) {
	sp := labSpec(b, gen.SYN, "tcp", 1<<14, 1, 1)
	r := newRig(b, sp, 1, 1<<15)
	r.ios[0].frames = frames(b, sp)
	r.poll(0, sp.Flows) // the first pass grows the port pools once
	r.expirePass()
	before := r.Created()
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		if r.ios[0].next == 0 && done > 0 {
			b.StopTimer()
			r.expirePass()
			b.StartTimer()
		}
		done += r.Workers[0].Poll(r.now)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpps")
	if created := r.Created() - before; created < uint64(b.N) {
		b.Fatalf("%d sessions created for %d packets", created, b.N)
	}
	r.check(b)
}

// expirePass moves the clock past every session's timeout and reaps them.
func (r *rig) expirePass() { r.now = r.ExpireAll(r.now) }

// BenchmarkWorkerRedirect: two workers; the real servers' packets of core 1's
// sessions arrive at core 0, which hands them over a redirect ring; core 1
// rewrites and sends them. Per packet: classify, redirect, and the owner's work.
func BenchmarkWorkerRedirect(b *testing.B) {
	sp := labSpec(b, gen.Forward, "udp", 1024, 1, 1)
	r := newRig(b, sp, 2, 1<<16)
	r.ios[1].frames = frames(b, sp)
	r.poll(1, sp.Flows)
	r.ios[1].frames = nil
	rep := replyFrames(b, sp, r.Cores[1])
	r.ios[0].frames = rep
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		r.Workers[0].Poll(r.now)
		done += r.Workers[1].Poll(r.now)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpps")
	if st := r.Workers[0].Stats(); st.RedirectOut == 0 {
		b.Fatal("nothing was redirected")
	}
	r.check(b)
}

// replyFrames builds the real servers' packets of core c's sessions.
func replyFrames(tb testing.TB, sp gen.Spec, c *nat.Core) [][]byte {
	tb.Helper()
	bl, err := gen.NewBuilder(sp)
	if err != nil {
		tb.Fatal(err)
	}
	var out [][]byte
	list := make([]nat.Session, c.Table().Cap())
	n, _ := c.Table().CopySessions(list, 0, len(list))
	for _, s := range list[:n] {
		f, err := bl.Frame(gen.Packet{SrcMAC: gen.LabServerMAC,
			Src: netip.AddrPortFrom(netip.AddrFrom4(s.Reply.Src), s.Reply.SPort),
			Dst: netip.AddrPortFrom(netip.AddrFrom4(s.Reply.Dst), s.Reply.DPort)})
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, append([]byte(nil), f...))
	}
	return out
}

// TestWorkerPollAllocs proves the loop allocates nothing per packet: one Poll
// handles a full burst of BurstSize packets in each of the paths.
func TestWorkerPollAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts")
	}
	one := func(t *testing.T, r *rig, i int) {
		t.Helper()
		a := testing.AllocsPerRun(200, func() {
			if n := r.Workers[i].Poll(r.now); n == 0 {
				t.Fatal("poll handled nothing")
			}
		})
		if a != 0 {
			t.Fatalf("%.2f allocations per burst", a)
		}
		r.check(t)
	}
	t.Run("established", func(t *testing.T) {
		one(t, established(t, labSpec(t, gen.Forward, "udp", 1024, 1, 1), 1<<16), 0)
	})
	t.Run("reply", func(t *testing.T) {
		sp := labSpec(t, gen.Reply, "udp", 1024, 1, 1)
		r := established(t, sp, 1<<16)
		r.ios[0].frames = frames(t, sp)
		one(t, r, 0)
	})
	t.Run("mixed-tcp", func(t *testing.T) {
		sp := labSpec(t, gen.Mixed, "tcp", 1024, 1, 1)
		r := newRig(t, sp, 1, 1<<16)
		r.ios[0].frames = frames(t, sp)
		r.poll(0, 2*sp.Flows)
		one(t, r, 0)
	})
	t.Run("new-flow", func(t *testing.T) {
		sp := labSpec(t, gen.SYN, "tcp", 1<<14, 1, 1)
		r := newRig(t, sp, 1, 1<<15)
		r.ios[0].frames = frames(t, sp)
		r.poll(0, sp.Flows)
		r.expirePass()
		before := r.Created()
		one(t, r, 0) // 201 bursts of new sessions
		if n := r.Created() - before; n != 201*lcore.BurstSize {
			t.Fatalf("%d sessions created by 201 bursts", n)
		}
	})
	t.Run("redirect", func(t *testing.T) {
		sp := labSpec(t, gen.Forward, "udp", 1024, 1, 1)
		r := newRig(t, sp, 2, 1<<16)
		r.ios[1].frames = frames(t, sp)
		r.poll(1, sp.Flows)
		r.ios[1].frames = nil
		r.ios[0].frames = replyFrames(t, sp, r.Cores[1])
		a := testing.AllocsPerRun(200, func() {
			r.Workers[0].Poll(r.now)
			r.Workers[1].Poll(r.now)
		})
		if a != 0 {
			t.Fatalf("%.2f allocations per burst", a)
		}
		if r.Workers[0].Stats().RedirectOut == 0 || r.Workers[1].Stats().Tx == 0 {
			t.Fatal("nothing was redirected and sent")
		}
		r.check(t)
	})
}
