// Package client is the gw command line, every command but `gw run`: it
// parses the command line once (ctl.ParseCommandLineWith, host and service
// names resolved here), answers what needs no gateway (ipvsadm's -h and
// -v, and command lines that do not parse, so that a typo is reported even
// when the gateway is down), reads what the command takes from standard
// input (ipvsadm -R), sends the parsed command over the control socket and
// prints the answer. Invoked through a link named `ipvsadm` it behaves as
// `gw adm` with ipvsadm's exit statuses and error wording; through links
// named `ipvsadm-save` and `ipvsadm-restore` as those scripts. It is pure Go
// and links neither DPDK nor the daemon.
//
// Files:
//
//	client.go  Main: global options, parsing, the request, exit statuses
//	top.go     gw top: a refreshing view of per-core load and service rates
//	health.go  gw health: the gateway's own health, for keepalived and BIRD watchdogs
//	import.go  gw import keepalived: keepalived.conf to fngw services (package ctl/keepalived), locally
package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"fngw/ctl"
	"fngw/ctl/config"
	"fngw/ctl/socket"
)

const usage = `usage: gw [--sock PATH] COMMAND [ARGS]

  gw run -c FILE            run the gateway with the TOML configuration FILE
  gw adm ARGS               virtual services, ipvsadm syntax (also as "ipvsadm ARGS")
  gw ip addr|route|neigh …  the user-space stack on the gateway's ports
  gw link show [-s]         ports, link state and counters
  gw stats [--json]         per-core counters, drops by reason, poll gaps
  gw stats --reset-gaps     restart the workers' poll-gap histograms
  gw mem [--json]           mbufs in use, the control plane's heap
  gw top [-d DUR] [-n N]    refreshing view of per-core load and service rates
  gw check show [--json]    every real server's health check, state and last result
  gw health [--max-stall DUR] [--timeout DUR] [--json]
                            exit 0 if the gateway answers, its workers turn and its
                            ports are up; else 1 and why (keepalived, BIRD watchdogs)
  gw reload                 re-read the configuration file and apply the difference
  gw import keepalived FILE translate keepalived.conf's virtual servers to TOML (no gateway needed)

Every show/list command accepts --json. The control socket is --sock PATH, else
$FNGW_SOCK, else ` + config.DefaultSocket + `.
`

// Main runs the command line argv (argv[0] is how the program was invoked)
// and returns the process's exit status: 0, 1 when the command failed, 2 for
// a usage error. run, when set, runs `gw run ARGS` (the daemon).
//
// Invoked as ipvsadm, ipvsadm-save or ipvsadm-restore it behaves as those
// do, exit statuses and messages included (see ipvsadm): no message starts
// with "gw:".
func Main(argv []string, run func(args []string) int, stdin io.Reader, stdout, stderr io.Writer) int {
	args := argv[1:]
	c := cli{prog: "gw", stdout: stdout, stderr: stderr}
	switch filepath.Base(argv[0]) {
	case "ipvsadm":
		c.prog, c.ipvsadm = "ipvsadm", true
		args = append([]string{"adm"}, args...)
	case "ipvsadm-save":
		return c.save(args)
	case "ipvsadm-restore":
		return c.restore(stdin)
	}
	var ok bool
	if args, ok = c.globals(args); !ok {
		return 2
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
	if args[0] == "top" {
		return top(c.sock, args[1:], stdout, stderr)
	}
	if args[0] == "health" {
		return health(c.sock, args[1:], stdout, stderr)
	}
	if args[0] == "import" {
		return importConfig(args[1:], stdout, stderr)
	}
	cmd, err := ctl.ParseCommandLineWith(args, names{})
	if err != nil {
		return c.parseError(err, args[0] == "adm")
	}
	switch cmd.Op {
	case ctl.OpHelp:
		io.WriteString(stdout, ctl.Usage(c.admProg()))
		return 0
	case ctl.OpVersion:
		fmt.Fprintln(stdout, ctl.VersionText)
		return 0
	case ctl.OpRestore:
		if cmd.Batch, err = ctl.ReadRestoreWith(stdin, names{}); err != nil {
			return c.parseError(err, false)
		}
	}
	return c.do(cmd)
}

// cli is one run of the client: how it was invoked and where it writes.
type cli struct {
	prog    string // "gw" or "ipvsadm": what messages and -h name
	ipvsadm bool   // ipvsadm's exit statuses and wording
	sock    string
	stdout  io.Writer
	stderr  io.Writer
}

func (c *cli) admProg() string {
	if c.ipvsadm {
		return "ipvsadm"
	}
	return "gw adm"
}

// globals takes the global options (--sock PATH) off args; the socket is
// --sock, else $FNGW_SOCK, else the default.
func (c *cli) globals(args []string) ([]string, bool) {
	c.sock = os.Getenv("FNGW_SOCK")
	for len(args) > 0 && strings.HasPrefix(args[0], "--sock") {
		if v, ok := strings.CutPrefix(args[0], "--sock="); ok {
			c.sock, args = v, args[1:]
			continue
		}
		if len(args) < 2 {
			fmt.Fprintf(c.stderr, "%s: --sock needs a path\n", c.prog)
			return nil, false
		}
		c.sock, args = args[1], args[2:]
	}
	if c.sock == "" {
		c.sock = config.DefaultSocket
	}
	return args, true
}

// parseError reports a command line (or restore input) that does not
// parse. ipvsadm exits 2 for every argument error (its fail(2, ...));
// gw exits 2 for a usage error and 1 for a bad value.
func (c *cli) parseError(err error, adm bool) int {
	fmt.Fprintf(c.stderr, "%v\n", err)
	if !isUsage(err) && !c.ipvsadm {
		return 1
	}
	if adm && isUsage(err) {
		fmt.Fprintln(c.stderr, ctl.TryHelp(c.admProg()))
	}
	return 2
}

// do sends cmd to the gateway and prints its answer.
func (c *cli) do(cmd ctl.Command) int {
	resp, err := socket.Do(c.sock, socket.Request{Cmd: cmd})
	if err != nil {
		if c.ipvsadm {
			// ipvsadm when IPVS is missing: "Can't initialize ipvs: ...", 1.
			fmt.Fprintf(c.stderr, "Can't initialize ipvs: %v\n", err)
		} else {
			fmt.Fprintf(c.stderr, "gw: %v\n", err)
		}
		return 1
	}
	io.WriteString(c.stdout, resp.Stdout)
	if resp.Code == socket.CodeOK {
		return 0
	}
	msg := strings.TrimRight(resp.Error, "\n")
	if !c.ipvsadm {
		fmt.Fprintln(c.stderr, msg)
		if resp.Code == socket.CodeUsage {
			return 2
		}
		return 1
	}
	if w := ipvsadmWording(cmd.Op, resp.Code); w != "" {
		msg = w + ": " + msg
	}
	fmt.Fprintln(c.stderr, msg)
	switch {
	case resp.Code == socket.CodeUsage:
		return 2
	case cmd.Op == ctl.OpList:
		return 1 // ipvsadm -L -t of a missing service exits 1 (list_service)
	}
	return 255 // ipvsadm returns -1 from a failed operation
}

// ipvsadmWording is libipvs's ipvs_strerror (and DPVS's for local
// addresses) for a failed op: the message ipvsadm prints, which fngw's own
// (naming the object) follows. "" when ipvsadm has no message of its own
// for the case.
func ipvsadmWording(op ctl.Op, code string) string {
	switch code {
	case socket.CodeExists:
		switch op {
		case ctl.OpAddService:
			return "Service already exists"
		case ctl.OpAddDest:
			return "Destination already exists"
		case ctl.OpAddLaddr:
			return "Local address already exists"
		}
	case socket.CodeNoService:
		switch op {
		case ctl.OpAddDest, ctl.OpEditDest, ctl.OpDelDest, ctl.OpAddLaddr, ctl.OpDelLaddr:
			return "Service not defined"
		case ctl.OpEditService, ctl.OpDelService, ctl.OpZero, ctl.OpList, ctl.OpGetLaddr:
			return "No such service"
		}
	case socket.CodeFull:
		return "Memory allocation problem"
	case socket.CodeNotFound:
		switch op {
		case ctl.OpEditDest, ctl.OpDelDest:
			return "No such destination"
		case ctl.OpDelLaddr:
			return "No such Local address"
		}
	}
	return ""
}

// save is ipvsadm-save [-n]: ipvsadm -S, as the Debian and RHEL script; any
// other option prints the script's help and exits 1, other words are
// ignored.
func (c *cli) save(args []string) int {
	c.prog, c.ipvsadm = "ipvsadm", true
	list := &ctl.ListOptions{}
	for _, a := range args {
		switch {
		case a == "-n":
			list.Numeric = true
		case strings.HasPrefix(a, "-"):
			fmt.Fprintln(c.stderr, "ipvsadm-save: Script to save the IPVS table to stdout.")
			fmt.Fprintln(c.stderr, "   With the -n option, prints out the table in numeric format.")
			return 1
		}
	}
	c.globals(nil)
	return c.do(ctl.Command{Op: ctl.OpSave, List: list})
}

// restore is ipvsadm-restore: the Debian and RHEL script runs ipvsadm -C,
// then ipvsadm -R on standard input without its comment lines; here both
// are one batch, so a restore that fails leaves the table as it was
// instead of empty. Arguments are ignored, as by the script.
func (c *cli) restore(stdin io.Reader) int {
	c.prog, c.ipvsadm = "ipvsadm", true
	batch, err := ctl.ReadRestoreWith(stdin, names{})
	if err != nil {
		return c.parseError(err, false)
	}
	c.globals(nil)
	return c.do(ctl.Command{Op: ctl.OpRestore, Batch: append([]ctl.Command{{Op: ctl.OpClear}}, batch...)})
}

func isUsage(err error) bool {
	var ue *ctl.UsageError
	return errors.As(err, &ue)
}

// names resolves what ipvsadm resolves with the C library: host names from
// /etc/hosts and DNS (IPv4, as gethostbyname), service names from
// /etc/services for the service's protocol (getservbyname).
type names struct{}

func (names) LookupHost(name string) (netip.Addr, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip4", name)
	if err != nil {
		return netip.Addr{}, err
	}
	return addrs[0], nil
}

func (names) LookupPort(name string, p ctl.Proto) (uint16, error) {
	n, err := net.LookupPort(p.String(), name)
	return uint16(n), err
}
