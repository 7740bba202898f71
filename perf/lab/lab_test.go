package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
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
	if sc.Kind == Stress {
		cfg.FillDevice, cfg.Metrics = "net_pcap1,rx_pcap=/fill.pcap", StressMetrics
	}
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
	if sc.Kind != Memory && max(sc.Flows, sc.FillFlows) > 64512*sc.Servers*sc.LIPs {
		t.Fatalf("%d flows exceed the local ports", max(sc.Flows, sc.FillFlows))
	}
	if sc.Kind == Stress && (len(f.Ports) != 2 || len(f.Workers[0].Rx) != 2 || f.Ctl.Metrics != StressMetrics ||
		sc.Capacity < sc.Flows+sc.FillFlows || sc.FillFlows < 1_000_000) {
		t.Fatalf("stress: ports %+v, worker %+v, metrics %q, %d sessions for %d+%d flows", f.Ports, f.Workers, f.Ctl.Metrics, sc.Capacity, sc.Flows, sc.FillFlows)
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

// TestStressTable: a stress result's row, and the targets' table with the
// stalls judged on power-of-two buckets and the cref ratios of the
// scenarios that have them.
func TestStressTable(t *testing.T) {
	q := func(lo, hi, est float64) *Quantile { return &Quantile{Lo: lo, Hi: hi, Est: est} }
	rep := &Report{Reps: 3, WindowS: 4, Command: "bench", Results: []Result{
		{Scenario: "udp-1k", Kind: Throughput, Verdict: "missed",
			Refs: []Ref{{Impl: crefImpl, Mpps: Summary{30, 30, 30, 3}, Ratio: Summary{0.55, 0.5, 0.6, 3}}}},
		{Scenario: "stress-1k", Title: "s", Kind: Stress, Target: "≥ 0.95 of the same without stress", GW: Summary{9.6, 9.5, 9.7, 3},
			Ratio: Summary{0.96, 0.95, 0.97, 3}, Verdict: "met",
			Stress: &StressSummary{BaseMpps: Summary{10, 10, 10, 3}, GapMaxS: Summary{150e-6, 100e-6, 250e-6, 3},
				GapP9999: q(8.192e-6, 16.384e-6, 10e-6), GCPauseP99: q(65.536e-6, 131.072e-6, 90e-6),
				GCPauses: Summary{80, 80, 80, 3}, BaseGapMaxS: Summary{20e-6, 20e-6, 20e-6, 3}}},
	}}
	tab := rep.Table()
	for _, want := range []string{
		"| `stress-1k` s | — | 9.60 (9.50–9.70) | 0.96 (0.95–0.97) |",
		"| `stress-1k` throughput ÷ the same gateway alone (gw Mpps 9.60 (9.50–9.70) ÷ 10.00) | ≥ 0.95 of the same without stress | 0.96 (0.95–0.97) | met |",
		"| longest worker gap under `stress-1k` (alone: 20 µs) | ≤ 200 µs | 150 (100–250) µs | **missed** |",
		"| p99.99 worker gap under `stress-1k`, worst run (alone: — µs) | ≤ 20 µs | ≈ 10.0 (8.2–16.4] µs | met |",
		"| GC pause p99 under `stress-1k`, worst run (80 pauses in a window; alone: 0) | ≤ 100 µs | ≈ 90.0 (65.5–131.1] µs | met (est.) |",
		"| `udp-1k` gw / cref (one worker) | ≥ 0.75 | 0.55 (0.50–0.60) | **missed** |",
	} {
		if !strings.Contains(tab, want) {
			t.Errorf("table lacks %q:\n%s", want, tab)
		}
	}
	if strings.Contains(tab, "udp-1m") {
		t.Errorf("a target row for a scenario the run does not have:\n%s", tab)
	}
	if _, err := json.Marshal(rep); err != nil {
		t.Errorf("the report does not encode: %v", err)
	}
}

// TestHistQuantiles: a histogram read from a scrape, less an earlier
// reading, gives its quantiles as buckets with an estimate, judged
// against a target on the bucket's bounds first; the gaps gw stats lists
// (non-empty buckets only) interpolate from their lower bound.
func TestHistQuantiles(t *testing.T) {
	text := func(c1, c2, c4, inf int) string {
		return fmt.Sprintf(`# TYPE x histogram
x_bucket{cause="gc",pause="total",le="1"} %d
x_bucket{cause="gc",pause="total",le="2"} %d
x_bucket{cause="gc",pause="total",le="4"} %d
x_bucket{cause="gc",pause="total",le="+Inf"} %d
x_bucket{cause="other",pause="total",le="1"} 99
x_sum{cause="gc",pause="total"} 3
x_count{cause="gc",pause="total"} %d
`, c1, c2, c4, inf, inf)
	}
	want := map[string]string{"pause": "total", "cause": "gc"}
	h0, err := ParseHist(strings.NewReader(text(1, 1, 1, 1)), "x", want)
	if err != nil {
		t.Fatal(err)
	}
	h1, err := ParseHist(strings.NewReader(text(1, 51, 101, 102)), "x", want)
	if err != nil {
		t.Fatal(err)
	}
	d := h1.Sub(h0)
	if d.Count() != 101 || len(d.Le) != 4 {
		t.Fatalf("difference %+v", d)
	}
	if q := d.Quantile(0.5); q.Lo != 2 || q.Hi != 4 || math.Abs(q.Est-2.04) > 1e-9 {
		t.Errorf("median %+v", q) // the 51st of 101: the first of the 50 in (2, 4]
	}
	// The 91st of 101: the 41st of the 50 in (2, 4].
	if q := d.Quantile(0.9); q.Lo != 2 || q.Hi != 4 || math.Abs(q.Est-3.64) > 1e-9 || q.Verdict(4) != "met" || q.Verdict(2) != "**missed**" ||
		q.Verdict(3.9) != "met (est.)" || q.Verdict(3) != "**missed** (est.)" {
		t.Errorf("p90 %+v: verdicts %s %s %s %s", q, q.Verdict(4), q.Verdict(2), q.Verdict(3.9), q.Verdict(3))
	}
	if q := d.Quantile(1); !q.Open || q.Lo != 4 || q.Verdict(3) != "**missed**" || !strings.HasPrefix(q.Verdict(5), "unknown") {
		t.Errorf("max %+v: %s, %s", q, q.Verdict(3), q.Verdict(5))
	}
	if q := (Hist{}).Quantile(0.5); q != nil || q.Verdict(1) != "not measured" {
		t.Errorf("no values: %+v", q)
	}
	if _, err := ParseHist(strings.NewReader(text(1, 1, 1, 1)), "y", want); err == nil {
		t.Error("a histogram missing from the scrape parsed")
	}
	var g Gaps
	if err := json.Unmarshal([]byte(`{"turns":100,"max_ns":3000,"buckets":[{"le_ns":1024,"count":98},{"le_ns":4096,"count":2}]}`), &g); err != nil {
		t.Fatal(err)
	}
	if q := gapHist(g).Quantile(0.99); q.Lo != 2048e-9 || q.Hi != 4096e-9 || math.Abs(q.Est-3072e-9) > 1e-12 {
		t.Errorf("gaps' p99 %+v", q)
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
