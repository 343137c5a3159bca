//! Fuzz target `dump`: the `kafka07 decode` pipeline (`kafka07::dump::decode_bytes`, text and
//! JSON Lines output) over arbitrary bytes in every input mode. The oracle is
//! `checks_std::dump` (fuzz/src/checks_std.rs), shared with the regression replay.
#![no_main]

use kafka07_proto_fuzz::checks_std;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| checks_std::dump(data));
