//! Request handling with the 0.7.2 reaction matrix (spec §6.9, E15–E31): which situations
//! are error codes in a response and which close the connection.

use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use kafka07_proto::{
    DecodeOptions, DeepCursor, ErrorCode, ErrorKind, FetchRequest, OffsetsRequest, OffsetsResponse,
    Parts, ProduceRequest, Request, Response, RANDOM_PARTITION,
};

use super::log::{Clock, ReadError};
use super::response::{DataRef, Plan};
use super::store::{fits_file_name, lock, validate_topic, CreateError, Store};
use super::Settings;

/// What the connection does after a request.
#[derive(Debug)]
pub(crate) enum Reaction {
    /// Write this response.
    Respond(Plan),
    /// Nothing to write (PRODUCE, MULTIPRODUCE, or an item dropped for size).
    Silent,
    /// Close the connection without answering; the reason is logged.
    Close(&'static str),
}

/// The scratch a request handler decompresses produce wrappers into: 64 KiB kept, anything
/// larger taken from the broker-wide [`Budget`] for one request and given back after it.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    buf: Vec<u8>,
    held: usize,
}

/// Scratch every handler keeps without asking the budget.
const BASE_SCRATCH: usize = 64 * 1024;

impl Scratch {
    /// Gives back what one request took beyond the base.
    pub(crate) fn trim(&mut self, budget: &Budget) {
        if self.held > 0 {
            self.buf = Vec::new();
            budget.release(self.held);
            self.held = 0;
        }
    }
}

/// Broker-wide bytes of decompression scratch beyond each handler's base
/// ([`BrokerConfig::max_decompressed_total`](super::BrokerConfig::max_decompressed_total)):
/// a handler that needs more gives back what it holds and then waits for the whole new size
/// at once, so no two handlers can hold part of it while waiting for the rest.
#[derive(Debug)]
pub(crate) struct Budget {
    total: usize,
    used: Mutex<usize>,
    freed: Condvar,
}

impl Budget {
    pub(crate) fn new(total: usize) -> Budget {
        Budget {
            total,
            used: Mutex::new(0),
            freed: Condvar::new(),
        }
    }

    /// Takes `n` bytes, waiting up to `wait` for them; `false` if they did not come.
    fn acquire(&self, n: usize, wait: Duration) -> bool {
        if n > self.total {
            return false;
        }
        let deadline = Instant::now() + wait;
        let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        while *used + n > self.total {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            used = self
                .freed
                .wait_timeout(used, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        *used += n;
        true
    }

    fn release(&self, n: usize) {
        let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        *used = used.saturating_sub(n);
        self.freed.notify_all();
    }

    /// Bytes taken now.
    #[cfg(test)]
    pub(crate) fn used(&self) -> usize {
        *self.used.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

pub(crate) struct Handler<'a> {
    pub store: &'a Store,
    pub settings: &'a Settings,
    pub budget: &'a Budget,
}

impl Handler<'_> {
    /// Handles one request body (type id onwards).
    pub(crate) fn handle(&self, body: &[u8], scratch: &mut Scratch) -> Reaction {
        let r = self.handle_inner(body, scratch);
        scratch.trim(self.budget);
        r
    }

    fn handle_inner(&self, body: &[u8], scratch: &mut Scratch) -> Reaction {
        // Trailing bytes after a well-formed body are ignored, as the reference does (§6.1);
        // anything that does not parse (short body, unknown type id, negative count or size,
        // null topic) closes the connection (§6.2, E26, E43).
        let Ok((request, _)) = Request::parse_prefix(body) else {
            return Reaction::Close("malformed request");
        };
        match request {
            Request::Produce(p) => match self.produce(&p, scratch) {
                Ok(()) => Reaction::Silent,
                Err(reason) => Reaction::Close(reason),
            },
            Request::MultiProduce(m) => {
                // In order; the first failing item closes the connection, earlier items stay
                // stored (E29); an item dropped for size does not stop the others (E27).
                for p in m.parts.iter() {
                    if let Err(reason) = self.produce(&p, scratch) {
                        return Reaction::Close(reason);
                    }
                }
                Reaction::Silent
            }
            Request::Fetch(f) => {
                if f.max_size < 0 {
                    return Reaction::Close("negative fetch size"); // E22
                }
                let (error, data) = self.read(&f);
                let mut plan = Plan::default();
                push_fetched(&mut plan, error, data);
                Reaction::Respond(plan)
            }
            Request::MultiFetch(m) => {
                if m.parts.iter().any(|f| f.max_size < 0) {
                    return Reaction::Close("negative fetch size"); // E22
                }
                // Every part's range first, nothing read: the total size is checked before
                // any data is touched, and the plan holds references only (about 40 bytes a
                // part, whatever the fetch sizes).
                let mut parts = Vec::with_capacity(m.parts.len());
                let mut body_len: u64 = 2;
                for f in m.parts.iter() {
                    let (error, data) = self.read(&f);
                    body_len += 6 + data.as_ref().map_or(0, |d| d.len);
                    parts.push((error, data));
                }
                if body_len > i32::MAX as u64 {
                    return Reaction::Close("response does not fit its fields");
                }
                let mut plan = Plan::default();
                let mut head = [0u8; 6];
                head[..4].copy_from_slice(&(body_len as i32).to_be_bytes());
                head[4..].copy_from_slice(&ErrorCode::NO_ERROR.0.to_be_bytes());
                plan.push_inline(&head);
                for (error, data) in parts {
                    push_fetched(&mut plan, error, data);
                }
                Reaction::Respond(plan)
            }
            Request::Offsets(o) => match self.offsets(&o) {
                Ok(offsets) => {
                    let resp = Response::Offsets(OffsetsResponse {
                        error: ErrorCode::NO_ERROR,
                        offsets: Parts::from_slice(&offsets),
                    });
                    let mut out = vec![0; resp.wire_len()];
                    match resp.emit(&mut out) {
                        Ok(n) => Reaction::Respond(Plan::inline(&out[..n])),
                        Err(_) => Reaction::Close("response does not fit its fields"),
                    }
                }
                Err(reason) => Reaction::Close(reason),
            },
        }
    }

    /// A topic name the 0.7.2 validator accepts and whose partition directories fit the
    /// file-name limit (for every partition of the topic, in memory too, so a name means the
    /// same on every broker).
    fn topic<'b>(&self, name: &'b [u8]) -> Result<&'b str, &'static str> {
        let s = self.settings;
        let topic =
            validate_topic(name, s.max_topic_name_length).map_err(|_| "invalid topic name")?;
        if !fits_file_name(topic, s.partitions(topic)) {
            return Err("topic name too long for its partition directories");
        }
        Ok(topic)
    }

    /// One PRODUCE (or MULTIPRODUCE item). `Err` closes the connection.
    fn produce(&self, p: &ProduceRequest<'_>, scratch: &mut Scratch) -> Result<(), &'static str> {
        let s = self.settings;
        let topic = self.topic(p.topic.as_bytes())?;
        let count = s.partitions(topic);
        // Partition -1: a random partition of this topic, before any validation (E25).
        let partition = if p.partition == RANDOM_PARTITION {
            fastrand::u32(0..count)
        } else if p.partition < 0 || p.partition as u32 >= count {
            return Err("partition out of range");
        } else {
            p.partition as u32
        };
        // The log is created before the messages are validated (E30).
        let log = match self.store.get_or_create(topic, partition) {
            Ok(log) => log,
            Err(CreateError::TooManyTopics(n)) => {
                ::log::warn!(
                    "produce to new topic {topic:?} refused: the broker holds {n} topics \
                     (max_topics)"
                );
                return Err("topic limit reached");
            }
            Err(CreateError::Io(e)) => {
                ::log::error!("cannot create the log of {topic}-{partition}: {e}");
                return Err("cannot create the log");
            }
        };
        let (valid, top, wrappers) = match self.shallow_check(p)? {
            Some(checked) => checked,
            None => return Ok(()),
        };
        // Deep pass, when there are wrappers: decompress them and verify every inner CRC;
        // count messages for the flush interval. Any error closes the connection (E12).
        // Without wrappers the shallow pass has checked everything there is to check.
        let messages = if wrappers {
            deep_count(
                &p.messages[..valid],
                scratch,
                s.max_decompressed,
                self.budget,
                s.request_timeout,
            )?
        } else {
            top
        };
        append(
            &log,
            topic,
            partition,
            &p.messages[..valid],
            messages,
            Clock::now(),
        )
    }

    /// The shallow pass over a PRODUCE's messages (the reference `verifyMessageSize`): CRC
    /// and framing of each top-level entry. `(valid bytes, top-level entries, any compressed
    /// wrapper)`, or `None` when a top-level payload over max.message.size drops the item
    /// silently (E27). The valid bytes leave out a partial trailing message (E28).
    fn shallow_check(
        &self,
        p: &ProduceRequest<'_>,
    ) -> Result<Option<(usize, u64, bool)>, &'static str> {
        let set = p.message_set();
        let mut shallow = set.shallow();
        let (mut top, mut wrappers) = (0u64, false);
        for m in &mut shallow {
            let m = m.map_err(|_| "invalid message set")?;
            if m.message.payload().len() > self.settings.max_message_size {
                return Ok(None);
            }
            top += 1;
            wrappers |= m.message.is_compressed();
        }
        Ok(Some((shallow.position(), top, wrappers)))
    }

    /// Handles `body` where it was read (the event loop), when it is a PRODUCE that only
    /// costs a parse, its CRCs and a copy: plain messages (no wrapper to decompress) into an
    /// existing in-memory log (no file to write, no fsync), a fixed partition, nothing over
    /// max.message.size. That is the success path of [`handle`](Self::handle) for such a
    /// request, with the same effect (`Err`: the log could not be written, the connection
    /// is closed). Anything else is `None` with nothing done, for a worker to handle with
    /// every check and log line it has.
    ///
    /// `cache` keeps the last log this connection produced to, with its topic and
    /// partition: a producer's requests all name the same partition, and a name and
    /// partition checked once stay valid (settings do not change, logs are never removed).
    pub(crate) fn produce_inline(
        &self,
        body: &[u8],
        cache: &mut Option<CachedLog>,
        now: Clock,
    ) -> Option<Result<(), &'static str>> {
        if !self.store.in_memory() {
            return None;
        }
        let Ok((Request::Produce(p), _)) = Request::parse_prefix(body) else {
            return None;
        };
        if p.partition < 0 {
            return None;
        }
        let hit = cache.as_ref().is_some_and(|c| {
            c.partition == p.partition && c.topic.as_bytes() == p.topic.as_bytes()
        });
        if !hit {
            let topic = self.topic(p.topic.as_bytes()).ok()?;
            if p.partition as u32 >= self.settings.partitions(topic) {
                return None;
            }
            let log = self.store.get(topic, p.partition as u32)?;
            *cache = Some(CachedLog {
                topic: topic.to_owned(),
                partition: p.partition,
                log,
            });
        }
        let c = cache.as_ref()?;
        let (valid, messages, false) = self.shallow_check(&p).ok()?? else {
            return None;
        };
        let appended = append(
            &c.log,
            &c.topic,
            c.partition as u32,
            &p.messages[..valid],
            messages,
            now,
        );
        Some(appended)
    }

    /// One FETCH (or MULTIFETCH part): the error code and the range to send (nothing read).
    fn read(&self, f: &FetchRequest<'_>) -> (ErrorCode, Option<DataRef>) {
        let s = self.settings;
        // Invalid topic name: code -1 (E20).
        let Ok(topic) = self.topic(f.topic.as_bytes()) else {
            return (ErrorCode::UNKNOWN, None);
        };
        // Partition out of the configured range (including -1): code 3 (E20).
        if f.partition < 0 || f.partition as u32 >= s.partitions(topic) {
            return (ErrorCode::WRONG_PARTITION, None);
        }
        // Unknown topic or partition log: empty set, code 0, nothing created (E19).
        let Some(log) = self.store.get(topic, f.partition as u32) else {
            return (ErrorCode::NO_ERROR, None);
        };
        let result = lock(&log).read_ref(f.offset, f.max_size as usize, &log);
        match result {
            Ok(data) => (ErrorCode::NO_ERROR, data),
            Err(ReadError::OutOfRange) => (ErrorCode::OFFSET_OUT_OF_RANGE, None),
            Err(ReadError::Io) => (ErrorCode::UNKNOWN, None),
        }
    }

    /// OFFSETS (spec §7). `Err` closes the connection.
    fn offsets(&self, o: &OffsetsRequest<'_>) -> Result<Vec<i64>, &'static str> {
        let s = self.settings;
        let topic = self.topic(o.topic.as_bytes())?;
        if o.partition < 0 || o.partition as u32 >= s.partitions(topic) {
            return Err("partition out of range");
        }
        match self.store.get(topic, o.partition as u32) {
            // No log: [0] for latest/earliest, [] otherwise, whatever the maximum; nothing is
            // created (spec §7).
            None => Ok(
                if o.time == kafka07_proto::LATEST_TIME || o.time == kafka07_proto::EARLIEST_TIME {
                    vec![0]
                } else {
                    Vec::new()
                },
            ),
            Some(log) => lock(&log)
                .offsets_before(o.time, o.max_offsets, super::log::now_ms())
                .ok_or("negative maximum number of offsets"), // E31
        }
    }
}

/// The log a connection produced to last ([`Handler::produce_inline`]).
pub(crate) struct CachedLog {
    topic: String,
    partition: i32,
    log: super::store::SharedLog,
}

/// Appends validated bytes; `Err` (the request refused, its connection closed) when the log
/// cannot be written.
fn append(
    log: &super::store::SharedLog,
    topic: &str,
    partition: u32,
    valid: &[u8],
    messages: u64,
    now: Clock,
) -> Result<(), &'static str> {
    lock(log).append_at(valid, messages, now).map_err(|e| {
        // ENOSPC and the like: nothing of this request stays in the log (the append cut
        // its partial bytes), earlier data stays readable, later appends are tried anew.
        ::log::error!(
            "cannot append {} bytes to {topic}-{partition}: {e}; the request is refused and \
             its connection closed",
            valid.len()
        );
        "cannot write the log"
    })
}

/// Deep-iterates `set` (CRCs verified, wrappers decompressed one top-level entry at a time)
/// and counts the messages. The scratch grows on demand up to `max`, taken from `budget`
/// (waiting up to `wait` for it).
fn deep_count(
    set: &[u8],
    scratch: &mut Scratch,
    max: usize,
    budget: &Budget,
    wait: Duration,
) -> Result<u64, &'static str> {
    if scratch.buf.len() < BASE_SCRATCH {
        scratch.buf.resize(BASE_SCRATCH, 0);
    }
    let opts = DecodeOptions::default()
        .max_decompressed(max)
        .inflate(crate::INFLATE);
    loop {
        match try_deep_count(set, &mut scratch.buf, opts) {
            Ok(n) => return Ok(n),
            Err(e) => match e.kind() {
                ErrorKind::ScratchExhausted { needed, .. } if scratch.buf.len() < max => {
                    let grow = (needed as usize).max(scratch.buf.len() * 2).min(max);
                    // Give back what is held, then take the whole new size at once.
                    scratch.trim(budget);
                    if !budget.acquire(grow - BASE_SCRATCH, wait) {
                        ::log::warn!(
                            "a produce needs {grow} bytes to decompress and the broker-wide \
                             decompression budget stayed exhausted for {wait:?}"
                        );
                        return Err("decompression budget exhausted");
                    }
                    scratch.held = grow - BASE_SCRATCH;
                    scratch.buf = vec![0; grow];
                }
                _ => return Err("invalid message set"),
            },
        }
    }
}

fn try_deep_count(
    set: &[u8],
    scratch: &mut [u8],
    opts: DecodeOptions,
) -> kafka07_proto::Result<u64> {
    let mut cursor = DeepCursor::new(kafka07_proto::MessageSet::new(set, 0), scratch, opts);
    let mut n = 0;
    while let Some(entry) = cursor.next_entry() {
        for m in entry? {
            m?;
            n += 1;
        }
    }
    Ok(n)
}

/// `size (2 + data) | error | data`: a FETCH response, and each part of a MULTIFETCH one.
/// `len` is at most the fetch's max size and never more than one segment holds.
fn push_fetched(plan: &mut Plan, error: ErrorCode, data: Option<DataRef>) {
    let len = data.as_ref().map_or(0, |d| d.len);
    let mut head = [0u8; 6];
    head[..4].copy_from_slice(&((2 + len) as i32).to_be_bytes());
    head[4..].copy_from_slice(&error.0.to_be_bytes());
    plan.push_inline(&head);
    if let Some(d) = data {
        plan.push_data(d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_is_all_or_nothing_and_waits_bounded() {
        let b = Budget::new(100);
        assert!(b.acquire(60, Duration::ZERO));
        // 50 more do not fit: not taken in part, and the wait ends.
        assert!(!b.acquire(50, Duration::from_millis(20)));
        assert_eq!(b.used(), 60);
        assert!(!b.acquire(101, Duration::from_secs(10)), "never fits");
        std::thread::scope(|s| {
            let waiter = s.spawn(|| b.acquire(50, Duration::from_secs(20)));
            std::thread::sleep(Duration::from_millis(20));
            b.release(60);
            assert!(waiter.join().unwrap());
        });
        assert_eq!(b.used(), 50);
    }
}
