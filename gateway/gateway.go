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
	"syscall"
	"time"

	"fngw/arp"
	"fngw/ctl/config"
	"fngw/ctl/plane"
	"fngw/ctl/socket"
	"fngw/dpdk"
	"fngw/header"
	"fngw/lcore"
	"fngw/nat"
)

// Limits of the datapath's ID spaces.
var limits = nat.Limits{MaxServices: 4096, MaxDests: 65536, MaxLocalAddrs: 1024}

// port is one configured DPDK port.
type port struct {
	cfg config.Port
	dev *dpdk.Port
	mac header.MAC
	// tap: a net_tap port, whose kernel side is a peer host, usually moved to
	// another namespace (where the PMD can no longer query its link).
	tap    bool
	kernel *kernelPort // the port's kernel path, if any
}

// Gateway is a running gateway: DPDK, its pool and ports, the datapath
// (lcore.Build) and its control plane (package plane).
type Gateway struct {
	log      *slog.Logger
	file     *config.File
	nworkers int

	pool  *dpdk.Pool
	ports []*port
	dp    *lcore.Datapath
	plane *plane.Plane
}

// Run starts the gateway described by f and blocks until SIGTERM or SIGINT, then
// stops it cleanly. Errors before forwarding starts are returned; the process
// should exit non-zero on them.
func Run(f *config.File, log *slog.Logger) error {
	g := &Gateway{log: log, file: f, nworkers: len(f.Workers)}
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
	gcEvery, err := stressGCInterval()
	if err != nil {
		return err
	}
	args := append(f.EALArgs("gw"), kernelEALArgs(f)...)
	g.log.Info("starting EAL", "args", strings.Join(args[1:], " "))
	if err := dpdk.Init(args); err != nil {
		return err
	}
	defer dpdk.Cleanup()
	// Each mbuf holds a whole frame at the largest port MTU (no chained
	// mbufs on the datapath).
	pool, err := dpdk.NewPool("fngw_mbufs", f.Pool.Mbufs, f.Pool.CacheSize, f.Pool.DataRoom+dpdk.DefaultHeadroom, -1)
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
	defer g.closePlane()

	// Control socket and metrics come up before the workers so that a failure to
	// bind them stops the start cleanly.
	sock, err := socket.Listen(f.Ctl.Socket, g.plane.Handle)
	if err != nil {
		return err
	}
	defer sock.Close()
	var msrv *http.Server
	if f.Ctl.Metrics != "" {
		if msrv, err = g.serveMetrics(f.Ctl.Metrics, g.plane.Collector()); err != nil {
			return err
		}
		defer msrv.Close()
	}

	var wg sync.WaitGroup
	for _, w := range g.dp.Workers {
		wg.Add(1)
		go func(w *lcore.Worker) {
			defer wg.Done()
			if err := w.Run(); err != nil {
				g.log.Error("worker stopped", "err", err)
			}
		}(w)
	}
	// However this function ends — a signal, or a panic on this thread —
	// the workers stop and are joined before the ports are closed and DPDK
	// is cleaned up (the deferred calls above): a worker polling a closed
	// port or a freed pool would crash the process and hide the cause.
	defer func() {
		for _, w := range g.dp.Workers {
			w.Stop()
		}
		wg.Wait()
		g.log.Info("workers stopped")
	}()
	if gcEvery > 0 {
		g.log.Warn("forcing a garbage collection at every interval: a perf-lab switch, not for production", "env", StressGCEnv, "interval", gcEvery)
		stop := make(chan struct{})
		go forceGC(gcEvery, stop)
		defer close(stop)
	}
	g.plane.Start() // runs once the control loop starts below
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	go func() {
		for s := range sig {
			if s == syscall.SIGHUP {
				g.plane.Reload()
				continue
			}
			g.log.Info("stopping", "signal", s.String())
			g.dp.Control.Stop()
			return
		}
	}()
	g.log.Info("forwarding", "workers", g.nworkers, "ports", len(g.ports), "socket", f.Ctl.Socket)
	g.dp.Control.Run() // the control lcore loop, on this (the EAL main) thread
	signal.Stop(sig)
	return nil
}

func (g *Gateway) setupPorts() error {
	f := g.file
	for i, pc := range f.Ports {
		dev, err := dpdk.PortByName(pc.DeviceName())
		if err != nil && pc.PCI {
			return fmt.Errorf("port %s: %w: is %s bound to a DPDK driver (vfio-pci)? see dpdk-devbind.py --status", pc.Name, err, pc.Device)
		}
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
		if have, err := dev.MTU(); err != nil || have != pc.MTU {
			// The stack would advertise an MTU the port does not carry, and
			// frames of that size would be dropped silently.
			if err := dev.SetMTU(pc.MTU); err != nil {
				return fmt.Errorf("port %s: mtu %d: %w (the device takes %d to %d; set [[port]] mtu within that)",
					pc.Name, pc.MTU, err, info.MinMTU, info.MaxMTU)
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
		p := &port{cfg: pc, dev: dev, mac: header.MAC(mac), tap: tap}
		g.ports = append(g.ports, p)
		g.log.Info("port up", "port", pc.Name, "device", pc.Device, "id", dev.ID, "mac", header.MAC(mac).String(),
			"rx_queues", pc.Queues, "tx_queues", g.nworkers)
		if pc.KernelIface != "" {
			if err := g.setupKernel(i, p); err != nil {
				return err
			}
		}
	}
	return nil
}

func (g *Gateway) stopPorts() {
	for _, p := range g.ports {
		if k := p.kernel; k != nil {
			k.dev.Stop()
			k.dev.Close()
		}
		if err := p.dev.Stop(); err != nil {
			g.log.Warn("stop port", "port", p.cfg.Name, "err", err)
		}
		if err := p.dev.Close(); err != nil {
			g.log.Warn("close port", "port", p.cfg.Name, "err", err)
		}
	}
}

// setupDatapath builds the datapath (lcore.Build: per-core NAT state,
// rings, workers, the control lcore and its stack), adds the ports to the
// stack, and builds the control plane, which applies the configuration.
func (g *Gateway) setupDatapath() error {
	f := g.file
	ids := make(map[string]uint16)
	maxID := uint16(0)
	for _, p := range g.ports {
		ids[p.cfg.Name] = p.dev.ID
		maxID = max(maxID, p.dev.ID)
	}
	// Port ids are DPDK's (PCI devices first, then vdevs), indexes of the
	// per-port tx arrays.
	plan := lcore.Plan{NumPorts: int(maxID) + 1, IO: dpdk.EthIO{Pool: g.pool}, NewBurst: dpdk.NewBurst,
		NewRing:      func(name string, size int) (lcore.Ring, error) { return dpdk.NewRing(name, size, true) },
		RedirectRing: config.RedirectRing, ControlRing: config.ControlRing, ARPRing: config.ARPRing,
		Neigh:    arp.NeighConfig{QueueTotal: config.StackQueue},
		Register: registerLcore, Sessions: f.Session.CapacityPerCore, Limits: limits, Seed: rand.Uint64(),
		IdlePolls: f.IdlePolls, IdleSleep: time.Duration(f.IdleSleepUS) * time.Microsecond, Log: g.log,
		Kernel: g.kernelLinks()}
	for i, wc := range f.Workers {
		wp := lcore.WorkerPlan{CPU: f.CPU(wc.Lcore), TxQueue: uint16(i)}
		for _, q := range wc.Rx {
			wp.Rx = append(wp.Rx, lcore.Queue{Port: ids[q.Port], Queue: uint16(q.Queue)})
		}
		plan.Workers = append(plan.Workers, wp)
	}
	dp, err := lcore.Build(plan)
	if err != nil {
		return err
	}
	g.dp = dp
	for _, p := range g.ports {
		mtu := p.cfg.MTU
		if m, err := p.dev.MTU(); err == nil {
			mtu = m
		}
		if err := dp.Stack().AddPort(arp.Port{ID: p.dev.ID, Name: p.cfg.Name, MAC: p.mac, MTU: uint16(mtu)}); err != nil {
			return err
		}
	}
	g.plane, err = plane.New(plane.Config{File: f, Datapath: dp, Host: host{g}, Ports: ids, Limits: limits, Log: g.log})
	return err
}

// closePlane stops what the control plane runs beside the control lcore
// (the kernel interfaces' netlink side).
func (g *Gateway) closePlane() {
	if err := g.plane.Close(); err != nil {
		g.log.Warn("closing the kernel path", "err", err)
	}
}

func registerLcore() error {
	_, err := dpdk.ThreadRegister()
	return err
}
