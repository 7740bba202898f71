package sched

import "sync/atomic"

// Conns holds the live connection counts of every destination, one row per core:
// a core writes only its own row (atomically, so that anyone may read), and a reader
// sums the rows. Dynamic schedulers sum them on each pick, which happens only for a
// new connection. Conns is shared by all snapshots of all services and owned by the
// control plane; rows are indexed by destination ID (< MaxDests), never by a
// snapshot's index.
//
// Conns also keeps, per destination ID, the sticky "overloaded" flag of the
// thresholds (LVS IP_VS_DEST_F_OVERLOAD), which any core may flip, and a per-core
// count of persistence templates pointing at each destination (LVS persistconns).
type Conns struct {
	cores    int
	maxDests int
	stride   int // cells per row: maxDests rounded up, plus a cache line between rows
	cells    []connCell
	over     []atomic.Uint32 // per ID: 1 while overloaded
	gen      atomic.Uint32   // generations handed to template tables (see persist.go)
}

// connCell is 16 bytes: four per cache line.
type connCell struct {
	active   atomic.Int32 // LVS activeconns
	inactive atomic.Int32 // LVS inactconns
	persist  atomic.Int32 // templates (LVS persistconns)
	_        int32
}

// NewConns returns counters for ncores cores and destination IDs below maxDests.
// It panics unless both are positive: sizes are a programming decision.
func NewConns(ncores, maxDests int) *Conns {
	if ncores < 1 || maxDests < 1 {
		panic("sched: NewConns needs ncores >= 1 and maxDests >= 1")
	}
	stride := (maxDests+3)&^3 + 4
	return &Conns{
		cores:    ncores,
		maxDests: maxDests,
		stride:   stride,
		cells:    make([]connCell, ncores*stride),
		over:     make([]atomic.Uint32, maxDests),
	}
}

// Cores returns the number of rows.
func (c *Conns) Cores() int { return c.cores }

// MaxDests returns the bound on destination IDs.
func (c *Conns) MaxDests() int { return c.maxDests }

func (c *Conns) cell(core int, id uint32) *connCell {
	row := c.cells[core*c.stride : core*c.stride+c.maxDests]
	return &row[id]
}

// Add adds dActive and dInactive to destination id's counts in core's row. Only
// core's own worker may call it for that row. A new connection that starts inactive
// (a TCP SYN, as LVS counts it) is Add(core, id, 0, 1); when it becomes established,
// Add(core, id, 1, -1).
func (c *Conns) Add(core int, id uint32, dActive, dInactive int32) {
	cl := c.cell(core, id)
	if dActive != 0 {
		cl.active.Add(dActive)
	}
	if dInactive != 0 {
		cl.inactive.Add(dInactive)
	}
}

// Sum returns destination id's counts summed over all cores. Safe from any goroutine.
func (c *Conns) Sum(id uint32) (active, inactive int32) {
	for core := range c.cores {
		cl := c.cell(core, id)
		active += cl.active.Load()
		inactive += cl.inactive.Load()
	}
	return active, inactive
}

// Persist returns the number of persistence templates pointing at destination id,
// summed over cores (the PersistConn column of `ipvsadm -L --persistent-conn`).
func (c *Conns) Persist(id uint32) int32 {
	var n int32
	for core := range c.cores {
		n += c.cell(core, id).persist.Load()
	}
	return n
}

func (c *Conns) addPersist(core int, id uint32, d int32) {
	c.cell(core, id).persist.Add(d)
}

// Overloaded reports the sticky threshold flag of destination id as the last pick
// left it. For display; Pick re-evaluates it.
func (c *Conns) Overloaded(id uint32) bool { return c.over[id].Load() != 0 }

// Clear zeroes every count and the flag of destination id, for the control plane
// to call before it reuses an ID, once no snapshot refers to the ID and no session
// of it remains.
func (c *Conns) Clear(id uint32) {
	for core := range c.cores {
		cl := c.cell(core, id)
		cl.active.Store(0)
		cl.inactive.Store(0)
		cl.persist.Store(0)
	}
	c.over[id].Store(0)
}

// overloaded applies LVS's threshold rule to destination id whose active+inactive
// total is total (ip_vs_bind_dest / ip_vs_unbind_dest, ip_vs_conn.c): the flag is
// set once total >= uthresh, and cleared only when total falls below lthresh or,
// when lthresh is 0, below 3/4 of uthresh. In between it keeps its last value.
// uthresh must be non-zero. The flag is written only when it changes.
func (c *Conns) overloaded(id uint32, total int64, uthresh, lthresh uint32) bool {
	if total >= int64(uthresh) {
		c.markOverloaded(id)
		return true
	}
	f := &c.over[id]
	if f.Load() == 0 {
		return false
	}
	var below bool
	if lthresh != 0 {
		below = total < int64(lthresh)
	} else {
		below = total*4 < int64(uthresh)*3
	}
	if below {
		f.Store(0)
		return false
	}
	return true
}

// markOverloaded sets destination id's threshold flag.
func (c *Conns) markOverloaded(id uint32) {
	if f := &c.over[id]; f.Load() == 0 {
		f.Store(1)
	}
}

// nextGen returns a template-table generation in 1..127 (see persist.go).
func (c *Conns) nextGen() int32 {
	return int32(c.gen.Add(1)%127) + 1
}
