//! The cluster commands end to end, as processes, on a real ZooKeeper (Debian's package,
//! started by the test on 127.0.0.1): `broker --zookeeper`, `produce -c`, `consume -c
//! --group`, `topics -c`, `groups -c`, and their exit codes (docs/CLI.md).

mod common;
#[path = "../kafka07-io/tests/zk_support/mod.rs"]
mod zk_support;

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{bin, run_in};
use zk_support::{available, chroot, shared};

const LIMIT: Duration = Duration::from_secs(60);

/// A `kafka07 broker --zookeeper` process; stopped (stdin closed) or killed on drop.
struct BrokerProc {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Vec<String>,
}

impl BrokerProc {
    fn start(zk: &str, id: u32) -> BrokerProc {
        let mut child = Command::new(bin())
            .args([
                "broker",
                "--port",
                "0",
                "--stop-on-eof",
                "--partitions",
                "2",
            ])
            .args(["--zookeeper", zk, "--broker-id", &id.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn broker");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        // Keeps reading (a closed pipe would end the broker at its next line).
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut lines = Vec::new();
        for _ in 0..2 {
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok(l) => lines.push(l),
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("broker {id} did not start: {lines:?}");
                }
            }
        }
        let stdin = child.stdin.take();
        BrokerProc {
            child,
            stdin,
            lines,
        }
    }

    fn stop(mut self) -> Option<i32> {
        drop(self.stdin.take());
        let end = Instant::now() + LIMIT;
        while Instant::now() < end {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for BrokerProc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn k(args: &[&str], stdin: Option<&[u8]>) -> common::Output {
    run_in(None, args, stdin, LIMIT)
}

#[test]
fn a_two_broker_cluster_from_the_command_line() {
    if !available("cli cluster") {
        return;
    }
    let zk = shared().connect(&chroot("cli"));
    let b1 = BrokerProc::start(&zk, 1);
    let b2 = BrokerProc::start(&zk, 2);
    assert!(
        b1.lines[0].starts_with("listening on 127.0.0.1:"),
        "{:?}",
        b1.lines
    );
    assert!(
        b1.lines[1].starts_with(&format!(
            "registered as broker 1 in ZooKeeper {zk} (127.0.0.1-"
        )),
        "{:?}",
        b1.lines
    );
    // A second broker 1 is refused, naming the holder: exit 2.
    let dup = k(
        &[
            "broker",
            "--port",
            "0",
            "--zookeeper",
            &zk,
            "--broker-id",
            "1",
        ],
        None,
    );
    assert_eq!(dup.code, Some(2), "{dup:?}");
    assert!(
        dup.stderr
            .contains("/brokers/ids/1 is held by a live broker"),
        "{}",
        dup.stderr
    );

    let input: String = (0..20).map(|i| format!("line {i}\n")).collect();
    let p = k(
        &["produce", "-c", &zk, "-t", "events"],
        Some(input.as_bytes()),
    );
    assert_eq!(p.code, Some(0), "{p:?}");
    assert!(
        p.stderr
            .contains("produced 20 messages to events via ZooKeeper"),
        "{}",
        p.stderr
    );
    let p = k(
        &[
            "produce", "-c", &zk, "-t", "events", "--key", "user-17", "-m", "k1", "-m", "k2",
        ],
        None,
    );
    assert_eq!(p.code, Some(0), "{p:?}");

    let t = k(&["topics", "-c", &zk, "--json"], None);
    assert_eq!(t.code, Some(0), "{t:?}");
    let v: serde_json::Value = serde_json::from_str(t.stdout.trim()).unwrap();
    assert_eq!(v["brokers"].as_array().unwrap().len(), 2);
    assert_eq!(v["topics"][0]["topic"], "events");
    assert_eq!(v["topics"][0]["partitions"], 4, "{v}");

    let c = k(
        &[
            "consume",
            "-c",
            &zk,
            "-t",
            "events",
            "--group",
            "cli",
            "--print-offset",
            "--idle-ms",
            "1500",
        ],
        None,
    );
    assert_eq!(c.code, Some(0), "{c:?}");
    let mut payloads: Vec<String> = Vec::new();
    let mut keyed_partitions = Vec::new();
    for line in c.stdout.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 5, "{line}");
        assert_eq!(f[0], "events");
        let (own, next): (u64, u64) = (f[2].parse().unwrap(), f[3].parse().unwrap());
        assert_eq!(next - own, 10 + f[4].len() as u64, "{line}");
        if f[4].starts_with('k') {
            keyed_partitions.push(f[1].to_owned());
        }
        payloads.push(f[4].to_owned());
    }
    payloads.sort();
    let mut want: Vec<String> = (0..20).map(|i| format!("line {i}")).collect();
    want.extend(["k1".to_owned(), "k2".to_owned()]);
    want.sort();
    assert_eq!(payloads, want);
    // Equal keys share a partition.
    assert_eq!(keyed_partitions.len(), 2);
    assert_eq!(keyed_partitions[0], keyed_partitions[1]);

    // Everything was committed on exit: no lag.
    let g = k(&["groups", "-c", &zk, "--group", "cli", "--json"], None);
    assert_eq!(g.code, Some(0), "{g:?}");
    let v: serde_json::Value = serde_json::from_str(g.stdout.trim()).unwrap();
    assert_eq!(v["members"].as_array().unwrap().len(), 0, "{v}");
    let parts = v["partitions"].as_array().unwrap();
    assert_eq!(parts.len(), 4, "{v}");
    let total: u64 = parts.iter().map(|p| p["log_end"].as_u64().unwrap()).sum();
    assert_eq!(
        total,
        (0..20)
            .map(|i: u64| 10 + format!("line {i}").len() as u64)
            .sum::<u64>()
            + 24
    );
    for p in parts {
        assert_eq!(p["lag"], 0, "{p}");
        assert_eq!(p["committed"], p["log_end"], "{p}");
    }
    // A second run of the group has nothing left to read.
    let again = k(
        &[
            "consume",
            "-c",
            &zk,
            "-t",
            "events",
            "--group",
            "cli",
            "--idle-ms",
            "800",
        ],
        None,
    );
    assert_eq!(
        (again.code, again.stdout.as_str()),
        (Some(0), ""),
        "{again:?}"
    );
    assert_eq!(b1.stop(), Some(0));
    assert_eq!(b2.stop(), Some(0));
    let t = k(&["topics", "-c", &zk], None);
    assert!(t.stdout.starts_with("brokers: 0\n"), "{}", t.stdout);
}

#[test]
fn an_unreachable_zookeeper_is_exit_5_naming_the_connect_string() {
    if !available("cli unreachable") {
        return;
    }
    let port = zk_support::closed_port();
    let zk = format!("127.0.0.1:{port}");
    for args in [
        vec!["topics", "-c", &zk, "--zk-session-timeout-ms", "1000"],
        vec!["groups", "-c", &zk, "--zk-session-timeout-ms", "1000"],
        vec![
            "produce",
            "-c",
            &zk,
            "-t",
            "t",
            "-m",
            "x",
            "--zk-session-timeout-ms",
            "1000",
        ],
        vec![
            "consume",
            "-c",
            &zk,
            "-t",
            "t",
            "--group",
            "g",
            "--zk-session-timeout-ms",
            "1000",
        ],
    ] {
        let o = k(&args, None);
        assert_eq!(o.code, Some(5), "{args:?}: {o:?}");
        assert!(o.stderr.contains(&zk), "{args:?}: {}", o.stderr);
    }
    let o = k(
        &[
            "broker",
            "--port",
            "0",
            "--zookeeper",
            &zk,
            "--broker-id",
            "1",
            "--zk-session-timeout-ms",
            "1000",
        ],
        None,
    );
    assert_eq!(o.code, Some(5), "{o:?}");
    // Cluster flags that need each other.
    let o = k(&["consume", "-c", &zk, "-t", "t"], None);
    assert_eq!(o.code, Some(2), "{o:?}");
    let o = k(&["broker", "--zookeeper", &zk], None);
    assert_eq!(o.code, Some(2), "{o:?}");
}

#[test]
fn group_consume_output_formats_and_closed_pipes() {
    if !available("cli formats") {
        return;
    }
    let zk = shared().connect(&chroot("cli-formats"));
    let b1 = BrokerProc::start(&zk, 1);
    let p = k(
        &["produce", "-c", &zk, "-t", "fmt", "--delimiter", "\\0"],
        Some(b"two\nlines\0\xffbin\0plain\0"),
    );
    assert_eq!(p.code, Some(0), "{p:?}");
    let group = |g: &str, extra: &[&str]| {
        let mut args = vec![
            "consume",
            "-c",
            &zk,
            "-t",
            "fmt",
            "--group",
            g,
            "--idle-ms",
            "1000",
        ];
        args.extend(extra);
        let o = k(&args, None);
        assert_eq!(o.code, Some(0), "{o:?}");
        o.stdout
    };
    // JSON Lines: topic, broker, partition, broker_partition, position, offset (= next
    // offset), next_offset, size, payload (text, or base64 when not UTF-8).
    let json = group("json", &["--format", "json"]);
    let mut rows: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    rows.sort_by_key(|v| v["size"].as_u64());
    assert_eq!(rows.len(), 3, "{json}");
    for v in &rows {
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "topic",
                "broker",
                "partition",
                "broker_partition",
                "position",
                "offset",
                "next_offset",
                "size",
                "payload",
                "payload_encoding"
            ]
        );
        assert_eq!((&v["topic"], &v["broker"]), (&"fmt".into(), &1.into()));
        let part = v["partition"].as_u64().unwrap();
        assert!(part < 2, "{v}");
        assert_eq!(v["broker_partition"], format!("1-{part}"));
        assert_eq!(v["offset"], v["next_offset"]);
        assert_eq!(
            v["next_offset"].as_u64().unwrap() - v["position"].as_u64().unwrap(),
            10 + v["size"].as_u64().unwrap()
        );
    }
    assert_eq!(
        (&rows[0]["payload"], &rows[0]["payload_encoding"]),
        (&"/2Jpbg==".into(), &"base64".into())
    );
    assert_eq!(
        (&rows[1]["payload"], &rows[1]["payload_encoding"]),
        (&"plain".into(), &"text".into())
    );
    assert_eq!(rows[2]["payload"], "two\nlines");
    // Hex, NUL-separated, with topic, broker-partition, own and next offset first.
    let hex = group("hex", &["--format", "hex", "-0", "--print-offset"]);
    let mut recs: Vec<Vec<&str>> = hex
        .strip_suffix('\0')
        .unwrap()
        .split('\0')
        .map(|r| r.split('\t').collect())
        .collect();
    recs.sort_by_key(|r| r[4].len());
    assert_eq!(recs.len(), 3, "{hex:?}");
    assert_eq!(
        recs.iter().map(|r| r[4]).collect::<Vec<_>>(),
        ["ff62696e", "706c61696e", "74776f0a6c696e6573"]
    );
    for (r, v) in recs.iter().zip(&rows) {
        assert_eq!(r[0], "fmt");
        assert_eq!(r[1], v["broker_partition"]);
        assert_eq!(r[2], v["position"].to_string());
        assert_eq!(r[3], v["next_offset"].to_string());
    }

    // A closed pipe: consume -c, topics and groups end quietly with 0.
    let input: String = (0..20_000).map(|i| format!("line {i:>20}\n")).collect();
    let p = k(
        &["produce", "-c", &zk, "-t", "lots"],
        Some(input.as_bytes()),
    );
    assert_eq!(p.code, Some(0), "{p:?}");
    let (code, stderr, _) = common::run_closed_pipe(
        &[
            "consume",
            "-c",
            &zk,
            "-t",
            "lots",
            "--group",
            "pipe",
            "--idle-ms",
            "1000",
        ],
        0,
        LIMIT,
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("kafka07:"), "{stderr}");
    assert!(stderr.contains("offsets committed"), "{stderr}");
    let (code, stderr, kept) = common::run_closed_pipe(
        &[
            "consume", "-c", &zk, "-t", "lots", "--group", "head", "--follow",
        ],
        26,
        LIMIT,
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("kafka07:"), "{stderr}");
    assert!(kept.starts_with(b"line "), "{kept:?}");
    for args in [
        vec!["topics", "-c", &zk],
        vec!["topics", "-c", &zk, "--json"],
        vec!["groups", "-c", &zk],
        vec!["groups", "-c", &zk, "--json"],
    ] {
        let (code, stderr, _) = common::run_closed_pipe(&args, 0, LIMIT);
        assert_eq!((code, stderr.as_str()), (Some(0), ""), "{args:?}");
    }

    // The fetch size grows for a message that does not fit, up to --max-fetch-size.
    let big = vec![b'x'; 5000];
    let p = k(&["produce", "-c", &zk, "-t", "big", "--raw"], Some(&big));
    assert_eq!(p.code, Some(0), "{p:?}");
    let args = |g: &'static str, max: &'static str| {
        vec![
            "consume",
            "-c",
            &zk,
            "-t",
            "big",
            "--group",
            g,
            "--idle-ms",
            "1000",
            "--fetch-size",
            "100",
            "--max-fetch-size",
            max,
        ]
    };
    let o = k(&args("grow", "10000"), None);
    assert_eq!((o.code, o.stdout.len()), (Some(0), 5001), "{o:?}");
    let o = k(&args("small", "1000"), None);
    assert_eq!((o.code, o.stdout.as_str()), (Some(0), ""), "{o:?}");
    assert!(
        o.stderr.contains("kafka07: last problem: big:1-")
            && o.stderr.contains(
                "a message of 5010 bytes at 0 exceeds the maximum fetch size (raise --max-fetch-size)"
            ),
        "{}",
        o.stderr
    );
    assert_eq!(b1.stop(), Some(0));
}
