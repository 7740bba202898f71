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

// Diff returns the commands that turn old into new (tests build
// command sequences with it), in an order that
// applies cleanly with Config.Apply (and through the same API as the CLI, as
// gobgp reloads its config):
//
//  1. --set when the timeouts differ;
//  2. stack deletions: routes, neighbours, then addresses;
//  3. stack additions: addresses, routes (their gateways need the
//     addresses), neighbours;
//  4. deleted services;
//  5. per kept service: edit-service if its attributes changed, then
//     deleted, edited and added destinations, deleted and added local
//     addresses;
//  6. new services, each followed by its destinations and local addresses.
//
// Objects are matched by identity (service key, destination address and
// port, local address, route prefix, neighbour port and address, interface
// address); a changed route, neighbour, interface address or local address
// is deleted and added again, a changed service or destination is edited.
// Applying Diff(old, new) to old yields a Config Equal to new.
func Diff(old, new *Config) []Command {
	var cmds []Command
	if old.Timeouts != new.Timeouts {
		t := new.Timeouts
		cmds = append(cmds, Command{Op: OpSetTimeouts, Timeouts: &t})
	}

	for _, r := range old.Routes {
		if !containsEq(new.Routes, r, sameRoute) {
			cmds = append(cmds, Command{Op: OpDelRoute, Route: &Route{Prefix: r.Prefix, Via: r.Via, Port: r.Port}})
		}
	}
	for _, n := range old.Neighs {
		if !containsEq(new.Neighs, n, sameNeigh) {
			cmds = append(cmds, Command{Op: OpDelNeigh, Neigh: &Neigh{Addr: n.Addr, MAC: n.MAC, Port: n.Port}})
		}
	}
	for _, a := range old.Addrs {
		if !containsEq(new.Addrs, a, sameAddr) {
			cmds = append(cmds, Command{Op: OpDelAddr, Addr: &Addr{Prefix: a.Prefix, Port: a.Port}})
		}
	}
	for _, a := range new.Addrs {
		if !containsEq(old.Addrs, a, sameAddr) {
			cmds = append(cmds, Command{Op: OpAddAddr, Addr: &Addr{Prefix: a.Prefix, Port: a.Port}})
		}
	}
	for _, r := range new.Routes {
		if !containsEq(old.Routes, r, sameRoute) {
			cmds = append(cmds, Command{Op: OpAddRoute, Route: &Route{Prefix: r.Prefix, Via: r.Via, Port: r.Port}})
		}
	}
	for _, n := range new.Neighs {
		if !containsEq(old.Neighs, n, sameNeigh) {
			cmds = append(cmds, Command{Op: OpAddNeigh, Neigh: &Neigh{Addr: n.Addr, MAC: n.MAC, Port: n.Port}})
		}
	}

	for _, vs := range old.Services {
		if _, ok := new.Lookup(vs.Service.Key()); !ok {
			cmds = append(cmds, Command{Op: OpDelService, Service: keyService(vs.Service)})
		}
	}
	for _, nvs := range new.Services {
		key := keyService(nvs.Service)
		ovs, ok := old.Lookup(nvs.Service.Key())
		if !ok {
			s := cloneService(nvs.Service)
			cmds = append(cmds, Command{Op: OpAddService, Service: &s})
			for _, d := range nvs.Dests {
				cmds = append(cmds, Command{Op: OpAddDest, Service: key, Dest: &d})
			}
			for _, l := range nvs.Laddrs {
				cmds = append(cmds, Command{Op: OpAddLaddr, Service: key, Laddr: &l})
			}
			continue
		}
		if !ovs.Service.Equal(nvs.Service) {
			s := cloneService(nvs.Service)
			cmds = append(cmds, Command{Op: OpEditService, Service: &s})
		}
		for _, d := range ovs.Dests {
			if !containsEq(nvs.Dests, d, func(a, b Dest) bool { return a.Key() == b.Key() }) {
				cmds = append(cmds, Command{Op: OpDelDest, Service: key, Dest: &Dest{Addr: d.Addr, Port: d.Port}})
			}
		}
		for _, d := range nvs.Dests {
			var od *Dest
			for i := range ovs.Dests {
				if ovs.Dests[i].Key() == d.Key() {
					od = &ovs.Dests[i]
				}
			}
			switch {
			case od == nil:
				cmds = append(cmds, Command{Op: OpAddDest, Service: key, Dest: &d})
			case *od != d:
				cmds = append(cmds, Command{Op: OpEditDest, Service: key, Dest: &d})
			}
		}
		for _, l := range ovs.Laddrs {
			if !containsEq(nvs.Laddrs, l, func(a, b LocalAddr) bool { return a == b }) {
				cmds = append(cmds, Command{Op: OpDelLaddr, Service: key, Laddr: &LocalAddr{Addr: l.Addr, Port: l.Port}})
			}
		}
		for _, l := range nvs.Laddrs {
			if !containsEq(ovs.Laddrs, l, func(a, b LocalAddr) bool { return a == b }) {
				cmds = append(cmds, Command{Op: OpAddLaddr, Service: key, Laddr: &l})
			}
		}
	}
	return cmds
}

func containsEq[T any](s []T, v T, eq func(a, b T) bool) bool {
	for _, x := range s {
		if eq(x, v) {
			return true
		}
	}
	return false
}

func sameRoute(a, b Route) bool { return a == b }
func sameNeigh(a, b Neigh) bool { return a == b }
func sameAddr(a, b Addr) bool   { return a == b }

func keyService(s Service) *Service {
	return &Service{Proto: s.Proto, VIP: s.VIP, Port: s.Port, FwMark: s.FwMark}
}

func cloneService(s Service) Service {
	s.Flags = append([]string(nil), s.Flags...)
	if len(s.Flags) == 0 {
		s.Flags = nil
	}
	return s
}
