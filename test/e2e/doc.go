// Package e2e holds end-to-end tests of the real gw binary over DPDK's
// net_tap PMD with the real Linux stack on the other side. The gateway runs in
// its own network namespace; the tap interface it creates is then moved into a
// client namespace (`ip link set TAP netns NS`: the PMD keeps working after the
// move), where ordinary tools (ping, and later HTTP and UDP clients) talk to
// it. All traffic stays inside namespaces the test created. Run with
// `make e2e` (root, bin/gw built, one gateway at a time: go test -p 1; the
// gateway uses CPUs 0-1 with an idle back-off so the clients get CPU time).
//
// Files:
//
//	e2e_test.go  the namespace/tap set-up (tapClient) and TestPing: ARP and ping from a
//	             client, the neighbour table, port counters, static neighbours through
//	             the CLI, CLI errors, clean stop
package e2e
