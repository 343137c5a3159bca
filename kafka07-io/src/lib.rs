//! # kafka07-io
//!
//! The std layer of kafka07: everything that touches a socket or a file. It holds no protocol
//! logic of its own — framing, parsing, encoding, offsets, CRCs and compression all come from
//! [`kafka07_proto`] (re-exported as [`proto`]).
//!
//! * Client side: [`Connection`] (one socket, requests in one write, responses paired in
//!   order), [`Client`] (fetch, multifetch, offsets, produce, multiproduce, with retry and
//!   failover over a [`BrokerList`]), [`Producer`] (batching, gzip/snappy wrappers,
//!   `max.message.size`), [`Consumer`] (streaming fetch, deep iteration, the reference's resume
//!   offsets, fetch-size growth, follow mode).
//! * Server side: [`Broker`], an embedded 0.7 broker with the 0.7.2 reaction matrix, in memory
//!   or on disk in the real 0.7 log layout (recovery, flush visibility, OFFSETS from segment
//!   files).
//! * [`capture`]: pcap/pcapng capture reading with TCP reassembly, for decoding recorded 0.7
//!   traffic.
//!
//! ```
//! use kafka07_io::{Broker, BrokerConfig, Consumer, ConsumerConfig, Producer, ProducerConfig};
//! use kafka07_io::proto::Codec;
//!
//! let broker = Broker::start(BrokerConfig::in_memory().visible_on_append(true))?;
//! let mut producer = Producer::new(broker.local_addr(), ProducerConfig::default().codec(Codec::Gzip));
//! for i in 0..10 {
//!     producer.send_to("logs", 0, format!("line {i}"))?;
//! }
//! producer.flush()?;
//! producer.confirm("logs")?;
//!
//! let mut consumer = Consumer::new(broker.local_addr(), "logs", 0, ConsumerConfig::default());
//! let mut lines = Vec::new();
//! consumer.poll(|m| {
//!     lines.push(String::from_utf8_lossy(m.message.payload()).into_owned());
//!     std::ops::ControlFlow::Continue(())
//! })?;
//! assert_eq!(lines.len(), 10);
//! assert_eq!(lines[9], "line 9");
//! # Ok::<(), kafka07_io::Error>(())
//! ```
//!
//! Section numbers (§) and edge-case ids (E..) in these docs refer to the project's protocol
//! specification (`kafka07-protocol.md`).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use kafka07_proto as proto;

/// The inflate backend of this crate's deep decoding (consumer, client, broker): zlib-rs, which
/// decodes the same as the proto crate's default (miniz_oxide) and, in the `deep` bench
/// (JSON-log batches), about 1.25x faster end to end.
const INFLATE: proto::gzip::Backend = proto::gzip::Backend::ZlibRs;

mod broker;
mod brokers;
pub mod capture;
mod client;
mod connection;
mod consumer;
mod error;
mod producer;
#[cfg(feature = "zookeeper")]
pub mod zk;

pub use broker::{
    copy_dir, fits_file_name, validate_topic, Broker, BrokerConfig, BrokerStats, PartitionRecovery,
    StartupReport, CLEAN_SHUTDOWN_FILE, MAX_FILE_NAME,
};
pub use brokers::{Backoff, BrokerList};
pub use client::{encode_messages, Client, FetchSpec, Fetched, OffsetTime};
pub use connection::{Connection, ConnectionConfig, StreamSummary};
pub use consumer::{ConsumedMessage, Consumer, ConsumerConfig, OffsetReset, PollStats, StartAt};
pub use error::{Error, Result};
pub use producer::{
    HashPartitioner, Partitioner, Partitioning, Producer, ProducerConfig, ProducerStats,
};
