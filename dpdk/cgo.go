package dpdk

/*
#cgo pkg-config: libdpdk
#include "fngw_dpdk.h"
*/
import "C"

import (
	"fmt"
	"syscall"
)

// errno turns a negative DPDK return code (or rte_errno when rc is -1 and errno
// is set there) into an error naming the operation.
func errno(op string, rc C.int) error {
	if rc >= 0 {
		return nil
	}
	e := -rc
	if rc == -1 {
		if re := C.fngw_errno(); re > 0 {
			e = re
		}
	}
	return fmt.Errorf("%s: %s (%d)", op, C.GoString(C.rte_strerror(e)), syscall.Errno(e))
}
