package gateway

import (
	"fmt"
	"io"
	"runtime"

	"fngw/ctl"
)

// memStatus is `gw mem`: the mbuf pool and the control plane's Go heap, the
// figures a soak test or an operator watches for leaks.
type memStatus struct {
	Mbufs      int    `json:"mbufs"`        // pool size
	MbufsInUse int    `json:"mbufs_in_use"` // in rx/tx rings, rings between lcores, held by the stack, in flight
	MbufsAvail int    `json:"mbufs_available"`
	HeapBytes  uint64 `json:"go_heap_bytes"` // live Go heap (control plane; the datapath allocates nothing)
	Goroutines int    `json:"goroutines"`    // control socket clients, workers, control lcore...
}

// mem runs `mem [--json]`. rte_mempool's counts are read without stopping
// the lcores: in use counts the mbufs outside the pool and its per-lcore
// caches at the moment of the read.
func (g *Gateway) mem(args []string, w io.Writer) error {
	asJSON := false
	for _, a := range args {
		if a != "--json" {
			return &ctl.UsageError{Msg: fmt.Sprintf("mem: unknown argument %q; accepted: --json", a)}
		}
		asJSON = true
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st := memStatus{Mbufs: g.pool.InUse() + g.pool.Avail(), MbufsInUse: g.pool.InUse(), MbufsAvail: g.pool.Avail(),
		HeapBytes: ms.HeapAlloc, Goroutines: runtime.NumGoroutine()}
	if asJSON {
		return writeJSON(w, st)
	}
	fmt.Fprintf(w, "mbufs %d in use %d available %d\ngo heap %d bytes, %d goroutines\n",
		st.Mbufs, st.MbufsInUse, st.MbufsAvail, st.HeapBytes, st.Goroutines)
	return nil
}
