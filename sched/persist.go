package sched

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	"fngw/mix"
)

// Persistence is a service's persistence (ipvsadm -p TIMEOUT -M NETMASK): new
// connections from one client network to the service go to the destination the
// first one went to. A template records that choice; it lives while connections
// hold it and for Timeout after the last one ends, as an LVS connection template
// does.
type Persistence struct {
	// Timeout is -p. Zero means the service is not persistent. ipvsadm's default
	// for a bare -p is DefaultPersistTimeout.
	Timeout time.Duration
	// Netmask is -M, applied to the client address: an IPv4 mask applies to IPv4
	// clients, an IPv6 mask to IPv6 clients; the other family (and the zero Addr)
	// keeps the whole address, ipvsadm's default 255.255.255.255.
	Netmask netip.Addr
	// ExpireQuiescent is LVS's sysctl expire_quiescent_template: a template whose
	// destination has weight 0 is not used; the client is scheduled afresh. By
	// default, as in LVS, a quiesced destination keeps its persistent clients.
	ExpireQuiescent bool
}

// DefaultPersistTimeout is ipvsadm's -p default.
const DefaultPersistTimeout = 300 * time.Second

// Template is one persistence template as `ipvsadm -L -c` lists it.
type Template struct {
	Proto   uint8
	Client  netip.Addr // masked client address
	VIP     netip.Addr
	VPort   uint16
	DestID  uint32
	Conns   int32         // connections holding the template
	Expires time.Duration // time left once Conns is 0; 0 while connections hold it
}

// tmplKey follows LVS's template key (protocol, masked client address with port 0,
// virtual address and port), all in one comparable, pointer-free value. IPv4
// addresses are stored IPv4-mapped.
type tmplKey struct {
	client [16]byte
	vip    [16]byte
	vport  uint16
	proto  uint8
}

func (k *tmplKey) hash(seed uint64) uint64 {
	h := mix.Uint64(seed ^ binary.BigEndian.Uint64(k.client[:8]))
	h = mix.Uint64(h ^ binary.BigEndian.Uint64(k.client[8:]))
	h = mix.Uint64(h ^ binary.BigEndian.Uint64(k.vip[:8]))
	h = mix.Uint64(h ^ binary.BigEndian.Uint64(k.vip[8:]))
	return mix.Uint64(h ^ uint64(k.vport)<<8 ^ uint64(k.proto))
}

type tmplEntry struct {
	key      tmplKey
	hash     uint64
	dest     uint32 // destination ID
	refs     int32  // connections holding the template
	deadline int64  // when refs is 0: the template expires at this time
	used     bool
}

// pendEntry remembers the destination chosen for a TCP client network whose
// template waits for a handshake to complete (TemplateAtHandshake).
type pendEntry struct {
	key   tmplKey
	dest  uint32 // destination ID
	until int64  // 0: empty; the entry holds while now < until
}

// pendWays is the associativity of the pending table: a new client network
// overwrites the oldest of the pendWays entries its hash selects.
const pendWays = 4

// tmplTable is one core's templates: a fixed-capacity, pointer-free table. Only
// that core touches it, except the atomic live count.
type tmplTable struct {
	idx     chains
	entries []tmplEntry
	pend    []pendEntry // a power of two of pendWays-entry sets; overwritten, never full
	seed    uint64      // of the key hash, secret (see WithSeed)
	sweep   int32       // next entry Expire looks at
	gen     int32       // in handles, so a handle from another table is recognised
	live    atomic.Int32
	_       [cacheLine]byte
}

// A template handle is gen<<24 | entry index; -1 is none, TemplateAtHandshake a
// template to Bind when the connection's handshake completes.
const (
	handleBits  = 24
	maxTemplate = 1 << handleBits
	reapProbe   = 64 // entries a full table examines for an expired one before giving up
)

// TemplateAtHandshake is the template handle PickPersistent returns for a TCP
// connection from a client network without a template: the caller binds one with
// Bind once the connection completes its handshake. Like -1 it holds nothing:
// Release ignores it.
const TemplateAtHandshake int32 = -2

func newTmplTables(ncores, capacity int, gen int32, seed uint64) []tmplTable {
	npend := pendWays
	for npend < capacity/4 {
		npend <<= 1
	}
	t := make([]tmplTable, ncores)
	for c := range t {
		t[c].idx = newChains(capacity)
		t[c].entries = make([]tmplEntry, capacity)
		t[c].pend = make([]pendEntry, npend)
		t[c].gen = gen
		t[c].seed = coreSeed(seed, c)
	}
	return t
}

// coreSeed derives core c's table seed from a service's.
func coreSeed(seed uint64, c int) uint64 { return mix.Uint64(seed + uint64(c)*0x9e3779b97f4a7c15) }

func (s *Service) setPersistence(p Persistence) error {
	if p.Timeout < 0 {
		return fmt.Errorf("sched: persistence timeout %s is negative", p.Timeout)
	}
	s.persist = p
	s.timeout = int64(p.Timeout)
	for j := range s.mask4 {
		s.mask4[j] = 0xff
	}
	for j := range s.mask6 {
		s.mask6[j] = 0xff
	}
	switch {
	case p.Netmask.Is4():
		s.mask4 = p.Netmask.As4()
	case p.Netmask.Is6():
		s.mask6 = p.Netmask.As16()
	}
	return nil
}

// setTables gives the service its per-core persistence and locality tables, carried
// over from the previous snapshot when it has them.
func (s *Service) setTables(o options, ncores int) error {
	prev := o.prev
	if prev != nil && (prev.conns != s.conns || len(prev.cores) != ncores) {
		prev = nil
	}
	if prev != nil && prev.tmpl != nil {
		// Kept even when this snapshot is not persistent: sessions still hold
		// handles, and the templates must age out.
		s.tmpl = prev.tmpl
	} else if s.timeout > 0 {
		if o.templates < 1 || o.templates > maxTemplate {
			return fmt.Errorf("sched: template capacity %d out of range 1..%d", o.templates, maxTemplate)
		}
		s.tmpl = newTmplTables(ncores, o.templates, s.conns.nextGen(), o.seed)
	}
	if s.kind != LBLC && s.kind != LBLCR {
		return nil
	}
	if o.locExpire <= 0 {
		return fmt.Errorf("sched: locality expiry %s must be positive", o.locExpire)
	}
	s.locExpire = int64(o.locExpire)
	if prev != nil && prev.loc != nil {
		s.loc = prev.loc
		return nil
	}
	if o.locality < 1 || o.locality > maxTemplate {
		return fmt.Errorf("sched: locality capacity %d out of range 1..%d", o.locality, maxTemplate)
	}
	s.loc = newLocTables(ncores, o.locality, o.seed)
	return nil
}

// Persistence returns the service's persistence settings.
func (s *Service) Persistence() Persistence { return s.persist }

// templateKey builds the template key of a connection: the client address under
// the netmask, port 0 (LVS templates of a port service ignore the client port).
func (s *Service) templateKey(k Key) tmplKey {
	t := tmplKey{client: k.Src.As16(), vip: k.Dst.As16(), vport: k.DPort, proto: k.Proto}
	if k.Mark != 0 {
		// Listed as LVS lists it: protocol 0 (IP), the mark as the
		// virtual address, port 0.
		t.vip = netip.AddrFrom4([4]byte{byte(k.Mark >> 24), byte(k.Mark >> 16), byte(k.Mark >> 8), byte(k.Mark)}).As16()
		t.vport, t.proto = 0, 0
	}
	if k.Src.Is4() {
		for j := range s.mask4 {
			t.client[12+j] &= s.mask4[j]
		}
	} else {
		for j := range s.mask6 {
			t.client[j] &= s.mask6[j]
		}
	}
	return t
}

// PickPersistent is Pick for a persistent service (ip_vs_sched_persist). When a live
// template matches the client network, its destination is used — even if it is
// quiescent or over its threshold, as in LVS — provided it is still a destination of
// the service (and, with ExpireQuiescent, has a weight). Otherwise the scheduler
// picks and the template is created, or re-pointed. The template gains a connection:
// the caller stores tmpl in the session and calls Release(core, tmpl, now) once when
// the session ends (or at once, if it fails to create it).
//
// A TCP connection from a client network without a live template gets no template
// yet: tmpl is TemplateAtHandshake, and the caller calls Bind when the connection
// completes its handshake (LVS creates the template with the first SYN). So SYNs from
// spoofed sources, whose handshakes never complete, take no template from real
// clients. Meanwhile the choice is remembered in a small table that new client
// networks overwrite, oldest first: the client's other connections opened during the
// handshake (a browser opens several at once) go to the same destination, unless a
// flood of new networks has overwritten it.
//
// tmpl is -1 when the service is not persistent and when the core's table is full;
// the connection is still scheduled then, without persistence. dest is -1 when no
// destination is available.
func (s *Service) PickPersistent(core int, k Key, now int64) (dest int, tmpl int32) {
	if s.timeout <= 0 {
		return s.PickAt(core, k, now), -1
	}
	t := &s.tmpl[core]
	key := s.templateKey(k)
	h := key.hash(t.seed)
	e := t.find(h, &key)
	if e >= 0 {
		en := &t.entries[e]
		if en.refs > 0 || now < en.deadline {
			if i := s.Index(en.dest); i >= 0 && s.keeps(i) {
				en.refs++
				if s.thresh {
					s.bind(i)
				}
				return i, t.handle(e)
			}
		}
		if en.refs > 0 || k.Proto != protoTCP {
			// Expired, or its destination left the service
			// (ip_vs_check_template): schedule afresh and re-point the
			// template. Connections still holding it keep it alive as
			// before.
			i := s.PickAt(core, k, now)
			if i < 0 {
				return -1, -1
			}
			s.conns.addPersist(core, en.dest, -1)
			en.dest = s.dests[i].id
			s.conns.addPersist(core, en.dest, 1)
			en.refs++
			return i, t.handle(e)
		}
		// An expired TCP template no connection holds: as if there were
		// none; Bind re-points it.
	}
	if k.Proto == protoTCP {
		if i := s.pickPending(core, t, k, &key, h, now); i >= 0 {
			return i, TemplateAtHandshake
		}
		return -1, -1
	}
	i := s.PickAt(core, k, now)
	if i < 0 {
		return -1, -1
	}
	if e = t.alloc(s.conns, core, h, now); e < 0 {
		return i, -1
	}
	en := &t.entries[e]
	en.key, en.dest, en.refs = key, s.dests[i].id, 1
	s.conns.addPersist(core, en.dest, 1)
	return i, t.handle(e)
}

// keeps reports whether destination i may keep its persistent clients: with
// ExpireQuiescent (LVS expire_quiescent_template) not once its weight is 0.
func (s *Service) keeps(i int) bool { return !s.persist.ExpireQuiescent || s.dests[i].weight > 0 }

// pickPending is PickPersistent for a TCP client network without a template:
// the destination remembered for the network, if it is still one the network
// may keep, else the scheduler's pick, remembered in place of the oldest entry
// of the set (or of the network's own, stale one).
func (s *Service) pickPending(core int, t *tmplTable, k Key, key *tmplKey, h uint64, now int64) int {
	set := t.pendSet(h)
	slot := &set[0]
	for j := range set {
		p := &set[j]
		if p.key == *key && p.until > now {
			if i := s.Index(p.dest); i >= 0 && s.keeps(i) {
				if s.thresh {
					s.bind(i)
				}
				return i
			}
			slot = p
			break
		}
		if p.until < slot.until {
			slot = p
		}
	}
	i := s.PickAt(core, k, now)
	if i >= 0 {
		*slot = pendEntry{key: *key, dest: s.dests[i].id, until: now + s.timeout}
	}
	return i
}

// pendSet returns the pending entries hash h may occupy.
func (t *tmplTable) pendSet(h uint64) []pendEntry {
	n := len(t.pend) / pendWays
	b := int(h>>32) & (n - 1) * pendWays
	return t.pend[b : b+pendWays : b+pendWays]
}

// Bind gives a TCP connection that PickPersistent scheduled with
// TemplateAtHandshake its template, now that its handshake completed: the
// client network's live template if another connection bound one meanwhile,
// else a new one (or the expired one re-pointed) to dest, the destination ID
// the connection went to. The template gains the connection, as
// PickPersistent's do: the caller stores the handle in place of
// TemplateAtHandshake and releases it when the session ends. k is the
// connection's key as PickPersistent had it. Bind returns -1 — no template, the
// connection goes on without one — when the service is not persistent, the
// table is full, or dest has left the service.
func (s *Service) Bind(core int, k Key, dest uint32, now int64) int32 {
	if s.timeout <= 0 {
		return -1
	}
	t := &s.tmpl[core]
	key := s.templateKey(k)
	h := key.hash(t.seed)
	for j, set := 0, t.pendSet(h); j < pendWays; j++ {
		if set[j].key == key {
			set[j] = pendEntry{}
		}
	}
	e := t.find(h, &key)
	if e >= 0 {
		en := &t.entries[e]
		if en.refs == 0 && now >= en.deadline || s.Index(en.dest) < 0 {
			if s.Index(dest) < 0 {
				return -1
			}
			s.conns.addPersist(core, en.dest, -1)
			en.dest = dest
			s.conns.addPersist(core, en.dest, 1)
		}
		en.refs++
		return t.handle(e)
	}
	if s.Index(dest) < 0 {
		return -1
	}
	if e = t.alloc(s.conns, core, h, now); e < 0 {
		return -1
	}
	en := &t.entries[e]
	en.key, en.dest, en.refs = key, dest, 1
	s.conns.addPersist(core, en.dest, 1)
	return t.handle(e)
}

// Release drops one connection from template tmpl (a PickPersistent result). When
// the last one goes, the template lives on for the service's timeout. A handle of
// -1, or of a table this Service does not share, is ignored.
func (s *Service) Release(core int, tmpl int32, now int64) {
	if tmpl < 0 || s.tmpl == nil {
		return
	}
	t := &s.tmpl[core]
	e := tmpl & (maxTemplate - 1)
	if tmpl>>handleBits != t.gen || int(e) >= len(t.entries) {
		return
	}
	en := &t.entries[e]
	if !en.used || en.refs <= 0 {
		return
	}
	if en.refs--; en.refs == 0 {
		en.deadline = now + s.timeout
	}
}

// Expire advances core's clock to now and examines up to budget entries of each of
// the core's tables, removing persistence templates that expired and lblc/lblcr
// entries unused for the locality expiry. The caller drives it from the core's loop,
// with a budget that bounds the work per call; a table is fully swept every
// capacity/budget calls. It returns the number of entries removed.
func (s *Service) Expire(core int, now int64, budget int) int {
	n := 0
	if s.tmpl != nil {
		n += s.tmpl[core].expire(s.conns, core, now, budget)
	}
	if s.loc != nil {
		l := &s.loc[core]
		l.tick(now)
		n += l.expire(s.locExpire, budget)
	}
	return n
}

// Templates returns the number of live templates in core's table (some may have
// expired and await Expire). Safe from any goroutine.
func (s *Service) Templates(core int) int {
	if s.tmpl == nil {
		return 0
	}
	return int(s.tmpl[core].live.Load())
}

// CopyTemplates copies core's live templates into dst (for `ipvsadm -L
// -c`), looking at no more than scan entries from entry from, and returns
// how many it copied and the entry to go on from (TemplateSlots() once all
// are seen; the first not copied when dst is full). Like Pick it touches the
// core's table, so it must run on the core's own worker (or while the worker
// is stopped).
func (s *Service) CopyTemplates(core int, dst []Template, from, scan int, now int64) (n, next int) {
	if s.tmpl == nil {
		return 0, 0
	}
	t := &s.tmpl[core]
	end := min(from+scan, len(t.entries))
	e := max(from, 0)
	for ; e < end && n < len(dst); e++ {
		en := &t.entries[e]
		if !en.used || (en.refs == 0 && now >= en.deadline) {
			continue
		}
		tp := Template{
			Proto:  en.key.proto,
			Client: netip.AddrFrom16(en.key.client).Unmap(),
			VIP:    netip.AddrFrom16(en.key.vip).Unmap(),
			VPort:  en.key.vport,
			DestID: en.dest,
			Conns:  en.refs,
		}
		if en.refs == 0 {
			tp.Expires = time.Duration(en.deadline - now)
		}
		dst[n] = tp
		n++
	}
	return n, e
}

// TemplateSlots is the size of each core's template table (0 without
// persistence): CopyTemplates is done at this entry.
func (s *Service) TemplateSlots() int {
	if s.tmpl == nil {
		return 0
	}
	return len(s.tmpl[0].entries)
}

func (t *tmplTable) handle(e int32) int32 { return t.gen<<handleBits | e }

func (t *tmplTable) find(h uint64, k *tmplKey) int32 {
	for e := t.idx.first(h); e >= 0; e = t.idx.link(e) {
		if t.entries[e].key == *k {
			return e
		}
	}
	return -1
}

// alloc links a new entry for hash h. A full table first reclaims an expired
// template among the next few entries (LVS would allocate; this table is bounded).
func (t *tmplTable) alloc(c *Conns, core int, h uint64, now int64) int32 {
	e := t.idx.alloc(h)
	if e < 0 {
		if t.expire(c, core, now, reapProbe) == 0 {
			return -1
		}
		e = t.idx.alloc(h)
	}
	en := &t.entries[e]
	en.hash, en.used = h, true
	t.live.Add(1)
	return e
}

func (t *tmplTable) expire(c *Conns, core int, now int64, budget int) int {
	n := 0
	for range min(budget, len(t.entries)) {
		e := t.sweep
		if t.sweep++; int(t.sweep) == len(t.entries) {
			t.sweep = 0
		}
		en := &t.entries[e]
		if en.used && en.refs == 0 && now >= en.deadline {
			c.addPersist(core, en.dest, -1)
			t.idx.remove(en.hash, e)
			*en = tmplEntry{}
			t.live.Add(-1)
			n++
		}
	}
	return n
}
