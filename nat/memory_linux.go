package nat

import (
	"syscall"
	"unsafe"
)

// madvHugepage is MADV_HUGEPAGE (linux/mman.h), which package syscall lacks.
const madvHugepage = 14

// adviseHuge marks the whole huge pages inside b for transparent huge pages
// (madvise MADV_HUGEPAGE: THP's usual mode, "madvise", grants them only to
// ranges that ask). It is a hint: with THP disabled, or no huge page free,
// the kernel uses base pages and the table works the same, only with more
// TLB misses, so an error is not reported.
func adviseHuge(b []byte) {
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	start := (p + hugePage - 1) &^ (hugePage - 1)
	end := (p + uintptr(len(b))) &^ (hugePage - 1)
	if end <= start {
		return // no whole huge page inside
	}
	_ = syscall.Madvise(b[start-p:end-p], madvHugepage)
}

// mapArray maps size bytes of anonymous, private, zeroed memory, or returns
// nil if the kernel refuses (newArray then falls back to the Go heap).
func mapArray(size uintptr) []byte {
	m, err := syscall.Mmap(-1, 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return nil
	}
	return m
}

// unmapArrays releases mappings made by mapArray.
func unmapArrays(ms [][]byte) {
	for _, m := range ms {
		_ = syscall.Munmap(m)
	}
}
