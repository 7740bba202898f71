package kernel

import (
	"cmp"
	"net"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// link is one mirrored interface and the IPv4 addresses the kernel holds on
// it.
type link struct {
	Link
	dev   netlink.Link // for the handle's calls on the interface
	index int
	flags uint32 // IFF_UP, IFF_LOWER_UP as last seen
	gone  bool   // the interface was deleted
	addrs map[netip.Prefix]struct{}
}

// routeKey is what the IPv4 FIB identifies a route by in a table: prefix,
// TOS and priority (metric). Routes added with ip route append or prepend
// share a key; the first in the list is the one the kernel uses.
type routeKey struct {
	prefix   netip.Prefix
	tos      int
	priority int
}

// khop is a next hop as the kernel holds it: by interface index.
type khop struct {
	via   netip.Addr // zero: none (on-link)
	index int
	dead  bool // RTNH_F_DEAD: the kernel does not use it
}

// kroute is one main-table IPv4 route with at least one next hop on a
// mirrored interface.
type kroute struct {
	proto int
	typ   int
	hops  []khop // sorted by index then via
	// report is the route's next hops as State reports them (the live
	// ones, if all are on mirrored interfaces), worked out once when the
	// route arrives; nil if it is not reported. Never changed afterwards:
	// the States handed to Notify share it.
	report []NextHop
}

// same reports whether a and b are the same route (the kernel's dead flags
// aside, which it changes without telling).
func (a kroute) same(b kroute) bool {
	return a.proto == b.proto && a.typ == b.typ &&
		slices.EqualFunc(a.hops, b.hops, func(x, y khop) bool { return x.via == y.via && x.index == y.index })
}

// mirror is the part of the kernel's configuration Sync follows, kept up to
// date from events and dumps. It keeps only the routes with a next hop on a
// mirrored interface: where the host's own interfaces and a mirrored one
// share a route key (ip route append across them), a replace or delete may
// be misread until the next dump. Only Sync's goroutine touches it.
type mirror struct {
	links  map[int]*link // by interface index
	routes map[routeKey][]kroute
}

func ipAddr(ip net.IP) netip.Addr {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Addr{}
	}
	return a.Unmap()
}

// ifaPrefix converts an address from netlink (IPv4 only: ok is false for
// anything else).
func ifaPrefix(n net.IPNet) (netip.Prefix, bool) {
	a := ipAddr(n.IP)
	if !a.Is4() {
		return netip.Prefix{}, false
	}
	ones, bits := n.Mask.Size()
	if bits != 32 {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, ones), true
}

// addr applies an address event; it reports whether the mirror changed.
func (m *mirror) addr(index int, n net.IPNet, added bool) bool {
	l := m.links[index]
	if l == nil {
		return false
	}
	p, ok := ifaPrefix(n)
	if !ok {
		return false
	}
	_, had := l.addrs[p]
	if added {
		l.addrs[p] = struct{}{}
	} else {
		delete(l.addrs, p)
	}
	return had != added
}

// convert turns a netlink route into the mirror's form; ok is false for a
// route the mirror does not keep (not IPv4, not the main table, no next hop
// on a mirrored interface).
func (m *mirror) convert(r *netlink.Route) (routeKey, kroute, bool) {
	if r.Family != netlink.FAMILY_V4 || r.Table != unix.RT_TABLE_MAIN || r.Dst == nil {
		return routeKey{}, kroute{}, false
	}
	p, ok := ifaPrefix(*r.Dst)
	if !ok {
		return routeKey{}, kroute{}, false
	}
	k := routeKey{prefix: p.Masked(), tos: r.Tos, priority: r.Priority}
	kr := kroute{proto: int(r.Protocol), typ: r.Type}
	if len(r.MultiPath) == 0 {
		kr.hops = []khop{{via: ipAddr(r.Gw), index: r.LinkIndex, dead: r.Flags&unix.RTNH_F_DEAD != 0}}
	}
	for _, h := range r.MultiPath {
		kr.hops = append(kr.hops, khop{via: ipAddr(h.Gw), index: h.LinkIndex, dead: h.Flags&unix.RTNH_F_DEAD != 0})
	}
	mirrored := false
	for _, h := range kr.hops {
		if m.links[h.index] != nil {
			mirrored = true
		}
	}
	if !mirrored {
		return routeKey{}, kroute{}, false
	}
	sortKHops(kr.hops)
	if k.tos == 0 && kr.typ == unix.RTN_UNICAST && kr.proto != unix.RTPROT_KERNEL && kr.proto != Protocol {
		if hops, ok := m.nextHops(kr, false); ok && len(hops) > 0 {
			kr.report = slices.Clip(hops)
		}
	}
	return k, kr, true
}

func sortKHops(hops []khop) {
	slices.SortFunc(hops, func(a, b khop) int {
		if a.index != b.index {
			return a.index - b.index
		}
		return a.via.Compare(b.via)
	})
}

// route applies a route event (RTM_NEWROUTE with its NLM_F_REPLACE or
// NLM_F_APPEND flag, or RTM_DELROUTE); it reports whether the mirror
// changed.
func (m *mirror) route(typ, flags uint16, r *netlink.Route) bool {
	k, kr, ok := m.convert(r)
	if !ok {
		return false
	}
	return m.apply(typ, flags, k, kr)
}

// apply changes the routes of k as the FIB does for the event. Applying an
// event the mirror already reflects (one queued while a dump ran, or one
// for a change Sync made and recorded itself) changes nothing.
func (m *mirror) apply(typ, flags uint16, k routeKey, kr kroute) bool {
	list := m.routes[k]
	switch typ {
	case unix.RTM_NEWROUTE:
		if flags&unix.NLM_F_REPLACE != 0 && len(list) > 0 {
			changed := !list[0].same(kr)
			list[0] = kr // the dead flags may be new
			return changed
		}
		for i := range list {
			if list[i].same(kr) {
				list[i] = kr
				return false
			}
		}
		if flags&unix.NLM_F_APPEND != 0 {
			m.routes[k] = append(list, kr)
		} else {
			m.routes[k] = append([]kroute{kr}, list...)
		}
		return true
	case unix.RTM_DELROUTE:
		for i := range list {
			if list[i].same(kr) {
				list = slices.Delete(list, i, i+1)
				if len(list) == 0 {
					delete(m.routes, k)
				} else {
					m.routes[k] = list
				}
				return true
			}
		}
	}
	return false
}

// nextHops converts a kernel route's next hops to the gateway's form (the
// dead ones too if withDead); ok is false if one is not on a mirrored
// interface.
func (m *mirror) nextHops(kr kroute, withDead bool) (hops []NextHop, ok bool) {
	for _, h := range kr.hops {
		l := m.links[h.index]
		if l == nil {
			return nil, false
		}
		if withDead || !h.dead {
			hops = append(hops, NextHop{Via: h.via, Port: l.Port})
		}
	}
	slices.SortFunc(hops, compareHops)
	return slices.Compact(hops), true
}

// learned is the State: the mirror minus what the gateway put there (own
// addresses, routes of Protocol) and connected routes.
func (m *mirror) learned(own map[Addr]struct{}) State {
	var st State
	for _, l := range m.links {
		for p := range l.addrs {
			a := Addr{Port: l.Port, Prefix: p}
			if _, ok := own[a]; !ok {
				st.Addrs = append(st.Addrs, a)
			}
		}
	}
	slices.SortFunc(st.Addrs, compareAddrs)
	// The reported route of each key, then for each prefix the one of
	// the lowest metric.
	type candidate struct {
		key  routeKey
		hops []NextHop
	}
	cands := make([]candidate, 0, len(m.routes))
	for k, list := range m.routes {
		if hops := list[0].report; hops != nil {
			cands = append(cands, candidate{k, hops})
		}
	}
	slices.SortFunc(cands, func(a, b candidate) int {
		if c := comparePrefixes(a.key.prefix, b.key.prefix); c != 0 {
			return c
		}
		return cmp.Compare(a.key.priority, b.key.priority)
	})
	st.Routes = make([]Route, 0, len(cands))
	for i, c := range cands {
		if i == 0 || cands[i-1].key.prefix != c.key.prefix {
			st.Routes = append(st.Routes, Route{Prefix: c.key.prefix, NextHops: c.hops})
		}
	}
	return st
}
