package sched

import (
	"slices"
	"testing"
)

func TestRR(t *testing.T) {
	c := NewConns(3, 64)
	s := mustService(t, RR, 0, dests(1, 0, 5, 1, 0), c, 3)
	// Core 0 starts at the head; quiescent destinations 1 and 4 are skipped.
	var got []int
	for range 7 {
		got = append(got, s.Pick(0, Key{}))
	}
	if want := []int{0, 2, 3, 0, 2, 3, 0}; !slices.Equal(got, want) {
		t.Errorf("core 0: %v, want %v", got, want)
	}
	// Core 1 starts at destination 1 (quiescent: so 2); core 2 at 2.
	if i := s.Pick(1, Key{}); i != 2 {
		t.Errorf("core 1 first pick %d, want 2", i)
	}
	if i := s.Pick(2, Key{}); i != 2 {
		t.Errorf("core 2 first pick %d, want 2", i)
	}
	// Cores do not disturb each other's cursor.
	if i := s.Pick(0, Key{}); i != 2 {
		t.Errorf("core 0 after other cores: %d, want 2", i)
	}
}

// TestRRShares: over the available destinations rr is exactly even, whatever the
// weights.
func TestRRShares(t *testing.T) {
	r := seeded(t)
	for range 50 {
		n := 1 + r.IntN(9)
		ws := make([]int32, n)
		avail := 0
		for i := range ws {
			ws[i] = r.Int32N(4)
			if ws[i] > 0 {
				avail++
			}
		}
		s := mustService(t, RR, 0, dests(ws...), NewConns(1, 64), 1)
		count := make([]int, n)
		for range avail * 100 {
			if i := s.Pick(0, Key{}); i >= 0 {
				count[i]++
			}
		}
		for i, w := range ws {
			if want := map[bool]int{true: 100, false: 0}[w > 0]; count[i] != want {
				t.Fatalf("weights %v: counts %v", ws, count)
			}
		}
	}
}

func TestWRRInterleaved(t *testing.T) {
	s := mustService(t, WRR, 0, dests(4, 3, 2), NewConns(1, 64), 1)
	var got []int
	for range 18 {
		got = append(got, s.Pick(0, Key{}))
	}
	// a a b a b c a b c, twice: interleaved, not aaaa bbb cc.
	want := []int{0, 0, 1, 0, 1, 2, 0, 1, 2, 0, 0, 1, 0, 1, 2, 0, 1, 2}
	if !slices.Equal(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

// TestWRRMatchesReference compares wrr with the LVS definition on random weights,
// including zero weights and weights with a common divisor, over three cycles.
func TestWRRMatchesReference(t *testing.T) {
	r := seeded(t)
	for trial := range 300 {
		n := 1 + r.IntN(8)
		ws := make([]int32, n)
		mul := int32(1 + r.IntN(4))
		for i := range ws {
			ws[i] = r.Int32N(7) * mul
		}
		cycle := refWRRCycle(ws)
		s := mustService(t, WRR, 0, dests(ws...), NewConns(1, 64), 1)
		if len(cycle) == 0 {
			if i := s.Pick(0, Key{}); i != -1 {
				t.Fatalf("weights %v: picked %d", ws, i)
			}
			continue
		}
		for p := range 3 * len(cycle) {
			if got, want := s.Pick(0, Key{}), cycle[p%len(cycle)]; got != want {
				t.Fatalf("trial %d weights %v: pick %d = %d, want %d (cycle %v)", trial, ws, p, got, want, cycle)
			}
		}
	}
}

// TestWRRShares: 10 000 picks split exactly by weight, and no destination gets a
// run longer than the interleaving allows.
func TestWRRShares(t *testing.T) {
	ws := []int32{5, 3, 2, 0} // cycle of 10 picks
	s := mustService(t, WRR, 0, dests(ws...), NewConns(1, 64), 1)
	count := make([]int, len(ws))
	run, longest, last := 0, 0, -1
	for range 10000 {
		i := s.Pick(0, Key{})
		count[i]++
		if i == last {
			run++
		} else {
			run, last = 1, i
		}
		longest = max(longest, run)
	}
	if want := []int{5000, 3000, 2000, 0}; !slices.Equal(count, want) {
		t.Errorf("counts %v, want %v", count, want)
	}
	// The cycle is a a a b a b c a b c: the heaviest runs 3 at most.
	if longest > 3 {
		t.Errorf("longest run %d: bursts, not interleaving", longest)
	}
}

// TestWRRUnavailable: an overloaded destination is skipped and the others keep
// their ratio; when it recovers it rejoins.
func TestWRRUnavailable(t *testing.T) {
	c := NewConns(1, 64)
	ds := dests(6, 3, 1)
	ds[0].UThresh = 1
	s := mustService(t, WRR, 0, ds, c, 1)
	c.Add(0, ds[0].ID, 1, 0) // destination 0 at its threshold
	count := make([]int, 3)
	for range 400 {
		count[s.Pick(0, Key{})]++
	}
	if count[0] != 0 || count[1] != 300 || count[2] != 100 {
		t.Errorf("counts %v, want [0 300 100]", count)
	}
	c.Add(0, ds[0].ID, -1, 0)
	clear(count)
	for range 1000 {
		count[s.Pick(0, Key{})]++
	}
	if count[0] < 590 || count[0] > 610 {
		t.Errorf("after recovery counts %v, want about [600 300 100]", count)
	}
}

// TestRRSharesOverCores: rr and wrr keep one cursor per core, as LVS keeps
// one per service. Over N cores each core walks its own cycle, so however
// RSS spreads the picks, each destination's total is its exact share up to
// one unfinished cycle per core: wrr 3:1 over 4 cores, 4001 picks at random,
// gives the weight-3 destination 3000 ± 4·3 (a cycle is a a a b).
func TestRRSharesOverCores(t *testing.T) {
	r := seeded(t)
	const ncores, n = 4, 4001
	for _, tt := range []struct {
		kind Kind
		want float64 // share of the first destination
		tol  int     // one cycle's worth per core
	}{{RR, 0.5, ncores}, {WRR, 0.75, 3 * ncores}} {
		c := NewConns(ncores, 64)
		s := mustService(t, tt.kind, 0, dests(3, 1), c, ncores)
		count := make([]int, 2)
		for range n {
			count[s.Pick(r.IntN(ncores), Key{})]++
		}
		if d := count[0] - int(tt.want*n); d < -tt.tol || d > tt.tol {
			t.Errorf("%s over %d cores: %v, want %.0f ± %d on the first", tt.kind, ncores, count, tt.want*n, tt.tol)
		}
	}
}
