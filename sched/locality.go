package sched

import (
	"net/netip"
	"time"
)

// lblc and lblcr remember, per destination address of the request (the target: in
// a cache cluster, the origin server), which destination served it: "locality".
// The tables are per core, bounded and pointer-free, and survive snapshots.

// locSetMax bounds an lblcr server set. LVS lets a set grow to every destination;
// when a set here is full, adding a member first drops its most loaded one.
const locSetMax = 16

// locEvictIdle is LVS's ENTRY_TIMEOUT: when the table is full, an entry unused this
// long may be replaced (ip_vs_lblc_check_expire collects such entries once the table
// exceeds its size).
const locEvictIdle = int64(6 * time.Minute)

type locEntry struct {
	addr    [16]byte // target address, IPv4-mapped for IPv4
	hash    uint64
	lastuse int64             // last lookup
	lastmod int64             // lblcr: last change of the set
	set     [locSetMax]uint32 // destination IDs; lblc uses set[0]
	n       uint8             // members in set
	used    bool
}

// locTable is one core's lblc/lblcr table, touched only by that core. now is the
// core's clock, advanced by PickAt, PickPersistent and Expire.
type locTable struct {
	idx     chains
	entries []locEntry
	seed    uint64 // of the key hash, secret (see WithSeed)
	sweep   int32
	now     int64
	_       [cacheLine]byte
}

func newLocTables(ncores, capacity int, seed uint64) []locTable {
	t := make([]locTable, ncores)
	for c := range t {
		t[c].idx = newChains(capacity)
		t[c].entries = make([]locEntry, capacity)
		t[c].seed = coreSeed(seed, c)
	}
	return t
}

func (t *locTable) tick(now int64) {
	if now > t.now {
		t.now = now
	}
}

func (t *locTable) find(h uint64, a *[16]byte) int32 {
	for e := t.idx.first(h); e >= 0; e = t.idx.link(e) {
		if t.entries[e].addr == *a {
			return e
		}
	}
	return -1
}

// insert adds an entry for target a, replacing an entry idle for locEvictIdle
// among the next few when the table is full; -1 when none is (LVS then serves the
// connection without caching it, as when its allocation fails).
func (t *locTable) insert(h uint64, a *[16]byte) int32 {
	e := t.idx.alloc(h)
	if e < 0 {
		for range min(reapProbe, len(t.entries)) {
			v := t.next()
			if t.now-t.entries[v].lastuse >= locEvictIdle {
				t.free(v)
				e = t.idx.alloc(h)
				break
			}
		}
		if e < 0 {
			return -1
		}
	}
	t.entries[e] = locEntry{addr: *a, hash: h, lastuse: t.now, lastmod: t.now, used: true}
	return e
}

// next returns the sweep cursor's entry and advances it.
func (t *locTable) next() int32 {
	e := t.sweep
	if t.sweep++; int(t.sweep) == len(t.entries) {
		t.sweep = 0
	}
	return e
}

func (t *locTable) free(e int32) {
	t.idx.remove(t.entries[e].hash, e)
	t.entries[e] = locEntry{}
}

// expire removes entries unused for expire (LVS's full expiration check with
// sysctl lblc_expiration), looking at up to budget entries.
func (t *locTable) expire(expire int64, budget int) int {
	n := 0
	for range min(budget, len(t.entries)) {
		if e := t.next(); t.entries[e].used && t.now-t.entries[e].lastuse >= expire {
			t.free(e)
			n++
		}
	}
	return n
}

// lblcOverloaded is is_overloaded() of ip_vs_lblc and ip_vs_lblcr: destination i has
// more active connections than its weight while some destination has fewer than
// half its weight — a less loaded server exists.
func (s *Service) lblcOverloaded(i int) bool {
	if a, _ := s.conns.Sum(s.dests[i].id); int64(a) <= int64(s.dests[i].weight) {
		return false
	}
	for j := range s.dests {
		if a, _ := s.conns.Sum(s.dests[j].id); int64(a)*2 < int64(s.dests[j].weight) {
			return true
		}
	}
	return false
}

// pickLBLC is ip_vs_lblc_schedule: the destination cached for the target address,
// unless it is unavailable or overloaded (lblcOverloaded); then wlc picks and the
// cache entry is replaced. LVS's cached-destination check ignores the -x threshold;
// this one honours it, like every other scheduler here.
func (s *Service) pickLBLC(cs *coreState, t *locTable, target netip.Addr, now int64) int {
	t.tick(now)
	a := target.As16()
	h := hashKey(target, 0, t.seed)
	e := t.find(h, &a)
	if e >= 0 {
		en := &t.entries[e]
		en.lastuse = t.now
		if i := s.Index(en.set[0]); i >= 0 && s.usable(cs, i) && !s.lblcOverloaded(i) {
			return i
		}
	}
	i := s.pickWLC(cs)
	if i < 0 {
		return -1
	}
	if e < 0 {
		if e = t.insert(h, &a); e < 0 {
			return i
		}
	}
	en := &t.entries[e]
	en.set[0], en.n = s.dests[i].id, 1
	return i
}

// pickLBLCR is ip_vs_lblcr_schedule. The target maps to a set of destinations; the
// least loaded available member (weighted, as wlc) serves it unless it is
// overloaded (lblcOverloaded) or none is available: then wlc picks over the whole
// service and the choice joins the set. A set of several members that has not
// changed for the locality expiry loses its most loaded member, so sets shrink
// back when the load does.
func (s *Service) pickLBLCR(cs *coreState, t *locTable, target netip.Addr, now int64) int {
	t.tick(now)
	a := target.As16()
	h := hashKey(target, 0, t.seed)
	e := t.find(h, &a)
	if e < 0 {
		i := s.pickWLC(cs)
		if i < 0 {
			return -1
		}
		if e = t.insert(h, &a); e >= 0 {
			en := &t.entries[e]
			en.set[0], en.n = s.dests[i].id, 1
		}
		return i
	}
	en := &t.entries[e]
	en.lastuse = t.now
	s.compactSet(en)
	i := s.setMin(cs, en)
	if en.n > 1 && t.now-en.lastmod > s.locExpire {
		if m := s.setMax(en); m >= 0 {
			en.erase(m)
			en.lastmod = t.now
		}
	}
	if i >= 0 && !s.lblcOverloaded(i) {
		return i
	}
	if i = s.pickWLC(cs); i < 0 {
		return -1
	}
	if id := s.dests[i].id; !en.has(id) {
		if int(en.n) == locSetMax {
			en.erase(max(s.setMax(en), 0))
		}
		en.set[en.n] = id
		en.n++
		en.lastmod = t.now
	}
	return i
}

// compactSet drops members that are no longer destinations of the service (LVS
// keeps them until they leave the set, never picking them).
func (s *Service) compactSet(en *locEntry) {
	for m := 0; m < int(en.n); {
		if s.Index(en.set[m]) < 0 {
			en.erase(m)
		} else {
			m++
		}
	}
}

// setMin is ip_vs_dest_set_min: the available member with the least
// overhead/weight, ties to the earlier member; -1 if none is available.
func (s *Service) setMin(cs *coreState, en *locEntry) int {
	least, loh, lw := -1, int64(0), int64(1)
	for _, id := range en.set[:en.n] {
		i := s.Index(id)
		a, in, ok := s.load(cs, i)
		if !ok {
			continue
		}
		oh, w := a<<8+in, int64(s.dests[i].weight)
		if least < 0 || loh*w > oh*lw {
			least, loh, lw = i, oh, w
		}
	}
	return least
}

// setMax is ip_vs_dest_set_max: the position in the set of the member with a
// weight and the most overhead/weight, ties to the earlier member; -1 if no member
// has a weight.
func (s *Service) setMax(en *locEntry) int {
	most, moh, mw := -1, int64(0), int64(1)
	for m, id := range en.set[:en.n] {
		d := &s.dests[s.Index(id)]
		if d.weight <= 0 {
			continue
		}
		a, in := s.conns.Sum(d.id)
		oh, w := int64(a)<<8+int64(in), int64(d.weight)
		if most < 0 || moh*w < oh*mw {
			most, moh, mw = m, oh, w
		}
	}
	return most
}

func (en *locEntry) has(id uint32) bool {
	for _, m := range en.set[:en.n] {
		if m == id {
			return true
		}
	}
	return false
}

// erase removes member m, keeping the others in order.
func (en *locEntry) erase(m int) {
	copy(en.set[m:en.n], en.set[m+1:en.n])
	en.n--
}
