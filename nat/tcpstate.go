package nat

import (
	"fmt"
	"time"

	"fngw/header"
)

// State is a session's protocol state. The TCP states and their numbering are
// LVS's (IP_VS_TCP_S_*, net/netfilter/ipvs/ip_vs_proto_tcp.c). A UDP session
// is StateUDP (IP_VS_UDP_S_NORMAL), or StateUDPOneway until the first reply
// of a mode whose replies come back through the gateway (DPVS's
// DPVS_UDP_S_ONEWAY): a datagram nobody answered, which a spoofed flood
// leaves behind, holds its session only Timeouts.UDPOneway and may be
// evicted for a new flow (evict.go).
type State uint8

// Session states.
const (
	StateNone State = iota
	StateEstablished
	StateSynSent
	StateSynRecv
	StateFinWait
	StateTimeWait
	StateClose
	StateCloseWait
	StateLastAck
	StateListen
	StateSynAck
	StateUDP
	StateUDPOneway

	numStates    = iota
	numTCPStates = numStates - 2 // the TCP states come first, then StateUDP and StateUDPOneway
)

var stateNames = [numStates]string{
	"NONE", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT", "TIME_WAIT",
	"CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "SYNACK", "UDP", "UDP_ONEWAY",
}

// String returns the name ipvsadm -Lc prints ("ESTABLISHED", "UDP"...).
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// tcpTable selects one of LVS's three transition tables.
type tcpTable uint8

const (
	tableInput     tcpTable = iota // client → RS (TCP_DIR_INPUT)
	tableOutput                    // RS → client (TCP_DIR_OUTPUT)
	tableInputOnly                 // client → RS while no output seen (TCP_DIR_INPUT_ONLY)
)

// tcpEvent is LVS's tcp_state_idx: the row picked by the segment's flags,
// tested in the order RST, SYN, FIN, ACK.
type tcpEvent int8

const (
	evSyn tcpEvent = iota
	evFin
	evAck
	evRst
	evNone tcpEvent = -1 // no RST/SYN/FIN/ACK: no stack sends it; the state stays
)

func tcpEventOf(f header.TCPFlags) tcpEvent {
	return tcpEvents[f&(header.TCPFlagFIN|header.TCPFlagSYN|header.TCPFlagRST)|f&header.TCPFlagACK>>1]
}

// tcpEvents maps the FIN, SYN, RST bits and ACK (shifted down to bit 3) to
// the event, precomputed from the priority order above.
var tcpEvents = func() (t [16]tcpEvent) {
	for i := range t {
		f := header.TCPFlags(i&7) | header.TCPFlags(i&8)<<1
		switch {
		case f&header.TCPFlagRST != 0:
			t[i] = evRst
		case f&header.TCPFlagSYN != 0:
			t[i] = evSyn
		case f&header.TCPFlagFIN != 0:
			t[i] = evFin
		case f&header.TCPFlagACK != 0:
			t[i] = evAck
		default:
			t[i] = evNone
		}
	}
	return t
}()

// tcpStates is LVS's tcp_states[] (the default table, not the secure_tcp
// tcp_states_dos[]): [table][event][current state] → next state.
var tcpStates = func() [3][4][numTCPStates]State {
	const (
		sNO = StateNone
		sES = StateEstablished
		sSS = StateSynSent
		sSR = StateSynRecv
		sFW = StateFinWait
		sTW = StateTimeWait
		sCL = StateClose
		sCW = StateCloseWait
		sLA = StateLastAck
		sLI = StateListen
		sSA = StateSynAck
	)
	return [3][4][numTCPStates]State{
		tableInput: {
			//       sNO  sES  sSS  sSR  sFW  sTW  sCL  sCW  sLA  sLI  sSA
			evSyn: {sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR, sSR, sSR},
			evFin: {sCL, sCW, sSS, sTW, sTW, sTW, sCL, sCW, sLA, sLI, sTW},
			evAck: {sCL, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL, sLI, sES},
			evRst: {sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA, sLI, sSR},
		},
		tableOutput: {
			evSyn: {sSS, sES, sSS, sSR, sSS, sSS, sSS, sSS, sSS, sLI, sSR},
			evFin: {sTW, sFW, sSS, sTW, sFW, sTW, sCL, sTW, sLA, sLI, sTW},
			evAck: {sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sLA, sES, sES},
			evRst: {sCL, sCL, sSS, sCL, sCL, sTW, sCL, sCL, sCL, sCL, sCL},
		},
		tableInputOnly: {
			evSyn: {sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR, sSR, sSR},
			evFin: {sCL, sFW, sSS, sTW, sFW, sTW, sCL, sCW, sLA, sLI, sTW},
			evAck: {sCL, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL, sLI, sES},
			evRst: {sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA, sLI, sCL},
		},
	}
}()

// tcpTransition returns the next state of a session in state cur receiving a
// segment with flags f in direction d, following LVS's set_tcp_state: while
// FlagNoOutput is set, input uses the INPUT-ONLY table and the first output
// segment clears the flag (returned as the new flags). A segment without
// RST, SYN, FIN or ACK leaves the state as it is: LVS moves to CLOSE on it,
// so one forged flagless segment would end an idle connection ten seconds
// later; no TCP stack sends one (netfilter's tcp_valid_flags refuses it).
func tcpTransition(cur State, fl Flags, d Dir, f header.TCPFlags) (State, Flags) {
	tab := tableInput
	if d == DirOut {
		tab = tableOutput
		fl &^= FlagNoOutput
	} else if fl&FlagNoOutput != 0 {
		tab = tableInputOnly
	}
	ev := tcpEventOf(f)
	if ev == evNone {
		return cur, fl
	}
	if cur >= numTCPStates {
		return StateClose, fl
	}
	return tcpStates[tab][ev][cur], fl
}

// isNewConnReuse reports whether a SYN for existing session s should end it
// and schedule afresh: LVS's is_new_conn_expected for TCP (conn_reuse_mode),
// when the old connection is in TIME_WAIT, or in CLOSE reached after a FIN
// (FlagFin). A CLOSE reached by a RST alone does not qualify: a RST and a
// SYN forged together would otherwise move a live client to another real
// server at once (a RST must fall inside the window to count at all, see
// seq.go).
func isNewConnReuse(s *Session) bool {
	return s.State == StateTimeWait || (s.State == StateClose && s.Flags&FlagFin != 0)
}

// Timeouts are the session timeouts a snapshot carries (ipvsadm --set tcp
// tcpfin udp, and the SYN_RECV and one-way UDP timeouts); zero fields mean
// the defaults. TCP is the ESTABLISHED timeout, TCPFin the FIN_WAIT one, UDP
// the UDP one; SynRecv is how long a connection whose client sent a SYN and
// nothing more (a half-open connection, what a SYN flood leaves behind)
// holds its session; UDPOneway how long a FULLNAT or NAT UDP session that
// has not seen a reply yet holds it (StateUDPOneway; DPVS's udp oneway
// timeout). The other states keep LVS's timeouts. A snapshot's timeouts
// apply to every session from its next packet, as a change of the kernel's
// does in LVS.
//
// SecureTCP switches the half-open states to the shorter timeouts of LVS's
// secure_tcp defence (vs_timeout_table_dos of LVS 2.4: SYN_RECV 10 s,
// SYN_SENT 60 s, SYNACK 100 s; a configured SynRecv shorter than 10 s
// stays): a switch for the control plane to turn on under a SYN flood and
// off after it (LVS's secure_tcp levels 1 and 2 turn it on automatically
// when memory runs low; here the table is committed at start, and a full
// table evicts half-open sessions anyway, see evict.go). It does not switch
// to LVS's tcp_states_dos transition table.
type Timeouts struct {
	TCP, TCPFin, UDP, SynRecv, UDPOneway time.Duration
	SecureTCP                            bool
}

// LVS's default timeouts (tcp_timeouts[] in ip_vs_proto_tcp.c, udp_timeouts[]
// in ip_vs_proto_udp.c).
var defaultTimeouts = [numStates]time.Duration{
	StateNone:        2 * time.Second,
	StateEstablished: 15 * time.Minute,
	StateSynSent:     2 * time.Minute,
	StateSynRecv:     1 * time.Minute,
	StateFinWait:     2 * time.Minute,
	StateTimeWait:    2 * time.Minute,
	StateClose:       10 * time.Second,
	StateCloseWait:   60 * time.Second,
	StateLastAck:     30 * time.Second,
	StateListen:      2 * time.Minute,
	StateSynAck:      120 * time.Second,
	StateUDP:         5 * time.Minute,
	StateUDPOneway:   5 * time.Second,
}

// secureTimeouts are the half-open states' timeouts under Timeouts.SecureTCP
// (LVS 2.4's vs_timeout_table_dos).
var secureTimeouts = [...]struct {
	s State
	d time.Duration
}{{StateSynRecv, 10 * time.Second}, {StateSynSent, 60 * time.Second}, {StateSynAck, 100 * time.Second}}

// perState returns the timeout of every state in nanoseconds: the defaults,
// overridden by t's nonzero fields, then shortened by SecureTCP. A negative
// field is refused.
func (t Timeouts) perState() ([numStates]int64, error) {
	var ns [numStates]int64
	for i, d := range defaultTimeouts {
		ns[i] = int64(d)
	}
	for _, x := range [...]struct {
		name string
		s    State
		d    time.Duration
	}{{"tcp", StateEstablished, t.TCP}, {"tcpfin", StateFinWait, t.TCPFin}, {"udp", StateUDP, t.UDP},
		{"SYN_RECV", StateSynRecv, t.SynRecv}, {"one-way UDP", StateUDPOneway, t.UDPOneway}} {
		switch {
		case x.d < 0:
			return ns, fmt.Errorf("%s timeout %v must not be negative (zero means the default, %v)", x.name, x.d, defaultTimeouts[x.s])
		case x.d > 0:
			ns[x.s] = int64(x.d)
		}
	}
	if t.SecureTCP {
		for _, x := range secureTimeouts {
			ns[x.s] = min(ns[x.s], int64(x.d))
		}
	}
	return ns, nil
}
