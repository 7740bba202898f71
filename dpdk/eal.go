package dpdk

/*
#include "fngw_dpdk.h"
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// Init initialises the EAL with args (args[0] is the program name). It must be
// called from an OS thread locked with runtime.LockOSThread that stays locked: that
// thread becomes the EAL main lcore and its CPU affinity is set by the EAL.
func Init(args []string) error {
	argv := make([]*C.char, len(args))
	for i, a := range args {
		argv[i] = C.CString(a)
	}
	// The EAL keeps pointers into argv; the strings are deliberately never freed.
	cargv := (**C.char)(C.malloc(C.size_t(len(args)) * C.size_t(unsafe.Sizeof(uintptr(0)))))
	copy(unsafe.Slice(cargv, len(args)), argv)
	if rc := C.rte_eal_init(C.int(len(args)), cargv); rc < 0 {
		return fmt.Errorf("EAL init failed (args %q): %s", args, C.GoString(C.rte_strerror(C.fngw_errno())))
	}
	return nil
}

// Cleanup releases EAL resources. No DPDK call may follow it.
func Cleanup() error {
	return errno("rte_eal_cleanup", C.rte_eal_cleanup())
}

// ThreadRegister makes the calling OS thread (a goroutine locked with
// runtime.LockOSThread, pinned first) a DPDK lcore so that it gets an lcore id and
// per-lcore mempool caches. It returns that lcore id.
func ThreadRegister() (int, error) {
	if rc := C.rte_thread_register(); rc < 0 {
		return -1, errno("rte_thread_register", -1)
	}
	return int(C.rte_lcore_id()), nil
}

// ThreadUnregister undoes ThreadRegister for the calling thread.
func ThreadUnregister() { C.rte_thread_unregister() }

// SocketID is the NUMA socket of the calling lcore (SOCKET_ID_ANY when unknown).
func SocketID() int { return int(C.rte_socket_id()) }
