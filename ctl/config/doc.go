// Package config loads the gateway's TOML configuration file strictly and
// validates all of it, reporting every problem with its line and the
// offending value, and derives the DPDK EAL arguments and the initial
// control-plane state (a ctl.Config) from it.
//
// Keys (defaults in parentheses; tools outside generate the original ones,
// so their names are fixed):
//
//	idle_sleep_us = 0          # sleep after idle_polls empty polls in a row (0 = busy-poll always)
//	idle_polls = 64
//	[eal]     lcores (required: first = control, rest = workers), memory_mb (512),
//	          hugepages (false), file_prefix ("gw"), args ([])
//	[log]     level ("info": debug|info|warn|error)
//	[[port]]  name, device (vdev "net_tap0,iface=gw0" or PCI "0000:01:00.0"), queues (1),
//	          addrs (["198.18.1.1/24"]), rx_desc (1024), tx_desc (1024), mtu (1500),
//	          mac (NIC's own), promiscuous (false)
//	[[worker]] lcore, rx (["dpdk0:0", ...]); default: worker i polls queue i of every port
//	[[route]] prefix, via (optional: connected route), port (optional when via is on a subnet)
//	[[neigh]] addr, mac, port: static neighbours
//	[ctl]     socket ("/run/fngw/gw.sock"), metrics ("127.0.0.1:9180"; "" disables)
//	[session] capacity_per_core (1048576: a power of two from 1024 to 1<<26; 127 bytes per
//	          session on every worker, all committed at start), tcp_timeout (900), tcp_fin_timeout (120),
//	          udp_timeout (300), tcp_syn_recv_timeout (60)
//	[pool]    mbufs (sized from rings and caches), cache_size (256)
//	[[service]] proto, vip ("198.18.1.100:80"), sched ("wlc"), flags ([]), persistent (0 = off,
//	          else seconds), netmask, laddrs (["198.18.1.10 dev dpdk0"] or bare addresses)
//	          proxy_protocol ("v1"|"v2": a PROXY protocol header to FULLNAT real servers; UDP: "v2"),
//	          toa (false: the client's address in a TCP option instead),
//	          quorum (1), sorry_server ("ADDR[:PORT]"), alpha (false), notify_up, notify_down
//	[service.check] type (tcp|http|https|udp|dns|misc|none), port (the destination's), path ("/"),
//	          expect_status (any 2xx), expect_body_regex, digest, interval ("5s"), timeout (5s, at
//	          most interval), rise (1), fall (2), on_failure ("remove"|"inhibit"), source, payload,
//	          expect, name ("."), qtype ("SOA"), command
//	[[service.dest]] addr ("10.0.0.1[:8080]"), fwd (required: fullnat|masq|route|tunnel),
//	          weight (1), u_threshold (0), l_threshold (0)
//	[service.dest.check] the same keys: with a type, the destination's whole check; without,
//	          amendments of the service's check key by key
//
// Files:
//
//	file.go      the decoded (raw) and resolved (File) types, Load/Parse, Error/Errors, unknown keys.
//	validate.go  validation of every section, defaults, the worker mapping, EALArgs.
//	position.go  a line index of the TOML text (the toml package keeps key positions private).
//
// Only IPv4 is served now: IPv6 addresses are refused here (ctl.Served),
// though the model itself is family-neutral.
package config
