//! `kafka07 consume`: print the messages of a partition, one per line.

use std::io::{self, Write};
use std::ops::ControlFlow;
use std::time::Duration;

use kafka07::io::{Client, Consumer, ConsumerConfig, Error, OffsetReset, OffsetTime, StartAt};
use kafka07::proto::ErrorCode;

use super::client::{failure, BrokerArgs};
use super::{Code, Failure};

/// `consume` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    brokers: BrokerArgs,
    /// Topic.
    #[arg(short, long)]
    topic: String,
    /// Partition.
    #[arg(short, long, default_value_t = 0)]
    partition: i32,
    /// Where to start: `earliest`, `latest`, or a byte offset (a message boundary, such as an
    /// offset printed by --print-offset).
    #[arg(short, long, default_value = "earliest", value_parser = parse_start)]
    offset: StartAt,
    /// Keep waiting for new messages (until interrupted or --max).
    #[arg(short, long)]
    follow: bool,
    /// Stop after this many messages.
    #[arg(long, value_name = "N")]
    max: Option<u64>,
    /// Print each message's offset (the reference's next-fetch offset) and a tab before it.
    /// In cluster mode: topic, broker-partition, the message's own offset and its next
    /// offset, tab-separated, before the payload.
    #[arg(long)]
    print_offset: bool,
    /// Fetch size in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
    fetch_size: u32,
    /// Cluster mode: join a consumer group through ZooKeeper (`HOST:PORT[,...][/CHROOT]`)
    /// instead of reading one partition from `-b`; needs `--group`.
    #[arg(short = 'c', long = "zookeeper", value_name = "CONNECT", requires = "group", conflicts_with_all = ["brokers", "partition", "offset"])]
    zookeeper: Option<String>,
    /// Cluster mode: the consumer group (`groupid`); its offsets live in ZooKeeper.
    #[arg(short, long, requires = "zookeeper")]
    group: Option<String>,
    /// Cluster mode: where a partition without a committed offset starts, and where an
    /// out-of-range one jumps to (`autooffset.reset`: earliest = smallest, latest = largest).
    #[arg(long, value_name = "earliest|latest", default_value = "earliest", value_parser = parse_reset)]
    from: OffsetReset,
    /// Cluster mode: the consumer id after `<group>_` (default: host, time and random bits).
    #[arg(long, value_name = "ID")]
    consumer_id: Option<String>,
    /// Cluster mode: streams (consumer threads) for the topic.
    #[arg(long, value_name = "N", default_value_t = 1)]
    streams: u32,
    /// Cluster mode: commit offsets to ZooKeeper this often (and always on exit).
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    commit_interval_ms: u64,
    /// Cluster mode without --follow: stop once no message came for this long.
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    idle_ms: u64,
    /// Cluster mode: ZooKeeper session timeout in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 6000)]
    zk_session_timeout_ms: u64,
}

/// Parses `earliest`/`smallest` or `latest`/`largest`.
fn parse_reset(s: &str) -> Result<OffsetReset, String> {
    match s {
        "earliest" | "smallest" => Ok(OffsetReset::Earliest),
        "latest" | "largest" => Ok(OffsetReset::Latest),
        n => Err(format!("{n:?} is not earliest or latest")),
    }
}

/// Parses `earliest`, `latest` or a byte offset.
pub fn parse_start(s: &str) -> Result<StartAt, String> {
    match s {
        "earliest" | "smallest" => Ok(StartAt::Earliest),
        "latest" | "largest" => Ok(StartAt::Latest),
        n => n
            .parse::<u64>()
            .map(StartAt::Offset)
            .map_err(|_| format!("{n:?} is not earliest, latest or a byte offset")),
    }
}

/// The valid range of a partition, for an out-of-range message.
fn range(args: &Args) -> Option<(u64, u64)> {
    let mut client = Client::new(args.brokers.list());
    let earliest = client
        .offsets(&args.topic, args.partition, OffsetTime::Earliest, 1)
        .ok()?;
    let latest = client
        .offsets(&args.topic, args.partition, OffsetTime::Latest, 1)
        .ok()?;
    Some((*earliest.first()?, *latest.first()?))
}

/// Checks an explicit start offset with one fetch: out of range, or not at a message
/// boundary (a first entry cut although the broker had no more bytes to send).
fn check_start(args: &Args, offset: u64) -> Result<(), Failure> {
    let mut client = Client::new(args.brokers.list());
    let fetched = client.fetch(&args.topic, args.partition, offset, args.fetch_size);
    let fetched = match fetched {
        Ok(f) => f,
        Err(Error::Broker { code, .. }) if code == ErrorCode::OFFSET_OUT_OF_RANGE => {
            return Err(out_of_range(args, offset));
        }
        Err(e) => return Err(failure(e, &args.brokers)),
    };
    if fetched.error == ErrorCode::OFFSET_OUT_OF_RANGE {
        return Err(out_of_range(args, offset));
    }
    let first = fetched.message_set().shallow().next();
    if let Some(Err(e)) = first {
        if let kafka07::proto::ErrorKind::MessageLargerThanFetch { available, .. } = e.kind() {
            if available < u64::from(args.fetch_size) {
                return Err(Failure::new(
                    Code::OffsetOutOfRange,
                    format!(
                        "offset {offset} of {}:{} is not at a message boundary (or the log is \
                         corrupt there): use an offset printed by --print-offset, or -o earliest",
                        args.topic, args.partition
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn out_of_range(args: &Args, at: u64) -> Failure {
    let detail = match range(args) {
        Some((lo, hi)) => format!(
            "offset {at} is out of range for {}:{}: valid offsets are {lo} to {hi} \
             (try -o earliest or -o latest)",
            args.topic, args.partition
        ),
        None => format!(
            "offset {at} is out of range for {}:{}",
            args.topic, args.partition
        ),
    };
    Failure::new(Code::OffsetOutOfRange, detail)
}

/// Runs `consume`: payloads on stdout, one per line.
pub fn run(args: Args) -> anyhow::Result<Code> {
    super::client::check_topic(&args.topic)?;
    if let (Some(connect), Some(group)) = (&args.zookeeper, &args.group) {
        let zk = super::cluster::ZkArgs {
            connect: connect.clone(),
            zk_session_timeout_ms: args.zk_session_timeout_ms,
        };
        return super::cluster::consume(
            &zk,
            super::cluster::GroupConsume {
                topic: &args.topic,
                group,
                consumer_id: args.consumer_id.as_deref(),
                streams: args.streams,
                reset: args.from,
                follow: args.follow,
                idle: Duration::from_millis(args.idle_ms),
                max: args.max.unwrap_or(u64::MAX),
                commit_every: Duration::from_millis(args.commit_interval_ms.max(1)),
                print_offset: args.print_offset,
                fetch_size: args.fetch_size,
            },
        );
    }
    let config = ConsumerConfig::default()
        .start(args.offset)
        .fetch_size(args.fetch_size)
        .on_out_of_range(OffsetReset::Error);
    if let StartAt::Offset(o) = args.offset {
        check_start(&args, o)?;
    }
    let mut consumer = Consumer::new(args.brokers.list(), &args.topic, args.partition, config);
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let max = args.max.unwrap_or(u64::MAX);
    let mut count = 0u64;
    let mut write_err: Option<io::Error> = None;
    let interrupted = super::broker::interrupt_flag();
    while count < max {
        let mut on_message = |m: kafka07::proto::MessageAndOffset<'_>| {
            let r = (|| {
                if args.print_offset {
                    write!(out, "{}\t", m.offset)?;
                }
                out.write_all(m.message.payload())?;
                out.write_all(b"\n")
            })();
            if let Err(e) = r {
                write_err = Some(e);
                return ControlFlow::Break(());
            }
            count += 1;
            if count >= max {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        };
        let polled = if args.follow {
            consumer.poll_timeout(Duration::from_millis(500), &mut on_message)
        } else {
            consumer.poll(&mut on_message)
        };
        let stats = match polled {
            Ok(s) => s,
            Err(Error::Broker { code, .. }) if code == ErrorCode::OFFSET_OUT_OF_RANGE => {
                out.flush()?;
                let at = consumer.offset().unwrap_or(0);
                return Err(out_of_range(&args, at).into());
            }
            Err(e) => {
                out.flush()?;
                return Err(failure(e, &args.brokers).into());
            }
        };
        if let Some(e) = write_err.take() {
            if e.kind() == io::ErrorKind::BrokenPipe {
                return Ok(Code::Ok);
            }
            return Err(e.into());
        }
        out.flush()?;
        if interrupted.load(std::sync::atomic::Ordering::SeqCst) {
            break;
        }
        if stats.messages == 0 && !args.follow {
            break;
        }
    }
    match out.flush() {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Code::Ok),
        r => r.map(|()| Code::Ok).map_err(Into::into),
    }
}
