package sched

import (
	"fmt"
	"strings"
)

// Flags are the scheduler flags of `ipvsadm -b` (--sched-flags). Each flag is valid
// only with the scheduler it names; NewService rejects the others.
type Flags uint32

// The scheduler flags. LVS encodes them as the generic IP_VS_SVC_F_SCHED1/2 bits
// whose meaning depends on the scheduler; here each has its own bit so that a
// Flags value prints the same whatever the scheduler.
const (
	// SHFallback: when the hashed destination is unavailable, sh walks the bucket
	// table to the next available one instead of failing (IP_VS_SVC_F_SCHED_SH_FALLBACK).
	SHFallback Flags = 1 << iota
	// SHPort: sh hashes the client port with the client address (IP_VS_SVC_F_SCHED_SH_PORT).
	SHPort
	// MHFallback: as SHFallback, for mh (IP_VS_SVC_F_SCHED_MH_FALLBACK).
	MHFallback
	// MHPort: as SHPort, for mh (IP_VS_SVC_F_SCHED_MH_PORT).
	MHPort
)

var flagNames = [...]struct {
	f    Flags
	name string
}{
	{SHFallback, "sh-fallback"},
	{SHPort, "sh-port"},
	{MHFallback, "mh-fallback"},
	{MHPort, "mh-port"},
}

const allFlags = SHFallback | SHPort | MHFallback | MHPort

// String returns the flags in ipvsadm syntax, comma separated in a fixed order
// ("sh-fallback,sh-port"); the empty string for none. Unknown bits print as hex.
func (f Flags) String() string {
	var b strings.Builder
	for _, n := range flagNames {
		if f&n.f != 0 {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(n.name)
		}
	}
	if rest := f &^ allFlags; rest != 0 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%#x", uint32(rest))
	}
	return b.String()
}

// ParseFlags parses a comma-separated ipvsadm -b list such as "sh-fallback,sh-port".
// The empty string is no flags. Spaces around a name are ignored, repeats are allowed.
func ParseFlags(s string) (Flags, error) {
	if s == "" {
		return 0, nil
	}
	var f Flags
	for _, part := range strings.Split(s, ",") {
		name := strings.TrimSpace(part)
		v, ok := flagByName(name)
		if !ok {
			return 0, fmt.Errorf("sched: unknown scheduler flag %q in %q (accepted: %s)", name, s, flagList())
		}
		f |= v
	}
	return f, nil
}

func flagByName(name string) (Flags, bool) {
	for _, n := range flagNames {
		if n.name == name {
			return n.f, true
		}
	}
	return 0, false
}

func flagList() string {
	names := make([]string, len(flagNames))
	for i, n := range flagNames {
		names[i] = n.name
	}
	return strings.Join(names, ", ")
}

// MarshalText implements encoding.TextMarshaler.
func (f Flags) MarshalText() ([]byte, error) {
	if f&^allFlags != 0 {
		return nil, fmt.Errorf("sched: cannot marshal unknown scheduler flags %#x", uint32(f&^allFlags))
	}
	return []byte(f.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with ParseFlags.
func (f *Flags) UnmarshalText(b []byte) error {
	v, err := ParseFlags(string(b))
	if err != nil {
		return err
	}
	*f = v
	return nil
}
