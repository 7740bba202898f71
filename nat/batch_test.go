package nat

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"fngw/header"
)

// TestProcessBurstMatchesProcess drives two identical cores with the same
// random traffic, one frame at a time through Process and in random chunks
// through ProcessBurst: every verdict, every output byte and the final
// sessions must agree. The traffic is chosen to make the look-ahead's
// candidates go stale inside a burst: a small table that fills, several
// packets of one new flow in a burst, RSTs and FINs that close sessions,
// SYNs that reuse a closed connection's tuple, expiry between bursts that
// frees and reuses session slots, replies to local ports, and malformed and
// non-TCP/UDP frames among them.
func TestProcessBurstMatchesProcess(t *testing.T) {
	for _, ncores := range []int{1, 2} {
		one := newEnv(t, envOpts{sessions: 48, ncores: ncores})
		burst := newEnv(t, envOpts{sessions: 48, ncores: ncores})
		one.to.Set(3*time.Second, 2*time.Second, 2*time.Second)
		burst.to.Set(3*time.Second, 2*time.Second, 2*time.Second)
		r := rand.New(rand.NewPCG(7, uint64(ncores)))
		frames := trafficMix(t, r, 4000)
		var fs []Frame
		seen := map[Action]int{}
		seenDrop := map[DropReason]int{}
		var bufs [][]byte
		for done := 0; done < len(frames); {
			n := min(1+r.IntN(70), len(frames)-done)
			fs, bufs = fs[:0], bufs[:0]
			for i := range n {
				// A truncated frame keeps its lost bytes after it in
				// the buffer, where the look-ahead may read them.
				fr := frames[done+i]
				b := make([]byte, 128+cap(fr)+64)
				copy(b[128:], fr[:cap(fr)])
				bufs = append(bufs, b)
				fs = append(fs, Frame{Buf: b, Off: 128, Len: len(frames[done+i]), L3: header.EthernetLen})
			}
			c := r.IntN(ncores)
			rs := make([]Result, n)
			burst.cores[c].ProcessBurst(fs, rs, burst.svcs, burst.stack, burst.now)
			for i := range n {
				seen[rs[i].Act]++
				seenDrop[rs[i].Reason]++
				want, out := one.runOn(c, frames[done+i])
				got := bufs[i][fs[i].Off : fs[i].Off+fs[i].Len]
				if rs[i] != want || !bytes.Equal(got, out) {
					t.Fatalf("%d cores, frame %d (burst of %d, #%d): ProcessBurst %+v % x\nProcess %+v % x",
						ncores, done+i, n, i, rs[i], got, want, out)
				}
			}
			done += n
			if r.IntN(8) == 0 {
				step := int64(r.IntN(5)) * sec
				one.now += step
				burst.now += step
				for i := range ncores {
					if a, b := one.cores[i].Expire(one.svcs, one.now, 1000), burst.cores[i].Expire(burst.svcs, burst.now, 1000); a != b {
						t.Fatalf("core %d expired %d sessions after Process, %d after ProcessBurst", i, a, b)
					}
				}
			}
		}
		// The mix must have reached every path the look-ahead can go stale on.
		for _, a := range []Action{ActTx, ActDrop, ActNotMine} {
			if seen[a] == 0 {
				t.Errorf("%d cores: no %v verdict in the mix: %v", ncores, a, seen)
			}
		}
		if ncores > 1 && seen[ActRedirect] == 0 {
			t.Errorf("no redirect in the two-core mix: %v", seen)
		}
		for _, d := range []DropReason{ReasonTableFull, ReasonNoSession, ReasonMalformedL3} {
			if seenDrop[d] == 0 {
				t.Errorf("%d cores: no %v drop in the mix: %v", ncores, d, seenDrop)
			}
		}
		for i := range ncores {
			a, b := one.cores[i].AppendSessions(nil, 1000), burst.cores[i].AppendSessions(nil, 1000)
			if len(a) != len(b) {
				t.Fatalf("core %d: %d sessions after Process, %d after ProcessBurst", i, len(a), len(b))
			}
			for j := range a {
				if a[j] != b[j] {
					t.Fatalf("core %d session %d: %+v vs %+v", i, j, a[j], b[j])
				}
			}
		}
	}
}

// runOn is run without the canary checks, for frames that may be malformed.
func (e *env) runOn(c int, b []byte) (Result, []byte) {
	buf := make([]byte, 128+cap(b)+64)
	copy(buf[128:], b[:cap(b)])
	f := Frame{Buf: buf, Off: 128, Len: len(b), L3: header.EthernetLen}
	r := e.cores[c].Process(&f, e.svcs, e.stack, e.now)
	return r, buf[f.Off : f.Off+f.Len]
}

// trafficMix returns n frames over a few dozen client ports: TCP segments with
// every flag combination a connection goes through, UDP datagrams, replies
// from both real servers to the first local ports of both local addresses,
// truncated frames and ICMP errors about the client's connections.
func trafficMix(t testing.TB, r *rand.Rand, n int) [][]byte {
	flags := []header.TCPFlags{fSYN, fSYN, fACK, fPSH | fACK, fFIN | fACK, fRST, fRST | fACK}
	out := make([][]byte, 0, n)
	for range n {
		cport := uint16(40000 + r.IntN(40))
		var b []byte
		switch x := r.IntN(20); {
		case x < 10:
			b = fromClient(cport, flags[r.IntN(len(flags))], 1, 1, "x").frame(t)
		case x < 13:
			b = pkt{srcMAC: routerMAC, dstMAC: gwMAC0, src: cip, dst: vip, ttl: 64, proto: header.IPProtoUDP,
				sport: cport, dport: 9000, payload: []byte("u")}.frame(t)
		case x < 17:
			rs := []header.Addr4{rip1, rip2}[r.IntN(2)]
			la := []header.Addr4{laddr1, laddr2}[r.IntN(2)]
			proto, sport := uint8(header.IPProtoTCP), uint16(8080)
			if r.IntN(3) == 0 {
				proto, sport = header.IPProtoUDP, 9001
			}
			b = pkt{srcMAC: rsMAC1, dstMAC: gwMAC1, src: rs, dst: la, ttl: 64, proto: proto, sport: sport,
				dport: uint16(1024 + r.IntN(24)), flags: flags[2+r.IntN(len(flags)-2)], payload: []byte("r")}.frame(t)
		case x < 19:
			b = fromClient(cport, fACK, 1, 1, "y").frame(t)
			b = b[:header.EthernetLen+20+r.IntN(len(b)-header.EthernetLen-20)] // truncated: bad lengths
		default:
			q := pkt{src: vip, dst: cip, ttl: 60, proto: header.IPProtoTCP, sport: 80, dport: cport, flags: fACK}.l3(t)[:28]
			b = icmpErr{srcMAC: routerMAC, dstMAC: gwMAC0, src: routerIP, dst: vip, ttl: 64,
				typ: header.ICMPv4DstUnreachable, code: header.ICMPv4FragNeeded, mtu: 1400, quoted: q}.frame(t)
		}
		if r.IntN(30) == 0 {
			b[header.EthernetLen+8] = 1 // TTL 1: time exceeded built in place
		}
		out = append(out, b)
	}
	return out
}

// TestLookupHintStale checks LookupHint against candidates that no longer
// name their tuple's session: deleted, and its slot reused by another tuple.
func TestLookupHintStale(t *testing.T) {
	tb, err := NewTable(TableConfig{Capacity: 4, Seed: 5}, 0)
	if err != nil {
		t.Fatal(err)
	}
	a := Tuple4{Src: header.Addr4{1, 1, 1, 1}, Dst: header.Addr4{2, 2, 2, 2}, SPort: 1, DPort: 80, Proto: 6}
	b := a
	b.SPort = 2
	ia, _ := tb.Insert(&a, &Tuple4{}, 1e12)
	cand := tb.Candidate(tb.Hash(&a))
	if cand != ia<<1 {
		t.Fatalf("Candidate(a) = %d, want %d", cand, ia<<1)
	}
	if i, d := tb.LookupHint(&a, tb.Hash(&a), cand); i != ia || d != DirIn {
		t.Fatalf("LookupHint(a, live candidate) = %d,%v", i, d)
	}
	tb.Delete(ia)
	if i, _ := tb.LookupHint(&a, tb.Hash(&a), cand); i != -1 {
		t.Fatalf("LookupHint(a) after Delete = %d: a freed session matched", i)
	}
	ib, _ := tb.Insert(&b, &Tuple4{}, 1e12)
	if ib != ia {
		t.Fatalf("slot not reused (%d, %d): the test needs it", ia, ib)
	}
	if i, _ := tb.LookupHint(&a, tb.Hash(&a), cand); i != -1 {
		t.Fatalf("LookupHint(a) with its slot now b's = %d", i)
	}
	if i, d := tb.LookupHint(&b, tb.Hash(&b), cand); i != ib || d != DirIn {
		t.Fatalf("LookupHint(b, a's old candidate) = %d,%v: must fall back to Lookup", i, d)
	}
}
