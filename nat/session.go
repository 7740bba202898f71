package nat

import (
	"fmt"

	"fngw/arp"
	"fngw/header"
	"fngw/tunnel"
)

// Mode is a destination's forwarding method (the ipvsadm -g/-m/-i flags, plus
// DPVS's FULLNAT).
type Mode uint8

// Forwarding modes.
const (
	// ModeFullNAT rewrites both ends: CIP:cport→VIP:vport becomes
	// LIP:lport→RIP:rport, and replies come back through the gateway.
	ModeFullNAT Mode = iota
	// ModeNAT (masquerading) rewrites the destination only; the real
	// server routes replies through the gateway, which restores the VIP.
	ModeNAT
	// ModeDR (direct routing) only changes the destination MAC; replies go
	// from the real server straight to the client.
	ModeDR
	// ModeTUN wraps the packet in IPIP (package tunnel) toward the real
	// server, which decapsulates it and answers the client directly.
	ModeTUN

	numModes = iota
)

var modeNames = [numModes]string{"fullnat", "nat", "dr", "tun"}

// String returns the canonical name: "fullnat", "nat", "dr" or "tun".
func (m Mode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("mode(%d)", uint8(m))
}

// ParseMode parses the canonical name String returns.
func ParseMode(s string) (Mode, error) {
	for i, n := range modeNames {
		if s == n {
			return Mode(i), nil
		}
	}
	return 0, fmt.Errorf("unknown forwarding mode %q: want fullnat, nat, dr or tun", s)
}

// hasReply reports whether replies of the mode come back through the gateway,
// so that sessions index their reply tuple.
func (m Mode) hasReply() bool { return m == ModeFullNAT || m == ModeNAT }

// Flags are per-session flags, named after LVS's IP_VS_CONN_F_* bits.
type Flags uint8

const (
	// FlagInactive: the session is counted in its destination's inactive
	// connections (IP_VS_CONN_F_INACTIVE); without it, in the active ones.
	FlagInactive Flags = 1 << iota
	// FlagNoOutput: no packet from the real server seen yet in a mode whose
	// replies bypass the gateway (IP_VS_CONN_F_NOOUTPUT), so TCP follows
	// LVS's INPUT-ONLY transition table.
	FlagNoOutput
	// FlagSeqOut: seq[DirOut] tracks the real server's sequence numbers
	// (its SYN-ACK was seen; see seq.go).
	FlagSeqOut
	// FlagFin: a FIN inside the window was seen on the connection, so a
	// CLOSE it reaches ends a FIN exchange (isNewConnReuse).
	FlagFin
	// FlagClientAddr: the session's service tells the real server the
	// client's address (clientaddr.go), so its packets take forward's path,
	// which translates them; FlagTOA says how (else the PROXY protocol, whose
	// state is in Core.ext); FlagCAddrDone that the real server has what it
	// needs (PROXY: it acknowledged the header; TOA: it sent a segment
	// after its SYN-ACK).
	FlagClientAddr
	FlagTOA
	FlagCAddrDone
)

// DirState is the egress a session caches for packets received in one
// direction: the port they leave from and the next hop's MAC, their
// destination MAC (the source MAC is the port's own, arp.Snapshot.PortMAC).
// It holds a resolved egress only while the session's reference to the
// neighbour it came from is current (Session.egressValid).
type DirState struct {
	Port   uint16
	DstMAC header.MAC
}

// Session is one IPv4 connection as a Table stores it: pointer-free, fixed
// size (96 bytes, a budget TestSessionLayout holds), touched by exactly one
// core. The service of the session is Orig's destination (VIP:vport/proto);
// SvcID and DestID are the control plane's stable IDs, never snapshot
// indexes.
//
// Invariant used by every rewrite: a packet received in direction d with the
// tuple In(d) leaves with the tuple In(other).Reverse(), where In(DirIn) is
// Orig and In(DirOut) is Reply. So FULLNAT sends CIP:cport→VIP:vport out as
// LIP:lport→RIP:rport and RIP:rport→LIP:lport out as VIP:vport→CIP:cport.
type Session struct {
	// Orig is the tuple as received from the client: CIP:cport→VIP:vport.
	Orig Tuple4
	// Reply is the tuple as received from the real server:
	// RIP:rport→LIP:lport for FULLNAT, RIP:rport→CIP:cport for NAT. For DR
	// and TUN, whose replies bypass the gateway, Proto is 0 (not indexed)
	// and the packet leaves with Orig unchanged; Src:SPort names the real
	// server, and for TUN Dst is the tunnel's outer source, the address of
	// the egress port toward the real server (set when the egress is
	// resolved), so RIP→DIP is the tunnel seen from its exit.
	Reply Tuple4
	// Expires is the deadline in the caller's monotonic nanoseconds,
	// refreshed on every packet to now + the state's timeout (LVS behaviour).
	Expires int64
	DestID  uint32
	SvcID   uint32
	Mode    Mode
	State   State
	Flags   Flags

	wheel uint32       // low 32 bits of the timer-wheel tick it is linked at
	delta [2]csumDelta // per receive direction: precomputed checksum deltas
	// seq is, per receive direction of a TCP session, the sequence number
	// the sender of that direction reached, in units of 64 KiB (seq.go).
	seq [2]uint16
	// What the session holds outside the table, which Core.release
	// returns when it ends: a FULLNAT session its local port (Reply.DPort,
	// in the pool of its reply tuple, PortPools.Lookup), and
	tmpl int32 // persistence template handle (sched.Service.PickPersistent); -1 none
	// ref[d] refers to the neighbour entry Dir[d]'s egress was resolved
	// from (arp.NeighRef; 0: none): Dir[d] holds while the stack's
	// snapshot says it is current, so a change to another neighbour
	// leaves it be.
	ref [2]arp.NeighRef
	// Dir is indexed by Dir. For DR and TUN, which receive nothing in
	// DirOut, Dir[DirOut] caches the egress toward the client that the
	// ICMP errors the gateway originates about the session take.
	Dir [2]DirState
}

// tunnel returns the outer-header template of a TUN session: from the egress
// port's address (Reply.Dst) to the real server (Reply.Src), with the sum
// computeDeltas keeps in delta[DirOut].ip.
func (s *Session) tunnel() tunnel.IPIP {
	return tunnel.IPIP{Src: s.Reply.Dst, Dst: s.Reply.Src, Sum: s.delta[DirOut].ip}
}

// In returns the tuple of packets received in direction d.
func (s *Session) In(d Dir) *Tuple4 {
	if d == DirIn {
		return &s.Orig
	}
	return &s.Reply
}

// Out returns the tuple that packets received in direction d leave with.
func (s *Session) Out(d Dir) Tuple4 {
	if d == DirIn {
		if s.Reply.Proto == 0 {
			return s.Orig
		}
		return s.Reply.Reverse()
	}
	return s.Orig.Reverse()
}
