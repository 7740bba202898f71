package kernel

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// deadline is the promise: a change by someone else is reported (or undone,
// for the gateway's own) within 100 ms.
const deadline = 100 * time.Millisecond

// testNS is a network namespace of one test, with veth interfaces standing
// in for the PMD's kernel interfaces (each with its peer, up, so it has a
// carrier), or tap interfaces for names starting with "tap".
type testNS struct {
	name string
	ns   netns.NsHandle
	h    *netlink.Handle // the operator's, BIRD's, keepalived's netlink
}

var nsSeq atomic.Int64

func newNS(t *testing.T, ifaces ...string) *testNS {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("kernel: skipped: these tests create network namespaces and need root")
	}
	e := &testNS{name: fmt.Sprintf("fngw-kernel-%d-%d", os.Getpid(), nsSeq.Add(1))}
	if out, err := exec.Command("ip", "netns", "add", e.name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", e.name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", e.name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", e.name, err, out)
		}
	})
	var err error
	if e.ns, err = netns.GetFromName(e.name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.ns.Close() })
	if e.h, err = netlink.NewHandleAt(e.ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.h.Close)
	for _, i := range ifaces {
		if strings.HasPrefix(i, "tap") { // what net_tap creates (no carrier here: no PMD behind it)
			e.ip(t, "tuntap", "add", "dev", i, "mode", "tap")
		} else {
			e.ip(t, "link", "add", i, "type", "veth", "peer", "name", i+"p")
			e.ip(t, "link", "set", i+"p", "up")
		}
		e.ip(t, "link", "set", i, "up")
	}
	return e
}

// ip runs ip -n NS ARGS, as an operator would.
func (e *testNS) ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", append([]string{"-n", e.name}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// sysctl reads net.ipv4.conf.IFACE.NAME inside the namespace.
func (e *testNS) sysctl(t *testing.T, iface, name string) string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", e.name, "cat", "/proc/sys/net/ipv4/conf/"+iface+"/"+name).CombinedOutput()
	if err != nil {
		t.Fatalf("%s of %s: %v: %s", name, iface, err, out)
	}
	return strings.TrimSpace(string(out))
}

// kernelAddrs lists the IPv4 addresses on an interface.
func (e *testNS) kernelAddrs(t *testing.T, iface string) []netip.Prefix {
	t.Helper()
	l, err := e.h.LinkByName(iface)
	if err != nil {
		t.Fatal(err)
	}
	as, err := e.h.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	var out []netip.Prefix
	for _, a := range as {
		p, _ := ifaPrefix(*a.IPNet)
		out = append(out, p)
	}
	slices.SortFunc(out, comparePrefixes)
	return out
}

// gatewayRoutes lists the kernel's main-table routes of Protocol, in the
// kernel's own words (ip route's output, which leaves out the protocol it
// was asked for).
func (e *testNS) gatewayRoutes(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("ip", "-n", e.name, "-4", "route", "show", "proto", fmt.Sprint(Protocol)).CombinedOutput()
	if err != nil {
		t.Fatalf("ip route: %v: %s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// hasGatewayRoute reports whether the kernel has a main-table route of
// Protocol for prefix (read over netlink: fast enough to poll).
func (e *testNS) hasGatewayRoute(t *testing.T, prefix string) bool {
	t.Helper()
	rs, err := e.h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_MAIN, Protocol: Protocol},
		netlink.RT_FILTER_TABLE|netlink.RT_FILTER_PROTOCOL)
	if err != nil {
		t.Fatal(err)
	}
	return slices.ContainsFunc(rs, func(r netlink.Route) bool { return r.Dst.String() == prefix })
}

// until polls cond every millisecond and returns how long it took to hold,
// failing the test after limit.
func until(t *testing.T, what string, limit time.Duration, cond func() bool) time.Duration {
	t.Helper()
	t0 := time.Now()
	for !cond() {
		if time.Since(t0) > limit {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(t0)
}

// stamped is a State as Notify gave it, and when.
type stamped struct {
	at time.Time
	st State
}

// recorder keeps what Notify reports; its Notify never blocks.
type recorder struct {
	ch   chan stamped
	last State
}

func (r *recorder) notify(st State) {
	select {
	case r.ch <- stamped{time.Now(), st}:
	default:
		panic("kernel test: more notifications than the recorder holds")
	}
}

// wait returns the first notification (from now on) whose State satisfies
// ok, failing the test after timeout. Every State it reads goes to seen.
func (r *recorder) wait(t *testing.T, what string, timeout time.Duration, ok func(State) bool, seen ...func(State)) stamped {
	t.Helper()
	limit := time.After(timeout)
	for {
		select {
		case n := <-r.ch:
			r.last = n.st
			for _, f := range seen {
				f(n.st)
			}
			if ok(n.st) {
				return n
			}
		case <-limit:
			t.Fatalf("no notification with %s within %v; last State %+v", what, timeout, r.last)
		}
	}
}

// quiet fails the test if a notification comes within d.
func (r *recorder) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case n := <-r.ch:
		t.Fatalf("unexpected notification %+v", n.st)
	case <-time.After(d):
	}
}

// logBuffer collects Sync's log for tests that look at it.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type opened struct {
	*Sync
	rec *recorder
	log *logBuffer
}

// open starts a Sync on e's interfaces, closed at the end of the test.
func open(t *testing.T, e *testNS, links []Link, tune ...func(*Options)) opened {
	t.Helper()
	o := opened{rec: &recorder{ch: make(chan stamped, 4096)}, log: &logBuffer{}}
	opts := Options{Namespace: e.ns, Notify: o.rec.notify, Log: slog.New(slog.NewTextHandler(o.log, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	for _, f := range tune {
		f(&opts)
	}
	s, err := Open(links, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if t.Failed() {
			t.Logf("Sync's log:\n%s", o.log)
		}
	})
	o.Sync = s
	return o
}

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func hasAddr(a Addr) func(State) bool {
	return func(st State) bool { return slices.Contains(st.Addrs, a) }
}

func not(f func(State) bool) func(State) bool { return func(st State) bool { return !f(st) } }

func hasRoute(r Route) func(State) bool {
	return func(st State) bool { return slices.ContainsFunc(st.Routes, r.Equal) }
}

func noRouteFor(p string) func(State) bool {
	return func(st State) bool {
		return !slices.ContainsFunc(st.Routes, func(r Route) bool { return r.Prefix == pfx(p) })
	}
}

func TestOpen(t *testing.T) {
	t.Parallel()
	e := newNS(t, "k0", "k1", "tap0", "x0")
	e.ip(t, "addr", "add", "10.0.0.1/24", "dev", "k0")
	e.ip(t, "addr", "add", "10.1.0.1/24", "dev", "k1")
	e.ip(t, "addr", "add", "10.2.0.1/24", "dev", "tap0")
	e.ip(t, "addr", "add", "10.9.0.1/24", "dev", "x0")
	e.ip(t, "addr", "add", "2001:db8::1/64", "dev", "k0", "nodad")
	e.ip(t, "route", "add", "10.5.0.0/16", "via", "10.0.0.2")
	e.ip(t, "route", "add", "10.6.0.0/16", "via", "10.2.0.2", "proto", "12")
	e.ip(t, "route", "add", "10.10.0.0/16", "via", "10.9.0.2")
	e.ip(t, "-6", "route", "add", "2001:db8:5::/48", "via", "2001:db8::2")
	start := time.Now()
	s := open(t, e, []Link{{Port: "p0", Name: "k0"}, {Port: "p1", Name: "k1"}, {Port: "p2", Name: "tap0"}})
	want := State{
		Addrs:  []Addr{{"p0", pfx("10.0.0.1/24")}, {"p1", pfx("10.1.0.1/24")}, {"p2", pfx("10.2.0.1/24")}},
		Routes: []Route{route("10.5.0.0/16", nh("10.0.0.2", "p0")), route("10.6.0.0/16", nh("10.2.0.2", "p2"))},
	}
	n := s.rec.wait(t, "the first State", time.Second, func(State) bool { return true })
	if !n.st.Equal(want) {
		t.Errorf("first State %+v, want %+v", n.st, want)
	}
	t.Logf("first Notify %v after Open began", n.at.Sub(start))
	for iface, want := range map[string][3]string{"k0": {"1", "2", "1"}, "k1": {"1", "2", "1"}, "tap0": {"1", "2", "1"}, "x0": {"0", "0", "0"}} {
		for i, name := range []string{"arp_ignore", "arp_announce", "promote_secondaries"} {
			if got := e.sysctl(t, iface, name); got != want[i] {
				t.Errorf("%s of %s = %s, want %s", name, iface, got, want[i])
			}
		}
	}
	s.rec.quiet(t, 3*window)

	// Changes elsewhere are not reported: another interface, IPv6.
	e.ip(t, "addr", "add", "10.9.1.1/24", "dev", "x0")
	e.ip(t, "route", "add", "10.11.0.0/16", "via", "10.9.0.3", "proto", "12")
	e.ip(t, "addr", "add", "2001:db8::7/64", "dev", "k1", "nodad")
	s.rec.quiet(t, 3*window)
}

func TestOpenRefuses(t *testing.T) {
	t.Parallel()
	e := newNS(t, "k0")
	for _, tt := range []struct {
		links []Link
		want  []string
	}{
		{[]Link{{"p0", "k0"}, {"p1", "nosuch0"}}, []string{`"nosuch0"`, `"p1"`}},
		{[]Link{{"p0", "k0"}, {"p0", "k0"}}, []string{`port "p0"`}},
		{[]Link{{"p0", "k0"}, {"p1", "k0"}}, []string{`"k0"`, `"p0"`, `"p1"`}},
	} {
		s, err := Open(tt.links, Options{Namespace: e.ns})
		if err == nil {
			s.Close()
			t.Errorf("Open(%v) succeeded", tt.links)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Open(%v): %v; want it to name %s", tt.links, err, w)
			}
		}
	}
}

// TestLearnedAddrs: an address someone else adds (an operator, keepalived's
// virtual_ipaddress) and its removal are reported within 100 ms, and a
// burst of changes in a few notifications.
func TestLearnedAddrs(t *testing.T) {
	t.Parallel()
	e := newNS(t, "k0")
	s := open(t, e, []Link{{Port: "p0", Name: "k0"}})
	s.rec.wait(t, "the first State", time.Second, func(State) bool { return true })
	k0, err := e.h.LinkByName("k0")
	if err != nil {
		t.Fatal(err)
	}
	var worst, sum time.Duration
	const rounds = 10
	for i := range rounds {
		a := Addr{"p0", netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(100 + i)}), 32)}
		na := &netlink.Addr{IPNet: ipNet(a.Prefix)}
		t0 := time.Now()
		if err := e.h.AddrAdd(k0, na); err != nil {
			t.Fatal(err)
		}
		added := s.rec.wait(t, a.String(), time.Second, hasAddr(a)).at.Sub(t0)
		t0 = time.Now()
		if err := e.h.AddrDel(k0, na); err != nil {
			t.Fatal(err)
		}
		removed := s.rec.wait(t, "no "+a.String(), time.Second, not(hasAddr(a))).at.Sub(t0)
		worst, sum = max(worst, added, removed), sum+added+removed
	}
	t.Logf("address reported in %v on average, %v at worst (%d adds and removes)", sum/(2*rounds), worst, rounds)
	if worst > deadline {
		t.Errorf("an address change took %v to be reported, want at most %v", worst, deadline)
	}

	// A burst: 20 addresses in a row, in one or two notifications.
	var want []Addr
	for i := range 20 {
		a := Addr{"p0", netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, 1, byte(i + 1)}), 24)}
		want = append(want, a)
		if err := e.h.AddrAdd(k0, &netlink.Addr{IPNet: ipNet(a.Prefix)}); err != nil {
			t.Fatal(err)
		}
	}
	calls := 0
	s.rec.wait(t, "20 addresses", time.Second, func(st State) bool { return slices.Equal(st.Addrs, want) }, func(State) { calls++ })
	if calls > 3 {
		t.Errorf("20 addresses added in a row took %d notifications, want them coalesced", calls)
	}
	s.rec.quiet(t, 3*window)
}

// TestOwnAddrs: the gateway's addresses are put on the interface, never
// reported, put back when removed by someone else, and removed when the
// gateway drops them.
func TestOwnAddrs(t *testing.T) {
	t.Parallel()
	e := newNS(t, "k0", "k1")
	e.ip(t, "addr", "add", "10.0.0.50/24", "dev", "k0") // learned, then taken by the gateway
	s := open(t, e, []Link{{Port: "p0", Name: "k0"}, {Port: "p1", Name: "k1"}})
	own := []Addr{{"p0", pfx("10.0.0.1/24")}, {"p1", pfx("10.1.0.1/24")}}
	if err := s.SetAddrs(own); err != nil {
		t.Fatal(err)
	}
	if got, want := e.kernelAddrs(t, "k0"), []netip.Prefix{pfx("10.0.0.1/24"), pfx("10.0.0.50/24")}; !slices.Equal(got, want) {
		t.Errorf("k0 has %v, want %v", got, want)
	}
	if got, want := e.kernelAddrs(t, "k1"), []netip.Prefix{pfx("10.1.0.1/24")}; !slices.Equal(got, want) {
		t.Errorf("k1 has %v, want %v", got, want)
	}
	neverOwn := func(st State) {
		for _, a := range own {
			if slices.Contains(st.Addrs, a) {
				t.Errorf("the gateway's address %s reported as learned", a)
			}
		}
	}
	learned := Addr{"p0", pfx("10.0.0.50/24")}
	s.rec.wait(t, "the first State", time.Second, hasAddr(learned), neverOwn)

	// An operator removes the gateway's address: it is back within 100 ms,
	// and the learned one of the same subnet stays (promote_secondaries).
	k0, err := e.h.LinkByName("k0")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.h.AddrDel(k0, &netlink.Addr{IPNet: ipNet(pfx("10.0.0.1/24"))}); err != nil {
		t.Fatal(err)
	}
	d := until(t, "10.0.0.1/24 back on k0", deadline, func() bool { return slices.Contains(e.kernelAddrs(t, "k0"), pfx("10.0.0.1/24")) })
	t.Logf("the gateway's address back %v after an operator removed it", d)
	if !slices.Contains(e.kernelAddrs(t, "k0"), learned.Prefix) {
		t.Errorf("removing the gateway's address removed %s too", learned)
	}

	// The gateway takes the learned one: no longer reported.
	if err := s.SetAddrs(append(own, learned)); err != nil {
		t.Fatal(err)
	}
	s.rec.wait(t, "no learned address", time.Second, func(st State) bool { return len(st.Addrs) == 0 }, neverOwn)

	// The gateway drops p0's: removed from the kernel.
	if err := s.SetAddrs(own[1:]); err != nil {
		t.Fatal(err)
	}
	if got := e.kernelAddrs(t, "k0"); len(got) != 0 {
		t.Errorf("k0 still has %v after SetAddrs dropped them", got)
	}
	s.rec.quiet(t, 3*window)

	for _, tt := range []struct {
		addrs []Addr
		want  string
	}{
		{[]Addr{{"p9", pfx("10.0.0.1/24")}}, `port "p9"`},
		{[]Addr{{"p0", pfx("2001:db8::1/64")}}, "2001:db8::1/64"},
	} {
		if err := s.SetAddrs(tt.addrs); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("SetAddrs(%v) = %v, want an error naming %s", tt.addrs, err, tt.want)
		}
	}
	if got, want := e.kernelAddrs(t, "k1"), []netip.Prefix{pfx("10.1.0.1/24")}; !slices.Equal(got, want) {
		t.Errorf("a refused SetAddrs changed k1: %v, want %v", got, want)
	}
}

// TestLearnedRoutes: routes others put on the interfaces (static, BIRD,
// BGP multipath, on-link, default) are reported, the others are not.
func TestLearnedRoutes(t *testing.T) {
	t.Parallel()
	e := newNS(t, "k0", "k1", "x0")
	e.ip(t, "addr", "add", "10.9.0.1/24", "dev", "x0")
	s := open(t, e, []Link{{Port: "p0", Name: "k0"}, {Port: "p1", Name: "k1"}})
	if err := s.SetAddrs([]Addr{{"p0", pfx("10.0.0.1/24")}, {"p1", pfx("10.1.0.1/24")}}); err != nil {
		t.Fatal(err)
	}
	s.rec.wait(t, "the first State", time.Second, func(State) bool { return true })

	e.ip(t, "route", "add", "10.5.0.0/16", "via", "10.0.0.2")                // static (proto boot)
	e.ip(t, "route", "add", "10.6.0.0/16", "via", "10.0.0.3", "proto", "12") // BIRD
	e.ip(t, "route", "add", "10.7.0.0/16", "proto", "bgp", "metric", "20",   // FRR, ECMP
		"nexthop", "via", "10.1.0.2", "dev", "k1", "nexthop", "via", "10.0.0.2", "dev", "k0")
	e.ip(t, "route", "add", "10.8.0.0/16", "dev", "k0") // on-link
	e.ip(t, "route", "add", "default", "via", "10.1.0.254", "proto", "12", "metric", "32")
	e.ip(t, "route", "add", "10.13.0.0/16", "via", "10.0.0.2", "metric", "100") // shadowed
	e.ip(t, "route", "add", "10.13.0.0/16", "via", "10.0.0.4", "proto", "12", "metric", "50")
	e.ip(t, "route", "add", "10.10.0.0/16", "via", "10.9.0.2") // not mirrored
	e.ip(t, "route", "add", "10.11.0.0/16", "nexthop", "via", "10.0.0.2", "dev", "k0", "nexthop", "via", "10.9.0.2", "dev", "x0")
	e.ip(t, "route", "add", "10.12.0.0/16", "via", "10.0.0.2", "table", "100") // other table
	e.ip(t, "route", "add", "blackhole", "10.14.0.0/16")
	want := []Route{
		route("0.0.0.0/0", nh("10.1.0.254", "p1")),
		route("10.5.0.0/16", nh("10.0.0.2", "p0")),
		route("10.6.0.0/16", nh("10.0.0.3", "p0")),
		route("10.7.0.0/16", nh("10.0.0.2", "p0"), nh("10.1.0.2", "p1")),
		route("10.8.0.0/16", nh("", "p0")),
		route("10.13.0.0/16", nh("10.0.0.4", "p0")),
	}
	s.rec.wait(t, "the learned routes", time.Second, func(st State) bool { return (State{Routes: want}).Equal(st) })

	// A BIRD-like route (protocol 12) added and removed over netlink: timed.
	k0, err := e.h.LinkByName("k0")
	if err != nil {
		t.Fatal(err)
	}
	bird := &netlink.Route{Dst: ipNet(pfx("10.20.0.0/16")), Gw: ipOf(netip.MustParseAddr("10.0.0.5")), LinkIndex: k0.Attrs().Index, Protocol: 12, Priority: 32}
	r := route("10.20.0.0/16", nh("10.0.0.5", "p0"))
	var worst time.Duration
	for range 5 {
		t0 := time.Now()
		if err := e.h.RouteAdd(bird); err != nil {
			t.Fatal(err)
		}
		added := s.rec.wait(t, r.String(), time.Second, hasRoute(r)).at.Sub(t0)
		t0 = time.Now()
		if err := e.h.RouteDel(bird); err != nil {
			t.Fatal(err)
		}
		removed := s.rec.wait(t, "no "+r.String(), time.Second, noRouteFor("10.20.0.0/16")).at.Sub(t0)
		worst = max(worst, added, removed)
	}
	t.Logf("route change reported in %v at worst", worst)
	if worst > deadline {
		t.Errorf("a route change took %v to be reported, want at most %v", worst, deadline)
	}

	// Replace, and delete of the lower metric: the other comes back.
	e.ip(t, "route", "replace", "10.6.0.0/16", "via", "10.1.0.9", "proto", "12")
	s.rec.wait(t, "10.6.0.0/16 replaced", time.Second, hasRoute(route("10.6.0.0/16", nh("10.1.0.9", "p1"))))
	e.ip(t, "route", "del", "10.13.0.0/16", "metric", "50")
	s.rec.wait(t, "10.13.0.0/16 at metric 100", time.Second, hasRoute(route("10.13.0.0/16", nh("10.0.0.2", "p0"))))

	// k1 goes down (not through SetLink): the kernel drops its routes and
	// the ECMP route's k1 next hop without a word; reported all the same.
	e.ip(t, "link", "set", "k1", "down")
	s.rec.wait(t, "the routes left when k1 is down", time.Second, func(st State) bool {
		return noRouteFor("0.0.0.0/0")(st) && noRouteFor("10.6.0.0/16")(st) &&
			hasRoute(route("10.7.0.0/16", nh("10.0.0.2", "p0")))(st)
	})
	e.ip(t, "link", "set", "k1", "up")
	s.rec.wait(t, "both ECMP next hops back", time.Second, hasRoute(route("10.7.0.0/16", nh("10.0.0.2", "p0"), nh("10.1.0.2", "p1"))))
}

// TestOwnRoutes: the gateway's routes are installed with its protocol,
// never reported, put back, and removed when no longer wanted.
func TestOwnRoutes(t *testing.T) {
	t.Parallel()
	e := newNS(t, "k0", "k1")
	s := open(t, e, []Link{{Port: "p0", Name: "k0"}, {Port: "p1", Name: "k1"}})
	if err := s.SetAddrs([]Addr{{"p0", pfx("10.0.0.1/24")}, {"p1", pfx("10.1.0.1/24")}}); err != nil {
		t.Fatal(err)
	}
	own := []Route{
		route("10.30.0.0/16", nh("10.0.0.254", "p0")),
		route("10.31.0.0/16", nh("10.1.0.2", "p1"), nh("10.0.0.2", "p0")), // unsorted on purpose
		route("10.32.0.0/16", nh("", "p1")),
	}
	if err := s.SetRoutes(own); err != nil {
		t.Fatal(err)
	}
	wantKernel := strings.Join([]string{
		"10.30.0.0/16 via 10.0.0.254 dev k0 ",
		"10.31.0.0/16 ",
		"\tnexthop via 10.0.0.2 dev k0 weight 1 ",
		"\tnexthop via 10.1.0.2 dev k1 weight 1 ",
		"10.32.0.0/16 dev k1 scope link",
	}, "\n")
	if got := e.gatewayRoutes(t); got != strings.TrimSpace(wantKernel) {
		t.Errorf("the kernel's routes of protocol %d:\n%s\nwant:\n%s", Protocol, got, wantKernel)
	}
	neverOwn := func(st State) {
		for _, r := range st.Routes {
			if r.Prefix == pfx("10.31.0.0/16") || r.Prefix == pfx("10.32.0.0/16") {
				t.Errorf("the gateway's route %s reported as learned", r)
			}
		}
	}
	s.rec.wait(t, "the first State", time.Second, func(st State) bool { return len(st.Routes) == 0 }, neverOwn)

	// An operator deletes one: back within 100 ms.
	if err := e.h.RouteDel(&netlink.Route{Dst: ipNet(pfx("10.30.0.0/16"))}); err != nil {
		t.Fatal(err)
	}
	d := until(t, "10.30.0.0/16 back", deadline, func() bool { return e.hasGatewayRoute(t, "10.30.0.0/16") })
	t.Logf("the gateway's route back %v after an operator deleted it", d)

	// BIRD learns the same prefix: reported (both sides, faithfully); the
	// gateway's stays, preferred by the kernel at metric 0.
	e.ip(t, "route", "add", "10.30.0.0/16", "via", "10.1.0.7", "proto", "12", "metric", "32")
	s.rec.wait(t, "BIRD's 10.30.0.0/16", time.Second, hasRoute(route("10.30.0.0/16", nh("10.1.0.7", "p1"))), neverOwn)

	// A route of the gateway's protocol it does not want is removed.
	e.ip(t, "route", "add", "10.34.0.0/16", "via", "10.0.0.2", "proto", fmt.Sprint(Protocol))
	until(t, "10.34.0.0/16 of the gateway's protocol, not wanted, deleted", time.Second, func() bool { return !e.hasGatewayRoute(t, "10.34.0.0/16") })

	// Changed, then dropped.
	if err := s.SetRoutes([]Route{route("10.31.0.0/16", nh("10.0.0.2", "p0"))}); err != nil {
		t.Fatal(err)
	}
	if got, want := e.gatewayRoutes(t), "10.31.0.0/16 via 10.0.0.2 dev k0"; got != want {
		t.Errorf("after SetRoutes: %q, want %q", got, want)
	}
	if err := s.SetRoutes(nil); err != nil {
		t.Fatal(err)
	}
	if got := e.gatewayRoutes(t); got != "" {
		t.Errorf("after SetRoutes(nil): %q", got)
	}

	// Refused: someone else's static route holds the prefix at metric 0;
	// installed as soon as it goes.
	e.ip(t, "route", "add", "10.35.0.0/16", "via", "10.0.0.9")
	r35 := route("10.35.0.0/16", nh("10.0.0.2", "p0"))
	if err := s.SetRoutes([]Route{r35}); err == nil || !strings.Contains(err.Error(), r35.String()) {
		t.Errorf("SetRoutes(%s) over an operator's route = %v, want an error naming it", r35, err)
	}
	if err := e.h.RouteDel(&netlink.Route{Dst: ipNet(pfx("10.35.0.0/16"))}); err != nil {
		t.Fatal(err)
	}
	until(t, "10.35.0.0/16 installed once the operator's went", deadline, func() bool { return e.hasGatewayRoute(t, "10.35.0.0/16") })

	// Refused: the next hop is on no connected subnet; installed once an
	// address makes it one.
	r36 := route("10.36.0.0/16", nh("10.2.0.1", "p0"))
	if err := s.SetRoutes([]Route{r35, r36}); err == nil || !strings.Contains(err.Error(), r36.String()) {
		t.Errorf("SetRoutes(%s) with no connected subnet = %v, want an error naming it", r36, err)
	}
	if err := s.SetAddrs([]Addr{{"p0", pfx("10.0.0.1/24")}, {"p0", pfx("10.2.0.5/24")}}); err != nil {
		t.Fatal(err)
	}
	until(t, "10.36.0.0/16 installed once its subnet is", time.Second, func() bool { return e.hasGatewayRoute(t, "10.36.0.0/16") })

	for _, tt := range []struct {
		routes []Route
		want   string
	}{
		{[]Route{route("10.40.0.0/16", nh("10.0.0.2", "p9"))}, `port "p9"`},
		{[]Route{route("10.40.0.0/16", nh("10.0.0.2", "p0")), route("10.40.0.0/16", nh("10.0.0.3", "p0"))}, "10.40.0.0/16"},
	} {
		if err := s.SetRoutes(tt.routes); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("SetRoutes(%v) = %v, want an error naming %s", tt.routes, err, tt.want)
		}
	}
}

// TestSetLink: down and up with the data port, MTU; the kernel drops the
// routes through a down interface, the gateway's come back with it.
func TestSetLink(t *testing.T) {
	t.Parallel()
	e := newNS(t, "k0")
	s := open(t, e, []Link{{Port: "p0", Name: "k0"}})
	if err := s.SetAddrs([]Addr{{"p0", pfx("10.0.0.1/24")}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRoutes([]Route{route("10.40.0.0/16", nh("10.0.0.2", "p0"))}); err != nil {
		t.Fatal(err)
	}
	e.ip(t, "route", "add", "10.41.0.0/16", "via", "10.0.0.3", "proto", "12")
	learned := route("10.41.0.0/16", nh("10.0.0.3", "p0"))
	s.rec.wait(t, learned.String(), time.Second, hasRoute(learned))

	link := func() (up bool, mtu int) {
		l, err := e.h.LinkByName("k0")
		if err != nil {
			t.Fatal(err)
		}
		return l.Attrs().RawFlags&unix.IFF_UP != 0, l.Attrs().MTU
	}
	t0 := time.Now()
	if err := s.SetLink("p0", false, 1400); err != nil {
		t.Fatal(err)
	}
	if up, mtu := link(); up || mtu != 1400 {
		t.Errorf("after SetLink(down, 1400): up %v, MTU %d", up, mtu)
	}
	n := s.rec.wait(t, "the learned route gone with the link", time.Second, noRouteFor("10.41.0.0/16"))
	t.Logf("routes dropped silently by the kernel reported in %v", n.at.Sub(t0))
	if d := n.at.Sub(t0); d > deadline {
		t.Errorf("routes of a down interface reported gone after %v, want at most %v", d, deadline)
	}
	if got := e.kernelAddrs(t, "k0"); !slices.Equal(got, []netip.Prefix{pfx("10.0.0.1/24")}) {
		t.Errorf("k0 down has %v", got)
	}

	if err := s.SetLink("p0", true, 1500); err != nil {
		t.Fatal(err)
	}
	if up, mtu := link(); !up || mtu != 1500 {
		t.Errorf("after SetLink(up, 1500): up %v, MTU %d", up, mtu)
	}
	if got, want := e.gatewayRoutes(t), "10.40.0.0/16 via 10.0.0.2 dev k0"; got != want {
		t.Errorf("when SetLink(up) returned, the kernel had %q, want %q", got, want)
	}
	if err := s.SetLink("p9", true, 0); err == nil || !strings.Contains(err.Error(), `"p9"`) {
		t.Errorf("SetLink(p9) = %v, want an error naming it", err)
	}
	if err := s.SetLink("p0", true, 50); err == nil || !strings.Contains(err.Error(), "50") || !strings.Contains(err.Error(), `"k0"`) {
		t.Errorf("SetLink(MTU 50) = %v, want an error naming the MTU and interface", err)
	}
}

// TestUp: Up follows the interface's state whoever changes it: SetLink,
// an operator's ip link set, the interface deleted.
func TestUp(t *testing.T) {
	t.Parallel()
	e := newNS(t, "k0")
	s := open(t, e, []Link{{Port: "p0", Name: "k0"}})
	up := func(want bool, what string) {
		t.Helper()
		var got bool
		var err error
		for end := time.Now().Add(deadline); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
			if got, err = s.Up("p0"); err != nil || got == want {
				break
			}
		}
		if err != nil || got != want {
			t.Errorf("%s: Up = %v, %v; want %v", what, got, err, want)
		}
	}
	if err := s.SetLink("p0", true, 0); err != nil {
		t.Fatal(err)
	}
	up(true, "after SetLink(up)")
	e.ip(t, "link", "set", "k0", "down")
	up(false, "after ip link set k0 down")
	e.ip(t, "link", "set", "k0", "up")
	up(true, "after ip link set k0 up")
	e.ip(t, "link", "del", "k0")
	up(false, "after ip link del k0")
	if _, err := s.Up("p9"); err == nil || !strings.Contains(err.Error(), `"p9"`) {
		t.Errorf("Up(p9) = %v, want an error naming it", err)
	}
}

// TestLostEvents: with a tiny socket buffer a burst of 3000 routes
// overflows it; Sync notices, reads everything again and reports them all.
// Not parallel: its dumps would hold up the other tests' timed reports.
func TestLostEvents(t *testing.T) {
	e := newNS(t, "k0")
	s := open(t, e, []Link{{Port: "p0", Name: "k0"}}, func(o *Options) { o.rcvbuf = 1 })
	if err := s.SetAddrs([]Addr{{"p0", pfx("10.0.0.1/24")}}); err != nil {
		t.Fatal(err)
	}
	var batch strings.Builder
	const n = 3000
	for i := range n {
		fmt.Fprintf(&batch, "route add 10.%d.%d.0/24 via 10.0.0.2 proto 12\n", 100+i/256, i%256)
	}
	cmd := exec.Command("ip", "-n", e.name, "-batch", "-")
	cmd.Stdin = strings.NewReader(batch.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ip -batch: %v: %s", err, out)
	}
	s.rec.wait(t, fmt.Sprint(n, " routes"), 10*time.Second, func(st State) bool { return len(st.Routes) == n })
	if !strings.Contains(s.log.String(), "netlink events lost") {
		t.Errorf("no events were lost with a tiny buffer, so the recovery was not tested; log:\n%s", s.log)
	}
}

// TestClose: Close ends every goroutine Sync and the netlink package
// started; afterwards the methods say it is closed.
func TestClose(t *testing.T) {
	e := newNS(t, "k0")
	before := runtime.NumGoroutine()
	s, err := Open([]Link{{Port: "p0", Name: "k0"}}, Options{Namespace: e.ns, Notify: func(State) {}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetAddrs([]Addr{{"p0", pfx("10.0.0.1/24")}}); err != nil {
		t.Fatal(err)
	}
	e.ip(t, "addr", "add", "10.0.0.2/24", "dev", "k0")
	during := runtime.NumGoroutine()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	for runtime.NumGoroutine() > before {
		if time.Since(t0) > 2*time.Second {
			t.Fatalf("%d goroutines before Open, %d while open, %d after Close", before, during, runtime.NumGoroutine())
		}
		time.Sleep(time.Millisecond)
	}
	t.Logf("%d goroutines before Open, %d while open, %d after Close", before, during, runtime.NumGoroutine())
	if err := s.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close = %v, want ErrClosed", err)
	}
	if err := s.SetAddrs(nil); !errors.Is(err, ErrClosed) {
		t.Errorf("SetAddrs after Close = %v, want ErrClosed", err)
	}
}
