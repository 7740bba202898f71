package header

import (
	"strings"
)

// TCP header (RFC 9293 §3.1, formerly RFC 793):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|          Source Port          |       Destination Port        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                        Sequence Number                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Acknowledgment Number                      |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Data |       |C|E|U|A|P|R|S|F|                               |
//	| Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
//	|       |       |R|E|G|K|H|T|N|N|                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|           Checksum            |         Urgent Pointer        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                           [Options]                           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The checksum covers the pseudo-header (PseudoHeaderChecksum), the header and
// the payload.

const (
	// TCPMinLen is the length of a TCP header without options.
	TCPMinLen = 20
	// TCPMaxLen is the longest TCP header (data offset 15).
	TCPMaxLen = 60
)

// TCPFlags is the flags octet of a TCP header.
type TCPFlags uint8

// TCP flags (RFC 9293 §3.1; CWR and ECE from RFC 3168).
const (
	TCPFlagFIN TCPFlags = 1 << iota
	TCPFlagSYN
	TCPFlagRST
	TCPFlagPSH
	TCPFlagACK
	TCPFlagURG
	TCPFlagECE
	TCPFlagCWR
)

// String returns the set flags in tcpdump order and letters ("S", "S.", "F.",
// "R", "P." ...): F S R P U E W, then "." for ACK; "none" when no flag is set.
func (f TCPFlags) String() string {
	if f == 0 {
		return "none"
	}
	var sb strings.Builder
	for _, x := range [...]struct {
		f TCPFlags
		c byte
	}{{TCPFlagFIN, 'F'}, {TCPFlagSYN, 'S'}, {TCPFlagRST, 'R'}, {TCPFlagPSH, 'P'}, {TCPFlagURG, 'U'}, {TCPFlagECE, 'E'}, {TCPFlagCWR, 'W'}, {TCPFlagACK, '.'}} {
		if f&x.f != 0 {
			sb.WriteByte(x.c)
		}
	}
	return sb.String()
}

const (
	tcpSrcPort  = 0
	tcpDstPort  = 2
	tcpSeq      = 4
	tcpAck      = 8
	tcpDataOff  = 12
	tcpFlags    = 13
	tcpWindow   = 14
	tcpChecksum = 16
	tcpUrgent   = 18
)

// TCP is a view over a TCP segment starting at its header. Methods that cover
// the payload (CalculateChecksum, IsChecksumValid, Payload) take len(b) as the
// segment length: slice the view to the IPv4 payload (IPv4.Payload) first.
type TCP []byte

// IsValid reports whether the first pktLen bytes of b (pktLen <= len(b)) hold a
// TCP header whose data offset is between 20 and pktLen. After it holds, every
// accessor including Options is in bounds.
func (b TCP) IsValid(pktLen int) bool {
	if pktLen < TCPMinLen || pktLen > len(b) {
		return false
	}
	off := b.DataOffset()
	return off >= TCPMinLen && off <= pktLen
}

// SourcePort returns the source port.
func (b TCP) SourcePort() uint16 { return be16(b, tcpSrcPort) }

// DestinationPort returns the destination port.
func (b TCP) DestinationPort() uint16 { return be16(b, tcpDstPort) }

// SequenceNumber returns the sequence number.
func (b TCP) SequenceNumber() uint32 { return be32(b, tcpSeq) }

// AckNumber returns the acknowledgment number.
func (b TCP) AckNumber() uint32 { return be32(b, tcpAck) }

// DataOffset returns the header length in bytes (data offset × 4).
func (b TCP) DataOffset() int { return int(b[tcpDataOff]>>4) * 4 }

// Flags returns the flags octet.
func (b TCP) Flags() TCPFlags { return TCPFlags(b[tcpFlags]) }

// WindowSize returns the (unscaled) window field.
func (b TCP) WindowSize() uint16 { return be16(b, tcpWindow) }

// Checksum returns the checksum field.
func (b TCP) Checksum() uint16 { return be16(b, tcpChecksum) }

// UrgentPointer returns the urgent pointer.
func (b TCP) UrgentPointer() uint16 { return be16(b, tcpUrgent) }

// Options returns the option bytes of the header (empty without options).
func (b TCP) Options() []byte { return b[TCPMinLen:b.DataOffset()] }

// Payload returns the bytes after the header.
func (b TCP) Payload() []byte { return b[b.DataOffset():] }

// SetSourcePort sets the source port without touching the checksum.
func (b TCP) SetSourcePort(p uint16) { putBE16(b, tcpSrcPort, p) }

// SetDestinationPort sets the destination port without touching the checksum.
func (b TCP) SetDestinationPort(p uint16) { putBE16(b, tcpDstPort, p) }

// SetSequenceNumber sets the sequence number without touching the checksum.
func (b TCP) SetSequenceNumber(v uint32) { putBE32(b, tcpSeq, v) }

// SetAckNumber sets the acknowledgment number without touching the checksum.
func (b TCP) SetAckNumber(v uint32) { putBE32(b, tcpAck, v) }

// SetDataOffset sets the header length in bytes (a multiple of 4, 20..60),
// clearing the reserved bits.
func (b TCP) SetDataOffset(n int) { b[tcpDataOff] = uint8(n/4) << 4 }

// SetFlags sets the flags octet.
func (b TCP) SetFlags(f TCPFlags) { b[tcpFlags] = uint8(f) }

// SetWindowSize sets the window field.
func (b TCP) SetWindowSize(w uint16) { putBE16(b, tcpWindow, w) }

// SetChecksum sets the checksum field.
func (b TCP) SetChecksum(x uint16) { putBE16(b, tcpChecksum, x) }

// SetUrgentPointer sets the urgent pointer.
func (b TCP) SetUrgentPointer(p uint16) { putBE16(b, tcpUrgent, p) }

// CalculateChecksum returns the checksum field value for the segment b (header
// and payload, len(b) bytes) sent from src to dst, ignoring the current field.
func (b TCP) CalculateChecksum(src, dst Addr4) uint16 {
	return l4Checksum(b, tcpChecksum, IPProtoTCP, src, dst)
}

// IsChecksumValid reports whether the checksum of the segment b from src to dst
// verifies.
func (b TCP) IsChecksumValid(src, dst Addr4) bool {
	return Checksum(b, PseudoHeaderChecksum(IPProtoTCP, src, dst, uint16(len(b)))) == 0xffff
}

// SetPseudoHeaderChecksum stores the (not complemented) pseudo-header sum for a
// segment of length bytes from src to dst: the value a NIC doing TCP checksum
// offload expects in the field, it then adds the segment and complements.
func (b TCP) SetPseudoHeaderChecksum(src, dst Addr4, length uint16) {
	b.SetChecksum(PseudoHeaderChecksum(IPProtoTCP, src, dst, length))
}

// SetSourcePortWithChecksumUpdate sets the source port and updates the checksum
// incrementally (RFC 1624).
func (b TCP) SetSourcePortWithChecksumUpdate(p uint16) {
	b.SetChecksum(ChecksumUpdate16(b.Checksum(), b.SourcePort(), p))
	b.SetSourcePort(p)
}

// SetDestinationPortWithChecksumUpdate sets the destination port and updates the
// checksum incrementally (RFC 1624).
func (b TCP) SetDestinationPortWithChecksumUpdate(p uint16) {
	b.SetChecksum(ChecksumUpdate16(b.Checksum(), b.DestinationPort(), p))
	b.SetDestinationPort(p)
}

// UpdateChecksumPseudoHeaderAddress updates the checksum for a pseudo-header
// address (source or destination) changing from oldAddr to newAddr (RFC 1624), as
// happens when the IPv4 header's address is rewritten. Only the field changes.
func (b TCP) UpdateChecksumPseudoHeaderAddress(oldAddr, newAddr Addr4) {
	b.SetChecksum(ChecksumUpdateAddr4(b.Checksum(), oldAddr, newAddr))
}

// l4Checksum returns the field value for an L4 segment whose checksum field is at
// offset field: complement of pseudo-header + bytes before the field + bytes
// after it. field is even, so the chaining rule of Checksum holds.
func l4Checksum(b []byte, field int, proto uint8, src, dst Addr4) uint16 {
	s := PseudoHeaderChecksum(proto, src, dst, uint16(len(b)))
	s = Checksum(b[:field], s)
	return ^Checksum(b[field+2:], s)
}
