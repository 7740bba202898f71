package nat

import (
	"encoding/binary"

	"fngw/frag"
	"fngw/header"
)

// IPv4 fragments of load-balanced traffic (LVS relies on netfilter's
// defragmentation; DPVS drops fragments). Here each fragment is forwarded
// as a fragment, with the rewrite of its datagram's first fragment:
//
//   - The first fragment (offset 0) carries the TCP or UDP header, so it
//     goes through the ordinary path (segment) and finds or creates its
//     session, or is redirected to the core that owns it. What was decided
//     is recorded in the core's frag.Table under (src, dst, proto, IP ID):
//     the ports, or the owner core. The incremental checksum update of the
//     first fragment's L4 header is right for the whole datagram.
//   - A later fragment looks its datagram up: it goes to the same owner
//     core, or, through the session the ports name, gets the same IPv4
//     rewrite (addresses, TTL, header checksum; the payload is untouched)
//     and egress. Without an entry it is dropped (frag_no_first).
//   - A first fragment that finds no room in the table is dropped
//     (frag_table_full): forwarding it alone would only fill the real
//     server's reassembly buffers.
//
// Fragments are not reassembled nor re-fragmented, so sizes do not change:
// a FULLNAT or NAT datagram that fitted the client's link fits the real
// server's when the MTUs are equal (the egress MTU is checked per fragment
// like any packet; a fragment has DF clear, so too large is too_big).
//
// RSS: a NIC hashes fragments by addresses only (they have no ports, and the
// first fragment is hashed like the others), so the fragments of one
// datagram reach one core. When the session lives on another core that is
// known from the first fragment (a FULLNAT reply's local port, a NAT
// client's NATOwner), the whole datagram follows it through the redirect
// ring. A client's datagram to a VIP in FULLNAT, DR or TUN mode stays on
// the core its fragments reach: with several workers, if the same flow's
// unfragmented packets reach another core, each core has its own session
// for it (see docs/robustness.md).

// fragValue packs what a first fragment's verdict needs to be repeated:
// the TCP/UDP ports it carried and the core that owns the session (0 for
// this one, else core+1).
func fragValue(sport, dport uint16, owner int) frag.Value {
	return frag.Value(uint64(sport) | uint64(dport)<<16 | uint64(owner)<<32)
}

// fragment handles a TCP or UDP fragment (ip.IsFragment).
func (c *Core) fragment(f *Frame, pkt []byte, ip header.IPv4) Result {
	if ip.FragmentOffset() != 0 {
		return c.laterFragment(f, pkt, ip)
	}
	svcs, now := c.svcs, c.now
	key := frag.KeyOf(ip) // before the rewrite changes the addresses
	if !c.frags.HasRoom(key, now) {
		// Refused before it creates a session or moves a counter.
		dst := ip.DestinationAddress()
		return ifOurs(svcs, dst, svcs.IsLocalAddr(dst), ReasonFragTableFull)
	}
	l4 := ip.Payload()
	var sport, dport uint16
	if len(l4) >= 4 {
		sport, dport = binary.BigEndian.Uint16(l4[0:]), binary.BigEndian.Uint16(l4[2:])
	}
	r := c.segment(f, pkt, ip, true, -1)
	owner := 0
	switch r.Act {
	case ActRedirect:
		owner = int(r.Core()) + 1
	case ActTx, ActControl:
	default:
		return r
	}
	c.frags.Insert(key, fragValue(sport, dport, owner), now) // HasRoom said it fits
	return r
}

// laterFragment forwards a non-first fragment like its datagram's first.
func (c *Core) laterFragment(f *Frame, pkt []byte, ip header.IPv4) Result {
	svcs := c.svcs
	dst := ip.DestinationAddress()
	toLaddr := svcs.IsLocalAddr(dst)
	if ip.Protocol() == header.IPProtoTCP && ip.FragmentOffset() == 8 {
		return ifOurs(svcs, dst, toLaddr, ReasonFragment) // RFC 1858 §4
	}
	v, ok := c.frags.Lookup(frag.KeyOf(ip), c.now)
	if !ok {
		return ifOurs(svcs, dst, toLaddr, ReasonFragNoFirst)
	}
	if owner := int(v >> 32); owner != 0 {
		return redirectTo(owner - 1)
	}
	k := Tuple4{Src: ip.SourceAddress(), Dst: dst, SPort: uint16(v), DPort: uint16(v >> 16), Proto: ip.Protocol()}
	idx, d := c.tab.Lookup(&k)
	if idx < 0 {
		return drop(ReasonNoSession) // the session ended between the fragments
	}
	return c.forward(f, pkt, ip, nil, idx, d)
}
