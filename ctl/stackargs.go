package ctl

import (
	"fmt"
	"strings"
)

// ParseStackArgs parses a stack command in iproute2's style (the "gw addr",
// "gw route" and "gw neigh" commands):
//
//	addr  add|del PREFIX dev PORT        addr show
//	route add PREFIX [via ADDR] dev PORT route del PREFIX    route show
//	neigh add ADDR lladdr MAC dev PORT   neigh del ADDR dev PORT neigh show
//
// "show" (also "list", "ls") takes no arguments; --json may follow it.
func ParseStackArgs(args []string) (Command, error) {
	if len(args) < 2 {
		return Command{}, usagef("want OBJECT VERB ...: addr|route|neigh add|del|show")
	}
	obj, verb, rest := args[0], args[1], args[2:]
	text := strings.Join(rest, " ")
	var ops [3]Op
	switch obj {
	case "addr", "address", "a":
		ops = [3]Op{OpAddAddr, OpDelAddr, OpListAddr}
	case "route", "r":
		ops = [3]Op{OpAddRoute, OpDelRoute, OpListRoute}
	case "neigh", "neighbour", "neighbor", "n":
		ops = [3]Op{OpAddNeigh, OpDelNeigh, OpListNeigh}
	default:
		return Command{}, usagef("unknown object %q; use addr, route or neigh", obj)
	}
	switch verb {
	case "show", "list", "ls":
		cmd := Command{Op: ops[2]}
		switch {
		case len(rest) == 1 && rest[0] == "--json":
			cmd.List = &ListOptions{JSON: true}
		case len(rest) > 0:
			return Command{}, usagef("%s %s takes no arguments besides --json (got %q)", obj, verb, text)
		}
		return cmd, nil
	case "add", "del", "delete":
	default:
		return Command{}, usagef("unknown verb %q for %s; use add, del or show", verb, obj)
	}
	add := verb == "add"
	var err error
	cmd := Command{Op: ops[1]}
	if add {
		cmd.Op = ops[0]
	}
	switch obj[0] {
	case 'a':
		var a Addr
		a, err = ParseAddr(text)
		cmd.Addr = &a
	case 'r':
		var r Route
		if add {
			r, err = ParseRoute(text)
		} else if len(rest) == 1 {
			r.Prefix, err = ParsePrefix(rest[0])
			if err == nil && r.Prefix != r.Prefix.Masked() {
				err = invalidf("route %s: has host bits set; did you mean %s?", r.Prefix, r.Prefix.Masked())
			}
		} else {
			err = usagef("route del takes one prefix, e.g. route del 0.0.0.0/0 (got %q)", text)
		}
		cmd.Route = &r
	case 'n':
		var n Neigh
		if add {
			n, err = ParseNeigh(text)
		} else if len(rest) == 3 && rest[1] == "dev" {
			if n.Addr, err = ParseIP(rest[0]); err == nil {
				n.Port = rest[2]
				err = CheckPortName(n.Port)
			}
		} else {
			err = usagef("neigh del wants ADDR dev PORT (got %q)", text)
		}
		cmd.Neigh = &n
	}
	if err != nil {
		return Command{}, fmt.Errorf("%s %s: %w", obj, verb, err)
	}
	return cmd, nil
}
