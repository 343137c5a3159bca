//! # kafka07
//!
//! The Apache Kafka 0.7 wire protocol in Rust: a facade over the workspace's crates, and the
//! library behind the `kafka07` command-line tool.
//!
//! * [`proto`]: the `no_std`, zero-copy codec ([`kafka07_proto`]).
//! * [`io`]: sockets and files: client, producer, consumer, embedded broker, capture reader
//!   ([`kafka07_io`]).
//! * [`dump`]: decoding captured 0.7 traffic (pcap, pcapng, raw streams) and 0.7 log
//!   segments and directories into events, rendered as text or JSON Lines.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod dump;

pub use kafka07_io as io;
pub use kafka07_proto as proto;

/// The README's Rust examples, compiled and run as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
