//! The ZooKeeper side of the CLI: `topics`, `groups`, and the cluster modes of `produce -c`
//! and `consume -c --group`.

use std::io::{self, Write};

use super::out::{Printer, Record};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use kafka07::io::zk::{
    cluster_view, group_view, groups, GroupConfig, GroupConsumer, ZkClient, ZkConfig, ZkProducer,
};
use kafka07::io::{Error, OffsetReset, ProducerConfig};
use serde_json::json;

use super::{Code, Failure};

/// ZooKeeper options shared by every cluster command.
#[derive(Debug, Clone, clap::Args)]
pub struct ZkArgs {
    /// ZooKeeper connect string `HOST:PORT[,HOST:PORT...][/CHROOT]` (the reference's
    /// `zk.connect`).
    #[arg(short = 'c', long = "zookeeper", value_name = "CONNECT")]
    pub connect: String,
    /// ZooKeeper session timeout in milliseconds (also the connect timeout).
    #[arg(long, value_name = "MS", default_value_t = 6000)]
    pub zk_session_timeout_ms: u64,
}

impl ZkArgs {
    /// The ZooKeeper configuration.
    pub fn config(&self) -> ZkConfig {
        zk_config(&self.connect, self.zk_session_timeout_ms)
    }
}

/// A ZooKeeper configuration from a connect string and a session timeout.
pub fn zk_config(connect: &str, session_ms: u64) -> ZkConfig {
    ZkConfig::new(connect).session_timeout(Duration::from_millis(session_ms.max(100)))
}

/// The exit code and message for a cluster error.
pub fn zk_failure(e: Error) -> Failure {
    let code = match &e {
        Error::ZooKeeper { op: "connect", .. } => Code::Unreachable,
        Error::RegistrationConflict { .. } | Error::Config(_) => Code::Usage,
        Error::NoBrokersForTopic { .. } => Code::Unreachable,
        e => super::client::code_for(e),
    };
    let hint = match &e {
        Error::ZooKeeper { op: "connect", .. } => {
            "; is ZooKeeper running there? (see the README's cluster example)"
        }
        Error::NoBrokersForTopic { .. } => "; start a broker with `kafka07 broker --zookeeper`",
        _ => "",
    };
    Failure::new(code, format!("{e}{hint}"))
}

/// `topics` options.
#[derive(Debug, clap::Args)]
pub struct TopicsArgs {
    #[command(flatten)]
    zk: ZkArgs,
    /// One JSON object on stdout instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs `topics`: the brokers and topics registered in ZooKeeper.
pub fn topics(args: TopicsArgs) -> anyhow::Result<Code> {
    let zk = ZkClient::connect(&args.zk.config()).map_err(zk_failure)?;
    let view = cluster_view(&zk).map_err(zk_failure)?;
    zk.close();
    let mut out = super::out::stdout();
    if args.json {
        let v = json!({
            "brokers": view.brokers.iter().map(|b| json!({
                "id": b.id, "host": b.host, "port": b.port, "creator": b.creator,
            })).collect::<Vec<_>>(),
            "topics": view.topics.iter().map(|t| json!({
                "topic": t.name,
                "partitions": t.live_partitions(),
                "brokers": t.brokers.iter().map(|(id, n, alive)| json!({
                    "id": id, "partitions": n, "alive": alive,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "problems": view.problems,
        });
        writeln!(out, "{v}")?;
    } else {
        writeln!(out, "brokers: {}", view.brokers.len())?;
        for b in &view.brokers {
            writeln!(
                out,
                "  {:<6} {}:{}  (registered by {})",
                b.id, b.host, b.port, b.creator
            )?;
        }
        writeln!(out, "topics: {}", view.topics.len())?;
        for t in &view.topics {
            let per: Vec<String> = t
                .brokers
                .iter()
                .map(|(id, n, alive)| {
                    format!("{id}:{n}{}", if *alive { "" } else { " (broker not live)" })
                })
                .collect();
            writeln!(
                out,
                "  {:<24} {} partitions  on brokers {}",
                t.name,
                t.live_partitions(),
                per.join(", ")
            )?;
        }
        for p in &view.problems {
            writeln!(out, "problem: {p}")?;
        }
    }
    out.flush()?;
    Ok(Code::Ok)
}

/// `groups` options.
#[derive(Debug, clap::Args)]
pub struct GroupsArgs {
    #[command(flatten)]
    zk: ZkArgs,
    /// Show one group: members, owners, committed offsets and lag per partition. Without
    /// it, every group is listed with its members.
    #[arg(short, long)]
    group: Option<String>,
    /// One JSON object per group on stdout instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs `groups` (what 0.7's `ConsumerOffsetChecker` printed).
pub fn groups_cmd(args: GroupsArgs) -> anyhow::Result<Code> {
    let zk = ZkClient::connect(&args.zk.config()).map_err(zk_failure)?;
    let names = match &args.group {
        Some(g) => vec![g.clone()],
        None => groups(&zk).map_err(zk_failure)?,
    };
    let mut out = super::out::stdout();
    for name in names {
        let view = group_view(&zk, &name, true).map_err(zk_failure)?;
        if args.json {
            let v = json!({
                "group": view.group,
                "members": view.members.iter().map(|m| json!({
                    "id": m.id, "subscription": m.subscription,
                })).collect::<Vec<_>>(),
                "partitions": view.partitions.iter().map(|p| json!({
                    "topic": p.topic,
                    "partition": p.partition.to_string(),
                    "owner": p.owner,
                    "committed": p.committed,
                    "log_end": p.log_end,
                    "lag": p.lag(),
                })).collect::<Vec<_>>(),
                "problems": view.problems,
            });
            writeln!(out, "{v}")?;
            continue;
        }
        writeln!(out, "group {}: {} members", view.group, view.members.len())?;
        for m in &view.members {
            writeln!(out, "  member {}  {}", m.id, m.subscription)?;
        }
        if !view.partitions.is_empty() {
            writeln!(
                out,
                "  {:<20} {:<10} {:>12} {:>12} {:>10}  owner",
                "topic", "partition", "committed", "log end", "lag"
            )?;
        }
        let show = |v: Option<u64>| v.map_or("-".to_owned(), |v| v.to_string());
        for p in &view.partitions {
            writeln!(
                out,
                "  {:<20} {:<10} {:>12} {:>12} {:>10}  {}",
                p.topic,
                p.partition.to_string(),
                show(p.committed),
                show(p.log_end),
                show(p.lag()),
                p.owner.as_deref().unwrap_or("-")
            )?;
        }
        for p in &view.problems {
            writeln!(out, "  problem: {p}")?;
        }
    }
    out.flush()?;
    zk.close();
    Ok(Code::Ok)
}

/// `produce -c`: messages through the discovering producer.
pub fn produce(
    zk: &ZkArgs,
    topic: &str,
    key: Option<&str>,
    config: ProducerConfig,
    confirm: bool,
    messages: &mut dyn Iterator<Item = io::Result<Vec<u8>>>,
) -> anyhow::Result<Code> {
    let mut p = ZkProducer::connect(&zk.config(), config).map_err(zk_failure)?;
    let mut count = 0u64;
    for m in messages {
        let m = m?;
        match key {
            Some(k) => p.send_keyed(topic, k.as_bytes(), &m),
            None => p.send(topic, &m),
        }
        .map_err(zk_failure)?;
        count += 1;
    }
    if confirm {
        p.confirm(topic).map_err(zk_failure)?;
    } else {
        p.flush().map_err(zk_failure)?;
    }
    for problem in p.problems() {
        eprintln!("kafka07: skipped malformed znode {problem}");
    }
    let brokers: Vec<String> = p
        .brokers()
        .values()
        .map(|b| format!("{}={}", b.id, b.addr()))
        .collect();
    eprintln!(
        "produced {count} message{} to {topic} via ZooKeeper {} (live brokers {}){}",
        if count == 1 { "" } else { "s" },
        zk.connect,
        brokers.join(", "),
        if confirm { "" } else { ", not confirmed" }
    );
    p.close().map_err(zk_failure)?;
    Ok(Code::Ok)
}

/// What `consume -c --group` needs beyond the ZooKeeper options.
#[derive(Debug)]
pub struct GroupConsume<'a> {
    /// Topic.
    pub topic: &'a str,
    /// Group id.
    pub group: &'a str,
    /// Consumer id (`consumerid`).
    pub consumer_id: Option<&'a str>,
    /// Streams (threads) for the topic.
    pub streams: u32,
    /// `autooffset.reset`.
    pub reset: OffsetReset,
    /// Keep waiting for new messages.
    pub follow: bool,
    /// Without --follow: stop after no message came for this long.
    pub idle: Duration,
    /// Stop after this many messages.
    pub max: u64,
    /// Auto-commit interval.
    pub commit_every: Duration,
    /// How messages are written.
    pub printer: Printer,
    /// Per-partition fetch size.
    pub fetch_size: u32,
    /// The largest the fetch size grows to for a message that does not fit.
    pub max_fetch_size: u32,
}

/// `consume -c --group`: a member of a consumer group, printing what it is given. Offsets
/// are committed every `commit_every` and on exit (end, --max, SIGINT/SIGTERM).
pub fn consume(zk: &ZkArgs, g: GroupConsume<'_>) -> anyhow::Result<Code> {
    let mut cfg = GroupConfig::new(zk.config(), g.group)
        .topic(g.topic, g.streams.max(1))
        .reset(g.reset)
        .auto_commit(Some(g.commit_every))
        .fetch_size(g.fetch_size)
        .rebalance(10, Duration::from_millis(500));
    cfg.max_fetch_size = g.max_fetch_size;
    if let Some(id) = g.consumer_id {
        cfg = cfg.consumer_id(id);
    }
    let consumer = GroupConsumer::start(cfg).map_err(zk_failure)?;
    eprintln!(
        "joined group {} as {} (owns {} partitions)",
        g.group,
        consumer.consumer_id(),
        consumer.owned().len()
    );
    let streams = consumer.streams(g.topic);
    let interrupted = super::broker::interrupt_flag();
    let mut out = super::out::stdout();
    let mut count = 0u64;
    let mut last = Instant::now();
    let mut result = Ok(Code::Ok);
    // A write error ends the loop; a closed pipe is a quiet end, anything else an error.
    let failed = |e: io::Error, result: &mut anyhow::Result<Code>| {
        if !super::out::is_closed(&e) {
            *result = Err(e.into());
        }
    };
    'outer: while count < g.max && !interrupted.load(Ordering::SeqCst) {
        let mut got = false;
        for s in &streams {
            let Some(m) = s.next_timeout(Duration::from_millis(if streams.len() == 1 {
                100
            } else {
                5
            })) else {
                continue;
            };
            got = true;
            let w = g.printer.write(
                &mut out,
                &Record {
                    topic: &m.topic,
                    broker: Some(m.partition.broker),
                    partition: i64::from(m.partition.partition),
                    position: m.offset,
                    next_offset: m.next_offset,
                    payload: &m.payload,
                },
            );
            if let Err(e) = w {
                failed(e, &mut result);
                break 'outer;
            }
            count += 1;
            if count >= g.max {
                break 'outer;
            }
        }
        if got {
            last = Instant::now();
        } else if !g.follow && last.elapsed() >= g.idle {
            break;
        }
        if let Err(e) = out.flush() {
            failed(e, &mut result);
            break;
        }
    }
    if result.is_ok() {
        if let Err(e) = out.flush() {
            failed(e, &mut result);
        }
    }
    let stats = consumer.stats();
    consumer.shutdown().map_err(zk_failure)?;
    for p in &stats.problems {
        eprintln!("kafka07: skipped malformed znode {p}");
    }
    if let Some(e) = &stats.last_error {
        let hint = if e.contains("maximum fetch size") {
            " (raise --max-fetch-size)"
        } else {
            ""
        };
        eprintln!("kafka07: last problem: {e}{hint}");
    }
    eprintln!(
        "consumed {count} message{} from {} in group {} ({} rebalances); offsets committed",
        if count == 1 { "" } else { "s" },
        g.topic,
        g.group,
        stats.rebalances
    );
    result
}
