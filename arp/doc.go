// Package arp is the gateway's user-space IPv4 stack on its ports, replacing
// the kernel there: ports and the addresses the gateway owns (interface
// addresses, VIPs, local addresses), routes with longest-prefix match, the ARP
// neighbour table with Linux's states and ageing (RFC 826, RFC 4861-like
// neighbour unreachability detection), answers to ARP requests and ICMP echo
// (RFC 792), and builders for the ARP and ICMP error packets the gateway
// originates.
//
// Ownership. A Stack and its NeighTable belong to one control goroutine (the
// control lcore): it alone calls their methods, so they take no locks. The
// datapath never touches them; it reads an immutable *Snapshot that the Stack
// publishes through an atomic.Pointer after each change, loaded once per
// burst. Snapshot lookups (Route, Neigh, PortMAC, PortAddr, PortMTU, Owned) are
// allocation-free and safe for concurrent readers.
//
// Time is passed in as int64 monotonic nanoseconds; nothing here reads a
// clock, so tests drive every timer with a fake clock.
//
// Files:
//
//	lpm.go        DIR-16-8-8 longest-prefix-match table, pointer-free and
//	              immutable once built.
//	neigh.go      NeighTable: neighbour states, timers with doubling
//	              retransmissions, bounded per-entry and global queues of
//	              packets awaiting resolution, bounds on unresolved entries
//	              (MaxIncomplete, oldest evicted; ResolveRate per port),
//	              pinned entries for configured next hops, per-slot
//	              versions behind NeighRef, counters, listing.
//	stack.go      Stack: ports, owned addresses, connected and static routes,
//	              static neighbours, configured destinations (SetDests, the
//	              pins), Output/Tick, snapshot publication.
//	snapshot.go   Snapshot: the datapath's read API (NeighRef and Current,
//	              Broadcast); OwnKind; keyMap, hashed with the Stack's
//	              random multiplier.
//	handle.go     HandleARP (learn from connected senders, answer requests
//	              in place) and HandleICMP (echo reply in place).
//	build.go      Builders writing into caller buffers: ARP request,
//	              gratuitous ARP, ICMP errors quoting the offending datagram.
//	ratelimit.go  TokenBucket for rate-limiting ICMP errors.
//
// Tests: lpm_test.go compares the LPM with a linear scan on seeded random
// routes; neigh_test.go drives every state transition with a fake clock and
// floods the table with unresolved addresses; stack_test.go covers
// configuration errors, snapshot contents, generations, neighbour
// references, broadcasts, pins, the seeded maps against chosen keys and
// concurrent readers; handle_test.go and build_test.go check packets
// against gopacket decoding; fuzz_test.go feeds random bytes to the handlers
// and builders; bench_test.go proves the lookups and handlers allocate nothing.
package arp
