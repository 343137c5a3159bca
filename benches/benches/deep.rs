//! Deep decode of gzip and snappy batches (100 JSON-log messages per wrapper, the whole 1 MiB
//! file): against raw miniz_oxide inflate plus the gzip CRC of the same wrappers, and against
//! raw `snap` decompression of the same blocks. Throughput counts decompressed bytes.
//!
//! Ours is measured twice: `DeepCursor` (scratch reused per wrapper, like the baselines'
//! buffer) and `MessageSet::deep` (all content kept in one scratch), each with the CRCs
//! verified (the default: wrapper and inner messages) and skipped.
//!
//! The optional inflate backend (`gzip::Backend::ZlibRs`, feature `zlib-rs`): `DeepCursor`
//! with it, CRC verified, against the same miniz_oxide baseline, against raw zlib-rs inflate
//! (flate2's raw `Decompress`) plus the CRC, and against `DeepCursor` with the default backend;
//! and raw zlib-rs inflate against raw miniz_oxide inflate.

use criterion::Throughput;
use kafka07_benches::work::{
    deep_cursor, inflate_and_crc, snap_blocks, snappy_blocks, wrapper_payloads,
};
use kafka07_benches::{inner_bytes, json_lines, sink, wrapped_set, Ratios};
use kafka07_proto::gzip::Backend;
use kafka07_proto::{gzip, Codec, CrcPolicy, DecodeOptions, MessageSet};
use miniz_oxide::inflate::core::{decompress, inflate_flags, DecompressorOxide};

/// Deep iteration with `DeepCursor`; returns the payload bytes seen.
fn cursor(set: &[u8], scratch: &mut [u8], policy: CrcPolicy) -> usize {
    cursor_with(set, scratch, policy, Backend::MinizOxide)
}

/// [`cursor`] with the given inflate backend.
fn cursor_with(set: &[u8], scratch: &mut [u8], policy: CrcPolicy, backend: Backend) -> usize {
    deep_cursor(
        set,
        scratch,
        DecodeOptions::default().crc(policy).inflate(backend),
    )
}

/// Deep iteration with `MessageSet::deep`; returns the payload bytes seen.
fn whole(set: &[u8], scratch: &mut [u8], policy: CrcPolicy) -> usize {
    let opts = DecodeOptions::default().crc(policy);
    MessageSet::new(set, 0)
        .deep(scratch, opts)
        .map(|m| m.expect("valid").message.payload().len())
        .sum()
}

/// Each gzip member's raw deflate data.
fn bodies<'a>(members: &[&'a [u8]]) -> Vec<&'a [u8]> {
    members
        .iter()
        .map(|m| &m[gzip::FIXED_HEADER_LEN..m.len() - gzip::TRAILER_LEN])
        .collect()
}

/// Raw miniz_oxide inflate of each deflate body, no CRC; returns the bytes produced.
fn miniz_inflate(bodies: &[&[u8]], state: &mut DecompressorOxide, out: &mut [u8]) -> usize {
    let flags = inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
    bodies
        .iter()
        .map(|body| {
            state.init();
            decompress(state, body, out, 0, flags).2
        })
        .sum()
}

/// One raw zlib-rs inflate (flate2's raw-deflate `Decompress`, reset per member) of `body`
/// into `out`; returns the bytes produced.
fn zlib_inflate_one(body: &[u8], d: &mut flate2::Decompress, out: &mut [u8]) -> usize {
    d.reset(false);
    let status = d.decompress(body, out, flate2::FlushDecompress::Finish);
    assert!(matches!(status, Ok(flate2::Status::StreamEnd)));
    d.total_out() as usize
}

/// Raw zlib-rs inflate of each deflate body, no CRC; returns the bytes produced.
fn zlib_inflate(bodies: &[&[u8]], d: &mut flate2::Decompress, out: &mut [u8]) -> usize {
    bodies.iter().map(|b| zlib_inflate_one(b, d, out)).sum()
}

/// Raw zlib-rs inflate of each gzip member's deflate data, plus the CRC of its output (the
/// zlib-rs counterpart of [`inflate_and_crc`]).
fn zlib_inflate_and_crc(bodies: &[&[u8]], d: &mut flate2::Decompress, out: &mut [u8]) -> u32 {
    bodies.iter().fold(0, |acc, b| {
        let n = zlib_inflate_one(b, d, out);
        acc ^ crc32fast::hash(&out[..n])
    })
}

/// Raw `snap` decompression of each block plus one crc32fast pass over its output (the work
/// of a decoder that verifies one checksum over what it decompresses).
fn snap_blocks_crc(blocks: &[Vec<u8>], dec: &mut snap::raw::Decoder, out: &mut [u8]) -> u32 {
    blocks.iter().fold(0, |acc, b| {
        let n = dec.decompress(b, out).expect("valid");
        acc ^ crc32fast::hash(&out[..n])
    })
}

fn main() {
    let mut c = kafka07_benches::criterion();
    let mut ratios = Ratios::new("deep");
    let lines = json_lines();
    let gz = wrapped_set(Codec::Gzip, &lines, 100);
    let sn = wrapped_set(Codec::Snappy, &lines, 100);
    let bytes = inner_bytes(&gz);
    assert_eq!(bytes, inner_bytes(&sn));
    let gz_members = wrapper_payloads(&gz);
    let sn_blocks = snappy_blocks(&wrapper_payloads(&sn));
    let mut scratch = vec![0u8; 64 * 1024];
    let mut big = vec![0u8; 2 << 20];
    let mut out = vec![0u8; 64 * 1024];
    let mut state = DecompressorOxide::new();
    let gz_bodies = bodies(&gz_members);
    let mut zlib = flate2::Decompress::new(false);
    let mut snap_dec = snap::raw::Decoder::new();
    // The zlib-rs rows decode the same bytes as the miniz_oxide ones.
    assert_eq!(
        zlib_inflate_and_crc(&gz_bodies, &mut zlib, &mut out),
        inflate_and_crc(&gz_members, &mut state, &mut out)
    );
    assert_eq!(
        zlib_inflate(&gz_bodies, &mut zlib, &mut out),
        miniz_inflate(&gz_bodies, &mut state, &mut out)
    );
    assert_eq!(
        cursor_with(&gz, &mut scratch, CrcPolicy::Verify, Backend::ZlibRs),
        cursor(&gz, &mut scratch, CrcPolicy::Verify)
    );

    let mut g = c.benchmark_group("deep/gzip");
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("DeepCursor, CRC verified", |b| {
        b.iter(|| cursor(sink(&gz), &mut scratch, CrcPolicy::Verify))
    });
    g.bench_function("DeepCursor, CRC skipped", |b| {
        b.iter(|| cursor(sink(&gz), &mut scratch, CrcPolicy::Skip))
    });
    g.bench_function("MessageSet::deep, CRC verified", |b| {
        b.iter(|| whole(sink(&gz), &mut big, CrcPolicy::Verify))
    });
    g.bench_function("raw inflate + CRC", |b| {
        b.iter(|| inflate_and_crc(sink(&gz_members), &mut state, &mut out))
    });
    g.bench_function("DeepCursor zlib-rs, CRC verified", |b| {
        b.iter(|| cursor_with(sink(&gz), &mut scratch, CrcPolicy::Verify, Backend::ZlibRs))
    });
    g.bench_function("raw zlib-rs inflate + CRC", |b| {
        b.iter(|| zlib_inflate_and_crc(sink(&gz_bodies), &mut zlib, &mut out))
    });
    g.bench_function("raw miniz_oxide inflate", |b| {
        b.iter(|| miniz_inflate(sink(&gz_bodies), &mut state, &mut out))
    });
    g.bench_function("raw zlib-rs inflate", |b| {
        b.iter(|| zlib_inflate(sink(&gz_bodies), &mut zlib, &mut out))
    });
    g.finish();

    let mut g = c.benchmark_group("deep/snappy");
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("DeepCursor, CRC verified", |b| {
        b.iter(|| cursor(sink(&sn), &mut scratch, CrcPolicy::Verify))
    });
    g.bench_function("DeepCursor, CRC skipped", |b| {
        b.iter(|| cursor(sink(&sn), &mut scratch, CrcPolicy::Skip))
    });
    g.bench_function("MessageSet::deep, CRC verified", |b| {
        b.iter(|| whole(sink(&sn), &mut big, CrcPolicy::Verify))
    });
    g.bench_function("raw snap", |b| {
        b.iter(|| snap_blocks(sink(&sn_blocks), &mut snap_dec, &mut out))
    });
    g.finish();
    c.final_summary();
    if !kafka07_benches::ratios_wanted() {
        return;
    }

    for (codec, set) in [("gzip", &gz), ("snappy", &sn)] {
        let (baseline, target) = match codec {
            // Issue #13: gzip with CRCs verified at least as fast as inflate + one CRC.
            "gzip" => ("raw inflate + CRC", Some(1.0)),
            _ => ("raw snap", Some(0.9)),
        };
        let mut base = || {
            if codec == "gzip" {
                sink(inflate_and_crc(sink(&gz_members), &mut state, &mut out));
            } else {
                sink(snap_blocks(sink(&sn_blocks), &mut snap_dec, &mut out));
            }
        };
        for policy in [CrcPolicy::Verify, CrcPolicy::Skip] {
            let crc = if policy == CrcPolicy::Verify {
                "verified"
            } else {
                "skipped"
            };
            ratios.measure(
                &format!("deep {codec}, DeepCursor, CRC {crc}"),
                baseline,
                bytes,
                target,
                || {
                    sink(cursor(sink(set), &mut scratch, policy));
                },
                &mut base,
            );
        }
        ratios.measure(
            &format!("deep {codec}, MessageSet::deep, CRC verified"),
            baseline,
            bytes,
            target,
            || {
                sink(whole(sink(set), &mut big, CrcPolicy::Verify));
            },
            &mut base,
        );
    }
    // The zlib-rs inflate backend: against the miniz_oxide baseline above, its own raw
    // baseline, and the default backend; then the two engines alone.
    let zlib_cursor = |scratch: &mut [u8]| {
        sink(cursor_with(
            sink(&gz),
            scratch,
            CrcPolicy::Verify,
            Backend::ZlibRs,
        ));
    };
    ratios.measure(
        "deep gzip, DeepCursor zlib-rs, CRC verified",
        "raw inflate + CRC",
        bytes,
        None,
        || zlib_cursor(&mut scratch),
        || {
            sink(inflate_and_crc(sink(&gz_members), &mut state, &mut out));
        },
    );
    ratios.measure(
        "deep gzip, DeepCursor zlib-rs, CRC verified",
        "raw zlib-rs inflate + CRC",
        bytes,
        Some(1.0),
        || zlib_cursor(&mut scratch),
        || {
            sink(zlib_inflate_and_crc(sink(&gz_bodies), &mut zlib, &mut out));
        },
    );
    {
        let mut scratch2 = vec![0u8; scratch.len()];
        ratios.measure(
            "deep gzip, DeepCursor zlib-rs, CRC verified",
            "DeepCursor miniz_oxide, CRC verified",
            bytes,
            None,
            || zlib_cursor(&mut scratch),
            || {
                sink(cursor(sink(&gz), &mut scratch2, CrcPolicy::Verify));
            },
        );
    }
    // ~1.1 KB payloads (six JSON-log lines each), 20 per wrapper: the trailer CRC comes from
    // combining the payload CRCs (payloads of 384 bytes and more), not from a second pass.
    let joined: Vec<Vec<u8>> = lines.chunks(6).map(|c| c.join(&b'\n')).collect();
    let big_lines: Vec<&[u8]> = joined.iter().map(Vec::as_slice).collect();
    let gzk = wrapped_set(Codec::Gzip, &big_lines, 20);
    let gzk_members = wrapper_payloads(&gzk);
    let gzk_bodies = bodies(&gzk_members);
    let bytes_k = inner_bytes(&gzk);
    ratios.measure(
        "deep gzip, ~1.1 KB messages, DeepCursor, CRC verified",
        "raw inflate + CRC",
        bytes_k,
        Some(1.0),
        || {
            sink(cursor(sink(&gzk), &mut scratch, CrcPolicy::Verify));
        },
        || {
            sink(inflate_and_crc(sink(&gzk_members), &mut state, &mut out));
        },
    );
    ratios.measure(
        "deep gzip, ~1.1 KB messages, DeepCursor zlib-rs, CRC verified",
        "raw zlib-rs inflate + CRC",
        bytes_k,
        Some(1.0),
        || {
            sink(cursor_with(
                sink(&gzk),
                &mut scratch,
                CrcPolicy::Verify,
                Backend::ZlibRs,
            ));
        },
        || {
            sink(zlib_inflate_and_crc(sink(&gzk_bodies), &mut zlib, &mut out));
        },
    );
    let mut out2 = vec![0u8; out.len()];
    ratios.measure(
        "raw zlib-rs inflate",
        "raw miniz_oxide inflate",
        bytes,
        None,
        || {
            sink(zlib_inflate(sink(&gz_bodies), &mut zlib, &mut out));
        },
        || {
            sink(miniz_inflate(sink(&gz_bodies), &mut state, &mut out2));
        },
    );
    for policy in [CrcPolicy::Verify, CrcPolicy::Skip] {
        let crc = if policy == CrcPolicy::Verify {
            "verified"
        } else {
            "skipped"
        };
        ratios.measure(
            &format!("deep snappy, DeepCursor, CRC {crc}"),
            "raw snap + CRC",
            bytes,
            None,
            || {
                sink(cursor(sink(&sn), &mut scratch, policy));
            },
            || {
                sink(snap_blocks_crc(sink(&sn_blocks), &mut snap_dec, &mut out));
            },
        );
    }
    ratios.print();
}
