package plane

import (
	"net/netip"
	"slices"
	"time"

	"fngw/arp"
	"fngw/ctl"
	"fngw/header"
	"fngw/lcore"
	"fngw/nat"
	"fngw/sched"
)

// estimators hold the LVS-style rate estimators and the -Z offsets of every
// service and destination. Owned by the control goroutine.
type estimators struct {
	svc   map[ctl.ServiceKey]*ctl.Estimator
	dest  map[destKey]*ctl.Estimator
	zsvc  map[ctl.ServiceKey]ctl.Counters
	zdest map[destKey]ctl.Counters
}

func (e *estimators) init() {
	if e.svc == nil {
		e.svc = make(map[ctl.ServiceKey]*ctl.Estimator)
		e.dest = make(map[destKey]*ctl.Estimator)
		e.zsvc = make(map[ctl.ServiceKey]ctl.Counters)
		e.zdest = make(map[destKey]ctl.Counters)
	}
}

func sub(a, b ctl.Counters) ctl.Counters {
	return ctl.Counters{Conns: a.Conns - b.Conns, InPkts: a.InPkts - b.InPkts, OutPkts: a.OutPkts - b.OutPkts,
		InBytes: a.InBytes - b.InBytes, OutBytes: a.OutBytes - b.OutBytes}
}

func toCounters(s nat.EndpointStats) ctl.Counters {
	return ctl.Counters{Conns: s.Conns, InPkts: s.InPkts, OutPkts: s.OutPkts, InBytes: s.InBytes, OutBytes: s.OutBytes}
}

// rawService and rawDest sum a service's or destination's counters over cores.
func (p *Plane) rawService(id uint32) ctl.Counters {
	var s nat.EndpointStats
	for _, c := range p.dp.Cores {
		c.AddServiceStats(id, &s)
	}
	return toCounters(s)
}

func (p *Plane) rawDest(id uint32) ctl.Counters {
	var s nat.EndpointStats
	for _, c := range p.dp.Cores {
		c.AddDestStats(id, &s)
	}
	return toCounters(s)
}

// tick runs every 2 seconds on the control goroutine: it feeds every estimator
// one sample (ip_vs_est.c's period), keeps neighbours in use confirmed, and
// frees the quarantined IDs whose connections have ended.
func (p *Plane) tick() {
	p.refreshNeighs()
	p.sweepIDs()
	p.releaseRetired()
	p.est.init()
	tickAll(p.svcIDs.byKey, p.est.svc, p.est.zsvc, p.rawService)
	tickAll(p.destIDs.byKey, p.est.dest, p.est.zdest, p.rawDest)
}

// tickAll samples the counters of every live ID into its estimator (created at
// the first sample) and forgets the estimators and -Z offsets of keys gone.
func tickAll[K comparable](live map[K]uint32, est map[K]*ctl.Estimator, zero map[K]ctl.Counters, raw func(uint32) ctl.Counters) {
	for k, id := range live {
		e := est[k]
		if e == nil {
			e = new(ctl.Estimator)
			e.Reset(raw(id))
			est[k] = e
		}
		e.Tick(raw(id))
	}
	for k := range est {
		if _, ok := live[k]; !ok {
			delete(est, k)
			delete(zero, k)
		}
	}
}

// zero is ipvsadm -Z: counters and rates of one service (with its
// destinations) or of all, start again from zero.
func (p *Plane) zero(svc *ctl.Service) {
	p.est.init()
	for k, id := range p.svcIDs.byKey {
		if svc != nil && svc.Key() != k {
			continue
		}
		raw := p.rawService(id)
		p.est.zsvc[k] = raw
		if e := p.est.svc[k]; e != nil {
			e.Reset(raw)
		}
	}
	for k, id := range p.destIDs.byKey {
		if svc != nil && svc.Key() != k.svc {
			continue
		}
		raw := p.rawDest(id)
		p.est.zdest[k] = raw
		if e := p.est.dest[k]; e != nil {
			e.Reset(raw)
		}
	}
}

// table is the running configuration with live statistics, for listings.
func (p *Plane) table(withConns bool) *ctl.Table {
	p.est.init()
	size := 0
	for _, c := range p.dp.Cores {
		size += c.Table().Cap()
	}
	t := p.cfg.Table(size)
	usage := make(map[header.Addr4]nat.LaddrUsage)
	var buf []nat.LaddrUsage
	for _, c := range p.dp.Cores {
		buf = c.LaddrUsage(buf[:0])
		for _, u := range buf {
			a := usage[u.Addr]
			a.InUse += u.InUse
			a.Exhausted += u.Exhausted
			usage[u.Addr] = a
		}
	}
	for i := range t.Services {
		ss := &t.Services[i]
		k := ss.Service.Key()
		if id, ok := p.svcIDs.byKey[k]; ok {
			ss.Stats.Counters = sub(p.rawService(id), p.est.zsvc[k])
			if e := p.est.svc[k]; e != nil {
				ss.Stats.Rates = e.Rates()
			}
		}
		for j := range ss.Dests {
			ds := &ss.Dests[j]
			dk := destKey{k, ds.Dest.Key()}
			id, ok := p.destIDs.byKey[dk]
			if !ok {
				continue
			}
			ds.Stats.Counters = sub(p.rawDest(id), p.est.zdest[dk])
			if e := p.est.dest[dk]; e != nil {
				ds.Stats.Rates = e.Rates()
			}
			a, in := p.dp.Conns.Sum(id)
			ds.Stats.ActiveConns, ds.Stats.InactConns = uint32(max(a, 0)), uint32(max(in, 0))
			ds.Stats.PersistConns = uint32(max(p.dp.Conns.Persist(id), 0))
			ss.Stats.ActiveConns += ds.Stats.ActiveConns
			ss.Stats.InactConns += ds.Stats.InactConns
			ss.Stats.PersistConns += ds.Stats.PersistConns
		}
		for j := range ss.Laddrs {
			l := &ss.Laddrs[j]
			u := usage[header.Addr4From(l.Laddr.Addr)]
			l.Conns, l.PortConflicts = uint32(u.InUse), u.Exhausted
		}
	}
	if withConns {
		t.Conns = p.sessions()
	}
	return t
}

// coreStatuses reads every worker's counters.
func (p *Plane) coreStatuses() []ctl.CoreStatus {
	var list []ctl.CoreStatus
	for i, w := range p.dp.Workers {
		var ns nat.Stats
		p.dp.Cores[i].AddStats(&ns)
		s := w.Stats()
		cs := ctl.CoreStatus{Core: s.Core, Rx: s.Rx, Tx: s.Tx, RedirectOut: s.RedirectOut, RedirectIn: s.RedirectIn,
			ToControl: s.ToControl, Injected: s.Injected, PollsBusy: s.PollsBusy, PollsIdle: s.PollsIdle,
			BusyNs: s.BusyNs, TotalNs: s.TotalNs, Drops: make(map[string]uint64), Sessions: ns.Sessions,
			Created: ns.SessionsCreated, Expired: ns.SessionsExpired, Evicted: ns.SessionsEvicted, Reclaimed: ns.LaddrReclaimed, ICMPXlated: ns.ICMPTranslated, ICMPSent: ns.ICMPSent,
			ProxyHeaders: ns.ProxyHeaders, ProxyTrimmed: ns.ProxyTrimmed, TOAAdded: ns.TOAAdded, TOANoRoom: ns.TOANoRoom}
		for r, v := range s.Drops {
			if v != 0 {
				cs.Drops[lcore.Reason(r).String()] = v
			}
		}
		for r, v := range ns.Drops {
			if v != 0 && nat.DropReason(r) != nat.ReasonNone {
				cs.Drops[nat.DropReason(r).String()] += v
			}
		}
		if cs.TotalNs > 0 {
			cs.Utilisation = float64(cs.BusyNs) / float64(cs.TotalNs)
		}
		cs.Gaps = gapStatus(s)
		list = append(list, cs)
	}
	return list
}

// sessionListTimeout bounds how long a listing waits for a worker to take
// its copy job (a stopped worker); once taken, the copy runs to its end.
const sessionListTimeout = 2 * time.Second

// maxListed bounds `-L -c` output per core: sessions, and templates.
const maxListed = 100000

// listBufs are what a connection listing copies into, allocated at the first
// listing and reused. Owned by the control goroutine.
type listBufs struct {
	sess []nat.Session
	tmpl []sched.Template
	tsvc []int // the persistent service (index) of each template
}

// persistent is a service with persistence templates to list.
type persistent struct {
	key ctl.ServiceKey
	svc *sched.Service
}

// sessions lists every worker's sessions for -c, and the persistence
// templates of its persistent services. Each worker copies them itself, a
// slice (nat.ListSlice, nat.ListScan) after each turn of its loop, so that
// a listing of a million sessions never holds a turn up for more than
// microseconds.
func (p *Plane) sessions() []ctl.Conn {
	if p.list.sess == nil {
		p.list = listBufs{sess: make([]nat.Session, maxListed), tmpl: make([]sched.Template, maxListed), tsvc: make([]int, maxListed)}
	}
	var conns []ctl.Conn
	names := make(map[uint32]ctl.ServiceKey)
	for k, id := range p.svcIDs.byKey {
		names[id] = k
	}
	var pers []persistent
	for k, b := range p.scheds {
		if b.svc.Persistence().Timeout > 0 {
			pers = append(pers, persistent{k, b.svc})
		}
	}
	slices.SortFunc(pers, func(a, b persistent) int { return ctl.CompareServiceKeys(a.key, b.key) })
	sess, tmpl, tsvc := p.list.sess, p.list.tmpl, p.list.tsvc
	for i, w := range p.dp.Workers {
		tab := p.dp.Cores[i].Table()
		var now int64
		ns, from := 0, 0         // sessions copied, next slot
		nt, si, tfrom := 0, 0, 0 // templates copied, service, next entry
		copySlice := func(n int64) bool {
			now = n
			if from < tab.Cap() && ns < len(sess) {
				k, next := tab.CopySessions(sess[ns:min(ns+nat.ListSlice, len(sess))], from, nat.ListScan)
				ns, from = ns+k, next
				return false
			}
			for si < len(pers) && nt < len(tmpl) {
				sv := pers[si].svc
				if tfrom >= sv.TemplateSlots() {
					si, tfrom = si+1, 0
					continue
				}
				k, next := sv.CopyTemplates(i, tmpl[nt:min(nt+nat.ListSlice, len(tmpl))], tfrom, nat.ListScan, n)
				for j := nt; j < nt+k; j++ {
					tsvc[j] = si
				}
				nt, tfrom = nt+k, next
				return false
			}
			return true
		}
		if !w.Exec(copySlice, sessionListTimeout) {
			continue
		}
		// Persistence templates, listed as LVS lists them: state NONE, client
		// port 0, expiry the time left (the full timeout while connections
		// hold the template).
		for j, tp := range tmpl[:nt] {
			ps := pers[tsvc[j]]
			c := ctl.Conn{Proto: ctl.Proto(tp.Proto), Core: i, State: "NONE",
				Client:  netip.AddrPortFrom(tp.Client, 0),
				Virtual: netip.AddrPortFrom(tp.VIP, tp.VPort)}
			c.Expires = uint32(tp.Expires / time.Second)
			if tp.Conns > 0 {
				c.Expires = uint32(ps.svc.Persistence().Timeout / time.Second)
			}
			if d, ok := p.destByID(ps.key, tp.DestID); ok {
				c.Dest = d
			}
			conns = append(conns, c)
		}
		for _, s := range sess[:ns] {
			c := ctl.Conn{Proto: ctl.Proto(s.Orig.Proto), Core: i,
				Client:  netip.AddrPortFrom(s.Orig.Src.Netip(), s.Orig.SPort),
				Virtual: netip.AddrPortFrom(s.Orig.Dst.Netip(), s.Orig.DPort),
				State:   s.State.String()}
			if s.Expires > now {
				c.Expires = uint32((s.Expires - now) / int64(time.Second))
			}
			switch s.Mode {
			case nat.ModeFullNAT:
				c.Local = netip.AddrPortFrom(s.Reply.Dst.Netip(), s.Reply.DPort)
				c.Dest = netip.AddrPortFrom(s.Reply.Src.Netip(), s.Reply.SPort)
			case nat.ModeNAT:
				c.Dest = netip.AddrPortFrom(s.Reply.Src.Netip(), s.Reply.SPort)
			default:
				if d, ok := p.destByID(names[s.SvcID], s.DestID); ok {
					c.Dest = d
				}
			}
			conns = append(conns, c)
		}
	}
	return conns
}

// destByID finds a destination's address by its ID (DR and TUN sessions keep
// the client's tuple, so the destination comes from the configuration).
func (p *Plane) destByID(svc ctl.ServiceKey, id uint32) (netip.AddrPort, bool) {
	for k, v := range p.destIDs.byKey {
		if v == id && k.svc == svc {
			return netip.AddrPortFrom(k.dest.Addr, k.dest.Port), true
		}
	}
	return netip.AddrPort{}, false
}

// refreshNeighs reports every STALE neighbour as in use. Workers send with MACs
// cached from the snapshot and never tell the stack, so without this a
// neighbour carrying traffic would age out and the next packets would wait for
// a new resolution. Use moves it to DELAY and then PROBE: a unicast ARP
// confirms it, and a host that is gone fails and is removed, as in Linux.
func (p *Plane) refreshNeighs() {
	now := p.dp.Control.Now()
	for _, n := range p.dp.Stack().Neighs() {
		if n.State == arp.NeighStale {
			p.dp.Stack().Use(now, n.Port, n.IP)
		}
	}
}

// neighs lists the neighbour table for `ip neigh show`.
func (p *Plane) neighs() []ctl.NeighStatus {
	var list []ctl.NeighStatus
	for _, n := range p.dp.Stack().Neighs() {
		e := ctl.NeighStatus{Addr: n.IP.String(), Dev: p.portNames[n.Port], State: n.State.String()}
		if n.State.Valid() {
			e.LLAddr = n.MAC.String()
		}
		list = append(list, e)
	}
	return list
}

// routes lists the route table, connected routes included, for `ip route
// show`.
func (p *Plane) routes() []ctl.RouteStatus {
	var list []ctl.RouteStatus
	for _, r := range p.dp.Stack().Routes() {
		e := ctl.RouteStatus{Prefix: r.Prefix.String(), Dev: p.portNames[r.Port], Proto: "static"}
		if r.Via.IsValid() {
			e.Via = r.Via.String()
		}
		switch {
		case r.Kind == arp.RouteConnected:
			e.Proto = "kernel"
		case !p.configuredRoute(r.Prefix):
			e.Proto = "learned"
		}
		for _, h := range r.More {
			rh := ctl.RouteHop{Dev: p.portNames[h.Port]}
			if h.Via.IsValid() {
				rh.Via = h.Via.String()
			}
			e.NextHops = append(e.NextHops, rh)
		}
		list = append(list, e)
	}
	return list
}

// configuredRoute reports whether the configuration has a route for pfx.
func (p *Plane) configuredRoute(pfx netip.Prefix) bool {
	return slices.ContainsFunc(p.cfg.Routes, func(r ctl.Route) bool { return r.Prefix == pfx })
}
