//! The xerial snappy-java 1.0.4.1 stream framing used by Kafka 0.7 codec 2.
//!
//! `SnappyOutputStream` writes a 16-byte header — [`XERIAL_MAGIC`], an int32
//! big-endian version (1) and an int32 big-endian minimum compatible version
//! (1) — then, for every [`CHUNK_SIZE`]-byte piece of the input, an int32
//! big-endian compressed length followed by one raw Snappy block.
//!
//! `SnappyInputStream` (1.0.4.1) reads it back as follows, and so do
//! [`decompressed_len`] and [`decompress`]:
//!
//! * fewer than 16 bytes, or the 8-byte magic does not match: the whole payload
//!   is one raw Snappy block (compatibility fallback, [`Framing::Raw`]);
//! * otherwise, repeatedly: read a 4-byte chunk length; end of input at this
//!   point — even after 1 to 3 bytes — is a clean end; otherwise exactly that
//!   many bytes must follow and they decompress as one raw block.
//!
//! snappy-java throws when the header's version is below 1 and ignores the
//! compatible-version field. Here neither field is checked: both are reported
//! in [`Framing::Xerial`] so the caller can apply its own rule (see
//! [`XerialHeader::snappy_java_accepts`]).

use crate::snappy::{self, SnappyError, SnappyErrorKind};

/// The 8 magic bytes that open a snappy-java stream: byte `-126`, ASCII
/// `SNAPPY`, NUL.
pub const XERIAL_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];

/// Length of the xerial stream header: magic, version, compatible version.
pub const HEADER_LEN: usize = 16;

/// Uncompressed bytes per chunk written by `SnappyOutputStream` (and by `compress`, with
/// the `snappy` feature).
pub const CHUNK_SIZE: usize = 32 * 1024;

/// The version fields of a xerial stream header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct XerialHeader {
    /// Stream format version (int32 big-endian at bytes 8..12); 1 in practice.
    pub version: i32,
    /// Minimum compatible version (int32 big-endian at bytes 12..16); 1 in
    /// practice, ignored by snappy-java's reader.
    pub compat: i32,
}

impl XerialHeader {
    /// Whether snappy-java 1.0.4.1's `SnappyInputStream` would accept this
    /// header: it rejects `version < 1` and ignores `compat`.
    #[must_use]
    pub const fn snappy_java_accepts(&self) -> bool {
        self.version >= 1
    }
}

/// How a payload was framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Framing {
    /// xerial snappy-java stream with this header.
    Xerial(XerialHeader),
    /// No (valid) xerial header: the whole payload is one raw Snappy block.
    Raw,
}

/// Returns the header if `payload` is at least 16 bytes long and starts with
/// [`XERIAL_MAGIC`] exactly; `None` means snappy-java reads it as a raw block.
#[must_use]
pub fn detect(payload: &[u8]) -> Option<XerialHeader> {
    let header: &[u8; HEADER_LEN] = payload.get(..HEADER_LEN)?.try_into().ok()?;
    if header[..8] != XERIAL_MAGIC {
        return None;
    }
    Some(XerialHeader {
        version: i32::from_be_bytes([header[8], header[9], header[10], header[11]]),
        compat: i32::from_be_bytes([header[12], header[13], header[14], header[15]]),
    })
}

/// Iterates over the chunks of a xerial stream (after the header), yielding
/// `(position of the block in the payload, block)`.
struct Chunks<'a> {
    payload: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Chunks<'a> {
    type Item = Result<(usize, &'a [u8]), SnappyError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.payload.get(self.pos..)?;
        // Fewer than 4 bytes left (including none): clean end.
        let len_field: [u8; 4] = rest.get(..4)?.try_into().ok()?;
        let at = self.pos;
        let declared = i32::from_be_bytes(len_field);
        let Ok(declared) = usize::try_from(declared) else {
            self.pos = self.payload.len();
            return Some(Err(SnappyError {
                kind: SnappyErrorKind::NegativeChunkLength,
                offset: at,
            }));
        };
        let available = rest.len() - 4;
        if declared > available {
            self.pos = self.payload.len();
            return Some(Err(SnappyError {
                kind: SnappyErrorKind::ChunkTruncated {
                    declared,
                    available,
                },
                offset: at,
            }));
        }
        let block = &rest[4..4 + declared];
        self.pos = at + 4 + declared;
        Some(Ok((at + 4, block)))
    }
}

fn chunks(payload: &[u8]) -> Chunks<'_> {
    Chunks {
        payload,
        pos: HEADER_LEN,
    }
}

/// Total uncompressed size of a payload (xerial stream or raw block), read
/// from the blocks' varint preambles without decompressing anything, so the
/// caller can check its buffer and its size limit first.
///
/// # Errors
///
/// Framing errors ([`SnappyErrorKind::NegativeChunkLength`],
/// [`SnappyErrorKind::ChunkTruncated`]), a bad preamble
/// ([`SnappyErrorKind::BadVarint`], including an empty chunk), or
/// [`SnappyErrorKind::TotalTooLarge`]. Offsets are positions in `payload`.
pub fn decompressed_len(payload: &[u8]) -> Result<usize, SnappyError> {
    if detect(payload).is_none() {
        return snappy::decompressed_len(payload);
    }
    let mut total = 0usize;
    for chunk in chunks(payload) {
        let (at, block) = chunk?;
        let n = snappy::decompressed_len(block).map_err(|e| e.shifted(at))?;
        total = total.checked_add(n).ok_or(SnappyError {
            kind: SnappyErrorKind::TotalTooLarge,
            offset: at,
        })?;
    }
    Ok(total)
}

/// Decompresses a Kafka codec-2 payload into the front of `out`, following
/// snappy-java 1.0.4.1's reader (xerial stream, or the raw-block fallback).
///
/// Returns the number of bytes written and the framing found. The whole
/// stream's framing and preambles are checked, and the total compared with
/// `out.len()`, before anything is written.
///
/// # Errors
///
/// Everything [`decompressed_len`] reports, [`SnappyErrorKind::OutputTooSmall`]
/// (offset 0, `needed` = the total) when `out` is too short, and any block
/// error from [`snappy::decompress`]. Offsets are positions in `payload`.
/// Framing errors are found before anything is written; after a block error,
/// `out` may hold the output of the chunks before it.
pub fn decompress(payload: &[u8], out: &mut [u8]) -> Result<(usize, Framing), SnappyError> {
    let Some(header) = detect(payload) else {
        return snappy::decompress(payload, out).map(|n| (n, Framing::Raw));
    };
    let total = decompressed_len(payload)?;
    let Some(out) = out.get_mut(..total) else {
        return Err(SnappyError {
            kind: SnappyErrorKind::OutputTooSmall { needed: total },
            offset: 0,
        });
    };
    let mut written = 0usize;
    for chunk in chunks(payload) {
        let (at, block) = chunk?;
        let n = snappy::decompress(block, &mut out[written..]).map_err(|e| e.shifted(at))?;
        written += n;
    }
    Ok((written, Framing::Xerial(header)))
}

/// Compresses `input` as snappy-java's `SnappyOutputStream` does and appends
/// the stream to `out`: the 16-byte header (version 1, compatible version 1),
/// then one length-prefixed raw Snappy block per [`CHUNK_SIZE`] bytes of
/// input. Empty input yields the header alone.
#[cfg(feature = "snappy")]
pub fn compress(input: &[u8], out: &mut alloc::vec::Vec<u8>) {
    compress_with(&mut Compressor::new(), input, out);
}

/// The state [`compress_with`] reuses between calls: snap's encoder (its hash tables) and a
/// block scratch of `max_compress_len(CHUNK_SIZE)` bytes, zeroed once instead of per chunk.
#[cfg(feature = "snappy")]
pub(crate) struct Compressor {
    encoder: snap::raw::Encoder,
    scratch: alloc::vec::Vec<u8>,
}

#[cfg(feature = "snappy")]
impl Compressor {
    pub(crate) fn new() -> Self {
        Compressor {
            encoder: snap::raw::Encoder::new(),
            scratch: alloc::vec![0; snap::raw::max_compress_len(CHUNK_SIZE)],
        }
    }
}

#[cfg(feature = "snappy")]
impl core::fmt::Debug for Compressor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Compressor")
            .field("scratch", &self.scratch.len())
            .finish_non_exhaustive()
    }
}

/// [`compress`] with reused state: each block is compressed into the scratch and only its
/// compressed bytes are appended to `out`.
#[cfg(feature = "snappy")]
pub(crate) fn compress_with(c: &mut Compressor, input: &[u8], out: &mut alloc::vec::Vec<u8>) {
    out.reserve(HEADER_LEN + input.len() / 2 + 64);
    out.extend_from_slice(&XERIAL_MAGIC);
    out.extend_from_slice(&1i32.to_be_bytes());
    out.extend_from_slice(&1i32.to_be_bytes());
    for chunk in input.chunks(CHUNK_SIZE) {
        // Cannot fail: the chunk is far below snap's 4 GiB input limit and the scratch has
        // max_compress_len bytes of room.
        let n = c
            .encoder
            .compress(chunk, &mut c.scratch)
            .expect("snap: output sized with max_compress_len");
        // n <= max_compress_len(32 KiB) < 2^31.
        out.extend_from_slice(&(n as u32).to_be_bytes());
        out.extend_from_slice(&c.scratch[..n]);
    }
}
