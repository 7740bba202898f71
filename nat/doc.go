// Package nat is the load-balancing datapath core: per-core session tables
// with a timer wheel, FULLNAT local-address port pools, LVS's TCP state
// machine and timeouts, the in-place rewrite of each forwarding mode, ICMP
// error translation, the dataplane service snapshot and per-core counters.
//
// # Ownership and the hot path
//
// A worker core owns one Core: its session Table, PortPools and counters are
// touched only by that core, so nothing takes a lock. The control plane builds
// an immutable *Services snapshot of the services and session timeouts (and
// arp publishes an *arp.Snapshot); the worker loads both once per loop turn
// and passes them, with the monotonic time, to ProcessBurst for each burst
// of frames (Process for one frame).
// ProcessBurst first looks up the whole burst's sessions in two prefetching
// steps (package prefetch): hash every tuple and prefetch its home index
// bucket, then read the buckets and prefetch the candidate sessions they
// name; then it processes the frames in order, so the cache and TLB misses of
// a burst overlap instead of stalling each packet in turn; a new flow
// prefetches its reply tuple's bucket once its local port is chosen, sets the
// session up (Table.insertOrig) and leaves the reply tuple's indexing and its
// first packet to the end of the chunk, when the line has loaded; a frame
// that could see such a flow otherwise settles first (deferred.go). A
// frame whose candidate is its session and the common case (FULLNAT or NAT,
// egress resolved, well formed, TTL and MTU in range) is forwarded by
// Core.established, which checks only what the general path would find
// different; every other frame takes the general path (process, segment,
// forward). Candidates are verified against the live session, so the
// verdicts are Process's, frame by frame. Processing rewrites each frame in place
// and returns a Result; it never allocates, returns no error and calls no
// interface or closure.
//
// Session state lives in preallocated pointer-free arrays addressed by int32
// indexes, so the garbage collector never scans it: 127 bytes per session
// (Session 96, timer-wheel link 8, 20/7 8-byte index buckets). NewTable
// maps arrays of 64 MiB or more outside the Go heap (on Linux) and commits
// every array (transparent huge pages asked for, every page touched), so the
// worker takes no page fault in them and a table is resident in full from
// the start.
//
//	lcore loop:  svcs, stack := services.Load(), arp.Snapshot()
//	             for each rx burst (and each redirect-ring burst):
//	                 core.ProcessBurst(frames, results, svcs, stack, now)
//	                 send each frame where its Result says
//	             core.Expire(svcs, now, budget)         // every iteration
//	             core.Flush()                           // publish counters
//
// # Modes
//
// Every mode follows one rule (see Session): a packet received in direction d
// with tuple In(d) leaves with In(other).Reverse(). FULLNAT rewrites both ends
// (CIP:cport→VIP:vport becomes LIP:lport→RIP:rport, the reply comes back to
// LIP:lport); NAT rewrites the destination only (VIP:vport→RIP:rport, the
// client address kept) and expects the real server to route replies through
// the gateway, which restores VIP:vport as their source; DR changes only the
// MAC addresses (the real server's, resolved on-link; TTL untouched, the
// frame is switched); TUN decrements the TTL and wraps the packet in IPIP
// (package tunnel) from the egress port's address to the real server. DR and
// TUN cannot map ports (NewServices refuses it, as ipvsadm does). Their
// sessions are driven by the client's packets only: the real server answers
// the client directly, so TCP follows LVS's INPUT-ONLY transition table
// (FlagNoOutput) with LVS's timeouts.
//
// # TUN and the MTU
//
// Encapsulation adds 20 bytes. A packet that no longer fits the egress port's
// MTU (arp.Snapshot.PortMTU) is never sent truncated nor dropped silently:
// with DF set it is answered, like LVS's ensure_mtu_is_adequate, with ICMP
// fragmentation needed (RFC 1191) carrying the MTU minus 20, from the VIP to
// the client, built in place in the frame's headroom and sent by the worker
// like any frame (ActTx toward the client; ActControl when the client's next
// hop must be resolved). A per-core arp.TokenBucket (Config.ICMPRate,
// ICMPBurst; Linux's 1000/s, burst 50) limits these errors; a packet over
// the limit is dropped as icmp_rate_limited. With DF clear the datapath does
// not fragment (LVS lets the kernel fragment the outer datagram; here that
// would need a second mbuf the worker does not have): the packet is dropped
// and counted as too_big. Senders that clear DF on packets larger than the
// tunnel's MTU are rare (Linux sets DF on TCP and, by default, on UDP);
// raising the MTU of the link to the real servers by 20 bytes avoids the
// case entirely. A router beyond the gateway with a smaller MTU reports it
// about the outer packet, to the gateway's port address; the gateway relays
// it to the client, MTU minus 20, from the VIP (tunnelError, as LVS does for
// errors about its own IPIP packets), without needing the session.
//
// A session keeps the destination it was scheduled to for its whole life,
// also after a new snapshot removes that destination or its service (LVS
// instead drops such a session's packets until it times out, with
// expire_nodest_conn = 0); with Policy.ExpireNodestConn, LVS's
// expire_nodest_conn = 1, a client packet ends it and is scheduled afresh.
// The control plane must not reuse a destination or service ID while
// sessions of it may remain.
//
// # Hostile traffic
//
// The per-core table and the local port pools are shared by every service
// of the core, so a spoofed flood must not be able to fill them for all:
// sessions nobody answered (SYN_RECV, UDP_ONEWAY) are evicted for new flows
// when the table is full, a service is at its quota or a port pool is
// exhausted (evict.go), and the real server's SYN-ACKs do not keep them
// alive. A host that knows a connection's addresses and ports cannot end it
// with a forged RST or flagless segment (seq.go), inject a packet of it on
// another port than its sender's (wrong_ingress_port), or guess the next
// local port (laddr.go); a forged fragmentation needed is relayed only for a
// live TUN session (icmp.go).
//
// # Multi-core FULLNAT and NAT
//
// A core allocates local ports only from its slice (port % ncores == core), so
// a reply that lands on another core is handed to OwnerCore(lport) with
// ActRedirect, without any cross-core lookup.
//
// A NAT connection is owned by NATOwner(CIP, cport): the client endpoint is in
// both directions (the reply is RIP:rport→CIP:cport), so any core computes
// the owner from any packet and redirects what it does not own. A symmetric
// RSS key would not do: it sends A→B and B→A to one queue, but NAT's two
// directions are CIP→VIP and RIP→CIP. New flows of a service with a NAT
// destination are created on the owner whatever destination they get;
// services without one, and DR/TUN (one direction only), stay on the core RSS
// chose. With one worker nothing is redirected.
//
// What LVS keeps per service must be on one core: a service's owner rule
// (ownerRule) creates a persistent service's flows on PersistOwner of the
// client's network under the netmask (one template table per client), an
// lblc/lblcr service's on TargetOwner of the address asked for, and a
// service with thresholds, or lblc/lblcr that are also persistent or have NAT
// destinations, on ServiceOwner (its counts one core's: thresholds exact).
// Other cores redirect those flows' packets there; a NAT reply finds the core
// through its destination's rule (services sharing a NAT destination must
// agree on it).
//
// Port-zero services (VIP:0) serve every port of their VIP that no other
// service has, and firewall-mark services the flows their mark rules
// (MarkRule) match, before any VIP:port service; both keep the client's
// port. One-packet services (ServiceConf.OnePacket) schedule each UDP
// datagram.
//
// # Files
//
//	verdict.go    Frame, Action, Result and DropReason: the contract with lcore.
//	tuple.go      Tuple4 (comparable 16-byte 5-tuple), its seeded hash, Dir.
//	session.go    Session: the per-connection record (96 bytes, no per-session
//	              packet or byte counters), Mode, Flags, per-direction egress
//	              cache (port and destination MAC; the source MAC is the
//	              port's, arp.Snapshot.PortMAC).
//	table.go      Table: IPv4 session table, open-addressing index of both
//	              directions (20/7 buckets per session, multiply-shift home,
//	              linear probing, backward-shift deletion), free list, the
//	              burst look-up steps (Hash, BucketAddr, Candidate,
//	              SessionAddrs, LookupHint).
//	memory*.go    A Table's arrays: large ones mapped off the Go heap on Linux
//	              (unmapped by a cleanup), each committed at NewTable
//	              (MADV_HUGEPAGE on Linux, every page touched).
//	wheel.go      The Table's hashed timer wheel: lazy re-filing, Touch, Expire.
//	tcpstate.go   LVS TCP states (and UDP, UDP_ONEWAY), the tcp_states[]
//	              transition tables (input, output, input-only), Timeouts
//	              (ipvsadm --set, the SYN_RECV and one-way UDP timeouts,
//	              secure_tcp) and the default per-state timeouts.
//	seq.go        Per-direction sequence tracking, RST window (RFC 5961),
//	              tcpState.
//	evict.go      Eviction of unreplied sessions for new flows (table full,
//	              service quota) and reclaim of their local ports.
//	laddr.go      PortPools: per (LIP, RIP:rport) port pools on the core's port
//	              slice in a keyed random order, OwnerCore, per-LIP usage for
//	              --get-laddr.
//	services.go   Services snapshot: ServiceConf/DestConf/LocalAddr, Limits,
//	              Policy, the per-state session timeouts, allocation-free
//	              VIP:port/proto (and port-zero), VIP and LIP lookups, mark
//	              rules and fwmark services, NAT destinations, NATOwner and
//	              the owner rules (PersistOwner, TargetOwner, ServiceOwner).
//	core.go       Core, Config, ProcessBurst (look-ahead with prefetch) and
//	              Process dispatch, the established fast path, Expire,
//	              session release.
//	deferred.go   New flows ProcessBurst completes at the end of a chunk:
//	              the invariant that keeps its verdicts Process's, and settle.
//	forward.go    New flows (schedule, local address, session), forwarding of
//	              established ones: TCP state, egress cache, rewrite or IPIP
//	              encapsulation, ICMP fragmentation needed for TUN.
//	icmp.go       ICMP error translation through a session (outer and quoted
//	              headers), so path-MTU discovery works through the gateway;
//	              relay of fragmentation needed about the gateway's IPIP
//	              packets to the client.
//	frag.go       IPv4 fragments: the first through the ordinary path, later
//	              ones with its rewrite, tracked in a frag.Table per core.
//	icmperr.go    ICMP errors the core originates about packets it forwards:
//	              time exceeded, fragmentation needed (egress MTU), built in
//	              place and rate-limited.
//	clientaddr.go The client's address at FULLNAT real servers: ClientAddr,
//	              PROXY protocol v1/v2 headers (TCP: inserted at the client's
//	              first sequence number, seq/ack/SACK translated for the
//	              session's life from the Core.ext side table; UDP: v2 on each
//	              datagram) and DPVS's TOA option.
//	checksum.go   Precomputed per-session RFC 1624 checksum deltas.
//	counters.go   Per-core counters, Flush publication, Stats readers.
package nat
