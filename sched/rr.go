package sched

// pickRR is ip_vs_rr: the next available destination after the core's last pick,
// in list order, wrapping around. Each core keeps its own cursor.
func (s *Service) pickRR(cs *coreState) int {
	n := int32(len(s.dests))
	i := cs.pos
	for range n {
		i++
		if i >= n {
			i = 0
		}
		if s.usable(cs, int(i)) {
			cs.pos = i
			return int(i)
		}
	}
	return -1
}

// initWRR computes ip_vs_wrr's constants: di, the gcd of the positive weights (1 if
// there are none), and mw, the first pass's bar: the maximum weight minus (di - 1),
// so that the last pass of a cycle has bar 1 (ip_vs_wrr_init_svc). mw <= 0 means no
// destination has weight.
func (s *Service) initWRR() {
	var g, top int32
	for _, d := range s.dests {
		if d.weight > 0 {
			g = gcd(g, d.weight)
		}
		top = max(top, d.weight)
	}
	if g == 0 {
		g = 1
	}
	s.wrrDI = g
	s.wrrMW = top - (g - 1)
}

// pickWRR is ip_vs_wrr_schedule. A cycle is a series of passes over the list with a
// falling bar cw = mw, mw-di, ..., down to 1; a pass picks, in list order, each
// available destination whose weight reaches the bar. Weights 4, 3, 2 give the
// interleaved cycle a a b a b c a b c — each destination's share is exactly its
// weight, without bursts. The cursor (last index, bar) is per core.
//
// Passes that no available destination reaches pick nothing; LVS walks through
// them one by one, this code jumps over them, which yields the same sequence in at
// most two walks of the list.
func (s *Service) pickWRR(cs *coreState) int {
	if s.wrrMW <= 0 {
		return -1
	}
	var top int32 // the highest weight among available destinations
	for i := range s.dests {
		if w := s.dests[i].weight; w > top && s.usable(cs, i) {
			top = w
		}
	}
	if top == 0 {
		return -1
	}
	n := int32(len(s.dests))
	i, cw := cs.pos, cs.cw
	for {
		i++
		if i >= n {
			i = -1 // back at the head: the next pass has a lower bar
			cw -= s.wrrDI
			if cw <= 0 {
				cw = s.wrrMW
			}
			if cw > top {
				cw -= (cw - top + s.wrrDI - 1) / s.wrrDI * s.wrrDI
			}
			continue
		}
		if s.dests[i].weight >= cw && s.usable(cs, int(i)) {
			cs.pos, cs.cw = i, cw
			return int(i)
		}
	}
}
