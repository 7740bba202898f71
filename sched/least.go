package sched

// The least-connection family. Overheads and weights are compared by
// cross-multiplication in int64, as LVS does in __s64 ("h1/w1 > h2/w2 is h1*w2 >
// h2*w1 when every weight is positive"), so no division and no rounding. Ties go to
// the first destination in list order: a later one replaces the current best only
// when strictly better.

// pickLC is ip_vs_lc: the available destination with the least overhead, where
// overhead = active*256 + inactive (ip_vs_dest_conn_overhead). Weights only gate
// availability.
func (s *Service) pickLC(cs *coreState) int {
	least, loh := -1, int64(0)
	for i := range s.dests {
		a, in, ok := s.load(cs, i)
		if !ok {
			continue
		}
		if oh := a<<8 + in; least < 0 || oh < loh {
			least, loh = i, oh
		}
	}
	return least
}

// pickWLC is ip_vs_wlc: the available destination with the least overhead/weight,
// overhead as in pickLC.
func (s *Service) pickWLC(cs *coreState) int {
	least, loh, lw := -1, int64(0), int64(1)
	for i := range s.dests {
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

// pickSED is ip_vs_sed: the available destination with the least expected delay
// (active+1)/weight (LVS compares (active+1)*w2 against (active2+1)*w1; scaling both
// sides by 256 would change nothing). Inactive connections do not count.
//
// With nq it is ip_vs_nq: the first idle destination (no active connection) wins at
// once; otherwise as sed.
func (s *Service) pickSED(cs *coreState, nq bool) int {
	least, loh, lw := -1, int64(0), int64(1)
	for i := range s.dests {
		a, _, ok := s.load(cs, i)
		if !ok {
			continue
		}
		if nq && a == 0 {
			return i
		}
		oh, w := a+1, int64(s.dests[i].weight)
		if least < 0 || loh*w > oh*lw {
			least, loh, lw = i, oh, w
		}
	}
	return least
}
