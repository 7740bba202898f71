package kernel

import (
	"cmp"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"

	"github.com/vishvananda/netns"
)

// Protocol is the route protocol number the gateway's routes are installed
// with in the kernel (rtm_protocol). Routes of this protocol on the mirrored
// interfaces belong to the gateway: SetRoutes adds, replaces and deletes
// them, and they are never reported as learned. An operator can name it for
// ip route by adding the line "196 fngw" to /etc/iproute2/rt_protos.
const Protocol = 196

// Link names a kernel interface mirroring a DPDK port.
type Link struct {
	Port string // the gateway's port name
	Name string // the kernel interface (created by the PMD, not by this package)
}

// Addr is an IPv4 interface address on a port's kernel interface: the
// address with its prefix length (10.0.0.1/24, not 10.0.0.0/24), as ip addr
// shows it.
type Addr struct {
	Port   string
	Prefix netip.Prefix
}

// String is the address as ip addr would write it with the port for the
// device: "10.0.0.1/24 dev p0".
func (a Addr) String() string { return a.Prefix.String() + " dev " + a.Port }

// NextHop is one next hop of a route: a gateway Via on the segment of the
// gateway port Port (the port whose kernel interface the kernel sends
// through). A zero Via means the destination is on that segment itself
// (ip route add PREFIX dev IFACE).
type NextHop struct {
	Via  netip.Addr
	Port string
}

// String is "via 10.0.0.2 dev p0", or "dev p0" without a gateway.
func (h NextHop) String() string {
	if !h.Via.IsValid() {
		return "dev " + h.Port
	}
	return "via " + h.Via.String() + " dev " + h.Port
}

func compareHops(a, b NextHop) int {
	if c := a.Via.Compare(b.Via); c != 0 {
		return c
	}
	return strings.Compare(a.Port, b.Port)
}

// Route is an IPv4 route: a masked prefix and one next hop, or several for
// an equal-cost multipath route. NextHops are sorted (by Via, then Port) and
// free of duplicates, so equal routes compare equal.
type Route struct {
	Prefix   netip.Prefix
	NextHops []NextHop
}

// String is the route as ip route would write it with ports for devices:
// "10.6.0.0/16 via 10.0.0.2 dev p0 via 10.0.0.3 dev p1".
func (r Route) String() string {
	var b strings.Builder
	b.WriteString(r.Prefix.String())
	for _, h := range r.NextHops {
		b.WriteByte(' ')
		b.WriteString(h.String())
	}
	return b.String()
}

// Equal reports whether r and o have the same prefix and next hops.
func (r Route) Equal(o Route) bool {
	return r.Prefix == o.Prefix && slices.Equal(r.NextHops, o.NextHops)
}

func comparePrefixes(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return cmp.Compare(a.Bits(), b.Bits())
}

func compareAddrs(a, b Addr) int {
	if c := strings.Compare(a.Port, b.Port); c != 0 {
		return c
	}
	return comparePrefixes(a.Prefix, b.Prefix)
}

// State is what the kernel holds on the mirrored interfaces that the gateway
// did not put there: the IPv4 addresses other than the ones SetAddrs set,
// and the main table's IPv4 unicast routes whose every next hop is on a
// mirrored interface, other than connected routes (protocol kernel) and the
// gateway's own (Protocol). For a prefix the kernel holds several such
// routes for (different metrics), the one with the lowest metric — the one
// the kernel uses. Addrs are sorted by port then prefix, Routes by prefix.
//
// A State handed to Notify is the callee's: Sync never changes it.
type State struct {
	Addrs  []Addr
	Routes []Route
}

// Equal reports whether s and o hold the same addresses and routes.
func (s State) Equal(o State) bool {
	return slices.Equal(s.Addrs, o.Addrs) && slices.EqualFunc(s.Routes, o.Routes, Route.Equal)
}

// Options are Open's settings; the zero value is usable.
type Options struct {
	// Namespace is the network namespace the interfaces are in; zero means
	// the current one. The caller keeps it open until Close returns.
	Namespace netns.NsHandle
	// Log receives what Sync does on its own: addresses and routes re-put
	// after someone removed them, kernel refusals, lost events. Nil
	// discards.
	Log *slog.Logger
	// Notify is called with the full State once at start and then after
	// each change, coalesced: one call per window (30 ms) however many
	// events, at most one window after the change. It is called from
	// Sync's goroutine and must not block or call Sync's methods. Nil
	// ignores changes.
	Notify func(State)

	// rcvbuf is the receive buffer of the event sockets (tests make it
	// small to lose events on purpose); zero means eventBuffer.
	rcvbuf int
}

// normalizeRoute checks a route given to SetRoutes and returns it with its
// next hops sorted and deduplicated. ports says which ports exist.
func normalizeRoute(r Route, ports map[string]*link) (Route, error) {
	if !r.Prefix.IsValid() || !r.Prefix.Addr().Is4() {
		return Route{}, fmt.Errorf("kernel: route %q: only IPv4 prefixes can be installed", r.Prefix)
	}
	if len(r.NextHops) == 0 {
		return Route{}, fmt.Errorf("kernel: route %s: no next hop", r.Prefix)
	}
	out := Route{Prefix: r.Prefix.Masked(), NextHops: slices.Clone(r.NextHops)}
	for _, h := range out.NextHops {
		if h.Via.IsValid() && !h.Via.Is4() {
			return Route{}, fmt.Errorf("kernel: route %s: next hop %s is not IPv4", r, h.Via)
		}
		if ports[h.Port] == nil {
			return Route{}, fmt.Errorf("kernel: route %s: port %q has no kernel interface", r, h.Port)
		}
	}
	slices.SortFunc(out.NextHops, compareHops)
	out.NextHops = slices.Compact(out.NextHops)
	return out, nil
}
