//! `kafka07 produce`: send messages (from `-m` or stdin lines) to a topic.

use std::io::{self, BufRead};

use clap::ValueEnum;
use kafka07::io::{Producer, ProducerConfig};
use kafka07::proto::Codec;

use super::client::{failure, BrokerArgs};
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
pub struct Args {
    #[command(flatten)]
    brokers: BrokerArgs,
    /// Topic.
    #[arg(short, long)]
    topic: String,
    /// Partition (-1: the broker picks one at random for each request).
    #[arg(short, long, default_value_t = 0, allow_negative_numbers = true)]
    partition: i32,
    /// A message (repeatable); without it, every line of stdin is a message.
    #[arg(short, long = "message", value_name = "MESSAGE")]
    messages: Vec<String>,
    /// Compression: each batch becomes one compressed wrapper message.
    #[arg(long, value_enum, default_value_t = CodecArg::None)]
    codec: CodecArg,
    /// Messages per request.
    #[arg(long, value_name = "N", default_value_t = 200)]
    batch: usize,
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
        .batch_messages(args.batch.max(1));
    if let Some(connect) = &args.zookeeper {
        let zk = super::cluster::ZkArgs {
            connect: connect.clone(),
            zk_session_timeout_ms: args.zk_session_timeout_ms,
        };
        let mut messages: Box<dyn Iterator<Item = io::Result<Vec<u8>>>> =
            if args.messages.is_empty() {
                Box::new(io::stdin().lock().split(b'\n').map(|l| {
                    l.map(|mut line| {
                        if line.last() == Some(&b'\r') {
                            line.pop();
                        }
                        line
                    })
                }))
            } else {
                Box::new(args.messages.iter().map(|m| Ok(m.clone().into_bytes())))
            };
        return super::cluster::produce(
            &zk,
            &args.topic,
            args.key.as_deref(),
            config,
            &mut messages,
        );
    }
    let mut producer = Producer::new(args.brokers.list(), config);
    let fail = |e| failure(e, &args.brokers);
    let mut count = 0u64;
    if args.messages.is_empty() {
        let stdin = io::stdin().lock();
        for line in stdin.split(b'\n') {
            let mut line = line?;
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            producer
                .send_to(&args.topic, args.partition, &line)
                .map_err(fail)?;
            count += 1;
        }
    } else {
        for m in &args.messages {
            producer
                .send_to(&args.topic, args.partition, m.as_bytes())
                .map_err(fail)?;
            count += 1;
        }
    }
    // Wait until the broker has processed every request: a rejected one closes the
    // connection, which this round trip reports.
    producer.confirm(&args.topic).map_err(fail)?;
    let stats = producer.stats();
    let plural = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    eprintln!(
        "produced {} to {}:{} in {} ({} bytes, codec {}) via {}",
        plural(count, "message", "messages"),
        args.topic,
        args.partition,
        plural(stats.requests, "request", "requests"),
        stats.bytes,
        codec.name(),
        producer.client().brokers().current().unwrap_or("?")
    );
    Ok(Code::Ok)
}
