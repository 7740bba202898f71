// Package e2e holds end-to-end tests of the real gw binary over DPDK's
// net_tap PMD with the real Linux stack on the other side. The gateway runs in
// its own network namespace; the tap interface it creates is then moved into a
// client namespace (`ip link set TAP netns NS`: the PMD keeps working after the
// move), where ordinary tools and real servers talk to it: ping, and
// e2epeer (cmd/e2epeer, built by the tests with go build): HTTP and UDP echo
// servers that record their peers, and HTTP, download, UDP and
// hold-a-connection clients. All traffic stays inside namespaces the test created. Run with
// `make e2e` (root, bin/gw built, one gateway at a time: go test -p 1; the
// gateway uses CPUs 0-1 with an idle back-off so the clients get CPU time).
//
// Files:
//
//	e2e_test.go      the namespace/tap set-up (startTapClient) and TestPing: ARP and ping
//	                 from a client, the neighbour table, port counters, static neighbours
//	                 through the CLI, CLI errors, clean stop
//	metrics_test.go  TestMetrics: /metrics of a gateway that answered pings (port, core,
//	                 drop-reason and ARP series)
//	fullnat_test.go  the FULLNAT topology (client ns, gateway ns, a switch ns bridging the
//	                 server-side tap to two real-server namespaces), services set up with
//	                 gw adm, the test programs built once (testCmd), fileSHA256;
//	                 TestFullNATHTTP: 200 HTTP requests over both servers, peers only LIPs,
//	                 50 MB download sha256, UDP echo, no lost traffic;
//	                 TestFullNATExpiry: sessions expire on schedule with shortened timeouts;
//	                 TestFullNATTwoWorkers: the same traffic with two workers sharing CPU 1
//	                 and two queues per tap: port slices per core, redirect ring used
//	cmd/e2epeer      the real-server and client program (probe: a request every 50 ms,
//	                 for failover measurements)
//	modes_test.go    NAT, DR and TUN, after the kernel's IPVS selftest: client, gateway and
//	                 real-server namespaces, a direct real server → client veth for DR/TUN,
//	                 servers and clients as goroutines on sockets made inside the
//	                 namespaces (Netns.Do); TestModesNAT/DR/TUN: 8 MB each way
//	                 byte-identical, UDP echo, the client's own address at the server,
//	                 counters, DR/TUN replies bypassing the gateway, -g port mapping and
//	                 gre/gue refused; TestModesTUN also path-MTU discovery through the
//	                 tunnel (UDP with DF: ICMP, IP_MTU 1480, EMSGSIZE, then echo; TCP upload
//	                 completing with the route's mtu 1480 cached); TestModesTUNRouted: a
//	                 router with MTU 1400 before the real server, whose fragmentation
//	                 needed the gateway relays (1480, then 1380); TestModesNATTwoWorkers:
//	                 NAT connections handed to their owner core over the redirect rings
//	ha_test.go       two gateways side by side (a switch namespace bridging their taps with
//	                 the front host and two real servers) and the real daemons over the
//	                 kernel path, configured from deploy/ as shipped: TestVRRPFailover,
//	                 keepalived active/standby (kgw0 down, then the master killed: the VIP
//	                 moved within 3 s, the client's ARP entry moved by gratuitous ARP, the
//	                 longest run of failed new connections, sh's server kept, a kept-alive
//	                 connection broken); TestVRRPPreempt, the same without nopreempt
//	                 (the VIP taken over, back, and over again when kgw1 goes down);
//	                 TestECMP, BIRD active/active behind a router (1 000
//	                 connections split over both, the client network learned, the
//	                 watchdog withdrawing an unhealthy gateway's VIP, BFD dropping a killed
//	                 one)
//	cmd/ipipdecap    user-space IPIP decapsulator for the TUN real server (raw socket →
//	                 TUN device), since this kernel has no ipip module
//	mark_test.go     TestFirewallMarkNAT: mark rules and a fwmark service on the NAT
//	                 topology: two addresses of a /24 uploaded to byte-identical, a UDP
//	                 echo from the address asked, "FWM  1 rr persistent 60", one IP template
//	sched_test.go    schedulers on the FULLNAT topology: TestSchedWRR: wrr 3:1 over
//	                 400 new connections within ±5% (server-side counts, --stats Conns),
//	                 weight 0 during a throttled 50 MB download (byte-identical, no new
//	                 connection to it), the wrr cycle kept across changes to another
//	                 service; TestSchedPersistence: -p 60 sends 50 connections of one client
//	                 to one server, a quiesced destination keeps its persistent client;
//	                 TestSchedDistribution: each of the 14 schedulers (and sh-port, mh-port)
//	                 over weights 3:1, 400 sequential connections against LVS's result;
//	                 TestSchedOnePacket: -o alternates one socket's datagrams (rr), every
//	                 echo back; listed "ops", saved -o
//	                 TestSchedPersistenceTwoWorkers: -p 300 over two workers and two queues,
//	                 200 connections of one client all on one server (92:108 before
//	                 persistent flows went to their owner core)
//	                 TestSchedThresholdTwoWorkers: -x 10, 50 held connections over two
//	                 workers, at most 10 on the bounded server
//	reconfig_test.go live reconfiguration: TestReconfigDuringDownload: services,
//	                 destinations, weights, schedulers and an unused local address changed
//	                 by the CLI, then gw reload and SIGHUP of a file rewritten through the
//	                 harness's Config, during a throttled 50 MB download and continuous
//	                 HTTP requests (zero failures); 20 concurrent gw adm clients;
//	                 TestReconfigDeleteDestination: a deleted destination's transfer
//	                 completes (expire_nodest_conn=0); TestReconfigTimeouts: the datapath's
//	                 timeouts follow -R, and not a refused reload
//	reload_test.go   TestReloadAndRestore (net_null ports, no traffic): services from the
//	                 file, gw reload and SIGHUP apply its changes, a bad file is refused
//	                 naming its line, save, clear and restore round-trip through the link
//	                 named ipvsadm
//	ipvsadm_test.go  TestIpvsadmInstalled: make install into a temporary DESTDIR (the tree,
//	                 the unit's paths, the configuration kept on reinstall), then the
//	                 installed ipvsadm, ipvsadm-save and ipvsadm-restore links against a
//	                 gateway: ipvsadm's messages and exit statuses, -e keeping FULLNAT,
//	                 plain (service-name) save output restored, a failed restore harmless
//	check_test.go    health checks over the FULLNAT topology with kernel interfaces (the checks
//	                 are the host's sockets through kgw1), a health endpoint per real server:
//	                 TestCheckHTTPInhibit: an http check (1s, fall 2, rise 2, inhibit), the
//	                 download's real server's endpoint stopped: weight 0 in -L within 4 s and
//	                 gw check show says why, 100 requests all on the other, the download
//	                 completes byte-identical, the endpoint back: its weight within 4 s;
//	                 TestCheckKinds: tcp with remove, quorum and a sorry server taking every
//	                 request, misc with remove, an unchanged reload keeping the states
//	lbhelpers_test.go helpers of sched, reconfig and soak: server-side connection counts,
//	                 -L --stats parsing, background throttled download (e2epeer fetch -rate)
//	                 and HTTP load
//	robust_test.go   IP fragments: UDP datagrams up to 65507 bytes, fragmented by the
//	                 client's kernel, echoed whole through FULLNAT and NAT, one and two
//	                 workers
//	proxyproto_test.go TestProxyProtocolNginx: the FULLNAT topology with real nginx as
//	                 real servers (listen ... proxy_protocol), services with
//	                 --proxy-protocol v1 and v2: the client address and port nginx
//	                 logs and answers, 200 concurrent requests, 8 MB download and
//	                 upload byte-identical, a server-speaks-first banner service
//	                 (e2epeer banner) reading the header sent after the handshake,
//	                 UDP with v2 (e2epeer serve -udp-proxy echoing what follows it),
//	                 a --toa service, HAProxy (accept-proxy) behind a v2 service; the same
//	                 with two workers (replies redirected)
//	soak_test.go     make soak (build tag soak): SOAK_DURATION of HTTP, bulk and UDP
//	                 traffic with periodic reconfiguration, then drain and leak checks
package e2e
