package header

// ARP packet for IPv4 over Ethernet (RFC 826):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|      Hardware type (1)        |     Protocol type (0x0800)    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  HW len (6)   | Proto len (4) |   Opcode (1 request, 2 reply) |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|               Sender hardware address (6 octets)              |
//	+                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                               |  Sender protocol address      |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
//	|                               |                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
//	|               Target hardware address (6 octets)              |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                  Target protocol address                      |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

const (
	// ARPLen is the length of an ARP packet for IPv4 over Ethernet.
	ARPLen = 28

	// ARPRequest is the ares_op$REQUEST opcode.
	ARPRequest = 1
	// ARPReply is the ares_op$REPLY opcode.
	ARPReply = 2

	// ARPHardwareEthernet is the ares_hrd$Ethernet hardware type.
	ARPHardwareEthernet = 1
)

const (
	arpHType = 0
	arpPType = 2
	arpHLen  = 4
	arpPLen  = 5
	arpOp    = 6
	arpSHA   = 8
	arpSPA   = 14
	arpTHA   = 18
	arpTPA   = 24
)

// ARP is a view over an ARP packet (the payload of an EtherTypeARP frame).
type ARP []byte

// IsValid reports whether the first pktLen bytes of a (pktLen <= len(a)) hold a
// complete ARP packet for IPv4 over Ethernet: hardware type 1, protocol type
// 0x0800, address lengths 6 and 4. Other ARP variants are not ours to answer.
func (a ARP) IsValid(pktLen int) bool {
	return pktLen >= ARPLen && pktLen <= len(a) &&
		be16(a, arpHType) == ARPHardwareEthernet &&
		be16(a, arpPType) == EtherTypeIPv4 &&
		a[arpHLen] == 6 && a[arpPLen] == 4
}

// SetIPv4OverEthernet writes the fixed fields (hardware and protocol types and
// lengths) of an IPv4-over-Ethernet ARP packet.
func (a ARP) SetIPv4OverEthernet() {
	putBE16(a, arpHType, ARPHardwareEthernet)
	putBE16(a, arpPType, EtherTypeIPv4)
	a[arpHLen] = 6
	a[arpPLen] = 4
}

// Op returns the opcode (ARPRequest, ARPReply, ...).
func (a ARP) Op() uint16 { return be16(a, arpOp) }

// SenderMAC returns the sender hardware address.
func (a ARP) SenderMAC() MAC { return MAC(a[arpSHA : arpSHA+6]) }

// SenderIP returns the sender protocol address.
func (a ARP) SenderIP() Addr4 { return Addr4(a[arpSPA : arpSPA+4]) }

// TargetMAC returns the target hardware address.
func (a ARP) TargetMAC() MAC { return MAC(a[arpTHA : arpTHA+6]) }

// TargetIP returns the target protocol address.
func (a ARP) TargetIP() Addr4 { return Addr4(a[arpTPA : arpTPA+4]) }

// SetOp sets the opcode.
func (a ARP) SetOp(op uint16) { putBE16(a, arpOp, op) }

// SetSenderMAC sets the sender hardware address.
func (a ARP) SetSenderMAC(m MAC) { *(*MAC)(a[arpSHA : arpSHA+6]) = m }

// SetSenderIP sets the sender protocol address.
func (a ARP) SetSenderIP(ip Addr4) { *(*Addr4)(a[arpSPA : arpSPA+4]) = ip }

// SetTargetMAC sets the target hardware address.
func (a ARP) SetTargetMAC(m MAC) { *(*MAC)(a[arpTHA : arpTHA+6]) = m }

// SetTargetIP sets the target protocol address.
func (a ARP) SetTargetIP(ip Addr4) { *(*Addr4)(a[arpTPA : arpTPA+4]) = ip }
