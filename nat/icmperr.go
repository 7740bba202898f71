package nat

import (
	"fngw/arp"
	"fngw/header"
)

// ICMP errors the datapath originates about packets it forwards, as a
// router does (RFC 1812 §4.3.2 and §5.3.1): time exceeded for a TTL that
// would reach 0, fragmentation needed for a DF packet larger than the
// egress MTU (RFC 1191). LVS sends the same from ip_vs_xmit.c
// (decrement_ttl, ensure_mtu_is_adequate).
//
// Each error is built over the frame that caused it, on the worker that
// received it, like the TUN fragmentation needed of fragNeeded: the quoted
// IPv4 header and 8 payload bytes stay where they are and the new Ethernet,
// IPv4 and ICMP headers go in front of them, into the mbuf's headroom. The
// frame then leaves like any other (ActTx toward the packet's source, or
// ActControl when that neighbour must be resolved), so the control lcore is
// not involved and nothing is allocated. The core's token bucket (Config
// ICMPRate, ICMPBurst) limits all the errors a core originates; past it the
// packet is dropped as icmp_rate_limited. When no error may be sent
// (RFC 1122 §3.2.2: about an ICMP error, a non-initial fragment, a
// broadcast or multicast; no headroom; no route back) the packet is
// dropped under the reason that made it undeliverable (ttl_exceeded,
// too_big), so every outcome is counted.

// errorSource returns the address an error about ip comes from when the
// gateway owns ip's destination (a VIP or a local address): that
// destination, as LVS's icmp_send answers packets to the director from the
// address they were sent to. Otherwise (a NAT reply in transit through the
// gateway) it returns the zero address: originate then takes the address of
// the port the error leaves from, as Linux does by default
// (icmp_errors_use_inbound_ifaddr = 0).
func errorSource(ip header.IPv4, stack *arp.Snapshot) header.Addr4 {
	dst := ip.DestinationAddress()
	if _, _, own := stack.Owned(dst); own {
		return dst
	}
	return header.Addr4{}
}

// timeExceeded answers ip, whose TTL would reach 0, with ICMP time exceeded
// in transit (RFC 792 type 11 code 0) instead of forwarding it.
func (c *Core) timeExceeded(f *Frame, ip header.IPv4) Result {
	e := arp.ICMPError{Type: header.ICMPv4TimeExceeded, Code: header.ICMPv4TTLExceeded, Src: errorSource(ip, c.stack)}
	return c.originate(f, ip, &e, nil, ReasonTTLExceeded)
}

// tooBig answers ip, larger than mtu, the egress MTU, with fragmentation
// needed when it has DF (RFC 1191); without DF it is dropped as too_big: the
// datapath does not fragment (one mbuf in, one out).
func (c *Core) tooBig(f *Frame, ip header.IPv4, mtu int) Result {
	if !ip.DF() || mtu < minIPv4MTU {
		return drop(ReasonTooBig)
	}
	e := arp.ICMPError{Type: header.ICMPv4DstUnreachable, Code: header.ICMPv4FragNeeded, MTU: uint16(mtu), Src: errorSource(ip, c.stack)}
	return c.originate(f, ip, &e, nil, ReasonTooBig)
}

// originate replaces frame f, holding datagram ip at f.L3, with ICMP error e
// about ip, addressed to ip's source, and returns the verdict that sends it.
// s is the session whose Dir[DirOut] caches the egress toward ip's source
// (resolved here when stale) or nil for a lookup that caches nothing. fail is
// the reason to drop ip under when no error may be sent about it. The caller has set e's type, code,
// MTU and source (zero: the egress port's address); originate sets its ID.
func (c *Core) originate(f *Frame, ip header.IPv4, e *arp.ICMPError, s *Session, fail DropReason) Result {
	const pre = header.IPv4MinLen + header.ICMPv4MinLen // in front of the quote
	stack := c.stack
	if f.Off < pre {
		return drop(ReasonNoHeadroom)
	}
	var tmp Session
	if s == nil {
		s = &tmp
	}
	ds := &s.Dir[DirOut]
	r, nh := ReasonNone, header.Addr4{}
	if !s.egressValid(DirOut, stack) {
		nh, s.ref[DirOut], r = resolve(ds, stack, hop{addr: ip.SourceAddress()})
		if r == ReasonNoRoute {
			return drop(r)
		}
	}
	if e.Src.IsZero() {
		a, ok := stack.PortAddr(ds.Port)
		if !ok {
			return drop(fail) // an unnumbered port cannot speak IP
		}
		e.Src = a
	}
	if ip.FragmentOffset() != 0 {
		return drop(fail) // no error about a non-initial fragment, and no token spent
	}
	if !c.icmp.Allow(c.now) {
		return drop(ReasonICMPRateLimited)
	}
	off, l3 := f.Off-pre, f.L3
	e.ID = c.nextID()
	// The Ethernet header moves first: the ICMP header is written over
	// its old place. ip starts at f.Off+l3, pre bytes after the buffer
	// handed to the builder: the builder writes its headers below ip and
	// copies the quote onto itself (RFC 1122's exceptions it refuses are
	// rare here: errors, broadcasts and martians do not reach this point).
	copy(f.Buf[off:off+l3], f.Buf[f.Off:f.Off+l3])
	n := arp.BuildICMPError(f.Buf[off+l3:f.Off+l3+len(ip)], ip, e)
	if n == 0 {
		return drop(fail)
	}
	f.Off, f.Len = off, l3+n
	c.ctr.n[ctrICMPSent]++
	eth := header.Ethernet(f.Buf[f.Off : f.Off+f.Len])
	eth.SetSource(stack.PortMAC(ds.Port))
	if r == ReasonNoNeigh {
		return Result{Act: ActControl, Reason: ReasonNoNeigh, Port: ds.Port, NextHop: nh.Uint32()}
	}
	eth.SetDestination(ds.DstMAC)
	return Result{Act: ActTx, Port: ds.Port}
}
