// Package pcap holds packet-exact tests of the real gw binary over DPDK's
// net_pcap PMD: each test writes crafted frames into the port's rx pcap, runs
// `bin/gw run -c` until the port has received all of them, stops it (SIGTERM,
// exit status 0 asserted; closing the port completes the tx pcap) and decodes
// the tx pcap, asserting every field and checksum of every frame the gateway
// sent and that it sent nothing else. Run with `make pcap` (root, bin/gw built,
// one gateway at a time: go test -p 1).
//
// Files:
//
//	pcap_test.go     the gateway set-up over one pcap port (runPcap), frame
//	                 classification, and the tests: ARP reply, ICMP echo replies, frames
//	                 that must produce nothing
//	fullnat_test.go  FULLNAT, interactively: the rig (startRig: the ports read live
//	                 veths, rx_iface, the test writes with AF_PACKET, so the real server's
//	                 answers are built from the local port the gateway chose; the
//	                 services as harness types); TCP handshake, data, FIN, UDP (checksum
//	                 0 kept), ICMP frag-needed and port unreachable translated, all
//	                 byte-exact
//	modes_test.go    NAT, DR and TUN over one one-armed port (client behind a router,
//	                 real server on the link, static neighbours), every frame written
//	                 before the run (runPcap): TCP SYN/data/FIN and UDP (checksum 0 kept)
//	                 for each mode, NAT's replies, the IPIP outer header (TOS, DF, ID, TTL
//	                 64), ICMP fragmentation needed for a DF packet too big for the tunnel
//	                 and the too_big drop without DF, all byte-exact
//	robust_test.go   hostile input (docs/robustness.md): a corpus of malformed and unusual
//	                 frames read by the rig's third port, interleaved with a FULLNAT flow,
//	                 each counted under its drop reason, the flow byte-exact; time
//	                 exceeded, fragmentation needed and their rate limit; forwarded
//	                 fragments
//	neigh_test.go    the neighbour table under a flood of unresolved on-link clients
//	                 (a NAT service's replies to 3000 spoofed clients of a /16, sent
//	                 in phases over a live veth, rx_iface, as fullnat_test.go does): a
//	                 bounded number of resolutions and INCOMPLETE entries, the DR
//	                 real server's learned entry kept and its SYN forwarded
//	                 byte-exact; an off-link ARP sender answered, not learned; a
//	                 source equal to the /16's broadcast dropped (broadcast_source)
//	clientaddr_test.go the client's address at FULLNAT real servers on the rig:
//	                 PROXY protocol v1 and v2 over TCP (header bytes from the
//	                 specification, MSS, retransmitted first segment, seq, ACK and
//	                 SACK translation, FIN), TOA option bytes, PROXY v2 over UDP; bad
//	                 input (an oversize first segment cut, a segment ahead moved, a RST
//	                 before the header was acknowledged)
//	flood_test.go    SYN flood from spoofed sources through the rig's third port:
//	                 table_full, the established connection forwarded, recovery; the
//	                 throughput of an established connection during a looped flood
package pcap
