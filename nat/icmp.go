package nat

import (
	"encoding/binary"

	"fngw/header"
	"fngw/tunnel"
)

// ICMP error translation (LVS ip_vs_in_icmp / ip_vs_out_icmp and
// ip_vs_nat_icmp; RFC 5508 §4 for the NAT behaviour it amounts to).
//
// An ICMP error quotes a packet the gateway sent: in direction e that packet
// left with the tuple Out(e) = In(other).Reverse(), so the reverse of the
// quoted tuple is In(d) for d = other(e), and the lookup finds the session
// and the direction the error travels in. The error is then made to look as
// if it concerned the packet before the rewrite: the quoted header gets the
// tuple In(e) = Out(d).Reverse() (addresses, ports, the quoted IPv4 checksum
// and, when quoted in full, the TCP/UDP checksum), and the outer addresses
// the session rewrites in direction d are rewritten like any packet of d: so
// a frag-needed from the real server's side reaches the client from the VIP
// about its own packet, and path-MTU discovery works through the gateway.
// FULLNAT does not change packet sizes, so the next-hop MTU is kept.
// The ICMP checksum is verified and recomputed over the whole message
// (errors are rare).

// icmpError handles ICMP destination unreachable, source quench and time
// exceeded (the types LVS translates); other ICMP is not ours.
func (c *Core) icmpError(f *Frame, pkt []byte, ip header.IPv4) Result {
	if ip.IsFragment() {
		return notMine
	}
	svcs, stack := c.svcs, c.stack
	outerDst := ip.DestinationAddress()
	toLaddr := svcs.IsLocalAddr(outerDst)
	ours := toLaddr || svcs.IsVIP(outerDst)
	icmp := header.ICMPv4(ip[ip.HeaderLength():])
	if !icmp.IsValid(len(icmp)) {
		if ours {
			return drop(ReasonMalformedL4)
		}
		return notMine
	}
	switch icmp.Type() {
	case header.ICMPv4DstUnreachable, icmpSourceQuench, header.ICMPv4TimeExceeded:
	default:
		return notMine
	}
	inner := header.IPv4(icmp[header.ICMPv4MinLen:])
	// RFC 792 quotes the IPv4 header and the first 8 bytes of its payload:
	// the ports, and the UDP checksum. The quoted total length may exceed
	// what is quoted, so IsValid is not the gate here.
	if len(inner) < header.IPv4MinLen || inner.Version() != header.IPv4Version ||
		inner.HeaderLength() < header.IPv4MinLen || len(inner) < inner.HeaderLength()+8 {
		if ours {
			return drop(ReasonMalformedL4)
		}
		return notMine
	}
	proto := inner.Protocol()
	if proto == header.IPProtoIPIP && inner.FragmentOffset() == 0 {
		return c.tunnelError(f, ip, icmp, inner)
	}
	if (proto != header.IPProtoTCP && proto != header.IPProtoUDP) || inner.FragmentOffset() != 0 {
		return notMine
	}
	il4 := []byte(inner[inner.HeaderLength():])
	k := Tuple4{
		Src:   inner.DestinationAddress(),
		Dst:   inner.SourceAddress(),
		SPort: binary.BigEndian.Uint16(il4[2:]),
		DPort: binary.BigEndian.Uint16(il4[0:]),
		Proto: proto,
	}
	if toLaddr && c.ncores > 1 {
		if o := OwnerCore(k.DPort, c.ncores); o != c.id {
			return redirectTo(o)
		}
	}
	idx, d := c.tab.Lookup(&k)
	if idx < 0 {
		if toLaddr {
			return drop(ReasonNoSession)
		}
		if c.ncores > 1 {
			// About a NAT-capable connection: its owner is known.
			if o, ok := svcs.natOwner(&k, svcs.find(&k), c.ncores); ok && o != c.id {
				return redirectTo(o)
			}
		}
		// To a VIP: the session may live on another core (RSS spreads
		// ICMP by addresses only); the caller decides.
		return notMine
	}
	s := c.tab.At(idx)
	if s.Mode != ModeDR && ip.TTL() <= 1 {
		// No ICMP error about an ICMP error (RFC 1812 §4.3.2.7).
		return drop(ReasonTTLExceeded)
	}
	ds := &s.Dir[d]
	in, out := s.In(d), s.Out(d)
	r, nh := ReasonNone, header.Addr4{}
	if !s.egressValid(d, stack) {
		if nh, r = c.resolveEgress(s, d, hopFor(s, s.In(d^1))); r != ReasonNone && r != ReasonNoNeigh {
			return drop(r)
		}
	}
	switch s.Mode {
	case ModeDR:
	case ModeTUN:
		// Into the tunnel like the session's other packets (LVS
		// ip_vs_icmp_xmit uses the connection's transmitter for every
		// method but NAT); the real server's stack matches the quote
		// against its own reply. Errors are small: one that does not fit
		// is dropped, never answered with another error.
		if len(ip)+tunnel.IPIPLen > int(stack.PortMTU(ds.Port)) {
			return drop(ReasonTooBig)
		}
		if f.Off < tunnel.IPIPLen {
			return drop(ReasonNoHeadroom)
		}
		pkt = c.encap(f, ip, s)
	default:
		// The checksum is recomputed below, so verify it first rather
		// than launder a corrupted message (LVS handle_response_icmp).
		if !icmp.IsChecksumValid() {
			return drop(ReasonBadChecksum)
		}
		if in.Src != out.Src {
			ip.SetSourceAddressWithChecksumUpdate(out.Src)
		}
		if in.Dst != out.Dst {
			ip.SetDestinationAddressWithChecksumUpdate(out.Dst)
		}
		ip.DecrementTTLWithChecksumUpdate()
		translateQuoted(inner, il4, out.Reverse())
		if d == DirOut && s.Flags&(FlagClientAddr|FlagTOA) == FlagClientAddr && proto == header.IPProtoTCP {
			c.unshiftQuoted(il4, idx)
		}
		icmp.SetChecksum(icmp.CalculateChecksum())
	}
	c.ctr.n[ctrICMP]++
	eth := header.Ethernet(pkt)
	eth.SetSource(stack.PortMAC(ds.Port))
	if r == ReasonNoNeigh {
		return Result{Act: ActControl, Reason: ReasonNoNeigh, Port: ds.Port, NextHop: nh.Uint32()}
	}
	eth.SetDestination(ds.DstMAC)
	return Result{Act: ActTx, Port: ds.Port}
}

// icmpSourceQuench is the deprecated source quench type (RFC 6633), which LVS
// still translates.
const icmpSourceQuench = 4

// translateQuoted rewrites the quoted packet's header to tuple q, updating the
// quoted IPv4 checksum and, when the quote holds it, the TCP/UDP checksum
// (as Linux NAT does for ICMP payloads).
func translateQuoted(inner header.IPv4, il4 []byte, q Tuple4) {
	oldSrc, oldDst := inner.SourceAddress(), inner.DestinationAddress()
	inner.SetSourceAddressWithChecksumUpdate(q.Src)
	inner.SetDestinationAddressWithChecksumUpdate(q.Dst)
	switch {
	case q.Proto == header.IPProtoTCP && len(il4) >= header.TCPMinLen:
		t := header.TCP(il4)
		t.UpdateChecksumPseudoHeaderAddress(oldSrc, q.Src)
		t.UpdateChecksumPseudoHeaderAddress(oldDst, q.Dst)
		t.SetSourcePortWithChecksumUpdate(q.SPort)
		t.SetDestinationPortWithChecksumUpdate(q.DPort)
	case q.Proto == header.IPProtoUDP:
		u := header.UDP(il4)
		u.UpdateChecksumPseudoHeaderAddress(oldSrc, q.Src)
		u.UpdateChecksumPseudoHeaderAddress(oldDst, q.Dst)
		u.SetSourcePortWithChecksumUpdate(q.SPort)
		u.SetDestinationPortWithChecksumUpdate(q.DPort)
	default:
		binary.BigEndian.PutUint16(il4[0:], q.SPort)
		binary.BigEndian.PutUint16(il4[2:], q.DPort)
	}
}

// tunnelError relays a fragmentation needed about one of the gateway's own
// IPIP packets to the client whose packet it carried, as LVS's ip_vs_in_icmp
// does for "errors for IPIP packets originated from this node": a router on
// the way to a TUN real server has a smaller MTU than the gateway's port, and
// without the relay the client's path-MTU discovery would stall (a black
// hole). icmp is the router's message to the gateway's port address, outer
// the IPIP header it quotes.
//
// The message is relayed when it is about a packet from that address to a
// TUN real server (Services.tunDests), the router quoted the client's IPv4
// header and 8 bytes of its payload (Linux quotes up to 576 bytes; a router
// that quotes only RFC 792's 8 bytes leaves nothing to relay), and the
// quoted connection is a live TUN session to that real server: anyone can
// send such a message, and without the session a forged one would make the
// gateway send fragmentation needed from the VIP to any address (a
// broadcast, a victim), spending the ICMP budget and the neighbour table on
// it. The client must also be a unicast host that is not the gateway's own.
// The ICMP arrives on whichever core RSS picks for the router, and a TUN
// session lives on the core RSS picked for its client, which no core can
// compute: a core without the session hands the message to the next core
// (relayElsewhere) until one has it or every core has looked
// (relay_refused). The client gets fragmentation needed from the VIP with
// the router's MTU minus the outer header, quoting its packet, built over
// the frame (the quote stays in place, the new headers go before it),
// through the session's cached egress toward the client, rate-limited like
// the gateway's own errors. Other errors about IPIP packets are not relayed
// (notMine: they go to the control lcore like any ICMP to the gateway).
func (c *Core) tunnelError(f *Frame, ip header.IPv4, icmp header.ICMPv4, outer header.IPv4) Result {
	svcs, stack := c.svcs, c.stack
	if icmp.Type() != header.ICMPv4DstUnreachable || icmp.Code() != header.ICMPv4FragNeeded ||
		outer.SourceAddress() != ip.DestinationAddress() || !svcs.tunDests.has(outer.DestinationAddress()) {
		return notMine
	}
	q := header.IPv4(outer[outer.HeaderLength():]) // the client's packet as tunnelled
	if len(q) < header.IPv4MinLen || q.Version() != header.IPv4Version || q.HeaderLength() < header.IPv4MinLen ||
		len(q) < q.HeaderLength()+8 || !svcs.IsVIP(q.DestinationAddress()) || q.FragmentOffset() != 0 {
		return notMine
	}
	if !icmp.IsChecksumValid() {
		return drop(ReasonBadChecksum)
	}
	mtu := int(icmp.MTU()) - tunnel.IPIPLen
	if mtu < minIPv4MTU || !q.DF() {
		// No usable MTU (an RFC 792 router reports none), or a client
		// packet without DF (then the outer had none either: a router
		// fragments it rather than complain).
		return drop(ReasonTooBig)
	}
	vip, cip := q.DestinationAddress(), q.SourceAddress()
	if _, _, own := stack.Owned(cip); own || !isUnicastHost(cip) || svcs.IsVIP(cip) || svcs.IsLocalAddr(cip) {
		return drop(ReasonRelayRefused)
	}
	ql4 := q[q.HeaderLength():]
	k := Tuple4{Src: cip, Dst: vip, SPort: binary.BigEndian.Uint16(ql4[0:]), DPort: binary.BigEndian.Uint16(ql4[2:]), Proto: q.Protocol()}
	idx, d := c.tab.Lookup(&k)
	if idx < 0 || d != DirIn || c.tab.At(idx).Mode != ModeTUN || c.tab.At(idx).Reply.Src != outer.DestinationAddress() {
		return c.relayElsewhere(f)
	}
	s := c.tab.At(idx)
	ds := &s.Dir[DirOut] // the egress toward the client (see Session.Dir)
	var nh header.Addr4
	r := ReasonNone
	if !s.egressValid(DirOut, stack) {
		nh, s.ref[DirOut], r = resolve(ds, stack, hop{addr: cip})
		if r == ReasonNoRoute {
			return drop(r)
		}
	}
	if !c.icmp.Allow(c.now) {
		return drop(ReasonICMPRateLimited)
	}
	const pre = header.IPv4MinLen + header.ICMPv4MinLen
	l3 := f.L3
	qOff := f.Off + l3 + ip.HeaderLength() + header.ICMPv4MinLen + outer.HeaderLength()
	quote := q.HeaderLength() + 8
	off := qOff - pre - l3 // > f.Off: two IPv4 headers and the ICMP header go
	copy(f.Buf[off:off+l3], f.Buf[f.Off:f.Off+l3])
	b := f.Buf[off+l3 : qOff+quote]
	header.IPv4(b).Encode(&header.IPv4Fields{TOS: 0xc0, TotalLength: uint16(len(b)), ID: c.nextID(),
		TTL: header.IPv4DefaultTTL, Protocol: header.IPProtoICMP, Src: vip, Dst: cip})
	m := header.ICMPv4(b[header.IPv4MinLen:])
	m.SetType(header.ICMPv4DstUnreachable)
	m.SetCode(header.ICMPv4FragNeeded)
	m.SetChecksum(0)
	m.SetMTU(uint16(mtu))
	m.SetChecksum(m.CalculateChecksum())
	f.Off, f.Len = off, l3+len(b)
	c.ctr.n[ctrICMPSent]++
	eth := header.Ethernet(f.Buf[f.Off : f.Off+f.Len])
	eth.SetSource(stack.PortMAC(ds.Port))
	if r == ReasonNoNeigh {
		return Result{Act: ActControl, Reason: ReasonNoNeigh, Port: ds.Port, NextHop: nh.Uint32()}
	}
	eth.SetDestination(ds.DstMAC)
	return Result{Act: ActTx, Port: ds.Port}
}

// isUnicastHost reports whether a may be a host's address on the wire: not
// in 0/8 ("this network"), 127/8 (loopback), multicast, reserved or the
// limited broadcast.
func isUnicastHost(a header.Addr4) bool { return a[0] != 0 && a[0] != 127 && a[0] < 224 }

// relayMark marks, in its Ethernet destination, a fragmentation needed that
// a core without the session handed on (relayElsewhere): a multicast,
// locally administered address followed by the core that received it from
// the wire, two bytes. A frame from the wire never carries a multicast
// destination here (the worker drops those before the datapath), so a marked
// frame is one a core handed on.
var relayMark = [4]byte{0x03, 'f', 'n', 'g'}

// relayElsewhere hands tunnelError's frame f, whose session this core does
// not have, to the next core, or drops it as relay_refused once every core
// has looked: the first core marks the frame with its number (relayMark,
// over the Ethernet destination, which the relay rewrites), and the core
// before it in the round drops it.
func (c *Core) relayElsewhere(f *Frame) Result {
	if c.ncores == 1 || f.Off+header.EthernetLen > len(f.Buf) {
		return drop(ReasonRelayRefused)
	}
	dst := f.Buf[f.Off : f.Off+6]
	origin := c.id
	if [4]byte(dst[:4]) == relayMark {
		origin = int(dst[4])<<8 | int(dst[5])
	} else {
		copy(dst, relayMark[:])
		dst[4], dst[5] = byte(c.id>>8), byte(c.id)
	}
	next := (c.id + 1) % c.ncores
	if next == origin || origin >= c.ncores {
		return drop(ReasonRelayRefused)
	}
	return redirectTo(next)
}
