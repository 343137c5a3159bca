//! Support crate of the `kafka07` fuzz targets: the oracles, shared with the stable
//! regression replays in `kafka07-proto/tests/fuzz_regressions.rs` (`checks`, the codec) and
//! `tests/fuzz_std_regressions.rs` (`checks_std`, the capture reader and the CLI's decoder).
#![warn(missing_docs)]

pub mod checks;
pub mod checks_std;
