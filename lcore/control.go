package lcore

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync/atomic"
	"time"

	"fngw/arp"
	"fngw/dpdk"
	"fngw/header"
)

// Stack is the user-space stack with mbufs as its queued packets.
type Stack = arp.Stack[*dpdk.Mbuf]

// ControlConfig is what the control lcore is built from.
type ControlConfig struct {
	IO          IO
	FromWorkers []Ring // one per worker: packets for the stack
	// ARPFromWorkers (one per worker, optional) carry ARP alone, read
	// before FromWorkers at every turn.
	ARPFromWorkers []Ring
	ToWorkers      []Ring // one per worker: packets for the worker to send
	// TxWorker is the worker whose tx queues send the control lcore's packets.
	TxWorker int
	Neigh    arp.NeighConfig
	Log      *slog.Logger
	// Kernel lists the ports' kernel paths; KernelRate and KernelBurst
	// limit the kernel's frames out of each (0: DefaultKernelRate and
	// DefaultKernelBurst).
	Kernel                  []KernelLink
	KernelRate, KernelBurst int
}

// ControlStats are the control lcore's counters.
type ControlStats struct {
	Rx          uint64 `json:"rx_packets"`
	ARP         uint64 `json:"arp"`
	ARPReplies  uint64 `json:"arp_replies"`
	EchoReplies uint64 `json:"echo_replies"`
	Resolving   uint64 `json:"resolving"`
	Sent        uint64 `json:"sent"`
	Ignored     uint64 `json:"ignored"`
	AllocFails  uint64 `json:"alloc_failures"`
	RingFull    uint64 `json:"ring_full"`
	JobPanics   uint64 `json:"job_panics"` // control-plane jobs that panicked (recovered)
}

// Control is the control lcore. Run executes on one goroutine, which owns the
// stack and runs every job handed to Do or Submit; nothing else touches them.
type Control struct {
	cfg    ControlConfig
	from   []Ring // the rings from the workers, ARP's first
	stack  *Stack
	rx     *dpdk.Burst
	out    outBuf        // toward the tx worker
	kernel []*kernelPath // by data port ID
	one    *dpdk.Burst
	jobs   chan ctlJob
	stop   chan struct{}
	done   chan struct{}
	once   atomic.Bool
	base   time.Time
	// tick runs every tickEvery (OnTick).
	tick      func()
	tickEvery time.Duration
	cnt       struct {
		rx, arp, arpReplies, echo, resolving, sent, ignored, allocFails, ringFull, jobPanics counter
	}
}

// NewControl builds the control lcore and its stack (whose hooks send through
// the workers' tx queues).
func NewControl(cfg ControlConfig, newBurst func(int) *dpdk.Burst) *Control {
	c := &Control{cfg: cfg, rx: newBurst(BurstSize), one: newBurst(1),
		jobs: make(chan ctlJob, 64), stop: make(chan struct{}), done: make(chan struct{}), base: time.Now()}
	if c.cfg.Log == nil {
		c.cfg.Log = slog.Default()
	}
	c.from = slices.Concat(cfg.ARPFromWorkers, cfg.FromWorkers)
	c.newKernelPaths(newBurst)
	tx := cfg.ToWorkers[cfg.TxWorker]
	c.out = newOutBuf(newBurst, func(b *dpdk.Burst, n int) int { return tx.Enqueue(b, 0, n) }, &c.cnt.sent, &c.cnt.ringFull)
	c.stack = arp.NewStack(cfg.Neigh, arp.Hooks[*dpdk.Mbuf]{
		Solicit:  c.solicit,
		Transmit: c.transmit,
		Drop:     c.free,
	})
	return c
}

// Stack is the user-space stack. Only jobs on the control goroutine may call
// its methods, except Snapshot, which anyone may call.
func (c *Control) Stack() *Stack { return c.stack }

// Now is the control lcore's monotonic clock in nanoseconds.
func (c *Control) Now() int64 { return int64(time.Since(c.base)) + 1 }

// Stats copies the control lcore's counters.
func (c *Control) Stats() ControlStats {
	k := &c.cnt
	return ControlStats{Rx: k.rx.get(), ARP: k.arp.get(), ARPReplies: k.arpReplies.get(), EchoReplies: k.echo.get(),
		Resolving: k.resolving.get(), Sent: k.sent.get(), Ignored: k.ignored.get(), AllocFails: k.allocFails.get(),
		RingFull: k.ringFull.get(), JobPanics: k.jobPanics.get()}
}

// ErrStopped is Do's error when the control lcore has stopped: fn did not
// run.
var ErrStopped = errors.New("the control lcore has stopped")

// JobPanic is Do's error when fn panicked: the control lcore recovered, logged
// the stack and went on.
type JobPanic struct {
	Value any
	Stack []byte
}

func (e *JobPanic) Error() string { return fmt.Sprintf("internal error: %v", e.Value) }

// ctlJob is a function for the control goroutine; done, if set, receives the
// outcome (nil or *JobPanic).
type ctlJob struct {
	fn   func()
	done chan error
}

// Do runs fn on the control goroutine and waits for it. It returns nil when
// fn ran, *JobPanic when it panicked, ErrStopped when the control lcore has
// stopped (fn does not run, or its outcome is not known).
func (c *Control) Do(fn func()) error {
	j := ctlJob{fn: fn, done: make(chan error, 1)}
	select {
	case c.jobs <- j:
	case <-c.done:
		return ErrStopped
	}
	select {
	case err := <-j.done:
		return err
	case <-c.done:
		select {
		case err := <-j.done:
			return err
		default:
			return ErrStopped
		}
	}
}

// Submit queues fn to run on the control goroutine without waiting.
func (c *Control) Submit(fn func()) {
	select {
	case c.jobs <- ctlJob{fn: fn}:
	case <-c.done:
	}
}

// run runs j, recovering a panic: a bug in one control-plane job must not
// take the datapath down (the workers go on forwarding, the next jobs run).
func (c *Control) run(j ctlJob) {
	var err error
	defer func() {
		if r := recover(); r != nil {
			p := &JobPanic{Value: r, Stack: debug.Stack()}
			c.cnt.jobPanics.add(1)
			c.cfg.Log.Error("control job panicked; recovered, the gateway goes on", "panic", fmt.Sprint(r), "stack", string(p.Stack))
			err = p
		}
		if j.done != nil {
			j.done <- err
		}
	}()
	j.fn()
}

// OnTick makes fn run on the control goroutine every interval (rate
// estimators and other periodic control-plane work). Call it before Run.
func (c *Control) OnTick(every time.Duration, fn func()) {
	c.tick, c.tickEvery = fn, every
}

// Stop makes Run return after its current turn. Safe to call more than once,
// from any goroutine.
func (c *Control) Stop() {
	if c.once.CompareAndSwap(false, true) {
		close(c.stop)
	}
}

// Run is the control loop: packets from the workers, stack timers, at most
// one job, the tick, and a short sleep when there is nothing to do (the
// control lcore is not a busy-polling core). One job per turn keeps the
// packets' wait bounded by one job, however many jobs are queued: an ARP
// request is answered between two commands or scrapes, never after all of
// them. It returns after Stop.
func (c *Control) Run() {
	defer close(c.done)
	timer := time.NewTimer(time.Hour)
	idle := time.Duration(0)
	lastStack, lastTick := int64(0), int64(0)
	for {
		select {
		case <-c.stop:
			c.flush()
			return
		default:
		}
		now := c.Now()
		n := c.poll(now)
		if now-lastStack >= int64(10*time.Millisecond) || n > 0 {
			c.stack.Tick(now)
			lastStack = now
		}
		c.flush()
		ran := false
		select {
		case j := <-c.jobs:
			c.run(j)
			ran = true
		default:
		}
		if c.tick != nil && c.Now()-lastTick >= int64(c.tickEvery) {
			c.run(ctlJob{fn: c.tick})
			lastTick = c.Now()
		}
		c.flush()
		if n > 0 || ran {
			idle = 0
			continue
		}
		// Back off from 20 µs to 1 ms while idle; a job wakes the loop at once.
		idle = min(max(2*idle, 20*time.Microsecond), time.Millisecond)
		timer.Reset(idle)
		select {
		case j := <-c.jobs:
			if !timer.Stop() {
				<-timer.C
			}
			// Packets that came while idle go first.
			c.poll(c.Now())
			c.flush()
			c.run(j)
			idle = 0
		case <-timer.C:
		case <-c.stop:
		}
	}
}

func (c *Control) poll(now int64) int {
	total := c.pollKernel(now)
	for _, r := range c.from {
		n := r.Dequeue(c.rx, 0, BurstSize)
		c.cnt.rx.add(uint64(n))
		for i := 0; i < n; i++ {
			c.input(c.rx.Pkts[i], now)
		}
		total += n
	}
	return total
}

// input handles one packet a worker handed over: ARP, IPv4 to an address the
// gateway owns (ICMP: echo requests answered, the rest the host's), or a
// packet whose next hop must be resolved (its mbuf's user tag names the next
// hop; see Worker.toControl). The packet is sent, queued in the stack, handed
// to the kernel path, or freed.
func (c *Control) input(m *dpdk.Mbuf, now int64) {
	frame := m.Data()
	port := m.Port()
	eth := header.Ethernet(frame)
	if !eth.IsValid(len(frame)) {
		c.ignore(m)
		return
	}
	if eth.PayloadType() == header.EtherTypeARP {
		c.cnt.arp.add(1)
		// The kernel learns its neighbours from the same ARP (answering
		// may rewrite the frame in place: copy first).
		c.copyToKernel(port, frame)
		if c.stack.HandleARP(now, port, frame) {
			c.cnt.arpReplies.add(1)
			c.send(m, port)
			return
		}
		c.ignore(m)
		return
	}
	if m.UserTag() == toKernel {
		c.toKernel(m)
		return
	}
	ip := header.IPv4(frame[eth.HeaderLen():])
	if eth.PayloadType() != header.EtherTypeIPv4 || !ip.IsValid(len(ip)) {
		c.ignore(m)
		return
	}
	if nh := m.UserTag(); nh != 0 {
		// Rewritten by the datapath for port m.Port(); only the
		// destination MAC is missing. The next hop is not always the
		// route's toward the destination (DR: the VIP's packet goes
		// to the real server).
		c.cnt.resolving.add(1)
		c.stack.Output(now, port, header.Addr4FromUint32(nh), m)
		return
	}
	snap := c.stack.Snapshot()
	dst := ip.DestinationAddress()
	if _, _, owned := snap.Owned(dst); owned {
		if c.stack.HandleICMP(port, frame) {
			c.cnt.echo.add(1)
			c.send(m, port)
			return
		}
		// Other ICMP to the gateway is the host's, as its TCP and UDP
		// are: echo replies to its pings, errors about its sockets (a
		// UDP health check's port unreachable). Without a kernel
		// interface on the port it is ignored.
		c.toKernel(m)
		return
	}
	out, nexthop, ok := snap.Route(dst)
	if !ok {
		c.ignore(m)
		return
	}
	c.cnt.resolving.add(1)
	c.stack.Output(now, out, nexthop, m)
}

func (c *Control) ignore(m *dpdk.Mbuf) {
	c.cnt.ignored.add(1)
	c.free(m)
}

func (c *Control) free(m *dpdk.Mbuf) {
	c.one.Pkts[0] = m
	c.cfg.IO.FreeBulk(c.one, 0, 1)
}

// transmit is the stack's hook for a queued packet whose next hop resolved.
func (c *Control) transmit(m *dpdk.Mbuf, port uint16, mac header.MAC) {
	eth := header.Ethernet(m.Data())
	eth.SetDestination(mac)
	eth.SetSource(c.stack.Snapshot().PortMAC(port))
	c.send(m, port)
}

// solicit is the stack's hook for an ARP request to send.
func (c *Control) solicit(r arp.Solicitation) {
	m := c.alloc()
	if m == nil {
		return
	}
	n := arp.BuildARPRequest(m.Room()[m.DataOff():], r.SrcMAC, r.SrcIP, r.Target, r.Dst)
	m.SetData(m.DataOff(), n)
	c.send(m, r.Port)
}

// Announce sends a gratuitous ARP for ip on port (an address just added).
// Control goroutine only.
func (c *Control) Announce(port uint16, ip header.Addr4) {
	m := c.alloc()
	if m == nil {
		return
	}
	n := arp.BuildGratuitousARP(m.Room()[m.DataOff():], c.stack.Snapshot().PortMAC(port), ip)
	m.SetData(m.DataOff(), n)
	c.send(m, port)
}

func (c *Control) alloc() *dpdk.Mbuf {
	if !c.cfg.IO.AllocBulk(c.one, 0, 1) {
		c.cnt.allocFails.add(1)
		return nil
	}
	return c.one.Pkts[0]
}

// send queues m for transmission on port by the tx worker.
func (c *Control) send(m *dpdk.Mbuf, port uint16) {
	m.SetPort(port)
	c.out.put(m, c.cfg.IO)
}

func (c *Control) flush() {
	c.flushKernel()
	c.out.flush(c.cfg.IO)
}
