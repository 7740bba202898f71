package arp

import (
	"cmp"
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
	MaxEntries      int   // entries (gc_thresh3); STALE/FAILED entries are evicted when full
	QueueLen        int   // packets queued per unresolved entry (unres_qlen)
	QueueTotal      int   // packets queued over all entries
	ReachableTime   int64 // REACHABLE → STALE (base_reachable_time, not randomized)
	DelayTime       int64 // DELAY → PROBE (delay_first_probe_time)
	RetransTime     int64 // first retransmission interval (retrans_time)
	RetransTimeMax  int64 // cap of the doubling retransmission interval
	MulticastProbes int   // broadcast requests before INCOMPLETE fails (mcast_solicit)
	UnicastProbes   int   // unicast requests before PROBE fails (ucast_solicit)
	GCStaleTime     int64 // STALE and FAILED entries are removed after this (gc_stale_time)
}

// Second is one second in the units of the neighbour timers.
const Second int64 = 1e9

// DefaultNeighConfig returns Linux's defaults for the timers and probe counts,
// with retransmissions doubling from 1 s up to 8 s.
func DefaultNeighConfig() NeighConfig {
	return NeighConfig{
		MaxEntries:      1024,
		QueueLen:        16,
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
	RequestsSent uint64 // Solicit calls (broadcast and unicast)
	QueueDrops   uint64 // packets dropped because the entry's or the global queue was full
	FailedDrops  uint64 // queued packets dropped when resolution failed or the entry was deleted
	TableFull    uint64 // packets dropped because no entry could be created
	Failures     uint64 // resolutions that ended in FAILED
}

// NeighInfo is one entry as ip-neighbour(8) lists it.
type NeighInfo struct {
	Port  uint16
	IP    header.Addr4
	MAC   header.MAC // zero unless State.Valid()
	State NeighState
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

	nextTimer int64 // no entry has a deadline before this
	changed   bool  // the set of valid (port, ip, mac) changed since takeChanged
	stats     NeighStats
}

type neighKey struct {
	port uint16
	ip   header.Addr4
}

type neighEntry struct {
	key      neighKey
	mac      header.MAC
	state    NeighState // 0: slot unused
	probes   int32      // requests sent in the current INCOMPLETE or PROBE round
	deadline int64      // when the state's timer fires; 0 for PERMANENT
	qhead    int32
	qtail    int32
	qlen     int32
}

const noTimer = int64(^uint64(0) >> 1)

// NewNeighTable returns an empty table; zero config fields take defaults. The
// hooks must all be set.
func NewNeighTable[P any](cfg NeighConfig, hooks NeighHooks[P]) *NeighTable[P] {
	cfg = cfg.withDefaults()
	t := &NeighTable[P]{
		cfg:       cfg,
		hooks:     hooks,
		index:     make(map[neighKey]int32, cfg.MaxEntries),
		entries:   make([]neighEntry, cfg.MaxEntries),
		free:      make([]int32, cfg.MaxEntries),
		q:         make([]P, cfg.QueueTotal),
		qnext:     make([]int32, cfg.QueueTotal),
		nextTimer: noTimer,
	}
	for i := range t.free {
		t.free[i] = int32(cfg.MaxEntries - 1 - i) // pop from the end: index 0 first
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
	n := NeighInfo{Port: e.key.port, IP: e.key.ip, State: e.state}
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
func (t *NeighTable[P]) Output(now int64, port uint16, ip header.Addr4, p P) {
	i, ok := t.index[neighKey{port, ip}]
	if !ok {
		if i, ok = t.alloc(neighKey{port, ip}); !ok {
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
		t.changed = true
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
	if e.state != NeighPermanent || e.mac != mac {
		t.changed = true
	}
	e.mac = mac
	e.state = NeighPermanent
	e.deadline = 0
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
		t.changed = true
		t.setState(e, NeighFailed, now+t.cfg.GCStaleTime)
	case NeighStale, NeighFailed:
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

func (t *NeighTable[P]) setState(e *neighEntry, s NeighState, deadline int64) {
	e.state = s
	t.setDeadline(e, deadline)
}

func (t *NeighTable[P]) setDeadline(e *neighEntry, d int64) {
	e.deadline = d
	if d != 0 && d < t.nextTimer {
		t.nextTimer = d
	}
}

// alloc creates an entry with no state for k, evicting the STALE or FAILED
// entry with the earliest deadline when the table is full (Linux forced GC).
func (t *NeighTable[P]) alloc(k neighKey) (int32, bool) {
	if len(t.free) == 0 {
		victim, best := int32(-1), noTimer
		for _, i := range t.index {
			e := &t.entries[i]
			if (e.state == NeighStale || e.state == NeighFailed) && e.deadline < best {
				victim, best = i, e.deadline
			}
		}
		if victim < 0 {
			return 0, false
		}
		t.remove(victim)
	}
	i := t.free[len(t.free)-1]
	t.free = t.free[:len(t.free)-1]
	t.entries[i] = neighEntry{key: k, qhead: -1, qtail: -1}
	t.index[k] = i
	return i, true
}

func (t *NeighTable[P]) remove(i int32) {
	e := &t.entries[i]
	if e.state.Valid() {
		t.changed = true
	}
	t.dropQueue(e)
	delete(t.index, e.key)
	*e = neighEntry{}
	t.free = append(t.free, i)
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

// forValid calls add for every entry with a usable MAC.
func (t *NeighTable[P]) forValid(add func(port uint16, ip header.Addr4, mac header.MAC)) {
	for _, i := range t.index {
		if e := &t.entries[i]; e.state.Valid() {
			add(e.key.port, e.key.ip, e.mac)
		}
	}
}
