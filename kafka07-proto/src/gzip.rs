//! Gzip (RFC 1952) member parsing, decoding and (with `alloc`) encoding.
//!
//! Kafka 0.7 compresses a message set with codec 1 through `java.util.zip.GZIPOutputStream` and
//! reads it back with `GZIPInputStream`. This module mirrors the reader's rules:
//!
//! * every optional header field (FEXTRA, FNAME, FCOMMENT, FHCRC) is accepted, and a header CRC is
//!   verified;
//! * each member's trailer (CRC-32 and ISIZE, both little-endian) is verified;
//! * members that follow one another are decoded and their output appended;
//! * bytes after a member that do not start with the gzip magic are ignored, as JDK 7+ does, and
//!   their count is reported in [`GzipInfo::trailing`].
//!
//! Decoding never allocates with the default backend: miniz_oxide's core inflater writes straight
//! into the caller's output slice, and running out of that slice is the clean error
//! [`GzipErrorKind::OutputLimit`] (the decompression-bomb guard). No input makes the decoder panic
//! or loop forever: every member consumes at least 18 input bytes.
//!
//! ## Backends
//!
//! The deflate data can be inflated by one of two engines, chosen with [`Backend`]:
//! miniz_oxide (the default, `no_std`, no allocation), or with the feature `zlib-rs` (which
//! implies `std`) zlib-rs through flate2, faster on typical data. Both give the same results —
//! output, [`GzipInfo`], and every error's kind and offset: the zlib-rs engine is only trusted
//! with members it decodes to the end of their deflate data (where both engines produce the
//! same bytes and stop at the same byte); a member it stops early on (corrupt or cut deflate
//! data, or output that does not fit) is decoded again by miniz_oxide, whose report is the one
//! returned. [`decompress`] and [`decompress_with`] always use miniz_oxide; [`decompress_in`]
//! uses an [`Inflater`] of either backend.

use core::fmt;

use miniz_oxide::inflate::core::inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
use miniz_oxide::inflate::TINFLStatus;
use nom::bytes::complete::{take, take_until};
use nom::error::{ErrorKind, ParseError};
use nom::number::complete::{le_u16, le_u32, u8 as byte};
use nom::Parser;

pub use miniz_oxide::inflate::core::DecompressorOxide;

/// The two magic bytes (ID1, ID2) that start every gzip member.
pub const MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The compression method byte (CM) for deflate, the only method RFC 1952 defines.
pub const CM_DEFLATE: u8 = 8;

/// The 10-byte member header written by `compress` (feature `alloc`): magic, CM = 8, no flags, MTIME = 0,
/// XFL = 0 and OS = 0, as `GZIPOutputStream` wrote it on the JDK 6–15 JVMs of the Kafka 0.7 era.
pub const JDK_HEADER: [u8; 10] = [0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00];

/// Length of the fixed part of a member header (magic through OS).
pub const FIXED_HEADER_LEN: usize = 10;

/// Length of a member trailer: CRC-32 then ISIZE, each a little-endian `u32`.
pub const TRAILER_LEN: usize = 8;

/// The deflate level `GZIPOutputStream` uses (`Deflater.DEFAULT_COMPRESSION`, i.e. zlib level 6).
pub const DEFAULT_LEVEL: u8 = 6;

/// A parsed gzip member header. Borrowed fields point into the parsed input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GzipHeader<'a> {
    /// The FLG byte (see the `F*` constants on this type).
    pub flags: u8,
    /// MTIME: modification time in Unix seconds, 0 if none (not checked).
    pub mtime: u32,
    /// XFL: extra flags (not checked).
    pub xfl: u8,
    /// OS: the operating system byte (not checked; 0 or 255 from the JDK, 3 from Unix tools).
    pub os: u8,
    /// The FEXTRA payload (without its 2-byte length), when FLG.FEXTRA is set.
    pub extra: Option<&'a [u8]>,
    /// The original file name (without its terminating NUL), when FLG.FNAME is set.
    pub name: Option<&'a [u8]>,
    /// The comment (without its terminating NUL), when FLG.FCOMMENT is set.
    pub comment: Option<&'a [u8]>,
    /// The stored header CRC-16, when FLG.FHCRC is set (already verified by [`parse_header`]).
    pub header_crc: Option<u16>,
    /// Total header length in bytes: the deflate data starts at this offset.
    pub len: usize,
}

impl GzipHeader<'_> {
    /// FLG bit 0: the content is probably text (informational only).
    pub const FTEXT: u8 = 0x01;
    /// FLG bit 1: a CRC-16 of the header precedes the deflate data.
    pub const FHCRC: u8 = 0x02;
    /// FLG bit 2: an extra field (2-byte little-endian length, then data) follows MTIME/XFL/OS.
    pub const FEXTRA: u8 = 0x04;
    /// FLG bit 3: a NUL-terminated original file name follows.
    pub const FNAME: u8 = 0x08;
    /// FLG bit 4: a NUL-terminated comment follows.
    pub const FCOMMENT: u8 = 0x10;
    /// FLG bits 5–7: reserved, must be zero.
    pub const RESERVED: u8 = 0xe0;
}

/// What [`decompress`] produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GzipInfo {
    /// Bytes written to the start of the output slice (all members, one after another).
    pub output_len: usize,
    /// Number of members decoded (at least 1).
    pub members: usize,
    /// Bytes after the last member that were ignored: they do not start with a well-formed member header.
    pub trailing: usize,
}

/// What went wrong while parsing or decoding gzip data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GzipErrorKind {
    /// The first two bytes of the (first) member are not `1F 8B`.
    BadMagic,
    /// The CM byte is not 8 (deflate); carries the CM byte.
    UnsupportedMethod(u8),
    /// One of the reserved FLG bits 5–7 is set; carries the whole FLG byte.
    ReservedFlags(u8),
    /// The input ends inside a member: empty input, a cut header field, deflate data or trailer.
    Truncated,
    /// The FHCRC field does not equal the low 16 bits of the CRC-32 of the header bytes before it.
    HeaderCrcMismatch {
        /// The CRC-16 stored in the header.
        stored: u16,
        /// The CRC-16 computed over the header bytes.
        computed: u16,
    },
    /// The deflate data is corrupt (invalid block type, Huffman table, code or distance).
    Inflate,
    /// The decompressed data does not fit in the output slice.
    OutputLimit {
        /// The length of the output slice that was passed in.
        limit: usize,
    },
    /// The trailer CRC-32 does not match the CRC-32 of the member's decompressed bytes.
    CrcMismatch {
        /// The CRC-32 stored in the trailer.
        stored: u32,
        /// The CRC-32 of the decompressed bytes.
        computed: u32,
    },
    /// The trailer ISIZE does not match the member's decompressed length (mod 2^32).
    SizeMismatch {
        /// The ISIZE stored in the trailer.
        stored: u32,
        /// The decompressed length, mod 2^32.
        computed: u32,
    },
}

impl fmt::Display for GzipErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::BadMagic => f.write_str("bad magic bytes (not a gzip member)"),
            Self::UnsupportedMethod(cm) => {
                write!(f, "unsupported compression method {cm} (only 8, deflate)")
            }
            Self::ReservedFlags(flg) => write!(f, "reserved header flag bits set (FLG {flg:#04x})"),
            Self::Truncated => f.write_str("input ends inside a gzip member"),
            Self::HeaderCrcMismatch { stored, computed } => write!(
                f,
                "header CRC mismatch (stored {stored:#06x}, computed {computed:#06x})"
            ),
            Self::Inflate => f.write_str("corrupt deflate data"),
            Self::OutputLimit { limit } => {
                write!(f, "decompressed data exceeds the {limit}-byte output limit")
            }
            Self::CrcMismatch { stored, computed } => write!(
                f,
                "trailer CRC-32 mismatch (stored {stored:#010x}, computed {computed:#010x})"
            ),
            Self::SizeMismatch { stored, computed } => write!(
                f,
                "trailer ISIZE mismatch (stored {stored}, decompressed {computed})"
            ),
        }
    }
}

/// A gzip error: what failed and where.
///
/// `offset` is a byte position in the input that was passed to [`parse_header`] or
/// [`decompress`]:
///
/// | kind | offset |
/// |---|---|
/// | `BadMagic`, `UnsupportedMethod`, `ReservedFlags` | the offending byte (member start, +2, +3) |
/// | `Truncated` | start of the part that is cut short: the header field, the deflate data, or the trailer (0 for empty input) |
/// | `HeaderCrcMismatch` | the FHCRC field |
/// | `Inflate` | where the inflater stopped inside the deflate data |
/// | `OutputLimit` | where the inflater stopped inside the deflate data |
/// | `CrcMismatch` | the trailer's CRC-32 field |
/// | `SizeMismatch` | the trailer's ISIZE field |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GzipError {
    /// What failed.
    pub kind: GzipErrorKind,
    /// Byte position in the input where it failed (see the table above).
    pub offset: usize,
}

impl GzipError {
    const fn new(kind: GzipErrorKind, offset: usize) -> Self {
        Self { kind, offset }
    }

    const fn shifted(self, by: usize) -> Self {
        Self::new(self.kind, self.offset + by)
    }
}

impl fmt::Display for GzipError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "gzip: {} at input offset {}", self.kind, self.offset)
    }
}

impl core::error::Error for GzipError {}

// ---------------------------------------------------------------------------------------------
// Header parser (nom, private error type)
// ---------------------------------------------------------------------------------------------

/// Private nom error: the kind, and the remaining input where it happened. Every primitive
/// parser used below (`take`, `take_until`, `u8`, `le_u16`, `le_u32`, all `complete`) can only
/// fail by running out of input, so nom's own errors all become `Truncated`.
#[derive(Debug)]
struct HeaderFail<'a> {
    kind: GzipErrorKind,
    at: &'a [u8],
}

impl<'a> ParseError<&'a [u8]> for HeaderFail<'a> {
    fn from_error_kind(input: &'a [u8], _kind: ErrorKind) -> Self {
        Self {
            kind: GzipErrorKind::Truncated,
            at: input,
        }
    }

    fn append(_input: &'a [u8], _kind: ErrorKind, other: Self) -> Self {
        other
    }
}

type HResult<'a, T> = nom::IResult<&'a [u8], T, HeaderFail<'a>>;

fn fail<T>(kind: GzipErrorKind, at: &[u8]) -> HResult<'_, T> {
    Err(nom::Err::Failure(HeaderFail { kind, at }))
}

/// Runs `p`; any failure is reported at the start of the field `p` parses.
fn field<'a, O>(
    mut p: impl Parser<&'a [u8], Output = O, Error = HeaderFail<'a>>,
) -> impl FnMut(&'a [u8]) -> HResult<'a, O> {
    move |i: &'a [u8]| {
        p.parse(i).map_err(|e| {
            e.map(|f| HeaderFail {
                kind: f.kind,
                at: i,
            })
        })
    }
}

/// ID1 ID2. A wrong byte wins over a short input, so `[0x00]` is `BadMagic`, `[0x1f]` is
/// `Truncated`.
fn magic(i: &[u8]) -> HResult<'_, ()> {
    if i.iter().zip(MAGIC.iter()).any(|(a, b)| a != b) {
        return fail(GzipErrorKind::BadMagic, i);
    }
    let (rest, _) = take(MAGIC.len()).parse(i)?;
    Ok((rest, ()))
}

fn method(i: &[u8]) -> HResult<'_, u8> {
    let (rest, cm) = byte(i)?;
    if cm != CM_DEFLATE {
        return fail(GzipErrorKind::UnsupportedMethod(cm), i);
    }
    Ok((rest, cm))
}

fn flags(i: &[u8]) -> HResult<'_, u8> {
    let (rest, flg) = byte(i)?;
    if flg & GzipHeader::RESERVED != 0 {
        return fail(GzipErrorKind::ReservedFlags(flg), i);
    }
    Ok((rest, flg))
}

/// FEXTRA: XLEN (u16 LE) then XLEN bytes.
fn extra(i: &[u8]) -> HResult<'_, &[u8]> {
    field(|i| {
        let (rest, xlen) = le_u16(i)?;
        take(xlen).parse(rest)
    })(i)
}

/// FNAME / FCOMMENT: bytes up to a NUL, which is consumed but not returned.
fn zero_terminated(i: &[u8]) -> HResult<'_, &[u8]> {
    let (rest, s) = take_until(&[0u8][..]).parse(i)?;
    let (rest, _nul) = take(1usize).parse(rest)?;
    Ok((rest, s))
}

fn optional<'a, O>(
    present: bool,
    p: impl FnMut(&'a [u8]) -> HResult<'a, O>,
    i: &'a [u8],
) -> HResult<'a, Option<O>> {
    if present {
        let mut p = p;
        p(i).map(|(rest, o)| (rest, Some(o)))
    } else {
        Ok((i, None))
    }
}

fn header(input: &[u8]) -> HResult<'_, GzipHeader<'_>> {
    let (i, ()) = magic(input)?;
    let (i, _cm) = method(i)?;
    let (i, flg) = flags(i)?;
    let (i, (mtime, xfl, os)) = field((le_u32, byte, byte)).parse(i)?;
    let (i, extra) = optional(flg & GzipHeader::FEXTRA != 0, extra, i)?;
    let (i, name) = optional(flg & GzipHeader::FNAME != 0, zero_terminated, i)?;
    let (i, comment) = optional(flg & GzipHeader::FCOMMENT != 0, zero_terminated, i)?;
    let (i, header_crc) = if flg & GzipHeader::FHCRC != 0 {
        let covered = &input[..input.len() - i.len()];
        let (rest, stored) = le_u16(i)?;
        // RFC 1952 2.3.1: the two least significant bytes of the CRC-32 of the header so far.
        let computed = crc32fast::hash(covered) as u16;
        if stored != computed {
            return fail(GzipErrorKind::HeaderCrcMismatch { stored, computed }, i);
        }
        (rest, Some(stored))
    } else {
        (i, None)
    };
    let len = input.len() - i.len();
    Ok((
        i,
        GzipHeader {
            flags: flg,
            mtime,
            xfl,
            os,
            extra,
            name,
            comment,
            header_crc,
            len,
        },
    ))
}

/// Parses and checks one gzip member header at the start of `input`.
///
/// Checks the magic, CM = 8, that the reserved FLG bits are clear, that FEXTRA's length fits,
/// that FNAME/FCOMMENT are NUL-terminated within `input`, and that FHCRC (when present) equals
/// the low 16 bits of the CRC-32 of the header bytes before it. MTIME, XFL and OS are not checked.
/// Error offsets are relative to `input`.
pub fn parse_header(input: &[u8]) -> Result<GzipHeader<'_>, GzipError> {
    match header(input) {
        Ok((_, h)) => Ok(h),
        Err(nom::Err::Error(f) | nom::Err::Failure(f)) => {
            Err(GzipError::new(f.kind, input.len() - f.at.len()))
        }
        // Only `complete` parsers are used, so this does not happen; treat it as a cut input.
        Err(nom::Err::Incomplete(_)) => Err(GzipError::new(GzipErrorKind::Truncated, input.len())),
    }
}

// ---------------------------------------------------------------------------------------------
// Decoder
// ---------------------------------------------------------------------------------------------

/// Decompresses every member of the gzip stream `input` into `out`, appending the members one
/// after another from `out[0]`.
///
/// Uses a fresh miniz_oxide inflater state on the stack (about 11 KB); see [`decompress_with`]
/// to reuse one, and [`decompress_in`] to choose the [`Backend`].
///
/// * Each member's CRC-32 and ISIZE are verified.
/// * After a member, input that starts with a well-formed member header is decoded as another
///   member (whose body and trailer must then be valid); anything else, a malformed header
///   included, is ignored and counted in [`GzipInfo::trailing`], as the JVM's reader does.
/// * Empty input, or input that ends inside a member, is [`GzipErrorKind::Truncated`].
/// * If the decompressed data does not fit in `out`, the result is
///   [`GzipErrorKind::OutputLimit`] with `limit = out.len()`; pass a slice no longer than the
///   decompressed size you are willing to accept. On error `out` holds partial output.
pub fn decompress(input: &[u8], out: &mut [u8]) -> Result<GzipInfo, GzipError> {
    let mut state = DecompressorOxide::new();
    decompress_members(&mut state, input, out)
}

/// Same as [`decompress`], with a caller-owned inflater state so that repeated calls do not
/// re-create it. The state is reset at the start of every member; its prior contents do not
/// matter.
pub fn decompress_with(
    state: &mut DecompressorOxide,
    input: &[u8],
    out: &mut [u8],
) -> Result<GzipInfo, GzipError> {
    decompress_members(state, input, out)
}

/// Same as [`decompress`], inflating with `inflater`'s [`Backend`]. The results — output,
/// [`GzipInfo`], errors with their kinds and offsets — are the same whichever backend the
/// inflater has. The inflater is reset at the start of every member, so one can be reused for
/// any number of calls.
///
/// ```
/// use kafka07_proto::gzip::{self, Backend, Inflater};
/// let mut gz = Vec::new();
/// gzip::compress(b"hello, hello, hello", &mut gz);
/// // `Backend::ZlibRs` with the feature `zlib-rs`; the default is miniz_oxide.
/// let mut inflater = Inflater::new(Backend::default());
/// let mut out = [0u8; 64];
/// let info = gzip::decompress_in(&mut inflater, &gz, &mut out)?;
/// assert_eq!(&out[..info.output_len], b"hello, hello, hello");
/// // Reuse it: a second call resets it first.
/// let info = gzip::decompress_in(&mut inflater, &gz, &mut out)?;
/// assert_eq!((info.members, info.trailing), (1, 0));
/// # Ok::<(), gzip::GzipError>(())
/// ```
pub fn decompress_in(
    inflater: &mut Inflater,
    input: &[u8],
    out: &mut [u8],
) -> Result<GzipInfo, GzipError> {
    match &mut inflater.engine {
        Engine::MinizOxide(state) => decompress_members(state, input, out),
        #[cfg(feature = "zlib-rs")]
        Engine::ZlibRs(state) => decompress_members(state, input, out),
    }
}

/// The inflate engine that decodes each member's deflate data.
///
/// Every backend gives the same results for every input (see the [module docs](self)); they
/// differ in speed and in what they need.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// miniz_oxide's core inflater: `no_std`, no allocation (its state, about 11 KB, lives
    /// where the [`Inflater`] does). The default.
    #[default]
    MinizOxide,
    /// zlib-rs through flate2 (feature `zlib-rs`, which implies `std`): faster on typical data
    /// (it uses AVX2 when the CPU has it, detected at run time). Its state is allocated on the
    /// heap when the [`Inflater`] is created. A member it cannot decode to the end is decoded
    /// again with miniz_oxide, so that errors are reported exactly as with [`MinizOxide`].
    ///
    /// [`MinizOxide`]: Backend::MinizOxide
    #[cfg(feature = "zlib-rs")]
    ZlibRs,
}

/// An inflater of a chosen [`Backend`], for [`decompress_in`]: create it once and reuse it,
/// it is reset at the start of every member.
pub struct Inflater {
    engine: Engine,
}

// The miniz_oxide state lives inline (no allocation, `no_std`); the zlib-rs one is small
// because it allocates its own state.
#[allow(clippy::large_enum_variant)]
enum Engine {
    MinizOxide(DecompressorOxide),
    #[cfg(feature = "zlib-rs")]
    ZlibRs(flate2::Decompress),
}

impl Inflater {
    /// A fresh inflater of `backend`.
    pub fn new(backend: Backend) -> Self {
        let engine = match backend {
            Backend::MinizOxide => Engine::MinizOxide(DecompressorOxide::new()),
            // Raw deflate: no zlib header or trailer, the gzip framing is parsed here.
            #[cfg(feature = "zlib-rs")]
            Backend::ZlibRs => Engine::ZlibRs(flate2::Decompress::new(false)),
        };
        Inflater { engine }
    }

    /// Its backend.
    pub fn backend(&self) -> Backend {
        match self.engine {
            Engine::MinizOxide(_) => Backend::MinizOxide,
            #[cfg(feature = "zlib-rs")]
            Engine::ZlibRs(_) => Backend::ZlibRs,
        }
    }
}

impl Default for Inflater {
    /// An inflater of the default backend (miniz_oxide).
    fn default() -> Self {
        Inflater::new(Backend::default())
    }
}

impl fmt::Debug for Inflater {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inflater")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

/// How one inflate call over a member's whole deflate data ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    /// The final block ended: the deflate data is complete.
    Done,
    /// The output slice is full and the deflate data is not finished.
    OutputFull,
    /// The input ended before the final block did.
    Truncated,
    /// The deflate data is corrupt.
    Corrupt,
}

/// What one inflate call did: how it ended, input bytes used, output bytes written.
#[derive(Clone, Copy, Debug)]
struct Inflated {
    status: Status,
    in_used: usize,
    out_len: usize,
}

/// An inflate engine: inflates a whole raw deflate stream into a slice, in one call.
trait Inflate {
    /// Whether a status other than [`Status::Done`] (and its `in_used`) is the one the
    /// default backend reports. When not, such a member is decoded again with miniz_oxide.
    const EXACT_FAILURES: bool;

    /// Forgets the previous stream.
    fn reset(&mut self);

    /// Inflates `body` (all the deflate data there is) into `out`, from `out[0]`; back
    /// references cannot reach before `out[0]`. On [`Status::Done`], `in_used` is exactly the
    /// length of the deflate data.
    fn inflate(&mut self, body: &[u8], out: &mut [u8]) -> Inflated;
}

impl Inflate for DecompressorOxide {
    const EXACT_FAILURES: bool = true;

    fn reset(&mut self) {
        self.init();
    }

    fn inflate(&mut self, body: &[u8], out: &mut [u8]) -> Inflated {
        // One call for the whole member: the input holds all the deflate data, and with the
        // non-wrapping flag the inflater writes straight into `out` (back references are
        // limited to this member's own output, since `out` starts at this member).
        let (status, in_used, out_len) = miniz_oxide::inflate::core::decompress(
            self,
            body,
            out,
            0,
            TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF,
        );
        let status = match status {
            TINFLStatus::Done => Status::Done,
            TINFLStatus::HasMoreOutput => Status::OutputFull,
            // Without TINFL_FLAG_HAS_MORE_INPUT, running out of input is reported as "cannot
            // make progress"; NeedsMoreInput is listed for completeness.
            TINFLStatus::FailedCannotMakeProgress | TINFLStatus::NeedsMoreInput => {
                Status::Truncated
            }
            // Failed (corrupt data); BadParam and Adler32Mismatch cannot happen with these
            // flags, and any status a later miniz_oxide adds is treated as corrupt data too.
            _ => Status::Corrupt,
        };
        Inflated {
            status,
            in_used: in_used.min(body.len()),
            out_len: out_len.min(out.len()),
        }
    }
}

#[cfg(feature = "zlib-rs")]
impl Inflate for flate2::Decompress {
    // The engines agree on where they stop and why on almost every input, but not on all: zlib
    // rejects a dynamic block without an end-of-block code as soon as it has read its code
    // lengths, where miniz_oxide decodes the block's literals until the output is full or the
    // input ends (tests/inflate_backends.rs). So a member zlib-rs does not decode to the end is
    // decoded again with miniz_oxide, whose report is the default backend's.
    const EXACT_FAILURES: bool = false;

    fn reset(&mut self) {
        flate2::Decompress::reset(self, false);
    }

    fn inflate(&mut self, body: &[u8], out: &mut [u8]) -> Inflated {
        let (in_before, out_before) = (self.total_in(), self.total_out());
        // `Finish`: `body` is all the input there is.
        let result = self.decompress(body, out, flate2::FlushDecompress::Finish);
        // Both are bounded by the slices' lengths, so they fit in usize.
        let in_used = ((self.total_in() - in_before) as usize).min(body.len());
        let out_len = ((self.total_out() - out_before) as usize).min(out.len());
        let status = match result {
            Ok(flate2::Status::StreamEnd) => Status::Done,
            // Stopped short of the end with the output full: miniz_oxide's HasMoreOutput.
            Ok(_) if out_len == out.len() => Status::OutputFull,
            // Stopped short of the end with room left: the input ran out.
            Ok(_) => Status::Truncated,
            Err(_) => Status::Corrupt,
        };
        Inflated {
            status,
            in_used,
            out_len,
        }
    }
}

/// Inflates `body` into `out` with a fresh miniz_oxide state: the report of record for
/// engines whose failures are not exact.
#[cold]
#[inline(never)]
fn inflate_with_miniz(body: &[u8], out: &mut [u8]) -> Inflated {
    let mut state = DecompressorOxide::new();
    state.inflate(body, out)
}

fn decompress_members<E: Inflate>(
    engine: &mut E,
    input: &[u8],
    out: &mut [u8],
) -> Result<GzipInfo, GzipError> {
    decompress_members_deferred(engine, input, out, false).map(|(info, _)| info)
}

/// A member trailer CRC left for the caller to check (see [`decompress_in_deferred`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DeferredCrc {
    /// The CRC-32 stored in the trailer.
    pub(crate) stored: u32,
    /// The trailer's position in the input (where a mismatch is reported).
    pub(crate) at: usize,
}

impl DeferredCrc {
    /// The error a mismatch is, with the CRC the caller computed.
    pub(crate) fn mismatch(&self, computed: u32) -> GzipError {
        GzipError::new(
            GzipErrorKind::CrcMismatch {
                stored: self.stored,
                computed,
            },
            self.at,
        )
    }
}

/// [`decompress_in`], except that when the input is one member (followed by nothing, or by
/// ignored trailing bytes) its trailer CRC is not computed: it is returned for the caller to
/// check against the output (`out[..output_len]`), which must then report a mismatch with
/// [`DeferredCrc::mismatch`] before using the output. Every other check, and every error with
/// its kind and offset, is as [`decompress_in`] reports it (a wrong ISIZE with a wrong CRC is
/// still a `CrcMismatch`: the CRC is then computed here). With several members each is
/// checked here and `None` is returned.
pub(crate) fn decompress_in_deferred(
    inflater: &mut Inflater,
    input: &[u8],
    out: &mut [u8],
) -> Result<(GzipInfo, Option<DeferredCrc>), GzipError> {
    match &mut inflater.engine {
        Engine::MinizOxide(state) => decompress_members_deferred(state, input, out, true),
        #[cfg(feature = "zlib-rs")]
        Engine::ZlibRs(state) => decompress_members_deferred(state, input, out, true),
    }
}

fn decompress_members_deferred<E: Inflate>(
    engine: &mut E,
    input: &[u8],
    out: &mut [u8],
    defer: bool,
) -> Result<(GzipInfo, Option<DeferredCrc>), GzipError> {
    let limit = out.len();
    let mut pos = 0;
    let mut written = 0;
    let mut members = 0;
    loop {
        // Only the first member's CRC can be deferred, and only if it is the last one.
        let defer_this = defer && members == 0;
        // `pos <= input.len()` and `written <= out.len()`: both only grow by what a member used.
        let (used, produced, deferred) = decode_member(
            engine,
            &input[pos..],
            &mut out[written..],
            limit,
            defer_this,
        )
        .map_err(|e| e.shifted(pos))?;
        let member_out = written..written + produced;
        pos += used;
        written += produced;
        members += 1;
        let rest = &input[pos..];
        // Like the JVM's GZIPInputStream: what follows a member is another member only if it
        // starts with a well-formed header; anything else (a bad or cut header included) is
        // ignored trailing data.
        let another = rest.starts_with(&MAGIC) && parse_header(rest).is_ok();
        if let Some(d) = deferred {
            if another {
                // Not the last member: check it now, before the next member is decoded.
                let computed = crc32fast::hash(&out[member_out]);
                if computed != d.stored {
                    return Err(d.mismatch(computed));
                }
            } else {
                let info = GzipInfo {
                    output_len: written,
                    members,
                    trailing: rest.len(),
                };
                return Ok((info, Some(d)));
            }
        }
        if !another {
            return Ok((
                GzipInfo {
                    output_len: written,
                    members,
                    trailing: rest.len(),
                },
                None,
            ));
        }
    }
}

/// Decodes the member at the start of `input` into `out[0..]`. Returns (input bytes used,
/// output bytes written, the trailer CRC when `defer` left it unchecked). Error offsets are
/// relative to `input`; `limit` is what an `OutputLimit` error reports.
fn decode_member<E: Inflate>(
    engine: &mut E,
    input: &[u8],
    out: &mut [u8],
    limit: usize,
    defer: bool,
) -> Result<(usize, usize, Option<DeferredCrc>), GzipError> {
    let header = parse_header(input)?;
    let body_start = header.len;
    let body = &input[body_start..];

    engine.reset();
    let mut inflated = engine.inflate(body, out);
    if inflated.status != Status::Done && !E::EXACT_FAILURES {
        inflated = inflate_with_miniz(body, out);
    }
    let Inflated {
        status,
        in_used,
        out_len,
    } = inflated;
    let stop = body_start + in_used;
    match status {
        Status::Done => {}
        Status::OutputFull => {
            return Err(GzipError::new(GzipErrorKind::OutputLimit { limit }, stop));
        }
        Status::Truncated => return Err(GzipError::new(GzipErrorKind::Truncated, body_start)),
        Status::Corrupt => return Err(GzipError::new(GzipErrorKind::Inflate, stop)),
    }

    let trailer_start = stop;
    let Some(trailer) = input.get(trailer_start..trailer_start + TRAILER_LEN) else {
        return Err(GzipError::new(GzipErrorKind::Truncated, trailer_start));
    };
    let stored_crc = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
    let stored_size = u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]);
    // ISIZE is the length mod 2^32: truncation is the intent.
    let computed_size = out_len as u32;
    if defer && stored_size == computed_size {
        let deferred = DeferredCrc {
            stored: stored_crc,
            at: trailer_start,
        };
        return Ok((trailer_start + TRAILER_LEN, out_len, Some(deferred)));
    }
    // A CRC mismatch is reported before a size mismatch.
    let computed_crc = crc32fast::hash(&out[..out_len]);
    if stored_crc != computed_crc {
        return Err(GzipError::new(
            GzipErrorKind::CrcMismatch {
                stored: stored_crc,
                computed: computed_crc,
            },
            trailer_start,
        ));
    }
    if stored_size != computed_size {
        return Err(GzipError::new(
            GzipErrorKind::SizeMismatch {
                stored: stored_size,
                computed: computed_size,
            },
            trailer_start + 4,
        ));
    }
    Ok((trailer_start + TRAILER_LEN, out_len, None))
}

// ---------------------------------------------------------------------------------------------
// Encoder
// ---------------------------------------------------------------------------------------------

/// Appends one gzip member holding `input` to `out`, as `java.util.zip.GZIPOutputStream` with its
/// default settings writes it: the [`JDK_HEADER`] (OS byte 0), raw deflate at level 6, then the
/// CRC-32 and ISIZE of `input`, little-endian. Equivalent to
/// `compress_level(input, DEFAULT_LEVEL, out)`.
///
/// The deflate bytes come from miniz_oxide, so they may differ from the JDK's zlib output; any
/// gzip reader decodes them to the same data.
#[cfg(feature = "alloc")]
pub fn compress(input: &[u8], out: &mut alloc::vec::Vec<u8>) {
    compress_level(input, DEFAULT_LEVEL, out);
}

/// Like [`compress`], with an explicit deflate level: 0 (stored) to 9 (best); larger values
/// are treated as 9. The header is [`JDK_HEADER`] whatever the level (the JDK writes XFL = 0).
#[cfg(feature = "alloc")]
pub fn compress_level(input: &[u8], level: u8, out: &mut alloc::vec::Vec<u8>) {
    use miniz_oxide::deflate::core::{
        compress as deflate, create_comp_flags_from_zip_params, CompressorOxide, TDEFLFlush,
        TDEFLStatus,
    };

    out.extend_from_slice(&JDK_HEADER);

    // Negative window bits: raw deflate, no zlib wrapper. Strategy 0: default.
    let flags = create_comp_flags_from_zip_params(i32::from(level.min(9)), -15, 0);
    let mut compressor = CompressorOxide::new(flags);

    // First try: room for the whole stream even if incompressible (stored blocks cost 5 bytes
    // per 65535), so one call normally suffices; grow and continue otherwise.
    let mut room = input.len() + input.len() / 1024 + 64;
    let mut in_pos = 0;
    loop {
        let start = out.len();
        out.resize(start + room, 0);
        let (status, used, written) = deflate(
            &mut compressor,
            &input[in_pos..],
            &mut out[start..],
            TDEFLFlush::Finish,
        );
        out.truncate(start + written);
        in_pos += used;
        match status {
            TDEFLStatus::Done => break,
            // The output slice filled up: give it more room and go on.
            TDEFLStatus::Okay => room = room.max(4096),
            // Only returned for misuse (calling after Finish) or a failed output callback,
            // neither of which can happen here.
            TDEFLStatus::BadParam | TDEFLStatus::PutBufFailed => {
                unreachable!("miniz_oxide deflate failed on a fresh compressor")
            }
        }
    }

    out.extend_from_slice(&crc32fast::hash(input).to_le_bytes());
    // ISIZE is the length mod 2^32.
    out.extend_from_slice(&(input.len() as u32).to_le_bytes());
}
