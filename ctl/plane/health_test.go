package plane

import (
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"fngw/check"
	"fngw/ctl"
	"fngw/test/harness"
)

// fakeServers decide the checks' results by target address: down ones
// fail with "connect refused". (The checkers themselves are tested against
// real servers in package check.)
type fakeServers struct {
	mu   sync.Mutex
	down map[netip.Addr]bool
}

func (f *fakeServers) set(addr string, down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down[netip.MustParseAddr(addr)] = down
}

func (f *fakeServers) probe(_ context.Context, t check.Target) check.Result {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := check.Result{OK: true, Reason: "ok", At: time.Now(), Latency: time.Millisecond}
	if f.down[t.Addr.Addr()] {
		r.OK, r.Reason = false, "connect refused"
	}
	return r
}

const checkedFile = baseFile + `
[[service]]
vip = "198.18.1.100:80"
sched = "rr"
laddrs = ["198.18.1.200"]
quorum = 3
sorry_server = "198.18.1.99:8080"
[service.check]
type = "tcp"
interval = "20ms"
timeout = "20ms"
rise = 2
fall = 2
on_failure = "inhibit"
[[service.dest]]
addr = "198.18.1.11:8080"
fwd = "fullnat"
weight = 2
[[service.dest]]
addr = "198.18.1.12:8080"
fwd = "fullnat"
weight = 3
[service.dest.check]
on_failure = "remove"
`

// listed is `gw adm -L -n`'s destination lines: "198.18.1.11:8080 2".
func (r *rig) listed() []string {
	var out []string
	for _, l := range strings.Split(r.run("adm -L -n"), "\n") {
		if f := strings.Fields(l); len(f) >= 4 && f[0] == "->" && f[1] != "RemoteAddress:Port" {
			out = append(out, f[1]+" "+f[3])
		}
	}
	return out
}

func (r *rig) checks() map[string]ctl.CheckStatus {
	var list []ctl.CheckStatus
	if err := json.Unmarshal([]byte(r.run("check show --json")), &list); err != nil {
		r.t.Fatal(err)
	}
	m := make(map[string]ctl.CheckStatus)
	for _, c := range list {
		m[c.Dest.String()] = c
	}
	return m
}

func (r *rig) waitListed(want ...string) {
	r.t.Helper()
	err := harness.Poll(5*time.Second, "ipvsadm -L "+strings.Join(want, ", "), func() error {
		if got := r.listed(); strings.Join(got, ",") != strings.Join(want, ",") {
			return &listError{got}
		}
		return nil
	})
	if err != nil {
		r.t.Fatalf("%v\n%s", err, r.run("check show"))
	}
}

type listError struct{ got []string }

func (e *listError) Error() string { return "listed " + strings.Join(e.got, ", ") }

// TestHealthDrivesWeights: a destination down with inhibit keeps its
// configured weight and lists with weight 0; one down with remove is
// withdrawn; below the quorum the sorry server takes over; both come back
// after rise successes; a reload of an unchanged file keeps every state,
// one that changes a check restarts that check only; the metrics follow.
func TestHealthDrivesWeights(t *testing.T) {
	fs := &fakeServers{down: map[netip.Addr]bool{}}
	r := newProbedRig(t, checkedFile, fs.probe)
	r.waitListed("198.18.1.11:8080 2", "198.18.1.12:8080 3")

	fs.set("198.18.1.11", true)
	r.waitListed("198.18.1.11:8080 0", "198.18.1.12:8080 3")
	c := r.checks()["198.18.1.11:8080"]
	if c.State != ctl.StateDown || c.Reason != "connect refused" || c.Weight != 2 || c.EffectiveWeight != 0 || c.Transitions != 1 ||
		c.OnFailure != ctl.OnFailureInhibit || c.Check != "tcp every 20ms" {
		t.Errorf("check show of the inhibited destination: %+v", c)
	}
	if s := r.run("adm -S -n"); !strings.Contains(s, "-r 198.18.1.11:8080 --fullnat -w 2") {
		t.Errorf("-S does not save the configured weight:\n%s", s)
	}
	// Weight up 3 = quorum 3: the sorry server waits.
	if c := r.checks()["198.18.1.99:8080"]; !c.Sorry || c.State != ctl.StateDisabled {
		t.Errorf("sorry server before the quorum is lost: %+v", c)
	}

	// rs2 down too (remove): withdrawn; weight up 0 < 3: the sorry server.
	fs.set("198.18.1.12", true)
	r.waitListed("198.18.1.11:8080 0", "198.18.1.99:8080 1")
	if c := r.checks()["198.18.1.12:8080"]; c.State != ctl.StateDown || c.OnFailure != ctl.OnFailureRemove {
		t.Errorf("removed destination: %+v", c)
	}
	var weights []int32
	r.p.dp.Control.Do(func() {
		for _, b := range r.p.scheds {
			for _, d := range b.spec.dests {
				weights = append(weights, d.Weight)
			}
		}
	})
	if len(weights) != 2 || weights[0] != 0 || weights[1] != 1 {
		t.Errorf("the scheduler's weights %v, want [0 1] (rs1 inhibited, the sorry server)", weights)
	}

	// An unchanged reload keeps every state.
	before := r.checks()
	r.run("reload")
	after := r.checks()
	for k, b := range before {
		if a := after[k]; a.State != b.State || a.Transitions != b.Transitions || !a.Since.Equal(b.Since) {
			t.Errorf("%s: before reload %+v, after %+v", k, b, a)
		}
	}

	// Back: rs1 up (weight 2 < 3, still the sorry server), then rs2.
	fs.set("198.18.1.11", false)
	r.waitListed("198.18.1.11:8080 0", "198.18.1.99:8080 1")
	fs.set("198.18.1.12", false)
	r.waitListed("198.18.1.11:8080 2", "198.18.1.12:8080 3")
	if c := r.checks()["198.18.1.11:8080"]; c.State != ctl.StateUp || c.Transitions != 2 {
		t.Errorf("after recovery: %+v", c)
	}

	// A reload that changes rs2's check restarts that one only.
	before = r.checks()
	r.write(strings.Replace(checkedFile, `on_failure = "remove"`, "on_failure = \"remove\"\nport = 9090", 1))
	out := r.run("reload")
	if !strings.Contains(out, "~ dest 198.18.1.12:8080 of 198.18.1.100:80/tcp: check tcp every 20ms→tcp :9090 every 20ms") {
		t.Errorf("reload report:\n%s", out)
	}
	after = r.checks()
	if a, b := after["198.18.1.12:8080"], before["198.18.1.12:8080"]; a.Target.Port() != 9090 || a.State != ctl.StateUp || a.Checks >= b.Checks {
		t.Errorf("changed check: before %+v, after %+v", b, a)
	}
	if a, b := after["198.18.1.11:8080"], before["198.18.1.11:8080"]; a.Checks < b.Checks || a.Target != b.Target {
		t.Errorf("unchanged check restarted: before %+v, after %+v", b, a)
	}

	m := r.gather()
	rs1 := map[string]string{"remote_address": "198.18.1.11", "remote_port": "8080"}
	if v := m.value(t, "fngw_dest_effective_weight", rs1); v != 2 {
		t.Errorf("fngw_dest_effective_weight of rs1 %v, want 2", v)
	}
	if v := m.value(t, "fngw_check_transitions_total", rs1); v != 2 {
		t.Errorf("fngw_check_transitions_total of rs1 %v, want 2", v)
	}
	var h *dto.Histogram
	for _, x := range m["fngw_check_duration_seconds"].GetMetric() {
		if labelMap(x)["type"] == "tcp" {
			h = x.Histogram
		}
	}
	if h == nil || h.GetSampleCount() < 10 || h.GetBucket()[0].GetCumulativeCount() != 0 || h.GetBucket()[1].GetCumulativeCount() != h.GetSampleCount() {
		t.Errorf("fngw_check_duration_seconds{type=tcp}: %v (every fake check takes 1ms)", h)
	}
}

// TestHealthAlpha: with alpha, destinations start down (inhibited: weight
// 0) until their checks pass.
func TestHealthAlpha(t *testing.T) {
	fs := &fakeServers{down: map[netip.Addr]bool{netip.MustParseAddr("198.18.1.11"): true}}
	file := strings.Replace(checkedFile, "quorum = 3\nsorry_server = \"198.18.1.99:8080\"", "alpha = true", 1)
	// Slow enough that rs2 cannot pass its two checks before the first
	// listing, however busy the machine.
	file = strings.Replace(file, `interval = "20ms"`, `interval = "1s"`, 1)
	r := newProbedRig(t, file, fs.probe)
	if got := r.listed(); strings.Join(got, ",") != "198.18.1.11:8080 0" {
		t.Errorf("at start with alpha: %v", got)
	}
	r.waitListed("198.18.1.11:8080 0", "198.18.1.12:8080 3")
}
