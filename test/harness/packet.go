package harness

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"fngw/test/pkttest"
)

// MinFrameLen is the minimum Ethernet frame length without the FCS; the
// builders' frames are never shorter (gopacket's Ethernet layer pads them with
// zeros, as a sending NIC does), so the gateway sees padding after short IPv4
// packets and ARP messages.
const MinFrameLen = 60

// BroadcastMAC is ff:ff:ff:ff:ff:ff.
var BroadcastMAC = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// Hosts are the link and network addresses of one direction of a flow, plus
// the IPv4 header fields the builders let a test choose.
type Hosts struct {
	SrcMAC, DstMAC net.HardwareAddr
	Src, Dst       netip.Addr
	TTL            uint8  // 0: 64
	ID             uint16 // IPv4 identification
}

// Reverse returns the hosts of the opposite direction (same TTL and ID).
func (h Hosts) Reverse() Hosts {
	h.SrcMAC, h.DstMAC = h.DstMAC, h.SrcMAC
	h.Src, h.Dst = h.Dst, h.Src
	return h
}

// MustMAC parses a MAC address or panics (for test constants).
func MustMAC(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil || len(m) != 6 {
		panic(fmt.Sprintf("harness: bad MAC %q", s))
	}
	return m
}

func (h Hosts) eth(t layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: h.SrcMAC, DstMAC: h.DstMAC, EthernetType: t}
}

func (h Hosts) ipv4(p layers.IPProtocol) *layers.IPv4 {
	ttl := h.TTL
	if ttl == 0 {
		ttl = 64
	}
	if !h.Src.Is4() || !h.Dst.Is4() {
		panic(fmt.Sprintf("harness: IPv4 frame with addresses %v -> %v", h.Src, h.Dst))
	}
	return &layers.IPv4{Version: 4, IHL: 5, TTL: ttl, Id: h.ID, Flags: layers.IPv4DontFragment,
		Protocol: p, SrcIP: h.Src.AsSlice(), DstIP: h.Dst.AsSlice()}
}

func arp(op uint16, sha net.HardwareAddr, spa netip.Addr, tha net.HardwareAddr, tpa netip.Addr) *layers.ARP {
	return &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
		HwAddressSize: 6, ProtAddressSize: 4, Operation: op,
		SourceHwAddress: sha, SourceProtAddress: spa.AsSlice(),
		DstHwAddress: tha, DstProtAddress: tpa.AsSlice()}
}

// ARPRequest is a broadcast "who-has target tell sender" from mac (RFC 826;
// target hardware address zero).
func ARPRequest(mac net.HardwareAddr, sender, target netip.Addr) []byte {
	eth := &layers.Ethernet{SrcMAC: mac, DstMAC: BroadcastMAC, EthernetType: layers.EthernetTypeARP}
	return pkttest.Serialize(eth, arp(layers.ARPRequest, mac, sender, make(net.HardwareAddr, 6), target))
}

// ARPReply is a unicast "sender is-at mac" to (dstMAC, target).
func ARPReply(mac net.HardwareAddr, sender netip.Addr, dstMAC net.HardwareAddr, target netip.Addr) []byte {
	eth := &layers.Ethernet{SrcMAC: mac, DstMAC: dstMAC, EthernetType: layers.EthernetTypeARP}
	return pkttest.Serialize(eth, arp(layers.ARPReply, mac, sender, dstMAC, target))
}

// ICMPEchoRequest is an ICMP echo request (type 8) with the given identifier,
// sequence number and payload.
func ICMPEchoRequest(h Hosts, id, seq uint16, payload []byte) []byte {
	icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: id, Seq: seq}
	return pkttest.Serialize(h.eth(layers.EthernetTypeIPv4), h.ipv4(layers.IPProtocolICMPv4), icmp, gopacket.Payload(payload))
}

// ICMP types and codes of the errors tests build (RFC 792, RFC 1191).
const (
	ICMPDstUnreachable      = 3
	ICMPTimeExceeded        = 11
	ICMPCodePortUnreachable = 3
	ICMPCodeFragNeeded      = 4
)

// ICMPError is an ICMP error message (RFC 792) of type typ and code whose
// 32-bit field after the checksum is rest (for fragmentation needed, RFC 1191
// puts the next-hop MTU in its low 16 bits) and whose data is quote: the
// offending datagram's IPv4 header and the start of its payload, as the
// reporting host saw it.
func ICMPError(h Hosts, typ, code uint8, rest uint32, quote []byte) []byte {
	icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, code), Id: uint16(rest >> 16), Seq: uint16(rest)}
	return pkttest.Serialize(h.eth(layers.EthernetTypeIPv4), h.ipv4(layers.IPProtocolICMPv4), icmp, gopacket.Payload(quote))
}

// IPv4Packet returns the IPv4 datagram of an untagged Ethernet frame without
// the Ethernet header and padding (a copy).
func IPv4Packet(frame []byte) []byte {
	tl := int(frame[l3+2])<<8 | int(frame[l3+3])
	return append([]byte(nil), frame[l3:l3+tl]...)
}

// WithTTL returns a copy of an IPv4 frame with another TTL, the header
// checksum fixed.
func WithTTL(frame []byte, ttl uint8) []byte {
	b := append([]byte(nil), frame...)
	b[l3+8] = ttl
	return FixIPv4Checksum(b)
}

// WithoutUDPChecksum returns a copy of an IPv4 UDP frame whose UDP checksum
// is 0: "no checksum" (RFC 768), which a gateway must leave at 0.
func WithoutUDPChecksum(frame []byte) []byte {
	b := append([]byte(nil), frame...)
	if b[l3+9] != 17 {
		panic("harness: WithoutUDPChecksum on a frame that is not UDP")
	}
	hl := int(b[l3]&0x0f) * 4
	b[l3+hl+6], b[l3+hl+7] = 0, 0
	return b
}

// TCPFlags are the TCP header flags a builder sets.
type TCPFlags uint8

// TCP flags.
const (
	FIN TCPFlags = 1 << iota
	SYN
	RST
	PSH
	ACK
)

// TCPSeg describes one TCP segment.
type TCPSeg struct {
	SrcPort, DstPort uint16
	Seq, Ack         uint32
	Flags            TCPFlags
	Window           uint16 // 0: 65535
	Payload          []byte
	MSS              uint16             // a SYN's MSS option; 0: 1460
	Options          []layers.TCPOption // after a SYN's MSS option
}

// TCP is an IPv4 TCP segment with correct checksums.
func TCP(h Hosts, s TCPSeg) []byte {
	ip := h.ipv4(layers.IPProtocolTCP)
	win := s.Window
	if win == 0 {
		win = 65535
	}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(s.SrcPort), DstPort: layers.TCPPort(s.DstPort),
		Seq: s.Seq, Ack: s.Ack, Window: win,
		FIN: s.Flags&FIN != 0, SYN: s.Flags&SYN != 0, RST: s.Flags&RST != 0,
		PSH: s.Flags&PSH != 0, ACK: s.Flags&ACK != 0}
	if s.Flags&SYN != 0 {
		// A SYN carries an MSS option, as every real stack sends one.
		mss := s.MSS
		if mss == 0 {
			mss = 1460
		}
		tcp.Options = []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{byte(mss >> 8), byte(mss)}}}
	}
	tcp.Options = append(tcp.Options, s.Options...)
	tcp.SetNetworkLayerForChecksum(ip)
	return pkttest.Serialize(h.eth(layers.EthernetTypeIPv4), ip, tcp, gopacket.Payload(s.Payload))
}

// TCPSyn is a SYN with initial sequence number seq.
func TCPSyn(h Hosts, sport, dport uint16, seq uint32) []byte {
	return TCP(h, TCPSeg{SrcPort: sport, DstPort: dport, Seq: seq, Flags: SYN})
}

// TCPAck is a bare ACK.
func TCPAck(h Hosts, sport, dport uint16, seq, ack uint32) []byte {
	return TCP(h, TCPSeg{SrcPort: sport, DstPort: dport, Seq: seq, Ack: ack, Flags: ACK})
}

// TCPFin is FIN|ACK.
func TCPFin(h Hosts, sport, dport uint16, seq, ack uint32) []byte {
	return TCP(h, TCPSeg{SrcPort: sport, DstPort: dport, Seq: seq, Ack: ack, Flags: FIN | ACK})
}

// TCPData is PSH|ACK carrying payload.
func TCPData(h Hosts, sport, dport uint16, seq, ack uint32, payload []byte) []byte {
	return TCP(h, TCPSeg{SrcPort: sport, DstPort: dport, Seq: seq, Ack: ack, Flags: PSH | ACK, Payload: payload})
}

// UDP is an IPv4 UDP datagram with correct checksums.
func UDP(h Hosts, sport, dport uint16, payload []byte) []byte {
	ip := h.ipv4(layers.IPProtocolUDP)
	udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	udp.SetNetworkLayerForChecksum(ip)
	return pkttest.Serialize(h.eth(layers.EthernetTypeIPv4), ip, udp, gopacket.Payload(payload))
}

// l3 is the offset of the IPv4 header in an untagged Ethernet frame.
const l3 = 14

// CorruptIPv4Checksum returns a copy of an IPv4 frame whose header checksum
// is wrong (bits flipped; everything else unchanged).
func CorruptIPv4Checksum(frame []byte) []byte {
	b := append([]byte(nil), frame...)
	b[l3+10] ^= 0x5a
	b[l3+11] ^= 0xa5
	return b
}

// Truncated returns a copy of frame's first n bytes (no padding added).
func Truncated(frame []byte, n int) []byte {
	return append([]byte(nil), frame[:n]...)
}

// WithEtherType returns a copy of frame with another EtherType.
func WithEtherType(frame []byte, et uint16) []byte {
	b := append([]byte(nil), frame...)
	b[12], b[13] = byte(et>>8), byte(et)
	return b
}

// WithIPv4Protocol returns a copy of frame with the IPv4 protocol number p
// (the header checksum fixed, the payload as it was).
func WithIPv4Protocol(frame []byte, p uint8) []byte {
	b := append([]byte(nil), frame...)
	b[l3+9] = p
	return FixIPv4Checksum(b)
}

// FixIPv4Checksum recomputes the IPv4 header checksum of frame in place
// (after a test changed a header field on purpose) and returns frame.
func FixIPv4Checksum(frame []byte) []byte {
	ip := frame[l3:]
	hl := int(ip[0]&0x0f) * 4
	ip[10], ip[11] = 0, 0
	c := ^fold(sum(ip[:hl], 0))
	ip[10], ip[11] = byte(c>>8), byte(c)
	return frame
}

// WithIPv4TotalLength returns a copy of an IPv4 frame whose total length
// field says n (header checksum fixed, so only the length is wrong).
func WithIPv4TotalLength(frame []byte, n uint16) []byte {
	b := append([]byte(nil), frame...)
	b[l3+2], b[l3+3] = byte(n>>8), byte(n)
	return FixIPv4Checksum(b)
}

// CorruptL4Checksum returns a copy of an IPv4 frame whose TCP, UDP or ICMP
// checksum is wrong (IPv4 header untouched).
func CorruptL4Checksum(frame []byte) []byte {
	b := append([]byte(nil), frame...)
	hl := int(b[l3]&0x0f) * 4
	off := map[byte]int{1: 2, 6: 16, 17: 6}[b[l3+9]]
	if off == 0 && b[l3+9] != 1 {
		panic("harness: CorruptL4Checksum on a frame that is not TCP, UDP or ICMP")
	}
	b[l3+hl+off] ^= 0x5a
	return b
}
