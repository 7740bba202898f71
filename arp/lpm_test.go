package arp

import (
	"math/rand/v2"
	"testing"

	"fngw/header"
	"fngw/mix"
)

// refLookup is the linear-scan reference: the longest prefix containing a,
// and of its next hops the one a's hash picks.
func refLookup(routes []lpmRoute, a uint32) (nexthop, bool) {
	best, found := -1, false
	var nh nexthop
	for _, r := range routes {
		if a&prefixMask(r.bits) == r.addr && int(r.bits) > best {
			best, nh, found = int(r.bits), r.nh[mix.Uint64(uint64(a))%uint64(len(r.nh))], true
		}
	}
	nh.paths = 0
	return nh, found
}

func prefixMask(bits uint8) uint32 {
	if bits == 0 {
		return 0
	}
	return ^uint32(0) << (32 - bits)
}

// randRoutes returns n routes with distinct prefixes, clustered so that many
// nest inside each other across the 16- and 24-bit level boundaries.
func randRoutes(r *rand.Rand, n int) []lpmRoute {
	seen := map[[2]uint32]bool{}
	var rs []lpmRoute
	bases := []uint32{0x0a000000, 0xc0a80000, 0xc6120000, r.Uint32()}
	for len(rs) < n {
		bits := uint8(r.IntN(33))
		a := bases[r.IntN(len(bases))] ^ (r.Uint32() >> r.IntN(32)) // near a base
		if r.IntN(4) == 0 {
			a = r.Uint32()
		}
		a &= prefixMask(bits)
		if seen[[2]uint32{a, uint32(bits)}] {
			continue
		}
		seen[[2]uint32{a, uint32(bits)}] = true
		var nh []nexthop // mostly one next hop, sometimes a multipath route
		for range 1 + r.IntN(4)/3*r.IntN(4) {
			nh = append(nh, nexthop{port: uint16(len(rs)), via: header.Addr4FromUint32(r.Uint32())})
		}
		rs = append(rs, lpmRoute{addr: a, bits: bits, nh: nh})
	}
	return rs
}

func TestLPMMatchesLinearScan(t *testing.T) {
	for _, n := range []int{0, 1, 5, 50, 400} {
		r := rand.New(rand.NewPCG(uint64(n), 99))
		routes := randRoutes(r, n)
		tbl := buildLPM(routes)
		check := func(a uint32) {
			got, gok := tbl.lookup(a)
			got.paths = 0
			want, wok := refLookup(routes, a)
			if got != want || gok != wok {
				t.Fatalf("%d routes: lookup(%v) = %v,%v; reference %v,%v", n, header.Addr4FromUint32(a), got, gok, want, wok)
			}
		}
		for i := 0; i < 20000; i++ {
			check(r.Uint32())
		}
		// Addresses at and around every prefix's edges.
		for _, rt := range routes {
			last := rt.addr | ^prefixMask(rt.bits)
			for _, a := range []uint32{rt.addr, rt.addr - 1, last, last + 1, rt.addr | r.Uint32()&^prefixMask(rt.bits)} {
				check(a)
			}
		}
	}
}

func TestLPMOrderIndependent(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	routes := randRoutes(r, 100)
	a := buildLPM(routes)
	r.Shuffle(len(routes), func(i, j int) { routes[i], routes[j] = routes[j], routes[i] })
	b := buildLPM(routes)
	for i := 0; i < 10000; i++ {
		x := r.Uint32()
		na, oka := a.lookup(x)
		nb, okb := b.lookup(x)
		if na != nb || oka != okb {
			t.Fatalf("insertion order changed the result for %v", header.Addr4FromUint32(x))
		}
	}
}
