package main

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestTarget(t *testing.T) {
	for _, c := range []struct {
		kind, text string
		want       float64
		ok         bool
	}{
		{throughput, "≥ 0.80 of testpmd", 0.80, true},
		{throughput, "≥ 0.50 of testpmd", 0.50, true},
		{throughput, noTarget, 0, false},
		{newSessions, "≥ 2.0 M/s", 2e6, true},
		{memory, "≥ 10 M sessions, ≤ 128 B each", 128, true},
		{memory, "≥ 10 M sessions", 0, false},
		{throughput, "≥ 2.0 M/s", 0, false},
		{newSessions, "≥ fast M/s", 0, false},
		{stress, "≥ 0.95 of the same without stress", 0.95, true},
		{"other", "≥ 1 of testpmd", 0, false},
	} {
		r := result{Kind: c.kind, Target: c.text}
		if got, ok := r.target(); ok != c.ok || got != c.want {
			t.Errorf("%s %q: %v %v, want %v %v", c.kind, c.text, got, ok, c.want, c.ok)
		}
	}
}

// TestPerSession: the last point of a fill's line is the run's figure, and
// a table resident from the start draws a flat line.
func TestPerSession(t *testing.T) {
	ru := &run{Sessions: 16 << 20, BaseRSSBytes: 38834176, BytesPerSessionTotal: 126.862548828125, Samples: []sample{
		{Sessions: 86336, RSS: 2167083008}, {Sessions: 8 << 20, RSS: 2167150000}, {Sessions: 16 << 20, RSS: 2167234560}}}
	pts := perSession(ru)
	if len(pts) != 3 || pts[2].X != 16.777216 || math.Abs(pts[2].Y-ru.BytesPerSessionTotal) > 1e-9 {
		t.Fatalf("%v", pts)
	}
	if pts[2].Y-pts[0].Y > 0.01 {
		t.Errorf("not flat: %v", pts)
	}
	if perSession(&run{Samples: ru.Samples}) != nil {
		t.Error("a run without sessions drew a line")
	}
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	rep := &report{Results: []result{
		{Scenario: "udp-1k", Kind: throughput, Target: "≥ 0.80 of testpmd", Testpmd: summary{10, 9, 11}, GW: summary{8.5, 8, 9}, Ratio: summary{0.85, 0.8, 0.9}},
		{Scenario: "udp-1m", Kind: throughput, Target: "≥ 0.50 of testpmd", Testpmd: summary{4, 3, 5}, GW: summary{2, 1.5, 2.5}, Ratio: summary{0.5, 0.4, 0.6},
			Refs: []ref{{Impl: "testpmd-5tswap", Mpps: summary{3, 2.5, 3.5}}, {Impl: "cref", Mpps: summary{2.5, 2.5, 2.5}}}},
		{Scenario: "mixed-1k", Kind: throughput, Target: noTarget, Testpmd: summary{9, 9, 9}, GW: summary{4, 4, 4}, Ratio: summary{0.44, 0.44, 0.44}},
		{Scenario: "syn-1m", Kind: newSessions, Target: "≥ 2.0 M/s", runs: []*run{{Rep: 1, SessionsPerSec: 1e6,
			Samples: []sample{{T: 0.1, Created: 1000}, {T: 0.5, Created: 400000}, {T: 1.1, Created: 1 << 20}}}}},
		{Scenario: "fill", Kind: memory, Target: "≥ 10 M sessions, ≤ 128 B each", runs: []*run{{Rep: 1, Sessions: 16e6, BaseRSSBytes: 64 << 20,
			BytesPerSessionTotal: 190, Samples: []sample{{Sessions: 1000, RSS: 100 << 20}, {Sessions: 8e6, RSS: 1600 << 20}, {Sessions: 16e6, RSS: 3100 << 20}}}}},
	}}
	files, err := write(rep, dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"pps.png", "new-sessions.png", "sessions-memory.png"}
	if !slices.Equal(files, want) {
		t.Fatalf("charts %v, want %v", files, want)
	}
	for _, c := range files {
		if st, err := os.Stat(filepath.Join(dir, c)); err != nil || st.Size() < 1000 {
			t.Errorf("%s: %v", c, err)
		}
	}
	// Nothing to draw: no file.
	if files, err := write(&report{}, t.TempDir()); err != nil || len(files) != 0 {
		t.Errorf("empty report: %v %v", files, err)
	}
}

// TestResults draws the charts of the results directories in perf/results
// (the reference run is tracked), so that the chart reads what the runner
// writes: summaries with nulls, the runs they list, every target's text.
func TestResults(t *testing.T) {
	dirs, _ := filepath.Glob("../results/*/summary.json")
	if len(dirs) == 0 {
		t.Skip("no results in ../results")
	}
	for _, f := range dirs {
		dir := filepath.Dir(f)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			rep, err := load(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rep.Results {
				if _, ok := r.target(); !ok && r.Target != noTarget {
					t.Errorf("%s: target %q not understood", r.Scenario, r.Target)
				}
				if len(r.runs) != len(r.Runs) {
					t.Errorf("%s: %d of %d runs read", r.Scenario, len(r.runs), len(r.Runs))
				}
			}
			if _, err := write(rep, t.TempDir()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSummaryNull(t *testing.T) {
	var s summary
	if err := s.UnmarshalJSON([]byte(`{"median": null, "min": 1, "max": 2, "n": 1}`)); err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(s.Median) || s.Min != 1 || s.Max != 2 {
		t.Fatalf("%+v", s)
	}
}
