package nat

import (
	"testing"
	"time"

	"fngw/header"
	"fngw/sched"
)

// Attacks from the wire and their defences (docs/robustness.md, "Spoofed
// floods and blind segments"): each test mounts the attack the way the wire
// would and checks that the gateway keeps serving.

// rsMACOf returns the MAC of real server rip in the test network.
func rsMACOf(rip header.Addr4) header.MAC {
	if rip == rip2 {
		return rsMAC2
	}
	return rsMAC1
}

// fromServer is the real server's TCP segment of FULLNAT or NAT session s.
func fromServer(s *Session, flags header.TCPFlags, seq, ack uint32, payload string) pkt {
	return pkt{srcMAC: rsMACOf(s.Reply.Src), dstMAC: gwMAC1, src: s.Reply.Src, dst: s.Reply.Dst, ttl: 64, id: 9,
		proto: s.Reply.Proto, sport: s.Reply.SPort, dport: s.Reply.DPort, flags: flags, seq: seq, ack: ack, payload: []byte(payload)}
}

// udpFrom is a datagram from src:sport to the UDP service VIP:9000.
func udpFrom(src header.Addr4, sport uint16, payload string) pkt {
	return pkt{srcMAC: routerMAC, dstMAC: gwMAC0, src: src, dst: vip, ttl: 64, id: 3, proto: header.IPProtoUDP,
		sport: sport, dport: 9000, payload: []byte(payload)}
}

// spoofed returns the i-th forged source address (100.64.0.0/10).
func spoofed(i int) header.Addr4 {
	return header.Addr4{100, 64 + byte(i>>16&63), byte(i >> 8), byte(i)}
}

// establish opens a TCP connection from cport on core 0 (client ISS 1000,
// server ISS 5000) and returns its session.
func (e *env) establish(cport uint16) *Session {
	e.t.Helper()
	if r, _ := e.run(0, fromClient(cport, fSYN, 1000, 0, "").frame(e.t)); r.Act != ActTx {
		e.t.Fatalf("SYN from %d: %+v", cport, r)
	}
	s := e.session(0, header.IPProtoTCP, cport, 80)
	for _, f := range [][]byte{fromServer(s, fSYN|fACK, 5000, 1001, "").frame(e.t), fromClient(cport, fACK, 1001, 5001, "").frame(e.t)} {
		if r, _ := e.run(0, f); r.Act != ActTx {
			e.t.Fatalf("handshake: %+v", r)
		}
	}
	if s.State != StateEstablished {
		e.t.Fatalf("after the handshake: %v", s.State)
	}
	return s
}

func (e *env) stats() Stats {
	var st Stats
	for _, c := range e.cores {
		c.Flush()
		c.AddStats(&st)
	}
	return st
}

// expectFlows sends one data segment each way on session s (client port
// cport) and fails unless both are forwarded.
func (e *env) expectFlows(s *Session, cport uint16, seq, ack uint32) {
	e.t.Helper()
	if r, _ := e.run(0, fromClient(cport, fPSH|fACK, seq, ack, "more").frame(e.t)); r.Act != ActTx {
		e.t.Fatalf("client data after the attack: %+v (%v)", r, r.Reason)
	}
	if r, _ := e.run(0, fromServer(s, fPSH|fACK, ack, seq+4, "back").frame(e.t)); r.Act != ActTx {
		e.t.Fatalf("server data after the attack: %+v (%v)", r, r.Reason)
	}
}

// TestSpoofedUDPFloodEvicted: spoofed datagrams fill the table shared by
// every service with sessions nobody answers (UDP_ONEWAY, 5 s); a real TCP
// connection to the other service then gets a session at once, by evicting
// the oldest of the one-way sessions the table hand meets (LVS drop_entry),
// and a UDP session that saw its reply is never evicted.
func TestSpoofedUDPFloodEvicted(t *testing.T) {
	e := newEnv(t, envOpts{sessions: 1024})
	// One answered UDP exchange first: it must survive the flood.
	if r, _ := e.run(0, udpFrom(cip, 5353, "q").frame(t)); r.Act != ActTx {
		t.Fatalf("UDP query: %+v", r)
	}
	answered := e.session(0, header.IPProtoUDP, 5353, 9000)
	a := pkt{srcMAC: rsMACOf(answered.Reply.Src), dstMAC: gwMAC1, src: answered.Reply.Src, dst: answered.Reply.Dst, ttl: 64,
		proto: header.IPProtoUDP, sport: answered.Reply.SPort, dport: answered.Reply.DPort, payload: []byte("a")}
	if r, _ := e.run(0, a.frame(t)); r.Act != ActTx || answered.State != StateUDP {
		t.Fatalf("UDP answer: %+v, state %v", r, answered.State)
	}
	for i := range 1023 {
		e.now += 1000 // 1 µs apart: the first is the oldest
		if r, _ := e.run(0, udpFrom(spoofed(i), 1000, "x").frame(t)); r.Act != ActTx {
			t.Fatalf("flood datagram %d: %+v", i, r)
		}
	}
	if n := e.cores[0].tab.Len(); n != 1024 {
		t.Fatalf("%d sessions, want the table full (1024)", n)
	}
	// A real client's connection to the TCP service: accepted at once.
	e.now += sec
	s := e.establish(40000)
	e.expectFlows(s, 40000, 1001, 5001)
	st := e.stats()
	if st.SessionsEvicted != 1 || st.Drops[ReasonTableFull] != 0 {
		t.Fatalf("evicted %d, table_full %d; want 1 and 0", st.SessionsEvicted, st.Drops[ReasonTableFull])
	}
	// The evicted one is the flood's oldest; the answered one is there.
	first := Tuple4{Src: spoofed(0), Dst: vip, SPort: 1000, DPort: 9000, Proto: header.IPProtoUDP}
	if idx, _ := e.cores[0].tab.Lookup(&first); idx >= 0 {
		t.Error("the oldest one-way session survived")
	}
	e.session(0, header.IPProtoUDP, 5353, 9000)
	// Each further new flow evicts one more; the flood's sessions expire
	// 5 s after their datagram.
	for cport := uint16(40001); cport < 40100; cport++ {
		e.establish(cport)
	}
	if st := e.stats(); st.SessionsEvicted != 100 {
		t.Fatalf("evicted %d after 100 connections", st.SessionsEvicted)
	}
	e.now += 5 * sec
	e.cores[0].Expire(e.svcs, e.now, 1<<20)
	if n := e.cores[0].tab.Len(); n != 101 {
		t.Fatalf("%d sessions 5 s after the flood, want the 100 connections and the answered exchange", n)
	}
}

// TestFullTableOfAnsweredSessions: nothing to evict, the new flow is refused
// (table_full) and the scan is bounded.
func TestFullTableOfAnsweredSessions(t *testing.T) {
	e := newEnv(t, envOpts{sessions: 1024})
	for cport := uint16(1); cport <= 1024; cport++ {
		e.establish(cport)
	}
	e.expectDrop(0, udpFrom(spoofed(1), 1, "x").frame(t), ReasonTableFull)
	e.expectDrop(0, fromClient(2000, fSYN, 1, 0, "").frame(t), ReasonTableFull)
	if st := e.stats(); st.SessionsEvicted != 0 {
		t.Fatalf("evicted %d answered sessions", st.SessionsEvicted)
	}
}

// TestSpoofedSYNFloodEvicted: SYN_RECV sessions are evicted the same way,
// oldest of the scanned ones first.
func TestSpoofedSYNFloodEvicted(t *testing.T) {
	e := newEnv(t, envOpts{sessions: 1024})
	for i := range 1024 {
		e.now += 1000
		p := fromClient(1000, fSYN, 1, 0, "")
		p.src = spoofed(i)
		if r, _ := e.run(0, p.frame(t)); r.Act != ActTx {
			t.Fatalf("SYN %d: %+v", i, r)
		}
	}
	e.establish(40000)
	if st := e.stats(); st.SessionsEvicted != 1 {
		t.Fatalf("evicted %d", st.SessionsEvicted)
	}
}

// TestSessionQuota: a service over its quota evicts its own unreplied
// sessions, or refuses (quota_exceeded); another service is not affected.
func TestSessionQuota(t *testing.T) {
	e := newEnv(t, envOpts{sessions: 1024, ncores: 2})
	e.confs[1].SessionQuota = 7 // the UDP service: 4 sessions per core (ceil(7/2))
	e.setTimeouts(Timeouts{})
	for i := range 4 {
		if r, _ := e.run(0, udpFrom(spoofed(i), 1000, "x").frame(t)); r.Act != ActTx {
			t.Fatalf("datagram %d: %+v", i, r)
		}
	}
	// The fifth evicts the oldest one-way session of the service.
	if r, _ := e.run(0, udpFrom(spoofed(4), 1000, "x").frame(t)); r.Act != ActTx {
		t.Fatalf("datagram over the quota: %+v", r)
	}
	if st := e.stats(); st.SessionsEvicted != 1 || e.cores[0].tab.Len() != 4 {
		t.Fatalf("evicted %d, %d sessions; want 1 and 4", st.SessionsEvicted, e.cores[0].tab.Len())
	}
	// Answered, they stay: the next is refused.
	for i := 1; i <= 4; i++ {
		k := Tuple4{Src: spoofed(i), Dst: vip, SPort: 1000, DPort: 9000, Proto: header.IPProtoUDP}
		idx, _ := e.cores[0].tab.Lookup(&k)
		e.cores[0].tab.At(idx).State = StateUDP
	}
	e.expectDrop(0, udpFrom(spoofed(9), 1000, "x").frame(t), ReasonQuotaExceeded)
	// The TCP service has no quota.
	for cport := uint16(1); cport <= 10; cport++ {
		e.establish(cport)
	}
	// The other core has its own share.
	if r, _ := e.run(1, udpFrom(spoofed(10), 1000, "x").frame(t)); r.Act != ActTx {
		t.Fatalf("core 1: %+v", r)
	}
	if _, err := NewServices([]ServiceConf{{ID: 1, VIP: vip, Port: 1, Proto: header.IPProtoUDP, Sched: e.confs[1].Sched,
		Dests: e.confs[1].Dests, SessionQuota: -1}}, Timeouts{}, e.lim); err == nil {
		t.Fatal("a negative quota was accepted")
	}
}

// TestUDPOneway: a FULLNAT or NAT UDP session lasts UDPOneway until the
// real server answers, then the UDP timeout; DR and TUN sessions, whose
// replies never come through, are UDP from the start.
func TestUDPOneway(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.setTimeouts(Timeouts{UDPOneway: 2 * time.Second})
	e.run(0, udpFrom(cip, 1, "x").frame(t))
	s := e.session(0, header.IPProtoUDP, 1, 9000)
	if s.State != StateUDPOneway || s.Expires != e.now+2*sec {
		t.Fatalf("state %v expires in %d", s.State, s.Expires-e.now)
	}
	if e.cores[0].Expire(e.svcs, e.now+3*sec, 100) != 1 {
		t.Fatal("the one-way session did not expire after 2 s")
	}
	for _, m := range []Mode{ModeDR, ModeTUN} {
		e := newEnv(t, envOpts{mode: m})
		e.run(0, udpFrom(cip, 1, "x").frame(t))
		if s := e.session(0, header.IPProtoUDP, 1, 9000); s.State != StateUDP || s.Expires != e.now+300*sec {
			t.Fatalf("%v: state %v expires in %d", m, s.State, s.Expires-e.now)
		}
	}
}

// TestPortExhaustionReclaimsSynRecv: spoofed SYNs hold every local port
// toward a real server long before the table fills (the real server answers
// each with SYN-ACKs nobody acknowledges); a real client's SYN takes back
// the port of the oldest of them and is forwarded.
func TestPortExhaustionReclaimsSynRecv(t *testing.T) {
	// Four ports per (LIP, RS) pool, one LIP, one real server per SYN in
	// turn (rr): 8 spoofed SYNs exhaust both pools.
	e := newEnv(t, envOpts{ports: PortRange{Min: 2000, Max: 2003}, oneLaddr: true})
	var flood []*Session
	for i := range 8 {
		e.now += sec
		p := fromClient(1000, fSYN, 1, 0, "")
		p.src = spoofed(i)
		if r, _ := e.run(0, p.frame(t)); r.Act != ActTx {
			t.Fatalf("SYN %d: %+v", i, r)
		}
		k := Tuple4{Src: p.src, Dst: vip, SPort: 1000, DPort: 80, Proto: header.IPProtoTCP}
		idx, _ := e.cores[0].tab.Lookup(&k)
		s := e.cores[0].tab.At(idx)
		flood = append(flood, s)
		// The real server answers; it retransmits later.
		if r, _ := e.run(0, fromServer(s, fSYN|fACK, 7000, 2, "").frame(t)); r.Act != ActTx {
			t.Fatalf("SYN-ACK %d: %+v", i, r)
		}
	}
	oldest := flood[0].Orig
	s := e.establish(40000)
	if s.Reply.Src != rip1 {
		t.Fatalf("scheduled to %v, want rip1 (rr)", s.Reply.Src)
	}
	st := e.stats()
	if st.LaddrReclaimed != 1 || st.Drops[ReasonLaddrExhausted] != 0 {
		t.Fatalf("reclaimed %d, laddr_exhausted %d", st.LaddrReclaimed, st.Drops[ReasonLaddrExhausted])
	}
	if idx, _ := e.cores[0].tab.Lookup(&oldest); idx >= 0 {
		t.Error("the oldest SYN_RECV session of the pool kept its port")
	}
	// Established connections are never reclaimed: with the pool full of
	// them, a new flow is refused and counted.
	e2 := newEnv(t, envOpts{ports: PortRange{Min: 2000, Max: 2000}, oneLaddr: true})
	e2.establish(1)
	e2.establish(2)
	e2.expectDrop(0, fromClient(3, fSYN, 1, 0, "").frame(t), ReasonLaddrExhausted)
	if u := e2.cores[0].LaddrUsage(nil); u[0].Exhausted != 1 {
		t.Fatalf("usage %+v", u)
	}
}

// TestSynAckDoesNotRearmSynRecv: the real server retransmits its SYN-ACK to
// a client that never answers (a spoofed SYN); the session still ends
// SYN_RECV's timeout after the SYN.
func TestSynAckDoesNotRearmSynRecv(t *testing.T) {
	e := newEnv(t, envOpts{})
	syn := e.now
	e.run(0, fromClient(1, fSYN, 1, 0, "").frame(t))
	s := e.session(0, header.IPProtoTCP, 1, 80)
	for _, after := range []int64{0, 1, 3, 7, 15, 31, 59} {
		e.now = syn + after*sec
		if r, _ := e.run(0, fromServer(s, fSYN|fACK, 5000, 2, "").frame(t)); r.Act != ActTx {
			t.Fatalf("SYN-ACK at +%d s: %+v", after, r)
		}
		if s.Expires != syn+60*sec {
			t.Fatalf("SYN-ACK at +%d s moved the deadline to +%d ns", after, s.Expires-syn)
		}
	}
	if n := e.cores[0].Expire(e.svcs, syn+61*sec, 100); n != 1 {
		t.Fatalf("reaped %d at +61 s, want the half-open session", n)
	}
	// secure_tcp: 10 s.
	e.setTimeouts(Timeouts{SecureTCP: true})
	e.run(0, fromClient(2, fSYN, 1, 0, "").frame(t))
	if s := e.session(0, header.IPProtoTCP, 2, 80); s.Expires != e.now+10*sec {
		t.Fatalf("secure_tcp: SYN_RECV expires in %d", s.Expires-e.now)
	}
}

// back returns sequence number n moved back by d, modulo 2^32.
func back(n, d uint32) uint32 { return n - d }

// TestBlindRST: a RST with a sequence number outside the window its sender
// reached is dropped (rst_out_of_window) and changes nothing: the connection
// idles past the CLOSE timeout and still carries data both ways. One inside
// the window closes it, as LVS does.
func TestBlindRST(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    Dir
		seq  uint32
	}{
		{"client-far-ahead", DirIn, 1001 + 1<<31},
		{"client-behind", DirIn, back(1001, 1<<20)},
		{"client-3-units-ahead", DirIn, 1001 + 3<<16},
		{"server-far", DirOut, 5001 + 0x9e3779b9},
		{"server-2-units-behind", DirOut, back(5001, 2<<16)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOpts{})
			s := e.establish(40000)
			for _, fl := range []header.TCPFlags{fRST, fRST | fACK} {
				rst := fromClient(40000, fl, tc.seq, 5001, "").frame(t)
				if tc.d == DirOut {
					rst = fromServer(s, fl, tc.seq, 1001, "").frame(t)
				}
				e.expectDrop(0, rst, ReasonRSTOutOfWindow)
			}
			if s.State != StateEstablished {
				t.Fatalf("state %v after a blind RST", s.State)
			}
			e.now += 11 * sec // past CLOSE's 10 s
			e.cores[0].Expire(e.svcs, e.now, 1000)
			e.expectFlows(s, 40000, 1001, 5001)
		})
	}
	for _, tc := range []struct {
		name string
		d    Dir
		seq  uint32
	}{
		{"client-exact", DirIn, 1001},
		{"client-unit-ahead", DirIn, 1001 + 100000},
		{"server-exact", DirOut, 5001},
		{"server-unit-behind", DirOut, back(5001, 60000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOpts{})
			s := e.establish(40000)
			rst := fromClient(40000, fRST, tc.seq, 0, "").frame(t)
			if tc.d == DirOut {
				rst = fromServer(s, fRST, tc.seq, 0, "").frame(t)
			}
			if r, _ := e.run(0, rst); r.Act != ActTx || s.State != StateClose {
				t.Fatalf("RST in the window: %+v, state %v", r, s.State)
			}
		})
	}
}

// TestSequenceTracksData: the tracked sequence follows a long transfer, so
// a RST at its end counts; a RST before the server's SYN-ACK counts when it
// acknowledges the SYN (a refused connection).
func TestSequenceTracksData(t *testing.T) {
	e := newEnv(t, envOpts{})
	s := e.establish(40000)
	seq := uint32(5001)
	for range 300 { // 300 × 60 KiB: far past any fixed window around 5001
		if r, _ := e.run(0, fromServer(s, fACK, seq, 1001, "d").frame(t)); r.Act != ActTx {
			t.Fatalf("data at %d: %+v", seq, r)
		}
		seq += 60 << 10
	}
	if r, _ := e.run(0, fromServer(s, fRST|fACK, seq, 1001, "").frame(t)); r.Act != ActTx || s.State != StateClose {
		t.Fatalf("RST after the transfer: %+v, state %v", r, s.State)
	}

	e = newEnv(t, envOpts{})
	e.run(0, fromClient(1, fSYN, 0xfffff000, 0, "").frame(t))
	s = e.session(0, header.IPProtoTCP, 1, 80)
	e.expectDrop(0, fromServer(s, fRST|fACK, 0, 0x12345678, "").frame(t), ReasonRSTOutOfWindow)
	if r, _ := e.run(0, fromServer(s, fRST|fACK, 0, 0xfffff001, "").frame(t)); r.Act != ActTx || s.State != StateClose {
		t.Fatalf("refusal: %+v, state %v", r, s.State)
	}
}

// TestFlaglessSegment: a segment without SYN, FIN, RST or ACK (forged; no
// stack sends one) is forwarded but moves no state: the connection idles
// past the CLOSE timeout and still works.
func TestFlaglessSegment(t *testing.T) {
	e := newEnv(t, envOpts{})
	s := e.establish(40000)
	for _, f := range [][]byte{fromClient(40000, 0, 0x31337, 0, "").frame(t), fromServer(s, fPSH, 77, 0, "x").frame(t)} {
		e.run(0, f)
		if s.State != StateEstablished {
			t.Fatalf("state %v after a flagless segment", s.State)
		}
	}
	e.now += 11 * sec
	e.cores[0].Expire(e.svcs, e.now, 1000)
	e.expectFlows(s, 40000, 1001, 5001)
}

// TestForgedRSTThenSYN: a forged RST and SYN from the client's address do
// not move the client to another real server (the RST is out of the window;
// the SYN meets an ESTABLISHED session, which keeps its destination).
// conn_reuse still reschedules a SYN after a FIN exchange, and not after a
// RST alone.
func TestForgedRSTThenSYN(t *testing.T) {
	e := newEnv(t, envOpts{})
	s := e.establish(40000)
	dest := s.DestID
	e.expectDrop(0, fromClient(40000, fRST, 0x77777777, 0, "").frame(t), ReasonRSTOutOfWindow)
	if r, out := e.run(0, fromClient(40000, fSYN, 0x88888888, 0, "").frame(t)); r.Act != ActTx || decode(t, out).ip.DstIP.String() != rip1.String() {
		t.Fatalf("SYN: %+v", r)
	}
	if e.session(0, header.IPProtoTCP, 40000, 80) != s || s.DestID != dest || s.State != StateEstablished {
		t.Fatalf("session moved: dest %d state %v", s.DestID, s.State)
	}
	e.now += 11 * sec
	e.cores[0].Expire(e.svcs, e.now, 1000)
	e.expectFlows(s, 40000, 1001, 5001)

	// A RST in the window closes; the SYN after it (within CLOSE's 10 s)
	// reopens on the same session, to the same real server.
	e.run(0, fromClient(40000, fRST, 1005, 0, "").frame(t))
	if s.State != StateClose {
		t.Fatalf("state %v after an in-window RST", s.State)
	}
	e.run(0, fromClient(40000, fSYN, 90000, 0, "").frame(t))
	if e.session(0, header.IPProtoTCP, 40000, 80) != s || s.DestID != dest || s.State != StateSynRecv {
		t.Fatalf("SYN after a RST: dest %d state %v", s.DestID, s.State)
	}

	// The client's FIN, then the server's RST (a server that resets
	// after the client closed): CLOSE after a FIN, so the SYN is a new
	// connection, scheduled afresh (rr: the other real server).
	e = newEnv(t, envOpts{})
	s = e.establish(40000)
	for _, f := range [][]byte{
		fromClient(40000, fFIN|fACK, 1001, 5001, "").frame(t),
		fromServer(s, fRST|fACK, 5001, 1002, "").frame(t),
	} {
		if r, _ := e.run(0, f); r.Act != ActTx {
			t.Fatalf("close: %+v", r)
		}
	}
	if s.State != StateClose || s.Flags&FlagFin == 0 {
		t.Fatalf("after FIN and RST: %v, flags %b", s.State, s.Flags)
	}
	e.run(0, fromClient(40000, fSYN, 70000, 0, "").frame(t))
	if n := e.session(0, header.IPProtoTCP, 40000, 80); n.Reply.Src != rip2 || n.State != StateSynRecv {
		t.Fatalf("SYN after FIN and RST: to %v, %v", n.Reply.Src, n.State)
	}
}

// TestFINOutsideWindow: a forged FIN far from the sender's sequence is
// forwarded (its receiver decides) but does not move the state.
func TestFINOutsideWindow(t *testing.T) {
	e := newEnv(t, envOpts{})
	s := e.establish(40000)
	if r, _ := e.run(0, fromClient(40000, fFIN|fACK, 1001+1<<30, 5001, "").frame(t)); r.Act != ActTx {
		t.Fatalf("forged FIN: %+v", r)
	}
	if s.State != StateEstablished || s.Flags&FlagFin != 0 {
		t.Fatalf("state %v flags %b after a forged FIN", s.State, s.Flags)
	}
}

// TestWrongIngressPort: a packet of a session arriving on another port than
// the one its sender is behind is dropped: a host on the clients' segment
// injecting "replies" to LIP:lport, or a client segment arriving from the
// servers' side. LooseIngress lets them through.
func TestWrongIngressPort(t *testing.T) {
	for _, loose := range []bool{false, true} {
		e := newEnv(t, envOpts{})
		if loose {
			e.svcs = e.svcs.WithPolicy(Policy{LooseIngress: true})
		}
		s := e.establish(40000)
		forged := fromServer(s, fPSH|fACK, 5001, 1001, "injected")
		forged.srcMAC, forged.dstMAC = routerMAC, gwMAC0 // on the clients' port
		wrongSide := fromClient(40000, fPSH|fACK, 1001, 5001, "x")
		wrongSide.srcMAC, wrongSide.dstMAC = rsMAC1, gwMAC1
		for _, f := range [][]byte{forged.frame(t), wrongSide.frame(t)} {
			r, _ := e.run(0, f)
			if !loose && (r.Act != ActDrop || r.Reason != ReasonWrongIngressPort) {
				t.Fatalf("strict: %+v, want drop wrong_ingress_port", r)
			}
			if loose && r.Act != ActTx {
				t.Fatalf("loose: %+v, want tx", r)
			}
		}
		e.expectFlows(s, 40000, 1001, 5001)
	}
}

// TestLocalPortsRandomOrder: a pool hands its ports out in a keyed random
// order, every port once before any comes back (the TIME_WAIT rule), and
// two seeds give two orders.
func TestLocalPortsRandomOrder(t *testing.T) {
	lip, rip := header.Addr4{10, 0, 0, 1}, header.Addr4{10, 0, 0, 2}
	order := func(seed uint64, core, ncores int) []uint16 {
		p, err := NewPortPools(core, ncores, DefaultPortRange, 4, seed)
		if err != nil {
			t.Fatal(err)
		}
		var ports []uint16
		seen := map[uint16]bool{}
		for range p.PerPool() {
			_, port, ok := p.Alloc(header.IPProtoTCP, lip, rip, 80)
			if !ok || seen[port] || OwnerCore(port, ncores) != core || port < 1024 {
				t.Fatalf("seed %d: port %d (ok %v) twice, or not this core's", seed, port, ok)
			}
			seen[port] = true
			ports = append(ports, port)
		}
		if _, _, ok := p.Alloc(header.IPProtoTCP, lip, rip, 80); ok {
			t.Fatal("a port beyond the slice")
		}
		return ports
	}
	a, b := order(1, 0, 1), order(2, 0, 1)
	if len(a) != 64512 {
		t.Fatalf("%d ports", len(a))
	}
	inSequence, same := 0, 0
	for i := range a {
		if i > 0 && a[i] == a[i-1]+1 {
			inSequence++
		}
		if a[i] == b[i] {
			same++
		}
	}
	if inSequence > 100 || same > 100 {
		t.Fatalf("%d ports follow their predecessor, %d equal under another seed", inSequence, same)
	}
	order(3, 1, 3)
	order(4, 2, 7)
}

// TestTUNRelayNeedsSession: fragmentation needed about an IPIP packet is
// relayed only for a live TUN session of the quoted connection, to a
// unicast address not the gateway's own: a forged one is dropped as
// relay_refused and costs no ICMP token. With several cores, the core
// without the session hands it on until one has it or all have looked.
func TestTUNRelayNeedsSession(t *testing.T) {
	data := fromClient(40000, fPSH|fACK, 2, 1, string(make([]byte, 1400)))
	data.ttl = 63
	quoteOf := func(p pkt) []byte {
		outer := header.IPv4(ipipFrame(t, p, rsMAC1, 0)[header.EthernetLen:])
		q := append([]byte(nil), outer[:100]...)
		header.IPv4(q).SetTTL(63)
		header.IPv4(q).SetChecksum(header.IPv4(q).CalculateChecksum())
		return q
	}
	from := func(p pkt) []byte {
		return icmpErr{srcMAC: hopMAC, dstMAC: gwMAC1, src: hopIP, dst: portAddr1, ttl: 64, typ: 3, code: 4, mtu: 1400, quoted: quoteOf(p)}.frame(t)
	}
	e := newEnv(t, envOpts{mode: ModeTUN})
	e.expectDrop(0, from(data), ReasonRelayRefused) // no session yet
	for _, src := range []header.Addr4{{255, 255, 255, 255}, {224, 0, 0, 1}, {127, 0, 0, 1}, {0, 1, 2, 3}, {198, 18, 0, 1}, vip} {
		p := data
		p.src = src
		e.expectDrop(0, from(p), ReasonRelayRefused)
	}
	e.run(0, fromClient(40000, fSYN, 1, 0, "").frame(t))
	if r, _ := e.run(0, from(data)); r != (Result{Act: ActTx, Port: 0}) {
		t.Fatalf("with the session: %+v", r)
	}
	other := data
	other.sport = 40001 // another connection of the client: none
	e.expectDrop(0, from(other), ReasonRelayRefused)
	if st := e.stats(); st.ICMPSent != 1 || st.Drops[ReasonRelayRefused] != 8 {
		t.Fatalf("sent %d, refused %d", st.ICMPSent, st.Drops[ReasonRelayRefused])
	}

	// Three cores, the session on core 2, the router's ICMP on core 0.
	e = newEnv(t, envOpts{mode: ModeTUN, ncores: 3})
	e.run(2, fromClient(40000, fSYN, 1, 0, "").frame(t))
	buf := from(data)
	hop := func(c int) Result {
		t.Helper()
		f := Frame{Buf: make([]byte, 128+len(buf)+64), Off: 128, Len: len(buf), L3: header.EthernetLen, Port: 1}
		copy(f.Buf[128:], buf)
		r := e.cores[c].Process(&f, e.svcs, e.stack, e.now)
		buf = append([]byte(nil), f.Buf[f.Off:f.Off+f.Len]...)
		return r
	}
	if r := hop(0); r != redirectTo(1) {
		t.Fatalf("core 0: %+v, want redirect to 1", r)
	}
	if r := hop(1); r != redirectTo(2) {
		t.Fatalf("core 1: %+v, want redirect to 2", r)
	}
	if r := hop(2); r != (Result{Act: ActTx, Port: 0}) {
		t.Fatalf("core 2: %+v, want the relay", r)
	}
	sameFrame(t, buf, fragNeededFrame(t, data, 1380, 2))
	// No session anywhere: around the cores once, then refused.
	other.sport = 40002
	buf = from(other)
	for c, want := range []Result{redirectTo(1), redirectTo(2), drop(ReasonRelayRefused)} {
		if r := hop(c); r != want {
			t.Fatalf("core %d: %+v, want %+v", c, r, want)
		}
	}
	// Started on core 1: 1, 2, 0, refused by 0.
	buf = from(other)
	for _, c := range []int{1, 2} {
		if r := hop(c); r != redirectTo((c+1)%3) {
			t.Fatalf("core %d: %+v", c, r)
		}
	}
	if r := hop(0); r != drop(ReasonRelayRefused) {
		t.Fatalf("core 0 (the last): %+v", r)
	}
}

// nodestEnv is an env whose TCP and UDP services lost destination 1
// (destT1, destU1) from the snapshot, or, quiesced, keep it with weight 0.
func nodestEnv(t *testing.T, e *env, quiesce bool, pol Policy) {
	t.Helper()
	for i := range e.confs {
		c := &e.confs[i]
		sc := make([]sched.DestConf, 0, 2)
		dc := make([]DestConf, 0, 2)
		for j, d := range c.Dests {
			w := int32(1)
			if j == 0 {
				if !quiesce {
					continue
				}
				w = 0
			}
			sc = append(sc, sched.DestConf{ID: d.ID, Addr: d.Addr, Port: d.Port, Weight: w})
			dc = append(dc, d)
		}
		s, err := sched.NewService(sched.RR, 0, sc, e.conns, len(e.cores), sched.WithPrevious(c.Sched))
		if err != nil {
			t.Fatal(err)
		}
		c.Sched, c.Dests = s, dc
	}
	e.setTimeouts(Timeouts{})
	e.svcs = e.svcs.WithPolicy(pol)
}

// TestExpireNodestConn: LVS's expire_nodest_conn. Off (the default), a
// session whose destination was removed keeps forwarding to it. On, a
// client packet expires it: a UDP datagram or a SYN is scheduled afresh, a
// TCP segment is dropped (no_session); a SYN reusing a session of a
// quiesced destination is scheduled afresh too. Replies are not affected.
func TestExpireNodestConn(t *testing.T) {
	for _, on := range []bool{false, true} {
		e := newEnv(t, envOpts{})
		s := e.establish(40000) // to rip1 (destT1)
		e.run(0, udpFrom(cip, 1, "x").frame(t))
		u := e.session(0, header.IPProtoUDP, 1, 9000)
		if s.DestID != destT1 || u.DestID != destU1 {
			t.Fatalf("scheduled to %d and %d", s.DestID, u.DestID)
		}
		nodestEnv(t, e, false, Policy{ExpireNodestConn: on})
		if r, _ := e.run(0, fromServer(s, fACK, 5001, 1001, "").frame(t)); r.Act != ActTx {
			t.Fatalf("reply: %+v", r)
		}
		r, out := e.run(0, udpFrom(cip, 1, "y").frame(t))
		if r.Act != ActTx {
			t.Fatalf("on %v: datagram %+v", on, r)
		}
		if got := decode(t, out).ip.DstIP.String(); on != (got == rip2.String()) {
			t.Fatalf("on %v: datagram sent to %s", on, got)
		}
		data := fromClient(40000, fPSH|fACK, 1001, 5001, "x").frame(t)
		if !on {
			if r, _ := e.run(0, data); r.Act != ActTx {
				t.Fatalf("off: %+v", r)
			}
			continue
		}
		e.expectDrop(0, data, ReasonNoSession)
		st := e.stats()
		if st.SessionsExpired != 2 || st.Sessions != 1 {
			t.Fatalf("expired %d, %d sessions", st.SessionsExpired, st.Sessions)
		}
	}
	// Quiesced: the established connection goes on; a SYN reusing its
	// tuple goes to an available real server.
	e := newEnv(t, envOpts{})
	s := e.establish(40000)
	nodestEnv(t, e, true, Policy{ExpireNodestConn: true})
	e.expectFlows(s, 40000, 1001, 5001)
	e.run(0, fromClient(40000, fSYN, 99999, 0, "").frame(t))
	if n := e.session(0, header.IPProtoTCP, 40000, 80); n.DestID != destT2 {
		t.Fatalf("SYN on a quiesced destination's session: to %d", n.DestID)
	}
}

// TestHardenedPathsAllocateNothing: eviction, reclaim and the relay refusal
// allocate nothing.
func TestHardenedPathsAllocateNothing(t *testing.T) {
	e := newEnv(t, envOpts{sessions: 1024})
	for i := range 1024 {
		e.run(0, udpFrom(spoofed(i), 1, "x").frame(t))
	}
	i := 2000
	frames := make([]*benchFrame, 200)
	for j := range frames {
		frames[j] = newBenchFrame(udpFrom(spoofed(i+j), 1, "x").frame(t))
	}
	j := 0
	if n := testing.AllocsPerRun(100, func() {
		bf := frames[j]
		j++
		bf.reset()
		if r := e.cores[0].Process(&bf.f, e.svcs, e.stack, e.now); r.Act != ActTx {
			t.Fatalf("%+v", r)
		}
	}); n != 0 {
		t.Fatalf("%v allocations per evicting flow", n)
	}
}
