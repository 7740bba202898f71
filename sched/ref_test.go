package sched

import "math/big"

// Reference schedulers written straight from the LVS definitions, slowly and
// plainly, for the property tests to compare against.

// refAvail: weight > 0 and, with a fresh overload flag, active+inactive < UThresh.
func refAvail(d DestConf, active, inactive int64) bool {
	if d.Weight <= 0 {
		return false
	}
	return d.UThresh == 0 || active+inactive < int64(d.UThresh)
}

// refLeast returns the destination with the least cost, the first one on ties.
func refLeast(kind Kind, ds []DestConf, act, inact []int64) int {
	best := -1
	var bestCost *big.Rat
	for i, d := range ds {
		if !refAvail(d, act[i], inact[i]) {
			continue
		}
		var cost *big.Rat
		switch kind {
		case LC:
			cost = big.NewRat(act[i]*256+inact[i], 1)
		case WLC:
			cost = big.NewRat(act[i]*256+inact[i], int64(d.Weight))
		case SED:
			cost = big.NewRat((act[i]+1)*256, int64(d.Weight))
		case NQ:
			if act[i] == 0 {
				return i
			}
			cost = big.NewRat((act[i]+1)*256, int64(d.Weight))
		}
		if best < 0 || cost.Cmp(bestCost) < 0 {
			best, bestCost = i, cost
		}
	}
	return best
}

// refFO: the available destination of highest weight, first on ties.
func refFO(ds []DestConf, act, inact []int64) int {
	best := -1
	for i, d := range ds {
		if refAvail(d, act[i], inact[i]) && (best < 0 || d.Weight > ds[best].Weight) {
			best = i
		}
	}
	return best
}

// refOVF: as refFO among destinations with active <= weight.
func refOVF(ds []DestConf, act, inact []int64) int {
	best := -1
	for i, d := range ds {
		if refAvail(d, act[i], inact[i]) && act[i] <= int64(d.Weight) && (best < 0 || d.Weight > ds[best].Weight) {
			best = i
		}
	}
	return best
}

// refWRRCycle is one cycle of LVS weighted round robin: passes with a bar falling
// from max-(gcd-1) by gcd while positive, each picking in order every destination
// whose weight reaches the bar.
func refWRRCycle(ws []int32) []int {
	var g, top int32
	for _, w := range ws {
		if w > 0 {
			g = gcd(g, w)
		}
		top = max(top, w)
	}
	if g == 0 {
		return nil
	}
	var seq []int
	for cw := top - (g - 1); cw > 0; cw -= g {
		for i, w := range ws {
			if w > 0 && w >= cw {
				seq = append(seq, i)
			}
		}
	}
	return seq
}

// refTWOS is ip_vs_twos_schedule as written in Linux 6.5, given its two random
// numbers: r1, r2 reduced modulo (sum of available weights + 1), each walked down
// the list until it reaches 0 or below, and of the two picks the one of lower
// overhead/weight, the first on ties.
func refTWOS(ds []DestConf, act, inact []int64, rand1, rand2 uint32) int {
	total := int64(0)
	for i, d := range ds {
		if refAvail(d, act[i], inact[i]) {
			total += int64(d.Weight)
		}
	}
	if total == 0 {
		return -1
	}
	total++
	r1, r2 := int64(rand1)%total, int64(rand2)%total
	c1, c2 := -1, -1
	for i, d := range ds {
		if !refAvail(d, act[i], inact[i]) {
			continue
		}
		r1 -= int64(d.Weight)
		r2 -= int64(d.Weight)
		if r1 <= 0 && c1 < 0 {
			c1 = i
		}
		if r2 <= 0 && c2 < 0 {
			c2 = i
		}
	}
	oh1 := big.NewRat(act[c1]*256+inact[c1], int64(ds[c1].Weight))
	oh2 := big.NewRat(act[c2]*256+inact[c2], int64(ds[c2].Weight))
	if oh1.Cmp(oh2) > 0 {
		return c2
	}
	return c1
}
