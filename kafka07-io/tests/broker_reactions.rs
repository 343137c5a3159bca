//! The 0.7.2 broker reaction matrix (spec §6.9, §6.10, E15–E31, E42–E44), one named test per
//! situation, over loopback with raw requests.

mod support;

use std::net::TcpStream;

use kafka07_io::proto::{
    Codec, ErrorCode, Expect, FetchRequest, MessageRepr, MultiFetchRequest, MultiProduceRequest,
    OffsetsRequest, Parts, ProduceRequest, Request, Response,
};
use kafka07_io::{Broker, BrokerConfig, Client, OffsetTime};
use support::*;

fn fetch_req(topic: &str, partition: i32, offset: i64, max: i32) -> Vec<u8> {
    Request::Fetch(FetchRequest::new(topic, partition, offset, max))
        .to_vec()
        .unwrap()
}

fn produce_req(topic: &str, partition: i32, set: &[u8]) -> Vec<u8> {
    Request::Produce(ProduceRequest::new(topic, partition, set))
        .to_vec()
        .unwrap()
}

fn offsets_req(topic: &str, partition: i32, time: i64, max: i32) -> Vec<u8> {
    Request::Offsets(OffsetsRequest::new(topic, partition, time, max))
        .to_vec()
        .unwrap()
}

/// Sends a FETCH and returns (code, message bytes).
fn fetch(s: &mut TcpStream, topic: &str, partition: i32, offset: i64, max: i32) -> (i16, Vec<u8>) {
    send(s, &fetch_req(topic, partition, offset, max));
    let frame = read_frame(s).expect("a FETCH response");
    let (Response::Fetch(f), _) = Response::decode(&frame, Expect::Fetch).unwrap() else {
        unreachable!()
    };
    (f.error.0, f.messages.to_vec())
}

fn offsets(s: &mut TcpStream, topic: &str, partition: i32, time: i64, max: i32) -> Vec<i64> {
    send(s, &offsets_req(topic, partition, time, max));
    let frame = read_frame(s).expect("an OFFSETS response");
    let (Response::Offsets(o), _) = Response::decode(&frame, Expect::Offsets).unwrap() else {
        unreachable!()
    };
    assert!(o.error.is_ok());
    o.offsets.iter().collect()
}

/// A broker with `t` holding [hello, there] in partition 0 (visible at once).
fn with_data() -> (Broker, TcpStream) {
    let b = broker();
    let mut s = raw(b.local_addr());
    send(&mut s, &produce_req("t", 0, &plain(&[b"hello", b"there"])));
    (b, s)
}

fn crc_broken(set: &[u8]) -> Vec<u8> {
    let mut bad = set.to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    bad
}

// ---- FETCH ----

#[test]
fn e15_fetch_at_log_end_is_empty_with_code_0() {
    let (_b, mut s) = with_data();
    assert_eq!(fetch(&mut s, "t", 0, 30, 1024), (0, vec![]));
}

#[test]
fn e15_fetch_past_log_end_is_code_1() {
    let (_b, mut s) = with_data();
    assert_eq!(fetch(&mut s, "t", 0, 31, 1024), (1, vec![]));
    assert_eq!(fetch(&mut s, "t", 0, 1_000_000, 1024), (1, vec![]));
}

#[test]
fn e15_fetch_negative_offset_is_code_1() {
    let (_b, mut s) = with_data();
    assert_eq!(fetch(&mut s, "t", 0, -1, 1024), (1, vec![]));
}

#[test]
fn e16_fetch_between_flushed_and_written_end_is_code_1() {
    let b = Broker::start(
        BrokerConfig::in_memory()
            .flush_interval_messages(1000)
            .flush_interval(std::time::Duration::from_secs(3600)),
    )
    .unwrap();
    let mut s = raw(b.local_addr());
    send(&mut s, &produce_req("t", 0, &plain(&[b"hello", b"there"])));
    // Nothing flushed: the visible end is 0; 15 lies inside the unflushed data.
    assert_eq!(fetch(&mut s, "t", 0, 0, 1024), (0, vec![]));
    assert_eq!(fetch(&mut s, "t", 0, 15, 1024), (1, vec![]));
    assert_eq!(offsets(&mut s, "t", 0, -1, 10), [0]);
    b.flush().unwrap();
    let (code, data) = fetch(&mut s, "t", 0, 15, 1024);
    assert_eq!(
        (code, deep_payloads(&data, 15)),
        (0, vec![(30, b"there".to_vec())])
    );
    assert_eq!(offsets(&mut s, "t", 0, -1, 10), [30, 0]);
}

#[test]
fn flush_interval_messages_counts_deep_messages() {
    // log.flush.interval 3: a gzip wrapper of 3 messages is flushed at once (spec §8.1).
    let b = Broker::start(
        BrokerConfig::in_memory()
            .flush_interval_messages(3)
            .flush_interval(std::time::Duration::from_secs(3600)),
    )
    .unwrap();
    let mut s = raw(b.local_addr());
    send(&mut s, &produce_req("t", 0, &plain(&[b"a", b"b"])));
    assert_eq!(offsets(&mut s, "t", 0, -1, 10), [0]);
    send(
        &mut s,
        &produce_req("t", 0, &wrapped(Codec::Gzip, &[b"c", b"d", b"e"])),
    );
    let end = offsets(&mut s, "t", 0, -1, 10)[0];
    assert!(end > 22, "flushed after 5 deep messages, end {end}");
}

#[test]
fn time_based_flush_makes_data_visible() {
    let b = Broker::start(
        BrokerConfig::in_memory()
            .flush_interval_messages(1_000_000)
            .flush_interval(std::time::Duration::from_millis(20)),
    )
    .unwrap();
    let mut c = Client::connect(b.local_addr()).unwrap();
    c.produce("t", 0, &plain(&[b"x"])).unwrap();
    assert!(wait_until(|| c
        .offsets("t", 0, OffsetTime::Latest, 1)
        .unwrap()
        == [11]));
}

#[test]
fn e17_fetch_mid_message_offset_returns_raw_bytes() {
    let (_b, mut s) = with_data();
    let all = plain(&[b"hello", b"there"]);
    let (code, data) = fetch(&mut s, "t", 0, 3, 1024);
    assert_eq!((code, data.as_slice()), (0, &all[3..]));
}

#[test]
fn e18_fetch_never_spans_segments() {
    let b = Broker::start(
        BrokerConfig::in_memory()
            .visible_on_append(true)
            .log_file_size(10),
    )
    .unwrap();
    let mut s = raw(b.local_addr());
    for p in [&b"hello"[..], b"there"] {
        send(&mut s, &produce_req("t", 0, &plain(&[p])));
    }
    // Segments 0 (15 bytes) and 15: a fetch from 0 returns only the first segment.
    let (code, data) = fetch(&mut s, "t", 0, 0, 1024);
    assert_eq!((code, data.len()), (0, 15));
    let (code, data) = fetch(&mut s, "t", 0, 15, 1024);
    assert_eq!(
        (code, deep_payloads(&data, 15)),
        (0, vec![(30, b"there".to_vec())])
    );
    assert_eq!(offsets(&mut s, "t", 0, -1, 10), [30, 15, 0]);
}

#[test]
fn e19_fetch_unknown_topic_is_empty_code_0_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let b = Broker::start(BrokerConfig::on_disk(dir.path())).unwrap();
    let mut s = raw(b.local_addr());
    for offset in [0, 5, 1_000_000, -7] {
        assert_eq!(fetch(&mut s, "nothing", 0, offset, 1024), (0, vec![]));
    }
    assert!(!dir.path().join("nothing-0").exists());
    assert!(b.partitions().is_empty());
}

#[test]
fn e19_fetch_known_topic_partition_without_log_is_empty() {
    let b = Broker::start(
        BrokerConfig::in_memory()
            .partitions(2)
            .visible_on_append(true),
    )
    .unwrap();
    let mut s = raw(b.local_addr());
    send(&mut s, &produce_req("t", 0, &plain(&[b"x"])));
    assert_eq!(fetch(&mut s, "t", 1, 0, 1024), (0, vec![]));
    assert_eq!(b.partitions(), [("t".to_string(), 0)]);
}

#[test]
fn e20_fetch_invalid_topic_is_code_minus_1() {
    let (_b, mut s) = with_data();
    for topic in ["", ".", "..", "a/b", "tab\there"] {
        assert_eq!(fetch(&mut s, topic, 0, 0, 1024), (-1, vec![]), "{topic:?}");
    }
    let long = "x".repeat(256);
    assert_eq!(fetch(&mut s, &long, 0, 0, 1024), (-1, vec![]));
}

#[test]
fn e20_fetch_partition_out_of_range_is_code_3() {
    let (_b, mut s) = with_data();
    assert_eq!(fetch(&mut s, "t", 1, 0, 1024), (3, vec![]));
    assert_eq!(fetch(&mut s, "t", -1, 0, 1024), (3, vec![]));
    // Unknown topics are checked against the configured partition count too.
    assert_eq!(fetch(&mut s, "unknown", 5, 0, 1024), (3, vec![]));
}

#[test]
fn e21_fetch_null_topic_is_code_minus_1() {
    // The reference answers code -1 (a NullPointerException mapped to Unknown) and keeps the
    // connection open.
    let (_b, mut s) = with_data();
    let mut req = fetch_req("", 0, 0, 1024);
    req[6..8].copy_from_slice(&(-1i16).to_be_bytes());
    send(&mut s, &req);
    let body = read_frame(&mut s).expect("a response");
    assert_eq!(body, [0, 0, 0, 2, 0xff, 0xff]);
    assert_eq!(fetch(&mut s, "t", 0, 0, 0), (0, vec![]));
}

#[test]
fn e21_produce_and_offsets_with_null_topic_close_the_connection() {
    for mut req in [
        produce_req("", 0, &plain(&[b"x"])),
        offsets_req("", 0, -1, 1),
    ] {
        let (_b, mut s) = with_data();
        req[6..8].copy_from_slice(&(-1i16).to_be_bytes());
        send(&mut s, &req);
        assert_closed(&mut s);
    }
}

#[test]
fn e22_fetch_negative_max_size_closes_the_connection() {
    let (_b, mut s) = with_data();
    send(&mut s, &fetch_req("t", 0, 0, -1));
    assert_closed(&mut s);
}

#[test]
fn e22_fetch_max_size_zero_is_empty_code_0() {
    let (_b, mut s) = with_data();
    assert_eq!(fetch(&mut s, "t", 0, 0, 0), (0, vec![]));
}

#[test]
fn fetch_cuts_the_last_message_at_max_size() {
    let (_b, mut s) = with_data();
    let (code, data) = fetch(&mut s, "t", 0, 0, 20);
    assert_eq!((code, data.len()), (0, 20));
    assert_eq!(deep_payloads(&data, 0), vec![(15, b"hello".to_vec())]);
}

#[test]
fn e23_multifetch_with_count_0_is_an_empty_response() {
    let (_b, mut s) = with_data();
    let req = Request::MultiFetch(MultiFetchRequest {
        parts: Parts::from_slice(&[]),
    });
    send(&mut s, &req.to_vec().unwrap());
    assert_eq!(read_frame(&mut s).unwrap(), [0, 0, 0, 2, 0, 0]);
}

#[test]
fn e23_multifetch_with_negative_count_closes_the_connection() {
    let (_b, mut s) = with_data();
    send(&mut s, &[0, 0, 0, 4, 0, 2, 0xff, 0xff]);
    assert_closed(&mut s);
}

#[test]
fn multifetch_parts_carry_their_own_codes() {
    let (_b, mut s) = with_data();
    let parts = [
        FetchRequest::new("t", 0, 0, 1024),
        FetchRequest::new("t", 0, 99, 1024),
        FetchRequest::new("t", 7, 0, 1024),
        FetchRequest::new("a/b", 0, 0, 1024),
        FetchRequest::new("none", 0, 0, 1024),
    ];
    let req = Request::MultiFetch(MultiFetchRequest {
        parts: Parts::from_slice(&parts),
    });
    send(&mut s, &req.to_vec().unwrap());
    let frame = read_frame(&mut s).unwrap();
    let (Response::MultiFetch(m), _) = Response::decode(&frame, Expect::MultiFetch(5)).unwrap()
    else {
        unreachable!()
    };
    assert_eq!(m.error, ErrorCode::NO_ERROR);
    let codes: Vec<i16> = m.parts.iter().map(|p| p.error.0).collect();
    assert_eq!(codes, [0, 1, 3, -1, 0]);
    assert_eq!(
        m.parts.iter().next().unwrap().messages,
        plain(&[b"hello", b"there"])
    );
}

// ---- PRODUCE ----

#[test]
fn e24_produce_gets_no_response() {
    let b = broker();
    let mut s = raw(b.local_addr());
    send(&mut s, &produce_req("t", 0, &plain(&[b"hello"])));
    send(&mut s, &produce_req("t", 0, &plain(&[b"there"])));
    // The first response on the connection is the FETCH's.
    let (code, data) = fetch(&mut s, "t", 0, 0, 1024);
    assert_eq!((code, data), (0, plain(&[b"hello", b"there"])));
}

#[test]
fn e25_produce_partition_minus_1_picks_a_random_partition() {
    let b = Broker::start(
        BrokerConfig::in_memory()
            .partitions(4)
            .visible_on_append(true),
    )
    .unwrap();
    let mut c = Client::connect(b.local_addr()).unwrap();
    for i in 0..200u32 {
        c.produce("t", -1, &plain(&[&i.to_be_bytes()])).unwrap();
    }
    c.confirm("t").unwrap();
    let mut total = 0;
    let mut used = 0;
    for p in 0..4 {
        let n = c
            .fetch("t", p, 0, 1 << 20)
            .unwrap()
            .payloads()
            .unwrap()
            .len();
        total += n;
        used += usize::from(n > 0);
    }
    assert_eq!(total, 200);
    assert!(
        used >= 2,
        "200 random choices used only {used} of 4 partitions"
    );
}

#[test]
fn e25_produce_partition_out_of_range_closes_the_connection() {
    for partition in [1, -2, i32::MAX] {
        let b = broker();
        let mut s = raw(b.local_addr());
        send(&mut s, &produce_req("t", partition, &plain(&[b"x"])));
        assert_closed(&mut s);
        assert!(b.partitions().is_empty(), "partition {partition}");
    }
}

#[test]
fn e26_produce_message_set_size_beyond_the_request_closes_the_connection() {
    let b = broker();
    let mut s = raw(b.local_addr());
    let mut req = produce_req("t", 0, &plain(&[b"hello"]));
    // The set size field follows size(4) type(2) topic(2+1) partition(4).
    req[13..17].copy_from_slice(&100i32.to_be_bytes());
    send(&mut s, &req);
    assert_closed(&mut s);
    let mut s = raw(b.local_addr());
    req[13..17].copy_from_slice(&(-5i32).to_be_bytes());
    send(&mut s, &req);
    assert_closed(&mut s);
    assert!(b.partitions().is_empty());
}

#[test]
fn e27_oversized_top_level_payload_is_dropped_and_the_connection_kept() {
    let b = Broker::start(
        BrokerConfig::in_memory()
            .max_message_size(5)
            .visible_on_append(true),
    )
    .unwrap();
    let mut s = raw(b.local_addr());
    // LogTest: with max.message.size 5, "You","bethe" are accepted and "change" is rejected.
    send(&mut s, &produce_req("t", 0, &plain(&[b"You", b"bethe"])));
    send(&mut s, &produce_req("t", 0, &plain(&[b"change"])));
    send(
        &mut s,
        &produce_req("t", 0, &plain(&[b"ok", b"toolong", b"ok"])),
    );
    let (code, data) = fetch(&mut s, "t", 0, 0, 1024);
    assert_eq!(code, 0);
    let got: Vec<Vec<u8>> = deep_payloads(&data, 0)
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    assert_eq!(got, [b"You".to_vec(), b"bethe".to_vec()]);
}

#[test]
fn e27_multiproduce_continues_after_an_item_dropped_for_size() {
    let b = Broker::start(
        BrokerConfig::in_memory()
            .max_message_size(5)
            .visible_on_append(true),
    )
    .unwrap();
    let mut s = raw(b.local_addr());
    let (big, small) = (plain(&[b"toolarge"]), plain(&[b"fine"]));
    let items = [
        ProduceRequest::new("a", 0, &big),
        ProduceRequest::new("b", 0, &small),
    ];
    let req = Request::MultiProduce(MultiProduceRequest {
        parts: Parts::from_slice(&items),
    });
    send(&mut s, &req.to_vec().unwrap());
    assert_eq!(fetch(&mut s, "b", 0, 0, 1024), (0, small.clone()));
    assert_eq!(fetch(&mut s, "a", 0, 0, 1024), (0, vec![]));
    // E30: the log of the dropped item was created all the same.
    assert_eq!(b.partitions().len(), 2);
}

#[test]
fn e28_partial_trailing_message_is_dropped() {
    let b = broker();
    let mut s = raw(b.local_addr());
    let full = plain(&[b"hello", b"there"]);
    send(&mut s, &produce_req("t", 0, &full[..full.len() - 3]));
    assert_eq!(fetch(&mut s, "t", 0, 0, 1024), (0, full[..15].to_vec()));
    // The log stays valid: the next append follows the kept message.
    send(&mut s, &produce_req("t", 0, &plain(&[b"more"])));
    let (_, data) = fetch(&mut s, "t", 0, 0, 1024);
    let payloads: Vec<_> = deep_payloads(&data, 0)
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    assert_eq!(payloads, [b"hello".to_vec(), b"more".to_vec()]);
}

#[test]
fn e29_multiproduce_with_a_bad_item_in_the_middle() {
    let b = broker();
    let mut s = raw(b.local_addr());
    let (good, bad) = (plain(&[b"first"]), crc_broken(&plain(&[b"second"])));
    let last = plain(&[b"third"]);
    let items = [
        ProduceRequest::new("a", 0, &good),
        ProduceRequest::new("b", 0, &bad),
        ProduceRequest::new("c", 0, &last),
    ];
    let req = Request::MultiProduce(MultiProduceRequest {
        parts: Parts::from_slice(&items),
    });
    send(&mut s, &req.to_vec().unwrap());
    assert_closed(&mut s);
    let mut s = raw(b.local_addr());
    assert_eq!(fetch(&mut s, "a", 0, 0, 1024), (0, good));
    assert_eq!(fetch(&mut s, "b", 0, 0, 1024), (0, vec![]));
    assert_eq!(fetch(&mut s, "c", 0, 0, 1024), (0, vec![]));
    let topics: Vec<String> = b.partitions().into_iter().map(|(t, _)| t).collect();
    assert_eq!(topics, ["a", "b"]); // "c" was never reached
}

#[test]
fn e30_produce_creates_the_log_even_when_empty_or_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let b = Broker::start(BrokerConfig::on_disk(dir.path()).max_message_size(3)).unwrap();
    let mut c = Client::connect(b.local_addr()).unwrap();
    c.produce("empty", 0, &[]).unwrap();
    c.produce("toolarge", 0, &plain(&[b"abcd"])).unwrap();
    c.confirm("empty").unwrap();
    for t in ["empty-0", "toolarge-0"] {
        let seg = dir.path().join(t).join("00000000000000000000.kafka");
        assert_eq!(std::fs::metadata(&seg).unwrap().len(), 0, "{t}");
    }
    let mut s = raw(b.local_addr());
    send(
        &mut s,
        &produce_req("badcrc", 0, &crc_broken(&plain(&[b"abc"]))),
    );
    assert_closed(&mut s);
    assert!(dir.path().join("badcrc-0").is_dir());
    assert_eq!(
        fetch(&mut raw(b.local_addr()), "badcrc", 0, 0, 100),
        (0, vec![])
    );
}

#[test]
fn produce_bad_crc_closes_the_connection_and_stores_nothing() {
    let (b, mut s) = with_data();
    send(
        &mut s,
        &produce_req("t", 0, &crc_broken(&plain(&[b"evil"]))),
    );
    assert_closed(&mut s);
    let mut s = raw(b.local_addr());
    assert_eq!(
        fetch(&mut s, "t", 0, 0, 1024),
        (0, plain(&[b"hello", b"there"]))
    );
    assert_eq!(b.stats().closed_by_broker, 1);
}

#[test]
fn produce_bad_inner_crc_in_a_wrapper_closes_the_connection() {
    let b = broker();
    let mut s = raw(b.local_addr());
    let inner = crc_broken(&plain(&[b"a", b"b"]));
    let payload = kafka07_io::proto::compress_set(Codec::Gzip, &inner).unwrap();
    let wrapper = MessageRepr::with_codec(Codec::Gzip, payload)
        .to_vec()
        .unwrap();
    send(&mut s, &produce_req("t", 0, &wrapper));
    assert_closed(&mut s);
    assert_eq!(
        fetch(&mut raw(b.local_addr()), "t", 0, 0, 1024),
        (0, vec![])
    );
}

#[test]
fn e12_produce_undecodable_wrapper_closes_the_connection() {
    let b = broker();
    let mut s = raw(b.local_addr());
    let wrapper = MessageRepr::with_codec(Codec::Gzip, &b"not gzip at all"[..])
        .to_vec()
        .unwrap();
    send(&mut s, &produce_req("t", 0, &wrapper));
    assert_closed(&mut s);
}

#[test]
fn e7_produce_unknown_codec_closes_the_connection() {
    let b = broker();
    let mut s = raw(b.local_addr());
    let mut set = plain(&[b"x"]);
    set[5] = 3; // attributes: codec 3
    send(&mut s, &produce_req("t", 0, &set));
    assert_closed(&mut s);
}

#[test]
fn e2_produce_truncated_first_message_closes_the_connection() {
    let b = broker();
    let mut s = raw(b.local_addr());
    let set = plain(&[b"hello"]);
    send(&mut s, &produce_req("t", 0, &set[..10]));
    assert_closed(&mut s);
}

#[test]
fn e3_produce_length_below_header_closes_the_connection() {
    let b = broker();
    let mut s = raw(b.local_addr());
    send(&mut s, &produce_req("t", 0, &[0, 0, 0, 2, 1, 0]));
    assert_closed(&mut s);
}

#[test]
fn produce_invalid_topic_closes_the_connection() {
    for topic in ["", "..", "a/b"] {
        let b = broker();
        let mut s = raw(b.local_addr());
        send(&mut s, &produce_req(topic, 0, &plain(&[b"x"])));
        assert_closed(&mut s);
        assert!(b.partitions().is_empty());
    }
}

#[test]
fn produce_magic_0_messages_are_accepted() {
    let b = broker();
    let mut s = raw(b.local_addr());
    let set = MessageRepr::magic0(&b"old"[..]).to_vec().unwrap();
    send(&mut s, &produce_req("t", 0, &set));
    assert_eq!(fetch(&mut s, "t", 0, 0, 1024), (0, set));
}

// ---- OFFSETS ----

#[test]
fn e31_offsets_negative_max_closes_the_connection() {
    let (_b, mut s) = with_data();
    assert_eq!(offsets(&mut s, "t", 0, -1, 0), Vec::<i64>::new());
    send(&mut s, &offsets_req("t", 0, -1, -1));
    assert_closed(&mut s);
}

#[test]
fn offsets_unknown_partition_is_0_0_empty_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let b = Broker::start(BrokerConfig::on_disk(dir.path()).partitions(2)).unwrap();
    let mut s = raw(b.local_addr());
    assert_eq!(offsets(&mut s, "nope", 1, -1, 10), [0]);
    assert_eq!(offsets(&mut s, "nope", 1, -2, 10), [0]);
    assert_eq!(offsets(&mut s, "nope", 1, now_ms(), 10), Vec::<i64>::new());
    assert!(!dir.path().join("nope-1").exists());
}

#[test]
fn offsets_invalid_topic_closes_the_connection() {
    let (_b, mut s) = with_data();
    send(&mut s, &offsets_req("a/b", 0, -1, 10));
    assert_closed(&mut s);
}

#[test]
fn offsets_partition_out_of_range_closes_the_connection() {
    let (_b, mut s) = with_data();
    send(&mut s, &offsets_req("t", 1, -1, 10));
    assert_closed(&mut s);
}

// ---- connection ----

#[test]
fn e42_request_size_zero_or_negative_closes_the_connection() {
    let b = broker();
    for size in [0i32, -1, i32::MIN] {
        let mut s = raw(b.local_addr());
        send(&mut s, &size.to_be_bytes());
        assert_closed(&mut s);
    }
}

#[test]
fn e42_request_over_max_socket_request_bytes_closes_the_connection() {
    // SocketServerTest: a 50-byte limit rejects a 51-byte body.
    let b = Broker::start(BrokerConfig::in_memory().max_socket_request_bytes(50)).unwrap();
    let mut s = raw(b.local_addr());
    send(&mut s, &51i32.to_be_bytes());
    assert_closed(&mut s);
    // 50 bytes are fine: a FETCH padded with ignored trailing bytes.
    let mut s = raw(b.local_addr());
    let mut req = fetch_req("t", 0, 0, 10);
    let pad = 50 - (req.len() - 4);
    req.extend(std::iter::repeat_n(0u8, pad));
    req[..4].copy_from_slice(&50i32.to_be_bytes());
    send(&mut s, &req);
    assert_eq!(read_frame(&mut s).unwrap(), [0, 0, 0, 2, 0, 0]);
}

#[test]
fn e43_unknown_request_type_closes_the_connection() {
    let b = broker();
    let mut s = raw(b.local_addr());
    send(&mut s, &[0, 0, 0, 2, 0, 9]);
    assert_closed(&mut s);
}

#[test]
fn truncated_body_closes_the_connection() {
    let b = broker();
    let mut s = raw(b.local_addr());
    // A FETCH body that ends after the topic.
    send(&mut s, &[0, 0, 0, 5, 0, 1, 0, 1, b't']);
    assert_closed(&mut s);
}

#[test]
fn trailing_bytes_after_a_request_body_are_ignored() {
    let (_b, mut s) = with_data();
    let mut req = fetch_req("t", 0, 0, 1024);
    req.extend([1, 2, 3]);
    let size = (req.len() - 4) as i32;
    req[..4].copy_from_slice(&size.to_be_bytes());
    send(&mut s, &req);
    let frame = read_frame(&mut s).unwrap();
    assert_eq!(&frame[6..], plain(&[b"hello", b"there"]));
}

#[test]
fn e44_pipelined_responses_come_back_in_order() {
    let (_b, mut s) = with_data();
    let mut batch = Vec::new();
    batch.extend(fetch_req("t", 0, 15, 1024));
    batch.extend(produce_req("t", 0, &plain(&[b"again"])));
    batch.extend(offsets_req("t", 0, -1, 10));
    batch.extend(fetch_req("t", 0, 99, 1024));
    send(&mut s, &batch);
    let f1 = read_frame(&mut s).unwrap();
    assert_eq!(&f1[6..], &plain(&[b"there"])[..]);
    let o = read_frame(&mut s).unwrap();
    let (Response::Offsets(o), _) = Response::decode(&o, Expect::Offsets).unwrap() else {
        unreachable!()
    };
    assert_eq!(o.offsets.iter().collect::<Vec<_>>(), [45, 0]);
    assert_eq!(read_frame(&mut s).unwrap(), [0, 0, 0, 2, 0, 1]);
}

#[test]
fn a_closed_connection_does_not_affect_other_clients() {
    let (b, mut good) = with_data();
    let mut bad = raw(b.local_addr());
    send(&mut bad, &[0xde, 0xad, 0xbe, 0xef, 1, 2, 3]);
    assert_closed(&mut bad);
    assert_eq!(fetch(&mut good, "t", 0, 0, 1024).0, 0);
}

#[test]
fn connections_over_the_limit_are_refused() {
    let b = Broker::start(BrokerConfig::in_memory().max_connections(2)).unwrap();
    let mut s1 = raw(b.local_addr());
    let mut s2 = raw(b.local_addr());
    assert_eq!(fetch(&mut s1, "t", 0, 0, 10).0, 0);
    assert_eq!(fetch(&mut s2, "t", 0, 0, 10).0, 0);
    // Refused with a reset (it may already have arrived when connect returns).
    let mut s3 = std::net::TcpStream::connect(b.local_addr()).unwrap();
    let _ = s3.set_read_timeout(Some(TIMEOUT));
    assert_closed(&mut s3);
    assert_eq!(b.stats().connections_refused, 1);
    drop(s1);
    assert!(wait_until(|| b.stats().connections_open == 1));
    let mut s4 = raw(b.local_addr());
    assert_eq!(fetch(&mut s4, "t", 0, 0, 10).0, 0);
}

#[test]
fn broker_listens_on_ipv6_loopback() {
    let Ok(b) = Broker::start(BrokerConfig::in_memory().listen("[::1]:0".parse().unwrap())) else {
        eprintln!("no IPv6 loopback on this machine; nothing to check");
        return;
    };
    assert!(b.local_addr().is_ipv6());
    let mut c = Client::connect(b.local_addr()).unwrap();
    assert_eq!(c.offsets("v6", 0, OffsetTime::Latest, 1).unwrap(), [0]);
    b.shutdown().unwrap();
}

/// Requests written back to back in one write (a pipelining producer) are handed to the
/// workers as a batch; they must still be handled one after the other, each response in
/// request order and each request seeing the effects of those before it.
#[test]
fn pipelined_requests_in_one_write_are_handled_in_order() {
    let b = broker();
    let mut s = raw(b.local_addr());
    let one = [
        produce_req("p", 0, &plain(&[b"a"])),
        fetch_req("p", 0, 0, 1 << 20),
        produce_req("p", 0, &plain(&[b"b"])),
        offsets_req("p", 0, -1, 1),
        fetch_req("p", 0, 0, 1 << 20),
    ]
    .concat();
    send(&mut s, &one);
    let frame = read_frame(&mut s).expect("the first FETCH's response");
    let (Response::Fetch(f), _) = Response::decode(&frame, Expect::Fetch).unwrap() else {
        unreachable!()
    };
    assert_eq!(
        f.messages.to_vec(),
        plain(&[b"a"]),
        "b was produced after this FETCH"
    );
    let frame = read_frame(&mut s).expect("the OFFSETS response");
    let (Response::Offsets(o), _) = Response::decode(&frame, Expect::Offsets).unwrap() else {
        unreachable!()
    };
    let both = [plain(&[b"a"]), plain(&[b"b"])].concat();
    assert_eq!(o.offsets.iter().collect::<Vec<_>>(), [both.len() as i64]);
    let frame = read_frame(&mut s).expect("the second FETCH's response");
    let (Response::Fetch(f), _) = Response::decode(&frame, Expect::Fetch).unwrap() else {
        unreachable!()
    };
    assert_eq!(f.messages.to_vec(), both);
}

/// A bad frame after good requests in the same write: the good ones are handled first (as if
/// read one by one), then the connection is closed for the bad one (E42).
#[test]
fn a_bad_frame_after_pipelined_requests_is_rejected_after_them() {
    let b = broker();
    let mut s = raw(b.local_addr());
    let one = [
        produce_req("q", 0, &plain(&[b"kept"])),
        produce_req("q", 0, &plain(&[b"kept too"])),
        0i32.to_be_bytes().to_vec(),
    ]
    .concat();
    send(&mut s, &one);
    assert_eq!(read_frame(&mut s), None, "closed for the size-0 frame");
    let mut s = raw(b.local_addr());
    assert_eq!(
        fetch(&mut s, "q", 0, 0, 1 << 20),
        (0, [plain(&[b"kept"]), plain(&[b"kept too"])].concat())
    );
}
