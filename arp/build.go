package arp

import "fngw/header"

// ARPFrameLen is the length of the ARP frames the builders write: the 42 bytes
// of Ethernet and ARP headers zero-padded to the 60-byte Ethernet minimum
// (without FCS), as Linux pads them, so PMDs that do not pad still send a
// legal frame.
const ARPFrameLen = 60

// BuildARPRequest writes an ARP request (RFC 826) from srcMAC/srcIP for target
// into buf and returns its length, ARPFrameLen, or 0 when buf is shorter. dst
// zero means broadcast (resolution); otherwise the request is unicast to dst
// (reconfirming a known neighbour, as Linux's unicast probes do). The target
// hardware address is zero either way.
func BuildARPRequest(buf []byte, srcMAC header.MAC, srcIP, target header.Addr4, dst header.MAC) int {
	if len(buf) < ARPFrameLen {
		return 0
	}
	if dst.IsZero() {
		dst = header.BroadcastMAC
	}
	return buildARP(buf, header.ARPRequest, srcMAC, srcIP, dst, header.MAC{}, target)
}

// BuildGratuitousARP writes a gratuitous ARP announcing ip at mac: a broadcast
// request whose sender and target addresses are both ip (RFC 5227 §3 "ARP
// Announcement"). The caller sends one on a port after adding an address
// there, so neighbours update their caches. It returns ARPFrameLen, or 0 when
// buf is shorter.
func BuildGratuitousARP(buf []byte, mac header.MAC, ip header.Addr4) int {
	if len(buf) < ARPFrameLen {
		return 0
	}
	return buildARP(buf, header.ARPRequest, mac, ip, header.BroadcastMAC, header.MAC{}, ip)
}

func buildARP(buf []byte, op uint16, sha header.MAC, spa header.Addr4, ethDst, tha header.MAC, tpa header.Addr4) int {
	buf = buf[:ARPFrameLen]
	clear(buf)
	e := header.Ethernet(buf)
	e.SetDestination(ethDst)
	e.SetSource(sha)
	e.SetType(header.EtherTypeARP)
	a := header.ARP(buf[header.EthernetLen:])
	a.SetIPv4OverEthernet()
	a.SetOp(op)
	a.SetSenderMAC(sha)
	a.SetSenderIP(spa)
	a.SetTargetMAC(tha)
	a.SetTargetIP(tpa)
	return ARPFrameLen
}

// ICMPError describes an ICMP error message to originate (RFC 792).
type ICMPError struct {
	Type uint8        // header.ICMPv4DstUnreachable or header.ICMPv4TimeExceeded
	Code uint8        // e.g. header.ICMPv4FragNeeded, header.ICMPv4TTLExceeded
	MTU  uint16       // next-hop MTU, for fragmentation needed (RFC 1191 §4); else 0
	Src  header.Addr4 // the gateway's address sending the error (Snapshot.PortAddr)
	ID   uint16       // IPv4 identification of the error datagram
}

// icmpErrorQuote is how much of the offending datagram's payload an error
// quotes: RFC 792 asks for the first 64 bits, enough for the ports of TCP and
// UDP and the identifier of ICMP.
const icmpErrorQuote = 8

// BuildICMPError writes into buf, starting with its IPv4 header, the ICMP error
// e about the offending IPv4 datagram orig (which starts at its IPv4 header),
// addressed to orig's source. It quotes orig's header and the first 8 bytes of
// its payload (RFC 792) and returns the datagram's length; the caller
// prepends the link-layer header and rate-limits the errors it sends
// (TokenBucket, RFC 1812 §4.3.2.8).
//
// It returns 0 — send nothing — when buf is too short, orig is not a valid
// IPv4 datagram, or RFC 1122 §3.2.2 and RFC 1812 §4.3.2.7 forbid an error:
// orig is itself an ICMP error, a non-initial fragment, or was sent to a
// multicast or broadcast address or from an address that is not a unicast
// host.
func BuildICMPError(buf []byte, orig []byte, e *ICMPError) int {
	o := header.IPv4(orig)
	if !o.IsValid(len(orig)) || o.FragmentOffset() != 0 || !hostAddr(o.SourceAddress()) ||
		o.DestinationAddress()[0] >= 224 { // multicast, reserved, limited broadcast
		return 0
	}
	payload := o.Payload()
	if o.Protocol() == header.IPProtoICMP {
		// An ICMP message without a readable type, or an error (or a type
		// this code does not know to be a query), gets no error.
		if len(payload) == 0 || !icmpQuery(payload[0]) {
			return 0
		}
	}
	quote := o.HeaderLength() + min(icmpErrorQuote, len(payload))
	n := header.IPv4MinLen + header.ICMPv4MinLen + quote
	if len(buf) < n {
		return 0
	}
	buf = buf[:n]
	header.IPv4(buf).Encode(&header.IPv4Fields{
		TOS:         0xc0, // precedence "internetwork control" (RFC 1812 §4.3.2.5)
		TotalLength: uint16(n),
		ID:          e.ID,
		TTL:         header.IPv4DefaultTTL,
		Protocol:    header.IPProtoICMP,
		Src:         e.Src,
		Dst:         o.SourceAddress(),
	})
	m := header.ICMPv4(buf[header.IPv4MinLen:])
	m.SetType(e.Type)
	m.SetCode(e.Code)
	m.SetChecksum(0)
	m.SetRestOfHeader(0)
	if e.Type == header.ICMPv4DstUnreachable && e.Code == header.ICMPv4FragNeeded {
		m.SetMTU(e.MTU)
	}
	copy(m.Payload(), orig[:quote])
	m.SetChecksum(m.CalculateChecksum())
	return n
}

// icmpQuery reports whether an ICMP type is a query (echo, timestamp,
// information, address mask, and their replies), to which an error may be
// sent; errors and unknown types get none.
func icmpQuery(t uint8) bool {
	switch t {
	case 0, 8, 13, 14, 15, 16, 17, 18:
		return true
	}
	return false
}
