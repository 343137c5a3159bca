//! Fuzz target `stream`: FetchStream fed in random-sized pieces, against the one-shot decoder.
//! The oracle is `checks::stream` (fuzz/src/checks.rs), shared with the regression replay.
#![no_main]

use kafka07_proto_fuzz::checks;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| checks::stream(data));
