package e2e

import (
	"bytes"
	"encoding/json"
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
// DIR/label.log (shown if the test fails). t.Cleanup ends the group with
// SIGTERM (SIGKILL after 5 s): keepalived's VRRP child goes with its parent.
func (tp *haTopo) daemon(t *testing.T, ns *harness.Netns, label string, argv ...string) {
	t.Helper()
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
	t.Cleanup(func() {
		pgid := cmd.Process.Pid
		syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-pgid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("%s (%s) output:\n%s", label, ns, b)
		}
	})
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
	p := &probeRun{cmd: tp.front.Command(tp.peer, append([]string{"probe"}, args...)...)}
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
