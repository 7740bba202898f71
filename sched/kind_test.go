package sched

import (
	"strings"
	"testing"
)

func TestKindRoundTrip(t *testing.T) {
	want := []string{"rr", "wrr", "lc", "wlc", "sed", "nq", "sh", "dh", "lblc", "lblcr", "mh", "fo", "ovf", "twos"}
	if len(want) != len(allKinds) {
		t.Fatalf("test lists %d names for %d kinds", len(want), len(allKinds))
	}
	for i, k := range allKinds {
		t.Run(want[i], func(t *testing.T) {
			if got := k.String(); got != want[i] {
				t.Fatalf("String() = %q, want %q", got, want[i])
			}
			got, err := ParseKind(want[i])
			if err != nil || got != k {
				t.Fatalf("ParseKind(%q) = %v, %v; want %v", want[i], got, err, k)
			}
			b, err := k.MarshalText()
			if err != nil || string(b) != want[i] {
				t.Fatalf("MarshalText() = %q, %v", b, err)
			}
			var u Kind
			if err := u.UnmarshalText(b); err != nil || u != k {
				t.Fatalf("UnmarshalText(%q) = %v, %v", b, u, err)
			}
		})
	}
	if DefaultKind != WLC {
		t.Errorf("DefaultKind = %v, want wlc (ipvsadm's default)", DefaultKind)
	}
}

func TestParseKindErrors(t *testing.T) {
	for _, in := range []string{"", "WLC", "wlc ", "foo", "lblcrr", "r"} {
		t.Run(in, func(t *testing.T) {
			k, err := ParseKind(in)
			if err == nil {
				t.Fatalf("ParseKind(%q) = %v, want an error", in, k)
			}
			msg := err.Error()
			for _, part := range []string{`"` + in + `"`, "rr, wrr, lc, wlc, sed, nq, sh, dh, lblc, lblcr, mh, fo, ovf, twos"} {
				if !strings.Contains(msg, part) {
					t.Errorf("error %q lacks %q", msg, part)
				}
			}
		})
	}
}

func TestKindInvalid(t *testing.T) {
	for _, k := range []Kind{0, TWOS + 1, 255} {
		if k.valid() {
			t.Errorf("%d is valid", k)
		}
		if s := k.String(); !strings.HasPrefix(s, "Kind(") {
			t.Errorf("String() = %q", s)
		}
		if _, err := k.MarshalText(); err == nil {
			t.Errorf("MarshalText(%d) succeeded", k)
		}
	}
	var k Kind
	if err := k.UnmarshalText([]byte("nope")); err == nil || k != 0 {
		t.Errorf("UnmarshalText(nope) = %v, %v", k, err)
	}
}

func FuzzParseKind(f *testing.F) {
	for _, k := range allKinds {
		f.Add(k.String())
	}
	f.Add("")
	f.Add("WRR")
	f.Add("rr\x00")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKind(s)
		if err != nil {
			if k != 0 {
				t.Fatalf("ParseKind(%q) failed but returned %v", s, k)
			}
			if !strings.Contains(err.Error(), "accepted:") {
				t.Fatalf("error %q does not list the accepted names", err)
			}
			return
		}
		if !k.valid() || k.String() != s {
			t.Fatalf("ParseKind(%q) = %v (String %q)", s, k, k.String())
		}
	})
}
