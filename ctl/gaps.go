package ctl

import (
	"fmt"
	"math"
	"time"
)

// GapStatus is one worker's poll gaps in `gw stats`: the time between the
// starts of two consecutive turns of its loop, since the last `gw stats
// --reset-gaps` (or the start). A worker that polls turns every few
// microseconds; a long gap is a stall (the Go runtime stopping the thread,
// a control-plane job holding a turn, the OS scheduling something else on
// the core), during which its rx queues fill.
type GapStatus struct {
	Turns uint64 `json:"turns"`  // gaps counted
	MaxNs uint64 `json:"max_ns"` // the longest, exactly
	// The 99.9th and 99.99th percentiles, as upper bounds: the bound of
	// the power-of-two bucket that holds them, or the maximum when it is
	// lower.
	P999Ns  uint64      `json:"p99_9_ns"`
	P9999Ns uint64      `json:"p99_99_ns"`
	Buckets []GapBucket `json:"buckets"` // the buckets that counted gaps, in order
}

// GapBucket is one bucket of a gap histogram: gaps longer than the
// previous bucket's bound and at most LeNs; LeNs 0 is the last bucket,
// without a bound.
type GapBucket struct {
	LeNs  uint64 `json:"le_ns"`
	Count uint64 `json:"count"`
}

// NewGapStatus makes a worker's GapStatus from its histogram since the
// reset (buckets in order, empty ones included or not) and the longest
// gap.
func NewGapStatus(buckets []GapBucket, maxNs uint64) GapStatus {
	g := GapStatus{MaxNs: maxNs, Buckets: []GapBucket{}}
	for _, b := range buckets {
		if b.Count > 0 {
			g.Buckets = append(g.Buckets, b)
			g.Turns += b.Count
		}
	}
	g.P999Ns, g.P9999Ns = g.Quantile(0.999), g.Quantile(0.9999)
	return g
}

// Quantile is an upper bound of the q-quantile of the gaps (0 < q <= 1):
// the bound of the bucket holding the ceil(q × Turns)-th shortest gap, or
// the maximum when that is lower (always for the last bucket). 0 without
// gaps.
func (g GapStatus) Quantile(q float64) uint64 {
	if g.Turns == 0 {
		return 0
	}
	rank := max(uint64(math.Ceil(q*float64(g.Turns))), 1)
	var n uint64
	for _, b := range g.Buckets {
		n += b.Count
		if n >= rank {
			if b.LeNs == 0 {
				return g.MaxNs
			}
			return min(b.LeNs, g.MaxNs)
		}
	}
	return g.MaxNs
}

// String is the gaps as `gw stats` prints them.
func (g GapStatus) String() string {
	d := func(ns uint64) time.Duration { return time.Duration(ns) }
	return fmt.Sprintf("poll gaps: max %v, p99.9 ≤ %v, p99.99 ≤ %v over %d turns", d(g.MaxNs), d(g.P999Ns), d(g.P9999Ns), g.Turns)
}
