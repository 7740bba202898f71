package arp

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"fngw/header"
	"fngw/test/pkttest"
)

var peerMAC = header.MAC{0x02, 0xaa, 0, 0, 0, 9}

// arpFrame builds an ARP frame with gopacket, optionally VLAN-tagged.
func arpFrame(op uint16, ethSrc, ethDst, sha header.MAC, spa, tpa header.Addr4, vlan bool) []byte {
	eth := &layers.Ethernet{SrcMAC: pkttest.MAC(ethSrc), DstMAC: pkttest.MAC(ethDst), EthernetType: layers.EthernetTypeARP}
	a := &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
		Operation: op, SourceHwAddress: pkttest.MAC(sha), SourceProtAddress: pkttest.IP(spa), DstHwAddress: make([]byte, 6), DstProtAddress: pkttest.IP(tpa)}
	if vlan {
		eth.EthernetType = layers.EthernetTypeDot1Q
		return pkttest.Serialize(eth, &layers.Dot1Q{VLANIdentifier: 42, Type: layers.EthernetTypeARP}, a)
	}
	return pkttest.Serialize(eth, a)
}

func TestHandleARPReplies(t *testing.T) {
	for _, tc := range []struct {
		name string
		port uint16
		tpa  string
		spa  string
		vlan bool
	}{
		{"vip", 0, "192.0.2.100", "192.0.2.9", false},
		{"interface address", 0, "192.0.2.1", "192.0.2.9", false},
		{"local address", 1, "10.1.9.1", "10.1.5.5", false},
		{"vlan tagged", 0, "192.0.2.1", "192.0.2.9", true},
		{"probe with zero sender (RFC 5227)", 0, "192.0.2.1", "0.0.0.0", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newTestStack(t)
			frame := arpFrame(layers.ARPRequest, peerMAC, header.BroadcastMAC, peerMAC, a4(tc.spa), a4(tc.tpa), tc.vlan)
			n := len(frame)
			if !s.HandleARP(5, tc.port, frame) {
				t.Fatal("request for an owned address not answered")
			}
			if len(frame) != n {
				t.Fatal("frame length changed")
			}
			p := pkttest.Decode(frame)
			eth := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
			a, _ := p.Layer(layers.LayerTypeARP).(*layers.ARP)
			if a == nil {
				t.Fatalf("reply does not decode as ARP: %v", p)
			}
			mine := s.Snapshot().PortMAC(tc.port)
			if header.MAC(eth.DstMAC) != peerMAC || header.MAC(eth.SrcMAC) != mine || a.Operation != layers.ARPReply ||
				header.MAC(a.SourceHwAddress) != mine || header.Addr4(a.SourceProtAddress) != a4(tc.tpa) ||
				header.MAC(a.DstHwAddress) != peerMAC || header.Addr4(a.DstProtAddress) != a4(tc.spa) {
				t.Fatalf("wrong reply: eth %v→%v arp %+v", eth.SrcMAC, eth.DstMAC, a)
			}
			if d, ok := p.Layer(layers.LayerTypeDot1Q).(*layers.Dot1Q); tc.vlan && (!ok || d.VLANIdentifier != 42) {
				t.Fatal("VLAN tag lost")
			}
			// The requester is learned (STALE), except for a probe.
			n2, ok := s.neigh.Lookup(tc.port, a4(tc.spa))
			if tc.spa == "0.0.0.0" {
				if ok || s.neigh.Len() != 0 {
					t.Fatal("learned from a probe")
				}
			} else if !ok || n2.State != NeighStale || n2.MAC != peerMAC {
				t.Fatalf("requester not learned: %+v %v", n2, ok)
			}
			s.Tick(6)
			if _, ok := s.Snapshot().Neigh(tc.port, a4(tc.spa)); ok != (tc.spa != "0.0.0.0") {
				t.Fatal("learned neighbour not published at Tick")
			}
			if c := s.Counters(); c.ARPRequestsIn != 1 || c.ARPRepliesOut != 1 {
				t.Fatalf("counters %+v", c)
			}
		})
	}
}

func TestHandleARPNoReply(t *testing.T) {
	other := header.MAC{0x02, 0xbb, 0, 0, 0, 1}
	for _, tc := range []struct {
		name      string
		frame     func(t *testing.T) []byte
		port      uint16
		invalid   bool
		conflicts uint64
	}{
		{"not ours", func(t *testing.T) []byte {
			return arpFrame(layers.ARPRequest, peerMAC, header.BroadcastMAC, peerMAC, a4("192.0.2.9"), a4("192.0.2.50"), false)
		}, 0, false, 0},
		{"owned on another port", func(t *testing.T) []byte {
			return arpFrame(layers.ARPRequest, peerMAC, header.BroadcastMAC, peerMAC, a4("192.0.2.9"), a4("10.1.9.1"), false)
		}, 0, false, 0},
		{"sender claims our address", func(t *testing.T) []byte {
			return arpFrame(layers.ARPRequest, peerMAC, header.BroadcastMAC, peerMAC, a4("192.0.2.1"), a4("192.0.2.100"), false)
		}, 0, false, 1},
		{"multicast sender MAC", func(t *testing.T) []byte {
			return arpFrame(layers.ARPRequest, peerMAC, header.BroadcastMAC, header.MAC{1, 0, 0x5e, 0, 0, 1}, a4("192.0.2.9"), a4("192.0.2.1"), false)
		}, 0, true, 0},
		{"our own MAC looped back", func(t *testing.T) []byte {
			return arpFrame(layers.ARPRequest, mac0, header.BroadcastMAC, mac0, a4("192.0.2.9"), a4("192.0.2.1"), false)
		}, 0, true, 0},
		{"loopback target", func(t *testing.T) []byte {
			return arpFrame(layers.ARPRequest, peerMAC, header.BroadcastMAC, peerMAC, a4("192.0.2.9"), a4("127.0.0.1"), false)
		}, 0, true, 0},
		{"unknown port", func(t *testing.T) []byte {
			return arpFrame(layers.ARPRequest, peerMAC, header.BroadcastMAC, peerMAC, a4("192.0.2.9"), a4("192.0.2.1"), false)
		}, 5, true, 0},
		{"truncated", func(t *testing.T) []byte {
			return arpFrame(layers.ARPRequest, peerMAC, header.BroadcastMAC, peerMAC, a4("192.0.2.9"), a4("192.0.2.1"), false)[:40]
		}, 0, true, 0},
		{"bad opcode", func(t *testing.T) []byte {
			return arpFrame(3, peerMAC, header.BroadcastMAC, peerMAC, a4("192.0.2.9"), a4("192.0.2.1"), false)
		}, 0, true, 0},
		{"not ARP", func(t *testing.T) []byte {
			return pkttest.Serialize(&layers.Ethernet{SrcMAC: pkttest.MAC(other), DstMAC: pkttest.MAC(mac0), EthernetType: layers.EthernetTypeIPv4}, gopacket.Payload(make([]byte, 46)))
		}, 0, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newTestStack(t)
			frame := tc.frame(t)
			orig := append([]byte(nil), frame...)
			if s.HandleARP(0, tc.port, frame) {
				t.Fatal("answered")
			}
			if !bytes.Equal(frame, orig) {
				t.Fatal("frame modified without an answer")
			}
			if s.neigh.Len() != 0 {
				t.Fatalf("learned %v", s.Neighs())
			}
			c := s.Counters()
			if (c.ARPInvalid == 1) != tc.invalid || c.ARPConflicts != tc.conflicts {
				t.Fatalf("counters %+v", c)
			}
		})
	}
}

func TestHandleARPLearning(t *testing.T) {
	gw := a4("192.0.2.254")
	t.Run("unicast reply resolves and releases the queue", func(t *testing.T) {
		s, r := newTestStack(t)
		s.Output(0, 0, gw, 1)
		frame := arpFrame(layers.ARPReply, peerMAC, mac0, peerMAC, gw, a4("192.0.2.1"), false)
		if s.HandleARP(1, 0, frame) {
			t.Fatal("a reply needs no answer")
		}
		if n, _ := s.neigh.Lookup(0, gw); n.State != NeighReachable || n.MAC != peerMAC {
			t.Fatalf("entry %+v", n)
		}
		if len(r.tx) != 1 || r.tx[0].mac != peerMAC {
			t.Fatalf("queued packet: %v", r.tx)
		}
		if c := s.Counters(); c.ARPRepliesIn != 1 {
			t.Fatalf("counters %+v", c)
		}
	})
	t.Run("broadcast reply only makes it stale", func(t *testing.T) {
		s, _ := newTestStack(t)
		s.Output(0, 0, gw, 1)
		s.HandleARP(1, 0, arpFrame(layers.ARPReply, peerMAC, header.BroadcastMAC, peerMAC, gw, a4("192.0.2.1"), false))
		if n, _ := s.neigh.Lookup(0, gw); n.State != NeighStale {
			t.Fatalf("state %v", n.State)
		}
	})
	t.Run("unsolicited reply creates nothing", func(t *testing.T) {
		s, _ := newTestStack(t)
		s.HandleARP(1, 0, arpFrame(layers.ARPReply, peerMAC, mac0, peerMAC, gw, a4("192.0.2.1"), false))
		if s.neigh.Len() != 0 {
			t.Fatal("unsolicited reply created an entry")
		}
	})
	t.Run("gratuitous ARP updates an existing entry only", func(t *testing.T) {
		s, _ := newTestStack(t)
		newMAC := header.MAC{0x02, 0xcc, 0, 0, 0, 1}
		s.HandleARP(0, 0, arpFrame(layers.ARPRequest, newMAC, header.BroadcastMAC, newMAC, a4("192.0.2.77"), a4("192.0.2.77"), false))
		if s.neigh.Len() != 0 {
			t.Fatal("gratuitous ARP created an entry")
		}
		s.Output(0, 0, gw, 1)
		s.HandleARP(1, 0, arpFrame(layers.ARPReply, peerMAC, mac0, peerMAC, gw, a4("192.0.2.1"), false))
		s.Tick(1)
		s.HandleARP(2, 0, arpFrame(layers.ARPRequest, newMAC, header.BroadcastMAC, newMAC, gw, gw, false))
		if n, _ := s.neigh.Lookup(0, gw); n.State != NeighStale || n.MAC != newMAC {
			t.Fatalf("after gratuitous ARP: %+v", n)
		}
		s.Tick(2)
		if m, _ := s.Snapshot().Neigh(0, gw); m != newMAC {
			t.Fatal("new MAC not published")
		}
	})
	t.Run("requests create entries for connected senders only", func(t *testing.T) {
		s, _ := newTestStack(t) // port 0: 192.0.2.0/24
		for _, tc := range []struct {
			spa    string
			answer bool
			learn  bool
		}{
			{"192.0.2.9", true, true},     // in the port's subnet
			{"198.51.100.7", true, false}, // off-link: answered, not learned
			{"10.1.0.9", true, false},     // another port's subnet
			{"192.0.2.255", false, false}, // the subnet's directed broadcast
			{"10.1.255.255", false, false},
		} {
			sha := header.MAC{0x02, 0xdd, 0, 0, 0, a4(tc.spa)[3]}
			answered := s.HandleARP(0, 0, arpFrame(layers.ARPRequest, sha, header.BroadcastMAC, sha, a4(tc.spa), a4("192.0.2.1"), false))
			_, learned := s.neigh.Lookup(0, a4(tc.spa))
			if answered != tc.answer || learned != tc.learn {
				t.Errorf("request from %s: answered %v learned %v, want %v %v", tc.spa, answered, learned, tc.answer, tc.learn)
			}
		}
		if c := s.Counters(); c.ARPNotLearned != 2 || c.ARPInvalid != 2 {
			t.Fatalf("counters %+v: want 2 not learned, 2 invalid", c)
		}
		// A neighbour the gateway resolves itself (an on-link static route
		// outside the connected subnets) is learned from its reply.
		nb := a4("10.3.3.9")
		s.Output(0, 1, nb, 1)
		s.HandleARP(1, 1, arpFrame(layers.ARPReply, peerMAC, mac1, peerMAC, nb, a4("10.1.0.1"), false))
		if n, _ := s.neigh.Lookup(1, nb); n.State != NeighReachable {
			t.Fatalf("solicited neighbour outside the connected subnets: %+v", n)
		}
	})
	t.Run("static entries ignore ARP", func(t *testing.T) {
		s, _ := newTestStack(t)
		must(t, s.AddNeigh(0, gw.Netip(), peerMAC))
		s.HandleARP(1, 0, arpFrame(layers.ARPRequest, mac1, header.BroadcastMAC, header.MAC{2, 9, 9, 9, 9, 9}, gw, a4("192.0.2.1"), false))
		if n, _ := s.neigh.Lookup(0, gw); n.State != NeighPermanent || n.MAC != peerMAC {
			t.Fatalf("static entry changed: %+v", n)
		}
	})
}

// icmpEcho builds an echo request from 198.51.100.7 (peerMAC) to dst.
func icmpEcho(dst header.Addr4, opts []layers.IPv4Option, payload []byte, vlan bool) []byte {
	eth := &layers.Ethernet{SrcMAC: pkttest.MAC(peerMAC), DstMAC: pkttest.MAC(mac0), EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 17, Id: 0x1234, Protocol: layers.IPProtocolICMPv4,
		SrcIP: net.IPv4(198, 51, 100, 7).To4(), DstIP: pkttest.IP(dst), Options: opts}
	icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 0xbeef, Seq: 3}
	if vlan {
		eth.EthernetType = layers.EthernetTypeDot1Q
		return pkttest.Serialize(eth, &layers.Dot1Q{VLANIdentifier: 7, Type: layers.EthernetTypeIPv4}, ip, icmp, gopacket.Payload(payload))
	}
	return pkttest.Serialize(eth, ip, icmp, gopacket.Payload(payload))
}

// checkChecksums re-serializes the decoded IPv4 and ICMP layers with gopacket
// computing the checksums and compares them with the frame's.
func checkChecksums(t *testing.T, p gopacket.Packet) {
	t.Helper()
	ip := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	icmp := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
	again := pkttest.Serialize(ip, icmp, gopacket.Payload(icmp.Payload))
	if got := binary.BigEndian.Uint16(again[10:]); got != ip.Checksum {
		t.Fatalf("IPv4 checksum %#x, gopacket computes %#x", ip.Checksum, got)
	}
	if got := binary.BigEndian.Uint16(again[int(ip.IHL)*4+2:]); got != icmp.Checksum {
		t.Fatalf("ICMP checksum %#x, gopacket computes %#x", icmp.Checksum, got)
	}
}

func TestHandleICMPEcho(t *testing.T) {
	rr := []layers.IPv4Option{{OptionType: 7, OptionLength: 7, OptionData: []byte{4, 0, 0, 0, 0}}, {OptionType: 0, OptionLength: 1}}
	for _, tc := range []struct {
		name    string
		dst     string
		opts    []layers.IPv4Option
		payload []byte
		vlan    bool
	}{
		{"to interface address", "192.0.2.1", nil, []byte("abcdefgh"), false},
		{"to vip, odd payload", "192.0.2.100", nil, []byte("abcdefghi"), false},
		{"to local address, ethernet padding", "10.1.9.1", nil, nil, false},
		{"with ip options", "192.0.2.1", rr, []byte("0123456789"), false},
		{"vlan tagged", "192.0.2.1", nil, bytes.Repeat([]byte{0xff}, 1400), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newTestStack(t)
			frame := icmpEcho(a4(tc.dst), tc.opts, tc.payload, tc.vlan)
			for len(frame) < 60 {
				frame = append(frame, 0) // minimum frame size, as a NIC delivers it
			}
			if !s.HandleICMP(0, frame) {
				t.Fatal("echo request not answered")
			}
			p := pkttest.Decode(frame)
			eth := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
			ip := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
			icmp := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
			if header.MAC(eth.DstMAC) != peerMAC || header.MAC(eth.SrcMAC) != mac0 {
				t.Fatalf("MACs %v → %v", eth.SrcMAC, eth.DstMAC)
			}
			if header.Addr4(ip.SrcIP.To4()) != a4(tc.dst) || !ip.DstIP.Equal(net.IPv4(198, 51, 100, 7)) || ip.TTL != 64 || len(ip.Options) != len(tc.opts) {
				t.Fatalf("IPv4 %+v", ip)
			}
			if icmp.TypeCode.Type() != layers.ICMPv4TypeEchoReply || icmp.TypeCode.Code() != 0 || icmp.Id != 0xbeef || icmp.Seq != 3 ||
				!bytes.Equal(icmp.Payload, tc.payload) && len(tc.payload) > 0 {
				t.Fatalf("ICMP %+v", icmp)
			}
			checkChecksums(t, p)
			if s.Counters().EchoRepliesOut != 1 {
				t.Fatal("not counted")
			}
		})
	}
}

func TestHandleICMPIgnored(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(f []byte)
		dst  string
	}{
		{"not owned", nil, "192.0.2.50"},
		{"bad icmp checksum", func(f []byte) { f[14+20+2] ^= 1 }, "192.0.2.1"},
		{"bad ip checksum", func(f []byte) { f[14+10] ^= 1 }, "192.0.2.1"},
		{"echo reply", func(f []byte) { header.ICMPv4(f[14+20:]).SetTypeWithChecksumUpdate(header.ICMPv4EchoReply) }, "192.0.2.1"},
		{"fragment", func(f []byte) { f[14+6] |= 0x20; ipFix(f) }, "192.0.2.1"},
		{"broadcast source", func(f []byte) { copy(f[14+12:], []byte{255, 255, 255, 255}); ipFix(f) }, "192.0.2.1"},
		{"truncated", func(f []byte) { f[14+3] += 100; ipFix(f) }, "192.0.2.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newTestStack(t)
			frame := icmpEcho(a4(tc.dst), nil, []byte("payload!"), false)
			if tc.mod != nil {
				tc.mod(frame)
			}
			orig := append([]byte(nil), frame...)
			if s.HandleICMP(0, frame) || !bytes.Equal(frame, orig) {
				t.Fatal("answered or modified")
			}
			if s.Counters().ICMPIgnored != 1 {
				t.Fatal("not counted")
			}
		})
	}
}

func ipFix(f []byte) {
	ip := header.IPv4(f[14:])
	ip.SetChecksum(ip.CalculateChecksum())
}

func TestHandlersDoNotAllocate(t *testing.T) {
	s, _ := newTestStack(t)
	req := arpFrame(layers.ARPRequest, peerMAC, header.BroadcastMAC, peerMAC, a4("192.0.2.9"), a4("192.0.2.100"), false)
	echo := icmpEcho(a4("192.0.2.1"), nil, []byte("payload!"), false)
	s.HandleARP(0, 0, append([]byte(nil), req...)) // the sender gets its entry
	s.Tick(0)
	frame := make([]byte, len(req))
	ef := make([]byte, len(echo))
	n := testing.AllocsPerRun(200, func() {
		copy(frame, req)
		if !s.HandleARP(1, 0, frame) {
			t.Fatal("no reply")
		}
		copy(ef, echo)
		if !s.HandleICMP(0, ef) {
			t.Fatal("no echo reply")
		}
	})
	if n != 0 {
		t.Fatalf("HandleARP/HandleICMP allocate %v times", n)
	}
}
