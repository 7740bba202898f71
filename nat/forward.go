package nat

import (
	"net/netip"

	"fngw/arp"
	"fngw/header"
	"fngw/prefetch"
	"fngw/sched"
	"fngw/tunnel"
)

// newFlow schedules the first packet of a connection to service svc: it picks a
// destination, allocates a FULLNAT local address and port, creates the
// session and forwards the packet; a FULLNAT or NAT flow whose packet
// forward would send as it is leaves its reply tuple's indexing and the
// forwarding to settle and returns actPending (deferred.go). k is the
// packet's tuple, whose hash is h, which the caller has just looked up in
// the table and not found.
func (c *Core) newFlow(f *Frame, pkt []byte, ip header.IPv4, l4 []byte, k *Tuple4, h uint32, svc *service) Result {
	stack, now := c.stack, c.now
	if k.Proto == header.IPProtoTCP && !isPureSYN(header.TCP(l4).Flags()) {
		if !isValidTCPFlags(header.TCP(l4).Flags()) {
			return drop(ReasonBadTCPFlags) // scans and crafted segments, told apart
		}
		return drop(ReasonNoSession) // LVS drops non-SYN segments without a connection
	}
	// Checks that need no scheduling come first: Pick has side effects
	// (round-robin position, persistence templates).
	if _, _, own := stack.Owned(k.Src); own {
		return drop(ReasonOwnSource)
	}
	if ip.TTL() <= 1 {
		return c.timeExceeded(f, ip)
	}
	if svc.quota > 0 && int64(svc.id) < int64(len(c.svcSessions)) && c.svcSessions[svc.id] >= (svc.quota+int64(c.ncores)-1)/int64(c.ncores) && !c.evict(svc) {
		return drop(ReasonQuotaExceeded) // at its share, ceil(quota/ncores), on this core
	}
	if c.tab.Len() == c.tab.Cap() && !c.evict(nil) {
		return drop(ReasonTableFull)
	}
	// svc.schedKey, written out: a call here costs a new flow ~50
	// instructions.
	key := sched.Key{Proto: k.Proto, Src: netip.AddrFrom4(k.Src), Dst: netip.AddrFrom4(k.Dst), SPort: k.SPort, DPort: k.DPort, Mark: svc.mark}
	if svc.anyPort {
		key.DPort = 0
	}
	di, tmpl := svc.sched.PickPersistent(c.id, key, now)
	if di < 0 {
		return drop(ReasonNoDest)
	}
	d := &svc.dests[di]
	if int64(d.id) >= int64(len(c.ctr.dests)) || int64(svc.id) >= int64(len(c.ctr.svcs)) {
		// The snapshot was built with larger Limits than this core.
		svc.sched.Release(c.id, tmpl, now)
		return drop(ReasonNoDest)
	}
	pool := int32(-1)
	var reply Tuple4
	switch d.mode {
	case ModeFullNAT:
		var r DropReason
		if reply, pool, r = c.allocLaddr(svc, d, k); r != ReasonNone {
			svc.sched.Release(c.id, tmpl, now)
			return drop(r)
		}
	case ModeNAT:
		reply = Tuple4{Src: d.addr, Dst: k.Src, SPort: svc.destPort(d, k), DPort: k.SPort, Proto: k.Proto}
	case ModeDR, ModeTUN:
		// Replies bypass the gateway; Reply only names the real server
		// (and, for TUN, the tunnel's source once the egress is
		// resolved) and is not indexed (Proto 0).
		reply = Tuple4{Src: d.addr, SPort: svc.destPort(d, k)}
	default:
		svc.sched.Release(c.id, tmpl, now)
		return drop(ReasonModeUnsupported)
	}
	var rh uint32
	if reply.Proto != 0 {
		// The reply tuple's index bucket is a cache miss of its own (a
		// random line of the index): it loads while the session is set up
		// and its egress resolved, before indexReply reads it.
		rh = c.tab.Hash(&reply)
		prefetch.Line(c.tab.BucketAddr(rh))
	}
	st := StateNone
	if k.Proto == header.IPProtoUDP {
		st = StateUDP
		if d.mode.hasReply() {
			st = StateUDPOneway // until the real server's first reply
		}
	}
	idx, r := c.tab.insertOrig(k, h, &reply, now+c.svcs.timeout[st]) // segment's lookup of k missed
	if r != ReasonNone {
		c.abandon(pool, reply.DPort, svc, tmpl)
		return drop(r)
	}
	s := c.tab.At(idx)
	s.DestID, s.SvcID, s.Mode, s.State = d.id, svc.id, d.mode, st
	c.svcSessions[svc.id]++
	// ip_vs_bind_dest: a new connection starts inactive (the TCP state
	// machine moves it to the active count once ESTABLISHED), and counts
	// at once, before the next flow is scheduled.
	s.Flags = FlagInactive
	if !d.mode.hasReply() {
		s.Flags |= FlagNoOutput
	}
	switch {
	case svc.caddr == ClientAddrNone || d.mode != ModeFullNAT:
	case svc.caddr == TOA:
		s.Flags |= FlagClientAddr | FlagTOA
	default:
		s.Flags |= FlagClientAddr
		c.ext[idx] = seqExt{ver: svc.caddr}
	}
	c.conns.Add(c.id, d.id, 0, 1)
	s.computeDeltas()
	if reply.Proto != 0 {
		// forward's resolution (resolveEgress toward the real server,
		// hopFor), done early from the destination's cache (forward
		// keeps a resolved egress; after a failure it resolves again).
		e := c.destEgress(d)
		s.Dir[DirIn], s.ref[DirIn] = e.ds, e.ref
		if !ip.IsFragment() && e.r == ReasonNone && len(ip) <= int(stack.PortMTU(s.Dir[DirIn].Port)) {
			// forward will send the packet as it is: defer the rest.
			c.deferFlow(h, pendingFlow{f: f, idx: idx, rh: rh, pool: pool, lport: reply.DPort, tmpl: tmpl, svc: svc, d: d})
			return Result{Act: actPending}
		}
		c.settle() // not deferred: the deferred flows index their replies first
		if r = c.tab.indexReply(idx, rh); r != ReasonNone {
			c.unbind(pool, reply.DPort, svc, tmpl, d)
			return drop(r)
		}
	}
	return c.bind(f, pkt, ip, l4, idx, tmpl, svc, d)
}

// bind completes new flow idx, indexed in both directions and counted on
// its destination d (its local port, if any, is in its reply tuple): the
// session takes its persistence template, is counted on the destination's and service's
// statistics, and forwards its first packet.
func (c *Core) bind(f *Frame, pkt []byte, ip header.IPv4, l4 []byte, idx, tmpl int32, svc *service, d *dest) Result {
	s := c.tab.At(idx)
	s.tmpl = tmpl
	c.ctr.dest(d.id).n[epConns]++
	c.ctr.svc(svc.id).n[epConns]++
	c.ctr.n[ctrCreated]++
	c.ctr.n[ctrSessions]++
	return c.forward(f, pkt, ip, l4, idx, DirIn)
}

// unbind is abandon for a new flow already counted on its destination d and
// its service's sessions, whose reply tuple could not be indexed.
func (c *Core) unbind(pool int32, lport uint16, svc *service, tmpl int32, d *dest) {
	c.conns.Add(c.id, d.id, 0, -1)
	c.svcSessions[svc.id]--
	c.abandon(pool, lport, svc, tmpl)
}

// abandon gives back what a new flow that could not be created held: its
// local port (pool, lport) and persistence template.
func (c *Core) abandon(pool int32, lport uint16, svc *service, tmpl int32) {
	if pool >= 0 {
		c.ports.Free(pool, lport)
	}
	svc.sched.Release(c.id, tmpl, c.now)
}

// allocLaddr picks a FULLNAT local address on the port that routes to the real
// server, rotating the first one tried, and a local port from its pool toward
// RIP:rport. It returns the session's reply tuple RIP:rport→LIP:lport.
func (c *Core) allocLaddr(svc *service, d *dest, k *Tuple4) (Tuple4, int32, DropReason) {
	e := c.destEgress(d)
	if e.r == ReasonNoRoute {
		return Tuple4{}, -1, ReasonNoRoute
	}
	port := e.ds.Port
	n := len(svc.laddrs)
	if n == 0 {
		// A FULLNAT service whose local addresses are not configured yet
		// (ipvsadm users add them after the real servers, as with DPVS).
		return Tuple4{}, -1, ReasonNoLaddr
	}
	c.laddrRR++
	start := int(c.laddrRR % uint32(n))
	r := ReasonNoLaddr
	for j := range n {
		la := &svc.laddrs[(start+j)%n]
		if la.Port != port {
			continue
		}
		pool, lport, ok := c.ports.Alloc(k.Proto, la.Addr, d.addr, d.port)
		if ok {
			return Tuple4{Src: d.addr, Dst: la.Addr, SPort: d.port, DPort: lport, Proto: k.Proto}, pool, ReasonNone
		}
		r = ReasonLaddrExhausted
	}
	if r == ReasonLaddrExhausted {
		// Every local address is out of ports toward the real server:
		// take one back from an unreplied session (evict.go), from the
		// first address tried.
		for j := range n {
			la := &svc.laddrs[(start+j)%n]
			if la.Port != port {
				continue
			}
			pool, ok := c.ports.Lookup(k.Proto, la.Addr, d.addr, d.port)
			if !ok || !c.reclaimPort(pool, k.Proto, la.Addr, d.addr, d.port) {
				continue
			}
			if pool, lport, ok := c.ports.Alloc(k.Proto, la.Addr, d.addr, d.port); ok {
				return Tuple4{Src: d.addr, Dst: la.Addr, SPort: d.port, DPort: lport, Proto: k.Proto}, pool, ReasonNone
			}
		}
	}
	return Tuple4{}, -1, r
}

// forward sends a packet of session idx received in direction d: TCP state,
// deadline, its destination's and service's counters, rewrite (or
// encapsulation), egress. l4 is nil for a non-first fragment (frag.go): only
// its IPv4 header is rewritten.
func (c *Core) forward(f *Frame, pkt []byte, ip header.IPv4, l4 []byte, idx int32, d Dir) Result {
	stack := c.stack
	s := c.tab.At(idx)
	if s.egressValid(d^1, stack) && f.Port != s.Dir[d^1].Port && !c.svcs.pol.LooseIngress {
		return drop(ReasonWrongIngressPort)
	}
	tcp := s.Orig.Proto == header.IPProtoTCP && l4 != nil
	if tcp && header.TCP(l4).Flags()&header.TCPFlagRST != 0 && !rstInWindow(s, d, header.TCP(l4)) {
		return drop(ReasonRSTOutOfWindow)
	}
	if s.Mode != ModeDR && ip.TTL() <= 1 {
		return c.timeExceeded(f, ip)
	}
	ds := &s.Dir[d]
	o := s.In(d ^ 1) // the packet leaves with o reversed (see Session)
	r, nh := ReasonNone, header.Addr4{}
	if !s.egressValid(d, stack) {
		if nh, r = c.resolveEgress(s, d, hopFor(s, o)); r != ReasonNone && r != ReasonNoNeigh {
			return drop(r)
		}
	}
	if s.Mode == ModeTUN {
		// Checked before anything changes: a packet that is not sent
		// neither moves the TCP state nor counts, and an ICMP error
		// quotes it as it was received.
		if mtu := int(stack.PortMTU(ds.Port)); len(ip)+tunnel.IPIPLen > mtu {
			return c.fragNeeded(f, ip, s, mtu-tunnel.IPIPLen)
		}
		if f.Off < tunnel.IPIPLen {
			return drop(ReasonNoHeadroom)
		}
	} else if mtu := int(stack.PortMTU(ds.Port)); len(ip) > mtu {
		// The egress link is narrower than the ingress one.
		return c.tooBig(f, ip, mtu)
	}
	if s.Flags&FlagClientAddr != 0 && ip.IsFragment() {
		return drop(ReasonProxyFragment)
	}
	switch {
	case tcp:
		c.tcpState(s, d, header.TCP(l4))
	case d == DirOut && s.State == StateUDPOneway:
		s.State = StateUDP // the first reply
	}
	if s.Flags&FlagClientAddr != 0 {
		var cr DropReason
		if ip, l4, cr = c.clientAddr(f, ip, l4, s, idx, d, int(stack.PortMTU(ds.Port))); cr != ReasonNone {
			return drop(cr)
		}
		pkt = f.Buf[f.Off : f.Off+f.Len : f.Off+f.Len]
	}
	exp := s.Expires
	c.pass(s, idx, d, len(ip))
	if d == DirOut && s.State == StateSynRecv && s.Expires > exp {
		// The real server's SYN-ACK (retransmitted while the client is
		// silent, as a spoofed SYN's is) does not re-arm SYN_RECV: the
		// session ends SYN_RECV's timeout after the client's last SYN.
		// (A later deadline never moved the session in the wheel.)
		s.Expires = exp
	}
	switch s.Mode {
	case ModeDR:
	case ModeTUN:
		pkt = c.encap(f, ip, s)
	default:
		rewrite(ip, l4, o, s.delta[d])
	}
	eth := header.Ethernet(pkt)
	eth.SetSource(stack.PortMAC(ds.Port))
	if r == ReasonNoNeigh {
		return Result{Act: ActControl, Reason: ReasonNoNeigh, Port: ds.Port, NextHop: nh.Uint32()}
	}
	eth.SetDestination(ds.DstMAC)
	return Result{Act: ActTx, Port: ds.Port}
}

// pass records a packet of n bytes of session idx (s) sent in direction d,
// after its TCP state moved: the session's deadline for its state, and its
// destination's and service's counters.
func (c *Core) pass(s *Session, idx int32, d Dir, n int) {
	c.tab.touch(s, idx, c.now+c.svcs.timeout[s.State])
	de, se := c.ctr.dest(s.DestID), c.ctr.svc(s.SvcID)
	pk, by := epInPkts, epInBytes
	if d == DirOut {
		pk, by = epOutPkts, epOutBytes
	}
	de.n[pk]++
	de.n[by] += uint64(n)
	se.n[pk]++
	se.n[by] += uint64(n)
}

// encap forwards ip, a packet of TUN session s, into the session's IPIP
// tunnel: it decrements the inner TTL (RFC 2003 §3.1: the encapsulator is
// forwarding the datagram; LVS decrement_ttl) and prepends the outer header
// from the session's template, moving the frame. It returns the new frame.
// The caller has checked the TTL, the headroom and the MTU.
func (c *Core) encap(f *Frame, ip header.IPv4, s *Session) []byte {
	ip.DecrementTTLWithChecksumUpdate()
	id := uint16(0) // DF: an atomic datagram (RFC 6864 §4.1), as Linux sends them
	if !ip.DF() {
		id = c.nextID()
	}
	t := s.tunnel()
	f.Off, f.Len = t.Encap(f.Buf, f.Off, f.L3+len(ip), f.L3, id)
	return f.Buf[f.Off : f.Off+f.Len : f.Off+f.Len]
}

// fragNeeded answers ip, a packet of session s that does not fit the egress
// MTU once encapsulated, with ICMP destination unreachable, fragmentation
// needed (RFC 792, RFC 1191) carrying mtu, the MTU left for inner packets, as
// LVS's ensure_mtu_is_adequate does for IP_VS_RT_MODE_TUNNEL. The error comes
// from the VIP (Orig.Dst): LVS's icmp_send takes the source of an error about
// a packet addressed to the director itself from that packet's destination.
// It goes to the packet's source, through the egress toward the client cached
// in Dir[DirOut] (TUN replies never use it), and it is built over the frame:
// the quoted header and 8 payload bytes stay where they are and the new
// Ethernet, IPv4 and ICMP headers go in front of them, into the headroom. The
// core's token bucket limits these errors; a packet without DF is not
// answered (see ReasonTooBig). Never silently: every outcome is a counted
// verdict.
func (c *Core) fragNeeded(f *Frame, ip header.IPv4, s *Session, mtu int) Result {
	if !ip.DF() || mtu < minIPv4MTU {
		return drop(ReasonTooBig)
	}
	e := arp.ICMPError{Type: header.ICMPv4DstUnreachable, Code: header.ICMPv4FragNeeded, MTU: uint16(mtu), Src: s.Orig.Dst}
	return c.originate(f, ip, &e, s, ReasonTooBig) // RFC 1122 §3.2.2 cases: too_big
}

// minIPv4MTU is the smallest MTU every IPv4 link must carry (RFC 791): a
// tunnel leaving less is not usable (LVS: "mtu less than 68").
const minIPv4MTU = 68

// hopFor returns the address whose route and neighbour a packet of s follows
// when it leaves with o reversed (o is the other direction's tuple), and
// whether that address must be the neighbour itself. DR sends the unchanged
// packet to the real server's MAC, so it resolves the real server (on-link,
// LVS IP_VS_RT_MODE_KNOWN_NH), which Reply names; TUN routes the outer packet
// to the real server like any datagram to it.
func hopFor(s *Session, o *Tuple4) hop {
	switch s.Mode {
	case ModeDR:
		return hop{addr: s.Reply.Src, direct: true}
	case ModeTUN:
		return hop{addr: s.Reply.Src}
	}
	return hop{addr: o.Src}
}

type hop struct {
	addr   header.Addr4
	direct bool // the neighbour is addr itself, whatever the route's gateway
}

// resolveEgress is resolve for direction d of session s in the call's stack
// snapshot (c.stack), recorded with the neighbour's reference (callers skip
// it while egressValid), plus what depends on the egress port: a TUN
// session's outer source address (the port's address, LVS's route source for
// the real server) and the outer header's precomputed sum, refreshed when
// they change. It returns what resolve does, or ReasonNoTunnelSource.
func (c *Core) resolveEgress(s *Session, d Dir, h hop) (header.Addr4, DropReason) {
	stack := c.stack
	nh, ref, r := resolve(&s.Dir[d], stack, h)
	s.ref[d] = ref
	if r == ReasonNoRoute || s.Mode != ModeTUN {
		return nh, r
	}
	src, ok := stack.PortAddr(s.Dir[d].Port)
	if !ok {
		s.ref[d] = 0
		return nh, ReasonNoTunnelSource
	}
	if src != s.Reply.Dst {
		s.Reply.Dst = src
		s.computeDeltas()
	}
	return nh, r
}

// egressValid reports whether Dir[d] holds the egress in stack: the
// neighbour it was resolved from has not changed since (nor have routes or
// interface addresses). One load and a compare.
func (s *Session) egressValid(d Dir, stack *arp.Snapshot) bool {
	return stack.Current(s.ref[d&1])
}

// destRoute is a core's cache of resolve's answer for packets to one
// destination, a FULLNAT or NAT real server: its egress port and MAC and the
// outcome. Every new flow to the destination takes them from here, instead
// of looking the route and the neighbour up again (LVS keeps a route per
// destination the same way, dest_dst): a resolved egress while its
// neighbour's reference is current, a failure for one stack generation.
type destRoute struct {
	gen  uint64       // failures: the generation + 1 (0: empty; generations never wrap)
	ref  arp.NeighRef // success: the neighbour's reference
	addr header.Addr4 // the destination it was resolved for: IDs are reused
	ds   DirState
	r    DropReason
}

// destEgress returns resolve's answer for a packet routed to destination d
// in the call's stack snapshot (c.stack), from the core's cache when it holds
// one for the snapshot.
func (c *Core) destEgress(d *dest) *destRoute {
	stack := c.stack
	e := &c.routes[d.id]
	if e.addr != d.addr || (e.r == ReasonNone && !stack.Current(e.ref)) || (e.r != ReasonNone && e.gen != stack.Gen()+1) {
		*e = destRoute{gen: stack.Gen() + 1, addr: d.addr}
		_, e.ref, e.r = resolve(&e.ds, stack, hop{addr: d.addr})
	}
	return e
}

// resolve makes ds hold the egress toward h in stack, by route and neighbour
// lookups. It returns the neighbour the packet goes to, the neighbour's
// reference, and ReasonNone, ReasonNoRoute, or ReasonNoNeigh: then ds.Port is
// set but not ds.DstMAC, and the reference is 0, so that the session's egress
// is not valid (the next packet looks up again; destRoute keeps the answer
// for its generation only) and the caller hands the packet to the control
// lcore to resolve the neighbour (Result.NextHop: for DR it is the real
// server, which the packet's destination, the VIP, does not tell).
func resolve(ds *DirState, stack *arp.Snapshot, h hop) (header.Addr4, arp.NeighRef, DropReason) {
	port, nh, ok := stack.Route(h.addr)
	if !ok {
		return header.Addr4{}, 0, ReasonNoRoute
	}
	if h.direct {
		nh = h.addr
	}
	ds.Port = port
	mac, ref, ok := stack.NeighEgress(port, nh)
	if !ok {
		return nh, 0, ReasonNoNeigh
	}
	ds.DstMAC = mac
	return nh, ref, ReasonNone
}

func (c *Core) tcpStateChange(s *Session, ns State) {
	switch {
	case s.Flags&FlagInactive == 0 && ns != StateEstablished:
		c.conns.Add(c.id, s.DestID, -1, 1)
		s.Flags |= FlagInactive
	case s.Flags&FlagInactive != 0 && ns == StateEstablished:
		c.conns.Add(c.id, s.DestID, 1, -1)
		s.Flags &^= FlagInactive
		if s.tmpl == sched.TemplateAtHandshake {
			c.bindTemplate(s)
		}
	}
	s.State = ns
}

// bindTemplate gives a connection to a persistent service, whose handshake
// just completed, its persistence template (sched.Service.Bind): its SYN took
// none, so that SYNs from spoofed sources cannot fill the template table.
func (c *Core) bindTemplate(s *Session) {
	s.tmpl = -1
	if sv := c.svcs.byIDOrNil(s.SvcID); sv != nil {
		s.tmpl = sv.sched.Bind(c.id, sv.schedKey(&s.Orig), s.DestID, c.now)
	}
}

// rewrite writes the reverse of tuple o (the other direction's) into the
// packet and decrements the TTL, updating the IPv4 and TCP/UDP checksums with
// the session's precomputed deltas (RFC 1624 eqn. 3). A zero UDP checksum
// (none, RFC 768) stays zero; a computed zero is sent as 0xffff. l4 is nil
// for a non-first fragment. The L4 delta holds for a first fragment too: the
// checksum covers the whole datagram, and the change is in its header.
func rewrite(ip header.IPv4, l4 []byte, o *Tuple4, dl csumDelta) {
	// The fixed part of each header as a slice of constant length: its
	// fields, at constant offsets, need no bounds checks.
	ip = (*[header.IPv4MinLen]byte)(ip)[:]
	ip.SetChecksum(applyDelta(ip.Checksum(), dl.ip))
	ip.SetTTL(ip.TTL() - 1)
	ip.SetSourceAddress(o.Dst)
	ip.SetDestinationAddress(o.Src)
	if l4 == nil {
		return // a non-first fragment: the ports and checksum were in the first
	}
	if o.Proto == header.IPProtoTCP {
		t := header.TCP((*[header.TCPMinLen]byte)(l4)[:])
		t.SetSourcePort(o.DPort)
		t.SetDestinationPort(o.SPort)
		t.SetChecksum(applyDelta(t.Checksum(), dl.l4))
		return
	}
	u := header.UDP((*[header.UDPLen]byte)(l4)[:])
	u.SetSourcePort(o.DPort)
	u.SetDestinationPort(o.SPort)
	if u.Checksum() != 0 {
		x := applyDelta(u.Checksum(), dl.l4)
		if x == 0 {
			x = 0xffff
		}
		u.SetChecksum(x)
	}
}
