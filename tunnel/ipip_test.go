package tunnel

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"fngw/header"
	"fngw/test/pkttest"
)

var (
	dip    = header.Addr4{198, 18, 2, 1}  // tunnel entry: the gateway's port address
	rip    = header.Addr4{198, 18, 2, 11} // tunnel exit: the real server
	cip    = header.Addr4{203, 0, 113, 7}
	vip    = header.Addr4{198, 18, 1, 100}
	gwMAC  = net.HardwareAddr{2, 0, 0, 0, 2, 1}
	rsMAC  = net.HardwareAddr{2, 0, 0, 0, 2, 11}
	cliMAC = net.HardwareAddr{2, 0, 0, 0, 1, 2}
)

const headroom = 128

// innerPacket is a client's IPv4 packet to the VIP, as gopacket builds it.
type innerPacket struct {
	proto   layers.IPProtocol
	tos     uint8
	df      bool
	ttl     uint8
	payload []byte
}

func (p innerPacket) ipLayer() *layers.IPv4 {
	ip := &layers.IPv4{Version: 4, IHL: 5, TOS: p.tos, TTL: p.ttl, Id: 0x5151, Protocol: p.proto, SrcIP: pkttest.IP(cip), DstIP: pkttest.IP(vip)}
	if p.df {
		ip.Flags = layers.IPv4DontFragment
	}
	return ip
}

func (p innerPacket) bytes() []byte {
	ip := p.ipLayer()
	switch p.proto {
	case layers.IPProtocolTCP:
		tcp := &layers.TCP{SrcPort: 40000, DstPort: 80, Seq: 1, SYN: true, Window: 64240}
		tcp.SetNetworkLayerForChecksum(ip)
		return pkttest.Serialize(ip, tcp, gopacket.Payload(p.payload))
	default:
		udp := &layers.UDP{SrcPort: 40000, DstPort: 53}
		udp.SetNetworkLayerForChecksum(ip)
		return pkttest.Serialize(ip, udp, gopacket.Payload(p.payload))
	}
}

// frameIn puts an inner packet behind link (its Ethernet header, with a VLAN
// tag or not) and pad zero bytes, at offset headroom of a canary-filled buffer.
func frameIn(link, inner []byte, pad int) (buf []byte, n int) {
	buf = bytes.Repeat([]byte{0xa5}, headroom+len(link)+len(inner)+pad+32)
	n = copy(buf[headroom:], link)
	n += copy(buf[headroom+n:], inner)
	n += copy(buf[headroom+n:], make([]byte, pad))
	return buf, n
}

func TestEncapMatchesGopacket(t *testing.T) {
	eth := pkttest.Serialize(&layers.Ethernet{SrcMAC: cliMAC, DstMAC: gwMAC, EthernetType: layers.EthernetTypeIPv4})
	vlan := pkttest.Serialize(&layers.Ethernet{SrcMAC: cliMAC, DstMAC: gwMAC, EthernetType: layers.EthernetTypeDot1Q},
		&layers.Dot1Q{VLANIdentifier: 42, Type: layers.EthernetTypeIPv4})
	for _, tc := range []struct {
		name  string
		link  []byte
		inner innerPacket
		pad   int
		id    uint16
	}{
		{"tcp_syn_df", eth, innerPacket{proto: layers.IPProtocolTCP, df: true, ttl: 63}, 6, 0},
		{"tcp_data_df_tos", eth, innerPacket{proto: layers.IPProtocolTCP, df: true, ttl: 1, tos: 0x2e << 2, payload: bytes.Repeat([]byte("x"), 1000)}, 0, 0},
		{"udp_no_df", eth, innerPacket{proto: layers.IPProtocolUDP, ttl: 200, tos: 0xb9, payload: []byte("query")}, 0, 0xbeef},
		{"udp_padded_no_df_id_ffff", eth, innerPacket{proto: layers.IPProtocolUDP, ttl: 64}, 18, 0xffff},
		{"vlan_tagged", vlan, innerPacket{proto: layers.IPProtocolUDP, df: true, ttl: 64, payload: []byte{1}}, 0, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inner := tc.inner.bytes()
			buf, n := frameIn(tc.link, inner, tc.pad)
			orig := append([]byte(nil), buf...)
			tpl := NewIPIP(dip, rip)
			off, ln := tpl.Encap(buf, headroom, n, len(tc.link), tc.id)
			if off != headroom-IPIPLen || ln != len(tc.link)+IPIPLen+len(inner) {
				t.Fatalf("Encap returned frame %d+%d, want %d+%d", off, ln, headroom-IPIPLen, len(tc.link)+IPIPLen+len(inner))
			}
			outer := &layers.IPv4{Version: 4, IHL: 5, TOS: tc.inner.tos, Id: tc.id, TTL: 64,
				Protocol: layers.IPProtocolIPv4, SrcIP: pkttest.IP(dip), DstIP: pkttest.IP(rip)}
			if tc.inner.df {
				outer.Flags = layers.IPv4DontFragment
			}
			want := append(append([]byte(nil), tc.link...), pkttest.Serialize(outer, gopacket.Payload(inner))...)
			if got := buf[off : off+ln]; !bytes.Equal(got, want) {
				t.Fatalf("encapsulated frame\n got %x\nwant %x", got, want)
			}
			// Nothing outside the new frame changed, except the old
			// frame's padding, which the new frame no longer covers.
			for i := range buf {
				if (i < off || i >= off+ln) && buf[i] != orig[i] {
					t.Fatalf("Encap wrote byte %d outside the new frame", i-headroom)
				}
			}
		})
	}
}

// TestEncapChecksumReference: on seeded random tunnel ends and inner header
// fields, the precomputed-sum checksum equals a full recompute of the written
// header (RFC 1071), including sums that need end-around carries.
func TestEncapChecksumReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	inner := make([]byte, 1500)
	buf := make([]byte, headroom+14+1500)
	for i := range 20000 {
		var src, dst header.Addr4
		binary.BigEndian.PutUint32(src[:], r.Uint32())
		binary.BigEndian.PutUint32(dst[:], r.Uint32())
		if i%7 == 0 {
			src, dst = header.Addr4{255, 255, 255, 255}, header.Addr4{255, 255, 255, 254}
		}
		tot := header.IPv4MinLen + r.IntN(1480-header.IPv4MinLen)
		in := header.IPv4(inner[:tot])
		in.Encode(&header.IPv4Fields{TOS: uint8(r.Uint32()), TotalLength: uint16(tot), ID: uint16(r.Uint32()),
			Flags: uint8(r.IntN(2)) * header.IPv4FlagDF, TTL: uint8(r.Uint32()), Protocol: header.IPProtoUDP, Src: cip, Dst: vip})
		n := 14 + copy(buf[headroom+14:], in)
		id := uint16(r.Uint32())
		tpl := NewIPIP(src, dst)
		off, ln := tpl.Encap(buf, headroom, n, 14, id)
		o := header.IPv4(buf[off+14 : off+ln])
		if !o.IsValid(len(o)) || !o.IsChecksumValid() || o.Checksum() != o.CalculateChecksum() {
			t.Fatalf("case %d: outer header %x: checksum %#04x, full recompute %#04x", i, []byte(o[:20]), o.Checksum(), o.CalculateChecksum())
		}
		if o.ID() != id || o.DF() != in.DF() || o.TOS() != in.TOS() || o.SourceAddress() != src || o.DestinationAddress() != dst ||
			int(o.TotalLength()) != tot+IPIPLen || o.TTL() != OuterTTL || o.Protocol() != header.IPProtoIPIP || o.IsFragment() {
			t.Fatalf("case %d: outer header %x", i, []byte(o[:20]))
		}
	}
}

func TestFixedSumIsNewIPIPs(t *testing.T) {
	tpl := NewIPIP(dip, rip)
	lit := IPIP{Src: dip, Dst: rip, Sum: FixedSum(dip, rip)}
	if tpl != lit {
		t.Fatalf("NewIPIP %+v, literal with FixedSum %+v", tpl, lit)
	}
}

func TestDecap(t *testing.T) {
	inner := innerPacket{proto: layers.IPProtocolTCP, df: true, ttl: 63, payload: []byte("hello")}.bytes()
	buf, n := frameIn(nil, inner, 0)
	tpl := NewIPIP(dip, rip)
	off, ln := tpl.Encap(buf, headroom, n, 0, 0)
	pkt := append(buf[off:off+ln:off+ln], 0, 0, 0) // trailing link padding is ignored
	got, outer, ok := Decap(pkt)
	if !ok || !bytes.Equal(got, inner) || outer.SourceAddress() != dip || outer.DestinationAddress() != rip || len(outer) != 20 {
		t.Fatalf("Decap = %x, %x, %v; want the inner packet %x", []byte(got), []byte(outer), ok, inner)
	}
	mod := func(f func(b []byte)) []byte {
		b := append([]byte(nil), buf[off:off+ln]...)
		f(b)
		return b
	}
	fix := func(b []byte) { header.IPv4(b).SetChecksum(header.IPv4(b).CalculateChecksum()) }
	for name, b := range map[string][]byte{
		"bad_outer_checksum": mod(func(b []byte) { b[10] ^= 1 }),
		"protocol_gre":       mod(func(b []byte) { b[9] = header.IPProtoGRE; fix(b) }),
		"outer_fragment":     mod(func(b []byte) { b[6] |= 0x20; fix(b) }),
		"outer_truncated":    buf[off : off+ln-1],
		"inner_truncated":    mod(func(b []byte) { binary.BigEndian.PutUint16(b[2:], uint16(20+19)); fix(b) }),
		"inner_not_ipv4":     mod(func(b []byte) { b[20] = 0x65 }),
		"empty":              nil,
	} {
		if in, _, ok := Decap(b); ok {
			t.Errorf("%s: Decap accepted it, inner %x", name, []byte(in))
		}
	}
}

func TestAllocs(t *testing.T) {
	inner := innerPacket{proto: layers.IPProtocolTCP, df: true, ttl: 63}.bytes()
	buf, n := frameIn(make([]byte, 14), inner, 0)
	tpl := NewIPIP(dip, rip)
	if a := testing.AllocsPerRun(1000, func() {
		off, ln := tpl.Encap(buf, headroom, n, 14, 0)
		if _, _, ok := Decap(buf[off+14 : off+ln]); !ok {
			t.Fatal("Decap refused Encap's packet")
		}
	}); a != 0 {
		t.Fatalf("%.1f allocations per Encap+Decap", a)
	}
}

func BenchmarkEncap(b *testing.B) {
	inner := innerPacket{proto: layers.IPProtocolTCP, df: true, ttl: 63, payload: make([]byte, 10)}.bytes()
	buf, n := frameIn(make([]byte, 14), inner, 0)
	tpl := NewIPIP(dip, rip)
	b.ReportAllocs()
	for range b.N {
		tpl.Encap(buf, headroom, n, 14, 0)
	}
}

func BenchmarkDecap(b *testing.B) {
	inner := innerPacket{proto: layers.IPProtocolTCP, df: true, ttl: 63, payload: make([]byte, 10)}.bytes()
	buf, n := frameIn(nil, inner, 0)
	tpl := NewIPIP(dip, rip)
	off, ln := tpl.Encap(buf, headroom, n, 0, 0)
	pkt := buf[off : off+ln]
	b.ReportAllocs()
	for range b.N {
		if _, _, ok := Decap(pkt); !ok {
			b.Fatal("refused")
		}
	}
}

// FuzzDecap: Decap never panics, and what it accepts is a valid inner packet
// inside the input; Encap of an accepted inner packet decapsulates back to it.
func FuzzDecap(f *testing.F) {
	inner := innerPacket{proto: layers.IPProtocolUDP, ttl: 9, payload: []byte("seed")}.bytes()
	buf, n := frameIn(nil, inner, 0)
	tpl := NewIPIP(dip, rip)
	off, ln := tpl.Encap(buf, headroom, n, 0, 3)
	f.Add(append([]byte(nil), buf[off:off+ln]...))
	f.Add(inner)
	f.Add([]byte{0x45})
	f.Fuzz(func(t *testing.T, b []byte) {
		in, outer, ok := Decap(b)
		if !ok {
			return
		}
		if !in.IsValid(len(in)) || int(in.TotalLength()) != len(in) || len(outer)+len(in) > len(b) {
			t.Fatalf("accepted %x: inner %x", b, []byte(in))
		}
		buf := make([]byte, IPIPLen+len(in))
		copy(buf[IPIPLen:], in)
		tpl := NewIPIP(outer.SourceAddress(), outer.DestinationAddress())
		off, ln := tpl.Encap(buf, IPIPLen, len(in), 0, outer.ID())
		again, _, ok := Decap(buf[off : off+ln])
		if !ok || !bytes.Equal(again, in) {
			t.Fatalf("re-encapsulated %x does not decapsulate to %x", buf[off:off+ln], []byte(in))
		}
	})
}
