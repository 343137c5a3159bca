//! Zero-copy fetch (issue #13, part 2): a broker on a data directory sends FETCH and MULTIFETCH
//! data from its segment files with `sendfile(2)` (Linux), and the bytes a client receives are
//! exactly those it receives with zero copy off, for a response far larger than the socket
//! buffers taken by a slow reader (so `sendfile` is cut short and resumed many times), and for
//! a MULTIFETCH whose file ranges alternate with framing bytes.

mod support;

use std::io::Read;
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use kafka07_io::proto::{FetchRequest, MultiFetchRequest, Parts, Request};
use kafka07_io::{Broker, BrokerConfig, Client};
use support::*;

const TOPIC: &str = "zc";

/// Payload `i`: 1 to 6,000 bytes, its content derived from `i`.
fn payload(i: usize) -> Vec<u8> {
    let len = 1 + (i * 7919) % 6000;
    (0..len).map(|j| (i * 31 + j) as u8).collect()
}

fn config(dir: &Path, zero_copy: bool) -> BrokerConfig {
    BrokerConfig::on_disk(dir)
        .partitions(2)
        .visible_on_append(true)
        .log_file_size(16 << 20)
        .zero_copy(zero_copy)
}

/// Writes `count` messages to each of the two partitions; returns the payloads by partition.
fn fill(dir: &Path, count: usize) -> [Vec<Vec<u8>>; 2] {
    let broker = Broker::start(config(dir, true)).expect("broker starts");
    let mut client = Client::connect(broker.local_addr()).unwrap();
    let mut sent: [Vec<Vec<u8>>; 2] = [Vec::new(), Vec::new()];
    for (partition, out) in sent.iter_mut().enumerate() {
        for batch in (0..count).collect::<Vec<_>>().chunks(100) {
            let ps: Vec<Vec<u8>> = batch.iter().map(|i| payload(i + partition)).collect();
            let refs: Vec<&[u8]> = ps.iter().map(|p| p.as_slice()).collect();
            client
                .produce(TOPIC, partition as i32, &plain(&refs))
                .unwrap();
            out.extend(ps);
        }
    }
    client.confirm(TOPIC).unwrap();
    broker.shutdown().unwrap();
    sent
}

/// Sends `req` and reads the whole response slowly: 4 KiB reads with a pause every 256 KiB,
/// after a first pause that lets the broker fill the socket buffers.
fn slow_response(s: &mut TcpStream, req: &Request<'_>) -> Vec<u8> {
    send(s, &req.to_vec().unwrap());
    std::thread::sleep(Duration::from_millis(100));
    let mut size = [0u8; 4];
    s.read_exact(&mut size).unwrap();
    let n = u32::from_be_bytes(size) as usize;
    let mut out = size.to_vec();
    let mut buf = [0u8; 4096];
    while out.len() < 4 + n {
        let want = (4 + n - out.len()).min(buf.len());
        let got = s.read(&mut buf[..want]).unwrap();
        assert!(got > 0, "the broker closed the connection mid-response");
        out.extend_from_slice(&buf[..got]);
        if out.len() % (256 << 10) < got {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    out
}

/// The FETCH and MULTIFETCH responses of a broker on `dir`, and its stats.
fn responses(dir: &Path, zero_copy: bool) -> (Vec<u8>, Vec<u8>, kafka07_io::BrokerStats) {
    let broker = Broker::start(config(dir, zero_copy)).expect("broker starts");
    let mut s = raw(broker.local_addr());
    let fetch = slow_response(
        &mut s,
        &Request::Fetch(FetchRequest::new(TOPIC, 0, 0, 64 << 20)),
    );
    let parts = [
        FetchRequest::new(TOPIC, 0, 0, 100_000),
        FetchRequest::new(TOPIC, 1, 0, 3 << 20),
        FetchRequest::new(TOPIC, 0, 0, 7),
        FetchRequest::new(TOPIC, 1, 1 << 40, 1000),
    ];
    let multi = slow_response(
        &mut s,
        &Request::MultiFetch(MultiFetchRequest {
            parts: Parts::from_slice(&parts),
        }),
    );
    drop(s);
    let stats = broker.stats();
    broker.shutdown().unwrap();
    (fetch, multi, stats)
}

#[test]
fn sendfile_responses_equal_copied_ones_and_carry_the_right_messages() {
    let dir = tempfile::tempdir().unwrap();
    let sent = fill(dir.path(), 2500);
    let total0: usize = sent[0].iter().map(|p| p.len() + 10).sum();
    assert!(total0 > 7 << 20, "partition 0 holds {total0} bytes");

    let (fetch_zc, multi_zc, stats_zc) = responses(dir.path(), true);
    let (fetch_cp, multi_cp, stats_cp) = responses(dir.path(), false);
    assert!(
        fetch_zc == fetch_cp,
        "FETCH responses differ ({} vs {} bytes)",
        fetch_zc.len(),
        fetch_cp.len()
    );
    assert!(multi_zc == multi_cp, "MULTIFETCH responses differ");

    // The FETCH response: size, error 0, then the whole partition, every message in order.
    assert_eq!(fetch_zc.len(), 6 + total0);
    assert_eq!(&fetch_zc[4..6], &[0, 0]);
    let got = deep_payloads(&fetch_zc[6..], 0);
    assert_eq!(got.len(), sent[0].len());
    // Each message's offset is the next one's (0.7's MessageAndOffset).
    let mut next = 0u64;
    for ((at, p), want) in got.iter().zip(&sent[0]) {
        next += 10 + want.len() as u64;
        assert_eq!(*at, next);
        assert_eq!(p, want);
    }

    // The MULTIFETCH response: four parts, each `size, error, data`.
    let mut at = 6;
    let mut parts = Vec::new();
    while at < multi_zc.len() {
        let size = u32::from_be_bytes(multi_zc[at..at + 4].try_into().unwrap()) as usize;
        let error = i16::from_be_bytes(multi_zc[at + 4..at + 6].try_into().unwrap());
        parts.push((error, multi_zc[at + 6..at + 4 + size].to_vec()));
        at += 4 + size;
    }
    assert_eq!(at, multi_zc.len());
    assert_eq!(parts.len(), 4);
    // Part 1: partition 0 cut at 100,000 bytes: the whole messages that fit, then a cut one.
    assert_eq!(parts[0].0, 0);
    assert_eq!(parts[0].1.len(), 100_000);
    let whole = deep_payloads_prefix(&parts[0].1);
    assert!(!whole.is_empty());
    for ((_, p), want) in whole.iter().zip(&sent[0]) {
        assert_eq!(p, want);
    }
    // Part 2: partition 1, 3 MiB.
    assert_eq!(parts[1].0, 0);
    assert_eq!(parts[1].1.len(), 3 << 20);
    let whole = deep_payloads_prefix(&parts[1].1);
    assert!(whole.len() > 500);
    for ((_, p), want) in whole.iter().zip(&sent[1]) {
        assert_eq!(p, want);
    }
    // Part 3: 7 bytes, less than one message header.
    assert_eq!(parts[2], (0, fetch_zc[6..13].to_vec()));
    // Part 4: past the end, OffsetOutOfRange (1) and no data.
    assert_eq!(parts[3], (1, Vec::new()));

    // Which path ran: with zero copy on (Linux), the partition data went by sendfile.
    let data = (fetch_zc.len() - 6 + 100_000 + (3 << 20) + 7) as u64;
    if cfg!(target_os = "linux") {
        assert_eq!(stats_zc.bytes_sent_zero_copy, data);
        assert_eq!(
            stats_zc.bytes_written,
            (fetch_zc.len() + multi_zc.len()) as u64 - data
        );
    }
    assert_eq!(stats_cp.bytes_sent_zero_copy, 0);
    assert_eq!(
        stats_cp.bytes_written,
        (fetch_cp.len() + multi_cp.len()) as u64
    );
}

/// The messages of a set cut anywhere: the complete ones (the cut tail is not an error).
fn deep_payloads_prefix(set: &[u8]) -> Vec<(u64, Vec<u8>)> {
    kafka07_io::proto::MessageSet::new(set, 0)
        .shallow()
        .map_while(Result::ok)
        .map(|m| (m.offset, m.message.payload().to_vec()))
        .collect()
}
