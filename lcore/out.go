package lcore

import "fngw/dpdk"

// outBuf buffers packets for one way out — a port's tx queue, a ring toward
// another lcore — and hands them over in one call: when the buffer is full
// and at the end of each turn. What the way out does not take is counted
// as dropped and freed. Only the lcore that owns the buffer touches it.
type outBuf struct {
	b *dpdk.Burst
	n int
	// send hands b.Pkts[:n] over and returns how many were taken, in order;
	// the caller keeps the rest.
	send          func(b *dpdk.Burst, n int) int
	sent, dropped *counter
}

// newOutBuf makes a buffer of bufCap packets for send, counting in sent and
// dropped.
func newOutBuf(newBurst func(int) *dpdk.Burst, send func(*dpdk.Burst, int) int, sent, dropped *counter) outBuf {
	return outBuf{b: newBurst(bufCap), send: send, sent: sent, dropped: dropped}
}

// put queues m, flushing first when the buffer is full.
func (q *outBuf) put(m *dpdk.Mbuf, io IO) {
	if q.n == bufCap {
		q.flush(io)
	}
	q.b.Pkts[q.n] = m
	q.n++
}

// flush hands the buffered packets over, if any, and frees, through io,
// those not taken.
func (q *outBuf) flush(io IO) {
	if q.n == 0 {
		return
	}
	k := q.send(q.b, q.n)
	q.sent.add(uint64(k))
	if k < q.n {
		q.dropped.add(uint64(q.n - k))
		io.FreeBulk(q.b, k, q.n-k)
	}
	q.n = 0
}
