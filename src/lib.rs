//! # kafka07
//!
//! The Apache Kafka 0.7 wire protocol in Rust: a facade over the workspace's crates.
//!
//! * [`proto`]: the `no_std`, zero-copy codec ([`kafka07_proto`]).
//! * [`io`]: sockets and files: client, producer, consumer, embedded broker
//!   ([`kafka07_io`]).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use kafka07_io as io;
pub use kafka07_proto as proto;
