package ctl

import "testing"

// refEst is a reference for ip_vs_est.c written with explicit floor
// division instead of shifts.
type refEst struct {
	last [5]uint64
	avg  [5]int64
}

func floorDiv4(d int64) int64 {
	if d >= 0 {
		return d / 4
	}
	return -((-d + 3) / 4)
}

func (e *refEst) tick(c [5]uint64) {
	for i := range c {
		scale := int64(512) // 2^10 per second over 2 s
		if i >= 3 {
			scale = 16 // 2^5 per second over 2 s
		}
		rate := int64(c[i]-e.last[i]) * scale
		e.avg[i] += floorDiv4(rate - e.avg[i])
		e.last[i] = c[i]
	}
}

func (e *refEst) rates() [5]uint64 {
	var r [5]uint64
	for i, a := range e.avg {
		if a <= 0 {
			continue
		}
		if i < 3 {
			r[i] = uint64((a + 511) / 1024)
		} else {
			r[i] = uint64((a + 15) / 32)
		}
	}
	return r
}

func TestEstimatorMatchesReference(t *testing.T) {
	r := newRand(1)
	var e Estimator
	var ref refEst
	var c [5]uint64
	for i := range 5000 {
		burst := r.Intn(4) == 0 // bursts and idle periods make the average fall too
		for j := range c {
			if burst {
				c[j] += uint64(r.Intn(1 << 20))
			} else if r.Intn(2) == 0 {
				c[j] += uint64(r.Intn(100))
			}
		}
		e.Tick(Counters{c[0], c[1], c[2], c[3], c[4]})
		ref.tick(c)
		got := e.Rates()
		want := ref.rates()
		if [5]uint64{got.CPS, got.InPPS, got.OutPPS, got.InBPS, got.OutBPS} != want {
			t.Fatalf("tick %d: %+v, reference %v", i, got, want)
		}
	}
}

func TestEstimatorConverges(t *testing.T) {
	var e Estimator
	var c Counters
	e.Reset(c)
	// A steady 1000 conn/s, 50000 pkt/s in, 40000 out, 10 MB/s in, 1 MB/s out.
	for range 60 {
		c.Conns += 2 * 1000
		c.InPkts += 2 * 50000
		c.OutPkts += 2 * 40000
		c.InBytes += 2 * 10000000
		c.OutBytes += 2 * 1000000
		e.Tick(c)
	}
	want := Rates{CPS: 1000, InPPS: 50000, OutPPS: 40000, InBPS: 10000000, OutBPS: 1000000}
	if got := e.Rates(); got != want {
		t.Fatalf("steady state %+v, want %+v", got, want)
	}
	// After one 2 s interval at a rate, the average has moved a quarter of
	// the way (W = 2^-2).
	var f Estimator
	f.Reset(Counters{})
	f.Tick(Counters{Conns: 8000})
	if got := f.Rates().CPS; got != 1000 {
		t.Errorf("first tick: %d conn/s, want 4000/4 = 1000", got)
	}
	// Traffic stops: the rate decays towards zero, never below.
	for range 100 {
		e.Tick(c)
	}
	if got := e.Rates(); got != (Rates{}) {
		t.Errorf("idle: %+v", got)
	}
	// Reset discards history.
	e.Reset(Counters{Conns: 1 << 40})
	e.Tick(Counters{Conns: 1 << 40})
	if got := e.Rates(); got != (Rates{}) {
		t.Errorf("after reset: %+v", got)
	}
}

func TestTableFromConfig(t *testing.T) {
	c := base(t)
	mustApply(t, c, "--add-laddr -t 198.18.1.100:80 -z 198.18.1.10 -F dpdk0")
	tb := c.Table(65536)
	if tb.Size != 65536 || len(tb.Services) != 1 || len(tb.Services[0].Dests) != 1 || len(tb.Services[0].Laddrs) != 1 {
		t.Fatalf("%+v", tb)
	}
	if !tb.Config().Equal(&Config{Timeouts: c.Timeouts, Services: c.Services}) {
		t.Error("Table.Config does not rebuild the services")
	}
}
