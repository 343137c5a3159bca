//! Loopback throughput of the client against the in-process broker (in memory), set against
//! a bare-socket baseline measured in the same run: the same bytes written over a loopback
//! TCP connection by a bare writer to a bare reader that only reads them (the physical limit
//! of this path). 200-byte messages, as in the 2011 Kafka paper's producer test.
//!
//! ```sh
//! cargo bench -p kafka07-io --bench loopback                 # criterion, then the ratios
//! KAFKA07_BENCH_ROUNDS=9 cargo bench -p kafka07-io --bench loopback
//! ```
//!
//! Cases (each prints a `RATIO` line: ours / baseline, the median of alternating rounds):
//!
//! * produce, batch 1 and batch 50, with write coalescing (`ProducerConfig::coalesce`, 64 KiB,
//!   5 ms): `N` messages sent, then `confirm` (the broker has stored them all). Baseline: the
//!   same PRODUCE request bytes written in 64 KiB writes, until the reader has read them all.
//! * produce, batch 1, without coalescing (one write per request, the default). Baseline: the
//!   same bytes, one write per request.
//! * consume: 100,000 stored messages drained with 1 MiB fetches. Baseline: the bytes of the
//!   FETCH responses written in 1 MiB writes.
//! * consume from disk (Linux): a broker on a data directory holding a 1 GiB log
//!   (`KAFKA07_DISK_MIB` to change), drained with 1 MiB fetches; the broker sends the data
//!   with `sendfile(2)` (`BrokerConfig::zero_copy`), and once more with zero copy off.
//!   Baseline: `sendfile(2)` of the same segment files to a bare reader, in 1 MiB calls.
//! * 64 producers and 64 consumers at once (one topic each, batch 50, coalesced): aggregate
//!   messages/s until every consumer has read every message of its topic, with the p50/p99
//!   latency of the consumers' FETCH round trips and of the producers' hand-overs; against 64
//!   bare writer/reader pairs moving the same request bytes at once.

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::ops::ControlFlow;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use kafka07_io::proto::{MessageRepr, ProduceRequest, Request};
use kafka07_io::{
    Broker, BrokerConfig, Consumer, ConsumerConfig, Producer, ProducerConfig, StartAt,
};

const MESSAGE: usize = 200;
const TOPIC: &str = "bench";
const COALESCE: usize = 64 << 10;
const LINGER: Duration = Duration::from_millis(5);
const PRODUCE_COUNT: usize = 200_000;
const CONSUME_COUNT: usize = 100_000;
const CLIENTS: usize = 64;
const PER_CLIENT: usize = 5_000;

fn broker() -> Broker {
    Broker::start(
        BrokerConfig::in_memory()
            .visible_on_append(true)
            .log_file_size(64 << 20),
    )
    .expect("broker starts")
}

fn payload() -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(42);
    (0..MESSAGE).map(|_| rng.alphanumeric() as u8).collect()
}

fn producer_config(batch: usize, coalesce: bool) -> ProducerConfig {
    let cfg = ProducerConfig::default().batch_messages(batch);
    if coalesce {
        cfg.coalesce(COALESCE, LINGER)
    } else {
        cfg
    }
}

/// Ours: `count` messages through a producer to a fresh broker, until `confirm`.
fn produce_run(batch: usize, coalesce: bool, count: usize, payload: &[u8]) -> Duration {
    let broker = broker();
    let t = {
        let mut p = Producer::new(broker.local_addr(), producer_config(batch, coalesce));
        p.client().connection().expect("connects");
        let start = Instant::now();
        for _ in 0..count {
            p.send_to(TOPIC, 0, payload).expect("send");
        }
        p.confirm(TOPIC).expect("confirm");
        let t = start.elapsed();
        assert_eq!(p.stats().messages, count as u64);
        t
    };
    broker.shutdown().expect("shutdown");
    t
}

/// The bytes the producer writes for `count` messages in batches of `batch`: one PRODUCE
/// request per batch.
fn produce_bytes(batch: usize, count: usize, payload: &[u8]) -> (Vec<u8>, usize) {
    let msgs: Vec<MessageRepr<&[u8]>> = (0..batch).map(|_| MessageRepr::new(payload)).collect();
    let mut set = vec![0u8; kafka07_io::proto::set_wire_len(&msgs)];
    kafka07_io::proto::emit_set(&msgs, &mut set).expect("sized");
    let req = Request::Produce(ProduceRequest::new(TOPIC, 0, &set));
    let one = req.to_vec().expect("encodes");
    let n = count / batch;
    (one.repeat(n), one.len())
}

/// The baseline: `bytes` written in `chunk`-byte writes from a bare writer to a bare reader
/// over loopback TCP (`TCP_NODELAY`, as our client sets); the time until the reader has read
/// everything.
fn bare_run(bytes: &[u8], chunk: usize) -> Duration {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let total = bytes.len();
    let reader = thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        let mut buf = vec![0u8; 1 << 20];
        let mut got = 0;
        while got < total {
            let n = s.read(&mut buf).expect("read");
            assert!(n > 0, "writer closed early");
            got += n;
        }
        got
    });
    let mut w = TcpStream::connect(addr).expect("connect");
    w.set_nodelay(true).expect("nodelay");
    let start = Instant::now();
    for c in bytes.chunks(chunk) {
        w.write_all(c).expect("write");
    }
    assert_eq!(reader.join().expect("reader"), total);
    start.elapsed()
}

/// The broker's own limit: the same request bytes written by a bare writer in `chunk`-byte
/// writes to a fresh broker, then a FETCH round trip on the same connection (the broker has
/// processed them all, as after our producer's `confirm`).
fn broker_bare_run(bytes: &[u8], chunk: usize) -> Duration {
    let broker = broker();
    let mut w = TcpStream::connect(broker.local_addr()).expect("connect");
    w.set_nodelay(true).expect("nodelay");
    let start = Instant::now();
    for c in bytes.chunks(chunk) {
        w.write_all(c).expect("write");
    }
    let mut conn = kafka07_io::Connection::from_stream(w, &kafka07_io::ConnectionConfig::default())
        .expect("connection");
    let fetch = Request::Fetch(kafka07_io::proto::FetchRequest::new(TOPIC, 0, 0, 0));
    conn.request(&fetch).expect("confirm");
    let t = start.elapsed();
    drop(conn);
    broker.shutdown().expect("shutdown");
    t
}

/// A broker holding `count` messages, and the bytes of the FETCH responses that drain them.
fn loaded_broker(count: usize, payload: &[u8]) -> (Broker, usize) {
    let broker = broker();
    let mut p = Producer::new(broker.local_addr(), producer_config(500, true));
    for _ in 0..count {
        p.send_to(TOPIC, 0, payload).expect("send");
    }
    p.confirm(TOPIC).expect("confirm");
    drop(p);
    let response_bytes = consume_run(&broker, count).1;
    (broker, response_bytes)
}

/// Ours: drain `count` messages from offset 0 with 1 MiB fetches; the time and the FETCH
/// response bytes read (message sets plus 6-byte headers).
fn consume_run(broker: &Broker, count: usize) -> (Duration, usize) {
    let mut cons = Consumer::new(
        broker.local_addr(),
        TOPIC,
        0,
        ConsumerConfig::default()
            .fetch_size(1 << 20)
            .start(StartAt::Offset(0)),
    );
    let start = Instant::now();
    let (mut n, mut bytes) = (0, 0);
    while n < count {
        let s = cons
            .poll(|m| {
                black_box(m.message.payload());
                n += 1;
                ControlFlow::Continue(())
            })
            .expect("poll");
        bytes += (s.offset - s.fetch_offset) as usize + 6;
        assert!(start.elapsed() < Duration::from_secs(60), "consume stalled");
    }
    (start.elapsed(), bytes)
}

/// A data directory holding one partition of `mib` MiB of 200-byte messages (its segment
/// files flushed and closed): the directory, the segment files and the message count.
#[cfg(target_os = "linux")]
fn disk_log(mib: usize, payload: &[u8]) -> (tempfile::TempDir, Vec<std::path::PathBuf>, usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let count = (mib << 20) / (MESSAGE + 10);
    let broker = Broker::start(BrokerConfig::on_disk(dir.path()).visible_on_append(true))
        .expect("broker starts");
    let mut p = Producer::new(broker.local_addr(), producer_config(500, true));
    for _ in 0..count {
        p.send_to(TOPIC, 0, payload).expect("send");
    }
    p.confirm(TOPIC).expect("confirm");
    drop(p);
    broker.shutdown().expect("shutdown");
    let mut files: Vec<_> = std::fs::read_dir(dir.path().join(format!("{TOPIC}-0")))
        .expect("partition dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "kafka"))
        .collect();
    files.sort();
    (dir, files, count)
}

/// The disk baseline: every segment file sent with `sendfile(2)` in 1 MiB calls to a bare
/// reader over loopback; the time until the reader has read everything.
#[cfg(target_os = "linux")]
fn sendfile_run(files: &[std::path::PathBuf]) -> Duration {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let opened: Vec<std::fs::File> = files
        .iter()
        .map(|f| std::fs::File::open(f).expect("open"))
        .collect();
    let total: u64 = opened
        .iter()
        .map(|f| f.metadata().expect("metadata").len())
        .sum();
    let reader = thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        let mut buf = vec![0u8; 1 << 20];
        let mut got = 0u64;
        while got < total {
            let n = s.read(&mut buf).expect("read");
            assert!(n > 0, "writer closed early");
            got += n as u64;
        }
        got
    });
    let w = TcpStream::connect(addr).expect("connect");
    w.set_nodelay(true).expect("nodelay");
    let start = Instant::now();
    for f in &opened {
        let len = f.metadata().expect("metadata").len();
        let mut at = 0u64;
        while at < len {
            let count = (len - at).min(1 << 20) as usize;
            let n = rustix::fs::sendfile(&w, f, Some(&mut at), count).expect("sendfile");
            assert!(n > 0, "file ended early");
        }
    }
    assert_eq!(reader.join().expect("reader"), total);
    start.elapsed()
}

/// Latency percentiles of `v` (sorted in place), in microseconds.
fn percentiles(v: &mut [Duration]) -> (f64, f64) {
    v.sort();
    let at = |q: f64| v[((v.len() as f64 * q) as usize).min(v.len() - 1)].as_secs_f64() * 1e6;
    (at(0.5), at(0.99))
}

/// Ours, many clients: `CLIENTS` producers (one topic each, batch 50, coalesced) and
/// `CLIENTS` consumers reading those topics, all at once. Returns the wall time until every
/// consumer has read `PER_CLIENT` messages, the producers' hand-over latencies (each
/// `send_to` that triggers a batch) and the consumers' FETCH round trips.
fn many_run(payload: &[u8]) -> (Duration, Vec<Duration>, Vec<Duration>) {
    let broker = broker();
    let addr = broker.local_addr();
    let go = Arc::new(Barrier::new(2 * CLIENTS + 1));
    let mut producers = Vec::new();
    let mut consumers = Vec::new();
    for i in 0..CLIENTS {
        let (pgo, payload) = (go.clone(), payload.to_vec());
        producers.push(thread::spawn(move || {
            let topic = format!("t{i}");
            let mut p = Producer::new(addr, producer_config(50, true));
            p.client().connection().expect("producer connects");
            pgo.wait();
            let began = Instant::now();
            let mut lat = Vec::with_capacity(PER_CLIENT / 50);
            for k in 0..PER_CLIENT {
                let t = Instant::now();
                p.send_to(&topic, 0, &payload).expect("send");
                if k % 50 == 49 {
                    lat.push(t.elapsed());
                }
            }
            p.confirm(&topic).expect("confirm");
            (lat, began, Instant::now())
        }));
        let cgo = go.clone();
        consumers.push(thread::spawn(move || {
            let topic = format!("t{i}");
            let mut c = Consumer::new(
                addr,
                &topic,
                0,
                ConsumerConfig::default()
                    .fetch_size(1 << 20)
                    .start(StartAt::Offset(0)),
            );
            cgo.wait();
            let start = Instant::now();
            let began = start;
            let mut lat = Vec::new();
            let mut n = 0;
            // Bounded by count and by time.
            while n < PER_CLIENT && start.elapsed() < Duration::from_secs(120) {
                let t = Instant::now();
                let s = c
                    .poll(|m| {
                        black_box(m.message.payload());
                        n += 1;
                        ControlFlow::Continue(())
                    })
                    .expect("poll");
                lat.push(t.elapsed());
                if s.messages == 0 {
                    thread::sleep(Duration::from_micros(200));
                }
            }
            assert_eq!(n, PER_CLIENT, "consumer {i} read everything in time");
            (lat, began, Instant::now())
        }));
    }
    go.wait();
    // Each thread notes when it started and ended (the main thread may be scheduled late on
    // a machine with far fewer cores than threads): the wall time is first start to last end.
    let (mut first, mut last) = (None::<Instant>, None::<Instant>);
    let mut span = |b: Instant, e: Instant| {
        first = Some(first.map_or(b, |f| f.min(b)));
        last = Some(last.map_or(e, |l| l.max(e)));
    };
    let mut plat = Vec::new();
    for h in producers {
        let (l, b, e) = h.join().expect("producer");
        span(b, e);
        plat.extend(l);
    }
    let mut clat = Vec::new();
    for h in consumers {
        let (l, b, e) = h.join().expect("consumer");
        span(b, e);
        clat.extend(l);
    }
    let t = last.expect("threads ran") - first.expect("threads ran");
    let refused = broker.stats().connections_refused;
    assert_eq!(refused, 0, "no connection refused under the default limits");
    broker.shutdown().expect("shutdown");
    (t, plat, clat)
}

/// Baseline for many clients: `CLIENTS` bare writer/reader pairs at once, each moving
/// `bytes` in 64 KiB writes.
fn many_bare(bytes: &[u8]) -> Duration {
    let bytes = Arc::new(bytes.to_vec());
    let pairs: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let b = bytes.clone();
            thread::spawn(move || {
                let began = Instant::now();
                bare_run(&b, COALESCE);
                (began, Instant::now())
            })
        })
        .collect();
    let spans: Vec<(Instant, Instant)> =
        pairs.into_iter().map(|p| p.join().expect("pair")).collect();
    let first = spans.iter().map(|s| s.0).min().expect("pairs");
    let last = spans.iter().map(|s| s.1).max().expect("pairs");
    last - first
}

/// Whether a group of ratio rows runs: all by default, or those `KAFKA07_LOOPBACK` lists
/// (comma-separated: produce, broker, consume, disk, many).
fn wanted(group: &str) -> bool {
    std::env::var("KAFKA07_LOOPBACK").map_or(true, |v| v.split(',').any(|g| g == group))
}

fn rounds() -> usize {
    std::env::var("KAFKA07_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5)
}

/// Times `ours` and `base` (each returning its own elapsed time) in alternating rounds,
/// order swapped every round; prints both rates (per second of `per_run` units) and the
/// median ratio of rates.
fn ratio(
    what: &str,
    baseline: &str,
    per_run: f64,
    target: Option<f64>,
    mut ours: impl FnMut() -> Duration,
    mut base: impl FnMut() -> Duration,
) {
    let mut rs = Vec::new();
    let (mut o_best, mut b_best) = (Duration::MAX, Duration::MAX);
    for r in 0..rounds() {
        let (o, b) = if r % 2 == 0 {
            let o = ours();
            (o, base())
        } else {
            let b = base();
            (ours(), b)
        };
        o_best = o_best.min(o);
        b_best = b_best.min(b);
        rs.push(b.as_secs_f64() / o.as_secs_f64());
    }
    rs.sort_by(f64::total_cmp);
    let med = rs[rs.len() / 2];
    let verdict = match target {
        Some(t) if med >= t => format!(">= {t:.2} met"),
        Some(t) => format!(">= {t:.2} MISSED"),
        None => "-".to_owned(),
    };
    println!(
        "RATIO | loopback | {what} | {baseline} | {:.0} | {:.0} | {med:.3} | {verdict} |",
        per_run / o_best.as_secs_f64(),
        per_run / b_best.as_secs_f64(),
    );
}

fn main() {
    let payload = payload();
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
        .sample_size(10)
        .configure_from_args();
    let criterion_runs = std::env::var_os("KAFKA07_LOOPBACK").is_none();
    let mut g = c.benchmark_group("loopback/produce");
    for (batch, coalesce) in [(1usize, true), (50, true), (1, false)] {
        if !criterion_runs {
            break;
        }
        let count = if coalesce { PRODUCE_COUNT } else { 50_000 };
        let (bytes, req) = produce_bytes(batch, count, &payload);
        let chunk = if coalesce { COALESCE } else { req };
        g.throughput(Throughput::Elements(count as u64));
        let name = if coalesce {
            "coalesced"
        } else {
            "one write each"
        };
        g.bench_function(format!("batch{batch}, {name}"), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| produce_run(batch, coalesce, count, &payload))
                    .sum()
            })
        });
        g.bench_function(format!("bare socket, batch{batch} bytes, {name}"), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| bare_run(&bytes, chunk)).sum())
        });
    }
    g.finish();
    let (loaded, response_bytes) = loaded_broker(CONSUME_COUNT, &payload);
    let responses = vec![0u8; response_bytes];
    let mut g = c.benchmark_group("loopback/consume");
    g.throughput(Throughput::Elements(CONSUME_COUNT as u64));
    if criterion_runs {
        g.bench_function("fetch1MiB", |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| consume_run(&loaded, CONSUME_COUNT).0)
                    .sum()
            })
        });
        g.bench_function("bare socket, 1 MiB writes", |b| {
            b.iter_custom(|iters| (0..iters).map(|_| bare_run(&responses, 1 << 20)).sum())
        });
    }
    g.finish();
    c.final_summary();
    if std::env::args().any(|a| a == "--test" || a == "--list" || a == "--profile-time") {
        return;
    }

    println!("| bench | what | baseline | ours msg/s | baseline msg/s | ratio | target |");
    for (batch, coalesce, target) in [(1usize, true, 0.8), (50, true, 0.8), (1, false, 0.8)] {
        let count = if coalesce { PRODUCE_COUNT } else { 50_000 };
        let (bytes, req) = produce_bytes(batch, count, &payload);
        let (what, chunk, base) = if coalesce {
            (
                format!("produce batch {batch}, coalesced 64 KiB / 5 ms"),
                COALESCE,
                "bare socket, same bytes, 64 KiB writes",
            )
        } else {
            (
                format!("produce batch {batch}, one write per request"),
                req,
                "bare socket, same bytes, one write per request",
            )
        };
        if wanted("produce") {
            ratio(
                &what,
                base,
                count as f64,
                Some(target),
                || produce_run(batch, coalesce, count, &payload),
                || bare_run(&bytes, chunk),
            );
        }
        if wanted("broker") {
            ratio(
                &what,
                "bare writer to our broker, same bytes and writes, until processed",
                count as f64,
                None,
                || produce_run(batch, coalesce, count, &payload),
                || broker_bare_run(&bytes, chunk),
            );
        }
    }
    if wanted("consume") {
        ratio(
            "consume, 1 MiB fetches",
            "bare socket, same response bytes, 1 MiB writes",
            CONSUME_COUNT as f64,
            None,
            || consume_run(&loaded, CONSUME_COUNT).0,
            || bare_run(&responses, 1 << 20),
        );
    }
    loaded.shutdown().expect("shutdown");
    #[cfg(target_os = "linux")]
    if wanted("disk") {
        let mib = std::env::var("KAFKA07_DISK_MIB")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1024);
        let (dir, files, count) = disk_log(mib, &payload);
        for zero_copy in [true, false] {
            let broker = Broker::start(
                BrokerConfig::on_disk(dir.path())
                    .visible_on_append(true)
                    .zero_copy(zero_copy),
            )
            .expect("broker starts");
            ratio(
                &format!(
                    "consume from a {mib} MiB on-disk log, 1 MiB fetches, {}",
                    if zero_copy {
                        "sendfile (zero copy)"
                    } else {
                        "zero copy off (pread + write)"
                    }
                ),
                "sendfile(2) of the segment files to a bare reader, 1 MiB calls",
                count as f64,
                zero_copy.then_some(0.8),
                || consume_run(&broker, count).0,
                || sendfile_run(&files),
            );
            let s = broker.stats();
            eprintln!(
                "disk: {} bytes by sendfile, {} written from buffers",
                s.bytes_sent_zero_copy, s.bytes_written
            );
            broker.shutdown().expect("shutdown");
        }
    }
    if !wanted("many") {
        return;
    }

    let (bytes, _) = produce_bytes(50, PER_CLIENT, &payload);
    let (mut plat, mut clat) = (Vec::new(), Vec::new());
    ratio(
        &format!("{CLIENTS} producers + {CLIENTS} consumers, batch 50, coalesced"),
        &format!("{CLIENTS} bare writer/reader pairs, same request bytes"),
        (CLIENTS * PER_CLIENT) as f64,
        None,
        || {
            let (t, p, c) = many_run(&payload);
            eprintln!("many: {} messages in {t:?}", CLIENTS * PER_CLIENT);
            plat.extend(p);
            clat.extend(c);
            t
        },
        || many_bare(&bytes),
    );
    let (p50, p99) = percentiles(&mut plat);
    println!(
        "LATENCY | producer hand-over of a 50-message batch | p50 {p50:.0} us | p99 {p99:.0} us | {} samples",
        plat.len()
    );
    let (c50, c99) = percentiles(&mut clat);
    println!(
        "LATENCY | consumer FETCH round trip | p50 {c50:.0} us | p99 {c99:.0} us | {} samples",
        clat.len()
    );
}
