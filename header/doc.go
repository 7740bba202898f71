// Package header holds the wire-format views and checksum helpers of the
// datapath, in the style of gVisor's pkg/tcpip/header.
//
// A view is a named byte slice (type IPv4 []byte) with getters and setters at
// fixed offsets; it never copies and never allocates. Each view has one gate,
// IsValid(pktLen), that a caller checks once before using the accessors: after
// it holds every accessor is in bounds. Accessors do not re-check, so using a
// view that failed (or skipped) its gate may panic. Values that the hot path
// stores, Addr4 and MAC, are comparable pointer-free arrays in wire order.
//
// Files:
//
//	addr.go       Addr4 and MAC: canonical text forms, parsers that round-trip,
//	              conversion to and from netip.Addr.
//	checksum.go   Internet checksum (RFC 1071), combining, the TCP/UDP
//	              pseudo-header, and RFC 1624 incremental updates.
//	ethernet.go   Ethernet II header view with one optional 802.1Q tag.
//	arp.go        ARP packet view for IPv4 over Ethernet (RFC 826).
//	ipv4.go       IPv4 header view (RFC 791) and protocol numbers.
//	tcp.go        TCP header view (RFC 9293) and flags.
//	udp.go        UDP header view (RFC 768), keeping a zero checksum zero.
//	icmpv4.go     ICMPv4 message view (RFC 792, next-hop MTU from RFC 1191).
//
// Tests: checksum_test.go checks the sums and RFC 1624 updates against a naive
// reference on seeded random input; update_test.go checks the
// ...WithChecksumUpdate methods against full recomputes and holds the 0-alloc
// test and benchmarks; views_test.go compares the views with gopacket in both
// directions; addr_test.go and fuzz_test.go cover parsing and the IsValid gates.
//
// Checksum conventions: a "sum" is the ones-complement sum, not complemented
// (what Checksum, ChecksumCombine and PseudoHeaderChecksum return); a checksum
// "field" (xsum) is what a header stores, the complement of the sum taken with
// the field zeroed. Incremental updates (ChecksumUpdate16, ChecksumUpdateAddr4
// and the view methods named ...WithChecksumUpdate) take and return fields. A
// precomputed delta for a fixed rewrite is a sum: delta =
// ChecksumCombine(^old, new) summed over the changed words, applied as
// field' = ^ChecksumCombine(^field, delta).
//
// Views over an L4 segment (TCP, UDP, ICMPv4) take len(view) as the segment
// length in their checksum methods; slice them to IPv4.Payload() first.
package header
