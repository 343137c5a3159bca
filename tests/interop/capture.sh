#!/usr/bin/env bash
# Capture what the six peers put on the wire: install them (setup.sh), let every peer
# encode its requests against the loopback recorder (recorder.py, canned responses from
# vectors.py), then check the captures with the spec-only decoder verify.py.
#
#   tests/interop/capture.sh [CACHE_DIR] [OUT_DIR]
#       defaults: <repo>/target/interop-cache, <repo>/target/interop-out
#
# OUT_DIR/<peer>/<case>.bin|.json|.result.json, OUT_DIR/responses/, OUT_DIR/verify.json and,
# on success, OUT_DIR/.complete (the Rust decode tests use a complete OUT_DIR instead of the
# golden snapshot).  Exit status: 0 all encoders ran; 77 setup could not reach a package
# registry (SKIP LOUDLY); 1 setup or an encoder failed.  Only 127.0.0.1 is used.
set -u -o pipefail
export PYTHONDONTWRITEBYTECODE=1  # keep tests/interop free of __pycache__
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CACHE="${1:-${INTEROP_CACHE:-$REPO/target/interop-cache}}"
OUT="${2:-$REPO/target/interop-out}"

"$HERE/setup.sh" "$CACHE"
rc=$?
if [ $rc -eq 77 ]; then
  echo "capture: SKIPPED (package registry unreachable) - nothing was captured" >&2
  exit 77
fi
[ $rc -eq 0 ] || exit 1
# shellcheck disable=SC1091
. "$(cd "$CACHE" && pwd)/env.sh"

rm -rf "$OUT"
mkdir -p "$OUT"
python3 "$HERE/vectors.py" "$OUT/responses" || exit 1

failed=0
run() { # peer, command...
  local peer="$1"; shift
  local t0; t0=$(date +%s)
  echo "== $peer"
  if ! timeout 600 "$@" "$OUT/$peer"; then
    echo "capture: encoder for $peer FAILED" >&2
    failed=1
  fi
  echo "   ($peer: $(( $(date +%s) - t0 ))s)"
}
run samsa       "$INTEROP_VENV_PYTHON" "$HERE/encode_samsa.py"
run brod        "$INTEROP_VENV_PYTHON" "$HERE/encode_brod.py"
run pykafka     "$INTEROP_VENV_PYTHON" "$HERE/encode_pykafka.py"
run prozess     node "$HERE/encode_prozess.js"
run franz-kafka node "$HERE/encode_franz_kafka.js"
run kafka_npm   node "$HERE/encode_kafka_npm.js"

echo "== verify"
python3 "$HERE/verify.py" "$OUT" || failed=1
if [ $failed -eq 0 ]; then
  date -u +%FT%TZ > "$OUT/.complete"
fi
exit $failed
