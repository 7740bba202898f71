package nat

import "sync/atomic"

// Per-core counters, in two layers. The worker counts in plain core-private
// arrays (a plain add per event), and Flush publishes what changed into
// atomic.Uint64 mirrors with x.Store(v): one writer per mirror, so no
// read-modify-write is needed, and readers on other goroutines Load them
// race-free. Publishing per burst rather than per packet matters on amd64,
// where an atomic store is an XCHG (implicitly locked, a full barrier): eight
// of them per packet cost ~40% of the forwarding time here.

// Core-level counter indexes.
const (
	ctrRx = iota
	ctrRxBytes
	ctrTxBytes
	ctrCreated
	ctrExpired
	ctrICMP                                   // ICMP errors translated through a session
	ctrICMPSent                               // ICMP errors originated (fragmentation needed)
	ctrSessions                               // live sessions, a gauge (int64 two's complement)
	ctrEvicted                                // unreplied sessions evicted for a new flow (evict.go)
	ctrReclaimed                              // unreplied sessions ended to reclaim their local port
	ctrProxyHeaders                           // PROXY protocol headers inserted (clientaddr.go)
	ctrProxyTrimmed                           // first segments cut to fit the header
	ctrTOAAdded                               // TOA options added
	ctrTOANoRoom                              // segments that had no room for the TOA option
	ctrVerdict                                // + Action
	ctrDrop         = ctrVerdict + NumActions // + DropReason
	numCtr          = ctrDrop + NumDropReasons
)

// Endpoint (service or destination) counter indexes: ipvsadm --stats' Conns,
// InPkts, OutPkts, InBytes and OutBytes. "In" is client → real server, as in
// LVS.
const (
	epConns = iota
	epInPkts
	epOutPkts
	epInBytes
	epOutBytes
	numEp
)

// endpoint is one service's or destination's core-private counters.
type endpoint struct {
	n     [numEp]uint64
	dirty bool // changed since the last Flush; listed in counters.dirty*
}

// counters is a core's counting state: the private side written by the
// worker and the published side read by anyone.
type counters struct {
	n          [numCtr]uint64
	dests      []endpoint // by destination ID
	svcs       []endpoint // by service ID
	dirtyDests []uint32   // IDs with dirty set; capacity preallocated
	dirtySvcs  []uint32

	pub      [numCtr]atomic.Uint64
	pubDests [][numEp]atomic.Uint64
	pubSvcs  [][numEp]atomic.Uint64
}

func newCounters(lim Limits) counters {
	return counters{
		dests:      make([]endpoint, lim.MaxDests),
		svcs:       make([]endpoint, lim.MaxServices),
		dirtyDests: make([]uint32, 0, lim.MaxDests),
		dirtySvcs:  make([]uint32, 0, lim.MaxServices),
		pubDests:   make([][numEp]atomic.Uint64, lim.MaxDests),
		pubSvcs:    make([][numEp]atomic.Uint64, lim.MaxServices),
	}
}

// dest returns destination id's private counters, marking them dirty.
func (k *counters) dest(id uint32) *endpoint {
	e := &k.dests[id]
	if !e.dirty {
		e.dirty = true
		k.dirtyDests = append(k.dirtyDests, id)
	}
	return e
}

// svc returns service id's private counters, marking them dirty.
func (k *counters) svc(id uint32) *endpoint {
	e := &k.svcs[id]
	if !e.dirty {
		e.dirty = true
		k.dirtySvcs = append(k.dirtySvcs, id)
	}
	return e
}

// Flush publishes this core's counters for the readers (AddStats and
// friends). Call it from the core's worker once per burst, after the
// burst's Process calls; counts are as fresh as the last Flush.
func (c *Core) Flush() {
	k := &c.ctr
	for i := range k.n {
		if k.pub[i].Load() != k.n[i] {
			k.pub[i].Store(k.n[i])
		}
	}
	for _, id := range k.dirtyDests {
		publish(&k.pubDests[id], &k.dests[id])
	}
	for _, id := range k.dirtySvcs {
		publish(&k.pubSvcs[id], &k.svcs[id])
	}
	k.dirtyDests, k.dirtySvcs = k.dirtyDests[:0], k.dirtySvcs[:0]
	c.ports.Publish()
}

func publish(p *[numEp]atomic.Uint64, e *endpoint) {
	for i := range e.n {
		if p[i].Load() != e.n[i] {
			p[i].Store(e.n[i])
		}
	}
	e.dirty = false
}

// Stats are counters summed over cores by the control plane.
type Stats struct {
	Rx, RxBytes, TxBytes uint64
	Verdicts             [NumActions]uint64     // by Action: drop, tx, redirect, control, not_mine
	Drops                [NumDropReasons]uint64 // by DropReason
	SessionsCreated      uint64
	SessionsExpired      uint64
	ICMPTranslated       uint64
	ICMPSent             uint64 // errors originated: fragmentation needed for TUN
	Sessions             int64  // live sessions
	// SessionsEvicted counts unreplied sessions (SYN_RECV, UDP_ONEWAY)
	// ended to make room for a new flow in a full table or a service at
	// its quota; LaddrReclaimed those ended to give a new FULLNAT flow
	// their local port (evict.go). Neither is in SessionsExpired.
	SessionsEvicted uint64
	LaddrReclaimed  uint64
	// The client-address options (clientaddr.go): PROXY protocol headers
	// inserted (a TCP connection's, resent with retransmissions, and one
	// per UDP datagram), first segments cut to fit the header (the client
	// resends the rest), TOA options added, and segments forwarded without
	// the TOA option for want of room.
	ProxyHeaders, ProxyTrimmed, TOAAdded, TOANoRoom uint64
}

// EndpointStats are ipvsadm --stats' columns for a service or destination.
type EndpointStats struct {
	Conns, InPkts, OutPkts, InBytes, OutBytes uint64
}

// AddStats adds this core's counters as of its last Flush to s. Safe from any
// goroutine.
func (c *Core) AddStats(s *Stats) {
	p := &c.ctr.pub
	s.Rx += p[ctrRx].Load()
	s.RxBytes += p[ctrRxBytes].Load()
	s.TxBytes += p[ctrTxBytes].Load()
	for i := range s.Verdicts {
		s.Verdicts[i] += p[ctrVerdict+i].Load()
	}
	for i := range s.Drops {
		s.Drops[i] += p[ctrDrop+i].Load()
	}
	s.SessionsCreated += p[ctrCreated].Load()
	s.SessionsExpired += p[ctrExpired].Load()
	s.ICMPTranslated += p[ctrICMP].Load()
	s.ICMPSent += p[ctrICMPSent].Load()
	s.Sessions += int64(p[ctrSessions].Load())
	s.SessionsEvicted += p[ctrEvicted].Load()
	s.LaddrReclaimed += p[ctrReclaimed].Load()
	s.ProxyHeaders += p[ctrProxyHeaders].Load()
	s.ProxyTrimmed += p[ctrProxyTrimmed].Load()
	s.TOAAdded += p[ctrTOAAdded].Load()
	s.TOANoRoom += p[ctrTOANoRoom].Load()
}

// AddDestStats adds this core's counters of destination id as of its last
// Flush to s; ids at or above Limits.MaxDests add nothing. Safe from any
// goroutine.
func (c *Core) AddDestStats(id uint32, s *EndpointStats) {
	if int64(id) < int64(len(c.ctr.pubDests)) {
		addEndpoint(s, &c.ctr.pubDests[id])
	}
}

// AddServiceStats adds this core's counters of service id as of its last
// Flush to s; ids at or above Limits.MaxServices add nothing. Safe from any
// goroutine.
func (c *Core) AddServiceStats(id uint32, s *EndpointStats) {
	if int64(id) < int64(len(c.ctr.pubSvcs)) {
		addEndpoint(s, &c.ctr.pubSvcs[id])
	}
}

func addEndpoint(s *EndpointStats, p *[numEp]atomic.Uint64) {
	s.Conns += p[epConns].Load()
	s.InPkts += p[epInPkts].Load()
	s.OutPkts += p[epOutPkts].Load()
	s.InBytes += p[epInBytes].Load()
	s.OutBytes += p[epOutBytes].Load()
}
