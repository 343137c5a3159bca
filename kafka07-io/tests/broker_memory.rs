//! Memory bounds (issue #14, item 2): the hostile requests of the issue, against a real broker on
//! loopback, while this process's RSS (the broker runs in it; /proc/self/status VmRSS) is
//! sampled every few milliseconds. The documented bound: [`BOUND_MIB`] MiB of peak RSS over the
//! baseline taken before the attack, for the default settings (`max_decompressed_total`
//! 128 MiB, 64 KiB response chunks). Normal traffic keeps working during and after.
//!
//! One test in its own binary, so no other test shares the process.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka07_io::proto::{
    Codec, FetchRequest, MessageRepr, MultiFetchRequest, Parts, ProduceRequest, Request,
};
use kafka07_io::{Broker, BrokerConfig, Client, OffsetTime};
use support::*;

/// Peak RSS growth allowed over the baseline, in MiB.
const BOUND_MIB: u64 = 200;

fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Samples RSS until dropped; `peak()` in KiB.
struct Sampler {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sampler {
    fn start() -> Sampler {
        let peak = Arc::new(AtomicU64::new(rss_kib()));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (peak.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                p.fetch_max(rss_kib(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(3));
            }
        });
        Sampler {
            peak,
            stop,
            thread: Some(thread),
        }
    }

    fn peak(&self) -> u64 {
        self.peak
            .fetch_max(rss_kib(), Ordering::Relaxed)
            .max(rss_kib())
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn frame(req: &Request<'_>) -> Vec<u8> {
    req.to_vec().unwrap()
}

/// Reads one response and throws its bytes away; returns its size field.
fn drain_response(s: &mut TcpStream) -> u64 {
    let mut size = [0u8; 4];
    s.read_exact(&mut size).unwrap();
    let n = i32::from_be_bytes(size) as u64;
    let mut left = n;
    let mut buf = vec![0u8; 256 << 10];
    let deadline = Instant::now() + Duration::from_secs(120);
    while left > 0 {
        assert!(Instant::now() < deadline, "response took too long");
        let want = left.min(buf.len() as u64) as usize;
        let k = s.read(&mut buf[..want]).unwrap();
        assert!(
            k > 0,
            "the broker closed mid-response with {left} bytes left"
        );
        left -= k as u64;
    }
    n
}

/// A normal round trip: produce one message to `normal` and read it back.
fn normal_traffic(b: &Broker, n: usize) {
    let mut c = Client::connect(b.local_addr()).unwrap();
    let payload = format!("normal {n}");
    let before = c.offsets("normal", 0, OffsetTime::Latest, 1).unwrap()[0];
    c.produce("normal", 0, &plain(&[payload.as_bytes()]))
        .unwrap();
    c.confirm("normal").unwrap();
    let f = c.fetch("normal", 0, before, 1 << 20).unwrap();
    let got = deep_payloads(&f.data, before);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1, payload.as_bytes());
}

#[test]
fn hostile_requests_keep_broker_memory_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let b = Broker::start(
        BrokerConfig::on_disk(dir.path())
            .visible_on_append(true)
            .flush_interval_messages(1),
    )
    .unwrap();
    let addr = b.local_addr();
    // A 10 KB log and an 8 MB log.
    let mut c = Client::connect(addr).unwrap();
    let kb = vec![b'k'; 1000];
    for _ in 0..10 {
        c.produce("small", 0, &plain(&[&kb])).unwrap();
    }
    let mb = vec![b'm'; 100_000];
    for _ in 0..8 {
        let set = plain(&[&mb[..]; 10]);
        c.produce("big", 0, &set).unwrap();
    }
    c.confirm("big").unwrap();
    let small_len = c.offsets("small", 0, OffsetTime::Latest, 1).unwrap()[0];
    let big_len = c.offsets("big", 0, OffsetTime::Latest, 1).unwrap()[0];
    assert!(small_len >= 10_000 && big_len >= 8_000_000);
    normal_traffic(&b, 0);

    // The gzip bombs are built before the baseline (60 MiB of zeros each side, freed).
    let (bomb, bomb_set_len) = {
        let zeros = vec![0u8; 1 << 20];
        let msgs: Vec<MessageRepr<&[u8]>> = (0..60).map(|_| MessageRepr::new(&zeros[..])).collect();
        let w = kafka07_io::proto::wrap(Codec::Gzip, &msgs)
            .unwrap()
            .unwrap()
            .to_vec()
            .unwrap();
        (
            frame(&Request::Produce(ProduceRequest::new("bombs", 0, &w))),
            w.len() as u64,
        )
    };
    assert!(bomb.len() < 100_000, "a bomb is {} bytes", bomb.len());

    let baseline = rss_kib();
    let sampler = Sampler::start();
    let bound = baseline + BOUND_MIB * 1024;
    eprintln!(
        "baseline RSS {} MiB, bound {} MiB",
        baseline / 1024,
        bound / 1024
    );

    // 1. One MULTIFETCH of 32,767 parts of (small, 0, 0, 2^31-1).
    let parts: Vec<FetchRequest<'_>> = (0..32_767)
        .map(|_| FetchRequest::new("small", 0, 0, i32::MAX))
        .collect();
    let mf = frame(&Request::MultiFetch(MultiFetchRequest {
        parts: Parts::from_slice(&parts),
    }));
    drop(parts);
    let mut s = raw(addr);
    s.write_all(&mf).unwrap();
    drop(mf);
    let n = drain_response(&mut s);
    assert_eq!(n, 2 + 32_767 * (6 + small_len));
    normal_traffic(&b, 1);
    let after_multifetch = sampler.peak();
    eprintln!(
        "peak RSS after the MULTIFETCH: {} MiB",
        after_multifetch / 1024
    );
    assert!(
        after_multifetch < bound,
        "MULTIFETCH: {after_multifetch} KiB"
    );

    // 2. 50 connections FETCH the whole 8 MB log and do not read.
    let slow: Vec<TcpStream> = (0..50)
        .map(|_| {
            let mut s = raw(addr);
            s.write_all(&frame(&Request::Fetch(FetchRequest::new(
                "big",
                0,
                0,
                i32::MAX,
            ))))
            .unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    normal_traffic(&b, 2);
    // They are still served correctly when they do read: one of them reads all of it.
    let mut first = slow.into_iter();
    let mut one = first.next().unwrap();
    assert_eq!(drain_response(&mut one), 2 + big_len);
    let after_slow = sampler.peak();
    eprintln!(
        "peak RSS with 50 slow FETCH readers: {} MiB",
        after_slow / 1024
    );
    assert!(after_slow < bound, "slow readers: {after_slow} KiB");
    drop(first);
    drop(one);

    // 3. 16 concurrent gzip wrappers that inflate to 60 MiB each.
    let senders: Vec<_> = (0..16)
        .map(|_| {
            let bomb = bomb.clone();
            std::thread::spawn(move || {
                let mut s = raw(addr);
                s.write_all(&bomb).unwrap();
                // Processed when a request after it on the same connection is answered.
                s.write_all(&frame(&Request::Fetch(FetchRequest::new("bombs", 0, 0, 0))))
                    .unwrap();
                s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
                read_frame(&mut s).is_some()
            })
        })
        .collect();
    normal_traffic(&b, 3);
    let answered = senders
        .into_iter()
        .map(|t| t.join().unwrap())
        .filter(|&a| a)
        .count();
    assert_eq!(answered, 16, "every bomb was processed");
    let stored = Client::connect(addr)
        .unwrap()
        .offsets("bombs", 0, OffsetTime::Latest, 1)
        .unwrap()[0];
    assert_eq!(stored, 16 * bomb_set_len);
    normal_traffic(&b, 4);
    let peak = sampler.peak();
    eprintln!(
        "peak RSS over the whole attack: {} MiB (baseline {} MiB, bound {} MiB)",
        peak / 1024,
        baseline / 1024,
        bound / 1024
    );
    assert!(
        peak < bound,
        "peak RSS {} MiB over the bound {} MiB",
        peak / 1024,
        bound / 1024
    );
}
