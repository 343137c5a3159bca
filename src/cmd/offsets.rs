//! `kafka07 offsets`: ask a broker for offsets before a time (OFFSETS request).

use std::io::Write;

use kafka07::io::{Client, OffsetTime};

use super::client::{request_failure, BrokerArgs};
use super::Code;

/// `offsets` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    brokers: BrokerArgs,
    /// Topic.
    #[arg(short, long)]
    topic: String,
    /// Partition.
    #[arg(short, long, default_value_t = 0, allow_negative_numbers = true)]
    partition: i32,
    /// `latest` (the log end, then segment starts), `earliest`, or milliseconds since the
    /// epoch (segments last modified at or before it).
    #[arg(long, default_value = "latest", value_parser = parse_time, allow_negative_numbers = true)]
    time: OffsetTime,
    /// Most offsets to return.
    #[arg(long, default_value_t = 1)]
    max: u32,
}

/// Parses `latest`, `earliest` or milliseconds.
pub fn parse_time(s: &str) -> Result<OffsetTime, String> {
    match s {
        "latest" | "-1" => Ok(OffsetTime::Latest),
        "earliest" | "-2" => Ok(OffsetTime::Earliest),
        ms => ms
            .parse::<i64>()
            .ok()
            .filter(|v| *v >= 0)
            .map(OffsetTime::Before)
            .ok_or_else(|| {
                format!("{ms:?} is not latest, earliest or milliseconds since the epoch")
            }),
    }
}

/// Runs `offsets`: one offset per line, newest first.
pub fn run(args: Args) -> anyhow::Result<Code> {
    super::client::check_topic(&args.topic)?;
    let mut client = Client::new(args.brokers.list());
    let offsets = client
        .offsets(&args.topic, args.partition, args.time, args.max)
        .map_err(|e| request_failure(e, "OFFSETS", &args.topic, args.partition, &args.brokers))?;
    let mut out = super::out::stdout();
    for o in offsets {
        writeln!(out, "{o}")?;
    }
    out.flush()?;
    Ok(Code::Ok)
}
