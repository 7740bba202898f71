package plane

import (
	"fmt"
	"net/netip"
	"slices"

	"fngw/arp"
	"fngw/ctl"
	"fngw/ctl/config"
	"fngw/kernel"
)

// The kernel path's control side. Ports with a kernel interface
// ([[port]] kernel_iface) are mirrored into the kernel over netlink
// (package kernel), both ways:
//
//   - the gateway's interface addresses and routes of those ports are put
//     on the kernel interfaces (kernelPush);
//   - addresses and routes others put there (an operator, keepalived,
//     BIRD, FRR) are learned (kernelChanged): a learned address becomes an
//     owned address of the gateway on the port (it answers ARP for it and
//     announces it), and a learned route a route of the gateway's, unless
//     the configuration has a route for the same prefix: configured routes
//     win, as static routes over a routing daemon's;
//   - on a port with vip_arp = "kernel", a VIP is owned (answered in ARP)
//     only while it is a learned address of the port's kernel interface.

// openKernel opens the kernel side of the ports of f that have a kernel
// interface (nil when none has).
func (p *Plane) openKernel(f *config.File) error {
	var links []kernel.Link
	for _, pt := range f.Ports {
		if pt.KernelIface != "" {
			links = append(links, kernel.Link{Port: pt.Name, Name: pt.KernelIface})
			p.kernelPorts[pt.Name] = true
		}
		p.vipARP[pt.Name] = pt.VIPARP
	}
	if len(links) == 0 {
		return nil
	}
	p.kernelIn = make(chan kernel.State, 1)
	s, err := kernel.Open(links, kernel.Options{Log: p.log, Notify: func(st kernel.State) {
		// Sync's goroutine must not block: the latest state replaces one
		// not taken yet.
		select {
		case <-p.kernelIn:
		default:
		}
		p.kernelIn <- st
	}})
	if err != nil {
		return err
	}
	p.kernel = s
	for _, pt := range f.Ports {
		if pt.KernelIface != "" {
			if err := s.SetLink(pt.Name, true, pt.MTU); err != nil {
				s.Close()
				return err
			}
		}
	}
	return nil
}

// watchKernel hands each state the kernel reports to the control goroutine
// (a job) until the plane closes.
func (p *Plane) watchKernel() {
	for st := range p.kernelIn {
		p.dp.Control.Do(func() { p.kernelChanged(st) })
	}
}

// kernelChanged takes what the kernel holds beside the gateway's own and
// applies the running configuration again with it (control goroutine).
func (p *Plane) kernelChanged(st kernel.State) {
	p.kernelState = st
	if err := p.apply(p.cfg, true); err != nil {
		p.log.Error("kernel interfaces: addresses or routes not taken", "err", err)
		return
	}
	p.log.Info("kernel interfaces", "addrs", len(st.Addrs), "routes", len(st.Routes))
}

// learnedAddrs adds to want the addresses learned from the kernel
// interfaces that cfg does not own already. A learned address cfg owns
// otherwise — a FULLNAT local address, or an address of another port — stays
// what cfg makes it; each such conflict is logged once, when it appears.
func (p *Plane) learnedAddrs(cfg *ctl.Config, want map[netip.Addr]owned) {
	var conflicts []string
	for _, a := range p.kernelState.Addrs {
		id, ok := p.portIDs[a.Port]
		if !ok {
			continue
		}
		if w, have := want[a.Prefix.Addr()]; have {
			switch {
			case w.kind == arp.OwnLocalAddr:
				conflicts = append(conflicts, fmt.Sprintf("%s on the kernel interface of %s is a FULLNAT local address: kept as the local address, not taken as an interface address", a.Prefix, a.Port))
			case w.port != id:
				conflicts = append(conflicts, fmt.Sprintf("%s on the kernel interface of %s is the gateway's on another port: not taken on %s", a.Prefix, a.Port, a.Port))
			}
			continue
		}
		kind := arp.OwnInterface
		if isVIP(cfg, a.Prefix.Addr()) {
			kind, a.Prefix = arp.OwnVIP, netip.PrefixFrom(a.Prefix.Addr(), 32)
		}
		want[a.Prefix.Addr()] = owned{id, a.Prefix, kind}
	}
	slices.Sort(conflicts)
	for _, c := range conflicts {
		if !slices.Contains(p.addrConflicts, c) {
			p.log.Warn("kernel interfaces: address not taken", "why", c)
		}
	}
	p.addrConflicts = conflicts
}

// kernelHolds reports whether the kernel interface of port holds vip (a
// learned address), for vip_arp = "kernel".
func (p *Plane) kernelHolds(port string, vip netip.Addr) bool {
	return slices.ContainsFunc(p.kernelState.Addrs, func(a kernel.Addr) bool { return a.Port == port && a.Prefix.Addr() == vip })
}

// learnedRoutes adds to want the routes learned from the kernel whose
// prefix cfg has no route for (configured routes win). An equal-cost
// multipath route keeps its next hops (each destination takes one by its
// hash),
// up to arp.MaxPaths.
func (p *Plane) learnedRoutes(want map[netip.Prefix]arp.Route) {
	for _, r := range p.kernelState.Routes {
		if _, configured := want[r.Prefix]; configured {
			continue
		}
		var hops []arp.Hop
		for _, h := range r.NextHops {
			if id, ok := p.portIDs[h.Port]; ok && len(hops) < arp.MaxPaths {
				hops = append(hops, arp.Hop{Via: h.Via, Port: id})
			}
		}
		if len(hops) == 0 {
			continue
		}
		want[r.Prefix] = arp.Route{Prefix: r.Prefix, Via: hops[0].Via, Port: hops[0].Port, Kind: arp.RouteStatic, More: hops[1:]}
	}
}

// kernelPush puts the configuration's interface addresses and routes of
// ports with a kernel interface on those interfaces, when they changed.
func (p *Plane) kernelPush(cfg *ctl.Config) error {
	if p.kernel == nil {
		return nil
	}
	var addrs []kernel.Addr
	for _, a := range cfg.Addrs {
		if p.hasKernel(a.Port) {
			addrs = append(addrs, kernel.Addr{Port: a.Port, Prefix: a.Prefix})
		}
	}
	var routes []kernel.Route
	for _, r := range cfg.Routes {
		if p.hasKernel(r.Port) {
			routes = append(routes, kernel.Route{Prefix: r.Prefix, NextHops: []kernel.NextHop{{Via: r.Via, Port: r.Port}}})
		}
	}
	if !slices.Equal(addrs, p.pushedAddrs) {
		if err := p.kernel.SetAddrs(addrs); err != nil {
			return err
		}
		p.pushedAddrs = addrs
	}
	if !slices.EqualFunc(routes, p.pushedRoutes, kernel.Route.Equal) {
		if err := p.kernel.SetRoutes(routes); err != nil {
			p.log.Warn("kernel interfaces: routes not all installed", "err", err)
		}
		p.pushedRoutes = routes
	}
	return nil
}

// hasKernel reports whether port has a kernel interface.
func (p *Plane) hasKernel(port string) bool { return p.kernelPorts[port] }

// addrStatuses lists the interface addresses for gw ip addr show: the
// configured ones, then those learned from the kernel interfaces.
func (p *Plane) addrStatuses() []ctl.AddrStatus {
	var list []ctl.AddrStatus
	for _, a := range p.cfg.Addrs {
		list = append(list, ctl.AddrStatus{Prefix: a.Prefix.String(), Dev: a.Port, Origin: "config"})
	}
	for _, a := range p.kernelState.Addrs {
		list = append(list, ctl.AddrStatus{Prefix: a.Prefix.String(), Dev: a.Port, Origin: "kernel"})
	}
	return list
}

// isVIP reports whether a is the VIP of a service of cfg.
func isVIP(cfg *ctl.Config, a netip.Addr) bool {
	return slices.ContainsFunc(cfg.Services, func(vs ctl.VirtualService) bool { return vs.Service.FwMark == 0 && vs.Service.VIP == a })
}

// Close stops the health checks and the kernel side of the kernel path
// (the gateway calls it when it stops).
func (p *Plane) Close() error {
	p.closeChecks()
	if p.kernel == nil {
		return nil
	}
	err := p.kernel.Close()
	close(p.kernelIn)
	return err
}
