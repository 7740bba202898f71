package ctl

import (
	"testing"

	"fngw/sched"
)

// The model validates scheduler names and flags with its own lists (they also
// drive the usage text); the sched package implements them. The two must agree.
func TestSchedulerListsMatchSched(t *testing.T) {
	for _, name := range Schedulers {
		k, err := sched.ParseKind(name)
		if err != nil || k.String() != name {
			t.Errorf("ctl accepts scheduler %q, sched says %v, %v", name, k, err)
		}
	}
	for k := sched.RR; k <= sched.TWOS; k++ {
		if CheckSched(k.String()) != nil {
			t.Errorf("sched implements %q, ctl refuses it", k)
		}
	}
	for _, f := range SchedFlags {
		if _, err := sched.ParseFlags(f.Name); err != nil {
			t.Errorf("ctl accepts flag %q, sched refuses it: %v", f.Name, err)
		}
		kind, _ := sched.ParseKind(f.Sched)
		if _, err := sched.NewService(kind, mustFlags(t, f.Name), nil, sched.NewConns(1, 1), 1); err != nil {
			t.Errorf("flag %q with scheduler %s: %v", f.Name, f.Sched, err)
		}
	}
}

func mustFlags(t *testing.T, s string) sched.Flags {
	f, err := sched.ParseFlags(s)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
