package ctl

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// UsageError is an error in command-line arguments. Its message names the
// offending argument and what is accepted; a CLI prints it followed by
// TryHelp and exits with status 2, as ipvsadm does.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

func usagef(format string, a ...any) error { return &UsageError{fmt.Sprintf(format, a...)} }

// TryHelp is ipvsadm's hint line after an argument error.
func TryHelp(prog string) string {
	return fmt.Sprintf("Try `%s -h' or '%s --help' for more information.", prog, prog)
}

// argKind says whether an option takes an argument.
type argKind uint8

const (
	noArg  argKind = iota
	reqArg         // POPT_ARG_STRING
	optArg         // POPT_ARG_STRING|POPT_ARGFLAG_OPTIONAL (only -p)
)

// column indexes the option columns of the command/option table, in
// ipvsadm's optnames[] order with fngw's additions at the end.
type column int8

const (
	colNone column = iota - 1
	colNumeric
	colConnection
	colService
	colScheduler
	colPersistent
	colNetmask
	colServer
	colForward
	colWeight
	colUThreshold
	colLThreshold
	colTimeout
	colDaemon
	colStats
	colRate
	colThresholds
	colPersistentConn
	colNoSort
	colExact
	colSchedFlags
	colTunInfo
	colTunType
	colLaddr
	colIfname
	colJSON
	colLocal
	colProxyProtocol
	colTOA
	colOps
	numColumns
)

// colNames are ipvsadm's option names (optnames[]) with the flags that set
// them, for messages.
var colNames = [numColumns]struct{ name, flag string }{
	colNumeric:        {"numeric", "-n"},
	colConnection:     {"connection", "-c"},
	colService:        {"service-address", "-t/-u"},
	colScheduler:      {"scheduler", "-s"},
	colPersistent:     {"persistent", "-p"},
	colNetmask:        {"netmask", "-M"},
	colServer:         {"real-server", "-r"},
	colForward:        {"forwarding-method", "-g/-m/-i/--fullnat"},
	colWeight:         {"weight", "-w"},
	colUThreshold:     {"u-threshold", "-x"},
	colLThreshold:     {"l-threshold", "-y"},
	colTimeout:        {"timeout", "--timeout"},
	colDaemon:         {"daemon", "--daemon"},
	colStats:          {"stats", "--stats"},
	colRate:           {"rate", "--rate"},
	colThresholds:     {"thresholds", "--thresholds"},
	colPersistentConn: {"persistent-conn", "--persistent-conn"},
	colNoSort:         {"nosort", "--nosort"},
	colExact:          {"exact", "--exact"},
	colSchedFlags:     {"sched-flags", "-b"},
	colTunInfo:        {"tun-info", "--tun-info"},
	colTunType:        {"tun-type", "--tun-type"},
	colLaddr:          {"local-address", "-z"},
	colIfname:         {"ifname", "-F"},
	colJSON:           {"json", "--json"},
	colLocal:          {"local", "--local"},
	colProxyProtocol:  {"proxy-protocol", "--proxy-protocol"},
	colTOA:            {"toa", "--toa"},
	colOps:            {"ops", "-o"},
}

func colString(c column) string { return colNames[c].flag + " (" + colNames[c].name + ")" }

// commandSpec is one row of ipvsadm's commands_v_options table:
// '+' compulsory, 'x' illegal, '1' exclusive (at most one '1' option), ' '
// optional. Columns follow the column constants.
type commandSpec struct {
	op    Op
	flag  string
	table string
}

// commandSpecs is ipvsadm 1.31's table plus DPVS's laddr rows. Columns, by
// index: 0 -n, 1 -c, 2 -t/-u, 3 -s, 4 -p, 5 -M, 6 -r, 7 -g/-m/-i/--fullnat,
// 8 -w, 9 -x, 10 -y, 11 --timeout, 12 --daemon, 13 --stats, 14 --rate,
// 15 --thresholds, 16 --persistent-conn, 17 --nosort, 18 --exact, 19 -b,
// 20 --tun-info, 21 --tun-type, 22 -z, 23 -F, 24 --json, 25 --local,
// 26 --proxy-protocol, 27 --toa, 28 -o.
var commandSpecs = [...]commandSpec{
	//                      01234567890123456789012345678
	{OpAddService, "-A", "xx+   xxxxxxxxxxxxx xxxxxx   "},
	{OpEditService, "-E", "xx+   xxxxxxxxxxxxx xxxxxx   "},
	{OpDelService, "-D", "xx+xxxxxxxxxxxxxxxxxxxxxxxxxx"},
	{OpClear, "-C", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
	{OpList, "-L", " 11xxxxxxxx11      x xxx  xxx"},
	{OpAddDest, "-a", "xx+xxx+    xxxxxxxxxx xxxxxxx"},
	{OpDelDest, "-d", "xx+xxx+xxxxxxxxxxxxxxxxxxxxxx"},
	{OpEditDest, "-e", "xx+xxx+    xxxxxxxxxx xxxxxxx"},
	{OpSetTimeouts, "--set", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
	{OpRestore, "-R", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
	{OpSave, "-S", " xxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
	{OpZero, "-Z", "xx xxxxxxxxxxxxxxxxxxxxxxxxxx"},
	{OpAddLaddr, "--add-laddr", "xx+xxxxxxxxxxxxxxxxxxx++xxxxx"},
	{OpDelLaddr, "--del-laddr", "xx+xxxxxxxxxxxxxxxxxxx+ xxxxx"},
	{OpGetLaddr, "--get-laddr", " x xxxxxxxxxxxxxxxxxxxxx xxxx"},
}

func specOf(op Op) *commandSpec {
	for i := range commandSpecs {
		if commandSpecs[i].op == op {
			return &commandSpecs[i]
		}
	}
	return nil
}

// optID identifies a recognised option.
type optID uint8

const (
	oCommand optID = iota // sets a command (op in optDef)
	oTCP
	oUDP
	oFwmark
	oSCTP
	oSched
	oPersistent
	oNetmask
	oServer
	oMasq
	oIPIP
	oGate
	oFullNAT
	oWeight
	oUThresh
	oLThresh
	oNumeric
	oConn
	oTimeout
	oDaemon
	oStats
	oRate
	oThresholds
	oPersistentConn
	oNoSort
	oSort
	oExact
	oSchedFlags
	oTunInfo
	oTunType
	oLaddr
	oIfname
	oJSON
	oLocal
	oProxyProto
	oTOA
	oOps
	oUnsupported // recognised ipvsadm option fngw refuses (msg in optDef)
)

type optDef struct {
	long  string
	short byte
	arg   argKind
	id    optID
	op    Op     // oCommand
	msg   string // oUnsupported
}

// options is the option table: ipvsadm 1.31's long and short spellings,
// DPVS's laddr commands, and --fullnat/--json.
var options = [...]optDef{
	{"add-service", 'A', noArg, oCommand, OpAddService, ""},
	{"edit-service", 'E', noArg, oCommand, OpEditService, ""},
	{"delete-service", 'D', noArg, oCommand, OpDelService, ""},
	{"clear", 'C', noArg, oCommand, OpClear, ""},
	{"list", 'L', noArg, oCommand, OpList, ""},
	{"list", 'l', noArg, oCommand, OpList, ""},
	{"zero", 'Z', noArg, oCommand, OpZero, ""},
	{"add-server", 'a', noArg, oCommand, OpAddDest, ""},
	{"edit-server", 'e', noArg, oCommand, OpEditDest, ""},
	{"delete-server", 'd', noArg, oCommand, OpDelDest, ""},
	{"set", 0, noArg, oCommand, OpSetTimeouts, ""},
	{"help", 'h', noArg, oCommand, OpHelp, ""},
	{"version", 'v', noArg, oCommand, OpVersion, ""},
	{"restore", 'R', noArg, oCommand, OpRestore, ""},
	{"save", 'S', noArg, oCommand, OpSave, ""},
	{"add-laddr", 'P', noArg, oCommand, OpAddLaddr, ""},
	{"del-laddr", 'Q', noArg, oCommand, OpDelLaddr, ""},
	{"get-laddr", 'G', noArg, oCommand, OpGetLaddr, ""},
	{"tcp-service", 't', reqArg, oTCP, "", ""},
	{"udp-service", 'u', reqArg, oUDP, "", ""},
	{"fwmark-service", 'f', reqArg, oFwmark, "", ""},
	{"sctp-service", 0, reqArg, oUnsupported, "", "SCTP services are not supported; use -t or -u"},
	{"scheduler", 's', reqArg, oSched, "", ""},
	{"persistent", 'p', optArg, oPersistent, "", ""},
	{"netmask", 'M', reqArg, oNetmask, "", ""},
	{"real-server", 'r', reqArg, oServer, "", ""},
	{"masquerading", 'm', noArg, oMasq, "", ""},
	{"ipip", 'i', noArg, oIPIP, "", ""},
	{"gatewaying", 'g', noArg, oGate, "", ""},
	{"fullnat", 0, noArg, oFullNAT, "", ""},
	{"weight", 'w', reqArg, oWeight, "", ""},
	{"u-threshold", 'x', reqArg, oUThresh, "", ""},
	{"l-threshold", 'y', reqArg, oLThresh, "", ""},
	{"numeric", 'n', noArg, oNumeric, "", ""},
	{"connection", 'c', noArg, oConn, "", ""},
	{"timeout", 0, noArg, oTimeout, "", ""},
	{"daemon", 0, noArg, oDaemon, "", ""},
	{"stats", 0, noArg, oStats, "", ""},
	{"rate", 0, noArg, oRate, "", ""},
	{"thresholds", 0, noArg, oThresholds, "", ""},
	{"persistent-conn", 0, noArg, oPersistentConn, "", ""},
	{"nosort", 0, noArg, oNoSort, "", ""},
	{"sort", 0, noArg, oSort, "", ""},
	{"exact", 'X', noArg, oExact, "", ""},
	{"sched-flags", 'b', reqArg, oSchedFlags, "", ""},
	{"tun-info", 0, noArg, oTunInfo, "", ""},
	{"tun-type", 0, reqArg, oTunType, "", ""},
	{"laddr", 'z', reqArg, oLaddr, "", ""},
	{"ifname", 'F', reqArg, oIfname, "", ""},
	{"json", 0, noArg, oJSON, "", ""},
	{"local", 0, noArg, oLocal, "", ""},
	{"proxy-protocol", 0, reqArg, oProxyProto, "", ""},
	{"toa", 0, noArg, oTOA, "", ""},
	{"ipv6", '6', noArg, oUnsupported, "", "-6: IPv6 firewall-mark services are not supported yet (the datapath serves IPv4)"},
	{"ops", 'o', noArg, oOps, "", ""},
	{"pe", 0, reqArg, oUnsupported, "", "persistence engines (--pe) are not supported"},
	{"start-daemon", 0, reqArg, oUnsupported, "", "the connection sync daemon is not supported yet"},
	{"stop-daemon", 0, reqArg, oUnsupported, "", "the connection sync daemon is not supported yet"},
	{"mcast-interface", 0, reqArg, oUnsupported, "", "the connection sync daemon is not supported yet"},
	{"syncid", 0, reqArg, oUnsupported, "", "the connection sync daemon is not supported yet"},
	{"mcast-group", 0, reqArg, oUnsupported, "", "the connection sync daemon is not supported yet"},
	{"mcast-port", 0, reqArg, oUnsupported, "", "the connection sync daemon is not supported yet"},
	{"mcast-ttl", 0, reqArg, oUnsupported, "", "the connection sync daemon is not supported yet"},
	{"sync-maxlen", 0, reqArg, oUnsupported, "", "the connection sync daemon is not supported yet"},
	{"tun-port", 0, reqArg, oUnsupported, "", "GUE tunnels (--tun-port) are not supported; tunnels are ipip"},
	{"tun-nocsum", 0, noArg, oUnsupported, "", "GUE tunnel options are not supported; tunnels are ipip"},
	{"tun-csum", 0, noArg, oUnsupported, "", "GUE tunnel options are not supported; tunnels are ipip"},
	{"tun-remcsum", 0, noArg, oUnsupported, "", "GUE tunnel options are not supported; tunnels are ipip"},
}

func (d *optDef) name() string {
	if d.short != 0 {
		if d.long != "" {
			return "-" + string(d.short) + " (--" + d.long + ")"
		}
		return "-" + string(d.short)
	}
	return "--" + d.long
}

func findLong(name string) *optDef {
	for i := range options {
		if options[i].long == name {
			return &options[i]
		}
	}
	return nil
}

func findShort(c byte) *optDef {
	for i := range options {
		if options[i].short == c {
			return &options[i]
		}
	}
	return nil
}

// argHint describes an option's argument for "needs an argument" messages.
func argHint(id optID) string {
	switch id {
	case oTCP, oUDP:
		return "host[:port], e.g. 198.18.1.100:80"
	case oServer:
		return "host[:port], e.g. 10.0.0.1:8080"
	case oSched:
		return "one of " + strings.Join(Schedulers[:], "|")
	case oPersistent:
		return "seconds"
	case oNetmask:
		return "a netmask such as 255.255.255.0"
	case oWeight:
		return "0-65535"
	case oUThresh, oLThresh:
		return "a connection count"
	case oSchedFlags:
		return "comma-separated flags: sh-fallback,sh-port,mh-fallback,mh-port"
	case oTunType:
		return "ipip"
	case oLaddr:
		return "a local IP address"
	case oIfname:
		return "a DPDK port name such as dpdk0"
	case oProxyProto:
		return "v1 or v2"
	}
	return "a value"
}

// Resolver turns the names ipvsadm accepts in place of numbers into
// numbers: a host name in an address (ipvsadm's host_to_addr, IPv4) and a
// service name in a port (service_to_port: getservbyname for the
// service's protocol, /etc/services). ctl does no I/O: the client passes
// one that asks the system.
type Resolver interface {
	LookupHost(name string) (netip.Addr, error)
	LookupPort(name string, p Proto) (uint16, error)
}

// parser holds the state of one ParseArgs call, like ipvsadm's
// ipvs_command_entry plus its options bitmask.
type parser struct {
	names     Resolver // nil: numbers only
	op        Op
	opFlag    string
	given     [numColumns]bool
	svc       Service
	svcArg    string // raw -t/-u argument
	svcPort   bool   // -t/-u gave a port
	dest      Dest
	destArg   string
	destPort  bool // -r gave a port
	maskArg   string
	flagsArg  string
	laddr     LocalAddr
	list      ListOptions
	positions []string
}

// ParseArgs parses ipvsadm arguments (without the program name) into a
// Command, as ipvsadm 1.31 does with popt: short options may be clustered
// (-Ln, -At), an option's argument may be attached (-t1.2.3.4:80,
// --weight=3) or be the next word, -p takes an optional argument (the next
// word unless it starts with '-'), "--" ends the options. Unlike ipvsadm the
// command need not come first. No arguments at all means list (ipvsadm with
// no arguments). Defaults are ipvsadm's: scheduler wlc, -p 300, forwarding
// -g (direct routing), weight 1; a real server without a port gets the
// service's port.
//
// Addresses and ports are numeric; ParseArgsWith also takes names.
//
// Errors are *UsageError for malformed arguments or *kindError (ErrInvalid)
// for bad values; both name the offending argument.
func ParseArgs(args []string) (Command, error) { return ParseArgsWith(args, nil) }

// ParseArgsWith is ParseArgs where an address may be a host name and a port
// a service name, as ipvsadm accepts them (and prints them in -S without
// -n), looked up with names when it is not nil.
func ParseArgsWith(args []string, names Resolver) (Command, error) {
	if len(args) == 0 {
		return Command{Op: OpList, List: &ListOptions{}}, nil
	}
	p := &parser{names: names, dest: Dest{Weight: 1}}
	if err := p.scan(args); err != nil {
		return Command{}, err
	}
	return p.finish()
}

func (p *parser) scan(args []string) error {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			p.positions = append(p.positions, args[i+1:]...)
			return nil
		case strings.HasPrefix(a, "--"):
			name, val, hasVal := strings.Cut(a[2:], "=")
			d := findLong(name)
			if d == nil {
				return unknownLong(name)
			}
			switch {
			case d.arg == noArg && hasVal:
				return usagef("option --%s takes no value (got %q)", name, a)
			case d.arg == reqArg && !hasVal:
				if i+1 >= len(args) {
					return usagef("option %s needs an argument: %s", d.name(), argHint(d.id))
				}
				i++
				val, hasVal = args[i], true
			case d.arg == optArg && !hasVal && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-"):
				i++
				val, hasVal = args[i], true
			}
			if err := p.option(d, val, hasVal); err != nil {
				return err
			}
		case len(a) > 1 && a[0] == '-':
			if len(a) > 2 && findLong(a[1:]) != nil {
				// popt would read "-scheduler" as -s "cheduler".
				return usagef("option %q: long options take two dashes: --%s", a, a[1:])
			}
			for j := 1; j < len(a); j++ {
				d := findShort(a[j])
				if d == nil {
					return usagef("unknown option -%c in %q (run with -h for the accepted options)", a[j], a)
				}
				if d.arg == noArg {
					if err := p.option(d, "", false); err != nil {
						return err
					}
					continue
				}
				val, hasVal := a[j+1:], j+1 < len(a)
				if !hasVal {
					switch {
					case d.arg == reqArg && i+1 >= len(args):
						return usagef("option %s needs an argument: %s", d.name(), argHint(d.id))
					case d.arg == reqArg, i+1 < len(args) && !strings.HasPrefix(args[i+1], "-"):
						i++
						val, hasVal = args[i], true
					}
				}
				if err := p.option(d, val, hasVal); err != nil {
					return err
				}
				break
			}
		default:
			p.positions = append(p.positions, a)
		}
	}
	return nil
}

func unknownLong(name string) error {
	var cands []string
	for i := range options {
		if l := options[i].long; l != "" && (strings.HasPrefix(l, name) || strings.HasPrefix(name, l)) && name != "" {
			cands = append(cands, "--"+l)
		}
	}
	if len(cands) > 0 && len(cands) <= 3 {
		return usagef("unknown option --%s; did you mean %s?", name, strings.Join(cands, " or "))
	}
	return usagef("unknown option --%s (run with -h for the accepted options)", name)
}

// set marks a column given, refusing repeats (ipvsadm's set_option).
func (p *parser) set(c column, d *optDef) error {
	if p.given[c] {
		return usagef("option %s (%s) given twice; give it once", d.name(), colNames[c].name)
	}
	p.given[c] = true
	return nil
}

func (p *parser) option(d *optDef, val string, hasVal bool) error {
	var err error
	switch d.id {
	case oCommand:
		if p.op != "" && p.op != d.op {
			return usagef("two commands given (%s and %s); give exactly one", p.opFlag, d.name())
		}
		if p.op == d.op {
			return usagef("command %s given twice", d.name())
		}
		p.op, p.opFlag = d.op, d.name()
	case oUnsupported:
		return usagef("%s: %s", d.name(), d.msg)
	case oTCP, oUDP:
		if err = p.set(colService, d); err != nil {
			return err
		}
		p.svc.Proto = TCP
		if d.id == oUDP {
			p.svc.Proto = UDP
		}
		p.svcArg = val
		var ap netip.AddrPort
		ap, p.svcPort, err = parseServiceArg(val, p.svc.Proto, p.names)
		if err != nil {
			return fmt.Errorf("virtual service %s %q: %w", d.name(), val, err)
		}
		p.svc.VIP, p.svc.Port = ap.Addr(), ap.Port()
	case oFwmark:
		if err = p.set(colService, d); err != nil {
			return err
		}
		n, e := strconv.ParseUint(val, 10, 32)
		if e != nil || n == 0 {
			return invalidf("invalid firewall mark %q for %s: want 1-%d", val, d.name(), uint32(1<<32-1))
		}
		p.svc.FwMark, p.svc.Proto = uint32(n), TCP
		p.svcArg = val
	case oSched:
		if err = p.set(colScheduler, d); err != nil {
			return err
		}
		if err = CheckSched(val); err != nil {
			return err
		}
		p.svc.Sched = val
	case oPersistent:
		if err = p.set(colPersistent, d); err != nil {
			return err
		}
		p.svc.Persistent = true
		p.svc.Timeout = DefaultPersistent
		if hasVal {
			n, e := strconv.ParseUint(val, 10, 32)
			if e != nil || n < 1 || n > MaxTimeout {
				return invalidf("invalid persistence timeout %q for %s: want seconds 1-%d", val, d.name(), MaxTimeout)
			}
			p.svc.Timeout = uint32(n)
		}
	case oNetmask:
		if err = p.set(colNetmask, d); err != nil {
			return err
		}
		p.maskArg = val
	case oOps:
		if err = p.set(colOps, d); err != nil {
			return err
		}
		p.svc.OnePacket = true
	case oServer:
		if err = p.set(colServer, d); err != nil {
			return err
		}
		p.destArg = val // parsed by finish, once the service's protocol is known
	case oMasq, oIPIP, oGate, oFullNAT:
		if err = p.set(colForward, d); err != nil {
			return err
		}
		p.dest.Fwd = map[optID]FwdMode{oMasq: FwdMasq, oIPIP: FwdTunnel, oGate: FwdRoute, oFullNAT: FwdFullNAT}[d.id]
	case oWeight:
		if err = p.set(colWeight, d); err != nil {
			return err
		}
		n, e := strconv.ParseUint(val, 10, 32)
		if e != nil || n > MaxWeight {
			return invalidf("invalid weight %q for %s: want 0-%d", val, d.name(), MaxWeight)
		}
		p.dest.Weight = int(n)
	case oUThresh, oLThresh:
		c, t := colUThreshold, &p.dest.UThresh
		if d.id == oLThresh {
			c, t = colLThreshold, &p.dest.LThresh
		}
		if err = p.set(c, d); err != nil {
			return err
		}
		n, e := strconv.ParseUint(val, 10, 32)
		if e != nil || n > MaxThreshold {
			return invalidf("invalid threshold %q for %s: want 0-%d", val, d.name(), MaxThreshold)
		}
		*t = uint32(n)
	case oNumeric:
		err = p.set(colNumeric, d)
		p.list.Numeric = true
	case oConn:
		err = p.set(colConnection, d)
		p.list.Conn = true
	case oTimeout:
		err = p.set(colTimeout, d)
		p.list.Timeout = true
	case oDaemon:
		err = p.set(colDaemon, d)
		p.list.Daemon = true
	case oStats:
		err = p.set(colStats, d)
		p.list.Stats = true
	case oRate:
		err = p.set(colRate, d)
		p.list.Rate = true
	case oThresholds:
		err = p.set(colThresholds, d)
		p.list.Thresholds = true
	case oPersistentConn:
		err = p.set(colPersistentConn, d)
		p.list.PersistentConn = true
	case oNoSort:
		err = p.set(colNoSort, d)
		p.list.NoSort = true
	case oSort: // "does nothing, for backwards compatibility"
	case oExact:
		err = p.set(colExact, d)
		p.list.Exact = true
	case oTunInfo:
		err = p.set(colTunInfo, d)
		p.list.TunInfo = true
	case oJSON:
		err = p.set(colJSON, d)
		p.list.JSON = true
	case oLocal:
		err = p.set(colLocal, d)
		p.list.Local = true
	case oProxyProto:
		if err = p.set(colProxyProtocol, d); err != nil {
			return err
		}
		if p.svc.ProxyProtocol, err = ParseProxyVersion(val); err != nil {
			return fmt.Errorf("%s: %w", d.name(), err)
		}
	case oTOA:
		err = p.set(colTOA, d)
		p.svc.TOA = true
	case oSchedFlags:
		if err = p.set(colSchedFlags, d); err != nil {
			return err
		}
		p.flagsArg = val
	case oTunType:
		if err = p.set(colTunType, d); err != nil {
			return err
		}
		p.dest.TunType, err = ParseTunType(val)
	case oLaddr:
		if err = p.set(colLaddr, d); err != nil {
			return err
		}
		a, e := ParseIP(val)
		if e != nil {
			return fmt.Errorf("local address %s: %w", d.name(), e)
		}
		p.laddr.Addr = a
	case oIfname:
		if err = p.set(colIfname, d); err != nil {
			return err
		}
		if err = CheckPortName(val); err != nil {
			return fmt.Errorf("%s: %w", d.name(), err)
		}
		p.laddr.Port = val
	}
	return err
}

// parseServiceArg parses an ipvsadm service or server address: "HOST",
// "HOST:PORT", "[V6ADDR]:PORT" or a bare IPv6 address (no port), as
// ipvsadm's parse_service. HOST and PORT are numbers, or names that names
// resolves (a port name for protocol proto). It reports whether a port was
// given.
func parseServiceArg(s string, proto Proto, names Resolver) (netip.AddrPort, bool, error) {
	if s == "" {
		return netip.AddrPort{}, false, invalidf("empty address")
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return netip.AddrPortFrom(a.Unmap(), 0), false, nil
	}
	host, port, hasPort := s, "", false
	if strings.HasPrefix(s, "[") || strings.Contains(s, ":") {
		var ok bool
		if host, port, ok = cutPort(s); !ok {
			return netip.AddrPort{}, false, invalidf("want host[:port], e.g. 198.18.1.100:80 or [2001:db8::1]:80")
		}
		hasPort = true
	}
	a, err := resolveHost(host, names)
	if err != nil || !hasPort {
		return netip.AddrPortFrom(a, 0), false, err
	}
	n, err := resolvePort(port, proto, names)
	if err != nil {
		return netip.AddrPort{}, false, err
	}
	return netip.AddrPortFrom(a, n), true, nil
}

// isName reports whether s can only be a name, not a mistyped number: a
// host name has a letter somewhere (RFC 1123), a service name too.
func isName(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }) && !strings.Contains(s, ":")
}

func resolveHost(s string, names Resolver) (netip.Addr, error) {
	a, err := ParseIP(s)
	if err == nil || names == nil || !isName(s) {
		return a, err
	}
	if a, err = names.LookupHost(s); err != nil {
		return netip.Addr{}, invalidf("host name %q: %v", s, err)
	}
	return a.Unmap(), nil
}

func resolvePort(s string, proto Proto, names Resolver) (uint16, error) {
	n, err := parsePort(s)
	if err == nil || names == nil || !isName(s) {
		return n, err
	}
	if n, err = names.LookupPort(s, proto); err != nil {
		return 0, invalidf("service name %q: %v (a %s port name from /etc/services, or a number)", s, err, proto)
	}
	return n, nil
}

// finish applies ipvsadm's generic_opt_check and process_options rules.
func (p *parser) finish() (Command, error) {
	switch p.op {
	case "":
		return Command{}, usagef("no command given; use one of -A -E -D -C -R -S -a -e -d -L -Z --set --add-laddr --del-laddr --get-laddr -h")
	case OpHelp, OpVersion:
		return Command{Op: p.op}, nil
	}
	spec := specOf(p.op)
	exclusive := colNone
	for c := range numColumns {
		rule := spec.table[c]
		switch {
		case !p.given[c] && rule == '+':
			if c == colService {
				return Command{}, usagef("the %s command (%s) needs a virtual service: -t|-u host:port", spec.op, spec.flag)
			}
			return Command{}, usagef("the %s command (%s) needs option %s", spec.op, spec.flag, colString(c))
		case p.given[c] && rule == 'x':
			return Command{}, usagef("option %s is not allowed with the %s command (%s)", colString(c), spec.op, spec.flag)
		case p.given[c] && rule == '1':
			if exclusive != colNone {
				return Command{}, usagef("option %s conflicts with %s in the %s command; give one of them", colString(c), colString(exclusive), spec.op)
			}
			exclusive = c
		}
	}
	switch {
	case p.op == OpSetTimeouts:
		if len(p.positions) < 3 {
			return Command{}, usagef("--set needs 3 timeout values in seconds: tcp tcpfin udp (0 leaves one unchanged)")
		}
	}
	extra := p.positions
	if p.op == OpSetTimeouts {
		extra = extra[3:]
	}
	if len(extra) > 0 {
		return Command{}, usagef("unexpected argument %q", extra[0])
	}

	cmd := Command{Op: p.op}
	svc := func() *Service {
		if !p.given[colService] {
			return nil
		}
		s := Service{Proto: p.svc.Proto, VIP: p.svc.VIP, Port: p.svc.Port, FwMark: p.svc.FwMark}
		return &s
	}
	switch p.op {
	case OpAddService, OpEditService:
		s := p.svc
		if s.Sched == "" {
			s.Sched = DefaultSched
		}
		if p.maskArg != "" {
			m, err := ParseMask(s.family(), p.maskArg)
			if err != nil {
				return Command{}, fmt.Errorf("-M: %w", err)
			}
			s.Netmask = m
		}
		if p.flagsArg != "" {
			s.Flags = strings.Split(p.flagsArg, ",")
		}
		n, err := s.normalize()
		if err != nil {
			return Command{}, err
		}
		cmd.Service = &n
	case OpDelService:
		cmd.Service = svc()
	case OpAddDest, OpEditDest, OpDelDest:
		cmd.Service = svc()
		ap, destPort, err := parseServiceArg(p.destArg, p.svc.Proto, p.names)
		if err != nil {
			return Command{}, fmt.Errorf("real server -r (--real-server) %q: %w", p.destArg, err)
		}
		d := p.dest
		d.Addr, d.Port = ap.Addr(), ap.Port()
		if !destPort {
			d.Port = p.svc.Port // ipvsadm: "copy vport to dport if not specified"
		}
		if p.op == OpDelDest {
			cmd.Dest = &Dest{Addr: d.Addr, Port: d.Port}
			break
		}
		if d.Fwd == 0 && p.op == OpAddDest {
			d.Fwd = FwdRoute // ipvsadm's default; -e without a method keeps the server's
		}
		if p.given[colTunType] && d.Fwd != FwdTunnel {
			return Command{}, usagef("--tun-type only applies to tunnel (-i) servers")
		}
		if d.Addr.BitLen() != p.svc.family().BitLen() && d.Fwd != 0 && d.Fwd != FwdTunnel {
			// ipvsadm: "Different address family is allowed only for tunneling servers".
			return Command{}, invalidf("real server %s: address family differs from service %s; only tunnel (-i) mixes families", d.Key(), p.svc.Key())
		}
		// The rest (the port DR and TUN keep, thresholds, ...) is checked
		// by Config against the service, once it is known to exist: a
		// missing service is reported first, as by the kernel.
		cmd.Dest = &d
	case OpList:
		if (p.list.Conn || p.list.Timeout || p.list.Daemon) && (p.list.Stats || p.list.Rate || p.list.Thresholds) ||
			(p.list.Timeout || p.list.Daemon) && p.list.PersistentConn {
			return Command{}, usagef("options conflict in the list command: -c, --timeout and --daemon cannot be combined with --stats, --rate, --thresholds (nor --timeout/--daemon with --persistent-conn)")
		}
		if p.list.Local && !p.list.Conn {
			return Command{}, usagef("--local adds the FULLNAT local-address column to the connection listing: use it with -c")
		}
		cmd.Service = svc()
		l := p.list
		cmd.List = &l
	case OpSave:
		cmd.List = &ListOptions{Numeric: p.list.Numeric}
	case OpZero:
		cmd.Service = svc()
	case OpSetTimeouts:
		var t Timeouts
		for i, f := range []*uint32{&t.TCP, &t.TCPFin, &t.UDP} {
			n, err := strconv.ParseUint(p.positions[i], 10, 32)
			if err != nil || n > MaxTimeout {
				return Command{}, invalidf("invalid timeout value %q: want seconds 0-%d", p.positions[i], MaxTimeout)
			}
			*f = uint32(n)
		}
		cmd.Timeouts = &t
	case OpAddLaddr, OpDelLaddr:
		cmd.Service = svc()
		l := p.laddr
		cmd.Laddr = &l
	case OpGetLaddr:
		cmd.Service = svc()
		if p.list.JSON || p.list.Numeric {
			cmd.List = &ListOptions{JSON: p.list.JSON, Numeric: p.list.Numeric}
		}
	}
	return cmd, nil
}
