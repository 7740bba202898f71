package nat

import (
	"net/netip"
	"testing"

	"fngw/arp"
	"fngw/header"
	"fngw/sched"
)

// The test network:
//
//	client 203.0.113.7 ── router 198.18.0.254 ── port 0 (198.18.0.1, VIP 198.18.0.10)
//	                                               gateway
//	real servers 10.1.0.11, 10.1.0.12 ─────────── port 1 (10.1.0.1/16, LIPs 10.1.0.100-101)
var (
	gwMAC0    = header.MAC{2, 0, 0, 0, 0, 1}
	gwMAC1    = header.MAC{2, 0, 0, 0, 1, 1}
	routerMAC = header.MAC{2, 0, 0, 0, 0, 0xfe}
	rsMAC1    = header.MAC{2, 0, 0, 0, 1, 11}
	rsMAC2    = header.MAC{2, 0, 0, 0, 1, 12}
	routerIP  = header.Addr4{198, 18, 0, 254}
	vip       = header.Addr4{198, 18, 0, 10}
	cip       = header.Addr4{203, 0, 113, 7}
	rip1      = header.Addr4{10, 1, 0, 11}
	rip2      = header.Addr4{10, 1, 0, 12}
	laddr1    = header.Addr4{10, 1, 0, 100}
	laddr2    = header.Addr4{10, 1, 0, 101}
	hopIP     = header.Addr4{10, 1, 0, 254} // a router on the real servers' side
)

const (
	svcTCP  = 1 // VIP:80/tcp → RS:8080
	svcUDP  = 2 // VIP:9000/udp → RS:9001
	destT1  = 10
	destT2  = 11
	destU1  = 20
	destU2  = 21
	start   = int64(1_000_000_000_000)
	sec     = int64(1_000_000_000)
	maxDest = 64
)

type envOpts struct {
	ncores    int
	sessions  int
	ports     PortRange
	mode      Mode
	noNeigh   bool // the real servers' neighbour entries are missing
	persist   bool
	oneLaddr  bool
	noLaddr   bool // FULLNAT services with no local address yet
	noRSRoute bool // no route to the real servers' subnet
	noDefault bool // no default route
	// rsDevRoute: the real servers' subnet is a device route on port 1,
	// which has no address (nothing to be a tunnel's outer source).
	rsDevRoute bool
	// icmpRate, icmpBurst: the cores' ICMP error limit (0: defaults).
	icmpRate, icmpBurst int
	// mixed: the TCP service's second destination has this mode instead
	// of mode (a service with mixed forwarding methods, as LVS allows).
	mixed *Mode
	// sched: the services' scheduler (0: round robin).
	sched sched.Kind
	// caddr: the TCP service's client-address option; ProxyV2 applies to
	// the UDP service too.
	caddr ClientAddr
}

type env struct {
	t     testing.TB
	conns *sched.Conns
	confs []ServiceConf // what svcs was built from, with lim
	lim   Limits
	svcs  *Services
	arp   *arp.Stack[struct{}]
	stack *arp.Snapshot // e.arp's latest snapshot
	cores []*Core
	now   int64
	// mayMove: Process may move frames (TUN encapsulation, ICMP errors
	// built in the headroom); run then returns the moved frame.
	mayMove bool
}

func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	if o.ncores == 0 {
		o.ncores = 1
	}
	if o.sessions == 0 {
		o.sessions = 1024
	}
	e := &env{t: t, conns: sched.NewConns(o.ncores, maxDest), now: start, mayMove: o.mode == ModeTUN || o.caddr != ClientAddrNone}
	lim := Limits{MaxServices: 8, MaxDests: maxDest, MaxLocalAddrs: 8}
	e.lim = lim
	laddrs := []LocalAddr{{laddr1, 1}, {laddr2, 1}}
	switch {
	case o.noLaddr:
		laddrs = nil
	case o.oneLaddr:
		laddrs = laddrs[:1]
	}
	mk := func(id uint32, port uint16, proto uint8, rport uint16, d1, d2 uint32) ServiceConf {
		if o.mode == ModeDR || o.mode == ModeTUN {
			rport = port // these modes cannot map ports
		}
		dc := []DestConf{
			{ID: d1, Addr: rip1.Netip(), Port: rport, Mode: o.mode},
			{ID: d2, Addr: rip2.Netip(), Port: rport, Mode: o.mode},
		}
		if o.mixed != nil && proto == header.IPProtoTCP {
			dc[1].Mode = *o.mixed
			if dc[1].Mode == ModeDR || dc[1].Mode == ModeTUN {
				dc[1].Port = port
			}
		}
		sc := make([]sched.DestConf, len(dc))
		for i, d := range dc {
			sc[i] = sched.DestConf{ID: d.ID, Addr: d.Addr, Port: d.Port, Weight: 1}
		}
		var opts []sched.Option
		if o.persist {
			opts = append(opts, sched.WithPersistence(sched.Persistence{Timeout: 300e9}), sched.WithTemplateCapacity(64))
		}
		kind := o.sched
		if kind == 0 {
			kind = sched.RR
		}
		s, err := sched.NewService(kind, 0, sc, e.conns, o.ncores, opts...)
		if err != nil {
			t.Fatal(err)
		}
		ca := o.caddr
		if proto == header.IPProtoUDP && ca != ProxyV2 {
			ca = ClientAddrNone
		}
		return ServiceConf{ID: id, VIP: vip, Port: port, Proto: proto, Sched: s, Dests: dc, LocalAddrs: laddrs, ClientAddr: ca}
	}
	e.confs = []ServiceConf{
		mk(svcTCP, 80, header.IPProtoTCP, 8080, destT1, destT2),
		mk(svcUDP, 9000, header.IPProtoUDP, 9001, destU1, destU2),
	}
	e.setTimeouts(Timeouts{})
	e.arp = testStack(t, o)
	e.stack = e.arp.Snapshot()
	for c := range o.ncores {
		core, err := NewCore(Config{Core: c, NumCores: o.ncores, Sessions: o.sessions, Ports: o.ports, Limits: lim, Seed: 99,
			ICMPRate: o.icmpRate, ICMPBurst: o.icmpBurst}, e.conns, start)
		if err != nil {
			t.Fatal(err)
		}
		e.cores = append(e.cores, core)
	}
	return e
}

// setTimeouts publishes a snapshot of the env's services with timeouts to,
// as the control plane does after ipvsadm --set.
func (e *env) setTimeouts(to Timeouts) {
	e.t.Helper()
	svcs, err := NewServices(e.confs, to, e.lim)
	if err != nil {
		e.t.Fatal(err)
	}
	e.svcs = svcs
}

// testStack builds the test network's stack: the routes and neighbours the
// datapath reads come from its snapshots.
func testStack(t testing.TB, o envOpts) *arp.Stack[struct{}] {
	t.Helper()
	st := arp.NewStack(arp.NeighConfig{}, arp.Hooks[struct{}]{
		Solicit:  func(arp.Solicitation) {},
		Transmit: func(struct{}, uint16, header.MAC) {},
		Drop:     func(struct{}) {},
	})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.AddPort(arp.Port{ID: 0, Name: "client", MAC: gwMAC0, MTU: 1500}))
	must(st.AddPort(arp.Port{ID: 1, Name: "servers", MAC: gwMAC1, MTU: 1500}))
	must(st.AddAddr(0, netip.MustParsePrefix("198.18.0.1/24"), arp.OwnInterface))
	must(st.AddAddr(0, netip.PrefixFrom(vip.Netip(), 32), arp.OwnVIP))
	if !o.noDefault {
		must(st.AddRoute(arp.Route{Prefix: netip.MustParsePrefix("0.0.0.0/0"), Via: routerIP.Netip(), Port: 0}))
	}
	must(st.AddNeigh(0, routerIP.Netip(), routerMAC))
	if o.rsDevRoute {
		must(st.AddRoute(arp.Route{Prefix: netip.MustParsePrefix("10.1.0.0/16"), Port: 1}))
		must(st.AddNeigh(1, rip1.Netip(), rsMAC1))
		must(st.AddNeigh(1, rip2.Netip(), rsMAC2))
	}
	if !o.noRSRoute && !o.rsDevRoute {
		must(st.AddAddr(1, netip.MustParsePrefix("10.1.0.1/16"), arp.OwnInterface))
		must(st.AddAddr(1, netip.PrefixFrom(laddr1.Netip(), 32), arp.OwnLocalAddr))
		must(st.AddAddr(1, netip.PrefixFrom(laddr2.Netip(), 32), arp.OwnLocalAddr))
		if !o.noNeigh {
			must(st.AddNeigh(1, rip1.Netip(), rsMAC1))
			must(st.AddNeigh(1, rip2.Netip(), rsMAC2))
		}
	}
	return st
}

// run processes frame b on core c at e.now. The frame sits in a buffer with
// headroom and tailroom filled with a canary that must survive.
func (e *env) run(c int, b []byte) (Result, []byte) {
	e.t.Helper()
	const head, tail = 128, 64
	buf := make([]byte, head+len(b)+tail)
	for i := range buf {
		buf[i] = 0xa5
	}
	copy(buf[head:], b)
	f := Frame{Buf: buf, Off: head, Len: len(b), L3: header.EthernetLen, Port: rxPort(b)}
	r := e.cores[c].Process(&f, e.svcs, e.stack, e.now)
	e.cores[c].Flush() // a burst of one
	if (f.Off != head || f.Len != len(b)) && !e.mayMove {
		e.t.Fatalf("Process moved the frame to %d+%d", f.Off, f.Len)
	}
	if f.Off < 0 || f.Len < 0 || f.Off+f.Len > len(buf) {
		e.t.Fatalf("Process left the frame at %d+%d, outside its %d-byte buffer", f.Off, f.Len, len(buf))
	}
	lo, hi := min(head, f.Off), max(head+len(b), f.Off+f.Len)
	for i, x := range buf {
		if (i < lo || i >= hi) && x != 0xa5 {
			e.t.Fatalf("Process wrote outside the frame at offset %d", i-head)
		}
	}
	return r, buf[f.Off : f.Off+f.Len]
}

// rxPort returns the port of the test network a frame addressed to MAC b[:6]
// arrives on: 1 for the servers' port's MAC, else 0.
func rxPort(b []byte) uint16 {
	if len(b) >= 6 && header.MAC(b[:6]) == gwMAC1 {
		return 1
	}
	return 0
}

// destStats returns core c's counters of destination id (published by run).
func (e *env) destStats(c int, id uint32) EndpointStats {
	var st EndpointStats
	e.cores[c].AddDestStats(id, &st)
	return st
}

// active returns destination id's active and inactive connection counts.
func (e *env) active(id uint32) (int32, int32) { return e.conns.Sum(id) }
