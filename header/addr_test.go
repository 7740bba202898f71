package header

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

func TestAddr4RoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for i := 0; i < 5000; i++ {
		a := Addr4FromUint32(r.Uint32())
		s := a.String()
		b, err := ParseAddr4(s)
		if err != nil || b != a {
			t.Fatalf("ParseAddr4(%q) = %v, %v; want %v", s, b, err, a)
		}
		if want := netip.AddrFrom4(a).String(); s != want {
			t.Fatalf("String() = %q, netip says %q", s, want)
		}
		if a.Netip() != netip.AddrFrom4(a) || Addr4From(a.Netip()) != a {
			t.Fatalf("netip conversion of %v does not round-trip", a)
		}
		if Addr4FromUint32(a.Uint32()) != a {
			t.Fatalf("Uint32 of %v does not round-trip", a)
		}
	}
}

func TestParseAddr4(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Addr4
		ok   bool
	}{
		{"0.0.0.0", Addr4{}, true},
		{"198.18.1.100", Addr4{198, 18, 1, 100}, true},
		{"255.255.255.255", Addr4{255, 255, 255, 255}, true},
		{"", Addr4{}, false},
		{"1.2.3", Addr4{}, false},
		{"1.2.3.4.5", Addr4{}, false},
		{"256.1.1.1", Addr4{}, false},
		{"01.2.3.4", Addr4{}, false},
		{"::ffff:1.2.3.4", Addr4{}, false},
		{"2001:db8::1", Addr4{}, false},
		{" 1.2.3.4", Addr4{}, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseAddr4(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Fatalf("ParseAddr4(%q) = %v, %v; want %v ok=%v", tc.in, got, err, tc.want, tc.ok)
			}
		})
	}
}

func TestAddr4FromMapped(t *testing.T) {
	if got := Addr4From(netip.MustParseAddr("::ffff:10.1.2.3")); got != (Addr4{10, 1, 2, 3}) {
		t.Fatalf("Addr4From(4in6) = %v", got)
	}
}

func TestMACRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for i := 0; i < 5000; i++ {
		var m MAC
		for j := range m {
			m[j] = byte(r.Uint32())
		}
		s := m.String()
		got, err := ParseMAC(s)
		if err != nil || got != m {
			t.Fatalf("ParseMAC(%q) = %v, %v; want %v", s, got, err, m)
		}
	}
}

func TestParseMAC(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want MAC
		ok   bool
	}{
		{"00:00:00:00:00:00", MAC{}, true},
		{"aa:bb:cc:dd:ee:ff", MAC{0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}, true},
		{"AA:Bb:0c:D0:e1:F2", MAC{0xaa, 0xbb, 0x0c, 0xd0, 0xe1, 0xf2}, true},
		{"aa:bb:cc:dd:ee", MAC{}, false},
		{"aa-bb-cc-dd-ee-ff", MAC{}, false},
		{"aa:bb:cc:dd:ee:fg", MAC{}, false},
		{"aabb:cc:dd:ee:ff:", MAC{}, false},
		{"", MAC{}, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseMAC(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Fatalf("ParseMAC(%q) = %v, %v; want %v ok=%v", tc.in, got, err, tc.want, tc.ok)
			}
		})
	}
}

func TestMACPredicates(t *testing.T) {
	for _, tc := range []struct {
		m                  MAC
		zero, bcast, mcast bool
	}{
		{MAC{}, true, false, false},
		{BroadcastMAC, false, true, true},
		{MAC{0x01, 0x00, 0x5e, 0, 0, 1}, false, false, true},
		{MAC{0x02, 0, 0, 0, 0, 1}, false, false, false},
	} {
		t.Run(tc.m.String(), func(t *testing.T) {
			if tc.m.IsZero() != tc.zero || tc.m.IsBroadcast() != tc.bcast || tc.m.IsMulticast() != tc.mcast {
				t.Fatalf("IsZero/IsBroadcast/IsMulticast = %v/%v/%v, want %v/%v/%v",
					tc.m.IsZero(), tc.m.IsBroadcast(), tc.m.IsMulticast(), tc.zero, tc.bcast, tc.mcast)
			}
		})
	}
}

func FuzzParseAddr4(f *testing.F) {
	for _, s := range []string{"1.2.3.4", "255.255.255.255", "01.1.1.1", "::ffff:1.1.1.1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAddr4(s)
		if err != nil {
			return
		}
		if a.String() != s {
			t.Fatalf("ParseAddr4(%q) accepted a non-canonical form: String() = %q", s, a.String())
		}
	})
}

func FuzzParseMAC(f *testing.F) {
	for _, s := range []string{"aa:bb:cc:dd:ee:ff", "AA:BB:CC:DD:EE:FF", "aa-bb-cc-dd-ee-ff", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMAC(s)
		if err != nil {
			return
		}
		back, err := ParseMAC(m.String())
		if err != nil || back != m {
			t.Fatalf("ParseMAC(%q) = %v does not round-trip through %q", s, m, m.String())
		}
	})
}
