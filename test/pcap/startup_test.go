package pcap

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"fngw/ctl"
	"fngw/test/harness"
)

// startupRig is a namespace with one veth for a net_pcap port, where `gw
// run` is started by hand to see how it refuses to start.
type startupRig struct {
	ns  *harness.Netns
	dir string
	cfg harness.Config
}

func newStartupRig(t *testing.T) *startupRig {
	t.Helper()
	harness.Prepare(t)
	r := &startupRig{ns: harness.NewNetns(t, "gw"), dir: harness.TempDir(t, "startup")}
	gwEnd, testEnd := harness.UniqueIfName(), harness.UniqueIfName()
	r.ns.AddVeth(gwEnd, testEnd)
	r.cfg = harness.Config{FilePrefix: fmt.Sprintf("%s%d-start", harness.FilePrefix, os.Getpid()), Socket: filepath.Join(r.dir, "gw.sock"),
		Ports: []harness.Port{{Name: "dpdk0", Device: "net_pcap0,rx_iface=" + gwEnd + ",tx_pcap=" + filepath.Join(r.dir, "tx.pcap"),
			Addrs: []string{"198.18.1.1/24"}}}}
	return r
}

// run runs `gw run -c` on cfg in the rig's namespace (prefix, e.g. setpriv,
// before it) and returns its output and exit status.
func (r *startupRig) run(t *testing.T, cfg harness.Config, prefix ...string) (string, int) {
	t.Helper()
	path := filepath.Join(r.dir, "gw.toml")
	if err := os.WriteFile(path, []byte(cfg.TOML()), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), harness.StartTimeout)
	defer cancel()
	argv := append(prefix, harness.Binary(t), "run", "-c", path)
	c := r.ns.Command(argv[0], argv[1:]...)
	out, err := exec.CommandContext(ctx, c.Args[0], c.Args[1:]...).CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("gw run: %v", err)
	}
	if ee != nil {
		return string(out), ee.ExitCode()
	}
	return string(out), 0
}

// refused fails the test unless out says every one of want, the status
// is 1, and DPDK printed nothing when eal is false (the check came first).
func refused(t *testing.T, what, out string, code int, eal bool, want ...string) {
	t.Helper()
	if code != 1 {
		t.Errorf("%s: exit status %d, want 1:\n%s", what, code, out)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%s: want %q in:\n%s", what, w, out)
		}
	}
	if !eal && strings.Contains(out, "EAL") {
		t.Errorf("%s: DPDK was started before the check:\n%s", what, out)
	}
}

// TestStartupRefusals: what stops `gw run` is said plainly, before DPDK
// prints anything where it can be known before: not root; the control
// socket in use by a running gateway; the metrics address taken; a kernel
// interface name already an interface's. A port MTU
// the device cannot take (net_pcap cannot change its MTU) names the port
// and the MTU instead of a warning and a stack advertising an MTU whose
// frames the port drops.
func TestStartupRefusals(t *testing.T) {
	r := newStartupRig(t)
	out, code := r.run(t, r.cfg, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
	refused(t, "as nobody", out, code, false, "needs root")

	mtu := r.cfg
	mtu.Ports = []harness.Port{r.cfg.Ports[0]}
	mtu.Ports[0].MTU = 9000
	out, code = r.run(t, mtu)
	refused(t, "mtu 9000 on net_pcap", out, code, true, "port dpdk0: mtu 9000", "the device takes")

	taken := r.cfg
	taken.Ports = []harness.Port{r.cfg.Ports[0]}
	taken.Ports[0].KernelIface = "lo"
	out, code = r.run(t, taken)
	refused(t, "kernel_iface taken", out, code, false, `port dpdk0: kernel_iface "lo": an interface of that name exists already`)

	metrics := r.cfg
	metrics.Metrics = "127.0.0.1:9180"
	var ln net.Listener
	if err := r.ns.Do(func() (err error) { ln, err = net.Listen("tcp", metrics.Metrics); return }); err != nil {
		t.Fatal(err)
	}
	out, code = r.run(t, metrics)
	ln.Close()
	refused(t, "metrics address taken", out, code, false, "metrics endpoint 127.0.0.1:9180")

	g := harness.Start(t, r.cfg, r.ns)
	second := r.cfg
	second.FilePrefix += "b"
	out, code = r.run(t, second)
	refused(t, "socket in use", out, code, false, "control socket "+r.cfg.Socket+" is in use")
	if _, err := g.Cmd("link", "show"); err != nil {
		t.Errorf("the running gateway after a second one was refused: %v", err)
	}
}

// TestUnknownCommandListsCommands: `gw` with an unknown command names every
// command, exit status 2, without a gateway to ask.
func TestUnknownCommandListsCommands(t *testing.T) {
	out, err := exec.Command(harness.Binary(t), "--sock", "/nonexistent/gw.sock", "frobnicate").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), ctl.Commands) {
		t.Errorf("gw frobnicate: %v:\n%s", err, out)
	}
}
