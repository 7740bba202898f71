package arp

import (
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"fngw/header"
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
	if !slices.Equal(got, want) {
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
