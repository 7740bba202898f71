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
// datapath indexes its counters with). A released ID goes to the back of the free
// queue, so it is reused as late as possible: sessions of a deleted destination
// still count against its ID until they expire.
type ids[K comparable] struct {
	byKey map[K]uint32
	free  []uint32
	next  uint32
	max   uint32
}

func newIDs[K comparable](max int) *ids[K] {
	return &ids[K]{byKey: make(map[K]uint32), max: uint32(max)}
}

func (s *ids[K]) get(k K) (uint32, error) {
	if id, ok := s.byKey[k]; ok {
		return id, nil
	}
	var id uint32
	switch {
	case s.next < s.max:
		id = s.next
		s.next++
	case len(s.free) > 0:
		id, s.free = s.free[0], s.free[1:]
	default:
		return 0, fmt.Errorf("too many (limit %d)", s.max)
	}
	s.byKey[k] = id
	return id, nil
}

// keep releases every ID whose key is not in live.
func (s *ids[K]) keep(live map[K]bool) {
	for k, id := range s.byKey {
		if !live[k] {
			delete(s.byKey, k)
			s.free = append(s.free, id)
		}
	}
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
}

func (a *schedSpec) equal(b *schedSpec) bool {
	return a.kind == b.kind && a.flags == b.flags && a.persist == b.persist && slices.Equal(a.dests, b.dests)
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
	var confs []nat.ServiceConf
	liveSvc := make(map[ctl.ServiceKey]bool)
	liveDest := make(map[destKey]bool)
	scheds := make(map[ctl.ServiceKey]*builtSched)
	for _, vs := range cfg.Services {
		s := vs.Service
		key := s.Key()
		liveSvc[key] = true
		sid, err := p.svcIDs.get(key)
		if err != nil {
			return nil, nil, fmt.Errorf("service %s: %v", key, err)
		}
		kind, err := sched.ParseKind(s.Sched)
		if err != nil {
			return nil, nil, fmt.Errorf("service %s: %v", key, err)
		}
		flags, err := sched.ParseFlags(strings.Join(s.Flags, ","))
		if err != nil {
			return nil, nil, fmt.Errorf("service %s: %v", key, err)
		}
		sc := nat.ServiceConf{ID: sid, VIP: header.Addr4From(s.VIP), Port: s.Port, Proto: uint8(s.Proto)} // ctl.Proto values are IP protocol numbers
		spec := schedSpec{kind: kind, flags: flags}
		for _, d := range vs.Dests {
			dk := destKey{key, d.Key()}
			liveDest[dk] = true
			did, err := p.destIDs.get(dk)
			if err != nil {
				return nil, nil, fmt.Errorf("destination %s of %s: %v", d.Key(), key, err)
			}
			spec.dests = append(spec.dests, sched.DestConf{ID: did, Addr: d.Addr, Port: d.Port, Weight: int32(d.Weight),
				UThresh: d.UThresh, LThresh: d.LThresh, LastWeight: p.lastWeight(dk, d.Weight)})
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
			spec.persist = sched.Persistence{Timeout: time.Duration(s.Timeout) * time.Second, Netmask: s.Netmask}
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
	// The snapshot carries the timeouts, so the datapath's follow the
	// configuration on every path that changes it (--set, -R, reload), and
	// only once the change is applied.
	t := cfg.Timeouts
	to := nat.Timeouts{TCP: seconds(t.TCP), TCPFin: seconds(t.TCPFin), UDP: seconds(t.UDP), SynRecv: seconds(t.SynRecv)}
	svcs, err := nat.NewServices(confs, to, p.limits)
	if err != nil {
		return nil, nil, err
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
