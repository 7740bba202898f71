package nat

import (
	"testing"

	"fngw/header"
)

// opsEnv is an env (FULLNAT unless mode says otherwise) whose services have
// one-packet scheduling (ServiceConf.OnePacket).
func opsEnv(t *testing.T, o envOpts) *env {
	e := newEnv(t, o)
	for i := range e.confs {
		e.confs[i].OnePacket = true
	}
	e.setTimeouts(Timeouts{})
	return e
}

// TestOnePacket: a one-packet UDP service schedules every datagram of one
// client tuple on its own (rr: rip1, rip2, rip1, rip2), each one ending the
// tuple's previous session (counted as expired); the latest session's
// reply is translated back to the client. The same datagrams in one burst
// get the same verdicts and state as one at a time. TCP ignores the flag,
// as LVS does.
func TestOnePacket(t *testing.T) {
	for _, mode := range []Mode{ModeFullNAT, ModeNAT, ModeDR} {
		t.Run(mode.String(), func(t *testing.T) {
			e := opsEnv(t, envOpts{mode: mode})
			for i, want := range []header.Addr4{rip1, rip2, rip1, rip2} {
				r, out := e.run(0, udpFrom(cip, 1, "q").frame(t))
				if r.Act != ActTx {
					t.Fatalf("datagram %d: %+v", i, r)
				}
				// DR leaves the VIP in place: the real server is the
				// destination MAC.
				d := decode(t, out)
				if got, gotMAC := d.ip.DstIP.String(), d.eth.DstMAC.String(); got != want.String() && gotMAC != rsMACOf(want).String() {
					t.Fatalf("datagram %d went to %s (%s), want %s", i, got, gotMAC, want)
				}
			}
			st := e.stats()
			if st.SessionsExpired != 3 || st.Sessions != 1 {
				t.Fatalf("%d sessions expired, %d left; want 3 and 1", st.SessionsExpired, st.Sessions)
			}
			if mode != ModeDR { // DR replies bypass the gateway
				s := e.session(0, header.IPProtoUDP, 1, 9000)
				reply := pkt{srcMAC: rsMACOf(s.Reply.Src), dstMAC: gwMAC1, src: s.Reply.Src, dst: s.Reply.Dst, ttl: 64,
					proto: header.IPProtoUDP, sport: s.Reply.SPort, dport: s.Reply.DPort, payload: []byte("a")}
				r, out := e.run(0, reply.frame(t))
				if r.Act != ActTx {
					t.Fatalf("reply: %+v", r)
				}
				if d := decode(t, out); d.ip.SrcIP.String() != vip.String() || d.ip.DstIP.String() != cip.String() {
					t.Fatalf("reply sent %s -> %s, want %s -> %s", d.ip.SrcIP, d.ip.DstIP, vip, cip)
				}
				// TCP: the connection keeps its destination.
				s = e.establish(40000)
				e.expectFlows(s, 40000, 1001, 5001)
				e.expectFlows(s, 40000, 1001, 5001)
				if e.stats().SessionsExpired != 3 {
					t.Fatalf("a TCP segment of the service ended its session")
				}
			}

			one, burst := opsEnv(t, envOpts{mode: mode}), opsEnv(t, envOpts{mode: mode})
			frames := make([][]byte, 6)
			for i := range frames {
				frames[i] = udpFrom(cip, 7, "b").frame(t)
			}
			for i, r := range burstLikeProcess(t, one, burst, 0, frames) {
				if r.Act != ActTx {
					t.Errorf("burst datagram %d: %+v", i, r)
				}
			}
			sameState(t, one, burst)
		})
	}
}

// TestOnePacketOffByDefault: without the flag the tuple's session keeps
// its destination.
func TestOnePacketOffByDefault(t *testing.T) {
	e := newEnv(t, envOpts{})
	for i := range 4 {
		_, out := e.run(0, udpFrom(cip, 1, "q").frame(t))
		if got := decode(t, out).ip.DstIP.String(); got != rip1.String() {
			t.Fatalf("datagram %d went to %s, want %s", i, got, rip1)
		}
	}
}
