package sched

import (
	"math/bits"
	"net/netip"
)

// mhSize is the Maglev lookup table size: a prime, as the permutations need, and
// the size the Maglev paper uses. (ip_vs_mh picks one of a list of primes, 4093 by
// default; a larger table moves fewer keys when destinations change.)
const mhSize = 65537

// mhWeightBits bounds the turns a destination takes per round: max(weight)/gcd is
// shifted right until it fits in this many bits, as ip_vs_mh_shift_weight does with
// IP_VS_MH_TAB_BITS (6), so that one heavy destination cannot fill the table in one
// round. Small weight ratios are kept exactly; large ones are rounded.
const mhWeightBits = 6

// buildMaglev builds the Maglev lookup table (Eisenbud et al., NSDI 2016, §3.4) as
// ip_vs_mh_populate does. Every destination with a weight — or, when quiesced, a
// last weight (ip_vs_mh uses last_weight) — has a permutation of the slots given by
// an offset and a skip hashed from its address and port; in turns, each fills its
// next free preferred slot, weight/gcd (shifted) times per turn. Destinations take
// turns in address:port order, so the table depends only on the set of destinations
// and their weights, not on the order they were configured in. It returns the table
// (destination indexes) and the destinations that own slots.
func buildMaglev(conf []DestConf) (table, members []uint16) {
	table = make([]uint16, mhSize)
	for c := range table {
		table[c] = noDest
	}
	lastWeight := func(d DestConf) int32 {
		if d.Weight > 0 {
			return d.Weight
		}
		return d.LastWeight
	}
	var g, top int32
	for _, i := range sortedOrder(conf) {
		if w := lastWeight(conf[i]); w > 0 {
			members = append(members, i)
			g = gcd(g, w)
			top = max(top, w)
		}
	}
	if len(members) == 0 {
		return table, nil
	}
	shift := max(bits.Len32(uint32(top/g))-mhWeightBits, 0)
	next := make([]uint32, len(members))
	skip := make([]uint32, len(members))
	turns := make([]int32, len(members))
	for j, i := range members {
		d := conf[i]
		next[j] = uint32(hashKey(d.Addr, d.Port, seedMHOffset) % mhSize)
		skip[j] = uint32(hashKey(d.Addr, d.Port, seedMHSkip)%(mhSize-1)) + 1
		turns[j] = max((lastWeight(d)/g)>>shift, 1)
	}
	filled := 0
	for {
		for j, i := range members {
			for range turns[j] {
				c := next[j]
				for table[c] != noDest {
					if c += skip[j]; c >= mhSize {
						c -= mhSize
					}
				}
				next[j] = c
				table[c] = i
				if filled++; filled == mhSize {
					return table, members
				}
			}
		}
	}
}

// pickMH is ip_vs_mh_schedule: the destination in the client's slot (the client
// address, plus its port with mh-port), if available. With mh-fallback an
// unavailable destination's keys are rehashed with growing offsets until a slot
// holds an available one (ip_vs_mh_get_fallback).
func (s *Service) pickMH(cs *coreState, src netip.Addr, port uint16) int {
	i := s.table[hashKey(src, port, seedMHKey)%mhSize]
	if i == noDest {
		return -1
	}
	if s.usable(cs, int(i)) {
		return int(i)
	}
	if s.flags&MHFallback == 0 || !s.anyMemberUsable(cs) {
		return -1
	}
	for r := uint64(1); r < mhSize; r++ {
		if i = s.table[hashKey(src, port, seedMHKey+r)%mhSize]; s.usable(cs, int(i)) {
			return int(i)
		}
	}
	return -1
}

// anyMemberUsable bounds the fallback search: without an available destination in
// the table it would walk all of it.
func (s *Service) anyMemberUsable(cs *coreState) bool {
	for _, i := range s.mhMembers {
		if s.usable(cs, int(i)) {
			return true
		}
	}
	return false
}
