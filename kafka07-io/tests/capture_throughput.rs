//! Rough throughput measurement (ignored by default; run with
//! `cargo test --release --test throughput -- --ignored --nocapture`).

#[path = "capture_common/mod.rs"]
mod common;

use std::time::Instant;

use common::*;
use kafka07_io::capture::{linktype, CaptureEvent, CaptureReader};

#[test]
#[ignore = "measurement; run explicitly in release mode"]
fn read_throughput() {
    let f = Flow::eth("10.0.0.1:40000", "10.0.0.2:9092");
    let chunk = payload(1400, 3);
    let mut cap = Cap::default();
    cap.push(f.c(0, 0, syn(), b""));
    let n = 60_000u32;
    for i in 0..n {
        // Every 50th pair of segments swapped to exercise buffering.
        let j = if i % 50 == 0 && i + 1 < n {
            i + 1
        } else if i % 50 == 1 {
            i - 1
        } else {
            i
        };
        cap.push(f.c(1 + j * 1400, 1, psh(), &chunk));
        if i % 10 == 0 {
            cap.push(f.s(1, 1 + j * 1400, ack(), b""));
        }
    }
    let file = cap.pcap(linktype::ETHERNET);
    let start = Instant::now();
    let mut bytes = 0u64;
    for e in CaptureReader::new(&file[..]).unwrap() {
        if let CaptureEvent::Data { bytes: b, .. } = e.unwrap() {
            bytes += b.len() as u64;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(bytes, u64::from(n) * 1400);
    println!(
        "{} MB file in {:.3}s: {:.0} MB/s",
        file.len() / 1_000_000,
        secs,
        file.len() as f64 / secs / 1e6
    );
}
