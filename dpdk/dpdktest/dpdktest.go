// Package dpdktest is a test double for the burst I/O contract of package lcore:
// mbufs laid out exactly like rte_mbuf but in Go memory, a pool that counts what is
// in use (so tests can prove no packet leaks), in-memory rx/tx queues and rings.
// It is for unit tests only; end-to-end tests run the real gw binary on real DPDK
// virtual devices.
package dpdktest

import (
	"encoding/binary"
	"fmt"
	"sync"
	"unsafe"

	"fngw/dpdk"
)

const (
	// Room is each fake mbuf's data room, headroom included, as a default DPDK pool.
	Room     = 2048 + dpdk.DefaultHeadroom
	mbufSize = dpdk.MbufStructSize
)

// Pool hands out fake mbufs and tracks which are in use.
type Pool struct {
	mu     sync.Mutex
	blocks [][]byte // keeps every mbuf's memory alive
	free   []*dpdk.Mbuf
	inUse  map[*dpdk.Mbuf]bool
}

// NewPool makes a pool of n fake mbufs.
func NewPool(n int) *Pool {
	p := &Pool{inUse: make(map[*dpdk.Mbuf]bool)}
	for i := 0; i < n; i++ {
		blk := make([]byte, mbufSize+Room)
		m := (*dpdk.Mbuf)(unsafe.Pointer(&blk[0]))
		*(*unsafe.Pointer)(unsafe.Pointer(&blk[0])) = unsafe.Pointer(&blk[mbufSize])
		binary.NativeEndian.PutUint16(blk[54:], Room) // buf_len
		binary.NativeEndian.PutUint16(blk[20:], 1)    // nb_segs
		p.blocks = append(p.blocks, blk)
		p.free = append(p.free, m)
	}
	return p
}

// Packet takes an mbuf from the pool holding a copy of frame at the default
// headroom, received on port with the given RSS hash.
func (p *Pool) Packet(frame []byte, port uint16, rss uint32) *dpdk.Mbuf {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) == 0 {
		panic("dpdktest: pool exhausted")
	}
	m := p.free[len(p.free)-1]
	p.free = p.free[:len(p.free)-1]
	p.inUse[m] = true
	m.SetData(dpdk.DefaultHeadroom, len(frame))
	copy(m.Data(), frame)
	m.SetPort(port)
	m.SetOlFlags(dpdk.RxRSSHash)
	*(*uint32)(unsafe.Add(unsafe.Pointer(m), 44)) = rss
	return m
}

// InUse is the number of mbufs taken and not freed.
func (p *Pool) InUse() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.inUse)
}

// FreeBulk returns b.Pkts[from:from+n] to the pool; freeing an mbuf that is not in
// use panics (a double free in the code under test).
func (p *Pool) FreeBulk(b *dpdk.Burst, from, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range b.Pkts[from : from+n] {
		p.put(m)
	}
}

func (p *Pool) put(m *dpdk.Mbuf) {
	if !p.inUse[m] {
		panic(fmt.Sprintf("dpdktest: free of mbuf %p that is not in use", m))
	}
	delete(p.inUse, m)
	p.free = append(p.free, m)
}

// Dev is an in-memory set of ports: tests push frames to rx queues and read what
// was transmitted per port. TxLimit, when > 0, caps how many packets one tx burst
// takes (to exercise the caller's handling of a full tx queue).
type Dev struct {
	Pool    *Pool
	TxLimit int

	mu sync.Mutex
	rx map[[2]uint16][]*dpdk.Mbuf
	tx map[uint16][][]byte
}

// NewDev makes a device with a pool of n mbufs.
func NewDev(n int) *Dev {
	return &Dev{Pool: NewPool(n), rx: make(map[[2]uint16][]*dpdk.Mbuf), tx: make(map[uint16][][]byte)}
}

// Push queues frame for reception on (port, queue).
func (d *Dev) Push(port, queue uint16, rss uint32, frame []byte) {
	m := d.Pool.Packet(frame, port, rss)
	d.mu.Lock()
	d.rx[[2]uint16{port, queue}] = append(d.rx[[2]uint16{port, queue}], m)
	d.mu.Unlock()
}

// Pending is the number of frames queued for reception and not yet received.
func (d *Dev) Pending() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, q := range d.rx {
		n += len(q)
	}
	return n
}

// Sent returns and forgets the frames transmitted on port so far.
func (d *Dev) Sent(port uint16) [][]byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.tx[port]
	delete(d.tx, port)
	return s
}

// RxBurst implements the lcore I/O contract.
func (d *Dev) RxBurst(port, q uint16, b *dpdk.Burst) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	k := [2]uint16{port, q}
	n := copy(b.Pkts, d.rx[k])
	d.rx[k] = d.rx[k][n:]
	return n
}

// TxBurst implements the lcore I/O contract: it copies each frame out and frees
// the mbuf, as a NIC does once it has sent it.
func (d *Dev) TxBurst(port, q uint16, b *dpdk.Burst, from, n int) int {
	if d.TxLimit > 0 && n > d.TxLimit {
		n = d.TxLimit
	}
	d.mu.Lock()
	for _, m := range b.Pkts[from : from+n] {
		d.tx[port] = append(d.tx[port], append([]byte(nil), m.Data()...))
	}
	d.mu.Unlock()
	d.Pool.FreeBulk(b, from, n)
	return n
}

// AllocBulk implements the lcore I/O contract: empty mbufs at the default headroom.
func (d *Dev) AllocBulk(b *dpdk.Burst, from, n int) bool {
	d.Pool.mu.Lock()
	short := len(d.Pool.free) < n
	d.Pool.mu.Unlock()
	if short {
		return false
	}
	for i := 0; i < n; i++ {
		b.Pkts[from+i] = d.Pool.Packet(nil, 0, 0)
	}
	return true
}

// FreeBulk implements the lcore I/O contract.
func (d *Dev) FreeBulk(b *dpdk.Burst, from, n int) { d.Pool.FreeBulk(b, from, n) }

// Ring is an in-memory bounded ring with the dpdk.Ring burst methods.
type Ring struct {
	mu   sync.Mutex
	q    []*dpdk.Mbuf
	size int
}

// NewRing makes a ring holding at most size-1 entries, as an rte_ring of size slots.
func NewRing(size int) *Ring { return &Ring{size: size - 1} }

// Enqueue puts b.Pkts[from:from+n] on the ring and returns how many fit.
func (r *Ring) Enqueue(b *dpdk.Burst, from, n int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if room := r.size - len(r.q); n > room {
		n = room
	}
	r.q = append(r.q, b.Pkts[from:from+n]...)
	return n
}

// Dequeue takes up to n entries into b.Pkts[from:].
func (r *Ring) Dequeue(b *dpdk.Burst, from, n int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n = copy(b.Pkts[from:from+n], r.q)
	r.q = r.q[n:]
	return n
}

// Count is the number of entries on the ring.
func (r *Ring) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.q)
}
