//! Fuzz target `deep_cursor`: DeepCursor against whole-set deep iteration.
//! The oracle is `checks::deep_cursor` (fuzz/src/checks.rs), shared with the regression replay.
#![no_main]

use kafka07_proto_fuzz::checks;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| checks::deep_cursor(data));
