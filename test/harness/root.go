package harness

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

// Name prefixes of everything the harness creates. The pid of the creating
// process follows each prefix, so a sweep can tell leftovers of dead runs from
// the resources of a run in progress.
const (
	NetnsPrefix  = "fngwt-"     // network namespaces: fngwt-PID-N-label
	IfPrefix     = "fgt"        // interfaces: fgtPIDHEX-N (at most 15 bytes)
	FilePrefix   = "fngwt-"     // DPDK --file-prefix: fngwt-PID-N
	PidDir       = "/run/fngwt" // one pid file per running gateway
	dpdkRunDir   = "/var/run/dpdk"
	maxIfNameLen = 15 // IFNAMSIZ - 1
)

var seq atomic.Uint64

// next returns a number unique within this process.
func next() uint64 { return seq.Add(1) }

// UniqueIfName returns an interface name no other process and no earlier call
// uses: "fgt" + this pid in hex + "-" + a sequence number, at most 15 bytes.
func UniqueIfName() string {
	n := fmt.Sprintf("%s%x-%d", IfPrefix, os.Getpid(), next())
	if len(n) > maxIfNameLen {
		panic("harness: interface name too long: " + n)
	}
	return n
}

// TempDir creates a directory "fngwt-LABEL..." in the system's temporary
// directory, removed by t.Cleanup. Unlike t.TempDir its path is short and
// holds no test name: a unix socket path must fit in 108 bytes, and a DPDK
// vdev argument cannot hold the ',' or '=' a subtest's name may contain.
func TempDir(t testing.TB, label string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "fngwt-"+label)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// ModuleRoot returns the directory holding the fngw go.mod, found by walking up
// from the working directory (go test runs in the package directory).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(bytes.TrimSpace(b), []byte("module fngw\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("harness: no go.mod of module fngw above the working directory")
		}
		dir = parent
	}
}

// Binary returns the absolute path of bin/gw, failing the test with what to do
// when it is missing. The harness never builds it: the Makefile's test targets
// depend on build.
func Binary(t testing.TB) string {
	t.Helper()
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, "bin", "gw")
	st, err := os.Stat(p)
	if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		t.Fatalf("gateway binary %s not found or not executable: run make build", p)
	}
	return p
}

var sweepOnce sync.Once

// Prepare must start every test that uses the harness. It fails the test when
// not running as root, and on its first call in the process sweeps stale
// resources of crashed runs (see Sweep).
func Prepare(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("these tests need network namespaces, tap devices and DPDK: run as root (make test)")
	}
	sweepOnce.Do(func() {
		if err := Sweep(); err != nil {
			t.Logf("harness: sweeping stale resources: %v", err)
		}
	})
}

// alive reports whether process pid exists.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// ownerPid parses the creator pid out of a harness name "PREFIXpid-...",
// with the pid in decimal or (for interface names) hex.
func ownerPid(name, prefix string, base int) (int, bool) {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return 0, false
	}
	s, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	pid, err := strconv.ParseInt(s, base, 32)
	if err != nil {
		return 0, false
	}
	return int(pid), true
}

// Sweep removes what runs that died without cleaning up left behind: gateway
// processes recorded in PidDir (killed by pid, after checking that the pid
// still runs a gw binary with the recorded config), network namespaces named
// NetnsPrefix, harness interfaces in the root namespace, and DPDK runtime
// directories named FilePrefix. Only resources whose creating process is dead
// are touched.
func Sweep() error {
	var errs []error
	// Gateways first: a namespace is only gone once no process is in it.
	pidfiles, _ := filepath.Glob(filepath.Join(PidDir, "*.pid"))
	for _, f := range pidfiles {
		owner, ok := ownerPid(filepath.Base(f), "", 10)
		if !ok || alive(owner) {
			continue
		}
		if err := killRecorded(f); err != nil {
			errs = append(errs, err)
		}
		os.Remove(f)
	}
	if ents, err := os.ReadDir("/run/netns"); err == nil {
		for _, e := range ents {
			owner, ok := ownerPid(e.Name(), NetnsPrefix, 10)
			if !ok || alive(owner) {
				continue
			}
			if out, err := run("ip", "netns", "delete", e.Name()); err != nil {
				errs = append(errs, fmt.Errorf("ip netns delete %s: %v: %s", e.Name(), err, out))
			}
		}
	}
	if ents, err := os.ReadDir("/sys/class/net"); err == nil {
		for _, e := range ents {
			owner, ok := ownerPid(e.Name(), IfPrefix, 16)
			if !ok || alive(owner) {
				continue
			}
			if out, err := run("ip", "link", "delete", e.Name()); err != nil {
				errs = append(errs, fmt.Errorf("ip link delete %s: %v: %s", e.Name(), err, out))
			}
		}
	}
	if ents, err := os.ReadDir(dpdkRunDir); err == nil {
		for _, e := range ents {
			owner, ok := ownerPid(e.Name(), FilePrefix, 10)
			if !ok || alive(owner) {
				continue
			}
			if err := os.RemoveAll(filepath.Join(dpdkRunDir, e.Name())); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// killRecorded kills the gateway recorded in pid file f ("PID\nBINARY\nCONFIG\n")
// if that pid still runs BINARY with CONFIG on its command line.
func killRecorded(f string) error {
	b, err := os.ReadFile(f)
	if err != nil {
		return nil
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 3 {
		return nil
	}
	pid, err := strconv.Atoi(lines[0])
	if err != nil || !alive(pid) {
		return nil
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil || strings.TrimSuffix(exe, " (deleted)") != lines[1] {
		return nil
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !bytes.Contains(cmdline, []byte(lines[2])) {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("killing stale gateway pid %d: %w", pid, err)
	}
	return nil
}
