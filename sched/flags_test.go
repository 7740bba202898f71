package sched

import (
	"strings"
	"testing"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		in   string
		want Flags
		str  string
	}{
		{"", 0, ""},
		{"sh-fallback", SHFallback, "sh-fallback"},
		{"sh-port", SHPort, "sh-port"},
		{"sh-port,sh-fallback", SHFallback | SHPort, "sh-fallback,sh-port"},
		{" sh-fallback , sh-port ", SHFallback | SHPort, "sh-fallback,sh-port"},
		{"mh-fallback,mh-port", MHFallback | MHPort, "mh-fallback,mh-port"},
		{"mh-port,mh-port", MHPort, "mh-port"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseFlags(tt.in)
			if err != nil || got != tt.want {
				t.Fatalf("ParseFlags(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
			if s := got.String(); s != tt.str {
				t.Fatalf("String() = %q, want %q", s, tt.str)
			}
			back, err := ParseFlags(got.String())
			if err != nil || back != got {
				t.Fatalf("round trip %q -> %v, %v", got.String(), back, err)
			}
			var u Flags
			b, err := got.MarshalText()
			if err != nil || u.UnmarshalText(b) != nil || u != got {
				t.Fatalf("text round trip: %q %v -> %v", b, err, u)
			}
		})
	}
}

func TestParseFlagsErrors(t *testing.T) {
	for _, tt := range []struct{ in, bad string }{
		{"sh-fallbak", "sh-fallbak"},
		{"sh-port,", ""},
		{",sh-port", ""},
		{"sh-port,,mh-port", ""},
		{"flag-1", "flag-1"},
		{"SH-PORT", "SH-PORT"},
	} {
		t.Run(tt.in, func(t *testing.T) {
			f, err := ParseFlags(tt.in)
			if err == nil {
				t.Fatalf("ParseFlags(%q) = %v, want an error", tt.in, f)
			}
			for _, part := range []string{`"` + tt.bad + `"`, "sh-fallback, sh-port, mh-fallback, mh-port"} {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q lacks %q", err, part)
				}
			}
		})
	}
}

func TestFlagsUnknownBits(t *testing.T) {
	f := SHPort | 1<<20
	if s := f.String(); s != "sh-port,0x100000" {
		t.Errorf("String() = %q", s)
	}
	if _, err := f.MarshalText(); err == nil {
		t.Error("MarshalText accepted unknown bits")
	}
}

func FuzzParseFlags(f *testing.F) {
	for _, s := range []string{"", "sh-fallback", "sh-port,sh-fallback", " mh-port ", "a,b", ",", "mh-fallback,,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseFlags(s)
		if err != nil {
			if v != 0 {
				t.Fatalf("ParseFlags(%q) failed but returned %v", s, v)
			}
			if !strings.Contains(err.Error(), "accepted:") {
				t.Fatalf("error %q does not list the accepted flags", err)
			}
			return
		}
		if v&^allFlags != 0 {
			t.Fatalf("ParseFlags(%q) = %#x: unknown bits", s, uint32(v))
		}
		back, err := ParseFlags(v.String())
		if err != nil || back != v {
			t.Fatalf("ParseFlags(%q) = %v; String %q parses to %v, %v", s, v, v.String(), back, err)
		}
	})
}
