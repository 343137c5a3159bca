//! The console tools as processes against a real `kafka07 broker` on loopback (issue #15):
//! a closed pipe is exit 0 on every path; `consume --format text|hex|json`, `--payload`, `-0`
//! and `--print-offset`; `produce --magic 0`, `--delimiter`, `--raw`; `-b HOST` without a
//! port and negative numbers; errors that name the request and `topic:partition`; the probe
//! and confirming FETCHes on one connection (seen through a recording TCP proxy) and
//! `--no-confirm`; fetch-size growth and `--max-fetch-size`.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::BrokerProc;
use kafka07::dump::{decode_raw, DecodeConfig, Direction, JsonCollector};

const LIMIT: Duration = Duration::from_secs(30);

type Out = common::RawOutput;

/// Runs `kafka07 ARGS` with `stdin`, collecting stdout as bytes.
fn k_in(args: &[&str], stdin: &[u8]) -> Out {
    common::run_raw(None, args, Some(stdin), LIMIT)
}

fn k(args: &[&str]) -> Out {
    k_in(args, b"")
}

fn k_closed_pipe(args: &[&str], keep: usize) -> (Option<i32>, String, Vec<u8>) {
    common::run_closed_pipe(args, keep, LIMIT)
}

fn produce(b: &str, topic: &str, messages: &[&str]) {
    let mut args = vec!["produce", "-b", b, "-t", topic];
    for m in messages {
        args.extend(["-m", m]);
    }
    let out = k(&args);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
}

/// A TCP proxy on loopback that forwards to `target` and records, per accepted connection,
/// the bytes the client sent.
struct Proxy {
    addr: String,
    conns: Recorded,
}

/// The client bytes of each connection, in accept order.
type Recorded = Arc<Mutex<Vec<Arc<Mutex<Vec<u8>>>>>>;

impl Proxy {
    fn start(target: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let conns: Recorded = Arc::default();
        let target = target.to_string();
        let list = conns.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Ok(server) = TcpStream::connect(&target) else {
                    return;
                };
                let rec: Arc<Mutex<Vec<u8>>> = Arc::default();
                list.lock().unwrap().push(rec.clone());
                let (mut c_read, mut s_write) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (mut s_read, mut c_write) = (server, client);
                std::thread::spawn(move || {
                    let mut buf = [0u8; 8192];
                    while let Ok(n @ 1..) = c_read.read(&mut buf) {
                        rec.lock().unwrap().extend_from_slice(&buf[..n]);
                        if s_write.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = s_write.shutdown(Shutdown::Write);
                });
                std::thread::spawn(move || {
                    let mut buf = [0u8; 8192];
                    while let Ok(n @ 1..) = s_read.read(&mut buf) {
                        if c_write.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = c_write.shutdown(Shutdown::Write);
                });
            }
        });
        Proxy { addr, conns }
    }

    /// The requests of every connection so far, as `decode --json` objects (type `request`
    /// and `message`), then forgets them.
    fn take(&self) -> Vec<Vec<serde_json::Value>> {
        // The forwarding threads record before they forward: everything the broker answered
        // was recorded; give a closing connection's last bytes a moment.
        std::thread::sleep(Duration::from_millis(100));
        let conns = std::mem::take(&mut *self.conns.lock().unwrap());
        conns
            .iter()
            .map(|c| {
                let bytes = c.lock().unwrap().clone();
                let mut out = JsonCollector::default();
                decode_raw(
                    &bytes,
                    Some(Direction::Requests),
                    &DecodeConfig::default(),
                    &mut out,
                );
                out.values
                    .into_iter()
                    .filter(|v| v["type"] == "request" || v["type"] == "message")
                    .collect()
            })
            .collect()
    }
}

/// `request_type` and FETCH `max_size` of each request of a connection.
fn requests(conn: &[serde_json::Value]) -> Vec<String> {
    conn.iter()
        .filter(|v| v["type"] == "request")
        .map(|v| match v["request_type"].as_str().unwrap() {
            "FETCH" => format!("FETCH {} max {}", v["offset"], v["max_size"]),
            t => format!("{t} {}:{}", v["topic"].as_str().unwrap(), v["partition"]),
        })
        .collect()
}

#[test]
fn a_closed_pipe_is_a_quiet_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let broker = BrokerProc::start(&["--data-dir", data.to_str().unwrap()]);
    let b = broker.addr.clone();
    // About 600 kB of output: more than a pipe holds, so the writer meets the closed pipe
    // whatever was read.
    let input: String = (0..20_000)
        .map(|i| format!("message number {i:>10}\n"))
        .collect();
    let out = k_in(&["produce", "-b", &b, "-t", "lots"], input.as_bytes());
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let paths: [&[&str]; 6] = [
        &["consume", "-b", &b, "-t", "lots"],
        &["consume", "-b", &b, "-t", "lots", "--format", "json"],
        &["consume", "-b", &b, "-t", "lots", "--max", "3"],
        &["decode", "-v", "tests/data/captures/cli/session.pcap"],
        &["decode", "--json", "tests/data/captures/cli/session.pcap"],
        &["offsets", "-b", &b, "-t", "lots", "--max", "3"],
    ];
    for args in paths {
        let (code, stderr, _) = k_closed_pipe(args, 0);
        assert_eq!((code, stderr.as_str()), (Some(0), ""), "{args:?}");
    }
    // `| head -2`: the first lines arrive, then the reader goes.
    let (code, stderr, kept) = k_closed_pipe(&["consume", "-b", &b, "-t", "lots"], 52);
    assert_eq!((code, stderr.as_str()), (Some(0), ""));
    assert_eq!(
        kept,
        b"message number          0\nmessage number          1\n"
    );
    let (code, stderr, _) = k_closed_pipe(
        &[
            "consume", "-b", &b, "-t", "lots", "--follow", "--format", "hex",
        ],
        10,
    );
    assert_eq!((code, stderr.as_str()), (Some(0), ""));
    // decode of the broker's log directory (megabytes of text), read in part.
    drop(broker);
    let dir_arg = data.to_str().unwrap();
    for keep in [0, 100] {
        for args in [["decode", "-v", dir_arg], ["decode", "--json", dir_arg]] {
            let (code, stderr, kept) = k_closed_pipe(&args, keep);
            assert_eq!((code, stderr.as_str()), (Some(0), ""), "{args:?} {keep}");
            assert_eq!(kept.len(), keep);
        }
    }
    // A failure that is not a closed pipe still fails: a file that is not there.
    let out = k(&["decode", "no/such/file.pcap"]);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
}

#[test]
fn consume_formats_payload_encodings_separators_and_offsets() {
    let broker = BrokerProc::start(&[]);
    let b = broker.addr.clone();
    produce(&b, "f", &["plain", "two\nlines"]);
    let out = k_in(
        &["produce", "-b", &b, "-t", "f", "--raw"],
        b"\xff\x00bin\r\n",
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    // Entries: 0..15 "plain" (4 + 6 + 5), 15..34 "two\nlines", 34..51 the binary one.
    let base = ["consume", "-b", b.as_str(), "-t", "f"];
    let run = |extra: &[&str]| {
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        let out = k(&args);
        assert_eq!(out.code, Some(0), "{args:?}: {}", out.stderr);
        out.stdout
    };
    assert_eq!(run(&[]), b"plain\ntwo\nlines\n\xff\x00bin\r\n\n");
    assert_eq!(run(&["-0"]), b"plain\0two\nlines\0\xff\x00bin\r\n\0");
    assert_eq!(
        run(&["--print-offset"]),
        b"0\t15\tplain\n15\t34\ttwo\nlines\n34\t51\t\xff\x00bin\r\n\n"
    );
    assert_eq!(
        run(&["--format", "hex", "--print-offset", "--null"]),
        b"0\t15\t706c61696e\x0015\t34\t74776f0a6c696e6573\x0034\t51\tff0062696e0d0a\x00"
    );
    assert_eq!(
        String::from_utf8(run(&["--format", "json"])).unwrap(),
        concat!(
            r#"{"topic":"f","partition":0,"position":0,"offset":15,"next_offset":15,"size":5,"payload":"plain","payload_encoding":"text"}"#,
            "\n",
            r#"{"topic":"f","partition":0,"position":15,"offset":34,"next_offset":34,"size":9,"payload":"two\nlines","payload_encoding":"text"}"#,
            "\n",
            r#"{"topic":"f","partition":0,"position":34,"offset":51,"next_offset":51,"size":7,"payload":"/wBiaW4NCg==","payload_encoding":"base64"}"#,
            "\n",
        )
    );
    let hex: Vec<serde_json::Value> =
        String::from_utf8(run(&["--format", "json", "--payload", "hex"]))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    assert_eq!(hex[1]["payload"], "74776f0a6c696e6573");
    assert_eq!(hex[1]["payload_encoding"], "hex");
    let b64 = String::from_utf8(run(&[
        "--format",
        "json",
        "--payload",
        "base64",
        "--max",
        "1",
    ]))
    .unwrap();
    assert!(
        b64.contains(r#""payload":"cGxhaW4=","payload_encoding":"base64""#),
        "{b64}"
    );
    // Resuming at a printed next offset gives the following messages.
    assert_eq!(run(&["-o", "15", "--max", "1"]), b"two\nlines\n");

    // Inside a compressed wrapper every message shares the wrapper's position; only the
    // last carries the offset after it.
    let out = k_in(
        &["produce", "-b", &b, "-t", "z", "--codec", "gzip"],
        b"g1\ng2\ng3\n",
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let text = k(&["consume", "-b", &b, "-t", "z", "--print-offset"]).text();
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 3, "{text}");
    let end = rows[2][1];
    assert_eq!(rows[0], ["0", "0", "g1"]);
    assert_eq!(rows[1], ["0", "0", "g2"]);
    assert_eq!((rows[2][0], rows[2][2]), ("0", "g3"));
    assert!(end.parse::<u64>().unwrap() > 30, "{text}");
}

#[test]
fn produce_magic_0_delimiters_and_raw_input() {
    let broker = BrokerProc::start(&[]);
    let b = broker.addr.clone();
    let out = k(&["produce", "-b", &b, "-t", "m0", "--magic", "0", "-m", "old"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        out.stderr,
        format!(
            "produced 1 message to m0:0 in 1 request (30 bytes, codec none, magic 0) via {b}\n"
        )
    );
    let mut client = kafka07::io::Client::new(kafka07::io::BrokerList::new([b.as_str()]));
    let f = client.fetch("m0", 0, 0, 1024).unwrap();
    // length 8, magic 0, CRC-32 of "old", payload: no attributes byte.
    let crc = kafka07::proto::crc32(b"old").to_be_bytes();
    let mut want = vec![0, 0, 0, 8, 0];
    want.extend(crc);
    want.extend(b"old");
    assert_eq!(f.data, want);
    // Consumers read it like any other message; the next offset is 12.
    assert_eq!(
        k(&["consume", "-b", &b, "-t", "m0", "--print-offset"]).stdout,
        b"0\t12\told\n"
    );
    let out = k(&["produce", "-b", &b, "-t", "m0", "--magic", "2", "-m", "x"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);

    // No \r is stripped; NUL as the delimiter; a trailing delimiter ends the last message.
    let produced = |args: &[&str], stdin: &[u8], summary: &str| {
        let out = k_in(&[&["produce", "-b", &b, "-t", "d"], args].concat(), stdin);
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        assert!(out.stderr.starts_with(summary), "{}", out.stderr);
    };
    produced(&[], b"crlf\r\nlf\n\nlast", "produced 4 messages to d:0");
    produced(
        &["--delimiter", "\\0"],
        b"multi\nline\0bin\xff\0",
        "produced 2 messages",
    );
    produced(&["--delimiter", ","], b"a,b", "produced 2 messages");
    produced(&["--raw"], b"all\nof\0it\n", "produced 1 message to");
    assert_eq!(
        k(&["consume", "-b", &b, "-t", "d", "--format", "hex"]).text(),
        [
            "63726c660d",
            "6c66",
            "",
            "6c617374",
            "6d756c74690a6c696e65",
            "62696eff",
            "61",
            "62",
            "616c6c0a6f660069740a",
            ""
        ]
        .join("\n")
    );
    let out = k(&["produce", "-b", &b, "-t", "d", "--delimiter", "ab"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("is not one byte"), "{}", out.stderr);
    let out = k(&["produce", "-b", &b, "-t", "d", "--raw", "-m", "x"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
}

#[test]
fn broker_addresses_without_a_port_and_negative_numbers() {
    let broker = BrokerProc::start(&[]);
    let b = broker.addr.clone();
    produce(&b, "n", &["m1", "m2", "m3", "m4", "m5", "m6"]);
    // -o -N: the last N messages; more than there are gives them all.
    assert_eq!(
        k(&["consume", "-b", &b, "-t", "n", "-o", "-2"]).stdout,
        b"m5\nm6\n"
    );
    assert_eq!(
        k(&["consume", "-b", &b, "-t", "n", "-o", "-1"]).stdout,
        b"m6\n"
    );
    assert_eq!(
        k(&["consume", "-b", &b, "-t", "n", "-o", "-50"]).stdout,
        b"m1\nm2\nm3\nm4\nm5\nm6\n"
    );
    assert_eq!(k(&["consume", "-b", &b, "-t", "n", "-o", "-0"]).stdout, b"");
    // Inside a gzip wrapper: the wrapper is read and its first messages skipped.
    let out = k_in(
        &["produce", "-b", &b, "-t", "n", "--codec", "gzip"],
        b"g1\ng2\ng3\n",
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        k(&["consume", "-b", &b, "-t", "n", "-o", "-2"]).stdout,
        b"g2\ng3\n"
    );
    assert_eq!(
        k(&["consume", "-b", &b, "-t", "n", "-o", "-4"]).stdout,
        b"m6\ng1\ng2\ng3\n"
    );
    let out = k(&["consume", "-b", &b, "-t", "n", "--offset=-x"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("-N (the last N messages)"),
        "{}",
        out.stderr
    );
    // A negative partition reaches the broker, which has no such partition.
    let out = k(&["offsets", "-b", &b, "-t", "n", "-p", "-3"]);
    assert_eq!(out.code, Some(7), "{}", out.stderr);
    assert!(out.stderr.contains("OFFSETS for n:-3"), "{}", out.stderr);

    // A malformed port is a usage error naming it.
    let out = k(&["consume", "-b", "127.0.0.1:x", "-t", "n"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains(r#"the port "x" is not a number"#),
        "{}",
        out.stderr
    );
    let out = k(&["consume", "-b", ":9092", "-t", "n"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    // Without a port, 9092. A broker of ours on 127.0.0.1:9092 if the port is free here;
    // otherwise something else holds it and only the address in the message is checked.
    let free = TcpListener::bind("127.0.0.1:9092").is_ok();
    if free {
        let on_9092 = BrokerProc::start_with(&["--host", "127.0.0.1", "--port", "9092"], false);
        produce(&on_9092.addr, "p", &["default port"]);
        assert_eq!(on_9092.addr, "127.0.0.1:9092");
        let out = k(&["consume", "-b", "127.0.0.1", "-t", "p"]);
        assert_eq!(
            (out.code, out.text()),
            (Some(0), "default port\n".into()),
            "{}",
            out.stderr
        );
        drop(on_9092);
        let out = k(&["offsets", "-b", "127.0.0.1", "-t", "p", "--timeout", "1"]);
        assert_eq!(out.code, Some(5), "{}", out.stderr);
        assert!(
            out.stderr.contains("connection refused by 127.0.0.1:9092"),
            "{}",
            out.stderr
        );
    } else {
        eprintln!("127.0.0.1:9092 is in use here: the default-port run was left out");
    }
}

#[test]
fn errors_name_the_request_and_topic_partition() {
    let broker = BrokerProc::start(&["--partitions", "3"]);
    let b = broker.addr.clone();
    produce(&b, "e", &["x"]);
    let out = k(&["consume", "-b", &b, "-t", "e", "-p", "5"]);
    assert_eq!(out.code, Some(7));
    assert_eq!(
        out.stderr,
        format!(
            "kafka07: the broker at {b} rejected OFFSETS for e:5 (it closed the connection): \
             topic e has 3 partitions (0 to 2) on that broker\n"
        )
    );
    let out = k(&["consume", "-b", &b, "-t", "e", "-p", "3", "-o", "0"]);
    assert_eq!(out.code, Some(7));
    assert_eq!(
        out.stderr,
        format!(
            "kafka07: the broker at {b} rejected FETCH for e:3 (it answered WrongPartition \
             (3)): topic e has 3 partitions (0 to 2) on that broker\n"
        )
    );
    let out = k(&["produce", "-b", &b, "-t", "e", "-p", "9", "-m", "x"]);
    assert_eq!(out.code, Some(7));
    assert_eq!(
        out.stderr,
        format!(
            "kafka07: the broker at {b} rejected PRODUCE for e:9 (it closed the connection): \
             topic e has 3 partitions (0 to 2) on that broker (found by the confirming FETCH)\n"
        )
    );
    let out = k(&["offsets", "-b", &b, "-t", "e", "-p", "4"]);
    assert_eq!(out.code, Some(7));
    assert!(
        out.stderr.contains("rejected OFFSETS for e:4"),
        "{}",
        out.stderr
    );
    // Out of range names topic:partition and the range.
    let out = k(&["consume", "-b", &b, "-t", "e", "-p", "0", "-o", "100"]);
    assert_eq!(out.code, Some(6));
    assert_eq!(
        out.stderr,
        "kafka07: offset 100 is out of range for e:0: valid offsets are 0 to 11 (try -o \
         earliest or -o latest)\n"
    );
    // Nothing listens: which request, which partition, which address.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = format!("127.0.0.1:{port}");
    let out = k(&[
        "consume",
        "-b",
        &dead,
        "-t",
        "e",
        "-p",
        "1",
        "--timeout",
        "1",
    ]);
    assert_eq!(out.code, Some(5));
    assert!(
        out.stderr
            .starts_with("kafka07: OFFSETS for e:1 failed: no broker reachable after")
            && out
                .stderr
                .contains(&format!("connection refused by {dead}")),
        "{}",
        out.stderr
    );
}

#[test]
fn probe_and_confirm_fetches_share_the_connection_and_no_confirm() {
    let broker = BrokerProc::start(&[]);
    let proxy = Proxy::start(&broker.addr);
    let p = proxy.addr.clone();
    let out = k(&["produce", "-b", &p, "-t", "c", "-m", "one", "-m", "two"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let conns = proxy.take();
    assert_eq!(conns.len(), 1, "{conns:?}");
    assert_eq!(requests(&conns[0]), ["PRODUCE c:0", "FETCH 0 max 0"]);
    let out = k(&[
        "produce",
        "-b",
        &p,
        "-t",
        "c",
        "-m",
        "three",
        "--no-confirm",
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stderr.contains("codec none, not confirmed)"),
        "{}",
        out.stderr
    );
    let conns = proxy.take();
    assert_eq!(conns.len(), 1, "{conns:?}");
    assert_eq!(requests(&conns[0]), ["PRODUCE c:0"]);
    // consume -o N: the probe FETCH, then the FETCHes that print, on one connection.
    let out = k(&["consume", "-b", &p, "-t", "c", "-o", "13"]);
    assert_eq!(
        (out.code, out.text()),
        (Some(0), "two\nthree\n".into()),
        "{}",
        out.stderr
    );
    let conns = proxy.take();
    assert_eq!(conns.len(), 1, "{conns:?}");
    assert_eq!(
        requests(&conns[0]),
        [
            "FETCH 13 max 1048576",
            "FETCH 13 max 1048576",
            "FETCH 41 max 1048576"
        ]
    );
    let help = k(&["consume", "--help"]).text();
    assert!(
        help.contains("probe FETCH at OFFSET (on the same connection"),
        "{help}"
    );
    let help = k(&["produce", "--help"]).text();
    assert!(help.contains("zero-size FETCH"), "{help}");
    assert!(help.contains("--no-confirm"), "{help}");
}

#[test]
fn the_fetch_size_grows_up_to_max_fetch_size() {
    let broker = BrokerProc::start(&[]);
    let proxy = Proxy::start(&broker.addr);
    let p = proxy.addr.clone();
    let big = vec![b'x'; 5000];
    let out = k_in(&["produce", "-b", &p, "-t", "g", "--raw"], &big);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    produce(&p, "g", &["small"]);
    proxy.take();
    let out = k(&[
        "consume",
        "-b",
        &p,
        "-t",
        "g",
        "--fetch-size",
        "100",
        "--format",
        "hex",
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        out.text(),
        format!("{}\n{}\n", "78".repeat(5000), "736d616c6c")
    );
    let conns = proxy.take();
    assert_eq!(conns.len(), 1);
    // OFFSETS earliest, a 100-byte FETCH that cuts the message, one grown to fit it (4 +
    // 6 + 5000 bytes), then on from the next message at the grown size.
    assert_eq!(
        requests(&conns[0]),
        [
            "OFFSETS g:0",
            "FETCH 0 max 100",
            "FETCH 0 max 5010",
            "FETCH 5010 max 5010",
            "FETCH 5025 max 5010"
        ]
    );
    let out = k(&[
        "consume",
        "-b",
        &p,
        "-t",
        "g",
        "--fetch-size",
        "100",
        "--max-fetch-size",
        "1000",
    ]);
    assert_eq!(out.code, Some(1));
    assert_eq!(
        out.stderr,
        "kafka07: FETCH for g:0 failed: a message of 5010 bytes does not fit the maximum fetch \
         size of 1000 bytes; raise --max-fetch-size to read it (at offset 0)\n"
    );
    let help = k(&["consume", "--help"]).text();
    assert!(help.contains("the fetch size doubles"), "{help}");
    assert!(help.contains("--max-fetch-size <BYTES>"), "{help}");
}
