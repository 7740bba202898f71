package gateway

import (
	"fngw/arp"
	"net/netip"
	"slices"
	"time"

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
func (g *Gateway) rawService(id uint32) ctl.Counters {
	var s nat.EndpointStats
	for _, c := range g.cores {
		c.AddServiceStats(id, &s)
	}
	return toCounters(s)
}

func (g *Gateway) rawDest(id uint32) ctl.Counters {
	var s nat.EndpointStats
	for _, c := range g.cores {
		c.AddDestStats(id, &s)
	}
	return toCounters(s)
}

// tick runs every 2 seconds on the control goroutine: it feeds every estimator
// one sample (ip_vs_est.c's period) and keeps neighbours in use confirmed.
func (g *Gateway) tick() {
	g.refreshNeighs()
	g.est.init()
	tickAll(g.svcIDs.byKey, g.est.svc, g.est.zsvc, g.rawService)
	tickAll(g.destIDs.byKey, g.est.dest, g.est.zdest, g.rawDest)
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
func (g *Gateway) zero(svc *ctl.Service) {
	g.est.init()
	for k, id := range g.svcIDs.byKey {
		if svc != nil && svc.Key() != k {
			continue
		}
		raw := g.rawService(id)
		g.est.zsvc[k] = raw
		if e := g.est.svc[k]; e != nil {
			e.Reset(raw)
		}
	}
	for k, id := range g.destIDs.byKey {
		if svc != nil && svc.Key() != k.svc {
			continue
		}
		raw := g.rawDest(id)
		g.est.zdest[k] = raw
		if e := g.est.dest[k]; e != nil {
			e.Reset(raw)
		}
	}
}

// table is the running configuration with live statistics, for listings.
func (g *Gateway) table(withConns bool) *ctl.Table {
	g.est.init()
	size := 0
	for _, c := range g.cores {
		size += c.Table().Cap()
	}
	t := g.cfg.Table(size)
	usage := make(map[header.Addr4]nat.LaddrUsage)
	var buf []nat.LaddrUsage
	for _, c := range g.cores {
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
		if id, ok := g.svcIDs.byKey[k]; ok {
			ss.Stats.Counters = sub(g.rawService(id), g.est.zsvc[k])
			if e := g.est.svc[k]; e != nil {
				ss.Stats.Rates = e.Rates()
			}
		}
		for j := range ss.Dests {
			ds := &ss.Dests[j]
			dk := destKey{k, ds.Dest.Key()}
			id, ok := g.destIDs.byKey[dk]
			if !ok {
				continue
			}
			ds.Stats.Counters = sub(g.rawDest(id), g.est.zdest[dk])
			if e := g.est.dest[dk]; e != nil {
				ds.Stats.Rates = e.Rates()
			}
			a, in := g.conns.Sum(id)
			ds.Stats.ActiveConns, ds.Stats.InactConns = uint32(max(a, 0)), uint32(max(in, 0))
			ds.Stats.PersistConns = uint32(max(g.conns.Persist(id), 0))
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
		t.Conns = g.sessions()
	}
	return t
}

// coreStatuses reads every worker's counters.
func (g *Gateway) coreStatuses() []coreStatus {
	var list []coreStatus
	for i, w := range g.workers {
		var ns nat.Stats
		g.cores[i].AddStats(&ns)
		cs := coreStatus{Stats: w.Stats(), Drops: make(map[string]uint64), Sessions: ns.Sessions,
			Created: ns.SessionsCreated, Expired: ns.SessionsExpired, ICMPXlated: ns.ICMPTranslated, ICMPSent: ns.ICMPSent}
		for r, v := range cs.Stats.Drops {
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
		list = append(list, cs)
	}
	return list
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// sessionListTimeout bounds how long a listing waits for each worker.
const sessionListTimeout = 2 * time.Second

// maxListedSessions bounds `-L -c` output per core.
const maxListedSessions = 100000

// sessions lists every worker's sessions for -c, each copied on its own worker
// between two bursts.
func (g *Gateway) sessions() []ctl.Conn {
	var conns []ctl.Conn
	names := make(map[uint32]ctl.ServiceKey)
	for k, id := range g.svcIDs.byKey {
		names[id] = k
	}
	for i, w := range g.workers {
		var list []nat.Session
		var now int64
		core := g.cores[i]
		tmpls := make(map[ctl.ServiceKey][]sched.Template)
		if !w.Exec(func(n int64) {
			now = n
			list = core.Table().AppendSessions(nil, maxListedSessions)
			for k, b := range g.scheds {
				sc := b.svc
				if sc.Persistence().Timeout > 0 {
					tmpls[k] = sc.AppendTemplates(i, nil, n)
				}
			}
		}, sessionListTimeout) {
			continue
		}
		// Persistence templates, listed as LVS lists them: state NONE, client
		// port 0, expiry the time left (the full timeout while connections
		// hold the template).
		for k, ts := range tmpls {
			for _, tp := range ts {
				c := ctl.Conn{Proto: ctl.Proto(tp.Proto), Core: i, State: "NONE",
					Client:  netip.AddrPortFrom(tp.Client, 0),
					Virtual: netip.AddrPortFrom(tp.VIP, tp.VPort)}
				c.Expires = uint32(tp.Expires / time.Second)
				if tp.Conns > 0 {
					c.Expires = uint32(g.scheds[k].svc.Persistence().Timeout / time.Second)
				}
				if d, ok := g.destByID(k, tp.DestID); ok {
					c.Dest = d
				}
				conns = append(conns, c)
			}
		}
		for _, s := range list {
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
				if d, ok := g.destByID(names[s.SvcID], s.DestID); ok {
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
func (g *Gateway) destByID(svc ctl.ServiceKey, id uint32) (netip.AddrPort, bool) {
	for k, v := range g.destIDs.byKey {
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
func (g *Gateway) refreshNeighs() {
	now := g.control.Now()
	for _, n := range g.stack.Neighs() {
		if n.State == arp.NeighStale {
			g.stack.Use(now, n.Port, n.IP)
		}
	}
}
