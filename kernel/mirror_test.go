package kernel

import (
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// nlr builds a main-table netlink route as an event carries it.
func nlr(prefix string, proto, metric int, hops ...khop) netlink.Route {
	p := netip.MustParsePrefix(prefix)
	r := netlink.Route{
		Family: netlink.FAMILY_V4, Table: unix.RT_TABLE_MAIN, Type: unix.RTN_UNICAST,
		Dst: ipNet(p), Protocol: netlink.RouteProtocol(proto), Priority: metric,
	}
	if len(hops) == 1 {
		r.LinkIndex, r.Gw = hops[0].index, ipOf(hops[0].via)
		if hops[0].dead {
			r.Flags = unix.RTNH_F_DEAD
		}
		return r
	}
	for _, h := range hops {
		nh := &netlink.NexthopInfo{LinkIndex: h.index, Gw: ipOf(h.via)}
		if h.dead {
			nh.Flags = unix.RTNH_F_DEAD
		}
		r.MultiPath = append(r.MultiPath, nh)
	}
	return r
}

func hop(index int, via string) khop {
	h := khop{index: index}
	if via != "" {
		h.via = netip.MustParseAddr(via)
	}
	return h
}

func deadHop(index int, via string) khop { h := hop(index, via); h.dead = true; return h }

func route(prefix string, hops ...NextHop) Route {
	return Route{Prefix: netip.MustParsePrefix(prefix), NextHops: hops}
}

func nh(via, port string) NextHop {
	h := NextHop{Port: port}
	if via != "" {
		h.Via = netip.MustParseAddr(via)
	}
	return h
}

type event struct {
	typ   uint16
	flags uint16
	r     netlink.Route
}

func add(r netlink.Route) event {
	return event{unix.RTM_NEWROUTE, unix.NLM_F_CREATE | unix.NLM_F_EXCL, r}
}
func replace(r netlink.Route) event { return event{unix.RTM_NEWROUTE, unix.NLM_F_REPLACE, r} }
func appendR(r netlink.Route) event { return event{unix.RTM_NEWROUTE, unix.NLM_F_APPEND, r} }
func del(r netlink.Route) event     { return event{unix.RTM_DELROUTE, 0, r} }

// TestMirrorRoutes applies route events as the kernel sends them and checks
// the learned routes: 1 and 2 are mirrored interfaces (ports p0, p1), 9 is
// not.
func TestMirrorRoutes(t *testing.T) {
	static := nlr("10.5.0.0/16", unix.RTPROT_BOOT, 0, hop(1, "10.0.0.2"))
	bird := nlr("10.5.0.0/16", unix.RTPROT_BIRD, 32, hop(1, "10.0.0.3"))
	ecmp := nlr("10.6.0.0/16", unix.RTPROT_BGP, 20, hop(2, "10.1.0.2"), hop(1, "10.0.0.2"))
	tests := []struct {
		name   string
		events []event
		want   []Route
	}{
		{"static", []event{add(static)}, []Route{route("10.5.0.0/16", nh("10.0.0.2", "p0"))}},
		{"deleted", []event{add(static), del(static)}, nil},
		{"delete of another route changes nothing", []event{add(static), del(nlr("10.5.0.0/16", unix.RTPROT_BOOT, 0, hop(1, "10.0.0.9")))},
			[]Route{route("10.5.0.0/16", nh("10.0.0.2", "p0"))}},
		{"lowest metric wins", []event{add(bird), add(static)}, []Route{route("10.5.0.0/16", nh("10.0.0.2", "p0"))}},
		{"higher metric left", []event{add(bird), add(static), del(static)}, []Route{route("10.5.0.0/16", nh("10.0.0.3", "p0"))}},
		{"multipath sorted", []event{add(ecmp)}, []Route{route("10.6.0.0/16", nh("10.0.0.2", "p0"), nh("10.1.0.2", "p1"))}},
		{"dead next hop left out", []event{add(nlr("10.6.0.0/16", unix.RTPROT_BGP, 20, deadHop(2, "10.1.0.2"), hop(1, "10.0.0.2")))},
			[]Route{route("10.6.0.0/16", nh("10.0.0.2", "p0"))}},
		{"all dead", []event{add(nlr("10.6.0.0/16", unix.RTPROT_BGP, 20, deadHop(1, "10.0.0.2")))}, nil},
		{"replace", []event{add(static), replace(nlr("10.5.0.0/16", unix.RTPROT_BOOT, 0, hop(2, "10.1.0.7")))},
			[]Route{route("10.5.0.0/16", nh("10.1.0.7", "p1"))}},
		{"append: the first is used", []event{add(static), appendR(nlr("10.5.0.0/16", unix.RTPROT_BOOT, 0, hop(2, "10.1.0.7")))},
			[]Route{route("10.5.0.0/16", nh("10.0.0.2", "p0"))}},
		{"append, first deleted", []event{add(static), appendR(nlr("10.5.0.0/16", unix.RTPROT_BOOT, 0, hop(2, "10.1.0.7"))), del(static)},
			[]Route{route("10.5.0.0/16", nh("10.1.0.7", "p1"))}},
		{"prepend", []event{add(static), {unix.RTM_NEWROUTE, unix.NLM_F_CREATE, nlr("10.5.0.0/16", unix.RTPROT_BOOT, 0, hop(2, "10.1.0.7"))}},
			[]Route{route("10.5.0.0/16", nh("10.1.0.7", "p1"))}},
		{"replayed events change nothing", []event{add(static), add(static), replace(static)}, []Route{route("10.5.0.0/16", nh("10.0.0.2", "p0"))}},
		{"on-link", []event{add(nlr("10.8.0.0/16", unix.RTPROT_BOOT, 0, hop(1, "")))}, []Route{route("10.8.0.0/16", nh("", "p0"))}},
		{"default route", []event{add(nlr("0.0.0.0/0", unix.RTPROT_BIRD, 32, hop(2, "10.1.0.1")))}, []Route{route("0.0.0.0/0", nh("10.1.0.1", "p1"))}},
		{"connected", []event{add(nlr("10.0.0.0/24", unix.RTPROT_KERNEL, 0, hop(1, "")))}, nil},
		{"the gateway's", []event{add(nlr("10.7.0.0/16", Protocol, 0, hop(1, "10.0.0.2")))}, nil},
		{"not mirrored", []event{add(nlr("10.7.0.0/16", unix.RTPROT_BOOT, 0, hop(9, "10.9.0.2")))}, nil},
		{"partly mirrored", []event{add(nlr("10.7.0.0/16", unix.RTPROT_BOOT, 0, hop(9, "10.9.0.2"), hop(1, "10.0.0.2")))}, nil},
		{"other table", []event{add(func() netlink.Route { r := static; r.Table = 100; return r }())}, nil},
		{"tos", []event{add(func() netlink.Route { r := static; r.Tos = 0x10; return r }())}, nil},
		{"blackhole", []event{add(func() netlink.Route { r := static; r.Type = unix.RTN_BLACKHOLE; return r }())}, nil},
		{"IPv6", []event{add(netlink.Route{Family: netlink.FAMILY_V6, Table: unix.RT_TABLE_MAIN, LinkIndex: 1,
			Dst: &net.IPNet{IP: net.ParseIP("2001:db8::"), Mask: net.CIDRMask(32, 128)}})}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mirror{routes: map[routeKey][]kroute{}, links: map[int]*link{
				1: {Link: Link{Port: "p0"}, addrs: map[netip.Prefix]struct{}{}},
				2: {Link: Link{Port: "p1"}, addrs: map[netip.Prefix]struct{}{}},
			}}
			for _, e := range tt.events {
				m.route(e.typ, e.flags, &e.r)
			}
			got := m.learned(nil)
			if !(State{Routes: tt.want}).Equal(got) {
				t.Errorf("learned routes %v, want %v", got.Routes, tt.want)
			}
		})
	}
}

func TestMirrorAddrs(t *testing.T) {
	m := mirror{links: map[int]*link{
		1: {Link: Link{Port: "p0"}, addrs: map[netip.Prefix]struct{}{}},
		2: {Link: Link{Port: "p1"}, addrs: map[netip.Prefix]struct{}{}},
	}}
	a := func(s string) net.IPNet { return *ipNet(netip.MustParsePrefix(s)) }
	steps := []struct {
		index   int
		addr    string
		added   bool
		changed bool
	}{
		{1, "10.0.0.1/24", true, true},
		{1, "10.0.0.1/24", true, false},
		{2, "10.1.0.100/32", true, true},
		{1, "10.0.0.100/24", true, true},
		{9, "10.9.0.1/24", true, false},
		{1, "2001:db8::1/64", true, false},
		{1, "10.0.0.100/24", false, true},
		{1, "10.0.0.100/24", false, false},
	}
	for _, s := range steps {
		if got := m.addr(s.index, a(s.addr), s.added); got != s.changed {
			t.Errorf("addr(%d, %s, %v) changed %v, want %v", s.index, s.addr, s.added, got, s.changed)
		}
	}
	own := map[Addr]struct{}{{"p0", netip.MustParsePrefix("10.0.0.1/24")}: {}}
	got := m.learned(own).Addrs
	want := []Addr{{"p1", netip.MustParsePrefix("10.1.0.100/32")}}
	if !(State{Addrs: want}).Equal(State{Addrs: got}) {
		t.Errorf("learned addresses %v, want %v", got, want)
	}
}

func TestNormalizeRoute(t *testing.T) {
	ports := map[string]*link{"p0": {}, "p1": {}}
	got, err := normalizeRoute(route("10.6.1.2/16", nh("10.1.0.2", "p1"), nh("10.0.0.2", "p0"), nh("10.1.0.2", "p1")), ports)
	if err != nil {
		t.Fatal(err)
	}
	if want := route("10.6.0.0/16", nh("10.0.0.2", "p0"), nh("10.1.0.2", "p1")); !got.Equal(want) {
		t.Errorf("normalized %v, want %v", got, want)
	}
	if got.String() != "10.6.0.0/16 via 10.0.0.2 dev p0 via 10.1.0.2 dev p1" {
		t.Errorf("String %q", got.String())
	}
	for _, tt := range []struct {
		r    Route
		want string
	}{
		{route("10.6.0.0/16", nh("10.0.0.2", "p9")), `port "p9"`},
		{route("10.6.0.0/16"), "10.6.0.0/16: no next hop"},
		{route("2001:db8::/32", nh("", "p0")), "2001:db8::/32"},
		{route("10.6.0.0/16", nh("2001:db8::1", "p0")), "2001:db8::1"},
	} {
		if _, err := normalizeRoute(tt.r, ports); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("normalizeRoute(%v) = %v, want an error naming %s", tt.r, err, tt.want)
		}
	}
}

// BenchmarkLearned is the cost of the State a flush builds from a mirror of
// 10 000 learned routes (BIRD's routes of a small site; a full Internet
// table is a hundred times that).
func BenchmarkLearned(b *testing.B) {
	m := mirror{routes: map[routeKey][]kroute{}, links: map[int]*link{
		1: {Link: Link{Port: "p0"}, addrs: map[netip.Prefix]struct{}{}},
	}}
	for i := range 10000 {
		r := nlr(netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24).String(),
			unix.RTPROT_BIRD, 32, hop(1, "10.0.0.2"))
		m.route(unix.RTM_NEWROUTE, 0, &r)
	}
	for b.Loop() {
		if st := m.learned(nil); len(st.Routes) != 10000 {
			b.Fatalf("%d routes", len(st.Routes))
		}
	}
}
