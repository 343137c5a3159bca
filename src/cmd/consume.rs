//! `kafka07 consume`: print the messages of a partition (or of a consumer group's share of a
//! topic), as text, hex or JSON Lines.

use std::collections::VecDeque;
use std::io::Write;
use std::ops::ControlFlow;
use std::time::Duration;

use kafka07::io::{Client, Consumer, ConsumerConfig, Error, OffsetReset, OffsetTime, StartAt};
use kafka07::proto::ErrorCode;

use super::client::{request_failure, BrokerArgs};
use super::out::{FormatArgs, Record};
use super::{Code, Failure};

/// Where `consume -b` starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// Earliest, latest or a byte offset.
    At(StartAt),
    /// The last N messages before the log end (`-o -N`).
    Last(u64),
}

/// `consume` options.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Requests: `-o earliest|latest` asks OFFSETS for the start; `-o OFFSET` \
    first sends a probe FETCH at OFFSET (on the same connection as the rest) to report an \
    offset out of range or not at a message boundary (exit 6) before printing anything; \
    `-o -N` asks OFFSETS for the segment starts and reads the newest segments to find where \
    the last N messages begin. Each FETCH asks for --fetch-size bytes; when one message is \
    larger, the fetch size doubles (at least to the message's size) up to --max-fetch-size, \
    and a message larger than that fails (exit 1)."
)]
pub struct Args {
    #[command(flatten)]
    brokers: BrokerArgs,
    /// Topic.
    #[arg(short, long)]
    topic: String,
    /// Partition.
    #[arg(short, long, default_value_t = 0, allow_negative_numbers = true)]
    partition: i32,
    /// Where to start: `earliest`, `latest`, a byte offset (a message boundary, such as a
    /// next offset printed by --print-offset), or `-N`: the last N messages.
    #[arg(short, long, default_value = "earliest", value_parser = parse_start, allow_negative_numbers = true)]
    offset: Start,
    /// Keep waiting for new messages (until interrupted or --max).
    #[arg(short, long)]
    follow: bool,
    /// Stop after this many messages.
    #[arg(long, value_name = "N")]
    max: Option<u64>,
    #[command(flatten)]
    out: FormatArgs,
    /// Bytes asked for per FETCH; grows by itself when one message is larger (see
    /// --max-fetch-size).
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
    fetch_size: u32,
    /// Largest fetch size the growth may reach; a larger message fails the command.
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20)]
    max_fetch_size: u32,
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

/// Parses `earliest`, `latest`, a byte offset or `-N` (the last N messages).
pub fn parse_start(s: &str) -> Result<Start, String> {
    let bad =
        || format!("{s:?} is not earliest, latest, a byte offset or -N (the last N messages)");
    match s {
        "earliest" | "smallest" => Ok(Start::At(StartAt::Earliest)),
        "latest" | "largest" => Ok(Start::At(StartAt::Latest)),
        n => match n.strip_prefix('-') {
            Some(count) => count.parse::<u64>().map(Start::Last).map_err(|_| bad()),
            None => n
                .parse::<u64>()
                .ok()
                .filter(|o| *o <= i64::MAX as u64)
                .map(|o| Start::At(StartAt::Offset(o)))
                .ok_or_else(bad),
        },
    }
}

/// The valid range of a partition, for an out-of-range message.
fn range(client: &mut Client, args: &Args) -> Option<(u64, u64)> {
    let earliest = client
        .offsets(&args.topic, args.partition, OffsetTime::Earliest, 1)
        .ok()?;
    let latest = client
        .offsets(&args.topic, args.partition, OffsetTime::Latest, 1)
        .ok()?;
    Some((*earliest.first()?, *latest.first()?))
}

/// Checks an explicit start offset with one probe FETCH on the consumer's connection: out
/// of range, or not at a message boundary (a first entry cut although the broker had no
/// more bytes to send).
fn check_start(client: &mut Client, args: &Args, offset: u64) -> Result<(), Failure> {
    let fetched = client.fetch(&args.topic, args.partition, offset, args.fetch_size);
    let fetched = match fetched {
        Ok(f) => f,
        Err(Error::Broker { code, .. }) if code == ErrorCode::OFFSET_OUT_OF_RANGE => {
            return Err(out_of_range(client, args, offset));
        }
        Err(e) => return Err(fail(e, "FETCH", args)),
    };
    let first = fetched.message_set().shallow().next();
    if let Some(Err(e)) = first {
        if let kafka07::proto::ErrorKind::MessageLargerThanFetch { available, .. } = e.kind() {
            if available < u64::from(args.fetch_size) {
                return Err(Failure::new(
                    Code::OffsetOutOfRange,
                    format!(
                        "offset {offset} of {}:{} is not at a message boundary (or the log is \
                         corrupt there): use a next offset printed by --print-offset, or -o \
                         earliest",
                        args.topic, args.partition
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn out_of_range(client: &mut Client, args: &Args, at: u64) -> Failure {
    let detail = match range(client, args) {
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

fn fail(e: Error, request: &str, args: &Args) -> Failure {
    request_failure(e, request, &args.topic, args.partition, &args.brokers)
}

/// Where the last `n` messages start: `(entry offset, messages to skip there)` (a compressed
/// wrapper's inner messages share its offset, so the first few of a wrapper may have to be
/// skipped). Reads from the newest segment start back, one segment more each time, until
/// `n` messages are found or the earliest offset was reached.
fn last_n(consumer: &mut Consumer, args: &Args, n: u64) -> Result<(u64, u64), Failure> {
    let offsets = consumer
        .client()
        .offsets(&args.topic, args.partition, OffsetTime::Latest, 100_000)
        .map_err(|e| fail(e, "OFFSETS", args))?;
    let Some(&end) = offsets.first() else {
        return Ok((0, 0));
    };
    if n == 0 {
        return Ok((end, 0));
    }
    let earliest = consumer
        .client()
        .offsets(&args.topic, args.partition, OffsetTime::Earliest, 1)
        .map_err(|e| fail(e, "OFFSETS", args))?;
    let mut starts: Vec<u64> = offsets.iter().copied().filter(|o| *o < end).collect();
    starts.extend(earliest.first().copied().filter(|o| *o < end));
    starts.dedup();
    let mut found = (end, 0);
    for start in starts {
        consumer.seek(start);
        // The positions of the last n messages, and how many messages before the first of
        // them share its position.
        let mut last: VecDeque<u64> = VecDeque::new();
        let mut skip = 0u64;
        let mut total = 0u64;
        loop {
            let stats = consumer
                .poll(|m| {
                    if m.position >= end {
                        return ControlFlow::Break(());
                    }
                    total += 1;
                    last.push_back(m.position);
                    if last.len() as u64 > n {
                        let gone = last.pop_front();
                        if last.front() == gone.as_ref() {
                            skip += 1;
                        } else {
                            skip = 0;
                        }
                    }
                    ControlFlow::Continue(())
                })
                .map_err(|e| fail(e, "FETCH", args))?;
            if stats.messages == 0 || stats.stopped || stats.offset >= end {
                break;
            }
        }
        found = (last.front().copied().unwrap_or(end), skip);
        if total >= n {
            break;
        }
    }
    Ok(found)
}

/// Runs `consume`: each message on stdout in the chosen format.
pub fn run(args: Args) -> anyhow::Result<Code> {
    super::client::check_topic(&args.topic)?;
    let printer = args.out.printer();
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
                printer,
                fetch_size: args.fetch_size,
                max_fetch_size: args.max_fetch_size.max(args.fetch_size),
            },
        );
    }
    let config = ConsumerConfig::default()
        .start(match args.offset {
            Start::At(s) => s,
            Start::Last(_) => StartAt::Latest,
        })
        .fetch_size(args.fetch_size)
        .max_fetch_size(args.max_fetch_size.max(args.fetch_size))
        .on_out_of_range(OffsetReset::Error);
    let mut consumer = Consumer::with_client(
        Client::new(args.brokers.list()),
        &args.topic,
        args.partition,
        config,
    );
    let mut skip = 0u64;
    match args.offset {
        Start::At(StartAt::Offset(o)) => check_start(consumer.client(), &args, o)?,
        Start::Last(n) => {
            let (at, k) = last_n(&mut consumer, &args, n)?;
            consumer.seek(at);
            skip = k;
        }
        Start::At(_) => {
            consumer.position().map_err(|e| fail(e, "OFFSETS", &args))?;
        }
    }
    let mut out = super::out::stdout();
    let max = args.max.unwrap_or(u64::MAX);
    let mut count = 0u64;
    let mut write_err: Option<std::io::Error> = None;
    let interrupted = super::broker::interrupt_flag();
    while count < max {
        let mut on_message = |m: kafka07::proto::MessageAndOffset<'_>| {
            if skip > 0 {
                skip -= 1;
                return ControlFlow::Continue(());
            }
            let r = printer.write(
                &mut out,
                &Record {
                    topic: &args.topic,
                    broker: None,
                    partition: i64::from(args.partition),
                    position: m.position,
                    next_offset: m.offset,
                    payload: m.message.payload(),
                },
            );
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
        if let Some(e) = write_err.take() {
            return Err(e.into());
        }
        let stats = match polled {
            Ok(s) => s,
            Err(Error::Broker { code, .. }) if code == ErrorCode::OFFSET_OUT_OF_RANGE => {
                let _ = out.flush();
                let at = consumer.offset().unwrap_or(0);
                return Err(out_of_range(consumer.client(), &args, at).into());
            }
            Err(e) => {
                let _ = out.flush();
                let at = consumer.offset().unwrap_or(0);
                let f = fail(e, "FETCH", &args);
                return Err(Failure::new(f.code, format!("{} (at offset {at})", f.message)).into());
            }
        };
        out.flush()?;
        if interrupted.load(std::sync::atomic::Ordering::SeqCst) {
            break;
        }
        if stats.messages == 0 && !args.follow {
            break;
        }
    }
    out.flush()?;
    Ok(Code::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_positions() {
        assert_eq!(parse_start("earliest"), Ok(Start::At(StartAt::Earliest)));
        assert_eq!(parse_start("largest"), Ok(Start::At(StartAt::Latest)));
        assert_eq!(parse_start("231"), Ok(Start::At(StartAt::Offset(231))));
        assert_eq!(parse_start("-5"), Ok(Start::Last(5)));
        assert_eq!(parse_start("-0"), Ok(Start::Last(0)));
        for bad in ["-", "-x", "9223372036854775808", "1.5", ""] {
            assert!(parse_start(bad).is_err(), "{bad:?}");
        }
    }
}
