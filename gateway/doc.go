// Package gateway assembles a running fngw gateway from a configuration file:
// it initialises DPDK, sets up the mbuf pool and the ports, builds the per-core
// datapath state (package nat) and the user-space stack (package arp), starts the
// worker lcores and runs the control lcore, the control socket and the metrics
// endpoint, and stops all of it cleanly on SIGTERM or SIGINT.
//
// The control lcore's goroutine is the single owner of all mutable control state
// (the desired configuration, the stack, the ID tables). Control-socket requests
// and reloads are executed as jobs on that goroutine; every change is published to
// the workers as a new immutable lcore.State, which they pick up on their next
// burst, so reconfiguration never pauses forwarding.
//
// Files:
//
//	main.go     `gw run` entry, local (daemon-less) commands, logging
//	gateway.go  start-up and shutdown: EAL, pool, ports, rings, workers (each
//	            core's session table is allocated and committed here), servers
//	command.go  control-socket commands: adm (ipvsadm), ip, link, stats, mem, reload
//	stack.go    owned addresses, applying a configuration to the stack, gratuitous
//	            ARP, reload, route and neighbour listings
//	stats.go    rate estimators and -Z offsets, the tables ipvsadm listings show,
//	            per-core status, the connection listing (-c)
//	mem.go      `gw mem`: the mbuf pool's use, the Go heap, goroutines
//	publish.go  building the datapath snapshots from the configuration; stable IDs
//	metrics.go  the Prometheus collector (summed at scrape time)
package gateway
