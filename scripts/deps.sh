#!/usr/bin/env bash
# Installs what fngw needs on a Debian 12 machine (as root), only what is missing:
# a C compiler (cgo, perf/cref), DPDK 22.11 and its tools, libpcap, iproute2,
# Prometheus (for promtool: make test checks the metrics endpoint's output, the
# alerting rules and the dashboard's queries with it), keepalived and BIRD (the
# high-availability tests run the real daemons over the kernel path), nginx and
# HAProxy (real servers reading the PROXY protocol in the end-to-end tests),
# then the Go modules.
set -euo pipefail
pkgs=(gcc libdpdk-dev dpdk-dev libpcap-dev pkg-config iproute2 iputils-ping iputils-arping curl procps python3 prometheus keepalived bird2 nginx haproxy)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "deps: missing packages ${missing[*]}; run as root (apt-get install -y ${missing[*]})" >&2
    exit 1
  fi
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  # Only the programs are wanted: the daemons the packages start under
  # systemd (Prometheus's server, keepalived and BIRD on the host's own
  # interfaces, nginx and HAProxy listening on the host) would take CPU from
  # the tests, and the tests start their own keepalived, BIRD, nginx and HAProxy in
  # their namespaces. One installed before is left alone.
  if [ -d /run/systemd/system ]; then
    for unit in prometheus:prometheus keepalived:keepalived bird2:bird nginx:nginx haproxy:haproxy; do
      if [[ " ${missing[*]} " == *" ${unit%%:*} "* ]]; then
        systemctl disable --now "${unit#*:}.service" >/dev/null 2>&1 || true
      fi
    done
  fi
fi
GO=$(command -v go 2>/dev/null || echo /usr/local/go/bin/go)
if [ ! -x "$GO" ]; then
  echo "deps: Go not found (expected on PATH or at /usr/local/go/bin/go); install Go 1.26" >&2
  exit 1
fi
"$GO" mod download
(cd perf/chart && "$GO" mod download) # the perf lab's charts, a module of their own
