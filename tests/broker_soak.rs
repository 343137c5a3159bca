//! The broker soak (issue #14): producers, consumers, garbage senders, slow readers and
//! `kill -9` restarts of a `kafka07 broker --data-dir` process, all at once, for a bounded
//! time; then a full CRC and order check of every partition. Prints messages sent, confirmed,
//! stored, lost (all of them unconfirmed: in flight at a kill), corrupt, duplicates, peak RSS
//! and peak file descriptors of the broker. Ignored by default:
//!
//! ```text
//! KAFKA07_SOAK_SECS=600 cargo test --release --test broker_soak -- --ignored --nocapture
//! ```

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use kafka07::io::proto::{Codec, DecodeOptions, FetchRequest, MessageRepr, MessageSet, Request};
use kafka07::io::Client;

const PRODUCERS: usize = 4;
const BATCH: u64 = 20;

struct BrokerProc {
    child: Child,
}

impl BrokerProc {
    fn start(dir: &std::path::Path, port: u16, log: &std::path::Path) -> BrokerProc {
        let err = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let mut child = Command::new(bin())
            .args(["broker", "--port", &port.to_string(), "--stop-on-eof"])
            .arg("--data-dir")
            .arg(dir)
            .args(["--partitions", "2", "--request-timeout-ms", "5000"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("listening on "), "{line:?}");
        BrokerProc { child }
    }

    fn kill9(mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }

    fn stop(mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

fn payload(p: usize, seq: u64) -> Vec<u8> {
    let mut v = format!("p{p}:{seq:010}:").into_bytes();
    v.resize(120, b'.');
    v
}

fn parse(payload: &[u8]) -> Option<(usize, u64)> {
    let s = std::str::from_utf8(payload).ok()?;
    let mut it = s.split(':');
    let p = it.next()?.strip_prefix('p')?.parse().ok()?;
    let seq = it.next()?.parse().ok()?;
    Some((p, seq))
}

#[derive(Default)]
struct Tally {
    sent: AtomicU64,
    confirmed: Mutex<Vec<BTreeSet<u64>>>,
    unconfirmed: Mutex<Vec<BTreeSet<u64>>>,
    consumed: AtomicU64,
    consumer_errors: AtomicU64,
    garbage: AtomicU64,
    slow: AtomicU64,
}

/// Producer `p`: topic `soak-p` partition `p % 2`, batches of [`BATCH`], plain and gzip in
/// turn, each batch confirmed; a batch whose confirm fails is counted unconfirmed (in flight).
fn producer(p: usize, addr: SocketAddr, stop: &AtomicBool, t: &Tally) {
    let topic = format!("soak-{p}");
    let part = (p % 2) as i32;
    let mut seq = 0u64;
    let mut client: Option<Client> = None;
    while !stop.load(Ordering::Relaxed) {
        let c = match client.as_mut() {
            Some(c) => c,
            None => match Client::connect(addr) {
                Ok(c) => client.insert(c),
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
            },
        };
        let payloads: Vec<Vec<u8>> = (seq..seq + BATCH).map(|s| payload(p, s)).collect();
        let msgs: Vec<MessageRepr<&[u8]>> =
            payloads.iter().map(|v| MessageRepr::new(&v[..])).collect();
        let set = if (seq / BATCH) % 2 == 0 {
            kafka07::io::encode_messages(&payloads).unwrap()
        } else {
            kafka07::io::proto::wrap(Codec::Gzip, &msgs)
                .unwrap()
                .unwrap()
                .to_vec()
                .unwrap()
        };
        t.sent.fetch_add(BATCH, Ordering::Relaxed);
        let ok = c.produce(&topic, part, &set).is_ok() && c.confirm(&topic).is_ok();
        let target = if ok { &t.confirmed } else { &t.unconfirmed };
        target.lock().unwrap()[p].extend(seq..seq + BATCH);
        if !ok {
            client = None;
        }
        seq += BATCH;
        // About 4,000 messages a second a producer: a 10-minute soak writes about 1 GB.
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Follows every partition from 0, checking CRCs and order as it goes.
fn consumer(addr: SocketAddr, stop: &AtomicBool, t: &Tally) {
    let mut offsets = [0u64; PRODUCERS];
    let mut last = [None::<u64>; PRODUCERS];
    let mut scratch = vec![0u8; 1 << 20];
    while !stop.load(Ordering::Relaxed) {
        let Ok(mut c) = Client::connect(addr) else {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        'conn: while !stop.load(Ordering::Relaxed) {
            for p in 0..PRODUCERS {
                let Ok(f) = c.fetch(&format!("soak-{p}"), (p % 2) as i32, offsets[p], 256 << 10)
                else {
                    t.consumer_errors.fetch_add(1, Ordering::Relaxed);
                    break 'conn;
                };
                for m in MessageSet::new(&f.data, offsets[p])
                    .deep(&mut scratch, DecodeOptions::default())
                {
                    let m = m.expect("a consumer saw a corrupt message");
                    let (pp, seq) = parse(m.message.payload()).expect("a foreign payload");
                    assert_eq!(pp, p);
                    assert!(
                        last[p].is_none_or(|l| seq > l),
                        "out of order: {seq} after {:?}",
                        last[p]
                    );
                    last[p] = Some(seq);
                    offsets[p] = m.offset;
                    t.consumed.fetch_add(1, Ordering::Relaxed);
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Random bytes, random sizes (valid and hostile size fields), on fresh connections.
fn garbage(addr: SocketAddr, stop: &AtomicBool, t: &Tally, seed: u64) {
    let mut rng = fastrand::Rng::with_seed(seed);
    while !stop.load(Ordering::Relaxed) {
        let Ok(mut s) = TcpStream::connect(addr) else {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
        let len = rng.usize(1..4096);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
        match rng.u8(0..4) {
            0 if len >= 4 => bytes[..4].copy_from_slice(&((len - 4) as u32).to_be_bytes()),
            1 if len > 6 => {
                // A real request type id with a random body.
                bytes[..4].copy_from_slice(&((len - 4) as u32).to_be_bytes());
                bytes[4..6].copy_from_slice(&rng.u16(0..6).to_be_bytes());
            }
            _ => {}
        }
        let _ = s.write_all(&bytes);
        let mut sink = [0u8; 512];
        let _ = s.read(&mut sink);
        t.garbage.fetch_add(1, Ordering::Relaxed);
    }
}

/// Asks for everything of a partition and reads 1 KB every 100 ms for 3 s.
fn slow_reader(addr: SocketAddr, stop: &AtomicBool, t: &Tally) {
    while !stop.load(Ordering::Relaxed) {
        let Ok(mut s) = TcpStream::connect(addr) else {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
        let req = Request::Fetch(FetchRequest::new("soak-0", 0, 0, i32::MAX))
            .to_vec()
            .unwrap();
        if s.write_all(&req).is_err() {
            continue;
        }
        let mut buf = [0u8; 1024];
        for _ in 0..30 {
            if stop.load(Ordering::Relaxed) || !matches!(s.read(&mut buf), Ok(n) if n > 0) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        t.slow.fetch_add(1, Ordering::Relaxed);
    }
}

fn proc_status(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn fds(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count() as u64)
}

#[test]
#[ignore = "a soak of KAFKA07_SOAK_SECS seconds (default 600): run with --ignored"]
fn soak() {
    let secs: u64 = std::env::var("KAFKA07_SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600)
        .min(600);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("broker.log");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut broker = Some(BrokerProc::start(&data, port, &log));
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    *tally.confirmed.lock().unwrap() = vec![BTreeSet::new(); PRODUCERS];
    *tally.unconfirmed.lock().unwrap() = vec![BTreeSet::new(); PRODUCERS];
    let mut threads = Vec::new();
    for p in 0..PRODUCERS {
        let (s, t) = (stop.clone(), tally.clone());
        threads.push(std::thread::spawn(move || producer(p, addr, &s, &t)));
    }
    for i in 0..2u64 {
        let (s, t) = (stop.clone(), tally.clone());
        threads.push(std::thread::spawn(move || consumer(addr, &s, &t)));
        let (s, t) = (stop.clone(), tally.clone());
        threads.push(std::thread::spawn(move || garbage(addr, &s, &t, 7 + i)));
        let (s, t) = (stop.clone(), tally.clone());
        threads.push(std::thread::spawn(move || slow_reader(addr, &s, &t)));
    }
    let started = Instant::now();
    let end = started + Duration::from_secs(secs);
    let mut rng = fastrand::Rng::with_seed(42);
    let mut next_kill = started + Duration::from_secs(rng.u64(15..40));
    let (mut peak_rss, mut peak_fds, mut kills) = (0u64, 0u64, 0u32);
    while Instant::now() < end {
        let pid = broker.as_ref().unwrap().child.id();
        peak_rss = peak_rss.max(proc_status(pid, "VmRSS:"));
        peak_fds = peak_fds.max(fds(pid));
        if Instant::now() >= next_kill {
            broker.take().unwrap().kill9();
            kills += 1;
            std::thread::sleep(Duration::from_millis(rng.u64(0..500)));
            broker = Some(BrokerProc::start(&data, port, &log));
            next_kill = Instant::now() + Duration::from_secs(rng.u64(15..40));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("a soak thread failed");
    }
    broker.take().unwrap().stop();

    // The full check, from a fresh start on the same directory.
    let b = BrokerProc::start(&data, port, &log);
    let mut c = Client::connect(addr).unwrap();
    let mut scratch = vec![0u8; 1 << 20];
    let (mut stored, mut corrupt, mut dups, mut lost_confirmed, mut lost_in_flight) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let confirmed = tally.confirmed.lock().unwrap();
    let unconfirmed = tally.unconfirmed.lock().unwrap();
    for p in 0..PRODUCERS {
        let topic = format!("soak-{p}");
        let mut offset = 0u64;
        let mut seen = BTreeSet::new();
        let mut last = None;
        loop {
            let f = c.fetch(&topic, (p % 2) as i32, offset, 1 << 20).unwrap();
            if f.data.is_empty() {
                break;
            }
            let before = offset;
            for m in MessageSet::new(&f.data, offset).deep(&mut scratch, DecodeOptions::default()) {
                match m {
                    Ok(m) => {
                        offset = m.offset;
                        match parse(m.message.payload()) {
                            Some((pp, seq)) if pp == p => {
                                if !seen.insert(seq) {
                                    dups += 1;
                                }
                                assert!(last.is_none_or(|l| seq > l), "order broken in {topic}");
                                last = Some(seq);
                                stored += 1;
                            }
                            _ => corrupt += 1,
                        }
                    }
                    Err(_) => {
                        corrupt += 1;
                        break;
                    }
                }
            }
            if offset == before {
                break;
            }
        }
        lost_confirmed += confirmed[p].difference(&seen).count() as u64;
        lost_in_flight += unconfirmed[p].difference(&seen).count() as u64;
    }
    b.stop();
    let sent = tally.sent.load(Ordering::Relaxed);
    let n_confirmed: u64 = confirmed.iter().map(|s| s.len() as u64).sum();
    let n_unconfirmed: u64 = unconfirmed.iter().map(|s| s.len() as u64).sum();
    eprintln!(
        "soak {secs} s, {kills} kill -9 restarts: sent {sent}, confirmed {n_confirmed}, \
         unconfirmed (in flight at a kill) {n_unconfirmed}, stored {stored}, lost {} ({} of \
         them confirmed, {lost_in_flight} in flight), corrupt {corrupt}, duplicates {dups}; \
         consumed {} while running ({} consumer reconnects), {} garbage connections, {} slow \
         readers; broker peak RSS {} MiB, peak fds {peak_fds}",
        lost_confirmed + lost_in_flight,
        lost_confirmed,
        tally.consumed.load(Ordering::Relaxed),
        tally.consumer_errors.load(Ordering::Relaxed),
        tally.garbage.load(Ordering::Relaxed),
        tally.slow.load(Ordering::Relaxed),
        peak_rss / 1024,
    );
    assert_eq!(corrupt, 0);
    assert_eq!(dups, 0);
    assert_eq!(lost_confirmed, 0, "confirmed messages were lost");
    assert_eq!(stored + lost_in_flight, n_confirmed + n_unconfirmed);
    assert!(kills > 0 || secs < 15);
}
