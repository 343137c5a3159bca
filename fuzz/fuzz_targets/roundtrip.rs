//! Fuzz target `roundtrip`: parse-then-emit over every repr, and emit-then-parse.
//! The oracle is `checks::roundtrip` (fuzz/src/checks.rs), shared with the regression replay.
#![no_main]

use kafka07_proto_fuzz::checks;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| checks::roundtrip(data));
