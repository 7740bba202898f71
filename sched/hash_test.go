package sched

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

// shuffled returns ds in a random order (IDs and addresses travel together).
func shuffled(r *rand.Rand, ds []DestConf) []DestConf {
	out := append([]DestConf(nil), ds...)
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// addrOf maps a pick to the destination's address:port, -1 to the zero value.
func addrOf(s *Service, i int) netip.AddrPort {
	if i < 0 {
		return netip.AddrPort{}
	}
	d := s.Dest(i)
	return netip.AddrPortFrom(d.Addr, d.Port)
}

// TestHashStable: sh and dh map a key to the same destination on every pick, on
// every core, and in a rebuilt service with the destinations in another order.
func TestHashStable(t *testing.T) {
	r := seeded(t)
	for _, k := range []Kind{SH, DH} {
		t.Run(k.String(), func(t *testing.T) {
			c := NewConns(3, 64)
			ds := dests(1, 2, 3, 1, 4, 2)
			s1 := mustService(t, k, 0, ds, c, 3)
			s2 := mustService(t, k, 0, shuffled(r, ds), c, 3)
			used := map[int]bool{}
			for n := range 2000 {
				key := client(n, uint16(n))
				if k == DH {
					key = target(n)
				}
				first := s1.Pick(0, key)
				if first < 0 {
					t.Fatalf("key %d: no destination", n)
				}
				used[first] = true
				for core := range 3 {
					if i := s1.Pick(core, key); i != first {
						t.Fatalf("key %d core %d: %d, first pick %d", n, core, i, first)
					}
				}
				if a, b := addrOf(s1, first), addrOf(s2, s2.Pick(1, key)); a != b {
					t.Fatalf("key %d: %v, but %v when configured in another order", n, a, b)
				}
			}
			if len(used) != len(ds) {
				t.Errorf("2000 keys reached %d of %d destinations", len(used), len(ds))
			}
		})
	}
}

// TestBucketWeights: each destination owns exactly weight/sum of the buckets when
// the weights divide the table, and a quiescent one owns one bucket per round.
func TestBucketWeights(t *testing.T) {
	ds := dests(1, 2, 5)
	tab := buildBuckets(ds, true)
	count := make([]int, len(ds))
	for _, i := range tab {
		count[i]++
	}
	if count[0] != 512 || count[1] != 1024 || count[2] != 2560 {
		t.Errorf("bucket counts %v, want [512 1024 2560]", count)
	}
	tab = buildBuckets(dests(3, 0), true)
	clear(count)
	for _, i := range tab {
		count[i]++
	}
	if count[0] != 3072 || count[1] != 1024 {
		t.Errorf("with a quiescent destination: %v, want [3072 1024]", count)
	}
	// Interleaved round by round, not one block per destination.
	if tab[0] != 0 || tab[2] != 0 || tab[3] != 1 || tab[4] != 0 {
		t.Errorf("table starts %v", tab[:8])
	}
}

// TestDHIgnoresWeights: dh's table gives every destination the same number of
// buckets whatever the weights (ip_vs_dh_reassign), one after the other in
// address order, and 9:1 weights share 4000 targets about 1:1.
func TestDHIgnoresWeights(t *testing.T) {
	tab := buildBuckets(dests(9, 1, 0), false)
	count := make([]int, 3)
	for _, i := range tab {
		count[i]++
	}
	if count[0] != 1366 || count[1] != 1365 || count[2] != 1365 {
		t.Errorf("bucket counts %v, want [1366 1365 1365]", count)
	}
	if tab[0] != 0 || tab[1] != 1 || tab[2] != 2 || tab[3] != 0 {
		t.Errorf("table starts %v, want 0 1 2 0", tab[:4])
	}
	c := NewConns(1, 64)
	s := mustService(t, DH, 0, dests(9, 1), c, 1)
	picks := make([]int, 2)
	for n := range 4000 {
		picks[s.Pick(0, target(n))]++
	}
	// Binomial(4000, 1/2): sd 32; 5 sd is 160.
	if picks[0] < 1840 || picks[0] > 2160 {
		t.Errorf("dh with weights 9:1 picked %v, want about 2000:2000", picks)
	}
}

// TestSHUnavailable: without sh-fallback the keys of an unavailable destination get
// none and every other key keeps its destination; with it they spread over the
// others, and still no other key moves.
func TestSHUnavailable(t *testing.T) {
	c := NewConns(1, 64)
	ds := dests(1, 1, 1, 1)
	before := mustService(t, SH, 0, ds, c, 1)
	ds[2].Weight = 0
	plain := mustService(t, SH, 0, ds, c, 1)
	fb := mustService(t, SH, SHFallback, ds, c, 1)
	moved := make([]int, len(ds))
	for n := range 4000 {
		key := client(n, 0)
		was := before.Pick(0, key)
		p, f := plain.Pick(0, key), fb.Pick(0, key)
		if was == 2 {
			if p != -1 {
				t.Fatalf("key %d: quiescent destination's key picked %d without fallback", n, p)
			}
			if f < 0 || f == 2 {
				t.Fatalf("key %d: fallback picked %d", n, f)
			}
			moved[f]++
			continue
		}
		if p != was || f != was {
			t.Fatalf("key %d moved from %d to %d / %d", n, was, p, f)
		}
	}
	for _, i := range []int{0, 1, 3} {
		if moved[i] < 150 {
			t.Errorf("fallback spread %v: destination %d got too few", moved, i)
		}
	}
}

// TestSHThreshold: a destination over its threshold counts as unavailable.
func TestSHThreshold(t *testing.T) {
	c := NewConns(1, 64)
	ds := dests(1, 1)
	ds[0].UThresh = 2
	s := mustService(t, SH, SHFallback, ds, c, 1)
	var key Key
	for n := range 100 {
		if key = client(n, 0); s.Pick(0, key) == 0 {
			break
		}
	}
	c.Add(0, ds[0].ID, 1, 1)
	if i := s.Pick(0, key); i != 1 {
		t.Errorf("overloaded: picked %d, want the fallback 1", i)
	}
	c.Add(0, ds[0].ID, -1, -1)
	if i := s.Pick(0, key); i != 0 {
		t.Errorf("recovered: picked %d, want 0", i)
	}
}

// TestSHPort: with sh-port one client's ports spread over the destinations; without,
// they all go to one. Ports count only for TCP, UDP and SCTP.
func TestSHPort(t *testing.T) {
	c := NewConns(1, 64)
	ds := dests(1, 1, 1, 1)
	plain := mustService(t, SH, 0, ds, c, 1)
	port := mustService(t, SH, SHPort, ds, c, 1)
	seenPlain, seenPort, seenICMP := map[int]bool{}, map[int]bool{}, map[int]bool{}
	for p := range 200 {
		key := client(7, uint16(1024+p))
		seenPlain[plain.Pick(0, key)] = true
		seenPort[port.Pick(0, key)] = true
		key.Proto = 1 // ICMP
		seenICMP[port.Pick(0, key)] = true
	}
	if len(seenPlain) != 1 || len(seenPort) != 4 || len(seenICMP) != 1 {
		t.Errorf("destinations reached: without sh-port %d, with %d, ICMP %d; want 1, 4, 1", len(seenPlain), len(seenPort), len(seenICMP))
	}
}

// TestDHKeysOnTarget: dh ignores the client, sh ignores the target.
func TestDHKeysOnTarget(t *testing.T) {
	c := NewConns(1, 64)
	ds := dests(1, 1, 1)
	dh := mustService(t, DH, 0, ds, c, 1)
	sh := mustService(t, SH, 0, ds, c, 1)
	for n := range 200 {
		a, b := target(n), target(n)
		b.Src = netip.MustParseAddr("2001:db8::5")
		if dh.Pick(0, a) != dh.Pick(0, b) {
			t.Fatalf("dh target %d: the client changed the pick", n)
		}
		a, b = client(n, 1), client(n, 1)
		b.Dst = netip.MustParseAddr("198.51.100.9")
		if sh.Pick(0, a) != sh.Pick(0, b) {
			t.Fatalf("sh client %d: the target changed the pick", n)
		}
	}
}
