#!/bin/sh
# Makes cmd/gw/default.pgo, the profile go build optimises the gateway with
# (profile-guided optimisation: hot calls inlined past the usual budget):
# a CPU profile of the worker benchmarks (established flows, replies, new
# flows, redirects), the per-packet path the gateway spends its time in.
# Run it again after a datapath change (make pgo); perf/README.md.
set -eu
cd "$(dirname "$0")/.."
GO=${GO:-go}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$GO" test -run '^$' -bench '^BenchmarkWorker' -benchtime 2s -count 1 \
	-cpuprofile "$tmp/cpu.pprof" -o "$tmp/lcore.test" ./lcore
mv "$tmp/cpu.pprof" cmd/gw/default.pgo
echo "cmd/gw/default.pgo: $(wc -c < cmd/gw/default.pgo) bytes"
