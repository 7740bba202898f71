package header

import "encoding/binary"

// Internet checksum (RFC 1071) and its incremental update (RFC 1624).
//
// Two forms of a checksum appear below and the names say which one a function
// takes:
//
//   - a "sum" is the 16-bit ones-complement sum of the covered data, not
//     complemented (what Checksum returns);
//   - a "field" or "xsum" is the value stored in a header's checksum field, the
//     complement of the sum computed with the field itself set to zero.
//
// So a header is written with SetChecksum(^Checksum(hdr, 0)) after zeroing the
// field, and it verifies when Checksum over it (field included) is 0xffff.

// Checksum returns the ones-complement sum (RFC 1071) of buf added to initial.
// An odd trailing byte is padded with a zero on its right, so when chaining calls
// (Checksum(b, Checksum(a, 0))) only the last buffer may have an odd length.
func Checksum(buf []byte, initial uint16) uint16 {
	acc := uint64(initial)
	for len(buf) >= 16 {
		acc += uint64(binary.BigEndian.Uint32(buf[0:4]))
		acc += uint64(binary.BigEndian.Uint32(buf[4:8]))
		acc += uint64(binary.BigEndian.Uint32(buf[8:12]))
		acc += uint64(binary.BigEndian.Uint32(buf[12:16]))
		buf = buf[16:]
	}
	for len(buf) >= 4 {
		acc += uint64(binary.BigEndian.Uint32(buf))
		buf = buf[4:]
	}
	if len(buf) >= 2 {
		acc += uint64(binary.BigEndian.Uint16(buf))
		buf = buf[2:]
	}
	if len(buf) == 1 {
		acc += uint64(buf[0]) << 8
	}
	return fold64(acc)
}

// fold64 folds a wide accumulator of 16-bit (or 32-bit big-endian) words into a
// 16-bit ones-complement sum with end-around carries.
func fold64(acc uint64) uint16 {
	acc = (acc >> 32) + (acc & 0xffffffff)
	acc = (acc >> 32) + (acc & 0xffffffff)
	acc = (acc >> 16) + (acc & 0xffff)
	acc = (acc >> 16) + (acc & 0xffff)
	acc = (acc >> 16) + (acc & 0xffff)
	return uint16(acc)
}

// ChecksumCombine returns the ones-complement sum of two sums (RFC 1071 §2(B):
// the sum can be computed in pieces and combined).
func ChecksumCombine(a, b uint16) uint16 {
	v := uint32(a) + uint32(b)
	return uint16(v + v>>16)
}

// PseudoHeaderChecksum returns the sum of the TCP/UDP IPv4 pseudo-header (RFC 793
// §3.1, RFC 768): source and destination address, zero, protocol and the L4
// length (header plus payload). It is a sum, not complemented.
func PseudoHeaderChecksum(proto uint8, src, dst Addr4, length uint16) uint16 {
	acc := uint64(binary.BigEndian.Uint32(src[:])) +
		uint64(binary.BigEndian.Uint32(dst[:])) +
		uint64(proto) + uint64(length)
	return fold64(acc)
}

// ChecksumUpdate16 returns the checksum field value after a 16-bit-aligned
// 16-bit word covered by it changes from oldWord to newWord, computed by RFC 1624
// eqn. 3: HC' = ~(~HC + ~m + m'). xsum is the field as stored in the header.
// The result equals what a full recompute would store (unless every covered
// word becomes zero, which no IPv4, TCP, UDP or ICMP header allows).
func ChecksumUpdate16(xsum, oldWord, newWord uint16) uint16 {
	return ^ChecksumCombine(ChecksumCombine(^xsum, ^oldWord), newWord)
}

// ChecksumUpdateAddr4 is ChecksumUpdate16 for a 16-bit-aligned IPv4 address
// changing from oldAddr to newAddr (two words at once).
func ChecksumUpdateAddr4(xsum uint16, oldAddr, newAddr Addr4) uint16 {
	acc := uint64(^xsum) +
		uint64(^binary.BigEndian.Uint16(oldAddr[0:2])) + uint64(^binary.BigEndian.Uint16(oldAddr[2:4])) +
		uint64(binary.BigEndian.Uint16(newAddr[0:2])) + uint64(binary.BigEndian.Uint16(newAddr[2:4]))
	return ^fold64(acc)
}
