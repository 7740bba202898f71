package keepalived

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// FuzzParse: the parser and the converter never panic on any input, every
// directive and item has a line of the file, and whatever is translated is
// valid TOML.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"testdata/keepalived.conf", "testdata/conf.d/api.conf", "testdata/conf.d/udp.conf"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add("$RS= \\\nreal_server ${IP} 80 { \\\n weight 2 \\\n}\n$IP=1.1.1.1\nvirtual_server 198.18.1.1 80 {\n$RS\n}\n")
	f.Add("@a x {\n@^a y }\n} } {\n\"unterminated\n~SEQ(i,1,2) x\ninclude *\n")
	f.Add("virtual_server 198.18.1.1 80 { real_server 198.18.2.1 80 { UDP_CHECK { payload 0 require_reply x } } }")
	f.Fuzz(func(t *testing.T, conf string) {
		fsys := mapFS{"/k/keepalived.conf": conf, "/k/other.conf": "virtual_server 198.18.1.9 9 {\n}\n"}
		top, items, err := ParseFile("/k/keepalived.conf", Options{FS: fsys, ConfigID: "a"})
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Count(conf, "\n") + 1
		var walk func([]*Directive)
		walk = func(ds []*Directive) {
			for _, d := range ds {
				if d.Pos.File == "/k/keepalived.conf" && (d.Pos.Line < 1 || d.Pos.Line > lines) {
					t.Fatalf("%s %q at line %d of %d", d.Name, d.Args, d.Pos.Line, lines)
				}
				walk(d.Block)
			}
		}
		walk(top)
		svcs, more := Convert(top)
		for _, it := range append(items, more...) {
			if it.Reason == "" || it.Pos.File == "" {
				t.Fatalf("item without a reason or a file: %+v", it)
			}
		}
		var b bytes.Buffer
		if err := WriteTOML(&b, "k.conf", svcs); err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if _, err := toml.Decode(b.String(), &doc); err != nil {
			t.Fatalf("not TOML: %v\n%s", err, b.String())
		}
	})
}
