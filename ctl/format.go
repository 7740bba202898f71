package ctl

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
)

// IPVSVersion is the IPVS version fngw reports in listings ("IP Virtual
// Server version 1.2.1 (size=4096)"). It is the version of the kernel IPVS
// interface whose behaviour and output fngw follows, fixed so that tools that
// parse ipvsadm output keep working; it does not describe fngw's own version.
const IPVSVersion = "1.2.1"

// DefaultTableSize is printed as "size=" when Table.Size is 0 (the
// kernel's default connection hash table size, 2^12); a running gateway
// prints its session capacity (Table.Size).
const DefaultTableSize = 4096

// Render writes the output of a non-mutating command from t: list (-L and
// its variants, --timeout, -c), get-laddr (-G) and save (-S). Output is
// byte-for-byte ipvsadm's (its printf formats are reproduced) with these
// documented differences: addresses and ports are always numeric (fngw
// resolves no names, so -n changes nothing), -c --local adds a "local"
// column (FULLNAT local addresses), forwarding mode FULLNAT prints as
// FullNat (DPVS), and --json prints JSON instead.
func Render(w io.Writer, cmd Command, t *Table) error {
	o := ListOptions{}
	if cmd.List != nil {
		o = *cmd.List
	}
	switch cmd.Op {
	case OpList:
		return WriteList(w, t, cmd.Service, o)
	case OpGetLaddr:
		return WriteLaddrs(w, t, cmd.Service, o.JSON)
	case OpSave:
		return WriteSave(w, t.Config())
	}
	return invalidf("%s has no output to render", cmd.Op)
}

// Config rebuilds the configuration part of t (services, dests, laddrs,
// timeouts).
func (t *Table) Config() *Config {
	c := &Config{Timeouts: t.Timeouts}
	for _, ss := range t.Services {
		vs := VirtualService{Service: ss.Service}
		for _, d := range ss.Dests {
			vs.Dests = append(vs.Dests, d.Dest)
		}
		for _, l := range ss.Laddrs {
			vs.Laddrs = append(vs.Laddrs, l.Laddr)
		}
		c.Services = append(c.Services, vs)
	}
	return c
}

func findService(t *Table, k ServiceKey) (*ServiceStatus, error) {
	for i := range t.Services {
		if t.Services[i].Service.Key() == k {
			return &t.Services[i], nil
		}
	}
	return nil, noServicef("service %s does not exist", k)
}

// sorted returns the services in ipvsadm order with dests sorted, unless
// nosort (then as given).
func sorted(svcs []ServiceStatus, nosort bool) []ServiceStatus {
	if nosort {
		return svcs
	}
	out := slices.Clone(svcs)
	slices.SortStableFunc(out, func(a, b ServiceStatus) int { return CompareServiceKeys(a.Service.Key(), b.Service.Key()) })
	for i := range out {
		out[i].Dests = slices.Clone(out[i].Dests)
		slices.SortStableFunc(out[i].Dests, func(a, b DestStatus) int { return cmpDest(a.Dest, b.Dest) })
	}
	return out
}

// WriteList writes what ipvsadm -L prints for options o, for one service
// when svc is not nil (then without the version header, and an ErrNotFound
// error when it does not exist).
func WriteList(w io.Writer, t *Table, svc *Service, o ListOptions) error {
	if o.JSON {
		return writeListJSON(w, t, svc, o)
	}
	var b strings.Builder
	switch {
	case o.Conn:
		writeConns(&b, t.Conns, o)
	case svc != nil:
		ss, err := findService(t, svc.Key())
		if err != nil {
			return err
		}
		writeTitle(&b, o)
		writeService(&b, sorted([]ServiceStatus{*ss}, o.NoSort)[0], o)
	case o.Timeout:
		fmt.Fprintf(&b, "Timeout (tcp tcpfin udp): %d %d %d\n", t.Timeouts.TCP, t.Timeouts.TCPFin, t.Timeouts.UDP)
	case o.Daemon:
		// No connection sync daemon runs: ipvsadm prints nothing then.
	default:
		size := t.Size
		if size == 0 {
			size = DefaultTableSize
		}
		fmt.Fprintf(&b, "IP Virtual Server version %s (size=%d)\n", IPVSVersion, size)
		writeTitle(&b, o)
		for _, ss := range sorted(t.Services, o.NoSort) {
			writeService(&b, ss, o)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeTitle is ipvsadm's print_title.
func writeTitle(b *strings.Builder, o ListOptions) {
	switch {
	case o.Stats:
		fmt.Fprintf(b, "%-33s %8s %8s %8s %8s %8s\n  -> RemoteAddress:Port\n",
			"Prot LocalAddress:Port", "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes")
	case o.Rate:
		fmt.Fprintf(b, "%-33s %8s %8s %8s %8s %8s\n  -> RemoteAddress:Port\n",
			"Prot LocalAddress:Port", "CPS", "InPPS", "OutPPS", "InBPS", "OutBPS")
	case o.Thresholds:
		fmt.Fprintf(b, "%-33s %-10s %-10s %-10s %-10s\n  -> RemoteAddress:Port\n",
			"Prot LocalAddress:Port", "Uthreshold", "Lthreshold", "ActiveConn", "InActConn")
	case o.PersistentConn:
		fmt.Fprintf(b, "%-33s %-9s %-11s %-10s %-10s\n  -> RemoteAddress:Port\n",
			"Prot LocalAddress:Port", "Weight", "PersistConn", "ActiveConn", "InActConn")
	case o.TunInfo:
		b.WriteString("Prot LocalAddress:Port Scheduler Flags\n" +
			"  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n")
	default:
		b.WriteString("Prot LocalAddress:Port Scheduler Flags\n" +
			"  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n")
	}
}

// largenum is ipvsadm's print_largenum: 9 columns, K/M/G/T above 10^8
// unless exact.
func largenum(b *strings.Builder, i uint64, exact bool) {
	switch {
	case exact:
		n := len(fmt.Sprint(i))
		width := 9
		if n > 8 {
			width = n + 1
		}
		fmt.Fprintf(b, "%*d", width, i)
	case i < 100000000:
		fmt.Fprintf(b, "%9d", i)
	case i < 1000000000:
		fmt.Fprintf(b, "%8dK", i/1000)
	case i < 100000000000:
		fmt.Fprintf(b, "%8dM", i/1000000)
	case i < 100000000000000:
		fmt.Fprintf(b, "%8dG", i/1000000000)
	default:
		fmt.Fprintf(b, "%8dT", i/1000000000000)
	}
}

func protoName(p Proto) string {
	switch p {
	case TCP:
		return "TCP"
	case UDP:
		return "UDP"
	case 0:
		return "IP" // ip_vs_proto_name(IPPROTO_IP): a fwmark service's template
	}
	return "?"
}

// svcName is ipvsadm's svc_name for listings: "%-4s %s", truncated to 33
// bytes for IPv4 (which numeric output never reaches).
func svcName(s Service) string {
	if s.FwMark != 0 {
		if s.VIP.Is6() {
			return fmt.Sprintf("FWM  %d IPv6", s.FwMark)
		}
		return fmt.Sprintf("FWM  %d", s.FwMark)
	}
	n := fmt.Sprintf("%-4s %s", protoName(s.Proto), netip.AddrPortFrom(s.VIP, s.Port))
	if !s.VIP.Is6() && len(n) > 33 {
		n = n[:33]
	}
	return n
}

func destName(d Dest) string {
	n := d.Key().String()
	if !d.Addr.Is6() && len(n) > 28 {
		n = n[:28]
	}
	return n
}

// writeService is ipvsadm's print_service_entry for listings.
func writeService(b *strings.Builder, ss ServiceStatus, o ListOptions) {
	s, st := ss.Service, ss.Stats
	name := svcName(s)
	switch {
	case o.Stats:
		fmt.Fprintf(b, "%-33s", name)
		for _, v := range []uint64{st.Conns, st.InPkts, st.OutPkts, st.InBytes, st.OutBytes} {
			largenum(b, v, o.Exact)
		}
	case o.Rate:
		fmt.Fprintf(b, "%-33s", name)
		for _, v := range []uint64{st.CPS, st.InPPS, st.OutPPS, st.InBPS, st.OutBPS} {
			largenum(b, v, o.Exact)
		}
	default:
		fmt.Fprintf(b, "%s %s", name, s.sched())
		if len(s.Flags) > 0 {
			fmt.Fprintf(b, " (%s)", strings.Join(s.Flags, ","))
		}
		if s.Persistent {
			fmt.Fprintf(b, " persistent %d", s.Timeout)
			if s.Netmask.IsValid() {
				fmt.Fprintf(b, " mask %s", s.MaskString())
			}
		}
		if s.OnePacket {
			b.WriteString(" ops")
		}
		writeClientAddr(b, s)
	}
	b.WriteByte('\n')
	for _, ds := range ss.Dests {
		d, st := ds.Dest, ds.Stats
		dname := destName(d)
		switch {
		case o.Stats:
			fmt.Fprintf(b, "  -> %-28s", dname)
			for _, v := range []uint64{st.Conns, st.InPkts, st.OutPkts, st.InBytes, st.OutBytes} {
				largenum(b, v, o.Exact)
			}
			b.WriteByte('\n')
		case o.Rate:
			fmt.Fprintf(b, "  -> %-28s %8d %8d %8d", dname, st.CPS, st.InPPS, st.OutPPS)
			largenum(b, st.InBPS, o.Exact)
			largenum(b, st.OutBPS, o.Exact)
			b.WriteByte('\n')
		case o.Thresholds:
			fmt.Fprintf(b, "  -> %-28s %-10d %-10d %-10d %-10d\n", dname, d.UThresh, d.LThresh, st.ActiveConns, st.InactConns)
		case o.PersistentConn:
			fmt.Fprintf(b, "  -> %-28s %-9d %-11d %-10d %-10d\n", dname, d.Weight, st.PersistConns, st.ActiveConns, st.InactConns)
		case o.TunInfo:
			ti := "n/a"
			if d.Fwd == FwdTunnel {
				ti = d.TunType.String()
			}
			fmt.Fprintf(b, "  -> %-28s %-7s %-13s %-6d %-10d %-10d\n", dname, d.Fwd.IPVSName(), ti, d.Weight, st.ActiveConns, st.InactConns)
		default:
			fmt.Fprintf(b, "  -> %-28s %-7s %-6d %-10d %-10d\n", dname, d.Fwd.IPVSName(), d.Weight, st.ActiveConns, st.InactConns)
		}
	}
}

// writeClientAddr appends a service's client-address option, fngw's
// addition after ipvsadm's flags (nothing for a service without one, whose
// line stays ipvsadm's).
func writeClientAddr(b *strings.Builder, s Service) {
	if s.ProxyProtocol != ProxyNone {
		b.WriteString(" proxy-protocol " + s.ProxyProtocol.String())
	}
	if s.TOA {
		b.WriteString(" toa")
	}
}

// writeConns is ipvsadm's list_conn/print_conn ("%-3s %-6s %-11s %-18s
// %-18s %s"): six columns whatever the connections are, so scripts that cut
// columns read the same thing every time. With --local (o.Local) a "local"
// column (the FULLNAT local address:port, "-" for other modes) comes before
// the destination, as in DPVS's listing.
func writeConns(b *strings.Builder, conns []Conn, o ListOptions) {
	b.WriteString("IPVS connection entries\n")
	b.WriteString("pro expire ")
	fmt.Fprintf(b, "%-11s %-18s %-18s ", "state", "source", "virtual")
	if o.Local {
		fmt.Fprintf(b, "%-18s ", "local")
	}
	if o.PersistentConn {
		fmt.Fprintf(b, "%-18s %-16s %s\n", "destination", "pe name", "pe_data")
	} else {
		b.WriteString("destination\n")
	}
	for _, c := range conns {
		expire := fmt.Sprintf("%02d:%02d", c.Expires/60, c.Expires%60)
		fmt.Fprintf(b, "%-3s %-6s %-11s %-18s %-18s ", protoName(c.Proto), expire, c.State, c.Client, c.Virtual)
		if o.Local {
			l := "-"
			if c.Local.IsValid() {
				l = c.Local.String()
			}
			fmt.Fprintf(b, "%-18s ", l)
		}
		b.WriteString(c.Dest.String() + "\n")
	}
}

// WriteLaddrs writes DPVS's --get-laddr listing (list_laddrs_print_*), for
// one service when svc is not nil. Firewall-mark services, which cannot have
// local addresses, are left out.
func WriteLaddrs(w io.Writer, t *Table, svc *Service, asJSON bool) error {
	svcs := slices.DeleteFunc(sorted(t.Services, false), func(ss ServiceStatus) bool { return ss.Service.FwMark != 0 })
	if svc != nil {
		ss, err := findService(t, svc.Key())
		if err != nil {
			return err
		}
		svcs = []ServiceStatus{*ss}
	}
	if asJSON {
		type entry struct {
			Service Service       `json:"service"` // as in -L --json
			Laddrs  []LaddrStatus `json:"laddrs"`
		}
		out := struct {
			Services []entry `json:"services"`
		}{Services: []entry{}}
		for _, ss := range svcs {
			out.Services = append(out.Services, entry{ss.Service, append([]LaddrStatus{}, ss.Laddrs...)})
		}
		return writeJSON(w, out)
	}
	var b strings.Builder
	for i, ss := range svcs {
		if i == 0 {
			fmt.Fprintf(&b, "%-20s %-8s %-20s %-10s %-10s\n", "VIP:VPORT", "TOTAL", "SNAT_IP", "CONFLICTS", "CONNS")
		}
		fmt.Fprintf(&b, "%-20s %-8d \n", netip.AddrPortFrom(ss.Service.VIP, ss.Service.Port), len(ss.Laddrs))
		for _, l := range ss.Laddrs {
			fmt.Fprintf(&b, "%-20s %-8s %-20s %-10d %-10d\n", "", "", l.Laddr.Addr, l.PortConflicts, l.Conns)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeListJSON is --json: the same selection as the text listing.
func writeListJSON(w io.Writer, t *Table, svc *Service, o ListOptions) error {
	switch {
	case o.Conn:
		conns := t.Conns
		if conns == nil {
			conns = []Conn{}
		}
		return writeJSON(w, struct {
			Conns []Conn `json:"conns"`
		}{conns})
	case svc != nil:
		ss, err := findService(t, svc.Key())
		if err != nil {
			return err
		}
		return writeJSON(w, struct {
			Services []ServiceStatus `json:"services"`
		}{sorted([]ServiceStatus{*ss}, o.NoSort)})
	case o.Timeout:
		return writeJSON(w, struct {
			Timeouts Timeouts `json:"timeouts"`
		}{t.Timeouts})
	case o.Daemon:
		return writeJSON(w, struct {
			Daemons []string `json:"daemons"`
		}{[]string{}})
	}
	size := t.Size
	if size == 0 {
		size = DefaultTableSize
	}
	svcs := sorted(t.Services, o.NoSort)
	if svcs == nil {
		svcs = []ServiceStatus{}
	}
	return writeJSON(w, struct {
		Version  string          `json:"version"`
		Size     int             `json:"size"`
		Services []ServiceStatus `json:"services"`
	}{IPVSVersion, size, svcs})
}
