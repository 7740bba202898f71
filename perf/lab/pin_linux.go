package lab

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// PinRunner confines the runner to cpu, every thread of it, so that what it
// starts inherits the confinement: the `gw stats` calls it makes while the
// gateway works (many per second in the new-sessions pass), perf. Without
// it they run wherever the scheduler puts them, the worker's CPU included,
// and take their start-up and page faults out of the gateway's figure, which
// testpmd, read over its stdin, never pays. The forwarders themselves are
// started with the CPUs the runner had (forwarder), since the gateway sizes
// its Go runtime by its CPU mask and pins its own threads.
func PinRunner(cpu int) error {
	var all, one unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil {
		return fmt.Errorf("sched_getaffinity: %w", err)
	}
	one.Set(cpu)
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		// A thread that has exited since the listing is not an error.
		if err := unix.SchedSetaffinity(tid, &one); err != nil && err != unix.ESRCH {
			return fmt.Errorf("pin thread %d to CPU %d: %w", tid, cpu, err)
		}
	}
	forwarderCPUs = cpuList(&all)
	return nil
}

// cpuList is s as taskset's -c list.
func cpuList(s *unix.CPUSet) string {
	var l string
	for c := range len(s) * 64 {
		if s.IsSet(c) {
			if l != "" {
				l += ","
			}
			l += strconv.Itoa(c)
		}
	}
	return l
}
