//! Batching producer with optional gzip/snappy compression.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka07_proto::{compress_set, Codec, MessageRepr, ProduceRequest, RANDOM_PARTITION};

use crate::brokers::BrokerList;
use crate::client::Client;
use crate::error::{Error, Result};

/// Chooses a partition for a message.
pub trait Partitioner: Send + Sync + fmt::Debug {
    /// The partition for a message of `topic` with an optional `key`; `-1` lets the broker
    /// pick one at random.
    fn partition(&self, topic: &str, key: Option<&[u8]>) -> i32;
}

/// Hashes the key (FNV-1a) onto `partitions` partitions; messages without a key go to
/// partition -1 (the broker picks one at random).
///
/// ```
/// use kafka07_io::{HashPartitioner, Partitioner};
/// let p = HashPartitioner { partitions: 4 };
/// let a = p.partition("t", Some(b"user-1"));
/// assert!((0..4).contains(&a));
/// assert_eq!(a, p.partition("t", Some(b"user-1")));
/// assert_eq!(p.partition("t", None), -1);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashPartitioner {
    /// Partitions of the topic on the broker.
    pub partitions: u32,
}

impl Partitioner for HashPartitioner {
    fn partition(&self, _topic: &str, key: Option<&[u8]>) -> i32 {
        let Some(key) = key else {
            return RANDOM_PARTITION;
        };
        let mut h: u32 = 0x811c_9dc5;
        for &b in key {
            h ^= u32::from(b);
            h = h.wrapping_mul(0x0100_0193);
        }
        (h % self.partitions.max(1)) as i32
    }
}

/// How [`Producer::send`] and [`Producer::send_keyed`] pick a partition.
#[derive(Clone, Debug, Default)]
pub enum Partitioning {
    /// Partition -1: the broker picks a random partition for each request item (the
    /// reference's static `broker.list` mode, spec §10.6).
    #[default]
    Random,
    /// Always this partition.
    Fixed(i32),
    /// A partitioner.
    Custom(Arc<dyn Partitioner>),
}

/// Producer settings.
///
/// ```
/// use kafka07_io::ProducerConfig;
/// use kafka07_io::proto::Codec;
/// let cfg = ProducerConfig::default().codec(Codec::Snappy).batch_messages(50);
/// assert_eq!((cfg.codec, cfg.batch_messages, cfg.max_message_size), (Codec::Snappy, 50, 1_000_000));
/// ```
#[derive(Clone, Debug)]
pub struct ProducerConfig {
    /// `compression.codec`: each run of consecutive messages for one topic/partition becomes
    /// one wrapper (several if one would exceed `max_message_size`).
    pub codec: Codec,
    /// `max.message.size`: largest top-level payload (compressed size for a wrapper), checked
    /// before sending as the reference producer does. Default 1,000,000.
    pub max_message_size: usize,
    /// Buffered messages that trigger a flush (reference `batch.size`: 200).
    pub batch_messages: usize,
    /// Buffered payload bytes that trigger a flush (default 1 MiB).
    pub batch_bytes: usize,
    /// Largest request sent; a flush is split into several requests above it (default
    /// 100 MiB, the broker's `max.socket.request.bytes`).
    pub max_request_bytes: usize,
    /// Partition choice for `send`/`send_keyed`.
    pub partitioning: Partitioning,
    /// Magic byte of the plain messages: 1 (default, 0.7's format, with an attributes byte)
    /// or 0 (the legacy format without attributes, which some old clients such as Perl's
    /// Kafka 0.12 consumer insist on). Magic 0 cannot carry a codec: with a codec the inner
    /// messages are magic 0 and each wrapper is magic 1.
    pub magic: u8,
    /// Write coalescing (0, the default: off). PRODUCE gets no response, so the requests of
    /// the flushes that `batch_messages`/`batch_bytes` trigger may be gathered in the
    /// connection's write buffer and written together once it holds this many bytes — or
    /// once [`linger`](Self::linger) has passed since the first of them (checked when the next
    /// batch is handed over), or on [`Producer::flush`], [`Producer::confirm`] or drop.
    /// Like the reference's async producer (`queue.time`, `batch.size`) without its thread.
    pub coalesce_bytes: usize,
    /// The longest a coalesced request waits for more (default 5 ms); see
    /// [`coalesce_bytes`](Self::coalesce_bytes).
    pub linger: Duration,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            codec: Codec::None,
            max_message_size: 1_000_000,
            batch_messages: 200,
            batch_bytes: 1 << 20,
            max_request_bytes: 104_857_600,
            partitioning: Partitioning::Random,
            magic: 1,
            coalesce_bytes: 0,
            linger: Duration::from_millis(5),
        }
    }
}

impl ProducerConfig {
    /// Sets the codec.
    #[must_use]
    pub fn codec(mut self, codec: Codec) -> Self {
        self.codec = codec;
        self
    }

    /// Sets `max.message.size`.
    #[must_use]
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Sets the message-count flush threshold (1 sends every message at once).
    #[must_use]
    pub fn batch_messages(mut self, n: usize) -> Self {
        self.batch_messages = n.max(1);
        self
    }

    /// Sets the byte flush threshold.
    #[must_use]
    pub fn batch_bytes(mut self, n: usize) -> Self {
        self.batch_bytes = n.max(1);
        self
    }

    /// Sets the partitioning.
    #[must_use]
    pub fn partitioning(mut self, p: Partitioning) -> Self {
        self.partitioning = p;
        self
    }

    /// Sets the magic byte of plain messages (0 or 1; anything else makes
    /// [`Producer::send_to`] return [`Error::Config`]).
    ///
    /// ```
    /// use kafka07_io::{Broker, BrokerConfig, Client, Producer, ProducerConfig};
    /// let broker = Broker::start(BrokerConfig::in_memory().visible_on_append(true))?;
    /// let mut p = Producer::new(broker.local_addr(), ProducerConfig::default().magic(0));
    /// p.send_to("legacy", 0, "old")?;
    /// p.confirm("legacy")?;
    /// let f = Client::connect(broker.local_addr())?.fetch("legacy", 0, 0, 4096)?;
    /// // A magic-0 entry: length 8, magic 0, CRC, payload (no attributes byte).
    /// assert_eq!((f.data.len(), f.data[4]), (12, 0));
    /// assert_eq!(f.payloads()?, [b"old".to_vec()]);
    /// # Ok::<(), kafka07_io::Error>(())
    /// ```
    #[must_use]
    pub fn magic(mut self, magic: u8) -> Self {
        self.magic = magic;
        self
    }

    /// Turns write coalescing on: up to `bytes` of requests per write, none waiting longer
    /// than `linger` for more (see [`coalesce_bytes`](Self::coalesce_bytes)); `bytes = 0`
    /// turns it off.
    ///
    /// ```
    /// use std::time::Duration;
    /// use kafka07_io::{Broker, BrokerConfig, Client, Producer, ProducerConfig};
    /// let broker = Broker::start(BrokerConfig::in_memory().visible_on_append(true))?;
    /// let cfg = ProducerConfig::default()
    ///     .batch_messages(1)
    ///     .coalesce(64 << 10, Duration::from_millis(5));
    /// let mut p = Producer::new(broker.local_addr(), cfg);
    /// for i in 0..100 {
    ///     p.send_to("t", 0, format!("m{i}"))?; // one PRODUCE each, written together
    /// }
    /// assert_eq!(p.stats().requests, 100);
    /// assert!(p.client().pending_write_bytes() > 0);
    /// p.confirm("t")?; // writes them, then waits for the broker
    /// let f = Client::connect(broker.local_addr())?.fetch("t", 0, 0, 1 << 20)?;
    /// assert_eq!(f.payloads()?.len(), 100);
    /// # Ok::<(), kafka07_io::Error>(())
    /// ```
    #[must_use]
    pub fn coalesce(mut self, bytes: usize, linger: Duration) -> Self {
        self.coalesce_bytes = bytes;
        self.linger = linger;
        self
    }
}

#[derive(Debug)]
struct Batch {
    topic: String,
    partition: i32,
    /// Encoded plain messages, back to back.
    set: Vec<u8>,
    /// End of each message in `set`.
    ends: Vec<usize>,
}

/// Counters of a producer. With write coalescing on, requests count when they are handed to
/// the connection: the last ones may still be in its write buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProducerStats {
    /// Messages written to the socket.
    pub messages: u64,
    /// Requests written.
    pub requests: u64,
    /// Request bytes written.
    pub bytes: u64,
}

/// A batching producer.
///
/// Messages are buffered per topic/partition in send order and written when
/// [`ProducerConfig::batch_messages`] or [`ProducerConfig::batch_bytes`] is reached, or on
/// [`flush`](Self::flush): one PRODUCE when one topic/partition is pending, otherwise one
/// MULTIPRODUCE (split by `max_request_bytes`). With a codec, each topic/partition's run
/// becomes a compressed wrapper (`kafka07_proto::compress_set`), split in halves until every
/// wrapper payload fits `max_message_size`.
///
/// Delivery: see [`Client::produce`] — a successful flush means the bytes were written, not
/// that the broker stored them; [`confirm`](Self::confirm) waits until the broker has
/// processed them. Nothing is retried: after an error the messages of the failed request are
/// in an unknown state and are not kept.
///
/// ```
/// use kafka07_io::{Broker, BrokerConfig, Client, Producer, ProducerConfig};
/// use kafka07_io::proto::Codec;
/// let broker = Broker::start(BrokerConfig::in_memory().visible_on_append(true))?;
/// let mut p = Producer::new(broker.local_addr(), ProducerConfig::default().codec(Codec::Snappy));
/// p.send_to("t", 0, "one")?;
/// p.send_to("t", 0, "two")?;
/// p.flush()?;
/// p.confirm("t")?;
/// let f = Client::connect(broker.local_addr())?.fetch("t", 0, 0, 4096)?;
/// assert_eq!(f.message_set().shallow().count(), 1); // one snappy wrapper
/// assert_eq!(f.payloads()?, [b"one".to_vec(), b"two".to_vec()]);
/// # Ok::<(), kafka07_io::Error>(())
/// ```
#[derive(Debug)]
pub struct Producer {
    client: Client,
    config: ProducerConfig,
    batches: Vec<Batch>,
    buffered_messages: usize,
    buffered_bytes: usize,
    stats: ProducerStats,
    /// When the oldest coalesced request still in the write buffer was handed over.
    lingering_since: Option<Instant>,
}

impl Drop for Producer {
    /// Writes coalesced requests still in the write buffer (best effort; batches not yet
    /// flushed are dropped, as without coalescing).
    fn drop(&mut self) {
        let _ = self.client.flush_writes();
    }
}

impl Producer {
    /// A producer over `brokers` (connects on first flush).
    pub fn new(brokers: impl Into<BrokerList>, config: ProducerConfig) -> Self {
        Self::with_client(Client::new(brokers), config)
    }

    /// A producer using an existing client.
    pub fn with_client(client: Client, config: ProducerConfig) -> Self {
        Producer {
            client,
            config,
            batches: Vec::new(),
            buffered_messages: 0,
            buffered_bytes: 0,
            stats: ProducerStats::default(),
            lingering_since: None,
        }
    }

    /// The client underneath.
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    /// Counters.
    pub fn stats(&self) -> ProducerStats {
        self.stats
    }

    /// Messages buffered and not yet written.
    pub fn buffered(&self) -> usize {
        self.buffered_messages
    }

    /// Buffers a message for `topic`, partitioned by [`ProducerConfig::partitioning`].
    pub fn send(&mut self, topic: &str, payload: impl AsRef<[u8]>) -> Result<()> {
        let partition = self.choose(topic, None);
        self.send_to(topic, partition, payload)
    }

    /// Buffers a message with a key (used by a [`Partitioning::Custom`] partitioner).
    pub fn send_keyed(&mut self, topic: &str, key: &[u8], payload: impl AsRef<[u8]>) -> Result<()> {
        let partition = self.choose(topic, Some(key));
        self.send_to(topic, partition, payload)
    }

    fn choose(&self, topic: &str, key: Option<&[u8]>) -> i32 {
        match &self.config.partitioning {
            Partitioning::Random => RANDOM_PARTITION,
            Partitioning::Fixed(p) => *p,
            Partitioning::Custom(p) => p.partition(topic, key),
        }
    }

    /// Buffers a message for `topic`/`partition` (-1: the broker picks).
    ///
    /// Uncompressed, a payload over `max_message_size` is refused here
    /// ([`Error::MessageTooLarge`]); compressed, the wrapper is checked at flush.
    pub fn send_to(
        &mut self,
        topic: &str,
        partition: i32,
        payload: impl AsRef<[u8]>,
    ) -> Result<()> {
        let payload = payload.as_ref();
        if self.config.codec == Codec::None && payload.len() > self.config.max_message_size {
            return Err(Error::MessageTooLarge {
                size: payload.len(),
                max: self.config.max_message_size,
            });
        }
        let repr = match self.config.magic {
            0 => MessageRepr::magic0(payload),
            1 => MessageRepr::new(payload),
            m => {
                return Err(Error::Config(format!(
                    "message magic {m}: a 0.7 message has magic 0 or 1"
                )))
            }
        };
        // Few topic/partitions are pending at once: a scan beats hashing an owned key.
        let idx = match self
            .batches
            .iter()
            .position(|b| b.partition == partition && b.topic == topic)
        {
            Some(i) => i,
            None => {
                self.batches.push(Batch {
                    topic: topic.to_owned(),
                    partition,
                    set: Vec::new(),
                    ends: Vec::new(),
                });
                self.batches.len() - 1
            }
        };
        let batch = &mut self.batches[idx];
        let at = batch.set.len();
        batch.set.resize(at + repr.wire_len(), 0);
        repr.emit(&mut batch.set[at..])?;
        batch.ends.push(batch.set.len());
        self.buffered_messages += 1;
        self.buffered_bytes += payload.len();
        if self.buffered_messages >= self.config.batch_messages
            || self.buffered_bytes >= self.config.batch_bytes
        {
            self.write_batches(self.config.coalesce_bytes > 0)?;
        }
        Ok(())
    }

    /// Takes every buffered message out, unsent: `(topic, partition, payloads)` per batch, in
    /// send order (for re-routing when this producer's broker has gone).
    #[cfg_attr(not(feature = "zookeeper"), allow(dead_code))]
    pub(crate) fn take_pending(&mut self) -> Vec<(String, i32, Vec<Vec<u8>>)> {
        self.buffered_messages = 0;
        self.buffered_bytes = 0;
        std::mem::take(&mut self.batches)
            .into_iter()
            .filter(|b| !b.ends.is_empty())
            .map(|b| {
                let payloads = kafka07_proto::MessageSet::new(&b.set, 0)
                    .shallow()
                    .filter_map(|m| m.ok().map(|m| m.message.payload().to_vec()))
                    .collect();
                (b.topic, b.partition, payloads)
            })
            .collect()
    }

    /// Writes everything buffered, coalesced requests included. `Ok` means written to the
    /// socket (see the type docs).
    pub fn flush(&mut self) -> Result<()> {
        self.write_batches(false)?;
        self.lingering_since = None;
        self.client.flush_writes()
    }

    /// Hands the buffered batches to the connection as PRODUCE/MULTIPRODUCE requests: written
    /// at once, or (`coalesce`) left in its write buffer up to `coalesce_bytes` and `linger`.
    fn write_batches(&mut self, coalesce: bool) -> Result<()> {
        if self.buffered_messages == 0 {
            return Ok(());
        }
        self.buffered_messages = 0;
        self.buffered_bytes = 0;
        let r = self.send_batches(coalesce);
        // Sent or not (after an error their state is unknown), the batches are emptied; their
        // buffers are kept for the next messages, unless many topic/partitions piled up.
        for b in &mut self.batches {
            b.set.clear();
            b.ends.clear();
        }
        if self.batches.len() > 64 {
            self.batches.clear();
        }
        r?;
        if coalesce {
            let now = Instant::now();
            let since = *self.lingering_since.get_or_insert(now);
            if self.client.pending_write_bytes() == 0 {
                self.lingering_since = None;
            } else if now.duration_since(since) >= self.config.linger {
                self.lingering_since = None;
                self.client.flush_writes()?;
            }
        }
        Ok(())
    }

    fn send_batches(&mut self, coalesce: bool) -> Result<()> {
        let coalesce_bytes = if coalesce {
            self.config.coalesce_bytes
        } else {
            0
        };
        // Encode every item first: a size error leaves nothing half sent.
        let mut wrapped: Vec<Vec<u8>> = Vec::new();
        if self.config.codec != Codec::None {
            for b in self.batches.iter().filter(|b| !b.ends.is_empty()) {
                let mut out = Vec::new();
                wrap_runs(
                    self.config.codec,
                    &b.set,
                    &b.ends,
                    0,
                    b.ends.len(),
                    self.config.max_message_size,
                    &mut out,
                )?;
                wrapped.push(out);
            }
        }
        let compressed = self.config.codec != Codec::None;
        let items: Vec<(&Batch, &[u8])> = self
            .batches
            .iter()
            .filter(|b| !b.ends.is_empty())
            .enumerate()
            .map(|(i, b)| {
                let set = if compressed {
                    wrapped[i].as_slice()
                } else {
                    b.set.as_slice()
                };
                (b, set)
            })
            .collect();
        let mut start = 0;
        while start < items.len() {
            // As many items as fit one request (at least one).
            let mut end = start;
            let mut size = 4 + 2 + 2;
            while end < items.len() && end - start < i16::MAX as usize {
                let (b, set) = items[end];
                let item = 2 + b.topic.len() + 4 + 4 + set.len();
                if end > start && size + item > self.config.max_request_bytes {
                    break;
                }
                size += item;
                end += 1;
            }
            let bytes: usize = items[start..end]
                .iter()
                .map(|(b, set)| 2 + b.topic.len() + 8 + set.len())
                .sum();
            if end - start == 1 {
                let (b, set) = items[start];
                self.client
                    .produce_deferred(&b.topic, b.partition, set, coalesce_bytes)?;
            } else {
                let reqs: Vec<ProduceRequest<'_>> = items[start..end]
                    .iter()
                    .map(|(b, set)| ProduceRequest::new(b.topic.as_str(), b.partition, set))
                    .collect();
                self.client.multiproduce_deferred(&reqs, coalesce_bytes)?;
            }
            self.stats.requests += 1;
            self.stats.bytes += bytes as u64 + 6;
            self.stats.messages += items[start..end]
                .iter()
                .map(|(b, _)| b.ends.len() as u64)
                .sum::<u64>();
            start = end;
        }
        Ok(())
    }

    /// Waits until the broker has processed everything written so far on this connection
    /// (see [`Client::confirm`]); flushes first.
    pub fn confirm(&mut self, topic: &str) -> Result<()> {
        self.flush()?;
        self.client.confirm(topic)
    }
}

/// Compresses messages `from..to` of a batch into wrapper entries appended to `out`, halving
/// the run until each wrapper's payload fits `max`.
fn wrap_runs(
    codec: Codec,
    set: &[u8],
    ends: &[usize],
    from: usize,
    to: usize,
    max: usize,
    out: &mut Vec<u8>,
) -> Result<()> {
    let start = if from == 0 { 0 } else { ends[from - 1] };
    let end = ends[to - 1];
    let payload = compress_set(codec, &set[start..end])?;
    if payload.len() > max {
        if to - from == 1 {
            return Err(Error::MessageTooLarge {
                size: payload.len(),
                max,
            });
        }
        let mid = from + (to - from) / 2;
        wrap_runs(codec, set, ends, from, mid, max, out)?;
        return wrap_runs(codec, set, ends, mid, to, max, out);
    }
    let wrapper = MessageRepr::with_codec(codec, payload.as_slice());
    let at = out.len();
    out.resize(at + wrapper.wire_len(), 0);
    wrapper.emit(&mut out[at..])?;
    Ok(())
}
