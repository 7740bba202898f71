package ctl

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
)

// VirtualService is one service of a Config with its destinations and
// FULLNAT local addresses, both kept sorted (ipvsadm's listing order).
type VirtualService struct {
	Service Service     `json:"service"`
	Dests   []Dest      `json:"dests,omitempty"`
	Laddrs  []LocalAddr `json:"laddrs,omitempty"`
}

// Config is the whole desired state of the gateway: virtual services with
// their destinations and local addresses, session timeouts, and the user
// space stack's addresses, routes and static neighbours.
//
// Contract: a Config is a plain value owned by one goroutine (the daemon's
// control loop); it has no locks. Operations validate first and change
// nothing when they return an error, so a failed command leaves the state as
// it was. Slices are kept sorted and free of duplicates; code outside this
// package should change a Config only through its methods. Services are
// sorted like ipvsadm sorts them (ipvs_cmp_services: fwmark, family,
// protocol, address, port; addresses compared as unsigned numbers where
// ipvsadm's int subtraction can misorder addresses 2^31 apart).
type Config struct {
	Timeouts Timeouts         `json:"timeouts"`
	Sysctl   Sysctl           `json:"sysctl"`
	Services []VirtualService `json:"services,omitempty"`
	Addrs    []Addr           `json:"addrs,omitempty"`
	Routes   []Route          `json:"routes,omitempty"`
	Neighs   []Neigh          `json:"neighs,omitempty"`
	// Marks are the firewall-mark rules, in matching order (mark.go).
	Marks []MarkRule `json:"marks,omitempty"`
}

// NewConfig returns an empty Config with the default timeouts.
func NewConfig() *Config { return &Config{Timeouts: DefaultTimeouts} }

// Clone returns a deep copy of c.
func (c *Config) Clone() *Config {
	n := &Config{Timeouts: c.Timeouts, Sysctl: c.Sysctl,
		Addrs:  slices.Clone(c.Addrs),
		Routes: slices.Clone(c.Routes),
		Neighs: slices.Clone(c.Neighs),
		Marks:  slices.Clone(c.Marks),
	}
	if c.Services != nil {
		n.Services = make([]VirtualService, len(c.Services))
	}
	for i, vs := range c.Services {
		vs.Service.Flags = slices.Clone(vs.Service.Flags)
		vs.Dests = slices.Clone(vs.Dests)
		vs.Laddrs = slices.Clone(vs.Laddrs)
		n.Services[i] = vs
	}
	return n
}

// Equal reports whether c and o describe the same state.
func (c *Config) Equal(o *Config) bool {
	return c.Timeouts == o.Timeouts && c.Sysctl == o.Sysctl &&
		slices.Equal(c.Addrs, o.Addrs) && slices.Equal(c.Routes, o.Routes) && slices.Equal(c.Neighs, o.Neighs) &&
		slices.Equal(c.Marks, o.Marks) &&
		slices.EqualFunc(c.Services, o.Services, func(a, b VirtualService) bool {
			return a.Service.Equal(b.Service) && slices.Equal(a.Dests, b.Dests) && slices.Equal(a.Laddrs, b.Laddrs)
		})
}

func cmpAddr(a, b netip.Addr) int {
	if c := cmp.Compare(a.BitLen(), b.BitLen()); c != 0 {
		return c
	}
	return a.Compare(b)
}

// CompareServiceKeys orders keys as ipvsadm lists services.
func CompareServiceKeys(a, b ServiceKey) int {
	if c := cmp.Compare(a.FwMark, b.FwMark); c != 0 {
		return c
	}
	if c := cmp.Compare(a.VIP.BitLen(), b.VIP.BitLen()); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Proto, b.Proto); c != 0 {
		return c
	}
	if c := a.VIP.Compare(b.VIP); c != 0 {
		return c
	}
	return cmp.Compare(a.Port, b.Port)
}

func cmpDest(a, b Dest) int {
	if c := cmpAddr(a.Addr, b.Addr); c != 0 {
		return c
	}
	return cmp.Compare(a.Port, b.Port)
}

func (c *Config) find(k ServiceKey) (int, bool) {
	return slices.BinarySearchFunc(c.Services, k, func(vs VirtualService, k ServiceKey) int {
		return CompareServiceKeys(vs.Service.Key(), k)
	})
}

// Lookup returns the service with key k. The pointer is into c and valid
// until the next change of c; do not keep it.
func (c *Config) Lookup(k ServiceKey) (*VirtualService, bool) {
	i, ok := c.find(k)
	if !ok {
		return nil, false
	}
	return &c.Services[i], true
}

func (c *Config) mustFind(k ServiceKey) (int, error) {
	i, ok := c.find(k)
	if !ok {
		return 0, noServicef("service %s does not exist", k)
	}
	return i, nil
}

// CheckService reports an ErrNoService error naming s when s is not nil and
// c has no such service: for commands that name a service without changing
// it (ipvsadm -Z, which the kernel refuses with ESRCH).
func (c *Config) CheckService(s *Service) error {
	if s == nil {
		return nil
	}
	_, err := c.mustFind(s.Key())
	return err
}

// AddService adds s (ipvsadm -A). Defaults are applied as ipvsadm does: an
// empty scheduler is wlc, persistence without a timeout is 300 s.
func (c *Config) AddService(s Service) error {
	s, err := s.normalize()
	if err != nil {
		return err
	}
	i, ok := c.find(s.Key())
	if ok {
		return existsf("service %s already exists", s.Key())
	}
	c.Services = slices.Insert(c.Services, i, VirtualService{Service: s})
	return nil
}

// EditService replaces the attributes of an existing service (ipvsadm -E):
// like the kernel, every attribute is replaced, so an edit without -p turns
// persistence off. Destinations, local addresses and the health settings
// (which ipvsadm cannot express) are kept.
func (c *Config) EditService(s Service) error {
	i, err := c.mustFind(s.Key())
	if err != nil {
		return err
	}
	s.Health = c.Services[i].Service.Health
	return c.setService(s)
}

// setService replaces every attribute of an existing service, its health
// settings included (a reload's change).
func (c *Config) setService(s Service) error {
	s, err := s.normalize()
	if err != nil {
		return err
	}
	i, err := c.mustFind(s.Key())
	if err != nil {
		return err
	}
	for _, d := range c.Services[i].Dests {
		if err := d.check(s); err != nil {
			return fmt.Errorf("service %s: %w", s.Key(), err)
		}
	}
	c.Services[i].Service = s
	return nil
}

// DelService deletes a service with its destinations and local addresses (-D).
func (c *Config) DelService(k ServiceKey) error {
	i, err := c.mustFind(k)
	if err != nil {
		return err
	}
	c.Services = slices.Delete(c.Services, i, i+1)
	return nil
}

// Clear deletes every service (ipvsadm -C). Timeouts and the stack stay.
func (c *Config) Clear() { c.Services = nil }

// AddDest adds d to service k (ipvsadm -a). Direct routing and tunnel
// destinations must use the service port (ipvsadm forces it: the packet is
// not rewritten); only tunnel destinations may be of another address family.
func (c *Config) AddDest(k ServiceKey, d Dest) error {
	i, err := c.mustFind(k)
	if err != nil {
		return err
	}
	vs := &c.Services[i]
	if err := d.check(vs.Service); err != nil {
		return fmt.Errorf("service %s: %w", k, err)
	}
	j, ok := slices.BinarySearchFunc(vs.Dests, d, cmpDest)
	if ok {
		return existsf("service %s: real server %s already exists", k, d.Key())
	}
	vs.Dests = slices.Insert(vs.Dests, j, d)
	return nil
}

// EditDest replaces an existing destination's attributes (ipvsadm -e). A
// zero d.Fwd keeps the destination's forwarding method (and tunnel type):
// `-e -w 0` quiesces a FULLNAT server without turning it into direct
// routing, which ipvsadm, whose -e defaults to -g, would do. Its health
// check is kept (ipvsadm cannot express it).
func (c *Config) EditDest(k ServiceKey, d Dest) error {
	return c.editDest(k, d, true)
}

// editDest is EditDest; without keepCheck, d's check replaces the
// destination's (a reload's change).
func (c *Config) editDest(k ServiceKey, d Dest, keepCheck bool) error {
	i, err := c.mustFind(k)
	if err != nil {
		return err
	}
	vs := &c.Services[i]
	j, ok := slices.BinarySearchFunc(vs.Dests, d, cmpDest)
	if !ok {
		return notFoundf("service %s: real server %s does not exist", k, d.Key())
	}
	if d.Fwd == 0 {
		d.Fwd, d.TunType = vs.Dests[j].Fwd, vs.Dests[j].TunType
	}
	if keepCheck {
		d.Check = vs.Dests[j].Check
	}
	if err := d.check(vs.Service); err != nil {
		return fmt.Errorf("service %s: %w", k, err)
	}
	vs.Dests[j] = d
	return nil
}

// DelDest deletes a destination (ipvsadm -d).
func (c *Config) DelDest(k ServiceKey, dk DestKey) error {
	i, err := c.mustFind(k)
	if err != nil {
		return err
	}
	vs := &c.Services[i]
	j, ok := slices.BinarySearchFunc(vs.Dests, Dest{Addr: dk.Addr, Port: dk.Port}, cmpDest)
	if !ok {
		return notFoundf("service %s: real server %s does not exist", k, dk)
	}
	vs.Dests = slices.Delete(vs.Dests, j, j+1)
	return nil
}

func cmpLaddr(a, b LocalAddr) int { return cmpAddr(a.Addr, b.Addr) }

// AddLaddr adds a FULLNAT local address to service k (DPVS --add-laddr).
func (c *Config) AddLaddr(k ServiceKey, l LocalAddr) error {
	i, err := c.mustFind(k)
	if err != nil {
		return err
	}
	vs := &c.Services[i]
	if !l.Addr.IsValid() || l.Addr.IsUnspecified() || l.Addr.IsMulticast() || l.Addr.Zone() != "" {
		return invalidf("service %s: local address %s is not a unicast address", k, l.Addr)
	}
	if l.Addr.BitLen() != vs.Service.family().BitLen() {
		return invalidf("service %s: local address %s is of another address family than the service", k, l.Addr)
	}
	if err := CheckPortName(l.Port); err != nil {
		return fmt.Errorf("service %s: local address %s: %w", k, l.Addr, err)
	}
	j, ok := slices.BinarySearchFunc(vs.Laddrs, l, cmpLaddr)
	if ok {
		return existsf("service %s: local address %s already exists", k, l.Addr)
	}
	vs.Laddrs = slices.Insert(vs.Laddrs, j, l)
	return nil
}

// DelLaddr deletes a local address of service k (DPVS --del-laddr).
func (c *Config) DelLaddr(k ServiceKey, a netip.Addr) error {
	i, err := c.mustFind(k)
	if err != nil {
		return err
	}
	vs := &c.Services[i]
	j, ok := slices.BinarySearchFunc(vs.Laddrs, LocalAddr{Addr: a}, cmpLaddr)
	if !ok {
		return notFoundf("service %s: local address %s does not exist", k, a)
	}
	vs.Laddrs = slices.Delete(vs.Laddrs, j, j+1)
	return nil
}

// SetTimeouts sets session timeouts in seconds (ipvsadm --set); a zero field
// leaves that timeout unchanged, as in the kernel.
func (c *Config) SetTimeouts(t Timeouts) error {
	for _, v := range []uint32{t.TCP, t.TCPFin, t.UDP, t.SynRecv, t.UDPOneway} {
		if v > MaxTimeout {
			return invalidf("timeout %d above the maximum %d", v, MaxTimeout)
		}
	}
	if t.TCP != 0 {
		c.Timeouts.TCP = t.TCP
	}
	if t.TCPFin != 0 {
		c.Timeouts.TCPFin = t.TCPFin
	}
	if t.UDP != 0 {
		c.Timeouts.UDP = t.UDP
	}
	if t.SynRecv != 0 {
		c.Timeouts.SynRecv = t.SynRecv
	}
	if t.UDPOneway != 0 {
		c.Timeouts.UDPOneway = t.UDPOneway
	}
	return nil
}

func cmpIfAddr(a, b Addr) int {
	if c := cmp.Compare(a.Port, b.Port); c != 0 {
		return c
	}
	return cmpAddr(a.Prefix.Addr(), b.Prefix.Addr())
}

// AddAddr adds an interface address to a port.
func (c *Config) AddAddr(a Addr) error {
	if err := a.check(); err != nil {
		return err
	}
	for _, o := range c.Addrs {
		if o.Prefix.Addr() == a.Prefix.Addr() {
			return existsf("address %s already exists on port %s", a.Prefix.Addr(), o.Port)
		}
	}
	i, _ := slices.BinarySearchFunc(c.Addrs, a, cmpIfAddr)
	c.Addrs = slices.Insert(c.Addrs, i, a)
	return nil
}

// DelAddr deletes the address a.Prefix.Addr() from port a.Port (the prefix
// length is not compared).
func (c *Config) DelAddr(a Addr) error {
	i, ok := slices.BinarySearchFunc(c.Addrs, a, cmpIfAddr)
	if !ok {
		return notFoundf("address %s does not exist on port %s", a.Prefix.Addr(), a.Port)
	}
	c.Addrs = slices.Delete(c.Addrs, i, i+1)
	return nil
}

func cmpRoute(a, b Route) int {
	if c := cmpAddr(a.Prefix.Addr(), b.Prefix.Addr()); c != 0 {
		return c
	}
	return cmp.Compare(a.Prefix.Bits(), b.Prefix.Bits())
}

// Connected reports the port whose interface prefix contains ip.
func (c *Config) Connected(ip netip.Addr) (port string, ok bool) {
	for _, a := range c.Addrs {
		if a.Prefix.Masked().Contains(ip) {
			return a.Port, true
		}
	}
	return "", false
}

// AddRoute adds a static route. Like the kernel, a gateway must be on a
// connected subnet of the route's port ("Nexthop has invalid gateway").
func (c *Config) AddRoute(r Route) error {
	if err := r.check(); err != nil {
		return err
	}
	if r.Via.IsValid() {
		ok := false
		for _, a := range c.Addrs {
			if a.Port == r.Port && a.Prefix.Masked().Contains(r.Via) {
				ok = true
			}
		}
		if !ok {
			return invalidf("route %s: gateway %s is not on a subnet of port %s; add an address on that subnet first", r.Prefix, r.Via, r.Port)
		}
	}
	i, ok := slices.BinarySearchFunc(c.Routes, r, cmpRoute)
	if ok {
		return existsf("route %s already exists", r.Prefix)
	}
	c.Routes = slices.Insert(c.Routes, i, r)
	return nil
}

// DelRoute deletes the route for prefix p.
func (c *Config) DelRoute(p netip.Prefix) error {
	i, ok := slices.BinarySearchFunc(c.Routes, Route{Prefix: p}, cmpRoute)
	if !ok {
		return notFoundf("route %s does not exist", p)
	}
	c.Routes = slices.Delete(c.Routes, i, i+1)
	return nil
}

func cmpNeigh(a, b Neigh) int {
	if c := cmp.Compare(a.Port, b.Port); c != 0 {
		return c
	}
	return cmpAddr(a.Addr, b.Addr)
}

// AddNeigh adds a static neighbour entry.
func (c *Config) AddNeigh(n Neigh) error {
	if err := n.check(); err != nil {
		return err
	}
	i, ok := slices.BinarySearchFunc(c.Neighs, n, cmpNeigh)
	if ok {
		return existsf("neighbour %s already exists on port %s", n.Addr, n.Port)
	}
	c.Neighs = slices.Insert(c.Neighs, i, n)
	return nil
}

// DelNeigh deletes the static neighbour addr on port.
func (c *Config) DelNeigh(port string, addr netip.Addr) error {
	i, ok := slices.BinarySearchFunc(c.Neighs, Neigh{Addr: addr, Port: port}, cmpNeigh)
	if !ok {
		return notFoundf("neighbour %s does not exist on port %s", addr, port)
	}
	c.Neighs = slices.Delete(c.Neighs, i, i+1)
	return nil
}
