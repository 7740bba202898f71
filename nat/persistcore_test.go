package nat

import (
	"net/netip"
	"testing"

	"fngw/header"
	"fngw/sched"
)

// TestPersistenceAcrossCores: with three cores, a persistent FULLNAT
// service's new flows are created on the core PersistOwner gives the
// client's network, whichever core RSS hands them to (the others redirect
// them, the SYN and each later segment), so one template holds: 30
// connections from many client ports, each completing its handshake, all
// reach one real server. With -M 255.255.255.0 two clients of one /24
// share the core and the template. A service that is not persistent is
// not redirected.
func TestPersistenceAcrossCores(t *testing.T) {
	const ncores = 3
	e := newEnv(t, envOpts{ncores: ncores, persist: true, mode: ModeFullNAT})
	// VIP:80 gets -M 255.255.255.0.
	c := &e.confs[0]
	sc := make([]sched.DestConf, len(c.Dests))
	for i, d := range c.Dests {
		sc[i] = sched.DestConf{ID: d.ID, Addr: d.Addr, Port: d.Port, Weight: 1}
	}
	s, err := sched.NewService(sched.RR, 0, sc, e.conns, ncores,
		sched.WithPersistence(sched.Persistence{Timeout: 300e9, Netmask: netip.MustParseAddr("255.255.255.0")}))
	if err != nil {
		t.Fatal(err)
	}
	c.Sched = s
	e.setTimeouts(Timeouts{})

	owner := PersistOwner(header.Addr4{203, 0, 113, 0}, ncores)
	var rs header.Addr4
	for n := range 30 {
		src := cip
		if n%2 == 1 {
			src = header.Addr4{203, 0, 113, 99} // the same /24
		}
		cport := uint16(41000 + n)
		rss := n % ncores // the core RSS delivers both of the client's segments to
		from := func(flags header.TCPFlags, seq, ack uint32) []byte {
			return pkt{srcMAC: routerMAC, dstMAC: gwMAC0, src: src, dst: vip, ttl: 64, proto: header.IPProtoTCP,
				sport: cport, dport: 80, flags: flags, seq: seq, ack: ack}.frame(t)
		}
		run := func(b []byte) []byte {
			t.Helper()
			if rss != owner {
				if r, _ := e.run(rss, b); r != redirectTo(owner) {
					t.Fatalf("connection %d on core %d: %+v, want redirect to %d", n, rss, r, owner)
				}
			}
			r, out := e.run(owner, b)
			if r.Act != ActTx {
				t.Fatalf("connection %d on its owner %d: %+v", n, owner, r)
			}
			return out
		}
		got := header.Addr4(decode(t, run(from(fSYN, 1000, 0))).ip.DstIP.To4())
		if n == 0 {
			rs = got
		} else if got != rs {
			t.Fatalf("connection %d from %s went to %s, the network's template says %s", n, src, got, rs)
		}
		k := Tuple4{Src: src, Dst: vip, SPort: cport, DPort: 80, Proto: header.IPProtoTCP}
		idx, _ := e.cores[owner].tab.Lookup(&k)
		sn := e.cores[owner].tab.At(idx)
		// The real server's SYN-ACK comes to the local port's core, the owner.
		if r, _ := e.run(owner, fromServer(sn, fSYN|fACK, 5000, 1001, "").frame(t)); r.Act != ActTx {
			t.Fatalf("SYN-ACK %d: %+v", n, r)
		}
		run(from(fACK, 1001, 5001))
	}
	if tm := e.cores[owner].Table().Len(); tm != 30 {
		t.Errorf("the owner holds %d sessions, want 30", tm)
	}
	if n := c.Sched.Templates(owner); n != 1 {
		t.Errorf("%d templates on the owner, want 1", n)
	}
	// UDP to VIP:9000 is persistent too (envOpts.persist), /32: its own
	// owner. TCP without persistence is not redirected: see the other
	// tests, which run on any core.
	if o := PersistOwner(cip, ncores); o != owner {
		for core := range ncores {
			if core == o {
				continue
			}
			if r, _ := e.run(core, udpFrom(cip, 5, "x").frame(t)); r != redirectTo(o) {
				t.Errorf("UDP on core %d: %+v, want redirect to %d", core, r, o)
			}
		}
	}
}

// TestOwnerRules: with three cores, a service with a threshold is
// scheduled on one core, ServiceOwner of its ID (its connection counts are
// that core's, so thresholds are exact), and lblc on TargetOwner of the
// address asked for (one table holds the target's entry); with a NAT
// destination lblc falls back to ServiceOwner, since replies do not carry
// the target. Any core's new flow is redirected there.
func TestOwnerRules(t *testing.T) {
	const ncores = 3
	check := func(t *testing.T, e *env, want int) {
		t.Helper()
		for core := range ncores {
			r, _ := e.run(core, fromClient(uint16(42000+core), fSYN, 1000, 0, "").frame(t))
			if core == want && r.Act != ActTx || core != want && r != redirectTo(want) {
				t.Errorf("SYN on core %d: %+v, want it on core %d", core, r, want)
			}
		}
	}
	t.Run("threshold", func(t *testing.T) {
		e := newEnv(t, envOpts{ncores: ncores})
		c := &e.confs[0]
		sc := make([]sched.DestConf, len(c.Dests))
		for i, d := range c.Dests {
			sc[i] = sched.DestConf{ID: d.ID, Addr: d.Addr, Port: d.Port, Weight: 1, UThresh: uint32(10 * i)}
		}
		s, err := sched.NewService(sched.RR, 0, sc, e.conns, ncores)
		if err != nil {
			t.Fatal(err)
		}
		c.Sched = s
		e.setTimeouts(Timeouts{})
		check(t, e, ServiceOwner(svcTCP, ncores))
	})
	t.Run("lblc", func(t *testing.T) {
		check(t, newEnv(t, envOpts{ncores: ncores, sched: sched.LBLC}), TargetOwner(vip, ncores))
	})
	t.Run("lblc_nat", func(t *testing.T) {
		check(t, newEnv(t, envOpts{ncores: ncores, sched: sched.LBLC, mode: ModeNAT}), ServiceOwner(svcTCP, ncores))
	})
}
