package keepalived

import (
	"fmt"
	"strings"
	"testing"
)

// dump renders a tree as "file:line name [args]" lines, indented by depth,
// a block's end as "}".
func dump(ds []*Directive) string {
	var b strings.Builder
	var walk func([]*Directive, string)
	walk = func(ds []*Directive, ind string) {
		for _, d := range ds {
			fmt.Fprintf(&b, "%s%d %s %q", ind, d.Pos.Line, d.Name, d.Args)
			if d.HasBlock {
				b.WriteString(" {\n")
				walk(d.Block, ind+"  ")
				b.WriteString(ind + "}\n")
			} else {
				b.WriteString("\n")
			}
		}
	}
	walk(ds, "")
	return b.String()
}

func itemStrings(items []Item) string {
	var b strings.Builder
	for _, it := range items {
		b.WriteString(it.String() + "\n")
	}
	return b.String()
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, conf string
		id         string
		want       string // dump
		items      string // substrings of the items, "|"-separated; "" none
	}{
		{"blocks on their own lines", "a 1 2\n{\n b\n}\n", "", "1 a [\"1\" \"2\"] {\n  3 b []\n}\n", ""},
		{"braces anywhere", "url { path /x }\nc", "", "1 url [] {\n  1 path [\"/x\"]\n}\n2 c []\n", ""},
		{"empty block", "x {}\n", "", "1 x [] {\n}\n", ""},
		{"comments", "a 1 # two\n! all\nb \"x # y\" ! z\n  # c\n", "", "1 a [\"1\"]\n3 b [\"x # y\"]\n", ""},
		{"escaped comment characters", `a \#1 \!2`, "", "1 a [\"#1\" \"!2\"]\n", ""},
		{"quoted words", `notify "/bin/n.sh up" user`, "", "1 notify [\"/bin/n.sh up\" \"user\"]\n", ""},
		{"quoted brace", `a "{x}" {` + "\n}", "", "1 a [\"{x}\"] {\n}\n", ""},
		{"crlf", "a 1\r\nb 2\r\n", "", "1 a [\"1\"]\n2 b [\"2\"]\n", ""},
		{"continuation", "a 1 \\\n  2\nb", "", "1 a [\"1\" \"2\"]\n3 b []\n", ""},
		{"parameter", "$P=10.0.0.1\nreal_server $P 80\nx ${P}:1\n", "", "2 real_server [\"10.0.0.1\" \"80\"]\n3 x [\"10.0.0.1:1\"]\n", ""},
		{"parameter needs a blank after it", "$P=1\nx $Px $P\n", "", "2 x [\"$Px\" \"1\"]\n", ""},
		{"undefined parameter stays", "x $NOPE\n", "", "1 x [\"$NOPE\"]\n", ""},
		{"recursive parameter", "$A=${B}.1\n$B=10\nx $A\n", "", "3 x [\"10.1\"]\n", ""},
		{"multi-line parameter", "$RS= \\\nreal_server ${IP} 80 { \\\n weight 2 \\\n}\n$IP=1.1.1.1\n$RS\n$IP=2.2.2.2\n$RS\n",
			"", "6 real_server [\"1.1.1.1\" \"80\"] {\n  6 weight [\"2\"]\n}\n8 real_server [\"2.2.2.2\" \"80\"] {\n  8 weight [\"2\"]\n}\n", ""},
		{"predefined", "x ${_HASH}${_BANG} ${_PWD}\n", "", "1 x [\"#!\" \"dir\"]\n", ""},
		{"parameter loop", "$A=$A $A\nx $A\n", "", "", "does not end"},
		{"conditional with id", "@lvs-a a 1\n@lvs-b b 2\n@^lvs-a c 3\n@^lvs-b d 4\n", "lvs-a", "1 a [\"1\"]\n4 d [\"4\"]\n", ""},
		{"conditional without id", "@lvs-a a 1\n@^lvs-a c 3\n", "", "2 c [\"3\"]\n", "without a config-id"},
		{"seq", "~SEQ(i, 1, 3) x $i\n", "", "", "sequence and list blocks"},
		{"extra brace", "a {\n}\n}\n", "", "1 a [] {\n}\n", "extra '}'"},
		{"missing brace", "a {\n b {\n", "", "1 a [] {\n  2 b [] {\n  }\n}\n", "dir/k.conf:1: a: block not closed|dir/k.conf:2: b: block not closed"},
		{"brace without keyword", "{\n x\n}\ny", "", "4 y []\n", "no keyword before it"},
		{"unterminated quote", "a \"b c\n", "", "1 a [\"b c\"]\n", "unterminated quote"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			top, items := Parse("dir/k.conf", []byte(tc.conf), Options{ConfigID: tc.id, FS: mapFS{}})
			if got := dump(top); got != tc.want {
				t.Errorf("tree:\n%s\nwant:\n%s", got, tc.want)
			}
			checkItems(t, items, tc.items)
		})
	}
}

// checkItems checks that every "|"-separated substring of want is in the
// items and that there are no others.
func checkItems(t *testing.T, items []Item, want string) {
	t.Helper()
	got := itemStrings(items)
	var n int
	if want != "" {
		for _, w := range strings.Split(want, "|") {
			if !strings.Contains(got, w) {
				t.Errorf("items lack %q:\n%s", w, got)
			}
		}
		n = len(strings.Split(want, "|"))
	}
	if len(items) != n {
		t.Errorf("%d items, want %d:\n%s", len(items), n, got)
	}
}

func TestInclude(t *testing.T) {
	fsys := mapFS{
		"/etc/keepalived/keepalived.conf": "a 1\ninclude conf.d/*.conf\ninclude {x,y}.inc\nb 2\ninclude none/*.conf\n",
		"/etc/keepalived/conf.d/2.conf":   "two {\ninclude ../sub/inner\n}\n",
		"/etc/keepalived/conf.d/1.conf":   "$V=9\none $V\n",
		"/etc/keepalived/sub/inner":       "inner $V\n",
		"/etc/keepalived/x.inc":           "x\n",
		"/etc/keepalived/y.inc":           "y\n",
		"/etc/keepalived/loop.conf":       "include loop.conf\n",
	}
	top, items, err := ParseFile("/etc/keepalived/keepalived.conf", Options{FS: fsys})
	if err != nil {
		t.Fatal(err)
	}
	want := "1 a [\"1\"]\n2 one [\"9\"]\n1 two [] {\n  1 inner [\"9\"]\n}\n1 x []\n1 y []\n4 b [\"2\"]\n"
	if got := dump(top); got != want {
		t.Errorf("tree:\n%s\nwant:\n%s", got, want)
	}
	if len(top) < 3 || len(top[2].Block) == 0 || top[2].Block[0].Pos.File != "/etc/keepalived/sub/inner" {
		t.Errorf("inner is not at /etc/keepalived/sub/inner:\n%s", dump(top))
	}
	checkItems(t, items, "keepalived.conf:5: include none/*.conf: matches no file")

	_, items, _ = ParseFile("/etc/keepalived/loop.conf", Options{FS: fsys})
	checkItems(t, items, "includes itself")
	if _, _, err := ParseFile("/nope", Options{FS: fsys}); err == nil {
		t.Error("a missing file parsed")
	}
}

func TestExpandBraces(t *testing.T) {
	for in, want := range map[string]string{
		"a":          "a",
		"{a,b}c":     "ac bc",
		"x{a,{b,c}}": "xa xb xc",
		"{a,b}{1,2}": "a1 a2 b1 b2",
		"{a":         "{a",
	} {
		if got := strings.Join(expandBraces(in), " "); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func TestEscapedWords(t *testing.T) {
	for in, want := range map[string]string{
		`"a b" c`:         `["a b" "c"]`,
		`abcd" efg h "ij`: `["abcd efg h ij"]`,
		`'x "y"' z`:       `["x \"y\"" "z"]`,
		`a\ b \x41\101\n`: `["a b" "AA\n"]`,
		`"\.*ok$"`:        `[".*ok$"]`,
		`\\d+`:            `["\\d+"]`,
	} {
		if got := fmt.Sprintf("%q", escapedWords(in)); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}

// TestParseRunaway: parameters that expand without end, or into too much,
// stop with an item.
func TestParseRunaway(t *testing.T) {
	for name, conf := range map[string]string{
		"nested multi-line": "$A= \\\n$A \\\ny\nx $A\n",
		"doubling":          "$A=$A$A\n$B=${A}\nx ${A}\n",
		"empty":             "$E=\nx " + strings.Repeat("$E ", 100000) + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, items := Parse("k.conf", []byte(conf), Options{FS: mapFS{}})
			if len(items) == 0 {
				t.Error("a runaway expansion ended without an item")
			}
		})
	}
}
