package nat

import "unsafe"

// Page sizes commit assumes: the base page it touches once each, and the huge
// page transparent huge pages come in on amd64 and arm64 (4 KiB granule).
const (
	basePage = 4 << 10
	hugePage = 2 << 20
)

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
