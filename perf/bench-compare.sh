#!/usr/bin/env bash
# make bench-compare: the per-packet Go benchmarks (nat, the lcore worker
# loop, the worker on real DPDK ports) of the working tree against a base
# revision (BASE, default main), interleaved run by run so that a drift of
# the machine hits both alike, compared with benchstat.
#
#   BASE=main COUNT=6 PKGS="./nat/ ./lcore/ ./perf/worker/" BENCH=. perf/bench-compare.sh
#
# The base is exported with git archive into a temporary directory (no
# worktree, no change to the repository). Packages missing at the base are
# measured in the working tree only.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-$(command -v go 2>/dev/null || echo /usr/local/go/bin/go)}
BASE=${BASE:-main}
COUNT=${COUNT:-6}
PKGS=${PKGS:-./nat/ ./lcore/ ./perf/worker/}
BENCH=${BENCH:-.}
BENCHTIME=${BENCHTIME:-1s}
out=${OUT:-perf/results/compare}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git archive "$BASE" | tar -x -C "$tmp"
base_rev=$(git rev-parse --short "$BASE")
echo "bench-compare: $BASE ($base_rev) vs the working tree, $COUNT runs each of $PKGS; load: $(uptime)"
: >"$out/base.txt"
: >"$out/work.txt"
run() { # DIR OUTFILE
  local pk=()
  for p in $PKGS; do [ -d "$1/$p" ] && pk+=("$p"); done
  [ ${#pk[@]} -gt 0 ] || return 0
  (cd "$1" && "$GO" test -run '^$' -bench "$BENCH" -benchmem -benchtime "$BENCHTIME" -count 1 "${pk[@]}") \
    | grep -E '^(Benchmark|goos|goarch|pkg|cpu)' >>"$2" || true
}
for i in $(seq "$COUNT"); do
  echo "  round $i/$COUNT (load $(cut -d' ' -f1 /proc/loadavg))"
  run "$tmp" "$out/base.txt"
  run . "$out/work.txt"
done
if "$GO" run golang.org/x/perf/cmd/benchstat@latest -h >/dev/null 2>&1; then
  "$GO" run golang.org/x/perf/cmd/benchstat@latest "base=$out/base.txt" "work=$out/work.txt" | tee "$out/benchstat.txt"
else
  echo "bench-compare: benchstat unavailable (no module proxy?); raw results in $out/base.txt and $out/work.txt"
  echo "bench-compare: install it with: go install golang.org/x/perf/cmd/benchstat@latest"
fi
