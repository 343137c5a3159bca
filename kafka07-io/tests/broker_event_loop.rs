//! PRODUCEs the event loop handles where it reads them (plain messages into an existing
//! in-memory log): the same stored bytes and the same order as through the workers, the
//! workers for everything else, and no starving of other connections by one producer that
//! keeps its socket full.

mod support;

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use kafka07_io::proto::{Codec, Expect, FetchRequest, ProduceRequest, Request, Response};
use kafka07_io::{Broker, BrokerConfig};
use support::*;

fn produce_req(topic: &str, partition: i32, set: &[u8]) -> Vec<u8> {
    Request::Produce(ProduceRequest::new(topic, partition, set))
        .to_vec()
        .unwrap()
}

fn fetch_req(topic: &str, partition: i32, offset: i64, max: i32) -> Vec<u8> {
    Request::Fetch(FetchRequest::new(topic, partition, offset, max))
        .to_vec()
        .unwrap()
}

/// FETCH from offset 0 (up to 1 MiB): the deep payloads stored, in order.
fn stored(s: &mut TcpStream, topic: &str) -> Vec<Vec<u8>> {
    send(s, &fetch_req(topic, 0, 0, 1 << 20));
    let frame = read_frame(s).expect("a FETCH response");
    let (Response::Fetch(f), _) = Response::decode(&frame, Expect::Fetch).unwrap() else {
        unreachable!()
    };
    assert!(f.error.is_ok());
    deep_payloads(f.messages, 0)
        .into_iter()
        .map(|(_, p)| p)
        .collect()
}

fn payloads(prefix: &str, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| format!("{prefix}-{i}").into_bytes())
        .collect()
}

/// `n` PRODUCEs of one message each, written back to back.
fn pipelined(topic: &str, ps: &[Vec<u8>]) -> Vec<u8> {
    ps.iter()
        .flat_map(|p| produce_req(topic, 0, &plain(&[p])))
        .collect()
}

/// Creates `t` partition 0 (the first PRODUCE of a log goes to a worker, which creates it)
/// and waits for it with a FETCH on the same connection.
fn created(b: &Broker) -> TcpStream {
    let mut s = raw(b.local_addr());
    send(&mut s, &produce_req("t", 0, &plain(&[b"first"])));
    assert_eq!(stored(&mut s, "t"), vec![b"first".to_vec()]);
    s
}

#[test]
fn pipelined_plain_produces_into_memory_are_handled_in_the_loop_and_stored_in_order() {
    let b = broker();
    let mut s = created(&b);
    let before = b.stats();
    assert_eq!(
        before.requests_in_event_loop, 0,
        "the creating PRODUCE: a worker"
    );
    // 500 PRODUCEs in one write (several reads of the broker; some straddle two), then a
    // FETCH behind them on the same connection.
    let ps = payloads("m", 500);
    send(&mut s, &pipelined("t", &ps));
    let got = stored(&mut s, "t");
    assert_eq!(got.len(), 501);
    assert_eq!(got[0], b"first");
    assert_eq!(&got[1..], &ps[..]);
    let after = b.stats();
    assert_eq!(after.requests_in_event_loop, 500);
    assert_eq!(
        after.requests - before.requests,
        501,
        "the 500 and the FETCH"
    );
}

#[test]
fn a_request_for_a_worker_holds_back_the_produces_behind_it() {
    let b = broker();
    let mut s = created(&b);
    // plain A (in the loop), a gzip wrapper (a worker decompresses it), plain B: B must be
    // stored after the wrapper's messages, so it waits behind it instead of being handled
    // in the loop at once.
    let mut w = produce_req("t", 0, &plain(&[b"A"]));
    w.extend(produce_req("t", 0, &wrapped(Codec::Gzip, &[b"g1", b"g2"])));
    w.extend(produce_req("t", 0, &plain(&[b"B"])));
    send(&mut s, &w);
    let got = stored(&mut s, "t");
    let want: Vec<&[u8]> = vec![b"first", b"A", b"g1", b"g2", b"B"];
    assert_eq!(got, want);
    assert_eq!(
        b.stats().requests_in_event_loop,
        1,
        "only A: B was queued behind the wrapper"
    );
}

#[test]
fn produces_after_a_rejected_one_are_not_stored() {
    let b = broker();
    let mut s = created(&b);
    // A bad CRC (the worker refuses it and closes) between two plain PRODUCEs in one write.
    let mut bad = plain(&[b"corrupt me"]);
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    let mut w = produce_req("t", 0, &plain(&[b"A"]));
    w.extend(produce_req("t", 0, &bad));
    w.extend(produce_req("t", 0, &plain(&[b"B"])));
    send(&mut s, &w);
    assert_closed(&mut s);
    let mut s2 = raw(b.local_addr());
    let want: Vec<&[u8]> = vec![b"first", b"A"];
    assert_eq!(stored(&mut s2, "t"), want);
    assert_eq!(b.stats().closed_by_broker, 1);
}

#[test]
fn file_logs_new_logs_and_random_partitions_go_to_the_workers() {
    let dir = tempfile::tempdir().unwrap();
    let b = Broker::start(BrokerConfig::on_disk(dir.path()).flush_interval_messages(1)).unwrap();
    let mut s = created(&b);
    let ps = payloads("d", 50);
    send(&mut s, &pipelined("t", &ps));
    assert_eq!(stored(&mut s, "t").len(), 51);
    assert_eq!(
        b.stats().requests_in_event_loop,
        0,
        "a file log: every append by a worker"
    );
    drop(b);

    let b = broker();
    let mut s = created(&b);
    // Partition -1 (the broker picks one: a worker), and a topic with no log yet.
    let mut w = produce_req("t", -1, &plain(&[b"r"]));
    w.extend(produce_req("new", 0, &plain(&[b"n"])));
    send(&mut s, &w);
    assert_eq!(stored(&mut s, "new"), vec![b"n".to_vec()]);
    assert_eq!(b.stats().requests_in_event_loop, 0);
}

/// One producer writes PRODUCEs as fast as loopback takes them (faster than the broker
/// handles them, so its socket never runs dry); another connection's FETCHes must be
/// answered while it writes. The writer stops when they are (or at 1 GiB, or the timeout:
/// a starved FETCH would keep it writing until then).
#[test]
fn a_producer_that_keeps_its_socket_full_does_not_starve_other_connections() {
    let b = broker();
    let _s = created(&b);
    const CAP: u64 = 1 << 30;
    let block: Vec<u8> = {
        let one = produce_req("t", 0, &plain(&[&[b'x'; 200]]));
        one.iter().copied().cycle().take(one.len() * 4096).collect()
    };
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let writer = {
        let (stop, written) = (stop.clone(), written.clone());
        let mut w = raw(b.local_addr());
        std::thread::spawn(move || {
            let start = Instant::now();
            while !stop.load(Ordering::SeqCst)
                && written.load(Ordering::Relaxed) < CAP
                && start.elapsed() < TIMEOUT
            {
                if w.write_all(&block).is_err() {
                    break;
                }
                written.fetch_add(block.len() as u64, Ordering::Relaxed);
            }
            // Whether it was still writing when told to stop.
            stop.load(Ordering::SeqCst)
        })
    };
    // Once the writer has filled the socket buffers, 10 FETCH round trips on another
    // connection.
    assert!(wait_until(|| written.load(Ordering::Relaxed) >= 16 << 20));
    let mut f = raw(b.local_addr());
    let started = Instant::now();
    for _ in 0..10 {
        send(&mut f, &fetch_req("t", 0, 0, 1000));
        assert!(read_frame(&mut f).is_some());
    }
    let took = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    let at_stop = written.load(Ordering::Relaxed);
    let stopped_by_us = writer.join().unwrap();
    eprintln!("10 FETCHes in {took:?} beside a producer that wrote {at_stop} bytes");
    assert!(
        stopped_by_us && at_stop < CAP,
        "the FETCHes were answered only after the producer stopped by itself \
         ({at_stop} bytes written)"
    );
    assert!(b.stats().requests_in_event_loop > 0);
}
