//! Fuzz target `snappy_diff`: our raw snappy decoder against the snap crate.
//! The oracle is `checks::snappy_diff` (fuzz/src/checks.rs), shared with the regression replay.
#![no_main]

use kafka07_proto_fuzz::checks;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| checks::snappy_diff(data));
