package ctl

import (
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestGapQuantile holds the histogram's percentiles to the simple
// reference, on seeded random gaps: the bound of the smallest
// power-of-two bucket holding the q-quantile of the sorted gaps, never
// above the maximum, never below the true quantile.
func TestGapQuantile(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	bound := func(d uint64) uint64 { // the smallest power of two >= d
		b := uint64(1)
		for b < d {
			b <<= 1
		}
		return b
	}
	for round := range 200 {
		n := 1 + rng.IntN(30000)
		gaps := make([]uint64, n)
		byBound := map[uint64]uint64{}
		for i := range gaps {
			gaps[i] = 1 + rng.Uint64N(1<<uint(1+rng.IntN(20)))
			byBound[bound(gaps[i])]++
		}
		var buckets []GapBucket
		for _, b := range slices.Sorted(maps.Keys(byBound)) {
			buckets = append(buckets, GapBucket{LeNs: b, Count: byBound[b]})
		}
		slices.Sort(gaps)
		g := NewGapStatus(buckets, gaps[n-1])
		if g.Turns != uint64(n) || g.MaxNs != gaps[n-1] {
			t.Fatalf("round %d: %d turns, max %d; want %d, %d", round, g.Turns, g.MaxNs, n, gaps[n-1])
		}
		for _, q := range []float64{0.5, 0.999, 0.9999, 1} {
			rank := int(float64(n)*q + 0.9999999)
			exact := gaps[max(rank, 1)-1]
			want := min(bound(exact), gaps[n-1])
			if got := g.Quantile(q); got != want || got < exact {
				t.Fatalf("round %d, %d gaps: quantile %v = %d, want %d (exact %d)", round, n, q, got, want, exact)
			}
		}
	}
	if g := NewGapStatus(nil, 0); g.Turns != 0 || g.P9999Ns != 0 || g.Buckets == nil {
		t.Errorf("no gaps: %+v", g)
	}
	open := NewGapStatus([]GapBucket{{LeNs: 1024, Count: 9999}, {LeNs: 0, Count: 1}}, 1<<40)
	if open.P999Ns != 1024 || open.P9999Ns != 1024 || open.Quantile(1) != 1<<40 {
		t.Errorf("the last, open bucket: %+v, quantile(1) %d", open, open.Quantile(1))
	}
	g := NewGapStatus([]GapBucket{{LeNs: 2048, Count: 9990}, {LeNs: 4096, Count: 9}, {LeNs: 65536, Count: 1}}, 40000)
	if got, want := g.String(), "poll gaps: max 40µs, p99.9 ≤ 2.048µs, p99.99 ≤ 4.096µs over 10000 turns"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

// TestParseStats: gw stats takes --json, or --reset-gaps alone, and both
// render back to what parses to the same command.
func TestParseStats(t *testing.T) {
	for _, c := range []struct {
		line string
		want Op
		json bool
	}{
		{"stats", OpStats, false},
		{"stats --json", OpStats, true},
		{"stats --reset-gaps", OpResetGaps, false},
	} {
		cmd, err := ParseCommandLine(strings.Fields(c.line))
		if err != nil || cmd.Op != c.want || (cmd.List != nil && cmd.List.JSON) != c.json {
			t.Errorf("%q: %+v %v", c.line, cmd, err)
			continue
		}
		again, err := ParseCommandLine(cmd.Args())
		if err != nil || again.Op != cmd.Op {
			t.Errorf("%q -> %q -> %+v %v", c.line, cmd.Args(), again, err)
		}
	}
	for _, bad := range []string{"stats --reset", "stats --reset-gaps --json", "stats --json --reset-gaps", "mem --reset-gaps"} {
		if _, err := ParseCommandLine(strings.Fields(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
