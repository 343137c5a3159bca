//! 0.7 clusters on a real ZooKeeper (Debian's 3.8 package, started by the tests on
//! 127.0.0.1): broker registration byte for byte, the discovering producer, consumer groups
//! with the reference rebalance, offsets and resets, malformed znodes, an unreachable
//! ensemble. Each test has a chroot of its own on one shared server.

mod zk_support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kafka07_io::zk::{
    default_partition, BrokerPartition, GroupConfig, GroupConsumer, Subscription, ZkClient,
    ZkConfig, ZkProducer,
};
use kafka07_io::{Broker, BrokerConfig, Client, Error, OffsetReset, ProducerConfig};
use zk_support::{available, chroot, eventually, shared};

use zk_support::WAIT;

fn zk(test: &str) -> Option<ZkConfig> {
    if !available(test) {
        return None;
    }
    Some(ZkConfig::new(shared().connect(&chroot(test))).session_timeout(Duration::from_secs(4)))
}

fn broker(zk: &ZkConfig, id: u32, cfg: BrokerConfig) -> Broker {
    Broker::start(cfg.visible_on_append(true).zookeeper(zk.clone(), id)).expect("broker starts")
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

/// Reads a znode with the `zookeeper-client` crate directly (not kafka07's wrapper):
/// `(data, ephemeral owner)`.
fn raw_get(connect: &str, path: &str) -> Option<(Vec<u8>, i64)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = zookeeper_client::Client::connect(connect)
            .await
            .expect("raw connect");
        match c.get_data(path).await {
            Ok((d, stat)) => Some((d, stat.ephemeral_owner)),
            Err(zookeeper_client::Error::NoNode) => None,
            Err(e) => panic!("raw get {path}: {e}"),
        }
    })
}

fn produce(addr: std::net::SocketAddr, topic: &str, partition: i32, payloads: &[&str]) {
    let mut c = Client::connect(addr).unwrap();
    c.produce(
        topic,
        partition,
        &kafka07_io::encode_messages(payloads).unwrap(),
    )
    .unwrap();
    c.confirm(topic).unwrap();
}

#[test]
fn broker_registration_znodes_are_byte_exact() {
    let Some(zk) = zk("registration") else { return };
    let dir = tempfile::tempdir().unwrap();
    // A topic on disk before the broker joins the cluster.
    {
        let b = Broker::start(BrokerConfig::on_disk(dir.path()).visible_on_append(true)).unwrap();
        produce(b.local_addr(), "pre", 0, &["old"]);
        b.shutdown().unwrap();
    }
    let before = now_ms();
    let b = broker(
        &zk,
        7,
        BrokerConfig::on_disk(dir.path())
            .partitions(2)
            .topic_partitions("pre", 3),
    );
    let after = now_ms();
    let port = b.local_addr().port();
    let (data, owner) = raw_get(&zk.connect, "/brokers/ids/7").expect("registered");
    let s = String::from_utf8(data).unwrap();
    let (creator, rest) = s.split_once(':').unwrap();
    assert_eq!(rest, format!("127.0.0.1:{port}"));
    let ms: u128 = creator.strip_prefix("127.0.0.1-").unwrap().parse().unwrap();
    assert!(
        (before..=after).contains(&ms),
        "{ms} not in {before}..={after}"
    );
    assert_ne!(owner, 0, "ephemeral");
    let reg = b.registration().unwrap();
    assert_eq!(reg.info().encode(), s);
    assert_eq!(owner, reg.session_id());
    // Existing topic at start-up, with its configured (not existing) partition count.
    assert_eq!(
        raw_get(&zk.connect, "/brokers/topics/pre/7"),
        Some((b"3".to_vec(), owner))
    );
    assert_eq!(raw_get(&zk.connect, "/brokers/topics/fresh/7"), None);
    // A topic created later is registered when its first log appears.
    produce(b.local_addr(), "fresh", 1, &["new"]);
    let fresh = eventually("fresh registered", || {
        raw_get(&zk.connect, "/brokers/topics/fresh/7")
    });
    assert_eq!(fresh, (b"2".to_vec(), owner));
    // Parents are persistent.
    assert_eq!(raw_get(&zk.connect, "/brokers/topics/fresh").unwrap().1, 0);
    assert_eq!(raw_get(&zk.connect, "/brokers/ids").unwrap().1, 0);
    assert_eq!(
        reg.topics(),
        BTreeMap::from([("fresh".to_owned(), 2), ("pre".to_owned(), 3)])
    );
    // A clean shutdown has removed the ephemeral nodes when it returns: the session's close
    // is confirmed by the server before `shutdown` ends (a process exiting right after it
    // leaves nothing behind).
    b.shutdown().unwrap();
    assert_eq!(raw_get(&zk.connect, "/brokers/ids/7"), None);
    assert_eq!(raw_get(&zk.connect, "/brokers/topics/pre/7"), None);
    assert_eq!(raw_get(&zk.connect, "/brokers/topics/fresh/7"), None);
}

#[test]
fn a_live_registration_of_the_same_id_refuses_the_second_broker() {
    let Some(zk) = zk("conflict") else { return };
    let first = broker(&zk, 3, BrokerConfig::in_memory());
    let holder = first.registration().unwrap().info().encode();
    let err = Broker::start(BrokerConfig::in_memory().zookeeper(zk.clone(), 3)).unwrap_err();
    match &err {
        Error::RegistrationConflict { path, holder: h } => {
            assert_eq!(path, "/brokers/ids/3");
            assert_eq!(h, &holder);
        }
        e => panic!("expected a conflict, got {e}"),
    }
    assert!(err.to_string().contains(&holder), "{err}");
    // Another id joins fine.
    let second = broker(&zk, 4, BrokerConfig::in_memory());
    assert_eq!(second.registration().unwrap().info().id, 4);
}

#[test]
fn an_unreachable_ensemble_is_an_error_within_the_timeout_naming_it() {
    if !available("unreachable") {
        return;
    }
    let port = zk_support::closed_port();
    let connect = format!("127.0.0.1:{port}/kafka");
    let cfg = ZkConfig::new(&connect).session_timeout(Duration::from_millis(1500));
    let t = Instant::now();
    let err = Broker::start(BrokerConfig::in_memory().zookeeper(cfg.clone(), 1)).unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert!(
        matches!(err, Error::ZooKeeper { op: "connect", .. }),
        "{err}"
    );
    assert!(err.to_string().contains(&connect), "{err}");
    let err = ZkProducer::connect(&cfg, ProducerConfig::default()).unwrap_err();
    assert!(err.to_string().contains(&connect), "{err}");
    let err = GroupConsumer::start(GroupConfig::new(cfg, "g").topic("t", 1)).unwrap_err();
    assert!(err.to_string().contains(&connect), "{err}");
}

#[test]
fn the_producer_discovers_partitions_in_numeric_order_and_partitions_keys_like_the_reference() {
    let Some(zk) = zk("discover") else { return };
    let b10 = broker(&zk, 10, BrokerConfig::in_memory().partitions(3));
    let b2 = broker(&zk, 2, BrokerConfig::in_memory().partitions(2));
    let mut p = ZkProducer::connect(&zk, ProducerConfig::default().batch_messages(1)).unwrap();
    // No broker has the topic yet: partition 0 of every live broker, numerically.
    let bp = |broker, partition| BrokerPartition { broker, partition };
    assert_eq!(p.partitions("t").unwrap(), [bp(2, 0), bp(10, 0)]);
    p.send("t", "bootstrap").unwrap();
    p.send("t", "bootstrap").unwrap();
    p.send("t", "bootstrap").unwrap();
    p.send("t", "bootstrap").unwrap();
    p.flush().unwrap();
    // Both brokers (with high probability: 4 random sends) or at least one registered the
    // topic; make sure both have it, then the watch brings the real counts.
    produce(b2.local_addr(), "t", 0, &["x"]);
    produce(b10.local_addr(), "t", 0, &["x"]);
    let want = vec![bp(2, 0), bp(2, 1), bp(10, 0), bp(10, 1), bp(10, 2)];
    let got = eventually("real partition counts", || {
        let l = p.partitions("t").unwrap();
        (l == want).then_some(l)
    });
    assert_eq!(got, want);
    // Keyed messages land where the reference's DefaultPartitioner puts them.
    let keys = ["alice", "bob", "carol", "dave", "erin", "frank", "grace"];
    for k in keys {
        p.send_keyed("t", k.as_bytes(), format!("for {k}")).unwrap();
    }
    p.flush().unwrap();
    p.confirm("t").unwrap();
    for k in keys {
        let i = default_partition(k.as_bytes(), want.len());
        let target = want[i as usize];
        let addr = if target.broker == 2 {
            b2.local_addr()
        } else {
            b10.local_addr()
        };
        let f = Client::connect(addr)
            .unwrap()
            .fetch("t", target.partition as i32, 0, 1 << 20)
            .unwrap();
        let payloads = f.payloads().unwrap();
        assert!(
            payloads.contains(&format!("for {k}").into_bytes()),
            "{k} not on {target}"
        );
    }
    assert_eq!(p.stats().messages, 4 + keys.len() as u64);
    assert!(p.problems().is_empty(), "{:?}", p.problems());
}

#[test]
fn e39_a_key_hashing_to_int_min_is_an_invalid_partition() {
    let Some(zk) = zk("e39") else { return };
    let _b = broker(&zk, 1, BrokerConfig::in_memory());
    let mut p = ZkProducer::connect(&zk, ProducerConfig::default()).unwrap();
    // One partition: abs(MIN) % 1 == 0, in range. Three: -2.
    p.send_keyed("t", b"polygenelubricants", "ok").unwrap();
    let _b2 = broker(&zk, 2, BrokerConfig::in_memory());
    let _b3 = broker(&zk, 3, BrokerConfig::in_memory());
    eventually("three brokers", || {
        (p.partitions("t").unwrap().len() == 3).then_some(())
    });
    match p.send_keyed("t", b"polygenelubricants", "bad").unwrap_err() {
        Error::InvalidPartition { index, count, .. } => assert_eq!((index, count), (-2, 3)),
        e => panic!("{e}"),
    }
}

#[test]
fn a_vanished_brokers_pending_batch_goes_to_a_live_one() {
    let Some(zk) = zk("reroute") else { return };
    let a = broker(&zk, 1, BrokerConfig::in_memory());
    let mut p = ZkProducer::connect(&zk, ProducerConfig::default().batch_messages(1000)).unwrap();
    for i in 0..10 {
        p.send("moving", format!("m{i}")).unwrap();
    }
    let b = broker(&zk, 2, BrokerConfig::in_memory());
    a.shutdown().unwrap();
    eventually("broker 1 dropped", || {
        let l = p.partitions("moving").unwrap();
        (l == [BrokerPartition {
            broker: 2,
            partition: 0,
        }])
        .then_some(())
    });
    p.flush().unwrap();
    p.confirm("moving").unwrap();
    let got = Client::connect(b.local_addr())
        .unwrap()
        .fetch("moving", 0, 0, 1 << 20)
        .unwrap()
        .payloads()
        .unwrap();
    let want: Vec<Vec<u8>> = (0..10).map(|i| format!("m{i}").into_bytes()).collect();
    assert_eq!(got, want);
    assert_eq!(p.stats().rerouted, 10);
}

fn owners(zk: &ZkClient, group: &str, topic: &str) -> BTreeMap<String, String> {
    let base = format!("/consumers/{group}/owners/{topic}");
    zk.children(&base)
        .unwrap()
        .into_iter()
        .filter_map(|c| {
            let v = zk.get(&format!("{base}/{c}")).unwrap()?;
            Some((c, String::from_utf8(v).unwrap()))
        })
        .collect()
}

fn expect_owners(zk: &ZkClient, group: &str, topic: &str, want: &[(&str, &str)]) {
    let want: BTreeMap<String, String> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let mut last = BTreeMap::new();
    let end = Instant::now() + WAIT;
    while Instant::now() < end {
        last = owners(zk, group, topic);
        if last == want {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("owners {last:?}, want {want:?}");
}

#[test]
fn the_reference_rebalance_vector_and_its_second_half() {
    let Some(zk) = zk("vector") else { return };
    let b200 = broker(&zk, 200, BrokerConfig::in_memory().partitions(2));
    let b300 = broker(&zk, 300, BrokerConfig::in_memory().partitions(2));
    let b400 = broker(&zk, 400, BrokerConfig::in_memory().partitions(1));
    for b in [&b200, &b300, &b400] {
        produce(b.local_addr(), "t", 0, &["x"]);
    }
    let raw = ZkClient::connect(&zk).unwrap();
    eventually("three brokers registered for t", || {
        (raw.children("/brokers/topics/t").unwrap().len() == 3).then_some(())
    });
    let cfg = |id: &str| {
        GroupConfig::new(zk.clone(), "group1")
            .topic("t", 1)
            .consumer_id(id)
            .rebalance(10, Duration::from_millis(200))
    };
    let c1 = GroupConsumer::start(cfg("consumer1")).unwrap();
    let c2 = GroupConsumer::start(cfg("consumer2")).unwrap();
    assert_eq!(c1.consumer_id(), "group1_consumer1");
    // The registration: the subscription string, byte for byte.
    assert_eq!(
        raw.get("/consumers/group1/ids/group1_consumer1").unwrap(),
        Some(br#"{ "t": 1 }"#.to_vec())
    );
    let t1 = "group1_consumer1-0";
    let t2 = "group1_consumer2-0";
    expect_owners(
        &raw,
        "group1",
        "t",
        &[
            ("200-0", t1),
            ("200-1", t1),
            ("300-0", t1),
            ("300-1", t2),
            ("400-0", t2),
        ],
    );
    let bp = |broker, partition| ("t".to_owned(), BrokerPartition { broker, partition });
    eventually("c2 owns its share", || {
        (c2.owned() == [bp(300, 1), bp(400, 0)]).then_some(())
    });
    // Broker 400 goes.
    b400.shutdown().unwrap();
    expect_owners(
        &raw,
        "group1",
        "t",
        &[("200-0", t1), ("200-1", t1), ("300-0", t2), ("300-1", t2)],
    );
    eventually("c1 owns its share", || {
        (c1.owned() == [bp(200, 0), bp(200, 1)]).then_some(())
    });
    // Clean shutdown releases the owners and the registration.
    c1.shutdown().unwrap();
    expect_owners(
        &raw,
        "group1",
        "t",
        &[("200-0", t2), ("200-1", t2), ("300-0", t2), ("300-1", t2)],
    );
    assert_eq!(
        raw.get("/consumers/group1/ids/group1_consumer1").unwrap(),
        None
    );
    c2.shutdown().unwrap();
    expect_owners(&raw, "group1", "t", &[]);
}

#[test]
fn offsets_are_committed_to_zookeeper_and_the_next_member_resumes_there() {
    let Some(zk) = zk("offsets") else { return };
    let b = broker(&zk, 1, BrokerConfig::in_memory());
    let payloads: Vec<String> = (0..100).map(|i| format!("message {i:03}")).collect();
    let refs: Vec<&str> = payloads.iter().map(String::as_str).collect();
    produce(b.local_addr(), "t", 0, &refs);
    let cfg = GroupConfig::new(zk.clone(), "g")
        .topic("t", 1)
        .auto_commit(None);
    let a = GroupConsumer::start(cfg.clone().consumer_id("a")).unwrap();
    let s = &a.streams("t")[0];
    let mut last = None;
    #[allow(clippy::needless_range_loop)]
    for i in 0..40 {
        let m = s.next_timeout(WAIT).expect("a message");
        assert_eq!(m.payload, payloads[i].as_bytes());
        assert_eq!(
            m.partition,
            BrokerPartition {
                broker: 1,
                partition: 0
            }
        );
        assert_eq!(m.topic, "t");
        // 4-byte size + 6-byte header + 11-byte payload per message.
        assert_eq!(
            (m.offset, m.next_offset),
            (21 * i as u64, 21 * (i as u64 + 1))
        );
        last = Some(m);
    }
    a.commit().unwrap();
    let raw = ZkClient::connect(&zk).unwrap();
    assert_eq!(
        raw.get("/consumers/g/offsets/t/1-0").unwrap(),
        Some(last.unwrap().next_offset.to_string().into_bytes())
    );
    assert_eq!(
        raw.get_with_owner("/consumers/g/offsets/t/1-0")
            .unwrap()
            .unwrap()
            .1,
        0
    );
    a.shutdown().unwrap();
    assert_eq!(raw.get("/consumers/g/owners/t/1-0").unwrap(), None);
    // Shutdown committed what was taken (40 messages): the next member starts at 41.
    let b2 = GroupConsumer::start(cfg.consumer_id("b")).unwrap();
    let m = b2.streams("t")[0].next_timeout(WAIT).expect("a message");
    assert_eq!(m.payload, payloads[40].as_bytes());
    assert_eq!(m.offset, 840);
    let stats = b2.stats();
    assert_eq!((stats.rebalances, stats.sessions), (1, 1));
    b2.shutdown().unwrap();
    assert_eq!(
        raw.get("/consumers/g/offsets/t/1-0").unwrap(),
        Some(b"861".to_vec())
    );
}

#[test]
fn offset_out_of_range_resets_per_autooffset_reset_and_is_written_back_at_once() {
    let Some(zk) = zk("reset") else { return };
    let b = broker(&zk, 1, BrokerConfig::in_memory());
    produce(b.local_addr(), "t", 0, &["one", "two"]);
    let raw = ZkClient::connect(&zk).unwrap();
    raw.set("/consumers/g/offsets/t/1-0", b"999999").unwrap();
    let c = GroupConsumer::start(
        GroupConfig::new(zk.clone(), "g")
            .topic("t", 1)
            .auto_commit(None)
            .reset(OffsetReset::Earliest),
    )
    .unwrap();
    let m = c.streams("t")[0].next_timeout(WAIT).unwrap();
    assert_eq!((m.payload.as_slice(), m.offset), (&b"one"[..], 0));
    // Written back by the reset itself, not by a commit (auto-commit is off).
    eventually("reset written", || {
        (raw.get("/consumers/g/offsets/t/1-0").unwrap() == Some(b"0".to_vec())).then_some(())
    });
    assert_eq!(c.stats().resets, 1);
    c.shutdown().unwrap();
    // largest: jump to the end.
    raw.set("/consumers/g2/offsets/t/1-0", b"999999").unwrap();
    let c = GroupConsumer::start(
        GroupConfig::new(zk.clone(), "g2")
            .topic("t", 1)
            .auto_commit(None)
            .reset(OffsetReset::Latest),
    )
    .unwrap();
    eventually("reset to the end", || {
        (raw.get("/consumers/g2/offsets/t/1-0").unwrap() == Some(b"26".to_vec())).then_some(())
    });
    produce(b.local_addr(), "t", 0, &["three"]);
    let m = c.streams("t")[0].next_timeout(WAIT).unwrap();
    assert_eq!((m.payload.as_slice(), m.offset), (&b"three"[..], 26));
    c.shutdown().unwrap();
}

#[test]
fn malformed_znodes_written_by_others_are_reported_with_their_path_and_skipped() {
    let Some(zk) = zk("malformed") else { return };
    let raw = ZkClient::connect(&zk).unwrap();
    raw.create("/brokers/ids/99", b"garbage", false).unwrap();
    raw.create("/brokers/ids/98", b"c-1:::1:9092", false)
        .unwrap();
    raw.create("/brokers/ids/nan", b"c:127.0.0.1:1", false)
        .unwrap();
    raw.create("/brokers/topics/t/97", b"many", false).unwrap();
    raw.create("/consumers/g/ids/g_bad", b"{ not json", false)
        .unwrap();
    let b = broker(&zk, 1, BrokerConfig::in_memory());
    produce(b.local_addr(), "t", 0, &["x"]);
    let mut p = ZkProducer::connect(&zk, ProducerConfig::default()).unwrap();
    let list = eventually("t registered", || {
        let l = p.partitions("t").unwrap();
        (l == [BrokerPartition {
            broker: 1,
            partition: 0,
        }])
        .then_some(l)
    });
    assert_eq!(list.len(), 1);
    p.send("t", "y").unwrap();
    p.confirm("t").unwrap();
    let problems = p.problems().join("\n");
    for path in [
        "/brokers/ids/99",
        "/brokers/ids/98",
        "/brokers/ids/nan",
        "/brokers/topics/t/97",
    ] {
        assert!(problems.contains(path), "{path} not in {problems}");
    }
    assert!(problems.contains("IPv6"), "{problems}");
    let c = GroupConsumer::start(GroupConfig::new(zk.clone(), "g").topic("t", 1)).unwrap();
    let got: Vec<Vec<u8>> = (0..2)
        .map(|_| c.streams("t")[0].next_timeout(WAIT).unwrap().payload)
        .collect();
    assert_eq!(got, [b"x".to_vec(), b"y".to_vec()]);
    let problems = c.stats().problems.join("\n");
    assert!(problems.contains("/consumers/g/ids/g_bad"), "{problems}");
    assert!(problems.contains("/brokers/topics/t/97"), "{problems}");
    c.shutdown().unwrap();
}

#[test]
fn a_wildcard_subscription_spreads_matching_topics_over_its_streams() {
    let Some(zk) = zk("wildcard") else { return };
    let b = broker(&zk, 1, BrokerConfig::in_memory().partitions(2));
    for t in ["logs-a", "logs-b", "other"] {
        produce(b.local_addr(), t, 0, &[t]);
        produce(b.local_addr(), t, 1, &[t]);
    }
    let raw = ZkClient::connect(&zk).unwrap();
    eventually("topics registered", || {
        (raw.children("/brokers/topics").unwrap().len() == 3).then_some(())
    });
    let c = GroupConsumer::start(GroupConfig::new(zk.clone(), "w").subscription(
        Subscription::Whitelist {
            streams: 2,
            regex: "logs-.*".into(),
        },
    ))
    .unwrap();
    assert_eq!(
        raw.get(&format!("/consumers/w/ids/{}", c.consumer_id()))
            .unwrap(),
        Some(b"*2*logs-.*".to_vec())
    );
    let streams = c.streams("*");
    assert_eq!(streams.len(), 2);
    let mut got = Vec::new();
    for s in &streams {
        for _ in 0..2 {
            let m = s.next_timeout(WAIT).expect("two messages per stream");
            got.push((m.topic.clone(), m.partition.partition, s.name().to_owned()));
        }
    }
    got.sort();
    // Thread -0 owns partition 0 of each topic, -1 partition 1 (range per topic).
    assert_eq!(
        got,
        [
            ("logs-a".to_owned(), 0, "*-0".to_owned()),
            ("logs-a".to_owned(), 1, "*-1".to_owned()),
            ("logs-b".to_owned(), 0, "*-0".to_owned()),
            ("logs-b".to_owned(), 1, "*-1".to_owned()),
        ]
    );
    c.shutdown().unwrap();
}
