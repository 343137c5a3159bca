//! CRC-32 over many small and large buffers, the cost under every CRC-verified figure:
//!
//! * `crc32fast::hash` per payload: the baseline of the `shallow` bench. With crc32fast's
//!   `std` feature it detects the CPU's features at run time (PCLMULQDQ here) **on every
//!   call**, then hashes.
//! * one `crc32fast::Hasher` made once and cloned per payload: what kafka07-proto's iterators
//!   do since the detection moved out of the per-message path (the "small-buffer path").
//! * crc32fast's table-driven baseline (`Hasher::internal_new_baseline`, a hidden but public
//!   constructor): what a build gets **without** crc32fast's `std` feature on a target whose
//!   compile-time features do not include PCLMULQDQ (the default x86-64 target, and every
//!   `no_std` build of kafka07-proto that does not turn `std` on).
//!
//! Payload sizes 16 B to 64 KiB, about 1 MiB of payloads per size, synthetic bytes.

use criterion::Throughput;
use kafka07_benches::{sink, synthetic_payloads, Ratios};

/// Sizes measured.
const SIZES: [usize; 8] = [16, 64, 100, 128, 256, 1024, 10 * 1024, 64 * 1024];

/// `crc32fast::hash` per payload (runtime detection per call).
fn per_call(payloads: &[Vec<u8>]) -> u32 {
    payloads.iter().fold(0, |a, p| a ^ crc32fast::hash(p))
}

/// One detected hasher, cloned per payload.
fn cloned(template: &crc32fast::Hasher, payloads: &[Vec<u8>]) -> u32 {
    payloads.iter().fold(0, |a, p| {
        let mut h = template.clone();
        h.update(p);
        a ^ h.finalize()
    })
}

/// crc32fast's table-driven implementation (no SIMD), per payload.
fn table(payloads: &[Vec<u8>]) -> u32 {
    payloads.iter().fold(0, |a, p| {
        let mut h = crc32fast::Hasher::internal_new_baseline(0, 0);
        h.update(p);
        a ^ h.finalize()
    })
}

fn main() {
    let mut c = kafka07_benches::criterion();
    let mut ratios = Ratios::new("crc");
    let template = crc32fast::Hasher::new();
    let inputs: Vec<(usize, Vec<Vec<u8>>)> = SIZES
        .into_iter()
        .map(|size| (size, synthetic_payloads(size, 1 << 20)))
        .collect();
    for (size, payloads) in &inputs {
        // All three compute the same CRCs.
        assert_eq!(per_call(payloads), cloned(&template, payloads));
        assert_eq!(per_call(payloads), table(payloads));
        let bytes: u64 = payloads.iter().map(|p| p.len() as u64).sum();
        let mut g = c.benchmark_group(format!("crc/{size}B"));
        g.throughput(Throughput::Bytes(bytes));
        g.bench_function("crc32fast::hash per payload", |b| {
            b.iter(|| per_call(sink(payloads)))
        });
        g.bench_function("cloned Hasher per payload", |b| {
            b.iter(|| cloned(&template, sink(payloads)))
        });
        g.bench_function("table-driven (no std, no PCLMULQDQ)", |b| {
            b.iter(|| table(sink(payloads)))
        });
        g.finish();
    }
    c.final_summary();
    if !kafka07_benches::ratios_wanted() {
        return;
    }
    for (size, payloads) in &inputs {
        let bytes: u64 = payloads.iter().map(|p| p.len() as u64).sum();
        ratios.measure(
            &format!("CRC-32, cloned Hasher per payload, {size} B payloads"),
            "crc32fast::hash per payload",
            bytes,
            None,
            || {
                sink(cloned(&template, sink(payloads)));
            },
            || {
                sink(per_call(sink(payloads)));
            },
        );
        ratios.measure(
            &format!("CRC-32, table-driven (no std), {size} B payloads"),
            "crc32fast::hash per payload",
            bytes,
            None,
            || {
                sink(table(sink(payloads)));
            },
            || {
                sink(per_call(sink(payloads)));
            },
        );
    }
    ratios.print();
}
