package nat

import (
	"fngw/header"
	"fngw/tunnel"
)

// csumDelta holds, for one receive direction of a session, the precomputed
// RFC 1624 eqn. 3 term Σ(~m + m') of every 16-bit word the rewrite changes, so
// a packet's checksums are updated with one add each: field' = ~(~field + Δ).
//
// A TUN session has no reply direction; its delta[DirOut].ip holds instead
// the sum of its outer IPIP header's fixed words (tunnel.FixedSum), derived
// from the tuples like the deltas (see Session.tunnel).
type csumDelta struct {
	ip uint16 // IPv4 header: both addresses and, when forwarding, the TTL decrement
	l4 uint16 // TCP/UDP: pseudo-header addresses and both ports
}

// ttlDecDelta is ~m + m' for the TTL/protocol word when TTL drops by one:
// m' = m - 0x0100, so ~m + m' = 0xffff - 0x0100 whatever m is.
const ttlDecDelta = 0xfeff

// computeDeltas fills s.delta from the tuples and the mode. Called once when
// a session is created (or decoded), never per packet. Received in direction
// d, a packet arrives with tuple s.In(d) and leaves with s.Out(d); the terms
// are read from the tuples in place (Out's reversed copies cost more than the
// sums).
func (s *Session) computeDeltas() {
	o, r := &s.Orig, &s.Reply
	ttl := uint32(ttlDecDelta)
	if s.Mode == ModeDR {
		ttl = 0
	}
	if r.Proto == 0 {
		// Out(DirIn) is Orig itself: only the TTL changes.
		s.delta[DirIn] = tupleDelta(o, o.Src, o.Dst, o.SPort, o.DPort, ttl)
		s.delta[DirOut] = csumDelta{}
		if s.Mode == ModeTUN && !r.Dst.IsZero() {
			s.delta[DirOut].ip = tunnel.FixedSum(r.Dst, r.Src)
		}
		return
	}
	// Both directions from one pass over the words: a word's term received
	// in one direction, ~x + y, and its counterpart in the other, ~y + x,
	// add up to 2·0xffff, so the reply direction's sums are the forward
	// ones' complements to 2·0xffff per word (the same integers
	// tupleDelta(r, o.Dst, o.Src, o.DPort, o.SPort, ttl) adds up).
	a := addrTerm(addrTerm(0, o.Src, r.Dst), o.Dst, r.Src)
	p := uint32(^o.SPort) + uint32(r.DPort) + uint32(^o.DPort) + uint32(r.SPort)
	s.delta[DirIn] = csumDelta{ip: fold32(a + ttl), l4: fold32(a + p)}
	ra, rp := 2*4*0xffff-a, 2*2*0xffff-p // four address words, two port words
	s.delta[DirOut] = csumDelta{ip: fold32(ra + ttl), l4: fold32(ra + rp)}
}

// tupleDelta is the delta of a packet arriving with tuple in and leaving
// with the addresses and ports given; ttl is the TTL word's term.
func tupleDelta(in *Tuple4, src, dst header.Addr4, sport, dport uint16, ttl uint32) csumDelta {
	acc := addrTerm(0, in.Src, src)
	acc = addrTerm(acc, in.Dst, dst)
	ip := acc + ttl
	acc += uint32(^in.SPort) + uint32(sport)
	acc += uint32(^in.DPort) + uint32(dport)
	return csumDelta{ip: fold32(ip), l4: fold32(acc)}
}

// addrTerm adds ~old + new for both 16-bit words of an IPv4 address.
func addrTerm(acc uint32, old, new header.Addr4) uint32 {
	a, b := old.Uint32(), new.Uint32()
	return acc + uint32(^uint16(a>>16)) + uint32(^uint16(a)) + b>>16 + b&0xffff
}

// fold32 folds a 32-bit accumulator of 16-bit words into a ones-complement
// sum with end-around carry.
func fold32(acc uint32) uint16 {
	acc = acc>>16 + acc&0xffff
	acc = acc>>16 + acc&0xffff
	return uint16(acc)
}

// applyDelta returns the checksum field after adding delta to what it covers.
func applyDelta(field, delta uint16) uint16 {
	return ^fold32(uint32(^field) + uint32(delta))
}
