//! Connections (issue #14, item 3): slowloris requests time out, idle connections neither
//! lock new clients out nor stay forever, a refused client learns it from a reset, and a
//! rejected request ends in an orderly close.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use kafka07_io::proto::{FetchRequest, Request};
use kafka07_io::{Broker, BrokerConfig, Client, Error, OffsetTime};
use support::*;

fn round_trip(b: &Broker, topic: &str) -> Client {
    let mut c = Client::connect(b.local_addr()).unwrap();
    c.produce(topic, 0, &plain(&[b"hello"])).unwrap();
    c.confirm(topic).unwrap();
    assert!(c.offsets(topic, 0, OffsetTime::Latest, 1).unwrap()[0] > 0);
    c
}

/// `Some(true)` closed, `Some(false)` open, from a non-blocking peek.
fn is_closed(s: &mut TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let mut b = [0u8; 1];
    let r = match s.read(&mut b) {
        Ok(0) => true,
        Ok(_) => panic!("unexpected data"),
        Err(e) if e.kind() == ErrorKind::WouldBlock => false,
        Err(_) => true,
    };
    s.set_nonblocking(false).unwrap();
    r
}

#[test]
fn slowloris_connections_are_dropped_and_others_served() {
    let b = Broker::start(
        BrokerConfig::in_memory()
            .visible_on_append(true)
            .request_timeout(Duration::from_millis(400)),
    )
    .unwrap();
    let fetch = Request::Fetch(FetchRequest::new("t", 0, 0, 100))
        .to_vec()
        .unwrap();
    // 200 connections sending one byte of a request every 100 ms.
    let mut slow: Vec<Option<TcpStream>> = (0..200).map(|_| Some(raw(b.local_addr()))).collect();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut rounds = 0;
    while slow.iter().any(Option::is_some) && Instant::now() < deadline && rounds < 150 {
        for slot in slow.iter_mut() {
            let Some(s) = slot else { continue };
            let byte = [fetch[rounds % fetch.len()]];
            if s.write_all(&byte).is_err() || is_closed(s) {
                *slot = None;
            }
        }
        if rounds == 2 {
            drop(round_trip(&b, "normal"));
        }
        rounds += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    let open = slow.iter().filter(|s| s.is_some()).count();
    assert_eq!(
        open, 0,
        "{open} slowloris connections still open after {rounds} rounds"
    );
    assert!(b.stats().timed_out >= 200, "{:?}", b.stats());
    drop(round_trip(&b, "normal"));
}

#[test]
fn idle_connections_do_not_lock_out_new_clients() {
    let b = Broker::start(
        BrokerConfig::in_memory()
            .visible_on_append(true)
            .max_connections(50)
            .idle_timeout(None),
    )
    .unwrap();
    // 50 connections that each made one request and then sit idle.
    let mut idle: Vec<TcpStream> = Vec::new();
    for _ in 0..50 {
        let mut s = raw(b.local_addr());
        send(
            &mut s,
            &Request::Fetch(FetchRequest::new("t", 0, 0, 10))
                .to_vec()
                .unwrap(),
        );
        assert!(read_frame(&mut s).is_some());
        idle.push(s);
    }
    assert_eq!(b.stats().connections_open, 50);
    std::thread::sleep(Duration::from_millis(1100));
    // New clients (kept open) are served: the longest idle connections make room.
    let clients: Vec<Client> = (0..20)
        .map(|i| round_trip(&b, &format!("new{i}")))
        .collect();
    assert_eq!(b.stats().connections_refused, 0);
    let closed = idle.iter_mut().map(is_closed).filter(|&c| c).count();
    assert_eq!(closed, 20, "idle connections closed to make room");
    assert_eq!(b.stats().connections_open, 50);
    drop(clients);
}

#[test]
fn idle_timeout_closes_idle_connections() {
    let b = Broker::start(BrokerConfig::in_memory().idle_timeout(Some(Duration::from_millis(300))))
        .unwrap();
    let mut s = raw(b.local_addr());
    assert!(wait_until(|| b.stats().connections_open == 1));
    assert!(wait_until(|| b.stats().connections_open == 0));
    assert!(is_closed(&mut s));
    assert_eq!(b.stats().timed_out, 1);
}

#[test]
fn refused_client_sees_a_reset_and_a_rejected_request_an_orderly_close() {
    // Two connections in the middle of a request: not idle, so not evicted.
    let b = Broker::start(BrokerConfig::in_memory().max_connections(2)).unwrap();
    let mut busy: Vec<TcpStream> = (0..2).map(|_| raw(b.local_addr())).collect();
    for s in &mut busy {
        send(s, &[0, 0]);
    }
    assert!(wait_until(|| b.stats().connections_open == 2));
    let mut c = Client::connect(b.local_addr()).unwrap();
    let produced = c.produce("t", 0, &plain(&[b"lost?"]));
    let confirmed = produced.and_then(|()| c.confirm("t"));
    match confirmed {
        Err(Error::Closed { reset: true, .. }) => {}
        other => panic!("expected a reset, got {other:?}"),
    }
    assert_eq!(b.stats().connections_refused, 1);
    drop(busy);
    assert!(wait_until(|| b.stats().connections_open == 0));

    // A rejected produce (invalid topic) followed at once by a FETCH: the broker does not
    // read the FETCH, and still closes in order (EOF, not a reset).
    let mut c = Client::connect(b.local_addr()).unwrap();
    c.produce("bad/topic", 0, &plain(&[b"x"])).unwrap();
    match c.confirm("t") {
        Err(Error::Closed { reset: false, .. }) => {}
        other => panic!("expected an orderly close, got {other:?}"),
    }
}

#[test]
fn request_bodies_are_bounded_broker_wide() {
    let b = Broker::start(
        BrokerConfig::in_memory()
            .visible_on_append(true)
            .max_socket_request_bytes(1 << 20)
            .max_request_memory(2 << 20)
            .request_timeout(Duration::from_millis(1500)),
    )
    .unwrap();
    let addr = b.local_addr();
    // 8 connections announce 1 MB and send 900 KB of it, then stall.
    let hogs: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || {
                let mut s = raw(addr);
                let _ = s.write_all(&1_000_000u32.to_be_bytes());
                let _ = s.write_all(&vec![0u8; 900_000]);
                // Held until the broker closes it.
                let mut b = [0u8; 1];
                let _ = s.read(&mut b);
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let peak = b.stats().request_memory_peak;
    assert!(peak > 1 << 20, "the hogs were read ({peak} bytes)");
    assert!(peak <= 2 << 20, "request memory peaked at {peak} bytes");
    // A real producer still gets its 500 KB message in: once the stalled requests time out.
    let big = vec![b'b'; 500_000];
    let mut c = Client::connect(addr).unwrap();
    c.produce("big", 0, &plain(&[&big])).unwrap();
    c.confirm("big").unwrap();
    let f = c.fetch("big", 0, 0, 1 << 20).unwrap();
    assert_eq!(deep_payloads(&f.data, 0)[0].1, big);
    for h in hogs {
        h.join().unwrap();
    }
    assert!(b.stats().request_memory_peak <= 2 << 20);
    assert!(b.stats().timed_out >= 6, "{:?}", b.stats());
}
