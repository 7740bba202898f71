package ctl

import (
	"bytes"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// cprintf formats with a C printf format string as found in ipvsadm.c
// (%u and %llu become %d; widths and flags carry over unchanged).
func cprintf(format string, a ...any) string {
	return fmt.Sprintf(regexp.MustCompile(`%(-?[\d*]*)(ll|l)?[ui]`).ReplaceAllString(format, "%${1}d"), a...)
}

// cLargenum is print_largenum written from ipvsadm.c independently of the
// implementation under test.
func cLargenum(i uint64, exact bool) string {
	if exact {
		l := len(fmt.Sprintf("%d", i))
		w := 9
		if l > 8 {
			w = l + 1
		}
		return cprintf("%*llu", w, i)
	}
	switch {
	case i < 100000000:
		return cprintf("%9llu", i)
	case i < 1000000000:
		return cprintf("%8lluK", i/1000)
	case i < 100000000000:
		return cprintf("%8lluM", i/1000000)
	case i < 100000000000000:
		return cprintf("%8lluG", i/1000000000)
	}
	return cprintf("%8lluT", i/1000000000000)
}

// fixture is a table with every forwarding mode, persistence with a mask,
// scheduler flags, an IPv6 service, and statistics on both sides of each
// K/M/G/T threshold.
func fixture(t testing.TB) *Table {
	c := NewConfig()
	for _, l := range []string{
		"-A -t 198.18.1.100:80 -s wlc -p 600 -M 255.255.255.0",
		"-a -t 198.18.1.100:80 -r 10.0.0.2:80 -g -w 2",
		"-a -t 198.18.1.100:80 -r 10.0.0.1:8080 -m -w 3 -x 1000 -y 100",
		"-a -t 198.18.1.100:80 -r 10.0.0.3:9000 --fullnat -w 1",
		"-a -t 198.18.1.100:80 -r 10.0.0.4 -i -w 0",
		"--add-laddr -t 198.18.1.100:80 -z 198.18.1.11 -F dpdk0",
		"--add-laddr -t 198.18.1.100:80 -z 198.18.1.10 -F dpdk0",
		"-A -u 198.18.1.100:53 -s sh -b sh-port -o",
		"-a -u 198.18.1.100:53 -r 10.0.1.1:5353 --fullnat -w 10",
		"-A -t 198.18.1.99:443 -s rr",
		"-A -t [2001:db8::1]:443 -s mh -b mh-fallback,mh-port -p 30 -M 64",
		"-a -t [2001:db8::1]:443 -r [2001:db8:1::2]:8443 -m -w 7",
		"-A -f 7 -s rr -p 60",
		"-a -f 7 -r 10.0.2.1 -g -w 2",
		"-a -f 7 -r 10.0.2.2:8080 -m -w 1",
	} {
		cmd, err := ParseArgs(strings.Fields(l))
		if err != nil {
			t.Fatal(l, err)
		}
		if err := c.Apply(cmd); err != nil {
			t.Fatal(l, err)
		}
	}
	tb := c.Table(0)
	big := []uint64{0, 99999999, 100000000, 999999999, 1000000000, 99999999999, 100000000000, 99999999999999, 100000000000000, 123456789012345678}
	n := 0
	next := func() uint64 { n++; return big[n%len(big)] + uint64(n/len(big)) }
	fill := func(s *Stats) {
		s.Conns, s.InPkts, s.OutPkts, s.InBytes, s.OutBytes = next(), next(), next(), next(), next()
		s.CPS, s.InPPS, s.OutPPS, s.InBPS, s.OutBPS = next()%1000000, next()%1000000, next()%1000000, next(), next()
		s.ActiveConns, s.InactConns, s.PersistConns = uint32(next()%5000), uint32(next()%5000), uint32(next()%50)
	}
	for i := range tb.Services {
		fill(&tb.Services[i].Stats)
		for j := range tb.Services[i].Dests {
			fill(&tb.Services[i].Dests[j].Stats)
		}
		for j := range tb.Services[i].Laddrs {
			tb.Services[i].Laddrs[j].Conns = uint32(100 * (j + 1))
			tb.Services[i].Laddrs[j].PortConflicts = uint64(j)
		}
	}
	ap := netip.MustParseAddrPort
	tb.Conns = []Conn{
		{Proto: TCP, Client: ap("198.18.0.2:40000"), Virtual: ap("198.18.1.100:80"), Local: ap("198.18.1.10:1024"), Dest: ap("10.0.0.3:9000"), State: "ESTABLISHED", Expires: 899},
		{Proto: TCP, Client: ap("198.18.0.3:40001"), Virtual: ap("198.18.1.100:80"), Dest: ap("10.0.0.2:80"), State: "FIN_WAIT", Expires: 61},
		{Proto: UDP, Client: ap("198.18.0.4:5000"), Virtual: ap("198.18.1.100:53"), Local: ap("198.18.1.10:2048"), Dest: ap("10.0.1.1:5353"), State: "UDP", Expires: 6000},
	}
	tb.Size = 4096
	return tb
}

func render(t *testing.T, tb *Table, args string) string {
	t.Helper()
	cmd, err := ParseArgs(strings.Fields(args))
	if err != nil {
		t.Fatal(args, err)
	}
	var b bytes.Buffer
	if err := Render(&b, cmd, tb); err != nil {
		t.Fatal(args, err)
	}
	return b.String()
}

// TestListFormatsFromIpvsadm builds the expected text of every listing
// layout from ipvsadm.c's printf formats and compares byte for byte.
func TestListFormatsFromIpvsadm(t *testing.T) {
	tb := fixture(t)
	svcs := sorted(tb.Services, false)
	// ipvsadm's svc_name: "FWM  %d" for a fwmark service, else "%-4s %s".
	svcName := func(s Service) string {
		if s.FwMark != 0 {
			return cprintf("FWM  %d", s.FwMark)
		}
		return cprintf("%-4s %s", strings.ToUpper(s.Proto.String()), netip.AddrPortFrom(s.VIP, s.Port))
	}
	svcLine := func(ss ServiceStatus) string {
		s := ss.Service
		var b strings.Builder
		b.WriteString(cprintf("%s %s", svcName(s), s.Sched))
		if len(s.Flags) > 0 {
			b.WriteString(" (" + strings.Join(s.Flags, ",") + ")")
		}
		if s.Persistent {
			b.WriteString(cprintf(" persistent %u", s.Timeout))
			if s.Netmask.IsValid() {
				if s.VIP.Is4() {
					b.WriteString(cprintf(" mask %s", s.Netmask))
				} else {
					b.WriteString(cprintf(" mask %i", s.MaskBits()))
				}
			}
		}
		if s.OnePacket {
			b.WriteString(" ops")
		}
		return b.String() + "\n"
	}
	name := func(ss ServiceStatus) string { return svcName(ss.Service) }
	header := cprintf("IP Virtual Server version %d.%d.%d (size=%d)\n", 1, 2, 1, 4096)
	for _, exact := range []bool{false, true} {
		ex := ""
		if exact {
			ex = " --exact"
		}
		// default
		want := header + "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
		for _, ss := range svcs {
			want += svcLine(ss)
			for _, d := range ss.Dests {
				want += cprintf("  -> %-28s %-7s %-6d %-10u %-10u\n", d.Dest.Key(), d.Dest.Fwd.IPVSName(), d.Dest.Weight, d.Stats.ActiveConns, d.Stats.InactConns)
			}
		}
		if got := render(t, tb, "-L -n"+ex); got != want {
			t.Errorf("-L -n%s:\n got:\n%s\nwant:\n%s", ex, got, want)
		}
		// --stats
		want = header + cprintf("%-33s %8s %8s %8s %8s %8s\n  -> RemoteAddress:Port\n", "Prot LocalAddress:Port", "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes")
		for _, ss := range svcs {
			st := ss.Stats
			want += cprintf("%-33s", name(ss))
			for _, v := range []uint64{st.Conns, st.InPkts, st.OutPkts, st.InBytes, st.OutBytes} {
				want += cLargenum(v, exact)
			}
			want += "\n"
			for _, d := range ss.Dests {
				st := d.Stats
				want += cprintf("  -> %-28s", d.Dest.Key())
				for _, v := range []uint64{st.Conns, st.InPkts, st.OutPkts, st.InBytes, st.OutBytes} {
					want += cLargenum(v, exact)
				}
				want += "\n"
			}
		}
		if got := render(t, tb, "-L -n --stats"+ex); got != want {
			t.Errorf("--stats%s:\n got:\n%s\nwant:\n%s", ex, got, want)
		}
		// --rate
		want = header + cprintf("%-33s %8s %8s %8s %8s %8s\n  -> RemoteAddress:Port\n", "Prot LocalAddress:Port", "CPS", "InPPS", "OutPPS", "InBPS", "OutBPS")
		for _, ss := range svcs {
			st := ss.Stats
			want += cprintf("%-33s", name(ss))
			for _, v := range []uint64{st.CPS, st.InPPS, st.OutPPS, st.InBPS, st.OutBPS} {
				want += cLargenum(v, exact)
			}
			want += "\n"
			for _, d := range ss.Dests {
				st := d.Stats
				want += cprintf("  -> %-28s %8llu %8llu %8llu", d.Dest.Key(), st.CPS, st.InPPS, st.OutPPS) + cLargenum(st.InBPS, exact) + cLargenum(st.OutBPS, exact) + "\n"
			}
		}
		if got := render(t, tb, "-L -n --rate"+ex); got != want {
			t.Errorf("--rate%s:\n got:\n%s\nwant:\n%s", ex, got, want)
		}
	}
	// --thresholds
	want := header + cprintf("%-33s %-10s %-10s %-10s %-10s\n  -> RemoteAddress:Port\n", "Prot LocalAddress:Port", "Uthreshold", "Lthreshold", "ActiveConn", "InActConn")
	for _, ss := range svcs {
		want += svcLine(ss)
		for _, d := range ss.Dests {
			want += cprintf("  -> %-28s %-10u %-10u %-10u %-10u\n", d.Dest.Key(), d.Dest.UThresh, d.Dest.LThresh, d.Stats.ActiveConns, d.Stats.InactConns)
		}
	}
	if got := render(t, tb, "-L -n --thresholds"); got != want {
		t.Errorf("--thresholds:\n got:\n%s\nwant:\n%s", got, want)
	}
	// --persistent-conn
	want = header + cprintf("%-33s %-9s %-11s %-10s %-10s\n  -> RemoteAddress:Port\n", "Prot LocalAddress:Port", "Weight", "PersistConn", "ActiveConn", "InActConn")
	for _, ss := range svcs {
		want += svcLine(ss)
		for _, d := range ss.Dests {
			want += cprintf("  -> %-28s %-9u %-11u %-10u %-10u\n", d.Dest.Key(), d.Dest.Weight, d.Stats.PersistConns, d.Stats.ActiveConns, d.Stats.InactConns)
		}
	}
	if got := render(t, tb, "-L -n --persistent-conn"); got != want {
		t.Errorf("--persistent-conn:\n got:\n%s\nwant:\n%s", got, want)
	}
	// --tun-info
	want = header + "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n"
	for _, ss := range svcs {
		want += svcLine(ss)
		for _, d := range ss.Dests {
			ti := "n/a"
			if d.Dest.Fwd == FwdTunnel {
				ti = "ipip"
			}
			want += cprintf("  -> %-28s %-7s %-13s %-6d %-10u %-10u\n", d.Dest.Key(), d.Dest.Fwd.IPVSName(), ti, d.Dest.Weight, d.Stats.ActiveConns, d.Stats.InactConns)
		}
	}
	if got := render(t, tb, "-L -n --tun-info"); got != want {
		t.Errorf("--tun-info:\n got:\n%s\nwant:\n%s", got, want)
	}
	// one service: no version header
	want = "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n" + svcLine(svcs[0])
	if got := render(t, tb, "-L -n -t 198.18.1.99:443"); got != want {
		t.Errorf("-L -t:\n got:\n%s\nwant:\n%s", got, want)
	}
	// --timeout
	if got, want := render(t, tb, "-L --timeout"), cprintf("Timeout (tcp tcpfin udp): %d %d %d\n", 900, 120, 300); got != want {
		t.Errorf("--timeout: got %q want %q", got, want)
	}
	// --daemon: no sync daemon, no output
	if got := render(t, tb, "-L --daemon"); got != "" {
		t.Errorf("--daemon: got %q", got)
	}
	// -c is ipvsadm's six columns whatever the connections are: the
	// FULLNAT ones among them change nothing, so awk '{print $6}' always
	// reads the destination.
	want = "IPVS connection entries\n" + cprintf("pro expire %-11s %-18s %-18s %s\n", "state", "source", "virtual", "destination")
	for _, c := range tb.Conns {
		want += cprintf("%-3s %-6s %-11s %-18s %-18s %s\n", strings.ToUpper(c.Proto.String()), cprintf("%02d:%02d", c.Expires/60, c.Expires%60), c.State, c.Client, c.Virtual, c.Dest)
	}
	if got := render(t, tb, "-L -n -c"); got != want {
		t.Errorf("-c:\n got:\n%s\nwant:\n%s", got, want)
	}
	for _, conns := range [][]Conn{tb.Conns, tb.Conns[1:2], tb.Conns[:1], nil} {
		out := render(t, &Table{Conns: conns}, "-L -n -c")
		for i, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n")[1:] {
			f := strings.Fields(l)
			if len(f) != 6 {
				t.Errorf("-c line %q: %d columns, want 6", l, len(f))
			} else if i > 0 && f[5] != conns[i-1].Dest.String() {
				t.Errorf("-c line %q: column 6 is %q, want the destination %s", l, f[5], conns[i-1].Dest)
			}
		}
	}
	c := tb.Conns[1]
	plain := &Table{Conns: []Conn{c}}
	want = "IPVS connection entries\n" + cprintf("pro expire %-11s %-18s %-18s %-18s %-16s %s\n", "state", "source", "virtual", "destination", "pe name", "pe_data") +
		cprintf("%-3s %-6s %-11s %-18s %-18s %s\n", "TCP", "01:01", c.State, c.Client, c.Virtual, c.Dest)
	if got := render(t, plain, "-L -n -c --persistent-conn"); got != want {
		t.Errorf("-c --persistent-conn:\n got:\n%s\nwant:\n%s", got, want)
	}
	// --local: the local column, whether or not a connection has one.
	want = "IPVS connection entries\n" + cprintf("pro expire %-11s %-18s %-18s %-18s %s\n", "state", "source", "virtual", "local", "destination") +
		cprintf("%-3s %-6s %-11s %-18s %-18s %-18s %s\n", "TCP", "01:01", c.State, c.Client, c.Virtual, "-", c.Dest)
	if got := render(t, plain, "-L -n -c --local"); got != want {
		t.Errorf("-c --local:\n got:\n%s\nwant:\n%s", got, want)
	}
	// laddrs: DPVS's list_laddrs_print_* formats.
	want = cprintf("%-20s %-8s %-20s %-10s %-10s\n", "VIP:VPORT", "TOTAL", "SNAT_IP", "CONFLICTS", "CONNS") +
		cprintf("%-20s %-8u \n", "198.18.1.100:80", 2) +
		cprintf("%-20s %-8s %-20s %-10lu %-10u\n", "", "", "198.18.1.10", 0, 100) +
		cprintf("%-20s %-8s %-20s %-10lu %-10u\n", "", "", "198.18.1.11", 1, 200)
	if got := render(t, tb, "-G -t 198.18.1.100:80"); got != want {
		t.Errorf("-G:\n got:\n%q\nwant:\n%q", got, want)
	}
}

// TestGolden compares every output format with reviewed golden files
// (go test -update rewrites them).
func TestGolden(t *testing.T) {
	tb := fixture(t)
	cases := map[string]string{
		"list":            "-L -n",
		"list_stats":      "-L -n --stats",
		"list_stats_x":    "-L -n --stats --exact",
		"list_rate":       "-L -n --rate",
		"list_rate_x":     "-L -n --rate --exact",
		"list_thresh":     "-L -n --thresholds",
		"list_pconn":      "-L -n --persistent-conn",
		"list_tuninfo":    "-L -n --tun-info",
		"list_service":    "-L -n -t 198.18.1.100:80",
		"list_conn":       "-L -n -c",
		"list_conn_pc":    "-L -n -c --persistent-conn",
		"list_conn_local": "-L -n -c --local",
		"list_timeout":    "-L --timeout",
		"list_json":       "-L -n --json",
		"list_conn_json":  "-L -c --json",
		"list_svc_json":   "-L -t 198.18.1.100:80 --json",
		"timeout_json":    "-L --timeout --json",
		"laddr":           "-G",
		"laddr_json":      "-G --json",
		"save":            "-S -n",
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			got := render(t, tb, args)
			path := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("%s: got:\n%s\nwant:\n%s", args, got, want)
			}
		})
	}
}

func TestLargenum(t *testing.T) {
	tests := []struct {
		in    uint64
		exact bool
		want  string
	}{
		{0, false, "        0"},
		{99999999, false, " 99999999"},
		{100000000, false, "  100000K"},
		{999999999, false, "  999999K"},
		{1000000000, false, "    1000M"},
		{99999999999, false, "   99999M"},
		{100000000000, false, "     100G"},
		{99999999999999, false, "   99999G"},
		{100000000000000, false, "     100T"},
		{18446744073709551615, false, "18446744T"},
		{12345678, true, " 12345678"},
		{123456789, true, " 123456789"},
		{18446744073709551615, true, " 18446744073709551615"},
	}
	for _, tt := range tests {
		var b strings.Builder
		largenum(&b, tt.in, tt.exact)
		if b.String() != tt.want || cLargenum(tt.in, tt.exact) != tt.want {
			t.Errorf("largenum(%d, %v) = %q (reference %q), want %q", tt.in, tt.exact, b.String(), cLargenum(tt.in, tt.exact), tt.want)
		}
	}
}

func TestListErrors(t *testing.T) {
	tb := fixture(t)
	cmd, _ := ParseArgs(strings.Fields("-L -t 198.18.1.1:80"))
	err := Render(&bytes.Buffer{}, cmd, tb)
	if err == nil || !strings.Contains(err.Error(), "service 198.18.1.1:80/tcp does not exist") {
		t.Errorf("got %v", err)
	}
	cmd, _ = ParseArgs(strings.Fields("-G -t 198.18.1.1:80"))
	if err := Render(&bytes.Buffer{}, cmd, tb); err == nil {
		t.Error("get-laddr of a missing service succeeded")
	}
	if err := Render(&bytes.Buffer{}, Command{Op: OpClear}, tb); err == nil {
		t.Error("rendering clear succeeded")
	}
	// size= is the session capacity the table was given.
	if got := render(t, &Table{Size: 2 << 20}, "-L -n"); !strings.HasPrefix(got, "IP Virtual Server version 1.2.1 (size=2097152)\n") {
		t.Errorf("size: %q", got)
	}
	// An empty table lists only the headers.
	got := render(t, NewConfig().Table(0), "-L -n")
	if got != "IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n" {
		t.Errorf("empty: %q", got)
	}
}
