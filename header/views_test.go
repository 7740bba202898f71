package header

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"fngw/test/pkttest"
)

func randAddr(r *rand.Rand) Addr4 { return Addr4FromUint32(r.Uint32()) }

func randMAC(r *rand.Rand) MAC {
	var m MAC
	for i := range m {
		m[i] = byte(r.Uint32())
	}
	return m
}

// randIPv4 returns a gopacket IPv4 layer with random fields and 0..40 bytes of
// options (NOPs and a record-route-like option).
func randIPv4(r *rand.Rand, proto layers.IPProtocol) *layers.IPv4 {
	ip := &layers.IPv4{
		Version: 4, TOS: uint8(r.Uint32()), Id: uint16(r.Uint32()),
		Flags:      layers.IPv4Flag(r.IntN(4)),
		FragOffset: 0, TTL: uint8(r.Uint32()), Protocol: proto,
		SrcIP: net.IP(randAddr(r).Netip().AsSlice()), DstIP: net.IP(randAddr(r).Netip().AsSlice()),
	}
	if n := r.IntN(11); n > 0 {
		data := randBytes(r, 4*n-2)
		ip.Options = []layers.IPv4Option{{OptionType: 7, OptionLength: uint8(len(data) + 2), OptionData: data}}
	}
	return ip
}

func TestIPv4TCPAgainstGopacket(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for i := 0; i < 300; i++ {
		eth := &layers.Ethernet{SrcMAC: pkttest.MAC(randMAC(r)), DstMAC: pkttest.MAC(randMAC(r)), EthernetType: layers.EthernetTypeIPv4}
		ip := randIPv4(r, layers.IPProtocolTCP)
		tcp := &layers.TCP{
			SrcPort: layers.TCPPort(r.Uint32()), DstPort: layers.TCPPort(r.Uint32()),
			Seq: r.Uint32(), Ack: r.Uint32(), Window: uint16(r.Uint32()), Urgent: uint16(r.Uint32()),
			SYN: r.IntN(2) == 0, ACK: r.IntN(2) == 0, FIN: r.IntN(2) == 0, RST: r.IntN(2) == 0,
			PSH: r.IntN(2) == 0, URG: r.IntN(2) == 0, ECE: r.IntN(2) == 0, CWR: r.IntN(2) == 0,
		}
		if r.IntN(2) == 0 {
			tcp.Options = []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{5, 0xb4}}}
		}
		if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		payload := randBytes(r, r.IntN(100)) // odd lengths too
		pkt := pkttest.Serialize(eth, ip, tcp, gopacket.Payload(payload))

		e := Ethernet(pkt)
		if !e.IsValid(len(pkt)) || e.Source() != MAC(eth.SrcMAC) || e.Destination() != MAC(eth.DstMAC) ||
			e.Type() != EtherTypeIPv4 || e.HasVLAN() || e.HeaderLen() != EthernetLen || e.PayloadType() != EtherTypeIPv4 {
			t.Fatalf("Ethernet view disagrees with gopacket: % x", pkt[:14])
		}
		v := IPv4(pkt[EthernetLen:])
		if !v.IsValid(len(v)) {
			t.Fatalf("IPv4 not valid: % x", v)
		}
		if v.Version() != 4 || v.HeaderLength() != int(ip.IHL)*4 || v.OptionsLength() != int(ip.IHL)*4-20 ||
			!bytes.Equal(v.Options(), pkt[EthernetLen+20:EthernetLen+int(ip.IHL)*4]) ||
			v.TOS() != ip.TOS || v.TotalLength() != ip.Length || v.ID() != ip.Id ||
			v.Flags() != uint8(ip.Flags) || v.DF() != (ip.Flags&layers.IPv4DontFragment != 0) ||
			v.MF() != (ip.Flags&layers.IPv4MoreFragments != 0) || v.FragmentOffset() != ip.FragOffset*8 ||
			v.TTL() != ip.TTL || v.Protocol() != IPProtoTCP || v.Checksum() != ip.Checksum ||
			v.SourceAddress() != Addr4(ip.SrcIP.To4()) || v.DestinationAddress() != Addr4(ip.DstIP.To4()) {
			t.Fatalf("IPv4 view disagrees with gopacket %+v", ip)
		}
		if !v.IsChecksumValid() || v.CalculateChecksum() != ip.Checksum {
			t.Fatalf("IPv4 checksum: view %#x, gopacket %#x", v.CalculateChecksum(), ip.Checksum)
		}
		seg := TCP(v.Payload())
		if !seg.IsValid(len(seg)) {
			t.Fatalf("TCP not valid")
		}
		wantFlags := TCPFlags(pkt[EthernetLen+v.HeaderLength()+13])
		if seg.SourcePort() != uint16(tcp.SrcPort) || seg.DestinationPort() != uint16(tcp.DstPort) ||
			seg.SequenceNumber() != tcp.Seq || seg.AckNumber() != tcp.Ack || seg.DataOffset() != int(tcp.DataOffset)*4 ||
			seg.Flags() != wantFlags || seg.Flags()&TCPFlagSYN != 0 != tcp.SYN || seg.Flags()&TCPFlagACK != 0 != tcp.ACK ||
			seg.Flags()&TCPFlagFIN != 0 != tcp.FIN || seg.Flags()&TCPFlagRST != 0 != tcp.RST ||
			seg.Flags()&TCPFlagPSH != 0 != tcp.PSH || seg.Flags()&TCPFlagURG != 0 != tcp.URG ||
			seg.WindowSize() != tcp.Window || seg.Checksum() != tcp.Checksum || seg.UrgentPointer() != tcp.Urgent ||
			!bytes.Equal(seg.Payload(), payload) || len(seg.Options()) != int(tcp.DataOffset)*4-20 {
			t.Fatalf("TCP view disagrees with gopacket %+v", tcp)
		}
		src, dst := v.SourceAddress(), v.DestinationAddress()
		if !seg.IsChecksumValid(src, dst) || seg.CalculateChecksum(src, dst) != tcp.Checksum {
			t.Fatalf("TCP checksum: view %#x, gopacket %#x", seg.CalculateChecksum(src, dst), tcp.Checksum)
		}
	}
}

func TestIPv4UDPAgainstGopacket(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	for i := 0; i < 300; i++ {
		ip := randIPv4(r, layers.IPProtocolUDP)
		udp := &layers.UDP{SrcPort: layers.UDPPort(r.Uint32()), DstPort: layers.UDPPort(r.Uint32())}
		if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		payload := randBytes(r, r.IntN(100))
		pkt := pkttest.Serialize(ip, udp, gopacket.Payload(payload))
		// Ethernet-like trailing padding must not confuse the views.
		pkt = append(pkt, 0, 0, 0, 0)
		v := IPv4(pkt)
		if !v.IsValid(len(pkt)) || int(v.TotalLength()) != len(pkt)-4 {
			t.Fatalf("IPv4 not valid or wrong length")
		}
		d := UDP(v.Payload())
		if !d.IsValid(len(d)) || d.SourcePort() != uint16(udp.SrcPort) || d.DestinationPort() != uint16(udp.DstPort) ||
			d.Length() != udp.Length || d.Checksum() != udp.Checksum || !bytes.Equal(d.Payload(), payload) {
			t.Fatalf("UDP view disagrees with gopacket %+v", udp)
		}
		src, dst := v.SourceAddress(), v.DestinationAddress()
		if !d.IsChecksumValid(src, dst) || d.CalculateChecksum(src, dst) != udp.Checksum {
			t.Fatalf("UDP checksum: view %#x, gopacket %#x", d.CalculateChecksum(src, dst), udp.Checksum)
		}
	}
}

func TestVLANICMPAgainstGopacket(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	for i := 0; i < 100; i++ {
		eth := &layers.Ethernet{SrcMAC: pkttest.MAC(randMAC(r)), DstMAC: pkttest.MAC(randMAC(r)), EthernetType: layers.EthernetTypeDot1Q}
		vlan := &layers.Dot1Q{Priority: uint8(r.IntN(8)), VLANIdentifier: uint16(r.IntN(4096)), Type: layers.EthernetTypeIPv4}
		ip := randIPv4(r, layers.IPProtocolICMPv4)
		icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(uint8(r.IntN(20)), uint8(r.IntN(16))), Id: uint16(r.Uint32()), Seq: uint16(r.Uint32())}
		payload := randBytes(r, r.IntN(64))
		pkt := pkttest.Serialize(eth, vlan, ip, icmp, gopacket.Payload(payload))

		e := Ethernet(pkt)
		tci := uint16(vlan.Priority)<<13 | vlan.VLANIdentifier
		if !e.IsValid(len(pkt)) || !e.HasVLAN() || e.HeaderLen() != EthernetVLANLen ||
			e.PayloadType() != EtherTypeIPv4 || e.VLANID() != vlan.VLANIdentifier || e.VLANTCI() != tci {
			t.Fatalf("VLAN view disagrees with gopacket %+v", vlan)
		}
		v := IPv4(pkt[e.HeaderLen():])
		if !v.IsValid(len(v)) || v.Protocol() != IPProtoICMP {
			t.Fatal("IPv4 not valid")
		}
		m := ICMPv4(v.Payload())
		if !m.IsValid(len(m)) || m.Type() != icmp.TypeCode.Type() || m.Code() != icmp.TypeCode.Code() ||
			m.Ident() != icmp.Id || m.Sequence() != icmp.Seq || m.MTU() != icmp.Seq ||
			m.RestOfHeader() != uint32(icmp.Id)<<16|uint32(icmp.Seq) ||
			m.Checksum() != icmp.Checksum || !bytes.Equal(m.Payload(), payload) {
			t.Fatalf("ICMPv4 view disagrees with gopacket %+v", icmp)
		}
		if !m.IsChecksumValid() || m.CalculateChecksum() != icmp.Checksum {
			t.Fatalf("ICMP checksum: view %#x, gopacket %#x", m.CalculateChecksum(), icmp.Checksum)
		}
	}
}

func TestARPAgainstGopacket(t *testing.T) {
	r := rand.New(rand.NewPCG(27, 28))
	for i := 0; i < 100; i++ {
		sha, tha, spa, tpa := randMAC(r), randMAC(r), randAddr(r), randAddr(r)
		a := &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
			HwAddressSize: 6, ProtAddressSize: 4, Operation: uint16(1 + r.IntN(2)),
			SourceHwAddress: sha[:], SourceProtAddress: spa[:], DstHwAddress: tha[:], DstProtAddress: tpa[:]}
		pkt := pkttest.Serialize(a)
		v := ARP(pkt)
		if !v.IsValid(len(pkt)) || v.Op() != a.Operation || v.SenderMAC() != sha || v.SenderIP() != spa ||
			v.TargetMAC() != tha || v.TargetIP() != tpa {
			t.Fatalf("ARP view disagrees with gopacket %+v", a)
		}
		// And the other way: a packet written by the view decodes to the same.
		w := make(ARP, ARPLen)
		w.SetIPv4OverEthernet()
		w.SetOp(a.Operation)
		w.SetSenderMAC(sha)
		w.SetSenderIP(spa)
		w.SetTargetMAC(tha)
		w.SetTargetIP(tpa)
		if !bytes.Equal(w, pkt) {
			t.Fatalf("view-built ARP\n% x\ngopacket\n% x", []byte(w), pkt)
		}
	}
	bad := pkttest.Serialize(&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv6,
		HwAddressSize: 6, ProtAddressSize: 16, Operation: 1,
		SourceHwAddress: make([]byte, 6), SourceProtAddress: make([]byte, 16), DstHwAddress: make([]byte, 6), DstProtAddress: make([]byte, 16)})
	if ARP(bad).IsValid(len(bad)) {
		t.Fatal("ARP for a non-IPv4 protocol must not be valid")
	}
}

// TestViewsBuildDecodedByGopacket writes packets with the setters and checks
// that gopacket decodes the same fields and that gopacket's own checksum
// computation agrees with ours.
func TestViewsBuildDecodedByGopacket(t *testing.T) {
	r := rand.New(rand.NewPCG(29, 30))
	for i := 0; i < 200; i++ {
		payload := randBytes(r, r.IntN(50))
		pkt := make([]byte, EthernetVLANLen+IPv4MinLen+TCPMinLen+len(payload))
		e := Ethernet(pkt)
		dmac, smac := randMAC(r), randMAC(r)
		e.SetDestination(dmac)
		e.SetSource(smac)
		vid := uint16(r.IntN(4096))
		e.SetVLAN(vid, EtherTypeIPv4)
		f := IPv4Fields{TOS: uint8(r.Uint32()), TotalLength: uint16(IPv4MinLen + TCPMinLen + len(payload)), ID: uint16(r.Uint32()),
			Flags: IPv4FlagDF, FragmentOffset: 0, TTL: uint8(1 + r.IntN(255)), Protocol: IPProtoTCP, Src: randAddr(r), Dst: randAddr(r)}
		ip := IPv4(pkt[EthernetVLANLen:])
		ip.Encode(&f)
		tcp := TCP(ip[IPv4MinLen:])
		tcp.SetSourcePort(uint16(r.Uint32()))
		tcp.SetDestinationPort(uint16(r.Uint32()))
		tcp.SetSequenceNumber(r.Uint32())
		tcp.SetAckNumber(r.Uint32())
		tcp.SetDataOffset(TCPMinLen)
		tcp.SetFlags(TCPFlagSYN | TCPFlagACK)
		tcp.SetWindowSize(uint16(r.Uint32()))
		tcp.SetUrgentPointer(uint16(r.Uint32()))
		copy(tcp.Payload(), payload)
		tcp.SetChecksum(tcp.CalculateChecksum(f.Src, f.Dst))

		p := pkttest.Decode(pkt)
		ge, _ := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
		gv, _ := p.Layer(layers.LayerTypeDot1Q).(*layers.Dot1Q)
		gi, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		gt, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if ge == nil || gv == nil || gi == nil || gt == nil {
			t.Fatalf("gopacket could not decode: %v", p)
		}
		if MAC(ge.DstMAC) != dmac || MAC(ge.SrcMAC) != smac || gv.VLANIdentifier != vid ||
			gi.TOS != f.TOS || gi.Length != f.TotalLength || gi.Id != f.ID || gi.Flags != layers.IPv4DontFragment ||
			gi.TTL != f.TTL || Addr4(gi.SrcIP.To4()) != f.Src || Addr4(gi.DstIP.To4()) != f.Dst ||
			!gt.SYN || !gt.ACK || gt.FIN || uint16(gt.SrcPort) != tcp.SourcePort() || gt.Seq != tcp.SequenceNumber() ||
			!bytes.Equal(gt.Payload, payload) {
			t.Fatalf("gopacket decodes different fields: %v", p)
		}
		// Re-serialize with gopacket computing checksums: they must match ours.
		if err := gt.SetNetworkLayerForChecksum(gi); err != nil {
			t.Fatal(err)
		}
		again := pkttest.Serialize(gi, gt, gopacket.Payload(payload))
		if binary.BigEndian.Uint16(again[10:]) != ip.Checksum() || binary.BigEndian.Uint16(again[IPv4MinLen+16:]) != tcp.Checksum() {
			t.Fatalf("checksums differ from gopacket's: ip %#x/%#x tcp %#x/%#x",
				ip.Checksum(), binary.BigEndian.Uint16(again[10:]), tcp.Checksum(), binary.BigEndian.Uint16(again[IPv4MinLen+16:]))
		}
	}
}

func TestIsValidGates(t *testing.T) {
	ipOK := make([]byte, 40)
	IPv4(ipOK).Encode(&IPv4Fields{TotalLength: 40, TTL: 64, Protocol: IPProtoUDP})
	mod := func(b []byte, f func([]byte)) []byte { c := append([]byte(nil), b...); f(c); return c }
	for _, tc := range []struct {
		name   string
		b      []byte
		pktLen int
		want   bool
	}{
		{"ipv4 ok", ipOK, 40, true},
		{"ipv4 padded", append(append([]byte(nil), ipOK...), 0, 0), 42, true},
		{"ipv4 truncated", ipOK[:39], 39, false},
		{"ipv4 pktLen beyond slice", ipOK, 41, false},
		{"ipv4 short", ipOK[:19], 19, false},
		{"ipv4 version 6", mod(ipOK, func(b []byte) { b[0] = 0x65 }), 40, false},
		{"ipv4 ihl 4", mod(ipOK, func(b []byte) { b[0] = 0x44 }), 40, false},
		{"ipv4 ihl beyond total", mod(ipOK, func(b []byte) { b[0] = 0x4f }), 40, false},
		{"ipv4 total < ihl", mod(ipOK, func(b []byte) { b[3] = 19 }), 40, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := IPv4(tc.b).IsValid(tc.pktLen); got != tc.want {
				t.Fatalf("IsValid(%d) = %v, want %v", tc.pktLen, got, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name string
		ok   bool
		got  bool
	}{
		{"tcp offset 4", false, TCP(mod(make([]byte, 20), func(b []byte) { b[12] = 4 << 4 })).IsValid(20)},
		{"tcp offset beyond", false, TCP(mod(make([]byte, 20), func(b []byte) { b[12] = 6 << 4 })).IsValid(20)},
		{"tcp ok", true, TCP(mod(make([]byte, 24), func(b []byte) { b[12] = 6 << 4 })).IsValid(24)},
		{"udp length 7", false, UDP(mod(make([]byte, 8), func(b []byte) { b[5] = 7 })).IsValid(8)},
		{"udp length beyond", false, UDP(mod(make([]byte, 8), func(b []byte) { b[5] = 9 })).IsValid(8)},
		{"udp ok", true, UDP(mod(make([]byte, 9), func(b []byte) { b[5] = 9 })).IsValid(9)},
		{"icmp short", false, ICMPv4(make([]byte, 7)).IsValid(7)},
		{"icmp ok", true, ICMPv4(make([]byte, 8)).IsValid(8)},
		{"eth short", false, Ethernet(make([]byte, 13)).IsValid(13)},
		{"eth vlan short", false, Ethernet(mod(make([]byte, 17), func(b []byte) { b[12] = 0x81 })).IsValid(17)},
		{"eth vlan ok", true, Ethernet(mod(make([]byte, 18), func(b []byte) { b[12] = 0x81 })).IsValid(18)},
		{"arp short", false, ARP(make([]byte, 27)).IsValid(27)},
		{"arp zero types", false, ARP(make([]byte, 28)).IsValid(28)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.ok {
				t.Fatalf("IsValid = %v, want %v", tc.got, tc.ok)
			}
		})
	}
}

func TestTCPFlagsString(t *testing.T) {
	for _, tc := range []struct {
		f    TCPFlags
		want string
	}{
		{0, "none"}, {TCPFlagSYN, "S"}, {TCPFlagSYN | TCPFlagACK, "S."}, {TCPFlagFIN | TCPFlagACK, "F."},
		{TCPFlagRST, "R"}, {TCPFlagPSH | TCPFlagACK, "P."}, {TCPFlagURG | TCPFlagECE | TCPFlagCWR, "UEW"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			if got := tc.f.String(); got != tc.want {
				t.Fatalf("%#x.String() = %q, want %q", uint8(tc.f), got, tc.want)
			}
		})
	}
}
