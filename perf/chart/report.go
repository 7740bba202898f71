package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Scenario kinds (perf/lab Kind).
const (
	throughput  = "throughput"
	newSessions = "new-sessions"
	memory      = "memory"
	stress      = "stress" // no chart: its figures are in the table
)

// noTarget is the target text of a scenario without one.
const noTarget = "—"

// report is what the charts read of a run's summary.json (perf/lab Report).
type report struct {
	Results []result `json:"results"`
}

// result is one scenario's outcome (perf/lab Result).
type result struct {
	Scenario string   `json:"scenario"`
	Kind     string   `json:"kind"`
	Target   string   `json:"target"`
	Testpmd  summary  `json:"testpmd_mpps"`
	GW       summary  `json:"gw_mpps"`
	Ratio    summary  `json:"ratio"`
	Refs     []ref    `json:"refs"`
	Runs     []string `json:"runs"` // the runs' JSON files, relative to the results directory

	runs []*run // Runs, read by load
}

// ref is a yardstick's rate in a throughput scenario (perf/lab Ref).
type ref struct {
	Impl string  `json:"impl"` // testpmd-MODE or cref
	Mpps summary `json:"mpps"`
}

// run is what the charts read of one run's JSON file (perf/lab Run).
type run struct {
	Impl                 string   `json:"impl"`
	Rep                  int      `json:"rep"`
	SessionsPerSec       float64  `json:"sessions_per_s"`
	Sessions             uint64   `json:"sessions"`
	BytesPerSessionTotal float64  `json:"bytes_per_session_total"`
	BaseRSSBytes         int64    `json:"base_rss_bytes"`
	Samples              []sample `json:"samples"`
}

// sample is one reading of the gateway's counters during a run.
type sample struct {
	T        float64 `json:"t"` // seconds since the gateway answered
	Sessions uint64  `json:"sessions"`
	Created  uint64  `json:"created"`
	RSS      int64   `json:"rss"`
}

// summary is a median and range; the runner writes null (NaN here) for what
// it did not measure.
type summary struct {
	Median, Min, Max float64
}

// UnmarshalJSON reads perf/lab's Summary, null as NaN.
func (s *summary) UnmarshalJSON(b []byte) error {
	var v struct{ Median, Min, Max *float64 }
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	f := func(p *float64) float64 {
		if p == nil {
			return math.NaN()
		}
		return *p
	}
	*s = summary{Median: f(v.Median), Min: f(v.Min), Max: f(v.Max)}
	return nil
}

// load reads a results directory: summary.json and the runs it lists.
func load(dir string) (*report, error) {
	data, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		return nil, err
	}
	var rep report
	if err := json.Unmarshal(data, &rep); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	for i := range rep.Results {
		r := &rep.Results[i]
		for _, f := range r.Runs {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				return nil, err
			}
			ru := new(run)
			if err := json.Unmarshal(b, ru); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			r.runs = append(r.runs, ru)
		}
	}
	return &rep, nil
}

// target is the result's target as a number, read from the text the runner
// writes (perf/lab Scenario.TargetText): the least ratio of testpmd's rate
// ("≥ 0.80 of testpmd"), the least sessions per second ("≥ 2.0 M/s"), the
// most bytes per session ("≥ 10 M sessions, ≤ 128 B each"), or the least
// ratio of the rate alone ("≥ 0.95 of the same without stress"). ok is false for
// a scenario without a target ("—") and for any other text.
func (r *result) target() (v float64, ok bool) {
	switch r.Kind {
	case throughput:
		return bound(r.Target, "≥", "of testpmd", 1)
	case newSessions:
		return bound(r.Target, "≥", "M/s", 1e6)
	case memory:
		return bound(r.Target, "≤", "B each", 1)
	case stress:
		return bound(r.Target, "≥", "of the same without stress", 1)
	}
	return 0, false
}

// bound finds "OP NUMBER UNIT" in text and returns NUMBER × scale.
func bound(text, op, unit string, scale float64) (float64, bool) {
	_, rest, ok := strings.Cut(text, op+" ")
	if !ok {
		return 0, false
	}
	num, after, _ := strings.Cut(rest, " ")
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || !strings.HasPrefix(after, unit) {
		return 0, false
	}
	return v * scale, true
}
