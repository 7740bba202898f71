package header

// ICMPv4 message (RFC 792); the first 8 bytes are common to every type:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Type      |     Code      |          Checksum             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                     Rest of header                            |
//	|  echo:            Identifier  |  Sequence Number              |
//	|  frag needed:     unused (0)  |  Next-Hop MTU (RFC 1191)      |
//	|  others:          unused (0)                                  |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Data: echo payload, or for errors the offending IP header    |
//	|        plus at least the first 8 bytes of its payload         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The checksum covers the whole ICMP message (no pseudo-header).

// ICMPv4MinLen is the length of the common ICMPv4 header.
const ICMPv4MinLen = 8

// ICMPv4 message types (RFC 792).
const (
	ICMPv4EchoReply      = 0
	ICMPv4DstUnreachable = 3
	ICMPv4Redirect       = 5
	ICMPv4Echo           = 8
	ICMPv4TimeExceeded   = 11
	ICMPv4ParamProblem   = 12
)

// ICMPv4 codes of Destination Unreachable (RFC 792, RFC 1191).
const (
	ICMPv4NetUnreachable   = 0
	ICMPv4HostUnreachable  = 1
	ICMPv4ProtoUnreachable = 2
	ICMPv4PortUnreachable  = 3
	ICMPv4FragNeeded       = 4
)

// ICMPv4 codes of Time Exceeded (RFC 792).
const (
	ICMPv4TTLExceeded        = 0
	ICMPv4ReassemblyExceeded = 1
)

const (
	icmpType     = 0
	icmpCode     = 1
	icmpChecksum = 2
	icmpRest     = 4
	icmpIdent    = 4
	icmpSeq      = 6
	icmpMTU      = 6
)

// ICMPv4 is a view over an ICMPv4 message. The checksum methods take len(b) as
// the message length: slice the view to the IPv4 payload first.
type ICMPv4 []byte

// IsValid reports whether the first pktLen bytes of b (pktLen <= len(b)) hold at
// least the common 8-byte header.
func (b ICMPv4) IsValid(pktLen int) bool {
	return pktLen >= ICMPv4MinLen && pktLen <= len(b)
}

// IsError reports whether the type is an error message that quotes an
// offending datagram (destination unreachable, redirect, time exceeded,
// parameter problem; RFC 1122 §3.2.2).
func (b ICMPv4) IsError() bool {
	switch b.Type() {
	case ICMPv4DstUnreachable, ICMPv4Redirect, ICMPv4TimeExceeded, ICMPv4ParamProblem:
		return true
	}
	return false
}

// Type returns the message type.
func (b ICMPv4) Type() uint8 { return b[icmpType] }

// Code returns the message code.
func (b ICMPv4) Code() uint8 { return b[icmpCode] }

// Checksum returns the checksum field.
func (b ICMPv4) Checksum() uint16 { return be16(b, icmpChecksum) }

// RestOfHeader returns the type-specific second word.
func (b ICMPv4) RestOfHeader() uint32 { return be32(b, icmpRest) }

// Ident returns the echo identifier.
func (b ICMPv4) Ident() uint16 { return be16(b, icmpIdent) }

// Sequence returns the echo sequence number.
func (b ICMPv4) Sequence() uint16 { return be16(b, icmpSeq) }

// MTU returns the next-hop MTU of a fragmentation-needed message (RFC 1191 §4).
func (b ICMPv4) MTU() uint16 { return be16(b, icmpMTU) }

// Payload returns the bytes after the 8-byte header: the echo data, or the
// quoted datagram of an error.
func (b ICMPv4) Payload() []byte { return b[ICMPv4MinLen:] }

// SetType sets the message type.
func (b ICMPv4) SetType(t uint8) { b[icmpType] = t }

// SetCode sets the message code.
func (b ICMPv4) SetCode(c uint8) { b[icmpCode] = c }

// SetChecksum sets the checksum field.
func (b ICMPv4) SetChecksum(x uint16) { putBE16(b, icmpChecksum, x) }

// SetRestOfHeader sets the type-specific second word.
func (b ICMPv4) SetRestOfHeader(v uint32) { putBE32(b, icmpRest, v) }

// SetIdent sets the echo identifier.
func (b ICMPv4) SetIdent(id uint16) { putBE16(b, icmpIdent, id) }

// SetSequence sets the echo sequence number.
func (b ICMPv4) SetSequence(seq uint16) { putBE16(b, icmpSeq, seq) }

// SetMTU sets the next-hop MTU of a fragmentation-needed message, zeroing the
// unused half of the word (RFC 1191 §4).
func (b ICMPv4) SetMTU(mtu uint16) { b.SetRestOfHeader(uint32(mtu)) }

// CalculateChecksum returns the checksum field value for the message b (len(b)
// bytes), ignoring the current field.
func (b ICMPv4) CalculateChecksum() uint16 {
	return ^Checksum(b[icmpRest:], Checksum(b[:icmpChecksum], 0))
}

// IsChecksumValid reports whether the checksum of the message b verifies.
func (b ICMPv4) IsChecksumValid() bool { return Checksum(b, 0) == 0xffff }

// SetTypeWithChecksumUpdate sets the type and updates the checksum incrementally
// (RFC 1624); the type shares a 16-bit word with the code.
func (b ICMPv4) SetTypeWithChecksumUpdate(t uint8) {
	old := be16(b, icmpType)
	b[icmpType] = t
	b.SetChecksum(ChecksumUpdate16(b.Checksum(), old, be16(b, icmpType)))
}

// SetIdentWithChecksumUpdate sets the echo identifier and updates the checksum
// incrementally (RFC 1624), as NAT does when the identifier plays the role of a
// port (RFC 3022 §4.1).
func (b ICMPv4) SetIdentWithChecksumUpdate(id uint16) {
	b.SetChecksum(ChecksumUpdate16(b.Checksum(), b.Ident(), id))
	b.SetIdent(id)
}
