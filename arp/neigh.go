package arp

import (
	"cmp"
	"math/bits"
	"slices"

	"fngw/header"
)

// NeighState is the state of a neighbour entry. The states and transitions
// follow Linux's neighbour subsystem (NUD_*), itself modelled on neighbour
// unreachability detection in RFC 4861 §7.3.2, applied to ARP (RFC 826):
//
//	(none) --traffic--> INCOMPLETE --reply--> REACHABLE --ReachableTime--> STALE
//	INCOMPLETE --MulticastProbes unanswered--> FAILED (queued packets dropped)
//	STALE --traffic--> DELAY --DelayTime--> PROBE --UnicastProbes unanswered--> FAILED
//	DELAY, PROBE --reply--> REACHABLE;  STALE, FAILED --GCStaleTime--> removed
//	FAILED --traffic--> INCOMPLETE;  PERMANENT: static, never ages, ARP never changes it
//
// An entry for a configured next hop (a real server, a route's gateway) is
// pinned (see Stack.SetDests): it goes through the same states, but is never
// evicted for another entry nor removed by garbage collection, and its
// resolutions are exempt from the bounds on unresolved entries below, like
// Linux's managed neighbours (NTF_MANAGED).
type NeighState uint8

// Neighbour states.
const (
	NeighIncomplete NeighState = iota + 1 // resolving: requests sent, packets queued
	NeighReachable                        // confirmed recently
	NeighStale                            // usable, not confirmed recently
	NeighDelay                            // stale and in use: wait for a confirmation before probing
	NeighProbe                            // unicast requests sent to confirm the address
	NeighFailed                           // resolution failed
	NeighPermanent                        // static entry (ip neigh add ... lladdr ...)
)

var neighStateNames = [...]string{
	NeighIncomplete: "INCOMPLETE",
	NeighReachable:  "REACHABLE",
	NeighStale:      "STALE",
	NeighDelay:      "DELAY",
	NeighProbe:      "PROBE",
	NeighFailed:     "FAILED",
	NeighPermanent:  "PERMANENT",
}

// String returns the name ip-neighbour(8) prints ("REACHABLE", ...).
func (s NeighState) String() string {
	if int(s) < len(neighStateNames) && neighStateNames[s] != "" {
		return neighStateNames[s]
	}
	return "NONE"
}

// Valid reports whether an entry in state s has a usable MAC address (Linux
// NUD_VALID): the datapath may send to it.
func (s NeighState) Valid() bool {
	switch s {
	case NeighReachable, NeighStale, NeighDelay, NeighProbe, NeighPermanent:
		return true
	}
	return false
}

// NeighConfig holds the sizes and timers of a neighbour table. Times are in
// nanoseconds of the caller's monotonic clock. Zero fields take the value of
// DefaultNeighConfig.
type NeighConfig struct {
	MaxEntries      int   // entries (gc_thresh3), at most MaxNeighEntries; see alloc for eviction
	MaxIncomplete   int   // unpinned INCOMPLETE entries at once; a new one evicts the oldest
	ResolveRate     int   // unpinned resolutions started per second per port (token bucket)
	ResolveBurst    int   // ... and in a burst
	QueueLen        int   // packets queued per unresolved entry (unres_qlen)
	QueueTotal      int   // packets queued over all entries
	ReachableTime   int64 // REACHABLE → STALE (base_reachable_time, not randomized)
	DelayTime       int64 // DELAY → PROBE (delay_first_probe_time)
	RetransTime     int64 // first retransmission interval (retrans_time)
	RetransTimeMax  int64 // cap of the doubling retransmission interval
	MulticastProbes int   // broadcast requests before INCOMPLETE fails (mcast_solicit)
	UnicastProbes   int   // unicast requests before PROBE fails (ucast_solicit)
	GCStaleTime     int64 // STALE and FAILED entries are removed after this (gc_stale_time)
	// HashSeed seeds the hash of the Stack's snapshot maps (neighbours,
	// owned addresses). Zero, the default, draws a random seed per Stack,
	// so that no peer can choose keys that collide; tests set it to get
	// the same layout on every run.
	HashSeed uint64
}

// MaxNeighEntries bounds NeighConfig.MaxEntries: an entry's slot takes at
// most 16 bits of a NeighRef, leaving 16 or more for its version.
const MaxNeighEntries = 1 << 16

// Second is one second in the units of the neighbour timers.
const Second int64 = 1e9

// DefaultNeighConfig returns Linux's defaults for the timers, probe counts and
// packets queued per unresolved entry, with retransmissions doubling from 1 s
// up to 8 s. A quarter of the table may be resolving at once (each INCOMPLETE
// entry lives up to 7 s: 1+2+4 s of retransmissions), and each port starts at
// most 100 resolutions a second.
func DefaultNeighConfig() NeighConfig {
	return NeighConfig{
		MaxEntries:      1024,
		MaxIncomplete:   256,
		ResolveRate:     100,
		ResolveBurst:    100,
		QueueLen:        101,
		QueueTotal:      1024,
		ReachableTime:   30 * Second,
		DelayTime:       5 * Second,
		RetransTime:     1 * Second,
		RetransTimeMax:  8 * Second,
		MulticastProbes: 3,
		UnicastProbes:   3,
		GCStaleTime:     60 * Second,
	}
}

func (c NeighConfig) withDefaults() NeighConfig {
	d := DefaultNeighConfig()
	set := func(v *int64, def int64) {
		if *v <= 0 {
			*v = def
		}
	}
	seti := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	seti(&c.MaxEntries, d.MaxEntries)
	c.MaxEntries = min(c.MaxEntries, MaxNeighEntries)
	seti(&c.MaxIncomplete, max(c.MaxEntries/4, 1))
	c.MaxIncomplete = min(c.MaxIncomplete, c.MaxEntries)
	seti(&c.ResolveRate, d.ResolveRate)
	c.ResolveRate = min(c.ResolveRate, 1e9)
	seti(&c.ResolveBurst, d.ResolveBurst)
	seti(&c.QueueLen, d.QueueLen)
	seti(&c.QueueTotal, d.QueueTotal)
	set(&c.ReachableTime, d.ReachableTime)
	set(&c.DelayTime, d.DelayTime)
	set(&c.RetransTime, d.RetransTime)
	set(&c.RetransTimeMax, d.RetransTimeMax)
	seti(&c.MulticastProbes, d.MulticastProbes)
	seti(&c.UnicastProbes, d.UnicastProbes)
	set(&c.GCStaleTime, d.GCStaleTime)
	return c
}

// NeighHooks are the table's effects, called synchronously from its methods on
// the owning goroutine. A hook must not call back into the table.
type NeighHooks[P any] struct {
	// Solicit asks for an ARP request for ip on port: broadcast when dst is
	// zero, unicast to dst when probing a known address.
	Solicit func(port uint16, ip header.Addr4, dst header.MAC)
	// Transmit hands back a queued packet whose next hop resolved to mac.
	Transmit func(p P, port uint16, mac header.MAC)
	// Drop releases a packet that will not be sent (queue full, resolution
	// failed, entry deleted). It is counted in NeighStats before the call.
	Drop func(p P)
}

// NeighStats are the table's counters, monotonically increasing.
type NeighStats struct {
	RequestsSent   uint64 // Solicit calls (broadcast and unicast)
	QueueDrops     uint64 // packets dropped because the entry's or the global queue was full
	FailedDrops    uint64 // queued packets dropped when resolution failed or the entry was deleted or evicted
	TableFull      uint64 // packets dropped because no entry could be created
	Failures       uint64 // resolutions that ended in FAILED
	Evicted        uint64 // entries removed to make room: table full, or MaxIncomplete resolving
	ResolveLimited uint64 // packets dropped because their port started ResolveRate resolutions already
}

// NeighInfo is one entry as ip-neighbour(8) lists it.
type NeighInfo struct {
	Port   uint16
	IP     header.Addr4
	MAC    header.MAC // zero unless State.Valid()
	State  NeighState
	Pinned bool // a configured next hop (Linux lists it "managed")
}

// NeighTable is the ARP neighbour cache: the state machine above, a bounded
// queue of packets per unresolved entry and the counters.
//
// It is not safe for concurrent use: one control goroutine owns it and calls
// every method (the datapath reads neighbours only from a published Snapshot).
// Time is passed in by the caller; nothing here reads a clock. All storage is
// allocated by NewNeighTable; steady-state operation does not allocate.
//
// P is the type of a queued packet (an mbuf handle in the gateway, anything in
// tests).
type NeighTable[P any] struct {
	cfg   NeighConfig
	hooks NeighHooks[P]

	index   map[neighKey]int32 // key → index in entries
	entries []neighEntry
	free    []int32 // unused entry indexes (a stack)

	// Queued packets: a slab of QueueTotal slots, linked per entry through
	// qnext; free slots are linked from qfree. -1 ends a list.
	q     []P
	qnext []int32
	qfree int32

	// vers holds each slot's version: it changes whenever what the
	// datapath sees of the slot changes (its entry's MAC becomes usable,
	// changes or stops being usable, or the slot goes to another
	// address), so that a NeighRef names one view of one slot.
	vers     []uint32
	slotBits uint8

	pins     map[neighKey]bool // configured next hops (Stack.SetDests)
	inc      incList           // unpinned INCOMPLETE entries, oldest first
	limiters map[uint16]*TokenBucket

	nextTimer int64 // no entry has a deadline before this
	changed   bool  // the set of valid (port, ip, mac) changed since takeChanged
	stats     NeighStats
}

// incList links entries through neighEntry.older/newer; -1 ends it.
type incList struct {
	oldest, newest int32
	n              int
}

type neighKey struct {
	port uint16
	ip   header.Addr4
}

type neighEntry struct {
	key      neighKey
	mac      header.MAC
	state    NeighState // 0: slot unused
	pinned   bool       // key is a configured next hop
	probes   int32      // requests sent in the current INCOMPLETE or PROBE round
	deadline int64      // when the state's timer fires; 0 for PERMANENT
	slot     int32      // this entry's index in entries
	older    int32      // on incList: the links
	newer    int32
	qhead    int32
	qtail    int32
	qlen     int32
}

const noTimer = int64(^uint64(0) >> 1)

// NewNeighTable returns an empty table; zero config fields take defaults. The
// hooks must all be set.
func NewNeighTable[P any](cfg NeighConfig, hooks NeighHooks[P]) *NeighTable[P] {
	cfg = cfg.withDefaults()
	slotBits := uint8(bits.Len(uint(cfg.MaxEntries - 1)))
	t := &NeighTable[P]{
		cfg:       cfg,
		hooks:     hooks,
		index:     make(map[neighKey]int32, cfg.MaxEntries),
		entries:   make([]neighEntry, cfg.MaxEntries),
		free:      make([]int32, cfg.MaxEntries),
		q:         make([]P, cfg.QueueTotal),
		qnext:     make([]int32, cfg.QueueTotal),
		vers:      make([]uint32, 1<<slotBits),
		slotBits:  slotBits,
		inc:       incList{oldest: -1, newest: -1},
		limiters:  make(map[uint16]*TokenBucket),
		nextTimer: noTimer,
	}
	for i := range t.free {
		t.free[i] = int32(cfg.MaxEntries - 1 - i) // pop from the end: index 0 first
	}
	for i := range t.vers {
		t.vers[i] = 1 // no NeighRef is 0
	}
	for i := range t.qnext {
		t.qnext[i] = int32(i + 1)
	}
	t.qnext[len(t.qnext)-1] = -1
	return t
}

// Stats returns the counters.
func (t *NeighTable[P]) Stats() NeighStats { return t.stats }

// Len returns the number of entries in any state.
func (t *NeighTable[P]) Len() int { return len(t.index) }

// Lookup returns the entry for ip on port.
func (t *NeighTable[P]) Lookup(port uint16, ip header.Addr4) (NeighInfo, bool) {
	i, ok := t.index[neighKey{port, ip}]
	if !ok {
		return NeighInfo{}, false
	}
	return t.entries[i].info(), true
}

func (e *neighEntry) info() NeighInfo {
	n := NeighInfo{Port: e.key.port, IP: e.key.ip, State: e.state, Pinned: e.pinned}
	if e.state.Valid() {
		n.MAC = e.mac
	}
	return n
}

// List appends every entry to dst, sorted by port then address, and returns it.
func (t *NeighTable[P]) List(dst []NeighInfo) []NeighInfo {
	start := len(dst)
	for _, i := range t.index {
		dst = append(dst, t.entries[i].info())
	}
	slices.SortFunc(dst[start:], func(a, b NeighInfo) int {
		if c := cmp.Compare(a.Port, b.Port); c != 0 {
			return c
		}
		return cmp.Compare(a.IP.Uint32(), b.IP.Uint32())
	})
	return dst
}

// Output sends p towards ip on port (Linux neigh_resolve_output): at once
// through Transmit when the address is valid, otherwise queued while the
// address is resolved (starting resolution if needed). Traffic to a STALE
// entry starts its reconfirmation (DELAY). p is always consumed: transmitted,
// queued, or dropped through Drop.
//
// A resolution that is not a configured next hop's (pinned) must pass its
// port's rate limit (ResolveRate, else ResolveLimited) and, when MaxIncomplete
// entries are resolving already, evicts the oldest of them: addresses that do
// not answer — the spoofed sources of a flood, say — cannot hold the table.
func (t *NeighTable[P]) Output(now int64, port uint16, ip header.Addr4, p P) {
	k := neighKey{port, ip}
	i, ok := t.index[k]
	if (!ok || t.entries[i].state == NeighFailed) && !t.pins[k] {
		if !t.limiter(now, port).Allow(now) {
			t.stats.ResolveLimited++
			t.hooks.Drop(p)
			return
		}
		if t.inc.n >= t.cfg.MaxIncomplete {
			t.evict(t.inc.oldest)
		}
	}
	if !ok {
		if i, ok = t.alloc(k); !ok {
			t.stats.TableFull++
			t.hooks.Drop(p)
			return
		}
	}
	e := &t.entries[i]
	switch e.state {
	case NeighReachable, NeighDelay, NeighProbe, NeighPermanent:
		t.hooks.Transmit(p, port, e.mac)
	case NeighStale:
		t.setState(e, NeighDelay, now+t.cfg.DelayTime)
		t.hooks.Transmit(p, port, e.mac)
	case NeighIncomplete:
		t.enqueue(e, p)
	default: // new or FAILED: (re)start resolution
		e.probes = 0
		t.setState(e, NeighIncomplete, 0)
		t.enqueue(e, p)
		t.solicit(now, e)
	}
}

// Use records traffic to ip on port that went out without Output (the
// datapath sent it with a MAC from the snapshot). Like Output it moves a STALE
// entry to DELAY, so an address in use is reconfirmed instead of expiring.
func (t *NeighTable[P]) Use(now int64, port uint16, ip header.Addr4) {
	if i, ok := t.index[neighKey{port, ip}]; ok && t.entries[i].state == NeighStale {
		t.setState(&t.entries[i], NeighDelay, now+t.cfg.DelayTime)
	}
}

// Learn records that ip on port is at mac, as learned from an ARP packet
// (Linux neigh_update with override). state is NeighReachable for a
// confirmation (a reply unicast to us) and NeighStale otherwise (requests,
// broadcast and gratuitous ARP). An unknown address gets an entry only when
// create is set (requests addressed to us); a known one is updated, except
// that a PERMANENT entry is never changed and a valid entry whose MAC is
// unchanged keeps its state when state is NeighStale. Packets queued on the
// entry are transmitted. Learn reports whether an entry was created or
// updated.
func (t *NeighTable[P]) Learn(now int64, port uint16, ip header.Addr4, mac header.MAC, state NeighState, create bool) bool {
	k := neighKey{port, ip}
	i, ok := t.index[k]
	if !ok {
		if !create {
			return false
		}
		if i, ok = t.alloc(k); !ok {
			return false
		}
	}
	e := &t.entries[i]
	switch {
	case e.state == NeighPermanent:
		return false
	case e.state.Valid() && e.mac == mac && state == NeighStale:
		if e.state == NeighStale {
			e.deadline = now + t.cfg.GCStaleTime // heard from: keep it a while longer
		}
		return true
	}
	if !e.state.Valid() || e.mac != mac {
		t.viewChanged(i)
	}
	e.mac = mac
	e.probes = 0
	if state == NeighReachable {
		t.setState(e, NeighReachable, now+t.cfg.ReachableTime)
	} else {
		t.setState(e, NeighStale, now+t.cfg.GCStaleTime)
	}
	t.flush(e)
	return true
}

// AddStatic sets a PERMANENT entry (ip neigh replace ADDR lladdr MAC dev PORT),
// replacing any dynamic one and transmitting packets queued on it. It reports
// false when the table is full of entries it may not evict.
func (t *NeighTable[P]) AddStatic(port uint16, ip header.Addr4, mac header.MAC) bool {
	k := neighKey{port, ip}
	i, ok := t.index[k]
	if !ok {
		if i, ok = t.alloc(k); !ok {
			return false
		}
	}
	e := &t.entries[i]
	if !e.state.Valid() || e.mac != mac {
		t.viewChanged(i)
	}
	e.mac = mac
	t.setState(e, NeighPermanent, 0)
	t.flush(e)
	return true
}

// Delete removes the entry for ip on port (ip neigh del), dropping packets
// queued on it. It reports whether there was one.
func (t *NeighTable[P]) Delete(port uint16, ip header.Addr4) bool {
	i, ok := t.index[neighKey{port, ip}]
	if ok {
		t.remove(i)
	}
	return ok
}

// Tick runs the timers that are due at now: retransmissions, REACHABLE →
// STALE, DELAY → PROBE, failures and garbage collection. It is cheap when no
// timer is due.
func (t *NeighTable[P]) Tick(now int64) {
	if now < t.nextTimer {
		return
	}
	next := noTimer
	for _, i := range t.index {
		e := &t.entries[i]
		if e.deadline != 0 && e.deadline <= now {
			t.expire(now, i)
		}
		if e.state != 0 && e.deadline != 0 && e.deadline < next {
			next = e.deadline
		}
	}
	t.nextTimer = next
}

func (t *NeighTable[P]) expire(now int64, i int32) {
	e := &t.entries[i]
	switch e.state {
	case NeighIncomplete:
		if int(e.probes) < t.cfg.MulticastProbes {
			t.solicit(now, e)
			return
		}
		t.stats.Failures++
		t.setState(e, NeighFailed, now+t.cfg.GCStaleTime)
		t.dropQueue(e)
	case NeighReachable:
		t.setState(e, NeighStale, now+t.cfg.GCStaleTime)
	case NeighDelay:
		e.probes = 0
		t.setState(e, NeighProbe, 0)
		t.solicit(now, e)
	case NeighProbe:
		if int(e.probes) < t.cfg.UnicastProbes {
			t.solicit(now, e)
			return
		}
		t.stats.Failures++
		t.viewChanged(i)
		t.setState(e, NeighFailed, now+t.cfg.GCStaleTime)
	case NeighStale, NeighFailed:
		if e.pinned {
			t.setDeadline(e, now+t.cfg.GCStaleTime) // kept; removed once unpinned
			return
		}
		t.remove(i)
	}
}

// solicit sends the next request of a resolution (broadcast) or probe
// (unicast) round and schedules the following one, doubling the interval up to
// RetransTimeMax.
func (t *NeighTable[P]) solicit(now int64, e *neighEntry) {
	var dst header.MAC
	if e.state == NeighProbe {
		dst = e.mac
	}
	wait := t.cfg.RetransTime
	for n := int32(0); n < e.probes && wait < t.cfg.RetransTimeMax; n++ {
		wait *= 2
	}
	e.probes++
	t.stats.RequestsSent++
	t.setDeadline(e, now+min(wait, t.cfg.RetransTimeMax))
	t.hooks.Solicit(e.key.port, e.key.ip, dst)
}

// setState moves e to state s with the state's timer at deadline (0: none),
// keeping incList the list of unpinned INCOMPLETE entries.
func (t *NeighTable[P]) setState(e *neighEntry, s NeighState, deadline int64) {
	was := e.state == NeighIncomplete
	e.state = s
	if !e.pinned {
		t.listIncomplete(e, was, s == NeighIncomplete)
	}
	t.setDeadline(e, deadline)
}

// listIncomplete moves e on or off incList: was is whether it is on it, now
// whether it should be.
func (t *NeighTable[P]) listIncomplete(e *neighEntry, was, now bool) {
	switch {
	case now && !was:
		e.older, e.newer = t.inc.newest, -1
		if t.inc.newest >= 0 {
			t.entries[t.inc.newest].newer = e.slot
		} else {
			t.inc.oldest = e.slot
		}
		t.inc.newest = e.slot
		t.inc.n++
	case was && !now:
		if e.older >= 0 {
			t.entries[e.older].newer = e.newer
		} else {
			t.inc.oldest = e.newer
		}
		if e.newer >= 0 {
			t.entries[e.newer].older = e.older
		} else {
			t.inc.newest = e.older
		}
		t.inc.n--
	}
}

// viewChanged records that what the datapath sees of entry i changed: the
// snapshot is rebuilt and references to the slot's old view no longer hold.
func (t *NeighTable[P]) viewChanged(i int32) {
	t.changed = true
	t.vers[i]++
}

// limiter returns port's resolution rate limiter, made on first use.
func (t *NeighTable[P]) limiter(now int64, port uint16) *TokenBucket {
	b := t.limiters[port]
	if b == nil {
		nb := NewTokenBucket(t.cfg.ResolveRate, t.cfg.ResolveBurst, now)
		b = &nb
		t.limiters[port] = b
	}
	return b
}

func (t *NeighTable[P]) setDeadline(e *neighEntry, d int64) {
	e.deadline = d
	if d != 0 && d < t.nextTimer {
		t.nextTimer = d
	}
}

// alloc creates an entry with no state for k. When the table is full it
// evicts, never a pinned or PERMANENT entry: the unpinned STALE or FAILED
// entry with the earliest deadline (Linux forced GC), else the oldest unpinned
// INCOMPLETE one, else — for a pinned k only — any other unpinned entry: a
// configured next hop always finds room while learned entries fill the table.
func (t *NeighTable[P]) alloc(k neighKey) (int32, bool) {
	pinned := t.pins[k]
	if len(t.free) == 0 {
		victim, best, other := int32(-1), noTimer, int32(-1)
		for _, i := range t.index {
			e := &t.entries[i]
			switch {
			case e.pinned || e.state == NeighPermanent:
			case (e.state == NeighStale || e.state == NeighFailed) && e.deadline < best:
				victim, best = i, e.deadline
			case e.state != NeighIncomplete:
				other = i
			}
		}
		if victim < 0 {
			victim = t.inc.oldest
		}
		if victim < 0 && pinned {
			victim = other
		}
		if victim < 0 {
			return 0, false
		}
		t.evict(victim)
	}
	i := t.free[len(t.free)-1]
	t.free = t.free[:len(t.free)-1]
	t.entries[i] = neighEntry{key: k, pinned: pinned, slot: i, qhead: -1, qtail: -1}
	t.index[k] = i
	return i, true
}

// evict removes entry i to make room for another.
func (t *NeighTable[P]) evict(i int32) {
	t.stats.Evicted++
	t.remove(i)
}

func (t *NeighTable[P]) remove(i int32) {
	e := &t.entries[i]
	t.vers[i]++ // the slot goes to another address next
	if e.state.Valid() {
		t.changed = true
	}
	if !e.pinned {
		t.listIncomplete(e, e.state == NeighIncomplete, false)
	}
	t.dropQueue(e)
	delete(t.index, e.key)
	*e = neighEntry{}
	t.free = append(t.free, i)
}

// setPins makes pins the set of configured next hops, marking their entries
// (and only theirs) pinned.
func (t *NeighTable[P]) setPins(pins map[neighKey]bool) {
	t.pins = pins
	for _, i := range t.index {
		e := &t.entries[i]
		if p := pins[e.key]; p != e.pinned {
			inc := e.state == NeighIncomplete
			t.listIncomplete(e, inc && !e.pinned, inc && !p)
			e.pinned = p
		}
	}
}

// enqueue queues p on e, dropping it when e's queue or the slab is full.
func (t *NeighTable[P]) enqueue(e *neighEntry, p P) {
	if int(e.qlen) >= t.cfg.QueueLen || t.qfree < 0 {
		t.stats.QueueDrops++
		t.hooks.Drop(p)
		return
	}
	s := t.qfree
	t.qfree = t.qnext[s]
	t.q[s] = p
	t.qnext[s] = -1
	if e.qtail >= 0 {
		t.qnext[e.qtail] = s
	} else {
		e.qhead = s
	}
	e.qtail = s
	e.qlen++
}

// dequeue removes the oldest packet queued on e.
func (t *NeighTable[P]) dequeue(e *neighEntry) P {
	var zero P
	s := e.qhead
	p := t.q[s]
	t.q[s] = zero // do not keep the packet reachable from the slab
	e.qhead = t.qnext[s]
	if e.qhead < 0 {
		e.qtail = -1
	}
	e.qlen--
	t.qnext[s] = t.qfree
	t.qfree = s
	return p
}

// flush transmits the packets queued on e, which now has a valid MAC.
func (t *NeighTable[P]) flush(e *neighEntry) {
	for e.qlen > 0 {
		t.hooks.Transmit(t.dequeue(e), e.key.port, e.mac)
	}
}

func (t *NeighTable[P]) dropQueue(e *neighEntry) {
	for e.qlen > 0 {
		t.stats.FailedDrops++
		t.hooks.Drop(t.dequeue(e))
	}
}

// takeChanged reports whether the set of valid (port, ip, mac) changed since
// the last call: the Stack then republishes its snapshot.
func (t *NeighTable[P]) takeChanged() bool {
	c := t.changed
	t.changed = false
	return c
}

// forValid calls add for every entry with a usable MAC, with the reference
// to its current view.
func (t *NeighTable[P]) forValid(add func(port uint16, ip header.Addr4, mac header.MAC, ref NeighRef)) {
	for _, i := range t.index {
		if e := &t.entries[i]; e.state.Valid() {
			add(e.key.port, e.key.ip, e.mac, t.ref(i))
		}
	}
}

// ref returns the reference to slot i's current view.
func (t *NeighTable[P]) ref(i int32) NeighRef {
	return NeighRef(t.vers[i]<<t.slotBits | uint32(i))
}

// appendRefs appends the current reference of every slot, in slot order.
func (t *NeighTable[P]) appendRefs(dst []NeighRef) []NeighRef {
	for i := range t.vers {
		dst = append(dst, t.ref(int32(i)))
	}
	return dst
}

// invalidate changes every slot's version: after a change of routes or
// addresses no reference taken before holds, whatever the neighbours did.
func (t *NeighTable[P]) invalidate() {
	for i := range t.vers {
		t.vers[i]++
	}
}
