package sched

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

var allKinds = []Kind{RR, WRR, LC, WLC, SED, NQ, SH, DH, LBLC, LBLCR, MH, FO, OVF, TWOS}

// dests returns one destination per weight, at 10.0.i.1:80. IDs are 3i+7, so a
// test that confused index and ID would fail.
func dests(weights ...int32) []DestConf {
	ds := make([]DestConf, len(weights))
	for i, w := range weights {
		ds[i] = DestConf{
			ID:     uint32(3*i + 7),
			Addr:   netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}),
			Port:   80,
			Weight: w,
		}
	}
	return ds
}

// mustService builds a service; its tables are seeded with 1 (WithSeed) unless
// opts say otherwise, so that every run lays them out alike.
func mustService(t testing.TB, kind Kind, flags Flags, ds []DestConf, c *Conns, ncores int, opts ...Option) *Service {
	t.Helper()
	s, err := NewService(kind, flags, ds, c, ncores, append([]Option{WithSeed(1)}, opts...)...)
	if err != nil {
		t.Fatalf("NewService(%s, %v): %v", kind, ds, err)
	}
	return s
}

// client returns a TCP key from 198.18.a.b:port to 192.0.2.1:80.
func client(n int, port uint16) Key {
	return Key{
		Proto: protoTCP,
		Src:   netip.AddrFrom4([4]byte{198, 18, byte(n >> 8), byte(n)}),
		Dst:   netip.MustParseAddr("192.0.2.1"),
		SPort: port,
		DPort: 80,
	}
}

// target returns a key whose destination address varies (lblc, lblcr, dh).
func target(n int) Key {
	k := client(1, 1000)
	k.Dst = netip.AddrFrom4([4]byte{203, 0, byte(n >> 8), byte(n)})
	return k
}

// setConns spreads active and inactive counts of destination id over the cores of
// c at random (each core's row stays non-negative), replacing what was there.
func setConns(r *rand.Rand, c *Conns, id uint32, active, inactive int32) {
	for core := range c.Cores() {
		cl := c.cell(core, id)
		cl.active.Store(0)
		cl.inactive.Store(0)
	}
	for core := range c.Cores() {
		a, in := active, inactive
		if core < c.Cores()-1 {
			a, in = r.Int32N(active+1), r.Int32N(inactive+1)
		}
		c.Add(core, id, a, in)
		active -= a
		inactive -= in
	}
}

func seeded(t testing.TB) *rand.Rand {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	return rand.New(rand.NewPCG(seed, 0x5eed))
}

// randomWeights draws n weights, mostly small (ties are frequent), one in
// eight anywhere up to MaxWeight.
func randomWeights(r *rand.Rand, n int) []int32 {
	ws := make([]int32, n)
	for i := range ws {
		ws[i] = r.Int32N(5)
		if r.IntN(8) == 0 {
			ws[i] = r.Int32N(MaxWeight + 1)
		}
	}
	return ws
}

func (d DestConf) String() string {
	return fmt.Sprintf("{id %d %s w%d x%d y%d}", d.ID, netip.AddrPortFrom(d.Addr, d.Port), d.Weight, d.UThresh, d.LThresh)
}

// connect is PickPersistent for a connection that completes its handshake at
// once: a TCP connection's template is bound (Bind) straight away.
func connect(s *Service, core int, k Key, now int64) (int, int32) {
	i, h := s.PickPersistent(core, k, now)
	if h == TemplateAtHandshake {
		h = s.Bind(core, k, s.DestID(i), now)
	}
	return i, h
}
