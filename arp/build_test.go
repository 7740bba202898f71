package arp

import (
	"bytes"
	"net"
	"slices"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"fngw/header"
	"fngw/test/pkttest"
)

func TestBuildARP(t *testing.T) {
	src, target := a4("192.0.2.1"), a4("192.0.2.254")
	for _, tc := range []struct {
		name     string
		n        func(buf []byte) int
		ethDst   header.MAC
		spa, tpa header.Addr4
		sha      header.MAC
	}{
		{"broadcast request", func(b []byte) int { return BuildARPRequest(b, mac0, src, target, header.MAC{}) }, header.BroadcastMAC, src, target, mac0},
		{"unicast probe", func(b []byte) int { return BuildARPRequest(b, mac0, src, target, peerMAC) }, peerMAC, src, target, mac0},
		{"gratuitous", func(b []byte) int { return BuildGratuitousARP(b, mac1, src) }, header.BroadcastMAC, src, src, mac1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			buf := bytes.Repeat([]byte{0xee}, 100)
			if n := tc.n(buf); n != ARPFrameLen {
				t.Fatalf("length %d", n)
			}
			if tc.n(make([]byte, ARPFrameLen-1)) != 0 {
				t.Fatal("wrote into a short buffer")
			}
			if !bytes.Equal(buf[42:60], make([]byte, 18)) || buf[60] != 0xee {
				t.Fatal("padding not zeroed, or wrote past the frame")
			}
			p := pkttest.Decode(buf[:ARPFrameLen])
			eth := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
			a, _ := p.Layer(layers.LayerTypeARP).(*layers.ARP)
			if a == nil || header.MAC(eth.DstMAC) != tc.ethDst || header.MAC(eth.SrcMAC) != tc.sha ||
				a.Operation != layers.ARPRequest || a.AddrType != layers.LinkTypeEthernet || a.Protocol != layers.EthernetTypeIPv4 ||
				header.MAC(a.SourceHwAddress) != tc.sha || header.Addr4(a.SourceProtAddress) != tc.spa ||
				header.MAC(a.DstHwAddress) != (header.MAC{}) || header.Addr4(a.DstProtAddress) != tc.tpa {
				t.Fatalf("decoded %v", p)
			}
		})
	}
}

// offending builds an IPv4 datagram as a router would receive it.
func offending(t testing.TB, proto layers.IPProtocol, l4 gopacket.SerializableLayer, payload []byte, mod func(*layers.IPv4)) []byte {
	ip := &layers.IPv4{Version: 4, TTL: 1, Id: 77, Flags: layers.IPv4DontFragment, Protocol: proto,
		SrcIP: net.IPv4(198, 51, 100, 7).To4(), DstIP: net.IPv4(203, 0, 113, 5).To4()}
	if mod != nil {
		mod(ip)
	}
	if n, ok := l4.(interface {
		SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
	}); ok {
		if err := n.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
	}
	return pkttest.Serialize(ip, l4, gopacket.Payload(payload))
}

func TestBuildICMPError(t *testing.T) {
	gwAddr := a4("192.0.2.1")
	tcp := &layers.TCP{SrcPort: 40000, DstPort: 80, Seq: 1, SYN: true, Window: 100}
	for _, tc := range []struct {
		name string
		orig []byte
		e    ICMPError
	}{
		{"frag needed for tcp", offending(t, layers.IPProtocolTCP, tcp, make([]byte, 1400), nil),
			ICMPError{Type: header.ICMPv4DstUnreachable, Code: header.ICMPv4FragNeeded, MTU: 1480, Src: gwAddr, ID: 9}},
		{"time exceeded for udp", offending(t, layers.IPProtocolUDP, &layers.UDP{SrcPort: 5353, DstPort: 53}, []byte("q"), nil),
			ICMPError{Type: header.ICMPv4TimeExceeded, Code: header.ICMPv4TTLExceeded, Src: gwAddr}},
		{"unreachable for echo, options quoted", offending(t, layers.IPProtocolICMPv4,
			&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0)}, []byte("hi"),
			func(ip *layers.IPv4) {
				ip.Options = []layers.IPv4Option{{OptionType: 7, OptionLength: 7, OptionData: []byte{4, 0, 0, 0, 0}}, {OptionType: 0, OptionLength: 1}}
			}),
			ICMPError{Type: header.ICMPv4DstUnreachable, Code: header.ICMPv4HostUnreachable, Src: gwAddr}},
		{"short payload", offending(t, layers.IPProtocol(253), gopacket.Payload([]byte{1, 2, 3}), nil, nil),
			ICMPError{Type: header.ICMPv4DstUnreachable, Code: header.ICMPv4ProtoUnreachable, Src: gwAddr}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := header.IPv4(tc.orig)
			quote := o.HeaderLength() + min(8, len(o.Payload()))
			buf := bytes.Repeat([]byte{0xee}, 2000)
			n := BuildICMPError(buf, tc.orig, &tc.e)
			if n != 28+quote {
				t.Fatalf("length %d, want %d", n, 28+quote)
			}
			if buf[n] != 0xee {
				t.Fatal("wrote past the datagram")
			}
			if BuildICMPError(make([]byte, n-1), tc.orig, &tc.e) != 0 {
				t.Fatal("wrote into a short buffer")
			}
			p := gopacket.NewPacket(buf[:n], layers.LayerTypeIPv4, gopacket.Default)
			ip, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
			icmp, _ := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
			if ip == nil || icmp == nil {
				t.Fatalf("does not decode: %v", p)
			}
			if header.Addr4(ip.SrcIP.To4()) != gwAddr || !ip.DstIP.Equal(net.IPv4(198, 51, 100, 7)) || ip.TTL != 64 ||
				ip.Protocol != layers.IPProtocolICMPv4 || int(ip.Length) != n || ip.Id != tc.e.ID {
				t.Fatalf("IPv4 %+v", ip)
			}
			if icmp.TypeCode.Type() != tc.e.Type || icmp.TypeCode.Code() != tc.e.Code {
				t.Fatalf("ICMP type/code %v", icmp.TypeCode)
			}
			wantRest := uint16(0)
			if tc.e.Code == header.ICMPv4FragNeeded {
				wantRest = tc.e.MTU
			}
			if icmp.Id != 0 || icmp.Seq != wantRest { // gopacket decodes the second word as Id/Seq
				t.Fatalf("rest of header %#x %#x, want next-hop MTU %d", icmp.Id, icmp.Seq, wantRest)
			}
			if !bytes.Equal(icmp.Payload, tc.orig[:quote]) {
				t.Fatalf("quote\n% x\nwant\n% x", icmp.Payload, tc.orig[:quote])
			}
			checkChecksums(t, p)
		})
	}
}

func TestBuildICMPErrorRefused(t *testing.T) {
	e := &ICMPError{Type: header.ICMPv4DstUnreachable, Code: header.ICMPv4HostUnreachable, Src: a4("192.0.2.1")}
	udp := &layers.UDP{SrcPort: 1, DstPort: 2}
	for _, tc := range []struct {
		name string
		orig []byte
	}{
		{"icmp error", offending(t, layers.IPProtocolICMPv4, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(3, 1)}, nil, nil)},
		{"unknown icmp type", offending(t, layers.IPProtocolICMPv4, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(99, 0)}, nil, nil)},
		{"empty icmp", offending(t, layers.IPProtocolICMPv4, gopacket.Payload(nil), nil, nil)},
		{"non-initial fragment", offending(t, layers.IPProtocolUDP, udp, nil, func(ip *layers.IPv4) { ip.FragOffset = 100 })},
		{"to multicast", offending(t, layers.IPProtocolUDP, udp, nil, func(ip *layers.IPv4) { ip.DstIP = net.IPv4(239, 1, 1, 1).To4() })},
		{"to broadcast", offending(t, layers.IPProtocolUDP, udp, nil, func(ip *layers.IPv4) { ip.DstIP = net.IPv4bcast.To4() })},
		{"from zero", offending(t, layers.IPProtocolUDP, udp, nil, func(ip *layers.IPv4) { ip.SrcIP = net.IPv4zero.To4() })},
		{"from loopback", offending(t, layers.IPProtocolUDP, udp, nil, func(ip *layers.IPv4) { ip.SrcIP = net.IPv4(127, 0, 0, 1).To4() })},
		{"from multicast", offending(t, layers.IPProtocolUDP, udp, nil, func(ip *layers.IPv4) { ip.SrcIP = net.IPv4(224, 0, 0, 5).To4() })},
		{"truncated", offending(t, layers.IPProtocolUDP, udp, []byte("abc"), nil)[:20]},
		{"garbage", []byte{1, 2, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if n := BuildICMPError(make([]byte, 1500), tc.orig, e); n != 0 {
				t.Fatalf("built a %d-byte error", n)
			}
		})
	}
	// A first fragment (MF set, offset 0) does get an error.
	first := offending(t, layers.IPProtocolUDP, udp, make([]byte, 100), func(ip *layers.IPv4) { ip.Flags = layers.IPv4MoreFragments })
	if BuildICMPError(make([]byte, 1500), first, e) == 0 {
		t.Fatal("no error for a first fragment")
	}
}

func TestTokenBucket(t *testing.T) {
	const ms = Second / 1000
	b := NewTokenBucket(1000, 3, 0) // one token per ms, bursts of 3
	var got []bool
	allow := func(now int64, n int) {
		for range n {
			got = append(got, b.Allow(now))
		}
	}
	allow(0, 4) // burst of 3, then empty
	if want := []bool{true, true, true, false}; !slices.Equal(got, want) {
		t.Fatalf("burst: %v", got)
	}
	got = nil
	allow(ms-1, 1)    // not a whole token yet
	allow(ms, 2)      // one token
	allow(ms+ms/2, 1) // half a token
	allow(2*ms, 1)    // the remainder was kept: a token
	allow(100*ms, 4)  // a long idle period refills to the burst, no more
	allow(50*ms, 1)   // clock went backwards: nothing credited
	if want := []bool{false, true, false, false, true, true, true, true, false, false}; !slices.Equal(got, want) {
		t.Fatalf("refill: %v want %v", got, want)
	}
	n := testing.AllocsPerRun(100, func() { b.Allow(200 * ms) })
	if n != 0 {
		t.Fatalf("Allow allocates %v", n)
	}
	for _, bad := range [][2]int{{0, 1}, {1, 0}, {2e9, 1}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewTokenBucket(%d, %d) did not panic", bad[0], bad[1])
				}
			}()
			NewTokenBucket(bad[0], bad[1], 0)
		}()
	}
}
