package lab

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"fngw/ctl"
	"fngw/ctl/socket"
	"fngw/perf/gen"
)

// What the stress scenario does to the control plane through the whole
// window (perf/README.md, stress-1k).
const (
	StressScrapers   = 16                     // concurrent Prometheus scrapers, back to back
	StressEditsPerS  = 500                    // gw adm -e weight changes per second
	StressEditors    = 10                     // goroutines sharing them
	StressReloadEach = time.Second            // gw reload
	StressGCEach     = 100 * time.Millisecond // forced collections (StressGCEnv)
	// StressGCEnv is the gateway's debug switch that forces collections
	// (gateway.StressGCEnv; the lab does not link the gateway).
	StressGCEnv = "FNGW_STRESS_FORCE_GC"
	// StressMetrics is the stressed gateway's metrics endpoint.
	StressMetrics = "127.0.0.1:9189"
)

// Stressors are the parts of the stress scenario's load, by name
// (Config.Stressors): all of them unless told otherwise, for finding which
// one costs what.
var Stressors = []string{"scrape", "list", "edit", "reload", "gc"}

// StressLoad is what the stress did during a window: requests made and
// refused, by kind.
type StressLoad struct {
	Seconds        float64 `json:"seconds"`
	Scrapes        uint64  `json:"scrapes"`         // answered 200
	ScrapesRefused uint64  `json:"scrapes_refused"` // 503: more than the endpoint's in-flight limit at once
	ScrapeErrors   uint64  `json:"scrape_errors"`
	Listings       uint64  `json:"listings"`      // gw adm -L -n -c
	ListedConns    uint64  `json:"listed_conns"`  // connections in the last listing
	ListingMaxS    float64 `json:"listing_max_s"` // the longest listing
	Edits          uint64  `json:"edits"`         // gw adm -e answered OK
	EditErrors     uint64  `json:"edit_errors"`
	Reloads        uint64  `json:"reloads"`
	ReloadErrors   uint64  `json:"reload_errors"`
}

// stress hammers a gateway's control plane until stop: StressScrapers
// scrapers of metricsURL, a loop of `-L -n -c`, StressEditsPerS weight
// changes of the service's real servers, a reload every StressReloadEach.
// The commands are what the CLI sends (parsed by ctl.ParseCommandLine, sent
// over the control socket), without a process per command: the load is on
// the gateway, not on the machine's fork and exec.
type stress struct {
	sock                         string
	start                        time.Time
	cancel                       context.CancelFunc
	wg                           sync.WaitGroup
	scrapes, refused, scrapeErrs atomic.Uint64
	listings, listed             atomic.Uint64
	listMaxNs                    atomic.Int64
	edits, editErrs              atomic.Uint64
	reloads, reloadErrs          atomic.Uint64
	firstErr                     atomic.Pointer[string]
}

// startStress starts the load on the gateway whose socket is sock, with
// the metrics endpoint metricsURL, and whose service svc ("-u VIP:PORT")
// balances over servers.
func startStress(ctx context.Context, sock, metricsURL, svc string, servers []netip.AddrPort, on func(string) bool) *stress {
	ctx, cancel := context.WithCancel(ctx)
	s := &stress{sock: sock, start: time.Now(), cancel: cancel}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: StressScrapers}}
	for range StressScrapers {
		if !on("scrape") {
			break
		}
		s.loop(ctx, 0, func() {
			code, err := scrape(ctx, client, metricsURL, io.Discard)
			switch {
			case err != nil:
				if ctx.Err() == nil {
					s.scrapeErrs.Add(1)
					s.fail(err)
				}
			case code == http.StatusOK:
				s.scrapes.Add(1)
			case code == http.StatusServiceUnavailable:
				s.refused.Add(1)
			default:
				s.scrapeErrs.Add(1)
			}
		})
	}
	if on("list") {
		s.listLoop(ctx)
	}
	if on("edit") {
		s.editLoops(ctx, svc, servers)
	}
	if on("reload") {
		s.loop(ctx, StressReloadEach, func() {
			if _, ok := s.do("reload"); ok {
				s.reloads.Add(1)
			} else {
				s.reloadErrs.Add(1)
			}
		})
	}
	return s
}

// listLoop lists the connections back to back.
func (s *stress) listLoop(ctx context.Context) {
	s.loop(ctx, 0, func() {
		t0 := time.Now()
		out, ok := s.do("adm -L -n -c")
		if !ok {
			return
		}
		s.listings.Add(1)
		// ipvsadm -L -c's two header lines, then a line per connection.
		s.listed.Store(uint64(max(strings.Count(out, "\n")-2, 0)))
		if d := int64(time.Since(t0)); d > s.listMaxNs.Load() {
			s.listMaxNs.Store(d)
		}
	})
}

// editLoops change the weights of the real servers of svc, StressEditsPerS
// a second over StressEditors goroutines.
func (s *stress) editLoops(ctx context.Context, svc string, servers []netip.AddrPort) {
	var n atomic.Uint64
	for range StressEditors {
		s.loop(ctx, StressEditors*time.Second/StressEditsPerS, func() {
			i := n.Add(1)
			rs := servers[i%uint64(len(servers))]
			if _, ok := s.do(fmt.Sprintf("adm -e %s -r %s -w %d", svc, rs, 1+i/uint64(len(servers))%4)); ok {
				s.edits.Add(1)
			} else {
				s.editErrs.Add(1)
			}
		})
	}
}

// loop runs f until ctx ends: back to back, or at most once per every
// (a ticker: a call that takes longer skips ticks, so the rate achieved
// is what the counts say).
func (s *stress) loop(ctx context.Context, every time.Duration, f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		var tick <-chan time.Time
		if every > 0 {
			t := time.NewTicker(every)
			defer t.Stop()
			tick = t.C
		}
		for ctx.Err() == nil {
			if tick != nil {
				select {
				case <-ctx.Done():
					return
				case <-tick:
				}
			}
			f()
		}
	}()
}

// do runs one gw command line on the gateway; a failure is counted by the
// caller and the first one kept for the run's notes.
func (s *stress) do(line string) (string, bool) {
	cmd, err := ctl.ParseCommandLine(strings.Fields(line))
	if err != nil {
		s.fail(err)
		return "", false
	}
	resp, err := socket.Do(s.sock, socket.Request{Cmd: cmd})
	if err == nil && resp.Code != socket.CodeOK {
		err = fmt.Errorf("%s: %s", resp.Code, resp.Error)
	}
	if err != nil {
		s.fail(fmt.Errorf("gw %s: %w", line, err))
		return "", false
	}
	return resp.Stdout, true
}

func (s *stress) fail(err error) {
	msg := err.Error()
	s.firstErr.CompareAndSwap(nil, &msg)
}

// stop ends the load, waits for the requests in flight and returns the
// counts.
func (s *stress) stop() (StressLoad, string) {
	s.cancel()
	s.wg.Wait()
	l := StressLoad{Seconds: time.Since(s.start).Seconds(), Scrapes: s.scrapes.Load(), ScrapesRefused: s.refused.Load(),
		ScrapeErrors: s.scrapeErrs.Load(), Listings: s.listings.Load(), ListedConns: s.listed.Load(),
		ListingMaxS: time.Duration(s.listMaxNs.Load()).Seconds(), Edits: s.edits.Load(), EditErrors: s.editErrs.Load(),
		Reloads: s.reloads.Load(), ReloadErrors: s.reloadErrs.Load()}
	first := ""
	if p := s.firstErr.Load(); p != nil {
		first = *p
	}
	return l, first
}

// line is the load as a progress line prints it.
func (l StressLoad) line() string {
	r := func(n uint64) float64 { return float64(n) / l.Seconds }
	return fmt.Sprintf("load over %.1fs: %.0f scrapes/s (+%.0f/s refused), %d listings of %d conns (longest %.2fs), %.0f edits/s, %d reloads, errors %d/%d/%d",
		l.Seconds, r(l.Scrapes), r(l.ScrapesRefused), l.Listings, l.ListedConns, l.ListingMaxS, r(l.Edits), l.Reloads,
		l.ScrapeErrors, l.EditErrors, l.ReloadErrors)
}

// scrape gets url into w and returns the HTTP status.
func scrape(ctx context.Context, c *http.Client, url string, w io.Writer) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(w, resp.Body)
	return resp.StatusCode, err
}

// Hist is a cumulative histogram read from a scrape: counts at or below
// each upper bound, in increasing order, the last +Inf.
type Hist struct {
	Le  []float64
	Cum []uint64
}

var bucketLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)_bucket\{(.*)\} (\S+)$`)

// ParseHist reads the buckets of histogram name whose labels include
// want from a scrape in the Prometheus text format.
func ParseHist(r io.Reader, name string, want map[string]string) (Hist, error) {
	var h Hist
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		m := bucketLine.FindStringSubmatch(sc.Text())
		if m == nil || m[1] != name {
			continue
		}
		labels := map[string]string{}
		for _, kv := range strings.Split(m[2], ",") {
			k, v, _ := strings.Cut(kv, "=")
			labels[k] = strings.Trim(v, `"`)
		}
		match := true
		for k, v := range want {
			match = match && labels[k] == v
		}
		if !match {
			continue
		}
		le, err := strconv.ParseFloat(labels["le"], 64)
		if err != nil {
			return h, fmt.Errorf("%s: le %q: %v", name, labels["le"], err)
		}
		n, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			return h, fmt.Errorf("%s: count %q: %v", name, m[3], err)
		}
		h.Le, h.Cum = append(h.Le, le), append(h.Cum, uint64(n))
	}
	if err := sc.Err(); err != nil {
		return h, err
	}
	if len(h.Le) == 0 {
		return h, fmt.Errorf("no histogram %s%v in the scrape", name, want)
	}
	if !sort.Float64sAreSorted(h.Le) {
		return h, fmt.Errorf("%s: buckets out of order", name)
	}
	return h, nil
}

// Sub is what h counted since an earlier reading of the same histogram.
func (h Hist) Sub(before Hist) Hist {
	d := Hist{Le: h.Le, Cum: make([]uint64, len(h.Cum))}
	for i := range h.Cum {
		if i < len(before.Cum) && before.Le[i] == h.Le[i] {
			d.Cum[i] = h.Cum[i] - before.Cum[i]
		} else {
			d.Cum[i] = h.Cum[i]
		}
	}
	return d
}

// Count is the number of values counted.
func (h Hist) Count() uint64 {
	if len(h.Cum) == 0 {
		return 0
	}
	return h.Cum[len(h.Cum)-1]
}

// Quantile is the q-quantile of a histogram: the bucket (Lo, Hi] that
// holds the ceil(q × count)-th value, and an estimate inside it by linear
// interpolation, as Prometheus's histogram_quantile makes. Open: the value
// is in the last bucket, above Lo, with no bound (Hi and Est are Lo).
type Quantile struct {
	Lo   float64 `json:"lo"`
	Hi   float64 `json:"hi"`
	Est  float64 `json:"est"`
	Open bool    `json:"open,omitempty"`
}

// Quantile computes h's q-quantile; nil without values.
func (h Hist) Quantile(q float64) *Quantile {
	n := h.Count()
	if n == 0 {
		return nil
	}
	rank := max(math.Ceil(q*float64(n)), 1)
	lo, prev := 0.0, uint64(0)
	for i, c := range h.Cum {
		if float64(c) >= rank {
			hi := h.Le[i]
			if math.IsInf(hi, 1) {
				return &Quantile{Lo: lo, Hi: lo, Est: lo, Open: true}
			}
			return &Quantile{Lo: lo, Hi: hi, Est: lo + (hi-lo)*(rank-float64(prev))/float64(c-prev)}
		}
		lo, prev = h.Le[i], c
	}
	return &Quantile{Lo: lo, Hi: lo, Est: lo, Open: true}
}

// Verdict says whether the quantile is at most target: "met" when its
// bucket's upper bound is, "missed" when its lower bound is not below it,
// and otherwise, the target inside the bucket, by the estimate ("met
// (est.)", "missed (est.)").
func (q *Quantile) Verdict(target float64) string {
	switch {
	case q == nil:
		return "not measured"
	case q.Lo >= target:
		return "**missed**"
	case q.Open:
		return "unknown (above the histogram's last bound)"
	case q.Hi <= target:
		return "met"
	case q.Est <= target:
		return "met (est.)"
	}
	return "**missed** (est.)"
}

// gapHist is a worker's poll gaps since the reset as a Hist in seconds.
// gw stats lists the non-empty buckets only: each one's lower bound, half
// its upper one, is put back so that interpolation starts there.
func gapHist(g Gaps) Hist {
	var h Hist
	var cum uint64
	for _, b := range g.Buckets {
		le := math.Inf(1)
		if b.LeNs != 0 {
			le = float64(b.LeNs) / 1e9
			if n := len(h.Le); n == 0 || h.Le[n-1] < le/2 {
				h.Le, h.Cum = append(h.Le, le/2), append(h.Cum, cum)
			}
		}
		cum += b.Count
		h.Le, h.Cum = append(h.Le, le), append(h.Cum, cum)
	}
	return h
}

// stressImpl is the Run.Impl of a stress scenario's stressed gateway; its
// baseline, the same gateway left alone, is "gw".
const stressImpl = "gw-stress"

// FillMAC is net_pcap port 1's fixed address (the second vdev of a
// process: DPDK numbers them), where a stress scenario's fill is sent.
var FillMAC = net.HardwareAddr{0x02, 0x70, 0x63, 0x61, 0x70, 0x01}

// fillPcap returns the stress scenario's fill: sc.FillFlows unique flows to
// the same service, addressed to port 1, streamed once.
func (b *Bench) fillPcap(sc *Scenario) (string, error) {
	sp, err := gen.LabSpec(sc.Mode, sc.Proto, sc.FillFlows, sc.Size, 80, 8080, sc.Servers, sc.LIPs)
	if err != nil {
		return "", err
	}
	sp.GatewayMAC = FillMAC
	sp.Defaults()
	if err := sp.Validate(); err != nil {
		return "", err
	}
	name := fmt.Sprintf("v%d-fill-port1-%s-%s-%d-%dB-%drs-%dlip.pcap", gen.Version, sp.Mode, sp.Proto, sp.Flows, sp.Size, sc.Servers, sc.LIPs)
	return b.cached(name, sp)
}

// gwStress is one run of a stress scenario: the gateway forwards the looped
// pcap on port 0 after fill made its table's sessions through port 1; with
// stressed, its control plane is hammered (startStress, and collections
// forced every StressGCEach) from before the window to its end. Either
// way the worker's poll gaps are reset at the window's start and read at
// its end, and the GC's pauses read from the metrics at both ends.
func (b *Bench) gwStress(ctx context.Context, sc *Scenario, sp gen.Spec, cfg *GatewayConfig, fill string, stressed bool) (*Run, error) {
	if cfg.KernelIface != "" {
		return nil, fmt.Errorf("%s does not run with a kernel path: the gateway would run in namespace %s, out of reach of the load's scrapes of %s", sc.Name, KernelNetns, StressMetrics)
	}
	cfg.FillDevice = "net_pcap1,rx_pcap=" + fill
	cfg.Metrics = StressMetrics
	// The fill's sessions see one packet each: they must outlive the run.
	cfg.OnewayTimeout = 3600
	impl := "gw"
	if stressed {
		if b.stressor("gc") {
			cfg.Env = []string{StressGCEnv + "=" + StressGCEach.String()}
		}
		impl = stressImpl
	}
	g, err := b.startGW(ctx, sc, cfg, impl)
	if err != nil {
		return nil, err
	}
	defer g.Stop()
	r := &Run{Impl: impl, StartupS: g.Ready.Sub(g.Start).Seconds()}
	ps, err := g.Link(ctx)
	if err != nil {
		return nil, err
	}
	if len(ps) != 2 || !strings.EqualFold(ps[0].MAC, sp.GatewayMAC.String()) || !strings.EqualFold(ps[1].MAC, FillMAC.String()) {
		return nil, fmt.Errorf("the gateway's ports are %v; the pcaps are addressed to %s and %s (net_pcap's fixed addresses)", ps, sp.GatewayMAC, FillMAC)
	}
	if _, err := waitSessions(ctx, g, uint64(sc.FillFlows), 2*time.Minute); err != nil {
		return nil, err
	}
	if err := sleepCtx(ctx, b.cfg.Warmup); err != nil {
		return nil, err
	}
	var st *stress
	if stressed {
		proto := "-u"
		if sp.Proto == "tcp" {
			proto = "-t"
		}
		st = startStress(ctx, cfg.Socket, "http://"+StressMetrics+"/metrics", proto+" "+sp.VIP.String(), sp.Servers, b.stressor)
		// Under way before the window opens.
		if err := sleepCtx(ctx, time.Second); err != nil {
			st.stop()
			return nil, err
		}
	}
	tid, terr := workerThread(g.Pid(), b.cfg.WorkerCPU)
	if terr != nil {
		r.Notes = append(r.Notes, "no worker thread's schedstat: "+terr.Error())
	}
	e0, err := b.stressReadings(ctx, g, tid, true)
	if err == nil {
		err = sleepCtx(ctx, b.cfg.Window)
	}
	var e1 stressEnd
	if err == nil {
		e1, err = b.stressReadings(ctx, g, tid, false)
	}
	if st != nil {
		load, first := st.stop()
		r.Load = &load
		if first != "" {
			r.Notes = append(r.Notes, "first failure of the load: "+first)
		}
	}
	if err != nil {
		return nil, err
	}
	p0, k0, c0, gc0 := e0.port, e0.core, e0.cpu, e0.gc
	p1, k1, c1, gc1 := e1.port, e1.core, e1.cpu, e1.gc
	if d := e1.cpu.at.Sub(e0.cpu.at); tid != 0 && d > 0 {
		// The shares of the window the worker's thread ran, and was
		// runnable but not running (the OS ran another thread on its
		// CPU); the rest it slept: parked by the Go runtime.
		r.WorkerRunShare = float64(e1.run-e0.run) / float64(d)
		r.WorkerWaitShare = float64(e1.wait-e0.wait) / float64(d)
	}
	lat := e1.lat.Sub(e0.lat)
	r.SchedLatP9999, r.SchedLatMaxLe = lat.Quantile(0.9999), 0
	if q := lat.Quantile(1); q != nil {
		r.SchedLatMaxLe = q.Hi
	}
	r.gwWindow(p0, p1, k0, k1, c0, c1)
	gaps := gapHist(k1.Gaps)
	r.GapTurns, r.GapMaxS = k1.Gaps.Turns, float64(k1.Gaps.MaxNs)/1e9
	r.GapP999, r.GapP9999 = gaps.Quantile(0.999), gaps.Quantile(0.9999)
	pauses := gc1[0].Sub(gc0[0])
	r.GCPauses, r.GCPauseP99 = pauses.Count(), pauses.Quantile(0.99)
	if q := pauses.Quantile(1); q != nil {
		r.GCPauseMaxLe = q.Hi
	}
	r.GCStopP99 = gc1[1].Sub(gc0[1]).Quantile(0.99)
	return r, nil
}

// stressor reports whether the stress includes the part called name.
func (b *Bench) stressor(name string) bool {
	return b.cfg.Stressors == nil || slices.Contains(b.cfg.Stressors, name)
}

// stressEnd is what a stress run reads at each end of its window.
type stressEnd struct {
	port      PortStats
	core      CoreStats
	cpu       cpuSnap
	gc        [2]Hist // the GC's pauses: whole, and their stopping phase
	lat       Hist    // the Go scheduler's latencies
	run, wait uint64  // the worker thread's schedstat, ns
}

// stressReadings reads what a stress run's window needs at one end: the
// port and core counters, the GC's pauses so far (whole, and their
// stopping phase: until every goroutine stopped) and the worker thread's
// time running and waiting (tid; 0: none); at the start, it first resets
// the worker's poll gaps. The metrics are gathered at most once a second
// (plane.MetricsInterval): the pauses' readings may lag the window's ends
// by up to that.
func (b *Bench) stressReadings(ctx context.Context, g *Gateway, tid int, start bool) (stressEnd, error) {
	var e stressEnd
	if start {
		if _, err := g.CLI(ctx, "stats", "--reset-gaps"); err != nil {
			return e, err
		}
	}
	// The scrapers keep the endpoint at its limit of scrapes in flight:
	// a refusal (503) is tried again.
	var body strings.Builder
	code, err := http.StatusServiceUnavailable, error(nil)
	for try := 0; err == nil && code == http.StatusServiceUnavailable && try < 1000; try++ {
		body.Reset()
		code, err = scrape(ctx, http.DefaultClient, "http://"+StressMetrics+"/metrics", &body)
	}
	if err == nil && code != http.StatusOK {
		err = fmt.Errorf("metrics: HTTP %d", code)
	}
	for i, pause := range []string{"total", "stopping"} {
		if err == nil {
			e.gc[i], err = ParseHist(strings.NewReader(body.String()), "fngw_go_pause_seconds", map[string]string{"pause": pause, "cause": "gc"})
		}
	}
	if err == nil {
		e.lat, err = ParseHist(strings.NewReader(body.String()), "fngw_go_sched_latency_seconds", nil)
	}
	if err != nil {
		return e, fmt.Errorf("reading the GC's pauses: %w", err)
	}
	if tid != 0 {
		if e.run, e.wait, err = schedstat(g.Pid(), tid); err != nil {
			return e, err
		}
	}
	e.port, e.core, e.cpu, err = snapshot(ctx, g)
	return e, err
}
