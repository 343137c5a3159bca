//! Fuzz target `request`: Request::decode, Request::parse and Request::parse_prefix.
//! The oracle is `checks::request` (fuzz/src/checks.rs), shared with the regression replay.
#![no_main]

use kafka07_proto_fuzz::checks;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| checks::request(data));
