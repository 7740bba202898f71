package sched

import (
	"testing"
	"time"
)

const sec = int64(time.Second)

func TestLBLC(t *testing.T) {
	c := NewConns(2, 64)
	ds := dests(1, 4, 4)
	s := mustService(t, LBLC, 0, ds, c, 2, WithLocality(16, 100*time.Second))
	pick := func(core, tgt int, now int64) int {
		t.Helper()
		i := s.PickAt(core, target(tgt), now)
		if i >= 0 {
			c.Add(core, ds[i].ID, 1, 0)
		}
		return i
	}
	// Fresh targets go where wlc says; a known target sticks to its destination
	// even when another is less loaded.
	if i := pick(0, 1, sec); i != 0 {
		t.Fatalf("target 1: %d, want 0 (wlc, first of ties)", i)
	}
	if i := pick(0, 2, sec); i != 1 {
		t.Fatalf("target 2: %d, want 1", i)
	}
	if i := pick(0, 1, 2*sec); i != 0 {
		t.Fatalf("target 1 again: %d, want its cached 0", i)
	}
	// Destination 0 now has 2 active > weight 1, and destination 2 has 0 < 4/2:
	// overloaded in lblc's sense, so target 1 moves to wlc's choice and stays.
	if i := pick(0, 1, 3*sec); i != 2 {
		t.Fatalf("target 1 from an overloaded destination: %d, want 2", i)
	}
	c.Add(0, ds[2].ID, 3, 0) // 2: 4 active; wlc would pick 1 (1 active), but target 1 is cached
	if i := pick(0, 1, 4*sec); i != 2 {
		t.Fatalf("target 1 after moving: %d, want 2", i)
	}
	// 2 is over its weight now (5 > 4), but while no destination is under half its
	// weight, it keeps its targets.
	c.Add(0, ds[1].ID, 1, 0) // 1: 2 active, not < 4/2
	if i := pick(0, 1, 5*sec); i != 2 {
		t.Fatalf("no less loaded server: %d, want 2", i)
	}
	// Tables are per core: on core 1, target 1 is new and goes where wlc says.
	act, inact := make([]int64, 3), make([]int64, 3)
	for j := range ds {
		a, in := c.Sum(ds[j].ID)
		act[j], inact[j] = int64(a), int64(in)
	}
	if i, want := pick(1, 1, 5*sec), refLeast(WLC, ds, act, inact); i != want {
		t.Fatalf("core 1: %d, want wlc's %d", i, want)
	}

	// A new snapshot quiescing destination 2 keeps the table (WithPrevious): target
	// 2 still goes to 1, target 1 is rescheduled.
	ds[2].Weight = 0
	s2 := mustService(t, LBLC, 0, ds, c, 2, WithPrevious(s), WithLocality(16, 100*time.Second))
	if i := s2.PickAt(0, target(2), 6*sec); i != 1 {
		t.Fatalf("target 2 after the snapshot change: %d, want 1", i)
	}
	if i := s2.PickAt(0, target(1), 6*sec); i == 2 || i < 0 {
		t.Fatalf("target 1 of a quiesced destination: %d", i)
	}
}

func TestLBLCExpire(t *testing.T) {
	c := NewConns(1, 64)
	ds := dests(10, 10)
	s := mustService(t, LBLC, 0, ds, c, 1, WithLocality(4, 10*time.Second))
	if i := s.PickAt(0, target(1), sec); i != 0 {
		t.Fatalf("first pick %d", i)
	}
	c.Add(0, ds[0].ID, 5, 0) // wlc would now pick 1; the entry keeps 0
	if n := s.Expire(0, 10*sec, 100); n != 0 {
		t.Fatalf("expired %d entries after 9 s unused", n)
	}
	if i := s.Pick(0, target(1)); i != 0 { // Pick uses the clock Expire set (10 s)
		t.Fatalf("cached pick %d", i)
	}
	if n := s.Expire(0, 20*sec, 100); n != 1 {
		t.Fatalf("expired %d entries after 10 s unused, want 1", n)
	}
	if i := s.PickAt(0, target(1), 21*sec); i != 1 {
		t.Fatalf("after expiry: %d, want wlc's 1", i)
	}
}

// TestLBLCFull: a full table serves new targets uncached, and replaces an entry
// idle for 6 minutes (LVS ENTRY_TIMEOUT).
func TestLBLCFull(t *testing.T) {
	c := NewConns(1, 64)
	ds := dests(1, 1)
	s := mustService(t, LBLC, 0, ds, c, 1, WithLocality(2, 24*time.Hour))
	s.PickAt(0, target(1), sec) // -> 0
	s.PickAt(0, target(2), sec) // -> 0 (no connection counted)
	c.Add(0, ds[0].ID, 1, 0)
	if i := s.PickAt(0, target(3), 2*sec); i != 1 {
		t.Fatalf("uncached target: %d, want 1", i)
	}
	c.Add(0, ds[1].ID, 2, 0)
	if i := s.PickAt(0, target(3), 3*sec); i != 0 {
		t.Fatalf("target 3 was cached in a full table: %d", i)
	}
	later := 3*sec + locEvictIdle
	if i := s.PickAt(0, target(3), later); i != 0 {
		t.Fatalf("pick %d", i)
	}
	c.Add(0, ds[0].ID, 5, 0) // now wlc prefers 1, but target 3 is cached on 0
	if i := s.PickAt(0, target(3), later+sec); i != 0 {
		t.Fatalf("target 3 should have replaced an idle entry: %d", i)
	}
}

func TestLBLCR(t *testing.T) {
	c := NewConns(1, 64)
	ds := dests(1, 4, 4)
	const expire = 100 * sec
	s := mustService(t, LBLCR, 0, ds, c, 1, WithLocality(16, time.Duration(expire)))
	tg := target(9)
	if i := s.PickAt(0, tg, sec); i != 0 {
		t.Fatalf("first: %d", i)
	}
	c.Add(0, ds[0].ID, 2, 0) // over weight 1, and 1, 2 are under half: replicate
	if i := s.PickAt(0, tg, 2*sec); i != 1 {
		t.Fatalf("replica: %d, want 1", i)
	}
	en := &s.loc[0].entries[s.loc[0].find(hashKey(tg.Dst, 0, s.loc[0].seed), ptr(tg.Dst.As16()))]
	if en.n != 2 || en.set[0] != ds[0].ID || en.set[1] != ds[1].ID {
		t.Fatalf("set %v", en.set[:en.n])
	}
	// The least loaded member serves: 1 (0/4) rather than 0 (2/1), not 2 (not a member).
	c.Add(0, ds[1].ID, 1, 0)
	if i := s.PickAt(0, tg, 3*sec); i != 1 {
		t.Fatalf("set member pick %d, want 1", i)
	}
	// Member 1 over weight too (5 > 4) while 2 is idle: the set grows to all three.
	c.Add(0, ds[1].ID, 4, 0)
	if i := s.PickAt(0, tg, 4*sec); i != 2 || en.n != 3 {
		t.Fatalf("pick %d, set %v", i, en.set[:en.n])
	}
	// Once the set has not changed for the expiry, each pick drops the most loaded
	// member (0: 2/1 = 512 per weight) — the pick itself is decided first.
	c.Add(0, ds[1].ID, -5, 0) // 1 idle again
	if i := s.PickAt(0, tg, 4*sec+expire+1); i != 1 {
		t.Fatalf("pick %d, want 1", i)
	}
	if en.n != 2 || en.has(ds[0].ID) {
		t.Fatalf("after expiry the set is %v, want 0 dropped", en.set[:en.n])
	}
	if i := s.PickAt(0, tg, 4*sec+expire+2); en.n != 2 || i != 1 {
		t.Fatalf("set shrank again before another expiry: %v", en.set[:en.n])
	}
	// A member removed from the service leaves the set.
	s2 := mustService(t, LBLCR, 0, ds[:2], c, 1, WithPrevious(s), WithLocality(16, time.Duration(expire)))
	if i := s2.PickAt(0, tg, 5*sec+expire); i != 1 || en.n != 1 {
		t.Fatalf("pick %d, set %v", i, en.set[:en.n])
	}
}

// TestLBLCRSetFull: a full set makes room by dropping its most loaded member.
func TestLBLCRSetFull(t *testing.T) {
	c := NewConns(1, 64)
	ws := make([]int32, locSetMax+1)
	for i := range ws {
		ws[i] = 2
	}
	ds := dests(ws...)
	s := mustService(t, LBLCR, 0, ds, c, 1)
	tg := target(1)
	for n := range locSetMax + 1 {
		i := s.PickAt(0, tg, sec)
		if i != n {
			t.Fatalf("pick %d = %d", n, i)
		}
		c.Add(0, ds[i].ID, int32(3+n), 0) // over weight; the next destination is idle
	}
	en := &s.loc[0].entries[s.loc[0].find(hashKey(tg.Dst, 0, s.loc[0].seed), ptr(tg.Dst.As16()))]
	if en.n != locSetMax || en.has(ds[locSetMax-1].ID) || !en.has(ds[locSetMax].ID) {
		t.Fatalf("set %v", en.set[:en.n])
	}
}

func ptr[T any](v T) *T { return &v }
