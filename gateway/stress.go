package gateway

import (
	"fmt"
	"os"
	"runtime"
	"time"
)

// StressGCEnv names a debug switch that exists for the perf lab's
// stress-1k scenario only (perf/README.md): set to a duration ("100ms"),
// the gateway forces a garbage collection (runtime.GC) that often, from a
// goroutine of its own, for as long as it runs, so that the lab can
// measure what the collector's pauses cost the workers. It is an
// environment variable, not a setting: no configuration file can turn it
// on, and the gateway logs a warning when it is set.
const StressGCEnv = "FNGW_STRESS_FORCE_GC"

// stressGCInterval reads StressGCEnv: 0 when it is unset.
func stressGCInterval() (time.Duration, error) {
	v := os.Getenv(StressGCEnv)
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive duration such as 100ms (a perf-lab switch; unset it)", StressGCEnv, v)
	}
	return d, nil
}

// forceGC runs runtime.GC every interval until stop is closed.
func forceGC(every time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			runtime.GC()
		}
	}
}
