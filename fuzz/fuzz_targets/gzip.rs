//! Fuzz target `gzip`: kafka07_proto::gzip::{parse_header, decompress, decompress_with}, against flate2,
//! and decompress_in with the zlib-rs backend against miniz_oxide (feature `zlib-rs`, default).
//! The oracle is `checks::gzip_decode` (fuzz/src/checks.rs), shared with the regression replay.
#![no_main]

use kafka07_proto_fuzz::checks;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| checks::gzip_decode(data));
