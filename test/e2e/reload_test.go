package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"fngw/test/harness"
)

// reloadBase is the service of TestReloadAndRestore's configuration file.
var reloadBase = harness.Service{Proto: "tcp", VIP: "198.18.1.100:80", Sched: "wrr",
	Laddrs: []harness.LocalAddr{{Addr: "198.18.2.100", Port: "dpdk1"}},
	Dests:  []harness.Dest{{Addr: "198.18.2.11:80", Fwd: "fullnat", Weight: 3}}}

// TestReloadAndRestore drives the control plane of a running gateway (ports are
// net_null: no traffic is needed): services from the TOML file load at start,
// `gw reload` and SIGHUP apply the file's difference, a bad file is refused with
// its line and leaves the running configuration alone, and ipvsadm's save and
// restore round-trip through the link named ipvsadm.
func TestReloadAndRestore(t *testing.T) {
	harness.Prepare(t)
	g := harness.Start(t, harness.Config{
		Ports: []harness.Port{
			{Name: "dpdk0", Device: "net_null0", Addrs: []string{"198.18.1.1/24"}},
			{Name: "dpdk1", Device: "net_null1", Addrs: []string{"198.18.2.1/24"}},
		},
		Services: []harness.Service{reloadBase},
	}, nil)
	base := g.Config
	save := func() string { return g.MustCmd("adm", "-S", "-n") }
	want := "-A -t 198.18.1.100:80 -s wrr\n" +
		"-a -t 198.18.1.100:80 -r 198.18.2.11:80 --fullnat -w 3\n" +
		"-P -t 198.18.1.100:80 -z 198.18.2.100 -F dpdk1\n"
	if got := save(); got != want {
		t.Fatalf("services from the file: got\n%s\nwant\n%s", got, want)
	}

	// write makes the configuration file the starting one with more
	// services after reloadBase.
	write := func(more ...harness.Service) {
		t.Helper()
		c := base
		c.Services = append([]harness.Service{reloadBase}, more...)
		if err := g.WriteConfig(c); err != nil {
			t.Fatal(err)
		}
	}
	// A second service, applied with gw reload.
	write(harness.Service{Proto: "udp", VIP: "198.18.1.100:53", Sched: "rr",
		Laddrs: []harness.LocalAddr{{Addr: "198.18.2.101", Port: "dpdk1"}},
		Dests:  []harness.Dest{{Addr: "198.18.2.12:53", Fwd: "fullnat"}}})
	if out := g.MustCmd("reload"); !strings.Contains(out, "changes applied") {
		t.Fatalf("reload said %q", out)
	}
	after := save()
	if !strings.Contains(after, "-A -u 198.18.1.100:53 -s rr\n") || !strings.Contains(after, "-P -u 198.18.1.100:53 -z 198.18.2.101 -F dpdk1\n") {
		t.Fatalf("reload did not add the UDP service:\n%s", after)
	}

	// A bad file: refused with its line, nothing changes.
	write(harness.Service{Proto: "tcp", VIP: "198.18.1.100:81", Sched: "nosuch"})
	out, err := g.Cmd("reload")
	if err == nil {
		t.Fatalf("reload of a bad file succeeded: %s", out)
	}
	text := g.Config.TOML()
	line := 1 + strings.Count(text[:strings.Index(text, `sched = "nosuch"`)], "\n")
	if msg := err.Error(); !strings.Contains(msg, "nosuch") || !strings.Contains(msg, fmt.Sprintf(":%d:", line)) {
		t.Fatalf("reload error does not name the value and line: %v", err)
	}
	if got := save(); got != after {
		t.Fatalf("a refused reload changed the configuration:\n%s\nwas\n%s", got, after)
	}

	// SIGHUP re-reads the file too: back to the base file.
	write()
	if err := syscall.Kill(g.Pid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, 10*time.Second, "SIGHUP reload", func() error {
		if got := save(); got != want {
			return fmt.Errorf("configuration is\n%s", got)
		}
		return nil
	})

	// Save, clear, restore through the ipvsadm link: identical text.
	saved := save()
	g.MustCmd("adm", "-C")
	if got := save(); got != "" {
		t.Fatalf("after -C: %q", got)
	}
	// bin/ipvsadm is the link make build creates; make one here if it is missing.
	ipvsadm := filepath.Join(t.TempDir(), "ipvsadm")
	if err := os.Symlink(harness.Binary(t), ipvsadm); err != nil {
		t.Fatal(err)
	}
	restore := func(input string) (string, error) {
		cmd := exec.Command(ipvsadm, "-R")
		cmd.Env = append(os.Environ(), "FNGW_SOCK="+g.Config.Socket)
		cmd.Stdin = strings.NewReader(input)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := restore(saved); err != nil {
		t.Fatalf("ipvsadm -R: %v %s", err, out)
	}
	if got := save(); got != saved {
		t.Fatalf("save|clear|restore|save differs:\n%s\nwant\n%s", got, saved)
	}
	// A restore with a bad line names it and applies nothing.
	if out, err := restore("-A -t 198.18.1.200:80\n-a -t 198.18.1.200:80 -r nope\n"); err == nil || !strings.Contains(out, "line 2") {
		t.Fatalf("bad restore: %v %s", err, out)
	}
	if got := save(); got != saved {
		t.Fatalf("a failed restore changed the configuration:\n%s", got)
	}
}
