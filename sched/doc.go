// Package sched chooses the destination (real server) of each new connection to a
// virtual service: the Linux Virtual Server schedulers (rr wrr lc wlc sed nq sh dh
// lblc lblcr mh fo ovf twos) with LVS semantics, weights and quiescent destinations,
// upper/lower connection thresholds, and persistence templates. Comments cite the
// LVS function (net/netfilter/ipvs/ip_vs_*.c) whose behaviour they follow.
//
// It is called by the datapath on new connections only — never per packet of an
// established one — and each call is pure Go, allocation-free and lock-free: a
// switch on the Kind, no interface dispatch.
//
// # Ownership
//
// The control plane builds one *Service per virtual service and configuration
// snapshot (NewService) and publishes it with the snapshot. A Service is immutable
// except for per-core state: worker core c calls Pick/PickAt/PickPersistent/
// Release/Expire with index c and nothing else touches c's state. Connection counts
// live in one *Conns shared by all services and snapshots: core c writes only row c
// (Conns.Add), dynamic schedulers sum the rows. Destinations are known by stable IDs
// (DestConf.ID < Conns.MaxDests()); sessions store the ID, Pick returns an index
// into the snapshot's destinations. Tables that outlive a snapshot — persistence
// templates, lblc/lblcr locality entries — pass from one Service to the next with
// WithPrevious.
//
// # Files
//
//   - kind.go: Kind (the scheduler names), ParseKind, String, text marshalling.
//   - flags.go: Flags (ipvsadm -b: sh-fallback, sh-port, mh-fallback, mh-port),
//     ParseFlags, String.
//   - conns.go: Conns, the per-core connection counters per destination ID, the
//     sticky threshold flag (LVS IP_VS_DEST_F_OVERLOAD) and template counts.
//   - service.go: DestConf, Key, Service, NewService and its options, Pick/PickAt
//     (the dispatch), availability: weight > 0 and thresholds with hysteresis.
//   - rr.go: rr and wrr (LVS's gcd-stepped interleaved weighted round robin).
//   - least.go: lc, wlc, sed, nq (least connection family, cross-multiplied).
//   - failover.go: fo (highest weight), ovf (highest weight until it overflows)
//     and twos (the less loaded of two weighted random draws).
//   - hash.go: the key hash and the fixed seeds of sh, dh and mh (the tables that
//     chain, templates and lblc/lblcr, take a random seed: WithSeed), and sh/dh:
//     the bucket table (weighted for sh, one bucket per turn for dh), fallback.
//   - maglev.go: mh: the Maglev lookup table built from destinations sorted by
//     address:port, ip_vs_mh weights, fallback.
//   - locality.go: lblc and lblcr: per-core bounded target tables, replicated sets.
//   - persist.go: Persistence, per-core bounded template tables, PickPersistent,
//     Release, Expire, template listing.
//   - index.go: chains, the pointer-free bounded hash index the tables share.
//
// Tests: ref_test.go holds reference schedulers written from the LVS definitions;
// least_test.go, rr_test.go, hash_test.go, maglev_test.go, locality_test.go,
// persist_test.go and threshold_test.go compare against them or check each
// scheduler's properties on seeded random input; service_test.go checks
// construction errors and that no scheduler ever picks a quiescent or overloaded
// destination; kind_test.go and flags_test.go hold the parser tables and fuzz
// targets; alloc_test.go proves 0 allocations, runs cores concurrently (-race) and
// has the benchmarks; helpers_test.go builds fixtures.
//
// README.md has a table of the schedulers and their rules.
package sched
