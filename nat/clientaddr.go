package nat

import (
	"encoding/binary"
	"fmt"

	"fngw/header"
)

// ClientAddr is how a FULLNAT service tells its real servers the client's
// address, which FULLNAT replaces by a local address (see below).
type ClientAddr uint8

// Client-address options.
const (
	ClientAddrNone ClientAddr = iota
	ProxyV1                   // the PROXY protocol's text line (TCP)
	ProxyV2                   // its binary header (TCP and UDP)
	TOA                       // TCP option 254 in the first segments

	numClientAddrs = iota
)

var clientAddrNames = [numClientAddrs]string{"none", "proxy-v1", "proxy-v2", "toa"}

// String returns "none", "proxy-v1", "proxy-v2" or "toa".
func (a ClientAddr) String() string {
	if a < numClientAddrs {
		return clientAddrNames[a]
	}
	return fmt.Sprintf("client-addr(%d)", uint8(a))
}

// The client's address at a FULLNAT real server.
//
// FULLNAT replaces the client's address by a local address, so the real
// server no longer sees who it serves. A service may tell it:
//
//   - PROXY protocol (HAProxy's specification, v1 text or v2 binary): a
//     header before the connection's first byte toward the real server,
//     naming CIP:cport and VIP:vport. For TCP the header takes hlen bytes of
//     the real server's sequence space that the client never sent, so from
//     then on every segment is translated for the life of the session:
//     client → server sequence numbers + hlen, server → client
//     acknowledgements and SACK edges − hlen. The header sits at the
//     client's first sequence number (isn, its SYN's + 1) in the server's
//     stream, and every client segment that starts there carries it until
//     the server acknowledges it: the handshake's last ACK (so that a
//     server-speaks-first protocol gets it without waiting for client data),
//     a first data segment, and any retransmission of either, so a lost or
//     reordered header is sent again with whatever the client resends, the
//     same bytes at the same sequence numbers each time. The real server's
//     SYN-ACK advertises an MSS hlen smaller, so the client's segments
//     leave room for the header; a first segment that still does not fit
//     (the real server's MSS, the egress MTU, the buffer) is cut, and the
//     client resends the rest when the acknowledgement says so
//     (ctrProxyTrimmed). For UDP (v2 only) every datagram toward the real
//     server starts with the header; nothing is removed on the way back.
//   - TOA (DPVS's TCP option 254, length 8: cport and CIP) in the client's
//     SYN and in its segments until the real server sends one after its
//     SYN-ACK (by then its TOA module has read the handshake's last ACK),
//     where the options have room (40 bytes) and the segment stays within
//     the egress MTU; the SYN-ACK's MSS is lowered by 8 for that. A segment
//     without room is forwarded without it and counted (ctrTOANoRoom).
//
// Sessions of these services carry FlagClientAddr, which keeps them off the
// established fast path (Core.established): only they pay for the
// translation. The PROXY protocol's per-session state (isn, hlen, the real
// server's MSS) lives in Core.ext, a side table indexed like the session
// table whose pages only these sessions touch; the 96-byte Session does not
// grow. Sequence tracking against blind resets (seq.go) and the TCP states
// see the segments as the client and the real server sent them.

// seqExt is the side-table entry of a TCP session of a PROXY protocol
// service, written by its core only.
type seqExt struct {
	isn  uint32 // the client's first sequence number: where the header starts
	mss  uint16 // the real server's MSS (its SYN-ACK's option, else 536)
	hlen uint8  // the header's length: the sequence offset of the client's bytes
	ver  ClientAddr
}

// defaultMSS is the MSS of a peer that advertises none (RFC 1122 §4.2.2.6).
const defaultMSS = 536

// toaLen is the length of the TOA option: kind 254, length 8, port, IPv4.
const (
	toaKind = 254
	toaLen  = 8
)

// proxyV2Sig is the PROXY protocol v2 signature.
var proxyV2Sig = [12]byte{0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a}

// proxyV2Len is the length of a v2 header for IPv4 (16 + 12 address bytes).
const proxyV2Len = 28

// ProxyHeader appends the PROXY protocol header of version v (ProxyV1 or
// ProxyV2) for a connection of protocol proto (TCP or UDP) from client
// cip:cport to vip:vport to b. For tests and tools; the datapath writes it
// in place with putProxyHeader.
func ProxyHeader(b []byte, v ClientAddr, proto uint8, cip, vip header.Addr4, cport, vport uint16) []byte {
	o := Tuple4{Src: cip, Dst: vip, SPort: cport, DPort: vport, Proto: proto}
	n := proxyLen(v, &o)
	b = append(b, make([]byte, n)...)
	putProxyHeader(b[len(b)-n:], v, &o)
	return b
}

// proxyLen returns the length of the header of version v for a connection
// whose client tuple is o.
func proxyLen(v ClientAddr, o *Tuple4) int {
	if v == ProxyV2 {
		return proxyV2Len
	}
	// "PROXY TCP4 " CIP " " VIP " " CPORT " " VPORT "\r\n"
	return len("PROXY TCP4 ") + addrLen(o.Src) + 1 + addrLen(o.Dst) + 1 + decLen(o.SPort) + 1 + decLen(o.DPort) + 2
}

// putProxyHeader writes the header of version v for the connection whose
// client tuple is o into b, which holds exactly proxyLen bytes.
func putProxyHeader(b []byte, v ClientAddr, o *Tuple4) {
	if v == ProxyV2 {
		copy(b, proxyV2Sig[:])
		b[12] = 0x21 // version 2, PROXY
		b[13] = 0x11 // AF_INET, STREAM
		if o.Proto == header.IPProtoUDP {
			b[13] = 0x12 // AF_INET, DGRAM
		}
		binary.BigEndian.PutUint16(b[14:], 12)
		copy(b[16:20], o.Src[:])
		copy(b[20:24], o.Dst[:])
		binary.BigEndian.PutUint16(b[24:], o.SPort)
		binary.BigEndian.PutUint16(b[26:], o.DPort)
		return
	}
	i := copy(b, "PROXY TCP4 ")
	i += putAddr(b[i:], o.Src)
	b[i] = ' '
	i += 1 + putAddr(b[i+1:], o.Dst)
	b[i] = ' '
	i += 1 + putDec(b[i+1:], o.SPort)
	b[i] = ' '
	i += 1 + putDec(b[i+1:], o.DPort)
	b[i], b[i+1] = '\r', '\n'
}

func decLen(v uint16) int {
	switch {
	case v >= 10000:
		return 5
	case v >= 1000:
		return 4
	case v >= 100:
		return 3
	case v >= 10:
		return 2
	}
	return 1
}

// putDec writes v in decimal to b and returns its length.
func putDec(b []byte, v uint16) int {
	n := decLen(v)
	for i := n - 1; i >= 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return n
}

func addrLen(a header.Addr4) int {
	return decLen(uint16(a[0])) + decLen(uint16(a[1])) + decLen(uint16(a[2])) + decLen(uint16(a[3])) + 3
}

// putAddr writes a in dotted decimal to b and returns its length.
func putAddr(b []byte, a header.Addr4) int {
	i := 0
	for j, x := range a {
		if j > 0 {
			b[i] = '.'
			i++
		}
		i += putDec(b[i:], uint16(x))
	}
	return i
}

// setWord16 stores v at seg[off:off+2] and updates the checksum *sum that
// covers seg (whose start is 16-bit aligned in the sum) incrementally, at
// any alignment of off (RFC 1624 over the aligned words that change).
func setWord16(seg []byte, off int, v uint16, sum *uint16) {
	a, e := off&^1, (off+3)&^1
	old := header.Checksum(seg[a:e], 0)
	binary.BigEndian.PutUint16(seg[off:], v)
	*sum = ^header.ChecksumCombine(header.ChecksumCombine(^*sum, ^old), header.Checksum(seg[a:e], 0))
}

// setWord32 is setWord16 for a 32-bit value.
func setWord32(seg []byte, off int, v uint32, sum *uint16) {
	a, e := off&^1, (off+5)&^1
	old := header.Checksum(seg[a:e], 0)
	binary.BigEndian.PutUint32(seg[off:], v)
	*sum = ^header.ChecksumCombine(header.ChecksumCombine(^*sum, ^old), header.Checksum(seg[a:e], 0))
}

// TCP option kinds the translation reads.
const (
	optEnd  = 0
	optNOP  = 1
	optMSS  = 2
	optSACK = 5
)

// tcpOption returns the offset in t of the first option of kind k and its
// length, or -1 when t has none or its options are malformed.
func tcpOption(t header.TCP, k byte) (int, int) {
	end := t.DataOffset()
	for i := header.TCPMinLen; i < end; {
		switch t[i] {
		case optEnd:
			return -1, 0
		case optNOP:
			i++
			continue
		}
		if i+1 >= end || t[i+1] < 2 || i+int(t[i+1]) > end {
			return -1, 0
		}
		if t[i] == k {
			return i, int(t[i+1])
		}
		i += int(t[i+1])
	}
	return -1, 0
}

// clientAddr applies the client-address option of session s (idx) to a
// segment or datagram received in direction d, before rewrite (so it sees
// the addresses as received): it may grow the frame (f.Len), so it returns
// the IPv4 and L4 headers anew, or a drop reason. mtu is the egress port's
// MTU. The session carries what it needs (its flags, Core.ext), so a
// service changed or removed meanwhile does not change how its
// connections are translated.
func (c *Core) clientAddr(f *Frame, ip header.IPv4, l4 []byte, s *Session, idx int32, d Dir, mtu int) (header.IPv4, []byte, DropReason) {
	if s.Orig.Proto == header.IPProtoUDP {
		if d == DirOut {
			return ip, l4, ReasonNone // nothing to remove on the way back
		}
		return c.proxyUDP(f, ip, l4, s, mtu)
	}
	t := header.TCP(l4)
	if s.Flags&FlagTOA != 0 {
		return c.toa(f, ip, t, s, d, mtu)
	}
	e := &c.ext[idx]
	if d == DirOut {
		proxyOut(t, s, e)
		return ip, l4, ReasonNone
	}
	return c.proxyIn(f, ip, t, s, e, mtu)
}

// proxyIn translates a client segment of a PROXY protocol session: a SYN
// (re)starts the session's translation, a segment at the client's first
// sequence number carries the header while the real server has not
// acknowledged it, every other one has its sequence number moved by hlen.
func (c *Core) proxyIn(f *Frame, ip header.IPv4, t header.TCP, s *Session, e *seqExt, mtu int) (header.IPv4, []byte, DropReason) {
	fl := t.Flags()
	seq := t.SequenceNumber()
	if fl&header.TCPFlagSYN != 0 {
		if isPureSYN(fl) && s.State == StateSynRecv {
			// A new connection, or this one's SYN again (a SYN that
			// leaves the session in another state, as one inside an
			// established connection does, restarts nothing, as for
			// tcpState's tracking): the header goes where its first
			// byte will.
			e.isn, e.mss, e.hlen = seq+1, defaultMSS, uint8(proxyLen(e.ver, &s.Orig))
			s.Flags &^= FlagCAddrDone
			if len(t) > t.DataOffset() {
				return cutSYNData(f, ip, t)
			}
		}
		return ip, t, ReasonNone
	}
	if seq == e.isn && s.Flags&FlagCAddrDone == 0 {
		if fl&header.TCPFlagRST != 0 {
			// Unmoved: if the real server has not received the header,
			// its next expected number is the client's; if it has, this
			// falls in its window and its challenge ACK acknowledges
			// the header (proxyOut), after which the client's RST is
			// moved like any segment (RFC 5961 §3.2).
			return ip, t, ReasonNone
		}
		return c.insertProxy(f, ip, t, s, e, mtu)
	}
	sum := t.Checksum()
	setWord32(t, 4, seq+uint32(e.hlen), &sum)
	t.SetChecksum(sum)
	return ip, t, ReasonNone
}

// grow makes the frame's IPv4 packet n bytes long, its bytes already in
// place in f.Buf: the total length, the header checksum and the frame's
// length follow.
func grow(f *Frame, n int) header.IPv4 {
	ip := header.IPv4(f.Buf[f.Off+f.L3 : f.Off+f.L3+n])
	ip.SetChecksum(header.ChecksumUpdate16(ip.Checksum(), ip.TotalLength(), uint16(n)))
	ip.SetTotalLength(uint16(n))
	f.Len = max(f.L3+n, minFrameLen)
	return ip
}

// cutSYNData removes the payload of a client's SYN (TCP Fast Open data,
// RFC 7413), which would reach the real server before the header: the
// server acknowledges the SYN alone, and the client sends the data again
// after the handshake, behind the header.
func cutSYNData(f *Frame, ip header.IPv4, t header.TCP) (header.IPv4, []byte, DropReason) {
	src, dst := ip.SourceAddress(), ip.DestinationAddress()
	if !t.IsChecksumValid(src, dst) {
		return ip, t, ReasonBadChecksum
	}
	n := ip.HeaderLength() + t.DataOffset()
	ip.SetChecksum(header.ChecksumUpdate16(ip.Checksum(), ip.TotalLength(), uint16(n)))
	ip.SetTotalLength(uint16(n))
	ip = ip[:n]
	end := f.L3 + n
	if end < minFrameLen {
		// Padded to the Ethernet minimum, within the frame as received.
		end = min(minFrameLen, f.Len)
		clear(f.Buf[f.Off+f.L3+n : f.Off+end])
	}
	f.Len = end
	t = header.TCP(ip[ip.HeaderLength():])
	t.SetChecksum(t.CalculateChecksum(src, dst))
	return ip, t, ReasonNone
}

// insertProxy puts the header at the start of the payload of t, a client
// segment at the session's first sequence number, moving the payload up:
// the payload is cut to what fits the real server's MSS, the egress MTU and
// the buffer with the header before it (a FIN goes with the cut part). The
// segment's checksum is verified before and computed after, so a segment
// damaged on the way is not made valid.
func (c *Core) insertProxy(f *Frame, ip header.IPv4, t header.TCP, s *Session, e *seqExt, mtu int) (header.IPv4, []byte, DropReason) {
	src, dst := ip.SourceAddress(), ip.DestinationAddress()
	if !t.IsChecksumValid(src, dst) {
		return ip, t, ReasonBadChecksum
	}
	ihl, thl, hlen := ip.HeaderLength(), t.DataOffset(), int(e.hlen)
	data := len(t) - thl
	start := f.Off + f.L3 + ihl + thl // the payload in f.Buf
	keep := min(data, int(e.mss)-hlen, mtu-ihl-thl-hlen, len(f.Buf)-start-hlen)
	if keep < 0 {
		return ip, t, ReasonTooBig // an MSS or MTU below the header: nothing fits
	}
	if keep < data {
		c.ctr.n[ctrProxyTrimmed]++
		if fl := t.Flags(); fl&header.TCPFlagFIN != 0 {
			t.SetFlags(fl &^ header.TCPFlagFIN)
		}
	}
	b := f.Buf[:start+hlen+keep]
	copy(b[start+hlen:], b[start:start+keep])
	putProxyHeader(b[start:start+hlen], e.ver, &s.Orig)
	n := ihl + thl + hlen + keep
	ip = grow(f, n)
	t = header.TCP(ip[ihl:])
	t.SetChecksum(t.CalculateChecksum(src, dst))
	c.ctr.n[ctrProxyHeaders]++
	return ip, t, ReasonNone
}

// proxyOut translates a real server's segment of a PROXY protocol session:
// its acknowledgement and SACK edges back by hlen (a number inside the
// header acknowledges none of the client's bytes: the client's first
// sequence number), and in its SYN-ACK the MSS, lowered by hlen so that the
// client's segments leave room for the header.
func proxyOut(t header.TCP, s *Session, e *seqExt) {
	fl := t.Flags()
	sum := t.Checksum()
	if fl&header.TCPFlagSYN != 0 {
		if i, n := tcpOption(t, optMSS); i >= 0 && n == 4 {
			m := binary.BigEndian.Uint16(t[i+2:])
			e.mss = m
			setWord16(t, i+2, max(m, uint16(e.hlen)+1)-uint16(e.hlen), &sum)
		}
	}
	if fl&header.TCPFlagACK != 0 {
		a := t.AckNumber()
		if off := a - e.isn; int32(off) >= int32(e.hlen) {
			s.Flags |= FlagCAddrDone
		}
		if x := unshift(a, e); x != a {
			setWord32(t, 8, x, &sum)
		}
		if i, n := tcpOption(t, optSACK); i >= 0 {
			for j := i + 2; j+4 <= i+n; j += 4 {
				v := binary.BigEndian.Uint32(t[j:])
				if x := unshift(v, e); x != v {
					setWord32(t, j, x, &sum)
				}
			}
		}
	}
	t.SetChecksum(sum)
}

// unshift maps a sequence number of the real server's view of the client's
// stream to the client's.
func unshift(v uint32, e *seqExt) uint32 {
	off := int32(v - e.isn)
	switch {
	case off >= int32(e.hlen):
		return v - uint32(e.hlen)
	case off >= 0:
		return e.isn
	}
	return v
}

// unshiftQuoted moves back the sequence number of il4, the quoted TCP
// header (at least 8 bytes) of a segment the gateway sent toward the real
// server of PROXY protocol session idx, so that an ICMP error about it
// names the client's own number; the quoted TCP checksum follows when the
// quote holds it.
func (c *Core) unshiftQuoted(il4 []byte, idx int32) {
	e := &c.ext[idx]
	seq := binary.BigEndian.Uint32(il4[4:])
	x := unshift(seq, e)
	if len(il4) < header.TCPMinLen {
		binary.BigEndian.PutUint32(il4[4:], x)
		return
	}
	t := header.TCP(il4)
	sum := t.Checksum()
	setWord32(t, 4, x, &sum)
	t.SetChecksum(sum)
}

// toa adds the TOA option to a client segment of a TOA session (its SYN,
// then its segments until the real server has sent one after its SYN-ACK),
// and lowers the MSS of the real server's SYN-ACK by its length.
func (c *Core) toa(f *Frame, ip header.IPv4, t header.TCP, s *Session, d Dir, mtu int) (header.IPv4, []byte, DropReason) {
	fl := t.Flags()
	if d == DirOut {
		if fl&header.TCPFlagSYN == 0 {
			s.Flags |= FlagCAddrDone
			return ip, t, ReasonNone
		}
		if i, n := tcpOption(t, optMSS); i >= 0 && n == 4 {
			sum := t.Checksum()
			m := binary.BigEndian.Uint16(t[i+2:])
			setWord16(t, i+2, max(m, toaLen+1)-toaLen, &sum)
			t.SetChecksum(sum)
		}
		return ip, t, ReasonNone
	}
	if isPureSYN(fl) && s.State == StateSynRecv {
		s.Flags &^= FlagCAddrDone
	} else if s.Flags&FlagCAddrDone != 0 || fl&header.TCPFlagRST != 0 {
		return ip, t, ReasonNone
	}
	src, dst := ip.SourceAddress(), ip.DestinationAddress()
	ihl, thl := ip.HeaderLength(), t.DataOffset()
	start := f.Off + f.L3 + ihl + thl // the payload in f.Buf
	if thl+toaLen > 60 || len(ip)+toaLen > mtu || start+len(t)-thl+toaLen > len(f.Buf) {
		c.ctr.n[ctrTOANoRoom]++
		return ip, t, ReasonNone
	}
	if !t.IsChecksumValid(src, dst) {
		return ip, t, ReasonBadChecksum
	}
	data := len(t) - thl
	b := f.Buf[:start+toaLen+data]
	copy(b[start+toaLen:], b[start:start+data])
	o := b[start : start+toaLen]
	o[0], o[1] = toaKind, toaLen
	binary.BigEndian.PutUint16(o[2:], s.Orig.SPort)
	copy(o[4:], s.Orig.Src[:])
	n := len(ip) + toaLen
	ip = grow(f, n)
	t = header.TCP(ip[ihl:])
	t.SetDataOffset(thl + toaLen)
	t.SetChecksum(t.CalculateChecksum(src, dst))
	c.ctr.n[ctrTOAAdded]++
	return ip, t, ReasonNone
}

// proxyUDP puts the PROXY protocol v2 header at the start of a client's
// datagram. A datagram that would no longer fit the egress MTU is dropped
// (too_big): UDP has no MSS to lower, and the datapath does not fragment.
func (c *Core) proxyUDP(f *Frame, ip header.IPv4, l4 []byte, s *Session, mtu int) (header.IPv4, []byte, DropReason) {
	u := header.UDP(l4)
	ihl := ip.HeaderLength()
	start := f.Off + f.L3 + ihl + header.UDPLen
	data := len(u) - header.UDPLen
	if len(ip)+proxyV2Len > mtu || start+proxyV2Len+data > len(f.Buf) {
		return ip, l4, ReasonTooBig
	}
	src, dst := ip.SourceAddress(), ip.DestinationAddress()
	csum := u.Checksum() != 0
	if csum && !u.IsChecksumValid(src, dst) {
		return ip, l4, ReasonBadChecksum
	}
	b := f.Buf[:start+proxyV2Len+data]
	copy(b[start+proxyV2Len:], b[start:start+data])
	putProxyHeader(b[start:start+proxyV2Len], ProxyV2, &s.Orig)
	n := len(ip) + proxyV2Len
	ip = grow(f, n)
	u = header.UDP(ip[ihl:])
	u.SetLength(uint16(len(u)))
	if csum {
		x := u.CalculateChecksum(src, dst)
		if x == 0 {
			x = 0xffff
		}
		u.SetChecksum(x)
	}
	c.ctr.n[ctrProxyHeaders]++
	return ip, u, ReasonNone
}
