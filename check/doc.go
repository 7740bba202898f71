// Package check runs the gateway's health checks, with keepalived's
// semantics: TCP_CHECK, HTTP_GET, SSL_GET, UDP_CHECK, DNS_CHECK and
// MISC_CHECK (types tcp, http, https, udp, dns, misc of ctl.Check), and the
// rise/fall state machine that turns their results into a destination's
// health. It is pure Go, needs no gateway and never touches the control
// plane's state: results go to a function the plane gives, which hands
// them to its own goroutine.
//
// Checks are ordinary kernel sockets of the gateway host (a misc check a
// process of it): they reach real servers through the kernel's routes, on
// a data port through its kernel interface ([[port]] kernel_iface).
//
//	ctl/plane ──Set/Remove(key, Target)──▶ Scheduler: timer heap ──due──▶ workers (bounded) ──Prober.Probe──▶ real server
//	                                                                          │
//	ctl/plane (its goroutine) ◀──job── report(key, Result) ◀───────────────────┘
//	          State.Observe: rise/fall → up/down → effective weight, notify scripts (Notifier)
//
// Files:
//
//	probe.go      Target, Result, Prober: tcp and http/https checks, failure reasons for people
//	udp.go        udp (payload, expected reply, ICMP port unreachable) and dns checks (x/net's dnsmessage)
//	misc.go       misc checks and the Notifier of notify_up/notify_down: commands split as keepalived
//	              splits them, no shell, the process group killed at the timeout
//	state.go      State: the rise/fall state machine, up/down, since, transitions, last result
//	scheduler.go  Scheduler: timer heap, bounded worker pool, jitter
package check
