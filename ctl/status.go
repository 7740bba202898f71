package ctl

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Link is one port in `gw link show`, after DPVS's `dpip link show`.
type Link struct {
	Name          string `json:"dev"`
	ID            uint16 `json:"id"`
	Device        string `json:"device"`
	MAC           string `json:"mac"`
	MTU           int    `json:"mtu"`
	Up            bool   `json:"up"`
	Speed         uint32 `json:"speed_mbps"`
	Duplex        string `json:"duplex"` // "full" or "half"
	Promisc       bool   `json:"promiscuous"`
	RxQueues      int    `json:"rx_queues"`
	TxQueues      int    `json:"tx_queues"`
	*PortCounters        // with -s
	// Kernel is the port's kernel path, if it has one.
	Kernel *LinkKernel `json:"kernel,omitempty"`
}

// LinkKernel is a port's kernel path: the kernel interface mirroring the
// port and how it is made, with its counters under -s.
type LinkKernel struct {
	Iface           string `json:"dev"`     // the kernel interface's name, [[port]] kernel_iface
	Backend         string `json:"backend"` // net_tap, or virtio_user over vhost-net
	*KernelCounters        // with -s
}

// KernelCounters count a port's kernel path.
type KernelCounters struct {
	ToPackets     uint64 `json:"to_kernel_packets"`
	ToBytes       uint64 `json:"to_kernel_bytes"`
	ToDropped     uint64 `json:"to_kernel_dropped"`
	FromPackets   uint64 `json:"from_kernel_packets"`
	FromBytes     uint64 `json:"from_kernel_bytes"`
	FromLimited   uint64 `json:"from_kernel_rate_limited"`
	FromMalformed uint64 `json:"from_kernel_malformed"`
}

// PortCounters are a port's basic counters (rte_eth_stats).
type PortCounters struct {
	RxPackets uint64 `json:"rx_packets"`
	TxPackets uint64 `json:"tx_packets"`
	RxBytes   uint64 `json:"rx_bytes"`
	TxBytes   uint64 `json:"tx_bytes"`
	Imissed   uint64 `json:"imissed"`
	Ierrors   uint64 `json:"ierrors"`
	Oerrors   uint64 `json:"oerrors"`
	RxNombuf  uint64 `json:"rx_nombuf"`
}

// WriteLinks prints links as `gw link show` does, or JSON.
func WriteLinks(w io.Writer, links []Link, asJSON bool) error {
	if asJSON {
		return writeJSON(w, links)
	}
	var b strings.Builder
	for _, p := range links {
		state := "DOWN"
		if p.Up {
			state = "UP"
		}
		fmt.Fprintf(&b, "%d: %s: <%s> mtu %d rx-queue %d tx-queue %d\n", p.ID, p.Name, state, p.MTU, p.RxQueues, p.TxQueues)
		fmt.Fprintf(&b, "    link/ether %s device %s speed %dMbps %s-duplex promisc %v\n", p.MAC, p.Device, p.Speed, p.Duplex, p.Promisc)
		if c := p.PortCounters; c != nil {
			fmt.Fprintf(&b, "    rx: packets %d bytes %d imissed %d ierrors %d nombuf %d\n", c.RxPackets, c.RxBytes, c.Imissed, c.Ierrors, c.RxNombuf)
			fmt.Fprintf(&b, "    tx: packets %d bytes %d oerrors %d\n", c.TxPackets, c.TxBytes, c.Oerrors)
		}
		if k := p.Kernel; k != nil {
			fmt.Fprintf(&b, "    kernel %s (%s)\n", k.Iface, k.Backend)
			if c := k.KernelCounters; c != nil {
				fmt.Fprintf(&b, "    to kernel: packets %d bytes %d dropped %d\n", c.ToPackets, c.ToBytes, c.ToDropped)
				fmt.Fprintf(&b, "    from kernel: packets %d bytes %d rate-limited %d malformed %d\n", c.FromPackets, c.FromBytes, c.FromLimited, c.FromMalformed)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// CoreStatus is one worker's counters in `gw stats`.
type CoreStatus struct {
	Core        int               `json:"core"`
	Rx          uint64            `json:"rx_packets"`
	Tx          uint64            `json:"tx_packets"`
	RedirectOut uint64            `json:"redirect_out"`
	RedirectIn  uint64            `json:"redirect_in"`
	ToControl   uint64            `json:"to_control"`
	Injected    uint64            `json:"injected"` // sent for the control lcore
	PollsBusy   uint64            `json:"polls_busy"`
	PollsIdle   uint64            `json:"polls_idle"`
	BusyNs      uint64            `json:"busy_ns"`
	TotalNs     uint64            `json:"total_ns"`
	Drops       map[string]uint64 `json:"drops"` // non-zero drop counters by reason
	Sessions    int64             `json:"sessions"`
	Created     uint64            `json:"sessions_created"`
	Expired     uint64            `json:"sessions_expired"`
	Evicted     uint64            `json:"sessions_evicted"`      // unreplied sessions ended for new flows
	Reclaimed   uint64            `json:"laddr_ports_reclaimed"` // unreplied FULLNAT sessions ended for their port
	ICMPXlated  uint64            `json:"icmp_translated"`
	ICMPSent    uint64            `json:"icmp_sent"` // errors originated: time exceeded, fragmentation needed
	// The client-address options: PROXY protocol headers inserted, first
	// segments cut to fit one, TOA options added, segments without room
	// for one.
	ProxyHeaders uint64    `json:"proxy_headers"`
	ProxyTrimmed uint64    `json:"proxy_trimmed"`
	TOAAdded     uint64    `json:"toa_added"`
	TOANoRoom    uint64    `json:"toa_no_room"`
	Utilisation  float64   `json:"utilisation"`
	Gaps         GapStatus `json:"poll_gaps"` // since the last gw stats --reset-gaps
}

// WriteCores prints per-core counters and drops by reason as `gw stats`
// does, or JSON.
func WriteCores(w io.Writer, cores []CoreStatus, asJSON bool) error {
	if asJSON {
		return writeJSON(w, cores)
	}
	var b strings.Builder
	for _, c := range cores {
		fmt.Fprintf(&b, "core %d: rx %d tx %d sessions %d created %d expired %d redirect out %d in %d to-control %d utilisation %.1f%%\n",
			c.Core, c.Rx, c.Tx, c.Sessions, c.Created, c.Expired, c.RedirectOut, c.RedirectIn, c.ToControl, 100*c.Utilisation)
		fmt.Fprintf(&b, "    %s\n", c.Gaps)
		if c.ProxyHeaders+c.ProxyTrimmed+c.TOAAdded+c.TOANoRoom > 0 {
			fmt.Fprintf(&b, "    proxy headers %d trimmed %d, toa added %d no room %d\n", c.ProxyHeaders, c.ProxyTrimmed, c.TOAAdded, c.TOANoRoom)
		}
		reasons := make([]string, 0, len(c.Drops))
		for r := range c.Drops {
			reasons = append(reasons, r)
		}
		slices.Sort(reasons)
		for _, r := range reasons {
			fmt.Fprintf(&b, "    drop %-22s %d\n", r, c.Drops[r])
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// MemStatus is `gw mem`: the mbuf pool and the control plane's Go heap, the
// figures a soak test or an operator watches for leaks.
type MemStatus struct {
	Mbufs      int `json:"mbufs"`        // pool size
	MbufsInUse int `json:"mbufs_in_use"` // in rx/tx rings, rings between lcores, held by the stack, in flight
	MbufsAvail int `json:"mbufs_available"`
	// Where the mbufs in use are: in the rings between lcores, by kind
	// (redirect, to_control, arp, from_control), and elsewhere: the ports'
	// descriptor rings, the lcores' caches, the stack's queue, in flight.
	InRings    map[string]int `json:"in_rings"`
	Elsewhere  int            `json:"elsewhere"`
	HeapBytes  uint64         `json:"go_heap_bytes"` // live Go heap (control plane; the datapath allocates nothing)
	Goroutines int            `json:"goroutines"`    // control socket clients, workers, control lcore...
}

// WriteMem prints m as `gw mem` does, or JSON.
func WriteMem(w io.Writer, m MemStatus, asJSON bool) error {
	if asJSON {
		return writeJSON(w, m)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "mbufs %d in use %d available %d\n", m.Mbufs, m.MbufsInUse, m.MbufsAvail)
	kinds := make([]string, 0, len(m.InRings))
	for k := range m.InRings {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	b.WriteString("  in rings:")
	for _, k := range kinds {
		fmt.Fprintf(&b, " %s %d", k, m.InRings[k])
	}
	fmt.Fprintf(&b, "\n  elsewhere (port descriptor rings, lcore caches, stack queue, in flight) %d\n", m.Elsewhere)
	fmt.Fprintf(&b, "go heap %d bytes, %d goroutines\n", m.HeapBytes, m.Goroutines)
	_, err := io.WriteString(w, b.String())
	return err
}

// GatewayHealth is what `gw health` judges the gateway by, read by the control
// lcore when it serves the command (a gateway whose control lcore is stuck
// does not answer at all): how long ago each worker began its latest turn,
// and whether each port, and its kernel interface if it has one, is up.
type GatewayHealth struct {
	Workers []WorkerHealth `json:"workers"`
	Ports   []PortHealth   `json:"ports"`
}

// WorkerHealth is one worker in GatewayHealth.
type WorkerHealth struct {
	Core      int           `json:"core"`
	SinceTurn time.Duration `json:"since_turn_ns"` // since its loop last began a turn
}

// PortHealth is one port in GatewayHealth, with its kernel interface if it has
// one.
type PortHealth struct {
	Dev    string        `json:"dev"`
	Up     bool          `json:"up"`
	Kernel *KernelHealth `json:"kernel,omitempty"`
}

// KernelHealth is a port's kernel interface in GatewayHealth: its name, and
// whether it is up with a carrier.
type KernelHealth struct {
	Dev string `json:"dev"`
	Up  bool   `json:"up"`
}

// Problem is the first reason h is unhealthy, with the value concerned, or
// "" when every worker turned within maxStall and every port and kernel
// interface is up. A gateway without workers is unhealthy.
func (h GatewayHealth) Problem(maxStall time.Duration) string {
	if len(h.Workers) == 0 {
		return "no worker lcore"
	}
	for _, w := range h.Workers {
		if w.SinceTurn > maxStall {
			return fmt.Sprintf("worker %d stalled: last turn %v ago (--max-stall %v)", w.Core, w.SinceTurn.Round(time.Millisecond), maxStall)
		}
	}
	for _, p := range h.Ports {
		if !p.Up {
			return fmt.Sprintf("port %s is down", p.Dev)
		}
		if p.Kernel != nil && !p.Kernel.Up {
			return fmt.Sprintf("kernel interface %s of port %s is down", p.Kernel.Dev, p.Dev)
		}
	}
	return ""
}

// String sums up a healthy h in one line: the longest time since a
// worker's turn, the ports (kernel interfaces in parentheses).
func (h GatewayHealth) String() string {
	var worst time.Duration
	for _, w := range h.Workers {
		worst = max(worst, w.SinceTurn)
	}
	ports := make([]string, len(h.Ports))
	for i, p := range h.Ports {
		ports[i] = p.Dev
		if p.Kernel != nil {
			ports[i] += " (" + p.Kernel.Dev + ")"
		}
	}
	return fmt.Sprintf("%d workers turning (last turn at most %v ago), ports up: %s", len(h.Workers), worst.Round(time.Microsecond), strings.Join(ports, ", "))
}

// WriteGatewayHealth prints h as JSON (the client judges it: gw health).
func WriteGatewayHealth(w io.Writer, h GatewayHealth) error { return writeJSON(w, h) }

// NeighStatus is one entry of the neighbour table in `gw ip neigh show`.
type NeighStatus struct {
	Addr   string `json:"addr"`
	LLAddr string `json:"lladdr,omitempty"` // empty while unresolved
	Dev    string `json:"dev"`
	State  string `json:"state"` // Linux's NUD state names
}

// WriteNeighs prints the neighbour table as `ip neigh show` does, or JSON.
func WriteNeighs(w io.Writer, list []NeighStatus, asJSON bool) error {
	if asJSON {
		if list == nil {
			list = []NeighStatus{}
		}
		return writeJSON(w, list)
	}
	var b strings.Builder
	for _, e := range list {
		if e.LLAddr != "" {
			fmt.Fprintf(&b, "%s dev %s lladdr %s %s\n", e.Addr, e.Dev, e.LLAddr, e.State)
		} else {
			fmt.Fprintf(&b, "%s dev %s %s\n", e.Addr, e.Dev, e.State)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// RouteStatus is one route in `gw ip route show`.
type RouteStatus struct {
	Prefix string `json:"prefix"`
	Via    string `json:"via,omitempty"`
	Dev    string `json:"dev"`
	// Proto is "static" (configured), "kernel" for connected routes as
	// iproute2 names them, or "learned" from a kernel interface (BIRD, FRR,
	// ip route).
	Proto string `json:"proto"`
	// NextHops are the further next hops of an equal-cost multipath route.
	NextHops []RouteHop `json:"nexthops,omitempty"`
}

// RouteHop is a further next hop of a multipath route.
type RouteHop struct {
	Via string `json:"via,omitempty"`
	Dev string `json:"dev"`
}

// WriteRoutes prints the route table, connected routes included, as `ip
// route show` does, or JSON.
func WriteRoutes(w io.Writer, list []RouteStatus, asJSON bool) error {
	if asJSON {
		if list == nil {
			list = []RouteStatus{}
		}
		return writeJSON(w, list)
	}
	var b strings.Builder
	for _, e := range list {
		line := e.Prefix
		if e.Via != "" {
			line += " via " + e.Via
		}
		line += " dev " + e.Dev
		switch e.Proto {
		case "kernel":
			line += " proto kernel scope link"
		case "learned":
			line += " proto learned"
		}
		for _, h := range e.NextHops {
			line += " nexthop"
			if h.Via != "" {
				line += " via " + h.Via
			}
			line += " dev " + h.Dev
		}
		b.WriteString(line + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// AddrStatus is an interface address in gw ip addr show, with where it
// came from: "config" (the file, gw ip addr add) or "kernel" (learned from
// the port's kernel interface: an operator's ip addr add, keepalived).
type AddrStatus struct {
	Prefix string `json:"prefix"`
	Dev    string `json:"dev"`
	Origin string `json:"origin"`
}

// WriteAddrs prints interface addresses as `ip addr show` lines ("PREFIX
// dev PORT", and "proto kernel" after the learned ones), or JSON.
func WriteAddrs(w io.Writer, list []AddrStatus, asJSON bool) error {
	if asJSON {
		if list == nil {
			list = []AddrStatus{}
		}
		return writeJSON(w, list)
	}
	var b strings.Builder
	for _, a := range list {
		b.WriteString(a.Prefix + " dev " + a.Dev)
		if a.Origin == "kernel" {
			b.WriteString(" proto kernel")
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
