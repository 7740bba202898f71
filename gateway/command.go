package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"fngw/ctl"
	"fngw/ctl/config"
	"fngw/ctl/socket"
	"fngw/dpdk"
	"fngw/lcore"
	"fngw/nat"
)

// handle serves one control-socket request by running it as a job on the control
// goroutine, so that commands are serialized with each other and with the stack.
func (g *Gateway) handle(req socket.Request) socket.Response {
	var resp socket.Response
	if !g.control.Do(func() { resp = g.exec(req) }) {
		return socket.Response{Code: socket.CodeInternal, Error: "the gateway is stopping"}
	}
	return resp
}

// exec runs a command on the control goroutine.
func (g *Gateway) exec(req socket.Request) socket.Response {
	var out bytes.Buffer
	err := g.dispatch(req, &out)
	resp := socket.Response{Stdout: out.String()}
	if err != nil {
		resp.Code, resp.Error = errCode(err), err.Error()
	}
	return resp
}

func errCode(err error) string {
	var ue *ctl.UsageError
	switch {
	case errors.As(err, &ue):
		return socket.CodeUsage
	case errors.Is(err, ctl.ErrNotFound):
		return socket.CodeNotFound
	case errors.Is(err, ctl.ErrExists):
		return socket.CodeExists
	case errors.Is(err, ctl.ErrInvalid):
		return socket.CodeInvalid
	}
	var ce config.Errors
	if errors.As(err, &ce) {
		return socket.CodeInvalid
	}
	return socket.CodeInternal
}

func (g *Gateway) dispatch(req socket.Request, w io.Writer) error {
	args := req.Args
	switch args[0] {
	case "adm":
		return g.adm(args[1:], req.Stdin, w)
	case "ip":
		if len(args) < 2 {
			return &ctl.UsageError{Msg: "usage: gw ip addr|route|neigh add|del|show ..."}
		}
		return g.ip(args[1:], w)
	case "link":
		return g.link(args[1:], w)
	case "stats":
		return g.stats(args[1:], w)
	case "mem":
		return g.mem(args[1:], w) // mem.go
	case "reload":
		out, err := g.reload()
		if err != nil {
			return err
		}
		fmt.Fprintln(w, out)
		return nil
	}
	return &ctl.UsageError{Msg: fmt.Sprintf("unknown command %q; use adm, ip, link, stats or reload (gw -h)", args[0])}
}

// adm runs an ipvsadm command.
func (g *Gateway) adm(args []string, stdin []byte, w io.Writer) error {
	cmd, err := ctl.ParseArgs(args)
	if err != nil {
		return err
	}
	switch cmd.Op {
	case ctl.OpHelp:
		io.WriteString(w, ctl.Usage("gw adm"))
		return nil
	case ctl.OpVersion:
		fmt.Fprintln(w, ctl.VersionText)
		return nil
	case ctl.OpZero:
		g.zero(cmd.Service)
		return nil
	case ctl.OpRestore:
		batch, err := ctl.ReadRestore(bytes.NewReader(stdin))
		if err != nil {
			return err
		}
		next := g.cfg.Clone()
		if err := next.ApplyBatch(batch); err != nil {
			return err
		}
		return g.apply(next, nil)
	}
	if cmd.Op == ctl.OpDelLaddr && cmd.Laddr != nil {
		if err := g.laddrIdle(cmd.Laddr.Addr); err != nil {
			return err
		}
	}
	if cmd.Op.Mutates() {
		next := g.cfg.Clone()
		if err := next.Apply(cmd); err != nil {
			return err
		}
		return g.apply(next, nil)
	}
	conns := cmd.List != nil && cmd.List.Conn
	return ctl.Render(w, cmd, g.table(conns))
}

// ip runs a stack command (addresses, routes, neighbours).
func (g *Gateway) ip(args []string, w io.Writer) error {
	cmd, err := ctl.ParseStackArgs(args)
	if err != nil {
		return err
	}
	asJSON := cmd.List != nil && cmd.List.JSON
	switch cmd.Op {
	case ctl.OpListNeigh:
		return g.writeNeighs(w, asJSON)
	case ctl.OpListRoute:
		return g.writeRoutes(w, asJSON)
	case ctl.OpListAddr:
		return ctl.WriteStack(w, g.cfg, cmd.Op, asJSON)
	}
	next := g.cfg.Clone()
	if err := next.Apply(cmd); err != nil {
		return err
	}
	return g.apply(next, nil)
}

// portStatus is one line of `gw link show`.
type portStatus struct {
	Name        string `json:"name"`
	ID          uint16 `json:"id"`
	Device      string `json:"device"`
	MAC         string `json:"mac"`
	MTU         int    `json:"mtu"`
	Up          bool   `json:"up"`
	Speed       uint32 `json:"speed_mbps"`
	Duplex      string `json:"duplex"`
	Promisc     bool   `json:"promiscuous"`
	RxQueues    int    `json:"rx_queues"`
	TxQueues    int    `json:"tx_queues"`
	*dpdk.Stats        // with -s
}

// link runs `link show [-s] [--json] [PORT]`, after DPVS's `dpip link show`.
func (g *Gateway) link(args []string, w io.Writer) error {
	if len(args) == 0 || (args[0] != "show" && args[0] != "list" && args[0] != "ls") {
		return &ctl.UsageError{Msg: "usage: gw link show [-s] [--json] [PORT]"}
	}
	var stats, asJSON bool
	var only string
	for _, a := range args[1:] {
		switch a {
		case "-s", "-stats", "--stats":
			stats = true
		case "--json":
			asJSON = true
		default:
			if strings.HasPrefix(a, "-") || only != "" {
				return &ctl.UsageError{Msg: fmt.Sprintf("link show: unknown argument %q; accepted: -s, --json, a port name", a)}
			}
			only = a
		}
	}
	var list []portStatus
	for _, p := range g.ports {
		if only != "" && p.cfg.Name != only {
			continue
		}
		st := portStatus{Name: p.cfg.Name, ID: p.dev.ID, Device: p.cfg.Device, MAC: p.mac.String(),
			Promisc: p.dev.Promiscuous(), RxQueues: p.cfg.Queues, TxQueues: g.nworkers}
		if m, err := p.dev.MTU(); err == nil {
			st.MTU = m
		}
		if l, err := p.dev.Link(); err == nil {
			st.Up, st.Speed, st.Duplex = l.Up, l.SpeedMbps, "half"
			if l.FullDuplex {
				st.Duplex = "full"
			}
		}
		if p.tap {
			// The tap PMD asks its kernel interface by name in the gateway's
			// namespace; once the interface is moved to the peer's namespace the
			// answer is "down" although the queues forward. A started tap port
			// is up.
			st.Up = true
		}
		if stats {
			s, err := p.dev.Stats()
			if err != nil {
				return err
			}
			st.Stats = &s
		}
		list = append(list, st)
	}
	if only != "" && len(list) == 0 {
		return fmt.Errorf("%w: no port named %q", ctl.ErrNotFound, only)
	}
	if asJSON {
		return writeJSON(w, list)
	}
	for _, p := range list {
		state := "DOWN"
		if p.Up {
			state = "UP"
		}
		fmt.Fprintf(w, "%d: %s: <%s> mtu %d rx-queue %d tx-queue %d\n", p.ID, p.Name, state, p.MTU, p.RxQueues, p.TxQueues)
		fmt.Fprintf(w, "    link/ether %s device %s speed %dMbps %s-duplex promisc %v\n", p.MAC, p.Device, p.Speed, p.Duplex, p.Promisc)
		if c := p.Stats; c != nil {
			fmt.Fprintf(w, "    rx: packets %d bytes %d imissed %d ierrors %d nombuf %d\n", c.RxPackets, c.RxBytes, c.Imissed, c.Ierrors, c.RxNombuf)
			fmt.Fprintf(w, "    tx: packets %d bytes %d oerrors %d\n", c.TxPackets, c.TxBytes, c.Oerrors)
		}
	}
	return nil
}

// coreStatus is one worker's counters for `gw stats`.
type coreStatus struct {
	lcore.Stats
	Drops       map[string]uint64 `json:"drops"`
	Sessions    int64             `json:"sessions"`
	Created     uint64            `json:"sessions_created"`
	Expired     uint64            `json:"sessions_expired"`
	ICMPXlated  uint64            `json:"icmp_translated"`
	ICMPSent    uint64            `json:"icmp_sent"` // errors originated: time exceeded, fragmentation needed
	Utilisation float64           `json:"utilisation"`
}

// stats runs `stats [--json]`: per-core counters and drops by reason.
func (g *Gateway) stats(args []string, w io.Writer) error {
	asJSON := false
	for _, a := range args {
		if a != "--json" {
			return &ctl.UsageError{Msg: fmt.Sprintf("stats: unknown argument %q; accepted: --json", a)}
		}
		asJSON = true
	}
	list := g.coreStatuses()
	if asJSON {
		return writeJSON(w, list)
	}
	for _, c := range list {
		fmt.Fprintf(w, "core %d: rx %d tx %d sessions %d created %d expired %d redirect out %d in %d to-control %d utilisation %.1f%%\n",
			c.Core, c.Rx, c.Tx, c.Sessions, c.Created, c.Expired, c.RedirectOut, c.RedirectIn, c.ToControl, 100*c.Utilisation)
		for _, r := range sortedKeys(c.Drops) {
			fmt.Fprintf(w, "    drop %-22s %d\n", r, c.Drops[r])
		}
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// laddrIdle refuses to delete a local address whose ports carry connections
// (as DPVS's sa_pool does): the replies of those connections are addressed to it,
// and once it is gone the gateway would neither answer ARP for it nor steer the
// replies to the owning core.
func (g *Gateway) laddrIdle(a netip.Addr) error {
	var buf []nat.LaddrUsage
	var inUse int64
	for _, c := range g.cores {
		for _, u := range c.LaddrUsage(buf[:0]) {
			if u.Addr.Netip() == a {
				inUse += u.InUse
			}
		}
	}
	if inUse > 0 {
		return fmt.Errorf("%w: local address %s has %d connection(s) in use; delete it once they have ended (quiesce the service's destinations with -w 0 first)", ctl.ErrInvalid, a, inUse)
	}
	return nil
}
