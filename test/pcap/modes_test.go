package pcap

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"fngw/test/harness"
	"fngw/test/pkttest"
)

// Packet-exact tests of the NAT (-m), DR (-g) and TUN (-i) forwarding modes.
//
// Unlike FULLNAT, nothing in these modes depends on a choice the gateway makes
// at run time (no local port), so every frame, the real server's replies
// included, is written into the rx pcap before the gateway starts and every
// frame it must send is computed in advance. The topology is one-armed, the
// classic LVS set-up for DR and TUN: one net_pcap port (198.18.1.1/24)
// carries both the client's traffic, which comes from 203.0.113.7 through a
// router (198.18.1.254, the default route), and the real server 198.18.1.11
// on the same link. One port and one rx file keep the order of the frames:
// the real server's reply is processed after the SYN that created the
// session. Both neighbours are static, so the gateway sends no ARP request.
//
// Expected frames are built from scratch with gopacket (checksums computed in
// full), so a byte-exact match proves the incremental checksum updates, the
// TTL handling, the MAC rewrite and, for TUN, the whole outer header.

var (
	mdVIP       = netip.MustParseAddr("198.18.1.100")
	mdCIP       = netip.MustParseAddr("203.0.113.7")
	mdRouterIP  = netip.MustParseAddr("198.18.1.254")
	mdRouterMAC = harness.MustMAC("02:00:00:00:01:fe")
	mdRIP       = netip.MustParseAddr("198.18.1.11")
	mdRSMAC     = harness.MustMAC("02:00:00:00:01:0b")
)

const (
	mdCPort    = 40000
	mdUDPCPort = 33333
)

// mdMode is one forwarding method under test and its services' real ports
// (NAT maps ports; DR and TUN cannot).
type mdMode struct {
	name     string
	fwd      string // the configuration file's fwd value
	tcpRPort uint16 // real server port of VIP:80/tcp
	udpRPort uint16 // real server port of VIP:53/udp
}

// services are the mode's two services, VIP:80/tcp and VIP:53/udp, each
// over the real server.
func (m mdMode) services() []harness.Service {
	svc := func(proto string, vport, rport uint16) harness.Service {
		return harness.Service{Proto: proto, VIP: netip.AddrPortFrom(mdVIP, vport).String(), Sched: "rr",
			Dests: []harness.Dest{{Addr: netip.AddrPortFrom(mdRIP, rport).String(), Fwd: m.fwd}}}
	}
	return []harness.Service{svc("tcp", 80, m.tcpRPort), svc("udp", 53, m.udpRPort)}
}

// mdStep is one frame into the gateway and the frame that must leave because
// of it (nil: nothing may leave; the reason is checked in the counters).
type mdStep struct {
	name string
	in   []byte
	want []byte
}

// Hosts of each hop. fromClient is the client's packet as the router
// delivers it to the gateway; fromRS the real server's reply to the client,
// routed to the gateway (its default route, as NAT requires).
var (
	mdFromClient = harness.Hosts{SrcMAC: mdRouterMAC, DstMAC: gwMAC, Src: mdCIP, Dst: mdVIP, TTL: 64, ID: 0x1111}
	mdFromRS     = harness.Hosts{SrcMAC: mdRSMAC, DstMAC: gwMAC, Src: mdRIP, Dst: mdCIP, TTL: 64, ID: 0x2222}
)

// mdSegs are the client's TCP segments: a SYN (with an MSS option), a data
// segment and a FIN.
var mdSegs = []struct {
	name string
	seg  harness.TCPSeg
}{
	{"tcp_syn", harness.TCPSeg{SrcPort: mdCPort, DstPort: 80, Seq: 1000, Flags: harness.SYN}},
	{"tcp_data", harness.TCPSeg{SrcPort: mdCPort, DstPort: 80, Seq: 1001, Ack: 5001, Flags: harness.PSH | harness.ACK, Payload: pattern(100)}},
	{"tcp_fin", harness.TCPSeg{SrcPort: mdCPort, DstPort: 80, Seq: 1101, Ack: 5001, Flags: harness.FIN | harness.ACK}},
}

// mdReplies are the real server's answers (NAT only): SYN-ACK, data, FIN,
// from the real port; the gateway must send them from VIP:80.
var mdReplies = []struct {
	name string
	seg  harness.TCPSeg
}{
	{"tcp_reply_synack", harness.TCPSeg{DstPort: mdCPort, Seq: 5000, Ack: 1001, Flags: harness.SYN | harness.ACK}},
	{"tcp_reply_data", harness.TCPSeg{DstPort: mdCPort, Seq: 5001, Ack: 1101, Flags: harness.PSH | harness.ACK, Payload: pattern(333)}},
	{"tcp_reply_fin", harness.TCPSeg{DstPort: mdCPort, Seq: 5334, Ack: 1102, Flags: harness.FIN | harness.ACK}},
}

// mdDatagrams are the client's UDP datagrams: a small one, one of odd length,
// and one without a UDP checksum (RFC 768: zero means none, and must stay
// zero).
var mdDatagrams = []struct {
	name    string
	payload []byte
	noCsum  bool
}{
	{"udp_query", []byte("a question"), false},
	{"udp_odd", pattern(513), false},
	{"udp_no_checksum", pattern(64), true},
}

// hop returns h for the next hop: other MACs, the TTL decremented by dec.
func mdHop(h harness.Hosts, src, dst net.HardwareAddr, dec uint8) harness.Hosts {
	h.SrcMAC, h.DstMAC, h.TTL = src, dst, h.TTL-dec
	return h
}

func mdUDP(h harness.Hosts, sport, dport uint16, payload []byte, noCsum bool) []byte {
	f := harness.UDP(h, sport, dport, payload)
	if noCsum {
		f = harness.WithoutUDPChecksum(f)
	}
	return f
}

// mdIPIP is the frame TUN sends for inner (a frame as it would be forwarded,
// TTL decremented): the gateway's MAC to the real server's, an outer header
// from the port's address to the real server with TOS and DF copied from
// the inner header, TTL 64, protocol 4 and identification id, then the inner
// datagram without its frame's padding.
func mdIPIP(inner []byte, id uint16) []byte {
	l3 := harness.IPv4Packet(inner)
	outer := &layers.IPv4{Version: 4, IHL: 5, TOS: l3[1], Id: id, TTL: 64, Protocol: layers.IPProtocolIPv4,
		SrcIP: gwIP.AsSlice(), DstIP: mdRIP.AsSlice()}
	if l3[6]&0x40 != 0 {
		outer.Flags = layers.IPv4DontFragment
	}
	return pkttest.Serialize(&layers.Ethernet{SrcMAC: gwMAC, DstMAC: mdRSMAC, EthernetType: layers.EthernetTypeIPv4},
		outer, gopacket.Payload(l3))
}

// mdWithoutDF returns a copy of an IPv4 frame with DF clear.
func mdWithoutDF(frame []byte) []byte {
	b := append([]byte(nil), frame...)
	b[14+6] &^= 0x40
	return harness.FixIPv4Checksum(b)
}

// mdWithTOS returns a copy of an IPv4 frame with another TOS octet.
func mdWithTOS(frame []byte, tos uint8) []byte {
	b := append([]byte(nil), frame...)
	b[14+1] = tos
	return harness.FixIPv4Checksum(b)
}

// mdSteps builds the input and the expected output of one mode.
func mdSteps(t *testing.T, m mdMode) []mdStep {
	t.Helper()
	var steps []mdStep
	// out returns the frame the gateway must send for a client frame
	// built by mk with hosts h: NAT rewrites the destination and
	// decrements the TTL; DR changes the MACs only; TUN decrements the
	// inner TTL and encapsulates (DF packets get outer ID 0).
	toRS := func(mk func(h harness.Hosts, dport uint16) []byte, rport, vport uint16, id uint16) []byte {
		switch m.name {
		case "nat":
			h := mdHop(mdFromClient, gwMAC, mdRSMAC, 1)
			h.Dst = mdRIP
			return mk(h, rport)
		case "dr":
			return mk(mdHop(mdFromClient, gwMAC, mdRSMAC, 0), vport)
		default:
			return mdIPIP(mk(mdHop(mdFromClient, gwMAC, mdRSMAC, 1), vport), id)
		}
	}
	for _, s := range mdSegs {
		seg := s.seg
		mk := func(h harness.Hosts, dport uint16) []byte {
			sg := seg
			sg.DstPort = dport
			return harness.TCP(h, sg)
		}
		steps = append(steps, mdStep{s.name, mk(mdFromClient, 80), toRS(mk, m.tcpRPort, 80, 0)})
	}
	if m.name == "nat" {
		for _, s := range mdReplies {
			seg := s.seg
			in := seg
			in.SrcPort = m.tcpRPort
			out := seg
			out.SrcPort = 80
			h := mdHop(mdFromRS, gwMAC, mdRouterMAC, 1)
			h.Src = mdVIP
			steps = append(steps, mdStep{s.name, harness.TCP(mdFromRS, in), harness.TCP(h, out)})
		}
	}
	for _, d := range mdDatagrams {
		mk := func(h harness.Hosts, dport uint16) []byte { return mdUDP(h, mdUDPCPort, dport, d.payload, d.noCsum) }
		steps = append(steps, mdStep{d.name, mk(mdFromClient, 53), toRS(mk, m.udpRPort, 53, 0)})
		if m.name == "nat" {
			// The real server's answer, from its real port back to the
			// client, leaves from VIP:53.
			h := mdHop(mdFromRS, gwMAC, mdRouterMAC, 1)
			h.Src = mdVIP
			steps = append(steps, mdStep{d.name + "_reply",
				mdUDP(mdFromRS, m.udpRPort, mdUDPCPort, d.payload, d.noCsum),
				mdUDP(h, 53, mdUDPCPort, d.payload, d.noCsum)})
		}
	}
	if m.name != "tun" {
		return steps
	}

	// TUN only. TOS is copied to the outer header; a packet without DF
	// gets an outer header without DF and an ID from the worker's counter
	// (one worker: its first ID is 0).
	tos := mdWithTOS(mdUDP(mdFromClient, mdUDPCPort, 53, []byte("tos"), false), 0xb8)
	steps = append(steps, mdStep{"udp_tos_copied", tos,
		mdIPIP(mdWithTOS(mdUDP(mdHop(mdFromClient, gwMAC, mdRSMAC, 1), mdUDPCPort, 53, []byte("tos"), false), 0xb8), 0)})
	noDF := mdWithoutDF(mdUDP(mdFromClient, mdUDPCPort, 53, []byte("fragmentable"), false))
	steps = append(steps, mdStep{"udp_no_df", noDF,
		mdIPIP(mdWithoutDF(mdUDP(mdHop(mdFromClient, gwMAC, mdRSMAC, 1), mdUDPCPort, 53, []byte("fragmentable"), false)), 0)})

	// A full-size segment with DF (1500 bytes, the port's MTU) no longer
	// fits once encapsulated: ICMP fragmentation needed goes back to the
	// client (through its router) from the VIP, with MTU 1500-20, quoting
	// the segment's header and first 8 payload bytes as received. Its ID
	// is the worker's next (1).
	big := harness.TCP(mdFromClient, harness.TCPSeg{SrcPort: mdCPort, DstPort: 80, Seq: 1101, Ack: 5001,
		Flags: harness.PSH | harness.ACK, Payload: pattern(1500 - 40)})
	quote := harness.IPv4Packet(big)[:20+8]
	errHosts := harness.Hosts{SrcMAC: gwMAC, DstMAC: mdRouterMAC, Src: mdVIP, Dst: mdCIP}
	icmp := pkttest.Serialize(&layers.Ethernet{SrcMAC: gwMAC, DstMAC: mdRouterMAC, EthernetType: layers.EthernetTypeIPv4},
		&layers.IPv4{Version: 4, IHL: 5, TOS: 0xc0, Id: 1, TTL: 64, Protocol: layers.IPProtocolICMPv4,
			SrcIP: errHosts.Src.AsSlice(), DstIP: errHosts.Dst.AsSlice()},
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(harness.ICMPDstUnreachable, harness.ICMPCodeFragNeeded), Seq: 1480},
		gopacket.Payload(quote))
	steps = append(steps, mdStep{"tcp_too_big_df", big, icmp})
	// 1480 bytes fit exactly.
	fits := harness.TCP(mdFromClient, harness.TCPSeg{SrcPort: mdCPort, DstPort: 80, Seq: 1101, Ack: 5001,
		Flags: harness.PSH | harness.ACK, Payload: pattern(1480 - 40)})
	fitsOut := harness.TCP(mdHop(mdFromClient, gwMAC, mdRSMAC, 1), harness.TCPSeg{SrcPort: mdCPort, DstPort: 80, Seq: 1101, Ack: 5001,
		Flags: harness.PSH | harness.ACK, Payload: pattern(1480 - 40)})
	steps = append(steps, mdStep{"tcp_fits_exactly", fits, mdIPIP(fitsOut, 0)})
	// Too big without DF: the datapath does not fragment; dropped and
	// counted as too_big (checked after the run).
	steps = append(steps, mdStep{"udp_too_big_no_df",
		mdWithoutDF(mdUDP(mdFromClient, mdUDPCPort, 53, pattern(1500-28), false)), nil})
	return steps
}

// mdRun runs a gateway over the one-armed pcap port with the mode's
// services, feeds it every step's input and returns the frames it sent
// (gratuitous ARPs left out) and its per-core counters before it stopped.
func mdRun(t *testing.T, m mdMode, steps []mdStep) ([][]byte, []coreJSON) {
	t.Helper()
	var in [][]byte
	nwant := 0
	for _, s := range steps {
		in = append(in, s.in)
		if s.want != nil {
			nwant++
		}
	}
	out, cores := runPcap(t, harness.Config{
		Routes: []harness.Route{{Prefix: "0.0.0.0/0", Via: mdRouterIP.String(), Port: port}},
		Neighs: []harness.Neigh{
			{Addr: mdRouterIP.String(), MAC: mdRouterMAC.String(), Port: port},
			{Addr: mdRIP.String(), MAC: mdRSMAC.String(), Port: port},
		},
		Services: m.services(),
	}, in, func(out [][]byte) bool {
		_, rest := splitGratuitous(out)
		return len(rest) >= nwant
	})
	_, rest := splitGratuitous(out)
	return rest, cores
}

// TestModesPacketExact: for NAT, DR and TUN, TCP (SYN, data, FIN) and UDP
// (including a datagram without checksum), every frame leaving the gateway is
// exactly the expected one: MACs, addresses, ports, TTL, checksums, and for
// TUN the outer header; for NAT also the real server's replies, sent from
// VIP:vport. TUN also answers a DF packet that does not fit the tunnel with
// ICMP fragmentation needed and drops (and counts) one without DF. Nothing
// else leaves the gateway besides its gratuitous ARPs.
func TestModesPacketExact(t *testing.T) {
	for _, m := range []mdMode{
		{name: "nat", fwd: "masq", tcpRPort: 8080, udpRPort: 5353},
		{name: "dr", fwd: "route", tcpRPort: 80, udpRPort: 53},
		{name: "tun", fwd: "tunnel", tcpRPort: 80, udpRPort: 53},
	} {
		t.Run(m.name, func(t *testing.T) {
			steps := mdSteps(t, m)
			out, cores := mdRun(t, m, steps)
			var want []mdStep
			for _, s := range steps {
				if s.want != nil {
					want = append(want, s)
				}
			}
			if len(out) != len(want) {
				var names []string
				for _, s := range want {
					names = append(names, s.name)
				}
				t.Fatalf("the gateway sent %d frames besides gratuitous ARPs, want %d (%s):\n%s",
					len(out), len(want), strings.Join(names, ", "), harness.DescribeAll(out))
			}
			for i, s := range want {
				t.Run(s.name, func(t *testing.T) {
					if err := harness.Expect(out[i], harness.EthSrc(gwMAC), harness.ValidChecksums()); err != nil {
						t.Error(err)
					}
					if string(out[i]) != string(s.want) {
						t.Errorf("frame sent for %s\n  got  %s\n       %x\n  want %s\n       %x",
							harness.Describe(s.in), harness.Describe(out[i]), out[i], harness.Describe(s.want), s.want)
					}
				})
			}
			drops := map[string]uint64{}
			for _, c := range cores {
				for r, n := range c.Drops {
					drops[r] += n
				}
			}
			wantDrops := map[string]uint64{}
			if m.name == "tun" {
				wantDrops["too_big"] = 1
			}
			if fmt.Sprint(drops) != fmt.Sprint(wantDrops) {
				t.Errorf("drops %v, want %v", drops, wantDrops)
			}
		})
	}
}
