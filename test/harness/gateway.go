package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Timeouts of the gateway's life cycle. Starting includes EAL initialisation
// (a few seconds without hugepages); stopping includes port close, which
// flushes a net_pcap tx file.
const (
	StartTimeout  = 60 * time.Second
	StopTimeout   = 20 * time.Second
	ClientTimeout = 20 * time.Second // one `gw` client command
	logTailLines  = 200
)

// Gateway is one running `gw run -c` process owned by a test. It is stopped
// by t.Cleanup if the test does not call Stop (and the exit status is checked
// either way); its log is printed when the test fails.
type Gateway struct {
	Config     Config // as last written to ConfigPath, by Start or WriteConfig
	Netns      *Netns // nil: the root namespace
	Dir        string // private directory: config, control socket, log
	ConfigPath string
	LogPath    string

	t       testing.TB
	bin     string
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the process has been waited for
	pidfile string
	stopped bool
}

// Start writes cfg (unique file prefix and socket filled in), starts `bin/gw
// run -c` inside ns (nil: the root namespace) with stdout and stderr going to
// a log file, and returns once the control socket answers `gw link show
// --json`. It fails the test if the gateway exits or does not answer within
// StartTimeout. Call Prepare first.
func Start(t testing.TB, cfg Config, ns *Netns) *Gateway {
	t.Helper()
	bin := Binary(t)
	dir := TempDir(t, "gw") // holds the control socket: a short path
	if cfg.FilePrefix == "" {
		cfg.FilePrefix = fmt.Sprintf("%s%d-%d", FilePrefix, os.Getpid(), next())
	}
	if cfg.Socket == "" {
		cfg.Socket = filepath.Join(dir, "gw.sock")
	}
	g := &Gateway{Netns: ns, Dir: dir, t: t, bin: bin,
		ConfigPath: filepath.Join(dir, "gw.toml"), LogPath: filepath.Join(dir, "gw.log"),
		exited: make(chan struct{})}
	if err := g.WriteConfig(cfg); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(g.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close() // the child has its own descriptor

	g.cmd = ns.Command(bin, "run", "-c", g.ConfigPath)
	g.cmd.Stdout, g.cmd.Stderr = logf, logf
	// If the test binary dies (panic, timeout), the gateway dies with it
	// rather than holding a core and a namespace.
	g.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := g.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", strings.Join(g.cmd.Args, " "), err)
	}
	go func() {
		g.cmd.Wait()
		close(g.exited)
	}()
	g.writePidfile()

	// Cleanups run last-registered first: stop, then show the log (which
	// then includes the shutdown), then the directory goes (registered above).
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("gateway config %s:\n%s\ngateway log %s (last %d lines):\n%s",
				g.ConfigPath, g.Config.TOML(), g.LogPath, logTailLines, g.LogTail(logTailLines))
		}
	})
	t.Cleanup(g.Stop)

	err = Poll(StartTimeout, "the control socket "+cfg.Socket, func() error {
		if g.Exited() {
			return nil
		}
		_, err := g.Cmd("link", "show", "--json")
		return err
	})
	if g.Exited() {
		g.stopped = true // nothing left to stop; the failure is reported here
		g.removeRuntime()
		t.Fatalf("gateway exited during start-up (%s); see its log below", g.cmd.ProcessState)
	}
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// WriteConfig writes c to the gateway's configuration file, where `gw
// reload` and SIGHUP read it, and makes it g.Config. A test changes the file
// by writing a changed copy of g.Config, which holds the file prefix and
// socket Start chose.
func (g *Gateway) WriteConfig(c Config) error {
	if err := os.WriteFile(g.ConfigPath, []byte(c.TOML()), 0o644); err != nil {
		return err
	}
	g.Config = c
	return nil
}

func (g *Gateway) writePidfile() {
	if err := os.MkdirAll(PidDir, 0o755); err != nil {
		g.t.Logf("harness: %v (stale-process sweep disabled for this gateway)", err)
		return
	}
	g.pidfile = filepath.Join(PidDir, fmt.Sprintf("%d-%d.pid", os.Getpid(), next()))
	rec := fmt.Sprintf("%d\n%s\n%s\n", g.cmd.Process.Pid, g.bin, g.ConfigPath)
	if err := os.WriteFile(g.pidfile, []byte(rec), 0o644); err != nil {
		g.t.Logf("harness: %v (stale-process sweep disabled for this gateway)", err)
		g.pidfile = ""
	}
}

// Pid is the gateway's process id.
func (g *Gateway) Pid() int { return g.cmd.Process.Pid }

// Exited reports whether the gateway process has ended.
func (g *Gateway) Exited() bool {
	select {
	case <-g.exited:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM and fails the test (the one that started the gateway)
// unless the gateway exits with status 0 within StopTimeout; see Terminate.
// Stop is idempotent; t.Cleanup calls it.
func (g *Gateway) Stop() {
	g.t.Helper()
	if err := g.Terminate(); err != nil {
		g.t.Error(err)
	}
}

// Terminate sends SIGTERM and waits for the gateway to exit. It returns an
// error unless the exit status is 0 within StopTimeout (the gateway is
// killed after that), or if the gateway had died before. Only the first call
// does anything; later calls return nil.
func (g *Gateway) Terminate() error {
	if g.stopped {
		return nil
	}
	g.stopped = true
	defer g.removeRuntime()
	if g.Exited() {
		return fmt.Errorf("gateway (pid %d) had exited before it was stopped: %s", g.Pid(), g.cmd.ProcessState)
	}
	if err := g.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("SIGTERM to gateway pid %d: %v", g.Pid(), err)
	}
	select {
	case <-g.exited:
	case <-time.After(StopTimeout):
		g.cmd.Process.Kill()
		<-g.exited
		return fmt.Errorf("gateway (pid %d) did not exit within %v of SIGTERM; killed it", g.Pid(), StopTimeout)
	}
	if st := g.cmd.ProcessState; st.ExitCode() != 0 {
		return fmt.Errorf("gateway (pid %d) stopped by SIGTERM: want exit status 0, got %s", g.Pid(), st)
	}
	return nil
}

// Kill ends the gateway with SIGKILL, as a crash or a power cut would (its
// taps and kernel interfaces vanish with it), and waits for it to exit.
// Stop does nothing afterwards.
func (g *Gateway) Kill() {
	g.t.Helper()
	if g.stopped {
		return
	}
	g.stopped = true
	defer g.removeRuntime()
	if err := g.cmd.Process.Kill(); err != nil && !g.Exited() {
		g.t.Errorf("SIGKILL to gateway pid %d: %v", g.Pid(), err)
	}
	<-g.exited
}

// removeRuntime removes the pid file and the DPDK runtime directory of an
// exited gateway.
func (g *Gateway) removeRuntime() {
	if g.pidfile != "" {
		os.Remove(g.pidfile)
	}
	if p := g.Config.FilePrefix; strings.HasPrefix(p, FilePrefix) {
		os.RemoveAll(filepath.Join(dpdkRunDir, p))
	}
}

// LogTail returns the last n lines of the gateway's log.
func (g *Gateway) LogTail(n int) string {
	b, err := os.ReadFile(g.LogPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.SplitAfter(string(b), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "")
}

// Cmd runs `bin/gw --sock SOCKET args...` (a client command, from the root
// namespace: the control socket is a path, reachable from any namespace) and
// returns its standard output. The error carries the exit status and the
// standard error.
func (g *Gateway) Cmd(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), ClientTimeout)
	defer cancel()
	c := exec.CommandContext(ctx, g.bin, append([]string{"--sock", g.Config.Socket}, args...)...)
	c.Env = append(os.Environ(), "FNGW_SOCK="+g.Config.Socket)
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	err := c.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("killed after %v", ClientTimeout)
	}
	if err != nil {
		return stdout.String(), &CmdError{Args: args, Err: err, Stderr: stderr.String()}
	}
	return stdout.String(), nil
}

// CmdError is a failed client command.
type CmdError struct {
	Args   []string
	Err    error // *exec.ExitError for a non-zero exit
	Stderr string
}

func (e *CmdError) Error() string {
	return fmt.Sprintf("gw %s: %v: %s", strings.Join(e.Args, " "), e.Err, strings.TrimSpace(e.Stderr))
}

func (e *CmdError) Unwrap() error { return e.Err }

// ExitCode is the command's exit status (-1 if it did not exit normally).
func (e *CmdError) ExitCode() int {
	var x *exec.ExitError
	if errors.As(e.Err, &x) {
		return x.ExitCode()
	}
	return -1
}

// MustCmd is Cmd that fails the test on error.
func (g *Gateway) MustCmd(args ...string) string {
	g.t.Helper()
	out, err := g.Cmd(args...)
	if err != nil {
		g.t.Fatal(err)
	}
	return out
}

// JSON runs a show command with --json (appended unless args has it) and
// decodes its output into v.
func (g *Gateway) JSON(v any, args ...string) error {
	if !slices.Contains(args, "--json") {
		args = append(slices.Clip(args), "--json")
	}
	out, err := g.Cmd(args...)
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		return fmt.Errorf("gw %s: decoding output as %T: %v; output:\n%s", strings.Join(args, " "), v, err, out)
	}
	return nil
}

// MustJSON is JSON that fails the test on error.
func (g *Gateway) MustJSON(v any, args ...string) {
	g.t.Helper()
	if err := g.JSON(v, args...); err != nil {
		g.t.Fatal(err)
	}
}

// LinkStats is one port of `gw link show -s --json`.
type LinkStats struct {
	Name      string `json:"dev"`
	MAC       string `json:"mac"`
	Up        bool   `json:"up"`
	RxPackets uint64 `json:"rx_packets"`
	TxPackets uint64 `json:"tx_packets"`
	RxBytes   uint64 `json:"rx_bytes"`
	TxBytes   uint64 `json:"tx_bytes"`
	Imissed   uint64 `json:"imissed"`
	Ierrors   uint64 `json:"ierrors"`
}

// Link returns the counters of port name.
func (g *Gateway) Link(name string) (LinkStats, error) {
	var ls []LinkStats
	if err := g.JSON(&ls, "link", "show", "-s", "--json"); err != nil {
		return LinkStats{}, err
	}
	for _, l := range ls {
		if l.Name == name {
			return l, nil
		}
	}
	return LinkStats{}, fmt.Errorf("gw link show -s --json: no port named %q in %+v", name, ls)
}

// MustLink is Link that fails the test on error.
func (g *Gateway) MustLink(name string) LinkStats {
	g.t.Helper()
	l, err := g.Link(name)
	if err != nil {
		g.t.Fatal(err)
	}
	return l
}

// WaitRxPackets waits until port has received exactly n packets, failing the
// test on timeout or if the count goes past n.
func (g *Gateway) WaitRxPackets(port string, n uint64, timeout time.Duration) {
	g.t.Helper()
	var over error
	err := Poll(timeout, fmt.Sprintf("rx_packets == %d on %s", n, port), func() error {
		l, err := g.Link(port)
		switch {
		case err != nil:
			return err
		case l.RxPackets > n:
			over = fmt.Errorf("port %s received %d packets, want %d", port, l.RxPackets, n)
			return nil
		case l.RxPackets < n:
			return fmt.Errorf("rx_packets %d", l.RxPackets)
		}
		return nil
	})
	if err == nil {
		err = over
	}
	if err != nil {
		g.t.Fatal(err)
	}
}

// NeighEntry is one entry of `gw ip neigh show --json`.
type NeighEntry struct {
	Addr   string `json:"addr"`
	LLAddr string `json:"lladdr"`
	Dev    string `json:"dev"`
	State  string `json:"state"`
}

// Neighs returns the gateway's neighbour table.
func (g *Gateway) Neighs() ([]NeighEntry, error) {
	var ns []NeighEntry
	err := g.JSON(&ns, "ip", "neigh", "show", "--json")
	return ns, err
}

// ConnEntry is one session of `gw adm -L -n -c --json`.
type ConnEntry struct {
	Proto   string `json:"proto"`
	Client  string `json:"source"`      // CIP:CPORT
	Virtual string `json:"virtual"`     // VIP:VPORT
	Local   string `json:"local"`       // LIP:LPORT (FULLNAT)
	Dest    string `json:"destination"` // RIP:RPORT
	State   string `json:"state"`
	Expires int    `json:"expires"` // seconds left
	Core    int    `json:"core"`    // the worker that owns it
}

// Conns returns the gateway's sessions.
func (g *Gateway) Conns() ([]ConnEntry, error) {
	var l struct {
		Conns []ConnEntry `json:"conns"`
	}
	err := g.JSON(&l, "adm", "-L", "-n", "-c", "--json")
	return l.Conns, err
}
