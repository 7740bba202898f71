package lab

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"fngw/perf/gen"
)

// Config is how a bench run is set up.
type Config struct {
	GW      string // the gw binary
	Testpmd string // dpdk-testpmd
	// Refs are testpmd forward modes measured besides macswap in throughput
	// scenarios, as yardsticks that do more work per packet (5tswap: parse
	// and swap the L2-L4 addresses); they set no target.
	Refs []string
	// CRef is perf/cref's binary, the gateway's established-flow work in C,
	// measured in throughput scenarios as another yardstick ("": none).
	CRef  string
	Perf  string // linux perf, for profiles ("" = no profiles)
	Out   string // this run's results directory (perf/results/STAMP)
	Cache string // generated pcaps, reused between runs
	Work  string // configurations, logs and sockets of this run

	// Both forwarders poll on WorkerCPU: testpmd with -l MainCPU,WorkerCPU,
	// gw with lcores "MainCPU,WorkerCPU" (control lcore, one worker).
	MainCPU, WorkerCPU int

	Reps      int
	Warmup    time.Duration // after sessions exist, before the window
	Window    time.Duration // measurement window of throughput runs
	Hugepages bool
	// KernelIface, when set, configures the kernel path on the gateway's
	// port (GatewayConfig.KernelIface): its cost, or its absence, shows.
	KernelIface string
	// Stressors, when set, are the parts of the stress scenario's load
	// that run (Stressors names them; nil: all).
	Stressors []string

	// A run during which other processes used more than NoiseMax cores, or
	// the hypervisor stole more than StealMax, is repeated up to Retries
	// times; the quietest attempt is kept.
	NoiseMax, StealMax float64
	Retries            int
	// RetryBudget: no run is repeated once the bench has run this long, so
	// that a busy machine cannot stretch it without bound (0: no limit).
	RetryBudget time.Duration
	// FillReps is the number of runs of Memory scenarios (default 1: the
	// bytes per session are the same in every run).
	FillReps int

	Progress io.Writer
}

// Result is one scenario's outcome over its repetitions.
type Result struct {
	Scenario string  `json:"scenario"`
	Title    string  `json:"title"`
	Kind     Kind    `json:"kind"`
	Target   string  `json:"target"`
	Testpmd  Summary `json:"testpmd_mpps"` // Throughput: forwarded Mpps
	GW       Summary `json:"gw_mpps"`
	Ratio    Summary `json:"ratio"` // per repetition gw/testpmd
	Refs     []Ref   `json:"refs,omitempty"`
	// Value: sessions per second (NewSessions) or total bytes per session
	// (Memory); Marginal: bytes per session while filling (Memory).
	Value    Summary  `json:"value"`
	Marginal Summary  `json:"marginal,omitempty"`
	Sessions uint64   `json:"sessions,omitempty"` // Memory: sessions reached (median run)
	Met      bool     `json:"met"`
	Verdict  string   `json:"verdict"`
	Profile  string   `json:"profile,omitempty"` // file with the gw profile
	Runs     []string `json:"runs"`              // JSON files of the runs
	Noisy    int      `json:"noisy_runs"`
	Notes    []string `json:"notes,omitempty"`
	// Stress: the stressed runs' figures against the gateway alone (GW is
	// the stressed rate, Ratio stressed ÷ alone by repetition).
	Stress *StressSummary `json:"stress,omitempty"`

	runs []*Run
}

// StressSummary is a stress scenario's outcome: rates, and the stalls of
// the stressed runs and of the baseline's (the same gateway alone), each
// quantile judged on its worst repetition.
type StressSummary struct {
	BaseMpps     Summary   `json:"base_mpps"`
	GapMaxS      Summary   `json:"gap_max_s"`
	GapP9999     *Quantile `json:"gap_p99_99_s_worst"`
	GCPauseP99   *Quantile `json:"gc_pause_p99_s_worst"`
	GCPauses     Summary   `json:"gc_pauses"`
	BaseGapMaxS  Summary   `json:"base_gap_max_s"`
	BaseGapP9999 *Quantile `json:"base_gap_p99_99_s_worst"`
	BaseGCPauses Summary   `json:"base_gc_pauses"`
	// RunShare, WaitShare: Run.WorkerRunShare and WorkerWaitShare of the
	// stressed runs and the baseline's.
	RunShare      Summary    `json:"worker_run_share"`
	WaitShare     Summary    `json:"worker_wait_share"`
	BaseRunShare  Summary    `json:"base_worker_run_share"`
	BaseWaitShare Summary    `json:"base_worker_wait_share"`
	Load          StressLoad `json:"load_median_run"` // the load of the stressed run with the median rate
}

// worst is the quantile with the highest estimate.
func worst(qs []*Quantile) *Quantile {
	var w *Quantile
	for _, q := range qs {
		if q != nil && (w == nil || q.Est > w.Est || q.Open) {
			w = q
		}
	}
	return w
}

// summarizeStress fills res.Stress and the ratio from a stress scenario's
// runs.
func (res *Result) summarizeStress() {
	base, stressed := map[int]*Run{}, map[int]*Run{}
	for _, r := range res.runs {
		if r.Impl == stressImpl {
			stressed[r.Rep] = r
		} else {
			base[r.Rep] = r
		}
	}
	var bm, sm, ratio, gmax, bgmax, gcs, bgcs, run, wait, brun, bwait []float64
	var gq, gcq, bgq []*Quantile
	var byRate []*Run
	for rep, s := range stressed {
		sm, gmax, gcs = append(sm, s.TxPPS/1e6), append(gmax, s.GapMaxS), append(gcs, float64(s.GCPauses))
		gq, gcq, run, wait = append(gq, s.GapP9999), append(gcq, s.GCPauseP99), append(run, s.WorkerRunShare), append(wait, s.WorkerWaitShare)
		byRate = append(byRate, s)
		if b := base[rep]; b != nil && b.TxPPS > 0 {
			ratio = append(ratio, s.TxPPS/b.TxPPS)
		}
	}
	for _, b := range base {
		bm, bgmax, bgcs = append(bm, b.TxPPS/1e6), append(bgmax, b.GapMaxS), append(bgcs, float64(b.GCPauses))
		bgq, brun, bwait = append(bgq, b.GapP9999), append(brun, b.WorkerRunShare), append(bwait, b.WorkerWaitShare)
	}
	res.GW, res.Ratio = Summarize(sm), Summarize(ratio)
	st := &StressSummary{BaseMpps: Summarize(bm), GapMaxS: Summarize(gmax), GapP9999: worst(gq), GCPauseP99: worst(gcq),
		GCPauses: Summarize(gcs), BaseGapMaxS: Summarize(bgmax), BaseGapP9999: worst(bgq), BaseGCPauses: Summarize(bgcs),
		RunShare: Summarize(run), WaitShare: Summarize(wait), BaseRunShare: Summarize(brun), BaseWaitShare: Summarize(bwait)}
	slices.SortFunc(byRate, func(a, b *Run) int { return cmp.Compare(a.TxPPS, b.TxPPS) })
	if len(byRate) > 0 && byRate[len(byRate)/2].Load != nil {
		st.Load = *byRate[len(byRate)/2].Load
	}
	res.Stress = st
}

// Ref is the result of one yardstick besides macswap (Config.Refs and
// CRef) in a throughput scenario.
type Ref struct {
	Impl  string  `json:"impl"` // its runs' Run.Impl: testpmd-MODE, cref
	Mpps  Summary `json:"mpps"`
	Ratio Summary `json:"gw_ratio"` // per repetition gw/it
}

// refImpl is the Run.Impl of testpmd in a reference mode.
func refImpl(mode string) string { return "testpmd-" + mode }

// crefImpl is the Run.Impl of perf/cref.
const crefImpl = "cref"

// Bench runs scenarios.
type Bench struct {
	cfg   Config
	seq   int
	start time.Time
}

// New checks the configuration and makes the directories.
func New(cfg Config) (*Bench, error) {
	if cfg.Reps < 1 {
		cfg.Reps = 3
	}
	for _, d := range []string{cfg.Out, filepath.Join(cfg.Out, "runs"), cfg.Cache, cfg.Work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	if cfg.FillReps < 1 {
		cfg.FillReps = 1
	}
	return &Bench{cfg: cfg, start: time.Now()}, nil
}

func (b *Bench) logf(format string, a ...any) {
	fmt.Fprintf(b.cfg.Progress, format+"\n", a...)
}

// pcap returns the scenario's pcap, generating it into the cache when absent.
func (b *Bench) pcap(sc *Scenario) (string, gen.Spec, error) {
	sp, err := sc.Spec()
	if err != nil {
		return "", sp, err
	}
	name := fmt.Sprintf("v%d-%s-%s-%d-%dB-%drs-%dlip.pcap", gen.Version, sp.Mode, sp.Proto, sp.Flows, sp.Size, sc.Servers, sc.LIPs)
	path, err := b.cached(name, sp)
	return path, sp, err
}

// cached returns the pcap of sp called name in the cache, generating it
// when absent.
func (b *Bench) cached(name string, sp gen.Spec) (string, error) {
	path := filepath.Join(b.cfg.Cache, name)
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	t0 := time.Now()
	n, err := gen.WriteFile(path, sp)
	if err != nil {
		return "", err
	}
	b.logf("  generated %s: %d frames in %v", path, n, time.Since(t0).Round(time.Millisecond))
	return path, nil
}

// sizing returns the mbuf pool size and EAL memory of a scenario: a looped
// pcap lives in mbufs, one per frame, and 16 384 more circulate (the
// forwarders' caches, rings and bursts); without hugepages every mbuf takes a
// 4 KiB page of its own (objects may not cross pages). The pool is not
// rounded up to 2^q - 1 mbufs, the size that packs the mempool's ring best:
// that would double the memory of the million-frame scenarios, and each
// forwarder's start-up, spent faulting it in.
func (b *Bench) sizing(sc *Scenario, frames int) (mbufs, memMB int) {
	if sc.Streamed {
		return 0, 1024
	}
	mbufs = frames + 16384
	per := 4096
	if b.cfg.Hugepages {
		per = 2560
	}
	return mbufs, mbufs*per>>20 + 512
}

func (b *Bench) gwConfig(sc *Scenario, sp gen.Spec, device string, mbufs, memMB int) *GatewayConfig {
	b.seq++
	return &GatewayConfig{
		Lcores: fmt.Sprintf("%d,%d", b.cfg.MainCPU, b.cfg.WorkerCPU), MemoryMB: memMB, Hugepages: b.cfg.Hugepages,
		FilePrefix: fmt.Sprintf("fngwperf%d", os.Getpid()), Device: device,
		Socket:   filepath.Join(b.cfg.Work, "gw.sock"),
		Capacity: sc.Capacity, Mbufs: mbufs, Proto: sp.Proto, VIP: sp.VIP, Servers: sp.Servers, LIPs: sp.LIPs,
		Router: gen.LabRouter, RouterMAC: gen.LabRouterMAC.String(), ServerMAC: gen.LabServerMAC.String(),
		PortAddrs: gen.LabPortAddrs, KernelIface: b.cfg.KernelIface,
	}
}

// cref is perf/cref set up for a scenario as the gateway is: the same
// service, real servers, local addresses, table capacity and mbufs.
func (b *Bench) cref(sp gen.Spec, sc *Scenario, device string, mbufs, memMB int) *Testpmd {
	return &Testpmd{Path: b.cfg.CRef, Lcores: fmt.Sprintf("%d,%d", b.cfg.MainCPU, b.cfg.WorkerCPU),
		MemoryMB: memMB, Hugepages: b.cfg.Hugepages, FilePrefix: fmt.Sprintf("fngwperf-cref%d", os.Getpid()),
		Device: device, Prompt: "cref> ", AppArgs: CRefArgs(sp, mbufs, sc.Capacity)}
}

// CRefArgs are perf/cref's options (after EAL's --) for traffic sp on the
// lab plan: the service, real servers and local addresses, the next hops'
// MACs, a pool of mbufs and a table of capacity sessions.
func CRefArgs(sp gen.Spec, mbufs, capacity int) []string {
	var servers, lips []string
	for _, s := range sp.Servers {
		servers = append(servers, s.String())
	}
	for _, a := range sp.LIPs {
		lips = append(lips, a.String())
	}
	return []string{"--mbufs", fmt.Sprint(mbufs), "--capacity", fmt.Sprint(capacity), "--vip", sp.VIP.String(),
		"--proto", sp.Proto, "--servers", strings.Join(servers, ","), "--lips", strings.Join(lips, ","),
		"--server-mac", gen.LabServerMAC.String(), "--router-mac", gen.LabRouterMAC.String()}
}

func (b *Bench) startGW(ctx context.Context, sc *Scenario, cfg *GatewayConfig, tag string) (*Gateway, error) {
	base := filepath.Join(b.cfg.Work, fmt.Sprintf("%s-%s-%d", sc.Name, tag, b.seq))
	return StartGateway(ctx, b.cfg.GW, cfg, base+".toml", base+".log")
}

// Run measures every scenario in order and returns the results.
func (b *Bench) Run(ctx context.Context, scs []Scenario) ([]Result, error) {
	var out []Result
	for i := range scs {
		sc := &scs[i]
		b.logf("== %s: %s (%d of %d)", sc.Name, sc.Title, i+1, len(scs))
		r, err := b.scenario(ctx, sc)
		if err != nil {
			return out, fmt.Errorf("scenario %s: %w", sc.Name, err)
		}
		b.logf("   => %s", r.line())
		out = append(out, *r)
	}
	return out, nil
}

func (b *Bench) scenario(ctx context.Context, sc *Scenario) (*Result, error) {
	path, sp, err := b.pcap(sc)
	if err != nil {
		return nil, err
	}
	device := "net_pcap0,rx_pcap=" + path
	if !sc.Streamed {
		device += ",infinite_rx=1"
	}
	mbufs, memMB := b.sizing(sc, sp.Packets())
	res := &Result{Scenario: sc.Name, Title: sc.Title, Kind: sc.Kind, Target: sc.TargetText()}
	var base int64
	if sc.Kind == Memory {
		if base, err = b.baseRSS(ctx, sc, sp, device, mbufs, memMB); err != nil {
			return nil, err
		}
		b.logf("  baseline: gw with a 1 024-session table, RSS %.0f MiB", float64(base)/(1<<20))
	}
	reps := b.cfg.Reps
	if sc.Kind == Memory {
		reps = b.cfg.FillReps
	}
	fill := ""
	if sc.Kind == Stress {
		if fill, err = b.fillPcap(sc); err != nil {
			return nil, err
		}
		if b.cfg.Stressors != nil && len(b.cfg.Stressors) < len(Stressors) {
			res.Notes = append(res.Notes, "stress: only "+strings.Join(b.cfg.Stressors, ", "))
		}
	}
	for rep := 1; rep <= reps; rep++ {
		if sc.Kind == Stress {
			// The gateway alone and stressed, in turns, the first of each
			// repetition alternating, so that a drift of the machine hits
			// both alike.
			for i := range 2 {
				stressed := (rep+i)%2 == 0
				impl := "gw"
				if stressed {
					impl = stressImpl
				}
				r, err := b.attempts(ctx, sc, rep, impl, func() (*Run, error) {
					return b.gwStress(ctx, sc, sp, b.gwConfig(sc, sp, device, mbufs, memMB), fill, stressed)
				})
				if err != nil {
					return nil, err
				}
				res.runs = append(res.runs, r)
			}
			continue
		}
		if sc.Kind == Throughput {
			for i, mode := range append([]string{"macswap"}, b.cfg.Refs...) {
				impl := "testpmd"
				if i > 0 {
					impl = refImpl(mode)
				}
				tp := &Testpmd{Path: b.cfg.Testpmd, Lcores: fmt.Sprintf("%d,%d", b.cfg.MainCPU, b.cfg.WorkerCPU),
					MemoryMB: memMB, Hugepages: b.cfg.Hugepages, FilePrefix: fmt.Sprintf("fngwperf-tp%d", os.Getpid()),
					Device: device, Mbufs: mbufs, Mode: mode}
				r, err := b.attempts(ctx, sc, rep, impl, func() (*Run, error) {
					return tp.Measure(ctx, b.cfg.Warmup+time.Second, b.cfg.Window)
				})
				if err != nil {
					return nil, err
				}
				res.runs = append(res.runs, r)
			}
			if b.cfg.CRef != "" {
				r, err := b.attempts(ctx, sc, rep, crefImpl, func() (*Run, error) {
					return b.cref(sp, sc, device, mbufs, memMB).Measure(ctx, b.cfg.Warmup+time.Second, b.cfg.Window)
				})
				if err != nil {
					return nil, err
				}
				res.runs = append(res.runs, r)
			}
		}
		r, err := b.attempts(ctx, sc, rep, "gw", func() (*Run, error) {
			cfg := b.gwConfig(sc, sp, device, mbufs, memMB)
			switch sc.Kind {
			case Throughput:
				return b.gwThroughput(ctx, sc, sp, cfg)
			case NewSessions:
				return b.gwNewSessions(ctx, sc, cfg)
			default:
				return b.gwFill(ctx, sc, cfg, base)
			}
		})
		if err != nil {
			return nil, err
		}
		res.runs = append(res.runs, r)
	}
	if b.cfg.Perf != "" && sc.Profile {
		p, err := b.profile(ctx, sc, sp, device, mbufs, memMB, res.runs)
		if err != nil {
			b.logf("  profile failed: %v", err)
			res.Notes = append(res.Notes, "profile failed: "+err.Error())
		} else {
			res.Profile = p
			b.logf("  profile: %s", p)
		}
	}
	res.summarize(sc)
	return res, nil
}

// attempts runs measure until a quiet attempt or the retry budget is spent,
// keeps the quietest, prints a progress line and writes its JSON file.
func (b *Bench) attempts(ctx context.Context, sc *Scenario, rep int, impl string, measure func() (*Run, error)) (*Run, error) {
	var best *Run
	retries := b.cfg.Retries
	if sc.Kind == Memory {
		retries = 0 // resident memory does not depend on the machine's load
	}
	for a := 1; a <= retries+1; a++ {
		load := loadAvg()
		start := time.Now()
		r, err := measure()
		if err != nil {
			return nil, fmt.Errorf("%s rep %d: %w", impl, rep, err)
		}
		r.Scenario, r.Impl, r.Rep, r.Attempt, r.Start, r.Load1 = sc.Name, impl, rep, a, start, load
		r.Noisy = r.OtherCPU > b.cfg.NoiseMax || r.Steal > b.cfg.StealMax
		b.logf("  [%s run %d] %-14s %s", sc.Name, rep, impl, r.line())
		if best == nil || r.OtherCPU+r.Steal < best.OtherCPU+best.Steal {
			best = r
		}
		if !r.Noisy || a > retries {
			break
		}
		if b.cfg.RetryBudget > 0 && time.Since(b.start) > b.cfg.RetryBudget {
			b.logf("  noisy (others %.2f cores, steal %.2f), but the retry budget of %v is spent: kept", r.OtherCPU, r.Steal, b.cfg.RetryBudget)
			break
		}
		b.logf("  noisy (others %.2f cores, steal %.2f): measuring again", r.OtherCPU, r.Steal)
	}
	best.clean()
	f := filepath.Join(b.cfg.Out, "runs", fmt.Sprintf("%s-%s-%d.json", sc.Name, impl, rep))
	data, err := json.MarshalIndent(best, "", "  ")
	if err != nil {
		return nil, err
	}
	return best, os.WriteFile(f, append(data, '\n'), 0o644)
}

// line is a run's progress line.
func (r *Run) line() string {
	var s string
	switch {
	case r.SessionsPerSec > 0:
		s = fmt.Sprintf("%.3f M sessions/s", r.SessionsPerSec/1e6)
	case r.BytesPerSessionTotal > 0:
		s = fmt.Sprintf("%.1f M sessions, %.1f B/session (growth while filling %.1f), RSS %.0f MiB", float64(r.Sessions)/1e6,
			r.BytesPerSessionTotal, r.BytesPerSession, float64(r.RSSBytes)/(1<<20))
	default:
		s = fmt.Sprintf("%6.2f Mpps fwd (rx %.2f)", r.TxPPS/1e6, r.RxPPS/1e6)
		if r.Impl == "gw" || r.Impl == stressImpl {
			s += fmt.Sprintf(", busy %.0f%%", 100*r.Utilisation)
		}
		if r.GapTurns > 0 {
			s += fmt.Sprintf(", longest gap %.1f µs, p99.99 %s µs, %d GC pauses, p99 %s µs (stopping %s µs)", r.GapMaxS*1e6, quantileText(r.GapP9999, 1e6),
				r.GCPauses, quantileText(r.GCPauseP99, 1e6), quantileText(r.GCStopP99, 1e6))
			s += fmt.Sprintf(", worker thread ran %.1f%% of the window, waited for its CPU %.1f%%; Go scheduling latency p99.99 %s µs, longest ≤ %.0f µs",
				100*r.WorkerRunShare, 100*r.WorkerWaitShare, quantileText(r.SchedLatP9999, 1e6), r.SchedLatMaxLe*1e6)
		}
		if r.Load != nil {
			s += "; " + r.Load.line()
		}
	}
	s += fmt.Sprintf("  [load %.2f, others %.2f cores, steal %.2f]", r.Load1, r.OtherCPU, r.Steal)
	if len(r.Notes) > 0 {
		s += "  " + strings.Join(r.Notes, "; ")
	}
	return s
}

// waitSessions polls until the gateway has created want sessions (the first
// pass of a looped pcap) and returns the samples taken.
func waitSessions(ctx context.Context, g *Gateway, want uint64, limit time.Duration) ([]Sample, error) {
	var samples []Sample
	deadline := time.Now().Add(limit)
	for {
		cs, err := g.Stats(ctx)
		if err != nil {
			return samples, err
		}
		t := sumCores(cs)
		samples = append(samples, Sample{T: time.Since(g.Ready).Seconds(), Rx: t.Rx, Tx: t.Tx, Sessions: t.Sessions, Created: t.Created})
		if t.Created >= want {
			return samples, nil
		}
		if time.Now().After(deadline) {
			return samples, fmt.Errorf("%d of %d sessions created after %v (drops %v)", t.Created, want, limit, t.Drops)
		}
		if err := sleepCtx(ctx, 5*time.Millisecond); err != nil {
			return samples, err
		}
	}
}

// snapshot reads the port and core counters, stamping the CPU snapshot with
// the middle of the reads.
func snapshot(ctx context.Context, g *Gateway) (PortStats, CoreStats, cpuSnap, error) {
	c := snapCPU(g.Pid())
	ps, err := g.Link(ctx)
	mid := c.at.Add(time.Since(c.at) / 2)
	if err != nil {
		return PortStats{}, CoreStats{}, c, err
	}
	c.at = mid
	cs, err := g.Stats(ctx)
	if err != nil {
		return PortStats{}, CoreStats{}, c, err
	}
	if len(ps) == 0 {
		return PortStats{}, CoreStats{}, c, fmt.Errorf("gw reports no port")
	}
	return ps[0], sumCores(cs), c, nil
}

func (b *Bench) gwThroughput(ctx context.Context, sc *Scenario, sp gen.Spec, cfg *GatewayConfig) (*Run, error) {
	g, err := b.startGW(ctx, sc, cfg, "gw")
	if err != nil {
		return nil, err
	}
	defer g.Stop()
	r := &Run{Impl: "gw", StartupS: g.Ready.Sub(g.Start).Seconds()}
	ps, err := g.Link(ctx)
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 || !strings.EqualFold(ps[0].MAC, sp.GatewayMAC.String()) {
		return nil, fmt.Errorf("the gateway's port MAC is %v, the pcap is addressed to %s (see gen.LabGatewayMAC)", ps, sp.GatewayMAC)
	}
	if _, err := waitSessions(ctx, g, uint64(sc.Flows), 2*time.Minute); err != nil {
		return nil, err
	}
	if err := sleepCtx(ctx, b.cfg.Warmup); err != nil {
		return nil, err
	}
	p0, k0, c0, err := snapshot(ctx, g)
	if err != nil {
		return nil, err
	}
	if err := sleepCtx(ctx, b.cfg.Window); err != nil {
		return nil, err
	}
	p1, k1, c1, err := snapshot(ctx, g)
	if err != nil {
		return nil, err
	}
	r.gwWindow(p0, p1, k0, k1, c0, c1)
	return r, nil
}

// gwWindow sets a gateway run's figures over the window from the port and
// core counters read at its ends.
func (r *Run) gwWindow(p0, p1 PortStats, k0, k1 CoreStats, c0, c1 cpuSnap) {
	r.fill(c0, c1, p1.RxPackets-p0.RxPackets, p1.TxPackets-p0.TxPackets, p1.Imissed-p0.Imissed)
	if d := k1.TotalNs - k0.TotalNs; d > 0 {
		r.Utilisation = float64(k1.BusyNs-k0.BusyNs) / float64(d)
	}
	r.Sessions, r.Created = k1.Sessions, k1.Created
	var dropped uint64
	for k, v := range k1.Drops {
		if d := v - k0.Drops[k]; d > 0 {
			if r.Drops == nil {
				r.Drops = map[string]uint64{}
			}
			r.Drops[k] = d
			dropped += d
		}
	}
	if dropped > r.RxPkts/1000 {
		r.Notes = append(r.Notes, fmt.Sprintf("dropped %d of %d packets in the window: %v", dropped, r.RxPkts, r.Drops))
	}
}

func (b *Bench) gwNewSessions(ctx context.Context, sc *Scenario, cfg *GatewayConfig) (*Run, error) {
	g, err := b.startGW(ctx, sc, cfg, "gw")
	if err != nil {
		return nil, err
	}
	defer g.Stop()
	c0 := snapCPU(g.Pid())
	samples, err := waitSessions(ctx, g, uint64(sc.Flows), 5*time.Minute)
	if err != nil {
		return nil, err
	}
	c1 := snapCPU(g.Pid())
	r := &Run{Impl: "gw", Samples: samples, StartupS: g.Ready.Sub(g.Start).Seconds()}
	r.OtherCPU, r.Steal = noise(c0, c1)
	var t, n, rx []float64
	lo, hi := 0.1*float64(sc.Flows), 0.9*float64(sc.Flows)
	for _, s := range samples {
		if c := float64(s.Created); c >= lo && c <= hi {
			t, n, rx = append(t, s.T), append(n, c), append(rx, float64(s.Rx))
		}
	}
	if len(t) < 3 {
		// Too fast for the sampling: the whole pass between the first and last
		// samples that saw it under way.
		t, n, rx = t[:0], n[:0], rx[:0]
		for _, s := range samples {
			if s.Created > 0 {
				t, n, rx = append(t, s.T), append(n, float64(s.Created)), append(rx, float64(s.Rx))
			}
		}
		r.Notes = append(r.Notes, fmt.Sprintf("only %d samples inside 10-90%% of the pass; rate over the whole pass", len(t)))
	}
	r.SessionsPerSec = Slope(t, n)
	r.RxPPS = Slope(t, rx)
	last := samples[len(samples)-1]
	r.Sessions, r.Created = last.Sessions, last.Created
	if cs, err := g.Stats(ctx); err == nil {
		if d := sumCores(cs).Drops; len(d) > 0 {
			r.Drops = d
			r.Notes = append(r.Notes, fmt.Sprintf("drops %v", d))
		}
	}
	return r, nil
}

// passWindow is how long a new-sessions profile records: 60 % of the first
// pass at the median rate runs measured (sc.Flows sessions), within 0.1 to
// 2 s; 2 s without a rate.
func passWindow(sc *Scenario, runs []*Run) time.Duration {
	var rates []float64
	for _, r := range runs {
		if r.SessionsPerSec > 0 {
			rates = append(rates, r.SessionsPerSec)
		}
	}
	if len(rates) == 0 {
		return 2 * time.Second
	}
	d := time.Duration(0.6 * float64(sc.Flows) / Summarize(rates).Median * float64(time.Second))
	return min(max(d, 100*time.Millisecond), 2*time.Second)
}

// baseRSS is the resident memory of the same gateway with a 1 024-session
// table, a few seconds into the same traffic: what the fill is compared with.
func (b *Bench) baseRSS(ctx context.Context, sc *Scenario, sp gen.Spec, device string, mbufs, memMB int) (int64, error) {
	small := *sc
	small.Capacity = 1024
	g, err := b.startGW(ctx, &small, b.gwConfig(&small, sp, device, mbufs, memMB), "base")
	if err != nil {
		return 0, err
	}
	defer g.Stop()
	if err := sleepCtx(ctx, 3*time.Second); err != nil {
		return 0, err
	}
	return rssBytes(g.Pid()), nil
}

func (b *Bench) gwFill(ctx context.Context, sc *Scenario, cfg *GatewayConfig, base int64) (*Run, error) {
	g, err := b.startGW(ctx, sc, cfg, "gw")
	if err != nil {
		return nil, err
	}
	defer g.Stop()
	pid := g.Pid()
	c0 := snapCPU(pid)
	r := &Run{Impl: "gw", BaseRSSBytes: base, StartupS: g.Ready.Sub(g.Start).Seconds()}
	var stall time.Time
	var prev uint64
	deadline := time.Now().Add(10 * time.Minute)
	for {
		cs, err := g.Stats(ctx)
		if err != nil {
			return nil, err
		}
		t := sumCores(cs)
		s := Sample{T: time.Since(g.Ready).Seconds(), Rx: t.Rx, Tx: t.Tx, Sessions: t.Sessions, Created: t.Created, RSS: rssBytes(pid)}
		r.Samples = append(r.Samples, s)
		if t.Created >= uint64(sc.Flows) {
			r.Drops = t.Drops
			break
		}
		if t.Created != prev || stall.IsZero() {
			prev, stall = t.Created, time.Now()
		} else if time.Since(stall) > 5*time.Second {
			r.Drops = t.Drops
			r.Notes = append(r.Notes, fmt.Sprintf("creation stopped at %d of %d sessions (drops %v)", t.Created, sc.Flows, t.Drops))
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("fill did not finish in 10 minutes (%d sessions)", t.Created)
		}
		if err := sleepCtx(ctx, 250*time.Millisecond); err != nil {
			return nil, err
		}
	}
	// Let the last pages settle, then the final reading.
	_ = sleepCtx(ctx, 500*time.Millisecond)
	cs, err := g.Stats(ctx)
	if err != nil {
		return nil, err
	}
	t := sumCores(cs)
	r.Sessions, r.Created, r.RSSBytes = t.Sessions, t.Created, rssBytes(pid)
	r.Samples = append(r.Samples, Sample{T: time.Since(g.Ready).Seconds(), Rx: t.Rx, Tx: t.Tx, Sessions: t.Sessions, Created: t.Created, RSS: r.RSSBytes})
	c1 := snapCPU(pid)
	r.OtherCPU, r.Steal = noise(c0, c1)
	var xs, ys []float64
	for _, s := range r.Samples {
		if f := float64(s.Sessions); f >= 0.1*float64(r.Sessions) && f <= 0.9*float64(r.Sessions) {
			xs, ys = append(xs, f), append(ys, float64(s.RSS))
		}
	}
	r.BytesPerSession = Slope(xs, ys)
	if r.Sessions > 0 {
		r.BytesPerSessionTotal = float64(r.RSSBytes-base) / float64(r.Sessions)
	}
	if n := len(r.Samples); n > 1 {
		first, last := r.Samples[0], r.Samples[n-1]
		if dt := last.T - first.T; dt > 0 {
			r.Notes = append(r.Notes, fmt.Sprintf("filled at %.2f M sessions/s", float64(last.Created-first.Created)/dt/1e6))
		}
	}
	return r, nil
}

// profile records where the gateway's worker spends its time with linux
// perf on the worker CPU (established traffic, or the SYN pass) and writes
// the flat report next to the results. runs are the scenario's measured
// runs (a new-sessions profile is timed from them).
func (b *Bench) profile(ctx context.Context, sc *Scenario, sp gen.Spec, device string, mbufs, memMB int, runs []*Run) (string, error) {
	g, err := b.startGW(ctx, sc, b.gwConfig(sc, sp, device, mbufs, memMB), "profile")
	if err != nil {
		return "", err
	}
	defer g.Stop()
	dur := b.cfg.Window
	if sc.Kind == Throughput {
		if _, err := waitSessions(ctx, g, uint64(sc.Flows), 2*time.Minute); err != nil {
			return "", err
		}
		if err := sleepCtx(ctx, b.cfg.Warmup); err != nil {
			return "", err
		}
	} else {
		// Inside the first pass, from its first session on; later passes
		// only find the sessions it made.
		dur = passWindow(sc, runs)
		if _, err := waitSessions(ctx, g, 1, 2*time.Minute); err != nil {
			return "", err
		}
	}
	data := filepath.Join(b.cfg.Work, sc.Name+".perf.data")
	rec := exec.CommandContext(ctx, b.cfg.Perf, "record", "-q", "-g", "-C", fmt.Sprint(b.cfg.WorkerCPU), "-o", data,
		"--", "sleep", fmt.Sprintf("%.2f", dur.Seconds()))
	if out, err := rec.CombinedOutput(); err != nil {
		return "", fmt.Errorf("perf record: %v: %s", err, tail(string(out), 5))
	}
	var report strings.Builder
	fmt.Fprintf(&report, "# %s: %s\n# perf record -g -C %d for %v on the gw worker CPU; flat profile (self time)\n\n",
		sc.Name, sc.Title, b.cfg.WorkerCPU, dur)
	for _, args := range [][]string{
		{"report", "-i", data, "--stdio", "--no-children", "--sort", "comm,dso", "-g", "none", "--percent-limit", "0.5"},
		{"report", "-i", data, "--stdio", "--no-children", "--sort", "dso,symbol", "-g", "none", "--percent-limit", "0.4"},
	} {
		out, err := exec.CommandContext(ctx, b.cfg.Perf, args...).Output()
		if err != nil {
			return "", fmt.Errorf("perf report: %v", err)
		}
		for _, l := range strings.Split(string(out), "\n") {
			if strings.TrimSpace(l) != "" && !strings.HasPrefix(l, "# ") && l != "#" {
				// perf pads empty columns with "-": drop them.
				report.WriteString(strings.TrimRight(l, " -") + "\n")
			}
		}
		report.WriteString("\n")
	}
	_ = os.Remove(data)
	f := filepath.Join(b.cfg.Out, sc.Name+".profile.txt")
	return f, os.WriteFile(f, []byte(report.String()), 0o644)
}

// summarize computes the result's summaries and verdict from its runs.
func (res *Result) summarize(sc *Scenario) {
	var tp, gw, ratio, val, marg []float64
	var refs []string // the yardsticks besides macswap, in the order of their first run
	byRep, gwByRep := map[int]*Run{}, map[int]*Run{}
	for _, r := range res.runs {
		res.Runs = append(res.Runs, filepath.Join("runs", fmt.Sprintf("%s-%s-%d.json", r.Scenario, r.Impl, r.Rep)))
		if r.Noisy {
			res.Noisy++
		}
		switch {
		case sc.Kind == Stress: // summarizeStress, below
		case r.Impl == "testpmd":
			tp = append(tp, r.TxPPS/1e6)
			byRep[r.Rep] = r
		case r.Impl != "gw":
			if !slices.Contains(refs, r.Impl) {
				refs = append(refs, r.Impl)
			}
		case sc.Kind == Throughput:
			gw = append(gw, r.TxPPS/1e6)
			gwByRep[r.Rep] = r
			if t := byRep[r.Rep]; t != nil && t.TxPPS > 0 {
				ratio = append(ratio, r.TxPPS/t.TxPPS)
			}
		case sc.Kind == NewSessions:
			val = append(val, r.SessionsPerSec)
		case sc.Kind == Memory:
			val = append(val, r.BytesPerSessionTotal)
			marg = append(marg, r.BytesPerSession)
		}
	}
	res.Testpmd, res.GW, res.Ratio = Summarize(tp), Summarize(gw), Summarize(ratio)
	if sc.Kind == Stress {
		res.summarizeStress()
	}
	res.Refs = nil
	for _, impl := range refs {
		var mpps, ratio []float64
		for _, r := range res.runs {
			if r.Impl != impl {
				continue
			}
			mpps = append(mpps, r.TxPPS/1e6)
			if g := gwByRep[r.Rep]; g != nil && r.TxPPS > 0 {
				ratio = append(ratio, g.TxPPS/r.TxPPS)
			}
		}
		res.Refs = append(res.Refs, Ref{Impl: impl, Mpps: Summarize(mpps), Ratio: Summarize(ratio)})
	}
	res.Value, res.Marginal = Summarize(val), Summarize(marg)
	switch sc.Kind {
	case Throughput, Stress:
		res.Met = sc.Target == 0 || res.Ratio.Median >= sc.Target
	case NewSessions:
		res.Met = res.Value.Median >= sc.Target
	case Memory:
		var ss []float64
		for _, r := range res.runs {
			ss = append(ss, float64(r.Sessions))
		}
		res.Sessions = uint64(Summarize(ss).Median)
		res.Met = res.Sessions >= uint64(sc.MinSessions) && res.Value.Median <= sc.Target
		if res.Sessions >= uint64(sc.MinSessions) && !res.Met {
			res.Notes = append(res.Notes, fmt.Sprintf("%d sessions reached (target met); bytes per session missed", res.Sessions))
		}
	}
	switch {
	case sc.Target == 0:
		res.Verdict = "(no target)"
	case math.IsNaN(res.Ratio.Median) && (sc.Kind == Throughput || sc.Kind == Stress):
		res.Verdict = "not measured"
	case res.Met:
		res.Verdict = "met"
	default:
		res.Verdict = "**missed**"
	}
}

// line is a result's one-line summary.
func (res *Result) line() string {
	switch res.Kind {
	case Throughput:
		return fmt.Sprintf("testpmd %s Mpps, gw %s Mpps, ratio %s (target %s): %s%s", res.Testpmd.Text(2), res.GW.Text(2),
			res.Ratio.Text(2), res.Target, res.Verdict, res.refsText())
	case NewSessions:
		m := Summary{Median: res.Value.Median / 1e6, Min: res.Value.Min / 1e6, Max: res.Value.Max / 1e6}
		return fmt.Sprintf("%s M sessions/s (target %s): %s", m.Text(3), res.Target, res.Verdict)
	case Stress:
		st := res.Stress
		return fmt.Sprintf("gw %s Mpps stressed, %s alone, ratio %s (target %s): %s; stressed: longest gap %s µs, p99.99 gap %s µs, GC pause p99 %s µs over %s pauses",
			res.GW.Text(2), st.BaseMpps.Text(2), res.Ratio.Text(2), res.Target, res.Verdict, scaled(st.GapMaxS, 1e6).Text(0),
			quantileText(st.GapP9999, 1e6), quantileText(st.GCPauseP99, 1e6), st.GCPauses.Text(0))
	default:
		return fmt.Sprintf("%.1f M sessions, %s B/session, growth while filling %s (target %s): %s", float64(res.Sessions)/1e6,
			res.Value.Text(1), res.Marginal.Text(1), res.Target, res.Verdict)
	}
}

// refsText is the yardsticks' figures as the progress prints them:
// "; testpmd-5tswap 36.40 Mpps, gw / it 0.42".
func (res *Result) refsText() string {
	var b strings.Builder
	for _, r := range res.Refs {
		fmt.Fprintf(&b, "; %s %s Mpps, gw / it %s", r.Impl, r.Mpps.Text(2), r.Ratio.Text(2))
	}
	return b.String()
}

// scaled is s with every figure multiplied by k.
func scaled(s Summary, k float64) Summary {
	return Summary{Median: s.Median * k, Min: s.Min * k, Max: s.Max * k, N: s.N}
}

// quantileText is a quantile times k as "≈ est (lo–hi]", "> lo" in the
// last bucket, "—" when not measured.
func quantileText(q *Quantile, k float64) string {
	switch {
	case q == nil:
		return "—"
	case q.Open:
		return fmt.Sprintf("> %.1f", q.Lo*k)
	}
	return fmt.Sprintf("≈ %.1f (%.1f–%.1f]", q.Est*k, q.Lo*k, q.Hi*k)
}

// Text formats a summary as "median (min–max)".
func (s Summary) Text(prec int) string {
	if math.IsNaN(s.Median) {
		return "—"
	}
	if s.Min == s.Max {
		return fmt.Sprintf("%.*f", prec, s.Median)
	}
	return fmt.Sprintf("%.*f (%.*f–%.*f)", prec, s.Median, prec, s.Min, prec, s.Max)
}
