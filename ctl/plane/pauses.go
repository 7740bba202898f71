package plane

import (
	"fmt"
	"math"
	rtmetrics "runtime/metrics"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"fngw/ctl"
	"fngw/lcore"
)

// The stalls a worker can suffer and their causes: its poll gaps (the
// time between the starts of two turns of its loop, counted by the worker
// in power-of-two buckets, lcore/gap.go) and the Go runtime's pauses, during
// which the runtime stops every goroutine, the workers' included.
var (
	dCoreGap    = desc("core_poll_gap_seconds", "Time between the starts of two consecutive turns of the worker's loop (power-of-two buckets; the sum is the loop's time, as core_poll_seconds_total).", "core")
	dCoreGapMax = desc("core_poll_gap_max_seconds", "The longest poll gap of the worker since the last gw stats --reset-gaps (or the start).", "core")
	dGoPause    = desc("go_pause_seconds", "Stop-the-world pauses of the Go runtime, from runtime/metrics /sched/pauses/PAUSE/CAUSE:seconds: pause=total from the decision to stop to the restart, stopping until every goroutine stopped; cause=gc for the collector's, other for the rest (power-of-two buckets; the sum adds the lower bounds of the runtime's buckets, an underestimate).", "pause", "cause")
	dGoSchedLat = desc("go_sched_latency_seconds", "Time goroutines spent runnable before running, from runtime/metrics /sched/latencies:seconds (power-of-two buckets; the sum adds the lower bounds of the runtime's buckets, an underestimate).")
)

// gapBound is the upper bound in ns of lcore's gap bucket i, 0 for the
// last one, which has none (ctl.GapBucket's convention).
func gapBound(i int) uint64 {
	if i == lcore.NumGapBuckets-1 {
		return 0
	}
	return uint64(lcore.GapBound(i))
}

// gapStatus is a worker's poll gaps since the last reset, for gw stats.
func gapStatus(s lcore.Stats) ctl.GapStatus {
	b := make([]ctl.GapBucket, lcore.NumGapBuckets)
	for i, n := range s.GapsSince {
		b[i] = ctl.GapBucket{LeNs: gapBound(i), Count: n}
	}
	return ctl.NewGapStatus(b, s.GapMax)
}

// resetGaps is gw stats --reset-gaps: every worker restarts its gaps since
// the reset, on its own thread.
func (p *Plane) resetGaps() error {
	for i, w := range p.dp.Workers {
		if !w.ResetGaps(sessionListTimeout) {
			return fmt.Errorf("worker %d did not take the reset of its poll gaps within %v: is it turning? (gw health)", i, sessionListTimeout)
		}
	}
	return nil
}

// gapMetrics are a worker's poll-gap histogram since its start (a
// Prometheus histogram never goes back: resets are gw stats' only) and its
// longest gap since the last reset.
func (m *metrics) gapMetrics(s lcore.Stats) {
	core := strconv.Itoa(s.Core)
	buckets := make(map[float64]uint64, lcore.NumGapBuckets-1)
	var n uint64
	for i, c := range s.Gaps {
		n += c
		if i < lcore.NumGapBuckets-1 {
			buckets[lcore.GapBound(i).Seconds()] = n
		}
	}
	*m = append(*m, prometheus.MustNewConstHistogram(dCoreGap, n, float64(s.TotalNs)/1e9, buckets, core))
	m.gauge(dCoreGapMax, float64(s.GapMax)/1e9, core)
}

// runtimeHists are the runtime/metrics histograms exported, with the
// labels of their series.
var runtimeHists = []struct {
	name   string
	d      *prometheus.Desc
	labels []string
}{
	{"/sched/pauses/total/gc:seconds", dGoPause, []string{"total", "gc"}},
	{"/sched/pauses/total/other:seconds", dGoPause, []string{"total", "other"}},
	{"/sched/pauses/stopping/gc:seconds", dGoPause, []string{"stopping", "gc"}},
	{"/sched/pauses/stopping/other:seconds", dGoPause, []string{"stopping", "other"}},
	{"/sched/latencies:seconds", dGoSchedLat, nil},
}

// runtimeMetrics reads the Go runtime's pause and scheduling-latency
// histograms (runtime/metrics, from any goroutine) and exports them in the
// poll gaps' power-of-two buckets, so that a worker's longest gaps and the
// runtime's pauses read side by side.
func (m *metrics) runtimeMetrics() {
	samples := make([]rtmetrics.Sample, len(runtimeHists))
	for i, h := range runtimeHists {
		samples[i].Name = h.name
	}
	rtmetrics.Read(samples)
	for i, h := range runtimeHists {
		if samples[i].Value.Kind() != rtmetrics.KindFloat64Histogram {
			continue // not in this Go version
		}
		n, sum, buckets := powerOfTwo(samples[i].Value.Float64Histogram())
		*m = append(*m, prometheus.MustNewConstHistogram(h.d, n, sum, buckets, h.labels...))
	}
}

// powerOfTwo re-buckets a runtime/metrics time histogram (bucket i counts
// values in [Buckets[i], Buckets[i+1]) seconds) into cumulative counts at
// the poll gaps' bounds: each runtime bucket is counted at the smallest
// bound at or above its upper end (the runtime's bounds are powers of two
// in ns and fractions of them, so that none straddles one), and what lies
// above the last bound only in the count. The sum adds each bucket's lower
// end, as client_golang's Go collector does for histograms without an
// exact sum.
func powerOfTwo(h *rtmetrics.Float64Histogram) (n uint64, sum float64, buckets map[float64]uint64) {
	per := make([]uint64, lcore.NumGapBuckets)
	for i, c := range h.Counts {
		if c == 0 {
			continue
		}
		n += c
		if lo := h.Buckets[i]; !math.IsInf(lo, 0) {
			sum += lo * float64(c)
		}
		b := lcore.NumGapBuckets - 1
		if hi := h.Buckets[i+1]; !math.IsInf(hi, 1) {
			b = min(bucketOf(uint64(math.Round(hi*1e9))), b)
		}
		per[b] += c
	}
	buckets = make(map[float64]uint64, lcore.NumGapBuckets-1)
	var cum uint64
	for i := range lcore.NumGapBuckets - 1 {
		cum += per[i]
		buckets[lcore.GapBound(i).Seconds()] = cum
	}
	return n, sum, buckets
}

// bucketOf is the smallest i with ns <= 2^i.
func bucketOf(ns uint64) int {
	i := 0
	for i < lcore.NumGapBuckets-1 && uint64(lcore.GapBound(i)) < ns {
		i++
	}
	return i
}
