// Package kernel keeps the kernel's configuration of the gateway's kernel
// interfaces — one per port that has one, a net_tap or virtio_user device
// the PMD creates with the port's MAC and MTU — in step with the gateway,
// both ways, over netlink, so that unmodified daemons on the gateway host
// (an operator's ip, keepalived, BIRD, FRR) work on the data ports.
//
//	gateway ──SetAddrs──▶ its interface addresses on the kernel interfaces
//	        ──SetRoutes─▶ its routes, protocol 196 (Protocol), main table
//	        ──SetLink───▶ up/down with the data port's link, MTU
//	        ◀──Notify──── State: the addresses and routes others put there
//	                          (keepalived's VIPs, static and BIRD/FRR routes)
//
// Sync follows the kernel through address, route and link events, read
// once in full at Open and again whenever events were lost (the socket
// overflowed) or the kernel changed routes without an event (it drops the
// routes through an interface that goes down or an address that goes away,
// silently). Events are gathered for a window of 30 ms from the first one;
// then Sync puts back what is the gateway's and, if the State changed,
// calls Notify once. So a change by someone else is reported within about
// 30 ms; nothing polls.
//
// Ownership. What SetAddrs set is the gateway's, and the gateway's
// configuration wins for it: an address of the gateway an operator removes
// from the kernel interface is put back within a window, and never
// reported. Every other IPv4 address on the interfaces is learned and
// reported (IPv6 is ignored, link-local included). Routes of protocol 196
// on the mirrored interfaces are the gateway's: SetRoutes makes them exactly
// what it was given (adding, replacing, deleting) and puts them back when
// the kernel dropped them. Naming the protocol for ip route takes one line
// in /etc/iproute2/rt_protos:
//
//	196 fngw
//
// Routes of every other protocol but the kernel's own connected routes are
// learned. A prefix that is both the gateway's and learned (BIRD announces a
// prefix the operator also configured) is reported as learned all the same:
// this package reports both sides faithfully, and which one the gateway
// uses is its policy (configured wins, as static over dynamic). The
// gateway's routes go in at metric 0, so the kernel makes the same choice
// over a daemon's (BIRD uses 32, FRR 20); a static route of someone else at
// metric 0 holds the prefix until it is removed (SetRoutes says so).
//
// Concurrency. A Sync has one goroutine that owns its state; its methods
// hand it their work and wait, so they may be called from any goroutine.
// Notify is called on that goroutine and must not block.
//
// Files:
//
//	kernel.go   Link, Addr, NextHop, Route, State, Options; Protocol
//	sync.go     Sync: Open, SetAddrs, SetRoutes, SetLink, Up, Close; the event
//	            loop, the coalescing window, dumps
//	events.go   the netlink subscriptions, and replacing one that lost events
//	mirror.go   what the kernel holds, kept as the FIB keeps it (routes by
//	            prefix, TOS and metric); the learned State from it
//	apply.go    putting the gateway's addresses and routes in the kernel;
//	            arp_ignore, arp_announce, promote_secondaries over netlink
//
// Tests (sync_test.go) run as root, each in a network namespace of its own
// with veth interfaces standing in for the PMD's, and skip otherwise; they
// time the reports against the 100 ms promise. mirror_test.go checks the
// FIB's add, replace, append and delete rules without a kernel, and
// BenchmarkLearned what building a State costs (about 4 ms for 10 000
// routes here).
package kernel
