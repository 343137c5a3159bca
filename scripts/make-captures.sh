#!/usr/bin/env bash
# Makes the real Kafka 0.7 captures under tests/data/captures/cli/ the way a user would:
# tcpdump on the loopback interface, filtered on the broker port, while `kafka07 broker`
# and the `kafka07` client commands talk. Loopback only.
#
#   sudo scripts/make-captures.sh        # needs tcpdump (apt-get install -y tcpdump) and
#                                        # the right to capture (root or CAP_NET_RAW)
#
# Every capture is a new session, so timestamps and client ports differ from run to run;
# the tests check the committed files (tests/cli_captures.rs), and what each one must hold
# is written next to the commands below.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PORT:-9092}
OUT=tests/data/captures/cli
BIN=target/debug/kafka07
mkdir -p "$OUT"

command -v tcpdump >/dev/null || { echo "tcpdump is needed: apt-get install -y tcpdump" >&2; exit 1; }
if command -v flock >/dev/null && [ -e /tmp/kafka07-cargo.lock ]; then
  flock /tmp/kafka07-cargo.lock cargo build -p kafka07
else
  cargo build -p kafka07
fi
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  echo "port $PORT is in use; set PORT=..." >&2
  exit 1
fi

work=$(mktemp -d)
broker_pid=""
dump_pid=""
cleanup() {
  [ -n "$dump_pid" ] && kill -INT "$dump_pid" 2>/dev/null || true
  [ -n "$broker_pid" ] && kill -TERM "$broker_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# start_capture FILE [tcpdump options...]: tcpdump on lo, only the broker port, written
# packet by packet (-U), waiting until it listens. --immediate-mode: on some kernels
# (seen on a 6.x VM) libpcap's TPACKET_V3 ring never hands buffered loopback packets over
# and tcpdump ends with "0 packets captured"; immediate mode avoids that.
start_capture() {
  local file=$1; shift
  tcpdump -i lo --immediate-mode -U -w "$file" "$@" "tcp port $PORT" 2>"$work/tcpdump.err" &
  dump_pid=$!
  for _ in $(seq 100); do
    grep -q "listening on" "$work/tcpdump.err" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "tcpdump did not start:" >&2; cat "$work/tcpdump.err" >&2; exit 1
}

stop_capture() {
  sleep 0.3 # let the last packets (FIN, ACK) arrive
  kill -INT "$dump_pid"
  wait "$dump_pid" || true
  dump_pid=""
}

start_broker() {
  "$BIN" broker --port "$PORT" --data-dir "$work/data" >"$work/broker.out" 2>"$work/broker.err" &
  broker_pid=$!
  for _ in $(seq 100); do
    grep -q "listening on" "$work/broker.out" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "broker did not start" >&2; cat "$work/broker.err" >&2; exit 1
}

stop_broker() {
  kill -TERM "$broker_pid"
  wait "$broker_pid" || true
  broker_pid=""
}

B=127.0.0.1:$PORT
k() { timeout 20 "$BIN" "$@"; }

# 1. session.pcap: the demo. Three plain messages, a gzip batch and a snappy batch to
#    "demo"/0, everything read back from the start, then the latest offsets.
rm -rf "$work/data"; start_broker
start_capture "$OUT/session.pcap"
k produce -b "$B" -t demo -m "hello, kafka 0.7" -m "second message" -m "third message"
printf 'gzip one\ngzip two\ngzip three\n' | k produce -b "$B" -t demo --codec gzip
printf 'snappy one\nsnappy two\n' | k produce -b "$B" -t demo --codec snappy
k consume -b "$B" -t demo --print-offset > "$work/consumed.txt"
k offsets -b "$B" -t demo --max 5 > "$work/offsets.txt"
stop_capture
stop_broker
cat "$work/consumed.txt" "$work/offsets.txt"

# 2. errors.pcap: a consume at an offset past the log end (answered OffsetOutOfRange; the
#    CLI then asks OFFSETS for the valid range), and a produce to a partition the broker
#    does not have (it closes the connection: 0.7 has no produce error response).
rm -rf "$work/data"; start_broker
k produce -b "$B" -t demo -m "only message"
start_capture "$OUT/errors.pcap"
k consume -b "$B" -t demo -o 4096 || echo "consume exit $? (6 expected)"
k produce -b "$B" -t demo -p 7 -m "to a partition that does not exist" || echo "produce exit $? (7 expected)"
stop_capture
stop_broker

# 3. snaplen.pcap: a produce of three 300-byte messages and their fetch, captured with a
#    snap length of 200 bytes: every large frame loses its tail (gaps in both directions).
rm -rf "$work/data"; start_broker
start_capture "$OUT/snaplen.pcap" -s 200
printf '%0300d\n%0300d\n%0300d\n' 1 2 3 | k produce -b "$B" -t big
k consume -b "$B" -t big > /dev/null
k offsets -b "$B" -t big
stop_capture
stop_broker

ls -l "$OUT"
