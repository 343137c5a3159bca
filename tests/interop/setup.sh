#!/usr/bin/env bash
# Install the third-party Kafka 0.7 peers used by the interop harness.
#
#   tests/interop/setup.sh [CACHE_DIR]   (default: $INTEROP_CACHE, else <repo>/target/interop-cache)
#
# Creates, idempotently:
#   CACHE/venv/              python3.11 venv: samsa==0.3.11, brod==0.4.3, pykafka==0.1.3,
#                            kazoo==2.10.0 (samsa's ZooKeeper mode)
#                            (pip --no-deps; they are Python 2 code, loaded through pycompat.py)
#   CACHE/npm/               npm prefix: prozess@0.7.0, franz-kafka@0.7.5, kafka@0.2.3,
#                            snappy@6.3.5 (installed with --ignore-scripts, then built with
#                            node-gyp against the local Node headers), and our stand-in for
#                            the native bignum@0.6.2 (standins/bignum, via npm "overrides")
#   CACHE/env.sh             exports INTEROP_VENV_PYTHON and INTEROP_NPM_PREFIX
#   CACHE/setup-times.json   seconds per step of the last run
#   CACHE/status.json        what is installed (and whether native snappy built)
#
# Exit status: 0 ready; 77 a package registry could not be reached (callers must
# SKIP LOUDLY, not pass); 1 anything else failed.
# Set INTEROP_FORCE=1 to reinstall everything.

set -u -o pipefail
export PYTHONDONTWRITEBYTECODE=1  # keep tests/interop free of __pycache__

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CACHE="${1:-${INTEROP_CACHE:-$REPO/target/interop-cache}}"
mkdir -p "$CACHE" || exit 1
CACHE="$(cd "$CACHE" && pwd)"
LOG="$CACHE/setup.log"
: > "$LOG"

PY_BIN="${INTEROP_PYTHON_BIN:-python3.11}"
PY_PINS=(samsa==0.3.11 brod==0.4.3 pykafka==0.1.3 kazoo==2.10.0)
NPM_PINS='"prozess": "0.7.0", "franz-kafka": "0.7.5", "kafka": "0.2.3", "snappy": "6.3.5"'

say() { printf 'interop-setup: %s\n' "$*"; }
now() { date +%s.%N; }
T_ALL=$(now)
declare -A TIMES

unreachable() {
  {
    echo
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
    echo "!! interop-setup: PACKAGE REGISTRY UNREACHABLE while: $1"
    echo "!! The interop peers are NOT installed; interop tests must be SKIPPED"
    echo "!! (loudly) - they did not pass.  Details: $LOG"
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
  } >&2
  exit 77
}

fail() {
  echo "interop-setup: FAILED: $1 (details: $LOG)" >&2
  tail -n 25 "$LOG" >&2
  exit 1
}

# A failed install is "unreachable" when its output shows a network-level error
# (or pip's "no version found", which is what it prints when no index answers).
NET_RE='NewConnectionError|Failed to establish a new connection|Temporary failure in name resolution|Name or service not known|Connection refused|ConnectTimeout|ReadTimeout|timed out|Network is unreachable|No matching distribution found|Could not find a version that satisfies|ENOTFOUND|ECONNREFUSED|ETIMEDOUT|EAI_AGAIN|ECONNRESET|ENETUNREACH|EHOSTUNREACH|FETCH_ERROR|network request to'

run_install() { # label, command...
  local label="$1"; shift
  local out rc
  out="$("$@" 2>&1)"; rc=$?
  printf '### %s\n$ %s\n%s\n' "$label" "$*" "$out" >> "$LOG"
  if [ $rc -ne 0 ]; then
    if grep -Eqi "$NET_RE" <<<"$out"; then unreachable "$label"; fi
    fail "$label (exit $rc)"
  fi
}

elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

stamp_of() { printf '%s' "$*" | sha256sum | cut -c1-16; }

# ------------------------------------------------------------------ python
T0=$(now)
command -v "$PY_BIN" >/dev/null 2>&1 || fail "$PY_BIN not found (the peers need a Python with lib2to3, i.e. <= 3.12)"
"$PY_BIN" -c 'import lib2to3' 2>/dev/null || fail "$PY_BIN has no lib2to3"
VENV="$CACHE/venv"
PY_STAMP="$(stamp_of "${PY_PINS[*]}" "$("$PY_BIN" -V 2>&1)")"
if [ "${INTEROP_FORCE:-0}" = 1 ] || [ "$(cat "$VENV/.interop-stamp" 2>/dev/null)" != "$PY_STAMP" ]; then
  say "creating venv and installing ${PY_PINS[*]} (--no-deps)"
  rm -rf "$VENV"
  "$PY_BIN" -m venv "$VENV" >> "$LOG" 2>&1 || fail "python venv"
  # --no-deps: kazoo (samsa's ZooKeeper client, for tests/interop/samsa_zk.py) is pinned
  # here and has no required dependencies; brod's zc.zk/zookeeper are only needed for
  # its ZooKeeper layer, which the harness never imports.  The sdists are built with
  # pip's default isolated build (it fetches setuptools+wheel for the build only).
  run_install "pip install ${PY_PINS[*]}" "$VENV/bin/python" -m pip install \
    --no-deps --no-compile --disable-pip-version-check --retries 1 --timeout 30 "${PY_PINS[@]}"
  echo "$PY_STAMP" > "$VENV/.interop-stamp"
else
  say "python peers already installed"
fi
"$VENV/bin/python" "$HERE/pycompat.py" --check >> "$LOG" 2>&1 || fail "pycompat could not import the python peers"
TIMES[python]=$(elapsed "$T0")

# --------------------------------------------------------------------- npm
T0=$(now)
command -v node >/dev/null 2>&1 || fail "node not found"
command -v npm >/dev/null 2>&1 || fail "npm not found"
NPMP="$CACHE/npm"
mkdir -p "$NPMP"
NPM_STAMP="$(stamp_of "$NPM_PINS" "$(cat "$HERE"/standins/bignum/*)" "$(node --version)")"
if [ "${INTEROP_FORCE:-0}" = 1 ] || [ "$(cat "$NPMP/.interop-stamp" 2>/dev/null)" != "$NPM_STAMP" ]; then
  say "installing npm peers: $NPM_PINS (--ignore-scripts)"
  rm -rf "$NPMP/node_modules" "$NPMP/package-lock.json" "$NPMP/standins"
  mkdir -p "$NPMP/standins"
  cp -r "$HERE/standins/bignum" "$NPMP/standins/bignum"
  cat > "$NPMP/package.json" <<EOF
{
  "name": "kafka07-interop-peers",
  "private": true,
  "description": "Kafka 0.7 peers for the interop harness (generated by setup.sh; do not edit)",
  "dependencies": { $NPM_PINS },
  "overrides": {
    "bignum": "file:standins/bignum",
    "snappy": "6.3.5"
  }
}
EOF
  # --ignore-scripts: bignum@0.6.2's native build cannot work on Node 20 (it is
  # replaced by the stand-in anyway) and snappy's install script would first try
  # to download a prebuilt binary; snappy is built explicitly below.
  run_install "npm install" bash -c "cd '$NPMP' && npm install --ignore-scripts --no-audit --no-fund \
    --fetch-retries=1 --fetch-retry-mintimeout=2000 --fetch-retry-maxtimeout=5000 --fetch-timeout=60000 --loglevel=warn"
  echo "$NPM_STAMP" > "$NPMP/.interop-stamp"
  rm -f "$NPMP/.snappy-status"
else
  say "npm peers already installed"
fi
TIMES[npm]=$(elapsed "$T0")

# ---------------------------------------------------- snappy native addon
T0=$(now)
SNAPPY_DIR="$NPMP/node_modules/snappy"
if [ ! -f "$NPMP/.snappy-status" ]; then
  NG="$(npm root -g 2>/dev/null)/npm/node_modules/node-gyp/bin/node-gyp.js"
  [ -f "$NG" ] || NG="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
  NODEDIR_ARGS=()
  # Node's own headers ship with the distribution package; without them node-gyp
  # would try to download headers, which is not possible here.
  for d in /usr /usr/local; do
    if [ -f "$d/include/node/node.h" ]; then NODEDIR_ARGS=(--nodedir="$d"); break; fi
  done
  if [ -f "$NG" ] && command -v make >/dev/null && command -v g++ >/dev/null; then
    say "building snappy@6.3.5 natively (node-gyp ${NODEDIR_ARGS[*]})"
    if (cd "$SNAPPY_DIR" && node "$NG" rebuild "${NODEDIR_ARGS[@]}") >> "$LOG" 2>&1 \
       && (cd "$NPMP" && node -e "require('snappy').compressSync(Buffer.from('x'))") >> "$LOG" 2>&1; then
      echo "native" > "$NPMP/.snappy-status"
    else
      echo "build-failed" > "$NPMP/.snappy-status"
    fi
  else
    echo "no-toolchain" > "$NPMP/.snappy-status"
  fi
fi
SNAPPY_STATUS="$(cat "$NPMP/.snappy-status")"
if [ "$SNAPPY_STATUS" != native ]; then
  echo "interop-setup: WARNING: snappy native addon unavailable ($SNAPPY_STATUS);" \
       "franz-kafka snappy cases will record 'snappy could not be loaded'" >&2
fi
(cd "$NPMP" && node -e "for (const m of ['prozess','franz-kafka','kafka']) require(m)") >> "$LOG" 2>&1 \
  || fail "the npm peers do not load"
TIMES[snappy]=$(elapsed "$T0")

# ------------------------------------------------------------------ outputs
cat > "$CACHE/env.sh" <<EOF
# generated by setup.sh
export INTEROP_VENV_PYTHON="$VENV/bin/python"
export INTEROP_NPM_PREFIX="$NPMP"
EOF
TOTAL=$(elapsed "$T_ALL")
cat > "$CACHE/setup-times.json" <<EOF
{"python_seconds": ${TIMES[python]}, "npm_seconds": ${TIMES[npm]}, "snappy_seconds": ${TIMES[snappy]}, "total_seconds": $TOTAL, "finished": "$(date -u +%FT%TZ)"}
EOF
cat > "$CACHE/status.json" <<EOF
{"python": "$("$VENV/bin/python" -V 2>&1)", "python_peers": "${PY_PINS[*]}", "node": "$(node --version)", "npm_peers": {$NPM_PINS}, "bignum": "stand-in (standins/bignum)", "snappy_native": "$SNAPPY_STATUS"}
EOF
say "ready in ${TOTAL}s (python ${TIMES[python]}s, npm ${TIMES[npm]}s, snappy ${TIMES[snappy]}s); source $CACHE/env.sh"
exit 0
