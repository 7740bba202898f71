package client

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fngw/ctl"
	"fngw/ctl/socket"
)

// healthGateway serves the control socket with a gateway that answers gw
// health with h after delay.
func healthGateway(t *testing.T, h ctl.GatewayHealth, delay time.Duration) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "gw.sock")
	s, err := socket.Listen(sock, func(req socket.Request) socket.Response {
		time.Sleep(delay)
		if req.Cmd.Op != ctl.OpHealth {
			return socket.Response{Code: socket.CodeUsage, Error: "want health, got " + string(req.Cmd.Op)}
		}
		var b bytes.Buffer
		if err := ctl.WriteGatewayHealth(&b, h); err != nil {
			t.Error(err)
		}
		return socket.Response{Stdout: b.String()}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return sock
}

func TestGatewayHealth(t *testing.T) {
	good := ctl.GatewayHealth{Workers: []ctl.WorkerHealth{{Core: 0, SinceTurn: 50 * time.Microsecond}},
		Ports: []ctl.PortHealth{{Dev: "dpdk0", Up: true, Kernel: &ctl.KernelHealth{Dev: "kgw0", Up: true}}}}
	stalled := good
	stalled.Workers = []ctl.WorkerHealth{{Core: 0, SinceTurn: 1500 * time.Millisecond}}
	kdown := good
	kdown.Ports = []ctl.PortHealth{{Dev: "dpdk0", Up: true, Kernel: &ctl.KernelHealth{Dev: "kgw0"}}}
	for _, tc := range []struct {
		name   string
		h      ctl.GatewayHealth
		delay  time.Duration
		args   string
		status int
		stdout string // a substring
		stderr string // a substring
	}{
		{"healthy", good, 0, "", 0, "ok: 1 workers turning", ""},
		{"json", good, 0, "--json", 0, `"since_turn_ns": 50000`, ""},
		{"stalled", stalled, 0, "", 1, "", "gw health: worker 0 stalled: last turn 1.5s ago (--max-stall 1s)"},
		{"stalled within a longer max", stalled, 0, "--max-stall 2s", 0, "ok:", ""},
		{"kernel interface down", kdown, 0, "", 1, "", "kernel interface kgw0 of port dpdk0 is down"},
		{"slow answer", good, 500 * time.Millisecond, "--timeout 100ms", 1, "", "gateway not answering within 100ms"},
		{"bad max-stall", good, 0, "--max-stall 0s", 2, "", "--max-stall 0s: want a positive duration"},
		{"extra argument", good, 0, "now", 2, "", `unexpected argument "now"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sock := healthGateway(t, tc.h, tc.delay)
			var stdout, stderr bytes.Buffer
			argv := append([]string{"gw", "--sock", sock, "health"}, strings.Fields(tc.args)...)
			status := Main(argv, nil, nil, &stdout, &stderr)
			if status != tc.status || !strings.Contains(stdout.String(), tc.stdout) || !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("gw health %s: exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q",
					tc.args, status, stdout.String(), stderr.String(), tc.status, tc.stdout, tc.stderr)
			}
			if lines := strings.Count(stderr.String(), "\n"); tc.status == 1 && lines != 1 {
				t.Errorf("gw health %s: %d lines on stderr, want one reason: %q", tc.args, lines, stderr.String())
			}
		})
	}
	t.Run("no gateway", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		sock := filepath.Join(t.TempDir(), "none.sock")
		if status := Main([]string{"gw", "--sock", sock, "health"}, nil, nil, &stdout, &stderr); status != 1 || !strings.Contains(stderr.String(), sock) {
			t.Errorf("gw health without a gateway: exit %d, stderr %q; want 1 naming %s", status, stderr.String(), sock)
		}
	})
}
