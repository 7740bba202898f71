package nat

import (
	"encoding/binary"
	"fmt"

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
)

// DirState is the per-direction part of a session: the cached egress and the
// counters of packets received in that direction.
type DirState struct {
	// Gen is the arp.Snapshot generation the egress below was resolved
	// under; a different generation means look it up again.
	Gen         uint64
	Pkts, Bytes uint64
	// Port is the egress port; SrcMAC and DstMAC are written into frames.
	Port           uint16
	SrcMAC, DstMAC header.MAC
	// Valid: Port and the MACs hold a resolved egress for Gen.
	Valid bool
}

// Session is one IPv4 connection as a Table stores it: pointer-free, fixed
// size (144 bytes), touched by exactly one core. The service of the session is
// Orig's destination (VIP:vport/proto); SvcID and DestID are the control
// plane's stable IDs, never snapshot indexes.
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
	// Dir is indexed by Dir. For DR and TUN, which receive nothing in
	// DirOut, Dir[DirOut] caches the egress toward the client that the
	// ICMP errors the gateway originates about the session take; its
	// counters stay zero.
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

// SessionWireLen is the length of a Session's binary form.
const SessionWireLen = 1 + 2*tupleWireLen + 8 + 4 + 4 + 3 + 2*dirWireLen

const (
	sessionWireVersion = 1
	tupleWireLen       = 13
	dirWireLen         = 8 + 8 + 8 + 2 + 6 + 6 + 1
)

// AppendBinary appends the session's fixed-size big-endian form (for session
// sync): a version byte, the tuples, Expires as stored (the receiver rebases
// it onto its own clock), IDs, mode, state, flags and both DirStates. It
// implements encoding.BinaryAppender and never fails.
func (s *Session) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, sessionWireVersion)
	b = appendTuple(b, &s.Orig)
	b = appendTuple(b, &s.Reply)
	b = binary.BigEndian.AppendUint64(b, uint64(s.Expires))
	b = binary.BigEndian.AppendUint32(b, s.DestID)
	b = binary.BigEndian.AppendUint32(b, s.SvcID)
	b = append(b, byte(s.Mode), byte(s.State), byte(s.Flags))
	for i := range s.Dir {
		d := &s.Dir[i]
		b = binary.BigEndian.AppendUint64(b, d.Gen)
		b = binary.BigEndian.AppendUint64(b, d.Pkts)
		b = binary.BigEndian.AppendUint64(b, d.Bytes)
		b = binary.BigEndian.AppendUint16(b, d.Port)
		b = append(b, d.SrcMAC[:]...)
		b = append(b, d.DstMAC[:]...)
		v := byte(0)
		if d.Valid {
			v = 1
		}
		b = append(b, v)
	}
	return b, nil
}

// UnmarshalBinary decodes what AppendBinary wrote into s (the table linkage
// is not part of it) and recomputes the derived checksum deltas.
func (s *Session) UnmarshalBinary(b []byte) error {
	if len(b) != SessionWireLen {
		return fmt.Errorf("session record is %d bytes, want %d", len(b), SessionWireLen)
	}
	if b[0] != sessionWireVersion {
		return fmt.Errorf("session record version %d, want %d", b[0], sessionWireVersion)
	}
	b = b[1:]
	*s = Session{}
	b = readTuple(b, &s.Orig)
	b = readTuple(b, &s.Reply)
	s.Expires = int64(binary.BigEndian.Uint64(b))
	s.DestID = binary.BigEndian.Uint32(b[8:])
	s.SvcID = binary.BigEndian.Uint32(b[12:])
	s.Mode, s.State, s.Flags = Mode(b[16]), State(b[17]), Flags(b[18])
	if s.Mode >= numModes || s.State >= numStates {
		return fmt.Errorf("session record has mode %d, state %d: out of range", b[16], b[17])
	}
	b = b[19:]
	for i := range s.Dir {
		d := &s.Dir[i]
		d.Gen = binary.BigEndian.Uint64(b)
		d.Pkts = binary.BigEndian.Uint64(b[8:])
		d.Bytes = binary.BigEndian.Uint64(b[16:])
		d.Port = binary.BigEndian.Uint16(b[24:])
		copy(d.SrcMAC[:], b[26:32])
		copy(d.DstMAC[:], b[32:38])
		d.Valid = b[38] != 0
		b = b[dirWireLen:]
	}
	s.computeDeltas()
	return nil
}

func appendTuple(b []byte, t *Tuple4) []byte {
	b = append(b, t.Src[:]...)
	b = append(b, t.Dst[:]...)
	b = binary.BigEndian.AppendUint16(b, t.SPort)
	b = binary.BigEndian.AppendUint16(b, t.DPort)
	return append(b, t.Proto)
}

func readTuple(b []byte, t *Tuple4) []byte {
	copy(t.Src[:], b[0:4])
	copy(t.Dst[:], b[4:8])
	t.SPort = binary.BigEndian.Uint16(b[8:])
	t.DPort = binary.BigEndian.Uint16(b[10:])
	t.Proto = b[12]
	return b[tupleWireLen:]
}
