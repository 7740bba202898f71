package plane

import (
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	rtmetrics "runtime/metrics"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"fngw/ctl"
	"fngw/lcore"
	"fngw/test/harness"
)

// TestPollGapsStats: a job that holds the worker's turn for 500 ms shows in
// gw stats as the longest gap, and in the metrics' histogram; gw stats
// --reset-gaps starts gw stats' figures again, the metrics' histogram
// keeps counting (a Prometheus histogram never goes back), and the text
// output has the gaps under each core.
func TestPollGapsStats(t *testing.T) {
	r := newRig(t, baseFile)
	stats := func() ctl.GapStatus {
		var cs []ctl.CoreStatus
		if err := json.Unmarshal([]byte(r.run("stats --json")), &cs); err != nil || len(cs) != 1 {
			t.Fatalf("gw stats --json: %v %v", cs, err)
		}
		return cs[0].Gaps
	}
	harness.Eventually(t, 5*time.Second, "the worker's gaps counted", func() error {
		if g := stats(); g.Turns < 10 || g.MaxNs == 0 || g.P9999Ns < g.P999Ns || g.P9999Ns > g.MaxNs {
			return fmt.Errorf("%+v", g)
		}
		return nil
	})
	const stall = 500 * time.Millisecond
	if !r.dp.Workers[0].Exec(func(int64) bool { time.Sleep(stall); return true }, time.Second) {
		t.Fatal("the worker did not take the job")
	}
	// The gap is counted when the turn after the job's begins.
	harness.Eventually(t, 5*time.Second, "the stall counted", func() error {
		if g := stats(); g.MaxNs < uint64(stall) || g.Quantile(1) != g.MaxNs {
			return fmt.Errorf("after a %v stall: %+v", stall, g)
		}
		return nil
	})
	if out := r.run("stats"); !strings.Contains(out, "\n    poll gaps: max ") {
		t.Errorf("gw stats prints no poll gaps:\n%s", out)
	}
	if out := r.run("stats --reset-gaps"); out != "" {
		t.Errorf("gw stats --reset-gaps printed %q", out)
	}
	if g := stats(); g.MaxNs >= uint64(stall) || len(g.Buckets) > 0 && g.Buckets[len(g.Buckets)-1].LeNs >= uint64(stall) {
		t.Errorf("after the reset: %+v", g)
	}
	h := r.gather()["fngw_core_poll_gap_seconds"].GetMetric()[0].GetHistogram()
	var atStall, below uint64
	for _, b := range h.GetBucket() {
		if b.GetUpperBound() < stall.Seconds() {
			below = b.GetCumulativeCount()
		} else if atStall == 0 {
			atStall = b.GetCumulativeCount()
		}
	}
	if atStall-below != 1 {
		t.Errorf("the metrics' histogram lost the stall at the reset: %d gaps at %v and above", atStall-below, stall)
	}
}

// TestPollGapMetrics: each worker's poll gaps are a Prometheus histogram
// with the core label and power-of-two bounds in seconds, its sum the
// loop's seconds; the runtime's pauses are histograms by pause and cause,
// and a forced collection adds to the GC's. (TestMetricsForOperators lints
// them with promtool's rules.)
func TestPollGapMetrics(t *testing.T) {
	r := newRig(t, baseFile)
	time.Sleep(20 * time.Millisecond)
	s := r.gather()
	gaps := s["fngw_core_poll_gap_seconds"]
	if gaps.GetType() != dto.MetricType_HISTOGRAM || len(gaps.GetMetric()) != 1 || labelMap(gaps.GetMetric()[0])["core"] != "0" {
		t.Fatalf("fngw_core_poll_gap_seconds: %v", gaps)
	}
	h := gaps.GetMetric()[0].GetHistogram()
	if n := len(h.GetBucket()); n != lcore.NumGapBuckets-1 {
		t.Errorf("%d buckets, want %d", n, lcore.NumGapBuckets-1)
	}
	for i, b := range h.GetBucket() {
		if want := lcore.GapBound(i).Seconds(); b.GetUpperBound() != want {
			t.Errorf("bucket %d bound %v, want %v", i, b.GetUpperBound(), want)
		}
	}
	poll := s.value(t, "fngw_core_poll_seconds_total", map[string]string{"core": "0"})
	if h.GetSampleCount() == 0 || math.Abs(h.GetSampleSum()-poll) > 0.05 {
		t.Errorf("%d gaps summing to %vs; the loop ran %vs", h.GetSampleCount(), h.GetSampleSum(), poll)
	}
	if s.value(t, "fngw_core_poll_gap_max_seconds", map[string]string{"core": "0"}) <= 0 {
		t.Error("no longest gap")
	}

	gcPauses := func() uint64 {
		for _, m := range r.gather()["fngw_go_pause_seconds"].GetMetric() {
			if l := labelMap(m); l["pause"] == "total" && l["cause"] == "gc" {
				return m.GetHistogram().GetSampleCount()
			}
		}
		t.Fatal("no fngw_go_pause_seconds{pause=total,cause=gc}")
		return 0
	}
	before := gcPauses()
	runtime.GC()
	time.Sleep(MetricsInterval) // a fresh collector caches nothing, but be plain about it
	if after := gcPauses(); after < before+2 {
		t.Errorf("a collection (two stop-the-world pauses) took the GC's pauses from %d to %d", before, after)
	}
	pauses := s["fngw_go_pause_seconds"]
	if pauses.GetType() != dto.MetricType_HISTOGRAM || len(pauses.GetMetric()) != 4 {
		t.Errorf("fngw_go_pause_seconds: %d series of type %v, want 4 histograms", len(pauses.GetMetric()), pauses.GetType())
	}
	if s["fngw_go_sched_latency_seconds"].GetType() != dto.MetricType_HISTOGRAM {
		t.Error("fngw_go_sched_latency_seconds is not a histogram")
	}
}

// TestPowerOfTwo: the runtime's buckets are counted at the smallest
// power-of-two bound at or above their upper end, checked against the
// runtime's own histogram: the counts agree at every bound that is one of
// the runtime's.
func TestPowerOfTwo(t *testing.T) {
	runtime.GC()
	sm := []rtmetrics.Sample{{Name: "/sched/latencies:seconds"}}
	rtmetrics.Read(sm)
	rh := sm[0].Value.Float64Histogram()
	n, _, buckets := powerOfTwo(rh)
	var total uint64
	for _, c := range rh.Counts {
		total += c
	}
	if n != total || n == 0 {
		t.Fatalf("count %d, the runtime's %d", n, total)
	}
	for i := range lcore.NumGapBuckets - 1 {
		bound := lcore.GapBound(i).Seconds()
		var want uint64
		for j, c := range rh.Counts {
			if rh.Buckets[j+1] <= bound*(1+1e-12) {
				want += c
			}
		}
		if buckets[bound] != want {
			t.Errorf("at %v: %d, want %d", lcore.GapBound(i), buckets[bound], want)
		}
	}
}
