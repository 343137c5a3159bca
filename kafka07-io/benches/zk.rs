//! ZooKeeper mode against static mode, on a real ZooKeeper (Debian's package, started by the
//! bench on 127.0.0.1 as the tests do) and three in-memory brokers with 4 partitions each:
//!
//! - `zk/produce/static` and `zk/produce/zookeeper`: 200-byte messages in batches of 50, each
//!   to a random one of the 12 partitions, then a confirm. Static mode is one
//!   [`Producer`] per broker, the partition picked by the bench; ZooKeeper mode is a
//!   [`ZkProducer`] (which holds the same per-broker producers and picks the partition from
//!   its ZooKeeper view). The ratio of the two is what ZooKeeper costs on the message path.
//! - `zk/produce/paired`: the same comparison as paired A/B rounds on one cluster (static and
//!   ZooKeeper mode back to back in each round), the median ratio printed; what BENCHMARKS.md
//!   quotes, as it does not move with the load of a shared machine.
//! - `zk/rebalance/leave`: a group of 3 consumers on the 12 partitions; one leaves (clean
//!   shutdown) and the time until the other two own all 12 (6 each) is measured.
//!
//! `cargo bench -p kafka07-io --features zookeeper --bench zk`

#[path = "../tests/zk_support/mod.rs"]
mod zk_support;

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kafka07_io::zk::{GroupConfig, GroupConsumer, ZkConfig, ZkProducer};
use kafka07_io::{Broker, BrokerConfig, Client, Producer, ProducerConfig};
use zk_support::{chroot, eventually, shared};

const MESSAGE: usize = 200;
const BATCH: usize = 50;
const TOPIC: &str = "bench";

fn payload() -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(42);
    (0..MESSAGE).map(|_| rng.alphanumeric() as u8).collect()
}

/// Three in-memory brokers registered under a fresh chroot, `TOPIC` created on each (4
/// partitions).
fn cluster(name: &str) -> (ZkConfig, Vec<Broker>) {
    let zk = ZkConfig::new(shared().connect(&chroot(name))).session_timeout(Duration::from_secs(6));
    let brokers: Vec<Broker> = (1..=3)
        .map(|id| {
            let b = Broker::start(
                BrokerConfig::in_memory()
                    .partitions(4)
                    .visible_on_append(true)
                    .log_file_size(64 << 20)
                    .zookeeper(zk.clone(), id),
            )
            .expect("broker starts");
            let mut c = Client::connect(b.local_addr()).unwrap();
            c.produce(TOPIC, 0, &kafka07_io::encode_messages(&["first"]).unwrap())
                .unwrap();
            c.confirm(TOPIC).unwrap();
            b
        })
        .collect();
    (zk, brokers)
}

fn zk_producer(zk: &ZkConfig) -> ZkProducer {
    let mut p = ZkProducer::connect(zk, ProducerConfig::default().batch_messages(BATCH))
        .expect("producer connects");
    eventually("12 partitions in the producer's view", || {
        (p.partitions(TOPIC).map(|l| l.len()).unwrap_or(0) == 12).then_some(())
    });
    p
}

fn produce(c: &mut Criterion) {
    if !zk_support::available("zk bench") {
        return;
    }
    let payload = payload();
    // A fresh in-memory cluster per case (each holds what its case wrote: a few hundred MB),
    // so neither case pays for the other's data.
    let (_zk, brokers) = cluster("bench-produce-static");
    let mut g = c.benchmark_group("zk/produce");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .sample_size(20)
        .throughput(Throughput::ElementsAndBytes {
            elements: BATCH as u64,
            bytes: (BATCH * MESSAGE) as u64,
        });
    let mut ps: Vec<Producer> = brokers
        .iter()
        .map(|b| {
            let mut p = Producer::new(
                b.local_addr(),
                ProducerConfig::default().batch_messages(BATCH),
            );
            p.client().connection().expect("connects");
            p
        })
        .collect();
    g.bench_function("static", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                for _ in 0..BATCH {
                    let i = fastrand::usize(..12);
                    ps[i / 4]
                        .send_to(TOPIC, (i % 4) as i32, &payload)
                        .expect("send");
                }
            }
            for p in &mut ps {
                p.confirm(TOPIC).expect("confirm");
            }
            start.elapsed()
        })
    });
    drop(ps);
    for b in brokers {
        b.shutdown().unwrap();
    }
    let (zk, brokers) = cluster("bench-produce-zk");
    let mut p = zk_producer(&zk);
    g.bench_function("zookeeper", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                for _ in 0..BATCH {
                    p.send(TOPIC, &payload).expect("send");
                }
            }
            p.confirm(TOPIC).expect("confirm");
            start.elapsed()
        })
    });
    g.finish();
    p.close().unwrap();
    for b in brokers {
        b.shutdown().unwrap();
    }
}

/// Paired A/B rounds on one cluster: in each round static mode and ZooKeeper mode send the
/// same number of messages to the same brokers, one right after the other (alternating which
/// goes first), and the round's ratio is taken. The median ratio of the rounds is robust to
/// the machine's load changing between criterion's (sequential) cases. Printed and written
/// to `target/criterion/zk_produce/paired.json`.
fn produce_paired(_c: &mut Criterion) {
    if !zk_support::available("zk bench") {
        return;
    }
    const ROUNDS: usize = 31;
    const PER_ROUND: usize = 50_000;
    let payload = payload();
    let (zk, brokers) = cluster("bench-produce-paired");
    let mut ps: Vec<Producer> = brokers
        .iter()
        .map(|b| {
            Producer::new(
                b.local_addr(),
                ProducerConfig::default().batch_messages(BATCH),
            )
        })
        .collect();
    let mut zp = zk_producer(&zk);
    let run_static = |ps: &mut Vec<Producer>| {
        let start = Instant::now();
        for _ in 0..PER_ROUND {
            let i = fastrand::usize(..12);
            ps[i / 4]
                .send_to(TOPIC, (i % 4) as i32, &payload)
                .expect("send");
        }
        for p in ps.iter_mut() {
            p.confirm(TOPIC).expect("confirm");
        }
        start.elapsed()
    };
    let run_zk = |zp: &mut ZkProducer| {
        let start = Instant::now();
        for _ in 0..PER_ROUND {
            zp.send(TOPIC, &payload).expect("send");
        }
        zp.confirm(TOPIC).expect("confirm");
        start.elapsed()
    };
    // Warm-up: connections, allocator, broker logs.
    run_static(&mut ps);
    run_zk(&mut zp);
    let mut ratios = Vec::with_capacity(ROUNDS);
    let (mut t_static, mut t_zk) = (Duration::ZERO, Duration::ZERO);
    for round in 0..ROUNDS {
        let (s, z) = if round % 2 == 0 {
            let s = run_static(&mut ps);
            (s, run_zk(&mut zp))
        } else {
            let z = run_zk(&mut zp);
            (run_static(&mut ps), z)
        };
        t_static += s;
        t_zk += z;
        // Throughput ratio ZooKeeper / static = time static / time ZooKeeper.
        ratios.push(s.as_secs_f64() / z.as_secs_f64());
    }
    ratios.sort_by(f64::total_cmp);
    let median = ratios[ROUNDS / 2];
    let msgs = (ROUNDS * PER_ROUND) as f64;
    let line = format!(
        "zk/produce/paired: {ROUNDS} rounds x {PER_ROUND} messages of {MESSAGE} bytes each way; \
         ZooKeeper / static throughput: median {median:.3} (min {:.3}, max {:.3}); static \
         {:.0} msg/s, ZooKeeper {:.0} msg/s overall",
        ratios[0],
        ratios[ROUNDS - 1],
        msgs / t_static.as_secs_f64(),
        msgs / t_zk.as_secs_f64(),
    );
    println!("{line}");
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/criterion/zk_produce");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(
        dir.join("paired.json"),
        format!(
            "{{\"rounds\": {ROUNDS}, \"per_round\": {PER_ROUND}, \"median_ratio\": {median:.4}, \
             \"ratios\": {ratios:?}}}\n"
        ),
    );
    zp.close().unwrap();
    for b in brokers {
        b.shutdown().unwrap();
    }
}

fn owned_counts(members: &[GroupConsumer]) -> Vec<usize> {
    members.iter().map(|m| m.owned().len()).collect()
}

fn rebalance(c: &mut Criterion) {
    if !zk_support::available("zk bench") {
        return;
    }
    let (zk, brokers) = cluster("bench-rebalance");
    let mut g = c.benchmark_group("zk/rebalance");
    g.warm_up_time(Duration::from_millis(100))
        .measurement_time(Duration::from_secs(15))
        .sample_size(10);
    let mut round = 0u32;
    g.bench_function("leave", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                round += 1;
                let group = format!("g{round}");
                let mut members: Vec<GroupConsumer> = (0..3)
                    .map(|i| {
                        GroupConsumer::start(
                            GroupConfig::new(zk.clone(), &group)
                                .topic(TOPIC, 1)
                                .consumer_id(format!("c{i}")),
                        )
                        .expect("member starts")
                    })
                    .collect();
                eventually("3 x 4 partitions owned", || {
                    (owned_counts(&members) == [4, 4, 4]).then_some(())
                });
                let leaving = members.pop().unwrap();
                let start = Instant::now();
                leaving.shutdown().expect("leaves");
                // Polled every millisecond (eventually() polls every 50).
                while owned_counts(&members) != [6, 6] {
                    assert!(start.elapsed() < zk_support::WAIT, "no rebalance");
                    std::thread::sleep(Duration::from_millis(1));
                }
                total += start.elapsed();
                for m in members {
                    m.shutdown().unwrap();
                }
            }
            total
        })
    });
    g.finish();
    for b in brokers {
        b.shutdown().unwrap();
    }
}

criterion_group!(benches, produce, produce_paired, rebalance);
criterion_main!(benches);
