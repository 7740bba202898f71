package lcore

import (
	"math/bits"
	"time"
)

// NumGapBuckets is the number of buckets of a worker's poll-gap histogram.
// Bucket i < NumGapBuckets-1 counts the gaps of more than 2^(i-1) ns and at
// most 2^i ns (GapBound(i)); bucket 0 the gaps of at most 1 ns; the last
// one every gap above 2^(NumGapBuckets-2) ns (17 s).
const NumGapBuckets = 36

// GapBound is the inclusive upper bound of gap bucket i (i <
// NumGapBuckets-1; the last bucket has none).
func GapBound(i int) time.Duration { return time.Duration(1) << i }

// gapBucket is the bucket of a gap of d ns: the smallest i with d <= 2^i.
func gapBucket(d uint64) int {
	return min(bits.Len64(max(d, 1)-1), NumGapBuckets-1)
}

// gap counts one gap of d ns between the starts of two consecutive turns.
// Only the worker calls it: plain loads and stores, one bucket and the
// maximum per turn.
func (c *counters) gap(d uint64) {
	c.gaps[gapBucket(d)].add(1)
	if d > c.gapMax.get() {
		c.gapMax.set(d)
	}
}

// resetGaps starts the gaps since the reset again: the buckets' current
// counts become the base the control plane subtracts (the buckets
// themselves keep counting, for the metrics), and the maximum is zeroed.
// Only the worker calls it (Worker.ResetGaps runs it on its thread).
func (c *counters) resetGaps() {
	for i := range c.gaps {
		c.gapBase[i].set(c.gaps[i].get())
	}
	c.gapMax.set(0)
}

// ResetGaps restarts the worker's gaps since the reset (Stats' GapsSince
// and GapMax) on the worker's own thread, after its next turn, so that no
// other thread writes its counters. It reports false when the worker did
// not take the job within timeout (a stopped worker). The same rule as Exec
// applies: calls must not overlap.
func (w *Worker) ResetGaps(timeout time.Duration) bool {
	return w.Exec(func(int64) bool { w.cnt.resetGaps(); return true }, timeout)
}
