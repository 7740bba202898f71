// Package plane is the gateway's control plane, in pure Go: one Plane owns
// the running configuration (ctl.Config: services, destinations, local
// addresses, timeouts, the stack's addresses, routes and static neighbours),
// the small stable IDs the datapath counts under, the schedulers, the rate
// estimators and the -Z offsets. It runs commands (ctl.Command, as the
// client parsed them), reloads the configuration file, publishes what the
// workers need as immutable snapshots, and answers listings, status commands
// and metrics scrapes.
//
// It drives a datapath built by lcore.Build — the same in the gateway, in
// benchmarks and in this package's tests, which run it over the dpdktest
// double — and asks the process that assembled DPDK only for what DPDK alone
// knows (Host: ports, the mbuf pool).
//
//	socket request ──Handle──▶ job on the control lcore ──dispatch──▶ Config.Apply ──apply───┐
//	SIGHUP ──Reload──▶ job ──reload: config.Load, ctl.Merge──▶ Config ──────────────apply───┤
//	check results ──checked──▶ job (a batch) ──takeResults: rise/fall──▶ publish ───────────┤
//	                                                                                        ▼
//	      services(): nat.Services + sched.Service per service ──atomic store──▶ workers (next burst)
//	      syncStack(): addresses, routes, neighbours ──▶ arp.Stack (owned by the control lcore)
//
// Health is state, not configuration: the configured weight stays as the
// operator wrote it, and the schedulers, ipvsadm -L and the metrics take
// the effective weight, 0 while a destination is down (health.go).
//
// Ownership: every method that reads or changes the Plane's state runs on the
// control lcore's goroutine, as a job (Handle, Reload, health-check
// results) or a tick (the estimators, every two seconds); the stack has that
// goroutine as its single writer. Workers never wait for the plane: they load the published snapshot
// once per burst. What must be read on a worker's thread (its session table,
// for -L -c) is read by a function the plane hands to that worker
// (Worker.Exec), between two of its bursts.
//
// Files:
//
//	plane.go    Plane, New, Start, Handle, Reload; command dispatch
//	apply.go    apply (all or nothing), the stack's owned addresses, reload,
//	            gratuitous ARP, the local-address idle check
//	publish.go  the service snapshot and schedulers from a Config; stable IDs
//	stats.go    estimators and -Z, the tables listings show, per-core status,
//	            the connection listing, neighbour and route listings
//	metrics.go  the Prometheus collector (summed at scrape time), the
//	            reload outcome it reports
//	pauses.go   the workers' poll gaps (gw stats, --reset-gaps, the metrics'
//	            histograms) and the Go runtime's pause histograms
//	health.go   health checks: the checks run (package check) for the
//	            configuration, their results taken on the control goroutine,
//	            a destination's health and effective weight, quorum and the
//	            sorry server, what -L and gw check show list
package plane
