package nat

import (
	"encoding/binary"

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
// a session is created (or decoded), never per packet.
func (s *Session) computeDeltas() {
	for d := DirIn; d <= DirOut; d++ {
		if d == DirOut && s.Reply.Proto == 0 {
			s.delta[d] = csumDelta{}
			if s.Mode == ModeTUN && !s.Reply.Dst.IsZero() {
				s.delta[d].ip = tunnel.FixedSum(s.Reply.Dst, s.Reply.Src)
			}
			continue
		}
		in, out := s.In(d), s.Out(d)
		var acc uint32
		acc = addrTerm(acc, in.Src, out.Src)
		acc = addrTerm(acc, in.Dst, out.Dst)
		ip := acc
		acc += uint32(^in.SPort) + uint32(out.SPort)
		acc += uint32(^in.DPort) + uint32(out.DPort)
		if s.Mode != ModeDR {
			ip += ttlDecDelta
		}
		s.delta[d] = csumDelta{ip: fold32(ip), l4: fold32(acc)}
	}
}

// addrTerm adds ~old + new for both 16-bit words of an IPv4 address.
func addrTerm(acc uint32, old, new header.Addr4) uint32 {
	acc += uint32(^binary.BigEndian.Uint16(old[0:2])) + uint32(binary.BigEndian.Uint16(new[0:2]))
	acc += uint32(^binary.BigEndian.Uint16(old[2:4])) + uint32(binary.BigEndian.Uint16(new[2:4]))
	return acc
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
