package nat

import (
	"encoding/binary"
	"math/bits"
	"strconv"

	"fngw/header"
)

// Tuple4 is an IPv4 5-tuple as it appears on the wire in one direction. It is
// comparable and pointer-free (16 bytes); the blank padding keeps its size
// fixed and is ignored by ==.
type Tuple4 struct {
	Src, Dst     header.Addr4
	SPort, DPort uint16
	Proto        uint8
	_            [3]byte
}

// read sets t to the tuple of a TCP or UDP packet whose L4 header l4 holds at
// least the ports. It writes field by field into t, which the caller keeps in
// place: a tuple built by narrow stores and then copied as a whole (16-byte
// loads) stalls on store forwarding, a cost the profiles showed per packet.
func (t *Tuple4) read(ip header.IPv4, l4 []byte) {
	t.Src = ip.SourceAddress()
	t.Dst = ip.DestinationAddress()
	t.SPort = binary.BigEndian.Uint16(l4[0:])
	t.DPort = binary.BigEndian.Uint16(l4[2:])
	t.Proto = ip.Protocol()
}

// Reverse returns the tuple of a packet travelling the other way.
func (t Tuple4) Reverse() Tuple4 {
	return Tuple4{Src: t.Dst, Dst: t.Src, SPort: t.DPort, DPort: t.SPort, Proto: t.Proto}
}

// String formats t as "tcp 10.0.0.1:1234->10.0.0.2:80".
func (t Tuple4) String() string {
	b := make([]byte, 0, 48)
	b = append(b, protoName(t.Proto)...)
	b = append(b, ' ')
	b = append(b, t.Src.String()...)
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(t.SPort), 10)
	b = append(b, "->"...)
	b = append(b, t.Dst.String()...)
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(t.DPort), 10)
	return string(b)
}

func protoName(p uint8) string {
	switch p {
	case header.IPProtoTCP:
		return "tcp"
	case header.IPProtoUDP:
		return "udp"
	case header.IPProtoICMP:
		return "icmp"
	}
	return strconv.Itoa(int(p))
}

// hash mixes the tuple with seed (wyhash's 128-bit multiply-fold, two rounds).
// The seed is per table so that remote peers cannot aim collisions at it.
func (t *Tuple4) hash(seed uint64) uint64 {
	a := uint64(binary.LittleEndian.Uint32(t.Src[:]))<<32 | uint64(binary.LittleEndian.Uint32(t.Dst[:]))
	b := uint64(t.SPort)<<32 | uint64(t.DPort)<<16 | uint64(t.Proto)
	hi, lo := bits.Mul64(a^seed^0xa0761d6478bd642f, b^0xe7037ed1a0b428db)
	hi, lo = bits.Mul64(hi^lo^0x8ebc6af09c88c6e3, seed^0x589965cc75374cc3)
	return hi ^ lo
}

// Dir is the direction of a packet relative to its session, with LVS's names:
// DirIn is client → real server (IP_VS_DIR_INPUT), DirOut is real server →
// client (IP_VS_DIR_OUTPUT).
type Dir uint8

// Directions.
const (
	DirIn Dir = iota
	DirOut
)

// String returns "in" or "out".
func (d Dir) String() string {
	if d == DirIn {
		return "in"
	}
	return "out"
}
