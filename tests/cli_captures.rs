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
    assert_eq!(out.code, Some(0), "bytes never captured are no defect");
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
    assert!(out.stdout.contains(
        "offset        0  next      310  NOT CAPTURED  entry of 310 bytes, 115 of them captured"
    ));
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

// ---------------------------------------------------------------------------------------------
// Snap-length captures (tests/data/captures/snaplen/, made by scripts/make-snaplen-captures.sh):
// one session captured at the same time whole and with `tcpdump -s 96` and `-s 68`, with the
// Linux default TCP timestamps (whole, s96, s68: 66 header bytes per packet, so 30 and 2
// payload bytes are kept) and with TCP timestamps off (nots-*: 54 header bytes, 42 and 14
// payload bytes kept).
// ---------------------------------------------------------------------------------------------

const SNAP: &str = "tests/data/captures/snaplen";

fn snap_json(file: &str) -> Vec<serde_json::Value> {
    let out = run(&["decode", "--json", "--deep", &format!("{SNAP}/{file}.pcap")]);
    assert!(matches!(out.code, Some(0 | 4)), "{}", out.stderr);
    out.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn of_type<'v>(v: &'v [serde_json::Value], t: &str) -> Vec<&'v serde_json::Value> {
    v.iter().filter(|r| r["type"] == t).collect()
}

/// Every request and response as (connection, direction, stream position, type, index,
/// answered request, topic, partition).
fn frames(v: &[serde_json::Value]) -> Vec<String> {
    v.iter()
        .filter(|r| r["type"] == "request" || r["type"] == "response")
        .map(|r| {
            format!(
                "#{} {} @{} {} {} {} index {} answers {}",
                r["conn"],
                r["dir"],
                r["at"],
                r["type"],
                r["request_type"],
                r["size"],
                r["index"],
                r["request_index"]
            )
        })
        .collect()
}

fn counts_by_type(v: &[serde_json::Value], t: &str) -> std::collections::BTreeMap<String, usize> {
    let mut m = std::collections::BTreeMap::new();
    for r in of_type(v, t) {
        *m.entry(r["request_type"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    m
}

#[test]
fn snaplen_request_counts_by_type_equal_the_whole_capture() {
    for (whole, cut) in [
        ("whole", "s96"),
        ("nots-whole", "nots-s96"),
        ("nots-whole", "nots-s68"),
        ("v6-whole", "v6-s96"),
    ] {
        let w = snap_json(whole);
        let c = snap_json(cut);
        let requests = counts_by_type(&w, "request");
        assert_eq!(
            requests,
            [
                ("FETCH", 11),
                ("MULTIFETCH", 1),
                ("MULTIPRODUCE", 1),
                ("OFFSETS", 6),
                ("PRODUCE", 4)
            ]
            .into_iter()
            .map(|(k, n)| (k.to_string(), n))
            .collect(),
            "{whole}"
        );
        assert_eq!(counts_by_type(&c, "request"), requests, "{cut}");
        assert_eq!(
            counts_by_type(&c, "response"),
            counts_by_type(&w, "response"),
            "{cut}"
        );
        // Not only the counts: every frame at the same stream position, with the same size,
        // answering the same request.
        assert_eq!(frames(&c), frames(&w), "{cut}");
        let summary = c.last().unwrap();
        assert_eq!(summary["type"], "summary");
        // Nothing reported as broken that was only not captured: no error, no resync, no CRC.
        assert_eq!(summary["errors"], 0, "{cut}");
        assert_eq!(summary["crc_errors"], 0, "{cut}");
        assert_eq!(summary["skipped_bytes"], 0, "{cut}");
        assert!(of_type(&c, "resync").is_empty(), "{cut}");
        assert!(summary["cut_frames"].as_u64().unwrap() > 0, "{cut}");
    }
}

#[test]
fn snaplen_every_message_is_shown_or_reported_not_captured() {
    for (whole, cut, shown, uncaptured) in [
        ("whole", "s96", 1, 9),
        ("nots-whole", "nots-s96", 5, 7),
        ("nots-whole", "nots-s68", 0, 4),
    ] {
        let w = snap_json(whole);
        let c = snap_json(cut);
        let key = |r: &serde_json::Value| {
            (
                r["conn"].as_u64().unwrap(),
                r["dir"].as_str().unwrap().to_string(),
                r["at"].as_u64().unwrap(),
            )
        };
        let cut_msgs: std::collections::HashMap<_, _> = of_type(&c, "message")
            .into_iter()
            .filter(|m| m["depth"] == 0)
            .map(|m| (key(m), m))
            .collect();
        let not_captured: std::collections::HashMap<_, _> = of_type(&c, "uncaptured")
            .into_iter()
            .filter(|u| u["what"] == "message")
            .map(|u| (key(u), u))
            .collect();
        let lost_layout: Vec<_> = of_type(&c, "uncaptured")
            .into_iter()
            .filter(|u| u["what"] == "message_set" || u["what"] == "frame_rest")
            .collect();
        // Frames whose sets have offsets relative to the set (FETCH offset not captured).
        let relative: std::collections::HashSet<(u64, String, u64)> = of_type(&c, "response")
            .into_iter()
            .filter(|r| r["set"]["base_unknown"] == true)
            .map(|r| {
                (
                    r["conn"].as_u64().unwrap(),
                    r["dir"].as_str().unwrap().to_string(),
                    r["at"].as_u64().unwrap(),
                )
            })
            .collect();
        if cut == "nots-s68" {
            assert!(!relative.is_empty(), "-s 68 keeps no FETCH offset");
        }
        let mut seen = (0, 0);
        for m in of_type(&w, "message")
            .into_iter()
            .filter(|m| m["depth"] == 0)
        {
            let k = key(m);
            if let Some(got) = cut_msgs.get(&k) {
                // Shown: the same message, CRC checked, with the same offsets and payload.
                for f in ["payload", "position", "offset", "crc", "codec", "size"] {
                    assert_eq!(got[f], m[f], "{cut} {k:?} {f}");
                }
                seen.0 += 1;
            } else if let Some(u) = not_captured.get(&k) {
                // Not captured in full: its place and length are still right (its log
                // offsets relative to the set when the FETCH offset was not captured).
                let frame = (k.0, k.1.clone(), u["frame_at"].as_u64().unwrap());
                if relative.contains(&frame) {
                    let len = |r: &serde_json::Value| {
                        r["offset"].as_u64().unwrap() - r["position"].as_u64().unwrap()
                    };
                    assert_eq!(len(u), len(m), "{cut} {k:?}");
                } else {
                    assert_eq!(u["position"], m["position"], "{cut} {k:?}");
                    assert_eq!(u["offset"], m["offset"], "{cut} {k:?}");
                }
                assert_eq!(u["size"].as_u64(), Some(m["size"].as_u64().unwrap() + 10));
                assert!(u["captured"].as_u64() < u["size"].as_u64());
                seen.1 += 1;
            } else {
                // After a length field that was not captured.
                assert!(
                    lost_layout.iter().any(|u| key(u).0 == k.0
                        && key(u).1 == k.1
                        && (key(u).2..key(u).2 + u["size"].as_u64().unwrap()).contains(&k.2)),
                    "{cut}: message {k:?} of the whole capture is not accounted for"
                );
            }
        }
        assert_eq!(seen, (shown, uncaptured), "{cut}: (shown, not captured)");
        assert_eq!(
            cut_msgs.len(),
            shown,
            "{cut}: nothing shown that was not sent"
        );
        let summary = c.last().unwrap();
        assert_eq!(summary["messages"].as_u64(), Some(shown as u64), "{cut}");
        assert_eq!(
            summary["uncaptured_messages"].as_u64(),
            Some(uncaptured as u64),
            "{cut}"
        );
    }
}

#[test]
fn snaplen_payloads_that_fit_are_the_ones_sent() {
    let c = snap_json("nots-s96");
    let shown: Vec<(u64, String)> = of_type(&c, "message")
        .iter()
        .map(|m| (m["conn"].as_u64().unwrap(), payload(m)))
        .collect();
    assert_eq!(
        shown,
        [
            (4, "hello, kafka 0.7".to_string()),
            (5, "hello, kafka 0.7".to_string()),
            (5, "second message".to_string()),
            (8, "multi one".to_string()),
            (8, "multi one".to_string()),
        ]
    );
}

#[test]
fn snaplen_json_frame_records_say_how_many_bytes_were_captured() {
    let w = snap_json("whole");
    let c = snap_json("s96");
    let big = |v: &[serde_json::Value]| {
        (*of_type(v, "request")
            .iter()
            .find(|r| r["conn"] == 3 && r["request_type"] == "PRODUCE")
            .unwrap())
        .clone()
    };
    // The 102400-byte message: a 102430-byte PRODUCE over three TCP segments, 30 bytes of
    // each captured (-s 96 less 66 header bytes).
    let (whole, cut) = (big(&w), big(&c));
    assert_eq!(whole["size"], 102_430);
    assert!(
        whole.get("captured").is_none(),
        "whole frames carry no count"
    );
    assert_eq!(cut["size"], 102_430);
    assert_eq!(cut["captured"], 90);
    assert_eq!(cut["topic"], "demo");
    assert_eq!(cut["partition"], 0);
    assert_eq!(cut["set"]["size"], 102_410);
    assert_eq!(cut["set"]["not_captured"], 1);
    let u = of_type(&c, "uncaptured")
        .into_iter()
        .find(|u| u["conn"] == 3)
        .unwrap();
    assert_eq!(u["what"], "message");
    assert_eq!(
        (u["at"].as_u64(), u["size"].as_u64()),
        (Some(20), Some(102_410))
    );
    assert_eq!(
        (u["position"].as_u64(), u["offset"].as_u64()),
        (Some(0), Some(102_410))
    );
    assert_eq!(u["captured"], 70);
    // A FETCH answer cut after its first bytes still answers its request, with its error
    // code and its set's size.
    let r = of_type(&c, "response")
        .into_iter()
        .find(|r| r["conn"] == 4 && r["index"] == 1)
        .unwrap();
    assert_eq!(r["request_index"], 1);
    assert_eq!(r["error_code"], 0);
    assert_eq!(r["size"], 102_647);
    assert_eq!(r["captured"], 90);
    assert_eq!(r["set"]["end"], "not_captured");
}

#[test]
fn snaplen_68_with_tcp_timestamps_delimits_frames_by_inference_and_invents_nothing() {
    // 68 - 66 header bytes: 2 bytes of each packet, never a whole size field, never a
    // request type. Frames are delimited only by inference (the 2 captured size bytes agree
    // with the recorded packet lengths): reported as inferred frames of unknown type, never
    // as requests or responses, and each one is a frame of the whole capture, at the same
    // place with the same size.
    let w = snap_json("whole");
    let c = snap_json("s68");
    assert!(of_type(&c, "request").is_empty());
    assert!(of_type(&c, "response").is_empty());
    assert!(of_type(&c, "message").is_empty());
    let key = |r: &serde_json::Value| {
        format!(
            "#{} {} @{} {} {}",
            r["conn"],
            r["dir"],
            r["at"],
            r["size"],
            if r["dir"] == "to-server" {
                "request"
            } else {
                "response"
            }
        )
    };
    let whole: Vec<String> = w
        .iter()
        .filter(|r| r["type"] == "request" || r["type"] == "response")
        .map(key)
        .collect();
    let inferred: Vec<&serde_json::Value> = of_type(&c, "uncaptured")
        .into_iter()
        .filter(|u| u["inferred"] == true)
        .collect();
    for u in &inferred {
        assert_eq!(
            u["what"],
            if u["dir"] == "to-server" {
                "request"
            } else {
                "response"
            }
        );
        assert!(u["detail"]
            .as_str()
            .unwrap()
            .contains("agree with the recorded length"));
        // Only what was captured: 2 bytes a packet, no field value.
        assert!(u.get("topic").is_none() && u.get("request_type").is_none());
        assert!(u["captured"].as_u64().unwrap() < u["size"].as_u64().unwrap());
    }
    let mut got: Vec<String> = inferred.iter().map(|u| key(u)).collect();
    let mut want = whole.clone();
    got.sort();
    want.sort();
    // Here every frame of the session starts a packet and the packet lengths leave one
    // reading: all 41 frames are found, and nothing else.
    assert_eq!(got, want);
    assert_eq!(got.len(), 41);
    // The 102,430-byte PRODUCE spans three packets: delimited too, by the one boundary its
    // captured size bytes (0x0001....: 65,540 to 131,075 bytes) allow.
    assert!(inferred
        .iter()
        .any(|u| u["conn"] == 3 && u["size"] == 102_430 && u["captured"] == 6));
    assert!(of_type(&c, "error").is_empty());
    let summary = c.last().unwrap();
    assert_eq!(summary["connections"], 10);
    assert_eq!(summary["inferred_frames"], 41);
    assert_eq!(summary["uncaptured_frames"], 41);
    assert_eq!(summary["requests"], 0);
    assert_eq!(summary["crc_errors"], 0);
    assert_eq!(summary["errors"], 0);
    assert!(summary["gaps"].as_u64().unwrap() > 0);
    assert_eq!(summary["gaps"], summary["not_captured_gaps"]);
}

#[test]
fn snaplen_68_text_says_why_nothing_is_decoded() {
    let out = run(&["decode", &format!("{SNAP}/s68.pcap")]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains(
        "#0   C>S @0        REQUEST?     93 bytes, 2 captured: size inferred, not read (the 2 \
         captured bytes of its 4-byte size field agree with the recorded length of the packet \
         it starts); type not captured (snap length)"
    ));
    assert!(out.stdout.ends_with(
        "summary: 10 connections, 41 frames too little captured to decode (41 delimited by \
         inference), 308638 bytes not captured (snap length); no problems found\n"
    ));
}

#[test]
fn snaplen_exit_status_0_when_the_snap_length_is_the_only_problem() {
    // Bytes a snap length kept out are reported and counted, not damage: exit 0. The same
    // capture with one length field made inconsistent is damaged: exit 4.
    for name in ["s96", "nots-s96", "nots-s68", "s68", "tso-s96", "v6-s96"] {
        let out = run(&["decode", "--json", &format!("{SNAP}/{name}.pcap")]);
        assert_eq!(out.code, Some(0), "{name}: {}", out.stderr);
        let last: serde_json::Value =
            serde_json::from_str(out.stdout.lines().last().unwrap()).unwrap();
        let n = |f: &str| last[f].as_u64().unwrap();
        assert!(n("gaps") > 0, "{name}");
        assert_eq!(n("gaps"), n("not_captured_gaps"), "{name}");
        assert_eq!(n("gap_bytes"), n("not_captured_bytes"), "{name}");
        assert_eq!((n("errors"), n("skipped_bytes")), (0, 0), "{name}");
    }
    let out = run(&["decode", &format!("{SNAP}/mismatch-s96.pcap")]);
    assert_eq!(out.code, Some(4), "{}", out.stdout);
    assert!(
        out.stdout.ends_with("problems: 1 error\n"),
        "{}",
        out.stdout
    );
    // A snap length does not hide real damage: the capture that also lost a packet (the
    // record of frame 40 removed) exits 4, its gap counted as a problem.
    let out = run(&["decode", &format!("{SNAP}/lost-s96.pcap")]);
    assert_eq!(out.code, Some(4), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("GAP          32741 bytes missing (never captured)"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("problems: "), "{}", out.stdout);
}

#[test]
fn snaplen_tso_capture_decodes_as_the_original() {
    // tso-s96.pcap is s96.pcap with every IPv4 total length 0 (TSO/GSO): decoded by the
    // records' original lengths, it gives the same records; the summary counts the frames
    // whose length came from the record alone.
    let orig = snap_json("s96");
    let tso = snap_json("tso-s96");
    assert_eq!(orig.len(), tso.len());
    for (o, t) in orig.iter().zip(&tso).skip(1) {
        if o["type"] == "summary" {
            let mut t = t.clone();
            assert_eq!(t["ip_length_zero_frames"], 17);
            t["ip_length_zero_frames"] = 0.into();
            assert_eq!(&t["file"].take(), &format!("{SNAP}/tso-s96.pcap").as_str());
            let mut o = o.clone();
            o["file"].take();
            assert_eq!(o, t);
        } else {
            assert_eq!(o["type"], t["type"]);
            for (k, v) in o.as_object().unwrap() {
                if k != "file" {
                    assert_eq!(&t[k], v, "{k} of {o}");
                }
            }
        }
    }
}

#[test]
fn snaplen_length_mismatch_is_flagged_and_the_record_length_used() {
    let orig = snap_json("s96");
    let c = snap_json("mismatch-s96");
    let errors = of_type(&c, "error");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["kind"], "length_mismatch");
    assert_eq!(errors[0]["frame"], 40);
    assert_eq!(
        errors[0]["message"],
        "frame 40: the IP header declares 33741 TCP payload bytes, the capture record's \
         original length 32741; the record's length was used"
    );
    // Decoded by the record's length: the same frames as the original.
    assert_eq!(frames(&c), frames(&orig));
}

#[test]
fn snaplen_captures_text() {
    for cut in ["s96", "nots-s96", "nots-s68", "s68"] {
        let out = run(&["decode", "-v", "--deep", &format!("{SNAP}/{cut}.pcap")]);
        assert_eq!(
            out.code,
            Some(0),
            "{cut}: its snap length is its only problem"
        );
        insta::assert_snapshot!(format!("snaplen_{cut}"), out.stdout);
    }
}

#[test]
fn capture_on_standard_input_is_streamed_and_decoded_as_the_file() {
    // `tcpdump -w - | kafka07 decode -`: the capture is read as it comes (not held whole);
    // its records are those of the same file, only its size is not known in advance.
    for file in [
        format!("{DIR}/session.pcap"),
        format!("{SNAP}/s96.pcap"),
        format!("{SNAP}/mismatch-s96.pcap"),
    ] {
        let bytes = std::fs::read(&file).unwrap();
        let piped = run_in(
            None,
            &["decode", "--json", "--deep", "-"],
            Some(&bytes),
            std::time::Duration::from_secs(60),
        );
        let direct = run(&["decode", "--json", "--deep", &file]);
        assert_eq!(piped.code, direct.code, "{file}");
        let lines = |s: &str| -> Vec<serde_json::Value> {
            s.lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        };
        let (p, d) = (lines(&piped.stdout), lines(&direct.stdout));
        assert_eq!(p.len(), d.len(), "{file}");
        assert_eq!(p[0]["format"], d[0]["format"]);
        assert_eq!(
            (&p[0]["path"], &p[0]["size"]),
            (&"<stdin>".into(), &0.into())
        );
        for (mut a, mut b) in p.into_iter().zip(d).skip(1) {
            assert_eq!(a["file"].take(), "<stdin>");
            b["file"].take();
            assert_eq!(a, b, "{file}");
        }
        let text = run_in(
            None,
            &["decode", "-"],
            Some(&bytes),
            std::time::Duration::from_secs(60),
        );
        assert!(text.stdout.starts_with(
            "== <stdin>: pcap (streamed, size not known in advance; detected by magic)\n"
        ));
    }
}

#[test]
fn snaplen_ipv6_68_keeps_no_tcp_header_and_says_so() {
    // IPv6 with TCP timestamps, -s 68: every frame cut inside its TCP header. Nothing can be
    // placed in a stream; the summary says why, and it is no defect.
    let out = run(&["decode", &format!("{SNAP}/v6-s68.pcap")]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        out.stdout,
        format!(
            "== {SNAP}/v6-s68.pcap: pcap (11280 bytes, detected by magic)\nsummary: nothing \
             decoded; no problems found (134 frames cut by the snap length inside their \
             headers: not one byte of their stream captured)\n"
        )
    );
    let c = snap_json("v6-s68");
    let summary = c.last().unwrap();
    assert_eq!(summary["header_cut_frames"], 134);
    assert_eq!(summary["skipped_frames"], 134);
    assert_eq!(summary["errors"], 0);
}
