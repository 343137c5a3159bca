//! Differential and unit tests for the raw Snappy decoder and the xerial
//! framing.
//!
//! * Round trips: blocks made by `snap::raw::Encoder` decode to the input.
//! * Hostile blocks: ours, `snap::raw::Decoder` and a tiny obviously-correct
//!   model decoder (written here, following the reference C++ rules) are run
//!   on random, structured and mutated blocks. Ours must equal the model
//!   exactly and must agree with `snap` on accept/reject and output
//!   (`snap` >= 1.1.2, which follows the reference rules for the 5-byte
//!   preamble limit and for literal lengths near the end of the input).
//! * xerial framing: round trips through `xerial::compress` (feature
//!   `snappy`), the golden vector of the protocol spec (section 4.3), the raw
//!   fallback, clean ends, and every error kind with value checks.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use kafka07_proto::snappy::{self as raw, SnappyError, SnappyErrorKind as K};
use kafka07_proto::xerial::{self, Framing, XerialHeader};
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// Allocation counting (per thread, so parallel tests do not interfere).

struct CountingAlloc;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count_one() {
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: every method forwards to the system allocator unchanged; the only
// addition is bumping a const-initialised thread-local counter, which itself
// never allocates.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// Runs `f` and returns its result with the number of heap allocations it
/// made on this thread.
fn allocations_during<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = ALLOCATIONS.with(Cell::get);
    let r = f();
    let after = ALLOCATIONS.with(Cell::get);
    (r, after - before)
}

// ---------------------------------------------------------------------------
// Helpers.

/// Output buffers larger than this are not allocated by the tests; blocks
/// declaring more are expected to be rejected by every decoder.
const CAP: usize = 1 << 20;

fn snap_compress(data: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new()
        .compress_vec(data)
        .expect("snap compress")
}

fn varint(mut n: u64) -> Vec<u8> {
    let mut v = Vec::new();
    while n >= 0x80 {
        v.push((n as u8) | 0x80);
        n >>= 7;
    }
    v.push(n as u8);
    v
}

/// Decodes with ours into a buffer with sentinel bytes past the declared
/// length, and checks the sentinel survives.
fn ours(block: &[u8]) -> Result<Vec<u8>, SnappyError> {
    let declared = raw::decompressed_len(block)?;
    let size = declared.min(CAP);
    let mut out = vec![0xA5u8; size + 64];
    let r = raw::decompress(block, &mut out[..size]);
    assert!(
        out[size..].iter().all(|&b| b == 0xA5),
        "wrote past the output slice"
    );
    match r {
        Ok(n) => {
            assert_eq!(n, declared);
            out.truncate(n);
            Ok(out)
        }
        Err(e) => {
            assert!(e.offset <= block.len(), "error offset {e:?} past the input");
            if let K::OutputTooSmall { needed } = e.kind {
                assert_eq!(needed, declared);
                assert!(
                    out[..size].iter().all(|&b| b == 0xA5),
                    "wrote before OutputTooSmall"
                );
            }
            Err(e)
        }
    }
}

fn snap_decode(block: &[u8]) -> Result<Vec<u8>, snap::Error> {
    let declared = snap::raw::decompress_len(block).unwrap_or(0).min(CAP);
    let mut out = vec![0u8; declared];
    let n = snap::raw::Decoder::new().decompress(block, &mut out)?;
    out.truncate(n);
    Ok(out)
}

/// A deliberately simple decoder following the reference C++ rules: varint of
/// at most 5 bytes and at most u32::MAX, then elements, each fully checked.
fn model(block: &[u8]) -> Option<Vec<u8>> {
    let mut declared: u64 = 0;
    let mut s = 0;
    loop {
        if s == 5 {
            return None;
        }
        let b = *block.get(s)?;
        declared |= u64::from(b & 0x7f) << (7 * s);
        s += 1;
        if b < 0x80 {
            break;
        }
    }
    if declared > u64::from(u32::MAX) || declared > CAP as u64 {
        return None;
    }
    let n = declared as usize;
    let mut out: Vec<u8> = Vec::new();
    while s < block.len() {
        let tag = block[s];
        s += 1;
        let (len, offset) = match tag & 3 {
            0 => {
                let mut len = usize::from(tag >> 2) + 1;
                if len > 60 {
                    let nb = len - 60;
                    let bytes = block.get(s..s + nb)?;
                    len = bytes
                        .iter()
                        .rev()
                        .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
                        + 1;
                    s += nb;
                }
                let lit = block.get(s..s.checked_add(len)?)?;
                if out.len() + len > n {
                    return None;
                }
                out.extend_from_slice(lit);
                s += len;
                continue;
            }
            1 => {
                let b = *block.get(s)?;
                s += 1;
                (
                    4 + usize::from((tag >> 2) & 7),
                    (usize::from(tag >> 5) << 8) | usize::from(b),
                )
            }
            2 => {
                let b = block.get(s..s + 2)?;
                s += 2;
                (
                    usize::from(tag >> 2) + 1,
                    usize::from(b[0]) | usize::from(b[1]) << 8,
                )
            }
            _ => {
                let b = block.get(s..s + 4)?;
                s += 4;
                (
                    usize::from(tag >> 2) + 1,
                    u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize,
                )
            }
        };
        if offset == 0 || offset > out.len() || out.len() + len > n {
            return None;
        }
        for _ in 0..len {
            out.push(out[out.len() - offset]);
        }
    }
    (out.len() == n).then_some(out)
}

/// Runs all three decoders and checks they agree.
fn check_agreement(block: &[u8]) {
    let o = ours(block);
    let m = model(block);
    match (&o, &m) {
        (Ok(a), Some(b)) => assert_eq!(a, b, "ours and model differ on {block:02x?}"),
        (Err(_), None) => {}
        _ => panic!("ours {o:?} vs model {m:?} on {block:02x?}"),
    }
    let s = snap_decode(block);
    match (&o, &s) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "ours and snap differ on {block:02x?}"),
        (Err(_), Err(_)) => {}
        _ => panic!("ours {o:?} vs snap {s:?} on {block:02x?}"),
    }
}

/// One element of a generated block: (selector, length seed, offset seed,
/// literal bytes).
type Op = (u8, u8, u32, Vec<u8>);

/// Builds a block from generated elements. Copies are valid except for
/// selector 7 with a high seed (about 1 in 32), which makes a bad offset
/// (0 or just beyond the output). The preamble is the
/// produced length plus `delta`.
fn build_block(ops: &[Op], delta: i64) -> Vec<u8> {
    let mut body = Vec::new();
    let mut produced: usize = 0;
    for (sel, l, o, lit) in ops {
        // About 1 op in 32 is a bad copy; the rest are valid elements.
        let sel = match sel % 8 {
            7 if *sel < 224 => 5,
            s => s,
        };
        let copy_possible = produced > 0;
        match sel {
            3..=6 if copy_possible => {
                let (len, offset, tag_bytes) = match sel {
                    3 | 4 => {
                        let len = 4 + usize::from(*l % 8);
                        let offset = 1 + (*o as usize) % produced.min(2047);
                        (
                            len,
                            offset,
                            vec![
                                0x01 | (((len - 4) as u8) << 2) | (((offset >> 8) as u8) << 5),
                                offset as u8,
                            ],
                        )
                    }
                    5 => {
                        let len = 1 + usize::from(*l % 64);
                        let offset = 1 + (*o as usize) % produced.min(65535);
                        let mut t = vec![0x02 | (((len - 1) as u8) << 2)];
                        t.extend_from_slice(&(offset as u16).to_le_bytes());
                        (len, offset, t)
                    }
                    _ => {
                        let len = 1 + usize::from(*l % 64);
                        let offset = 1 + (*o as usize) % produced;
                        let mut t = vec![0x03 | (((len - 1) as u8) << 2)];
                        t.extend_from_slice(&(offset as u32).to_le_bytes());
                        (len, offset, t)
                    }
                };
                let _ = offset;
                body.extend_from_slice(&tag_bytes);
                produced += len;
            }
            7 => {
                let len = 1 + usize::from(*l % 64);
                let offset = if o % 2 == 0 {
                    0
                } else {
                    (produced + 1).min(65535)
                };
                body.push(0x02 | (((len - 1) as u8) << 2));
                body.extend_from_slice(&(offset as u16).to_le_bytes());
                produced += len;
            }
            _ => {
                // Literal: short form when it fits and sel is even, else a
                // long form with 1-4 length bytes.
                let len = lit.len().max(1);
                let lit: Vec<u8> = if lit.is_empty() {
                    vec![0x5a]
                } else {
                    lit.clone()
                };
                if len <= 60 && sel % 2 == 0 {
                    body.push(((len - 1) as u8) << 2);
                } else {
                    let nb = 1 + usize::from(*l % 4);
                    body.push(((59 + nb) as u8) << 2);
                    body.extend_from_slice(&((len - 1) as u32).to_le_bytes()[..nb]);
                }
                body.extend_from_slice(&lit);
                produced += len;
            }
        }
    }
    let declared = (produced as i64 + delta).max(0) as u64;
    let mut block = varint(declared);
    block.extend_from_slice(&body);
    block
}

fn op_strategy() -> impl Strategy<Value = Op> {
    (
        any::<u8>(),
        any::<u8>(),
        any::<u32>(),
        prop_oneof![
            3 => prop::collection::vec(any::<u8>(), 1..8),
            1 => prop::collection::vec(any::<u8>(), 8..100),
        ],
    )
}

fn repetitive() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        (prop::collection::vec(any::<u8>(), 1..12), 1usize..200),
        1..30,
    )
    .prop_map(|parts| {
        let mut v = Vec::new();
        for (p, n) in parts {
            for _ in 0..n {
                v.extend_from_slice(&p);
            }
        }
        v
    })
}

fn data() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..3000),
        prop::collection::vec(0u8..4, 0..20000),
        repetitive(),
    ]
}

/// A mutation applied to a valid block.
#[derive(Clone, Debug)]
enum Mutation {
    Flip { at: usize, xor: u8 },
    Truncate { at: usize },
    Append { bytes: Vec<u8> },
    Preamble { delta: i64 },
    PreambleRaw { bytes: Vec<u8> },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), 1u8..=255).prop_map(|(at, xor)| Mutation::Flip { at, xor }),
        2 => any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        2 => prop::collection::vec(any::<u8>(), 1..20).prop_map(|bytes| Mutation::Append { bytes }),
        2 => (-70i64..70).prop_map(|delta| Mutation::Preamble { delta }),
        1 => prop::collection::vec(any::<u8>(), 0..8).prop_map(|bytes| Mutation::PreambleRaw { bytes }),
    ]
}

fn apply(block: &[u8], ms: &[Mutation]) -> Vec<u8> {
    let mut b = block.to_vec();
    for m in ms {
        match m {
            Mutation::Flip { at, xor } => {
                if !b.is_empty() {
                    let i = at % b.len();
                    b[i] ^= xor;
                }
            }
            Mutation::Truncate { at } => {
                let n = at % (b.len() + 1);
                b.truncate(n);
            }
            Mutation::Append { bytes } => b.extend_from_slice(bytes),
            Mutation::Preamble { .. } | Mutation::PreambleRaw { .. } => {
                let Ok(len) = raw::decompressed_len(&b) else {
                    continue;
                };
                let hdr = varint(len as u64).len();
                let new = match m {
                    Mutation::Preamble { delta } => varint((len as i64 + delta).max(0) as u64),
                    Mutation::PreambleRaw { bytes } => bytes.clone(),
                    _ => unreachable!(),
                };
                b.splice(..hdr, new);
            }
        }
    }
    b
}

// ---------------------------------------------------------------------------
// (a) Round trips through snap's encoder.

proptest! {
    #[test]
    fn roundtrip_snap_encoded(input in data()) {
        let block = snap_compress(&input);
        prop_assert_eq!(raw::decompressed_len(&block).unwrap(), input.len());
        let mut out = vec![0u8; input.len()];
        let n = raw::decompress(&block, &mut out).unwrap();
        prop_assert_eq!(n, input.len());
        prop_assert_eq!(&out, &input);
    }

    #[test]
    fn roundtrip_into_larger_buffer_leaves_tail(input in repetitive()) {
        let block = snap_compress(&input);
        let mut out = vec![0xEEu8; input.len() + 200];
        let n = raw::decompress(&block, &mut out).unwrap();
        prop_assert_eq!(&out[..n], &input[..]);
        prop_assert!(out[n..].iter().all(|&b| b == 0xEE));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn roundtrip_large_inputs(parts in prop::collection::vec((prop::collection::vec(any::<u8>(), 1..300), 1usize..400), 1..6)) {
        // Up to a few hundred KiB, past snap's 64 KiB internal block size.
        let mut input = Vec::new();
        for (p, n) in &parts {
            for _ in 0..*n {
                input.extend_from_slice(p);
            }
        }
        let block = snap_compress(&input);
        let mut out = vec![0u8; input.len()];
        prop_assert_eq!(raw::decompress(&block, &mut out).unwrap(), input.len());
        prop_assert!(out == input);
    }
}

// ---------------------------------------------------------------------------
// (b) Hostile blocks: ours vs snap vs model.

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn hostile_random_bytes(block in prop::collection::vec(any::<u8>(), 0..300)) {
        check_agreement(&block);
    }

    #[test]
    fn hostile_random_elements(block in prop::collection::vec(any::<u8>(), 0..300)) {
        // Random elements behind a plausible preamble.
        let mut b = varint(block.len() as u64 * 3);
        b.extend_from_slice(&block);
        check_agreement(&b);
    }

    #[test]
    fn structured_blocks(ops in prop::collection::vec(op_strategy(), 0..60), delta in prop_oneof![6 => Just(0i64), 1 => -3i64..3]) {
        check_agreement(&build_block(&ops, delta));
    }

    #[test]
    fn structured_blocks_mutated(
        ops in prop::collection::vec(op_strategy(), 1..40),
        ms in prop::collection::vec(mutation(), 1..4),
    ) {
        check_agreement(&apply(&build_block(&ops, 0), &ms));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]
    #[test]
    fn snap_blocks_mutated(input in data(), ms in prop::collection::vec(mutation(), 1..4)) {
        let block = snap_compress(&input);
        check_agreement(&block);
        check_agreement(&apply(&block, &ms));
    }
}

#[test]
fn structured_blocks_are_mostly_valid() {
    // Guard against a generator that only ever produces garbage.
    let ops: Vec<Op> = (0u32..200)
        .map(|i| {
            (
                (i % 7) as u8,
                (i * 37 % 251) as u8,
                i.wrapping_mul(2_654_435_761),
                vec![i as u8; 1 + (i as usize % 5)],
            )
        })
        .collect();
    let block = build_block(&ops, 0);
    let out = ours(&block).expect("valid structured block");
    assert_eq!(Some(out.clone()), model(&block));
    assert_eq!(out, snap_decode(&block).unwrap());
}

// ---------------------------------------------------------------------------
// Raw block: every error kind, with values.

#[test]
fn bad_varint_empty() {
    let e = raw::decompressed_len(&[]).unwrap_err();
    assert_eq!(
        e,
        SnappyError {
            kind: K::BadVarint,
            offset: 0
        }
    );
    assert_eq!(raw::decompress(&[], &mut [0u8; 4]).unwrap_err(), e);
}

#[test]
fn bad_varint_truncated() {
    let e = raw::decompress(&[0x80, 0x80], &mut [0u8; 4]).unwrap_err();
    assert_eq!(
        e,
        SnappyError {
            kind: K::BadVarint,
            offset: 2
        }
    );
}

#[test]
fn bad_varint_longer_than_5_bytes() {
    // Value 0 padded to 6 bytes: the reference rules allow at most 5.
    let block = [0x80, 0x80, 0x80, 0x80, 0x80, 0x00];
    let e = raw::decompressed_len(&block).unwrap_err();
    assert_eq!(
        e,
        SnappyError {
            kind: K::BadVarint,
            offset: 4
        }
    );
    check_agreement(&block);
}

#[test]
fn bad_varint_over_u32_max() {
    // 2^32 in 5 bytes.
    let e = raw::decompressed_len(&[0x80, 0x80, 0x80, 0x80, 0x10]).unwrap_err();
    assert_eq!(
        e,
        SnappyError {
            kind: K::BadVarint,
            offset: 4
        }
    );
    // u32::MAX itself is fine.
    assert_eq!(
        raw::decompressed_len(&[0xff, 0xff, 0xff, 0xff, 0x0f]).unwrap(),
        u32::MAX as usize
    );
}

#[test]
fn output_too_small_writes_nothing() {
    let block = [5, 0x10, b'a', b'b', b'c', b'd', b'e'];
    let mut out = [0x11u8; 4];
    let e = raw::decompress(&block, &mut out).unwrap_err();
    assert_eq!(
        e,
        SnappyError {
            kind: K::OutputTooSmall { needed: 5 },
            offset: 0
        }
    );
    assert_eq!(out, [0x11; 4]);
}

#[test]
fn gigabyte_claim_fails_cleanly_without_allocating() {
    // Preamble u32::MAX, then a one-byte literal.
    let block = [0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, b'x'];
    let mut out = [0u8; 64];
    let (r, allocs) = allocations_during(|| {
        (
            raw::decompressed_len(&block),
            raw::decompress(&block, &mut out),
            xerial::decompressed_len(&block),
            xerial::decompress(&block, &mut out),
        )
    });
    assert_eq!(allocs, 0, "the decoder allocated");
    assert_eq!(r.0, Ok(u32::MAX as usize));
    let want = SnappyError {
        kind: K::OutputTooSmall {
            needed: u32::MAX as usize,
        },
        offset: 0,
    };
    assert_eq!(r.1, Err(want));
    assert_eq!(r.2, Ok(u32::MAX as usize));
    assert_eq!(r.3, Err(want));
    assert_eq!(out, [0u8; 64]);

    // The same claim inside a xerial stream.
    let mut stream = xerial_header(1, 1);
    push_chunk(&mut stream, &block);
    let (r, allocs) = allocations_during(|| xerial::decompress(&stream, &mut out));
    assert_eq!(allocs, 0);
    assert_eq!(r, Err(want));
}

#[test]
fn literal_overrun() {
    // Literal of 5 bytes with only 2 present; tag at byte 1.
    let e = raw::decompress(&[5, 0x10, b'a', b'b'], &mut [0u8; 8]).unwrap_err();
    assert_eq!(
        e,
        SnappyError {
            kind: K::LiteralOverrun,
            offset: 1
        }
    );
}

#[test]
fn literal_overrun_in_length_bytes() {
    // Tag 0xf4: literal whose length takes 2 bytes, only 1 present.
    let e = raw::decompress(&[0x40, 0xf4, 0x10], &mut [0u8; 64]).unwrap_err();
    assert_eq!(
        e,
        SnappyError {
            kind: K::LiteralOverrun,
            offset: 1
        }
    );
}

#[test]
fn literal_with_long_length_form_near_the_end_is_accepted() {
    // Tag 0xf0 (length in 1 byte) with 1 length byte and a 1-byte literal
    // after it: valid although fewer than 4 bytes follow the tag (snap before
    // 1.1.2 rejected this).
    let block = [1, 0xf0, 0x00, b'z'];
    let mut out = [0u8; 1];
    assert_eq!(raw::decompress(&block, &mut out).unwrap(), 1);
    assert_eq!(out, [b'z']);
    check_agreement(&block);
}

#[test]
fn long_literal_all_length_forms() {
    for nb in 1..=4usize {
        let len = if nb == 1 { 200 } else { 300 };
        let lit: Vec<u8> = (0..len as u32).map(|i| (i * 7) as u8).collect();
        let mut block = varint(len as u64);
        block.push(((59 + nb) as u8) << 2);
        block.extend_from_slice(&((len - 1) as u32).to_le_bytes()[..nb]);
        block.extend_from_slice(&lit);
        assert_eq!(ours(&block).unwrap(), lit, "{nb} length bytes");
        check_agreement(&block);
    }
}

#[test]
fn copy_truncated() {
    // 'a' then a copy tag whose offset bytes are missing: copy1, copy2, copy4.
    let cases: [(&[u8], usize); 3] = [
        (&[5, 0x00, b'a', 0x01], 3),
        (&[5, 0x00, b'a', 0x0e, 0x01], 3),
        (&[5, 0x00, b'a', 0x0f, 0x01, 0x00, 0x00], 3),
    ];
    for (block, at) in cases {
        let e = raw::decompress(block, &mut [0u8; 8]).unwrap_err();
        assert_eq!(
            e,
            SnappyError {
                kind: K::CopyTruncated,
                offset: at
            },
            "{block:02x?}"
        );
    }
}

#[test]
fn copy_offset_zero() {
    let e = raw::decompress(&[5, 0x00, b'a', 0x01, 0x00], &mut [0u8; 8]).unwrap_err();
    assert_eq!(
        e,
        SnappyError {
            kind: K::CopyOffsetZero,
            offset: 3
        }
    );
}

#[test]
fn copy_offset_too_far() {
    let e = raw::decompress(&[5, 0x00, b'a', 0x01, 0x02], &mut [0u8; 8]).unwrap_err();
    assert_eq!(
        e,
        SnappyError {
            kind: K::CopyOffsetTooFar {
                copy_offset: 2,
                produced: 1
            },
            offset: 3
        }
    );
}

#[test]
fn copy_offset_too_far_in_fast_path() {
    // 200 declared; a 100-byte literal; then a copy2 reaching 150 back with
    // plenty of input and output left (the unchecked-end fast loop).
    let mut block = varint(200); // 2 bytes
    block.extend_from_slice(&[0xf0, 99]);
    block.extend_from_slice(&[b'q'; 100]);
    let tag_at = block.len();
    block.extend_from_slice(&[0x02 | (63 << 2), 150, 0]);
    block.extend_from_slice(&[0u8; 40]);
    let e = raw::decompress(&block, &mut [0u8; 200]).unwrap_err();
    assert_eq!(
        e,
        SnappyError {
            kind: K::CopyOffsetTooFar {
                copy_offset: 150,
                produced: 100
            },
            offset: tag_at
        }
    );
    // And a zero offset with a 4-byte offset field, same place.
    block[tag_at..tag_at + 5].copy_from_slice(&[0x03, 0, 0, 0, 0]);
    let e = raw::decompress(&block, &mut [0u8; 200]).unwrap_err();
    assert_eq!(
        e,
        SnappyError {
            kind: K::CopyOffsetZero,
            offset: tag_at
        }
    );
}

#[test]
fn output_overrun_literal() {
    let e = raw::decompress(&[1, 0x04, b'a', b'b'], &mut [0u8; 8]).unwrap_err();
    assert_eq!(
        e,
        SnappyError {
            kind: K::OutputOverrun,
            offset: 1
        }
    );
}

#[test]
fn output_overrun_copy() {
    // Declared 3: 'a', then copy1 of 4 bytes at offset 1.
    let e = raw::decompress(&[3, 0x00, b'a', 0x01, 0x01], &mut [0u8; 8]).unwrap_err();
    assert_eq!(
        e,
        SnappyError {
            kind: K::OutputOverrun,
            offset: 3
        }
    );
}

#[test]
fn length_mismatch() {
    let e = raw::decompress(&[5, 0x00, b'a'], &mut [0u8; 8]).unwrap_err();
    assert_eq!(
        e,
        SnappyError {
            kind: K::LengthMismatch {
                declared: 5,
                produced: 1
            },
            offset: 3
        }
    );
}

#[test]
fn trailing_element_after_full_output_is_rejected() {
    // Declared 1, literal 'a', then another literal.
    let e = raw::decompress(&[1, 0x00, b'a', 0x00, b'b'], &mut [0u8; 8]).unwrap_err();
    assert_eq!(
        e,
        SnappyError {
            kind: K::OutputOverrun,
            offset: 3
        }
    );
}

#[test]
fn empty_block_of_zero_length() {
    let mut out = [7u8; 4];
    assert_eq!(raw::decompress(&[0], &mut out).unwrap(), 0);
    assert_eq!(raw::decompress(&[0], &mut []).unwrap(), 0);
    assert_eq!(out, [7; 4]);
}

#[test]
fn overlapping_copies_every_offset() {
    // Pattern copies with offsets 1..=70 and lengths 1..=64, near and far
    // from the end of the output (fast and exact copy paths).
    for offset in 1..=70usize {
        for len in [1usize, 2, 3, 4, 7, 8, 15, 16, 17, 31, 33, 63, 64] {
            for tail in [0usize, 5, 100] {
                let seed: Vec<u8> = (0..offset).map(|i| (i * 31 + 1) as u8).collect();
                let mut expect = seed.clone();
                for _ in 0..len {
                    expect.push(expect[expect.len() - offset]);
                }
                expect.extend(std::iter::repeat_n(b'#', tail));
                let mut block = varint(expect.len() as u64);
                block.extend_from_slice(&[0xf0, (offset - 1) as u8]);
                block.extend_from_slice(&seed);
                block.push(0x02 | (((len - 1) as u8) << 2));
                block.extend_from_slice(&(offset as u16).to_le_bytes());
                if tail > 0 {
                    block.extend_from_slice(&[0xf0, (tail - 1) as u8]);
                    block.extend(std::iter::repeat_n(b'#', tail));
                }
                assert_eq!(
                    ours(&block).unwrap(),
                    expect,
                    "offset {offset} len {len} tail {tail}"
                );
                check_agreement(&block);
            }
        }
    }
}

#[test]
fn copy4_far_offset() {
    // A copy with a 4-byte offset reaching 70000 bytes back.
    let mut data: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    let mut block = varint(70_000 + 64);
    for chunk in data.chunks(60_000) {
        block.push(61 << 2); // 2 length bytes
        block.extend_from_slice(&((chunk.len() - 1) as u16).to_le_bytes());
        block.extend_from_slice(chunk);
    }
    block.push(0x03 | (63 << 2));
    block.extend_from_slice(&70_000u32.to_le_bytes());
    let head: Vec<u8> = data[..64].to_vec();
    data.extend_from_slice(&head);
    assert_eq!(ours(&block).unwrap(), data);
    check_agreement(&block);
}

#[test]
fn display_says_what_and_where() {
    let e = raw::decompress(&[5, 0x00, b'a', 0x01, 0x02], &mut [0u8; 8]).unwrap_err();
    let s = e.to_string();
    assert!(s.contains("copy offset 2"), "{s}");
    assert!(s.contains("at byte 3"), "{s}");
    let e = raw::decompress(&[5, 0x00, b'a'], &mut [0u8; 8]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "snappy: uncompressed length mismatch: declared 5 bytes, produced 1 at byte 3"
    );
    let e = SnappyError {
        kind: K::ChunkTruncated {
            declared: 9,
            available: 2,
        },
        offset: 16,
    };
    assert_eq!(
        e.to_string(),
        "snappy: failed to read chunk: length 9 but only 2 bytes left at byte 16"
    );
    assert!(K::OutputTooSmall { needed: 12 }
        .to_string()
        .contains("12 bytes needed"));
    // Every kind renders something.
    for k in [
        K::BadVarint,
        K::LiteralOverrun,
        K::CopyTruncated,
        K::CopyOffsetZero,
        K::OutputOverrun,
        K::NegativeChunkLength,
        K::TotalTooLarge,
    ] {
        assert!(!k.to_string().is_empty());
    }
    let _: &dyn std::error::Error = &e;
}

// ---------------------------------------------------------------------------
// (c) xerial framing.

fn xerial_header(version: i32, compat: i32) -> Vec<u8> {
    let mut v = xerial::XERIAL_MAGIC.to_vec();
    v.extend_from_slice(&version.to_be_bytes());
    v.extend_from_slice(&compat.to_be_bytes());
    v
}

fn push_chunk(stream: &mut Vec<u8>, block: &[u8]) {
    stream.extend_from_slice(&(block.len() as u32).to_be_bytes());
    stream.extend_from_slice(block);
}

/// The spec's golden vector: [hello, there] as a Kafka 0.7 message set
/// (30 bytes), snappy-java framed: header, then one 32-byte chunk whose block
/// is preamble 0x1e and one 30-byte literal (tag 0x74) at bytes 20..52.
const GOLDEN: &[u8] = &[
    0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01,
    0x00, 0x00, 0x00, 0x20, 0x1e, 0x74, 0x00, 0x00, 0x00, 0x0b, 0x01, 0x00, 0x36, 0x10, 0xa6, 0x86,
    0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x00, 0x00, 0x00, 0x0b, 0x01, 0x00, 0x5a, 0x2f, 0xe9, 0x96, 0x74,
    0x68, 0x65, 0x72, 0x65,
];

#[test]
fn golden_vector() {
    let expect = &GOLDEN[22..];
    assert_eq!(expect.len(), 30);
    assert_eq!(
        xerial::detect(GOLDEN),
        Some(XerialHeader {
            version: 1,
            compat: 1
        })
    );
    assert_eq!(xerial::decompressed_len(GOLDEN), Ok(30));
    let mut out = [0u8; 30];
    let (n, framing) = xerial::decompress(GOLDEN, &mut out).unwrap();
    assert_eq!(n, 30);
    assert_eq!(
        framing,
        Framing::Xerial(XerialHeader {
            version: 1,
            compat: 1
        })
    );
    assert_eq!(&out[..], expect);
}

#[test]
fn raw_fallback() {
    let input = b"hello hello hello hello, raw snappy block with no header".repeat(3);
    let block = snap_compress(&input);
    assert_eq!(xerial::detect(&block), None);
    assert_eq!(xerial::decompressed_len(&block), Ok(input.len()));
    let mut out = vec![0u8; input.len()];
    assert_eq!(
        xerial::decompress(&block, &mut out),
        Ok((input.len(), Framing::Raw))
    );
    assert_eq!(out, input);
}

#[test]
fn short_payload_with_magic_prefix_is_raw() {
    // 15 bytes starting with the magic: too short for a header, so raw; 0x82
    // is then a varint byte and the block is garbage.
    let payload = &GOLDEN[..15];
    assert_eq!(xerial::detect(payload), None);
    let e = xerial::decompress(payload, &mut [0u8; 64]).unwrap_err();
    assert_eq!(raw::decompress(payload, &mut [0u8; 64]).unwrap_err(), e);
}

#[test]
fn almost_magic_is_raw() {
    let mut p = GOLDEN.to_vec();
    p[7] = 1;
    assert_eq!(xerial::detect(&p), None);
    p[7] = 0;
    p[0] = 0x83;
    assert_eq!(xerial::detect(&p), None);
}

#[test]
fn header_only_is_empty() {
    let h = xerial_header(1, 1);
    assert_eq!(xerial::decompressed_len(&h), Ok(0));
    assert_eq!(
        xerial::decompress(&h, &mut []),
        Ok((
            0,
            Framing::Xerial(XerialHeader {
                version: 1,
                compat: 1
            })
        ))
    );
}

#[test]
fn trailing_1_to_3_bytes_are_a_clean_end() {
    for extra in 1..=3usize {
        let mut p = GOLDEN.to_vec();
        p.extend(std::iter::repeat_n(0xffu8, extra));
        assert_eq!(xerial::decompressed_len(&p), Ok(30));
        let mut out = [0u8; 30];
        assert_eq!(xerial::decompress(&p, &mut out).unwrap().0, 30);
        assert_eq!(&out[..], &GOLDEN[22..]);
    }
}

#[test]
fn chunk_truncated() {
    // The chunk declares 32 bytes but only 26 follow.
    let p = &GOLDEN[..GOLDEN.len() - 6];
    let want = SnappyError {
        kind: K::ChunkTruncated {
            declared: 32,
            available: 26,
        },
        offset: 16,
    };
    assert_eq!(xerial::decompressed_len(p), Err(want));
    let mut out = [0x33u8; 64];
    assert_eq!(xerial::decompress(p, &mut out), Err(want));
    assert_eq!(out, [0x33; 64], "nothing written before the framing check");
    // A huge declared length.
    let mut p = xerial_header(1, 1);
    p.extend_from_slice(&0x7fff_ffffu32.to_be_bytes());
    p.extend_from_slice(&[1, 2, 3]);
    assert_eq!(
        xerial::decompress(&p, &mut out),
        Err(SnappyError {
            kind: K::ChunkTruncated {
                declared: 0x7fff_ffff,
                available: 3
            },
            offset: 16
        })
    );
}

#[test]
fn negative_chunk_length() {
    let mut p = xerial_header(1, 1);
    p.extend_from_slice(&(-5i32).to_be_bytes());
    p.extend_from_slice(&[0; 8]);
    let want = SnappyError {
        kind: K::NegativeChunkLength,
        offset: 16,
    };
    assert_eq!(xerial::decompressed_len(&p), Err(want));
    assert_eq!(xerial::decompress(&p, &mut [0u8; 8]), Err(want));
}

#[test]
fn empty_chunk_is_bad_varint() {
    let mut p = GOLDEN.to_vec();
    p.extend_from_slice(&[0, 0, 0, 0]);
    let want = SnappyError {
        kind: K::BadVarint,
        offset: GOLDEN.len() + 4,
    };
    assert_eq!(xerial::decompressed_len(&p), Err(want));
    assert_eq!(xerial::decompress(&p, &mut [0u8; 64]), Err(want));
}

#[test]
fn xerial_output_too_small_writes_nothing() {
    let mut out = [0x44u8; 29];
    let e = xerial::decompress(GOLDEN, &mut out).unwrap_err();
    assert_eq!(
        e,
        SnappyError {
            kind: K::OutputTooSmall { needed: 30 },
            offset: 0
        }
    );
    assert_eq!(out, [0x44; 29]);
}

#[test]
fn xerial_block_error_offsets_are_payload_positions() {
    // Turn the block's literal tag (byte 21) into a copy1 with offset 9
    // before anything was produced.
    let mut p = GOLDEN.to_vec();
    assert_eq!(p[20..22], [0x1e, 0x74]);
    p[21] = 0x01;
    p[22] = 0x09;
    let e = xerial::decompress(&p, &mut [0u8; 64]).unwrap_err();
    assert_eq!(
        e,
        SnappyError {
            kind: K::CopyOffsetTooFar {
                copy_offset: 9,
                produced: 0
            },
            offset: 21
        }
    );
    // Bad preamble in the first chunk (block at 20): 6-byte varint.
    let mut p = xerial_header(1, 1);
    push_chunk(&mut p, &[0x80, 0x80, 0x80, 0x80, 0x80, 0x00]);
    assert_eq!(
        xerial::decompressed_len(&p),
        Err(SnappyError {
            kind: K::BadVarint,
            offset: 24
        })
    );
}

#[test]
fn versions_are_reported_not_rejected() {
    for (version, compat) in [(0, 0), (-1, 1), (1, 1), (2, 1), (7, 99)] {
        let mut p = xerial_header(version, compat);
        push_chunk(&mut p, &GOLDEN[20..]);
        let h = XerialHeader { version, compat };
        assert_eq!(xerial::detect(&p), Some(h));
        let mut out = [0u8; 30];
        assert_eq!(
            xerial::decompress(&p, &mut out),
            Ok((30, Framing::Xerial(h)))
        );
        assert_eq!(&out[..], &GOLDEN[22..]);
        assert_eq!(h.snappy_java_accepts(), version >= 1);
    }
}

#[test]
fn total_of_large_claims_is_checked() {
    // Two chunks each claiming u32::MAX: sums fine on 64-bit, overflows (and
    // is reported as TotalTooLarge) where usize is 32 bits.
    let mut p = xerial_header(1, 1);
    push_chunk(&mut p, &[0xff, 0xff, 0xff, 0xff, 0x0f]);
    push_chunk(&mut p, &[0xff, 0xff, 0xff, 0xff, 0x0f]);
    let r = xerial::decompressed_len(&p);
    if usize::BITS > 32 {
        assert_eq!(r, Ok(2 * u32::MAX as usize));
    } else {
        assert_eq!(
            r,
            Err(SnappyError {
                kind: K::TotalTooLarge,
                offset: 29
            })
        );
    }
}

#[test]
fn xerial_multi_chunk_handmade() {
    // Chunks built with snap directly, as the Java producer does.
    let input: Vec<u8> = (0..100_000u32).map(|i| (i / 7 % 256) as u8).collect();
    let mut p = xerial_header(1, 1);
    for chunk in input.chunks(xerial::CHUNK_SIZE) {
        push_chunk(&mut p, &snap_compress(chunk));
    }
    assert_eq!(xerial::decompressed_len(&p), Ok(input.len()));
    let mut out = vec![0u8; input.len()];
    assert_eq!(xerial::decompress(&p, &mut out).unwrap().0, input.len());
    assert_eq!(out, input);
}

#[cfg(feature = "snappy")]
mod with_encoder {
    use super::*;

    fn chunk_count(stream: &[u8]) -> usize {
        let mut pos = xerial::HEADER_LEN;
        let mut n = 0;
        while stream.len() - pos >= 4 {
            let len = u32::from_be_bytes(stream[pos..pos + 4].try_into().unwrap()) as usize;
            pos += 4 + len;
            n += 1;
        }
        assert_eq!(pos, stream.len());
        n
    }

    #[test]
    fn compress_empty_is_header_only() {
        let mut out = Vec::new();
        xerial::compress(&[], &mut out);
        assert_eq!(out, xerial_header(1, 1));
    }

    #[test]
    fn compress_appends() {
        let mut out = vec![9u8, 9];
        xerial::compress(b"abc", &mut out);
        assert_eq!(&out[..2], &[9, 9]);
        assert_eq!(&out[2..18], &xerial_header(1, 1)[..]);
    }

    #[test]
    fn compress_chunking_at_32k() {
        for (len, chunks) in [(1, 1), (32_768, 1), (32_769, 2), (65_536, 2), (100_000, 4)] {
            let input: Vec<u8> = (0..len as u32).map(|i| (i % 13) as u8).collect();
            let mut stream = Vec::new();
            xerial::compress(&input, &mut stream);
            assert_eq!(chunk_count(&stream), chunks, "len {len}");
            // Every chunk but the last holds exactly 32 KiB.
            let mut pos = 16;
            let mut sizes = Vec::new();
            while pos < stream.len() {
                let n = u32::from_be_bytes(stream[pos..pos + 4].try_into().unwrap()) as usize;
                sizes.push(raw::decompressed_len(&stream[pos + 4..pos + 4 + n]).unwrap());
                pos += 4 + n;
            }
            assert!(sizes[..sizes.len() - 1]
                .iter()
                .all(|&s| s == xerial::CHUNK_SIZE));
            assert_eq!(sizes.iter().sum::<usize>(), len);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn xerial_roundtrip(input in prop_oneof![
            data(),
            prop::collection::vec(any::<u8>(), 30_000..120_000),
        ]) {
            let mut stream = Vec::new();
            xerial::compress(&input, &mut stream);
            prop_assert_eq!(xerial::decompressed_len(&stream).unwrap(), input.len());
            let mut out = vec![0u8; input.len()];
            let (n, framing) = xerial::decompress(&stream, &mut out).unwrap();
            prop_assert_eq!(n, input.len());
            prop_assert_eq!(framing, Framing::Xerial(XerialHeader { version: 1, compat: 1 }));
            prop_assert!(out == input);
        }

        #[test]
        fn xerial_mutated_never_panics(input in data(), ms in prop::collection::vec(mutation(), 1..4)) {
            let mut stream = Vec::new();
            xerial::compress(&input, &mut stream);
            let p = apply(&stream, &ms);
            let mut out = vec![0u8; input.len() + 100];
            if let Err(e) = xerial::decompress(&p, &mut out) {
                prop_assert!(e.offset <= p.len());
            }
        }
    }
}
