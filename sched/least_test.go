package sched

import (
	"fmt"
	"testing"

	"fngw/mix"
)

// TestLeastMatchesReference: lc, wlc, sed, nq, fo and ovf pick what the reference
// picks on random weights, connection counts spread over cores and thresholds.
// Small ranges make ties frequent, so tie-breaking is checked too.
func TestLeastMatchesReference(t *testing.T) {
	r := seeded(t)
	const ncores = 4
	for _, k := range []Kind{LC, WLC, SED, NQ, FO, OVF} {
		t.Run(k.String(), func(t *testing.T) {
			for trial := range 3000 {
				c := NewConns(ncores, 64)
				n := 1 + r.IntN(8)
				ds := dests(randomWeights(r, n)...)
				act, inact := make([]int64, n), make([]int64, n)
				for i := range ds {
					if r.IntN(5) == 0 {
						ds[i].UThresh = 1 + r.Uint32N(6)
					}
					act[i], inact[i] = int64(r.IntN(4)), int64(r.IntN(4))
					if r.IntN(10) == 0 {
						act[i] = int64(r.IntN(1 << 20))
					}
					setConns(r, c, ds[i].ID, int32(act[i]), int32(inact[i]))
				}
				var want int
				switch k {
				case FO:
					want = refFO(ds, act, inact)
				case OVF:
					want = refOVF(ds, act, inact)
				default:
					want = refLeast(k, ds, act, inact)
				}
				s := mustService(t, k, 0, ds, c, ncores)
				if got := s.Pick(r.IntN(ncores), Key{}); got != want {
					t.Fatalf("trial %d: %v active %v inactive %v: picked %d, want %d", trial, ds, act, inact, got, want)
				}
			}
		})
	}
}

// TestLeastTies pins LVS's tie-breaking and formulas on small cases.
func TestLeastTies(t *testing.T) {
	tests := []struct {
		kind      Kind
		weights   []int32
		act, inac []int32
		want      int
	}{
		{LC, []int32{1, 1, 1}, []int32{1, 0, 0}, []int32{0, 3, 3}, 1},          // 256 vs 3 vs 3: first of the ties
		{LC, []int32{9, 1}, []int32{1, 1}, []int32{0, 0}, 0},                   // lc ignores weights
		{LC, []int32{1, 1}, []int32{0, 1}, []int32{300, 0}, 1},                 // 300 > 256: inactive counts 1/256
		{WLC, []int32{1, 2}, []int32{1, 2}, []int32{0, 0}, 0},                  // 256/1 = 512/2: first
		{WLC, []int32{1, 3}, []int32{1, 2}, []int32{0, 0}, 1},                  // 256/1 > 512/3
		{SED, []int32{1, 2}, []int32{0, 1}, []int32{0, 0}, 0},                  // 1/1 = 2/2: first
		{SED, []int32{1, 2}, []int32{0, 1}, []int32{0, 500}, 0},                // inactive does not count
		{SED, []int32{1, 3}, []int32{0, 1}, []int32{0, 0}, 1},                  // 1/1 > 2/3
		{NQ, []int32{1, 100}, []int32{1, 0}, []int32{0, 0}, 1},                 // the idle one
		{NQ, []int32{1, 100, 5}, []int32{3, 1, 0}, []int32{0, 0, 0}, 2},        // idle wins over a faster one
		{NQ, []int32{0, 1, 1}, []int32{0, 0, 0}, []int32{0, 0, 0}, 1},          // quiescent idle does not count
		{FO, []int32{3, 5, 5, 1}, []int32{9, 9, 9, 9}, []int32{0, 0, 0, 0}, 1}, // highest weight, first
		{OVF, []int32{3, 5, 5}, []int32{0, 6, 5}, []int32{0, 0, 0}, 2},         // 6 > 5 overflowed; 5 <= 5 not yet
		{OVF, []int32{3, 5}, []int32{3, 6}, []int32{0, 0}, 0},
		{OVF, []int32{3, 5}, []int32{4, 6}, []int32{0, 0}, -1},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s%v%v%v", tt.kind, tt.weights, tt.act, tt.inac), func(t *testing.T) {
			c := NewConns(2, 64)
			ds := dests(tt.weights...)
			for i := range ds {
				c.Add(i%2, ds[i].ID, tt.act[i], tt.inac[i])
			}
			s := mustService(t, tt.kind, 0, ds, c, 2)
			if got := s.Pick(1, Key{}); got != tt.want {
				t.Errorf("picked %d, want %d", got, tt.want)
			}
		})
	}
}

// TestWLCConverges: picking and counting each new connection, wlc keeps the
// active connections proportional to the weights.
func TestWLCConverges(t *testing.T) {
	c := NewConns(2, 64)
	ds := dests(1, 2, 5)
	s := mustService(t, WLC, 0, ds, c, 2)
	for n := range 800 {
		i := s.Pick(n%2, Key{})
		c.Add(n%2, ds[i].ID, 1, 0)
	}
	for i, want := range []int32{100, 200, 500} {
		if a, _ := c.Sum(ds[i].ID); a != want {
			t.Errorf("dest %d: %d active, want %d", i, a, want)
		}
	}
}

// TestTWOSMatchesReference: twos picks what LVS's twos picks with the same two
// random numbers, on random weights, counts and thresholds. The test replays
// the core's random sequence: seed 1 (mustService), core c starts at
// mix.Uint64(1+c) and each pick draws mix.Uint64 of the next value, r1 its
// high half, r2 its low half.
func TestTWOSMatchesReference(t *testing.T) {
	r := seeded(t)
	const ncores = 3
	for trial := range 3000 {
		c := NewConns(ncores, 64)
		n := 1 + r.IntN(6)
		ds := dests(randomWeights(r, n)...)
		act, inact := make([]int64, n), make([]int64, n)
		picks := 4
		for i := range ds {
			if r.IntN(5) == 0 {
				// A pick may flag the destination it binds as overloaded
				// (thresholds count the connection being made): one
				// pick per service, so the reference sees the same flags.
				ds[i].UThresh, picks = 1+r.Uint32N(6), 1
			}
			act[i], inact[i] = int64(r.IntN(4)), int64(r.IntN(4))
			setConns(r, c, ds[i].ID, int32(act[i]), int32(inact[i]))
		}
		s := mustService(t, TWOS, 0, ds, c, ncores)
		core := r.IntN(ncores)
		rnd := mix.Uint64(1 + uint64(core))
		for pick := range picks {
			rnd++
			x := mix.Uint64(rnd)
			want := refTWOS(ds, act, inact, uint32(x>>32), uint32(x))
			if got := s.Pick(core, Key{}); got != want {
				t.Fatalf("trial %d pick %d: %v active %v inactive %v: picked %d, want %d", trial, pick, ds, act, inact, got, want)
			}
		}
	}
}

// TestTWOSShares: with no connections the first draw always wins, so the
// shares are LVS's weighted draw: weights 3, 1 give 4/5 and 1/5 (the first
// available destination has one chance more than its weight); counting each
// pick as a connection, the pick of lower load among two balances the
// connections by weight: 3:1 within 1%.
func TestTWOSShares(t *testing.T) {
	c := NewConns(1, 64)
	ds := dests(3, 1)
	s := mustService(t, TWOS, 0, ds, c, 1)
	count := make([]int, 2)
	const n = 50000
	for range n {
		count[s.Pick(0, Key{})]++
	}
	// Binomial(50000, 0.8): sd 89; 5 sd is 450.
	if count[0] < 40000-450 || count[0] > 40000+450 {
		t.Errorf("idle picks %v, want about 40000:10000", count)
	}
	for range 4000 {
		c.Add(0, ds[s.Pick(0, Key{})].ID, 1, 0)
	}
	a0, _ := c.Sum(ds[0].ID)
	if a0 < 2970 || a0 > 3030 {
		t.Errorf("4000 connections counted: %d on weight 3, want 3000 ± 30", a0)
	}
}
