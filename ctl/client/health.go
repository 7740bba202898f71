package client

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"fngw/ctl"
	"fngw/ctl/socket"
)

// health is `gw health [--max-stall DUR] [--timeout DUR] [--json]`: the
// gateway's own health for a watchdog (keepalived's track_script, a BIRD
// watchdog, systemd). It exits 0 when the gateway answers within the
// timeout, every worker began a turn within DUR, and every port and kernel
// interface is up, printing one line saying so; otherwise 1, with one line
// on standard error that says why. --json prints the facts (ctl.GatewayHealth)
// too. Usage errors exit 2.
func health(sock string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gw health", flag.ContinueOnError)
	fs.SetOutput(stderr)
	maxStall := fs.Duration("max-stall", time.Second, "longest time since a worker's last turn that is healthy")
	timeout := fs.Duration("timeout", 2*time.Second, "longest wait for the gateway's answer")
	asJSON := fs.Bool("json", false, "print the facts judged, as JSON")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "gw health: unexpected argument %q (gw health [--max-stall DUR] [--timeout DUR] [--json])\n", fs.Arg(0))
		return 2
	case *maxStall <= 0:
		fmt.Fprintf(stderr, "gw health: --max-stall %v: want a positive duration (1s, 500ms)\n", *maxStall)
		return 2
	case *timeout <= 0:
		fmt.Fprintf(stderr, "gw health: --timeout %v: want a positive duration (2s, 500ms)\n", *timeout)
		return 2
	}
	resp, err := socket.DoWithin(sock, socket.Request{Cmd: ctl.Command{Op: ctl.OpHealth}}, *timeout)
	if err != nil {
		fmt.Fprintf(stderr, "gw health: gateway not answering within %v: %v\n", *timeout, err)
		return 1
	}
	if resp.Code != socket.CodeOK {
		fmt.Fprintf(stderr, "gw health: %s\n", resp.Error)
		return 1
	}
	var h ctl.GatewayHealth
	if err := json.Unmarshal([]byte(resp.Stdout), &h); err != nil {
		fmt.Fprintf(stderr, "gw health: the gateway's answer %q: %v\n", resp.Stdout, err)
		return 1
	}
	if *asJSON {
		io.WriteString(stdout, resp.Stdout)
	}
	if p := h.Problem(*maxStall); p != "" {
		fmt.Fprintf(stderr, "gw health: %s\n", p)
		return 1
	}
	if !*asJSON {
		fmt.Fprintf(stdout, "ok: %v\n", h)
	}
	return 0
}
