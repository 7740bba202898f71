package ctl

import (
	"net/netip"
	"time"
)

// Counters are cumulative traffic counters of a service or destination,
// summed over cores by the daemon.
type Counters struct {
	Conns    uint64 `json:"conns"`
	InPkts   uint64 `json:"inpkts"`
	OutPkts  uint64 `json:"outpkts"`
	InBytes  uint64 `json:"inbytes"`
	OutBytes uint64 `json:"outbytes"`
}

// Rates are per-second rates as produced by an Estimator.
type Rates struct {
	CPS    uint64 `json:"cps"`
	InPPS  uint64 `json:"inpps"`
	OutPPS uint64 `json:"outpps"`
	InBPS  uint64 `json:"inbps"`
	OutBPS uint64 `json:"outbps"`
}

// Stats is what the listing shows for a service or destination: counters,
// rates and connection counts (Active/Inact/Persist are shown for
// destinations only, as ipvsadm does).
type Stats struct {
	Counters
	Rates
	ActiveConns  uint32 `json:"activeconns"`
	InactConns   uint32 `json:"inactconns"`
	PersistConns uint32 `json:"persistconns"`
}

// EstimatorInterval is how often Estimator.Tick must be called.
const EstimatorInterval = 2 * time.Second

// Estimator computes smoothed rates from cumulative counters exactly as the
// kernel's ip_vs_est.c: every 2 seconds the rate over the last interval is
// folded into an exponentially weighted average with weight 1/4,
//
//	avg += (rate - avg) >> 2
//
// kept scaled by 2^10 for conns and packets and by 2^5 for bytes, and read
// back with rounding: (avg + 0x1FF) >> 10, (avg + 0xF) >> 5.
//
// Contract: the daemon owns one Estimator per service and per destination,
// calls Tick from one goroutine every EstimatorInterval (a ticker; ip_vs_est
// has the same assumption), and never on the packet path. The zero value is
// ready, but should be Reset with the current counters first so that the
// first interval does not count the whole history.
type Estimator struct {
	last                              Counters
	cps, inpps, outpps, inbps, outbps int64
}

// Tick folds the counters at the end of an interval into the averages.
func (e *Estimator) Tick(c Counters) {
	// The delta over 2 s shifted by 9 is the per-second rate scaled by 2^10;
	// shifted by 4 it is scaled by 2^5.
	upd := func(avg *int64, cur, last uint64, shift uint) {
		rate := int64((cur - last) << shift)
		*avg += (rate - *avg) >> 2
	}
	upd(&e.cps, c.Conns, e.last.Conns, 9)
	upd(&e.inpps, c.InPkts, e.last.InPkts, 9)
	upd(&e.outpps, c.OutPkts, e.last.OutPkts, 9)
	upd(&e.inbps, c.InBytes, e.last.InBytes, 4)
	upd(&e.outbps, c.OutBytes, e.last.OutBytes, 4)
	e.last = c
}

// Rates returns the current estimates (ip_vs_read_estimator).
func (e *Estimator) Rates() Rates {
	rd := func(v int64, round int64, shift uint) uint64 {
		if v <= 0 {
			return 0
		}
		return uint64((v + round) >> shift)
	}
	return Rates{
		CPS:    rd(e.cps, 0x1FF, 10),
		InPPS:  rd(e.inpps, 0x1FF, 10),
		OutPPS: rd(e.outpps, 0x1FF, 10),
		InBPS:  rd(e.inbps, 0xF, 5),
		OutBPS: rd(e.outbps, 0xF, 5),
	}
}

// Reset zeroes the averages and restarts from counters c
// (ip_vs_zero_estimator, used by -Z).
func (e *Estimator) Reset(c Counters) { *e = Estimator{last: c} }

// Table is everything a listing shows: the model plus runtime statistics.
// The daemon builds it (Config.Table, then fills Stats and Conns); the
// formatting functions only read it. It is JSON-serialisable so that either
// side of the control socket may format it.
type Table struct {
	// Size is what the listing header's size= shows: the number of
	// sessions the workers can hold together ([session] capacity_per_core
	// times the workers). IPVS shows its connection hash table's bucket
	// count there (4096 by default), which limits nothing; fngw's tables
	// are fixed-size, so their capacity is the figure an operator needs.
	// 0 (a table without a datapath behind it) prints DefaultTableSize.
	Size     int             `json:"size"`
	Timeouts Timeouts        `json:"timeouts"`
	Services []ServiceStatus `json:"services"`
	Conns    []Conn          `json:"conns,omitempty"`
}

// ServiceStatus is a service with its statistics, destinations and local
// addresses.
type ServiceStatus struct {
	Service Service       `json:"service"`
	Stats   Stats         `json:"stats"`
	Dests   []DestStatus  `json:"dests"`
	Laddrs  []LaddrStatus `json:"laddrs,omitempty"`
}

// DestStatus is a destination with its statistics.
type DestStatus struct {
	Dest  Dest  `json:"dest"`
	Stats Stats `json:"stats"`
}

// LaddrStatus is a FULLNAT local address with DPVS's --get-laddr counters.
type LaddrStatus struct {
	Laddr         LocalAddr `json:"laddr"`
	PortConflicts uint64    `json:"port_conflicts"`
	Conns         uint32    `json:"conns"`
}

// Conn is one connection (session) for -c. Local is the FULLNAT local
// address:port, zero for other modes. JSON names follow ipvsadm's columns
// (source, virtual, destination) and DPVS's (local).
type Conn struct {
	Proto   Proto          `json:"proto"`
	Client  netip.AddrPort `json:"source"`
	Virtual netip.AddrPort `json:"virtual"`
	Local   netip.AddrPort `json:"local,omitzero"`
	Dest    netip.AddrPort `json:"destination"`
	State   string         `json:"state"`   // e.g. ESTABLISHED, SYN_RECV, FIN_WAIT, UDP
	Expires uint32         `json:"expires"` // seconds left
	Core    int            `json:"core"`    // owning lcore
}

// Table returns a table of c's services with zero statistics, in listing
// order, for the daemon to fill in.
func (c *Config) Table(size int) *Table {
	t := &Table{Size: size, Timeouts: c.Timeouts, Services: make([]ServiceStatus, len(c.Services))}
	for i, vs := range c.Services {
		ss := ServiceStatus{Service: vs.Service, Dests: make([]DestStatus, len(vs.Dests))}
		for j, d := range vs.Dests {
			ss.Dests[j].Dest = d
		}
		for _, l := range vs.Laddrs {
			ss.Laddrs = append(ss.Laddrs, LaddrStatus{Laddr: l})
		}
		t.Services[i] = ss
	}
	return t
}
