package prefetch

import (
	"math/rand/v2"
	"testing"
	"unsafe"
)

// TestLines prefetches (Lines, and Line one by one) addresses a datapath can pass: inside a slice, its end,
// past it, nil (a prefetch never faults), none, and changes nothing.
func TestLines(t *testing.T) {
	b := make([]uint64, 1024)
	for i := range b {
		b[i] = uint64(i)
	}
	end := uintptr(unsafe.Pointer(&b[len(b)-1]))
	addrs := []uintptr{uintptr(unsafe.Pointer(&b[0])), uintptr(unsafe.Pointer(&b[512])), end, end + 1<<20, 0}
	Lines(nil)
	Lines(addrs[:1])
	Lines(addrs)
	for _, a := range addrs {
		Line(a)
	}
	for i := range b {
		if b[i] != uint64(i) {
			t.Fatalf("b[%d] = %d after prefetching", i, b[i])
		}
	}
}

// The benchmarks model a burst's session lookups: per packet, a random index
// bucket names a random session, and ~100 dependent instructions of packet
// work follow (enough to fill the out-of-order window, so misses of different
// packets cannot overlap by themselves). Serial does bucket → session → work
// packet by packet; Prefetched first prefetches all 32 buckets (one Lines
// call), then reads them and prefetches all 32 sessions, then does the work. Both tables are 128 MiB,
// written first so that every line is a real page.
const (
	tableLines = 1 << 21 // 64-byte lines
	burst      = 32
	bursts     = 1 << 14
)

type line [8]uint64

type model struct {
	buckets, sessions []line
	keys              []uint32
}

func newModel() *model {
	r := rand.New(rand.NewPCG(1, 2))
	m := &model{buckets: make([]line, tableLines), sessions: make([]line, tableLines), keys: make([]uint32, bursts*burst)}
	for i := range m.buckets {
		m.buckets[i][0] = uint64(r.IntN(tableLines))
		m.sessions[i][0] = uint64(i)
	}
	for i := range m.keys {
		m.keys[i] = uint32(r.IntN(tableLines))
	}
	return m
}

// work stands for the packet's processing after its session is found.
func work(v uint64) uint64 {
	for range 25 {
		v = v*6364136223846793005 + 1442695040888963407
		v ^= v >> 29
	}
	return v
}

var sink uint64

func BenchmarkBurstSerial(b *testing.B) {
	m := newModel()
	b.ResetTimer()
	var s uint64
	for i := range b.N {
		for _, k := range m.keys[(i%bursts)*burst:][:burst] {
			s += work(m.sessions[m.buckets[k][0]][0])
		}
	}
	sink = s
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*burst), "ns/pkt")
}

func BenchmarkBurstPrefetched(b *testing.B) {
	m := newModel()
	var sess [burst]uint64
	var addrs [burst]uintptr
	b.ResetTimer()
	var s uint64
	for i := range b.N {
		keys := m.keys[(i%bursts)*burst:][:burst]
		for j, k := range keys {
			addrs[j] = uintptr(unsafe.Pointer(&m.buckets[k]))
		}
		Lines(addrs[:])
		for j, k := range keys {
			sess[j] = m.buckets[k][0]
			addrs[j] = uintptr(unsafe.Pointer(&m.sessions[sess[j]]))
		}
		Lines(addrs[:])
		for _, x := range sess {
			s += work(m.sessions[x][0])
		}
	}
	sink = s
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*burst), "ns/pkt")
}
