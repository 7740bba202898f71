package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"fngw/test/harness"
)

// Helpers of sched_test.go and reconfig_test.go on the FULLNAT topology of
// fullnat_test.go: what the real servers counted, what the gateway lists,
// a throttled download and an HTTP load running in the background while a
// test reconfigures the gateway.

// adm runs `gw adm args...` and fails the test on error.
func (tp *fnTopo) adm(t *testing.T, args ...string) string {
	t.Helper()
	out, err := tp.g.Cmd(append([]string{"adm"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// serverConns returns how many TCP connections each named real server
// accepted so far (summed over the peers it recorded; a server that has seen
// none has no peers file yet).
func (tp *fnTopo) serverConns(t *testing.T, names ...string) map[string]int {
	t.Helper()
	return tp.serverSeen(t, "tcp", names...)
}

// serverDatagrams returns how many UDP datagrams each named real server
// echoed so far.
func (tp *fnTopo) serverDatagrams(t *testing.T, names ...string) map[string]int {
	t.Helper()
	return tp.serverSeen(t, "udp", names...)
}

// serverSeen sums what each named real server recorded of proto over its
// peers.
func (tp *fnTopo) serverSeen(t *testing.T, proto string, names ...string) map[string]int {
	t.Helper()
	m := make(map[string]int, len(names))
	for _, name := range names {
		b, err := os.ReadFile(tp.peersFile(name))
		if errors.Is(err, os.ErrNotExist) {
			m[name] = 0
			continue
		}
		if err != nil {
			t.Fatalf("peers of %s: %v", name, err)
		}
		var p map[string]map[string]int
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatalf("peers of %s: %v: %q", name, err, b)
		}
		for _, n := range p[proto] {
			m[name] += n
		}
	}
	return m
}

// lbDiff returns after - before per key.
func lbDiff[V int | uint64](before, after map[string]V) map[string]V {
	d := make(map[string]V, len(after))
	for k, v := range after {
		d[k] = v - before[k]
	}
	return d
}

// statsConns parses `gw adm -L -n --stats` (the text an LVS user reads) and
// returns the Conns column of every destination of service svc
// ("VIP:PORT", TCP), keyed by "RIP:PORT". The counts in these tests stay
// below 100000, which ipvsadm prints exactly.
func (tp *fnTopo) statsConns(t *testing.T, svc string) map[string]uint64 {
	t.Helper()
	out := tp.adm(t, "-L", "-n", "--stats")
	m := make(map[string]uint64)
	in, found := false, false
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 2 && (f[0] == "TCP" || f[0] == "UDP"):
			in = f[0] == "TCP" && f[1] == svc
			found = found || in
		case in && len(f) >= 7 && f[0] == "->":
			n, err := strconv.ParseUint(f[2], 10, 64)
			if err != nil {
				t.Fatalf("gw adm -L -n --stats: Conns of %s is %q, not a number:\n%s", f[1], f[2], out)
			}
			m[f[1]] = n
		}
	}
	if !found {
		t.Fatalf("gw adm -L -n --stats does not list TCP %s:\n%s", svc, out)
	}
	return m
}

// lbDestJSON is one destination of `gw adm -L -n --json`.
type lbDestJSON struct {
	Dest struct {
		Addr   string `json:"addr"`
		Port   int    `json:"port"`
		Weight int    `json:"weight"`
		Fwd    string `json:"fwd"`
	} `json:"dest"`
	Stats struct {
		Conns        uint64 `json:"conns"`
		ActiveConns  uint32 `json:"activeconns"`
		InactConns   uint32 `json:"inactconns"`
		PersistConns uint32 `json:"persistconns"`
	} `json:"stats"`
}

// lbServiceJSON is one service of `gw adm -L -n --json`.
type lbServiceJSON struct {
	Service struct {
		Proto      string `json:"proto"`
		VIP        string `json:"vip"`
		Port       int    `json:"port"`
		Sched      string `json:"sched"`
		Persistent bool   `json:"persistent"`
		Timeout    uint32 `json:"timeout"`
	} `json:"service"`
	Dests []lbDestJSON `json:"dests"`
}

// service returns TCP service svc ("VIP:PORT") as `gw adm -L -n --json`
// lists it, with its destinations keyed by "RIP:PORT".
func (tp *fnTopo) service(t *testing.T, svc string) (lbServiceJSON, map[string]lbDestJSON) {
	t.Helper()
	var l struct {
		Services []lbServiceJSON `json:"services"`
	}
	if err := tp.g.JSON(&l, "adm", "-L", "-n"); err != nil {
		t.Fatal(err)
	}
	for _, s := range l.Services {
		if strings.EqualFold(s.Service.Proto, "tcp") && fmt.Sprintf("%s:%d", s.Service.VIP, s.Service.Port) == svc {
			m := make(map[string]lbDestJSON)
			for _, d := range s.Dests {
				m[fmt.Sprintf("%s:%d", d.Dest.Addr, d.Dest.Port)] = d
			}
			return s, m
		}
	}
	t.Fatalf("gw adm -L -n --json does not list TCP %s: %+v", svc, l.Services)
	return lbServiceJSON{}, nil
}

// bgFetch is a throttled download running in the client namespace
// (e2epeer fetch -rate).
type bgFetch struct {
	name   string
	out    string // the file being written
	size   int64
	want   [sha256.Size]byte
	cmd    *exec.Cmd
	cancel context.CancelFunc
	done   chan struct{} // closed once the process has been waited for
	err    error
	stdout bytes.Buffer
	stderr bytes.Buffer
}

// startDownload writes size random bytes to www/name and starts fetching
// http://hostport/files/name from the client at rate bytes per second. The
// download is killed after timeout (and at the end of the test).
func (tp *fnTopo) startDownload(t *testing.T, hostport, name string, size, rate int64, timeout time.Duration) *bgFetch {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	if err := os.WriteFile(filepath.Join(tp.dir, "www", name), data, 0o644); err != nil {
		t.Fatal(err)
	}
	f := &bgFetch{name: name, out: filepath.Join(tp.dir, name+".out"), size: size, want: sha256.Sum256(data),
		done: make(chan struct{})}
	data = nil
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	f.cancel = cancel
	c := tp.client.Command(tp.peer, "fetch", "-url", "http://"+hostport+"/files/"+name, "-o", f.out,
		"-rate", strconv.FormatInt(rate, 10), "-timeout", timeout.String())
	f.cmd = exec.CommandContext(ctx, c.Args[0], c.Args[1:]...)
	f.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	f.cmd.Stdout, f.cmd.Stderr = &f.stdout, &f.stderr
	if err := f.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting %v: %v", f.cmd.Args, err)
	}
	go func() {
		f.err = f.cmd.Wait()
		close(f.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-f.done
		os.Remove(f.out)
		os.Remove(filepath.Join(tp.dir, "www", name))
	})
	return f
}

// running reports whether the download has not ended yet.
func (f *bgFetch) running() bool {
	select {
	case <-f.done:
		return false
	default:
		return true
	}
}

// received returns how many bytes have been written so far.
func (f *bgFetch) received() int64 {
	st, err := os.Stat(f.out)
	if err != nil {
		return 0
	}
	return st.Size()
}

// waitStarted waits until the download has received at least n bytes (it is
// flowing) and fails the test if it ended or stalled first.
func (f *bgFetch) waitStarted(t *testing.T, n int64) {
	t.Helper()
	harness.Eventually(t, 20*time.Second, fmt.Sprintf("download of %s under way", f.name), func() error {
		if !f.running() {
			return nil // reported below
		}
		if got := f.received(); got < n {
			return fmt.Errorf("%d bytes received", got)
		}
		return nil
	})
	if !f.running() {
		t.Fatalf("download of %s ended before it got going: %v: %s", f.name, f.err, f.stderr.String())
	}
}

// mustBeRunning fails the test when the download has already ended: what
// the test did "during the transfer" would then not have been during it.
func (f *bgFetch) mustBeRunning(t *testing.T, what string) {
	t.Helper()
	if !f.running() {
		t.Fatalf("the download of %s had already ended %s (received %d of %d bytes): lower its rate",
			f.name, what, f.received(), f.size)
	}
	t.Logf("%s: download of %s at %d of %d bytes", what, f.name, f.received(), f.size)
}

// wait waits for the download to end and checks it got every byte, with
// the right sha256.
func (f *bgFetch) wait(t *testing.T) {
	t.Helper()
	<-f.done
	if f.err != nil {
		t.Fatalf("download of %s: %v (received %d of %d bytes): %s", f.name, f.err, f.received(), f.size, f.stderr.String())
	}
	var rep struct {
		Bytes   int64   `json:"bytes"`
		Seconds float64 `json:"seconds"`
	}
	if err := json.Unmarshal(f.stdout.Bytes(), &rep); err != nil {
		t.Fatalf("download of %s: decoding %q: %v", f.name, f.stdout.String(), err)
	}
	n, got, err := fileSHA256(f.out)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("download of %s: %d bytes in %.1fs, sha256 %x", f.name, rep.Bytes, rep.Seconds, got)
	if n != f.size || !bytes.Equal(got, f.want[:]) {
		t.Errorf("download of %s: %d bytes with sha256 %x; want %d bytes with sha256 %x", f.name, n, got, f.size, f.want)
	}
}

// bgLoad is HTTP load in the background: e2epeer get batches run one after
// the other from the client until stopped.
type bgLoad struct {
	stop    chan struct{}
	once    sync.Once
	done    chan struct{}
	total   getReport
	batches int
	errs    []string // batches that did not run to their report
}

// startLoad sends GET url in batches of n requests, c at a time, each on a
// new connection, until finish is called.
func (tp *fnTopo) startLoad(t *testing.T, url string, n, c int) *bgLoad {
	t.Helper()
	l := &bgLoad{stop: make(chan struct{}), done: make(chan struct{}),
		total: getReport{ByServer: map[string]int{}, Peers: map[string]int{}}}
	go func() {
		defer close(l.done)
		for {
			select {
			case <-l.stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			cmd := tp.client.Command(tp.peer, "get", "-url", url, "-n", strconv.Itoa(n), "-c", strconv.Itoa(c))
			cmd = exec.CommandContext(ctx, cmd.Args[0], cmd.Args[1:]...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			cancel()
			var rep getReport
			if err == nil {
				err = json.Unmarshal(stdout.Bytes(), &rep)
			}
			if err != nil {
				l.errs = append(l.errs, fmt.Sprintf("%v: %s", err, stderr.String()))
				continue
			}
			l.batches++
			l.total.OK += rep.OK
			l.total.Failed += rep.Failed
			if len(l.total.Errors) < 10 {
				l.total.Errors = append(l.total.Errors, rep.Errors...)
			}
			for k, v := range rep.ByServer {
				l.total.ByServer[k] += v
			}
			for k, v := range rep.Peers {
				l.total.Peers[k] += v
			}
		}
	}()
	t.Cleanup(func() { l.halt() })
	return l
}

func (l *bgLoad) halt() {
	l.once.Do(func() { close(l.stop) })
	<-l.done
}

// finish stops the load after its current batch and checks that every
// request of every batch succeeded.
func (l *bgLoad) finish(t *testing.T) getReport {
	t.Helper()
	l.halt()
	t.Logf("background load: %d batches, %d requests ok, %d failed, per server %v", l.batches, l.total.OK, l.total.Failed, l.total.ByServer)
	if len(l.errs) > 0 {
		t.Errorf("%d batches of the background load failed to run: %v", len(l.errs), l.errs)
	}
	if l.total.Failed != 0 || l.total.OK == 0 {
		t.Errorf("background load: %d requests ok, %d failed; want all ok: %v", l.total.OK, l.total.Failed, l.total.Errors)
	}
	return l.total
}

// get runs n GET requests of url from the client (c at a time, a new
// connection each) and fails the test unless all succeed.
func (tp *fnTopo) get(t *testing.T, url string, n, c int) getReport {
	t.Helper()
	var rep getReport
	tp.peerRun(t, tp.client, 120*time.Second, &rep, "get", "-url", url, "-n", strconv.Itoa(n), "-c", strconv.Itoa(c))
	t.Logf("GET %s x%d in %.2fs: %d ok, %d failed, per server %v", url, n, rep.Seconds, rep.OK, rep.Failed, rep.ByServer)
	if rep.OK != n || rep.Failed != 0 {
		t.Fatalf("GET %s: %d of %d requests succeeded, %d failed: %v", url, rep.OK, n, rep.Failed, rep.Errors)
	}
	return rep
}

// sessionDest waits for the one ESTABLISHED session of the client to
// virtual service svc that is still carrying data, as `gw adm -L -n -c`
// lists it, and returns its destination "RIP:PORT". Only the download is
// established for long: the HTTP requests of the tests close at once.
func (tp *fnTopo) sessionDest(t *testing.T, svc string) string {
	t.Helper()
	var dest string
	harness.Eventually(t, 10*time.Second, "the download's session in gw adm -L -n -c", func() error {
		conns, err := tp.g.Conns()
		if err != nil {
			return err
		}
		var est []harness.ConnEntry
		for _, c := range conns {
			if c.Virtual == svc && c.State == "ESTABLISHED" {
				est = append(est, c)
			}
		}
		if len(est) != 1 {
			return fmt.Errorf("%d ESTABLISHED sessions to %s: %+v", len(est), svc, est)
		}
		dest = est[0].Dest
		return nil
	})
	return dest
}

// spawnServer starts one more e2epeer HTTP server named name in real-server
// namespace rs (0 or 1) on addr, serving www/ and recording its peers.
func (tp *fnTopo) spawnServer(t *testing.T, rs int, name, addr string) {
	t.Helper()
	ready := filepath.Join(tp.dir, name+".ready")
	tp.spawn(t, tp.rs[rs], name, "serve", "-name", name, "-http", addr,
		"-dir", filepath.Join(tp.dir, "www"), "-peers", tp.peersFile(name), "-ready", ready)
	harness.Eventually(t, 10*time.Second, name+" listening", func() error {
		if !fileExists(ready) {
			return fmt.Errorf("no %s", ready)
		}
		return nil
	})
}
