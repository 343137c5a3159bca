//! Shallow decode of a FETCH response (messages of 100 B, 1 KiB and 10 KiB, about 1 MiB in
//! all): with the CRC verified, against crc32fast over the same payloads (one call per payload)
//! and against memcpy of the same bytes; with the CRC skipped, against a bare length-prefix walk.

use criterion::Throughput;
use kafka07_benches::work::{crc_per_payload, shallow as decode};
use kafka07_benches::{
    fetch_response, payload_ranges, plain_set, sink, synthetic_payloads, Ratios,
};
use kafka07_proto::CrcPolicy;

/// Follows the length prefixes, nothing else.
fn length_walk(resp: &[u8]) -> usize {
    let set = &resp[6..];
    let (mut pos, mut n) = (0, 0);
    while let Some(prefix) = set.get(pos..pos + 4) {
        pos += 4 + u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
        n += 1;
    }
    n
}

fn main() {
    let mut c = kafka07_benches::criterion();
    let mut ratios = Ratios::new("shallow");
    let inputs: Vec<(usize, Vec<u8>)> = [100, 1024, 10 * 1024]
        .into_iter()
        .map(|size| {
            (
                size,
                fetch_response(&plain_set(&synthetic_payloads(size, 1 << 20))),
            )
        })
        .collect();
    for (size, resp) in &inputs {
        let ranges = payload_ranges(&resp[6..]);
        let mut dst = vec![0u8; resp.len()];
        let mut g = c.benchmark_group(format!("shallow/{size}B"));
        g.throughput(Throughput::Bytes(resp.len() as u64));
        g.bench_function("decode, CRC verified", |b| {
            b.iter(|| decode(sink(resp), CrcPolicy::Verify))
        });
        g.bench_function("crc32fast per payload", |b| {
            b.iter(|| crc_per_payload(sink(resp), &ranges))
        });
        g.bench_function("memcpy", |b| b.iter(|| dst.copy_from_slice(sink(resp))));
        g.bench_function("decode, CRC skipped", |b| {
            b.iter(|| decode(sink(resp), CrcPolicy::Skip))
        });
        g.bench_function("length-prefix walk", |b| b.iter(|| length_walk(sink(resp))));
        g.finish();
    }
    c.final_summary();
    if !kafka07_benches::ratios_wanted() {
        return;
    }
    for (size, resp) in &inputs {
        let ranges = payload_ranges(&resp[6..]);
        let mut dst = vec![0u8; resp.len()];
        let bytes = resp.len() as u64;
        let what = format!("shallow decode, CRC verified, {size} B messages");
        ratios.measure(
            &what,
            "crc32fast per payload",
            bytes,
            Some(0.9),
            || {
                sink(decode(sink(resp), CrcPolicy::Verify));
            },
            || {
                sink(crc_per_payload(sink(resp), &ranges));
            },
        );
        ratios.measure(
            &what,
            "memcpy",
            bytes,
            None,
            || {
                sink(decode(sink(resp), CrcPolicy::Verify));
            },
            || dst.copy_from_slice(sink(resp)),
        );
        ratios.measure(
            &format!("shallow decode, CRC skipped, {size} B messages"),
            "length-prefix walk",
            bytes,
            None,
            || {
                sink(decode(sink(resp), CrcPolicy::Skip));
            },
            || {
                sink(length_walk(sink(resp)));
            },
        );
    }
    ratios.print();
}
