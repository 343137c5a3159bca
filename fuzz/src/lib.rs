//! Support crate of the `kafka07-proto` fuzz targets: the oracles, shared with the stable
//! regression replay in `kafka07-proto/tests/fuzz_regressions.rs`.
#![warn(missing_docs)]

pub mod checks;
