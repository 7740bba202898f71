// Package prefetch asks the CPU to start loading a cache line that a later step
// will read, so that several cache (and TLB) misses overlap instead of stalling
// one after another: DPDK's rte_prefetch0, which Go has no intrinsic for.
//
// The datapath uses it in three passes over a burst (VPP and DPVS do the same):
// hash every packet's tuple and prefetch its index bucket, read the buckets and
// prefetch the sessions they name, then process the packets, by which time the
// lines are (ideally) in L1. A new flow prefetches the index bucket of its
// reply tuple (Line) as soon as its local port is chosen, and sets the session
// up while it loads. A prefetch never faults and changes no state; on
// architectures without an assembly version Lines and Line do nothing.
//
// Lines is a small assembly loop over an array of addresses: Go cannot inline
// assembly, so a burst's lines are prefetched in one call, not one call each.
// Measured on the lab VM, issuing a burst's prefetches together beat spreading
// them one per packet ahead of use (a software pipeline a few packets deep):
// the batch keeps more misses in flight.
package prefetch
