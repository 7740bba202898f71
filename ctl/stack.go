package ctl

import (
	"fmt"
	"net/netip"
	"strings"
)

// MAC is an Ethernet address. It has the same layout as header.MAC, so the
// daemon converts with header.MAC(m).
type MAC [6]byte

func (m MAC) String() string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}

// IsZero reports whether m is 00:00:00:00:00:00.
func (m MAC) IsZero() bool { return m == MAC{} }

// IsUnicast reports whether m is a non-zero unicast address (I/G bit clear).
func (m MAC) IsUnicast() bool { return !m.IsZero() && m[0]&1 == 0 }

// ParseMAC parses six colon- or dash-separated hex octets.
func ParseMAC(s string) (MAC, error) {
	var m MAC
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == ':' || r == '-' })
	if len(parts) != 6 || len(s) != 17 {
		return m, invalidf("MAC address %q: want six hex octets, e.g. 02:00:00:00:00:01", s)
	}
	for i, p := range parts {
		var v byte
		for _, c := range []byte(p) {
			switch {
			case c >= '0' && c <= '9':
				v = v<<4 | (c - '0')
			case c >= 'a' && c <= 'f':
				v = v<<4 | (c - 'a' + 10)
			case c >= 'A' && c <= 'F':
				v = v<<4 | (c - 'A' + 10)
			default:
				return MAC{}, invalidf("MAC address %q: %q is not hex", s, p)
			}
		}
		if len(p) != 2 {
			return MAC{}, invalidf("MAC address %q: want six hex octets, e.g. 02:00:00:00:00:01", s)
		}
		m[i] = v
	}
	return m, nil
}

func (m MAC) MarshalText() ([]byte, error) { return []byte(m.String()), nil }
func (m *MAC) UnmarshalText(b []byte) error {
	v, err := ParseMAC(string(b))
	*m = v
	return err
}

// Addr is an interface address of a DPDK port ("ip addr add 198.18.1.1/24
// dev dpdk0"); its prefix is also the port's connected route.
type Addr struct {
	Prefix netip.Prefix `json:"prefix"` // address and prefix length, not masked
	Port   string       `json:"dev"`
}

// Route is a static route: Prefix reached via the gateway Via on Port. A
// zero Via means a connected route (the destination itself is the next hop).
type Route struct {
	Prefix netip.Prefix `json:"prefix"` // masked
	Via    netip.Addr   `json:"via,omitzero"`
	Port   string       `json:"dev"`
}

// Neigh is a static (permanent) neighbour entry.
type Neigh struct {
	Addr netip.Addr `json:"addr"`
	MAC  MAC        `json:"lladdr"`
	Port string     `json:"dev"`
}

func (a Addr) String() string { return a.Prefix.String() + " dev " + a.Port }
func (n Neigh) String() string {
	return n.Addr.String() + " lladdr " + n.MAC.String() + " dev " + n.Port
}
func (r Route) String() string {
	if r.Via.IsValid() {
		return r.Prefix.String() + " via " + r.Via.String() + " dev " + r.Port
	}
	return r.Prefix.String() + " dev " + r.Port
}

// ParsePrefix parses "ADDR/BITS" keeping the host bits (an interface address).
func ParsePrefix(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil || p.Addr().Zone() != "" {
		return netip.Prefix{}, invalidf("%q is not an address with prefix length, e.g. 198.18.1.1/24", s)
	}
	return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()), nil
}

// check validates a for Config.
func (a Addr) check() error {
	if !a.Prefix.IsValid() {
		return invalidf("address %s: not a prefix", a.Prefix)
	}
	ip := a.Prefix.Addr()
	if ip.IsUnspecified() || ip.IsMulticast() || ip.IsLoopback() {
		return invalidf("address %s: not a unicast host address", a.Prefix)
	}
	if ip.Is4() && a.Prefix.Bits() < 31 {
		m := a.Prefix.Masked().Addr()
		if ip == m {
			return invalidf("address %s is the network address of its subnet; use a host address", a.Prefix)
		}
		if ip == lastAddr(a.Prefix) {
			return invalidf("address %s is the broadcast address of its subnet; use a host address", a.Prefix)
		}
	}
	return CheckPortName(a.Port)
}

// lastAddr returns the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// ParseAddr parses "PREFIX dev PORT".
func ParseAddr(s string) (Addr, error) {
	f := strings.Fields(s)
	if len(f) != 3 || f[1] != "dev" {
		return Addr{}, invalidf("address %q: want ADDR/BITS dev PORT, e.g. 198.18.1.1/24 dev dpdk0", s)
	}
	p, err := ParsePrefix(f[0])
	if err != nil {
		return Addr{}, err
	}
	a := Addr{Prefix: p, Port: f[2]}
	return a, a.check()
}

// ParseRoute parses "PREFIX [via ADDR] dev PORT". The prefix must be masked
// (no host bits), as for "ip route".
func ParseRoute(s string) (Route, error) {
	f := strings.Fields(s)
	var r Route
	if len(f) != 3 && len(f) != 5 {
		return r, invalidf("route %q: want PREFIX [via ADDR] dev PORT, e.g. 0.0.0.0/0 via 198.18.1.254 dev dpdk0", s)
	}
	p, err := ParsePrefix(f[0])
	if err != nil {
		return r, fmt.Errorf("route %q: %w", s, err)
	}
	r.Prefix = p
	f = f[1:]
	if f[0] == "via" {
		if r.Via, err = ParseIP(f[1]); err != nil {
			return r, fmt.Errorf("route %q: %w", s, err)
		}
		f = f[2:]
	}
	if len(f) != 2 || f[0] != "dev" {
		return r, invalidf("route %q: want PREFIX [via ADDR] dev PORT", s)
	}
	r.Port = f[1]
	return r, r.check()
}

func (r Route) check() error {
	if !r.Prefix.IsValid() {
		return invalidf("route %s: not a prefix", r.Prefix)
	}
	if r.Prefix != r.Prefix.Masked() {
		return invalidf("route %s: has host bits set; did you mean %s?", r.Prefix, r.Prefix.Masked())
	}
	if r.Via.IsValid() && r.Via.BitLen() != r.Prefix.Addr().BitLen() {
		return invalidf("route %s: gateway %s is of another address family", r.Prefix, r.Via)
	}
	return CheckPortName(r.Port)
}

// ParseNeigh parses "ADDR lladdr MAC dev PORT".
func ParseNeigh(s string) (Neigh, error) {
	f := strings.Fields(s)
	if len(f) != 5 || f[1] != "lladdr" || f[3] != "dev" {
		return Neigh{}, invalidf("neighbour %q: want ADDR lladdr MAC dev PORT, e.g. 198.18.1.254 lladdr 02:00:00:00:00:01 dev dpdk0", s)
	}
	a, err := ParseIP(f[0])
	if err != nil {
		return Neigh{}, fmt.Errorf("neighbour %q: %w", s, err)
	}
	m, err := ParseMAC(f[2])
	if err != nil {
		return Neigh{}, fmt.Errorf("neighbour %q: %w", s, err)
	}
	n := Neigh{Addr: a, MAC: m, Port: f[4]}
	return n, n.check()
}

func (n Neigh) check() error {
	if !n.Addr.IsValid() || n.Addr.IsUnspecified() || n.Addr.IsMulticast() {
		return invalidf("neighbour %s: not a unicast address", n.Addr)
	}
	if !n.MAC.IsUnicast() {
		return invalidf("neighbour %s: %s is not a unicast MAC address", n.Addr, n.MAC)
	}
	return CheckPortName(n.Port)
}
