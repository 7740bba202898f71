//go:build amd64 || arm64

package prefetch

import "unsafe"

// T0 prefetches the cache line holding p into every cache level (PREFETCHT0 on
// amd64, PRFM PLDL1KEEP on arm64).
//
//go:noescape
func T0(p unsafe.Pointer)
