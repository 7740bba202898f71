package ctl

import (
	"testing"
	"time"
)

func TestGatewayHealthProblem(t *testing.T) {
	kgw := func(up bool) *KernelHealth { return &KernelHealth{Dev: "kgw0", Up: up} }
	healthy := GatewayHealth{
		Workers: []WorkerHealth{{Core: 0, SinceTurn: 80 * time.Microsecond}, {Core: 1, SinceTurn: 3 * time.Millisecond}},
		Ports:   []PortHealth{{Dev: "dpdk0", Up: true, Kernel: kgw(true)}, {Dev: "dpdk1", Up: true}},
	}
	for _, tc := range []struct {
		name     string
		edit     func(*GatewayHealth)
		maxStall time.Duration
		want     string
	}{
		{"healthy", func(*GatewayHealth) {}, time.Second, ""},
		{"at the limit", func(*GatewayHealth) {}, 3 * time.Millisecond, ""},
		{"worker stalled", func(h *GatewayHealth) { h.Workers[1].SinceTurn = 2500 * time.Millisecond }, time.Second,
			"worker 1 stalled: last turn 2.5s ago (--max-stall 1s)"},
		{"no worker", func(h *GatewayHealth) { h.Workers = nil }, time.Second, "no worker lcore"},
		{"port down", func(h *GatewayHealth) { h.Ports[1].Up = false }, time.Second, "port dpdk1 is down"},
		{"kernel interface down", func(h *GatewayHealth) { h.Ports[0].Kernel = kgw(false) }, time.Second,
			"kernel interface kgw0 of port dpdk0 is down"},
		{"stall reported first", func(h *GatewayHealth) { h.Ports[0].Up = false; h.Workers[0].SinceTurn = time.Minute }, time.Second,
			"worker 0 stalled: last turn 1m0s ago (--max-stall 1s)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := healthy
			h.Workers = append([]WorkerHealth(nil), healthy.Workers...)
			h.Ports = append([]PortHealth(nil), healthy.Ports...)
			tc.edit(&h)
			if got := h.Problem(tc.maxStall); got != tc.want {
				t.Errorf("Problem(%v) = %q, want %q", tc.maxStall, got, tc.want)
			}
		})
	}
	if got, want := healthy.String(), "2 workers turning (last turn at most 3ms ago), ports up: dpdk0 (kgw0), dpdk1"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
