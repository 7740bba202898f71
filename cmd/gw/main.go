// Command gw is the fngw gateway: `gw run -c FILE` runs it; every other command
// (`gw adm …` in ipvsadm syntax, `gw ip …`, `gw link …`, `gw reload`) is a client of
// the running gateway's control socket. Invoked through a link named `ipvsadm`, it
// behaves as `gw adm`.
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"fngw/ctl/socket"
	"fngw/gateway"
)

const defaultSock = "/run/fngw/gw.sock"

const usage = `usage: gw [--sock PATH] COMMAND [ARGS]

  gw run -c FILE            run the gateway with the TOML configuration FILE
  gw adm ARGS               virtual services, ipvsadm syntax (also as "ipvsadm ARGS")
  gw ip addr|route|neigh …  the user-space stack on the gateway's ports
  gw link show [-s]         ports, link state and counters
  gw stats [--json]         per-core counters and drops by reason
  gw mem [--json]           mbufs in use, the control plane's heap
  gw top [-d DUR] [-n N]    refreshing view of per-core load and service rates
  gw reload                 re-read the configuration file and apply the difference

Every show/list command accepts --json. The control socket is --sock PATH, else
$FNGW_SOCK, else ` + defaultSock + `.
`

func main() {
	os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr))
}

func run(argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
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
	if args[0] == "run" {
		return gateway.Main(args[1:], stderr)
	}
	if sock == "" {
		sock = defaultSock
	}
	if args[0] == "top" {
		return top(sock, args[1:], stdout, stderr)
	}
	if local, code := gateway.LocalCommand(prog, args, stdout, stderr); local {
		return code
	}
	req := socket.Request{Args: args}
	if gateway.ReadsStdin(args) {
		b, err := io.ReadAll(stdin)
		if err != nil {
			fmt.Fprintf(stderr, "gw: reading standard input: %v\n", err)
			return 1
		}
		req.Stdin = b
	}
	resp, err := socket.Do(sock, req)
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
