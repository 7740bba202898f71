package kernel

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// applyAddrs adds the gateway's addresses the kernel interfaces lack (an
// operator removed one, or an earlier try failed). It returns an error for
// each address the kernel refused; each is logged when it starts failing
// and when it is applied at last.
func (s *Sync) applyAddrs() []error {
	var errs []error
	for a := range s.ownAddrs {
		l := s.byPort[a.Port]
		if _, ok := l.addrs[a.Prefix]; ok {
			continue
		}
		err := s.h.AddrReplace(l.dev, &netlink.Addr{IPNet: ipNet(a.Prefix)})
		if err == nil {
			l.addrs[a.Prefix] = struct{}{}
			_, failed := s.failingAddrs[a]
			delete(s.failingAddrs, a)
			s.log.Info("kernel: address added", "addr", a.String(), "iface", l.Name, "retried", failed)
			continue
		}
		err = fmt.Errorf("kernel: address %s (interface %q): %w", a, l.Name, err)
		errs = append(errs, err)
		if s.failingAddrs[a] != err.Error() {
			s.failingAddrs[a] = err.Error()
			s.log.Warn("kernel: address not added; tried again after the next kernel change", "err", err)
		}
	}
	for a := range s.failingAddrs {
		if _, ok := s.ownAddrs[a]; !ok {
			delete(s.failingAddrs, a)
		}
	}
	return errs
}

// delAddr removes an address the gateway no longer wants.
func (s *Sync) delAddr(a Addr) error {
	l := s.byPort[a.Port]
	if _, ok := l.addrs[a.Prefix]; !ok {
		return nil
	}
	err := s.h.AddrDel(l.dev, &netlink.Addr{IPNet: ipNet(a.Prefix)})
	if err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
		return fmt.Errorf("kernel: remove address %s (interface %q): %w", a, l.Name, err)
	}
	delete(l.addrs, a.Prefix)
	return nil
}

// applyRoutes deletes the routes of Protocol on the mirrored interfaces
// that the gateway no longer wants (or wants otherwise), and installs the
// gateway's routes the kernel lacks. It returns an error for each route the
// kernel refused; each is logged when it starts failing and when it is
// installed at last. A route through an interface that is down waits for
// it, without an error.
func (s *Sync) applyRoutes() []error {
	var errs []error
	type stale struct {
		k  routeKey
		kr kroute
	}
	var drop []stale
	for k, list := range s.m.routes {
		for _, kr := range list {
			if kr.proto == Protocol && !s.wanted(k, kr) {
				drop = append(drop, stale{k, kr})
			}
		}
	}
	for _, d := range drop {
		err := s.h.RouteDel(nlRoute(d.k, d.kr.hops))
		if err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("kernel: delete route %s of protocol %d: %w", d.k.prefix, Protocol, err))
			continue
		}
		s.m.apply(unix.RTM_DELROUTE, 0, d.k, d.kr)
	}
	for _, want := range s.ownRoutes {
		k := routeKey{prefix: want.Prefix}
		list := s.m.routes[k]
		if len(list) > 0 && list[0].proto == Protocol && s.wanted(k, list[0]) || !s.up(want) {
			continue // in place, or waiting for its interfaces to come up
		}
		kr := kroute{proto: Protocol, typ: unix.RTN_UNICAST, hops: s.khops(want)}
		var err error
		switch {
		case len(list) == 0:
			err = s.h.RouteAdd(nlRoute(k, kr.hops))
		case list[0].proto == Protocol:
			err = s.h.RouteReplace(nlRoute(k, kr.hops))
		default:
			err = fmt.Errorf("the kernel holds a route of protocol %d for %s at metric 0; the gateway's is installed once it is removed", list[0].proto, want.Prefix)
		}
		if err == nil {
			s.m.apply(unix.RTM_NEWROUTE, unix.NLM_F_REPLACE, k, kr)
			_, failed := s.failingRoutes[want.Prefix]
			delete(s.failingRoutes, want.Prefix)
			s.log.Info("kernel: route installed", "route", want.String(), "retried", failed)
			continue
		}
		err = fmt.Errorf("kernel: route %s: %w", want, err)
		errs = append(errs, err)
		if s.failingRoutes[want.Prefix] != err.Error() {
			s.failingRoutes[want.Prefix] = err.Error()
			s.log.Warn("kernel: route not installed; tried again after the next kernel change", "err", err)
		}
	}
	for p := range s.failingRoutes {
		if _, ok := s.ownRoutes[p]; !ok {
			delete(s.failingRoutes, p)
		}
	}
	return errs
}

// wanted reports whether a route of Protocol in the kernel is one of the
// gateway's routes as it wants it. Next hops the kernel marked dead (their
// interface is down) still count: the kernel revives them.
func (s *Sync) wanted(k routeKey, kr kroute) bool {
	want, ok := s.ownRoutes[k.prefix]
	if !ok || k.tos != 0 || k.priority != 0 || kr.typ != unix.RTN_UNICAST {
		return false
	}
	hops, ok := s.m.nextHops(kr, true)
	return ok && slices.Equal(hops, want.NextHops)
}

// up reports whether the interfaces of a route's next hops are up: the
// kernel takes no route through a down interface (and drops those it had).
func (s *Sync) up(r Route) bool {
	for _, h := range r.NextHops {
		if l := s.byPort[h.Port]; l.gone || l.flags&unix.IFF_UP == 0 {
			return false
		}
	}
	return true
}

// khops converts a route's next hops to the kernel's form.
func (s *Sync) khops(r Route) []khop {
	hops := make([]khop, len(r.NextHops))
	for i, h := range r.NextHops {
		hops[i] = khop{via: h.Via, index: s.byPort[h.Port].index}
	}
	sortKHops(hops)
	return hops
}

// nlRoute is the netlink form of a route of Protocol.
func nlRoute(k routeKey, hops []khop) *netlink.Route {
	r := &netlink.Route{
		Dst:      ipNet(k.prefix),
		Table:    unix.RT_TABLE_MAIN,
		Protocol: Protocol,
		Type:     unix.RTN_UNICAST,
		Tos:      k.tos,
		Priority: k.priority,
		Scope:    netlink.SCOPE_LINK, // on-link only, unless a next hop has a gateway
	}
	for _, h := range hops {
		if h.via.IsValid() {
			r.Scope = netlink.SCOPE_UNIVERSE
		}
	}
	if len(hops) == 1 {
		r.LinkIndex, r.Gw = hops[0].index, ipOf(hops[0].via)
		return r
	}
	for _, h := range hops {
		r.MultiPath = append(r.MultiPath, &netlink.NexthopInfo{LinkIndex: h.index, Gw: ipOf(h.via)})
	}
	return r
}

func ipOf(a netip.Addr) net.IP {
	if !a.IsValid() {
		return nil
	}
	return a.AsSlice()
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// IPv4 per-interface settings (IPV4_DEVCONF_* in linux/ip.h), the ones
// sysctl shows as net.ipv4.conf.IFACE.*.
const (
	devConfARPAnnounce        = 18
	devConfARPIgnore          = 19
	devConfPromoteSecondaries = 20
)

// setDevConf sets arp_ignore=1, arp_announce=2 and promote_secondaries=1 on
// an interface through netlink (IFLA_AF_SPEC, AF_INET, IFLA_INET_CONF: what
// a write under /proc/sys/net/ipv4/conf does, without having to enter the
// namespace to reach that file).
func (s *Sync) setDevConf(index int) error {
	sock, err := nl.GetNetlinkSocketAt(s.ns, netns.None(), unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer sock.Close()
	tv := unix.NsecToTimeval(requestTimeout.Nanoseconds())
	if err := sock.SetSendTimeout(&tv); err != nil {
		return err
	}
	if err := sock.SetReceiveTimeout(&tv); err != nil {
		return err
	}
	req := nl.NewNetlinkRequest(unix.RTM_SETLINK, unix.NLM_F_ACK)
	req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: {Socket: sock}}
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Index = int32(index)
	req.AddData(msg)
	spec := nl.NewRtAttr(unix.IFLA_AF_SPEC, nil)
	conf := spec.AddRtAttr(unix.AF_INET, nil).AddRtAttr(unix.IFLA_INET_CONF, nil)
	conf.AddRtAttr(devConfARPIgnore, nl.Uint32Attr(1))
	conf.AddRtAttr(devConfARPAnnounce, nl.Uint32Attr(2))
	conf.AddRtAttr(devConfPromoteSecondaries, nl.Uint32Attr(1))
	req.AddData(spec)
	_, err = req.Execute(unix.NETLINK_ROUTE, 0)
	return err
}
