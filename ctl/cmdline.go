package ctl

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The gateway's own commands, beside ipvsadm's and the stack's.
const (
	OpLinkShow Op = "link-show" // gw link show [-s] [--json] [PORT]
	OpStats    Op = "stats"     // gw stats [--json]
	// gw stats --reset-gaps: every worker's poll gaps start again.
	OpResetGaps Op = "reset-gaps"
	OpMem       Op = "mem"    // gw mem [--json]
	OpReload    Op = "reload" // gw reload
	OpHealth    Op = "health" // gw health: the facts (GatewayHealth); the client judges them
	// gw sysctl [NAME], gw sysctl [-w] NAME=VALUE: LVS's switches and
	// expirations (Sysctl).
	OpSysctlShow Op = "sysctl-show"
	OpSysctlSet  Op = "sysctl-set"
)

// Commands lists every gw command, for messages (run, top, health and
// import are the client's own; ParseCommandLine parses the others).
const Commands = "run, adm, ip, link, stats, mem, top, health, sysctl, mark, check, reload or import"

// ParseCommandLine parses a gw client command line (what follows the program
// name and --sock):
//
//	adm ARGS                         ipvsadm's command line (ParseArgs)
//	ip addr|route|neigh VERB ...     the stack (ParseStackArgs)
//	link show [-s] [--json] [PORT]   ports
//	stats [--json]                   per-core counters
//	stats --reset-gaps               restart the workers' poll-gap histograms
//	mem [--json]                     mbufs and the Go heap
//	reload [--dry-run]               apply the changes made to the configuration file
//	check show [--json]              every destination's health check and health
//
// It is the only parse of a command: the client sends the Command it
// returns, and the gateway runs it as it is. Errors are *UsageError, or
// ErrInvalid for a bad value. Addresses are numeric; ParseCommandLineWith
// also takes ipvsadm's host and service names.
func ParseCommandLine(args []string) (Command, error) { return ParseCommandLineWith(args, nil) }

// ParseCommandLineWith is ParseCommandLine with names resolving the host and
// service names of an adm command line (ParseArgsWith).
func ParseCommandLineWith(args []string, names Resolver) (Command, error) {
	if len(args) == 0 {
		return Command{}, usagef("no command; use %s (gw -h)", Commands)
	}
	rest := args[1:]
	switch args[0] {
	case "adm":
		return ParseArgsWith(rest, names)
	case "ip":
		if len(rest) < 2 {
			return Command{}, usagef("usage: gw ip addr|route|neigh add|del|show ...")
		}
		return ParseStackArgs(rest)
	case "link":
		return parseLink(rest)
	case "stats", "mem":
		if args[0] == "stats" && len(rest) == 1 && rest[0] == "--reset-gaps" {
			return Command{Op: OpResetGaps}, nil
		}
		cmd := Command{Op: Op(args[0])}
		for _, a := range rest {
			if a != "--json" {
				accepted := "--json"
				if args[0] == "stats" {
					accepted = "--json, or --reset-gaps alone"
				}
				return Command{}, usagef("%s: unknown argument %q; accepted: %s", args[0], a, accepted)
			}
			cmd.List = &ListOptions{JSON: true}
		}
		return cmd, nil
	case "sysctl":
		return parseSysctl(rest)
	case "mark":
		return parseMark(rest)
	case "check":
		if len(rest) == 0 || (rest[0] != "show" && rest[0] != "list" && rest[0] != "ls") {
			return Command{}, usagef("usage: gw check show [--json]")
		}
		cmd := Command{Op: OpCheckShow}
		for _, a := range rest[1:] {
			if a != "--json" {
				return Command{}, usagef("check show: unknown argument %q; accepted: --json", a)
			}
			cmd.List = &ListOptions{JSON: true}
		}
		return cmd, nil
	case "reload":
		cmd := Command{Op: OpReload}
		for _, a := range rest {
			if a != "--dry-run" && a != "-n" {
				return Command{}, usagef("reload: unknown argument %q (usage: gw reload [--dry-run])", a)
			}
			cmd.DryRun = true
		}
		return cmd, nil
	}
	return Command{}, usagef("unknown command %q; use %s (gw -h)", args[0], Commands)
}

// parseLink parses `link show|list|ls [-s] [--json] [PORT]`, after DPVS's
// `dpip link show`.
func parseLink(args []string) (Command, error) {
	if len(args) == 0 || (args[0] != "show" && args[0] != "list" && args[0] != "ls") {
		return Command{}, usagef("usage: gw link show [-s] [--json] [PORT]")
	}
	cmd := Command{Op: OpLinkShow, List: &ListOptions{}}
	for _, a := range args[1:] {
		switch a {
		case "-s", "-stats", "--stats":
			cmd.List.Stats = true
		case "--json":
			cmd.List.JSON = true
		default:
			if strings.HasPrefix(a, "-") || cmd.Dev != "" {
				return Command{}, usagef("link show: unknown argument %q; accepted: -s, --json, a port name", a)
			}
			cmd.Dev = a
		}
	}
	return cmd, nil
}

// gwArgs renders the gateway's own commands back to arguments.
func (c Command) gwArgs() []string {
	a := []string{string(c.Op)}
	if c.Op == OpResetGaps {
		return []string{"stats", "--reset-gaps"}
	}
	if c.Op == OpCheckShow {
		a = []string{"check", "show"}
	}
	if c.Op == OpLinkShow {
		a = []string{"link", "show"}
		if c.List != nil && c.List.Stats {
			a = append(a, "-s")
		}
	}
	if c.List != nil && c.List.JSON {
		a = append(a, "--json")
	}
	if c.Dev != "" {
		a = append(a, c.Dev)
	}
	if c.DryRun {
		a = append(a, "--dry-run")
	}
	return a
}

// SysctlArg names a setting of Sysctl and, to set it, its value: Value for
// a switch, Seconds for a setting in seconds.
type SysctlArg struct {
	Name    string  `json:"name,omitempty"`
	Value   *bool   `json:"value,omitempty"`
	Seconds *uint32 `json:"seconds,omitempty"`
}

// parseSysctl parses `sysctl [NAME]` and `sysctl [-w] NAME=VALUE`, as
// sysctl(8) with LVS's names (net.ipv4.vs.NAME or NAME): 0 or 1 for a
// switch, seconds for an expiration.
func parseSysctl(args []string) (Command, error) {
	if len(args) > 0 && args[0] == "-w" {
		args = args[1:]
	}
	switch len(args) {
	case 0:
		return Command{Op: OpSysctlShow}, nil
	case 1:
	default:
		return Command{}, usagef("usage: gw sysctl [NAME] | gw sysctl [-w] NAME=VALUE")
	}
	name, val, set := strings.Cut(args[0], "=")
	var probe Sysctl
	_, err := probe.Switch(name)
	if _, serr := probe.Seconds(name); err != nil && serr != nil {
		return Command{}, usagef("sysctl: %v", err)
	}
	if !set {
		return Command{Op: OpSysctlShow, Sysctl: &SysctlArg{Name: name}}, nil
	}
	if err != nil {
		n, perr := strconv.ParseUint(val, 10, 32)
		if perr != nil || n < 1 || n > MaxTimeout {
			return Command{}, usagef("sysctl: %s=%q: the value is seconds, 1-%d", name, val, MaxTimeout)
		}
		s := uint32(n)
		return Command{Op: OpSysctlSet, Sysctl: &SysctlArg{Name: name, Seconds: &s}}, nil
	}
	var v bool
	switch val {
	case "0":
	case "1":
		v = true
	default:
		return Command{}, usagef("sysctl: %s=%q: the value is 0 or 1", name, val)
	}
	return Command{Op: OpSysctlSet, Sysctl: &SysctlArg{Name: name, Value: &v}}, nil
}

// WriteSysctl prints the settings as sysctl(8) does (one, when name is
// set), or JSON.
func WriteSysctl(w io.Writer, s Sysctl, name string, asJSON bool) error {
	if asJSON {
		return writeJSON(w, s)
	}
	var b strings.Builder
	for _, n := range SysctlNames {
		if name != "" && strings.TrimPrefix(name, "net.ipv4.vs.") != n {
			continue
		}
		sw, _ := s.Switch(n)
		v := 0
		if *sw {
			v = 1
		}
		fmt.Fprintf(&b, "net.ipv4.vs.%s = %d\n", n, v)
	}
	for _, n := range SysctlSeconds {
		if name != "" && strings.TrimPrefix(name, "net.ipv4.vs.") != n {
			continue
		}
		fmt.Fprintf(&b, "net.ipv4.vs.%s = %d\n", n, s.Expiration(n))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
