package harness

import (
	"fmt"
	"testing"
	"time"
)

// Poll calls cond until it returns nil or timeout passes, starting at a short
// interval and backing off to 200ms. It returns nil when the condition held,
// or an error naming what was awaited and cond's last complaint.
func Poll(timeout time.Duration, what string, cond func() error) error {
	deadline := time.Now().Add(timeout)
	interval := 10 * time.Millisecond
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v waiting for %s: %w", timeout, what, err)
		}
		time.Sleep(interval)
		interval = min(2*interval, 200*time.Millisecond)
	}
}

// Eventually is Poll that fails the test on timeout.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	if err := Poll(timeout, what, cond); err != nil {
		t.Fatal(err)
	}
}
