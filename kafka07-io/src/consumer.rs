//! Streaming consumer of one partition.

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use kafka07_proto::{
    DecodeOptions, ErrorCode, ErrorKind, FetchRequest, FetchStream, MessageAndOffset, MessageSet,
    StreamEvent,
};

use crate::brokers::{Backoff, BrokerList};
use crate::client::{Client, OffsetTime};
use crate::error::{Error, Result};

/// Where a consumer starts when it has no position yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum StartAt {
    /// The start of the oldest segment (OFFSETS time -2).
    #[default]
    Earliest,
    /// The log end: only messages produced from now on (OFFSETS time -1).
    Latest,
    /// A byte offset (must be a message boundary, e.g. one a consumer returned before).
    Offset(u64),
    /// The newest segment last modified at or before this time (ms since the epoch), as the
    /// broker answers OFFSETS; the earliest offset when every segment is newer.
    Time(i64),
}

/// What to do when a fetch answers OffsetOutOfRange (code 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum OffsetReset {
    /// Jump to the earliest offset (reference `autooffset.reset=smallest`, its default).
    #[default]
    Earliest,
    /// Jump to the latest offset (`largest`).
    Latest,
    /// Return [`Error::Broker`] with code 1.
    Error,
}

/// Consumer settings.
///
/// ```
/// use kafka07_io::{ConsumerConfig, StartAt};
/// let cfg = ConsumerConfig::default().start(StartAt::Latest).fetch_size(300 * 1024);
/// assert_eq!((cfg.fetch_size, cfg.max_fetch_size), (307_200, 64 << 20));
/// ```
#[derive(Clone, Debug)]
pub struct ConsumerConfig {
    /// `fetch.size`: bytes asked for per fetch (default 1 MiB, the 0.7.1+ reference).
    pub fetch_size: u32,
    /// Largest fetch size the consumer grows to when a single message does not fit (0.7 never
    /// grows by itself; this consumer does instead of stalling). Default 64 MiB.
    pub max_fetch_size: u32,
    /// Where to start without a position.
    pub start: StartAt,
    /// Reaction to OffsetOutOfRange.
    pub on_out_of_range: OffsetReset,
    /// Waits between polls that found no data ([`Consumer::poll_timeout`]); default 10 ms
    /// doubling to 1 s (the reference's `fetcher.backoff.ms`).
    pub backoff: Backoff,
    /// Decoding options (CRC policy, nesting depth, inflate backend; default: the proto
    /// defaults with the zlib-rs inflate backend).
    pub decode: DecodeOptions,
    /// Most bytes one compressed wrapper may decompress to (default 64 MiB).
    pub max_decompressed: usize,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            fetch_size: 1 << 20,
            max_fetch_size: 64 << 20,
            start: StartAt::Earliest,
            on_out_of_range: OffsetReset::Earliest,
            backoff: Backoff::default(),
            decode: DecodeOptions::default().inflate(crate::INFLATE),
            max_decompressed: 64 << 20,
        }
    }
}

impl ConsumerConfig {
    /// Sets the fetch size.
    #[must_use]
    pub fn fetch_size(mut self, bytes: u32) -> Self {
        self.fetch_size = bytes.max(1);
        self
    }

    /// Sets the largest fetch size.
    #[must_use]
    pub fn max_fetch_size(mut self, bytes: u32) -> Self {
        self.max_fetch_size = bytes;
        self
    }

    /// Sets the start position.
    #[must_use]
    pub fn start(mut self, at: StartAt) -> Self {
        self.start = at;
        self
    }

    /// Sets the OffsetOutOfRange reaction.
    #[must_use]
    pub fn on_out_of_range(mut self, r: OffsetReset) -> Self {
        self.on_out_of_range = r;
        self
    }

    /// Sets the empty-poll backoff.
    #[must_use]
    pub fn backoff(mut self, b: Backoff) -> Self {
        self.backoff = b;
        self
    }
}

/// What one poll did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PollStats {
    /// Messages handed to the callback.
    pub messages: usize,
    /// Where the fetch started.
    pub fetch_offset: u64,
    /// The consumer's position afterwards (see [`Consumer::offset`]).
    pub offset: u64,
    /// The callback stopped early.
    pub stopped: bool,
    /// The position was reset after OffsetOutOfRange.
    pub reset: bool,
}

/// A message copied out of a poll (see [`Consumer::take`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumedMessage {
    /// The resume offset the reference attaches to the message (spec §5.2, §5.3).
    pub offset: u64,
    /// The payload.
    pub payload: Vec<u8>,
}

/// A consumer of one topic/partition.
///
/// Each [`poll`](Self::poll) sends one FETCH and decodes the response with
/// [`kafka07_proto::FetchStream`] *while it arrives*: every message is handed to the callback
/// as soon as its bytes are in, from a fixed read chunk plus an assembly buffer for messages
/// split across chunks (grown on demand), never the whole response. Compressed wrappers are
/// deep-iterated (one wrapper's content in scratch at a time) and their messages handed out
/// with the reference offsets.
///
/// **Position.** [`offset`](Self::offset) is the reference's *consumed offset* (spec §5.3,
/// §5.5): the offset attached to the last message handed out, or the end of the fetched data
/// once a poll ran to completion. Inside a compressed wrapper every message but the last
/// carries the wrapper's *start*; so a consumer that stops (or crashes) in the middle of a
/// wrapper and resumes from its saved offset gets the whole wrapper again — at-least-once,
/// duplicates confined to one wrapper, never a skipped message.
///
/// **Growth.** When a single message is larger than the fetch size
/// (`ErrorKind::MessageLargerThanFetch { needed }`), the fetch size grows to at least `needed`
/// (up to [`ConsumerConfig::max_fetch_size`]) and the fetch is repeated.
///
/// ```
/// use std::ops::ControlFlow;
/// use kafka07_io::{Broker, BrokerConfig, Client, Consumer, ConsumerConfig, StartAt};
/// let broker = Broker::start(BrokerConfig::in_memory().visible_on_append(true))?;
/// let mut client = Client::connect(broker.local_addr())?;
/// client.produce("t", 0, &kafka07_io::encode_messages(&["a", "b", "c"])?)?;
/// client.confirm("t")?;
/// let mut consumer = Consumer::new(broker.local_addr(), "t", 0, ConsumerConfig::default());
/// let mut seen = Vec::new();
/// consumer.poll(|m| { seen.push(m.offset); ControlFlow::Break(()) })?; // stop after one
/// assert_eq!((seen.clone(), consumer.offset()), (vec![11], Some(11)));
/// consumer.poll(|m| { seen.push(m.offset); ControlFlow::Continue(()) })?;
/// assert_eq!(seen, [11, 22, 33]);
/// // Resume elsewhere from a saved offset:
/// let mut again = Consumer::new(broker.local_addr(), "t", 0, ConsumerConfig::default().start(StartAt::Offset(22)));
/// assert_eq!(again.take(10, std::time::Duration::from_secs(5))?.len(), 1);
/// # Ok::<(), kafka07_io::Error>(())
/// ```
#[derive(Debug)]
pub struct Consumer {
    client: Client,
    topic: String,
    partition: i32,
    config: ConsumerConfig,
    offset: Option<u64>,
    fetch_size: u32,
    decoder: FetchStream<Vec<u8>>,
    scratch: Vec<u8>,
    idle_polls: u32,
}

const INITIAL_ASSEMBLY: usize = 64 * 1024;

impl Consumer {
    /// A consumer of `topic`/`partition` over `brokers` (connects on first poll).
    pub fn new(
        brokers: impl Into<BrokerList>,
        topic: &str,
        partition: i32,
        config: ConsumerConfig,
    ) -> Self {
        Self::with_client(Client::new(brokers), topic, partition, config)
    }

    /// A consumer using an existing client.
    pub fn with_client(
        client: Client,
        topic: &str,
        partition: i32,
        config: ConsumerConfig,
    ) -> Self {
        let decoder = Self::decoder(INITIAL_ASSEMBLY, &config);
        Consumer {
            client,
            topic: topic.to_owned(),
            partition,
            fetch_size: config.fetch_size,
            offset: match config.start {
                StartAt::Offset(o) => Some(o),
                _ => None,
            },
            config,
            decoder,
            scratch: Vec::new(),
            idle_polls: 0,
        }
    }

    fn decoder(capacity: usize, config: &ConsumerConfig) -> FetchStream<Vec<u8>> {
        FetchStream::with_options(
            vec![0; capacity],
            0,
            config.decode,
            kafka07_proto::DEFAULT_MAX_FRAME,
        )
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The partition.
    pub fn partition(&self) -> i32 {
        self.partition
    }

    /// The consumed offset to save and resume from (see the type docs); `None` before the
    /// start position was resolved.
    pub fn offset(&self) -> Option<u64> {
        self.offset
    }

    /// The fetch size in force (it grows when a message does not fit).
    pub fn fetch_size(&self) -> u32 {
        self.fetch_size
    }

    /// Moves the position to `offset` (a message boundary).
    pub fn seek(&mut self, offset: u64) {
        self.offset = Some(offset);
    }

    /// The client underneath.
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    /// One OFFSETS answer's first element.
    fn offset_at(&mut self, time: OffsetTime) -> Result<Option<u64>> {
        let v = self.client.offsets(&self.topic, self.partition, time, 1)?;
        Ok(v.first().copied())
    }

    fn resolve(&mut self, at: StartAt) -> Result<u64> {
        Ok(match at {
            StartAt::Offset(o) => o,
            StartAt::Earliest => self.offset_at(OffsetTime::Earliest)?.unwrap_or(0),
            StartAt::Latest => self.offset_at(OffsetTime::Latest)?.unwrap_or(0),
            StartAt::Time(ms) => match self.offset_at(OffsetTime::Before(ms))? {
                Some(o) => o,
                None => self.offset_at(OffsetTime::Earliest)?.unwrap_or(0),
            },
        })
    }

    /// The position, resolving the start position first if needed.
    pub fn position(&mut self) -> Result<u64> {
        match self.offset {
            Some(o) => Ok(o),
            None => {
                let o = self.resolve(self.config.start)?;
                self.offset = Some(o);
                Ok(o)
            }
        }
    }

    /// One fetch from the current position; `f` gets each message as it is decoded and may
    /// return `Break` to stop (the position is then that message's offset).
    pub fn poll<F>(&mut self, mut f: F) -> Result<PollStats>
    where
        F: FnMut(MessageAndOffset<'_>) -> ControlFlow<()>,
    {
        let mut stats = PollStats::default();
        let mut retried = false;
        loop {
            let offset = self.position()?;
            stats.fetch_offset = offset;
            let req = FetchRequest::new(
                self.topic.as_str(),
                self.partition,
                offset as i64,
                self.fetch_size.min(i32::MAX as u32) as i32,
            );
            let mut delivered = 0usize;
            let mut last: Option<u64> = None;
            let mut stopped = false;
            let Consumer {
                client,
                decoder,
                scratch,
                config,
                ..
            } = self;
            let opts = config.decode.max_decompressed(config.max_decompressed);
            let max_scratch = config.max_decompressed;
            let result = client.fetch_streaming(&req, decoder, |event| match event {
                StreamEvent::Header { error, .. } if !error.is_ok() => Ok(ControlFlow::Break(())),
                StreamEvent::Message(m) if !m.message.is_compressed() => {
                    delivered += 1;
                    last = Some(m.offset);
                    let flow = f(m);
                    stopped = flow.is_break();
                    Ok(flow)
                }
                StreamEvent::Message(m) => {
                    let flow = deliver_wrapper(
                        m,
                        scratch,
                        opts,
                        max_scratch,
                        &mut f,
                        &mut delivered,
                        &mut last,
                    )?;
                    stopped = flow.is_break();
                    Ok(flow)
                }
                _ => Ok(ControlFlow::Continue(())),
            });
            stats.messages += delivered;
            match result {
                Ok(summary) if !summary.error.is_ok() => {
                    if summary.error != ErrorCode::OFFSET_OUT_OF_RANGE
                        || self.config.on_out_of_range == OffsetReset::Error
                        || stats.reset
                    {
                        return Err(Error::Broker {
                            code: summary.error,
                            topic: self.topic.clone(),
                            partition: self.partition,
                        });
                    }
                    let to = match self.config.on_out_of_range {
                        OffsetReset::Latest => StartAt::Latest,
                        _ => StartAt::Earliest,
                    };
                    let o = self.resolve(to)?;
                    self.offset = Some(o);
                    stats.reset = true;
                    stats.offset = o;
                    return Ok(stats);
                }
                Ok(summary) => {
                    let end = offset + summary.valid_bytes;
                    let new = if stopped {
                        last.unwrap_or(offset)
                    } else {
                        end.max(last.unwrap_or(offset))
                    };
                    self.offset = Some(new);
                    stats.offset = new;
                    stats.stopped = stopped;
                    return Ok(stats);
                }
                Err(Error::Protocol(e)) => {
                    if let Some(l) = last {
                        self.offset = Some(l);
                    }
                    match e.kind() {
                        // The broker sent fewer bytes than the fetch size allowed, yet the
                        // first entry is cut: the log ends inside it (a mid-message offset or
                        // a torn log). A larger fetch cannot help; growing would loop forever.
                        ErrorKind::MessageLargerThanFetch { available, .. }
                            if available < u64::from(self.fetch_size) =>
                        {
                            return Err(Error::Protocol(e));
                        }
                        ErrorKind::MessageLargerThanFetch { needed, .. } if delivered == 0 => {
                            let max = u64::from(self.config.max_fetch_size);
                            if needed > max {
                                return Err(Error::FetchSizeExceeded { needed, max });
                            }
                            let grown = needed.max(u64::from(self.fetch_size) * 2).min(max);
                            self.fetch_size = grown as u32;
                        }
                        ErrorKind::MessageTooLarge { size, .. } => {
                            if size > u64::from(self.config.max_fetch_size) {
                                return Err(Error::FetchSizeExceeded {
                                    needed: size,
                                    max: u64::from(self.config.max_fetch_size),
                                });
                            }
                            self.decoder = Self::decoder(size as usize, &self.config);
                        }
                        _ => return Err(Error::Protocol(e)),
                    }
                    if delivered > 0 {
                        stats.offset = self.offset.unwrap_or(offset);
                        return Ok(stats);
                    }
                }
                Err(e) => {
                    if let Some(l) = last {
                        self.offset = Some(l);
                    }
                    // Like the reference SimpleConsumer: after a connection-level error,
                    // reconnect and try once more (only when nothing was handed out yet).
                    if e.is_connection_error() && delivered == 0 && !retried {
                        retried = true;
                        continue;
                    }
                    return Err(e);
                }
            }
        }
    }

    /// Polls until at least one message was handed out or `timeout` passed, waiting with the
    /// configured backoff after each poll that found nothing (`--follow` style). Returns the
    /// stats of the last poll (`messages == 0` on timeout).
    pub fn poll_timeout<F>(&mut self, timeout: Duration, mut f: F) -> Result<PollStats>
    where
        F: FnMut(MessageAndOffset<'_>) -> ControlFlow<()>,
    {
        let deadline = Instant::now() + timeout;
        loop {
            let stats = self.poll(&mut f)?;
            if stats.messages > 0 || stats.stopped {
                self.idle_polls = 0;
                return Ok(stats);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(stats);
            }
            let wait = self
                .config
                .backoff
                .delay(self.idle_polls)
                .min(deadline - now);
            self.idle_polls = self.idle_polls.saturating_add(1);
            std::thread::sleep(wait);
        }
    }

    /// Collects up to `max` messages (copied), polling until `max` arrived or `timeout`
    /// passed; the position ends right after the last message returned.
    pub fn take(&mut self, max: usize, timeout: Duration) -> Result<Vec<ConsumedMessage>> {
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        while out.len() < max {
            let left = deadline.saturating_duration_since(Instant::now());
            let stats = self.poll_timeout(left, |m| {
                out.push(ConsumedMessage {
                    offset: m.offset,
                    payload: m.message.payload().to_vec(),
                });
                if out.len() >= max {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })?;
            if stats.messages == 0 && Instant::now() >= deadline {
                break;
            }
        }
        Ok(out)
    }
}

/// Deep-iterates one wrapper entry and hands its messages out with the reference offsets (all
/// but the last carry the wrapper's start). The content is decoded completely before anything
/// is handed out, so running out of scratch (which grows and retries) never repeats a message.
fn deliver_wrapper<F>(
    m: MessageAndOffset<'_>,
    scratch: &mut Vec<u8>,
    opts: DecodeOptions,
    max_scratch: usize,
    f: &mut F,
    delivered: &mut usize,
    last: &mut Option<u64>,
) -> Result<ControlFlow<()>>
where
    F: FnMut(MessageAndOffset<'_>) -> ControlFlow<()>,
{
    if scratch.is_empty() {
        scratch.resize(64 * 1024, 0);
    }
    let set = MessageSet::new(m.message.as_bytes(), m.position);
    loop {
        let can_grow = scratch.len() < max_scratch;
        let grow = {
            let mut items = Vec::new();
            let mut err = None;
            for r in set.deep(scratch, opts) {
                match r {
                    Ok(x) => items.push(x),
                    Err(e) => {
                        err = Some(e);
                        break;
                    }
                }
            }
            match err.map(|e| (e, e.kind())) {
                Some((_, ErrorKind::ScratchExhausted { needed, .. })) if can_grow => needed,
                other => {
                    for it in items {
                        *delivered += 1;
                        *last = Some(it.offset);
                        if f(it).is_break() {
                            return Ok(ControlFlow::Break(()));
                        }
                    }
                    return match other {
                        Some((e, _)) => Err(Error::Protocol(e)),
                        None => Ok(ControlFlow::Continue(())),
                    };
                }
            }
        };
        let n = (grow as usize).max(scratch.len() * 2).min(max_scratch);
        scratch.resize(n, 0);
    }
}
