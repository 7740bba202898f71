package lcore

import "sync/atomic"

// Reason is why a worker dropped a packet before or around load balancing (the
// reasons inside load balancing are nat.DropReason). Each has its own counter.
type Reason uint8

// Drop reasons, in the order of the counters.
const (
	ShortFrame       Reason = iota // shorter than an Ethernet header
	MultiSegment                   // chained mbufs (jumbo scatter) are not handled
	UnknownEtherType               // neither IPv4 nor ARP
	VLANOnUntagged                 // 802.1Q frame on an untagged port
	OtherHost                      // unicast to a MAC that is not the port's
	L2Multicast                    // IPv4 in a broadcast/multicast frame
	MalformedIPv4                  // version, IHL or total length inconsistent with the frame
	BadIPv4Checksum                // header checksum wrong (NIC verdict or software check)
	NotForUs                       // IPv4 to an address the gateway neither owns nor balances
	TxQueueFull                    // the port's tx queue did not take the packet
	RedirectRingFull               // the owner core's redirect ring was full
	ControlRingFull                // the control lcore's ring was full
	BadL4Checksum                  // TCP/UDP checksum wrong by the NIC's verdict
	LocalUnhandled                 // not ICMP, to an address the gateway owns that no service uses
	MartianSource                  // source in 0/8, 127/8, 224/4 or 240/4 (RFC 1812 §5.3.7)
	ICMPRateLimited                // ICMP to the gateway above ICMPRate (icmp_msgs_per_sec)
	BroadcastSource                // source is a connected subnet's directed broadcast (Linux: martian source)
	NumReasons
)

var reasonNames = [NumReasons]string{
	"short_frame", "multi_segment", "unknown_ethertype", "vlan_on_untagged_port",
	"other_host", "l2_multicast", "malformed_ipv4", "bad_ipv4_checksum", "not_for_us",
	"tx_queue_full", "redirect_ring_full", "control_ring_full",
	"bad_l4_checksum", "local_unhandled", "martian_source", "icmp_local_rate_limited",
	"broadcast_source",
}

// String is the reason's metric label.
func (r Reason) String() string {
	if r < NumReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// counter is a per-core counter: one writer (its core) updates it with a plain
// load and store (no locked instruction); anyone may read it atomically.
type counter struct{ v atomic.Uint64 }

func (c *counter) add(n uint64) { c.v.Store(c.v.Load() + n) }
func (c *counter) set(n uint64) { c.v.Store(n) }
func (c *counter) get() uint64  { return c.v.Load() }

// counters is one worker's counters. Only that worker writes them.
type counters struct {
	rx, tx               counter
	redirectOut          counter
	redirectIn           counter
	toControl            counter
	injected             counter
	drops                [NumReasons]counter
	pollsBusy, pollsIdle counter
	busyNs, totalNs      counter
	// The poll-gap histogram (gap.go): gaps counts every gap since the
	// start, gapBase what it counted at the last reset, gapMax the longest
	// gap since then.
	gaps, gapBase [NumGapBuckets]counter
	gapMax        counter
}

// Stats is a copy of one core's counters, read by the control plane.
type Stats struct {
	Core        int                `json:"core"`
	Rx          uint64             `json:"rx_packets"`
	Tx          uint64             `json:"tx_packets"`
	RedirectOut uint64             `json:"redirect_out"`
	RedirectIn  uint64             `json:"redirect_in"`
	ToControl   uint64             `json:"to_control"`
	Injected    uint64             `json:"injected"`
	Drops       [NumReasons]uint64 `json:"-"`
	PollsBusy   uint64             `json:"polls_busy"`
	PollsIdle   uint64             `json:"polls_idle"`
	BusyNs      uint64             `json:"busy_ns"`
	TotalNs     uint64             `json:"total_ns"`
	// Gaps counts the gaps between the starts of consecutive turns of the
	// loop by bucket (GapBound) since the worker started, GapsSince since
	// the last ResetGaps; GapMax is the longest since then, in ns.
	Gaps      [NumGapBuckets]uint64 `json:"-"`
	GapsSince [NumGapBuckets]uint64 `json:"-"`
	GapMax    uint64                `json:"-"`
}

func (c *counters) snapshot(core int) Stats {
	s := Stats{Core: core, Rx: c.rx.get(), Tx: c.tx.get(),
		RedirectOut: c.redirectOut.get(), RedirectIn: c.redirectIn.get(),
		ToControl: c.toControl.get(), Injected: c.injected.get(),
		PollsBusy: c.pollsBusy.get(), PollsIdle: c.pollsIdle.get(),
		BusyNs: c.busyNs.get(), TotalNs: c.totalNs.get()}
	for i := range c.drops {
		s.Drops[i] = c.drops[i].get()
	}
	// The bases before the buckets: a reset between the two reads can
	// only add the gaps before it, never make a count negative.
	for i := range c.gapBase {
		s.GapsSince[i] = c.gapBase[i].get()
	}
	s.GapMax = c.gapMax.get()
	for i := range c.gaps {
		s.Gaps[i] = c.gaps[i].get()
		s.GapsSince[i] = s.Gaps[i] - s.GapsSince[i]
	}
	return s
}
