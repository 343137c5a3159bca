//! Fuzz target `deep`: deep message-set iteration with small scratch and a low max_decompressed.
//! The oracle is `checks::deep` (fuzz/src/checks.rs), shared with the regression replay.
#![no_main]

use kafka07_proto_fuzz::checks;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| checks::deep(data));
