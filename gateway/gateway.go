package gateway

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"fngw/arp"
	"fngw/ctl"
	"fngw/ctl/config"
	"fngw/ctl/socket"
	"fngw/dpdk"
	"fngw/header"
	"fngw/lcore"
	"fngw/nat"
	"fngw/sched"
)

// Limits of the datapath's ID spaces.
const (
	maxServices   = 4096
	maxDests      = 65536
	maxLocalAddrs = 1024
	ringSize      = 4096 // slots of every inter-lcore ring
)

// port is one configured DPDK port.
type port struct {
	cfg config.Port
	dev *dpdk.Port
	mac header.MAC
	// tap: a net_tap port, whose kernel side is a peer host, usually moved to
	// another namespace (where the PMD can no longer query its link).
	tap bool
}

// Gateway is a running gateway. Fields below "owned by the control goroutine" are
// touched only by jobs running there.
type Gateway struct {
	log      *slog.Logger
	file     *config.File
	nworkers int
	limits   nat.Limits

	pool    *dpdk.Pool
	ports   []*port
	portIDs map[string]uint16
	conns   *sched.Conns
	to      *nat.Timeouts
	cores   []*nat.Core
	workers []*lcore.Worker
	control *lcore.Control
	svcs    atomic.Pointer[nat.Services]
	started time.Time

	// owned by the control goroutine
	cfg         *ctl.Config
	stack       *lcore.Stack
	scheds      map[ctl.ServiceKey]*builtSched
	svcIDs      *ids[ctl.ServiceKey]
	destIDs     *ids[destKey]
	lastWeights map[destKey]int32
	est         estimators
}

// Run starts the gateway described by f and blocks until SIGTERM or SIGINT, then
// stops it cleanly. Errors before forwarding starts are returned; the process
// should exit non-zero on them.
func Run(f *config.File, log *slog.Logger) error {
	g := &Gateway{log: log, file: f, nworkers: len(f.Workers), portIDs: make(map[string]uint16),
		svcIDs: newIDs[ctl.ServiceKey](maxServices), destIDs: newIDs[destKey](maxDests),
		lastWeights: make(map[destKey]int32), started: time.Now(),
		limits: nat.Limits{MaxServices: maxServices, MaxDests: maxDests, MaxLocalAddrs: maxLocalAddrs}}
	errc := make(chan error, 1)
	// The EAL makes the thread that initialises it the main lcore and pins it to
	// the control CPU: that thread is kept for the control lcore for good.
	go func() {
		runtime.LockOSThread()
		errc <- g.run()
	}()
	return <-errc
}

func (g *Gateway) run() error {
	f := g.file
	args := f.EALArgs("gw")
	g.log.Info("starting EAL", "args", strings.Join(args[1:], " "))
	if err := dpdk.Init(args); err != nil {
		return err
	}
	defer dpdk.Cleanup()
	pool, err := dpdk.NewPool("fngw_mbufs", f.Pool.Mbufs, f.Pool.CacheSize, 2048+dpdk.DefaultHeadroom, -1)
	if err != nil {
		return err
	}
	g.pool = pool
	if err := g.setupPorts(); err != nil {
		return err
	}
	defer g.stopPorts()
	if err := g.setupDatapath(); err != nil {
		return err
	}

	// Control socket and metrics come up before the workers so that a failure to
	// bind them stops the start cleanly.
	sock, err := socket.Listen(f.Ctl.Socket, g.handle)
	if err != nil {
		return err
	}
	defer sock.Close()
	var msrv *http.Server
	if f.Ctl.Metrics != "" {
		if msrv, err = g.serveMetrics(f.Ctl.Metrics); err != nil {
			return err
		}
		defer msrv.Close()
	}

	var wg sync.WaitGroup
	for _, w := range g.workers {
		wg.Add(1)
		go func(w *lcore.Worker) {
			defer wg.Done()
			if err := w.Run(); err != nil {
				g.log.Error("worker stopped", "err", err)
			}
		}(w)
	}
	g.control.Submit(g.announce) // runs once the control loop starts below
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	go func() {
		for s := range sig {
			if s == syscall.SIGHUP {
				g.control.Submit(func() {
					if out, err := g.reload(); err != nil {
						g.log.Error("reload failed; running configuration kept", "err", err)
					} else {
						g.log.Info("reloaded", "changes", out)
					}
				})
				continue
			}
			g.log.Info("stopping", "signal", s.String())
			g.control.Stop()
			return
		}
	}()
	g.log.Info("forwarding", "workers", g.nworkers, "ports", len(g.ports), "socket", f.Ctl.Socket)
	g.control.Run() // the control lcore loop, on this (the EAL main) thread
	signal.Stop(sig)
	for _, w := range g.workers {
		w.Stop()
	}
	wg.Wait()
	g.log.Info("stopped")
	return nil
}

func (g *Gateway) setupPorts() error {
	f := g.file
	for _, pc := range f.Ports {
		dev, err := dpdk.PortByName(pc.DeviceName())
		if err != nil {
			return fmt.Errorf("port %s: %w", pc.Name, err)
		}
		if _, err := dev.Configure(dpdk.PortConf{RxQueues: pc.Queues, TxQueues: g.nworkers,
			RxDesc: pc.RxDesc, TxDesc: pc.TxDesc, Pool: g.pool}); err != nil {
			return fmt.Errorf("port %s: %w", pc.Name, err)
		}
		info, err := dev.Info()
		if err != nil {
			return fmt.Errorf("port %s: %w", pc.Name, err)
		}
		// A net_tap port's MAC is its kernel interface's: that interface is the
		// peer host (moved into a client or server namespace), so the gateway
		// must not speak with the same MAC. It keeps its own (the configured one,
		// else the kernel's with the last bit flipped) and leaves the kernel's alone.
		tap := info.Driver == "net_tap"
		if !pc.MAC.IsZero() && !tap {
			if err := dev.SetMAC(pc.MAC); err != nil {
				return fmt.Errorf("port %s: %w", pc.Name, err)
			}
		}
		if err := dev.Start(); err != nil {
			return fmt.Errorf("port %s: %w", pc.Name, err)
		}
		if pc.MTU != 0 {
			if err := dev.SetMTU(pc.MTU); err != nil {
				g.log.Warn("MTU not set; the port keeps its own", "port", pc.Name, "mtu", pc.MTU, "err", err)
			}
		}
		if pc.Promiscuous {
			if err := dev.SetPromiscuous(true); err != nil {
				return fmt.Errorf("port %s: %w", pc.Name, err)
			}
		}
		mac, err := dev.MAC()
		if err != nil {
			return fmt.Errorf("port %s: %w", pc.Name, err)
		}
		if tap {
			if pc.MAC.IsZero() {
				mac[5] ^= 1
			} else {
				mac = pc.MAC
			}
		}
		g.ports = append(g.ports, &port{cfg: pc, dev: dev, mac: header.MAC(mac), tap: tap})
		g.portIDs[pc.Name] = dev.ID
		g.log.Info("port up", "port", pc.Name, "device", pc.Device, "id", dev.ID, "mac", header.MAC(mac).String(),
			"rx_queues", pc.Queues, "tx_queues", g.nworkers)
	}
	return nil
}

func (g *Gateway) stopPorts() {
	for _, p := range g.ports {
		if err := p.dev.Stop(); err != nil {
			g.log.Warn("stop port", "port", p.cfg.Name, "err", err)
		}
		if err := p.dev.Close(); err != nil {
			g.log.Warn("close port", "port", p.cfg.Name, "err", err)
		}
	}
}

// setupDatapath builds the stack, the per-core NAT state, the rings, the workers
// and the control lcore, and publishes the initial configuration.
func (g *Gateway) setupDatapath() error {
	f := g.file
	now := int64(0)
	g.conns = sched.NewConns(g.nworkers, maxDests)
	g.to = nat.NewTimeouts()
	t := f.LB.Timeouts
	if err := g.to.Set(time.Duration(t.TCP)*time.Second, time.Duration(t.TCPFin)*time.Second, time.Duration(t.UDP)*time.Second); err != nil {
		return err
	}
	if err := g.to.SetSynRecv(time.Duration(f.Session.SynRecvTimeout) * time.Second); err != nil {
		return err
	}
	seed := rand.Uint64()
	for i := 0; i < g.nworkers; i++ {
		c, err := nat.NewCore(nat.Config{Core: i, NumCores: g.nworkers, Sessions: f.Session.CapacityPerCore,
			Limits: g.limits, Seed: seed}, g.conns, g.to, now)
		if err != nil {
			return err
		}
		g.cores = append(g.cores, c)
	}

	io := dpdk.EthIO{Pool: g.pool}
	newRing := func(name string) (lcore.Ring, error) { return dpdk.NewRing(name, ringSize, true) }
	toCtl := make([]lcore.Ring, g.nworkers)
	fromCtl := make([]lcore.Ring, g.nworkers)
	red := make([][]lcore.Ring, g.nworkers) // red[i][j]: from worker i to worker j
	var err error
	for i := range red {
		red[i] = make([]lcore.Ring, g.nworkers)
		if toCtl[i], err = newRing(fmt.Sprintf("toctl%d", i)); err != nil {
			return err
		}
		if fromCtl[i], err = newRing(fmt.Sprintf("fromctl%d", i)); err != nil {
			return err
		}
		for j := range red[i] {
			if i != j {
				if red[i][j], err = newRing(fmt.Sprintf("red%d_%d", i, j)); err != nil {
					return err
				}
			}
		}
	}
	g.control = lcore.NewControl(lcore.ControlConfig{IO: io, FromWorkers: toCtl, ToWorkers: fromCtl,
		Tick: g.tick, TickEvery: ctl.EstimatorInterval, Log: g.log}, dpdk.NewBurst)
	g.stack = g.control.Stack()
	for _, p := range g.ports {
		mtu := p.cfg.MTU
		if m, err := p.dev.MTU(); err == nil {
			mtu = m
		}
		if err := g.stack.AddPort(arp.Port{ID: p.dev.ID, Name: p.cfg.Name, MAC: p.mac, MTU: uint16(mtu)}); err != nil {
			return err
		}
	}
	// Addresses configured at start are announced once the workers run (announce).
	var added []owned
	if err := g.apply(f.LB, &added); err != nil {
		return err
	}

	for i, wc := range f.Workers {
		var in []lcore.Ring
		for j := range red {
			if j != i {
				in = append(in, red[j][i])
			}
		}
		var rx []lcore.Queue
		for _, q := range wc.Rx {
			rx = append(rx, lcore.Queue{Port: g.portIDs[q.Port], Queue: uint16(q.Queue)})
		}
		// Port ids are DPDK's (PCI devices first, then vdevs), indexes of the
		// per-port tx arrays.
		maxID := uint16(0)
		for _, p := range g.ports {
			maxID = max(maxID, p.dev.ID)
		}
		txq := make([]uint16, maxID+1)
		for p := range txq {
			txq[p] = uint16(i)
		}
		g.workers = append(g.workers, lcore.NewWorker(lcore.WorkerConfig{
			ID: i, CPU: f.CPU(wc.Lcore), Register: registerLcore, Rx: rx, TxQueue: txq, IO: io,
			Services: &g.svcs, Stack: g.stack, NAT: g.cores[i], RedirectOut: red[i], RedirectIn: in,
			ToControl: toCtl[i], FromControl: fromCtl[i],
			IdlePolls: f.IdlePolls, IdleSleep: time.Duration(f.IdleSleepUS) * time.Microsecond,
		}, dpdk.NewBurst))
	}
	return nil
}

func registerLcore() error {
	_, err := dpdk.ThreadRegister()
	return err
}
