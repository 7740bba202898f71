#!/usr/bin/env bash
# The perf lab (make bench): dpdk-testpmd and the gateway side by side on one
# net_pcap vdev and core, every scenario of perf/README.md, results under
# perf/results/STAMP. Arguments go to perf/cmd/bench (try --help).
#
# It installs what is missing (dpdk-dev for dpdk-testpmd, linux-perf for
# profiles), builds bin/gw unless FNGW_GW names another binary, and refuses to
# start without the memory the million-flow scenarios need.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-$(command -v go 2>/dev/null || echo /usr/local/go/bin/go)}
if [ "$(id -u)" != 0 ]; then
  echo "bench: run as root (DPDK EAL without hugepages, vdevs)" >&2
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
gw=${FNGW_GW:-bin/gw}
if [ -z "${FNGW_GW:-}" ]; then
  "$GO" build -o bin/gw ./cmd/gw
fi
echo "bench: load before start: $(uptime)"
exec "$GO" run ./perf/cmd/bench -gw "$gw" "$@"
