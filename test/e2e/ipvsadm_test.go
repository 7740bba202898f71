package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"fngw/test/harness"
)

// installed runs `make -o build install DESTDIR=dir PREFIX=/usr` (bin/gw is
// already built: -o build does not build it again) and checks what it put
// where: gw, its ipvsadm, ipvsadm-save and ipvsadm-restore links and
// fngw-prepare in /usr/sbin, the unit in /lib/systemd/system naming those,
// the example configuration in /etc/fngw (kept on a second install) and in
// the documentation; `make uninstall` takes it away but the configuration.
func installed(t *testing.T, root string) string {
	t.Helper()
	dir := t.TempDir()
	mk := func(target string) {
		t.Helper()
		out, err := exec.Command("make", "-C", root, "-o", "build", target, "DESTDIR="+dir, "PREFIX=/usr").CombinedOutput()
		if err != nil {
			t.Fatalf("make %s: %v\n%s", target, err, out)
		}
	}
	mk("install")
	for path, mode := range map[string]os.FileMode{
		"usr/sbin/gw": 0o755, "usr/sbin/fngw-prepare": 0o755, "lib/systemd/system/fngw.service": 0o644,
		"etc/fngw/gw.toml": 0o644, "usr/share/doc/fngw/examples/gw.toml": 0o644,
	} {
		st, err := os.Stat(filepath.Join(dir, path))
		if err != nil || st.Mode().Perm() != mode {
			t.Errorf("make install: %s: %v, mode %v; want mode %v", path, err, st, mode)
		}
	}
	for _, l := range []string{"ipvsadm", "ipvsadm-save", "ipvsadm-restore"} {
		if to, err := os.Readlink(filepath.Join(dir, "usr/sbin", l)); err != nil || to != "gw" {
			t.Errorf("make install: /usr/sbin/%s -> %q (%v), want a link to gw", l, to, err)
		}
	}
	unit, _ := os.ReadFile(filepath.Join(dir, "lib/systemd/system/fngw.service"))
	if !strings.Contains(string(unit), "\nExecStart=/usr/sbin/gw run -c /etc/fngw/gw.toml\n") || strings.Contains(string(unit), "/usr/local") {
		t.Errorf("the installed unit does not run the installed gw:\n%s", unit)
	}
	conf := filepath.Join(dir, "etc/fngw/gw.toml")
	if err := os.WriteFile(conf, []byte("# the operator's\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mk("install")
	if b, _ := os.ReadFile(conf); string(b) != "# the operator's\n" {
		t.Errorf("a second make install replaced /etc/fngw/gw.toml: %q", b)
	}
	return dir
}

// TestIpvsadmInstalled: the installed ipvsadm, ipvsadm-save and
// ipvsadm-restore links against a running gateway, as a script written for
// ipvsadm uses them: a failed operation prints ipvsadm's message and exits
// 255; -e -w 0 leaves a FULLNAT server FULLNAT; plain ipvsadm-save output
// (service names) restores through ipvsadm-restore, and a restore that
// fails leaves the table as it was.
func TestIpvsadmInstalled(t *testing.T) {
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	harness.Binary(t)
	sbin := filepath.Join(installed(t, root), "usr/sbin")
	tc := startTapClient(t, harness.Config{})
	run := func(prog, stdin string, args ...string) (int, string, string) {
		t.Helper()
		c := exec.CommandContext(context.Background(), filepath.Join(sbin, prog), args...)
		c.Env = append(os.Environ(), "FNGW_SOCK="+tc.gw.Config.Socket)
		c.Stdin = strings.NewReader(stdin)
		var o, e bytes.Buffer
		c.Stdout, c.Stderr = &o, &e
		err := c.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("%s: %v", prog, err)
		}
		return c.ProcessState.ExitCode(), o.String(), e.String()
	}
	ipvsadm := func(line string) string {
		t.Helper()
		code, out, errOut := run("ipvsadm", "", strings.Fields(line)...)
		if code != 0 {
			t.Fatalf("ipvsadm %s: exit %d: %s", line, code, errOut)
		}
		return out
	}
	ipvsadm("-A -t 198.18.1.100:http -s rr")
	ipvsadm("-a -t 198.18.1.100:80 -r 198.18.1.50:8080 --fullnat -w 4")
	for _, tt := range []struct {
		line, stderr string
		code         int
	}{
		{"-A -t 198.18.1.100:80 -s rr", "Service already exists: ", 255},
		{"-Z -t 198.18.1.101:80", "No such service: ", 255},
		{"-a -t 198.18.1.101:80 -r 198.18.1.50:8080 -g", "Service not defined: ", 255},
		{"-e -t 198.18.1.100:80 -r 198.18.1.51:8080 -w 0", "No such destination: ", 255},
		{"-A -t 198.18.1.101:80 -s fancy", "unknown scheduler", 2},
	} {
		code, _, errOut := run("ipvsadm", "", strings.Fields(tt.line)...)
		if code != tt.code || !strings.HasPrefix(errOut, tt.stderr) {
			t.Errorf("ipvsadm %s: exit %d, %q; want exit %d, %q...", tt.line, code, errOut, tt.code, tt.stderr)
		}
	}
	ipvsadm("-e -t 198.18.1.100:80 -r 198.18.1.50:8080 -w 0")
	// size= is the session capacity: capacity_per_core (2^20 by default)
	// times one worker.
	if out := ipvsadm("-L -n"); !strings.HasPrefix(out, "IP Virtual Server version 1.2.1 (size=1048576)\n") || !strings.Contains(out, "  -> 198.18.1.50:8080             FullNat 0      0          0         \n") {
		t.Errorf("ipvsadm -e -w 0 on a FULLNAT server:\n%s", out)
	}

	plain := "-A -t 198.18.1.100:https -s wlc\n-a -t 198.18.1.100:https -r 198.18.1.52:https -g -w 2\n"
	if code, _, errOut := run("ipvsadm-restore", "# saved without -n\n"+plain); code != 0 {
		t.Fatalf("ipvsadm-restore: exit %d: %s", code, errOut)
	}
	want := "-A -t 198.18.1.100:443 -s wlc\n-a -t 198.18.1.100:443 -r 198.18.1.52:443 -g -w 2\n"
	if code, out, errOut := run("ipvsadm-save", ""); code != 0 || out != want {
		t.Errorf("ipvsadm-save after ipvsadm-restore: exit %d %s\n got:\n%s\nwant:\n%s", code, errOut, out, want)
	}
	if code, _, errOut := run("ipvsadm-restore", "-A -t 198.18.1.102:80 -s rr\n-a -t 198.18.1.103:80 -r 198.18.1.52 -g\n"); code != 255 || !strings.Contains(errOut, "line 2") {
		t.Errorf("failing ipvsadm-restore: exit %d, %q", code, errOut)
	}
	if code, out, _ := run("ipvsadm-save", "", "-n"); code != 0 || out != want {
		t.Errorf("a failed ipvsadm-restore changed the table:\n%s", out)
	}
}
