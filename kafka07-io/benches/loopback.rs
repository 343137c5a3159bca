//! Loopback throughput against the in-process broker (in memory), in messages/s and MB/s:
//! produce with batches of 1 and 50 messages of 200 bytes (as in the 2011 Kafka paper's
//! producer test), and consume with 1 MiB fetches.
//!
//! `cargo bench -p kafka07-io --bench loopback` (a few seconds per case).

use std::hint::black_box;
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kafka07_io::{
    Broker, BrokerConfig, Consumer, ConsumerConfig, Producer, ProducerConfig, StartAt,
};

const MESSAGE: usize = 200;

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

fn produce(c: &mut Criterion) {
    let payload = payload();
    let mut g = c.benchmark_group("loopback/produce");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(10);
    for batch in [1usize, 50] {
        g.throughput(Throughput::ElementsAndBytes {
            elements: batch as u64,
            bytes: (batch * MESSAGE) as u64,
        });
        g.bench_function(format!("batch{batch}"), |b| {
            b.iter_custom(|iters| {
                // A fresh broker per sample keeps memory bounded.
                let broker = broker();
                let mut p = Producer::new(
                    broker.local_addr(),
                    ProducerConfig::default().batch_messages(batch),
                );
                p.client().connection().expect("connects");
                let start = Instant::now();
                for _ in 0..iters {
                    for _ in 0..batch {
                        p.send_to("bench", 0, &payload).expect("send");
                    }
                }
                // Wait until the broker has processed (and stored) everything.
                p.confirm("bench").expect("confirm");
                let t = start.elapsed();
                broker.shutdown().expect("shutdown");
                t
            })
        });
    }
    g.finish();
}

fn consume(c: &mut Criterion) {
    const COUNT: usize = 10_000;
    let payload = payload();
    let broker = broker();
    let mut p = Producer::new(
        broker.local_addr(),
        ProducerConfig::default().batch_messages(500),
    );
    for _ in 0..COUNT {
        p.send_to("bench", 0, &payload).expect("send");
    }
    p.confirm("bench").expect("confirm");

    let mut g = c.benchmark_group("loopback/consume");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(10);
    g.throughput(Throughput::ElementsAndBytes {
        elements: COUNT as u64,
        bytes: (COUNT * MESSAGE) as u64,
    });
    g.bench_function("fetch1MiB", |b| {
        let mut cons = Consumer::new(
            broker.local_addr(),
            "bench",
            0,
            ConsumerConfig::default()
                .fetch_size(1 << 20)
                .start(StartAt::Offset(0)),
        );
        b.iter(|| {
            cons.seek(0);
            let mut n = 0;
            while n < COUNT {
                cons.poll(|m| {
                    black_box(m.message.payload());
                    n += 1;
                    ControlFlow::Continue(())
                })
                .expect("poll");
            }
            n
        })
    });
    g.finish();
}

criterion_group!(benches, produce, consume);
criterion_main!(benches);
