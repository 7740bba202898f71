package arp

import (
	"bytes"
	"testing"

	"github.com/google/gopacket/layers"

	"fngw/header"
)

// guarded returns a copy of b inside a larger buffer whose surrounding bytes
// hold a known pattern, with the capacity cut at the end of b, so a handler
// writing outside its slice is caught by checkGuards.
func guarded(b []byte) (buf, frame []byte) {
	buf = bytes.Repeat([]byte{0xa5}, len(b)+64)
	frame = buf[32 : 32+len(b) : 32+len(b)]
	copy(frame, b)
	return buf, frame
}

func checkGuards(t *testing.T, buf []byte, n int) {
	t.Helper()
	for i, c := range buf {
		if (i < 32 || i >= 32+n) && c != 0xa5 {
			t.Fatalf("byte %d outside the frame was written", i-32)
		}
	}
}

func FuzzHandleARP(f *testing.F) {
	f.Add(arpFrame(layers.ARPRequest, peerMAC, header.BroadcastMAC, peerMAC, a4("192.0.2.9"), a4("192.0.2.100"), false))
	f.Add(arpFrame(layers.ARPReply, peerMAC, mac0, peerMAC, a4("192.0.2.254"), a4("192.0.2.1"), true))
	f.Add(arpFrame(layers.ARPRequest, peerMAC, header.BroadcastMAC, peerMAC, a4("0.0.0.0"), a4("192.0.2.1"), false))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, _ := newTestStack(t)
		s.Output(0, 0, a4("192.0.2.254"), 1)
		buf, frame := guarded(b)
		tx := s.HandleARP(1, 0, frame)
		checkGuards(t, buf, len(b))
		s.Tick(2)
		if tx {
			// An answer is a valid ARP reply from our MAC to the requester.
			e := header.Ethernet(frame)
			a := header.ARP(frame[e.HeaderLen():])
			if a.Op() != header.ARPReply || a.SenderMAC() != mac0 || e.Source() != mac0 || e.Destination() != a.TargetMAC() {
				t.Fatalf("bad reply % x", frame)
			}
			if _, _, own := s.Snapshot().Owned(a.SenderIP()); !own {
				t.Fatalf("answered for %v, not ours", a.SenderIP())
			}
		} else if !bytes.Equal(frame, b) {
			t.Fatal("frame modified without an answer")
		}
	})
}

func FuzzHandleICMP(f *testing.F) {
	f.Add(icmpEcho(a4("192.0.2.1"), nil, []byte("abc"), false))
	f.Add(icmpEcho(a4("192.0.2.100"), nil, nil, true))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, _ := newTestStack(t)
		buf, frame := guarded(b)
		tx := s.HandleICMP(0, frame)
		checkGuards(t, buf, len(b))
		if tx {
			e := header.Ethernet(frame)
			ip := header.IPv4(frame[e.HeaderLen():])
			m := header.ICMPv4(ip.Payload())
			if !ip.IsChecksumValid() || !m.IsChecksumValid() || m.Type() != header.ICMPv4EchoReply || ip.TTL() != 64 {
				t.Fatalf("bad echo reply % x", frame)
			}
		} else if !bytes.Equal(frame, b) {
			t.Fatal("frame modified without an answer")
		}
	})
}

func FuzzBuildICMPError(f *testing.F) {
	f.Add(offending(f, layers.IPProtocolUDP, &layers.UDP{SrcPort: 1, DstPort: 2}, []byte("x"), nil), 64)
	f.Add([]byte{0x45, 0, 0, 20}, 10)
	f.Fuzz(func(t *testing.T, orig []byte, size int) {
		size = max(0, min(size, 200))
		buf, out := guarded(make([]byte, size))
		n := BuildICMPError(out, orig, &ICMPError{Type: header.ICMPv4DstUnreachable, Code: header.ICMPv4FragNeeded, MTU: 1400, Src: a4("192.0.2.1")})
		checkGuards(t, buf, size)
		if n == 0 {
			return
		}
		ip := header.IPv4(out[:n])
		if !ip.IsValid(n) || !ip.IsChecksumValid() || !header.ICMPv4(ip.Payload()).IsChecksumValid() {
			t.Fatalf("invalid error datagram % x", out[:n])
		}
	})
}
