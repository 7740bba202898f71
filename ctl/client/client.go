// Package client is the gw command line, every command but `gw run`: it
// parses the command line once (ctl.ParseCommandLine), answers what needs
// no gateway (ipvsadm's -h and -v, and command lines that do not parse, so
// that a typo is reported even when the gateway is down), reads what the
// command takes from standard input (ipvsadm -R), sends the parsed command
// over the control socket and prints the answer. Invoked through a link
// named `ipvsadm`, it behaves as `gw adm`. It is pure Go and links neither
// DPDK nor the daemon.
//
// Files:
//
//	client.go  Main: global options, parsing, the request, exit statuses
//	top.go     gw top: a refreshing view of per-core load and service rates
//	import.go  gw import keepalived: keepalived.conf to fngw services (package ctl/keepalived), locally
package client

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"fngw/ctl"
	"fngw/ctl/config"
	"fngw/ctl/socket"
)

const usage = `usage: gw [--sock PATH] COMMAND [ARGS]

  gw run -c FILE            run the gateway with the TOML configuration FILE
  gw adm ARGS               virtual services, ipvsadm syntax (also as "ipvsadm ARGS")
  gw ip addr|route|neigh …  the user-space stack on the gateway's ports
  gw link show [-s]         ports, link state and counters
  gw stats [--json]         per-core counters and drops by reason
  gw mem [--json]           mbufs in use, the control plane's heap
  gw top [-d DUR] [-n N]    refreshing view of per-core load and service rates
  gw reload                 re-read the configuration file and apply the difference
  gw import keepalived FILE translate keepalived.conf's virtual servers to TOML (no gateway needed)

Every show/list command accepts --json. The control socket is --sock PATH, else
$FNGW_SOCK, else ` + config.DefaultSocket + `.
`

// Main runs the command line argv (argv[0] is how the program was invoked)
// and returns the process's exit status: 0, 1 when the command failed, 2 for
// a usage error. run, when set, runs `gw run ARGS` (the daemon).
func Main(argv []string, run func(args []string) int, stdin io.Reader, stdout, stderr io.Writer) int {
	args := argv[1:]
	prog := "gw adm"
	if filepath.Base(argv[0]) == "ipvsadm" {
		prog = "ipvsadm"
		args = append([]string{"adm"}, args...)
	}
	sock := os.Getenv("FNGW_SOCK")
	for len(args) > 0 && strings.HasPrefix(args[0], "--sock") {
		if v, ok := strings.CutPrefix(args[0], "--sock="); ok {
			sock, args = v, args[1:]
			continue
		}
		if len(args) < 2 {
			fmt.Fprintln(stderr, "gw: --sock needs a path")
			return 2
		}
		sock, args = args[1], args[2:]
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "run" && run != nil {
		return run(args[1:])
	}
	if sock == "" {
		sock = config.DefaultSocket
	}
	if args[0] == "top" {
		return top(sock, args[1:], stdout, stderr)
	}
	if args[0] == "import" {
		return importConfig(args[1:], stdout, stderr)
	}
	cmd, err := ctl.ParseCommandLine(args)
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		if isUsage(err) {
			if args[0] == "adm" {
				fmt.Fprintln(stderr, ctl.TryHelp(prog))
			}
			return 2
		}
		return 1
	}
	switch cmd.Op {
	case ctl.OpHelp:
		io.WriteString(stdout, ctl.Usage(prog))
		return 0
	case ctl.OpVersion:
		fmt.Fprintln(stdout, ctl.VersionText)
		return 0
	case ctl.OpRestore:
		if cmd.Batch, err = ctl.ReadRestore(stdin); err != nil {
			fmt.Fprintf(stderr, "%v\n", err)
			if isUsage(err) {
				return 2
			}
			return 1
		}
	}
	resp, err := socket.Do(sock, socket.Request{Cmd: cmd})
	if err != nil {
		fmt.Fprintf(stderr, "gw: %v\n", err)
		return 1
	}
	io.WriteString(stdout, resp.Stdout)
	if resp.Code != socket.CodeOK {
		fmt.Fprintf(stderr, "%s\n", strings.TrimRight(resp.Error, "\n"))
		if resp.Code == socket.CodeUsage {
			return 2
		}
		return 1
	}
	return 0
}

func isUsage(err error) bool {
	var ue *ctl.UsageError
	return errors.As(err, &ue)
}
