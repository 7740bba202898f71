package gen

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// Version changes whenever the frames generated for a Spec change, so that
// caches of generated files can be keyed by it.
const Version = 1

// Mode is what the generated packets are.
type Mode string

// Modes.
const (
	Forward Mode = "forward"
	SYN     Mode = "syn"
	Reply   Mode = "reply"
	Mixed   Mode = "mixed"
)

// Spec describes a pcap to generate. Addresses are IPv4.
type Spec struct {
	Mode  Mode
	Proto string // "udp" or "tcp" (syn is always tcp)
	Flows int
	// Size is the frame size on the wire including the 4-byte FCS, as RFC
	// 2544 counts it (64 is the minimum); pcap records are Size-4 bytes.
	Size int
	// Passes is how many packets per flow a forward file holds (default 1):
	// with TCP the first is the SYN, the others ACKs.
	Passes int

	GatewayMAC net.HardwareAddr // destination MAC of every frame
	RouterMAC  net.HardwareAddr // source MAC of client traffic (the clients' router)
	ServerMAC  net.HardwareAddr // source MAC of real-server traffic

	Clients  netip.Addr       // first client address; flow i uses Clients + i/ClientPorts
	VIP      netip.AddrPort   // the virtual service
	Servers  []netip.AddrPort // real servers in configuration order (reply, mixed)
	LIPs     []netip.Addr     // local addresses in configuration order (reply, mixed)
	LportMin uint16           // bottom of the gateway's local port range (default 1024)
	LportMax uint16           // top of it (default 65535)
}

// ClientPorts is how many source ports each client address uses before the
// next address: flow i comes from Clients+i/ClientPorts, port 1024+i%ClientPorts.
const ClientPorts = 50000

// Defaults fills the zero fields that have defaults.
func (s *Spec) Defaults() {
	if s.Size == 0 {
		s.Size = 64
	}
	if s.Passes == 0 {
		s.Passes = 1
	}
	if s.LportMin == 0 {
		s.LportMin = 1024
	}
	if s.LportMax == 0 {
		s.LportMax = 65535
	}
	if s.Mode == SYN {
		s.Proto = "tcp"
	}
}

// Validate reports the first problem of s (after Defaults).
func (s *Spec) Validate() error {
	switch s.Mode {
	case Forward, SYN, Reply, Mixed:
	default:
		return fmt.Errorf("mode %q: want forward, syn, reply or mixed", s.Mode)
	}
	if s.Proto != "udp" && s.Proto != "tcp" {
		return fmt.Errorf("proto %q: want udp or tcp", s.Proto)
	}
	if s.Flows < 1 || s.Flows > 1<<26 {
		return fmt.Errorf("flows %d out of range 1-%d", s.Flows, 1<<26)
	}
	if s.Size < 64 || s.Size > 1518 {
		return fmt.Errorf("size %d out of range 64-1518 (wire bytes with FCS)", s.Size)
	}
	if len(s.GatewayMAC) != 6 || len(s.RouterMAC) != 6 {
		return errors.New("gateway and router MACs are required")
	}
	if !s.Clients.Is4() || !s.VIP.Addr().Is4() {
		return errors.New("client and VIP addresses must be IPv4")
	}
	if s.Mode == Reply || s.Mode == Mixed {
		if len(s.Servers) == 0 || len(s.LIPs) == 0 || len(s.ServerMAC) != 6 {
			return fmt.Errorf("mode %s needs real servers, local addresses and the server MAC", s.Mode)
		}
		per := int(s.LportMax-s.LportMin) + 1
		if s.Flows > per*len(s.Servers)*len(s.LIPs) {
			return fmt.Errorf("%d flows exceed the %d local ports of %d real servers × %d LIPs", s.Flows,
				per*len(s.Servers)*len(s.LIPs), len(s.Servers), len(s.LIPs))
		}
	}
	return nil
}

// Client returns flow i's client address and port.
func (s *Spec) Client(i int) (netip.Addr, uint16) {
	a := s.Clients.As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v += uint32(i / ClientPorts)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), uint16(1024 + i%ClientPorts)
}

// Session is the FULLNAT reply tuple the gateway is predicted to give flow i.
type Session struct {
	Server netip.AddrPort
	LIP    netip.Addr
	Lport  uint16
}

// Sessions predicts the reply tuples of every flow, created in order 0..n-1
// by one worker core (see the package comment).
func (s *Spec) Sessions() []Session {
	type pool struct {
		lip, rip netip.Addr
		rport    uint16
	}
	next := make(map[pool]uint16)
	out := make([]Session, s.Flows)
	for i := range out {
		rs := s.Servers[i%len(s.Servers)]
		lip := s.LIPs[(i+1)%len(s.LIPs)]
		k := pool{lip, rs.Addr(), rs.Port()}
		out[i] = Session{Server: rs, LIP: lip, Lport: s.LportMin + next[k]}
		next[k]++
	}
	return out
}

// Builder makes frames of a Spec.
type Builder struct {
	s    Spec
	buf  gopacket.SerializeBuffer
	opts gopacket.SerializeOptions
}

// NewBuilder validates s (after filling its defaults).
func NewBuilder(s Spec) (*Builder, error) {
	s.Defaults()
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &Builder{s: s, buf: gopacket.NewSerializeBuffer(),
		opts: gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}}, nil
}

// Spec returns the builder's spec with defaults filled.
func (b *Builder) Spec() Spec { return b.s }

// Packet is one frame to build: from src to dst with TCP flags (ignored for UDP).
type Packet struct {
	SrcMAC   net.HardwareAddr
	Src, Dst netip.AddrPort
	TCP      bool
	Flags    TCPFlags
	Seq, Ack uint32
}

// TCPFlags are the flags of a TCP segment.
type TCPFlags uint8

// TCP flags used by the generator.
const (
	FlagSYN TCPFlags = 1 << iota
	FlagACK
	FlagPSH
)

// Frame serializes p padded to the spec's size; the slice is valid until the
// next call.
func (b *Builder) Frame(p Packet) ([]byte, error) {
	eth := &layers.Ethernet{SrcMAC: p.SrcMAC, DstMAC: b.s.GatewayMAC, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Id: 1, Flags: layers.IPv4DontFragment,
		SrcIP: p.Src.Addr().AsSlice(), DstIP: p.Dst.Addr().AsSlice()}
	hdr := 14 + 20
	var l4 gopacket.SerializableLayer
	if p.TCP {
		ip.Protocol = layers.IPProtocolTCP
		t := &layers.TCP{SrcPort: layers.TCPPort(p.Src.Port()), DstPort: layers.TCPPort(p.Dst.Port()),
			Seq: p.Seq, Ack: p.Ack, Window: 65535,
			SYN: p.Flags&FlagSYN != 0, ACK: p.Flags&FlagACK != 0, PSH: p.Flags&FlagPSH != 0}
		if err := t.SetNetworkLayerForChecksum(ip); err != nil {
			return nil, err
		}
		l4, hdr = t, hdr+20
	} else {
		ip.Protocol = layers.IPProtocolUDP
		u := &layers.UDP{SrcPort: layers.UDPPort(p.Src.Port()), DstPort: layers.UDPPort(p.Dst.Port())}
		if err := u.SetNetworkLayerForChecksum(ip); err != nil {
			return nil, err
		}
		l4, hdr = u, hdr+8
	}
	pay := b.s.Size - 4 - hdr
	if pay < 0 {
		pay = 0
	}
	payload := make([]byte, pay)
	for i := range payload {
		payload[i] = byte(i)
	}
	if err := gopacket.SerializeLayers(b.buf, b.opts, eth, ip, l4, gopacket.Payload(payload)); err != nil {
		return nil, err
	}
	return b.buf.Bytes(), nil
}

// Each calls fn with every frame of the file in order (the slice is reused).
// Frames are serialized by gopacket once per kind (direction and TCP flags)
// and then patched per flow: addresses, ports and both checksums (Frame is
// the reference the tests compare the patched frames with).
func (b *Builder) Each(fn func(frame []byte) error) error {
	s := &b.s
	var sess []Session
	if s.Mode == Reply || s.Mode == Mixed {
		sess = s.Sessions()
	}
	tmpl := map[TCPFlags][]byte{}
	var repTmpl []byte
	kind := func(p Packet) ([]byte, error) {
		f, err := b.Frame(p)
		return append([]byte(nil), f...), err
	}
	work := make([]byte, 0, s.Size)
	fwd := func(i int, flags TCPFlags) error {
		t, ok := tmpl[flags]
		if !ok {
			var err error
			if t, err = kind(b.fwdPacket(0, flags)); err != nil {
				return err
			}
			tmpl[flags] = t
		}
		ca, cp := s.Client(i)
		work = append(work[:0], t...)
		patch(work, netip.AddrPortFrom(ca, cp), s.VIP)
		return fn(work)
	}
	rep := func(i int) error {
		if repTmpl == nil {
			var err error
			if repTmpl, err = kind(b.repPacket(sess[0])); err != nil {
				return err
			}
		}
		x := sess[i]
		work = append(work[:0], repTmpl...)
		patch(work, x.Server, netip.AddrPortFrom(x.LIP, x.Lport))
		return fn(work)
	}
	switch s.Mode {
	case SYN:
		for i := range s.Flows {
			if err := fwd(i, FlagSYN); err != nil {
				return err
			}
		}
	case Forward:
		for pass := range s.Passes {
			for i := range s.Flows {
				if err := fwd(i, fwdFlags(pass)); err != nil {
					return err
				}
			}
		}
	case Reply:
		for i := range s.Flows {
			if err := rep(i); err != nil {
				return err
			}
		}
	case Mixed:
		for i := range s.Flows {
			if err := fwd(i, FlagSYN); err != nil {
				return err
			}
			if err := rep(i); err != nil {
				return err
			}
		}
	}
	return nil
}

// fwdFlags are the TCP flags of a forward packet in pass: SYN first, then
// data segments.
func fwdFlags(pass int) TCPFlags {
	if pass == 0 {
		return FlagSYN
	}
	return FlagACK | FlagPSH
}

// fwdPacket is flow i's client → VIP packet.
func (b *Builder) fwdPacket(i int, flags TCPFlags) Packet {
	ca, cp := b.s.Client(i)
	return Packet{SrcMAC: b.s.RouterMAC, Src: netip.AddrPortFrom(ca, cp), Dst: b.s.VIP, TCP: b.s.Proto == "tcp",
		Flags: flags, Seq: 1000}
}

// repPacket is the real server → LIP:lport packet of session x.
func (b *Builder) repPacket(x Session) Packet {
	return Packet{SrcMAC: b.s.ServerMAC, Src: x.Server, Dst: netip.AddrPortFrom(x.LIP, x.Lport),
		TCP: b.s.Proto == "tcp", Flags: FlagACK, Seq: 5000, Ack: 1001}
}

// patch rewrites the IPv4 addresses and L4 ports of an untagged Ethernet
// frame built by Frame and recomputes the IPv4 and TCP/UDP checksums.
func patch(f []byte, src, dst netip.AddrPort) {
	const l3 = 14
	ip := f[l3:]
	ihl := int(ip[0]&0xf) * 4
	s4, d4 := src.Addr().As4(), dst.Addr().As4()
	copy(ip[12:16], s4[:])
	copy(ip[16:20], d4[:])
	ip[10], ip[11] = 0, 0
	putCsum(ip[10:], sum(0, ip[:ihl]))
	tot := int(ip[2])<<8 | int(ip[3])
	l4 := ip[ihl:tot]
	l4[0], l4[1] = byte(src.Port()>>8), byte(src.Port())
	l4[2], l4[3] = byte(dst.Port()>>8), byte(dst.Port())
	off := 16 // TCP
	if ip[9] == 17 {
		off = 6
	}
	l4[off], l4[off+1] = 0, 0
	ps := sum(0, ip[12:20]) + uint32(ip[9]) + uint32(len(l4))
	c := sum(ps, l4)
	if ip[9] == 17 && fold(c) == 0xffff {
		l4[off], l4[off+1] = 0xff, 0xff // a computed zero is sent as all ones (RFC 768)
		return
	}
	putCsum(l4[off:], c)
}

// sum adds b as big-endian 16-bit words to acc (RFC 1071).
func sum(acc uint32, b []byte) uint32 {
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
	for acc > 0xffff {
		acc = acc>>16 + acc&0xffff
	}
	return uint16(acc)
}

func putCsum(b []byte, acc uint32) {
	c := ^fold(acc)
	b[0], b[1] = byte(c>>8), byte(c)
}

// Packets is how many frames Each produces.
func (s *Spec) Packets() int {
	switch s.Mode {
	case Forward:
		return s.Flows * max(s.Passes, 1)
	case Mixed:
		return 2 * s.Flows
	}
	return s.Flows
}
