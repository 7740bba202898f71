package frag

import (
	"math/rand/v2"
	"testing"

	"fngw/header"
)

func key(i int) Key {
	return Key{Src: header.Addr4{203, 0, 113, byte(i >> 16)}, Dst: header.Addr4{198, 18, 1, 100}, ID: uint16(i), Proto: header.IPProtoUDP}
}

func newTable(t testing.TB, c Config) *Table {
	t.Helper()
	tb, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func TestInsertLookupExpire(t *testing.T) {
	tb := newTable(t, Config{Capacity: 64, Timeout: 100, Seed: 1})
	if _, ok := tb.Lookup(key(1), 0); ok {
		t.Fatal("hit in an empty table")
	}
	if !tb.Insert(key(1), 11, 10) {
		t.Fatal("insert into an empty table failed")
	}
	if v, ok := tb.Lookup(key(1), 109); !ok || v != 11 {
		t.Fatalf("lookup before the deadline: %v %v", v, ok)
	}
	if _, ok := tb.Lookup(key(2), 50); ok {
		t.Fatal("hit for another key")
	}
	other := key(1)
	other.Proto = header.IPProtoTCP
	if _, ok := tb.Lookup(other, 50); ok {
		t.Fatal("hit for the same addresses and ID with another protocol")
	}
	if _, ok := tb.Lookup(key(1), 110); ok {
		t.Fatal("hit at the deadline")
	}
	// The IP ID reused by a new datagram: its first fragment replaces the
	// entry and restarts its lifetime.
	tb.Insert(key(3), 1, 0)
	tb.Insert(key(3), 2, 50)
	if v, ok := tb.Lookup(key(3), 120); !ok || v != 2 {
		t.Fatalf("after replacement: %v %v, want 2 until 150", v, ok)
	}
	if s := tb.Stats(); s.Inserts != 3 || s.Replaced != 1 || s.Hits != 2 || s.Misses != 4 {
		t.Fatalf("stats %+v", s)
	}
}

// TestFullBucketRefuses: a table of one bucket takes four live datagrams;
// the fifth is refused (never evicting a live one) until one expires.
func TestFullBucketRefuses(t *testing.T) {
	tb := newTable(t, Config{Capacity: 4, Timeout: 100})
	for i := range 4 {
		if !tb.Insert(key(i), Value(i), int64(i)) {
			t.Fatalf("insert %d refused", i)
		}
	}
	if tb.HasRoom(key(9), 50) || !tb.HasRoom(key(2), 50) {
		t.Fatal("HasRoom disagrees with a full bucket")
	}
	if tb.Insert(key(9), 9, 50) {
		t.Fatal("fifth datagram accepted into a full bucket")
	}
	for i := range 4 {
		if v, ok := tb.Lookup(key(i), 50); !ok || v != Value(i) {
			t.Fatalf("datagram %d evicted: %v %v", i, v, ok)
		}
	}
	if !tb.Insert(key(9), 9, 100) { // key(0) expired at 100
		t.Fatal("insert refused after an entry expired")
	}
	if s := tb.Stats(); s.Full != 1 {
		t.Fatalf("full %d, want 1", s.Full)
	}
	if n := tb.Live(100); n != 4 {
		t.Fatalf("%d live, want 4", n)
	}
}

func TestConfig(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		cap  int
		fail bool
	}{
		{Config{}, DefaultCapacity, false},
		{Config{Capacity: 1}, 4, false},
		{Config{Capacity: 5000}, 8192, false},
		{Config{Capacity: -1}, 0, true},
		{Config{Capacity: 1 << 27}, 0, true},
		{Config{Timeout: -1}, 0, true},
	} {
		tb, err := New(c.cfg)
		if (err != nil) != c.fail {
			t.Errorf("%+v: err %v", c.cfg, err)
			continue
		}
		if err == nil && tb.Cap() != c.cap {
			t.Errorf("%+v: capacity %d, want %d", c.cfg, tb.Cap(), c.cap)
		}
	}
}

// TestAgainstReference runs random inserts and lookups with a moving clock
// against a map. The table may refuse an insert (a full bucket), and then
// must not hold the key; otherwise every lookup agrees with the map exactly:
// no lost datagram, no stale or foreign value.
func TestAgainstReference(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		rng := rand.New(rand.NewPCG(seed, 99))
		tb := newTable(t, Config{Capacity: 256, Timeout: 1000, Seed: seed})
		type ref struct {
			v        Value
			deadline int64
		}
		m := map[Key]ref{}
		now := int64(1)
		refused := 0
		for step := range 200000 {
			now += int64(rng.IntN(3))
			k := key(rng.IntN(600))
			if rng.IntN(3) == 0 {
				v := Value(step)
				room := tb.HasRoom(k, now)
				if ok := tb.Insert(k, v, now); ok != room {
					t.Fatalf("step %d: HasRoom %v, Insert %v", step, room, ok)
				}
				if room {
					m[k] = ref{v, now + 1000}
				} else {
					refused++
					if r, ok := m[k]; ok && r.deadline > now {
						t.Fatalf("step %d: insert of a live key refused", step)
					}
					delete(m, k)
				}
				continue
			}
			v, ok := tb.Lookup(k, now)
			r, rok := m[k]
			rok = rok && r.deadline > now
			if ok != rok || (ok && v != r.v) {
				t.Fatalf("seed %d step %d: lookup %v: table %v %v, reference %v %v", seed, step, k, v, ok, r.v, rok)
			}
		}
		if refused == 0 {
			t.Errorf("seed %d: no insert was ever refused: the run did not exercise full buckets", seed)
		}
	}
}

func TestNoAllocs(t *testing.T) {
	tb := newTable(t, Config{Capacity: 1024})
	i := 0
	if a := testing.AllocsPerRun(1000, func() {
		i++
		tb.Insert(key(i), Value(i), int64(i))
		tb.Lookup(key(i-1), int64(i))
	}); a != 0 {
		t.Fatalf("%.1f allocations per insert and lookup", a)
	}
}

func BenchmarkLookupHit(b *testing.B) {
	tb := newTable(b, Config{Capacity: 8192, Timeout: 1 << 60})
	for i := range 4096 {
		tb.Insert(key(i), Value(i), 1)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, ok := tb.Lookup(key(i&4095), 2); !ok {
			b.Fatal("miss")
		}
	}
}

func BenchmarkInsert(b *testing.B) {
	tb := newTable(b, Config{Capacity: 8192, Timeout: 1000})
	for i := 0; b.Loop(); i++ {
		tb.Insert(key(i&65535), Value(i), int64(i))
	}
}
