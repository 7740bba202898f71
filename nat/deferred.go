package nat

import "fngw/header"

// Deferred new flows.
//
// In ProcessBurst a new FULLNAT or NAT flow finishes late. newFlow schedules
// it, takes its local port, creates its session indexed under the client's
// tuple, counts it on its real server (so that the flows scheduled after it
// see it) and prefetches its reply tuple's index bucket; then it defers the
// rest (deferFlow): indexing the reply tuple, binding the session and
// forwarding the first packet, or dropping it on a conflicting reply tuple.
// settle does that at the end of the chunk, when the bucket has loaded, so
// the miss is paid in the background. Only a flow whose first packet
// forward sends as it is may be deferred: whatever else a packet causes (an
// ICMP error, which takes an IPv4 ID and a rate-limit token) happens in
// frame order.
//
// Invariant: while flows are deferred, nothing that could tell a deferred
// flow from a completed one runs, so the verdicts and the state are
// Process's, frame by frame. Hence the deferred flows settle first
//
//   - before every frame of the chunk but an established hit and a miss no
//     deferred flow can match (maySeeDeferred): so before a frame of a
//     deferred flow or its reply (the filter pendHash holds their tuples'
//     hashes), a frame with a candidate session that established did not
//     forward (a deferred TCP flow's session, in state NONE, is one), a
//     frame whose tuple the look-ahead did not read (fragments and ICMP
//     errors find sessions through other tuples), and any frame while the
//     table is full (a deferred flow dropped on a conflict gives its session
//     back);
//   - in newFlow, before a new flow that is not deferred indexes its reply
//     tuple (the deferred ones index theirs first, as in Process);
//   - at the end of each chunk, and of Process.
//
// One difference from Process remains, for a deferred flow dropped on a
// conflicting reply tuple: it gives its local port and its count on the real
// server back at settle, so a new flow later in the chunk may find one port
// fewer, or that server one connection busier, than Process would have it (a
// FULLNAT reply tuple holds a port this core allocated and holds for no other
// session, so only a NAT flow can conflict: one whose client address and port
// reach the same real server through another virtual service).

// pendingFlow is a new flow newFlow deferred: its frame and where its
// verdict goes, its session (indexed under the client's tuple) and the hash
// of its reply tuple, and what bind or abandon need.
type pendingFlow struct {
	f     *Frame
	res   *Result
	rxLen int
	idx   int32
	rh    uint32
	pool  int32
	lport uint16
	tmpl  int32
	svc   *service
	d     *dest
}

// pendHashBits sizes the filter of the deferred flows' tuple hashes: with a
// chunk's worth of flows deferred (two hashes each), a miss settles
// needlessly about once in sixteen, and a chunk of new flows settles early
// about once (before the last ones' reply buckets have loaded).
const pendHashBits = 2048

// actPending is count's verdict for a frame whose new flow is deferred:
// settle writes and counts the real one.
const actPending = NumActions

// maySeeDeferred reports whether frame i of the chunk, not an established
// hit, must wait for the deferred flows to settle (see the invariant).
func (c *Core) maySeeDeferred(i int) bool {
	return c.cand[i] != -1 || c.tab.Len() == c.tab.Cap() || c.mayBePending(c.hash[i])
}

// mayBePending reports whether a tuple of hash h may be a deferred flow's
// tuple or its reply.
func (c *Core) mayBePending(h uint32) bool {
	w, bit := pendBit(h)
	return c.pendHash[w]&bit != 0
}

// pendBit is the filter word and bit of hash h.
func pendBit(h uint32) (int, uint64) { return int(h / 64 % (pendHashBits / 64)), 1 << (h % 64) }

// deferFlow queues a new flow's completion for settle; h is the hash of its
// client's tuple.
func (c *Core) deferFlow(h uint32, p pendingFlow) {
	c.pend[c.npend] = p
	c.npend++
	w, bit := pendBit(h)
	c.pendHash[w] |= bit
	w, bit = pendBit(p.rh)
	c.pendHash[w] |= bit
}

// settle completes the deferred new flows in frame order, as newFlow would
// have at once: it indexes each one's reply tuple, then binds the session
// and forwards the first packet, or drops it on a conflicting reply tuple;
// and it counts the verdict.
func (c *Core) settle() {
	if c.npend == 0 {
		return
	}
	for i := range c.npend {
		p := &c.pend[i]
		var r Result
		if why := c.tab.indexReply(p.idx, p.rh); why != ReasonNone {
			c.unbind(p.pool, p.lport, p.svc, p.tmpl, p.d)
			r = drop(why)
		} else {
			f := p.f
			pkt := f.Buf[f.Off : f.Off+f.Len : f.Off+f.Len] // as process sliced it
			ip := header.IPv4(pkt[f.L3:])
			ip = ip[:ip.TotalLength()]
			r = c.bind(f, pkt, ip, ip[ip.HeaderLength():], p.idx, p.tmpl, p.svc, p.d)
		}
		*p.res = r
		c.account(p.f, p.rxLen, r)
		*p = pendingFlow{}
	}
	c.npend = 0
	c.pendHash = [pendHashBits / 64]uint64{}
}
