package dpdk

/*
#include "fngw_dpdk.h"
*/
import "C"

import "unsafe"

// Burst is an array of mbuf pointers allocated once in C memory. Passing it to C
// costs no cgo pointer check; Go code indexes it through Pkts. A Burst belongs to
// one lcore.
type Burst struct {
	c    **C.struct_rte_mbuf
	Pkts []*Mbuf
}

// NewBurst allocates a burst array of capacity n in C memory.
func NewBurst(n int) *Burst {
	p := (**C.struct_rte_mbuf)(C.calloc(C.size_t(n), C.size_t(unsafe.Sizeof(uintptr(0)))))
	return &Burst{c: p, Pkts: unsafe.Slice((**Mbuf)(unsafe.Pointer(p)), n)}
}

// Release frees the array (not the mbufs in it).
func (b *Burst) Release() {
	C.free(unsafe.Pointer(b.c))
	b.c, b.Pkts = nil, nil
}

func (b *Burst) at(i int) **C.struct_rte_mbuf {
	return (**C.struct_rte_mbuf)(unsafe.Add(unsafe.Pointer(b.c), uintptr(i)*unsafe.Sizeof(uintptr(0))))
}
