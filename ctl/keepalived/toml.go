package keepalived

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Import reads the keepalived configuration at path (with its includes)
// and translates it: the services, and every item not translated, parser
// problems first, in the order written. The error is for path itself
// being unreadable.
func Import(path string, o Options) ([]Service, []Item, error) {
	top, items, err := ParseFile(path, o)
	if err != nil {
		return nil, nil, err
	}
	svcs, more := Convert(top)
	return svcs, append(items, more...), nil
}

// WriteTOML writes services as the [[service]] tables of an fngw
// configuration file, each under a comment naming the virtual_server it
// comes from. source names the keepalived file in the header.
func WriteTOML(w io.Writer, source string, svcs []Service) error {
	b := bufio.NewWriter(w)
	fmt.Fprintf(b, "# %s\n", comment("fngw services translated from "+source+" by gw import keepalived."))
	fmt.Fprintf(b, "# Review them, then add them to the gateway's configuration file.\n")
	for i := range svcs {
		writeService(b, &svcs[i])
	}
	return b.Flush()
}

func writeService(b *bufio.Writer, s *Service) {
	fmt.Fprintf(b, "\n# %s\n[[service]]\n", comment(s.Pos.String()+" "+s.Source))
	kv(b, "proto", quote(s.Proto))
	kv(b, "vip", quote(s.VIP))
	kv(b, "sched", quote(s.Sched))
	if len(s.Flags) > 0 {
		kv(b, "flags", strList(s.Flags))
	}
	if s.Persistent > 0 {
		kv(b, "persistent", strconv.Itoa(s.Persistent))
	}
	if s.Netmask != "" {
		kv(b, "netmask", quote(s.Netmask))
	}
	if s.OPS {
		kv(b, "ops", "true")
	}
	if len(s.Laddrs) > 0 {
		kv(b, "laddrs", strList(s.Laddrs))
	}
	if s.NeedLaddrs {
		b.WriteString("# laddrs = [\"ADDR dev PORT\"]  # FULLNAT needs local addresses; keepalived has none to translate\n")
	}
	if s.Quorum > 0 {
		kv(b, "quorum", strconv.Itoa(s.Quorum))
	}
	if s.SorryServer != "" {
		kv(b, "sorry_server", quote(s.SorryServer))
	}
	if s.Alpha {
		kv(b, "alpha", "true")
	}
	if s.NotifyUp != "" {
		kv(b, "notify_up", quote(s.NotifyUp))
	}
	if s.NotifyDown != "" {
		kv(b, "notify_down", quote(s.NotifyDown))
	}
	if s.Check != nil {
		b.WriteString("[service.check]\n")
		writeCheck(b, s.Check)
	}
	for _, d := range s.Dests {
		b.WriteString("[[service.dest]]\n")
		kv(b, "addr", quote(d.Addr))
		kv(b, "fwd", quote(d.Fwd))
		kv(b, "weight", strconv.Itoa(d.Weight))
		if d.UThreshold > 0 {
			kv(b, "u_threshold", strconv.Itoa(d.UThreshold))
		}
		if d.LThreshold > 0 {
			kv(b, "l_threshold", strconv.Itoa(d.LThreshold))
		}
		if d.Check != nil {
			b.WriteString("[service.dest.check]\n")
			writeCheck(b, d.Check)
		}
	}
}

func writeCheck(b *bufio.Writer, c *Check) {
	kv(b, "type", quote(c.Type))
	if c.Port > 0 {
		kv(b, "port", strconv.Itoa(c.Port))
	}
	for _, x := range []struct{ k, v string }{{"path", c.Path}, {"digest", c.Digest}} {
		if x.v != "" {
			kv(b, x.k, quote(x.v))
		}
	}
	if len(c.ExpectStatus) > 0 {
		kv(b, "expect_status", intList(c.ExpectStatus))
	}
	for _, x := range []struct{ k, v string }{{"expect_body_regex", c.ExpectBodyRegex}, {"name", c.Name}, {"qtype", c.QType},
		{"payload", c.Payload}, {"expect", c.Expect}, {"command", c.Command}} {
		if x.v != "" {
			kv(b, x.k, quote(x.v))
		}
	}
	kv(b, "interval", quote(duration(c.Interval)))
	kv(b, "timeout", quote(duration(c.Timeout)))
	kv(b, "rise", strconv.Itoa(c.Rise))
	kv(b, "fall", strconv.Itoa(c.Fall))
	kv(b, "on_failure", quote(c.OnFailure))
	if c.Source != "" {
		kv(b, "source", quote(c.Source))
	}
}

func kv(b *bufio.Writer, k, v string) {
	b.WriteString(k)
	b.WriteString(" = ")
	b.WriteString(v)
	b.WriteByte('\n')
}

// intList writes a list of numbers on one line, or 10 a line when longer
// (a range of status codes).
func intList(l []int) string {
	const perLine = 10
	s := make([]string, len(l))
	for i, v := range l {
		s[i] = strconv.Itoa(v)
	}
	if len(l) <= perLine {
		return "[" + strings.Join(s, ", ") + "]"
	}
	var b strings.Builder
	b.WriteString("[\n")
	for i := 0; i < len(s); i += perLine {
		b.WriteString("  " + strings.Join(s[i:min(i+perLine, len(s))], ", ") + ",\n")
	}
	b.WriteString("]")
	return b.String()
}

func strList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// comment makes s fit a TOML comment: control characters (a line break
// would end it) and invalid UTF-8 become '?'.
func comment(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' || r == 0x7f || r == utf8.RuneError {
			return '?'
		}
		return r
	}, s)
}

// quote writes s as a TOML basic string: '"', '\' and control characters
// escaped; invalid UTF-8 (TOML must be UTF-8) as U+FFFD.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range strings.ToValidUTF8(s, string(utf8.RuneError)) {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
