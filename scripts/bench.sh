#!/usr/bin/env bash
# Runs the kafka07-proto benchmarks (crate kafka07-benches) and prints the ratio table: every
# figure is our throughput divided by its physical baseline's (crc32fast, memcpy, a length
# walk, raw miniz_oxide, raw snap, the one-shot decoder), measured in the same run on the same
# bytes. Criterion's own Throughput::Bytes figures are printed above the table. See
# BENCHMARKS.md.
#
#   scripts/bench.sh                  # all seven benches (shallow, deep, encode, stream, crc,
#                                     # scaling, render), about 3 minutes
#   scripts/bench.sh deep stream      # some of them
#
# Environment: BENCH_LOCK (default /tmp/kafka07-cargo.lock, "none" for no locking) is held
# around each cargo command, one bench at a time; KAFKA07_BENCH_ROUNDS (15) and
# KAFKA07_BENCH_ROUND_MS (20) set how long each ratio pair is timed.
set -euo pipefail
cd "$(dirname "$0")/.."

lock=${BENCH_LOCK:-/tmp/kafka07-cargo.lock}
locked() {
  if [ "$lock" = none ] || ! command -v flock >/dev/null; then "$@"; else flock "$lock" "$@"; fi
}
benches=("$@")
[ ${#benches[@]} -gt 0 ] || benches=(shallow deep encode stream crc scaling render)

export CARGO_TERM_COLOR=never
mkdir -p target
log=target/bench-ratios.log
: >"$log"
locked cargo bench -p kafka07-benches --no-run
start=$SECONDS
for b in "${benches[@]}"; do
  echo "=== bench $b"
  locked cargo bench -q -p kafka07-benches --bench "$b" 2>&1 | tee -a "$log"
done

echo
echo "=== ratios (ours / baseline; $(( SECONDS - start )) s; $(nproc) cores;" \
  "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); $(rustc --version))"
echo
echo "| bench | what | baseline | ours MB/s | baseline MB/s | ratio | target |"
echo "|---|---|---|---:|---:|---:|---|"
grep '^RATIO' "$log" | sed 's/^RATIO //'
