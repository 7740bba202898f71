package arp

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/gopacket/layers"

	"fngw/header"
	"fngw/mix"
)

var (
	mac0 = header.MAC{0x02, 0xfe, 0, 0, 0, 0}
	mac1 = header.MAC{0x02, 0xfe, 0, 0, 0, 1}
)

// stackRecorder records a Stack's hook calls.
type stackRecorder struct {
	solicits []Solicitation
	tx       []event
	drops    []int
}

func newTestStack(t *testing.T) (*Stack[int], *stackRecorder) {
	t.Helper()
	r := &stackRecorder{}
	s := NewStack(testConfig(), Hooks[int]{
		Solicit: func(q Solicitation) { r.solicits = append(r.solicits, q) },
		Transmit: func(p int, port uint16, mac header.MAC) {
			r.tx = append(r.tx, event{"tx", port, header.Addr4{}, mac, p})
		},
		Drop: func(p int) { r.drops = append(r.drops, p) },
	})
	must(t, s.AddPort(Port{ID: 0, Name: "dpdk0", MAC: mac0, MTU: 1500}))
	must(t, s.AddPort(Port{ID: 1, Name: "dpdk1", MAC: mac1, MTU: 9000}))
	must(t, s.AddAddr(0, netip.MustParsePrefix("192.0.2.1/24"), OwnInterface))
	must(t, s.AddAddr(0, netip.MustParsePrefix("192.0.2.100/32"), OwnVIP))
	must(t, s.AddAddr(1, netip.MustParsePrefix("10.1.0.1/16"), OwnInterface))
	must(t, s.AddAddr(1, netip.MustParsePrefix("10.1.9.1/32"), OwnLocalAddr))
	must(t, s.AddRoute(Route{Prefix: netip.MustParsePrefix("0.0.0.0/0"), Via: netip.MustParseAddr("192.0.2.254"), Port: 0}))
	must(t, s.AddRoute(Route{Prefix: netip.MustParsePrefix("10.2.0.0/16"), Via: netip.MustParseAddr("10.1.0.254"), Port: 1}))
	must(t, s.AddRoute(Route{Prefix: netip.MustParsePrefix("10.3.3.0/24"), Port: 1}))
	return s, r
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func a4(s string) header.Addr4 { return header.Addr4From(netip.MustParseAddr(s)) }

func TestSnapshotLookups(t *testing.T) {
	s, _ := newTestStack(t)
	snap := s.Snapshot()
	for _, tc := range []struct {
		dst     string
		port    uint16
		nexthop string
	}{
		{"192.0.2.7", 0, "192.0.2.7"},   // connected
		{"8.8.8.8", 0, "192.0.2.254"},   // default route
		{"10.1.200.3", 1, "10.1.200.3"}, // connected /16
		{"10.2.5.5", 1, "10.1.0.254"},   // static via
		{"10.3.3.9", 1, "10.3.3.9"},     // static on-link
		{"10.3.4.9", 0, "192.0.2.254"},  // falls back to the default
	} {
		t.Run(tc.dst, func(t *testing.T) {
			port, nh, ok := snap.Route(a4(tc.dst))
			if !ok || port != tc.port || nh != a4(tc.nexthop) {
				t.Fatalf("Route(%s) = %d %v %v; want %d %s", tc.dst, port, nh, ok, tc.port, tc.nexthop)
			}
		})
	}
	for _, tc := range []struct {
		ip   string
		port uint16
		kind OwnKind
		ok   bool
	}{
		{"192.0.2.1", 0, OwnInterface, true},
		{"192.0.2.100", 0, OwnVIP, true},
		{"10.1.9.1", 1, OwnLocalAddr, true},
		{"10.1.0.1", 1, OwnInterface, true},
		{"192.0.2.2", 0, 0, false},
	} {
		t.Run("owned "+tc.ip, func(t *testing.T) {
			port, kind, ok := snap.Owned(a4(tc.ip))
			if ok != tc.ok || port != tc.port || kind != tc.kind {
				t.Fatalf("Owned(%s) = %d %v %v", tc.ip, port, kind, ok)
			}
		})
	}
	if snap.PortMAC(1) != mac1 || snap.PortMTU(1) != 9000 || snap.PortMAC(7) != (header.MAC{}) || snap.PortMTU(7) != 0 {
		t.Fatal("PortMAC/PortMTU wrong")
	}
	if a, ok := snap.PortAddr(0); !ok || a != a4("192.0.2.1") {
		t.Fatalf("PortAddr(0) = %v %v: the VIP must not be the port address", a, ok)
	}
	if _, ok := snap.PortAddr(9); ok {
		t.Fatal("PortAddr of an unknown port")
	}
}

// TestSnapshotOwnedMany: with hundreds of owned addresses (probe runs in
// the owned set, some colliding) every one is found with its port and kind,
// and after removals neither the removed ones nor near misses are.
func TestSnapshotOwnedMany(t *testing.T) {
	s, _ := newTestStack(t)
	vip := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)}) }
	for i := range 500 {
		kind, port := OwnVIP, uint16(0)
		if i%3 == 0 {
			kind, port = OwnLocalAddr, 1
		}
		must(t, s.AddAddr(port, netip.PrefixFrom(vip(i), 32), kind))
	}
	for i := 0; i < 500; i += 2 {
		must(t, s.DelAddr(vip(i)))
	}
	snap := s.Snapshot()
	for i := range 600 {
		port, kind, ok := snap.Owned(header.Addr4From(vip(i)))
		wantKind, wantPort := OwnVIP, uint16(0)
		if i%3 == 0 {
			wantKind, wantPort = OwnLocalAddr, 1
		}
		if want := i < 500 && i%2 == 1; ok != want || ok && (port != wantPort || kind != wantKind) {
			t.Fatalf("Owned(%v) = %d %v %v, want owned %v", vip(i), port, kind, ok, want)
		}
	}
	if _, kind, ok := snap.Owned(a4("192.0.2.1")); !ok || kind != OwnInterface {
		t.Fatalf("interface address: %v %v", kind, ok)
	}
}

// TestSnapshotNeighMany: hundreds of neighbours, found on their own port
// only, each with its MAC.
func TestSnapshotNeighMany(t *testing.T) {
	s := NewStack(NeighConfig{MaxEntries: 1024}, Hooks[int]{})
	must(t, s.AddPort(Port{ID: 0, Name: "dpdk0", MAC: mac0, MTU: 1500}))
	must(t, s.AddPort(Port{ID: 1, Name: "dpdk1", MAC: mac1, MTU: 1500}))
	rs := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 1, byte(1 + i>>8), byte(i)}) }
	mac := func(i int) header.MAC { return header.MAC{2, 0, 0, 0, byte(i >> 8), byte(i)} }
	for i := range 700 {
		must(t, s.AddNeigh(1, rs(i), mac(i)))
	}
	snap := s.Snapshot()
	for i := range 700 {
		if m, ok := snap.Neigh(1, header.Addr4From(rs(i))); !ok || m != mac(i) {
			t.Fatalf("Neigh(1, %v) = %v %v, want %v", rs(i), m, ok, mac(i))
		}
		if _, ok := snap.Neigh(0, header.Addr4From(rs(i))); ok {
			t.Fatalf("Neigh(0, %v) found: it is a neighbour on port 1", rs(i))
		}
	}
	if _, ok := snap.Neigh(1, a4("10.1.200.1")); ok {
		t.Fatal("an address never added is a neighbour")
	}
}

func TestSnapshotEmptyStack(t *testing.T) {
	s := NewStack(NeighConfig{}, Hooks[int]{})
	snap := s.Snapshot()
	if _, _, ok := snap.Route(a4("1.2.3.4")); ok {
		t.Fatal("route in an empty stack")
	}
	if _, ok := snap.Neigh(0, a4("1.2.3.4")); ok {
		t.Fatal("neighbour in an empty stack")
	}
	if _, _, ok := snap.Owned(a4("1.2.3.4")); ok {
		t.Fatal("owned address in an empty stack")
	}
}

func TestSnapshotGenerationsAndSharing(t *testing.T) {
	s, _ := newTestStack(t)
	s1 := s.Snapshot()
	must(t, s.AddNeigh(1, netip.MustParseAddr("10.1.0.254"), header.MAC{2, 1, 1, 1, 1, 1}))
	s2 := s.Snapshot()
	if s2.Gen() == s1.Gen() {
		t.Fatal("generation did not change")
	}
	if s2.routes != s1.routes {
		t.Fatal("a neighbour change rebuilt the route table")
	}
	if _, ok := s1.Neigh(1, a4("10.1.0.254")); ok {
		t.Fatal("an old snapshot changed")
	}
	if m, ok := s2.Neigh(1, a4("10.1.0.254")); !ok || m != (header.MAC{2, 1, 1, 1, 1, 1}) {
		t.Fatal("static neighbour not published")
	}
	must(t, s.DelRoute(netip.MustParsePrefix("10.3.3.0/24")))
	s3 := s.Snapshot()
	if s3.Gen() == s2.Gen() || s3.routes == s2.routes {
		t.Fatal("a route change must rebuild routes")
	}
	if port, nh, _ := s3.Route(a4("10.3.3.9")); port != 0 || nh != a4("192.0.2.254") {
		t.Fatal("deleted route still used")
	}
	s.Tick(0) // nothing changed: no new generation
	if s.Snapshot() != s3 {
		t.Fatal("Tick published without a change")
	}
}

func TestStackConfigErrors(t *testing.T) {
	s, _ := newTestStack(t)
	p := netip.MustParsePrefix
	a := netip.MustParseAddr
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"duplicate port id", s.AddPort(Port{ID: 0, Name: "x", MTU: 1500}), "already exists"},
		{"duplicate port name", s.AddPort(Port{ID: 5, Name: "dpdk0", MTU: 1500}), "already used"},
		{"tiny mtu", s.AddPort(Port{ID: 5, Name: "x", MTU: 60}), "MTU 60"},
		{"addr unknown port", s.AddAddr(9, p("1.1.1.1/32"), OwnVIP), "no port with id 9"},
		{"addr ipv6", s.AddAddr(0, p("2001:db8::1/64"), OwnInterface), "not an IPv4"},
		{"addr multicast", s.AddAddr(0, p("224.0.0.1/32"), OwnVIP), "not an IPv4 unicast"},
		{"addr duplicate", s.AddAddr(1, p("192.0.2.100/32"), OwnLocalAddr), "already a vip address of port 0"},
		{"vip not /32", s.AddAddr(0, p("192.0.2.101/24"), OwnVIP), "use /32"},
		{"subnet on other port", s.AddAddr(1, p("192.0.2.50/24"), OwnInterface), "connected route"},
		{"subnet of static route", s.AddAddr(1, p("10.3.3.1/24"), OwnInterface), "static route"},
		{"route host bits", s.AddRoute(Route{Prefix: p("10.9.9.1/24"), Port: 0}), "did you mean 10.9.9.0/24"},
		{"route exists", s.AddRoute(Route{Prefix: p("192.0.2.0/24"), Port: 0}), "connected route"},
		{"route gw off-link", s.AddRoute(Route{Prefix: p("10.9.0.0/16"), Via: a("10.1.0.9"), Port: 0}), "not in a connected subnet of dpdk0"},
		{"route gw ours", s.AddRoute(Route{Prefix: p("10.9.0.0/16"), Via: a("192.0.2.1"), Port: 0}), "address of this gateway"},
		{"route gw multicast", s.AddRoute(Route{Prefix: p("10.9.0.0/16"), Via: a("224.1.1.1"), Port: 0}), "not a unicast"},
		{"del connected route", s.DelRoute(p("192.0.2.0/24")), "delete the address"},
		{"del missing route", s.DelRoute(p("10.77.0.0/16")), "no such route"},
		{"del addr needed by route", s.DelAddr(a("10.1.0.1")), "route 10.2.0.0/16 via 10.1.0.254 depends"},
		{"del missing addr", s.DelAddr(a("10.77.0.1")), "not an address"},
		{"neigh multicast mac", s.AddNeigh(0, a("192.0.2.9"), header.BroadcastMAC), "not a unicast MAC"},
		{"neigh bad ip", s.AddNeigh(0, a("0.0.0.0"), mac1), "not a unicast host"},
		{"del missing neigh", s.DelNeigh(0, a("192.0.2.9")), "no such entry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", tc.err, tc.want)
			}
		})
	}
}

func TestStackAddrsAndRoutes(t *testing.T) {
	s, _ := newTestStack(t)
	p := netip.MustParsePrefix
	// A second address in a subnet shares its connected route.
	must(t, s.AddAddr(0, p("192.0.2.2/24"), OwnInterface))
	must(t, s.DelAddr(netip.MustParseAddr("192.0.2.1")))
	if a, _ := s.Snapshot().PortAddr(0); a != a4("192.0.2.2") {
		t.Fatalf("primary address after deleting the first: %v", a)
	}
	if _, _, ok := s.Snapshot().Route(a4("192.0.2.77")); !ok {
		t.Fatal("connected route removed while an address remains")
	}
	must(t, s.DelRoute(p("0.0.0.0/0")))
	must(t, s.DelAddr(netip.MustParseAddr("192.0.2.2")))
	if _, _, ok := s.Snapshot().Route(a4("192.0.2.77")); ok {
		t.Fatal("connected route kept after its last address")
	}
	got := s.Routes()
	want := []Route{
		{Prefix: p("10.1.0.0/16"), Port: 1, Kind: RouteConnected},
		{Prefix: p("10.2.0.0/16"), Via: netip.MustParseAddr("10.1.0.254"), Port: 1, Kind: RouteStatic},
		{Prefix: p("10.3.3.0/24"), Port: 1, Kind: RouteStatic},
	}
	if !slices.EqualFunc(got, want, Route.Equal) {
		t.Fatalf("Routes\n got %v\nwant %v", got, want)
	}
	if got := s.Addrs(); len(got) != 3 || got[0].Kind != OwnVIP {
		t.Fatalf("Addrs %v", got)
	}
	if ps := s.Ports(); len(ps) != 2 || ps[0].Name != "dpdk0" || ps[1].ID != 1 {
		t.Fatalf("Ports %v", ps)
	}
	if pt, ok := s.PortByName("dpdk1"); !ok || pt.ID != 1 {
		t.Fatal("PortByName")
	}
}

func TestStackOutputAndSolicitSource(t *testing.T) {
	s, r := newTestStack(t)
	gw := a4("10.1.0.254")
	s.Output(0, 1, gw, 7)
	want := Solicitation{Port: 1, SrcMAC: mac1, SrcIP: a4("10.1.0.1"), Target: gw}
	if len(r.solicits) != 1 || r.solicits[0] != want {
		t.Fatalf("solicitations %+v, want %+v", r.solicits, want)
	}
	// A target outside every subnet of the port: the primary address.
	s.Output(0, 1, a4("10.3.3.9"), 8)
	if r.solicits[1].SrcIP != a4("10.1.0.1") {
		t.Fatalf("source for an on-link static route: %v", r.solicits[1].SrcIP)
	}
	if _, ok := s.Snapshot().Neigh(1, gw); ok {
		t.Fatal("unresolved neighbour published")
	}
	// The reply arrives (HandleARP tested separately); learning publishes at Tick.
	s.neigh.Learn(1, 1, gw, macA, NeighReachable, false)
	if len(r.tx) != 1 || r.tx[0].pkt != 7 || r.tx[0].mac != macA {
		t.Fatalf("queued packet not transmitted: %v", r.tx)
	}
	before := s.Snapshot()
	s.Tick(1)
	if m, ok := s.Snapshot().Neigh(1, gw); !ok || m != macA || s.Snapshot() == before {
		t.Fatal("resolved neighbour not published by Tick")
	}
	if got := s.Neighs(); len(got) != 2 || got[0].IP != gw || got[0].State != NeighReachable {
		t.Fatalf("Neighs %v", got)
	}
	// Use keeps a stale neighbour in use alive.
	s.Tick(31 * Second)
	s.Use(32*Second, 1, gw)
	if n, _ := s.neigh.Lookup(1, gw); n.State != NeighDelay {
		t.Fatalf("state after Use: %v", n.State)
	}
	if c := s.Counters(); c.Neigh.RequestsSent != 3 { // two first requests, one retransmission for 10.3.3.9
		t.Fatalf("Counters %+v", c)
	}
}

// TestSnapshotConcurrentReaders runs datapath-like readers against a control
// goroutine that keeps changing the stack; run with -race.
func TestSnapshotConcurrentReaders(t *testing.T) {
	s, _ := newTestStack(t)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var last uint64
			for !stop.Load() {
				snap := s.Snapshot()
				if snap.Gen() < last {
					t.Error("generation went backwards")
					return
				}
				last = snap.Gen()
				if _, _, ok := snap.Route(a4("10.1.2.3")); !ok {
					t.Error("connected route missing")
					return
				}
				snap.Neigh(1, a4("10.1.0.77"))
				snap.Owned(a4("192.0.2.100"))
			}
		}()
	}
	for i := range 100 {
		ip := netip.AddrFrom4([4]byte{10, 1, 0, byte(i%200 + 2)})
		must(t, s.AddNeigh(1, ip, macA))
		if i%2 == 1 {
			must(t, s.DelNeigh(1, ip))
			must(t, s.DelNeigh(1, netip.AddrFrom4([4]byte{10, 1, 0, byte((i-1)%200 + 2)})))
		}
		must(t, s.AddRoute(Route{Prefix: netip.MustParsePrefix("10.50.0.0/16"), Port: 1}))
		must(t, s.DelRoute(netip.MustParsePrefix("10.50.0.0/16")))
	}
	stop.Store(true)
	wg.Wait()
}

// TestNeighRefPerNeighbour: a change to one neighbour makes references to
// that neighbour stale and no other; a change of routes or interface
// addresses makes them all stale; VIPs and local addresses do not.
func TestNeighRefPerNeighbour(t *testing.T) {
	s, _ := newTestStack(t)
	gw, rs, other := a4("10.1.0.254"), a4("10.1.0.7"), a4("10.1.0.8")
	s.neigh.Learn(0, 1, gw, macA, NeighReachable, true)
	s.neigh.Learn(0, 1, rs, macB, NeighReachable, true)
	s.Tick(0)
	ref := func(ip header.Addr4) NeighRef {
		t.Helper()
		_, r, ok := s.Snapshot().NeighEgress(1, ip)
		if !ok || r == 0 {
			t.Fatalf("no reference for %v", ip)
		}
		return r
	}
	current := func(r NeighRef) bool { return s.Snapshot().Current(r) }
	rGW, rRS := ref(gw), ref(rs)
	if current(0) {
		t.Fatal("the zero reference is current")
	}

	s.neigh.Learn(1, 1, rs, macA, NeighStale, false) // the real server's MAC changes
	s.Tick(1)
	if !current(rGW) || current(rRS) {
		t.Fatalf("after the real server's MAC changed: gateway current %v (want true), real server %v (want false)", current(rGW), current(rRS))
	}
	rRS = ref(rs)
	s.neigh.Learn(2, 1, rs, macA, NeighReachable, false) // confirmed, same MAC: nothing changes
	s.neigh.Learn(2, 1, other, macA, NeighStale, true)   // another neighbour appears
	s.Tick(2)
	if !current(rGW) || !current(rRS) {
		t.Fatal("a confirmation or another neighbour invalidated a reference")
	}
	must(t, s.AddAddr(0, netip.MustParsePrefix("192.0.2.200/32"), OwnVIP))
	if !current(rGW) || !current(rRS) {
		t.Fatal("a new VIP invalidated the references")
	}
	must(t, s.AddRoute(Route{Prefix: netip.MustParsePrefix("10.9.0.0/16"), Via: gw.Netip(), Port: 1}))
	if current(rGW) || current(rRS) {
		t.Fatal("a route change left references current")
	}
	rGW, rRS = ref(gw), ref(rs)
	// Removed, its slot taken by another address: the old reference never
	// holds again.
	must(t, s.DelNeigh(1, rs.Netip()))
	s.neigh.Learn(3, 1, a4("10.1.0.9"), macB, NeighStale, true)
	s.Tick(3)
	if current(rRS) || !current(rGW) {
		t.Fatal("reference to a deleted neighbour still current, or another one invalidated")
	}
}

// TestSnapshotBroadcast: the directed broadcasts of connected subnets, none
// for /31 and /32, gone with their address.
func TestSnapshotBroadcast(t *testing.T) {
	s, _ := newTestStack(t) // 192.0.2.1/24, 10.1.0.1/16
	must(t, s.AddAddr(1, netip.MustParsePrefix("172.16.0.5/30"), OwnInterface))
	must(t, s.AddAddr(1, netip.MustParsePrefix("172.16.1.0/31"), OwnInterface))
	must(t, s.AddAddr(1, netip.MustParsePrefix("172.16.2.1/32"), OwnInterface))
	for _, tc := range []struct {
		ip   string
		want bool
	}{
		{"192.0.2.255", true}, {"10.1.255.255", true}, {"172.16.0.7", true},
		{"192.0.2.254", false}, {"10.1.0.255", false}, {"10.2.255.255", false}, {"172.16.0.3", false},
		{"172.16.1.1", false}, {"172.16.2.1", false}, {"192.0.2.100", false},
	} {
		if got := s.Snapshot().Broadcast(a4(tc.ip)); got != tc.want {
			t.Errorf("Broadcast(%s) = %v, want %v", tc.ip, got, tc.want)
		}
	}
	must(t, s.DelAddr(netip.MustParseAddr("172.16.0.5")))
	if s.Snapshot().Broadcast(a4("172.16.0.7")) {
		t.Fatal("broadcast of a deleted subnet")
	}
}

// TestStackDestsPinned: the next hops of configured destinations and static
// routes' gateways are pinned, following route changes.
func TestStackDestsPinned(t *testing.T) {
	s, _ := newTestStack(t)
	must(t, s.SetDests([]Dest{
		{Addr: netip.MustParseAddr("10.1.0.7")},                // on-link: itself
		{Addr: netip.MustParseAddr("10.2.0.7")},                // via 10.1.0.254 (a route gateway anyway)
		{Addr: netip.MustParseAddr("10.2.0.8"), Direct: true},  // DR: itself, on the route's port
		{Addr: netip.MustParseAddr("198.51.100.7")},            // via the default route's 192.0.2.254
		{Addr: netip.MustParseAddr("10.3.3.3"), Direct: false}, // on-link static route
	}))
	want := map[neighKey]bool{
		{1, a4("10.1.0.7")}: true, {1, a4("10.1.0.254")}: true, {1, a4("10.2.0.8")}: true,
		{0, a4("192.0.2.254")}: true, {1, a4("10.3.3.3")}: true,
	}
	if !maps.Equal(s.neigh.pins, want) {
		t.Fatalf("pins %v, want %v", s.neigh.pins, want)
	}
	s.Output(0, 1, a4("10.1.0.7"), 1)
	if n := s.Neighs(); len(n) != 1 || !n[0].Pinned {
		t.Fatalf("Neighs %+v: want the pinned entry", n)
	}
	must(t, s.DelRoute(netip.MustParsePrefix("10.3.3.0/24"))) // 10.3.3.3 now goes by the default route
	if s.neigh.pins[neighKey{1, a4("10.3.3.3")}] || !s.neigh.pins[neighKey{0, a4("192.0.2.254")}] {
		t.Fatalf("pins after a route change: %v", s.neigh.pins)
	}
	if err := s.SetDests([]Dest{{Addr: netip.MustParseAddr("2001:db8::1")}}); err == nil || !strings.Contains(err.Error(), "2001:db8::1") {
		t.Fatalf("IPv6 destination: %v", err)
	}
	must(t, s.SetDests(nil))
	if n := s.Neighs(); n[0].Pinned {
		t.Fatal("entry still pinned with no destinations")
	}
}

// probes counts the slots a lookup of k reads.
func (m *keyMap[V]) probes(k uint64) int {
	mask := len(m.slots) - 1
	n := 1
	for i := int(k*m.mul>>m.shift) & mask; m.slots[i].used && m.slots[i].key != k; i = (i + 1) & mask {
		n++
	}
	return n
}

// TestSnapshotMapSeeded: senders that ARP for the gateway from addresses
// chosen to cluster before the upstream router's slot — possible when the
// hash is known — make every lookup there walk hundreds of slots. The same
// senders against another seed (each gateway draws its own) cost a few.
func TestSnapshotMapSeeded(t *testing.T) {
	const known = 1 // the seed the attacker computes with
	router := a4("10.1.0.254")
	// The attacker's addresses: on-link (10.1.0.0/16, port 1), home slots
	// within 24 slots before the router's in the 2048-slot map that 512 to
	// 1023 entries make.
	mul, shift := mix.Uint64(known)|1, uint8(64-11)
	home := func(a header.Addr4) int { return int(snapKey(1, a)*mul>>shift) & 2047 }
	var chosen []header.Addr4
	var miss header.Addr4 // an absent address homed at the router's slot
	for i := 2; i < 0xfffe && len(chosen) < 900; i++ {
		a := header.Addr4{10, 1, byte(i >> 8), byte(i)}
		if a == router {
			continue
		}
		switch d := (home(router) - home(a)) & 2047; {
		case d == 0 && miss.IsZero():
			miss = a
		case d < 24:
			chosen = append(chosen, a)
		}
	}
	if len(chosen) < 512 || miss.IsZero() {
		t.Fatalf("found %d colliding addresses", len(chosen))
	}
	for _, tc := range []struct {
		seed     uint64
		min, max int
	}{{known, 500, 2048}, {0x5eed, 1, 16}} {
		t.Run(fmt.Sprintf("seed %#x", tc.seed), func(t *testing.T) {
			cfg := NeighConfig{MaxEntries: 1024, HashSeed: tc.seed, ResolveRate: 1000, ResolveBurst: 1000}
			s := NewStack(cfg, Hooks[int]{Solicit: func(Solicitation) {}, Transmit: func(int, uint16, header.MAC) {}, Drop: func(int) {}})
			must(t, s.AddPort(Port{ID: 1, Name: "dpdk1", MAC: mac1, MTU: 1500}))
			must(t, s.AddAddr(1, netip.MustParsePrefix("10.1.0.1/16"), OwnInterface))
			s.Output(0, 1, router, 0)
			s.HandleARP(0, 1, arpFrame(layers.ARPReply, peerMAC, mac1, peerMAC, router, a4("10.1.0.1"), false))
			for i, a := range chosen {
				sha := header.MAC{2, 0xbb, 0, 0, byte(i >> 8), byte(i)}
				s.HandleARP(1, 1, arpFrame(layers.ARPRequest, sha, header.BroadcastMAC, sha, a, a4("10.1.0.1"), false))
			}
			s.Tick(1)
			m := &s.Snapshot().neigh
			if len(m.slots) != 2048 {
				t.Fatalf("map of %d slots for %d entries", len(m.slots), s.neigh.Len())
			}
			worst := max(m.probes(snapKey(1, router)), m.probes(snapKey(1, miss)))
			t.Logf("%d senders: the router's slot takes %d probes", len(chosen), worst)
			if worst < tc.min || worst > tc.max {
				t.Fatalf("%d probes, want %d..%d", worst, tc.min, tc.max)
			}
		})
	}
	a := NewStack(NeighConfig{}, Hooks[int]{})
	b := NewStack(NeighConfig{}, Hooks[int]{})
	if a.mul == b.mul {
		t.Fatal("two stacks drew the same hash multiplier")
	}
}

// TestMultipathRoute: an equal-cost multipath route spreads destinations
// over its next hops by their hash, each destination always on the same one;
// every next hop must be on a connected subnet of its port.
func TestMultipathRoute(t *testing.T) {
	s, _ := newTestStack(t)
	p := netip.MustParsePrefix
	a := netip.MustParseAddr
	r := Route{Prefix: p("203.0.0.0/16"), Via: a("192.0.2.254"), Port: 0, More: []Hop{{Via: a("10.1.0.254"), Port: 1}}}
	must(t, s.AddRoute(r))
	seen := map[uint16]int{}
	snap := s.Snapshot()
	for i := range 1000 {
		dst := header.Addr4{203, 0, byte(i >> 8), byte(i)}
		port, nh, ok := snap.Route(dst)
		if !ok {
			t.Fatal("no route")
		}
		if p2, nh2, _ := snap.Route(dst); p2 != port || nh2 != nh {
			t.Fatal("one destination, two next hops")
		}
		if (port == 0) != (nh == a4("192.0.2.254")) {
			t.Fatalf("port %d with next hop %v", port, nh)
		}
		seen[port]++
	}
	if seen[0] < 400 || seen[1] < 400 {
		t.Errorf("1000 destinations over two paths: %v", seen)
	}
	if got := s.Routes(); !slices.ContainsFunc(got, func(x Route) bool {
		return x.Equal(Route{Prefix: r.Prefix, Via: r.Via, Port: 0, Kind: RouteStatic, More: r.More})
	}) {
		t.Errorf("Routes %v", got)
	}
	must(t, s.DelRoute(r.Prefix))
	bad := r
	bad.Prefix, bad.More = p("198.51.100.0/24"), []Hop{{Via: a("10.9.0.1"), Port: 1}}
	if err := s.AddRoute(bad); err == nil || !strings.Contains(err.Error(), "10.9.0.1") {
		t.Errorf("a next hop off its port's subnets: %v", err)
	}
}
