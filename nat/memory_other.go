//go:build !linux

package nat

// adviseHuge does nothing where madvise(MADV_HUGEPAGE) does not exist.
func adviseHuge([]byte) {}
