// Command chart draws the PNG charts of a perf lab run (perf/cmd/bench, which
// runs it when a run ends) from the run's results directory: the forwarding
// rate of each throughput scenario beside testpmd's and the yardsticks', with
// its target; sessions created over time in the first pass of unique SYNs;
// and the memory per session of a filled table against its target.
//
//	cd perf/chart && go run . ../results/STAMP             # into the results directory
//	cd perf/chart && go run . -o /tmp ../results/STAMP     # elsewhere
//
// It is a module of its own so that the gateway's module does not need the
// plotting library. It reads summary.json and the runs/*.json files it lists
// (perf/lab's Report and Run); targets are read from the text the runner
// writes for them.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

func main() {
	out := flag.String("o", "", "write the charts into this directory (default: the results directory)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: chart [-o DIR] RESULTS_DIR\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	dir := flag.Arg(0)
	if *out == "" {
		*out = dir
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fail("%v", err)
	}
	rep, err := load(dir)
	if err != nil {
		fail("%v", err)
	}
	for _, r := range rep.Results {
		if _, ok := r.target(); !ok && r.Target != "" && r.Target != noTarget {
			fmt.Fprintf(os.Stderr, "chart: %s: target %q not understood; drawn without it\n", r.Scenario, r.Target)
		}
	}
	files, err := write(rep, *out)
	if err != nil {
		fail("%v", err)
	}
	fmt.Printf("charts of %s in %s: %s\n", dir, *out, strings.Join(files, ", "))
}

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "chart: "+format+"\n", a...)
	os.Exit(1)
}
