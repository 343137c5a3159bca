//! Producer write coalescing (`ProducerConfig::coalesce`) against the embedded broker over
//! loopback: requests are held back until the byte bound, the linger time, `flush`,
//! `confirm` or drop; what arrives is every message, in order, with the offsets of
//! uncoalesced sends.

mod support;

use std::time::Duration;

use kafka07_io::proto::{MessageRepr, ProduceRequest, Request};
use kafka07_io::{Client, Producer, ProducerConfig};
use support::*;

/// The wire size of a PRODUCE of one plain message `payload` to topic `t`, partition 0.
fn request_len(topic: &str, payload: &[u8]) -> usize {
    let set = MessageRepr::new(payload).to_vec().unwrap();
    Request::Produce(ProduceRequest::new(topic, 0, &set)).wire_len()
}

fn fetched(addr: std::net::SocketAddr, topic: &str) -> Vec<(u64, Vec<u8>)> {
    let f = Client::connect(addr)
        .unwrap()
        .fetch(topic, 0, 0, 1 << 20)
        .unwrap();
    f.message_set()
        .shallow()
        .map(|m| {
            let m = m.unwrap();
            (m.offset, m.message.payload().to_vec())
        })
        .collect()
}

#[test]
fn requests_wait_in_the_write_buffer_until_flush() {
    let b = broker();
    let cfg = ProducerConfig::default()
        .batch_messages(1)
        .coalesce(1 << 20, Duration::from_secs(3600));
    let mut p = Producer::new(b.local_addr(), cfg);
    for i in 0..100 {
        p.send_to("t", 0, format!("m{i:03}")).unwrap();
    }
    // One PRODUCE per message, none written yet: the broker has nothing.
    assert_eq!(p.stats().requests, 100);
    assert_eq!(p.stats().messages, 100);
    assert_eq!(
        p.client().pending_write_bytes(),
        100 * request_len("t", b"m000")
    );
    assert!(fetched(b.local_addr(), "t").is_empty());
    p.flush().unwrap();
    assert_eq!(p.client().pending_write_bytes(), 0);
    p.confirm("t").unwrap();
    let got = fetched(b.local_addr(), "t");
    let payloads: Vec<Vec<u8>> = got.iter().map(|(_, p)| p.clone()).collect();
    let want: Vec<Vec<u8>> = (0..100).map(|i| format!("m{i:03}").into_bytes()).collect();
    assert_eq!(payloads, want);
    // The offsets of one-by-one sends: each message's entry is 4 + 6 + 4 = 14 bytes.
    let offsets: Vec<u64> = got.iter().map(|(o, _)| *o).collect();
    assert_eq!(offsets, (1..=100).map(|i| i * 14).collect::<Vec<u64>>());
}

#[test]
fn the_byte_bound_writes_once_it_is_reached() {
    let b = broker();
    let one = request_len("t", b"0123456789");
    let cfg = ProducerConfig::default()
        .batch_messages(1)
        .coalesce(5 * one, Duration::from_secs(3600));
    let mut p = Producer::new(b.local_addr(), cfg);
    for i in 1..=12 {
        p.send_to("t", 0, b"0123456789").unwrap();
        // Written at 5 and 10 requests: what is left is the rest modulo 5.
        assert_eq!(p.client().pending_write_bytes(), (i % 5) * one, "after {i}");
    }
    // The ten written ones reach the broker without a flush.
    assert!(wait_until(|| fetched(b.local_addr(), "t").len() == 10));
    p.confirm("t").unwrap();
    assert_eq!(fetched(b.local_addr(), "t").len(), 12);
}

#[test]
fn a_zero_linger_writes_at_every_hand_over() {
    let b = broker();
    let cfg = ProducerConfig::default()
        .batch_messages(3)
        .coalesce(1 << 20, Duration::ZERO);
    let mut p = Producer::new(b.local_addr(), cfg);
    for i in 0..9 {
        p.send_to("t", 0, format!("{i}")).unwrap();
        assert_eq!(p.client().pending_write_bytes(), 0);
    }
    assert_eq!(p.stats().requests, 3);
    assert!(wait_until(|| fetched(b.local_addr(), "t").len() == 9));
}

#[test]
fn the_linger_time_bounds_the_wait() {
    let b = broker();
    let cfg = ProducerConfig::default()
        .batch_messages(1)
        .coalesce(1 << 20, Duration::from_millis(50));
    let mut p = Producer::new(b.local_addr(), cfg);
    p.send_to("t", 0, "first").unwrap();
    assert!(p.client().pending_write_bytes() > 0);
    std::thread::sleep(Duration::from_millis(80));
    // The next hand-over finds the first request older than the linger time: both go out.
    p.send_to("t", 0, "second").unwrap();
    assert_eq!(p.client().pending_write_bytes(), 0);
    assert!(wait_until(|| fetched(b.local_addr(), "t").len() == 2));
}

#[test]
fn drop_writes_what_is_coalesced() {
    let b = broker();
    {
        let cfg = ProducerConfig::default()
            .batch_messages(2)
            .coalesce(1 << 20, Duration::from_secs(3600));
        let mut p = Producer::new(b.local_addr(), cfg);
        for i in 0..10 {
            p.send_to("t", 0, format!("{i}")).unwrap();
        }
        assert!(p.client().pending_write_bytes() > 0);
    }
    let want: Vec<Vec<u8>> = (0..10).map(|i| format!("{i}").into_bytes()).collect();
    assert!(wait_until(|| fetched(b.local_addr(), "t")
        .into_iter()
        .map(|(_, p)| p)
        .collect::<Vec<_>>()
        == want));
}

#[test]
fn several_topics_coalesce_as_multiproduce_in_order() {
    let b = broker();
    let cfg = ProducerConfig::default()
        .batch_messages(4)
        .coalesce(1 << 20, Duration::from_secs(3600));
    let mut p = Producer::new(b.local_addr(), cfg);
    for i in 0..40 {
        let topic = if i % 2 == 0 { "even" } else { "odd" };
        p.send_to(topic, 0, format!("{i}")).unwrap();
    }
    // Two topics pending at each hand-over: one MULTIPRODUCE per batch of 4.
    assert_eq!(p.stats().requests, 10);
    p.confirm("even").unwrap();
    let even: Vec<Vec<u8>> = fetched(b.local_addr(), "even")
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    let odd: Vec<Vec<u8>> = fetched(b.local_addr(), "odd")
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    assert_eq!(
        even,
        (0..40)
            .step_by(2)
            .map(|i| format!("{i}").into_bytes())
            .collect::<Vec<_>>()
    );
    assert_eq!(
        odd,
        (1..40)
            .step_by(2)
            .map(|i| format!("{i}").into_bytes())
            .collect::<Vec<_>>()
    );
}

/// A request with a response sends the deferred PRODUCEs ahead of it; when the broker
/// rejects one of them (here: a partition it does not have) and closes the connection, the
/// request fails instead of being retried alone on a new connection, which would drop the
/// deferred messages and hide the rejection.
#[test]
fn a_rejected_deferred_produce_fails_the_request_behind_it() {
    let b = broker();
    let mut client = Client::connect(b.local_addr()).unwrap();
    let set = plain(&[b"kept", b"never stored"]);
    client
        .produce_deferred("t", 0, &plain(&[b"first"]), 1 << 20)
        .unwrap();
    client.produce_deferred("t", 7, &set, 1 << 20).unwrap();
    assert!(client.pending_write_bytes() > 0);
    let e = client.fetch("t", 0, 0, 1 << 20).unwrap_err();
    assert!(
        matches!(e, kafka07_io::Error::Closed { .. }),
        "expected the broker's close, got {e}"
    );
    assert_eq!(client.pending_write_bytes(), 0);
    // The produce before the rejected one was stored; the connection is usable again.
    let stored = fetched(b.local_addr(), "t");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].1, b"first");
}
