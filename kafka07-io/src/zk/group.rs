//! Consumer groups (spec §10.3-10.5; `consumer/ZookeeperConsumerConnector.scala`,
//! `consumer/FetcherRunnable.scala`).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kafka07_proto::{ErrorCode, ErrorKind};

use super::client::{SessionEvent, ZkClient, ZkConfig};
use super::layout::{
    assign_range, parse_committed, thread_ids, thread_index, topic_path, BrokerPartition,
    GroupPaths, Subscription, BROKER_IDS, BROKER_TOPICS,
};
use super::view::{note_problem, read_brokers, read_topic_counts};
use crate::client::{deep_messages, Client, FetchSpec, OffsetTime};
use crate::consumer::OffsetReset;
use crate::error::{Error, Result};

/// Settings of a [`GroupConsumer`], named after the reference's consumer properties.
///
/// ```
/// use kafka07_io::zk::{GroupConfig, ZkConfig};
/// let c = GroupConfig::new(ZkConfig::new("127.0.0.1:2181"), "billing").topic("orders", 2);
/// assert_eq!(c.subscription.encode(), r#"{ "orders": 2 }"#);
/// assert_eq!((c.rebalance_retries_max, c.auto_commit), (4, true));
/// ```
#[derive(Clone, Debug)]
pub struct GroupConfig {
    /// `zk.connect` and the session timeout.
    pub zk: ZkConfig,
    /// `groupid`.
    pub group: String,
    /// `consumerid`: the id after `<group>_`; default `<hostname>-<epoch ms>-<8 hex>`.
    pub consumer_id: Option<String>,
    /// What to consume, with the stream count per topic.
    pub subscription: Subscription,
    /// `fetch.size` per partition (default 1 MiB).
    pub fetch_size: u32,
    /// Largest fetch size grown to when one message does not fit (default 64 MiB).
    pub max_fetch_size: u32,
    /// `autocommit.enable` (default `true`).
    pub auto_commit: bool,
    /// `autocommit.interval.ms` (default 10 s).
    pub auto_commit_interval: Duration,
    /// `autooffset.reset`: where a partition without a committed offset starts, and where an
    /// OffsetOutOfRange fetch jumps to (then written to ZooKeeper at once). Default earliest
    /// (`smallest`). [`OffsetReset::Error`] stops that partition with an error instead.
    pub reset: OffsetReset,
    /// `rebalance.retries.max` (default 4).
    pub rebalance_retries_max: u32,
    /// `rebalance.backoff.ms` (default 2 s, the reference's `zk.synctime.ms`).
    pub rebalance_backoff: Duration,
    /// Wait after a fetch that returned nothing (`backoff.increment.ms`; default 100 ms).
    pub fetch_backoff: Duration,
    /// Messages queued per stream before the fetchers wait (default 10,000).
    pub queue_capacity: usize,
}

impl GroupConfig {
    /// Defaults for `group` on `zk`, subscribed to nothing yet.
    pub fn new(zk: ZkConfig, group: impl Into<String>) -> Self {
        GroupConfig {
            zk,
            group: group.into(),
            consumer_id: None,
            subscription: Subscription::Static(BTreeMap::new()),
            fetch_size: 1 << 20,
            max_fetch_size: 64 << 20,
            auto_commit: true,
            auto_commit_interval: Duration::from_secs(10),
            reset: OffsetReset::Earliest,
            rebalance_retries_max: 4,
            rebalance_backoff: Duration::from_secs(2),
            fetch_backoff: Duration::from_millis(100),
            queue_capacity: 10_000,
        }
    }

    /// Adds `topic` with `streams` streams to a static subscription (replacing a wildcard).
    #[must_use]
    pub fn topic(mut self, topic: &str, streams: u32) -> Self {
        match &mut self.subscription {
            Subscription::Static(m) => {
                m.insert(topic.to_owned(), streams);
            }
            _ => self.subscription = Subscription::topic(topic, streams),
        }
        self
    }

    /// Sets the whole subscription.
    #[must_use]
    pub fn subscription(mut self, s: Subscription) -> Self {
        self.subscription = s;
        self
    }

    /// Sets the consumer id (`consumerid`).
    #[must_use]
    pub fn consumer_id(mut self, id: impl Into<String>) -> Self {
        self.consumer_id = Some(id.into());
        self
    }

    /// Sets `autooffset.reset`.
    #[must_use]
    pub fn reset(mut self, r: OffsetReset) -> Self {
        self.reset = r;
        self
    }

    /// Sets the auto-commit interval (`None`: no auto-commit; commit on rebalance and
    /// shutdown only, or by [`GroupConsumer::commit`]).
    #[must_use]
    pub fn auto_commit(mut self, every: Option<Duration>) -> Self {
        self.auto_commit = every.is_some();
        if let Some(d) = every {
            self.auto_commit_interval = d;
        }
        self
    }

    /// Sets `rebalance.retries.max` and `rebalance.backoff.ms`.
    #[must_use]
    pub fn rebalance(mut self, retries_max: u32, backoff: Duration) -> Self {
        self.rebalance_retries_max = retries_max;
        self.rebalance_backoff = backoff;
        self
    }

    /// Sets the per-partition fetch size.
    #[must_use]
    pub fn fetch_size(mut self, bytes: u32) -> Self {
        self.fetch_size = bytes.max(1);
        self
    }
}

/// A message consumed through a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupMessage {
    /// Topic.
    pub topic: String,
    /// Broker and broker-local partition.
    pub partition: BrokerPartition,
    /// Where the message's entry starts (for a message inside a compressed wrapper: where the
    /// wrapper starts).
    pub offset: u64,
    /// The reference's resume offset: what is committed once this message was taken.
    pub next_offset: u64,
    /// Payload.
    pub payload: Vec<u8>,
}

/// Counters and state of a [`GroupConsumer`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupStats {
    /// Rebalances completed.
    pub rebalances: u64,
    /// Rebalance attempts that failed (a partition still owned by another member).
    pub rebalance_failures: u64,
    /// Sessions used (1, plus one per re-registration after an expiry).
    pub sessions: u64,
    /// Messages fetched and queued.
    pub fetched: u64,
    /// Offset commits written.
    pub commits: u64,
    /// OffsetOutOfRange resets.
    pub resets: u64,
    /// `true` while fetching is paused (ZooKeeper connection lost).
    pub paused: bool,
    /// The last problem (fetch error, rebalance failure, ZooKeeper away), if any.
    pub last_error: Option<String>,
    /// Malformed znodes met (path and what is wrong), each skipped.
    pub problems: Vec<String>,
}

#[derive(Debug)]
struct Part {
    topic: String,
    bp: BrokerPartition,
    /// The consumed offset: the resume offset of the last message taken from a stream.
    consumed: AtomicU64,
    /// The offset last written to ZooKeeper (`u64::MAX`: none).
    committed: AtomicU64,
}

#[derive(Debug)]
struct Item {
    part: Arc<Part>,
    msg: GroupMessage,
}

#[derive(Debug, Default)]
struct QState {
    items: VecDeque<Item>,
    closed: bool,
}

#[derive(Debug)]
struct Queue {
    state: Mutex<QState>,
    not_empty: Condvar,
    not_full: Condvar,
    capacity: usize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Queue {
    fn new(capacity: usize) -> Self {
        Queue {
            state: Mutex::new(QState::default()),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
            capacity: capacity.max(1),
        }
    }

    /// Waits for room; `false` when `stop` was raised (the item is dropped).
    fn push(&self, item: Item, stop: &AtomicBool) -> bool {
        let mut s = lock(&self.state);
        while s.items.len() >= self.capacity {
            if stop.load(Ordering::SeqCst) || s.closed {
                return false;
            }
            s = self
                .not_full
                .wait_timeout(s, Duration::from_millis(50))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        if s.closed {
            return false;
        }
        s.items.push_back(item);
        self.not_empty.notify_one();
        true
    }

    fn clear(&self) {
        lock(&self.state).items.clear();
        self.not_full.notify_all();
    }

    fn close(&self) {
        let mut s = lock(&self.state);
        s.closed = true;
        s.items.clear();
        self.not_empty.notify_all();
        self.not_full.notify_all();
    }
}

/// One stream of a group consumer (the reference's `KafkaStream`): the messages of the
/// partitions its thread id owns, in order per partition. Taking a message advances that
/// partition's consumed offset (what the next commit writes).
///
/// As an [`Iterator`] it blocks until a message arrives and ends when the consumer shuts
/// down; [`next_timeout`](Self::next_timeout) waits at most a given time.
#[derive(Debug, Clone)]
pub struct MessageStream {
    queue: Arc<Queue>,
    name: String,
}

impl MessageStream {
    /// The stream's name: `<topic>-<thread index>` (or `*-<index>` for a wildcard).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The next message, waiting at most `timeout`; `None` on timeout or after shutdown.
    pub fn next_timeout(&self, timeout: Duration) -> Option<GroupMessage> {
        let deadline = Instant::now() + timeout;
        let mut s = lock(&self.queue.state);
        loop {
            if let Some(item) = s.items.pop_front() {
                // Under the queue lock: a rebalance that clears the queue sees either the
                // item queued or its offset consumed, never neither.
                item.part
                    .consumed
                    .store(item.msg.next_offset, Ordering::SeqCst);
                self.queue.not_full.notify_one();
                return Some(item.msg);
            }
            let now = Instant::now();
            if s.closed || now >= deadline {
                return None;
            }
            s = self
                .queue
                .not_empty
                .wait_timeout(s, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// `true` once the consumer has shut down.
    pub fn is_closed(&self) -> bool {
        lock(&self.queue.state).closed
    }
}

impl Iterator for MessageStream {
    type Item = GroupMessage;
    fn next(&mut self) -> Option<GroupMessage> {
        loop {
            if let Some(m) = self.next_timeout(Duration::from_millis(200)) {
                return Some(m);
            }
            if self.is_closed() {
                return None;
            }
        }
    }
}

#[derive(Debug)]
enum Ev {
    /// A watched path changed.
    Changed(String),
    Session(u64, SessionEvent),
    /// A fetcher reset a partition after OffsetOutOfRange: write it now.
    Reset(Arc<Part>, u64),
    Commit(Sender<Result<()>>),
    Stop(Sender<Result<()>>),
}

#[derive(Debug)]
struct Shared {
    config: GroupConfig,
    consumer_id: String,
    /// Stream queues by (topic, or "*" for a wildcard; thread index).
    queues: BTreeMap<(String, u32), Arc<Queue>>,
    stop_fetch: AtomicBool,
    paused: AtomicBool,
    stats: Mutex<GroupStats>,
    owned: Mutex<Vec<Arc<Part>>>,
}

impl Shared {
    fn problem(&self, p: String) {
        note_problem(&mut lock(&self.stats).problems, p);
    }
    fn error(&self, e: String) {
        lock(&self.stats).last_error = Some(e);
    }
    fn queue_for(&self, topic: &str, thread: &str) -> Option<Arc<Queue>> {
        let i = thread_index(thread)?;
        let key = if self.config.subscription.is_wildcard() {
            "*".to_owned()
        } else {
            topic.to_owned()
        };
        self.queues.get(&(key, i)).cloned()
    }
}

/// A member of a 0.7 consumer group (the reference's `ZookeeperConsumerConnector`).
///
/// It registers `/consumers/<group>/ids/<consumer id>` with its subscription, takes its
/// share of the partitions by the reference range assignment (owner nodes, retried with
/// backoff), starts each partition at the offset committed in ZooKeeper (or per
/// [`GroupConfig::reset`]), and fetches with one MULTIFETCH per broker for all the partitions
/// it owns there. It rebalances when members join or leave, when brokers register or vanish
/// under a subscribed topic, and after a session expiry (re-registering first). While the
/// ZooKeeper connection is lost it pauses fetching (keeping its offsets) and resumes when it
/// returns. [`shutdown`](Self::shutdown) commits, releases its owner nodes and leaves.
///
/// Delivery is at least once: a message is committed only after it was taken from a stream;
/// after a crash, the next owner starts at the last commit.
#[derive(Debug)]
pub struct GroupConsumer {
    shared: Arc<Shared>,
    tx: Sender<Ev>,
    coordinator: Option<JoinHandle<()>>,
}

fn default_consumer_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_owned());
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    format!("{host}-{ms}-{:08x}", fastrand::u32(..))
}

impl GroupConsumer {
    /// Joins the group and runs the first rebalance before returning (so a configuration
    /// that cannot work, or ZooKeeper away, is an error here).
    pub fn start(config: GroupConfig) -> Result<GroupConsumer> {
        if config.group.is_empty() || config.group.contains('/') {
            return Err(Error::Config(format!(
                "group id {:?} must be non-empty and without '/'",
                config.group
            )));
        }
        let id = config
            .consumer_id
            .clone()
            .unwrap_or_else(default_consumer_id);
        let consumer_id = format!("{}_{id}", config.group);
        let mut queues = BTreeMap::new();
        match &config.subscription {
            Subscription::Static(m) => {
                for (t, n) in m {
                    for i in 0..*n {
                        queues.insert((t.clone(), i), Arc::new(Queue::new(config.queue_capacity)));
                    }
                }
            }
            Subscription::Whitelist { streams, .. } | Subscription::Blacklist { streams, .. } => {
                for i in 0..*streams {
                    queues.insert(
                        ("*".to_owned(), i),
                        Arc::new(Queue::new(config.queue_capacity)),
                    );
                }
            }
        }
        let zk = ZkClient::connect(&config.zk)?;
        let paths = GroupPaths::new(&config.group);
        let me = paths.id(&consumer_id);
        let sub = config.subscription.encode();
        if !zk.create(&me, sub.as_bytes(), true)? {
            let held = zk.get_with_owner(&me)?;
            if held.is_some_and(|(_, owner)| owner != zk.session_id()) {
                zk.close();
                return Err(Error::Config(format!(
                    "consumer id {consumer_id} is registered already by a live consumer ({me})"
                )));
            }
        }
        let shared = Arc::new(Shared {
            config,
            consumer_id,
            queues,
            stop_fetch: AtomicBool::new(false),
            paused: AtomicBool::new(false),
            stats: Mutex::new(GroupStats {
                sessions: 1,
                ..GroupStats::default()
            }),
            owned: Mutex::new(Vec::new()),
        });
        let (tx, rx) = channel();
        zk.session_events(&tx, |e| Ev::Session(1, e));
        let (ready_tx, ready_rx) = channel();
        let coordinator = {
            let (shared, tx) = (shared.clone(), tx.clone());
            std::thread::Builder::new()
                .name("kafka07-group".into())
                .spawn(move || {
                    let mut c = Coordinator::new(shared, zk, tx);
                    let first = c.rebalance();
                    let ok = first.is_ok();
                    let _ = ready_tx.send(first);
                    if ok {
                        c.run(rx);
                    } else {
                        let _ = c.leave();
                    }
                })?
        };
        let consumer = GroupConsumer {
            shared,
            tx,
            coordinator: Some(coordinator),
        };
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(consumer),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::Config("the group coordinator thread died".into())),
        }
    }

    /// `<group>_<id>`, as registered.
    pub fn consumer_id(&self) -> &str {
        &self.shared.consumer_id
    }

    /// The streams of `topic` (a static subscription), by thread index; for a wildcard
    /// subscription pass `"*"`.
    pub fn streams(&self, topic: &str) -> Vec<MessageStream> {
        self.shared
            .queues
            .iter()
            .filter(|((t, _), _)| t == topic)
            .map(|((t, i), q)| MessageStream {
                queue: q.clone(),
                name: format!("{t}-{i}"),
            })
            .collect()
    }

    /// Every stream, of every topic.
    pub fn all_streams(&self) -> Vec<MessageStream> {
        self.shared
            .queues
            .iter()
            .map(|((t, i), q)| MessageStream {
                queue: q.clone(),
                name: format!("{t}-{i}"),
            })
            .collect()
    }

    /// The partitions this member owns now, `(topic, broker-partition)`, sorted.
    pub fn owned(&self) -> Vec<(String, BrokerPartition)> {
        let mut v: Vec<_> = lock(&self.shared.owned)
            .iter()
            .map(|p| (p.topic.clone(), p.bp))
            .collect();
        v.sort();
        v
    }

    /// Counters and state.
    pub fn stats(&self) -> GroupStats {
        let mut s = lock(&self.shared.stats).clone();
        s.paused = self.shared.paused.load(Ordering::SeqCst);
        s
    }

    /// Writes the consumed offsets of every owned partition to ZooKeeper now.
    pub fn commit(&self) -> Result<()> {
        let (tx, rx) = channel();
        self.tx
            .send(Ev::Commit(tx))
            .map_err(|_| Error::Config("the group consumer has stopped".into()))?;
        rx.recv()
            .unwrap_or_else(|_| Err(Error::Config("the group consumer has stopped".into())))
    }

    /// Commits, releases the owner nodes, leaves the group (closing the session) and ends
    /// every stream.
    pub fn shutdown(mut self) -> Result<()> {
        self.stop()
    }

    fn stop(&mut self) -> Result<()> {
        let (tx, rx) = channel();
        let r = if self.tx.send(Ev::Stop(tx)).is_ok() {
            rx.recv().unwrap_or(Ok(()))
        } else {
            Ok(())
        };
        if let Some(c) = self.coordinator.take() {
            let _ = c.join();
        }
        for q in self.shared.queues.values() {
            q.close();
        }
        r
    }
}

impl Drop for GroupConsumer {
    fn drop(&mut self) {
        if self.coordinator.is_some() {
            let _ = self.stop();
        }
    }
}

/// An owned partition and the queue of the stream its thread feeds.
type Owned = (Arc<Part>, Arc<Queue>);

struct Coordinator {
    shared: Arc<Shared>,
    zk: ZkClient,
    session: u64,
    tx: Sender<Ev>,
    paths: GroupPaths,
    /// Paths with a pending child watch.
    armed: BTreeSet<String>,
    fetchers: Vec<JoinHandle<()>>,
    /// Owner nodes held: (path).
    held: Vec<String>,
    expired: bool,
    retry_at: Option<Instant>,
}

impl Coordinator {
    fn new(shared: Arc<Shared>, zk: ZkClient, tx: Sender<Ev>) -> Self {
        let paths = GroupPaths::new(&shared.config.group);
        Coordinator {
            shared,
            zk,
            session: 1,
            tx,
            paths,
            armed: BTreeSet::new(),
            fetchers: Vec::new(),
            held: Vec::new(),
            expired: false,
            retry_at: None,
        }
    }

    fn children(&mut self, path: &str) -> Result<Vec<String>> {
        if self.armed.contains(path) {
            return self.zk.children(path);
        }
        let c = self
            .zk
            .children_watch(path, &self.tx, Ev::Changed(path.to_owned()))?;
        self.armed.insert(path.to_owned());
        Ok(c)
    }

    fn run(mut self, rx: Receiver<Ev>) {
        let cfg = self.shared.config.clone();
        let mut next_commit = Instant::now() + cfg.auto_commit_interval;
        loop {
            let mut wait = Duration::from_millis(500);
            if cfg.auto_commit {
                wait = wait.min(next_commit.saturating_duration_since(Instant::now()));
            }
            if let Some(t) = self.retry_at {
                wait = wait.min(t.saturating_duration_since(Instant::now()));
            }
            let mut rebalance = false;
            match rx.recv_timeout(wait) {
                Ok(Ev::Stop(reply)) => {
                    let _ = reply.send(self.leave());
                    return;
                }
                Ok(Ev::Changed(path)) => {
                    self.armed.remove(&path);
                    rebalance = true;
                }
                Ok(Ev::Session(s, ev)) if s == self.session => match ev {
                    SessionEvent::Disconnected => {
                        self.shared.paused.store(true, Ordering::SeqCst);
                        self.shared
                            .error("ZooKeeper connection lost: fetching paused".into());
                    }
                    SessionEvent::Reconnected => {
                        self.shared.paused.store(false, Ordering::SeqCst);
                    }
                    SessionEvent::Expired | SessionEvent::Closed => {
                        self.shared.paused.store(true, Ordering::SeqCst);
                        self.expired = true;
                    }
                },
                Ok(Ev::Session(..)) => {}
                Ok(Ev::Reset(part, offset)) => {
                    let path = self.paths.offset(&part.topic, &part.bp);
                    if self.zk.set(&path, offset.to_string().as_bytes()).is_ok() {
                        part.committed.store(offset, Ordering::SeqCst);
                    }
                }
                Ok(Ev::Commit(reply)) => {
                    let _ = reply.send(self.commit());
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    let _ = self.leave();
                    return;
                }
            }
            if self.expired {
                match self.new_session() {
                    Ok(()) => rebalance = true,
                    Err(e) => {
                        self.shared.error(format!("new ZooKeeper session: {e}"));
                        std::thread::sleep(Duration::from_millis(200));
                        continue;
                    }
                }
            }
            if self.retry_at.is_some_and(|t| Instant::now() >= t) {
                rebalance = true;
            }
            if rebalance {
                // Several watches fire for one change: take them all, rebalance once.
                std::thread::sleep(Duration::from_millis(20));
                if let Err(e) = self.rebalance() {
                    self.shared.error(e.to_string());
                    self.retry_at = Some(Instant::now() + cfg.rebalance_backoff);
                } else {
                    self.retry_at = None;
                }
            }
            if cfg.auto_commit && Instant::now() >= next_commit {
                let _ = self.commit();
                next_commit = Instant::now() + cfg.auto_commit_interval;
            }
        }
    }

    fn new_session(&mut self) -> Result<()> {
        let zk = ZkClient::connect(self.zk.config())?;
        let me = self.paths.id(&self.shared.consumer_id);
        let sub = self.shared.config.subscription.encode();
        if !zk.create(&me, sub.as_bytes(), true)? {
            // Left by our expired session (the server has not dropped it yet): replace it.
            zk.delete(&me)?;
            zk.create(&me, sub.as_bytes(), true)?;
        }
        self.session += 1;
        let s = self.session;
        zk.session_events(&self.tx, move |e| Ev::Session(s, e));
        self.zk = zk;
        self.armed.clear();
        self.held.clear(); // the old session's ephemeral owners are gone with it
        self.expired = false;
        self.shared.paused.store(false, Ordering::SeqCst);
        lock(&self.shared.stats).sessions = s;
        Ok(())
    }

    fn stop_fetchers(&mut self) {
        self.shared.stop_fetch.store(true, Ordering::SeqCst);
        for f in self.fetchers.drain(..) {
            let _ = f.join();
        }
        self.shared.stop_fetch.store(false, Ordering::SeqCst);
        for q in self.shared.queues.values() {
            q.clear();
        }
    }

    fn commit(&mut self) -> Result<()> {
        let owned = lock(&self.shared.owned).clone();
        let mut first = None;
        for p in owned {
            let c = p.consumed.load(Ordering::SeqCst);
            if c == p.committed.load(Ordering::SeqCst) {
                continue;
            }
            let path = self.paths.offset(&p.topic, &p.bp);
            match self.zk.set(&path, c.to_string().as_bytes()) {
                Ok(()) => {
                    p.committed.store(c, Ordering::SeqCst);
                    lock(&self.shared.stats).commits += 1;
                }
                Err(e) => {
                    first.get_or_insert(e);
                }
            }
        }
        first.map_or(Ok(()), Err)
    }

    fn release(&mut self) {
        for path in std::mem::take(&mut self.held) {
            let _ = self.zk.delete(&path);
        }
        lock(&self.shared.owned).clear();
    }

    /// Clean exit: stop fetching, commit, release owners, close the session (this handle is
    /// the session's last, so the close waits for the server's confirmation).
    fn leave(mut self) -> Result<()> {
        self.stop_fetchers();
        let r = self.commit();
        self.release();
        let me = self.paths.id(&self.shared.consumer_id);
        let _ = self.zk.delete(&me);
        self.zk.close();
        for q in self.shared.queues.values() {
            q.close();
        }
        r
    }

    /// The reference's `syncedRebalance`: up to `rebalance.retries.max` attempts with backoff.
    fn rebalance(&mut self) -> Result<()> {
        let cfg = self.shared.config.clone();
        let attempts = cfg.rebalance_retries_max.max(1);
        let mut last = String::new();
        for attempt in 0..attempts {
            match self.try_rebalance() {
                Ok(true) => {
                    lock(&self.shared.stats).rebalances += 1;
                    return Ok(());
                }
                Ok(false) => {
                    last = "a partition is still owned by another member".into();
                }
                Err(e) => last = e.to_string(),
            }
            lock(&self.shared.stats).rebalance_failures += 1;
            if attempt + 1 < attempts {
                std::thread::sleep(cfg.rebalance_backoff);
            }
        }
        Err(Error::RebalanceFailed {
            group: cfg.group.clone(),
            attempts,
            reason: last,
        })
    }

    /// One attempt; `Ok(false)` when an owner node is held by someone else.
    fn try_rebalance(&mut self) -> Result<bool> {
        let shared = self.shared.clone();
        let me = &shared.consumer_id;
        // Members and their subscriptions.
        let ids_path = self.paths.ids();
        let members = self.children(&ids_path)?;
        let mut subs: Vec<(String, Subscription)> = Vec::new();
        for m in members {
            let path = self.paths.id(&m);
            match self.zk.get(&path)? {
                None => {}
                Some(d) => match Subscription::parse(&d) {
                    Ok(s) => subs.push((m, s)),
                    Err(e) => shared.problem(format!("{path}: {e}")),
                },
            }
        }
        if !subs.iter().any(|(m, _)| m == me) {
            // Our registration is missing (deleted by someone): write it again.
            self.zk.create(
                &self.paths.id(me),
                shared.config.subscription.encode().as_bytes(),
                true,
            )?;
            subs.push((me.clone(), shared.config.subscription.clone()));
        }
        let wildcard = subs.iter().any(|(_, s)| s.is_wildcard());
        let existing = if wildcard {
            self.children(BROKER_TOPICS)?
        } else {
            Vec::new()
        };
        let my_topics = shared.config.subscription.topic_counts(&existing);
        // Live brokers.
        let brokers = read_brokers(&self.zk, self.zk.children(BROKER_IDS)?, &mut |p| {
            shared.problem(p)
        })?;
        // The assignment, topic by topic.
        let mut mine: Vec<(String, BrokerPartition, String)> = Vec::new();
        for topic in my_topics.keys() {
            let children = self.children(&topic_path(topic))?;
            let counts = read_topic_counts(&self.zk, topic, children, &mut |p| shared.problem(p))?;
            let parts: Vec<String> = counts
                .iter()
                .flat_map(|(b, n)| (0..*n).map(move |p| format!("{b}-{p}")))
                .collect();
            let mut threads = Vec::new();
            for (m, s) in &subs {
                if let Some(&n) = s.topic_counts(&existing).get(topic) {
                    threads.extend(thread_ids(m, n));
                }
            }
            let mine_ids: BTreeSet<String> = thread_ids(me, my_topics[topic]).into_iter().collect();
            for (thread, owned) in assign_range(&parts, &threads) {
                if !mine_ids.contains(&thread) {
                    continue;
                }
                for p in owned {
                    if let Some(bp) = BrokerPartition::parse(&p) {
                        mine.push((topic.clone(), bp, thread.clone()));
                    }
                }
            }
        }
        // Release everything, then claim the new share (ZookeeperConsumerConnector:500-545).
        self.stop_fetchers();
        self.commit()?;
        self.release();
        let mut created = Vec::new();
        for (topic, bp, thread) in &mine {
            let path = self.paths.owner(topic, bp);
            if self.zk.create(&path, thread.as_bytes(), true)? {
                created.push(path);
                continue;
            }
            let ours = self
                .zk
                .get_with_owner(&path)?
                .is_some_and(|(_, owner)| owner == self.zk.session_id());
            if ours {
                self.zk.delete(&path)?;
                self.zk.create(&path, thread.as_bytes(), true)?;
                created.push(path);
                continue;
            }
            for p in &created {
                let _ = self.zk.delete(p);
            }
            return Ok(false);
        }
        self.held = created;
        // Start offsets: committed, else per autooffset.reset.
        let mut by_broker: BTreeMap<u32, Vec<Owned>> = BTreeMap::new();
        let mut owned = Vec::new();
        for (topic, bp, thread) in &mine {
            let path = self.paths.offset(topic, bp);
            let committed = match self.zk.get(&path)?.map(|d| parse_committed(&d)) {
                Some(Ok(o)) => o,
                Some(Err(e)) => {
                    shared.problem(format!("{path}: {e}"));
                    None
                }
                None => None,
            };
            let Some(info) = brokers.get(&bp.broker) else {
                shared.problem(format!(
                    "{}: broker {} is registered for the topic but not in {BROKER_IDS}",
                    topic_path(topic),
                    bp.broker
                ));
                continue;
            };
            let start = match committed {
                Some(o) => o,
                None => {
                    match reset_offset(&info.addr(), topic, bp.partition, shared.config.reset) {
                        Ok(o) => o,
                        Err(e) => {
                            shared.error(format!("{topic}:{bp}: start offset: {e}"));
                            0
                        }
                    }
                }
            };
            let part = Arc::new(Part {
                topic: topic.clone(),
                bp: *bp,
                consumed: AtomicU64::new(start),
                committed: AtomicU64::new(committed.unwrap_or(u64::MAX)),
            });
            let Some(queue) = shared.queue_for(topic, thread) else {
                continue;
            };
            owned.push(part.clone());
            by_broker.entry(bp.broker).or_default().push((part, queue));
        }
        *lock(&shared.owned) = owned;
        for (b, parts) in by_broker {
            let addr = brokers[&b].addr();
            let (shared, tx) = (shared.clone(), self.tx.clone());
            let thread = std::thread::Builder::new()
                .name(format!("kafka07-fetch-{b}"))
                .spawn(move || fetch_loop(addr, parts, shared, tx))?;
            self.fetchers.push(thread);
        }
        Ok(true)
    }
}

fn reset_offset(addr: &str, topic: &str, partition: u32, reset: OffsetReset) -> Result<u64> {
    let time = match reset {
        OffsetReset::Latest => OffsetTime::Latest,
        _ => OffsetTime::Earliest,
    };
    let mut c = Client::new(crate::BrokerList::new([addr]).max_rounds(1));
    let o = c.offsets(topic, partition as i32, time, 1)?;
    Ok(o.first().copied().unwrap_or(0))
}

/// Sleeps up to `d`, waking early when fetching is to stop. `false` when it is.
fn nap(d: Duration, stop: &AtomicBool) -> bool {
    let end = Instant::now() + d;
    while Instant::now() < end {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10).min(end - Instant::now()));
    }
    !stop.load(Ordering::SeqCst)
}

/// One broker's fetcher (`FetcherRunnable`): a MULTIFETCH for all owned partitions there.
fn fetch_loop(addr: String, parts: Vec<Owned>, shared: Arc<Shared>, tx: Sender<Ev>) {
    let cfg = &shared.config;
    let stop = &shared.stop_fetch;
    let mut client = Client::new(crate::BrokerList::new([addr.as_str()]).max_rounds(1));
    let mut offsets: Vec<u64> = parts
        .iter()
        .map(|(p, _)| p.consumed.load(Ordering::SeqCst))
        .collect();
    let mut sizes: Vec<u32> = vec![cfg.fetch_size; parts.len()];
    // Partitions stopped by an error they cannot get past (a corrupt message, a reset that
    // is configured to be an error).
    let mut stalled: Vec<bool> = vec![false; parts.len()];
    let mut scratch = vec![0u8; 64 * 1024];
    let mut failures = 0u32;
    while !stop.load(Ordering::SeqCst) {
        if shared.paused.load(Ordering::SeqCst) {
            if !nap(Duration::from_millis(50), stop) {
                return;
            }
            continue;
        }
        let idx: Vec<usize> = (0..parts.len()).filter(|&i| !stalled[i]).collect();
        if idx.is_empty() {
            nap(Duration::from_millis(200), stop);
            continue;
        }
        let specs: Vec<FetchSpec> = idx
            .iter()
            .map(|&i| {
                FetchSpec::new(
                    parts[i].0.topic.clone(),
                    parts[i].0.bp.partition as i32,
                    offsets[i],
                    sizes[i],
                )
            })
            .collect();
        let fetched = match client.multifetch(&specs) {
            Ok(f) => {
                failures = 0;
                f
            }
            Err(e) => {
                failures += 1;
                shared.error(format!("fetch from broker {addr}: {e}"));
                let backoff = Duration::from_millis(100 * u64::from(failures.min(20)));
                if !nap(backoff, stop) {
                    return;
                }
                continue;
            }
        };
        let mut delivered = 0usize;
        for (k, f) in fetched.iter().enumerate() {
            let i = idx[k];
            let (part, queue) = &parts[i];
            if f.error == ErrorCode::OFFSET_OUT_OF_RANGE {
                if cfg.reset == OffsetReset::Error {
                    shared.error(format!(
                        "{}:{}: OffsetOutOfRange at {}",
                        part.topic, part.bp, offsets[i]
                    ));
                    stalled[i] = true;
                    continue;
                }
                match reset_offset(&addr, &part.topic, part.bp.partition, cfg.reset) {
                    Ok(o) => {
                        offsets[i] = o;
                        part.consumed.store(o, Ordering::SeqCst);
                        lock(&shared.stats).resets += 1;
                        let _ = tx.send(Ev::Reset(part.clone(), o));
                    }
                    Err(e) => shared.error(format!("{}:{}: reset: {e}", part.topic, part.bp)),
                }
                continue;
            }
            if !f.error.is_ok() {
                shared.error(format!(
                    "{}:{}: broker answered {}",
                    part.topic, part.bp, f.error
                ));
                continue;
            }
            let (msgs, err) = deep_messages(f.message_set(), &mut scratch);
            let got = msgs.len();
            for (position, next, payload) in msgs {
                let item = Item {
                    part: part.clone(),
                    msg: GroupMessage {
                        topic: part.topic.clone(),
                        partition: part.bp,
                        offset: position,
                        next_offset: next,
                        payload,
                    },
                };
                if !queue.push(item, stop) {
                    return;
                }
                offsets[i] = next;
            }
            delivered += got;
            lock(&shared.stats).fetched += got as u64;
            if let Some(e) = err {
                match e.kind() {
                    ErrorKind::MessageLargerThanFetch { needed, .. } if got == 0 => {
                        if needed > u64::from(cfg.max_fetch_size) {
                            shared.error(format!(
                                "{}:{}: a message of {needed} bytes at {} exceeds the maximum fetch size",
                                part.topic, part.bp, offsets[i]
                            ));
                            stalled[i] = true;
                        } else {
                            sizes[i] = (needed as u32)
                                .max(sizes[i].saturating_mul(2))
                                .min(cfg.max_fetch_size);
                        }
                    }
                    _ if got > 0 => {} // the walk resumes from the last good message
                    _ => {
                        shared.error(format!(
                            "{}:{}: at offset {}: {e}",
                            part.topic, part.bp, offsets[i]
                        ));
                        stalled[i] = true;
                    }
                }
            }
        }
        if delivered == 0 && !nap(cfg.fetch_backoff, stop) {
            return;
        }
    }
}
