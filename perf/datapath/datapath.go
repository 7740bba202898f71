// Package datapath assembles a gateway's worker datapath — the user-space
// stack, one FULLNAT service, per-core NAT state and lcore workers, wired by
// lcore.Build as in the gateway — on the perf lab's addressing plan (package
// perf/gen), without the control plane, for benchmarks of the worker loop:
// over an in-memory port (package lcore's tests) or real DPDK ports (package
// perf/worker).
//
// Every port carries both sides, as in the lab: clients behind the router
// 198.18.0.254, real servers and local addresses on 198.18.1.0/24.
package datapath

import (
	"fmt"
	"net"
	"net/netip"

	"fngw/arp"
	"fngw/dpdk"
	"fngw/header"
	"fngw/lcore"
	"fngw/nat"
	"fngw/perf/gen"
	"fngw/sched"
)

// Config is what a Datapath is built from.
type Config struct {
	Spec     gen.Spec // the traffic's service, real servers and local addresses
	Cores    int      // workers; lports are sliced among them
	Sessions int      // session table capacity per core
	// PortMACs are the MACs of ports 0..n-1 (frames must be addressed to
	// them); every port gets the lab's addresses.
	PortMACs []net.HardwareAddr
	// IO and Rx give each worker its I/O and the queues it polls.
	IO       func(core int) lcore.IO
	Rx       func(core int) []lcore.Queue
	NewBurst func(n int) *dpdk.Burst
	// NewRing makes a ring between two lcores (lcore.Plan.NewRing).
	NewRing func(name string, size int) (lcore.Ring, error)
	Start   int64 // the monotonic clock at creation (ns)
	// CPU, if set, pins worker i when it runs (Worker.Run); Register then
	// makes its thread a DPDK lcore. Unset: workers are only polled.
	CPU      func(core int) int
	Register func() error
}

// Datapath is the assembled datapath (lcore.Build, as the gateway builds
// it), its control lcore not running. The caller polls the workers
// (Worker.Poll) or runs them (Worker.Run, with Config.CPU).
type Datapath struct {
	*lcore.Datapath
	Spec gen.Spec
}

// New assembles a datapath.
func New(cfg Config) (*Datapath, error) {
	sp := cfg.Spec
	sp.Defaults()
	if err := sp.Validate(); err != nil {
		return nil, err
	}
	if cfg.Cores < 1 || len(cfg.PortMACs) < 1 {
		return nil, fmt.Errorf("datapath: %d cores and %d ports; want at least one of each", cfg.Cores, len(cfg.PortMACs))
	}
	lim := nat.Limits{MaxServices: 8, MaxDests: 256, MaxLocalAddrs: 256}
	plan := lcore.Plan{NumPorts: len(cfg.PortMACs), NewBurst: cfg.NewBurst, NewRing: cfg.NewRing, Register: cfg.Register,
		Sessions: cfg.Sessions, Limits: lim, Seed: 7, Start: cfg.Start, IO: cfg.IO(0),
		RedirectRing: 4096, ControlRing: 1024, ARPRing: 256,
		SequentialPorts: true} // the reply and mixed traffic predicts the local ports (perf/gen)
	for i := range cfg.Cores {
		cpu := -1
		if cfg.CPU != nil {
			cpu = cfg.CPU(i)
		}
		plan.Workers = append(plan.Workers, lcore.WorkerPlan{CPU: cpu, Rx: cfg.Rx(i), IO: cfg.IO(i)})
	}
	ld, err := lcore.Build(plan)
	if err != nil {
		return nil, err
	}
	d := &Datapath{Datapath: ld, Spec: sp}
	st := d.Stack()
	var errs []error
	must := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	for i, m := range cfg.PortMACs {
		must(st.AddPort(arp.Port{ID: uint16(i), Name: fmt.Sprintf("dpdk%d", i), MAC: header.MAC(m), MTU: 1500}))
	}
	// The lab's subnets are on port 0; further ports only receive.
	for _, a := range gen.LabPortAddrs {
		must(st.AddAddr(0, netip.MustParsePrefix(a), arp.OwnInterface))
	}
	must(st.AddAddr(0, netip.PrefixFrom(sp.VIP.Addr(), 32), arp.OwnVIP))
	must(st.AddRoute(arp.Route{Prefix: netip.MustParsePrefix("0.0.0.0/0"), Via: gen.LabRouter, Port: 0}))
	must(st.AddNeigh(0, gen.LabRouter, header.MAC(gen.LabRouterMAC)))
	var sd []sched.DestConf
	var nd []nat.DestConf
	for i, s := range sp.Servers {
		must(st.AddNeigh(0, s.Addr(), header.MAC(gen.LabServerMAC)))
		sd = append(sd, sched.DestConf{ID: uint32(i + 1), Addr: s.Addr(), Port: s.Port(), Weight: 1})
		nd = append(nd, nat.DestConf{ID: uint32(i + 1), Addr: s.Addr(), Port: s.Port(), Mode: nat.ModeFullNAT})
	}
	var la []nat.LocalAddr
	for _, l := range sp.LIPs {
		must(st.AddAddr(0, netip.PrefixFrom(l, 32), arp.OwnLocalAddr))
		la = append(la, nat.LocalAddr{Addr: header.Addr4(l.As4()), Port: 0})
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("datapath: stack: %v", errs)
	}
	proto := uint8(header.IPProtoUDP)
	if sp.Proto == "tcp" {
		proto = header.IPProtoTCP
	}
	sc, err := sched.NewService(sched.RR, 0, sd, d.Conns, cfg.Cores)
	if err != nil {
		return nil, err
	}
	svcs, err := nat.NewServices([]nat.ServiceConf{{ID: 1, VIP: header.Addr4(sp.VIP.Addr().As4()), Port: sp.VIP.Port(),
		Proto: proto, Sched: sc, Dests: nd, LocalAddrs: la}}, nat.Timeouts{}, lim)
	if err != nil {
		return nil, err
	}
	// Every port carries both sides (a benchmark replays replies on a port
	// other than the one the sessions egress on): the ingress check off.
	d.Services.Store(svcs.WithPolicy(nat.Policy{LooseIngress: true}))
	return d, nil
}

// Created is the number of sessions the cores created so far.
func (d *Datapath) Created() uint64 {
	var n uint64
	for _, c := range d.Cores {
		var s nat.Stats
		c.AddStats(&s)
		n += s.SessionsCreated
	}
	return n
}

// Drops lists every packet drop so far by reason (the worker's and nat's),
// or nil when there was none.
func (d *Datapath) Drops() map[string]uint64 {
	var m map[string]uint64
	add := func(k string, v uint64) {
		if v == 0 {
			return
		}
		if m == nil {
			m = map[string]uint64{}
		}
		m[k] += v
	}
	for i, w := range d.Workers {
		st := w.Stats()
		for r, v := range st.Drops {
			add(lcore.Reason(r).String(), v)
		}
		var s nat.Stats
		d.Cores[i].AddStats(&s)
		for r, v := range s.Drops {
			if nat.DropReason(r) != nat.ReasonNone {
				add(nat.DropReason(r).String(), v)
			}
		}
	}
	return m
}

// ExpireAll moves past every session's deadline from clock now and reaps
// them on every core (for benchmarks that create the same flows again); it
// returns the new clock. Call it between polls, from the polling goroutine.
func (d *Datapath) ExpireAll(now int64) int64 {
	now += 3600e9
	for _, c := range d.Cores {
		c.Expire(d.Services.Load(), now, 1<<30)
	}
	return now
}
