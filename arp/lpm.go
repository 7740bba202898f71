package arp

import (
	"slices"

	"fngw/header"
	"fngw/mix"
)

// lpm is an immutable IPv4 longest-prefix-match table in the DIR-16-8-8 layout
// (Gupta, Lin, McKeown, "Routing lookups in hardware at memory access speeds",
// with the 24-bit first level split 16+8 to keep it at 256 KiB): a lookup reads
// at most three uint32 entries. The tables hold no pointers, so the GC never
// scans them, and a built lpm is only read: any number of goroutines may call
// lookup concurrently.
//
// An entry is 0 (no route), a 1-based index into nh, or lpmExt|g: the address
// continues in the 256-entry group g of tbl8 (indexed by the next octet). A
// multipath route's next hops are consecutive in nh, the first one saying
// how many (paths).
type lpm struct {
	tbl16 []uint32 // 65536 entries, indexed by the top 16 bits
	tbl8  []uint32 // groups of 256 entries
	nh    []nexthop
}

const lpmExt = 1 << 31

// nexthop is what a route resolves to. via is zero for on-link routes
// (connected subnets and "dev"-only static routes): the destination itself is
// then the next hop.
type nexthop struct {
	port  uint16
	paths uint8 // the first of a route's next hops: how many it has
	via   header.Addr4
}

// lpmRoute is one prefix of a build: addr is masked to bits; nh its next
// hops (one, or the paths of a multipath route).
type lpmRoute struct {
	addr uint32
	bits uint8
	nh   []nexthop
}

// buildLPM builds a table from routes with distinct prefixes. Prefixes are
// written shortest first, so a longer prefix simply overwrites the part of a
// shorter one it covers and no entry needs to remember its prefix length.
func buildLPM(routes []lpmRoute) *lpm {
	rs := slices.Clone(routes)
	slices.SortFunc(rs, func(a, b lpmRoute) int { return int(a.bits) - int(b.bits) })
	t := &lpm{tbl16: make([]uint32, 1<<16), nh: make([]nexthop, 0, len(rs))}
	for _, r := range rs {
		first := len(t.nh) + 1
		for i, h := range r.nh {
			if i == 0 {
				h.paths = uint8(len(r.nh))
			}
			t.nh = append(t.nh, h)
		}
		t.insert(r.addr, r.bits, uint32(first))
	}
	return t
}

// group returns the tbl8 group that entry e continues in. When e is not
// extended yet it appends a group filled with e's value; the caller stores the
// returned entry in e's place (tbl8 may have moved, so no pointer into it is
// held across the append).
func (t *lpm) group(e uint32) (g int, ext uint32) {
	if e&lpmExt != 0 {
		return int(e &^ lpmExt), e
	}
	g = len(t.tbl8) / 256
	for range 256 {
		t.tbl8 = append(t.tbl8, e)
	}
	return g, lpmExt | uint32(g)
}

func (t *lpm) insert(addr uint32, bits uint8, v uint32) {
	fill := func(s []uint32) {
		for i := range s {
			s[i] = v
		}
	}
	hi := int(addr >> 16)
	if bits <= 16 {
		fill(t.tbl16[hi : hi+1<<(16-bits)])
		return
	}
	g, e := t.group(t.tbl16[hi])
	t.tbl16[hi] = e
	mid := g<<8 | int(addr>>8&0xff)
	if bits <= 24 {
		fill(t.tbl8[mid : mid+1<<(24-bits)])
		return
	}
	h, e := t.group(t.tbl8[mid])
	t.tbl8[mid] = e
	lo := h<<8 | int(addr&0xff)
	fill(t.tbl8[lo : lo+1<<(32-bits)])
}

// lookup returns the next hop of the longest prefix containing a; of a
// multipath route's, the one a hash of a picks (one destination, one next
// hop; destinations spread over them).
func (t *lpm) lookup(a uint32) (nexthop, bool) {
	e := t.tbl16[a>>16]
	if e&lpmExt != 0 {
		e = t.tbl8[int(e&^lpmExt)<<8|int(a>>8&0xff)]
		if e&lpmExt != 0 {
			e = t.tbl8[int(e&^lpmExt)<<8|int(a&0xff)]
		}
	}
	if e == 0 {
		return nexthop{}, false
	}
	nh := t.nh[e-1]
	if nh.paths > 1 {
		nh = t.nh[e-1+uint32(mix.Uint64(uint64(a))%uint64(nh.paths))]
	}
	return nh, true
}
