//! The crate's single error type: small, `Copy`, `'static`, and precise about what failed and where.

use core::fmt;

/// Which structure was being decoded or encoded when an error happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Layer {
    /// The `int32 size` framing around every request and response.
    Frame,
    /// A request body.
    Request,
    /// A response body.
    Response,
    /// A message set: the `[int32 N][N bytes]` entries.
    MessageSet,
    /// One message: magic, attributes, CRC, payload.
    Message,
    /// A gzip (RFC 1952) member inside a codec-1 wrapper.
    Gzip,
    /// The xerial snappy-java framing inside a codec-2 wrapper.
    Xerial,
    /// A raw snappy block.
    Snappy,
    /// Encoding into a caller's buffer.
    Emit,
    /// The streaming fetch-response decoder.
    Stream,
    /// Pairing responses with requests.
    Session,
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layer::Frame => "frame",
            Layer::Request => "request",
            Layer::Response => "response",
            Layer::MessageSet => "message set",
            Layer::Message => "message",
            Layer::Gzip => "gzip",
            Layer::Xerial => "xerial snappy framing",
            Layer::Snappy => "snappy block",
            Layer::Emit => "emit",
            Layer::Stream => "fetch stream",
            Layer::Session => "session",
        })
    }
}

/// What went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A field needs `needed` bytes but only `available` are left.
    Truncated {
        /// Bytes the field (or structure) needs from its start.
        needed: u64,
        /// Bytes actually present from that start.
        available: u64,
    },
    /// A length or count read from the wire is negative.
    NegativeLength(i64),
    /// A length read from the wire is larger than the configured limit.
    LengthExceedsLimit {
        /// The length found.
        length: u64,
        /// The limit in force.
        limit: u64,
    },
    /// A frame size of zero or less (the reference broker and client reject these).
    InvalidFrameSize(i32),
    /// A message length field smaller than the message header it must hold.
    LengthBelowHeader {
        /// The length field's value.
        length: u32,
        /// The header size for this message's magic (5 for magic 0, 6 for magic 1).
        minimum: u32,
    },
    /// The first entry of a message set is cut short: a single message larger than the fetch
    /// size (or log corruption). Fetch again with at least `needed` bytes.
    MessageLargerThanFetch {
        /// The full entry size (`4 + N`): the smallest fetch size that returns this message whole.
        needed: u64,
        /// Bytes of the entry that were present.
        available: u64,
    },
    /// A magic byte other than 0 or 1.
    UnknownMagic(u8),
    /// Compression codec bits with no codec (3).
    UnknownCodec(u8),
    /// The stored CRC-32 does not match the payload.
    CrcMismatch {
        /// CRC stored in the message.
        stored: u32,
        /// CRC computed over the payload.
        computed: u32,
    },
    /// A request type id other than 0..=4.
    UnknownRequestType(i16),
    /// Bytes left over after a complete, well-formed body (strict parsing only).
    TrailingBytes(u64),
    /// A value too large for its wire field when encoding (topic over 32767 bytes, more than
    /// 32767 parts, a message or set over 2 GiB).
    ValueTooLarge {
        /// The value's size.
        length: u64,
        /// The largest the field can carry.
        max: u64,
    },
    /// The caller's output buffer is too small.
    InsufficientSpace {
        /// Bytes the encoding needs.
        needed: u64,
        /// Bytes the buffer has.
        available: u64,
    },
    /// Decompression scratch space ran out.
    ScratchExhausted {
        /// Bytes the wrapper's content needs (as declared, or at least this many).
        needed: u64,
        /// Scratch bytes that were left.
        available: u64,
    },
    /// The configured maximum of decompressed bytes (per wrapper or in total) was reached.
    DecompressedLimit {
        /// The limit in force.
        limit: u64,
    },
    /// Compressed wrappers nested deeper than the configured maximum.
    NestingTooDeep {
        /// The maximum depth in force.
        limit: u8,
    },
    /// The payload of a gzip wrapper is not valid gzip.
    Gzip(crate::gzip::GzipErrorKind),
    /// The payload of a snappy wrapper is not valid (xerial-framed or raw) snappy.
    Snappy(crate::snappy::SnappyErrorKind),
    /// The caller's base offset plus a position in the set does not fit in 64 bits.
    OffsetOverflow {
        /// The base offset the set was given.
        base: u64,
    },
    /// A response arrived with no request waiting for one.
    UnexpectedResponse,
    /// More requests awaiting responses than the session can track.
    TooManyPending {
        /// The session's capacity.
        capacity: u32,
    },
    /// A single message is larger than the streaming decoder's buffer.
    MessageTooLarge {
        /// The entry's size (`4 + N`).
        size: u64,
        /// The decoder's buffer capacity.
        capacity: u64,
    },
    /// A compression codec that this build cannot encode (snappy needs the `snappy` feature).
    CodecUnavailable(u8),
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ErrorKind::Truncated { needed, available } => {
                write!(
                    f,
                    "truncated: needs {needed} bytes, only {available} present"
                )
            }
            ErrorKind::NegativeLength(n) => write!(f, "negative length or count {n}"),
            ErrorKind::LengthExceedsLimit { length, limit } => {
                write!(f, "length {length} exceeds the limit of {limit}")
            }
            ErrorKind::InvalidFrameSize(n) => write!(f, "invalid frame size {n} (must be > 0)"),
            ErrorKind::LengthBelowHeader { length, minimum } => write!(
                f,
                "message length {length} is smaller than its {minimum}-byte header"
            ),
            ErrorKind::MessageLargerThanFetch { needed, available } => write!(
                f,
                "first message is cut: it needs {needed} bytes but only {available} were \
                 received (a single message larger than the fetch size, or log corruption)"
            ),
            ErrorKind::UnknownMagic(m) => write!(f, "unknown magic byte {m}"),
            ErrorKind::UnknownCodec(c) => write!(f, "unknown compression codec {c}"),
            ErrorKind::CrcMismatch { stored, computed } => write!(
                f,
                "CRC mismatch: stored {stored:#010x}, computed {computed:#010x}"
            ),
            ErrorKind::UnknownRequestType(t) => write!(f, "unknown request type id {t}"),
            ErrorKind::TrailingBytes(n) => write!(f, "{n} unexpected trailing bytes"),
            ErrorKind::ValueTooLarge { length, max } => {
                write!(
                    f,
                    "value of size {length} does not fit its field (max {max})"
                )
            }
            ErrorKind::InsufficientSpace { needed, available } => write!(
                f,
                "insufficient space: needs {needed} bytes, buffer has {available}"
            ),
            ErrorKind::ScratchExhausted { needed, available } => write!(
                f,
                "decompression scratch exhausted: needs {needed} bytes, {available} left"
            ),
            ErrorKind::DecompressedLimit { limit } => {
                write!(f, "decompressed size exceeds the limit of {limit} bytes")
            }
            ErrorKind::NestingTooDeep { limit } => {
                write!(f, "compressed wrappers nested deeper than {limit}")
            }
            ErrorKind::Gzip(k) => write!(f, "{k}"),
            ErrorKind::Snappy(k) => write!(f, "{k}"),
            ErrorKind::OffsetOverflow { base } => write!(
                f,
                "offset overflow: base offset {base} plus the position exceeds 2^64-1"
            ),
            ErrorKind::UnexpectedResponse => f.write_str("response with no request pending"),
            ErrorKind::TooManyPending { capacity } => {
                write!(f, "more than {capacity} requests awaiting responses")
            }
            ErrorKind::MessageTooLarge { size, capacity } => write!(
                f,
                "message of {size} bytes exceeds the stream buffer of {capacity} bytes"
            ),
            ErrorKind::CodecUnavailable(c) => {
                write!(f, "codec {c} cannot be encoded by this build")
            }
        }
    }
}

/// A decoding or encoding error: what failed, in which layer, at which byte.
///
/// `offset` is the absolute byte position from the start of the input the caller handed in
/// (for nested compressed content: the position inside the decompressed bytes at `depth`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Error {
    kind: ErrorKind,
    layer: Layer,
    offset: u64,
    depth: u8,
}

impl Error {
    /// A new error of `kind` found in `layer` at byte `offset`.
    pub const fn new(kind: ErrorKind, layer: Layer, offset: u64) -> Self {
        Error {
            kind,
            layer,
            offset,
            depth: 0,
        }
    }

    /// What went wrong.
    pub const fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Which structure was being processed.
    pub const fn layer(&self) -> Layer {
        self.layer
    }

    /// Byte position of the problem (see the type's documentation).
    pub const fn offset(&self) -> u64 {
        self.offset
    }

    /// Nesting depth inside compressed wrappers (0 = top level).
    pub const fn depth(&self) -> u8 {
        self.depth
    }

    /// The same error with its offset moved forward by `by` bytes (when a sub-slice was parsed).
    #[must_use]
    pub const fn shifted(mut self, by: u64) -> Self {
        self.offset = self.offset.saturating_add(by);
        self
    }

    /// The same error tagged with a nesting depth.
    #[must_use]
    pub const fn at_depth(mut self, depth: u8) -> Self {
        self.depth = depth;
        self
    }

    /// The same error attributed to another layer.
    #[must_use]
    pub const fn in_layer(mut self, layer: Layer) -> Self {
        self.layer = layer;
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} at byte {}", self.layer, self.kind, self.offset)?;
        if self.depth > 0 {
            write!(f, " (inside compressed wrapper, depth {})", self.depth)?;
        }
        Ok(())
    }
}

impl core::error::Error for Error {}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;
