package nat

import (
	"fmt"
	"math/bits"
	"sync/atomic"

	"fngw/header"
	"fngw/mix"
)

// PortRange is the range of local ports FULLNAT allocates, inclusive.
type PortRange struct {
	Min, Max uint16
}

// DefaultPortRange is 1024-65535: every unprivileged port.
var DefaultPortRange = PortRange{Min: 1024, Max: 65535}

// OwnerCore returns the core that owns local port lport: ports are sliced
// among cores by lport % ncores, so the core that receives a real server's
// reply to LIP:lport can hand it to the owner (ActRedirect) without a lookup.
func OwnerCore(lport uint16, ncores int) int { return int(lport) % ncores }

// PortPools allocates FULLNAT source ports for one core. What must be unique
// is the 5-tuple toward the real server, so there is one pool per
// (protocol, LIP, RIP, rport): one LIP serves 64k connections to every real
// server, not 64k in all. The core only hands out the ports it owns
// (OwnerCore(port) == core) so replies can be steered to it.
//
// A pool is created on first use (amortised zero allocations: a map insert and
// a struct) and costs about 90 bytes (56 for the pool, the rest its map entry)
// plus 2 bytes per port it has released (at most its slice: 126 KB with one
// core): ports never used yet are handed out first, in an order drawn at
// random per pool (a keyed permutation of the core's slice, RFC 6056's
// advice: a host that sees the real server's side cannot predict the next
// local port, as it could from 1024, 1025, …), released ones go through a
// FIFO ring that grows by doubling and is drawn from once every port has been
// used, so allocation and release are O(1) and never probe, and a released
// port is reused as late as possible: after every other port of the pool.
// That matters because the real server usually closes first and keeps
// LIP:lport in TIME_WAIT (60 s on Linux): a port handed out again within
// that time meets the old connection there, and the client's SYN is answered
// with a stale ACK (a reset and a 1 s retransmission at best, a failed
// connection at worst). Pools are kept when they empty (so a pair's churn
// allocates nothing).
//
// A PortPools is owned by its core; only Usage may be called from other
// goroutines.
type PortPools struct {
	first uint16 // the lowest port this core owns
	step  uint16 // ncores
	count uint32 // how many ports this core owns
	half  uint   // bits of each half of permute's Feistel network
	seed  uint64 // keys each pool's permutation
	// sequential: never-used ports go in ascending order (Config.SequentialPorts).
	sequential bool
	pools      []portPool
	index      map[poolKey]int32
	laddrs     []laddrStat // per LIP, fixed size so that Usage can read it concurrently
	// counts are the core's own laddrs counts (inUse, exhausted per LIP),
	// published into laddrs by Publish: an atomic store per port handed
	// out or released cost a locked instruction (XCHG) each on amd64.
	counts []laddrCount
	dirty  []int32 // laddrs indexes changed since the last Publish
	// recent caches index entries, direct-mapped by poolKey.slot: a new
	// flow finds its pool there without hashing the key for the map. 256
	// entries: at 64 the 32 LIP × real server pairs of the bench's services
	// collided enough for the map to show in the profiles.
	recent [poolCacheSize]poolCacheEntry
}

const (
	poolCacheBits = 8
	poolCacheSize = 1 << poolCacheBits
)

type poolCacheEntry struct {
	k    poolKey
	pool int32 // index into pools + 1; 0 = empty
}

// poolKey names a pool: the local and real server addresses (addrs: LIP in
// the high half), the real server's port and the protocol (port: rport<<8 |
// proto). Two words, built and compared in registers: a struct of the four
// fields was stored field by field and read back whole, which stalls on
// store forwarding at every new flow.
type poolKey struct {
	addrs uint64
	port  uint32
}

func newPoolKey(proto uint8, lip, rip header.Addr4, rport uint16) poolKey {
	return poolKey{addrs: uint64(lip.Uint32())<<32 | uint64(rip.Uint32()), port: uint32(rport)<<8 | uint32(proto)}
}

// slot returns k's place in PortPools.recent (multiply-shift over its words).
func (k poolKey) slot() uint32 {
	return uint32((k.addrs ^ uint64(k.port)) * 0x9e3779b97f4a7c15 >> (64 - poolCacheBits))
}

type portPool struct {
	ring  []uint16 // released ports, FIFO; len is 0 or a power of two
	head  uint32   // next ring slot to hand out
	n     uint32   // ports in the ring
	next  uint32   // the first next ports of the pool's permutation were handed out at least once
	inUse uint32
	laddr int32  // index into laddrs, -1 when that table was full
	key   uint32 // the pool's permutation (permute)
	hand  uint32 // the next slot of the slice Scan names
}

// laddrStat is one local address's port counts on this core as Usage reads
// them from any goroutine; only the owning core writes them (laddrSlot,
// Publish).
type laddrStat struct {
	addr      atomic.Uint32 // header.Addr4 as a big-endian uint32; 0 = unused slot
	inUse     atomic.Int64
	exhausted atomic.Uint64
}

// laddrCount is the owning core's working copy of a laddrStat's counts.
type laddrCount struct {
	inUse     int64
	exhausted uint64
	dirty     bool // listed in PortPools.dirty
}

// LaddrUsage is one local address's usage on one core, for ipvsadm
// --get-laddr: ports in use and new flows refused for lack of a port.
type LaddrUsage struct {
	Addr      header.Addr4
	InUse     int64
	Exhausted uint64
}

// NewPortPools prepares the pools of core (of ncores) over range r, tracking
// at most maxLaddrs local addresses' usage; seed keys the order in which each
// pool hands its ports out first (random in production).
func NewPortPools(core, ncores int, r PortRange, maxLaddrs int, seed uint64) (*PortPools, error) {
	if ncores < 1 || ncores > 1024 || core < 0 || core >= ncores {
		return nil, fmt.Errorf("core %d of %d cores: want 0 <= core < ncores <= 1024", core, ncores)
	}
	if r.Min == 0 || r.Min > r.Max {
		return nil, fmt.Errorf("local port range %d-%d: want 1 <= min <= max", r.Min, r.Max)
	}
	if maxLaddrs < 1 {
		return nil, fmt.Errorf("max local addresses %d: want at least 1", maxLaddrs)
	}
	first := int(r.Min) + (core-int(r.Min)%ncores+ncores)%ncores
	if first > int(r.Max) {
		return nil, fmt.Errorf("local port range %d-%d leaves no port to core %d of %d", r.Min, r.Max, core, ncores)
	}
	count := uint32((int(r.Max)-first)/ncores + 1)
	return &PortPools{
		first:  uint16(first),
		step:   uint16(ncores),
		count:  count,
		half:   uint(max(bits.Len32(count-1)+1, 2) / 2),
		seed:   seed ^ uint64(core)*0x9e3779b97f4a7c15,
		index:  make(map[poolKey]int32),
		laddrs: make([]laddrStat, maxLaddrs),
		counts: make([]laddrCount, maxLaddrs),
		dirty:  make([]int32, 0, maxLaddrs),
	}, nil
}

// PerPool returns how many ports each pool of this core can hand out.
func (p *PortPools) PerPool() int { return int(p.count) }

// Alloc returns a free port of the pool for (proto, lip, rip, rport) and the
// pool's handle for Free; ok is false when this core's slice is exhausted
// toward that real server (the new flow is dropped; existing ones are
// untouched).
func (p *PortPools) Alloc(proto uint8, lip, rip header.Addr4, rport uint16) (pool int32, lport uint16, ok bool) {
	k := newPoolKey(proto, lip, rip, rport)
	c := &p.recent[k.slot()]
	pool = c.pool - 1
	if pool < 0 || c.k != k {
		var found bool
		if pool, found = p.index[k]; !found {
			pool = int32(len(p.pools))
			key := uint32(mix.Uint64(p.seed ^ k.addrs ^ uint64(k.port)<<40))
			p.pools = append(p.pools, portPool{laddr: p.laddrSlot(lip), key: key})
			p.index[k] = pool
		}
		c.k, c.pool = k, pool+1
	}
	pp := &p.pools[pool]
	switch {
	case pp.next < p.count: // never used: first (see PortPools on TIME_WAIT)
		slot := pp.next
		if !p.sequential {
			slot = p.permute(pp.key, slot)
		}
		lport = p.first + uint16(slot)*p.step
		pp.next++
	case pp.n > 0: // the port released longest ago
		lport = pp.ring[pp.head]
		pp.head = (pp.head + 1) & uint32(len(pp.ring)-1)
		pp.n--
	default:
		if pp.laddr >= 0 {
			p.tally(pp.laddr).exhausted++
		}
		return pool, 0, false
	}
	pp.inUse++
	if pp.laddr >= 0 {
		p.tally(pp.laddr).inUse++
	}
	return pool, lport, true
}

// Lookup returns the handle of the pool for (proto, lip, rip, rport), which
// Alloc created, for Free. It allocates nothing.
func (p *PortPools) Lookup(proto uint8, lip, rip header.Addr4, rport uint16) (int32, bool) {
	k := newPoolKey(proto, lip, rip, rport)
	if c := &p.recent[k.slot()]; c.pool > 0 && c.k == k {
		return c.pool - 1, true
	}
	pool, ok := p.index[k]
	return pool, ok
}

// Scan returns the next port of pool's slice in a round over it (a clock
// hand: each call names the port after the last call's), for a caller
// looking for ports to reclaim (Core.reclaimPort). The port may be free.
func (p *PortPools) Scan(pool int32) uint16 {
	pp := &p.pools[pool]
	i := pp.hand
	if pp.hand++; pp.hand == p.count {
		pp.hand = 0
	}
	return p.first + uint16(i)*p.step
}

// permute maps i in [0, count) to the pool's i-th port slot: a four-round
// Feistel network over the smallest even number of bits that holds count,
// keyed by key, walked until it lands inside [0, count) (cycle walking:
// every value it passes through is a slot of the same cycle, so the map is a
// bijection of [0, count)). More than a quarter of the network's domain
// lies inside, so a walk takes fewer than four steps on average.
func (p *PortPools) permute(key, i uint32) uint32 {
	for {
		i = feistel(i, key, p.half)
		if i < p.count {
			return i
		}
	}
}

// feistel is a four-round balanced Feistel network on 2*half bits.
func feistel(x, key uint32, half uint) uint32 {
	mask := uint32(1)<<half - 1
	l, r := x>>half, x&mask
	for round := range uint32(4) {
		f := (r ^ key ^ round*0x85ebca6b) * 0x9e3779b1
		f ^= f >> 15
		l, r = r, (l^f)&mask
	}
	return l<<half | r
}

// Free returns lport to pool (a handle from Alloc).
func (p *PortPools) Free(pool int32, lport uint16) {
	pp := &p.pools[pool]
	if pp.n == uint32(len(pp.ring)) {
		pp.grow()
	}
	pp.ring[(pp.head+pp.n)&uint32(len(pp.ring)-1)] = lport
	pp.n++
	pp.inUse--
	if pp.laddr >= 0 {
		p.tally(pp.laddr).inUse--
	}
}

// grow doubles the ring (from 16), unrolling it so that head is 0. A ring never
// holds more than the core's slice, so it tops out at the next power of two.
func (pp *portPool) grow() {
	n := max(2*len(pp.ring), 16)
	ring := make([]uint16, n)
	for i := range pp.n {
		ring[i] = pp.ring[(pp.head+i)&uint32(len(pp.ring)-1)]
	}
	pp.ring, pp.head = ring, 0
}

// tally returns the working counts of usage slot i, marking them for Publish.
func (p *PortPools) tally(i int32) *laddrCount {
	c := &p.counts[i]
	if !c.dirty {
		c.dirty = true
		p.dirty = append(p.dirty, i) // at most one entry per slot: no growth
	}
	return c
}

// Publish makes the counts changed since the last call visible to Usage.
// The owning core calls it once per burst (Core.Flush).
func (p *PortPools) Publish() {
	for _, i := range p.dirty {
		c, l := &p.counts[i], &p.laddrs[i]
		l.inUse.Store(c.inUse)
		l.exhausted.Store(c.exhausted)
		c.dirty = false
	}
	p.dirty = p.dirty[:0]
}

// laddrSlot finds or claims the usage slot of lip (at pool creation only).
func (p *PortPools) laddrSlot(lip header.Addr4) int32 {
	a := lip.Uint32()
	for i := range p.laddrs {
		switch p.laddrs[i].addr.Load() {
		case a:
			return int32(i)
		case 0:
			p.laddrs[i].addr.Store(a)
			return int32(i)
		}
	}
	return -1
}

// Usage appends this core's per-LIP usage, as of its last Publish, to dst.
// Safe from any goroutine.
func (p *PortPools) Usage(dst []LaddrUsage) []LaddrUsage {
	for i := range p.laddrs {
		l := &p.laddrs[i]
		a := l.addr.Load()
		if a == 0 {
			break
		}
		dst = append(dst, LaddrUsage{Addr: header.Addr4FromUint32(a), InUse: l.inUse.Load(), Exhausted: l.exhausted.Load()})
	}
	return dst
}
