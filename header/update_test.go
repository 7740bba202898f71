package header

import (
	"math/rand/v2"
	"testing"
)

// randSegment builds a random IPv4 packet with a proto segment (odd payload
// lengths included) and correct checksums.
func randSegment(r *rand.Rand, proto uint8) IPv4 {
	l4 := TCPMinLen
	if proto == IPProtoUDP {
		l4 = UDPLen
	}
	n := l4 + r.IntN(80)
	b := randBytes(r, IPv4MinLen+n)
	ip := IPv4(b)
	ip.Encode(&IPv4Fields{TOS: uint8(r.Uint32()), TotalLength: uint16(len(b)), ID: uint16(r.Uint32()),
		TTL: uint8(2 + r.IntN(254)), Protocol: proto, Src: randAddr(r), Dst: randAddr(r)})
	switch proto {
	case IPProtoTCP:
		s := TCP(ip.Payload())
		s.SetDataOffset(TCPMinLen)
		s.SetChecksum(s.CalculateChecksum(ip.SourceAddress(), ip.DestinationAddress()))
	case IPProtoUDP:
		d := UDP(ip.Payload())
		d.SetLength(uint16(n))
		d.SetChecksum(d.CalculateChecksum(ip.SourceAddress(), ip.DestinationAddress()))
	}
	return ip
}

// TestViewUpdatesMatchRecompute rewrites addresses and ports the way NAT does,
// with the ...WithChecksumUpdate methods, and checks every checksum equals a
// full recompute.
func TestViewUpdatesMatchRecompute(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for i := 0; i < 3000; i++ {
		for _, proto := range []uint8{IPProtoTCP, IPProtoUDP} {
			ip := randSegment(r, proto)
			oldSrc, oldDst := ip.SourceAddress(), ip.DestinationAddress()
			newSrc, newDst := randAddr(r), randAddr(r)
			sport, dport := uint16(r.Uint32()), uint16(r.Uint32())
			ip.SetSourceAddressWithChecksumUpdate(newSrc)
			ip.SetDestinationAddressWithChecksumUpdate(newDst)
			ip.DecrementTTLWithChecksumUpdate()
			if want := ip.CalculateChecksum(); ip.Checksum() != want || !ip.IsChecksumValid() {
				t.Fatalf("ip checksum %#x, recompute %#x", ip.Checksum(), want)
			}
			switch proto {
			case IPProtoTCP:
				s := TCP(ip.Payload())
				s.UpdateChecksumPseudoHeaderAddress(oldSrc, newSrc)
				s.UpdateChecksumPseudoHeaderAddress(oldDst, newDst)
				s.SetSourcePortWithChecksumUpdate(sport)
				s.SetDestinationPortWithChecksumUpdate(dport)
				if want := s.CalculateChecksum(newSrc, newDst); s.Checksum() != want || !s.IsChecksumValid(newSrc, newDst) {
					t.Fatalf("tcp checksum %#x, recompute %#x", s.Checksum(), want)
				}
				if s.SourcePort() != sport || s.DestinationPort() != dport {
					t.Fatal("ports not written")
				}
			case IPProtoUDP:
				d := UDP(ip.Payload())
				d.UpdateChecksumPseudoHeaderAddress(oldSrc, newSrc)
				d.UpdateChecksumPseudoHeaderAddress(oldDst, newDst)
				d.SetSourcePortWithChecksumUpdate(sport)
				d.SetDestinationPortWithChecksumUpdate(dport)
				if want := d.CalculateChecksum(newSrc, newDst); d.Checksum() != want || !d.IsChecksumValid(newSrc, newDst) {
					t.Fatalf("udp checksum %#x, recompute %#x", d.Checksum(), want)
				}
			}
		}
	}
}

func TestUDPZeroChecksumStaysZero(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	for i := 0; i < 500; i++ {
		ip := randSegment(r, IPProtoUDP)
		d := UDP(ip.Payload())
		d.SetChecksum(0)
		d.UpdateChecksumPseudoHeaderAddress(ip.SourceAddress(), randAddr(r))
		d.SetSourcePortWithChecksumUpdate(uint16(r.Uint32()))
		d.SetDestinationPortWithChecksumUpdate(uint16(r.Uint32()))
		if d.Checksum() != 0 {
			t.Fatalf("zero UDP checksum became %#x", d.Checksum())
		}
	}
}

// TestUDPUpdateNeverWritesZero finds rewrites whose correct checksum is zero
// and checks they are sent as 0xffff (RFC 768), like a full computation.
func TestUDPUpdateNeverWritesZero(t *testing.T) {
	src, dst := Addr4{10, 0, 0, 1}, Addr4{10, 0, 0, 2}
	d := make(UDP, UDPLen)
	d.SetLength(UDPLen)
	d.SetSourcePort(1000)
	d.SetChecksum(d.CalculateChecksum(src, dst))
	// Choose the destination port that makes the sum 0xffff, so the field is 0.
	base := ^d.CalculateChecksum(src, dst) // sum with dport 0
	need := ^base                          // base + need == 0xffff
	d.SetDestinationPortWithChecksumUpdate(need)
	if d.Checksum() != 0xffff || d.CalculateChecksum(src, dst) != 0xffff || !d.IsChecksumValid(src, dst) {
		t.Fatalf("checksum %#x, full %#x; want 0xffff", d.Checksum(), d.CalculateChecksum(src, dst))
	}
	// And from 0xffff onwards updates stay correct.
	d.SetDestinationPortWithChecksumUpdate(80)
	if want := d.CalculateChecksum(src, dst); d.Checksum() != want {
		t.Fatalf("after 0xffff: %#x want %#x", d.Checksum(), want)
	}
}

func TestICMPUpdates(t *testing.T) {
	r := rand.New(rand.NewPCG(35, 36))
	for i := 0; i < 1000; i++ {
		m := ICMPv4(randBytes(r, ICMPv4MinLen+r.IntN(60)))
		m.SetType(ICMPv4Echo)
		m.SetChecksum(m.CalculateChecksum())
		m.SetTypeWithChecksumUpdate(ICMPv4EchoReply)
		m.SetIdentWithChecksumUpdate(uint16(r.Uint32()))
		if want := m.CalculateChecksum(); m.Checksum() != want || !m.IsChecksumValid() || m.Type() != ICMPv4EchoReply {
			t.Fatalf("icmp checksum %#x, recompute %#x", m.Checksum(), want)
		}
	}
	m := make(ICMPv4, 8)
	m.SetRestOfHeader(0xdeadbeef)
	m.SetMTU(1400)
	if m.MTU() != 1400 || m.RestOfHeader() != 1400 {
		t.Fatalf("SetMTU left rest of header %#x", m.RestOfHeader())
	}
	for _, tc := range []struct {
		typ uint8
		err bool
	}{{ICMPv4Echo, false}, {ICMPv4EchoReply, false}, {ICMPv4DstUnreachable, true}, {ICMPv4TimeExceeded, true}, {ICMPv4Redirect, true}, {ICMPv4ParamProblem, true}} {
		m.SetType(tc.typ)
		if m.IsError() != tc.err {
			t.Errorf("type %d IsError = %v", tc.typ, !tc.err)
		}
	}
}

func TestIPv4FragmentFields(t *testing.T) {
	ip := make(IPv4, IPv4MinLen)
	for _, tc := range []struct {
		flags  uint8
		off    uint16
		isFrag bool
	}{{0, 0, false}, {IPv4FlagDF, 0, false}, {IPv4FlagMF, 0, true}, {0, 1480, true}, {IPv4FlagMF | IPv4FlagDF, 65528, true}} {
		ip.SetFlagsFragmentOffset(tc.flags, tc.off)
		if ip.Flags() != tc.flags || ip.FragmentOffset() != tc.off || ip.IsFragment() != tc.isFrag ||
			ip.DF() != (tc.flags&IPv4FlagDF != 0) || ip.MF() != (tc.flags&IPv4FlagMF != 0) {
			t.Errorf("flags %d offset %d: got flags %d offset %d frag %v", tc.flags, tc.off, ip.Flags(), ip.FragmentOffset(), ip.IsFragment())
		}
	}
}

func TestUpdatesDoNotAllocate(t *testing.T) {
	r := rand.New(rand.NewPCG(37, 38))
	ip := randSegment(r, IPProtoTCP)
	s := TCP(ip.Payload())
	a, b := Addr4{10, 0, 0, 1}, Addr4{10, 0, 0, 2}
	n := testing.AllocsPerRun(100, func() {
		ip.SetSourceAddressWithChecksumUpdate(a)
		s.UpdateChecksumPseudoHeaderAddress(b, a)
		s.SetSourcePortWithChecksumUpdate(1234)
		ip.SetDestinationAddressWithChecksumUpdate(b)
		_ = ip.IsChecksumValid()
		a, b = b, a
	})
	if n != 0 {
		t.Fatalf("incremental updates allocate %v times per run", n)
	}
}

func BenchmarkChecksumUpdateAddr4(b *testing.B) {
	b.ReportAllocs()
	x, o, n := uint16(0x1234), Addr4{10, 0, 0, 1}, Addr4{192, 168, 1, 1}
	for b.Loop() {
		x = ChecksumUpdateAddr4(x, o, n)
	}
	_ = x
}

func BenchmarkFullNATRewrite(b *testing.B) {
	b.ReportAllocs()
	r := rand.New(rand.NewPCG(39, 40))
	ip := randSegment(r, IPProtoTCP)
	s := TCP(ip.Payload())
	c, v, l, rs := Addr4{1, 1, 1, 1}, Addr4{2, 2, 2, 2}, Addr4{3, 3, 3, 3}, Addr4{4, 4, 4, 4}
	ip.SetSourceAddress(c)
	ip.SetDestinationAddress(v)
	for b.Loop() {
		ip.SetSourceAddressWithChecksumUpdate(l)
		ip.SetDestinationAddressWithChecksumUpdate(rs)
		s.UpdateChecksumPseudoHeaderAddress(c, l)
		s.UpdateChecksumPseudoHeaderAddress(v, rs)
		s.SetSourcePortWithChecksumUpdate(40000)
		s.SetDestinationPortWithChecksumUpdate(8080)
		c, l = l, c
		v, rs = rs, v
	}
}

func BenchmarkChecksum1500(b *testing.B) {
	buf := make([]byte, 1500)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		_ = Checksum(buf, 0)
	}
}
