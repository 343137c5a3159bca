//! # kafka07-io
//!
//! The std layer of kafka07: everything that touches a socket or a file. It holds no protocol
//! logic of its own — framing, parsing, encoding, offsets and compression all come from
//! [`kafka07_proto`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use kafka07_proto as proto;

pub mod capture;
