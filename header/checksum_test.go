package header

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// refSum is the naive RFC 1071 reference: add 16-bit big-endian words (an odd
// trailing byte padded on the right) into a wide accumulator, then fold.
func refSum(b []byte, initial uint16) uint16 {
	acc := uint32(initial)
	for i := 0; i < len(b); i += 2 {
		w := uint32(b[i]) << 8
		if i+1 < len(b) {
			w |= uint32(b[i+1])
		}
		acc += w
	}
	for acc > 0xffff {
		acc = acc>>16 + acc&0xffff
	}
	return uint16(acc)
}

// refField returns the field value a full recompute stores for buf with its
// checksum at offset field (the field's current bytes are ignored).
func refField(buf []byte, field int) uint16 {
	c := append([]byte(nil), buf...)
	c[field], c[field+1] = 0, 0
	return ^refSum(c, 0)
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestChecksumMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 5000; i++ {
		n := r.IntN(300)
		b := randBytes(r, n)
		init := uint16(r.Uint32())
		if got, want := Checksum(b, init), refSum(b, init); got != want {
			t.Fatalf("Checksum(len %d, init %#x) = %#x, reference %#x", n, init, got, want)
		}
	}
	// All-ones input must not overflow the accumulator (64 KiB of 0xff).
	b := make([]byte, 65536)
	for i := range b {
		b[i] = 0xff
	}
	if got, want := Checksum(b, 0xffff), refSum(b, 0xffff); got != want {
		t.Fatalf("all-ones: got %#x want %#x", got, want)
	}
}

func TestChecksumCombineAndChaining(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 2000; i++ {
		n := r.IntN(200)
		b := randBytes(r, n)
		split := r.IntN(n/2+1) * 2 // even split point: only the last piece may be odd
		whole := refSum(b, 0)
		if got := Checksum(b[split:], Checksum(b[:split], 0)); got != whole {
			t.Fatalf("chained len %d split %d: got %#x want %#x", n, split, got, whole)
		}
		if got := ChecksumCombine(Checksum(b[:split], 0), Checksum(b[split:], 0)); got != whole {
			t.Fatalf("combined len %d split %d: got %#x want %#x", n, split, got, whole)
		}
	}
}

func TestPseudoHeaderChecksum(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 1000; i++ {
		var src, dst Addr4
		binary.BigEndian.PutUint32(src[:], r.Uint32())
		binary.BigEndian.PutUint32(dst[:], r.Uint32())
		proto, length := uint8(r.Uint32()), uint16(r.Uint32())
		ph := make([]byte, 12)
		copy(ph[0:4], src[:])
		copy(ph[4:8], dst[:])
		ph[9] = proto
		binary.BigEndian.PutUint16(ph[10:], length)
		if got, want := PseudoHeaderChecksum(proto, src, dst, length), refSum(ph, 0); got != want {
			t.Fatalf("PseudoHeaderChecksum(%d, %v, %v, %d) = %#x, want %#x", proto, src, dst, length, got, want)
		}
	}
}

// TestIncrementalUpdateMatchesRecompute changes random aligned 16-bit words and
// addresses of random buffers (odd lengths included) and checks that the RFC
// 1624 update gives exactly the field a full recompute gives.
func TestIncrementalUpdateMatchesRecompute(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 20000; i++ {
		n := 8 + r.IntN(100)
		b := randBytes(r, n)
		field := 2 * r.IntN(n/2)
		binary.BigEndian.PutUint16(b[field:], refField(b, field))

		// Change a 16-bit word or an address at an aligned position that does
		// not overlap the field.
		size := 2 + 2*r.IntN(2)
		var pos int
		for {
			pos = 2 * r.IntN((n-size)/2+1)
			if pos+size <= field || pos >= field+2 {
				break
			}
		}
		xsum := binary.BigEndian.Uint16(b[field:])
		if size == 2 {
			old, nw := binary.BigEndian.Uint16(b[pos:]), uint16(r.Uint32())
			if r.IntN(8) == 0 {
				nw = old // a no-op update must keep the field
			}
			binary.BigEndian.PutUint16(b[pos:], nw)
			xsum = ChecksumUpdate16(xsum, old, nw)
		} else {
			old := Addr4(b[pos : pos+4])
			nw := Addr4FromUint32(r.Uint32())
			copy(b[pos:], nw[:])
			xsum = ChecksumUpdateAddr4(xsum, old, nw)
		}
		if want := refField(b, field); xsum != want {
			t.Fatalf("iteration %d (len %d field %d pos %d): incremental %#x, recompute %#x", i, n, field, pos, xsum, want)
		}
	}
}

// TestIPv4IsChecksumValid checks the 20-byte fast path and the general one
// against the reference sum: random headers with and without options, each
// with its checksum right, one bit off, or all zero (a sum of zero words
// never verifies).
func TestIPv4IsChecksumValid(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 20000 {
		ihl := 5
		if i%4 == 0 {
			ihl = 5 + r.IntN(11)
		}
		b := randBytes(r, ihl*4+r.IntN(8))
		b[0] = 0x40 | byte(ihl)
		switch i % 3 {
		case 0:
			binary.BigEndian.PutUint16(b[10:], refField(b[:ihl*4], 10))
		case 1:
			binary.BigEndian.PutUint16(b[10:], refField(b[:ihl*4], 10)^1<<r.IntN(16))
		}
		if i%97 == 0 {
			clear(b) // IHL 0 too: no header to sum
		}
		hl := int(b[0]&0xf) * 4
		want := hl > 0 && refSum(b[:hl], 0) == 0xffff
		if got := IPv4(b).IsChecksumValid(); got != want {
			t.Fatalf("header % x: IsChecksumValid %v, reference %v", b, got, want)
		}
	}
}
