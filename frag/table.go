package frag

import (
	"encoding/binary"
	"fmt"
	"math/bits"

	"fngw/header"
)

// Key identifies the fragments of one IPv4 datagram (RFC 791 §3.2): source,
// destination, protocol and identification. It is comparable and
// pointer-free.
type Key struct {
	Src, Dst header.Addr4
	ID       uint16
	Proto    uint8
	_        uint8
}

// KeyOf returns the key of the fragment ip (a valid IPv4 header).
func KeyOf(ip header.IPv4) Key {
	return Key{Src: ip.SourceAddress(), Dst: ip.DestinationAddress(), ID: ip.ID(), Proto: ip.Protocol()}
}

// Value is what the caller recorded for a datagram: opaque to the table (the
// datapath packs the first fragment's ports and the owning core into it).
type Value uint64

// ways is the number of entries per bucket.
const ways = 4

// entry is one slot: free when deadline <= now.
type entry struct {
	key      Key
	deadline int64
	val      Value
}

// Config sizes a Table.
type Config struct {
	// Capacity is the number of datagrams tracked at once, rounded up to a
	// power of two (at least 4).
	Capacity int
	// Timeout is how long an entry lives after its first fragment, in
	// nanoseconds: later fragments must arrive within it.
	Timeout int64
	// Seed keys the bucket hash.
	Seed uint64
}

// Defaults for Config fields left zero.
const (
	DefaultCapacity = 8192
	DefaultTimeout  = int64(2e9) // 2 s: fragments of one datagram arrive within milliseconds
)

// Stats are a table's counters.
type Stats struct {
	Inserts  uint64 // first fragments recorded
	Full     uint64 // inserts refused: every way of the bucket live
	Hits     uint64 // later fragments that found their datagram
	Misses   uint64 // later fragments that found none (before their first, or after the timeout)
	Replaced uint64 // inserts over a live entry with the same key (IP ID reused)
}

// Table maps datagram keys to values for a bounded time. Owned by one core:
// not safe for concurrent use. Lookup and Insert never allocate.
type Table struct {
	slots   []entry
	mask    uint64 // bucket index mask
	seed    uint64
	timeout int64
	st      Stats
}

// New allocates a table.
func New(c Config) (*Table, error) {
	if c.Capacity == 0 {
		c.Capacity = DefaultCapacity
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Capacity < 0 || c.Capacity > 1<<26 {
		return nil, fmt.Errorf("fragment table capacity %d: want 1 to %d", c.Capacity, 1<<26)
	}
	if c.Timeout < 0 {
		return nil, fmt.Errorf("fragment timeout %d ns: want > 0", c.Timeout)
	}
	n := 1 << bits.Len(uint(max(c.Capacity, ways)-1)) // power of two >= capacity
	return &Table{slots: make([]entry, n), mask: uint64(n/ways - 1), seed: c.Seed, timeout: c.Timeout}, nil
}

// Cap returns the number of entries.
func (t *Table) Cap() int { return len(t.slots) }

// Stats returns the counters.
func (t *Table) Stats() Stats { return t.st }

// bucket returns the ways of k's bucket.
func (t *Table) bucket(k *Key) []entry {
	a := uint64(binary.LittleEndian.Uint32(k.Src[:]))<<32 | uint64(binary.LittleEndian.Uint32(k.Dst[:]))
	b := uint64(k.ID)<<8 | uint64(k.Proto)
	hi, lo := bits.Mul64(a^t.seed^0xa0761d6478bd642f, b^0xe7037ed1a0b428db)
	i := ((hi ^ lo) & t.mask) * ways
	return t.slots[i : i+ways : i+ways]
}

// Lookup returns the value recorded for k, if its entry lives at now.
func (t *Table) Lookup(k Key, now int64) (Value, bool) {
	b := t.bucket(&k)
	for i := range b {
		e := &b[i]
		if e.deadline > now && e.key == k {
			t.st.Hits++
			return e.val, true
		}
	}
	t.st.Misses++
	return 0, false
}

// Insert records v for k until now+Timeout, replacing a live entry with the
// same key (a new datagram reusing the IP ID), else taking a free or expired
// slot. It reports false, recording nothing, when the bucket's entries are
// all live for other keys.
func (t *Table) Insert(k Key, v Value, now int64) bool {
	b := t.bucket(&k)
	free := -1
	for i := range b {
		e := &b[i]
		if e.deadline <= now {
			if free < 0 {
				free = i
			}
			continue
		}
		if e.key == k {
			e.val, e.deadline = v, now+t.timeout
			t.st.Replaced++
			t.st.Inserts++
			return true
		}
	}
	if free < 0 {
		t.st.Full++
		return false
	}
	b[free] = entry{key: k, deadline: now + t.timeout, val: v}
	t.st.Inserts++
	return true
}

// HasRoom reports whether Insert(k, ..., now) would succeed: k is live, or
// its bucket has a free or expired way. The datapath asks before it acts on
// a first fragment, so that a datagram it cannot track is refused before it
// creates anything.
func (t *Table) HasRoom(k Key, now int64) bool {
	for _, e := range t.bucket(&k) {
		if e.deadline <= now || e.key == k {
			return true
		}
	}
	return false
}

// Live counts the entries live at now (a full scan: for tests and listings).
func (t *Table) Live(now int64) int {
	n := 0
	for i := range t.slots {
		if t.slots[i].deadline > now {
			n++
		}
	}
	return n
}
