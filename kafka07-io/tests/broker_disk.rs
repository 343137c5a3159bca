//! The broker on disk in the real 0.7 layout: restart, recovery of a torn tail, segment chain
//! gaps, the clean-shutdown marker, and the 0.7.2 reference's own log segment.

mod support;

use std::io::Write;
use std::ops::ControlFlow;
use std::path::Path;

use kafka07_io::proto::Codec;
use kafka07_io::{
    Broker, BrokerConfig, Client, Consumer, ConsumerConfig, Error, OffsetTime, Producer,
    ProducerConfig, StartAt, CLEAN_SHUTDOWN_FILE,
};
use support::*;

fn disk(dir: &Path) -> Broker {
    Broker::start(BrokerConfig::on_disk(dir).visible_on_append(true)).unwrap()
}

fn produce_mixed(addr: std::net::SocketAddr, topic: &str, from: usize, to: usize) -> Vec<Vec<u8>> {
    let mut sent = Vec::new();
    for (i, codec) in [Codec::None, Codec::Gzip, Codec::Snappy]
        .into_iter()
        .enumerate()
    {
        let mut p = Producer::new(
            addr,
            ProducerConfig::default().codec(codec).batch_messages(10),
        );
        for n in from..to {
            let m = format!("{topic}/{i}/{n}").into_bytes();
            p.send_to(topic, 0, &m).unwrap();
            sent.push(m);
        }
        p.confirm(topic).unwrap();
    }
    sent
}

fn consume(addr: std::net::SocketAddr, topic: &str, n: usize) -> Vec<Vec<u8>> {
    let mut c = Consumer::new(addr, topic, 0, ConsumerConfig::default());
    c.take(n + 1, std::time::Duration::from_millis(300))
        .unwrap()
        .into_iter()
        .map(|m| m.payload)
        .collect()
}

fn last_segment(dir: &Path) -> std::path::PathBuf {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "kafka"))
        .collect();
    files.sort();
    files.pop().unwrap()
}

#[test]
fn restart_after_clean_shutdown_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let b = disk(dir.path());
    let sent = produce_mixed(b.local_addr(), "keep", 0, 50);
    b.shutdown().unwrap();
    assert!(dir.path().join(CLEAN_SHUTDOWN_FILE).exists());

    let b = disk(dir.path());
    let report = b.startup_report().clone();
    assert!(report.clean_shutdown);
    assert!(report.recovered.is_empty());
    assert_eq!(report.partitions, 1);
    // The marker is removed at start-up.
    assert!(!dir.path().join(CLEAN_SHUTDOWN_FILE).exists());
    assert_eq!(consume(b.local_addr(), "keep", sent.len()), sent);
    // Appends continue at the old end.
    let more = produce_mixed(b.local_addr(), "keep", 50, 60);
    assert_eq!(consume(b.local_addr(), "keep", 180), [sent, more].concat());
}

#[test]
fn restart_after_a_crash_recovers_and_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let b = Broker::start(BrokerConfig::on_disk(dir.path()).flush_interval_messages(1)).unwrap();
    let sent = produce_mixed(b.local_addr(), "crash", 0, 40);
    b.abort();
    assert!(!dir.path().join(CLEAN_SHUTDOWN_FILE).exists());
    let b = disk(dir.path());
    let report = b.startup_report();
    assert!(!report.clean_shutdown);
    assert_eq!(report.recovered.len(), 1);
    assert_eq!(report.truncated_bytes(), 0);
    assert_eq!(consume(b.local_addr(), "crash", sent.len()), sent);
}

fn torn_tail(junk: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let b = disk(dir.path());
    let sent = produce_mixed(b.local_addr(), "torn", 0, 20);
    let end_before = Client::connect(b.local_addr())
        .unwrap()
        .offsets("torn", 0, OffsetTime::Latest, 1)
        .unwrap()[0];
    b.abort();
    let seg = last_segment(&dir.path().join("torn-0"));
    std::fs::OpenOptions::new()
        .append(true)
        .open(&seg)
        .unwrap()
        .write_all(junk)
        .unwrap();

    let b = disk(dir.path());
    let report = b.startup_report();
    assert_eq!(report.recovered.len(), 1);
    assert_eq!(report.recovered[0].topic, "torn");
    assert_eq!(report.recovered[0].segment, seg);
    assert_eq!(report.recovered[0].truncated_bytes, junk.len() as u64);
    assert_eq!(std::fs::metadata(&seg).unwrap().len(), end_before);
    let mut c = Client::connect(b.local_addr()).unwrap();
    assert_eq!(
        c.offsets("torn", 0, OffsetTime::Latest, 1).unwrap(),
        [end_before]
    );
    assert_eq!(consume(b.local_addr(), "torn", sent.len()), sent);
    // New data goes right after the recovered end and is readable.
    let more = produce_mixed(b.local_addr(), "torn", 20, 25);
    assert_eq!(consume(b.local_addr(), "torn", 75), [sent, more].concat());
}

#[test]
fn torn_tail_half_a_message_is_recovered_and_reported() {
    let m = plain(&[b"a message that was being written when the broker died"]);
    torn_tail(&m[..m.len() / 2]);
}

#[test]
fn torn_tail_junk_bytes_are_recovered_and_reported() {
    torn_tail(&[0xde, 0xad, 0xbe, 0xef, 0x00, 0x11, 0x22]);
}

#[test]
fn torn_tail_of_zero_bytes_is_recovered_for_every_length() {
    // FileMessageSetTest: 0, 2, 4, 5 or 6 zero bytes appended are truncated away.
    for n in [2usize, 4, 5, 6] {
        torn_tail(&vec![0u8; n]);
    }
}

#[test]
fn torn_tail_with_a_bad_crc_is_recovered() {
    let mut m = plain(&[b"corrupted"]);
    let last = m.len() - 1;
    m[last] ^= 1;
    torn_tail(&m);
}

#[test]
fn torn_tail_with_an_unknown_magic_is_recovered() {
    // E35: the reference aborts start-up here; this broker truncates.
    let mut m = plain(&[b"odd magic"]);
    m[4] = 7;
    torn_tail(&m);
}

#[test]
fn segment_chain_gap_is_a_startup_error() {
    // LogTest: segment files 0 and 15 with no data fail to load.
    let dir = tempfile::tempdir().unwrap();
    let part = dir.path().join("gap-0");
    std::fs::create_dir(&part).unwrap();
    std::fs::write(part.join("00000000000000000000.kafka"), b"").unwrap();
    std::fs::write(part.join("00000000000000000015.kafka"), b"").unwrap();
    let err = Broker::start(BrokerConfig::on_disk(dir.path())).unwrap_err();
    match &err {
        Error::Storage { path, reason } => {
            assert!(
                path.ends_with("gap-0/00000000000000000015.kafka"),
                "{path:?}"
            );
            assert!(reason.contains("gap"), "{reason}");
        }
        other => panic!("expected a storage error, got {other}"),
    }
}

#[test]
fn a_log_starting_after_zero_reads_as_the_reference_does() {
    // LogTest: reading at the end of a log that starts at 1024 returns nothing; 0 and 1025 are
    // out of range.
    let dir = tempfile::tempdir().unwrap();
    let part = dir.path().join("late-0");
    std::fs::create_dir(&part).unwrap();
    std::fs::write(part.join("00000000000000001024.kafka"), b"").unwrap();
    let b = disk(dir.path());
    let mut c = Client::connect(b.local_addr()).unwrap();
    assert_eq!(
        c.fetch("late", 0, 1024, 100).unwrap().data,
        Vec::<u8>::new()
    );
    for off in [0, 1025] {
        assert_eq!(
            c.fetch("late", 0, off, 100).unwrap_err().code().unwrap().0,
            1
        );
    }
    // E32: latest on an empty active segment is its start.
    assert_eq!(
        c.offsets("late", 0, OffsetTime::Latest, 10).unwrap(),
        [1024]
    );
    assert_eq!(
        c.offsets("late", 0, OffsetTime::Earliest, 10).unwrap(),
        [1024]
    );
    c.produce("late", 0, &plain(&[b"x"])).unwrap();
    c.confirm("late").unwrap();
    assert_eq!(
        c.offsets("late", 0, OffsetTime::Latest, 10).unwrap(),
        [1035, 1024]
    );
}

#[test]
fn unrelated_entries_in_the_log_dir_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("README"), b"hello").unwrap();
    std::fs::create_dir(dir.path().join("no_partition_number")).unwrap();
    let b = disk(dir.path());
    assert_eq!(b.startup_report().skipped.len(), 2);
    assert_eq!(b.startup_report().partitions, 0);
}

#[test]
fn segments_roll_by_size_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let b = Broker::start(
        BrokerConfig::on_disk(dir.path())
            .visible_on_append(true)
            .log_file_size(1000),
    )
    .unwrap();
    let sent = produce_mixed(b.local_addr(), "roll", 0, 100);
    let segments = std::fs::read_dir(dir.path().join("roll-0"))
        .unwrap()
        .count();
    assert!(segments > 3, "{segments} segments");
    b.shutdown().unwrap();
    let b = disk(dir.path());
    assert_eq!(consume(b.local_addr(), "roll", sent.len()), sent);
}

#[test]
fn reference_magic0_segment_is_served_as_the_reference_does() {
    // Spec §12.1 / BackwardsCompatibilityTest, on a copy of the reference's log directory.
    let dir = tempfile::tempdir().unwrap();
    kafka07_io::copy_dir(&reference_dir(), dir.path()).unwrap();
    let b = disk(dir.path());
    let report = b.startup_report();
    assert_eq!(report.partitions, 1);
    assert_eq!(report.truncated_bytes(), 0);
    let mut c = Client::connect(b.local_addr()).unwrap();
    assert_eq!(
        c.offsets("MagicByte0", 0, OffsetTime::Latest, 1).unwrap(),
        [10_900]
    );

    // The reference loop: fetch 10,000 bytes from the last yielded offset.
    let mut offset = 0;
    let mut per_fetch = Vec::new();
    let mut total = 0;
    while offset < 10_900 && per_fetch.len() < 10 {
        let f = c.fetch("MagicByte0", 0, offset, 10_000).unwrap();
        let mut n = 0;
        for m in f.message_set().shallow() {
            let m = m.unwrap();
            assert_eq!(m.message.magic(), 0);
            assert_eq!(m.message.payload(), [b'x'; 100]);
            offset = m.offset;
            n += 1;
        }
        per_fetch.push(n);
        total += n;
    }
    assert_eq!(per_fetch, [91, 9]);
    assert_eq!(total, 100);

    // The streaming consumer gives the same: 91 from the first fetch, 100 in all.
    let mut cons = Consumer::new(
        b.local_addr(),
        "MagicByte0",
        0,
        ConsumerConfig::default()
            .fetch_size(10_000)
            .start(StartAt::Earliest),
    );
    let first = cons.poll(|_| ControlFlow::Continue(())).unwrap();
    assert_eq!((first.messages, first.offset), (91, 91 * 109));
    let rest = cons
        .take(100, std::time::Duration::from_millis(300))
        .unwrap();
    assert_eq!(rest.len(), 9);
    assert_eq!(rest.last().unwrap().offset, 10_900);
    // The shipped test data was not touched.
    assert_eq!(
        std::fs::metadata(reference_dir().join("MagicByte0-0/00000000000000000000.kafka"))
            .unwrap()
            .len(),
        10_900
    );
}
