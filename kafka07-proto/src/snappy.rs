//! Raw Snappy block decoder: `no_std`, no allocation, no `unsafe`.
//!
//! A Snappy block is a little-endian base-128 varint holding the uncompressed
//! length (at most 5 bytes, at most `u32::MAX`), followed by elements. The low
//! two bits of each element's tag byte select its kind:
//!
//! | tag & 3 | element | length | offset |
//! |---|---|---|---|
//! | `00` | literal | `(tag >> 2) + 1` if `tag >> 2 < 60`, else `1..=4` little-endian bytes after the tag hold `len - 1` | — |
//! | `01` | copy, 1-byte offset | `4 + ((tag >> 2) & 7)` | `(tag >> 5) << 8` plus the next byte |
//! | `10` | copy, 2-byte offset | `(tag >> 2) + 1` | next 2 bytes, little-endian |
//! | `11` | copy, 4-byte offset | `(tag >> 2) + 1` | next 4 bytes, little-endian |
//!
//! A copy repeats `len` bytes starting `offset` bytes back in the output; the
//! ranges may overlap (`offset < len`), which repeats a pattern.
//!
//! The decoder validates every element (it never panics and never reads or
//! writes out of bounds) and is written so that the common short elements are
//! handled with fixed-size 16-byte moves whenever there is enough room left in
//! the input and the output, which keeps it competitive with decoders that use
//! `unsafe` pointer copies.
//!
//! Acceptance follows the reference C++ implementation (which snappy-java
//! wraps), as does the `snap` crate from 1.1.2 on.

use core::fmt;

/// Why a Snappy block (or a xerial stream, see [`crate::xerial`]) could not be
/// decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SnappyErrorKind {
    /// The uncompressed-length preamble is missing, truncated, longer than
    /// 5 bytes or larger than `u32::MAX`.
    BadVarint,
    /// The output buffer is smaller than the declared uncompressed length;
    /// `needed` is that length. Nothing was written.
    OutputTooSmall {
        /// Bytes the output buffer must hold.
        needed: usize,
    },
    /// A literal (or its 1–4 length bytes) extends past the end of the input.
    LiteralOverrun,
    /// A copy tag's 1, 2 or 4 offset bytes extend past the end of the input.
    CopyTruncated,
    /// A copy has offset 0.
    CopyOffsetZero,
    /// A copy reaches back before the first byte produced so far.
    CopyOffsetTooFar {
        /// The copy's offset.
        copy_offset: usize,
        /// Bytes produced before this copy.
        produced: usize,
    },
    /// An element would write past the declared uncompressed length.
    OutputOverrun,
    /// The elements ended before producing the declared uncompressed length.
    LengthMismatch {
        /// The length declared by the preamble.
        declared: usize,
        /// The bytes the elements actually produced.
        produced: usize,
    },
    /// xerial: a chunk's length field promises more bytes than remain in the
    /// payload (snappy-java: "failed to read chunk").
    ChunkTruncated {
        /// The chunk length from the 4-byte length field.
        declared: usize,
        /// Bytes left in the payload after the length field.
        available: usize,
    },
    /// xerial: a chunk's 4-byte big-endian length field is negative.
    NegativeChunkLength,
    /// xerial: the chunks' uncompressed lengths add up to more than `usize::MAX`.
    TotalTooLarge,
}

/// A decoding error: what went wrong and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SnappyError {
    /// What went wrong.
    pub kind: SnappyErrorKind,
    /// Byte position in the input (the raw block for [`decompress`], the whole
    /// payload for [`crate::xerial::decompress`]) where the problem was found:
    /// the offending tag byte for element errors, the offending varint byte
    /// for [`SnappyErrorKind::BadVarint`], the block start for
    /// [`SnappyErrorKind::OutputTooSmall`], and the end of the block for
    /// [`SnappyErrorKind::LengthMismatch`].
    pub offset: usize,
}

impl SnappyError {
    #[inline]
    const fn new(kind: SnappyErrorKind, offset: usize) -> Self {
        SnappyError { kind, offset }
    }

    /// The same error with its offset moved by `base` bytes (used when a block
    /// sits inside a larger payload). Saturates instead of overflowing.
    #[must_use]
    pub const fn shifted(self, base: usize) -> Self {
        SnappyError {
            kind: self.kind,
            offset: self.offset.saturating_add(base),
        }
    }
}

impl fmt::Display for SnappyErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            SnappyErrorKind::BadVarint => f.write_str(
                "bad uncompressed-length varint (truncated, over 5 bytes or over u32::MAX)",
            ),
            SnappyErrorKind::OutputTooSmall { needed } => {
                write!(f, "output buffer too small: {needed} bytes needed")
            }
            SnappyErrorKind::LiteralOverrun => {
                f.write_str("literal runs past the end of the input")
            }
            SnappyErrorKind::CopyTruncated => {
                f.write_str("copy offset bytes run past the end of the input")
            }
            SnappyErrorKind::CopyOffsetZero => f.write_str("copy with offset 0"),
            SnappyErrorKind::CopyOffsetTooFar {
                copy_offset,
                produced,
            } => write!(
                f,
                "copy offset {copy_offset} reaches before the start of the output ({produced} bytes produced)"
            ),
            SnappyErrorKind::OutputOverrun => {
                f.write_str("element writes past the declared uncompressed length")
            }
            SnappyErrorKind::LengthMismatch { declared, produced } => write!(
                f,
                "uncompressed length mismatch: declared {declared} bytes, produced {produced}"
            ),
            SnappyErrorKind::ChunkTruncated {
                declared,
                available,
            } => write!(
                f,
                "failed to read chunk: length {declared} but only {available} bytes left"
            ),
            SnappyErrorKind::NegativeChunkLength => f.write_str("negative chunk length"),
            SnappyErrorKind::TotalTooLarge => {
                f.write_str("total uncompressed length overflows usize")
            }
        }
    }
}

impl fmt::Display for SnappyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "snappy: {} at byte {}", self.kind, self.offset)
    }
}

impl core::error::Error for SnappyError {}

/// Reads the preamble: returns (uncompressed length, preamble length).
#[inline]
fn read_preamble(block: &[u8]) -> Result<(usize, usize), SnappyError> {
    let mut value: u32 = 0;
    for i in 0..5 {
        let Some(&b) = block.get(i) else {
            return Err(SnappyError::new(SnappyErrorKind::BadVarint, i));
        };
        if i == 4 && b > 0x0f {
            // A continuation bit on the 5th byte (over 5 bytes) or bits beyond
            // bit 31 (over u32::MAX).
            return Err(SnappyError::new(SnappyErrorKind::BadVarint, i));
        }
        value |= u32::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return match usize::try_from(value) {
                Ok(v) => Ok((v, i + 1)),
                Err(_) => Err(SnappyError::new(SnappyErrorKind::BadVarint, i)),
            };
        }
    }
    // Unreachable in practice: the 5th byte either ends the varint or errors.
    Err(SnappyError::new(SnappyErrorKind::BadVarint, 4))
}

/// The uncompressed length declared by a raw Snappy block's varint preamble.
///
/// Only the preamble is read; the elements are not validated. Use it to size
/// (and limit) the output buffer before calling [`decompress`].
///
/// # Errors
///
/// [`SnappyErrorKind::BadVarint`] if the block is empty, the varint is
/// truncated, longer than 5 bytes, or larger than `u32::MAX`.
pub fn decompressed_len(block: &[u8]) -> Result<usize, SnappyError> {
    read_preamble(block).map(|(len, _)| len)
}

/// Decompresses one raw Snappy block into the front of `out`.
///
/// Writes exactly [`decompressed_len`] bytes to `out[..n]` and returns `n`.
/// Bytes of `out` past `n` are never touched. Every element is validated;
/// malformed input yields an error, never a panic, and every loop iteration
/// consumes input.
///
/// Acceptance follows the reference C++ Snappy used by snappy-java: a
/// preamble varint longer than 5 bytes is rejected even if its value is
/// small, and a literal whose length is given in 1–3 extra bytes is accepted
/// even when fewer than 4 bytes follow its tag (`snap` before 1.1.2 decided
/// both the other way).
///
/// # Errors
///
/// * [`SnappyErrorKind::BadVarint`]: see [`decompressed_len`].
/// * [`SnappyErrorKind::OutputTooSmall`]: `out` is shorter than the declared
///   length (checked before anything is written).
/// * [`SnappyErrorKind::LiteralOverrun`], [`SnappyErrorKind::CopyTruncated`]:
///   the input ends inside an element.
/// * [`SnappyErrorKind::CopyOffsetZero`], [`SnappyErrorKind::CopyOffsetTooFar`]:
///   a copy refers to bytes not produced yet.
/// * [`SnappyErrorKind::OutputOverrun`]: an element would produce more than
///   the declared length.
/// * [`SnappyErrorKind::LengthMismatch`]: the elements produce less.
///
/// On error, `out[..n]` may hold partial output.
pub fn decompress(block: &[u8], out: &mut [u8]) -> Result<usize, SnappyError> {
    let (len, hdr) = read_preamble(block)?;
    let Some(dst) = out.get_mut(..len) else {
        return Err(SnappyError::new(
            SnappyErrorKind::OutputTooSmall { needed: len },
            0,
        ));
    };
    match decode_elements(&block[hdr..], dst) {
        Ok(()) => Ok(len),
        Err(e) => Err(e.shifted(hdr)),
    }
}

/// Output room the fast loop requires: the longest copy (64 bytes) plus the
/// 16 bytes a fixed-size move may write past it.
const FAST_DST_ROOM: usize = 80;

/// Decodes the elements in `src` into exactly `dst` (whose length is the
/// declared uncompressed length). Error offsets are relative to `src`.
#[inline(never)]
fn decode_elements(src: &[u8], dst: &mut [u8]) -> Result<(), SnappyError> {
    let mut s = 0usize; // position of the next tag byte in src
    let mut d = 0usize; // bytes produced so far; invariant d <= dst.len()
    loop {
        // Fast loop: at least 17 input bytes (a tag plus a 16-byte window) and
        // FAST_DST_ROOM output bytes remain, so short literals and all copies
        // need no end-of-buffer checks and may use fixed-size moves.
        while let Some(win) = src.get(s..).and_then(<[u8]>::first_chunk::<17>) {
            if dst.len() - d < FAST_DST_ROOM {
                break;
            }
            let tag = win[0];
            if tag & 3 == 0 {
                let code = usize::from(tag >> 2);
                if code >= 16 {
                    // Longer literal: take the checked path.
                    break;
                }
                // Copies 16 bytes; only code + 1 of them count, the rest is
                // overwritten by later elements.
                dst[d..d + 16].copy_from_slice(&win[1..]);
                s += code + 2;
                d += code + 1;
                continue;
            }
            // Copy: one table look-up gives length, offset-byte count and
            // the offset's high bits, so the three copy kinds share one path.
            let entry = COPY_TABLE[usize::from(tag)];
            let len = usize::from(entry & 0x7f);
            let extra = usize::from(entry >> 11);
            let window = u32::from_le_bytes([win[1], win[2], win[3], win[4]]) as usize;
            let offset = (window & OFFSET_MASK[extra & 7]) | usize::from(entry & 0x0700);
            s += 1 + extra;
            if offset.wrapping_sub(1) >= d {
                return Err(bad_offset(offset, d, s - 1 - tag_extra(tag)));
            }
            // len <= 64 < FAST_DST_ROOM: no overrun possible.
            copy_with_slack(dst, d, offset, len);
            d += len;
        }
        if s >= src.len() {
            break;
        }
        (s, d) = checked_element(src, s, dst, d)?;
    }
    if d != dst.len() {
        return Err(SnappyError::new(
            SnappyErrorKind::LengthMismatch {
                declared: dst.len(),
                produced: d,
            },
            src.len(),
        ));
    }
    Ok(())
}

/// Per tag byte, for copy tags: bits 0..=6 the copy length (1..=64), bits
/// 8..=10 the offset's high bits (copy with 1-byte offset only), bits 11..=13
/// the number of offset bytes after the tag (1, 2 or 4). Zero for literals.
const COPY_TABLE: [u16; 256] = {
    let mut table = [0u16; 256];
    let mut tag = 0usize;
    while tag < 256 {
        let t = tag as u16;
        table[tag] = match tag & 3 {
            0 => 0,
            1 => (4 + ((t >> 2) & 7)) | ((t >> 5) << 8) | (1 << 11),
            2 => ((t >> 2) + 1) | (2 << 11),
            _ => ((t >> 2) + 1) | (4 << 11),
        };
        tag += 1;
    }
    table
};

/// Mask keeping the low `n` bytes of a little-endian 4-byte window.
const OFFSET_MASK: [usize; 8] = [0, 0xff, 0xffff, 0, 0xffff_ffff, 0, 0, 0];

/// Number of offset bytes after a copy tag.
#[inline(always)]
fn tag_extra(tag: u8) -> usize {
    match tag & 3 {
        1 => 1,
        2 => 2,
        _ => 4,
    }
}

#[cold]
fn bad_offset(offset: usize, produced: usize, at: usize) -> SnappyError {
    let kind = if offset == 0 {
        SnappyErrorKind::CopyOffsetZero
    } else {
        SnappyErrorKind::CopyOffsetTooFar {
            copy_offset: offset,
            produced,
        }
    };
    SnappyError::new(kind, at)
}

/// Decodes the one element at `src[s]` (which exists) with every check, and
/// returns the new `(s, d)`. Used near the ends of the buffers and for long
/// literals.
#[inline(never)]
fn checked_element(
    src: &[u8],
    mut s: usize,
    dst: &mut [u8],
    d: usize,
) -> Result<(usize, usize), SnappyError> {
    let t = s; // tag position for error reports
    let tag = src[s];
    s += 1;
    let room = dst.len() - d;
    if tag & 3 == 0 {
        let code = usize::from(tag >> 2);
        let len = if code < 60 {
            code + 1
        } else {
            let nbytes = code - 59; // 1..=4
            let Some(len_bytes) = src.get(s..s + nbytes) else {
                return Err(SnappyError::new(SnappyErrorKind::LiteralOverrun, t));
            };
            let mut v: u32 = 0;
            for (i, &b) in len_bytes.iter().enumerate() {
                v |= u32::from(b) << (8 * i);
            }
            s += nbytes;
            // v + 1 overflows only on targets with a usize of 32 bits or
            // less, where no input can hold that many bytes anyway.
            match usize::try_from(v).ok().and_then(|v| v.checked_add(1)) {
                Some(l) => l,
                None => return Err(SnappyError::new(SnappyErrorKind::LiteralOverrun, t)),
            }
        };
        let Some(literal) = src.get(s..).and_then(|r| r.get(..len)) else {
            return Err(SnappyError::new(SnappyErrorKind::LiteralOverrun, t));
        };
        if room < len {
            return Err(SnappyError::new(SnappyErrorKind::OutputOverrun, t));
        }
        dst[d..d + len].copy_from_slice(literal);
        return Ok((s + len, d + len));
    }

    let n = tag_extra(tag);
    let Some(b) = src.get(s..).and_then(|r| r.get(..n)) else {
        return Err(SnappyError::new(SnappyErrorKind::CopyTruncated, t));
    };
    let mut v = 0usize;
    for (i, &x) in b.iter().enumerate() {
        v |= usize::from(x) << (8 * i);
    }
    let (len, offset) = match tag & 3 {
        1 => (
            4 + usize::from((tag >> 2) & 7),
            (usize::from(tag >> 5) << 8) | v,
        ),
        _ => (usize::from(tag >> 2) + 1, v),
    };
    s += n;
    if offset.wrapping_sub(1) >= d {
        return Err(bad_offset(offset, d, t));
    }
    if len > room {
        return Err(SnappyError::new(SnappyErrorKind::OutputOverrun, t));
    }
    if room >= FAST_DST_ROOM {
        copy_with_slack(dst, d, offset, len);
    } else {
        copy_exact(dst, d, offset, len);
    }
    Ok((s, d + len))
}

/// Copies `len` (1..=64) bytes from `offset` back, with
/// `dst.len() - d >= FAST_DST_ROOM`, so fixed-size moves may write garbage
/// past `d + len` (later elements overwrite it). `1 <= offset <= d` is checked
/// by the caller.
#[inline(always)]
fn copy_with_slack(dst: &mut [u8], d: usize, offset: usize, len: usize) {
    let mut from = d - offset;
    if offset >= len {
        // The copied bytes do not overlap the bytes they come from, so one
        // fixed 64-byte memmove gets the first `len` bytes right (the rest is
        // garbage that later elements overwrite). Always moving 64 bytes
        // avoids a hard-to-predict branch on `len`. from + 64 <= d + 64 fits.
        dst.copy_within(from..from + 64, d);
        return;
    }
    let end = d + len;
    let mut to = d;
    // Overlapping pattern: each 16-byte move is a memmove that yields the
    // first `to - from` bytes correctly, doubling the valid pattern (period
    // `offset`, length a multiple of it). Writes stay below d + 32.
    while to - from < 16 {
        dst.copy_within(from..from + 16, to);
        to += to - from;
    }
    // `to - from >= 16` from here on: each move reads only final bytes.
    // `to < end <= d + 64`, so writes stay below d + 80.
    while to < end {
        dst.copy_within(from..from + 16, to);
        to += 16;
        from += 16;
    }
}

/// Copies `len` bytes from `offset` back without writing past `d + len`.
/// `1 <= offset <= d` and `d + len <= dst.len()` are checked by the caller.
#[inline(never)]
fn copy_exact(dst: &mut [u8], d: usize, offset: usize, len: usize) {
    let end = d + len;
    let from = d - offset;
    let mut to = d;
    // dst[from..to] is periodic with period `offset` and its length is a
    // multiple of it, so copying its prefix to `to` continues the pattern.
    while to < end {
        let n = core::cmp::min(to - from, end - to);
        dst.copy_within(from..from + n, to);
        to += n;
    }
}
