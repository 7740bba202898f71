package arp

import (
	"fmt"
	"slices"
	"testing"

	"fngw/header"
)

// event is one hook call of a table under test.
type event struct {
	kind string // "solicit", "tx", "drop"
	port uint16
	ip   header.Addr4
	mac  header.MAC // solicit: unicast destination (zero = broadcast); tx: resolved MAC
	pkt  int
}

func (e event) String() string {
	return fmt.Sprintf("%s(%d %v %v #%d)", e.kind, e.port, e.ip, e.mac, e.pkt)
}

type recorder struct{ events []event }

func (r *recorder) hooks() NeighHooks[int] {
	return NeighHooks[int]{
		Solicit: func(port uint16, ip header.Addr4, dst header.MAC) {
			r.events = append(r.events, event{"solicit", port, ip, dst, 0})
		},
		Transmit: func(p int, port uint16, mac header.MAC) {
			r.events = append(r.events, event{"tx", port, header.Addr4{}, mac, p})
		},
		Drop: func(p int) { r.events = append(r.events, event{"drop", 0, header.Addr4{}, header.MAC{}, p}) },
	}
}

// take returns and clears the recorded events.
func (r *recorder) take() []event {
	e := r.events
	r.events = nil
	return e
}

var (
	ipA  = header.Addr4{10, 0, 0, 2}
	ipB  = header.Addr4{10, 0, 0, 3}
	macA = header.MAC{2, 0, 0, 0, 0, 0xa}
	macB = header.MAC{2, 0, 0, 0, 0, 0xb}
)

// testConfig has small, distinct timers so each transition is unambiguous.
func testConfig() NeighConfig {
	return NeighConfig{
		MaxEntries: 8, QueueLen: 3, QueueTotal: 5,
		ReachableTime: 30 * Second, DelayTime: 5 * Second,
		RetransTime: 1 * Second, RetransTimeMax: 3 * Second,
		MulticastProbes: 4, UnicastProbes: 2, GCStaleTime: 60 * Second,
	}
}

func newTestTable(t *testing.T) (*NeighTable[int], *recorder) {
	t.Helper()
	r := &recorder{}
	return NewNeighTable(testConfig(), r.hooks()), r
}

func wantEvents(t *testing.T, r *recorder, want ...event) {
	t.Helper()
	if got := r.take(); !slices.Equal(got, want) {
		t.Fatalf("hook calls\n got %v\nwant %v", got, want)
	}
}

func wantState(t *testing.T, tb *NeighTable[int], ip header.Addr4, want NeighState) {
	t.Helper()
	n, ok := tb.Lookup(1, ip)
	if want == 0 {
		if ok {
			t.Fatalf("%v: entry %v exists, want none", ip, n.State)
		}
		return
	}
	if !ok || n.State != want {
		t.Fatalf("%v: state %v (exists %v), want %v", ip, n.State, ok, want)
	}
}

func TestNeighResolution(t *testing.T) {
	t.Run("incomplete to reachable flushes the queue in order", func(t *testing.T) {
		tb, r := newTestTable(t)
		tb.Output(0, 1, ipA, 1)
		wantEvents(t, r, event{"solicit", 1, ipA, header.MAC{}, 0})
		wantState(t, tb, ipA, NeighIncomplete)
		tb.Output(10, 1, ipA, 2)
		wantEvents(t, r) // queued, no second request before the timer
		if tb.takeChanged() {
			t.Fatal("an INCOMPLETE entry must not change the datapath's view")
		}
		tb.Learn(20, 1, ipA, macA, NeighReachable, false)
		wantEvents(t, r, event{"tx", 1, header.Addr4{}, macA, 1}, event{"tx", 1, header.Addr4{}, macA, 2})
		wantState(t, tb, ipA, NeighReachable)
		if !tb.takeChanged() {
			t.Fatal("resolution must change the datapath's view")
		}
		tb.Output(30, 1, ipA, 3)
		wantEvents(t, r, event{"tx", 1, header.Addr4{}, macA, 3})
	})

	t.Run("retries back off then fail and drop the queue", func(t *testing.T) {
		tb, r := newTestTable(t)
		tb.Output(0, 1, ipA, 1)
		tb.Output(0, 1, ipA, 2)
		r.take()
		// Retransmissions at 1 s, then +2 s, then +3 s (capped): 1, 3, 6.
		for _, step := range []struct {
			now     int64
			solicit bool
		}{{Second - 1, false}, {Second, true}, {3*Second - 1, false}, {3 * Second, true}, {6*Second - 1, false}, {6 * Second, true}, {9*Second - 1, false}} {
			tb.Tick(step.now)
			if step.solicit {
				wantEvents(t, r, event{"solicit", 1, ipA, header.MAC{}, 0})
			} else {
				wantEvents(t, r)
			}
			wantState(t, tb, ipA, NeighIncomplete)
		}
		tb.Tick(9 * Second) // 4 requests sent, the last waited 3 s: fail
		wantEvents(t, r, event{"drop", 0, header.Addr4{}, header.MAC{}, 1}, event{"drop", 0, header.Addr4{}, header.MAC{}, 2})
		wantState(t, tb, ipA, NeighFailed)
		st := tb.Stats()
		if st.RequestsSent != 4 || st.FailedDrops != 2 || st.Failures != 1 {
			t.Fatalf("stats %+v", st)
		}
		tb.Tick(9*Second + 60*Second)
		wantState(t, tb, ipA, 0)
	})

	t.Run("failed entry restarts on traffic", func(t *testing.T) {
		tb, r := newTestTable(t)
		tb.Output(0, 1, ipA, 1)
		for now := int64(0); now <= 20*Second; now += Second / 2 {
			tb.Tick(now)
		}
		wantState(t, tb, ipA, NeighFailed)
		r.take()
		tb.Output(21*Second, 1, ipA, 2)
		wantEvents(t, r, event{"solicit", 1, ipA, header.MAC{}, 0})
		wantState(t, tb, ipA, NeighIncomplete)
	})

	t.Run("queue bounds per entry and global", func(t *testing.T) {
		tb, r := newTestTable(t)
		for p := 1; p <= 4; p++ { // QueueLen 3: the 4th is dropped
			tb.Output(0, 1, ipA, p)
		}
		wantEvents(t, r, event{"solicit", 1, ipA, header.MAC{}, 0}, event{"drop", 0, header.Addr4{}, header.MAC{}, 4})
		for p := 5; p <= 8; p++ { // 2 slots left of QueueTotal 5: 7 and 8 dropped
			tb.Output(0, 1, ipB, p)
		}
		wantEvents(t, r, event{"solicit", 1, ipB, header.MAC{}, 0},
			event{"drop", 0, header.Addr4{}, header.MAC{}, 7}, event{"drop", 0, header.Addr4{}, header.MAC{}, 8})
		if st := tb.Stats(); st.QueueDrops != 3 {
			t.Fatalf("QueueDrops = %d, want 3", st.QueueDrops)
		}
		// Resolving A frees its slots for B.
		tb.Learn(1, 1, ipA, macA, NeighReachable, false)
		r.take()
		tb.Output(2, 1, ipB, 9)
		wantEvents(t, r)
		tb.Learn(3, 1, ipB, macB, NeighStale, false)
		wantEvents(t, r, event{"tx", 1, header.Addr4{}, macB, 5}, event{"tx", 1, header.Addr4{}, macB, 6}, event{"tx", 1, header.Addr4{}, macB, 9})
	})
}

func TestNeighAgeing(t *testing.T) {
	resolved := func(t *testing.T) (*NeighTable[int], *recorder) {
		tb, r := newTestTable(t)
		tb.Output(0, 1, ipA, 1)
		tb.Learn(0, 1, ipA, macA, NeighReachable, false)
		tb.takeChanged()
		r.take()
		return tb, r
	}
	t.Run("reachable to stale to gone", func(t *testing.T) {
		tb, _ := resolved(t)
		tb.Tick(30*Second - 1)
		wantState(t, tb, ipA, NeighReachable)
		tb.Tick(30 * Second)
		wantState(t, tb, ipA, NeighStale)
		if tb.takeChanged() {
			t.Fatal("REACHABLE → STALE keeps the MAC usable: no change for the datapath")
		}
		tb.Tick(90*Second - 1)
		wantState(t, tb, ipA, NeighStale)
		tb.Tick(90 * Second)
		wantState(t, tb, ipA, 0)
		if !tb.takeChanged() {
			t.Fatal("removing a valid entry must change the datapath's view")
		}
	})
	t.Run("stale in use is reconfirmed by probes", func(t *testing.T) {
		tb, r := resolved(t)
		tb.Tick(30 * Second)
		tb.Output(40*Second, 1, ipA, 2) // stale: sent at once, DELAY
		wantEvents(t, r, event{"tx", 1, header.Addr4{}, macA, 2})
		wantState(t, tb, ipA, NeighDelay)
		tb.Tick(45*Second - 1)
		wantState(t, tb, ipA, NeighDelay)
		tb.Tick(45 * Second)
		wantState(t, tb, ipA, NeighProbe)
		wantEvents(t, r, event{"solicit", 1, ipA, macA, 0}) // unicast probe
		tb.Output(45*Second, 1, ipA, 3)                     // still usable while probing
		wantEvents(t, r, event{"tx", 1, header.Addr4{}, macA, 3})
		tb.Learn(45*Second+10, 1, ipA, macA, NeighReachable, false)
		wantState(t, tb, ipA, NeighReachable)
		if tb.takeChanged() {
			t.Fatal("confirming the same MAC is no change for the datapath")
		}
	})
	t.Run("delay confirmed before probing", func(t *testing.T) {
		tb, r := resolved(t)
		tb.Tick(30 * Second)
		tb.Use(31*Second, 1, ipA)
		wantState(t, tb, ipA, NeighDelay)
		tb.Learn(32*Second, 1, ipA, macA, NeighReachable, false)
		wantState(t, tb, ipA, NeighReachable)
		tb.Tick(35 * Second)
		wantEvents(t, r)
	})
	t.Run("unanswered probes fail", func(t *testing.T) {
		tb, r := resolved(t)
		tb.Tick(30 * Second)
		tb.Use(30*Second, 1, ipA)
		tb.Tick(35 * Second)
		tb.Tick(36 * Second) // second unicast probe
		wantEvents(t, r, event{"solicit", 1, ipA, macA, 0}, event{"solicit", 1, ipA, macA, 0})
		tb.Tick(38*Second - 1)
		wantState(t, tb, ipA, NeighProbe)
		tb.Tick(38 * Second) // UnicastProbes 2, the second waited 2 s
		wantState(t, tb, ipA, NeighFailed)
		if !tb.takeChanged() {
			t.Fatal("a failed entry must leave the datapath's view")
		}
	})
	t.Run("traffic from the neighbour keeps a stale entry", func(t *testing.T) {
		tb, _ := resolved(t)
		tb.Tick(30 * Second)
		tb.Learn(80*Second, 1, ipA, macA, NeighStale, false) // e.g. it ARPs for us
		tb.Tick(90 * Second)
		wantState(t, tb, ipA, NeighStale)
		tb.Tick(140 * Second)
		wantState(t, tb, ipA, 0)
	})
}

func TestNeighLearn(t *testing.T) {
	t.Run("create only when asked", func(t *testing.T) {
		tb, _ := newTestTable(t)
		if tb.Learn(0, 1, ipA, macA, NeighStale, false) {
			t.Fatal("learned an unknown address without create")
		}
		wantState(t, tb, ipA, 0)
		if !tb.Learn(0, 1, ipA, macA, NeighStale, true) {
			t.Fatal("create failed")
		}
		wantState(t, tb, ipA, NeighStale)
	})
	t.Run("same MAC keeps reachable, new MAC goes stale", func(t *testing.T) {
		tb, _ := newTestTable(t)
		tb.Learn(0, 1, ipA, macA, NeighReachable, true)
		tb.takeChanged()
		tb.Learn(1, 1, ipA, macA, NeighStale, false)
		wantState(t, tb, ipA, NeighReachable)
		tb.Learn(2, 1, ipA, macB, NeighStale, false)
		wantState(t, tb, ipA, NeighStale)
		if n, _ := tb.Lookup(1, ipA); n.MAC != macB || !tb.takeChanged() {
			t.Fatalf("MAC %v after a changed address, want %v and a datapath change", n.MAC, macB)
		}
	})
	t.Run("ports are separate", func(t *testing.T) {
		tb, _ := newTestTable(t)
		tb.Learn(0, 1, ipA, macA, NeighStale, true)
		if _, ok := tb.Lookup(2, ipA); ok {
			t.Fatal("entry leaked to another port")
		}
	})
}

func TestNeighStatic(t *testing.T) {
	tb, r := newTestTable(t)
	tb.Output(0, 1, ipA, 1)
	r.take()
	if !tb.AddStatic(1, ipA, macA) {
		t.Fatal("AddStatic failed")
	}
	wantEvents(t, r, event{"tx", 1, header.Addr4{}, macA, 1}) // queued packet released
	wantState(t, tb, ipA, NeighPermanent)
	tb.Learn(1, 1, ipA, macB, NeighReachable, true)
	for now := int64(0); now < 1000*Second; now += 7 * Second {
		tb.Tick(now)
	}
	wantState(t, tb, ipA, NeighPermanent)
	if n, _ := tb.Lookup(1, ipA); n.MAC != macA {
		t.Fatalf("ARP changed a permanent entry to %v", n.MAC)
	}
	tb.Output(2000*Second, 1, ipA, 2)
	wantEvents(t, r, event{"tx", 1, header.Addr4{}, macA, 2})
	if !tb.Delete(1, ipA) || tb.Delete(1, ipA) {
		t.Fatal("Delete should succeed once")
	}
	wantState(t, tb, ipA, 0)
}

func TestNeighDeleteDropsQueue(t *testing.T) {
	tb, r := newTestTable(t)
	tb.Output(0, 1, ipA, 1)
	r.take()
	tb.Delete(1, ipA)
	wantEvents(t, r, event{"drop", 0, header.Addr4{}, header.MAC{}, 1})
	if tb.Stats().FailedDrops != 1 {
		t.Fatalf("FailedDrops = %d", tb.Stats().FailedDrops)
	}
}

func TestNeighTableFull(t *testing.T) {
	tb, r := newTestTable(t) // MaxEntries 8
	for i := range 8 {
		tb.Learn(0, 1, header.Addr4{10, 0, 1, byte(i)}, macA, NeighStale, true)
	}
	tb.Learn(5*Second, 1, header.Addr4{10, 0, 1, 0}, macA, NeighStale, false) // refreshed: evicted last
	tb.Output(6*Second, 1, ipA, 1)                                            // evicts the stalest (not .0)
	wantState(t, tb, ipA, NeighIncomplete)
	if _, ok := tb.Lookup(1, header.Addr4{10, 0, 1, 0}); !ok {
		t.Fatal("evicted the most recently refreshed entry")
	}
	if tb.Len() != 8 {
		t.Fatalf("Len = %d", tb.Len())
	}
	// Fill with entries that may not be evicted.
	for i := range 8 {
		ip := header.Addr4{10, 0, 2, byte(i)}
		if !tb.AddStatic(1, ip, macA) && i < 7 {
			t.Fatalf("AddStatic %d failed with evictable entries left", i)
		}
	}
	r.take()
	tb.Output(7*Second, 1, ipB, 2)
	wantEvents(t, r, event{"drop", 0, header.Addr4{}, header.MAC{}, 2})
	if tb.Stats().TableFull != 1 {
		t.Fatalf("TableFull = %d", tb.Stats().TableFull)
	}
}

func TestNeighList(t *testing.T) {
	tb, _ := newTestTable(t)
	tb.Learn(0, 2, ipA, macA, NeighStale, true)
	tb.Learn(0, 1, ipB, macB, NeighReachable, true)
	tb.Learn(0, 1, ipA, macA, NeighStale, true)
	tb.Output(0, 1, header.Addr4{10, 0, 0, 1}, 1)
	got := tb.List(nil)
	want := []NeighInfo{
		{Port: 1, IP: header.Addr4{10, 0, 0, 1}, State: NeighIncomplete},
		{Port: 1, IP: ipA, MAC: macA, State: NeighStale},
		{Port: 1, IP: ipB, MAC: macB, State: NeighReachable},
		{Port: 2, IP: ipA, MAC: macA, State: NeighStale},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("List\n got %v\nwant %v", got, want)
	}
}

func TestNeighStateStrings(t *testing.T) {
	for s, want := range map[NeighState]string{0: "NONE", NeighIncomplete: "INCOMPLETE", NeighReachable: "REACHABLE",
		NeighStale: "STALE", NeighDelay: "DELAY", NeighProbe: "PROBE", NeighFailed: "FAILED", NeighPermanent: "PERMANENT", 99: "NONE"} {
		if s.String() != want {
			t.Errorf("%d.String() = %q, want %q", s, s.String(), want)
		}
	}
}

func TestNeighSteadyStateDoesNotAllocate(t *testing.T) {
	tb, _ := newTestTable(t)
	now := int64(0)
	n := testing.AllocsPerRun(200, func() {
		now += Second
		tb.Output(now, 1, ipA, 1)
		tb.Learn(now, 1, ipA, macA, NeighReachable, false)
		tb.Output(now, 1, ipA, 2)
		tb.Tick(now)
		tb.Delete(1, ipA)
	})
	if n != 0 {
		t.Fatalf("resolve/learn/delete cycle allocates %v times", n)
	}
}

// floodConfig is testConfig with room for a flood of unresolved addresses.
func floodConfig() NeighConfig {
	c := testConfig()
	c.MaxEntries, c.MaxIncomplete, c.QueueTotal = 16, 4, 64
	c.ResolveRate, c.ResolveBurst = 1000, 1000
	return c
}

// unresolved returns the i-th address of a flood: on-link, never answering.
func unresolved(i int) header.Addr4 { return header.Addr4{10, 9, byte(i >> 8), byte(i)} }

// TestNeighIncompleteBounded: addresses that never answer take at most
// MaxIncomplete entries; each new one evicts the oldest (its queue dropped
// and counted), so the rest of the table stays free for addresses that do.
func TestNeighIncompleteBounded(t *testing.T) {
	r := &recorder{}
	tb := NewNeighTable(floodConfig(), r.hooks())
	for i := range 100 {
		tb.Output(int64(i), 1, unresolved(i), i)
		if tb.inc.n > 4 {
			t.Fatalf("after %d unresolved addresses: %d INCOMPLETE entries, want at most 4", i+1, tb.inc.n)
		}
	}
	for i := range 96 {
		wantState(t, tb, unresolved(i), 0)
	}
	for i := 96; i < 100; i++ { // the newest four
		wantState(t, tb, unresolved(i), NeighIncomplete)
	}
	if st := tb.Stats(); st.Evicted != 96 || st.FailedDrops != 96 || st.TableFull != 0 {
		t.Fatalf("stats %+v, want 96 evicted with their queued packet", st)
	}
	// A real neighbour still resolves, and is not evicted by the flood.
	tb.Output(200, 1, ipA, 1000)
	tb.Learn(201, 1, ipA, macA, NeighReachable, false)
	for i := 100; i < 200; i++ {
		tb.Output(int64(300+i), 1, unresolved(i), i)
	}
	wantState(t, tb, ipA, NeighReachable)
	// The list is consistent: walking it from both ends sees the 4 entries.
	n := 0
	for i := tb.inc.oldest; i >= 0; i = tb.entries[i].newer {
		if tb.entries[i].state != NeighIncomplete {
			t.Fatalf("entry %d on the INCOMPLETE list is %v", i, tb.entries[i].state)
		}
		n++
	}
	if n != 4 || tb.inc.n != 4 {
		t.Fatalf("list holds %d entries, count %d", n, tb.inc.n)
	}
}

// TestNeighResolveRate: each port starts at most ResolveRate resolutions per
// second (after a burst of ResolveBurst); packets to entries already
// resolving are queued as before, other ports have their own budget, and
// pinned entries are exempt.
func TestNeighResolveRate(t *testing.T) {
	c := floodConfig()
	c.ResolveRate, c.ResolveBurst = 2, 3
	r := &recorder{}
	tb := NewNeighTable(c, r.hooks())
	tb.setPins(map[neighKey]bool{{1, ipB}: true})
	for i := range 3 {
		tb.Output(0, 1, unresolved(i), i)
	}
	tb.Output(0, 1, unresolved(3), 3) // over the burst
	wantState(t, tb, unresolved(3), 0)
	if st := tb.Stats(); st.ResolveLimited != 1 {
		t.Fatalf("ResolveLimited = %d, want 1", st.ResolveLimited)
	}
	tb.Output(0, 1, unresolved(0), 10) // already resolving: queued
	tb.Output(0, 2, unresolved(3), 11) // another port
	tb.Output(0, 1, ipB, 12)           // pinned
	wantState(t, tb, unresolved(3), 0)
	if n, ok := tb.Lookup(2, unresolved(3)); !ok || n.State != NeighIncomplete {
		t.Fatal("port 2's first resolution was limited by port 1's")
	}
	wantState(t, tb, ipB, NeighIncomplete)
	if st := tb.Stats(); st.ResolveLimited != 1 {
		t.Fatalf("ResolveLimited = %d, want still 1", st.ResolveLimited)
	}
	tb.Output(Second/2, 1, unresolved(4), 4) // one token back after 1/2 s
	wantState(t, tb, unresolved(4), NeighIncomplete)
	tb.Output(Second/2, 1, unresolved(5), 5)
	wantState(t, tb, unresolved(5), 0)
}

// TestNeighPinned: a configured next hop's entry is never evicted for
// another, never garbage-collected while pinned, and finds room in a table
// full of learned entries.
func TestNeighPinned(t *testing.T) {
	r := &recorder{}
	tb := NewNeighTable(floodConfig(), r.hooks()) // 16 entries
	tb.setPins(map[neighKey]bool{{1, ipA}: true})
	tb.Output(0, 1, ipA, 1)
	tb.Learn(0, 1, ipA, macA, NeighReachable, false)
	if n, _ := tb.Lookup(1, ipA); !n.Pinned {
		t.Fatal("entry of a pinned address is not marked")
	}
	// 15 learned entries fill the table; they go STALE, then PROBE (in
	// use, as the plane's refreshNeighs makes them): none evictable.
	for i := range 15 {
		tb.Learn(1, 1, unresolved(i), macB, NeighStale, true)
	}
	tb.Tick(60 * Second) // A: REACHABLE → STALE at 30 s, kept
	for i := range 15 {
		tb.Use(60*Second, 1, unresolved(i))
	}
	tb.Tick(1000 * Second) // A would be garbage-collected at 90 s
	wantState(t, tb, ipA, NeighStale)
	for i := range 15 {
		tb.Learn(1000*Second, 1, unresolved(i), macB, NeighReachable, false)
	}
	// A learned entry cannot evict anything now.
	if tb.Learn(1000*Second, 1, unresolved(99), macB, NeighStale, true) {
		t.Fatal("a learned entry found room in a table of reachable and pinned entries")
	}
	// Unpinned, A is collected like any other entry.
	tb.setPins(nil)
	tb.Tick(2000 * Second)
	wantState(t, tb, ipA, 0)
	// A newly pinned address evicts a learned entry, whatever its state.
	tb.setPins(map[neighKey]bool{{1, ipB}: true})
	for i := range 16 {
		tb.Learn(2000*Second, 1, unresolved(100+i), macB, NeighReachable, true)
	}
	r.take()
	tb.Output(2000*Second, 1, ipB, 2)
	wantState(t, tb, ipB, NeighIncomplete)
	wantEvents(t, r, event{"solicit", 1, ipB, header.MAC{}, 0})
	if tb.Stats().Evicted == 0 {
		t.Fatal("no eviction counted")
	}
}

// TestNeighRealServerDuringFlood is DPVS issue 198's scenario: unresolved
// addresses keep coming (any on-link destination the gateway answers creates
// one: spoofed clients in a connected subnet, say) when a real server's
// entry has aged out. Its next packet must still resolve: unresolved entries
// hold a bounded share of the table and the oldest gives way. A flood within
// the port's resolution rate leaves an unpinned real server a token; one far
// above it is refused, but a configured (pinned) next hop is exempt.
func TestNeighRealServerDuringFlood(t *testing.T) {
	for _, tc := range []struct {
		name   string
		rate   int // flood, per second
		pinned bool
	}{
		{"unpinned, flood at the rate limit", 100, false},
		{"pinned, flood ten times over it", 1000, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{}
			tb := NewNeighTable(NeighConfig{}, r.hooks()) // 1024 entries, 256 resolving, 100/s
			if tc.pinned {
				tb.setPins(map[neighKey]bool{{1, ipA}: true})
			}
			now := int64(0)
			for i := range 3000 { // more than the table, for longer than a resolution lasts
				now = int64(i) * Second / int64(tc.rate)
				tb.Output(now, 1, unresolved(i), i)
				tb.Tick(now)
			}
			r.take()
			now += Second / 100
			tb.Output(now, 1, ipA, -1)
			wantState(t, tb, ipA, NeighIncomplete)
			tb.Learn(now+1, 1, ipA, macA, NeighReachable, false)
			got := r.take()
			if !tc.pinned && len(got) > 0 && got[0].kind == "drop" {
				got = got[1:] // the oldest resolution gave way, its packet dropped
			}
			want := []event{{"solicit", 1, ipA, header.MAC{}, 0}, {"tx", 1, header.Addr4{}, macA, -1}}
			if !slices.Equal(got, want) {
				t.Fatalf("hook calls\n got %v\nwant %v", got, want)
			}
			st := tb.Stats()
			if st.TableFull != 0 || tb.inc.n > 256 {
				t.Fatalf("stats %+v, %d resolving: the flood took the table", st, tb.inc.n)
			}
			if tc.rate > 100 && st.ResolveLimited == 0 {
				t.Fatal("a flood over the rate was not limited")
			}
		})
	}
}
