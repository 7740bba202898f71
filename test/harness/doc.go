// Package harness is the shared test code for the tests that drive the real
// gw binary over DPDK virtual devices (test/pcap over net_pcap, test/e2e over
// net_tap in network namespaces). It is test code: it uses gopacket freely and
// calls t.Fatal; nothing outside test/ imports it.
//
// Every test that uses it starts with Prepare(t): the tests need root (network
// namespaces, tap devices, DPDK), and the first call in a process sweeps what a
// crashed earlier run left behind. Everything a test creates is named with the
// creating process's pid (namespaces "fngwt-PID-N-label", interfaces
// "fgtPIDHEX-N", DPDK file prefixes "fngwt-PID-N", pid files under
// /run/fngwt), so a sweep touches only leftovers whose creator is dead and never
// a concurrent run's.
//
// Files:
//
//	root.go     module root, the gw binary, Prepare (root check + one-time sweep),
//	            unique names, short temporary directories (TempDir), the stale sweep
//	            (namespaces, processes, DPDK runtime dirs)
//	wait.go     Poll and Eventually: condition polling with deadlines (no bare sleeps)
//	netns.go    Netns: create/delete namespaces, run commands inside, move links,
//	            addresses, routes, MACs, veth pairs, IPv6 off
//	config.go   Config: the gateway's TOML configuration (ports, routes, neighbours,
//	            session and pool settings, services with their destinations and local
//	            addresses), written by the harness
//	gateway.go  Gateway: start `gw run -c` (optionally in a namespace), wait for the
//	            control socket, rewrite the configuration file for a reload
//	            (WriteConfig), run client commands (Cmd, JSON), Stop with exit status
//	            0 asserted, log shown on failure; link, neighbour and session JSON shapes
//	pcap.go     classic pcap files (Ethernet link type): write frames, read them back,
//	            tolerate a file still being written
//	packet.go   frame builders (ARP, ICMP echo and errors, TCP, UDP) with correct
//	            checksums and Ethernet minimum padding (serialized by test/pkttest),
//	            field edits, deliberate corruptions
//	raw.go      Netns.Do: run Go code inside a namespace (sockets made there stay
//	            there); PacketSocket: an AF_PACKET socket on a link inside a namespace,
//	            to put crafted frames on a live interface a gateway port reads
//	check.go    composable checks of frames decoded by test/pkttest (Check, Expect),
//	            an independent checksum verifier for IPv4/TCP/UDP/ICMP
package harness
