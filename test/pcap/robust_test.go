package pcap

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"fngw/test/harness"
	"fngw/test/pkttest"
)

// Hostile and unusual input, packet-exact over net_pcap.
//
// TestRobustCorpus runs the FULLNAT rig of fullnat_test.go (client and
// server ports reading live veths, services and static neighbours in the
// configuration) plus a third port that reads a fixed rx pcap holding the
// frames a veth cannot carry (shorter than an Ethernet header, larger than
// an mbuf). Between the steps of a valid FULLNAT TCP connection and UDP
// exchange it sends a corpus of malformed and unusual frames. It asserts:
//
//   - every frame of the valid flow leaves exactly as it must (byte for
//     byte, checksums valid), so no bad frame disturbed the session;
//   - unusual but valid packets are forwarded by their documented rule: IP
//     options kept, a trailer after the datagram cut, a wrong TCP checksum
//     kept wrong (the incremental update carries the error to the end host,
//     which drops the segment);
//   - every bad frame is counted once under its drop reason in `gw stats
//     --json` (per reason, and in total: the sum of all drop counters is the
//     number of bad frames), and produces no frame at all;
//   - the gateway stays up and exits 0.

// badFrame is one frame of the corpus and the drop reason it must be
// counted under.
type badFrame struct {
	name   string
	frame  []byte
	reason string
}

// rawPortFrames are the frames of the third port's rx pcap: they cannot be
// put on a veth (AF_PACKET refuses frames shorter than the Ethernet header)
// or do not fit one mbuf.
func rawPortFrames() []badFrame {
	jumbo := make([]byte, 9000)
	copy(jumbo, harness.UDP(harness.Hosts{SrcMAC: clientMAC, DstMAC: gwMAC, Src: clientIP, Dst: vip}, 1, udpVPort, nil))
	return []badFrame{
		{"frame_of_1_byte", []byte{0xff}, "short_frame"},
		{"frame_of_13_bytes", harness.Truncated(jumbo, 13), "short_frame"},
		{"jumbo_9000_byte_frame", jumbo, "multi_segment"},
	}
}

// startRobustRig is startRig with a third port, dpdk2, reading raw, and
// the client-side veth's MTU vethMTU (0: the default). It returns the third
// port's tx pcap.
func startRobustRig(t *testing.T, raw [][]byte, vethMTU int) (*rig, string) {
	t.Helper()
	rawRx := filepath.Join(harness.TempDir(t, "robust"), "raw-rx.pcap")
	if err := harness.WritePcap(rawRx, raw...); err != nil {
		t.Fatal(err)
	}
	r := startRig(t, rigOpts{thirdRx: rawRx, vethMTU: vethMTU})
	return r, r.thirdTx
}

// drops sums `gw stats --json` drops over cores, by reason.
func drops(t *testing.T, g *harness.Gateway) map[string]uint64 {
	t.Helper()
	var cores []coreJSON
	g.MustJSON(&cores, "stats")
	m := map[string]uint64{}
	for _, c := range cores {
		for r, n := range c.Drops {
			m[r] += n
		}
	}
	return m
}

// Frame surgery for the corpus. Each returns a modified copy.

// withIHL sets the IHL; the header checksum is fixed when the header fits
// the frame (the datagram is malformed either way).
func withIHL(f []byte, ihl byte) []byte {
	b := append([]byte(nil), f...)
	b[14] = 0x40 | ihl
	if 14+int(ihl)*4 > len(b) {
		return b
	}
	return harness.FixIPv4Checksum(b)
}

func withTCPDataOffset(f []byte, words byte) []byte {
	b := append([]byte(nil), f...)
	hl := int(b[14]&0x0f) * 4
	b[14+hl+12] = words<<4 | b[14+hl+12]&0x0f
	return b
}

func withUDPLength(f []byte, n uint16) []byte {
	b := append([]byte(nil), f...)
	hl := int(b[14]&0x0f) * 4
	binary.BigEndian.PutUint16(b[14+hl+4:], n)
	return b
}

// cutIPv4 cuts an IPv4 frame to its first n bytes of datagram, total
// length and header checksum adjusted: a consistent but truncated datagram.
func cutIPv4(f []byte, n int) []byte {
	return harness.FixIPv4Checksum(harness.WithIPv4TotalLength(harness.Truncated(f, 14+n), uint16(n)))
}

func withDstMAC(f []byte, mac net.HardwareAddr) []byte {
	b := append([]byte(nil), f...)
	copy(b[0:6], mac)
	return b
}

// vlanTagged inserts an 802.1Q tag with VLAN id vid after the MAC addresses.
func vlanTagged(f []byte, vid uint16) []byte {
	b := append([]byte(nil), f[:12]...)
	b = append(b, 0x81, 0x00, byte(vid>>8), byte(vid))
	return append(b, f[12:]...)
}

func withProtocol(f []byte, proto byte) []byte {
	b := append([]byte(nil), f...)
	b[14+9] = proto
	return harness.FixIPv4Checksum(b)
}

// withIPOptions inserts IPv4 options (a multiple of 4 bytes) after the
// option-less header: IHL, total length and header checksum adjusted, the
// TCP/UDP checksum still right (options are not in the pseudo-header).
func withIPOptions(f []byte, opts []byte) []byte {
	tl := int(binary.BigEndian.Uint16(f[14+2:]))
	b := append([]byte(nil), f[:14+20]...)
	b = append(b, opts...)
	b = append(b, f[14+20:14+tl]...)
	b[14] = 0x40 | byte((20+len(opts))/4)
	binary.BigEndian.PutUint16(b[14+2:], uint16(tl+len(opts)))
	for len(b) < harness.MinFrameLen {
		b = append(b, 0)
	}
	return harness.FixIPv4Checksum(b)
}

// originatedError is the ICMP error the gateway originates about the IPv4
// datagram of frame about, as received: from srcMAC/src to dstMAC/dst, TOS
// 0xc0 (internetwork control), TTL 64, no DF, IPv4 ID id, type and code,
// next-hop MTU mtu, quoting about's IPv4 header and first 8 payload bytes.
func originatedError(srcMAC, dstMAC net.HardwareAddr, src, dst netip.Addr, typ, code uint8, mtu, id uint16, about []byte) []byte {
	ip := harness.IPv4Packet(about)
	quote := ip[:int(ip[0]&0x0f)*4+8]
	eth := &layers.Ethernet{SrcMAC: srcMAC, DstMAC: dstMAC, EthernetType: layers.EthernetTypeIPv4}
	l3 := &layers.IPv4{Version: 4, IHL: 5, TOS: 0xc0, Id: id, TTL: 64, Protocol: layers.IPProtocolICMPv4,
		SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
	icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, code), Seq: mtu}
	return pkttest.Serialize(eth, l3, icmp, gopacket.Payload(quote))
}

// onesAdd is one's-complement 16-bit addition; onesSub(a, b) = a - b.
func onesAdd(a, b uint16) uint16 {
	s := uint32(a) + uint32(b)
	return uint16(s&0xffff + s>>16)
}
func onesSub(a, b uint16) uint16 { return onesAdd(a, ^b) }

// tcpChecksumAt is the offset of the TCP checksum in an untagged IPv4 frame.
func tcpChecksumAt(f []byte) int { return 14 + int(f[14]&0x0f)*4 + 16 }

func TestRobustCorpus(t *testing.T) {
	raw := rawPortFrames()
	var rawFrames [][]byte
	for _, b := range raw {
		rawFrames = append(rawFrames, b.frame)
	}
	r, rawTx := startRobustRig(t, rawFrames, 0)
	g, cl, sv := r.g, r.client, r.server
	r.g.WaitRxPackets("dpdk2", uint64(len(raw)), fnTimeout)

	cHosts, sHosts, toRS, toClient := r.flowHosts(0x3001, 0x4001)
	toGw := cHosts
	toGw.Dst = gwIP
	toBroadcast := cHosts
	toBroadcast.Dst = netip.MustParseAddr("255.255.255.255")

	want := map[string]uint64{}
	for _, b := range raw {
		want[b.reason]++
	}
	nbad := len(raw)
	// bad sends the corpus frames on the client side; none may produce a
	// frame (the next valid step's exact-count check, and finish, see to
	// it) and each counts once under its reason.
	bad := func(frames ...badFrame) {
		t.Helper()
		for _, b := range frames {
			if err := cl.sock.Send(b.frame); err != nil {
				t.Fatalf("%s: %v", b.name, err)
			}
			cl.sent++
			want[b.reason]++
			nbad++
		}
	}

	const cport = 41000
	const cISN, sISN = 7000, 9000
	syn := harness.TCPSyn(cHosts, cport, tcpVPort, cISN)
	cHosts.ID++
	ack := harness.TCPAck(cHosts, cport, tcpVPort, cISN+1, sISN+1)
	udpQ := harness.UDP(cHosts, 50100, udpVPort, []byte("robust query"))
	synTo := func(port uint16) []byte { return harness.TCPSyn(cHosts, cport+1, port, 1) }
	flags := func(f harness.TCPFlags) []byte {
		return harness.TCP(cHosts, harness.TCPSeg{SrcPort: cport + 2, DstPort: tcpVPort, Seq: 1, Flags: f})
	}

	// Before any session: the L2/L3 checks and new-flow checks.
	bad(
		badFrame{"ethernet_header_only", harness.Truncated(syn, 14), "malformed_ipv4"},
		badFrame{"ipv4_header_cut", harness.Truncated(syn, 14+12), "malformed_ipv4"},
		badFrame{"ihl_4", withIHL(syn, 4), "malformed_ipv4"},
		badFrame{"ihl_0", withIHL(syn, 0), "malformed_ipv4"},
		badFrame{"ihl_15_beyond_total_length", withIHL(harness.WithIPv4TotalLength(syn, 40), 15), "malformed_ipv4"},
		badFrame{"ipv4_version_6", func() []byte {
			b := append([]byte(nil), syn...)
			b[14] = 0x65
			return harness.FixIPv4Checksum(b)
		}(), "malformed_ipv4"},
		badFrame{"total_length_beyond_frame", harness.WithIPv4TotalLength(syn, uint16(len(syn)-14+1)), "malformed_ipv4"},
		badFrame{"total_length_below_header", harness.WithIPv4TotalLength(syn, 19), "malformed_ipv4"},
		badFrame{"bad_ipv4_checksum", harness.CorruptIPv4Checksum(syn), "bad_ipv4_checksum"},
		badFrame{"vlan_tagged", vlanTagged(syn, 100), "vlan_on_untagged_port"},
		badFrame{"ipv6_ethertype", harness.WithEtherType(syn, 0x86dd), "unknown_ethertype"},
		badFrame{"qinq_ethertype", harness.WithEtherType(syn, 0x88a8), "unknown_ethertype"},
		badFrame{"local_experimental_ethertype", harness.WithEtherType(syn, 0x88b5), "unknown_ethertype"},
		badFrame{"llc_length_field", harness.WithEtherType(syn, 0x0040), "unknown_ethertype"},
		badFrame{"broadcast_mac_to_vip", withDstMAC(syn, harness.BroadcastMAC), "l2_multicast"},
		badFrame{"multicast_mac_to_vip", withDstMAC(syn, harness.MustMAC("01:00:5e:01:02:03")), "l2_multicast"},
		badFrame{"other_host_mac", withDstMAC(syn, otherMAC), "other_host"},
		badFrame{"ip_broadcast", harness.UDP(toBroadcast, 68, 67, []byte("x")), "not_for_us"},
		badFrame{"unowned_address", harness.TCPSyn(func() harness.Hosts { h := cHosts; h.Dst = otherIP; return h }(), 1, 80, 1), "not_for_us"},
		badFrame{"source_0.0.0.0", harness.TCPSyn(func() harness.Hosts { h := cHosts; h.Src = netip.MustParseAddr("0.0.0.0"); return h }(), 1, 80, 1), "martian_source"},
		badFrame{"source_loopback", harness.TCPSyn(func() harness.Hosts { h := cHosts; h.Src = netip.MustParseAddr("127.0.0.1"); return h }(), 1, 80, 1), "martian_source"},
		badFrame{"source_multicast", harness.TCPSyn(func() harness.Hosts { h := cHosts; h.Src = netip.MustParseAddr("224.0.0.9"); return h }(), 1, 80, 1), "martian_source"},
		badFrame{"land_source_is_vip", harness.TCPSyn(func() harness.Hosts { h := cHosts; h.Src = vip; return h }(), 80, 80, 1), "own_source"},
		badFrame{"tcp_header_cut", cutIPv4(syn, 20+10), "malformed_l4"},
		badFrame{"tcp_data_offset_beyond_segment", withTCPDataOffset(syn, 15), "malformed_l4"},
		badFrame{"tcp_data_offset_4", withTCPDataOffset(syn, 4), "malformed_l4"},
		badFrame{"udp_header_cut", cutIPv4(udpQ, 20+4), "malformed_l4"},
		badFrame{"udp_length_beyond_datagram", withUDPLength(udpQ, 200), "malformed_l4"},
		badFrame{"udp_length_below_header", withUDPLength(udpQ, 7), "malformed_l4"},
		badFrame{"icmp_header_cut_to_vip", cutIPv4(harness.ICMPEchoRequest(cHosts, 1, 1, nil), 20+4), "malformed_l4"},
		badFrame{"icmp_error_quote_cut_to_vip", harness.ICMPError(cHosts, harness.ICMPDstUnreachable, harness.ICMPCodePortUnreachable, 0,
			harness.IPv4Packet(syn)[:24]), "malformed_l4"},
		badFrame{"syn_fin_to_vip", flags(harness.SYN | harness.FIN), "bad_tcp_flags"},
		badFrame{"syn_rst_to_vip", flags(harness.SYN | harness.RST), "bad_tcp_flags"},
		badFrame{"no_flags_to_vip", flags(0), "bad_tcp_flags"},
		badFrame{"fin_psh_urg_to_vip", flags(harness.FIN | harness.PSH), "bad_tcp_flags"},
		badFrame{"ack_without_session", flags(harness.ACK), "no_session"},
		badFrame{"tcp_to_vip_port_without_service", synTo(22), "no_service"},
		badFrame{"udp_to_vip_port_without_service", harness.UDP(cHosts, 1, 161, []byte("x")), "no_service"},
		badFrame{"gre_to_vip", withProtocol(syn, 47), "local_unhandled"},
		badFrame{"tcp_to_gateway_address", harness.TCPSyn(toGw, 1, 22, 1), "local_unhandled"},
	)
	// TTL 1 and 0 are answered with time exceeded from the VIP (the
	// gateway's errors are numbered by the core from 0), not dropped.
	errID := uint16(0)
	for _, ttl := range []uint8{1, 0} {
		in := harness.WithTTL(synTo(tcpVPort), ttl)
		r.step(t, fmt.Sprintf("ttl_%d_syn_answered_time_exceeded", ttl), cl, in, cl,
			originatedError(cl.mac, clientMAC, vip, clientIP, harness.ICMPTimeExceeded, 0, 0, errID, in))
		errID++
	}

	// The valid connection. Its SYN carries IP options (a Router Alert,
	// RFC 2113): forwarded with the options unchanged.
	routerAlert := []byte{0x94, 0x04, 0x00, 0x00}
	var lport uint16
	t.Run("syn_with_ip_options_to_rs", func(t *testing.T) {
		out := r.send(t, cl, withIPOptions(syn, routerAlert), sv)
		lport = transportSrcPort(t, out)
		wantOut := withIPOptions(harness.TCPSyn(withID(toRS, 0x3001), lport, tcpRPort, cISN), routerAlert)
		expectFrame(t, "SYN with IP options toward the real server", out, wantOut,
			harness.EthSrc(sv.mac), harness.EthDst(rsMAC), harness.IPv4(lip, rip, layers.IPProtocolTCP), harness.TTL(63))
	})
	if lport == 0 {
		t.Fatal("no local port learnt from the SYN")
	}
	// The SYN's retransmission with bad flags or a bad checksum must not
	// disturb the session.
	bad(badFrame{"retransmitted_syn_bad_ipv4_checksum", harness.CorruptIPv4Checksum(syn), "bad_ipv4_checksum"})

	sHosts.ID++
	r.step(t, "synack_to_client", sv, harness.TCP(sHosts, harness.TCPSeg{SrcPort: tcpRPort, DstPort: lport, Seq: sISN, Ack: cISN + 1, Flags: harness.SYN | harness.ACK}), cl,
		harness.TCP(withID(toClient, sHosts.ID), harness.TCPSeg{SrcPort: tcpVPort, DstPort: cport, Seq: sISN, Ack: cISN + 1, Flags: harness.SYN | harness.ACK}))
	bad(badFrame{"established_tuple_truncated_tcp", cutIPv4(ack, 20+12), "malformed_l4"})
	r.step(t, "established_tuple_ttl_1_answered_time_exceeded", cl, harness.WithTTL(ack, 1), cl,
		originatedError(cl.mac, clientMAC, vip, clientIP, harness.ICMPTimeExceeded, 0, 0, errID, harness.WithTTL(ack, 1)))
	errID++
	r.step(t, "ack_to_rs", cl, ack, sv, harness.TCPAck(withID(toRS, cHosts.ID), lport, tcpRPort, cISN+1, sISN+1))

	// Data with a wrong TCP checksum: forwarded, and still exactly as
	// wrong (the same one's-complement error) after the rewrite.
	payload := pattern(300)
	cHosts.ID++
	goodIn := harness.TCPData(cHosts, cport, tcpVPort, cISN+1, sISN+1, payload)
	badIn := harness.CorruptL4Checksum(goodIn)
	t.Run("data_with_bad_tcp_checksum_forwarded_still_bad", func(t *testing.T) {
		out := r.send(t, cl, badIn, sv)
		wantOut := harness.TCPData(withID(toRS, cHosts.ID), lport, tcpRPort, cISN+1, sISN+1, payload)
		o := tcpChecksumAt(wantOut)
		errIn := onesSub(binary.BigEndian.Uint16(badIn[o:]), binary.BigEndian.Uint16(goodIn[o:]))
		binary.BigEndian.PutUint16(wantOut[o:], onesAdd(binary.BigEndian.Uint16(wantOut[o:]), errIn))
		if err := harness.VerifyChecksums(out); err == nil || !strings.Contains(err.Error(), "TCP checksum") {
			t.Errorf("forwarded segment's TCP checksum verifies (err %v): a wrong checksum was laundered", err)
		}
		if err := sameFrame(out, wantOut); err != nil {
			t.Error(err)
		}
	})
	cHosts.ID++
	r.step(t, "data_to_rs", cl, harness.TCPData(cHosts, cport, tcpVPort, cISN+1, sISN+1, payload), sv,
		harness.TCPData(withID(toRS, cHosts.ID), lport, tcpRPort, cISN+1, sISN+1, payload))

	bad(
		badFrame{"syn_fin_on_session_tuple_from_elsewhere", harness.CorruptIPv4Checksum(flags(harness.SYN | harness.FIN)), "bad_ipv4_checksum"},
		badFrame{"reply_to_unused_local_port", harness.TCPAck(func() harness.Hosts { h := sHosts; h.SrcMAC, h.DstMAC = clientMAC, cl.mac; return h }(), tcpRPort, lport+1, 1, 1), "no_session"},
	)
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	sHosts.ID++
	r.step(t, "data_to_client", sv, harness.TCPData(sHosts, tcpRPort, lport, sISN+1, cISN+1+uint32(len(payload)), resp), cl,
		harness.TCPData(withID(toClient, sHosts.ID), tcpVPort, cport, sISN+1, cISN+1+uint32(len(payload)), resp))
	cSeq, sSeq := cISN+1+uint32(len(payload)), sISN+1+uint32(len(resp))
	cHosts.ID++
	r.step(t, "fin_to_rs", cl, harness.TCPFin(cHosts, cport, tcpVPort, cSeq, sSeq), sv,
		harness.TCPFin(withID(toRS, cHosts.ID), lport, tcpRPort, cSeq, sSeq))
	sHosts.ID++
	r.step(t, "fin_to_client", sv, harness.TCPFin(sHosts, tcpRPort, lport, sSeq, cSeq+1), cl,
		harness.TCPFin(withID(toClient, sHosts.ID), tcpVPort, cport, sSeq, cSeq+1))
	cHosts.ID++
	r.step(t, "last_ack_to_rs", cl, harness.TCPAck(cHosts, cport, tcpVPort, cSeq+1, sSeq+1), sv,
		harness.TCPAck(withID(toRS, cHosts.ID), lport, tcpRPort, cSeq+1, sSeq+1))

	// UDP with a 200-byte trailer after the datagram: forwarded without it.
	cHosts.ID++
	query := []byte("a query of some length, so that the frame is over sixty bytes")
	uIn := append(harness.UDP(cHosts, 50200, udpVPort, query), make([]byte, 200)...)
	var ulport uint16
	t.Run("udp_with_trailer_to_rs", func(t *testing.T) {
		out := r.send(t, cl, uIn, sv)
		ulport = transportSrcPort(t, out)
		expectFrame(t, "UDP toward the real server, trailer cut", out,
			harness.UDP(withID(toRS, cHosts.ID), ulport, udpRPort, query))
	})
	if ulport == 0 {
		t.Fatal("no local port learnt from the UDP datagram")
	}
	bad(badFrame{"udp_to_vip_bad_ipv4_checksum", harness.CorruptIPv4Checksum(uIn), "bad_ipv4_checksum"})

	// A 3000-byte UDP datagram in three fragments: each leaves as a
	// fragment, exactly the fragments of the rewritten datagram (the
	// first carries the rewritten ports and checksum, the others only a
	// rewritten IPv4 header). A later fragment without its first, and a
	// TCP fragment at offset 8 (RFC 1858), are dropped.
	cHosts.ID++
	bigQuery := pattern(3000)
	fragsIn := fragmentFrame(withoutDF(harness.UDP(cHosts, 50300, udpVPort, bigQuery)), 1500)
	bad(badFrame{"later_fragment_before_its_first", fragsIn[1], "frag_no_first"})
	var flport uint16
	var fragsOut [][]byte
	t.Run("udp_first_fragment_to_rs", func(t *testing.T) {
		out := r.send(t, cl, fragsIn[0], sv)
		flport = binary.BigEndian.Uint16(out[14+20:]) // gopacket does not decode a fragment's UDP header
		fragsOut = append(fragsOut, out)
	})
	if flport == 0 {
		t.Fatal("no local port learnt from the first fragment")
	}
	for i, f := range fragsIn[1:] {
		t.Run(fmt.Sprintf("udp_fragment_%d_to_rs", i+1), func(t *testing.T) { fragsOut = append(fragsOut, r.send(t, cl, f, sv)) })
	}
	t.Run("fragments_exact", func(t *testing.T) {
		want := fragmentFrame(withoutDF(harness.UDP(withID(toRS, cHosts.ID), flport, udpRPort, bigQuery)), 1500)
		if len(fragsOut) != len(want) {
			t.Fatalf("%d fragments out, want %d", len(fragsOut), len(want))
		}
		for i := range want {
			if err := harness.VerifyChecksums(fragsOut[i]); err != nil {
				t.Errorf("fragment %d: %v", i, err)
			}
			if err := sameFrame(fragsOut[i], want[i]); err != nil {
				t.Errorf("fragment %d: %v", i, err)
			}
		}
	})
	tcpFrag := append([]byte(nil), harness.TCPData(cHosts, cport, tcpVPort, 1, 1, pattern(40))...)
	binary.BigEndian.PutUint16(tcpFrag[14+6:], 0x2001) // MF, offset 8 bytes
	bad(badFrame{"tcp_fragment_at_offset_8", harness.FixIPv4Checksum(tcpFrag), "fragment"})
	sHosts.ID++
	r.step(t, "udp_to_client", sv, harness.UDP(sHosts, udpRPort, ulport, []byte("answer")), cl,
		harness.UDP(withID(toClient, sHosts.ID), udpVPort, 50200, []byte("answer")))

	r.g.WaitRxPackets(cl.port, cl.sent, fnTimeout)
	r.g.WaitRxPackets(sv.port, sv.sent, fnTimeout)
	t.Run("drop_counters", func(t *testing.T) {
		got := drops(t, g)
		var total uint64
		for _, n := range got {
			total += n
		}
		var names []string
		for k := range want {
			names = append(names, k)
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				names = append(names, k)
			}
		}
		sort.Strings(names)
		for _, k := range names {
			if got[k] != want[k] {
				t.Errorf("drop %s = %d, want %d", k, got[k], want[k])
			}
		}
		if total != uint64(nbad) {
			t.Errorf("drop counters sum to %d, want %d (one per bad frame): %v", total, nbad, got)
		}
	})
	r.finish(t)
	out, err := harness.ReadPcap(rawTx)
	if err != nil {
		t.Fatal(err)
	}
	if _, rest := splitGratuitous(out); len(rest) != 0 {
		t.Errorf("port dpdk2 sent frames besides gratuitous ARPs:\n%s", harness.DescribeAll(rest))
	}
}

// fragmentFrame splits an untagged IPv4 frame into fragment frames whose
// datagrams are at most mtu bytes, as a sending host does (RFC 791): the
// header copied into each, offsets in 8-byte units, MF on all but the last,
// DF clear, header checksums recomputed, short frames padded.
func fragmentFrame(f []byte, mtu int) [][]byte {
	ip := harness.IPv4Packet(f)
	hl := int(ip[0]&0x0f) * 4
	payload := ip[hl:]
	step := (mtu - hl) &^ 7
	var out [][]byte
	for off := 0; off < len(payload); off += step {
		end := min(off+step, len(payload))
		b := append(append(append([]byte(nil), f[:14]...), ip[:hl]...), payload[off:end]...)
		binary.BigEndian.PutUint16(b[14+2:], uint16(hl+end-off))
		fo := uint16(off / 8)
		if end < len(payload) {
			fo |= 0x2000 // MF
		}
		binary.BigEndian.PutUint16(b[14+6:], fo)
		for len(b) < harness.MinFrameLen {
			b = append(b, 0)
		}
		out = append(out, harness.FixIPv4Checksum(b))
	}
	return out
}

// withoutDF returns a copy of an IPv4 frame with DF cleared.
func withoutDF(f []byte) []byte {
	b := append([]byte(nil), f...)
	b[14+6] &^= 0x40
	return harness.FixIPv4Checksum(b)
}

// TestICMPErrorsOriginated: the errors a router owes (RFC 1812), for
// FULLNAT traffic, packet-exact:
//
//   - TTL 1 and 0 toward the VIP: time exceeded in transit from the VIP to
//     the client, quoting the packet as received; no session is created;
//   - a real server's reply with TTL 1: time exceeded from the local
//     address to the real server, on the server side;
//   - a DF segment of an established connection larger than the egress
//     port's MTU (1500; it came in on a wider link): fragmentation needed
//     with next-hop MTU 1500, from the VIP to the client; the same without
//     DF is dropped (too_big: the gateway does not fragment); one that fits
//     is forwarded;
//   - a burst of 80 TTL-1 SYNs: at most the token bucket's burst (50) plus
//     its refill is answered, the rest is counted as icmp_rate_limited;
//   - icmp_sent counts the errors sent; the gateway sends nothing else and
//     exits 0.
func TestICMPErrorsOriginated(t *testing.T) {
	r, _ := startRobustRig(t, nil, 9000)
	g, cl, sv := r.g, r.client, r.server
	cHosts, sHosts, toRS, _ := r.flowHosts(0x5001, 0x6001)
	errID := uint16(0)
	sent := 0
	for _, ttl := range []uint8{1, 0} {
		in := harness.WithTTL(harness.TCPSyn(cHosts, 42000, tcpVPort, 1), ttl)
		r.step(t, fmt.Sprintf("syn_ttl_%d", ttl), cl, in, cl,
			originatedError(cl.mac, clientMAC, vip, clientIP, harness.ICMPTimeExceeded, 0, 0, errID, in))
		errID++
		sent++
	}

	const cport, cISN, sISN = 42001, 100, 200
	var lport uint16
	t.Run("syn", func(t *testing.T) {
		out := r.send(t, cl, harness.TCPSyn(cHosts, cport, tcpVPort, cISN), sv)
		lport = transportSrcPort(t, out)
	})
	if lport == 0 {
		t.Fatal("no local port learnt")
	}
	r.send(t, sv, harness.TCP(sHosts, harness.TCPSeg{SrcPort: tcpRPort, DstPort: lport, Seq: sISN, Ack: cISN + 1, Flags: harness.SYN | harness.ACK}), cl)
	cHosts.ID++
	r.send(t, cl, harness.TCPAck(cHosts, cport, tcpVPort, cISN+1, sISN+1), sv)

	sHosts.ID++
	reply := harness.WithTTL(harness.TCPAck(sHosts, tcpRPort, lport, sISN+1, cISN+1), 1)
	r.step(t, "reply_ttl_1", sv, reply, sv, originatedError(sv.mac, rsMAC, lip, rip, harness.ICMPTimeExceeded, 0, 0, errID, reply))
	errID++
	sent++

	// 1600-byte datagrams: 1560 bytes of TCP payload.
	big := pattern(1600 - 40)
	cHosts.ID++
	bigDF := harness.TCPData(cHosts, cport, tcpVPort, cISN+1, sISN+1, big)
	r.step(t, "df_larger_than_egress_mtu", cl, bigDF, cl,
		originatedError(cl.mac, clientMAC, vip, clientIP, harness.ICMPDstUnreachable, harness.ICMPCodeFragNeeded, 1500, errID, bigDF))
	errID++
	sent++
	if err := cl.sock.Send(withoutDF(bigDF)); err != nil {
		t.Fatal(err)
	}
	cl.sent++
	fits := big[:1500-40]
	cHosts.ID++
	r.step(t, "fits_egress_mtu", cl, harness.TCPData(cHosts, cport, tcpVPort, cISN+1, sISN+1, fits), sv,
		harness.TCPData(withID(toRS, cHosts.ID), lport, tcpRPort, cISN+1, sISN+1, fits))

	// A burst of TTL-1 SYNs: the bucket holds 50 tokens, 1000/s refill.
	const burst = 80
	for i := range burst {
		if err := cl.sock.Send(harness.WithTTL(harness.TCPSyn(cHosts, uint16(43000+i), tcpVPort, 1), 1)); err != nil {
			t.Fatal(err)
		}
		cl.sent++
	}
	g.WaitRxPackets(cl.port, cl.sent, fnTimeout)
	var answered int
	harness.Eventually(t, fnTimeout, "the burst's errors and drops to add up", func() error {
		got, err := cl.nonGratuitous()
		if err != nil {
			return err
		}
		answered = len(got) - len(cl.got)
		if d := drops(t, g); uint64(answered)+d["icmp_rate_limited"] != burst {
			return fmt.Errorf("%d answered + %d rate-limited != %d", answered, d["icmp_rate_limited"], burst)
		}
		return nil
	})
	got, _ := cl.nonGratuitous()
	for i, f := range got[len(cl.got):] {
		if err := harness.Expect(f, harness.EthSrc(cl.mac), harness.EthDst(clientMAC), harness.IPv4(vip, clientIP, layers.IPProtocolICMPv4),
			icmpError(harness.ICMPTimeExceeded, 0, 0), harness.ValidChecksums()); err != nil {
			t.Errorf("error #%d of the burst: %v", i, err)
		}
	}
	cl.got = got
	sent += answered
	t.Logf("%d of %d TTL-1 SYNs answered, %d rate-limited", answered, burst, burst-answered)
	if answered < 50 || answered >= burst {
		t.Errorf("%d of %d TTL-1 SYNs answered, want the burst of 50 and a few refilled tokens", answered, burst)
	}
	t.Run("counters", func(t *testing.T) {
		var cores []struct {
			ICMPSent uint64 `json:"icmp_sent"`
			Sessions int64  `json:"sessions"`
		}
		g.MustJSON(&cores, "stats")
		var icmp uint64
		var sessions int64
		for _, c := range cores {
			icmp += c.ICMPSent
			sessions += c.Sessions
		}
		if icmp != uint64(sent) || sessions != 1 {
			t.Errorf("icmp_sent %d, sessions %d; want %d and 1", icmp, sessions, sent)
		}
		d := drops(t, g)
		if d["too_big"] != 1 || d["ttl_exceeded"] != 0 || len(d) != 2 {
			t.Errorf("drops %v, want too_big 1 and icmp_rate_limited only", d)
		}
	})
	r.finish(t)
}
