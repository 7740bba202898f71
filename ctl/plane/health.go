package plane

import "fngw/ctl"

// destHealth is a destination's health as the plane knows it: whether it is
// up, and the weight its scheduler is to use. Health is state, not
// configuration: a destination that is down keeps its configured weight (what
// the operator wrote, what a reload compares) and gets an effective weight
// of 0, as keepalived does to LVS.
type destHealth struct {
	up     bool
	weight int // effective weight
}

// health is destination k's health. There are no health checks yet, so
// every destination is up and its effective weight is the configured one;
// a health checker's verdicts belong here, and what reads health (the
// metrics fngw_dest_up and fngw_dest_effective_weight) follows without a
// change of name.
func (p *Plane) health(k destKey, d ctl.Dest) destHealth {
	return destHealth{up: true, weight: d.Weight}
}
