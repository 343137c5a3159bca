#!/usr/bin/env bash
# Fuzz kafka07-proto: every target of fuzz/ (or those named) for a bounded time, then a table of
# runs, coverage and findings. Installs cargo-fuzz when it is missing; runs on the stable
# toolchain through RUSTC_BOOTSTRAP=1. See FUZZING.md.
#
#   scripts/fuzz-smoke.sh                 # every target, 20 s each (CI)
#   scripts/fuzz-smoke.sh --long          # every target, 600 s each (a campaign)
#   scripts/fuzz-smoke.sh --merge deep    # one target; keep its new coverage in fuzz/corpus/
#
# Environment:
#   FUZZ_SECONDS    seconds per target (default 20; --long makes it 600)
#   FUZZ_SLICE      longest single libFuzzer run, in seconds (default 300): a target's time is
#                   run in slices of at most this, each holding the cargo lock, so that other
#                   builds on a shared machine get a turn between slices
#   FUZZ_SANITIZER  address (default) or none (about twice the executions per second)
#   FUZZ_LOCK       lock file every cargo command and fuzz run holds (default
#                   /tmp/kafka07-cargo.lock; "none" for no locking)
#   FUZZ_NO_BUILD=1 run the targets already built under fuzz/target/
#
# New inputs go to a scratch corpus (fuzz/target/smoke/<target>/), read alongside the committed
# one; --merge folds those that add coverage into fuzz/corpus/<target>/. A crash leaves its
# input in fuzz/artifacts/<target>/: copy it to fuzz/regressions/<target>/<name> and
# `cargo test -p kafka07-proto --test fuzz_regressions` replays it (the capture and dump
# targets: `cargo test -p kafka07 --test fuzz_std_regressions`). Exit status 1 if any target
# crashed.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-20}
slice=${FUZZ_SLICE:-300}
sanitizer=${FUZZ_SANITIZER:-address}
lock=${FUZZ_LOCK:-/tmp/kafka07-cargo.lock}
merge=false
targets=()
for arg in "$@"; do
  case "$arg" in
    --long) seconds=${FUZZ_SECONDS:-600} ;;
    --merge) merge=true ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    -*) echo "unknown option $arg" >&2; exit 2 ;;
    *) targets+=("$arg") ;;
  esac
done

locked() {
  if [ "$lock" = none ] || ! command -v flock >/dev/null; then "$@"; else flock "$lock" "$@"; fi
}

export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR=never
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "=== installing cargo-fuzz"
  locked cargo install cargo-fuzz --locked
fi

cd fuzz
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list)
fi
if [ "${FUZZ_NO_BUILD:-0}" = 1 ]; then
  echo "=== using the targets already built (FUZZ_NO_BUILD=1)"
else
  echo "=== building ${#targets[@]} targets (sanitizer: $sanitizer)"
  locked cargo fuzz build -s "$sanitizer"
fi
# Run the binaries just built (cargo fuzz run would rebuild before every target, and on a
# shared checkout the sources may change under it).
bin=target/x86_64-unknown-linux-gnu/release
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_odr_violation=0}

logs=target/smoke/logs
mkdir -p "$logs"
rows=()
crashed=0
for t in "${targets[@]}"; do
  scratch=target/smoke/$t
  mkdir -p "$scratch" "corpus/$t" "artifacts/$t"
  log=$logs/$t.log
  : >"$log"
  left=$seconds
  runs=0
  status=ok
  while [ "$left" -gt 0 ]; do
    n=$(( left < slice ? left : slice ))
    echo "=== $t: ${n} s"
    if ! locked "$bin/$t" -artifact_prefix="artifacts/$t/" -max_total_time="$n" -timeout=10 \
        -print_final_stats=1 "$scratch" "corpus/$t" >>"$log" 2>&1; then
      status=CRASH
    fi
    r=$(grep 'stat::number_of_executed_units' "$log" | tail -n 1 | awk '{print $2}' || true)
    runs=$(( runs + ${r:-0} ))
    left=$(( left - n ))
    [ "$status" = ok ] || break
  done
  last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n 1 || true)
  cov=$(sed -nE 's/.*cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.*ft: ([0-9]+).*/\1/p' <<<"$last")
  corp=$(sed -nE 's/.*corp: ([0-9]+\/[0-9]+[a-zA-Z]*).*/\1/p' <<<"$last")
  finding=none
  if [ "$status" != ok ]; then
    crashed=1
    finding=$(grep -oE 'artifacts/[^ ]+' "$log" | tail -n 1 || true)
    finding=${finding:-"see $log"}
    echo "!!! $t crashed: $finding (log: fuzz/$log)"
  fi
  if $merge; then
    locked "$bin/$t" -merge=1 "corpus/$t" "$scratch" >>"$log" 2>&1 || true
  fi
  rows+=("$(printf '| %-12s | %7s | %12s | %6s | %6s | %-12s | %s |' \
    "$t" "$seconds" "$runs" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$finding")")
done

echo
printf '| %-12s | %7s | %12s | %6s | %6s | %-12s | %s |\n' \
  target seconds executions cov ft corpus findings
echo "|--------------|---------|--------------|--------|--------|--------------|----------|"
printf '%s\n' "${rows[@]}"
exit "$crashed"
