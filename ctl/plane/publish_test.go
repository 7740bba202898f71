package plane

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"fngw/ctl"
	"fngw/ctl/socket"
	"fngw/lcore"
	"fngw/nat"
	"fngw/sched"
)

// newTestPlane is a Plane with what services() needs and nothing more: one
// core, no workers.
func newTestPlane(t *testing.T) *Plane {
	t.Helper()
	lim := nat.Limits{MaxServices: 16, MaxDests: 64, MaxLocalAddrs: 16}
	conns := sched.NewConns(1, lim.MaxDests)
	core, err := nat.NewCore(nat.Config{Core: 0, NumCores: 1, Sessions: 1024, Limits: lim}, conns, 0)
	if err != nil {
		t.Fatal(err)
	}
	return &Plane{portIDs: map[string]uint16{"dpdk1": 1}, limits: lim,
		dp:     &lcore.Datapath{Conns: conns, Cores: []*nat.Core{core}},
		svcIDs: newIDs[ctl.ServiceKey](lim.MaxServices), destIDs: newIDs[destKey](lim.MaxDests), destOwner: make(map[uint32]uint32),
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
	p := newTestPlane(t)
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

// TestIDQuarantine: a deleted destination's ID is not given to another
// destination while connections count against it; the same destination
// added back gets it again (its connections with it, as LVS revives a
// deleted destination); once idle, the ID is reused, and the new owner's
// counters start from zero.
func TestIDQuarantine(t *testing.T) {
	p := newTestPlane(t)
	p.destIDs.max = 2 // two destination IDs in all
	cfg := ctl.NewConfig()
	admApply(t, cfg,
		"-A -t 198.18.1.100:80 -s wlc",
		"-a -t 198.18.1.100:80 -r 198.18.2.11:80 -m",
		"-a -t 198.18.1.100:80 -r 198.18.2.12:80 -m")
	build := func(c *ctl.Config) error {
		_, scheds, err := p.services(c, p.scheds)
		if err == nil {
			p.scheds = scheds
		}
		return err
	}
	if err := build(cfg); err != nil {
		t.Fatal(err)
	}
	svc := cfg.Services[0].Service.Key()
	old := destKey{svc, ctl.DestKey{Addr: netip.MustParseAddr("198.18.2.11"), Port: 80}}
	oldID := p.destIDs.byKey[old]
	p.dp.Conns.Add(0, oldID, 1, 0) // an established connection to .11

	del := cfg.Clone()
	admApply(t, del, "-d -t 198.18.1.100:80 -r 198.18.2.11:80")
	if err := build(del); err != nil {
		t.Fatal(err)
	}
	other := del.Clone()
	admApply(t, other, "-a -t 198.18.1.100:80 -r 198.18.2.13:80 -m")
	if err := build(other); !errors.Is(err, ctl.ErrFull) || errCode(err) != socket.CodeFull || !strings.Contains(err.Error(), "1 more wait for their connections to end") {
		t.Fatalf("a third destination while .11's connection lives: %v", err)
	}
	if err := build(cfg); err != nil || p.destIDs.byKey[old] != oldID {
		t.Fatalf("re-adding .11: %v, ID %d, want its old %d", err, p.destIDs.byKey[old], oldID)
	}

	if err := build(del); err != nil {
		t.Fatal(err)
	}
	p.dp.Conns.Add(0, oldID, -1, 0) // the connection ends
	if err := build(other); err != nil {
		t.Fatalf("a third destination once .11 is idle: %v", err)
	}
	nk := destKey{svc, ctl.DestKey{Addr: netip.MustParseAddr("198.18.2.13"), Port: 80}}
	if p.destIDs.byKey[nk] != oldID {
		t.Fatalf(".13 has ID %d, want the freed %d", p.destIDs.byKey[nk], oldID)
	}
	if _, ok := p.est.zdest[nk]; !ok {
		t.Error("the reused ID's counters are not counted from zero for .13")
	}
}

// TestLocalityExpiration: lblc_expiration and lblcr_expiration (gw sysctl,
// [session]) reach the lblc and lblcr schedulers, 24 h by default; a change
// rebuilds them (keeping their tables), and leaves other schedulers alone.
func TestLocalityExpiration(t *testing.T) {
	p := newTestPlane(t)
	cfg := ctl.NewConfig()
	admApply(t, cfg,
		"-A -t 198.18.1.100:80 -s lblc", "-a -t 198.18.1.100:80 -r 198.18.2.11:80 --fullnat",
		"-A -t 198.18.1.100:81 -s lblcr", "-a -t 198.18.1.100:81 -r 198.18.2.11:80 --fullnat",
		"-A -t 198.18.1.100:82 -s wlc", "-a -t 198.18.1.100:82 -r 198.18.2.11:80 --fullnat")
	keys := []ctl.ServiceKey{cfg.Services[0].Service.Key(), cfg.Services[1].Service.Key(), cfg.Services[2].Service.Key()}
	_, scheds, err := p.services(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	check := func(lblc, lblcr time.Duration) {
		t.Helper()
		for i, want := range []time.Duration{lblc, lblcr, 0} {
			if got := scheds[keys[i]].svc.LocalityExpire(); got != want {
				t.Errorf("%s: expiry %v, want %v", keys[i], got, want)
			}
		}
	}
	check(24*time.Hour, 24*time.Hour)
	wlc := scheds[keys[2]].svc
	next := cfg.Clone()
	for _, c := range []string{"sysctl lblc_expiration=60", "sysctl -w net.ipv4.vs.lblcr_expiration=3600"} {
		cmd, err := ctl.ParseCommandLine(strings.Fields(c))
		if err != nil {
			t.Fatal(err)
		}
		if err := next.Apply(cmd); err != nil {
			t.Fatal(err)
		}
	}
	if _, scheds, err = p.services(next, scheds); err != nil {
		t.Fatal(err)
	}
	check(time.Minute, time.Hour)
	if scheds[keys[2]].svc != wlc {
		t.Error("the wlc scheduler was rebuilt for an lblc setting")
	}
	for _, bad := range []string{"sysctl lblc_expiration=0", "sysctl lblcr_expiration=x", "sysctl lblc_expiration=2678401"} {
		if _, err := ctl.ParseCommandLine(strings.Fields(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
