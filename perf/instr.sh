#!/usr/bin/env bash
# make bench-instr: instructions per packet of the worker benchmarks, counted
# by valgrind's callgrind, in total and by function (inlined callees count in
# their caller). Unlike a time, the count is the same from run to run
# whatever else the machine does, so a change to the per-packet path can be
# judged on a noisy host; it does not see cache misses or stalls (make bench
# does).
#
#   perf/instr.sh                       # the working tree
#   BASE=main perf/instr.sh             # and a base revision, side by side
#   BENCHES="WorkerEstablished1k WorkerNewFlow" TOP=30 perf/instr.sh
#
# Only Worker.Poll is counted (--toggle-collect): a run of N1 and one of N2
# packets, and their difference divided by N2-N1, so that the set-up and the
# benchmark's first passes cancel out. Go's runtime needs two settings under
# valgrind: no asynchronous preemption (callgrind loses track of its
# signals) and no RDTSCP (valgrind does not decode it).
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-$(command -v go 2>/dev/null || echo /usr/local/go/bin/go)}
BENCHES=${BENCHES:-WorkerEstablished1k WorkerEstablished64k WorkerReply WorkerNewFlow}
N1=${N1:-100000}
N2=${N2:-300000}
TOP=${TOP:-15}
out=${OUT:-perf/results/instr}
if ! command -v valgrind >/dev/null || ! command -v callgrind_annotate >/dev/null; then
  echo "bench-instr: installing valgrind"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends valgrind >/dev/null
fi
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# selfcost FILE: "function<TAB>instructions" for every function of a profile.
selfcost() {
  LC_ALL=C callgrind_annotate --auto=no --inclusive=no --tree=none --threshold=100 "$1" 2>/dev/null |
    awk '/file:function/ {p = 1; next}
      p && /^ *[0-9][0-9,]* \(/ {
        n = $1; gsub(",", "", n); f = $0
        sub(/^[^)]*\) +/, "", f); sub(/ \[.*$/, "", f); sub(/^[^:]*:/, "", f)
        s[f] += n
      }
      END {for (f in s) print f "\t" s[f]}' | LC_ALL=C sort -t$'\t' -k1,1
}

# measure LABEL TESTBIN: one line per benchmark in $out/LABEL.txt, the
# functions in $out/LABEL-BENCH.txt.
measure() {
  local label=$1 bin=$2 b n
  : >"$out/$label.txt"
  for b in $BENCHES; do
    for n in "$N1" "$N2"; do
      GODEBUG=asyncpreemptoff=1,cpu.rdtscp=off valgrind --tool=callgrind \
        --toggle-collect='fngw/lcore.(*Worker).Poll' --callgrind-out-file="$tmp/$label.$b.$n" \
        "$bin" -test.run '^$' -test.bench "^Benchmark$b\$" -test.benchtime "${n}x" -test.cpu 1 \
        >"$tmp/$label.$b.$n.log" 2>&1 || { cat "$tmp/$label.$b.$n.log" >&2; exit 1; }
      selfcost "$tmp/$label.$b.$n" >"$tmp/$label.$b.$n.self"
    done
    LC_ALL=C join -t$'\t' -a2 -e0 -o 0,1.2,2.2 "$tmp/$label.$b.$N1.self" "$tmp/$label.$b.$N2.self" |
      awk -F'\t' -v n=$((N2 - N1)) '{d = ($3 - $2) / n; t += d; if (d >= 0.5) printf "%8.1f  %s\n", d, $1}
        END {printf "%8.1f  TOTAL\n", t}' | sort -rn >"$out/$label-$b.txt"
    printf '%s\t%s\n' "$b" "$(awk '$2 == "TOTAL" {print $1}' "$out/$label-$b.txt")" >>"$out/$label.txt"
  done
}

echo "bench-instr: $BENCHES; Worker.Poll's instructions per packet under callgrind ($N1 and $N2 packets)"
"$GO" test -c -o "$tmp/work.test" ./lcore
measure work "$tmp/work.test"
if [ -n "${BASE:-}" ]; then
  mkdir "$tmp/base"
  git archive "$BASE" | tar -x -C "$tmp/base"
  (cd "$tmp/base" && "$GO" test -c -o "$tmp/base.test" ./lcore)
  measure base "$tmp/base.test"
  printf '\n%-24s %10s %10s %8s\n' benchmark "$BASE" "work" change
  LC_ALL=C join -t$'\t' <(sort "$out/base.txt") <(sort "$out/work.txt") |
    awk -F'\t' '{printf "%-24s %10.1f %10.1f %+7.1f%%\n", $1, $2, $3, ($3 - $2) / $2 * 100}'
else
  printf '\n%-24s %10s\n' benchmark "instr/pkt"
  awk -F'\t' '{printf "%-24s %10.1f\n", $1, $2}' "$out/work.txt"
fi
for b in $BENCHES; do
  printf '\n%s (working tree), by function:\n' "$b"
  head -n $((TOP + 1)) "$out/work-$b.txt"
done
echo
echo "bench-instr: per-function tables in $out/"
