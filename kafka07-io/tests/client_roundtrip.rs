//! Client, producer and consumer against the embedded broker over loopback: plain, gzip and
//! snappy; MULTIPRODUCE and MULTIFETCH; OFFSETS by time (and the spec §7 vector); client-side
//! errors.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::ops::ControlFlow;
use std::time::Duration;

use kafka07_io::proto::{Codec, ProduceRequest};
use kafka07_io::{
    Backoff, Broker, BrokerConfig, BrokerList, Client, Connection, ConnectionConfig, Consumer,
    ConsumerConfig, Error, FetchSpec, OffsetTime, Partitioning, Producer, ProducerConfig, StartAt,
};
use support::*;

fn consume_all(
    addr: std::net::SocketAddr,
    topic: &str,
    partition: i32,
    n: usize,
) -> Vec<(u64, Vec<u8>)> {
    let mut c = Consumer::new(addr, topic, partition, ConsumerConfig::default());
    c.take(n, TIMEOUT)
        .unwrap()
        .into_iter()
        .map(|m| (m.offset, m.payload))
        .collect()
}

fn roundtrip(codec: Codec) {
    let b = broker();
    let mut p = Producer::new(
        b.local_addr(),
        ProducerConfig::default().codec(codec).batch_messages(7),
    );
    let sent: Vec<Vec<u8>> = (0..100)
        .map(|i| format!("{codec} message {i}").into_bytes())
        .collect();
    for m in &sent {
        p.send_to("rt", 0, m).unwrap();
    }
    p.confirm("rt").unwrap();
    assert_eq!(p.stats().messages, 100);
    let got = consume_all(b.local_addr(), "rt", 0, 100);
    let payloads: Vec<Vec<u8>> = got.iter().map(|(_, p)| p.clone()).collect();
    assert_eq!(payloads, sent);
    // Offsets never go backwards, and the last is the log end.
    assert!(got.windows(2).all(|w| w[0].0 <= w[1].0));
    let end = Client::connect(b.local_addr())
        .unwrap()
        .offsets("rt", 0, OffsetTime::Latest, 1)
        .unwrap();
    assert_eq!(got.last().unwrap().0, end[0]);
    // Shallow structure: one wrapper per batch of 7 when compressed.
    let f = Client::connect(b.local_addr())
        .unwrap()
        .fetch("rt", 0, 0, 1 << 20)
        .unwrap();
    let entries = f.message_set().shallow().count();
    assert_eq!(entries, if codec == Codec::None { 100 } else { 15 });
}

#[test]
fn produce_and_consume_plain() {
    roundtrip(Codec::None);
}

#[test]
fn produce_and_consume_gzip() {
    roundtrip(Codec::Gzip);
}

#[test]
fn produce_and_consume_snappy() {
    roundtrip(Codec::Snappy);
}

#[test]
fn multiproduce_and_multifetch() {
    let b = Broker::start(
        BrokerConfig::in_memory()
            .partitions(2)
            .visible_on_append(true),
    )
    .unwrap();
    let mut c = Client::connect(b.local_addr()).unwrap();
    let (a0, a1, bb) = (
        plain(&[b"a0"]),
        plain(&[b"a1", b"a1'"]),
        wrapped(Codec::Gzip, &[b"b", b"b'"]),
    );
    c.multiproduce(&[
        ProduceRequest::new("a", 0, &a0),
        ProduceRequest::new("a", 1, &a1),
        ProduceRequest::new("b", 0, &bb),
    ])
    .unwrap();
    c.confirm("a").unwrap();
    let parts = c
        .multifetch(&[
            FetchSpec::new("a", 0, 0, 1024),
            FetchSpec::new("a", 1, 0, 1024),
            FetchSpec::new("b", 0, 0, 1024),
            FetchSpec::new("b", 0, 1000, 1024),
        ])
        .unwrap();
    assert_eq!(parts.len(), 4);
    assert_eq!(parts[0].data, a0);
    assert_eq!(
        parts[1].payloads().unwrap(),
        [b"a1".to_vec(), b"a1'".to_vec()]
    );
    assert_eq!(
        parts[2].payloads().unwrap(),
        [b"b".to_vec(), b"b'".to_vec()]
    );
    assert_eq!(parts[3].error.0, 1);
    assert!(parts[3].clone().check().is_err());
}

#[test]
fn producer_multiproduces_several_partitions_in_one_flush() {
    let b = Broker::start(
        BrokerConfig::in_memory()
            .partitions(3)
            .visible_on_append(true),
    )
    .unwrap();
    let mut p = Producer::new(b.local_addr(), ProducerConfig::default().codec(Codec::Gzip));
    for i in 0..30 {
        p.send_to("m", i % 3, format!("{i}")).unwrap();
    }
    assert_eq!(p.buffered(), 30);
    p.confirm("m").unwrap();
    assert_eq!(p.stats().requests, 1);
    for part in 0..3 {
        let got = consume_all(b.local_addr(), "m", part, 10);
        let want: Vec<Vec<u8>> = (0..30)
            .filter(|i| i % 3 == part)
            .map(|i| format!("{i}").into_bytes())
            .collect();
        assert_eq!(got.into_iter().map(|(_, p)| p).collect::<Vec<_>>(), want);
    }
}

#[test]
fn producer_keyed_partitioner_is_stable() {
    let b = Broker::start(
        BrokerConfig::in_memory()
            .partitions(4)
            .visible_on_append(true),
    )
    .unwrap();
    let part = kafka07_io::HashPartitioner { partitions: 4 };
    let mut p = Producer::new(
        b.local_addr(),
        ProducerConfig::default().partitioning(Partitioning::Custom(std::sync::Arc::new(part))),
    );
    for i in 0..40 {
        p.send_keyed("k", format!("key{}", i % 5).as_bytes(), format!("{i}"))
            .unwrap();
    }
    p.confirm("k").unwrap();
    let mut total = 0;
    for partition in 0..4 {
        let f = Client::connect(b.local_addr())
            .unwrap()
            .fetch("k", partition, 0, 1 << 20)
            .unwrap();
        for payload in f.payloads().unwrap() {
            let i: usize = String::from_utf8(payload).unwrap().parse().unwrap();
            let key = format!("key{}", i % 5);
            use kafka07_io::Partitioner;
            assert_eq!(part.partition("k", Some(key.as_bytes())), partition);
            total += 1;
        }
    }
    assert_eq!(total, 40);
}

#[test]
fn producer_refuses_oversized_payloads_client_side() {
    // SyncProducerTest: a 101-byte payload with max.message.size 100 is rejected.
    let b = broker();
    let mut p = Producer::new(
        b.local_addr(),
        ProducerConfig::default().max_message_size(100),
    );
    let err = p.send_to("t", 0, [b'x'; 101]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::MessageTooLarge {
                size: 101,
                max: 100
            }
        ),
        "{err}"
    );
    p.send_to("t", 0, [b'x'; 100]).unwrap();
    p.confirm("t").unwrap();
}

#[test]
fn producer_splits_compressed_runs_to_fit_max_message_size() {
    let b = broker();
    let max = 2_000;
    let mut p = Producer::new(
        b.local_addr(),
        ProducerConfig::default()
            .codec(Codec::Gzip)
            .max_message_size(max)
            .batch_messages(1000),
    );
    // Incompressible payloads: 50 × 200 bytes cannot fit one 2,000-byte wrapper.
    let mut rng = fastrand::Rng::with_seed(7);
    let sent: Vec<Vec<u8>> = (0..50)
        .map(|_| (0..200).map(|_| rng.u8(..)).collect())
        .collect();
    for m in &sent {
        p.send_to("s", 0, m).unwrap();
    }
    p.confirm("s").unwrap();
    let f = Client::connect(b.local_addr())
        .unwrap()
        .fetch("s", 0, 0, 1 << 20)
        .unwrap();
    let wrappers: Vec<usize> = f
        .message_set()
        .shallow()
        .map(|m| m.unwrap().message.payload().len())
        .collect();
    assert!(
        wrappers.len() > 1 && wrappers.iter().all(|&n| n <= max),
        "{wrappers:?}"
    );
    assert_eq!(f.payloads().unwrap(), sent);
    // A single message whose wrapper alone exceeds the limit is refused.
    let mut p = Producer::new(
        b.local_addr(),
        ProducerConfig::default()
            .codec(Codec::Gzip)
            .max_message_size(100),
    );
    p.send_to("s", 0, &sent[0]).unwrap();
    assert!(matches!(
        p.flush(),
        Err(Error::MessageTooLarge { max: 100, .. })
    ));
}

#[test]
fn offsets_spec_section7_vector() {
    // 20 appends of a 12-byte entry, log.file.size 100, flush interval 1 (spec §7).
    let dir = tempfile::tempdir().unwrap();
    let b = Broker::start(
        BrokerConfig::on_disk(dir.path())
            .log_file_size(100)
            .flush_interval_messages(1),
    )
    .unwrap();
    let mut c = Client::connect(b.local_addr()).unwrap();
    let entry = plain(&[b"ab"]);
    assert_eq!(entry.len(), 12);
    for _ in 0..20 {
        c.produce("vec", 0, &entry).unwrap();
    }
    c.confirm("vec").unwrap();
    let mut names: Vec<String> = std::fs::read_dir(dir.path().join("vec-0"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "00000000000000000000.kafka",
            "00000000000000000108.kafka",
            "00000000000000000216.kafka"
        ]
    );
    assert_eq!(
        c.offsets("vec", 0, OffsetTime::Latest, 10).unwrap(),
        [240, 216, 108, 0]
    );
    assert_eq!(c.offsets("vec", 0, OffsetTime::Earliest, 10).unwrap(), [0]);
    let t = now_ms();
    // The log-end pair is stamped with the broker's clock at request time: wait for a later ms.
    assert!(wait_until(|| now_ms() > t));
    assert_eq!(
        c.offsets("vec", 0, OffsetTime::Before(t), 10).unwrap(),
        [216, 108, 0]
    );
    assert_eq!(
        c.offsets("vec", 0, OffsetTime::Before(0), 10).unwrap(),
        Vec::<u64>::new()
    );
    // A partition without a log: [0], [0], [] and no directory.
    let b2 = Broker::start(BrokerConfig::on_disk(dir.path().join("other")).partitions(2)).unwrap();
    let mut c2 = Client::connect(b2.local_addr()).unwrap();
    assert_eq!(c2.offsets("vec", 1, OffsetTime::Latest, 10).unwrap(), [0]);
    assert_eq!(c2.offsets("vec", 1, OffsetTime::Earliest, 10).unwrap(), [0]);
    assert_eq!(
        c2.offsets("vec", 1, OffsetTime::Before(t), 10).unwrap(),
        Vec::<u64>::new()
    );
    assert!(!dir.path().join("other/vec-1").exists());
}

#[test]
fn offsets_by_time_follow_segment_mtimes() {
    let dir = tempfile::tempdir().unwrap();
    let b = Broker::start(
        BrokerConfig::on_disk(dir.path())
            .log_file_size(10)
            .flush_interval_messages(1),
    )
    .unwrap();
    let mut c = Client::connect(b.local_addr()).unwrap();
    c.produce("tm", 0, &plain(&[b"first"])).unwrap();
    c.confirm("tm").unwrap();
    // Set the first segment's mtime to the past, as a segment written long ago would have.
    let seg0 = dir.path().join("tm-0/00000000000000000000.kafka");
    let old = std::time::SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&seg0)
        .unwrap()
        .set_modified(old)
        .unwrap();
    c.produce("tm", 0, &plain(&[b"second"])).unwrap();
    c.confirm("tm").unwrap();
    let half_hour_ago = now_ms() - 1_800_000;
    assert_eq!(
        c.offsets("tm", 0, OffsetTime::Before(half_hour_ago), 10)
            .unwrap(),
        [0]
    );
    // A consumer starting at that time reads from the old segment on.
    let mut cons = Consumer::new(
        b.local_addr(),
        "tm",
        0,
        ConsumerConfig::default().start(StartAt::Time(half_hour_ago)),
    );
    let got = cons.take(2, TIMEOUT).unwrap();
    assert_eq!(
        got.iter().map(|m| m.payload.clone()).collect::<Vec<_>>(),
        [b"first".to_vec(), b"second".to_vec()]
    );
    // Starting before everything: earliest.
    let mut cons = Consumer::new(
        b.local_addr(),
        "tm",
        0,
        ConsumerConfig::default().start(StartAt::Time(0)),
    );
    assert_eq!(cons.take(1, TIMEOUT).unwrap()[0].payload, b"first");
}

#[test]
fn consumer_start_latest_sees_only_new_messages() {
    let b = broker();
    let mut c = Client::connect(b.local_addr()).unwrap();
    c.produce("l", 0, &plain(&[b"old"])).unwrap();
    c.confirm("l").unwrap();
    let mut cons = Consumer::new(
        b.local_addr(),
        "l",
        0,
        ConsumerConfig::default().start(StartAt::Latest),
    );
    assert_eq!(cons.position().unwrap(), 13);
    c.produce("l", 0, &plain(&[b"new"])).unwrap();
    c.confirm("l").unwrap();
    let got = cons.take(5, Duration::from_millis(200)).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].payload, b"new");
}

#[test]
fn consumer_resets_after_offset_out_of_range() {
    let b = broker();
    let mut c = Client::connect(b.local_addr()).unwrap();
    c.produce("r", 0, &plain(&[b"a", b"b"])).unwrap();
    c.confirm("r").unwrap();
    let mut cons = Consumer::new(
        b.local_addr(),
        "r",
        0,
        ConsumerConfig::default().start(StartAt::Offset(999)),
    );
    let stats = cons.poll(|_| ControlFlow::Continue(())).unwrap();
    assert!(stats.reset);
    assert_eq!(cons.offset(), Some(0));
    assert_eq!(cons.take(2, TIMEOUT).unwrap().len(), 2);
    let mut strict = Consumer::new(
        b.local_addr(),
        "r",
        0,
        ConsumerConfig::default()
            .start(StartAt::Offset(999))
            .on_out_of_range(kafka07_io::OffsetReset::Error),
    );
    let err = strict.poll(|_| ControlFlow::Continue(())).unwrap_err();
    assert_eq!(err.code().map(|c| c.0), Some(1));
}

#[test]
fn client_fetch_reports_broker_codes_as_errors() {
    let b = broker();
    let mut c = Client::connect(b.local_addr()).unwrap();
    let err = c.fetch("t", 5, 0, 100).unwrap_err();
    assert!(matches!(err, Error::Broker { partition: 5, .. }), "{err}");
    assert_eq!(err.code().unwrap().0, 3);
    assert!(err.to_string().contains("WrongPartition"), "{err}");
}

#[test]
fn client_sees_closed_connection_after_a_rejected_produce_and_reconnects() {
    let b = broker();
    let mut c = Client::connect(b.local_addr()).unwrap();
    c.produce("t", 7, &plain(&[b"x"])).unwrap(); // partition out of range: broker closes
    let err = c.confirm("t").unwrap_err();
    assert!(matches!(err, Error::Closed { .. }), "{err}");
    // The next request reconnects.
    c.produce("t", 0, &plain(&[b"y"])).unwrap();
    c.confirm("t").unwrap();
    assert_eq!(
        c.fetch("t", 0, 0, 100).unwrap().payloads().unwrap(),
        [b"y".to_vec()]
    );
}

#[test]
fn connect_refused_is_a_clear_error() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = Connection::connect(("127.0.0.1", port), &ConnectionConfig::default()).unwrap_err();
    assert!(matches!(err, Error::ConnectRefused { .. }), "{err}");
    assert!(err.to_string().contains("refused"));
}

#[test]
fn read_timeout_is_a_clear_error() {
    // A server that accepts and never answers.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let cfg = ConnectionConfig::default().read_timeout(Duration::from_millis(100));
    let mut conn = Connection::connect(addr, &cfg).unwrap();
    let (_held, _) = l.accept().unwrap();
    conn.send(&kafka07_io::proto::Request::Fetch(
        kafka07_io::proto::FetchRequest::new("t", 0, 0, 10),
    ))
    .unwrap();
    let err = conn.recv().unwrap_err();
    assert!(matches!(err, Error::Timeout { op: "read", .. }), "{err}");
    assert!(!conn.is_usable());
}

#[test]
fn response_larger_than_the_limit_is_a_clear_error() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut req = [0u8; 28];
        s.read_exact(&mut req).unwrap();
        s.write_all(&[0x10, 0, 0, 0, 0, 0]).unwrap(); // announces 256 MiB
    });
    let cfg = ConnectionConfig::default().max_response(1 << 20);
    let mut conn = Connection::connect(addr, &cfg).unwrap();
    conn.send(&kafka07_io::proto::Request::Fetch(
        kafka07_io::proto::FetchRequest::new("test", 0, 0, 10),
    ))
    .unwrap();
    let err = conn.recv().unwrap_err();
    assert!(
        matches!(
            err,
            Error::ResponseTooLarge {
                size: 268_435_456,
                limit: 1_048_576
            }
        ),
        "{err}"
    );
    server.join().unwrap();
}

#[test]
fn each_request_is_written_in_one_piece() {
    // A server that reads whatever the first read returns: the whole request must be there.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        let mut buf = vec![0u8; 4096];
        let n = s.read(&mut buf).unwrap();
        buf.truncate(n);
        buf
    });
    let mut c = Client::new(BrokerList::single(addr));
    c.produce("test", 0, &plain(&[b"testing"])).unwrap();
    let first_read = server.join().unwrap();
    let want =
        kafka07_io::proto::Request::Produce(ProduceRequest::new("test", 0, &plain(&[b"testing"])))
            .to_vec()
            .unwrap();
    assert_eq!(first_read, want);
}

#[test]
fn broker_list_fails_over_to_the_next_broker() {
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let b = broker();
    let list = BrokerList::new([dead.to_string(), b.local_addr().to_string()]).backoff(
        Backoff::new(Duration::from_millis(1), Duration::from_millis(5)),
    );
    let mut c = Client::new(list);
    c.produce("f", 0, &plain(&[b"x"])).unwrap();
    c.confirm("f").unwrap();
    assert_eq!(
        c.brokers().current(),
        Some(b.local_addr().to_string().as_str())
    );
    assert_eq!(c.brokers().failovers(), 1);
}

#[test]
fn client_reconnects_after_broker_restart_with_backoff() {
    let dir = tempfile::tempdir().unwrap();
    let b = Broker::start(BrokerConfig::on_disk(dir.path()).visible_on_append(true)).unwrap();
    let addr = b.local_addr();
    let list = BrokerList::single(addr)
        .backoff(Backoff::new(
            Duration::from_millis(5),
            Duration::from_millis(50),
        ))
        .max_rounds(50);
    let mut c = Client::new(list);
    c.produce("rs", 0, &plain(&[b"before"])).unwrap();
    c.confirm("rs").unwrap();
    b.shutdown().unwrap();
    // A new broker on the same port (it may take a moment for the port to be free again).
    let mut b2 = None;
    assert!(wait_until(|| {
        b2 = Broker::start(
            BrokerConfig::on_disk(dir.path())
                .visible_on_append(true)
                .listen(addr),
        )
        .ok();
        b2.is_some()
    }));
    // The old connection is dead; fetch is retried once on a new connection.
    let f = c.fetch("rs", 0, 0, 1024).unwrap();
    assert_eq!(f.payloads().unwrap(), [b"before".to_vec()]);
}
