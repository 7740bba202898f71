package lab

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Testpmd runs dpdk-testpmd as the reference forwarder: interactive, fed
// commands on standard input, its port counters read with
// `show port stats all` at both ends of the measurement window. It runs
// perf/cref, which speaks the same commands, the same way.
type Testpmd struct {
	Path       string // dpdk-testpmd
	Lcores     string // EAL -l, e.g. "0,1": the first is the main lcore, the second forwards
	MemoryMB   int
	Hugepages  bool
	FilePrefix string
	Device     string // --vdev string (or -a PCI address when it has a ':')
	Mbufs      int    // --total-num-mbufs
	Mode       string // --forward-mode, default macswap
	Log        io.Writer
	// AppArgs, when set, replace testpmd's application arguments: for a
	// forwarder that speaks testpmd's commands with other options (cref).
	AppArgs []string
	// Prompt is the forwarder's prompt (default "testpmd> ").
	Prompt string
}

// TestpmdModes are the testpmd forward modes that send back each packet
// they receive (so that their rate compares with the gateway's), from the
// least work per packet to the most: io forwards as is, mac sets the MACs,
// macswap swaps them, 5tswap parses and swaps the Ethernet, IPv4/IPv6 and
// TCP/UDP addresses, csum parses and computes the IP and L4 checksums.
var TestpmdModes = []string{"io", "mac", "macswap", "5tswap", "csum"}

// IsTestpmdMode reports whether m is one of TestpmdModes.
func IsTestpmdMode(m string) bool { return slices.Contains(TestpmdModes, m) }

// testpmdStats is one `show port stats` block.
type testpmdStats struct {
	rx, tx, missed uint64
	rxPPS          float64
}

var (
	reRxPackets = regexp.MustCompile(`RX-packets:\s+(\d+)\s+RX-missed:\s+(\d+)`)
	reTxPackets = regexp.MustCompile(`TX-packets:\s+(\d+)\s+TX-errors`)
	reRxPPS     = regexp.MustCompile(`Rx-pps:\s+(\d+)`)
)

const defaultPrompt = "testpmd> "

// parseTestpmdStats returns every NIC statistics block in out, in order.
func parseTestpmdStats(out string) []testpmdStats {
	var list []testpmdStats
	for _, blk := range strings.Split(out, "NIC statistics for port")[1:] {
		var s testpmdStats
		m := reRxPackets.FindStringSubmatch(blk)
		t := reTxPackets.FindStringSubmatch(blk)
		if m == nil || t == nil {
			continue
		}
		s.rx, _ = strconv.ParseUint(m[1], 10, 64)
		s.missed, _ = strconv.ParseUint(m[2], 10, 64)
		s.tx, _ = strconv.ParseUint(t[1], 10, 64)
		if p := reRxPPS.FindStringSubmatch(blk); p != nil {
			s.rxPPS, _ = strconv.ParseFloat(p[1], 64)
		}
		list = append(list, s)
	}
	return list
}

// args is testpmd's command line.
func (t *Testpmd) args() []string {
	a := []string{"-l", t.Lcores, "--file-prefix", t.FilePrefix, "--log-level", "*:warning"}
	if t.Hugepages {
		// No hugepage files left behind, even when the run is killed.
		a = append(a, "-m", strconv.Itoa(t.MemoryMB), "--huge-unlink")
	} else {
		a = append(a, "--no-huge", "-m", strconv.Itoa(t.MemoryMB))
	}
	if strings.Contains(t.Device, ":") && !strings.HasPrefix(t.Device, "net_") {
		a = append(a, "-a", t.Device)
	} else {
		a = append(a, "--no-pci", "--vdev", t.Device)
	}
	if t.AppArgs != nil {
		return append(append(a, "--"), t.AppArgs...)
	}
	mode := t.Mode
	if mode == "" {
		mode = "macswap"
	}
	a = append(a, "--", "-i", "--forward-mode="+mode, "--burst=32", "--mbcache=256")
	if t.Mbufs > 0 {
		a = append(a, "--total-num-mbufs="+strconv.Itoa(t.Mbufs))
	}
	return a
}

// Measure starts testpmd, starts forwarding, waits warmup, and measures the
// port's counters over window. The returned Run has the rates and the noise
// figures of the window filled in.
func (t *Testpmd) Measure(ctx context.Context, warmup, window time.Duration) (*Run, error) {
	name, args := t.Path, t.args()
	if sb, err := exec.LookPath("stdbuf"); err == nil {
		// Line-buffered stdout, so that output arrives as it is printed.
		name, args = sb, append([]string{"-oL", t.Path}, args...)
	}
	name, args = forwarder(name, args...)
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	var mu sync.Mutex
	var out bytes.Buffer
	promptText := t.Prompt
	if promptText == "" {
		promptText = defaultPrompt
	}
	me := filepath.Base(t.Path)
	prompt := make(chan struct{}, 64)
	go func() {
		r := bufio.NewReader(pr)
		buf := make([]byte, 4096)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				mu.Lock()
				from := max(out.Len()-len(promptText), 0)
				out.Write(buf[:n])
				if bytes.Contains(out.Bytes()[from:], []byte(promptText)) {
					select {
					case prompt <- struct{}{}:
					default:
					}
				}
				mu.Unlock()
			}
			if err != nil {
				return
			}
		}
	}()
	started := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", t.Path, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); pw.Close() }()
	output := func() string {
		mu.Lock()
		defer mu.Unlock()
		return out.String()
	}
	fail := func(err error) (*Run, error) {
		_ = cmd.Process.Kill()
		<-exited
		return nil, fmt.Errorf("%w\n%s", err, tail(output(), 15))
	}
	select {
	case <-prompt:
	case err := <-exited:
		return nil, fmt.Errorf("%s exited before its prompt (%v):\n%s", me, err, tail(output(), 15))
	case <-time.After(3 * time.Minute):
		return fail(fmt.Errorf("%s gave no prompt within 3 minutes", me))
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	run := &Run{Impl: "testpmd", StartupS: time.Since(started).Seconds()}
	send := func(s string) error {
		_, err := io.WriteString(stdin, s+"\n")
		return err
	}
	if err := send("start"); err != nil {
		return fail(err)
	}
	if err := sleepCtx(ctx, warmup); err != nil {
		return fail(err)
	}
	pid := cmd.Process.Pid
	c0 := snapCPU(pid)
	if err := send("show port stats all"); err != nil {
		return fail(err)
	}
	if err := sleepCtx(ctx, window); err != nil {
		return fail(err)
	}
	c1 := snapCPU(pid)
	if err := send("show port stats all"); err != nil {
		return fail(err)
	}
	_ = send("stop")
	_ = send("quit")
	stdin.Close()
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		return fail(fmt.Errorf("%s did not quit", me))
	}
	st := parseTestpmdStats(output())
	if len(st) < 2 {
		return nil, fmt.Errorf("%s printed %d port statistics blocks, want 2:\n%s", me, len(st), tail(output(), 25))
	}
	a, b := st[len(st)-2], st[len(st)-1]
	run.fill(c0, c1, b.rx-a.rx, b.tx-a.tx, b.missed-a.missed)
	if run.TxPkts < run.RxPkts-run.RxPkts/1000 {
		// A forwarder that drops is not the yardstick it should be (cref
		// out of local ports, say): its rate must not pass unnoticed.
		run.Notes = append(run.Notes, fmt.Sprintf("forwarded %d of %d packets received in the window", run.TxPkts, run.RxPkts))
	}
	run.OwnPPS = b.rxPPS
	return run, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
