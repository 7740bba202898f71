package arp

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/google/gopacket/layers"

	"fngw/header"
)

// benchStack is a stack with many routes and neighbours, the datapath's view
// of a busy gateway.
func benchStack(tb testing.TB) (*Stack[int], []header.Addr4) {
	s := NewStack(NeighConfig{MaxEntries: 4096}, Hooks[int]{
		Solicit: func(Solicitation) {}, Transmit: func(int, uint16, header.MAC) {}, Drop: func(int) {},
	})
	if err := s.AddPort(Port{ID: 0, Name: "dpdk0", MAC: mac0, MTU: 1500}); err != nil {
		tb.Fatal(err)
	}
	if err := s.AddAddr(0, netip.MustParsePrefix("10.0.0.1/16"), OwnInterface); err != nil {
		tb.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	for i := 0; i < 500; i++ {
		bits := 8 + r.IntN(25)
		p, _ := netip.AddrFrom4(header.Addr4FromUint32(r.Uint32())).Prefix(bits)
		_ = s.AddRoute(Route{Prefix: p, Via: netip.MustParseAddr("10.0.0.254"), Port: 0}) // duplicates refused
	}
	ips := make([]header.Addr4, 1024)
	for i := range ips {
		ips[i] = header.Addr4{10, 0, byte(i >> 8), byte(i)}
		if err := s.AddNeigh(0, ips[i].Netip(), header.MAC{2, 0, 0, 0, byte(i >> 8), byte(i)}); err != nil {
			tb.Fatal(err)
		}
	}
	return s, ips
}

func TestSnapshotLookupsDoNotAllocate(t *testing.T) {
	s, ips := benchStack(t)
	snap := s.Snapshot()
	i := 0
	n := testing.AllocsPerRun(1000, func() {
		ip := ips[i%len(ips)]
		i++
		port, nh, ok := snap.Route(ip)
		if !ok {
			t.Fatal("no route")
		}
		if _, ok := snap.Neigh(port, nh); !ok {
			t.Fatal("no neighbour")
		}
		if _, ref, ok := snap.NeighEgress(port, nh); !ok || !snap.Current(ref) {
			t.Fatal("no current neighbour reference")
		}
		snap.Broadcast(ip)
		snap.Owned(ip)
		snap.PortMAC(port)
		snap.PortAddr(port)
		snap.PortMTU(port)
		snap.Gen()
	})
	if n != 0 {
		t.Fatalf("snapshot lookups allocate %v times", n)
	}
}

func BenchmarkSnapshotRoute(b *testing.B) {
	s, _ := benchStack(b)
	snap := s.Snapshot()
	r := rand.New(rand.NewPCG(2, 2))
	dsts := make([]header.Addr4, 4096)
	for i := range dsts {
		dsts[i] = header.Addr4FromUint32(r.Uint32())
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		snap.Route(dsts[i&4095])
		i++
	}
}

func BenchmarkSnapshotNeigh(b *testing.B) {
	s, ips := benchStack(b)
	snap := s.Snapshot()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, ok := snap.Neigh(0, ips[i&1023]); !ok {
			b.Fatal("miss")
		}
		i++
	}
}

func BenchmarkHandleARPRequest(b *testing.B) {
	s, _ := benchStack(b)
	req := arpFrame(layers.ARPRequest, peerMAC, header.BroadcastMAC, peerMAC, a4("10.0.0.9"), a4("10.0.0.1"), false)
	frame := make([]byte, len(req))
	b.ReportAllocs()
	for b.Loop() {
		copy(frame, req)
		s.HandleARP(0, 0, frame)
	}
}

func BenchmarkHandleICMPEcho(b *testing.B) {
	s, _ := benchStack(b)
	req := icmpEcho(a4("10.0.0.1"), nil, make([]byte, 56), false)
	frame := make([]byte, len(req))
	b.ReportAllocs()
	for b.Loop() {
		copy(frame, req)
		s.HandleICMP(0, frame)
	}
}
