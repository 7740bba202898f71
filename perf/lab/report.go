package lab

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Report is what a bench run writes as summary.json.
type Report struct {
	Start    time.Time `json:"start"`
	Duration float64   `json:"duration_s"`
	Machine  Machine   `json:"machine"`
	Command  string    `json:"command"`
	Reps     int       `json:"reps"`
	FillReps int       `json:"fill_reps"`
	WindowS  float64   `json:"window_s"`
	Results  []Result  `json:"results"`
}

// Table renders the results as a Markdown table.
func (rep *Report) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Measured %s on %s.\n", rep.Start.UTC().Format("2006-01-02 15:04 MST"), rep.Machine)
	fmt.Fprintf(&b, "Median of %d runs (min–max; table fill: %d run); one worker core; testpmd `macswap` (then the yardsticks\n", rep.Reps, rep.FillReps)
	fmt.Fprintf(&b, "listed) and gw one after the other on the same `net_pcap` vdev and core in each run; %.0f s windows. Command: `%s`.\n\n", rep.WindowS, rep.Command)
	b.WriteString("| scenario | testpmd Mpps | gw Mpps | gw / testpmd | yardsticks: Mpps, gw / it | gw figure | target | result |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	for _, r := range rep.Results {
		tp, gw, ratio, refs, fig := "—", "—", "—", "—", "—"
		switch r.Kind {
		case Throughput:
			tp, gw, ratio = r.Testpmd.Text(2), r.GW.Text(2), r.Ratio.Text(2)
			fig = "forwarded pps"
			if len(r.Refs) > 0 {
				var l []string
				for _, f := range r.Refs {
					l = append(l, fmt.Sprintf("%s %s, %s", f.Impl, f.Mpps.Text(2), f.Ratio.Text(2)))
				}
				refs = strings.Join(l, "; ")
			}
		case NewSessions:
			m := Summary{Median: r.Value.Median / 1e6, Min: r.Value.Min / 1e6, Max: r.Value.Max / 1e6}
			fig = m.Text(3) + " M sessions/s"
		case Memory:
			fig = fmt.Sprintf("%.2f M sessions; %s B/session (growth while filling %s)", float64(r.Sessions)/1e6, r.Value.Text(1), r.Marginal.Text(1))
		case Stress:
			gw, ratio = r.GW.Text(2), r.Ratio.Text(2)
			fig = fmt.Sprintf("forwarded pps stressed ÷ alone (alone: %s Mpps)", r.Stress.BaseMpps.Text(2))
		}
		noisy := ""
		if r.Noisy > 0 {
			noisy = fmt.Sprintf(" (%d noisy runs)", r.Noisy)
		}
		fmt.Fprintf(&b, "| `%s` %s | %s | %s | %s | %s | %s | %s | %s%s |\n", r.Scenario, r.Title, tp, gw, ratio, refs, fig, r.Target, r.Verdict, noisy)
	}
	b.WriteString(rep.targets())
	return b.String()
}

// Targets of the stalls and of the distance from C, judged from the
// stress scenario and the cref yardstick when the run has them.
const (
	TargetGapMax     = 200e-6 // s: the longest worker gap under stress
	TargetGapP9999   = 20e-6  // s: the 99.99th percentile gap under stress
	TargetGCPauseP99 = 100e-6 // s: the 99th percentile GC pause under stress
	TargetCRef1k     = 0.75   // udp-1k gw / cref
	TargetCRef1m     = 0.90   // udp-1m gw / cref
)

// targets is the table of the stalls' and cref's targets, for the results
// the run has ("" when it has none of them). Quantiles are judged on the
// worst repetition, from power-of-two buckets: met when the bucket's upper
// bound is within the target, missed when its lower bound is not, by the
// interpolated estimate otherwise ("est.").
func (rep *Report) targets() string {
	var rows []string
	row := func(figure, target, measured, verdict string) {
		rows = append(rows, fmt.Sprintf("| %s | %s | %s | %s |", figure, target, measured, verdict))
	}
	for _, r := range rep.Results {
		st := r.Stress
		if st == nil {
			continue
		}
		row(fmt.Sprintf("`%s` throughput ÷ the same gateway alone (gw Mpps %s ÷ %s)", r.Scenario, r.GW.Text(2), st.BaseMpps.Text(2)),
			r.Target, r.Ratio.Text(2), r.Verdict)
		gapMax := "not measured"
		if st.GapMaxS.N > 0 {
			gapMax = "met"
			if st.GapMaxS.Max > TargetGapMax {
				gapMax = "**missed**"
			}
		}
		row(fmt.Sprintf("longest worker gap under `%s` (alone: %s µs)", r.Scenario, scaled(st.BaseGapMaxS, 1e6).Text(0)),
			"≤ 200 µs", scaled(st.GapMaxS, 1e6).Text(0)+" µs", gapMax)
		row(fmt.Sprintf("p99.99 worker gap under `%s`, worst run (alone: %s µs)", r.Scenario, quantileText(st.BaseGapP9999, 1e6)),
			"≤ 20 µs", quantileText(st.GapP9999, 1e6)+" µs", st.GapP9999.Verdict(TargetGapP9999))
		row(fmt.Sprintf("GC pause p99 under `%s`, worst run (%s pauses in a window; alone: %s)", r.Scenario, st.GCPauses.Text(0), st.BaseGCPauses.Text(0)),
			"≤ 100 µs", quantileText(st.GCPauseP99, 1e6)+" µs", st.GCPauseP99.Verdict(TargetGCPauseP99))
		row(fmt.Sprintf("(no target) under `%s`, the worker's thread: ran, waited for its CPU, in %% of the window (alone: %s, %s)", r.Scenario,
			scaled(st.BaseRunShare, 100).Text(1), scaled(st.BaseWaitShare, 100).Text(1)),
			"—", scaled(st.RunShare, 100).Text(1)+", "+scaled(st.WaitShare, 100).Text(1), "—")
	}
	for _, c := range []struct {
		scenario string
		target   float64
	}{{"udp-1k", TargetCRef1k}, {"udp-1m", TargetCRef1m}} {
		for _, r := range rep.Results {
			for _, f := range r.Refs {
				if r.Scenario != c.scenario || f.Impl != crefImpl {
					continue
				}
				verdict := "met"
				if !(f.Ratio.Median >= c.target) {
					verdict = "**missed**"
				}
				row(fmt.Sprintf("`%s` gw / cref (one worker)", c.scenario), fmt.Sprintf("≥ %.2f", c.target), f.Ratio.Text(2), verdict)
			}
		}
	}
	if len(rows) == 0 {
		return ""
	}
	return "\n| figure | target | measured | result |\n|---|---|---|---|\n" + strings.Join(rows, "\n") + "\n"
}

// Write writes summary.json and table.md into dir.
func (rep *Report) Write(dir string) error {
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "summary.json"), append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "table.md"), []byte(rep.Table()), 0o644)
}
