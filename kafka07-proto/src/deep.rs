//! Deep iteration: descend into gzip and snappy wrappers (nested too) and yield the inner
//! messages with the reference's offsets (spec §4, §5.3).
//!
//! Decompression writes into caller scratch: no allocation, and running out of scratch — or of
//! the configured maximum of decompressed bytes — is a clean error (the decompression-bomb
//! guard). Every declared length is checked against what is present before it is used.

use heapless::Vec as StackVec;

use crate::error::{Error, ErrorKind, Layer, Result};
use crate::message::{Codec, Crc, CrcStatus, MessageView, HEADER_V0, LENGTH_PREFIX};
use crate::message_set::{
    apply_crc, next_entry, top_entry, CrcPolicy, DecodeOptions, MessageAndOffset, MessageSet, Stop,
};

/// The deepest nesting deep iteration supports, whatever [`DecodeOptions::max_depth`] says.
pub const MAX_NESTING: usize = 16;

/// Where decompressed content goes.
#[derive(Debug)]
enum Space<'a> {
    /// A caller slice, consumed from the front.
    Slice(&'a mut [u8]),
    /// An arena that grows as needed (up to `max_decompressed`).
    #[cfg(feature = "alloc")]
    Arena(&'a bumpalo::Bump),
}

/// The gzip inflater deep iteration reuses across wrappers: created on the first gzip wrapper
/// for the backend [`DecodeOptions::inflate`] names, then only reset per member
/// (`gzip::decompress_in`). Without `alloc` each wrapper gets a fresh one on the stack.
#[cfg(feature = "alloc")]
#[derive(Debug)]
struct InflaterSlot(Option<alloc::boxed::Box<crate::gzip::Inflater>>);

/// Where [`Deep`] keeps its inflater: its own, or its [`DeepCursor`]'s (shared by the
/// cursor's entries).
#[cfg(feature = "alloc")]
#[derive(Debug)]
enum InflaterRef<'a> {
    Own(InflaterSlot),
    Lent(&'a mut InflaterSlot),
}

#[cfg(feature = "alloc")]
impl InflaterRef<'_> {
    fn decompress(
        &mut self,
        backend: crate::gzip::Backend,
        input: &[u8],
        out: &mut [u8],
    ) -> core::result::Result<Inflated, crate::gzip::GzipError> {
        let slot = match self {
            InflaterRef::Own(slot) => slot,
            InflaterRef::Lent(slot) => &mut **slot,
        };
        if !matches!(&slot.0, Some(i) if i.backend() == backend) {
            slot.0 = None;
        }
        let inflater = slot
            .0
            .get_or_insert_with(|| alloc::boxed::Box::new(crate::gzip::Inflater::new(backend)));
        crate::gzip::decompress_in_deferred(inflater, input, out)
    }
}

/// What a gzip wrapper inflated to, and its trailer CRC when that is left for deep iteration
/// to check (see [`member_crc`]).
type Inflated = (crate::gzip::GzipInfo, Option<crate::gzip::DeferredCrc>);

#[cfg(not(feature = "alloc"))]
#[derive(Debug)]
struct InflaterRef;

#[cfg(not(feature = "alloc"))]
impl InflaterRef {
    fn decompress(
        &mut self,
        backend: crate::gzip::Backend,
        input: &[u8],
        out: &mut [u8],
    ) -> core::result::Result<Inflated, crate::gzip::GzipError> {
        let mut inflater = crate::gzip::Inflater::new(backend);
        crate::gzip::decompress_in_deferred(&mut inflater, input, out)
    }
}

#[derive(Clone, Copy, Debug)]
struct Level<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Entries before this position whose payload is at least [`COMBINE_MIN`] bytes have had
    /// their CRC computed and matched while the wrapper's trailer CRC was checked.
    verified_until: usize,
}

/// Payloads at least this long get their CRC computed once, while the gzip trailer CRC is
/// checked, and joined into it by CRC combination; shorter ones are hashed with the bytes
/// around them in one pass, as the trailer check's own (BENCHMARKS.md: joining one payload
/// costs about as much as hashing ~360 bytes in a long run, so shorter ones gain nothing).
pub(crate) const COMBINE_MIN: usize = 384;

/// Computes the CRC-32 of a gzip member's output `out` (a decompressed message set) without
/// hashing the payloads of long messages twice: each payload of at least [`COMBINE_MIN`]
/// bytes is hashed on its own — the CRC its message check needs — and joined in by CRC
/// combination; every other byte (headers, short messages, anything that is not a complete
/// entry) is hashed in runs. The result is the CRC-32 of `out`, exactly, whatever `out` holds.
///
/// Returns it and the position before which every long payload matched its stored CRC (the
/// entries are read with the same rules iteration uses, so the payloads are the same bytes).
/// With [`CrcPolicy::Skip`], or when the first entry is short (the others are then assumed
/// short too: a heuristic that only decides the cost, never the result), no message is
/// checked and `out` is hashed in one pass.
pub(crate) fn member_crc(out: &[u8], policy: CrcPolicy, crc: &Crc) -> (u32, usize) {
    use crate::crc_combine::{combine, extend_short};
    let join = |acc: u32, bytes: &[u8]| {
        if bytes.len() <= 16 {
            extend_short(acc, bytes)
        } else {
            combine(acc, crc.hash(bytes), bytes.len())
        }
    };
    let (mut acc, mut covered, mut verified_until) = (0u32, 0usize, 0usize);
    // A wrapper's messages tend to be alike: when the first one is short, walking the rest
    // costs more than it can save, and the output is hashed in one pass.
    let first_is_long = out
        .first_chunk::<4>()
        .is_some_and(|p| i32::from_be_bytes(*p) >= (COMBINE_MIN + HEADER_V0) as i32);
    if policy != CrcPolicy::Skip && first_is_long {
        // The walk follows the length prefixes as iteration does (so an entry at a position
        // is the same bytes for both) and splits only entries long enough to matter.
        let (mut pos, mut all_ok) = (0usize, true);
        while let Some(prefix) = out.get(pos..).and_then(<[u8]>::first_chunk::<4>) {
            let n = i32::from_be_bytes(*prefix);
            let Ok(n) = usize::try_from(n) else { break };
            let Some(end) = (pos + LENGTH_PREFIX)
                .checked_add(n)
                .filter(|&e| e <= out.len())
            else {
                break;
            };
            if n >= COMBINE_MIN + HEADER_V0 {
                let Ok(m) = MessageView::from_entry(&out[pos..end]) else {
                    break;
                };
                let (stored, payload) = m.split();
                if payload.len() >= COMBINE_MIN {
                    acc = join(acc, &out[covered..end - payload.len()]);
                    let c = crc.hash(payload);
                    acc = combine(acc, c, payload.len());
                    covered = end;
                    all_ok &= c == stored;
                }
            }
            pos = end;
            if all_ok {
                verified_until = end;
            }
        }
    }
    (join(acc, &out[covered..]), verified_until)
}

#[derive(Clone, Copy, Debug)]
struct Leaf<'a> {
    message: MessageView<'a>,
    crc: CrcStatus,
    depth: u8,
}

/// Deep iterator over a [`MessageSet`]; see [`MessageSet::deep`].
///
/// Yields plain messages: top-level ones with their next-entry offset, and the content of
/// every wrapper with the reference rule — all inner messages but the last carry the outermost
/// wrapper's start offset, the last carries the offset after the wrapper; an empty wrapper
/// yields nothing. Because the reference answers "is this the last one?" by reading ahead, an
/// error in an inner message is returned in place of the message before it (spec §5.3 step 5).
/// Fused after an error.
#[derive(Debug)]
pub struct Deep<'a> {
    /// The top-level bytes from `pos` on.
    rest: &'a [u8],
    base: u64,
    pos: usize,
    opts: DecodeOptions,
    space: Space<'a>,
    decompressed: usize,
    stack: StackVec<Level<'a>, MAX_NESTING>,
    pending: Option<Leaf<'a>>,
    wrapper_start: u64,
    /// Added to the offsets of top-level (depth 0) errors: the entry's position when a
    /// [`DeepCursor`] iterates one entry of a larger input.
    shift: u64,
    stop: Stop,
    crc: Crc,
    #[cfg(feature = "alloc")]
    inflater: InflaterRef<'a>,
    #[cfg(not(feature = "alloc"))]
    inflater: InflaterRef,
}

impl<'a> MessageSet<'a> {
    /// Deep iteration with decompression space taken from `scratch`.
    ///
    /// Decompressed content stays in `scratch` while the iterator lives (yielded messages
    /// borrow it), so `scratch` bounds the total decompressed size of the set; see
    /// [`DeepCursor`] to reuse scratch per top-level entry when scanning long inputs.
    ///
    /// ```
    /// use kafka07_proto::{gzip, Codec, DecodeOptions, MessageRepr, MessageSet};
    /// // A gzip wrapper of [a, b] between two plain messages, fetched at offset 1000.
    /// let inner = [MessageRepr::new(&b"a"[..]).to_vec()?, MessageRepr::new(&b"b"[..]).to_vec()?].concat();
    /// let mut gz = Vec::new();
    /// gzip::compress(&inner, &mut gz);
    /// let wrapper = MessageRepr::with_codec(Codec::Gzip, &gz[..]).to_vec()?;
    /// let set = [MessageRepr::new(&b"x"[..]).to_vec()?, wrapper.clone(), MessageRepr::new(&b"y"[..]).to_vec()?].concat();
    /// let mut scratch = [0u8; 1024];
    /// let got: Vec<(u64, Vec<u8>)> = MessageSet::new(&set, 1000)
    ///     .deep(&mut scratch, DecodeOptions::default())
    ///     .map(|m| m.map(|m| (m.offset, m.message.payload().to_vec())))
    ///     .collect::<Result<_, _>>()?;
    /// let after_wrapper = 1000 + 11 + wrapper.len() as u64;
    /// assert_eq!(got, [
    ///     (1011, b"x".to_vec()),
    ///     (1011, b"a".to_vec()),           // not the last inner message: the wrapper's start
    ///     (after_wrapper, b"b".to_vec()),  // the last: the offset after the wrapper
    ///     (after_wrapper + 11, b"y".to_vec()),
    /// ]);
    /// # Ok::<(), kafka07_proto::Error>(())
    /// ```
    pub fn deep(&self, scratch: &'a mut [u8], opts: DecodeOptions) -> Deep<'a> {
        self.deep_into(Space::Slice(scratch), opts, Crc::new())
    }

    /// Deep iteration with decompression space allocated from an arena, as much as each
    /// wrapper needs (bounded by [`DecodeOptions::max_decompressed`] in total). Reuse the
    /// arena across fetches with `Bump::reset`.
    ///
    /// ```
    /// use kafka07_proto::{wrap, Codec, DecodeOptions, MessageRepr, MessageSet};
    /// let w = wrap(Codec::Gzip, &[MessageRepr::new(&b"hello"[..])])?.unwrap().to_vec()?;
    /// let mut arena = bumpalo::Bump::new();
    /// for _fetch in 0..3 {
    ///     let got: Vec<Vec<u8>> = MessageSet::new(&w, 0)
    ///         .deep_in(&arena, DecodeOptions::default())
    ///         .map(|m| m.map(|m| m.message.payload().to_vec()))
    ///         .collect::<Result<_, _>>()?;
    ///     assert_eq!(got, [b"hello".to_vec()]);
    ///     arena.reset();
    /// }
    /// # Ok::<(), kafka07_proto::Error>(())
    /// ```
    #[cfg(feature = "alloc")]
    pub fn deep_in(&self, arena: &'a bumpalo::Bump, opts: DecodeOptions) -> Deep<'a> {
        self.deep_into(Space::Arena(arena), opts, Crc::new())
    }

    /// `crc`: a hasher set up beforehand (its CPU detection done), cloned per message.
    fn deep_into(&self, space: Space<'a>, opts: DecodeOptions, crc: Crc) -> Deep<'a> {
        Deep {
            rest: self.as_bytes(),
            base: self.base_offset(),
            pos: 0,
            opts,
            space,
            decompressed: 0,
            stack: StackVec::new(),
            pending: None,
            wrapper_start: 0,
            shift: 0,
            stop: Stop::Running,
            crc,
            #[cfg(feature = "alloc")]
            inflater: InflaterRef::Own(InflaterSlot(None)),
            #[cfg(not(feature = "alloc"))]
            inflater: InflaterRef,
        }
    }
}

impl<'a> Deep<'a> {
    /// Why iteration stopped ([`Stop::Running`] until it has). Positions in a [`Stop`] are
    /// top-level input positions.
    pub fn stop(&self) -> Stop {
        self.stop
    }

    /// Decompressed bytes produced so far.
    pub fn decompressed(&self) -> usize {
        self.decompressed
    }

    /// Top-level bytes consumed by complete entries so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    fn fail(&mut self, e: Error) -> Option<Result<MessageAndOffset<'a>>> {
        let e = if e.depth() == 0 {
            e.shifted(self.shift)
        } else {
            e
        };
        self.stop = Stop::Error(e);
        self.pending = None;
        self.stack.clear();
        if self.opts.lax {
            None
        } else {
            Some(Err(e))
        }
    }

    fn max_depth(&self) -> usize {
        (self.opts.max_depth as usize).min(MAX_NESTING)
    }

    /// Decompresses `wrapper` (found at `at` in a buffer at nesting `depth`) into scratch.
    fn inflate(
        &mut self,
        wrapper: &MessageView<'a>,
        at: usize,
        depth: u8,
    ) -> Result<(&'a [u8], Option<crate::gzip::DeferredCrc>)> {
        let payload_at = (at + wrapper.wire_len() - wrapper.payload().len()) as u64;
        let limit_left = self.opts.max_decompressed.saturating_sub(self.decompressed);
        let max_decompressed = self.opts.max_decompressed as u64;
        let codec_err = |kind: ErrorKind, layer: Layer, offset: usize| {
            Error::new(kind, layer, payload_at + offset as u64).at_depth(depth)
        };
        let short = |needed: u64, free: usize| -> Error {
            let kind = if free <= limit_left {
                ErrorKind::ScratchExhausted {
                    needed,
                    available: free as u64,
                }
            } else {
                ErrorKind::DecompressedLimit {
                    limit: max_decompressed,
                }
            };
            Error::new(kind, Layer::MessageSet, at as u64).at_depth(depth)
        };
        let payload = wrapper.payload();
        // The gzip trailer's ISIZE: a size hint only (mod 2^32, and possibly hostile).
        let isize_hint = payload
            .last_chunk::<4>()
            .map_or(0, |b| u32::from_le_bytes(*b) as usize);
        let mut deferred = None;
        let filled: &'a [u8] = match &mut self.space {
            Space::Slice(free) => {
                let room = free.len().min(limit_left);
                let n = match wrapper.codec() {
                    Codec::Gzip => match self.inflater.decompress(
                        self.opts.inflate,
                        payload,
                        &mut free[..room],
                    ) {
                        Ok((info, d)) => {
                            deferred = d;
                            info.output_len
                        }
                        Err(e) => {
                            if let crate::gzip::GzipErrorKind::OutputLimit { .. } = e.kind {
                                let needed = (isize_hint as u64).max(room as u64 + 1);
                                return Err(short(needed, free.len()));
                            }
                            return Err(codec_err(ErrorKind::Gzip(e.kind), Layer::Gzip, e.offset));
                        }
                    },
                    Codec::Snappy => {
                        let snappy = |e: crate::snappy::SnappyError| {
                            codec_err(ErrorKind::Snappy(e.kind), Layer::Snappy, e.offset)
                        };
                        // One walk of the framing: `decompress` sizes the output itself and
                        // reports the total when it does not fit, before writing anything.
                        match crate::xerial::decompress(payload, &mut free[..room]) {
                            Ok((n, _)) => n,
                            Err(crate::snappy::SnappyError {
                                kind: crate::snappy::SnappyErrorKind::OutputTooSmall { needed },
                                ..
                            }) => return Err(short(needed as u64, free.len())),
                            Err(e) => return Err(snappy(e)),
                        }
                    }
                    Codec::None => 0,
                };
                let (filled, rest) = core::mem::take(free).split_at_mut(n);
                *free = rest;
                filled
            }
            #[cfg(feature = "alloc")]
            Space::Arena(arena) => {
                let arena: &'a bumpalo::Bump = arena;
                match wrapper.codec() {
                    Codec::Gzip => {
                        let mut size = isize_hint.max(64).min(limit_left);
                        loop {
                            let buf = arena.alloc_slice_fill_copy(size, 0u8);
                            match self.inflater.decompress(self.opts.inflate, payload, buf) {
                                Ok((info, d)) => {
                                    deferred = d;
                                    break &buf[..info.output_len];
                                }
                                Err(e) => match e.kind {
                                    crate::gzip::GzipErrorKind::OutputLimit { .. }
                                        if size < limit_left =>
                                    {
                                        size = size.saturating_mul(2).min(limit_left);
                                    }
                                    crate::gzip::GzipErrorKind::OutputLimit { .. } => {
                                        return Err(short(limit_left as u64 + 1, usize::MAX))
                                    }
                                    k => {
                                        return Err(codec_err(
                                            ErrorKind::Gzip(k),
                                            Layer::Gzip,
                                            e.offset,
                                        ))
                                    }
                                },
                            }
                        }
                    }
                    Codec::Snappy => {
                        let snappy = |e: crate::snappy::SnappyError| {
                            codec_err(ErrorKind::Snappy(e.kind), Layer::Snappy, e.offset)
                        };
                        let needed = crate::xerial::decompressed_len(payload).map_err(snappy)?;
                        if needed > limit_left {
                            return Err(short(needed as u64, usize::MAX));
                        }
                        let buf = arena.alloc_slice_fill_copy(needed, 0u8);
                        let n = crate::xerial::decompress(payload, buf).map_err(snappy)?.0;
                        &buf[..n]
                    }
                    Codec::None => &[],
                }
            }
        };
        self.decompressed += filled.len();
        Ok((filled, deferred))
    }

    /// The next plain message inside the current wrapper, descending into nested wrappers;
    /// `None` when the outermost wrapper's content is exhausted.
    fn next_inner(&mut self) -> Result<Option<Leaf<'a>>> {
        loop {
            let depth = self.stack.len() as u8;
            let Some(level) = self.stack.last_mut() else {
                return Ok(None);
            };
            let at = level.pos;
            let rest = &level.bytes[at..];
            let mut stop = Stop::Running;
            // Inside a decompressed set the usual rules apply with initial offset 0.
            let entry = next_entry(rest, at, at == 0, &mut stop).map_err(|e| e.at_depth(depth))?;
            let Some(message) = entry else {
                self.stack.pop();
                continue;
            };
            level.pos += message.wire_len();
            let crc = if at < level.verified_until && message.payload().len() >= COMBINE_MIN {
                // Hashed and matched while the wrapper's trailer CRC was checked.
                CrcStatus::Valid
            } else {
                apply_crc(&message, self.opts.crc_policy, &self.crc, at)
                    .map_err(|e| e.at_depth(depth))?
            };
            if message.is_compressed() {
                self.descend(&message, at, depth)?;
                continue;
            }
            return Ok(Some(Leaf {
                message,
                crc,
                depth,
            }));
        }
    }

    fn descend(&mut self, wrapper: &MessageView<'a>, at: usize, depth: u8) -> Result<()> {
        if depth as usize >= self.max_depth() {
            return Err(Error::new(
                ErrorKind::NestingTooDeep {
                    limit: self.max_depth() as u8,
                },
                Layer::MessageSet,
                at as u64,
            )
            .at_depth(depth));
        }
        let (bytes, deferred) = self.inflate(wrapper, at, depth)?;
        let verified_until = match deferred {
            Some(d) => {
                let (computed, verified_until) = member_crc(bytes, self.opts.crc_policy, &self.crc);
                if computed != d.stored {
                    let payload_at = at + wrapper.wire_len() - wrapper.payload().len();
                    let e = d.mismatch(computed);
                    return Err(Error::new(
                        ErrorKind::Gzip(e.kind),
                        Layer::Gzip,
                        (payload_at + e.offset) as u64,
                    )
                    .at_depth(depth));
                }
                verified_until
            }
            None => 0,
        };
        // Cannot fail: depth < max_depth <= MAX_NESTING.
        let _ = self.stack.push(Level {
            bytes,
            pos: 0,
            verified_until,
        });
        Ok(())
    }
}

impl<'a> Iterator for Deep<'a> {
    type Item = Result<MessageAndOffset<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.stop != Stop::Running {
                return None;
            }
            if let Some(leaf) = self.pending.take() {
                // Inside a wrapper: read ahead to learn whether `leaf` is the last one.
                let offset = match self.next_inner() {
                    Ok(Some(next)) => {
                        self.pending = Some(next);
                        self.wrapper_start
                    }
                    Ok(None) => self.base + self.pos as u64,
                    Err(e) => return self.fail(e),
                };
                return Some(Ok(MessageAndOffset {
                    message: leaf.message,
                    position: self.wrapper_start,
                    offset,
                    crc: leaf.crc,
                    depth: leaf.depth,
                }));
            }
            let m = match top_entry(
                &mut self.rest,
                &mut self.pos,
                self.base,
                &self.opts,
                &self.crc,
                &mut self.stop,
            ) {
                Ok(Some(m)) => m,
                Ok(None) => return None,
                Err(e) => return self.fail(e),
            };
            if !m.message.is_compressed() {
                return Some(Ok(m));
            }
            self.wrapper_start = m.position;
            let (message, at) = (m.message, (m.position - self.base) as usize);
            let first = self
                .descend(&message, at, 0)
                .and_then(|()| self.next_inner());
            match first {
                Ok(Some(leaf)) => self.pending = Some(leaf),
                // An empty wrapper: nothing to yield, the offset moves past it.
                Ok(None) => {}
                Err(e) => return self.fail(e),
            }
        }
    }
}

impl core::iter::FusedIterator for Deep<'_> {}

/// Deep iteration in bounded memory for long inputs (segments, captures): scratch is reused
/// for every top-level entry, so it only has to hold one wrapper's content.
///
/// A lending iterator: [`next_entry`](Self::next_entry) returns a [`Deep`] over one top-level
/// entry, with the reference offsets, borrowing the scratch until it is dropped.
///
/// ```
/// use kafka07_proto::{DecodeOptions, DeepCursor, MessageRepr, MessageSet};
/// let set = [MessageRepr::new(&b"a"[..]).to_vec()?, MessageRepr::new(&b"b"[..]).to_vec()?].concat();
/// let mut scratch = [0u8; 64];
/// let mut cursor = DeepCursor::new(MessageSet::new(&set, 0), &mut scratch, DecodeOptions::default());
/// let mut offsets = Vec::new();
/// while let Some(entry) = cursor.next_entry() {
///     for m in entry? {
///         offsets.push(m?.offset);
///     }
/// }
/// assert_eq!(offsets, [11, 22]);
/// # Ok::<(), kafka07_proto::Error>(())
/// ```
#[derive(Debug)]
pub struct DeepCursor<'a, 's> {
    shallow: crate::message_set::Shallow<'a>,
    shallow_base: u64,
    scratch: &'s mut [u8],
    opts: DecodeOptions,
    /// Set up once (crc32fast's CPU detection), handed to every entry's [`Deep`].
    crc: Crc,
    #[cfg(feature = "alloc")]
    inflater: InflaterSlot,
}

impl<'a, 's> DeepCursor<'a, 's> {
    /// A cursor over `set`.
    pub fn new(set: MessageSet<'a>, scratch: &'s mut [u8], opts: DecodeOptions) -> Self {
        DeepCursor {
            shallow: set.shallow_with(opts),
            shallow_base: set.base_offset(),
            scratch,
            opts,
            crc: Crc::new(),
            #[cfg(feature = "alloc")]
            inflater: InflaterSlot(None),
        }
    }

    /// The messages of the next top-level entry (one plain message, or a wrapper's content).
    pub fn next_entry(&mut self) -> Option<Result<Deep<'_>>> {
        let m = match self.shallow.next()? {
            Ok(m) => m,
            Err(e) => return Some(Err(e)),
        };
        let one = MessageSet::new(m.message.as_bytes(), m.position);
        let mut deep = one.deep_into(
            Space::Slice(&mut *self.scratch),
            self.opts,
            self.crc.clone(),
        );
        deep.shift = m.position - self.shallow_base;
        #[cfg(feature = "alloc")]
        {
            deep.inflater = InflaterRef::Lent(&mut self.inflater);
        }
        Some(Ok(deep))
    }

    /// Why the top-level walk stopped.
    pub fn stop(&self) -> Stop {
        self.shallow.stop()
    }

    /// Top-level bytes consumed by complete entries so far.
    pub fn position(&self) -> usize {
        self.shallow.position()
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    /// Entries with short and long payloads (some with a wrong stored CRC), then garbage.
    fn content() -> impl Strategy<Value = Vec<u8>> {
        let payload = prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..30),
            proptest::collection::vec(any::<u8>(), COMBINE_MIN - 2..COMBINE_MIN + 2),
            proptest::collection::vec(any::<u8>(), COMBINE_MIN..2500),
        ];
        (
            proptest::collection::vec((payload, any::<bool>(), any::<bool>()), 0..8),
            proptest::collection::vec(any::<u8>(), 0..40),
        )
            .prop_map(|(entries, garbage)| {
                let mut out = Vec::new();
                for (p, magic0, bad_crc) in entries {
                    let crc = crate::message::crc32(&p) ^ u32::from(bad_crc);
                    let n = p.len() + if magic0 { 5 } else { 6 };
                    out.extend_from_slice(&(n as u32).to_be_bytes());
                    out.push(u8::from(!magic0));
                    if !magic0 {
                        out.push(0);
                    }
                    out.extend_from_slice(&crc.to_be_bytes());
                    out.extend_from_slice(&p);
                }
                out.extend_from_slice(&garbage);
                out
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn member_crc_is_the_crc_of_the_bytes(
            out in content(),
            cut in any::<prop::sample::Index>(),
            flips in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 0..3),
            policy in prop_oneof![Just(CrcPolicy::Verify), Just(CrcPolicy::Report), Just(CrcPolicy::Skip)],
        ) {
            let mut out = out;
            out.truncate(cut.index(out.len() + 1));
            for (at, f) in &flips {
                if !out.is_empty() {
                    let i = at.index(out.len());
                    out[i] ^= f;
                }
            }
            let (crc, verified_until) = member_crc(&out, policy, &Crc::new());
            prop_assert_eq!(crc, crc32fast::hash(&out));
            prop_assert!(verified_until <= out.len());
            if policy == CrcPolicy::Skip {
                prop_assert_eq!(verified_until, 0);
            }
            // Every entry before `verified_until` with a long payload has a matching CRC.
            let mut pos = 0;
            let mut stop = Stop::Running;
            while let Ok(Some(m)) = next_entry(&out[pos..], pos, pos == 0, &mut stop) {
                if pos < verified_until && m.payload().len() >= COMBINE_MIN {
                    prop_assert!(m.crc_matches(), "entry at {} claimed verified", pos);
                }
                pos += m.wire_len();
            }
        }
    }
}
