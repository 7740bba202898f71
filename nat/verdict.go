package nat

// Frame is one received packet as a worker hands it to Core.Process. Buf is the
// mbuf's whole data room; the frame's bytes are Buf[Off:Off+Len], preceded by
// Off bytes of headroom (typically 128). A handler rewrites in place; it may
// move the frame within Buf, and the worker must then take Off and Len back
// for every verdict that sends the frame on (ActTx, ActControl): TUN
// encapsulation prepends its outer header (Off -= 20, and Len changes by 20
// less any Ethernet padding), and an ICMP error the datapath answers with is
// built over the frame (see ActTx). L3 is the offset of the IPv4 header inside
// the frame (14, or 18 behind one VLAN tag).
//
// The worker (lcore) owns the Frame and has validated the Ethernet header and
// that an IPv4 header of IsValid length is present at L3. Process re-checks the
// bounds it relies on anyway, so a malformed frame is dropped, never a panic.
type Frame struct {
	Buf  []byte
	Off  int
	Len  int
	L3   int
	Port uint16 // rx port id
	RSS  uint32 // RSS hash (0 when the PMD gives none)
}

// Action is what the worker does with a frame after Process.
type Action uint8

// Actions, in the order of the per-core verdict counters.
const (
	// ActDrop drops the frame; Result.Reason says why (counted per core).
	ActDrop Action = iota
	// ActTx sends the frame on Result.Port; its MAC addresses are written.
	// The frame may be a different packet from the one received: an ICMP
	// error the datapath originated in its place (fragmentation needed for
	// a TUN packet that does not fit the tunnel), sent toward the client.
	ActTx
	// ActRedirect hands the frame to core Result.Core() through the redirect
	// ring: it is a FULLNAT reply for a local port that core owns, or, with
	// several cores, a packet of a NAT-capable connection that core owns
	// (see NATOwner).
	ActRedirect
	// ActControl hands the frame to the control lcore. With Reason
	// ReasonNoNeigh the frame is fully rewritten except its destination MAC:
	// the control lcore resolves Result.NextHop on Result.Port and sends it.
	// (The next hop is not always derivable from the frame: DR sends a
	// packet addressed to the VIP to the real server's MAC.)
	ActControl
	// ActNotMine: not a load-balancing packet (not to a VIP or LIP, no
	// session); the worker decides (local stack, ICMP, drop).
	ActNotMine

	// NumActions is the number of actions.
	NumActions = iota
)

var actionNames = [NumActions]string{"drop", "tx", "redirect", "control", "not_mine"}

// String returns the snake_case name of a.
func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return "unknown"
}

// Result is the verdict of Process for one frame. It has four scalar fields:
// Go keeps such a struct in registers, while an array field or a fifth field
// puts every Result in memory, and copying one just written field by field
// stalls on store forwarding (the profiles showed it per packet).
type Result struct {
	Act    Action
	Reason DropReason // why, for ActDrop and ActControl
	// Port is the egress port for ActTx and ActControl, and the owner core
	// for ActRedirect (see Core).
	Port uint16
	// NextHop is the neighbour whose MAC the frame needs, for ActControl
	// with ReasonNoNeigh, as header.Addr4.Uint32 gives it.
	NextHop uint32
}

// Core returns the core an ActRedirect verdict hands the frame to.
func (r Result) Core() uint16 { return r.Port }

// redirectTo is the verdict that hands a frame to core c.
func redirectTo(c int) Result { return Result{Act: ActRedirect, Port: uint16(c)} }

// DropReason says why a frame was dropped or handed to the control lcore.
// Every reason has its own per-core counter.
type DropReason uint8

// Drop reasons. Their String forms are stable metric label values.
const (
	ReasonNone DropReason = iota
	// ReasonMalformedL3: the frame's bounds or IPv4 header are inconsistent.
	ReasonMalformedL3
	// ReasonMalformedL4: the TCP/UDP header or a quoted ICMP error is
	// truncated or inconsistent.
	ReasonMalformedL4
	// ReasonFragment: a TCP fragment at offset 8 to a VIP or LIP, which
	// can only serve to overwrite the first fragment's TCP header (RFC 1858
	// §4, the overlapping-fragment attack). Other fragments are forwarded
	// (frag.go).
	ReasonFragment
	// ReasonBadChecksum: a checksum the NIC or the worker verified is wrong.
	ReasonBadChecksum
	// ReasonNoSession: a packet that only belongs to an existing connection
	// (non-SYN TCP to a VIP, anything to a LIP port) found none; LVS drops
	// these too.
	ReasonNoSession
	// ReasonNoDest: the scheduler found no available destination.
	ReasonNoDest
	// ReasonTableFull: the core's session table is at capacity.
	ReasonTableFull
	// ReasonSessionConflict: the new session's reply tuple is already in use.
	ReasonSessionConflict
	// ReasonNoLaddr: a FULLNAT service has no local address on the port
	// that routes to the chosen real server.
	ReasonNoLaddr
	// ReasonLaddrExhausted: every local address's port slice toward the
	// chosen real server is in use on this core.
	ReasonLaddrExhausted
	// ReasonTTLExceeded: TTL <= 1 on a packet to forward that cannot be
	// answered with ICMP time exceeded (RFC 1812 §5.3.1; see icmperr.go):
	// it is an ICMP error or a non-initial fragment (RFC 1122 §3.2.2), or
	// the port toward its source has no address.
	ReasonTTLExceeded
	// ReasonNoRoute: no route toward the packet's new destination.
	ReasonNoRoute
	// ReasonNoNeigh: no resolved neighbour for the next hop (with
	// ActControl: the control lcore resolves it).
	ReasonNoNeigh
	// ReasonModeUnsupported: the destination's forwarding mode is not
	// implemented by this datapath yet.
	ReasonModeUnsupported
	// ReasonTooBig: a packet that does not fit the egress MTU (once
	// encapsulated, for TUN) and cannot be answered with ICMP fragmentation
	// needed: DF is clear (the datapath does not fragment; see the TUN
	// section of the package documentation), the egress MTU leaves less
	// than 68 bytes, or no error may be sent about it (RFC 1122 §3.2.2).
	ReasonTooBig
	// ReasonICMPRateLimited: a packet answered with an ICMP error the core
	// originates (time exceeded, fragmentation needed) while the core's ICMP token
	// bucket was empty (RFC 1812 §4.3.2.8): dropped without the error.
	ReasonICMPRateLimited
	// ReasonNoTunnelSource: the egress port toward a TUN real server has
	// no interface address to be the outer source.
	ReasonNoTunnelSource
	// ReasonNoHeadroom: the frame's headroom cannot hold the outer header
	// or the ICMP error built in front of it (mbufs have 128 bytes).
	ReasonNoHeadroom
	// ReasonNoService: TCP or UDP to a VIP on a port and protocol with no
	// service. Dropped silently, as a firewall would, rather than answered
	// with a RST or ICMP port unreachable (which would make the gateway a
	// reflector for spoofed floods and tell scanners which VIPs exist).
	ReasonNoService
	// ReasonBadTCPFlags: a TCP segment without a session whose flags no
	// stack sends (SYN+FIN, SYN+RST, no SYN/ACK/RST/FIN at all, FIN
	// without ACK: the combinations netfilter's tcp_valid_flags rejects).
	// Other non-SYN segments without a session are ReasonNoSession.
	ReasonBadTCPFlags
	// ReasonOwnSource: a new flow whose source is one of the gateway's
	// own addresses (a VIP, a local address, an interface address): a
	// spoofed packet (the "land" attack), whose replies would loop.
	ReasonOwnSource
	// ReasonFragNoFirst: a non-first fragment to a VIP or LIP whose first
	// fragment was not forwarded by this core within the fragment timeout
	// (it came later, was dropped, or the datagram is forged).
	ReasonFragNoFirst
	// ReasonFragTableFull: a first fragment dropped because the core's
	// fragment table had no room for its datagram (a flood of fragmented
	// datagrams; see Config.Fragments).
	ReasonFragTableFull
	// ReasonRSTOutOfWindow: a TCP RST whose sequence number is outside the
	// window its sender's direction has reached (RFC 5961 §3; seq.go): a
	// blind reset, which would otherwise end the connection.
	ReasonRSTOutOfWindow
	// ReasonWrongIngressPort: a packet of a session that arrived on
	// another port than the one its session's other direction leaves from
	// (where its sender is): forged on another segment, such as a reply
	// injected from the clients' side (see Policy.LooseIngress).
	ReasonWrongIngressPort
	// ReasonQuotaExceeded: a new flow of a service at its session quota
	// (ServiceConf.SessionQuota) with no unreplied session of it to evict.
	ReasonQuotaExceeded
	// ReasonRelayRefused: an ICMP fragmentation needed about one of the
	// gateway's IPIP packets that is not relayed to the client: no live TUN
	// session of the quoted client's connection on any core, or a client
	// address that is not a unicast host elsewhere (tunnelError).
	ReasonRelayRefused
	// ReasonProxyFragment: a fragment of a connection whose service tells
	// the real server the client's address (clientaddr.go): the header or
	// option cannot be inserted into a fragmented datagram, which the
	// datapath does not reassemble.
	ReasonProxyFragment

	// NumDropReasons is the number of reasons, the size of counter arrays.
	NumDropReasons = iota
)

var reasonNames = [NumDropReasons]string{
	"none", "malformed_l3", "malformed_l4", "fragment", "bad_checksum",
	"no_session", "no_dest", "table_full", "session_conflict", "no_laddr",
	"laddr_exhausted", "ttl_exceeded", "no_route", "no_neigh", "mode_unsupported",
	"too_big", "icmp_rate_limited", "no_tunnel_source", "no_headroom",
	"no_service", "bad_tcp_flags", "own_source", "frag_no_first", "frag_table_full",
	"rst_out_of_window", "wrong_ingress_port", "quota_exceeded", "relay_refused",
	"proxy_fragment",
}

// String returns the snake_case name of r ("no_session", "laddr_exhausted"...).
func (r DropReason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "unknown"
}

func drop(r DropReason) Result { return Result{Act: ActDrop, Reason: r} }
