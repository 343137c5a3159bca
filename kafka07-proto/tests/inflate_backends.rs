//! The inflate backends (`gzip::Backend`) give the same results for every input: gzip decoding
//! (output, `GzipInfo`, every error's kind and offset) and deep iteration (messages, offsets,
//! errors, where iteration stopped). The differential tests need the feature `zlib-rs`
//! (`cargo test -p kafka07-proto --features zlib-rs`); the rest checks the default backend.

mod common;

use kafka07_proto::gzip::{self, Backend, GzipError, GzipInfo, Inflater};
use kafka07_proto::DecodeOptions;

/// Decodes `input` into `out`: the result, and the output bytes it reports (partial output
/// on error is unspecified and not compared).
fn run_in(
    f: impl FnOnce(&[u8], &mut [u8]) -> Result<GzipInfo, GzipError>,
    input: &[u8],
    out: &mut [u8],
) -> (Result<GzipInfo, GzipError>, Vec<u8>) {
    let r = f(input, out);
    let n = r.map_or(0, |i| i.output_len);
    (r, out[..n].to_vec())
}

/// [`run_in`] with a fresh buffer of `cap` bytes.
fn run(
    f: impl FnOnce(&[u8], &mut [u8]) -> Result<GzipInfo, GzipError>,
    input: &[u8],
    cap: usize,
) -> (Result<GzipInfo, GzipError>, Vec<u8>) {
    run_in(f, input, &mut vec![0u8; cap])
}

#[test]
fn default_backend_is_miniz_oxide() {
    assert_eq!(Backend::default(), Backend::MinizOxide);
    assert_eq!(DecodeOptions::default().inflate, Backend::MinizOxide);
    assert_eq!(DecodeOptions::new(), DecodeOptions::default());
    let opts = DecodeOptions::default().inflate(Backend::MinizOxide);
    assert_eq!(opts, DecodeOptions::default());
    let inflater = Inflater::default();
    assert_eq!(inflater.backend(), Backend::MinizOxide);
    assert!(format!("{inflater:?}").contains("MinizOxide"));
}

#[test]
fn miniz_inflater_matches_decompress() {
    let mut inflater = Inflater::new(Backend::MinizOxide);
    let mut gz = Vec::new();
    for i in 0..5u8 {
        gzip::compress(&vec![i; 1000 * usize::from(i)], &mut gz);
    }
    gz.extend_from_slice(b"trailing");
    for cap in [0, 1, 3999, 4000, 10_000, 10_001] {
        for input in [&gz[..], &gz[..gz.len() / 2], &gz[1..]] {
            assert_eq!(
                run(|i, o| gzip::decompress_in(&mut inflater, i, o), input, cap),
                run(gzip::decompress, input, cap),
                "cap {cap}"
            );
        }
    }
}

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn inflater_and_deep_cursor_are_send_and_sync() {
    // (`Deep` is neither: it may hold a `&bumpalo::Bump`.)
    assert_send_sync::<Inflater>();
    assert_send_sync::<kafka07_proto::DeepCursor<'static, 'static>>();
}

#[cfg(feature = "zlib-rs")]
mod zlib_rs {
    use super::common::{data, gzip_wrapper_hello_there, hex, GZ_HELLO_THERE, HELLO, THERE};
    use super::{run, run_in};
    use kafka07_proto::gzip::{self, Backend, GzipErrorKind, GzipHeader, Inflater, JDK_HEADER};
    use kafka07_proto::{
        wrap, Codec, CrcPolicy, CrcStatus, DecodeOptions, DeepCursor, Error, Expect, MessageRepr,
        MessageSet, Request, Response, Stop,
    };
    use proptest::prelude::*;

    // ---------------------------------------------------------------------------------------
    // gzip::decompress_in: both backends, every kind of input
    // ---------------------------------------------------------------------------------------

    /// Inflaters reused across every comparison of a test, as deep iteration reuses its own:
    /// a reused zlib-rs inflater must not carry anything over from an input it failed on.
    struct Both {
        miniz: Inflater,
        zlib: Inflater,
        /// Output buffers, one per decoder, reused (allocating 1 MiB per decode is slow).
        bufs: [Vec<u8>; 3],
        compared: usize,
    }

    impl Both {
        fn new() -> Self {
            Both {
                miniz: Inflater::new(Backend::MinizOxide),
                zlib: Inflater::new(Backend::ZlibRs),
                bufs: [vec![0; 1 << 20], vec![0; 1 << 20], vec![0; 1 << 20]],
                compared: 0,
            }
        }

        /// Asserts that `decompress`, and `decompress_in` with each backend, agree on `input`
        /// with an output buffer of `cap` bytes (at most 1 MiB); returns the result.
        fn check(&mut self, input: &[u8], cap: usize, what: &str) -> Result<GzipInfo, GzipError> {
            let [a, b, c] = &mut self.bufs;
            let reference = run_in(gzip::decompress, input, &mut a[..cap]);
            let (miniz, zlib) = (&mut self.miniz, &mut self.zlib);
            let m = run_in(
                |i, o| gzip::decompress_in(miniz, i, o),
                input,
                &mut b[..cap],
            );
            let z = run_in(|i, o| gzip::decompress_in(zlib, i, o), input, &mut c[..cap]);
            assert_eq!(m, reference, "miniz inflater, {what}, cap {cap}");
            assert_eq!(z, reference, "zlib-rs inflater, {what}, cap {cap}");
            self.compared += 1;
            reference.0
        }

        /// [`check`](Self::check) with a roomy buffer, then (when it decodes) the exact
        /// output size, one byte less, and none.
        fn check_sizes(&mut self, input: &[u8], what: &str) -> Result<GzipInfo, GzipError> {
            let r = self.check(input, 1 << 20, what);
            if let Ok(info) = r {
                let exact = self.check(input, info.output_len, what);
                assert_eq!(exact, r, "exact fit, {what}");
                if info.output_len > 0 {
                    let e = self.check(input, info.output_len - 1, what).unwrap_err();
                    assert_eq!(
                        e.kind,
                        GzipErrorKind::OutputLimit {
                            limit: info.output_len - 1
                        },
                        "{what}"
                    );
                    let _ = self.check(input, 0, what).unwrap_err();
                }
            }
            r
        }
    }

    use kafka07_proto::gzip::{GzipError, GzipInfo};

    const GO_TESTING: &str =
        "1f8b08000000000004ff626060e0656478f1398aad24b5b824332f1d100000ffff0c6a829111000000";
    const PHP_HELLO: &str = "1f8b0800000000000003f348cdc9c957040056cc2a9d06000000";

    /// Deterministic, somewhat compressible data (as in tests/gzip.rs).
    fn sample(len: usize) -> Vec<u8> {
        let mut x: u32 = 0x1234_5678;
        (0..len)
            .map(|i| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                if i % 7 < 4 {
                    b"kafka07 "[i % 8]
                } else {
                    (x >> 24) as u8
                }
            })
            .collect()
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        gzip::compress(data, &mut v);
        v
    }

    fn gz_level(data: &[u8], level: u8) -> Vec<u8> {
        let mut v = Vec::new();
        gzip::compress_level(data, level, &mut v);
        v
    }

    /// A member of `data` with every optional header field (FHCRC included).
    fn all_fields_member(data: &[u8]) -> Vec<u8> {
        let flags =
            GzipHeader::FEXTRA | GzipHeader::FNAME | GzipHeader::FCOMMENT | GzipHeader::FHCRC;
        let mut m = vec![0x1f, 0x8b, 8, flags, 0x10, 0x20, 0x30, 0x40, 0, 3];
        m.extend_from_slice(&3u16.to_le_bytes());
        m.extend_from_slice(b"xyz");
        m.extend_from_slice(b"name.json\0");
        m.extend_from_slice(b"comment\0");
        let crc16 = crc32fast::hash(&m) as u16;
        m.extend_from_slice(&crc16.to_le_bytes());
        m.extend_from_slice(&gz(data)[JDK_HEADER.len()..]);
        m
    }

    /// Members made by other encoders, hand-made corrupt ones, and ours.
    fn members() -> Vec<(String, Vec<u8>)> {
        let mut v = vec![
            ("JDK 17 [hello, there]".to_string(), hex(GZ_HELLO_THERE)),
            ("Go sync flush".to_string(), hex(GO_TESTING)),
            ("PHP gzencode".to_string(), hex(PHP_HELLO)),
            (
                "all header fields".to_string(),
                all_fields_member(b"fields"),
            ),
            ("empty".to_string(), gz(b"")),
            ("sample 5000".to_string(), gz(&sample(5000))),
            ("stored".to_string(), gz_level(&sample(3000), 0)),
            ("level 1".to_string(), gz_level(&sample(4000), 1)),
            ("level 9".to_string(), gz_level(&sample(4000), 9)),
            ("zeros 100000".to_string(), gz(&vec![0u8; 100_000])),
            ("sample 70000".to_string(), gz(&sample(70_000))),
        ];
        // The deflate streams zlib itself writes (the dev-dependency flate2 is zlib-rs here).
        for level in [1, 6, 9] {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
            e.write_all(&sample(6000)).unwrap();
            v.push((format!("zlib level {level}"), e.finish().unwrap()));
        }
        // Reserved block type; a stored block with LEN != ~NLEN; a distance before the start.
        for (name, body) in [
            (
                "reserved block type",
                &[0x07, 0, 0, 0, 0, 0, 0, 0, 0, 0][..],
            ),
            (
                "bad stored length",
                &[
                    0x01, 0x05, 0x00, 0x00, 0x00, b'h', b'e', b'l', b'l', b'o', 0, 0, 0, 0, 0, 0,
                    0, 0,
                ][..],
            ),
            (
                "distance too far",
                &[0x03, 0x02, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0][..],
            ),
        ] {
            let mut m = JDK_HEADER.to_vec();
            m.extend_from_slice(body);
            v.push((name.to_string(), m));
        }
        v
    }

    /// `KAFKA07_EXHAUSTIVE=1`: every cut and every bit flip of every member (minutes in a
    /// debug build).
    fn exhaustive() -> bool {
        std::env::var_os("KAFKA07_EXHAUSTIVE").is_some()
    }

    #[test]
    fn flate2_is_the_zlib_rs_backend() {
        // flate2's Debug of its inflate state names the backend it was built with.
        let d = format!("{:?}", flate2::Decompress::new(false));
        assert!(d.contains("zlib_rs"), "flate2 backend: {d}");
        let i = Inflater::new(Backend::ZlibRs);
        assert_eq!(i.backend(), Backend::ZlibRs);
        assert!(format!("{i:?}").contains("ZlibRs"));
    }

    #[test]
    fn backends_agree_on_the_test_vectors() {
        let mut both = Both::new();
        for (name, m) in members() {
            let r = both.check_sizes(&m, &name);
            let corrupt = ["reserved", "bad stored", "distance"]
                .iter()
                .any(|k| name.contains(k));
            assert_eq!(r.is_err(), corrupt, "{name}: {r:?}");
        }
        // The golden vector's content.
        let (r, out) = run(
            |i, o| gzip::decompress_in(&mut both.zlib, i, o),
            &hex(GZ_HELLO_THERE),
            64,
        );
        assert_eq!(r.unwrap().output_len, 30);
        assert_eq!(out, [hex(HELLO), hex(THERE)].concat());
    }

    #[test]
    fn backends_agree_on_multi_member_streams_and_trailing_bytes() {
        let mut both = Both::new();
        let ms = members();
        let good: Vec<&Vec<u8>> = ms
            .iter()
            .filter(|(_, m)| gzip::decompress(m, &mut vec![0; 1 << 20]).is_ok())
            .map(|(_, m)| m)
            .collect();
        // All good members one after another, and every pair.
        let all: Vec<u8> = good.iter().flat_map(|m| m.iter().copied()).collect();
        assert_eq!(both.check_sizes(&all, "all").unwrap().members, good.len());
        for a in &good {
            for b in &good {
                let s = [a.as_slice(), b.as_slice()].concat();
                assert_eq!(both.check_sizes(&s, "pair").unwrap().members, 2);
            }
        }
        // A good member followed by a corrupt one, and by every kind of trailing bytes.
        let base = hex(GZ_HELLO_THERE);
        for (name, m) in &ms {
            let s = [base.as_slice(), m].concat();
            let _ = both.check_sizes(&s, &format!("then {name}"));
        }
        let tails: [&[u8]; 9] = [
            b"\0\0\0\0",
            b"garbage!",
            b"\x1f",
            b"\x1f\x8c\x08",
            b"\x8b\x1f",
            &[0x1f, 0x8b],
            &[0x1f, 0x8b, 8, 0x40],
            &[0x1f, 0x8b, 9, 0],
            &JDK_HEADER,
        ];
        for tail in tails {
            for s in [
                [base.as_slice(), tail].concat(),
                [base.as_slice(), &base, tail].concat(),
                [all.as_slice(), tail].concat(),
            ] {
                let _ = both.check_sizes(&s, &format!("tail {tail:02x?}"));
            }
        }
    }

    #[test]
    fn backends_agree_on_every_truncation() {
        let mut both = Both::new();
        let mut ms = members();
        ms.push((
            "two members".to_string(),
            [gz(b"one"), gz(&sample(2000))].concat(),
        ));
        for (name, m) in ms {
            // Every cut of the small members; of the large ones (debug builds inflate slowly)
            // the first and last 64 and every 61st in between, unless KAFKA07_EXHAUSTIVE is set.
            let n = m.len();
            let cuts: Vec<usize> = if n < 8000 || exhaustive() {
                (0..n).collect()
            } else {
                (0..n)
                    .filter(|&c| c < 64 || c + 64 >= n || c % 61 == 0)
                    .collect()
            };
            for cut in cuts {
                let what = format!("{name} cut at {cut}");
                let r = both.check(&m[..cut], 1 << 20, &what);
                if let Ok(info) = r {
                    // Only a cut inside the header of a second member leaves a whole first one.
                    assert!(info.trailing < 10, "{what}");
                }
            }
        }
        assert!(both.compared > 15_000, "{}", both.compared);
    }

    #[test]
    fn backends_agree_on_every_bit_flip() {
        let mut both = Both::new();
        let mut kinds = std::collections::BTreeSet::new();
        // Debug builds inflate slowly: skip the members of more than 8000 bytes (their kinds of
        // blocks are in the smaller ones, and the proptests below mutate large members too),
        // unless KAFKA07_EXHAUSTIVE is set.
        let all = exhaustive();
        for (name, m) in members().iter().filter(|(_, m)| all || m.len() <= 8000) {
            // Every byte of members up to 1500 bytes; of the larger ones the first 300 and
            // last 64 bytes (header, Huffman tables, end of the data, trailer) and every 13th
            // byte in between.
            let n = m.len();
            let every = all || n <= 1500;
            for at in (0..n).filter(|&i| every || i < 300 || i + 64 >= n || i % 13 == 0) {
                for mask in [0x01u8, 0x80] {
                    let mut bad = m.clone();
                    bad[at] ^= mask;
                    let what = format!("{name}, byte {at} ^ {mask:#04x}");
                    let r = both.check(&bad, 1 << 20, &what);
                    if let Err(e) = r {
                        kinds.insert(
                            format!("{:?}", e.kind)
                                .split([' ', '('])
                                .next()
                                .unwrap()
                                .to_string(),
                        );
                        // And with the output cut short: OutputLimit or the same error.
                        let _ = both.check(&bad, 100, &what);
                    }
                }
            }
        }
        // Every kind of failure was compared, corrupt deflate data included.
        for k in [
            "Inflate",
            "Truncated",
            "CrcMismatch",
            "SizeMismatch",
            "BadMagic",
        ] {
            assert!(kinds.contains(k), "no {k} among {kinds:?}");
        }
    }

    /// Writes deflate bits: values LSB first, Huffman codes MSB first (RFC 1951 3.1.1).
    #[derive(Default)]
    struct Bits {
        bytes: Vec<u8>,
        used: u32,
    }

    impl Bits {
        fn bit(&mut self, b: u32) {
            if self.used % 8 == 0 {
                self.bytes.push(0);
            }
            *self.bytes.last_mut().unwrap() |= ((b & 1) as u8) << (self.used % 8);
            self.used += 1;
        }

        fn value(&mut self, v: u32, n: u32) {
            (0..n).for_each(|i| self.bit(v >> i));
        }

        fn code(&mut self, code: &str) {
            code.bytes().for_each(|c| self.bit(u32::from(c - b'0')));
        }
    }

    /// A member whose one dynamic-Huffman block has no end-of-block code: literals 'a' and 'b'
    /// (1-bit codes) and 80 of them, then the input ends. zlib rejects the block when it reads
    /// its code lengths ("invalid code -- missing end-of-block"); miniz_oxide decodes the
    /// literals until the output is full or the input ends.
    fn missing_end_of_block() -> Vec<u8> {
        let mut w = Bits::default();
        w.value(1, 1); // BFINAL
        w.value(2, 2); // BTYPE = dynamic
        w.value(0, 5); // HLIT: 257 literal/length codes
        w.value(0, 5); // HDIST: 1 distance code
        w.value(14, 4); // HCLEN: 18 code-length code lengths

        // In the order 16 17 18 0 8 7 9 6 10 5 11 4 12 3 13 2 14 1: 18 -> 1, 2 -> 2, 1 -> 2.
        for len in [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 2] {
            w.value(len, 3);
        }
        // Code-length codes: 18 = 0, 1 = 10, 2 = 11.
        w.code("0"); // 97 zeros (symbols 0..=96)
        w.value(97 - 11, 7);
        w.code("10"); // 'a': length 1
        w.code("10"); // 'b': length 1
        w.code("0"); // 138 zeros
        w.value(127, 7);
        w.code("0"); // 20 zeros (symbols 99..=256: no end of block)
        w.value(9, 7);
        w.code("10"); // distance 0: length 1
        for _ in 0..40 {
            w.code("0"); // 'a'
            w.code("1"); // 'b'
        }
        let mut m = JDK_HEADER.to_vec();
        m.extend_from_slice(&w.bytes);
        m
    }

    #[test]
    fn where_the_engines_disagree_miniz_oxide_decides() {
        let m = missing_end_of_block();
        let body = &m[JDK_HEADER.len()..];
        // The engines themselves disagree ...
        let mut raw = flate2::Decompress::new(false);
        let mut out = [0u8; 64];
        assert!(raw
            .decompress(body, &mut out, flate2::FlushDecompress::Finish)
            .is_err());
        assert_eq!(
            gzip::decompress(&m, &mut [0u8; 1000]).unwrap_err(),
            GzipError {
                kind: GzipErrorKind::Truncated,
                offset: JDK_HEADER.len()
            }
        );
        let e = gzip::decompress(&m, &mut out).unwrap_err();
        assert_eq!(e.kind, GzipErrorKind::OutputLimit { limit: 64 });
        // ... and the zlib-rs backend reports what miniz_oxide does.
        let mut both = Both::new();
        for cap in [0, 1, 64, 79, 80, 81, 1000] {
            let _ = both.check(&m, cap, "missing end of block");
        }
        assert_eq!(both.check(&m, 64, "missing end of block"), Err(e));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn backends_agree_on_random_deflate_data(
            body in proptest::collection::vec(any::<u8>(), 0..300),
            cap in 0usize..2000,
        ) {
            let mut both = Both::new();
            let mut m = JDK_HEADER.to_vec();
            m.extend_from_slice(&body);
            let _ = both.check(&m, cap, "random body");
            let _ = both.check(&m, 1 << 16, "random body");
        }

        #[test]
        fn backends_agree_on_mutated_members(
            len in 0usize..3000,
            level in 0u8..10,
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
            cap_less in 0usize..40,
        ) {
            let mut both = Both::new();
            let mut m = gz_level(&sample(len), level);
            for (i, b) in &edits {
                let at = i.index(m.len());
                m[at] = *b;
            }
            let _ = both.check(&m, 1 << 16, "mutated");
            let _ = both.check(&m, len.saturating_sub(cap_less), "mutated, short output");
        }
    }

    // ---------------------------------------------------------------------------------------
    // Deep iteration with DecodeOptions::inflate(Backend::ZlibRs)
    // ---------------------------------------------------------------------------------------

    /// One yielded item of a deep iteration, owned.
    type Item = Result<(u64, u64, u8, CrcStatus, Vec<u8>), Error>;

    fn owned(m: kafka07_proto::Result<kafka07_proto::MessageAndOffset<'_>>) -> Item {
        m.map(|m| {
            (
                m.position,
                m.offset,
                m.depth,
                m.crc,
                m.message.payload().to_vec(),
            )
        })
    }

    /// `MessageSet::deep` with a scratch of `scratch` bytes: the items and where it stopped.
    fn deep(set: &[u8], base: u64, scratch: usize, opts: DecodeOptions) -> (Vec<Item>, Stop) {
        let mut s = vec![0u8; scratch];
        let mut it = MessageSet::new(set, base).deep(&mut s, opts);
        let items = it.by_ref().map(owned).collect();
        (items, it.stop())
    }

    /// `MessageSet::deep_in` with an arena.
    fn deep_arena(set: &[u8], base: u64, opts: DecodeOptions) -> (Vec<Item>, Stop) {
        let arena = bumpalo::Bump::new();
        let mut it = MessageSet::new(set, base).deep_in(&arena, opts);
        let items = it.by_ref().map(owned).collect();
        (items, it.stop())
    }

    /// `DeepCursor` (one inflater for all entries): the items, entry errors, and where the
    /// top-level walk stopped.
    fn cursor(set: &[u8], base: u64, scratch: usize, opts: DecodeOptions) -> (Vec<Item>, Stop) {
        let mut s = vec![0u8; scratch];
        let mut c = DeepCursor::new(MessageSet::new(set, base), &mut s, opts);
        let mut items = Vec::new();
        while let Some(entry) = c.next_entry() {
            match entry {
                Ok(d) => items.extend(d.map(owned)),
                Err(e) => items.push(Err(e)),
            }
        }
        (items, c.stop())
    }

    /// Asserts every deep iteration over `set` yields the same with both backends, under a
    /// few option sets and scratch sizes; returns the default run's items.
    fn same_deep(set: &[u8], base: u64, what: &str) -> Vec<Item> {
        let mut first = None;
        for opts in [
            DecodeOptions::default(),
            DecodeOptions::default().crc(CrcPolicy::Skip),
            DecodeOptions::default().crc(CrcPolicy::Report).lax(true),
            DecodeOptions::default().max_decompressed(100),
            DecodeOptions::default().max_depth(1),
        ] {
            let zlib = opts.inflate(Backend::ZlibRs);
            for scratch in [1 << 20, 64, 0] {
                let a = deep(set, base, scratch, opts);
                assert_eq!(
                    deep(set, base, scratch, zlib),
                    a,
                    "{what}: deep, {opts:?}, {scratch}"
                );
                assert_eq!(
                    cursor(set, base, scratch, zlib),
                    cursor(set, base, scratch, opts),
                    "{what}: cursor, {opts:?}, {scratch}"
                );
                if first.is_none() {
                    first = Some(a.0);
                }
            }
            assert_eq!(
                deep_arena(set, base, zlib),
                deep_arena(set, base, opts),
                "{what}: arena, {opts:?}"
            );
        }
        first.unwrap()
    }

    fn plain(p: &[u8]) -> Vec<u8> {
        MessageRepr::new(p).to_vec().unwrap()
    }

    fn gzip_wrapper(msgs: &[Vec<u8>]) -> Vec<u8> {
        let payload = kafka07_proto::compress_set(Codec::Gzip, &msgs.concat()).unwrap();
        MessageRepr::with_codec(Codec::Gzip, payload)
            .to_vec()
            .unwrap()
    }

    /// The message sets of the deep tests: spec and peer fixtures, the reference segment,
    /// nested wrappers.
    fn sets() -> Vec<(&'static str, Vec<u8>, u64)> {
        let mut v = Vec::new();
        // Spec §12.2: the Go client's gzip wrapper of "testing".
        let go = hex(&format!("0000002f 01 01 07fdc376 {GO_TESTING}"));
        v.push(("Go gzip wrapper", go, 0));
        // Spec §5.4 / §12.3: hello, gzip[hello, there], there, fetched at 1000.
        v.push((
            "spec 5.4",
            [hex(HELLO), gzip_wrapper_hello_there(), hex(THERE)].concat(),
            1000,
        ));
        // kafka-php: A, gzip[B, C], D fetched at 2870; gzip of a bare payload; two PRODUCEs.
        let resp = data("peer-test-suites/kafka-php/tests_Kafka_V07_ConsumerChannelTest__L52.bin");
        let (r, _) = Response::decode(&resp, Expect::Fetch).unwrap();
        let Response::Fetch(f) = r else { panic!() };
        v.push(("php fetch response", f.messages.to_vec(), 2870));
        v.push((
            "php gzip of a bare payload",
            data("peer-test-suites/kafka-php/tests_Kafka_V07_ChannelTest__L51.bin"),
            0,
        ));
        for file in [
            "tests_Kafka_V07_ProducerChannelTest__L46.bin",
            "tests_Kafka_V07_ProducerChannelTest__L63.bin",
        ] {
            let req = data(&format!("peer-test-suites/kafka-php/{file}"));
            let (Request::Produce(p), _) = Request::decode(&req).unwrap() else {
                panic!()
            };
            v.push(("php produce gzip", p.messages.to_vec(), 0));
        }
        // The reference's magic-0 segment (no wrappers: both backends are never called).
        v.push((
            "reference segment",
            data("reference/MagicByte0-0/00000000000000000000.kafka"),
            0,
        ));
        // gzip[gzip[m1, m2], m3] after a plain message; gzip[w, snappy[x, y]].
        let inner = gzip_wrapper(&[plain(b"m1"), plain(b"m2")]);
        v.push((
            "nested gzip",
            [plain(b"before"), gzip_wrapper(&[inner, plain(b"m3")])].concat(),
            0,
        ));
        let sn = wrap(
            Codec::Snappy,
            &[MessageRepr::new(&b"x"[..]), MessageRepr::new(&b"y"[..])],
        )
        .unwrap()
        .unwrap()
        .to_vec()
        .unwrap();
        v.push(("gzip of snappy", gzip_wrapper(&[plain(b"w"), sn]), 0));
        // Batches of 40 messages, as a producer sends them.
        let mut batches = Vec::new();
        for b in 0..5 {
            let msgs: Vec<Vec<u8>> = (0..40).map(|i| plain(&sample(20 + b * 40 + i))).collect();
            batches.extend(gzip_wrapper(&msgs));
        }
        v.push(("gzip batches", batches, 5000));
        v
    }

    #[test]
    fn deep_iteration_agrees_on_the_fixtures() {
        for (name, set, base) in sets() {
            let items = same_deep(&set, base, name);
            match name {
                "spec 5.4" => {
                    let offsets: Vec<u64> = items.iter().map(|m| m.as_ref().unwrap().1).collect();
                    assert_eq!(offsets, [1015, 1015, 1072, 1087]);
                }
                "php fetch response" => {
                    let got: Vec<(u64, Vec<u8>)> = items
                        .into_iter()
                        .map(|m| {
                            let m = m.unwrap();
                            (m.1, m.4)
                        })
                        .collect();
                    assert_eq!(
                        got,
                        [
                            (2894, b"Hello World A!".to_vec()),
                            (2894, b"Hello World B!".to_vec()),
                            (2959, b"Hello World C!".to_vec()),
                            (2983, b"Hello World D!".to_vec()),
                        ]
                    );
                }
                "php gzip of a bare payload" => assert!(items.last().unwrap().is_err()),
                "reference segment" => assert_eq!(items.len(), 100),
                "gzip batches" => {
                    assert_eq!(items.len(), 200);
                    assert!(items.iter().all(|m| m.is_ok()));
                }
                _ => assert!(items.iter().all(|m| m.is_ok()), "{name}: {items:?}"),
            }
        }
    }

    #[test]
    fn deep_iteration_agrees_on_corrupt_wrappers() {
        // Every byte of a gzip wrapper's payload flipped, CRCs skipped so that the gzip
        // decoder sees it: the same messages and the same error (kind, layer, offset).
        let set = [hex(HELLO), gzip_wrapper_hello_there(), hex(THERE)].concat();
        let payload_at = hex(HELLO).len() + 10;
        let payload_len = hex(GZ_HELLO_THERE).len();
        let mut errors = 0;
        for at in payload_at..payload_at + payload_len {
            for mask in [0x01u8, 0x80] {
                let mut bad = set.clone();
                bad[at] ^= mask;
                for opts in [
                    DecodeOptions::default().crc(CrcPolicy::Skip),
                    DecodeOptions::default().crc(CrcPolicy::Skip).lax(true),
                ] {
                    let zlib = opts.inflate(Backend::ZlibRs);
                    let a = deep(&bad, 1000, 256, opts);
                    errors += usize::from(matches!(a.1, Stop::Error(_)));
                    assert_eq!(deep(&bad, 1000, 256, zlib), a, "byte {at} ^ {mask}");
                    assert_eq!(cursor(&bad, 1000, 256, zlib), cursor(&bad, 1000, 256, opts));
                    assert_eq!(deep_arena(&bad, 1000, zlib), deep_arena(&bad, 1000, opts));
                }
            }
        }
        assert!(errors > 100, "{errors}");
    }

    #[test]
    fn cursor_switches_backend_per_options() {
        // One cursor's inflater serves every entry; a Deep made with other options gets its own.
        let set = [gzip_wrapper_hello_there(), gzip_wrapper_hello_there()].concat();
        let (a, stop) = cursor(
            &set,
            0,
            64,
            DecodeOptions::default().inflate(Backend::ZlibRs),
        );
        assert_eq!(stop, Stop::End);
        assert_eq!(a.len(), 4);
        assert_eq!(
            cursor(&set, 0, 64, DecodeOptions::default()),
            (a, Stop::End)
        );
    }
}
