package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// GatewayConfig is the gw configuration of a scenario: one port carrying
// both sides on the lab's addressing plan (package perf/gen), static
// neighbours so that nothing needs ARP, one FULLNAT service.
type GatewayConfig struct {
	Lcores     string // "0,1": control lcore 0, worker 1
	MemoryMB   int
	Hugepages  bool
	FilePrefix string
	Device     string // [[port]] device
	Socket     string
	Capacity   int // session.capacity_per_core
	Mbufs      int // pool.mbufs; 0 = automatic
	Proto      string
	VIP        netip.AddrPort
	Servers    []netip.AddrPort
	LIPs       []netip.Addr
	Router     netip.Addr
	RouterMAC  string
	ServerMAC  string
	PortAddrs  []string
	// KernelIface configures the kernel path on the port (kernel_iface):
	// the gateway then runs in the network namespace KernelNetns, where its
	// kernel interface and the addresses synced onto it stay.
	KernelIface string
	// FillDevice, when set, is a second port (dpdk1, no addresses) that
	// the same worker polls: the stress scenario streams its table's
	// sessions in through it.
	FillDevice string
	// Metrics is [ctl] metrics, the Prometheus endpoint ("": none).
	Metrics string
	// OnewayTimeout is session.udp_oneway_timeout in seconds (0: the
	// gateway's default, 5 s): how long a UDP session that never had a
	// reply lives, as every session of the lab's one-way traffic.
	OnewayTimeout int
	// Env is added to the gateway process's environment (StressGCEnv).
	Env []string
}

// KernelNetns is the network namespace the lab runs a gateway with a
// kernel interface in (GatewayConfig.KernelIface).
const KernelNetns = "fngwperf"

// TOML renders the configuration as `gw run -c` reads it.
func (c *GatewayConfig) TOML() string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	q := func(ss []string) string {
		out := make([]string, len(ss))
		for i, s := range ss {
			out[i] = fmt.Sprintf("%q", s)
		}
		return "[" + strings.Join(out, ", ") + "]"
	}
	p("# written by the fngw perf lab (perf/lab)")
	p("idle_sleep_us = 0 # busy polling: the worker owns its core")
	p("")
	p("[eal]")
	p("lcores = %q", c.Lcores)
	p("memory_mb = %d", c.MemoryMB)
	p("hugepages = %v", c.Hugepages)
	p("file_prefix = %q", c.FilePrefix)
	if c.Hugepages {
		// No hugepage files left behind, even when the run is killed.
		p("args = [\"--huge-unlink\"]")
	}
	p("")
	p("[log]\nlevel = \"warn\"\n")
	p("[[port]]")
	p("name = \"dpdk0\"")
	p("device = %q", c.Device)
	p("addrs = %s", q(c.PortAddrs))
	if c.KernelIface != "" {
		p("kernel_iface = %q", c.KernelIface)
	}
	p("")
	if c.FillDevice != "" {
		p("[[port]]\nname = \"dpdk1\"\ndevice = %q\n", c.FillDevice)
	}
	p("[[route]]\nprefix = \"0.0.0.0/0\"\nvia = %q\nport = \"dpdk0\"\n", c.Router)
	p("[[neigh]]\naddr = %q\nmac = %q\nport = \"dpdk0\"\n", c.Router, c.RouterMAC)
	for _, s := range c.Servers {
		p("[[neigh]]\naddr = %q\nmac = %q\nport = \"dpdk0\"\n", s.Addr(), c.ServerMAC)
	}
	p("[ctl]\nsocket = %q\nmetrics = %q\n", c.Socket, c.Metrics)
	p("[session]\ncapacity_per_core = %d\nudp_timeout = 3600", c.Capacity)
	if c.OnewayTimeout > 0 {
		p("udp_oneway_timeout = %d", c.OnewayTimeout)
	}
	p("")
	if c.Mbufs > 0 {
		p("[pool]\nmbufs = %d\n", c.Mbufs)
	}
	lips := make([]string, len(c.LIPs))
	for i, l := range c.LIPs {
		lips[i] = l.String()
	}
	p("[[service]]\nproto = %q\nvip = %q\nsched = \"rr\"\nladdrs = %s", c.Proto, c.VIP, q(lips))
	for _, s := range c.Servers {
		p("[[service.dest]]\naddr = %q\nfwd = \"fullnat\"", s)
	}
	return b.String()
}

// Gateway is a running `gw run`.
type Gateway struct {
	Bin    string
	Socket string
	cmd    *exec.Cmd
	exited chan error
	logf   string
	netns  string    // the namespace made for it, removed when it has stopped
	Start  time.Time // when the process was started
	Ready  time.Time // when the control socket first answered
}

// StartGateway writes cfg next to logPath's directory and starts bin on it;
// it returns once the control socket answers, or with the log's tail when
// the gateway exits or does not answer within three minutes.
func StartGateway(ctx context.Context, bin string, cfg *GatewayConfig, cfgPath, logPath string) (*Gateway, error) {
	if err := os.WriteFile(cfgPath, []byte(cfg.TOML()), 0o644); err != nil {
		return nil, err
	}
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer lf.Close()
	_ = os.Remove(cfg.Socket)
	name, args := forwarder(bin, "run", "-c", cfgPath)
	netns := ""
	if cfg.KernelIface != "" {
		netns = KernelNetns
		_ = exec.Command("ip", "netns", "del", netns).Run() // a killed run's
		if out, err := exec.Command("ip", "netns", "add", netns).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("ip netns add %s: %v: %s", netns, err, out)
		}
		name, args = "ip", append([]string{"netns", "exec", netns, name}, args...)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	if len(cfg.Env) > 0 {
		cmd.Env = append(os.Environ(), cfg.Env...)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	g := &Gateway{Bin: bin, Socket: cfg.Socket, cmd: cmd, exited: make(chan error, 1), logf: logPath, Start: start, netns: netns}
	go func() {
		err := cmd.Wait()
		if netns != "" {
			_ = exec.Command("ip", "netns", "del", netns).Run()
		}
		g.exited <- err
	}()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		select {
		case err := <-g.exited:
			g.exited <- err
			return nil, fmt.Errorf("gw exited during start-up (%v):\n%s", err, g.logTail(15))
		case <-ctx.Done():
			g.Stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if _, err := g.CLI(ctx, "link", "show", "--json"); err == nil {
			g.Ready = time.Now()
			return g, nil
		}
		if time.Now().After(deadline) {
			g.Stop()
			return nil, fmt.Errorf("gw did not answer on %s within 3 minutes:\n%s", cfg.Socket, g.logTail(15))
		}
	}
}

// Pid is the gateway's process id.
func (g *Gateway) Pid() int { return g.cmd.Process.Pid }

func (g *Gateway) logTail(n int) string {
	b, _ := os.ReadFile(g.logf)
	return tail(string(b), n)
}

// Stop sends SIGTERM (a clean stop) and waits; after 30 s it kills.
func (g *Gateway) Stop() error {
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-g.exited:
		return err
	case <-time.After(30 * time.Second):
		_ = g.cmd.Process.Kill()
		return fmt.Errorf("gw did not stop within 30 s of SIGTERM; killed")
	}
}

// CLI runs `gw --sock SOCKET args...` and returns its standard output.
func (g *Gateway) CLI(ctx context.Context, args ...string) ([]byte, error) {
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(cctx, g.Bin, append([]string{"--sock", g.Socket}, args...)...).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return nil, fmt.Errorf("gw %s: %v: %s", strings.Join(args, " "), err, ee.Stderr)
		}
		return nil, err
	}
	return out, nil
}

// PortStats are the fields of `gw link show -s --json` the lab reads.
type PortStats struct {
	Name      string `json:"dev"`
	MAC       string `json:"mac"`
	RxPackets uint64 `json:"rx_packets"`
	TxPackets uint64 `json:"tx_packets"`
	Imissed   uint64 `json:"imissed"`
	RxNombuf  uint64 `json:"rx_nombuf"`
}

// CoreStats are the fields of `gw stats --json` the lab reads.
type CoreStats struct {
	Core     int               `json:"core"`
	Rx       uint64            `json:"rx_packets"`
	Tx       uint64            `json:"tx_packets"`
	BusyNs   uint64            `json:"busy_ns"`
	TotalNs  uint64            `json:"total_ns"`
	Drops    map[string]uint64 `json:"drops"`
	Sessions uint64            `json:"sessions"`
	Created  uint64            `json:"sessions_created"`
	Gaps     Gaps              `json:"poll_gaps"`
}

// Gaps are a worker's poll gaps since the last `gw stats --reset-gaps`.
type Gaps struct {
	Turns   uint64 `json:"turns"`
	MaxNs   uint64 `json:"max_ns"`
	Buckets []struct {
		LeNs  uint64 `json:"le_ns"` // 0: the last bucket, above every bound
		Count uint64 `json:"count"`
	} `json:"buckets"`
}

// Link reads the port counters.
func (g *Gateway) Link(ctx context.Context) ([]PortStats, error) {
	out, err := g.CLI(ctx, "link", "show", "-s", "--json")
	if err != nil {
		return nil, err
	}
	var ps []PortStats
	if err := json.Unmarshal(out, &ps); err != nil {
		return nil, fmt.Errorf("gw link show -s --json: %w", err)
	}
	return ps, nil
}

// Stats reads the per-core counters.
func (g *Gateway) Stats(ctx context.Context) ([]CoreStats, error) {
	out, err := g.CLI(ctx, "stats", "--json")
	if err != nil {
		return nil, err
	}
	var cs []CoreStats
	if err := json.Unmarshal(out, &cs); err != nil {
		return nil, fmt.Errorf("gw stats --json: %w", err)
	}
	return cs, nil
}

// sum adds the cores' counters into one; its gaps are those of the core
// with the longest.
func sumCores(cs []CoreStats) CoreStats {
	var t CoreStats
	t.Drops = map[string]uint64{}
	for _, c := range cs {
		t.Rx += c.Rx
		t.Tx += c.Tx
		t.BusyNs += c.BusyNs
		t.TotalNs += c.TotalNs
		t.Sessions += c.Sessions
		t.Created += c.Created
		if c.Gaps.MaxNs >= t.Gaps.MaxNs {
			t.Gaps = c.Gaps
		}
		for k, v := range c.Drops {
			t.Drops[k] += v
		}
	}
	return t
}

// forwarderCPUs is the CPU list the forwarders get back when the runner is
// pinned (PinRunner); empty when it is not.
var forwarderCPUs string

// forwarder returns name and args as a command that runs on forwarderCPUs.
func forwarder(name string, args ...string) (string, []string) {
	if forwarderCPUs == "" {
		return name, args
	}
	return "taskset", append([]string{"-c", forwarderCPUs, name}, args...)
}
