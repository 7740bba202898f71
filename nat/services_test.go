package nat

import (
	"net/netip"
	"strings"
	"testing"

	"fngw/header"
	"fngw/sched"
)

func TestServicesLookup(t *testing.T) {
	e := newEnv(t, envOpts{})
	s := e.svcs
	for _, tc := range []struct {
		vip   header.Addr4
		port  uint16
		proto uint8
		id    uint32
		ok    bool
	}{
		{vip, 80, header.IPProtoTCP, svcTCP, true},
		{vip, 9000, header.IPProtoUDP, svcUDP, true},
		{vip, 80, header.IPProtoUDP, 0, false},
		{vip, 9000, header.IPProtoTCP, 0, false},
		{cip, 80, header.IPProtoTCP, 0, false},
	} {
		if id, ok := s.Lookup(tc.vip, tc.port, tc.proto); id != tc.id || ok != tc.ok {
			t.Errorf("Lookup(%s:%d/%d) = %d,%v want %d,%v", tc.vip, tc.port, tc.proto, id, ok, tc.id, tc.ok)
		}
	}
	if !s.IsVIP(vip) || s.IsVIP(laddr1) || !s.IsLocalAddr(laddr2) || s.IsLocalAddr(vip) || s.IsLocalAddr(header.Addr4{}) {
		t.Fatal("address sets")
	}
	if s.Len() != 2 || s.Limits().MaxDests != maxDest {
		t.Fatal("Len/Limits")
	}
	if a := testing.AllocsPerRun(100, func() {
		s.Lookup(vip, 80, header.IPProtoTCP)
		s.IsLocalAddr(laddr1)
		s.IsVIP(cip)
	}); a != 0 {
		t.Fatalf("lookups allocate %.1f", a)
	}
	empty, err := NewServices(nil, Timeouts{}, s.Limits())
	if err != nil || empty.IsVIP(vip) || empty.IsLocalAddr(laddr1) {
		t.Fatalf("empty snapshot: %v", err)
	}
	if _, ok := empty.Lookup(vip, 80, header.IPProtoTCP); ok {
		t.Fatal("empty snapshot has a service")
	}
}

func TestServicesManyAgainstMap(t *testing.T) {
	conns := sched.NewConns(1, 4096)
	var conf []ServiceConf
	ref := map[[3]uint32]uint32{}
	for i := range 1000 {
		v := header.Addr4{10, 9, byte(i / 7), byte(i%7 + 1)}
		port := uint16(1 + i%13)
		proto := uint8(header.IPProtoTCP)
		if i%2 == 1 {
			proto = header.IPProtoUDP
		}
		rs := netip.AddrFrom4([4]byte{10, 10, byte(i >> 8), byte(i)})
		ss, err := sched.NewService(sched.RR, 0, []sched.DestConf{{ID: uint32(i), Addr: rs, Port: 80, Weight: 1}}, conns, 1)
		if err != nil {
			t.Fatal(err)
		}
		conf = append(conf, ServiceConf{ID: uint32(i), VIP: v, Port: port, Proto: proto, Sched: ss,
			Dests: []DestConf{{ID: uint32(i), Addr: rs, Port: 80, Mode: ModeNAT}}})
		ref[[3]uint32{v.Uint32(), uint32(port), uint32(proto)}] = uint32(i)
	}
	s, err := NewServices(conf, Timeouts{}, Limits{MaxServices: 1000, MaxDests: 4096, MaxLocalAddrs: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1100 {
		v := header.Addr4{10, 9, byte(i / 7), byte(i%7 + 1)}
		for _, proto := range []uint8{header.IPProtoTCP, header.IPProtoUDP} {
			for port := uint16(0); port < 15; port++ {
				want, wok := ref[[3]uint32{v.Uint32(), uint32(port), uint32(proto)}]
				if got, ok := s.Lookup(v, port, proto); got != want || ok != wok {
					t.Fatalf("Lookup(%s:%d/%d) = %d,%v want %d,%v", v, port, proto, got, ok, want, wok)
				}
			}
		}
	}
}

func TestNewServicesRejects(t *testing.T) {
	conns := sched.NewConns(1, 16)
	rs := netip.MustParseAddr("10.1.0.11")
	mkSched := func(ds ...sched.DestConf) *sched.Service {
		s, err := sched.NewService(sched.WRR, 0, ds, conns, 1)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	one := mkSched(sched.DestConf{ID: 1, Addr: rs, Port: 80, Weight: 1})
	good := func() ServiceConf {
		return ServiceConf{ID: 1, VIP: vip, Port: 80, Proto: header.IPProtoTCP, Sched: one,
			Dests: []DestConf{{ID: 1, Addr: rs, Port: 80, Mode: ModeFullNAT}}, LocalAddrs: []LocalAddr{{laddr1, 1}}}
	}
	lim := Limits{MaxServices: 4, MaxDests: 16, MaxLocalAddrs: 2}
	if _, err := NewServices([]ServiceConf{good()}, Timeouts{}, lim); err != nil {
		t.Fatalf("good config rejected: %v", err)
	}
	for _, tc := range []struct {
		name string
		mod  func(c []ServiceConf) []ServiceConf
		lim  Limits
		msg  string
	}{
		{"zero-vip", func(c []ServiceConf) []ServiceConf { c[0].VIP = header.Addr4{}; return c }, lim, "0.0.0.0"},
		{"port-0-fullnat", func(c []ServiceConf) []ServiceConf { c[0].Port = 0; return c }, lim, "port-0 or firewall-mark service cannot have fullnat"},
		{"icmp", func(c []ServiceConf) []ServiceConf { c[0].Proto = 1; return c }, lim, "protocol 1"},
		{"id-range", func(c []ServiceConf) []ServiceConf { c[0].ID = 4; return c }, lim, "MaxServices"},
		{"no-sched", func(c []ServiceConf) []ServiceConf { c[0].Sched = nil; return c }, lim, "no scheduler"},
		{"dest-count", func(c []ServiceConf) []ServiceConf { c[0].Dests = nil; return c }, lim, "scheduler has 1"},
		{"dest-order", func(c []ServiceConf) []ServiceConf { c[0].Dests[0].Port = 81; return c }, lim, "same order"},
		{"dest-v6", func(c []ServiceConf) []ServiceConf {
			c[0].Dests[0].Addr = netip.MustParseAddr("2001:db8::1")
			return c
		}, lim, "IPv4"},
		{"dest-id-range", func(c []ServiceConf) []ServiceConf { return c }, Limits{MaxServices: 4, MaxDests: 1, MaxLocalAddrs: 2}, "MaxDests"},
		{"dr-port-mapping", func(c []ServiceConf) []ServiceConf {
			c[0].Dests[0].Mode, c[0].Port = ModeDR, 81
			return c
		}, lim, "dr forwarding sends the packet with its destination port unchanged, so the port must be the service's 81"},
		{"tun-port-mapping", func(c []ServiceConf) []ServiceConf {
			c[0].Dests[0].Mode, c[0].Port = ModeTUN, 8080
			return c
		}, lim, "tun forwarding"},
		{"laddr-twice", func(c []ServiceConf) []ServiceConf {
			c[0].LocalAddrs = []LocalAddr{{laddr1, 1}, {laddr1, 1}}
			return c
		}, lim, "twice"},
		{"laddr-is-vip", func(c []ServiceConf) []ServiceConf { c[0].LocalAddrs[0].Addr = vip; return c }, lim, "both a VIP"},
		{"too-many-laddrs", func(c []ServiceConf) []ServiceConf {
			c[0].LocalAddrs = []LocalAddr{{laddr1, 1}, {laddr2, 1}, {header.Addr4{10, 1, 0, 102}, 1}}
			return c
		}, lim, "MaxLocalAddrs"},
		{"duplicate-id", func(c []ServiceConf) []ServiceConf {
			d := good()
			d.Port = 81
			return append(c, d)
		}, lim, "already used"},
		{"duplicate-service", func(c []ServiceConf) []ServiceConf {
			d := good()
			d.ID = 2
			return append(c, d)
		}, lim, "defined twice"},
		{"bad-limits", func(c []ServiceConf) []ServiceConf { return c }, Limits{}, "at least 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewServices(tc.mod([]ServiceConf{good()}), Timeouts{}, tc.lim)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.msg)
			}
		})
	}
}
