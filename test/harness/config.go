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

	// Extra is raw TOML appended at the end, for keys the harness has no
	// field for (it must start with a table header).
	Extra string
}

// Port is one [[port]] table.
type Port struct {
	Name   string   // e.g. "dpdk0"
	Device string   // vdev string, e.g. "net_tap0,iface=fgt1a2b-3"
	Queues int      // default 1
	Addrs  []string // interface addresses with prefix length, e.g. "198.18.1.1/24"
	MAC    string   // the port's MAC; empty keeps the device's own
	MTU    int      // the port's MTU; 0 leaves the key out (1500)
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

// TOML renders c with defaults applied.
func (c Config) TOML() string {
	var b strings.Builder
	kv := func(k, v string) { fmt.Fprintf(&b, "%s = %s\n", k, v) }
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
	if c.IdlePolls != 0 {
		kv("idle_polls", strconv.Itoa(c.IdlePolls))
	}
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
		if p.MAC != "" {
			kv("mac", tomlString(p.MAC))
		}
		if p.MTU != 0 {
			kv("mtu", strconv.Itoa(p.MTU))
		}
	}
	for _, r := range c.Routes {
		b.WriteString("\n[[route]]\n")
		kv("prefix", tomlString(r.Prefix))
		if r.Via != "" {
			kv("via", tomlString(r.Via))
		}
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
	if c.Extra != "" {
		b.WriteString("\n" + strings.TrimSpace(c.Extra) + "\n")
	}
	return b.String()
}
