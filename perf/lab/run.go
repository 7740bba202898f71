package lab

import (
	"math"
	"time"
)

// Run is one measurement of one implementation (testpmd or gw) in one
// scenario: what is written as JSON per run under perf/results.
type Run struct {
	Scenario string    `json:"scenario"`
	Impl     string    `json:"impl"` // "testpmd" or "gw"
	Rep      int       `json:"rep"`
	Attempt  int       `json:"attempt"` // > 1 when earlier attempts were noisy
	Start    time.Time `json:"start"`
	StartupS float64   `json:"startup_s"` // process start to ready

	// Machine load: the 1-minute load average before the run, and the CPU
	// time (in cores) that others and the hypervisor took during the window.
	Load1    float64 `json:"load1_before"`
	OtherCPU float64 `json:"other_cpu_cores"`
	Steal    float64 `json:"steal_cores"`
	Noisy    bool    `json:"noisy"`

	// Throughput over the window (port counters).
	WindowS float64 `json:"window_s,omitempty"`
	RxPkts  uint64  `json:"rx_packets,omitempty"`
	TxPkts  uint64  `json:"tx_packets,omitempty"`
	Imissed uint64  `json:"imissed,omitempty"`
	RxPPS   float64 `json:"rx_pps,omitempty"`
	TxPPS   float64 `json:"tx_pps,omitempty"`
	OwnPPS  float64 `json:"testpmd_rx_pps,omitempty"` // testpmd's own Rx-pps over the same window

	// Gateway figures.
	Utilisation float64           `json:"utilisation,omitempty"` // worker loop busy share in the window
	Drops       map[string]uint64 `json:"drops,omitempty"`       // drops by reason in the window
	Sessions    uint64            `json:"sessions,omitempty"`
	Created     uint64            `json:"sessions_created,omitempty"`

	// New sessions: the creation rate of the first pass.
	SessionsPerSec float64 `json:"sessions_per_s,omitempty"`
	// Memory: resident bytes per session, marginal (slope while filling) and
	// whole (RSS at the end minus a gateway with a 1 024-session table).
	BytesPerSession      float64 `json:"bytes_per_session_marginal,omitempty"`
	BytesPerSessionTotal float64 `json:"bytes_per_session_total,omitempty"`
	RSSBytes             int64   `json:"rss_bytes,omitempty"`
	BaseRSSBytes         int64   `json:"base_rss_bytes,omitempty"`

	// Stress scenarios' gw runs: the control plane's load in the window
	// (nil: none, the baseline), the worker's poll gaps (gw stats, reset at
	// the window's start) and the Go runtime's GC pauses over the window
	// (fngw_go_pause_seconds{pause="total",cause="gc"}, two scrapes).
	Load         *StressLoad `json:"stress_load,omitempty"`
	GapTurns     uint64      `json:"gap_turns,omitempty"`
	GapMaxS      float64     `json:"gap_max_s,omitempty"`
	GapP999      *Quantile   `json:"gap_p99_9_s,omitempty"`
	GapP9999     *Quantile   `json:"gap_p99_99_s,omitempty"`
	GCPauses     uint64      `json:"gc_pauses,omitempty"`
	GCPauseP99   *Quantile   `json:"gc_pause_p99_s,omitempty"`
	GCPauseMaxLe float64     `json:"gc_pause_max_bucket_s,omitempty"` // upper bound of the longest pause's bucket
	GCStopP99    *Quantile   `json:"gc_stopping_p99_s,omitempty"`     // of the pauses' stopping phase
	// WorkerRunShare and WorkerWaitShare are the shares of the window the
	// worker's thread ran, and waited on its CPU's run queue (/proc
	// schedstat: the OS running another thread there); the rest it slept,
	// parked by the Go runtime (a stop of the world, its goroutine
	// preempted and waiting for the Go scheduler).
	WorkerRunShare  float64 `json:"worker_run_share,omitempty"`
	WorkerWaitShare float64 `json:"worker_wait_share,omitempty"`
	// The Go scheduler's latencies over the window (runnable to running,
	// fngw_go_sched_latency_seconds): p99.99, and the bound of the
	// longest's bucket.
	SchedLatP9999 *Quantile `json:"sched_latency_p99_99_s,omitempty"`
	SchedLatMaxLe float64   `json:"sched_latency_max_bucket_s,omitempty"`

	Samples []Sample `json:"samples,omitempty"`
	Notes   []string `json:"notes,omitempty"`
}

// Sample is one reading of the gateway's counters during a run.
type Sample struct {
	T        float64 `json:"t"` // seconds since the gateway answered
	Rx       uint64  `json:"rx"`
	Tx       uint64  `json:"tx"`
	Sessions uint64  `json:"sessions"`
	Created  uint64  `json:"created"`
	RSS      int64   `json:"rss"`
}

// fill sets the window's counters, rates and noise.
func (r *Run) fill(c0, c1 cpuSnap, rx, tx, missed uint64) {
	d := c1.at.Sub(c0.at).Seconds()
	r.WindowS = d
	r.RxPkts, r.TxPkts, r.Imissed = rx, tx, missed
	r.RxPPS, r.TxPPS = float64(rx)/d, float64(tx)/d
	r.OtherCPU, r.Steal = noise(c0, c1)
}

// clean replaces figures that could not be computed (NaN) by zero, with a
// note, so that the run encodes as JSON.
func (r *Run) clean() {
	for _, f := range []struct {
		name string
		v    *float64
	}{{"sessions_per_s", &r.SessionsPerSec}, {"rx_pps", &r.RxPPS}, {"bytes_per_session_marginal", &r.BytesPerSession},
		{"bytes_per_session_total", &r.BytesPerSessionTotal}} {
		if math.IsNaN(*f.v) || math.IsInf(*f.v, 0) {
			*f.v = 0
			r.Notes = append(r.Notes, f.name+" could not be computed (too few samples)")
		}
	}
}
