package ctl

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Op names a command. ipvsadm commands use ipvsadm's own command names
// (cmdnames[] in ipvsadm.c), DPVS's laddr commands DPVS's names, and the
// stack commands "OBJECT-VERB" names.
type Op string

const (
	OpAddService  Op = "add-service"    // -A
	OpEditService Op = "edit-service"   // -E
	OpDelService  Op = "delete-service" // -D
	OpClear       Op = "clear"          // -C
	OpRestore     Op = "restore"        // -R (Batch holds the parsed lines)
	OpSave        Op = "save"           // -S
	OpAddDest     Op = "add-server"     // -a
	OpEditDest    Op = "edit-server"    // -e
	OpDelDest     Op = "delete-server"  // -d
	OpList        Op = "list"           // -L, -l, and no arguments at all
	OpZero        Op = "zero"           // -Z
	OpSetTimeouts Op = "set"            // --set tcp tcpfin udp
	OpAddLaddr    Op = "add-laddr"      // --add-laddr, -P (DPVS)
	OpDelLaddr    Op = "del-laddr"      // --del-laddr, -Q (DPVS)
	OpGetLaddr    Op = "get-laddr"      // --get-laddr, -G (DPVS)
	OpHelp        Op = "help"           // -h: handled by the client
	OpVersion     Op = "version"        // -v: handled by the client

	OpAddAddr   Op = "addr-add"
	OpDelAddr   Op = "addr-del"
	OpListAddr  Op = "addr-show"
	OpAddRoute  Op = "route-add"
	OpDelRoute  Op = "route-del"
	OpListRoute Op = "route-show"
	OpAddNeigh  Op = "neigh-add"
	OpDelNeigh  Op = "neigh-del"
	OpListNeigh Op = "neigh-show"
)

// Mutates reports whether op changes the configuration (and so is allowed in
// a restore batch and must be serialized by the daemon).
func (op Op) Mutates() bool {
	switch op {
	case OpAddService, OpEditService, OpDelService, OpClear, OpRestore,
		OpAddDest, OpEditDest, OpDelDest, OpSetTimeouts, OpAddLaddr, OpDelLaddr,
		OpAddAddr, OpDelAddr, OpAddRoute, OpDelRoute, OpAddNeigh, OpDelNeigh, OpSysctlSet, OpAddMark, OpDelMark:
		return true
	}
	return false
}

// ListOptions are the modifiers of list, save and get-laddr commands.
type ListOptions struct {
	Numeric        bool `json:"numeric,omitempty"`         // -n (output is always numeric)
	Exact          bool `json:"exact,omitempty"`           // --exact, -X
	Conn           bool `json:"conn,omitempty"`            // -c
	Stats          bool `json:"stats,omitempty"`           // --stats
	Rate           bool `json:"rate,omitempty"`            // --rate
	Thresholds     bool `json:"thresholds,omitempty"`      // --thresholds
	PersistentConn bool `json:"persistent_conn,omitempty"` // --persistent-conn
	TunInfo        bool `json:"tun_info,omitempty"`        // --tun-info
	Timeout        bool `json:"timeout,omitempty"`         // --timeout
	Daemon         bool `json:"daemon,omitempty"`          // --daemon
	NoSort         bool `json:"nosort,omitempty"`          // --nosort
	JSON           bool `json:"json,omitempty"`            // --json (fngw)
	Local          bool `json:"local,omitempty"`           // --local: -c shows FULLNAT local addresses (fngw)
}

// Command is one parsed command: what the CLI sends over the control socket
// and what Diff produces. It is a plain JSON-serialisable value; fields not
// used by Op are nil. Service carries only the key fields (Proto, VIP, Port)
// for commands that merely name a service.
type Command struct {
	Op       Op           `json:"op"`
	Line     int          `json:"line,omitempty"` // line number within a restore file
	Service  *Service     `json:"service,omitempty"`
	Dest     *Dest        `json:"dest,omitempty"`
	Laddr    *LocalAddr   `json:"laddr,omitempty"`
	Timeouts *Timeouts    `json:"timeouts,omitempty"`
	Addr     *Addr        `json:"addr,omitempty"`
	Route    *Route       `json:"route,omitempty"`
	Neigh    *Neigh       `json:"neigh,omitempty"`
	Dev      string       `json:"dev,omitempty"`     // the port a link command names
	DryRun   bool         `json:"dry_run,omitempty"` // reload --dry-run
	Sysctl   *SysctlArg   `json:"sysctl,omitempty"`  // gw sysctl
	Mark     *MarkRule    `json:"mark,omitempty"`    // gw mark add|del
	List     *ListOptions `json:"list,omitempty"`
	Batch    []Command    `json:"batch,omitempty"` // OpRestore: the commands to apply at once
}

func (c Command) key() (ServiceKey, error) {
	if c.Service == nil {
		return ServiceKey{}, invalidf("%s: no service given", c.Op)
	}
	return c.Service.Key(), nil
}

// Apply applies a mutating command to c. Commands that do not change the
// configuration (list, save, zero, help, ...) are refused with ErrInvalid.
func (c *Config) Apply(cmd Command) error {
	need := func(ok bool) error {
		if !ok {
			return invalidf("%s: command is missing its arguments", cmd.Op)
		}
		return nil
	}
	switch cmd.Op {
	case OpAddService, OpEditService:
		if err := need(cmd.Service != nil); err != nil {
			return err
		}
		if cmd.Op == OpAddService {
			return c.AddService(*cmd.Service)
		}
		return c.EditService(*cmd.Service)
	case OpDelService:
		k, err := cmd.key()
		if err != nil {
			return err
		}
		return c.DelService(k)
	case OpClear:
		c.Clear()
		return nil
	case OpAddDest, OpEditDest, OpDelDest:
		k, err := cmd.key()
		if err != nil {
			return err
		}
		if err := need(cmd.Dest != nil); err != nil {
			return err
		}
		switch cmd.Op {
		case OpAddDest:
			return c.AddDest(k, *cmd.Dest)
		case OpEditDest:
			return c.EditDest(k, *cmd.Dest)
		}
		return c.DelDest(k, cmd.Dest.Key())
	case OpAddLaddr, OpDelLaddr:
		k, err := cmd.key()
		if err != nil {
			return err
		}
		if err := need(cmd.Laddr != nil); err != nil {
			return err
		}
		if cmd.Op == OpAddLaddr {
			return c.AddLaddr(k, *cmd.Laddr)
		}
		return c.DelLaddr(k, cmd.Laddr.Addr)
	case OpSetTimeouts:
		if err := need(cmd.Timeouts != nil); err != nil {
			return err
		}
		return c.SetTimeouts(*cmd.Timeouts)
	case OpRestore:
		return c.ApplyBatch(cmd.Batch)
	case OpSysctlSet:
		if err := need(cmd.Sysctl != nil && (cmd.Sysctl.Value != nil) != (cmd.Sysctl.Seconds != nil)); err != nil {
			return err
		}
		if cmd.Sysctl.Seconds != nil {
			p, err := c.Sysctl.Seconds(cmd.Sysctl.Name)
			if err != nil {
				return err
			}
			if *cmd.Sysctl.Seconds < 1 || *cmd.Sysctl.Seconds > MaxTimeout {
				return invalidf("%s %d out of range 1-%d seconds", cmd.Sysctl.Name, *cmd.Sysctl.Seconds, MaxTimeout)
			}
			*p = *cmd.Sysctl.Seconds
			return nil
		}
		sw, err := c.Sysctl.Switch(cmd.Sysctl.Name)
		if err != nil {
			return err
		}
		*sw = *cmd.Sysctl.Value
		return nil
	case OpAddMark, OpDelMark:
		if err := need(cmd.Mark != nil); err != nil {
			return err
		}
		if cmd.Op == OpAddMark {
			return c.AddMark(*cmd.Mark)
		}
		return c.DelMark(*cmd.Mark)
	case OpAddAddr, OpDelAddr:
		if err := need(cmd.Addr != nil); err != nil {
			return err
		}
		if cmd.Op == OpAddAddr {
			return c.AddAddr(*cmd.Addr)
		}
		return c.DelAddr(*cmd.Addr)
	case OpAddRoute, OpDelRoute:
		if err := need(cmd.Route != nil); err != nil {
			return err
		}
		if cmd.Op == OpAddRoute {
			return c.AddRoute(*cmd.Route)
		}
		return c.DelRoute(cmd.Route.Prefix)
	case OpAddNeigh, OpDelNeigh:
		if err := need(cmd.Neigh != nil); err != nil {
			return err
		}
		if cmd.Op == OpAddNeigh {
			return c.AddNeigh(*cmd.Neigh)
		}
		return c.DelNeigh(cmd.Neigh.Port, cmd.Neigh.Addr)
	}
	return invalidf("%s does not change the configuration", cmd.Op)
}

// ApplyBatch applies cmds in order, all or nothing: on the first error c is
// unchanged and the error names the command's line (Line, or its position
// in cmds when Line is 0) and its text.
func (c *Config) ApplyBatch(cmds []Command) error {
	n := c.Clone()
	for i, cmd := range cmds {
		if cmd.Op == OpRestore {
			return invalidf("line %d: a restore cannot contain a restore", lineOf(cmd, i))
		}
		if err := n.Apply(cmd); err != nil {
			return fmt.Errorf("line %d: %s: %w", lineOf(cmd, i), cmd, err)
		}
	}
	*c = *n
	return nil
}

func lineOf(c Command, i int) int {
	if c.Line > 0 {
		return c.Line
	}
	return i + 1
}

// String renders the command in the syntax that parses back to it:
// ipvsadm arguments for ipvsadm commands ("-A -t 198.18.1.100:80 -s wlc"),
// "OBJECT VERB ..." for stack commands.
func (c Command) String() string { return strings.Join(c.Args(), " ") }

func svcArgs(s *Service) []string {
	if s == nil {
		return nil
	}
	if s.FwMark != 0 {
		return []string{"-f", strconv.FormatUint(uint64(s.FwMark), 10)}
	}
	flag := "-t"
	if s.Proto == UDP {
		flag = "-u"
	} else if s.Proto != TCP {
		flag = "--" + s.Proto.String() + "-service"
	}
	return []string{flag, netip.AddrPortFrom(s.VIP, s.Port).String()}
}

// Args renders the command as an argument vector for ParseArgs (ipvsadm
// commands), ParseStackArgs (stack commands) or ParseCommandLine (the
// gateway's own commands), without the program name.
// For service and destination commands the order follows ipvsadm -S.
func (c Command) Args() []string {
	var a []string
	switch c.Op {
	case OpAddService, OpEditService:
		a = []string{"-A"}
		if c.Op == OpEditService {
			a[0] = "-E"
		}
		if c.Service == nil {
			return a
		}
		s := c.Service
		a = append(a, svcArgs(s)...)
		a = append(a, "-s", s.sched())
		if s.Persistent {
			a = append(a, "-p", strconv.FormatUint(uint64(s.Timeout), 10))
			if s.Netmask.IsValid() {
				a = append(a, "-M", s.MaskString())
			}
		}
		if len(s.Flags) > 0 {
			a = append(a, "-b", strings.Join(s.Flags, ","))
		}
		if s.OnePacket {
			a = append(a, "-o") // ipvsadm's, before fngw's own options
		}
		if s.ProxyProtocol != ProxyNone {
			a = append(a, "--proxy-protocol", s.ProxyProtocol.String())
		}
		if s.TOA {
			a = append(a, "--toa")
		}
	case OpDelService:
		a = append([]string{"-D"}, svcArgs(c.Service)...)
	case OpClear:
		a = []string{"-C"}
	case OpRestore:
		a = []string{"-R"}
	case OpSave:
		a = []string{"-S"}
		if c.List != nil && c.List.Numeric {
			a = append(a, "-n")
		}
	case OpAddDest, OpEditDest, OpDelDest:
		a = []string{map[Op]string{OpAddDest: "-a", OpEditDest: "-e", OpDelDest: "-d"}[c.Op]}
		a = append(a, svcArgs(c.Service)...)
		if c.Dest == nil {
			return a
		}
		d := c.Dest
		a = append(a, "-r", d.Key().String())
		if c.Op == OpDelDest {
			return a
		}
		if d.Fwd != 0 { // -e without a method keeps the server's
			a = append(a, d.Fwd.Flag())
		}
		a = append(a, "-w", strconv.Itoa(d.Weight))
		if d.Fwd == FwdTunnel {
			a = append(a, "--tun-type", d.TunType.String())
		}
		if d.UThresh != 0 {
			a = append(a, "-x", strconv.FormatUint(uint64(d.UThresh), 10))
		}
		if d.LThresh != 0 {
			a = append(a, "-y", strconv.FormatUint(uint64(d.LThresh), 10))
		}
	case OpList:
		a = []string{"-L"}
		a = append(a, svcArgs(c.Service)...)
		a = append(a, c.List.args()...)
	case OpZero:
		a = append([]string{"-Z"}, svcArgs(c.Service)...)
	case OpSetTimeouts:
		a = []string{"--set"}
		if c.Timeouts != nil {
			a = append(a, strings.Fields(c.Timeouts.String())...)
		}
	case OpAddLaddr, OpDelLaddr:
		a = []string{"-P"}
		if c.Op == OpDelLaddr {
			a[0] = "-Q"
		}
		a = append(a, svcArgs(c.Service)...)
		if c.Laddr != nil {
			a = append(a, "-z", c.Laddr.Addr.String())
			if c.Laddr.Port != "" {
				a = append(a, "-F", c.Laddr.Port)
			}
		}
	case OpGetLaddr:
		a = append([]string{"-G"}, svcArgs(c.Service)...)
		if c.List != nil && c.List.JSON {
			a = append(a, "--json")
		}
	case OpHelp:
		a = []string{"-h"}
	case OpVersion:
		a = []string{"-v"}
	case OpAddAddr, OpDelAddr, OpListAddr:
		a = []string{"addr", verb(c.Op)}
		a = append(a, c.stackJSON()...)
		if c.Addr != nil {
			a = append(a, strings.Fields(c.Addr.String())...)
		}
	case OpAddRoute, OpDelRoute, OpListRoute:
		a = []string{"route", verb(c.Op)}
		a = append(a, c.stackJSON()...)
		if c.Route != nil {
			if c.Op == OpDelRoute {
				a = append(a, c.Route.Prefix.String())
			} else {
				a = append(a, strings.Fields(c.Route.String())...)
			}
		}
	case OpAddNeigh, OpDelNeigh, OpListNeigh:
		a = []string{"neigh", verb(c.Op)}
		a = append(a, c.stackJSON()...)
		if c.Neigh != nil {
			if c.Op == OpDelNeigh {
				a = append(a, c.Neigh.Addr.String(), "dev", c.Neigh.Port)
			} else {
				a = append(a, strings.Fields(c.Neigh.String())...)
			}
		}
	case OpAddMark, OpDelMark, OpListMark:
		a = []string{"mark", verb(c.Op)}
		a = append(a, c.stackJSON()...)
		if c.Mark != nil {
			a = append(a, strings.Fields(c.Mark.String())...)
		}
	case OpLinkShow, OpStats, OpResetGaps, OpMem, OpReload:
		a = c.gwArgs()
	default:
		a = []string{string(c.Op)}
	}
	return a
}

func (c Command) stackJSON() []string {
	if c.List != nil && c.List.JSON {
		return []string{"--json"}
	}
	return nil
}

func verb(op Op) string {
	_, v, _ := strings.Cut(string(op), "-")
	return v
}

func (o *ListOptions) args() []string {
	if o == nil {
		return nil
	}
	var a []string
	add := func(b bool, s string) {
		if b {
			a = append(a, s)
		}
	}
	add(o.Numeric, "-n")
	add(o.Conn, "-c")
	add(o.Local, "--local")
	add(o.Timeout, "--timeout")
	add(o.Daemon, "--daemon")
	add(o.Stats, "--stats")
	add(o.Rate, "--rate")
	add(o.Thresholds, "--thresholds")
	add(o.PersistentConn, "--persistent-conn")
	add(o.TunInfo, "--tun-info")
	add(o.NoSort, "--nosort")
	add(o.Exact, "--exact")
	add(o.JSON, "--json")
	return a
}
