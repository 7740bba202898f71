#!/usr/bin/env bash
# fuzz.sh — run every Fuzz target of the module for a bounded time each.
#
#   scripts/fuzz.sh                 every target, FUZZTIME (default 10s) each
#   FUZZTIME=1m scripts/fuzz.sh     longer
#   scripts/fuzz.sh ./nat           the targets of some packages only
#   FUZZ_SAVE=1 scripts/fuzz.sh     also copy what each run found interesting
#                                   (go's cache corpus) into the package's
#                                   testdata/fuzz/FuzzX/, at most FUZZ_KEEP
#                                   (default 40) files per target, to commit
#
# Targets are listed with `go test -list '^Fuzz'` per package, so a new one
# is picked up without editing this file. The committed corpora under
# testdata/fuzz are replayed by plain `go test` too (as seeds), so every
# `make unit` re-checks them. A failing input is written by go test to
# testdata/fuzz/FuzzX/ and the script exits non-zero after running the rest.
set -uo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
FUZZTIME=${FUZZTIME:-10s}
KEEP=${FUZZ_KEEP:-40}
cache=$("$GO" env GOCACHE)/fuzz

if [ $# -gt 0 ]; then
	pkgs=$("$GO" list "$@")
else
	# The packet-exact and end-to-end suites need root and a built gateway
	# and hold no fuzz targets.
	pkgs=$("$GO" list ./... | grep -v -e '/test/pcap$' -e '/test/e2e')
fi

failed=()
ran=0
start=$SECONDS
for pkg in $pkgs; do
	targets=$("$GO" test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true)
	for f in $targets; do
		echo "== $pkg $f ($FUZZTIME)"
		ran=$((ran + 1))
		if ! "$GO" test -run '^$' -fuzz "^${f}\$" -fuzztime "$FUZZTIME" "$pkg"; then
			failed+=("$pkg $f")
		fi
		if [ -n "${FUZZ_SAVE:-}" ] && [ -d "$cache/$pkg/$f" ]; then
			dir=$("$GO" list -f '{{.Dir}}' "$pkg")/testdata/fuzz/$f
			mkdir -p "$dir"
			# The smallest inputs first: they cover the most per byte.
			ls -S -r "$cache/$pkg/$f" | head -n "$KEEP" | while read -r x; do
				cp "$cache/$pkg/$f/$x" "$dir/$x"
			done
			# The cache may hold entries of an older signature of the
			# target: drop every file the replay refuses.
			"$GO" test -count=1 -run "^${f}\$" "$pkg" 2>&1 |
				sed -n 's|.*"testdata/fuzz/'"$f"'/\([0-9a-f]*\)": .*|\1|p' |
				while read -r x; do rm -f "$dir/$x"; done
			if ! "$GO" test -count=1 -run "^${f}\$" "$pkg" >/dev/null 2>&1; then
				failed+=("$pkg $f: the saved corpus does not replay")
			fi
		fi
	done
done
echo "fuzz: $ran targets in $((SECONDS - start))s"
if [ ${#failed[@]} -gt 0 ]; then
	printf 'fuzz: FAILED %s\n' "${failed[@]}"
	exit 1
fi
