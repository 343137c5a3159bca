//! Hand-built hostile captures (kafka07_io::capture::writer): out-of-order and retransmitted
//! segments, a gap, a connection cut mid-frame, a capture truncated by its snap length, and
//! garbage. Each decoded output is checked.

mod common;

use common::*;
use kafka07::dump::text::{TextOptions, TextRenderer};
use kafka07::dump::{decode_bytes, DecodeConfig, Event, InputKind, JsonCollector, Sink};
use kafka07::proto::{Codec, FetchRequest, FetchResponse};

const CLIENT: &str = "127.0.0.1:40001";
const BROKER: &str = "127.0.0.1:9092";

/// A produce, a fetch with its answer, an offsets request with its answer.
fn clean_exchange(c: &mut Conv, mss: usize) {
    let msgs = set(&[b"alpha", b"beta", b"gamma"]);
    c.client(&produce("events", 0, &msgs), mss);
    c.client(&fetch("events", 0, 0, 1 << 20), mss);
    c.server(&fetch_response(0, &msgs), mss);
    c.client(&offsets("events", 0, -1, 4), mss);
    c.server(&offsets_response(&[msgs.len() as i64, 0]), mss);
}

#[test]
fn clean_conversation_pairs_every_response() {
    let mut c = Conv::new(CLIENT, BROKER);
    clean_exchange(&mut c, 1400);
    let two = [
        FetchRequest::new("events", 0, 0, 300),
        FetchRequest::new("other", 1, 50, 300),
    ];
    c.client(&multifetch(&two), 1400);
    let a = set(&[b"alpha"]);
    let w = wrapper(Codec::Gzip, &[b"x1", b"x2"]);
    c.server(
        &multifetch_response(&[
            FetchResponse {
                error: kafka07::proto::ErrorCode(0),
                messages: &a,
            },
            FetchResponse {
                error: kafka07::proto::ErrorCode(1),
                messages: &[],
            },
        ]),
        1400,
    );
    c.client(&fetch("events", 0, 0, 1 << 20), 1400);
    c.server(&fetch_response(0, &w), 1400);
    c.fin();
    insta::assert_snapshot!(decode_capture_text(&c.pcap(), true));
}

#[test]
fn out_of_order_and_retransmitted_segments_are_reassembled() {
    let mut c = Conv::new(CLIENT, BROKER);
    let msgs = set(&[b"one", b"two", b"three", b"four"]);
    let req = produce("events", 2, &msgs);
    // Segments 1, 3, 2, then 2 and 1 again (retransmissions), then the rest.
    let cuts = [0, 20, 40, 60, req.len()];
    c.client_at(cuts[0] as u32, &req[cuts[0]..cuts[1]]);
    c.client_at(cuts[2] as u32, &req[cuts[2]..cuts[3]]);
    c.client_at(cuts[1] as u32, &req[cuts[1]..cuts[2]]);
    c.client_at(cuts[1] as u32, &req[cuts[1]..cuts[2]]);
    c.client_at(cuts[0] as u32, &req[cuts[0]..cuts[1]]);
    c.client_at(cuts[3] as u32, &req[cuts[3]..cuts[4]]);
    c.cseq = req.len() as u32;
    let f = fetch("events", 2, 0, 4096);
    c.client(&f, 1400);
    // The response arrives in two segments, the second one first and duplicated.
    let resp = fetch_response(0, &msgs);
    let half = resp.len() / 2;
    c.server_at(half as u32, &resp[half..]);
    c.server_at(0, &resp[..half]);
    c.server_at(half as u32, &resp[half..]);
    c.sseq = resp.len() as u32;
    c.fin();
    let out = decode_capture_text(&c.pcap(), true);
    assert!(out.contains("PRODUCE     events:2  4 messages"), "{out}");
    assert!(!out.contains("ERROR"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn gap_in_a_response_resumes_at_the_next_response() {
    let mut c = Conv::new(CLIENT, BROKER);
    let first = set(&[b"first-a", b"first-b"]);
    let second = set(&[b"second"]);
    c.client(&fetch("logs", 0, 0, 4096), 1400);
    c.client(&fetch("logs", 0, first.len() as i64, 4096), 1400);
    let r1 = fetch_response(0, &first);
    let r2 = fetch_response(0, &second);
    // The middle of the first response is never captured.
    c.server_at(0, &r1[..10]);
    c.server_at(30, &r1[30..]);
    c.sseq = r1.len() as u32;
    c.server(&r2, 1400);
    c.client(&offsets("logs", 0, -2, 1), 1400);
    c.server(&offsets_response(&[0]), 1400);
    c.fin();
    let out = decode_capture_text(&c.pcap(), false);
    assert!(out.contains("GAP"), "{out}");
    assert!(
        out.contains("OFFSETS     logs:0  NoError  offsets [0]  [answers request 2]"),
        "{out}"
    );
    insta::assert_snapshot!(out);
}

#[test]
fn gap_in_requests_resumes_at_the_next_request() {
    let mut c = Conv::new(CLIENT, BROKER);
    let big = set(&[&[b'z'; 200][..], &[b'y'; 200][..]]);
    let p1 = produce("logs", 0, &big);
    let p2 = produce("logs", 1, &set(&[b"after the gap"]));
    c.client_at(0, &p1[..100]);
    // Bytes 100..200 of the first request are lost.
    c.client_at(200, &p1[200..]);
    c.cseq = p1.len() as u32;
    c.client(&p2, 1400);
    c.fin();
    let out = decode_capture_text(&c.pcap(), false);
    assert!(out.contains("PRODUCE     logs:1  1 message"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn connection_cut_mid_frame() {
    let mut c = Conv::new(CLIENT, BROKER);
    let msgs = set(&[b"will", b"be", b"cut"]);
    c.client(&fetch("logs", 0, 0, 4096), 1400);
    let r = fetch_response(0, &msgs);
    c.server(&r[..r.len() - 7], 1400);
    c.rst();
    let out = decode_capture_text(&c.pcap(), false);
    assert!(out.contains("incomplete_frame"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn capture_truncated_by_snaplen() {
    let mut c = Conv::new(CLIENT, BROKER);
    let big = set(&[&[b'a'; 600][..], &[b'b'; 600][..]]);
    c.client(&fetch("logs", 0, 0, 1 << 20), 1400);
    c.client(&fetch("logs", 0, 1234, 1 << 20), 1400);
    // Each server frame keeps 54 + 100 bytes: Ethernet, IP and TCP headers, then 100 bytes.
    let r1 = fetch_response(0, &big);
    c.server_truncated(&r1, 54 + 100);
    let r2 = fetch_response(1, &[]);
    c.server(&r2, 1400);
    c.fin();
    let out = decode_capture_text(&c.pcap(), false);
    assert!(out.contains("frame truncated by the snap length"), "{out}");
    assert!(out.contains("OffsetOutOfRange (1)"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn garbage_in_a_stream_is_skipped_to_the_next_frame() {
    let mut c = Conv::new(CLIENT, BROKER);
    let mut bytes = b"\xde\xad\xbe\xef junk that is not kafka".to_vec();
    bytes.extend(produce("logs", 0, &set(&[b"found"])));
    c.client(&bytes, 1400);
    c.fin();
    let v = decode_capture_json(&c.pcap(), &DecodeConfig::default());
    let kinds: Vec<&str> = v.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert!(
        kinds.contains(&"error") && kinds.contains(&"resync"),
        "{kinds:?}"
    );
    let req = v.iter().find(|e| e["type"] == "request").unwrap();
    assert_eq!(req["at"], 27);
    assert_eq!(req["topic"], "logs");
    let err = v.iter().find(|e| e["type"] == "error").unwrap();
    assert_eq!(err["at"], 0);
    assert_eq!(err["kind"], "invalid_frame_size"); // 0xdeadbeef is negative
}

#[test]
fn random_bytes_never_panic() {
    // A small deterministic generator: no dependency, same bytes every run.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let valid = [
        produce("t", 0, &set(&[b"a"])),
        fetch("t", 0, 0, 100),
        fetch_response(0, &set(&[b"b"])),
        offsets_response(&[1, 2]),
    ]
    .concat();
    // KAFKA07_MUTATION_ROUNDS=N runs longer locally.
    let rounds: u32 = std::env::var("KAFKA07_MUTATION_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    for round in 0..rounds {
        let mut bytes = valid.clone();
        let flips = 1 + (next() % 8) as usize;
        for _ in 0..flips {
            let i = (next() as usize) % bytes.len();
            bytes[i] = next() as u8;
        }
        if round % 3 == 0 {
            bytes.truncate((next() as usize) % bytes.len());
        }
        let cfg = DecodeConfig {
            deep: true,
            ..DecodeConfig::default()
        };
        for dir in [
            kafka07::dump::Direction::Requests,
            kafka07::dump::Direction::Responses,
        ] {
            kafka07::dump::decode_raw(&bytes, Some(dir), &cfg, &mut |_: &kafka07::dump::Event<
                '_,
            >| {});
        }
        let mut c = Conv::new(CLIENT, BROKER);
        c.client(&bytes, 37);
        c.server(&bytes, 53);
        c.fin();
        let mut pcap = c.pcap();
        decode_capture_json(&pcap, &cfg);
        // The whole pipeline, every forced format, both renderers; and a damaged capture.
        let at = 24 + (next() as usize) % (pcap.len() - 24);
        pcap[at] ^= next() as u8 | 1;
        for input in [&bytes[..], &pcap[..]] {
            for kind in [
                InputKind::Auto,
                InputKind::Capture,
                InputKind::Requests,
                InputKind::Responses,
                InputKind::Segment,
            ] {
                let mut text = TextRenderer::new(TextOptions {
                    verbose: true,
                    hex: true,
                    ..TextOptions::default()
                });
                let mut json = JsonCollector::default();
                let mut sink = |e: &Event<'_>| {
                    text.render(e);
                    json.event(e);
                };
                let _ = decode_bytes("fuzz", "", input, kind, None, &cfg, &mut sink);
            }
        }
    }
}

#[test]
fn pcapng_and_ipv6_through_the_cli() {
    let mut c = Conv::new("[::1]:40002", "[::1]:9092");
    clean_exchange(&mut c, 16);
    c.fin();
    let frames: Vec<(kafka07::io::capture::Timestamp, Vec<u8>)> = c
        .records
        .iter()
        .map(|(ts, f, _)| (*ts, f.clone()))
        .collect();
    let mut file = Vec::new();
    kafka07::io::capture::writer::write_pcapng(
        &mut file,
        kafka07::io::capture::linktype::ETHERNET,
        &frames,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("v6.pcapng"), &file).unwrap();
    let out = run_in(
        Some(dir.path()),
        &["decode", "v6.pcapng"],
        None,
        std::time::Duration::from_secs(60),
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout.contains("== v6.pcapng: pcapng"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("open [::1]:40002 -> [::1]:9092"));
    assert!(out
        .stdout
        .contains("OFFSETS     events:0  NoError  offsets [44, 0]  [answers request 2]"));
    assert!(out.stdout.contains(
        "summary: 1 connection, 3 requests (1 produce, unanswered by design), 2 responses, 6 messages; no problems found"
    ));
}
