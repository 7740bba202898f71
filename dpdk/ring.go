package dpdk

/*
#include "fngw_dpdk.h"
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// Ring is an rte_ring carrying mbuf pointers between lcores.
type Ring struct {
	r *C.struct_rte_ring
}

// NewRing creates a ring of count slots (a power of two). single=true makes it
// single-producer/single-consumer, the cheap kind used between one pair of lcores;
// otherwise it is multi-producer/multi-consumer.
func NewRing(name string, count int, single bool) (*Ring, error) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var flags C.uint
	if single {
		flags = C.RING_F_SP_ENQ | C.RING_F_SC_DEQ
	}
	r := C.rte_ring_create(cname, C.uint(count), C.SOCKET_ID_ANY, flags)
	if r == nil {
		return nil, fmt.Errorf("ring %q of %d slots: %s", name, count, C.GoString(C.rte_strerror(C.fngw_errno())))
	}
	return &Ring{r: r}, nil
}

// Enqueue puts b.Pkts[from:from+n] on the ring and returns how many fit; the
// caller still owns the rest.
func (r *Ring) Enqueue(b *Burst, from, n int) int {
	return int(C.fngw_ring_enq(r.r, b.at(from), C.uint(n)))
}

// Dequeue takes up to n packets into b.Pkts[from:] and returns how many.
func (r *Ring) Dequeue(b *Burst, from, n int) int {
	return int(C.fngw_ring_deq(r.r, b.at(from), C.uint(n)))
}

// Count is the number of entries on the ring.
func (r *Ring) Count() int { return int(C.fngw_ring_count(r.r)) }

// Free releases the ring.
func (r *Ring) Free() { C.rte_ring_free(r.r) }
