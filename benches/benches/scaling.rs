//! How the ratios grow with message size, batch size and piece size (the other benches fix
//! one of each):
//!
//! * shallow decode, CRC verified, against crc32fast per payload, for payloads of 16 B to
//!   64 KiB (about 1 MiB each; the `shallow` bench has 100 B, 1 KiB and 10 KiB);
//! * deep decode with `DeepCursor`, CRC verified, of the JSON-log file wrapped 1, 10, 100 and
//!   1,000 messages per gzip or snappy wrapper, against raw inflate + CRC and raw snap of the
//!   same wrappers;
//! * `FetchStream::decode_all` fed the JSON-log file in pieces of 512 B to 64 KiB, against the
//!   one-shot decoder.

use criterion::Throughput;
use kafka07_benches::work::{
    crc_per_payload, deep_cursor, inflate_and_crc, shallow, snap_blocks, snappy_blocks, stream_all,
    wrapper_payloads,
};
use kafka07_benches::{
    fetch_response, inner_bytes, json_lines, payload_ranges, plain_set, sink, synthetic_payloads,
    wrapped_set, Ratios,
};
use kafka07_proto::{Codec, CrcPolicy, DecodeOptions, FetchStream};
use miniz_oxide::inflate::core::DecompressorOxide;

/// Payload sizes for the shallow rows.
const MESSAGE_SIZES: [usize; 5] = [16, 64, 256, 4096, 64 * 1024];
/// Messages per wrapper for the deep rows.
const BATCHES: [usize; 4] = [1, 10, 100, 1000];
/// Piece sizes for the stream rows.
const PIECES: [usize; 4] = [512, 1500, 9000, 64 * 1024];

fn main() {
    let mut c = kafka07_benches::criterion();
    let mut ratios = Ratios::new("scaling");
    let lines = json_lines();

    let shallow_inputs: Vec<(usize, Vec<u8>)> = MESSAGE_SIZES
        .into_iter()
        .map(|size| {
            let resp = fetch_response(&plain_set(&synthetic_payloads(size, 1 << 20)));
            (size, resp)
        })
        .collect();
    let deep_inputs: Vec<(usize, Codec, Vec<u8>)> = BATCHES
        .into_iter()
        .flat_map(|n| {
            [Codec::Gzip, Codec::Snappy].map(|codec| (n, codec, wrapped_set(codec, &lines, n)))
        })
        .collect();
    let resp = fetch_response(&plain_set(&lines));
    let mut dec = FetchStream::new(vec![0u8; 64 * 1024], 0);
    let expected = shallow(&resp, CrcPolicy::Verify);
    for piece in PIECES {
        assert_eq!(stream_all(&resp, piece, &mut dec), expected);
    }

    let mut scratch = vec![0u8; 1 << 20];
    let mut out = vec![0u8; 1 << 20];
    let mut state = DecompressorOxide::new();
    let mut snap_dec = snap::raw::Decoder::new();
    let opts = DecodeOptions::default();

    let mut g = c.benchmark_group("scaling/shallow");
    for (size, resp) in &shallow_inputs {
        g.throughput(Throughput::Bytes(resp.len() as u64));
        g.bench_function(format!("decode, CRC verified, {size} B"), |b| {
            b.iter(|| shallow(sink(resp), CrcPolicy::Verify))
        });
    }
    g.finish();
    let mut g = c.benchmark_group("scaling/deep");
    for (n, codec, set) in &deep_inputs {
        g.throughput(Throughput::Bytes(inner_bytes(set)));
        g.bench_function(format!("DeepCursor {codec:?}, {n} per wrapper"), |b| {
            b.iter(|| deep_cursor(sink(set), &mut scratch, opts))
        });
    }
    g.finish();
    let mut g = c.benchmark_group("scaling/stream");
    g.throughput(Throughput::Bytes(resp.len() as u64));
    for piece in PIECES {
        g.bench_function(format!("decode_all, {piece}-byte pieces"), |b| {
            b.iter(|| stream_all(sink(&resp), piece, &mut dec))
        });
    }
    g.finish();
    c.final_summary();
    if !kafka07_benches::ratios_wanted() {
        return;
    }

    for (size, resp) in &shallow_inputs {
        let ranges = payload_ranges(&resp[6..]);
        ratios.measure(
            &format!("shallow decode, CRC verified, {size} B messages"),
            "crc32fast per payload",
            resp.len() as u64,
            Some(0.9),
            || {
                sink(shallow(sink(resp), CrcPolicy::Verify));
            },
            || {
                sink(crc_per_payload(sink(resp), &ranges));
            },
        );
    }
    for (n, codec, set) in &deep_inputs {
        let payloads = wrapper_payloads(set);
        let blocks = if *codec == Codec::Snappy {
            snappy_blocks(&payloads)
        } else {
            Vec::new()
        };
        let (name, baseline) = match codec {
            Codec::Gzip => ("gzip", "raw inflate + CRC"),
            _ => ("snappy", "raw snap"),
        };
        ratios.measure(
            &format!("deep {name}, DeepCursor, CRC verified, {n} messages per wrapper"),
            baseline,
            inner_bytes(set),
            Some(0.9),
            || {
                sink(deep_cursor(sink(set), &mut scratch, opts));
            },
            || {
                if *codec == Codec::Gzip {
                    sink(inflate_and_crc(sink(&payloads), &mut state, &mut out));
                } else {
                    sink(snap_blocks(sink(&blocks), &mut snap_dec, &mut out));
                }
            },
        );
    }
    for piece in PIECES {
        let mut dec = FetchStream::new(vec![0u8; 64 * 1024], 0);
        ratios.measure(
            &format!("FetchStream::decode_all, {piece}-byte pieces, JSON-log messages"),
            "one-shot decode",
            resp.len() as u64,
            Some(0.8),
            || {
                sink(stream_all(sink(&resp), piece, &mut dec));
            },
            || {
                sink(shallow(sink(&resp), CrcPolicy::Verify));
            },
        );
    }
    ratios.print();
}
