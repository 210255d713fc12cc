#!/usr/bin/env bash
# Instructions executed by the server per provisioning, attested and baseline, counted by
# valgrind's callgrind: a count that does not depend on what else the machine runs. The server
# ("bench serve") runs under callgrind; after a warm-up its counters are zeroed, a load window of
# 4 clients runs, and the counters are dumped; instructions / provisions of the window is the
# figure. Two windows per mode. Go runs under valgrind with asynchronous preemption off (its
# signals crash callgrind 3.19) and without cgo.
#
#   docs/bench/callgrind-provision.sh [seconds per window]      (about 5 minutes with 30)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${OUT:-/tmp/secretprov-perf}/callgrind
secs=${1:-30}
mkdir -p "$out"
bin=$out/secretprov
(cd "$root" && CGO_ENABLED=0 go build -o "$bin" ./cmd/secretprov)
world=$out/world
[ -f "$world/world.json" ] || "$bin" sim init --dir "$world" >/dev/null 2>&1

for mode in attested baseline; do
  dir=$out/serve-$mode
  rm -rf "$dir" "$out/$mode".*.out*
  extra=() load=()
  if [ "$mode" = baseline ]; then extra=(--baseline-mtls); fi
  GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --callgrind-out-file="$out/$mode.%p.out" \
    "$bin" bench serve --sim-dir "$world" --dir "$dir" --duration 30m "${extra[@]}" >"$out/serve-$mode.log" 2>&1 &
  vpid=$!
  until [ -f "$dir/addr" ]; do sleep 1; done
  spid=$(awk '/listening/ {print $5}' "$out/serve-$mode.log")
  if [ "$mode" = baseline ]; then load=(--baseline-mtls --client-cert "$dir/client.pem" --client-key "$dir/client-key.pem"); fi
  run() {
    "$bin" bench provision --servers "$(cat "$dir/addr")" --ca "$dir/ca.pem" --sim-dir "$world" \
      --connections 4 --duration "$1" --timeout 60s --json "${load[@]}" 2>/dev/null
  }
  run 5s >/dev/null # warm-up: collateral checked, caches and pools filled
  for window in 1 2; do
    callgrind_control -z "$spid" >/dev/null
    n=$(run "${secs}s" | sed -n 's/.*"provisions":\([0-9]*\).*/\1/p')
    callgrind_control -d "$spid" >/dev/null
    sleep 2
    f=$(ls -t "$out/$mode.$spid.out".* | head -1)
    ir=$(sed -n 's/^summary: //p' "$f")
    awk -v m="$mode" -v w="$window" -v ir="$ir" -v n="$n" \
      'BEGIN { printf "%s window %d: %d provisions, %.0f instructions each\n", m, w, n, ir / n }' | tee -a "$out/result.txt"
  done
  kill -INT "$spid"
  wait "$vpid" || true
done
