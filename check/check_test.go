package check

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"fngw/ctl"
)

var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// at is a result of a check that started s seconds after t0 and took 1 ms.
func at(s int, ok bool) Result {
	return Result{OK: ok, At: t0.Add(time.Duration(s) * time.Second), Latency: time.Millisecond}
}

// TestStateRiseFall: fall failures in a row take an up destination down,
// rise successes in a row bring it back; a result that agrees resets the
// count; since and transitions follow; alpha starts down.
func TestStateRiseFall(t *testing.T) {
	type step struct {
		ok      bool
		changed bool
		up      bool
	}
	for _, tc := range []struct {
		name       string
		alpha      bool
		rise, fall int
		steps      []step
	}{
		{"fall 2 rise 2", false, 2, 2, []step{
			{false, false, true}, {true, false, true}, // a lone failure
			{false, false, true}, {false, true, false}, // two in a row
			{true, false, false}, {false, false, false}, {true, false, false}, {true, true, true},
		}},
		{"keepalived defaults: fall 2 rise 1", false, 1, 2, []step{
			{false, false, true}, {false, true, false}, {true, true, true},
		}},
		{"fall 1", false, 1, 1, []step{{false, true, false}, {false, false, false}, {true, true, true}}},
		{"alpha", true, 1, 3, []step{{false, false, false}, {true, true, true}}},
		{"alpha rise 3", true, 3, 1, []step{{true, false, false}, {true, false, false}, {true, true, true}, {false, true, false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewState(tc.alpha, t0)
			if s.Up == tc.alpha || !s.Since.Equal(t0) {
				t.Fatalf("initial state %+v", s)
			}
			transitions := uint64(0)
			for i, st := range tc.steps {
				r := at(i+1, st.ok)
				changed := s.Observe(r, tc.rise, tc.fall)
				if changed != st.changed || s.Up != st.up {
					t.Fatalf("step %d (ok %v): changed %v up %v, want %v %v", i, st.ok, changed, s.Up, st.changed, st.up)
				}
				if changed {
					transitions++
					if want := r.At.Add(r.Latency); !s.Since.Equal(want) {
						t.Errorf("step %d: since %v, want %v", i, s.Since, want)
					}
				}
				if s.Transitions != transitions || s.Last != r || s.Checks != uint64(i+1) {
					t.Errorf("step %d: %+v", i, s)
				}
			}
		})
	}
}

func probe(t *testing.T, c ctl.Check, addr string) Result {
	t.Helper()
	if c.Timeout == 0 {
		c.Timeout = ctl.Duration(time.Second)
	}
	if c.Interval == 0 {
		c.Interval = ctl.Duration(time.Second)
	}
	return NewProber().Probe(context.Background(), Target{Addr: netip.MustParseAddrPort(addr), Check: c})
}

func wantResult(t *testing.T, r Result, ok bool, reason string) {
	t.Helper()
	if r.OK != ok || !strings.Contains(r.Reason, reason) {
		t.Errorf("result %+v, want ok %v and a reason with %q", r, ok, reason)
	}
}

// closedPort is a local TCP or UDP port nothing listens on.
func closedPort(t *testing.T, network string) string {
	t.Helper()
	if network == "tcp" {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return addr
	}
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := c.LocalAddr().String()
	c.Close()
	return addr
}

func TestTCP(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	wantResult(t, probe(t, ctl.Check{Type: ctl.CheckTCP}, l.Addr().String()), true, "ok")
	wantResult(t, probe(t, ctl.Check{Type: ctl.CheckTCP}, closedPort(t, "tcp")), false, "connect refused")
	src := ctl.Check{Type: ctl.CheckTCP, Source: netip.MustParseAddr("127.0.0.2")}
	wantResult(t, probe(t, src, l.Addr().String()), true, "ok")
}

// TestTCPTimeout: a SYN nobody answers times out. A listener with a
// backlog of 0 that never accepts drops the SYNs once its queue is full.
func TestTCPTimeout(t *testing.T) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := syscall.Getsockname(fd)
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	for range 3 { // fill the queue
		if c, err := net.DialTimeout("tcp4", addr, 100*time.Millisecond); err == nil {
			defer c.Close()
		}
	}
	r := probe(t, ctl.Check{Type: ctl.CheckTCP, Timeout: ctl.Duration(200 * time.Millisecond)}, addr)
	wantResult(t, r, false, "timeout after 200ms")
}

func TestHTTP(t *testing.T) {
	var status atomic.Int32
	status.Store(200)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(500 * time.Millisecond)
		}
		w.WriteHeader(int(status.Load()))
		fmt.Fprint(w, "status: all good\n")
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	sum := md5.Sum([]byte("status: all good\n"))
	digest := hex.EncodeToString(sum[:])
	var only503 ctl.StatusSet
	only503.Add(503)
	for _, tc := range []struct {
		name   string
		status int32
		c      ctl.Check
		ok     bool
		reason string
	}{
		{"200 any 2xx", 200, ctl.Check{Path: "/"}, true, "ok"},
		{"204 any 2xx", 204, ctl.Check{Path: "/"}, true, "ok"},
		{"503", 503, ctl.Check{Path: "/"}, false, "status 503"},
		{"503 expected", 503, ctl.Check{Path: "/", ExpectStatus: only503}, true, "ok"},
		{"regex", 200, ctl.Check{Path: "/", ExpectBodyRegex: "all (good|well)"}, true, "ok"},
		{"regex fails", 200, ctl.Check{Path: "/", ExpectBodyRegex: "^bad"}, false, "body does not match"},
		{"digest", 200, ctl.Check{Path: "/", Digest: digest}, true, "ok"},
		{"digest fails", 200, ctl.Check{Path: "/", Digest: strings.Repeat("0", 32)}, false, "digest " + digest},
		{"timeout", 200, ctl.Check{Path: "/slow", Timeout: ctl.Duration(100 * time.Millisecond)}, false, "timeout after 100ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status.Store(tc.status)
			tc.c.Type = ctl.CheckHTTP
			wantResult(t, probe(t, tc.c, addr), tc.ok, tc.reason)
		})
	}
	wantResult(t, probe(t, ctl.Check{Type: ctl.CheckHTTP, Path: "/"}, closedPort(t, "tcp")), false, "connect refused")

	tls := httptest.NewTLSServer(srv.Config.Handler)
	defer tls.Close()
	status.Store(200)
	wantResult(t, probe(t, ctl.Check{Type: ctl.CheckHTTPS, Path: "/"}, strings.TrimPrefix(tls.URL, "https://")), true, "ok")
}

// udpServer answers every datagram with reply (or echoes it when reply is
// nil) until the test ends.
func udpServer(t *testing.T, reply func([]byte) []byte) string {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			if out := reply(buf[:n]); out != nil {
				c.WriteTo(out, from)
			}
		}
	}()
	return c.LocalAddr().String()
}

func TestUDP(t *testing.T) {
	echo := udpServer(t, func(b []byte) []byte { return append([]byte(nil), b...) })
	silent := udpServer(t, func([]byte) []byte { return nil })
	closed := closedPort(t, "udp")
	short := ctl.Duration(200 * time.Millisecond)
	for _, tc := range []struct {
		name   string
		addr   string
		c      ctl.Check
		ok     bool
		reason string
	}{
		{"echo expected", echo, ctl.Check{Payload: "70696e67", Expect: "7069"}, true, "ok"},
		{"echo other reply", echo, ctl.Check{Payload: "70696e67", Expect: "706f"}, false, "does not begin with 706f"},
		{"closed port", closed, ctl.Check{Payload: "70696e67"}, false, "port unreachable"},
		{"closed port, reply expected", closed, ctl.Check{Payload: "70696e67", Expect: "70"}, false, "port unreachable"},
		{"silent, no reply required", silent, ctl.Check{Payload: "70696e67", Timeout: short}, true, "ok"},
		{"silent, reply required", silent, ctl.Check{Payload: "70696e67", Expect: "70", Timeout: short}, false, "no reply within 200ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.c.Type = ctl.CheckUDP
			wantResult(t, probe(t, tc.c, tc.addr), tc.ok, tc.reason)
		})
	}
}

// dnsServer answers queries for example.org. and refuses others.
func dnsServer(t *testing.T) string {
	return udpServer(t, func(b []byte) []byte {
		var p dnsmessage.Parser
		h, err := p.Start(b)
		if err != nil {
			return nil
		}
		q, err := p.Question()
		if err != nil {
			return nil
		}
		rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true}
		if q.Name.String() != "example.org." {
			rh.RCode = dnsmessage.RCodeRefused
		}
		bld := dnsmessage.NewBuilder(nil, rh)
		bld.StartQuestions()
		bld.Question(q)
		if rh.RCode == dnsmessage.RCodeSuccess && q.Type == dnsmessage.TypeA {
			bld.StartAnswers()
			bld.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}, dnsmessage.AResource{A: [4]byte{192, 0, 2, 1}})
		}
		out, _ := bld.Finish()
		return out
	})
}

func TestDNS(t *testing.T) {
	srv := dnsServer(t)
	wantResult(t, probe(t, ctl.Check{Type: ctl.CheckDNS, Name: "example.org", QType: "A"}, srv), true, "ok")
	wantResult(t, probe(t, ctl.Check{Type: ctl.CheckDNS, Name: "example.org.", QType: "SOA"}, srv), true, "ok")
	wantResult(t, probe(t, ctl.Check{Type: ctl.CheckDNS, Name: "other.org", QType: "A"}, srv), false, "rcode Refused")
	wantResult(t, probe(t, ctl.Check{Type: ctl.CheckDNS, Name: ".", QType: "SOA"}, closedPort(t, "udp")), false, "port unreachable")
	notDNS := udpServer(t, func([]byte) []byte { return []byte{1, 2, 3} })
	wantResult(t, probe(t, ctl.Check{Type: ctl.CheckDNS, Name: ".", QType: "SOA", Timeout: ctl.Duration(200 * time.Millisecond)}, notDNS), false, "")
}

func TestMisc(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	wantResult(t, probe(t, ctl.Check{Type: ctl.CheckMisc, Command: "/bin/true"}, "127.0.0.1:1"), true, "ok")
	wantResult(t, probe(t, ctl.Check{Type: ctl.CheckMisc, Command: `/bin/sh -c "echo sick >&2; exit 3"`}, "127.0.0.1:1"), false, "exit status 3: sick")
	wantResult(t, probe(t, ctl.Check{Type: ctl.CheckMisc, Command: "/nonexistent/check"}, "127.0.0.1:1"), false, "no such file")
	// A script that leaves a child behind and hangs: killed at the
	// timeout, its child with it (the process group).
	hang := ctl.Check{Type: ctl.CheckMisc, Timeout: ctl.Duration(300 * time.Millisecond),
		Command: `/bin/sh -c "sleep 30 & echo $! > ` + pidFile + `; wait"`}
	start := time.Now()
	wantResult(t, probe(t, hang, "127.0.0.1:1"), false, "timeout after 300ms")
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the hanging check took %v", d)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	fmt.Sscan(string(b), &pid)
	deadline := time.Now().Add(2 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		// A killed child is a zombie until init reaps it: look at its state.
		if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err != nil || strings.Contains(string(st), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the check's child %d outlived its timeout", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestNotifier: scripts run with the environment given, in the background.
func TestNotifier(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	n := NewNotifier(NotifierConfig{Parallel: 2, Queue: 4, Timeout: 5 * time.Second, Log: testLogger(t)})
	defer n.Close()
	n.Notify(`/bin/sh -c "echo $FNGW_STATE $FNGW_DEST > `+out+`"`, []string{"FNGW_STATE=down", "FNGW_DEST=198.18.2.12:80"})
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(out)
		if string(b) == "down 198.18.2.12:80\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("notify output %q", b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestScheduler: every target is checked every interval, a changed target
// restarts its checks and an unchanged one does not, a removed one is not
// checked any more, a result of a replaced target is not reported.
func TestScheduler(t *testing.T) {
	var mu sync.Mutex
	counts := map[int]int{}
	ports := map[int]uint16{}
	s := NewScheduler(4, func(ctx context.Context, tg Target) Result {
		return Result{OK: true, At: time.Now()}
	}, func(k int, r Result) {
		mu.Lock()
		counts[k]++
		mu.Unlock()
	})
	defer s.Close()
	c := ctl.Check{Type: ctl.CheckTCP, Interval: ctl.Duration(50 * time.Millisecond), Timeout: ctl.Duration(50 * time.Millisecond)}
	for k := range 20 {
		ports[k] = uint16(1000 + k)
		s.Set(k, Target{Addr: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), ports[k]), Check: c})
	}
	time.Sleep(520 * time.Millisecond)
	s.Remove(3)
	s.Set(4, Target{Addr: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), ports[4]), Check: c}) // unchanged
	mu.Lock()
	snapshot := map[int]int{}
	for k, n := range counts {
		snapshot[k] = n
		// 500 ms of 50 ms intervals: 10 checks, the first within the first
		// interval; the machine may be busy, so allow some slack.
		if n < 7 || n > 12 {
			t.Errorf("target %d checked %d times in 500ms at 50ms intervals", k, n)
		}
	}
	mu.Unlock()
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if counts[3] > snapshot[3]+1 {
		t.Errorf("target 3 checked %d times after its removal", counts[3]-snapshot[3])
	}
	if counts[4] < snapshot[4]+2 {
		t.Errorf("target 4 (set again, unchanged) checked %d times in 200ms", counts[4]-snapshot[4])
	}
	if s.Len() != 19 {
		t.Errorf("%d targets scheduled, want 19", s.Len())
	}
}
