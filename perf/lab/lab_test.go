package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fngw/ctl/config"
)

// Every scenario's gateway configuration, with and without hugepages and
// the kernel path, must load with the real loader.
func TestGatewayConfigLoads(t *testing.T) {
	for _, huge := range []bool{false, true} {
		for _, kernel := range []string{"", "kperf0"} {
			b := &Bench{cfg: Config{MainCPU: 0, WorkerCPU: 1, Work: t.TempDir(), Hugepages: huge, KernelIface: kernel}}
			for _, sc := range Scenarios {
				t.Run(fmt.Sprintf("%s/hugepages=%v/kernel=%q", sc.Name, huge, kernel), func(t *testing.T) { testGatewayConfig(t, b, sc) })
			}
		}
	}
}

func testGatewayConfig(t *testing.T, b *Bench, sc Scenario) {
	sp, err := sc.Spec()
	if err != nil {
		t.Fatal(err)
	}
	mbufs, mem := b.sizing(&sc, sp.Packets())
	cfg := b.gwConfig(&sc, sp, "net_pcap0,rx_pcap=/x.pcap,infinite_rx=1", mbufs, mem)
	path := filepath.Join(t.TempDir(), "gw.toml")
	if err := os.WriteFile(path, []byte(cfg.TOML()), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := config.Load(path)
	if err != nil {
		t.Fatalf("%v\n%s", err, cfg.TOML())
	}
	if f.Session.CapacityPerCore != sc.Capacity || len(f.Workers) != 1 || f.IdleSleepUS != 0 || f.Ports[0].KernelIface != b.cfg.KernelIface {
		t.Fatalf("loaded %+v", f)
	}
	if mbufs > 0 && (f.Pool.Mbufs != mbufs || mbufs < sp.Packets()) {
		t.Fatalf("pool %d mbufs for %d frames", f.Pool.Mbufs, sp.Packets())
	}
	if sc.Kind != Memory && sc.Flows > 64512*sc.Servers*sc.LIPs {
		t.Fatalf("%d flows exceed the local ports", sc.Flows)
	}
	if args := strings.Join(f.EALArgs("gw"), " "); b.cfg.Hugepages != strings.Contains(args, "--huge-unlink") ||
		b.cfg.Hugepages == strings.Contains(args, "--no-huge") {
		t.Fatalf("EAL args %q with hugepages %v", args, b.cfg.Hugepages)
	}
}

func TestParseTestpmdStats(t *testing.T) {
	out := `testpmd> show port stats all

  ######################## NIC statistics for port 0  ########################
  RX-packets: 20449088   RX-missed: 0          RX-bytes:  1226945280
  RX-errors: 0
  RX-nombuf:  0         
  TX-packets: 20279136   TX-errors: 0          TX-bytes:  1216748160

  Throughput (since last show)
  Rx-pps:            0          Rx-bps:            0
  Tx-pps:            0          Tx-bps:            0
  ############################################################################
testpmd> show port stats all
  ######################## NIC statistics for port 0  ########################
  RX-packets: 92887872   RX-missed: 7          RX-bytes:  5573272320
  RX-errors: 0
  RX-nombuf:  0         
  TX-packets: 92717856   TX-errors: 0          TX-bytes:  5563071360

  Throughput (since last show)
  Rx-pps:     14475301          Rx-bps:   6948144832
  Tx-pps:     14475288          Tx-bps:   6948138688
  ############################################################################
`
	st := parseTestpmdStats(out)
	if len(st) != 2 {
		t.Fatalf("%d blocks", len(st))
	}
	if st[1].rx != 92887872 || st[1].tx != 92717856 || st[1].missed != 7 || st[1].rxPPS != 14475301 || st[0].rx != 20449088 {
		t.Fatalf("%+v", st)
	}
}

func TestNoise(t *testing.T) {
	t0 := time.Unix(100, 0)
	a := cpuSnap{at: t0, busy: 1000, steal: 10, proc: 500, self: 100}
	// 2 s: 400 ticks of 2 CPUs; the process used 200 (one core), the runner 10,
	// others 40 (0.2 cores); steal 20 ticks (0.1 core).
	b := cpuSnap{at: t0.Add(2 * time.Second), busy: 1250, steal: 30, proc: 700, self: 110}
	o, s := noise(a, b)
	if o < 0.199 || o > 0.201 || s < 0.099 || s > 0.101 {
		t.Fatalf("others %v steal %v", o, s)
	}
}

func TestTable(t *testing.T) {
	rep := &Report{Reps: 3, WindowS: 5, Command: "bench", Results: []Result{
		{Scenario: "udp-1k", Title: "t", Kind: Throughput, Target: "≥ 0.80 of testpmd", Testpmd: Summary{10, 9, 11, 3},
			GW: Summary{8.5, 8, 9, 3}, Ratio: Summary{0.85, 0.8, 0.9, 3}, Verdict: "met",
			Refs: []Ref{{Impl: "testpmd-5tswap", Mpps: Summary{9, 9, 9, 3}, Ratio: Summary{0.95, 0.9, 1, 3}}}},
		{Scenario: "syn-1m", Kind: NewSessions, Value: Summary{2.5e6, 2.4e6, 2.6e6, 3}, Verdict: "met"},
	}}
	tab := rep.Table()
	for _, want := range []string{"| `udp-1k` t | 10.00 (9.00–11.00) | 8.50 (8.00–9.00) | 0.85 (0.80–0.90) | testpmd-5tswap 9.00, 0.95 (0.90–1.00) |",
		"2.500 (2.400–2.600) M sessions/s"} {
		if !strings.Contains(tab, want) {
			t.Errorf("table lacks %q:\n%s", want, tab)
		}
	}
}

// TestDrawCharts: the chart command runs as `GO run . DIR` in the chart
// module's directory, with DIR absolute, and its failure is an error.
func TestDrawCharts(t *testing.T) {
	tmp := t.TempDir()
	fakeGo := filepath.Join(tmp, "go")
	if err := os.WriteFile(fakeGo, []byte("#!/bin/sh\necho \"$PWD $*\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := DrawCharts(context.Background(), fakeGo, tmp, "results/x", &out); err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if want := tmp + " run . " + filepath.Join(wd, "results/x") + "\n"; out.String() != want {
		t.Errorf("ran %q, want %q", out.String(), want)
	}
	if err := DrawCharts(context.Background(), filepath.Join(tmp, "missing"), tmp, tmp, &out); err == nil {
		t.Error("no error without the go command")
	}
}

// TestReportWrite: summary.json writes what was not measured as null, and
// table.md is the table.
func TestReportWrite(t *testing.T) {
	dir := t.TempDir()
	rep := &Report{Results: []Result{{Scenario: "syn-1m", Kind: NewSessions, Testpmd: Summarize(nil),
		Value: Summary{1e6, 1e6, 1e6, 1}, Runs: []string{"runs/syn-1m-gw-1.json"}}}}
	if err := rep.Write(dir); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Results []struct {
			Testpmd map[string]any `json:"testpmd_mpps"`
			Value   map[string]any `json:"value"`
			Runs    []string       `json:"runs"`
		} `json:"results"`
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	r := got.Results[0]
	if r.Testpmd["median"] != nil || r.Value["median"] != 1e6 || len(r.Runs) != 1 {
		t.Fatalf("%s", data)
	}
	if tab, err := os.ReadFile(filepath.Join(dir, "table.md")); err != nil || string(tab) != rep.Table() {
		t.Fatalf("table.md: %v", err)
	}
}

// TestSummarizeRefs: the reference modes' rates and the gateway's ratio to
// each, repetition by repetition, beside the headline ratio to macswap,
// which alone decides the verdict.
func TestSummarizeRefs(t *testing.T) {
	res := &Result{Kind: Throughput}
	for rep, pps := range [][4]float64{{10e6, 5e6, 4e6, 2e6}, {12e6, 4e6, 6e6, 3e6}, {11e6, 6e6, 6e6, 3e6}} {
		for i, impl := range []string{"testpmd", refImpl("5tswap"), crefImpl, "gw"} {
			res.runs = append(res.runs, &Run{Scenario: "udp-1k", Impl: impl, Rep: rep + 1, TxPPS: pps[i]})
		}
	}
	res.summarize(&Scenario{Kind: Throughput, Target: 0.25})
	if len(res.Refs) != 2 || res.Refs[0].Impl != "testpmd-5tswap" || res.Refs[1].Impl != crefImpl {
		t.Fatalf("refs %+v", res.Refs)
	}
	if r := res.Refs[0]; r.Mpps != (Summary{5, 4, 6, 3}) || r.Ratio != (Summary{0.5, 0.4, 0.75, 3}) {
		t.Errorf("5tswap %+v", r)
	}
	if r := res.Refs[1]; r.Mpps != (Summary{6, 4, 6, 3}) || r.Ratio != (Summary{0.5, 0.5, 0.5, 3}) {
		t.Errorf("cref %+v", r)
	}
	if res.Testpmd != (Summary{11, 10, 12, 3}) || res.Ratio != (Summary{0.25, 0.2, 3.0 / 11, 3}) || !res.Met {
		t.Errorf("headline %+v %+v met %v", res.Testpmd, res.Ratio, res.Met)
	}
	if !strings.Contains(res.line(), "; testpmd-5tswap 5.00 (4.00–6.00) Mpps, gw / it 0.50 (0.40–0.75); cref 6.00 (4.00–6.00) Mpps, gw / it 0.50") {
		t.Errorf("line %q", res.line())
	}
}

// TestPassWindow: a new-sessions profile records 60 % of the first pass at
// the measured median rate, within 0.1 to 2 s.
func TestPassWindow(t *testing.T) {
	sc := &Scenario{Flows: 1 << 20}
	for _, c := range []struct {
		rates []float64
		want  time.Duration
	}{
		{[]float64{1.9e6, 2.1e6, 2e6}, 314572800 * time.Nanosecond},
		{nil, 2 * time.Second},
		{[]float64{0, 0}, 2 * time.Second},
		{[]float64{1e8}, 100 * time.Millisecond},
		{[]float64{1e5}, 2 * time.Second},
	} {
		var runs []*Run
		for _, r := range c.rates {
			runs = append(runs, &Run{SessionsPerSec: r})
		}
		if got := passWindow(sc, runs); got != c.want {
			t.Errorf("rates %v: %v, want %v", c.rates, got, c.want)
		}
	}
}
