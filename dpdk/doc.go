// Package dpdk is fngw's thin binding to libdpdk (Debian's DPDK 22.11, pkg-config
// libdpdk). It is the only package in the module with cgo.
//
// Cost rule: C is called once per burst (rx, tx, bulk alloc, bulk free, ring
// enqueue/dequeue), never per packet. Per-packet access to mbuf fields is plain Go
// memory access at offsets asserted against offsetof() when the package initialises,
// and packet bytes are an unsafe.Slice over mbuf memory. Arrays handed to C on every
// burst live in C memory (see Burst), so the runtime's cgo pointer check has nothing
// to scan.
//
// Files:
//
//	mbuf.go, mbuf_unsafe.go  Mbuf: field accessors at fixed offsets (no cgo)
//	layout.go                init-time assertion that those offsets match rte_mbuf
//	cgo.go                   the C preamble: wrappers for DPDK's static inline burst calls
//	eal.go                   EAL init/cleanup, lcores, registering Go threads as lcores
//	mempool.go               packet mbuf pools, bulk alloc and free, usage counts
//	burst_array.go           Burst: an mbuf pointer array (no cgo)
//	burst.go                 NewBurst: a Burst allocated once in C memory
//	ethdev.go                ports: configure queues and RSS, start/stop, MAC, MTU,
//	                         link, promiscuous mode, statistics, rx/tx bursts
//	ring.go                  rte_ring: SP/SC or MP/MC bulk and burst enqueue/dequeue
//
// Without cgo (CGO_ENABLED=0) only the Mbuf accessors build; that lets pure-Go
// packages and their test doubles (package dpdktest) share the Mbuf type.
package dpdk
