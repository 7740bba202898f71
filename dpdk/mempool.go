package dpdk

/*
#include "fngw_dpdk.h"
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// Pool is a packet mbuf mempool.
type Pool struct {
	mp *C.struct_rte_mempool
}

// NewPool creates a packet mbuf pool of n mbufs with a per-lcore cache and a data
// room of dataRoom bytes (including the headroom) on NUMA socket (-1: any).
func NewPool(name string, n, cache, dataRoom, socket int) (*Pool, error) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	mp := C.rte_pktmbuf_pool_create(cname, C.uint(n), C.uint(cache), 0, C.uint16_t(dataRoom), C.int(socket))
	if mp == nil {
		return nil, fmt.Errorf("mbuf pool %q (%d mbufs, data room %d): %s", name, n, dataRoom, C.GoString(C.rte_strerror(C.fngw_errno())))
	}
	return &Pool{mp: mp}, nil
}

// AllocBulk fills b.Pkts[from:from+n] with fresh mbufs, all or nothing. It reports
// false when the pool cannot supply n.
func (p *Pool) AllocBulk(b *Burst, from, n int) bool {
	return C.fngw_alloc_bulk(p.mp, b.at(from), C.uint(n)) == 0
}

// Avail is the number of mbufs in the pool (approximate while lcores cache some).
func (p *Pool) Avail() int { return int(C.rte_mempool_avail_count(p.mp)) }

// InUse is the number of mbufs taken from the pool.
func (p *Pool) InUse() int { return int(C.rte_mempool_in_use_count(p.mp)) }

// Free releases the pool. Every mbuf must have been returned.
func (p *Pool) Free() { C.rte_mempool_free(p.mp) }

// FreeBulk returns b.Pkts[from:from+n] to their pools (any pools, any segments).
func FreeBulk(b *Burst, from, n int) {
	if n > 0 {
		C.rte_pktmbuf_free_bulk(b.at(from), C.uint(n))
	}
}
