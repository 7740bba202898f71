package ctl

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Canonical text forms. Every String has a Parse that reads it back to an
// equal value (tested as a property):
//
//	ServiceKey  198.18.1.100:80/tcp            [2001:db8::1]:443/tcp
//	Service     tcp 198.18.1.100:80 wlc        udp 198.18.1.100:53 sh (sh-port) persistent 300 mask 255.255.255.0
//	Dest        10.0.0.1:8080 fullnat weight 1 u-threshold 100 l-threshold 10
//	LocalAddr   198.18.1.10 dev dpdk0
//	Timeouts    900 120 300
//
// The Service form is ipvsadm's listing line with the protocol in lower case.

func (k ServiceKey) String() string {
	if k.FwMark != 0 {
		return "fwmark:" + strconv.FormatUint(uint64(k.FwMark), 10)
	}
	return netip.AddrPortFrom(k.VIP, k.Port).String() + "/" + k.Proto.String()
}

// ParseServiceKey parses "ADDR:PORT/PROTO" or "fwmark:MARK".
func ParseServiceKey(s string) (ServiceKey, error) {
	if m, ok := strings.CutPrefix(s, "fwmark:"); ok {
		n, err := parseUint32("firewall mark", m, 1<<32-1)
		if err != nil || n == 0 {
			return ServiceKey{}, invalidf("service %q: want fwmark:MARK with MARK 1-%d", s, uint32(1<<32-1))
		}
		return ServiceKey{FwMark: n, Proto: TCP}, nil
	}
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		return ServiceKey{}, invalidf("service %q: want ADDR:PORT/PROTO, e.g. 198.18.1.100:80/tcp", s)
	}
	p, err := ParseProto(s[i+1:])
	if err != nil {
		return ServiceKey{}, fmt.Errorf("service %q: %w", s, err)
	}
	ap, err := parseAddrPort(s[:i])
	if err != nil {
		return ServiceKey{}, fmt.Errorf("service %q: %w", s, err)
	}
	return ServiceKey{Proto: p, VIP: ap.Addr(), Port: ap.Port()}, nil
}

func (k ServiceKey) MarshalText() ([]byte, error) { return []byte(k.String()), nil }
func (k *ServiceKey) UnmarshalText(b []byte) error {
	v, err := ParseServiceKey(string(b))
	*k = v
	return err
}

// parseAddrPort parses "1.2.3.4:80" or "[2001:db8::1]:80" with a numeric
// port, naming the offending part on error.
func parseAddrPort(s string) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(s)
	if err == nil {
		return ap, nil
	}
	host, port, ok := cutPort(s)
	if !ok {
		return netip.AddrPort{}, invalidf("%q: want ADDR:PORT, e.g. 198.18.1.100:80 or [2001:db8::1]:80", s)
	}
	a, err := ParseIP(host)
	if err != nil {
		return netip.AddrPort{}, err
	}
	n, err := parsePort(port)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(a, n), nil
}

// cutPort splits "host:port" or "[host]:port".
func cutPort(s string) (host, port string, ok bool) {
	if strings.HasPrefix(s, "[") {
		h, rest, found := strings.Cut(s[1:], "]")
		if !found || !strings.HasPrefix(rest, ":") {
			return "", "", false
		}
		return h, rest[1:], true
	}
	i := strings.LastIndexByte(s, ':')
	if i < 0 || strings.Count(s, ":") > 1 {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}

// ParseIP parses a numeric IPv4 or IPv6 address (no zone, no host names).
func ParseIP(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, invalidf("%q is not a numeric IP address (host names are not resolved)", s)
	}
	return a.Unmap(), nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, invalidf("port %q must be a number 0-65535 (service names are not resolved)", s)
	}
	return uint16(n), nil
}

func parseUint32(what, s string, max uint64) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n > max {
		return 0, invalidf("%s %q must be a number 0-%d", what, s, max)
	}
	return uint32(n), nil
}

// MaskString is the -M/"mask" text of the persistence netmask: dotted quad
// for IPv4, a prefix length for IPv6 (as ipvsadm prints them).
func (s Service) MaskString() string {
	if s.family().Is4() {
		m := s.Netmask
		if !m.IsValid() {
			m = netip.AddrFrom4([4]byte{255, 255, 255, 255})
		}
		return m.String()
	}
	return strconv.Itoa(s.MaskBits())
}

// ParseMask parses an -M value for a service whose VIP is like.
func ParseMask(like netip.Addr, s string) (netip.Addr, error) {
	if like.Is6() {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 128 {
			// ipvsadm: "illegal ipv6 netmask specified".
			return netip.Addr{}, invalidf("IPv6 netmask %q must be a prefix length 1-128", s)
		}
		return MaskFromBits(like, n)
	}
	m, err := netip.ParseAddr(s)
	if err != nil || !m.Is4() {
		return netip.Addr{}, invalidf("netmask %q must be a dotted quad such as 255.255.255.0", s)
	}
	if _, ok := maskBits(m); !ok {
		return netip.Addr{}, invalidf("netmask %q is not contiguous", s)
	}
	return m, nil
}

func (s Service) String() string {
	var b strings.Builder
	if s.FwMark != 0 {
		fmt.Fprintf(&b, "fwmark %d %s", s.FwMark, s.sched())
	} else {
		fmt.Fprintf(&b, "%s %s %s", s.Proto, netip.AddrPortFrom(s.VIP, s.Port), s.sched())
	}
	if len(s.Flags) > 0 {
		b.WriteString(" (" + strings.Join(s.Flags, ",") + ")")
	}
	if s.Persistent {
		fmt.Fprintf(&b, " persistent %d", s.Timeout)
		if s.Netmask.IsValid() {
			b.WriteString(" mask " + s.MaskString())
		}
	}
	if s.OnePacket {
		b.WriteString(" ops")
	}
	writeClientAddr(&b, s)
	return b.String()
}

func (s Service) sched() string {
	if s.Sched == "" {
		return DefaultSched
	}
	return s.Sched
}

// ParseService parses the canonical Service form and normalizes it.
func ParseService(str string) (Service, error) {
	f := strings.Fields(str)
	if len(f) < 3 {
		return Service{}, invalidf("service %q: want PROTO ADDR:PORT|fwmark MARK SCHED [(FLAGS)] [persistent N [mask M]] [ops] [proxy-protocol v1|v2] [toa]", str)
	}
	var s Service
	var err error
	if f[0] == "fwmark" {
		m, err := parseUint32("firewall mark", f[1], 1<<32-1)
		if err != nil {
			return Service{}, fmt.Errorf("service %q: %w", str, err)
		}
		s.FwMark, s.Proto = m, TCP
	} else {
		if s.Proto, err = ParseProto(f[0]); err != nil {
			return Service{}, fmt.Errorf("service %q: %w", str, err)
		}
		ap, err := parseAddrPort(f[1])
		if err != nil {
			return Service{}, fmt.Errorf("service %q: %w", str, err)
		}
		s.VIP, s.Port = ap.Addr(), ap.Port()
	}
	s.Sched = f[2]
	f = f[3:]
	if len(f) > 0 && strings.HasPrefix(f[0], "(") && strings.HasSuffix(f[0], ")") {
		s.Flags = strings.Split(f[0][1:len(f[0])-1], ",")
		f = f[1:]
	}
	for len(f) > 0 {
		if f[0] == "ops" {
			s.OnePacket = true
			f = f[1:]
			continue
		}
		if f[0] == "toa" {
			s.TOA = true
			f = f[1:]
			continue
		}
		if len(f) < 2 {
			return Service{}, invalidf("service %q: %q needs a value", str, f[0])
		}
		switch f[0] {
		case "persistent":
			s.Persistent = true
			if s.Timeout, err = parseUint32("persistence timeout", f[1], MaxTimeout); err != nil {
				return Service{}, fmt.Errorf("service %q: %w", str, err)
			}
		case "mask":
			if s.Netmask, err = ParseMask(s.VIP, f[1]); err != nil {
				return Service{}, fmt.Errorf("service %q: %w", str, err)
			}
		case "proxy-protocol":
			if s.ProxyProtocol, err = ParseProxyVersion(f[1]); err != nil {
				return Service{}, fmt.Errorf("service %q: %w", str, err)
			}
		default:
			return Service{}, invalidf("service %q: unexpected %q; want persistent N, mask M, ops, proxy-protocol V or toa", str, f[0])
		}
		f = f[2:]
	}
	if s.Netmask.IsValid() && !s.Persistent {
		return Service{}, invalidf("service %q: mask needs persistent", str)
	}
	return s.normalize()
}

func (d Dest) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s weight %d", d.Key(), d.Fwd, d.Weight)
	if d.UThresh != 0 {
		fmt.Fprintf(&b, " u-threshold %d", d.UThresh)
	}
	if d.LThresh != 0 {
		fmt.Fprintf(&b, " l-threshold %d", d.LThresh)
	}
	return b.String()
}

// ParseDest parses the canonical Dest form ("tun-type ipip" is also accepted).
// It checks syntax and ranges only; service-dependent rules are checked when
// the destination is added to a Config.
func ParseDest(str string) (Dest, error) {
	f := strings.Fields(str)
	if len(f) < 2 {
		return Dest{}, invalidf("real server %q: want ADDR:PORT MODE [weight N] [u-threshold N] [l-threshold N]", str)
	}
	var d Dest
	ap, err := parseAddrPort(f[0])
	if err != nil {
		return Dest{}, fmt.Errorf("real server %q: %w", str, err)
	}
	d.Addr, d.Port, d.Weight = ap.Addr(), ap.Port(), 1
	if d.Fwd, err = ParseFwdMode(f[1]); err != nil {
		return Dest{}, fmt.Errorf("real server %q: %w", str, err)
	}
	for f = f[2:]; len(f) > 0; f = f[2:] {
		if len(f) < 2 {
			return Dest{}, invalidf("real server %q: %q needs a value", str, f[0])
		}
		var v uint32
		switch f[0] {
		case "weight":
			v, err = parseUint32("weight", f[1], MaxWeight)
			d.Weight = int(v)
		case "u-threshold":
			d.UThresh, err = parseUint32("upper threshold", f[1], MaxThreshold)
		case "l-threshold":
			d.LThresh, err = parseUint32("lower threshold", f[1], MaxThreshold)
		case "tun-type":
			d.TunType, err = ParseTunType(f[1])
		default:
			err = invalidf("unexpected %q; want weight, u-threshold, l-threshold or tun-type", f[0])
		}
		if err != nil {
			return Dest{}, fmt.Errorf("real server %q: %w", str, err)
		}
	}
	return d, nil
}

func (l LocalAddr) String() string { return l.Addr.String() + " dev " + l.Port }

// ParseLocalAddr parses "ADDR dev PORT".
func ParseLocalAddr(s string) (LocalAddr, error) {
	f := strings.Fields(s)
	if len(f) != 3 || f[1] != "dev" {
		return LocalAddr{}, invalidf("local address %q: want ADDR dev PORT, e.g. 198.18.1.10 dev dpdk0", s)
	}
	a, err := ParseIP(f[0])
	if err != nil {
		return LocalAddr{}, fmt.Errorf("local address %q: %w", s, err)
	}
	if err := CheckPortName(f[2]); err != nil {
		return LocalAddr{}, fmt.Errorf("local address %q: %w", s, err)
	}
	return LocalAddr{Addr: a, Port: f[2]}, nil
}

// CheckPortName validates a DPDK port name as used in configs and commands:
// a letter, then up to 31 letters, digits, '_', '-' or '.'.
func CheckPortName(s string) error {
	ok := len(s) > 0 && len(s) <= 32
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'):
		default:
			ok = false
		}
	}
	if !ok {
		return invalidf("port name %q: want a letter then up to 31 letters, digits, '_', '-' or '.', e.g. dpdk0", s)
	}
	return nil
}

func (t Timeouts) String() string { return fmt.Sprintf("%d %d %d", t.TCP, t.TCPFin, t.UDP) }

// ParseTimeouts parses "TCP TCPFIN UDP" seconds (0 = unchanged in SetTimeouts).
func ParseTimeouts(s string) (Timeouts, error) {
	f := strings.Fields(s)
	if len(f) != 3 {
		return Timeouts{}, invalidf("timeouts %q: want three numbers: tcp tcpfin udp", s)
	}
	var t Timeouts
	var err error
	for i, p := range []*uint32{&t.TCP, &t.TCPFin, &t.UDP} {
		if *p, err = parseUint32("timeout", f[i], MaxTimeout); err != nil {
			return Timeouts{}, err
		}
	}
	return t, nil
}
