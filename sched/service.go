package sched

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"fngw/mix"
)

// MaxWeight is the largest weight ipvsadm accepts (-w 0..65535).
const MaxWeight = 65535

// MaxServiceDests bounds the destinations of one service: hash tables hold a
// destination's index as a uint16, and 0xFFFF marks an empty slot.
const MaxServiceDests = 0xFFFF

const noDest = 0xFFFF

// cacheLine pads per-core state so that two cores never write one line.
const cacheLine = 64

// Default sizes of the per-core tables a Service allocates (see the With options).
const (
	DefaultTemplates      = 16384          // persistence templates per core
	DefaultLocality       = 4096           // lblc/lblcr entries per core
	DefaultLocalityExpire = 24 * time.Hour // LVS sysctl lblc_expiration / lblcr_expiration
)

// IP protocol numbers whose first four L4 bytes are the ports (sh-port, mh-port).
const (
	protoTCP  = 6
	protoUDP  = 17
	protoSCTP = 132
)

// DestConf is one destination (real server) of a service, as the control plane
// configures it.
type DestConf struct {
	ID      uint32     // stable across snapshots, < Conns.MaxDests(); allocated by the control plane
	Addr    netip.Addr // real server address (IPv4 or IPv6)
	Port    uint16     // real server port
	Weight  int32      // 0..MaxWeight; 0 = quiescent: never given new connections
	UThresh uint32     // -x: overloaded once active+inactive >= UThresh; 0 = no limit
	LThresh uint32     // -y: available again below LThresh; 0 = below 3/4 of UThresh
	// LastWeight is the latest non-zero weight of a destination now quiesced to
	// Weight 0 (LVS last_weight). Only mh reads it: a quiesced destination keeps its
	// Maglev slots, so taking it out and back moves no other key. Ignored when
	// Weight > 0; 0 when the destination was added with weight 0.
	LastWeight int32
}

// Key is what schedulers may look at in a new connection's first packet.
type Key struct {
	Proto        uint8      // IP protocol number
	Src, Dst     netip.Addr // client address; address the client connected to (the VIP)
	SPort, DPort uint16     // client port; virtual port
	// Mark is the firewall mark of a connection to a fwmark service (0
	// otherwise). Persistence templates then key on it, not on the
	// address and port connected to: LVS's <IPPROTO_IP, client, 0,
	// fwmark, 0>, one template for every address, port and protocol the
	// mark groups.
	Mark uint32
}

// dest is a destination as Pick reads it: small, pointer-free.
type dest struct {
	id      uint32
	weight  int32
	uthresh uint32
	lthresh uint32
}

type idIndex struct {
	id  uint32
	idx uint16
}

// coreState is the per-snapshot scheduling state of one core. Only that core
// touches it.
type coreState struct {
	pos   int32  // rr, wrr: index of the last pick; -1 = the list head
	cw    int32  // wrr: current weight bar
	avail []bool // per destination, refreshed at the start of each pick when thresholds are set
	rnd   uint64 // twos: the core's random sequence (a counter the pick mixes)
	_     [cacheLine - 40]byte
}

// Service is one virtual service's scheduler for one configuration snapshot. It is
// immutable except for per-core state, which only that core touches: core c may
// call Pick, PickAt, PickPersistent, Release, Expire and CopyTemplates with c,
// concurrently with other cores using their own index. The accessors (Kind, Dest,
// Templates, ...) are safe from any goroutine.
//
// Tables that must outlive a snapshot — persistence templates and the lblc/lblcr
// locality tables — are carried from the previous snapshot with WithPrevious.
type Service struct {
	kind   Kind
	flags  Flags
	conns  *Conns
	conf   []DestConf
	dests  []dest    // in configuration order, the order LVS walks its list
	byID   []idIndex // sorted by id
	thresh bool      // some destination has UThresh: picks refresh availability from Conns
	cores  []coreState

	wrrDI, wrrMW int32    // wrr: weight step (gcd) and first bar (see rr.go)
	table        []uint16 // sh, dh: bucket table; mh: Maglev lookup table
	mhMembers    []uint16 // mh: destinations that own slots

	persist Persistence
	timeout int64 // persistence timeout in ns; 0 = not persistent
	mask4   [4]byte
	mask6   [16]byte
	tmpl    []tmplTable // per core; shared with the previous and next snapshots

	loc       []locTable // per core; shared with the previous and next snapshots
	locExpire int64
}

// Option configures NewService.
type Option func(*options)

type options struct {
	persist   Persistence
	prev      *Service
	templates int
	locality  int
	locExpire time.Duration
	seed      uint64
}

// WithPersistence makes the service persistent (ipvsadm -p, -M).
func WithPersistence(p Persistence) Option { return func(o *options) { o.persist = p } }

// WithPrevious carries the per-core tables that must survive a configuration change
// — persistence templates and lblc/lblcr locality entries — over from prev, the
// snapshot this one replaces. Cores may go on using prev while the new Service is
// published: both reach one core's tables only from that core. prev is ignored when
// it was built for other Conns or another number of cores. The control plane should
// always pass the previous snapshot of the same virtual service: a template handle
// held by a session is only honoured by a Service sharing its table.
func WithPrevious(prev *Service) Option { return func(o *options) { o.prev = prev } }

// WithTemplateCapacity sets the number of persistence templates per core (default
// DefaultTemplates). Tables carried over with WithPrevious keep their size.
func WithTemplateCapacity(n int) Option { return func(o *options) { o.templates = n } }

// WithLocality sets the lblc/lblcr table size per core (default DefaultLocality) and
// how long an unused entry lives and how often an lblcr set may shrink (default
// DefaultLocalityExpire, the LVS sysctls lblc_expiration and lblcr_expiration).
func WithLocality(capacity int, expire time.Duration) Option {
	return func(o *options) { o.locality, o.locExpire = capacity, expire }
}

// WithSeed seeds the hash of the persistence template and lblc/lblcr tables
// this Service creates (tables carried over with WithPrevious keep theirs),
// and twos's random choices.
// By default, and with seed 0, the seed is random: clients choose the keys
// of those chained tables (their addresses, the targets they ask for), and
// with a hash they can compute they could pile thousands of keys on one
// chain, making each new connection walk it. Tests set a seed to get the
// same layout on every run. The schedulers whose choice must agree between
// directors (sh, dh, mh) use fixed seeds and are not affected.
func WithSeed(seed uint64) Option { return func(o *options) { o.seed = seed } }

// NewService builds the scheduler of one service snapshot from its destinations,
// in configuration order. conns is shared by all services and snapshots; ncores is
// the number of worker cores that will call Pick (core indexes 0..ncores-1).
func NewService(kind Kind, flags Flags, dests []DestConf, conns *Conns, ncores int, opts ...Option) (*Service, error) {
	if !kind.valid() {
		return nil, fmt.Errorf("sched: invalid scheduler %s", kind)
	}
	if bad := flags &^ kind.allowedFlags(); bad != 0 {
		takes := kind.allowedFlags().String()
		if takes == "" {
			takes = "none"
		}
		return nil, fmt.Errorf("sched: scheduler flag %s does not apply to scheduler %s (it takes: %s)", bad, kind, takes)
	}
	if conns == nil {
		return nil, fmt.Errorf("sched: NewService needs the shared Conns")
	}
	if ncores < 1 || ncores > conns.Cores() {
		return nil, fmt.Errorf("sched: %d cores requested, Conns has rows for 1..%d", ncores, conns.Cores())
	}
	if len(dests) > MaxServiceDests {
		return nil, fmt.Errorf("sched: %d destinations, at most %d per service", len(dests), MaxServiceDests)
	}
	o := options{templates: DefaultTemplates, locality: DefaultLocality, locExpire: DefaultLocalityExpire}
	for _, opt := range opts {
		opt(&o)
	}
	if o.seed == 0 {
		o.seed = rand.Uint64()
	}
	s := &Service{
		kind:  kind,
		flags: flags,
		conns: conns,
		conf:  slices.Clone(dests),
		dests: make([]dest, len(dests)),
		byID:  make([]idIndex, len(dests)),
		cores: make([]coreState, ncores),
	}
	if err := s.setDests(); err != nil {
		return nil, err
	}
	if err := s.setPersistence(o.persist); err != nil {
		return nil, err
	}
	switch kind {
	case WRR:
		s.initWRR()
	case SH, DH:
		s.table = buildBuckets(s.conf, kind == SH)
	case MH:
		s.table, s.mhMembers = buildMaglev(s.conf)
	}
	n := int32(len(s.dests))
	for c := range s.cores {
		cs := &s.cores[c]
		cs.pos, cs.cw = -1, s.wrrMW
		if kind == RR && n > 0 {
			// Each core starts its cycle at a different destination, so that
			// cores do not all send their first connection to the first one.
			cs.pos = int32(c)%n - 1
		}
		if s.thresh {
			cs.avail = make([]bool, n)
		}
		cs.rnd = mix.Uint64(o.seed + uint64(c))
	}
	if err := s.setTables(o, ncores); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Service) setDests() error {
	seen := make(map[netip.AddrPort]int, len(s.conf))
	for i, d := range s.conf {
		what := fmt.Sprintf("sched: destination %d (%s)", i, netip.AddrPortFrom(d.Addr, d.Port))
		switch {
		case !d.Addr.IsValid():
			return fmt.Errorf("sched: destination %d (ID %d) has no address", i, d.ID)
		case int64(d.ID) >= int64(s.conns.MaxDests()):
			return fmt.Errorf("%s: ID %d is not below MaxDests %d", what, d.ID, s.conns.MaxDests())
		case d.Weight < 0 || d.Weight > MaxWeight:
			return fmt.Errorf("%s: weight %d out of range 0..%d", what, d.Weight, MaxWeight)
		case d.LastWeight < 0 || d.LastWeight > MaxWeight:
			return fmt.Errorf("%s: last weight %d out of range 0..%d", what, d.LastWeight, MaxWeight)
		}
		ap := netip.AddrPortFrom(d.Addr, d.Port)
		if j, dup := seen[ap]; dup {
			return fmt.Errorf("%s: same address and port as destination %d", what, j)
		}
		seen[ap] = i
		s.dests[i] = dest{id: d.ID, weight: d.Weight, uthresh: d.UThresh, lthresh: d.LThresh}
		s.byID[i] = idIndex{id: d.ID, idx: uint16(i)}
		if d.UThresh != 0 {
			s.thresh = true
		}
	}
	slices.SortFunc(s.byID, func(a, b idIndex) int { return cmp.Compare(a.id, b.id) })
	for i := 1; i < len(s.byID); i++ {
		if s.byID[i].id == s.byID[i-1].id {
			return fmt.Errorf("sched: destinations %d and %d share ID %d", s.byID[i-1].idx, s.byID[i].idx, s.byID[i].id)
		}
	}
	return nil
}

// Kind returns the scheduler.
func (s *Service) Kind() Kind { return s.kind }

// Flags returns the scheduler flags.
func (s *Service) Flags() Flags { return s.flags }

// LocalityExpire returns how long an lblc/lblcr entry lives unused and an
// lblcr set keeps its members (WithLocality); 0 for other schedulers.
func (s *Service) LocalityExpire() time.Duration { return time.Duration(s.locExpire) }

// Len returns the number of destinations.
func (s *Service) Len() int { return len(s.dests) }

// Dest returns destination i (an index Pick returned) as configured.
func (s *Service) Dest(i int) DestConf { return s.conf[i] }

// DestID returns the stable ID of destination i, which is what sessions store.
func (s *Service) DestID(i int) uint32 { return s.dests[i].id }

// Index returns the index of the destination with the given ID in this snapshot,
// or -1 when it is not one of its destinations.
func (s *Service) Index(id uint32) int {
	lo, hi := 0, len(s.byID)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s.byID[m].id < id {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(s.byID) && s.byID[lo].id == id {
		return int(s.byID[lo].idx)
	}
	return -1
}

// Pick chooses the destination of a new connection arriving on core and returns its
// index in the dests given to NewService, or -1 when none is available. It never allocates and only core
// may call it with that index. It ignores persistence: a persistent service is
// scheduled with PickPersistent. lblc and lblcr age their entries on the core's
// clock, which PickAt, PickPersistent and Expire advance; Pick leaves it where it is.
func (s *Service) Pick(core int, k Key) int {
	var now int64
	if s.loc != nil {
		now = s.loc[core].now
	}
	return s.PickAt(core, k, now)
}

// PickAt is Pick with the caller's monotonic clock in nanoseconds (read once per
// burst), which lblc and lblcr use.
func (s *Service) PickAt(core int, k Key, now int64) int {
	cs := &s.cores[core]
	if s.thresh {
		s.refresh(cs)
	}
	i := -1
	switch s.kind {
	case RR:
		i = s.pickRR(cs)
	case WRR:
		i = s.pickWRR(cs)
	case LC:
		i = s.pickLC(cs)
	case WLC:
		i = s.pickWLC(cs)
	case SED:
		i = s.pickSED(cs, false)
	case NQ:
		i = s.pickSED(cs, true)
	case SH:
		i = s.pickBucket(cs, hashKey(k.Src, s.port(k, SHPort), seedBucket), s.flags&SHFallback != 0)
	case DH:
		i = s.pickBucket(cs, hashKey(k.Dst, 0, seedBucket), false)
	case MH:
		i = s.pickMH(cs, k.Src, s.port(k, MHPort))
	case LBLC:
		i = s.pickLBLC(cs, &s.loc[core], k.Dst, now)
	case LBLCR:
		i = s.pickLBLCR(cs, &s.loc[core], k.Dst, now)
	case FO:
		i = s.pickFO(cs)
	case OVF:
		i = s.pickOVF(cs)
	case TWOS:
		i = s.pickTWOS(cs)
	}
	if i >= 0 && s.thresh {
		s.bind(i)
	}
	return i
}

// port returns the client port when flag (sh-port, mh-port) is set and the protocol
// has ports, else 0 (ip_vs_sh_get_port).
func (s *Service) port(k Key, flag Flags) uint16 {
	if s.flags&flag == 0 {
		return 0
	}
	switch k.Proto {
	case protoTCP, protoUDP, protoSCTP:
		return k.SPort
	}
	return 0
}

// refresh evaluates the thresholds of every destination once for this pick, so that
// the pick sees one consistent view even while other cores change the counts.
//
// LVS re-evaluates a destination's flag whenever a connection is bound to it or
// unbound from it. Here counts only fall between two picks (closing connections);
// they rise only through a pick, which binds (see bind). So the total a pick sees
// is the lowest since the last one, and clearing the flag on it, as unbind would
// have, gives LVS's result.
func (s *Service) refresh(cs *coreState) {
	for i := range s.dests {
		d := &s.dests[i]
		ok := d.weight > 0
		if ok && d.uthresh != 0 {
			a, in := s.conns.Sum(d.id)
			ok = !s.conns.overloaded(d.id, int64(a)+int64(in), d.uthresh, d.lthresh)
		}
		cs.avail[i] = ok
	}
}

// bind is the threshold half of LVS's ip_vs_unbind_dest and ip_vs_bind_dest for the
// destination just chosen: its flag is settled on the current total (a template
// hit comes here without a refresh), then the connection about to be created
// counts, so a destination reaching UThresh with it is flagged now.
func (s *Service) bind(i int) {
	d := &s.dests[i]
	if d.uthresh == 0 {
		return
	}
	a, in := s.conns.Sum(d.id)
	total := int64(a) + int64(in)
	if !s.conns.overloaded(d.id, total, d.uthresh, d.lthresh) && total+1 >= int64(d.uthresh) {
		s.conns.markOverloaded(d.id)
	}
}

// usable reports whether destination i may take a new connection: weight > 0 and
// not overloaded (LVS: weight > 0 && !(flags & IP_VS_DEST_F_OVERLOAD)).
func (s *Service) usable(cs *coreState, i int) bool {
	if s.thresh {
		return cs.avail[i]
	}
	return s.dests[i].weight > 0
}

// load returns destination i's connection counts and whether it is usable. The
// counts of an unusable destination are not read.
func (s *Service) load(cs *coreState, i int) (active, inactive int64, ok bool) {
	if !s.usable(cs, i) {
		return 0, 0, false
	}
	a, in := s.conns.Sum(s.dests[i].id)
	return int64(a), int64(in), true
}

func gcd(a, b int32) int32 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// sortedOrder returns destination indexes ordered by address, then port: the order
// hash tables are built in, so that every node builds the same table whatever order
// the destinations were configured in.
func sortedOrder(conf []DestConf) []uint16 {
	order := make([]uint16, len(conf))
	for i := range order {
		order[i] = uint16(i)
	}
	slices.SortFunc(order, func(a, b uint16) int {
		if c := conf[a].Addr.Compare(conf[b].Addr); c != 0 {
			return c
		}
		return cmp.Compare(conf[a].Port, conf[b].Port)
	})
	return order
}
