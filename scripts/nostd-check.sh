#!/usr/bin/env bash
# Proves kafka07-proto builds and links with no std and no alloc:
#  1. host: a #![no_std] staticlib (ci/nostd-check) linked into a C program and run;
#  2. thumbv7em-none-eabihf, when `rustup target add` can install it (skipped with a message
#     otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="$PWD/target/nostd-check"
manifest=ci/nostd-check/Cargo.toml

cargo build --release --manifest-path "$manifest"
cc -o "$CARGO_TARGET_DIR/nostd-check" ci/nostd-check/check.c \
   "$CARGO_TARGET_DIR/release/libkafka07_nostd_check.a"
"$CARGO_TARGET_DIR/nostd-check"

if rustup target list --installed 2>/dev/null | grep -qx thumbv7em-none-eabihf \
   || rustup target add thumbv7em-none-eabihf >/dev/null 2>&1; then
  cargo build --release --manifest-path "$manifest" --target thumbv7em-none-eabihf
  echo "no_std: thumbv7em-none-eabihf build OK"
else
  echo "no_std: thumbv7em-none-eabihf SKIPPED (rustup target add failed on this machine)"
fi
