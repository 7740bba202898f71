package arp

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync/atomic"

	"fngw/header"
	"fngw/mix"
)

// Port is a gateway port: a NIC port (DPDK ethdev) whose L2/L3 the stack
// handles in place of the kernel.
type Port struct {
	ID   uint16
	Name string
	MAC  header.MAC
	MTU  uint16 // IP MTU
}

// Addr is an address the gateway owns on a port. Interface addresses carry
// their subnet's prefix length and add its connected route; VIPs and local
// addresses are single addresses (/32) that the port answers ARP for.
type Addr struct {
	Port   uint16
	Prefix netip.Prefix // the address with its prefix length, e.g. 10.0.0.1/24
	Kind   OwnKind
}

// RouteKind says where a route comes from.
type RouteKind uint8

// Route kinds.
const (
	RouteStatic    RouteKind = iota // ip route add
	RouteConnected                  // the subnet of an interface address (proto kernel)
)

// String returns "static" or "connected".
func (k RouteKind) String() string {
	if k == RouteConnected {
		return "connected"
	}
	return "static"
}

// Route is an IPv4 route. Via is the gateway; the zero netip.Addr means the
// prefix is on-link (connected routes, and static "dev"-only routes). More
// lists the further next hops of an equal-cost multipath route (as a
// routing daemon installs them): each destination takes one, by its hash
// (Snapshot.Route).
type Route struct {
	Prefix netip.Prefix
	Via    netip.Addr
	Port   uint16
	Kind   RouteKind
	More   []Hop
}

// Hop is one further next hop of a multipath route.
type Hop struct {
	Via  netip.Addr
	Port uint16
}

// MaxPaths is the most next hops a route may have.
const MaxPaths = 16

// Equal reports whether r and o are the same route.
func (r Route) Equal(o Route) bool {
	return r.Prefix == o.Prefix && r.Via == o.Via && r.Port == o.Port && r.Kind == o.Kind && slices.Equal(r.More, o.More)
}

// hops returns every next hop of r, the first one first.
func (r Route) hops() []Hop { return append([]Hop{{r.Via, r.Port}}, r.More...) }

// Dest is an address the configuration sends traffic to, a real server, whose
// next hop the stack keeps a neighbour entry for (SetDests).
type Dest struct {
	Addr netip.Addr
	// Direct: the neighbour is Addr itself, on the port its route leaves by,
	// whatever the route's gateway (DR: the packet goes to the real server's
	// MAC). Otherwise it is the route's next hop (FULLNAT, NAT, TUN).
	Direct bool
}

// Solicitation describes an ARP request the stack wants sent (RFC 826):
// broadcast when Dst is zero, unicast to Dst when reconfirming a known
// neighbour. Build it with BuildARPRequest.
type Solicitation struct {
	Port   uint16
	SrcMAC header.MAC
	SrcIP  header.Addr4 // an interface address of the port, 0.0.0.0 if it has none
	Target header.Addr4
	Dst    header.MAC
}

// Hooks are the stack's effects, called synchronously on the owning goroutine.
// None of them may call back into the stack.
type Hooks[P any] struct {
	// Solicit asks for an ARP request to be built and sent.
	Solicit func(r Solicitation)
	// Transmit hands back a packet queued by Output whose next hop resolved:
	// write mac as its destination MAC and send it on port.
	Transmit func(p P, port uint16, mac header.MAC)
	// Drop releases a packet queued by Output that will not be sent.
	Drop func(p P)
}

// Counters are the stack's packet counters, monotonically increasing.
type Counters struct {
	ARPRequestsIn  uint64 // ARP requests received
	ARPRepliesIn   uint64 // ARP replies received
	ARPRepliesOut  uint64 // ARP requests answered (in place)
	ARPConflicts   uint64 // ARP packets whose sender claims an address we own
	ARPInvalid     uint64 // frames HandleARP could not use: malformed, other hardware, bad addresses
	ARPNotLearned  uint64 // requests for our addresses from a sender outside the port's connected subnets: answered, not learned
	EchoRepliesOut uint64 // ICMP echo requests answered (in place)
	ICMPIgnored    uint64 // frames HandleICMP did not answer
	Neigh          NeighStats
}

// Stack is the gateway's user-space replacement for the kernel's IPv4
// control plane on its ports (RFC 1122 host requirements, as far as a load
// balancer needs them): ports, owned addresses, routes, the ARP neighbour
// table, and answers to ARP and ICMP echo.
//
// A Stack is owned by one control goroutine (the control lcore), which calls
// all of its methods except Snapshot. It publishes an immutable *Snapshot for
// the datapath after every change: configuration methods publish before they
// return; packet handling (HandleARP, Output) and timers only mark the state
// changed, and Tick publishes, so a burst of ARP traffic costs one publication.
// Call Tick after each burst of control packets and periodically (≈ every 10
// ms) otherwise.
type Stack[P any] struct {
	hooks     Hooks[P]
	ports     map[uint16]Port
	addrs     []Addr // insertion order: the first interface address of a port is its primary
	routes    map[netip.Prefix]Route
	dests     []Dest
	neigh     *NeighTable[P]
	cnt       Counters
	mul       uint64      // the snapshot maps' hash multiplier (keyMap)
	connected []connected // connected subnets, for HandleARP

	snap atomic.Pointer[Snapshot]
	// Parts of the next snapshot to rebuild: routes; owned addresses;
	// ports and interface addresses (egress, broadcasts, connected
	// subnets); the configured next hops.
	routesDirty, addrsDirty, ifDirty, destsDirty bool
}

type connected struct {
	port  uint16
	pfx   netip.Prefix
	bcast netip.Addr // directed broadcast; invalid for /31 and /32
}

// NewStack returns a stack with no ports; zero fields of cfg take defaults.
// All hooks must be set.
func NewStack[P any](cfg NeighConfig, hooks Hooks[P]) *Stack[P] {
	seed := cfg.HashSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	s := &Stack[P]{
		hooks:  hooks,
		ports:  make(map[uint16]Port),
		routes: make(map[netip.Prefix]Route),
		mul:    mix.Uint64(seed) | 1,
	}
	s.neigh = NewNeighTable(cfg, NeighHooks[P]{Solicit: s.solicit, Transmit: hooks.Transmit, Drop: hooks.Drop})
	s.snap.Store(&Snapshot{routes: buildLPM(nil)})
	s.routesDirty, s.addrsDirty, s.ifDirty, s.destsDirty = true, true, true, true
	s.neigh.changed = true
	s.publish()
	return s
}

// Snapshot returns the latest published snapshot. Unlike every other method it
// may be called from any goroutine.
func (s *Stack[P]) Snapshot() *Snapshot { return s.snap.Load() }

// Counters returns the packet and neighbour counters.
func (s *Stack[P]) Counters() Counters {
	c := s.cnt
	c.Neigh = s.neigh.Stats()
	return c
}

// AddPort registers a port. IDs and names must be unique.
func (s *Stack[P]) AddPort(p Port) error {
	if _, dup := s.ports[p.ID]; dup {
		return fmt.Errorf("port id %d already exists", p.ID)
	}
	if _, dup := s.PortByName(p.Name); dup || p.Name == "" {
		return fmt.Errorf("port name %q is empty or already used", p.Name)
	}
	if p.MTU < 68 { // RFC 791: every host must accept 68-byte datagrams
		return fmt.Errorf("port %s: MTU %d is below the IPv4 minimum of 68", p.Name, p.MTU)
	}
	s.ports[p.ID] = p
	s.addrsDirty, s.ifDirty = true, true
	s.publish()
	return nil
}

// Ports returns the ports sorted by ID.
func (s *Stack[P]) Ports() []Port {
	ps := make([]Port, 0, len(s.ports))
	for _, p := range s.ports {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b Port) int { return cmp.Compare(a.ID, b.ID) })
	return ps
}

// PortByName returns the port called name.
func (s *Stack[P]) PortByName(name string) (Port, bool) {
	for _, p := range s.ports {
		if p.Name == name {
			return p, true
		}
	}
	return Port{}, false
}

func (s *Stack[P]) port(id uint16) (Port, error) {
	p, ok := s.ports[id]
	if !ok {
		return Port{}, fmt.Errorf("no port with id %d", id)
	}
	return p, nil
}

// addr4 validates that a is a unicast IPv4 address usable as a host address.
func addr4(what string, a netip.Addr) (header.Addr4, error) {
	if !a.Is4() {
		return header.Addr4{}, fmt.Errorf("%s %v is not an IPv4 address", what, a)
	}
	if a.IsUnspecified() || a.IsMulticast() || a.IsLoopback() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return header.Addr4{}, fmt.Errorf("%s %v is not a unicast host address", what, a)
	}
	return header.Addr4From(a), nil
}

// AddAddr adds an address owned by the gateway on a port (ip addr add). An
// interface address adds the connected route of its subnet (shared by further
// addresses of the same subnet on the same port); VIPs and local addresses
// must be /32. An address may be owned once. After adding, the caller should
// announce it with a gratuitous ARP (BuildGratuitousARP) on the port.
func (s *Stack[P]) AddAddr(port uint16, pfx netip.Prefix, kind OwnKind) error {
	p, err := s.port(port)
	if err != nil {
		return err
	}
	if _, err := addr4("address", pfx.Addr()); err != nil || !pfx.IsValid() {
		return fmt.Errorf("cannot add %v to %s: not an IPv4 unicast address with a prefix length", pfx, p.Name)
	}
	if kind > OwnLocalAddr {
		return fmt.Errorf("cannot add %v: unknown address kind %d", pfx, kind)
	}
	if kind != OwnInterface && pfx.Bits() != 32 {
		return fmt.Errorf("cannot add %s %v: VIPs and local addresses are single addresses, use /32", kind, pfx)
	}
	for _, a := range s.addrs {
		if a.Prefix.Addr() == pfx.Addr() {
			return fmt.Errorf("cannot add %v: %v is already a %s address of port %d", pfx, pfx.Addr(), a.Kind, a.Port)
		}
	}
	if kind == OwnInterface {
		sub := pfx.Masked()
		if r, ok := s.routes[sub]; ok && (r.Kind != RouteConnected || r.Port != port) {
			return fmt.Errorf("cannot add %v to %s: a %s route to %v on port %d exists; delete it first", pfx, p.Name, r.Kind, sub, r.Port)
		}
		if _, ok := s.routes[sub]; !ok {
			s.routes[sub] = Route{Prefix: sub, Port: port, Kind: RouteConnected}
			s.routesDirty = true
		}
	}
	s.addrs = append(s.addrs, Addr{Port: port, Prefix: pfx, Kind: kind})
	s.addrsDirty = true
	s.ifDirty = s.ifDirty || kind == OwnInterface
	s.publish()
	return nil
}

// DelAddr removes an owned address. Removing the last interface address of a
// subnet removes its connected route; that is refused while a static route
// uses a gateway in the subnet.
func (s *Stack[P]) DelAddr(a netip.Addr) error {
	i := slices.IndexFunc(s.addrs, func(x Addr) bool { return x.Prefix.Addr() == a })
	if i < 0 {
		return fmt.Errorf("cannot delete %v: not an address of the gateway", a)
	}
	del := s.addrs[i]
	if del.Kind == OwnInterface {
		sub := del.Prefix.Masked()
		shared := slices.ContainsFunc(s.addrs, func(x Addr) bool {
			return x.Kind == OwnInterface && x.Prefix != del.Prefix && x.Port == del.Port && x.Prefix.Masked() == sub
		})
		if !shared {
			for _, r := range s.routes {
				if r.Kind == RouteStatic && r.Port == del.Port && r.Via.IsValid() && sub.Contains(r.Via) {
					return fmt.Errorf("cannot delete %v: route %v via %v depends on its subnet; delete the route first", a, r.Prefix, r.Via)
				}
			}
			delete(s.routes, sub)
			s.routesDirty = true
		}
	}
	s.addrs = slices.Delete(s.addrs, i, i+1)
	s.addrsDirty = true
	s.ifDirty = s.ifDirty || del.Kind == OwnInterface
	s.publish()
	return nil
}

// Addrs returns the owned addresses in the order they were added.
func (s *Stack[P]) Addrs() []Addr { return slices.Clone(s.addrs) }

// AddRoute adds a static route (ip route add PREFIX [via GW] dev PORT). The
// prefix must have no host bits set and must not be routed already; a gateway
// must lie in a connected subnet of the port and not be our own address.
func (s *Stack[P]) AddRoute(r Route) error {
	p, err := s.port(r.Port)
	if err != nil {
		return err
	}
	if !r.Prefix.IsValid() || !r.Prefix.Addr().Is4() {
		return fmt.Errorf("route %v: not an IPv4 prefix", r.Prefix)
	}
	if m := r.Prefix.Masked(); m != r.Prefix {
		return fmt.Errorf("route %v: host bits are set; did you mean %v?", r.Prefix, m)
	}
	if old, ok := s.routes[r.Prefix]; ok {
		return fmt.Errorf("route %v: a %s route on port %d exists; delete it first", r.Prefix, old.Kind, old.Port)
	}
	if len(r.More)+1 > MaxPaths {
		return fmt.Errorf("route %v: %d next hops; at most %d", r.Prefix, len(r.More)+1, MaxPaths)
	}
	for _, h := range r.hops() {
		if h.Port != r.Port {
			if p, err = s.port(h.Port); err != nil {
				return err
			}
		}
		if !h.Via.IsValid() {
			continue
		}
		via, err := addr4("gateway", h.Via)
		if err != nil {
			return fmt.Errorf("route %v: %w", r.Prefix, err)
		}
		if _, _, own := s.snap.Load().Owned(via); own {
			return fmt.Errorf("route %v: gateway %v is an address of this gateway", r.Prefix, h.Via)
		}
		if !s.onLink(h.Port, h.Via) {
			return fmt.Errorf("route %v: gateway %v is not in a connected subnet of %s; add an address in its subnet first", r.Prefix, h.Via, p.Name)
		}
	}
	r.Kind = RouteStatic
	r.More = slices.Clone(r.More)
	s.routes[r.Prefix] = r
	s.routesDirty = true
	s.publish()
	return nil
}

func (s *Stack[P]) onLink(port uint16, a netip.Addr) bool {
	for _, r := range s.routes {
		if r.Kind == RouteConnected && r.Port == port && r.Prefix.Contains(a) {
			return true
		}
	}
	return false
}

// DelRoute removes a static route. Connected routes go with their addresses.
func (s *Stack[P]) DelRoute(pfx netip.Prefix) error {
	r, ok := s.routes[pfx]
	switch {
	case !ok:
		return fmt.Errorf("cannot delete route %v: no such route", pfx)
	case r.Kind == RouteConnected:
		return fmt.Errorf("cannot delete route %v: it is the connected route of an interface address; delete the address", pfx)
	}
	delete(s.routes, pfx)
	s.routesDirty = true
	s.publish()
	return nil
}

// Routes returns all routes, connected and static, sorted by prefix.
func (s *Stack[P]) Routes() []Route {
	rs := make([]Route, 0, len(s.routes))
	for _, r := range s.routes {
		rs = append(rs, r)
	}
	slices.SortFunc(rs, func(a, b Route) int {
		if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
			return c
		}
		return cmp.Compare(a.Prefix.Bits(), b.Prefix.Bits())
	})
	return rs
}

// AddNeigh sets a static (PERMANENT) neighbour entry (ip neigh replace ADDR
// lladdr MAC dev PORT); it never ages and ARP never changes it.
func (s *Stack[P]) AddNeigh(port uint16, ip netip.Addr, mac header.MAC) error {
	p, err := s.port(port)
	if err != nil {
		return err
	}
	a, err := addr4("neighbour", ip)
	if err != nil {
		return err
	}
	if mac.IsZero() || mac.IsMulticast() {
		return fmt.Errorf("neighbour %v: lladdr %v is not a unicast MAC address", ip, mac)
	}
	if !s.neigh.AddStatic(port, a, mac) {
		return fmt.Errorf("neighbour %v dev %s: the neighbour table is full of entries in use (%d)", ip, p.Name, s.neigh.Len())
	}
	s.publish()
	return nil
}

// DelNeigh removes a neighbour entry of any state (ip neigh del).
func (s *Stack[P]) DelNeigh(port uint16, ip netip.Addr) error {
	if !ip.Is4() || !s.neigh.Delete(port, header.Addr4From(ip)) {
		return fmt.Errorf("cannot delete neighbour %v on port %d: no such entry", ip, port)
	}
	s.publish()
	return nil
}

// Neighs returns the neighbour entries sorted by port and address (ip neigh show).
func (s *Stack[P]) Neighs() []NeighInfo { return s.neigh.List(nil) }

// SetDests sets the real servers the configuration sends to (every
// destination of every service, DR ones Direct), replacing the previous
// set. The neighbour entry each one's traffic goes to — its route's gateway,
// or the address itself when on-link or Direct — is pinned, as is every
// static route's gateway (AddRoute): a pinned entry is never evicted for
// another, never removed by garbage collection, and its resolution is exempt
// from MaxIncomplete and ResolveRate (Linux's managed neighbours), so that
// unresolved or learned addresses cannot take the table from them. Pins
// follow route and address changes. An address that is not IPv4 is
// refused, and nothing changes.
func (s *Stack[P]) SetDests(ds []Dest) error {
	for _, d := range ds {
		if !d.Addr.Is4() {
			return fmt.Errorf("destination %v: the stack resolves IPv4 next hops only", d.Addr)
		}
	}
	s.dests = slices.Clone(ds)
	s.destsDirty = true
	s.publish()
	return nil
}

// Output sends p to nexthop on port, resolving its MAC first if needed (see
// NeighTable.Output); the packet comes back through Hooks.Transmit or
// Hooks.Drop. The control goroutine calls it for packets the datapath could
// not send because Snapshot.Neigh missed.
func (s *Stack[P]) Output(now int64, port uint16, nexthop header.Addr4, p P) {
	s.neigh.Output(now, port, nexthop, p)
}

// Use reports traffic the datapath sent to nexthop on port with a MAC from the
// snapshot, so that a STALE entry in use is reconfirmed rather than removed
// (see NeighTable.Use).
func (s *Stack[P]) Use(now int64, port uint16, nexthop header.Addr4) {
	s.neigh.Use(now, port, nexthop)
}

// Tick runs the neighbour timers due at now and publishes a new snapshot if
// anything the datapath sees changed since the last publication.
func (s *Stack[P]) Tick(now int64) {
	s.neigh.Tick(now)
	if s.neigh.changed {
		s.publish()
	}
}

// solicit fills in a neighbour table request with the port's MAC and source
// address (Linux inet_select_addr: an interface address in the target's
// subnet, else the port's primary address, else 0.0.0.0 as in RFC 5227).
func (s *Stack[P]) solicit(port uint16, target header.Addr4, dst header.MAC) {
	r := Solicitation{Port: port, SrcMAC: s.ports[port].MAC, Target: target, Dst: dst}
	primary := true
	for _, a := range s.addrs {
		if a.Port != port || a.Kind != OwnInterface {
			continue
		}
		if a.Prefix.Contains(target.Netip()) {
			r.SrcIP = header.Addr4From(a.Prefix.Addr())
			break
		}
		if primary {
			r.SrcIP = header.Addr4From(a.Prefix.Addr())
			primary = false
		}
	}
	s.hooks.Solicit(r)
}

// publish builds and stores the next snapshot, rebuilding only the parts that
// changed and sharing the rest with the previous one.
func (s *Stack[P]) publish() {
	old := s.snap.Load()
	n := *old
	n.gen++
	if s.routesDirty {
		rs := make([]lpmRoute, 0, len(s.routes))
		for _, r := range s.routes {
			lr := lpmRoute{addr: header.Addr4From(r.Prefix.Addr()).Uint32(), bits: uint8(r.Prefix.Bits())}
			for _, h := range r.hops() {
				nh := nexthop{port: h.Port}
				if h.Via.IsValid() {
					nh.via = header.Addr4From(h.Via)
				}
				lr.nh = append(lr.nh, nh)
			}
			rs = append(rs, lr)
		}
		n.routes = buildLPM(rs)
	}
	if s.routesDirty || s.ifDirty {
		// Every cached egress may now take another route or source.
		s.neigh.invalidate()
		s.neigh.changed = true
	}
	if s.routesDirty || s.ifDirty || s.destsDirty {
		s.neigh.setPins(s.pins(n.routes))
	}
	if s.neigh.takeChanged() {
		m := newKeyMap[neighView](s.neigh.Len(), s.mul)
		s.neigh.forValid(func(port uint16, ip header.Addr4, mac header.MAC, ref NeighRef) {
			m.put(snapKey(port, ip), neighView{mac, ref})
		})
		n.neigh = m
		n.refs = s.neigh.appendRefs(make([]NeighRef, 0, len(s.neigh.vers)))
	}
	if s.addrsDirty {
		maxID := -1
		for id := range s.ports {
			maxID = max(maxID, int(id))
		}
		n.ports = make([]portView, maxID+1)
		for id, p := range s.ports {
			n.ports[id] = portView{mac: p.MAC, mtu: p.MTU}
		}
		n.owned = newKeyMap[ownEntry](len(s.addrs), s.mul)
		for _, a := range s.addrs {
			ip := header.Addr4From(a.Prefix.Addr())
			n.owned.put(uint64(ip.Uint32()), ownEntry{port: a.Port, kind: a.Kind})
			if pv := &n.ports[a.Port]; a.Kind == OwnInterface && !pv.hasAddr {
				pv.addr, pv.hasAddr = ip, true
			}
		}
	}
	if s.ifDirty {
		s.connected = s.connected[:0]
		for _, a := range s.addrs {
			if a.Kind != OwnInterface {
				continue
			}
			c := connected{port: a.Port, pfx: a.Prefix.Masked()}
			if a.Prefix.Bits() <= 30 {
				b := c.pfx.Addr().As4()
				for i := a.Prefix.Bits(); i < 32; i++ {
					b[i/8] |= 0x80 >> (i % 8)
				}
				c.bcast = netip.AddrFrom4(b)
			}
			s.connected = append(s.connected, c)
		}
		n.bcast = newKeyMap[struct{}](len(s.connected), s.mul)
		n.bcastLast = [4]uint64{}
		for _, c := range s.connected {
			if c.bcast.IsValid() {
				b := header.Addr4From(c.bcast)
				n.bcast.put(uint64(b.Uint32()), struct{}{})
				n.bcastLast[b[3]>>6] |= 1 << (b[3] & 63)
			}
		}
	}
	s.routesDirty, s.addrsDirty, s.ifDirty, s.destsDirty = false, false, false, false
	s.snap.Store(&n)
}

// pins returns the neighbours the configuration sends to under routes: every
// static route's gateway and the next hop of every destination.
func (s *Stack[P]) pins(routes *lpm) map[neighKey]bool {
	pins := make(map[neighKey]bool, len(s.dests)+len(s.routes))
	for _, r := range s.routes {
		for _, h := range r.hops() {
			if h.Via.IsValid() {
				pins[neighKey{h.Port, header.Addr4From(h.Via)}] = true
			}
		}
	}
	for _, d := range s.dests {
		a := header.Addr4From(d.Addr)
		nh, ok := routes.lookup(a.Uint32())
		if !ok {
			continue
		}
		if d.Direct || nh.via.IsZero() {
			nh.via = a
		}
		pins[neighKey{nh.port, nh.via}] = true
	}
	return pins
}

// connectedTo reports whether ip lies in a connected subnet of port, and is
// not that subnet's directed broadcast.
func (s *Stack[P]) connectedTo(port uint16, ip header.Addr4) bool {
	a := ip.Netip()
	for _, c := range s.connected {
		if c.port == port && c.pfx.Contains(a) && a != c.bcast {
			return true
		}
	}
	return false
}
