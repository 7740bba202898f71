package nat

import (
	"fmt"
	"math/bits"
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
// indexed in one open-addressing hash index (linear probing, load <= 1/2,
// backward-shift deletion, so no tombstones): Orig under DirIn, Reply under
// DirOut. A hashed timer wheel of intrusive doubly linked lists (int32 links,
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
	buckets []bucket // hash index, len a power of two
	mask    uint32
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

// Memory per session: Session (144 bytes) + link (8) + two index buckets at a
// load of at most 1/2 (>= 32 bytes, < 64 after rounding to a power of two).

// NewTable allocates a table; now (monotonic ns) starts the timer wheel.
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
	nb := 1 << bits.Len(uint(4*cfg.Capacity-1)) // >= 2 entries per session at load <= 1/2
	t := &Table{
		sess:     make([]Session, cfg.Capacity),
		link:     make([]link, cfg.Capacity+cfg.Slots),
		buckets:  make([]bucket, nb),
		mask:     uint32(nb - 1),
		seed:     cfg.Seed,
		shift:    cfg.TickShift,
		slotMask: int64(cfg.Slots - 1),
		cursor:   now >> cfg.TickShift,
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

// Len returns the number of live sessions.
func (t *Table) Len() int { return t.n }

// At returns session idx. The pointer is valid until the session is deleted.
func (t *Table) At(idx int32) *Session { return &t.sess[idx] }

// Lookup finds the session with a tuple equal to k in either direction and
// returns its index and the direction k matched, or -1.
func (t *Table) Lookup(k *Tuple4) (int32, Dir) {
	h := uint32(k.hash(t.seed))
	for i := h & t.mask; ; i = (i + 1) & t.mask {
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

// Insert adds a session with the given tuples (reply.Proto == 0: not indexed
// in the reply direction) and deadline, zeroing every other field, and
// returns its index. It fails with ReasonTableFull at capacity and
// ReasonSessionConflict when a tuple is already in use.
func (t *Table) Insert(orig, reply *Tuple4, expires int64) (int32, DropReason) {
	if t.free < 0 {
		return -1, ReasonTableFull
	}
	if i, _ := t.Lookup(orig); i >= 0 {
		return -1, ReasonSessionConflict
	}
	if reply.Proto != 0 {
		if i, _ := t.Lookup(reply); i >= 0 || *reply == *orig {
			return -1, ReasonSessionConflict
		}
	}
	idx := t.free
	t.free = t.link[idx].next
	t.sess[idx] = Session{Orig: *orig, Reply: *reply, Expires: expires}
	t.put(orig, idx, DirIn)
	if reply.Proto != 0 {
		t.put(reply, idx, DirOut)
	}
	t.linkAt(idx, max(expires>>t.shift, t.cursor))
	t.n++
	return idx, ReasonNone
}

// Delete removes session idx from the index and the wheel and frees it.
func (t *Table) Delete(idx int32) {
	if t.link[idx].prev < 0 {
		panic(fmt.Sprintf("nat: Delete of free session %d", idx))
	}
	s := &t.sess[idx]
	t.remove(&s.Orig, idx, DirIn)
	if s.Reply.Proto != 0 {
		t.remove(&s.Reply, idx, DirOut)
	}
	if t.link[idx].next != idx {
		t.unlink(idx)
	}
	t.link[idx] = link{prev: -1, next: t.free}
	t.free = idx
	t.n--
}

func (t *Table) put(k *Tuple4, idx int32, d Dir) {
	h := uint32(k.hash(t.seed))
	i := h & t.mask
	for t.buckets[i].v != 0 {
		i = (i + 1) & t.mask
	}
	t.buckets[i] = bucket{h: h, v: uint32(idx)<<1 | uint32(d) + 1}
}

// remove deletes the index entry of (idx, d) keyed by k with backward-shift
// deletion (Knuth vol. 3, 6.4 Algorithm R): later entries of the probe run
// move up unless their home position lies cyclically in (hole, entry].
func (t *Table) remove(k *Tuple4, idx int32, d Dir) {
	want := uint32(idx)<<1 | uint32(d) + 1
	i := uint32(k.hash(t.seed)) & t.mask
	for t.buckets[i].v != want {
		i = (i + 1) & t.mask
	}
	for j := i; ; {
		j = (j + 1) & t.mask
		b := t.buckets[j]
		if b.v == 0 {
			break
		}
		home := b.h & t.mask
		if (j-home)&t.mask < (j-i)&t.mask {
			continue // home in (i, j]: the entry may not move before it
		}
		t.buckets[i] = b
		i = j
	}
	t.buckets[i] = bucket{}
}

// AppendSessions appends copies of up to max live sessions to dst, in index
// order (for ipvsadm -L -c and session sync). It scans the whole array, so it
// is for the control path: run it on the owning core between bursts.
func (t *Table) AppendSessions(dst []Session, max int) []Session {
	for i := range t.sess {
		if max <= 0 {
			break
		}
		if t.link[i].prev >= 0 {
			dst = append(dst, t.sess[i])
			max--
		}
	}
	return dst
}
