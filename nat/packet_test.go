package nat

import (
	"bytes"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"fngw/header"
	"fngw/test/pkttest"
)

// Packet builders and checkers for the datapath tests. gopacket builds every
// input and every expected output from scratch (checksums computed in full),
// so a byte-exact match proves the incremental updates; decoding the output
// with gopacket gives readable field-by-field failures.

// pkt describes an Ethernet + IPv4 + TCP/UDP frame.
type pkt struct {
	srcMAC, dstMAC header.MAC
	src, dst       header.Addr4
	ttl            uint8
	id             uint16
	proto          uint8
	sport, dport   uint16
	flags          header.TCPFlags
	seq, ack       uint32
	payload        []byte
	noUDPCsum      bool // send the UDP checksum as zero (none, RFC 768)
	mf             bool // more fragments
	noDF           bool // DF clear (the default sets it)
	tos            uint8
	opts           []layers.TCPOption // TCP options
}

func (p pkt) ipLayer() *layers.IPv4 {
	ip := &layers.IPv4{
		Version: 4, IHL: 5, TTL: p.ttl, Id: p.id, Protocol: layers.IPProtocol(p.proto),
		SrcIP: pkttest.IP(p.src), DstIP: pkttest.IP(p.dst), Flags: layers.IPv4DontFragment, TOS: p.tos,
	}
	if p.noDF {
		ip.Flags = 0
	}
	if p.mf {
		ip.Flags = layers.IPv4MoreFragments
	}
	return ip
}

// l3 returns the IPv4 packet (no Ethernet header).
func (p pkt) l3(t testing.TB) []byte {
	t.Helper()
	ip := p.ipLayer()
	var b []byte
	switch p.proto {
	case header.IPProtoTCP:
		tcp := &layers.TCP{
			SrcPort: layers.TCPPort(p.sport), DstPort: layers.TCPPort(p.dport), Seq: p.seq, Ack: p.ack, Window: 65535,
			FIN: p.flags&header.TCPFlagFIN != 0, SYN: p.flags&header.TCPFlagSYN != 0, RST: p.flags&header.TCPFlagRST != 0,
			PSH: p.flags&header.TCPFlagPSH != 0, ACK: p.flags&header.TCPFlagACK != 0, Options: p.opts,
		}
		if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		b = pkttest.Serialize(ip, tcp, gopacket.Payload(p.payload))
	case header.IPProtoUDP:
		udp := &layers.UDP{SrcPort: layers.UDPPort(p.sport), DstPort: layers.UDPPort(p.dport)}
		if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		b = pkttest.Serialize(ip, udp, gopacket.Payload(p.payload))
		if p.noUDPCsum {
			b[20+6], b[20+7] = 0, 0
		}
	default:
		t.Fatalf("pkt: protocol %d", p.proto)
	}
	return b
}

// frame returns the whole Ethernet frame.
func (p pkt) frame(t testing.TB) []byte {
	t.Helper()
	return withEthernet(p.srcMAC, p.dstMAC, p.l3(t))
}

func withEthernet(src, dst header.MAC, l3 []byte) []byte {
	eth := &layers.Ethernet{SrcMAC: pkttest.MAC(src), DstMAC: pkttest.MAC(dst), EthernetType: layers.EthernetTypeIPv4}
	return pkttest.Serialize(eth, gopacket.Payload(l3))
}

// icmpErr describes an ICMP error frame quoting a packet.
type icmpErr struct {
	srcMAC, dstMAC header.MAC
	src, dst       header.Addr4
	ttl            uint8
	typ, code      uint8
	mtu            uint16
	quoted         []byte // the quoted IPv4 packet (possibly truncated)
}

func (e icmpErr) frame(t testing.TB) []byte {
	t.Helper()
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: e.ttl, Protocol: layers.IPProtocolICMPv4, SrcIP: pkttest.IP(e.src), DstIP: pkttest.IP(e.dst)}
	icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(e.typ, e.code), Seq: e.mtu}
	return withEthernet(e.srcMAC, e.dstMAC, pkttest.Serialize(ip, icmp, gopacket.Payload(e.quoted)))
}

// decoded is a frame decoded by gopacket with its checksums verified.
type decoded struct {
	eth   *layers.Ethernet
	ip    *layers.IPv4 // the outer header of an IPIP packet
	inner *layers.IPv4 // IPIP: the encapsulated header; else nil
	tcp   *layers.TCP
	udp   *layers.UDP
	icmp  *layers.ICMPv4
}

// decode parses b with gopacket and checks every checksum it carries against
// a full recomputation.
func decode(t testing.TB, b []byte) decoded {
	t.Helper()
	p := pkttest.Decode(b)
	if el := p.ErrorLayer(); el != nil {
		t.Fatalf("gopacket cannot decode output: %v\n%s", el.Error(), p.Dump())
	}
	var d decoded
	d.eth, _ = p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	d.ip, _ = p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	d.tcp, _ = p.Layer(layers.LayerTypeTCP).(*layers.TCP)
	d.udp, _ = p.Layer(layers.LayerTypeUDP).(*layers.UDP)
	d.icmp, _ = p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
	if d.eth == nil || d.ip == nil {
		t.Fatalf("output is not Ethernet/IPv4:\n%s", p.Dump())
	}
	l3 := b[header.EthernetLen:]
	if !header.IPv4(l3).IsChecksumValid() {
		t.Errorf("IPv4 header checksum %#04x does not verify", d.ip.Checksum)
	}
	top := d.ip
	if d.ip.Protocol == layers.IPProtocolIPv4 {
		// IPIP: the inner header and what it carries are checked too.
		for _, l := range p.Layers() {
			if ip, ok := l.(*layers.IPv4); ok && ip != d.ip {
				d.inner = ip
				break
			}
		}
		l3 = l3[d.ip.IHL*4 : d.ip.Length]
		if d.inner == nil || !header.IPv4(l3).IsValid(len(l3)) || !header.IPv4(l3).IsChecksumValid() {
			t.Fatalf("IPIP payload is not a valid IPv4 packet:\n%s", p.Dump())
		}
		top = d.inner
	}
	seg := l3[top.IHL*4 : top.Length]
	src, dst := header.Addr4(top.SrcIP.To4()), header.Addr4(top.DstIP.To4())
	switch {
	case d.tcp != nil && !header.TCP(seg).IsChecksumValid(src, dst):
		t.Errorf("TCP checksum %#04x does not verify", d.tcp.Checksum)
	case d.udp != nil && !header.UDP(seg).IsChecksumValid(src, dst):
		t.Errorf("UDP checksum %#04x does not verify", d.udp.Checksum)
	case d.icmp != nil && !header.ICMPv4(seg).IsChecksumValid():
		t.Errorf("ICMP checksum %#04x does not verify", d.icmp.Checksum)
	}
	return d
}

// sameFrame fails unless got equals want byte for byte, showing both decodes.
func sameFrame(t testing.TB, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		g := pkttest.Decode(got)
		w := pkttest.Decode(want)
		t.Fatalf("frame differs\n--- got:\n%s\n--- want:\n%s", g.Dump(), w.Dump())
	}
}
