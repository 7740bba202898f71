//go:build !linux

package lab

import "errors"

// PinRunner is Linux-only (sched_setaffinity).
func PinRunner(int) error { return errors.New("pinning the runner needs Linux") }
