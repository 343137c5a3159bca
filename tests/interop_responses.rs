//! What six third-party Kafka 0.7 clients make of broker responses: the 29 canned responses
//! of `tests/interop/vectors.py` (plain and compressed fetches, magic 0 and 1, error codes,
//! cut, corrupt and fragmented sets, OFFSETS up to 2^63-1), fed to each peer by the loopback
//! recorder during the capture (`<case>.result.json`). Each case is classified against the
//! spec's decoding of the response (`responses/index.json`, `spec_decode`):
//!
//! * `spec`: the peer returns exactly the spec's payloads (offsets) without an error, or
//!   reports an error where the spec raises one (after at most the spec's good messages);
//! * anything else is a deviation, and every deviation must be a documented peer bug
//!   (`documented()`, INTEROP.md) - a new one fails the test, and so does a documented one
//!   that went away.
//!
//! Uses the fresh captures when `KAFKA07_INTEROP_CAPTURES` is set, else the golden snapshot.

mod interop_common;

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use interop_common::*;
use serde_json::{json, Value};

fn captures() -> (PathBuf, &'static str) {
    match std::env::var_os("KAFKA07_INTEROP_CAPTURES") {
        Some(d) if !d.is_empty() => {
            let d = PathBuf::from(d);
            (if d.is_absolute() { d } else { repo().join(d) }, "FRESH")
        }
        _ => (harness_dir().join("golden"), "GOLDEN"),
    }
}

/// Exception types that mean the peer crashed on the response (not a protocol error report).
const CRASHES: [&str; 8] = [
    "AttributeError",
    "TypeError",
    "RangeError",
    "ReferenceError",
    "KeyError",
    "IndexError",
    "error",
    "ConnectionFailure",
];

/// The payloads a peer returned, normalized over the peers' result shapes.
fn returned_payloads(peer: &str, ret: &Value) -> Option<Vec<String>> {
    let strings = |a: &Value, key: &str| -> Option<Vec<String>> {
        a.as_array().map(|a| {
            a.iter()
                .map(|m| {
                    m.get(key)
                        .or_else(|| m.get("payload_utf8_hex"))
                        .or(Some(m))
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned()
                })
                .collect()
        })
    };
    if peer == "franz-kafka" {
        return strings(&ret["data_hex"], "");
    }
    strings(&ret["messages"], "payload_hex").or_else(|| strings(&ret["first"], "payload_hex"))
}

fn returned_offsets(ret: &Value) -> Option<Vec<u64>> {
    let list = |v: &Value| {
        v.as_array()
            .map(|a| a.iter().filter_map(as_offset).collect())
    };
    list(&ret["offsets"])
        .or_else(|| {
            ret.get("offset")
                .filter(|o| !o.is_null())
                .map(|o| as_offset(o).into_iter().collect())
        })
        .or_else(|| list(&ret["offset_events"]))
}

/// `(verdict, description)` for one result.
fn classify(peer: &str, result: &Value, spec: &Value) -> (&'static str, String) {
    let calls = result["calls"].as_array().cloned().unwrap_or_default();
    let outcomes: Vec<&str> = calls.iter().filter_map(|c| c["outcome"].as_str()).collect();
    let errors: Vec<String> = calls
        .iter()
        .filter_map(|c| {
            let e = if c["exception"].is_null() {
                &c["error"]
            } else {
                &c["exception"]
            };
            e["type"]
                .as_str()
                .map(|t| format!("{t}: {}", e["message"].as_str().unwrap_or("")))
        })
        .collect();
    let uncaught = result["uncaught"].as_array().map_or(0, Vec::len);
    let ret = &result["returned"];
    let events = ret["error_events"].as_array().map_or(0, Vec::len);
    let hang = outcomes.contains(&"hang");
    let crashed = uncaught > 0
        || errors
            .iter()
            .any(|e| CRASHES.iter().any(|c| e.split(':').next() == Some(c)));
    let reported = outcomes.iter().any(|o| matches!(*o, "exception" | "error")) || events > 0;
    let mut desc = String::new();
    if let Some(p) = returned_payloads(peer, ret) {
        desc += &format!("payloads {p:?} ");
    }
    if !errors.is_empty() {
        desc += &format!("error {:?} ", errors);
    }
    if events > 0 {
        desc += &format!("error events {} ", ret["error_events"]);
    }
    if uncaught > 0 {
        desc += &format!("{uncaught} uncaught ");
    }
    if hang {
        desc += "hang ";
    }
    let desc = desc.trim().to_owned();
    if hang || crashed {
        return ("deviates", desc);
    }
    if let Some(parts) = spec["parts"].as_array() {
        // MULTIFETCH (samsa): every part as the spec says, or an error at the spec's error.
        let got = ret["parts_completed"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let spec_error = parts.iter().any(|p| !p["error"].is_null());
        let ok_parts = parts.iter().take_while(|p| p["error"].is_null()).count();
        let same = got.len() >= ok_parts
            && parts.iter().zip(&got).all(|(p, g)| {
                let want: Vec<&str> = p["payloads_hex"]
                    .as_array()
                    .map_or(Vec::new(), |a| a.iter().filter_map(Value::as_str).collect());
                let have: Vec<&str> = g.as_array().map_or(Vec::new(), |a| {
                    a.iter().filter_map(|m| m["payload_hex"].as_str()).collect()
                });
                p["error"].is_null() && want == have || !p["error"].is_null()
            });
        let verdict = if same && reported == spec_error {
            "spec"
        } else {
            "deviates"
        };
        return (verdict, format!("parts {}", ret["parts_completed"]));
    }
    if let Some(offsets) = spec["offsets"].as_array() {
        let mut want: Vec<u64> = offsets.iter().filter_map(Value::as_u64).collect();
        if !ret["offset"].is_null() {
            // prozess getLatestOffset / getEarliestOffset return the first offset by design.
            want.truncate(1);
        }
        let got = returned_offsets(ret);
        let desc = format!("offsets {got:?}");
        return (
            if got == Some(want) && !reported {
                "spec"
            } else {
                "deviates"
            },
            desc,
        );
    }
    if spec["error"].is_null() {
        let want: Vec<String> = spec["payloads_hex"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let ok = !reported && returned_payloads(peer, ret).as_ref() == Some(&want);
        (if ok { "spec" } else { "deviates" }, desc)
    } else {
        let before: Vec<String> = spec["payloads_before_error_hex"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let got = returned_payloads(peer, ret).unwrap_or_default();
        let ok = reported && before.starts_with(&got);
        (if ok { "spec" } else { "deviates" }, desc)
    }
}

/// Every deviation: `(peer, case)` → the documented peer bug (INTEROP.md's numbered lists).
fn documented() -> BTreeMap<(&'static str, &'static str), &'static str> {
    BTreeMap::from([
        (
            ("samsa", "fetch_gzip_between"),
            "samsa-2 wrapper returned raw",
        ),
        (("samsa", "fetch_gzip_only"), "samsa-2 wrapper returned raw"),
        (
            ("samsa", "fetch_snappy_raw"),
            "samsa-2 wrapper returned raw",
        ),
        (
            ("samsa", "fetch_snappy_xerial"),
            "samsa-2 wrapper returned raw",
        ),
        (
            ("samsa", "fetch_unknown_magic"),
            "samsa-6 byte-by-byte 'recovery' skips data silently",
        ),
        (
            ("samsa", "multifetch_hello_err"),
            "samsa-7 AttributeError on a part's error code",
        ),
        (("brod", "fetch_bad_crc"), "brod-1 magic 1 misread"),
        (
            ("brod", "fetch_bad_crc_include_corrupt"),
            "brod-1/2 magic 1 misread, corrupt delivered",
        ),
        (("brod", "fetch_binary_payload"), "brod-1 magic 1 misread"),
        (
            ("brod", "fetch_connection_closed"),
            "brod-4 spins forever on a closed connection",
        ),
        (("brod", "fetch_cut_first"), "brod-6 [] without an error"),
        (("brod", "fetch_cut_trailing"), "brod-1 magic 1 misread"),
        (
            ("brod", "fetch_cut_trailing_include_corrupt"),
            "brod-1 magic 1 misread",
        ),
        (("brod", "fetch_empty_payload"), "brod-1 magic 1 misread"),
        (
            ("brod", "fetch_gzip_between"),
            "brod-1/8 magic 1 misread, no decompression",
        ),
        (("brod", "fetch_gzip_only"), "brod-8 no decompression"),
        (("brod", "fetch_hello_there"), "brod-1 magic 1 misread"),
        (
            ("brod", "fetch_hello_there_chunked"),
            "brod-3 fragmented response: time-out",
        ),
        (
            ("brod", "fetch_hello_there_include_corrupt"),
            "brod-1 magic 1 misread",
        ),
        (("brod", "fetch_high_crc"), "brod-1 magic 1 misread"),
        (
            ("brod", "fetch_magic0_bad_crc"),
            "brod-2 corrupt messages delivered",
        ),
        (("brod", "fetch_mixed_magic"), "brod-1 magic 1 misread"),
        (
            ("brod", "fetch_offset_above_2_32"),
            "brod-1 magic 1 misread",
        ),
        (("brod", "fetch_size_steps"), "brod-1 magic 1 misread"),
        (("brod", "fetch_snappy_raw"), "brod-8 no decompression"),
        (("brod", "fetch_snappy_xerial"), "brod-8 no decompression"),
        (("brod", "fetch_trailing_junk"), "brod-1 magic 1 misread"),
        (
            ("brod", "fetch_unknown_magic"),
            "brod-9 unknown magic read as data",
        ),
        (
            ("pykafka", "fetch_bad_crc"),
            "pykafka-4/5 magic 1 misread, no CRC check",
        ),
        (
            ("pykafka", "fetch_binary_payload"),
            "pykafka-4 magic 1 misread",
        ),
        (
            ("pykafka", "fetch_connection_closed"),
            "pykafka-7 spins forever on a closed connection",
        ),
        (
            ("pykafka", "fetch_cut_first"),
            "pykafka-6 cut message returned as a message",
        ),
        (
            ("pykafka", "fetch_cut_trailing"),
            "pykafka-6 cut message becomes a bogus one",
        ),
        (
            ("pykafka", "fetch_empty_payload"),
            "pykafka-4 magic 1 misread",
        ),
        (("pykafka", "fetch_error_1"), "pykafka-3 error code ignored"),
        (
            ("pykafka", "fetch_error_unknown"),
            "pykafka-3 error code ignored",
        ),
        (
            ("pykafka", "fetch_gzip_between"),
            "pykafka-4/8 magic 1 misread, no decompression",
        ),
        (
            ("pykafka", "fetch_hello_there"),
            "pykafka-4 magic 1 misread",
        ),
        (("pykafka", "fetch_high_crc"), "pykafka-4 magic 1 misread"),
        (
            ("pykafka", "fetch_magic0_bad_crc"),
            "pykafka-5 no CRC check",
        ),
        (
            ("pykafka", "fetch_magic0_cut_trailing"),
            "pykafka-6 cut message becomes a bogus one",
        ),
        (
            ("pykafka", "fetch_mixed_magic"),
            "pykafka-4 magic 1 misread",
        ),
        (
            ("pykafka", "fetch_snappy_xerial"),
            "pykafka-4/8 magic 1 misread, no decompression",
        ),
        (
            ("pykafka", "fetch_trailing_junk"),
            "pykafka-4 magic 1 misread",
        ),
        (
            ("pykafka", "fetch_unknown_magic"),
            "pykafka-9 unknown magic read as data",
        ),
        (
            ("prozess", "fetch_bad_crc"),
            "prozess-6 corrupt messages delivered",
        ),
        (
            ("prozess", "fetch_cut_first"),
            "prozess-9 [] without an error",
        ),
        (
            ("prozess", "fetch_error_unknown"),
            "prozess-8 RangeError on error code -1",
        ),
        (
            ("prozess", "fetch_gzip_between"),
            "prozess-7 wrapper returned raw",
        ),
        (
            ("prozess", "fetch_gzip_only"),
            "prozess-7 wrapper returned raw",
        ),
        (
            ("prozess", "fetch_hello_there_chunked"),
            "prozess-10 fragmented response: [] and uncaught throws",
        ),
        (
            ("prozess", "fetch_magic0"),
            "prozess-5 magic 0: first message only",
        ),
        (
            ("prozess", "fetch_magic0_bad_crc"),
            "prozess-5 magic 0: first message only",
        ),
        (
            ("prozess", "fetch_mixed_magic"),
            "prozess-5 magic 0: first message only",
        ),
        (
            ("prozess", "fetch_snappy_raw"),
            "prozess-7 wrapper returned raw",
        ),
        (
            ("prozess", "fetch_snappy_xerial"),
            "prozess-7 wrapper returned raw",
        ),
        (
            ("prozess", "fetch_unknown_magic"),
            "prozess-7 unknown magic: [] silently",
        ),
        (
            ("franz-kafka", "fetch_bad_crc"),
            "franz-kafka-5 corrupt messages delivered",
        ),
        (
            ("franz-kafka", "fetch_cut_first"),
            "franz-kafka-6 swallowed, consumer stops",
        ),
        (
            ("franz-kafka", "fetch_error_1"),
            "franz-kafka-6 error swallowed, consumer stops",
        ),
        (
            ("franz-kafka", "fetch_error_3"),
            "franz-kafka-6 error swallowed, consumer stops",
        ),
        (
            ("franz-kafka", "fetch_error_unknown"),
            "franz-kafka-6 error swallowed, consumer stops",
        ),
        (
            ("franz-kafka", "fetch_gzip_between"),
            "franz-kafka-14 wrapper content delivered after later messages",
        ),
        (
            ("franz-kafka", "fetch_magic0"),
            "franz-kafka-4 magic 0 loses a byte",
        ),
        (("franz-kafka", "fetch_magic0_bad_crc"), "franz-kafka-4/5"),
        (
            ("franz-kafka", "fetch_magic0_cut_trailing"),
            "franz-kafka-4 magic 0 loses a byte",
        ),
        (
            ("franz-kafka", "fetch_mixed_magic"),
            "franz-kafka-4 magic 0 loses a byte",
        ),
        (
            ("franz-kafka", "fetch_snappy_xerial"),
            "franz-kafka-3 xerial snappy: uncaught TypeError",
        ),
        (
            ("franz-kafka", "fetch_trailing_junk"),
            "franz-kafka-7 junk bytes: uncaught RangeError",
        ),
        (
            ("franz-kafka", "fetch_unknown_magic"),
            "franz-kafka-8 unknown magic parsed as magic 1",
        ),
        (
            ("franz-kafka", "offsets_above_2_53"),
            "franz-kafka-10 uncaught 'number too large'",
        ),
        (
            ("franz-kafka", "offsets_max"),
            "franz-kafka-10 uncaught 'number too large'",
        ),
        (
            ("kafka_npm", "fetch_bad_crc"),
            "kafka_npm-5/7 magic 1 misread, no CRC check",
        ),
        (
            ("kafka_npm", "fetch_binary_payload"),
            "kafka_npm-5/6 magic 1 misread, text payloads",
        ),
        (
            ("kafka_npm", "fetch_cut_first"),
            "kafka_npm-11 [] without an error",
        ),
        (
            ("kafka_npm", "fetch_cut_trailing"),
            "kafka_npm-5 magic 1 misread",
        ),
        (
            ("kafka_npm", "fetch_empty_payload"),
            "kafka_npm-5 magic 1 misread",
        ),
        (
            ("kafka_npm", "fetch_gzip_between"),
            "kafka_npm-5/6 magic 1 misread, no decompression",
        ),
        (
            ("kafka_npm", "fetch_hello_there"),
            "kafka_npm-5 magic 1 misread",
        ),
        (
            ("kafka_npm", "fetch_hello_there_chunked"),
            "kafka_npm-5 magic 1 misread",
        ),
        (
            ("kafka_npm", "fetch_high_crc"),
            "kafka_npm-5 magic 1 misread",
        ),
        (
            ("kafka_npm", "fetch_magic0_bad_crc"),
            "kafka_npm-7 no CRC check",
        ),
        (
            ("kafka_npm", "fetch_mixed_magic"),
            "kafka_npm-5 magic 1 misread",
        ),
        (
            ("kafka_npm", "fetch_trailing_junk"),
            "kafka_npm-5 magic 1 misread",
        ),
        (
            ("kafka_npm", "offsets_above_2_32"),
            "kafka_npm-4 offsets assembled in 32 bits",
        ),
    ])
}

fn check_peer(peer: Peer) {
    let (dir, kind) = captures();
    let index: Value = serde_json::from_str(
        &fs::read_to_string(dir.join("responses/index.json")).expect("responses/index.json"),
    )
    .expect("index.json");
    let documented = documented();
    let mut failures = Vec::new();
    let mut rows = Vec::new();
    let (mut spec_n, mut dev_n) = (0, 0);
    let pdir = dir.join(peer.id);
    let mut names: Vec<String> = fs::read_dir(&pdir)
        .unwrap_or_else(|e| panic!("{}: {e}", pdir.display()))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".result.json"))
        .collect();
    names.sort();
    for name in &names {
        let result: Value =
            serde_json::from_str(&fs::read_to_string(pdir.join(name)).unwrap()).unwrap();
        let case = result["case"].as_str().unwrap().to_owned();
        // The spec of the response the result is about: the last one (prozess's
        // consume_from_latest is answered OFFSETS, then FETCH, and returns the messages),
        // except for prozess's fetch_then_fetch, whose result is about the first.
        let responses = result["responses"].as_array();
        let about = if result["returned"]["first"].is_null() {
            responses.and_then(|r| r.last())
        } else {
            responses.and_then(|r| r.first())
        };
        let spec = match about {
            Some(r) => index[r["name"].as_str().unwrap()]["spec_decode"].clone(),
            // No response at all (the recorder closed the connection): the spec says the
            // client sees a closed connection, an error.
            None => json!({"error": "connection closed", "payloads_before_error_hex": []}),
        };
        let (verdict, desc) = classify(peer.id, &result, &spec);
        let doc = documented.get(&(peer.id, case.as_str()));
        match (verdict, doc) {
            ("spec", None) => spec_n += 1,
            ("deviates", Some(_)) => dev_n += 1,
            ("spec", Some(d)) => failures.push(format!(
                "{case}: documented as a deviation ({d}) but behaves as the spec: {desc}"
            )),
            _ => failures.push(format!("{case}: undocumented deviation: {desc}")),
        }
        rows.push(json!({"case": case, "verdict": verdict, "bug": doc, "observed": desc}));
    }
    for (p, case) in documented.keys() {
        if *p == peer.id && !names.contains(&format!("{case}.result.json")) {
            failures.push(format!("documented case {case} is missing"));
        }
    }
    let path = save_evidence(
        &format!("responses_{}.json", peer.id),
        &json!({"peer": peer.id, "captures": dir, "kind": kind, "rows": rows}),
    );
    loud(&format!(
        "   responses {:<12} {kind:<6} {:>2} canned responses: {spec_n} as the spec, {dev_n} documented peer bugs ({})\n",
        peer.id,
        names.len(),
        path.display()
    ));
    assert!(
        failures.is_empty(),
        "{} ({kind} captures): {} unexpected:\n  {}",
        peer.id,
        failures.len(),
        failures.join("\n  ")
    );
}

#[test]
fn responses_samsa() {
    check_peer(SAMSA);
}

#[test]
fn responses_brod() {
    check_peer(BROD);
}

#[test]
fn responses_pykafka() {
    check_peer(PYKAFKA);
}

#[test]
fn responses_prozess() {
    check_peer(PROZESS);
}

#[test]
fn responses_franz_kafka() {
    check_peer(FRANZ);
}

#[test]
fn responses_kafka_npm() {
    check_peer(KAFKA_NPM);
}

/// The "kafka07" column of INTEROP.md's decode rows: every canned response fed to the peers,
/// decoded by kafka07-proto (`Response::decode`, deep iteration with CRCs verified, and the
/// streaming decoder fed 3 bytes at a time) must give exactly the spec's decoding.
#[test]
fn kafka07_decodes_every_canned_response() {
    use kafka07::proto::{ErrorKind, Expect, FetchStream, MessageSet, Response, StreamEvent};

    let (dir, kind) = captures();
    let index: Value = serde_json::from_str(
        &fs::read_to_string(dir.join("responses/index.json")).expect("responses/index.json"),
    )
    .expect("index.json");
    let mut failures = Vec::new();
    let deep = |set: MessageSet<'_>| -> (Vec<(String, u64)>, Option<kafka07::proto::Error>) {
        let mut scratch = vec![0u8; 1 << 16];
        let mut out = Vec::new();
        for m in set.deep(&mut scratch, Default::default()) {
            match m {
                Ok(m) => out.push((hex(m.message.payload()), m.offset)),
                Err(e) => return (out, Some(e)),
            }
        }
        (out, None)
    };
    let check_fetch = |name: &str,
                       set: MessageSet<'_>,
                       code: i16,
                       spec: &Value,
                       failures: &mut Vec<String>| {
        let (got, err) = deep(set);
        let payloads: Vec<String> = got.iter().map(|g| g.0.clone()).collect();
        let offsets: Vec<u64> = got.iter().map(|g| g.1).collect();
        let strs = |v: &Value| -> Vec<String> {
            v.as_array().map_or(Vec::new(), |a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
        };
        match spec["error"].as_str() {
            None => {
                let want_offsets: Vec<u64> = spec["next_offsets"]
                    .as_array()
                    .map_or(Vec::new(), |a| a.iter().filter_map(Value::as_u64).collect());
                if code != 0
                    || err.is_some()
                    || payloads != strs(&spec["payloads_hex"])
                    || offsets != want_offsets
                {
                    failures.push(format!("{name}: code {code}, {payloads:?} at {offsets:?}, error {err:?}; spec {spec}"));
                }
            }
            Some(e) => {
                let ok = match e {
                    _ if e.starts_with("OffsetOutOfRange (1)") => code == 1 && got.is_empty(),
                    _ if e.starts_with("WrongPartition (3)") => code == 3 && got.is_empty(),
                    _ if e.starts_with("Unknown (-1)") => code == -1 && got.is_empty(),
                    _ if e.starts_with("InvalidMessageException") => {
                        matches!(err.map(|x| x.kind()), Some(ErrorKind::CrcMismatch { .. }))
                            && payloads == strs(&spec["payloads_before_error_hex"])
                    }
                    _ if e.starts_with("InvalidMessageSizeException") => {
                        matches!(
                            err.map(|x| x.kind()),
                            Some(ErrorKind::MessageLargerThanFetch { .. })
                        )
                    }
                    _ if e.starts_with("UnknownMagicByteException") => {
                        matches!(err.map(|x| x.kind()), Some(ErrorKind::UnknownMagic(2)))
                            && got.is_empty()
                    }
                    _ => false,
                };
                if !ok {
                    failures.push(format!(
                        "{name}: code {code}, {payloads:?}, error {err:?}; spec error {e}"
                    ));
                }
            }
        }
    };
    let mut n = 0;
    for (name, entry) in index.as_object().expect("object") {
        n += 1;
        let bytes = unhex(entry["hex"].as_str().unwrap());
        let spec = &entry["spec_decode"];
        if name.starts_with("fetch_") {
            let (resp, used) = match Response::decode(&bytes, Expect::Fetch) {
                Ok(r) => r,
                Err(e) => {
                    failures.push(format!("{name}: {e}"));
                    continue;
                }
            };
            let Response::Fetch(f) = resp else {
                unreachable!()
            };
            if used != bytes.len() {
                failures.push(format!("{name}: used {used} of {} bytes", bytes.len()));
            }
            check_fetch(name, f.message_set(0), f.error.0, spec, &mut failures);
            // The streaming decoder, 3 bytes at a time, hands out the same top-level messages
            // as shallow iteration of the whole response.
            let whole: Vec<(String, u64)> = f
                .message_set(0)
                .shallow()
                .map_while(|m| m.ok())
                .map(|m| (hex(m.message.payload()), m.offset))
                .collect();
            let mut dec = FetchStream::new(vec![0u8; 4096], 0);
            let mut streamed = Vec::new();
            'feed: for piece in bytes.chunks(3) {
                let mut input = piece;
                for _ in 0..64 {
                    match dec.decode(input) {
                        Ok((used, event)) => {
                            if let Some(StreamEvent::Message(m)) = event {
                                streamed.push((hex(m.message.payload()), m.offset));
                            }
                            input = &input[used..];
                            if used == 0 && event.is_none() {
                                break;
                            }
                        }
                        Err(_) => break 'feed,
                    }
                }
            }
            if streamed != whole {
                failures.push(format!("{name}: streamed {streamed:?}, whole {whole:?}"));
            }
        } else if name.starts_with("multifetch_") {
            let (resp, _) = Response::decode(&bytes, Expect::MultiFetch(2)).expect("multifetch");
            let Response::MultiFetch(m) = resp else {
                unreachable!()
            };
            let parts = spec["parts"].as_array().expect("parts");
            if m.parts.len() != parts.len() {
                failures.push(format!("{name}: {} parts", m.parts.len()));
            }
            for (i, (p, s)) in m.parts.iter().zip(parts).enumerate() {
                check_fetch(
                    &format!("{name} part {i}"),
                    p.message_set(0),
                    p.error.0,
                    s,
                    &mut failures,
                );
            }
        } else if name.starts_with("offsets_") {
            let (resp, _) = Response::decode(&bytes, Expect::Offsets).expect("offsets");
            let Response::Offsets(o) = resp else {
                unreachable!()
            };
            let got: Vec<i64> = o.offsets.iter().collect();
            let want: Vec<i64> = spec["offsets"]
                .as_array()
                .map_or(Vec::new(), |a| a.iter().filter_map(Value::as_i64).collect());
            if got != want || o.error.0 != 0 {
                failures.push(format!("{name}: {got:?}, spec {want:?}"));
            }
        } else {
            failures.push(format!("{name}: unknown response kind"));
        }
    }
    loud(&format!(
        "   responses kafka07      {kind:<6} {n} canned responses decoded by kafka07-proto: {} as the spec\n",
        n - failures.len()
    ));
    assert!(n >= 29, "only {n} canned responses");
    assert!(
        failures.is_empty(),
        "kafka07-proto disagrees with the spec:\n  {}",
        failures.join("\n  ")
    );
}
