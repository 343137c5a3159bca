//! The fuzz oracles of the std side: the capture reader of `kafka07-io` and the `decode`
//! pipeline of the `kafka07` CLI (`kafka07::dump`), one check per fuzz target.
//!
//! As with `checks.rs`, the cargo-fuzz targets (`fuzz/fuzz_targets/{capture,dump}.rs`) call
//! these functions and so does the stable regression replay (`tests/fuzz_std_regressions.rs`
//! in the root package, which includes this file with `#[path]`), so a crasher found by
//! libFuzzer is replayed by `cargo test` through exactly the same checks. Only `kafka07`,
//! `kafka07_io`, `serde_json` and `std` are used: the file builds in both places, on stable.
//!
//! Each check splits a few parameter bytes off the front of the input (layouts below; missing
//! bytes read as zero) and panics when an oracle fails.

use std::collections::{HashMap, HashSet};
use std::io::{self, Read};

use kafka07::dump::json::{JsonWriter, PayloadEncoding};
use kafka07::dump::text::{TextOptions, TextWriter};
use kafka07::dump::{decode_bytes, DecodeConfig, Event, InputKind, Sink};
use kafka07::proto::CrcPolicy;
use kafka07_io::capture::writer::{
    write_capture, FrameBuilder, PcapRecord, TcpFlags, WriteOptions,
};
use kafka07_io::capture::{
    linktype, CaptureConfig, CaptureError, CaptureEvent, CaptureFormat, CaptureReader, CloseCause,
    ConnId, Direction, Timestamp,
};

/// A target's check: panics when an oracle fails.
pub type Check = fn(&[u8]);

/// Every std target: its name (the `fuzz_targets/<name>.rs` binary, the `corpus/<name>/` and
/// `regressions/<name>/` directories) and its check.
pub const TARGETS: &[(&str, Check)] = &[("capture", capture), ("dump", dump)];

/// The first `N` bytes of `data` (zero-padded when it is shorter) and the rest.
fn split<const N: usize>(data: &[u8]) -> ([u8; N], &[u8]) {
    let mut p = [0u8; N];
    let n = data.len().min(N);
    p[..n].copy_from_slice(&data[..n]);
    (p, &data[n..])
}

// ---------------------------------------------------------------------------------------------
// capture
// ---------------------------------------------------------------------------------------------

/// A reader handing out at most `chunk` bytes per `read` call, as a pipe or a `BufReader`
/// over a file may: a conforming consumer of `Read` must not depend on read sizes.
struct Chunked<'a> {
    data: &'a [u8],
    chunk: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.chunk).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// Everything a capture read produced, comparable across reads: the events (errors as their
/// messages), the detected format, the final counters.
#[derive(Debug, PartialEq)]
struct CaptureRun {
    format: Option<CaptureFormat>,
    items: Vec<Result<CaptureEvent, String>>,
    stats: Option<String>,
}

/// The capture reader's configuration from two parameter bytes, with small memory limits:
///
/// * byte 0: bit 0 `ack_gaps`, bit 1 `only_broker_ports`, bits 2–3 the broker ports
///   (`[9092]`, `[]`, `[9092, 9093]`, `[0, 65535]`), bits 4–7 `max_connections` (1–16);
/// * byte 1: bits 0–3 `max_buffered_total` in KiB steps (0–15 KiB, plus 1 byte), bit 4 a
///   128 KiB instead of the minimum 64 KiB `window`, bits 5–7 the read-size limit of the
///   chunked second read (1, 2, 3, 7, 64, 512, 4096 bytes or unlimited).
fn capture_config(p: [u8; 2]) -> (CaptureConfig, usize) {
    let broker_ports = match (p[0] >> 2) & 3 {
        0 => vec![9092],
        1 => vec![],
        2 => vec![9092, 9093],
        _ => vec![0, 65535],
    };
    let config = CaptureConfig {
        broker_ports,
        only_broker_ports: p[0] & 2 != 0,
        window: if p[1] & 0x10 != 0 {
            128 << 10
        } else {
            64 << 10
        },
        max_buffered_total: usize::from(p[1] & 0x0f) * 1024 + 1,
        max_record_len: 64 << 10,
        max_connections: usize::from(p[0] >> 4) + 1,
        ack_gaps: p[0] & 1 != 0,
    };
    let chunk = [1, 2, 3, 7, 64, 512, 4096, usize::MAX][usize::from(p[1] >> 5)];
    (config, chunk)
}

/// Reads a whole capture, checking the reader's documented contract on the way; `bound` is
/// the most events allowed (an endless loop otherwise).
fn read_capture<R: Read>(input: R, config: &CaptureConfig, bound: usize) -> CaptureRun {
    let mut reader = match CaptureReader::with_config(input, config.clone()) {
        Ok(r) => r,
        Err(e) => {
            return CaptureRun {
                format: None,
                items: vec![Err(e.to_string())],
                stats: None,
            }
        }
    };
    let format = Some(reader.format());
    let mut items = Vec::new();
    let mut errored = false;
    // The directions that reported a hole since the error.
    let mut flushed: HashSet<(ConnId, Direction)> = HashSet::new();
    loop {
        assert!(
            items.len() <= bound,
            "more than {bound} capture events: endless loop?"
        );
        match reader.next_event() {
            Ok(Some(ev)) => {
                if errored {
                    // After an error only the flush: each hole as a gap, the data buffered
                    // behind it, and the closes.
                    match &ev {
                        CaptureEvent::Gap { conn, dir, .. } => {
                            flushed.insert((*conn, *dir));
                        }
                        CaptureEvent::Data { conn, dir, .. } => assert!(
                            flushed.contains(&(*conn, *dir)),
                            "after an error, data not behind a gap: {ev:?}"
                        ),
                        CaptureEvent::Close { .. } => {}
                        _ => panic!("after an error, {ev:?}"),
                    }
                }
                items.push(Ok(ev));
            }
            Ok(None) => break,
            Err(e) => {
                assert!(!errored, "a second error: {e}");
                assert!(
                    !matches!(e, CaptureError::NotACapture { .. }),
                    "NotACapture after the header: {e}"
                );
                errored = true;
                items.push(Err(e.to_string()));
            }
        }
    }
    // Exhausted means exhausted.
    for _ in 0..3 {
        assert!(
            matches!(reader.next_event(), Ok(None)),
            "an event after the end"
        );
    }
    let stats = reader.stats().clone();
    check_capture_events(&items, &stats);
    CaptureRun {
        format,
        items,
        stats: Some(format!("{stats:?}")),
    }
}

/// The event-stream rules of the module documentation, and the counters against the events.
fn check_capture_events(
    items: &[Result<CaptureEvent, String>],
    stats: &kafka07_io::capture::CaptureStats,
) {
    let mut next_id = 0u64;
    let mut open: HashSet<ConnId> = HashSet::new();
    let mut closed: HashSet<ConnId> = HashSet::new();
    // Per (connection, direction): the end of the last Data or Gap.
    let mut ends: HashMap<(ConnId, Direction), u64> = HashMap::new();
    let (mut delivered, mut gaps, mut gap_bytes, mut skipped, mut opened) = (0u64, 0, 0u64, 0, 0);
    let mut mismatches = 0u64;
    let live = |conn: &ConnId, open: &HashSet<ConnId>, what: &str| {
        assert!(open.contains(conn), "{what} of {conn}, which is not open");
    };
    let ts_ok = |ts: &Timestamp| assert!(ts.micros < 1_000_000, "timestamp {ts:?}");
    for ev in items.iter().filter_map(|i| i.as_ref().ok()) {
        match ev {
            CaptureEvent::Open { conn, ts, .. } => {
                assert_eq!(conn.0, next_id, "connection ids in order of appearance");
                next_id += 1;
                opened += 1;
                ts_ok(ts);
                open.insert(*conn);
            }
            CaptureEvent::Data {
                conn,
                dir,
                offset,
                bytes,
                ts,
            } => {
                live(conn, &open, "data");
                ts_ok(ts);
                assert!(!bytes.is_empty(), "empty Data event");
                let len = bytes.len() as u64;
                if let Some(end) = ends.insert((*conn, *dir), offset.saturating_add(len)) {
                    assert_eq!(*offset, end, "{conn} {dir}: data not contiguous");
                }
                delivered += len;
            }
            CaptureEvent::Gap {
                conn,
                dir,
                missing,
                at_stream_offset,
                ..
            } => {
                live(conn, &open, "gap");
                assert!(*missing > 0, "empty gap");
                let end = at_stream_offset.saturating_add(*missing);
                if let Some(prev) = ends.insert((*conn, *dir), end) {
                    assert_eq!(*at_stream_offset, prev, "{conn} {dir}: gap not contiguous");
                }
                gaps += 1;
                gap_bytes += missing;
            }
            CaptureEvent::Close {
                conn, reset, cause, ..
            } => {
                live(conn, &open, "close");
                assert_eq!(
                    *reset,
                    *cause == CloseCause::Reset,
                    "reset flag vs {cause:?}"
                );
                open.remove(conn);
                closed.insert(*conn);
            }
            CaptureEvent::Skipped { .. } => skipped += 1,
            CaptureEvent::LengthMismatch { .. } => mismatches += 1,
        }
    }
    assert!(open.is_empty(), "connections never closed: {open:?}");
    assert_eq!(closed.len() as u64, opened);
    assert_eq!(stats.connections, opened, "stats.connections");
    assert_eq!(stats.bytes_delivered, delivered, "stats.bytes_delivered");
    assert_eq!(stats.gaps, gaps, "stats.gaps");
    assert_eq!(stats.gap_bytes, gap_bytes, "stats.gap_bytes");
    assert_eq!(stats.skipped, skipped, "stats.skipped");
    assert_eq!(
        stats.length_mismatches, mismatches,
        "stats.length_mismatches"
    );
    assert_eq!(
        stats.skipped_by_reason.values().sum::<u64>(),
        skipped,
        "stats.skipped_by_reason"
    );
}

/// Target `capture`: [`CaptureReader`] over arbitrary bytes (pcap or pcapng after a 2-byte
/// parameter prefix, see `capture_config`), with 64 KiB records and window and a tiny global
/// buffer limit.
///
/// * never panics, never loops: at most 64 events per input byte (plus a constant);
/// * the documented event stream: ids in order, Open before everything else of its
///   connection, nothing after its Close, every connection closed at the end, Data never
///   empty and each direction's Data and Gap contiguous, no empty gap, `reset` iff
///   `CloseCause::Reset`, at most one error and only the flush after it (each hole as a gap,
///   then the data buffered behind it, then the closes), `None` for ever after the end; the
///   counters equal what the events add up to;
/// * no amplification: the bytes delivered never exceed the input (retransmissions and
///   overlaps are dropped, so every delivered byte is a distinct input byte);
/// * read-size independence: the same bytes through a reader that hands out 1 to 4096
///   bytes per call give the same events, errors and counters;
/// * determinism: a second read of the same bytes gives the same run.
pub fn capture(data: &[u8]) {
    let (p, input) = split::<2>(data);
    let (config, chunk) = capture_config(p);
    let bound = input.len().saturating_mul(64).saturating_add(1024);
    let whole = read_capture(input, &config, bound);
    let delivered: usize = whole
        .items
        .iter()
        .filter_map(|i| match i {
            Ok(CaptureEvent::Data { bytes, .. }) => Some(bytes.len()),
            _ => None,
        })
        .sum();
    assert!(
        delivered <= input.len(),
        "{delivered} bytes delivered from a {}-byte input",
        input.len()
    );
    let chunked = read_capture(Chunked { data: input, chunk }, &config, bound);
    assert_eq!(whole, chunked, "reads of at most {chunk} bytes differ");
    let again = read_capture(input, &config, bound);
    assert_eq!(whole, again, "not deterministic");
}

// ---------------------------------------------------------------------------------------------
// dump
// ---------------------------------------------------------------------------------------------

/// Sends every event to both writers, and counts them by type.
struct Tee<'a> {
    text: &'a mut TextWriter<Vec<u8>>,
    json: &'a mut JsonWriter<Vec<u8>>,
    events: Vec<&'static str>,
}

impl Sink for Tee<'_> {
    fn event(&mut self, event: &Event<'_>) {
        self.events.push(match event {
            Event::Input(_) => "input",
            Event::Connection(_) => "connection",
            Event::Request(_) => "request",
            Event::Response(_) => "response",
            Event::Message(_) => "message",
            Event::Gap(_) => "gap",
            Event::Uncaptured(_) => "uncaptured",
            Event::Resync(_) => "resync",
            Event::Error(_) => "error",
            Event::Close(_) => "close",
            Event::Segment(_) => "segment",
            Event::Partition(_) => "partition",
            Event::Summary(_) => "summary",
        });
        self.text.event(event);
        self.json.event(event);
    }
}

/// One `decode` of the input: the result, the text and JSON outputs, the event types.
#[derive(Debug, PartialEq)]
struct DumpRun {
    result: Result<String, String>,
    text: Vec<u8>,
    json: Vec<u8>,
    events: Vec<&'static str>,
}

/// What `decode` does with the input, from two parameter bytes:
///
/// * byte 0: bits 0–2 the input kind (0 auto, 1 capture, 2 requests, 3 responses,
///   4 segment, 5–7 auto), bit 3 `--deep`, bits 4–5 the CRC policy (0 report, 1 verify,
///   2 skip, 3 report), bit 6 base64 payloads in JSON (hex otherwise), bit 7 a 20-digit segment
///   name (base offset 1000) and `.kafka` suffix instead of no name;
/// * byte 1: bits 0–1 `max_frame` (100 MiB, 64 B, 1 KiB, 64 KiB), bits 2–3
///   `max_decompressed` (1 MiB, 0, 100 B, 64 KiB: kept small for the fuzzer's memory limit),
///   bits 4–6 `max_depth` (0–7), bit 7 broker ports `[9092]` or `[0, 65535]`.
fn dump_params(p: [u8; 2]) -> (InputKind, DecodeConfig, PayloadEncoding, &'static str) {
    let kind = match p[0] & 7 {
        1 => InputKind::Capture,
        2 => InputKind::Requests,
        3 => InputKind::Responses,
        4 => InputKind::Segment,
        _ => InputKind::Auto,
    };
    let crc = match (p[0] >> 4) & 3 {
        1 => CrcPolicy::Verify,
        2 => CrcPolicy::Skip,
        _ => CrcPolicy::Report,
    };
    let cfg = DecodeConfig {
        crc,
        deep: p[0] & 8 != 0,
        max_frame: [100 << 20, 64, 1024, 64 << 10][usize::from(p[1] & 3)],
        max_depth: (p[1] >> 4) & 7,
        max_decompressed: [1 << 20, 0, 100, 64 << 10][usize::from((p[1] >> 2) & 3)],
        broker_ports: if p[1] & 0x80 != 0 {
            vec![0, 65535]
        } else {
            vec![9092]
        },
    };
    let payload = if p[0] & 0x40 != 0 {
        PayloadEncoding::Base64
    } else {
        PayloadEncoding::Hex
    };
    let name = if p[0] & 0x80 != 0 {
        "00000000000000001000.kafka"
    } else {
        ""
    };
    (kind, cfg, payload, name)
}

fn dump_once(
    input: &[u8],
    kind: InputKind,
    cfg: &DecodeConfig,
    payload: PayloadEncoding,
    name: &str,
) -> DumpRun {
    // `decode -v --hex` (hex dumps cut at 256 bytes to keep the fuzzer fast).
    let opts = TextOptions {
        verbose: true,
        hex: true,
        hex_max: 256,
        preview: 24,
    };
    let mut text = TextWriter::new(Vec::new(), opts);
    let mut json = JsonWriter::new(Vec::new(), payload);
    let mut tee = Tee {
        text: &mut text,
        json: &mut json,
        events: Vec::new(),
    };
    let result = decode_bytes("fuzz-input", name, input, kind, None, cfg, &mut tee)
        .map(|s| format!("{s:?}"))
        .map_err(|e| e.to_string());
    let events = tee.events;
    DumpRun {
        result,
        text: text.finish().expect("writing to a Vec"),
        json: json.finish().expect("writing to a Vec"),
        events,
    }
}

/// Target `dump`: the whole `kafka07 decode` pipeline on bytes (`kafka07::dump::decode_bytes`
/// after a 2-byte parameter prefix, see `dump_params`), every event rendered by the text
/// writer with `-v --hex` and by the JSON Lines writer, into memory.
///
/// * never panics (decoder, text renderer, JSON writer);
/// * the JSON output is JSON Lines: UTF-8, one line per event, each an object whose `type`
///   is the event's and whose `file` is the input's name; an `input` event first and a
///   `summary` event last when the decode succeeds, nothing at all when the format is
///   unknown;
/// * the text output is UTF-8;
/// * the summary counts what the events say (requests, responses, messages, errors, gaps,
///   connections, segments);
/// * determinism: decoding the same bytes again gives byte-identical text and JSON and the
///   same summary.
pub fn dump(data: &[u8]) {
    let (p, input) = split::<2>(data);
    let (kind, cfg, payload, name) = dump_params(p);
    let run = dump_once(input, kind, &cfg, payload, name);

    assert!(
        std::str::from_utf8(&run.text).is_ok(),
        "text output is UTF-8"
    );
    let json = std::str::from_utf8(&run.json).expect("JSON output is UTF-8");
    let lines: Vec<&str> = if json.is_empty() {
        Vec::new()
    } else {
        assert!(json.ends_with('\n'), "JSON output does not end a line");
        json[..json.len() - 1].split('\n').collect()
    };
    assert_eq!(lines.len(), run.events.len(), "one JSON line per event");
    let mut counts: HashMap<&str, u64> = HashMap::new();
    for (line, ty) in lines.iter().zip(&run.events) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        let obj = v
            .as_object()
            .unwrap_or_else(|| panic!("not an object: {line}"));
        assert_eq!(
            obj.get("type").and_then(|t| t.as_str()),
            Some(*ty),
            "{line}"
        );
        assert_eq!(
            obj.get("file").and_then(|t| t.as_str()),
            Some("fuzz-input"),
            "{line}"
        );
        *counts.entry(ty).or_default() += 1;
    }
    match &run.result {
        Ok(_) => {
            assert_eq!(run.events.first(), Some(&"input"), "first event");
            assert_eq!(run.events.last(), Some(&"summary"), "last event");
            assert_eq!(counts.get("input"), Some(&1));
            assert_eq!(counts.get("summary"), Some(&1));
            let summary: serde_json::Value =
                serde_json::from_str(lines[lines.len() - 1]).expect("parsed above");
            for (field, ty) in [
                ("connections", "connection"),
                ("requests", "request"),
                ("responses", "response"),
                ("messages", "message"),
                ("errors", "error"),
                ("gaps", "gap"),
                ("segments", "segment"),
            ] {
                let n = summary.get(field).and_then(|n| n.as_u64());
                let seen = counts.get(ty).copied().unwrap_or(0);
                assert_eq!(n, Some(seen), "summary {field} vs {ty} events");
            }
        }
        Err(_) => {
            // Only a capture may fail after its `input` event (a bad file header).
            assert!(
                run.events.is_empty() || run.events == ["input"],
                "events before the error: {:?}",
                run.events
            );
        }
    }

    let again = dump_once(input, kind, &cfg, payload, name);
    assert!(again == run, "decoding the same bytes twice differs");
}

// ---------------------------------------------------------------------------------------------
// Seeds
// ---------------------------------------------------------------------------------------------

/// A 0.7 session (PRODUCE, FETCH and its response, OFFSETS and its response) built from
/// the shipped capture's shapes, as (to-server, to-client) byte streams.
fn session_streams() -> (Vec<u8>, Vec<u8>) {
    fn frame(body: &[u8]) -> Vec<u8> {
        let mut f = (body.len() as u32).to_be_bytes().to_vec();
        f.extend_from_slice(body);
        f
    }
    fn message(payload: &[u8]) -> Vec<u8> {
        kafka07::proto::MessageRepr::new(payload)
            .to_vec()
            .expect("a small message encodes")
    }
    let set = [message(b"hello, kafka 0.7"), message(b"second")].concat();
    let topic = |t: &str| {
        [
            (t.len() as u16).to_be_bytes().to_vec(),
            t.as_bytes().to_vec(),
        ]
    };
    let mut produce = 0u16.to_be_bytes().to_vec();
    produce.extend(topic("demo").concat());
    produce.extend_from_slice(&0i32.to_be_bytes());
    produce.extend_from_slice(&(set.len() as u32).to_be_bytes());
    produce.extend_from_slice(&set);
    let mut fetch = 1u16.to_be_bytes().to_vec();
    fetch.extend(topic("demo").concat());
    fetch.extend_from_slice(&0i32.to_be_bytes());
    fetch.extend_from_slice(&0i64.to_be_bytes());
    fetch.extend_from_slice(&(1u32 << 20).to_be_bytes());
    let mut offsets = 4u16.to_be_bytes().to_vec();
    offsets.extend(topic("demo").concat());
    offsets.extend_from_slice(&0i32.to_be_bytes());
    offsets.extend_from_slice(&(-2i64).to_be_bytes());
    offsets.extend_from_slice(&1u32.to_be_bytes());
    let requests = [frame(&produce), frame(&fetch), frame(&offsets)].concat();
    let mut fetch_resp = 0u16.to_be_bytes().to_vec();
    fetch_resp.extend_from_slice(&set);
    let mut offsets_resp = 0u16.to_be_bytes().to_vec();
    offsets_resp.extend_from_slice(&1u32.to_be_bytes());
    offsets_resp.extend_from_slice(&0i64.to_be_bytes());
    let responses = [frame(&fetch_resp), frame(&offsets_resp)].concat();
    (requests, responses)
}

/// Synthesized captures for the seed corpora (written by the replay test's ignored
/// `write_seeds`): the session above over several link types, IPv4 and IPv6, pcap and
/// pcapng, either byte order, micro- and nanosecond timestamps, with a handshake, a
/// retransmission, an out-of-order segment, a truncated frame and a reset.
pub fn synthesized_captures() -> Vec<(String, Vec<u8>)> {
    let (requests, responses) = session_streams();
    let mut out = Vec::new();
    let variants: [(&str, u32, &str, &str, CaptureFormat, bool, bool); 6] = [
        (
            "eth4",
            linktype::ETHERNET,
            "10.0.0.1:40000",
            "10.0.0.2:9092",
            CaptureFormat::Pcap,
            false,
            false,
        ),
        (
            "eth6",
            linktype::ETHERNET,
            "[fd00::1]:40000",
            "[fd00::2]:9092",
            CaptureFormat::Pcapng,
            false,
            false,
        ),
        (
            "sll",
            linktype::LINUX_SLL,
            "127.0.0.1:40001",
            "127.0.0.1:9092",
            CaptureFormat::Pcapng,
            true,
            true,
        ),
        (
            "sll2",
            linktype::LINUX_SLL2,
            "127.0.0.1:40002",
            "127.0.0.1:9092",
            CaptureFormat::Pcap,
            true,
            true,
        ),
        (
            "null",
            linktype::NULL,
            "127.0.0.1:40003",
            "127.0.0.1:9092",
            CaptureFormat::Pcapng,
            false,
            true,
        ),
        (
            "raw",
            linktype::RAW,
            "192.168.1.1:5000",
            "192.168.1.2:9092",
            CaptureFormat::Pcap,
            false,
            false,
        ),
    ];
    for (name, lt, c, s, format, big_endian, nanosecond) in variants {
        let c2s = FrameBuilder::new(lt, c.parse().unwrap(), s.parse().unwrap()).unwrap();
        let s2c = c2s.reverse();
        let (cs, ss) = (1000u32, 5000u32);
        let a = TcpFlags::ACK | TcpFlags::PSH;
        let (r1, r2) = requests.split_at(requests.len() / 2);
        let ack = cs + 1 + requests.len() as u32;
        let frames = [
            c2s.tcp(cs, 0, TcpFlags::SYN, b"").unwrap(),
            s2c.tcp(ss, cs + 1, TcpFlags::SYN | TcpFlags::ACK, b"")
                .unwrap(),
            // Out of order: the second half first, then the first half twice.
            c2s.tcp(cs + 1 + r1.len() as u32, ss + 1, a, r2).unwrap(),
            c2s.tcp(cs + 1, ss + 1, a, r1).unwrap(),
            c2s.tcp(cs + 1, ss + 1, a, r1).unwrap(),
            s2c.tcp(ss + 1, ack, a, &responses).unwrap(),
            c2s.tcp(ack, ss + 1 + responses.len() as u32, TcpFlags::RST, b"")
                .unwrap(),
        ];
        let records: Vec<PcapRecord<'_>> = frames
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let ts = Timestamp::new(1_700_000_000 + i as u32, 1000 * i as u32);
                PcapRecord::new(ts, f)
            })
            .collect();
        let opts = WriteOptions {
            format,
            big_endian,
            nanosecond,
            ..WriteOptions::default()
        };
        let mut file = Vec::new();
        write_capture(&mut file, &opts, lt, &records).unwrap();
        out.push((name.to_string(), file));
    }
    // A snap-length cut response, pcap.
    let c2s = FrameBuilder::new(
        linktype::ETHERNET,
        "10.0.0.1:40000".parse().unwrap(),
        "10.0.0.2:9092".parse().unwrap(),
    )
    .unwrap();
    let f1 = c2s.tcp(1, 0, TcpFlags::ACK, &requests).unwrap();
    let f2 = c2s.reverse().tcp(1, 1, TcpFlags::ACK, &responses).unwrap();
    let records = [
        PcapRecord::new(Timestamp::new(1, 0), &f1),
        PcapRecord::truncated(Timestamp::new(2, 0), &f2, 80),
    ];
    let opts = WriteOptions {
        snaplen: 80,
        ..WriteOptions::default()
    };
    let mut file = Vec::new();
    write_capture(&mut file, &opts, linktype::ETHERNET, &records).unwrap();
    out.push(("snaplen".to_string(), file));
    // The raw streams themselves, for the dump target's raw modes.
    out.push(("requests".to_string(), requests));
    out.push(("responses".to_string(), responses));
    out
}

/// The parameter prefixes the seeds go behind, per target: default-like settings and a
/// variant (see `capture_config` and `dump_params`).
pub const SEED_PARAMS: &[(&str, &[[u8; 2]])] = &[
    // broker port 9092, 1 connection / ack gaps, only broker ports, 16 connections; 15 KiB
    // total, whole reads / 2-byte reads.
    ("capture", &[[0x00, 0xef], [0xf3, 0x3f]]),
    // auto, report, hex / deep, verify, base64; 1 MiB decompressed, depth 4.
    ("dump", &[[0x00, 0x40], [0x58, 0x40]]),
];
