package dpdk

import "unsafe"

// Burst is an array of mbuf pointers. Those handed to C on every burst are made
// by NewBurst, once, in C memory: passing them costs no cgo pointer check. Go code
// indexes the array through Pkts. A Burst belongs to one lcore.
type Burst struct {
	c    unsafe.Pointer
	inC  bool
	Pkts []*Mbuf
}

// NewGoBurst makes a burst array in Go memory, for code that never hands it to C
// (test doubles in package dpdktest).
func NewGoBurst(n int) *Burst {
	p := make([]*Mbuf, n)
	return &Burst{c: unsafe.Pointer(&p[0]), Pkts: p}
}
