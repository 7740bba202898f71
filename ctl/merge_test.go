package ctl

import (
	"strings"
	"testing"
)

// config builds a Config from ipvsadm and stack command lines.
func config(t *testing.T, lines ...string) *Config {
	t.Helper()
	c := NewConfig()
	for _, l := range lines {
		var cmd Command
		var err error
		if f := strings.Fields(l); f[0] == "addr" || f[0] == "route" || f[0] == "neigh" {
			cmd, err = ParseStackArgs(f)
		} else {
			cmd, err = ParseArgs(f)
		}
		if err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		if err := c.Apply(cmd); err != nil {
			t.Fatalf("%s: %v", l, err)
		}
	}
	return c
}

const (
	svc80  = "-A -t 198.18.1.100:80 -s rr"
	rs11   = "-a -t 198.18.1.100:80 -r 198.18.2.11:80 -m -w 1"
	rs12   = "-a -t 198.18.1.100:80 -r 198.18.2.12:80 -m -w 1"
	svc443 = "-A -t 198.18.1.100:443 -s wlc"
	rs443  = "-a -t 198.18.1.100:443 -r 198.18.2.11:443 -m"
)

// TestMergeLeavesRuntimeAlone: a reload of a file that did not change
// touches nothing that was created, changed or deleted at runtime (before,
// a reload made the running state equal to the file: every service added
// with ipvsadm went, a drained server came back at its file weight).
func TestMergeLeavesRuntimeAlone(t *testing.T) {
	file := config(t, "addr add 198.18.1.1/24 dev dpdk0", svc80, rs11, rs12)
	running := config(t, "addr add 198.18.1.1/24 dev dpdk0", svc80, rs11,
		"-a -t 198.18.1.100:80 -r 198.18.2.12:80 -m -w 0", // drained at runtime
		svc443, rs443) // added at runtime
	got, changes, err := Merge(file, file, running)
	if err != nil || len(changes) != 0 || !got.Equal(running) {
		t.Fatalf("unchanged file: %v, changes %v", err, changes)
	}
}

// TestMergeAppliesFileChanges: what the file changed is applied, and wins
// over runtime for the objects it touched; the report names every change.
func TestMergeAppliesFileChanges(t *testing.T) {
	base := config(t, "addr add 198.18.1.1/24 dev dpdk0", svc80, rs11, rs12, "-A -u 198.18.1.100:53 -s rr")
	file := config(t, "addr add 198.18.1.1/24 dev dpdk0", "addr add 198.18.3.1/24 dev dpdk1", svc80,
		"-a -t 198.18.1.100:80 -r 198.18.2.11:80 -m -w 3", "--set 600 0 0")
	running := config(t, "addr add 198.18.1.1/24 dev dpdk0", svc80,
		"-a -t 198.18.1.100:80 -r 198.18.2.11:80 -m -w 0", // drained at runtime, reweighted in the file: the file wins
		"-a -t 198.18.1.100:80 -r 198.18.2.12:80 -m -w 0", // drained at runtime, deleted from the file
		"-a -t 198.18.1.100:80 -r 198.18.2.13:80 -m",      // added at runtime: stays
		"-A -u 198.18.1.100:53 -s rr",
		svc443, rs443, "--set 900 60 0") // tcpfin set at runtime: the file did not change it
	got, changes, err := Merge(base, file, running)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"~ timeout tcp 900→600",
		"+ address 198.18.3.1/24 dev dpdk1",
		"- service udp 198.18.1.100:53 rr",
		"- dest 198.18.2.12:80 of 198.18.1.100:80/tcp",
		"~ dest 198.18.2.11:80 of 198.18.1.100:80/tcp: weight 0→3",
	}
	var have []string
	for _, c := range changes {
		have = append(have, c.String())
	}
	if strings.Join(have, "\n") != strings.Join(want, "\n") {
		t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(have, "\n"), strings.Join(want, "\n"))
	}
	expect := config(t, "addr add 198.18.1.1/24 dev dpdk0", "addr add 198.18.3.1/24 dev dpdk1", svc80,
		"-a -t 198.18.1.100:80 -r 198.18.2.11:80 -m -w 3", "-a -t 198.18.1.100:80 -r 198.18.2.13:80 -m",
		svc443, rs443, "--set 600 60 0")
	if !got.Equal(expect) {
		var a, b strings.Builder
		WriteSave(&a, got)
		WriteSave(&b, expect)
		t.Errorf("merged:\n%s\nwant:\n%s", a.String(), b.String())
	}
}

// TestMergeBringsBackChangedService: a service deleted at runtime comes back,
// as the file has it, when the file changes it; it stays deleted when the
// file did not touch it. A service added to the file that exists at runtime
// takes the file's attributes and destinations, keeping its runtime ones.
func TestMergeBringsBackChangedService(t *testing.T) {
	base := config(t, svc80, rs11, svc443, rs443)
	file := config(t, svc80, rs11, "-a -t 198.18.1.100:80 -r 198.18.2.12:80 -m", svc443, rs443,
		"-A -t 198.18.1.100:8080 -s sh", "-a -t 198.18.1.100:8080 -r 198.18.2.11:8080 -m")
	running := config(t, "-A -t 198.18.1.100:8080 -s rr", "-a -t 198.18.1.100:8080 -r 198.18.2.14:8080 -m")
	got, _, err := Merge(base, file, running)
	if err != nil {
		t.Fatal(err)
	}
	expect := config(t, svc80, rs11, "-a -t 198.18.1.100:80 -r 198.18.2.12:80 -m",
		"-A -t 198.18.1.100:8080 -s sh", "-a -t 198.18.1.100:8080 -r 198.18.2.11:8080 -m", "-a -t 198.18.1.100:8080 -r 198.18.2.14:8080 -m")
	if !got.Equal(expect) {
		var a, b strings.Builder
		WriteSave(&a, got)
		WriteSave(&b, expect)
		t.Errorf("merged:\n%s\nwant:\n%s", a.String(), b.String())
	}
}

// TestMergeRefusesInvalid: a change the configuration cannot take is an
// error naming it, and running is untouched.
func TestMergeRefusesInvalid(t *testing.T) {
	base := config(t, svc80)
	file := config(t, svc80, "-a -t 198.18.1.100:80 -r 198.18.2.11:80 -m")
	running := config(t)
	running.Services = nil
	if _, _, err := Merge(base, file, running); err != nil {
		t.Fatalf("re-creating a service deleted at runtime: %v", err)
	}
	bad := file.Clone()
	bad.Services[0].Dests[0].Weight = MaxWeight + 1
	if _, _, err := Merge(base, bad, config(t, svc80)); err == nil || !strings.Contains(err.Error(), "dest 198.18.2.11:80") {
		t.Errorf("an invalid weight: %v", err)
	}
}

// TestOverlay: a saved state restores over a configuration that already has
// some of its objects (the file's services): they take the saved state.
func TestOverlay(t *testing.T) {
	file := config(t, svc80, rs11, "-P -t 198.18.1.100:80 -z 198.18.2.100 -F dpdk1")
	saved := config(t, "-A -t 198.18.1.100:80 -s wlc", "-a -t 198.18.1.100:80 -r 198.18.2.11:80 -m -w 0",
		"-P -t 198.18.1.100:80 -z 198.18.2.100 -F dpdk0", svc443, rs443)
	var text strings.Builder
	if err := WriteSave(&text, saved); err != nil {
		t.Fatal(err)
	}
	cmds, err := ReadRestore(strings.NewReader(text.String()))
	if err != nil {
		t.Fatal(err)
	}
	got := file.Clone()
	if err := got.Overlay(cmds); err != nil {
		t.Fatal(err)
	}
	if !got.Equal(saved) {
		var a strings.Builder
		WriteSave(&a, got)
		t.Errorf("overlay:\n%s\nwant:\n%s", a.String(), text.String())
	}
	bad, err := ReadRestore(strings.NewReader("-a -t 198.18.1.100:81 -r 198.18.2.11:80 -m\n"))
	if err != nil {
		t.Fatal(err)
	}
	before := got.Clone()
	if err := got.Overlay(bad); err == nil || !strings.Contains(err.Error(), "line 1") || !got.Equal(before) {
		t.Errorf("a bad saved state: %v", err)
	}
}

// TestMergeClientAddrWithFullNAT: a reload that gives a service a
// client-address option and makes its servers FULLNAT in the same file
// applies both (the servers first: the option needs them FULLNAT), and
// one that takes the option away and makes them NAT too (the service
// first).
func TestMergeClientAddrWithFullNAT(t *testing.T) {
	masq := config(t, svc80, rs11, rs12)
	fnat := config(t, svc80+" --proxy-protocol v2", "-a -t 198.18.1.100:80 -r 198.18.2.11:80 --fullnat -w 1",
		"-a -t 198.18.1.100:80 -r 198.18.2.12:80 --fullnat -w 1")
	got, changes, err := Merge(masq, fnat, masq)
	if err != nil || len(changes) != 3 || !got.Equal(fnat) {
		t.Fatalf("masq → fullnat with the option: %v, changes %v", err, changes)
	}
	got, changes, err = Merge(fnat, masq, fnat)
	if err != nil || len(changes) != 3 || !got.Equal(masq) {
		t.Fatalf("fullnat with the option → masq: %v, changes %v", err, changes)
	}
}

// TestMergeSysctlSeconds: an expiration the file changed is applied; one
// changed at runtime only is left alone.
func TestMergeSysctlSeconds(t *testing.T) {
	base, file, running := config(t, svc80), config(t, svc80), config(t, svc80)
	file.Sysctl.LBLCExpiration = 600
	running.Sysctl.LBLCRExpiration = 60
	got, changes, err := Merge(base, file, running)
	if err != nil || got.Sysctl.LBLCExpiration != 600 || got.Sysctl.LBLCRExpiration != 60 {
		t.Fatalf("merged: %v, %+v", err, got.Sysctl)
	}
	if len(changes) != 1 || changes[0].String() != "~ sysctl lblc_expiration 0→600" {
		t.Errorf("changes %q, want the lblc_expiration change", changes)
	}
}

// TestMergeMarks: a reload removes the mark rules the file lost and adds
// the ones it gained after the running ones; a rule added at runtime stays.
func TestMergeMarks(t *testing.T) {
	rule := func(s string) MarkRule {
		r, err := ParseMarkRule(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	base, file, running := config(t, svc80), config(t, svc80), config(t, svc80)
	base.Marks = []MarkRule{rule("1 dport 80"), rule("1 dport 443")}
	file.Marks = []MarkRule{rule("1 dport 443"), rule("2 dport 53")}
	running.Marks = []MarkRule{rule("1 dport 80"), rule("3 dport 22"), rule("1 dport 443")}
	got, changes, err := Merge(base, file, running)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	WriteMarks(&b, got.Marks, false)
	if want := "mark 3 dport 22\nmark 1 dport 443\nmark 2 dport 53\n"; b.String() != want {
		t.Errorf("merged rules:\n%s\nwant:\n%s", b.String(), want)
	}
	if len(changes) != 2 {
		t.Errorf("changes %v, want the deleted and the added rule", changes)
	}
}
