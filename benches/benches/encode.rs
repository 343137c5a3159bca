//! Encoding PRODUCE requests from payloads (the whole 1 MiB JSON-log file, 100 messages per
//! request, as a 0.7 producer batches): plain, gzip and snappy, against CRC plus memcpy of the
//! same payloads, and the compressed ones against raw deflate (level 6) / raw `snap` compression
//! of the same serialized batches. Throughput counts payload bytes.

use criterion::Throughput;
use kafka07_benches::{json_lines, plain_set, sink, Ratios};
use kafka07_proto::{
    emit_set, set_wire_len, wrap, Codec, MessageRepr, ProduceEncoder, ProduceRequest, Request,
};

/// Messages per PRODUCE request.
const BATCH: usize = 100;

/// Encodes one PRODUCE request per batch into `out` (reused); returns the bytes written.
fn encode(batches: &[Vec<&[u8]>], codec: Codec, set: &mut Vec<u8>, out: &mut Vec<u8>) -> usize {
    let mut total = 0;
    for batch in batches {
        let msgs: Vec<MessageRepr<&[u8]>> = batch.iter().map(|p| MessageRepr::new(*p)).collect();
        set.clear();
        if codec == Codec::None {
            set.resize(set_wire_len(&msgs), 0);
            emit_set(&msgs, set).expect("sized");
        } else {
            let wrapper = wrap(codec, &msgs).expect("wrap").expect("non-empty");
            set.resize(wrapper.wire_len(), 0);
            wrapper.emit(set).expect("sized");
        }
        let req = Request::Produce(ProduceRequest::new("bench", 0, set));
        out.resize(req.wire_len(), 0);
        total += req.emit(out).expect("sized");
    }
    total
}

/// The same requests with the fused encoder (`ProduceEncoder`); returns the bytes written.
fn encode_fused(
    batches: &[Vec<&[u8]>],
    codec: Codec,
    enc: &mut ProduceEncoder,
    out: &mut Vec<u8>,
) -> usize {
    let mut total = 0;
    for batch in batches {
        out.clear();
        total += enc.encode("bench", 0, codec, batch, out).expect("fits");
    }
    total
}

/// CRC of every payload and a copy of it into `out`.
fn crc_and_copy(batches: &[Vec<&[u8]>], out: &mut [u8]) -> u32 {
    let mut acc = 0;
    let mut at = 0;
    for batch in batches {
        for p in batch {
            acc ^= crc32fast::hash(p);
            out[at..at + p.len()].copy_from_slice(p);
            at += p.len();
        }
    }
    acc
}

fn main() {
    let mut c = kafka07_benches::criterion();
    let mut ratios = Ratios::new("encode");
    let lines = json_lines();
    let batches: Vec<Vec<&[u8]>> = lines.chunks(BATCH).map(<[_]>::to_vec).collect();
    let payload_bytes: u64 = lines.iter().map(|l| l.len() as u64).sum();
    // The serialized batches, for the raw compressors.
    let sets: Vec<Vec<u8>> = batches.iter().map(|b| plain_set(b)).collect();
    let (mut set, mut out) = (Vec::new(), Vec::new());
    let mut copy = vec![0u8; payload_bytes as usize];
    let deflate = |sets: &[Vec<u8>]| -> usize {
        sets.iter()
            .map(|s| miniz_oxide::deflate::compress_to_vec(s, 6).len())
            .sum()
    };
    let mut proto_out = Vec::new();
    // The fused encoder writes exactly what the general API writes, for every batch and codec.
    let mut enc = ProduceEncoder::new();
    for codec in [Codec::None, Codec::Gzip, Codec::Snappy] {
        for b in batches.chunks(1) {
            encode(b, codec, &mut set, &mut out);
            encode_fused(b, codec, &mut enc, &mut proto_out);
            assert_eq!(proto_out, out, "ProduceEncoder's {codec} bytes differ");
        }
    }
    let mut snap_enc = snap::raw::Encoder::new();
    let mut snap_out = vec![0u8; snap::raw::max_compress_len(64 * 1024)];

    let mut g = c.benchmark_group("encode");
    g.throughput(Throughput::Bytes(payload_bytes));
    for codec in [Codec::None, Codec::Gzip, Codec::Snappy] {
        g.bench_function(format!("produce, {codec}, ProduceEncoder"), |b| {
            b.iter(|| encode_fused(sink(&batches), codec, &mut enc, &mut out))
        });
        g.bench_function(format!("produce, {codec}, general API"), |b| {
            b.iter(|| encode(sink(&batches), codec, &mut set, &mut out))
        });
    }
    g.bench_function("CRC + memcpy", |b| {
        b.iter(|| crc_and_copy(sink(&batches), &mut copy))
    });
    g.bench_function("raw deflate level 6", |b| b.iter(|| deflate(sink(&sets))));
    g.bench_function("raw snap", |b| {
        b.iter(|| {
            sets.iter()
                .map(|s| snap_enc.compress(s, &mut snap_out).expect("fits"))
                .sum::<usize>()
        })
    });
    g.finish();
    c.final_summary();
    if !kafka07_benches::ratios_wanted() {
        return;
    }

    for codec in [Codec::None, Codec::Gzip, Codec::Snappy] {
        let target = (codec == Codec::None).then_some(0.8);
        ratios.measure(
            &format!("encode produce, {codec}, ProduceEncoder"),
            "CRC + memcpy",
            payload_bytes,
            target,
            || {
                sink(encode_fused(sink(&batches), codec, &mut enc, &mut out));
            },
            || {
                sink(crc_and_copy(sink(&batches), &mut copy));
            },
        );
        ratios.measure(
            &format!("encode produce, {codec}, general API"),
            "CRC + memcpy",
            payload_bytes,
            None,
            || {
                sink(encode(sink(&batches), codec, &mut set, &mut out));
            },
            || {
                sink(crc_and_copy(sink(&batches), &mut copy));
            },
        );
    }
    ratios.measure(
        "encode produce, gzip, ProduceEncoder",
        "raw deflate level 6",
        payload_bytes,
        Some(0.8),
        || {
            sink(encode_fused(
                sink(&batches),
                Codec::Gzip,
                &mut enc,
                &mut out,
            ));
        },
        || {
            sink(deflate(sink(&sets)));
        },
    );
    ratios.measure(
        "encode produce, snappy, ProduceEncoder",
        "raw snap",
        payload_bytes,
        Some(0.8),
        || {
            sink(encode_fused(
                sink(&batches),
                Codec::Snappy,
                &mut enc,
                &mut out,
            ));
        },
        || {
            let n: usize = sets
                .iter()
                .map(|s| snap_enc.compress(s, &mut snap_out).expect("fits"))
                .sum();
            sink(n);
        },
    );
    ratios.measure(
        "encode produce, gzip, general API",
        "raw deflate level 6",
        payload_bytes,
        Some(0.8),
        || {
            sink(encode(sink(&batches), Codec::Gzip, &mut set, &mut out));
        },
        || {
            sink(deflate(sink(&sets)));
        },
    );
    ratios.measure(
        "encode produce, snappy, general API",
        "raw snap",
        payload_bytes,
        Some(0.8),
        || {
            sink(encode(sink(&batches), Codec::Snappy, &mut set, &mut out));
        },
        || {
            let n: usize = sets
                .iter()
                .map(|s| snap_enc.compress(s, &mut snap_out).expect("fits"))
                .sum();
            sink(n);
        },
    );
    ratios.print();
}
