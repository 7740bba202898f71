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

// ServiceConf is one virtual service of a snapshot: VIP:Port/Proto, or a
// firewall mark, with its scheduler, destinations and local addresses.
type ServiceConf struct {
	ID    uint32 // stable, < Limits.MaxServices
	VIP   header.Addr4
	Port  uint16
	Proto uint8 // header.IPProtoTCP or header.IPProtoUDP
	// FwMark, when not 0, makes this a firewall-mark service (ipvsadm
	// -f): VIP, Port and Proto are 0, and the new flows whose packet
	// the snapshot's mark rules (WithMarks) give this mark come here,
	// before any VIP:port service (as LVS looks fwmark services up
	// first). A connection keeps the address and port the client asked
	// for, as in a port-zero service.
	FwMark     uint32
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
	// OnePacket is one-packet scheduling (ipvsadm -o, LVS
	// IP_VS_SVC_F_ONEPACKET) for a UDP service: every datagram from a
	// client is scheduled on its own. LVS does not keep the connection;
	// here the session lives as any UDP session, so that the real
	// server's replies are translated back (NAT, FULLNAT), until the
	// client's next datagram on the same tuple ends it and is scheduled
	// afresh. Ignored for TCP, as in LVS.
	OnePacket bool
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
	// ops is, by service ID, whether the service schedules each UDP
	// datagram (ServiceConf.OnePacket; a UDP or fwmark service); nil when
	// none does.
	ops []bool
	// anyPort: some service is VIP:0 (lookup falls back to it), and
	// natAnyPort: one of them, or a fwmark service, has a NAT destination
	// (natDests holds it with port 0).
	anyPort, natAnyPort bool
	// natOwned maps the NAT destinations of services whose flows have a
	// fixed core (svcKey, port 0 for port-zero and fwmark services) to
	// that rule, so that a reply from one finds the core. nil when there
	// are none.
	natOwned map[uint64]ownerRule
	// marks are the mark rules in order (WithMarks), byMark the fwmark
	// services.
	marks  []markRule
	byMark []markSvc
}

// MarkRule gives a mark to the packets it matches, as an iptables MARK rule
// in front of LVS: the first rule (in order) that matches a new flow's
// packet decides its mark. A zero field matches anything.
type MarkRule struct {
	Mark     uint32       // not 0
	Proto    uint8        // header.IPProtoTCP, header.IPProtoUDP, or 0: both
	Dst, Src netip.Prefix // IPv4 prefixes; the zero Prefix matches any address
	// DPortLo..DPortHi is the destination port range; 0, 0: any port.
	DPortLo, DPortHi uint16
}

// markRule is a MarkRule as the datapath matches it: address and mask
// words.
type markRule struct {
	dst, dmask, src, smask uint32
	lo, hi                 uint16
	proto                  uint8
	mark                   uint32
}

type markSvc struct {
	mark uint32
	idx  int32
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
	// anyPort: the service is VIP:0, every port of its VIP that no other
	// service of the protocol has; a connection goes to the port the
	// client asked for on its destination, whatever port a NAT
	// destination is configured with (LVS's port-zero services; DR and
	// TUN leave the port as it is). FULLNAT destinations are refused.
	anyPort bool
	mark    uint32 // ServiceConf.FwMark
	// own says which core creates the service's new flows when state LVS
	// keeps per service must be on one core (natOwner).
	own ownerRule
}

// ownerRule is how the core of a service's new flows is chosen, so that
// what LVS keeps per service is on one core:
//
//   - ownClient: a persistent service's flows go to PersistOwner of the
//     client's network under the netmask (word mask), so that one template
//     table holds the client's;
//   - ownTarget: lblc and lblcr, to TargetOwner of the address the client
//     asked for, so that one table holds the target's entry;
//   - ownService: a service with thresholds (-x), or lblc/lblcr that are
//     also persistent or have NAT destinations (whose replies do not carry
//     the target), to ServiceOwner of its ID: one core schedules it and
//     counts its connections, so thresholds hold exactly;
//   - ownNone: any core (NAT destinations aside: NATOwner).
type ownerRule struct {
	kind uint8
	mask uint32 // ownClient
	sid  uint32 // ownService
}

const (
	ownNone = iota
	ownClient
	ownTarget
	ownService
)

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
	natRules := make(map[uint64]ownerRule) // NAT destination → its services' owner rule
	var tunDests []header.Addr4
	for i := range conf {
		c := &conf[i]
		name := fmt.Sprintf("service %s:%d/%s", c.VIP, c.Port, protoName(c.Proto))
		if c.FwMark != 0 {
			name = fmt.Sprintf("service fwmark %d", c.FwMark)
		}
		switch {
		case c.FwMark != 0 && (!c.VIP.IsZero() || c.Port != 0 || c.Proto != 0):
			return nil, fmt.Errorf("%s: a firewall-mark service has no address, port or protocol", name)
		case c.FwMark != 0:
		case c.VIP.IsZero():
			return nil, fmt.Errorf("%s: the VIP must not be 0.0.0.0", name)
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
			quota: int64(c.SessionQuota), caddr: c.ClientAddr, anyPort: c.Port == 0, mark: c.FwMark}
		svc.own = ownerOf(&conf[i])
		s.anyPort = s.anyPort || svc.anyPort
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
			case c.Port == 0 && d.Mode == ModeFullNAT:
				// A local port is taken from a pool per real server port:
				// following the clients' ports, a scan would make a pool
				// per port and real server.
				return nil, fmt.Errorf("%s: a port-0 or firewall-mark service cannot have fullnat destinations; use masq, route or tunnel", dn)
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
				port, proto := d.Port, c.Proto
				if svc.anyPort {
					port = 0 // replies come from any port
					s.natAnyPort = true
				}
				keys := []uint64{svcKey(svc.dests[j].addr, port, proto)}
				if c.FwMark != 0 {
					// Either protocol: both keys.
					keys = []uint64{svcKey(svc.dests[j].addr, 0, header.IPProtoTCP), svcKey(svc.dests[j].addr, 0, header.IPProtoUDP)}
				}
				for _, key := range keys {
					natDests = append(natDests, key)
					// The core owning a destination's replies must follow
					// from the destination alone.
					if r, seen := natRules[key]; seen && r != svc.own {
						return nil, fmt.Errorf("%s: a NAT real server of services that differ in persistence, netmask, thresholds or scheduler (lblc, lblcr): its replies could not tell which core owns them", dn)
					}
					natRules[key] = svc.own
				}
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
		s.svcs[i] = svc
		if c.OnePacket && (c.Proto == header.IPProtoUDP || c.FwMark != 0) {
			if s.ops == nil {
				s.ops = make([]bool, lim.MaxServices)
			}
			s.ops[c.ID] = true
		}
		if c.FwMark != 0 {
			for _, m := range s.byMark {
				if m.mark == c.FwMark {
					return nil, fmt.Errorf("%s: defined twice", name)
				}
			}
			s.byMark = append(s.byMark, markSvc{mark: c.FwMark, idx: int32(i)})
			continue
		}
		k := svcKey(c.VIP, c.Port, c.Proto)
		p := s.slot(k)
		if s.byKey[p].key == k {
			return nil, fmt.Errorf("%s: defined twice", name)
		}
		s.byKey[p] = svcSlot{key: k, idx: int32(i)}
		vips = append(vips, c.VIP)
	}
	s.vips = newAddrSet(vips)
	s.laddrs = newAddrSet(laddrs)
	s.natDests = newKeySet(natDests)
	for k, r := range natRules {
		if r.kind == ownNone {
			continue
		}
		if s.natOwned == nil {
			s.natOwned = make(map[uint64]ownerRule)
		}
		s.natOwned[k] = r
	}
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

// lookup returns the index of the service a packet to VIP:port/proto
// belongs to: VIP:port/proto, else VIP:0/proto (LVS looks the port-zero
// service up when no service has the port), else -1.
func (s *Services) lookup(vip header.Addr4, port uint16, proto uint8) int32 {
	k := svcKey(vip, port, proto)
	if e := s.byKey[s.slot(k)]; e.key == k {
		return e.idx
	}
	if s.anyPort && port != 0 {
		k = svcKey(vip, 0, proto)
		if e := s.byKey[s.slot(k)]; e.key == k {
			return e.idx
		}
	}
	return -1
}

// schedKey is what the service's scheduler sees of a new connection whose
// client tuple is k (PickPersistent, and Bind with the same key). A
// port-zero service's has port 0: LVS's template <proto, client, 0, VIP, 0>
// serves every port of the VIP; a fwmark service's has its mark, on which
// its templates key.
func (s *service) schedKey(k *Tuple4) sched.Key {
	key := sched.Key{Proto: k.Proto, Src: netip.AddrFrom4(k.Src), Dst: netip.AddrFrom4(k.Dst), SPort: k.SPort, DPort: k.DPort, Mark: s.mark}
	if s.anyPort {
		key.DPort = 0
	}
	return key
}

// WithMarks returns a copy of the snapshot with the mark rules, in order,
// for its firewall-mark services. A rule whose mark no service has leaves
// its packets to the VIP:port services (LVS falls back to them).
func (s *Services) WithMarks(rules []MarkRule) (*Services, error) {
	c := *s
	c.marks = make([]markRule, 0, len(rules))
	for i, r := range rules {
		m := markRule{mark: r.Mark, proto: r.Proto, lo: r.DPortLo, hi: r.DPortHi}
		switch {
		case r.Mark == 0:
			return nil, fmt.Errorf("mark rule %d: mark 0 marks nothing", i)
		case r.Proto != 0 && r.Proto != header.IPProtoTCP && r.Proto != header.IPProtoUDP:
			return nil, fmt.Errorf("mark rule %d: protocol %d is not tcp (6) or udp (17)", i, r.Proto)
		case r.DPortLo > r.DPortHi:
			return nil, fmt.Errorf("mark rule %d: port range %d-%d is empty", i, r.DPortLo, r.DPortHi)
		}
		var err error
		if m.dst, m.dmask, err = prefixWords(r.Dst); err != nil {
			return nil, fmt.Errorf("mark rule %d: destination %w", i, err)
		}
		if m.src, m.smask, err = prefixWords(r.Src); err != nil {
			return nil, fmt.Errorf("mark rule %d: source %w", i, err)
		}
		if m.lo == 0 && m.hi == 0 {
			m.hi = 0xffff
		}
		c.marks = append(c.marks, m)
	}
	if len(c.marks) == 0 {
		c.marks = nil
	}
	return &c, nil
}

// prefixWords returns an IPv4 prefix's address and mask as words; the zero
// Prefix matches anything (mask 0).
func prefixWords(p netip.Prefix) (addr, mask uint32, err error) {
	if !p.IsValid() {
		return 0, 0, nil
	}
	if !p.Addr().Is4() {
		return 0, 0, fmt.Errorf("%s is not IPv4", p)
	}
	mask = ^uint32(0) << (32 - p.Bits())
	if p.Bits() == 0 {
		mask = 0
	}
	return header.Addr4From(p.Masked().Addr()).Uint32(), mask, nil
}

// find returns the index of the service a new flow's packet k goes to: the
// fwmark service of the first mark rule it matches, else lookup's.
func (s *Services) find(k *Tuple4) int32 {
	if s.marks != nil {
		if i := s.lookupMark(k); i >= 0 {
			return i
		}
	}
	return s.lookup(k.Dst, k.DPort, k.Proto)
}

// lookupMark returns the fwmark service of the first rule k matches, or -1.
func (s *Services) lookupMark(k *Tuple4) int32 {
	dst, src := k.Dst.Uint32(), k.Src.Uint32()
	for i := range s.marks {
		r := &s.marks[i]
		if (r.proto == 0 || r.proto == k.Proto) && dst&r.dmask == r.dst && src&r.smask == r.src && k.DPort >= r.lo && k.DPort <= r.hi {
			for _, m := range s.byMark {
				if m.mark == r.mark {
					return m.idx
				}
			}
			return -1
		}
	}
	return -1
}

// destPort returns the port a new connection k goes to on destination d:
// d's, or for a port-zero service the one the client asked for (LVS:
// whatever port the destination has).
func (s *service) destPort(d *dest, k *Tuple4) uint16 {
	if s.anyPort {
		return k.DPort
	}
	return d.port
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

// ownerOf returns the owner rule of service c (see ownerRule).
func ownerOf(c *ServiceConf) ownerRule {
	thresh, nat := false, false
	for i, d := range c.Dests {
		thresh = thresh || c.Sched.Dest(i).UThresh != 0
		nat = nat || d.Mode == ModeNAT
	}
	p := c.Sched.Persistence()
	loc := c.Sched.Kind() == sched.LBLC || c.Sched.Kind() == sched.LBLCR
	switch {
	case thresh || (loc && (p.Timeout > 0 || nat)):
		return ownerRule{kind: ownService, sid: c.ID}
	case p.Timeout > 0:
		r := ownerRule{kind: ownClient, mask: ^uint32(0)}
		if p.Netmask.Is4() {
			r.mask = header.Addr4From(p.Netmask).Uint32()
		}
		return r
	case loc:
		return ownerRule{kind: ownTarget}
	}
	return ownerRule{}
}

// owner returns the core, among ncores, of a new flow k (client → service)
// under rule r, and whether the rule fixes one.
func (r ownerRule) owner(k *Tuple4, ncores int) (int, bool) {
	switch r.kind {
	case ownClient:
		return PersistOwner(header.Addr4FromUint32(k.Src.Uint32()&r.mask), ncores), true
	case ownTarget:
		return TargetOwner(k.Dst, ncores), true
	case ownService:
		return ServiceOwner(r.sid, ncores), true
	}
	return 0, false
}

// TargetOwner returns the core, among ncores, that schedules every new
// connection to the target address dst of an lblc or lblcr service: the
// target's entry lives in that core's table alone.
func TargetOwner(dst header.Addr4, ncores int) int { return NATOwner(dst, 1, ncores) }

// ServiceOwner returns the core, among ncores, that schedules every new
// connection of the service with ID sid when it must be one core.
func ServiceOwner(sid uint32, ncores int) int {
	return NATOwner(header.Addr4FromUint32(sid), 2, ncores)
}

// PersistOwner returns the core, among ncores, that owns every connection of
// the client network cnet (the client address under the service's -M
// netmask) to a persistent service: its template lives in that core's
// table alone, so it holds for the client whichever queue RSS gives each of
// its flows. Fixed, not seeded, as NATOwner.
func PersistOwner(cnet header.Addr4, ncores int) int { return NATOwner(cnet, 0, ncores) }

// natOwner says whether k, a packet that matched no session on this core,
// belongs to a connection whose core is fixed, and which core owns it: a
// client's packet to service si (>= 0) with an owner rule (ownerRule) or a
// NAT destination (NATOwner), or a packet from a NAT destination RIP:rport
// to a client (the owner its services' rule gives). With a NAT
// destination in a service, all of its new flows, whatever destination they
// get, are created on the owner's core, since the mode is only known after
// scheduling.
func (s *Services) natOwner(k *Tuple4, si int32, ncores int) (int, bool) {
	if si >= 0 {
		sv := &s.svcs[si]
		if o, ok := sv.own.owner(k, ncores); ok {
			return o, true
		}
		if sv.nat {
			return NATOwner(k.Src, k.SPort, ncores), true
		}
		return 0, false
	}
	if s.natOwned != nil {
		r, ok := s.natOwned[svcKey(k.Src, k.SPort, k.Proto)]
		if !ok && s.natAnyPort {
			r, ok = s.natOwned[svcKey(k.Src, 0, k.Proto)]
		}
		if ok {
			// A reply: the client is its destination (ownTarget is never
			// a NAT destination's rule).
			return r.owner(&Tuple4{Src: k.Dst}, ncores)
		}
	}
	if s.natDests.len() > 0 && (s.natDests.has(svcKey(k.Src, k.SPort, k.Proto)) ||
		(s.natAnyPort && s.natDests.has(svcKey(k.Src, 0, k.Proto)))) {
		return NATOwner(k.Dst, k.DPort, ncores), true
	}
	return 0, false
}

// Lookup returns the ID of the service a packet to VIP:port/proto belongs
// to: VIP:port/proto, else the port-zero service VIP:0/proto.
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

// rescheduleIn reports whether a client packet of session sn ends it and is
// scheduled as a new flow: Policy.ExpireNodestConn with its destination
// gone (destGone), or a datagram of a one-packet service.
func (s *Services) rescheduleIn(sn *Session) bool {
	return s.destGone(sn.DestID) || (int64(sn.SvcID) < int64(len(s.ops)) && s.ops[sn.SvcID] && sn.Orig.Proto == header.IPProtoUDP)
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
