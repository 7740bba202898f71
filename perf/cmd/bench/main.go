// Command bench is the perf lab's runner (`make bench`): for each scenario it
// runs dpdk-testpmd and then the gateway on the same net_pcap vdev and core,
// measures them over the same window, repeats, and writes a Markdown table,
// one JSON file per run and a summary under perf/results/STAMP, then draws
// their PNG charts with perf/chart (a module of its own).
//
//	go run ./perf/cmd/bench                       # every scenario, 3 runs each
//	go run ./perf/cmd/bench -scenarios udp-1k -reps 5 -window 10s
//	go run ./perf/cmd/bench -quick                # one short run of each, no profiles
//
// It needs root (DPDK EAL), dpdk-testpmd, a built gw (make build) and about
// 6 GiB of free memory (a million-packet pcap replayed from memory holds one
// mbuf per frame, 4 KiB each without hugepages). See perf/README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"fngw/perf/lab"
)

func main() {
	var names []string
	for _, s := range lab.Scenarios {
		names = append(names, s.Name)
	}
	var (
		gw        = flag.String("gw", "bin/gw", "the gw binary")
		testpmd   = flag.String("testpmd", "dpdk-testpmd", "dpdk-testpmd")
		cref      = flag.String("cref", "", "perf/cref's binary (perf/cref/build.sh OUT), the gateway's work in C, measured as a yardstick in throughput scenarios (empty: none)")
		refs      = flag.String("refs", "5tswap", "comma-separated testpmd forward modes also measured in throughput scenarios, as yardsticks beside macswap (empty: none)")
		perfBin   = flag.String("perf", "perf", "linux perf for profiles of the gateway (empty: none)")
		out       = flag.String("out", "perf/results", "results directory (a timestamped subdirectory is made)")
		cache     = flag.String("cache", "/var/tmp/fngw-perf", "where generated pcaps are kept between runs")
		scen      = flag.String("scenarios", strings.Join(names, ","), "comma-separated scenarios to run")
		reps      = flag.Int("reps", 3, "runs per scenario and forwarder")
		window    = flag.Duration("window", 4*time.Second, "measurement window of throughput runs")
		warmup    = flag.Duration("warmup", time.Second, "wait after sessions exist, before the window")
		cpus      = flag.String("cpus", "0,1", "MAIN,WORKER CPUs: both forwarders poll on WORKER")
		huge      = flag.Bool("hugepages", false, "run both forwarders on hugepages (reserve and mount them first)")
		stressors = flag.String("stress", strings.Join(lab.Stressors, ","), "the parts of stress-1k's load that run (to find what costs what)")
		kernel    = flag.String("kernel-iface", "", "configure the kernel path on the gateway's port, with this interface name (the gateway runs in network namespace "+lab.KernelNetns+")")
		noiseMax  = flag.Float64("noise", 0.3, "re-run when other processes used more than this many cores in the window")
		stealMax  = flag.Float64("steal", 0.1, "re-run when the hypervisor stole more than this many cores")
		retries   = flag.Int("retries", 1, "re-runs of a noisy run")
		budget    = flag.Duration("retry-budget", 7*time.Minute, "no re-runs once the bench has run this long (0: no limit)")
		fillReps  = flag.Int("fill-reps", 1, "runs of the table-fill scenario (its bytes per session do not vary)")
		quick     = flag.Bool("quick", false, "one short run per scenario, no profiles, no table fill (a smoke test)")
		noProfile = flag.Bool("no-profile", false, "skip the perf profiles")
		replot    = flag.String("charts", "", "only draw the charts of an existing results directory again")
		chart     = flag.String("chart-module", "perf/chart", "the chart module's directory, where the charts are drawn with go run (empty: no charts)")
		goBin     = flag.String("go", "go", "the go command that runs the chart module")
	)
	flag.Parse()
	if *replot != "" {
		if err := lab.DrawCharts(context.Background(), *goBin, *chart, *replot, os.Stdout); err != nil {
			fail("charts: %v", err)
		}
		return
	}
	if *quick {
		*reps, *window, *noProfile, *retries = 1, 2*time.Second, true, 0
		if !flagSet("scenarios") {
			*scen = "udp-1k,udp-1m,mixed-1k,syn-1m"
		}
	}
	var scs []lab.Scenario
	for _, n := range strings.Split(*scen, ",") {
		s, ok := lab.ByName(strings.TrimSpace(n))
		if !ok {
			fail("unknown scenario %q (known: %s)", n, strings.Join(names, ", "))
		}
		scs = append(scs, s)
	}
	main, worker, err := parseCPUs(*cpus)
	if err != nil {
		fail("-cpus: %v", err)
	}
	if os.Geteuid() != 0 {
		fail("the perf lab needs root (DPDK EAL, hugepages, vdevs)")
	}
	if err := lab.PinRunner(main); err != nil {
		fail("%v", err)
	}
	tp, err := exec.LookPath(*testpmd)
	if err != nil {
		fail("%s not found: apt-get install dpdk (Debian's DPDK 22.11 ships dpdk-testpmd)", *testpmd)
	}
	gwBin, err := filepath.Abs(*gw)
	if err != nil {
		fail("%v", err)
	}
	if _, err := os.Stat(gwBin); err != nil {
		fail("%s: %v (run make build first)", gwBin, err)
	}
	perf := ""
	if !*noProfile && *perfBin != "" {
		if p, err := exec.LookPath(*perfBin); err == nil {
			perf = p
		} else {
			fmt.Fprintf(os.Stderr, "bench: %s not found, no profiles (apt-get install linux-perf)\n", *perfBin)
		}
	}
	start := time.Now()
	stamp := start.UTC().Format("20060102-150405")
	dir := filepath.Join(*out, stamp)
	work, err := os.MkdirTemp("", "fngw-perf-")
	if err != nil {
		fail("%v", err)
	}
	defer os.RemoveAll(work)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var refModes []string
	for _, m := range strings.Split(*refs, ",") {
		if m = strings.TrimSpace(m); m != "" {
			if !lab.IsTestpmdMode(m) {
				fail("-refs: unknown testpmd forward mode %q (known: %s)", m, strings.Join(lab.TestpmdModes, ", "))
			}
			refModes = append(refModes, m)
		}
	}
	var stressOn []string
	for _, n := range strings.Split(*stressors, ",") {
		if n = strings.TrimSpace(n); n != "" {
			if !slices.Contains(lab.Stressors, n) {
				fail("-stress: unknown part %q (known: %s)", n, strings.Join(lab.Stressors, ", "))
			}
			stressOn = append(stressOn, n)
		}
	}
	crefBin := ""
	if *cref != "" {
		if crefBin, err = filepath.Abs(*cref); err == nil {
			_, err = os.Stat(crefBin)
		}
		if err != nil {
			fail("-cref: %v (build it with perf/cref/build.sh %s)", err, *cref)
		}
	}
	b, err := lab.New(lab.Config{GW: gwBin, Testpmd: tp, Refs: refModes, CRef: crefBin, Perf: perf, Out: dir, Cache: *cache, Work: work,
		MainCPU: main, WorkerCPU: worker, Reps: *reps, Warmup: *warmup, Window: *window, Hugepages: *huge, KernelIface: *kernel, Stressors: stressOn,
		NoiseMax: *noiseMax, StealMax: *stealMax, Retries: *retries, RetryBudget: *budget, FillReps: *fillReps,
		Progress: os.Stdout})
	if err != nil {
		fail("%v", err)
	}
	m := lab.DescribeMachine()
	m.Hugepages = *huge
	fmt.Printf("fngw perf lab: %d scenarios, %d runs each (table fill: %d), results in %s\nmachine: %s\nload: %s\n",
		len(scs), *reps, *fillReps, dir, m, lab.LoadLine())
	results, err := b.Run(ctx, scs)
	rep := &lab.Report{Start: start, Duration: time.Since(start).Seconds(), Machine: m,
		Command: "go run ./perf/cmd/bench " + strings.Join(os.Args[1:], " "), Reps: *reps, FillReps: *fillReps, WindowS: window.Seconds(), Results: results}
	if werr := rep.Write(dir); werr != nil {
		fail("%v", werr)
	}
	if *chart != "" {
		if cerr := lab.DrawCharts(ctx, *goBin, *chart, dir, os.Stdout); cerr != nil {
			fmt.Fprintf(os.Stderr, "bench: no charts (the results are written; draw them later with -charts %s): %v\n", dir, cerr)
		}
	}
	fmt.Printf("\n%s\nresults: %s (took %v)\n", rep.Table(), dir, time.Since(start).Round(time.Second))
	if err != nil {
		fail("%v", err)
	}
}

func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func parseCPUs(s string) (int, int, error) {
	a, b, ok := strings.Cut(s, ",")
	if !ok {
		return 0, 0, fmt.Errorf("%q: want MAIN,WORKER", s)
	}
	m, err1 := strconv.Atoi(a)
	w, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil || m < 0 || w == m {
		return 0, 0, fmt.Errorf("%q: want MAIN,WORKER with MAIN != WORKER", s)
	}
	return m, w, nil
}

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", a...)
	os.Exit(1)
}
