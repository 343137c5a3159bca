#!/usr/bin/env bash
# kafka07 and the interop peers side by side, in one run (issue #13 part 3).
#
#   scripts/bench-peers.sh [SECONDS]      # SECONDS of timing per decoder (default 3)
#
# Needs the peers installed: tests/interop/setup.sh target/interop-cache (see INTEROP.md).
# Peers that are not installed are reported as skipped, loudly.
#
# 1. Decode: the same FETCH response frames (10,000 messages of 100 bytes; written by
#    `benches/examples/peers.rs gen`) decoded in memory by kafka07 (Response::decode and deep
#    iteration, every CRC verified) and by each peer's own decoder (tests/interop/bench_peers.py
#    and .js: what each checks is printed with it): plain magic 1 (what 0.7 producers write),
#    plain magic 0 (the only magic brod, pykafka and kafka_npm read), and gzip wrappers of 100
#    messages (only franz-kafka decompresses them). Messages/s, and the ratio to kafka07 on
#    the same file.
# 2. Whole process: one `kafka07 broker` (in memory) holding 100,000 messages of 100 bytes in a
#    magic-1 topic and in a magic-0 topic; `kafka07 consume --max 100000` and each peer's own
#    consumer drain the topic it can read, from offset 0, timed from process start to exit.
#
# Cargo commands take /tmp/kafka07-cargo.lock (BENCH_LOCK=none to skip).

set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
SECONDS_PER=${1:-3}
CACHE=${INTEROP_CACHE:-$REPO/target/interop-cache}
lock=${BENCH_LOCK:-/tmp/kafka07-cargo.lock}
locked() {
  if [ "$lock" = none ] || ! command -v flock >/dev/null; then "$@"; else flock "$lock" "$@"; fi
}

locked cargo build -q --release -p kafka07-benches --example peers
locked cargo build -q --release --bin kafka07
PEERS_BIN=$REPO/target/release/examples/peers
KAFKA07=$REPO/target/release/kafka07

if [ -f "$CACHE/env.sh" ]; then
  # shellcheck disable=SC1091
  . "$CACHE/env.sh"
fi
PY=${INTEROP_VENV_PYTHON:-}
NPM_PREFIX=${INTEROP_NPM_PREFIX:-}
if [ -z "$PY" ] || [ ! -x "$PY" ]; then
  echo "!! bench-peers: Python peers NOT installed ($CACHE/env.sh missing): samsa, brod, pykafka SKIPPED" >&2
  PY=
fi
if [ -z "$NPM_PREFIX" ] || [ ! -d "$NPM_PREFIX/node_modules" ]; then
  echo "!! bench-peers: Node peers NOT installed: prozess, franz-kafka, kafka_npm SKIPPED" >&2
  NPM_PREFIX=
fi

WORK=$(mktemp -d)
BROKER_PID=
cleanup() {
  if [ -n "$BROKER_PID" ]; then kill "$BROKER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

"$PEERS_BIN" gen "$WORK"

field() { # json key
  python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); print(d.get(sys.argv[1], ""))' "$1"
}

# The peers and the response each reads: magic 1 (m1), magic 0 (m0), gzip.
py_peer() { case "$1" in samsa|brod|pykafka) return 0;; *) return 1;; esac; }
declare -A READS=(
  [samsa]="m1 m0" [brod]="m0" [pykafka]="m0"
  [prozess]="m1" [franz-kafka]="m1 gzip" [kafka_npm]="m0"
)
ORDER=(samsa brod pykafka prozess franz-kafka kafka_npm)

run_decode() { # peer file
  if py_peer "$1"; then
    [ -n "$PY" ] || return 1
    PYTHONDONTWRITEBYTECODE=1 "$PY" tests/interop/bench_peers.py decode "$1" "$2" "$SECONDS_PER"
  else
    [ -n "$NPM_PREFIX" ] || return 1
    INTEROP_NPM_PREFIX=$NPM_PREFIX node tests/interop/bench_peers.js decode "$1" "$2" "$SECONDS_PER" 2>/dev/null
  fi
}

echo "=== decode: one FETCH response of 10,000 x 100-byte messages, in memory, ${SECONDS_PER}s per decoder"
echo "$(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); $(date -u +%FT%TZ)"
echo
echo "| response | decoder | messages/s | ratio to kafka07 | CRC |"
echo "|---|---|---:|---:|---|"
for kind in m1 m0 gzip; do
  file=$WORK/fetch-$kind.bin
  ours=$("$PEERS_BIN" decode "$file" "$SECONDS_PER")
  ours_rate=$(field messages_per_s <<<"$ours")
  echo "| $kind ($(stat -c %s "$file") bytes) | kafka07 | $ours_rate | 1.000 | verified |"
  for peer in "${ORDER[@]}"; do
    case " ${READS[$peer]} " in *" $kind "*) ;; *) continue;; esac
    if out=$(run_decode "$peer" "$file"); then
      rate=$(field messages_per_s <<<"$out")
      n=$(field messages <<<"$out")
      if [ -z "$rate" ] || [ "$n" != 10000 ]; then
        echo "| $kind | $peer | failed: $out | - | - |"
        continue
      fi
      ratio=$(awk -v a="$rate" -v b="$ours_rate" 'BEGIN { printf "%.3f", a / b }')
      echo "| $kind | $peer | $rate | $ratio | $(field crc <<<"$out") |"
    else
      echo "| $kind | $peer | skipped (not installed) | - | - |"
    fi
  done
done

echo
echo "=== whole process: drain 100,000 messages of 100 bytes from one kafka07 broker (in memory)"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$KAFKA07" broker --port "$PORT" >"$WORK/broker.log" 2>&1 &
BROKER_PID=$!
for _ in $(seq 100); do
  if python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 1)" 2>/dev/null; then break; fi
  sleep 0.1
done
COUNT=100000
"$PEERS_BIN" load "127.0.0.1:$PORT" m1 "$COUNT" 1
"$PEERS_BIN" load "127.0.0.1:$PORT" m0 "$COUNT" 0

now() { date +%s.%N; }
echo
echo "| consumer | topic | messages | seconds | messages/s | ratio to kafka07 |"
echo "|---|---|---:|---:|---:|---:|"
declare -A OURS_RATE
for topic in m1 m0; do
  t0=$(now)
  "$KAFKA07" consume -b "127.0.0.1:$PORT" -t "$topic" --max "$COUNT" >"$WORK/out-$topic.txt"
  t1=$(now)
  n=$(wc -l <"$WORK/out-$topic.txt")
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  OURS_RATE[$topic]=$(awk -v n="$n" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')
  echo "| kafka07 consume | $topic | $n | $secs | ${OURS_RATE[$topic]} | 1.000 |"
done
for peer in samsa brod pykafka prozess kafka_npm; do
  for topic in ${READS[$peer]}; do
    [ "$topic" = gzip ] && continue
    t0=$(now)
    if py_peer "$peer"; then
      if [ -z "$PY" ]; then echo "| $peer | $topic | skipped (not installed) | | | |"; continue; fi
      out=$(PYTHONDONTWRITEBYTECODE=1 timeout 120 "$PY" tests/interop/bench_peers.py consume "$peer" "$PORT" "$topic" "$COUNT" || echo '{}')
    else
      if [ -z "$NPM_PREFIX" ]; then echo "| $peer | $topic | skipped (not installed) | | | |"; continue; fi
      out=$(INTEROP_NPM_PREFIX=$NPM_PREFIX timeout 120 node tests/interop/bench_peers.js consume "$peer" "$PORT" "$topic" "$COUNT" 2>/dev/null || echo '{}')
    fi
    t1=$(now)
    n=$(field messages <<<"$out")
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    if [ -z "$n" ]; then
      echo "| $peer | $topic | failed: $(head -c 200 <<<"$out") | $secs | | |"
      continue
    fi
    rate=$(awk -v n="$n" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')
    ratio=$(awk -v a="$rate" -v b="${OURS_RATE[$topic]}" 'BEGIN { printf "%.3f", a / b }')
    note=""
    [ "$n" -lt "$COUNT" ] && note=" (stopped short)"
    echo "| $peer | $topic | $n$note | $secs | $rate | $ratio |"
  done
done
echo
echo "franz-kafka has no whole-process row: its consumer is a stream that never ends on its own."
