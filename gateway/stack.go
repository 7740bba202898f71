package gateway

import (
	"fmt"
	"io"
	"net/netip"
	"time"

	"fngw/arp"
	"fngw/ctl"
	"fngw/ctl/config"
	"fngw/header"
)

// owned is an address the stack should answer for: interface addresses with
// their prefix, VIPs and local addresses as /32s.
type owned struct {
	port uint16
	pfx  netip.Prefix
	kind arp.OwnKind
}

// ownedAddrs lists the addresses cfg makes the gateway own. A VIP is owned on the
// port whose subnet holds it (it answers ARP there with no extra command, as an
// LVS director's VIP does on its interface); a VIP on no connected subnet is
// reached through routing and needs no ARP.
func (g *Gateway) ownedAddrs(cfg *ctl.Config) (map[netip.Addr]owned, error) {
	want := make(map[netip.Addr]owned)
	for _, a := range cfg.Addrs {
		id, ok := g.portIDs[a.Port]
		if !ok {
			return nil, fmt.Errorf("%w: address %s: no port named %q", ctl.ErrInvalid, a.Prefix, a.Port)
		}
		want[a.Prefix.Addr()] = owned{id, a.Prefix, arp.OwnInterface}
	}
	for _, vs := range cfg.Services {
		vip := vs.Service.VIP
		if _, ok := want[vip]; !ok {
			if name, ok := cfg.Connected(vip); ok {
				want[vip] = owned{g.portIDs[name], netip.PrefixFrom(vip, vip.BitLen()), arp.OwnVIP}
			}
		}
		for _, l := range vs.Laddrs {
			id, ok := g.portIDs[l.Port]
			if !ok {
				return nil, fmt.Errorf("%w: local address %s: no port named %q", ctl.ErrInvalid, l.Addr, l.Port)
			}
			if _, ok := want[l.Addr]; !ok {
				want[l.Addr] = owned{id, netip.PrefixFrom(l.Addr, l.Addr.BitLen()), arp.OwnLocalAddr}
			}
		}
	}
	return want, nil
}

// apply makes next the running configuration: it builds the datapath's service
// snapshot (validating everything that can fail first), brings the stack's
// addresses, routes and static neighbours in line, sets the session timeouts,
// and publishes. Forwarding never pauses: workers pick up the new snapshots on
// their next burst, and established sessions keep their destination (sessions
// of a deleted destination run until they expire). On error the running
// configuration is unchanged. announce, when non-nil, receives the addresses
// added (for gratuitous ARP); otherwise they are announced at once.
func (g *Gateway) apply(next *ctl.Config, announce *[]owned) error {
	svcs, scheds, err := g.services(next, g.scheds)
	if err != nil {
		return fmt.Errorf("%w: %v", ctl.ErrInvalid, err)
	}
	want, err := g.ownedAddrs(next)
	if err != nil {
		return err
	}
	added, err := g.syncStack(next, want)
	if err != nil {
		// Put the stack back as the running configuration has it.
		if back, err2 := g.ownedAddrs(g.cfg); err2 == nil {
			g.syncStack(g.cfg, back)
		}
		return fmt.Errorf("%w: %v", ctl.ErrInvalid, err)
	}
	g.cfg, g.scheds = next, scheds
	// The datapath's timeouts follow the configuration on every path that
	// changes it (--set, -R, reload), and only once the change is applied.
	// Set cannot fail: the values are whole seconds, never negative.
	t := next.Timeouts
	g.to.Set(time.Duration(t.TCP)*time.Second, time.Duration(t.TCPFin)*time.Second, time.Duration(t.UDP)*time.Second)
	g.svcs.Store(svcs)
	if announce != nil {
		*announce = append(*announce, added...)
	} else {
		for _, a := range added {
			g.control.Announce(a.port, header.Addr4From(a.pfx.Addr()))
		}
	}
	return nil
}

// syncStack changes the stack's owned addresses, static routes and static
// neighbours to those of cfg and returns the addresses it added.
func (g *Gateway) syncStack(cfg *ctl.Config, want map[netip.Addr]owned) ([]owned, error) {
	st := g.stack
	wantRoutes := make(map[netip.Prefix]arp.Route)
	for _, r := range cfg.Routes {
		wantRoutes[r.Prefix] = arp.Route{Prefix: r.Prefix, Via: r.Via, Port: g.portIDs[r.Port], Kind: arp.RouteStatic}
	}
	type nkey struct {
		port uint16
		ip   netip.Addr
	}
	wantNeigh := make(map[nkey]header.MAC)
	for _, n := range cfg.Neighs {
		wantNeigh[nkey{g.portIDs[n.Port], n.Addr}] = header.MAC(n.MAC)
	}
	if g.cfg != nil {
		for _, n := range g.cfg.Neighs {
			k := nkey{g.portIDs[n.Port], n.Addr}
			if m, ok := wantNeigh[k]; !ok || m != header.MAC(n.MAC) {
				st.DelNeigh(k.port, k.ip)
			}
		}
	}
	for _, r := range st.Routes() {
		if r.Kind == arp.RouteStatic && wantRoutes[r.Prefix] != r {
			if err := st.DelRoute(r.Prefix); err != nil {
				return nil, err
			}
		}
	}
	have := make(map[netip.Addr]owned)
	for _, a := range st.Addrs() {
		if w, ok := want[a.Prefix.Addr()]; !ok || w != (owned{a.Port, a.Prefix, a.Kind}) {
			if err := st.DelAddr(a.Prefix.Addr()); err != nil {
				return nil, err
			}
			continue
		}
		have[a.Prefix.Addr()] = owned{a.Port, a.Prefix, a.Kind}
	}
	var added []owned
	// Interface addresses first: their connected routes make VIPs, local
	// addresses and static routes' gateways reachable.
	for _, kind := range []arp.OwnKind{arp.OwnInterface, arp.OwnVIP, arp.OwnLocalAddr} {
		for addr, w := range want {
			if _, ok := have[addr]; ok || w.kind != kind {
				continue
			}
			if err := st.AddAddr(w.port, w.pfx, w.kind); err != nil {
				return nil, err
			}
			added = append(added, w)
		}
	}
	haveRoutes := make(map[netip.Prefix]bool)
	for _, r := range st.Routes() {
		if r.Kind == arp.RouteStatic {
			haveRoutes[r.Prefix] = true
		}
	}
	for p, r := range wantRoutes {
		if !haveRoutes[p] {
			if err := st.AddRoute(r); err != nil {
				return nil, err
			}
		}
	}
	for k, mac := range wantNeigh {
		if err := st.AddNeigh(k.port, k.ip, mac); err != nil {
			return nil, err
		}
	}
	return added, nil
}

// announce sends gratuitous ARP for every owned address (at start).
func (g *Gateway) announce() {
	for _, a := range g.stack.Addrs() {
		g.control.Announce(a.Port, header.Addr4From(a.Prefix.Addr()))
	}
}

// reload re-reads the configuration file and applies the difference to the
// load-balancing and stack configuration through the same path as the CLI.
// Settings that need a restart (EAL, ports, workers) are reported, not applied.
func (g *Gateway) reload() (string, error) {
	f, err := config.Load(g.file.Path)
	if err != nil {
		return "", err
	}
	cmds := ctl.Diff(g.cfg, f.LB)
	next := g.cfg.Clone()
	for _, c := range cmds {
		if err := next.Apply(c); err != nil {
			return "", fmt.Errorf("reload: %s: %w", c, err)
		}
	}
	if err := g.apply(next, nil); err != nil {
		return "", err
	}
	g.to.SetSynRecv(time.Duration(f.Session.SynRecvTimeout) * time.Second) // whole seconds >= 1: cannot fail
	msg := fmt.Sprintf("%s: %d changes applied", g.file.Path, len(cmds))
	if f.EAL.LcoresText != g.file.EAL.LcoresText || len(f.Ports) != len(g.file.Ports) || len(f.Workers) != len(g.file.Workers) {
		msg += "; EAL, port and worker settings take effect only after a restart"
	}
	return msg, nil
}

// neighJSON is one neighbour in `gw ip neigh show --json`.
type neighJSON struct {
	Addr   string `json:"addr"`
	LLAddr string `json:"lladdr,omitempty"`
	Dev    string `json:"dev"`
	State  string `json:"state"`
}

// writeNeighs prints the neighbour table as `ip neigh show` does.
func (g *Gateway) writeNeighs(w io.Writer, asJSON bool) error {
	names := make(map[uint16]string)
	for n, id := range g.portIDs {
		names[id] = n
	}
	var list []neighJSON
	for _, n := range g.stack.Neighs() {
		e := neighJSON{Addr: n.IP.String(), Dev: names[n.Port], State: n.State.String()}
		if n.State.Valid() {
			e.LLAddr = n.MAC.String()
		}
		list = append(list, e)
	}
	if asJSON {
		if list == nil {
			list = []neighJSON{}
		}
		return writeJSON(w, list)
	}
	for _, e := range list {
		if e.LLAddr != "" {
			fmt.Fprintf(w, "%s dev %s lladdr %s %s\n", e.Addr, e.Dev, e.LLAddr, e.State)
		} else {
			fmt.Fprintf(w, "%s dev %s %s\n", e.Addr, e.Dev, e.State)
		}
	}
	return nil
}

// routeJSON is one route in `gw ip route show --json`.
type routeJSON struct {
	Prefix string `json:"prefix"`
	Via    string `json:"via,omitempty"`
	Dev    string `json:"dev"`
	Proto  string `json:"proto"` // "static", or "kernel" for connected routes as iproute2 names them
}

// writeRoutes prints the route table, connected routes included, as `ip route
// show` does.
func (g *Gateway) writeRoutes(w io.Writer, asJSON bool) error {
	names := make(map[uint16]string)
	for n, id := range g.portIDs {
		names[id] = n
	}
	list := []routeJSON{}
	for _, r := range g.stack.Routes() {
		e := routeJSON{Prefix: r.Prefix.String(), Dev: names[r.Port], Proto: "static"}
		if r.Via.IsValid() {
			e.Via = r.Via.String()
		}
		if r.Kind == arp.RouteConnected {
			e.Proto = "kernel"
		}
		list = append(list, e)
	}
	if asJSON {
		return writeJSON(w, list)
	}
	for _, e := range list {
		line := e.Prefix
		if e.Via != "" {
			line += " via " + e.Via
		}
		line += " dev " + e.Dev
		if e.Proto == "kernel" {
			line += " proto kernel scope link"
		}
		fmt.Fprintln(w, line)
	}
	return nil
}
