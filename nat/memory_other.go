//go:build !linux

package nat

// adviseHuge does nothing where madvise(MADV_HUGEPAGE) does not exist.
func adviseHuge([]byte) {}

// mapArray declines: table arrays stay on the Go heap.
func mapArray(uintptr) []byte { return nil }

// unmapArrays has nothing to release.
func unmapArrays([][]byte) {}
