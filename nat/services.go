package nat

import (
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
	"time"

	"fngw/header"
	"fngw/sched"
)

// Limits bound the stable IDs the control plane hands out and the per-core
// arrays indexed by them. Services snapshots and Cores must agree on them.
type Limits struct {
	MaxServices   int // service IDs are < MaxServices
	MaxDests      int // destination IDs are < MaxDests (sched.Conns' bound)
	MaxLocalAddrs int // distinct local addresses whose usage a core tracks
}

func (l Limits) validate() error {
	if l.MaxServices < 1 || l.MaxDests < 1 || l.MaxLocalAddrs < 1 {
		return fmt.Errorf("limits %+v: every maximum must be at least 1", l)
	}
	return nil
}

// DestConf is one destination of a service as the datapath needs it, in the
// order of the service's scheduler (Pick returns an index into it).
type DestConf struct {
	ID   uint32     // stable, < Limits.MaxDests; what sessions store
	Addr netip.Addr // real server address (IPv4 in this datapath)
	Port uint16     // real server port
	Mode Mode       // forwarding method
}

// LocalAddr is a FULLNAT local address (LIP) of a service and the port it is
// configured on (DPVS ipvsadm -P ... -z LIP -F port). A new FULLNAT flow uses
// the LIPs on the port that routes to the chosen real server.
type LocalAddr struct {
	Addr header.Addr4
	Port uint16
}

// ServiceConf is one virtual service of a snapshot: VIP:Port/Proto with its
// scheduler, destinations and local addresses.
type ServiceConf struct {
	ID         uint32 // stable, < Limits.MaxServices
	VIP        header.Addr4
	Port       uint16
	Proto      uint8 // header.IPProtoTCP or header.IPProtoUDP
	Sched      *sched.Service
	Dests      []DestConf // index-aligned with Sched's destinations
	LocalAddrs []LocalAddr
	// SessionQuota, when positive, bounds the sessions the service holds:
	// each of the n worker cores holds at most ceil(SessionQuota/n) of
	// them (a core's table is its own; RSS spreads new flows evenly). A
	// new flow over the quota first evicts one of the service's unreplied
	// sessions (evict.go), else it is dropped as quota_exceeded. Zero: no
	// quota, the service shares its cores' tables with the others.
	SessionQuota int
	// ClientAddr is how the service tells its FULLNAT real servers the
	// client's address (clientaddr.go); all its destinations are FULLNAT.
	ClientAddr ClientAddr
}

// Policy is the datapath's behaviour on the points where LVS has a switch,
// carried by a snapshot (Services.WithPolicy); the zero value is the
// default.
type Policy struct {
	// ExpireNodestConn is LVS's expire_nodest_conn (default off): a client
	// packet of a session whose destination the snapshot no longer holds
	// (removed, not quiesced: LVS clears IP_VS_DEST_F_AVAILABLE when a
	// destination is deleted, not when its weight is 0) expires the
	// session at once and is scheduled as a new flow (ip_vs_in_hook since
	// Linux 5.9, without conntrack: a SYN or a UDP datagram gets a new
	// destination, another TCP segment is dropped as no_session); and a
	// SYN reusing the tuple of a session whose destination is quiesced
	// (weight 0) is scheduled afresh too (LVS's conn_reuse_mode check).
	// Off, the session keeps forwarding to its destination until it
	// ends, as fngw always has (LVS drops those packets instead, leaving
	// the session to time out).
	ExpireNodestConn bool
	// LooseIngress turns off the ingress port check (wrong_ingress_port:
	// a packet of a session must arrive on the port its other direction
	// leaves from), as rp_filter's loose mode does, for a gateway whose
	// clients or real servers reach it over several ports (ECMP uplinks)
	// with routes that pick another port for the way back.
	LooseIngress bool
}

// Services is an immutable snapshot of the virtual services and the session
// timeouts for the datapath, built by the control plane and published
// through an atomic.Pointer; workers load it once per burst. Its lookups are
// allocation-free open-addressing probes over pointer-free arrays.
type Services struct {
	svcs   []service
	byKey  []svcSlot        // VIP:port/proto → index into svcs; len a power of two
	byID   map[uint32]int32 // service ID → index into svcs
	vips   addrSet
	laddrs addrSet
	// natDests holds RIP:rport/proto (svcKey) of every NAT destination:
	// with several cores, a packet from one to a client is handed to the
	// core that owns the connection (natOwner).
	natDests keySet
	// tunDests holds the address of every TUN destination: fragmentation
	// needed about an IPIP packet to one is relayed to the client.
	tunDests addrSet
	lim      Limits
	// timeout is each state's session timeout in nanoseconds
	// (Timeouts.perState), indexed by State; to the Timeouts it was built
	// from, defaults filled in.
	timeout [numStates]int64
	to      Timeouts
	pol     Policy
	// destState is, by destination ID, destAbsent, destAvailable or
	// destQuiesced (weight 0): what Policy.ExpireNodestConn looks at.
	destState []uint8
}

// Destination states of Services.destState.
const (
	destAbsent uint8 = iota
	destAvailable
	destQuiesced
)

type service struct {
	id     uint32
	sched  *sched.Service
	dests  []dest
	laddrs []LocalAddr
	nat    bool  // some destination is NAT: new flows are created on NATOwner's core
	quota  int64 // ServiceConf.SessionQuota; 0 none
	caddr  ClientAddr
}

// dest is a destination as the datapath reads it.
type dest struct {
	id   uint32
	addr header.Addr4
	port uint16
	mode Mode
}

type svcSlot struct {
	key uint64 // svcKey; 0 = empty (a VIP is never 0.0.0.0)
	idx int32
}

func svcKey(vip header.Addr4, port uint16, proto uint8) uint64 {
	return uint64(vip.Uint32())<<24 | uint64(port)<<8 | uint64(proto)
}

// NewServices validates conf against lim, and the timeouts to, and builds
// the snapshot.
func NewServices(conf []ServiceConf, to Timeouts, lim Limits) (*Services, error) {
	if err := lim.validate(); err != nil {
		return nil, err
	}
	timeout, err := to.perState()
	if err != nil {
		return nil, err
	}
	s := &Services{svcs: make([]service, len(conf)), byID: make(map[uint32]int32, len(conf)), lim: lim, timeout: timeout,
		destState: make([]uint8, lim.MaxDests)}
	s.to = Timeouts{TCP: time.Duration(timeout[StateEstablished]), TCPFin: time.Duration(timeout[StateFinWait]),
		UDP: time.Duration(timeout[StateUDP]), SynRecv: to.SynRecv, UDPOneway: time.Duration(timeout[StateUDPOneway]), SecureTCP: to.SecureTCP}
	if s.to.SynRecv == 0 {
		s.to.SynRecv = defaultTimeouts[StateSynRecv]
	}
	nb := 1 << bits.Len(uint(2*len(conf)))
	s.byKey = make([]svcSlot, nb)
	var vips, laddrs []header.Addr4
	var natDests []uint64
	var tunDests []header.Addr4
	for i := range conf {
		c := &conf[i]
		name := fmt.Sprintf("service %s:%d/%s", c.VIP, c.Port, protoName(c.Proto))
		switch {
		case c.VIP.IsZero():
			return nil, fmt.Errorf("%s: the VIP must not be 0.0.0.0", name)
		case c.Port == 0:
			return nil, fmt.Errorf("%s: port 0 (all ports) is not supported by the datapath yet", name)
		case c.Proto != header.IPProtoTCP && c.Proto != header.IPProtoUDP:
			return nil, fmt.Errorf("%s: protocol %d is not tcp (6) or udp (17)", name, c.Proto)
		case int64(c.ID) >= int64(lim.MaxServices):
			return nil, fmt.Errorf("%s: ID %d is not below MaxServices %d", name, c.ID, lim.MaxServices)
		case c.Sched == nil:
			return nil, fmt.Errorf("%s: no scheduler", name)
		case c.Sched.Len() != len(c.Dests):
			return nil, fmt.Errorf("%s: scheduler has %d destinations, configuration %d", name, c.Sched.Len(), len(c.Dests))
		case c.SessionQuota < 0:
			return nil, fmt.Errorf("%s: session quota %d must not be negative (0: no quota)", name, c.SessionQuota)
		case c.ClientAddr >= numClientAddrs:
			return nil, fmt.Errorf("%s: invalid client-address option %d", name, c.ClientAddr)
		case c.ClientAddr != ClientAddrNone && c.Proto == header.IPProtoUDP && c.ClientAddr != ProxyV2:
			return nil, fmt.Errorf("%s: %s is for TCP services; UDP takes proxy-v2", name, c.ClientAddr)
		}
		if j, dup := s.byID[c.ID]; dup {
			return nil, fmt.Errorf("%s: ID %d already used by service %d", name, c.ID, j)
		}
		s.byID[c.ID] = int32(i)
		svc := service{id: c.ID, sched: c.Sched, dests: make([]dest, len(c.Dests)), laddrs: append([]LocalAddr(nil), c.LocalAddrs...),
			quota: int64(c.SessionQuota), caddr: c.ClientAddr}
		for j, d := range c.Dests {
			dn := fmt.Sprintf("%s: destination %s", name, netip.AddrPortFrom(d.Addr, d.Port))
			sd := c.Sched.Dest(j)
			switch {
			case !d.Addr.Is4():
				return nil, fmt.Errorf("%s: only IPv4 destinations are supported by the datapath yet", dn)
			case int64(d.ID) >= int64(lim.MaxDests):
				return nil, fmt.Errorf("%s: ID %d is not below MaxDests %d", dn, d.ID, lim.MaxDests)
			case sd.ID != d.ID || sd.Addr != d.Addr || sd.Port != d.Port:
				return nil, fmt.Errorf("%s: scheduler has ID %d %s at index %d: the lists must be in the same order",
					dn, sd.ID, netip.AddrPortFrom(sd.Addr, sd.Port), j)
			case d.Mode >= numModes:
				return nil, fmt.Errorf("%s: invalid forwarding mode %d", dn, d.Mode)
			case c.ClientAddr != ClientAddrNone && d.Mode != ModeFullNAT:
				return nil, fmt.Errorf("%s: %s needs FULLNAT destinations, not %s", dn, c.ClientAddr, d.Mode)
			case (d.Mode == ModeDR || d.Mode == ModeTUN) && d.Port != c.Port:
				// ipvsadm forces dport = vport for -g and -i.
				return nil, fmt.Errorf("%s: %s forwarding sends the packet with its destination port unchanged, so the port must be the service's %d",
					dn, d.Mode, c.Port)
			}
			svc.dests[j] = dest{id: d.ID, addr: header.Addr4From(d.Addr), port: d.Port, mode: d.Mode}
			if sd.Weight > 0 {
				s.destState[d.ID] = destAvailable
			} else if s.destState[d.ID] == destAbsent {
				s.destState[d.ID] = destQuiesced
			}
			switch d.Mode {
			case ModeNAT:
				svc.nat = true
				natDests = append(natDests, svcKey(svc.dests[j].addr, d.Port, c.Proto))
			case ModeTUN:
				tunDests = append(tunDests, svc.dests[j].addr)
			}
		}
		for j, l := range c.LocalAddrs {
			if l.Addr.IsZero() {
				return nil, fmt.Errorf("%s: local address %d is 0.0.0.0", name, j)
			}
			for _, o := range c.LocalAddrs[:j] {
				if o.Addr == l.Addr {
					return nil, fmt.Errorf("%s: local address %s listed twice", name, l.Addr)
				}
			}
			laddrs = append(laddrs, l.Addr)
		}
		k := svcKey(c.VIP, c.Port, c.Proto)
		p := s.slot(k)
		if s.byKey[p].key == k {
			return nil, fmt.Errorf("%s: defined twice", name)
		}
		s.byKey[p] = svcSlot{key: k, idx: int32(i)}
		s.svcs[i] = svc
		vips = append(vips, c.VIP)
	}
	s.vips = newAddrSet(vips)
	s.laddrs = newAddrSet(laddrs)
	s.natDests = newKeySet(natDests)
	s.tunDests = newAddrSet(tunDests)
	for _, v := range vips {
		if s.laddrs.has(v) {
			return nil, fmt.Errorf("address %s is both a VIP and a local address", v)
		}
	}
	if n := s.laddrs.len(); n > lim.MaxLocalAddrs {
		return nil, fmt.Errorf("%d distinct local addresses, more than MaxLocalAddrs %d", n, lim.MaxLocalAddrs)
	}
	return s, nil
}

// slot returns the position of key k or of the empty slot where it would go.
func (s *Services) slot(k uint64) uint32 {
	m := uint32(len(s.byKey) - 1)
	for i := uint32(k*0x9e3779b97f4a7c15>>32) & m; ; i = (i + 1) & m {
		if e := s.byKey[i].key; e == k || e == 0 {
			return i
		}
	}
}

// lookup returns the index of the service VIP:port/proto, or -1.
func (s *Services) lookup(vip header.Addr4, port uint16, proto uint8) int32 {
	k := svcKey(vip, port, proto)
	if e := s.byKey[s.slot(k)]; e.key == k {
		return e.idx
	}
	return -1
}

// byIDOrNil returns the service with stable ID id, or nil (also when s is nil).
func (s *Services) byIDOrNil(id uint32) *service {
	if s == nil {
		return nil
	}
	if i, ok := s.byID[id]; ok {
		return &s.svcs[i]
	}
	return nil
}

// NATOwner returns the core, among ncores, that owns the connections of the
// client endpoint cip:cport to services with a NAT destination. Both
// directions of a NAT connection carry that endpoint (client → VIP:vport
// from it, RIP:rport → client to it), so every core computes the same owner
// from any packet without a cross-core lookup. A symmetric RSS key cannot do
// this: it maps A→B and B→A to one queue, but a NAT reply is RIP→CIP, not
// VIP→CIP. A core that receives such a packet and has no session for it hands
// it to the owner (ActRedirect). The function is fixed, not seeded: every
// core and every snapshot must agree.
func NATOwner(cip header.Addr4, cport uint16, ncores int) int {
	h := (uint64(cip.Uint32())<<16 | uint64(cport)) * 0x9e3779b97f4a7c15
	return int((h >> 32) * uint64(ncores) >> 32)
}

// natOwner says whether k, a packet that matched no session on this core,
// belongs to a NAT-capable connection and which core owns it: a client's
// packet to service si (>= 0) that has a NAT destination, or a packet from a
// NAT destination RIP:rport to a client. With a NAT destination in a service,
// all of its new flows, whatever destination they get, are created on the
// owner's core, since the mode is only known after scheduling.
func (s *Services) natOwner(k *Tuple4, si int32, ncores int) (int, bool) {
	if si >= 0 {
		if s.svcs[si].nat {
			return NATOwner(k.Src, k.SPort, ncores), true
		}
		return 0, false
	}
	if s.natDests.len() > 0 && s.natDests.has(svcKey(k.Src, k.SPort, k.Proto)) {
		return NATOwner(k.Dst, k.DPort, ncores), true
	}
	return 0, false
}

// Lookup returns the ID of the service VIP:port/proto.
func (s *Services) Lookup(vip header.Addr4, port uint16, proto uint8) (id uint32, ok bool) {
	if i := s.lookup(vip, port, proto); i >= 0 {
		return s.svcs[i].id, true
	}
	return 0, false
}

// IsVIP reports whether a is the VIP of some service.
func (s *Services) IsVIP(a header.Addr4) bool { return s.vips.has(a) }

// IsLocalAddr reports whether a is a local address (LIP) of some service.
func (s *Services) IsLocalAddr(a header.Addr4) bool { return s.laddrs.has(a) }

// Len returns the number of services.
func (s *Services) Len() int { return len(s.svcs) }

// Limits returns the limits the snapshot was validated against.
func (s *Services) Limits() Limits { return s.lim }

// Timeouts returns the session timeouts the snapshot carries, with the
// defaults in place of the zero fields it was built with (SynRecv as
// configured: SecureTCP may shorten the one in force).
func (s *Services) Timeouts() Timeouts { return s.to }

// WithPolicy returns a copy of the snapshot with policy p, for the control
// plane to publish in its place.
func (s *Services) WithPolicy(p Policy) *Services {
	c := *s
	c.pol = p
	return &c
}

// WithRetiredLaddrs returns a copy of s that also counts addrs as local
// addresses (IsLocalAddr): addresses no service has any more whose ports
// sessions still hold, so that their real servers' replies still reach the
// core owning each port until those sessions end (as LVS keeps the
// connections of a removed service).
func (s *Services) WithRetiredLaddrs(addrs []header.Addr4) *Services {
	if len(addrs) == 0 {
		return s
	}
	all := slices.Clone(addrs)
	for i := range s.svcs {
		for _, l := range s.svcs[i].laddrs {
			all = append(all, l.Addr)
		}
	}
	c := *s
	c.laddrs = newAddrSet(all)
	return &c
}

// Policy returns the snapshot's policy.
func (s *Services) Policy() Policy { return s.pol }

// destGone reports whether Policy.ExpireNodestConn applies to a client
// packet of a session of destination id: the switch is on and the
// destination is no longer in the snapshot.
func (s *Services) destGone(id uint32) bool {
	return s.pol.ExpireNodestConn && int64(id) < int64(len(s.destState)) && s.destState[id] == destAbsent
}

// destQuiescedReuse reports whether Policy.ExpireNodestConn makes a SYN
// reusing the tuple of a session of destination id schedule afresh: the
// switch is on and the destination is quiesced (or gone).
func (s *Services) destQuiescedReuse(id uint32) bool {
	return s.pol.ExpireNodestConn && int64(id) < int64(len(s.destState)) && s.destState[id] != destAvailable
}

// addrSet is an open-addressing set of IPv4 addresses (as big-endian uint32,
// 0 = empty slot) at a load of at most 1/2.
type addrSet struct {
	slots []uint32
	n     int
}

func newAddrSet(addrs []header.Addr4) addrSet {
	s := addrSet{slots: make([]uint32, 1<<bits.Len(uint(2*len(addrs))))}
	for _, a := range addrs {
		p := s.pos(a.Uint32())
		if s.slots[p] == 0 {
			s.slots[p] = a.Uint32()
			s.n++
		}
	}
	return s
}

func (s *addrSet) pos(v uint32) uint32 {
	m := uint32(len(s.slots) - 1)
	for i := uint32(uint64(v)*0x9e3779b97f4a7c15>>32) & m; ; i = (i + 1) & m {
		if e := s.slots[i]; e == v || e == 0 {
			return i
		}
	}
}

func (s *addrSet) has(a header.Addr4) bool {
	v := a.Uint32()
	return v != 0 && s.slots[s.pos(v)] == v
}

func (s *addrSet) len() int { return s.n }

// keySet is an open-addressing set of nonzero uint64 keys (svcKey values) at
// a load of at most 1/2.
type keySet struct {
	slots []uint64
	n     int
}

func newKeySet(keys []uint64) keySet {
	s := keySet{slots: make([]uint64, 1<<bits.Len(uint(2*len(keys))))}
	for _, k := range keys {
		if p := s.pos(k); s.slots[p] == 0 {
			s.slots[p] = k
			s.n++
		}
	}
	return s
}

func (s *keySet) pos(k uint64) uint64 {
	m := uint64(len(s.slots) - 1)
	for i := k * 0x9e3779b97f4a7c15 >> 32 & m; ; i = (i + 1) & m {
		if e := s.slots[i]; e == k || e == 0 {
			return i
		}
	}
}

func (s *keySet) has(k uint64) bool { return k != 0 && s.slots[s.pos(k)] == k }

func (s *keySet) len() int { return s.n }
