package client

import (
	"bufio"
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"fngw/ctl"
	"fngw/ctl/socket"
)

// top is `gw top [-d DELAY] [-n COUNT]`: a refreshing view of per-core load,
// drops by reason and per service and real server rates, read from the
// control socket. Rates are counter differences over the time between two
// samples, shown from the first screen (a first sample primes them). On a
// terminal it redraws in place and q quits; otherwise it prints one plain
// screen after the other, without escape codes, until COUNT or a signal.
func top(sock string, args []string, stdout, stderr io.Writer) int {
	o, ok := parseTopArgs(args, stderr)
	if !ok {
		return 2
	}
	scr := topScreen{w: stdout}
	if f, ok := stdout.(*os.File); ok && isTerminal(f) {
		scr.ansi = true
		scr.rows = func() int { return termRows(f) }
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(stop)
	var keys <-chan struct{}
	if scr.ansi {
		if restore, ok := cbreak(os.Stdin); ok {
			defer restore()
			keys = quitKey(os.Stdin)
		}
	}
	return runTop(socketSource(sock), o, scr, keys, stop, stderr)
}

// topOpts are gw top's options.
type topOpts struct {
	delay time.Duration // between screens
	count int           // screens to show; 0: until q or a signal
}

// minTopDelay is the shortest refresh interval: every sample is two jobs on
// the control lcore, which also answers ARP.
const minTopDelay = 100 * time.Millisecond

// topPrime is the longest wait between the priming sample and the first
// screen.
const topPrime = 500 * time.Millisecond

// parseTopArgs parses gw top's options, reporting errors on stderr.
func parseTopArgs(args []string, stderr io.Writer) (topOpts, bool) {
	o := topOpts{delay: 2 * time.Second}
	fs := flag.NewFlagSet("gw top", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Func("d", "refresh interval in `SECONDS` (1, 0.5) or a duration (500ms), at least 0.1 s (default 2)", func(s string) error {
		d, err := parseDelay(s)
		o.delay = d
		return err
	})
	fs.IntVar(&o.count, "n", 0, "number of screens (0: until q or Ctrl-C)")
	if err := fs.Parse(args); err != nil {
		return o, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "gw top: unexpected argument %q (gw top [-d DELAY] [-n COUNT])\n", fs.Arg(0))
		return o, false
	}
	if o.count < 0 {
		fmt.Fprintf(stderr, "gw top: -n %d: want a count of screens, or 0 for no limit\n", o.count)
		return o, false
	}
	return o, true
}

// parseDelay reads a refresh interval as top(1) and ipvsadm users write it,
// bare seconds ("2", "0.5"), or as a Go duration ("500ms").
func parseDelay(s string) (time.Duration, error) {
	var d time.Duration
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || f > 86400 {
			return 0, fmt.Errorf("want seconds between 0.1 and 86400")
		}
		d = time.Duration(f * float64(time.Second))
	} else if d, err = time.ParseDuration(s); err != nil {
		return 0, fmt.Errorf("want seconds (2, 0.5) or a duration (500ms)")
	}
	if d < minTopDelay {
		return 0, fmt.Errorf("want at least %v seconds between screens", minTopDelay.Seconds())
	}
	return d, nil
}

// topSample is what one refresh reads from the gateway.
type topSample struct {
	at    time.Time
	cores []ctl.CoreStatus
	svcs  []ctl.ServiceStatus
}

// topSource reads a sample.
type topSource func() (topSample, error)

// socketSource reads samples from the gateway at sock: `gw stats` and `gw
// adm -L -n`, as JSON.
func socketSource(sock string) topSource {
	ask := func(v any, cmd ctl.Command) error {
		r, err := socket.Do(sock, socket.Request{Cmd: cmd})
		if err != nil {
			return err
		}
		if r.Code != socket.CodeOK {
			return errors.New(r.Error)
		}
		return json.Unmarshal([]byte(r.Stdout), v)
	}
	return func() (topSample, error) {
		s := topSample{at: time.Now()}
		if err := ask(&s.cores, ctl.Command{Op: ctl.OpStats, List: &ctl.ListOptions{JSON: true}}); err != nil {
			return s, err
		}
		var t ctl.Table
		err := ask(&t, ctl.Command{Op: ctl.OpList, List: &ctl.ListOptions{Numeric: true, JSON: true}})
		s.svcs = t.Services
		return s, err
	}
}

// runTop shows o.count screens (0: until keys or stop), each o.delay after
// the previous one; the first comes after a priming sample, so it has rates.
// It returns the exit status.
func runTop(src topSource, o topOpts, scr topScreen, keys <-chan struct{}, stop <-chan os.Signal, stderr io.Writer) int {
	wait := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-keys:
			return false
		case <-stop:
			return false
		case <-t.C:
			return true
		}
	}
	hint := "Ctrl-C quits"
	if keys != nil {
		hint = "q quits"
	}
	prev, err := src()
	if err != nil {
		fmt.Fprintf(stderr, "gw top: %v\n", err)
		return 1
	}
	for i := 0; o.count == 0 || i < o.count; i++ {
		d := o.delay
		if i == 0 {
			d = min(d, topPrime)
		}
		if !wait(d) {
			return 0
		}
		cur, err := src()
		if err != nil {
			fmt.Fprintf(stderr, "gw top: %v\n", err)
			return 1
		}
		scr.show(renderTop(prev, cur, hint))
		prev = cur
	}
	return 0
}

// topScreen is where screens go: a terminal (ansi: each screen replaces
// the previous one, cut to the terminal's height) or anything else (plain
// text, one screen after the other).
type topScreen struct {
	w    io.Writer
	ansi bool
	rows func() int // the terminal's height; nil or 0: unknown
}

func (s topScreen) show(lines []string) {
	b := bufio.NewWriter(s.w)
	if s.ansi {
		b.WriteString("\033[H\033[2J") // home, clear
		if s.rows != nil {
			if n := s.rows(); n > 1 && len(lines) > n-1 {
				more := len(lines) - (n - 2)
				lines = append(lines[:n-2:n-2], fmt.Sprintf("... %d more lines (a taller terminal, or gw top -n 1 | less)", more))
			}
		}
	} else {
		b.WriteString("\n")
	}
	for _, l := range lines {
		b.WriteString(l)
		b.WriteString("\n")
	}
	b.Flush()
}

// The screen is at most topWidth columns wide, so that it fits an 80-column
// terminal without wrapping.
const (
	topWidth = 79
	nameCol  = 26 // service and real server names
)

// renderTop is one screen: rates are the counters' differences from prev to
// cur over the time between them.
func renderTop(prev, cur topSample, hint string) []string {
	secs := cur.at.Sub(prev.at).Seconds()
	rate := func(now, was uint64) float64 {
		if secs <= 0 || now < was { // a -Z in between
			return 0
		}
		return float64(now-was) / secs
	}
	head := fmt.Sprintf("fngw top  %s  rates over the last %.1fs", cur.at.Format("15:04:05"), secs)
	lines := []string{head + fmt.Sprintf("%*s", topWidth-len(head), hint), ""}

	// Cores.
	row := func(name string, cols ...string) string {
		var b strings.Builder
		fmt.Fprintf(&b, "%-6s", name)
		for _, c := range cols {
			fmt.Fprintf(&b, " %8s", c)
		}
		return b.String()
	}
	lines = append(lines, row("CORE", "RX pps", "TX pps", "BUSY", "SESSIONS", "NEW/s", "EXPIRE/s", "REDIR/s", "DROPS/s"))
	was := make(map[int]ctl.CoreStatus, len(prev.cores))
	for _, c := range prev.cores {
		was[c.Core] = c
	}
	var sum, psum ctl.CoreStatus
	dropRates := map[string]float64{}
	dropTotals := map[string]uint64{}
	for _, c := range cur.cores {
		p, ok := was[c.Core]
		if !ok {
			p = c // a core not seen before: no rates yet
		}
		busy := 0.0
		if c.TotalNs > p.TotalNs {
			busy = 100 * float64(c.BusyNs-p.BusyNs) / float64(c.TotalNs-p.TotalNs)
		}
		var drops, pdrops uint64
		for reason, v := range c.Drops {
			drops += v
			pdrops += p.Drops[reason]
			dropRates[reason] += rate(v, p.Drops[reason])
			dropTotals[reason] += v
		}
		lines = append(lines, row(strconv.Itoa(c.Core), human(rate(c.Rx, p.Rx)), human(rate(c.Tx, p.Tx)),
			fmt.Sprintf("%.1f%%", busy), human(float64(max(c.Sessions, 0))), human(rate(c.Created, p.Created)),
			human(rate(c.Expired, p.Expired)), human(rate(c.RedirectOut, p.RedirectOut)), human(rate(drops, pdrops))))
		sum.Rx, psum.Rx = sum.Rx+c.Rx, psum.Rx+p.Rx
		sum.Tx, psum.Tx = sum.Tx+c.Tx, psum.Tx+p.Tx
		sum.Sessions += c.Sessions
		sum.Created, psum.Created = sum.Created+c.Created, psum.Created+p.Created
		sum.Expired, psum.Expired = sum.Expired+c.Expired, psum.Expired+p.Expired
		sum.BusyNs, psum.BusyNs = sum.BusyNs+c.BusyNs, psum.BusyNs+p.BusyNs
		sum.TotalNs, psum.TotalNs = sum.TotalNs+c.TotalNs, psum.TotalNs+p.TotalNs
	}
	if len(cur.cores) > 1 {
		busy := 0.0
		if sum.TotalNs > psum.TotalNs {
			busy = 100 * float64(sum.BusyNs-psum.BusyNs) / float64(sum.TotalNs-psum.TotalNs)
		}
		var drops float64
		for _, v := range dropRates {
			drops += v
		}
		lines = append(lines, row("all", human(rate(sum.Rx, psum.Rx)), human(rate(sum.Tx, psum.Tx)),
			fmt.Sprintf("%.1f%%", busy), human(float64(max(sum.Sessions, 0))), human(rate(sum.Created, psum.Created)),
			human(rate(sum.Expired, psum.Expired)), "", human(drops)))
	}

	// Drops by reason, the busiest first.
	lines = append(lines, "")
	if len(dropTotals) == 0 {
		lines = append(lines, "DROPS  none since start")
	} else {
		reasons := make([]string, 0, len(dropTotals))
		for r := range dropTotals {
			reasons = append(reasons, r)
		}
		slices.SortFunc(reasons, func(a, b string) int {
			return cmp.Or(cmp.Compare(dropRates[b], dropRates[a]), cmp.Compare(dropTotals[b], dropTotals[a]), strings.Compare(a, b))
		})
		lines = append(lines, fmt.Sprintf("%-30s %8s %8s", "DROPS BY REASON", "/s", "TOTAL"))
		for _, r := range reasons {
			lines = append(lines, fmt.Sprintf("%-30s %8s %8s", r, human(dropRates[r]), human(float64(dropTotals[r]))))
		}
	}

	// Services and real servers.
	lines = append(lines, "")
	svcRow := func(name string, c, p ctl.Stats) []string {
		cols := fmt.Sprintf(" %6s %6s %6s %7s %7s %7s %7s", human(rate(c.Conns, p.Conns)), human(float64(c.ActiveConns)),
			human(float64(c.InactConns)), human(rate(c.InPkts, p.InPkts)), human(rate(c.OutPkts, p.OutPkts)),
			human(rate(c.InBytes, p.InBytes)), human(rate(c.OutBytes, p.OutBytes)))
		if len(name) > nameCol { // an IPv6 address: the figures go below it
			return []string{name, strings.Repeat(" ", nameCol) + cols}
		}
		return []string{fmt.Sprintf("%-*s", nameCol, name) + cols}
	}
	lines = append(lines, fmt.Sprintf("%-*s %6s %6s %6s %7s %7s %7s %7s", nameCol, "SERVICE / REAL SERVER",
		"CONN/s", "ACTIVE", "INACT", "IN pps", "OUT pps", "IN B/s", "OUT B/s"))
	if len(cur.svcs) == 0 {
		lines = append(lines, "no virtual services (gw adm -A)")
	}
	prevSvc := make(map[ctl.ServiceKey]ctl.ServiceStatus, len(prev.svcs))
	for _, s := range prev.svcs {
		prevSvc[s.Service.Key()] = s
	}
	for _, s := range cur.svcs {
		key := s.Service.Key()
		ps, ok := prevSvc[key]
		if !ok {
			ps.Stats = s.Stats
		}
		lines = append(lines, svcRow(serviceName(key), s.Stats, ps.Stats)...)
		prevDest := make(map[ctl.DestKey]ctl.Stats, len(ps.Dests))
		for _, d := range ps.Dests {
			prevDest[d.Dest.Key()] = d.Stats
		}
		for _, d := range s.Dests {
			pd, ok := prevDest[d.Dest.Key()]
			if !ok {
				pd = d.Stats
			}
			lines = append(lines, svcRow("  -> "+d.Dest.Key().String(), d.Stats, pd)...)
		}
	}
	return lines
}

// serviceName is a service as ipvsadm -L -n names it.
func serviceName(k ctl.ServiceKey) string {
	if k.FwMark != 0 {
		return "FWM  " + strconv.FormatUint(uint64(k.FwMark), 10)
	}
	return strings.ToUpper(k.Proto.String()) + "  " + netip.AddrPortFrom(k.VIP, k.Port).String()
}

// human writes v in at most 6 characters with an SI prefix: 0.5, 12, 999,
// 1.2k, 45.0M.
func human(v float64) string {
	switch {
	case v <= 0:
		return "0"
	case v < 9.95 && v != math.Trunc(v):
		return strconv.FormatFloat(v, 'f', 1, 64)
	case v < 999.5:
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	for _, prefix := range "kMGTPE" {
		v /= 1000
		if v < 999.95 {
			return strconv.FormatFloat(v, 'f', 1, 64) + string(prefix)
		}
	}
	return "huge"
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// termRows is the height of terminal f, 0 if unknown.
func termRows(f *os.File) int {
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return 0
	}
	return int(ws.Row)
}

// cbreak makes terminal f deliver keys as they are typed, without echo
// (signals from the keyboard still work), and returns how to restore it. It
// declines (false) when f is not a terminal or this process is not in its
// foreground: changing the terminal from the background would stop it.
func cbreak(f *os.File) (restore func(), ok bool) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, false
	}
	if pg, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP); err != nil || pg != unix.Getpgrp() {
		return nil, false
	}
	t := *old
	t.Lflag &^= unix.ICANON | unix.ECHO
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &t); err != nil {
		return nil, false
	}
	return func() { unix.IoctlSetTermios(fd, unix.TCSETS, old) }, true
}

// quitKey returns a channel closed when q (or Q) is read from r. The reading
// goroutine ends with r (EOF or an error), or stays blocked on it until the
// process exits.
func quitKey(r io.Reader) <-chan struct{} {
	quit := make(chan struct{})
	go func() {
		buf := make([]byte, 16)
		for {
			n, err := r.Read(buf)
			if slices.ContainsFunc(buf[:n], func(c byte) bool { return c == 'q' || c == 'Q' }) {
				close(quit)
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return quit
}
