package nat

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/google/gopacket/layers"

	"fngw/header"
)

// The PROXY protocol headers of the test client 203.0.113.7:40000 to the
// VIP 198.18.0.10:80, written out from HAProxy's specification.
var (
	wantV1 = []byte("PROXY TCP4 203.0.113.7 198.18.0.10 40000 80\r\n")
	wantV2 = []byte{
		0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, // signature
		0x21,       // version 2, command PROXY
		0x11,       // AF_INET, SOCK_STREAM
		0x00, 0x0c, // 12 address bytes follow
		203, 0, 113, 7, // source: the client
		198, 18, 0, 10, // destination: the VIP
		0x9c, 0x40, // 40000
		0x00, 0x50, // 80
	}
)

func mssOpt(v uint16) layers.TCPOption {
	return layers.TCPOption{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: binary.BigEndian.AppendUint16(nil, v)}
}

func sackOpt(edges ...uint32) layers.TCPOption {
	var b []byte
	for _, e := range edges {
		b = binary.BigEndian.AppendUint32(b, e)
	}
	return layers.TCPOption{OptionType: layers.TCPOptionKindSACK, OptionLength: uint8(2 + len(b)), OptionData: b}
}

var nop = layers.TCPOption{OptionType: layers.TCPOptionKindNop, OptionLength: 1}

// caConn is a FULLNAT connection of the test client through a
// client-address service, with builders for its packets.
type caConn struct {
	e     *env
	cport uint16
	lip   header.Addr4
	lport uint16
}

// openCA sends the client's SYN (seq 1000, MSS 1460) and checks that it
// reaches the real server as FULLNAT sends it, with the TOA option for TOA.
func openCA(t *testing.T, e *env, cport uint16) *caConn {
	t.Helper()
	syn := fromClient(cport, fSYN, 1000, 0, "")
	syn.opts = []layers.TCPOption{mssOpt(1460)}
	_, out := e.run(0, syn.frame(t))
	s := e.session(0, header.IPProtoTCP, cport, 80)
	c := &caConn{e: e, cport: cport, lip: s.Reply.Dst, lport: s.Reply.DPort}
	want := c.toRS(syn)
	if e.svcs.svcs[0].caddr == TOA {
		want.opts = append(want.opts, c.toaOpt())
	}
	sameFrame(t, out, want.frame(t))
	return c
}

func (c *caConn) fromRS(flags header.TCPFlags, seq, ack uint32, payload string, opts ...layers.TCPOption) pkt {
	return pkt{srcMAC: rsMAC1, dstMAC: gwMAC1, src: rip1, dst: c.lip, ttl: 64, id: 9, proto: header.IPProtoTCP,
		sport: 8080, dport: c.lport, flags: flags, seq: seq, ack: ack, payload: []byte(payload), opts: opts}
}

func (c *caConn) toClient(p pkt) pkt {
	p.srcMAC, p.dstMAC, p.src, p.dst, p.sport, p.dport, p.ttl = gwMAC0, routerMAC, vip, cip, 80, c.cport, p.ttl-1
	return p
}

func (c *caConn) toRS(p pkt) pkt {
	p.srcMAC, p.dstMAC, p.src, p.dst, p.sport, p.dport, p.ttl = gwMAC1, rsMAC1, c.lip, rip1, c.lport, 8080, p.ttl-1
	return p
}

// toaOpt is the TOA option of the connection, DPVS's layout: kind 254,
// length 8, the client's port, the client's address.
func (c *caConn) toaOpt() layers.TCPOption {
	return layers.TCPOption{OptionType: 254, OptionLength: 8, OptionData: append(binary.BigEndian.AppendUint16(nil, c.cport), cip[:]...)}
}

// TestProxyProtocolTCP follows a connection through a PROXY protocol
// service, v1 and v2, packet by packet: every output is built from scratch
// by gopacket with the header bytes written out above, so the match checks
// the header, the moved sequence numbers and every checksum.
func TestProxyProtocolTCP(t *testing.T) {
	for _, v := range []struct {
		ver ClientAddr
		hdr []byte
	}{{ProxyV1, wantV1}, {ProxyV2, wantV2}} {
		t.Run(v.ver.String(), func(t *testing.T) {
			e := newEnv(t, envOpts{caddr: v.ver})
			c := openCA(t, e, 40000)
			h := uint32(len(v.hdr))
			with := func(p pkt, data string) pkt { // p carrying the header before data
				p.payload = append(append([]byte(nil), v.hdr...), data...)
				return p
			}
			moved := func(p pkt) pkt { p.seq += h; return p }
			step := func(name string, in, want pkt, port uint16) {
				t.Helper()
				e.t = t
				e.now += sec
				e.expectTx(0, in.frame(t), want.frame(t), port)
			}
			stats := func() Stats {
				var s Stats
				e.cores[0].AddStats(&s)
				return s
			}

			// The SYN-ACK's MSS is lowered by the header's length; its
			// acknowledgement (the client's first number) stays.
			sa := c.fromRS(fSYN|fACK, 5000, 1001, "", mssOpt(1460), nop, nop, layers.TCPOption{OptionType: layers.TCPOptionKindSACKPermitted, OptionLength: 2})
			want := c.toClient(sa)
			want.opts = []layers.TCPOption{mssOpt(1460 - uint16(h)), nop, nop, sa.opts[3]}
			step("syn-ack", sa, want, 0)

			// The handshake's last ACK carries the header (a
			// server-speaks-first protocol gets it now).
			ack := fromClient(c.cport, fACK, 1001, 5001, "")
			step("ack carries the header", ack, with(c.toRS(ack), ""), 1)

			// Lost on the way: the first request, at the same first
			// number, carries it again before its data.
			req := fromClient(c.cport, fPSH|fACK, 1001, 5001, "GET / HTTP/1.0\r\n\r\n")
			step("first request", req, with(c.toRS(req), "GET / HTTP/1.0\r\n\r\n"), 1)
			// A retransmission of it, still unacknowledged: the same bytes.
			step("retransmitted first request", req, with(c.toRS(req), "GET / HTTP/1.0\r\n\r\n"), 1)
			if s := stats(); s.ProxyHeaders != 3 {
				t.Fatalf("%d headers inserted, want 3", s.ProxyHeaders)
			}

			// The real server acknowledges part of the header: none of
			// the client's bytes.
			part := c.fromRS(fACK, 5001, 1001+h/2, "")
			want = c.toClient(part)
			want.ack = 1001
			step("ack inside the header", part, want, 0)

			// It acknowledges the header and the request: moved back.
			resp := c.fromRS(fPSH|fACK, 5001, 1001+h+18, "HTTP/1.0 200 OK\r\n\r\nhello")
			want = c.toClient(resp)
			want.ack = 1019
			step("response", resp, want, 0)

			// From now on the header is not inserted again: a late copy
			// of the first request is only moved.
			step("late retransmission", req, moved(c.toRS(req)), 1)
			more := fromClient(c.cport, fPSH|fACK, 1019, 5025, "more")
			step("second request", more, moved(c.toRS(more)), 1)

			// SACK blocks (with the acknowledgement) are moved back.
			sk := c.fromRS(fACK, 5025, 1019+h, "", nop, nop, sackOpt(1030+h, 1040+h, 1050+h, 1060+h))
			want = c.toClient(sk)
			want.ack = 1019
			want.opts = []layers.TCPOption{nop, nop, sackOpt(1030, 1040, 1050, 1060)}
			step("sack", sk, want, 0)

			// The FIN exchange.
			fin := fromClient(c.cport, fFIN|fACK, 1023, 5025, "")
			step("client fin", fin, moved(c.toRS(fin)), 1)
			sfin := c.fromRS(fFIN|fACK, 5025, 1024+h, "")
			want = c.toClient(sfin)
			want.ack = 1024
			step("server fin", sfin, want, 0)
			last := fromClient(c.cport, fACK, 1024, 5026, "")
			step("last ack", last, moved(c.toRS(last)), 1)
			if s := e.session(0, header.IPProtoTCP, c.cport, 80); s.State != StateTimeWait {
				t.Fatalf("state %v, want TIME_WAIT", s.State)
			}
			if s := stats(); s.ProxyHeaders != 3 || s.ProxyTrimmed != 0 {
				t.Fatalf("headers %d trimmed %d, want 3 0", s.ProxyHeaders, s.ProxyTrimmed)
			}
		})
	}
}

// TestProxyProtocolBadInput: a first segment larger than the MSS left
// beside the header is cut (its FIN with it) and the client resends the
// rest; segments ahead of the first are moved and carry no header; a RST
// before any data keeps the client's number; a damaged first segment is
// not made valid.
func TestProxyProtocolBadInput(t *testing.T) {
	e := newEnv(t, envOpts{caddr: ProxyV1})
	stats := func() Stats {
		var s Stats
		e.cores[0].AddStats(&s)
		return s
	}
	c := openCA(t, e, 40000)
	h := uint32(len(wantV1))
	sa := c.fromRS(fSYN|fACK, 5000, 1001, "", mssOpt(1000))
	want := c.toClient(sa)
	want.opts = []layers.TCPOption{mssOpt(1000 - uint16(h))}
	e.expectTx(0, sa.frame(t), want.frame(t), 0)

	// Out of order: a later segment first, moved, without the header.
	late := fromClient(c.cport, fPSH|fACK, 1001+900, 5001, strings.Repeat("b", 50))
	want = c.toRS(late)
	want.seq += h
	e.expectTx(0, late.frame(t), want.frame(t), 1)

	// The first segment is 900 bytes, more than 1000 - h beside the
	// header: the header and the first 1000 - h bytes go, without the FIN.
	data := strings.Repeat("a", 900)
	big := fromClient(c.cport, fFIN|fPSH|fACK, 1001, 5001, data)
	big.payload = append([]byte(data), []byte(strings.Repeat("c", 100))...)
	want = c.toRS(big)
	want.flags = fPSH | fACK
	want.payload = append(append([]byte(nil), wantV1...), big.payload[:1000-h]...)
	e.expectTx(0, big.frame(t), want.frame(t), 1)
	if s := stats(); s.ProxyTrimmed != 1 || s.ProxyHeaders != 1 {
		t.Fatalf("trimmed %d headers %d, want 1 1", s.ProxyTrimmed, s.ProxyHeaders)
	}

	// A damaged first segment is dropped as such, not sent with a new
	// checksum.
	bad := fromClient(c.cport, fPSH|fACK, 1001, 5001, "x").frame(t)
	bad[header.EthernetLen+header.IPv4MinLen+header.TCPMinLen] ^= 0xff // the payload byte
	e.expectDrop(0, bad, ReasonBadChecksum)

	// A RST before the real server acknowledged any data keeps the
	// client's first number (what the server expects if it has nothing).
	rst := fromClient(c.cport, fRST|fACK, 1001, 5001, "")
	e.expectTx(0, rst.frame(t), c.toRS(rst).frame(t), 1)
}

// TestTOA: the option in the SYN and in the client's segments until the
// real server sends one after its SYN-ACK, the SYN-ACK's MSS lowered by 8,
// the count of segments without room.
func TestTOA(t *testing.T) {
	e := newEnv(t, envOpts{caddr: TOA})
	stats := func() Stats {
		var s Stats
		e.cores[0].AddStats(&s)
		return s
	}
	c := openCA(t, e, 40000)
	sa := c.fromRS(fSYN|fACK, 5000, 1001, "", mssOpt(1460))
	want := c.toClient(sa)
	want.opts = []layers.TCPOption{mssOpt(1452)}
	e.expectTx(0, sa.frame(t), want.frame(t), 0)

	ack := fromClient(c.cport, fACK, 1001, 5001, "")
	want = c.toRS(ack)
	want.opts = []layers.TCPOption{c.toaOpt()}
	e.expectTx(0, ack.frame(t), want.frame(t), 1)

	// Options already 36 bytes long: no room, forwarded without, counted.
	full := fromClient(c.cport, fPSH|fACK, 1001, 5001, "GET /")
	for range 9 {
		full.opts = append(full.opts, layers.TCPOption{OptionType: layers.TCPOptionKindNop, OptionLength: 1})
	}
	full.opts = append(full.opts, layers.TCPOption{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: make([]byte, 8)},
		layers.TCPOption{OptionType: layers.TCPOptionKindSACKPermitted, OptionLength: 2}, mssOpt(1400), layers.TCPOption{OptionType: 3, OptionLength: 3, OptionData: []byte{7}},
		layers.TCPOption{OptionType: 3, OptionLength: 3, OptionData: []byte{7}}, layers.TCPOption{OptionType: 3, OptionLength: 3, OptionData: []byte{7}})
	e.expectTx(0, full.frame(t), c.toRS(full).frame(t), 1)

	// Data before the server spoke: with the option, payload after it.
	req := fromClient(c.cport, fPSH|fACK, 1001, 5001, "GET / HTTP/1.0\r\n\r\n")
	want = c.toRS(req)
	want.opts = []layers.TCPOption{c.toaOpt()}
	e.expectTx(0, req.frame(t), want.frame(t), 1)

	// The server's answer: no more options after it.
	resp := c.fromRS(fPSH|fACK, 5001, 1019, "HTTP/1.0 200 OK\r\n\r\n")
	e.expectTx(0, resp.frame(t), c.toClient(resp).frame(t), 0)
	more := fromClient(c.cport, fACK, 1019, 5020, "")
	e.expectTx(0, more.frame(t), c.toRS(more).frame(t), 1)
	if s := stats(); s.TOAAdded != 3 || s.TOANoRoom != 1 {
		t.Fatalf("TOA added %d, without room %d; want 3 1", s.TOAAdded, s.TOANoRoom)
	}
}

// TestProxyProtocolUDP: each datagram to the real server starts with a v2
// header (SOCK_DGRAM); the replies are untouched.
func TestProxyProtocolUDP(t *testing.T) {
	e := newEnv(t, envOpts{caddr: ProxyV2})
	in := pkt{srcMAC: routerMAC, dstMAC: gwMAC0, src: cip, dst: vip, ttl: 64, id: 7, proto: header.IPProtoUDP,
		sport: 40000, dport: 9000, payload: []byte("query")}
	for i := range 2 {
		_, out := e.run(0, in.frame(t))
		s := e.session(0, header.IPProtoUDP, 40000, 9000)
		hdr := append([]byte(nil), wantV2...)
		hdr[13] = 0x12 // AF_INET, SOCK_DGRAM
		hdr[26], hdr[27] = 0x23, 0x28
		want := pkt{srcMAC: gwMAC1, dstMAC: rsMAC1, src: s.Reply.Dst, dst: rip1, ttl: 63, id: 7, proto: header.IPProtoUDP,
			sport: s.Reply.DPort, dport: 9001, payload: append(hdr, "query"...)}
		sameFrame(t, out, want.frame(t))
		if i == 0 {
			rep := pkt{srcMAC: rsMAC1, dstMAC: gwMAC1, src: rip1, dst: s.Reply.Dst, ttl: 64, id: 9, proto: header.IPProtoUDP,
				sport: 9001, dport: s.Reply.DPort, payload: []byte("answer")}
			wantRep := rep
			wantRep.srcMAC, wantRep.dstMAC, wantRep.src, wantRep.dst, wantRep.sport, wantRep.dport, wantRep.ttl = gwMAC0, routerMAC, vip, cip, 9000, 40000, 63
			e.expectTx(0, rep.frame(t), wantRep.frame(t), 0)
		}
	}
	var st Stats
	e.cores[0].AddStats(&st)
	if st.ProxyHeaders != 2 {
		t.Fatalf("%d headers, want 2", st.ProxyHeaders)
	}
}

// TestProxyHeader: ProxyHeader writes the specification's bytes, for
// every length of the text form's numbers.
func TestProxyHeader(t *testing.T) {
	if got := ProxyHeader(nil, ProxyV1, header.IPProtoTCP, cip, vip, 40000, 80); string(got) != string(wantV1) {
		t.Errorf("v1 %q, want %q", got, wantV1)
	}
	if got := ProxyHeader(nil, ProxyV2, header.IPProtoTCP, cip, vip, 40000, 80); string(got) != string(wantV2) {
		t.Errorf("v2 % x, want % x", got, wantV2)
	}
	for _, tt := range []struct {
		src, dst     header.Addr4
		sport, dport uint16
		want         string
	}{
		{header.Addr4{0, 0, 0, 0}, header.Addr4{255, 255, 255, 255}, 0, 65535, "PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n"},
		{header.Addr4{1, 22, 133, 9}, header.Addr4{10, 100, 1, 99}, 9, 1234, "PROXY TCP4 1.22.133.9 10.100.1.99 9 1234\r\n"},
	} {
		if got := string(ProxyHeader(nil, ProxyV1, header.IPProtoTCP, tt.src, tt.dst, tt.sport, tt.dport)); got != tt.want {
			t.Errorf("v1 %q, want %q", got, tt.want)
		}
	}
}

// TestProxyProtocolICMP: an ICMP error from the real servers' side about a
// segment the gateway sent with a moved sequence number quotes, once
// translated to the client, the client's own number (and, quoted in full,
// its own segment's checksum).
func TestProxyProtocolICMP(t *testing.T) {
	for _, full := range []bool{false, true} {
		e := newEnv(t, envOpts{caddr: ProxyV2})
		c := openCA(t, e, 40000)
		h := uint32(len(wantV2))
		e.run(0, c.fromRS(fSYN|fACK, 5000, 1001, "", mssOpt(1460)).frame(t))
		e.run(0, fromClient(c.cport, fACK, 1001, 5001, "").frame(t))
		e.run(0, c.fromRS(fACK, 5001, 1001+h, "").frame(t))
		req := fromClient(c.cport, fPSH|fACK, 1001, 5001, "GET /")
		sent := c.toRS(req)
		sent.seq += h
		_, out := e.run(0, req.frame(t))
		sameFrame(t, out, sent.frame(t))

		in := icmpErr{srcMAC: hopMAC, dstMAC: gwMAC1, src: hopIP, dst: c.lip, ttl: 64,
			typ: header.ICMPv4DstUnreachable, code: header.ICMPv4FragNeeded, mtu: 1400, quoted: quote(t, sent, full)}
		want := in
		want.srcMAC, want.dstMAC, want.src, want.dst, want.ttl = gwMAC0, routerMAC, vip, cip, 63
		own := req
		own.ttl = 63
		own.srcMAC, own.dstMAC = header.MAC{}, header.MAC{}
		want.quoted = quote(t, own, full)
		e.expectTx(0, in.frame(t), want.frame(t), 0)
	}
}

// TestProxyProtocolSYNData: data in a client's SYN (TCP Fast Open) would
// reach the real server before the header: the SYN goes without it, and the
// client's retransmission after the handshake carries the header first.
func TestProxyProtocolSYNData(t *testing.T) {
	e := newEnv(t, envOpts{caddr: ProxyV2})
	syn := fromClient(40000, fSYN, 1000, 0, "GET / HTTP/1.0\r\n\r\n")
	_, out := e.run(0, syn.frame(t))
	s := e.session(0, header.IPProtoTCP, 40000, 80)
	c := &caConn{e: e, cport: 40000, lip: s.Reply.Dst, lport: s.Reply.DPort}
	want := c.toRS(syn)
	want.payload = nil
	sameFrame(t, out, want.frame(t))
	e.run(0, c.fromRS(fSYN|fACK, 5000, 1001, "", mssOpt(1460)).frame(t))
	req := fromClient(40000, fPSH|fACK, 1001, 5001, "GET / HTTP/1.0\r\n\r\n")
	want = c.toRS(req)
	want.payload = append(append([]byte(nil), wantV2...), req.payload...)
	e.expectTx(0, req.frame(t), want.frame(t), 1)
}

// TestProxyProtocolSYNInsideConnection: a SYN inside an established
// connection (forged, or a confused client) restarts nothing: the
// connection's segments are translated as before.
func TestProxyProtocolSYNInsideConnection(t *testing.T) {
	e := newEnv(t, envOpts{caddr: ProxyV2})
	c := openCA(t, e, 40000)
	h := uint32(len(wantV2))
	e.run(0, c.fromRS(fSYN|fACK, 5000, 1001, "", mssOpt(1460)).frame(t))
	e.run(0, fromClient(c.cport, fACK, 1001, 5001, "").frame(t))
	e.run(0, c.fromRS(fACK, 5001, 1001+h, "").frame(t))
	if s := e.session(0, header.IPProtoTCP, c.cport, 80); s.State != StateEstablished {
		t.Fatalf("state %v, want ESTABLISHED", s.State)
	}
	syn := fromClient(c.cport, fSYN, 777777, 0, "")
	e.expectTx(0, syn.frame(t), c.toRS(syn).frame(t), 1)
	req := fromClient(c.cport, fPSH|fACK, 1001, 5001, "GET /")
	want := c.toRS(req)
	want.seq += h
	e.expectTx(0, req.frame(t), want.frame(t), 1)
	ack := c.fromRS(fACK, 5001, 1006+h, "")
	want = c.toClient(ack)
	want.ack = 1006
	e.expectTx(0, ack.frame(t), want.frame(t), 0)
}
