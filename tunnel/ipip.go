package tunnel

import (
	"encoding/binary"

	"fngw/header"
)

// IPIP encapsulation (RFC 2003): the packet to deliver, starting at its IPv4
// header, follows an outer IPv4 header of protocol 4:
//
//	+---------------------------+
//	|      Outer IP Header      |  20 bytes, written by Encap
//	+---------------------------+
//	|      Inner IP Header      |  the received packet, TTL decremented
//	+---------------------------+  by the caller when it forwards it
//	|         IP Payload        |
//	+---------------------------+
//
// Outer header fields (RFC 2003 §3.1), as LVS's ip_vs_tunnel_xmit writes them
// except the TTL:
//
//	version/IHL  4/5, no options
//	TOS          copied from the inner header
//	total length 20 + the inner total length
//	ID           the caller's: 0 for an inner packet with DF (an atomic
//	             datagram, RFC 6864 §4.1, as Linux sends them), otherwise a
//	             per-sender counter
//	flags/offset DF copied from the inner header; never MF, offset 0
//	TTL          64: RFC 2003 leaves it to the encapsulator ("appropriate
//	             for delivery to the tunnel exit point"); LVS copies the
//	             inner TTL instead
//	protocol     4 (IP in IP)
//	source       the tunnel entry (the gateway's address on the egress port)
//	destination  the tunnel exit (the real server)

// IPIPLen is the number of bytes IPIP encapsulation adds: one option-less
// IPv4 header. The egress MTU available to inner packets is the port's MTU
// minus IPIPLen.
const IPIPLen = header.IPv4MinLen

// verIHL is the first byte of an option-less IPv4 header: version 4, IHL 5.
const verIHL = header.IPv4Version<<4 | header.IPv4MinLen/4

// OuterTTL is the TTL of outer IPIP headers: the default TTL of packets the
// gateway originates.
const OuterTTL = header.IPv4DefaultTTL

// IPIP is one tunnel's outer-header template: its two ends and the checksum
// sum of the header words that do not change from packet to packet. It is a
// small comparable value (12 bytes) a caller keeps per tunnel or per session;
// build it with NewIPIP.
type IPIP struct {
	Src, Dst header.Addr4
	// Sum is FixedSum(Src, Dst), kept with the template so that Encap
	// adds only the four per-packet words. A caller that stores Src, Dst
	// and Sum elsewhere may rebuild the value as a literal.
	Sum uint16
}

// NewIPIP returns the template of the tunnel from src (the entry, whose
// address becomes the outer source) to dst (the exit).
func NewIPIP(src, dst header.Addr4) IPIP {
	return IPIP{Src: src, Dst: dst, Sum: FixedSum(src, dst)}
}

// FixedSum returns the ones-complement sum (not complemented, see package
// header) of the outer header words that are the same in every packet of the
// tunnel src → dst: version/IHL with a zero TOS, TTL/protocol and both
// addresses. The per-packet words (TOS, total length, ID, flags) are added by
// Encap.
func FixedSum(src, dst header.Addr4) uint16 {
	acc := uint32(verIHL)<<8 + uint32(OuterTTL)<<8 + header.IPProtoIPIP
	acc += uint32(binary.BigEndian.Uint16(src[0:2])) + uint32(binary.BigEndian.Uint16(src[2:4]))
	acc += uint32(binary.BigEndian.Uint16(dst[0:2])) + uint32(binary.BigEndian.Uint16(dst[2:4]))
	return fold(acc)
}

// Encap wraps a frame's IPv4 packet in the tunnel's outer header, in place,
// and returns the frame's new offset and length in buf: off-IPIPLen and
// l3+IPIPLen+the inner total length.
//
// The frame is buf[off:off+n]; its link-layer header is its first l3 bytes
// and the inner packet starts at l3. Encap moves the link-layer header
// IPIPLen bytes toward the start of buf (into the headroom) unchanged, so the
// caller rewrites its addresses afterwards as for any forwarded frame, and
// writes the outer header between it and the inner packet. Bytes after the
// inner packet's total length (Ethernet padding) are left out of the new
// frame. id is the outer identification (see the field list above).
//
// The caller owns buf and has checked: off >= IPIPLen, the inner packet is a
// valid IPv4 packet (header.IPv4.IsValid) within buf[off+l3:off+n], and the
// new length fits its egress MTU. Encap does not read the inner checksum and
// never allocates.
func (t *IPIP) Encap(buf []byte, off, n, l3 int, id uint16) (newOff, newLen int) {
	inner := header.IPv4(buf[off+l3 : off+n])
	tos := inner.TOS()
	df := inner[6] & 0x40 // the DF bit in the flags byte, offset kept 0
	total := IPIPLen + int(inner.TotalLength())

	newOff = off - IPIPLen
	copy(buf[newOff:newOff+l3], buf[off:off+l3])
	o := buf[newOff+l3 : newOff+l3+IPIPLen]
	acc := uint32(t.Sum) + uint32(tos) + uint32(total) + uint32(id) + uint32(df)<<8
	o[0] = verIHL
	o[1] = tos
	binary.BigEndian.PutUint16(o[2:], uint16(total))
	binary.BigEndian.PutUint16(o[4:], id)
	o[6], o[7] = df, 0
	o[8], o[9] = OuterTTL, header.IPProtoIPIP
	binary.BigEndian.PutUint16(o[10:], ^fold(acc))
	copy(o[12:16], t.Src[:])
	copy(o[16:20], t.Dst[:])
	return newOff, l3 + total
}

// Decap returns the inner packet of an IPIP packet that starts at its outer
// IPv4 header, sliced to the inner total length, and the outer header. ok is
// false unless the outer header is valid, its checksum verifies, its protocol
// is 4, it is not a fragment (RFC 2003 §5: a decapsulator reassembles first)
// and a valid inner IPv4 packet follows. It never allocates; the returned
// slices alias pkt.
func Decap(pkt []byte) (inner, outer header.IPv4, ok bool) {
	outer = header.IPv4(pkt)
	if !outer.IsValid(len(pkt)) || !outer.IsChecksumValid() || outer.Protocol() != header.IPProtoIPIP || outer.IsFragment() {
		return nil, nil, false
	}
	in := header.IPv4(outer.Payload())
	if !in.IsValid(len(in)) {
		return nil, nil, false
	}
	return in[:in.TotalLength()], outer[:outer.HeaderLength()], true
}

// fold folds a 32-bit accumulator of 16-bit words into a ones-complement
// sum with end-around carry.
func fold(acc uint32) uint16 {
	acc = acc>>16 + acc&0xffff
	acc = acc>>16 + acc&0xffff
	return uint16(acc)
}
