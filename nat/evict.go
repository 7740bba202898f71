package nat

import "fngw/header"

// Eviction of unreplied sessions.
//
// A spoofed flood creates sessions nobody answers: UDP datagrams from forged
// sources (StateUDPOneway: the real server's replies go to the forged
// address, not through the gateway) and SYNs from forged sources (SYN_RECV:
// the client never acknowledges the real server's SYN-ACK). Left alone they
// fill the core's session table, which every service shares, and its
// FULLNAT local ports, and every new flow is refused until they time out.
// As LVS's drop_entry defence (ip_vs_random_dropentry drops SYN_RECV and
// lightly used connections when memory runs low), a new flow that finds the
// table full, its service over its quota, or its local ports exhausted,
// evicts such a session instead of being refused:
//
//   - a table hand walks the session array round-robin (a clock); each
//     eviction looks at up to evictScan sessions from it and stops at the
//     evictPick-th candidate, then evicts the candidate whose last packet
//     is oldest (its deadline minus its state's timeout), so the oldest of
//     a few go first without a list ordered by age, for which the 127-byte
//     session budget has no room (LVS's drop_entry is cruder: a random
//     sample of the hash table, each candidate dropped with a probability);
//   - for local ports, a per-pool hand walks the pool's port slice the same
//     way, finding each port's session by its reply tuple
//     (RIP:rport→LIP:lport), so that the port freed is one of the pool
//     that ran out.
//
// Candidates are TCP sessions in SYN_RECV (LVS's INPUT table moves to
// ESTABLISHED on the client's ACK, so SYN_RECV means the client never
// acknowledged) and UDP sessions in StateUDPOneway. ESTABLISHED and every
// other state are never evicted: a full table of answered connections
// still refuses new flows (table_full). The scans are bounded, so a flood
// against a table of answered connections costs each refused flow at most
// evictScan session reads (sequential) or port lookups.

const (
	evictScan = 64 // sessions or ports looked at per eviction at most
	evictPick = 8  // candidates compared per eviction at most
)

// evictable reports whether s is a session a new flow may evict.
func evictable(s *Session) bool { return s.State == StateSynRecv || s.State == StateUDPOneway }

// lastSeen returns when s last saw a packet, as far as its deadline tells.
func (c *Core) lastSeen(s *Session) int64 { return s.Expires - c.svcs.timeout[s.State] }

// evict ends the oldest unreplied session among the next candidates of the
// table hand, of service svc only when svc is not nil, and counts it. It
// reports whether it freed one.
func (c *Core) evict(svc *service) bool {
	t := c.tab
	return c.endOldest(t.Cap(), ctrEvicted, func() int32 {
		idx := c.evictHand
		if c.evictHand++; int(c.evictHand) == t.Cap() {
			c.evictHand = 0
		}
		if !t.live(idx) || (svc != nil && t.At(idx).SvcID != svc.id) {
			return -1
		}
		return idx
	})
}

// reclaimPort ends the oldest unreplied session among the next candidates
// of pool's hand, pool being the exhausted one toward rip:rport from lip
// for protocol proto, so that its local port goes back to the pool, and
// counts it. It reports whether it freed one.
func (c *Core) reclaimPort(pool int32, proto uint8, lip, rip header.Addr4, rport uint16) bool {
	k := Tuple4{Src: rip, Dst: lip, SPort: rport, Proto: proto}
	return c.endOldest(c.ports.PerPool(), ctrReclaimed, func() int32 {
		k.DPort = c.ports.Scan(pool)
		if idx, d := c.tab.Lookup(&k); idx >= 0 && d == DirOut {
			return idx
		}
		return -1
	})
}

// endOldest ends the evictable session seen least recently among those next
// names (a session index, or -1 for none), called at most min(evictScan, n)
// times and until evictPick candidates were found, and counts it under ctr.
// It reports whether it ended one.
func (c *Core) endOldest(n int, ctr int, next func() int32) bool {
	c.settle() // a deferred flow's session is not fully indexed yet: not one to delete
	best, oldest, found := int32(-1), int64(0), 0
	for range min(evictScan, n) {
		idx := next()
		if idx < 0 || !evictable(c.tab.At(idx)) {
			continue
		}
		if at := c.lastSeen(c.tab.At(idx)); best < 0 || at < oldest {
			best, oldest = idx, at
		}
		if found++; found == evictPick {
			break
		}
	}
	if best < 0 {
		return false
	}
	c.release(best, c.svcs, c.now)
	c.ctr.n[ctr]++
	return true
}
