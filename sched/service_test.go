package sched

import (
	"net/netip"
	"strings"
	"testing"
)

func TestNewServiceErrors(t *testing.T) {
	c := NewConns(2, 100)
	ok := dests(1, 2)
	withWeight := func(w int32) []DestConf { d := dests(1, 2); d[1].Weight = w; return d }
	tests := []struct {
		name   string
		kind   Kind
		flags  Flags
		ds     []DestConf
		conns  *Conns
		ncores int
		opts   []Option
		want   []string
	}{
		{"invalid kind", 0, 0, ok, c, 1, nil, []string{"invalid scheduler", "Kind(0)"}},
		{"flag of another scheduler", MH, SHPort, ok, c, 1, nil, []string{"sh-port", "scheduler mh", "mh-fallback,mh-port"}},
		{"flag for a scheduler without flags", WLC, MHFallback, ok, c, 1, nil, []string{"mh-fallback", "wlc", "none"}},
		{"no conns", WLC, 0, ok, nil, 1, nil, []string{"Conns"}},
		{"too many cores", WLC, 0, ok, c, 3, nil, []string{"3 cores", "1..2"}},
		{"no cores", WLC, 0, ok, c, 0, nil, []string{"0 cores"}},
		{"negative weight", WLC, 0, withWeight(-1), c, 1, nil, []string{"destination 1", "10.0.0.1:80", "weight -1", "0..65535"}},
		{"weight too big", WLC, 0, withWeight(70000), c, 1, nil, []string{"weight 70000"}},
		{"bad last weight", MH, 0, func() []DestConf { d := dests(1); d[0].LastWeight = -3; return d }(), c, 1, nil, []string{"last weight -3"}},
		{"ID out of range", WLC, 0, func() []DestConf { d := dests(1); d[0].ID = 100; return d }(), c, 1, nil, []string{"ID 100", "MaxDests 100"}},
		{"duplicate ID", WLC, 0, func() []DestConf { d := dests(1, 1); d[1].ID = d[0].ID; return d }(), c, 1, nil, []string{"share ID 7"}},
		{"duplicate address", WLC, 0, func() []DestConf { d := dests(1, 1); d[1].Addr = d[0].Addr; return d }(), c, 1, nil, []string{"destination 1", "same address and port as destination 0"}},
		{"no address", WLC, 0, []DestConf{{ID: 4, Weight: 1}}, c, 1, nil, []string{"destination 0 (ID 4) has no address"}},
		{"negative timeout", WLC, 0, ok, c, 1, []Option{WithPersistence(Persistence{Timeout: -1})}, []string{"persistence timeout -1ns"}},
		{"template capacity", WLC, 0, ok, c, 1, []Option{WithPersistence(Persistence{Timeout: 1}), WithTemplateCapacity(0)}, []string{"template capacity 0"}},
		{"locality capacity", LBLC, 0, ok, c, 1, []Option{WithLocality(0, 1)}, []string{"locality capacity 0"}},
		{"locality expiry", LBLCR, 0, ok, c, 1, []Option{WithLocality(10, 0)}, []string{"locality expiry 0s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewService(tt.kind, tt.flags, tt.ds, tt.conns, tt.ncores, tt.opts...)
			if err == nil {
				t.Fatalf("NewService succeeded: %+v", s)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestServiceAccessors(t *testing.T) {
	c := NewConns(1, 64)
	ds := dests(5, 0, 2)
	ds[0].Addr = netip.MustParseAddr("2001:db8::1")
	s := mustService(t, SH, SHPort|SHFallback, ds, c, 1)
	ds[1].Weight = 99 // NewService must have copied
	if s.Kind() != SH || s.Flags() != SHPort|SHFallback || s.Len() != 3 {
		t.Fatalf("Kind, Flags, Len = %v, %v, %d", s.Kind(), s.Flags(), s.Len())
	}
	for i := range 3 {
		if id := s.DestID(i); id != uint32(3*i+7) || s.Dest(i).ID != id || s.Index(id) != i {
			t.Errorf("dest %d: DestID %d, Dest().ID %d, Index %d", i, id, s.Dest(i).ID, s.Index(id))
		}
	}
	if s.Dest(1).Weight != 0 || s.Dest(0).Addr != netip.MustParseAddr("2001:db8::1") {
		t.Errorf("Dest = %v, %v", s.Dest(0), s.Dest(1))
	}
	for _, id := range []uint32{0, 8, 63} {
		if i := s.Index(id); i != -1 {
			t.Errorf("Index(%d) = %d", id, i)
		}
	}
	if s.Persistence() != (Persistence{}) {
		t.Errorf("Persistence() = %+v", s.Persistence())
	}
}

// TestEmptyService: every scheduler returns -1 without destinations, and when none
// has a weight.
func TestEmptyService(t *testing.T) {
	c := NewConns(1, 64)
	for _, k := range allKinds {
		for _, ds := range [][]DestConf{nil, dests(0, 0, 0)} {
			var fl Flags
			switch k {
			case SH:
				fl = SHFallback
			case MH:
				fl = MHFallback
			}
			s := mustService(t, k, fl, ds, c, 1)
			for n := range 50 {
				if i := s.PickAt(0, client(n, uint16(n)), int64(n)); i != -1 {
					t.Fatalf("%s with %d dests: Pick = %d", k, len(ds), i)
				}
			}
		}
	}
}

// TestQuiescentNeverPicked: whatever the scheduler, flags, counts and thresholds,
// a pick is never a destination of weight 0 nor one at its upper threshold.
func TestQuiescentNeverPicked(t *testing.T) {
	r := seeded(t)
	const ncores = 3
	for _, k := range allKinds {
		t.Run(k.String(), func(t *testing.T) {
			for trial := range 100 {
				c := NewConns(ncores, 64)
				n := 1 + r.IntN(10)
				ws := make([]int32, n)
				for i := range ws {
					if r.IntN(3) > 0 {
						ws[i] = r.Int32N(6)
					}
				}
				ds := dests(ws...)
				act := make([]int64, n)
				inact := make([]int64, n)
				for i := range ds {
					if r.IntN(3) == 0 {
						ds[i].UThresh = 1 + r.Uint32N(8)
					}
					ds[i].LastWeight = r.Int32N(4)
					act[i], inact[i] = int64(r.IntN(10)), int64(r.IntN(10))
					setConns(r, c, ds[i].ID, int32(act[i]), int32(inact[i]))
				}
				fl := k.allowedFlags() & Flags(r.Uint32())
				s := mustService(t, k, fl, ds, c, ncores)
				for p := range 30 {
					core := r.IntN(ncores)
					i := s.PickAt(core, client(r.IntN(300), uint16(r.IntN(5))), int64(p))
					if i < 0 {
						continue
					}
					if !refAvail(ds[i], act[i], inact[i]) {
						t.Fatalf("trial %d: picked %d of %v (active %v, inactive %v)", trial, i, ds, act, inact)
					}
				}
			}
		})
	}
}
