package ctl

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// jsonOutputs renders every --json output of the client from the fixture
// and a stack and status of each kind: the ipvsadm listings (-L and its
// variants, -c, -G), gw ip addr|route|neigh show, gw link show -s, gw stats,
// gw mem and gw health.
func jsonOutputs(t *testing.T) map[string]string {
	t.Helper()
	tb := fixture(t)
	out := map[string]string{}
	for name, args := range map[string]string{
		"-L":           "-L -n --json",
		"-L -t":        "-L -t 198.18.1.100:80 --json",
		"-L --stats":   "-L -n --stats --json",
		"-L --timeout": "-L --timeout --json",
		"-L --daemon":  "-L --daemon --json",
		"-L -c":        "-L -n -c --json",
		"-G":           "-G --json",
		"-G -t":        "-G -t 198.18.1.100:80 --json",
	} {
		out[name] = render(t, tb, args)
	}
	write := func(name string, f func(*bytes.Buffer) error) {
		var b bytes.Buffer
		if err := f(&b); err != nil {
			t.Fatal(name, err)
		}
		out[name] = b.String()
	}
	write("ip addr show", func(b *bytes.Buffer) error {
		return WriteAddrs(b, []AddrStatus{{Prefix: "198.18.1.1/24", Dev: "dpdk0", Origin: "config"}, {Prefix: "198.18.1.100/32", Dev: "dpdk0", Origin: "kernel"}}, true)
	})
	write("ip route show", func(b *bytes.Buffer) error {
		return WriteRoutes(b, []RouteStatus{{Prefix: "198.18.1.0/24", Dev: "dpdk0", Proto: "kernel"}, {Prefix: "10.0.0.0/8", Via: "198.18.1.254", Dev: "dpdk0", Proto: "static"},
			{Prefix: "0.0.0.0/0", Via: "198.18.1.253", Dev: "dpdk0", Proto: "learned", NextHops: []RouteHop{{Via: "198.18.2.253", Dev: "dpdk1"}}}}, true)
	})
	write("check show", func(b *bytes.Buffer) error {
		t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		return WriteChecks(b, []CheckStatus{{Service: Service{Proto: TCP, VIP: netip.MustParseAddr("198.18.1.100"), Port: 80, Sched: "wlc"},
			Dest: DestKey{netip.MustParseAddr("198.18.2.11"), 80}, Check: "http GET /healthz every 1s", Target: netip.MustParseAddrPort("198.18.2.11:8081"),
			OnFailure: OnFailureInhibit, State: StateDown, Since: t0, Transitions: 1, Checks: 9, Last: t0, Reason: "status 503", Latency: 1500 * time.Microsecond, Weight: 3}}, t0, true)
	})
	write("ip neigh show", func(b *bytes.Buffer) error {
		return WriteNeighs(b, []NeighStatus{{Addr: "198.18.1.254", LLAddr: "02:00:00:00:00:01", Dev: "dpdk0", State: "PERMANENT"}, {Addr: "198.18.1.2", Dev: "dpdk0", State: "INCOMPLETE"}}, true)
	})
	write("link show -s", func(b *bytes.Buffer) error {
		return WriteLinks(b, []Link{{Name: "dpdk0", ID: 0, Device: "net_tap0,iface=gwc0", MAC: "02:00:00:00:00:10", MTU: 1500, Up: true, Speed: 10000, Duplex: "full", RxQueues: 1, TxQueues: 2,
			PortCounters: &PortCounters{RxPackets: 10, TxPackets: 9, RxBytes: 1000, TxBytes: 900},
			Kernel:       &LinkKernel{Iface: "fngw0", Backend: "net_tap", KernelCounters: &KernelCounters{ToPackets: 3, FromPackets: 2}}}}, true)
	})
	write("stats", func(b *bytes.Buffer) error {
		return WriteCores(b, []CoreStatus{{Core: 1, Rx: 10, Tx: 9, Drops: map[string]uint64{"no_service": 1}, Sessions: 2, Created: 3, Utilisation: 0.25,
			Gaps: NewGapStatus([]GapBucket{{LeNs: 2048, Count: 9990}, {LeNs: 4096, Count: 9}, {LeNs: 65536, Count: 1}}, 40000)}}, true)
	})
	write("mem", func(b *bytes.Buffer) error {
		return WriteMem(b, MemStatus{Mbufs: 4096, MbufsInUse: 100, MbufsAvail: 3996, InRings: map[string]int{"redirect": 0}, Elsewhere: 100, HeapBytes: 1 << 20, Goroutines: 12}, true)
	})
	write("health", func(b *bytes.Buffer) error {
		return WriteGatewayHealth(b, GatewayHealth{Workers: []WorkerHealth{{Core: 0, SinceTurn: 42 * time.Microsecond}},
			Ports: []PortHealth{{Dev: "dpdk0", Up: true, Kernel: &KernelHealth{Dev: "kgw0", Up: true}}, {Dev: "dpdk1", Up: true}}})
	})
	return out
}

// TestJSONNames holds every --json output to one vocabulary: "dev" is a
// port (interface) name, always a string (a kernel interface's in a link's
// "kernel"); "port" is always a number (an L4
// port); "service" is always the object -L --json lists (proto, vip,
// port, ...); connections use ipvsadm's column names (source, virtual,
// destination) and DPVS's (local). No output uses another word for a port
// name ("name", "ifname", "iface") or the old "client".
func TestJSONNames(t *testing.T) {
	outs := jsonOutputs(t)
	for name, s := range outs {
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Fatalf("%s: not JSON: %v\n%s", name, err, s)
		}
		var walk func(path string, v any)
		walk = func(path string, v any) {
			switch v := v.(type) {
			case []any:
				for _, e := range v {
					walk(path+"[]", e)
				}
			case map[string]any:
				for k, e := range v {
					p := path + "." + k
					switch k {
					case "dev":
						if _, ok := e.(string); !ok {
							t.Errorf("%s: %s is %v, want a port name (string)", name, p, e)
						}
					case "port":
						if _, ok := e.(float64); !ok {
							t.Errorf("%s: %s is %v, want a number", name, p, e)
						}
					case "service":
						o, ok := e.(map[string]any)
						if !ok || o["proto"] == nil || o["vip"] == nil || o["port"] == nil || o["sched"] == nil {
							t.Errorf("%s: %s is %v, want the service object of -L --json", name, p, e)
						}
					case "name", "ifname", "iface", "client", "dest_addr":
						t.Errorf("%s: %s: use the common names (dev, source, destination)", name, p)
					}
					walk(p, e)
				}
			}
		}
		walk("", v)
	}
	for name, want := range map[string]string{"-L -c": `"source"`, "ip addr show": `"dev"`, "link show -s": `"dev": "dpdk0"`, "-G": `"dev": "dpdk0"`, "check show": `"destination": "198.18.2.11:80"`} {
		if !strings.Contains(outs[name], want) {
			t.Errorf("%s --json has no %s:\n%s", name, want, outs[name])
		}
	}
}

// TestGoldenJSONStatus compares the stack and status listings' JSON with a
// reviewed golden file (go test -update rewrites it); the ipvsadm
// listings' JSON is in TestGolden.
func TestGoldenJSONStatus(t *testing.T) {
	outs := jsonOutputs(t)
	var b strings.Builder
	for _, name := range []string{"ip addr show", "ip route show", "ip neigh show", "link show -s", "stats", "mem", "check show", "health"} {
		b.WriteString("== gw " + name + " --json\n" + outs[name])
	}
	path := filepath.Join("testdata", "status_json.golden")
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}
