//! An embedded Kafka 0.7 broker: PRODUCE, MULTIPRODUCE, FETCH, MULTIFETCH and OFFSETS with the
//! 0.7.2 reference's reactions, storing partitions in memory or on disk in the real 0.7 layout.

mod files;
mod handler;
mod log;
mod net;
mod response;
mod store;

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::error::{Error, Result};
use handler::Budget;
use log::LogConfig;
use store::Store;

pub use store::{fits_file_name, validate_topic, CLEAN_SHUTDOWN_FILE, MAX_FILE_NAME};

/// Broker settings, named after the reference's `server.properties` keys (spec §8.1).
///
/// ```
/// use kafka07_io::BrokerConfig;
/// let cfg = BrokerConfig::in_memory().partitions(4).topic_partitions("big", 8);
/// assert_eq!((cfg.num_partitions, cfg.max_message_size), (4, 1_000_000));
/// ```
#[derive(Clone, Debug)]
pub struct BrokerConfig {
    /// Address to listen on (default `127.0.0.1:0`: loopback, ephemeral port).
    pub listen: SocketAddr,
    /// `log.dir`: `None` keeps every partition in memory.
    pub log_dir: Option<PathBuf>,
    /// `num.partitions`: partitions per topic (default 1).
    pub num_partitions: u32,
    /// `topic.partition.count.map`: per-topic partition counts.
    pub topic_partitions: HashMap<String, u32>,
    /// `max.socket.request.bytes`: largest request accepted, checked on the size field before
    /// anything is allocated (default 100 MiB). Larger or `<= 0`: connection closed (E42).
    pub max_socket_request_bytes: usize,
    /// `max.message.size`: largest top-level payload; a produce item with a larger one is
    /// dropped silently (0.7.2, E27). Default 1,000,000.
    pub max_message_size: usize,
    /// `log.file.size`: a segment is rolled before an append when it is strictly larger
    /// (default 1 GiB).
    pub log_file_size: u64,
    /// `log.flush.interval`: flush after this many (deep) messages (default 500).
    pub flush_interval_messages: u64,
    /// `log.default.flush.interval.ms`: flush a log unflushed for this long (default 3 s).
    pub flush_interval: Duration,
    /// Make every append visible to readers at once instead of at flush (spec §9.5 says
    /// readers see only flushed data; tests usually want this on). Default `false`.
    pub visible_on_append: bool,
    /// `log.roll.hours`: roll a non-empty segment older than this (default 168 h).
    pub roll_interval: Option<Duration>,
    /// Most connections open at once (default 10,000). At the limit, the connection idle
    /// longest (at least 1 s) is closed to admit a new one; when none is idle that long, the
    /// new one is refused with a reset and the refusal logged. Each connection is a file
    /// descriptor: the process's `ulimit -n` must allow them.
    pub max_connections: usize,
    /// Close a connection with no request in progress after this long (default 10 min;
    /// `None`: never, as the reference).
    pub idle_timeout: Option<Duration>,
    /// Request handler threads (the reference's `num.threads`; default: the CPUs, 2 to 8).
    /// Connections are served by one event loop whatever their number.
    pub num_threads: usize,
    /// `max.topic.name.length` (default 255). Names are also checked against the file-name
    /// limit of the log directory (255 bytes for `<topic>-<partition>`).
    pub max_topic_name_length: usize,
    /// Most topics the broker holds (default 10,000). A produce to a new topic is
    /// auto-created below it, as the reference does; at the limit it is refused (connection
    /// closed, logged).
    pub max_topics: usize,
    /// Most segment files kept open at once (default 1,000): others are opened when read or
    /// written, the least recently used closed.
    pub max_open_segments: usize,
    /// Most bytes one compressed wrapper of a produce request may decompress to while it is
    /// validated (default 64 MiB; the reference has no limit). Larger: connection closed.
    pub max_decompressed: usize,
    /// Most bytes of decompression scratch all requests together may hold at once, beyond
    /// 64 KiB per request handler (default 128 MiB, at least `max_decompressed`). A produce
    /// that needs more waits up to `request_timeout` for it, then is refused (connection
    /// closed, logged).
    pub max_decompressed_total: usize,
    /// Bytes of a response a connection reads from the log and buffers at a time (default
    /// 64 KiB): a FETCH or MULTIFETCH response is written from the log in chunks of this
    /// size, however large it is and however slowly the client reads.
    pub response_chunk_bytes: usize,
    /// Send FETCH and MULTIFETCH data held in segment files straight from the file to the
    /// socket with `sendfile(2)` on Linux, as the reference does with
    /// `FileChannel.transferTo` (default `true`). `false`, or another platform: the data is
    /// read into a buffer of `response_chunk_bytes` and written from there.
    pub zero_copy: bool,
    /// Most bytes of request bodies all connections together hold while they arrive (default
    /// 256 MiB, at least `max_socket_request_bytes`): over it, reading pauses on the
    /// connections that need more until memory is given back (their request timeout runs).
    pub max_request_memory: usize,
    /// Longest time a request may take to arrive once its first byte came, and the longest
    /// wait for decompression budget (default 30 s).
    pub request_timeout: Duration,
    /// Longest wait for a client to take any of a response (default 30 s): a connection that
    /// makes no write progress that long is closed.
    pub write_timeout: Duration,
    /// Join a cluster: register in ZooKeeper (spec §10.1). `None` (the default): standalone.
    #[cfg(feature = "zookeeper")]
    pub zookeeper: Option<crate::zk::BrokerZkConfig>,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            log_dir: None,
            num_partitions: 1,
            topic_partitions: HashMap::new(),
            max_socket_request_bytes: 104_857_600,
            max_message_size: 1_000_000,
            log_file_size: 1 << 30,
            flush_interval_messages: 500,
            flush_interval: Duration::from_millis(3000),
            visible_on_append: false,
            roll_interval: Some(Duration::from_secs(168 * 3600)),
            max_connections: 10_000,
            idle_timeout: Some(Duration::from_secs(600)),
            num_threads: std::thread::available_parallelism()
                .map_or(2, |n| n.get())
                .clamp(2, 8),
            max_topic_name_length: 255,
            max_topics: 10_000,
            max_open_segments: 1000,
            max_decompressed: 64 << 20,
            max_decompressed_total: 128 << 20,
            response_chunk_bytes: 64 << 10,
            zero_copy: true,
            max_request_memory: 256 << 20,
            request_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
            #[cfg(feature = "zookeeper")]
            zookeeper: None,
        }
    }
}

impl BrokerConfig {
    /// Defaults, partitions kept in memory.
    pub fn in_memory() -> Self {
        Self::default()
    }

    /// Defaults, partitions stored under `dir` in the 0.7 layout.
    pub fn on_disk(dir: impl Into<PathBuf>) -> Self {
        BrokerConfig {
            log_dir: Some(dir.into()),
            ..Self::default()
        }
    }

    /// Sets `num.partitions`.
    #[must_use]
    pub fn partitions(mut self, n: u32) -> Self {
        self.num_partitions = n;
        self
    }

    /// Sets the partition count of one topic.
    #[must_use]
    pub fn topic_partitions(mut self, topic: &str, n: u32) -> Self {
        self.topic_partitions.insert(topic.to_owned(), n);
        self
    }

    /// Sets `log.file.size`.
    #[must_use]
    pub fn log_file_size(mut self, bytes: u64) -> Self {
        self.log_file_size = bytes;
        self
    }

    /// Sets `log.flush.interval` (messages).
    #[must_use]
    pub fn flush_interval_messages(mut self, n: u64) -> Self {
        self.flush_interval_messages = n;
        self
    }

    /// Sets the time-based flush interval.
    #[must_use]
    pub fn flush_interval(mut self, d: Duration) -> Self {
        self.flush_interval = d;
        self
    }

    /// Makes appends visible at once (see the field).
    #[must_use]
    pub fn visible_on_append(mut self, yes: bool) -> Self {
        self.visible_on_append = yes;
        self
    }

    /// Sets `max.message.size`.
    #[must_use]
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Sets `max.socket.request.bytes`.
    #[must_use]
    pub fn max_socket_request_bytes(mut self, bytes: usize) -> Self {
        self.max_socket_request_bytes = bytes;
        self
    }

    /// Sets the connection limit.
    #[must_use]
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n;
        self
    }

    /// Sets the topic limit.
    #[must_use]
    pub fn max_topics(mut self, n: usize) -> Self {
        self.max_topics = n;
        self
    }

    /// Sets the open segment file limit.
    #[must_use]
    pub fn max_open_segments(mut self, n: usize) -> Self {
        self.max_open_segments = n;
        self
    }

    /// Turns `sendfile(2)` for fetch data on or off (see the field).
    #[must_use]
    pub fn zero_copy(mut self, yes: bool) -> Self {
        self.zero_copy = yes;
        self
    }

    /// Sets the broker-wide request body memory (see the field).
    #[must_use]
    pub fn max_request_memory(mut self, bytes: usize) -> Self {
        self.max_request_memory = bytes;
        self
    }

    /// Sets the idle timeout (`None`: never).
    #[must_use]
    pub fn idle_timeout(mut self, d: Option<Duration>) -> Self {
        self.idle_timeout = d;
        self
    }

    /// Sets the request timeout (see the field).
    #[must_use]
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = d;
        self
    }

    /// Sets the write timeout (see the field).
    #[must_use]
    pub fn write_timeout(mut self, d: Duration) -> Self {
        self.write_timeout = d;
        self
    }

    /// Sets the listening address.
    #[must_use]
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Registers the broker as `broker_id` in the ZooKeeper ensemble `zk` (feature
    /// `zookeeper`): `/brokers/ids/<id>` and `/brokers/topics/<topic>/<id>`, see
    /// [`zk::Registration`](crate::zk::Registration).
    #[cfg(feature = "zookeeper")]
    #[must_use]
    pub fn zookeeper(mut self, zk: crate::zk::ZkConfig, broker_id: u32) -> Self {
        self.zookeeper = Some(crate::zk::BrokerZkConfig {
            zk,
            broker_id,
            host: None,
        });
        self
    }

    /// The host written into the ZooKeeper registration (the reference's `hostname`);
    /// default: the listen address's IP (`127.0.0.1` when listening on every address).
    /// Needs [`zookeeper`](Self::zookeeper) first.
    #[cfg(feature = "zookeeper")]
    #[must_use]
    pub fn advertised_host(mut self, host: impl Into<String>) -> Self {
        if let Some(z) = self.zookeeper.as_mut() {
            z.host = Some(host.into());
        }
        self
    }

    fn validate(&self) -> Result<()> {
        let bad = |what: &str| Err(Error::Config(what.to_owned()));
        if self.num_partitions == 0 || self.topic_partitions.values().any(|&n| n == 0) {
            return bad("a topic needs at least one partition");
        }
        if self.num_partitions > i32::MAX as u32
            || self.topic_partitions.values().any(|&n| n > i32::MAX as u32)
        {
            return bad("partition counts must fit an int32");
        }
        if self.max_socket_request_bytes == 0 || self.max_socket_request_bytes > i32::MAX as usize {
            return bad("max.socket.request.bytes must be in 1..=2^31-1");
        }
        if self.log_file_size < 5 {
            return bad("log.file.size must be at least 5");
        }
        if self.max_connections == 0 {
            return bad("max_connections must be at least 1");
        }
        if self.max_topics == 0 || self.max_open_segments == 0 {
            return bad("max_topics and max_open_segments must be at least 1");
        }
        if self.num_threads == 0 {
            return bad("num_threads must be at least 1");
        }
        if self.request_timeout.is_zero() || self.write_timeout.is_zero() {
            return bad("request and write timeouts must be positive");
        }
        if self.max_decompressed_total < self.max_decompressed {
            return bad("max_decompressed_total must be at least max_decompressed");
        }
        if self.max_request_memory < self.max_socket_request_bytes {
            return bad("max_request_memory must be at least max_socket_request_bytes");
        }
        if self.response_chunk_bytes == 0 {
            return bad("response_chunk_bytes must be at least 1");
        }
        Ok(())
    }
}

/// The settings the request handler consults.
#[derive(Debug)]
pub(crate) struct Settings {
    num_partitions: u32,
    topic_partitions: HashMap<String, u32>,
    max_socket_request_bytes: usize,
    max_message_size: usize,
    max_topic_name_length: usize,
    max_decompressed: usize,
    max_connections: usize,
    response_chunk_bytes: usize,
    zero_copy: bool,
    max_request_memory: usize,
    request_timeout: Duration,
    idle_timeout: Option<Duration>,
    write_timeout: Duration,
}

impl Settings {
    fn partitions(&self, topic: &str) -> u32 {
        self.topic_partitions
            .get(topic)
            .copied()
            .unwrap_or(self.num_partitions)
    }
}

/// The recovery of one partition's last segment at start-up (spec §9.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionRecovery {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: u32,
    /// The segment file that was checked.
    pub segment: PathBuf,
    /// Bytes cut from its end (0 when it was intact).
    pub truncated_bytes: u64,
}

/// What the broker found when it opened its log directory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StartupReport {
    /// The clean-shutdown marker was present (no recovery was needed).
    pub clean_shutdown: bool,
    /// Partition logs loaded.
    pub partitions: usize,
    /// One entry per partition whose last segment was recovered.
    pub recovered: Vec<PartitionRecovery>,
    /// Entries of the log directory that are not `<topic>-<partition>` directories.
    pub skipped: Vec<PathBuf>,
}

impl StartupReport {
    /// Bytes truncated over all partitions.
    pub fn truncated_bytes(&self) -> u64 {
        self.recovered.iter().map(|r| r.truncated_bytes).sum()
    }
}

/// Counters of a running broker.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BrokerStats {
    /// Connections accepted and served.
    pub connections_accepted: u64,
    /// Connections refused because `max_connections` were open.
    pub connections_refused: u64,
    /// Connections open now.
    pub connections_open: u64,
    /// Requests handled.
    pub requests: u64,
    /// Of those, requests the event loop handled where it read them, without a worker: a
    /// PRODUCE of plain messages into an existing in-memory log (a parse, the CRCs and a
    /// copy). Everything else (file logs, compressed wrappers, new logs, fetches, errors)
    /// goes to the workers.
    pub requests_in_event_loop: u64,
    /// Connections the broker closed in reaction to a request (spec §6.9).
    pub closed_by_broker: u64,
    /// Connections closed by a timeout (request, idle or write).
    pub timed_out: u64,
    /// Most request body bytes held at once (see
    /// [`BrokerConfig::max_request_memory`]).
    pub request_memory_peak: u64,
    /// Segment files open in the broker's cache now.
    pub segment_files_open: u64,
    /// Segment files opened since start (a measure of cache misses).
    pub segment_files_opened: u64,
    /// Response bytes sent from segment files with `sendfile(2)`, without a copy through
    /// this process (see [`BrokerConfig::zero_copy`]).
    pub bytes_sent_zero_copy: u64,
    /// Response bytes written from this process's buffers (framing, in-memory logs, and
    /// file data when zero copy is off).
    pub bytes_written: u64,
}

#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicU64,
    refused: AtomicU64,
    open: AtomicU64,
    requests: AtomicU64,
    in_loop: AtomicU64,
    closed_by_broker: AtomicU64,
    timed_out: AtomicU64,
    request_memory_peak: AtomicU64,
    zero_copy_bytes: AtomicU64,
    written_bytes: AtomicU64,
}

#[derive(Debug)]
struct Shared {
    store: Store,
    settings: Settings,
    stopping: AtomicBool,
    counters: Counters,
    flusher_wake: (Mutex<bool>, Condvar),
    budget: Budget,
}

/// An embedded 0.7 broker, running on its own threads: one event loop for every connection
/// (up to [`BrokerConfig::max_connections`]), [`BrokerConfig::num_threads`] request
/// handlers and a flusher.
///
/// Bad input never brings it down: a request it rejects closes that connection only, as the
/// reference does (spec §6.9), and nothing stored is touched.
///
/// ```
/// use kafka07_io::{Broker, BrokerConfig, Client, OffsetTime};
/// let dir = tempfile::tempdir()?;
/// let broker = Broker::start(BrokerConfig::on_disk(dir.path()).flush_interval_messages(1))?;
/// let mut client = Client::connect(broker.local_addr())?;
/// client.produce("events", 0, &kafka07_io::encode_messages(&["a", "b"])?)?;
/// client.confirm("events")?;
/// assert_eq!(client.offsets("events", 0, OffsetTime::Latest, 10)?, [22, 0]);
/// broker.shutdown()?; // flushes and writes the clean-shutdown marker
/// assert!(dir.path().join("events-0/00000000000000000000.kafka").exists());
/// assert!(dir.path().join(".kafka_cleanshutdown").exists());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Broker {
    addr: SocketAddr,
    shared: Arc<Shared>,
    net: Option<net::Net>,
    flusher: Option<JoinHandle<()>>,
    report: StartupReport,
    #[cfg(feature = "zookeeper")]
    registration: Option<crate::zk::Registration>,
}

impl Broker {
    /// Opens the storage (loading and recovering an existing log directory) and starts
    /// listening.
    pub fn start(config: BrokerConfig) -> Result<Broker> {
        config.validate()?;
        let log_cfg = LogConfig {
            log_file_size: config.log_file_size,
            flush_interval_messages: config.flush_interval_messages,
            flush_interval: config.flush_interval,
            visible_on_append: config.visible_on_append,
            roll_interval: config.roll_interval,
            files: Arc::new(files::FileCache::new(config.max_open_segments)),
        };
        let (store, report) = match &config.log_dir {
            Some(dir) => Store::open(dir, log_cfg, config.max_topics)?,
            None => (
                Store::memory(log_cfg, config.max_topics),
                StartupReport::default(),
            ),
        };
        let listener = bind(config.listen)?;
        let addr = listener.local_addr()?;
        // Registered before the first request is served, so no topic is created unseen.
        #[cfg(feature = "zookeeper")]
        let registration = match &config.zookeeper {
            None => None,
            Some(z) => {
                let host = z.host.clone().unwrap_or_else(|| {
                    if addr.ip().is_unspecified() {
                        "127.0.0.1".to_owned()
                    } else {
                        addr.ip().to_string()
                    }
                });
                let (reg, tx) = crate::zk::Registration::start(
                    z,
                    host,
                    addr.port(),
                    store.topics(),
                    (config.num_partitions, config.topic_partitions.clone()),
                )?;
                store.notify_new_topics(tx);
                Some(reg)
            }
        };
        let shared = Arc::new(Shared {
            store,
            settings: Settings {
                num_partitions: config.num_partitions,
                topic_partitions: config.topic_partitions.clone(),
                max_socket_request_bytes: config.max_socket_request_bytes,
                max_message_size: config.max_message_size,
                max_topic_name_length: config.max_topic_name_length,
                max_decompressed: config.max_decompressed,
                max_connections: config.max_connections,
                response_chunk_bytes: config.response_chunk_bytes,
                zero_copy: config.zero_copy,
                max_request_memory: config.max_request_memory,
                request_timeout: config.request_timeout,
                idle_timeout: config.idle_timeout,
                write_timeout: config.write_timeout,
            },
            budget: Budget::new(config.max_decompressed_total),
            stopping: AtomicBool::new(false),
            counters: Counters::default(),
            flusher_wake: (Mutex::new(false), Condvar::new()),
        });
        let net = net::start(listener, shared.clone(), config.num_threads)?;
        let flusher = {
            let shared = shared.clone();
            let tick =
                (config.flush_interval / 2).clamp(Duration::from_millis(5), Duration::from_secs(1));
            std::thread::Builder::new()
                .name("kafka07-flusher".into())
                .spawn(move || flush_loop(shared, tick))?
        };
        Ok(Broker {
            addr,
            shared,
            net: Some(net),
            flusher: Some(flusher),
            report,
            #[cfg(feature = "zookeeper")]
            registration,
        })
    }

    /// The address the broker listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// What start-up found in the log directory (empty for in-memory storage).
    pub fn startup_report(&self) -> &StartupReport {
        &self.report
    }

    /// The ZooKeeper registration, when the broker was started with one.
    #[cfg(feature = "zookeeper")]
    pub fn registration(&self) -> Option<&crate::zk::Registration> {
        self.registration.as_ref()
    }

    /// Counters.
    pub fn stats(&self) -> BrokerStats {
        let c = &self.shared.counters;
        BrokerStats {
            connections_accepted: c.accepted.load(Ordering::Relaxed),
            connections_refused: c.refused.load(Ordering::Relaxed),
            connections_open: c.open.load(Ordering::Relaxed),
            requests: c.requests.load(Ordering::Relaxed),
            requests_in_event_loop: c.in_loop.load(Ordering::Relaxed),
            closed_by_broker: c.closed_by_broker.load(Ordering::Relaxed),
            timed_out: c.timed_out.load(Ordering::Relaxed),
            request_memory_peak: c.request_memory_peak.load(Ordering::Relaxed),
            segment_files_open: self.shared.store.file_counts().0 as u64,
            segment_files_opened: self.shared.store.file_counts().1,
            bytes_sent_zero_copy: c.zero_copy_bytes.load(Ordering::Relaxed),
            bytes_written: c.written_bytes.load(Ordering::Relaxed),
        }
    }

    /// Every `(topic, partition)` that has a log.
    pub fn partitions(&self) -> Vec<(String, u32)> {
        self.shared.store.partitions()
    }

    /// Flushes every log now (making everything written visible).
    pub fn flush(&self) -> Result<()> {
        Ok(self.shared.store.flush_all()?)
    }

    /// Stops accepting, closes every connection, joins every thread.
    fn stop_threads(&mut self) {
        // Leave the cluster first, so producers and consumers stop choosing this broker.
        #[cfg(feature = "zookeeper")]
        if let Some(r) = self.registration.take() {
            r.close();
        }
        self.shared.stopping.store(true, Ordering::SeqCst);
        {
            let (lock, cv) = &self.shared.flusher_wake;
            *lock.lock().unwrap_or_else(PoisonError::into_inner) = true;
            cv.notify_all();
        }
        if let Some(net) = self.net.take() {
            let _ = net.waker.wake();
            let _ = net.thread.join();
            for h in net.workers {
                let _ = h.join();
            }
        }
        if let Some(h) = self.flusher.take() {
            let _ = h.join();
        }
    }

    /// Clean shutdown: stops serving, flushes every log and writes the clean-shutdown marker
    /// (`.kafka_cleanshutdown`), so the next start skips recovery.
    pub fn shutdown(mut self) -> Result<()> {
        self.stop_threads();
        let r = self.shared.store.close();
        self.shared.stopping.store(true, Ordering::SeqCst);
        Ok(r?)
    }

    /// Stops like a crash: no final flush and no clean-shutdown marker, so the next start
    /// recovers the last segment of every partition. (Bytes already written to segment files
    /// stay there, as they would after a process crash.)
    pub fn abort(mut self) {
        self.stop_threads();
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if self.net.is_some() {
            self.stop_threads();
            let _ = self.shared.store.close();
        }
    }
}

/// Binds with a backlog of 1024 (std's is 128): a burst of connections is not met with
/// dropped SYNs (a 1 s retransmission each) while the event loop accepts.
fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

fn flush_loop(shared: Arc<Shared>, tick: Duration) {
    let (lock, cv) = &shared.flusher_wake;
    let mut stop = lock.lock().unwrap_or_else(PoisonError::into_inner);
    while !*stop {
        stop = cv
            .wait_timeout(stop, tick)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
        if *stop {
            break;
        }
        drop(stop);
        shared.store.flush_due();
        stop = lock.lock().unwrap_or_else(PoisonError::into_inner);
    }
}

/// Copies a directory tree (for tests and tools that start a broker on a copy of a log
/// directory: a broker recovers and writes into its directory).
///
/// ```
/// let from = tempfile::tempdir()?;
/// std::fs::create_dir(from.path().join("t-0"))?;
/// std::fs::write(from.path().join("t-0/00000000000000000000.kafka"), b"")?;
/// let to = tempfile::tempdir()?;
/// kafka07_io::copy_dir(from.path(), to.path())?;
/// assert!(to.path().join("t-0/00000000000000000000.kafka").exists());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}
