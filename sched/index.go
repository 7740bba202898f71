package sched

// chains is a bounded hash index over a caller's preallocated entry array: bucket
// heads and per-entry links, all int32 indexes, so the GC never scans it. Entry i
// is on its bucket's chain while in use and on the free list otherwise. The caller
// keeps keys (and the hash each entry was linked with) in its own entries.
type chains struct {
	head []int32 // per bucket: first entry, -1 if none
	next []int32 // per entry: next on its chain, or on the free list
	free int32   // first free entry, -1 when full
	mask uint64
}

// newChains returns an index for n entries, with a power-of-two number of buckets
// of at least n.
func newChains(n int) chains {
	nb := 1
	for nb < n {
		nb <<= 1
	}
	c := chains{head: make([]int32, nb), next: make([]int32, n), mask: uint64(nb - 1)}
	for b := range c.head {
		c.head[b] = -1
	}
	for i := range c.next {
		c.next[i] = int32(i + 1)
	}
	c.next[n-1] = -1
	return c
}

// first returns the first entry on hash h's chain, -1 if none; next(i) walks on.
func (c *chains) first(h uint64) int32 { return c.head[h&c.mask] }

func (c *chains) link(i int32) int32 { return c.next[i] }

// alloc takes a free entry and puts it at the head of hash h's chain; -1 when full.
func (c *chains) alloc(h uint64) int32 {
	i := c.free
	if i < 0 {
		return -1
	}
	c.free = c.next[i]
	b := h & c.mask
	c.next[i] = c.head[b]
	c.head[b] = i
	return i
}

// remove unlinks entry i, which alloc linked with hash h, and frees it.
func (c *chains) remove(h uint64, i int32) {
	p := &c.head[h&c.mask]
	for *p != i {
		p = &c.next[*p]
	}
	*p = c.next[i]
	c.next[i] = c.free
	c.free = i
}
