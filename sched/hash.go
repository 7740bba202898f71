package sched

import (
	"encoding/binary"
	"net/netip"

	"fngw/mix"
)

// Fixed seeds for the schedulers whose choice must be the same on every
// director: LVS users run sh, dh and mh on two directors (active/standby or
// ECMP) and rely on both sending a client to the same real server. An
// outsider can compute these hashes, which is harmless: they index a fixed
// table, not a chain. The hash tables that chain (persistence templates,
// lblc/lblcr entries) are seeded at random instead (WithSeed).
const (
	seedBucket   = 0x9e3779b97f4a7c15 // sh, dh keys
	seedMHKey    = 0xc2b2ae3d27d4eb4f // mh keys
	seedMHOffset = 0x165667b19e3779f9 // mh destination offsets
	seedMHSkip   = 0x27d4eb2f165667c5 // mh destination skips
)

// hashKey hashes an address and a port. LVS folds an IPv6 address into 32 bits
// before hashing; this hashes all of it, so IPv6 clients that differ only in folded
// words do not collide.
func hashKey(a netip.Addr, port uint16, seed uint64) uint64 {
	if a.Is4() {
		b := a.As4()
		return mix.Uint64(seed ^ uint64(binary.BigEndian.Uint32(b[:]))<<16 ^ uint64(port))
	}
	b := a.As16()
	h := mix.Uint64(seed ^ binary.BigEndian.Uint64(b[:8]))
	h = mix.Uint64(h ^ binary.BigEndian.Uint64(b[8:]))
	return mix.Uint64(h ^ uint64(port))
}

// The sh and dh bucket table. LVS's default has 256 buckets
// (CONFIG_IP_VS_SH_TAB_BITS=8, also dh's); this one has 4096 (a size LVS allows),
// so that weights summing up to 4096 are honoured exactly.
const (
	bucketBits = 12
	bucketSize = 1 << bucketBits
)

// buildBuckets fills the sh/dh table. For sh it is ip_vs_sh_reassign:
// destinations take turns, each filling as many consecutive buckets as its weight
// (one if its weight is 0: the bucket exists but is unavailable), round after round
// until the table is full. For dh (weighted false) it is ip_vs_dh_reassign: one
// bucket per destination per turn, whatever the weights, so 9:1 weights share the
// keys 1:1 (LVS's dh reads a weight only to call 0 unavailable). The turns follow
// address:port order, so every node builds the same table.
func buildBuckets(conf []DestConf, weighted bool) []uint16 {
	t := make([]uint16, bucketSize)
	order := sortedOrder(conf)
	if len(order) == 0 {
		for b := range t {
			t[b] = noDest
		}
		return t
	}
	b := 0
	for b < bucketSize {
		for _, i := range order {
			n := int32(1)
			if weighted {
				n = max(conf[i].Weight, 1)
			}
			for ; n > 0 && b < bucketSize; n-- {
				t[b] = i
				b++
			}
		}
	}
	return t
}

// pickBucket is ip_vs_sh_schedule and ip_vs_dh_schedule: the destination of the
// key's bucket, if available. Without fallback an unavailable one means no
// destination. With fallback (sh-fallback) the search goes on around the table from
// a second bucket the key picks (LVS restarts from an offset of the first hash too),
// so that an unavailable destination's keys spread over the others in proportion to
// their buckets rather than all landing on its neighbour.
func (s *Service) pickBucket(cs *coreState, h uint64, fallback bool) int {
	i := s.table[h>>(64-bucketBits)]
	if i == noDest {
		return -1
	}
	if s.usable(cs, int(i)) {
		return int(i)
	}
	if !fallback {
		return -1
	}
	start := h >> (64 - 2*bucketBits)
	for o := range uint64(bucketSize) {
		if i = s.table[(start+o)&(bucketSize-1)]; s.usable(cs, int(i)) {
			return int(i)
		}
	}
	return -1
}
