//! The discovering producer (spec §10.6, ZooKeeper mode; `producer/ZKBrokerPartitionInfo.scala`).

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::client::{SessionEvent, ZkClient, ZkConfig};
use super::layout::{default_partition, topic_path, BrokerInfo, BrokerPartition, BROKER_IDS};
use super::view::{note_problem, read_brokers, read_topic_counts};
use crate::error::{Error, Result};
use crate::producer::{Producer, ProducerConfig};

/// A partitioner function: `(key, partition count)` to an index.
pub type PartitionFn = dyn Fn(&[u8], usize) -> i64 + Send + Sync;

/// How a [`ZkProducer`] picks a partition for a keyed message.
#[derive(Clone, Default)]
pub enum ZkPartitioning {
    /// The reference `DefaultPartitioner`: `abs(key.hashCode) % n` over the key read as a
    /// Java string ([`default_partition`](super::default_partition)), E39 included.
    #[default]
    Reference,
    /// Your function of `(key, partition count)`; an index outside `0..count` is refused with
    /// [`Error::InvalidPartition`] as the reference does.
    Custom(Arc<PartitionFn>),
}

impl fmt::Debug for ZkPartitioning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ZkPartitioning::Reference => f.write_str("Reference"),
            ZkPartitioning::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

/// Counters of a [`ZkProducer`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ZkProducerStats {
    /// Messages handed to a broker's producer.
    pub messages: u64,
    /// Times the broker/partition view was read from ZooKeeper.
    pub refreshes: u64,
    /// Buffered messages moved from a vanished broker to a live one.
    pub rerouted: u64,
    /// Messages of requests that failed on a broker's connection (unknown fate: 0.7 has no
    /// acknowledgement).
    pub failed: u64,
}

#[derive(Debug)]
enum Ev {
    Brokers,
    Topic(String),
    Session(u64, SessionEvent),
}

/// A producer that finds brokers and partitions in ZooKeeper (the reference's `zk.connect`
/// mode) and keeps the view current with watches.
///
/// * For a topic, the candidates are `(broker, partition)` for every broker registered under
///   `/brokers/topics/<topic>` and alive in `/brokers/ids`, ordered numerically by broker id,
///   then partition. A topic no broker has yet goes to partition 0 of every live broker (the
///   broker creates it and registers its real partition count).
/// * A keyed message goes to the partitioner's index ([`ZkPartitioning`]), one without a key to
///   a uniformly random one. The chosen broker-local partition is sent explicitly (never -1).
/// * Batching and codecs are exactly the static [`Producer`]'s: one `Producer` per broker,
///   with the same [`ProducerConfig`].
/// * ZooKeeper is off the per-message path: watches set a flag, and the view is read again
///   only after a change. While ZooKeeper is unreachable the last view is kept (and re-read,
///   at most once a second, until it answers).
///
/// **What can be lost.** 0.7 has no produce acknowledgement. When a broker vanishes from
/// ZooKeeper, the messages still *buffered* for it are sent to live brokers (counted in
/// [`ZkProducerStats::rerouted`]). Messages already *written* to its socket, and those of a
/// request whose write failed, have an unknown fate: they are counted in
/// [`ZkProducerStats::failed`], and the error is returned, never retried (a retry could
/// duplicate them).
pub struct ZkProducer {
    zk: ZkClient,
    session: u64,
    config: ProducerConfig,
    partitioning: ZkPartitioning,
    tx: Sender<Ev>,
    rx: Receiver<Ev>,
    brokers: BTreeMap<u32, BrokerInfo>,
    /// Registered partition counts per topic, per broker (alive or not).
    registered: HashMap<String, BTreeMap<u32, u32>>,
    /// Candidate lists (live brokers only); a `BTreeMap`: for the few topics a producer
    /// writes, comparing names is cheaper than hashing one on every message.
    lists: BTreeMap<String, Vec<BrokerPartition>>,
    producers: BTreeMap<u32, Producer>,
    armed_brokers: bool,
    armed_topics: HashSet<String>,
    dirty_brokers: bool,
    dirty_topics: HashSet<String>,
    retry_at: Option<Instant>,
    expired: bool,
    problems: Vec<String>,
    stats: ZkProducerStats,
}

impl fmt::Debug for ZkProducer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZkProducer")
            .field("zk", &self.zk)
            .field("brokers", &self.brokers)
            .field("lists", &self.lists)
            .finish()
    }
}

impl ZkProducer {
    /// Connects to ZooKeeper and reads the live brokers.
    pub fn connect(zk: &ZkConfig, config: ProducerConfig) -> Result<ZkProducer> {
        let client = ZkClient::connect(zk)?;
        let (tx, rx) = channel();
        client.session_events(&tx, |e| Ev::Session(1, e));
        let mut p = ZkProducer {
            zk: client,
            session: 1,
            config,
            partitioning: ZkPartitioning::Reference,
            tx,
            rx,
            brokers: BTreeMap::new(),
            registered: HashMap::new(),
            lists: BTreeMap::new(),
            producers: BTreeMap::new(),
            armed_brokers: false,
            armed_topics: HashSet::new(),
            dirty_brokers: true,
            dirty_topics: HashSet::new(),
            retry_at: None,
            expired: false,
            problems: Vec::new(),
            stats: ZkProducerStats::default(),
        };
        p.refresh()?;
        Ok(p)
    }

    /// Sets the partitioner for keyed messages.
    #[must_use]
    pub fn partitioning(mut self, p: ZkPartitioning) -> Self {
        self.partitioning = p;
        self
    }

    /// Counters.
    pub fn stats(&self) -> ZkProducerStats {
        self.stats
    }

    /// The live brokers, by id.
    pub fn brokers(&self) -> &BTreeMap<u32, BrokerInfo> {
        &self.brokers
    }

    /// Malformed znodes met so far (path and what is wrong); each was skipped.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }

    /// The candidate `(broker, partition)` list of `topic` as it stands (read on first use).
    pub fn partitions(&mut self, topic: &str) -> Result<Vec<BrokerPartition>> {
        self.update();
        self.list(topic).map(<[BrokerPartition]>::to_vec)
    }

    /// Buffers a message without a key (a random partition).
    pub fn send(&mut self, topic: &str, payload: impl AsRef<[u8]>) -> Result<()> {
        self.send_inner(topic, None, payload.as_ref())
    }

    /// Buffers a keyed message (the partitioner picks the partition).
    pub fn send_keyed(&mut self, topic: &str, key: &[u8], payload: impl AsRef<[u8]>) -> Result<()> {
        self.send_inner(topic, Some(key), payload.as_ref())
    }

    fn send_inner(&mut self, topic: &str, key: Option<&[u8]>, payload: &[u8]) -> Result<()> {
        self.update();
        let bp = self.choose(topic, key)?;
        self.stats.messages += 1;
        self.send_to(topic, bp, payload)
    }

    fn choose(&mut self, topic: &str, key: Option<&[u8]>) -> Result<BrokerPartition> {
        // The message path: one lookup of a topic already known (no clone, no ZooKeeper).
        if let Some(list) = self.lists.get(topic).filter(|l| !l.is_empty()) {
            return pick(topic, list, key, &self.partitioning);
        }
        self.list(topic)?;
        match self.lists.get(topic) {
            Some(list) => pick(topic, list, key, &self.partitioning),
            None => Err(Error::NoBrokersForTopic {
                topic: topic.to_owned(),
            }),
        }
    }

    fn send_to(&mut self, topic: &str, bp: BrokerPartition, payload: &[u8]) -> Result<()> {
        let producer = match self.producers.entry(bp.broker) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(v) => {
                let Some(info) = self.brokers.get(&bp.broker) else {
                    return Err(Error::NoBrokersForTopic {
                        topic: topic.to_owned(),
                    });
                };
                v.insert(Producer::new(
                    crate::BrokerList::new([info.addr()]),
                    self.config.clone(),
                ))
            }
        };
        let before = producer.buffered();
        match producer.send_to(topic, bp.partition as i32, payload) {
            Ok(()) => Ok(()),
            Err(e) => {
                if e.is_connection_error() {
                    // The flush that failed took the whole buffer with it.
                    self.stats.failed += before as u64 + 1;
                    self.dirty_brokers = true;
                    self.producers.remove(&bp.broker);
                }
                Err(e)
            }
        }
    }

    /// Writes everything buffered, broker by broker. A broker whose write fails is reported
    /// (the first error is returned) after the others were flushed.
    pub fn flush(&mut self) -> Result<()> {
        self.update();
        let mut first = None;
        let ids: Vec<u32> = self.producers.keys().copied().collect();
        for id in ids {
            let Some(p) = self.producers.get_mut(&id) else {
                continue;
            };
            let n = p.buffered() as u64;
            if let Err(e) = p.flush() {
                if e.is_connection_error() {
                    self.stats.failed += n;
                    self.dirty_brokers = true;
                    self.producers.remove(&id);
                }
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// Flushes, then waits until every broker written to has processed what it was sent
    /// (a zero-size FETCH of `topic` on each connection, see [`Producer::confirm`]).
    pub fn confirm(&mut self, topic: &str) -> Result<()> {
        self.flush()?;
        for p in self.producers.values_mut() {
            p.confirm(topic)?;
        }
        Ok(())
    }

    /// Flushes and closes the ZooKeeper session (waiting, a few seconds at most, for the
    /// server to confirm it).
    pub fn close(mut self) -> Result<()> {
        let r = self.flush();
        self.zk.close();
        r
    }

    fn list(&mut self, topic: &str) -> Result<&[BrokerPartition]> {
        if !self.lists.contains_key(topic) {
            if let Err(e) = self.load_topic(topic) {
                self.retry_at = Some(Instant::now() + Duration::from_secs(1));
                // Without a view of this topic, bootstrap on the live brokers we know.
                if self.brokers.is_empty() {
                    return Err(e);
                }
                self.build_list(topic);
            }
        }
        match self.lists.get(topic) {
            Some(l) if !l.is_empty() => Ok(l),
            _ => Err(Error::NoBrokersForTopic {
                topic: topic.to_owned(),
            }),
        }
    }

    /// Takes the watch events that arrived and re-reads what they concern.
    fn update(&mut self) {
        while let Ok(ev) = self.rx.try_recv() {
            match ev {
                Ev::Brokers => {
                    self.armed_brokers = false;
                    self.dirty_brokers = true;
                }
                Ev::Topic(t) => {
                    self.armed_topics.remove(&t);
                    self.dirty_topics.insert(t);
                }
                Ev::Session(s, SessionEvent::Expired | SessionEvent::Closed)
                    if s == self.session =>
                {
                    self.expired = true;
                }
                Ev::Session(..) => {}
            }
        }
        let dirty = self.expired || self.dirty_brokers || !self.dirty_topics.is_empty();
        if !dirty || self.retry_at.is_some_and(|t| Instant::now() < t) {
            return;
        }
        if self.refresh().is_err() {
            self.retry_at = Some(Instant::now() + Duration::from_secs(1));
        } else {
            self.retry_at = None;
        }
    }

    /// Reads the broker list and every known topic again (keeping the old view on error).
    fn refresh(&mut self) -> Result<()> {
        if self.expired {
            let zk = ZkClient::connect(self.zk.config())?;
            self.session += 1;
            let s = self.session;
            zk.session_events(&self.tx, move |e| Ev::Session(s, e));
            self.zk = zk;
            self.expired = false;
            self.armed_brokers = false;
            self.armed_topics.clear();
            self.dirty_brokers = true;
            self.dirty_topics.extend(self.lists.keys().cloned());
        }
        self.stats.refreshes += 1;
        if self.dirty_brokers {
            let ids = if self.armed_brokers {
                self.zk.children(BROKER_IDS)?
            } else {
                let c = self.zk.children_watch(BROKER_IDS, &self.tx, Ev::Brokers)?;
                self.armed_brokers = true;
                c
            };
            let mut found = Vec::new();
            let brokers = read_brokers(&self.zk, ids, &mut |p| found.push(p))?;
            found
                .into_iter()
                .for_each(|p| note_problem(&mut self.problems, p));
            // Producers of vanished (or moved) brokers: re-route what they still buffer.
            let gone: Vec<u32> = self
                .producers
                .keys()
                .filter(|id| brokers.get(id) != self.brokers.get(id))
                .copied()
                .collect();
            self.brokers = brokers;
            self.dirty_brokers = false;
            let topics: Vec<String> = self.lists.keys().cloned().collect();
            for t in topics {
                self.build_list(&t);
            }
            for id in gone {
                if let Some(mut p) = self.producers.remove(&id) {
                    for (topic, _, payloads) in p.take_pending() {
                        for payload in payloads {
                            self.stats.rerouted += 1;
                            let bp = self.choose(&topic, None)?;
                            self.send_to(&topic, bp, &payload)?;
                        }
                    }
                }
            }
        }
        let topics: Vec<String> = self.dirty_topics.drain().collect();
        for t in topics {
            if let Err(e) = self.load_topic(&t) {
                self.dirty_topics.insert(t);
                return Err(e);
            }
        }
        Ok(())
    }

    fn load_topic(&mut self, topic: &str) -> Result<()> {
        let path = topic_path(topic);
        let children = if self.armed_topics.contains(topic) {
            self.zk.children(&path)?
        } else {
            let c = self
                .zk
                .children_watch(&path, &self.tx, Ev::Topic(topic.to_owned()))?;
            self.armed_topics.insert(topic.to_owned());
            c
        };
        let mut found = Vec::new();
        let counts = read_topic_counts(&self.zk, topic, children, &mut |p| found.push(p))?;
        found
            .into_iter()
            .for_each(|p| note_problem(&mut self.problems, p));
        self.registered.insert(topic.to_owned(), counts);
        self.build_list(topic);
        Ok(())
    }

    fn build_list(&mut self, topic: &str) {
        let mut list = Vec::new();
        if let Some(counts) = self.registered.get(topic) {
            for (&b, &n) in counts {
                if self.brokers.contains_key(&b) {
                    list.extend((0..n).map(|p| BrokerPartition {
                        broker: b,
                        partition: p,
                    }));
                }
            }
        }
        if list.is_empty() {
            // Bootstrap: partition 0 of every live broker (ZKBrokerPartitionInfo:139-152).
            list = self
                .brokers
                .keys()
                .map(|&b| BrokerPartition {
                    broker: b,
                    partition: 0,
                })
                .collect();
        }
        self.lists.insert(topic.to_owned(), list);
    }
}

/// The partitioner's choice among `list` (non-empty).
fn pick(
    topic: &str,
    list: &[BrokerPartition],
    key: Option<&[u8]>,
    partitioning: &ZkPartitioning,
) -> Result<BrokerPartition> {
    let n = list.len();
    let index = match (key, partitioning) {
        (None, _) => fastrand::usize(..n) as i64,
        (Some(k), ZkPartitioning::Reference) => default_partition(k, n),
        (Some(k), ZkPartitioning::Custom(f)) => f(k, n),
    };
    if index < 0 || index >= n as i64 {
        return Err(Error::InvalidPartition {
            topic: topic.to_owned(),
            index,
            count: n,
        });
    }
    Ok(list[index as usize])
}
