package plane

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"fngw/ctl"
	"fngw/header"
	"fngw/nat"
	"fngw/sched"
)

// ids hands out small stable identifiers (service and destination IDs the
// datapath indexes its counters and connection counts with). A released ID
// is quarantined while connections still count against it (sessions of a
// deleted destination run until they expire): a key added again meanwhile
// gets its old ID back, with its connections, as LVS revives a deleted
// destination from its trash; other keys get it only once it is idle, and
// then as late as possible (the free queue is first in, first out).
type ids[K comparable] struct {
	byKey map[K]uint32
	held  map[K]uint32 // released, in quarantine
	free  []uint32     // released and idle
	next  uint32
	max   uint32
}

func newIDs[K comparable](max int) *ids[K] {
	return &ids[K]{byKey: make(map[K]uint32), held: make(map[K]uint32), max: uint32(max)}
}

// get returns k's ID, giving it one if it has none; reused reports an ID
// that served another key before (its counters hold that key's totals).
func (s *ids[K]) get(k K) (id uint32, reused bool, err error) {
	if id, ok := s.byKey[k]; ok {
		return id, false, nil
	}
	h, revived := s.held[k]
	switch {
	case revived:
		id = h
		delete(s.held, k)
	case s.next < s.max:
		id = s.next
		s.next++
	case len(s.free) > 0:
		id, s.free, reused = s.free[0], s.free[1:], true
	default:
		return 0, false, fmt.Errorf("%w (limit %d; %d more wait for their connections to end)", ctl.ErrFull, s.max, len(s.held))
	}
	s.byKey[k] = id
	return id, reused, nil
}

// keep quarantines the ID of every key not in live.
func (s *ids[K]) keep(live map[K]bool) {
	for k, id := range s.byKey {
		if !live[k] {
			delete(s.byKey, k)
			s.held[k] = id
		}
	}
}

// sweep frees the quarantined IDs that busy says no connection counts
// against any more.
func (s *ids[K]) sweep(busy func(id uint32) bool) {
	for k, id := range s.held {
		if !busy(id) {
			delete(s.held, k)
			s.free = append(s.free, id)
		}
	}
}

// sweepIDs frees the quarantined destination IDs no connection or
// persistence template counts against, then the service IDs none of whose
// quarantined destinations remain (every session counts against one
// destination, so a service's sessions have ended when its destinations'
// have).
func (p *Plane) sweepIDs() {
	p.destIDs.sweep(func(id uint32) bool {
		a, in := p.dp.Conns.Sum(id)
		return a != 0 || in != 0 || p.dp.Conns.Persist(id) != 0
	})
	busy := make(map[uint32]bool)
	for _, did := range p.destIDs.held {
		busy[p.destOwner[did]] = true
	}
	p.svcIDs.sweep(func(id uint32) bool { return busy[id] })
}

type destKey struct {
	svc  ctl.ServiceKey
	dest ctl.DestKey
}

var fwdModes = map[ctl.FwdMode]nat.Mode{
	ctl.FwdFullNAT: nat.ModeFullNAT,
	ctl.FwdMasq:    nat.ModeNAT,
	ctl.FwdRoute:   nat.ModeDR,
	ctl.FwdTunnel:  nat.ModeTUN,
}

// schedSpec is what a service's scheduler is built from.
type schedSpec struct {
	kind    sched.Kind
	flags   sched.Flags
	persist sched.Persistence // zero when the service is not persistent
	dests   []sched.DestConf
	expire  time.Duration // lblc, lblcr: lblc(r)_expiration; else 0
}

func (a *schedSpec) equal(b *schedSpec) bool {
	return a.kind == b.kind && a.flags == b.flags && a.persist == b.persist && slices.Equal(a.dests, b.dests) && a.expire == b.expire
}

// builtSched is a service's scheduler and what it was built from.
type builtSched struct {
	svc  *sched.Service
	spec schedSpec
}

// services builds the datapath's service snapshot for cfg. A service whose
// scheduler inputs (scheduler, flags, persistence, destinations with their IDs,
// weights and thresholds) are those it had in prev keeps its scheduler as it is,
// per-core rr/wrr positions included: a change to another service must not
// restart this one's cycle (LVS resets a wrr cycle only when the service's own
// destinations change). Otherwise a new scheduler is built, taking over the
// persistence templates and lblc/lblcr tables of the previous one
// (sched.WithPrevious). It runs on the control goroutine; on error nothing is
// published and the ID tables may hold IDs for keys that are not live, which the
// next successful build releases.
func (p *Plane) services(cfg *ctl.Config, prev map[ctl.ServiceKey]*builtSched) (*nat.Services, map[ctl.ServiceKey]*builtSched, error) {
	p.est.init()
	p.sweepIDs()
	var confs []nat.ServiceConf
	liveSvc := make(map[ctl.ServiceKey]bool)
	liveDest := make(map[destKey]bool)
	scheds := make(map[ctl.ServiceKey]*builtSched)
	for _, vs := range cfg.Services {
		s := vs.Service
		key := s.Key()
		liveSvc[key] = true
		sid, reused, err := p.svcIDs.get(key)
		if err != nil {
			return nil, nil, fmt.Errorf("service %s: %w", key, err)
		}
		if reused {
			p.est.zsvc[key] = p.rawService(sid) // counted from zero
		}
		kind, err := sched.ParseKind(s.Sched)
		if err != nil {
			return nil, nil, fmt.Errorf("service %s: %v", key, err)
		}
		flags, err := sched.ParseFlags(strings.Join(s.Flags, ","))
		if err != nil {
			return nil, nil, fmt.Errorf("service %s: %v", key, err)
		}
		sc := nat.ServiceConf{ID: sid, FwMark: s.FwMark, OnePacket: s.OnePacket, ClientAddr: clientAddr(s)}
		if s.FwMark == 0 {
			sc.VIP, sc.Port, sc.Proto = header.Addr4From(s.VIP), s.Port, uint8(s.Proto) // ctl.Proto values are IP protocol numbers
		}
		spec := schedSpec{kind: kind, flags: flags}
		switch kind {
		case sched.LBLC:
			spec.expire = time.Duration(cfg.Sysctl.Expiration("lblc_expiration")) * time.Second
		case sched.LBLCR:
			spec.expire = time.Duration(cfg.Sysctl.Expiration("lblcr_expiration")) * time.Second
		}
		p.quorum(&vs)
		dests := vs.Dests
		if p.chk.quorumLost[key] {
			dests = append(slices.Clone(dests), sorryDest(&vs))
		}
		for _, d := range dests {
			dk := destKey{key, d.Key()}
			liveDest[dk] = true
			did, reused, err := p.destIDs.get(dk)
			if err != nil {
				return nil, nil, fmt.Errorf("destination %s of %s: %w", d.Key(), key, err)
			}
			if reused {
				p.est.zdest[dk] = p.rawDest(did)
			}
			p.destOwner[did] = sid
			// The scheduler takes the effective weight (health is state);
			// a destination removed while down is no destination at all
			// for new connections, its ID kept for its counters.
			w := d.Weight
			if i := slices.IndexFunc(vs.Dests, func(x ctl.Dest) bool { return x.Key() == d.Key() }); i >= 0 {
				h := p.health(s, dk, d)
				if h.removed {
					continue
				}
				w = h.weight
			}
			spec.dests = append(spec.dests, sched.DestConf{ID: did, Addr: d.Addr, Port: d.Port, Weight: int32(w),
				UThresh: d.UThresh, LThresh: d.LThresh, LastWeight: p.lastWeight(dk, w)})
			sc.Dests = append(sc.Dests, nat.DestConf{ID: did, Addr: d.Addr, Port: d.Port, Mode: fwdModes[d.Fwd]})
		}
		for _, l := range vs.Laddrs {
			pid, ok := p.portIDs[l.Port]
			if !ok {
				return nil, nil, fmt.Errorf("local address %s of %s: no port named %q", l.Addr, key, l.Port)
			}
			sc.LocalAddrs = append(sc.LocalAddrs, nat.LocalAddr{Addr: header.Addr4From(l.Addr), Port: pid})
		}
		if s.Persistent {
			spec.persist = sched.Persistence{Timeout: time.Duration(s.Timeout) * time.Second, Netmask: s.Netmask,
				ExpireQuiescent: cfg.Sysctl.ExpireQuiescentTemplate}
		}
		b := prev[key]
		if b == nil || !b.spec.equal(&spec) {
			var opts []sched.Option
			if b != nil {
				opts = append(opts, sched.WithPrevious(b.svc))
			}
			if s.Persistent {
				opts = append(opts, sched.WithPersistence(spec.persist))
			}
			if spec.expire > 0 {
				opts = append(opts, sched.WithLocality(sched.DefaultLocality, spec.expire))
			}
			ss, err := sched.NewService(kind, flags, spec.dests, p.dp.Conns, len(p.dp.Cores), opts...)
			if err != nil {
				return nil, nil, fmt.Errorf("service %s: %v", key, err)
			}
			b = &builtSched{svc: ss, spec: spec}
		}
		sc.Sched = b.svc
		scheds[key] = b
		confs = append(confs, sc)
	}
	// The snapshot carries the timeouts and the switches, so the datapath's
	// follow the configuration on every path that changes it (--set, gw
	// sysctl, -R, reload), and only once the change is applied.
	t := cfg.Timeouts
	to := nat.Timeouts{TCP: seconds(t.TCP), TCPFin: seconds(t.TCPFin), UDP: seconds(t.UDP), SynRecv: seconds(t.SynRecv),
		UDPOneway: seconds(t.UDPOneway), SecureTCP: cfg.Sysctl.SecureTCP}
	svcs, err := nat.NewServices(confs, to, p.limits)
	if err != nil {
		return nil, nil, err
	}
	svcs = svcs.WithPolicy(nat.Policy{ExpireNodestConn: cfg.Sysctl.ExpireNodestConn, LooseIngress: cfg.Sysctl.LooseIngress})
	if len(cfg.Marks) > 0 {
		rules := make([]nat.MarkRule, len(cfg.Marks))
		for i, r := range cfg.Marks {
			rules[i] = nat.MarkRule{Mark: r.Mark, Proto: uint8(r.Proto), Dst: r.Dst, Src: r.Src, DPortLo: r.DPort.Lo, DPortHi: r.DPort.Hi}
		}
		if svcs, err = svcs.WithMarks(rules); err != nil {
			return nil, nil, err
		}
	}
	p.svcIDs.keep(liveSvc)
	p.destIDs.keep(liveDest)
	return svcs, scheds, nil
}

// lastWeight remembers each destination's latest non-zero weight (LVS
// last_weight), which Maglev uses to keep a quiesced destination's slots.
func (p *Plane) lastWeight(k destKey, w int) int32 {
	if w > 0 {
		p.lastWeights[k] = int32(w)
		return 0
	}
	return p.lastWeights[k]
}

// clientAddr is the datapath's form of a service's client-address option.
func clientAddr(s ctl.Service) nat.ClientAddr {
	switch {
	case s.ProxyProtocol == ctl.ProxyV1:
		return nat.ProxyV1
	case s.ProxyProtocol == ctl.ProxyV2:
		return nat.ProxyV2
	case s.TOA:
		return nat.TOA
	}
	return nat.ClientAddrNone
}
