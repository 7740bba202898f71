package harness

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"fngw/test/pkttest"
)

// decodeError is gopacket's decoding failure in the Ethernet, ARP, IPv4,
// ICMP or transport headers. Failures beyond a decoded TCP or UDP header are
// in application payloads that gopacket guesses from the port (DNS on 53...)
// and the gateway never interprets; they are not errors of the frame.
func decodeError(p gopacket.Packet) error {
	el := p.ErrorLayer()
	if el == nil || p.TransportLayer() != nil {
		return nil
	}
	return el.Error()
}

// Check is one assertion about a decoded frame; it returns nil when the frame
// satisfies it and otherwise says what was wrong.
type Check func(p gopacket.Packet) error

// Expect decodes frame and runs every check, returning all failures joined,
// each prefixed with a one-line description of the frame. A frame gopacket
// cannot decode fails regardless of the checks.
func Expect(frame []byte, checks ...Check) error {
	p := pkttest.Decode(frame)
	var errs []error
	if err := decodeError(p); err != nil {
		errs = append(errs, fmt.Errorf("decoding: %v", err))
	}
	for _, c := range checks {
		if err := c(p); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("frame %s:\n  %w", Describe(frame), errors.Join(errs...))
}

// Matches reports whether frame passes every check (for classifying frames).
func Matches(frame []byte, checks ...Check) bool {
	p := pkttest.Decode(frame)
	for _, c := range checks {
		if c(p) != nil {
			return false
		}
	}
	return true
}

func macEq(a, b net.HardwareAddr) bool { return bytes.Equal(a, b) }

func ipEq(b []byte, a netip.Addr) bool {
	x, ok := netip.AddrFromSlice(b)
	return ok && x.Unmap() == a
}

func ipStr(b []byte) string {
	x, ok := netip.AddrFromSlice(b)
	if !ok {
		return fmt.Sprintf("%x", b)
	}
	return x.Unmap().String()
}

// EthSrc checks the Ethernet source address.
func EthSrc(mac net.HardwareAddr) Check {
	return func(p gopacket.Packet) error {
		e, ok := p.LinkLayer().(*layers.Ethernet)
		if !ok {
			return errors.New("no Ethernet header")
		}
		if !macEq(e.SrcMAC, mac) {
			return fmt.Errorf("ethernet source %v, want %v", e.SrcMAC, mac)
		}
		return nil
	}
}

// EthDst checks the Ethernet destination address.
func EthDst(mac net.HardwareAddr) Check {
	return func(p gopacket.Packet) error {
		e, ok := p.LinkLayer().(*layers.Ethernet)
		if !ok {
			return errors.New("no Ethernet header")
		}
		if !macEq(e.DstMAC, mac) {
			return fmt.Errorf("ethernet destination %v, want %v", e.DstMAC, mac)
		}
		return nil
	}
}

// ARP checks an ARP message (Ethernet/IPv4, RFC 826) field by field.
func ARP(op uint16, sha net.HardwareAddr, spa netip.Addr, tha net.HardwareAddr, tpa netip.Addr) Check {
	return func(p gopacket.Packet) error {
		a, ok := p.Layer(layers.LayerTypeARP).(*layers.ARP)
		if !ok {
			return errors.New("not an ARP message")
		}
		var errs []error
		if a.AddrType != layers.LinkTypeEthernet || a.Protocol != layers.EthernetTypeIPv4 ||
			a.HwAddressSize != 6 || a.ProtAddressSize != 4 {
			errs = append(errs, fmt.Errorf("ARP htype %d ptype %#04x hlen %d plen %d, want 1 0x0800 6 4",
				a.AddrType, uint16(a.Protocol), a.HwAddressSize, a.ProtAddressSize))
		}
		if a.Operation != op {
			errs = append(errs, fmt.Errorf("ARP operation %d, want %d", a.Operation, op))
		}
		if !macEq(a.SourceHwAddress, sha) {
			errs = append(errs, fmt.Errorf("ARP sender MAC %v, want %v", net.HardwareAddr(a.SourceHwAddress), sha))
		}
		if !ipEq(a.SourceProtAddress, spa) {
			errs = append(errs, fmt.Errorf("ARP sender IP %s, want %v", ipStr(a.SourceProtAddress), spa))
		}
		if !macEq(a.DstHwAddress, tha) {
			errs = append(errs, fmt.Errorf("ARP target MAC %v, want %v", net.HardwareAddr(a.DstHwAddress), tha))
		}
		if !ipEq(a.DstProtAddress, tpa) {
			errs = append(errs, fmt.Errorf("ARP target IP %s, want %v", ipStr(a.DstProtAddress), tpa))
		}
		return errors.Join(errs...)
	}
}

// IPv4 checks the IPv4 addresses and protocol.
func IPv4(src, dst netip.Addr, proto layers.IPProtocol) Check {
	return func(p gopacket.Packet) error {
		ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		if !ok {
			return errors.New("not IPv4")
		}
		var errs []error
		if !ipEq(ip.SrcIP, src) || !ipEq(ip.DstIP, dst) {
			errs = append(errs, fmt.Errorf("IPv4 %v -> %v, want %v -> %v", ip.SrcIP, ip.DstIP, src, dst))
		}
		if ip.Protocol != proto {
			errs = append(errs, fmt.Errorf("IPv4 protocol %v, want %v", ip.Protocol, proto))
		}
		return errors.Join(errs...)
	}
}

// TTL checks the IPv4 time to live.
func TTL(ttl uint8) Check {
	return func(p gopacket.Packet) error {
		ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		if !ok {
			return errors.New("not IPv4")
		}
		if ip.TTL != ttl {
			return fmt.Errorf("IPv4 TTL %d, want %d", ip.TTL, ttl)
		}
		return nil
	}
}

// ICMPEcho checks an ICMP echo message: type (layers.ICMPv4TypeEchoReply or
// ...Request), code 0, identifier, sequence number and payload.
func ICMPEcho(typ uint8, id, seq uint16, payload []byte) Check {
	return func(p gopacket.Packet) error {
		ic, ok := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
		if !ok {
			return errors.New("not ICMPv4")
		}
		var errs []error
		if ic.TypeCode.Type() != typ || ic.TypeCode.Code() != 0 {
			errs = append(errs, fmt.Errorf("ICMP type %d code %d, want type %d code 0", ic.TypeCode.Type(), ic.TypeCode.Code(), typ))
		}
		if ic.Id != id || ic.Seq != seq {
			errs = append(errs, fmt.Errorf("ICMP echo id %d seq %d, want id %d seq %d", ic.Id, ic.Seq, id, seq))
		}
		if !bytes.Equal(ic.Payload, payload) {
			errs = append(errs, fmt.Errorf("ICMP echo payload %x, want %x", ic.Payload, payload))
		}
		return errors.Join(errs...)
	}
}

// ValidChecksums checks every checksum of the frame (see VerifyChecksums).
func ValidChecksums() Check {
	return func(p gopacket.Packet) error { return VerifyChecksums(p.Data()) }
}

// sum is the 32-bit accumulation of b as big-endian 16-bit words (an odd
// last byte padded with zero), RFC 1071.
func sum(b []byte, acc uint32) uint32 {
	for len(b) >= 2 {
		acc += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint32(b[0]) << 8
	}
	return acc
}

func fold(acc uint32) uint16 {
	for acc>>16 != 0 {
		acc = acc&0xffff + acc>>16
	}
	return uint16(acc)
}

// checksumWithZero is the checksum a sender computes over b with the 16-bit
// field at off zeroed, starting from acc (a pseudo-header sum).
func checksumWithZero(b []byte, off int, acc uint32) uint16 {
	c := append([]byte(nil), b...)
	c[off], c[off+1] = 0, 0
	return ^fold(sum(c, acc))
}

// VerifyChecksums recomputes, independently of both gopacket and the
// gateway's own code, every checksum in an Ethernet frame: the IPv4 header
// checksum, and for an unfragmented datagram the TCP or UDP checksum (with
// the pseudo-header, RFC 793/768) or the ICMP checksum (RFC 792). A UDP
// checksum of zero means none and is accepted. Frames that are not IPv4 have
// no checksum and pass. An IPv4 header inconsistent with the frame is an error.
func VerifyChecksums(frame []byte) error {
	if len(frame) < 14 {
		return fmt.Errorf("frame of %d bytes is shorter than an Ethernet header", len(frame))
	}
	off := 12
	et := binary.BigEndian.Uint16(frame[off:])
	for et == 0x8100 || et == 0x88a8 {
		off += 4
		if len(frame) < off+2 {
			return errors.New("frame cut inside VLAN tags")
		}
		et = binary.BigEndian.Uint16(frame[off:])
	}
	if et != 0x0800 {
		return nil
	}
	ip := frame[off+2:]
	if len(ip) < 20 || ip[0]>>4 != 4 {
		return fmt.Errorf("IPv4 header: %d bytes, version %d", len(ip), ip[0]>>4)
	}
	hl := int(ip[0]&0x0f) * 4
	tl := int(binary.BigEndian.Uint16(ip[2:]))
	if hl < 20 || tl < hl || tl > len(ip) {
		return fmt.Errorf("IPv4 header length %d, total length %d, %d bytes after the Ethernet header", hl, tl, len(ip))
	}
	var errs []error
	if got, want := binary.BigEndian.Uint16(ip[10:]), checksumWithZero(ip[:hl], 10, 0); fold(sum(ip[:hl], 0)) != 0xffff {
		errs = append(errs, fmt.Errorf("IPv4 header checksum %#04x, want %#04x", got, want))
	}
	if frag := binary.BigEndian.Uint16(ip[6:]); frag&0x3fff != 0 {
		return errors.Join(errs...) // a fragment: the L4 checksum covers the whole datagram
	}
	proto, l4 := ip[9], ip[hl:tl]
	pseudo := sum(ip[12:20], uint32(proto)+uint32(len(l4)))
	switch proto {
	case 6: // TCP
		if len(l4) < 20 {
			errs = append(errs, fmt.Errorf("TCP segment of %d bytes", len(l4)))
		} else if fold(sum(l4, pseudo)) != 0xffff {
			errs = append(errs, fmt.Errorf("TCP checksum %#04x, want %#04x",
				binary.BigEndian.Uint16(l4[16:]), checksumWithZero(l4, 16, pseudo)))
		}
	case 17: // UDP
		switch {
		case len(l4) < 8:
			errs = append(errs, fmt.Errorf("UDP datagram of %d bytes", len(l4)))
		case int(binary.BigEndian.Uint16(l4[4:])) != len(l4):
			errs = append(errs, fmt.Errorf("UDP length %d, IPv4 payload %d bytes", binary.BigEndian.Uint16(l4[4:]), len(l4)))
		case binary.BigEndian.Uint16(l4[6:]) == 0:
			// No checksum (RFC 768).
		case fold(sum(l4, pseudo)) != 0xffff:
			want := checksumWithZero(l4, 6, pseudo)
			if want == 0 {
				want = 0xffff
			}
			errs = append(errs, fmt.Errorf("UDP checksum %#04x, want %#04x", binary.BigEndian.Uint16(l4[6:]), want))
		}
	case 1: // ICMP
		if len(l4) < 8 {
			errs = append(errs, fmt.Errorf("ICMP message of %d bytes", len(l4)))
		} else if fold(sum(l4, 0)) != 0xffff {
			errs = append(errs, fmt.Errorf("ICMP checksum %#04x, want %#04x",
				binary.BigEndian.Uint16(l4[2:]), checksumWithZero(l4, 2, 0)))
		}
	}
	return errors.Join(errs...)
}

// Describe is a one-line description of a frame for test messages.
func Describe(frame []byte) string {
	p := pkttest.Decode(frame)
	var parts []string
	if e, ok := p.LinkLayer().(*layers.Ethernet); ok {
		parts = append(parts, fmt.Sprintf("%v > %v %v", e.SrcMAC, e.DstMAC, e.EthernetType))
	}
	if a, ok := p.Layer(layers.LayerTypeARP).(*layers.ARP); ok {
		op := map[uint16]string{layers.ARPRequest: "request", layers.ARPReply: "reply"}[a.Operation]
		parts = append(parts, fmt.Sprintf("ARP %s(%d) sender %v %s target %v %s", op, a.Operation,
			net.HardwareAddr(a.SourceHwAddress), ipStr(a.SourceProtAddress),
			net.HardwareAddr(a.DstHwAddress), ipStr(a.DstProtAddress)))
	}
	if ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4); ok {
		parts = append(parts, fmt.Sprintf("IPv4 %v > %v ttl %d id %d len %d", ip.SrcIP, ip.DstIP, ip.TTL, ip.Id, ip.Length))
	}
	if ic, ok := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4); ok {
		parts = append(parts, fmt.Sprintf("ICMP %v id %d seq %d payload %d bytes", ic.TypeCode, ic.Id, ic.Seq, len(ic.Payload)))
	}
	if t, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP); ok {
		parts = append(parts, fmt.Sprintf("TCP %d > %d seq %d ack %d flags %s payload %d bytes",
			t.SrcPort, t.DstPort, t.Seq, t.Ack, tcpFlags(t), len(t.Payload)))
	}
	if u, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP); ok {
		parts = append(parts, fmt.Sprintf("UDP %d > %d payload %d bytes", u.SrcPort, u.DstPort, len(u.Payload)))
	}
	if err := decodeError(p); err != nil {
		parts = append(parts, "decode error: "+err.Error())
	}
	return fmt.Sprintf("[%d bytes] %s", len(frame), strings.Join(parts, "; "))
}

func tcpFlags(t *layers.TCP) string {
	var s []byte
	for _, f := range []struct {
		on bool
		c  byte
	}{{t.SYN, 'S'}, {t.FIN, 'F'}, {t.RST, 'R'}, {t.PSH, 'P'}, {t.ACK, '.'}} {
		if f.on {
			s = append(s, f.c)
		}
	}
	return string(s)
}

// DescribeAll describes each frame on its own line, numbered.
func DescribeAll(frames [][]byte) string {
	var b strings.Builder
	for i, f := range frames {
		fmt.Fprintf(&b, "  #%d %s\n", i, Describe(f))
	}
	if len(frames) == 0 {
		b.WriteString("  (no frames)\n")
	}
	return b.String()
}
