//! `kafka07 decode` on raw byte streams: the Perl and PHP 0.7 clients' wire fixtures, decoded
//! as request and response streams (detected or forced), and a request/response pair.

mod common;

use common::*;

const PERL: &str = "tests/data/peer-test-suites/perl-kafka-0.12";
const PHP: &str = "tests/data/peer-test-suites/kafka-php";

fn json_lines(s: &str) -> Vec<serde_json::Value> {
    s.lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

#[test]
fn every_fixture_decodes_without_a_crash() {
    for dir in [PERL, PHP] {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                continue;
            }
            let p = path.to_str().unwrap();
            for args in [
                vec!["decode", p],
                vec!["decode", "--deep", "-v", "--hex", p],
                vec!["decode", "--json", "--deep", "--as", "requests", p],
                vec!["decode", "--json", "--deep", "--as", "responses", p],
                vec!["decode", "--as", "segment", p],
            ] {
                let out = run(&args);
                assert!(
                    matches!(out.code, Some(0 | 3 | 4)),
                    "{args:?}: {:?} {}",
                    out.code,
                    out.stderr
                );
                assert!(!out.stderr.contains("panicked"), "{args:?}: {}", out.stderr);
            }
        }
    }
}

#[test]
fn perl_requests_and_responses() {
    let files = [
        "t_03_Protocol_03_produce_request__request_series.bin",
        "t_03_Protocol_04_fetch_request__request.bin",
        "t_03_Protocol_05_offsets_request__request.bin",
        "t_03_Protocol_06_fetch_response__response.bin",
        "t_03_Protocol_06_fetch_response__response_not_valid.bin",
        "t_03_Protocol_07_offsets_response__response.bin",
        "t_03_Protocol_07_offsets_response__response_offsets.bin",
    ];
    let paths: Vec<String> = files.iter().map(|f| format!("{PERL}/{f}")).collect();
    let mut args = vec!["decode", "-v"];
    args.extend(paths.iter().map(String::as_str));
    let out = run(&args);
    // The not-valid fixture has bad CRCs and the offsets one a wrong count: defects.
    assert_eq!(out.code, Some(4), "{}", out.stderr);
    assert!(out.stdout.contains(
        "raw  C>S @0        request 0    PRODUCE     test:0  3 messages (79 bytes)  [no response by design]"
    ));
    assert!(out
        .stdout
        .contains("OFFSETS     test:0  time earliest  max 100"));
    assert!(out.stdout.contains("\"The second message\""));
    assert!(out.stdout.contains("crc MISMATCH (stored 0x00000000"));
    insta::assert_snapshot!(out.stdout);
}

#[test]
fn php_producer_fixtures_with_deep_offsets() {
    let out = run(&[
        "decode",
        "-v",
        "--deep",
        &format!("{PHP}/tests_Kafka_V07_ProducerChannelTest__L25.bin"),
        &format!("{PHP}/tests_Kafka_V07_ProducerChannelTest__L63.bin"),
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    insta::assert_snapshot!(out.stdout);
}

#[test]
fn php_fetch_request_paired_with_its_response() {
    // ConsumerChannelTest: FETCH topic1/0 at 2870; the response holds A, gzip(B, C), D.
    let out = run(&[
        "decode",
        "--json",
        "--deep",
        &format!("{PHP}/tests_Kafka_V07_ConsumerChannelTest__L45.bin"),
        "--responses",
        &format!("{PHP}/tests_Kafka_V07_ConsumerChannelTest__L52.bin"),
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let v = json_lines(&out.stdout);
    let resp = v.iter().find(|r| r["type"] == "response").unwrap();
    assert_eq!(resp["request_index"], 0);
    assert_eq!(resp["guessed"], false);
    assert_eq!(resp["topic"], "topic1");
    assert_eq!(resp["set"]["next_offset"], 2983);
    let plain: Vec<(u64, String)> = v
        .iter()
        .filter(|r| r["type"] == "message" && r["codec"] == "none")
        .map(|r| {
            let p = hex::decode(r["payload"].as_str().unwrap()).unwrap();
            (r["offset"].as_u64().unwrap(), String::from_utf8(p).unwrap())
        })
        .collect();
    // The reference's offsets (spec §5.3): inner messages but the last carry the wrapper's
    // start; the last carries the offset after the wrapper.
    assert_eq!(
        plain,
        [
            (2894, "Hello World A!".to_string()),
            (2894, "Hello World B!".to_string()),
            (2959, "Hello World C!".to_string()),
            (2983, "Hello World D!".to_string()),
        ]
    );
}

#[test]
fn truncated_response_is_an_incomplete_frame() {
    let out = run(&[
        "decode",
        &format!("{PHP}/tests_Kafka_V07_ConsumerChannelTest__L98.bin"),
    ]);
    assert_eq!(out.code, Some(4));
    assert!(out.stdout.contains("raw-responses"), "{}", out.stdout);
    assert!(out
        .stdout
        .contains("the stream ends inside a response frame: 27 bytes present, 92 more needed"));
}

#[test]
fn forcing_the_wrong_direction_reports_errors_with_positions() {
    let out = run(&[
        "decode",
        "--json",
        "--as",
        "requests",
        &format!("{PERL}/t_03_Protocol_06_fetch_response__response.bin"),
    ]);
    assert_eq!(out.code, Some(4));
    let v = json_lines(&out.stdout);
    let err = v.iter().find(|r| r["type"] == "error").unwrap();
    assert!(err["at"].is_u64());
    assert_eq!(err["dir"], "to-server");
    assert!(v.iter().all(|r| r["type"] != "request"));
}

#[test]
fn base64_payloads() {
    let out = run(&[
        "decode",
        "--json",
        "--payload",
        "base64",
        &format!("{PERL}/t_03_Protocol_03_produce_request__request_single.bin"),
    ]);
    let v = json_lines(&out.stdout);
    let m = v.iter().find(|r| r["type"] == "message").unwrap();
    assert_eq!(m["payload"], "VGhlIGZpcnN0IG1lc3NhZ2U="); // "The first message"
    assert_eq!(m["payload_encoding"], "base64");
}
