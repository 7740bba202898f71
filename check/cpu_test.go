package check

import (
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"fngw/ctl"
)

// TestSchedulerCPU measures what checking 1 000 destinations every second
// costs: FNGW_CHECK_CPU=SECONDS runs tcp checks, then http checks, against
// a local listener for that long each and logs the process's CPU time
// (user + system, the listener's included) per second of wall time.
//
//	FNGW_CHECK_CPU=20 go test -run TestSchedulerCPU -v ./check/
func TestSchedulerCPU(t *testing.T) {
	secs, _ := strconv.Atoi(os.Getenv("FNGW_CHECK_CPU"))
	if secs <= 0 {
		t.Skip("set FNGW_CHECK_CPU=SECONDS to measure")
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) }))
	addr := netip.MustParseAddrPort(l.Addr().String())
	const n = 1000
	for _, typ := range []ctl.CheckType{ctl.CheckTCP, ctl.CheckHTTP} {
		var checks, failed atomic.Int64
		p := NewProber()
		s := NewScheduler(64, p.Probe, func(_ int, r Result) {
			checks.Add(1)
			if !r.OK {
				failed.Add(1)
			}
		})
		c := ctl.Check{Type: typ, Interval: ctl.Duration(time.Second), Timeout: ctl.Duration(time.Second), Rise: 1, Fall: 2,
			OnFailure: ctl.OnFailureRemove}
		if typ == ctl.CheckHTTP {
			c.Path = "/"
		}
		for k := range n {
			s.Set(k, Target{Addr: addr, Check: c})
		}
		time.Sleep(2 * time.Second) // past the first, randomly placed, checks
		c0, w0, k0 := cpu(), time.Now(), checks.Load()
		time.Sleep(time.Duration(secs) * time.Second)
		used, wall, done := cpu()-c0, time.Since(w0), checks.Load()-k0
		s.Close()
		t.Logf("%s: %d destinations every 1s: %.0f checks/s (%d failed), CPU %.1f%% of one core (%.1f µs per check)",
			typ, n, float64(done)/wall.Seconds(), failed.Load(), 100*used.Seconds()/wall.Seconds(), float64(used.Microseconds())/float64(done))
		if failed.Load() > 0 {
			t.Errorf("%d checks failed", failed.Load())
		}
		if rate := float64(done) / wall.Seconds(); rate < 0.9*n {
			t.Errorf("%.0f checks/s, want about %d", rate, n)
		}
	}
}

// cpu is the process's CPU time so far.
func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
