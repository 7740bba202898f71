#!/usr/bin/env bash
# soak.sh — the end-to-end soak of docs/robustness.md: SOAK_DURATION (default
# 10m) of continuous HTTP, bulk and UDP traffic through a FULLNAT service with
# periodic reconfiguration, then the drain checks (test/e2e/soak_test.go,
# build tag soak). Run as root (namespaces); one gateway at a time. The log
# goes to SOAK_LOG (default /tmp/fngw-soak-DATE.log); its "SOAK RESULT" line
# is what docs/robustness.md records.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
export FNGW_SOAK_DURATION=${SOAK_DURATION:-10m}
log=${SOAK_LOG:-/tmp/fngw-soak-$(date +%Y%m%dT%H%M%S).log}
echo "soak: $FNGW_SOAK_DURATION, log $log"
set +e
"$GO" test -tags soak -count=1 -p 1 -timeout 90m -run '^TestSoak$' -v ./test/e2e/ 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
grep -h "SOAK RESULT" "$log" || true
exit "$rc"
