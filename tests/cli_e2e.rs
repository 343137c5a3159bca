//! End to end: `kafka07 broker`, `produce` (each codec), `consume` and `offsets` run as
//! processes on loopback, every one bounded by a time limit; then the broker's log
//! directory decoded with `kafka07 decode`.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

const LIMIT: Duration = Duration::from_secs(30);

fn k(args: &[&str]) -> Output {
    run_in(None, args, None, LIMIT)
}

fn k_stdin(args: &[&str], input: &[u8]) -> Output {
    run_in(None, args, Some(input), LIMIT)
}

#[test]
fn produce_consume_offsets_with_every_codec() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let broker = BrokerProc::start(&["--data-dir", data.to_str().unwrap()]);
    let b = broker.addr.clone();

    let out = k(&[
        "produce",
        "-b",
        &b,
        "-t",
        "e2e",
        "-m",
        "plain one",
        "-m",
        "plain two",
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stderr.contains("produced 2 messages to e2e:0"),
        "{}",
        out.stderr
    );
    let out = k_stdin(
        &["produce", "-b", &b, "-t", "e2e", "--codec", "gzip"],
        b"gzip one\ngzip two\ngzip three\n",
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let out = k_stdin(
        &[
            "produce", "-b", &b, "-t", "e2e", "--codec", "snappy", "--batch", "2",
        ],
        b"snappy one\nsnappy two\nsnappy three\n",
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stderr.contains("in 2 requests"), "{}", out.stderr);

    let out = k(&["consume", "-b", &b, "-t", "e2e"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "plain one\nplain two\ngzip one\ngzip two\ngzip three\nsnappy one\nsnappy two\nsnappy three\n"
    );

    // Offsets: the log end, then the start of the only segment.
    let out = k(&["offsets", "-b", &b, "-t", "e2e", "--max", "5"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let offsets: Vec<u64> = out.stdout.lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(offsets.len(), 2, "{}", out.stdout);
    assert_eq!(offsets[1], 0);
    let end = offsets[0];
    let out = k(&["offsets", "-b", &b, "-t", "e2e", "--time", "earliest"]);
    assert_eq!(out.stdout, "0\n");

    // --print-offset gives each message's own offset and the reference's resume (next)
    // offset; resuming from a next offset works.
    let out = k(&["consume", "-b", &b, "-t", "e2e", "--print-offset"]);
    let lines: Vec<(u64, String)> = out
        .stdout
        .lines()
        .map(|l| {
            let (own, rest) = l.split_once('\t').unwrap();
            let (o, p) = rest.split_once('\t').unwrap();
            assert!(
                own.parse::<u64>().unwrap() < o.parse::<u64>().unwrap()
                    || p.contains("gzip")
                    || p.contains("snappy"),
                "{l}"
            );
            (o.parse().unwrap(), p.to_string())
        })
        .collect();
    assert_eq!(lines.len(), 8);
    assert_eq!(lines.last().unwrap().0, end);
    // Inside the gzip wrapper, every message but the last carries the wrapper's start.
    assert_eq!(lines[2].0, lines[1].0);
    assert_eq!(lines[3].0, lines[1].0);
    assert!(lines[4].0 > lines[3].0);
    let resume = lines[4].0.to_string();
    let out = k(&[
        "consume", "-b", &b, "-t", "e2e", "-o", &resume, "--max", "2",
    ]);
    assert_eq!(out.stdout, "snappy one\nsnappy two\n");
    let out = k(&["consume", "-b", &b, "-t", "e2e", "-o", "latest"]);
    assert_eq!((out.code, out.stdout.as_str()), (Some(0), ""));

    // Errors a user can act on, with their exit codes.
    let out = k(&["consume", "-b", &b, "-t", "e2e", "-o", "999999"]);
    assert_eq!(out.code, Some(6), "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("valid offsets are 0 to {end}")),
        "{}",
        out.stderr
    );
    let out = k(&["consume", "-b", &b, "-t", "e2e", "-o", "3"]);
    assert_eq!(out.code, Some(6), "{}", out.stderr);
    assert!(
        out.stderr.contains("not at a message boundary"),
        "{}",
        out.stderr
    );
    let out = k(&["produce", "-b", &b, "-t", "e2e", "-p", "9", "-m", "x"]);
    assert_eq!(out.code, Some(7), "{}", out.stderr);
    assert!(
        out.stderr.contains("closed the connection"),
        "{}",
        out.stderr
    );
    let out = k(&["produce", "-b", &b, "-t", "bad/topic", "-m", "x"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);

    assert_eq!(broker.stop(), Some(0));
    assert!(data.join(".kafka_cleanshutdown").exists());

    // The broker's log directory, decoded.
    let out = k(&["decode", "--deep", data.to_str().unwrap()]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("partition e2e:0"), "{}", out.stdout);
    assert!(out.stdout.contains("clean-shutdown marker present"));
    assert!(out
        .stdout
        .contains(&format!("next offset {end}, ends cleanly")));
    for payload in ["plain two", "gzip three", "snappy three"] {
        assert!(out.stdout.contains(payload), "{payload}: {}", out.stdout);
    }

    // The same directory served again by a new broker.
    let broker = BrokerProc::start(&["--data-dir", data.to_str().unwrap()]);
    let out = k(&["consume", "-b", &broker.addr, "-t", "e2e", "--max", "1"]);
    assert_eq!(out.stdout, "plain one\n");
    assert_eq!(broker.stop(), Some(0));
}

#[test]
fn unreachable_broker_and_failover() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = format!("127.0.0.1:{port}");
    let started = Instant::now();
    let out = k(&["offsets", "-b", &dead, "-t", "x", "--timeout", "2"]);
    assert_eq!(out.code, Some(5), "{}", out.stderr);
    assert!(
        out.stderr.contains("is a broker running at"),
        "{}",
        out.stderr
    );
    assert!(started.elapsed() < Duration::from_secs(20));

    let broker = BrokerProc::start(&[]);
    let list = format!("{dead},{}", broker.addr);
    let out = k(&["produce", "-b", &list, "-t", "fo", "-m", "via failover"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let out = k(&["consume", "-b", &dead, "-b", &broker.addr, "-t", "fo"]);
    assert_eq!(out.stdout, "via failover\n");
    assert_eq!(broker.stop(), Some(0));
}

#[test]
fn follow_sees_new_messages_and_stops_at_max() {
    let broker = BrokerProc::start(&[]);
    let b = broker.addr.clone();
    let follower = {
        let b = b.clone();
        std::thread::spawn(move || {
            run_in(
                None,
                &[
                    "consume", "-b", &b, "-t", "live", "-o", "earliest", "--follow", "--max", "3",
                ],
                None,
                LIMIT,
            )
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    for m in ["first", "second", "third"] {
        let out = k(&["produce", "-b", &b, "-t", "live", "-m", m]);
        assert_eq!(out.code, Some(0), "{}", out.stderr);
    }
    let out = follower.join().unwrap();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "first\nsecond\nthird\n");
    assert_eq!(broker.stop(), Some(0));
}

#[test]
fn broker_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut broker = BrokerProc::start(&["--data-dir", data.to_str().unwrap()]);
    let out = k(&["produce", "-b", &broker.addr, "-t", "sig", "-m", "kept"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let pid = broker.child.id().to_string();
    let st = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(st.success());
    assert_eq!(
        wait_for(&mut broker.child, &["broker"], LIMIT).code(),
        Some(0)
    );
    assert!(data.join(".kafka_cleanshutdown").exists());
    assert!(data.join("sig-0/00000000000000000000.kafka").exists());
}
