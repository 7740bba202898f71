package pkttest

import (
	"bytes"
	"net"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

type mac [6]byte
type addr [4]byte

func TestConversionsCopy(t *testing.T) {
	m := mac{2, 0, 0, 0, 0, 1}
	hw := MAC(m)
	m[5] = 9
	if !bytes.Equal(hw, net.HardwareAddr{2, 0, 0, 0, 0, 1}) {
		t.Errorf("MAC = %v, want 02:00:00:00:00:01 (a copy)", hw)
	}
	a := addr{198, 18, 1, 1}
	ip := IP(a)
	a[3] = 9
	if !ip.Equal(net.IPv4(198, 18, 1, 1)) || len(ip) != net.IPv4len {
		t.Errorf("IP = %v (%d bytes), want 198.18.1.1 in 4 bytes (a copy)", ip, len(ip))
	}
}

func TestSerializeDecodeRoundTrip(t *testing.T) {
	eth := &layers.Ethernet{SrcMAC: MAC(mac{2, 0, 0, 0, 0, 1}), DstMAC: MAC(mac{2, 0, 0, 0, 0, 2}), EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: IP(addr{198, 18, 1, 2}), DstIP: IP(addr{198, 18, 1, 1})}
	udp := &layers.UDP{SrcPort: 40000, DstPort: 9000}
	if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	f := Serialize(eth, ip, udp, gopacket.Payload("odd-length payload!"))
	if len(f) != 14+20+8+19 {
		t.Fatalf("frame of %d bytes, want %d", len(f), 14+20+8+19)
	}
	p := Decode(f)
	gip, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	gudp, _ := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
	if p.ErrorLayer() != nil || gip == nil || gudp == nil {
		t.Fatalf("does not decode: %v", p)
	}
	if gip.Length != 47 || gip.Checksum == 0 || gudp.Length != 27 || gudp.Checksum == 0 {
		t.Errorf("lengths or checksums not computed: IPv4 length %d checksum %#04x, UDP length %d checksum %#04x",
			gip.Length, gip.Checksum, gudp.Length, gudp.Checksum)
	}
	defer func() {
		if recover() == nil {
			t.Error("Serialize of a refused layer did not panic")
		}
	}()
	Serialize(&layers.Dot1Q{VLANIdentifier: 5000})
}
