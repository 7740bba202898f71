package lcore

import (
	"sync/atomic"
	"time"
	"unsafe"

	"fngw/arp"
	"fngw/dpdk"
	"fngw/header"
	"fngw/nat"
	"fngw/prefetch"
)

// BurstSize is the rx burst size, and the unit of every buffer below. 64
// rather than DPDK's customary 32: the per-turn costs (two cgo calls, the
// counters' publication, expiry) weigh half as much per packet, and a
// batch's prefetches overlap more misses (syn-1m 1.83 -> 1.93 M sessions/s,
// udp-1m +10 % with hugepages).
const BurstSize = 64

// state is what a worker reads the configuration from during one turn.
type state struct {
	svcs  *nat.Services
	stack *arp.Snapshot
}

// Queue is one (port, queue) pair a worker polls.
type Queue struct {
	Port, Queue uint16
}

// WorkerConfig is what a worker is built from.
type WorkerConfig struct {
	ID  int // worker index, 0..n-1 (the session-ownership core number)
	CPU int // CPU to pin to; -1 leaves the thread unpinned (tests)
	// Register, if set, runs on the worker's thread after pinning, before the loop
	// (it makes the thread a DPDK lcore).
	Register func() error
	Rx       []Queue  // (port, queue) pairs to receive from
	TxQueue  []uint16 // tx queue to use on each port id (len = number of ports)
	IO       IO
	// Services is the service snapshot the control plane publishes; Stack
	// publishes the routes, neighbours and addresses (only its Snapshot method is
	// called here). The worker loads both once per turn.
	Services *atomic.Pointer[nat.Services]
	Stack    *Stack
	NAT      *nat.Core
	// RedirectOut[c] carries packets from this worker to worker c (nil for itself);
	// RedirectIn lists the rings other workers fill for this one.
	RedirectOut []Ring
	RedirectIn  []Ring
	ToControl   Ring // packets for the control lcore
	// KernelPorts[p] is set when port p has a kernel path (KernelLink):
	// what the gateway does not consume of the traffic to its own
	// addresses goes there, through the control lcore.
	KernelPorts []bool
	// ARPToControl carries ARP alone to the control lcore, which reads it
	// first: ARP keeps the gateway's addresses reachable and must not wait
	// behind other packets (or be dropped with them when they fill a ring).
	ARPToControl Ring
	FromControl  Ring // packets the control lcore wants sent; the port is in the mbuf
	// IdlePolls and IdleSleep: after IdlePolls consecutive empty turns, sleep
	// IdleSleep (0: never; a dedicated core busy-polls).
	IdlePolls    int
	IdleSleep    time.Duration
	ExpireBudget int // sessions examined for expiry per turn
}

// Worker is one worker lcore. All its fields are touched only by its own thread,
// except the counters (read atomically by anyone) and stop.
type Worker struct {
	cfg  WorkerConfig
	rx   *dpdk.Burst
	tx   []outBuf // per port
	red  []outBuf // per destination core (b nil: none)
	ctl  outBuf
	arp  outBuf          // ARP toward the control lcore
	icmp arp.TokenBucket // ICMP to the gateway's addresses (ICMPRate)
	free *dpdk.Burst
	nfre int
	cnt  counters
	stop atomic.Bool
	idle int
	// base is the origin of the loop's clock (Run's now); turn is the
	// clock at the start of the latest turn, 0 before the first. Only the
	// worker writes turn; SinceTurn reads it from any goroutine.
	base time.Time
	turn counter
	job  atomic.Pointer[job] // handed over by Exec
	cur  *job                // taken, not done yet

	// The batch for load balancing: packets that passed classification
	// (or came over a redirect ring), their frames and verdicts, handed to
	// nat.ProcessBurst at once.
	lb     [BurstSize]*dpdk.Mbuf
	frames [BurstSize]nat.Frame
	res    [BurstSize]nat.Result
	nlb    int
	pf     [BurstSize]uintptr // packet data to prefetch
}

// job is a function the control plane runs on the worker's thread after each
// turn of the loop until it reports done, to read state only the worker may
// touch (its session table) a slice at a time, so that no turn is held up
// for long. finished is closed when it is done or when the worker stops
// first (aborted).
type job struct {
	fn       func(now int64) (done bool)
	finished chan struct{}
	aborted  bool
}

// ICMPRate and ICMPBurst limit, per worker, the ICMP messages to the
// gateway's own addresses handed to the control lcore (echo requests): as
// Linux's icmp_msgs_per_sec and icmp_msgs_burst, so that a ping flood costs
// the control lcore a bounded share and never crowds out ARP.
const (
	ICMPRate  = 1000
	ICMPBurst = 50
)

// bufCap is the capacity of each verdict buffer: two rx bursts, flushed early
// when full.
const bufCap = 2 * BurstSize

// NewWorker allocates every buffer the worker will ever use. newBurst makes a
// burst array (dpdk.NewBurst in production, so arrays handed to C live in C memory).
func NewWorker(cfg WorkerConfig, newBurst func(int) *dpdk.Burst) *Worker {
	w := &Worker{cfg: cfg, rx: newBurst(BurstSize), free: newBurst(bufCap), base: time.Now()}
	k := &w.cnt
	w.tx = make([]outBuf, len(cfg.TxQueue))
	for p, q := range cfg.TxQueue {
		send := func(b *dpdk.Burst, n int) int { return cfg.IO.TxBurst(uint16(p), q, b, 0, n) }
		w.tx[p] = newOutBuf(newBurst, send, &k.tx, &k.drops[TxQueueFull])
	}
	w.red = make([]outBuf, len(cfg.RedirectOut))
	for c, r := range cfg.RedirectOut {
		if r != nil {
			send := func(b *dpdk.Burst, n int) int { return r.Enqueue(b, 0, n) }
			w.red[c] = newOutBuf(newBurst, send, &k.redirectOut, &k.drops[RedirectRingFull])
		}
	}
	toCtl := func(*dpdk.Burst, int) int { return 0 }
	if r := cfg.ToControl; r != nil {
		toCtl = func(b *dpdk.Burst, n int) int { return r.Enqueue(b, 0, n) }
	}
	w.ctl = newOutBuf(newBurst, toCtl, &k.toControl, &k.drops[ControlRingFull])
	toARP := toCtl
	if r := cfg.ARPToControl; r != nil {
		toARP = func(b *dpdk.Burst, n int) int { return r.Enqueue(b, 0, n) }
	}
	w.arp = newOutBuf(newBurst, toARP, &k.toControl, &k.drops[ControlRingFull])
	w.icmp = arp.NewTokenBucket(ICMPRate, ICMPBurst, 0)
	if cfg.ExpireBudget == 0 {
		w.cfg.ExpireBudget = 64
	}
	return w
}

// Stats copies the worker's counters.
func (w *Worker) Stats() Stats { return w.cnt.snapshot(w.cfg.ID) }

// Exec hands fn to the worker: from its next turn on, the worker calls fn
// after each turn, until fn reports done. Exec waits for that. It reports
// false, fn never having run, when the worker did not take it within
// timeout (a stopped or stuck worker), and false when the worker stopped
// before fn was done. Calls must not overlap (the control goroutine
// serializes them).
func (w *Worker) Exec(fn func(now int64) (done bool), timeout time.Duration) bool {
	j := &job{fn: fn, finished: make(chan struct{})}
	w.job.Store(j)
	select {
	case <-j.finished:
	case <-time.After(timeout):
		// The worker takes a job with a swap: if it is still in the slot,
		// it never will be taken now; if it is not, it is running and will
		// finish (or be aborted by the worker's exit).
		if w.job.CompareAndSwap(j, nil) {
			return false
		}
		<-j.finished
	}
	return !j.aborted
}

// SinceTurn is how long ago the worker's loop began its latest turn (since
// NewWorker when it has not turned yet): a worker that polls, busy or idle,
// turns every few microseconds (IdleSleep at most when idle), so a long
// time means a stuck or stopped worker. Safe from any goroutine; the
// worker pays one store per turn for it.
func (w *Worker) SinceTurn() time.Duration {
	return time.Since(w.base) - time.Duration(w.turn.get())
}

// Stop asks the loop to finish its turn and return.
func (w *Worker) Stop() { w.stop.Store(true) }

// Run is the worker loop. It locks the calling goroutine to its thread, pins it,
// registers it, and polls until Stop. On return every buffered packet has been
// sent or freed.
func (w *Worker) Run() error {
	if w.cfg.CPU >= 0 {
		if err := pinThread(w.cfg.CPU); err != nil {
			return err
		}
	}
	if w.cfg.Register != nil {
		if err := w.cfg.Register(); err != nil {
			return err
		}
	}
	prev := int64(0)
	prevBusy := false
	for !w.stop.Load() {
		now := int64(time.Since(w.base)) + 1
		w.turn.set(uint64(now))
		if prev != 0 {
			d := uint64(now - prev)
			w.cnt.totalNs.add(d)
			w.cnt.gap(d)
			if prevBusy {
				w.cnt.busyNs.add(d)
			}
		}
		prev = now
		n := w.Poll(now)
		prevBusy = n > 0
		if n > 0 {
			w.cnt.pollsBusy.add(1)
			w.idle = 0
			continue
		}
		w.cnt.pollsIdle.add(1)
		w.idle++
		if w.cfg.IdleSleep > 0 && w.idle >= w.cfg.IdlePolls {
			time.Sleep(w.cfg.IdleSleep)
		}
	}
	if w.cur != nil {
		w.cur.aborted = true
		close(w.cur.finished)
		w.cur = nil
	}
	return nil
}

// Poll is one turn of the loop at time now (monotonic ns): receive, classify,
// drain the rings filled for this worker, flush, expire. It returns the number of
// packets handled.
func (w *Worker) Poll(now int64) int {
	st := state{w.cfg.Services.Load(), w.cfg.Stack.Snapshot()}
	total := 0
	for _, q := range w.cfg.Rx {
		n := w.cfg.IO.RxBurst(q.Port, q.Queue, w.rx)
		w.cnt.rx.add(uint64(n))
		for i := 0; i < n; i++ {
			w.pf[i] = uintptr(unsafe.Pointer(unsafe.SliceData(w.rx.Pkts[i].Data())))
		}
		// The headers of the whole burst start loading before the first
		// is read (DMA leaves them in memory, not in L1).
		prefetch.Lines(w.pf[:n])
		for i := 0; i < n; i++ {
			w.classify(w.rx.Pkts[i], st)
		}
		w.balance(st, now)
		total += n
	}
	for _, r := range w.cfg.RedirectIn {
		n := r.Dequeue(w.rx, 0, BurstSize)
		w.cnt.redirectIn.add(uint64(n))
		for i := 0; i < n; i++ {
			w.toBalance(w.rx.Pkts[i])
		}
		w.balance(st, now)
		total += n
	}
	if w.cfg.FromControl != nil {
		n := w.cfg.FromControl.Dequeue(w.rx, 0, BurstSize)
		w.cnt.injected.add(uint64(n))
		for i := 0; i < n; i++ {
			m := w.rx.Pkts[i]
			w.queueTx(m.Port(), m)
		}
		total += n
	}
	w.flush()
	w.cfg.NAT.Expire(st.svcs, now, w.cfg.ExpireBudget)
	w.cfg.NAT.Flush()
	if w.cur == nil && w.job.Load() != nil {
		w.cur = w.job.Swap(nil) // nil if Exec gave up on it just now
	}
	if w.cur != nil && w.cur.fn(now) {
		close(w.cur.finished)
		w.cur = nil
	}
	return total
}

// classify runs the L2/L3 checks a kernel would before its IP layer, then queues
// IPv4 for load balancing (balance). Every packet ends in exactly one buffer or
// counter.
//
// Not inlined into Poll (noinline), so that PGO inlines its hot calls into it
// (perf/README.md, profile-guided optimisation).
//
//go:noinline
func (w *Worker) classify(m *dpdk.Mbuf, st state) {
	if m.NbSegs() != 1 {
		w.drop(m, MultiSegment)
		return
	}
	d := m.Data()
	if len(d) < header.EthernetLen {
		w.drop(m, ShortFrame)
		return
	}
	eth := header.Ethernet(d)
	switch eth.Type() {
	case header.EtherTypeIPv4:
	case header.EtherTypeARP:
		w.arp.put(m, w.cfg.IO)
		return
	case header.EtherTypeVLAN:
		w.drop(m, VLANOnUntagged)
		return
	default:
		w.drop(m, UnknownEtherType)
		return
	}
	if dst := (*header.MAC)(d); *dst != st.stack.PortMAC(m.Port()) {
		if dst.IsMulticast() {
			if w.kernelPort(m.Port()) && forKernel(d) {
				// Link-local multicast and broadcast the host's
				// daemons use (VRRP, OSPF, IGMP, DHCP).
				w.toControl(m, toKernel)
				return
			}
			w.drop(m, L2Multicast)
		} else {
			w.drop(m, OtherHost)
		}
		return
	}
	ip := header.IPv4(d[header.EthernetLen:])
	if !ip.IsValid(len(ip)) {
		w.drop(m, MalformedIPv4)
		return
	}
	switch m.OlFlags() & dpdk.RxIPCksumMask {
	case dpdk.RxIPCksumGood:
	case dpdk.RxIPCksumBad:
		w.drop(m, BadIPv4Checksum)
		return
	default:
		if !ip.IsChecksumValid() {
			w.drop(m, BadIPv4Checksum)
			return
		}
	}
	src := ip.SourceAddress()
	if src[0] == 0 || src[0] == 127 || src[0] >= 224 {
		// "This network", loopback, multicast, reserved and broadcast
		// sources are never valid on the wire (RFC 1812 §5.3.7).
		w.drop(m, MartianSource)
		return
	}
	if st.stack.Broadcast(src) {
		// Nor is a connected subnet's directed broadcast: Linux finds a
		// broadcast route for it and drops the packet as a martian
		// (fib_validate_source); answering it would reach every host on
		// the subnet.
		w.drop(m, BroadcastSource)
		return
	}
	if m.OlFlags()&dpdk.RxL4CksumMask == dpdk.RxL4CksumBad {
		// The NIC verified the TCP/UDP checksum and it is wrong. Without
		// a NIC verdict the datapath does not check it: its incremental
		// updates keep a wrong checksum wrong, and the end host drops it.
		w.drop(m, BadL4Checksum)
		return
	}
	w.toBalance(m)
}

// toBalance queues a packet whose Ethernet and IPv4 headers are valid
// (classified here, or by the core that redirected it) for balance. A batch
// holds one burst: balance runs after each.
func (w *Worker) toBalance(m *dpdk.Mbuf) {
	w.lb[w.nlb] = m
	// Field by field: a Frame built whole and then copied is read back with
	// wide loads from its narrow stores, which stalls on store forwarding
	// (the profiles showed it on every packet).
	f := &w.frames[w.nlb]
	f.Buf, f.Off, f.Len, f.L3 = m.Room(), m.DataOff(), m.DataLen(), header.EthernetLen
	f.Port, f.RSS = m.Port(), m.RSS()
	w.nlb++
}

// balance runs load balancing on the queued batch (nat.ProcessBurst looks the
// whole batch's sessions up before processing any) and sends each packet
// where its verdict says.
//
// Not inlined into Poll (noinline), so that PGO inlines dispatch into it
// (perf/README.md, profile-guided optimisation).
//
//go:noinline
func (w *Worker) balance(st state, now int64) {
	n := w.nlb
	w.nlb = 0
	w.cfg.NAT.ProcessBurst(w.frames[:n], w.res[:n], st.svcs, st.stack, now)
	for i := range n {
		w.dispatch(w.lb[i], &w.frames[i], w.res[i], st, now)
	}
}

// dispatch sends m, which nat processed into f with verdict r.
func (w *Worker) dispatch(m *dpdk.Mbuf, f *nat.Frame, r nat.Result, st state, now int64) {
	if (r.Act == nat.ActTx || r.Act == nat.ActControl) && (f.Off != m.DataOff() || f.Len != m.DataLen()) {
		m.SetData(f.Off, f.Len) // moved: TUN encapsulation, an ICMP error built in place
	}
	switch r.Act {
	case nat.ActTx:
		w.queueTx(r.Port, m)
	case nat.ActRedirect:
		w.redirect(int(r.Core()), m)
	case nat.ActControl:
		if r.Port != m.Port() {
			m.SetPort(r.Port)
		}
		w.toControl(m, r.NextHop)
	case nat.ActNotMine:
		ip := header.IPv4(f.Buf[f.Off+f.L3 : f.Off+f.Len])
		if _, _, ok := st.stack.Owned(ip.DestinationAddress()); ok {
			if ip.Protocol() != header.IPProtoICMP {
				// The stack answers ICMP only: TCP, UDP and other
				// protocols to the gateway's own addresses are the
				// host's (SSH, BGP, VRRP, health-check replies), through
				// the port's kernel path; without one nothing listens.
				if w.kernelPort(m.Port()) {
					w.toControl(m, toKernel)
					return
				}
				w.drop(m, LocalUnhandled)
				return
			}
			if !w.icmp.Allow(now) {
				w.drop(m, ICMPRateLimited)
				return
			}
			w.toControl(m, 0)
			return
		}
		w.drop(m, NotForUs)
	default: // nat.ActDrop, counted by nat under its reason
		w.freeMbuf(m)
	}
}

func (w *Worker) drop(m *dpdk.Mbuf, r Reason) {
	w.cnt.drops[r].add(1)
	w.freeMbuf(m)
}

func (w *Worker) freeMbuf(m *dpdk.Mbuf) {
	if w.nfre == bufCap {
		w.cfg.IO.FreeBulk(w.free, 0, w.nfre)
		w.nfre = 0
	}
	w.free.Pkts[w.nfre] = m
	w.nfre++
}

func (w *Worker) queueTx(port uint16, m *dpdk.Mbuf) {
	if int(port) >= len(w.tx) {
		w.drop(m, NotForUs)
		return
	}
	w.tx[port].put(m, w.cfg.IO)
}

func (w *Worker) redirect(core int, m *dpdk.Mbuf) {
	if core >= len(w.red) || w.red[core].b == nil {
		// A reply for a session owned by this very core (or a bad core number):
		// never loop, drop and count.
		w.drop(m, RedirectRingFull)
		return
	}
	w.red[core].put(m, w.cfg.IO)
}

// kernelPort reports whether port p has a kernel path.
func (w *Worker) kernelPort(p uint16) bool {
	return int(p) < len(w.cfg.KernelPorts) && w.cfg.KernelPorts[p]
}

// forKernel reports whether the IPv4 packet in Ethernet frame d, sent to a
// multicast or broadcast MAC, is one the host's kernel takes: to
// link-local multicast (224.0.0.0/24: VRRP, OSPF, IGMP) or to the limited
// broadcast address.
func forKernel(d []byte) bool {
	const dst = header.EthernetLen + 16
	if len(d) < header.EthernetLen+header.IPv4MinLen || d[header.EthernetLen]>>4 != 4 {
		return false
	}
	a := d[dst : dst+4]
	return a[0] == 224 && a[1] == 0 && a[2] == 0 || a[0] == 255 && a[1] == 255 && a[2] == 255 && a[3] == 255
}

// toControl queues m for the control lcore. nexthop, carried in the mbuf's
// user tag, is the neighbour to resolve for a packet the datapath rewrote
// and could not address (nat.ActControl with ReasonNoNeigh); zero for a
// packet the control lcore handles itself (ICMP to the gateway); toKernel
// for the port's kernel path.
func (w *Worker) toControl(m *dpdk.Mbuf, nexthop uint32) {
	m.SetUserTag(nexthop)
	w.ctl.put(m, w.cfg.IO)
}

// flush sends every buffer: one tx burst per port, one enqueue per ring, one
// bulk free.
func (w *Worker) flush() {
	for p := range w.tx {
		w.tx[p].flush(w.cfg.IO)
	}
	for c := range w.red {
		w.red[c].flush(w.cfg.IO)
	}
	w.arp.flush(w.cfg.IO)
	w.ctl.flush(w.cfg.IO)
	if w.nfre > 0 {
		w.cfg.IO.FreeBulk(w.free, 0, w.nfre)
		w.nfre = 0
	}
}
