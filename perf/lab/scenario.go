package lab

import (
	"fmt"

	"fngw/perf/gen"
)

// Kind is what a scenario measures.
type Kind string

// Scenario kinds.
const (
	// Throughput: established-flow forwarding rate, gw side by side with
	// testpmd on the same looped pcap (replayed from memory).
	Throughput Kind = "throughput"
	// NewSessions: sessions created per second during the first pass over
	// a looped pcap of unique SYNs (the gateway's own counters).
	NewSessions Kind = "new-sessions"
	// Memory: fill one core's table from a pcap streamed once; resident
	// memory growth per session.
	Memory Kind = "memory"
	// Stress: established-flow forwarding rate of the same gateway with
	// and without its control plane hammered (StressLoad) through the
	// window, run after run; the figure is their ratio, with the workers'
	// poll gaps and the Go runtime's GC pauses in each window.
	Stress Kind = "stress"
)

// Scenario is one line of the results table.
type Scenario struct {
	Name     string
	Title    string
	Kind     Kind
	Mode     gen.Mode
	Proto    string
	Flows    int
	Size     int // wire bytes with FCS
	Servers  int // real servers on the lab plan
	LIPs     int // local addresses (flows ≤ 64 512 × Servers × LIPs)
	Capacity int // sessions per core
	// Streamed: the pcap is read once from the file (net_pcap without
	// infinite_rx), so it need not fit in mbufs.
	Streamed bool
	// Target: the minimum gw/testpmd ratio (Throughput), sessions per second
	// (NewSessions) or the maximum bytes per session (Memory).
	Target float64
	// MinSessions (Memory): the number of sessions to reach.
	MinSessions int
	// Reps, when set, replaces the configured number of runs (Config.FillReps
	// for Memory, whose figure does not vary between runs).
	Reps int
	// Profile: record where the gateway's worker spends its time.
	Profile bool
	// FillFlows (Stress): unique flows streamed once into a second port
	// before the window, so that the table the listings walk holds that
	// many sessions besides the looped Flows.
	FillFlows int
}

// Spec is the scenario's traffic on the lab plan.
func (s *Scenario) Spec() (gen.Spec, error) {
	sp, err := gen.LabSpec(s.Mode, s.Proto, s.Flows, s.Size, 80, 8080, s.Servers, s.LIPs)
	if err != nil {
		return sp, err
	}
	sp.Defaults()
	return sp, sp.Validate()
}

// TargetText is the target as the table prints it.
func (s *Scenario) TargetText() string {
	switch s.Kind {
	case Throughput:
		if s.Target == 0 {
			return "—"
		}
		return fmt.Sprintf("≥ %.2f of testpmd", s.Target)
	case NewSessions:
		return fmt.Sprintf("≥ %.1f M/s", s.Target/1e6)
	case Memory:
		return fmt.Sprintf("≥ %d M sessions, ≤ %.0f B each", s.MinSessions/1_000_000, s.Target)
	case Stress:
		return fmt.Sprintf("≥ %.2f of the same without stress", s.Target)
	}
	return ""
}

// Scenarios are the perf lab's scenarios, in the order they run: those
// with a target (perf/README.md, "Scenarios and targets"), plus the
// two-direction mix, which has none.
var Scenarios = []Scenario{
	{Name: "udp-1k", Title: "FULLNAT established, 64 B UDP, 1 024 flows", Kind: Throughput,
		Mode: gen.Forward, Proto: "udp", Flows: 1024, Size: 64, Servers: 1, LIPs: 1, Capacity: 1 << 20, Target: 0.80, Profile: true},
	{Name: "udp-1m", Title: "FULLNAT established, 64 B UDP, 1 048 576 flows", Kind: Throughput,
		Mode: gen.Forward, Proto: "udp", Flows: 1 << 20, Size: 64, Servers: 4, LIPs: 8, Capacity: 1 << 21, Target: 0.50, Profile: true},
	{Name: "mixed-1k", Title: "FULLNAT both directions (client→VIP, RS→LIP interleaved), 64 B UDP, 1 024 flows", Kind: Throughput,
		Mode: gen.Mixed, Proto: "udp", Flows: 1024, Size: 64, Servers: 1, LIPs: 1, Capacity: 1 << 20},
	{Name: "syn-1m", Title: "New sessions: 1 048 576 unique TCP SYNs, first pass", Kind: NewSessions,
		Mode: gen.SYN, Proto: "tcp", Flows: 1 << 20, Size: 64, Servers: 4, LIPs: 8, Capacity: 1 << 21, Target: 2e6, Profile: true},
	{Name: "fill-16m", Title: "Concurrent sessions: one core's table filled (16 777 216 UDP flows, streamed)", Kind: Memory,
		Mode: gen.Forward, Proto: "udp", Flows: 1 << 24, Size: 64, Servers: 16, LIPs: 17, Capacity: 1 << 24,
		Streamed: true, Target: 128, MinSessions: 10_000_000},
	{Name: "stress-1k", Title: "udp-1k's traffic, its control plane hammered (scrapes, -L -c of 1 M sessions, weight edits, reloads, forced GCs)", Kind: Stress,
		Mode: gen.Forward, Proto: "udp", Flows: 1024, Size: 64, Servers: 4, LIPs: 8, Capacity: 1 << 21, Target: 0.95, FillFlows: 1 << 20},
}

// ByName returns the scenario called name.
func ByName(name string) (Scenario, bool) {
	for _, s := range Scenarios {
		if s.Name == name {
			return s, true
		}
	}
	return Scenario{}, false
}
