package lcore

import "fngw/dpdk"

// IO moves bursts of packets through ports. Every method is one call per burst.
// Implementations: dpdk.EthIO (with a pool), dpdktest.Dev.
type IO interface {
	// RxBurst fills b.Pkts from the start with up to len(b.Pkts) packets received on
	// (port, queue) and returns how many.
	RxBurst(port, queue uint16, b *dpdk.Burst) int
	// TxBurst hands b.Pkts[from:from+n] to (port, queue) and returns how many were
	// taken; the caller still owns the rest.
	TxBurst(port, queue uint16, b *dpdk.Burst, from, n int) int
	// FreeBulk frees b.Pkts[from:from+n].
	FreeBulk(b *dpdk.Burst, from, n int)
	// AllocBulk fills b.Pkts[from:from+n] with fresh mbufs, all or nothing.
	AllocBulk(b *dpdk.Burst, from, n int) bool
}

// Ring carries mbufs from one lcore to another (dpdk.Ring, dpdktest.Ring).
type Ring interface {
	Enqueue(b *dpdk.Burst, from, n int) int
	Dequeue(b *dpdk.Burst, from, n int) int
	Count() int
}
