//! `kafka07 broker`: an embedded 0.7 broker, in memory or on a 0.7 log directory.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context as _;
use kafka07::io::{Broker, BrokerConfig};

use super::{Code, Failure};

/// `broker` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Store partitions in this 0.7 log directory (`<topic>-<partition>/<offset>.kafka`); an
    /// existing one is loaded and, without a clean-shutdown marker, recovered. Without it,
    /// everything is kept in memory.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Port to listen on (0: any free port; the address is printed).
    #[arg(long, default_value_t = 9092)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Partitions per topic (`num.partitions`).
    #[arg(long, default_value_t = 1)]
    partitions: u32,
    /// Flush a partition after this many messages (`log.flush.interval`).
    #[arg(long, value_name = "N", default_value_t = 500)]
    flush_messages: u64,
    /// Flush a partition left unflushed this long (`log.default.flush.interval.ms`).
    #[arg(long, value_name = "MS", default_value_t = 3000)]
    flush_interval_ms: u64,
    /// Show consumers only flushed data, as the 0.7 broker does (by default appends are
    /// visible at once).
    #[arg(long)]
    visible_on_flush: bool,
    /// Most connections open at once: at the limit the connection idle longest (1 s or more)
    /// is closed for a new one, else the new one is refused with a reset (logged).
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    max_connections: usize,
    /// Most topics: a produce to a new topic creates it below this, and is refused (the
    /// connection closed, logged) at it.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    max_topics: usize,
    /// Most segment files kept open at once (others are reopened when read or written).
    #[arg(long, value_name = "N", default_value_t = 1000)]
    max_open_segments: usize,
    /// Close a connection with no request in progress after this long (0: never).
    #[arg(long, value_name = "MS", default_value_t = 600_000)]
    idle_timeout_ms: u64,
    /// Close a connection whose request has not fully arrived this long after its first byte.
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    request_timeout_ms: u64,
    /// Log more on stderr: `-v` also each rejected request, connection closed by a timeout
    /// and recovery step, `-vv` debug. Without it only warnings and errors (refused
    /// connections, ENOSPC) are logged. `RUST_LOG` overrides both.
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Also stop when stdin reaches end of file (for scripts and tests).
    #[arg(long)]
    stop_on_eof: bool,
    /// Join a cluster: register in ZooKeeper (`HOST:PORT[,...][/CHROOT]`) as `/brokers/ids/<id>`
    /// and `/brokers/topics/<topic>/<id>`; needs `--broker-id`.
    #[arg(long, value_name = "CONNECT", requires = "broker_id")]
    zookeeper: Option<String>,
    /// The broker id in the cluster (`brokerid`).
    #[arg(long, value_name = "N", requires = "zookeeper")]
    broker_id: Option<u32>,
    /// The host written into the registration (the reference's `hostname`; default: the
    /// listen address).
    #[arg(long, value_name = "HOST", requires = "zookeeper")]
    advertised_host: Option<String>,
    /// ZooKeeper session timeout in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 6000)]
    zk_session_timeout_ms: u64,
}

/// A flag set by SIGINT, SIGTERM or SIGHUP (the handler is installed on first use).
pub fn interrupt_flag() -> Arc<AtomicBool> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let f = flag.clone();
        // If a handler cannot be installed the default action (exit) stays in force.
        let _ = ctrlc::set_handler(move || f.store(true, Ordering::SeqCst));
        flag
    })
    .clone()
}

/// Runs the broker until interrupted (or stdin ends, with --stop-on-eof).
pub fn run(args: Args) -> anyhow::Result<Code> {
    let level = match args.verbose {
        0 => log::LevelFilter::Warn,
        1 => log::LevelFilter::Info,
        _ => log::LevelFilter::Debug,
    };
    // Ours only at that level; dependencies (the ZooKeeper client) at warnings.
    let _ = env_logger::Builder::new()
        .filter_level(log::LevelFilter::Warn)
        .filter_module("kafka07_io", level)
        .filter_module("kafka07", level)
        .parse_default_env()
        .format_target(false)
        .try_init();
    let stop = interrupt_flag();
    let mut config = match &args.data_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            BrokerConfig::on_disk(dir)
        }
        None => BrokerConfig::in_memory(),
    }
    .listen(SocketAddr::new(args.host, args.port))
    .partitions(args.partitions.max(1))
    .flush_interval_messages(args.flush_messages.max(1))
    .flush_interval(Duration::from_millis(args.flush_interval_ms.max(1)))
    .visible_on_append(!args.visible_on_flush)
    .max_connections(args.max_connections.max(1))
    .max_topics(args.max_topics.max(1))
    .max_open_segments(args.max_open_segments.max(1))
    .idle_timeout((args.idle_timeout_ms > 0).then(|| Duration::from_millis(args.idle_timeout_ms)))
    .request_timeout(Duration::from_millis(args.request_timeout_ms.max(1)));
    config.num_partitions = args.partitions.max(1);
    if let (Some(connect), Some(id)) = (&args.zookeeper, args.broker_id) {
        config = config.zookeeper(
            super::cluster::zk_config(connect, args.zk_session_timeout_ms),
            id,
        );
        if let Some(h) = &args.advertised_host {
            config = config.advertised_host(h.clone());
        }
    }
    let broker = Broker::start(config).map_err(|e| {
        let code = match &e {
            kafka07::io::Error::RegistrationConflict { .. } => Code::Usage,
            kafka07::io::Error::ZooKeeper { .. } => Code::Unreachable,
            _ => Code::Failure,
        };
        Failure::new(code, format!("cannot start the broker: {e}"))
    })?;
    {
        let mut out = io::stdout().lock();
        writeln!(out, "listening on {}", broker.local_addr())?;
        if let Some(r) = broker.registration() {
            writeln!(
                out,
                "registered as broker {} in ZooKeeper {} ({})",
                r.info().id,
                args.zookeeper.as_deref().unwrap_or(""),
                r.info().encode()
            )?;
        }
        out.flush()?;
    }
    match &args.data_dir {
        Some(dir) => {
            let r = broker.startup_report();
            eprintln!(
                "log directory {}: {} partitions loaded{}{}",
                dir.display(),
                r.partitions,
                if r.clean_shutdown {
                    ", clean shutdown marker found"
                } else {
                    ""
                },
                if r.recovered.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", {} partitions recovered ({} bytes truncated)",
                        r.recovered.len(),
                        r.truncated_bytes()
                    )
                }
            );
            for rec in &r.recovered {
                if rec.truncated_bytes > 0 {
                    eprintln!(
                        "recovered {}-{}: truncated {} bytes of {}",
                        rec.topic,
                        rec.partition,
                        rec.truncated_bytes,
                        rec.segment.display()
                    );
                }
            }
        }
        None => eprintln!("storage: in memory (nothing is kept after exit)"),
    }
    let eof = Arc::new(AtomicBool::new(false));
    if args.stop_on_eof {
        let eof = eof.clone();
        std::thread::spawn(move || {
            let mut sink = [0u8; 256];
            let mut stdin = io::stdin();
            while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
            eof.store(true, Ordering::SeqCst);
        });
    }
    while !stop.load(Ordering::SeqCst) && !eof.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let stats = broker.stats();
    broker
        .shutdown()
        .map_err(|e| Failure::new(Code::Failure, format!("shutting down: {e}")))?;
    eprintln!(
        "stopped: {} connections, {} requests served",
        stats.connections_accepted, stats.requests
    );
    Ok(Code::Ok)
}
