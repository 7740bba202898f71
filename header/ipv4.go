package header

import "encoding/binary"

// IPv4 header (RFC 791 §3.1):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Version|  IHL  |Type of Service|          Total Length         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|         Identification        |Flags|      Fragment Offset    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Time to Live |    Protocol   |         Header Checksum       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                       Source Address                          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Destination Address                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Options                    |    Padding    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Flags: bit 0 reserved, bit 1 DF (don't fragment), bit 2 MF (more fragments).
// The fragment offset counts 8-octet units.

const (
	// IPv4MinLen is the length of an IPv4 header without options.
	IPv4MinLen = 20
	// IPv4MaxLen is the longest IPv4 header (IHL 15).
	IPv4MaxLen = 60
	// IPv4Version is the version field value of IPv4.
	IPv4Version = 4
	// IPv4DefaultTTL is the TTL of packets the gateway originates (Linux's
	// net.ipv4.ip_default_ttl).
	IPv4DefaultTTL = 64

	// IPv4FlagDF is the don't-fragment bit in Flags.
	IPv4FlagDF = 0x2
	// IPv4FlagMF is the more-fragments bit in Flags.
	IPv4FlagMF = 0x1
)

// IP protocol numbers (IANA "Assigned Internet Protocol Numbers").
const (
	IPProtoICMP = 1
	IPProtoIPIP = 4
	IPProtoTCP  = 6
	IPProtoUDP  = 17
	IPProtoGRE  = 47
)

const (
	ipVerIHL    = 0
	ipTOS       = 1
	ipTotalLen  = 2
	ipID        = 4
	ipFlagsFrag = 6
	ipTTL       = 8
	ipProto     = 9
	ipChecksum  = 10
	ipSrc       = 12
	ipDst       = 16
)

// IPv4 is a view over an IPv4 packet starting at its header.
type IPv4 []byte

// IsValid reports whether the first pktLen bytes of b (pktLen <= len(b)) hold an
// IPv4 packet whose header fields are consistent: version 4, IHL >= 5, header
// length <= total length <= pktLen. pktLen may exceed the total length (Ethernet
// padding). It does not check the header checksum (IsChecksumValid does). After
// it holds, every accessor including Options and Payload is in bounds.
func (b IPv4) IsValid(pktLen int) bool {
	if pktLen < IPv4MinLen || pktLen > len(b) {
		return false
	}
	hlen, tlen := b.HeaderLength(), int(b.TotalLength())
	return b.Version() == IPv4Version && hlen >= IPv4MinLen && hlen <= tlen && tlen <= pktLen
}

// Version returns the version field.
func (b IPv4) Version() uint8 { return b[ipVerIHL] >> 4 }

// HeaderLength returns the header length in bytes (IHL × 4).
func (b IPv4) HeaderLength() int { return int(b[ipVerIHL]&0xf) * 4 }

// OptionsLength returns the length of the options in bytes (header length − 20).
func (b IPv4) OptionsLength() int { return b.HeaderLength() - IPv4MinLen }

// Options returns the option bytes (empty without options).
func (b IPv4) Options() []byte { return b[IPv4MinLen:b.HeaderLength()] }

// TOS returns the type-of-service (DSCP and ECN) octet.
func (b IPv4) TOS() uint8 { return b[ipTOS] }

// TotalLength returns the total length field (header plus payload).
func (b IPv4) TotalLength() uint16 { return be16(b, ipTotalLen) }

// ID returns the identification field.
func (b IPv4) ID() uint16 { return be16(b, ipID) }

// Flags returns the three flag bits (IPv4FlagDF, IPv4FlagMF).
func (b IPv4) Flags() uint8 { return b[ipFlagsFrag] >> 5 }

// DF reports whether the don't-fragment bit is set.
func (b IPv4) DF() bool { return b.Flags()&IPv4FlagDF != 0 }

// MF reports whether the more-fragments bit is set.
func (b IPv4) MF() bool { return b.Flags()&IPv4FlagMF != 0 }

// FragmentOffset returns the fragment offset in bytes (the field × 8).
func (b IPv4) FragmentOffset() uint16 {
	return be16(b, ipFlagsFrag) << 3
}

// IsFragment reports whether the packet is a fragment (MF set or a nonzero
// offset): its L4 header is absent or incomplete unless it is the first one.
func (b IPv4) IsFragment() bool {
	return be16(b, ipFlagsFrag)&0x3fff != 0
}

// TTL returns the time-to-live field.
func (b IPv4) TTL() uint8 { return b[ipTTL] }

// Protocol returns the protocol field (IPProtoTCP, ...).
func (b IPv4) Protocol() uint8 { return b[ipProto] }

// Checksum returns the header checksum field.
func (b IPv4) Checksum() uint16 { return be16(b, ipChecksum) }

// SourceAddress returns the source address.
func (b IPv4) SourceAddress() Addr4 { return Addr4(b[ipSrc : ipSrc+4]) }

// DestinationAddress returns the destination address.
func (b IPv4) DestinationAddress() Addr4 { return Addr4(b[ipDst : ipDst+4]) }

// Payload returns the bytes after the header up to the total length, excluding
// any link-layer padding. The packet must be IsValid.
func (b IPv4) Payload() []byte { return b[b.HeaderLength():b.TotalLength()] }

// SetHeaderLength sets version 4 and the IHL for a header of hlen bytes (a
// multiple of 4 between 20 and 60).
func (b IPv4) SetHeaderLength(hlen int) { b[ipVerIHL] = IPv4Version<<4 | uint8(hlen/4)&0xf }

// SetTOS sets the type-of-service octet.
func (b IPv4) SetTOS(tos uint8) { b[ipTOS] = tos }

// SetTotalLength sets the total length field.
func (b IPv4) SetTotalLength(n uint16) { putBE16(b, ipTotalLen, n) }

// SetID sets the identification field.
func (b IPv4) SetID(id uint16) { putBE16(b, ipID, id) }

// SetFlagsFragmentOffset sets the flag bits and the fragment offset in bytes
// (a multiple of 8).
func (b IPv4) SetFlagsFragmentOffset(flags uint8, offset uint16) {
	putBE16(b, ipFlagsFrag, uint16(flags&7)<<13|offset>>3)
}

// SetTTL sets the time-to-live field.
func (b IPv4) SetTTL(ttl uint8) { b[ipTTL] = ttl }

// SetProtocol sets the protocol field.
func (b IPv4) SetProtocol(p uint8) { b[ipProto] = p }

// SetChecksum sets the header checksum field.
func (b IPv4) SetChecksum(x uint16) { putBE16(b, ipChecksum, x) }

// SetSourceAddress sets the source address without touching the checksum.
func (b IPv4) SetSourceAddress(a Addr4) { *(*Addr4)(b[ipSrc : ipSrc+4]) = a }

// SetDestinationAddress sets the destination address without touching the checksum.
func (b IPv4) SetDestinationAddress(a Addr4) { *(*Addr4)(b[ipDst : ipDst+4]) = a }

// CalculateChecksum returns the header checksum field value for the header as it
// is, ignoring the current field: the complement of the sum over the header
// with the checksum field taken as zero (RFC 791 §3.1, RFC 1071).
func (b IPv4) CalculateChecksum() uint16 {
	hlen := b.HeaderLength()
	s := Checksum(b[:ipChecksum], 0)
	return ^Checksum(b[ipSrc:hlen], s)
}

// IsChecksumValid reports whether the header checksum verifies.
func (b IPv4) IsChecksumValid() bool {
	if len(b) >= IPv4MinLen && b[ipVerIHL]&0xf == IPv4MinLen/4 {
		// The usual header without options, as five 32-bit words. Read
		// little-endian they sum byte-swapped, which moves no sum in or
		// out of 0xffff. Since 2^16 ≡ 1 (mod 0xffff), the folded sum is
		// acc mod 0xffff, with 0xffff standing for a non-zero multiple:
		// so it verifies when acc is one.
		acc := uint64(binary.LittleEndian.Uint32(b[0:])) + uint64(binary.LittleEndian.Uint32(b[4:])) +
			uint64(binary.LittleEndian.Uint32(b[8:])) + uint64(binary.LittleEndian.Uint32(b[12:])) +
			uint64(binary.LittleEndian.Uint32(b[16:]))
		return acc != 0 && acc%0xffff == 0
	}
	return Checksum(b[:b.HeaderLength()], 0) == 0xffff
}

// SetSourceAddressWithChecksumUpdate sets the source address and updates the
// header checksum incrementally (RFC 1624). The TCP/UDP pseudo-header checksum
// is not touched: see TCP.UpdateChecksumPseudoHeaderAddress.
func (b IPv4) SetSourceAddressWithChecksumUpdate(a Addr4) {
	b.SetChecksum(ChecksumUpdateAddr4(b.Checksum(), b.SourceAddress(), a))
	b.SetSourceAddress(a)
}

// SetDestinationAddressWithChecksumUpdate sets the destination address and
// updates the header checksum incrementally (RFC 1624).
func (b IPv4) SetDestinationAddressWithChecksumUpdate(a Addr4) {
	b.SetChecksum(ChecksumUpdateAddr4(b.Checksum(), b.DestinationAddress(), a))
	b.SetDestinationAddress(a)
}

// DecrementTTLWithChecksumUpdate decrements the TTL by one and updates the
// header checksum incrementally (RFC 1624), as a router does when forwarding
// (RFC 1812 §5.3.1). The caller has checked TTL > 1.
func (b IPv4) DecrementTTLWithChecksumUpdate() {
	old := be16(b, ipTTL)
	b[ipTTL]--
	b.SetChecksum(ChecksumUpdate16(b.Checksum(), old, be16(b, ipTTL)))
}

// IPv4Fields holds the fields Encode writes; the header length is 20 (no options).
type IPv4Fields struct {
	TOS            uint8
	TotalLength    uint16
	ID             uint16
	Flags          uint8
	FragmentOffset uint16 // bytes, multiple of 8
	TTL            uint8
	Protocol       uint8
	Src, Dst       Addr4
}

// Encode writes an option-less 20-byte header from f, checksum included;
// len(b) must be at least IPv4MinLen.
func (b IPv4) Encode(f *IPv4Fields) {
	b.SetHeaderLength(IPv4MinLen)
	b.SetTOS(f.TOS)
	b.SetTotalLength(f.TotalLength)
	b.SetID(f.ID)
	b.SetFlagsFragmentOffset(f.Flags, f.FragmentOffset)
	b.SetTTL(f.TTL)
	b.SetProtocol(f.Protocol)
	b.SetSourceAddress(f.Src)
	b.SetDestinationAddress(f.Dst)
	b.SetChecksum(b.CalculateChecksum())
}
