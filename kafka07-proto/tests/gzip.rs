//! Value-checking tests for the gzip decoder and encoder.

use std::io::Read;

use kafka07_proto::gzip::{
    compress, compress_level, decompress, decompress_with, parse_header, DecompressorOxide,
    GzipError, GzipErrorKind, GzipHeader, GzipInfo, JDK_HEADER, MAGIC,
};
use proptest::prelude::*;

// ------------------------------------------------------------------------------------------
// helpers
// ------------------------------------------------------------------------------------------

fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| b.is_ascii_hexdigit()).collect();
    assert!(digits.len() % 2 == 0, "odd hex digit count");
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

/// Decodes `input` into a buffer of `cap` bytes and returns the output and info.
fn decode_cap(input: &[u8], cap: usize) -> Result<(Vec<u8>, GzipInfo), GzipError> {
    let mut out = vec![0u8; cap];
    let info = decompress(input, &mut out)?;
    out.truncate(info.output_len);
    Ok((out, info))
}

/// Decodes with a generous buffer.
fn decode(input: &[u8]) -> Result<(Vec<u8>, GzipInfo), GzipError> {
    decode_cap(input, 1 << 20)
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    compress(data, &mut v);
    v
}

/// A member with a hand-built header `hdr` in front of the deflate body and trailer of `data`.
fn with_header(hdr: &[u8], data: &[u8]) -> Vec<u8> {
    let m = gz(data);
    let mut v = hdr.to_vec();
    v.extend_from_slice(&m[JDK_HEADER.len()..]);
    v
}

fn err(kind: GzipErrorKind, offset: usize) -> GzipError {
    GzipError { kind, offset }
}

fn flate2_single(input: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut v = Vec::new();
    flate2::read::GzDecoder::new(input).read_to_end(&mut v)?;
    Ok(v)
}

fn flate2_multi(input: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut v = Vec::new();
    flate2::read::MultiGzDecoder::new(input).read_to_end(&mut v)?;
    Ok(v)
}

fn flate2_encode(data: &[u8], level: u32) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Deterministic, somewhat compressible test data.
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

const JDK17_HELLO_THERE: &str = "1f 8b 08 00 00 00 00 00 00 ff 63 60 60 e0 66 64 30 13 58 d6 96 91 9a 93 93 cf 00 e6 46 e9 bf 9c 56 92 91 5a 94 0a 00 85 ba 71 2c 1e 00 00 00";
const HELLO_THERE_SET: &str =
    "00 00 00 0b 01 00 36 10 a6 86 68 65 6c 6c 6f 00 00 00 0b 01 00 5a 2f e9 96 74 68 65 72 65";
const GO_TESTING: &str = "1f 8b 08 00 00 00 00 00 04 ff 62 60 60 e0 65 64 78 f1 39 8a ad 24 b5 b8 24 33 2f 1d 10 00 00 ff ff 0c 6a 82 91 11 00 00 00";
const TESTING_ENTRY: &str = "00 00 00 0d 01 00 e8 f3 5a 06 74 65 73 74 69 6e 67";
const PHP_HELLO: &str = "1f8b0800000000000003f348cdc9c957040056cc2a9d06000000";

// ------------------------------------------------------------------------------------------
// golden vectors (spec 12.2 / 12.3)
// ------------------------------------------------------------------------------------------

#[test]
fn golden_jdk17_hello_there() {
    let input = hex(JDK17_HELLO_THERE);
    let (out, info) = decode(&input).unwrap();
    assert_eq!(out, hex(HELLO_THERE_SET));
    assert_eq!(
        info,
        GzipInfo {
            output_len: 30,
            members: 1,
            trailing: 0
        }
    );
    let h = parse_header(&input).unwrap();
    assert_eq!((h.flags, h.mtime, h.xfl, h.os, h.len), (0, 0, 0, 0xff, 10));
    // Trailer as the spec states it: CRC 0x2c71ba85, ISIZE 30.
    let n = input.len();
    assert_eq!(
        u32::from_le_bytes(input[n - 8..n - 4].try_into().unwrap()),
        0x2c71_ba85
    );
    assert_eq!(crc32fast::hash(&out), 0x2c71_ba85);
}

#[test]
fn golden_jdk6_os_zero_variant() {
    let mut input = hex(JDK17_HELLO_THERE);
    input[9] = 0x00; // JDK 6-15 write OS = 0; the header is not covered by the trailer CRC
    let (out, _) = decode(&input).unwrap();
    assert_eq!(out, hex(HELLO_THERE_SET));
    assert_eq!(&input[..10], &JDK_HEADER);
}

#[test]
fn golden_go_sync_flush() {
    let input = hex(GO_TESTING);
    let (out, info) = decode(&input).unwrap();
    assert_eq!(out, hex(TESTING_ENTRY));
    assert_eq!(info.output_len, 17);
    assert_eq!((info.members, info.trailing), (1, 0));
    let h = parse_header(&input).unwrap();
    assert_eq!((h.xfl, h.os), (4, 0xff));
    assert_eq!(crc32fast::hash(&out), 0x9182_6a0c);
}

#[test]
fn golden_php_gzencode() {
    let input = hex(PHP_HELLO);
    let (out, info) = decode(&input).unwrap();
    assert_eq!(out, b"Hello!");
    assert_eq!(info.members, 1);
    assert_eq!(parse_header(&input).unwrap().os, 3);
}

#[test]
fn golden_vectors_agree_with_flate2() {
    for v in [JDK17_HELLO_THERE, GO_TESTING, PHP_HELLO] {
        let input = hex(v);
        assert_eq!(decode(&input).unwrap().0, flate2_single(&input).unwrap());
    }
}

// ------------------------------------------------------------------------------------------
// encoder
// ------------------------------------------------------------------------------------------

#[test]
fn encoder_writes_jdk_header_and_trailer() {
    let data = hex(HELLO_THERE_SET);
    let v = gz(&data);
    assert_eq!(&v[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0]);
    let n = v.len();
    assert_eq!(&v[n - 8..n - 4], &0x2c71_ba85u32.to_le_bytes());
    assert_eq!(&v[n - 4..], &30u32.to_le_bytes());
    assert_eq!(decode(&v).unwrap().0, data);
    assert_eq!(flate2_single(&v).unwrap(), data);
}

#[test]
fn encoder_appends_to_existing_vec() {
    let mut v = b"prefix".to_vec();
    compress(b"Hello!", &mut v);
    assert_eq!(&v[..6], b"prefix");
    assert_eq!(decode(&v[6..]).unwrap().0, b"Hello!");
}

#[test]
fn encoder_empty_input() {
    let v = gz(b"");
    let n = v.len();
    assert_eq!(&v[n - 8..], &[0u8; 8]);
    let mut out = [0u8; 0];
    let info = decompress(&v, &mut out).unwrap();
    assert_eq!(
        info,
        GzipInfo {
            output_len: 0,
            members: 1,
            trailing: 0
        }
    );
}

#[test]
fn encoder_all_levels_round_trip() {
    let data = sample(100_000);
    let mut sizes = Vec::new();
    for level in 0..=9u8 {
        let mut v = Vec::new();
        compress_level(&data, level, &mut v);
        assert_eq!(&v[..10], &JDK_HEADER);
        assert_eq!(decode(&v).unwrap().0, data, "level {level}");
        assert_eq!(flate2_single(&v).unwrap(), data, "level {level}");
        sizes.push(v.len());
    }
    // Level 0 is stored: bigger than the input; level 9 compresses.
    assert!(sizes[0] > data.len());
    assert!(sizes[9] < data.len());
    // Out-of-range levels act as 9.
    let mut v = Vec::new();
    compress_level(&data, 200, &mut v);
    let mut v9 = Vec::new();
    compress_level(&data, 9, &mut v9);
    assert_eq!(v, v9);
    // compress == compress_level(6)
    let mut v6 = Vec::new();
    compress_level(&data, 6, &mut v6);
    assert_eq!(gz(&data), v6);
}

#[test]
fn encoder_incompressible_large_input() {
    // Random bytes do not compress: exercises the output-growth path.
    let mut x: u64 = 42;
    let data: Vec<u8> = (0..300_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let v = gz(&data);
    assert_eq!(decode_cap(&v, data.len()).unwrap().0, data);
}

// ------------------------------------------------------------------------------------------
// optional header fields
// ------------------------------------------------------------------------------------------

#[test]
fn header_fname() {
    let mut hdr = vec![0x1f, 0x8b, 8, GzipHeader::FNAME, 1, 2, 3, 4, 2, 3];
    hdr.extend_from_slice(b"batch.bin\0");
    let m = with_header(&hdr, b"payload");
    let h = parse_header(&m).unwrap();
    assert_eq!(h.name, Some(&b"batch.bin"[..]));
    assert_eq!((h.extra, h.comment, h.header_crc), (None, None, None));
    assert_eq!(h.mtime, 0x0403_0201);
    assert_eq!((h.xfl, h.os), (2, 3));
    assert_eq!(h.len, 20);
    assert_eq!(decode(&m).unwrap().0, b"payload");
    assert_eq!(flate2_single(&m).unwrap(), b"payload");
}

#[test]
fn header_fcomment_and_empty_name() {
    let mut hdr = vec![
        0x1f,
        0x8b,
        8,
        GzipHeader::FNAME | GzipHeader::FCOMMENT | GzipHeader::FTEXT,
        0,
        0,
        0,
        0,
        0,
        0xff,
    ];
    hdr.extend_from_slice(b"\0a comment\0");
    let m = with_header(&hdr, b"x");
    let h = parse_header(&m).unwrap();
    assert_eq!(h.name, Some(&b""[..]));
    assert_eq!(h.comment, Some(&b"a comment"[..]));
    assert_eq!(h.len, 21);
    assert_eq!(decode(&m).unwrap().0, b"x");
}

#[test]
fn header_fextra() {
    let mut hdr = vec![0x1f, 0x8b, 8, GzipHeader::FEXTRA, 0, 0, 0, 0, 0, 0];
    hdr.extend_from_slice(&6u16.to_le_bytes());
    hdr.extend_from_slice(b"AB\x02\x00hi");
    let m = with_header(&hdr, b"extra");
    let h = parse_header(&m).unwrap();
    assert_eq!(h.extra, Some(&b"AB\x02\x00hi"[..]));
    assert_eq!(h.len, 18);
    assert_eq!(decode(&m).unwrap().0, b"extra");
    assert_eq!(flate2_single(&m).unwrap(), b"extra");
}

#[test]
fn header_fextra_empty() {
    let hdr = [0x1f, 0x8b, 8, GzipHeader::FEXTRA, 0, 0, 0, 0, 0, 0, 0, 0];
    let m = with_header(&hdr, b"e");
    assert_eq!(parse_header(&m).unwrap().extra, Some(&b""[..]));
    assert_eq!(decode(&m).unwrap().0, b"e");
}

fn all_fields_header() -> Vec<u8> {
    let flags = GzipHeader::FEXTRA | GzipHeader::FNAME | GzipHeader::FCOMMENT | GzipHeader::FHCRC;
    let mut hdr = vec![0x1f, 0x8b, 8, flags, 0x10, 0x20, 0x30, 0x40, 0, 3];
    hdr.extend_from_slice(&3u16.to_le_bytes());
    hdr.extend_from_slice(b"xyz");
    hdr.extend_from_slice(b"name.json\0");
    hdr.extend_from_slice(b"comment\0");
    let crc16 = crc32fast::hash(&hdr) as u16;
    hdr.extend_from_slice(&crc16.to_le_bytes());
    hdr
}

#[test]
fn header_all_fields_with_fhcrc() {
    let hdr = all_fields_header();
    let m = with_header(&hdr, b"all fields");
    let h = parse_header(&m).unwrap();
    let crc16 = crc32fast::hash(&hdr[..hdr.len() - 2]) as u16;
    assert_eq!(h.header_crc, Some(crc16));
    assert_eq!(h.extra, Some(&b"xyz"[..]));
    assert_eq!(h.name, Some(&b"name.json"[..]));
    assert_eq!(h.comment, Some(&b"comment"[..]));
    assert_eq!(h.mtime, 0x4030_2010);
    assert_eq!(h.len, hdr.len());
    assert_eq!(decode(&m).unwrap().0, b"all fields");
    assert_eq!(flate2_single(&m).unwrap(), b"all fields");
}

#[test]
fn header_fhcrc_mismatch() {
    let mut hdr = all_fields_header();
    let n = hdr.len();
    let good = u16::from_le_bytes([hdr[n - 2], hdr[n - 1]]);
    let bad = good ^ 0x0101;
    hdr[n - 2..].copy_from_slice(&bad.to_le_bytes());
    let m = with_header(&hdr, b"x");
    let e = err(
        GzipErrorKind::HeaderCrcMismatch {
            stored: bad,
            computed: good,
        },
        n - 2,
    );
    assert_eq!(parse_header(&m), Err(e));
    assert_eq!(decode(&m).unwrap_err(), e);
}

// ------------------------------------------------------------------------------------------
// header errors and their offsets
// ------------------------------------------------------------------------------------------

#[test]
fn header_errors_with_offsets() {
    use GzipErrorKind::*;
    let cases: Vec<(Vec<u8>, GzipError)> = vec![
        (vec![], err(Truncated, 0)),
        (vec![0x00], err(BadMagic, 0)),
        (vec![0x1f], err(Truncated, 0)),
        (vec![0x1f, 0x8c], err(BadMagic, 0)),
        (vec![0x8b, 0x1f, 8, 0, 0, 0, 0, 0, 0, 0], err(BadMagic, 0)),
        (vec![0x1f, 0x8b], err(Truncated, 2)),
        (
            vec![0x1f, 0x8b, 7, 0, 0, 0, 0, 0, 0, 0],
            err(UnsupportedMethod(7), 2),
        ),
        (vec![0x1f, 0x8b, 8], err(Truncated, 3)),
        (
            vec![0x1f, 0x8b, 8, 0x20, 0, 0, 0, 0, 0, 0],
            err(ReservedFlags(0x20), 3),
        ),
        (
            vec![0x1f, 0x8b, 8, 0xe8, 0, 0, 0, 0, 0, 0],
            err(ReservedFlags(0xe8), 3),
        ),
        (vec![0x1f, 0x8b, 8, 0], err(Truncated, 4)),
        (vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0], err(Truncated, 4)),
        // FEXTRA: length missing, length cut, data shorter than XLEN.
        (vec![0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0], err(Truncated, 10)),
        (
            vec![0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0, 5],
            err(Truncated, 10),
        ),
        (
            vec![0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0, 5, 0, 1, 2, 3, 4],
            err(Truncated, 10),
        ),
        // FNAME / FCOMMENT without their NUL.
        (
            vec![0x1f, 0x8b, 8, 8, 0, 0, 0, 0, 0, 0, b'a', b'b'],
            err(Truncated, 10),
        ),
        (
            vec![0x1f, 0x8b, 8, 0x18, 0, 0, 0, 0, 0, 0, b'a', 0, b'c'],
            err(Truncated, 12),
        ),
        // FHCRC cut.
        (
            vec![0x1f, 0x8b, 8, 2, 0, 0, 0, 0, 0, 0, 0x12],
            err(Truncated, 10),
        ),
    ];
    for (input, want) in cases {
        assert_eq!(parse_header(&input).unwrap_err(), want, "{input:02x?}");
        assert_eq!(decode(&input).unwrap_err(), want, "{input:02x?}");
    }
}

#[test]
fn method_checked_before_short_input() {
    // A wrong CM is reported even when the rest of the header is missing.
    let e = parse_header(&[0x1f, 0x8b, 0]).unwrap_err();
    assert_eq!(e, err(GzipErrorKind::UnsupportedMethod(0), 2));
}

// ------------------------------------------------------------------------------------------
// members, trailing bytes
// ------------------------------------------------------------------------------------------

#[test]
fn two_concatenated_members() {
    let mut input = gz(b"first member, ");
    let m1 = input.len();
    input.extend_from_slice(&hex(GO_TESTING));
    let (out, info) = decode(&input).unwrap();
    let mut want = b"first member, ".to_vec();
    want.extend_from_slice(&hex(TESTING_ENTRY));
    assert_eq!(out, want);
    assert_eq!(
        info,
        GzipInfo {
            output_len: 14 + 17,
            members: 2,
            trailing: 0
        }
    );
    assert_eq!(flate2_multi(&input).unwrap(), want);
    // An error in the second member is reported at its absolute offset.
    let mut bad = input.clone();
    let n = bad.len();
    bad[n - 8] ^= 0xff;
    let e = decode(&bad).unwrap_err();
    assert!(matches!(e.kind, GzipErrorKind::CrcMismatch { .. }));
    assert_eq!(e.offset, n - 8);
    // A second "member" whose header does not parse is trailing data (the JVM's rule),
    // while the same header at the start of the stream is an error at its byte.
    let mut bad = input.clone();
    bad[m1 + 2] = 9;
    let (out, info) = decode(&bad).unwrap();
    assert_eq!(out, b"first member, ");
    assert_eq!((info.members, info.trailing), (1, bad.len() - m1));
    assert_eq!(
        decode(&bad[m1..]).unwrap_err(),
        err(GzipErrorKind::UnsupportedMethod(9), 2)
    );
}

#[test]
fn many_members_including_empty_ones() {
    let mut input = Vec::new();
    let mut want = Vec::new();
    for i in 0..20usize {
        let data = sample(i * 37);
        compress(&data, &mut input);
        want.extend_from_slice(&data);
    }
    let (out, info) = decode(&input).unwrap();
    assert_eq!(out, want);
    assert_eq!((info.members, info.trailing), (20, 0));
    assert_eq!(flate2_multi(&input).unwrap(), want);
}

#[test]
fn members_fill_output_exactly() {
    let mut input = gz(b"abc");
    compress(b"defg", &mut input);
    compress(b"", &mut input);
    let mut out = [0u8; 7];
    let info = decompress(&input, &mut out).unwrap();
    assert_eq!(&out, b"abcdefg");
    assert_eq!(info.members, 3);
}

#[test]
fn trailing_garbage_is_ignored_and_reported() {
    let base = hex(JDK17_HELLO_THERE);
    for (tail, n) in [
        (&b"\0\0\0\0"[..], 4),
        (b"garbage!", 8),
        (b"\x1f", 1),
        (b"\x1f\x8c\x08", 3),
        (b"\x8b\x1f", 2),
    ] {
        let mut input = base.clone();
        input.extend_from_slice(tail);
        let (out, info) = decode(&input).unwrap();
        assert_eq!(out, hex(HELLO_THERE_SET));
        assert_eq!(
            info,
            GzipInfo {
                output_len: 30,
                members: 1,
                trailing: n
            },
            "{tail:02x?}"
        );
    }
    // Garbage after two members.
    let mut input = base.clone();
    input.extend_from_slice(&base);
    input.extend_from_slice(b"zz");
    let (_, info) = decode(&input).unwrap();
    assert_eq!((info.members, info.trailing, info.output_len), (2, 2, 60));
}

#[test]
fn malformed_following_header_is_ignored_like_the_jvm() {
    // GZIPInputStream treats bytes after a member whose header does not parse as trailing
    // data; a well-formed following header commits to a member.
    let base = hex(JDK17_HELLO_THERE);
    for tail in [
        &MAGIC[..],
        &[0x1f, 0x8b, 8, 0x40][..],
        &[0x1f, 0x8b, 9, 0][..],
    ] {
        let mut input = base.clone();
        input.extend_from_slice(tail);
        let (out, info) = decode(&input).unwrap();
        assert_eq!(out.len(), 30);
        assert_eq!(
            (info.members, info.trailing),
            (1, tail.len()),
            "{tail:02x?}"
        );
    }
    let mut input = base.clone();
    input.extend_from_slice(&JDK_HEADER);
    let n = base.len();
    assert_eq!(
        decode(&input).unwrap_err(),
        err(GzipErrorKind::Truncated, n + 10)
    );
}

// ------------------------------------------------------------------------------------------
// trailer and body errors
// ------------------------------------------------------------------------------------------

#[test]
fn corrupted_trailer_crc() {
    let mut input = hex(JDK17_HELLO_THERE);
    let n = input.len();
    input[n - 8] ^= 0x01;
    assert_eq!(
        decode(&input).unwrap_err(),
        err(
            GzipErrorKind::CrcMismatch {
                stored: 0x2c71_ba84,
                computed: 0x2c71_ba85
            },
            n - 8
        )
    );
}

#[test]
fn bad_isize() {
    let mut input = hex(JDK17_HELLO_THERE);
    let n = input.len();
    input[n - 4] = 31;
    assert_eq!(
        decode(&input).unwrap_err(),
        err(
            GzipErrorKind::SizeMismatch {
                stored: 31,
                computed: 30
            },
            n - 4
        )
    );
}

#[test]
fn corrupt_deflate_is_inflate_error() {
    // BFINAL = 1, BTYPE = 11 (reserved).
    let mut input = JDK_HEADER.to_vec();
    input.extend_from_slice(&[0x07, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let e = decode(&input).unwrap_err();
    assert_eq!(e.kind, GzipErrorKind::Inflate);
    assert!((10..=11).contains(&e.offset), "{e}");

    // A stored block whose LEN/NLEN do not match.
    let mut input = JDK_HEADER.to_vec();
    input.extend_from_slice(&[0x01, 0x05, 0x00, 0x00, 0x00, b'h', b'e', b'l', b'l', b'o']);
    input.extend_from_slice(&[0; 8]);
    let e = decode(&input).unwrap_err();
    assert_eq!(e.kind, GzipErrorKind::Inflate);
    assert!((10..input.len()).contains(&e.offset), "{e}");

    // A distance reaching before the start of the member (fixed Huffman, dist 1 at position 0).
    // Fixed-code block: BFINAL 1, BTYPE 01, then length code 257 (len 3) = 0000001, dist code 0.
    let mut input = JDK_HEADER.to_vec();
    input.extend_from_slice(&[0x03, 0x02, 0x00, 0x00]);
    input.extend_from_slice(&[0; 8]);
    let e = decode(&input).unwrap_err();
    assert_eq!(e.kind, GzipErrorKind::Inflate, "{e}");
}

#[test]
fn back_reference_cannot_reach_previous_member() {
    // Second member starts with a match (distance 1) that would only be valid if it could read
    // the first member's output.
    let mut input = gz(b"aaaa");
    let m1 = input.len();
    input.extend_from_slice(&JDK_HEADER);
    input.extend_from_slice(&[0x03, 0x02, 0x00, 0x00]);
    input.extend_from_slice(&[0; 8]);
    let e = decode(&input).unwrap_err();
    assert_eq!(e.kind, GzipErrorKind::Inflate);
    assert!(e.offset >= m1 + 10);
}

#[test]
fn bomb_hits_output_limit() {
    let zeros = vec![0u8; 8 << 20];
    let bomb = gz(&zeros);
    assert!(bomb.len() < 16 * 1024, "bomb is {} bytes", bomb.len());
    let mut out = vec![0u8; 64 * 1024];
    let e = decompress(&bomb, &mut out).unwrap_err();
    assert_eq!(e.kind, GzipErrorKind::OutputLimit { limit: 64 * 1024 });
    assert!((10..bomb.len()).contains(&e.offset));
    // A whole buffer decodes it.
    let (out, info) = decode_cap(&bomb, 8 << 20).unwrap();
    assert_eq!(info.output_len, 8 << 20);
    assert!(out.iter().all(|&b| b == 0));
}

#[test]
fn concatenated_bombs_hit_output_limit_in_later_member() {
    // Two members of 40 KiB each against a 64 KiB limit: the second one overflows.
    let z = vec![0u8; 40 * 1024];
    let mut input = gz(&z);
    let m1 = input.len();
    compress(&z, &mut input);
    let e = decode_cap(&input, 64 * 1024).unwrap_err();
    assert_eq!(e.kind, GzipErrorKind::OutputLimit { limit: 64 * 1024 });
    assert!(e.offset > m1);
}

#[test]
fn output_limit_exact_boundary() {
    for len in [0usize, 1, 2, 100, 258, 259, 1000, 32768, 70_000] {
        let data = sample(len);
        let input = gz(&data);
        let (out, _) = decode_cap(&input, len).unwrap();
        assert_eq!(out, data, "exact fit {len}");
        if len > 0 {
            let e = decode_cap(&input, len - 1).unwrap_err();
            assert_eq!(
                e.kind,
                GzipErrorKind::OutputLimit { limit: len - 1 },
                "{len}"
            );
        }
    }
    // Also the Go vector, which ends with an empty sync-flush block after the data.
    let go = hex(GO_TESTING);
    assert_eq!(decode_cap(&go, 17).unwrap().0, hex(TESTING_ENTRY));
    assert_eq!(
        decode_cap(&go, 16).unwrap_err().kind,
        GzipErrorKind::OutputLimit { limit: 16 }
    );
}

#[test]
fn truncation_at_every_position_is_truncated() {
    let mut streams = vec![
        hex(JDK17_HELLO_THERE),
        hex(GO_TESTING),
        hex(PHP_HELLO),
        with_header(&all_fields_header(), b"fields"),
        gz(&sample(5000)),
    ];
    let mut stored = Vec::new();
    compress_level(&sample(3000), 0, &mut stored);
    streams.push(stored);
    for s in &streams {
        for cut in 0..s.len() {
            let e = decode(&s[..cut]).unwrap_err();
            assert_eq!(e.kind, GzipErrorKind::Truncated, "cut {cut} of {}", s.len());
            assert!(e.offset <= cut, "cut {cut}: offset {}", e.offset);
        }
        assert!(decode(s).is_ok());
    }
}

#[test]
fn truncation_of_multi_member_stream_never_panics() {
    let mut s = gz(b"one");
    let m1 = s.len();
    compress(&sample(2000), &mut s);
    for cut in 0..s.len() {
        match decode(&s[..cut]) {
            Ok((out, info)) => {
                // Only a complete first member followed by less than a whole header of the
                // second (ignored as trailing bytes, as the JVM does).
                assert!((m1..m1 + 10).contains(&cut), "cut {cut}");
                assert_eq!(out, b"one");
                assert_eq!(info.trailing, cut - m1);
            }
            Err(e) => assert_eq!(e.kind, GzipErrorKind::Truncated, "cut {cut}"),
        }
    }
}

// ------------------------------------------------------------------------------------------
// API details
// ------------------------------------------------------------------------------------------

#[test]
fn display_says_what_and_where() {
    let e = err(
        GzipErrorKind::CrcMismatch {
            stored: 1,
            computed: 2,
        },
        40,
    );
    let s = e.to_string();
    assert!(s.contains("CRC-32 mismatch"), "{s}");
    assert!(s.contains("0x00000001") && s.contains("0x00000002"), "{s}");
    assert!(s.contains("offset 40"), "{s}");
    let s = err(GzipErrorKind::OutputLimit { limit: 65536 }, 12).to_string();
    assert!(s.contains("65536") && s.contains("offset 12"), "{s}");
    let s = decode(&[]).unwrap_err().to_string();
    assert!(s.contains("ends inside") && s.contains("offset 0"), "{s}");
    for k in [
        GzipErrorKind::BadMagic,
        GzipErrorKind::UnsupportedMethod(9),
        GzipErrorKind::ReservedFlags(0x80),
        GzipErrorKind::HeaderCrcMismatch {
            stored: 1,
            computed: 2,
        },
        GzipErrorKind::Inflate,
        GzipErrorKind::SizeMismatch {
            stored: 1,
            computed: 2,
        },
    ] {
        assert!(!k.to_string().is_empty());
        let boxed: Box<dyn std::error::Error> = Box::new(err(k, 3));
        assert!(boxed.to_string().ends_with("at input offset 3"));
    }
}

#[test]
fn decompress_with_reuses_state() {
    let mut state = DecompressorOxide::new();
    let mut out = vec![0u8; 1 << 16];
    // A failing decode must not poison the state for the next one.
    let mut bad = hex(JDK17_HELLO_THERE);
    bad[12] ^= 0xff;
    let _ = decompress_with(&mut state, &bad, &mut out);
    let _ = decompress_with(&mut state, &hex(GO_TESTING)[..20], &mut out);
    for (v, want) in [
        (JDK17_HELLO_THERE, HELLO_THERE_SET),
        (GO_TESTING, TESTING_ENTRY),
    ] {
        let info = decompress_with(&mut state, &hex(v), &mut out).unwrap();
        assert_eq!(&out[..info.output_len], &hex(want)[..]);
    }
}

// ------------------------------------------------------------------------------------------
// property tests
// ------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn prop_round_trip(data in proptest::collection::vec(any::<u8>(), 0..4096), level in 0u8..=9) {
        let mut v = Vec::new();
        compress_level(&data, level, &mut v);
        let (out, info) = decode_cap(&v, data.len()).unwrap();
        prop_assert_eq!(&out, &data);
        prop_assert_eq!(info, GzipInfo { output_len: data.len(), members: 1, trailing: 0 });
        // flate2 agrees on our output.
        prop_assert_eq!(flate2_single(&v).unwrap(), data);
    }

    #[test]
    fn prop_compressible_round_trip(
        words in proptest::collection::vec(prop_oneof![Just(&b"kafka"[..]), Just(&b" 0.7 "[..]), Just(&b"gzip\n"[..]), Just(&b"\0\0\0\x0b"[..])], 0..2000)
    ) {
        let data: Vec<u8> = words.concat();
        let v = gz(&data);
        prop_assert_eq!(decode(&v).unwrap().0, data);
    }

    #[test]
    fn prop_flate2_output_decodes(data in proptest::collection::vec(any::<u8>(), 0..4096), level in 0u32..=9, members in 1usize..4) {
        let mut input = Vec::new();
        let mut want = Vec::new();
        for i in 0..members {
            let part = &data[(data.len() * i / members)..(data.len() * (i + 1) / members)];
            input.extend_from_slice(&flate2_encode(part, level));
            want.extend_from_slice(part);
        }
        let (out, info) = decode(&input).unwrap();
        prop_assert_eq!(info.members, members);
        prop_assert_eq!(&out, &want);
        prop_assert_eq!(flate2_multi(&input).unwrap(), want);
    }

    #[test]
    fn prop_byte_flips_never_panic(
        data in proptest::collection::vec(any::<u8>(), 0..2048),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..6),
        cap in 0usize..8192,
    ) {
        let mut v = gz(&data);
        for (i, x) in &flips {
            let i = i.index(v.len());
            v[i] ^= x;
        }
        match decode_cap(&v, cap) {
            Ok((out, info)) => {
                // Whatever we accept as one clean member, flate2 decodes to the same bytes.
                if info.members == 1 && info.trailing == 0 {
                    prop_assert_eq!(flate2_single(&v).unwrap(), out);
                }
            }
            Err(e) => prop_assert!(e.offset <= v.len()),
        }
    }

    #[test]
    fn prop_random_input_never_panics(
        prefix in prop_oneof![Just(vec![]), Just(vec![0x1f, 0x8b]), Just(vec![0x1f, 0x8b, 8]), Just(JDK_HEADER.to_vec())],
        data in proptest::collection::vec(any::<u8>(), 0..512),
        cap in 0usize..4096,
    ) {
        let mut v = prefix;
        v.extend_from_slice(&data);
        let _ = parse_header(&v);
        if let Err(e) = decode_cap(&v, cap) {
            prop_assert!(e.offset <= v.len());
        }
    }

    #[test]
    fn prop_agrees_with_flate2_multi_on_valid_streams(
        parts in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..600), 1..5),
    ) {
        let mut input = Vec::new();
        for p in &parts { compress(p, &mut input); }
        let ours = decode(&input).unwrap();
        prop_assert_eq!(ours.1.members, parts.len());
        prop_assert_eq!(ours.0, flate2_multi(&input).unwrap());
    }
}
