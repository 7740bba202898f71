package nat

import (
	"math/rand/v2"
	"testing"

	"fngw/header"
)

var (
	lip1 = header.Addr4{192, 168, 100, 1}
	lip2 = header.Addr4{192, 168, 100, 2}
	rs1  = header.Addr4{10, 1, 0, 1}
	rs2  = header.Addr4{10, 1, 0, 2}
)

func TestOwnerCore(t *testing.T) {
	for _, tc := range []struct {
		port   uint16
		ncores int
		want   int
	}{{1024, 1, 0}, {1024, 2, 0}, {1025, 2, 1}, {65535, 4, 3}, {1027, 3, 1}} {
		if got := OwnerCore(tc.port, tc.ncores); got != tc.want {
			t.Errorf("OwnerCore(%d, %d) = %d, want %d", tc.port, tc.ncores, got, tc.want)
		}
	}
}

func TestPortPoolsOwnershipSlices(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ncores int
		r      PortRange
	}{
		{"one-core", 1, DefaultPortRange},
		{"two-cores", 2, DefaultPortRange},
		{"three-cores-odd-range", 3, PortRange{Min: 1001, Max: 1100}},
		{"eight-cores", 8, PortRange{Min: 20000, Max: 20999}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			all := map[uint16]int{}
			for core := range tc.ncores {
				p, err := NewPortPools(core, tc.ncores, tc.r, 4, 1)
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for {
					_, port, ok := p.Alloc(header.IPProtoTCP, lip1, rs1, 80)
					if !ok {
						break
					}
					if port < tc.r.Min || port > tc.r.Max {
						t.Fatalf("core %d got port %d outside %d-%d", core, port, tc.r.Min, tc.r.Max)
					}
					if o := OwnerCore(port, tc.ncores); o != core {
						t.Fatalf("core %d got port %d owned by core %d", core, port, o)
					}
					if c, dup := all[port]; dup {
						t.Fatalf("port %d handed out by core %d and core %d", port, c, core)
					}
					all[port] = core
					n++
				}
				if n != p.PerPool() {
					t.Fatalf("core %d: %d ports before exhaustion, PerPool says %d", core, n, p.PerPool())
				}
			}
			if want := int(tc.r.Max) - int(tc.r.Min) + 1; len(all) != want {
				t.Fatalf("cores together handed out %d ports, range has %d", len(all), want)
			}
		})
	}
}

func TestPortPoolsExhaustionAndRelease(t *testing.T) {
	p, err := NewPortPools(0, 1, PortRange{Min: 5000, Max: 5009}, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	var pool int32
	got := make([]uint16, 0, 10)
	for range 10 {
		pl, port, ok := p.Alloc(header.IPProtoUDP, lip1, rs1, 53)
		if !ok {
			t.Fatal("exhausted early")
		}
		pool = pl
		got = append(got, port)
	}
	if _, _, ok := p.Alloc(header.IPProtoUDP, lip1, rs1, 53); ok {
		t.Fatal("11th port of a 10-port range")
	}
	// Another real server, another protocol or another rport: other pools.
	for _, k := range []struct {
		proto uint8
		rip   header.Addr4
		rport uint16
	}{{header.IPProtoUDP, rs2, 53}, {header.IPProtoTCP, rs1, 53}, {header.IPProtoUDP, rs1, 54}} {
		if _, _, ok := p.Alloc(k.proto, lip1, k.rip, k.rport); !ok {
			t.Fatalf("pool %+v exhausted by another pair", k)
		}
	}
	// Released ports come back first-in, first-out.
	p.Free(pool, got[3])
	p.Free(pool, got[7])
	for _, want := range []uint16{got[3], got[7]} {
		if _, port, ok := p.Alloc(header.IPProtoUDP, lip1, rs1, 53); !ok || port != want {
			t.Fatalf("Alloc after Free = %d,%v want %d", port, ok, want)
		}
	}
	p.Publish()
	u := p.Usage(nil)
	if len(u) != 1 || u[0].Addr != lip1 || u[0].InUse != 13 || u[0].Exhausted != 1 {
		t.Fatalf("Usage = %+v, want lip1 with 13 in use and 1 exhaustion", u)
	}
}

func TestPortPoolsBeyond64kPerLaddr(t *testing.T) {
	// One LIP serves a full port range toward every real server.
	p, err := NewPortPools(0, 1, DefaultPortRange, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	per := p.PerPool()
	for _, rs := range []header.Addr4{rs1, rs2} {
		for i := range per {
			if _, _, ok := p.Alloc(header.IPProtoTCP, lip1, rs, 80); !ok {
				t.Fatalf("toward %s: exhausted after %d of %d", rs, i, per)
			}
		}
	}
	p.Publish()
	u := p.Usage(nil)
	if len(u) != 1 || u[0].InUse != int64(2*per) || 2*per <= 65536 {
		t.Fatalf("Usage = %+v, want %d (> 64k) in use on one LIP", u, 2*per)
	}
}

func TestPortPoolsAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	p, err := NewPortPools(1, 2, PortRange{Min: 1024, Max: 1223}, 8, 1) // 100 ports per pool
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		lip header.Addr4
		rip header.Addr4
	}
	type held struct {
		pool int32
		port uint16
	}
	inUse := map[key]map[uint16]bool{}
	var live []struct {
		k key
		h held
	}
	lips := []header.Addr4{lip1, lip2}
	// 300 real servers: 600 pools, far more than PortPools.recent holds,
	// so its entries are replaced all the time.
	rss := []header.Addr4{rs1, rs2}
	for i := range 298 {
		rss = append(rss, header.Addr4{10, 2, byte(i >> 8), byte(i)})
	}
	poolOf := map[key]int32{}
	for step := range 50000 {
		if len(live) > 0 && r.IntN(2) == 0 {
			j := r.IntN(len(live))
			e := live[j]
			live[j] = live[len(live)-1]
			live = live[:len(live)-1]
			p.Free(e.h.pool, e.h.port)
			delete(inUse[e.k], e.h.port)
			continue
		}
		k := key{lips[r.IntN(2)], rss[r.IntN(len(rss))]}
		if r.IntN(4) != 0 {
			k.rip = rss[r.IntN(2)] // most connections to two of them: their pools fill up
		}
		if inUse[k] == nil {
			inUse[k] = map[uint16]bool{}
		}
		pool, port, ok := p.Alloc(header.IPProtoTCP, k.lip, k.rip, 443)
		if prev, seen := poolOf[k]; seen && pool != prev {
			t.Fatalf("step %d: pool %d toward %v, %d before", step, pool, k, prev)
		}
		poolOf[k] = pool
		if want := len(inUse[k]) < p.PerPool(); ok != want {
			t.Fatalf("step %d: Alloc ok=%v with %d of %d in use", step, ok, len(inUse[k]), p.PerPool())
		}
		if !ok {
			continue
		}
		if inUse[k][port] {
			t.Fatalf("step %d: port %d handed out twice toward %v", step, port, k)
		}
		if port%2 != 1 {
			t.Fatalf("step %d: core 1 got even port %d", step, port)
		}
		inUse[k][port] = true
		live = append(live, struct {
			k key
			h held
		}{k, held{pool, port}})
	}
	var want [2]int64
	for k, m := range inUse {
		want[k.lip[3]-1] += int64(len(m))
	}
	p.Publish()
	for _, u := range p.Usage(nil) {
		if u.InUse != want[u.Addr[3]-1] {
			t.Fatalf("Usage of %s = %d, reference %d", u.Addr, u.InUse, want[u.Addr[3]-1])
		}
	}
}

func TestPortPoolsAllocFreeNoAllocs(t *testing.T) {
	p, _ := NewPortPools(0, 1, DefaultPortRange, 4, 1)
	// Warm up: create the pool and grow its ring to the working set.
	var ports [64]uint16
	var pool int32
	for i := range ports {
		pool, ports[i], _ = p.Alloc(header.IPProtoTCP, lip1, rs1, 80)
	}
	for _, port := range ports {
		p.Free(pool, port)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		for i := range ports {
			_, ports[i], _ = p.Alloc(header.IPProtoTCP, lip1, rs1, 80)
		}
		for _, port := range ports {
			p.Free(pool, port)
		}
	})
	if allocs != 0 {
		t.Fatalf("Alloc/Free cycle allocates %.1f times", allocs)
	}
}

func TestNewPortPoolsRejects(t *testing.T) {
	for _, tc := range []struct {
		core, ncores int
		r            PortRange
		max          int
	}{
		{0, 0, DefaultPortRange, 1},
		{2, 2, DefaultPortRange, 1},
		{0, 1, PortRange{Min: 0, Max: 10}, 1},
		{0, 1, PortRange{Min: 10, Max: 9}, 1},
		{3, 4, PortRange{Min: 1024, Max: 1025}, 1}, // no port for core 3
		{0, 1, DefaultPortRange, 0},
	} {
		if _, err := NewPortPools(tc.core, tc.ncores, tc.r, tc.max, 1); err == nil {
			t.Errorf("NewPortPools(%+v) succeeded", tc)
		}
	}
}
