package plane

import (
	"net/netip"
	"time"

	"fngw/arp"
	"fngw/ctl"
	"fngw/ctl/config"
	"fngw/header"
	"fngw/nat"
)

// owned is an address the stack should answer for: interface addresses with
// their prefix, VIPs and local addresses as /32s.
type owned struct {
	port uint16
	pfx  netip.Prefix
	kind arp.OwnKind
}

// ownedAddrs lists the addresses cfg makes the gateway own. A VIP is owned on the
// port whose subnet holds it (it answers ARP there with no extra command, as an
// LVS director's VIP does on its interface); a VIP on no connected subnet is
// reached through routing and needs no ARP.
func (p *Plane) ownedAddrs(cfg *ctl.Config) (map[netip.Addr]owned, error) {
	want := make(map[netip.Addr]owned)
	for _, a := range cfg.Addrs {
		id, ok := p.portIDs[a.Port]
		if !ok {
			return nil, ctl.Invalidf("address %s: no port named %q", a.Prefix, a.Port)
		}
		want[a.Prefix.Addr()] = owned{id, a.Prefix, arp.OwnInterface}
	}
	for _, vs := range cfg.Services {
		vip := vs.Service.VIP
		if w, ok := want[vip]; ok && w.kind == arp.OwnInterface {
			for _, a := range cfg.Addrs {
				if a.Prefix.Addr() == vip && p.vipARP[a.Port] == config.VIPARPKernel {
					return nil, ctl.Invalidf("VIP %s is an interface address of port %s, whose vip_arp = %q answers for a VIP only while it is on the kernel interface (keepalived puts it there on the master): remove the address", vip, a.Port, config.VIPARPKernel)
				}
			}
		}
		if _, ok := want[vip]; !ok && vip.IsValid() {
			// A port with vip_arp = "kernel" answers for a VIP only while
			// the VIP is on its kernel interface (learnedAddrs below).
			if name, ok := cfg.Connected(vip); ok && p.vipARP[name] != config.VIPARPKernel {
				want[vip] = owned{p.portIDs[name], netip.PrefixFrom(vip, vip.BitLen()), arp.OwnVIP}
			}
		}
		for _, l := range vs.Laddrs {
			id, ok := p.portIDs[l.Port]
			if !ok {
				return nil, ctl.Invalidf("local address %s: no port named %q", l.Addr, l.Port)
			}
			if _, ok := want[l.Addr]; !ok {
				want[l.Addr] = owned{id, netip.PrefixFrom(l.Addr, l.Addr.BitLen()), arp.OwnLocalAddr}
			}
		}
	}
	for a, port := range p.retired {
		if _, ok := want[a]; !ok {
			want[a] = owned{p.portIDs[port], netip.PrefixFrom(a, a.BitLen()), arp.OwnLocalAddr}
		}
	}
	p.learnedAddrs(cfg, want)
	return want, nil
}

// apply makes next the running configuration: it builds the datapath's service
// snapshot with the session timeouts (validating everything that can fail
// first), brings the stack's addresses, routes and static neighbours in line,
// and publishes. Forwarding never pauses: workers pick up the new snapshots on
// their next burst, and established sessions keep their destination (sessions
// of a deleted destination run until they expire). On error the running
// configuration is unchanged. With announce, the addresses added are announced
// by gratuitous ARP at once (at start, Start announces every address once the
// control lcore runs).
func (p *Plane) apply(next *ctl.Config, announce bool) error {
	if err := next.CheckServed(); err != nil {
		return err
	}
	if err := next.CheckConflicts(); err != nil {
		return err
	}
	svcs, scheds, err := p.services(next, p.scheds)
	if err != nil {
		return ctl.Invalidf("%v", err)
	}
	retired := p.retiring(next)
	svcs = svcs.WithRetiredLaddrs(retiredAddrs(retired))
	prev := p.retired
	p.retired = retired // ownedAddrs keeps them owned
	want, err := p.ownedAddrs(next)
	if err != nil {
		p.retired = prev
		return err
	}
	added, err := p.syncStack(next, want)
	if err != nil {
		// Put the stack back as the running configuration has it.
		p.retired = prev
		if back, err2 := p.ownedAddrs(p.cfg); err2 == nil {
			p.syncStack(p.cfg, back)
		}
		return ctl.Invalidf("%v", err)
	}
	p.cfg, p.scheds = next, scheds
	p.dp.Services.Store(svcs)
	p.syncChecks(next)
	if err := p.kernelPush(next); err != nil {
		p.log.Error("kernel interfaces: addresses not put", "err", err)
	}
	if announce {
		for _, a := range added {
			p.dp.Control.Announce(a.port, header.Addr4From(a.pfx.Addr()))
		}
	}
	return nil
}

func seconds(s uint32) time.Duration { return time.Duration(s) * time.Second }

// syncStack changes the stack's owned addresses, static routes, static
// neighbours and destinations (whose next hops the neighbour table pins) to
// those of cfg and returns the addresses it added.
func (p *Plane) syncStack(cfg *ctl.Config, want map[netip.Addr]owned) ([]owned, error) {
	st := p.dp.Stack()
	wantRoutes := make(map[netip.Prefix]arp.Route)
	for _, r := range cfg.Routes {
		wantRoutes[r.Prefix] = arp.Route{Prefix: r.Prefix, Via: r.Via, Port: p.portIDs[r.Port], Kind: arp.RouteStatic}
	}
	p.learnedRoutes(wantRoutes)
	type nkey struct {
		port uint16
		ip   netip.Addr
	}
	wantNeigh := make(map[nkey]header.MAC)
	for _, n := range cfg.Neighs {
		wantNeigh[nkey{p.portIDs[n.Port], n.Addr}] = header.MAC(n.MAC)
	}
	if p.cfg != nil {
		for _, n := range p.cfg.Neighs {
			k := nkey{p.portIDs[n.Port], n.Addr}
			if m, ok := wantNeigh[k]; !ok || m != header.MAC(n.MAC) {
				st.DelNeigh(k.port, k.ip)
			}
		}
	}
	for _, r := range st.Routes() {
		if r.Kind == arp.RouteStatic && !wantRoutes[r.Prefix].Equal(r) {
			if err := st.DelRoute(r.Prefix); err != nil {
				return nil, err
			}
		}
	}
	have := make(map[netip.Addr]owned)
	for _, a := range st.Addrs() {
		if w, ok := want[a.Prefix.Addr()]; !ok || w != (owned{a.Port, a.Prefix, a.Kind}) {
			if err := st.DelAddr(a.Prefix.Addr()); err != nil {
				return nil, err
			}
			continue
		}
		have[a.Prefix.Addr()] = owned{a.Port, a.Prefix, a.Kind}
	}
	var added []owned
	// Interface addresses first: their connected routes make VIPs, local
	// addresses and static routes' gateways reachable.
	for _, kind := range []arp.OwnKind{arp.OwnInterface, arp.OwnVIP, arp.OwnLocalAddr} {
		for addr, w := range want {
			if _, ok := have[addr]; ok || w.kind != kind {
				continue
			}
			if err := st.AddAddr(w.port, w.pfx, w.kind); err != nil {
				return nil, err
			}
			added = append(added, w)
		}
	}
	haveRoutes := make(map[netip.Prefix]bool)
	for _, r := range st.Routes() {
		if r.Kind == arp.RouteStatic {
			haveRoutes[r.Prefix] = true
		}
	}
	for pfx, r := range wantRoutes {
		if !haveRoutes[pfx] {
			if err := st.AddRoute(r); err != nil {
				return nil, err
			}
		}
	}
	for k, mac := range wantNeigh {
		if err := st.AddNeigh(k.port, k.ip, mac); err != nil {
			return nil, err
		}
	}
	var dests []arp.Dest
	for _, vs := range cfg.Services {
		for _, d := range vs.Dests {
			dests = append(dests, arp.Dest{Addr: d.Addr, Direct: d.Fwd == ctl.FwdRoute})
		}
		if vs.Service.Health.SorryServer.IsValid() {
			dests = append(dests, arp.Dest{Addr: vs.Service.Health.SorryServer.Addr(), Direct: sorryFwd(&vs) == ctl.FwdRoute})
		}
	}
	if err := st.SetDests(dests); err != nil {
		return nil, err
	}
	return added, nil
}

// announce sends gratuitous ARP for every owned address (at start).
func (p *Plane) announce() {
	for _, a := range p.dp.Stack().Addrs() {
		p.dp.Control.Announce(a.Port, header.Addr4From(a.Prefix.Addr()))
	}
}

// laddrIdle refuses to delete a local address whose ports carry connections
// (as DPVS's sa_pool does): the replies of those connections are addressed to it,
// and once it is gone the gateway would neither answer ARP for it nor steer the
// replies to the owning core.
func (p *Plane) laddrIdle(a netip.Addr) error {
	if inUse := p.laddrInUse(a); inUse > 0 {
		return ctl.Invalidf("local address %s has %d connection(s) in use; delete it once they have ended (quiesce the service's destinations with -w 0 first)", a, inUse)
	}
	return nil
}

// laddrInUse is how many ports of local address a the cores hold.
func (p *Plane) laddrInUse(a netip.Addr) int64 {
	var buf []nat.LaddrUsage
	var inUse int64
	for _, c := range p.dp.Cores {
		for _, u := range c.LaddrUsage(buf[:0]) {
			if u.Addr.Netip() == a {
				inUse += u.InUse
			}
		}
	}
	return inUse
}

// retiring returns the local addresses that stay retired once next is the
// running configuration: those the running one has and next has not (a
// service deleted, a reload, -R, -C) while connections hold their ports,
// and those retired before that next does not have again and that are
// still in use. A retired local address stays owned (ARP) and a local
// address for the datapath (replies steered to the core owning their
// port) until its connections end, as LVS keeps the connections of a
// removed service; the tick releases it then.
func (p *Plane) retiring(next *ctl.Config) map[netip.Addr]string {
	has := make(map[netip.Addr]bool)
	for _, vs := range next.Services {
		for _, l := range vs.Laddrs {
			has[l.Addr] = true
		}
	}
	out := make(map[netip.Addr]string)
	keep := func(a netip.Addr, port string) {
		if !has[a] && p.laddrInUse(a) > 0 {
			out[a] = port
		}
	}
	for a, port := range p.retired {
		keep(a, port)
	}
	if p.cfg != nil {
		for _, vs := range p.cfg.Services {
			for _, l := range vs.Laddrs {
				keep(l.Addr, l.Port)
			}
		}
	}
	return out
}

func retiredAddrs(r map[netip.Addr]string) []header.Addr4 {
	var out []header.Addr4
	for a := range r {
		out = append(out, header.Addr4From(a))
	}
	return out
}

// releaseRetired lets go of the retired local addresses whose connections
// have ended (every tick).
func (p *Plane) releaseRetired() {
	for a := range p.retired {
		if p.laddrInUse(a) == 0 {
			if err := p.apply(p.cfg, false); err != nil {
				p.log.Error("releasing retired local addresses", "err", err)
			}
			return
		}
	}
}
