package sched

import "fngw/mix"

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

// pickTWOS is ip_vs_twos_schedule (Linux 6.5): two destinations drawn at random
// in proportion to their weights, r1 and r2 uniform in 0..sum (so the first
// available destination in list order has one more chance than its weight),
// and of the two the one with the lower overhead/weight (overhead as in
// pickLC), the first draw on ties. The random sequence is per core, seeded
// from the service's seed (WithSeed), so a test replays it.
func (s *Service) pickTWOS(cs *coreState) int {
	var total int64
	for i := range s.dests {
		if s.usable(cs, i) {
			total += int64(s.dests[i].weight)
		}
	}
	if total == 0 {
		return -1
	}
	total++
	cs.rnd++
	r := mix.Uint64(cs.rnd)
	r1, r2 := int64((r>>32)%uint64(total)), int64((r&0xffffffff)%uint64(total))
	c1, c2 := -1, -1
	for i := range s.dests {
		if !s.usable(cs, i) {
			continue
		}
		w := int64(s.dests[i].weight)
		r1 -= w
		r2 -= w
		if r1 <= 0 && c1 < 0 {
			c1 = i
		}
		if r2 <= 0 && c2 < 0 {
			c2 = i
		}
		if c1 >= 0 && c2 >= 0 {
			break
		}
	}
	a1, in1, _ := s.load(cs, c1)
	a2, in2, _ := s.load(cs, c2)
	w1, w2 := int64(s.dests[c1].weight), int64(s.dests[c2].weight)
	if w2*(a1<<8+in1) > w1*(a2<<8+in2) {
		return c2
	}
	return c1
}
