package check

import "time"

// State is one destination's health as its checks made it: a rise/fall
// state machine (haproxy's and keepalived's): Rise successes in a row take
// a down destination up, Fall failures in a row take an up one down. It is
// a plain value, owned by whoever feeds it results (the control plane's
// goroutine), and takes its times from the results: tests drive it with
// made-up times.
type State struct {
	Up bool
	// Since is when Up last changed (or the state began).
	Since time.Time
	// Transitions counts the changes of Up.
	Transitions uint64
	// Last is the latest result; its zero value means no check has run yet.
	Last Result
	// Checks counts the results seen.
	Checks uint64
	// run counts the latest results in a row that disagree with Up.
	run int
}

// NewState is the state of a destination whose checks begin at now: up,
// or down with alpha (keepalived's alpha: down until a check succeeds).
func NewState(alpha bool, now time.Time) State {
	return State{Up: !alpha, Since: now}
}

// Observe takes one result into s and reports whether it changed Up.
// rise and fall are at least 1.
func (s *State) Observe(r Result, rise, fall int) bool {
	s.Last = r
	s.Checks++
	if r.OK == s.Up {
		s.run = 0
		return false
	}
	s.run++
	need := fall
	if !s.Up {
		need = rise
	}
	if s.run < need {
		return false
	}
	s.Up, s.Since, s.run = r.OK, r.At.Add(r.Latency), 0
	s.Transitions++
	return true
}
