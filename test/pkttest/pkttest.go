package pkttest

import (
	"net"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// Serialize builds a packet from ls, outermost layer first, with gopacket
// computing every length and checksum field (a test sets only the fields it
// cares about). The result is a fresh slice the caller owns. Serialize
// panics if gopacket refuses the layers: that is a bug in the test, and the
// panic's stack names the builder (as net/http/httptest.NewRequest does).
func Serialize(ls ...gopacket.SerializableLayer) []byte {
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		panic("pkttest: serializing layers: " + err.Error())
	}
	return append([]byte(nil), buf.Bytes()...)
}

// Decode decodes an Ethernet frame with gopacket's default options (the
// frame is copied, so the caller may reuse it).
func Decode(frame []byte) gopacket.Packet {
	return gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
}

// MAC is m as gopacket's layers hold a hardware address (a new slice).
func MAC[M ~[6]byte](m M) net.HardwareAddr {
	b := [6]byte(m)
	return b[:]
}

// IP is the IPv4 address a as gopacket's layers hold one (a new 4-byte
// slice).
func IP[A ~[4]byte](a A) net.IP {
	b := [4]byte(a)
	return b[:]
}
