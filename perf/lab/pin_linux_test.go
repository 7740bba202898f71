package lab

import (
	"testing"

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
