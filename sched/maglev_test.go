package sched

import (
	"net/netip"
	"slices"
	"testing"
)

// slotOwners returns the address:port owning each Maglev slot.
func slotOwners(s *Service) []netip.AddrPort {
	out := make([]netip.AddrPort, len(s.table))
	for c, i := range s.table {
		if i != noDest {
			out[c] = addrOf(s, int(i))
		}
	}
	return out
}

func manyDests(n int) []DestConf {
	ws := make([]int32, n)
	for i := range ws {
		ws[i] = 1
	}
	return dests(ws...)
}

func TestMaglevFull(t *testing.T) {
	s := mustService(t, MH, 0, manyDests(7), NewConns(1, 64), 1)
	if len(s.table) != mhSize {
		t.Fatalf("table size %d", len(s.table))
	}
	count := make([]int, 7)
	for _, i := range s.table {
		if i == noDest {
			t.Fatal("empty slot")
		}
		count[i]++
	}
	for i, n := range count {
		if n < mhSize/7-mhSize/70 || n > mhSize/7+mhSize/70 {
			t.Errorf("dest %d owns %d slots, want about %d", i, n, mhSize/7)
		}
	}
}

// TestMaglevOrderIndependent: the table is the same whatever order the
// destinations are configured in, so every node agrees.
func TestMaglevOrderIndependent(t *testing.T) {
	r := seeded(t)
	c := NewConns(1, 256)
	ds := dests(1, 2, 3, 1, 1, 4, 2, 1, 1, 5)
	ds[3].Addr = netip.MustParseAddr("2001:db8::3")
	ds[4].Port = 8080
	want := slotOwners(mustService(t, MH, 0, ds, c, 1))
	for range 5 {
		if got := slotOwners(mustService(t, MH, 0, shuffled(r, ds), c, 1)); !slices.Equal(got, want) {
			t.Fatal("table differs with the destinations in another order")
		}
	}
}

// TestMaglevRemoval: removing one of N destinations moves its own slots and fewer
// than 1% of the others' (Maglev's minimal disruption).
func TestMaglevRemoval(t *testing.T) {
	r := seeded(t)
	c := NewConns(1, 1024)
	for _, n := range []int{5, 20, 100} {
		ds := manyDests(n)
		before := slotOwners(mustService(t, MH, 0, ds, c, 1))
		gone := r.IntN(n)
		goneAddr := netip.AddrPortFrom(ds[gone].Addr, ds[gone].Port)
		after := slotOwners(mustService(t, MH, 0, slices.Delete(slices.Clone(ds), gone, gone+1), c, 1))
		moved, others := 0, 0
		for slot := range before {
			if before[slot] == goneAddr {
				if after[slot] == goneAddr {
					t.Fatalf("n=%d: removed destination still owns slot %d", n, slot)
				}
				continue
			}
			others++
			if after[slot] != before[slot] {
				moved++
			}
		}
		t.Logf("n=%d: %d of %d other slots moved (%.3f%%)", n, moved, others, 100*float64(moved)/float64(others))
		if moved*100 >= others {
			t.Errorf("n=%d: %d of %d other slots moved: not < 1%%", n, moved, others)
		}
	}
}

// refMHTurns is ip_vs_mh's weight rounding: weight/gcd, shifted right until the
// largest fits in 6 bits, at least 1 for a positive weight.
func refMHTurns(ws []int32) []int {
	var g, top int32
	for _, w := range ws {
		if w > 0 {
			g, top = gcd(g, w), max(top, w)
		}
	}
	shift := 0
	for (top/g)>>shift >= 64 {
		shift++
	}
	out := make([]int, len(ws))
	for i, w := range ws {
		if w > 0 {
			out[i] = max(int(w/g)>>shift, 1)
		}
	}
	return out
}

// TestMaglevWeights: slot shares follow the weights as ip_vs_mh rounds them, within
// 3%.
func TestMaglevWeights(t *testing.T) {
	for _, ws := range [][]int32{{1, 2, 3, 4}, {10, 10, 30}, {100, 1}, {7, 0, 7}, {1000, 10, 1}} {
		s := mustService(t, MH, 0, dests(ws...), NewConns(1, 64), 1)
		count := make([]int, len(ws))
		for _, i := range s.table {
			count[i]++
		}
		turns := refMHTurns(ws)
		sum := 0
		for _, n := range turns {
			sum += n
		}
		for i, n := range turns {
			want := float64(mhSize) * float64(n) / float64(sum)
			if got := float64(count[i]); got < want*0.97-1 || got > want*1.03+1 {
				t.Errorf("weights %v (turns %v): slots %v, dest %d want about %.0f", ws, turns, count, i, want)
			}
		}
	}
}

// TestMaglevQuiesce: a destination quiesced with its LastWeight keeps its slots,
// so no other key moves; its own keys get nothing, or with mh-fallback another
// destination. Without LastWeight (added with weight 0) it owns no slot.
func TestMaglevQuiesce(t *testing.T) {
	c := NewConns(1, 64)
	ds := dests(2, 2, 2)
	live := mustService(t, MH, 0, ds, c, 1)
	ds[1].Weight, ds[1].LastWeight = 0, 2
	q := mustService(t, MH, 0, ds, c, 1)
	qf := mustService(t, MH, MHFallback, ds, c, 1)
	if !slices.Equal(live.table, q.table) {
		t.Fatal("quiescing changed the table")
	}
	for n := range 3000 {
		key := client(n, 0)
		was := live.Pick(0, key)
		got, fb := q.Pick(0, key), qf.Pick(0, key)
		if was == 1 {
			if got != -1 || fb < 0 || fb == 1 {
				t.Fatalf("key %d of the quiesced destination: %d, fallback %d", n, got, fb)
			}
		} else if got != was || fb != was {
			t.Fatalf("key %d moved from %d to %d / %d", n, was, got, fb)
		}
	}
	ds[1].LastWeight = 0
	s := mustService(t, MH, 0, ds, c, 1)
	if slices.Contains(s.table, 1) {
		t.Error("a destination without weight or last weight owns slots")
	}
}

// TestMaglevPort: with mh-port one client's ports spread; without they do not.
func TestMaglevPort(t *testing.T) {
	c := NewConns(1, 64)
	ds := dests(1, 1, 1, 1)
	plain := mustService(t, MH, 0, ds, c, 1)
	port := mustService(t, MH, MHPort, ds, c, 1)
	a, b := map[int]bool{}, map[int]bool{}
	for p := range 200 {
		key := client(3, uint16(p))
		a[plain.Pick(0, key)] = true
		b[port.Pick(0, key)] = true
	}
	if len(a) != 1 || len(b) != 4 {
		t.Errorf("destinations reached: without mh-port %d, with %d", len(a), len(b))
	}
}

// TestMaglevFallbackNone: fallback with no available destination returns -1
// without walking the table forever.
func TestMaglevFallbackNone(t *testing.T) {
	c := NewConns(1, 64)
	ds := dests(1, 1)
	for i := range ds {
		ds[i].UThresh = 1
		c.Add(0, ds[i].ID, 1, 0)
	}
	s := mustService(t, MH, MHFallback, ds, c, 1)
	if i := s.Pick(0, client(1, 1)); i != -1 {
		t.Errorf("picked %d", i)
	}
}
