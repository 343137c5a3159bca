//! What `produce`, `consume` and `offsets` share: the broker list option and the mapping of
//! client errors to exit codes.

use std::time::Duration;

use kafka07::io::{Backoff, BrokerList, Client, ConnectionConfig, Error};
use kafka07::proto::ErrorCode;

use super::{Code, Failure};

/// Broker options.
#[derive(Debug, Clone, clap::Args)]
pub struct BrokerArgs {
    /// Broker address HOST[:PORT] (the port defaults to 9092, the 0.7 broker's; an IPv6
    /// address with a port is written [ADDR]:PORT); repeat it or separate with commas to list
    /// several (failover in order).
    #[arg(
        short = 'b',
        long = "broker",
        value_name = "HOST[:PORT]",
        value_delimiter = ',',
        default_value = "127.0.0.1:9092",
        value_parser = parse_broker
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

/// The port a broker address without one gets (the 0.7 broker's default `port`).
pub const DEFAULT_PORT: u16 = 9092;

/// Parses `HOST[:PORT]`, `[IPV6][:PORT]` or a bare IPv6 address into `HOST:PORT`, with
/// [`DEFAULT_PORT`] when no port is given.
pub fn parse_broker(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("an empty broker address (expected HOST[:PORT])".into());
    }
    if s.parse::<std::net::Ipv6Addr>().is_ok() {
        return Ok(format!("[{s}]:{DEFAULT_PORT}"));
    }
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let Some((addr, after)) = rest.split_once(']') else {
            return Err(format!("{s:?}: an IPv6 address opened with [ has no ]"));
        };
        if addr.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("{s:?}: {addr:?} is not an IPv6 address"));
        }
        match after {
            "" => (format!("[{addr}]"), None),
            p => match p.strip_prefix(':') {
                Some(port) => (format!("[{addr}]"), Some(port)),
                None => return Err(format!("{s:?}: expected :PORT after the ]")),
            },
        }
    } else {
        match s.rsplit_once(':') {
            Some((host, port)) => (host.to_owned(), Some(port)),
            None => (s.to_owned(), None),
        }
    };
    if host.is_empty() {
        return Err(format!("{s:?}: the host is missing (expected HOST[:PORT])"));
    }
    match port {
        None => Ok(format!("{host}:{DEFAULT_PORT}")),
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => Ok(format!("{host}:{n}")),
            _ => Err(format!(
                "{s:?}: the port {p:?} is not a number from 1 to 65535 (expected HOST[:PORT])"
            )),
        },
    }
}

/// How many partitions `topic` has on the broker, found with zero-size FETCHes (a 0.7
/// broker answers WrongPartition (3) for a partition it does not have, and code 0, nothing
/// read, for one it has), when `partition` is one it does not have; `None` when `partition`
/// exists or the broker cannot tell.
pub fn partition_count(brokers: &BrokerArgs, topic: &str, partition: i32) -> Option<i32> {
    let mut client = Client::new(brokers.list());
    let mut wrong = |p: i32| match client.fetch(topic, p, 0, 0) {
        Ok(_) => Some(false),
        Err(Error::Broker { code, .. }) => Some(code == ErrorCode::WRONG_PARTITION),
        Err(_) => None,
    };
    // `hi` is a partition the broker does not have.
    let mut hi = if partition >= 0 {
        if !wrong(partition)? {
            return None;
        }
        partition
    } else {
        let mut p = 1i32;
        while !wrong(p)? {
            p = p.checked_mul(2).filter(|p| *p <= 1 << 20)?;
        }
        p
    };
    let mut lo = 0;
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if wrong(mid)? {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Some(hi)
}

/// The partitions a count allows, for messages: `1 partition (0)`, `4 partitions (0 to 3)`.
pub fn partitions_shown(n: i32) -> String {
    match n {
        0 => "no partitions".into(),
        1 => "1 partition (0)".into(),
        n => format!("{n} partitions (0 to {})", n - 1),
    }
}

/// A [`Failure`] for a client error from `request` (`OFFSETS`, `FETCH`, `PRODUCE`...) on
/// `topic:partition`: says which request failed and why; when the broker rejected a
/// partition it does not have (it closes the connection on OFFSETS and PRODUCE, answers
/// WrongPartition on FETCH), how many partitions the topic has there.
pub fn request_failure(
    e: Error,
    request: &str,
    topic: &str,
    partition: i32,
    brokers: &BrokerArgs,
) -> Failure {
    let rejected = match &e {
        Error::Closed { .. } => Some("it closed the connection"),
        Error::Broker { code, .. } if *code == ErrorCode::WRONG_PARTITION => {
            Some("it answered WrongPartition (3)")
        }
        _ => None,
    };
    // A PRODUCE to partition -1 goes to a partition the broker picks: the partition was not
    // what it rejected, so it is not probed.
    let random = request == "PRODUCE" && partition == kafka07::io::proto::RANDOM_PARTITION;
    if let Some(how) = rejected.filter(|_| !random) {
        if let Some(n) = partition_count(brokers, topic, partition) {
            return Failure::new(
                Code::BrokerError,
                format!(
                    "the broker at {} rejected {request} for {topic}:{partition} ({how}): \
                     topic {topic} has {} on that broker",
                    brokers.shown(),
                    partitions_shown(n)
                ),
            );
        }
    }
    let f = failure(e, brokers);
    Failure::new(
        f.code,
        format!("{request} for {topic}:{partition} failed: {}", f.message),
    )
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

/// The hint for a connection the broker reset: at connect, or after a request.
const RESET_HINT: &str = "; a kafka07 broker resets connections it refuses (over its \
     --max-connections, see its log); a 0.7 broker may also reset one whose request it rejects";

/// A [`Failure`] for a client error, with a hint a user can act on.
pub fn failure(e: Error, brokers: &BrokerArgs) -> Failure {
    let code = code_for(&e);
    // What the last connection attempt found, when every attempt failed.
    let root = match &e {
        Error::NoBrokerAvailable { last, .. } => &**last,
        e => e,
    };
    let hint = match code {
        _ if matches!(root, Error::Closed { reset: true, .. }) => RESET_HINT.to_string(),
        Code::Unreachable => format!(
            "; is a broker running at {}? (start one with `kafka07 broker`)",
            brokers.shown()
        ),
        Code::BrokerError if matches!(e, Error::Closed { .. }) => {
            "; a 0.7 broker closes the connection on a request it rejects (invalid topic, \
             partition out of range, bad message)"
                .to_string()
        }
        _ if matches!(e, Error::FetchSizeExceeded { .. }) => {
            "; raise --max-fetch-size to read it".to_string()
        }
        _ => String::new(),
    };
    Failure::new(code, format!("{e}{hint}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_addresses_get_the_default_port() {
        let ok = |s: &str| parse_broker(s).unwrap();
        assert_eq!(ok("127.0.0.1"), "127.0.0.1:9092");
        assert_eq!(ok("127.0.0.1:9093"), "127.0.0.1:9093");
        assert_eq!(ok("localhost"), "localhost:9092");
        assert_eq!(ok(" kafka1:19092 "), "kafka1:19092");
        assert_eq!(ok("::1"), "[::1]:9092");
        assert_eq!(ok("[::1]"), "[::1]:9092");
        assert_eq!(ok("[::1]:9094"), "[::1]:9094");
        for (bad, why) in [
            ("", "an empty broker address"),
            (":9092", "the host is missing"),
            ("127.0.0.1:", "the port \"\" is not a number"),
            ("127.0.0.1:0", "the port \"0\" is not a number"),
            ("127.0.0.1:65536", "the port \"65536\""),
            ("host:x", "the port \"x\""),
            ("[::1", "has no ]"),
            ("[::1]9092", "expected :PORT after the ]"),
            ("[nope]:1", "is not an IPv6 address"),
        ] {
            let e = parse_broker(bad).unwrap_err();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
    }

    #[test]
    fn a_reset_gets_the_connection_limit_hint_wrapped_or_not() {
        let brokers = BrokerArgs {
            brokers: vec!["127.0.0.1:9".into()],
            timeout: 5,
        };
        let reset = || Error::Closed {
            during_response: false,
            reset: true,
        };
        // A reset seen at connect by every attempt (the broker refused before the client's
        // connect completed), and one seen after the request was sent.
        for e in [
            Error::NoBrokerAvailable {
                attempts: 3,
                last: Box::new(reset()),
            },
            reset(),
        ] {
            let text = failure(e, &brokers).message;
            assert!(text.contains("reset the connection"), "{text}");
            assert!(text.contains("--max-connections"), "{text}");
            assert!(!text.contains("is a broker running"), "{text}");
        }
        let refused = Error::NoBrokerAvailable {
            attempts: 3,
            last: Box::new(Error::ConnectRefused {
                addr: "127.0.0.1:9".into(),
            }),
        };
        let text = failure(refused, &brokers).message;
        assert!(
            text.contains("is a broker running at 127.0.0.1:9"),
            "{text}"
        );
        assert!(!text.contains("--max-connections"), "{text}");
    }

    #[test]
    fn partition_counts_read_well() {
        assert_eq!(partitions_shown(1), "1 partition (0)");
        assert_eq!(partitions_shown(4), "4 partitions (0 to 3)");
        assert_eq!(partitions_shown(0), "no partitions");
    }
}
