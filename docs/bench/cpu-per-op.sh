#!/usr/bin/env bash
# CPU time per benchmark iteration, robust to a shared machine: runs a compiled Go test binary's
# benchmark twice with a fixed iteration count (-test.benchtime=Nx), N1 and N2 = 2*N1, pinned to
# one core, and divides the difference in user+system time by N2-N1 (so that the set-up and the
# runtime's start-up cancel out), three times; the median is printed. Wall-clock ns/op from
# "go test -bench" is not used here: on a loaded machine it counts the time the process waited
# for the CPU.
#
#   go test -c -o /tmp/verify.test ./verify
#   docs/bench/cpu-per-op.sh /tmp/verify.test 'BenchmarkVerify/sgx-warm$' 2000 [core]
#
# Prints: benchmark, microseconds of CPU per iteration, iterations per CPU-second.
set -euo pipefail
bin=$1 bench=$2 n1=$3 core=${4:-0}
n2=$((2 * n1))
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
cpu() { # user+system seconds of one run with $1 iterations
  /usr/bin/time -f '%U %S' -o "$tmp" taskset -c "$core" "$bin" -test.run '^$' -test.bench "$bench" \
    -test.benchtime "${1}x" -test.count 1 -test.cpu 1 >/dev/null
  awk '{print $1 + $2}' "$tmp"
}
runs=()
for _ in 1 2 3; do
  t1=$(cpu "$n1")
  t2=$(cpu "$n2")
  runs+=("$(awk -v t1="$t1" -v t2="$t2" -v n="$((n2 - n1))" 'BEGIN { printf "%.1f", (t2 - t1) / n * 1e6 }')")
done
median=$(printf '%s\n' "${runs[@]}" | sort -g | sed -n 2p)
awk -v b="$bench" -v us="$median" -v all="${runs[*]}" \
  'BEGIN { printf "%s\t%.1f us/op CPU (runs: %s)\t%.1f ops/CPU-s\n", b, us, all, (us > 0 ? 1e6 / us : 0) }'
