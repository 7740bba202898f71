package client

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"fngw/ctl"
	"fngw/ctl/socket"
)

// top is `gw top [-d SECONDS] [-n COUNT]`: a refreshing table of services (with
// LVS-estimator rates) and per-core load, from the control socket.
func top(sock string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gw top", flag.ContinueOnError)
	fs.SetOutput(stderr)
	delay := fs.Duration("d", 2*time.Second, "refresh interval")
	count := fs.Int("n", 0, "number of refreshes (0: until interrupted)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ask := func(v any, cmd ctl.Command) error {
		r, err := socket.Do(sock, socket.Request{Cmd: cmd})
		if err != nil {
			return err
		}
		if r.Code != socket.CodeOK {
			return fmt.Errorf("%s", r.Error)
		}
		return json.Unmarshal([]byte(r.Stdout), v)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	prev := map[int]ctl.CoreStatus{}
	for i := 0; *count == 0 || i < *count; i++ {
		var cores []ctl.CoreStatus
		var list struct {
			Services []ctl.ServiceStatus `json:"services"`
		}
		if err := ask(&cores, ctl.Command{Op: ctl.OpStats, List: &ctl.ListOptions{JSON: true}}); err != nil {
			fmt.Fprintf(stderr, "gw top: %v\n", err)
			return 1
		}
		if err := ask(&list, ctl.Command{Op: ctl.OpList, List: &ctl.ListOptions{Numeric: true, Rate: true, JSON: true}}); err != nil {
			fmt.Fprintf(stderr, "gw top: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "\033[H\033[2Jfngw top — %s (every %s, Ctrl-C quits)\n\n", time.Now().Format("15:04:05"), *delay)
		fmt.Fprintf(stdout, "%-4s %12s %12s %10s %10s %8s %10s\n", "CORE", "RX pps", "TX pps", "SESSIONS", "REDIR/s", "BUSY", "DROPS/s")
		for _, c := range cores {
			p, ok := prev[c.Core]
			secs := delay.Seconds()
			rate := func(now, was uint64) float64 {
				if !ok || now < was {
					return 0
				}
				return float64(now-was) / secs
			}
			busy := 0.0
			if ok && c.TotalNs > p.TotalNs {
				busy = 100 * float64(c.BusyNs-p.BusyNs) / float64(c.TotalNs-p.TotalNs)
			}
			var drops, pdrops uint64
			for k, v := range c.Drops {
				drops += v
				pdrops += p.Drops[k]
			}
			fmt.Fprintf(stdout, "%-4d %12.0f %12.0f %10d %10.0f %7.1f%% %10.0f\n", c.Core, rate(c.Rx, p.Rx), rate(c.Tx, p.Tx),
				c.Sessions, rate(c.RedirectOut, p.RedirectOut), busy, rate(drops, pdrops))
			prev[c.Core] = c
		}
		fmt.Fprintf(stdout, "\n%-28s %8s %8s %10s %10s %8s %8s\n", "SERVICE / DESTINATION", "CPS", "ACTIVE", "IN pps", "OUT pps", "IN bps", "OUT bps")
		for _, s := range list.Services {
			st := s.Stats
			fmt.Fprintf(stdout, "%-28s %8d %8d %10d %10d %8d %8d\n", s.Service.Key().String(), st.CPS, st.ActiveConns, st.InPPS, st.OutPPS, st.InBPS, st.OutBPS)
			for _, d := range s.Dests {
				ds := d.Stats
				fmt.Fprintf(stdout, "  -> %-24s %8d %8d %10d %10d %8d %8d\n", d.Dest.Key().String(), ds.CPS, ds.ActiveConns, ds.InPPS, ds.OutPPS, ds.InBPS, ds.OutBPS)
			}
		}
		if *count != 0 && i == *count-1 {
			break
		}
		select {
		case <-stop:
			return 0
		case <-time.After(*delay):
		}
	}
	return 0
}
