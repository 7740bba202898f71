package ctl

import (
	"fmt"
	"io"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Firewall marks. LVS groups many addresses and ports into one virtual
// service with a firewall mark set by netfilter (iptables -t mangle ... -j
// MARK) and ipvsadm -f MARK. fngw has no netfilter: its mark rules give
// the mark, in order, the first rule that matches a new flow deciding.
const (
	OpAddMark  Op = "mark-add"  // gw mark add RULE
	OpDelMark  Op = "mark-del"  // gw mark del RULE
	OpListMark Op = "mark-show" // gw mark show [--json]
)

// MarkRule gives Mark to the new flows it matches. A zero field matches
// anything: Proto 0 both TCP and UDP, an invalid Prefix every address,
// DPort 0-0 every port. Dst and Src are IPv4 prefixes (the datapath serves
// IPv4), masked.
type MarkRule struct {
	Mark  uint32       `json:"mark"`
	Proto Proto        `json:"proto,omitempty"`
	Dst   netip.Prefix `json:"dst,omitzero"`
	Src   netip.Prefix `json:"src,omitzero"`
	DPort PortRange    `json:"dport,omitzero"`
}

// PortRange is an inclusive range of L4 ports; 0-0 is every port.
type PortRange struct {
	Lo, Hi uint16
}

func (r PortRange) String() string {
	if r.Lo == r.Hi {
		return strconv.Itoa(int(r.Lo))
	}
	return strconv.Itoa(int(r.Lo)) + "-" + strconv.Itoa(int(r.Hi))
}

// MarshalText implements encoding.TextMarshaler ("80" or "80-89").
func (r PortRange) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParsePortRange.
func (r *PortRange) UnmarshalText(b []byte) error {
	v, err := ParsePortRange(string(b))
	*r = v
	return err
}

// ParsePortRange parses "PORT" or "LO-HI".
func ParsePortRange(s string) (PortRange, error) {
	lo, hi, isRange := strings.Cut(s, "-")
	if !isRange {
		hi = lo
	}
	a, err1 := strconv.ParseUint(lo, 10, 16)
	b, err2 := strconv.ParseUint(hi, 10, 16)
	if err1 != nil || err2 != nil || a == 0 || a > b {
		return PortRange{}, invalidf("port range %q: want PORT or LO-HI, ports 1-65535, LO <= HI (e.g. 80-89)", s)
	}
	return PortRange{uint16(a), uint16(b)}, nil
}

// String is the canonical form, the arguments of gw mark add: "1 proto tcp
// dst 198.18.0.0/24 dport 80-89 src 10.0.0.0/8", fields left out when they
// match anything.
func (r MarkRule) String() string {
	var b strings.Builder
	b.WriteString(strconv.FormatUint(uint64(r.Mark), 10))
	if r.Proto != 0 {
		b.WriteString(" proto " + r.Proto.String())
	}
	if r.Dst.IsValid() {
		b.WriteString(" dst " + r.Dst.String())
	}
	if r.DPort != (PortRange{}) {
		b.WriteString(" dport " + r.DPort.String())
	}
	if r.Src.IsValid() {
		b.WriteString(" src " + r.Src.String())
	}
	return b.String()
}

// ParseMarkRule parses the canonical form (MarkRule.String), the keywords
// in any order after the mark.
func ParseMarkRule(s string) (MarkRule, error) {
	f := strings.Fields(s)
	usage := "want MARK [proto tcp|udp] [dst PREFIX] [dport PORT|LO-HI] [src PREFIX], e.g. 1 proto tcp dst 198.18.0.0/24 dport 80-89"
	if len(f) == 0 || len(f)%2 == 0 {
		return MarkRule{}, invalidf("mark rule %q: %s", s, usage)
	}
	var r MarkRule
	m, err := strconv.ParseUint(f[0], 10, 32)
	if err != nil || m == 0 {
		return MarkRule{}, invalidf("mark rule %q: mark %q must be a number 1-%d", s, f[0], uint32(math.MaxUint32))
	}
	r.Mark = uint32(m)
	seen := map[string]bool{}
	for f = f[1:]; len(f) > 0; f = f[2:] {
		k, v := f[0], f[1]
		if seen[k] {
			return MarkRule{}, invalidf("mark rule %q: %s given twice", s, k)
		}
		seen[k] = true
		switch k {
		case "proto":
			r.Proto, err = ParseProto(v)
		case "dst", "src":
			var p netip.Prefix
			if p, err = netip.ParsePrefix(v); err == nil {
				if k == "dst" {
					r.Dst = p
				} else {
					r.Src = p
				}
			} else {
				err = invalidf("%s %q is not a prefix such as 198.18.0.0/24", k, v)
			}
		case "dport":
			r.DPort, err = ParsePortRange(v)
		default:
			err = invalidf("unknown keyword %q; %s", k, usage)
		}
		if err != nil {
			return MarkRule{}, fmt.Errorf("mark rule %q: %w", s, err)
		}
	}
	return r, r.check()
}

func (r MarkRule) check() error {
	if r.Mark == 0 {
		return invalidf("mark rule %s: mark 0 marks nothing; use 1-%d", r, uint32(math.MaxUint32))
	}
	if r.Proto != 0 && r.Proto != TCP && r.Proto != UDP {
		return invalidf("mark rule %s: protocol must be tcp or udp (or left out: both)", r)
	}
	for _, p := range []netip.Prefix{r.Dst, r.Src} {
		if !p.IsValid() {
			continue
		}
		if !p.Addr().Is4() {
			return invalidf("mark rule %s: %s is not IPv4 (the datapath serves IPv4)", r, p)
		}
		if p != p.Masked() {
			return invalidf("mark rule %s: %s has host bits set; did you mean %s?", r, p, p.Masked())
		}
	}
	if r.DPort != (PortRange{}) && (r.DPort.Lo == 0 || r.DPort.Lo > r.DPort.Hi) {
		return invalidf("mark rule %s: port range %d-%d is not LO-HI with 1 <= LO <= HI", r, r.DPort.Lo, r.DPort.Hi)
	}
	return nil
}

// AddMark appends a mark rule: rules are matched in the order they were
// added.
func (c *Config) AddMark(r MarkRule) error {
	if err := r.check(); err != nil {
		return err
	}
	if slices.Contains(c.Marks, r) {
		return existsf("mark rule %s already exists", r)
	}
	c.Marks = append(c.Marks, r)
	return nil
}

// DelMark deletes the mark rule equal to r.
func (c *Config) DelMark(r MarkRule) error {
	i := slices.Index(c.Marks, r)
	if i < 0 {
		return notFoundf("mark rule %s does not exist", r)
	}
	c.Marks = slices.Delete(slices.Clone(c.Marks), i, i+1)
	return nil
}

// parseMark parses `mark add|del RULE` and `mark show|list|ls [--json]`.
func parseMark(args []string) (Command, error) {
	usage := "usage: gw mark add|del MARK [proto tcp|udp] [dst PREFIX] [dport PORT|LO-HI] [src PREFIX] | gw mark show [--json]"
	if len(args) == 0 {
		return Command{}, usagef("%s", usage)
	}
	switch args[0] {
	case "show", "list", "ls":
		cmd := Command{Op: OpListMark}
		for _, a := range args[1:] {
			if a != "--json" {
				return Command{}, usagef("mark show: unknown argument %q; accepted: --json", a)
			}
			cmd.List = &ListOptions{JSON: true}
		}
		return cmd, nil
	case "add", "del", "delete":
		r, err := ParseMarkRule(strings.Join(args[1:], " "))
		if err != nil {
			return Command{}, err
		}
		op := OpAddMark
		if args[0] != "add" {
			op = OpDelMark
		}
		return Command{Op: op, Mark: &r}, nil
	}
	return Command{}, usagef("mark: unknown subcommand %q; %s", args[0], usage)
}

// WriteMarks lists the mark rules in order, one "mark RULE" line each, or
// JSON.
func WriteMarks(w io.Writer, rules []MarkRule, asJSON bool) error {
	if asJSON {
		if rules == nil {
			rules = []MarkRule{}
		}
		return writeJSON(w, rules)
	}
	var b strings.Builder
	for _, r := range rules {
		b.WriteString("mark " + r.String() + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
