package plane

import (
	"net/netip"
	"strings"
	"testing"

	"fngw/ctl"
	"fngw/lcore"
	"fngw/nat"
	"fngw/sched"
)

// newTestPlane is a Plane with what services() needs and nothing more.
func newTestPlane() *Plane {
	lim := nat.Limits{MaxServices: 16, MaxDests: 64, MaxLocalAddrs: 16}
	return &Plane{portIDs: map[string]uint16{"dpdk1": 1}, limits: lim,
		dp:     &lcore.Datapath{Conns: sched.NewConns(1, lim.MaxDests), Cores: make([]*nat.Core, 1)},
		svcIDs: newIDs[ctl.ServiceKey](lim.MaxServices), destIDs: newIDs[destKey](lim.MaxDests),
		lastWeights: make(map[destKey]int32)}
}

// admApply applies ipvsadm command lines to cfg.
func admApply(t *testing.T, cfg *ctl.Config, lines ...string) {
	t.Helper()
	for _, l := range lines {
		cmd, err := ctl.ParseArgs(strings.Fields(l))
		if err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		if err := cfg.Apply(cmd); err != nil {
			t.Fatalf("%s: %v", l, err)
		}
	}
}

// TestServicesKeepUnchangedSchedulers: a configuration change rebuilds the
// scheduler of the services it touches only. A wrr service with weights 3:1
// untouched by changes to another service keeps its cycle (before the fix each
// apply restarted every service's rr/wrr cycle, so with a change between every
// two connections wrr 3:1 sent all of them to the first destination); a change
// to its own destinations builds a new scheduler.
func TestServicesKeepUnchangedSchedulers(t *testing.T) {
	p := newTestPlane()
	cfg := ctl.NewConfig()
	admApply(t, cfg,
		"-A -t 198.18.1.100:80 -s wrr",
		"-a -t 198.18.1.100:80 -r 198.18.2.11:80 --fullnat -w 3",
		"-a -t 198.18.1.100:80 -r 198.18.2.12:80 --fullnat -w 1",
		"-P -t 198.18.1.100:80 -z 198.18.2.100 -F dpdk1")
	wrrKey := cfg.Services[0].Service.Key()
	other := "-A -t 198.18.1.100:81 -s rr"

	_, scheds, err := p.services(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := scheds[wrrKey].svc
	key := sched.Key{Proto: 6, Src: netip.MustParseAddr("198.18.1.2"), Dst: netip.MustParseAddr("198.18.1.100"), DPort: 80}
	var picks []string
	for i := range 8 {
		ss := scheds[wrrKey].svc
		d := ss.Dest(ss.Pick(0, key))
		picks = append(picks, d.Addr.String())
		// Another service comes and goes between every two picks.
		next := cfg.Clone()
		if i%2 == 0 {
			admApply(t, next, other)
		}
		if _, scheds, err = p.services(next, scheds); err != nil {
			t.Fatal(err)
		}
	}
	want := "198.18.2.11 198.18.2.11 198.18.2.11 198.18.2.12 198.18.2.11 198.18.2.11 198.18.2.11 198.18.2.12"
	if got := strings.Join(picks, " "); got != want {
		t.Errorf("wrr 3:1 picks with another service changing in between:\n got %s\nwant %s", got, want)
	}
	if scheds[wrrKey].svc != first {
		t.Error("the wrr service's scheduler was rebuilt although the service did not change")
	}

	// Its own weight changes: a new scheduler with the new weights.
	next := cfg.Clone()
	admApply(t, next, "-e -t 198.18.1.100:80 -r 198.18.2.11:80 --fullnat -w 0")
	if _, scheds, err = p.services(next, scheds); err != nil {
		t.Fatal(err)
	}
	ss := scheds[wrrKey].svc
	if ss == first {
		t.Fatal("the scheduler was kept although a weight changed")
	}
	for range 4 {
		if d := ss.Dest(ss.Pick(0, key)); d.Addr.String() != "198.18.2.12" {
			t.Errorf("198.18.2.11 has weight 0, yet it was picked")
		}
	}
}
