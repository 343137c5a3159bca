//! The fuzz oracles of `kafka07-proto`: one check per fuzz target, in one place.
//!
//! The cargo-fuzz targets (`fuzz/fuzz_targets/<name>.rs`) call these functions, and so does
//! the stable regression replay (`kafka07-proto/tests/fuzz_regressions.rs`, which includes
//! this file with `#[path]`), so a crasher found by libFuzzer is replayed by `cargo test`
//! through exactly the same checks. Only `kafka07_proto`, `snap`, `flate2` and `std` are used:
//! the file builds in both places, on stable.
//!
//! `#[cfg(feature = "zlib-rs")]` means "kafka07-proto has its `zlib-rs` feature" in both
//! places: in the fuzz crate it is the crate's own (default) feature `zlib-rs`, which turns on
//! `kafka07-proto/zlib-rs`; in the replay it is kafka07-proto's own feature (an integration
//! test sees its package's features), off in `cargo test -p kafka07-proto` and on in
//! `cargo test --workspace` (kafka07-io turns it on). With it, the `gzip`, `deep` and
//! `deep_cursor` checks also run everything through `gzip::Backend::ZlibRs` and require the
//! default backend's (miniz_oxide's) results exactly. `#[cfg(feature = "snappy")]` works the
//! same way (the fuzz crate's default feature `snappy` turns on kafka07-proto's; the replay
//! sees kafka07-proto's, a default): it gates `xerial::compress`, so that the replay also
//! builds with `--no-default-features --features alloc`.
//!
//! Every check takes the raw fuzz input, splits off a few parameter bytes at the front (the
//! layout is in each function's documentation; missing bytes read as zero), and panics when
//! an oracle fails. "Never falls over" is the baseline (no panic, no overflow, no endless
//! loop, bounded allocation); on top of it each check compares the decoder with an
//! independent answer: a re-encoding, another entry point over the same bytes, another
//! decoder (`snap`, `flate2`), or the same decoder with different resources.

use std::collections::HashMap;
use std::io::Read;

use kafka07_proto::{
    crc32, emit_set, frame as find_frame, gzip, set_wire_len, snappy, xerial, Codec, CrcPolicy,
    CrcStatus, DecodeOptions, DeepCursor, Error, ErrorCode, ErrorKind, Expect, FetchRequest,
    FetchResponse, FetchStream, Frame, Layer, MessageAndOffset, MessageRepr, MessageSet,
    MessageView, MultiFetchRequest, MultiFetchResponse, MultiProduceRequest, OffsetsRequest,
    OffsetsResponse, Parts, ProduceRequest, Request, RequestType, Response, Session, Stop,
    StreamEvent, DEFAULT_MAX_FRAME, MAX_NESTING,
};

/// A target's check: panics when an oracle fails.
pub type Check = fn(&[u8]);

/// Every target: its name (the `fuzz_targets/<name>.rs` binary, the `corpus/<name>/` and
/// `regressions/<name>/` directories) and its check.
pub const TARGETS: &[(&str, Check)] = &[
    ("frame", frame),
    ("request", request),
    ("response", response),
    ("shallow", shallow),
    ("deep", deep),
    ("deep_cursor", deep_cursor),
    ("gzip", gzip_decode),
    ("xerial", xerial_decode),
    ("snappy_diff", snappy_diff),
    ("roundtrip", roundtrip),
    ("stream", stream),
];

/// The parameter prefixes the seed corpora use, per target: every real vector is written
/// once behind each prefix (`fuzz/examples/make_seeds.rs`). The layouts are documented on
/// the checks; these pick the reference behaviour (CRC verified, strict, ample resources)
/// plus a variant or two that reaches another branch.
pub const SEED_PARAMS: &[(&str, &[&[u8]])] = &[
    // max = default; max = 64 bytes.
    ("frame", &[&[0xff, 0xff], &[0x00, 0x40]]),
    ("request", &[&[]]),
    // FETCH; OFFSETS; MULTIFETCH of 1 and of 2 parts.
    (
        "response",
        &[&[0, 0, 0], &[1, 0, 0], &[2, 0, 1], &[2, 0, 2]],
    ),
    // verify, strict, base 0; report, lax, base 1000.
    (
        "shallow",
        &[
            &[0, 0, 0, 0, 0, 0, 0, 0, 0],
            &[6, 0, 0, 0, 0, 0, 0, 7, 0xd0],
        ],
    ),
    // verify, strict, depth 4, 16 KiB scratch, no limit, base 0 / base 1000.
    (
        "deep",
        &[
            &[0, 4, 0x40, 0, 0xff, 0xff, 0, 0, 0, 0],
            &[0, 4, 0x40, 0, 0xff, 0xff, 0, 0, 0x03, 0xe8],
        ],
    ),
    (
        "deep_cursor",
        &[&[0, 4, 0x40, 0, 0xff, 0xff, 0, 0, 0x03, 0xe8]],
    ),
    // 64 KiB - 1 of output.
    ("gzip", &[&[0xff, 0xff]]),
    ("xerial", &[&[0xff, 0xff]]),
    ("snappy_diff", &[&[]]),
    ("roundtrip", &[&[]]),
    // verify, strict, frame-sized buffer, base 1000, pieces of 1..=16 and 1..=256 bytes,
    // default frame limit.
    (
        "stream",
        &[
            &[0, 0, 0, 0, 0, 0x03, 0xe8, 15, 0, 0, 0, 1, 0],
            &[0, 0, 0, 0, 0, 0x03, 0xe8, 255, 0x12, 0x34, 0x56, 0x78, 0],
        ],
    ),
];

// ---------------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------------

/// The first `N` bytes of `data` (zero-padded when it is shorter) and the rest.
fn split<const N: usize>(data: &[u8]) -> ([u8; N], &[u8]) {
    let mut p = [0u8; N];
    let n = data.len().min(N);
    p[..n].copy_from_slice(&data[..n]);
    (p, &data[n..])
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Decode options from one parameter byte: bits 0–1 the CRC policy (0 verify, 2 report, 1 and
/// 3 skip — mutated inputs seldom keep their CRCs), bit 2 lax mode.
fn options(b: u8) -> DecodeOptions {
    let policy = match b & 3 {
        0 => CrcPolicy::Verify,
        2 => CrcPolicy::Report,
        _ => CrcPolicy::Skip,
    };
    DecodeOptions::default().crc(policy).lax(b & 4 != 0)
}

/// Reads fields for building reprs out of fuzz bytes; reads past the end give zeros.
struct Src<'a>(&'a [u8]);

impl<'a> Src<'a> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    fn i32(&mut self) -> i32 {
        i32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    fn i64(&mut self) -> i64 {
        (i64::from(self.i32()) << 32) | i64::from(self.i32() as u32)
    }

    /// Up to `max` bytes, the count read from the input.
    fn bytes(&mut self, max: usize) -> &'a [u8] {
        let n = usize::from(self.u8()).min(max).min(self.0.len());
        let (taken, rest) = self.0.split_at(n);
        self.0 = rest;
        taken
    }
}

// ---------------------------------------------------------------------------------------------
// Owned records of an iteration, for comparing runs
// ---------------------------------------------------------------------------------------------

/// A yielded message, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Item {
    position: u64,
    offset: u64,
    crc: CrcStatus,
    depth: u8,
    bytes: Vec<u8>,
}

impl Item {
    fn of(m: &MessageAndOffset<'_>) -> Self {
        Item {
            position: m.position,
            offset: m.offset,
            crc: m.crc,
            depth: m.depth,
            bytes: m.message.as_bytes().to_vec(),
        }
    }
}

/// What one iteration produced.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Run {
    items: Vec<Item>,
    /// The error that ended it: returned as an item (strict) or reported by `stop()` (lax).
    error: Option<Error>,
    stop: Stop,
    /// Top-level bytes consumed by complete entries.
    position: usize,
}

fn is_resource(e: &Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ScratchExhausted { .. } | ErrorKind::DecompressedLimit { .. }
    )
}

/// Every getter of a checked view agrees with its bytes, and it re-encodes to them.
fn check_view(m: &MessageView<'_>) {
    let bytes = m.as_bytes();
    assert_eq!(m.wire_len(), bytes.len());
    assert_eq!(m.len_field() as usize + 4, bytes.len());
    assert_eq!(be32(bytes), m.len_field(), "length field");
    let header = match m.magic() {
        0 => 5,
        1 => 6,
        other => panic!("a view with magic {other} was accepted"),
    };
    assert_eq!(m.header_len(), header);
    assert_eq!(m.payload(), &bytes[4 + header..]);
    if m.magic() == 0 {
        assert_eq!((m.attributes(), m.codec()), (0, Codec::None));
    } else {
        assert_eq!(m.attributes(), bytes[5]);
        assert_eq!(m.codec().id(), bytes[5] & 3);
    }
    assert_eq!(m.is_compressed(), m.codec() != Codec::None);
    assert_eq!(m.stored_crc(), be32(&bytes[header..]));
    assert_eq!(m.computed_crc(), crc32(m.payload()));
    assert_eq!(m.crc_matches(), m.stored_crc() == m.computed_crc());
    assert_eq!(m.check_crc().is_ok(), m.crc_matches());
    assert_eq!(MessageView::new_checked(bytes), Ok(*m));
    let (repr, used) = MessageRepr::parse(bytes).expect("a checked view parses as a repr");
    assert_eq!((used, repr.wire_len()), (bytes.len(), bytes.len()));
    assert_eq!(repr.codec(), Ok(m.codec()));
    assert_eq!(
        repr.to_vec().expect("re-encode"),
        bytes,
        "view → repr → bytes"
    );
}

/// The CRC status a policy must give `m`.
fn check_crc(crc: CrcStatus, m: &MessageView<'_>, policy: CrcPolicy) {
    let expected = match policy {
        CrcPolicy::Skip => CrcStatus::Unchecked,
        _ if m.crc_matches() => CrcStatus::Valid,
        CrcPolicy::Report => CrcStatus::Mismatch {
            stored: m.stored_crc(),
            computed: m.computed_crc(),
        },
        CrcPolicy::Verify => panic!("CrcPolicy::Verify yielded a message with a bad CRC"),
    };
    assert_eq!(crc, expected);
}

/// How an iteration over `set` that consumed `position` bytes may have stopped.
fn check_stop(stop: Stop, position: usize, set: &[u8], opts: DecodeOptions, error: Option<Error>) {
    let at = position as u64;
    match stop {
        Stop::Running => panic!("iteration finished but stop() says Running"),
        Stop::End => assert_eq!(position, set.len()),
        Stop::Trailing { at: t, bytes } => {
            assert_eq!(t, at);
            assert!((1..=3).contains(&bytes));
            assert_eq!(t + bytes, set.len() as u64);
        }
        Stop::Cut {
            at: t,
            needed,
            available,
        } => {
            assert_eq!(t, at);
            assert_eq!(t + available, set.len() as u64);
            assert!(needed > available);
            assert_eq!(needed, 4 + u64::from(be32(&set[position..])));
            assert!(
                position > 0 || opts.lax,
                "a cut first entry must be an error"
            );
        }
        Stop::Error(e) => match error {
            Some(x) => assert_eq!(x, e),
            None => assert!(opts.lax),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Shallow
// ---------------------------------------------------------------------------------------------

fn stop_error(stop: Stop) -> Option<Error> {
    match stop {
        Stop::Error(e) => Some(e),
        _ => None,
    }
}

fn run_shallow(set: &[u8], base: u64, opts: DecodeOptions) -> Run {
    let ms = MessageSet::new(set, base);
    assert_eq!((ms.len(), ms.is_empty()), (set.len(), set.is_empty()));
    assert_eq!((ms.as_bytes(), ms.base_offset()), (set, base));
    let mut it = ms.shallow_with(opts);
    let mut items = Vec::new();
    let mut error = None;
    let mut at = 0usize;
    while let Some(r) = it.next() {
        assert!(error.is_none(), "an item after an error");
        match r {
            Ok(m) => {
                check_view(&m.message);
                check_crc(m.crc, &m.message, opts.crc_policy);
                let end = at + m.message.wire_len();
                assert_eq!(m.message.as_bytes(), &set[at..end]);
                let offset = base.checked_add(end as u64);
                assert_eq!(
                    Some(m.offset),
                    offset,
                    "an offset past u64::MAX was yielded"
                );
                assert_eq!(m.position, base + at as u64);
                assert_eq!(m.depth, 0);
                at = end;
                assert_eq!(it.position(), at);
                assert_eq!(it.stop(), Stop::Running);
                items.push(Item::of(&m));
            }
            Err(e) => {
                assert!(!opts.lax, "lax iteration returned an error: {e}");
                assert_eq!(it.stop(), Stop::Error(e));
                let _ = e.to_string();
                error = Some(e);
            }
        }
    }
    assert!(it.next().is_none(), "not fused");
    assert_eq!(it.position(), at);
    let stop = it.stop();
    check_stop(stop, at, set, opts, error);
    if let Some(e) = stop_error(stop) {
        if let ErrorKind::OffsetOverflow { base: b } = e.kind() {
            // The entry at `at` is complete and valid; only its end offset does not fit.
            assert_eq!((b, e.offset()), (base, at as u64));
            let len = 4 + u64::from(be32(&set[at..]));
            assert!(
                base.checked_add(at as u64 + len).is_none(),
                "a spurious overflow"
            );
        }
    }
    let error = error.or(match stop {
        Stop::Error(e) => Some(e),
        _ => None,
    });
    if let Some(e) = error {
        assert!(e.offset() <= set.len() as u64);
        assert_eq!(e.depth(), 0);
    }
    let valid = ms.valid_bytes_with(opts);
    match error {
        Some(e) if !opts.lax => assert_eq!(valid, Err(e)),
        _ => assert_eq!(valid, Ok(at)),
    }
    Run {
        items,
        error,
        stop,
        position: at,
    }
}

/// Lax and strict iteration yield the same messages; where strict returns an error, lax
/// stops and says why (a cut first entry is `Stop::Cut` there).
fn lax_matches_strict(strict: &Run, lax: &Run) {
    assert_eq!(
        lax.items, strict.items,
        "lax and strict yield different messages"
    );
    assert_eq!(lax.position, strict.position);
    match strict.error {
        Some(e) if e.depth() == 0 && e.layer() == Layer::MessageSet => {
            if let ErrorKind::MessageLargerThanFetch { needed, available } = e.kind() {
                let cut = Stop::Cut {
                    at: e.offset(),
                    needed,
                    available,
                };
                assert_eq!(lax.stop, cut);
                assert_eq!(lax.error, None);
                return;
            }
            assert_eq!(lax.stop, Stop::Error(e));
        }
        Some(e) => assert_eq!(lax.stop, Stop::Error(e)),
        None => assert_eq!(lax.stop, strict.stop),
    }
    assert_eq!(lax.error, strict.error);
}

/// Shallow iteration of a message set (any bytes).
///
/// Layout: `[options][base offset: u64 BE][set]`. Bases near `u64::MAX` must give
/// `OffsetOverflow` errors, never a panic or a wrapped offset (the `base_offset_near_u64_max`
/// regression).
///
/// Checks: every view's getters and its re-encoding; positions and next-fetch offsets follow
/// the reference rules exactly; `stop()`, `position()` and `valid_bytes_with` agree with what
/// was yielded; the CRC policy only decides how bad CRCs end the walk (Skip and Report walk
/// the same entries, Verify a prefix that ends at the first bad CRC); lax mode yields what
/// strict mode does and reports its error in `stop()` instead.
pub fn shallow(data: &[u8]) {
    let (p, set) = split::<9>(data);
    let opts = options(p[0]);
    let base = u64::from_be_bytes([p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8]]);
    let run = run_shallow(set, base, opts);
    let strict = run_shallow(set, base, opts.lax(false));
    if opts.lax {
        lax_matches_strict(&strict, &run);
    }
    let skip = run_shallow(set, base, opts.crc(CrcPolicy::Skip).lax(false));
    let same_entry =
        |a: &Item, b: &Item| (a.position, a.offset, &a.bytes) == (b.position, b.offset, &b.bytes);
    match opts.crc_policy {
        CrcPolicy::Skip | CrcPolicy::Report => {
            assert_eq!(strict.items.len(), skip.items.len());
            assert!(strict
                .items
                .iter()
                .zip(&skip.items)
                .all(|(a, b)| same_entry(a, b)));
            assert_eq!((strict.error, strict.stop), (skip.error, skip.stop));
        }
        CrcPolicy::Verify => {
            let n = strict.items.len();
            assert!(n <= skip.items.len());
            assert!(strict
                .items
                .iter()
                .zip(&skip.items)
                .all(|(a, b)| same_entry(a, b)));
            if n < skip.items.len() {
                let next = &skip.items[n];
                let view = MessageView::new_checked(&next.bytes).expect("yielded before");
                let e = strict.error.expect("Verify stopped early without an error");
                assert!(!view.crc_matches());
                assert_eq!(
                    e.kind(),
                    ErrorKind::CrcMismatch {
                        stored: view.stored_crc(),
                        computed: view.computed_crc()
                    }
                );
                assert_eq!(e.offset(), next.position - base);
            } else {
                match (strict.error, skip.error) {
                    // The CRC is checked before the offset range.
                    (Some(v), Some(k)) if matches!(k.kind(), ErrorKind::OffsetOverflow { .. }) => {
                        let crc = matches!(v.kind(), ErrorKind::CrcMismatch { .. });
                        assert!(v == k || (crc && v.offset() == k.offset()), "{v} / {k}");
                    }
                    _ => assert_eq!((strict.error, strict.stop), (skip.error, skip.stop)),
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Deep
// ---------------------------------------------------------------------------------------------

/// Scratch and limit of the "ample resources" runs the resource-limited runs are compared
/// with: 256 KiB, no decompressed-bytes limit.
const BIG_SCRATCH: usize = 256 * 1024;

/// `[options][max depth (bits 0-4); bit 7: base counts down from u64::MAX][scratch: u16 BE]
/// [max decompressed: u16 BE, 0xffff = none][base: u32 BE]`
fn deep_params(p: &[u8; 10]) -> (DecodeOptions, usize, u64) {
    let max_decompressed = match be16(&p[4..6]) {
        0xffff => usize::MAX,
        n => usize::from(n),
    };
    let opts = options(p[0])
        .max_depth(p[1] & 0x1f)
        .max_decompressed(max_decompressed);
    let base = u64::from(be32(&p[6..10]));
    let base = if p[1] & 0x80 != 0 {
        u64::MAX - base
    } else {
        base
    };
    (opts, usize::from(be16(&p[2..4])), base)
}

/// Checks one message yielded by deep iteration.
fn check_deep_item(m: &MessageAndOffset<'_>, opts: DecodeOptions) {
    check_view(&m.message);
    check_crc(m.crc, &m.message, opts.crc_policy);
    assert!(
        !m.message.is_compressed(),
        "deep iteration yielded a wrapper"
    );
    let max_depth = usize::from(opts.max_depth).min(MAX_NESTING);
    assert!(usize::from(m.depth) <= max_depth, "deeper than max_depth");
    assert!(m.offset >= m.position);
}

fn run_deep(set: &[u8], base: u64, opts: DecodeOptions, scratch_len: usize) -> Run {
    let mut scratch = vec![0u8; scratch_len];
    let mut it = MessageSet::new(set, base).deep(&mut scratch, opts);
    let mut items = Vec::new();
    let mut error = None;
    // Every message takes at least 9 bytes, of the input or of the scratch.
    let most = (set.len() + scratch_len) / 9 + 1;
    while let Some(r) = it.next() {
        assert!(error.is_none(), "an item after an error");
        match r {
            Ok(m) => {
                check_deep_item(&m, opts);
                items.push(Item::of(&m));
                assert!(items.len() <= most, "more messages than the bytes can hold");
            }
            Err(e) => {
                assert!(!opts.lax, "lax deep iteration returned an error: {e}");
                assert_eq!(it.stop(), Stop::Error(e));
                let _ = e.to_string();
                error = Some(e);
            }
        }
    }
    assert!(it.next().is_none(), "not fused");
    assert!(it.decompressed() <= scratch_len.min(opts.max_decompressed));
    let position = it.position();
    assert!(position <= set.len());
    let stop = it.stop();
    if error.is_none() && !matches!(stop, Stop::Error(_)) {
        check_stop(stop, position, set, opts, error);
    }
    let error = error.or(match stop {
        Stop::Error(e) => Some(e),
        _ => None,
    });
    if let Some(e) = error {
        let max_depth = opts.max_depth.min(MAX_NESTING as u8);
        assert!(e.depth() <= max_depth);
    }
    Run {
        items,
        error,
        stop,
        position,
    }
}

/// Deep iteration against shallow iteration of the same set (both strict, same policy): plain
/// top-level messages come out as they are, a wrapper's content carries the wrapper's start
/// offset except for its last message, which carries the offset after the wrapper, and a
/// deep error where shallow iteration has none comes from inside a wrapper.
fn deep_matches_shallow(deep: &Run, shallow: &Run) {
    let by_position: HashMap<u64, &Item> = shallow.items.iter().map(|i| (i.position, i)).collect();
    let wrapper = |i: &Item| {
        MessageView::new_checked(&i.bytes)
            .expect("yielded before")
            .is_compressed()
    };
    for (k, d) in deep.items.iter().enumerate() {
        let top = by_position
            .get(&d.position)
            .unwrap_or_else(|| panic!("deep position {} is no top-level entry", d.position));
        if d.depth == 0 {
            assert_eq!(d, *top, "a plain top-level message differs from shallow's");
        } else {
            assert!(wrapper(top), "an inner message outside any wrapper");
            let last_of_group = deep
                .items
                .get(k + 1)
                .map(|next| next.position != d.position);
            match last_of_group {
                // More of this wrapper follows: the wrapper's start.
                Some(false) => assert_eq!(d.offset, d.position, "non-last inner offset"),
                // The iteration moved on: this was the wrapper's last message.
                Some(true) => assert_eq!(d.offset, top.offset, "last inner offset"),
                // The last item: the wrapper's end unless an error came while reading ahead.
                None if deep.error.is_none() => assert_eq!(d.offset, top.offset),
                None => assert!(d.offset == d.position || d.offset == top.offset),
            }
        }
        if let Some(prev) = k.checked_sub(1).map(|j| &deep.items[j]) {
            assert!(d.position >= prev.position, "positions go back");
        }
    }
    let plain_deep: Vec<&Item> = deep.items.iter().filter(|i| i.depth == 0).collect();
    let plain_shallow: Vec<&Item> = shallow.items.iter().filter(|i| !wrapper(i)).collect();
    match (deep.error, shallow.error) {
        (None, None) => {
            assert_eq!(plain_deep, plain_shallow);
            assert_eq!((deep.stop, deep.position), (shallow.stop, shallow.position));
        }
        (None, Some(e)) => panic!("shallow fails ({e}) where deep does not"),
        (Some(e), shallow_error) if shallow_error != Some(e) => {
            let in_wrapper = e.depth() > 0
                || matches!(e.layer(), Layer::Gzip | Layer::Snappy | Layer::Xerial)
                || is_resource(&e)
                || matches!(e.kind(), ErrorKind::NestingTooDeep { .. });
            assert!(
                in_wrapper,
                "deep fails outside wrappers ({e}) where shallow does not"
            );
            assert!(plain_deep.len() <= plain_shallow.len());
            assert_eq!(plain_deep, plain_shallow[..plain_deep.len()]);
        }
        (Some(_), _) => {
            assert!(plain_deep.len() <= plain_shallow.len());
            assert_eq!(plain_deep, plain_shallow[..plain_deep.len()]);
        }
    }
}

/// Less scratch or a lower limit can only end the iteration earlier, with a resource error:
/// what a resource-limited run yields is a prefix of what an ample run yields.
fn prefix_unless_resource(small: &Run, big: &Run, same_error: fn(&Error, &Error) -> bool) {
    let common = small.items.len().min(big.items.len());
    assert_eq!(
        small.items[..common],
        big.items[..common],
        "less scratch changed the messages"
    );
    if big.error.as_ref().is_some_and(is_resource) {
        // Ample was not ample enough: only the common prefix can be compared.
        return;
    }
    match small.error {
        Some(e) if is_resource(&e) => {
            assert!(small.items.len() <= big.items.len());
        }
        Some(e) => {
            let b = big.error.unwrap_or_else(|| {
                panic!("less scratch gave an error ({e}) that is not about resources")
            });
            assert!(same_error(&e, &b), "errors differ: {e} / {b}");
            assert_eq!(small.items.len(), big.items.len());
        }
        None => {
            assert_eq!(
                big.error, None,
                "less scratch decoded what more scratch could not"
            );
            assert_eq!(small.items.len(), big.items.len());
            assert_eq!(small.stop, big.stop);
        }
    }
}

/// `opts` with the zlib-rs inflate backend, when there is one (the feature `zlib-rs`: the
/// fuzz crate's, which turns on kafka07-proto's; kafka07-proto's own in its `fuzz_regressions`
/// replay).
#[cfg(feature = "zlib-rs")]
fn with_zlib_rs(opts: DecodeOptions) -> Option<DecodeOptions> {
    Some(opts.inflate(gzip::Backend::ZlibRs))
}

/// Without the feature `zlib-rs` there is only the default inflate backend.
#[cfg(not(feature = "zlib-rs"))]
fn with_zlib_rs(_opts: DecodeOptions) -> Option<DecodeOptions> {
    None
}

/// The inflate backends' promise: `walk` with the zlib-rs backend yields what it yields with
/// the default one (`run`, miniz_oxide) — the same messages, offsets, positions and CRC
/// statuses, the same error, the same stop and position.
fn same_with_zlib_rs(run: &Run, opts: DecodeOptions, walk: impl FnOnce(DecodeOptions) -> Run) {
    if let Some(zlib) = with_zlib_rs(opts) {
        assert_eq!(walk(zlib), *run, "the zlib-rs inflate backend differs");
    }
}

/// Deep iteration (`MessageSet::deep`) of a message set with small scratch and a low
/// `max_decompressed`.
///
/// Layout: `[options][max depth (bits 0-4); bit 7: base counts down from u64::MAX]
/// [scratch: u16 BE][max decompressed: u16 BE, 0xffff = none][base offset: u32 BE][set]`.
///
/// Checks: the yielded messages' views, CRC statuses and depths; the reference offset rules
/// against a shallow walk of the same set; lax against strict; the same set with ample
/// scratch (resources only ever end the walk early, with a clean resource error); and, with
/// the feature `zlib-rs`, that the zlib-rs inflate backend yields exactly what the default
/// one does, both with the input's resources and options and with ample ones.
pub fn deep(data: &[u8]) {
    let (p, set) = split::<10>(data);
    let (opts, scratch_len, base) = deep_params(&p);
    let run = run_deep(set, base, opts, scratch_len);
    same_with_zlib_rs(&run, opts, |o| run_deep(set, base, o, scratch_len));
    let strict = if opts.lax {
        let strict = run_deep(set, base, opts.lax(false), scratch_len);
        lax_matches_strict(&strict, &run);
        strict
    } else {
        run
    };
    let shallow = run_shallow(set, base, opts.lax(false));
    deep_matches_shallow(&strict, &shallow);
    let ample = opts.lax(false).max_decompressed(usize::MAX);
    let big = run_deep(set, base, ample, BIG_SCRATCH);
    same_with_zlib_rs(&big, ample, |o| run_deep(set, base, o, BIG_SCRATCH));
    prefix_unless_resource(&strict, &big, |a, b| a == b);
}

fn run_cursor(set: &[u8], base: u64, opts: DecodeOptions, scratch_len: usize) -> Run {
    let mut scratch = vec![0u8; scratch_len];
    let mut cursor = DeepCursor::new(MessageSet::new(set, base), &mut scratch, opts);
    let mut items = Vec::new();
    let mut error = None;
    let mut entries = 0;
    'entries: while let Some(entry) = cursor.next_entry() {
        entries += 1;
        assert!(
            entries <= set.len() / 9 + 1,
            "more entries than the bytes can hold"
        );
        let mut deep = match entry {
            Ok(deep) => deep,
            Err(e) => {
                assert!(!opts.lax, "lax cursor returned an error: {e}");
                error = Some(e);
                break;
            }
        };
        let most = (set.len() + scratch_len) / 9 + 1;
        let mut in_entry = 0;
        for r in deep.by_ref() {
            match r {
                Ok(m) => {
                    check_deep_item(&m, opts);
                    items.push(Item::of(&m));
                    in_entry += 1;
                    assert!(in_entry <= most, "more messages than the bytes can hold");
                }
                Err(e) => {
                    assert!(!opts.lax, "lax cursor entry returned an error: {e}");
                    error = Some(e);
                    break 'entries;
                }
            }
        }
        assert!(deep.decompressed() <= scratch_len.min(opts.max_decompressed));
        // In lax mode an entry whose content fails stops quietly and the cursor goes on.
    }
    let stop = cursor.stop();
    let position = cursor.position();
    assert!(position <= set.len());
    if error.is_none() {
        check_stop(stop, position, set, opts, None);
    }
    Run {
        items,
        error,
        stop,
        position,
    }
}

/// `DeepCursor` (scratch reused per top-level entry).
///
/// Layout: as [`deep`]. Checks: the yielded messages, and in strict mode that the cursor
/// yields what `MessageSet::deep` with ample scratch yields for the whole set, errors
/// included, at set positions (the `deep_cursor_error_offsets` regression); resources only
/// ever end it early, with a resource error; and, with the feature `zlib-rs`, that the cursor
/// yields exactly the same with the zlib-rs inflate backend (one inflater, shared by all the
/// entries).
pub fn deep_cursor(data: &[u8]) {
    let (p, set) = split::<10>(data);
    let (opts, scratch_len, base) = deep_params(&p);
    let cursor = run_cursor(set, base, opts, scratch_len);
    same_with_zlib_rs(&cursor, opts, |o| run_cursor(set, base, o, scratch_len));
    if !opts.lax {
        let ample = opts.max_decompressed(usize::MAX);
        let big = run_deep(set, base, ample, BIG_SCRATCH);
        prefix_unless_resource(&cursor, &big, |a, b| a == b);
    }
}

// ---------------------------------------------------------------------------------------------
// Frames, requests, responses
// ---------------------------------------------------------------------------------------------

/// `frame()`, the framing every request and response goes through.
///
/// Layout: `[max: u16 BE, 0xffff = DEFAULT_MAX_FRAME][buffer]`. Checks the result against
/// the rules of spec §6.1 computed independently.
pub fn frame(data: &[u8]) {
    let (p, buf) = split::<2>(data);
    let max = match be16(&p) {
        0xffff => DEFAULT_MAX_FRAME,
        m => usize::from(m),
    };
    let got = find_frame(buf, max);
    let Some(prefix) = buf.first_chunk::<4>() else {
        assert_eq!(
            got,
            Ok(Frame::Partial {
                needed: 4 - buf.len()
            })
        );
        return;
    };
    let size = i32::from_be_bytes(*prefix);
    let kind = got.map_err(|e| (e.kind(), e.layer(), e.offset()));
    if size <= 0 {
        assert_eq!(
            kind,
            Err((ErrorKind::InvalidFrameSize(size), Layer::Frame, 0))
        );
    } else if size as usize > max {
        let limit = ErrorKind::LengthExceedsLimit {
            length: size as u64,
            limit: max as u64,
        };
        assert_eq!(kind, Err((limit, Layer::Frame, 0)));
    } else if buf.len() >= 4 + size as usize {
        let end = 4 + size as usize;
        assert_eq!(
            kind,
            Ok(Frame::Complete {
                body: &buf[4..end],
                consumed: end
            })
        );
    } else {
        let needed = 4 + size as usize - buf.len();
        assert_eq!(kind, Ok(Frame::Partial { needed }));
    }
}

/// `emit` into a buffer of exactly `len` bytes succeeds, and into one byte less fails cleanly
/// with `InsufficientSpace` naming `len`.
fn check_emit_sizes(len: usize, emit: impl Fn(&mut [u8]) -> kafka07_proto::Result<usize>) {
    let mut exact = vec![0u8; len];
    assert_eq!(emit(&mut exact), Ok(len));
    if let Some(short) = len.checked_sub(1) {
        let mut buf = vec![0u8; short];
        let kind = emit(&mut buf).map_err(|e| e.kind());
        let expected = ErrorKind::InsufficientSpace {
            needed: len as u64,
            available: short as u64,
        };
        assert_eq!(kind, Err(expected));
    }
}

/// A decoded request re-encodes to its frame, and its accessors agree with it.
fn check_request(r: &Request<'_>, frame_bytes: &[u8]) {
    assert_eq!(r.wire_len(), frame_bytes.len());
    assert_eq!(r.to_vec().expect("re-encode"), frame_bytes, "parse → emit");
    check_emit_sizes(r.wire_len(), |b| r.emit(b));
    let t = r.request_type();
    assert_eq!(t.id(), i16::from_be_bytes([frame_bytes[4], frame_bytes[5]]));
    assert_eq!(RequestType::from_id(t.id()), Some(t));
    assert_eq!(t.has_response(), r.expect().is_some());
    let _ = (t.to_string(), format!("{r:?}"));
    let mut session = Session::<2>::new();
    assert_eq!(session.sent(r), Ok(r.expect()));
    assert_eq!(session.pending(), usize::from(r.expect().is_some()));
    let walk = |set: MessageSet<'_>| {
        run_shallow(set.as_bytes(), set.base_offset(), options(2));
    };
    match r {
        Request::Produce(p) => walk(p.message_set()),
        Request::MultiProduce(m) => {
            assert_eq!(m.parts.iter().count(), m.parts.len());
            m.parts.iter().for_each(|p| walk(p.message_set()));
        }
        Request::MultiFetch(m) => {
            assert_eq!(m.parts.iter().count(), m.parts.len());
            assert_eq!(r.expect(), Some(Expect::MultiFetch(m.parts.len() as u16)));
        }
        Request::Fetch(f) => {
            let _ = f.topic.to_string();
        }
        Request::Offsets(o) => {
            let _ = format!("{:?}", o.topic);
        }
    }
}

/// Parse-then-emit for a request body (type id onwards): what `parse_prefix` used re-encodes
/// to the same bytes behind a size field.
fn check_request_body(r: &Request<'_>, body: &[u8]) {
    let size = (body.len() as u32).to_be_bytes();
    check_request(r, &[&size[..], body].concat());
}

/// `Request::decode`, `Request::parse` and `Request::parse_prefix`.
///
/// Layout: the whole input is a request frame (for `decode`) and a request body (for `parse`
/// and `parse_prefix`). Checks: the three entry points agree with each other and with
/// `frame()`, accepted requests re-encode to the exact input bytes, emit into short buffers
/// fails cleanly, and the parts and message sets of accepted requests iterate cleanly.
pub fn request(data: &[u8]) {
    let decoded = Request::decode(data);
    match find_frame(data, DEFAULT_MAX_FRAME) {
        Ok(Frame::Complete { body, consumed }) => {
            let parsed = Request::parse(body).map_err(|e| e.shifted(4));
            assert_eq!(decoded, parsed.map(|r| (r, consumed)));
            if let Ok((r, _)) = decoded {
                check_request(&r, &data[..consumed]);
            }
        }
        _ => assert!(decoded.is_err()),
    }
    let prefix = Request::parse_prefix(data);
    let strict = Request::parse(data);
    match prefix {
        Ok((r, used)) => {
            assert!(used <= data.len());
            if used == data.len() {
                assert_eq!(strict, Ok(r));
            } else {
                let kind = strict.map_err(|e| (e.kind(), e.offset()));
                let trailing = ErrorKind::TrailingBytes((data.len() - used) as u64);
                assert_eq!(kind, Err((trailing, used as u64)));
            }
            check_request_body(&r, &data[..used]);
        }
        Err(e) => {
            assert_eq!(strict, Err(e));
            let _ = e.to_string();
        }
    }
}

/// A decoded response re-encodes to its frame, and its accessors agree with it.
fn check_response(r: &Response<'_>, frame_bytes: &[u8], expect: Expect) {
    assert_eq!(r.expect(), expect);
    assert_eq!(r.wire_len(), frame_bytes.len());
    assert_eq!(r.to_vec().expect("re-encode"), frame_bytes, "parse → emit");
    check_emit_sizes(r.wire_len(), |b| r.emit(b));
    let error = r.error();
    assert_eq!(
        error.0,
        i16::from_be_bytes([frame_bytes[4], frame_bytes[5]])
    );
    let _ = (error.to_string(), error.name(), error.description());
    let walk = |f: &FetchResponse<'_>| {
        run_shallow(f.messages, 0, options(2));
        let _ = f.error.is_ok();
    };
    match r {
        Response::Fetch(f) => walk(f),
        Response::MultiFetch(m) => {
            assert_eq!(m.parts.iter().count(), m.parts.len());
            m.parts.iter().for_each(|f| walk(&f));
        }
        Response::Offsets(o) => {
            assert_eq!(o.offsets.iter().count(), o.offsets.len());
            let n = be32(&frame_bytes[6..]) as usize;
            assert_eq!(o.offsets.len(), n);
        }
    }
}

/// The expectation a response is parsed against, from 3 parameter bytes: `[kind][count: u16
/// BE]` with kind % 3 = 0 FETCH, 1 OFFSETS, 2 MULTIFETCH of `count` parts.
fn expect_from(p: &[u8; 3]) -> Expect {
    match p[0] % 3 {
        0 => Expect::Fetch,
        1 => Expect::Offsets,
        _ => Expect::MultiFetch(be16(&p[1..3])),
    }
}

/// `Response::decode` and `Response::parse` against an arbitrary `Expect`, and `Session`.
///
/// Layout: `[kind][count: u16 BE][response frame]` (see [`expect_from`]). Checks: decode and
/// parse agree with `frame()` and with each other, `Session::received` parses as
/// `Response::parse` does, accepted responses re-encode to the exact input bytes, and their
/// parts and message sets iterate cleanly.
pub fn response(data: &[u8]) {
    let (p, buf) = split::<3>(data);
    let expect = expect_from(&p);
    let decoded = Response::decode(buf, expect);
    match find_frame(buf, DEFAULT_MAX_FRAME) {
        Ok(Frame::Complete { body, consumed }) => {
            let parsed = Response::parse(body, expect);
            assert_eq!(
                decoded,
                parsed.map(|r| (r, consumed)).map_err(|e| e.shifted(4))
            );
            let mut session = Session::<4>::new();
            assert_eq!(session.push(expect), Ok(()));
            assert_eq!(session.next_expected(), Some(expect));
            assert_eq!(session.received(body), parsed);
            assert_eq!(session.pending(), 0);
            assert_eq!(
                session.received(body).map_err(|e| e.kind()),
                Err(ErrorKind::UnexpectedResponse)
            );
            if let Ok((r, _)) = decoded {
                check_response(&r, &buf[..consumed], expect);
            }
        }
        _ => assert!(decoded.is_err()),
    }
    if let Err(e) = decoded {
        let _ = e.to_string();
    }
}

/// Reprs built from fuzz bytes survive emit → parse unchanged.
fn emit_then_parse(data: &[u8]) {
    // Requests.
    let mut src = Src(data);
    let kind = src.u8() % 5;
    // (topic, partition, offset or time, max size or count, message set)
    type Fields<'a> = (&'a [u8], i32, i64, i32, &'a [u8]);
    let fields: Vec<Fields<'_>> = (0..1 + src.u8() % 4)
        .map(|_| {
            (
                src.bytes(40),
                src.i32(),
                src.i64(),
                src.i32(),
                src.bytes(255),
            )
        })
        .collect();
    let count = usize::from(src.u8()) % (fields.len() + 1);
    let fetches: Vec<FetchRequest<'_>> = fields
        .iter()
        .map(|&(topic, partition, offset, max, _)| FetchRequest::new(topic, partition, offset, max))
        .collect();
    let produces: Vec<ProduceRequest<'_>> = fields
        .iter()
        .map(|&(topic, partition, _, _, set)| ProduceRequest::new(topic, partition, set))
        .collect();
    let (topic, partition, time, max, _) = fields[0];
    let req = match kind {
        0 => Request::Produce(produces[0]),
        1 => Request::Fetch(fetches[0]),
        2 => Request::MultiFetch(MultiFetchRequest {
            parts: Parts::from_slice(&fetches[..count]),
        }),
        3 => Request::MultiProduce(MultiProduceRequest {
            parts: Parts::from_slice(&produces[..count]),
        }),
        _ => Request::Offsets(OffsetsRequest::new(topic, partition, time, max)),
    };
    let bytes = req.to_vec().expect("small requests encode");
    assert_eq!(
        Request::decode(&bytes),
        Ok((req, bytes.len())),
        "emit → parse"
    );
    // Responses.
    let error = ErrorCode(src.u16() as i16);
    let mut parts = Vec::new();
    let mut offsets = Vec::new();
    let resp = match src.u8() % 3 {
        0 => Response::Fetch(FetchResponse {
            error,
            messages: src.bytes(255),
        }),
        1 => {
            for _ in 0..src.u8() % 5 {
                let error = ErrorCode(src.u16() as i16);
                parts.push(FetchResponse {
                    error,
                    messages: src.bytes(255),
                });
            }
            Response::MultiFetch(MultiFetchResponse {
                error,
                parts: Parts::from_slice(&parts),
            })
        }
        _ => {
            for _ in 0..src.u8() % 8 {
                offsets.push(src.i64());
            }
            Response::Offsets(OffsetsResponse {
                error,
                offsets: Parts::from_slice(&offsets),
            })
        }
    };
    let bytes = resp.to_vec().expect("small responses encode");
    assert_eq!(
        Response::decode(&bytes, resp.expect()),
        Ok((resp, bytes.len())),
        "emit → parse"
    );
    // Messages and message sets.
    let mut reprs = Vec::new();
    for _ in 0..src.u8() % 6 {
        let magic = src.u8() & 1;
        let attributes = src.u8();
        let payload = src.bytes(255);
        let mut m = if magic == 0 {
            MessageRepr::magic0(payload)
        } else {
            MessageRepr::with_codec(Codec::None, payload)
        };
        m.attributes = if magic == 0 { 0 } else { attributes };
        if src.u8() & 1 == 1 {
            m.crc = src.i32() as u32;
        }
        reprs.push(m);
    }
    let mut set = vec![0u8; set_wire_len(&reprs)];
    assert_eq!(emit_set(&reprs, &mut set), Ok(set.len()));
    let mut at = 0;
    let walked: Vec<_> = MessageSet::new(&set, 0)
        .shallow_with(options(2))
        .map(|r| r.map(|m| MessageRepr::from(m.message)))
        .collect();
    if walked.iter().all(Result::is_ok) {
        assert_eq!(walked.len(), reprs.len());
    }
    for (r, m) in walked.iter().zip(&reprs) {
        match r {
            Ok(parsed) => {
                assert_eq!(parsed, m, "emit_set → shallow");
                at += m.wire_len();
            }
            Err(e) => {
                assert_eq!(m.codec(), Err(3), "only codec 3 is refused: {e}");
                assert_eq!(e.kind(), ErrorKind::UnknownCodec(3));
                assert_eq!(e.offset(), at as u64 + 5);
            }
        }
    }
}

/// Parse-then-emit over all reprs on the same bytes, and emit-then-parse of reprs built from
/// them.
///
/// Layout: the whole input, read as a request frame and body, a response frame and body
/// against FETCH, OFFSETS and MULTIFETCH of 0, 1, 2 and `data[0] % 8` parts, a message entry,
/// a message set; and as fields of requests, responses and messages to encode.
pub fn roundtrip(data: &[u8]) {
    if let Ok((r, used)) = Request::decode(data) {
        check_request(&r, &data[..used]);
    }
    if let Ok((r, used)) = Request::parse_prefix(data) {
        check_request_body(&r, &data[..used]);
    }
    let n = data.first().map_or(0, |&b| u16::from(b % 8));
    let expects = [
        Expect::Fetch,
        Expect::Offsets,
        Expect::MultiFetch(0),
        Expect::MultiFetch(1),
        Expect::MultiFetch(2),
        Expect::MultiFetch(n),
    ];
    for expect in expects {
        if let Ok((r, used)) = Response::decode(data, expect) {
            check_response(&r, &data[..used], expect);
        }
        if let Ok(r) = Response::parse(data, expect) {
            let size = (data.len() as u32).to_be_bytes();
            check_response(&r, &[&size[..], data].concat(), expect);
        }
    }
    if let Ok((m, used)) = MessageRepr::parse(data) {
        assert_eq!(m.to_vec().expect("re-encode"), &data[..used]);
    }
    let reprs: Vec<MessageRepr<&[u8]>> = MessageSet::new(data, 0)
        .shallow_with(options(1))
        .map_while(Result::ok)
        .map(|m| m.message.into())
        .collect();
    let len = set_wire_len(&reprs);
    check_emit_sizes(len, |b| emit_set(&reprs, b));
    let mut set = vec![0u8; len];
    assert_eq!(emit_set(&reprs, &mut set), Ok(len));
    assert_eq!(set, &data[..len], "set → reprs → set");
    emit_then_parse(data);
}

// ---------------------------------------------------------------------------------------------
// Streaming
// ---------------------------------------------------------------------------------------------

/// What a `FetchStream` produced from one response.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Fed {
    header: Option<(ErrorCode, u64)>,
    items: Vec<Item>,
    end: Option<(u64, Stop)>,
    error: Option<Error>,
    /// Input bytes the decoder used.
    consumed: usize,
    done: bool,
    valid_bytes: u64,
}

/// A stream event, owned.
enum Event {
    Header(ErrorCode, u64),
    Message,
    End(u64, Stop),
}

/// Feeds `resp` to `dec` in pieces whose sizes `piece` picks, until it is done or fails.
fn feed(
    dec: &mut FetchStream<Vec<u8>>,
    resp: &[u8],
    opts: DecodeOptions,
    mut piece: impl FnMut() -> usize,
) -> Fed {
    let mut fed = Fed::default();
    let mut rest = resp;
    let mut calls = 0usize;
    'pieces: while !rest.is_empty() && !dec.is_done() {
        let n = piece().clamp(1, rest.len());
        let (mut input, tail) = rest.split_at(n);
        rest = tail;
        loop {
            calls += 1;
            assert!(
                calls <= 4 * resp.len() + 64,
                "the stream decoder makes no progress"
            );
            let (used, event) = match dec.decode(input) {
                Ok((used, event)) => {
                    let event = event.map(|ev| match ev {
                        StreamEvent::Header {
                            error,
                            message_set_len,
                        } => Event::Header(error, message_set_len),
                        StreamEvent::Message(m) => {
                            check_view(&m.message);
                            check_crc(m.crc, &m.message, opts.crc_policy);
                            fed.items.push(Item::of(&m));
                            Event::Message
                        }
                        StreamEvent::End { valid_bytes, stop } => Event::End(valid_bytes, stop),
                    });
                    (used, event)
                }
                Err(e) => {
                    fed.error = Some(e);
                    assert_eq!(dec.decode(b"more"), Err(e), "errors are sticky");
                    break 'pieces;
                }
            };
            assert!(used <= input.len());
            fed.consumed += used;
            input = &input[used..];
            match event {
                Some(Event::Header(error, len)) => {
                    assert!(fed.header.is_none() && fed.items.is_empty());
                    fed.header = Some((error, len));
                }
                Some(Event::Message) => assert!(fed.header.is_some() && fed.end.is_none()),
                Some(Event::End(valid_bytes, stop)) => {
                    assert!(fed.end.is_none());
                    fed.end = Some((valid_bytes, stop));
                    assert!(dec.is_done());
                }
                None if used == 0 => {
                    assert!(input.is_empty() || dec.is_done(), "stalled with input left");
                    break;
                }
                None => {}
            }
        }
    }
    fed.done = dec.is_done();
    if fed.done {
        assert!(fed.end.is_some());
        assert_eq!(dec.decode(b"more"), Ok((0, None)), "done means done");
    }
    fed.valid_bytes = dec.valid_bytes();
    fed
}

/// Shifts a set-relative stop to a response-relative one (the 6 header bytes).
fn shift_stop(stop: Stop) -> Stop {
    match stop {
        Stop::Trailing { at, bytes } => Stop::Trailing { at: at + 6, bytes },
        Stop::Cut {
            at,
            needed,
            available,
        } => Stop::Cut {
            at: at + 6,
            needed,
            available,
        },
        other => other,
    }
}

/// A stream error equals a one-shot error found 6 bytes earlier (kind and position; the
/// layer names the stream).
fn same_stream_error(stream: &Error, one_shot: &Error) -> bool {
    stream.kind() == one_shot.kind() && stream.offset() == one_shot.offset() + 6
}

/// What the stream produced, against the one-shot decoder on the same bytes.
fn compare_stream(fed: &Fed, resp: &[u8], base: u64, opts: DecodeOptions, max_frame: usize) {
    let too_large = |e: &Error| matches!(e.kind(), ErrorKind::MessageTooLarge { .. });
    let body = match find_frame(resp, max_frame) {
        Err(e) => {
            assert_eq!(fed.error.map(|x| x.kind()), Some(e.kind()));
            assert!(fed.header.is_none());
            return;
        }
        Ok(Frame::Partial { .. }) => {
            assert!(
                !fed.done && fed.end.is_none(),
                "done before the frame's end"
            );
            if fed.error.is_none() {
                assert_eq!(fed.consumed, resp.len());
            }
            // The frame is incomplete: what was streamed is a prefix of what the bytes that did
            // arrive hold.
            let Some(set) = resp.get(6..) else {
                return;
            };
            let one = run_shallow(set, base, opts.lax(false));
            assert!(fed.items.len() <= one.items.len());
            assert_eq!(fed.items[..], one.items[..fed.items.len()]);
            if let Some(e) = fed.error.filter(|e| !too_large(e)) {
                let o = one
                    .error
                    .expect("the stream failed on bytes shallow accepts");
                assert_eq!(
                    core::mem::discriminant(&e.kind()),
                    core::mem::discriminant(&o.kind())
                );
                assert_eq!(e.offset(), o.offset() + 6);
            }
            return;
        }
        Ok(Frame::Complete { body, consumed }) => {
            if body.len() < 2 {
                let e = fed.error.expect("a frame without an error code");
                assert!(matches!(e.kind(), ErrorKind::Truncated { .. }));
                return;
            }
            if fed.error.is_none() {
                assert!(fed.done);
                assert_eq!(
                    fed.consumed, consumed,
                    "the stream used bytes past its frame"
                );
            }
            body
        }
    };
    let error = ErrorCode(i16::from_be_bytes([body[0], body[1]]));
    let set = &body[2..];
    assert_eq!(fed.header, Some((error, set.len() as u64)));
    let one = run_shallow(set, base, opts);
    if fed.error.is_some_and(|e| too_large(&e)) {
        // The stream's buffer is smaller than a message split across pieces.
        assert!(fed.items.len() <= one.items.len());
        assert_eq!(fed.items[..], one.items[..fed.items.len()]);
        return;
    }
    assert_eq!(
        fed.items, one.items,
        "stream and one-shot yield different messages"
    );
    match (one.error, fed.error) {
        (None, None) => {
            assert_eq!(fed.end, Some((one.position as u64, shift_stop(one.stop))));
            assert_eq!(fed.valid_bytes, one.position as u64);
        }
        (Some(o), Some(e)) => {
            assert!(!opts.lax, "a lax stream failed ({e}) instead of ending");
            assert!(same_stream_error(&e, &o), "{e} / {o}");
        }
        // Lax mode: the one-shot decoder stops and says why in `Stop::Error`; the stream ends
        // the same way, the rest of its frame skipped (the `stream_lax_error` regression).
        (Some(o), None) => {
            assert!(opts.lax);
            let (valid, stop) = fed.end.expect("an ended stream");
            assert_eq!(valid, one.position as u64);
            assert_eq!(fed.valid_bytes, valid);
            let Stop::Error(e) = stop else {
                panic!("stream stop {stop:?}, one-shot error {o}");
            };
            assert!(same_stream_error(&e, &o), "{e} / {o}");
        }
        (None, Some(e)) => panic!("the stream failed ({e}) where one-shot decoding did not"),
    }
}

/// `FetchStream` fed in random-sized pieces, against the one-shot shallow decoder.
///
/// Layout: `[options; bit 7: base counts down from u64::MAX][buffer: u16 BE, 0 = the input's
/// size][base offset: u32 BE][largest piece - 1][piece seed: u32 BE][frame limit / 8, 0 =
/// default][response]`.
///
/// Checks: the stream yields exactly the messages, end (valid bytes and stop) or error the
/// one-shot decoder yields for the same response (a message split across pieces and larger
/// than the buffer is the one allowed difference, `MessageTooLarge`); it never uses bytes
/// past its frame; errors are sticky, done is done; and after `reset` the same bytes in one
/// piece give the same result.
pub fn stream(data: &[u8]) {
    let (p, resp) = split::<13>(data);
    let opts = options(p[0]);
    let capacity = match be16(&p[1..3]) {
        0 => resp.len().max(1),
        c => usize::from(c),
    };
    let base = u64::from(be32(&p[3..7]));
    let base = if p[0] & 0x80 != 0 {
        u64::MAX - base
    } else {
        base
    };
    let largest = usize::from(p[7]) + 1;
    let mut state = be32(&p[8..12]) | 1;
    let max_frame = match p[12] {
        0 => DEFAULT_MAX_FRAME,
        n => usize::from(n) * 8,
    };
    let mut dec = FetchStream::with_options(vec![0u8; capacity], base, opts, max_frame);
    let pieces = feed(&mut dec, resp, opts, || {
        // xorshift32
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        1 + state as usize % largest
    });
    compare_stream(&pieces, resp, base, opts, max_frame);
    dec.reset(base);
    let whole = feed(&mut dec, resp, opts, || usize::MAX);
    compare_stream(&whole, resp, base, opts, max_frame);
    let too_large = |f: &Fed| {
        f.error
            .is_some_and(|e| matches!(e.kind(), ErrorKind::MessageTooLarge { .. }))
    };
    if !too_large(&pieces) && !too_large(&whole) {
        assert_eq!(pieces.items, whole.items);
        assert_eq!((pieces.end, pieces.error), (whole.end, whole.error));
    }
    assert_eq!(dec.into_inner().len(), capacity);
}

// ---------------------------------------------------------------------------------------------
// Gzip, xerial, snappy
// ---------------------------------------------------------------------------------------------

/// Decodes a gzip stream with `flate2`, member by member, following our rule for what
/// follows a member (another member only if a well-formed header starts there).
fn flate2_members(input: &[u8]) -> Result<(Vec<u8>, usize, usize), String> {
    let mut out = Vec::new();
    let mut rest = input;
    let mut members = 0;
    loop {
        let mut dec = flate2::bufread::GzDecoder::new(rest);
        dec.read_to_end(&mut out).map_err(|e| e.to_string())?;
        rest = dec.into_inner();
        members += 1;
        if gzip::parse_header(rest).is_err() {
            return Ok((out, members, rest.len()));
        }
    }
}

/// The second inflate backend, `gzip::Backend::ZlibRs`, against the default one (miniz_oxide,
/// through `decompress` / `decompress_with`): one `Inflater`, reused for every call on one
/// input (a failed or half-decoded member must leave nothing behind), must give the same
/// `Result` (`GzipInfo`, or the error's kind and offset) and, on success, the same output
/// bytes. Without the feature `zlib-rs` (of the fuzz crate, which turns on kafka07-proto's;
/// of kafka07-proto itself in its `fuzz_regressions` replay) there is no second backend and
/// this checks nothing.
struct ZlibRs {
    #[cfg(feature = "zlib-rs")]
    inflater: gzip::Inflater,
}

impl ZlibRs {
    fn new() -> Self {
        ZlibRs {
            #[cfg(feature = "zlib-rs")]
            inflater: gzip::Inflater::new(gzip::Backend::ZlibRs),
        }
    }

    /// Decodes `input` into `cap` bytes with the zlib-rs inflater; `expected` and `out` are
    /// what miniz_oxide gave with the same room.
    fn agrees(
        &mut self,
        input: &[u8],
        cap: usize,
        expected: Result<gzip::GzipInfo, gzip::GzipError>,
        out: &[u8],
    ) {
        #[cfg(feature = "zlib-rs")]
        {
            let mut z = vec![0u8; cap];
            let r = gzip::decompress_in(&mut self.inflater, input, &mut z);
            assert_eq!(
                r, expected,
                "zlib-rs and miniz_oxide differ (output room {cap})"
            );
            if let Ok(info) = r {
                let n = info.output_len;
                assert!(
                    z[..n] == out[..n],
                    "zlib-rs and miniz_oxide decode different bytes"
                );
            }
        }
        #[cfg(not(feature = "zlib-rs"))]
        let _ = (self, input, cap, expected, out);
    }
}

/// The gzip decoder: `gzip::parse_header`, `gzip::decompress`, `decompress_with` and (feature
/// `zlib-rs`) `decompress_in` with the zlib-rs backend.
///
/// Layout: `[output limit: u16 BE][gzip stream]`.
///
/// Checks: header fields against the bytes; `decompress_with` with a dirty state answers as
/// `decompress`; an accepted stream decodes to the same bytes, members and trailing count
/// with more room, with exactly its output size and with `flate2`; errors point inside the
/// input; our encoder's output decodes back to the input; and the zlib-rs backend gives the
/// same result and bytes as miniz_oxide on every one of these calls ([`ZlibRs`]): the second
/// half of the input, the input at the limit, with more room, with the exact room, and our
/// encoder's output.
pub fn gzip_decode(data: &[u8]) {
    let (p, input) = split::<2>(data);
    let limit = usize::from(be16(&p));
    let header = gzip::parse_header(input);
    match header {
        Ok(h) => {
            assert!(h.len >= gzip::FIXED_HEADER_LEN && h.len <= input.len());
            assert_eq!(input[..2], gzip::MAGIC);
            assert_eq!((input[2], h.flags), (gzip::CM_DEFLATE, input[3]));
            assert_eq!(h.flags & gzip::GzipHeader::RESERVED, 0);
            assert_eq!(
                h.mtime,
                u32::from_le_bytes([input[4], input[5], input[6], input[7]])
            );
            assert_eq!((h.xfl, h.os), (input[8], input[9]));
            let has = |flag| h.flags & flag != 0;
            assert_eq!(h.extra.is_some(), has(gzip::GzipHeader::FEXTRA));
            assert_eq!(h.name.is_some(), has(gzip::GzipHeader::FNAME));
            assert_eq!(h.comment.is_some(), has(gzip::GzipHeader::FCOMMENT));
            assert_eq!(h.header_crc.is_some(), has(gzip::GzipHeader::FHCRC));
            for s in [h.name, h.comment].into_iter().flatten() {
                assert!(!s.contains(&0));
            }
            if let Some(crc) = h.header_crc {
                let at = h.len - 2;
                assert_eq!(crc, u16::from_le_bytes([input[at], input[at + 1]]));
                assert_eq!(crc, crc32(&input[..at]) as u16);
            }
        }
        Err(e) => assert!(e.offset <= input.len(), "{e}"),
    }
    let mut zlib = ZlibRs::new();
    let mut out = vec![0u8; limit];
    let result = gzip::decompress(input, &mut out);
    // A state left dirty by another stream answers the same.
    let mut state = gzip::DecompressorOxide::new();
    let mut other = vec![0u8; 256];
    let half = &input[input.len() / 2..];
    let partial = gzip::decompress_with(&mut state, half, &mut other);
    zlib.agrees(half, 256, partial, &other);
    let mut again = vec![0u8; limit];
    assert_eq!(gzip::decompress_with(&mut state, input, &mut again), result);
    zlib.agrees(input, limit, result, &out);
    match result {
        Ok(info) => {
            assert!(header.is_ok());
            assert!(info.members >= 1 && info.output_len <= limit);
            assert!(info.trailing + 18 * info.members <= input.len());
            let n = info.output_len;
            assert_eq!(out[..n], again[..n]);
            let mut roomy = vec![0u8; limit + 4096];
            assert_eq!(gzip::decompress(input, &mut roomy), Ok(info), "more room");
            assert_eq!(roomy[..n], out[..n]);
            zlib.agrees(input, limit + 4096, Ok(info), &roomy);
            // The exact output size is enough, for either backend.
            let mut exact = vec![0u8; n];
            assert_eq!(gzip::decompress(input, &mut exact), Ok(info), "exact fit");
            zlib.agrees(input, n, Ok(info), &exact);
            let reference = flate2_members(input)
                .unwrap_or_else(|e| panic!("we accept a stream flate2 rejects: {e}"));
            assert_eq!(reference, (out[..n].to_vec(), info.members, info.trailing));
        }
        Err(e) => {
            assert!(e.offset <= input.len(), "{e}");
            if let gzip::GzipErrorKind::OutputLimit { limit: l } = e.kind {
                assert_eq!(l, limit);
            }
        }
    }
    let mut gz = Vec::new();
    gzip::compress(input, &mut gz);
    let mut back = vec![0u8; input.len()];
    let own = gzip::decompress(&gz, &mut back);
    zlib.agrees(&gz, input.len(), own, &back);
    let info = own.expect("our own gzip decodes");
    assert_eq!(
        (info.output_len, info.members, info.trailing),
        (input.len(), 1, 0)
    );
    assert_eq!(back, input);
}

/// snappy-java 1.0.4.1's reader (spec §4.3), written out independently, with `snap`
/// decoding each block.
fn reference_xerial(payload: &[u8]) -> Result<Vec<u8>, ()> {
    let mut dec = snap::raw::Decoder::new();
    if payload.len() < xerial::HEADER_LEN || payload[..8] != xerial::XERIAL_MAGIC {
        return dec.decompress_vec(payload).map_err(|_| ());
    }
    let mut out = Vec::new();
    let mut pos = xerial::HEADER_LEN;
    while payload.len() - pos >= 4 {
        let n = i32::from_be_bytes([
            payload[pos],
            payload[pos + 1],
            payload[pos + 2],
            payload[pos + 3],
        ]);
        pos += 4;
        let n = usize::try_from(n).map_err(|_| ())?;
        let block = payload.get(pos..pos + n).ok_or(())?;
        out.extend(dec.decompress_vec(block).map_err(|_| ())?);
        pos += n;
    }
    Ok(out)
}

/// The xerial framing: `xerial::detect`, `decompressed_len` and `decompress`.
///
/// Layout: `[output limit: u16 BE][payload]`. Checks: detection against the magic; the
/// declared length against what decoding writes; accept/reject and output against the
/// snappy-java rules written out independently with `snap` for the blocks (when the output
/// fits); errors point inside the payload; our encoder's output decodes back (feature
/// `snappy`).
pub fn xerial_decode(data: &[u8]) {
    let (p, payload) = split::<2>(data);
    let limit = usize::from(be16(&p));
    let detected = xerial::detect(payload);
    let framed = payload.len() >= xerial::HEADER_LEN && payload[..8] == xerial::XERIAL_MAGIC;
    assert_eq!(detected.is_some(), framed);
    if let Some(h) = detected {
        assert_eq!(h.version, be32(&payload[8..]) as i32);
        assert_eq!(h.compat, be32(&payload[12..]) as i32);
        assert_eq!(h.snappy_java_accepts(), h.version >= 1);
    }
    let len = xerial::decompressed_len(payload);
    let mut out = vec![0u8; limit];
    let result = xerial::decompress(payload, &mut out);
    match (len, result) {
        (Err(e), r) => assert_eq!(r, Err(e), "length and decoding disagree"),
        (Ok(n), Ok((m, framing))) => {
            assert_eq!(n, m);
            assert!(m <= limit);
            let expected = match detected {
                Some(h) => xerial::Framing::Xerial(h),
                None => xerial::Framing::Raw,
            };
            assert_eq!(framing, expected);
        }
        (Ok(n), Err(e)) if n > limit => {
            assert_eq!(
                e.kind,
                snappy::SnappyErrorKind::OutputTooSmall { needed: n }
            );
        }
        (Ok(_), Err(e)) => assert!(e.offset <= payload.len(), "{e}"),
    }
    if len.is_ok_and(|n| n <= limit) {
        let reference = reference_xerial(payload);
        match result {
            Ok((m, _)) => assert_eq!(reference.as_deref(), Ok(&out[..m]), "snappy-java rules"),
            Err(e) => assert!(
                reference.is_err(),
                "we reject ({e}) what the reference reads"
            ),
        }
    }
    // Our encoder (kafka07-proto's feature `snappy`; see the module docs for the cfg).
    #[cfg(feature = "snappy")]
    {
        let mut stream = Vec::new();
        xerial::compress(payload, &mut stream);
        let mut back = vec![0u8; payload.len()];
        assert_eq!(
            xerial::decompress(&stream, &mut back).map(|(n, _)| n),
            Ok(payload.len())
        );
        assert_eq!(back, payload);
    }
}

/// Largest declared output the snappy differential decodes (larger ones are checked for a
/// clean `OutputTooSmall` only).
const SNAPPY_MAX_OUTPUT: usize = 1 << 20;

/// Our raw snappy decoder against the `snap` crate.
///
/// Layout: the whole input is one raw snappy block. Checks: the declared length agrees with
/// `snap`'s (empty input aside: `snap` reads it as length 0, then refuses to decode it);
/// accept/reject and output agree with `snap`; bytes past the declared length are never
/// written; a buffer one byte short is a clean `OutputTooSmall`; `snap`'s encoding of the
/// input decodes back.
pub fn snappy_diff(data: &[u8]) {
    let ours = snappy::decompressed_len(data);
    let theirs = snap::raw::decompress_len(data);
    if data.is_empty() {
        assert!(ours.is_err());
    } else {
        assert_eq!(ours.ok(), theirs.ok(), "declared lengths differ");
    }
    let Ok(n) = ours else {
        let mut out = [0u8; 64];
        assert!(snap::raw::Decoder::new()
            .decompress(data, &mut out)
            .is_err());
        return;
    };
    if n > SNAPPY_MAX_OUTPUT {
        let mut out = vec![0u8; 64];
        let kind = snappy::decompress(data, &mut out).map_err(|e| e.kind);
        assert_eq!(
            kind,
            Err(snappy::SnappyErrorKind::OutputTooSmall { needed: n })
        );
        return;
    }
    let mut out = vec![0xa5u8; n + 32];
    let result = snappy::decompress(data, &mut out);
    let reference = snap::raw::Decoder::new().decompress_vec(data);
    match (result, reference) {
        (Ok(m), Ok(expected)) => {
            assert_eq!(m, n);
            assert_eq!(out[..n], expected[..], "outputs differ");
        }
        (Err(_), Err(_)) => {}
        (a, b) => panic!("accept/reject differ: ours {a:?}, snap {b:?}"),
    }
    assert!(
        out[n..].iter().all(|&b| b == 0xa5),
        "wrote past the declared length"
    );
    if let Some(short) = n.checked_sub(1) {
        let mut out = vec![0u8; short];
        let kind = snappy::decompress(data, &mut out).map_err(|e| e.kind);
        assert_eq!(
            kind,
            Err(snappy::SnappyErrorKind::OutputTooSmall { needed: n })
        );
    }
    let block = snap::raw::Encoder::new()
        .compress_vec(data)
        .expect("snap encodes");
    let mut back = vec![0u8; data.len()];
    assert_eq!(snappy::decompress(&block, &mut back), Ok(data.len()));
    assert_eq!(back, data);
}
