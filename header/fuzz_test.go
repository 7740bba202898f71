package header

import "testing"

// FuzzViews feeds arbitrary bytes through every IsValid gate and, where a gate
// holds, every accessor: none may panic, and a valid IPv4 payload is in bounds.
func FuzzViews(f *testing.F) {
	f.Add([]byte{0x45, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2})
	f.Add(make([]byte, 64))
	f.Add([]byte{0x81, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		if e := Ethernet(b); e.IsValid(len(b)) {
			_, _, _ = e.Destination(), e.Source(), e.PayloadType()
			if e.HasVLAN() {
				_ = e.VLANID()
			}
			if e.HeaderLen() > len(b) {
				t.Fatalf("HeaderLen %d beyond %d bytes", e.HeaderLen(), len(b))
			}
		}
		if a := ARP(b); a.IsValid(len(b)) {
			_, _, _, _, _ = a.Op(), a.SenderMAC(), a.SenderIP(), a.TargetMAC(), a.TargetIP()
		}
		if ip := IPv4(b); ip.IsValid(len(b)) {
			_ = ip.IsChecksumValid()
			_ = ip.CalculateChecksum()
			_, _, _ = ip.Options(), ip.SourceAddress(), ip.DestinationAddress()
			p := ip.Payload()
			if len(p) != int(ip.TotalLength())-ip.HeaderLength() {
				t.Fatalf("payload length %d", len(p))
			}
			src, dst := ip.SourceAddress(), ip.DestinationAddress()
			if s := TCP(p); s.IsValid(len(p)) {
				_, _ = s.Options(), s.Payload()
				_ = s.IsChecksumValid(src, dst)
				s.SetSourcePortWithChecksumUpdate(1)
			}
			if d := UDP(p); d.IsValid(len(p)) {
				_ = d.Payload()
				_ = d.IsChecksumValid(src, dst)
				d.UpdateChecksumPseudoHeaderAddress(src, dst)
			}
			if m := ICMPv4(p); m.IsValid(len(p)) {
				_, _, _ = m.Payload(), m.IsChecksumValid(), m.IsError()
				m.SetTypeWithChecksumUpdate(0)
			}
		}
		for _, n := range []int{-1, 0, len(b) + 1} {
			if Ethernet(b).IsValid(n) || ARP(b).IsValid(n) || IPv4(b).IsValid(n) || TCP(b).IsValid(n) ||
				UDP(b).IsValid(n) || ICMPv4(b).IsValid(n) {
				t.Fatalf("a gate accepted pktLen %d for %d bytes", n, len(b))
			}
		}
	})
}
