package nat

import (
	"testing"

	"fngw/header"
	"fngw/sched"
)

const svcAny = 3 // VIP:0/tcp, persistent, NAT

// anyPortEnv is a two-core NAT env with, beside VIP:80 and VIP:9000, the
// persistent port-zero TCP service VIP:0 over rip1 and rip2, configured
// with port 0 and 8080 (a NAT destination's port is not used by a
// port-zero service).
func anyPortEnv(t *testing.T) *env {
	e := newEnv(t, envOpts{mode: ModeNAT, ncores: 2})
	dc := []DestConf{{ID: 30, Addr: rip1.Netip(), Port: 0, Mode: ModeNAT}, {ID: 31, Addr: rip2.Netip(), Port: 8080, Mode: ModeNAT}}
	sc := []sched.DestConf{{ID: 30, Addr: dc[0].Addr, Weight: 1}, {ID: 31, Addr: dc[1].Addr, Port: 8080, Weight: 1}}
	s, err := sched.NewService(sched.RR, 0, sc, e.conns, 2, sched.WithPersistence(sched.Persistence{Timeout: 300e9}))
	if err != nil {
		t.Fatal(err)
	}
	e.confs = append(e.confs, ServiceConf{ID: svcAny, VIP: vip, Port: 0, Proto: header.IPProtoTCP, Sched: s, Dests: dc})
	e.setTimeouts(Timeouts{})
	return e
}

// TestPortZeroService: as LVS's port-zero services, VIP:0 takes every port
// of the VIP no other service has: each connection goes to the port the
// client asked for, on the destination the client's one template (for all
// ports, bound by the first connection's handshake) names; VIP:80 keeps its own service. NAT replies from any port of
// the real server reach the owner core and go back from VIP:port. A
// protocol without a port-zero service is not served.
func TestPortZeroService(t *testing.T) {
	e := anyPortEnv(t)
	syn := func(cport, dport uint16) []byte {
		return pkt{srcMAC: routerMAC, dstMAC: gwMAC0, src: cip, dst: vip, ttl: 64, id: 7, proto: header.IPProtoTCP,
			sport: cport, dport: dport, flags: fSYN, seq: 1000}.frame(t)
	}
	var rs header.Addr4
	for i, c := range []struct{ cport, dport, want uint16 }{{40000, 443, 443}, {40001, 22, 22}, {40002, 8443, 8443}, {40003, 80, 8080}} {
		// The persistent service's flows are the client's core's
		// (PersistOwner), whatever their ports; VIP:80's, not
		// persistent, its endpoint's (NATOwner).
		owner := PersistOwner(cip, 2)
		if c.dport == 80 {
			owner = NATOwner(cip, c.cport, 2)
		}
		if r, _ := e.run(1-owner, syn(c.cport, c.dport)); r != redirectTo(owner) {
			t.Fatalf("SYN to %d on core %d: %+v, want redirect to %d", c.dport, 1-owner, r, owner)
		}
		r, out := e.run(owner, syn(c.cport, c.dport))
		if r.Act != ActTx {
			t.Fatalf("SYN to %d: %+v", c.dport, r)
		}
		d := decode(t, out)
		if uint16(d.tcp.DstPort) != c.want {
			t.Errorf("SYN to %d sent to port %d, want %d", c.dport, d.tcp.DstPort, c.want)
		}
		got := header.Addr4(d.ip.DstIP.To4())
		if c.dport == 80 {
			if s := e.session(owner, header.IPProtoTCP, c.cport, 80); s.SvcID != svcTCP {
				t.Errorf("VIP:80 went to service %d, want its own %d", s.SvcID, svcTCP)
			}
			continue
		}
		if i > 0 && got != rs {
			t.Errorf("SYN to %d went to %s, the client's template says %s", c.dport, got, rs)
		}
		if i > 0 {
			continue
		}
		rs = got
		// The real server's SYN-ACK from port 443, on either core, and
		// the client's ACK: the handshake binds the template.
		synAck := pkt{srcMAC: rsMACOf(rs), dstMAC: gwMAC1, src: rs, dst: cip, ttl: 64, proto: header.IPProtoTCP,
			sport: 443, dport: c.cport, flags: fSYN | fACK, seq: 5000, ack: 1001}.frame(t)
		if r, _ := e.run(1-owner, synAck); r != redirectTo(owner) {
			t.Fatalf("SYN-ACK on core %d: %+v, want redirect to %d", 1-owner, r, owner)
		}
		r, out = e.run(owner, synAck)
		if r.Act != ActTx {
			t.Fatalf("SYN-ACK: %+v", r)
		}
		if d := decode(t, out); d.ip.SrcIP.String() != vip.String() || d.tcp.SrcPort != 443 {
			t.Errorf("SYN-ACK leaves from %s:%d, want %s:443", d.ip.SrcIP, d.tcp.SrcPort, vip)
		}
		ack := pkt{srcMAC: routerMAC, dstMAC: gwMAC0, src: cip, dst: vip, ttl: 64, id: 8, proto: header.IPProtoTCP,
			sport: c.cport, dport: c.dport, flags: fACK, seq: 1001, ack: 5001}.frame(t)
		if r, _ := e.run(owner, ack); r.Act != ActTx {
			t.Fatalf("ACK: %+v", r)
		}
		// Past the time the scheduler remembers an unbound choice: the
		// next connections find the template the handshake bound.
		e.now += 301 * sec
	}
	udp := pkt{srcMAC: routerMAC, dstMAC: gwMAC0, src: cip, dst: vip, ttl: 64, proto: header.IPProtoUDP, sport: 5, dport: 5353}.frame(t)
	for c := range 2 {
		if r, _ := e.run(c, udp); r != drop(ReasonNoService) {
			t.Errorf("UDP to a port without a service, core %d: %+v, want no_service", c, r)
		}
	}
}
