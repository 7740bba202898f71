package pcap

import (
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/google/gopacket/layers"

	"fngw/test/harness"
)

// The client's address at FULLNAT real servers, packet-exact through the
// real gateway: PROXY protocol v1 and v2 (TCP), v2 (UDP), TOA. The headers
// and options the tests expect are written here from HAProxy's
// specification and DPVS's TOA layout, not taken from the gateway's code.

// clientAddrService is a FULLNAT service VIP:vport → rip:rport with the
// client-address key raw (TOML).
func clientAddrService(proto string, vport, rport uint16, raw string) harness.Service {
	s := fullnatService(proto, vport, rport)
	s.Raw = raw
	return s
}

// proxyV1 is the v1 line for a TCP connection from the test client.
func proxyV1(cport, vport uint16) []byte {
	return fmt.Appendf(nil, "PROXY TCP4 %s %s %d %d\r\n", clientIP, vip, cport, vport)
}

// proxyV2 is the v2 header (signature, version 2 PROXY, AF_INET with
// STREAM or DGRAM, 12 address bytes) for a connection from the test client.
func proxyV2(dgram bool, cport, vport uint16) []byte {
	b := []byte("\r\n\r\n\x00\r\nQUIT\n")
	fam := byte(0x11)
	if dgram {
		fam = 0x12
	}
	b = append(b, 0x21, fam, 0, 12)
	b = append(b, clientIP.AsSlice()...)
	b = append(b, vip.AsSlice()...)
	b = binary.BigEndian.AppendUint16(b, cport)
	return binary.BigEndian.AppendUint16(b, vport)
}

func sackBlock(edges ...uint32) layers.TCPOption {
	var d []byte
	for _, e := range edges {
		d = binary.BigEndian.AppendUint32(d, e)
	}
	return layers.TCPOption{OptionType: layers.TCPOptionKindSACK, OptionLength: uint8(2 + len(d)), OptionData: d}
}

var tcpNOP = layers.TCPOption{OptionType: layers.TCPOptionKindNop, OptionLength: 1}

func TestProxyProtocolTCPPcap(t *testing.T) {
	const (
		v1Port, v1RPort = 81, 8081
		v2Port, v2RPort = 82, 8082
	)
	r := startRig(t, rigOpts{services: []harness.Service{
		clientAddrService("tcp", v1Port, v1RPort, `proxy_protocol = "v1"`),
		clientAddrService("tcp", v2Port, v2RPort, `proxy_protocol = "v2"`),
	}})
	cl, sv := r.client, r.server
	for i, c := range []struct {
		name         string
		vport, rport uint16
		hdr          []byte
	}{
		{"v1", v1Port, v1RPort, proxyV1(41000, v1Port)},
		{"v2", v2Port, v2RPort, proxyV2(false, 41001, v2Port)},
	} {
		cport := uint16(41000 + i)
		h := uint32(len(c.hdr))
		cHosts, sHosts, toRS, toClient := r.flowHosts(0x3001, 0x4001)
		withHdr := func(data []byte) []byte { return append(append([]byte(nil), c.hdr...), data...) }
		const cISN, sISN = 7000, 9000
		var lport uint16

		t.Run(c.name+"_syn", func(t *testing.T) {
			in := harness.TCPSyn(cHosts, cport, c.vport, cISN)
			out := r.send(t, cl, in, sv)
			lport = transportSrcPort(t, out)
			expectFrame(t, "SYN toward the real server, unchanged but for FULLNAT", out, harness.TCPSyn(withID(toRS, cHosts.ID), lport, c.rport, cISN),
				harness.IPv4(lip, rip, layers.IPProtocolTCP), ports(lport, c.rport))
		})
		if lport == 0 {
			t.Fatal("no local port learnt from the SYN")
		}
		seg := func(hs harness.Hosts, sp, dp uint16, seq, ack uint32, fl harness.TCPFlags, data []byte, opts ...layers.TCPOption) []byte {
			return harness.TCP(hs, harness.TCPSeg{SrcPort: sp, DstPort: dp, Seq: seq, Ack: ack, Flags: fl, Payload: data, Options: opts})
		}
		sackPerm := layers.TCPOption{OptionType: layers.TCPOptionKindSACKPermitted, OptionLength: 2}
		r.step(t, c.name+"_synack_mss_lowered", sv,
			harness.TCP(sHosts, harness.TCPSeg{SrcPort: c.rport, DstPort: lport, Seq: sISN, Ack: cISN + 1, Flags: harness.SYN | harness.ACK, Options: []layers.TCPOption{tcpNOP, tcpNOP, sackPerm}}),
			cl, harness.TCP(withID(toClient, sHosts.ID), harness.TCPSeg{SrcPort: c.vport, DstPort: cport, Seq: sISN, Ack: cISN + 1, Flags: harness.SYN | harness.ACK,
				MSS: uint16(1460 - h), Options: []layers.TCPOption{tcpNOP, tcpNOP, sackPerm}}))

		// The handshake's last ACK carries the header: a server that
		// speaks first has it before the client says anything.
		cHosts.ID++
		r.step(t, c.name+"_ack_carries_header", cl, seg(cHosts, cport, c.vport, cISN+1, sISN+1, harness.ACK, nil), sv,
			seg(withID(toRS, cHosts.ID), lport, c.rport, cISN+1, sISN+1, harness.ACK, withHdr(nil)))
		// The first request, the header still unacknowledged: sent again
		// before it, at the same sequence number.
		req := []byte("GET / HTTP/1.0\r\n\r\n")
		cHosts.ID++
		r.step(t, c.name+"_first_data_with_header", cl, seg(cHosts, cport, c.vport, cISN+1, sISN+1, harness.PSH|harness.ACK, req), sv,
			seg(withID(toRS, cHosts.ID), lport, c.rport, cISN+1, sISN+1, harness.PSH|harness.ACK, withHdr(req)))
		cHosts.ID++
		r.step(t, c.name+"_first_data_retransmitted", cl, seg(cHosts, cport, c.vport, cISN+1, sISN+1, harness.PSH|harness.ACK, req), sv,
			seg(withID(toRS, cHosts.ID), lport, c.rport, cISN+1, sISN+1, harness.PSH|harness.ACK, withHdr(req)))
		// The real server acknowledges header and request: moved back.
		resp := []byte("HTTP/1.0 200 OK\r\n\r\n")
		cNext := uint32(cISN + 1 + len(req))
		sHosts.ID++
		r.step(t, c.name+"_rs_ack_moved_back", sv, seg(sHosts, c.rport, lport, sISN+1, cNext+h, harness.PSH|harness.ACK, resp), cl,
			seg(withID(toClient, sHosts.ID), c.vport, cport, sISN+1, cNext, harness.PSH|harness.ACK, resp))
		// The client's next segment: its sequence number moved by the header.
		more := pattern(300)
		cHosts.ID++
		r.step(t, c.name+"_next_data_moved", cl, seg(cHosts, cport, c.vport, cNext, sISN+1+uint32(len(resp)), harness.PSH|harness.ACK, more), sv,
			seg(withID(toRS, cHosts.ID), lport, c.rport, cNext+h, sISN+1+uint32(len(resp)), harness.PSH|harness.ACK, more))
		// SACK blocks from the real server, moved back with the ACK.
		sNext := uint32(sISN + 1 + len(resp))
		sHosts.ID++
		r.step(t, c.name+"_sack_moved_back", sv,
			seg(sHosts, c.rport, lport, sNext, cNext+h, harness.ACK, nil, tcpNOP, tcpNOP, sackBlock(cNext+h+100, cNext+h+200)), cl,
			seg(withID(toClient, sHosts.ID), c.vport, cport, sNext, cNext, harness.ACK, nil, tcpNOP, tcpNOP, sackBlock(cNext+100, cNext+200)))
		cNext += uint32(len(more))
		// The FIN exchange.
		cHosts.ID++
		r.step(t, c.name+"_client_fin", cl, harness.TCPFin(cHosts, cport, c.vport, cNext, sNext), sv,
			harness.TCPFin(withID(toRS, cHosts.ID), lport, c.rport, cNext+h, sNext))
		sHosts.ID++
		r.step(t, c.name+"_server_fin", sv, harness.TCPFin(sHosts, c.rport, lport, sNext, cNext+h+1), cl,
			harness.TCPFin(withID(toClient, sHosts.ID), c.vport, cport, sNext, cNext+1))
		cHosts.ID++
		r.step(t, c.name+"_last_ack", cl, harness.TCPAck(cHosts, cport, c.vport, cNext+1, sNext+1), sv,
			harness.TCPAck(withID(toRS, cHosts.ID), lport, c.rport, cNext+1+h, sNext+1))
	}
	var cores []coreCAJSON
	if err := r.g.JSON(&cores, "stats"); err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, c := range cores {
		n += c.ProxyHeaders
	}
	if n != 6 {
		t.Errorf("gw stats counts %d PROXY headers, want 6 (3 per connection)", n)
	}
	r.finish(t)
}

// coreCAJSON is the client-address part of a core in `gw stats --json`.
type coreCAJSON struct {
	ProxyHeaders uint64 `json:"proxy_headers"`
	TOAAdded     uint64 `json:"toa_added"`
}

func TestTOAAndProxyUDPPcap(t *testing.T) {
	const (
		toaPort, toaRPort = 83, 8083
		udpPort, udpRPort = 54, 5354
	)
	r := startRig(t, rigOpts{services: []harness.Service{
		clientAddrService("tcp", toaPort, toaRPort, `toa = true`),
		clientAddrService("udp", udpPort, udpRPort, `proxy_protocol = "v2"`),
	}})
	cl, sv := r.client, r.server
	cHosts, sHosts, toRS, toClient := r.flowHosts(0x5001, 0x6001)
	const cport, cISN, sISN = 42000, 100, 200
	// DPVS's TOA: kind 254, length 8, the client's port and address.
	toa := layers.TCPOption{OptionType: 254, OptionLength: 8,
		OptionData: append(binary.BigEndian.AppendUint16(nil, cport), clientIP.AsSlice()...)}

	var lport uint16
	t.Run("toa_syn", func(t *testing.T) {
		out := r.send(t, cl, harness.TCPSyn(cHosts, cport, toaPort, cISN), sv)
		lport = transportSrcPort(t, out)
		expectFrame(t, "SYN with the TOA option", out,
			harness.TCP(withID(toRS, cHosts.ID), harness.TCPSeg{SrcPort: lport, DstPort: toaRPort, Seq: cISN, Flags: harness.SYN, Options: []layers.TCPOption{toa}}))
	})
	if lport == 0 {
		t.Fatal("no local port learnt from the SYN")
	}
	r.step(t, "toa_synack_mss_lowered", sv, harness.TCP(sHosts, harness.TCPSeg{SrcPort: toaRPort, DstPort: lport, Seq: sISN, Ack: cISN + 1, Flags: harness.SYN | harness.ACK}), cl,
		harness.TCP(withID(toClient, sHosts.ID), harness.TCPSeg{SrcPort: toaPort, DstPort: cport, Seq: sISN, Ack: cISN + 1, Flags: harness.SYN | harness.ACK, MSS: 1452}))
	cHosts.ID++
	r.step(t, "toa_ack", cl, harness.TCPAck(cHosts, cport, toaPort, cISN+1, sISN+1), sv,
		harness.TCP(withID(toRS, cHosts.ID), harness.TCPSeg{SrcPort: lport, DstPort: toaRPort, Seq: cISN + 1, Ack: sISN + 1, Flags: harness.ACK, Options: []layers.TCPOption{toa}}))
	resp := []byte("banner\r\n")
	sHosts.ID++
	r.step(t, "toa_server_speaks", sv, harness.TCPData(sHosts, toaRPort, lport, sISN+1, cISN+1, resp), cl,
		harness.TCPData(withID(toClient, sHosts.ID), toaPort, cport, sISN+1, cISN+1, resp))
	cHosts.ID++
	r.step(t, "toa_done", cl, harness.TCPData(cHosts, cport, toaPort, cISN+1, sISN+1+uint32(len(resp)), []byte("hi")), sv,
		harness.TCPData(withID(toRS, cHosts.ID), lport, toaRPort, cISN+1, sISN+1+uint32(len(resp)), []byte("hi")))

	// UDP: the v2 header (DGRAM) before each datagram's payload.
	const ucport = 52000
	query := []byte("udp query")
	cHosts.ID++
	var ulport uint16
	t.Run("udp_v2", func(t *testing.T) {
		out := r.send(t, cl, harness.UDP(cHosts, ucport, udpPort, query), sv)
		ulport = transportSrcPort(t, out)
		expectFrame(t, "UDP with the PROXY v2 header", out,
			harness.UDP(withID(toRS, cHosts.ID), ulport, udpRPort, append(proxyV2(true, ucport, udpPort), query...)),
			harness.IPv4(lip, rip, layers.IPProtocolUDP))
	})
	if ulport != 0 {
		ans := []byte("udp answer")
		sHosts.ID++
		r.step(t, "udp_reply_untouched", sv, harness.UDP(sHosts, udpRPort, ulport, ans), cl,
			harness.UDP(withID(toClient, sHosts.ID), udpPort, ucport, ans))
		cHosts.ID++
		r.step(t, "udp_v2_again", cl, harness.UDP(cHosts, ucport, udpPort, query), sv,
			harness.UDP(withID(toRS, cHosts.ID), ulport, udpRPort, append(proxyV2(true, ucport, udpPort), query...)))
	}
	var cores []coreCAJSON
	if err := r.g.JSON(&cores, "stats"); err != nil {
		t.Fatal(err)
	}
	var toaN, hdrN uint64
	for _, c := range cores {
		toaN += c.TOAAdded
		hdrN += c.ProxyHeaders
	}
	if toaN != 2 || hdrN != 2 {
		t.Errorf("gw stats: %d TOA options, %d PROXY headers; want 2 and 2", toaN, hdrN)
	}
	r.finish(t)
}

// TestProxyProtocolBadInputPcap: through the real gateway, a client that
// ignores the lowered MSS has its first segment cut to the real server's
// MSS beside the header (the FIN with it), a segment ahead of the first is
// only moved, and a RST before the header was acknowledged keeps the
// client's number.
func TestProxyProtocolBadInputPcap(t *testing.T) {
	const vport, rport = 85, 8085
	r := startRig(t, rigOpts{services: []harness.Service{clientAddrService("tcp", vport, rport, `proxy_protocol = "v1"`)}})
	cl, sv := r.client, r.server
	const cport, cISN, sISN = 43000, 300, 600
	hdr := proxyV1(cport, vport)
	h := uint32(len(hdr))
	cHosts, sHosts, toRS, toClient := r.flowHosts(0x7001, 0x8001)
	seg := func(hs harness.Hosts, sp, dp uint16, seq, ack uint32, fl harness.TCPFlags, data []byte) []byte {
		return harness.TCP(hs, harness.TCPSeg{SrcPort: sp, DstPort: dp, Seq: seq, Ack: ack, Flags: fl, Payload: data})
	}

	var lport uint16
	t.Run("syn", func(t *testing.T) {
		out := r.send(t, cl, harness.TCPSyn(cHosts, cport, vport, cISN), sv)
		lport = transportSrcPort(t, out)
		expectFrame(t, "SYN", out, harness.TCPSyn(withID(toRS, cHosts.ID), lport, rport, cISN))
	})
	if lport == 0 {
		t.Fatal("no local port learnt from the SYN")
	}
	const mss = 536
	r.step(t, "synack", sv, harness.TCP(sHosts, harness.TCPSeg{SrcPort: rport, DstPort: lport, Seq: sISN, Ack: cISN + 1, Flags: harness.SYN | harness.ACK, MSS: mss}), cl,
		harness.TCP(withID(toClient, sHosts.ID), harness.TCPSeg{SrcPort: vport, DstPort: cport, Seq: sISN, Ack: cISN + 1, Flags: harness.SYN | harness.ACK, MSS: uint16(mss - h)}))

	// Ahead of the first segment: moved, no header.
	ahead := pattern(100)
	cHosts.ID++
	r.step(t, "segment_ahead_moved", cl, seg(cHosts, cport, vport, cISN+1+mss, sISN+1, harness.PSH|harness.ACK, ahead), sv,
		seg(withID(toRS, cHosts.ID), lport, rport, cISN+1+mss+h, sISN+1, harness.PSH|harness.ACK, ahead))
	// A first segment of a full MSS, with a FIN: the header and mss - h
	// bytes go, without the FIN.
	first := pattern(mss)
	cHosts.ID++
	r.step(t, "oversize_first_cut", cl, seg(cHosts, cport, vport, cISN+1, sISN+1, harness.FIN|harness.PSH|harness.ACK, first), sv,
		seg(withID(toRS, cHosts.ID), lport, rport, cISN+1, sISN+1, harness.PSH|harness.ACK, append(append([]byte(nil), hdr...), first[:mss-h]...)))
	// A RST before the server acknowledged anything: the client's number.
	cHosts.ID++
	r.step(t, "rst_unmoved", cl, seg(cHosts, cport, vport, cISN+1, sISN+1, harness.RST|harness.ACK, nil), sv,
		seg(withID(toRS, cHosts.ID), lport, rport, cISN+1, sISN+1, harness.RST|harness.ACK, nil))

	var cores []struct {
		ProxyTrimmed uint64 `json:"proxy_trimmed"`
	}
	if err := r.g.JSON(&cores, "stats"); err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, c := range cores {
		n += c.ProxyTrimmed
	}
	if n != 1 {
		t.Errorf("gw stats counts %d trimmed first segments, want 1", n)
	}
	r.finish(t)
}
