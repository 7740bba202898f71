#!/usr/bin/env bash
# fngw demo (make demo): a FULLNAT load balancer in front of two real HTTP
# servers, on one machine, with network namespaces and DPDK net_tap ports.
#
#   fngw-client 198.18.1.2 ── tap ── [fngw-gw: gw] dpdk0 198.18.1.1, VIP 198.18.1.100:80
#                                                 dpdk1 198.18.2.1, LIPs 198.18.2.100-101
#                                                   └── tap ── fngw-sw (bridge) ─┬─ fngw-rs1 198.18.2.11:80
#                                                                                └─ fngw-rs2 198.18.2.12:80
#
# It starts gw from configs/demo.toml, adds the service with the ipvsadm
# commands of an LVS/DPVS user, sends HTTP requests from the client, shows
# which server answered and which addresses the servers saw (only the local
# addresses: FULLNAT), and prints the gateway's tables and counters. Then it
# adds a second service with an HTTP health check to the file and applies it
# with gw reload, stops one server's HTTP daemon, shows the gateway take it
# out of rotation (weight 0) and put it back when it answers again. It
# removes everything it made on exit, Ctrl-C or failure, and exits non-zero
# if any request failed or a check did not see what happened. Run as root; `make demo` installs what is missing and
# builds bin/gw first.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
GW=$ROOT/bin/gw
CONF=$ROOT/configs/demo.toml   # copied to $TMP/gw.toml, which the health-check part edits
SOCK=/run/fngw/demo.sock
VIP=198.18.1.100
REQUESTS=${REQUESTS:-400}
PARALLEL=${PARALLEL:-4}
NS_GW=fngw-gw NS_CL=fngw-client NS_SW=fngw-sw NS_RS1=fngw-rs1 NS_RS2=fngw-rs2
ALL_NS="$NS_GW $NS_CL $NS_SW $NS_RS1 $NS_RS2"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '+ %s\n' "$*"; "$@"; }
gw() { "$GW" --sock "$SOCK" "$@"; }
die() { echo "demo: $*" >&2; exit 1; }
# start_rs I: rs I's HTTP server (python3 -m http.server on 198.18.2.1I:80).
start_rs() {
  ip netns exec "fngw-rs$1" python3 -m http.server 80 --bind "198.18.2.1$1" --directory "$TMP/rs$1" >>"$TMP/rs$1.log" 2>&1 &
  RS_PID[$1]=$!
  PIDS+=($!)
}
# requests N PORT FILE: N HTTP requests from the client to the VIP's PORT,
# PARALLEL at a time, one answer (the server's name, or FAILED) per line.
# In the background and waited for, so that a signal to this script is
# handled at once (bash runs traps only between foreground commands); in its
# own process group (setsid), which cleanup kills whole: xargs and its curls.
requests() {
  setsid ip netns exec "$NS_CL" sh -c "seq $1 | xargs -P $PARALLEL -I{} sh -c 'curl -sf -m 3 http://$VIP:$2/ || echo FAILED'" >"$3" &
  TRAFFIC=$!
  wait $TRAFFIC
  TRAFFIC=
}
# answered FILE N WHO: all N answers in FILE came from the servers WHO (a
# regular expression: rs1, rs[12]); print them per server.
answered() {
  echo "answers per real server:"
  grep -v FAILED "$1" | sort | uniq -c | sed 's/^/  /'
  [ "$(grep -cxE "$3" "$1" || true)" -eq "$2" ] || die "not all $2 requests were answered by $3"
}
# check_state DEST STATE SECONDS: wait until gw check show lists DEST of the
# checked service in STATE, showing its row live every half second; print how
# long it took, or fail.
check_state() {
  local t0 n=0
  t0=$(date +%s.%N)
  while ! gw check show | awk -v v="$VIP:8080/tcp" -v d="$1" -v s="$2" '$1 == v && $2 == d && $3 == s { found = 1 } END { exit !found }'; do
    if awk "BEGIN { exit !($(date +%s.%N) - $t0 > $3) }"; then
      gw check show
      die "$1 not $2 within $3 s"
    fi
    n=$((n + 1))
    [ $((n % 5)) -eq 0 ] && gw check show | awk -v v="$VIP:8080/tcp" -v d="$1" '$1 == v && $2 == d { print "  [live] " $0 }'
    sleep 0.1
  done
  gw check show | awk -v v="$VIP:8080/tcp" -v d="$1" '$1 == v && $2 == d { print "  [live] " $0 }'
  printf '%s is %s after %.1f s\n' "$1" "$2" "$(awk "BEGIN { print $(date +%s.%N) - $t0 }")"
}

[ "$(id -u)" = 0 ] || die "run as root (network namespaces, tap devices and DPDK need it): sudo make demo"
if [ ! -x "$GW" ]; then
  ./scripts/deps.sh
  make -s build
fi
for c in ip curl python3; do command -v $c >/dev/null || die "$c is missing; run scripts/deps.sh (or make demo)"; done
if gw link show >/dev/null 2>&1; then
  die "a gateway already answers on $SOCK (another demo running?); stop it first"
fi

TMP=$(mktemp -d /tmp/fngw-demo.XXXXXX)
PIDS=()   # processes this script started (servers, stats loop)
RS_PID=() # the HTTP server of rs1 and rs2 (indexes 1 and 2)
GW_PID=
TRAFFIC=  # process group of the client traffic while it runs

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  [ -n "$TRAFFIC" ] && kill -- -"$TRAFFIC" 2>/dev/null
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  if [ -n "$GW_PID" ] && kill -0 "$GW_PID" 2>/dev/null; then
    kill -TERM "$GW_PID"
    for _ in $(seq 100); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$GW_PID" 2>/dev/null && { echo "demo: gw did not stop within 10 s; killing it" >&2; kill -KILL "$GW_PID"; }
  fi
  wait 2>/dev/null
  for ns in $ALL_NS; do ip netns del "$ns" 2>/dev/null; done
  if [ $rc -ne 0 ] && [ -f "$TMP/gw.log" ]; then
    echo "--- gw log (last 30 lines) ---" >&2
    tail -30 "$TMP/gw.log" >&2
  fi
  rm -rf "$TMP"
  echo "demo: cleaned up (namespaces, processes, $TMP)"
  exit $rc
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted"; exit 130' INT TERM

say "namespaces: $ALL_NS"
for ns in $ALL_NS; do
  ip netns del "$ns" 2>/dev/null || true   # a leftover of an interrupted run
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  # IPv4 only: no IPv6 router/neighbour solicitations in the counters.
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done

say "gateway: gw run -c configs/demo.toml (in $NS_GW)"
mkdir -p "$(dirname "$SOCK")"
cp "$CONF" "$TMP/gw.toml"
ip netns exec "$NS_GW" "$GW" run -c "$TMP/gw.toml" >"$TMP/gw.log" 2>&1 &
GW_PID=$!
for _ in $(seq 100); do
  gw link show >/dev/null 2>&1 && break
  kill -0 "$GW_PID" 2>/dev/null || die "gw exited during start-up"
  sleep 0.2
done
gw link show >/dev/null 2>&1 || die "gw did not answer on $SOCK within 20 s"
grep -E 'port up|forwarding' "$TMP/gw.log" | sed 's/^time=[^ ]* //'

say "wiring: client tap -> $NS_CL, server tap -> bridge in $NS_SW with veths to $NS_RS1 and $NS_RS2"
ip -n "$NS_GW" link set fngw-demo-c netns "$NS_CL"
ip -n "$NS_CL" addr add 198.18.1.2/24 dev fngw-demo-c
ip -n "$NS_CL" link set fngw-demo-c up
ip -n "$NS_CL" route add default via 198.18.1.1
ip -n "$NS_GW" link set fngw-demo-s netns "$NS_SW"
ip -n "$NS_SW" link add br0 type bridge
ip -n "$NS_SW" link set fngw-demo-s master br0
ip -n "$NS_SW" link set fngw-demo-s up
ip -n "$NS_SW" link set br0 up
i=0
for ns in $NS_RS1 $NS_RS2; do
  i=$((i + 1))
  ip -n "$NS_SW" link add "sw-rs$i" type veth peer name eth0 netns "$ns"
  ip -n "$NS_SW" link set "sw-rs$i" master br0
  ip -n "$NS_SW" link set "sw-rs$i" up
  ip -n "$ns" addr add "198.18.2.1$i/24" dev eth0
  ip -n "$ns" link set eth0 up
  mkdir -p "$TMP/rs$i"
  echo "rs$i" >"$TMP/rs$i/index.html"
  start_rs $i
done
for i in 1 2; do
  for _ in $(seq 50); do
    ip netns exec "fngw-rs$i" curl -sf -m 1 -o /dev/null "http://198.18.2.1$i/" && break
    sleep 0.2
  done
  ip netns exec "fngw-rs$i" curl -sf -m 1 -o /dev/null "http://198.18.2.1$i/" || die "the HTTP server of rs$i did not start"
done
: >"$TMP/rs1.log"; : >"$TMP/rs2.log"   # forget the readiness checks (the logs are O_APPEND)
echo "rs1 198.18.2.11:80 and rs2 198.18.2.12:80 serve HTTP (python3 -m http.server)"

say "FULLNAT service, as an ipvsadm/DPVS user types it (gw adm = ipvsadm)"
run gw adm -A -t $VIP:80 -s rr
run gw adm -a -t $VIP:80 -r 198.18.2.11:80 --fullnat -w 1
run gw adm -a -t $VIP:80 -r 198.18.2.12:80 --fullnat -w 1
run gw adm --add-laddr -z 198.18.2.100 -t $VIP:80 -F dpdk1
run gw adm --add-laddr -z 198.18.2.101 -t $VIP:80 -F dpdk1

say "traffic: $REQUESTS HTTP requests from $NS_CL to http://$VIP/ ($PARALLEL at a time), live stats every second"
(
  while sleep 1; do
    printf '  [live] %s | %s\n' "$(gw stats 2>/dev/null | head -1)" \
      "$(gw adm -L -n --rate 2>/dev/null | awk '$1 == "TCP" { print "CPS " $3 " InPPS " $4 " OutPPS " $5; exit }')"
  done
) &
PIDS+=($!)
start=$(date +%s.%N)
requests "$REQUESTS" 80 "$TMP/answers"
end=$(date +%s.%N)
LIVE=${PIDS[-1]}
kill "$LIVE" 2>/dev/null || true
wait "$LIVE" 2>/dev/null || true

failed=$(grep -c FAILED "$TMP/answers" || true)
ok=$(grep -cE '^rs[12]$' "$TMP/answers" || true)
printf '%d requests in %.1f s: %d answered, %d failed\n' "$REQUESTS" "$(awk "BEGIN { print $end - $start }")" "$ok" "$failed"
echo "answers per real server:"
grep -E '^rs[12]$' "$TMP/answers" | sort | uniq -c | sed 's/^/  /'
echo "client addresses the real servers saw (FULLNAT: only the local addresses):"
for i in 1 2; do
  awk -v rs="rs$i" '/"GET / { n[$1]++ } END { for (a in n) printf "  %s: %s x%d\n", rs, a, n[a] }' "$TMP/rs$i.log" | sort
done

say "gw adm -L -n"
gw adm -L -n
say "gw adm -L -n --stats"
gw adm -L -n --stats
say "gw adm -G   (local addresses: ports in use, conflicts)"
gw adm -G
say "gw adm -L -n -c | head   (sessions: client, virtual, local, destination)"
gw adm -L -n -c >"$TMP/conns"
head -8 "$TMP/conns"
say "gw stats"
gw stats

rs_ok=1
for i in 1 2; do grep -qx "rs$i" "$TMP/answers" || rs_ok=0; done
if [ "$failed" -ne 0 ] || [ "$ok" -ne "$REQUESTS" ] || [ $rs_ok -ne 1 ]; then
  say "FAILED: $failed of $REQUESTS requests failed (or a server never answered)"
  exit 1
fi
echo "all $REQUESTS requests answered, by both real servers"

say "health checks: a second service, $VIP:8080 on the same servers, with an HTTP check; added to the file, applied by gw reload"
cat >>"$TMP/gw.toml" <<EOF

[[service]]
proto = "tcp"
vip = "$VIP:8080"
sched = "rr"
laddrs = ["198.18.2.102 dev dpdk1", "198.18.2.103 dev dpdk1"]

[service.check]                # from the gateway host, through dpdk1's kernel interface
type = "http"
path = "/"
interval = "1s"
timeout = "1s"
rise = 2
fall = 2
on_failure = "inhibit"

[[service.dest]]
addr = "198.18.2.11:80"
fwd = "fullnat"

[[service.dest]]
addr = "198.18.2.12:80"
fwd = "fullnat"
EOF
sed -n '/^\[\[service\]\]/,$p' "$TMP/gw.toml" | sed 's/^/  /'
run gw reload
echo "the servers start up (keepalived's default, alpha = false) and stay up while their checks pass:"
sleep 2.5
run gw check show
check_state 198.18.2.11:80 up 1
check_state 198.18.2.12:80 up 1

say "rs2's HTTP server stops: its check fails twice and it gets weight 0 (inhibit: its connections, if any, continue)"
run kill "${RS_PID[2]}"
wait "${RS_PID[2]}" 2>/dev/null || true
check_state 198.18.2.12:80 down 10
run gw check show
run gw adm -L -n -t $VIP:8080
requests 100 8080 "$TMP/answers-down"
answered "$TMP/answers-down" 100 rs1

say "rs2's HTTP server is back: two checks pass and it takes new connections again"
start_rs 2
check_state 198.18.2.12:80 up 10
run gw adm -L -n -t $VIP:8080
requests 100 8080 "$TMP/answers-up"
answered "$TMP/answers-up" 100 'rs[12]'
grep -qx rs2 "$TMP/answers-up" || die "rs2 took no connection after it came back"

say "OK: every request answered; rs2 left the rotation when its server stopped and came back with it"
