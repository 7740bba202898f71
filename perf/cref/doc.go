// Package cref holds the perf lab's C yardstick, c/cref.c: the gateway's
// established-flow FULLNAT work (classification, the burst's session
// look-ups with prefetching, the session's checks, deadline and counters,
// the rewrite with incremental checksums, one tx burst) written in C on
// DPDK, so that make bench can say how far the Go datapath is from the same
// work in C, and how far that work is from testpmd's macswap. build.sh
// compiles it; the test checks its output packet by packet.
package cref
