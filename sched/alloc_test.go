package sched

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// benchService builds a service of kind over n destinations with varied weights,
// all its flags, some connections counted and, with thresh, thresholds on half of
// the destinations.
func benchService(tb testing.TB, kind Kind, n int, thresh bool, opts ...Option) (*Service, *Conns) {
	r := rand.New(rand.NewPCG(1, 2))
	c := NewConns(2, 4*n+8)
	ws := make([]int32, n)
	for i := range ws {
		ws[i] = 1 + r.Int32N(10)
	}
	ds := dests(ws...)
	for i := range ds {
		if thresh && i%2 == 0 {
			ds[i].UThresh, ds[i].LThresh = 1000, 500
		}
		setConns(r, c, ds[i].ID, r.Int32N(100), r.Int32N(100))
	}
	return mustService(tb, kind, kind.allowedFlags(), ds, c, 2, opts...), c
}

func benchKeys() []Key {
	keys := make([]Key, 256)
	for n := range keys {
		keys[n] = client(n*7919, uint16(n))
		keys[n].Dst = target(n % 64).Dst
	}
	return keys
}

// TestPickAllocs proves the hot-path calls allocate nothing, for every scheduler,
// with and without thresholds, persistent or not.
func TestPickAllocs(t *testing.T) {
	keys := benchKeys()
	for _, k := range allKinds {
		for _, thresh := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/thresholds=%v", k, thresh), func(t *testing.T) {
				s, _ := benchService(t, k, 16, thresh, persistent(time.Second, "255.255.255.0"), WithTemplateCapacity(64))
				n := 0
				if a := testing.AllocsPerRun(2000, func() {
					s.PickAt(0, keys[n%len(keys)], int64(n)*int64(time.Millisecond))
					n++
				}); a != 0 {
					t.Errorf("PickAt: %v allocs", a)
				}
				if a := testing.AllocsPerRun(2000, func() {
					_, h := connect(s, 1, keys[n%len(keys)], int64(n)*int64(time.Millisecond))
					s.Release(1, h, int64(n)*int64(time.Millisecond))
					s.Expire(1, int64(n)*int64(time.Millisecond), 8)
					n++
				}); a != 0 {
					t.Errorf("PickPersistent+Release+Expire: %v allocs", a)
				}
			})
		}
	}
	c := NewConns(2, 8)
	if a := testing.AllocsPerRun(1000, func() { c.Add(1, 3, 1, -1); c.Sum(3) }); a != 0 {
		t.Errorf("Conns: %v allocs", a)
	}
}

func BenchmarkPick(b *testing.B) {
	keys := benchKeys()
	for _, k := range allKinds {
		for _, thresh := range []bool{false, true} {
			name := k.String()
			if thresh {
				name += "/thresholds"
			}
			b.Run(name, func(b *testing.B) {
				s, _ := benchService(b, k, 16, thresh)
				b.ReportAllocs()
				n := 0
				for b.Loop() {
					s.PickAt(0, keys[n&255], int64(n))
					n++
				}
			})
		}
	}
}

func BenchmarkPickPersistent(b *testing.B) {
	keys := benchKeys()
	s, _ := benchService(b, WLC, 16, false, persistent(time.Minute, ""))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		_, h := connect(s, 0, keys[n&255], int64(n))
		s.Release(0, h, int64(n))
		n++
	}
}

func BenchmarkExpire(b *testing.B) {
	s, _ := benchService(b, LBLCR, 16, false, persistent(time.Minute, ""))
	b.ReportAllocs()
	n := int64(0)
	for b.Loop() {
		s.Expire(0, n, 32)
		n++
	}
}

// TestConcurrentCores runs one goroutine per core, each picking, counting and
// closing connections, with persistence and thresholds, while the control plane
// reads (run with -race). At the end the counts balance.
func TestConcurrentCores(t *testing.T) {
	const rounds = 3000
	for _, k := range []Kind{WRR, WLC, LBLCR, MH} {
		t.Run(k.String(), func(t *testing.T) {
			s, c := benchService(t, k, 8, true, persistent(time.Second, ""), WithTemplateCapacity(128))
			before := make([]int32, s.Len())
			for i := range before {
				before[i], _ = c.Sum(s.DestID(i))
			}
			var wg sync.WaitGroup
			for core := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := rand.New(rand.NewPCG(uint64(core), 9))
					type conn struct {
						id uint32
						h  int32
					}
					var open []conn
					for n := range rounds {
						now := int64(n) * int64(time.Millisecond)
						i, h := connect(s, core, client(r.IntN(500), uint16(n)), now)
						if i >= 0 {
							c.Add(core, s.DestID(i), 1, 0)
							open = append(open, conn{s.DestID(i), h})
						}
						if len(open) > 0 && r.IntN(2) == 0 {
							j := r.IntN(len(open))
							c.Add(core, open[j].id, -1, 0)
							s.Release(core, open[j].h, now)
							open = append(open[:j], open[j+1:]...)
						}
						s.Expire(core, now, 4)
					}
					for _, o := range open {
						c.Add(core, o.id, -1, 0)
						s.Release(core, o.h, rounds*int64(time.Millisecond))
					}
				}()
			}
			stop := make(chan struct{})
			go func() {
				for {
					select {
					case <-stop:
						return
					default:
						for i := range s.Len() {
							c.Sum(s.DestID(i))
							c.Persist(s.DestID(i))
							c.Overloaded(s.DestID(i))
						}
						s.Templates(0)
					}
				}
			}()
			wg.Wait()
			close(stop)
			for i := range before {
				if a, _ := c.Sum(s.DestID(i)); a != before[i] {
					t.Errorf("dest %d: %d active, want %d", i, a, before[i])
				}
			}
			for core := range 2 {
				s.Expire(core, int64(time.Hour), 1000)
			}
			for i := range s.Len() {
				if p := c.Persist(s.DestID(i)); p != 0 {
					t.Errorf("dest %d: %d templates left", i, p)
				}
			}
		})
	}
}
