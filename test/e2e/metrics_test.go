package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"fngw/test/harness"
)

// sample is one series of a scrape.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

var (
	sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$`)
	labelPair  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)
	metricName = regexp.MustCompile(`\b(?:fngw|process|go)_[a-z0-9_]+\b`)
)

// parseScrape reads the Prometheus text format.
func parseScrape(t *testing.T, body string) []sample {
	t.Helper()
	var ss []sample
	for _, line := range strings.Split(body, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("not a sample: %q", line)
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		s := sample{name: m[1], labels: map[string]string{}, value: v}
		for _, l := range labelPair.FindAllStringSubmatch(m[2], -1) {
			s.labels[l[1]] = l[2]
		}
		ss = append(ss, s)
	}
	return ss
}

// scrapeOf is a parsed scrape with lookups.
type scrapeOf []sample

// find returns the series of name whose labels include want.
func (s scrapeOf) find(name string, want map[string]string) []sample {
	var found []sample
next:
	for _, x := range s {
		if x.name != name {
			continue
		}
		for k, v := range want {
			if x.labels[k] != v {
				continue next
			}
		}
		found = append(found, x)
	}
	return found
}

// one is the value of the one series of name with labels want.
func (s scrapeOf) one(t *testing.T, name string, want map[string]string) float64 {
	t.Helper()
	f := s.find(name, want)
	if len(f) != 1 {
		t.Fatalf("%s%v: %d series, want 1", name, want, len(f))
	}
	return f[0].value
}

func (s scrapeOf) sum(name string, want map[string]string) float64 {
	var v float64
	for _, x := range s.find(name, want) {
		v += x.value
	}
	return v
}

// promtool finds Debian's promtool (package prometheus, which
// scripts/deps.sh installs).
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not found: install Debian's prometheus package (scripts/deps.sh does)")
	}
	return p
}

// TestMetrics is what an operator's Prometheus and Grafana see of a
// gateway carrying FULLNAT traffic: /metrics passes `promtool check
// metrics`; services and real servers are labelled node_exporter's way and
// count the connections made; weights, link state, the mbuf pool, the loop's
// seconds and poll gaps, the runtime's pauses, build and process metrics are
// there; gw stats shows the poll gaps and --reset-gaps restarts them; a reload that fails sets
// gw top shows the services within 80 columns, without escape codes into a
// pipe; a reload that fails sets fngw_config_last_reload_successful to 0
// until one succeeds (gw reload, SIGHUP); the dashboard's queries and the
// alerting rules parse (promtool check rules) and name only metrics the
// scrape has.
func TestMetrics(t *testing.T) {
	promtool := promtool(t)
	const addr = "127.0.0.1:9180" // inside the gateway's own namespace
	tp := startFullNAT(t, fnOpts{cfg: harness.Config{Metrics: addr}})
	tp.addFullNATServices(t, "rr")
	const requests = 20
	tp.get(t, "http://"+fnHTTP+"/", requests, 2)
	gwNS := tp.g.Netns
	gwNS.MustIP("link", "set", "lo", "up")
	scrape := func(t *testing.T) (string, scrapeOf) {
		t.Helper()
		body := gwNS.MustRun("curl", "-sf", "http://"+addr+"/metrics")
		return body, parseScrape(t, body)
	}
	body, s := scrape(t)

	t.Run("promtool_check_metrics", func(t *testing.T) {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(body)
		if out, err := cmd.CombinedOutput(); err != nil || len(out) != 0 {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	})

	t.Run("services_and_real_servers", func(t *testing.T) {
		svc := map[string]string{"local_address": fnVIP, "local_port": "80", "proto": "TCP"}
		if v := s.one(t, "fngw_service_connections_total", svc); v < requests {
			t.Errorf("service connections %v, want at least %d", v, requests)
		}
		if v := s.sum("fngw_dest_connections_total", svc); v < requests {
			t.Errorf("real servers' connections sum to %v, want at least %d", v, requests)
		}
		for _, rs := range []string{fnRS1, fnRS2} {
			d := map[string]string{"local_address": fnVIP, "local_port": "80", "proto": "TCP", "remote_address": rs, "remote_port": "80"}
			for _, name := range []string{"fngw_dest_weight", "fngw_dest_effective_weight", "fngw_dest_up"} {
				if v := s.one(t, name, d); v != 1 {
					t.Errorf("%s%v = %v, want 1", name, d, v)
				}
			}
			if v := s.one(t, "fngw_dest_connections_total", d); v == 0 {
				t.Errorf("rr gave %s no connection", rs)
			}
		}
		udp := map[string]string{"local_address": fnVIP, "local_port": "53", "proto": "UDP", "remote_port": fnUDPPort}
		if n := len(s.find("fngw_dest_up", udp)); n != 2 {
			t.Errorf("%d real servers of the UDP service, want 2", n)
		}
		if v := s.sum("fngw_laddr_ports_in_use", svc); v == 0 {
			t.Error("no FULLNAT local port in use after the requests (TIME_WAIT keeps them)")
		}
		for _, x := range s {
			if _, ok := x.labels["service"]; ok {
				t.Errorf("%s still has the old service label", x.name)
			}
		}
	})

	t.Run("gateway", func(t *testing.T) {
		for _, p := range []string{"dpdk0", "dpdk1"} {
			if v := s.one(t, "fngw_port_up", map[string]string{"port": p}); v != 1 {
				t.Errorf("port %s up = %v", p, v)
			}
			if v := s.one(t, "fngw_port_rx_packets_total", map[string]string{"port": p}); v < requests {
				t.Errorf("port %s received %v packets", p, v)
			}
		}
		inUse, capacity := s.one(t, "fngw_mbufs_in_use", nil), s.one(t, "fngw_mbufs_capacity", nil)
		if inUse <= 0 || capacity <= inUse {
			t.Errorf("mbufs: %v in use of %v", inUse, capacity)
		}
		core := map[string]string{"core": "0"}
		busy, poll := s.one(t, "fngw_core_busy_seconds_total", core), s.one(t, "fngw_core_poll_seconds_total", core)
		if busy <= 0 || poll <= busy {
			t.Errorf("core 0: %vs busy of %vs", busy, poll)
		}
		if v := s.one(t, "fngw_core_sessions_created_total", core); v < requests {
			t.Errorf("%v sessions created", v)
		}
		s.one(t, "fngw_core_sessions_expired_total", core)
		s.one(t, "fngw_core_drops_total", map[string]string{"core": "0", "reason": "no_session"})
		s.one(t, "fngw_core_drops_total", map[string]string{"core": "0", "reason": "bad_ipv4_checksum"})
		if b := s.find("fngw_build_info", nil); len(b) != 1 || b[0].value != 1 || b[0].labels["version"] == "" || !strings.HasPrefix(b[0].labels["goversion"], "go") {
			t.Errorf("build info %+v", b)
		}
		start := s.one(t, "fngw_start_time_seconds", nil)
		if age := float64(time.Now().Unix()) - start; age < 0 || age > 600 {
			t.Errorf("started %vs ago", age)
		}
		// The session tables are allocated and touched at start: resident.
		tables := s.sum("fngw_core_session_capacity", nil) * 100
		if rss := s.one(t, "process_resident_memory_bytes", nil); rss < tables {
			t.Errorf("resident %v bytes, less than the session tables (%v)", rss, tables)
		}
		s.one(t, "go_goroutines", nil)
		// The stalls: the worker's poll gaps and the runtime's pauses, as
		// histograms (promtool checked their form above).
		if v := s.one(t, "fngw_core_poll_gap_seconds_count", core); v <= 0 {
			t.Errorf("core 0 counted %v poll gaps", v)
		}
		if v := s.one(t, "fngw_core_poll_gap_seconds_sum", core); math.Abs(v-poll) > 1 {
			t.Errorf("core 0's gaps sum to %vs, its loop ran %vs", v, poll)
		}
		s.one(t, "fngw_go_pause_seconds_count", map[string]string{"pause": "total", "cause": "gc"})
		s.one(t, "fngw_go_sched_latency_seconds_count", nil)
	})

	t.Run("gw_stats_gaps", func(t *testing.T) {
		type gaps struct {
			Turns uint64 `json:"turns"`
			MaxNs uint64 `json:"max_ns"`
		}
		var cs []struct {
			Gaps gaps `json:"poll_gaps"`
		}
		tp.g.MustJSON(&cs, "stats")
		if len(cs) == 0 || cs[0].Gaps.Turns == 0 || cs[0].Gaps.MaxNs == 0 {
			t.Fatalf("gw stats: poll gaps %+v", cs)
		}
		before := cs[0].Gaps
		tp.g.MustCmd("stats", "--reset-gaps")
		tp.g.MustJSON(&cs, "stats")
		if g := cs[0].Gaps; g.Turns >= before.Turns && g.MaxNs >= before.MaxNs {
			t.Errorf("gw stats --reset-gaps reset nothing: %+v before, %+v after", before, g)
		}
		if out := tp.g.MustCmd("stats"); !strings.Contains(out, "poll gaps: max ") {
			t.Errorf("gw stats prints no poll gaps:\n%s", out)
		}
	})

	t.Run("gw_top", func(t *testing.T) {
		out := tp.g.MustCmd("top", "-n", "1", "-d", "0.2")
		if strings.Contains(out, "\033") {
			t.Errorf("escape codes into a pipe: %q", out)
		}
		for _, l := range strings.Split(out, "\n") {
			if n := utf8.RuneCountInString(l); n > 80 {
				t.Errorf("%d columns: %q", n, l)
			}
		}
		for _, want := range []string{"TCP  " + fnHTTP, "  -> " + fnRS1 + ":80", "UDP  " + fnUDP, "IN B/s", "DROPS"} {
			if !strings.Contains(out, want) {
				t.Errorf("gw top lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("reload", func(t *testing.T) {
		state := func(t *testing.T) (ok, at float64) {
			_, s := scrape(t)
			return s.one(t, "fngw_config_last_reload_successful", nil), s.one(t, "fngw_config_last_reload_success_timestamp_seconds", nil)
		}
		ok, start := state(t)
		if ok != 1 || start != s.one(t, "fngw_start_time_seconds", nil) {
			t.Errorf("before any reload: successful %v, last load at %v", ok, start)
		}
		time.Sleep(10 * time.Millisecond)
		tp.g.MustCmd("reload")
		var at float64
		harness.Eventually(t, 5*time.Second, "the reload in the metrics", func() error {
			if ok, at = state(t); ok != 1 || at <= start {
				return fmt.Errorf("successful %v at %v", ok, at)
			}
			return nil
		})
		good, err := os.ReadFile(tp.g.ConfigPath)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(tp.g.ConfigPath, append(good, "\n[[service]]\nvip = \"nonsense\"\n"...), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := tp.g.Cmd("reload"); err == nil {
			t.Fatal("a bad file reloaded")
		}
		harness.Eventually(t, 5*time.Second, "the failed reload in the metrics", func() error {
			if ok, now := state(t); ok != 0 || now != at {
				return fmt.Errorf("successful %v at %v", ok, now)
			}
			return nil
		})
		if err := tp.g.WriteConfig(tp.g.Config); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Kill(tp.g.Pid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		harness.Eventually(t, 5*time.Second, "the SIGHUP reload in the metrics", func() error {
			if ok, now := state(t); ok != 1 || now <= at {
				return fmt.Errorf("successful %v at %v", ok, now)
			}
			return nil
		})
	})

	t.Run("dashboard_and_alerts", func(t *testing.T) {
		var dash struct {
			Panels []struct {
				Title   string `json:"title"`
				Targets []struct {
					Expr string `json:"expr"`
				} `json:"targets"`
			} `json:"panels"`
		}
		b, err := os.ReadFile("../../deploy/grafana/fngw.json")
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &dash); err != nil {
			t.Fatalf("the dashboard is not JSON: %v", err)
		}
		// Each query as a recording rule, Grafana's variables replaced as
		// Grafana does before sending it, for promtool to parse.
		vars := strings.NewReplacer("$__rate_interval", "1m", "$instance", ".*", "$vip", ".*")
		type rule struct {
			Record string `json:"record"`
			Expr   string `json:"expr"`
		}
		var rules []rule
		for _, p := range dash.Panels {
			for _, q := range p.Targets {
				rules = append(rules, rule{fmt.Sprintf("dashboard:panel:%d", len(rules)), vars.Replace(q.Expr)})
			}
		}
		if len(rules) < 20 {
			t.Errorf("%d queries in the dashboard", len(rules))
		}
		file := filepath.Join(t.TempDir(), "dashboard.rules.json") // JSON is YAML
		out, _ := json.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
		if err := os.WriteFile(file, out, 0o600); err != nil {
			t.Fatal(err)
		}
		alerts := "../../deploy/prometheus/fngw-alerts.yml"
		for _, f := range []string{file, alerts} {
			if out, err := exec.Command(promtool, "check", "rules", f).CombinedOutput(); err != nil {
				t.Errorf("promtool check rules %s: %v\n%s", f, err, out)
			}
		}
		a, err := os.ReadFile(alerts)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range metricName.FindAllString(string(b)+string(a), -1) {
			if len(s.find(n, nil)) == 0 {
				t.Errorf("deploy/ queries %s, which /metrics does not have", n)
			}
		}
	})
}
