package nat

import (
	"fmt"
	"runtime"
	"time"

	"fngw/arp"
	"fngw/frag"
	"fngw/header"
	"fngw/prefetch"
	"fngw/sched"
)

// Config configures one worker core's datapath state.
type Config struct {
	Core, NumCores int
	// Sessions is the capacity of the core's session table.
	Sessions int
	// Ports is the FULLNAT local port range; the zero value means
	// DefaultPortRange.
	Ports PortRange
	// SequentialPorts hands never-used local ports out in ascending order
	// rather than in each pool's random order: for benchmarks whose traffic
	// predicts the local ports of the sessions it creates (perf/gen's reply
	// and mixed modes), never for a gateway facing a network.
	SequentialPorts bool
	Limits          Limits
	// Seed keys the session hash (random in production).
	Seed uint64
	// TickShift and WheelSlots size the timer wheel (see TableConfig).
	TickShift  uint
	WheelSlots int
	// ICMPRate and ICMPBurst limit the ICMP errors the core originates
	// (fragmentation needed for TUN), per second and in a burst; zero means
	// DefaultICMPRate and DefaultICMPBurst.
	ICMPRate, ICMPBurst int
	// Fragments is how many fragmented datagrams the core tracks at once
	// and FragmentTimeout how long after its first fragment the others may
	// come (see frag.go); zero means frag.DefaultCapacity and
	// frag.DefaultTimeout.
	Fragments       int
	FragmentTimeout time.Duration
}

// Defaults of Config.ICMPRate and ICMPBurst: Linux's net.ipv4.icmp_msgs_per_sec
// and icmp_msgs_burst, the global limit that also applies to fragmentation
// needed (which Linux exempts from its per-destination limit so as not to
// slow path-MTU discovery), here per core.
const (
	DefaultICMPRate  = 1000
	DefaultICMPBurst = 50
)

// Core is one worker core's datapath: its session table, port pools and
// counters. Process, Expire and Flush must only be called from that core's
// worker; the Add*Stats and LaddrUsage readers are safe from any goroutine.
type Core struct {
	id     int
	ncores int
	tab    *Table
	ports  *PortPools
	conns  *sched.Conns

	ctr    counters
	routes []destRoute // by destination ID (see destEgress)

	laddrRR   uint32 // rotates the first local address tried for a new flow
	schedNext int    // next service whose scheduler tables Expire ages
	reap      [64]int32
	evictHand int32 // the table hand of evict (evict.go)
	// svcSessions counts this core's sessions by service ID, for
	// ServiceConf.SessionQuota.
	svcSessions []int64

	// ext is the PROXY protocol's side table (clientaddr.go), indexed like
	// the session table, 8 bytes a slot (newLazyArray: off the Go heap,
	// not committed); only sessions with FlagClientAddr touch it, so its
	// pages are resident only where such sessions have been.
	ext []seqExt

	icmp  arp.TokenBucket // ICMP errors this core originates
	frags *frag.Table     // datagrams whose first fragment was forwarded (frag.go)
	ipID  uint16          // IPv4 ID of the next datagram this core originates (see nextID)

	// ProcessBurst's scratch: per frame of a chunk, the tuple hash, the
	// session candidate (Table.Candidate), -1 for none, and the tuple; the
	// lines to prefetch.
	hash [hintChunk]uint32
	cand [hintChunk]int32
	keys [hintChunk]Tuple4 // the tuples peekTuple read (valid when hashed)
	pf   [2 * hintChunk]uintptr
	// The frame being processed: its tuple's hash from the look-ahead,
	// valid when hashed (segment reads the same tuple from the same
	// bytes).
	hashed bool
	h      uint32
	// The call in hand (Process, ProcessBurst): its services and stack
	// snapshots and time. The per-packet chain (count, process, segment,
	// newFlow, forward) reads them here rather than as arguments, which
	// keeps its calls' arguments in registers.
	svcs  *Services
	stack *arp.Snapshot
	now   int64
	// reIn: a client packet of a session may have to be scheduled
	// afresh (Services.rescheduleIn): svcs' Policy.ExpireNodestConn, or a
	// one-packet service.
	reIn bool
	// The deferred new flows, in frame order, and a filter of their
	// tuples' hashes (deferred.go).
	pend     [hintChunk]pendingFlow
	npend    int
	pendHash [pendHashBits / 64]uint64
	one      Result // Process's verdict (settle may write it)
}

// hintChunk is how many frames ProcessBurst looks up ahead at a time: one
// rx burst (lcore.BurstSize), a worker's batch.
const hintChunk = 64

// NewCore allocates a core's state. conns is the connection-count table shared
// with the schedulers; now (monotonic ns) starts the timer wheel. The session
// timeouts come with each call's Services snapshot.
func NewCore(cfg Config, conns *sched.Conns, now int64) (*Core, error) {
	if err := cfg.Limits.validate(); err != nil {
		return nil, err
	}
	if conns == nil {
		return nil, fmt.Errorf("core %d: NewCore needs the shared Conns", cfg.Core)
	}
	if conns.Cores() < cfg.NumCores || conns.MaxDests() < cfg.Limits.MaxDests {
		return nil, fmt.Errorf("core %d: Conns has %d cores and %d destinations, need %d and %d",
			cfg.Core, conns.Cores(), conns.MaxDests(), cfg.NumCores, cfg.Limits.MaxDests)
	}
	if cfg.Ports == (PortRange{}) {
		cfg.Ports = DefaultPortRange
	}
	if cfg.ICMPRate == 0 {
		cfg.ICMPRate = DefaultICMPRate
	}
	if cfg.ICMPBurst == 0 {
		cfg.ICMPBurst = DefaultICMPBurst
	}
	if cfg.ICMPRate < 0 || cfg.ICMPRate > 1e9 || cfg.ICMPBurst < 0 {
		return nil, fmt.Errorf("core %d: ICMP rate %d/s, burst %d: want 0 < rate <= 1e9 and burst > 0", cfg.Core, cfg.ICMPRate, cfg.ICMPBurst)
	}
	ports, err := NewPortPools(cfg.Core, cfg.NumCores, cfg.Ports, cfg.Limits.MaxLocalAddrs, cfg.Seed^0x6a09e667f3bcc909)
	if err != nil {
		return nil, err
	}
	ports.sequential = cfg.SequentialPorts
	tab, err := NewTable(TableConfig{Capacity: cfg.Sessions, Seed: cfg.Seed, TickShift: cfg.TickShift, Slots: cfg.WheelSlots}, now)
	if err != nil {
		return nil, err
	}
	frags, err := frag.New(frag.Config{Capacity: cfg.Fragments, Timeout: int64(cfg.FragmentTimeout), Seed: cfg.Seed ^ 0x9e3779b97f4a7c15})
	if err != nil {
		return nil, fmt.Errorf("core %d: %w", cfg.Core, err)
	}
	ext, extMap := newLazyArray[seqExt](tab.Cap())
	c := &Core{
		id:     cfg.Core,
		ncores: cfg.NumCores,
		tab:    tab,
		ports:  ports,
		conns:  conns,
		ctr:    newCounters(cfg.Limits),
		routes: make([]destRoute, cfg.Limits.MaxDests),

		svcSessions: make([]int64, cfg.Limits.MaxServices),
		ext:         ext,
		icmp:        arp.NewTokenBucket(cfg.ICMPRate, cfg.ICMPBurst, now),
		frags:       frags,
		ipID:        uint16(cfg.Core),
	}
	if extMap != nil {
		// Nothing points into the mapping once the Core is unreachable.
		runtime.AddCleanup(c, unmapArrays, [][]byte{extMap})
	}
	return c, nil
}

// nextID returns the IPv4 identification of a datagram this core originates
// (an outer IPIP header without DF, an ICMP error). Cores step by the number
// of cores from their own number, so no two cores use the same ID at the same
// time toward one destination (RFC 791; RFC 6864 §4.2 for fragmentable
// datagrams).
func (c *Core) nextID() uint16 {
	id := c.ipID
	c.ipID += uint16(c.ncores)
	return id
}

// Table returns the core's session table, for the core's own worker (session
// listing).
func (c *Core) Table() *Table { return c.tab }

// LaddrUsage appends this core's per-local-address port usage, as of its
// last Flush, to dst (ipvsadm --get-laddr sums it over cores). Safe from any
// goroutine.
func (c *Core) LaddrUsage(dst []LaddrUsage) []LaddrUsage { return c.ports.Usage(dst) }

// Process handles one frame: it finds or creates the session, rewrites the
// frame in place and returns the verdict. svcs is the services snapshot (nil
// means none), stack the routes/neighbours snapshot (never nil) and now the
// monotonic time, all read once per burst by the caller. It never allocates.
func (c *Core) Process(f *Frame, svcs *Services, stack *arp.Snapshot, now int64) Result {
	c.begin(svcs, stack, now)
	c.hashed = false
	c.count(f, -1, &c.one)
	c.settle()
	return c.one
}

// begin sets the call's context (see Core.svcs).
func (c *Core) begin(svcs *Services, stack *arp.Snapshot, now int64) {
	if svcs == nil {
		svcs = noServices
	}
	c.svcs, c.stack, c.now = svcs, stack, now
	c.reIn = svcs.pol.ExpireNodestConn || svcs.ops != nil
}

// ProcessBurst is Process for each frame of a burst, in order: rs[i] is the
// verdict of fs[i] (len(rs) >= len(fs)). It first looks the sessions of the
// whole burst up in the Table's two prefetching steps (hash and prefetch
// every home bucket, then read the buckets and prefetch the sessions they
// name), so the cache and TLB misses of the burst overlap instead of
// stalling each packet in turn; then it processes the frames, and completes
// the new flows it deferred at the end (deferred.go). The verdicts are
// Process's, frame by frame (deferred.go says where a pool exhausted in the
// chunk could tell them apart).
func (c *Core) ProcessBurst(fs []Frame, rs []Result, svcs *Services, stack *arp.Snapshot, now int64) {
	c.begin(svcs, stack, now)
	rs = rs[:len(fs)]
	for len(fs) > 0 {
		n := min(len(fs), hintChunk)
		c.lookAhead(fs[:n])
		for i := range n {
			if c.cand[i] >= 0 && c.established(&fs[i], &c.keys[i], c.cand[i], &rs[i]) {
				continue
			}
			if c.npend > 0 && c.maySeeDeferred(i) {
				c.settle()
			}
			c.hashed, c.h = c.cand[i] != unhashed, c.hash[i]
			c.count(&fs[i], c.cand[i], &rs[i])
		}
		c.settle()
		fs, rs = fs[n:], rs[n:]
	}
}

// unhashed is the candidate lookAhead gives a frame whose tuple it did not
// read (not an unfragmented TCP or UDP packet carrying its ports).
const unhashed = -2

// lookAhead fills c.hash and c.cand for frames (at most hintChunk): the
// tuple hash and candidate session of each TCP or UDP packet that carries its
// ports (-1: no candidate), unhashed for others. Frames are not validated
// yet: a frame that peekTuple misreads only costs a useless prefetch, since
// LookupHint verifies every candidate, and fails the checks before segment,
// so its hash is never used.
//
// Not inlined into ProcessBurst (noinline), so that PGO inlines peekTuple into
// it (perf/README.md, profile-guided optimisation).
//
//go:noinline
func (c *Core) lookAhead(fs []Frame) {
	n := 0
	for i := range fs {
		k := &c.keys[i]
		if !peekTuple(&fs[i], k) {
			c.cand[i] = unhashed
			continue
		}
		h := c.tab.Hash(k)
		c.hash[i], c.cand[i] = h, 0
		c.pf[n] = c.tab.BucketAddr(h)
		n++
	}
	prefetch.Lines(c.pf[:n])
	n = 0
	for i := range fs {
		if c.cand[i] != 0 {
			continue
		}
		cand := c.tab.Candidate(c.hash[i])
		c.cand[i] = cand
		if cand >= 0 {
			c.pf[n], c.pf[n+1] = c.tab.SessionAddrs(cand >> 1)
			n += 2
		}
	}
	prefetch.Lines(c.pf[:n])
}

// peekTuple reads into k the tuple of an unfragmented TCP or UDP packet in f
// with an IPv4 header of 20 bytes (a header with options is left to segment,
// which hashes its tuple itself). It only bounds its reads by the buffer:
// bytes beyond the frame are read when the frame is too short to hold them,
// and process then drops it before its hash is used.
func peekTuple(f *Frame, k *Tuple4) bool {
	i := f.Off + f.L3
	if f.Off < 0 || f.L3 < 0 || i > len(f.Buf)-peekLen {
		return false
	}
	h := (*[peekLen]byte)(f.Buf[i : i+peekLen])
	p := h[9]
	if h[0] != 0x45 || (p != header.IPProtoTCP && p != header.IPProtoUDP) ||
		h[6]&0x3f != 0 || h[7] != 0 { // MF or a fragment offset
		return false
	}
	k.Src, k.Dst = header.Addr4(h[12:16]), header.Addr4(h[16:20])
	k.SPort = uint16(h[20])<<8 | uint16(h[21])
	k.DPort = uint16(h[22])<<8 | uint16(h[23])
	k.Proto = p
	return true
}

// peekLen is what peekTuple reads: an IPv4 header without options and the
// two ports.
const peekLen = header.IPv4MinLen + 4

// count is Process given the frame's session candidate (-1: none): it
// writes the verdict to res and counts it, or leaves both to settle for a
// new flow it deferred.
func (c *Core) count(f *Frame, cand int32, res *Result) {
	rxLen := f.Len
	r := c.process(f, cand)
	if r.Act == actPending {
		p := &c.pend[c.npend-1]
		p.res, p.rxLen = res, rxLen
		return
	}
	*res = r
	c.account(f, rxLen, r)
}

// account counts a frame of rxLen bytes received and its verdict r.
func (c *Core) account(f *Frame, rxLen int, r Result) {
	k := &c.ctr.n
	k[ctrRx]++
	if rxLen > 0 {
		k[ctrRxBytes] += uint64(rxLen)
	}
	k[ctrVerdict+int(r.Act)]++
	switch r.Act {
	case ActDrop:
		k[ctrDrop+int(r.Reason)]++
	case ActTx:
		k[ctrTxBytes] += uint64(f.Len)
	}
}

var notMine = Result{Act: ActNotMine}

// noServices stands for a nil snapshot: existing sessions still forward,
// with LVS's timeouts.
var noServices = func() *Services {
	s, err := NewServices(nil, Timeouts{}, Limits{MaxServices: 1, MaxDests: 1, MaxLocalAddrs: 1})
	if err != nil {
		panic(err)
	}
	return s
}()

// process is Process given the frame's session candidate, with the call's
// context in c: TCP and UDP (an existing session in either direction, a
// reply owned by another core, a new flow to a service), their fragments,
// and ICMP errors about them.
func (c *Core) process(f *Frame, cand int32) Result {
	pkt, ok := frameBytes(f)
	if !ok {
		return drop(ReasonMalformedL3)
	}
	ip := header.IPv4(pkt[f.L3:])
	if !ip.IsValid(len(ip)) {
		return drop(ReasonMalformedL3)
	}
	ip = ip[:ip.TotalLength()] // drop Ethernet padding
	pkt = trim(f, pkt, len(ip))
	switch ip.Protocol() {
	case header.IPProtoTCP, header.IPProtoUDP:
		if ip.IsFragment() {
			return c.fragment(f, pkt, ip) // frag.go
		}
		return c.segment(f, pkt, ip, false, cand)
	case header.IPProtoICMP:
		return c.icmpError(f, pkt, ip) // icmp.go
	}
	return notMine
}

// frameBytes returns f's bytes, or false when its offsets do not describe a
// frame with room for an IPv4 header after L2. The three-index slice caps
// the frame: nothing that works on it writes past it.
func frameBytes(f *Frame) ([]byte, bool) {
	if f.Off < 0 || f.Len < 0 || f.Off > len(f.Buf) || f.Len > len(f.Buf)-f.Off ||
		f.L3 < header.EthernetLen || f.L3 > f.Len-header.IPv4MinLen {
		return nil, false
	}
	return f.Buf[f.Off : f.Off+f.Len : f.Off+f.Len], true
}

// trim cuts pkt, frame f's bytes holding a datagram of n bytes at f.L3, to
// the datagram: bytes after it beyond the Ethernet minimum are not padding
// but a trailer, never forwarded (Linux trims the same way, pskb_trim_rcsum
// in ip_rcv).
func trim(f *Frame, pkt []byte, n int) []byte {
	if end := max(f.L3+n, minFrameLen); f.Len > end {
		f.Len = end
		pkt = pkt[:end:end]
	}
	return pkt
}

// isValidL4 reports whether l4 holds a valid TCP or UDP header of protocol
// proto. A first fragment's UDP length covers the whole datagram, so only
// its header's presence is checked.
func isValidL4(proto uint8, l4 []byte, first bool) bool {
	switch {
	case proto == header.IPProtoTCP:
		return header.TCP(l4).IsValid(len(l4))
	case first:
		return len(l4) >= header.UDPLen
	}
	return header.UDP(l4).IsValid(len(l4))
}

// established is count for a frame whose candidate session cand names the
// tuple k peekTuple read, in the common case: the session is the frame's
// and FULLNAT or NAT with its egress resolved, and the frame is well formed
// (its IPv4 header is 20 bytes, of TCP or UDP, not a fragment), with a TTL
// to decrement and within the egress MTU. Then it forwards the frame as
// process would, writes the verdict to res, counts it and reports true. It
// reports false, having changed nothing, for a frame that takes the general
// path: another session or none, another mode, a session whose segments are
// translated (FlagClientAddr), an egress to resolve, a
// malformed frame, an expiring TTL, a packet too big, a reply another core
// owns, a SYN or a RST, a client packet under Policy.ExpireNodestConn, a
// packet on another port than its sender's (wrong_ingress_port), or a
// deferred TCP flow (state NONE while flows are deferred: deferred.go).
//
// Not inlined into ProcessBurst (noinline), so that PGO inlines pass and
// rewrite into it (perf/README.md, profile-guided optimisation).
//
//go:noinline
func (c *Core) established(f *Frame, k *Tuple4, cand int32, res *Result) bool {
	idx, d := cand>>1, Dir(cand&1)
	s := c.tab.At(idx)
	if *s.In(d) != *k || (c.npend > 0 && s.State == StateNone) || !s.Mode.hasReply() || s.Flags&FlagClientAddr != 0 || !s.egressValid(d, c.stack) ||
		(f.Port != s.Dir[d^1].Port && s.ref[d^1] != 0) || (c.reIn && d == DirIn && c.svcs.rescheduleIn(s)) {
		return false
	}
	pkt, ok := frameBytes(f)
	if !ok {
		return false
	}
	ip := header.IPv4(pkt[f.L3:])
	n := int(ip.TotalLength())
	ds := &s.Dir[d]
	if n < header.IPv4MinLen || n > len(ip) || ip.TTL() <= 1 || n > int(c.stack.PortMTU(ds.Port)) {
		return false
	}
	ip = ip[:n]
	l4 := []byte(ip[header.IPv4MinLen:])
	tcp := k.Proto == header.IPProtoTCP
	if tcp {
		t := header.TCP(l4)
		if !t.IsValid(len(l4)) || t.Flags()&(header.TCPFlagSYN|header.TCPFlagRST) != 0 {
			return false // SYN and RST: conn_reuse, the RST's window, SYN_RECV (forward)
		}
	} else if !header.UDP(l4).IsValid(len(l4)) {
		return false
	}
	if c.ncores > 1 && OwnerCore(k.DPort, c.ncores) != c.id && c.svcs.IsLocalAddr(k.Dst) {
		return false
	}
	rxLen := f.Len
	pkt = trim(f, pkt, n)
	if tcp {
		c.tcpState(s, d, header.TCP(l4))
	} else if d == DirOut {
		s.State = StateUDP // a reply: no longer one-way
	}
	c.pass(s, idx, d, n)
	rewrite(ip, l4, s.In(d^1), s.delta[d])
	eth := header.Ethernet(pkt)
	eth.SetSource(c.stack.PortMAC(ds.Port))
	eth.SetDestination(ds.DstMAC)
	*res = Result{Act: ActTx, Port: ds.Port}
	c.account(f, rxLen, *res)
	return true
}

// segment handles TCP and UDP for a packet that carries its header:
// unfragmented, or the first fragment of a datagram (first; its UDP length
// then covers the whole datagram, not this fragment). cand is the session
// candidate of its tuple (Table.Candidate), or negative for none; c.h is its
// hash when c.hashed.
func (c *Core) segment(f *Frame, pkt []byte, ip header.IPv4, first bool, cand int32) Result {
	svcs := c.svcs
	dst := ip.DestinationAddress()
	toLaddr := svcs.IsLocalAddr(dst)
	proto := ip.Protocol()
	l4 := []byte(ip[ip.HeaderLength():])
	if !isValidL4(proto, l4, first) {
		return ifOurs(svcs, dst, toLaddr, ReasonMalformedL4)
	}
	var k Tuple4
	k.read(ip, l4)
	if toLaddr && c.ncores > 1 {
		// A FULLNAT reply: only the core owning the local port has it.
		if o := OwnerCore(k.DPort, c.ncores); o != c.id {
			return redirectTo(o)
		}
	}
	h := c.h
	if !c.hashed {
		h = c.tab.Hash(&k)
	}
	idx, d := c.tab.LookupHint(&k, h, cand)
	if idx >= 0 && d == DirIn {
		s := c.tab.At(idx)
		syn := proto == header.IPProtoTCP && isPureSYN(header.TCP(l4).Flags())
		if (syn && (isNewConnReuse(s) || svcs.destQuiescedReuse(s.DestID))) || svcs.rescheduleIn(s) {
			// LVS conn_reuse_mode: a SYN reusing the tuple of a
			// connection in TIME_WAIT or CLOSE after a FIN ends it at
			// once (counted as expired, as LVS expires it) and is
			// scheduled afresh; and Policy.ExpireNodestConn, and a
			// datagram of a one-packet service.
			c.release(idx, svcs, c.now)
			c.ctr.n[ctrExpired]++
			idx = -1
		}
	}
	if idx >= 0 {
		return c.forward(f, pkt, ip, l4, idx, d)
	}
	if toLaddr {
		return drop(ReasonNoSession)
	}
	si := int32(-1)
	if svcs.marks != nil { // fwmark services first, as LVS
		si = svcs.lookupMark(&k)
	}
	if si < 0 {
		si = svcs.lookup(dst, k.DPort, proto)
	}
	if c.ncores > 1 {
		if o, ok := svcs.natOwner(&k, si, c.ncores); ok && o != c.id {
			return redirectTo(o)
		}
	}
	if si < 0 {
		if svcs.IsVIP(dst) {
			return drop(ReasonNoService)
		}
		return notMine
	}
	return c.newFlow(f, pkt, ip, l4, &k, h, &svcs.svcs[si])
}

// ifOurs drops a packet for reason r when it is addressed to a VIP or a local
// address, and leaves it to the caller otherwise.
func ifOurs(svcs *Services, dst header.Addr4, toLaddr bool, r DropReason) Result {
	if toLaddr || svcs.IsVIP(dst) {
		return drop(r)
	}
	return notMine
}

// minFrameLen is the shortest Ethernet frame without its FCS: shorter
// datagrams arrive padded to it, and the padding is kept.
const minFrameLen = 60

// tcpValidFlags lists the flag combinations a TCP stack sends, as
// netfilter's tcp_valid_flags, indexed by FIN, SYN, RST, ACK and URG packed
// into five bits (PSH, ECE and CWR do not matter).
var tcpValidFlags = func() (v [32]bool) {
	const fin, syn, rst, ack, urg = 1, 2, 4, 8, 16
	for _, f := range []int{syn, syn | urg, syn | ack, rst, rst | ack, fin | ack, fin | ack | urg, ack, ack | urg} {
		v[f] = true
	}
	return v
}()

// isValidTCPFlags reports whether f is a combination tcpValidFlags allows.
func isValidTCPFlags(f header.TCPFlags) bool {
	low := f & (header.TCPFlagFIN | header.TCPFlagSYN | header.TCPFlagRST)
	high := f & (header.TCPFlagACK | header.TCPFlagURG) // PSH between them is skipped
	return tcpValidFlags[int(low)|int(high)>>1]
}

// isPureSYN reports a connection-opening segment: SYN without ACK, RST or
// FIN. Only these create sessions (LVS's tcp_conn_schedule also accepts
// SYN+ACK, for active FTP, which this datapath does not support).
func isPureSYN(f header.TCPFlags) bool {
	return f&(header.TCPFlagSYN|header.TCPFlagACK|header.TCPFlagRST|header.TCPFlagFIN) == header.TCPFlagSYN
}

// Expire reaps sessions whose deadline passed, spending at most budget steps
// (see Table.Expire), releasing their local ports, persistence templates and
// connection counts; then it ages one service's scheduler tables (templates,
// lblc/lblcr entries) with the same budget, a different service each call.
// svcs is the current snapshot (nil before the first). It returns the number
// of sessions reaped. Call it from the core's loop, e.g. once per iteration.
func (c *Core) Expire(svcs *Services, now int64, budget int) int {
	total := 0
	for b := budget; b > 0 && !c.tab.caughtUp(now); {
		step := min(b, len(c.reap))
		n := c.tab.Expire(now, step, c.reap[:])
		for _, idx := range c.reap[:n] {
			c.release(idx, svcs, now)
		}
		total += n
		b -= step
	}
	c.ctr.n[ctrExpired] += uint64(total)
	if svcs != nil && len(svcs.svcs) > 0 {
		c.schedNext = (c.schedNext + 1) % len(svcs.svcs)
		svcs.svcs[c.schedNext].sched.Expire(c.id, now, budget)
	}
	return total
}

// release ends session idx: it returns what the session holds (local port,
// template, its count in the destination's connections) and deletes it.
func (c *Core) release(idx int32, svcs *Services, now int64) {
	s := c.tab.At(idx)
	if s.Mode == ModeFullNAT {
		if pool, ok := c.ports.Lookup(s.Reply.Proto, s.Reply.Dst, s.Reply.Src, s.Reply.SPort); ok {
			c.ports.Free(pool, s.Reply.DPort)
		}
	}
	if int64(s.SvcID) < int64(len(c.svcSessions)) {
		c.svcSessions[s.SvcID]--
	}
	if s.tmpl >= 0 {
		if sv := svcs.byIDOrNil(s.SvcID); sv != nil {
			sv.sched.Release(c.id, s.tmpl, now)
		}
	}
	// ip_vs_unbind_dest: the session leaves the count it is in.
	if s.Flags&FlagInactive != 0 {
		c.conns.Add(c.id, s.DestID, 0, -1)
	} else {
		c.conns.Add(c.id, s.DestID, -1, 0)
	}
	c.ctr.n[ctrSessions]--
	c.tab.Delete(idx)
}
