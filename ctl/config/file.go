package config

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"fngw/ctl"
)

// Defaults for keys that are absent.
const (
	DefaultMemoryMB    = 512
	DefaultFilePrefix  = "gw"
	DefaultQueues      = 1
	DefaultDesc        = 1024
	DefaultMTU         = 1500
	MaxMTU             = 9702 // the largest jumbo MTU common NICs take
	DefaultSocket      = "/run/fngw/gw.sock"
	DefaultMetrics     = "127.0.0.1:9180"
	DefaultLogLevel    = "info"
	DefaultIdlePolls   = 64
	DefaultSessions    = 1 << 20
	DefaultMbufCache   = 256
	DefaultWeight      = 1
	MaxLcore           = 127 // RTE_MAX_LCORE of Debian's DPDK build is 128
	MaxQueues          = 64
	MaxSessionsPerCore = 1 << 26
)

// The rings between lcores, in slots (a ring holds one packet fewer), and
// what else holds mbufs beside the ports: the pool is sized to hold all of
// it at once (neededMbufs), so that full rings cannot starve the ports.
const (
	RedirectRing = 1024 // worker → worker, replies for the owner of their session
	ControlRing  = 1024 // worker ↔ control lcore
	ARPRing      = 256  // worker → control lcore, ARP alone
	StackQueue   = 1024 // packets the stack holds waiting for a next hop (its queue limit)
	TurnBuffer   = 128  // a worker's buffer toward one way out, within a turn
)

// raw* mirror the TOML file; pointers tell absent keys from zero values.
type rawFile struct {
	EAL         rawEAL       `toml:"eal"`
	IdleSleepUS *int         `toml:"idle_sleep_us"`
	IdlePolls   *int         `toml:"idle_polls"`
	Log         rawLog       `toml:"log"`
	Ports       []rawPort    `toml:"port"`
	Workers     []rawWorker  `toml:"worker"`
	Routes      []rawRoute   `toml:"route"`
	Neighs      []rawNeigh   `toml:"neigh"`
	Ctl         rawCtl       `toml:"ctl"`
	Session     rawSession   `toml:"session"`
	Pool        rawPool      `toml:"pool"`
	Services    []rawService `toml:"service"`
	Marks       []rawMark    `toml:"mark"`
}

// rawMark is a [[mark]] rule (ctl.MarkRule).
type rawMark struct {
	Mark  int64  `toml:"mark"`
	Proto string `toml:"proto"`
	Dst   string `toml:"dst"`
	Src   string `toml:"src"`
	DPort string `toml:"dport"`
}

type rawEAL struct {
	Lcores     *string  `toml:"lcores"`
	MemoryMB   *int     `toml:"memory_mb"`
	Hugepages  bool     `toml:"hugepages"`
	FilePrefix *string  `toml:"file_prefix"`
	Args       []string `toml:"args"`
}

type rawLog struct {
	Level *string `toml:"level"`
}

type rawPort struct {
	Name        string   `toml:"name"`
	Device      string   `toml:"device"`
	Queues      *int     `toml:"queues"`
	Addrs       []string `toml:"addrs"`
	RxDesc      *int     `toml:"rx_desc"`
	TxDesc      *int     `toml:"tx_desc"`
	MTU         *int     `toml:"mtu"`
	MAC         string   `toml:"mac"`
	Promiscuous bool     `toml:"promiscuous"`
	KernelIface string   `toml:"kernel_iface"`
	VIPARP      string   `toml:"vip_arp"`
}

type rawWorker struct {
	Lcore *int     `toml:"lcore"`
	Rx    []string `toml:"rx"`
}

type rawRoute struct {
	Prefix string `toml:"prefix"`
	Via    string `toml:"via"`
	Port   string `toml:"port"`
}

type rawNeigh struct {
	Addr string `toml:"addr"`
	MAC  string `toml:"mac"`
	Port string `toml:"port"`
}

type rawCtl struct {
	Socket      *string `toml:"socket"`
	Metrics     *string `toml:"metrics"`
	RestoreFile string  `toml:"restore_file"`
}

type rawSession struct {
	CapacityPerCore *int `toml:"capacity_per_core"`
	TCPTimeout      *int `toml:"tcp_timeout"`
	TCPFinTimeout   *int `toml:"tcp_fin_timeout"`
	UDPTimeout      *int `toml:"udp_timeout"`
	SynRecvTimeout  *int `toml:"tcp_syn_recv_timeout"`
	UDPOneway       *int `toml:"udp_oneway_timeout"`
	// LVS's switches (ctl.Sysctl), default off.
	ExpireNodestConn        bool `toml:"expire_nodest_conn"`
	ExpireQuiescentTemplate bool `toml:"expire_quiescent_template"`
	SecureTCP               bool `toml:"secure_tcp"`
	LooseIngress            bool `toml:"loose_ingress"`
	LBLCExpiration          *int `toml:"lblc_expiration"`
	LBLCRExpiration         *int `toml:"lblcr_expiration"`
}

type rawPool struct {
	Mbufs     *int `toml:"mbufs"`
	CacheSize *int `toml:"cache_size"`
}

type rawService struct {
	Proto      string   `toml:"proto"`
	VIP        string   `toml:"vip"`
	FwMark     int64    `toml:"fwmark"`
	Sched      string   `toml:"sched"`
	Flags      []string `toml:"flags"`
	Persistent int      `toml:"persistent"`
	Netmask    string   `toml:"netmask"`
	OPS        bool     `toml:"ops"`
	Laddrs     []string `toml:"laddrs"`
	// The client's address toward FULLNAT real servers.
	ProxyProtocol string `toml:"proxy_protocol"`
	TOA           bool   `toml:"toa"`
	// Health checks (keepalived's virtual_server options).
	Quorum      *int      `toml:"quorum"`
	SorryServer string    `toml:"sorry_server"`
	Alpha       bool      `toml:"alpha"`
	NotifyUp    *string   `toml:"notify_up"`
	NotifyDown  *string   `toml:"notify_down"`
	Check       *rawCheck `toml:"check"`
	Dests       []rawDest `toml:"dest"`
}

type rawDest struct {
	Addr       string    `toml:"addr"`
	Fwd        string    `toml:"fwd"`
	Weight     *int      `toml:"weight"`
	UThreshold int       `toml:"u_threshold"`
	LThreshold int       `toml:"l_threshold"`
	Check      *rawCheck `toml:"check"`
}

// rawCheck is a [service.check] or [service.dest.check] table.
type rawCheck struct {
	Type            *string `toml:"type"`
	Port            *int    `toml:"port"`
	Path            *string `toml:"path"`
	ExpectStatus    *[]int  `toml:"expect_status"`
	ExpectBodyRegex *string `toml:"expect_body_regex"`
	Digest          *string `toml:"digest"`
	Interval        *string `toml:"interval"`
	Timeout         *string `toml:"timeout"`
	Rise            *int    `toml:"rise"`
	Fall            *int    `toml:"fall"`
	OnFailure       *string `toml:"on_failure"`
	Source          *string `toml:"source"`
	Payload         *string `toml:"payload"`
	Expect          *string `toml:"expect"`
	Name            *string `toml:"name"`
	QType           *string `toml:"qtype"`
	Command         *string `toml:"command"`
}

// File is a loaded, validated configuration with every default applied.
// It is immutable after Load; the daemon reads it at start and on reload
// (where LB goes through ctl.Diff).
type File struct {
	Path        string
	EAL         EAL
	Log         Log
	IdleSleepUS int // sleep this long after IdlePolls empty polls in a row; 0 = never sleep
	IdlePolls   int
	Ports       []Port
	Workers     []Worker // explicit, or the default mapping
	Ctl         Ctl
	Session     Session
	Pool        Pool
	// LB is the desired state for the control plane: services with their
	// destinations and local addresses, timeouts, and the stack (interface
	// addresses of every port, static routes, static neighbours).
	LB *ctl.Config
}

// EAL holds the DPDK EAL settings.
type EAL struct {
	Lcores     []int       // in the order written; Lcores[0] is the control lcore
	LcoresText string      // as written, e.g. "0-1"
	CPUs       map[int]int // lcore → CPU for lcores written LCORE@CPU; nil when none
	MemoryMB   int
	Hugepages  bool
	FilePrefix string
	Args       []string // extra EAL arguments, appended as given
}

// Log holds the logging settings.
type Log struct {
	Level string // debug, info, warn or error
}

// Port is one DPDK port.
type Port struct {
	Name        string
	Device      string // vdev string ("net_tap0,iface=gw0") or PCI address ("0000:01:00.0[,devargs]")
	PCI         bool   // Device is a PCI address
	Queues      int    // rx and tx queues
	RxDesc      int
	TxDesc      int
	MTU         int
	MAC         ctl.MAC // zero: keep the NIC's own address
	Promiscuous bool
	Addrs       []netip.Prefix
	// KernelIface names the port's kernel interface (the kernel path), ""
	// for none.
	KernelIface string
	// VIPARP is which VIPs of the port's subnets the gateway answers ARP
	// for: VIPARPService, every VIP of a service; VIPARPKernel, a VIP only
	// while the address is on the port's kernel interface (an
	// active/standby pair, where keepalived moves it).
	VIPARP string
}

// The vip_arp policies of a port.
const (
	VIPARPService = "service"
	VIPARPKernel  = "kernel"
)

// MaxIfaceName is the longest kernel interface name (IFNAMSIZ - 1).
const MaxIfaceName = 15

// PortQueue is an rx queue of a port.
type PortQueue struct {
	Port  string
	Queue int
}

// Worker is a worker lcore and the rx queues it polls.
type Worker struct {
	Lcore int
	Rx    []PortQueue
}

// Ctl holds the control-plane endpoints.
type Ctl struct {
	Socket  string
	Metrics string // host:port of the Prometheus endpoint; "" disables it
	// RestoreFile, when set, holds a saved runtime state (ipvsadm-save or
	// `gw adm -S` output) the gateway restores at start over the file's
	// services; a missing file is no error (nothing saved yet).
	RestoreFile string
}

// Session holds per-core session table settings (the [session] timeouts
// are part of LB: ctl.Timeouts).
type Session struct {
	CapacityPerCore int
}

// Pool holds the mbuf pool settings.
type Pool struct {
	Mbufs     int // per pool; computed from the ports and workers when absent
	CacheSize int
	// DataRoom is each mbuf's packet room, headroom excluded: a whole frame
	// at the largest port MTU fits one mbuf (the datapath does not chain
	// mbufs), and never less than DPDK's default 2048.
	DataRoom int
}

// DataRoomFor is the mbuf data room (headroom excluded) that holds a frame
// of the given MTU: Ethernet header, one VLAN tag, the FCS, rounded up to
// 128 bytes; at least 2048.
func DataRoomFor(mtu int) int {
	return max(2048, (mtu+14+4+4+127)&^127)
}

// mbufOverhead is what an mbuf costs beside its data room: the rte_mbuf
// (two cache lines), the headroom, the mempool object header, rounded.
const mbufOverhead = 128 + 128 + 64

// ControlLcore is the first lcore of eal.lcores.
func (f *File) ControlLcore() int { return f.EAL.Lcores[0] }

// CPU is the CPU lcore runs on: the one written as LCORE@CPU, else its number.
func (f *File) CPU(lcore int) int {
	if c, ok := f.EAL.CPUs[lcore]; ok {
		return c
	}
	return lcore
}

// Port returns the port named name.
func (f *File) Port(name string) (*Port, bool) {
	for i := range f.Ports {
		if f.Ports[i].Name == name {
			return &f.Ports[i], true
		}
	}
	return nil, false
}

// Error is one problem of a configuration file, with its line (0 when the
// key is not in the file, e.g. a missing required key).
type Error struct {
	File string
	Line int
	Key  string // e.g. "port[1].addrs"
	Msg  string
}

func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc += fmt.Sprintf(":%d", e.Line)
	}
	if e.Key != "" {
		return fmt.Sprintf("%s: %s: %s", loc, e.Key, e.Msg)
	}
	return fmt.Sprintf("%s: %s", loc, e.Msg)
}

// Errors is every problem found in a file, in line order.
type Errors []*Error

func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

var typeErrRE = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]*)"\): (.*)$`)

// Load reads and validates the file at path.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse decodes and validates a configuration; name is used in messages.
// Decoding is strict: an unknown key is an error naming the key and its
// line. A TOML syntax or type error stops at that error (with its line);
// otherwise every problem is reported at once, as Errors.
func Parse(name string, data []byte) (*File, error) {
	// Values of the wrong type are found and taken out first, so that they
	// are reported beside the other problems rather than alone.
	var doc map[string]any
	if _, err := toml.Decode(string(data), &doc); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, Errors{{File: name, Line: pe.Position.Line, Key: pe.LastKey, Msg: pe.Message}}
		}
		return nil, Errors{{File: name, Msg: err.Error()}}
	}
	var probs []typeProblem
	pruneTypes(doc, reflect.TypeFor[rawFile](), "", &probs)
	text := string(data)
	if len(probs) > 0 {
		var b strings.Builder
		if err := toml.NewEncoder(&b).Encode(doc); err != nil {
			return nil, Errors{{File: name, Msg: err.Error()}}
		}
		text = b.String()
	}
	var raw rawFile
	md, err := toml.Decode(text, &raw)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, Errors{{File: name, Line: pe.Position.Line, Key: pe.LastKey, Msg: pe.Message}}
		}
		// Type errors are plain errors: "toml: line N (last key "K"): MSG".
		if m := typeErrRE.FindStringSubmatch(err.Error()); m != nil {
			line, _ := strconv.Atoi(m[1])
			return nil, Errors{{File: name, Line: line, Key: m[2], Msg: m[3]}}
		}
		return nil, Errors{{File: name, Msg: err.Error()}}
	}
	v := &validator{name: name, pos: buildIndex(string(data)), md: md}
	for _, p := range probs {
		v.errf(p.key, "%s, not %s", p.want, describe(p.got))
	}
	v.unknownKeys(md.Undecoded())
	f := v.file(&raw)
	if len(v.errs) > 0 {
		sort.SliceStable(v.errs, func(i, j int) bool {
			li, lj := v.errs[i].Line, v.errs[j].Line
			if li == 0 || lj == 0 {
				return li != 0 && lj == 0
			}
			return li < lj
		})
		return nil, v.errs
	}
	f.Path = name
	return f, nil
}

type validator struct {
	name string
	pos  *posIndex
	md   toml.MetaData
	errs Errors
}

func (v *validator) errf(key, format string, a ...any) {
	v.errs = append(v.errs, &Error{File: v.name, Line: v.pos.lookup(key), Key: key, Msg: fmt.Sprintf(format, a...)})
}

// err records err (a ctl error naming the value) at key.
func (v *validator) err(key string, err error) {
	v.errs = append(v.errs, &Error{File: v.name, Line: v.pos.lookup(key), Key: key, Msg: err.Error()})
}

// unknownKeys reports every undecoded key once (not the keys below an
// unknown table), with the indexed path and line of its occurrence.
func (v *validator) unknownKeys(keys []toml.Key) {
	cursor := map[string]int{}
	var reported []string
	for _, k := range keys {
		plain := k.String()
		if slices.ContainsFunc(reported, func(r string) bool { return strings.HasPrefix(plain, r+".") }) {
			continue
		}
		reported = append(reported, plain)
		indexed, line := plain, 0
		for i := cursor[plain]; i < len(v.pos.order); i++ {
			if v.pos.order[i].plain == plain {
				indexed, line = v.pos.order[i].indexed, v.pos.order[i].line
				cursor[plain] = i + 1
				break
			}
		}
		if line == 0 {
			line = v.pos.lookup(plain)
		}
		v.errs = append(v.errs, &Error{File: v.name, Line: line, Key: indexed,
			Msg: fmt.Sprintf("unknown key %q%s", k[len(k)-1], v.knownHint(k))})
	}
}

// checkKeys are the keys of a check table.
var checkKeys = []string{"type", "port", "path", "expect_status", "expect_body_regex", "digest", "interval", "timeout",
	"rise", "fall", "on_failure", "source", "payload", "expect", "name", "qtype", "command"}

// knownHint lists the keys accepted where an unknown key was found.
func (v *validator) knownHint(k toml.Key) string {
	known := map[string][]string{
		"":       {"idle_sleep_us", "idle_polls", "[eal]", "[log]", "[[port]]", "[[worker]]", "[[route]]", "[[neigh]]", "[ctl]", "[session]", "[pool]", "[[service]]", "[[mark]]"},
		"eal":    {"lcores", "memory_mb", "hugepages", "file_prefix", "args"},
		"log":    {"level"},
		"port":   {"name", "device", "queues", "addrs", "rx_desc", "tx_desc", "mtu", "mac", "promiscuous"},
		"worker": {"lcore", "rx"},
		"route":  {"prefix", "via", "port"},
		"neigh":  {"addr", "mac", "port"},
		"mark":   {"mark", "proto", "dst", "src", "dport"},
		"ctl":    {"socket", "metrics"},
		"session": {"capacity_per_core", "tcp_timeout", "tcp_fin_timeout", "udp_timeout", "tcp_syn_recv_timeout", "udp_oneway_timeout",
			"expire_nodest_conn", "expire_quiescent_template", "secure_tcp", "loose_ingress", "lblc_expiration", "lblcr_expiration"},
		"pool": {"mbufs", "cache_size"},
		"service": {"proto", "vip", "fwmark", "sched", "flags", "persistent", "netmask", "ops", "laddrs", "proxy_protocol", "toa", "quorum", "sorry_server", "alpha",
			"notify_up", "notify_down", "[service.check]", "[[service.dest]]"},
		"service.dest":       {"addr", "fwd", "weight", "u_threshold", "l_threshold", "[service.dest.check]"},
		"service.check":      checkKeys,
		"service.dest.check": checkKeys,
	}
	if l, ok := known[strings.Join(k[:len(k)-1], ".")]; ok {
		return "; accepted here: " + strings.Join(l, ", ")
	}
	return ""
}
