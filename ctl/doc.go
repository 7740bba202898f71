// Package ctl is the gateway's control-plane model and its ipvsadm-compatible
// face: the public model of services, destinations and the user-space stack,
// the desired-state Config with its operations and Merge, the client command
// line (ipvsadm's and DPVS's laddr commands, the stack's, the gateway's own),
// listings byte-for-byte like ipvsadm's and the gateway's status listings,
// save/restore, and the LVS rate estimator. It is pure Go, does no I/O of its
// own and is never imported by the packet path (lcore, nat, sched, arp).
//
//	argv ──ParseCommandLine──▶ Command ──(ctl/socket, JSON)──▶ ctl/plane ──▶ snapshots for the datapath
//	restore file ──ReadRestore──▶ []Command ──Config.ApplyBatch──▶ Config
//	TOML file ──(ctl/config)──▶ Config ──Merge(old file, new file, running)──▶ Config (a reload)
//	Config + counters ──Config.Table──▶ Table ──Render/WriteList/WriteSave──▶ ipvsadm text or JSON
//	datapath counters ──(ctl/plane)──▶ Link, CoreStatus, ... ──WriteLinks, WriteCores, ...──▶ text or JSON
//
// Files:
//
//	model.go      Proto, FwdMode, TunType, Service, ServiceKey, Dest, LocalAddr, Timeouts; scheduler
//	              names and flags; validation with ipvsadm's and the kernel's rules; error classes
//	              (ErrNoService apart from other ErrNotFound, as ipvsadm words them apart).
//	text.go       canonical text forms and their parsers ("198.18.1.100:80/tcp", "tcp 198.18.1.100:80 wlc").
//	stack.go      MAC, Addr, Route, Neigh (the user-space stack's objects) with text forms.
//	check.go      Check, Health: a destination's health check and a service's health settings
//	              (quorum, sorry server, alpha, notify scripts), comparable, validated key by key.
//	config.go     Config: the whole desired state, kept sorted; Add/Edit/Del operations, all-or-nothing.
//	command.go    Op, Command (JSON over the control socket), ListOptions, Config.Apply/ApplyBatch,
//	              Command.Args (renders a command back to arguments).
//	cmdline.go    ParseCommandLine: the client's one parse of a gw command line; the gateway's own ops.
//	args.go       ParseArgs: ipvsadm 1.31's command line (popt rules, commands_v_options table, defaults);
//	              ParseArgsWith: host and service names too, through a Resolver the client provides.
//	stackargs.go  ParseStackArgs: "addr|route|neigh add|del|show" in iproute2 style.
//	usage.go      -h and -v texts.
//	merge.go      Merge: a reload's three-way merge and its report; Overlay: a saved state restored at start.
//	conflict.go   CheckConflicts: objects that can only be a mistake together.
//	stats.go      Counters, Rates, Stats, the ip_vs_est.c Estimator, Table (what listings show), Conn.
//	format.go     Render, WriteList, WriteLaddrs: ipvsadm's print_* functions and JSON.
//	save.go       WriteSave (ipvsadm -S, lossless) and ReadRestore (ipvsadm -R input).
//	status.go     Link, CoreStatus, MemStatus, NeighStatus, RouteStatus, AddrStatus and their
//	              listings (gw link show, gw stats, gw mem, gw ip neigh|route|addr show);
//	              GatewayHealth and its verdict (gw health).
//
// Subpackages: config loads and validates the daemon's TOML file; socket
// carries commands between client and daemon; plane is the control plane
// that runs them; client is the gw command line.
//
// Ownership: a Config belongs to one goroutine, the control plane's (the
// control lcore's); nothing here locks.
package ctl
