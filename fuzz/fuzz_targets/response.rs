//! Fuzz target `response`: Response::decode / Response::parse against an Expect taken from the input, and Session.
//! The oracle is `checks::response` (fuzz/src/checks.rs), shared with the regression replay.
#![no_main]

use kafka07_proto_fuzz::checks;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| checks::response(data));
