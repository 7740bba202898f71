package client

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImportKeepalived: gw import keepalived prints the TOML on stdout, the
// untranslated on stderr, and exits 0 (all translated), 1 (something
// listed) or 2 (usage, unreadable file); it needs no gateway.
func TestImportKeepalived(t *testing.T) {
	dir := t.TempDir()
	clean := filepath.Join(dir, "keepalived.conf")
	conf := "global_defs {\n router_id a\n}\nvirtual_server 198.18.1.100 80 {\n lb_kind DR\n real_server 198.18.2.11 80 {\n  TCP_CHECK {\n  }\n }\n}\n"
	if err := os.WriteFile(clean, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		stdout   string // a substring; "" for none
		stderr   string
		noStdout bool
	}{
		{"translated", []string{"import", "keepalived", clean}, 0, `vip = "198.18.1.100:80"`, "not translated: global_defs", false},
		{"listed", []string{"import", "keepalived", "../keepalived/testdata/keepalived.conf"}, 1, `[[service]]`, "virtual_server fwmark 7: not translated: the marks come from iptables rules", false},
		{"config-id", []string{"--sock", "/nonexistent", "import", "keepalived", "-i", "lvs-a", clean}, 0, `fwd = "route"`, "", false},
		{"no file", []string{"import", "keepalived"}, 2, "", "usage: gw import keepalived", true},
		{"two files", []string{"import", "keepalived", clean, clean}, 2, "", "usage: gw import keepalived", true},
		{"other format", []string{"import", "haproxy", clean}, 2, "", "usage: gw import keepalived", true},
		{"bad option", []string{"import", "keepalived", "-x", clean}, 2, "", "flag provided but not defined: -x", true},
		{"unreadable", []string{"import", "keepalived", filepath.Join(dir, "none.conf")}, 2, "", "none.conf: no such file", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Main(append([]string{"gw"}, tc.args...), nil, strings.NewReader(""), &out, &errb)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tc.code, errb.String())
			}
			if !strings.Contains(out.String(), tc.stdout) || tc.noStdout && out.Len() > 0 {
				t.Errorf("stdout lacks %q (or should be empty):\n%s", tc.stdout, out.String())
			}
			if !strings.Contains(errb.String(), tc.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.stderr, errb.String())
			}
		})
	}
}
