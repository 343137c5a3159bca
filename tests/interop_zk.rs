//! samsa's ZooKeeper mode (its `Cluster` over kazoo: `Topic.publish` and the balanced
//! `Consumer`) against kafka07 brokers registered in the same real ZooKeeper
//! (tests/interop/samsa_zk.py drives samsa as a child process):
//!
//! * `samsa_zk_producer_to_kafka07_brokers`: samsa discovers our brokers and topic
//!   registration and publishes; every message is stored exactly once, and kafka07's group
//!   consumer reads them all back from where samsa put them;
//! * `samsa_balanced_consumers_read_kafka07_keyed_topic`: two samsa consumers in one group
//!   split a topic that kafka07's `ZkProducer` wrote with keys; each reads only what it owns,
//!   together every message exactly once, each key from the partition the reference
//!   partitioner chose; `groups` reads samsa's committed offsets.
//!
//! samsa's consumer group protocol is its own (its `/consumers/<g>/ids` nodes hold the topic
//! name, not the reference's subscription JSON), so samsa and kafka07 consumers cannot share
//! a group; INTEROP.md says so. Needs the interop peers (tests/interop/setup.sh) and
//! ZooKeeper (Debian's package); without either, a loud SKIPPED.

mod interop_common;
#[path = "../kafka07-io/tests/zk_support/mod.rs"]
mod zk_support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use interop_common::{harness_dir, peers_or_skip, save_evidence, unhex, Installed};
use kafka07::io::zk::{
    default_partition, BrokerPartition, GroupConfig, GroupConsumer, ZkClient, ZkConfig, ZkProducer,
};
use kafka07::io::{Broker, BrokerConfig, Client, FetchSpec, OffsetTime, ProducerConfig};
use serde_json::Value;
use zk_support::{available, chroot, eventually, shared};

fn setup(test: &str) -> Option<(Installed, ZkConfig)> {
    let inst = peers_or_skip(test)?;
    if !available(test) {
        return None;
    }
    let zk = ZkConfig::new(shared().connect(&chroot(test))).session_timeout(Duration::from_secs(6));
    Some((inst, zk))
}

fn brokers(zk: &ZkConfig) -> Vec<Broker> {
    (1..=2)
        .map(|id| {
            Broker::start(
                BrokerConfig::in_memory()
                    .partitions(2)
                    .visible_on_append(true)
                    .zookeeper(zk.clone(), id),
            )
            .expect("broker starts")
        })
        .collect()
}

/// Runs samsa_zk.py with `args`, bounded; its JSON line.
fn samsa(inst: &Installed, args: &[&str], label: &str) -> Value {
    let mut child = Command::new(&inst.python)
        .arg(harness_dir().join("samsa_zk.py"))
        .args(args)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs");
    // Both pipes are drained while it runs, so a chatty child cannot block on a full pipe.
    let drain = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let out_t = drain(Box::new(child.stdout.take().unwrap()));
    let err_t = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + Duration::from_secs(90);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("samsa_zk.py {args:?} did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let (out, err) = (out_t.join().unwrap(), err_t.join().unwrap());
    let stderr = String::from_utf8_lossy(&err);
    let line = String::from_utf8_lossy(&out);
    let v: Value = serde_json::from_str(line.trim()).unwrap_or_else(|e| {
        panic!("samsa_zk.py {args:?}: no JSON ({e}); stdout {line:?}, stderr:\n{stderr}")
    });
    save_evidence(
        label,
        &serde_json::json!({"args": args, "result": v, "stderr": stderr}),
    );
    v
}

/// Every message of `topic` on the brokers: `(b-p, offset) -> payload`.
fn stored(brokers: &[Broker], ids: &[u32], topic: &str) -> BTreeMap<(String, u64), String> {
    let mut all = BTreeMap::new();
    for (b, id) in brokers.iter().zip(ids) {
        let mut c = Client::connect(b.local_addr()).unwrap();
        for p in 0..2 {
            let f = c
                .multifetch(&[FetchSpec::new(topic, p, 0, 1 << 20)])
                .unwrap()
                .remove(0)
                .check()
                .unwrap();
            for m in f.message_set().shallow() {
                let m = m.unwrap();
                all.insert(
                    (format!("{id}-{p}"), m.position),
                    String::from_utf8(m.message.payload().to_vec()).unwrap(),
                );
            }
        }
    }
    all
}

#[test]
fn samsa_zk_producer_to_kafka07_brokers() {
    let Some((inst, zk)) = setup("samsa_zk_producer_to_kafka07_brokers") else {
        return;
    };
    let bs = brokers(&zk);
    let out = samsa(
        &inst,
        &[
            "produce",
            "--zk",
            &zk.connect,
            "--topic",
            "sz",
            "--prefix",
            "s",
            "--count",
            "600",
            "--batch",
            "20",
        ],
        "samsa_zk_produce",
    );
    assert_eq!(out["published"], 600);
    // samsa saw our topic registration once the first produce created it (2 x 2 partitions).
    assert_eq!(
        out["partitions"],
        serde_json::json!(["1-0", "1-1", "2-0", "2-1"])
    );
    let on_disk = stored(&bs, &[1, 2], "sz");
    let payloads: BTreeSet<&str> = on_disk.values().map(String::as_str).collect();
    assert_eq!(on_disk.len(), 600, "every publish stored once");
    assert_eq!(
        payloads,
        (0..600)
            .map(|i| format!("s-{i}"))
            .collect::<BTreeSet<_>>()
            .iter()
            .map(String::as_str)
            .collect()
    );
    // samsa spreads its publishes over the brokers it discovered.
    let per_broker: BTreeSet<char> = on_disk
        .keys()
        .map(|(bp, _)| bp.chars().next().unwrap())
        .collect();
    assert_eq!(per_broker, BTreeSet::from(['1', '2']));

    // kafka07's group consumer reads all of it, from where it is stored.
    let group = GroupConsumer::start(GroupConfig::new(zk.clone(), "k07").topic("sz", 1)).unwrap();
    let stream = group.streams("sz").remove(0);
    let mut got = BTreeMap::new();
    while got.len() < 600 {
        let m = stream
            .next_timeout(Duration::from_secs(20))
            .unwrap_or_else(|| panic!("only {} of 600 consumed", got.len()));
        let key = (m.partition.to_string(), m.offset);
        assert!(got
            .insert(key, String::from_utf8(m.payload).unwrap())
            .is_none());
    }
    assert_eq!(got, on_disk);
    group.shutdown().unwrap();
    for b in bs {
        b.shutdown().unwrap();
    }
}

#[test]
fn samsa_balanced_consumers_read_kafka07_keyed_topic() {
    let Some((inst, zk)) = setup("samsa_balanced_consumers_read_kafka07_keyed_topic") else {
        return;
    };
    let bs = brokers(&zk);
    // The topic exists (4 partitions registered) before samsa subscribes.
    for b in &bs {
        let mut c = Client::connect(b.local_addr()).unwrap();
        for p in 0..2 {
            c.produce("kt", p, &kafka07::io::encode_messages(&["warm"]).unwrap())
                .unwrap();
        }
        c.confirm("kt").unwrap();
    }
    let raw = ZkClient::connect(&zk).unwrap();
    eventually("kt registered on both brokers", || {
        (raw.children("/brokers/topics/kt").ok()?.len() == 2).then_some(())
    });

    // Two samsa members join and split the 4 partitions; they read until 2 s idle.
    let connect = zk.connect.clone();
    let dir = tempfile::tempdir().unwrap();
    let stop_path = dir.path().join("stop");
    let stop_file = stop_path.display().to_string();
    let members: Vec<std::thread::JoinHandle<Value>> = ["a", "b"]
        .iter()
        .map(|name| {
            let (inst, connect, stop_file) = (inst.clone(), connect.clone(), stop_file.clone());
            let label = format!("samsa_zk_consume_{name}");
            std::thread::spawn(move || {
                samsa(
                    &inst,
                    &[
                        "consume",
                        "--zk",
                        &connect,
                        "--topic",
                        "kt",
                        "--group",
                        "sg",
                        "--count",
                        "1000000",
                        "--timeout",
                        "60",
                        "--stop-file",
                        &stop_file,
                        "--idle",
                        "2",
                    ],
                    &label,
                )
            })
        })
        .collect();
    eventually("both samsa members own 2 partitions each", || {
        let owners = raw.children("/consumers/sg/owners/kt").ok()?;
        let ids = raw.children("/consumers/sg/ids").ok()?;
        (owners.len() == 4 && ids.len() == 2).then_some(())
    });

    let mut producer =
        ZkProducer::connect(&zk, ProducerConfig::default().batch_messages(20)).unwrap();
    let list = eventually("4 partitions in the producer's view", || {
        let l = producer.partitions("kt").ok()?;
        (l.len() == 4).then_some(l)
    });
    let mut expected: BTreeMap<String, BrokerPartition> = BTreeMap::new();
    for i in 0..400 {
        let key = format!("user-{}", i % 37);
        producer
            .send_keyed("kt", key.as_bytes(), format!("{key}/{i}"))
            .unwrap();
        let at = list[default_partition(key.as_bytes(), 4) as usize];
        expected.insert(format!("{key}/{i}"), at);
    }
    producer.confirm("kt").unwrap();
    producer.close().unwrap();
    // The members stop once this names every partition's log end, they have read up to it,
    // and they have read nothing for 2 s (written whole, then renamed into place).
    let mut ends = String::new();
    for (i, b) in bs.iter().enumerate() {
        let mut c = Client::connect(b.local_addr()).unwrap();
        for p in 0..2 {
            let end = c.offsets("kt", p, OffsetTime::Latest, 1).unwrap()[0];
            ends.push_str(&format!("{}-{p} {end}\n", i + 1));
        }
    }
    let partial = dir.path().join("stop.partial");
    std::fs::write(&partial, ends).unwrap();
    std::fs::rename(&partial, &stop_path).unwrap();

    let outs: Vec<Value> = members.into_iter().map(|h| h.join().unwrap()).collect();
    let mut owned_all = BTreeSet::new();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut warm = BTreeSet::new();
    for out in &outs {
        let owned: BTreeSet<String> = out["owned"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(owned.len(), 2, "samsa splits 4 partitions 2 + 2: {out}");
        let mut last: BTreeMap<String, u64> = BTreeMap::new();
        for m in out["messages"].as_array().unwrap() {
            let bp = m["partition"].as_str().unwrap().to_owned();
            let offset = m["offset"].as_u64().unwrap();
            if let Some(prev) = last.insert(bp.clone(), offset) {
                assert!(offset > prev, "{bp}: offset {offset} after {prev}");
            }
            let payload = String::from_utf8(unhex(m["payload_hex"].as_str().unwrap())).unwrap();
            if payload == "warm" {
                // Read before the second member joined, possibly from a partition this
                // member gave up in the rebalance (samsa commits what it read first).
                warm.insert(bp);
                continue;
            }
            // The keyed messages were produced after both members owned their half.
            assert!(
                owned.contains(&bp),
                "{payload} from {bp}, not owned by this member"
            );
            assert!(
                seen.insert(payload.clone(), bp).is_none(),
                "{payload} twice"
            );
        }
        for bp in &owned {
            assert!(owned_all.insert(bp.clone()), "{bp} owned by both members");
        }
    }
    assert_eq!(owned_all.len(), 4);
    assert_eq!(
        warm.len(),
        4,
        "the warm-up message of every partition: {warm:?}"
    );
    assert_eq!(seen.len(), 400, "every keyed message consumed once");
    for (payload, bp) in &seen {
        assert_eq!(
            bp,
            &expected[payload].to_string(),
            "{payload}: not on the reference partitioner's partition"
        );
    }

    // samsa commits where the reference layout keeps offsets, and what it committed is each
    // log's end: kafka07's group view reads them with no lag.
    let view = kafka07::io::zk::group_view(&raw, "sg", false).unwrap();
    let mut committed = 0;
    for out in &outs {
        for (bp, off) in out["committed"].as_object().unwrap() {
            let at = BrokerPartition::parse(bp).unwrap();
            let b = &bs[at.broker as usize - 1];
            let latest = Client::connect(b.local_addr())
                .unwrap()
                .offsets("kt", at.partition as i32, OffsetTime::Latest, 1)
                .unwrap()[0];
            assert_eq!(
                off.as_u64(),
                Some(latest),
                "{bp}: samsa committed {off}, log end {latest}"
            );
            let row = view
                .partitions
                .iter()
                .find(|r| r.topic == "kt" && r.partition == at)
                .unwrap_or_else(|| panic!("{bp} missing from the group view"));
            assert_eq!(row.committed, Some(latest));
            committed += 1;
        }
    }
    assert_eq!(committed, 4);
    for b in bs {
        b.shutdown().unwrap();
    }
}
