package lcore

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"fngw/test/harness"
)

// TestGapBucket: a gap falls in the one bucket whose bounds hold it, the
// upper bound included, and gaps beyond the last bound in the last bucket.
func TestGapBucket(t *testing.T) {
	for _, c := range []struct {
		d    uint64
		want int
	}{
		{0, 0}, {1, 0}, {2, 1}, {3, 2}, {4, 2}, {5, 3}, {1024, 10}, {1025, 11},
		{1 << 34, 34}, {1<<34 + 1, NumGapBuckets - 1}, {1 << 63, NumGapBuckets - 1},
	} {
		if got := gapBucket(c.d); got != c.want {
			t.Errorf("gapBucket(%d) = %d, want %d", c.d, got, c.want)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		d := rng.Uint64N(1 << 36)
		i := gapBucket(d)
		if i < NumGapBuckets-1 && uint64(GapBound(i)) < d || i > 0 && uint64(GapBound(i-1)) >= d {
			t.Fatalf("gap %d ns in bucket %d, (%d, %d]", d, i, GapBound(i-1), GapBound(i))
		}
	}
}

// TestPollGaps: the running loop counts the gap between the starts of
// consecutive turns (here at least its 2 ms idle sleep each); a job that
// holds a turn for 500 ms shows as a gap that long; ResetGaps starts the
// gaps since the reset and their maximum again while the cumulative
// histogram keeps the stall.
func TestPollGaps(t *testing.T) {
	r := newRig(t)
	r.w.cfg.IdlePolls, r.w.cfg.IdleSleep = 1, 2*time.Millisecond
	done := make(chan error)
	go func() { done <- r.w.Run() }()
	defer func() {
		r.w.Stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	sum := func(b [NumGapBuckets]uint64) (n uint64) {
		for _, v := range b {
			n += v
		}
		return n
	}
	harness.Eventually(t, 5*time.Second, "ten gaps counted", func() error {
		if n := sum(r.w.Stats().Gaps); n < 10 {
			return fmt.Errorf("%d gaps", n)
		}
		return nil
	})
	s := r.w.Stats()
	for i, n := range s.Gaps {
		if n > 0 && GapBound(i) < 2*time.Millisecond {
			t.Errorf("%d gaps of at most %v, with a 2ms sleep every turn", n, GapBound(i))
		}
	}
	if s.GapsSince != s.Gaps || s.GapMax < uint64(2*time.Millisecond) {
		t.Errorf("before any reset: since %v, all %v, max %v", s.GapsSince, s.Gaps, time.Duration(s.GapMax))
	}

	const stall = 500 * time.Millisecond
	stalled := gapBucket(uint64(stall))
	if !r.w.Exec(func(int64) bool { time.Sleep(stall); return true }, time.Second) {
		t.Fatal("the worker did not take the job")
	}
	harness.Eventually(t, 5*time.Second, "the stall counted", func() error {
		if s := r.w.Stats(); s.GapMax < uint64(stall) || s.GapsSince[stalled]+s.GapsSince[stalled+1] == 0 {
			return fmt.Errorf("max %v, since the start %v", time.Duration(s.GapMax), s.GapsSince)
		}
		return nil
	})
	before := r.w.Stats()
	if !r.w.ResetGaps(time.Second) {
		t.Fatal("ResetGaps: the worker did not take the job")
	}
	after := r.w.Stats()
	if after.GapMax >= uint64(stall) || after.GapsSince[stalled]+after.GapsSince[stalled+1] != 0 {
		t.Errorf("after the reset: max %v, since %v", time.Duration(after.GapMax), after.GapsSince)
	}
	if sum(after.GapsSince) > sum(after.Gaps)-sum(before.Gaps)+1 {
		t.Errorf("after the reset: %d gaps since, %d counted since the reading before it", sum(after.GapsSince), sum(after.Gaps)-sum(before.Gaps))
	}
	if after.Gaps[stalled]+after.Gaps[stalled+1] == 0 {
		t.Error("the reset cleared the cumulative histogram (the metrics' counters)")
	}
}
