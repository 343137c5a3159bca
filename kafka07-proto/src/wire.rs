//! Private primitives: a position-tracking reader built on nom, and a checked writer.
//!
//! nom stays inside this module: every public error is our own [`Error`] with a byte offset.

use nom::number::complete::{be_i16, be_i32, be_i64};
use nom::IResult;

use crate::error::{Error, ErrorKind, Layer, Result};

type NomResult<'a, T> = IResult<&'a [u8], T, nom::error::Error<&'a [u8]>>;

/// Reads big-endian fields from a slice, remembering where it is for error reporting.
#[derive(Clone, Copy, Debug)]
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Absolute offset of `buf[0]` in the caller's input.
    base: u64,
    layer: Layer,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8], base: u64, layer: Layer) -> Self {
        Cursor {
            buf,
            pos: 0,
            base,
            layer,
        }
    }

    /// Bytes not yet read.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    /// Bytes read so far.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// Absolute offset of the next unread byte.
    pub(crate) fn abs(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// An error of `kind` at the current position.
    pub(crate) fn err(&self, kind: ErrorKind) -> Error {
        Error::new(kind, self.layer, self.abs())
    }

    fn truncated(&self, needed: usize) -> Error {
        self.err(ErrorKind::Truncated {
            needed: needed as u64,
            available: self.rest().len() as u64,
        })
    }

    fn run<T>(&mut self, width: usize, p: fn(&'a [u8]) -> NomResult<'a, T>) -> Result<T> {
        match p(self.rest()) {
            Ok((_, v)) => {
                self.pos += width;
                Ok(v)
            }
            Err(_) => Err(self.truncated(width)),
        }
    }

    pub(crate) fn i16(&mut self) -> Result<i16> {
        self.run(2, be_i16)
    }

    pub(crate) fn i32(&mut self) -> Result<i32> {
        self.run(4, be_i32)
    }

    pub(crate) fn i64(&mut self) -> Result<i64> {
        self.run(8, be_i64)
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let rest = self.rest();
        let taken =
            nom::bytes::complete::take::<usize, &'a [u8], nom::error::Error<&'a [u8]>>(n)(rest);
        match taken {
            Ok((_, v)) => {
                self.pos += n;
                Ok(v)
            }
            Err(_) => Err(self.truncated(n)),
        }
    }

    /// An `int32` length that must be `>= 0` and fit in what is left, then that many bytes.
    pub(crate) fn sized_i32(&mut self) -> Result<&'a [u8]> {
        let at = *self;
        let n = self.i32()?;
        if n < 0 {
            return Err(at.err(ErrorKind::NegativeLength(n.into())));
        }
        self.take(n as usize)
    }

    /// A short string (`int16` length, then bytes); `None` for `-1` (a Java null).
    pub(crate) fn short_string(&mut self) -> Result<Option<&'a [u8]>> {
        let at = *self;
        let n = self.i16()?;
        if n == -1 {
            return Ok(None);
        }
        if n < 0 {
            return Err(at.err(ErrorKind::NegativeLength(n.into())));
        }
        self.take(n as usize).map(Some)
    }

    /// A non-negative `int16` count.
    pub(crate) fn count_i16(&mut self) -> Result<u16> {
        let at = *self;
        let n = self.i16()?;
        if n < 0 {
            return Err(at.err(ErrorKind::NegativeLength(n.into())));
        }
        Ok(n as u16)
    }

    /// Strict end: error if anything is left.
    pub(crate) fn finish(&self) -> Result<()> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self.err(ErrorKind::TrailingBytes(self.rest().len() as u64)))
        }
    }
}

/// Writes big-endian fields into a buffer whose size was checked up front.
///
/// Every `emit` in the crate computes its exact wire length first and calls [`Writer::new`]
/// with it, so the individual puts cannot run out of room; if one ever did (a bug), it
/// reports `InsufficientSpace` instead of panicking.
pub struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
    failed: bool,
}

impl<'a> Writer<'a> {
    /// A writer over `out`, after checking that `needed` bytes fit.
    pub(crate) fn new(out: &'a mut [u8], needed: usize) -> Result<Self> {
        if out.len() < needed {
            return Err(insufficient(needed, out.len()));
        }
        Ok(Writer {
            buf: out,
            pos: 0,
            failed: false,
        })
    }

    pub(crate) fn put(&mut self, bytes: &[u8]) {
        match self.buf.get_mut(self.pos..self.pos + bytes.len()) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.pos += bytes.len();
            }
            None => self.failed = true,
        }
    }

    pub(crate) fn u8(&mut self, v: u8) {
        self.put(&[v]);
    }

    pub(crate) fn i16(&mut self, v: i16) {
        self.put(&v.to_be_bytes());
    }

    pub(crate) fn i32(&mut self, v: i32) {
        self.put(&v.to_be_bytes());
    }

    pub(crate) fn u32(&mut self, v: u32) {
        self.put(&v.to_be_bytes());
    }

    pub(crate) fn i64(&mut self, v: i64) {
        self.put(&v.to_be_bytes());
    }

    /// A short string: `int16` byte length, then the bytes (length checked by the caller).
    pub(crate) fn short_string(&mut self, s: &[u8]) {
        self.i16(s.len() as i16);
        self.put(s);
    }

    /// The number of bytes written.
    pub(crate) fn finish(self) -> Result<usize> {
        if self.failed {
            Err(insufficient(self.pos + 1, self.buf.len()))
        } else {
            Ok(self.pos)
        }
    }
}

pub(crate) fn insufficient(needed: usize, available: usize) -> Error {
    Error::new(
        ErrorKind::InsufficientSpace {
            needed: needed as u64,
            available: available as u64,
        },
        Layer::Emit,
        0,
    )
}

/// Checks that `len` fits a signed field whose maximum is `max`.
pub(crate) fn check_fits(len: usize, max: usize) -> Result<()> {
    if len > max {
        Err(Error::new(
            ErrorKind::ValueTooLarge {
                length: len as u64,
                max: max as u64,
            },
            Layer::Emit,
            0,
        ))
    } else {
        Ok(())
    }
}

/// Largest short-string length (`int16`).
pub(crate) const MAX_SHORT: usize = i16::MAX as usize;
/// Largest `int32` length.
pub(crate) const MAX_I32: usize = i32::MAX as usize;
