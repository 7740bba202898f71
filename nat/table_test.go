package nat

import (
	"math/rand/v2"
	"slices"
	"testing"

	"fngw/header"
)

// refSession is the reference model's view of a session.
type refSession struct {
	orig, reply Tuple4
	expires     int64
}

// randTuple draws from a small space so that inserts collide and conflict.
func randTuple(r *rand.Rand) Tuple4 {
	return Tuple4{
		Src:   header.Addr4{10, 0, 0, byte(r.IntN(8))},
		Dst:   header.Addr4{10, 0, 1, byte(r.IntN(8))},
		SPort: uint16(1000 + r.IntN(64)),
		DPort: uint16(80 + r.IntN(2)),
		Proto: header.IPProtoTCP,
	}
}

// checkTable verifies the table's internal invariants against the reference.
func checkTable(t *testing.T, tb *Table, ref map[int32]refSession) {
	t.Helper()
	if tb.Len() != len(ref) {
		t.Fatalf("Len %d, reference %d", tb.Len(), len(ref))
	}
	entries := 0
	for idx, rs := range ref {
		s := tb.At(idx)
		if s.Orig != rs.orig || s.Reply != rs.reply || s.Expires != rs.expires {
			t.Fatalf("session %d = %v/%v/%d, reference %v/%v/%d", idx, s.Orig, s.Reply, s.Expires, rs.orig, rs.reply, rs.expires)
		}
		if i, d := tb.Lookup(&rs.orig); i != idx || d != DirIn {
			t.Fatalf("Lookup(orig %v) = %d,%v want %d,in", rs.orig, i, d, idx)
		}
		entries++
		if rs.reply.Proto != 0 {
			if i, d := tb.Lookup(&rs.reply); i != idx || d != DirOut {
				t.Fatalf("Lookup(reply %v) = %d,%v want %d,out", rs.reply, i, d, idx)
			}
			entries++
		}
	}
	used := 0
	for _, b := range tb.buckets {
		if b.v != 0 {
			used++
		}
	}
	if used != entries {
		t.Fatalf("index holds %d entries, want %d", used, entries)
	}
	// Every wheel list is consistent and every linked session is filed
	// inside [cursor, cursor+slots) in the slot of its tick.
	linked := 0
	for s := int64(0); s <= tb.slotMask; s++ {
		h := int32(len(tb.sess)) + int32(s)
		for i := tb.link[h].next; i != h; i = tb.link[i].next {
			if tb.link[tb.link[i].next].prev != i {
				t.Fatalf("slot %d: broken back link at %d", s, i)
			}
			if _, ok := ref[i]; !ok {
				t.Fatalf("slot %d holds dead session %d", s, i)
			}
			w := int64(int32(tb.sess[i].wheel - uint32(tb.cursor)))
			if w < 0 || w > tb.slotMask || (tb.cursor+w)&tb.slotMask != s {
				t.Fatalf("session %d filed at tick %d in slot %d, cursor %d", i, tb.sess[i].wheel, s, tb.cursor)
			}
			linked++
		}
	}
	if linked != len(ref) {
		t.Fatalf("wheel holds %d sessions, want %d", linked, len(ref))
	}
	all := sessionsOf(tb, len(ref)+1)
	if len(all) != len(ref) {
		t.Fatalf("CopySessions listed %d, want %d", len(all), len(ref))
	}
	for _, s := range all {
		if i, _ := tb.Lookup(&s.Orig); i < 0 || ref[i].orig != s.Orig {
			t.Fatalf("CopySessions listed unknown session %v", s.Orig)
		}
	}
	if len(ref) > 1 {
		one := make([]Session, 1)
		if n, next := tb.CopySessions(one, 0, tb.Cap()); n != 1 || next >= tb.Cap() {
			t.Fatalf("CopySessions into one slot: %d copied, next %d", n, next)
		}
	}
}

// sessionsOf copies up to max live sessions of tb, a slice of 7 slots at a
// time (as a listing does over several turns).
func sessionsOf(tb *Table, max int) []Session {
	out := make([]Session, max)
	n := 0
	for from := 0; from < tb.Cap() && n < max; {
		k, next := tb.CopySessions(out[n:], from, 7)
		n, from = n+k, next
	}
	return out[:n]
}

func TestTableAgainstReference(t *testing.T) {
	for _, tc := range []struct {
		name      string
		capacity  int
		slots     int
		noReply   int  // 1 in noReply sessions is DR-like (no reply tuple)
		life      uint // lifetimes up to 1<<life ticks
		smallStep bool
	}{
		{"small-wheel", 64, 4, 5, 6, false},
		{"at-capacity", 512, 64, 3, 8, true},
		{"large", 1200, 8192, 7, 11, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, uint64(tc.capacity)))
			const shift = 10
			now := int64(1) << 40
			tb, err := NewTable(TableConfig{Capacity: tc.capacity, Seed: 42, TickShift: shift, Slots: tc.slots}, now)
			if err != nil {
				t.Fatal(err)
			}
			ref := map[int32]refSession{}
			byTuple := map[Tuple4]int32{}
			live := func() []int32 {
				ids := make([]int32, 0, len(ref))
				for i := range ref {
					ids = append(ids, i)
				}
				// Sorted, so that the seeded run is the same every time (map
				// order is random): a random order made the small-wheel case
				// sometimes never fill the table ("weak run").
				slices.Sort(ids)
				return ids
			}
			out := make([]int32, 16)
			fulls, conflicts, expired := 0, 0, 0
			for step := range 40000 {
				switch op := r.IntN(100); {
				case op < 45: // insert
					orig, reply := randTuple(r), Tuple4{}
					if r.IntN(tc.noReply) != 0 {
						reply = randTuple(r)
						reply.Src[2] = 2 // RS side addresses
					}
					exp := now + 1 + r.Int64N(1<<(shift+tc.life))
					_, oc := byTuple[orig]
					_, rc := byTuple[reply]
					want := ReasonNone
					switch {
					case len(ref) == tc.capacity:
						want = ReasonTableFull
					case oc || (reply.Proto != 0 && (rc || reply == orig)):
						want = ReasonSessionConflict
					}
					idx, got := tb.Insert(&orig, &reply, exp)
					if got != want {
						t.Fatalf("step %d: Insert = %v, want %v", step, got, want)
					}
					switch got {
					case ReasonTableFull:
						fulls++
					case ReasonSessionConflict:
						conflicts++
					case ReasonNone:
						if _, dup := ref[idx]; dup {
							t.Fatalf("step %d: Insert reused live index %d", step, idx)
						}
						ref[idx] = refSession{orig, reply, exp}
						byTuple[orig] = idx
						if reply.Proto != 0 {
							byTuple[reply] = idx
						}
					}
				case op < 65: // lookup
					k := randTuple(r)
					if r.IntN(2) == 0 {
						k.Src[2] = 2
					}
					want, ok := byTuple[k]
					if !ok {
						want = -1
					}
					if got, _ := tb.Lookup(&k); got != want {
						t.Fatalf("step %d: Lookup(%v) = %d, want %d", step, k, got, want)
					}
				case op < 75: // delete
					if ids := live(); len(ids) > 0 {
						idx := ids[r.IntN(len(ids))]
						tb.Delete(idx)
						delete(byTuple, ref[idx].orig)
						delete(byTuple, ref[idx].reply)
						delete(ref, idx)
					}
				case op < 90: // touch, earlier or later
					if ids := live(); len(ids) > 0 {
						idx := ids[r.IntN(len(ids))]
						exp := now + 1 + r.Int64N(1<<(shift+tc.life))
						tb.Touch(idx, exp)
						rs := ref[idx]
						rs.expires = exp
						ref[idx] = rs
					}
				default: // time passes, expire with a random budget
					if tc.smallStep {
						now += r.Int64N(1 << (shift + 1))
					} else {
						now += r.Int64N(1 << (shift + 4))
					}
					for tb.cursor <= now>>shift {
						n := tb.Expire(now, 1+r.IntN(8), out[:1+r.IntN(len(out))])
						for _, idx := range out[:n] {
							rs, ok := ref[idx]
							if !ok {
								t.Fatalf("step %d: Expire returned dead session %d", step, idx)
							}
							if rs.expires > now {
								t.Fatalf("step %d: Expire returned session %d due at %d, now %d", step, idx, rs.expires, now)
							}
							tb.Delete(idx)
							delete(byTuple, rs.orig)
							delete(byTuple, rs.reply)
							delete(ref, idx)
							expired++
						}
					}
					// Reaping is at most one tick late.
					for idx, rs := range ref {
						if rs.expires>>shift+1 <= now>>shift {
							t.Fatalf("step %d: session %d due at %d still live at %d", step, idx, rs.expires, now)
						}
					}
				}
				if step%997 == 0 {
					checkTable(t, tb, ref)
				}
			}
			checkTable(t, tb, ref)
			if fulls == 0 || conflicts == 0 || expired == 0 {
				t.Fatalf("weak run: %d full, %d conflicts, %d expired", fulls, conflicts, expired)
			}
		})
	}
}

func TestTableDeleteFreePanics(t *testing.T) {
	tb, err := NewTable(TableConfig{Capacity: 4, Seed: 1}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Delete of a free session did not panic")
		}
	}()
	tb.Delete(2)
}

func TestNewTableRejects(t *testing.T) {
	for _, cfg := range []TableConfig{
		{Capacity: 0},
		{Capacity: 1<<30 + 1},
		{Capacity: 8, Slots: 3},
		{Capacity: 8, TickShift: 41},
	} {
		if _, err := NewTable(cfg, 0); err == nil {
			t.Errorf("NewTable(%+v) succeeded", cfg)
		}
	}
}

func TestTableLongDeadlineRefiled(t *testing.T) {
	// A deadline beyond the wheel's span is parked in the last slot and
	// re-filed until it is due, never reaped early.
	const shift = 4
	tb, _ := NewTable(TableConfig{Capacity: 2, Seed: 3, TickShift: shift, Slots: 4}, 0)
	k := Tuple4{Src: header.Addr4{1, 1, 1, 1}, Dst: header.Addr4{2, 2, 2, 2}, SPort: 1, DPort: 2, Proto: 6}
	exp := int64(100 << shift)
	idx, r := tb.Insert(&k, &Tuple4{}, exp)
	if r != ReasonNone {
		t.Fatal(r)
	}
	out := make([]int32, 1)
	for now := int64(0); now < exp; now += 1 << shift {
		if n := tb.Expire(now, 100, out); n != 0 {
			t.Fatalf("reaped at %d, due %d", now, exp)
		}
	}
	if n := tb.Expire(exp, 100, out); n != 1 || out[0] != idx {
		t.Fatalf("Expire at deadline = %d %v", n, out)
	}
}

func TestTupleHashSpreads(t *testing.T) {
	// Neighbouring tuples must land all over the index.
	seen := map[uint32]bool{}
	for p := range 4096 {
		k := Tuple4{Src: header.Addr4{10, 0, 0, 1}, Dst: header.Addr4{10, 0, 0, 2}, SPort: uint16(p), DPort: 80, Proto: 6}
		seen[uint32(k.hash(9))&4095] = true
	}
	if len(seen) < 2400 { // a random function fills ~63% of 4096 buckets
		t.Fatalf("4096 consecutive ports hit only %d of 4096 buckets", len(seen))
	}
}

// BenchmarkCopySessionsTurn is the worst turn a connection listing (-L -c)
// adds to a worker's loop: one slice of ListSlice sessions copied from a
// full table of 1 M sessions (ns/op is that turn's cost).
func BenchmarkCopySessionsTurn(b *testing.B) {
	const capacity = 1 << 20
	tb, err := NewTable(TableConfig{Capacity: capacity, Seed: 1}, 0)
	if err != nil {
		b.Fatal(err)
	}
	for i := range capacity {
		k := Tuple4{Src: header.Addr4{10, byte(i >> 16), byte(i >> 8), byte(i)}, Dst: header.Addr4{198, 18, 1, 100},
			SPort: 1024, DPort: 80, Proto: header.IPProtoTCP}
		reply := Tuple4{Src: k.Dst, Dst: k.Src, SPort: k.DPort, DPort: k.SPort, Proto: k.Proto}
		if _, why := tb.Insert(&k, &reply, 1e12); why != ReasonNone {
			b.Fatalf("insert %d: %v", i, why)
		}
	}
	dst := make([]Session, ListSlice)
	from, copied := 0, 0
	b.ResetTimer()
	for range b.N {
		n, next := tb.CopySessions(dst, from, ListScan)
		if from = next; from >= tb.Cap() {
			from = 0
		}
		copied += n
	}
	b.ReportMetric(float64(copied)/float64(b.N), "sessions/op")
}
