package ctl

import "strings"

// The gateway's own commands, beside ipvsadm's and the stack's.
const (
	OpLinkShow Op = "link-show" // gw link show [-s] [--json] [PORT]
	OpStats    Op = "stats"     // gw stats [--json]
	OpMem      Op = "mem"       // gw mem [--json]
	OpReload   Op = "reload"    // gw reload
)

// Commands lists every gw command, for messages (run and top are the
// client's own; ParseCommandLine parses the others).
const Commands = "run, adm, ip, link, stats, mem, top or reload"

// ParseCommandLine parses a gw client command line (what follows the program
// name and --sock):
//
//	adm ARGS                         ipvsadm's command line (ParseArgs)
//	ip addr|route|neigh VERB ...     the stack (ParseStackArgs)
//	link show [-s] [--json] [PORT]   ports
//	stats [--json]                   per-core counters
//	mem [--json]                     mbufs and the Go heap
//	reload [--dry-run]               apply the changes made to the configuration file
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
		cmd := Command{Op: Op(args[0])}
		for _, a := range rest {
			if a != "--json" {
				return Command{}, usagef("%s: unknown argument %q; accepted: --json", args[0], a)
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
