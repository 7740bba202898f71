package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"fngw/test/harness"
)

// High availability and scale-out with the real daemons over the kernel
// path: two gateways side by side, each in its namespace, with the same
// FULLNAT service and a local address of its own.
//
//	front ns ──veth── br0 ──tap── gw A  dpdk0 .1.3 (kgw0)   dpdk1 .2.3 (kgw1)  ──tap── br1 ──veth── rs1 198.18.2.11
//	                   └───tap── gw B  dpdk0 .1.4 (kgw0)   dpdk1 .2.4 (kgw1)  ──tap───┘└──veth── rs2 198.18.2.12
//	                  (br0 and br1 are bridges of one switch namespace)
//
// The front host is the client itself (198.18.1.2, active/standby with
// keepalived: the VIP is in the front subnet) or a router (198.18.1.254,
// active/active with BIRD: the VIP is a /32 both gateways announce, the
// client behind the router).
var (
	haFront = [2]string{"198.18.1.3", "198.18.1.4"}
	haBack  = [2]string{"198.18.2.3", "198.18.2.4"}
	haLIP   = [2]string{"198.18.2.100", "198.18.2.101"}
	haMAC   = [2]string{"02:00:00:00:01:0a", "02:00:00:00:01:0b"} // the front ports'
	haName  = [2]string{"A", "B"}
)

// haTopo is a running pair of gateways.
type haTopo struct {
	*fnTopo // dir, peer, spawn, peerRun; its g is gateway A (for failure messages)
	gw      [2]*harness.Gateway
	front   *harness.Netns
	sw      *harness.Netns
	rs      [2]*harness.Netns
	vip     string
}

// haOpts vary the pair.
type haOpts struct {
	front  string // the front host's address with its prefix length
	vip    string
	vipARP string // the front ports' vip_arp
	sched  string
}

// startHA builds the topology, starts the real servers and both gateways
// with the service VIP:80 in their files, and returns once everything is
// wired.
func startHA(t *testing.T, o haOpts) *haTopo {
	t.Helper()
	harness.Prepare(t)
	tp := &haTopo{fnTopo: &fnTopo{peer: peerCmd.binary(t)}, vip: o.vip}
	// Namespaces first, so that t.Cleanup stops the gateways and the
	// processes before they go.
	var gwNS [2]*harness.Netns
	for i := range gwNS {
		gwNS[i] = harness.NewNetns(t, "gw"+strings.ToLower(haName[i]))
	}
	tp.front = harness.NewNetns(t, "front")
	tp.sw = harness.NewNetns(t, "sw")
	tp.rs[0], tp.rs[1] = harness.NewNetns(t, "rs1"), harness.NewNetns(t, "rs2")
	for _, ns := range []*harness.Netns{gwNS[0], gwNS[1], tp.front, tp.sw, tp.rs[0], tp.rs[1]} {
		ns.DisableIPv6()
	}
	tp.dir = harness.TempDir(t, "ha")
	for _, br := range []string{"br0", "br1"} {
		tp.sw.MustIP("link", "add", br, "type", "bridge")
		tp.sw.LinkUp(br)
	}
	plug := func(br string, ns *harness.Netns, addr string) string {
		a, b := harness.UniqueIfName(), harness.UniqueIfName()
		tp.sw.MustIP("link", "add", a, "type", "veth", "peer", "name", b)
		tp.sw.MustIP("link", "set", a, "master", br)
		tp.sw.LinkUp(a)
		tp.sw.MoveLink(b, ns)
		ns.AddAddr(b, addr)
		ns.LinkUp(b)
		return b
	}
	plug("br0", tp.front, o.front)
	for i, addr := range []string{fnRS1, fnRS2} {
		plug("br1", tp.rs[i], addr+"/24")
		name := fmt.Sprintf("rs%d", i+1)
		ready := filepath.Join(tp.dir, name+".ready")
		tp.spawn(t, tp.rs[i], name, "serve", "-name", name, "-http", addr+":80", "-ready", ready)
		harness.Eventually(t, 10*time.Second, name+" listening", func() error {
			if !fileExists(ready) {
				return fmt.Errorf("no %s", ready)
			}
			return nil
		})
	}
	for i := range tp.gw {
		tapF, tapB := harness.UniqueIfName(), harness.UniqueIfName()
		cfg := harness.Config{
			Ports: []harness.Port{
				{Name: "dpdk0", Device: "net_tap0,iface=" + tapF, Addrs: []string{haFront[i] + "/24"}, MAC: haMAC[i], KernelIface: "kgw0", VIPARP: o.vipARP},
				{Name: "dpdk1", Device: "net_tap1,iface=" + tapB, Addrs: []string{haBack[i] + "/24"}, KernelIface: "kgw1"},
			},
			Session: harness.Session{CapacityPerCore: 1 << 16},
			Services: []harness.Service{{Proto: "tcp", VIP: o.vip + ":80", Sched: o.sched,
				Laddrs: []harness.LocalAddr{{Addr: haLIP[i], Port: "dpdk1"}},
				Dests:  []harness.Dest{{Addr: fnRS1 + ":80", Fwd: "fullnat"}, {Addr: fnRS2 + ":80", Fwd: "fullnat"}}}},
		}
		g := harness.Start(t, cfg, gwNS[i])
		for tap, br := range map[string]string{tapF: "br0", tapB: "br1"} {
			gwNS[i].WaitLink(tap, 10*time.Second)
			gwNS[i].MoveLink(tap, tp.sw)
			tp.sw.MustIP("link", "set", tap, "master", br)
			tp.sw.LinkUp(tap)
		}
		tp.gw[i] = g
	}
	tp.g = tp.gw[0]
	return tp
}

// daemon starts argv inside ns in its own process group, its output in
// DIR/label.log (shown if the test fails). stop, or else t.Cleanup, ends the
// group with SIGTERM (SIGKILL after 5 s): keepalived's VRRP child goes with
// its parent.
func (tp *haTopo) daemon(t *testing.T, ns *harness.Netns, label string, argv ...string) (stop func()) {
	t.Helper()
	if _, err := exec.LookPath(argv[0]); err != nil {
		t.Fatalf("%s: %v (scripts/deps.sh installs keepalived and bird2)", argv[0], err)
	}
	logPath := filepath.Join(tp.dir, label+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := ns.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %v: %v", cmd.Args, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			pgid := cmd.Process.Pid
			syscall.Kill(-pgid, syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				syscall.Kill(-pgid, syscall.SIGKILL)
				<-done
			}
		})
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("%s (%s) output:\n%s", label, ns, b)
		}
	})
	return stop
}

// deployFile reads a file of deploy/ with the installed paths of the gw
// binary and its control socket replaced by gateway i's.
func (tp *haTopo) deployFile(t *testing.T, i int, name string) []byte {
	t.Helper()
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "deploy", name))
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.ReplaceAll(b, []byte("/usr/local/sbin/gw"), []byte(harness.Binary(t)))
	return bytes.ReplaceAll(b, []byte("/run/fngw/gw.sock"), []byte(tp.gw[i].Config.Socket))
}

// holdsVIP reports whether gateway i's kernel interface kgw0 has the VIP.
func (tp *haTopo) holdsVIP(i int) bool {
	out, err := tp.gw[i].Netns.IP("-4", "addr", "show", "dev", "kgw0")
	return err == nil && strings.Contains(out, "inet "+tp.vip+"/32")
}

// waitVIP waits until gateway i's kgw0 has the VIP and returns when it
// was seen there (polled every 10 ms).
func (tp *haTopo) waitVIP(t *testing.T, i int, timeout time.Duration) time.Time {
	t.Helper()
	for end := time.Now().Add(timeout); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if tp.holdsVIP(i) {
			return time.Now()
		}
	}
	t.Fatalf("gateway %s's kgw0 has no %s after %v", haName[i], tp.vip, timeout)
	return time.Time{}
}

// neighMAC is the front host's neighbour entry for addr ("" without one).
func (tp *haTopo) neighMAC(addr string) string {
	out, _ := tp.front.IP("neigh", "show", addr)
	f := strings.Fields(out)
	for i := range f {
		if f[i] == "lladdr" && i+1 < len(f) {
			return f[i+1]
		}
	}
	return ""
}

// waitNeighMAC waits until the front host's neighbour entry for addr is
// mac and returns when it was seen.
func (tp *haTopo) waitNeighMAC(t *testing.T, addr, mac string, timeout time.Duration) time.Time {
	t.Helper()
	for end := time.Now().Add(timeout); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if tp.neighMAC(addr) == mac {
			return time.Now()
		}
	}
	t.Fatalf("the front host's neighbour entry for %s is %q after %v, want %s", addr, tp.neighMAC(addr), timeout, mac)
	return time.Time{}
}

// probeRun is e2epeer probe running in the background.
type probeRun struct {
	cmd    *exec.Cmd
	out    bytes.Buffer
	stderr bytes.Buffer
	start  time.Time
}

type probeResult struct {
	AtMs   int64  `json:"at_ms"`
	OK     bool   `json:"ok"`
	Server string `json:"server"`
	Err    string `json:"err"`
}

// startProbe starts e2epeer probe in the front namespace.
func (tp *haTopo) startProbe(t *testing.T, args ...string) *probeRun {
	t.Helper()
	return tp.startProbeIn(t, tp.front, args...)
}

// startProbeIn starts e2epeer probe in ns.
func (tp *haTopo) startProbeIn(t *testing.T, ns *harness.Netns, args ...string) *probeRun {
	t.Helper()
	p := &probeRun{cmd: ns.Command(tp.peer, append([]string{"probe"}, args...)...)}
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.start = time.Now()
	t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
	return p
}

// wait waits for the probe's end and returns its results.
func (p *probeRun) wait(t *testing.T) []probeResult {
	t.Helper()
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("e2epeer probe: %v: %s", err, p.stderr.String())
	}
	var r struct {
		Probes []probeResult `json:"probes"`
	}
	if err := json.Unmarshal(p.out.Bytes(), &r); err != nil {
		t.Fatalf("e2epeer probe: %v: %q", err, p.out.String())
	}
	return r.Probes
}

// outage is a run of failed probes: from the first failure to the next
// success (or the end).
type outage struct {
	from, to time.Duration // since the probe's start
	failed   int
}

func (o outage) length() time.Duration { return o.to - o.from }

// outages finds the runs of failed probes.
func outages(ps []probeResult) []outage {
	var list []outage
	var cur *outage
	for _, p := range ps {
		at := time.Duration(p.AtMs) * time.Millisecond
		switch {
		case !p.OK && cur == nil:
			cur = &outage{from: at}
			fallthrough
		case !p.OK:
			cur.failed++
			cur.to = at
		case cur != nil:
			cur.to = at
			list = append(list, *cur)
			cur = nil
		}
	}
	if cur != nil {
		list = append(list, *cur)
	}
	return list
}

// TestVRRPFailover: an active/standby pair with keepalived's VRRP, run with
// the configurations of deploy/keepalived as shipped (only the paths of gw
// and its socket changed), vip_arp = "kernel" on the client port. A client
// sends a request on a new connection every 50 ms for 30 s, and one more
// every 50 ms on a single kept-alive connection.
//
//   - A (priority 150) becomes master: the VIP on its kgw0, the client's
//     neighbour entry for the VIP is A's MAC;
//   - at 5 s, A's kgw0 goes down (ip link set kgw0 down): gw health on A
//     fails naming it, keepalived (track_interface) gives the VIP up, B takes
//     it within 3 s and its gratuitous ARP moves the client's entry to B;
//   - at 10 s kgw0 is up again: A stays backup (nopreempt);
//   - at 17 s B is killed (SIGKILL): A takes the VIP back within 3 s, the
//     client's entry moves to A; the longest run of failed new-connection
//     requests is at most 3 s;
//   - with sh, every request lands on the same real server, through either
//     gateway; the kept-alive connection breaks at the first move (no
//     session sync: B drops its segments as no_session).
func TestVRRPFailover(t *testing.T) {
	tp := startHA(t, haOpts{front: fnClient + "/24", vip: fnVIP, vipARP: "kernel", sched: "sh"})
	const a, b = 0, 1
	started := time.Now()
	for i, name := range []string{"master", "backup"} {
		conf := filepath.Join(tp.dir, "keepalived."+name+".conf")
		if err := os.WriteFile(conf, tp.deployFile(t, i, "keepalived/keepalived.conf."+name), 0o644); err != nil {
			t.Fatal(err)
		}
		tp.daemon(t, tp.gw[i].Netns, "keepalived-"+name, "keepalived", "-n", "-l", "-D", "-f", conf,
			"-p", filepath.Join(tp.dir, name+".pid"), "-r", filepath.Join(tp.dir, name+".vrrp.pid"))
	}
	up := tp.waitVIP(t, a, 15*time.Second)
	t.Logf("A master %v after keepalived started", up.Sub(started).Round(time.Millisecond))
	if tp.holdsVIP(b) {
		t.Fatal("both gateways hold the VIP")
	}
	var first getReport
	tp.peerRun(t, tp.front, 10*time.Second, &first, "get", "-url", "http://"+fnHTTP+"/", "-n", "1")
	if first.OK != 1 {
		t.Fatalf("first request through A: %+v", first)
	}
	if mac := tp.neighMAC(fnVIP); mac != haMAC[a] {
		t.Fatalf("the client's neighbour entry for the VIP is %q, want A's %s", mac, haMAC[a])
	}

	const every, total = 50 * time.Millisecond, 30 * time.Second
	fresh := tp.startProbe(t, "-url", "http://"+fnHTTP+"/", "-every", every.String(), "-for", total.String(), "-timeout", "500ms")
	kept := tp.startProbe(t, "-url", "http://"+fnHTTP+"/", "-every", every.String(), "-for", total.String(), "-timeout", "5s", "-keepalive")
	at := func(d time.Duration) { time.Sleep(time.Until(fresh.start.Add(d))) }
	since := func(t0 time.Time) time.Duration { return t0.Sub(fresh.start).Round(time.Millisecond) }

	// A's client-side kernel interface goes down: keepalived's
	// track_interface and gw health both see it.
	at(5 * time.Second)
	down := time.Now()
	tp.gw[a].Netns.MustIP("link", "set", "kgw0", "down")
	if _, err := tp.gw[a].Cmd("health"); err == nil || !strings.Contains(err.Error(), "kernel interface kgw0 of port dpdk0 is down") {
		t.Errorf("gw health on A with kgw0 down: %v, want a failure naming kgw0", err)
	}
	took1 := tp.waitVIP(t, b, 5*time.Second)
	garp1 := tp.waitNeighMAC(t, fnVIP, haMAC[b], 3*time.Second)
	t.Logf("kgw0 down on A at %v: B has the VIP %v later, the client's entry is B's MAC %v later",
		since(down), took1.Sub(down).Round(time.Millisecond), garp1.Sub(down).Round(time.Millisecond))
	if d := took1.Sub(down); d > 3*time.Second {
		t.Errorf("B took the VIP %v after A's kgw0 went down, want at most 3s", d)
	}

	at(10 * time.Second)
	tp.gw[a].Netns.MustIP("link", "set", "kgw0", "up")
	harness.Eventually(t, 5*time.Second, "gw health on A with kgw0 up", func() error {
		_, err := tp.gw[a].Cmd("health")
		return err
	})

	// B dies: A, back in BACKUP, takes over.
	at(17 * time.Second)
	if tp.holdsVIP(a) {
		t.Errorf("A took the VIP back when kgw0 came up: nopreempt not honoured")
	}
	kill := time.Now()
	noSession := tp.drops(t, b, "no_session")
	tp.gw[b].Kill()
	took2 := tp.waitVIP(t, a, 5*time.Second)
	garp2 := tp.waitNeighMAC(t, fnVIP, haMAC[a], 3*time.Second)
	t.Logf("B killed at %v: A has the VIP %v later, the client's entry is A's MAC %v later",
		since(kill), took2.Sub(kill).Round(time.Millisecond), garp2.Sub(kill).Round(time.Millisecond))
	if d := took2.Sub(kill); d > 3*time.Second {
		t.Errorf("A took the VIP %v after B was killed, want at most 3s", d)
	}

	ps := fresh.wait(t)
	ok, servers := 0, map[string]int{}
	for _, p := range ps {
		if p.OK {
			ok++
			servers[p.Server]++
		}
	}
	var longest outage
	for _, o := range outages(ps) {
		t.Logf("new connections: %d failed from %v to %v (%v)", o.failed, o.from, o.to, o.length())
		if o.length() > longest.length() {
			longest = o
		}
	}
	t.Logf("new connections: %d of %d succeeded, by server %v; longest outage %v", ok, len(ps), servers, longest.length())
	if longest.length() > 3*time.Second {
		t.Errorf("the longest run of failed requests lasted %v, want at most 3s", longest.length())
	}
	if len(servers) != 1 {
		t.Errorf("sh sent the client's connections to %v through the two gateways, want one real server", servers)
	}

	kp := kept.wait(t)
	broke := -1
	for i, p := range kp {
		if !p.OK {
			broke = i
			break
		}
	}
	switch {
	case broke < 0:
		t.Errorf("the kept-alive connection survived both moves of the VIP: update the README (HA and scale-out) if sessions are synced now")
	default:
		t.Logf("kept-alive connection: %d requests answered, broken from %v (%s); B had dropped %d segments as no_session",
			broke, time.Duration(kp[broke].AtMs)*time.Millisecond, kp[broke].Err, noSession)
		if at := time.Duration(kp[broke].AtMs) * time.Millisecond; at < 4*time.Second {
			t.Errorf("the kept-alive connection broke at %v, before the first move of the VIP", at)
		}
	}
}

// TestVRRPPreempt: the shipped pair with preemption, keepalived's default
// (nopreempt taken out of both files). A (priority 150) is master; its
// keepalived stops (SIGTERM: it gives the VIP up with a priority-0 advert)
// and B takes the VIP; A's keepalived starts again and, being of higher
// priority, takes the VIP back from B. Then A's server-side kernel
// interface goes down, the gateway running and VRRP still advertised on
// kgw0: gw health fails naming kgw1, keepalived demotes A (track_script,
// and track_interface on kgw1) and B has the VIP within 3 s. (A net_tap
// port moved to another namespace cannot read its link, so the port's own
// link is not what goes down.) Each move leaves a run of
// failed new connections of at most 3 s, and between the moves every
// request succeeds.
func TestVRRPPreempt(t *testing.T) {
	tp := startHA(t, haOpts{front: fnClient + "/24", vip: fnVIP, vipARP: "kernel", sched: "rr"})
	const a, b = 0, 1
	keepalived := func(i int, label string) func() {
		name := []string{"master", "backup"}[i]
		conf := tp.deployFile(t, i, "keepalived/keepalived.conf."+name)
		conf = bytes.Replace(conf, []byte("    nopreempt\n"), nil, 1)
		if bytes.Contains(conf, []byte("\n    nopreempt")) {
			t.Fatalf("keepalived.conf.%s: nopreempt left in", name)
		}
		path := filepath.Join(tp.dir, label+".conf")
		if err := os.WriteFile(path, conf, 0o644); err != nil {
			t.Fatal(err)
		}
		return tp.daemon(t, tp.gw[i].Netns, label, "keepalived", "-n", "-l", "-D", "-f", path,
			"-p", filepath.Join(tp.dir, label+".pid"), "-r", filepath.Join(tp.dir, label+".vrrp.pid"))
	}
	stopA := keepalived(a, "keepalived-a")
	keepalived(b, "keepalived-b")
	tp.waitVIP(t, a, 15*time.Second)

	const every, total = 50 * time.Millisecond, 16 * time.Second
	probe := tp.startProbe(t, "-url", "http://"+fnHTTP+"/", "-every", every.String(), "-for", total.String(), "-timeout", "500ms")
	at := func(d time.Duration) { time.Sleep(time.Until(probe.start.Add(d))) }

	at(2 * time.Second)
	stopped := time.Now()
	stopA()
	took := tp.waitVIP(t, b, 5*time.Second)
	tp.waitNeighMAC(t, fnVIP, haMAC[b], 3*time.Second)
	t.Logf("A's keepalived stopped: B has the VIP %v later", took.Sub(stopped).Round(time.Millisecond))

	at(6 * time.Second)
	restarted := time.Now()
	keepalived(a, "keepalived-a2")
	back := tp.waitVIP(t, a, 10*time.Second)
	tp.waitNeighMAC(t, fnVIP, haMAC[a], 3*time.Second)
	t.Logf("A's keepalived started again: A has the VIP back %v later (preemption)", back.Sub(restarted).Round(time.Millisecond))
	harness.Eventually(t, 3*time.Second, "B gives the VIP up", func() error {
		if tp.holdsVIP(b) {
			return fmt.Errorf("B still holds %s", fnVIP)
		}
		return nil
	})

	at(11 * time.Second)
	down := time.Now()
	tp.gw[a].Netns.MustIP("link", "set", "kgw1", "down")
	harness.Eventually(t, 2*time.Second, "gw health on A failing", func() error {
		if _, err := tp.gw[a].Cmd("health"); err == nil || !strings.Contains(err.Error(), "kernel interface kgw1 of port dpdk1 is down") {
			return fmt.Errorf("gw health on A with kgw1 down: %v, want a failure naming kgw1", err)
		}
		return nil
	})
	demoted := tp.waitVIP(t, b, 5*time.Second)
	t.Logf("A's kgw1 down: B has the VIP %v later", demoted.Sub(down).Round(time.Millisecond))
	if d := demoted.Sub(down); d > 3*time.Second {
		t.Errorf("B took the VIP %v after A's kgw1 went down, want at most 3s", d)
	}

	ps := probe.wait(t)
	for _, o := range outages(ps) {
		t.Logf("new connections: %d failed from %v to %v (%v)", o.failed, o.from, o.to, o.length())
		if o.length() > 3*time.Second {
			t.Errorf("a run of failed requests lasted %v, want at most 3s", o.length())
		}
	}
	settled, broken := back.Add(time.Second).Sub(probe.start), down.Sub(probe.start)
	for _, p := range ps {
		if at := time.Duration(p.AtMs) * time.Millisecond; at > settled && at < broken && !p.OK {
			t.Errorf("request at %v failed (%s), after A was master again", at, p.Err)
		}
	}
}

// drops is gateway i's drop count for reason, summed over its cores.
func (tp *haTopo) drops(t *testing.T, i int, reason string) uint64 {
	t.Helper()
	var cs []coreJSON
	tp.gw[i].MustJSON(&cs, "stats")
	var n uint64
	for _, c := range cs {
		n += c.Drops[reason]
	}
	return n
}

// The active/active set-up: the VIP is a /32 outside every subnet, the
// client is behind the router.
const (
	ecmpVIP      = "198.18.5.100"
	ecmpRouter   = "198.18.1.254"
	ecmpClient   = "198.18.3.2"
	ecmpClientGW = "198.18.3.1"
)

// birdConf writes the file of deploy/ for BIRD in the test: paths as
// deployFile, logging to standard error (the daemon's log file).
func (tp *haTopo) birdConf(t *testing.T, i int, name, as string) string {
	t.Helper()
	b := bytes.ReplaceAll(tp.deployFile(t, i, name), []byte("log syslog all;"), []byte("log stderr all;"))
	p := filepath.Join(tp.dir, as+".conf")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// routerPaths is the number of next hops of the router's route to the
// VIP, and the route as ip shows it.
func (tp *haTopo) routerPaths() (int, string) {
	out, err := tp.front.IP("-4", "route", "show", ecmpVIP+"/32")
	if err != nil || strings.TrimSpace(out) == "" {
		return 0, out
	}
	if n := strings.Count(out, "nexthop via"); n > 0 {
		return n, out
	}
	return 1, out
}

// TestECMP: an active/active pair with BIRD, run with deploy/bird as
// shipped (bird.conf on both gateways, bird-router.conf on the router,
// fngw-bird-watchdog announcing the VIP once gw health passes): BGP and BFD
// over the gateways' kernel interfaces, the router's kernel holding one
// multipath route to the VIP (flows spread by a hash of their addresses and
// ports).
//
//   - each gateway learns the client network from the router (BGP → its
//     kernel's table on kgw0 → gw ip route show);
//   - 1 000 new connections from the client, from as many ports, all
//     succeed, each gateway carrying at least 30 % (its local address at
//     the real servers, and its gw stats);
//   - B's kgw1 taken down: gw health fails, B's watchdog withdraws the VIP
//     (the router's route through A alone within about 2 s: two failed
//     checks a second apart); kgw1 up: announced again, and of 8
//     connections made through A alone and kept alive, those the router
//     now hashes to B break (measured, not asserted: about half);
//   - B killed: the router's route is down to one next hop within 2 s (BFD:
//     3 × 100 ms, and the daemons' turn on two busy CPUs), and 200 more
//     connections all succeed through A.
func TestECMP(t *testing.T) {
	tp := startHA(t, haOpts{front: ecmpRouter + "/24", vip: ecmpVIP, sched: "rr"})
	client := harness.NewNetns(t, "client")
	client.DisableIPv6()
	r, c := harness.UniqueIfName(), harness.UniqueIfName()
	tp.front.MustIP("link", "add", r, "type", "veth", "peer", "name", c)
	tp.front.MoveLink(c, client)
	tp.front.AddAddr(r, ecmpClientGW+"/24")
	tp.front.LinkUp(r)
	client.AddAddr(c, ecmpClient+"/24")
	client.LinkUp(c)
	client.AddRoute("default", ecmpClientGW)
	tp.front.Sysctl("net.ipv4.ip_forward", "1")
	// Hash on the 5-tuple read from the headers (policy 3 with these
	// fields), as a router does with packets from a wire. Policy 1 would
	// reuse the hash the client's socket put on the packet, which a veth
	// carries across namespaces and TCP changes at every retransmission
	// timeout: a connection sent to a gateway without its session would
	// try the other on its next retransmission, as it never would through
	// a real router.
	tp.front.Sysctl("net.ipv4.fib_multipath_hash_policy", "3")
	tp.front.Sysctl("net.ipv4.fib_multipath_hash_fields", "0x0037")

	tp.daemon(t, tp.front, "bird-router", "bird", "-f", "-c", tp.birdConf(t, 0, "bird/bird-router.conf", "router"),
		"-s", filepath.Join(tp.dir, "router.ctl"), "-P", filepath.Join(tp.dir, "router.pid"))
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	for i := range tp.gw {
		name := "gw" + strings.ToLower(haName[i])
		sock := filepath.Join(tp.dir, name+".ctl")
		tp.daemon(t, tp.gw[i].Netns, "bird-"+name, "bird", "-f", "-c", tp.birdConf(t, i, "bird/bird.conf", name),
			"-s", sock, "-P", filepath.Join(tp.dir, name+".pid"))
		tp.daemon(t, tp.gw[i].Netns, "watchdog-"+name, "env", "FNGW_GW="+harness.Binary(t), "FNGW_SOCK="+tp.gw[i].Config.Socket,
			"BIRD_SOCK="+sock, "sh", filepath.Join(root, "deploy", "bird", "fngw-bird-watchdog"))
	}
	started := time.Now()
	harness.Eventually(t, 30*time.Second, "the router's route to the VIP through both gateways", func() error {
		if n, out := tp.routerPaths(); n != 2 {
			return fmt.Errorf("%d next hops: %s", n, out)
		}
		return nil
	})
	_, route := tp.routerPaths()
	t.Logf("both gateways announcing %v after the daemons started; the router's route:\n%s", time.Since(started).Round(100*time.Millisecond), route)
	for i, g := range tp.gw {
		want := "198.18.3.0/24 via " + ecmpRouter + " dev dpdk0"
		harness.Eventually(t, 5*time.Second, "gateway "+haName[i]+" learning the client network", func() error {
			if out := g.MustCmd("ip", "route", "show"); !strings.Contains(out, want) {
				return fmt.Errorf("gw ip route show has no %q:\n%s", want, out)
			}
			return nil
		})
	}

	created := func(i int) uint64 {
		var cs []coreJSON
		tp.gw[i].MustJSON(&cs, "stats")
		var n uint64
		for _, c := range cs {
			n += c.Created
		}
		return n
	}
	url := "http://" + ecmpVIP + "/"
	var rep getReport
	tp.peerRun(t, client, 120*time.Second, &rep, "get", "-url", url, "-n", "1000", "-c", "8")
	t.Logf("1000 connections in %.1fs: %d ok, %d failed; by local address (gateway) %v; gw stats sessions created: A %d, B %d",
		rep.Seconds, rep.OK, rep.Failed, rep.Peers, created(0), created(1))
	if rep.OK != 1000 {
		t.Errorf("%d of 1000 connections succeeded: %v", rep.OK, rep.Errors)
	}
	for i, lip := range haLIP {
		if n := rep.Peers[lip]; n < 300 {
			t.Errorf("gateway %s (local address %s) carried %d of 1000 connections, want at least 300", haName[i], lip, n)
		}
	}

	// B unhealthy (its server-side kernel interface down; BGP and BFD on
	// kgw0 stay up): the watchdog withdraws the VIP, then announces it
	// again once B is healthy.
	waitPaths := func(want int, timeout time.Duration) time.Duration {
		t.Helper()
		t0 := time.Now()
		for {
			n, out := tp.routerPaths()
			if n == want {
				return time.Since(t0)
			}
			if time.Since(t0) > timeout {
				t.Fatalf("the router's route has %d next hops after %v, want %d: %q", n, timeout, want, out)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	tp.gw[1].Netns.MustIP("link", "set", "kgw1", "down")
	withdrawn := waitPaths(1, 10*time.Second)
	// Connections made through A alone, kept alive while B comes back:
	// those the router's hash then sends to B break (B has no session).
	var kept [8]*probeRun
	for i := range kept {
		kept[i] = tp.startProbeIn(t, client, "-url", url, "-every", "100ms", "-for", "6s", "-timeout", "2s", "-keepalive")
	}
	time.Sleep(time.Second)
	tp.gw[1].Netns.MustIP("link", "set", "kgw1", "up")
	back := waitPaths(2, 10*time.Second)
	t.Logf("B's kgw1 down: the watchdog withdrew the VIP, the router's route down to A alone %v later; kgw1 up: both again %v later",
		withdrawn.Round(time.Millisecond), back.Round(time.Millisecond))
	broken := 0
	for _, p := range kept {
		ps := p.wait(t)
		if !ps[0].OK {
			t.Fatalf("a kept-alive connection through A alone failed from the start: %s", ps[0].Err)
		}
		if !ps[len(ps)-1].OK {
			broken++
		}
	}
	t.Logf("of 8 connections made through A alone and kept alive, %d broke when B was announced again (rehashed to B)", broken)
	if b, _ := os.ReadFile(filepath.Join(tp.dir, "watchdog-gwb.log")); !strings.Contains(string(b), "kernel interface kgw1 of port dpdk1 is down: fngw_vips disabled") {
		t.Errorf("B's watchdog did not say why it withdrew the VIP:\n%s", b)
	}

	if out, err := tp.front.Run("birdc", "-s", filepath.Join(tp.dir, "router.ctl"), "show", "bfd", "sessions"); err == nil {
		t.Logf("the router's BFD sessions before B dies:\n%s", out)
	}
	kill := time.Now()
	tp.gw[1].Kill()
	for {
		if n, _ := tp.routerPaths(); n == 1 {
			break
		}
		if time.Since(kill) > 15*time.Second {
			_, out := tp.routerPaths()
			t.Fatalf("the router still has %q 15s after B died", out)
		}
		time.Sleep(10 * time.Millisecond)
	}
	gone := time.Since(kill)
	_, route = tp.routerPaths()
	t.Logf("B killed: the router's route down to one next hop %v later:\n%s", gone.Round(time.Millisecond), route)
	if gone > 2*time.Second {
		t.Errorf("B's next hop left the router's route %v after it died, want BFD's 0.3 s (at most 2 s on a busy machine)", gone)
	}
	if !strings.Contains(route, "via "+haFront[0]) {
		t.Errorf("the router's route after B died: %q, want via A (%s)", route, haFront[0])
	}
	rep = getReport{}
	tp.peerRun(t, client, 60*time.Second, &rep, "get", "-url", url, "-n", "200", "-c", "8")
	t.Logf("after B died: 200 connections: %d ok, %d failed, by local address %v", rep.OK, rep.Failed, rep.Peers)
	if rep.OK != 200 || rep.Peers[haLIP[0]] != 200 {
		t.Errorf("after B died: %d of 200 connections succeeded, by local address %v; want all through A: %v", rep.OK, rep.Peers, rep.Errors)
	}
}
