package harness

import (
	"fmt"
	"strconv"
	"strings"
)

// Config is the gateway configuration a test runs with, written as TOML in
// the format `gw run -c` reads (package fngw/ctl/config; the harness's own
// tests parse what TOML writes with it). Zero fields get the test defaults
// below; Start fills FilePrefix and Socket with unique values when they are
// empty.
type Config struct {
	Lcores     string   // [eal] lcores; default "0-1": control on CPU 0, one worker on CPU 1
	MemoryMB   int      // [eal] memory_mb; default 512
	Hugepages  bool     // [eal] hugepages; tests run without (--no-huge)
	FilePrefix string   // [eal] file_prefix; unique per gateway
	EALArgs    []string // [eal] args, passed through to the EAL

	// IdleSleepUS (top-level idle_sleep_us) is how long a worker sleeps
	// after IdlePolls empty polls in a row, so that a gateway under test
	// leaves CPU to the kernel-side clients on a two-core machine. Default
	// 100; negative writes 0 (busy polling).
	IdleSleepUS int
	IdlePolls   int // idle_polls; 0 leaves the key out (the gateway's default)

	LogLevel string // [log] level; empty leaves the table out

	Ports  []Port
	Routes []Route
	Neighs []Neigh

	Socket  string // [ctl] socket
	Metrics string // [ctl] metrics listen address; empty disables the endpoint

	Session  Session
	Pool     Pool
	Services []Service
}

// Port is one [[port]] table.
type Port struct {
	Name   string   // e.g. "dpdk0"
	Device string   // vdev string, e.g. "net_tap0,iface=fgt1a2b-3"
	Queues int      // default 1
	Addrs  []string // interface addresses with prefix length, e.g. "198.18.1.1/24"
	MAC    string   // the port's MAC; empty keeps the device's own
	MTU    int      // the port's MTU; 0 leaves the key out (1500)
	// KernelIface names the port's kernel interface (kernel_iface); VIPARP
	// its vip_arp policy ("" leaves the key out: "service").
	KernelIface, VIPARP string
}

// Route is one [[route]] table (Via empty: a connected route).
type Route struct {
	Prefix, Via, Port string
}

// Neigh is one [[neigh]] table: a static neighbour, as `gw ip neigh add ADDR
// lladdr MAC dev PORT`.
type Neigh struct {
	Addr, MAC, Port string
}

// Session is the [session] table; a zero field leaves its key out (the
// gateway's default), and a zero Session the whole table.
type Session struct {
	CapacityPerCore int // capacity_per_core: sessions per worker, a power of two
	TCPTimeout      int // tcp_timeout, seconds
	TCPFinTimeout   int // tcp_fin_timeout, seconds
	UDPTimeout      int // udp_timeout, seconds
	SynRecvTimeout  int // tcp_syn_recv_timeout, seconds
}

// Pool is the [pool] table; a zero field leaves its key out (the gateway
// sizes the pool itself), and a zero Pool the whole table.
type Pool struct {
	Mbufs     int // mbufs per pool
	CacheSize int // cache_size: mbufs cached per lcore
}

// Service is one [[service]] table: a virtual service, its real servers and
// its local addresses. Values are written as given, so a test can also write
// one the gateway must refuse.
type Service struct {
	Proto      string      // "tcp" or "udp"
	VIP        string      // ADDR:PORT, e.g. "198.18.1.100:80"
	Sched      string      // scheduler, e.g. "rr"; empty leaves the key out (wlc)
	Flags      []string    // scheduler flags, e.g. "sh-port"; empty leaves the key out
	Persistent int         // persistence timeout in seconds; 0 leaves the key out (not persistent)
	Netmask    string      // persistence granularity, e.g. "255.255.255.0"; empty leaves the key out
	Laddrs     []LocalAddr // laddrs: FULLNAT source addresses
	// Raw is TOML written as it is after the service's keys and before its
	// destinations: health keys (quorum, sorry_server, ...) and a
	// [service.check] table.
	Raw   string
	Dests []Dest // [[service.dest]] tables
}

// Dest is one [[service.dest]] table: a real server of a service.
type Dest struct {
	Addr string // ADDR[:PORT]; without a port, the service's
	Fwd  string // forwarding method: "fullnat", "masq", "route" or "tunnel"
	// Weight 0 leaves the key out (weight 1); negative writes 0 (a
	// quiesced destination: no new connections).
	Weight     int
	UThreshold int // u_threshold: most connections; 0 leaves the key out (no limit)
	LThreshold int // l_threshold: connections below which an overloaded server takes new ones again
	// Raw is TOML written as it is after the destination's keys: a
	// [service.dest.check] table.
	Raw string
}

// LocalAddr is one element of a service's laddrs: Addr on port Port ("ADDR
// dev PORT"), or the bare Addr when Port is empty (the port whose subnet
// holds it).
type LocalAddr struct {
	Addr, Port string
}

func (l LocalAddr) String() string {
	if l.Port == "" {
		return l.Addr
	}
	return l.Addr + " dev " + l.Port
}

// Default values of the zero Config fields.
const (
	DefaultLcores      = "0-1"
	DefaultMemoryMB    = 512
	DefaultIdleSleepUS = 100
)

// tomlString quotes s as a TOML basic string. Test configurations hold only
// printable ASCII; anything else is a bug in the test.
func tomlString(s string) string {
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			panic(fmt.Sprintf("harness: non-printable character in TOML value %q", s))
		}
	}
	return strconv.Quote(s)
}

func tomlStrings(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = tomlString(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// writeRaw writes raw TOML lines, ending the last with a newline.
func writeRaw(b *strings.Builder, raw string) {
	if raw != "" {
		b.WriteString(strings.TrimSuffix(raw, "\n") + "\n")
	}
}

// TOML renders c with defaults applied.
func (c Config) TOML() string {
	var b strings.Builder
	kv := func(k, v string) { fmt.Fprintf(&b, "%s = %s\n", k, v) }
	// The optional keys: a zero value leaves the key out.
	optInt := func(k string, v int) {
		if v != 0 {
			kv(k, strconv.Itoa(v))
		}
	}
	optString := func(k, v string) {
		if v != "" {
			kv(k, tomlString(v))
		}
	}
	lcores, mem, idle := c.Lcores, c.MemoryMB, c.IdleSleepUS
	if lcores == "" {
		lcores = DefaultLcores
	}
	if mem == 0 {
		mem = DefaultMemoryMB
	}
	switch {
	case idle == 0:
		idle = DefaultIdleSleepUS
	case idle < 0:
		idle = 0
	}

	b.WriteString("# written by fngw/test/harness\n")
	kv("idle_sleep_us", strconv.Itoa(idle))
	optInt("idle_polls", c.IdlePolls)
	b.WriteString("\n[eal]\n")
	kv("lcores", tomlString(lcores))
	kv("memory_mb", strconv.Itoa(mem))
	kv("hugepages", strconv.FormatBool(c.Hugepages))
	kv("file_prefix", tomlString(c.FilePrefix))
	kv("args", tomlStrings(c.EALArgs))
	if c.LogLevel != "" {
		b.WriteString("\n[log]\n")
		kv("level", tomlString(c.LogLevel))
	}

	for _, p := range c.Ports {
		q := p.Queues
		if q == 0 {
			q = 1
		}
		b.WriteString("\n[[port]]\n")
		kv("name", tomlString(p.Name))
		kv("device", tomlString(p.Device))
		kv("queues", strconv.Itoa(q))
		kv("addrs", tomlStrings(p.Addrs))
		optString("mac", p.MAC)
		optInt("mtu", p.MTU)
		optString("kernel_iface", p.KernelIface)
		optString("vip_arp", p.VIPARP)
	}
	for _, r := range c.Routes {
		b.WriteString("\n[[route]]\n")
		kv("prefix", tomlString(r.Prefix))
		optString("via", r.Via)
		kv("port", tomlString(r.Port))
	}
	for _, n := range c.Neighs {
		b.WriteString("\n[[neigh]]\n")
		kv("addr", tomlString(n.Addr))
		kv("mac", tomlString(n.MAC))
		kv("port", tomlString(n.Port))
	}
	b.WriteString("\n[ctl]\n")
	kv("socket", tomlString(c.Socket))
	kv("metrics", tomlString(c.Metrics))
	if c.Session != (Session{}) {
		b.WriteString("\n[session]\n")
		optInt("capacity_per_core", c.Session.CapacityPerCore)
		optInt("tcp_timeout", c.Session.TCPTimeout)
		optInt("tcp_fin_timeout", c.Session.TCPFinTimeout)
		optInt("udp_timeout", c.Session.UDPTimeout)
		optInt("tcp_syn_recv_timeout", c.Session.SynRecvTimeout)
	}
	if c.Pool != (Pool{}) {
		b.WriteString("\n[pool]\n")
		optInt("mbufs", c.Pool.Mbufs)
		optInt("cache_size", c.Pool.CacheSize)
	}
	for _, s := range c.Services {
		// The service's own keys come before its [[service.dest]]
		// tables: a key after a table header belongs to that table.
		b.WriteString("\n[[service]]\n")
		kv("proto", tomlString(s.Proto))
		kv("vip", tomlString(s.VIP))
		optString("sched", s.Sched)
		if len(s.Flags) != 0 {
			kv("flags", tomlStrings(s.Flags))
		}
		optInt("persistent", s.Persistent)
		optString("netmask", s.Netmask)
		if len(s.Laddrs) != 0 {
			laddrs := make([]string, len(s.Laddrs))
			for i, l := range s.Laddrs {
				laddrs[i] = l.String()
			}
			kv("laddrs", tomlStrings(laddrs))
		}
		writeRaw(&b, s.Raw)
		for _, d := range s.Dests {
			b.WriteString("[[service.dest]]\n")
			kv("addr", tomlString(d.Addr))
			kv("fwd", tomlString(d.Fwd))
			if d.Weight != 0 {
				kv("weight", strconv.Itoa(max(d.Weight, 0)))
			}
			optInt("u_threshold", d.UThreshold)
			optInt("l_threshold", d.LThreshold)
			writeRaw(&b, d.Raw)
		}
	}
	return b.String()
}
