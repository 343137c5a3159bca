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
    /// Close a connection that takes none of its response for this long.
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    write_timeout_ms: u64,
    /// Request handler threads (`num.threads`; default: the CPUs, 2 to 8). Connections are
    /// served by one event loop whatever their number.
    #[arg(long, value_name = "N")]
    num_threads: Option<usize>,
    /// Most bytes of request bodies all connections together hold while they arrive (at
    /// least `--max-request-bytes`): over it, reading pauses until memory is given back.
    #[arg(long, value_name = "BYTES", default_value_t = 256 << 20)]
    max_request_memory: usize,
    /// Largest request accepted (`max.socket.request.bytes`); larger: the connection is
    /// closed, before anything is allocated.
    #[arg(long, value_name = "BYTES", default_value_t = 104_857_600)]
    max_request_bytes: usize,
    /// Most bytes one compressed wrapper of a produce may inflate to while it is validated.
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20)]
    max_decompressed: usize,
    /// Most bytes of decompression scratch all requests together hold at once (at least
    /// `--max-decompressed`).
    #[arg(long, value_name = "BYTES", default_value_t = 128 << 20)]
    max_decompressed_total: usize,
    /// Send fetch data through this process's buffers instead of with `sendfile(2)` straight
    /// from the segment files (the default with `--data-dir` on Linux).
    #[arg(long)]
    no_zero_copy: bool,
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

/// Descriptors beyond connections and segment files: listener, event loop, log files, stdio.
const FD_MARGIN: u64 = 64;

/// Raises the soft open-file limit (`ulimit -n`) towards `need` (as far as the hard limit
/// allows, as the JVM does for the reference broker); warns when it stays below.
fn raise_fd_limit(need: u64) {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let lim = getrlimit(Resource::Nofile);
    let current = lim.current.unwrap_or(u64::MAX);
    if current >= need {
        return;
    }
    let target = need.min(lim.maximum.unwrap_or(u64::MAX));
    if target > current {
        let raised = Rlimit {
            current: Some(target),
            maximum: lim.maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            log::warn!("cannot raise the open-file limit from {current} to {target}: {e}");
        }
    }
    let now = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
    if now < need {
        log::warn!(
            "the open-file limit (ulimit -n) is {now}, below the {need} descriptors \
             --max-connections and --max-open-segments may use: connections past it are \
             refused"
        );
    } else {
        log::info!("open-file limit raised from {current} to {now}");
    }
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
    .request_timeout(Duration::from_millis(args.request_timeout_ms.max(1)))
    .write_timeout(Duration::from_millis(args.write_timeout_ms.max(1)))
    .max_socket_request_bytes(args.max_request_bytes.max(1))
    .max_request_memory(args.max_request_memory.max(args.max_request_bytes))
    .zero_copy(!args.no_zero_copy);
    config.num_partitions = args.partitions.max(1);
    config.max_decompressed = args.max_decompressed.max(1);
    config.max_decompressed_total = args.max_decompressed_total.max(config.max_decompressed);
    if let Some(n) = args.num_threads {
        config.num_threads = n.clamp(1, 1024);
    }
    raise_fd_limit(config.max_connections as u64 + config.max_open_segments as u64 + FD_MARGIN);
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
