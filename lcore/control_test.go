package lcore

import (
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"fngw/dpdk"
	"fngw/dpdk/dpdktest"
	"fngw/test/harness"
)

// runControl runs a control lcore with no packets in its goroutine until the
// test ends.
func runControl(t *testing.T) *Control {
	t.Helper()
	c := NewControl(ControlConfig{IO: dpdktest.NewDev(16), FromWorkers: []Ring{dpdktest.NewRing(16)},
		ToWorkers: []Ring{dpdktest.NewRing(16)}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, dpdk.NewGoBurst)
	done := make(chan struct{})
	go func() { c.Run(); close(done) }()
	t.Cleanup(func() { c.Stop(); <-done })
	return c
}

// TestControlJobPanic: a job that panics is recovered and reported to its
// caller with its value; the control lcore goes on running jobs, Submit'ed
// ones too, and counts the panics.
func TestControlJobPanic(t *testing.T) {
	c := runControl(t)
	var jp *JobPanic
	if err := c.Do(func() { var m map[string]int; m["x"] = 1 }); !errors.As(err, &jp) || len(jp.Stack) == 0 {
		t.Fatalf("Do of a panicking job: %v", err)
	}
	c.Submit(func() { panic("submitted") })
	ran := false
	if err := c.Do(func() { ran = true }); err != nil || !ran {
		t.Fatalf("the next job: ran %v, %v", ran, err)
	}
	if n := c.Stats().JobPanics; n != 2 {
		t.Errorf("%d panics counted, want 2", n)
	}
	c.Stop()
	if err := c.Do(func() {}); !errors.Is(err, ErrStopped) {
		t.Errorf("Do after Stop: %v", err)
	}
}

// TestExecNeverRunsAfterTimeout: when Exec reports false, the job never
// runs, not even later (the worker takes a job with a swap, Exec withdraws
// it with a compare-and-swap). Many short timeouts against a polling worker
// race the two; under -race, a run after the report would also show as a
// data race on ran.
func TestExecNeverRunsAfterTimeout(t *testing.T) {
	r := newRig(t)
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			r.w.Poll(1)
		}
	}()
	late := 0
	for range 1000 {
		var ran atomic.Bool
		if !r.w.Exec(func(int64) bool { ran.Store(true); return true }, time.Duration(1+time.Now().UnixNano()%3000)) {
			// Give a late run every chance to happen.
			for range 3 {
				time.Sleep(10 * time.Microsecond)
			}
			if ran.Load() {
				late++
			}
		} else if !ran.Load() {
			t.Fatal("Exec reported the job ran, and it did not")
		}
	}
	stop.Store(true)
	wg.Wait()
	if late != 0 {
		t.Fatalf("%d jobs ran after Exec reported a timeout", late)
	}
}

// TestExecSlices: a job runs once per turn until it reports done; Exec
// returns after the last slice; a worker that stops mid-job aborts it.
func TestExecSlices(t *testing.T) {
	r := newRig(t)
	var stop atomic.Bool
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		for !stop.Load() {
			r.w.Poll(1)
		}
	}()
	turns := 0
	if !r.w.Exec(func(int64) bool { turns++; return turns == 5 }, time.Second) || turns != 5 {
		t.Fatalf("a five-slice job ran %d times", turns)
	}
	stop.Store(true)
	<-polled

	w := r.w
	w.cfg.CPU = -1
	w.stop.Store(false)
	done := make(chan error)
	go func() { done <- w.Run() }()
	started := make(chan struct{})
	var once sync.Once
	res := make(chan bool)
	go func() {
		res <- w.Exec(func(int64) bool { once.Do(func() { close(started) }); return false }, time.Second)
	}()
	<-started
	w.Stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if <-res {
		t.Fatal("Exec reported a job done that the worker's exit aborted")
	}
}

// TestARPAnsweredBetweenJobs: with many goroutines keeping the control
// lcore's job queue full (commands, scrapes), an ARP request for the
// gateway's address is answered within about one job's time, not after the
// whole queue: the loop polls packets between two jobs. (Before, it ran
// jobs until the queue was empty; with 32 submitters of 5 ms jobs an ARP
// request waited 160 ms and more.)
func TestARPAnsweredBetweenJobs(t *testing.T) {
	r := newRig(t)
	done := make(chan struct{})
	go func() { r.c.Run(); close(done) }()
	defer func() { r.c.Stop(); <-done }()
	const job = 5 * time.Millisecond
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				r.c.Do(func() { time.Sleep(job) })
			}
		}()
	}
	time.Sleep(50 * time.Millisecond) // the queue fills
	req := harness.ARPRequest(clientMAC, clientIP, gwIP)
	b := dpdk.NewGoBurst(1)
	var worst time.Duration
	for range 20 {
		b.Pkts[0] = r.dev.Pool.Packet(req, 0, 0)
		start := time.Now()
		if r.toCtl.Enqueue(b, 0, 1) != 1 {
			t.Fatal("ring full")
		}
		for r.fromCt.Count() == 0 {
			if time.Since(start) > 2*time.Second {
				t.Fatal("no ARP reply in 2 s")
			}
			time.Sleep(50 * time.Microsecond)
		}
		worst = max(worst, time.Since(start))
		r.fromCt.Dequeue(b, 0, 1)
		r.dev.Pool.FreeBulk(b, 0, 1)
		time.Sleep(7 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	if worst > 6*job {
		t.Fatalf("an ARP request waited %v for its answer with the job queue full; want about one job (%v)", worst, job)
	}
	t.Logf("worst ARP answer %v with 32 submitters of %v jobs", worst, job)
}
