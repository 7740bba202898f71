//go:build amd64 || arm64

package prefetch

// Lines prefetches the cache line at each address into every cache level
// (PREFETCHT0 on amd64, PRFM PLDL1KEEP on arm64), in one call for a whole
// burst. The addresses are uintptrs so that filling the caller's array needs
// no write barriers; they should point into memory the caller keeps alive (a
// prefetch of anything else is harmless but useless: it never faults).
//
//go:noescape
func Lines(addrs []uintptr)

// Line prefetches the cache line at addr, as Lines does each of its
// addresses, for a caller that has one line to ask for.
//
//go:noescape
func Line(addr uintptr)
