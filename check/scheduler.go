package check

import (
	"container/heap"
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// Scheduler runs the checks of many targets, each every its interval: one
// goroutine keeps a timer heap of when each is due and hands due checks to
// a bounded pool of workers, so that thousands of destinations cost no
// goroutine (nor timer) each. The first check of a target comes at a
// random point of its first interval and every later one a few percent
// early or late, so that checks do not fire in lockstep. A check that runs
// longer than its interval delays the next (never two at once per target).
//
// Results are handed to the report function from the worker that ran the
// check; it must not block for long (the control plane queues them for its
// own goroutine). A result of a target that was removed or replaced while
// its check ran is dropped.
type Scheduler[K comparable] struct {
	probe  func(context.Context, Target) Result
	report func(K, Result)
	ctx    context.Context
	cancel context.CancelFunc
	jobs   chan *entry[K]
	wake   chan struct{}
	wg     sync.WaitGroup

	mu      sync.Mutex
	due     entryHeap[K]
	entries map[K]*entry[K]
}

type entry[K comparable] struct {
	key    K
	target Target
	next   time.Time
	index  int  // in due; -1 while running or removed
	gone   bool // removed or replaced
}

// NewScheduler starts a scheduler with workers workers running probe and
// handing each result to report. Close stops it.
func NewScheduler[K comparable](workers int, probe func(context.Context, Target) Result, report func(K, Result)) *Scheduler[K] {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Scheduler[K]{probe: probe, report: report, ctx: ctx, cancel: cancel,
		jobs: make(chan *entry[K]), wake: make(chan struct{}, 1), entries: make(map[K]*entry[K])}
	s.wg.Add(workers + 1)
	for range workers {
		go s.work()
	}
	go s.loop()
	return s
}

// Set schedules k's checks of t, replacing those k had if t differs (the
// first check of the new target comes within its interval); the same
// target changes nothing.
func (s *Scheduler[K]) Set(k K, t Target) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.entries[k]; e != nil {
		if e.target == t {
			return
		}
		s.drop(e)
	}
	iv := time.Duration(t.Check.Interval)
	e := &entry[K]{key: k, target: t, next: time.Now().Add(time.Duration(rand.Int64N(int64(iv)) + 1)), index: -1}
	s.entries[k] = e
	heap.Push(&s.due, e)
	s.poke()
}

// Remove stops k's checks.
func (s *Scheduler[K]) Remove(k K) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.entries[k]; e != nil {
		s.drop(e)
	}
}

// Len is the number of targets scheduled.
func (s *Scheduler[K]) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

func (s *Scheduler[K]) drop(e *entry[K]) {
	e.gone = true
	delete(s.entries, e.key)
	if e.index >= 0 {
		heap.Remove(&s.due, e.index)
	}
}

func (s *Scheduler[K]) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Close stops the scheduler: checks running are cancelled, and it returns
// once every worker has stopped. No report follows.
func (s *Scheduler[K]) Close() {
	s.cancel()
	s.wg.Wait()
}

// loop hands each check to a worker when it is due.
func (s *Scheduler[K]) loop() {
	defer s.wg.Done()
	defer close(s.jobs)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.mu.Lock()
		var e *entry[K]
		wait := time.Hour
		if len(s.due) > 0 {
			if d := time.Until(s.due[0].next); d <= 0 {
				e = heap.Pop(&s.due).(*entry[K])
			} else {
				wait = d
			}
		}
		s.mu.Unlock()
		if e != nil {
			// Blocks while every worker is busy: the pool is the bound.
			select {
			case s.jobs <- e:
				continue
			case <-s.ctx.Done():
				return
			}
		}
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-s.wake:
			if !timer.Stop() {
				<-timer.C
			}
		case <-s.ctx.Done():
			return
		}
	}
}

// work runs checks and schedules each target's next.
func (s *Scheduler[K]) work() {
	defer s.wg.Done()
	for e := range s.jobs {
		start := time.Now()
		r := s.probe(s.ctx, e.target)
		if s.ctx.Err() != nil {
			continue
		}
		s.mu.Lock()
		gone := e.gone
		if !gone {
			iv := time.Duration(e.target.Check.Interval)
			jitter := time.Duration(rand.Int64N(int64(iv)/10+1)) - iv/20 // ±5 %
			e.next = start.Add(iv + jitter)
			if now := time.Now(); e.next.Before(now) {
				e.next = now
			}
			heap.Push(&s.due, e)
			s.poke()
		}
		s.mu.Unlock()
		if !gone {
			s.report(e.key, r)
		}
	}
}

// entryHeap orders entries by when they are due.
type entryHeap[K comparable] []*entry[K]

func (h entryHeap[K]) Len() int           { return len(h) }
func (h entryHeap[K]) Less(i, j int) bool { return h[i].next.Before(h[j].next) }
func (h entryHeap[K]) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *entryHeap[K]) Push(x any) {
	e := x.(*entry[K])
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *entryHeap[K]) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	e.index = -1
	*h = old[:len(old)-1]
	return e
}
