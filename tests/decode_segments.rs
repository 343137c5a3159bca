//! `kafka07 decode` on log segments and log directories: the 0.7.2 reference's own segment,
//! torn and corrupt copies of it (reported exactly as the broker's recovery finds them, the
//! file left unchanged), and segment chains with a gap or an overlap.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;

const SEGMENT: &str = "tests/data/reference/MagicByte0-0/00000000000000000000.kafka";

fn reference() -> Vec<u8> {
    std::fs::read(SEGMENT).unwrap()
}

/// Runs `kafka07 ARGS` inside `dir` (relative paths keep the output stable).
fn run_at(dir: &Path, args: &[&str]) -> Output {
    run_in(Some(dir), args, None, Duration::from_secs(60))
}

#[test]
fn reference_segment_lists_its_100_messages() {
    let out = run(&["decode", SEGMENT]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    let messages: Vec<&&str> = lines.iter().filter(|l| l.starts_with("offset")).collect();
    assert_eq!(messages.len(), 100);
    for (i, l) in messages.iter().enumerate() {
        let next = 109 * (i as u64 + 1);
        assert!(
            l.contains(&format!("next {next:>8}")),
            "message {i} should end at {next}: {l}"
        );
        assert!(l.contains("magic 0") && l.contains("crc valid") && l.contains("100 bytes"));
    }
    insta::assert_snapshot!(out.stdout);
}

#[test]
fn reference_log_directory() {
    let out = run(&["decode", "tests/data/reference"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let tail: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| !l.starts_with("offset"))
        .collect();
    insta::assert_snapshot!(tail.join("\n"));
}

#[test]
fn reference_segment_as_json() {
    let out = run(&["decode", "--json", SEGMENT]);
    assert_eq!(out.code, Some(0));
    let records: Vec<serde_json::Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    let offsets: Vec<u64> = records
        .iter()
        .filter(|r| r["type"] == "message")
        .map(|r| r["offset"].as_u64().unwrap())
        .collect();
    assert_eq!(offsets, (1..=100).map(|i| i * 109).collect::<Vec<_>>());
    let first = records.iter().find(|r| r["type"] == "message").unwrap();
    assert_eq!(first["payload"], "78".repeat(100));
    assert_eq!(first["in"], "segment");
    let seg = records.iter().find(|r| r["type"] == "segment").unwrap();
    assert_eq!(seg["valid_bytes"], 10900);
    assert!(seg.get("tail").is_none());
    assert_eq!(records.last().unwrap()["type"], "summary");
    assert!(records.iter().all(|r| r["file"] == SEGMENT));
}

/// A copy of the reference segment with `junk` appended, decoded in a temporary directory.
fn torn(junk: &[u8]) -> (Output, Vec<u8>, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let name = "00000000000000000000.kafka";
    let mut bytes = reference();
    bytes.extend_from_slice(junk);
    std::fs::write(dir.path().join(name), &bytes).unwrap();
    let out = run_at(dir.path(), &["decode", name]);
    let after = std::fs::read(dir.path().join(name)).unwrap();
    (out, bytes, after)
}

#[test]
fn appended_junk_is_a_torn_tail_and_the_file_is_not_changed() {
    let (out, before, after) = torn(b"garbage");
    assert_eq!(before, after, "decode must not change the file");
    assert_eq!(out.code, Some(4), "a torn tail is a defect");
    assert!(out
        .stdout
        .contains("100 messages, valid bytes 10900 of 10907"));
    assert!(out
        .stdout
        .contains("torn tail at byte 10900 (offset 10900): 7 bytes"));
    assert!(out
        .stdout
        .contains("the broker's recovery would truncate this file to 10900 bytes"));
    let tail: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| !l.starts_with("offset"))
        .collect();
    insta::assert_snapshot!(tail.join("\n"));
}

#[test]
fn zero_bytes_appended_are_truncated_as_the_reference_test_says() {
    // FileMessageSetTest: 0, 2, 4, 5 or 6 zero bytes appended are all truncated away.
    for (n, reason) in [
        (2, "too few for a length field"),
        (4, "length field 0 is below 5"),
        (5, "length field 0 is below 5"),
        (6, "length field 0 is below 5"),
    ] {
        let (out, ..) = torn(&vec![0; n]);
        assert_eq!(out.code, Some(4));
        assert!(
            out.stdout.contains("valid bytes 10900 of"),
            "{n}: {}",
            out.stdout
        );
        assert!(out.stdout.contains(reason), "{n}: {}", out.stdout);
    }
    let (out, ..) = torn(&[]);
    assert_eq!(out.code, Some(0));
    assert!(out.stdout.contains("ends cleanly"));
}

#[test]
fn a_bad_crc_ends_the_valid_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = reference();
    bytes[50 * 109 + 9 + 20] ^= 0xff; // a payload byte of message 50
    std::fs::write(dir.path().join("00000000000000000000.kafka"), &bytes).unwrap();
    let out = run_at(
        dir.path(),
        &["decode", "--json", "00000000000000000000.kafka"],
    );
    assert_eq!(out.code, Some(4));
    let seg: serde_json::Value = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["type"] == "segment")
        .unwrap();
    assert_eq!(seg["messages"], 50);
    assert_eq!(seg["valid_bytes"], 5450);
    assert_eq!(seg["tail"]["at"], 5450);
    assert_eq!(seg["tail"]["bytes"], 5450);
    assert_eq!(seg["tail"]["reason"], "bad_crc");
}

#[test]
fn unknown_magic_ends_the_valid_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = reference();
    bytes[3 * 109 + 4] = 7;
    std::fs::write(dir.path().join("00000000000000000000.kafka"), &bytes).unwrap();
    let out = run_at(dir.path(), &["decode", "00000000000000000000.kafka"]);
    assert_eq!(out.code, Some(4));
    assert!(out.stdout.contains("3 messages, valid bytes 327 of 10900"));
    assert!(
        out.stdout.contains("unknown magic byte 7"),
        "{}",
        out.stdout
    );
}

#[test]
fn segment_chain_gap_and_overlap_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let seg = reference();
    let p = dir.path().join("logs/events-0");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join("00000000000000000000.kafka"), &seg).unwrap();
    // Should start at 10900: a gap of 100 bytes.
    std::fs::write(p.join("00000000000000011000.kafka"), &seg).unwrap();
    let q = dir.path().join("logs/my-topic-with-dashes-3");
    std::fs::create_dir_all(&q).unwrap();
    std::fs::write(q.join("00000000000000000000.kafka"), &seg).unwrap();
    // Starts inside the first one: an overlap; and the last segment has a torn tail.
    let mut last = seg[..218].to_vec();
    last.extend_from_slice(&[0, 0, 0, 99, 1]);
    std::fs::write(q.join("00000000000000010000.kafka"), &last).unwrap();
    let out = run_at(dir.path(), &["decode", "logs"]);
    assert_eq!(out.code, Some(4));
    let tail: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| !l.starts_with("offset"))
        .collect();
    let text = tail.join("\n");
    assert!(text.contains("partition events:0"), "{text}");
    assert!(text.contains("partition my-topic-with-dashes:3"), "{text}");
    assert!(text.contains(
        "gap after 00000000000000000000.kafka: next segment should start at 10900, starts at 11000"
    ));
    assert!(text.contains("overlap after 00000000000000000000.kafka: next segment should start at 10900, starts at 10000"));
    insta::assert_snapshot!(text);
}

#[test]
fn a_partition_directory_alone() {
    let out = run(&["decode", "tests/data/reference/MagicByte0-0"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("partition MagicByte0:0"));
    assert!(out.stdout.contains("100 messages"));
}

#[test]
fn renamed_segment_takes_its_base_offset_from_the_option() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("copy.bin"), reference()).unwrap();
    let out = run_at(dir.path(), &["decode", "--base-offset", "1000", "copy.bin"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out
        .stdout
        .contains("segment (10900 bytes, detected by content)"));
    assert!(out.stdout.contains("offset     1000  next     1109"));
    assert!(out.stdout.contains("next offset 11900"));
}

#[test]
fn unknown_format_has_its_own_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("notes.txt"),
        "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("empty"), "").unwrap();
    let out = run_at(dir.path(), &["decode", "notes.txt"]);
    assert_eq!(out.code, Some(3));
    assert!(out.stdout.is_empty());
    assert!(
        out.stderr
            .contains("notes.txt: unknown input format: not a pcap/pcapng capture"),
        "{}",
        out.stderr
    );
    let out = run_at(dir.path(), &["decode", "empty"]);
    assert_eq!(out.code, Some(3));
    assert!(out.stderr.contains("the file is empty"), "{}", out.stderr);
    let out = run_at(dir.path(), &["decode", "missing.pcap"]);
    assert_eq!(out.code, Some(1));
    // Forcing a format that is not there is the same kind of error.
    let out = run_at(dir.path(), &["decode", "--as", "capture", "notes.txt"]);
    assert_eq!(out.code, Some(3));
}

#[test]
fn plain_reads_and_mapped_reads_agree() {
    let a = run(&["decode", "--json", SEGMENT]);
    let b = run(&["decode", "--json", "--no-mmap", SEGMENT]);
    assert_eq!(a.stdout, b.stdout);
}
