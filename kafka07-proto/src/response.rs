//! Responses to FETCH, MULTIFETCH and OFFSETS (spec §6.5–6.8).
//!
//! 0.7 responses carry no type and no correlation id: a response can only be parsed against
//! what its request expects ([`Expect`]); [`Session`](crate::Session) keeps that pairing.

use core::fmt;

use crate::error::{Error, ErrorKind, Layer, Result};
use crate::message_set::MessageSet;
use crate::parts::{Part, Parts};
use crate::wire::{check_fits, Cursor, Writer, MAX_I32, MAX_SHORT};

/// A 0.7 error code (`int16` on the wire), with the reference's names (spec §6.8).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ErrorCode(pub i16);

impl ErrorCode {
    /// -1: any exception without a mapping.
    pub const UNKNOWN: ErrorCode = ErrorCode(-1);
    /// 0: success.
    pub const NO_ERROR: ErrorCode = ErrorCode(0);
    /// 1: the offset is before the first segment or past the log end.
    pub const OFFSET_OUT_OF_RANGE: ErrorCode = ErrorCode(1);
    /// 2: a message failed its CRC (used client-side; the fetch path never checks CRCs).
    pub const INVALID_MESSAGE: ErrorCode = ErrorCode(2);
    /// 3: the partition does not exist on this broker.
    pub const WRONG_PARTITION: ErrorCode = ErrorCode(3);
    /// 4: a single message larger than the fetch size (used client-side).
    pub const INVALID_FETCH_SIZE: ErrorCode = ErrorCode(4);

    /// The full table: code, reference name, exception class, meaning.
    pub const TABLE: [(ErrorCode, &'static str, &'static str, &'static str); 6] = [
        (
            Self::UNKNOWN,
            "Unknown",
            "UnknownException",
            "unexpected server error (e.g. an invalid topic name)",
        ),
        (Self::NO_ERROR, "NoError", "", "no error"),
        (
            Self::OFFSET_OUT_OF_RANGE,
            "OffsetOutOfRange",
            "OffsetOutOfRangeException",
            "offset before the first segment or past the log end",
        ),
        (
            Self::INVALID_MESSAGE,
            "InvalidMessage",
            "InvalidMessageException",
            "a message failed its CRC check",
        ),
        (
            Self::WRONG_PARTITION,
            "WrongPartition",
            "InvalidPartitionException",
            "no such partition on this broker",
        ),
        (
            Self::INVALID_FETCH_SIZE,
            "InvalidFetchSize",
            "InvalidMessageSizeException",
            "a single message is larger than the fetch size",
        ),
    ];

    /// The reference's name (`NoError`, `OffsetOutOfRange`, ...); `None` for codes outside
    /// the table (the reference client treats those as `UnknownException`).
    pub fn name(self) -> Option<&'static str> {
        Self::TABLE
            .iter()
            .find(|(c, ..)| *c == self)
            .map(|(_, n, ..)| *n)
    }

    /// A short description of the code's meaning.
    pub fn description(self) -> &'static str {
        Self::TABLE
            .iter()
            .find(|(c, ..)| *c == self)
            .map_or("unmapped error code (treated as Unknown)", |(.., d)| *d)
    }

    /// `true` for code 0.
    pub const fn is_ok(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n} ({})", self.0),
            None => write!(f, "Unknown ({})", self.0),
        }
    }
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// What a pending request's response looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Expect {
    /// A FETCH response.
    Fetch,
    /// A MULTIFETCH response with this many parts (the request's count; the response has no
    /// count of its own).
    MultiFetch(u16),
    /// An OFFSETS response.
    Offsets,
}

/// FETCH response body: error code, then the raw message set (spec §6.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FetchResponse<'a> {
    /// The error code.
    pub error: ErrorCode,
    /// Raw message-set bytes (usually ending in a cut message).
    pub messages: &'a [u8],
}

impl<'a> FetchResponse<'a> {
    /// The message set, positioned at the fetch offset.
    pub fn message_set(&self, fetch_offset: u64) -> MessageSet<'a> {
        MessageSet::new(self.messages, fetch_offset)
    }

    fn parse_body(c: &mut Cursor<'a>) -> Result<Self> {
        let error = ErrorCode(c.i16()?);
        let messages = c.rest();
        c.take(messages.len())?;
        Ok(FetchResponse { error, messages })
    }
}

impl<'a> Part<'a> for FetchResponse<'a> {
    /// A MULTIFETCH part: `int32 size (2 + M)`, `int16 error`, `M` bytes.
    fn parse_part(c: &mut Cursor<'a>) -> Result<Self> {
        let at = *c;
        let size = c.i32()?;
        if size < 2 {
            return Err(at.err(if size < 0 {
                ErrorKind::NegativeLength(size.into())
            } else {
                ErrorKind::LengthBelowHeader {
                    length: size as u32,
                    minimum: 2,
                }
            }));
        }
        let body = c.take(size as usize)?;
        let mut inner = Cursor::new(body, at.abs() + 4, Layer::Response);
        Self::parse_body(&mut inner)
    }
    fn part_len(&self) -> usize {
        4 + 2 + self.messages.len()
    }
    fn emit_part(&self, w: &mut Writer<'_>) {
        w.i32(2 + self.messages.len() as i32);
        w.i16(self.error.0);
        w.put(self.messages);
    }
}

/// MULTIFETCH response body: an error code (always 0 from a 0.7 broker), then one part per
/// fetch of the request, in order (spec §6.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MultiFetchResponse<'a> {
    /// The top-level error code.
    pub error: ErrorCode,
    /// One part per fetch, in request order.
    pub parts: Parts<'a, FetchResponse<'a>>,
}

/// OFFSETS response body: error code (always 0 from a 0.7 broker), `int32 n`, `n` offsets,
/// newest first (spec §6.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OffsetsResponse<'a> {
    /// The error code.
    pub error: ErrorCode,
    /// The offsets, in descending order as the broker sends them.
    pub offsets: Parts<'a, i64>,
}

/// Any 0.7 response.
///
/// ```
/// use kafka07_proto::{ErrorCode, Expect, Response};
/// // Spec §12.3: FETCH error response, code 1.
/// let (resp, used) = Response::decode(&[0, 0, 0, 2, 0, 1], Expect::Fetch)?;
/// let Response::Fetch(f) = resp else { unreachable!() };
/// assert_eq!((f.error, f.messages.len(), used), (ErrorCode::OFFSET_OUT_OF_RANGE, 0, 6));
/// assert_eq!(f.error.to_string(), "OffsetOutOfRange (1)");
/// # Ok::<(), kafka07_proto::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Response<'a> {
    /// FETCH response.
    Fetch(FetchResponse<'a>),
    /// MULTIFETCH response.
    MultiFetch(MultiFetchResponse<'a>),
    /// OFFSETS response.
    Offsets(OffsetsResponse<'a>),
}

impl<'a> Response<'a> {
    /// Parses a body (after the frame's size) as `expect` says, strictly: a body shorter than
    /// the parts it must hold, or longer, is an error. Offsets are relative to `body`.
    pub fn parse(body: &'a [u8], expect: Expect) -> Result<Self> {
        let mut c = Cursor::new(body, 0, Layer::Response);
        let resp = match expect {
            Expect::Fetch => Response::Fetch(FetchResponse::parse_body(&mut c)?),
            Expect::MultiFetch(n) => {
                let error = ErrorCode(c.i16()?);
                let parts = Parts::parse(&mut c, n.into(), Layer::Response)?;
                Response::MultiFetch(MultiFetchResponse { error, parts })
            }
            Expect::Offsets => {
                let error = ErrorCode(c.i16()?);
                let at = c;
                let n = c.i32()?;
                if n < 0 {
                    return Err(at.err(ErrorKind::NegativeLength(n.into())));
                }
                let needed = n as u64 * 8;
                if needed > c.rest().len() as u64 {
                    return Err(c.err(ErrorKind::Truncated {
                        needed,
                        available: c.rest().len() as u64,
                    }));
                }
                let offsets = Parts::parse(&mut c, n as usize, Layer::Response)?;
                Response::Offsets(OffsetsResponse { error, offsets })
            }
        };
        c.finish()?;
        Ok(resp)
    }

    /// Parses one whole frame (`int32 size` included) from the start of `buf`; returns the
    /// response and the frame's length. Error offsets are relative to `buf`.
    pub fn decode(buf: &'a [u8], expect: Expect) -> Result<(Self, usize)> {
        match crate::frame(buf, crate::DEFAULT_MAX_FRAME)? {
            crate::Frame::Complete { body, consumed } => Ok((
                Self::parse(body, expect).map_err(|e| e.shifted(4))?,
                consumed,
            )),
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

    /// The top-level error code.
    pub fn error(&self) -> ErrorCode {
        match self {
            Response::Fetch(f) => f.error,
            Response::MultiFetch(m) => m.error,
            Response::Offsets(o) => o.error,
        }
    }

    /// What kind of response this is.
    pub fn expect(&self) -> Expect {
        match self {
            Response::Fetch(_) => Expect::Fetch,
            Response::MultiFetch(m) => Expect::MultiFetch(m.parts.len() as u16),
            Response::Offsets(_) => Expect::Offsets,
        }
    }

    fn body_len(&self) -> usize {
        2 + match self {
            Response::Fetch(f) => f.messages.len(),
            Response::MultiFetch(m) => m.parts.wire_len(),
            Response::Offsets(o) => 4 + o.offsets.wire_len(),
        }
    }

    /// Bytes [`emit`](Self::emit) writes, frame size included.
    pub fn wire_len(&self) -> usize {
        4 + self.body_len()
    }

    /// Encodes the whole frame at the start of `out`; returns its length.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize> {
        match self {
            Response::MultiFetch(m) => {
                check_fits(m.parts.len(), MAX_SHORT)?;
                for p in m.parts.iter() {
                    check_fits(p.messages.len() + 2, MAX_I32)?;
                }
            }
            Response::Offsets(o) => check_fits(o.offsets.len(), MAX_I32)?,
            Response::Fetch(_) => {}
        }
        let body = self.body_len();
        check_fits(body, MAX_I32)?;
        let mut w = Writer::new(out, 4 + body)?;
        w.i32(body as i32);
        w.i16(self.error().0);
        match self {
            Response::Fetch(f) => w.put(f.messages),
            Response::MultiFetch(m) => m.parts.emit_parts(&mut w),
            Response::Offsets(o) => {
                w.i32(o.offsets.len() as i32);
                o.offsets.emit_parts(&mut w);
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
