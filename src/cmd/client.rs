//! What `produce`, `consume` and `offsets` share: the broker list option and the mapping of
//! client errors to exit codes.

use std::time::Duration;

use kafka07::io::{Backoff, BrokerList, ConnectionConfig, Error};
use kafka07::proto::ErrorCode;

use super::{Code, Failure};

/// Broker options.
#[derive(Debug, Clone, clap::Args)]
pub struct BrokerArgs {
    /// Broker address HOST:PORT; repeat it or separate with commas to list several
    /// (failover in order).
    #[arg(
        short = 'b',
        long = "broker",
        value_name = "HOST:PORT",
        value_delimiter = ',',
        default_value = "127.0.0.1:9092"
    )]
    pub brokers: Vec<String>,
    /// Seconds to keep trying to connect before giving up, and the socket timeout.
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    pub timeout: u64,
}

impl BrokerArgs {
    /// The broker list: every broker tried in order, a few rounds, within `--timeout`.
    pub fn list(&self) -> BrokerList {
        let t = Duration::from_secs(self.timeout.max(1));
        BrokerList::new(self.brokers.iter())
            .max_rounds(3)
            .connect_deadline(t)
            .backoff(Backoff::new(
                Duration::from_millis(50),
                Duration::from_millis(500),
            ))
            .connection_config(
                ConnectionConfig::default()
                    .connect_timeout(t)
                    .read_timeout(t.max(Duration::from_secs(5)))
                    .write_timeout(t.max(Duration::from_secs(5))),
            )
    }

    /// The brokers as one string, for messages.
    pub fn shown(&self) -> String {
        self.brokers.join(",")
    }
}

/// Checks a topic name as the 0.7.2 broker does (a bad name would only make the broker
/// close the connection).
pub fn check_topic(topic: &str) -> Result<(), Failure> {
    kafka07::io::validate_topic(topic.as_bytes(), 255)
        .map(drop)
        .map_err(|why| Failure::new(Code::Usage, format!("invalid topic name {topic:?}: {why}")))
}

/// The exit code for a client error.
pub fn code_for(e: &Error) -> Code {
    match e {
        Error::ConnectRefused { .. } | Error::Connect { .. } | Error::NoBrokerAvailable { .. } => {
            Code::Unreachable
        }
        Error::Timeout { op: "connect", .. } => Code::Unreachable,
        Error::Broker { code, .. } if *code == ErrorCode::OFFSET_OUT_OF_RANGE => {
            Code::OffsetOutOfRange
        }
        Error::Broker { .. }
        | Error::Closed { .. }
        | Error::UnexpectedResponse(_)
        | Error::Protocol(_)
        | Error::Timeout { .. } => Code::BrokerError,
        Error::InvalidTopic { .. } | Error::Config(_) => Code::Usage,
        _ => Code::Failure,
    }
}

/// A [`Failure`] for a client error, with a hint a user can act on.
pub fn failure(e: Error, brokers: &BrokerArgs) -> Failure {
    let code = code_for(&e);
    let hint = match code {
        Code::Unreachable => format!(
            "; is a broker running at {}? (start one with `kafka07 broker`)",
            brokers.shown()
        ),
        Code::BrokerError if matches!(e, Error::Closed { .. }) => {
            "; a 0.7 broker closes the connection on a request it rejects (invalid topic, \
             partition out of range, bad message)"
                .to_string()
        }
        _ => String::new(),
    };
    Failure::new(code, format!("{e}{hint}"))
}
