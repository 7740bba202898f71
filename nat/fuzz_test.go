package nat

import (
	"testing"

	"fngw/header"
)

// fuzzEnv is a two-core gateway in mode m with a TCP and a UDP session on
// core 0 (NAT's may be redirected to core 1 instead).
func fuzzEnv(t testing.TB, m Mode) (*env, *Session) {
	e := newEnv(t, envOpts{ncores: 2, sessions: 64, mode: m})
	if m == ModeNAT {
		return e, nil
	}
	e.run(0, fromClient(40000, fSYN, 1, 0, "").frame(t))
	e.run(0, pkt{srcMAC: routerMAC, dstMAC: gwMAC0, src: cip, dst: vip, ttl: 64, proto: header.IPProtoUDP,
		sport: 5000, dport: 9000, payload: []byte("q")}.frame(t))
	return e, e.session(0, header.IPProtoTCP, 40000, 80)
}

// FuzzProcess feeds arbitrary frames (and L3 offsets) to Process in every
// forwarding mode: it must never panic, never write outside the frame (which
// TUN may move within its buffer: encapsulation, ICMP errors built in the
// headroom), always return a known verdict, and never break a valid IPv4
// header checksum of a frame it sends (for TUN, the outer header's is valid
// too).
func FuzzProcess(f *testing.F) {
	_, s := fuzzEnv(f, ModeFullNAT)
	lip, lport := s.Reply.Dst, s.Reply.DPort
	reply := pkt{srcMAC: rsMAC1, dstMAC: gwMAC1, src: rip1, dst: lip, ttl: 64, proto: header.IPProtoTCP,
		sport: 8080, dport: lport, flags: fSYN | fACK, payload: []byte("hi")}
	sent := pkt{src: lip, dst: rip1, ttl: 63, proto: header.IPProtoTCP, sport: lport, dport: 8080, flags: fSYN}
	for _, seed := range [][]byte{
		fromClient(40000, fSYN, 1, 0, "").frame(f),
		fromClient(40000, fACK|fPSH, 2, 1, "data").frame(f),
		fromClient(40001, fSYN, 1, 0, "").frame(f),
		reply.frame(f),
		pkt{srcMAC: routerMAC, dstMAC: gwMAC0, src: cip, dst: vip, ttl: 64, proto: header.IPProtoUDP, sport: 5000, dport: 9000, payload: []byte("q")}.frame(f),
		icmpErr{srcMAC: hopMAC, dstMAC: gwMAC1, src: hopIP, dst: lip, ttl: 64, typ: 3, code: 4, mtu: 1400, quoted: sent.l3(f)}.frame(f),
		icmpErr{srcMAC: hopMAC, dstMAC: gwMAC1, src: hopIP, dst: lip, ttl: 64, typ: 3, code: 4, mtu: 1400, quoted: sent.l3(f)[:28]}.frame(f),
		icmpErr{srcMAC: routerMAC, dstMAC: gwMAC0, src: routerIP, dst: vip, ttl: 64, typ: 11,
			quoted: pkt{src: vip, dst: cip, ttl: 63, proto: header.IPProtoTCP, sport: 80, dport: 40000, flags: fACK}.l3(f)[:28]}.frame(f),
		{},
	} {
		for m := range numModes {
			f.Add(seed, uint8(header.EthernetLen), uint8(0), uint8(m))
		}
	}
	f.Add(fromClient(40000, fACK|fPSH, 2, 1, string(make([]byte, 1500))).frame(f), uint8(header.EthernetLen), uint8(0), uint8(ModeTUN))
	f.Fuzz(func(t *testing.T, frame []byte, l3 uint8, core uint8, mode uint8) {
		m := Mode(mode % uint8(numModes))
		e, _ := fuzzEnv(t, m)
		const head, tail = 64, 64
		buf := make([]byte, head+len(frame)+tail)
		for i := range buf {
			buf[i] = 0x5a
		}
		copy(buf[head:], frame)
		fr := Frame{Buf: buf, Off: head, Len: len(frame), L3: int(l3), Port: rxPort(frame)}
		ipOK := int(l3)+header.IPv4MinLen <= len(frame) && int(l3) >= header.EthernetLen &&
			header.IPv4(frame[l3:]).IsValid(len(frame)-int(l3)) && header.IPv4(frame[l3:]).IsChecksumValid()
		r := e.cores[int(core)%2].Process(&fr, e.svcs, e.stack, e.now)
		// Other modes only trim a trailer off the end, or replace the
		// frame with an ICMP error built in front of its quote, which
		// ends where the frame did at the latest (icmperr.go).
		icmpErr := (r.Act == ActTx || r.Act == ActControl) && fr.Off < head && fr.Off+fr.Len <= head+len(frame)
		if fr.Off < 0 || fr.Len < 0 || fr.Off+fr.Len > len(buf) || (m != ModeTUN && !icmpErr && (fr.Off != head || fr.Len > len(frame))) {
			t.Fatalf("%v: frame moved to %d+%d in a %d-byte buffer", m, fr.Off, fr.Len, len(buf))
		}
		lo, hi := min(head, fr.Off), max(head+len(frame), fr.Off+fr.Len)
		for i, x := range buf {
			if (i < lo || i >= hi) && x != 0x5a {
				t.Fatalf("%v: wrote outside the frame at %d", m, i-head)
			}
		}
		if r.Act >= NumActions || r.Reason >= NumDropReasons || (r.Act == ActRedirect && r.Core() > 1) {
			t.Fatalf("verdict %+v", r)
		}
		if r.Act == ActTx && ipOK {
			out := header.IPv4(buf[fr.Off+int(l3) : fr.Off+fr.Len])
			if !out.IsValid(len(out)) || !out.IsChecksumValid() {
				t.Fatalf("%v: sent a frame whose IPv4 header is broken: %x", m, buf[fr.Off:fr.Off+fr.Len])
			}
			if in := header.IPv4(out.Payload()); out.Protocol() == header.IPProtoIPIP && !in.IsChecksumValid() {
				t.Fatalf("%v: the encapsulated header's checksum is broken", m)
			}
		}
	})
}

// FuzzProcessBurst runs a burst decoded from the input through ProcessBurst
// on one gateway and through Process frame by frame on an identical one, in
// every mode: every verdict, every output byte, the sessions and the
// counters must agree (burstLikeProcess, sameState). The look-ahead's
// candidates and the deferred new flows (deferred.go) must never show. The
// input is a list of records, each a kind byte and three argument bytes: a
// client's TCP segment (the flags from the arguments), a client's UDP
// datagram, a real server's reply to one of the first local ports (or, for
// NAT, to the client), an ICMP error quoting a client's connection, or raw
// bytes; a record may flip one byte of its frame.
func FuzzProcessBurst(f *testing.F) {
	f.Add([]byte{0, 1, 2, 0, 2, 1, 0, 0, 0, 1, 16, 0, 3, 1, 0, 0, 0, 2, 4, 0, 0, 2, 2, 0}, uint8(ModeFullNAT))
	f.Add([]byte{0, 3, 2, 0, 1, 3, 0, 0, 2, 0, 0, 0, 0, 3, 16, 0, 4, 3, 0, 0}, uint8(ModeNAT))
	f.Add([]byte{0, 5, 2, 0, 0, 5, 16, 0, 0, 5, 1, 9, 5, 20, 7, 3}, uint8(ModeFullNAT))
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		m := Mode(mode % uint8(numModes))
		one, _ := fuzzEnv(t, m)
		burst, _ := fuzzEnv(t, m)
		var frames [][]byte
		for len(data) >= 4 && len(frames) < hintChunk {
			kind, a, b, flip := data[0], data[1], data[2], data[3]
			data = data[4:]
			cport := 40000 + uint16(a%8)
			var fr []byte
			switch kind % 6 {
			case 0:
				flags := []header.TCPFlags{fSYN, fACK, fACK | fPSH, fFIN | fACK, fRST, fRST | fACK, fSYN | fACK, fSYN | fFIN}[b%8]
				fr = fromClient(cport, flags, 1000, 1, "t").frame(t)
			case 1:
				fr = pkt{srcMAC: routerMAC, dstMAC: gwMAC0, src: cip, dst: vip, ttl: 64, proto: header.IPProtoUDP,
					sport: cport, dport: 9000, payload: []byte("u")}.frame(t)
			case 2, 3:
				rs, dst, dport := []header.Addr4{rip1, rip2}[b%2], []header.Addr4{laddr1, laddr2}[b/2%2], 1024+uint16(a%24)
				if m == ModeNAT {
					dst, dport = cip, cport
				}
				proto, sport := uint8(header.IPProtoTCP), uint16(8080)
				if kind%6 == 3 {
					proto, sport = header.IPProtoUDP, 9001
				}
				fr = pkt{srcMAC: rsMAC1, dstMAC: gwMAC1, src: rs, dst: dst, ttl: 64, proto: proto,
					sport: sport, dport: dport, flags: fSYN | fACK, payload: []byte("r")}.frame(t)
			case 4:
				q := pkt{src: vip, dst: cip, ttl: 60, proto: header.IPProtoTCP, sport: 80, dport: cport, flags: fACK}.l3(t)[:28]
				fr = icmpErr{srcMAC: routerMAC, dstMAC: gwMAC0, src: routerIP, dst: vip, ttl: 64,
					typ: header.ICMPv4DstUnreachable, code: header.ICMPv4FragNeeded, mtu: 1400, quoted: q}.frame(t)
			default:
				n := min(int(a), len(data))
				fr, data = append([]byte(nil), data[:n]...), data[n:]
			}
			if flip != 0 && len(fr) > 0 {
				fr[int(b)%len(fr)] ^= flip
			}
			frames = append(frames, fr)
		}
		// Twice: the second burst meets the sessions the first made.
		for range 2 {
			burstLikeProcess(t, one, burst, int(mode>>7), frames)
		}
		sameState(t, one, burst)
	})
}

// FuzzClientAddr sends arbitrary TCP segments (flags, sequence and
// acknowledgement numbers, options, payload, a flipped byte) from either
// side through an established connection of a PROXY protocol (v1, v2) or
// TOA service, with a tail of 0 to 255 bytes after the frame: the datapath
// must never panic, never write outside the buffer, keep the frame in it,
// return a known verdict, and send only frames whose IPv4 and TCP
// checksums verify when the input's did.
func FuzzClientAddr(f *testing.F) {
	f.Add(uint8(0), uint8(16), uint32(1001), uint32(5001), []byte{}, []byte("GET /"), uint8(64), uint16(0))
	f.Add(uint8(1), uint8(16|2), uint32(5000), uint32(1001), []byte{2, 4, 5, 180, 1, 1, 4, 2}, []byte{}, uint8(8), uint16(0))
	f.Add(uint8(2), uint8(16), uint32(1001), uint32(5001), []byte{1, 1, 5, 10, 0, 0, 3, 233, 0, 0, 3, 243}, []byte("x"), uint8(0), uint16(3))
	f.Add(uint8(4), uint8(16|1), uint32(5001), uint32(1100), []byte{5, 18, 0, 0, 4, 0, 0, 0, 5, 0, 0, 0, 6, 0, 0, 0, 7, 0}, []byte{}, uint8(200), uint16(0))
	f.Fuzz(func(t *testing.T, sel, flags uint8, seq, ack uint32, opts, payload []byte, tail uint8, flip uint16) {
		ca := []ClientAddr{ProxyV1, ProxyV2, TOA}[sel%3]
		e := newEnv(t, envOpts{caddr: ca})
		c := openCA(t, e, 40000)
		e.run(0, c.fromRS(fSYN|fACK, 5000, 1001, "", mssOpt(1460)).frame(t))
		e.run(0, fromClient(c.cport, fACK, 1001, 5001, "").frame(t))
		if len(opts) > 40 {
			opts = opts[:40]
		}
		var p pkt
		if sel&4 == 0 {
			p = fromClient(c.cport, header.TCPFlags(flags), seq, ack, string(payload))
		} else {
			p = c.fromRS(header.TCPFlags(flags), seq, ack, string(payload))
		}
		frame := p.frame(t)
		// Raw options after the fixed header, padded to 4 bytes.
		o := append([]byte(nil), opts...)
		for len(o)%4 != 0 {
			o = append(o, 0)
		}
		l4 := header.EthernetLen + header.IPv4MinLen
		frame = append(frame[:l4+header.TCPMinLen:l4+header.TCPMinLen], append(o, frame[l4+header.TCPMinLen:]...)...)
		ip := header.IPv4(frame[header.EthernetLen:])
		n := header.IPv4MinLen + header.TCPMinLen + len(o) + len(payload)
		if n > len(ip) {
			t.Skip()
		}
		frame = frame[:header.EthernetLen+n]
		ip = header.IPv4(frame[header.EthernetLen:])
		ip.SetTotalLength(uint16(n))
		ip.SetChecksum(0)
		ip.SetChecksum(ip.CalculateChecksum())
		tcp := header.TCP(ip[header.IPv4MinLen:])
		tcp.SetDataOffset(header.TCPMinLen + len(o))
		tcp.SetChecksum(tcp.CalculateChecksum(ip.SourceAddress(), ip.DestinationAddress()))
		if flip != 0 && int(flip>>8) < len(frame) {
			frame[int(flip>>8)] ^= byte(flip)
		}
		inOK := header.IPv4(frame[header.EthernetLen:]).IsValid(len(frame)-header.EthernetLen) &&
			header.IPv4(frame[header.EthernetLen:]).IsChecksumValid() && tcpValid(frame)

		const head = 64
		buf := make([]byte, head+len(frame)+int(tail))
		for i := range buf {
			buf[i] = 0x5a
		}
		copy(buf[head:], frame)
		fr := Frame{Buf: buf[:head+len(frame)+int(tail)/2], Off: head, Len: len(frame), L3: header.EthernetLen, Port: rxPort(frame)}
		r := e.cores[0].Process(&fr, e.svcs, e.stack, e.now)
		if fr.Off != head || fr.Len < 0 || fr.Off+fr.Len > len(fr.Buf) {
			t.Fatalf("frame moved to %d+%d in a %d-byte buffer", fr.Off, fr.Len, len(fr.Buf))
		}
		for i := len(fr.Buf); i < len(buf); i++ {
			if buf[i] != 0x5a {
				t.Fatalf("wrote past the frame's buffer at %d", i-head)
			}
		}
		for i := range head {
			if buf[i] != 0x5a {
				t.Fatalf("wrote before the frame at %d", i-head)
			}
		}
		if r.Act >= NumActions || r.Reason >= NumDropReasons {
			t.Fatalf("verdict %+v", r)
		}
		if r.Act == ActTx && inOK {
			out := buf[fr.Off : fr.Off+fr.Len]
			oip := header.IPv4(out[header.EthernetLen:])
			if !oip.IsValid(len(oip)) || !oip.IsChecksumValid() || !tcpValid(out) {
				t.Fatalf("%v: sent a frame with a broken checksum: %x", ca, out)
			}
		}
	})
}

// tcpValid reports whether the frame's TCP segment has a valid header and
// checksum.
func tcpValid(frame []byte) bool {
	ip := header.IPv4(frame[header.EthernetLen:])
	if !ip.IsValid(len(ip)) || ip.Protocol() != header.IPProtoTCP {
		return false
	}
	seg := header.TCP(ip[ip.HeaderLength():ip.TotalLength()])
	return seg.IsValid(len(seg)) && seg.IsChecksumValid(ip.SourceAddress(), ip.DestinationAddress())
}
