package ctl

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Error classes. Every error returned by a Config operation wraps one of
// these (ErrNoService is also ErrNotFound), so the daemon can map them to exit codes or wire statuses with
// errors.Is; the message itself always names the offending value.
var (
	ErrInvalid  = errors.New("invalid")        // a value is out of range or inconsistent
	ErrExists   = errors.New("already exists") // add of something present
	ErrNotFound = errors.New("not found")      // edit/delete of something absent
	ErrFull     = errors.New("too many")       // an add beyond what the gateway has room for
	// ErrNoService is the ErrNotFound of a command whose service does not
	// exist, as opposed to a destination or local address missing from an
	// existing service (ipvsadm tells them apart: "No such service",
	// "Service not defined" / "No such destination").
	ErrNoService = fmt.Errorf("service %w", ErrNotFound)
)

// kindError carries a message that names the offending value and unwraps
// to its class (ErrInvalid, ErrExists, ErrNotFound).
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

func invalidf(format string, a ...any) error {
	return &kindError{ErrInvalid, fmt.Sprintf(format, a...)}
}

// Invalidf is an error of class ErrInvalid with the message as given (no
// class prefix), for the daemon's own checks.
func Invalidf(format string, a ...any) error { return invalidf(format, a...) }

func existsf(format string, a ...any) error {
	return &kindError{ErrExists, fmt.Sprintf(format, a...)}
}

func notFoundf(format string, a ...any) error {
	return &kindError{ErrNotFound, fmt.Sprintf(format, a...)}
}

func noServicef(format string, a ...any) error {
	return &kindError{ErrNoService, fmt.Sprintf(format, a...)}
}

// Limits taken from ipvsadm.c and the kernel's ip_vs_ctl.c.
const (
	MaxTimeout        = 86400 * 31 // MAX_TIMEOUT: 31 days, for -p and --set
	DefaultPersistent = 300        // IPVS_SVC_PERSISTENT_TIMEOUT, -p without a value
	MaxWeight         = 65535      // ipvsadm -w range 0..65535
	MaxThreshold      = 1<<31 - 1  // ipvsadm -x/-y range 0..INT_MAX
	DefaultSched      = "wlc"      // DEF_SCHED
)

// Schedulers lists the scheduler names fngw accepts, in ipvsadm's usage order.
// The sched package owns the algorithms; this list only validates names.
var Schedulers = [...]string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos"}

// SchedFlags lists the scheduler flags (ipvsadm -b) in their canonical print
// order (ipvsadm's print_sched_flags) with the scheduler each belongs to.
var SchedFlags = [...]struct{ Name, Sched string }{
	{"sh-fallback", "sh"}, {"sh-port", "sh"},
	{"mh-fallback", "mh"}, {"mh-port", "mh"},
}

// CheckSched reports whether name is a known scheduler.
func CheckSched(name string) error {
	if slices.Contains(Schedulers[:], name) {
		return nil
	}
	return invalidf("unknown scheduler %q; use one of %s", name, strings.Join(Schedulers[:], ", "))
}

// NormalizeFlags validates scheduler flags for scheduler sched and returns
// them deduplicated in canonical order. An empty list returns nil.
func NormalizeFlags(sched string, flags []string) ([]string, error) {
	var out []string
	for _, f := range flags {
		i := slices.IndexFunc(SchedFlags[:], func(e struct{ Name, Sched string }) bool { return e.Name == f })
		if i < 0 {
			names := make([]string, len(SchedFlags))
			for j, e := range SchedFlags {
				names[j] = e.Name
			}
			return nil, invalidf("unknown scheduler flag %q; use one of %s", f, strings.Join(names, ", "))
		}
		if SchedFlags[i].Sched != sched {
			return nil, invalidf("scheduler flag %q needs scheduler %s, not %s", f, SchedFlags[i].Sched, sched)
		}
	}
	for _, e := range SchedFlags {
		if slices.Contains(flags, e.Name) {
			out = append(out, e.Name)
		}
	}
	return out, nil
}

// Proto is an IP protocol number of a virtual service (only TCP and UDP).
type Proto uint8

const (
	TCP Proto = 6
	UDP Proto = 17
)

func (p Proto) String() string {
	switch p {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	}
	return "proto-" + strconv.Itoa(int(p))
}

// ParseProto parses "tcp" or "udp" (any case).
func ParseProto(s string) (Proto, error) {
	switch strings.ToLower(s) {
	case "tcp":
		return TCP, nil
	case "udp":
		return UDP, nil
	}
	return 0, invalidf("unknown protocol %q; use tcp or udp", s)
}

// MarshalText writes String; 0 is "ip" (a fwmark service's persistence
// template, listed with protocol IP as LVS lists it).
func (p Proto) MarshalText() ([]byte, error) {
	if p == 0 {
		return []byte("ip"), nil
	}
	return []byte(p.String()), nil
}

func (p *Proto) UnmarshalText(b []byte) error {
	if string(b) == "ip" {
		*p = 0
		return nil
	}
	v, err := ParseProto(string(b))
	*p = v
	return err
}

// FwdMode is how packets reach a destination (ipvsadm's "Forward" column).
// The zero value is invalid so that a forgotten mode is caught; ipvsadm's
// command-line default (-g, direct routing) is applied by the argument parser.
type FwdMode uint8

const (
	FwdMasq    FwdMode = iota + 1 // NAT: -m, "Masq"
	FwdTunnel                     // IPIP: -i, "Tunnel"
	FwdRoute                      // DR: -g, "Route"
	FwdFullNAT                    // FULLNAT (DPVS): --fullnat, "FullNat"
)

var fwdNames = [...]struct{ text, ipvs, flag string }{
	FwdMasq:    {"masq", "Masq", "-m"},
	FwdTunnel:  {"tunnel", "Tunnel", "-i"},
	FwdRoute:   {"route", "Route", "-g"},
	FwdFullNAT: {"fullnat", "FullNat", "--fullnat"},
}

func (f FwdMode) valid() bool { return f >= FwdMasq && f <= FwdFullNAT }

// String is the canonical lower-case name: masq, tunnel, route, fullnat.
func (f FwdMode) String() string {
	if !f.valid() {
		return "fwd-" + strconv.Itoa(int(f))
	}
	return fwdNames[f].text
}

// IPVSName is the name ipvsadm prints in its Forward column.
func (f FwdMode) IPVSName() string {
	if !f.valid() {
		return ""
	}
	return fwdNames[f].ipvs
}

// Flag is the ipvsadm option selecting the mode (-m, -i, -g, --fullnat).
func (f FwdMode) Flag() string {
	if !f.valid() {
		return ""
	}
	return fwdNames[f].flag
}

// ParseFwdMode accepts the canonical names, ipvsadm's column names and the
// usual aliases: nat, dr, gatewaying, ipip, tun, fnat.
func ParseFwdMode(s string) (FwdMode, error) {
	switch strings.ToLower(s) {
	case "masq", "masquerading", "nat":
		return FwdMasq, nil
	case "tunnel", "tun", "ipip":
		return FwdTunnel, nil
	case "route", "dr", "gatewaying":
		return FwdRoute, nil
	case "fullnat", "fnat", "full-nat":
		return FwdFullNAT, nil
	}
	return 0, invalidf("unknown forwarding mode %q; use fullnat, masq, route or tunnel", s)
}

// MarshalText writes the canonical name; the zero (unset) mode is "".
func (f FwdMode) MarshalText() ([]byte, error) {
	if f == 0 {
		return nil, nil
	}
	if !f.valid() {
		return nil, invalidf("forwarding mode %d", f)
	}
	return []byte(f.String()), nil
}
func (f *FwdMode) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*f = 0
		return nil
	}
	v, err := ParseFwdMode(string(b))
	*f = v
	return err
}

// TunType is the encapsulation of a Tunnel destination. Only IPIP exists now
// (ipvsadm's --tun-type ipip, the kernel default); GUE/GRE come later.
type TunType uint8

const TunIPIP TunType = 0

func (t TunType) String() string {
	if t == TunIPIP {
		return "ipip"
	}
	return "tun-" + strconv.Itoa(int(t))
}

// ParseTunType accepts "ipip".
func ParseTunType(s string) (TunType, error) {
	if s == "ipip" {
		return TunIPIP, nil
	}
	if s == "gue" || s == "gre" {
		return 0, invalidf("tunnel type %q is not supported yet; use ipip", s)
	}
	return 0, invalidf("unknown tunnel type %q; use ipip", s)
}

func (t TunType) MarshalText() ([]byte, error) { return []byte(t.String()), nil }
func (t *TunType) UnmarshalText(b []byte) error {
	v, err := ParseTunType(string(b))
	*t = v
	return err
}

// ServiceKey identifies a virtual service: protocol, VIP and port (or, later,
// a firewall mark). It is comparable and used as a map key.
type ServiceKey struct {
	FwMark uint32     `json:"fwmark,omitempty"`
	Proto  Proto      `json:"proto"`
	VIP    netip.Addr `json:"vip"`
	Port   uint16     `json:"port"`
}

// Service is the public model of a virtual service, separate from any wire
// or C structure (seesaw's ipvs.Service). Dests and local addresses are held
// by Config, not here.
type Service struct {
	Proto Proto      `json:"proto"`
	VIP   netip.Addr `json:"vip"`
	Port  uint16     `json:"port"`
	// FwMark selects a firewall-mark service (ipvsadm -f): VIP and Port
	// are zero and Proto is TCP (ipvsadm sets it, unused); the flows the
	// mark rules (Config.Marks) give this mark come to it. IPv4 only.
	FwMark uint32 `json:"fwmark,omitempty"`
	// Sched is a scheduler name from Schedulers; empty means DefaultSched.
	Sched string `json:"sched"`
	// Flags are scheduler flags (ipvsadm -b), canonical order, see SchedFlags.
	Flags []string `json:"flags,omitempty"`
	// Persistent enables client affinity for Timeout seconds (ipvsadm -p).
	Persistent bool   `json:"persistent,omitempty"`
	Timeout    uint32 `json:"timeout,omitempty"`
	// Netmask is the persistence granularity (ipvsadm -M) as a mask of the
	// VIP's family; the zero Addr means the host mask (/32, /128). It is kept
	// only for persistent services, as ipvsadm only shows it for them.
	Netmask netip.Addr `json:"netmask,omitzero"`
	// OnePacket is one-packet scheduling (ipvsadm -o): each UDP datagram
	// from a client is scheduled on its own, as LVS's
	// IP_VS_SVC_F_ONEPACKET; TCP services ignore it, as LVS does.
	OnePacket bool `json:"ops,omitempty"`
	// Health is how its destinations are checked, and what happens when
	// they fail (Config.EditService keeps it: ipvsadm -E cannot say it).
	Health Health `json:"health,omitzero"`
	// ProxyProtocol, when set, makes the gateway tell each real server the
	// client's address in a PROXY protocol header (--proxy-protocol);
	// TOA, in a TCP option (--toa). Both need FULLNAT destinations, and
	// at most one of them is set.
	ProxyProtocol ProxyVersion `json:"proxy_protocol,omitempty"`
	TOA           bool         `json:"toa,omitempty"`
}

// ProxyVersion is the version of the PROXY protocol (HAProxy's
// specification) a service sends its real servers; 0 is none.
type ProxyVersion uint8

// PROXY protocol versions.
const (
	ProxyNone ProxyVersion = iota
	ProxyV1                // the text line, TCP only
	ProxyV2                // the binary header, TCP and UDP
)

// String returns "v1", "v2", or "" for none.
func (v ProxyVersion) String() string {
	switch v {
	case ProxyNone:
		return ""
	case ProxyV1:
		return "v1"
	case ProxyV2:
		return "v2"
	}
	return "proxy-" + strconv.Itoa(int(v))
}

// ParseProxyVersion parses "v1" or "v2" (also "1" and "2").
func ParseProxyVersion(s string) (ProxyVersion, error) {
	switch strings.ToLower(s) {
	case "v1", "1":
		return ProxyV1, nil
	case "v2", "2":
		return ProxyV2, nil
	}
	return 0, invalidf("unknown PROXY protocol version %q; use v1 or v2", s)
}

func (v ProxyVersion) MarshalText() ([]byte, error) {
	if v > ProxyV2 {
		return nil, invalidf("PROXY protocol version %d", v)
	}
	return []byte(v.String()), nil
}
func (v *ProxyVersion) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*v = ProxyNone
		return nil
	}
	p, err := ParseProxyVersion(string(b))
	*v = p
	return err
}

// clientAddrOption names the option that carries the client's address to
// the real servers, for messages ("" when none is set).
func (s Service) clientAddrOption() string {
	switch {
	case s.ProxyProtocol != ProxyNone:
		return "the PROXY protocol (--proxy-protocol " + s.ProxyProtocol.String() + ")"
	case s.TOA:
		return "TOA (--toa)"
	}
	return ""
}

// Key returns the identity of s.
func (s Service) Key() ServiceKey {
	return ServiceKey{FwMark: s.FwMark, Proto: s.Proto, VIP: s.VIP, Port: s.Port}
}

// Equal reports whether s and o are identical (Flags compared as lists).
func (s Service) Equal(o Service) bool {
	return s.Key() == o.Key() && s.Sched == o.Sched && slices.Equal(s.Flags, o.Flags) &&
		s.Persistent == o.Persistent && s.Timeout == o.Timeout && s.Netmask == o.Netmask && s.OnePacket == o.OnePacket && s.Health == o.Health &&
		s.ProxyProtocol == o.ProxyProtocol && s.TOA == o.TOA
}

// family returns an address of the service's family: its VIP, or for a
// fwmark service (IPv4 only) 0.0.0.0.
func (s Service) family() netip.Addr {
	if s.FwMark != 0 {
		return netip.IPv4Unspecified()
	}
	return s.VIP
}

// MaskBits returns the persistence granularity as a prefix length.
func (s Service) MaskBits() int {
	if !s.Netmask.IsValid() {
		return s.family().BitLen()
	}
	b, _ := maskBits(s.Netmask)
	return b
}

// maskBits converts a contiguous mask to its prefix length.
func maskBits(m netip.Addr) (int, bool) {
	b := m.AsSlice()
	n := 0
	for i, x := range b {
		if x == 0xff {
			n += 8
			continue
		}
		ones := 0
		for x&0x80 != 0 {
			ones++
			x <<= 1
		}
		if x != 0 {
			return 0, false
		}
		n += ones
		for _, y := range b[i+1:] {
			if y != 0 {
				return 0, false
			}
		}
		return n, true
	}
	return n, true
}

// MaskFromBits returns the netmask of family like with bits leading ones.
func MaskFromBits(like netip.Addr, bits int) (netip.Addr, error) {
	if bits < 0 || bits > like.BitLen() {
		return netip.Addr{}, invalidf("netmask /%d out of range 0-%d", bits, like.BitLen())
	}
	b := make([]byte, like.BitLen()/8)
	for i := range bits {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a, nil
}

// normalize validates s and applies the defaults ipvsadm and the kernel
// apply: default scheduler, default persistence timeout, canonical flags,
// netmask dropped when not persistent or equal to the host mask.
func (s Service) normalize() (Service, error) {
	if s.FwMark != 0 {
		if s.VIP.IsValid() || s.Port != 0 {
			return s, invalidf("service fwmark %d: a firewall-mark service has no address or port (its mark rules say which)", s.FwMark)
		}
		s.Proto = TCP // as ipvsadm sets it; unused
	} else if s.Proto != TCP && s.Proto != UDP {
		return s, invalidf("service %s: protocol must be tcp or udp", s.Key())
	}
	if s.FwMark == 0 && (!s.VIP.IsValid() || s.VIP.IsUnspecified()) {
		return s, invalidf("service %s: the virtual address must be a unicast address", s.Key())
	}
	if s.VIP.Zone() != "" || s.VIP.Is4In6() {
		return s, invalidf("service %s: the virtual address must be plain IPv4 or IPv6", s.Key())
	}
	if s.Sched == "" {
		s.Sched = DefaultSched
	}
	if err := CheckSched(s.Sched); err != nil {
		return s, fmt.Errorf("service %s: %w", s.Key(), err)
	}
	fl, err := NormalizeFlags(s.Sched, s.Flags)
	if err != nil {
		return s, fmt.Errorf("service %s: %w", s.Key(), err)
	}
	s.Flags = fl
	if err := s.checkClientAddr(); err != nil {
		return s, err
	}
	if err := s.Health.problem(s); err != nil {
		return s, err
	}
	if !s.Persistent {
		if s.Timeout != 0 {
			return s, invalidf("service %s: timeout %d given without persistence", s.Key(), s.Timeout)
		}
		s.Netmask = netip.Addr{}
		if s.Port == 0 && s.FwMark == 0 {
			// ipvsadm: "Zero port specified for non-persistent service".
			return s, invalidf("service %s: port 0 (all ports) needs persistence (-p)", s.Key())
		}
		return s, nil
	}
	if s.Timeout == 0 {
		s.Timeout = DefaultPersistent
	}
	if s.Timeout > MaxTimeout {
		return s, invalidf("service %s: persistence timeout %d above the maximum %d", s.Key(), s.Timeout, MaxTimeout)
	}
	if s.Netmask.IsValid() {
		if s.Netmask.BitLen() != s.family().BitLen() {
			return s, invalidf("service %s: netmask %s is not of the address family of %s", s.Key(), s.Netmask, s.family())
		}
		bits, ok := maskBits(s.Netmask)
		if !ok {
			return s, invalidf("service %s: netmask %s is not contiguous", s.Key(), s.Netmask)
		}
		if bits == s.family().BitLen() {
			s.Netmask = netip.Addr{}
		}
	}
	return s, nil
}

// checkClientAddr refuses the combinations of ProxyProtocol and TOA the
// datapath cannot carry.
func (s Service) checkClientAddr() error {
	switch {
	case s.ProxyProtocol > ProxyV2:
		return invalidf("service %s: PROXY protocol version %d; use v1 or v2", s.Key(), s.ProxyProtocol)
	case s.ProxyProtocol != ProxyNone && s.TOA:
		return invalidf("service %s: --proxy-protocol and --toa both carry the client's address; choose one", s.Key())
	case s.ProxyProtocol == ProxyV1 && s.Proto == UDP:
		return invalidf("service %s: PROXY protocol v1 is a text line for TCP streams; UDP services take v2", s.Key())
	case s.TOA && s.Proto == UDP:
		return invalidf("service %s: TOA is a TCP option; a UDP service can use --proxy-protocol v2", s.Key())
	case (s.ProxyProtocol != ProxyNone || s.TOA) && !s.VIP.Is4():
		return invalidf("service %s: %s is supported for IPv4 services only", s.Key(), s.clientAddrOption())
	}
	return nil
}

// Dest is the public model of a destination (real server) of a service.
type Dest struct {
	Addr netip.Addr `json:"addr"`
	Port uint16     `json:"port"`
	// Weight 0..MaxWeight; 0 quiesces the destination (no new connections).
	Weight int     `json:"weight"`
	Fwd    FwdMode `json:"fwd,omitempty"`
	// UThresh/LThresh are connection thresholds (ipvsadm -x/-y), 0 = none.
	UThresh uint32 `json:"u_threshold,omitempty"`
	LThresh uint32 `json:"l_threshold,omitempty"`
	// TunType is the encapsulation for Fwd == FwdTunnel.
	TunType TunType `json:"tun_type,omitempty"`
	// Check is the destination's own health check; the zero Check runs
	// the service's (CheckOf). Config.EditDest keeps it: ipvsadm -e cannot
	// say it.
	Check Check `json:"check,omitzero"`
}

// DestKey identifies a destination within a service.
type DestKey struct {
	Addr netip.Addr
	Port uint16
}

// Key returns the identity of d within its service.
func (d Dest) Key() DestKey { return DestKey{d.Addr, d.Port} }

func (k DestKey) String() string { return netip.AddrPortFrom(k.Addr, k.Port).String() }

// check validates d as a destination of svc with the kernel's and ipvsadm's
// rules.
func (d Dest) check(svc Service) error {
	name := d.Key().String()
	if !d.Addr.IsValid() || d.Addr.IsUnspecified() || d.Addr.Zone() != "" || d.Addr.Is4In6() {
		return invalidf("real server %s: not a unicast address", name)
	}
	if !d.Fwd.valid() {
		return invalidf("real server %s: forwarding mode missing; use fullnat, masq, route or tunnel", name)
	}
	if d.Addr.BitLen() != svc.family().BitLen() && d.Fwd != FwdTunnel {
		// ipvsadm: "Different address family is allowed only for tunneling servers".
		return invalidf("real server %s: address family differs from service %s; only tunnel (-i) mixes families", name, svc.Key())
	}
	if svc.Port == 0 && d.Fwd == FwdFullNAT {
		return invalidf("real server %s: service %s takes every port, which fullnat cannot serve (it would need local ports per real-server port); use route (-g), tunnel (-i) or masq (-m)", name, svc.Key())
	}
	if svc.FwMark != 0 && d.Port != 0 && d.Fwd != FwdMasq {
		// ipvsadm copies the service's port (0) for -g and -i; a
		// connection goes to the port the client asked for.
		return invalidf("real server %s: a connection to fwmark service %d keeps the port the client asked for; give the real server without a port", name, svc.FwMark)
	}
	if (d.Fwd == FwdRoute || d.Fwd == FwdTunnel) && d.Port != svc.Port {
		// ipvsadm forces dport = vport for -g and -i: the packet is not rewritten.
		return invalidf("real server %s: %s forwarding keeps the service port %d, so the port cannot differ; omit it or use masq (-m) or fullnat (--fullnat)", name, d.Fwd, svc.Port)
	}
	if o := svc.clientAddrOption(); o != "" && d.Fwd != FwdFullNAT {
		return invalidf("real server %s: %s needs fullnat (--fullnat) real servers, not %s: with %s forwarding the real server sees the client's address itself",
			name, o, d.Fwd, d.Fwd)
	}
	if d.Weight < 0 || d.Weight > MaxWeight {
		return invalidf("real server %s: weight %d out of range 0-%d", name, d.Weight, MaxWeight)
	}
	if d.UThresh > MaxThreshold || d.LThresh > MaxThreshold {
		return invalidf("real server %s: thresholds must be 0-%d", name, MaxThreshold)
	}
	if d.LThresh > d.UThresh {
		// ip_vs_ctl.c: "lower threshold is higher than upper threshold" (-ERANGE).
		return invalidf("real server %s: lower threshold %d is higher than upper threshold %d", name, d.LThresh, d.UThresh)
	}
	if d.TunType != TunIPIP {
		return invalidf("real server %s: tunnel type %s not supported", name, d.TunType)
	}
	if ps := d.Check.Problems(); len(ps) > 0 {
		return invalidf("real server %s: check %s: %s", name, ps[0].Key, ps[0].Msg)
	}
	if s := svc.Health.SorryServer; s.IsValid() && s.Addr() == d.Addr && s.Port() == d.Port {
		return invalidf("real server %s is the sorry server of service %s; the sorry server is used only while the others are down", name, svc.Key())
	}
	return nil
}

// LocalAddr is a FULLNAT local address (LIP, DPVS's laddr) of a service,
// bound to the DPDK port named Port (JSON "dev", as every port name).
type LocalAddr struct {
	Addr netip.Addr `json:"addr"`
	Port string     `json:"dev"`
}

// Timeouts are the session timeouts in seconds: ipvsadm --set tcp tcpfin
// udp, and the SYN_RECV (half-open) timeout, which ipvsadm cannot set (the
// [session] table of the configuration file sets all four).
type Timeouts struct {
	TCP     uint32 `json:"tcp"`
	TCPFin  uint32 `json:"tcpfin"`
	UDP     uint32 `json:"udp"`
	SynRecv uint32 `json:"syn_recv"`
	// UDPOneway holds a FULLNAT or NAT UDP session that has not seen a
	// reply yet (a spoofed source's: evicted first, and soon gone).
	UDPOneway uint32 `json:"udp_oneway"`
}

// DefaultTimeouts are the LVS defaults: 15 min, 2 min, 5 min, and 60 s in
// SYN_RECV.
var DefaultTimeouts = Timeouts{TCP: 900, TCPFin: 120, UDP: 300, SynRecv: 60, UDPOneway: 5}

// ipvsadm returns the timeouts ipvsadm --set and --timeout show.
func (t Timeouts) ipvsadm() Timeouts { return Timeouts{TCP: t.TCP, TCPFin: t.TCPFin, UDP: t.UDP} }

// Served reports whether the dataplane serves addresses of a's family now:
// only IPv4 is. The model itself is family-neutral; the config loader calls
// this for every address it reads, and the daemon checks a whole Config
// (Config.CheckServed) before handing it to the dataplane.
func Served(a netip.Addr) error {
	if a.Is4() {
		return nil
	}
	return invalidf("%s: IPv6 is not served yet", a)
}

// CheckServed reports the first object of c with an address of a family the
// dataplane does not serve (Served), naming it: commands from any source
// (ipvsadm, -R, a reload) are checked as the configuration file is.
func (c *Config) CheckServed() error {
	check := func(what string, a netip.Addr) error {
		if !a.IsValid() {
			return nil
		}
		if err := Served(a); err != nil {
			return invalidf("%s: %v", what, err)
		}
		return nil
	}
	for _, vs := range c.Services {
		k := vs.Service.Key()
		if err := check("service "+k.String(), vs.Service.VIP); err != nil {
			return err
		}
		for _, d := range vs.Dests {
			if err := check("service "+k.String()+": destination "+d.Key().String(), d.Addr); err != nil {
				return err
			}
		}
		for _, l := range vs.Laddrs {
			if err := check("service "+k.String()+": local address", l.Addr); err != nil {
				return err
			}
		}
	}
	for _, a := range c.Addrs {
		if err := check("address "+a.String(), a.Prefix.Addr()); err != nil {
			return err
		}
	}
	for _, r := range c.Routes {
		if err := check("route "+r.String(), r.Prefix.Addr()); err != nil {
			return err
		}
		if err := check("route "+r.String(), r.Via); err != nil {
			return err
		}
	}
	for _, n := range c.Neighs {
		if err := check("neighbour "+n.String(), n.Addr); err != nil {
			return err
		}
	}
	return nil
}

// Sysctl are the gateway-wide switches LVS keeps as sysctls
// (net.ipv4.vs.*), all off by default as in LVS; `gw sysctl` reads and sets
// them at runtime, [session] sets them in the file.
type Sysctl struct {
	// ExpireNodestConn: a client packet of a session whose destination
	// was deleted expires the session, and is scheduled afresh.
	ExpireNodestConn bool `json:"expire_nodest_conn"`
	// ExpireQuiescentTemplate: a persistence template of a destination of
	// weight 0 is not used; the client is scheduled afresh.
	ExpireQuiescentTemplate bool `json:"expire_quiescent_template"`
	// SecureTCP: shorter timeouts for half-open TCP sessions (SYN_RECV
	// 10 s), as LVS's secure_tcp defence against SYN floods.
	SecureTCP bool `json:"secure_tcp"`
	// LooseIngress: a session's packets may arrive on any port, not only
	// the one its other direction leaves from (fngw's own; for ECMP
	// uplinks that return traffic on another port).
	LooseIngress bool `json:"loose_ingress"`
	// LBLCExpiration and LBLCRExpiration (seconds; 0 = the default,
	// DefaultLocalityExpiration) are LVS's lblc_expiration and
	// lblcr_expiration: how long an lblc target's entry lives unused, and
	// an lblcr target's set before it may shrink and while unused.
	LBLCExpiration  uint32 `json:"lblc_expiration,omitempty"`
	LBLCRExpiration uint32 `json:"lblcr_expiration,omitempty"`
}

// DefaultLocalityExpiration is LVS's lblc_expiration and lblcr_expiration
// default, 24 hours, in seconds.
const DefaultLocalityExpiration = 24 * 60 * 60

// SysctlSeconds lists the settings in seconds by their LVS names, in
// Sysctl's order.
var SysctlSeconds = [...]string{"lblc_expiration", "lblcr_expiration"}

// Seconds returns the setting in seconds named name (with or without the
// "net.ipv4.vs." prefix), for reading and setting; 0 is the default.
func (s *Sysctl) Seconds(name string) (*uint32, error) {
	switch strings.TrimPrefix(name, "net.ipv4.vs.") {
	case "lblc_expiration":
		return &s.LBLCExpiration, nil
	case "lblcr_expiration":
		return &s.LBLCRExpiration, nil
	}
	return nil, invalidf("unknown setting %q; use one of %s", name, strings.Join(append(SysctlNames[:], SysctlSeconds[:]...), ", "))
}

// Expiration returns the value of the setting in seconds named name (one of
// SysctlSeconds), the default for 0.
func (s Sysctl) Expiration(name string) uint32 {
	p, err := s.Seconds(name)
	if err != nil || *p == 0 {
		return DefaultLocalityExpiration
	}
	return *p
}

// SysctlNames lists the switches by their LVS names, in Sysctl's order.
var SysctlNames = [...]string{"expire_nodest_conn", "expire_quiescent_template", "secure_tcp", "loose_ingress"}

// Switch returns the switch named name (with or without the
// "net.ipv4.vs." prefix), for reading and setting.
func (s *Sysctl) Switch(name string) (*bool, error) {
	switch strings.TrimPrefix(name, "net.ipv4.vs.") {
	case "expire_nodest_conn":
		return &s.ExpireNodestConn, nil
	case "expire_quiescent_template":
		return &s.ExpireQuiescentTemplate, nil
	case "secure_tcp":
		return &s.SecureTCP, nil
	case "loose_ingress":
		return &s.LooseIngress, nil
	}
	return nil, invalidf("unknown switch %q; use one of %s", name, strings.Join(append(SysctlNames[:], SysctlSeconds[:]...), ", "))
}
