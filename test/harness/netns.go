package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// cmdTimeout bounds every helper command (ip, sysctl, ...): none of them
// should take long, and a hung one must not hang the test run.
const cmdTimeout = 30 * time.Second

// Netns is a network namespace created for one test, deleted by t.Cleanup
// (even when the test fails). Command, Run, IP and String also work on a nil
// *Netns, meaning the root namespace; the other methods need a real one.
type Netns struct {
	Name string
	t    testing.TB
}

// NewNetns creates namespace "fngwt-PID-N-label" with its loopback up and
// registers its deletion. Interfaces inside are destroyed with it (veth and
// tap devices are virtual); a tap still open by a gateway survives until the
// gateway exits, so stop gateways before namespaces go (t.Cleanup runs in
// reverse order: create namespaces before starting the gateway).
func NewNetns(t testing.TB, label string) *Netns {
	t.Helper()
	name := fmt.Sprintf("%s%d-%d-%s", NetnsPrefix, os.Getpid(), next(), label)
	if out, err := run("ip", "netns", "add", name); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	n := &Netns{Name: name, t: t}
	t.Cleanup(func() {
		if out, err := run("ip", "netns", "delete", name); err != nil {
			t.Errorf("ip netns delete %s: %v: %s", name, err, out)
		}
	})
	n.MustIP("link", "set", "lo", "up")
	return n
}

// run runs argv with the helper timeout and returns its combined output.
func run(argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("killed after %v", cmdTimeout)
	}
	return string(out), err
}

// argv is the command line that runs name with args inside n.
func (n *Netns) argv(name string, args ...string) []string {
	if n == nil {
		return append([]string{name}, args...)
	}
	return append([]string{"ip", "netns", "exec", n.Name, name}, args...)
}

// Command returns a command that runs name with args inside n (through
// `ip netns exec`); with a nil n it runs in the root namespace.
func (n *Netns) Command(name string, args ...string) *exec.Cmd {
	a := n.argv(name, args...)
	return exec.Command(a[0], a[1:]...)
}

// Run runs a command inside n and returns its combined output; the error
// says which command failed.
func (n *Netns) Run(name string, args ...string) (string, error) {
	out, err := run(n.argv(name, args...)...)
	if err != nil {
		return out, fmt.Errorf("in %s: %s %s: %w: %s", n, name, strings.Join(args, " "), err, strings.TrimSpace(out))
	}
	return out, nil
}

// MustRun is Run that fails the test on error.
func (n *Netns) MustRun(name string, args ...string) string {
	n.t.Helper()
	out, err := n.Run(name, args...)
	if err != nil {
		n.t.Fatal(err)
	}
	return out
}

// IP runs `ip -n NAME args...` (plain `ip` for a nil n).
func (n *Netns) IP(args ...string) (string, error) {
	if n != nil {
		args = append([]string{"-n", n.Name}, args...)
	}
	out, err := run(append([]string{"ip"}, args...)...)
	if err != nil {
		return out, fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(out))
	}
	return out, nil
}

// MustIP is IP that fails the test on error.
func (n *Netns) MustIP(args ...string) string {
	n.t.Helper()
	out, err := n.IP(args...)
	if err != nil {
		n.t.Fatal(err)
	}
	return out
}

func (n *Netns) String() string {
	if n == nil {
		return "root namespace"
	}
	return "namespace " + n.Name
}

// MoveLink moves link from n into namespace to (`ip link set LINK netns TO`).
func (n *Netns) MoveLink(link string, to *Netns) {
	n.t.Helper()
	n.MustIP("link", "set", "dev", link, "netns", to.Name)
}

// LinkUp sets link up.
func (n *Netns) LinkUp(link string) {
	n.t.Helper()
	n.MustIP("link", "set", "dev", link, "up")
}

// AddAddr adds prefix (e.g. "198.18.1.2/24") to link.
func (n *Netns) AddAddr(link, prefix string) {
	n.t.Helper()
	n.MustIP("addr", "add", prefix, "dev", link)
}

// AddRoute adds a route to dst ("198.18.2.0/24" or "default") via gw.
func (n *Netns) AddRoute(dst, gw string) {
	n.t.Helper()
	n.MustIP("route", "add", dst, "via", gw)
}

// linkJSON is the part of `ip -j link show` the harness reads.
type linkJSON struct {
	IfName    string   `json:"ifname"`
	Address   string   `json:"address"`
	OperState string   `json:"operstate"`
	Flags     []string `json:"flags"`
}

func (n *Netns) link(name string) (linkJSON, error) {
	out, err := n.IP("-j", "link", "show", "dev", name)
	if err != nil {
		return linkJSON{}, err
	}
	var l []linkJSON
	if err := json.Unmarshal([]byte(out), &l); err != nil || len(l) != 1 {
		return linkJSON{}, fmt.Errorf("ip -j link show dev %s in %s: unexpected output %q", name, n, out)
	}
	return l[0], nil
}

// HasLink reports whether link exists in n.
func (n *Netns) HasLink(link string) bool {
	_, err := n.link(link)
	return err == nil
}

// MAC returns link's hardware address.
func (n *Netns) MAC(link string) net.HardwareAddr {
	n.t.Helper()
	l, err := n.link(link)
	if err != nil {
		n.t.Fatal(err)
	}
	mac, err := net.ParseMAC(l.Address)
	if err != nil {
		n.t.Fatalf("link %s in %s: hardware address %q: %v", link, n, l.Address, err)
	}
	return mac
}

// WaitLink waits until link exists in n.
func (n *Netns) WaitLink(link string, timeout time.Duration) {
	n.t.Helper()
	Eventually(n.t, timeout, fmt.Sprintf("link %s in %s", link, n), func() error {
		_, err := n.link(link)
		return err
	})
}

// Sysctl sets a sysctl inside n, e.g. Sysctl("net.ipv6.conf.all.disable_ipv6", "1").
func (n *Netns) Sysctl(key, value string) {
	n.t.Helper()
	n.MustRun("sysctl", "-q", "-w", key+"="+value)
}

// DisableIPv6 turns IPv6 off on every interface of n, present and future,
// so that the kernel sends no router or neighbour solicitations: only the
// test's traffic crosses n's links.
func (n *Netns) DisableIPv6() {
	n.t.Helper()
	n.Sysctl("net.ipv6.conf.all.disable_ipv6", "1")
	n.Sysctl("net.ipv6.conf.default.disable_ipv6", "1")
}

// AddVeth creates the veth pair a <-> b inside n, disables IPv6 on both ends
// (so that the kernel sends no router or neighbour solicitations: only what
// the test sends crosses the pair) and sets both up.
func (n *Netns) AddVeth(a, b string) {
	n.t.Helper()
	n.MustIP("link", "add", a, "type", "veth", "peer", "name", b)
	for _, l := range []string{a, b} {
		n.Sysctl("net.ipv6.conf."+l+".disable_ipv6", "1")
		n.LinkUp(l)
	}
}
