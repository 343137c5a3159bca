//! Fuzz target `shallow`: shallow message-set iteration, every CRC policy, strict and lax.
//! The oracle is `checks::shallow` (fuzz/src/checks.rs), shared with the regression replay.
#![no_main]

use kafka07_proto_fuzz::checks;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| checks::shallow(data));
