package header

// UDP header (RFC 768):
//
//	 0      7 8     15 16    23 24    31
//	+--------+--------+--------+--------+
//	|     Source      |   Destination   |
//	|      Port       |      Port       |
//	+--------+--------+--------+--------+
//	|                 |                 |
//	|     Length      |    Checksum     |
//	+--------+--------+--------+--------+
//
// Over IPv4 a zero checksum means "not computed" (RFC 768); a computed checksum
// of zero is sent as 0xffff. The incremental updates below keep a zero checksum
// zero and never produce a zero from a nonzero one.

// UDPLen is the length of a UDP header.
const UDPLen = 8

const (
	udpSrcPort  = 0
	udpDstPort  = 2
	udpLength   = 4
	udpChecksum = 6
)

// UDP is a view over a UDP datagram starting at its header. Methods that cover
// the payload (CalculateChecksum, IsChecksumValid, Payload) take len(b) as the
// datagram length: slice the view to the IPv4 payload (IPv4.Payload) first.
type UDP []byte

// IsValid reports whether the first pktLen bytes of b (pktLen <= len(b)) hold a
// UDP header whose length field is between 8 and pktLen.
func (b UDP) IsValid(pktLen int) bool {
	if pktLen < UDPLen || pktLen > len(b) {
		return false
	}
	n := int(b.Length())
	return n >= UDPLen && n <= pktLen
}

// SourcePort returns the source port.
func (b UDP) SourcePort() uint16 { return be16(b, udpSrcPort) }

// DestinationPort returns the destination port.
func (b UDP) DestinationPort() uint16 { return be16(b, udpDstPort) }

// Length returns the length field (header plus payload).
func (b UDP) Length() uint16 { return be16(b, udpLength) }

// Checksum returns the checksum field (0: none).
func (b UDP) Checksum() uint16 { return be16(b, udpChecksum) }

// Payload returns the bytes after the header, up to the length field. The
// datagram must be IsValid.
func (b UDP) Payload() []byte { return b[UDPLen:b.Length()] }

// SetSourcePort sets the source port without touching the checksum.
func (b UDP) SetSourcePort(p uint16) { putBE16(b, udpSrcPort, p) }

// SetDestinationPort sets the destination port without touching the checksum.
func (b UDP) SetDestinationPort(p uint16) { putBE16(b, udpDstPort, p) }

// SetLength sets the length field.
func (b UDP) SetLength(n uint16) { putBE16(b, udpLength, n) }

// SetChecksum sets the checksum field.
func (b UDP) SetChecksum(x uint16) { putBE16(b, udpChecksum, x) }

// CalculateChecksum returns the checksum field value for the datagram b (len(b)
// bytes) sent from src to dst, ignoring the current field; a computed zero is
// returned as 0xffff (RFC 768).
func (b UDP) CalculateChecksum(src, dst Addr4) uint16 {
	x := l4Checksum(b, udpChecksum, IPProtoUDP, src, dst)
	if x == 0 {
		return 0xffff
	}
	return x
}

// IsChecksumValid reports whether the checksum of the datagram b from src to dst
// verifies; a zero (absent) checksum is valid.
func (b UDP) IsChecksumValid(src, dst Addr4) bool {
	return b.Checksum() == 0 ||
		Checksum(b, PseudoHeaderChecksum(IPProtoUDP, src, dst, uint16(len(b)))) == 0xffff
}

// SetPseudoHeaderChecksum stores the (not complemented) pseudo-header sum for a
// datagram of length bytes from src to dst, for NIC checksum offload.
func (b UDP) SetPseudoHeaderChecksum(src, dst Addr4, length uint16) {
	b.SetChecksum(PseudoHeaderChecksum(IPProtoUDP, src, dst, length))
}

// setUpdatedChecksum stores an incrementally updated checksum, sending a
// computed zero as 0xffff (RFC 768).
func (b UDP) setUpdatedChecksum(x uint16) {
	if x == 0 {
		x = 0xffff
	}
	b.SetChecksum(x)
}

// SetSourcePortWithChecksumUpdate sets the source port and updates a present
// checksum incrementally (RFC 1624); a zero checksum stays zero.
func (b UDP) SetSourcePortWithChecksumUpdate(p uint16) {
	if x := b.Checksum(); x != 0 {
		b.setUpdatedChecksum(ChecksumUpdate16(x, b.SourcePort(), p))
	}
	b.SetSourcePort(p)
}

// SetDestinationPortWithChecksumUpdate sets the destination port and updates a
// present checksum incrementally (RFC 1624); a zero checksum stays zero.
func (b UDP) SetDestinationPortWithChecksumUpdate(p uint16) {
	if x := b.Checksum(); x != 0 {
		b.setUpdatedChecksum(ChecksumUpdate16(x, b.DestinationPort(), p))
	}
	b.SetDestinationPort(p)
}

// UpdateChecksumPseudoHeaderAddress updates a present checksum for a
// pseudo-header address changing from oldAddr to newAddr (RFC 1624); a zero
// checksum stays zero.
func (b UDP) UpdateChecksumPseudoHeaderAddress(oldAddr, newAddr Addr4) {
	if x := b.Checksum(); x != 0 {
		b.setUpdatedChecksum(ChecksumUpdateAddr4(x, oldAddr, newAddr))
	}
}
