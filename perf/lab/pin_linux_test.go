package lab

import (
	"os"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestCPUList(t *testing.T) {
	var s unix.CPUSet
	for _, c := range []int{0, 1, 5, 64} {
		s.Set(c)
	}
	if got := cpuList(&s); got != "0,1,5,64" {
		t.Errorf("cpuList = %q, want 0,1,5,64", got)
	}
}

// TestWorkerThread: a busy thread pinned to one CPU is found as the
// worker thread, and its schedstat counts it running.
func TestWorkerThread(t *testing.T) {
	var all unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil || all.Count() < 2 {
		t.Skip("needs two CPUs")
	}
	cpu := 0
	for !all.IsSet(cpu) {
		cpu++
	}
	found := make(chan int)
	stop := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var one unix.CPUSet
		one.Set(cpu)
		if err := unix.SchedSetaffinity(0, &one); err != nil {
			found <- -1
			return
		}
		found <- unix.Gettid()
		for {
			select {
			case <-stop:
				unix.SchedSetaffinity(0, &all)
				return
			default:
			}
		}
	}()
	tid := <-found
	defer close(stop)
	if tid < 0 {
		t.Skip("cannot pin a thread")
	}
	time.Sleep(50 * time.Millisecond)
	got, err := workerThread(os.Getpid(), cpu)
	if err != nil || got != tid {
		t.Fatalf("workerThread = %d, %v; want %d", got, err, tid)
	}
	run, _, err := schedstat(os.Getpid(), tid)
	if err != nil || run == 0 {
		t.Errorf("schedstat: run %d ns, %v", run, err)
	}
	if _, err := workerThread(os.Getpid(), 1000); err == nil {
		t.Error("a worker thread on CPU 1000")
	}
}
