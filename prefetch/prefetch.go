// Package prefetch asks the CPU to start loading a cache line that a later step
// will read, so that several cache (and TLB) misses overlap instead of stalling
// one after another: DPDK's rte_prefetch0, which Go has no intrinsic for.
//
// The datapath uses it in three passes over a burst (VPP and DPVS do the same):
// hash every packet's tuple and prefetch its index bucket, read the buckets and
// prefetch the sessions they name, then process the packets, by which time the
// lines are (ideally) in L1. A prefetch never faults and changes no state; on
// architectures without an assembly version T0 does nothing.
//
// T0 is a tiny assembly function, not inlined: a call costs about a nanosecond,
// which is why callers prefetch a whole burst's lines in one pass rather than
// speculatively.
package prefetch
