// Package tunnel is the encapsulation TUN forwarding uses: IPIP (RFC 2003)
// now; GRE (RFC 2784) and GUE later, as LVS's --tun-type offers them.
//
// It is pure Go on the hot path: no allocation, no interface, no error
// values. An encapsulation is a small comparable template value (IPIP: the
// two tunnel ends and the precomputed checksum sum of the outer header's
// fixed words), so a caller can keep one per session or per destination and
// build each outer header with a handful of stores and four 16-bit adds
// (RFC 1071 §2: the sum of the fixed words is computed once, the per-packet
// words are added to it).
//
// The frame contract is nat.Frame's: a frame lives in a buffer with headroom
// in front of it, and Encap prepends by moving the frame's start (offset -=
// IPIPLen, the link-layer header moves with it) rather than by copying the
// packet. The caller checks the headroom and the egress MTU first; what to do
// with a packet that does not fit (ICMP fragmentation needed, RFC 1191) is
// the caller's decision, because only it knows the session and the client.
//
// Files:
//
//	ipip.go        IPIP: template, FixedSum, Encap (in place), Decap.
//	ipip_test.go   Encap against gopacket-built frames, against a full header
//	               checksum on seeded random input, Decap round trips and
//	               refusals, the 0-alloc test and benchmarks; a fuzz target
//	               for Decap.
package tunnel
