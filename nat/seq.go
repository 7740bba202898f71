package nat

import "fngw/header"

// TCP sequence tracking, against blind resets (RFC 5961).
//
// LVS moves a connection to CLOSE on any RST, whatever its sequence number
// (and CLOSE lasts 10 s; a SYN then reuses the tuple, conn_reuse_mode), so a
// host that knows a connection's addresses and ports ends it with one forged
// segment, as it could end connections on TCP stacks before RFC 5961. The
// datapath follows RFC 5961 §3 as a middlebox can: a RST counts only when its
// sequence number lies within the window its sender has reached.
//
// Session.seq[d] is the sequence number the sender of direction d reached,
// in units of 64 KiB (its high 16 bits: the session's 96 bytes have room for
// two 16-bit values, not two sequence numbers; the unit is the window a TCP
// without window scaling advertises at most). A segment of d whose sequence
// number lies 0 to seqAdvance units ahead of it moves it there: a compare
// and a store per segment, on the established path too. Segments further
// ahead, or behind, leave it (a forged segment moves it only when it falls
// in those 17 units: once in 3 855 random tries, and no further than 1 MiB).
// The client's SYN sets seq[DirIn], the real server's SYN-ACK seq[DirOut]
// (FlagSeqOut); a SYN that starts a connection again on the session's tuple
// (SYN_RECV from a CLOSE) starts tracking again.
//
//   - A RST of direction d changes the state only when its sequence number
//     is from one unit behind to two ahead of seq[d] (a window of 192 KiB,
//     hit by a random sequence number once in 16 384 tries; RFC 5961's
//     endpoint accepts one number and challenges the rest of its window, a
//     middlebox cannot challenge). Otherwise it is dropped as
//     rst_out_of_window. Before the real server's SYN-ACK, its RST (a
//     refused connection: sequence 0) counts when it acknowledges the SYN,
//     as RFC 793 asks in SYN-SENT.
//   - A FIN outside that window (one behind to seqAdvance ahead) is
//     forwarded but does not change the state either (the receiver decides).
//   - A segment without SYN, FIN, RST or ACK never changes the state
//     (tcpTransition).
//
// A sender whose segments reach the gateway more than 1 MiB ahead of the
// last one it saw (a loss of over 1 MiB in a row before the gateway, then a
// window larger than that) is no longer tracked until its sequence numbers
// come back within reach; meanwhile its RSTs are dropped and the connection
// ends at its state's timeout.

const (
	seqShift   = 16 // the unit of Session.seq: 64 KiB of sequence space
	seqAdvance = 16 // units a segment may move Session.seq forward
	rstBehind  = 1  // units a RST may be behind Session.seq
	rstAhead   = 2  // and ahead of it
)

// seqUnit returns the unit of sequence number n.
func seqUnit(n uint32) uint16 { return uint16(n >> seqShift) }

// rstInWindow reports whether RST segment t, received in direction d of
// session s, may change the session's state.
func rstInWindow(s *Session, d Dir, t header.TCP) bool {
	if d == DirOut && s.Flags&FlagSeqOut == 0 {
		// No SYN-ACK seen: a refused connection's RST acknowledges the SYN.
		return t.Flags()&header.TCPFlagACK != 0 && seqUnit(t.AckNumber())-s.seq[DirIn] <= 1
	}
	return seqUnit(t.SequenceNumber())-s.seq[d]+rstBehind <= rstBehind+rstAhead
}

// tcpState applies LVS's transition for segment t received in direction d,
// after tracking its sequence number (see above), moving the session
// between its destination's active and inactive counts when ESTABLISHED is
// entered or left (set_tcp_state). A RST has passed rstInWindow.
func (c *Core) tcpState(s *Session, d Dir, t header.TCP) {
	f := t.Flags()
	u := seqUnit(t.SequenceNumber())
	off := u - s.seq[d]
	if off <= seqAdvance {
		s.seq[d] = u
	}
	if f&(header.TCPFlagSYN|header.TCPFlagFIN) != 0 {
		switch {
		case f&header.TCPFlagSYN != 0:
			if d == DirOut && s.Flags&FlagSeqOut == 0 {
				s.seq[DirOut] = u
				s.Flags |= FlagSeqOut
			}
		case off > seqAdvance && off != 0xffff:
			return // a FIN outside the window
		default:
			s.Flags |= FlagFin
		}
	}
	ns, fl := tcpTransition(s.State, s.Flags, d, f)
	s.Flags = fl
	if ns == StateSynRecv && d == DirIn && isPureSYN(f) {
		// A connection (re)starting on this tuple: track it from its SYN.
		s.seq[DirIn] = u
		s.Flags &^= FlagSeqOut | FlagFin
	}
	if ns != s.State {
		c.tcpStateChange(s, ns)
	}
}
