//! `kafka07 produce`: send messages (from `-m`, or stdin split at a delimiter, or all of
//! stdin as one message) to a topic.

use std::io::{self, BufRead, Read};

use clap::ValueEnum;
use kafka07::io::{Producer, ProducerConfig};
use kafka07::proto::Codec;

use super::client::{request_failure, BrokerArgs};
use super::Code;

/// Compression codec.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CodecArg {
    /// No compression.
    None,
    /// Gzip wrappers.
    Gzip,
    /// Snappy wrappers (xerial framing, 0.7.1+ brokers).
    Snappy,
}

/// `produce` options.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Confirmation: 0.7 has no produce acknowledgement. After the last \
    PRODUCE, `produce` sends a zero-size FETCH (partition 0 of the topic, offset 0, max 0 \
    bytes: nothing is read or created) on the same connection and waits for its answer. A \
    0.7 broker answers in request order and closes the connection on a produce it rejects, so \
    the answer proves every message was processed, and a closed connection is reported (exit \
    7). --no-confirm leaves it out (a capture then holds only the PRODUCE requests; a rejected \
    produce goes unnoticed)."
)]
pub struct Args {
    #[command(flatten)]
    brokers: BrokerArgs,
    /// Topic.
    #[arg(short, long)]
    topic: String,
    /// Partition (-1: the broker picks one at random for each request).
    #[arg(short, long, default_value_t = 0, allow_negative_numbers = true)]
    partition: i32,
    /// A message (repeatable); without it, stdin is split into messages at --delimiter.
    #[arg(short, long = "message", value_name = "MESSAGE")]
    messages: Vec<String>,
    /// The byte that ends each message on stdin (default: newline). One character, or
    /// `\n`, `\t`, `\r`, `\0` (NUL) or `\xHH`. Nothing else is removed (a `\r` before a
    /// newline stays in the message).
    #[arg(long, value_name = "BYTE", default_value = "\\n", value_parser = parse_delimiter, conflicts_with = "raw")]
    delimiter: u8,
    /// All of stdin is one message (binary and multi-line payloads).
    #[arg(long, conflicts_with = "messages")]
    raw: bool,
    /// Message format: 1 (0.7's, with an attributes byte) or 0 (the legacy format, for old
    /// consumers such as Perl's Kafka 0.12, which flag magic-1 messages invalid). With
    /// --codec the wrapper is always magic 1 (magic 0 has no codec).
    #[arg(long, value_name = "0|1", default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=1))]
    magic: u8,
    /// Compression: each batch becomes one compressed wrapper message.
    #[arg(long, value_enum, default_value_t = CodecArg::None)]
    codec: CodecArg,
    /// Messages per request.
    #[arg(long, value_name = "N", default_value_t = 200)]
    batch: usize,
    /// Do not send the confirming zero-size FETCH after the messages (see below).
    #[arg(long)]
    no_confirm: bool,
    /// Cluster mode: find brokers and partitions in ZooKeeper (`HOST:PORT[,...][/CHROOT]`)
    /// instead of `-b`; each message goes to a partition of a live broker (random, or by
    /// `--key`).
    #[arg(short = 'c', long = "zookeeper", value_name = "CONNECT", conflicts_with_all = ["brokers", "partition"])]
    zookeeper: Option<String>,
    /// Cluster mode: partition by this key with the reference's `DefaultPartitioner`
    /// (Java `String.hashCode`), so equal keys share a partition.
    #[arg(long, value_name = "KEY", requires = "zookeeper")]
    key: Option<String>,
    /// Cluster mode: ZooKeeper session timeout in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 6000)]
    zk_session_timeout_ms: u64,
}

/// Parses a delimiter: one character (one byte in UTF-8) or an escape.
pub fn parse_delimiter(s: &str) -> Result<u8, String> {
    let escaped = match s {
        "\\n" => Some(b'\n'),
        "\\t" => Some(b'\t'),
        "\\r" => Some(b'\r'),
        "\\0" => Some(0),
        "\\\\" => Some(b'\\'),
        _ => None,
    };
    if let Some(b) = escaped {
        return Ok(b);
    }
    if let Some(h) = s.strip_prefix("\\x") {
        if h.len() == 2 {
            if let Ok(b) = u8::from_str_radix(h, 16) {
                return Ok(b);
            }
        }
    }
    match s.as_bytes() {
        [b] => Ok(*b),
        _ => Err(format!(
            "{s:?} is not one byte: give one character, or \\n, \\t, \\r, \\0 or \\xHH"
        )),
    }
}

/// The most bytes `--raw` reads: the 0.7 broker's `max.socket.request.bytes` (100 MiB).
const RAW_LIMIT: u64 = 104_857_600;

/// The messages to send: `-m`, all of stdin, or stdin split at the delimiter.
fn messages(args: &Args) -> Box<dyn Iterator<Item = io::Result<Vec<u8>>> + '_> {
    if !args.messages.is_empty() {
        Box::new(args.messages.iter().map(|m| Ok(m.clone().into_bytes())))
    } else if args.raw {
        // One message can be no larger than a request the broker accepts.
        let mut all = Vec::new();
        let r = io::stdin()
            .lock()
            .take(RAW_LIMIT + 1)
            .read_to_end(&mut all)
            .and_then(|n| {
                if n as u64 > RAW_LIMIT {
                    Err(io::Error::other(format!(
                        "--raw: stdin holds more than {RAW_LIMIT} bytes (the broker's largest \
                         request); one message cannot be that large"
                    )))
                } else {
                    Ok(all)
                }
            });
        Box::new(std::iter::once(r))
    } else {
        Box::new(io::stdin().lock().split(args.delimiter))
    }
}

/// Runs `produce`. Nothing is printed on stdout; a summary goes to stderr.
pub fn run(args: Args) -> anyhow::Result<Code> {
    super::client::check_topic(&args.topic)?;
    let codec = match args.codec {
        CodecArg::None => Codec::None,
        CodecArg::Gzip => Codec::Gzip,
        CodecArg::Snappy => Codec::Snappy,
    };
    let config = ProducerConfig::default()
        .codec(codec)
        .magic(args.magic)
        .batch_messages(args.batch.max(1));
    if let Some(connect) = &args.zookeeper {
        let zk = super::cluster::ZkArgs {
            connect: connect.clone(),
            zk_session_timeout_ms: args.zk_session_timeout_ms,
        };
        return super::cluster::produce(
            &zk,
            &args.topic,
            args.key.as_deref(),
            config,
            !args.no_confirm,
            &mut messages(&args),
        );
    }
    let mut producer = Producer::new(args.brokers.list(), config);
    let fail = |e, request| request_failure(e, request, &args.topic, args.partition, &args.brokers);
    let mut count = 0u64;
    for m in messages(&args) {
        let m = m?;
        producer
            .send_to(&args.topic, args.partition, &m)
            .map_err(|e| fail(e, "PRODUCE"))?;
        count += 1;
    }
    // The last batch is written first, so that an error writing it is reported as the
    // PRODUCE's own, not as the confirming FETCH's.
    producer.flush().map_err(|e| fail(e, "PRODUCE"))?;
    if !args.no_confirm {
        // Wait until the broker has processed every request: a rejected one closes the
        // connection, which this round trip reports.
        producer.confirm(&args.topic).map_err(|e| {
            let f = fail(e, "PRODUCE");
            super::Failure::new(
                f.code,
                format!("{} (found by the confirming FETCH)", f.message),
            )
        })?;
    }
    let stats = producer.stats();
    let plural = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    eprintln!(
        "produced {} to {}:{} in {} ({} bytes, codec {}{}{}) via {}",
        plural(count, "message", "messages"),
        args.topic,
        args.partition,
        plural(stats.requests, "request", "requests"),
        stats.bytes,
        codec.name(),
        if args.magic == 0 { ", magic 0" } else { "" },
        if args.no_confirm {
            ", not confirmed"
        } else {
            ""
        },
        producer.client().brokers().current().unwrap_or("?")
    );
    Ok(Code::Ok)
}

#[cfg(test)]
mod tests {
    use super::parse_delimiter;

    #[test]
    fn delimiters() {
        for (s, b) in [
            ("\\n", b'\n'),
            ("\n", b'\n'),
            ("\\0", 0),
            ("\\t", b'\t'),
            ("\\r", b'\r'),
            ("\\\\", b'\\'),
            ("\\x1e", 0x1e),
            (",", b','),
        ] {
            assert_eq!(parse_delimiter(s), Ok(b), "{s:?}");
        }
        for bad in ["", "ab", "\\x1", "\\xzz", "é"] {
            assert!(parse_delimiter(bad).is_err(), "{bad:?}");
        }
    }
}
