#!/usr/bin/env bash
# port-rate.sh [SECONDS] — packet rates of a running gateway's ports and
# cores over a window, from `gw link show -s --json` and `gw stats --json`:
# rx/tx Mpps, imissed and rx_nombuf per second per port (the NIC dropping
# what the workers did not poll in time, the pool running dry), and per core
# the loop utilisation and drops by reason. For a lab on real NICs, next to
# whatever generator drives the traffic. GW (default bin/gw) and FNGW_SOCK
# (or --sock in GW) pick the gateway.
set -euo pipefail
secs=${1:-5}
GW=${GW:-bin/gw}
snap() { $GW link show -s --json; echo '@@'; $GW stats --json; }
a=$(snap)
t0=$(date +%s.%N)
sleep "$secs"
b=$(snap)
t1=$(date +%s.%N)
python3 - "$t0" "$t1" <<PY
import json, sys
t = float(sys.argv[2]) - float(sys.argv[1])
def parse(s):
    l, c = s.split('@@')
    return json.loads(l), json.loads(c)
(la, ca), (lb, cb) = parse('''$a'''), parse('''$b''')
print(f"window {t:.2f} s")
for p, q in zip(la, lb):
    d = lambda k: (q.get(k, 0) - p.get(k, 0)) / t
    print(f"port {q['dev']:8} rx {d('rx_packets')/1e6:8.3f} Mpps  tx {d('tx_packets')/1e6:8.3f} Mpps  "
          f"imissed {d('imissed'):10.0f}/s  rx_nombuf {d('rx_nombuf'):8.0f}/s")
for p, q in zip(ca, cb):
    busy = (q['busy_ns'] - p['busy_ns']) / max(q['total_ns'] - p['total_ns'], 1)
    drops = {k: v - p.get('drops', {}).get(k, 0) for k, v in (q.get('drops') or {}).items() if v - p.get('drops', {}).get(k, 0)}
    print(f"core {q['core']:<3} rx {(q['rx_packets']-p['rx_packets'])/t/1e6:8.3f} Mpps  busy {100*busy:5.1f}%  "
          f"sessions {q['sessions']}  created {(q['sessions_created']-p['sessions_created'])/t:.0f}/s  "
          f"redirect out {(q['redirect_out']-p['redirect_out'])/t:.0f}/s  drops/window {drops or '-'}")
PY
