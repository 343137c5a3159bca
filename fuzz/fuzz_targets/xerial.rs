//! Fuzz target `xerial`: kafka07_proto::xerial framing, against the snappy-java rules with snap.
//! The oracle is `checks::xerial_decode` (fuzz/src/checks.rs), shared with the regression replay.
#![no_main]

use kafka07_proto_fuzz::checks;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| checks::xerial_decode(data));
