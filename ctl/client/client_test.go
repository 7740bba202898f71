package client

import (
	"bytes"
	"errors"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"fngw/ctl"
	"fngw/ctl/socket"
)

// fakeLVS answers the control socket as ctl/plane does, from a
// ctl.Config: mutating commands through Config.Apply, listings through
// ctl.Render, -Z through Config.CheckService, errors classed as
// plane.errCode classes them. conns are what -c lists.
type fakeLVS struct {
	mu    sync.Mutex
	cfg   *ctl.Config
	conns []ctl.Conn
	sock  string
}

func startLVS(t *testing.T) *fakeLVS {
	t.Helper()
	g := &fakeLVS{cfg: ctl.NewConfig(), sock: filepath.Join(t.TempDir(), "gw.sock")}
	s, err := socket.Listen(g.sock, g.handle)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	t.Setenv("FNGW_SOCK", g.sock)
	return g
}

func (g *fakeLVS) handle(req socket.Request) socket.Response {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out bytes.Buffer
	cmd := req.Cmd
	var err error
	switch {
	case cmd.Op == ctl.OpList || cmd.Op == ctl.OpSave || cmd.Op == ctl.OpGetLaddr:
		tb := g.cfg.Table(0)
		tb.Conns = g.conns
		err = ctl.Render(&out, cmd, tb)
	case cmd.Op == ctl.OpZero:
		err = g.cfg.CheckService(cmd.Service)
	default:
		next := g.cfg.Clone()
		if err = next.Apply(cmd); err == nil {
			g.cfg = next
		}
	}
	resp := socket.Response{Stdout: out.String()}
	if err != nil {
		resp.Error = err.Error()
		var ue *ctl.UsageError
		switch {
		case errors.As(err, &ue):
			resp.Code = socket.CodeUsage
		case errors.Is(err, ctl.ErrNoService):
			resp.Code = socket.CodeNoService
		case errors.Is(err, ctl.ErrNotFound):
			resp.Code = socket.CodeNotFound
		case errors.Is(err, ctl.ErrExists):
			resp.Code = socket.CodeExists
		default:
			resp.Code = socket.CodeInvalid
		}
	}
	return resp
}

// run runs the client as the program prog (a path: its base name is what
// counts) with a command line, as a shell would, and returns its exit
// status and output.
func run(prog, line, stdin string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = Main(append([]string{prog}, strings.Fields(line)...), nil, strings.NewReader(stdin), &o, &e)
	return code, o.String(), e.String()
}

// must runs an ipvsadm command line that has to succeed.
func must(t *testing.T, line string) string {
	t.Helper()
	code, out, errOut := run("/usr/local/sbin/ipvsadm", line, "")
	if code != 0 {
		t.Fatalf("ipvsadm %s: exit %d: %s", line, code, errOut)
	}
	return out
}

// TestIpvsadmErrors: what a script sees when an operation fails, run as
// ipvsadm: upstream's message first (then which object), ipvsadm's exit
// status (255 for a failed operation, 2 for bad arguments, 1 for -L of a
// missing service and when the gateway cannot be reached), never "gw:".
// Run as gw adm the same failures exit 1 with fngw's message.
func TestIpvsadmErrors(t *testing.T) {
	startLVS(t)
	must(t, "-A -t 198.18.1.100:80 -s rr")
	must(t, "-a -t 198.18.1.100:80 -r 10.0.0.1:8080 --fullnat -w 1")
	must(t, "-P -t 198.18.1.100:80 -z 198.18.2.100 -F dpdk1")
	tests := []struct {
		line   string
		code   int
		prefix string // the start of stderr
		names  string // what stderr must name too
	}{
		{"-A -t 198.18.1.100:80 -s wlc", 255, "Service already exists: ", "198.18.1.100:80"},
		{"-E -t 198.18.1.101:80 -s wlc", 255, "No such service: ", "198.18.1.101:80"},
		{"-D -t 198.18.1.101:80", 255, "No such service: ", "198.18.1.101:80"},
		{"-Z -t 198.18.1.101:80", 255, "No such service: ", "198.18.1.101:80"},
		{"-a -t 198.18.1.101:80 -r 10.0.0.2:8080 -g", 255, "Service not defined: ", "198.18.1.101:80"},
		{"-e -t 198.18.1.101:80 -r 10.0.0.1:8080 -w 2", 255, "Service not defined: ", "198.18.1.101:80"},
		{"-a -t 198.18.1.100:80 -r 10.0.0.1:8080 -m", 255, "Destination already exists: ", "10.0.0.1:8080"},
		{"-e -t 198.18.1.100:80 -r 10.0.0.9:8080 -w 2", 255, "No such destination: ", "10.0.0.9:8080"},
		{"-d -t 198.18.1.100:80 -r 10.0.0.9", 255, "No such destination: ", "10.0.0.9:80"},
		{"-P -t 198.18.1.100:80 -z 198.18.2.100 -F dpdk1", 255, "Local address already exists: ", "198.18.2.100"},
		{"-Q -t 198.18.1.100:80 -z 198.18.2.101", 255, "No such Local address: ", "198.18.2.101"},
		{"-G -t 198.18.1.101:80", 255, "No such service: ", "198.18.1.101:80"},
		{"-L -n -t 198.18.1.101:80", 1, "No such service: ", "198.18.1.101:80"},
		{"-a -t 198.18.1.100:80 -r 10.0.0.2:8080 -g", 255, "service 198.18.1.100:80/tcp: real server 10.0.0.2:8080: route forwarding keeps the service port 80", "-m"},
		{"--frobnicate", 2, "unknown option --frobnicate", "Try `ipvsadm -h'"},
		{"-A -t 198.18.1.100:80 -s fancy", 2, "unknown scheduler \"fancy\"", "rr"},
		{"-a -t 198.18.1.100:80 -r 10.0.0.1 -w 70000", 2, "invalid weight \"70000\"", "0-65535"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			code, _, errOut := run("/usr/local/sbin/ipvsadm", tt.line, "")
			if code != tt.code || !strings.HasPrefix(errOut, tt.prefix) || !strings.Contains(errOut, tt.names) {
				t.Errorf("ipvsadm %s: exit %d, stderr %q; want exit %d, stderr starting %q naming %q", tt.line, code, errOut, tt.code, tt.prefix, tt.names)
			}
			if strings.Contains(errOut, "gw:") {
				t.Errorf("ipvsadm %s: stderr %q mentions gw:", tt.line, errOut)
			}
		})
	}
	code, _, errOut := run("gw", "adm -Z -t 198.18.1.101:80", "")
	if code != 1 || errOut != "service 198.18.1.101:80/tcp does not exist\n" {
		t.Errorf("gw adm -Z of a missing service: exit %d, %q", code, errOut)
	}
	t.Setenv("FNGW_SOCK", filepath.Join(t.TempDir(), "none.sock"))
	code, _, errOut = run("ipvsadm", "-L -n", "")
	if code != 1 || !strings.HasPrefix(errOut, "Can't initialize ipvs: cannot reach the gateway") {
		t.Errorf("ipvsadm with no gateway: exit %d, %q", code, errOut)
	}
	code, _, errOut = run("gw", "adm -L -n", "")
	if code != 1 || !strings.HasPrefix(errOut, "gw: cannot reach the gateway") {
		t.Errorf("gw adm with no gateway: exit %d, %q", code, errOut)
	}
}

// TestIpvsadmNoRoom: a gateway out of room for an add (its service or
// destination IDs all taken) is libipvs's ENOMEM to ipvsadm.
func TestIpvsadmNoRoom(t *testing.T) {
	for _, op := range []ctl.Op{ctl.OpAddService, ctl.OpAddDest, ctl.OpEditService} {
		if got := ipvsadmWording(op, socket.CodeFull); got != "Memory allocation problem" {
			t.Errorf("op %v out of room: %q", op, got)
		}
	}
}

// TestIpvsadmEditKeepsMethod: `ipvsadm -e ... -w 0` on a FULLNAT server
// quiesces it and leaves it FULLNAT (ipvsadm's -e would make it -g).
func TestIpvsadmEditKeepsMethod(t *testing.T) {
	startLVS(t)
	must(t, "-A -t 198.18.1.100:80 -s rr")
	must(t, "-a -t 198.18.1.100:80 -r 10.0.0.1:8080 --fullnat -w 4")
	must(t, "-a -t 198.18.1.100:80 -r 10.0.0.2:8080 -m -w 4")
	must(t, "-e -t 198.18.1.100:80 -r 10.0.0.1:8080 -w 0")
	must(t, "-e -t 198.18.1.100:80 -r 10.0.0.2:8080 -w 1")
	out := must(t, "-L -n")
	for _, want := range []string{
		"  -> 10.0.0.1:8080                FullNat 0      0          0         \n",
		"  -> 10.0.0.2:8080                Masq    1      0          0         \n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("-L -n after -e without a method:\n%s\nwant a line %q", out, want)
		}
	}
}

// TestIpvsadmZero: -Z of every service and of one that exists succeed.
func TestIpvsadmZero(t *testing.T) {
	startLVS(t)
	must(t, "-A -t 198.18.1.100:80 -s rr")
	must(t, "-Z")
	must(t, "-Z -t 198.18.1.100:80")
}

// TestListConnColumns: a script's `ipvsadm -L -n -c | awk '{print $6}'`
// reads the destination whether or not FULLNAT connections are listed;
// --local shows their local addresses in a column of its own.
func TestListConnColumns(t *testing.T) {
	g := startLVS(t)
	ap := netip.MustParseAddrPort
	g.conns = []ctl.Conn{
		{Proto: ctl.TCP, Client: ap("198.18.0.2:40000"), Virtual: ap("198.18.1.100:80"), Dest: ap("10.0.0.2:80"), State: "ESTABLISHED", Expires: 899},
		{Proto: ctl.TCP, Client: ap("198.18.0.3:40001"), Virtual: ap("198.18.1.100:80"), Local: ap("198.18.2.100:1025"), Dest: ap("10.0.0.1:8080"), State: "ESTABLISHED", Expires: 899},
	}
	lines := strings.Split(strings.TrimSpace(must(t, "-L -n -c")), "\n")
	var col6 []string
	for _, l := range lines[2:] {
		col6 = append(col6, strings.Fields(l)[5])
	}
	if strings.Join(col6, " ") != "10.0.0.2:80 10.0.0.1:8080" {
		t.Errorf("column 6 of -L -n -c: %q\n%s", col6, strings.Join(lines, "\n"))
	}
	out := must(t, "-L -n -c --local")
	if !strings.Contains(out, "198.18.0.3:40001   198.18.1.100:80    198.18.2.100:1025  10.0.0.1:8080\n") ||
		!strings.Contains(out, "198.18.1.100:80    -                  10.0.0.2:80\n") {
		t.Errorf("-L -n -c --local:\n%s", out)
	}
}

// TestSaveRestoreScripts: the ipvsadm-save and ipvsadm-restore links behave
// as Debian's and RHEL's scripts: save is ipvsadm -S [-n] (another option
// prints the script's help, exit 1); restore replaces the table with
// standard input, comments ignored, names resolved, so plain ipvsadm-save
// output (names, no -n) restores; a restore that fails changes nothing.
func TestSaveRestoreScripts(t *testing.T) {
	startLVS(t)
	must(t, "-A -t 198.18.1.99:443 -s rr")
	plain := "# ipvsadm-save of a kernel LVS, without -n\n" +
		"-A -t 198.18.1.100:http -s wlc\n" +
		"-a -t 198.18.1.100:http -r 10.0.0.1:http -g -w 1\n" +
		"-a -t 198.18.1.100:http -r 10.0.0.2:https -m -w 2\n" +
		"-A -u 198.18.1.100:domain -s rr\n" +
		"-a -u 198.18.1.100:domain -r localhost:domain -m -w 1\n"
	code, _, errOut := run("/usr/sbin/ipvsadm-restore", "", plain)
	if code != 0 {
		t.Fatalf("ipvsadm-restore: exit %d: %s", code, errOut)
	}
	want := "-A -t 198.18.1.100:80 -s wlc\n" +
		"-a -t 198.18.1.100:80 -r 10.0.0.1:80 -g -w 1\n" +
		"-a -t 198.18.1.100:80 -r 10.0.0.2:443 -m -w 2\n" +
		"-A -u 198.18.1.100:53 -s rr\n" +
		"-a -u 198.18.1.100:53 -r 127.0.0.1:53 -m -w 1\n"
	for _, args := range []string{"", "-n"} {
		code, out, errOut := run("/usr/sbin/ipvsadm-save", args, "")
		if code != 0 || out != want {
			t.Errorf("ipvsadm-save %s: exit %d %s\n got:\n%s\nwant (the restored table, 198.18.1.99:443 gone):\n%s", args, code, errOut, out, want)
		}
	}
	code, out, errOut := run("ipvsadm-save", "-x", "")
	if code != 1 || out != "" || !strings.HasPrefix(errOut, "ipvsadm-save: Script to save the IPVS table to stdout.\n") {
		t.Errorf("ipvsadm-save -x: exit %d, %q, %q", code, out, errOut)
	}
	code, _, errOut = run("ipvsadm-restore", "", "-A -t 198.18.1.101:80 -s rr\n-a -t 198.18.1.102:80 -r 10.0.0.1 -g\n")
	if code != 255 || !strings.Contains(errOut, "line 2") || !strings.Contains(errOut, "198.18.1.102:80") {
		t.Errorf("failing ipvsadm-restore: exit %d, %q", code, errOut)
	}
	if got := must(t, "-S -n"); got != want {
		t.Errorf("a failed ipvsadm-restore changed the table:\n%s", got)
	}
	code, _, errOut = run("ipvsadm-restore", "", "-A -t 198.18.1.101:nosuchservice -s rr\n")
	if code != 2 || !strings.Contains(errOut, `line 1: virtual service -t (--tcp-service) "198.18.1.101:nosuchservice": service name "nosuchservice"`) {
		t.Errorf("ipvsadm-restore with an unknown service name: exit %d, %q", code, errOut)
	}
	// ipvsadm -R reads the same names; the command line takes them too.
	if code, _, errOut := run("ipvsadm", "-R", "-A -t 198.18.1.103:https -s rr\n"); code != 0 {
		t.Fatalf("ipvsadm -R: exit %d %s", code, errOut)
	}
	must(t, "-a -t 198.18.1.103:https -r 10.0.0.3 -g")
	if out := must(t, "-S -n"); !strings.Contains(out, "-A -t 198.18.1.103:443 -s rr\n-a -t 198.18.1.103:443 -r 10.0.0.3:443 -g -w 1\n") {
		t.Errorf("after ipvsadm -R and -a with service names:\n%s", out)
	}
}
