package sched

// pickFO is ip_vs_fo (weighted failover): the available destination with the
// highest weight; ties go to the first in list order. All new connections go to one
// destination until it becomes unavailable or another gets a higher weight.
func (s *Service) pickFO(cs *coreState) int {
	best, bw := -1, int32(0)
	for i := range s.dests {
		if w := s.dests[i].weight; w > bw && s.usable(cs, i) {
			best, bw = i, w
		}
	}
	return best
}

// pickOVF is ip_vs_ovf (overflow): the available destination with the highest
// weight among those whose active connections do not exceed their weight; ties go
// to the first in list order. Connections fill the heaviest destination up to
// weight+1 active ones, then overflow to the next heaviest. Only active connections
// count, so it suits TCP better than UDP, as LVS notes.
func (s *Service) pickOVF(cs *coreState) int {
	best, bw := -1, int32(0)
	for i := range s.dests {
		w := s.dests[i].weight
		if w <= bw {
			continue
		}
		if a, _, ok := s.load(cs, i); ok && a <= int64(w) {
			best, bw = i, w
		}
	}
	return best
}
