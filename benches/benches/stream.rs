//! The streaming decoder (`FetchStream`) fed a FETCH response in 1,500-byte pieces (one
//! Ethernet MTU at a time), against the one-shot decoder (`Response::decode` and a shallow
//! walk) on the same bytes: the whole 1 MiB JSON-log file as plain messages, CRC verified.

use criterion::Throughput;
use kafka07_benches::work::{shallow, stream_all};
use kafka07_benches::{fetch_response, json_lines, plain_set, sink, Ratios};
use kafka07_proto::{CrcPolicy, FetchStream, StreamEvent};

/// Bytes per piece handed to the stream decoder.
const PIECE: usize = 1500;

/// Feeds `resp` to `dec` in `PIECE`-byte pieces; returns the payload bytes seen.
fn streamed(resp: &[u8], dec: &mut FetchStream<Vec<u8>>) -> usize {
    dec.reset(0);
    let mut n = 0;
    for piece in resp.chunks(PIECE) {
        let mut input = piece;
        loop {
            let (used, event) = dec.decode(input).expect("valid");
            if let Some(StreamEvent::Message(m)) = event {
                n += m.message.payload().len();
            } else if used == 0 && event.is_none() {
                break;
            }
            input = &input[used..];
        }
    }
    assert!(dec.is_done());
    n
}

fn main() {
    let mut c = kafka07_benches::criterion();
    let mut ratios = Ratios::new("stream");
    let resp = fetch_response(&plain_set(&json_lines()));
    let mut dec = FetchStream::new(vec![0u8; 64 * 1024], 0);
    assert_eq!(streamed(&resp, &mut dec), shallow(&resp, CrcPolicy::Verify));
    assert_eq!(
        stream_all(&resp, PIECE, &mut dec),
        shallow(&resp, CrcPolicy::Verify)
    );

    let mut g = c.benchmark_group("stream");
    g.throughput(Throughput::Bytes(resp.len() as u64));
    g.bench_function("FetchStream, 1500-byte pieces", |b| {
        b.iter(|| streamed(sink(&resp), &mut dec))
    });
    g.bench_function("FetchStream::decode_all, 1500-byte pieces", |b| {
        b.iter(|| stream_all(sink(&resp), PIECE, &mut dec))
    });
    g.bench_function("one-shot decode", |b| {
        b.iter(|| shallow(sink(&resp), CrcPolicy::Verify))
    });
    g.finish();
    c.final_summary();
    if !kafka07_benches::ratios_wanted() {
        return;
    }

    ratios.measure(
        "FetchStream, 1500-byte pieces, JSON-log messages",
        "one-shot decode",
        resp.len() as u64,
        Some(0.8),
        || {
            sink(streamed(sink(&resp), &mut dec));
        },
        || {
            sink(shallow(sink(&resp), CrcPolicy::Verify));
        },
    );
    ratios.measure(
        "FetchStream::decode_all, 1500-byte pieces, JSON-log messages",
        "one-shot decode",
        resp.len() as u64,
        Some(0.8),
        || {
            sink(stream_all(sink(&resp), PIECE, &mut dec));
        },
        || {
            sink(shallow(sink(&resp), CrcPolicy::Verify));
        },
    );
    ratios.print();
}
