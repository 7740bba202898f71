package ctl

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestMarkRuleText: the canonical form round-trips through ParseMarkRule,
// gw mark's arguments and JSON; keywords come in any order.
func TestMarkRuleText(t *testing.T) {
	for _, s := range []string{
		"1",
		"1 proto tcp dst 198.18.0.0/24 dport 80-89",
		"7 proto udp dst 198.18.7.3/32 dport 53 src 10.0.0.0/8",
		"4294967295 src 0.0.0.0/0",
	} {
		r, err := ParseMarkRule(s)
		if err != nil || r.String() != s {
			t.Errorf("%q: %q, %v", s, r, err)
			continue
		}
		cmd, err := ParseCommandLine(append([]string{"mark", "add"}, strings.Fields(s)...))
		if err != nil || cmd.Op != OpAddMark || *cmd.Mark != r || cmd.String() != "mark add "+s {
			t.Errorf("gw mark add %s: %+v %v", s, cmd, err)
		}
		b, _ := json.Marshal(r)
		var back MarkRule
		if err := json.Unmarshal(b, &back); err != nil || back != r {
			t.Errorf("JSON %s: %+v %v", b, back, err)
		}
	}
	if r, err := ParseMarkRule("3 dport 443 proto tcp"); err != nil || r.String() != "3 proto tcp dport 443" {
		t.Errorf("keywords out of order: %q %v", r, err)
	}
	for s, want := range map[string]string{
		"":                        "want MARK",
		"x":                       `mark "x" must be a number`,
		"1 proto":                 "want MARK",
		"1 proto sctp":            "sctp",
		"1 dst 198.18.0.1/24":     "has host bits set; did you mean 198.18.0.0/24?",
		"1 dst 2001:db8::/32":     "is not IPv4",
		"1 dport 0":               "port range \"0\"",
		"1 dport 9-8":             "port range \"9-8\"",
		"1 dst 198.18.0.0/24 dst": "want MARK",
		"1 dport 1 dport 2":       "dport given twice",
		"1 iface dpdk0":           `unknown keyword "iface"`,
	} {
		if _, err := ParseMarkRule(s); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error with %q", s, err, want)
		}
	}
}

// TestMarksOrdered: rules keep the order they were added in; a duplicate is
// refused, a missing one cannot be deleted.
func TestMarksOrdered(t *testing.T) {
	c := NewConfig()
	var want []string
	for _, s := range []string{"2 dport 80", "1 dport 80", "3"} {
		r, _ := ParseMarkRule(s)
		if err := c.AddMark(r); err != nil {
			t.Fatal(err)
		}
		want = append(want, "mark "+s)
	}
	var b strings.Builder
	if err := WriteMarks(&b, c.Marks, false); err != nil || b.String() != strings.Join(want, "\n")+"\n" {
		t.Errorf("listed %q, want %q", b.String(), want)
	}
	r, _ := ParseMarkRule("1 dport 80")
	if err := c.AddMark(r); err == nil {
		t.Error("a duplicate rule was added")
	}
	if err := c.DelMark(r); err != nil || len(c.Marks) != 2 {
		t.Errorf("delete: %v, %d left", err, len(c.Marks))
	}
	if err := c.DelMark(r); err == nil {
		t.Error("a missing rule was deleted")
	}
}
