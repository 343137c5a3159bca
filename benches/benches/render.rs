//! `kafka07 decode`'s output cost (issue 13, part 4): a raw stream of PRODUCE requests (the
//! 1 MiB JSON-log file, 100 lines a request) decoded and rendered as JSON Lines and as
//! verbose text (`decode --json` and `decode -v`, written to an `io::sink`), against the
//! decode alone (every event handed to a sink that drops it) in the same run. Target: JSON
//! costs no more than twice text (JSON / text throughput >= 0.5).

use std::io;

use criterion::Throughput;
use kafka07::dump::json::{JsonWriter, PayloadEncoding};
use kafka07::dump::text::{TextOptions, TextWriter};
use kafka07::dump::{decode_raw, DecodeConfig, Direction, Event, Sink};
use kafka07_benches::{json_lines, plain_set, sink, Ratios};

/// PRODUCE "bench"/0 requests of 100 messages each, framed.
fn produce_stream() -> Vec<u8> {
    let lines = json_lines();
    let mut out = Vec::new();
    for batch in lines.chunks(100) {
        let set = plain_set(batch);
        let mut req = Vec::new();
        req.extend_from_slice(&0i16.to_be_bytes());
        req.extend_from_slice(&5i16.to_be_bytes());
        req.extend_from_slice(b"bench");
        req.extend_from_slice(&0i32.to_be_bytes());
        req.extend_from_slice(&(set.len() as i32).to_be_bytes());
        req.extend_from_slice(&set);
        out.extend_from_slice(&(req.len() as u32).to_be_bytes());
        out.extend_from_slice(&req);
    }
    out
}

struct Drop0(u64);

impl Sink for Drop0 {
    fn event(&mut self, e: &Event<'_>) {
        self.0 += matches!(e, Event::Message(_)) as u64;
    }
}

fn decode_only(stream: &[u8], cfg: &DecodeConfig) -> u64 {
    let mut s = Drop0(0);
    decode_raw(stream, Some(Direction::Requests), cfg, &mut s);
    s.0
}

fn json(stream: &[u8], cfg: &DecodeConfig) {
    let mut w = JsonWriter::new(io::sink(), PayloadEncoding::Hex);
    decode_raw(stream, Some(Direction::Requests), cfg, &mut w);
    w.finish().expect("io::sink");
}

fn text(stream: &[u8], cfg: &DecodeConfig) {
    let opts = TextOptions {
        verbose: true,
        ..TextOptions::default()
    };
    let mut w = TextWriter::new(io::sink(), opts);
    decode_raw(stream, Some(Direction::Requests), cfg, &mut w);
    w.finish().expect("io::sink");
}

fn main() {
    let mut c = kafka07_benches::criterion();
    let mut ratios = Ratios::new("render");
    let stream = produce_stream();
    let cfg = DecodeConfig::default();
    assert_eq!(decode_only(&stream, &cfg), json_lines().len() as u64);

    let mut g = c.benchmark_group("render");
    g.throughput(Throughput::Bytes(stream.len() as u64));
    g.bench_function("decode only", |b| {
        b.iter(|| decode_only(sink(&stream), &cfg))
    });
    g.bench_function("decode + text -v", |b| b.iter(|| text(sink(&stream), &cfg)));
    g.bench_function("decode + JSON Lines", |b| {
        b.iter(|| json(sink(&stream), &cfg))
    });
    g.finish();
    c.final_summary();
    if !kafka07_benches::ratios_wanted() {
        return;
    }
    let n = stream.len() as u64;
    ratios.measure(
        "decode + JSON Lines (hex payloads)",
        "decode + text -v",
        n,
        Some(0.5),
        || json(sink(&stream), &cfg),
        || text(sink(&stream), &cfg),
    );
    ratios.measure(
        "decode + JSON Lines (hex payloads)",
        "decode only",
        n,
        None,
        || json(sink(&stream), &cfg),
        || {
            sink(decode_only(sink(&stream), &cfg));
        },
    );
    ratios.measure(
        "decode + text -v",
        "decode only",
        n,
        None,
        || text(sink(&stream), &cfg),
        || {
            sink(decode_only(sink(&stream), &cfg));
        },
    );
    ratios.print();
}
