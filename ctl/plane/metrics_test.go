package plane

import (
	"fmt"
	"os"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"fngw/ctl"
	"fngw/ctl/socket"
	"fngw/lcore"
	"fngw/nat"
	"fngw/test/harness"
)

// scrape is one gathering of the plane's metrics, as Prometheus receives
// them, by family name.
type scrape map[string]*dto.MetricFamily

// gather registers a fresh collector of the plane (no cached figures) and
// gathers it once.
func (r *rig) gather() scrape {
	r.t.Helper()
	reg := prometheus.NewRegistry()
	if err := reg.Register(r.p.Collector()); err != nil {
		r.t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		r.t.Fatal(err)
	}
	s := scrape{}
	for _, mf := range mfs {
		s[mf.GetName()] = mf
	}
	return s
}

func labelMap(m *dto.Metric) map[string]string {
	l := map[string]string{}
	for _, p := range m.GetLabel() {
		l[p.GetName()] = p.GetValue()
	}
	return l
}

// value is the value of the series of family name whose labels include
// want, failing the test when there is not exactly one.
func (s scrape) value(t *testing.T, name string, want map[string]string) float64 {
	t.Helper()
	var found []float64
	for _, m := range s[name].GetMetric() {
		l := labelMap(m)
		match := true
		for k, v := range want {
			match = match && l[k] == v
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			found = append(found, m.Counter.GetValue())
		default:
			found = append(found, m.Gauge.GetValue())
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s%v: %d series, want 1", name, want, len(found))
	}
	return found[0]
}

var (
	svcL  = []string{"local_address", "local_mark", "local_port", "proto"}
	destL = []string{"local_address", "local_mark", "local_port", "proto", "remote_address", "remote_port"}
)

// TestMetricsForOperators: what an operator alerts on is there, with the
// type and the labels Prometheus and node_exporter's IPVS dashboards expect
// (services and real servers by address, port and protocol in labels of
// their own), counting what happened, and promtool's linter (the checks of
// `promtool check metrics`) finds nothing to say.
func TestMetricsForOperators(t *testing.T) {
	before := time.Now()
	r := newRig(t, baseFile)
	after := time.Now()
	r.runAll(fullnat + "|adm -a -t 198.18.1.100:80 -r 198.18.1.12:8080 --fullnat -w 0")
	r.syn(40000)
	s := r.gather()

	gauge, counter, histogram := dto.MetricType_GAUGE, dto.MetricType_COUNTER, dto.MetricType_HISTOGRAM
	for _, f := range []struct {
		name   string
		typ    dto.MetricType
		labels []string
	}{
		{"fngw_build_info", gauge, []string{"goversion", "revision", "version"}},
		{"fngw_start_time_seconds", gauge, nil},
		{"fngw_config_last_reload_successful", gauge, nil},
		{"fngw_config_last_reload_success_timestamp_seconds", gauge, nil},
		{"fngw_port_up", gauge, []string{"port"}},
		{"fngw_port_rx_packets_total", counter, []string{"port"}},
		{"fngw_port_rx_missed_total", counter, []string{"port"}},
		{"fngw_mbufs_in_use", gauge, nil},
		{"fngw_mbufs_capacity", gauge, nil},
		{"fngw_core_busy_seconds_total", counter, []string{"core"}},
		{"fngw_core_poll_seconds_total", counter, []string{"core"}},
		{"fngw_core_poll_gap_seconds", histogram, []string{"core"}},
		{"fngw_core_poll_gap_max_seconds", gauge, []string{"core"}},
		{"fngw_go_pause_seconds", histogram, []string{"cause", "pause"}},
		{"fngw_go_sched_latency_seconds", histogram, nil},
		{"fngw_core_drops_total", counter, []string{"core", "reason"}},
		{"fngw_core_sessions", gauge, []string{"core"}},
		{"fngw_core_session_capacity", gauge, []string{"core"}},
		{"fngw_core_sessions_created_total", counter, []string{"core"}},
		{"fngw_core_sessions_expired_total", counter, []string{"core"}},
		{"fngw_control_job_panics_total", counter, nil},
		{"fngw_arp_entries", gauge, nil},
		{"fngw_service_connections_total", counter, svcL},
		{"fngw_service_in_bytes_total", counter, svcL},
		{"fngw_dest_connections_total", counter, destL},
		{"fngw_dest_out_bytes_total", counter, destL},
		{"fngw_dest_active_connections", gauge, destL},
		{"fngw_dest_inactive_connections", gauge, destL},
		{"fngw_dest_weight", gauge, destL},
		{"fngw_dest_effective_weight", gauge, destL},
		{"fngw_dest_up", gauge, destL},
		{"fngw_laddr_ports_in_use", gauge, append(slices.Clone(svcL), "laddr")},
	} {
		mf := s[f.name]
		if mf == nil {
			t.Errorf("%s missing", f.name)
			continue
		}
		if mf.GetType() != f.typ {
			t.Errorf("%s is a %v, want a %v", f.name, mf.GetType(), f.typ)
		}
		for _, m := range mf.GetMetric() {
			var names []string
			for n := range labelMap(m) {
				names = append(names, n)
			}
			sort.Strings(names)
			if !slices.Equal(names, slices.Sorted(slices.Values(f.labels))) {
				t.Errorf("%s has labels %v, want %v", f.name, names, f.labels)
				break
			}
		}
	}
	for name, mf := range s {
		for _, m := range mf.GetMetric() {
			if l := labelMap(m); l["service"] != "" || l["dest"] != "" {
				t.Errorf("%s%v: the service and dest labels were split into node_exporter's", name, l)
			}
		}
	}

	svc := map[string]string{"local_address": "198.18.1.100", "local_port": "80", "proto": "TCP", "local_mark": ""}
	rs1 := map[string]string{"local_address": "198.18.1.100", "local_port": "80", "proto": "TCP",
		"remote_address": "198.18.1.11", "remote_port": "8080"}
	rs2 := map[string]string{"remote_address": "198.18.1.12", "remote_port": "8080"}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"fngw_service_connections_total", svc, 1},
		{"fngw_service_in_packets_total", svc, 1},
		{"fngw_dest_connections_total", rs1, 1},
		{"fngw_dest_inactive_connections", rs1, 1}, // SYN_RECV
		{"fngw_dest_weight", rs1, 1},
		{"fngw_dest_effective_weight", rs1, 1},
		{"fngw_dest_up", rs1, 1},
		{"fngw_dest_weight", rs2, 0}, // quiesced: still up, weight 0
		{"fngw_dest_effective_weight", rs2, 0},
		{"fngw_dest_up", rs2, 1},
		{"fngw_laddr_ports_in_use", map[string]string{"laddr": "198.18.1.200"}, 1},
		{"fngw_core_sessions_created_total", map[string]string{"core": "0"}, 1},
		{"fngw_core_sessions_expired_total", map[string]string{"core": "0"}, 0},
		{"fngw_core_sessions", map[string]string{"core": "0"}, 1},
		{"fngw_core_session_capacity", map[string]string{"core": "0"}, 1024},
		{"fngw_port_up", map[string]string{"port": "dpdk0"}, 1},
		{"fngw_port_rx_packets_total", map[string]string{"port": "dpdk0"}, 7},
		{"fngw_mbufs_in_use", nil, 10},
		{"fngw_mbufs_capacity", nil, 1000},
		{"fngw_build_info", map[string]string{"goversion": runtime.Version()}, 1},
		{"fngw_config_last_reload_successful", nil, 1},
		{"fngw_control_job_panics_total", nil, 0},
	} {
		if got := s.value(t, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if s["fngw_port_speed_bytes"] != nil {
		t.Error("fngw_port_speed_bytes exported for a port that reports no speed")
	}
	start := s.value(t, "fngw_start_time_seconds", nil)
	if start < unixSeconds(before) || start > unixSeconds(after) {
		t.Errorf("start time %v, want between %v and %v", start, unixSeconds(before), unixSeconds(after))
	}
	if at := s.value(t, "fngw_config_last_reload_success_timestamp_seconds", nil); at != start {
		t.Errorf("last successful load at %v, want the start (%v)", at, start)
	}
	busy := s.value(t, "fngw_core_busy_seconds_total", map[string]string{"core": "0"})
	poll := s.value(t, "fngw_core_poll_seconds_total", map[string]string{"core": "0"})
	if poll <= 0 || poll < busy || poll > time.Since(before).Seconds() {
		t.Errorf("core 0 busy %vs of %vs polling, in a test %v old", busy, poll, time.Since(before))
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(r.p.Collector())
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// TestDropReasonsExported: every drop reason of the worker (lcore.Reason)
// and of load balancing (nat.DropReason) has a series per core from the
// start, zero or not, so that an alert on any reason works before the first
// drop; reasons added later are exported without a change here.
func TestDropReasonsExported(t *testing.T) {
	r := newRig(t, baseFile)
	s := r.gather()
	want := map[string]bool{}
	for i := range lcore.NumReasons {
		want[i.String()] = true
	}
	for i := range nat.DropReason(nat.NumDropReasons) {
		if i != nat.ReasonNone {
			want[i.String()] = true
		}
	}
	got := map[string]bool{}
	for _, m := range s["fngw_core_drops_total"].GetMetric() {
		l := labelMap(m)
		if l["core"] != "0" {
			t.Errorf("drops of core %q: the rig has core 0 only", l["core"])
		}
		got[l["reason"]] = true
	}
	for reason := range want {
		if !got[reason] {
			t.Errorf("no series for drop reason %q", reason)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d reasons exported, want %d", len(got), len(want))
	}
}

// TestLoopSecondsAreRates: the loop's busy and poll seconds are counters
// that advance with time, so that rate() of them is the current load (a
// ratio since start could not tell a core saturated for the last five
// minutes of a week from an idle one): over an interval, poll seconds grow
// by about the interval, and busy seconds by no more than poll seconds.
func TestLoopSecondsAreRates(t *testing.T) {
	r := newRig(t, baseFile)
	core0 := map[string]string{"core": "0"}
	s0, t0 := r.gather(), time.Now()
	time.Sleep(300 * time.Millisecond)
	r.runAll(fullnat)
	r.syn(40000)
	// The turn that handled the SYN is counted busy once the next one starts.
	harness.Eventually(t, 5*time.Second, "the SYN's turn to count as busy", func() error {
		s1, t1 := r.gather(), time.Now()
		dPoll := s1.value(t, "fngw_core_poll_seconds_total", core0) - s0.value(t, "fngw_core_poll_seconds_total", core0)
		dBusy := s1.value(t, "fngw_core_busy_seconds_total", core0) - s0.value(t, "fngw_core_busy_seconds_total", core0)
		if el := t1.Sub(t0).Seconds(); dPoll < 0.2 || dPoll > el+0.1 { // a turn may straddle t0
			t.Fatalf("poll seconds grew by %v over %vs", dPoll, el)
		}
		if dBusy <= 0 || dBusy > dPoll {
			return fmt.Errorf("busy seconds grew by %v (poll %v)", dBusy, dPoll)
		}
		return nil
	})
}

// TestReloadMetrics: the last reload's success and the time of the last
// successful one, as Prometheus reports its own (alert on
// fngw_config_last_reload_successful == 0): a good reload moves the
// timestamp, a bad file (refused, the running configuration kept) sets
// success to 0 and leaves it, a dry run changes neither, the next good
// reload, by SIGHUP as by `gw reload`, sets success back, and a reload that
// names a setting needing a restart (the rest applied, gw reload exiting
// non-zero) counts as failed.
func TestReloadMetrics(t *testing.T) {
	r := newRig(t, baseFile)
	state := func() (ok, at float64) {
		s := r.gather()
		return s.value(t, "fngw_config_last_reload_successful", nil), s.value(t, "fngw_config_last_reload_success_timestamp_seconds", nil)
	}
	ok, start := state()
	if ok != 1 {
		t.Fatalf("before any reload: successful = %v, want 1", ok)
	}
	time.Sleep(10 * time.Millisecond)
	r.run("reload")
	ok, at := state()
	if ok != 1 || at <= start {
		t.Errorf("after a good reload: successful %v at %v, want 1 after %v", ok, at, start)
	}
	r.write(baseFile + "[[service]]\nvip = \"nonsense\"\n")
	if resp := r.try("reload"); resp.Code == socket.CodeOK {
		t.Fatal("a bad file reloaded")
	}
	if ok, bad := state(); ok != 0 || bad != at {
		t.Errorf("after a failed reload: successful %v at %v, want 0 at %v", ok, bad, at)
	}
	r.write(baseFile)
	r.run("reload --dry-run")
	if ok, now := state(); ok != 0 || now != at {
		t.Errorf("a dry run counted as a reload: successful %v at %v", ok, now)
	}
	r.p.Reload() // SIGHUP
	harness.Eventually(t, 5*time.Second, "the SIGHUP reload to be recorded", func() error {
		if ok, now := state(); ok != 1 || now <= at {
			return fmt.Errorf("successful %v at %v", ok, now)
		}
		return nil
	})
	_, at = state()
	r.write(baseFile + "[[port]]\nname = \"dpdk1\"\ndevice = \"net_null1\"\n")
	if resp := r.try("reload"); resp.Code == socket.CodeOK {
		t.Fatal("a reload naming a setting that needs a restart succeeded")
	}
	if ok, now := state(); ok != 0 || now != at {
		t.Errorf("after a reload that needs a restart: successful %v at %v, want 0 at %v", ok, now, at)
	}
}

// TestServiceLabels: a service's label values are node_exporter's: the VIP,
// the port, the protocol in capitals (as ipvsadm and /proc/net/ip_vs show
// it), and for a firewall-mark service an empty address, port 0, FWM and the
// mark.
func TestServiceLabels(t *testing.T) {
	r := newRig(t, baseFile)
	r.run("adm -A -u 198.18.1.100:53 -s rr")
	r.run("adm -a -u 198.18.1.100:53 -r 198.18.1.11:5353 -m")
	s := r.gather()
	want := map[string]string{"local_address": "198.18.1.100", "local_port": "53", "proto": "UDP", "local_mark": "",
		"remote_address": "198.18.1.11", "remote_port": "5353"}
	if got := s.value(t, "fngw_dest_weight", want); got != 1 {
		t.Errorf("weight %v, want 1", got)
	}
	mark := serviceLabels(ctl.ServiceKey{FwMark: 7})
	if strings.Join(mark, ",") != ",0,FWM,7" {
		t.Errorf("firewall-mark service labels %q", mark)
	}
}

// TestDeployReferencesExportedMetrics: every fngw_ metric the Grafana
// dashboard and the alerting rules under deploy/ query is one the collector
// exports, so that a rename cannot leave them showing nothing.
func TestDeployReferencesExportedMetrics(t *testing.T) {
	r := newRig(t, baseFile)
	r.runAll(fullnat)
	s := r.gather()
	name := regexp.MustCompile(`\bfngw_[a-z0-9_]+\b`)
	for _, f := range []string{"../../deploy/grafana/fngw.json", "../../deploy/prometheus/fngw-alerts.yml"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		used := name.FindAllString(string(b), -1)
		if len(used) == 0 {
			t.Errorf("%s queries no fngw_ metric", f)
		}
		for _, n := range used {
			if s[n] == nil {
				t.Errorf("%s queries %s, which the collector does not export", f, n)
			}
		}
	}
}
