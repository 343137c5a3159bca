//! Request-level client: fetch, multifetch, offsets, produce, multiproduce.

use std::ops::ControlFlow;

use kafka07_proto::{
    ErrorCode, FetchRequest, FetchStream, MessageRepr, MessageSet, MultiFetchRequest,
    MultiProduceRequest, OffsetsRequest, Parts, ProduceRequest, Request, Response, StreamEvent,
    EARLIEST_TIME, LATEST_TIME,
};

use crate::brokers::BrokerList;
use crate::connection::{Connection, StreamSummary};
use crate::error::{Error, Result};

/// The time argument of an OFFSETS request (spec §6.7, §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OffsetTime {
    /// `-1`: the log end first, then segment starts, newest first.
    Latest,
    /// `-2`: the start of the oldest segment (one offset).
    Earliest,
    /// Milliseconds since the epoch: the newest segment whose file was last modified at or
    /// before this time, and every older one (segment granularity).
    Before(i64),
}

impl OffsetTime {
    /// The wire value.
    pub const fn to_wire(self) -> i64 {
        match self {
            OffsetTime::Latest => LATEST_TIME,
            OffsetTime::Earliest => EARLIEST_TIME,
            OffsetTime::Before(ms) => ms,
        }
    }

    /// `Before` the given system time.
    pub fn before(t: std::time::SystemTime) -> Self {
        let ms = t
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        OffsetTime::Before(ms)
    }
}

/// One FETCH of a MULTIFETCH (owned).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FetchSpec {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Byte offset to read from.
    pub offset: u64,
    /// Most message-set bytes to return.
    pub max_size: u32,
}

impl FetchSpec {
    /// A fetch spec.
    pub fn new(topic: impl Into<String>, partition: i32, offset: u64, max_size: u32) -> Self {
        FetchSpec {
            topic: topic.into(),
            partition,
            offset,
            max_size,
        }
    }
}

/// A fetched message set, owned: the raw bytes as the broker sent them (usually ending in a
/// cut message) with the offset they were fetched at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetched {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// The fetch offset (log offset of the first byte).
    pub offset: u64,
    /// The broker's error code for this fetch.
    pub error: ErrorCode,
    /// Raw message-set bytes.
    pub data: Vec<u8>,
}

impl Fetched {
    /// The bytes as a message set based at the fetch offset: iterate it shallow or deep.
    pub fn message_set(&self) -> MessageSet<'_> {
        MessageSet::new(&self.data, self.offset)
    }

    /// `Err(Error::Broker)` unless the code is 0.
    pub fn check(self) -> Result<Self> {
        if self.error.is_ok() {
            Ok(self)
        } else {
            Err(Error::Broker {
                code: self.error,
                topic: self.topic,
                partition: self.partition,
            })
        }
    }

    /// The payloads of every message, wrappers decompressed (deep iteration, CRCs verified).
    pub fn payloads(&self) -> Result<Vec<Vec<u8>>> {
        let mut scratch = vec![0u8; 64 * 1024];
        deep_payloads(self.message_set(), &mut scratch)
    }
}

fn deep_payloads(set: MessageSet<'_>, scratch: &mut Vec<u8>) -> Result<Vec<Vec<u8>>> {
    let (msgs, err) = deep_messages(set, scratch);
    match err {
        None => Ok(msgs.into_iter().map(|m| m.2).collect()),
        Some(e) => Err(e.into()),
    }
}

/// `(position, resume offset, payload)` per message, and the error that stopped the walk.
pub(crate) type DeepMessages = (Vec<(u64, u64, Vec<u8>)>, Option<kafka07_proto::Error>);

/// Every message of `set`, wrappers decompressed (CRCs verified), as `(position, resume
/// offset, payload)`, and the error that stopped the walk early, if any. `scratch` grows (up
/// to 256 MiB) when a wrapper needs more room.
pub(crate) fn deep_messages(set: MessageSet<'_>, scratch: &mut Vec<u8>) -> DeepMessages {
    loop {
        let mut out = Vec::new();
        let mut err = None;
        let opts = kafka07_proto::DecodeOptions::default().inflate(crate::INFLATE);
        for m in set.deep(scratch, opts) {
            match m {
                Ok(m) => out.push((m.position, m.offset, m.message.payload().to_vec())),
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        match err {
            None => return (out, None),
            Some(e) => match e.kind() {
                kafka07_proto::ErrorKind::ScratchExhausted { needed, .. }
                    if (needed as usize) < 256 * 1024 * 1024 && scratch.len() < needed as usize =>
                {
                    let n = (needed as usize).max(scratch.len() * 2);
                    scratch.resize(n, 0);
                }
                _ => return (out, Some(e)),
            },
        }
    }
}

/// Encodes `payloads` as a plain (uncompressed, magic 1) message set.
///
/// ```
/// let set = kafka07_io::encode_messages(&[&b"hello"[..]])?;
/// // Spec §12.3: entry "hello".
/// assert_eq!(set, [0, 0, 0, 0x0b, 1, 0, 0x36, 0x10, 0xa6, 0x86, b'h', b'e', b'l', b'l', b'o']);
/// # Ok::<(), kafka07_io::Error>(())
/// ```
pub fn encode_messages<P: AsRef<[u8]>>(payloads: &[P]) -> Result<Vec<u8>> {
    let reprs: Vec<MessageRepr<&[u8]>> = payloads
        .iter()
        .map(|p| MessageRepr::new(p.as_ref()))
        .collect();
    let mut out = vec![0u8; kafka07_proto::set_wire_len(&reprs)];
    kafka07_proto::emit_set(&reprs, &mut out)?;
    Ok(out)
}

/// A request-level client over a [`BrokerList`]: one connection at a time, made lazily.
///
/// FETCH, MULTIFETCH and OFFSETS are retried once on a new connection after a
/// connection-level error (as the reference `SimpleConsumer` does); PRODUCE and MULTIPRODUCE
/// are never retried, because their outcome is unknown once the connection failed.
///
/// ```
/// use kafka07_io::{Broker, BrokerConfig, Client, OffsetTime};
/// let broker = Broker::start(BrokerConfig::in_memory().visible_on_append(true))?;
/// let mut client = Client::connect(broker.local_addr())?;
/// client.produce("greetings", 0, &kafka07_io::encode_messages(&["hello", "there"])?)?;
/// client.confirm("greetings")?; // the broker has processed the produce
/// let fetched = client.fetch("greetings", 0, 0, 1024)?;
/// assert_eq!(fetched.payloads()?, [b"hello".to_vec(), b"there".to_vec()]);
/// assert_eq!(client.offsets("greetings", 0, OffsetTime::Latest, 10)?, [30, 0]);
/// # Ok::<(), kafka07_io::Error>(())
/// ```
#[derive(Debug)]
pub struct Client {
    brokers: BrokerList,
    conn: Option<Connection>,
}

impl Client {
    /// A client over `brokers`; connects on first use.
    pub fn new(brokers: impl Into<BrokerList>) -> Self {
        Client {
            brokers: brokers.into(),
            conn: None,
        }
    }

    /// A client for one broker, connected now.
    pub fn connect(addr: std::net::SocketAddr) -> Result<Self> {
        let mut c = Client::new(BrokerList::single(addr));
        c.connection()?;
        Ok(c)
    }

    /// The broker list.
    pub fn brokers(&self) -> &BrokerList {
        &self.brokers
    }

    /// The current connection, made (with failover and backoff) if there is none.
    pub fn connection(&mut self) -> Result<&mut Connection> {
        if self.conn.as_ref().is_some_and(|c| !c.is_usable()) {
            self.conn = None;
        }
        if self.conn.is_none() {
            self.conn = Some(self.brokers.connect()?);
        }
        Ok(self.conn.as_mut().expect("connection was just set"))
    }

    /// Drops the current connection (the next request reconnects).
    pub fn disconnect(&mut self) {
        self.conn = None;
    }

    /// Runs `f` on a connection; on a connection-level error, drops the connection, and if
    /// `retry` reconnects (moving to the next broker if this one is gone) and tries once more.
    pub(crate) fn with_conn<T>(
        &mut self,
        retry: bool,
        mut f: impl FnMut(&mut Connection) -> Result<T>,
    ) -> Result<T> {
        // Deferred PRODUCEs go out ahead of the request: if the connection fails then, a
        // retry would send only the request and lose them (and hide a rejection), so the
        // error is returned instead.
        let mut tries = if retry && self.pending_write_bytes() == 0 {
            2
        } else {
            1
        };
        loop {
            tries -= 1;
            let conn = self.connection()?;
            match f(conn) {
                Ok(v) => return Ok(v),
                Err(e) if e.is_connection_error() => {
                    self.conn = None;
                    if tries == 0 {
                        return Err(e);
                    }
                    // The broker may be gone: prefer the next one for the retry.
                    if matches!(e, Error::Closed { .. } | Error::Timeout { .. }) {
                        self.brokers.advance();
                    }
                }
                Err(e) => {
                    if self.conn.as_ref().is_some_and(|c| !c.is_usable()) {
                        self.conn = None;
                    }
                    return Err(e);
                }
            }
        }
    }

    /// FETCH: up to `max_size` bytes of `topic`/`partition` from `offset`. A non-zero error
    /// code is returned as [`Error::Broker`].
    pub fn fetch(
        &mut self,
        topic: &str,
        partition: i32,
        offset: u64,
        max_size: u32,
    ) -> Result<Fetched> {
        let req = FetchRequest::new(topic, partition, offset as i64, max_size as i32);
        self.with_conn(true, |c| match c.request(&Request::Fetch(req))? {
            Some(Response::Fetch(f)) => Ok(Fetched {
                topic: topic.to_owned(),
                partition,
                offset,
                error: f.error,
                data: f.messages.to_vec(),
            }),
            _ => Err(Error::UnexpectedResponse("not a FETCH response")),
        })?
        .check()
    }

    /// MULTIFETCH: one response part per spec, in order, each with its own error code (the
    /// parts are not checked: inspect [`Fetched::error`]).
    pub fn multifetch(&mut self, specs: &[FetchSpec]) -> Result<Vec<Fetched>> {
        let reqs: Vec<FetchRequest<'_>> = specs
            .iter()
            .map(|s| {
                FetchRequest::new(
                    s.topic.as_str(),
                    s.partition,
                    s.offset as i64,
                    s.max_size as i32,
                )
            })
            .collect();
        let req = Request::MultiFetch(MultiFetchRequest {
            parts: Parts::from_slice(&reqs),
        });
        self.with_conn(true, |c| match c.request(&req)? {
            Some(Response::MultiFetch(m)) => Ok(m
                .parts
                .iter()
                .zip(specs)
                .map(|(p, s)| Fetched {
                    topic: s.topic.clone(),
                    partition: s.partition,
                    offset: s.offset,
                    error: p.error,
                    data: p.messages.to_vec(),
                })
                .collect()),
            _ => Err(Error::UnexpectedResponse("not a MULTIFETCH response")),
        })
    }

    /// OFFSETS: up to `max` offsets, newest first (spec §7).
    pub fn offsets(
        &mut self,
        topic: &str,
        partition: i32,
        time: OffsetTime,
        max: u32,
    ) -> Result<Vec<u64>> {
        let req = Request::Offsets(OffsetsRequest::new(
            topic,
            partition,
            time.to_wire(),
            max.min(i32::MAX as u32) as i32,
        ));
        let resp = self.with_conn(true, |c| match c.request(&req)? {
            Some(Response::Offsets(o)) => {
                Ok((o.error, o.offsets.iter().map(|v| v.max(0) as u64).collect()))
            }
            _ => Err(Error::UnexpectedResponse("not an OFFSETS response")),
        })?;
        if resp.0.is_ok() {
            Ok(resp.1)
        } else {
            Err(Error::Broker {
                code: resp.0,
                topic: topic.to_owned(),
                partition,
            })
        }
    }

    /// PRODUCE an encoded message set (see [`encode_messages`] and the [`Producer`](crate::Producer)).
    ///
    /// **What `Ok` means.** 0.7 has no produce acknowledgement (spec §6.3, E24): `Ok` means the
    /// whole request was written to this host's socket buffer in one write. It does **not**
    /// mean that the broker received it, that it passed validation, or that it was stored or
    /// flushed. A broker that rejects a produce (bad CRC, invalid topic, partition out of range)
    /// closes the connection, which the *next* request on it reports as
    /// [`Error::Closed`]; a message set whose top-level payload exceeds the broker's
    /// `max.message.size` is dropped silently (E27). To learn that the broker has *processed*
    /// every earlier produce on this connection, call [`confirm`](Self::confirm). Produce is
    /// never retried.
    pub fn produce(&mut self, topic: &str, partition: i32, messages: &[u8]) -> Result<()> {
        let req = Request::Produce(ProduceRequest::new(topic, partition, messages));
        self.with_conn(false, |c| c.send(&req))
    }

    /// MULTIPRODUCE several items in one request; `Ok` means what it means for
    /// [`produce`](Self::produce). A broker processes the items in order and stops at the first
    /// it rejects (earlier items stay stored, E29).
    pub fn multiproduce(&mut self, items: &[ProduceRequest<'_>]) -> Result<()> {
        let req = Request::MultiProduce(MultiProduceRequest {
            parts: Parts::from_slice(items),
        });
        self.with_conn(false, |c| c.send(&req))
    }

    /// [`produce`](Self::produce), coalesced: the request goes into the connection's write
    /// buffer, which is written once it holds `coalesce_bytes` bytes (see
    /// [`Connection::send_deferred`]), or by the next request that gets a response, or by
    /// [`flush_writes`](Self::flush_writes). `Ok` means buffered or written; a write error
    /// is reported by the call that writes. Buffered requests are lost if the connection is
    /// dropped first ([`disconnect`](Self::disconnect), a failed request).
    pub fn produce_deferred(
        &mut self,
        topic: &str,
        partition: i32,
        messages: &[u8],
        coalesce_bytes: usize,
    ) -> Result<()> {
        let req = Request::Produce(ProduceRequest::new(topic, partition, messages));
        self.with_conn(false, |c| c.send_deferred(&req, coalesce_bytes))
    }

    /// [`multiproduce`](Self::multiproduce), coalesced as
    /// [`produce_deferred`](Self::produce_deferred) is.
    pub fn multiproduce_deferred(
        &mut self,
        items: &[ProduceRequest<'_>],
        coalesce_bytes: usize,
    ) -> Result<()> {
        let req = Request::MultiProduce(MultiProduceRequest {
            parts: Parts::from_slice(items),
        });
        self.with_conn(false, |c| c.send_deferred(&req, coalesce_bytes))
    }

    /// Writes the requests [`produce_deferred`](Self::produce_deferred) left buffered.
    pub fn flush_writes(&mut self) -> Result<()> {
        match self.conn.as_mut() {
            Some(c) if c.pending_write_bytes() > 0 => {
                let r = c.flush_writes();
                if !c.is_usable() {
                    self.conn = None;
                }
                r
            }
            _ => Ok(()),
        }
    }

    /// Bytes of coalesced requests not yet written (0 without a connection).
    pub fn pending_write_bytes(&self) -> usize {
        self.conn
            .as_ref()
            .map_or(0, Connection::pending_write_bytes)
    }

    /// A round trip that proves the broker has processed every earlier request on this
    /// connection: responses come back in request order (E44), so when the answer to this
    /// FETCH (partition 0 of `topic`, offset 0, max 0 bytes: nothing is read and nothing is
    /// created) arrives, each earlier produce was either appended or dropped for size. If the
    /// broker rejected one, the connection is closed and this returns [`Error::Closed`].
    ///
    /// It says nothing about flushing: a broker crash can still lose unflushed data.
    pub fn confirm(&mut self, topic: &str) -> Result<()> {
        let req = Request::Fetch(FetchRequest::new(topic, 0, 0, 0));
        self.with_conn(false, |c| match c.request(&req)? {
            Some(Response::Fetch(_)) => Ok(()),
            _ => Err(Error::UnexpectedResponse("not a FETCH response")),
        })
    }

    /// A streamed FETCH (see [`Connection::fetch_streaming`]); not retried, since `on_event`
    /// may already have seen messages when a connection fails.
    pub fn fetch_streaming<B, F>(
        &mut self,
        request: &FetchRequest<'_>,
        decoder: &mut FetchStream<B>,
        on_event: F,
    ) -> Result<StreamSummary>
    where
        B: AsRef<[u8]> + AsMut<[u8]>,
        F: FnMut(StreamEvent<'_>) -> Result<ControlFlow<()>>,
    {
        let conn = self.connection()?;
        let r = conn.fetch_streaming(request, decoder, on_event);
        if r.as_ref().is_err_and(Error::is_connection_error) || !conn.is_usable() {
            self.conn = None;
        }
        r
    }
}
