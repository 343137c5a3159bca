//! Concurrency and fault tests: 8 producers × 10,000 messages consumed exactly once in
//! per-producer order; hostile clients (random bytes, half requests, disconnects mid-write,
//! bad CRCs) while good clients produce and consume, with nothing lost.

mod support;

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka07_io::proto::{Codec, ProduceRequest, Request};
use kafka07_io::{
    Backoff, Broker, BrokerConfig, Consumer, ConsumerConfig, Producer, ProducerConfig,
};
use support::*;

/// Reads a whole partition (bounded by count and time): payloads in log order.
fn drain(addr: SocketAddr, topic: &str, partition: i32, expect_at_most: usize) -> Vec<String> {
    let mut c = Consumer::new(
        addr,
        topic,
        partition,
        ConsumerConfig::default().backoff(Backoff::new(
            Duration::from_millis(1),
            Duration::from_millis(10),
        )),
    );
    let mut out = Vec::new();
    let deadline = Instant::now() + TIMEOUT;
    while out.len() <= expect_at_most && Instant::now() < deadline {
        let stats = c
            .poll_timeout(Duration::from_millis(50), |m| {
                out.push(String::from_utf8(m.message.payload().to_vec()).unwrap());
                ControlFlow::Continue(())
            })
            .unwrap();
        if stats.messages == 0 {
            break;
        }
    }
    out
}

/// Parses "p{producer}-{seq}" payloads and checks per-producer order within one partition.
fn check_partition_order(payloads: &[String], seen: &mut HashMap<(usize, usize), usize>) {
    let mut last: HashMap<usize, usize> = HashMap::new();
    for p in payloads {
        let (prod, seq) = p[1..].split_once('-').unwrap();
        let (prod, seq): (usize, usize) = (prod.parse().unwrap(), seq.parse().unwrap());
        if let Some(&prev) = last.get(&prod) {
            assert!(
                seq > prev,
                "producer {prod}: {seq} after {prev} in one partition"
            );
        }
        last.insert(prod, seq);
        *seen.entry((prod, seq)).or_default() += 1;
    }
}

#[test]
fn eight_concurrent_producers_every_message_exactly_once_in_order() {
    const PRODUCERS: usize = 8;
    const PER: usize = 10_000;
    const PARTITIONS: i32 = 4;
    let b = Broker::start(
        BrokerConfig::in_memory()
            .partitions(PARTITIONS as u32)
            .flush_interval_messages(200)
            .flush_interval(Duration::from_millis(20)),
    )
    .unwrap();
    let addr = b.local_addr();
    let started = Instant::now();
    let handles: Vec<_> = (0..PRODUCERS)
        .map(|id| {
            std::thread::spawn(move || {
                let codec = [Codec::None, Codec::Gzip, Codec::Snappy][id % 3];
                let mut p = Producer::new(
                    addr,
                    ProducerConfig::default().codec(codec).batch_messages(100),
                );
                for seq in 0..PER {
                    p.send("load", format!("p{id}-{seq}")).unwrap();
                }
                p.confirm("load").unwrap();
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    b.flush().unwrap();
    let mut seen = HashMap::new();
    let mut total = 0;
    for partition in 0..PARTITIONS {
        let payloads = drain(addr, "load", partition, PRODUCERS * PER);
        total += payloads.len();
        check_partition_order(&payloads, &mut seen);
    }
    assert_eq!(total, PRODUCERS * PER);
    assert_eq!(seen.len(), PRODUCERS * PER);
    assert!(seen.values().all(|&n| n == 1));
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[test]
fn hostile_clients_do_not_disturb_good_ones() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = BrokerConfig::on_disk(dir.path())
        .partitions(2)
        .flush_interval_messages(50)
        .flush_interval(Duration::from_millis(10));
    let b = Broker::start(cfg.clone()).unwrap();
    let addr = b.local_addr();
    let stop = Arc::new(AtomicBool::new(false));
    const GOOD: usize = 2;
    const PER: usize = 2000;

    // Good producers.
    let producers: Vec<_> = (0..GOOD)
        .map(|id| {
            std::thread::spawn(move || {
                let codec = if id == 0 { Codec::Gzip } else { Codec::None };
                let mut p = Producer::new(
                    addr,
                    ProducerConfig::default().codec(codec).batch_messages(20),
                );
                for seq in 0..PER {
                    p.send("good", format!("p{id}-{seq}")).unwrap();
                    if seq % 100 == 99 {
                        p.confirm("good").unwrap();
                    }
                }
                p.confirm("good").unwrap();
            })
        })
        .collect();

    // A good consumer following partition 0 while all this happens.
    let follower = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut c = Consumer::new(
                addr,
                "good",
                0,
                ConsumerConfig::default().backoff(Backoff::new(
                    Duration::from_millis(1),
                    Duration::from_millis(10),
                )),
            );
            let mut n = 0usize;
            let deadline = Instant::now() + TIMEOUT;
            while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
                c.poll_timeout(Duration::from_millis(20), |_| {
                    n += 1;
                    ControlFlow::Continue(())
                })
                .unwrap();
            }
            n
        })
    };

    // Hostile clients, each kind bounded by count and time.
    let hostile: Vec<_> = (0..4u64)
        .map(|kind| {
            std::thread::spawn(move || {
                let mut rng = fastrand::Rng::with_seed(kind);
                let deadline = Instant::now() + Duration::from_secs(5);
                let mut done = 0;
                while done < 60 && Instant::now() < deadline {
                    done += 1;
                    let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, TIMEOUT) else {
                        continue;
                    };
                    let evil = plain(&[format!("evil-{kind}-{done}").as_bytes()]);
                    let req = Request::Produce(ProduceRequest::new("good", 0, &evil))
                        .to_vec()
                        .unwrap();
                    let bytes: Vec<u8> = match kind {
                        // Random bytes.
                        0 => (0..rng.usize(1..300)).map(|_| rng.u8(..)).collect(),
                        // Half a request, then gone.
                        1 => req[..req.len() / 2].to_vec(),
                        // A bad CRC.
                        _ if kind == 2 => {
                            let mut r = req.clone();
                            let last = r.len() - 1;
                            r[last] ^= 0x55;
                            r
                        }
                        // A large request announced and cut mid-write.
                        _ => {
                            let big = vec![b'z'; 200_000];
                            let set = plain(&[&big]);
                            let r = Request::Produce(ProduceRequest::new("good", 1, &set))
                                .to_vec()
                                .unwrap();
                            r[..rng.usize(10..r.len() - 1)].to_vec()
                        }
                    };
                    let _ = s.write_all(&bytes);
                    drop(s);
                }
                done
            })
        })
        .collect();

    for h in producers {
        h.join().unwrap();
    }
    let hostile_done: usize = hostile.into_iter().map(|h| h.join().unwrap()).sum();
    assert!(hostile_done >= 4);
    b.flush().unwrap();
    // Let the follower catch up on partition 0, then stop it.
    let expected_p0 = drain(addr, "good", 0, GOOD * PER).len();
    stop.store(true, Ordering::SeqCst);
    let followed = follower.join().unwrap();
    assert!(followed <= expected_p0);

    let check = |addr| {
        let mut seen = HashMap::new();
        let mut total = 0;
        for partition in 0..2 {
            let payloads = drain(addr, "good", partition, GOOD * PER + 100);
            assert!(
                payloads.iter().all(|p| p.starts_with('p')),
                "a hostile message got in"
            );
            total += payloads.len();
            check_partition_order(&payloads, &mut seen);
        }
        assert_eq!(total, GOOD * PER);
        assert_eq!(seen.len(), GOOD * PER);
    };
    check(addr);
    assert!(b.stats().closed_by_broker > 0);
    // Nothing stored was corrupted: a restart (with recovery) finds the same data.
    b.abort();
    let b = Broker::start(cfg).unwrap();
    assert_eq!(b.startup_report().truncated_bytes(), 0);
    b.flush().unwrap();
    check(b.local_addr());
}
