package gateway

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"

	"fngw/ctl/config"
	"fngw/ctl/socket"
)

// Main is `gw run [-c FILE]`: it loads and validates the configuration (every
// problem is reported, with its line, before DPDK is touched), then runs the
// gateway until SIGTERM or SIGINT. It returns the process exit status.
func Main(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("gw run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "/etc/fngw/gw.toml", "configuration `FILE` (TOML)")
	check := fs.Bool("check", false, "validate the configuration and exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "gw run: unexpected argument %q (usage: gw run [-c FILE] [-check])\n", fs.Arg(0))
		return 2
	}
	if !*check && os.Geteuid() != 0 {
		fmt.Fprintln(stderr, "gw run: needs root: DPDK maps hugepages and devices, and net_tap creates interfaces (run it as root, e.g. from the systemd unit; gw run -check validates a file as any user)")
		return 1
	}
	f, err := config.Load(*path)
	if err != nil {
		var es config.Errors
		if errors.As(err, &es) {
			for _, e := range es {
				fmt.Fprintln(stderr, e)
			}
		} else {
			fmt.Fprintln(stderr, err)
		}
		return 1
	}
	if *check {
		fmt.Fprintf(stderr, "%s: configuration OK\n", *path)
		return 0
	}
	if err := preflight(f); err != nil {
		fmt.Fprintf(stderr, "gw run: %v\n", err)
		return 1
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.Log.Level)); err != nil {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if err := Run(f, log); err != nil {
		log.Error("gateway failed", "err", err)
		return 1
	}
	return 0
}

// preflight checks, before DPDK prints anything or takes memory, what would
// only fail later and less clearly: the control socket and the metrics
// address being free.
func preflight(f *config.File) error {
	if err := checkKernelIfaces(f); err != nil {
		return err
	}
	if err := socket.CheckFree(f.Ctl.Socket); err != nil {
		return err
	}
	if f.Ctl.Metrics != "" {
		ln, err := net.Listen("tcp", f.Ctl.Metrics)
		if err != nil {
			return fmt.Errorf("metrics endpoint %s: %w (set [ctl] metrics to another address, or \"\" to disable)", f.Ctl.Metrics, err)
		}
		ln.Close()
	}
	return nil
}
