package nat

import (
	"testing"

	"fngw/header"
)

// fuzzEnv is a two-core FULLNAT gateway with a TCP and a UDP session on core 0.
func fuzzEnv(t testing.TB) (*env, *Session) {
	e := newEnv(t, envOpts{ncores: 2, sessions: 64})
	e.run(0, fromClient(40000, fSYN, 1, 0, "").frame(t))
	e.run(0, pkt{srcMAC: routerMAC, dstMAC: gwMAC0, src: cip, dst: vip, ttl: 64, proto: header.IPProtoUDP,
		sport: 5000, dport: 9000, payload: []byte("q")}.frame(t))
	return e, e.session(0, header.IPProtoTCP, 40000, 80)
}

// FuzzProcess feeds arbitrary frames (and L3 offsets) to Process: it must
// never panic, never write outside the frame, always return a known verdict,
// and never break a valid IPv4 header checksum of a frame it sends.
func FuzzProcess(f *testing.F) {
	_, s := fuzzEnv(f)
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
		f.Add(seed, uint8(header.EthernetLen), uint8(0))
	}
	f.Fuzz(func(t *testing.T, frame []byte, l3 uint8, core uint8) {
		e, _ := fuzzEnv(t)
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
		for i, x := range buf {
			if (i < head || i >= head+len(frame)) && x != 0x5a {
				t.Fatalf("wrote outside the frame at %d", i-head)
			}
		}
		if r.Act >= NumActions || r.Reason >= NumDropReasons || (r.Act == ActRedirect && r.Core > 1) {
			t.Fatalf("verdict %+v", r)
		}
		if r.Act == ActTx && ipOK && !header.IPv4(buf[head+int(l3):]).IsChecksumValid() {
			t.Fatal("sent a frame whose valid IPv4 checksum was broken")
		}
	})
}
