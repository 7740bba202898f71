package ctl

import (
	"testing"
)

// TestDiffReachesTarget: for random pairs, applying Diff(old, new) to old
// gives new, and Diff(new, new) is empty.
func TestDiffReachesTarget(t *testing.T) {
	for seed := int64(0); seed < 500; seed++ {
		r := newRand(seed)
		old := randConfig(r)
		var target *Config
		if seed%2 == 0 {
			target = mutate(r, old)
		} else {
			target = randConfig(r)
		}
		cmds := Diff(old, target)
		got := old.Clone()
		for i, cmd := range cmds {
			if err := got.Apply(cmd); err != nil {
				t.Fatalf("seed %d: command %d %q: %v", seed, i, cmd, err)
			}
		}
		if !got.Equal(target) {
			t.Fatalf("seed %d: diff did not reach the target:\n%s\n---\n%s", seed, save(t, got), save(t, target))
		}
		// As one batch too, and the original is untouched.
		b := old.Clone()
		if err := b.Apply(Command{Op: OpRestore, Batch: cmds}); err != nil || !b.Equal(target) {
			t.Fatalf("seed %d: batch: %v", seed, err)
		}
		if n := len(Diff(target, target)); n != 0 {
			t.Fatalf("seed %d: Diff(x, x) has %d commands", seed, n)
		}
	}
}

// TestDiffOrder checks the documented order on a hand-made case.
func TestDiffOrder(t *testing.T) {
	old := NewConfig()
	mustApply(t, old,
		"addr add 198.18.1.1/24 dev dpdk0", "route add 0.0.0.0/0 via 198.18.1.254 dev dpdk0",
		"-A -t 198.18.1.100:80 -s rr", "-a -t 198.18.1.100:80 -r 10.0.0.1:80 -m -w 1", "-a -t 198.18.1.100:80 -r 10.0.0.2:80 -m -w 1",
		"-A -t 198.18.1.100:81")
	target := NewConfig()
	mustApply(t, target,
		"addr add 198.18.2.1/24 dev dpdk0", "route add 0.0.0.0/0 via 198.18.2.254 dev dpdk0",
		"-A -t 198.18.1.100:80 -s wrr", "-a -t 198.18.1.100:80 -r 10.0.0.1:80 -m -w 5", "-a -t 198.18.1.100:80 -r 10.0.0.3:80 -m -w 1",
		"-P -t 198.18.1.100:80 -z 198.18.1.10 -F dpdk0",
		"-A -u 198.18.1.100:53", "-a -u 198.18.1.100:53 -r 10.0.0.9:53 --fullnat -w 1", "--set 60 0 0")
	target.Timeouts.TCP = 60
	want := []string{
		"--set 60 120 300",
		"route del 0.0.0.0/0",
		"addr del 198.18.1.1/24 dev dpdk0",
		"addr add 198.18.2.1/24 dev dpdk0",
		"route add 0.0.0.0/0 via 198.18.2.254 dev dpdk0",
		"-D -t 198.18.1.100:81",
		"-E -t 198.18.1.100:80 -s wrr",
		"-d -t 198.18.1.100:80 -r 10.0.0.2:80",
		"-e -t 198.18.1.100:80 -r 10.0.0.1:80 -m -w 5",
		"-a -t 198.18.1.100:80 -r 10.0.0.3:80 -m -w 1",
		"-P -t 198.18.1.100:80 -z 198.18.1.10 -F dpdk0",
		"-A -u 198.18.1.100:53 -s wlc",
		"-a -u 198.18.1.100:53 -r 10.0.0.9:53 --fullnat -w 1",
	}
	got := Diff(old, target)
	if len(got) != len(want) {
		for _, c := range got {
			t.Log(c)
		}
		t.Fatalf("%d commands, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("command %d: %q, want %q", i, got[i], want[i])
		}
	}
}

func mustApply(t *testing.T, c *Config, lines ...string) {
	t.Helper()
	for _, l := range lines {
		var cmd Command
		var err error
		if l[0] == '-' {
			cmd, err = ParseArgs(splitFields(l))
		} else {
			cmd, err = ParseStackArgs(splitFields(l))
		}
		if err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		if err := c.Apply(cmd); err != nil {
			t.Fatalf("%s: %v", l, err)
		}
	}
}
