#!/usr/bin/env bash
# build.sh OUT: compiles c/cref.c, the perf lab's C reference forwarder, into
# OUT against Debian's DPDK (pkg-config libdpdk), as make bench and its test
# do. -O2 and the distribution's default target, as Debian builds testpmd.
set -euo pipefail
cd "$(dirname "$0")/c"
out=${1:?usage: build.sh OUT}
# shellcheck disable=SC2046 # pkg-config's flags are words
${CC:-cc} -O2 -Wall -Wextra -Werror $(pkg-config --cflags libdpdk) -o "$out" cref.c $(pkg-config --libs libdpdk)
