package plane

import (
	"context"
	"slices"
	"sync"
	"time"

	"fngw/check"
	"fngw/ctl"
)

// Health is state, not configuration: a destination's configured weight
// stays what the operator wrote (what listings of the configuration, -S and
// reloads compare), and its effective weight — what its scheduler uses, what
// ipvsadm -L shows, as LVS under keepalived shows it — follows its checks:
//
//   - up: the configured weight;
//   - down with on_failure = "inhibit": 0, still a destination (its
//     connections go on; keepalived's inhibit_on_failure);
//   - down with on_failure = "remove": withdrawn from the scheduler and the
//     service's destinations (keepalived deletes the real server; its
//     sessions run on as those of a deleted destination do);
//   - while a service's quorum is lost (the configured weights of its
//     destinations up add up to less than quorum) and it has a sorry
//     server: the sorry server is added with weight 1 and the others get an
//     effective weight of 0, so that it takes every new connection, as
//     keepalived does (it removes the real servers still alive).
//
// Checks run in package check's scheduler; results come back to the
// control goroutine as jobs (a batch at a time), never touching the
// plane's state from the checkers' goroutines.

// destHealth is a destination's health as the plane knows it.
type destHealth struct {
	up      bool
	weight  int  // effective weight
	removed bool // withdrawn from the service (on_failure remove while down)
}

// destCheck is a checked destination's state. Owned by the control
// goroutine.
type destCheck struct {
	target check.Target
	state  check.State
	svc    ctl.Service // the service's settings as last applied (notify scripts)
}

// checkResult is a result waiting for the control goroutine.
type checkResult struct {
	key    destKey
	result check.Result
}

// checks is the plane's health-check machinery.
type checks struct {
	probe func(context.Context, check.Target) check.Result
	sched *check.Scheduler[destKey] // started with the first check
	notes *check.Notifier

	// control goroutine
	states     map[destKey]*destCheck
	quorumLost map[ctl.ServiceKey]bool
	durations  map[ctl.CheckType]*histogram

	mu        sync.Mutex // guards pending, queued: written by the checkers
	pending   []checkResult
	queued    bool
	submitted func(func())
}

// Check workers and the notify runner's bounds.
const (
	checkWorkers   = 64
	notifyParallel = 4
	notifyQueue    = 64
	notifyTimeout  = time.Minute
)

func (p *Plane) initChecks(probe func(context.Context, check.Target) check.Result) {
	if probe == nil {
		probe = check.NewProber().Probe
	}
	p.chk = checks{probe: probe, states: make(map[destKey]*destCheck), quorumLost: make(map[ctl.ServiceKey]bool),
		durations: make(map[ctl.CheckType]*histogram), submitted: p.dp.Control.Submit}
}

// isUp reports whether destination d of service s is up by its checks (a
// state not made yet is what syncChecks will make: up, or down with alpha).
func (p *Plane) isUp(s ctl.Service, k destKey, d ctl.Dest) bool {
	if !ctl.CheckOf(s, d).Enabled() {
		return true
	}
	if st := p.chk.states[k]; st != nil {
		return st.state.Up
	}
	return !s.Health.Alpha
}

// health is destination d's health, a destination of service s.
func (p *Plane) health(s ctl.Service, k destKey, d ctl.Dest) destHealth {
	up := p.isUp(s, k, d)
	switch {
	case up && p.chk.quorumLost[k.svc] && s.Health.SorryServer.IsValid():
		return destHealth{up: true}
	case up:
		return destHealth{up: true, weight: d.Weight}
	case ctl.CheckOf(s, d).OnFailure == ctl.OnFailureInhibit:
		return destHealth{}
	}
	return destHealth{removed: true}
}

// quorum decides whether service vs has its quorum (keepalived's: the
// configured weights of the destinations up reach quorum), logging a
// change. Without a sorry server the loss changes nothing but the log.
func (p *Plane) quorum(vs *ctl.VirtualService) {
	key := vs.Service.Key()
	sum := 0
	for _, d := range vs.Dests {
		if p.isUp(vs.Service, destKey{key, d.Key()}, d) {
			sum += d.Weight
		}
	}
	q := vs.Service.Health.QuorumOrDefault()
	lost := sum < q && vs.Service.Health.SorryServer.IsValid()
	if lost != p.chk.quorumLost[key] {
		if lost {
			p.log.Warn("health check: quorum lost; the sorry server takes the new connections", "service", key.String(),
				"weight_up", sum, "quorum", q, "sorry_server", vs.Service.Health.SorryServer.String())
		} else {
			p.log.Info("health check: quorum regained; the sorry server is withdrawn", "service", key.String(), "weight_up", sum, "quorum", q)
		}
	}
	if lost {
		p.chk.quorumLost[key] = true
	} else {
		delete(p.chk.quorumLost, key)
	}
}

// sorryFwd is how the sorry server of vs is forwarded: as its first
// destination, else FULLNAT when it has local addresses or a client-address
// option (which only FULLNAT carries), else NAT.
func sorryFwd(vs *ctl.VirtualService) ctl.FwdMode {
	switch {
	case len(vs.Dests) > 0:
		return vs.Dests[0].Fwd
	case len(vs.Laddrs) > 0, vs.Service.ProxyProtocol != ctl.ProxyNone, vs.Service.TOA:
		return ctl.FwdFullNAT
	}
	return ctl.FwdMasq
}

// sorryDest is the sorry server of vs as a destination.
func sorryDest(vs *ctl.VirtualService) ctl.Dest {
	s := vs.Service.Health.SorryServer
	return ctl.Dest{Addr: s.Addr(), Port: s.Port(), Weight: 1, Fwd: sorryFwd(vs)}
}

// syncChecks brings the running checks in line with cfg (after it was
// applied): a new checked destination starts (up, or down with alpha), one
// whose check changed restarts its checks keeping its state, an unchanged
// one goes on as it is, one gone or no longer checked stops.
func (p *Plane) syncChecks(cfg *ctl.Config) {
	live := make(map[destKey]bool)
	now := time.Now()
	for _, vs := range cfg.Services {
		key := vs.Service.Key()
		for _, d := range vs.Dests {
			c := ctl.CheckOf(vs.Service, d)
			if !c.Enabled() {
				continue
			}
			k := destKey{key, d.Key()}
			live[k] = true
			t := check.TargetOf(d, c)
			st := p.chk.states[k]
			switch {
			case st == nil:
				st = &destCheck{target: t, state: check.NewState(vs.Service.Health.Alpha, now)}
				p.chk.states[k] = st
			case st.target != t:
				up, since, n := st.state.Up, st.state.Since, st.state.Transitions
				st.target, st.state = t, check.State{Up: up, Since: since, Transitions: n}
				p.log.Info("health check changed; restarted", "service", key.String(), "dest", k.dest.String(), "check", c.String())
			}
			st.svc = vs.Service
			if p.chk.sched == nil {
				p.chk.sched = check.NewScheduler(checkWorkers, p.chk.probe, p.checked)
				p.chk.notes = check.NewNotifier(check.NotifierConfig{Parallel: notifyParallel, Queue: notifyQueue, Timeout: notifyTimeout, Log: p.log})
			}
			p.chk.sched.Set(k, t)
		}
	}
	for k := range p.chk.states {
		if !live[k] {
			delete(p.chk.states, k)
			p.chk.sched.Remove(k)
		}
	}
	for k := range p.chk.quorumLost {
		if _, ok := cfg.Lookup(k); !ok {
			delete(p.chk.quorumLost, k)
		}
	}
}

// checked takes a result from a checker's goroutine: it is queued, and the
// first of a batch submits the job that takes them all.
func (p *Plane) checked(k destKey, r check.Result) {
	c := &p.chk
	c.mu.Lock()
	st := checkResult{key: k, result: r}
	c.pending = append(c.pending, st)
	submit := !c.queued
	c.queued = true
	c.mu.Unlock()
	if submit {
		c.submitted(p.takeResults)
	}
}

// takeResults runs on the control goroutine: every result waiting goes
// into its destination's state machine; transitions are logged, notified
// and published.
func (p *Plane) takeResults() {
	c := &p.chk
	c.mu.Lock()
	batch := c.pending
	c.pending, c.queued = nil, false
	c.mu.Unlock()
	changed := false
	for _, x := range batch {
		st := c.states[x.key]
		if st == nil {
			continue // stopped meanwhile
		}
		ck := st.target.Check
		h := c.durations[ck.Type]
		if h == nil {
			h = newHistogram(checkBuckets)
			c.durations[ck.Type] = h
		}
		h.observe(x.result.Latency.Seconds())
		if !st.state.Observe(x.result, ck.Rise, ck.Fall) {
			continue
		}
		changed = true
		state, script := "down", st.svc.Health.NotifyDown
		if st.state.Up {
			state, script = "up", st.svc.Health.NotifyUp
		}
		attrs := []any{"service", x.key.svc.String(), "dest", x.key.dest.String(), "check", ck.String(), "result", x.result.Reason}
		if st.state.Up {
			p.log.Info("health check: destination up", attrs...)
		} else {
			p.log.Warn("health check: destination down", append(attrs, "on_failure", string(ck.OnFailure))...)
		}
		if script != "" {
			c.notes.Notify(script, []string{"FNGW_STATE=" + state, "FNGW_SERVICE=" + x.key.svc.String(),
				"FNGW_DEST=" + x.key.dest.String(), "FNGW_REASON=" + x.result.Reason})
		}
	}
	if changed {
		if err := p.publish(); err != nil {
			p.log.Error("health check: the new weights not published", "err", err)
		}
	}
}

// publish rebuilds the service snapshot of the running configuration (the
// effective weights changed) and hands it to the workers.
func (p *Plane) publish() error {
	svcs, scheds, err := p.services(p.cfg, p.scheds)
	if err != nil {
		return err
	}
	p.scheds = scheds
	p.dp.Services.Store(svcs)
	return nil
}

// closeChecks stops the checks and the notify scripts' runner.
func (p *Plane) closeChecks() {
	if p.chk.sched != nil {
		p.chk.sched.Close()
		p.chk.notes.Close()
	}
}

// checkStatuses lists every destination of every service with its check
// and health, for `gw check show`.
func (p *Plane) checkStatuses() []ctl.CheckStatus {
	var out []ctl.CheckStatus
	for _, vs := range p.cfg.Services {
		key := vs.Service.Key()
		svc := ctl.Service{Proto: key.Proto, VIP: key.VIP, Port: key.Port, FwMark: key.FwMark, Sched: vs.Service.Sched}
		for _, d := range vs.Dests {
			k := destKey{key, d.Key()}
			c := ctl.CheckOf(vs.Service, d)
			h := p.health(vs.Service, k, d)
			cs := ctl.CheckStatus{Service: svc, Dest: d.Key(), Weight: d.Weight, EffectiveWeight: h.weight, State: ctl.StateUp}
			if c.Enabled() {
				cs.Check = c.String()
				cs.OnFailure = c.OnFailure
				if st := p.chk.states[k]; st != nil {
					t := check.TargetOf(d, c)
					cs.Target = t.Addr
					s := st.state
					cs.Since, cs.Transitions, cs.Checks = s.Since, s.Transitions, s.Checks
					if s.Checks > 0 {
						cs.Last, cs.Reason, cs.Latency = s.Last.At, s.Last.Reason, s.Last.Latency
					}
					if !s.Up {
						cs.State = ctl.StateDown
					}
				}
				if h.removed {
					cs.State = ctl.StateDown
				}
			} else {
				cs.State = ctl.StateDisabled
			}
			out = append(out, cs)
		}
		if vs.Service.Health.SorryServer.IsValid() {
			s := vs.Service.Health.SorryServer
			cs := ctl.CheckStatus{Service: svc, Dest: ctl.DestKey{Addr: s.Addr(), Port: s.Port()}, Weight: 1, Sorry: true, State: ctl.StateDisabled}
			if p.chk.quorumLost[key] {
				cs.EffectiveWeight, cs.State = 1, ctl.StateUp
			}
			out = append(out, cs)
		}
	}
	return out
}

// listed makes a listing's table show what LVS under keepalived would:
// effective weights, removed destinations absent, the sorry server while
// it serves.
func (p *Plane) listed(t *ctl.Table) {
	for i := range t.Services {
		ss := &t.Services[i]
		vs, ok := p.cfg.Lookup(ss.Service.Key())
		if !ok {
			continue
		}
		key := ss.Service.Key()
		ss.Dests = slices.DeleteFunc(ss.Dests, func(ds ctl.DestStatus) bool {
			return p.health(vs.Service, destKey{key, ds.Dest.Key()}, ds.Dest).removed
		})
		for j := range ss.Dests {
			ds := &ss.Dests[j]
			ds.Dest.Weight = p.health(vs.Service, destKey{key, ds.Dest.Key()}, ds.Dest).weight
		}
		if p.chk.quorumLost[key] {
			sd := sorryDest(vs)
			ds := ctl.DestStatus{Dest: sd}
			if id, ok := p.destIDs.byKey[destKey{key, sd.Key()}]; ok {
				ds.Stats.Counters = p.rawDest(id)
				a, in := p.dp.Conns.Sum(id)
				ds.Stats.ActiveConns, ds.Stats.InactConns = uint32(max(a, 0)), uint32(max(in, 0))
			}
			ss.Dests = append(ss.Dests, ds)
		}
	}
}

// histogram is a Prometheus histogram kept by the control goroutine.
type histogram struct {
	bounds []float64
	counts []uint64 // per bound, not cumulative; the last is +Inf
	sum    float64
	n      uint64
}

// checkBuckets are fngw_check_duration_seconds' buckets: from a local
// connect to a timeout.
var checkBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

func newHistogram(bounds []float64) *histogram {
	return &histogram{bounds: bounds, counts: make([]uint64, len(bounds)+1)}
}

func (h *histogram) observe(v float64) {
	i, _ := slices.BinarySearch(h.bounds, v)
	h.counts[i]++
	h.sum += v
	h.n++
}

// buckets are the cumulative counts by upper bound.
func (h *histogram) buckets() map[float64]uint64 {
	m := make(map[float64]uint64, len(h.bounds))
	var acc uint64
	for i, b := range h.bounds {
		acc += h.counts[i]
		m[b] = acc
	}
	return m
}
