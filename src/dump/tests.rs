//! Damaged data decoded in full (issue 12, parts 2 and 3): a bad CRC in the middle of a
//! message set hides nothing after it, and a compressed wrapper whose own CRC is bad is still
//! shown, opened with `--deep`, and its inner messages flagged.

use kafka07_proto::{wrap, Codec, CrcPolicy, MessageRepr};
use serde_json::Value;

use super::{
    decode_raw, decode_segment, Counter, DecodeConfig, Direction, JsonCollector, SegmentContext,
    Summary,
};

fn entry(payload: &[u8]) -> Vec<u8> {
    MessageRepr::new(payload).to_vec().unwrap()
}

/// A magic-1 entry whose stored CRC is replaced by `crc`.
fn with_crc(mut e: Vec<u8>, crc: u32) -> Vec<u8> {
    e[6..10].copy_from_slice(&crc.to_be_bytes());
    e
}

fn gzip_wrapper(payloads: &[&[u8]]) -> Vec<u8> {
    let inner: Vec<MessageRepr<&[u8]>> = payloads.iter().map(|p| MessageRepr::new(*p)).collect();
    wrap(Codec::Gzip, &inner)
        .unwrap()
        .unwrap()
        .to_vec()
        .unwrap()
}

/// first (15 bytes), second with CRC 0xdeadbeef (16 bytes), third (15 bytes).
fn three_with_bad_middle() -> Vec<u8> {
    [
        entry(b"first"),
        with_crc(entry(b"second"), 0xdead_beef),
        entry(b"third"),
    ]
    .concat()
}

fn cfg(crc: CrcPolicy, deep: bool) -> DecodeConfig {
    DecodeConfig {
        crc,
        deep,
        ..DecodeConfig::default()
    }
}

fn segment(bytes: &[u8], cfg: &DecodeConfig) -> (Vec<Value>, Summary) {
    let mut out = JsonCollector::default();
    let mut counter = Counter::new(&mut out);
    let ctx = SegmentContext {
        path: "00000000000000000000.kafka".into(),
        recovered_at_startup: true,
        ..SegmentContext::default()
    };
    decode_segment(bytes, 0, &ctx, cfg, &mut counter);
    let summary = counter.summary.clone();
    (out.values, summary)
}

fn of_type<'v>(values: &'v [Value], t: &str) -> Vec<&'v Value> {
    values.iter().filter(|v| v["type"] == t).collect()
}

fn payload(v: &Value) -> String {
    String::from_utf8_lossy(&hex::decode(v["payload"].as_str().unwrap()).unwrap()).into_owned()
}

/// A PRODUCE request frame for "demo"/0 carrying `set`.
fn produce(set: &[u8]) -> Vec<u8> {
    let mut body = vec![0, 0, 0, 4];
    body.extend_from_slice(b"demo");
    body.extend_from_slice(&0i32.to_be_bytes());
    body.extend_from_slice(&(set.len() as i32).to_be_bytes());
    body.extend_from_slice(set);
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    frame
}

#[test]
fn segment_bad_crc_in_the_middle_shows_all_three_and_where_recovery_truncates() {
    let (v, summary) = segment(&three_with_bad_middle(), &cfg(CrcPolicy::Report, false));
    let msgs = of_type(&v, "message");
    let shown: Vec<String> = msgs.iter().map(|m| payload(m)).collect();
    assert_eq!(shown, ["first", "second", "third"]);
    let crcs: Vec<&str> = msgs.iter().map(|m| m["crc"].as_str().unwrap()).collect();
    assert_eq!(crcs, ["valid", "mismatch", "valid"]);
    assert_eq!(msgs[1]["crc_stored"], 0xdead_beef_u32);
    assert_eq!(msgs[1]["crc_computed"], kafka07_proto::crc32(b"second"));
    let offsets: Vec<(u64, u64)> = msgs
        .iter()
        .map(|m| {
            (
                m["position"].as_u64().unwrap(),
                m["offset"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(offsets, [(0, 15), (15, 31), (31, 46)]);
    let seg = of_type(&v, "segment")[0];
    assert_eq!(seg["messages"], 1, "valid prefix");
    assert_eq!(seg["messages_after_tail"], 2);
    assert_eq!(seg["crc_errors"], 1);
    assert_eq!(seg["valid_bytes"], 15);
    assert_eq!(seg["next_offset"], 15);
    assert_eq!(seg["tail"]["at"], 15);
    assert_eq!(seg["tail"]["bytes"], 31);
    assert_eq!(seg["tail"]["reason"], "bad_crc");
    assert_eq!((summary.messages, summary.crc_errors), (3, 1));
    assert_eq!(summary.torn_segments, 1);
    assert!(of_type(&v, "error").is_empty());
}

#[test]
fn segment_bad_crc_text_says_where_recovery_truncates_and_that_the_walk_went_on() {
    let mut lines = Vec::new();
    let mut r = super::text::TextRenderer::new(super::text::TextOptions::default());
    decode_segment(
        &three_with_bad_middle(),
        0,
        &SegmentContext {
            path: "s.kafka".into(),
            recovered_at_startup: true,
            ..SegmentContext::default()
        },
        &cfg(CrcPolicy::Report, false),
        &mut |e: &super::Event<'_>| lines.push(r.render(e)),
    );
    assert_eq!(lines.len(), 4);
    assert!(lines[1].contains("crc MISMATCH (stored 0xdeadbeef, computed 0x"));
    assert!(lines[2].contains("\"third\""));
    assert!(
        lines[3].contains("torn tail at byte 15 (offset 15): 31 bytes")
            && lines[3].contains("2 messages from there on shown above")
            && lines[3].contains("truncate this file to 15 bytes"),
        "{}",
        lines[3]
    );
}

#[test]
fn segment_crc_verify_stops_at_the_bad_crc_and_skip_checks_nothing() {
    let (v, summary) = segment(&three_with_bad_middle(), &cfg(CrcPolicy::Verify, false));
    let shown: Vec<String> = of_type(&v, "message").iter().map(|m| payload(m)).collect();
    assert_eq!(shown, ["first"]);
    assert_eq!(of_type(&v, "segment")[0]["messages_after_tail"], 0);
    assert_eq!(summary.crc_errors, 0);

    let (v, summary) = segment(&three_with_bad_middle(), &cfg(CrcPolicy::Skip, false));
    let msgs = of_type(&v, "message");
    assert_eq!(msgs.len(), 3);
    assert!(msgs.iter().all(|m| m["crc"] == "unchecked"));
    // Recovery checks CRCs whatever the display policy.
    assert_eq!(of_type(&v, "segment")[0]["tail"]["reason"], "bad_crc");
    assert_eq!(summary.crc_errors, 0);
}

#[test]
fn segment_walk_past_a_bad_crc_reports_a_broken_entry_after_it() {
    let mut bytes = three_with_bad_middle();
    bytes.extend_from_slice(&[0, 0, 0, 50, 1, 0]); // an entry cut short
    let (v, _) = segment(&bytes, &cfg(CrcPolicy::Report, false));
    assert_eq!(of_type(&v, "message").len(), 3);
    let errors = of_type(&v, "error");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["at"], 46);
    assert_eq!(errors[0]["kind"], "incomplete_entry");
    assert_eq!(of_type(&v, "segment")[0]["tail"]["at"], 15);
}

#[test]
fn fetch_response_bad_crc_in_the_middle_shows_all_three() {
    let set = three_with_bad_middle();
    let mut frame = ((set.len() + 2) as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&[0, 0]);
    frame.extend_from_slice(&set);
    let mut out = JsonCollector::default();
    let mut counter = Counter::new(&mut out);
    decode_raw(
        &frame,
        Some(Direction::Responses),
        &DecodeConfig::default(),
        &mut counter,
    );
    assert_eq!(counter.summary.crc_errors, 1);
    let msgs = of_type(&out.values, "message");
    let shown: Vec<(String, &str)> = msgs
        .iter()
        .map(|m| (payload(m), m["crc"].as_str().unwrap()))
        .collect();
    assert_eq!(
        shown,
        [
            ("first".to_string(), "valid"),
            ("second".to_string(), "mismatch"),
            ("third".to_string(), "valid")
        ]
    );
    let resp = of_type(&out.values, "response")[0];
    assert_eq!(resp["set"]["crc_errors"], 1);
    assert_eq!(resp["set"]["next_offset"], 46);
}

/// before (16 bytes), a gzip wrapper of "in one", "in two" with `crc`, after.
fn wrapped_set(corrupt_payload: bool) -> (Vec<u8>, usize) {
    let mut w = with_crc(gzip_wrapper(&[b"in one", b"in two"]), 0x1234_5678);
    if corrupt_payload {
        // Inside the deflate stream: the wrapper no longer inflates.
        for b in &mut w[10 + 10..10 + 16] {
            *b ^= 0x55;
        }
    }
    let len = w.len();
    ([entry(b"before"), w, entry(b"after")].concat(), len)
}

#[test]
fn wrapper_with_bad_crc_is_shown_and_with_deep_its_inner_messages_are_flagged() {
    let (set, wlen) = wrapped_set(false);
    for (name, values) in [
        ("segment", segment(&set, &cfg(CrcPolicy::Report, true)).0),
        ("request", {
            let mut out = JsonCollector::default();
            decode_raw(
                &produce(&set),
                Some(Direction::Requests),
                &cfg(CrcPolicy::Report, true),
                &mut out,
            );
            out.values
        }),
    ] {
        let msgs = of_type(&values, "message");
        let rows: Vec<(String, u64, u64, u64, &str, bool)> = msgs
            .iter()
            .map(|m| {
                (
                    payload(m),
                    m["position"].as_u64().unwrap(),
                    m["offset"].as_u64().unwrap(),
                    m["depth"].as_u64().unwrap(),
                    m["crc"].as_str().unwrap(),
                    m["in_bad_crc_wrapper"] == true,
                )
            })
            .collect();
        let after = 16 + wlen as u64;
        assert_eq!(rows.len(), 5, "{name}");
        assert_eq!(
            rows[0],
            ("before".into(), 0, 16, 0, "valid", false),
            "{name}"
        );
        assert_eq!(
            (rows[1].1, rows[1].2, rows[1].3, rows[1].4, rows[1].5),
            (16, after, 0, "mismatch", false),
            "{name}: the wrapper, with its offset and next offset"
        );
        assert_eq!(msgs[1]["codec"], "gzip");
        assert_eq!(msgs[1]["crc_stored"], 0x1234_5678);
        assert_eq!(
            rows[2],
            ("in one".into(), 16, 16, 1, "valid", true),
            "{name}"
        );
        assert_eq!(
            rows[3],
            ("in two".into(), 16, after, 1, "valid", true),
            "{name}"
        );
        assert_eq!(
            rows[4],
            ("after".into(), after, after + 15, 0, "valid", false),
            "{name}"
        );
        assert!(of_type(&values, "error").is_empty(), "{name}");
    }
}

#[test]
fn wrapper_with_bad_crc_that_does_not_inflate_reports_the_error_at_the_wrapper() {
    let (set, wlen) = wrapped_set(true);
    let mut out = JsonCollector::default();
    let mut counter = Counter::new(&mut out);
    decode_raw(
        &produce(&set),
        Some(Direction::Requests),
        &cfg(CrcPolicy::Report, true),
        &mut counter,
    );
    let summary = counter.summary.clone();
    let msgs = of_type(&out.values, "message");
    let depth0: Vec<String> = msgs
        .iter()
        .filter(|m| m["depth"] == 0)
        .map(|m| m["codec"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(depth0, ["none", "gzip", "none"], "all three entries shown");
    assert_eq!(msgs[1]["crc"], "mismatch");
    assert_eq!(msgs[1]["offset"], 16 + wlen as u64);
    assert!(msgs.iter().all(|m| m["in_bad_crc_wrapper"] != true));
    let errors = of_type(&out.values, "error");
    assert_eq!(errors.len(), 1, "{errors:?}");
    // The request frame's set starts after 4 + 2 + 2 + 4 + 4 + 4 bytes, the wrapper 16 bytes
    // later: the error is inside it, and names it.
    let at = errors[0]["at"].as_u64().unwrap();
    assert!((36 + 10..36 + wlen as u64).contains(&at), "{at}");
    assert_eq!(errors[0]["layer"], "gzip");
    let text = errors[0]["message"].as_str().unwrap();
    assert!(
        text.contains("in the wrapper at byte 36, whose CRC does not match: stored 0x12345678"),
        "{text}"
    );
    assert_eq!((summary.crc_errors, summary.errors), (1, 1));
}

// Frames whose size field a snap length cut (issue 12, part 1): delimited by inference from
// the recorded packet lengths when they agree with the captured size bytes, never otherwise.

use super::{ConnectionDecoder, Dir};

/// Feeds packets of one direction as a capture decode does: each packet's captured bytes,
/// then the bytes the snap length cut off it.
fn packets(dir: Dir, list: &[(&[u8], u64)]) -> (Vec<Value>, Summary) {
    let mut out = JsonCollector::default();
    let mut counter = Counter::new(&mut out);
    let mut d = ConnectionDecoder::new(Some(0), DecodeConfig::default());
    for (bytes, missing) in list {
        d.push(dir, bytes, None, &mut counter);
        d.uncaptured(dir, *missing, &mut counter);
    }
    d.finish(&mut counter);
    let summary = counter.summary.clone();
    (out.values, summary)
}

#[test]
fn size_bytes_that_disagree_with_the_packet_length_delimit_nothing() {
    // 2 bytes kept of a 70,000-byte packet starting 00 00: a frame of at most 65,539 bytes
    // starts it, so the packet holds more than one frame and where the next starts is
    // unknown. Nothing is made up: an `unaligned` record, then a search that finds nothing
    // in the 2 bytes of the next packet, not counted as damage.
    let (v, s) = packets(Dir::ToServer, &[(&[0, 0], 69_998), (&[0, 0], 26)]);
    let un = of_type(&v, "uncaptured");
    assert_eq!(un.len(), 1, "{v:?}");
    assert_eq!(un[0]["what"], "unaligned");
    assert_eq!(
        (un[0]["at"].as_u64(), un[0]["size"].as_u64()),
        (Some(0), Some(70_000))
    );
    assert_eq!(un[0]["captured"], 2);
    assert!(un[0]["detail"]
        .as_str()
        .unwrap()
        .contains("more than one frame"));
    assert!(of_type(&v, "request").is_empty());
    let resync = of_type(&v, "resync");
    assert_eq!(resync.len(), 1);
    assert_eq!(resync[0]["not_captured"], true);
    // Its 2 captured bytes and the 26 cut off after them.
    assert_eq!(resync[0]["skipped"], 28);
    assert_eq!((s.unaligned, s.unplaced_bytes, s.skipped_bytes), (1, 28, 0));
    assert_eq!((s.inferred_frames, s.errors), (0, 0));
    assert!(!s.has_defects());
}

#[test]
fn a_frame_over_several_packets_ends_where_its_size_bytes_allow() {
    // Size bytes 00 01 (a frame of 65,540 to 131,075 bytes): packets of 40,000 and 40,000
    // bytes give 80,000 (fits), and the next packet starts with 00 00 and is 30 bytes long
    // (a frame of its own): the first frame is taken to end after two packets.
    let (v, s) = packets(
        Dir::ToServer,
        &[(&[0, 1], 39_998), (b"xy", 39_998), (&[0, 0], 28)],
    );
    let got: Vec<(u64, u64, u64)> = of_type(&v, "uncaptured")
        .iter()
        .map(|u| {
            assert_eq!(u["inferred"], true);
            (
                u["at"].as_u64().unwrap(),
                u["size"].as_u64().unwrap(),
                u["captured"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, [(0, 80_000, 4), (80_000, 30, 2)]);
    assert_eq!(
        (s.inferred_frames, s.uncaptured_frames, s.requests),
        (2, 2, 0)
    );
}

#[test]
fn a_stream_ending_before_the_size_bytes_allow_delimits_nothing() {
    // 00 01: at least 65,540 bytes, but the stream ends after 40,000.
    let (v, s) = packets(Dir::ToClient, &[(&[0, 1], 39_998)]);
    let un = of_type(&v, "uncaptured");
    assert_eq!(un.len(), 1);
    assert_eq!(un[0]["what"], "unaligned");
    assert!(un[0]["detail"]
        .as_str()
        .unwrap()
        .contains("allow 65540 to 131075 bytes"));
    assert_eq!((s.inferred_frames, s.responses), (0, 0));
}

// The JSON writer (issue 13, part 4) writes each event straight from `serde` into its buffer:
// the same bytes as the JSON value it used to build per record.

/// Both renderings of every event: the writer's line and the one made from `to_value`.
struct BothJson {
    renderer: super::json::JsonRenderer,
    file: String,
    payload: super::json::PayloadEncoding,
    lines: usize,
}

impl super::Sink for BothJson {
    fn event(&mut self, e: &super::Event<'_>) {
        use super::render::Render;
        if let super::Event::Input(i) = e {
            self.file.clone_from(&i.path);
        }
        let mut written = Vec::new();
        self.renderer.render_into(e, &mut written);
        let mut v = super::json::to_value(e, self.payload);
        v.as_object_mut()
            .unwrap()
            .insert("file".into(), Value::String(self.file.clone()));
        assert_eq!(String::from_utf8(written).unwrap(), v.to_string());
        self.lines += 1;
    }
}

#[test]
fn json_written_straight_is_the_json_value_byte_for_byte() {
    use super::json::{JsonRenderer, PayloadEncoding};
    let root = env!("CARGO_MANIFEST_DIR");
    let files = [
        "tests/data/captures/cli/session.pcap",
        "tests/data/captures/cli/errors.pcap",
        "tests/data/captures/snaplen/s96.pcap",
        "tests/data/captures/snaplen/s68.pcap",
        "tests/data/captures/snaplen/mismatch-s96.pcap",
        "tests/data/reference/MagicByte0-0/00000000000000000000.kafka",
        "tests/data/peer-test-suites/perl-kafka-0.12/t_03_Protocol_05_offsets_request__request.bin",
    ];
    let mut total = 0;
    for f in files {
        let bytes = std::fs::read(format!("{root}/{f}")).unwrap();
        for payload in [PayloadEncoding::Hex, PayloadEncoding::Base64] {
            let mut sink = BothJson {
                renderer: JsonRenderer::new(payload),
                file: String::new(),
                payload,
                lines: 0,
            };
            let cfg = DecodeConfig {
                deep: true,
                ..DecodeConfig::default()
            };
            let name = f.rsplit('/').next().unwrap();
            super::decode_bytes(
                f,
                name,
                &bytes,
                super::InputKind::Auto,
                None,
                &cfg,
                &mut sink,
            )
            .unwrap();
            total += sink.lines;
        }
    }
    assert!(total > 900, "{total}");
}

#[test]
fn a_gap_in_a_frame_being_delimited_by_inference_ends_the_inference() {
    // 00 01 (65,540 bytes or more) over one 40,000-byte packet, then a real gap: where the
    // frame ends is unknown (unaligned), the gap is damage, and the stream is searched
    // after it (the next packet's 00 00 is no request: nothing more is made up).
    let mut out = JsonCollector::default();
    let mut counter = Counter::new(&mut out);
    let mut d = ConnectionDecoder::new(Some(0), DecodeConfig::default());
    d.push(Dir::ToServer, &[0, 1], None, &mut counter);
    d.uncaptured(Dir::ToServer, 39_998, &mut counter);
    d.gap(Dir::ToServer, 1_000, &mut counter);
    d.push(Dir::ToServer, &[0, 0], None, &mut counter);
    d.uncaptured(Dir::ToServer, 26, &mut counter);
    d.finish(&mut counter);
    let s = counter.summary.clone();
    let v = out.values;
    let un = of_type(&v, "uncaptured");
    assert_eq!(un.len(), 1, "{v:?}");
    assert_eq!(un[0]["what"], "unaligned");
    assert_eq!(
        (un[0]["at"].as_u64(), un[0]["size"].as_u64()),
        (Some(0), Some(40_000))
    );
    assert!(un[0]["detail"]
        .as_str()
        .unwrap()
        .contains("a gap interrupted it"));
    assert_eq!((s.inferred_frames, s.requests), (0, 0));
}

#[test]
fn a_frame_starting_inside_a_packet_is_not_delimited_by_the_packet() {
    // OFFSETS "t"/0 latest, max 1 (25 bytes) captured whole, then in the same packet the
    // first 2 bytes of the next frame and 30 bytes cut off: that frame starts inside the
    // packet, so the packet's length says nothing about where it ends.
    let req = [
        0, 0, 0, 0x15, 0, 4, 0, 1, b't', 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0, 0, 0, 1,
    ];
    let mut head = req.to_vec();
    head.extend_from_slice(&[0, 0]);
    let (v, s) = packets(Dir::ToServer, &[(&head, 30)]);
    let un = of_type(&v, "uncaptured");
    assert_eq!(un.len(), 1, "{v:?}");
    assert_eq!(un[0]["what"], "unaligned");
    assert_eq!(un[0]["at"], 25);
    assert!(un[0]["detail"]
        .as_str()
        .unwrap()
        .contains("starts inside a packet"));
    assert_eq!((s.inferred_frames, s.requests), (0, 1));
}

#[test]
fn a_packet_shorter_than_a_size_field_starting_an_inference_does_not_underflow() {
    // 00 01 kept of a 3-byte packet: a frame of 65,540 bytes or more starts there, so the
    // frame's end is inferred over the next packets. Its length (3) is below the 4 size
    // bytes; the checks against the frame's size range must not wrap (a panic in debug
    // builds before). The next 2-byte packet fits no boundary either: one `unaligned`.
    let (v, s) = packets(Dir::ToServer, &[(&[0, 1], 1), (&[0, 0], 0)]);
    let un = of_type(&v, "uncaptured");
    assert_eq!(un.len(), 1, "{v:?}");
    assert_eq!(un[0]["what"], "unaligned");
    assert_eq!(un[0]["at"].as_u64(), Some(0));
    assert!(of_type(&v, "request").is_empty());
    assert_eq!((s.inferred_frames, s.requests), (0, 0));
}
