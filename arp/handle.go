package arp

import "fngw/header"

// HandleARP processes an ARP frame received on port (frame starts at the
// Ethernet header; one 802.1Q tag is allowed). It follows Linux arp_process
// (RFC 826 "Packet Reception"):
//
//   - the sender's address is learned: an existing entry is updated
//     (REACHABLE for a reply unicast to us, STALE otherwise; gratuitous ARP
//     updates entries this way too) and a request for one of our addresses
//     creates the entry — only when the sender lies in a connected subnet of
//     port (Linux creates it from any sender): the gateway sends to no
//     other on-link address, and a peer cannot choose which keys the table
//     and the snapshot's map hold (ARPNotLearned);
//   - a request for an address owned on port (interface address, VIP or local
//     address) is rewritten in place into the reply, addressed to the
//     requester, and HandleARP returns true: the caller transmits the frame,
//     unchanged in length, on port.
//
// Frames that are malformed, not IPv4-over-Ethernet, from a multicast or zero
// MAC, for a multicast or loopback target, from a sender address that is a
// connected subnet's directed broadcast (Linux: not RTN_UNICAST), or that
// claim one of our addresses as sender (an address conflict) are counted and
// ignored. It never writes
// outside frame and does not allocate once the sender has an entry.
func (s *Stack[P]) HandleARP(now int64, port uint16, frame []byte) bool {
	e := header.Ethernet(frame)
	if !e.IsValid(len(frame)) || e.PayloadType() != header.EtherTypeARP {
		s.cnt.ARPInvalid++
		return false
	}
	a := header.ARP(frame[e.HeaderLen():])
	snap := s.snap.Load()
	mine := snap.PortMAC(port)
	if !a.IsValid(len(a)) || mine.IsZero() {
		s.cnt.ARPInvalid++
		return false
	}
	op, sha, spa, tpa := a.Op(), a.SenderMAC(), a.SenderIP(), a.TargetIP()
	if (op != header.ARPRequest && op != header.ARPReply) || sha.IsZero() || sha.IsMulticast() || sha == mine ||
		!hostAddr(tpa) || (!spa.IsZero() && (!hostAddr(spa) || snap.Broadcast(spa))) {
		s.cnt.ARPInvalid++
		return false
	}
	if op == header.ARPRequest {
		s.cnt.ARPRequestsIn++
	} else {
		s.cnt.ARPRepliesIn++
	}
	if _, _, own := snap.Owned(spa); own {
		s.cnt.ARPConflicts++
		return false
	}
	ownPort, _, own := snap.Owned(tpa)
	forUs := op == header.ARPRequest && own && ownPort == port
	if !spa.IsZero() { // a zero sender is an RFC 5227 probe: nothing to learn
		state := NeighStale
		if op == header.ARPReply && e.Destination() == mine {
			state = NeighReachable
		}
		create := forUs && s.connectedTo(port, spa)
		if forUs && !create {
			s.cnt.ARPNotLearned++
		}
		s.neigh.Learn(now, port, spa, sha, state, create)
	}
	if !forUs {
		return false
	}
	a.SetOp(header.ARPReply)
	a.SetTargetMAC(sha)
	a.SetTargetIP(spa)
	a.SetSenderMAC(mine)
	a.SetSenderIP(tpa)
	e.SetDestination(sha)
	e.SetSource(mine)
	s.cnt.ARPRepliesOut++
	return true
}

// hostAddr reports whether a can be a unicast host: not 0.0.0.0, loopback
// (127/8), multicast (224/4), reserved (240/4) or limited broadcast.
func hostAddr(a header.Addr4) bool {
	return a[0] != 0 && a[0] != 127 && a[0] < 224
}

// HandleICMP answers an ICMP echo request (RFC 792) addressed to an address the
// gateway owns, in place: the frame (starting at the Ethernet header, received
// on port) becomes the echo reply, sent back to the requester's MAC from the
// port's MAC, with the addresses swapped, TTL 64 and both checksums fixed; the
// data and any IP options are echoed unchanged. HandleICMP returns true when
// the caller should transmit the frame on port. Anything else — fragments,
// bad checksums, other ICMP types, addresses not ours, requests from
// non-unicast sources (a connected subnet's broadcast included) — is counted
// and left alone. It never writes outside
// frame and does not allocate.
func (s *Stack[P]) HandleICMP(port uint16, frame []byte) bool {
	e := header.Ethernet(frame)
	if !e.IsValid(len(frame)) || e.PayloadType() != header.EtherTypeIPv4 {
		s.cnt.ICMPIgnored++
		return false
	}
	ip := header.IPv4(frame[e.HeaderLen():])
	snap := s.snap.Load()
	mine := snap.PortMAC(port)
	if !ip.IsValid(len(ip)) || !ip.IsChecksumValid() || ip.IsFragment() || ip.Protocol() != header.IPProtoICMP || mine.IsZero() {
		s.cnt.ICMPIgnored++
		return false
	}
	src, dst := ip.SourceAddress(), ip.DestinationAddress()
	m := header.ICMPv4(ip.Payload())
	if _, _, own := snap.Owned(dst); !own || !hostAddr(src) || snap.Broadcast(src) || e.Source().IsMulticast() ||
		!m.IsValid(len(m)) || m.Type() != header.ICMPv4Echo || m.Code() != 0 || !m.IsChecksumValid() {
		s.cnt.ICMPIgnored++
		return false
	}
	m.SetTypeWithChecksumUpdate(header.ICMPv4EchoReply)
	ip.SetSourceAddress(dst)
	ip.SetDestinationAddress(src)
	ip.SetTTL(header.IPv4DefaultTTL)
	ip.SetChecksum(ip.CalculateChecksum())
	e.SetDestination(e.Source())
	e.SetSource(mine)
	s.cnt.EchoRepliesOut++
	return true
}
