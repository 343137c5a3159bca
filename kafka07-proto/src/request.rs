//! The five 0.7 requests, parsed and emitted (spec §6.1–6.7).
//!
//! A request on the wire is `int32 size`, `int16 type id`, then the body; `size` counts the
//! type id and body. There are no correlation ids, client ids or versions in 0.7.

use core::fmt;

use crate::error::{Error, ErrorKind, Layer, Result};
use crate::message_set::MessageSet;
use crate::parts::{Part, Parts};
use crate::wire::{check_fits, Cursor, Writer, MAX_I32, MAX_SHORT};

/// OFFSETS time meaning "the latest offset" (the log end).
pub const LATEST_TIME: i64 = -1;
/// OFFSETS time meaning "the earliest offset" (start of the oldest segment).
pub const EARLIEST_TIME: i64 = -2;
/// PRODUCE partition meaning "let the broker choose one at random".
pub const RANDOM_PARTITION: i32 = -1;

/// Request type ids (spec §6.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i16)]
pub enum RequestType {
    /// PRODUCE (0): no response.
    Produce = 0,
    /// FETCH (1).
    Fetch = 1,
    /// MULTIFETCH (2).
    MultiFetch = 2,
    /// MULTIPRODUCE (3): no response.
    MultiProduce = 3,
    /// OFFSETS (4).
    Offsets = 4,
}

impl RequestType {
    /// The type for a wire id, if it is one of the five.
    pub const fn from_id(id: i16) -> Option<Self> {
        Some(match id {
            0 => RequestType::Produce,
            1 => RequestType::Fetch,
            2 => RequestType::MultiFetch,
            3 => RequestType::MultiProduce,
            4 => RequestType::Offsets,
            _ => return None,
        })
    }

    /// The wire id.
    pub const fn id(self) -> i16 {
        self as i16
    }

    /// Upper-case name as in the reference (`PRODUCE`, `FETCH`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            RequestType::Produce => "PRODUCE",
            RequestType::Fetch => "FETCH",
            RequestType::MultiFetch => "MULTIFETCH",
            RequestType::MultiProduce => "MULTIPRODUCE",
            RequestType::Offsets => "OFFSETS",
        }
    }

    /// Whether the broker answers this request (PRODUCE and MULTIPRODUCE get no response).
    pub const fn has_response(self) -> bool {
        !matches!(self, RequestType::Produce | RequestType::MultiProduce)
    }
}

impl fmt::Display for RequestType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A topic name as it is on the wire: `int16` length then bytes (UTF-8 by convention).
///
/// Interoperable names are ASCII (spec §1); any bytes are carried unchanged. A length of -1 is
/// a Java `null` string: the reference parses it, and its broker answers a FETCH for it with
/// error code -1 and closes the connection on PRODUCE/OFFSETS (spec E21), so it is kept
/// representable ([`Topic::NULL`], [`Topic::is_null`]) and re-encodes as -1.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Topic<'a> {
    bytes: &'a [u8],
    null: bool,
}

impl<'a> Topic<'a> {
    /// The null topic (length -1 on the wire).
    pub const NULL: Topic<'static> = Topic {
        bytes: &[],
        null: true,
    };

    /// A topic from raw bytes.
    pub const fn from_bytes(bytes: &'a [u8]) -> Self {
        Topic { bytes, null: false }
    }

    /// The raw bytes (empty for the null topic).
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// `true` for a Java null string (length -1).
    pub const fn is_null(&self) -> bool {
        self.null
    }

    /// The name as text, if it is UTF-8 (and not null).
    pub fn as_str(&self) -> Option<&'a str> {
        if self.null {
            return None;
        }
        core::str::from_utf8(self.bytes).ok()
    }

    fn wire_len(&self) -> usize {
        2 + self.bytes.len()
    }

    pub(crate) fn parse(c: &mut Cursor<'a>) -> Result<Self> {
        match c.short_string()? {
            Some(bytes) => Ok(Topic::from_bytes(bytes)),
            None => Ok(Topic {
                bytes: &[],
                null: true,
            }),
        }
    }

    fn emit(&self, w: &mut Writer<'_>) {
        if self.null {
            w.i16(-1);
        } else {
            w.short_string(self.bytes);
        }
    }
}

impl<'a> From<&'a str> for Topic<'a> {
    fn from(s: &'a str) -> Self {
        Topic::from_bytes(s.as_bytes())
    }
}

impl<'a> From<&'a [u8]> for Topic<'a> {
    fn from(b: &'a [u8]) -> Self {
        Topic::from_bytes(b)
    }
}

impl fmt::Display for Topic<'_> {
    /// UTF-8 names as they are; other bytes escaped as `\xNN`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.null {
            return f.write_str("<null>");
        }
        for chunk in self.bytes.utf8_chunks() {
            f.write_str(chunk.valid())?;
            for b in chunk.invalid() {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Topic<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.null {
            return f.write_str("null");
        }
        write!(f, "\"{self}\"")
    }
}

/// PRODUCE body (spec §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProduceRequest<'a> {
    /// Topic.
    pub topic: Topic<'a>,
    /// Broker-local partition; [`RANDOM_PARTITION`] (-1) lets the broker pick.
    pub partition: i32,
    /// The message set bytes, carried as they are (validated by whoever consumes them).
    pub messages: &'a [u8],
}

impl<'a> ProduceRequest<'a> {
    /// A produce request for an already-encoded message set.
    pub fn new(topic: impl Into<Topic<'a>>, partition: i32, messages: &'a [u8]) -> Self {
        ProduceRequest {
            topic: topic.into(),
            partition,
            messages,
        }
    }

    /// The message set, with base offset 0 (as the reference builds producer-side sets).
    pub fn message_set(&self) -> MessageSet<'a> {
        MessageSet::new(self.messages, 0)
    }

    fn check(&self) -> Result<()> {
        check_fits(self.topic.bytes.len(), MAX_SHORT)?;
        check_fits(self.messages.len(), MAX_I32)
    }
}

impl<'a> Part<'a> for ProduceRequest<'a> {
    fn parse_part(c: &mut Cursor<'a>) -> Result<Self> {
        let topic = Topic::parse(c)?;
        let partition = c.i32()?;
        let messages = c.sized_i32()?;
        Ok(ProduceRequest {
            topic,
            partition,
            messages,
        })
    }
    fn part_len(&self) -> usize {
        self.topic.wire_len() + 4 + 4 + self.messages.len()
    }
    fn emit_part(&self, w: &mut Writer<'_>) {
        self.topic.emit(w);
        w.i32(self.partition);
        w.i32(self.messages.len() as i32);
        w.put(self.messages);
    }
}

/// FETCH body (spec §6.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FetchRequest<'a> {
    /// Topic.
    pub topic: Topic<'a>,
    /// Partition.
    pub partition: i32,
    /// Byte offset to read from.
    pub offset: i64,
    /// Most message-set bytes to return.
    pub max_size: i32,
}

impl<'a> FetchRequest<'a> {
    /// A fetch request.
    pub fn new(topic: impl Into<Topic<'a>>, partition: i32, offset: i64, max_size: i32) -> Self {
        FetchRequest {
            topic: topic.into(),
            partition,
            offset,
            max_size,
        }
    }
}

impl<'a> Part<'a> for FetchRequest<'a> {
    fn parse_part(c: &mut Cursor<'a>) -> Result<Self> {
        Ok(FetchRequest {
            topic: Topic::parse(c)?,
            partition: c.i32()?,
            offset: c.i64()?,
            max_size: c.i32()?,
        })
    }
    fn part_len(&self) -> usize {
        self.topic.wire_len() + 4 + 8 + 4
    }
    fn emit_part(&self, w: &mut Writer<'_>) {
        self.topic.emit(w);
        w.i32(self.partition);
        w.i64(self.offset);
        w.i32(self.max_size);
    }
}

/// OFFSETS body (spec §6.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OffsetsRequest<'a> {
    /// Topic.
    pub topic: Topic<'a>,
    /// Partition.
    pub partition: i32,
    /// [`LATEST_TIME`], [`EARLIEST_TIME`], or milliseconds since the epoch.
    pub time: i64,
    /// Most offsets to return.
    pub max_offsets: i32,
}

impl<'a> OffsetsRequest<'a> {
    /// An offsets request.
    pub fn new(topic: impl Into<Topic<'a>>, partition: i32, time: i64, max_offsets: i32) -> Self {
        OffsetsRequest {
            topic: topic.into(),
            partition,
            time,
            max_offsets,
        }
    }
}

/// MULTIFETCH body: `int16 count`, then `count` FETCH bodies (spec §6.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MultiFetchRequest<'a> {
    /// The fetches, in order; the response has one part per fetch.
    pub parts: Parts<'a, FetchRequest<'a>>,
}

/// MULTIPRODUCE body: `int16 count`, then `count` PRODUCE bodies (spec §6.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MultiProduceRequest<'a> {
    /// The produce items, in order.
    pub parts: Parts<'a, ProduceRequest<'a>>,
}

/// Any 0.7 request.
///
/// ```
/// use kafka07_proto::{FetchRequest, Request};
/// // Spec §12.2 (the Go client's vector): FETCH "test"/0 offset 0 max 1 MiB.
/// let req = Request::Fetch(FetchRequest::new("test", 0, 0, 1_048_576));
/// let mut buf = [0u8; 28];
/// assert_eq!(req.emit(&mut buf)?, 28);
/// assert_eq!(&buf[..8], &[0, 0, 0, 0x18, 0, 1, 0, 4]);
/// let (back, used) = Request::decode(&buf)?;
/// assert_eq!((back, used), (req, 28));
/// # Ok::<(), kafka07_proto::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    /// PRODUCE.
    Produce(ProduceRequest<'a>),
    /// FETCH.
    Fetch(FetchRequest<'a>),
    /// MULTIFETCH.
    MultiFetch(MultiFetchRequest<'a>),
    /// MULTIPRODUCE.
    MultiProduce(MultiProduceRequest<'a>),
    /// OFFSETS.
    Offsets(OffsetsRequest<'a>),
}

impl<'a> Request<'a> {
    /// The request's type.
    pub fn request_type(&self) -> RequestType {
        match self {
            Request::Produce(_) => RequestType::Produce,
            Request::Fetch(_) => RequestType::Fetch,
            Request::MultiFetch(_) => RequestType::MultiFetch,
            Request::MultiProduce(_) => RequestType::MultiProduce,
            Request::Offsets(_) => RequestType::Offsets,
        }
    }

    /// What the response to this request looks like, or `None` for PRODUCE/MULTIPRODUCE.
    pub fn expect(&self) -> Option<crate::Expect> {
        match self {
            Request::Produce(_) | Request::MultiProduce(_) => None,
            Request::Fetch(_) => Some(crate::Expect::Fetch),
            Request::MultiFetch(m) => Some(crate::Expect::MultiFetch(m.parts.len() as u16)),
            Request::Offsets(_) => Some(crate::Expect::Offsets),
        }
    }

    /// Parses a body (type id onwards, after the frame's size), strictly: trailing bytes are
    /// an error. Error offsets are relative to `body`.
    pub fn parse(body: &'a [u8]) -> Result<Self> {
        let (req, used) = Self::parse_prefix(body)?;
        Cursor::new(&body[used..], used as u64, Layer::Request).finish()?;
        Ok(req)
    }

    /// Parses a body and returns the bytes it used; trailing bytes are left alone, as the
    /// reference broker ignores them (spec §6.1).
    pub fn parse_prefix(body: &'a [u8]) -> Result<(Self, usize)> {
        let mut c = Cursor::new(body, 0, Layer::Request);
        let id = c.i16()?;
        let req = match RequestType::from_id(id) {
            Some(RequestType::Produce) => Request::Produce(ProduceRequest::parse_part(&mut c)?),
            Some(RequestType::Fetch) => Request::Fetch(FetchRequest::parse_part(&mut c)?),
            Some(RequestType::MultiFetch) => {
                let n = c.count_i16()?;
                Request::MultiFetch(MultiFetchRequest {
                    parts: Parts::parse(&mut c, n.into(), Layer::Request)?,
                })
            }
            Some(RequestType::MultiProduce) => {
                let n = c.count_i16()?;
                Request::MultiProduce(MultiProduceRequest {
                    parts: Parts::parse(&mut c, n.into(), Layer::Request)?,
                })
            }
            Some(RequestType::Offsets) => Request::Offsets(OffsetsRequest {
                topic: Topic::parse(&mut c)?,
                partition: c.i32()?,
                time: c.i64()?,
                max_offsets: c.i32()?,
            }),
            None => {
                return Err(Error::new(
                    ErrorKind::UnknownRequestType(id),
                    Layer::Request,
                    0,
                ))
            }
        };
        Ok((req, c.pos()))
    }

    /// Parses one whole frame (`int32 size` included) from the start of `buf`, strictly;
    /// returns the request and the frame's length. Error offsets are relative to `buf`.
    pub fn decode(buf: &'a [u8]) -> Result<(Self, usize)> {
        match crate::frame(buf, crate::DEFAULT_MAX_FRAME)? {
            crate::Frame::Complete { body, consumed } => {
                Ok((Self::parse(body).map_err(|e| e.shifted(4))?, consumed))
            }
            crate::Frame::Partial { needed } => Err(Error::new(
                ErrorKind::Truncated {
                    needed: (buf.len() + needed) as u64,
                    available: buf.len() as u64,
                },
                Layer::Frame,
                0,
            )),
        }
    }

    fn body_len(&self) -> usize {
        2 + match self {
            Request::Produce(p) => p.part_len(),
            Request::Fetch(f) => f.part_len(),
            Request::MultiFetch(m) => 2 + m.parts.wire_len(),
            Request::MultiProduce(m) => 2 + m.parts.wire_len(),
            Request::Offsets(o) => o.topic.wire_len() + 4 + 8 + 4,
        }
    }

    /// Bytes [`emit`](Self::emit) writes, frame size included.
    pub fn wire_len(&self) -> usize {
        4 + self.body_len()
    }

    fn check(&self) -> Result<()> {
        match self {
            Request::Produce(p) => p.check()?,
            Request::Fetch(f) => check_fits(f.topic.bytes.len(), MAX_SHORT)?,
            Request::Offsets(o) => check_fits(o.topic.bytes.len(), MAX_SHORT)?,
            Request::MultiFetch(m) => {
                check_fits(m.parts.len(), MAX_SHORT)?;
                for p in m.parts.iter() {
                    check_fits(p.topic.bytes.len(), MAX_SHORT)?;
                }
            }
            Request::MultiProduce(m) => {
                check_fits(m.parts.len(), MAX_SHORT)?;
                for p in m.parts.iter() {
                    p.check()?;
                }
            }
        }
        check_fits(self.body_len(), MAX_I32)
    }

    /// Encodes the whole frame at the start of `out`; returns its length.
    ///
    /// Errors: `InsufficientSpace` naming the bytes needed; `ValueTooLarge` when a topic,
    /// count or message set does not fit its field.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize> {
        self.check()?;
        let body = self.body_len();
        let mut w = Writer::new(out, 4 + body)?;
        w.i32(body as i32);
        w.i16(self.request_type().id());
        match self {
            Request::Produce(p) => p.emit_part(&mut w),
            Request::Fetch(f) => f.emit_part(&mut w),
            Request::MultiFetch(m) => {
                w.i16(m.parts.len() as i16);
                m.parts.emit_parts(&mut w);
            }
            Request::MultiProduce(m) => {
                w.i16(m.parts.len() as i16);
                m.parts.emit_parts(&mut w);
            }
            Request::Offsets(o) => {
                o.topic.emit(&mut w);
                w.i32(o.partition);
                w.i64(o.time);
                w.i32(o.max_offsets);
            }
        }
        w.finish()
    }

    /// Encodes the whole frame into a new vector.
    #[cfg(feature = "alloc")]
    pub fn to_vec(&self) -> Result<alloc::vec::Vec<u8>> {
        let mut v = alloc::vec![0u8; self.wire_len()];
        self.emit(&mut v)?;
        Ok(v)
    }
}
