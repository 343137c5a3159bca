//! ZooKeeper faults, each on a server of its own: the ensemble lost mid-run and back
//! (sessions kept), and session expiry (server frozen past the session timeout).

mod zk_support;

use std::time::Duration;

use kafka07_io::zk::{BrokerPartition, GroupConfig, GroupConsumer, ZkClient, ZkConfig, ZkProducer};
use kafka07_io::{Broker, BrokerConfig, Client, ProducerConfig};
use zk_support::{available, eventually, ZkServer, WAIT};

fn produce(addr: std::net::SocketAddr, topic: &str, payloads: &[&str]) {
    let mut c = Client::connect(addr).unwrap();
    c.produce(topic, 0, &kafka07_io::encode_messages(payloads).unwrap())
        .unwrap();
    c.confirm(topic).unwrap();
}

fn take(c: &GroupConsumer, n: usize) -> Vec<String> {
    let s = &c.streams("t")[0];
    (0..n)
        .map(|_| String::from_utf8(s.next_timeout(WAIT).expect("a message").payload).unwrap())
        .collect()
}

#[test]
fn zookeeper_lost_mid_run_everything_keeps_its_state_and_resumes() {
    if !available("zookeeper_lost") {
        return;
    }
    let mut server = ZkServer::start_with_tick(100);
    // A long session timeout: the server is away for a few seconds (a JVM restart), well
    // within it, so every session survives.
    let zk = ZkConfig::new(server.connect("lost")).session_timeout(Duration::from_secs(20));
    let broker = Broker::start(
        BrokerConfig::in_memory()
            .visible_on_append(true)
            .zookeeper(zk.clone(), 1),
    )
    .unwrap();
    produce(broker.local_addr(), "t", &["before"]);
    let mut producer =
        ZkProducer::connect(&zk, ProducerConfig::default().batch_messages(1)).unwrap();
    eventually("t registered", || {
        (producer.partitions("t").unwrap()
            == [BrokerPartition {
                broker: 1,
                partition: 0,
            }])
        .then_some(())
    });
    producer.send("t", "p1").unwrap();
    producer.confirm("t").unwrap();
    let consumer = GroupConsumer::start(GroupConfig::new(zk.clone(), "g").topic("t", 1)).unwrap();
    assert_eq!(take(&consumer, 2), ["before", "p1"]);
    let owned = consumer.owned();
    let broker_session = broker.registration().unwrap().session_id();

    server.stop();
    eventually("the consumer pauses", || {
        consumer.stats().paused.then_some(())
    });
    // The broker keeps serving, the producer keeps its last view.
    produce(broker.local_addr(), "t", &["during-raw"]);
    producer.send("t", "during-zk").unwrap();
    producer.confirm("t").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(consumer.stats().paused);
    assert!(consumer.streams("t")[0]
        .next_timeout(Duration::from_millis(300))
        .is_none());

    server.restart();
    eventually("the consumer resumes", || {
        (!consumer.stats().paused).then_some(())
    });
    assert_eq!(take(&consumer, 2), ["during-raw", "during-zk"]);
    // Same sessions: nothing was re-registered, nothing rebalanced.
    assert_eq!(consumer.owned(), owned);
    assert_eq!(consumer.stats().sessions, 1);
    assert_eq!(broker.registration().unwrap().sessions(), 1);
    assert_eq!(broker.registration().unwrap().session_id(), broker_session);
    consumer.shutdown().unwrap();
}

#[test]
fn session_expiry_re_registers_the_broker_and_the_consumer_and_nothing_is_lost() {
    if !available("session_expiry") {
        return;
    }
    let server = ZkServer::start_with_tick(100);
    let zk = ZkConfig::new(server.connect("expiry")).session_timeout(Duration::from_millis(1500));
    let broker = Broker::start(
        BrokerConfig::in_memory()
            .visible_on_append(true)
            .zookeeper(zk.clone(), 1),
    )
    .unwrap();
    produce(broker.local_addr(), "t", &["a1", "a2"]);
    // The test's own reader gets a roomy session: only the broker's and the consumer's are
    // meant to expire, and a loaded machine can take longer than 1.5 s to connect.
    let reader = ZkConfig::new(server.connect("expiry")).session_timeout(Duration::from_secs(10));
    let raw = ZkClient::connect(&reader).unwrap();
    eventually("t registered", || {
        raw.get("/brokers/topics/t/1").unwrap().map(|_| ())
    });
    let consumer = GroupConsumer::start(
        GroupConfig::new(zk.clone(), "g")
            .topic("t", 1)
            .consumer_id("c")
            .auto_commit(None)
            .rebalance(20, Duration::from_millis(200)),
    )
    .unwrap();
    assert_eq!(take(&consumer, 1), ["a1"]);
    consumer.commit().unwrap();
    let old_broker = broker.registration().unwrap().session_id();
    drop(raw);

    // Frozen past the session timeout: the server expires every session when it runs again.
    server.pause();
    std::thread::sleep(Duration::from_secs(5));
    server.resume();

    eventually("the broker re-registers", || {
        (broker.registration().unwrap().sessions() == 2).then_some(())
    });
    eventually("the consumer re-registers", || {
        (consumer.stats().sessions == 2 && consumer.stats().rebalances >= 2).then_some(())
    });
    let reg = broker.registration().unwrap();
    assert_ne!(reg.session_id(), old_broker);
    let raw = ZkClient::connect(&reader).unwrap();
    let (data, owner) = raw.get_with_owner("/brokers/ids/1").unwrap().unwrap();
    assert_eq!(data, reg.info().encode().into_bytes());
    assert_eq!(owner, reg.session_id());
    assert_eq!(
        raw.get_with_owner("/brokers/topics/t/1").unwrap(),
        Some((b"1".to_vec(), reg.session_id()))
    );
    assert_eq!(
        raw.get("/consumers/g/ids/g_c").unwrap(),
        Some(br#"{ "t": 1 }"#.to_vec())
    );
    eventually("the partition owned again", || {
        (raw.get("/consumers/g/owners/t/1-0").unwrap() == Some(b"g_c-0".to_vec())).then_some(())
    });
    // Nothing lost: a2 (queued before the expiry, not taken) comes again, then new data.
    produce(broker.local_addr(), "t", &["b1"]);
    assert_eq!(take(&consumer, 2), ["a2", "b1"]);
    consumer.shutdown().unwrap();
    assert_eq!(
        raw.get("/consumers/g/offsets/t/1-0").unwrap(),
        Some(b"36".to_vec())
    );
}
