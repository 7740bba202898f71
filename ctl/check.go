package ctl

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"
)

// CheckType names a health checker, after keepalived's checkers.
type CheckType string

// The checkers. The zero CheckType is "not set": a destination's check of
// that type is the service's, a service's means no check.
const (
	CheckNone  CheckType = "none"  // not checked: always up
	CheckTCP   CheckType = "tcp"   // TCP_CHECK: a connection is accepted
	CheckHTTP  CheckType = "http"  // HTTP_GET: a GET answered as expected
	CheckHTTPS CheckType = "https" // SSL_GET: the same over TLS (certificate not verified)
	CheckUDP   CheckType = "udp"   // UDP_CHECK: a datagram, no ICMP error, the expected reply
	CheckDNS   CheckType = "dns"   // DNS_CHECK: a query answered without error
	CheckMisc  CheckType = "misc"  // MISC_CHECK: a command exits 0
)

// CheckTypes lists the checkers in the order messages name them.
var CheckTypes = [...]CheckType{CheckTCP, CheckHTTP, CheckHTTPS, CheckUDP, CheckDNS, CheckMisc, CheckNone}

// OnFailure is what a failed destination becomes (keepalived's
// inhibit_on_failure, or its default).
type OnFailure string

const (
	// OnFailureRemove withdraws the destination from the scheduler while
	// it is down (keepalived's default: the real server is deleted from
	// IPVS). Its established connections go on, as those of a deleted
	// destination do (expire_nodest_conn).
	OnFailureRemove OnFailure = "remove"
	// OnFailureInhibit keeps it with an effective weight of 0
	// (inhibit_on_failure): no new connections, established ones go on.
	OnFailureInhibit OnFailure = "inhibit"
)

// DNSTypes are the query types a dns check asks, keepalived's DNS_CHECK's.
var DNSTypes = [...]string{"A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA"}

// Defaults of a check's keys that are absent (keepalived's, where it has
// one: connect_timeout 5 s, retry 1 so fall 2, one success to come back).
const (
	DefaultCheckInterval = 5 * time.Second
	DefaultCheckTimeout  = 5 * time.Second
	DefaultRise          = 1
	DefaultFall          = 2
	DefaultCheckPath     = "/"
	DefaultDNSName       = "."
	DefaultDNSType       = "SOA"
	DefaultQuorum        = 1
	MinCheckInterval     = 10 * time.Millisecond
	MaxCheckInterval     = 24 * time.Hour
	MaxCheckCount        = 1000 // rise and fall
)

// Duration is a time.Duration written as Go writes durations ("1.5s",
// "500ms") in JSON.
type Duration time.Duration

func (d Duration) String() string { return time.Duration(d).String() }

func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return invalidf("%q is not a duration such as \"2s\" or \"500ms\"", b)
	}
	*d = Duration(v)
	return nil
}

// StatusSet is a set of HTTP status codes from 100 to 599. It is
// comparable, so that a Check is; the empty set means any 2xx (keepalived's
// HTTP_GET without status_code).
type StatusSet [8]uint64

// Add adds code, which must be in 100-599.
func (s *StatusSet) Add(code int) error {
	if code < 100 || code > 599 {
		return invalidf("status %d is not an HTTP status code (100-599)", code)
	}
	s[(code-100)/64] |= 1 << ((code - 100) % 64)
	return nil
}

// Match reports whether code is expected: in the set, or a 2xx when the
// set is empty.
func (s StatusSet) Match(code int) bool {
	if s == (StatusSet{}) {
		return code >= 200 && code <= 299
	}
	return code >= 100 && code <= 599 && s[(code-100)/64]&(1<<((code-100)%64)) != 0
}

// Codes lists the set in ascending order.
func (s StatusSet) Codes() []int {
	var out []int
	for c := 100; c <= 599; c++ {
		if s[(c-100)/64]&(1<<((c-100)%64)) != 0 {
			out = append(out, c)
		}
	}
	return out
}

func (s StatusSet) MarshalJSON() ([]byte, error) { return json.Marshal(s.Codes()) }

func (s *StatusSet) UnmarshalJSON(b []byte) error {
	var codes []int
	if err := json.Unmarshal(b, &codes); err != nil {
		return err
	}
	*s = StatusSet{}
	for _, c := range codes {
		if err := s.Add(c); err != nil {
			return err
		}
	}
	return nil
}

// Check is how a destination's health is checked: configuration, as the
// operator wrote it ([service.check], [service.dest.check]), with the
// defaults applied. It is comparable: a reload sees a changed check as a
// change of its destination or service.
type Check struct {
	Type CheckType `json:"type"`
	// Port is the port checked; 0 is the destination's.
	Port uint16 `json:"port,omitempty"`
	// http, https: the request's path, the statuses expected (empty: any
	// 2xx), an RE2 expression the body must match, the MD5 of the body
	// (keepalived's genhash digest, lower-case hex).
	Path            string    `json:"path,omitempty"`
	ExpectStatus    StatusSet `json:"expect_status,omitzero"`
	ExpectBodyRegex string    `json:"expect_body_regex,omitempty"`
	Digest          string    `json:"digest,omitempty"`
	// Interval between the starts of two checks (keepalived's delay_loop);
	// Timeout of one check (connect_timeout, misc_timeout).
	Interval Duration `json:"interval,omitempty"`
	Timeout  Duration `json:"timeout,omitempty"`
	// Rise successes in a row bring a down destination up, Fall failures
	// in a row take an up one down (keepalived: rise 1, fall retry+1).
	Rise      int       `json:"rise,omitempty"`
	Fall      int       `json:"fall,omitempty"`
	OnFailure OnFailure `json:"on_failure,omitempty"`
	// Source is the address checks are sent from; the zero Addr lets the
	// kernel choose (the address of the gateway's port on that subnet).
	Source netip.Addr `json:"source,omitzero"`
	// udp: the datagram sent and the bytes the reply must begin with,
	// lower-case hex; without Expect, any reply or none (no ICMP error
	// within the timeout) is a success, as keepalived's UDP_CHECK without
	// require_reply.
	Payload string `json:"payload,omitempty"`
	Expect  string `json:"expect,omitempty"`
	// dns: the name asked and its type.
	Name  string `json:"name,omitempty"`
	QType string `json:"qtype,omitempty"`
	// misc: the command and its arguments (split as keepalived splits
	// misc_path: on blanks, "..." and '...' quoting), exit status 0 is up.
	Command string `json:"command,omitempty"`
}

// Enabled reports whether c checks anything.
func (c Check) Enabled() bool { return c.Type != "" && c.Type != CheckNone }

// WithDefaults fills the keys left zero with their defaults for c's type.
func (c Check) WithDefaults() Check {
	if !c.Enabled() {
		return c
	}
	if c.Interval == 0 {
		c.Interval = Duration(DefaultCheckInterval)
	}
	if c.Timeout == 0 {
		c.Timeout = Duration(DefaultCheckTimeout)
		if c.Interval > 0 {
			c.Timeout = Duration(min(DefaultCheckTimeout, time.Duration(c.Interval)))
		}
		if c.Type == CheckMisc {
			c.Timeout = c.Interval // keepalived: misc_timeout defaults to delay_loop
		}
	}
	if c.Rise == 0 {
		c.Rise = DefaultRise
	}
	if c.Fall == 0 {
		c.Fall = DefaultFall
	}
	if c.OnFailure == "" {
		c.OnFailure = OnFailureRemove
	}
	switch c.Type {
	case CheckHTTP, CheckHTTPS:
		if c.Path == "" {
			c.Path = DefaultCheckPath
		}
	case CheckDNS:
		if c.Name == "" {
			c.Name = DefaultDNSName
		}
		if c.QType == "" {
			c.QType = DefaultDNSType
		}
	}
	return c
}

// CheckProblem is one thing wrong with a check, at one of its keys (the
// key as the configuration file names it).
type CheckProblem struct {
	Key string
	Msg string
}

// Problems lists everything wrong with c, key by key, so that a file can
// report each with its line. A zero Type (no check) has none.
func (c Check) Problems() []CheckProblem {
	var ps []CheckProblem
	bad := func(key, format string, a ...any) {
		ps = append(ps, CheckProblem{key, fmt.Sprintf(format, a...)})
	}
	if c.Type == "" {
		return nil
	}
	if !slices.Contains(CheckTypes[:], c.Type) {
		names := make([]string, len(CheckTypes))
		for i, t := range CheckTypes {
			names[i] = string(t)
		}
		bad("type", "unknown check type %q; use one of %s", c.Type, strings.Join(names, ", "))
		return ps
	}
	if c.Type == CheckNone {
		if c != (Check{Type: CheckNone}) {
			bad("type", "a check of type \"none\" takes no other keys")
		}
		return ps
	}
	only := func(key string, set bool, types ...CheckType) {
		if set && !slices.Contains(types, c.Type) {
			names := make([]string, len(types))
			for i, t := range types {
				names[i] = string(t)
			}
			bad(key, "is for checks of type %s, not %s", strings.Join(names, " or "), c.Type)
		}
	}
	only("path", c.Path != "", CheckHTTP, CheckHTTPS)
	only("expect_status", c.ExpectStatus != StatusSet{}, CheckHTTP, CheckHTTPS)
	only("expect_body_regex", c.ExpectBodyRegex != "", CheckHTTP, CheckHTTPS)
	only("digest", c.Digest != "", CheckHTTP, CheckHTTPS)
	only("payload", c.Payload != "", CheckUDP)
	only("expect", c.Expect != "", CheckUDP)
	only("name", c.Name != "", CheckDNS)
	only("qtype", c.QType != "", CheckDNS)
	only("command", c.Command != "", CheckMisc)
	only("port", c.Port != 0, CheckTCP, CheckHTTP, CheckHTTPS, CheckUDP, CheckDNS)
	only("source", c.Source.IsValid(), CheckTCP, CheckHTTP, CheckHTTPS, CheckUDP, CheckDNS)
	if (c.Type == CheckHTTP || c.Type == CheckHTTPS) && !strings.HasPrefix(c.Path, "/") {
		bad("path", "%q must begin with \"/\"", c.Path)
	}
	if c.ExpectBodyRegex != "" {
		if _, err := regexp.Compile(c.ExpectBodyRegex); err != nil {
			bad("expect_body_regex", "%q is not a regular expression (RE2 syntax): %v", c.ExpectBodyRegex, err)
		}
	}
	if d := c.Digest; d != "" && (len(d) != 32 || strings.Trim(d, "0123456789abcdef") != "") {
		bad("digest", "%q is not an MD5 digest: 32 lower-case hex digits, as keepalived's genhash prints", d)
	}
	for _, x := range []struct{ key, v string }{{"payload", c.Payload}, {"expect", c.Expect}} {
		if _, err := hex.DecodeString(x.v); err != nil || strings.ToLower(x.v) != x.v {
			bad(x.key, "%q is not lower-case hex digits in pairs (\"0a1b\")", x.v)
		}
	}
	if c.Type == CheckDNS {
		if !slices.Contains(DNSTypes[:], c.QType) {
			bad("qtype", "%q is not a query type of the dns check; use one of %s", c.QType, strings.Join(DNSTypes[:], ", "))
		}
		if err := checkDNSName(c.Name); err != nil {
			bad("name", "%q: %v", c.Name, err)
		}
	}
	if c.Type == CheckMisc && len(SplitCommand(c.Command)) == 0 {
		bad("command", "missing; a misc check runs a command (exit status 0 is up)")
	}
	if iv := time.Duration(c.Interval); iv < MinCheckInterval || iv > MaxCheckInterval {
		bad("interval", "%s out of range %s-%s", iv, MinCheckInterval, MaxCheckInterval)
	}
	if to := time.Duration(c.Timeout); to < MinCheckInterval || to > time.Hour {
		bad("timeout", "%s out of range %s-1h", to, MinCheckInterval)
	}
	if c.Rise < 1 || c.Rise > MaxCheckCount {
		bad("rise", "%d out of range 1-%d (successes in a row that bring a destination up)", c.Rise, MaxCheckCount)
	}
	if c.Fall < 1 || c.Fall > MaxCheckCount {
		bad("fall", "%d out of range 1-%d (failures in a row that take a destination down)", c.Fall, MaxCheckCount)
	}
	if c.OnFailure != OnFailureRemove && c.OnFailure != OnFailureInhibit {
		bad("on_failure", "%q: use %q (withdraw the destination) or %q (weight 0, connections go on)", c.OnFailure, OnFailureRemove, OnFailureInhibit)
	}
	if s := c.Source; s.IsValid() && (!s.Is4() || !s.IsGlobalUnicast()) {
		bad("source", "%s is not a unicast IPv4 address", s)
	}
	return ps
}

// checkDNSName reports whether n is a domain name a query can carry.
func checkDNSName(n string) error {
	if n == "." {
		return nil
	}
	if n == "" || len(n) > 254 || (len(n) == 254 && !strings.HasSuffix(n, ".")) {
		return fmt.Errorf("not a domain name of 1 to 253 characters")
	}
	for _, l := range strings.Split(strings.TrimSuffix(n, "."), ".") {
		if l == "" || len(l) > 63 {
			return fmt.Errorf("each label must have 1 to 63 characters")
		}
	}
	return nil
}

// SplitCommand splits a command line into its words as keepalived splits a
// script's: on blanks, with "..." and '...' quoting. No shell runs it.
func SplitCommand(s string) []string {
	var out []string
	var cur strings.Builder
	in, quote := false, rune(0)
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

// String is the check's short form for messages and listings: "http
// GET /healthz every 1s", "tcp :8080 every 5s".
func (c Check) String() string {
	if !c.Enabled() {
		return string(CheckNone)
	}
	var b strings.Builder
	b.WriteString(string(c.Type))
	if c.Port != 0 {
		fmt.Fprintf(&b, " :%d", c.Port)
	}
	switch c.Type {
	case CheckHTTP, CheckHTTPS:
		b.WriteString(" GET " + c.Path)
	case CheckDNS:
		b.WriteString(" " + c.QType + " " + c.Name)
	case CheckMisc:
		b.WriteString(" " + c.Command)
	}
	fmt.Fprintf(&b, " every %s", c.Interval)
	return b.String()
}

// Health is a service's health-check settings: configuration, like the
// service's other attributes, though ipvsadm cannot express them (-E keeps
// them). Comparable.
type Health struct {
	// Check is the check of every destination that has none of its own.
	Check Check `json:"check,omitzero"`
	// Quorum: while the weights of the destinations that are up add up to
	// less, the sorry server takes the service's new connections
	// (keepalived's quorum); 0 is the default, 1.
	Quorum int `json:"quorum,omitempty"`
	// SorryServer, when valid, is added to the service's destinations while
	// the quorum is lost, and the others are withdrawn (keepalived's
	// sorry_server). It is forwarded as the service's first destination
	// is (fullnat when the service has none but has local addresses, else
	// masq).
	SorryServer netip.AddrPort `json:"sorry_server,omitzero"`
	// Alpha: destinations start down until a check succeeds (keepalived's
	// alpha); without it they start up.
	Alpha bool `json:"alpha,omitempty"`
	// NotifyUp and NotifyDown run (split as Check.Command) when one of the
	// service's destinations comes up or goes down.
	NotifyUp   string `json:"notify_up,omitempty"`
	NotifyDown string `json:"notify_down,omitempty"`
}

// QuorumOrDefault is the quorum in force.
func (h Health) QuorumOrDefault() int {
	if h.Quorum == 0 {
		return DefaultQuorum
	}
	return h.Quorum
}

// problem reports the first thing wrong with h as a destination-less
// setting of service svc.
func (h Health) problem(svc Service) error {
	k := svc.Key()
	if ps := h.Check.Problems(); len(ps) > 0 {
		return invalidf("service %s: check %s: %s", k, ps[0].Key, ps[0].Msg)
	}
	if h.Quorum < 0 {
		return invalidf("service %s: quorum %d must be at least 1", k, h.Quorum)
	}
	if s := h.SorryServer; s.IsValid() {
		if err := CheckSorryServer(s); err != nil {
			return fmt.Errorf("service %s: %w", k, err)
		}
	}
	for _, n := range []struct{ key, v string }{{"notify_up", h.NotifyUp}, {"notify_down", h.NotifyDown}} {
		if n.v != "" && len(SplitCommand(n.v)) == 0 {
			return invalidf("service %s: %s %q names no command", k, n.key, n.v)
		}
	}
	return nil
}

// CheckSorryServer reports whether s can be a sorry server: a unicast IPv4
// address (the dataplane serves IPv4) and a port.
func CheckSorryServer(s netip.AddrPort) error {
	a := s.Addr()
	if !a.Is4() || !a.IsGlobalUnicast() {
		return invalidf("sorry server %s is not a unicast IPv4 address", s)
	}
	if s.Port() == 0 {
		return invalidf("sorry server %s: port 0; give the port the sorry server listens on", s)
	}
	return nil
}

// CheckOf is the check destination d of service s runs: its own, else the
// service's.
func CheckOf(s Service, d Dest) Check {
	c := s.Health.Check
	if d.Check.Type != "" {
		c = d.Check
	}
	return c
}
