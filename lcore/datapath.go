package lcore

import (
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"fngw/arp"
	"fngw/dpdk"
	"fngw/nat"
	"fngw/sched"
)

// Plan is what Build assembles a datapath from: the workers, what they poll,
// how they reach the ports and each other (DPDK in the gateway and the perf
// lab, package dpdktest or an in-memory loop in unit tests and benchmarks),
// and their session tables.
type Plan struct {
	Workers []WorkerPlan
	// NumPorts bounds the port IDs the workers send on (0..NumPorts-1): the
	// per-port tx buffers are indexed by port ID.
	NumPorts int
	IO       IO // every worker's and the control lcore's I/O (WorkerPlan.IO overrides it)
	NewBurst func(n int) *dpdk.Burst
	// NewRing makes one ring between two lcores, named for DPDK, of size
	// slots (size-1 packets): RedirectRing slots from worker to worker,
	// ControlRing between a worker and the control lcore, ARPRing for ARP
	// toward the control lcore. The pool must count what they can hold.
	NewRing                            func(name string, size int) (Ring, error)
	RedirectRing, ControlRing, ARPRing int
	// Register, if set, runs on each worker's thread before its loop (it makes
	// the thread a DPDK lcore).
	Register func() error

	Sessions int // session table capacity per core
	Limits   nat.Limits
	Seed     uint64 // keys the session hashes (random in production)
	// SequentialPorts: see nat.Config (benchmarks that predict local ports).
	SequentialPorts bool
	Start           int64 // the monotonic clock at creation, ns (starts the timer wheels)

	IdlePolls int           // see WorkerConfig
	IdleSleep time.Duration // see WorkerConfig
	Neigh     arp.NeighConfig
	Log       *slog.Logger
	// Kernel lists the ports' kernel paths (the kernel ports' IDs need not
	// be below NumPorts: only the control lcore uses them).
	Kernel []KernelLink
}

// WorkerPlan is one worker of a Plan.
type WorkerPlan struct {
	CPU     int     // the CPU to pin to; -1 leaves the thread unpinned (polled by a test)
	Rx      []Queue // (port, queue) pairs to receive from
	TxQueue uint16  // the tx queue it sends on, on every port
	IO      IO      // nil: Plan.IO
}

// Datapath is an assembled datapath: the workers with their NAT cores, the
// rings between them, and the control lcore with the user-space stack. The
// control plane publishes Services; Run the control lcore and the workers
// (or Poll the workers, in tests).
type Datapath struct {
	Services atomic.Pointer[nat.Services]
	Conns    *sched.Conns // connection counts, shared by the cores and the schedulers
	Cores    []*nat.Core
	Workers  []*Worker
	Control  *Control
	rings    [numRingKinds][]Ring
}

// RingKind names the rings between lcores, for the mbuf census.
type RingKind int

// The kinds of rings.
const (
	RingRedirect    RingKind = iota // worker → worker: replies for the owner of their session
	RingToControl                   // worker → control lcore: ICMP to the gateway, next hops to resolve
	RingARP                         // worker → control lcore: ARP
	RingFromControl                 // control lcore → worker: what the stack sends
	numRingKinds
)

var ringNames = [numRingKinds]string{"redirect", "to_control", "arp", "from_control"}

func (k RingKind) String() string { return ringNames[k] }

// RingCounts returns how many packets the rings of each kind hold now
// (where the pool's mbufs are, for `gw mem`). Safe from any goroutine.
func (d *Datapath) RingCounts() map[string]int {
	m := make(map[string]int, numRingKinds)
	for k, rs := range d.rings {
		for _, r := range rs {
			m[RingKind(k).String()] += r.Count()
		}
	}
	return m
}

// Stack is the user-space stack the control lcore owns.
func (d *Datapath) Stack() *Stack { return d.Control.Stack() }

// Build assembles the datapath of p: one NAT core and one worker per
// WorkerPlan, a redirect ring from every worker to every other, a ring each
// way between every worker and the control lcore (worker 0 sends the control
// lcore's packets). Nothing runs yet.
func Build(p Plan) (*Datapath, error) {
	n := len(p.Workers)
	if n < 1 || p.NumPorts < 1 {
		return nil, fmt.Errorf("datapath: %d workers and %d ports; want at least one of each", n, p.NumPorts)
	}
	d := &Datapath{Conns: sched.NewConns(n, p.Limits.MaxDests)}
	for i := range n {
		c, err := nat.NewCore(nat.Config{Core: i, NumCores: n, Sessions: p.Sessions, Limits: p.Limits, Seed: p.Seed,
			SequentialPorts: p.SequentialPorts}, d.Conns, p.Start)
		if err != nil {
			return nil, err
		}
		d.Cores = append(d.Cores, c)
	}
	var err error
	ring := func(size int, format string, a ...any) Ring { // the first failure stops making rings
		if err != nil {
			return nil
		}
		var r Ring
		r, err = p.NewRing(fmt.Sprintf(format, a...), size)
		return r
	}
	toCtl, toCtlARP, fromCtl := make([]Ring, n), make([]Ring, n), make([]Ring, n)
	red := make([][]Ring, n) // red[i][j]: from worker i to worker j
	for i := range n {
		toCtl[i], fromCtl[i] = ring(p.ControlRing, "toctl%d", i), ring(p.ControlRing, "fromctl%d", i)
		toCtlARP[i] = ring(p.ARPRing, "arp%d", i)
		red[i] = make([]Ring, n)
		for j := range n {
			if i != j {
				red[i][j] = ring(p.RedirectRing, "red%d_%d", i, j)
			}
		}
	}
	if err != nil {
		return nil, err
	}
	d.Control = NewControl(ControlConfig{IO: p.IO, FromWorkers: toCtl, ARPFromWorkers: toCtlARP, ToWorkers: fromCtl,
		Neigh: p.Neigh, Log: p.Log, Kernel: p.Kernel}, p.NewBurst)
	kernelPorts := make([]bool, p.NumPorts)
	for _, l := range p.Kernel {
		if int(l.Data) >= p.NumPorts {
			return nil, fmt.Errorf("datapath: kernel path of port %d, beyond the %d ports", l.Data, p.NumPorts)
		}
		kernelPorts[l.Data] = true
	}
	d.rings = [numRingKinds][]Ring{RingRedirect: slices.DeleteFunc(slices.Concat(red...), func(r Ring) bool { return r == nil }),
		RingToControl: toCtl, RingARP: toCtlARP, RingFromControl: fromCtl}
	for i, wp := range p.Workers {
		var in []Ring
		for j := range n {
			if j != i {
				in = append(in, red[j][i])
			}
		}
		txq := make([]uint16, p.NumPorts)
		for q := range txq {
			txq[q] = wp.TxQueue
		}
		io := wp.IO
		if io == nil {
			io = p.IO
		}
		d.Workers = append(d.Workers, NewWorker(WorkerConfig{
			ID: i, CPU: wp.CPU, Register: p.Register, Rx: wp.Rx, TxQueue: txq, IO: io,
			Services: &d.Services, Stack: d.Control.Stack(), NAT: d.Cores[i],
			RedirectOut: red[i], RedirectIn: in, ToControl: toCtl[i], ARPToControl: toCtlARP[i], FromControl: fromCtl[i],
			KernelPorts: kernelPorts,
			IdlePolls:   p.IdlePolls, IdleSleep: p.IdleSleep,
		}, p.NewBurst))
	}
	return d, nil
}
