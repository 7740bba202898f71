package nat

import (
	"math/rand/v2"
	"testing"
	"unsafe"

	"fngw/header"
)

// sessionBudget is the most a Session may take: with the wheel link (8
// bytes) and the index (22.9), under 128 bytes of memory per session (perf
// targets).
const sessionBudget = 96

func TestSessionLayout(t *testing.T) {
	if s := unsafe.Sizeof(Session{}); s > sessionBudget {
		t.Fatalf("Session is %d bytes, over its budget of %d (128 bytes per session in all, see table.go)", s, sessionBudget)
	}
	if s := unsafe.Sizeof(Tuple4{}); s != 16 {
		t.Fatalf("Tuple4 is %d bytes, want 16", s)
	}
	if s := unsafe.Sizeof(seqExt{}); s != 8 {
		t.Fatalf("seqExt (the PROXY protocol's side table) is %d bytes, want 8", s)
	}
}

func TestSessionOutInvariant(t *testing.T) {
	// A packet received in direction d leaves with In(other).Reverse().
	cip, vip := header.Addr4{1, 1, 1, 1}, header.Addr4{2, 2, 2, 2}
	lip, rip := header.Addr4{3, 3, 3, 3}, header.Addr4{4, 4, 4, 4}
	orig := Tuple4{Src: cip, Dst: vip, SPort: 40000, DPort: 80, Proto: 6}
	for _, tc := range []struct {
		name            string
		reply           Tuple4
		wantIn, wantOut Tuple4
	}{
		{"fullnat", Tuple4{Src: rip, Dst: lip, SPort: 8080, DPort: 5000, Proto: 6},
			Tuple4{Src: lip, Dst: rip, SPort: 5000, DPort: 8080, Proto: 6}, Tuple4{Src: vip, Dst: cip, SPort: 80, DPort: 40000, Proto: 6}},
		{"nat", Tuple4{Src: rip, Dst: cip, SPort: 8080, DPort: 40000, Proto: 6},
			Tuple4{Src: cip, Dst: rip, SPort: 40000, DPort: 8080, Proto: 6}, Tuple4{Src: vip, Dst: cip, SPort: 80, DPort: 40000, Proto: 6}},
		{"dr", Tuple4{Src: rip, SPort: 80}, orig, Tuple4{Src: vip, Dst: cip, SPort: 80, DPort: 40000, Proto: 6}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Session{Orig: orig, Reply: tc.reply}
			if got := s.Out(DirIn); got != tc.wantIn {
				t.Errorf("Out(in) = %v, want %v", got, tc.wantIn)
			}
			if got := s.Out(DirOut); got != tc.wantOut {
				t.Errorf("Out(out) = %v, want %v", got, tc.wantOut)
			}
		})
	}
	if got := orig.String(); got != "tcp 1.1.1.1:40000->2.2.2.2:80" {
		t.Fatalf("String = %q", got)
	}
}

// TestComputeDeltasBothDirections: the reply direction's deltas, which
// computeDeltas derives from the forward direction's sums, are what
// tupleDelta computes for that direction on its own, on random tuples and
// on the words at the ends of the range (where a ones'-complement zero has
// two forms).
func TestComputeDeltasBothDirections(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	edge := []uint32{0, 0xffffffff, 0xffff0000, 0x0000ffff}
	pick := func() uint32 {
		if rng.IntN(2) == 0 {
			return edge[rng.IntN(len(edge))]
		}
		return rng.Uint32()
	}
	addr := func() header.Addr4 {
		v := pick()
		return header.Addr4{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
	}
	for i := range 200000 {
		var s Session
		s.Mode = []Mode{ModeFullNAT, ModeNAT}[i%2]
		s.Orig = Tuple4{Src: addr(), Dst: addr(), SPort: uint16(pick()), DPort: uint16(pick()), Proto: header.IPProtoTCP}
		s.Reply = Tuple4{Src: addr(), Dst: addr(), SPort: uint16(pick()), DPort: uint16(pick()), Proto: header.IPProtoTCP}
		s.computeDeltas()
		o, r := &s.Orig, &s.Reply
		in := tupleDelta(o, r.Dst, r.Src, r.DPort, r.SPort, ttlDecDelta)
		out := tupleDelta(r, o.Dst, o.Src, o.DPort, o.SPort, ttlDecDelta)
		if s.delta[DirIn] != in || s.delta[DirOut] != out {
			t.Fatalf("%+v / %+v: deltas %+v, want %+v and %+v", *o, *r, s.delta, in, out)
		}
	}
}
