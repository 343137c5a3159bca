//! The streaming consumer: messages handed out while the response is still arriving, resume
//! offsets exactly as the reference (mid-wrapper resume re-delivers the wrapper), fetch-size
//! growth, follow mode while a partition is written.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::ops::ControlFlow;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kafka07_io::proto::{Codec, FetchResponse, Response};
use kafka07_io::{
    Backoff, Broker, BrokerConfig, Client, Consumer, ConsumerConfig, Error, Producer,
    ProducerConfig, StartAt,
};
use support::*;

#[test]
fn messages_are_handed_out_before_the_response_is_complete() {
    // A fake broker sends the first half of a FETCH response, then waits until the consumer
    // has handed out the messages in it before sending the rest. A consumer that waited for
    // the whole response would never see them, and the server would give up.
    let payloads: Vec<Vec<u8>> = (0..200)
        .map(|i| format!("message {i:04}").into_bytes())
        .collect();
    let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
    let set = plain(&refs);
    let response = Response::Fetch(FetchResponse {
        error: kafka07_io::proto::ErrorCode::NO_ERROR,
        messages: &set,
    })
    .to_vec()
    .unwrap();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let (seen_tx, seen_rx) = mpsc::channel::<usize>();
    let server = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut req = vec![0u8; 25]; // FETCH "t"
        s.read_exact(&mut req).unwrap();
        let half = response.len() / 2;
        s.write_all(&response[..half]).unwrap();
        s.flush().unwrap();
        // Wait (bounded) for the consumer to report messages from the first half.
        let got = seen_rx
            .recv_timeout(TIMEOUT)
            .expect("no message before the rest was sent");
        s.write_all(&response[half..]).unwrap();
        got
    });
    let mut c = Consumer::new(
        addr,
        "t",
        0,
        ConsumerConfig::default().start(StartAt::Offset(0)),
    );
    let mut n = 0;
    let mut signalled = false;
    let mut got = Vec::new();
    let started = Instant::now();
    let stats = c
        .poll(|m| {
            n += 1;
            got.push(m.message.payload().to_vec());
            if n == 50 && !signalled {
                signalled = true;
                seen_tx.send(n).unwrap();
            }
            ControlFlow::Continue(())
        })
        .unwrap();
    assert!(started.elapsed() < TIMEOUT);
    assert_eq!(server.join().unwrap(), 50);
    assert_eq!(stats.messages, 200);
    assert_eq!(got, payloads);
    assert_eq!(c.offset(), Some(set.len() as u64));
}

#[test]
fn mid_wrapper_resume_redelivers_the_whole_wrapper() {
    // Spec §5.3: a consumer that stops after the 3rd of 10 messages in a compressed wrapper has
    // the wrapper's start as its offset; after a restart the whole wrapper comes again.
    let dir = tempfile::tempdir().unwrap();
    let b = Broker::start(BrokerConfig::on_disk(dir.path()).visible_on_append(true)).unwrap();
    let mut c = Client::connect(b.local_addr()).unwrap();
    let first = plain(&[b"before"]);
    c.produce("w", 0, &first).unwrap();
    let inner: Vec<Vec<u8>> = (0..10).map(|i| format!("inner {i}").into_bytes()).collect();
    let refs: Vec<&[u8]> = inner.iter().map(Vec::as_slice).collect();
    let wrapper = wrapped(Codec::Gzip, &refs);
    c.produce("w", 0, &wrapper).unwrap();
    c.produce("w", 0, &plain(&[b"after"])).unwrap();
    c.confirm("w").unwrap();
    let w_start = first.len() as u64;
    let w_end = w_start + wrapper.len() as u64;

    let mut cons = Consumer::new(b.local_addr(), "w", 0, ConsumerConfig::default());
    let mut got = Vec::new();
    cons.poll(|m| {
        got.push((m.offset, m.message.payload().to_vec()));
        if got.len() == 4 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .unwrap();
    assert_eq!(got[0], (w_start, b"before".to_vec()));
    // Inner messages but the last carry the wrapper's start.
    assert!(got[1..].iter().all(|(o, _)| *o == w_start), "{got:?}");
    let saved = cons.offset().unwrap();
    assert_eq!(saved, w_start);
    drop(cons);

    // "Crash" and restart the broker; resume from the saved offset.
    b.abort();
    let b = Broker::start(BrokerConfig::on_disk(dir.path()).visible_on_append(true)).unwrap();
    let mut cons = Consumer::new(
        b.local_addr(),
        "w",
        0,
        ConsumerConfig::default().start(StartAt::Offset(saved)),
    );
    let again = cons.take(11, TIMEOUT).unwrap();
    let payloads: Vec<Vec<u8>> = again.iter().map(|m| m.payload.clone()).collect();
    assert_eq!(payloads, [inner.clone(), vec![b"after".to_vec()]].concat());
    let offsets: Vec<u64> = again.iter().map(|m| m.offset).collect();
    assert_eq!(&offsets[..9], &[w_start; 9]);
    assert_eq!(offsets[9], w_end);
    assert_eq!(offsets[10], w_end + 15);

    // Stopping after the wrapper's last message saves the position after it: no duplicates.
    let mut cons = Consumer::new(
        b.local_addr(),
        "w",
        0,
        ConsumerConfig::default().start(StartAt::Offset(saved)),
    );
    assert_eq!(cons.take(10, TIMEOUT).unwrap().len(), 10);
    assert_eq!(cons.offset(), Some(w_end));
    let rest = cons.take(5, Duration::from_millis(200)).unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].payload, b"after");
}

#[test]
fn consumer_resumes_after_a_restart_without_loss_or_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let b = Broker::start(BrokerConfig::on_disk(dir.path()).visible_on_append(true)).unwrap();
    let mut p = Producer::new(b.local_addr(), ProducerConfig::default().batch_messages(10));
    for i in 0..100 {
        p.send_to("res", 0, format!("{i}")).unwrap();
    }
    p.confirm("res").unwrap();
    let mut cons = Consumer::new(b.local_addr(), "res", 0, ConsumerConfig::default());
    let part1 = cons.take(37, TIMEOUT).unwrap();
    let saved = cons.offset().unwrap();
    b.shutdown().unwrap();
    let b = Broker::start(BrokerConfig::on_disk(dir.path()).visible_on_append(true)).unwrap();
    let mut cons = Consumer::new(
        b.local_addr(),
        "res",
        0,
        ConsumerConfig::default().start(StartAt::Offset(saved)),
    );
    let part2 = cons.take(100, Duration::from_millis(300)).unwrap();
    let all: Vec<String> = part1
        .into_iter()
        .chain(part2)
        .map(|m| String::from_utf8(m.payload).unwrap())
        .collect();
    assert_eq!(all, (0..100).map(|i| i.to_string()).collect::<Vec<_>>());
}

#[test]
fn fetch_size_grows_when_a_message_does_not_fit() {
    let b = broker();
    let mut c = Client::connect(b.local_addr()).unwrap();
    let big = vec![7u8; 50_000];
    c.produce("big", 0, &plain(&[b"small", &big, b"tail"]))
        .unwrap();
    c.confirm("big").unwrap();
    let mut cons = Consumer::new(
        b.local_addr(),
        "big",
        0,
        ConsumerConfig::default().fetch_size(1000),
    );
    let got = cons.take(3, TIMEOUT).unwrap();
    assert_eq!(got.len(), 3);
    assert_eq!(got[1].payload, big);
    assert_eq!(got[2].payload, b"tail");
    assert!(
        cons.fetch_size() >= 50_010,
        "fetch size {}",
        cons.fetch_size()
    );
}

#[test]
fn a_first_entry_cut_by_the_log_end_is_an_error_not_a_loop() {
    // Fetching at a mid-message offset: the bytes there read as an entry longer than what
    // the log holds. Growing the fetch size cannot help, so the consumer must fail promptly
    // instead of repeating the fetch forever.
    let b = broker();
    let mut c = Client::connect(b.local_addr()).unwrap();
    c.produce("mid", 0, &plain(&[&[0x7f; 40], b"b"])).unwrap();
    c.confirm("mid").unwrap();
    // At offset 10 the "length" is 0x7f7f7f7f.
    let mut cons = Consumer::new(
        b.local_addr(),
        "mid",
        0,
        ConsumerConfig::default().start(StartAt::Offset(10)),
    );
    let started = Instant::now();
    let err = cons.poll(|_| ControlFlow::Continue(())).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    let Error::Protocol(e) = err else {
        panic!("{err}")
    };
    assert!(
        matches!(
            e.kind(),
            kafka07_io::proto::ErrorKind::MessageLargerThanFetch {
                needed: 0x7f7f_7f83,
                available: 51,
            }
        ),
        "{e}"
    );
    assert_eq!(cons.fetch_size(), 1 << 20, "the fetch size did not grow");
}

#[test]
fn a_message_larger_than_the_maximum_fetch_size_is_an_error() {
    let b = broker();
    let mut c = Client::connect(b.local_addr()).unwrap();
    c.produce("big", 0, &plain(&[&[1u8; 5000]])).unwrap();
    c.confirm("big").unwrap();
    let mut cons = Consumer::new(
        b.local_addr(),
        "big",
        0,
        ConsumerConfig::default()
            .fetch_size(100)
            .max_fetch_size(4096),
    );
    let err = cons.poll(|_| ControlFlow::Continue(())).unwrap_err();
    assert!(
        matches!(
            err,
            Error::FetchSizeExceeded {
                needed: 5010,
                max: 4096
            }
        ),
        "{err}"
    );
    // The connection stayed usable (the response was drained) and the position did not move.
    assert_eq!(cons.offset(), Some(0));
    assert_eq!(
        cons.client()
            .offsets("big", 0, kafka07_io::OffsetTime::Latest, 1)
            .unwrap(),
        [5010]
    );
}

#[test]
fn large_compressed_wrappers_grow_the_scratch() {
    let b = broker();
    let mut p = Producer::new(
        b.local_addr(),
        ProducerConfig::default()
            .codec(Codec::Snappy)
            .batch_messages(10_000),
    );
    // About 2 MiB of compressible data in one wrapper (more than the initial scratch).
    for i in 0..2000 {
        p.send_to("z", 0, format!("{i:04}").repeat(256)).unwrap();
    }
    p.confirm("z").unwrap();
    let mut cons = Consumer::new(b.local_addr(), "z", 0, ConsumerConfig::default());
    let got = cons.take(2000, TIMEOUT).unwrap();
    assert_eq!(got.len(), 2000);
    assert_eq!(got[1999].payload, "1999".repeat(256).into_bytes());
}

#[test]
fn consumer_reads_a_partition_while_it_is_written() {
    let b = Broker::start(
        BrokerConfig::in_memory()
            .flush_interval_messages(50)
            .flush_interval(Duration::from_millis(10)),
    )
    .unwrap();
    let addr = b.local_addr();
    const N: usize = 3000;
    let writer = std::thread::spawn(move || {
        let mut p = Producer::new(
            addr,
            ProducerConfig::default()
                .codec(Codec::Gzip)
                .batch_messages(25),
        );
        for i in 0..N {
            p.send_to("live", 0, format!("{i}")).unwrap();
            if i % 500 == 0 {
                p.flush().unwrap();
            }
        }
        p.confirm("live").unwrap();
    });
    let mut cons = Consumer::new(
        addr,
        "live",
        0,
        ConsumerConfig::default()
            .fetch_size(4096)
            .backoff(Backoff::new(
                Duration::from_millis(1),
                Duration::from_millis(20),
            )),
    );
    let mut got = Vec::new();
    let deadline = Instant::now() + TIMEOUT;
    let mut polls = 0;
    while got.len() < N && Instant::now() < deadline {
        polls += 1;
        cons.poll_timeout(Duration::from_millis(200), |m| {
            got.push(String::from_utf8(m.message.payload().to_vec()).unwrap());
            ControlFlow::Continue(())
        })
        .unwrap();
    }
    writer.join().unwrap();
    assert_eq!(got, (0..N).map(|i| i.to_string()).collect::<Vec<_>>());
    assert!(polls > 1);
}

#[test]
fn follow_mode_times_out_with_no_data() {
    let b = broker();
    let mut cons = Consumer::new(b.local_addr(), "quiet", 0, ConsumerConfig::default());
    let t = Instant::now();
    let stats = cons
        .poll_timeout(Duration::from_millis(100), |_| ControlFlow::Continue(()))
        .unwrap();
    assert_eq!(stats.messages, 0);
    assert!(t.elapsed() >= Duration::from_millis(100));
    assert!(t.elapsed() < TIMEOUT);
}

#[test]
fn empty_wrapper_is_skipped_and_the_offset_moves_past_it() {
    // E11: a wrapper that decompresses to nothing yields nothing; the offset moves past it.
    let b = broker();
    let mut c = Client::connect(b.local_addr()).unwrap();
    let empty = kafka07_io::proto::compress_set(Codec::Gzip, &[]).unwrap();
    let wrapper = kafka07_io::proto::MessageRepr::with_codec(Codec::Gzip, empty)
        .to_vec()
        .unwrap();
    c.produce("e", 0, &wrapper).unwrap();
    c.confirm("e").unwrap();
    assert_eq!(
        c.offsets("e", 0, kafka07_io::OffsetTime::Latest, 1)
            .unwrap(),
        [wrapper.len() as u64]
    );
    let mut cons = Consumer::new(b.local_addr(), "e", 0, ConsumerConfig::default());
    let stats = cons.poll(|_| ControlFlow::Continue(())).unwrap();
    assert_eq!((stats.messages, stats.offset), (0, wrapper.len() as u64));
}

#[test]
fn corrupt_data_on_the_wire_is_an_error_and_the_position_stays() {
    // A fake broker answering with a bad CRC in the second message.
    let mut set = plain(&[b"good", b"bad!"]);
    let last = set.len() - 1;
    set[last] ^= 1;
    let response = Response::Fetch(FetchResponse {
        error: kafka07_io::proto::ErrorCode::NO_ERROR,
        messages: &set,
    })
    .to_vec()
    .unwrap();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut req = vec![0u8; 28];
        s.read_exact(&mut req).unwrap();
        s.write_all(&response).unwrap();
        // Hold the connection until the client is done.
        let mut b = [0u8; 1];
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        let _ = s.read(&mut b);
    });
    let mut cons = Consumer::new(
        addr,
        "test",
        0,
        ConsumerConfig::default().start(StartAt::Offset(0)),
    );
    let mut got = Vec::new();
    let err = cons
        .poll(|m| {
            got.push(m.message.payload().to_vec());
            ControlFlow::Continue(())
        })
        .unwrap_err();
    assert!(err.to_string().contains("CRC"), "{err}");
    assert_eq!(got, [b"good".to_vec()]);
    assert_eq!(cons.offset(), Some(14));
    drop(cons);
    server.join().unwrap();
}

#[test]
fn consumer_reconnects_after_the_broker_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = BrokerConfig::on_disk(dir.path()).visible_on_append(true);
    let b = Broker::start(cfg.clone()).unwrap();
    let addr = b.local_addr();
    let mut c = Client::connect(addr).unwrap();
    c.produce("rc", 0, &plain(&[b"one", b"two"])).unwrap();
    c.confirm("rc").unwrap();
    let mut cons = Consumer::new(addr, "rc", 0, ConsumerConfig::default());
    assert_eq!(cons.take(2, TIMEOUT).unwrap().len(), 2);
    b.shutdown().unwrap();
    let mut b2 = None;
    assert!(wait_until(|| {
        b2 = Broker::start(cfg.clone().listen(addr)).ok();
        b2.is_some()
    }));
    let mut c = Client::connect(addr).unwrap();
    c.produce("rc", 0, &plain(&[b"three"])).unwrap();
    c.confirm("rc").unwrap();
    // The consumer's connection died with the old broker; the poll reconnects.
    let got = cons.take(1, TIMEOUT).unwrap();
    assert_eq!(got[0].payload, b"three");
    assert_eq!(cons.offset(), Some(13 + 13 + 15));
}
