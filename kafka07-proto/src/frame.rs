//! The `int32 size` framing around every request and response (spec §6.1).

use crate::error::{Error, ErrorKind, Layer, Result};

/// Default largest frame body: the broker's `max.socket.request.bytes` (100 MiB).
pub const DEFAULT_MAX_FRAME: usize = 104_857_600;

/// The result of [`frame`]: a whole frame, or how many more bytes are needed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Frame<'a> {
    /// A complete frame is at the start of the buffer.
    Complete {
        /// The body: `size` bytes after the 4-byte size.
        body: &'a [u8],
        /// Bytes the frame occupies: `4 + size`.
        consumed: usize,
    },
    /// The buffer holds only part of a frame: at least `needed` more bytes must arrive (the
    /// exact number once the size field is in).
    Partial {
        /// Bytes still missing.
        needed: usize,
    },
}

/// Finds the frame at the start of `buf`.
///
/// The size is checked before anything else is done with it: `size <= 0` is
/// [`ErrorKind::InvalidFrameSize`] and `size > max` is [`ErrorKind::LengthExceedsLimit`], so a
/// hostile length never makes a caller allocate or wait for bytes that will not come.
///
/// ```
/// use kafka07_proto::{frame, Frame};
/// let bytes = [0, 0, 0, 2, 0, 1, 0xaa];
/// assert_eq!(frame(&bytes[..3], 1024)?, Frame::Partial { needed: 1 });
/// assert_eq!(frame(&bytes[..5], 1024)?, Frame::Partial { needed: 1 });
/// assert_eq!(frame(&bytes, 1024)?, Frame::Complete { body: &[0, 1], consumed: 6 });
/// assert!(frame(&[0x7f, 0xff, 0xff, 0xff], 1024).is_err());
/// # Ok::<(), kafka07_proto::Error>(())
/// ```
pub fn frame(buf: &[u8], max: usize) -> Result<Frame<'_>> {
    let Some(prefix) = buf.first_chunk::<4>() else {
        return Ok(Frame::Partial {
            needed: 4 - buf.len(),
        });
    };
    let size = i32::from_be_bytes(*prefix);
    if size <= 0 {
        return Err(Error::new(
            ErrorKind::InvalidFrameSize(size),
            Layer::Frame,
            0,
        ));
    }
    let size = size as usize;
    if size > max {
        return Err(Error::new(
            ErrorKind::LengthExceedsLimit {
                length: size as u64,
                limit: max as u64,
            },
            Layer::Frame,
            0,
        ));
    }
    match buf.get(4..4 + size) {
        Some(body) => Ok(Frame::Complete {
            body,
            consumed: 4 + size,
        }),
        None => Ok(Frame::Partial {
            needed: 4 + size - buf.len(),
        }),
    }
}
