package main

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

var (
	colTestpmd = color.RGBA{R: 0x88, G: 0x88, B: 0x88, A: 0xff}
	colGW      = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	colTarget  = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	// colRefs colour the yardsticks, in turn.
	colRefs = []color.Color{color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}, color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
		color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}}
	targetDashes = []vg.Length{vg.Points(4), vg.Points(3)}
)

// write draws rep's charts into dir and returns the names of the files
// written; a chart with nothing to show (its scenarios were not run) is
// left out.
func write(rep *report, dir string) ([]string, error) {
	var files []string
	for _, c := range []struct {
		name string
		draw func(*report) (*plot.Plot, error)
	}{
		{"pps.png", ppsChart},
		{"new-sessions.png", newSessionsChart},
		{"sessions-memory.png", memoryChart},
	} {
		p, err := c.draw(rep)
		if err != nil {
			return files, fmt.Errorf("%s: %w", c.name, err)
		}
		if p == nil {
			continue
		}
		if err := p.Save(7*vg.Inch, 4.5*vg.Inch, filepath.Join(dir, c.name)); err != nil {
			return files, err
		}
		files = append(files, c.name)
	}
	return files, nil
}

// bars are medians with min–max error bars at x positions.
type bars struct {
	x []float64
	s []summary
}

func (b bars) Len() int                    { return len(b.s) }
func (b bars) XY(i int) (float64, float64) { return b.x[i], b.s[i].Median }
func (b bars) YError(i int) (float64, float64) {
	return b.s[i].Median - b.s[i].Min, b.s[i].Max - b.s[i].Median
}

// unmeasured is the summary of a rate not measured in a scenario.
var unmeasured = summary{Median: math.NaN(), Min: math.NaN(), Max: math.NaN()}

// refLabel is a yardstick's name in the chart's legend.
func refLabel(impl string) string {
	if impl == "cref" {
		return "cref: fngw's work in C"
	}
	return "dpdk-testpmd " + strings.TrimPrefix(impl, "testpmd-")
}

// targetLine is a dashed line in the targets' colour.
func targetLine(pts plotter.XYs) (*plotter.Line, error) {
	l, err := plotter.NewLine(pts)
	if err != nil {
		return nil, err
	}
	l.Color, l.Dashes, l.Width = colTarget, targetDashes, vg.Points(1.5)
	return l, nil
}

// ppsChart: per throughput scenario, the median rate (min–max) of testpmd
// macswap, of each yardstick and of the gateway side by side, and the
// scenario's target, a ratio of testpmd's rate, drawn at that ratio of
// testpmd's median across the scenario's bars.
func ppsChart(rep *report) (*plot.Plot, error) {
	type set struct {
		name string
		s    []summary
		col  color.Color
	}
	var names []string
	sets := []*set{{name: "dpdk-testpmd macswap", col: colTestpmd}}
	ref := map[string]*set{} // the yardsticks' sets, by impl
	gw := &set{name: "fngw FULLNAT", col: colGW}
	var targets plotter.XYs // per scenario with a target: its index and the rate it asks
	n := 0
	for _, r := range rep.Results {
		if r.Kind != throughput {
			continue
		}
		name := fmt.Sprintf("%s\ngw/testpmd %.2f", r.Scenario, r.Ratio.Median)
		if t, ok := r.target(); ok && !math.IsNaN(r.Testpmd.Median) {
			name += fmt.Sprintf(", target %.2f", t)
			targets = append(targets, plotter.XY{X: float64(n), Y: t * r.Testpmd.Median})
		}
		names = append(names, name)
		sets[0].s, gw.s = append(sets[0].s, r.Testpmd), append(gw.s, r.GW)
		for _, f := range r.Refs {
			if ref[f.Impl] == nil {
				ref[f.Impl] = &set{name: refLabel(f.Impl), col: colRefs[len(ref)%len(colRefs)]}
				sets = append(sets, ref[f.Impl])
			}
			s := ref[f.Impl]
			for len(s.s) < n {
				s.s = append(s.s, unmeasured) // not measured in an earlier scenario
			}
			s.s = append(s.s, f.Mpps)
		}
		n++
	}
	if n == 0 {
		return nil, nil
	}
	sets = append(sets, gw)
	p := plot.New()
	p.Title.Text = "Forwarding rate, one core (median, min–max)"
	p.Y.Label.Text = "Mpps forwarded"
	// The bars of a scenario side by side around its category, 0.8 wide in
	// all.
	step := 0.8 / float64(len(sets))
	w := vg.Points(56 / float64(len(sets)))
	top := 0.0
	for i, set := range sets {
		for len(set.s) < n {
			set.s = append(set.s, unmeasured)
		}
		vals := make(plotter.Values, n)
		var eb bars // the measured ones
		shift := (float64(i) - float64(len(sets)-1)/2) * step
		for j, s := range set.s {
			if math.IsNaN(s.Median) {
				continue
			}
			vals[j] = s.Median
			eb.x, eb.s = append(eb.x, float64(j)+shift), append(eb.s, s)
			top = max(top, s.Max)
		}
		bc, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return nil, err
		}
		bc.Color, bc.LineStyle.Width, bc.XMin = set.col, 0, shift
		p.Add(bc)
		p.Legend.Add(set.name, bc)
		if eb.Len() > 0 {
			e, err := plotter.NewYErrorBars(eb)
			if err != nil {
				return nil, err
			}
			p.Add(e)
		}
	}
	for i, t := range targets {
		l, err := targetLine(plotter.XYs{{X: t.X - 0.45, Y: t.Y}, {X: t.X + 0.45, Y: t.Y}})
		if err != nil {
			return nil, err
		}
		p.Add(l)
		if i == 0 {
			p.Legend.Add("target: its ratio × testpmd macswap (median)", l)
		}
		top = max(top, t.Y)
	}
	p.Y.Max = top * 1.3
	p.X.Min, p.X.Max = -0.7, float64(len(names))-0.3
	p.Legend.Top, p.Legend.Left = true, true
	p.NominalX(names...)
	p.Y.Min = 0
	return p, nil
}

// newSessionsChart: sessions created over time in each run of a
// new-sessions scenario, and the target rate from the first sample of the
// first run.
func newSessionsChart(rep *report) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Sessions created during the first pass of unique SYNs"
	p.X.Label.Text = "seconds since the gateway answered"
	p.Y.Label.Text = "sessions created (millions)"
	drawn := false
	for _, r := range rep.Results {
		if r.Kind != newSessions {
			continue
		}
		for i, ru := range r.runs {
			pts := make(plotter.XYs, len(ru.Samples))
			for j, s := range ru.Samples {
				pts[j] = plotter.XY{X: s.T, Y: float64(s.Created) / 1e6}
			}
			if len(pts) == 0 {
				continue
			}
			l, err := plotter.NewLine(pts)
			if err != nil {
				return nil, err
			}
			l.Color = plotutil.Color(i + 1)
			p.Add(l)
			p.Legend.Add(fmt.Sprintf("%s run %d: %.2f M/s", r.Scenario, ru.Rep, ru.SessionsPerSec/1e6), l)
			if t, ok := r.target(); ok && !drawn {
				// From the run's first sample to its last count, at the
				// target's rate.
				t0, y0, n := pts[0].X, pts[0].Y, pts[len(pts)-1].Y
				tl, err := targetLine(plotter.XYs{{X: t0, Y: y0}, {X: t0 + (n-y0)/(t/1e6), Y: n}})
				if err != nil {
					return nil, err
				}
				p.Add(tl)
				p.Legend.Add(fmt.Sprintf("target %.1f M/s", t/1e6), tl)
			}
			drawn = true
		}
	}
	if !drawn {
		return nil, nil
	}
	p.Legend.Top, p.Legend.Left = true, true
	p.Y.Min, p.X.Min = 0, 0
	return p, nil
}

// perSession is a table-fill run's memory per session as the table fills:
// at each sample, the resident memory above the baseline gateway's divided
// by the sessions the run ended with. The last point is the run's figure
// (bytes_per_session_total); the line before it shows how much of that was
// resident before the sessions were made.
func perSession(ru *run) plotter.XYs {
	if ru.Sessions == 0 {
		return nil
	}
	pts := make(plotter.XYs, 0, len(ru.Samples))
	for _, s := range ru.Samples {
		pts = append(pts, plotter.XY{X: float64(s.Sessions) / 1e6, Y: float64(s.RSS-ru.BaseRSSBytes) / float64(ru.Sessions)})
	}
	return pts
}

// memoryChart: bytes per session of each table-fill run (perSession)
// against the target, the most bytes per session allowed. The y axis spans
// the lines and the target, not from 0, so that a margin of a byte shows.
func memoryChart(rep *report) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Memory per session of one core's filled table, while it fills"
	p.X.Label.Text = "sessions (millions)"
	p.Y.Label.Text = "(RSS − baseline) ÷ sessions at the end (bytes)"
	drawn := false
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range rep.Results {
		if r.Kind != memory {
			continue
		}
		for i, ru := range r.runs {
			pts := perSession(ru)
			if len(pts) == 0 {
				continue
			}
			if t, ok := r.target(); ok && !drawn {
				// Under the runs' lines, which may run close to it.
				tl, err := targetLine(plotter.XYs{{X: 0, Y: t}, {X: pts[len(pts)-1].X, Y: t}})
				if err != nil {
					return nil, err
				}
				p.Add(tl)
				p.Legend.Add(fmt.Sprintf("target: at most %.0f B/session", t), tl)
				lo, hi = min(lo, t), max(hi, t)
			}
			l, err := plotter.NewLine(pts)
			if err != nil {
				return nil, err
			}
			l.Color, l.Width = plotutil.Color(i+1), vg.Points(2)
			p.Add(l)
			p.Legend.Add(fmt.Sprintf("run %d: %.1f B/session at %.2f M sessions", ru.Rep, ru.BytesPerSessionTotal, float64(ru.Sessions)/1e6), l)
			for _, pt := range pts {
				lo, hi = min(lo, pt.Y), max(hi, pt.Y)
			}
			drawn = true
		}
	}
	if !drawn {
		return nil, nil
	}
	p.Legend.Top, p.Legend.Left = false, true
	p.X.Min, p.Y.Min, p.Y.Max = 0, max(0, lo-0.25*hi), hi*1.15
	return p, nil
}
