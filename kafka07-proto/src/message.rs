//! One Kafka 0.7 message: a borrowed [`MessageView`] for decoding and a [`MessageRepr`] for
//! encoding.
//!
//! Wire layout of an entry (spec §2.1), `N` = the length field:
//!
//! | magic | bytes after the 4-byte `N` |
//! |---|---|
//! | 0 | `magic(1) crc(4) payload(N-5)` |
//! | 1 | `magic(1) attributes(1) crc(4) payload(N-6)` |
//!
//! The CRC-32 (IEEE, as `java.util.zip.CRC32`) covers the payload only; magic and attributes
//! are not covered (spec §2.2).

use crate::error::{Error, ErrorKind, Layer, Result};
use crate::wire::{check_fits, Writer, MAX_I32};

/// Magic byte of the legacy (0.6) message format, still readable by 0.7.
pub const MAGIC_0: u8 = 0;
/// Magic byte written by every 0.7 producer.
pub const MAGIC_1: u8 = 1;
/// Size of the length prefix in front of every message.
pub const LENGTH_PREFIX: usize = 4;
/// Header bytes after the length prefix for magic 0: magic and CRC.
pub const HEADER_V0: usize = 5;
/// Header bytes after the length prefix for magic 1: magic, attributes and CRC.
pub const HEADER_V1: usize = 6;
/// Bits of the attributes byte that hold the compression codec.
pub const CODEC_MASK: u8 = 0x03;

/// The compression codec named by a message's attribute bits (spec §2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Codec {
    /// Uncompressed: the payload is application data.
    None = 0,
    /// The payload is a gzip stream holding a message set.
    Gzip = 1,
    /// The payload is xerial-framed (or raw) snappy holding a message set (0.7.1+).
    Snappy = 2,
}

impl Codec {
    /// The codec in the low two bits of `attributes`; `Err(3)` for the undefined value.
    pub const fn from_attributes(attributes: u8) -> core::result::Result<Codec, u8> {
        match attributes & CODEC_MASK {
            0 => Ok(Codec::None),
            1 => Ok(Codec::Gzip),
            2 => Ok(Codec::Snappy),
            other => Err(other),
        }
    }

    /// The codec's id, as written in the attribute bits.
    pub const fn id(self) -> u8 {
        self as u8
    }

    /// A lower-case name: `none`, `gzip` or `snappy`.
    pub const fn name(self) -> &'static str {
        match self {
            Codec::None => "none",
            Codec::Gzip => "gzip",
            Codec::Snappy => "snappy",
        }
    }
}

impl core::fmt::Display for Codec {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// The outcome of the CRC policy for one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CrcStatus {
    /// The stored CRC matched the payload.
    Valid,
    /// The CRC was not checked ([`CrcPolicy::Skip`](crate::CrcPolicy::Skip)).
    Unchecked,
    /// The stored CRC did not match; reported instead of failing
    /// ([`CrcPolicy::Report`](crate::CrcPolicy::Report)).
    Mismatch {
        /// CRC stored in the message.
        stored: u32,
        /// CRC computed over the payload.
        computed: u32,
    },
}

impl CrcStatus {
    /// `false` only for a detected mismatch.
    pub const fn is_ok(&self) -> bool {
        !matches!(self, CrcStatus::Mismatch { .. })
    }
}

/// CRC-32 of a payload, as stored in a message.
#[inline]
pub fn crc32(payload: &[u8]) -> u32 {
    crc32fast::hash(payload)
}

/// A CRC-32 hasher whose CPU-feature detection is done once, cloned for every message.
///
/// `crc32fast::hash` builds a new `Hasher` per call, and with the `std` feature that runs the
/// runtime CPU detection each time: about 40 instructions per call, a fifth of the whole cost
/// of a 100-byte payload (BENCHMARKS.md, "the small-buffer path"). Iterators keep one of these
/// and clone it instead; the result is identical.
#[derive(Clone, Debug)]
pub(crate) struct Crc(crc32fast::Hasher);

impl Crc {
    /// Runs the detection once.
    #[inline]
    pub(crate) fn new() -> Self {
        Crc(crc32fast::Hasher::new())
    }

    /// CRC-32 of `bytes` (equal to [`crc32`]).
    #[inline]
    pub(crate) fn hash(&self, bytes: &[u8]) -> u32 {
        let mut h = self.0.clone();
        h.update(bytes);
        h.finalize()
    }
}

/// A borrowed, validated view of one message entry, length prefix included.
///
/// After [`MessageView::new_checked`] succeeds no getter can panic, and [`payload`]
/// borrows from the input, not from the view.
///
/// ```
/// use kafka07_proto::{Codec, MessageView};
/// // Magic-1 "testing" from the Go client's test vectors (spec §12.2).
/// let entry = [0, 0, 0, 0x0d, 1, 0, 0xe8, 0xf3, 0x5a, 0x06, b't', b'e', b's', b't', b'i', b'n', b'g'];
/// let m = MessageView::new_checked(&entry)?;
/// assert_eq!((m.magic(), m.codec(), m.payload()), (1, Codec::None, &b"testing"[..]));
/// assert_eq!(m.stored_crc(), 0xe8f3_5a06);
/// assert!(m.crc_matches());
/// # Ok::<(), kafka07_proto::Error>(())
/// ```
///
/// [`payload`]: MessageView::payload
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MessageView<'a> {
    entry: &'a [u8],
}

impl<'a> MessageView<'a> {
    /// Validates the entry at the start of `buf` and returns a view of exactly `4 + N` bytes
    /// (bytes after it are ignored). Error offsets are relative to `buf`.
    ///
    /// Checks: the length prefix is present, `N >= 0`, the entry is complete, `N` holds the
    /// header for the message's magic, magic is 0 or 1, and the codec bits are not 3.
    pub fn new_checked(buf: &'a [u8]) -> Result<Self> {
        let err = |kind, at: usize| Error::new(kind, Layer::Message, at as u64);
        let Some(prefix) = buf.first_chunk::<4>() else {
            return Err(err(
                ErrorKind::Truncated {
                    needed: 4,
                    available: buf.len() as u64,
                },
                0,
            ));
        };
        let n = i32::from_be_bytes(*prefix);
        if n < 0 {
            return Err(err(ErrorKind::NegativeLength(n.into()), 0));
        }
        let total = LENGTH_PREFIX as u64 + n as u64;
        if total > buf.len() as u64 {
            return Err(err(
                ErrorKind::Truncated {
                    needed: total,
                    available: buf.len() as u64,
                },
                0,
            ));
        }
        Self::from_entry(&buf[..total as usize])
    }

    /// Validates the header of `entry`, which must be exactly `4 + N` bytes with `N` the
    /// (non-negative) length prefix, as the caller has already checked: magic 0 or 1, `N`
    /// holding the header, codec bits not 3. Same errors (kinds, offsets relative to `entry`)
    /// as [`new_checked`](Self::new_checked) for such an entry, in one match on the bytes.
    #[inline]
    pub(crate) fn from_entry(entry: &'a [u8]) -> Result<Self> {
        let err = |kind, at: usize| Err(Error::new(kind, Layer::Message, at as u64));
        let below = |minimum: usize| ErrorKind::LengthBelowHeader {
            length: entry.len().saturating_sub(LENGTH_PREFIX) as u32,
            minimum: minimum as u32,
        };
        match entry.get(LENGTH_PREFIX..).unwrap_or(&[]) {
            [MAGIC_0, _, _, _, _, ..] => Ok(MessageView { entry }),
            [MAGIC_1, attributes, _, _, _, _, ..] => match Codec::from_attributes(*attributes) {
                Ok(_) => Ok(MessageView { entry }),
                Err(c) => err(ErrorKind::UnknownCodec(c), LENGTH_PREFIX + 1),
            },
            [] | [MAGIC_0, ..] => err(below(HEADER_V0), 0),
            [MAGIC_1, ..] => err(below(HEADER_V1), 0),
            [other, ..] => err(ErrorKind::UnknownMagic(*other), LENGTH_PREFIX),
        }
    }

    /// A view of an entry the crate has already validated (with [`from_entry`] or
    /// [`new_checked`]); nothing is checked again.
    ///
    /// [`from_entry`]: Self::from_entry
    /// [`new_checked`]: Self::new_checked
    #[inline]
    pub(crate) const fn from_checked(entry: &'a [u8]) -> Self {
        MessageView { entry }
    }

    /// The stored CRC and the payload, split off the header in one match on the magic byte.
    #[inline]
    pub(crate) fn split(&self) -> (u32, &'a [u8]) {
        // Magic 0 has no attributes byte. One 4-byte load for the CRC.
        let crc_at = match self.entry.get(LENGTH_PREFIX) {
            Some(&MAGIC_0) => LENGTH_PREFIX + 1,
            _ => LENGTH_PREFIX + 2,
        };
        match self
            .entry
            .get(crc_at..)
            .and_then(<[u8]>::split_first_chunk::<4>)
        {
            Some((crc, payload)) => (u32::from_be_bytes(*crc), payload),
            // Excluded by validation: every view holds its header.
            None => (0, &[]),
        }
    }

    /// The whole entry, length prefix included (`4 + N` bytes).
    #[inline]
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.entry
    }

    /// Size on the wire: `4 + N`.
    #[inline]
    pub const fn wire_len(&self) -> usize {
        self.entry.len()
    }

    /// The length field `N`.
    #[inline]
    pub const fn len_field(&self) -> u32 {
        (self.entry.len() - LENGTH_PREFIX) as u32
    }

    /// The magic byte, 0 or 1.
    #[inline]
    pub fn magic(&self) -> u8 {
        self.entry[LENGTH_PREFIX]
    }

    /// Header bytes after the length prefix: 5 (magic 0) or 6 (magic 1).
    #[inline]
    pub fn header_len(&self) -> usize {
        if self.magic() == MAGIC_0 {
            HEADER_V0
        } else {
            HEADER_V1
        }
    }

    /// The attributes byte, all eight bits (0 for magic 0, which has none).
    #[inline]
    pub fn attributes(&self) -> u8 {
        if self.magic() == MAGIC_0 {
            0
        } else {
            self.entry[LENGTH_PREFIX + 1]
        }
    }

    /// The compression codec (always [`Codec::None`] for magic 0).
    #[inline]
    pub fn codec(&self) -> Codec {
        match Codec::from_attributes(self.attributes()) {
            Ok(c) => c,
            // Excluded by `new_checked`.
            Err(_) => Codec::None,
        }
    }

    /// `true` for a gzip or snappy wrapper.
    #[inline]
    pub fn is_compressed(&self) -> bool {
        self.codec() != Codec::None
    }

    /// The CRC stored in the message.
    #[inline]
    pub fn stored_crc(&self) -> u32 {
        self.split().0
    }

    /// The payload: application data, or compressed bytes for a wrapper.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        self.split().1
    }

    /// CRC-32 computed over the payload.
    #[inline]
    pub fn computed_crc(&self) -> u32 {
        crc32(self.payload())
    }

    /// Whether the stored CRC matches the payload.
    #[inline]
    pub fn crc_matches(&self) -> bool {
        self.stored_crc() == self.computed_crc()
    }

    /// [`CrcStatus::Valid`] or [`CrcStatus::Mismatch`].
    #[inline]
    pub fn check_crc(&self) -> CrcStatus {
        self.check_crc_with(&Crc::new())
    }

    /// [`check_crc`](Self::check_crc) with a hasher set up beforehand.
    #[inline]
    pub(crate) fn check_crc_with(&self, crc: &Crc) -> CrcStatus {
        let (stored, payload) = self.split();
        let computed = crc.hash(payload);
        if stored == computed {
            CrcStatus::Valid
        } else {
            CrcStatus::Mismatch { stored, computed }
        }
    }
}

/// An owned (or borrowed, with `P = &[u8]`) message that can be encoded.
///
/// Fields are public and kept exactly as decoded (including a wrong CRC and unused attribute
/// bits), so decode-then-emit reproduces the input bytes. The constructors compute the CRC.
///
/// ```
/// use kafka07_proto::MessageRepr;
/// let m = MessageRepr::new(&b"hello"[..]);
/// let mut buf = [0u8; 15];
/// assert_eq!(m.emit(&mut buf)?, 15);
/// // Spec §12.3: entry "hello".
/// assert_eq!(buf, [0, 0, 0, 0x0b, 1, 0, 0x36, 0x10, 0xa6, 0x86, b'h', b'e', b'l', b'l', b'o']);
/// # Ok::<(), kafka07_proto::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MessageRepr<P> {
    /// Magic byte: 0 or 1.
    pub magic: u8,
    /// Attributes byte (magic 1 only; ignored when encoding magic 0).
    pub attributes: u8,
    /// CRC-32 to write.
    pub crc: u32,
    /// Payload bytes.
    pub payload: P,
}

impl<P: AsRef<[u8]>> MessageRepr<P> {
    /// A magic-1, uncompressed message with its CRC computed.
    pub fn new(payload: P) -> Self {
        Self::with_codec(Codec::None, payload)
    }

    /// A magic-1 message whose payload is compressed with `codec` (the caller compressed it).
    pub fn with_codec(codec: Codec, payload: P) -> Self {
        MessageRepr {
            magic: MAGIC_1,
            attributes: codec.id(),
            crc: crc32(payload.as_ref()),
            payload,
        }
    }

    /// A legacy magic-0 message with its CRC computed.
    pub fn magic0(payload: P) -> Self {
        MessageRepr {
            magic: MAGIC_0,
            attributes: 0,
            crc: crc32(payload.as_ref()),
            payload,
        }
    }

    /// The codec named by the attributes (None for magic 0); `Err(3)` if undefined.
    pub fn codec(&self) -> core::result::Result<Codec, u8> {
        if self.magic == MAGIC_0 {
            Ok(Codec::None)
        } else {
            Codec::from_attributes(self.attributes)
        }
    }

    fn header_len(&self) -> usize {
        if self.magic == MAGIC_0 {
            HEADER_V0
        } else {
            HEADER_V1
        }
    }

    /// Bytes [`emit`](Self::emit) writes: `4 + header + payload`.
    pub fn wire_len(&self) -> usize {
        LENGTH_PREFIX + self.header_len() + self.payload.as_ref().len()
    }

    /// Encodes the entry (length prefix included) at the start of `out`; returns its length.
    ///
    /// Errors: `InsufficientSpace` naming the bytes needed; `UnknownMagic` for a magic other
    /// than 0/1; `ValueTooLarge` for a payload over 2 GiB.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize> {
        if self.magic > MAGIC_1 {
            return Err(Error::new(
                ErrorKind::UnknownMagic(self.magic),
                Layer::Emit,
                0,
            ));
        }
        let n = self.header_len() + self.payload.as_ref().len();
        check_fits(n, MAX_I32)?;
        let mut w = Writer::new(out, LENGTH_PREFIX + n)?;
        w.i32(n as i32);
        w.u8(self.magic);
        if self.magic == MAGIC_1 {
            w.u8(self.attributes);
        }
        w.u32(self.crc);
        w.put(self.payload.as_ref());
        w.finish()
    }

    /// The same message borrowing its payload.
    pub fn as_borrowed(&self) -> MessageRepr<&[u8]> {
        MessageRepr {
            magic: self.magic,
            attributes: self.attributes,
            crc: self.crc,
            payload: self.payload.as_ref(),
        }
    }

    /// Encodes into a new vector.
    #[cfg(feature = "alloc")]
    pub fn to_vec(&self) -> Result<alloc::vec::Vec<u8>> {
        let mut v = alloc::vec![0u8; self.wire_len()];
        self.emit(&mut v)?;
        Ok(v)
    }
}

impl<'a> MessageRepr<&'a [u8]> {
    /// Decodes the entry at the start of `buf`; returns the repr and the bytes it used.
    pub fn parse(buf: &'a [u8]) -> Result<(Self, usize)> {
        let view = MessageView::new_checked(buf)?;
        Ok((Self::from(view), view.wire_len()))
    }

    /// A copy that owns its payload.
    #[cfg(feature = "alloc")]
    pub fn into_owned(self) -> MessageRepr<alloc::vec::Vec<u8>> {
        MessageRepr {
            magic: self.magic,
            attributes: self.attributes,
            crc: self.crc,
            payload: self.payload.to_vec(),
        }
    }
}

impl<'a> From<MessageView<'a>> for MessageRepr<&'a [u8]> {
    fn from(v: MessageView<'a>) -> Self {
        MessageRepr {
            magic: v.magic(),
            attributes: v.attributes(),
            crc: v.stored_crc(),
            payload: v.payload(),
        }
    }
}
