//! Delivery under churn, on a real ZooKeeper: 3 on-disk brokers x 4 partitions, 2 keyed
//! producers x 50,000 messages, a group of 3 consumer *processes*; mid-run one consumer is
//! killed with SIGKILL (its ephemeral nodes expire), one is added, and one broker is stopped
//! and restarted on its data directory. Every message must be consumed at least once, every
//! partition in order, and the only duplicates allowed are the killed consumer's messages
//! after its last commit; they are counted and printed.
//!
//! The consumers are this test binary run again (`churn_member`, an ignored test that only
//! does something when `delivery_under_churn` starts it with `KAFKA07_CHURN_MEMBER` set), so
//! that one of them can be killed for real.

mod zk_support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kafka07_io::zk::{BrokerPartition, GroupConfig, GroupConsumer, ZkClient, ZkConfig, ZkProducer};
use kafka07_io::{Broker, BrokerConfig, Client, OffsetReset, OffsetTime, ProducerConfig};
use zk_support::{available, chroot, eventually, shared};

const TOPIC: &str = "churn";
const GROUP: &str = "churners";
const PRODUCERS: usize = 2;
const PER_PRODUCER: usize = 50_000;
const ROUND: usize = 500;
const KEYS: usize = 97;
const SESSION: Duration = Duration::from_secs(3);
/// The whole run (production, churn, draining) must end within this.
const DEADLINE: Duration = Duration::from_secs(150);

/// One line a member printed: it took this message from its stream.
#[derive(Debug, Clone)]
struct Rec {
    member: String,
    bp: BrokerPartition,
    offset: u64,
    next: u64,
    payload: String,
}

fn zk_config(connect: &str) -> ZkConfig {
    ZkConfig::new(connect).session_timeout(SESSION)
}

/// A consumer process of the group: prints `REC\t<b-p>\t<offset>\t<next>\t<payload>` for
/// every message it takes (flushed before the offset can be committed: commits are manual,
/// after the print), and shuts down cleanly when its stdin closes.
#[test]
#[ignore = "a consumer process of delivery_under_churn, which starts it (KAFKA07_CHURN_MEMBER)"]
fn churn_member() {
    let Ok(spec) = std::env::var("KAFKA07_CHURN_MEMBER") else {
        eprintln!("churn_member runs only as a process started by delivery_under_churn");
        return;
    };
    let (connect, id) = spec.split_once('|').expect("connect|id");
    let consumer = GroupConsumer::start(
        GroupConfig::new(zk_config(connect), GROUP)
            .topic(TOPIC, 1)
            .consumer_id(id)
            .reset(OffsetReset::Earliest)
            .auto_commit(None)
            .rebalance(20, Duration::from_millis(250))
            .fetch_size(64 << 10),
    )
    .expect("member joins the group");
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
            stop.store(true, Ordering::SeqCst);
        });
    }
    let stream = consumer.streams(TOPIC).remove(0);
    let mut out = std::io::stdout().lock();
    writeln!(out, "JOINED").unwrap();
    out.flush().unwrap();
    let mut uncommitted = 0usize;
    while !stop.load(Ordering::SeqCst) {
        match stream.next_timeout(Duration::from_millis(100)) {
            Some(m) => {
                writeln!(
                    out,
                    "REC\t{}\t{}\t{}\t{}",
                    m.partition,
                    m.offset,
                    m.next_offset,
                    String::from_utf8_lossy(&m.payload)
                )
                .unwrap();
                out.flush().unwrap();
                uncommitted += 1;
                if uncommitted >= 250 {
                    consumer.commit().expect("commit");
                    uncommitted = 0;
                }
            }
            None if uncommitted > 0 => {
                consumer.commit().expect("commit");
                uncommitted = 0;
            }
            None => {}
        }
    }
    consumer.shutdown().expect("clean shutdown");
    writeln!(out, "DONE").unwrap();
    out.flush().unwrap();
}

struct Member {
    id: String,
    child: Child,
    stdin: Option<ChildStdin>,
    reader: Option<JoinHandle<()>>,
    joined: Receiver<()>,
}

impl Member {
    fn spawn(connect: &str, id: &str, tx: Sender<Rec>) -> Member {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "churn_member",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
                "-q",
            ])
            .env("KAFKA07_CHURN_MEMBER", format!("{connect}|{id}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn a member process");
        let stdout = child.stdout.take().unwrap();
        let (joined_tx, joined) = channel();
        let member = id.to_owned();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line == "JOINED" {
                    let _ = joined_tx.send(());
                }
                let Some(rest) = line.strip_prefix("REC\t") else {
                    continue;
                };
                let f: Vec<&str> = rest.splitn(4, '\t').collect();
                let rec = Rec {
                    member: member.clone(),
                    bp: BrokerPartition::parse(f[0]).expect("b-p"),
                    offset: f[1].parse().unwrap(),
                    next: f[2].parse().unwrap(),
                    payload: f[3].to_owned(),
                };
                if tx.send(rec).is_err() {
                    break;
                }
            }
        });
        Member {
            id: id.to_owned(),
            stdin: child.stdin.take(),
            child,
            reader: Some(reader),
            joined,
        }
    }

    fn wait_joined(&self) {
        self.joined
            .recv_timeout(Duration::from_secs(40))
            .unwrap_or_else(|_| panic!("member {} did not join", self.id));
    }

    /// Closes stdin (the member commits, releases and exits) and waits, bounded.
    fn stop(&mut self) {
        self.stdin.take();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(status.success(), "member {} exited with {status}", self.id);
                if let Some(r) = self.reader.take() {
                    r.join().unwrap();
                }
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        panic!("member {} did not shut down within 30 s", self.id);
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn start_broker(zk: &ZkConfig, id: u32, dir: &Path) -> Broker {
    Broker::start(
        BrokerConfig::on_disk(dir)
            .partitions(4)
            .visible_on_append(true)
            .zookeeper(zk.clone(), id),
    )
    .expect("broker starts")
}

/// What one producer thread did.
#[derive(Debug, Default)]
struct ProducerReport {
    resent_rounds: usize,
    rerouted: u64,
}

/// Sends `PER_PRODUCER` keyed messages `p<n>-<seq>` in rounds; a round is confirmed (every
/// broker written to has processed it) before the next starts, and re-sent whole when any
/// part of it failed (0.7 has no acks: a re-sent round may be stored twice, which the check
/// counts separately from consumer duplicates).
fn run_producer(connect: String, n: usize, progress: Arc<AtomicUsize>) -> ProducerReport {
    let mut producer = ZkProducer::connect(
        &zk_config(&connect),
        ProducerConfig::default().batch_messages(50),
    )
    .expect("producer connects");
    let started = Instant::now();
    let mut report = ProducerReport::default();
    for round in 0..PER_PRODUCER / ROUND {
        let mut attempt = 0;
        loop {
            let r = (|| -> kafka07_io::Result<()> {
                for seq in round * ROUND..(round + 1) * ROUND {
                    let key = format!("key-{}", (seq * 31 + n) % KEYS);
                    producer.send_keyed(TOPIC, key.as_bytes(), format!("p{n}-{seq}"))?;
                }
                producer.confirm(TOPIC)
            })();
            match r {
                Ok(()) => break,
                Err(e) => {
                    attempt += 1;
                    report.resent_rounds += 1;
                    assert!(
                        attempt < 100 && started.elapsed() < DEADLINE,
                        "producer {n} round {round}, attempt {attempt}: {e}"
                    );
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
        progress.fetch_add(ROUND, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(60));
    }
    report.rerouted = producer.stats().rerouted;
    producer.close().expect("producer closes");
    report
}

fn owners_of(zk: &ZkClient, member: &str) -> Vec<BrokerPartition> {
    let path = format!("/consumers/{GROUP}/owners/{TOPIC}");
    let mut owned = Vec::new();
    for child in zk.children(&path).unwrap_or_default() {
        if let Ok(Some(data)) = zk.get(&format!("{path}/{child}")) {
            if String::from_utf8_lossy(&data).starts_with(&format!("{GROUP}_{member}-")) {
                owned.push(BrokerPartition::parse(&child).unwrap());
            }
        }
    }
    owned
}

fn committed(zk: &ZkClient, bp: BrokerPartition) -> u64 {
    match zk.get(&format!("/consumers/{GROUP}/offsets/{TOPIC}/{bp}")) {
        Ok(Some(d)) => String::from_utf8(d).unwrap().trim().parse().unwrap(),
        _ => 0,
    }
}

#[test]
fn delivery_under_churn() {
    if !available("delivery_under_churn") {
        return;
    }
    let connect = shared().connect(&chroot("churn"));
    let zk = zk_config(&connect);
    let raw = ZkClient::connect(&zk).expect("zk");
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut brokers: BTreeMap<u32, Broker> = (1..=3)
        .map(|id| (id, start_broker(&zk, id, dirs[id as usize - 1].path())))
        .collect();

    let (tx, rx) = channel::<Rec>();
    let mut members: Vec<Member> = ["m1", "m2", "m3"]
        .iter()
        .map(|id| Member::spawn(&connect, id, tx.clone()))
        .collect();
    for m in &members {
        m.wait_joined();
    }

    let progress = Arc::new(AtomicUsize::new(0));
    let producers: Vec<JoinHandle<ProducerReport>> = (0..PRODUCERS)
        .map(|n| {
            let (c, p) = (connect.clone(), progress.clone());
            std::thread::spawn(move || run_producer(c, n, p))
        })
        .collect();

    let total = PRODUCERS * PER_PRODUCER;
    let start = Instant::now();
    let mut records: Vec<Rec> = Vec::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let drain = |records: &mut Vec<Rec>, seen: &mut BTreeSet<String>| {
        while let Ok(r) = rx.try_recv() {
            seen.insert(r.payload.clone());
            records.push(r);
        }
    };
    let wait_progress = |at: usize| {
        while progress.load(Ordering::SeqCst) < at {
            assert!(
                start.elapsed() < DEADLINE,
                "production stalled at {progress:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    };

    // 1. Kill m1 for real once it is consuming.
    wait_progress(total / 4);
    let killed = "m1";
    // The group has rebalanced onto the topic the producers created.
    let killed_owned_before = eventually("m1 owns partitions", || {
        let o = owners_of(&raw, killed);
        (!o.is_empty()).then_some(o)
    });
    members[0].child.kill().expect("SIGKILL m1");
    members[0].child.wait().unwrap();
    // Its owner nodes stay until its session expires, and no one else can write its offsets
    // before they go: what is in ZooKeeper now is its last commit.
    let killed_owned = owners_of(&raw, killed);
    assert!(
        !killed_owned.is_empty(),
        "m1 owned nothing when killed (before: {killed_owned_before:?})"
    );
    let committed_at_kill: BTreeMap<BrokerPartition, u64> = killed_owned
        .iter()
        .map(|&bp| (bp, committed(&raw, bp)))
        .collect();
    let kill_time = start.elapsed();

    // 2. A fourth member joins.
    wait_progress(total * 2 / 5);
    members.push(Member::spawn(&connect, "m4", tx.clone()));
    members.last().unwrap().wait_joined();

    // 3. Broker 3 stops and comes back on its data directory.
    wait_progress(total * 3 / 5);
    brokers
        .remove(&3)
        .unwrap()
        .shutdown()
        .expect("broker 3 stops");
    std::thread::sleep(Duration::from_secs(1));
    brokers.insert(3, start_broker(&zk, 3, dirs[2].path()));
    let restarted_at = progress.load(Ordering::SeqCst);
    assert!(
        restarted_at < total,
        "production ended before broker 3 was back: the churn did not overlap it"
    );
    drop(tx);

    let reports: Vec<ProducerReport> = producers.into_iter().map(|h| h.join().unwrap()).collect();
    let produced_at = start.elapsed();
    eventually("the m1 owner nodes expire", || {
        owners_of(&raw, killed).is_empty().then_some(())
    });
    while seen.len() < total && start.elapsed() < DEADLINE {
        drain(&mut records, &mut seen);
        std::thread::sleep(Duration::from_millis(20));
    }
    drain(&mut records, &mut seen);
    let drained_at = start.elapsed();
    for m in members.iter_mut().skip(1) {
        m.stop();
    }
    drain(&mut records, &mut seen);

    // Every message consumed at least once.
    let missing: Vec<String> = (0..PRODUCERS)
        .flat_map(|n| (0..PER_PRODUCER).map(move |s| format!("p{n}-{s}")))
        .filter(|p| !seen.contains(p))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {total} messages never consumed, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );

    // One payload per (partition, offset), and each member's offsets of a partition strictly
    // increase (the broker's order kept).
    let mut stored: BTreeMap<BrokerPartition, BTreeMap<u64, (u64, String)>> = BTreeMap::new();
    let mut deliveries: HashMap<(BrokerPartition, u64), Vec<String>> = HashMap::new();
    let mut last: HashMap<(String, BrokerPartition), u64> = HashMap::new();
    for r in &records {
        let entry = stored
            .entry(r.bp)
            .or_default()
            .entry(r.offset)
            .or_insert((r.next, r.payload.clone()));
        assert_eq!(
            *entry,
            (r.next, r.payload.clone()),
            "{} offset {} delivered with two contents",
            r.bp,
            r.offset
        );
        if let Some(prev) = last.insert((r.member.clone(), r.bp), r.offset) {
            assert!(
                r.offset > prev,
                "{} took {} offset {} after {prev}",
                r.member,
                r.bp,
                r.offset
            );
        }
        deliveries
            .entry((r.bp, r.offset))
            .or_default()
            .push(r.member.clone());
    }

    // Each partition consumed as one unbroken chain from 0 to the broker's end.
    let mut stored_messages = 0usize;
    for (bp, chain) in &stored {
        let broker = &brokers[&bp.broker];
        let mut c = Client::connect(broker.local_addr()).unwrap();
        let latest = c
            .offsets(TOPIC, bp.partition as i32, OffsetTime::Latest, 1)
            .unwrap()[0];
        let mut expect = 0u64;
        for (&offset, (next, _)) in chain {
            assert_eq!(offset, expect, "{bp}: a gap before offset {offset}");
            expect = *next;
        }
        assert_eq!(
            expect, latest,
            "{bp}: consumed up to {expect}, the log ends at {latest}"
        );
        stored_messages += chain.len();
    }

    // Duplicates: only the killed member's messages after its last commit.
    let mut consumer_dups = 0usize;
    for ((bp, offset), who) in &deliveries {
        if who.len() > 1 {
            consumer_dups += who.len() - 1;
            let from = committed_at_kill.get(bp).copied();
            assert!(
                who.iter().any(|m| m == killed) && from.is_some_and(|c| *offset >= c),
                "{bp} offset {offset} delivered {} times ({who:?}); m1 owned {killed_owned:?} \
                 with commits {committed_at_kill:?}",
                who.len()
            );
        }
    }
    let producer_dups = stored_messages - seen.len();
    let resent: usize = reports.iter().map(|r| r.resent_rounds).sum();
    let rerouted: u64 = reports.iter().map(|r| r.rerouted).sum();
    assert!(
        producer_dups == 0 || resent > 0 || rerouted > 0,
        "{producer_dups} messages stored twice without a re-send"
    );
    println!(
        "churn: {total} sent by {PRODUCERS} keyed producers, {stored_messages} stored on {} \
         partitions, {} deliveries to 4 members; m1 killed at {:.1} s owning {} (last commits \
         {}); broker 3 back after {restarted_at} sent; consumer duplicates {consumer_dups} (all \
         m1's, after its last commit); producer rounds re-sent {resent}, batches re-routed \
         {rerouted}, stored twice {producer_dups}; produced in {:.1} s, drained in {:.1} s",
        stored.len(),
        records.len(),
        kill_time.as_secs_f64(),
        killed_owned
            .iter()
            .map(|bp| bp.to_string())
            .collect::<Vec<_>>()
            .join(","),
        committed_at_kill
            .iter()
            .map(|(bp, c)| format!("{bp}@{c}"))
            .collect::<Vec<_>>()
            .join(","),
        produced_at.as_secs_f64(),
        drained_at.as_secs_f64(),
    );
    for b in brokers.into_values() {
        b.shutdown().unwrap();
    }
}
