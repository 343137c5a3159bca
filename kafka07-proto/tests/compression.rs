//! Compressed message sets: golden vectors (spec §12.2, §12.3, §5.4, the PHP client's gzip
//! fixtures), nesting, the reference offset rule, limits, and encoding.
// Without the `snappy` feature the snappy-encoding tests are left out, and some imports with them.
#![cfg_attr(not(feature = "snappy"), allow(unused_imports))]

mod common;
use common::{data, gzip_wrapper_hello_there, hex, HELLO, THERE};

use kafka07_proto::{
    crc32, wrap, Codec, CrcPolicy, CrcStatus, DecodeOptions, DeepCursor, ErrorKind, Layer,
    MessageRepr, MessageSet, Stop,
};

fn deep_all(set: &[u8], base: u64, scratch: usize, opts: DecodeOptions) -> Vec<(u64, u8, Vec<u8>)> {
    let mut s = vec![0u8; scratch];
    MessageSet::new(set, base)
        .deep(&mut s, opts)
        .map(|m| {
            let m = m.unwrap();
            (m.offset, m.depth, m.message.payload().to_vec())
        })
        .collect()
}

fn deep_err(
    set: &[u8],
    base: u64,
    scratch: usize,
    opts: DecodeOptions,
) -> (usize, kafka07_proto::Error) {
    let mut s = vec![0u8; scratch];
    let mut ok = 0;
    for m in MessageSet::new(set, base).deep(&mut s, opts) {
        match m {
            Ok(_) => ok += 1,
            Err(e) => return (ok, e),
        }
    }
    panic!("no error after {ok} messages");
}

fn plain(p: &[u8]) -> Vec<u8> {
    MessageRepr::new(p).to_vec().unwrap()
}

fn wrapper(codec: Codec, msgs: &[Vec<u8>]) -> Vec<u8> {
    let set = msgs.concat();
    let payload = kafka07_proto::compress_set(codec, &set).unwrap();
    MessageRepr::with_codec(codec, payload).to_vec().unwrap()
}

const D: DecodeOptions = DecodeOptions::new().max_decompressed(1 << 24);

#[test]
fn go_gzip_wrapper_deep() {
    // §12.2: Go's gzip (OS=FF, XFL=04, sync-flush block) of the magic-1 "testing" entry.
    let w = hex("0000002f 01 01 07fdc376
         1f8b08000000000004ff626060e0656478f1398aad24b5b824332f1d100000ffff0c6a829111000000");
    assert_eq!(deep_all(&w, 0, 64, D), [(51, 1, b"testing".to_vec())]);
}

#[test]
fn jdk_gzip_and_xerial_snappy_wrappers_deep() {
    // §12.3: both wrappers hold [hello, there]; inner offsets: wrapper start, then its end.
    let gz = gzip_wrapper_hello_there();
    assert_eq!(
        deep_all(&gz, 0, 64, D),
        [(0, 1, b"hello".to_vec()), (57, 1, b"there".to_vec())]
    );
    let sn = hex(&format!(
        "0000003a 01 02 507fed60 82534e4150505900 00000001 00000001 00000020 1e74 {HELLO} {THERE}"
    ));
    assert_eq!(
        deep_all(&sn, 0, 64, D),
        [(0, 1, b"hello".to_vec()), (62, 1, b"there".to_vec())]
    );
    // The JDK 6-15 header (OS byte 0) decodes the same; its wrapper CRC differs.
    let mut old = gz[10..].to_vec();
    old[9] = 0;
    let old_wrapper = MessageRepr::with_codec(Codec::Gzip, &old[..])
        .to_vec()
        .unwrap();
    assert_eq!(deep_all(&old_wrapper, 0, 64, D).len(), 2);
}

#[test]
fn raw_snappy_wrapper_fallback() {
    // A bare snappy block (no xerial header): the snappy-java reader's compat fallback.
    let block = hex(&format!("1e74 {HELLO} {THERE}"));
    let w = MessageRepr::with_codec(Codec::Snappy, &block[..])
        .to_vec()
        .unwrap();
    assert_eq!(
        deep_all(&w, 100, 64, D),
        [
            (100, 1, b"hello".to_vec()),
            (100 + 4 + 6 + 32, 1, b"there".to_vec())
        ]
    );
}

#[test]
fn spec_5_4_deep_offsets() {
    let set = [hex(HELLO), gzip_wrapper_hello_there(), hex(THERE)].concat();
    let got: Vec<u64> = deep_all(&set, 1000, 64, D).iter().map(|m| m.0).collect();
    assert_eq!(got, [1015, 1015, 1072, 1087]);
    // Shallow offsets are a subset of deep offsets (reference test).
    for m in MessageSet::new(&set, 1000).shallow() {
        assert!(got.contains(&m.unwrap().offset));
    }
}

#[test]
fn php_fetch_response_deep_offsets() {
    // kafka-php ConsumerChannelTest L52: A, gzip(B, C), D fetched at 2870. The PHP test's
    // "watermarks" are the reference offsets; kafka-php itself moves past the whole batch
    // after B (its bug), we do not.
    let resp = data("peer-test-suites/kafka-php/tests_Kafka_V07_ConsumerChannelTest__L52.bin");
    let got = deep_all(&resp[6..], 2870, 256, D);
    let want: Vec<(u64, u8, Vec<u8>)> = vec![
        (2894, 0, b"Hello World A!".to_vec()),
        (2894, 1, b"Hello World B!".to_vec()),
        (2959, 1, b"Hello World C!".to_vec()),
        (2983, 0, b"Hello World D!".to_vec()),
    ];
    assert_eq!(got, want);
}

#[test]
fn php_produce_gzip_fixtures_deep() {
    for (file, before) in [
        ("tests_Kafka_V07_ProducerChannelTest__L46.bin", vec![]),
        (
            "tests_Kafka_V07_ProducerChannelTest__L63.bin",
            vec![b"Hello World!".to_vec()],
        ),
    ] {
        let req = data(&format!("peer-test-suites/kafka-php/{file}"));
        let (r, _) = kafka07_proto::Request::decode(&req).unwrap();
        let kafka07_proto::Request::Produce(p) = r else {
            panic!()
        };
        let payloads: Vec<Vec<u8>> = deep_all(p.messages, 0, 512, D)
            .into_iter()
            .map(|m| m.2)
            .collect();
        let mut want = before;
        want.extend([
            b"Hello World! A".to_vec(),
            b"Hello World! B".to_vec(),
            b"Hello World! C".to_vec(),
        ]);
        assert_eq!(payloads, want, "{file}");
    }
}

#[test]
fn php_gzip_of_a_bare_payload_is_a_clean_error() {
    // kafka-php gzips "Hello!" itself, not a message set: the content's first "length" is
    // 0x48656c6c, far beyond the 6 decompressed bytes: the first inner entry is cut.
    let w = data("peer-test-suites/kafka-php/tests_Kafka_V07_ChannelTest__L51.bin");
    let (ok, e) = deep_err(&w, 0, 64, D);
    assert_eq!(ok, 0);
    assert_eq!(
        e.kind(),
        ErrorKind::MessageLargerThanFetch {
            needed: 4 + 0x4865_6c6c,
            available: 6
        }
    );
    assert_eq!((e.depth(), e.offset()), (1, 0));
}

#[test]
#[cfg(feature = "snappy")] // encodes snappy
fn nested_wrapper_reference_test() {
    // CompressionUtilsTest.testComplexCompressDecompress: gzip[gzip[m1, m2], m3].
    let (m1, m2, m3) = (plain(b"m1"), plain(b"m2"), plain(b"m3"));
    let inner = wrapper(Codec::Gzip, &[m1, m2]);
    let outer = wrapper(Codec::Gzip, &[inner, m3]);
    let end = outer.len() as u64;
    let set = [plain(b"before"), outer].concat();
    let w = plain(b"before").len() as u64;
    assert_eq!(
        deep_all(&set, 0, 1024, D),
        [
            (w, 0, b"before".to_vec()),
            (w, 2, b"m1".to_vec()),
            (w, 2, b"m2".to_vec()),
            (w + end, 1, b"m3".to_vec()),
        ]
    );
    // Mixed codecs nest the same way.
    let inner = wrapper(Codec::Snappy, &[plain(b"x"), plain(b"y")]);
    let outer = wrapper(Codec::Gzip, &[plain(b"w"), inner]);
    let got: Vec<_> = deep_all(&outer, 0, 1024, D)
        .into_iter()
        .map(|m| (m.0, m.2))
        .collect();
    let end = outer.len() as u64;
    assert_eq!(
        got,
        [(0, b"w".to_vec()), (0, b"x".to_vec()), (end, b"y".to_vec())]
    );
}

#[test]
fn e11_empty_wrapper_is_skipped() {
    let empty = MessageRepr::with_codec(
        Codec::Gzip,
        kafka07_proto::compress_set(Codec::Gzip, &[]).unwrap(),
    )
    .to_vec()
    .unwrap();
    let set = [plain(b"a"), empty.clone(), plain(b"b")].concat();
    assert_eq!(
        deep_all(&set, 0, 64, D),
        [
            (11, 0, b"a".to_vec()),
            (11 + empty.len() as u64 + 11, 0, b"b".to_vec())
        ]
    );
}

#[test]
fn e12_undecodable_wrapper_is_an_error_with_position() {
    let garbage = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xffnot deflate at all".to_vec();
    let w = MessageRepr::with_codec(Codec::Gzip, &garbage[..])
        .to_vec()
        .unwrap();
    let set = [plain(b"a"), w].concat();
    let (ok, e) = deep_err(&set, 0, 256, D);
    assert_eq!(ok, 1);
    assert_eq!(e.layer(), Layer::Gzip);
    assert!(matches!(e.kind(), ErrorKind::Gzip(_)), "{e}");
    assert!(e.offset() >= 11 + 10, "inside the wrapper's payload: {e}");
    // A snappy wrapper whose xerial chunk is cut.
    let mut sn = hex("82534e4150505900 00000001 00000001 00000020 1e74");
    sn.extend(hex(HELLO));
    let w = MessageRepr::with_codec(Codec::Snappy, &sn[..])
        .to_vec()
        .unwrap();
    let (_, e) = deep_err(&w, 0, 256, D);
    assert_eq!(e.layer(), Layer::Snappy);
    assert!(e.to_string().contains("at byte"), "{e}");
}

#[test]
fn e13_nesting_deeper_than_the_limit() {
    let mut w = plain(b"core");
    for _ in 0..5 {
        w = wrapper(Codec::Gzip, &[w]);
    }
    // Five levels of wrappers: fine with max_depth 5, an error with 4.
    let got = deep_all(&w, 0, 4096, D.max_depth(5));
    assert_eq!(got, [(w.len() as u64, 5, b"core".to_vec())]);
    let (_, e) = deep_err(&w, 0, 4096, D.max_depth(4));
    assert_eq!(e.kind(), ErrorKind::NestingTooDeep { limit: 4 });
    assert_eq!(e.depth(), 4);
}

#[test]
fn e14_deep_offsets_are_not_unique() {
    let set = [
        plain(b"a"),
        wrapper(Codec::Gzip, &[plain(b"b"), plain(b"c")]),
    ]
    .concat();
    let offs: Vec<u64> = deep_all(&set, 0, 256, D).iter().map(|m| m.0).collect();
    assert_eq!(offs[0], offs[1], "a and the first inner message share 11");
}

#[test]
fn inner_error_replaces_the_message_before_it() {
    // Spec §5.3 step 5: the reference reads ahead, so a bad CRC in inner message 2 is raised
    // while message 1 is being produced.
    let mut bad = plain(b"two");
    bad[7] ^= 0xff;
    let set = wrapper(Codec::Gzip, &[plain(b"one"), bad]);
    let (ok, e) = deep_err(&set, 0, 256, D);
    assert_eq!(ok, 0);
    assert!(matches!(e.kind(), ErrorKind::CrcMismatch { .. }));
    assert_eq!((e.depth(), e.offset()), (1, 13));
    // Under the report policy both come out, the second flagged.
    let mut s = vec![0u8; 256];
    let crcs: Vec<_> = MessageSet::new(&set, 0)
        .deep(&mut s, D.crc(CrcPolicy::Report))
        .map(|m| m.unwrap().crc.is_ok())
        .collect();
    assert_eq!(crcs, [true, false]);
}

#[test]
fn wrapper_crc_is_checked_over_compressed_bytes() {
    let mut w = wrapper(Codec::Gzip, &[plain(b"a")]);
    let n = w.len();
    w[n - 9] ^= 0x01; // inside the gzip trailer: the wrapper CRC no longer matches
    let (_, e) = deep_err(&w, 0, 256, D);
    assert_eq!((e.layer(), e.depth()), (Layer::Message, 0));
    assert!(matches!(e.kind(), ErrorKind::CrcMismatch { .. }));
}

#[test]
fn decompression_bombs_fail_cleanly() {
    // A 1 KiB snappy wrapper whose preamble claims 4 GiB: refused before any work.
    let mut block = vec![0xff, 0xff, 0xff, 0xff, 0x0f];
    block.resize(1024, 0);
    let w = MessageRepr::with_codec(Codec::Snappy, &block[..])
        .to_vec()
        .unwrap();
    let (_, e) = deep_err(&w, 0, 1 << 20, D.max_decompressed(1 << 30));
    assert_eq!(
        e.kind(),
        ErrorKind::ScratchExhausted {
            needed: 0xffff_ffff,
            available: 1 << 20
        }
    );
    let (_, e) = deep_err(&w, 0, 1 << 20, D.max_decompressed(1 << 16));
    assert_eq!(e.kind(), ErrorKind::DecompressedLimit { limit: 1 << 16 });
    // About 1 KiB of gzip that inflates to 1 MiB of one repeated message.
    let big = plain(&vec![b'z'; 1 << 20]);
    let w = wrapper(Codec::Gzip, &[big]);
    assert!(w.len() < 2048, "{}", w.len());
    let (_, e) = deep_err(&w, 0, 1 << 21, D.max_decompressed(64 << 10));
    assert_eq!(e.kind(), ErrorKind::DecompressedLimit { limit: 64 << 10 });
    // Scratch too small: the error names what was needed (the gzip trailer's ISIZE).
    let (_, e) = deep_err(&w, 0, 4096, D);
    assert_eq!(
        e.kind(),
        ErrorKind::ScratchExhausted {
            needed: (1 << 20) + 10,
            available: 4096
        }
    );
}

#[test]
#[cfg(feature = "snappy")] // encodes snappy
fn xerial_stream_larger_than_the_scratch_reports_its_total() {
    // A xerial stream of two 32 KiB chunks (48,000 bytes of content) into 40,000 bytes of
    // scratch: the total of every chunk's preamble is what is needed, reported before any
    // chunk is written.
    let big = plain(&vec![b's'; 47_990]);
    let w = wrapper(Codec::Snappy, std::slice::from_ref(&big));
    let (_, e) = deep_err(&w, 0, 40_000, D);
    assert_eq!(
        e.kind(),
        ErrorKind::ScratchExhausted {
            needed: 48_000,
            available: 40_000
        }
    );
    assert_eq!(e.offset(), 0);
    let got = deep_all(&w, 0, 48_000, D);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].2, big[10..]);
}

#[test]
fn deep_cursor_reuses_scratch_per_entry() {
    let one = wrapper(Codec::Gzip, &[plain(&[b'a'; 900])]);
    let set = [one.clone(), one.clone(), one].concat();
    // Deep keeps every wrapper's content: 3 x 910 bytes do not fit 1500.
    let (ok, e) = deep_err(&set, 0, 1500, D);
    assert_eq!(ok, 1);
    assert!(matches!(
        e.kind(),
        ErrorKind::ScratchExhausted { needed: 910, .. }
    ));
    // DeepCursor reuses it.
    let mut scratch = vec![0u8; 1500];
    let mut cursor = DeepCursor::new(MessageSet::new(&set, 0), &mut scratch, D);
    let mut offsets = Vec::new();
    while let Some(entry) = cursor.next_entry() {
        for m in entry.unwrap() {
            let m = m.unwrap();
            assert_eq!(m.message.payload(), &[b'a'; 900][..]);
            offsets.push(m.offset);
        }
    }
    let w = set.len() as u64 / 3;
    assert_eq!(offsets, [w, 2 * w, 3 * w]);
    assert_eq!(cursor.stop(), Stop::End);
}

#[test]
#[cfg(feature = "snappy")] // encodes snappy
fn wrap_encodes_like_the_java_producer() {
    // Snappy: xerial header, then 32 KiB uncompressed chunks.
    let msgs: Vec<_> = (0..500)
        .map(|i| MessageRepr::new(format!("message number {i:05} ").repeat(10).into_bytes()))
        .collect();
    let set_len = kafka07_proto::set_wire_len(&msgs);
    assert!(set_len > 3 * 32 * 1024);
    let w = wrap(Codec::Snappy, &msgs).unwrap().unwrap();
    assert_eq!((w.magic, w.attributes, w.crc), (1, 2, crc32(&w.payload)));
    let p = &w.payload;
    assert_eq!(&p[..16], &hex("82534e4150505900 00000001 00000001")[..]);
    let mut chunks = 0;
    let mut at = 16;
    while at < p.len() {
        let n = u32::from_be_bytes(p[at..at + 4].try_into().unwrap()) as usize;
        let raw = kafka07_proto::snappy::decompressed_len(&p[at + 4..at + 4 + n]).unwrap();
        assert!(raw <= 32 * 1024);
        at += 4 + n;
        chunks += 1;
    }
    assert_eq!(chunks, set_len.div_ceil(32 * 1024));
    // Gzip: one member with the JDK header (OS byte 0).
    let g = wrap(Codec::Gzip, &msgs).unwrap().unwrap();
    assert_eq!(&g.payload[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0]);
    for wr in [w, g] {
        let bytes = wr.to_vec().unwrap();
        let got = deep_all(&bytes, 0, set_len, D);
        assert_eq!(got.len(), 500);
        for (m, want) in got.iter().zip(&msgs) {
            assert_eq!(m.2, want.payload);
        }
    }
    assert!(wrap::<&[u8]>(Codec::Gzip, &[]).unwrap().is_none());
    assert_eq!(
        wrap(Codec::None, &msgs).unwrap_err().kind(),
        ErrorKind::CodecUnavailable(0)
    );
}

#[test]
fn lax_deep_reports_instead_of_failing() {
    let mut bad = plain(b"two");
    bad[7] ^= 0xff;
    let set = [plain(b"one"), wrapper(Codec::Gzip, &[plain(b"x"), bad])].concat();
    let mut s = vec![0u8; 256];
    let mut it = MessageSet::new(&set, 0).deep(&mut s, D.lax(true));
    let got: Vec<_> = it
        .by_ref()
        .map(|m| m.unwrap().message.payload().to_vec())
        .collect();
    assert_eq!(got, [b"one".to_vec()]);
    assert!(matches!(it.stop(), Stop::Error(e) if e.depth() == 1));
    let _ = CrcStatus::Valid;
}

#[test]
#[cfg(feature = "snappy")] // encodes snappy
fn arena_scratch_grows_as_needed_within_the_limit() {
    // Gzip whose trailer hint is right, snappy with an exact preamble, nested: all decode
    // from an arena with no size given up front.
    let big = plain(&vec![b'q'; 300_000]);
    let inner = wrapper(Codec::Snappy, &[plain(b"s1"), big.clone()]);
    let outer = wrapper(Codec::Gzip, &[plain(b"g1"), inner]);
    let mut arena = bumpalo::Bump::new();
    for _ in 0..2 {
        let got: Vec<usize> = MessageSet::new(&outer, 0)
            .deep_in(&arena, D)
            .map(|m| m.unwrap().message.payload().len())
            .collect();
        assert_eq!(got, [2, 2, 300_000]);
        arena.reset();
    }
    // Two concatenated gzip members: the trailer hint (last member's ISIZE) undersizes the
    // content, so the arena grows and retries.
    let first = [plain(&vec![b'a'; 50_000]), plain(b"mid")].concat();
    let second = plain(b"end");
    let mut payload = Vec::new();
    kafka07_proto::gzip::compress(&first, &mut payload);
    kafka07_proto::gzip::compress(&second, &mut payload);
    let two = MessageRepr::with_codec(Codec::Gzip, &payload[..])
        .to_vec()
        .unwrap();
    let arena = bumpalo::Bump::new();
    let got: Vec<usize> = MessageSet::new(&two, 0)
        .deep_in(&arena, D)
        .map(|m| m.unwrap().message.payload().len())
        .collect();
    assert_eq!(got, [50_000, 3, 3]);
    // The limit holds for arenas too.
    let arena = bumpalo::Bump::new();
    let bomb = wrapper(Codec::Gzip, &[plain(&vec![0u8; 4 << 20])]);
    let e = MessageSet::new(&bomb, 0)
        .deep_in(&arena, D.max_decompressed(1 << 20))
        .find_map(|m| m.err())
        .unwrap();
    assert_eq!(e.kind(), ErrorKind::DecompressedLimit { limit: 1 << 20 });
    assert!(
        arena.allocated_bytes() < 4 << 20,
        "{}",
        arena.allocated_bytes()
    );
}
