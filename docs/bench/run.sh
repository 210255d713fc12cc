#!/usr/bin/env bash
# Reproduces every number of docs/performance.md on this machine, in one session, and writes the
# raw outputs to $OUT (default /tmp/secretprov-perf). Needs Go, taskset (util-linux), GNU time,
# and for the dcap-qvl comparison Node.js 20 and npm. Loopback only; every run is bounded.
#
#   docs/bench/run.sh [micro|callgrind|qvl|provision|idle|all]    (default all; about 30 minutes)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=${OUT:-/tmp/secretprov-perf}
mkdir -p "$out"
what=${1:-all}
bin=$out/secretprov
go build -o "$bin" ./cmd/secretprov

machine() {
  {
    echo "date: $(date -u +%FT%TZ)"
    echo "nproc: $(nproc)"
    grep -m1 'model name' /proc/cpuinfo
    go version
    node --version 2>/dev/null || true
    echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  } | tee "$out/machine.txt"
}

# Allocation counts and wall-clock ns/op (go test -bench, 6 runs for benchstat), then CPU time per
# operation with cpu-per-op.sh, which a machine shared with other work does not distort.
micro() {
  for pkg in verify ratls wire policy quote server internal/cli; do
    go test -c -o "$out/$(basename "$pkg").test" "./$pkg"
  done
  (cd verify && taskset -c 0 "$out/verify.test" -test.run '^$' -test.bench 'BenchmarkVerify|BenchmarkECDSAP256Verify' \
    -test.benchmem -test.cpu 1 -test.count 6) | tee "$out/verify.txt"
  (cd ratls && taskset -c 0 "$out/ratls.test" -test.run '^$' -test.bench 'BenchmarkParseCertificate' \
    -test.benchmem -test.cpu 1 -test.count 6) | tee "$out/ratls.txt"
  for pkg in wire policy quote; do
    (cd "$pkg" && taskset -c 0 "$out/$pkg.test" -test.run '^$' -test.bench . -test.benchmem -test.cpu 1 -test.count 6) |
      tee "$out/$pkg.txt"
  done
  (cd server && taskset -c 0 "$out/server.test" -test.run '^$' -test.bench 'BenchmarkProvision' \
    -test.benchmem -test.cpu 1 -test.count 6) | tee "$out/server.txt"
  (cd internal/cli && taskset -c 0 "$out/cli.test" -test.run '^$' -test.bench 'BenchmarkAttestation' \
    -test.benchmem -test.cpu 1 -test.count 6) | tee "$out/cli.txt"
  if command -v benchstat >/dev/null; then
    benchstat "$out"/{verify,ratls,wire,policy,quote,server,cli}.txt | tee "$out/benchstat.txt"
  fi
  (
    cd verify
    for b in 'BenchmarkECDSAP256Verify$:4000' 'BenchmarkVerify/sgx-warm$:4000' 'BenchmarkVerify/tdx-warm$:4000' \
      'BenchmarkVerify/sgx-cold$:200' 'BenchmarkVerify/tdx-cold$:200'; do
      "$root/docs/bench/cpu-per-op.sh" "$out/verify.test" "${b%:*}" "${b##*:}"
    done
    cd ../ratls && "$root/docs/bench/cpu-per-op.sh" "$out/ratls.test" 'BenchmarkParseCertificate$' 4000
    cd ../server
    for b in 'BenchmarkProvision$' 'BenchmarkProvisionPlainMTLS$'; do
      "$root/docs/bench/cpu-per-op.sh" "$out/server.test" "$b" 400
    done
  ) | tee "$out/cpu-per-op.txt"
}

# Instruction counts (valgrind callgrind), which the machine's load does not change: the
# verification benchmarks, the attestation step, and the server per provisioning in both modes.
callgrind() {
  for pkg in verify internal/cli; do
    CGO_ENABLED=0 go test -c -o "$out/$(basename "$pkg")-nocgo.test" "./$pkg"
  done
  (
    cd verify
    for b in 'BenchmarkECDSAP256Verify$:400' 'BenchmarkVerify/sgx-warm$:200' 'BenchmarkVerify/tdx-warm$:200' \
      'BenchmarkVerify/sgx-cold$:20' 'BenchmarkVerify/tdx-cold$:20'; do
      "$root/docs/bench/callgrind-op.sh" "$out/verify-nocgo.test" "${b%:*}" "${b##*:}"
    done
    cd ../internal/cli
    for b in x509 ratls-parse verify-warm policy all; do
      "$root/docs/bench/callgrind-op.sh" "$out/cli-nocgo.test" "BenchmarkAttestation/$b\$" 200
    done
  ) | tee "$out/callgrind-op.txt"
  OUT=$out "$root/docs/bench/callgrind-provision.sh" 30
}

# dcap-qvl's wasm build, installed outside the repository, right after our cold path.
qvl() {
  local dir=$out/dcap-qvl
  if [ ! -d "$dir/node_modules/@phala/dcap-qvl-web" ]; then
    mkdir -p "$dir" && (cd "$dir" && npm init -y >/dev/null && npm install @phala/dcap-qvl-web@0.3.3)
  fi
  [ -x "$out/verify.test" ] || go test -c -o "$out/verify.test" ./verify
  for i in 1 2 3; do
    taskset -c 0 node docs/bench/dcap-qvl-bench.mjs "$dir/node_modules/@phala/dcap-qvl-web" 5 | tee "$out/dcap-qvl-$i.json"
    (cd verify && for b in 'BenchmarkVerify/sgx-cold$' 'BenchmarkVerify/tdx-cold$'; do
      "$root/docs/bench/cpu-per-op.sh" "$out/verify.test" "$b" 200
    done) | tee -a "$out/cold-vs-qvl.txt"
  done
}

# One "bench serve" per mode pinned to core 0, the load generator pinned to core 1, attested and
# baseline alternated, three times, at 100 and 500 concurrent clients; then the self-contained
# in-process form at 100 and 500. The load average before each run goes to load.txt.
provision() {
  local world=$out/world
  [ -f "$world/world.json" ] || "$bin" sim init --dir "$world" >/dev/null 2>&1
  local -A pid addr
  for mode in attested baseline; do
    local extra=() dir=$out/serve-$mode
    [ "$mode" = baseline ] && extra=(--baseline-mtls)
    rm -rf "$dir"
    taskset -c 0 "$bin" bench serve --sim-dir "$world" --dir "$dir" --connections 1000 --duration 30m "${extra[@]}" \
      >"$out/serve-$mode.log" 2>&1 &
    pid[$mode]=$!
    until [ -f "$dir/addr" ]; do sleep 0.2; done
    addr[$mode]=$(cat "$dir/addr")
  done
  trap 'kill ${pid[attested]} ${pid[baseline]} 2>/dev/null || true' RETURN
  for conns in 100 500; do
    for round in 1 2 3; do
      for mode in attested baseline; do
        echo "$conns $mode round $round: load $(cut -d' ' -f1 /proc/loadavg)" >>"$out/load.txt"
        local extra=() dir=$out/serve-$mode
        [ "$mode" = baseline ] && extra=(--baseline-mtls --client-cert "$dir/client.pem" --client-key "$dir/client-key.pem")
        taskset -c 1 "$bin" bench provision --servers "${addr[$mode]}" --ca "$dir/ca.pem" --sim-dir "$world" \
          --server-pid "${pid[$mode]}" --connections "$conns" --duration 20s --timeout 30s --json "${extra[@]}" 2>/dev/null |
          tee -a "$out/provision-$conns.jsonl"
      done
    done
  done
  # The self-contained form (server and load generator in one process, both cores).
  for conns in 100 500; do
    for mode in attested baseline; do
      local extra=()
      [ "$mode" = baseline ] && extra=(--baseline-mtls)
      "$bin" bench provision --in-process --connections "$conns" --duration 20s --timeout 30s --json "${extra[@]}" 2>/dev/null |
        tee -a "$out/provision-inprocess.jsonl"
    done
  done
}

# 10,000 idle attested connections held by a "bench serve" process (the file limit of one
# process, 20,000 here, does not fit both ends of 10,000 connections).
idle() {
  local world=$out/world dir=$out/serve-idle
  [ -f "$world/world.json" ] || "$bin" sim init --dir "$world" >/dev/null 2>&1
  rm -rf "$dir"
  "$bin" bench serve --sim-dir "$world" --dir "$dir" --connections 10000 --idle-timeout 10m --duration 15m \
    >"$out/serve-idle.log" 2>&1 &
  local spid=$!
  trap 'kill $spid 2>/dev/null || true' RETURN
  until [ -f "$dir/addr" ]; do sleep 0.2; done
  "$bin" bench idle --servers "$(cat "$dir/addr")" --ca "$dir/ca.pem" --sim-dir "$world" --server-pid "$spid" \
    --connections 10000 --json 2>/dev/null | tee "$out/idle-10000.json"
  "$bin" bench idle --in-process --connections 4000 --json 2>/dev/null | tee "$out/idle-inprocess-4000.json"
}

machine
case $what in
micro) micro ;;
callgrind) callgrind ;;
qvl) qvl ;;
provision) provision ;;
idle) idle ;;
all) micro && callgrind && qvl && provision && idle ;;
*) echo "usage: $0 [micro|callgrind|qvl|provision|idle|all]" >&2 && exit 2 ;;
esac
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/machine.txt"
