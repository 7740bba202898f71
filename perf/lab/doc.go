// Package lab is fngw's perf lab runner (behind `make bench` and
// perf/cmd/bench): it measures the gateway side by side with dpdk-testpmd on
// the same net_pcap vdev and core, in the scenarios of scenario.go (each with
// its target), and reports medians, ranges, ratios and profiles.
//
// For each scenario it generates the traffic (package perf/gen, cached by
// content), then for each repetition runs testpmd (macswap) and the gateway
// one after the other, so that a drift of the machine hits both alike:
//
//	throughput    testpmd: counters from `show port stats all` at both ends of
//	              the window, in macswap (the target's reference) and then in
//	              each mode of Config.Refs (5tswap by default: a yardstick
//	              that parses every packet and rewrites its addresses and
//	              ports, as a NAT does, but looks nothing up), then cref
//	              (Config.CRef: the gateway's work in C, perf/cref), which
//	              speaks testpmd's commands; gw: counters
//	              from `gw link show -s --json`, after the first pass of the
//	              looped pcap created every session
//	new-sessions  gw only: `gw stats --json` sampled as fast as the CLI allows
//	              during the first pass; the rate is the least-squares slope of
//	              sessions created over time between 10 % and 90 % of the pass
//	memory        gw only: a pcap streamed once fills one core's table; RSS
//	              (/proc) sampled with the session count; bytes per session is
//	              RSS at the end minus a gateway with a 1 024-session table,
//	              divided by sessions; also the slope of RSS over sessions while
//	              filling, which is near 0: the table is committed at start and
//	              the worker allocates nothing per session
//	stress        gw only, twice per repetition: the same gateway (the looped
//	              pcap on port 0, a million sessions streamed in once through
//	              port 1) alone and with its control plane hammered through
//	              the window (stress.go: scrapers, -L -c, weight edits,
//	              reloads, collections forced by the gateway's
//	              FNGW_STRESS_FORCE_GC); the ratio of their rates, the
//	              worker's poll gaps (gw stats, reset at the window's start)
//	              and the GC's pauses (fngw_go_pause_seconds at both ends)
//
// During every window it accounts the CPU time of the machine (/proc/stat)
// against the process under test and itself: time used by other processes or
// stolen by the hypervisor marks the run noisy, and it is measured again.
// The runner confines itself, and so the CLI calls and perf it starts, to the
// main CPU (PinRunner); the forwarders get the machine's CPUs back and poll
// on the worker CPU alone.
//
// Files:
//
//	scenario.go  the scenarios and their targets
//	bench.go     Bench: pcaps, sizing, repetitions, the gw measurements, profiles
//	testpmd.go   running dpdk-testpmd interactively and reading its counters
//	gateway.go   the gw configuration, process and CLI readings
//	run.go       one measurement (Run) and its JSON
//	pin_linux.go keeping the runner off the worker CPU
//	sys.go       CPU accounting, RSS, load, the machine's description
//	stats.go     median and range, least-squares slope
//	stress.go    the stress scenario's load and runs; histograms read from a
//	             scrape or gw stats, and their quantiles
//	report.go    summary.json, the Markdown table and the targets' table
//	chart.go     drawing the PNG charts with perf/chart, a module of its own
package lab
