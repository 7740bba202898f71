package sched

import (
	"sync"
	"testing"
)

func TestConnsAddSum(t *testing.T) {
	c := NewConns(3, 10)
	c.Add(0, 9, 2, 5)
	c.Add(1, 9, 3, 0)
	c.Add(2, 9, 0, 1)
	c.Add(2, 9, 1, -1)
	c.Add(1, 8, 7, 7)
	if a, in := c.Sum(9); a != 6 || in != 5 {
		t.Errorf("Sum(9) = %d, %d; want 6, 5", a, in)
	}
	if a, in := c.Sum(8); a != 7 || in != 7 {
		t.Errorf("Sum(8) = %d, %d; want 7, 7 (rows must not overlap)", a, in)
	}
	if a, in := c.Sum(0); a != 0 || in != 0 {
		t.Errorf("Sum(0) = %d, %d", a, in)
	}
	c.addPersist(1, 9, 2)
	c.addPersist(2, 9, 1)
	if p := c.Persist(9); p != 3 {
		t.Errorf("Persist(9) = %d", p)
	}
	c.markOverloaded(9)
	c.Clear(9)
	if a, in := c.Sum(9); a != 0 || in != 0 || c.Persist(9) != 0 || c.Overloaded(9) {
		t.Errorf("after Clear: %d %d %d %v", a, in, c.Persist(9), c.Overloaded(9))
	}
	if c.Cores() != 3 || c.MaxDests() != 10 {
		t.Errorf("Cores, MaxDests = %d, %d", c.Cores(), c.MaxDests())
	}
}

func TestConnsIDBound(t *testing.T) {
	c := NewConns(2, 5)
	defer func() {
		if recover() == nil {
			t.Error("Add with id >= MaxDests did not panic")
		}
	}()
	c.Add(0, 5, 1, 0) // must not land in core 1's row
}

func TestNewConnsPanics(t *testing.T) {
	for _, tc := range [][2]int{{0, 1}, {1, 0}, {-1, 5}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewConns(%d, %d) did not panic", tc[0], tc[1])
				}
			}()
			NewConns(tc[0], tc[1])
		}()
	}
}

// TestOverloadedHysteresis walks the LVS threshold rule: set at >= UThresh, cleared
// below LThresh or, without one, below 3/4 of UThresh; sticky in between.
func TestOverloadedHysteresis(t *testing.T) {
	type step struct {
		total int64
		want  bool
	}
	tests := []struct {
		name   string
		u, l   uint32
		phases []step
	}{
		{"upper and lower", 10, 5, []step{
			{0, false}, {9, false}, {10, true}, {12, true}, {9, true}, {5, true}, {4, false}, {9, false}, {10, true},
		}},
		{"upper only: 3/4", 8, 0, []step{
			{7, false}, {8, true}, {7, true}, {6, true}, {5, false}, {7, false}, {8, true},
		}},
		{"upper only, not a multiple of 4", 2, 0, []step{
			{2, true}, {1, false}, // 1*4 < 2*3
		}},
		{"lower above upper: no hysteresis", 4, 6, []step{
			{4, true}, {3, false}, {5, true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewConns(1, 1)
			for i, st := range tt.phases {
				if got := c.overloaded(0, st.total, tt.u, tt.l); got != st.want {
					t.Fatalf("step %d: total %d: overloaded = %v, want %v", i, st.total, got, st.want)
				}
				if c.Overloaded(0) != st.want {
					t.Fatalf("step %d: flag = %v", i, c.Overloaded(0))
				}
			}
		})
	}
}

// TestConnsConcurrent has every core write its own row while another goroutine
// sums (run with -race).
func TestConnsConcurrent(t *testing.T) {
	const cores, n = 4, 2000
	c := NewConns(cores, 4)
	var wg sync.WaitGroup
	for core := range cores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				c.Add(core, uint32(i%4), 1, 1)
			}
		}()
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				for id := range uint32(4) {
					if a, in := c.Sum(id); a < 0 || in < 0 || a > cores*n/4 {
						t.Errorf("Sum(%d) = %d, %d mid-run", id, a, in)
					}
				}
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-done
	for id := range uint32(4) {
		if a, in := c.Sum(id); a != cores*n/4 || in != cores*n/4 {
			t.Errorf("Sum(%d) = %d, %d; want %d each", id, a, in, cores*n/4)
		}
	}
}
