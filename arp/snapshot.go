package arp

import (
	"math/bits"

	"fngw/header"
)

// OwnKind says why the gateway owns an address.
type OwnKind uint8

// Kinds of owned addresses.
const (
	OwnInterface OwnKind = iota // an interface address (ip addr add), with a connected route
	OwnVIP                      // a virtual service address (FULLNAT/NAT/DR/TUN VIP)
	OwnLocalAddr                // a FULLNAT local address (LIP), source of connections to real servers
)

var ownKindNames = [...]string{OwnInterface: "interface", OwnVIP: "vip", OwnLocalAddr: "laddr"}

// String returns "interface", "vip" or "laddr".
func (k OwnKind) String() string {
	if int(k) < len(ownKindNames) {
		return ownKindNames[k]
	}
	return "unknown"
}

// Snapshot is an immutable view of the stack for the datapath: routes,
// resolved neighbours, ports and owned addresses as of one publication. The
// control goroutine builds a new one on every change and publishes it
// atomically (Stack.Snapshot); workers load it once per burst. Every method is
// allocation-free and safe for any number of concurrent readers. Parts that did
// not change are shared between successive snapshots.
type Snapshot struct {
	gen    uint64
	routes *lpm
	neigh  keyMap[neighView] // valid entries only, by snapKey
	refs   []NeighRef        // every neighbour slot's current reference, by slot
	ports  []portView        // indexed by port id
	owned  keyMap[ownEntry]  // by address (Addr4.Uint32)
	bcast  keyMap[struct{}]  // directed broadcasts of connected subnets (Addr4.Uint32)
	// bcastLast has bit b set when some address in bcast ends in octet b:
	// most sources are ruled out by one bit test.
	bcastLast [4]uint64
}

// NeighRef refers to a neighbour entry as one snapshot shows it: its slot in
// the neighbour table (low bits) and the slot's version (high bits), which
// changes whenever the entry's MAC becomes usable, changes or stops being
// usable, the slot is reused for another address, or routes or interface
// addresses change. A datapath that caches an egress (port and MAC) with the
// reference of the neighbour it came from can tell whether it still holds
// with Current: a change to one neighbour invalidates the egresses toward
// that neighbour only. The zero NeighRef is never current. A slot's version
// comes back to a value only after 2^16 changes of that slot or more (2^22 at
// the default table size), which a cache must not outlive unused: sessions
// expire long before.
type NeighRef uint32

type neighView struct {
	mac header.MAC
	ref NeighRef
}

// snapKey is the key of the snapshot's neighbour map.
func snapKey(port uint16, ip header.Addr4) uint64 { return uint64(port)<<32 | uint64(ip.Uint32()) }

type portView struct {
	mac     header.MAC
	mtu     uint16
	addr    header.Addr4 // first interface address
	hasAddr bool
}

type ownEntry struct {
	port uint16
	kind OwnKind
}

// keyMap maps 64-bit keys to values for the snapshot's datapath lookups
// (neighbours, owned addresses, broadcasts): open addressing over a
// power-of-two table at a load of at most 1/2, hashed by multiply-shift with
// a random odd multiplier, keeping the top bits (Dietzfelbinger et al., "A
// reliable randomized algorithm for the closest-pair problem", 1997: any two
// keys collide with probability at most 2/size). A Go map hashed every key
// with aeshash, several times the cost, on every new flow's path. It is built
// once per publication and only read after. Peers choose some of the keys
// (neighbours learned from their ARP packets): with a fixed multiplier a
// sender could pick addresses that all probe through the slot of the
// upstream router's key. The multiplier is the Stack's, random per process
// (NeighConfig.HashSeed).
type keyMap[V any] struct {
	slots []keySlot[V]
	mul   uint64
	shift uint8
}

type keySlot[V any] struct {
	key  uint64
	val  V
	used bool
}

// newKeyMap makes a map for n keys hashed with multiplier mul (odd).
func newKeyMap[V any](n int, mul uint64) keyMap[V] {
	b := bits.Len(uint(2 * n))
	return keyMap[V]{slots: make([]keySlot[V], 1<<b), mul: mul, shift: uint8(64 - b)}
}

// pos returns the slot of k, or the empty slot that ends its probe run.
func (m *keyMap[V]) pos(k uint64) int {
	mask := len(m.slots) - 1
	for i := int(k*m.mul>>m.shift) & mask; ; i = (i + 1) & mask {
		if s := &m.slots[i]; !s.used || s.key == k {
			return i
		}
	}
}

func (m *keyMap[V]) put(k uint64, v V) { m.slots[m.pos(k)] = keySlot[V]{key: k, val: v, used: true} }

func (m *keyMap[V]) get(k uint64) (V, bool) {
	s := &m.slots[m.pos(k)]
	return s.val, s.used
}

// Gen returns the generation: it differs between any two snapshots published
// by one Stack, so a cache of a lookup that failed (no route, no neighbour)
// knows when to look again. A cached egress keeps its NeighRef instead
// (Current), which outlives changes to other neighbours.
func (s *Snapshot) Gen() uint64 { return s.gen }

// Route returns the egress port and next hop for dst by longest-prefix match.
// The next hop is the gateway of the matching route, or dst itself for
// connected and other on-link routes.
// Of a multipath route's next hops it is the one a hash of dst picks: all
// traffic to one destination takes the same.
func (s *Snapshot) Route(dst header.Addr4) (port uint16, nexthop header.Addr4, ok bool) {
	nh, ok := s.routes.lookup(dst.Uint32())
	if !ok {
		return 0, header.Addr4{}, false
	}
	if nh.via.IsZero() {
		return nh.port, dst, true
	}
	return nh.port, nh.via, true
}

// Neigh returns the MAC of ip on port when the neighbour table had a usable
// address for it (REACHABLE, STALE, DELAY, PROBE or PERMANENT). A miss means
// the packet goes to the control goroutine, which resolves it (Stack.Output).
func (s *Snapshot) Neigh(port uint16, ip header.Addr4) (header.MAC, bool) {
	v, ok := s.neigh.get(snapKey(port, ip))
	return v.mac, ok
}

// NeighEgress is Neigh, with the reference to the entry the MAC came from: a
// cache of the MAC holds while Current(ref).
func (s *Snapshot) NeighEgress(port uint16, ip header.Addr4) (header.MAC, NeighRef, bool) {
	v, ok := s.neigh.get(snapKey(port, ip))
	return v.mac, v.ref, ok
}

// Current reports whether ref, from NeighEgress on this or an earlier
// snapshot of the same Stack, still refers to the entry as this snapshot
// shows it: an egress cached with it needs no new lookup. It is one load
// and a compare.
func (s *Snapshot) Current(ref NeighRef) bool {
	return s.refs[int(ref)&(len(s.refs)-1)] == ref
}

// Broadcast reports whether a is the directed broadcast address of a
// connected subnet (all host bits set, prefixes up to /30): never a valid
// source (RFC 1812 §5.3.7, Linux's martian source check).
// The bit test is inlined into the caller; the map lookup is not.
func (s *Snapshot) Broadcast(a header.Addr4) bool {
	return s.bcastLast[a[3]>>6]>>(a[3]&63)&1 != 0 && s.broadcast(a)
}

func (s *Snapshot) broadcast(a header.Addr4) bool {
	_, ok := s.bcast.get(uint64(a.Uint32()))
	return ok
}

// PortMAC returns the MAC address of port (zero for an unknown port).
func (s *Snapshot) PortMAC(port uint16) header.MAC {
	if int(port) < len(s.ports) {
		return s.ports[port].mac
	}
	return header.MAC{}
}

// PortAddr returns the first interface address of port, the source of
// packets the gateway originates there (ICMP errors, ARP requests).
func (s *Snapshot) PortAddr(port uint16) (header.Addr4, bool) {
	if int(port) < len(s.ports) && s.ports[port].hasAddr {
		return s.ports[port].addr, true
	}
	return header.Addr4{}, false
}

// PortMTU returns the IP MTU of port (0 for an unknown port).
func (s *Snapshot) PortMTU(port uint16) uint16 {
	if int(port) < len(s.ports) {
		return s.ports[port].mtu
	}
	return 0
}

// Owned reports whether the gateway owns ip (an interface address, a VIP or a
// local address) and on which port it answers ARP for it.
func (s *Snapshot) Owned(ip header.Addr4) (port uint16, kind OwnKind, ok bool) {
	o, ok := s.owned.get(uint64(ip.Uint32()))
	return o.port, o.kind, ok
}
