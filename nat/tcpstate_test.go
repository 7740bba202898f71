package nat

import (
	"strings"
	"testing"
	"time"

	"fngw/header"
)

// lvsTCPStates is tcp_states[] as printed in net/netfilter/ipvs/ip_vs_proto_tcp.c,
// kept in LVS's own notation so the test checks the transcription in
// tcpstate.go against the source rather than against itself.
const lvsTCPStates = `
/*	INPUT */
/*        sNO, sES, sSS, sSR, sFW, sTW, sCL, sCW, sLA, sLI, sSA	*/
/*syn*/ {{sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR, sSR, sSR }},
/*fin*/ {{sCL, sCW, sSS, sTW, sTW, sTW, sCL, sCW, sLA, sLI, sTW }},
/*ack*/ {{sCL, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL, sLI, sES }},
/*rst*/ {{sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA, sLI, sSR }},

/*	OUTPUT */
/*        sNO, sES, sSS, sSR, sFW, sTW, sCL, sCW, sLA, sLI, sSA	*/
/*syn*/ {{sSS, sES, sSS, sSR, sSS, sSS, sSS, sSS, sSS, sLI, sSR }},
/*fin*/ {{sTW, sFW, sSS, sTW, sFW, sTW, sCL, sTW, sLA, sLI, sTW }},
/*ack*/ {{sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sLA, sES, sES }},
/*rst*/ {{sCL, sCL, sSS, sCL, sCL, sTW, sCL, sCL, sCL, sCL, sCL }},

/*	INPUT-ONLY */
/*        sNO, sES, sSS, sSR, sFW, sTW, sCL, sCW, sLA, sLI, sSA	*/
/*syn*/ {{sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR, sSR, sSR }},
/*fin*/ {{sCL, sFW, sSS, sTW, sFW, sTW, sCL, sCW, sLA, sLI, sTW }},
/*ack*/ {{sCL, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL, sLI, sES }},
/*rst*/ {{sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA, sLI, sCL }},
`

var lvsStateAbbrev = map[string]State{
	"sNO": StateNone, "sES": StateEstablished, "sSS": StateSynSent, "sSR": StateSynRecv,
	"sFW": StateFinWait, "sTW": StateTimeWait, "sCL": StateClose, "sCW": StateCloseWait,
	"sLA": StateLastAck, "sLI": StateListen, "sSA": StateSynAck,
}

func TestTCPTransitionsMatchLVS(t *testing.T) {
	// The flags that select each row (tcp_state_idx tests RST, SYN, FIN, ACK
	// in that order, so extra lower-priority flags must not matter).
	rowFlags := map[string][]header.TCPFlags{
		"syn": {header.TCPFlagSYN, header.TCPFlagSYN | header.TCPFlagACK, header.TCPFlagSYN | header.TCPFlagFIN},
		"fin": {header.TCPFlagFIN, header.TCPFlagFIN | header.TCPFlagACK | header.TCPFlagPSH},
		"ack": {header.TCPFlagACK, header.TCPFlagACK | header.TCPFlagPSH},
		"rst": {header.TCPFlagRST, header.TCPFlagRST | header.TCPFlagACK, header.TCPFlagRST | header.TCPFlagSYN},
	}
	type table struct {
		name  string
		dir   Dir
		flags Flags
	}
	tables := map[string]table{
		"INPUT":      {"input", DirIn, 0},
		"OUTPUT":     {"output", DirOut, 0},
		"INPUT-ONLY": {"input-only", DirIn, FlagNoOutput},
	}
	var cur table
	rows := 0
	for _, line := range strings.Split(lvsTCPStates, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "/*        sNO"):
			continue
		case strings.HasPrefix(line, "/*\t"):
			cur = tables[strings.TrimSpace(strings.Trim(line, "/*\t "))]
			continue
		}
		row := line[2:5]
		cells := strings.FieldsFunc(line[strings.Index(line, "{{")+2:strings.Index(line, "}}")], func(r rune) bool {
			return r == ',' || r == ' '
		})
		if len(cells) != numTCPStates {
			t.Fatalf("row %q has %d cells", line, len(cells))
		}
		for si, cell := range cells {
			want := lvsStateAbbrev[cell]
			from := State(si)
			for _, f := range rowFlags[row] {
				t.Run(cur.name+"/"+row+"/"+from.String()+"/"+f.String(), func(t *testing.T) {
					got, _ := tcpTransition(from, cur.flags, cur.dir, f)
					if got != want {
						t.Fatalf("%s %s in %s with %s = %s, LVS %s", cur.name, row, from, f, got, want)
					}
				})
			}
		}
		rows++
	}
	if rows != 12 {
		t.Fatalf("parsed %d rows, want 12", rows)
	}
}

// TestTCPTransitionNoFlagsKeepsState: a segment without SYN, FIN, RST or
// ACK leaves every state as it is (LVS's set_tcp_state moves to CLOSE on
// tcp_state_idx < 0, which a forged segment could use to end a connection).
func TestTCPTransitionNoFlagsKeepsState(t *testing.T) {
	for s := StateNone; s < numTCPStates; s++ {
		for _, d := range []Dir{DirIn, DirOut} {
			if got, _ := tcpTransition(s, 0, d, header.TCPFlagPSH); got != s {
				t.Errorf("no flags in %s (%v) → %s, want it kept", s, d, got)
			}
		}
	}
}

func TestTCPTransitionOutputClearsNoOutput(t *testing.T) {
	_, fl := tcpTransition(StateSynRecv, FlagNoOutput|FlagInactive, DirOut, header.TCPFlagSYN|header.TCPFlagACK)
	if fl != FlagInactive {
		t.Fatalf("flags after output = %b, want only FlagInactive", fl)
	}
	_, fl = tcpTransition(StateSynRecv, FlagNoOutput, DirIn, header.TCPFlagACK)
	if fl != FlagNoOutput {
		t.Fatalf("input cleared FlagNoOutput")
	}
}

// TestTimeoutsPerState: a snapshot's per-state timeouts are the defaults
// but where Timeouts sets one (tcp: ESTABLISHED, tcpfin: FIN_WAIT, udp: UDP,
// SynRecv: SYN_RECV, UDPOneway: UDP_ONEWAY) or SecureTCP shortens one; a
// negative one is refused, named with its value.
func TestTimeoutsPerState(t *testing.T) {
	lim := Limits{MaxServices: 1, MaxDests: 1, MaxLocalAddrs: 1}
	defaults := map[State]time.Duration{
		StateNone: 2 * time.Second, StateEstablished: 900 * time.Second, StateSynSent: 120 * time.Second,
		StateSynRecv: 60 * time.Second, StateFinWait: 120 * time.Second, StateTimeWait: 120 * time.Second,
		StateClose: 10 * time.Second, StateCloseWait: 60 * time.Second, StateLastAck: 30 * time.Second,
		StateListen: 120 * time.Second, StateSynAck: 120 * time.Second, StateUDP: 300 * time.Second,
		StateUDPOneway: 5 * time.Second,
	}
	for _, tc := range []struct {
		to   Timeouts
		want map[State]time.Duration // beside the defaults
	}{
		{Timeouts{}, nil},
		{Timeouts{TCP: 100 * time.Second, UDP: 30 * time.Second},
			map[State]time.Duration{StateEstablished: 100 * time.Second, StateUDP: 30 * time.Second}},
		{Timeouts{TCPFin: 5 * time.Second, SynRecv: 3 * time.Second},
			map[State]time.Duration{StateFinWait: 5 * time.Second, StateSynRecv: 3 * time.Second}},
		{Timeouts{UDPOneway: 2 * time.Second}, map[State]time.Duration{StateUDPOneway: 2 * time.Second}},
		// secure_tcp: LVS 2.4's half-open timeouts, unless shorter ones
		// are configured.
		{Timeouts{SecureTCP: true}, map[State]time.Duration{StateSynRecv: 10 * time.Second,
			StateSynSent: 60 * time.Second, StateSynAck: 100 * time.Second}},
		{Timeouts{SecureTCP: true, SynRecv: 3 * time.Second}, map[State]time.Duration{StateSynRecv: 3 * time.Second,
			StateSynSent: 60 * time.Second, StateSynAck: 100 * time.Second}},
	} {
		s, err := NewServices(nil, tc.to, lim)
		if err != nil {
			t.Fatalf("%+v: %v", tc.to, err)
		}
		want := func(st State) time.Duration {
			if d, ok := tc.want[st]; ok {
				return d
			}
			return defaults[st]
		}
		for st := range State(numStates) {
			if got := time.Duration(s.timeout[st]); got != want(st) {
				t.Errorf("%+v: timeout of %s = %v, want %v", tc.to, st, got, want(st))
			}
		}
		all := Timeouts{TCP: want(StateEstablished), TCPFin: want(StateFinWait), UDP: want(StateUDP), SynRecv: tc.to.SynRecv,
			UDPOneway: want(StateUDPOneway), SecureTCP: tc.to.SecureTCP}
		if all.SynRecv == 0 {
			all.SynRecv = defaults[StateSynRecv] // as configured, before SecureTCP
		}
		if got := s.Timeouts(); got != all {
			t.Errorf("%+v: Timeouts() = %+v, want %+v", tc.to, got, all)
		}
	}
	for _, tc := range []struct {
		to  Timeouts
		msg string
	}{
		{Timeouts{TCP: -1}, "tcp timeout -1ns"},
		{Timeouts{TCPFin: -time.Second}, "tcpfin timeout -1s"},
		{Timeouts{UDP: -time.Minute}, "udp timeout -1m0s"},
		{Timeouts{SynRecv: -2 * time.Second}, "SYN_RECV timeout -2s"},
	} {
		if _, err := NewServices(nil, tc.to, lim); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%+v: error %v, want one naming %q", tc.to, err, tc.msg)
		}
	}
}

func TestStateAndModeNames(t *testing.T) {
	if StateTimeWait.String() != "TIME_WAIT" || StateUDP.String() != "UDP" || State(99).String() != "state(99)" {
		t.Fatal("state names")
	}
	for m := Mode(0); m < numModes; m++ {
		got, err := ParseMode(m.String())
		if err != nil || got != m {
			t.Fatalf("ParseMode(%q) = %v, %v", m.String(), got, err)
		}
	}
	if _, err := ParseMode("masq"); err == nil {
		t.Fatal("ParseMode accepted masq")
	}
	for r := DropReason(0); r < NumDropReasons; r++ {
		if s := r.String(); s == "" || s == "unknown" || strings.ToLower(s) != s {
			t.Fatalf("reason %d has name %q", r, s)
		}
	}
}
