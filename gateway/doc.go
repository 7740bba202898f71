// Package gateway assembles a running fngw gateway from a configuration file:
// it initialises DPDK, sets up the mbuf pool and the ports, builds the
// datapath (lcore.Build: per-core NAT state, rings, workers, the control lcore
// and its user-space stack) and its control plane (package ctl/plane), serves
// the control socket and the metrics endpoint, runs the workers and the
// control lcore, and stops all of it cleanly on SIGTERM or SIGINT (SIGHUP
// reloads the configuration file).
//
// Everything here is assembly: what the gateway does with a command, a reload
// or a scrape is the control plane's; what it does with a packet is the
// datapath's (packages lcore, nat, sched, arp).
//
// Files:
//
//	main.go     `gw run`: load and validate the configuration, logging
//	gateway.go  start-up and shutdown: EAL, pool, ports, datapath, control
//	            plane, endpoints, workers, signals
//	host.go     what the control plane asks of DPDK: ports (link show, port
//	            counters) and the mbuf pool's use
//	metrics.go  the Prometheus endpoint over the control plane's collector
//	stress.go   FNGW_STRESS_FORCE_GC, the perf lab's switch that forces
//	            collections (its stress-1k scenario only)
package gateway
