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
