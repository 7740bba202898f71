package header

// Ethernet II frame header (IEEE 802.3, RFC 894), optionally with one IEEE
// 802.1Q tag:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                  Destination MAC (6 octets)                   |
//	+                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                               |                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
//	|                    Source MAC (6 octets)                      |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|   EtherType (or 0x8100)       |  [802.1Q: PCP|DEI|  VLAN ID  ]|
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| [802.1Q: inner EtherType]     |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

const (
	// EthernetLen is the length of an untagged Ethernet II header.
	EthernetLen = 14
	// VLANTagLen is the length of one 802.1Q tag (TPID + TCI).
	VLANTagLen = 4
	// EthernetVLANLen is the length of a header with one 802.1Q tag.
	EthernetVLANLen = EthernetLen + VLANTagLen

	// EtherTypeIPv4 is IPv4 (RFC 894).
	EtherTypeIPv4 = 0x0800
	// EtherTypeARP is ARP (RFC 826).
	EtherTypeARP = 0x0806
	// EtherTypeVLAN is the IEEE 802.1Q tag protocol identifier.
	EtherTypeVLAN = 0x8100
	// EtherTypeIPv6 is IPv6 (RFC 2464).
	EtherTypeIPv6 = 0x86dd
)

const (
	ethDst   = 0
	ethSrc   = 6
	ethType  = 12
	vlanTCI  = 14
	vlanType = 16
)

// Ethernet is a view over the bytes of an Ethernet frame starting at its
// destination MAC.
type Ethernet []byte

// IsValid reports whether the header, including the 802.1Q tag when Type is
// EtherTypeVLAN, lies within the first pktLen bytes of e (pktLen <= len(e)).
// Only then may HeaderLen, PayloadType and the VLAN accessors be used; the
// untagged accessors need only len(e) >= EthernetLen.
func (e Ethernet) IsValid(pktLen int) bool {
	if pktLen < EthernetLen || pktLen > len(e) {
		return false
	}
	return e.Type() != EtherTypeVLAN || pktLen >= EthernetVLANLen
}

// Destination returns the destination MAC.
func (e Ethernet) Destination() MAC { return MAC(e[ethDst : ethDst+6]) }

// Source returns the source MAC.
func (e Ethernet) Source() MAC { return MAC(e[ethSrc : ethSrc+6]) }

// Type returns the outer EtherType (EtherTypeVLAN for a tagged frame).
func (e Ethernet) Type() uint16 { return be16(e, ethType) }

// SetDestination sets the destination MAC.
func (e Ethernet) SetDestination(m MAC) { *(*MAC)(e[ethDst : ethDst+6]) = m }

// SetSource sets the source MAC.
func (e Ethernet) SetSource(m MAC) { *(*MAC)(e[ethSrc : ethSrc+6]) = m }

// SetType sets the outer EtherType.
func (e Ethernet) SetType(t uint16) { putBE16(e, ethType, t) }

// HasVLAN reports whether the frame carries an 802.1Q tag.
func (e Ethernet) HasVLAN() bool { return e.Type() == EtherTypeVLAN }

// HeaderLen returns the offset of the L3 header: EthernetLen, or
// EthernetVLANLen for a tagged frame.
func (e Ethernet) HeaderLen() int {
	if e.HasVLAN() {
		return EthernetVLANLen
	}
	return EthernetLen
}

// PayloadType returns the EtherType of the L3 payload, looking past one 802.1Q
// tag. Stacked tags (QinQ) are not decoded: the inner type is returned as is.
func (e Ethernet) PayloadType() uint16 {
	if e.HasVLAN() {
		return be16(e, vlanType)
	}
	return e.Type()
}

// VLANTCI returns the 802.1Q tag control information (PCP, DEI, VLAN ID).
// The frame must have HasVLAN.
func (e Ethernet) VLANTCI() uint16 { return be16(e, vlanTCI) }

// VLANID returns the 12-bit VLAN identifier of the tag. The frame must have HasVLAN.
func (e Ethernet) VLANID() uint16 { return e.VLANTCI() & 0x0fff }

// SetVLAN writes an 802.1Q tag with the given TCI and inner EtherType at bytes
// 12..17; len(e) must be at least EthernetVLANLen. It is the tagged counterpart
// of SetType: the caller has made room for the tag.
func (e Ethernet) SetVLAN(tci, innerType uint16) {
	putBE16(e, ethType, EtherTypeVLAN)
	putBE16(e, vlanTCI, tci)
	putBE16(e, vlanType, innerType)
}
