//! The crate's error type.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use kafka07_proto::ErrorCode;

/// Everything that can go wrong in kafka07-io: sockets, brokers, files and the protocol.
///
/// Connection-level variants ([`Error::is_connection_error`]) mean the connection they happened
/// on is no longer usable; the [`Client`](crate::Client) drops it and reconnects on its next
/// request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Nothing listens at the address (the connection was refused).
    #[error("connection refused by {addr}")]
    ConnectRefused {
        /// The address tried.
        addr: String,
    },
    /// Connecting failed for another reason (unreachable, address not resolvable, ...).
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// The address tried.
        addr: String,
        /// The system's error.
        #[source]
        source: io::Error,
    },
    /// A connect, read or write did not complete within its timeout.
    #[error("{op} timed out after {after:?}")]
    Timeout {
        /// What timed out: `connect`, `read` or `write`.
        op: &'static str,
        /// The timeout in force.
        after: Duration,
    },
    /// The broker closed the connection. This is how a 0.7 broker answers a request it rejects
    /// (a bad produce: bad CRC, invalid topic, partition out of range, malformed request; spec
    /// §6.9): there is no error response for PRODUCE, MULTIPRODUCE and OFFSETS.
    #[error("the broker {} the connection{}", if *.reset { "reset" } else { "closed" }, if *.during_response { " in the middle of a response" } else { "" })]
    Closed {
        /// `true` when part of a response had already arrived.
        during_response: bool,
        /// `true` for a reset (ECONNRESET, EPIPE) rather than an orderly close: this
        /// crate's broker resets connections it refuses at its connection limit, and closes
        /// those whose request it rejects in order (spec §6.9).
        reset: bool,
    },
    /// A response frame announced more bytes than the configured limit.
    #[error("response of {size} bytes exceeds the limit of {limit} bytes")]
    ResponseTooLarge {
        /// The size the frame announced.
        size: u64,
        /// The limit in force.
        limit: u64,
    },
    /// Another I/O error.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// Bytes that do not decode (or a value that does not encode) as 0.7 protocol.
    #[error("protocol error: {0}")]
    Protocol(#[from] kafka07_proto::Error),
    /// The broker answered with an error code.
    #[error("the broker answered {code} for {topic}:{partition}")]
    Broker {
        /// The code.
        code: ErrorCode,
        /// The topic of the request.
        topic: String,
        /// The partition of the request.
        partition: i32,
    },
    /// A message payload larger than `max.message.size` (checked before sending, as the
    /// reference producer does, on each top-level payload: the compressed size for a wrapper).
    #[error("message payload of {size} bytes exceeds max.message.size of {max} bytes")]
    MessageTooLarge {
        /// The payload size.
        size: usize,
        /// The limit in force.
        max: usize,
    },
    /// A single message is larger than the consumer's largest allowed fetch size.
    #[error("a message of {needed} bytes does not fit the maximum fetch size of {max} bytes")]
    FetchSizeExceeded {
        /// Bytes the message needs (`4 + N`).
        needed: u64,
        /// The consumer's `max_fetch_size`.
        max: u64,
    },
    /// Every broker of a [`BrokerList`](crate::BrokerList) was tried, with backoff, and none
    /// could be reached.
    #[error("no broker reachable after {attempts} attempts; last error: {last}")]
    NoBrokerAvailable {
        /// Connection attempts made.
        attempts: u32,
        /// The last attempt's error.
        last: Box<Error>,
    },
    /// A topic name the 0.7.2 validator rejects (spec §8.1).
    #[error("invalid topic name {topic:?}: {reason}")]
    InvalidTopic {
        /// The name (lossily decoded).
        topic: String,
        /// Why it is invalid.
        reason: &'static str,
    },
    /// A configuration value that cannot work.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A log directory that cannot be opened as a 0.7 log (segment chain gap, bad file name...).
    #[error("log directory {path}: {reason}")]
    Storage {
        /// The file or directory concerned.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The response did not have the shape the request expects.
    #[error("unexpected response: {0}")]
    UnexpectedResponse(&'static str),
    /// A ZooKeeper operation failed (unreachable ensemble, lost session, missing node...).
    #[error("ZooKeeper {connect}: {op} {path}: {reason}")]
    ZooKeeper {
        /// The connect string.
        connect: String,
        /// The operation (`connect`, `create`, `get`, `children`, `set`, `delete`).
        op: &'static str,
        /// The znode path (relative to the chroot), empty for `connect`.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The broker id is registered by a live broker already (the reference refuses to start
    /// too, spec §10.1).
    #[error("broker registration {path} is held by a live broker ({holder:?}); stop it or pick another --broker-id")]
    RegistrationConflict {
        /// The znode (`/brokers/ids/<id>`).
        path: String,
        /// The holder's registration data (`<creator>:<host>:<port>`).
        holder: String,
    },
    /// No live broker to send a topic's messages to (ZooKeeper mode).
    #[error("no live broker registered in ZooKeeper for topic {topic:?}")]
    NoBrokersForTopic {
        /// The topic.
        topic: String,
    },
    /// The partitioner chose an index outside the partition list (the reference's
    /// `InvalidPartitionException`; its `DefaultPartitioner` does this for a key whose Java
    /// hash is `Int.MinValue`, E39).
    #[error("partitioner chose index {index} of {count} partitions of topic {topic:?} (InvalidPartition)")]
    InvalidPartition {
        /// The topic.
        topic: String,
        /// The chosen index.
        index: i64,
        /// The partition list's length.
        count: usize,
    },
    /// A consumer-group rebalance found its partitions still owned after every retry (the
    /// reference's `ConsumerRebalanceFailedException`).
    #[error("group {group}: rebalance failed after {attempts} attempts: {reason}")]
    RebalanceFailed {
        /// The group.
        group: String,
        /// Attempts made (`rebalance.retries.max`).
        attempts: u32,
        /// The last attempt's problem.
        reason: String,
    },
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// `true` for errors after which the connection is unusable (closed, timed out, reset,
    /// refused, oversized response): a new connection may succeed where this one failed.
    pub fn is_connection_error(&self) -> bool {
        matches!(
            self,
            Error::ConnectRefused { .. }
                | Error::Connect { .. }
                | Error::Timeout { .. }
                | Error::Closed { .. }
                | Error::Io(_)
                | Error::NoBrokerAvailable { .. }
        )
    }

    /// The broker error code, for [`Error::Broker`].
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Broker { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Maps an I/O error from a socket operation to the clearest variant.
    pub(crate) fn from_io(e: io::Error, op: &'static str, timeout: Duration, mid: bool) -> Error {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                Error::Timeout { op, after: timeout }
            }
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => Error::Closed {
                during_response: mid,
                reset: true,
            },
            io::ErrorKind::UnexpectedEof => Error::Closed {
                during_response: mid,
                reset: false,
            },
            _ => Error::Io(e),
        }
    }
}
