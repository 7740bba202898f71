package gateway

import (
	"testing"
	"time"
)

// TestStressGCInterval: the perf lab's switch is off unless set, takes a
// positive duration, and a bad value is an error that names the variable.
func TestStressGCInterval(t *testing.T) {
	for _, c := range []struct {
		v    string
		want time.Duration
		bad  bool
	}{
		{"", 0, false}, {"100ms", 100 * time.Millisecond, false}, {"0s", 0, true}, {"-1s", 0, true}, {"often", 0, true},
	} {
		t.Setenv(StressGCEnv, c.v)
		d, err := stressGCInterval()
		if d != c.want || (err != nil) != c.bad {
			t.Errorf("%s=%q: %v, %v", StressGCEnv, c.v, d, err)
		}
	}
}
