// Package worker holds benchmarks of fngw's worker loop on real DPDK ports:
// net_pcap vdevs replaying perf/gen pcaps from memory (infinite_rx), the
// gateway's own Worker.Run pinned to a CPU and registered as an lcore, the
// transmitted packets dropped by the PMD. They report packets per second,
// allocations and cgo calls per packet, next to a bare rx→tx loop in Go on
// the same port (the floor of any Go forwarder there).
//
// It is a package of tests only (worker_test.go, which uses cgo through
// package dpdk); this file exists so that the package builds without cgo.
// The tests need root (the EAL) and skip otherwise.
//
//	go test -run '^$' -bench . -benchmem ./perf/worker/
package worker
