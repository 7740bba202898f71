// Package lcore runs the gateway's poll-mode loops: one worker per worker lcore and
// one control lcore.
//
// A worker is a goroutine locked to an OS thread pinned to one CPU. Each turn of its
// loop it loads the published configuration once (State, through an atomic
// pointer), receives a burst from each of its (port, queue) pairs, prefetches the
// burst's headers, classifies every packet (L2/L3 checks here), hands the burst's
// IPv4 packets to load balancing at once (nat.Core.ProcessBurst, which looks all
// their sessions up, with prefetching, before processing any), and collects the
// packets by verdict: per-port tx buffers, the redirect rings toward other workers,
// the ring to the control lcore, and one bulk free. Then it drains the rings other
// cores fill for it (replies redirected to their session's owner, balanced as a burst
// the same way; packets the control lcore wants sent), flushes every buffer with one
// burst call each, and expires sessions. It never blocks, takes no lock and allocates nothing per packet.
//
// The control lcore owns the user-space stack (package arp): it answers ARP and ICMP
// echo for owned addresses, resolves next hops for packets workers could not send,
// sends gratuitous ARP, and runs control-plane functions handed to it, so a flood of
// ARP or ICMP cannot stall forwarding and the stack has a single writer.
//
// I/O goes through the small burst contracts in io.go (one call per burst): the
// production implementation is dpdk.EthIO and dpdk.Ring; unit tests use package
// dpdktest. The package itself has no cgo.
//
// Files:
//
//	io.go        burst I/O contracts (IO, Ring)
//	datapath.go  Build: the one wiring of cores, workers, rings and the control
//	             lcore, from a Plan (the gateway, the perf lab and tests use it)
//	out.go       outBuf: a buffer toward one way out, flushed in one call
//	counter.go   per-core counters and drop reasons; snapshots for the control plane
//	gap.go       the poll-gap histogram: the time between the starts of two turns,
//	             in power-of-two buckets, and its reset on the worker's thread
//	worker.go    the worker: loop, classification, verdict buffers, flushing
//	control.go   the control lcore: ARP, ICMP echo, next-hop resolution, injected tx
//	pin.go       locking a goroutine to a thread pinned to one CPU
//
// worker_bench_test.go benchmarks Worker.Poll per path over an allocation-free
// in-memory port and proves 0 allocations per poll (see perf/README.md).
package lcore
