package dpdk

/*
#include "fngw_dpdk.h"
*/
import "C"

import "unsafe"

// NewBurst allocates a burst array of capacity n in C memory.
func NewBurst(n int) *Burst {
	p := C.calloc(C.size_t(n), C.size_t(unsafe.Sizeof(uintptr(0))))
	return &Burst{c: p, Pkts: unsafe.Slice((**Mbuf)(p), n), inC: true}
}

// Release frees a burst array made by NewBurst (not the mbufs in it).
func (b *Burst) Release() {
	if b.inC {
		C.free(b.c)
	}
	b.c, b.Pkts = nil, nil
}

func (b *Burst) at(i int) **C.struct_rte_mbuf {
	return (**C.struct_rte_mbuf)(unsafe.Add(b.c, uintptr(i)*unsafe.Sizeof(uintptr(0))))
}
