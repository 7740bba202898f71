#!/usr/bin/env bash
# The perf lab (make bench): dpdk-testpmd and the gateway side by side on one
# net_pcap vdev and core, every scenario of perf/README.md, results under
# perf/results/STAMP. Arguments go to perf/cmd/bench (try --help).
#
# It installs what is missing (dpdk-dev for dpdk-testpmd, linux-perf for
# profiles), builds bin/gw unless FNGW_GW names another binary, and refuses to
# start without the memory the million-flow scenarios need. Both forwarders
# run on 2 MiB hugepages, as DPDK is deployed: it reserves the pages the
# million-frame scenarios need (and gives back what it added when it ends),
# or, when the kernel cannot spare them or FNGW_BENCH_HUGE=0, runs both
# without hugepages (--no-huge: every mbuf on a 4 KiB page of its own).
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-$(command -v go 2>/dev/null || echo /usr/local/go/bin/go)}
if [ "$(id -u)" != 0 ]; then
  echo "bench: run as root (hugepages, DPDK EAL, vdevs)" >&2
  exit 1
fi
need=()
command -v dpdk-testpmd >/dev/null || need+=(dpdk-dev)
command -v perf >/dev/null || need+=(linux-perf)
if [ ${#need[@]} -gt 0 ]; then
  echo "bench: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  # linux-perf is optional (profiles only): do not fail without it.
  apt-get install -y -q --no-install-recommends dpdk-dev >/dev/null
  apt-get install -y -q --no-install-recommends linux-perf >/dev/null 2>&1 || echo "bench: linux-perf unavailable; no profiles" >&2
fi
avail_mb=$(awk '/MemAvailable/ {print int($2/1024)}' /proc/meminfo)
if [ "$avail_mb" -lt 5500 ]; then
  echo "bench: ${avail_mb} MiB available; the 1M-flow scenarios need about 5.5 GiB (one 4 KiB page per mbuf without hugepages)" >&2
  echo "bench: run a subset instead, e.g. perf/bench.sh -scenarios udp-1k,mixed-1k" >&2
  exit 1
fi
# 1556 pages hold udp-1m's pool (1 048 576 + 16 384 mbufs of 2 560 B, plus
# 512 MiB: perf/lab Bench.sizing); testpmd and the gateway take turns.
huge_pages=1600
huge_args=()
huge_orig=""
huge_free() { awk '/HugePages_Free/ {print $2}' /proc/meminfo; }
restore_huge() {
  if [ -n "$huge_orig" ]; then
    echo "$huge_orig" > /proc/sys/vm/nr_hugepages || true
  fi
}
trap restore_huge EXIT
hugetlbfs_mounted() { awk '$3 == "hugetlbfs" {found=1} END {exit !found}' /proc/mounts; }
if [ "${FNGW_BENCH_HUGE:-1}" != 0 ]; then
  if ! hugetlbfs_mounted; then
    mkdir -p /dev/hugepages && mount -t hugetlbfs nodev /dev/hugepages 2>/dev/null || true
  fi
  free=$(huge_free)
  if [ "$free" -lt "$huge_pages" ] && [ -w /proc/sys/vm/nr_hugepages ]; then
    huge_orig=$(cat /proc/sys/vm/nr_hugepages)
    echo $((huge_orig + huge_pages - free)) > /proc/sys/vm/nr_hugepages || true
  fi
  if [ "$(huge_free)" -ge "$huge_pages" ] && hugetlbfs_mounted; then
    huge_args=(-hugepages)
    echo "bench: $(huge_free) free 2 MiB hugepages"
  else
    restore_huge
    huge_orig=""
    echo "bench: could not get $huge_pages free 2 MiB hugepages and a hugetlbfs mount (memory too fragmented, or /proc/sys read-only?); running without hugepages (--no-huge)" >&2
  fi
fi
gw=${FNGW_GW:-bin/gw}
if [ -z "${FNGW_GW:-}" ]; then
  "$GO" build -o bin/gw ./cmd/gw
fi
# The C yardstick (perf/cref), built against the same DPDK as the gateway.
perf/cref/build.sh "$PWD/bin/cref"
echo "bench: load before start: $(uptime)"
"$GO" run ./perf/cmd/bench -gw "$gw" -cref bin/cref -go "$GO" "${huge_args[@]}" "$@"
