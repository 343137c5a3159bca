#!/usr/bin/env bash
# Makes the snap-length captures under tests/data/captures/snaplen/: ONE session of
# `kafka07 broker` and its clients on the loopback interface, captured at the same time by
# three tcpdumps: whole (whole.pcap), with `-s 96` (s96.pcap) and with `-s 68` (s68.pcap),
# so that the cut captures can be checked against the whole one (tests/cli_captures.rs).
# Loopback only.
#
#   scripts/make-snaplen-captures.sh            # Linux defaults (TCP timestamps on)
#   NOTS=1 scripts/make-snaplen-captures.sh     # the same with TCP timestamps off, for the
#                                               # nots-*.pcap files (see below)
#   V6=1 scripts/make-snaplen-captures.sh       # the same session over IPv6 loopback (::1),
#                                               # for the v6-*.pcap files: 20 more header
#                                               # bytes a packet (IPv6 40, not IPv4 20), so
#                                               # -s 96 keeps 10 payload bytes and -s 68 none
#
# Needs tcpdump (apt-get install -y tcpdump) and the right to capture (root or CAP_NET_RAW).
#
# Per packet on Linux loopback the headers take 14 (Ethernet) + 20 (IPv4) + 32 (TCP with
# the timestamp option) = 66 bytes, so -s 96 keeps 30 bytes of TCP payload and -s 68 only
# 2: with -s 68 no frame's 4-byte size is ever captured. With TCP timestamps off (NOTS=1,
# sysctl net.ipv4.tcp_timestamps=0 for the session, restored afterwards) the TCP header is
# 20 bytes: -s 96 keeps 42 bytes and -s 68 keeps 14, enough for every size field and
# request type.
#
# The session (each step a client connection of its own):
#   1. produce 3 plain messages to demo/0        (PRODUCE + the delivery-check FETCH)
#   2. produce a gzip batch of 3                 (PRODUCE, FETCH)
#   3. produce a snappy batch of 2               (PRODUCE, FETCH)
#   4. produce one 102400-byte message           (PRODUCE over several TCP segments, FETCH)
#   5. consume everything                        (OFFSETS earliest, FETCH full, FETCH at end)
#   6. consume with --fetch-size 40 --max 2      (FETCHes cut by the max size)
#   7. consume -o 99999999                       (FETCH past the end: OffsetOutOfRange, OFFSETS)
#   8. kafka07-io example capture_multi          (OFFSETS, MULTIPRODUCE, FETCH, MULTIFETCH)
#   9. offsets --max 5                           (OFFSETS latest)
#
# At the end (without NOTS) it runs scripts/derive-snaplen-captures.py, which makes
# tso-s96.pcap (every IPv4 total length 0, as TSO/GSO captures have them), mismatch-s96.pcap
# (one IPv4 length that disagrees with its record) and lost-s96.pcap (one record removed)
# from s96.pcap; it can be run alone (python3) to remake only those.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PORT:-9092}
OUT=tests/data/captures/snaplen
PREFIX=""
[ -n "${NOTS:-}" ] && PREFIX="nots-"
HOST=127.0.0.1
FILTER="tcp port $PORT"
[ -n "${V6:-}" ] && { PREFIX="v6-"; HOST=::1; FILTER="ip6 and tcp port $PORT"; }
BIN=target/debug/kafka07
MULTI=target/debug/examples/capture_multi
mkdir -p "$OUT"

command -v tcpdump >/dev/null || { echo "tcpdump is needed: apt-get install -y tcpdump" >&2; exit 1; }
build() {
  if command -v flock >/dev/null && [ -e /tmp/kafka07-cargo.lock ]; then
    flock /tmp/kafka07-cargo.lock cargo "$@"
  else
    cargo "$@"
  fi
}
build build -p kafka07
build build -p kafka07-io --example capture_multi
if (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; then
  echo "port $PORT is in use; set PORT=..." >&2
  exit 1
fi

work=$(mktemp -d)
broker_pid=""
dump_pids=()
old_ts=$(cat /proc/sys/net/ipv4/tcp_timestamps)
cleanup() {
  for p in "${dump_pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  [ -n "$broker_pid" ] && kill -TERM "$broker_pid" 2>/dev/null || true
  [ -n "${NOTS:-}" ] && echo "$old_ts" > /proc/sys/net/ipv4/tcp_timestamps
  rm -rf "$work"
}
trap cleanup EXIT
[ -n "${NOTS:-}" ] && echo 0 > /proc/sys/net/ipv4/tcp_timestamps

# start_capture NAME [tcpdump options...]: as in make-captures.sh (--immediate-mode, -U).
start_capture() {
  local name=$1; shift
  tcpdump -i lo --immediate-mode -U -w "$OUT/$PREFIX$name.pcap" "$@" "$FILTER" \
    2>"$work/$name.err" &
  dump_pids+=($!)
  for _ in $(seq 100); do
    grep -q "listening on" "$work/$name.err" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "tcpdump did not start:" >&2; cat "$work/$name.err" >&2; exit 1
}

"$BIN" broker --host "$HOST" --port "$PORT" --data-dir "$work/data" >"$work/broker.out" 2>"$work/broker.err" &
broker_pid=$!
for _ in $(seq 100); do
  grep -q "listening on" "$work/broker.out" 2>/dev/null && break
  sleep 0.05
done

start_capture whole
start_capture s96 -s 96
start_capture s68 -s 68

B=127.0.0.1:$PORT
[ -n "${V6:-}" ] && B="[::1]:$PORT"
k() { timeout 20 "$BIN" "$@"; }
k produce -b "$B" -t demo -m "hello, kafka 0.7" -m "second message" -m "third message"
printf 'gzip one\ngzip two\ngzip three\n' | k produce -b "$B" -t demo --codec gzip
printf 'snappy one\nsnappy two\n' | k produce -b "$B" -t demo --codec snappy
# 102400 bytes: "000000000,000000001,..." (10240 numbers of 9 digits and a comma).
awk 'BEGIN { for (i = 0; i < 10240; i++) printf "%09d,", i; printf "\n" }' | k produce -b "$B" -t demo
k consume -b "$B" -t demo --print-offset | cut -c1-60 > "$work/consumed.txt"
k consume -b "$B" -t demo --fetch-size 40 --max 2 --print-offset > "$work/cut.txt"
k consume -b "$B" -t demo -o 99999999 > /dev/null 2>&1 || echo "consume past the end: exit $? (6 expected)"
timeout 20 "$MULTI" "$B" > "$work/multi.txt"
k offsets -b "$B" -t demo --max 5 > "$work/offsets.txt"

sleep 0.3 # let the last packets (FIN, ACK) arrive
for p in "${dump_pids[@]}"; do kill -INT "$p"; wait "$p" || true; done
dump_pids=()
cat "$work/consumed.txt" "$work/cut.txt" "$work/multi.txt" "$work/offsets.txt"
cat "$work"/*.err | grep -E "packets (captured|dropped)"
[ -z "${NOTS:-}${V6:-}" ] && python3 scripts/derive-snaplen-captures.py
ls -l "$OUT"
