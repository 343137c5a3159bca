//! Real captures (tests/data/captures/cli/, made by scripts/make-captures.sh: tcpdump on
//! the loopback interface while `kafka07 broker` and the client commands talked), decoded
//! by `kafka07 decode`: the output is checked against what the script sent.

mod common;

use common::*;

const DIR: &str = "tests/data/captures/cli";

fn json(file: &str, extra: &[&str]) -> Vec<serde_json::Value> {
    let path = format!("{DIR}/{file}");
    let mut args = vec!["decode", "--json"];
    args.extend_from_slice(extra);
    args.push(&path);
    let out = run(&args);
    assert!(matches!(out.code, Some(0 | 4)), "{}", out.stderr);
    out.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn payload(r: &serde_json::Value) -> String {
    String::from_utf8(hex::decode(r["payload"].as_str().unwrap()).unwrap()).unwrap()
}

#[test]
fn session_capture_text() {
    let out = run(&["decode", "-v", "--deep", &format!("{DIR}/session.pcap")]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    insta::assert_snapshot!(out.stdout);
}

#[test]
fn session_capture_holds_what_was_sent() {
    let v = json("session.pcap", &["--deep"]);
    let sent = [
        "hello, kafka 0.7",
        "second message",
        "third message",
        "gzip one",
        "gzip two",
        "gzip three",
        "snappy one",
        "snappy two",
    ];
    // Produced: plain messages at depth 0, compressed batches' messages at depth 1.
    let produced: Vec<String> = v
        .iter()
        .filter(|r| r["type"] == "message" && r["in"] == "request" && r["codec"] == "none")
        .map(payload)
        .collect();
    assert_eq!(produced, sent);
    // Consumed: the same messages, with the reference's offsets.
    let consumed: Vec<(u64, String)> = v
        .iter()
        .filter(|r| r["type"] == "message" && r["in"] == "response" && r["codec"] == "none")
        .map(|r| (r["offset"].as_u64().unwrap(), payload(r)))
        .collect();
    let texts: Vec<&str> = consumed.iter().map(|(_, p)| p.as_str()).collect();
    assert_eq!(texts, sent);
    let offsets: Vec<u64> = consumed.iter().map(|(o, _)| *o).collect();
    assert_eq!(offsets, [26, 50, 73, 73, 73, 162, 162, 231]);
    // Every response answered a request, and the produce requests expected none.
    let responses: Vec<&serde_json::Value> = v.iter().filter(|r| r["type"] == "response").collect();
    assert_eq!(responses.len(), 7);
    assert!(responses.iter().all(|r| r["guessed"] == false));
    let produce = v
        .iter()
        .filter(|r| r["type"] == "request" && r["request_type"] == "PRODUCE")
        .count();
    assert_eq!(produce, 3);
    let offsets_answer = v
        .iter()
        .rfind(|r| r["type"] == "response" && r["request_type"] == "OFFSETS")
        .unwrap();
    assert_eq!(offsets_answer["offsets"], serde_json::json!([231, 0]));
    let summary = v.last().unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["errors"], 0);
    assert_eq!(summary["connections"], 5);
}

#[test]
fn errors_capture() {
    let out = run(&["decode", &format!("{DIR}/errors.pcap")]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out
        .stdout
        .contains("FETCH       demo:0  OffsetOutOfRange (1)"));
    assert!(out.stdout.contains("PRODUCE     demo:7  1 message"));
    assert!(out
        .stdout
        .contains("close (reset): 2 requests, 0 responses, 1 unanswered"));
    insta::assert_snapshot!(out.stdout);
}

#[test]
fn snaplen_capture_keeps_alignment_and_decodes_the_cut_frames() {
    let out = run(&["decode", "-v", &format!("{DIR}/snaplen.pcap")]);
    assert_eq!(out.code, Some(4), "gaps are defects");
    assert!(out.stdout.contains("frame truncated by the snap length"));
    // The cut PRODUCE is still a request, delimited by its size: the FETCH after it is
    // request 1, exactly where the whole session had it.
    assert!(
        out.stdout.contains(
            "request 0    PRODUCE     big:0  0 messages (930 bytes), 1 not captured, layout of \
             the last 620 bytes not captured  [134 of 949 bytes captured]"
        ),
        "{}",
        out.stdout
    );
    assert!(out
        .stdout
        .contains("C>S @949      request 1    FETCH       big:0  offset 0  max 0"));
    assert!(out
        .stdout
        .contains("offset        0  next      310  NOT CAPTURED  entry of 310 bytes, 115 of them captured"));
    assert!(out
        .stdout
        .contains("OFFSETS     big:0  NoError  offsets [930]"));
    assert!(!out.stdout.contains("ERROR"), "{}", out.stdout);
    assert!(!out.stdout.contains("RESYNC"), "{}", out.stdout);
    insta::assert_snapshot!(out.stdout);
}

#[test]
fn hex_dumps_and_port_option() {
    let out = run(&["decode", "--hex", &format!("{DIR}/errors.pcap")]);
    assert!(
        out.stdout.contains("0000:   00 00 00 18  00 01 00 04"),
        "{}",
        out.stdout
    );
    // With another broker port configured, the handshake still tells the sides apart.
    let out = run(&["decode", "--port", "1234", &format!("{DIR}/errors.pcap")]);
    assert!(
        out.stdout
            .contains("broker side: it received the first SYN"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("OffsetOutOfRange (1)"));
}
