package client

import (
	"bytes"
	"encoding/json"
	"io"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"fngw/ctl"
	"fngw/ctl/socket"
)

// TestTopDelay: -d takes bare seconds as top(1) does (1, 0.5) or a duration
// (250ms), and refuses anything shorter than 100 ms, or not a time, with a
// usage error naming the value.
func TestTopDelay(t *testing.T) {
	for _, c := range []struct {
		arg  string
		want time.Duration
	}{
		{"1", time.Second}, {"0.5", 500 * time.Millisecond}, {"2.5", 2500 * time.Millisecond},
		{"0.1", 100 * time.Millisecond}, {"250ms", 250 * time.Millisecond}, {"1m", time.Minute},
	} {
		var stderr bytes.Buffer
		o, ok := parseTopArgs([]string{"-d", c.arg}, &stderr)
		if !ok || o.delay != c.want {
			t.Errorf("-d %s: %v %v (%s), want %v", c.arg, o.delay, ok, stderr.String(), c.want)
		}
	}
	for _, arg := range []string{"0.05", "50ms", "0", "-1", "-2s", "abc", "NaN", "1e9"} {
		var stdout, stderr bytes.Buffer
		if code := top("/nonexistent", []string{"-d", arg}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), `"`+arg+`"`) {
			t.Errorf("-d %s: exit %d, stderr %q; want 2 naming the value", arg, code, stderr.String())
		}
	}
	var stderr bytes.Buffer
	if o, ok := parseTopArgs(nil, &stderr); !ok || o.delay != 2*time.Second || o.count != 0 {
		t.Errorf("defaults: %+v %v", o, ok)
	}
	if _, ok := parseTopArgs([]string{"-n", "-1"}, &stderr); ok {
		t.Error("-n -1 accepted")
	}
}

// samples are two samples two seconds apart: core 0 received 2000 packets
// (1000/s) at 50% busy and dropped 20 more for no_session; the service's
// real server received 4000 bytes (2 kB/s) over 2 new connections.
func samples() (prev, cur topSample) {
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	svc := ctl.Service{Proto: ctl.TCP, VIP: netip.MustParseAddr("198.18.1.100"), Port: 80}
	v6 := ctl.Service{Proto: ctl.UDP, VIP: netip.MustParseAddr("2001:db8:1234:5678:9abc:def0:1234:5678"), Port: 53}
	dest := ctl.Dest{Addr: netip.MustParseAddr("198.18.2.11"), Port: 8080, Weight: 1}
	mk := func(t time.Time, rx, busy, total, drops, conns, inBytes uint64) topSample {
		st := ctl.Stats{Counters: ctl.Counters{Conns: conns, InPkts: rx / 2, InBytes: inBytes}, ActiveConns: 3}
		return topSample{at: t,
			cores: []ctl.CoreStatus{
				{Core: 0, Rx: rx, Tx: rx, BusyNs: busy, TotalNs: total, Sessions: 5, Created: conns, Drops: map[string]uint64{"no_session": drops, "not_for_us": 4}},
				{Core: 1, Rx: rx, Tx: rx, BusyNs: busy, TotalNs: total},
			},
			svcs: []ctl.ServiceStatus{
				{Service: svc, Stats: st, Dests: []ctl.DestStatus{{Dest: dest, Stats: st}}},
				{Service: v6},
			}}
	}
	return mk(at, 1000, 1e9, 10e9, 10, 1, 1000), mk(at.Add(2*time.Second), 3000, 2e9, 12e9, 30, 3, 5000)
}

// TestTopScreen: a screen fits 80 columns, says its byte rates are bytes
// per second (B/s), shows rates from counter differences, drops by reason
// (the busiest first), and a name too long for its column (an IPv6 VIP) on
// a line of its own; a screen that is not for a terminal has no escape
// codes, one for a terminal starts by clearing it and is cut to its height.
func TestTopScreen(t *testing.T) {
	prev, cur := samples()
	lines := renderTop(prev, cur, "q quits")
	text := strings.Join(lines, "\n")
	for _, l := range lines {
		if n := utf8.RuneCountInString(l); n > 80 {
			t.Errorf("%d columns: %q", n, l)
		}
	}
	for _, want := range []string{
		"rates over the last 2.0s", "q quits",
		"IN B/s OUT B/s",
		"0          1.0k     1.0k    50.0%        5        1        0        0       10",
		"all        2.0k     2.0k    50.0%        5        1        0                10", // two cores
		"no_session                           10       30",
		"not_for_us                            0        4",
		"TCP  198.18.1.100:80            1      3      0     500       0    2.0k       0",
		"  -> 198.18.2.11:8080           1      3      0     500       0    2.0k       0",
		"UDP  [2001:db8:1234:5678:9abc:def0:1234:5678]:53\n" + strings.Repeat(" ", nameCol) + "      0",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("screen lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "bps") {
		t.Errorf("a rate in unlabelled bps:\n%s", text)
	}
	if strings.Index(text, "no_session") > strings.Index(text, "not_for_us") {
		t.Errorf("drops not sorted by rate:\n%s", text)
	}

	var plain bytes.Buffer
	topScreen{w: &plain}.show(lines)
	if strings.Contains(plain.String(), "\033") {
		t.Errorf("escape codes on a non-terminal: %q", plain.String())
	}
	var term bytes.Buffer
	topScreen{w: &term, ansi: true, rows: func() int { return 10 }}.show(lines)
	out := term.String()
	if !strings.HasPrefix(out, "\033[H\033[2J") || strings.Count(out, "\n") != 9 || !strings.Contains(out, "more lines") {
		t.Errorf("terminal screen of 10 rows:\n%s", out)
	}
}

// fakeGateway serves gw top's two requests on a control socket: each
// `stats` finds 1000 more packets received; services are those of samples.
type fakeGateway struct {
	mu    sync.Mutex
	polls uint64
}

func (g *fakeGateway) handle(req socket.Request) socket.Response {
	g.mu.Lock()
	defer g.mu.Unlock()
	var v any
	switch req.Cmd.Op {
	case ctl.OpStats:
		g.polls++
		v = []ctl.CoreStatus{{Core: 0, Rx: 1000 * g.polls, BusyNs: g.polls, TotalNs: 2 * g.polls}}
	case ctl.OpList:
		_, cur := samples()
		v = ctl.Table{Services: cur.svcs}
	default:
		return socket.Response{Code: socket.CodeUsage, Error: "unexpected " + string(req.Cmd.Op)}
	}
	b, _ := json.Marshal(v)
	return socket.Response{Stdout: string(b)}
}

func startFake(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gw.sock")
	srv, err := socket.Listen(path, (&fakeGateway{}).handle)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return path
}

// TestTopOverSocket: gw top -n 2 into a pipe (not a terminal) prints two
// plain screens, the first one with rates already (primed), and exits 0;
// without a gateway it says why and exits 1.
func TestTopOverSocket(t *testing.T) {
	sock := startFake(t)
	var stdout, stderr bytes.Buffer
	start := time.Now()
	if code := top(sock, []string{"-n", "2", "-d", "0.2"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	out := stdout.String()
	if strings.Contains(out, "\033") {
		t.Errorf("escape codes into a pipe: %q", out)
	}
	if n := strings.Count(out, "fngw top"); n != 2 {
		t.Errorf("%d screens, want 2:\n%s", n, out)
	}
	first := out[:strings.LastIndex(out, "fngw top")]
	if m := regexp.MustCompile(`\n0 +(\S+) `).FindStringSubmatch(first); m == nil || m[1] == "0" {
		t.Errorf("first screen without rates:\n%s", first)
	}
	if el := time.Since(start); el < 300*time.Millisecond || el > 5*time.Second {
		t.Errorf("two screens at -d 0.2 took %v", el)
	}

	stdout.Reset()
	stderr.Reset()
	if code := top(filepath.Join(t.TempDir(), "none.sock"), []string{"-n", "1"}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "gw top: ") {
		t.Errorf("no gateway: exit %d, stderr %q", code, stderr.String())
	}
}

// TestTopQuitsOnQ: q typed while gw top waits for its next screen ends it at
// once, with status 0.
func TestTopQuitsOnQ(t *testing.T) {
	sock := startFake(t)
	keys, typing := io.Pipe()
	defer typing.Close()
	var stdout, stderr lockedBuffer
	done := make(chan int)
	go func() {
		done <- runTop(socketSource(sock), topOpts{delay: time.Hour}, topScreen{w: &stdout}, quitKey(keys), nil, &stderr)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(stdout.String(), "q quits") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	typing.Write([]byte("x"))
	select {
	case code := <-done:
		t.Fatalf("ended (%d) on a key other than q", code)
	case <-time.After(100 * time.Millisecond):
	}
	typing.Write([]byte("q"))
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d: %s", code, stderr.String())
		}
	case <-time.After(2 * time.Second):
		t.Fatal("q did not quit")
	}
	if n := strings.Count(stdout.String(), "fngw top"); n != 1 {
		t.Errorf("%d screens before q, want 1", n)
	}
}

// lockedBuffer is a bytes.Buffer safe for one writer and one reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestHuman: rates and counts fit their columns: at most 6 characters.
func TestHuman(t *testing.T) {
	for v, want := range map[float64]string{0: "0", -3: "0", 0.5: "0.5", 3: "3", 9.96: "10", 999.4: "999", 999.6: "1.0k",
		12345: "12.3k", 999949: "999.9k", 999951: "1.0M", 14.2e6: "14.2M", 3.4e9: "3.4G", 1e30: "huge"} {
		if got := human(v); got != want || len(got) > 6 {
			t.Errorf("human(%v) = %q, want %q", v, got, want)
		}
	}
}
