//! Fuzz target `capture`: the pcap/pcapng `CaptureReader` of kafka07-io over arbitrary bytes,
//! with small memory limits. The oracle is `checks_std::capture` (fuzz/src/checks_std.rs),
//! shared with the regression replay.
#![no_main]

use kafka07_proto_fuzz::checks_std;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| checks_std::capture(data));
