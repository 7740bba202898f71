package plane

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/prometheus/client_golang/prometheus"

	"fngw/arp"
	"fngw/check"
	"fngw/ctl"
	"fngw/ctl/config"
	"fngw/ctl/socket"
	"fngw/dpdk"
	"fngw/dpdk/dpdktest"
	"fngw/header"
	"fngw/lcore"
	"fngw/nat"
	"fngw/test/harness"
	"fngw/test/pkttest"
)

// The rig is a whole control plane over a real datapath (lcore.Build, one
// worker) on the dpdktest double: port dpdk0 (ID 0) with 198.18.1.1/24,
// where clients, VIPs, real servers and local addresses all live. The
// control lcore and the worker run in their goroutines as in the gateway
// (unpinned, the worker sleeping when idle).
var (
	gwMAC     = header.MAC{0x02, 0, 0, 0, 0, 1}
	clientMAC = harness.MustMAC("02:00:00:00:00:02")
	serverMAC = header.MAC{0x02, 0, 0, 0, 0, 3}
	vip       = netip.MustParseAddr("198.18.1.100")
	client    = netip.MustParseAddr("198.18.1.2")
	rip       = netip.MustParseAddr("198.18.1.11")
	lip       = netip.MustParseAddr("198.18.1.200")
)

const baseFile = `
[eal]
lcores = "0-1"
[[port]]
name = "dpdk0"
device = "net_null0"
addrs = ["198.18.1.1/24"]
[[neigh]]
addr = "198.18.1.11"
mac = "02:00:00:00:00:03"
port = "dpdk0"
`

type rig struct {
	t    testing.TB
	dev  *dpdktest.Dev
	dp   *lcore.Datapath
	p    *Plane
	path string
}

// fakeHost is the plane's Host without DPDK: one port, a pool of 1000.
type fakeHost struct{}

func (fakeHost) Links(counters bool) ([]ctl.Link, error) {
	l := ctl.Link{Name: "dpdk0", Device: "net_null0", MAC: gwMAC.String(), MTU: 1500, Up: true, Duplex: "full", RxQueues: 1, TxQueues: 1}
	if counters {
		l.PortCounters = &ctl.PortCounters{RxPackets: 7}
	}
	return []ctl.Link{l}, nil
}

func (fakeHost) Mbufs() (int, int) { return 10, 990 }

// newRig starts a plane on the configuration file text.
func newRig(t testing.TB, file string) *rig {
	t.Helper()
	return newProbedRig(t, file, nil)
}

// newProbedRig is newRig whose health checks run probe.
func newProbedRig(t testing.TB, file string, probe func(context.Context, check.Target) check.Result) *rig {
	t.Helper()
	r := &rig{t: t, dev: dpdktest.NewDev(1024), path: filepath.Join(t.TempDir(), "gw.toml")}
	r.write(file)
	f, err := config.Load(r.path)
	if err != nil {
		t.Fatal(err)
	}
	lim := nat.Limits{MaxServices: 16, MaxDests: 64, MaxLocalAddrs: 16}
	dp, err := lcore.Build(lcore.Plan{Workers: []lcore.WorkerPlan{{CPU: -1, Rx: []lcore.Queue{{Port: 0, Queue: 0}}}},
		NumPorts: 1, IO: r.dev, NewBurst: dpdk.NewGoBurst,
		NewRing:      func(_ string, size int) (lcore.Ring, error) { return dpdktest.NewRing(size), nil },
		RedirectRing: 64, ControlRing: 64, ARPRing: 16,
		Sessions: 1024, Limits: lim, IdlePolls: 1, IdleSleep: 50 * time.Microsecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := dp.Stack().AddPort(arp.Port{ID: 0, Name: "dpdk0", MAC: gwMAC, MTU: 1500}); err != nil {
		t.Fatal(err)
	}
	r.dp = dp
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if r.p, err = New(Config{File: f, Datapath: dp, Host: fakeHost{}, Ports: map[string]uint16{"dpdk0": 0}, Limits: lim, Log: log, Probe: probe}); err != nil {
		t.Fatal(err)
	}
	r.p.Start()
	ctlDone, wDone := make(chan struct{}), make(chan error, 1)
	go func() { dp.Control.Run(); close(ctlDone) }()
	go func() { wDone <- dp.Workers[0].Run() }()
	t.Cleanup(func() {
		r.p.Close()
		dp.Control.Stop()
		<-ctlDone
		dp.Workers[0].Stop()
		if err := <-wDone; err != nil {
			t.Error(err)
		}
	})
	return r
}

func (r *rig) write(file string) {
	r.t.Helper()
	if err := os.WriteFile(r.path, []byte(file), 0o600); err != nil {
		r.t.Fatal(err)
	}
}

// run runs a gw command line through Handle, as the control socket does,
// and returns what it printed; it fails the test on an error.
func (r *rig) run(line string) string {
	r.t.Helper()
	resp := r.try(line)
	if resp.Code != socket.CodeOK {
		r.t.Fatalf("%s: %s: %s", line, resp.Code, resp.Error)
	}
	return resp.Stdout
}

func (r *rig) try(line string) socket.Response {
	r.t.Helper()
	cmd, err := ctl.ParseCommandLine(strings.Fields(line))
	if err != nil {
		r.t.Fatalf("%s: %v", line, err)
	}
	return r.p.Handle(socket.Request{Cmd: cmd})
}

// syn sends a client's SYN to vip:80 through the worker and returns what the
// gateway sent, decoded.
func (r *rig) syn(sport uint16) gopacket.Packet {
	r.t.Helper()
	h := harness.Hosts{SrcMAC: clientMAC, DstMAC: pkttest.MAC(gwMAC), Src: client, Dst: vip}
	r.dev.Push(0, 0, 0, harness.TCPSyn(h, sport, 80, 1000))
	var ipv4 []gopacket.Packet // beside gratuitous ARPs the control lcore sent
	for deadline := time.Now().Add(5 * time.Second); len(ipv4) == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
		for _, f := range r.dev.Sent(0) {
			if p := pkttest.Decode(f); p.Layer(layers.LayerTypeIPv4) != nil {
				ipv4 = append(ipv4, p)
			}
		}
	}
	if len(ipv4) != 1 {
		r.t.Fatalf("%d IPv4 frames sent for one SYN, want 1 (drops %v)", len(ipv4), r.p.coreStatuses()[0].Drops)
	}
	return ipv4[0]
}

const fullnat = "adm -A -t 198.18.1.100:80 -s rr|adm -a -t 198.18.1.100:80 -r 198.18.1.11:8080 --fullnat|adm -P -t 198.18.1.100:80 -z 198.18.1.200 -F dpdk0"

func (r *rig) runAll(lines string) {
	r.t.Helper()
	for _, l := range strings.Split(lines, "|") {
		r.run(l)
	}
}

// TestCommandsReachTheWorker: services added with ipvsadm commands are
// published to the worker (a SYN to the VIP leaves FULLNAT-rewritten toward
// the real server) and their addresses are owned by the stack.
func TestCommandsReachTheWorker(t *testing.T) {
	r := newRig(t, baseFile)
	before := r.dp.Services.Load()
	r.runAll(fullnat)
	if r.dp.Services.Load() == before {
		t.Fatal("no new services snapshot published")
	}
	owned := map[netip.Addr]arp.OwnKind{}
	r.dp.Control.Do(func() { // the stack is the control goroutine's
		for _, a := range r.dp.Stack().Addrs() {
			owned[a.Prefix.Addr()] = a.Kind
		}
	})
	if owned[vip] != arp.OwnVIP || owned[lip] != arp.OwnLocalAddr {
		t.Errorf("stack owns %v; want the VIP and the local address", owned)
	}
	p := r.syn(40000)
	ip := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	tcp := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
	eth := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	if ip.SrcIP.String() != lip.String() || ip.DstIP.String() != rip.String() || tcp.DstPort != 8080 ||
		eth.DstMAC.String() != serverMAC.String() {
		t.Errorf("sent %s:%d -> %s:%d to %s; want %s -> %s:8080 to %s", ip.SrcIP, tcp.SrcPort, ip.DstIP, tcp.DstPort, eth.DstMAC, lip, rip, serverMAC)
	}
	out := r.run("adm -L -n --stats")
	if !strings.Contains(out, "TCP  198.18.1.100:80                     1        1        0       ") {
		t.Errorf("listing does not count the connection and its packet:\n%s", out)
	}
	if out := r.run("adm -L -n -c"); !strings.Contains(out, "SYN_RECV") || !strings.Contains(out, "198.18.1.2:40000") {
		t.Errorf("connection listing:\n%s", out)
	}
}

// TestRefusedCommandChangesNothing: a command the datapath cannot take (a
// local address on a port that does not exist) is refused with the value
// named, and neither the configuration nor the published snapshot changes.
func TestRefusedCommandChangesNothing(t *testing.T) {
	r := newRig(t, baseFile)
	r.runAll(fullnat)
	snap, list := r.dp.Services.Load(), r.run("adm -S -n")
	resp := r.try("adm -P -t 198.18.1.100:80 -z 198.18.1.201 -F dpdk9")
	if resp.Code != socket.CodeInvalid || !strings.Contains(resp.Error, "dpdk9") {
		t.Fatalf("got %+v; want an invalid-value error naming dpdk9", resp)
	}
	if r.dp.Services.Load() != snap || r.run("adm -S -n") != list {
		t.Error("a refused command changed the running configuration")
	}
	if resp := r.try("adm -D -t 198.18.1.100:81"); resp.Code != socket.CodeNoService {
		t.Errorf("deleting a missing service: %+v", resp)
	}
}

// TestReloadAppliesTheFile: a reload applies the changes made to the file
// since it was last applied, through the same path as the CLI (services,
// timeouts), reports each, leaves alone what was created or changed at
// runtime and not in the file, and says which settings need a restart
// (failing, with the rest applied). --dry-run only reports.
func TestReloadAppliesTheFile(t *testing.T) {
	svc := `
[[service]]
proto = "tcp"
vip = "198.18.1.100:80"
sched = "rr"
laddrs = ["198.18.1.200 dev dpdk0"]
[[service.dest]]
addr = "198.18.1.11:8080"
fwd = "fullnat"
`
	r := newRig(t, baseFile+svc)
	if out := r.run("adm -L -n"); !strings.Contains(out, "198.18.1.11:8080") {
		t.Fatalf("the file's service is not running:\n%s", out)
	}
	r.syn(40000)
	// Runtime: a service the file does not have, and a timeout it does not set.
	r.runAll("adm -A -u 198.18.1.100:53 -s rr|adm --set 0 90 0")
	if out := r.run("reload"); !strings.HasSuffix(out, ": 0 changes applied\n") {
		t.Errorf("reload of an unchanged file said %q", out)
	}
	if out := r.run("adm -L -n"); !strings.Contains(out, "UDP  198.18.1.100:53") {
		t.Errorf("a reload of an unchanged file deleted a runtime service:\n%s", out)
	}

	r.write(baseFile + strings.Replace(svc, `fwd = "fullnat"`, "fwd = \"fullnat\"\nweight = 3", 1) +
		"[session]\ntcp_timeout = 600\ntcp_syn_recv_timeout = 5\n")
	want := []string{"3 changes", "~ timeout tcp 900→600", "~ timeout syn_recv 60→5", "~ dest 198.18.1.11:8080 of 198.18.1.100:80/tcp: weight 1→3"}
	out := r.run("reload --dry-run")
	for _, w := range append(want, "(dry run)") {
		if !strings.Contains(out, w) {
			t.Errorf("reload --dry-run said %q; want %q in it", out, w)
		}
	}
	if out := r.run("adm -L -n"); !strings.Contains(out, "-> 198.18.1.11:8080             FullNat 1") {
		t.Errorf("a dry run changed the weight:\n%s", out)
	}
	out = r.run("reload")
	for _, w := range append(want, "applied") {
		if !strings.Contains(out, w) {
			t.Errorf("reload said %q; want %q in it", out, w)
		}
	}
	if out := r.run("adm -L -n"); !strings.Contains(out, "-> 198.18.1.11:8080             FullNat 3      0          1") ||
		!strings.Contains(out, "UDP  198.18.1.100:53") {
		t.Errorf("weight not reloaded, the connection lost, or the runtime service deleted:\n%s", out)
	}
	if tcp := r.dp.Services.Load().Timeouts().TCP; tcp.Seconds() != 600 {
		t.Errorf("datapath TCP timeout %v after reload, want 600s", tcp)
	}
	if out := r.run("adm -L --timeout"); out != "Timeout (tcp tcpfin udp): 600 90 300\n" {
		t.Errorf("--timeout after reload (tcpfin set at runtime, not in the file): %q", out)
	}

	// A new port needs a restart: reported, the reload fails, the rest
	// (a weight back to 1) is applied.
	r.write(baseFile + "[[port]]\nname = \"dpdk1\"\ndevice = \"net_null1\"\n" + svc +
		"[session]\ntcp_timeout = 600\ntcp_syn_recv_timeout = 5\n")
	resp := r.try("reload")
	if resp.Code != socket.CodeInvalid || !strings.Contains(resp.Stdout, "! port dpdk1: added needs a restart; not applied") ||
		!strings.Contains(resp.Error, "2 setting(s)") { // the port, and the workers polling it
		t.Errorf("reload with a new port: %+v", resp)
	}
	if out := r.run("adm -L -n"); !strings.Contains(out, "-> 198.18.1.11:8080             FullNat 1") {
		t.Errorf("the weight's change was not applied beside a setting that needs a restart:\n%s", out)
	}
	r.write(baseFile + "[[service]]\nvip = \"nonsense\"\n")
	resp = r.try("reload")
	if resp.Code != socket.CodeInvalid || !strings.Contains(resp.Error, "nonsense") {
		t.Errorf("reload of a bad file: %+v", resp)
	}
	if out := r.run("adm -L -n"); !strings.Contains(out, "198.18.1.11:8080") {
		t.Errorf("a bad file changed the running configuration:\n%s", out)
	}
}

// TestRestoreAndZero: -R applies a batch at once; -Z starts a service's
// counters again, and -Z of a service that does not exist is an error
// (ipvsadm: "No such service"), not a silent success.
func TestRestoreAndZero(t *testing.T) {
	r := newRig(t, baseFile)
	batch, err := ctl.ReadRestore(strings.NewReader(strings.ReplaceAll(strings.ReplaceAll(fullnat, "adm ", ""), "|", "\n")))
	if err != nil {
		t.Fatal(err)
	}
	if resp := r.p.Handle(socket.Request{Cmd: ctl.Command{Op: ctl.OpRestore, Batch: batch}}); resp.Code != socket.CodeOK {
		t.Fatalf("restore: %+v", resp)
	}
	r.syn(40000)
	r.run("adm -Z -t 198.18.1.100:80")
	if out := r.run("adm -L -n --stats"); !strings.Contains(out, "TCP  198.18.1.100:80                     0        0        0") {
		t.Errorf("-Z left counters:\n%s", out)
	}
	if resp := r.try("adm -Z -t 198.18.1.100:81"); resp.Code != socket.CodeNoService || !strings.Contains(resp.Error, "198.18.1.100:81/tcp") {
		t.Errorf("-Z of a missing service: %+v", resp)
	}
	r.run("adm -Z")
}

// TestStatusCommands: stats, link, mem and the stack listings render what
// the workers, the host and the stack hold.
func TestStatusCommands(t *testing.T) {
	r := newRig(t, baseFile)
	r.runAll(fullnat)
	r.syn(40000)
	var cores []ctl.CoreStatus
	if err := json.Unmarshal([]byte(r.run("stats --json")), &cores); err != nil || len(cores) != 1 || cores[0].Rx != 1 || cores[0].Created != 1 {
		t.Errorf("stats --json: %+v %v", cores, err)
	}
	if out := r.run("link show -s dpdk0"); !strings.Contains(out, "0: dpdk0: <UP> mtu 1500") || !strings.Contains(out, "rx: packets 7") {
		t.Errorf("link show:\n%s", out)
	}
	if resp := r.try("link show dpdk9"); resp.Code != socket.CodeNotFound {
		t.Errorf("link show of a missing port: %+v", resp)
	}
	if out := r.run("mem"); !strings.HasPrefix(out, "mbufs 1000 in use 10 available 990\n") {
		t.Errorf("mem: %q", out)
	}
	if out := r.run("ip route show"); out != "198.18.1.0/24 dev dpdk0 proto kernel scope link\n" {
		t.Errorf("ip route show: %q", out)
	}
	if out := r.run("ip neigh show"); out != "198.18.1.11 dev dpdk0 lladdr 02:00:00:00:00:03 PERMANENT\n" {
		t.Errorf("ip neigh show: %q", out)
	}
	r.run("ip addr add 198.18.2.1/24 dev dpdk0")
	if out := r.run("ip addr show"); !strings.Contains(out, "198.18.2.1/24 dev dpdk0") {
		t.Errorf("ip addr show after add: %q", out)
	}
}

// TestGatewayHealthCommand: gw health's facts are the workers' turns and the
// host's ports; a worker that stops is seen as stalled.
func TestGatewayHealthCommand(t *testing.T) {
	r := newRig(t, baseFile)
	health := func() ctl.GatewayHealth {
		t.Helper()
		resp := r.p.Handle(socket.Request{Cmd: ctl.Command{Op: ctl.OpHealth}})
		var h ctl.GatewayHealth
		if err := json.Unmarshal([]byte(resp.Stdout), &h); resp.Code != socket.CodeOK || err != nil {
			t.Fatalf("health: %+v %v", resp, err)
		}
		return h
	}
	h := health()
	if len(h.Workers) != 1 || len(h.Ports) != 1 || h.Ports[0] != (ctl.PortHealth{Dev: "dpdk0", Up: true}) {
		t.Fatalf("health: %+v", h)
	}
	// The rig's worker sleeps 50 µs when idle: it turns all the time.
	if p := h.Problem(time.Second); p != "" {
		t.Errorf("a running gateway: %s (%+v)", p, h)
	}
	r.dp.Workers[0].Stop()
	time.Sleep(50 * time.Millisecond)
	if p := health().Problem(20 * time.Millisecond); !strings.HasPrefix(p, "worker 0 stalled") {
		t.Errorf("a stopped worker: Problem(20ms) = %q, want it stalled", p)
	}
}

// TestUnservedFamilyRefused: IPv6 services and addresses, which killed the
// gateway when they reached the datapath's IPv4 tables, are refused with the
// object named, from every command, and the gateway goes on serving.
func TestUnservedFamilyRefused(t *testing.T) {
	r := newRig(t, baseFile)
	r.runAll(fullnat)
	for _, line := range []string{
		"adm -A -t [2001:db8::1]:80 -s rr",
		"adm -A -t 2001:db8::1 -p",
		"adm -a -t 198.18.1.100:80 -r 2001:db8::9 -i",
		"ip addr add 2001:db8::1/64 dev dpdk0",
	} {
		resp := r.try(line)
		if resp.Code != socket.CodeInvalid || !strings.Contains(resp.Error, "IPv6 is not served yet") {
			t.Errorf("%s: %+v", line, resp)
		}
	}
	batch, err := ctl.ReadRestore(strings.NewReader("-A -u [2001:db8::2]:53 -s rr\n"))
	if err != nil {
		t.Fatal(err)
	}
	if resp := r.p.Handle(socket.Request{Cmd: ctl.Command{Op: ctl.OpRestore, Batch: batch}}); resp.Code != socket.CodeInvalid {
		t.Errorf("restore of an IPv6 service: %+v", resp)
	}
	r.syn(40000) // still forwarding
}

// FuzzHandle feeds arbitrary requests, as the control socket decodes them,
// to a running plane: none may panic it (a panic in a job is recovered and
// answered, and counted here as a failure), and the plane answers listings
// afterwards.
func FuzzHandle(f *testing.F) {
	for _, s := range []string{`{}`, `{"op":"add-service"}`, `{"op":"add-server","service":{"proto":"tcp","vip":"198.18.1.100","port":80}}`,
		`{"op":"restore","batch":[{"op":"restore"}]}`, `{"op":"list","service":{"vip":"::1"}}`, `{"op":"del-laddr","service":{"proto":"tcp","vip":"198.18.1.100","port":80}}`,
		`{"op":"link-show","dev":"x"}`, `{"op":"set","timeouts":{"tcp":4294967295}}`, `{"op":"add-service","service":{"proto":"udp","vip":"198.18.1.100","port":53,"sched":"mh","flags":["mh-port"]}}`} {
		f.Add([]byte(s))
	}
	r := newRig(f, baseFile)
	f.Fuzz(func(t *testing.T, b []byte) {
		var cmd ctl.Command
		if json.Unmarshal(b, &cmd) != nil {
			return
		}
		resp := r.p.Handle(socket.Request{Cmd: cmd})
		if resp.Code == socket.CodeInternal {
			t.Fatalf("%s: %s", b, resp.Error)
		}
		if resp := r.p.Handle(socket.Request{Cmd: ctl.Command{Op: ctl.OpList}}); resp.Code != socket.CodeOK {
			t.Fatalf("after %s, -L: %+v", b, resp)
		}
	})
}

// TestMetricsGatheredOncePerInterval: scrapes closer together than
// MetricsInterval are served the same figures (one control job however many
// scrapers there are); the next interval's scrape sees new traffic.
func TestMetricsGatheredOncePerInterval(t *testing.T) {
	r := newRig(t, baseFile)
	r.runAll(fullnat)
	reg := prometheus.NewRegistry()
	if err := reg.Register(r.p.Collector()); err != nil {
		t.Fatal(err)
	}
	rx := func() float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "fngw_core_rx_packets_total" {
				return mf.GetMetric()[0].GetCounter().GetValue()
			}
		}
		t.Fatal("no fngw_core_rx_packets_total")
		return 0
	}
	first := time.Now()
	before := rx()
	r.syn(40000)
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() { defer wg.Done(); reg.Gather() }()
	}
	wg.Wait()
	if got := rx(); got != before && time.Since(first) < MetricsInterval {
		t.Errorf("rx %v then %v within one interval: not served from the cache", before, got)
	}
	time.Sleep(MetricsInterval)
	if got := rx(); got != before+1 {
		t.Errorf("rx %v after an interval, want %v", got, before+1)
	}
}

// TestConnListingInSlices: -L -c lists every session and persistence
// template of a table larger than one turn's slice (nat.ListSlice), copied
// by the worker over several turns.
func TestConnListingInSlices(t *testing.T) {
	r := newRig(t, baseFile)
	r.runAll(strings.Replace(fullnat, "-s rr", "-s rr -p 60", 1))
	const flows = 3*nat.ListSlice + 7
	h := harness.Hosts{SrcMAC: clientMAC, DstMAC: pkttest.MAC(gwMAC), Src: client, Dst: vip}
	for i := range flows {
		r.dev.Push(0, 0, 0, harness.TCPSyn(h, uint16(20000+i), 80, 1000))
	}
	harness.Eventually(t, 5*time.Second, "every SYN to create its session", func() error {
		if c := r.p.coreStatuses()[0].Created; c != flows {
			return fmt.Errorf("%d sessions", c)
		}
		return nil
	})
	// One handshake completes: its connection binds the client's template.
	r.dev.Push(0, 0, 0, harness.TCPAck(h, 20000, 80, 1001, 1))
	harness.Eventually(t, 5*time.Second, "every session and the template listed", func() error {
		var list struct {
			Conns []ctl.Conn `json:"conns"`
		}
		if err := json.Unmarshal([]byte(r.run("adm -L -n -c --json")), &list); err != nil {
			t.Fatal(err)
		}
		ports, templates := map[uint16]bool{}, 0
		for _, c := range list.Conns {
			if c.State == "NONE" {
				templates++
				continue
			}
			ports[c.Client.Port()] = true
		}
		if len(ports) != flows || templates != 1 {
			return fmt.Errorf("listed %d distinct sessions and %d templates; want %d and 1", len(ports), templates, flows)
		}
		return nil
	})
}

// TestConflictsRefusedOnEveryPath: ipvsadm, gw ip, -R and the file all
// refuse a configuration whose objects conflict, naming both, and leave the
// running configuration as it was.
func TestConflictsRefusedOnEveryPath(t *testing.T) {
	r := newRig(t, baseFile)
	r.runAll(fullnat)
	before := r.run("adm -S -n")
	for _, line := range []string{
		"adm -a -t 198.18.1.100:80 -r 198.18.1.200:80 --fullnat", // the local address
		"ip addr add 198.18.1.100/24 dev dpdk0",                  // the VIP
	} {
		if resp := r.try(line); resp.Code != socket.CodeInvalid || !strings.Contains(resp.Error, "198.18.1.") {
			t.Errorf("%s: %+v", line, resp)
		}
	}
	batch, err := ctl.ReadRestore(strings.NewReader("-A -t 198.18.1.1:80 -s rr\n"))
	if err != nil {
		t.Fatal(err)
	}
	if resp := r.p.Handle(socket.Request{Cmd: ctl.Command{Op: ctl.OpRestore, Batch: batch}}); resp.Code != socket.CodeInvalid ||
		!strings.Contains(resp.Error, "interface address 198.18.1.1/24") {
		t.Errorf("restore of a VIP that is an interface address: %+v", resp)
	}
	if after := r.run("adm -S -n"); after != before {
		t.Errorf("refused commands changed the configuration:\n%s\nwas\n%s", after, before)
	}
	if _, err := config.Parse("gw.toml", []byte(baseFile+"[[service]]\nproto = \"tcp\"\nvip = \"198.18.1.1:80\"\n")); err == nil ||
		!strings.Contains(err.Error(), "interface address 198.18.1.1/24") {
		t.Errorf("a file whose VIP is an interface address: %v", err)
	}
}

// TestRestoreFileAtStart: the saved runtime state ([ctl] restore_file, as
// `gw adm -S` wrote it) comes back at start over the file's services, and
// a reload of the unchanged file keeps it.
func TestRestoreFileAtStart(t *testing.T) {
	saved := filepath.Join(t.TempDir(), "rules")
	first := newRig(t, baseFile)
	first.runAll(fullnat + "|adm -e -t 198.18.1.100:80 -r 198.18.1.11:8080 --fullnat -w 0|adm -A -u 198.18.1.100:53 -s rr")
	state := first.run("adm -S -n")
	if err := os.WriteFile(saved, []byte(state), 0o600); err != nil {
		t.Fatal(err)
	}
	file := baseFile + "[ctl]\nrestore_file = \"" + saved + "\"\n[[service]]\nproto = \"tcp\"\nvip = \"198.18.1.100:80\"\nsched = \"wlc\"\n"
	r := newRig(t, file)
	if got := r.run("adm -S -n"); got != state {
		t.Errorf("after a start with the saved state:\n%s\nwant\n%s", got, state)
	}
	r.run("reload")
	if got := r.run("adm -S -n"); got != state {
		t.Errorf("a reload of the unchanged file undid the restored state:\n%s", got)
	}
}

// TestSysctl: LVS's switches, read and set at runtime with gw sysctl (LVS's
// names), reach the datapath's snapshot; a bad name or value is refused.
func TestSysctl(t *testing.T) {
	r := newRig(t, baseFile+"[session]\nsecure_tcp = true\n")
	if out := r.run("sysctl"); !strings.Contains(out, "net.ipv4.vs.secure_tcp = 1\n") || !strings.Contains(out, "net.ipv4.vs.expire_nodest_conn = 0\n") {
		t.Errorf("gw sysctl:\n%s", out)
	}
	r.run("sysctl -w net.ipv4.vs.expire_nodest_conn=1")
	if out := r.run("sysctl expire_nodest_conn"); out != "net.ipv4.vs.expire_nodest_conn = 1\n" {
		t.Errorf("after setting it: %q", out)
	}
	if !r.dp.Services.Load().Policy().ExpireNodestConn || !r.dp.Services.Load().Timeouts().SecureTCP {
		t.Errorf("the snapshot: %+v, %+v", r.dp.Services.Load().Policy(), r.dp.Services.Load().Timeouts())
	}
	for _, bad := range []string{"sysctl nosuch=1", "sysctl secure_tcp=2"} {
		if _, err := ctl.ParseCommandLine(strings.Fields(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// TestRetiredLaddr: a local address whose service is deleted while
// connections hold its ports stays owned (ARP) and a local address for the
// datapath (replies steered to their core) until those connections end,
// then goes.
func TestRetiredLaddr(t *testing.T) {
	r := newRig(t, baseFile+"[session]\ntcp_syn_recv_timeout = 1\n")
	r.runAll(fullnat)
	r.syn(40000)
	r.run("adm -D -t 198.18.1.100:80")
	owns := func() (yes bool) {
		r.dp.Control.Do(func() { // the stack is the control goroutine's
			for _, a := range r.dp.Stack().Addrs() {
				yes = yes || a.Prefix.Addr() == lip && a.Kind == arp.OwnLocalAddr
			}
		})
		return yes
	}
	if !owns() || !r.dp.Services.Load().IsLocalAddr(header.Addr4From(lip)) {
		t.Fatal("the deleted service's local address was dropped while a connection holds one of its ports")
	}
	harness.Eventually(t, 10*time.Second, "the retired local address released", func() error {
		if owns() || r.dp.Services.Load().IsLocalAddr(header.Addr4From(lip)) {
			return fmt.Errorf("still owned")
		}
		return nil
	})
}

// TestFirewallMarkService: a fwmark service with its rule from the file
// ([[mark]]) takes a SYN to VIP:80 (no VIP:80 service exists) to its masq
// real server, keeping port 80; -L lists it as ipvsadm does; gw mark
// show lists the rules, gw mark add appends one, gw mark del removes it;
// a bad rule is refused with the reason, the rules unchanged.
func TestFirewallMarkService(t *testing.T) {
	r := newRig(t, baseFile+"[[mark]]\nmark = 5\nproto = \"tcp\"\ndst = \"198.18.1.100/32\"\ndport = \"80-89\"\n")
	r.runAll("adm -A -f 5 -s rr|adm -a -f 5 -r 198.18.1.11 -m")
	p := r.syn(40000)
	ip, tcp := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4), p.Layer(layers.LayerTypeTCP).(*layers.TCP)
	if ip.DstIP.String() != "198.18.1.11" || tcp.DstPort != 80 {
		t.Errorf("the SYN to VIP:80 went to %s:%d, want 198.18.1.11:80", ip.DstIP, tcp.DstPort)
	}
	if out := r.run("adm -L -n"); !strings.Contains(out, "FWM  5 rr\n  -> 198.18.1.11:0                Masq    1      0          1         \n") {
		t.Errorf("-L -n:\n%s", out)
	}
	const rule = "mark 5 proto tcp dst 198.18.1.100/32 dport 80-89\n"
	if out := r.run("mark show"); out != rule {
		t.Errorf("mark show: %q, want %q", out, rule)
	}
	r.run("mark add 6 proto udp dst 198.18.7.0/24 src 10.0.0.0/8")
	if out := r.run("mark show"); out != rule+"mark 6 proto udp dst 198.18.7.0/24 src 10.0.0.0/8\n" {
		t.Errorf("after mark add: %q", out)
	}
	r.run("mark del 6 proto udp dst 198.18.7.0/24 src 10.0.0.0/8")
	if resp := r.try("mark del 6 proto udp dst 198.18.7.0/24"); resp.Code == socket.CodeOK || !strings.Contains(resp.Error, "mark rule 6 proto udp dst 198.18.7.0/24 does not exist") {
		t.Errorf("deleting a missing rule: %+v", resp)
	}
	for _, bad := range []string{"mark add 0 dst 198.18.7.0/24", "mark add 1 dst 198.18.7.1/24", "mark add 1 dport 90-80", "mark add 1 proto icmp"} {
		if _, err := ctl.ParseCommandLine(strings.Fields(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if out := r.run("mark show"); out != rule {
		t.Errorf("mark show after the refusals: %q, want %q", out, rule)
	}
}
