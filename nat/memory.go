package nat

import "unsafe"

// Page sizes commit assumes: the base page it touches once each, and the huge
// page transparent huge pages come in on amd64 and arm64 (4 KiB granule).
const (
	basePage = 4 << 10
	hugePage = 2 << 20
)

// mapMin is the size from which a table array is mapped from the kernel
// rather than allocated on the Go heap (see mapArray). Smaller arrays, the
// tables of unit tests among them, stay on the heap, where the race detector
// watches them.
const mapMin = 64 << 20

// newArray returns a zeroed array of n elements of T, committed (see commit),
// and the mapping that holds it (nil when it is on the Go heap): arrays of at
// least mapMin bytes live outside the Go heap, in a mapping of their own, so
// that they cost exactly their size. On the heap, a 2 GiB array costs 2 MiB
// more: the runtime keeps a page-to-span table, 64 KiB per 64 MiB arena,
// resident for every page of a large allocation. T must hold no pointers (the
// garbage collector does not see outside its heap).
func newArray[T any](n int) ([]T, []byte) {
	var m []byte
	var s []T
	size := uintptr(n) * unsafe.Sizeof(*new(T))
	if size >= mapMin {
		m = mapArray(size)
	}
	if m != nil {
		s = unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(m))), n)
	} else {
		s = make([]T, n)
	}
	commit(s)
	return s, m
}

// lazyMin is the size from which newLazyArray maps its array off the Go
// heap. Smaller ones (unit tests' tables) stay on the heap.
const lazyMin = 1 << 20

// newLazyArray returns a zeroed array of n elements of T, not committed, and
// the mapping that holds it (nil when it is on the Go heap): arrays of at
// least lazyMin bytes are mapped off the Go heap, where a page becomes
// resident only when first written (a side table that only some sessions
// use costs the pages they touch), and where it neither counts toward nor
// shifts the garbage collector's pacing. T must hold no pointers.
func newLazyArray[T any](n int) ([]T, []byte) {
	size := uintptr(n) * unsafe.Sizeof(*new(T))
	if size >= lazyMin {
		if m := mapArray(size); m != nil {
			return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(m))), n), m
		}
	}
	return make([]T, n), nil
}

// commit prepares a table array of n elements of T for the datapath: it asks
// the kernel to back it with transparent huge pages where it can (adviseHuge)
// and then touches every page, so that the page faults and page clearing
// happen now, at start, and not on the worker while it forwards, and so that
// the datapath's random accesses to the array miss the TLB far less often (a
// 2 MiB page covers 512 times what a 4 KiB page does). The table's memory is
// then resident from the start, as DPDK's hugepage memory is.
func commit[T any](s []T) {
	if len(s) == 0 {
		return
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), uintptr(len(s))*unsafe.Sizeof(s[0]))
	adviseHuge(b)
	for i := 0; i < len(b); i += basePage {
		b[i] = 0 // the array is zero: this only faults the page in
	}
}
