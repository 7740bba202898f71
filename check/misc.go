package check

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"fngw/ctl"
)

// misc runs command (MISC_CHECK's misc_path, split as keepalived splits
// it; no shell) until it exits or ctx ends: exit status 0 is a success.
// At ctx's end the command's whole process group is killed, so that a
// script's children do not outlive its check.
func misc(ctx context.Context, command string, env []string) error {
	args := ctl.SplitCommand(command)
	if len(args) == 0 || args[0] == "" {
		return failure("no command")
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = env // nil: the gateway's environment
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second // output pipes a grandchild holds open
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		msg := ee.String() // "exit status 2", "signal: killed"
		if line, _, _ := strings.Cut(strings.TrimSpace(stderr.String()), "\n"); line != "" {
			msg += ": " + truncate(line, 120)
		}
		return failure(msg)
	}
	return err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Notifier runs notify scripts (keepalived's notify_up and notify_down) in
// the background: at most Parallel at once, at most Queue waiting, each
// killed (with its process group) after Timeout. A script that finds the
// queue full is not run, and logged.
type Notifier struct {
	log     *slog.Logger
	timeout time.Duration
	queue   chan notification
	stop    chan struct{}
}

type notification struct {
	command string
	env     []string
}

// NotifierConfig sizes a Notifier.
type NotifierConfig struct {
	Parallel, Queue int
	Timeout         time.Duration
	Log             *slog.Logger
}

// NewNotifier starts a Notifier; Close stops it.
func NewNotifier(c NotifierConfig) *Notifier {
	n := &Notifier{log: c.Log, timeout: c.Timeout, queue: make(chan notification, c.Queue), stop: make(chan struct{})}
	for range max(c.Parallel, 1) {
		go n.run()
	}
	return n
}

// Notify queues command with env added to the gateway's environment.
func (n *Notifier) Notify(command string, env []string) {
	select {
	case n.queue <- notification{command, env}:
	default:
		n.log.Warn("health check: notify script not run: too many waiting", "command", command)
	}
}

// Close stops the runners once the scripts running have ended; queued
// ones are not run.
func (n *Notifier) Close() { close(n.stop) }

func (n *Notifier) run() {
	for {
		select {
		case <-n.stop:
			return
		case x := <-n.queue:
			ctx, cancel := context.WithTimeout(context.Background(), n.timeout)
			err := misc(ctx, x.command, append(os.Environ(), x.env...))
			cancel()
			if err != nil {
				n.log.Warn("health check: notify script failed", "command", x.command, "err", reason(err, ctx, n.timeout))
			}
		}
	}
}
