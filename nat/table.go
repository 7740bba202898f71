package nat

import (
	"fmt"
	"runtime"
	"unsafe"

	"fngw/prefetch"
)

// TableConfig sizes a Table. Everything is allocated by NewTable; the table
// never grows.
type TableConfig struct {
	// Capacity is the number of sessions (at most 1<<30).
	Capacity int
	// Seed keys the tuple hash. Use a random seed in production so that
	// remote peers cannot aim collisions; tests use a fixed one.
	Seed uint64
	// TickShift sets the timer-wheel tick to 1<<TickShift ns; 0 means 28
	// (about 268 ms).
	TickShift uint
	// Slots is the number of wheel slots, a power of two; 0 means 8192 (a
	// span of about 36 minutes at the default tick: longer deadlines are
	// parked in the last slot and re-filed when it comes round).
	Slots int
}

// Table is one core's IPv4 session table. Sessions live in a preallocated,
// pointer-free array and are named by int32 indexes. Both directions are
// indexed in one open-addressing hash index: Orig under DirIn, Reply under
// DirOut, 20/7 buckets per session (so a load of at most 0.7 with both
// directions indexed), the home bucket chosen by multiply-shift so the
// index need not be a power of two, linear probing, backward-shift deletion
// (no tombstones). A hashed timer wheel of intrusive doubly linked lists (int32 links,
// one sentinel per slot) orders sessions by deadline.
//
// Deadlines are refreshed lazily: Touch only stores the new Expires unless it
// moved before the session's slot, and Expire re-files sessions whose slot
// came round before their deadline (conntrack-style reaping while walking).
//
// A Table is owned by one core and is not safe for concurrent use. An IPv6
// table will be a sibling type with 40-byte tuples sharing Session's
// family-independent fields; Core dispatches on the IP version, no interface.
type Table struct {
	sess    []Session
	link    []link   // [0,cap): sessions; [cap,cap+slots): wheel slot sentinels
	buckets []bucket // hash index
	nb      uint32   // len(buckets)
	seed    uint64
	free    int32 // head of the free list (through link.next), -1 when full
	n       int

	shift    uint  // tick = 1<<shift ns
	slotMask int64 // slots - 1
	cursor   int64 // next tick Expire processes; every linked session's slot is >= cursor
}

// bucket is one hash index slot: h is the low 32 bits of the tuple's hash
// (its home position and a tag), v is (index<<1 | dir) + 1, zero when empty.
type bucket struct {
	h, v uint32
}

// link is a session's place in a wheel slot list, or in the free list (prev
// -1). A session popped by Expire and not yet deleted links to itself.
type link struct {
	prev, next int32
}

// Memory per session: Session + link (8 bytes) + 20/7 index buckets (22.9).

// NewTable allocates a table, its memory committed (see newArray and commit:
// resident, off the Go heap when large, on transparent huge pages where the
// kernel grants them); now (monotonic ns)
// starts the timer wheel.
func NewTable(cfg TableConfig, now int64) (*Table, error) {
	if cfg.Capacity < 1 || cfg.Capacity > 1<<30 {
		return nil, fmt.Errorf("session table capacity %d out of range [1, %d]", cfg.Capacity, 1<<30)
	}
	if cfg.TickShift == 0 {
		cfg.TickShift = 28
	}
	if cfg.TickShift > 40 {
		return nil, fmt.Errorf("timer wheel tick shift %d too large (at most 40)", cfg.TickShift)
	}
	if cfg.Slots == 0 {
		cfg.Slots = 8192
	}
	if cfg.Slots < 2 || cfg.Slots > 1<<24 || cfg.Slots&(cfg.Slots-1) != 0 {
		return nil, fmt.Errorf("timer wheel slots %d: want a power of two in [2, %d]", cfg.Slots, 1<<24)
	}
	nb := (20*cfg.Capacity + 6) / 7 // two entries per session at most: load <= 0.7
	t := &Table{
		nb:       uint32(nb),
		seed:     cfg.Seed,
		shift:    cfg.TickShift,
		slotMask: int64(cfg.Slots - 1),
		cursor:   now >> cfg.TickShift,
	}
	var maps [3][]byte
	t.sess, maps[0] = newArray[Session](cfg.Capacity)
	t.link, maps[1] = newArray[link](cfg.Capacity + cfg.Slots)
	t.buckets, maps[2] = newArray[bucket](nb)
	if maps[0] != nil || maps[1] != nil || maps[2] != nil {
		// Nothing points into the arrays once the Table is unreachable:
		// sessions are reached only through it.
		runtime.AddCleanup(t, unmapArrays, maps[:])
	}
	for i := range cfg.Capacity {
		t.link[i] = link{prev: -1, next: int32(i + 1)}
	}
	t.link[cfg.Capacity-1].next = -1
	for i := cfg.Capacity; i < len(t.link); i++ {
		t.link[i] = link{prev: int32(i), next: int32(i)}
	}
	return t, nil
}

// Cap returns the capacity in sessions.
func (t *Table) Cap() int { return len(t.sess) }

// live reports whether session idx is in use (not on the free list).
func (t *Table) live(idx int32) bool { return t.link[idx].prev >= 0 }

// Len returns the number of live sessions.
func (t *Table) Len() int { return t.n }

// At returns session idx. The pointer is valid until the session is deleted.
func (t *Table) At(idx int32) *Session { return &t.sess[idx] }

// home returns the first bucket of hash h's probe run (Lemire's
// multiply-shift: h's high bits pick the bucket, all 32 are the tag).
func (t *Table) home(h uint32) uint32 { return uint32(uint64(h) * uint64(t.nb) >> 32) }

// next returns the bucket after i, wrapping.
func (t *Table) next(i uint32) uint32 {
	if i++; i == t.nb {
		return 0
	}
	return i
}

// Lookup finds the session with a tuple equal to k in either direction and
// returns its index and the direction k matched, or -1.
func (t *Table) Lookup(k *Tuple4) (int32, Dir) { return t.lookup(k, t.Hash(k)) }

// lookup is Lookup given k's hash h.
func (t *Table) lookup(k *Tuple4, h uint32) (int32, Dir) {
	for i := t.home(h); ; i = t.next(i) {
		b := t.buckets[i]
		if b.v == 0 {
			return -1, 0
		}
		if b.h == h {
			idx, d := int32((b.v-1)>>1), Dir((b.v-1)&1)
			if *t.sess[idx].In(d) == *k {
				return idx, d
			}
		}
	}
}

// A burst of packets looks its sessions up in steps, so that the cache and
// TLB misses of all of them overlap: prefetch BucketAddr(h) for every
// packet's hash h = t.Hash(k), then Candidate(h) for every packet and
// prefetch SessionAddrs of the candidates, then LookupHint(k, h, candidate)
// while processing each. A candidate is only a
// guess (a tag match in the first bucket line); LookupHint verifies it
// against the live session and falls back to Lookup, so sessions created or
// deleted between the steps are never missed or mistaken.

// Hash returns the tuple's hash, as Prefetch and Candidate take it.
func (t *Table) Hash(k *Tuple4) uint32 { return uint32(k.hash(t.seed)) }

// BucketAddr returns the address of hash h's home bucket, to prefetch.
func (t *Table) BucketAddr(h uint32) uintptr { return uintptr(unsafe.Pointer(&t.buckets[t.home(h)])) }

// SessionAddrs returns the addresses of the first and the last byte of
// session idx, to prefetch the (at most two) lines it spans.
func (t *Table) SessionAddrs(idx int32) (uintptr, uintptr) {
	p := uintptr(unsafe.Pointer(&t.sess[idx]))
	return p, p + unsafe.Sizeof(Session{}) - 1
}

// candidateProbes bounds the buckets Candidate reads: the home bucket's
// cache line and a little beyond (eight 8-byte buckets per line).
const candidateProbes = 4

// Candidate returns the first index entry tagged h in h's probe run, as
// idx<<1 | dir; -1 when none is found within candidateProbes buckets.
func (t *Table) Candidate(h uint32) int32 {
	i := t.home(h)
	for range candidateProbes {
		b := t.buckets[i]
		if b.v == 0 {
			return -1
		}
		if b.h == h {
			return int32(b.v - 1)
		}
		i = t.next(i)
	}
	return -1
}

// LookupHint is Lookup given k's hash h and Candidate's answer for it
// (negative: none): when the candidate session is live and has tuple k in
// its direction, that is the answer (tuples are unique in the table, and
// Delete clears a freed session's tuples); otherwise it looks k up.
func (t *Table) LookupHint(k *Tuple4, h uint32, cand int32) (int32, Dir) {
	if cand >= 0 {
		idx, d := cand>>1, Dir(cand&1)
		if *t.sess[idx].In(d) == *k {
			return idx, d
		}
	}
	return t.lookup(k, h)
}

// Insert adds a session with the given tuples (reply.Proto == 0: not indexed
// in the reply direction) and deadline, zeroing every other field, and
// returns its index. It fails with ReasonTableFull at capacity and
// ReasonSessionConflict when a tuple is already in use.
func (t *Table) Insert(orig, reply *Tuple4, expires int64) (int32, DropReason) {
	if t.free < 0 {
		return -1, ReasonTableFull
	}
	h := t.Hash(orig)
	if i, _ := t.lookup(orig, h); i >= 0 {
		return -1, ReasonSessionConflict
	}
	idx, r := t.insertOrig(orig, h, reply, expires)
	if r != ReasonNone || reply.Proto == 0 {
		return idx, r
	}
	return idx, t.indexReply(idx, t.Hash(reply))
}

// insertOrig is the first half of Insert for a caller that has just looked
// orig (whose hash is h) up and missed, with no insertion since: it adds the
// session indexed under orig only. Unless reply.Proto is 0 (not indexed),
// the caller then calls indexReply, which completes or undoes the
// insertion (a session indexed under its reply tuple meanwhile makes it a
// conflict). In between the table may serve other lookups, insertions and
// deletions, but not Delete of this session: it would look for a reply
// tuple that is not indexed (Core settles a deferred flow first: see
// deferred.go). The halves let a caller prefetch the reply tuple's bucket
// (BucketAddr) and index it once the line has loaded.
func (t *Table) insertOrig(orig *Tuple4, h uint32, reply *Tuple4, expires int64) (int32, DropReason) {
	if t.free < 0 {
		return -1, ReasonTableFull
	}
	if reply.Proto != 0 && *reply == *orig {
		return -1, ReasonSessionConflict
	}
	idx := t.free
	t.free = t.link[idx].next
	if t.free >= 0 {
		// The next new session's lines and its free-list link, so that
		// neither writing it nor popping the one after it waits for a
		// line: after churn the free list is in no order, and popping
		// would wait on each link in turn (BenchmarkNewFlowBurst/churned
		// 605-664 -> 402-449 ns per flow with the link's prefetch).
		first, last := t.SessionAddrs(t.free)
		prefetch.Line(first)
		prefetch.Line(last)
		prefetch.Line(uintptr(unsafe.Pointer(&t.link[t.free])))
	}
	t.sess[idx] = Session{Orig: *orig, Reply: *reply, Expires: expires}
	t.put(h, idx, DirIn)
	t.linkAt(idx, max(expires>>t.shift, t.cursor))
	t.n++
	return idx, ReasonNone
}

// indexReply indexes session idx, which insertOrig added, under its reply
// tuple, whose hash is h. When the tuple is in use it deletes the session
// instead and returns ReasonSessionConflict.
func (t *Table) indexReply(idx int32, h uint32) DropReason {
	s := &t.sess[idx]
	if i, _ := t.lookup(&s.Reply, h); i >= 0 {
		s.Reply.Proto = 0 // not indexed: Delete must not look for it
		t.Delete(idx)
		return ReasonSessionConflict
	}
	t.put(h, idx, DirOut)
	return ReasonNone
}

// Delete removes session idx from the index and the wheel and frees it. It
// clears the session's protocols, so its tuples match no lookup (LookupHint
// relies on it).
func (t *Table) Delete(idx int32) {
	if t.link[idx].prev < 0 {
		panic(fmt.Sprintf("nat: Delete of free session %d", idx))
	}
	s := &t.sess[idx]
	t.remove(&s.Orig, idx, DirIn)
	if s.Reply.Proto != 0 {
		t.remove(&s.Reply, idx, DirOut)
	}
	s.Orig.Proto, s.Reply.Proto = 0, 0
	if t.link[idx].next != idx {
		t.unlink(idx)
	}
	t.link[idx] = link{prev: -1, next: t.free}
	t.free = idx
	t.n--
}

// put indexes (idx, d) under the tuple whose hash is h.
func (t *Table) put(h uint32, idx int32, d Dir) {
	i := t.home(h)
	for t.buckets[i].v != 0 {
		i = t.next(i)
	}
	t.buckets[i] = bucket{h: h, v: uint32(idx)<<1 | uint32(d) + 1}
}

// dist returns how many buckets lie from a forward to b, wrapping.
func (t *Table) dist(a, b uint32) uint32 {
	if b >= a {
		return b - a
	}
	return b + t.nb - a
}

// remove deletes the index entry of (idx, d) keyed by k with backward-shift
// deletion (Knuth vol. 3, 6.4 Algorithm R): later entries of the probe run
// move up unless their home position lies cyclically in (hole, entry].
func (t *Table) remove(k *Tuple4, idx int32, d Dir) {
	want := uint32(idx)<<1 | uint32(d) + 1
	i := t.home(uint32(k.hash(t.seed)))
	for t.buckets[i].v != want {
		i = t.next(i)
	}
	for j := i; ; {
		j = t.next(j)
		b := t.buckets[j]
		if b.v == 0 {
			break
		}
		if t.dist(t.home(b.h), j) < t.dist(i, j) {
			continue // home in (i, j]: the entry may not move before it
		}
		t.buckets[i] = b
		i = j
	}
	t.buckets[i] = bucket{}
}

// ListSlice and ListScan bound what one turn of a worker's loop spends on
// a connection listing: at most ListSlice sessions copied, at most ListScan
// slots looked at (well under a microsecond to a few, cache permitting:
// BenchmarkCopySessionsTurn).
const (
	ListSlice = 256
	ListScan  = 4096
)

// CopySessions copies live sessions into dst, in index order, looking at
// no more than scan slots from slot from (for ipvsadm -L -c, a slice at a
// time so that no turn of the owning core's loop is held up for long). It
// returns how many it copied and the slot to go on from: Cap() once the
// whole table is scanned; the first slot not copied when dst is full. Run
// it on the owning core between bursts.
func (t *Table) CopySessions(dst []Session, from, scan int) (n, next int) {
	end := min(from+scan, len(t.sess))
	i := max(from, 0)
	for ; i < end && n < len(dst); i++ {
		if t.link[i].prev >= 0 {
			dst[n] = t.sess[i]
			n++
		}
	}
	return n, i
}
