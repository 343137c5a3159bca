//! A push decoder for FETCH responses: bytes go in as they arrive from a socket, in pieces of
//! any size, and complete messages come out — without allocation, with memory bounded by the
//! largest single message rather than by the response.
//!
//! Messages that arrive whole inside one piece are handed out borrowed from that piece (no
//! copy); only a message split across pieces is assembled in the decoder's buffer.

use crate::error::{Error, ErrorKind, Layer, Result};
use crate::message::{Crc, CrcStatus, MessageView, LENGTH_PREFIX};
use crate::message_set::{apply_crc, top_entry, DecodeOptions, MessageAndOffset, Stop};
use crate::response::ErrorCode;

/// What [`FetchStream::decode`] produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamEvent<'a> {
    /// The response header: its error code and how many message-set bytes follow.
    Header {
        /// The response's error code.
        error: ErrorCode,
        /// Message-set bytes in this response.
        message_set_len: u64,
    },
    /// One complete message with its reference offsets.
    Message(MessageAndOffset<'a>),
    /// The response was consumed to its last byte.
    End {
        /// The reference's `validBytes`: bytes of complete entries. The next fetch starts at
        /// the fetch offset plus this.
        valid_bytes: u64,
        /// How the message set ended (a cut trailing entry is normal).
        stop: Stop,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Head,
    Len,
    Body { total: usize },
    Skip { left: u64, stop: Stop },
    Done,
    Failed(Error),
}

/// Streaming decoder for one FETCH response at a time.
///
/// `B` is the assembly buffer (`[u8; N]`, `&mut [u8]`, `Vec<u8>`): its length is the largest
/// message that can be split across input pieces; larger ones are
/// [`ErrorKind::MessageTooLarge`]. Call [`decode`](Self::decode) until it consumes nothing and
/// returns no event (it needs more input), or until [`is_done`](Self::is_done).
///
/// ```
/// use kafka07_proto::{FetchStream, StreamEvent};
/// // Spec §12.3: FETCH response holding "hello" and "there", fed one byte at a time.
/// let resp = [
///     0, 0, 0, 0x20, 0, 0,
///     0, 0, 0, 0x0b, 1, 0, 0x36, 0x10, 0xa6, 0x86, b'h', b'e', b'l', b'l', b'o',
///     0, 0, 0, 0x0b, 1, 0, 0x5a, 0x2f, 0xe9, 0x96, b't', b'h', b'e', b'r', b'e',
/// ];
/// let mut dec = FetchStream::new([0u8; 64], 1000);
/// let mut got = Vec::new();
/// for byte in resp.chunks(1) {
///     let mut input = byte;
///     loop {
///         let (used, event) = dec.decode(input)?;
///         if let Some(StreamEvent::Message(m)) = event {
///             got.push((m.offset, m.message.payload().to_vec()));
///         }
///         input = &input[used..];
///         if used == 0 && event.is_none() { break; }
///     }
/// }
/// assert!(dec.is_done());
/// assert_eq!(got, [(1015, b"hello".to_vec()), (1030, b"there".to_vec())]);
/// # Ok::<(), kafka07_proto::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct FetchStream<B> {
    buf: B,
    fill: usize,
    head: [u8; 6],
    head_fill: usize,
    len: [u8; 4],
    len_fill: usize,
    state: State,
    base_offset: u64,
    /// Message-set bytes consumed by complete entries (reference `validBytes`).
    valid: u64,
    /// Message-set bytes not yet consumed from the input.
    remaining: u64,
    /// Response bytes consumed so far (for error positions).
    at: u64,
    max_frame: usize,
    opts: DecodeOptions,
    crc: Crc,
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> FetchStream<B> {
    /// A decoder for a response to a fetch at `fetch_offset`, with default options (CRC
    /// verified, strict) and the default frame limit.
    pub fn new(buf: B, fetch_offset: u64) -> Self {
        Self::with_options(
            buf,
            fetch_offset,
            DecodeOptions::default(),
            crate::DEFAULT_MAX_FRAME,
        )
    }

    /// A decoder with explicit options and largest accepted response size.
    pub fn with_options(buf: B, fetch_offset: u64, opts: DecodeOptions, max_frame: usize) -> Self {
        FetchStream {
            buf,
            fill: 0,
            head: [0; 6],
            head_fill: 0,
            len: [0; 4],
            len_fill: 0,
            state: State::Head,
            base_offset: fetch_offset,
            valid: 0,
            remaining: 0,
            at: 0,
            max_frame,
            opts,
            crc: Crc::new(),
        }
    }

    /// Starts over for the next response (same buffer and options).
    pub fn reset(&mut self, fetch_offset: u64) {
        self.fill = 0;
        self.head_fill = 0;
        self.len_fill = 0;
        self.state = State::Head;
        self.base_offset = fetch_offset;
        self.valid = 0;
        self.remaining = 0;
        self.at = 0;
    }

    /// `true` once the whole response was consumed.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Bytes of complete entries so far (the reference's `validBytes` once done).
    pub fn valid_bytes(&self) -> u64 {
        self.valid
    }

    /// The buffer, back.
    pub fn into_inner(self) -> B {
        self.buf
    }

    fn fail(&mut self, e: Error) -> Result<(usize, Option<StreamEvent<'static>>)> {
        self.state = State::Failed(e);
        Err(e)
    }

    fn err(&self, kind: ErrorKind, at: u64) -> Error {
        Error::new(kind, Layer::Stream, at)
    }

    /// Consumes a prefix of `input`; returns how many bytes it used and at most one event.
    /// `(0, None)` means it needs more input (or the response is done).
    ///
    /// Error positions are byte offsets from the start of the response frame. After an error
    /// the decoder stays failed until [`reset`](Self::reset).
    pub fn decode<'s>(&'s mut self, input: &'s [u8]) -> Result<(usize, Option<StreamEvent<'s>>)> {
        match self.state {
            State::Failed(e) => Err(e),
            State::Done => Ok((0, None)),
            State::Head => self.head(input),
            State::Len => self.length(input),
            State::Body { total } => self.body(input, total),
            State::Skip { left, stop } => {
                let n = (input.len() as u64).min(left) as usize;
                self.at += n as u64;
                if left > n as u64 {
                    self.state = State::Skip {
                        left: left - n as u64,
                        stop,
                    };
                    return Ok((n, None));
                }
                self.state = State::Done;
                Ok((
                    n,
                    Some(StreamEvent::End {
                        valid_bytes: self.valid,
                        stop,
                    }),
                ))
            }
        }
    }

    /// Decodes all of `input` (one piece from the socket), calling `each` with every event in
    /// order; returns the bytes used, which is all of `input` unless the response ended
    /// before it.
    ///
    /// The same events, errors and state as calling [`decode`](Self::decode) in a loop until
    /// it returns `(0, None)`, but the messages that lie whole inside `input` are handed out
    /// from one walk over the piece (zero copy), without a trip through the state machine
    /// per message.
    ///
    /// ```
    /// use kafka07_proto::{FetchStream, StreamEvent};
    /// // Spec §12.3: FETCH response holding "hello" and "there", in pieces of 7 bytes.
    /// let resp = [
    ///     0, 0, 0, 0x20, 0, 0,
    ///     0, 0, 0, 0x0b, 1, 0, 0x36, 0x10, 0xa6, 0x86, b'h', b'e', b'l', b'l', b'o',
    ///     0, 0, 0, 0x0b, 1, 0, 0x5a, 0x2f, 0xe9, 0x96, b't', b'h', b'e', b'r', b'e',
    /// ];
    /// let mut dec = FetchStream::new([0u8; 64], 1000);
    /// let mut got = Vec::new();
    /// for piece in resp.chunks(7) {
    ///     dec.decode_all(piece, |event| {
    ///         if let StreamEvent::Message(m) = event {
    ///             got.push((m.offset, m.message.payload().to_vec()));
    ///         }
    ///     })?;
    /// }
    /// assert!(dec.is_done());
    /// assert_eq!(got, [(1015, b"hello".to_vec()), (1030, b"there".to_vec())]);
    /// # Ok::<(), kafka07_proto::Error>(())
    /// ```
    pub fn decode_all<F>(&mut self, mut input: &[u8], mut each: F) -> Result<usize>
    where
        F: FnMut(StreamEvent<'_>),
    {
        let mut used = 0;
        loop {
            // Fast path: whole entries at the start of `input`, exactly as `length` takes them
            // zero-copy. Anything else (a prefix or entry cut by the piece's end, the end of
            // the set, a bad entry) is left to `decode`, which reports it.
            if self.state == State::Len && self.len_fill == 0 {
                let taken = self.whole_entries(input, &mut each);
                input = &input[taken..];
                used += taken;
            }
            let (n, event) = self.decode(input)?;
            let Some(event) = event else {
                if n == 0 {
                    return Ok(used);
                }
                input = &input[n..];
                used += n;
                continue;
            };
            each(event);
            input = &input[n..];
            used += n;
        }
    }

    /// The fast path of [`decode_all`](Self::decode_all): the shallow walk over the whole
    /// entries at the start of `input` (zero-copy, the one-shot decoder's step), stopping at
    /// the first entry that is cut, ends the set or fails; `decode` then takes that one and
    /// reports it. Returns the bytes taken.
    #[inline]
    fn whole_entries<F>(&mut self, input: &[u8], each: &mut F) -> usize
    where
        F: FnMut(StreamEvent<'_>),
    {
        let Some(base) = self.base_offset.checked_add(self.valid) else {
            return 0;
        };
        let avail = (input.len() as u64).min(self.remaining) as usize;
        let mut rest = &input[..avail];
        let (mut pos, mut stop) = (0, Stop::Running);
        // A cut entry at `pos` 0 is an error to `top_entry`, and any error stops the walk:
        // `decode` sees the same entry and decides, so events and errors stay those of `decode`.
        while let Ok(Some(m)) =
            top_entry(&mut rest, &mut pos, base, &self.opts, &self.crc, &mut stop)
        {
            each(StreamEvent::Message(m));
        }
        self.remaining -= pos as u64;
        self.at += pos as u64;
        self.valid += pos as u64;
        pos
    }

    fn head<'s>(&mut self, input: &'s [u8]) -> Result<(usize, Option<StreamEvent<'s>>)> {
        let n = (6 - self.head_fill).min(input.len());
        self.head[self.head_fill..self.head_fill + n].copy_from_slice(&input[..n]);
        self.head_fill += n;
        self.at += n as u64;
        if self.head_fill >= 4 {
            let size = i32::from_be_bytes([self.head[0], self.head[1], self.head[2], self.head[3]]);
            let bad = if size <= 0 {
                Some(ErrorKind::InvalidFrameSize(size))
            } else if size as usize > self.max_frame {
                Some(ErrorKind::LengthExceedsLimit {
                    length: size as u64,
                    limit: self.max_frame as u64,
                })
            } else if size < 2 {
                Some(ErrorKind::Truncated {
                    needed: 2,
                    available: size as u64,
                })
            } else {
                None
            };
            if let Some(kind) = bad {
                let e = Error::new(kind, Layer::Frame, 0);
                return self.fail(e);
            }
            if self.head_fill == 6 {
                self.remaining = size as u64 - 2;
                self.state = State::Len;
                let error = ErrorCode(i16::from_be_bytes([self.head[4], self.head[5]]));
                return Ok((
                    n,
                    Some(StreamEvent::Header {
                        error,
                        message_set_len: self.remaining,
                    }),
                ));
            }
        }
        Ok((n, None))
    }

    fn length<'s>(&'s mut self, input: &'s [u8]) -> Result<(usize, Option<StreamEvent<'s>>)> {
        if self.remaining == 0 && self.len_fill == 0 {
            self.state = State::Done;
            return Ok((
                0,
                Some(StreamEvent::End {
                    valid_bytes: self.valid,
                    stop: Stop::End,
                }),
            ));
        }
        let entry_at = self.at - self.len_fill as u64;
        if self.remaining + (self.len_fill as u64) < LENGTH_PREFIX as u64 {
            let stop = Stop::Trailing {
                at: entry_at,
                bytes: self.remaining,
            };
            self.len_fill = 0;
            self.state = State::Skip {
                left: self.remaining,
                stop,
            };
            return self.decode(input);
        }
        // Gather the 4-byte length prefix.
        let mut used = 0;
        if self.len_fill == 0 && input.len() >= LENGTH_PREFIX {
            self.len.copy_from_slice(&input[..LENGTH_PREFIX]);
        } else {
            let n = (LENGTH_PREFIX - self.len_fill).min(input.len());
            self.len[self.len_fill..self.len_fill + n].copy_from_slice(&input[..n]);
            self.len_fill += n;
            self.at += n as u64;
            self.remaining -= n as u64;
            used = n;
            if self.len_fill < LENGTH_PREFIX {
                return Ok((used, None));
            }
        }
        let n = i32::from_be_bytes(self.len);
        if n < 0 {
            let e = self.err(ErrorKind::NegativeLength(n.into()), entry_at);
            return self.lax_or_fail(e, used, input);
        }
        let total = LENGTH_PREFIX as u64 + n as u64;
        // Bytes of this entry still to come, prefix included when it was not gathered.
        let in_flight = self.remaining + self.len_fill as u64;
        if total > in_flight {
            let available = in_flight;
            if self.valid == 0 && !self.opts.lax {
                let e = self.err(
                    ErrorKind::MessageLargerThanFetch {
                        needed: total,
                        available,
                    },
                    entry_at,
                );
                return self.fail(e);
            }
            let stop = Stop::Cut {
                at: entry_at,
                needed: total,
                available,
            };
            self.len_fill = 0;
            self.state = State::Skip {
                left: self.remaining,
                stop,
            };
            let (more, event) = self.decode(&input[used..])?;
            return Ok((used + more, event));
        }
        let total = total as usize;
        if self.len_fill == 0 && input.len() >= total {
            // Zero-copy: the whole entry is in this piece.
            self.remaining -= total as u64;
            self.at += total as u64;
            let entry: &'s [u8] = &input[..total];
            return match check_entry(
                entry,
                entry_at,
                self.valid,
                self.base_offset,
                &self.opts,
                &self.crc,
            ) {
                Ok(checked) => {
                    self.valid = checked.end;
                    self.state = State::Len;
                    Ok((total, Some(event(entry, checked))))
                }
                Err(e) => self.lax_or_fail(e, total, input),
            };
        }
        // Assemble it in the buffer.
        let capacity = self.buf.as_ref().len();
        if total > capacity {
            let e = self.err(
                ErrorKind::MessageTooLarge {
                    size: total as u64,
                    capacity: capacity as u64,
                },
                entry_at,
            );
            return self.fail(e);
        }
        let len = self.len;
        self.buf.as_mut()[..LENGTH_PREFIX].copy_from_slice(&len);
        self.fill = LENGTH_PREFIX;
        if self.len_fill == 0 {
            self.at += LENGTH_PREFIX as u64;
            self.remaining -= LENGTH_PREFIX as u64;
            used = LENGTH_PREFIX;
        }
        self.len_fill = 0;
        self.state = State::Body { total };
        Ok((used, None))
    }

    fn body<'s>(
        &'s mut self,
        input: &'s [u8],
        total: usize,
    ) -> Result<(usize, Option<StreamEvent<'s>>)> {
        let n = (total - self.fill).min(input.len());
        self.buf.as_mut()[self.fill..self.fill + n].copy_from_slice(&input[..n]);
        self.fill += n;
        self.at += n as u64;
        self.remaining -= n as u64;
        if self.fill < total {
            return Ok((n, None));
        }
        self.fill = 0;
        let entry_at = self.at - total as u64;
        // Check the assembled entry first: on error the decoder may go on (lax) and must be
        // free to borrow itself again.
        let checked = match check_entry(
            &self.buf.as_ref()[..total],
            entry_at,
            self.valid,
            self.base_offset,
            &self.opts,
            &self.crc,
        ) {
            Ok(c) => c,
            Err(e) => return self.lax_or_fail(e, n, input),
        };
        self.valid = checked.end;
        self.state = State::Len;
        let buf: &'s B = &self.buf;
        Ok((n, Some(event(&buf.as_ref()[..total], checked))))
    }

    /// Lax mode: an entry error ends the message set; the rest of the response is skipped
    /// (keeping the connection aligned) and [`StreamEvent::End`] reports it. Strict: fail.
    fn lax_or_fail<'s>(
        &'s mut self,
        e: Error,
        used: usize,
        input: &'s [u8],
    ) -> Result<(usize, Option<StreamEvent<'s>>)> {
        if !self.opts.lax {
            self.state = State::Failed(e);
            return Err(e);
        }
        self.len_fill = 0;
        self.fill = 0;
        self.state = State::Skip {
            left: self.remaining,
            stop: Stop::Error(e),
        };
        let (more, event) = self.decode(&input[used..])?;
        Ok((used + more, event))
    }
}

/// What [`check_entry`] established about an entry (no borrow of it).
#[derive(Clone, Copy, Debug)]
struct Checked {
    crc: CrcStatus,
    position: u64,
    offset: u64,
    /// Valid bytes after this entry.
    end: u64,
}

/// Validates an entry (header, CRC policy, offset range) at response position `entry_at`,
/// with `valid` message-set bytes before it.
#[inline]
fn check_entry(
    entry: &[u8],
    entry_at: u64,
    valid: u64,
    base_offset: u64,
    opts: &DecodeOptions,
    crc: &Crc,
) -> Result<Checked> {
    // `entry` is exactly `4 + N` bytes with `N >= 0` (checked by the caller): only the header
    // is left to validate.
    let message =
        MessageView::from_entry(entry).map_err(|e| e.shifted(entry_at).in_layer(Layer::Stream))?;
    let crc = apply_crc(&message, opts.crc_policy, crc, 0).map_err(|e| e.shifted(entry_at))?;
    let end = valid + entry.len() as u64;
    let Some(offset) = base_offset.checked_add(end) else {
        return Err(Error::new(
            ErrorKind::OffsetOverflow { base: base_offset },
            Layer::Stream,
            entry_at,
        ));
    };
    Ok(Checked {
        crc,
        position: base_offset + valid,
        offset,
        end,
    })
}

/// The message event for an entry [`check_entry`] accepted (not validated again).
#[inline]
fn event(entry: &[u8], c: Checked) -> StreamEvent<'_> {
    StreamEvent::Message(MessageAndOffset {
        message: MessageView::from_checked(entry),
        position: c.position,
        offset: c.offset,
        crc: c.crc,
        depth: 0,
    })
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use alloc::string::String;
    use alloc::vec::Vec;

    /// Every event `decode` yields, fed `piece`-byte pieces, as comparable values.
    fn by_decode(resp: &[u8], piece: usize, opts: DecodeOptions) -> Vec<Result<String>> {
        let mut dec = FetchStream::with_options([0u8; 64], 5, opts, 1 << 20);
        let mut got = Vec::new();
        for p in resp.chunks(piece) {
            let mut input = p;
            loop {
                match dec.decode(input) {
                    Ok((used, ev)) => {
                        if let Some(ev) = ev {
                            got.push(Ok(alloc::format!("{ev:?}")));
                        } else if used == 0 {
                            break;
                        }
                        input = &input[used..];
                    }
                    Err(e) => {
                        got.push(Err(e));
                        return got;
                    }
                }
            }
        }
        got
    }

    fn by_decode_all(resp: &[u8], piece: usize, opts: DecodeOptions) -> Vec<Result<String>> {
        let mut dec = FetchStream::with_options([0u8; 64], 5, opts, 1 << 20);
        let mut got = Vec::new();
        for p in resp.chunks(piece) {
            let r = dec.decode_all(p, |ev| got.push(Ok(alloc::format!("{ev:?}"))));
            if let Err(e) = r {
                got.push(Err(e));
                return got;
            }
        }
        got
    }

    #[test]
    fn decode_all_yields_what_decode_yields() {
        let m = |p: &[u8]| crate::MessageRepr::new(p).to_vec().unwrap();
        let mut bad_crc = m(b"corrupt");
        bad_crc[12] ^= 1;
        let mut bad_magic = m(b"magic");
        bad_magic[4] = 7;
        let sets: [Vec<u8>; 6] = [
            [m(b"hello"), m(b"there"), m(&[9; 40])].concat(),
            [m(b"a"), m(b"b"), m(b"cut")[..9].to_vec()].concat(),
            [m(b"a"), bad_crc.clone(), m(b"c")].concat(),
            [m(b"a"), bad_magic, m(b"c")].concat(),
            [m(b"a"), alloc::vec![0xff, 0xff, 0xff, 0xff, 0]].concat(),
            [m(b"a"), alloc::vec![0, 0]].concat(),
        ];
        for set in sets {
            let mut resp = ((set.len() + 2) as u32).to_be_bytes().to_vec();
            resp.extend_from_slice(&[0, 0]);
            resp.extend_from_slice(&set);
            for lax in [false, true] {
                let opts = DecodeOptions::default().lax(lax);
                for piece in [1, 3, 7, 16, 25, 1000] {
                    let a = by_decode(&resp, piece, opts);
                    assert_eq!(
                        by_decode_all(&resp, piece, opts),
                        a,
                        "piece {piece} lax {lax}"
                    );
                }
            }
        }
    }
}
