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
		}
		noisy := ""
		if r.Noisy > 0 {
			noisy = fmt.Sprintf(" (%d noisy runs)", r.Noisy)
		}
		fmt.Fprintf(&b, "| `%s` %s | %s | %s | %s | %s | %s | %s | %s%s |\n", r.Scenario, r.Title, tp, gw, ratio, refs, fig, r.Target, r.Verdict, noisy)
	}
	return b.String()
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
