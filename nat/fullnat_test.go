package nat

import (
	"encoding/binary"
	"testing"
	"time"

	"fngw/header"
	"fngw/test/pkttest"
)

// Flags shorthands.
const (
	fSYN = header.TCPFlagSYN
	fACK = header.TCPFlagACK
	fFIN = header.TCPFlagFIN
	fRST = header.TCPFlagRST
	fPSH = header.TCPFlagPSH
)

// fromClient is a TCP segment CIP:cport → VIP:80 as the router delivers it.
func fromClient(cport uint16, flags header.TCPFlags, seq, ack uint32, payload string) pkt {
	return pkt{srcMAC: routerMAC, dstMAC: gwMAC0, src: cip, dst: vip, ttl: 64, id: 7, proto: header.IPProtoTCP,
		sport: cport, dport: 80, flags: flags, seq: seq, ack: ack, payload: []byte(payload)}
}

// session returns the session of client port cport to VIP:port on core c.
func (e *env) session(c int, proto uint8, cport, port uint16) *Session {
	e.t.Helper()
	k := Tuple4{Src: cip, Dst: vip, SPort: cport, DPort: port, Proto: proto}
	idx, d := e.cores[c].tab.Lookup(&k)
	if idx < 0 || d != DirIn {
		e.t.Fatalf("no session for %v on core %d", k, c)
	}
	return e.cores[c].tab.At(idx)
}

// expectTx runs in on core c and checks the verdict and the exact output.
func (e *env) expectTx(c int, in, want []byte, port uint16) {
	e.t.Helper()
	r, out := e.run(c, in)
	if r != (Result{Act: ActTx, Port: port}) {
		e.t.Fatalf("verdict %+v (%v %v), want tx on port %d", r, r.Act, r.Reason, port)
	}
	decode(e.t, out)
	sameFrame(e.t, out, want)
}

func (e *env) expectDrop(c int, in []byte, why DropReason) {
	e.t.Helper()
	if r, _ := e.run(c, in); r.Act != ActDrop || r.Reason != why {
		e.t.Fatalf("verdict %v/%v, want drop %v", r.Act, r.Reason, why)
	}
}

func TestFullNATTCPLifecycle(t *testing.T) {
	e := newEnv(t, envOpts{})
	const cport = 40000

	// SYN: scheduled to rip1 (rr), both ends rewritten.
	syn := fromClient(cport, fSYN, 1000, 0, "")
	_, out := e.run(0, syn.frame(t))
	s := e.session(0, header.IPProtoTCP, cport, 80)
	lip, lport := s.Reply.Dst, s.Reply.DPort
	if (lip != laddr1 && lip != laddr2) || lport < 1024 || s.Reply.Src != rip1 || s.Reply.SPort != 8080 {
		t.Fatalf("reply tuple %v", s.Reply)
	}
	want := pkt{srcMAC: gwMAC1, dstMAC: rsMAC1, src: lip, dst: rip1, ttl: 63, id: 7, proto: header.IPProtoTCP,
		sport: lport, dport: 8080, flags: fSYN, seq: 1000}
	sameFrame(t, out, want.frame(t))
	d := decode(t, out)
	if !d.tcp.SYN || d.ip.TTL != 63 || uint16(d.tcp.SrcPort) != lport || d.tcp.DstPort != 8080 ||
		!d.ip.SrcIP.Equal(pkttest.IP(lip)) || !d.ip.DstIP.Equal(pkttest.IP(rip1)) || d.tcp.Seq != 1000 {
		t.Fatalf("decoded SYN: %+v %+v", d.ip, d.tcp)
	}
	if s.State != StateSynRecv || s.Mode != ModeFullNAT || s.DestID != destT1 || s.SvcID != svcTCP {
		t.Fatalf("session after SYN: %v %v dest %d svc %d", s.State, s.Mode, s.DestID, s.SvcID)
	}
	if a, i := e.active(destT1); a != 0 || i != 1 {
		t.Fatalf("after SYN: active %d inactive %d, want 0 1", a, i)
	}

	// SYN-ACK from the real server to LIP:lport, back to the client from the VIP.
	fromRS := func(flags header.TCPFlags, seq, ack uint32, payload string) pkt {
		return pkt{srcMAC: rsMAC1, dstMAC: gwMAC1, src: rip1, dst: lip, ttl: 64, id: 9, proto: header.IPProtoTCP,
			sport: 8080, dport: lport, flags: flags, seq: seq, ack: ack, payload: []byte(payload)}
	}
	toClient := func(p pkt) pkt {
		p.srcMAC, p.dstMAC, p.src, p.dst, p.sport, p.dport, p.ttl = gwMAC0, routerMAC, vip, cip, 80, cport, p.ttl-1
		return p
	}
	toRS := func(p pkt) pkt {
		p.srcMAC, p.dstMAC, p.src, p.dst, p.sport, p.dport, p.ttl = gwMAC1, rsMAC1, lip, rip1, lport, 8080, p.ttl-1
		return p
	}
	steps := []struct {
		name       string
		in         pkt
		fromClient bool
		state      State
		act, inact int32
	}{
		{"syn-ack", fromRS(fSYN|fACK, 5000, 1001, ""), false, StateSynRecv, 0, 1},
		{"ack", fromClient(cport, fACK, 1001, 5001, ""), true, StateEstablished, 1, 0},
		{"request", fromClient(cport, fPSH|fACK, 1001, 5001, "GET / HTTP/1.0\r\n\r\n"), true, StateEstablished, 1, 0},
		{"response", fromRS(fPSH|fACK, 5001, 1019, "HTTP/1.0 200 OK\r\n\r\nhello"), false, StateEstablished, 1, 0},
		{"server-fin", fromRS(fFIN|fACK, 5025, 1019, ""), false, StateFinWait, 0, 1},
		{"client-fin", fromClient(cport, fFIN|fACK, 1019, 5026, ""), true, StateTimeWait, 0, 1},
		{"last-ack", fromRS(fACK, 5026, 1020, ""), false, StateTimeWait, 0, 1},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			e.t = t
			e.now += sec
			if st.fromClient {
				e.expectTx(0, st.in.frame(t), toRS(st.in).frame(t), 1)
			} else {
				e.expectTx(0, st.in.frame(t), toClient(st.in).frame(t), 0)
			}
			if s.State != st.state {
				t.Fatalf("state %v, want %v", s.State, st.state)
			}
			if a, i := e.active(destT1); a != st.act || i != st.inact {
				t.Fatalf("active %d inactive %d, want %d %d", a, i, st.act, st.inact)
			}
			want := e.now + e.svcs.timeout[st.state]
			if st.name == "syn-ack" {
				want -= sec // the SYN-ACK does not re-arm SYN_RECV: the client's SYN, a second ago, did
			}
			if s.Expires != want {
				t.Fatalf("expires %d, want %d (now + %v)", s.Expires, want, time.Duration(e.svcs.timeout[st.state]))
			}
		})
	}
	e.t = t

	// Counters: 5 packets in (SYN, ACK, request, FIN, and none else), 4 out.
	var ds EndpointStats
	e.cores[0].AddDestStats(destT1, &ds)
	if ds.Conns != 1 || ds.InPkts != 4 || ds.OutPkts != 4 {
		t.Fatalf("dest stats %+v, want 1 conn, 4 in, 4 out", ds)
	}
	if u := e.cores[0].LaddrUsage(nil); len(u) != 1 || u[0].Addr != lip || u[0].InUse != 1 {
		t.Fatalf("laddr usage %+v", u)
	}

	// TIME_WAIT lasts 120 s; then the session, its port and its count go.
	if n := e.cores[0].Expire(e.svcs, e.now+119*sec, 1000); n != 0 {
		t.Fatalf("reaped %d before the TIME_WAIT timeout", n)
	}
	if n := e.cores[0].Expire(e.svcs, e.now+121*sec, 1000); n != 1 {
		t.Fatalf("reaped %d after the TIME_WAIT timeout, want 1", n)
	}
	if a, i := e.active(destT1); a != 0 || i != 0 {
		t.Fatalf("after expiry: active %d inactive %d", a, i)
	}
	e.cores[0].Flush()
	if u := e.cores[0].LaddrUsage(nil); u[0].InUse != 0 {
		t.Fatalf("laddr usage after expiry %+v", u)
	}
	var st Stats
	e.cores[0].AddStats(&st)
	if st.SessionsCreated != 1 || st.SessionsExpired != 1 || st.Sessions != 0 || st.Verdicts[ActTx] != 8 || st.Rx != 8 {
		t.Fatalf("core stats %+v", st)
	}
}

func TestFullNATUDP(t *testing.T) {
	for _, tc := range []struct {
		name   string
		noCsum bool
	}{{"checksum", false}, {"zero-checksum", true}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOpts{})
			q := pkt{srcMAC: routerMAC, dstMAC: gwMAC0, src: cip, dst: vip, ttl: 30, id: 1, proto: header.IPProtoUDP,
				sport: 33333, dport: 9000, payload: []byte("query"), noUDPCsum: tc.noCsum}
			r, out := e.run(0, q.frame(t))
			if r.Act != ActTx || r.Port != 1 {
				t.Fatalf("verdict %+v", r)
			}
			s := e.session(0, header.IPProtoUDP, 33333, 9000)
			if s.State != StateUDPOneway || s.Expires != e.now+5*sec {
				t.Fatalf("UDP session state %v expires in %d ns, want UDP_ONEWAY, 5 s until a reply", s.State, s.Expires-e.now)
			}
			lip, lport := s.Reply.Dst, s.Reply.DPort
			want := q
			want.srcMAC, want.dstMAC, want.src, want.dst, want.sport, want.dport, want.ttl = gwMAC1, rsMAC1, lip, rip1, lport, 9001, 29
			sameFrame(t, out, want.frame(t))
			if d := decode(t, out); (d.udp.Checksum == 0) != tc.noCsum {
				t.Fatalf("UDP checksum %#x, zero wanted: %v", d.udp.Checksum, tc.noCsum)
			}
			ans := pkt{srcMAC: rsMAC1, dstMAC: gwMAC1, src: rip1, dst: lip, ttl: 64, id: 2, proto: header.IPProtoUDP,
				sport: 9001, dport: lport, payload: []byte("answer!"), noUDPCsum: tc.noCsum}
			back := ans
			back.srcMAC, back.dstMAC, back.src, back.dst, back.sport, back.dport, back.ttl = gwMAC0, routerMAC, vip, cip, 9000, 33333, 63
			e.expectTx(0, ans.frame(t), back.frame(t), 0)
			if s.State != StateUDP || s.Expires != e.now+300*sec {
				t.Fatalf("after the reply: state %v expires in %d ns, want UDP, 300 s", s.State, s.Expires-e.now)
			}
			if a, i := e.active(destU1); a != 0 || i != 1 {
				t.Fatalf("UDP counts as inactive in LVS: got active %d inactive %d", a, i)
			}
			// ipvsadm --set 0 0 10: the next packet refreshes with 10 s.
			e.setTimeouts(Timeouts{UDP: 10 * time.Second})
			e.expectTx(0, ans.frame(t), back.frame(t), 0)
			if n := e.cores[0].Expire(e.svcs, e.now+11*sec, 100); n != 1 {
				t.Fatalf("reaped %d after the new UDP timeout", n)
			}
		})
	}
}

func TestUDPChecksumZeroResultSentAsFFFF(t *testing.T) {
	// RFC 768: a computed zero checksum is transmitted as all ones. Choose
	// the payload word so that the rewritten datagram sums to zero.
	var s Session
	s.Orig = Tuple4{Src: cip, Dst: vip, SPort: 40000, DPort: 9000, Proto: header.IPProtoUDP}
	s.Reply = Tuple4{Src: rip1, Dst: laddr1, SPort: 9001, DPort: 1024, Proto: header.IPProtoUDP}
	s.computeDeltas()
	out := s.Out(DirIn)
	o := s.In(DirOut)
	seg := make([]byte, 10)
	binary.BigEndian.PutUint16(seg[0:], out.SPort)
	binary.BigEndian.PutUint16(seg[2:], out.DPort)
	binary.BigEndian.PutUint16(seg[4:], 10)
	w := ^header.Checksum(seg, header.PseudoHeaderChecksum(header.IPProtoUDP, out.Src, out.Dst, 10))
	q := pkt{src: cip, dst: vip, ttl: 64, proto: header.IPProtoUDP, sport: 40000, dport: 9000, payload: []byte{byte(w >> 8), byte(w)}}
	l3 := q.l3(t)
	if header.UDP(l3[20:]).Checksum() == 0 {
		t.Fatal("input has no checksum")
	}
	rewrite(header.IPv4(l3), l3[20:], o, s.delta[DirIn])
	u := header.UDP(l3[20:])
	if u.Checksum() != 0xffff || !u.IsChecksumValid(out.Src, out.Dst) {
		t.Fatalf("checksum %#04x, want 0xffff (a computed zero)", u.Checksum())
	}
}

// TestFullNATReplyConflict: a new connection whose reply tuple is already
// in use (here by a session as session sync imports it, which holds no local
// port) is dropped as session_conflict and leaves nothing behind: the table,
// the port pools, the connection counts and the counters are as before, and
// the next connection gets the next port.
func TestFullNATReplyConflict(t *testing.T) {
	const cport = 40000
	syn := fromClient(cport, fSYN, 1000, 0, "")
	// An identical core shows the reply tuple the SYN is given.
	ref := newEnv(t, envOpts{})
	ref.run(0, syn.frame(t))
	taken := ref.session(0, header.IPProtoTCP, cport, 80).Reply

	e := newEnv(t, envOpts{})
	other := Tuple4{Src: header.Addr4{192, 0, 2, 1}, Dst: vip, SPort: 1, DPort: 80, Proto: header.IPProtoTCP}
	held, r := e.cores[0].tab.Insert(&other, &taken, e.now+100*sec)
	if r != ReasonNone {
		t.Fatalf("Insert: %v", r)
	}
	e.expectDrop(0, syn.frame(t), ReasonSessionConflict)
	tab := e.cores[0].tab
	if tab.Len() != 1 {
		t.Fatalf("%d sessions after the conflict, want the one held", tab.Len())
	}
	if i, d := tab.Lookup(&taken); i != held || d != DirOut {
		t.Fatalf("reply tuple now names session %d/%v, want %d/out", i, d, held)
	}
	k := Tuple4{Src: cip, Dst: vip, SPort: cport, DPort: 80, Proto: header.IPProtoTCP}
	if i, _ := tab.Lookup(&k); i >= 0 {
		t.Fatalf("the dropped SYN's tuple is indexed (session %d)", i)
	}
	for _, u := range e.cores[0].LaddrUsage(nil) {
		if u.InUse != 0 {
			t.Fatalf("local address %v has %d ports in use after the conflict", u.Addr, u.InUse)
		}
	}
	if a, i := e.active(destT1); a != 0 || i != 0 {
		t.Fatalf("destination counts %d active %d inactive after the conflict, want 0 0", a, i)
	}
	var st Stats
	e.cores[0].AddStats(&st)
	if st.SessionsCreated != 0 {
		t.Fatalf("%d sessions counted as created", st.SessionsCreated)
	}

	// The next connection is scheduled and given another port.
	e.run(0, fromClient(cport+1, fSYN, 1000, 0, "").frame(t))
	s := e.session(0, header.IPProtoTCP, cport+1, 80)
	if s.Reply == taken || s.Reply.Proto == 0 {
		t.Fatalf("next connection's reply tuple %v", s.Reply)
	}
	if i, d := tab.Lookup(&s.Reply); i < 0 || d != DirOut || tab.At(i) != s {
		t.Fatalf("next connection's reply tuple not indexed")
	}
}
