// Package frag tracks IPv4 fragments so that a load balancer can forward
// every fragment of a datagram the way it forwarded the first one, without
// reassembling.
//
// Only the first fragment (offset 0) carries the TCP or UDP ports a session
// is found by; the others carry nothing but the IPv4 header. RFC 791
// identifies the fragments of one datagram by (source, destination,
// protocol, identification). When the datapath has forwarded a first
// fragment it records that key with what it decided (the session's ports,
// or the core that owns the session), and later fragments with the same key
// are forwarded with the same rewrite: fragments stay fragments, nothing is
// copied or held, and the real server's stack reassembles as it would
// without the gateway. (The alternative, reassembling on the gateway, needs
// buffers for whole datagrams, multi-segment mbufs or copies, and
// re-fragmentation to the egress MTU; DPVS avoids the whole problem by
// dropping fragments.)
//
// A non-first fragment that arrives before its first fragment finds no entry
// and is dropped by the caller (a sender emits a datagram's fragments in
// order and one path rarely reorders them; Cilium's BPF fragment tracking
// makes the same trade).
//
// A Table is per core, fixed-size and pointer-free: 4-way set-associative
// buckets in one preallocated array, entries that expire by their deadline
// (no timer, no deletion: an expired entry is a free slot), lookups and
// inserts with no allocation. When a bucket's four entries are all live an
// insert fails and the caller drops the datagram, counted: a flood of first
// fragments costs a bounded table and never evicts live datagrams. The key
// hash is seeded per table so remote senders cannot aim collisions at one
// bucket.
//
// Files:
//
//	doc.go       this overview
//	table.go     Key, Value, Table: Lookup, Insert, Stats
package frag
