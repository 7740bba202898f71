package header

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// Addr4 is an IPv4 address in network byte order, as it appears on the wire.
// It is the address type of the hot path: comparable, pointer-free, usable as a
// map key and as an array element the GC never scans.
type Addr4 [4]byte

// ParseAddr4 parses a dotted-quad IPv4 address ("198.18.1.100"). Leading zeros,
// IPv6 and IPv4-mapped IPv6 forms are rejected. ParseAddr4(a.String()) == a for
// every Addr4.
func ParseAddr4(s string) (Addr4, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return Addr4{}, fmt.Errorf("invalid IPv4 address %q: %w", s, err)
	}
	if !a.Is4() {
		return Addr4{}, fmt.Errorf("invalid IPv4 address %q: not an IPv4 dotted quad", s)
	}
	return a.As4(), nil
}

// Addr4From converts a netip.Addr holding an IPv4 (or IPv4-mapped IPv6) address.
// Like netip.Addr.As4 it panics on any other address: callers on the control plane
// validate user input before converting.
func Addr4From(a netip.Addr) Addr4 {
	return a.Unmap().As4()
}

// Addr4FromUint32 returns the address whose big-endian value is v.
func Addr4FromUint32(v uint32) Addr4 {
	var a Addr4
	binary.BigEndian.PutUint32(a[:], v)
	return a
}

// Netip returns a as a netip.Addr (an IPv4 address, never 4in6).
func (a Addr4) Netip() netip.Addr { return netip.AddrFrom4(a) }

// Uint32 returns a as a big-endian integer (198.18.1.100 → 0xc6120164), the form
// used for prefix arithmetic.
func (a Addr4) Uint32() uint32 { return binary.BigEndian.Uint32(a[:]) }

// IsZero reports whether a is 0.0.0.0.
func (a Addr4) IsZero() bool { return a == Addr4{} }

// String returns the dotted-quad form, e.g. "198.18.1.100".
func (a Addr4) String() string {
	b := make([]byte, 0, 15)
	for i, o := range a {
		if i > 0 {
			b = append(b, '.')
		}
		b = appendDecimal(b, o)
	}
	return string(b)
}

func appendDecimal(b []byte, o byte) []byte {
	switch {
	case o >= 100:
		b = append(b, '0'+o/100, '0'+o/10%10, '0'+o%10)
	case o >= 10:
		b = append(b, '0'+o/10, '0'+o%10)
	default:
		b = append(b, '0'+o)
	}
	return b
}

// MAC is an IEEE 802 48-bit MAC address as it appears on the wire.
type MAC [6]byte

// BroadcastMAC is ff:ff:ff:ff:ff:ff.
var BroadcastMAC = MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// ParseMAC parses the colon-separated form "aa:bb:cc:dd:ee:ff" (hex digits in
// either case). ParseMAC(m.String()) == m for every MAC.
func ParseMAC(s string) (MAC, error) {
	var m MAC
	if len(s) != 17 {
		return m, fmt.Errorf("invalid MAC address %q: want 6 colon-separated hex bytes like aa:bb:cc:dd:ee:ff", s)
	}
	for i := range m {
		if i > 0 && s[3*i-1] != ':' {
			return MAC{}, fmt.Errorf("invalid MAC address %q: want ':' between bytes", s)
		}
		hi, ok1 := unhex(s[3*i])
		lo, ok2 := unhex(s[3*i+1])
		if !ok1 || !ok2 {
			return MAC{}, fmt.Errorf("invalid MAC address %q: %q is not a hex byte", s, s[3*i:3*i+2])
		}
		m[i] = hi<<4 | lo
	}
	return m, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// String returns the lower-case colon-separated form "aa:bb:cc:dd:ee:ff".
func (m MAC) String() string {
	const digits = "0123456789abcdef"
	var b [17]byte
	for i, o := range m {
		if i > 0 {
			b[3*i-1] = ':'
		}
		b[3*i] = digits[o>>4]
		b[3*i+1] = digits[o&0xf]
	}
	return string(b[:])
}

// IsZero reports whether m is 00:00:00:00:00:00.
func (m MAC) IsZero() bool { return m == MAC{} }

// IsBroadcast reports whether m is ff:ff:ff:ff:ff:ff.
func (m MAC) IsBroadcast() bool { return m == BroadcastMAC }

// IsMulticast reports whether the group bit (I/G, the least significant bit of
// the first octet) is set; broadcast is a multicast address.
func (m MAC) IsMulticast() bool { return m[0]&1 != 0 }
