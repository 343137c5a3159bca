//! An embedded Kafka 0.7 broker: PRODUCE, MULTIPRODUCE, FETCH, MULTIFETCH and OFFSETS with the
//! 0.7.2 reference's reactions, storing partitions in memory or on disk in the real 0.7 layout.

mod handler;
mod log;
mod store;

use std::collections::HashMap;
use std::io::{ErrorKind as IoKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use kafka07_proto::{frame, Frame};

use crate::error::{Error, Result};
use handler::{Buffers, Handler, Reaction};
use log::LogConfig;
use store::Store;

pub use store::{validate_topic, CLEAN_SHUTDOWN_FILE};

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
    /// Most connections served at once; more are closed on accept (default 256).
    pub max_connections: usize,
    /// `max.topic.name.length` (default 255).
    pub max_topic_name_length: usize,
    /// Most bytes one compressed wrapper of a produce request may decompress to while it is
    /// validated (default 64 MiB; the reference has no limit). Larger: connection closed.
    pub max_decompressed: usize,
    /// Longest wait for a client to take a response.
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
            max_connections: 256,
            max_topic_name_length: 255,
            max_decompressed: 64 << 20,
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
    /// Connections the broker closed in reaction to a request (spec §6.9).
    pub closed_by_broker: u64,
}

#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicU64,
    refused: AtomicU64,
    requests: AtomicU64,
    closed_by_broker: AtomicU64,
}

#[derive(Debug)]
struct Shared {
    store: Store,
    settings: Settings,
    stopping: AtomicBool,
    conns: Mutex<HashMap<u64, TcpStream>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    counters: Counters,
    flusher_wake: (Mutex<bool>, Condvar),
}

/// An embedded 0.7 broker, running on its own threads (an acceptor, a flusher, and one thread
/// per connection, bounded by [`BrokerConfig::max_connections`]).
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
    acceptor: Option<JoinHandle<()>>,
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
        };
        let (store, report) = match &config.log_dir {
            Some(dir) => Store::open(dir, log_cfg)?,
            None => (Store::memory(log_cfg), StartupReport::default()),
        };
        let listener = TcpListener::bind(config.listen)?;
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
                write_timeout: config.write_timeout,
            },
            stopping: AtomicBool::new(false),
            conns: Mutex::new(HashMap::new()),
            threads: Mutex::new(Vec::new()),
            counters: Counters::default(),
            flusher_wake: (Mutex::new(false), Condvar::new()),
        });
        let acceptor = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("kafka07-acceptor".into())
                .spawn(move || accept_loop(listener, shared))?
        };
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
            acceptor: Some(acceptor),
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
            connections_open: self
                .shared
                .conns
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .len() as u64,
            requests: c.requests.load(Ordering::Relaxed),
            closed_by_broker: c.closed_by_broker.load(Ordering::Relaxed),
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
        // Wake the acceptor with a connection of our own.
        let _ = TcpStream::connect_timeout(&wake_addr(self.addr), Duration::from_secs(1));
        if let Some(h) = self.acceptor.take() {
            let _ = h.join();
        }
        for s in self
            .shared
            .conns
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
        {
            let _ = s.shutdown(Shutdown::Both);
        }
        let threads = std::mem::take(
            &mut *self
                .shared
                .threads
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for h in threads {
            let _ = h.join();
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
        if self.acceptor.is_some() {
            self.stop_threads();
            let _ = self.shared.store.close();
        }
    }
}

fn wake_addr(addr: SocketAddr) -> SocketAddr {
    let mut a = addr;
    if a.ip().is_unspecified() {
        a.set_ip(match a {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    a
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut next_id = 0u64;
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else {
            // Out of file descriptors and the like: let the situation pass.
            std::thread::sleep(Duration::from_millis(5));
            continue;
        };
        // Reap finished connection threads.
        shared
            .threads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|h| !h.is_finished());
        let id = next_id;
        next_id += 1;
        {
            let mut conns = shared.conns.lock().unwrap_or_else(PoisonError::into_inner);
            if conns.len() >= shared.settings.max_connections {
                shared.counters.refused.fetch_add(1, Ordering::Relaxed);
                let _ = stream.shutdown(Shutdown::Both);
                continue;
            }
            match stream.try_clone() {
                Ok(s) => {
                    conns.insert(id, s);
                }
                Err(_) => continue,
            }
        }
        shared.counters.accepted.fetch_add(1, Ordering::Relaxed);
        let worker = shared.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("kafka07-conn-{id}"))
            .spawn(move || {
                serve(stream, &worker);
                worker
                    .conns
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&id);
            });
        match spawned {
            Ok(h) => shared
                .threads
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(h),
            Err(_) => {
                if let Some(s) = shared
                    .conns
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&id)
                {
                    let _ = s.shutdown(Shutdown::Both);
                }
            }
        }
    }
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

/// Reads exactly `buf.len()` bytes; `Ok(false)` on a clean EOF before the first byte.
fn read_full(stream: &mut TcpStream, buf: &mut [u8]) -> std::io::Result<bool> {
    let mut at = 0;
    while at < buf.len() {
        match stream.read(&mut buf[at..]) {
            Ok(0) if at == 0 => return Ok(false),
            Ok(0) => return Err(IoKind::UnexpectedEof.into()),
            Ok(n) => at += n,
            Err(e) if e.kind() == IoKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Serves one connection: one request at a time, in order (spec §6.10).
fn serve(mut stream: TcpStream, shared: &Shared) {
    let settings = &shared.settings;
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(Some(settings.write_timeout));
    let handler = Handler {
        store: &shared.store,
        settings,
    };
    let mut bufs = Buffers::default();
    let mut body = Vec::new();
    loop {
        let mut size = [0u8; 4];
        match read_full(&mut stream, &mut size) {
            Ok(true) => {}
            _ => return, // EOF, reset or shutdown: close quietly
        }
        // Size <= 0 or over the limit: closed right after the size (E42), nothing allocated.
        let len = match frame(&size, settings.max_socket_request_bytes) {
            Ok(Frame::Partial { needed }) => needed,
            _ => {
                shared
                    .counters
                    .closed_by_broker
                    .fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        // The body grows as it arrives (1 MiB at a time), so a size that is announced but
        // never sent costs little.
        body.clear();
        while body.len() < len {
            let at = body.len();
            body.resize(at + (len - at).min(1 << 20), 0);
            match read_full(&mut stream, &mut body[at..]) {
                Ok(true) => {}
                _ => return, // the client vanished mid-request: nothing was applied
            }
        }
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        shared.counters.requests.fetch_add(1, Ordering::Relaxed);
        match handler.handle(&body, &mut bufs) {
            Reaction::Respond => {
                if stream.write_all(&bufs.out).is_err() {
                    return;
                }
            }
            Reaction::Silent => {}
            Reaction::Close(_) => {
                shared
                    .counters
                    .closed_by_broker
                    .fetch_add(1, Ordering::Relaxed);
                let _ = stream.shutdown(Shutdown::Both);
                return;
            }
        }
        bufs.trim();
        if body.capacity() > 4 << 20 {
            body = Vec::new();
        }
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
