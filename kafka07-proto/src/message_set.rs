//! Message sets: `[int32 N][N bytes]` entries back to back, with the reference iterator's
//! semantics (spec §3 and §5).
//!
//! Every yielded message carries the reference's *next-fetch* offset: the position right after
//! its entry, counted from the caller's base offset (the fetch offset). A cut trailing entry
//! ends the set silently — the fetch size normally cuts the last message — unless it is the
//! first entry, which is [`ErrorKind::MessageLargerThanFetch`] naming the bytes needed.

use crate::error::{Error, ErrorKind, Layer, Result};
use crate::gzip::Backend;
use crate::message::{Crc, CrcStatus, MessageRepr, MessageView, LENGTH_PREFIX};

/// What to do with each message's CRC.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum CrcPolicy {
    /// Check it; a mismatch is an error and ends iteration (the 0.7.1+ reference).
    #[default]
    Verify,
    /// Do not compute it (the 0.7.0 reference, and the broker's fetch path).
    Skip,
    /// Check it, yield the message anyway, and say it is corrupt in [`CrcStatus`].
    Report,
}

/// Options for iterating message sets, shallow and deep.
///
/// ```
/// use kafka07_proto::{CrcPolicy, DecodeOptions};
/// let opts = DecodeOptions::default().crc(CrcPolicy::Report).lax(true).max_depth(2);
/// assert_eq!(opts.crc_policy, CrcPolicy::Report);
/// // The same, usable in a `const`:
/// const OPTS: DecodeOptions = DecodeOptions::new().crc(CrcPolicy::Report).lax(true).max_depth(2);
/// assert_eq!(OPTS, opts);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DecodeOptions {
    /// CRC policy for every message, wrappers included.
    pub crc_policy: CrcPolicy,
    /// Lax mode (for captures and forensic reads): instead of returning an error, iteration
    /// stops and [`Stop`] says where and why.
    pub lax: bool,
    /// Deepest nesting of compressed wrappers that deep iteration descends into (1 = a wrapper
    /// of plain messages). Deeper is [`ErrorKind::NestingTooDeep`].
    pub max_depth: u8,
    /// Most decompressed bytes deep iteration may produce, per wrapper and in total.
    pub max_decompressed: usize,
    /// The engine deep iteration inflates gzip wrappers with (default miniz_oxide). Every
    /// backend yields the same messages and errors; see [`Backend`].
    pub inflate: Backend,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl DecodeOptions {
    /// The default options (as [`Default::default`], usable in `const`): CRCs verified, strict,
    /// nesting depth 4, 64 MiB of decompressed bytes, the miniz_oxide inflate backend.
    pub const fn new() -> Self {
        DecodeOptions {
            crc_policy: CrcPolicy::Verify,
            lax: false,
            max_depth: 4,
            max_decompressed: 64 * 1024 * 1024,
            inflate: Backend::MinizOxide,
        }
    }

    /// Sets the CRC policy.
    #[must_use]
    pub const fn crc(mut self, policy: CrcPolicy) -> Self {
        self.crc_policy = policy;
        self
    }

    /// Sets lax mode.
    #[must_use]
    pub const fn lax(mut self, lax: bool) -> Self {
        self.lax = lax;
        self
    }

    /// Sets the maximum nesting depth.
    #[must_use]
    pub const fn max_depth(mut self, depth: u8) -> Self {
        self.max_depth = depth;
        self
    }

    /// Sets the decompressed-bytes limit.
    #[must_use]
    pub const fn max_decompressed(mut self, bytes: usize) -> Self {
        self.max_decompressed = bytes;
        self
    }

    /// Sets the inflate backend for gzip wrappers.
    #[must_use]
    pub const fn inflate(mut self, backend: Backend) -> Self {
        self.inflate = backend;
        self
    }
}

/// A message with the offsets the reference attaches to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MessageAndOffset<'a> {
    /// The message.
    pub message: MessageView<'a>,
    /// Where its entry starts (base offset + position). For a message inside a compressed
    /// wrapper: where the outermost wrapper starts.
    pub position: u64,
    /// The reference's offset: where a consumer resumes to get the messages after this one
    /// (spec §5.2, §5.3).
    pub offset: u64,
    /// The outcome of the CRC policy.
    pub crc: CrcStatus,
    /// Nesting depth: 0 at top level, 1 inside a wrapper, and so on.
    pub depth: u8,
}

/// Why an iteration stopped (see [`Shallow::stop`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stop {
    /// Still iterating.
    Running,
    /// Every byte was consumed by complete entries.
    End,
    /// 1 to 3 bytes were left: too few for a length prefix (ignored, as the reference does).
    Trailing {
        /// Input position of the leftover bytes.
        at: u64,
        /// How many.
        bytes: u64,
    },
    /// A trailing entry is cut short (normal at the end of a fetch response).
    Cut {
        /// Input position of the cut entry.
        at: u64,
        /// Its full size, `4 + N`.
        needed: u64,
        /// Bytes of it present.
        available: u64,
    },
    /// An error ended iteration (in lax mode it was not returned as an item).
    Error(Error),
}

/// A message set over borrowed bytes, fetched at `base_offset`.
///
/// ```
/// use kafka07_proto::MessageSet;
/// // Spec §12.3: entries "hello" and "there", fetched at offset 1000.
/// let bytes = [
///     0, 0, 0, 0x0b, 1, 0, 0x36, 0x10, 0xa6, 0x86, b'h', b'e', b'l', b'l', b'o',
///     0, 0, 0, 0x0b, 1, 0, 0x5a, 0x2f, 0xe9, 0x96, b't', b'h', b'e', b'r', b'e',
/// ];
/// let set = MessageSet::new(&bytes, 1000);
/// let got: Vec<(u64, &[u8])> = set
///     .shallow()
///     .map(|m| m.map(|m| (m.offset, m.message.payload())))
///     .collect::<Result<_, _>>()?;
/// assert_eq!(got, [(1015, &b"hello"[..]), (1030, &b"there"[..])]);
/// assert_eq!(set.valid_bytes()?, 30);
/// # Ok::<(), kafka07_proto::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MessageSet<'a> {
    bytes: &'a [u8],
    base_offset: u64,
}

impl<'a> MessageSet<'a> {
    /// A set over `bytes`, whose first byte is at log offset `base_offset`.
    pub const fn new(bytes: &'a [u8], base_offset: u64) -> Self {
        MessageSet { bytes, base_offset }
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The offset of the first byte.
    pub const fn base_offset(&self) -> u64 {
        self.base_offset
    }

    /// Number of raw bytes.
    pub const fn len(&self) -> usize {
        self.bytes.len()
    }

    /// `true` for an empty set (valid everywhere, spec E10).
    pub const fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Shallow iteration with default options (CRC verified, strict).
    pub fn shallow(&self) -> Shallow<'a> {
        self.shallow_with(DecodeOptions::default())
    }

    /// Shallow iteration: top-level entries, wrappers yielded as they are.
    pub fn shallow_with(&self, opts: DecodeOptions) -> Shallow<'a> {
        Shallow {
            rest: self.bytes,
            pos: 0,
            base_offset: self.base_offset,
            opts,
            stop: Stop::Running,
            crc: Crc::new(),
        }
    }

    /// The reference's `validBytes` (spec §3.3): bytes covered by the leading run of complete
    /// top-level entries, CRCs verified. Fails as the reference does: on a cut or negative
    /// first entry, any negative length, and any bad CRC.
    pub fn valid_bytes(&self) -> Result<usize> {
        self.valid_bytes_with(DecodeOptions::default())
    }

    /// [`valid_bytes`](Self::valid_bytes) under other options (lax mode never fails).
    pub fn valid_bytes_with(&self, opts: DecodeOptions) -> Result<usize> {
        let mut it = self.shallow_with(opts);
        for m in &mut it {
            m?;
        }
        Ok(it.position())
    }
}

/// Shallow iterator over a [`MessageSet`]; fused after an error or the end.
#[derive(Clone, Debug)]
pub struct Shallow<'a> {
    /// The bytes from `pos` on.
    rest: &'a [u8],
    pos: usize,
    base_offset: u64,
    opts: DecodeOptions,
    stop: Stop,
    crc: Crc,
}

impl<'a> Shallow<'a> {
    /// Bytes consumed by complete entries so far (equals `valid_bytes` once finished).
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Why iteration stopped ([`Stop::Running`] until it has).
    pub fn stop(&self) -> Stop {
        self.stop
    }

    fn fail(&mut self, e: Error) -> Option<Result<MessageAndOffset<'a>>> {
        self.stop = Stop::Error(e);
        if self.opts.lax {
            None
        } else {
            Some(Err(e))
        }
    }
}

/// Reads the entry at the start of `rest` (at input position `at`, first entry if `first`),
/// under the reference's rules. `Ok(None)` ends the set with `stop` set accordingly.
#[inline]
pub(crate) fn next_entry<'a>(
    rest: &'a [u8],
    at: usize,
    first: bool,
    stop: &mut Stop,
) -> Result<Option<MessageView<'a>>> {
    let Some(prefix) = rest.first_chunk::<4>() else {
        *stop = if rest.is_empty() {
            Stop::End
        } else {
            Stop::Trailing {
                at: at as u64,
                bytes: rest.len() as u64,
            }
        };
        return Ok(None);
    };
    let n = i32::from_be_bytes(*prefix);
    if n < 0 {
        return Err(Error::new(
            ErrorKind::NegativeLength(n.into()),
            Layer::MessageSet,
            at as u64,
        ));
    }
    let needed = LENGTH_PREFIX as u64 + n as u64;
    if needed > rest.len() as u64 {
        let available = rest.len() as u64;
        if first {
            return Err(Error::new(
                ErrorKind::MessageLargerThanFetch { needed, available },
                Layer::MessageSet,
                at as u64,
            ));
        }
        *stop = Stop::Cut {
            at: at as u64,
            needed,
            available,
        };
        return Ok(None);
    }
    // The prefix, sign and completeness are checked: only the header remains (one match).
    match MessageView::from_entry(&rest[..needed as usize]) {
        Ok(m) => Ok(Some(m)),
        Err(e) => Err(e.shifted(at as u64)),
    }
}

/// The error for a base offset plus position past `u64::MAX` (found at input position `at`).
pub(crate) fn overflow(base: u64, at: usize) -> Error {
    Error::new(
        ErrorKind::OffsetOverflow { base },
        Layer::MessageSet,
        at as u64,
    )
}

/// Applies the CRC policy to `m` found at input position `at`.
#[inline(always)]
pub(crate) fn apply_crc(
    m: &MessageView<'_>,
    policy: CrcPolicy,
    crc: &Crc,
    at: usize,
) -> Result<CrcStatus> {
    match policy {
        CrcPolicy::Skip => Ok(CrcStatus::Unchecked),
        CrcPolicy::Report => Ok(m.check_crc_with(crc)),
        CrcPolicy::Verify => match m.check_crc_with(crc) {
            CrcStatus::Mismatch { stored, computed } => Err(Error::new(
                ErrorKind::CrcMismatch { stored, computed },
                Layer::Message,
                at as u64,
            )),
            ok => Ok(ok),
        },
    }
}

impl<'a> Iterator for Shallow<'a> {
    type Item = Result<MessageAndOffset<'a>>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if !matches!(self.stop, Stop::Running) {
            return None;
        }
        match top_entry(
            &mut self.rest,
            &mut self.pos,
            self.base_offset,
            &self.opts,
            &self.crc,
            &mut self.stop,
        ) {
            Ok(Some(m)) => Some(Ok(m)),
            Ok(None) => None,
            Err(e) => self.fail(e),
        }
    }
}

/// One top-level step of the reference iterator, shared by [`Shallow`] and deep iteration:
/// reads the entry at the start of `*rest` (input position `*pos`), applies the CRC policy and
/// the offset range check, and advances `*rest` and `*pos` past it. `Ok(None)` ends the set with `stop` set (in lax mode a cut first entry too);
/// `Err` is for the caller to fail with.
#[inline]
pub(crate) fn top_entry<'a>(
    rest: &mut &'a [u8],
    pos: &mut usize,
    base_offset: u64,
    opts: &DecodeOptions,
    crc: &Crc,
    stop: &mut Stop,
) -> Result<Option<MessageAndOffset<'a>>> {
    let at = *pos;
    let message = match next_entry(rest, at, at == 0, stop) {
        Ok(Some(m)) => m,
        Ok(None) => return Ok(None),
        Err(e) => {
            if let (true, ErrorKind::MessageLargerThanFetch { needed, available }) =
                (opts.lax, e.kind())
            {
                *stop = Stop::Cut {
                    at: at as u64,
                    needed,
                    available,
                };
                return Ok(None);
            }
            return Err(e);
        }
    };
    let crc = apply_crc(&message, opts.crc_policy, crc, at)?;
    let len = message.wire_len();
    let end = at + len;
    let offset = base_offset
        .checked_add(end as u64)
        .ok_or_else(|| overflow(base_offset, at))?;
    *pos = end;
    *rest = rest.get(len..).unwrap_or(&[]);
    Ok(Some(MessageAndOffset {
        message,
        position: base_offset + at as u64,
        offset,
        crc,
        depth: 0,
    }))
}

impl core::iter::FusedIterator for Shallow<'_> {}

/// Bytes [`emit_set`] writes for `messages`.
pub fn set_wire_len<P: AsRef<[u8]>>(messages: &[MessageRepr<P>]) -> usize {
    messages.iter().map(MessageRepr::wire_len).sum()
}

/// Encodes `messages` back to back as a message set at the start of `out`.
///
/// ```
/// use kafka07_proto::{emit_set, MessageRepr, MessageSet};
/// let msgs = [MessageRepr::new(&b"a"[..]), MessageRepr::new(&b"bc"[..])];
/// let mut buf = [0u8; 64];
/// let n = emit_set(&msgs, &mut buf)?;
/// assert_eq!(n, 11 + 12);
/// assert_eq!(MessageSet::new(&buf[..n], 0).valid_bytes()?, n);
/// # Ok::<(), kafka07_proto::Error>(())
/// ```
pub fn emit_set<P: AsRef<[u8]>>(messages: &[MessageRepr<P>], out: &mut [u8]) -> Result<usize> {
    let total = set_wire_len(messages);
    if out.len() < total {
        return Err(crate::wire::insufficient(total, out.len()));
    }
    let mut at = 0;
    for m in messages {
        at += m.emit(&mut out[at..])?;
    }
    Ok(at)
}
