package gen

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// reference builds every frame of s with gopacket, one serialization per
// packet: what Each's patched templates must equal byte for byte.
func reference(t *testing.T, s Spec) [][]byte {
	t.Helper()
	b, err := NewBuilder(s)
	if err != nil {
		t.Fatal(err)
	}
	sp := b.Spec()
	var sess []Session
	if sp.Mode == Reply || sp.Mode == Mixed {
		sess = sp.Sessions()
	}
	var out [][]byte
	add := func(p Packet) {
		f, err := b.Frame(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, append([]byte(nil), f...))
	}
	switch sp.Mode {
	case SYN:
		for i := range sp.Flows {
			add(b.fwdPacket(i, FlagSYN))
		}
	case Forward:
		for pass := range sp.Passes {
			for i := range sp.Flows {
				add(b.fwdPacket(i, fwdFlags(pass)))
			}
		}
	case Reply:
		for i := range sp.Flows {
			add(b.repPacket(sess[i]))
		}
	case Mixed:
		for i := range sp.Flows {
			add(b.fwdPacket(i, FlagSYN))
			add(b.repPacket(sess[i]))
		}
	}
	return out
}

func TestEachMatchesReference(t *testing.T) {
	for _, tc := range []struct {
		mode   Mode
		proto  string
		flows  int
		size   int
		passes int
	}{
		{Forward, "udp", 1000, 64, 1},
		{Forward, "tcp", 300, 64, 3},
		{Forward, "udp", 100, 1518, 1},
		{SYN, "tcp", 120000, 64, 1},
		{Reply, "udp", 2000, 64, 1},
		{Reply, "tcp", 2000, 128, 1},
		{Mixed, "udp", 5000, 64, 1},
		{Mixed, "tcp", 500, 64, 1},
	} {
		t.Run(fmt.Sprintf("%s-%s-%d-%d-%d", tc.mode, tc.proto, tc.flows, tc.size, tc.passes), func(t *testing.T) {
			s, err := LabSpec(tc.mode, tc.proto, tc.flows, tc.size, 80, 8080, 3, 2)
			if err != nil {
				t.Fatal(err)
			}
			s.Passes = tc.passes
			want := reference(t, s)
			b, err := NewBuilder(s)
			if err != nil {
				t.Fatal(err)
			}
			i := 0
			err = b.Each(func(f []byte) error {
				if i >= len(want) {
					return fmt.Errorf("more than %d frames", len(want))
				}
				if !bytes.Equal(f, want[i]) {
					return fmt.Errorf("frame %d:\n got %x\nwant %x", i, f, want[i])
				}
				if len(f) != tc.size-4 {
					return fmt.Errorf("frame %d is %d bytes, want %d", i, len(f), tc.size-4)
				}
				i++
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if sp := b.Spec(); i != len(want) || i != sp.Packets() {
				t.Fatalf("%d frames, reference %d, Packets() %d", i, len(want), sp.Packets())
			}
		})
	}
}

// TestFramesDecode checks a few frames field by field with gopacket's
// decoder, checksums included (recomputed by re-serializing the layers).
func TestFramesDecode(t *testing.T) {
	s, _ := LabSpec(Mixed, "tcp", 70000, 64, 80, 8080, 1, 2)
	b, err := NewBuilder(s)
	if err != nil {
		t.Fatal(err)
	}
	sp := b.Spec()
	sess := sp.Sessions()
	n := 0
	err = b.Each(func(f []byte) error {
		i, reply := n/2, n%2 == 1
		n++
		if i%9973 != 0 && i != 69999 {
			return nil
		}
		p := gopacket.NewPacket(f, layers.LayerTypeEthernet, gopacket.Default)
		ip, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		tcp, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if ip == nil || tcp == nil {
			return fmt.Errorf("frame %d does not decode as IPv4/TCP", n-1)
		}
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip.SrcIP.To4())), uint16(tcp.SrcPort))
		dst := netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip.DstIP.To4())), uint16(tcp.DstPort))
		ca, cp := s.Client(i)
		wantSrc, wantDst := netip.AddrPortFrom(ca, cp), s.VIP
		if reply {
			wantSrc, wantDst = sess[i].Server, netip.AddrPortFrom(sess[i].LIP, sess[i].Lport)
		}
		if src != wantSrc || dst != wantDst || tcp.SYN == reply {
			return fmt.Errorf("frame %d: %v -> %v syn %v, want %v -> %v", n-1, src, dst, tcp.SYN, wantSrc, wantDst)
		}
		ic, tc := ip.Checksum, tcp.Checksum
		buf := gopacket.NewSerializeBuffer()
		_ = tcp.SetNetworkLayerForChecksum(ip)
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true}, ip, tcp, gopacket.Payload(tcp.Payload)); err != nil {
			return err
		}
		if ip.Checksum != ic || tcp.Checksum != tc {
			return fmt.Errorf("frame %d: checksums %#04x/%#04x, recomputed %#04x/%#04x", n-1, ic, tc, ip.Checksum, tcp.Checksum)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSessions checks the local-port prediction: real servers round robin
// from the first, LIPs rotating from the second, ports ascending per
// (LIP, real server) pool.
func TestSessions(t *testing.T) {
	s, _ := LabSpec(Reply, "udp", 8, 64, 80, 8080, 2, 3)
	s.Defaults()
	got := s.Sessions()
	rs, lip := LabServers(2, 8080), LabLIPs(3)
	want := []Session{
		{rs[0], lip[1], 1024}, {rs[1], lip[2], 1024}, {rs[0], lip[0], 1024}, {rs[1], lip[1], 1024},
		{rs[0], lip[2], 1024}, {rs[1], lip[0], 1024}, {rs[0], lip[1], 1025}, {rs[1], lip[2], 1025},
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("flow %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	one, _ := LabSpec(Reply, "udp", 70000, 64, 80, 8080, 1, 2)
	one.Defaults()
	seen := map[netip.AddrPort]bool{}
	for i, x := range one.Sessions() {
		k := netip.AddrPortFrom(x.LIP, x.Lport)
		if seen[k] || x.Lport < 1024 {
			t.Fatalf("flow %d: %v repeated or below the range", i, k)
		}
		seen[k] = true
	}
}

func TestValidate(t *testing.T) {
	ok, _ := LabSpec(Forward, "udp", 10, 64, 80, 8080, 1, 1)
	for _, tc := range []struct {
		name string
		mut  func(*Spec)
	}{
		{"mode", func(s *Spec) { s.Mode = "bogus" }},
		{"proto", func(s *Spec) { s.Proto = "sctp" }},
		{"flows", func(s *Spec) { s.Flows = 0 }},
		{"size", func(s *Spec) { s.Size = 40 }},
		{"ports", func(s *Spec) { s.Mode, s.Flows = Reply, 64513 }},
		{"mac", func(s *Spec) { s.GatewayMAC = nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := ok
			tc.mut(&s)
			if _, err := NewBuilder(s); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if _, err := NewBuilder(ok); err != nil {
		t.Fatal(err)
	}
}

func TestPcapRoundTrip(t *testing.T) {
	s, _ := LabSpec(Mixed, "udp", 300, 64, 80, 8080, 1, 1)
	path := filepath.Join(t.TempDir(), "x.pcap")
	n, err := WriteFile(path, s)
	if err != nil || n != 600 {
		t.Fatalf("WriteFile: %d frames, %v", n, err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := ReadPcap(f)
	if err != nil {
		t.Fatal(err)
	}
	want := reference(t, s)
	if len(got) != len(want) {
		t.Fatalf("%d frames read, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("frame %d differs", i)
		}
	}
}

func BenchmarkEachSYN(b *testing.B) {
	s, _ := LabSpec(SYN, "tcp", 1<<16, 64, 80, 8080, 1, 1)
	bl, err := NewBuilder(s)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := bl.Each(func([]byte) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*float64(1<<16)/b.Elapsed().Seconds()/1e6, "Mframes/s")
}
