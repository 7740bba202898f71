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
		fr := Frame{Buf: buf, Off: head, Len: len(frame), L3: int(l3)}
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
