#!/usr/bin/env bash
# Instructions per benchmark iteration, counted by valgrind's callgrind (independent of the
# machine's load): runs a Go test binary's benchmark with -test.benchtime=N1x and N2x = 2*N1 and
# divides the difference of the instruction totals by N1, so that set-up and start-up cancel.
# Build the binary without cgo; Go runs with asynchronous preemption off (callgrind 3.19 crashes
# on its signals).
#
#   CGO_ENABLED=0 go test -c -o /tmp/verify.test ./verify
#   (cd verify && ../docs/bench/callgrind-op.sh /tmp/verify.test 'BenchmarkVerify/sgx-warm$' 500)
#
# Prints: benchmark, thousands of instructions per iteration.
set -euo pipefail
bin=$1 bench=$2 n1=$3
n2=$((2 * n1))
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ir() {
  GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.$1" "$bin" \
    -test.run '^$' -test.bench "$bench" -test.benchtime "${1}x" -test.count 1 -test.cpu 1 >/dev/null 2>&1
  sed -n 's/^summary: //p' "$tmp/cg.$1"
}
i1=$(ir "$n1")
i2=$(ir "$n2")
awk -v b="$bench" -v i1="$i1" -v i2="$i2" -v n="$((n2 - n1))" \
  'BEGIN { printf "%s\t%.1f kIr/op\n", b, (i2 - i1) / n / 1000 }'
