//! The bytes six third-party Kafka 0.7 clients put on the wire, decoded with kafka07-proto
//! (`Request::decode`, message sets shallow and deep) and checked field by field against what
//! each peer was asked to send (`<case>.json`'s `expect`).
//!
//! The captures come from `tests/interop/capture.sh` (each peer driven against the loopback
//! recorder). With `KAFKA07_INTEROP_CAPTURES=<dir>` (set by scripts/interop.sh after a fresh
//! capture) the fresh bytes are used; otherwise the committed golden snapshot
//! `tests/interop/golden/`. The test says loudly which.
//!
//! Every deviation is a documented peer bug (INTEROP.md) listed in `known_deviations` with the
//! exact problems our decoder must report; anything else fails.

mod interop_common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use interop_common::*;
use kafka07::proto::{
    CrcPolicy, CrcStatus, DecodeOptions, FetchRequest, ProduceRequest, Request, Stop,
};
use serde_json::{json, Value};

/// Where the captures are, and which kind they are.
fn captures() -> &'static (PathBuf, &'static str) {
    static SOURCE: OnceLock<(PathBuf, &'static str)> = OnceLock::new();
    SOURCE.get_or_init(|| {
        let (dir, kind) = match std::env::var_os("KAFKA07_INTEROP_CAPTURES") {
            Some(d) if !d.is_empty() => {
                let d = PathBuf::from(d);
                let d = if d.is_absolute() { d } else { repo().join(d) };
                assert!(
                    d.join(".complete").exists(),
                    "KAFKA07_INTEROP_CAPTURES={} is not a complete capture (no .complete)",
                    d.display()
                );
                (d, "FRESH")
            }
            _ => (harness_dir().join("golden"), "GOLDEN"),
        };
        let what = if kind == "FRESH" {
            "FRESH captures, just taken from the real peers"
        } else {
            "the GOLDEN snapshot (committed bytes; the peers were NOT run now - scripts/interop.sh takes fresh ones)"
        };
        loud(&format!(
            "\n>>>> interop decode tests use {what}: {}\n",
            dir.display()
        ));
        (dir, kind)
    })
}

/// Every capture: peer id → (case name → its .json).
fn cases() -> BTreeMap<String, BTreeMap<String, Value>> {
    let (dir, _) = captures();
    let mut out = BTreeMap::new();
    for peer in PEERS {
        let pdir = dir.join(peer.id);
        let mut cases = BTreeMap::new();
        for entry in fs::read_dir(&pdir).unwrap_or_else(|e| panic!("{}: {e}", pdir.display())) {
            let name = entry.expect("dir entry").file_name().into_string().unwrap();
            if name.starts_with('_') || !name.ends_with(".json") || name.ends_with(".result.json") {
                continue;
            }
            let meta: Value = serde_json::from_str(&fs::read_to_string(pdir.join(&name)).unwrap())
                .unwrap_or_else(|e| panic!("{peer:?} {name}: {e}"));
            cases.insert(meta["case"].as_str().unwrap().to_owned(), meta);
        }
        out.insert(peer.id.to_owned(), cases);
    }
    out
}

fn bin_of(peer: &str, meta: &Value) -> Option<Vec<u8>> {
    let name = meta["bin"].as_str()?;
    let path: PathBuf = captures().0.join(peer).join(name);
    Some(fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// Splits a captured connection into requests, each decoded strictly.
fn decode_all(bin: &[u8]) -> Result<Vec<Request<'_>>, String> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < bin.len() {
        let (req, used) = Request::decode(&bin[pos..])
            .map_err(|e| format!("request {} at byte {pos}: {e}", out.len()))?;
        out.push(req);
        pos += used;
    }
    Ok(out)
}

fn cmp<T: PartialEq + std::fmt::Debug>(problems: &mut Vec<String>, what: &str, want: T, got: T) {
    if want != got {
        problems.push(format!("{what}: expected {want:?}, got {got:?}"));
    }
}

/// Checks one PRODUCE (or MULTIPRODUCE item) against its `expect` (topic, partition, count,
/// payloads) and the request's `magic`/`codec`; decoded shallow (CRCs reported) and deep.
fn check_produce(
    p: &ProduceRequest<'_>,
    exp: &Value,
    magic: u8,
    codec: u8,
    problems: &mut Vec<String>,
) {
    cmp(problems, "topic", exp["topic"].as_str(), p.topic.as_str());
    if !exp["partition"].is_null() {
        cmp(
            problems,
            "partition",
            exp["partition"].as_i64(),
            Some(i64::from(p.partition)),
        );
    }
    let set = p.message_set();
    // Shallow: every top-level entry complete, CRC right, magic and codec as asked.
    let mut shallow = set.shallow_with(DecodeOptions::default().crc(CrcPolicy::Report));
    let mut tops = Vec::new();
    for (i, m) in (&mut shallow).enumerate() {
        match m {
            Ok(m) => {
                if let CrcStatus::Mismatch { stored, computed } = m.crc {
                    problems.push(format!(
                        "entry {i}: CRC mismatch: stored {stored:#010x}, payload's {computed:#010x}"
                    ));
                }
                tops.push((m.message.magic(), m.message.codec().id()));
            }
            Err(e) => {
                problems.push(format!("entry {i}: {e}"));
                break;
            }
        }
    }
    if shallow.stop() != Stop::End {
        problems.push(format!(
            "message set does not end cleanly: {:?}",
            shallow.stop()
        ));
    }
    if codec == 0 {
        for (i, (m, c)) in tops.iter().enumerate() {
            if (*m, *c) != (magic, 0) {
                problems.push(format!(
                    "entry {i}: magic {m} codec {c}, expected magic {magic} codec 0"
                ));
            }
        }
    } else if tops.len() != 1 || tops[0] != (1, codec) {
        problems.push(format!(
            "expected one magic-1 wrapper with codec {codec}, got {tops:?}"
        ));
    }
    // Deep: the payloads (CRC-verified), the inner magic, the reference offsets.
    let mut scratch = vec![0u8; 1 << 20];
    let mut payloads = Vec::new();
    let mut offsets = Vec::new();
    let deep_ok = problems.is_empty();
    let opts = if deep_ok {
        DecodeOptions::default()
    } else {
        DecodeOptions::default().crc(CrcPolicy::Report)
    };
    for m in set.deep(&mut scratch, opts) {
        match m {
            Ok(m) => {
                if m.depth > 0 && m.message.magic() != magic {
                    problems.push(format!(
                        "inner magic {}, expected {magic}",
                        m.message.magic()
                    ));
                }
                payloads.push(hex(m.message.payload()));
                offsets.push(m.offset);
            }
            Err(e) => {
                problems.push(format!("deep: {e}"));
                break;
            }
        }
    }
    let want: Vec<String> = exp["payloads_hex"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().to_owned())
        .collect();
    cmp(
        problems,
        "count",
        exp["count"].as_u64(),
        Some(payloads.len() as u64),
    );
    cmp(problems, "payloads", want, payloads);
    if deep_ok && problems.is_empty() {
        let reference: Vec<u64> = reference_view(p.messages, 0)
            .iter()
            .map(|m| m.offset)
            .collect();
        cmp(
            problems,
            "deep offsets vs the reference rule",
            reference,
            offsets,
        );
    }
}

fn check_fetch(f: &FetchRequest<'_>, exp: &Value, problems: &mut Vec<String>) {
    cmp(problems, "topic", exp["topic"].as_str(), f.topic.as_str());
    cmp(
        problems,
        "partition",
        exp["partition"].as_i64(),
        Some(i64::from(f.partition)),
    );
    cmp(problems, "offset", exp["offset"].as_i64(), Some(f.offset));
    cmp(
        problems,
        "max_size",
        exp["max_size"].as_i64(),
        Some(i64::from(f.max_size)),
    );
}

/// The problems our decoder finds in a request compared with `expect`.
fn check_request(req: &Request<'_>, expect: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let ty = expect["type"].as_str().unwrap();
    cmp(&mut problems, "type", ty, req.request_type().name());
    if !problems.is_empty() {
        return problems;
    }
    let magic = expect["magic"].as_u64().unwrap_or(0) as u8;
    let codec = expect["codec"].as_u64().unwrap_or(0) as u8;
    match req {
        Request::Produce(p) => check_produce(p, expect, magic, codec, &mut problems),
        Request::MultiProduce(m) => {
            let items = expect["items"].as_array().unwrap();
            cmp(&mut problems, "items", items.len(), m.parts.len());
            for (i, (p, e)) in m.parts.iter().zip(items).enumerate() {
                let mut sub = Vec::new();
                check_produce(&p, e, magic, codec, &mut sub);
                problems.extend(sub.into_iter().map(|s| format!("item {i}: {s}")));
            }
        }
        Request::Fetch(f) => check_fetch(f, expect, &mut problems),
        Request::MultiFetch(m) => {
            let items = expect["items"].as_array().unwrap();
            cmp(&mut problems, "items", items.len(), m.parts.len());
            for (i, (f, e)) in m.parts.iter().zip(items).enumerate() {
                let mut sub = Vec::new();
                check_fetch(&f, e, &mut sub);
                problems.extend(sub.into_iter().map(|s| format!("item {i}: {s}")));
            }
        }
        Request::Offsets(o) => {
            cmp(
                &mut problems,
                "topic",
                expect["topic"].as_str(),
                o.topic.as_str(),
            );
            cmp(
                &mut problems,
                "partition",
                expect["partition"].as_i64(),
                Some(i64::from(o.partition)),
            );
            if expect["time"].is_null() {
                // kafka_npm sends a time of its own (kafka_npm-3), checked separately.
            } else {
                cmp(&mut problems, "time", expect["time"].as_i64(), Some(o.time));
            }
            cmp(
                &mut problems,
                "max_offsets",
                expect["max_offsets"].as_i64(),
                Some(i64::from(o.max_offsets)),
            );
        }
    }
    problems
}

/// Peer bugs visible in the request bytes: `(peer, case)` → the exact problems our decoder
/// must find (INTEROP.md, numbered lists).
fn known_deviations() -> BTreeMap<(&'static str, &'static str), Vec<&'static str>> {
    BTreeMap::from([
        // prozess-2: an explicit magic-0 Message is written with an attributes byte.
        (
            ("prozess", "produce_message_magic0"),
            vec![
                "entry 0: CRC mismatch: stored 0x003610a6, payload's 0x891907fd",
                "payloads: expected [\"68656c6c6f\"], got [\"8668656c6c6f\"]",
            ],
        ),
        // prozess-3: codec 1 is only a label, the payload is not gzip.
        (
            ("prozess", "produce_message_codec1_uncompressed"),
            vec![
                "deep: gzip: bad magic bytes (not a gzip member) at byte 10",
                "count: expected Some(1), got Some(0)",
                "payloads: expected [\"68656c6c6f\"], got []",
            ],
        ),
        // kafka_npm-1: one byte per UTF-16 code unit, CRC over the UTF-8 text.
        (
            ("kafka_npm", "produce_utf8_string_m0"),
            vec![
                "entry 0: CRC mismatch: stored 0x68ee818c, payload's 0x78ddfdc2",
                "payloads: expected [\"68c3a96c6c6f2077c3b6726c6420e282ac\"], got [\"68e96c6c6f2077f6726c6420ac\"]",
            ],
        ),
        (
            ("kafka_npm", "produce_binary_latin1_string_m0"),
            vec!["entry 0: CRC mismatch: stored 0x1ded0a8e, payload's 0x29058c73"],
        ),
        // kafka_npm-2: the FETCH offset is split with 32-bit operators.
        (
            ("kafka_npm", "fetch_offset_70000"),
            vec!["offset: expected Some(70000), got Some(281474976715120)"],
        ),
        (
            ("kafka_npm", "fetch_offset_above_2_32"),
            vec!["offset: expected Some(4294967303), got Some(7)"],
        ),
    ])
}

/// Cases where the peer is asked for something it cannot send: nothing reaches the wire, and
/// its call fails with this text (INTEROP.md).
fn known_unsent() -> BTreeMap<(&'static str, &'static str), &'static str> {
    BTreeMap::from([
        (("samsa", "produce_gzip_m1"), "NotImplementedError"),
        (("samsa", "produce_snappy_m1"), "NotImplementedError"),
        (
            ("brod", "produce_partition_neg1_m0"),
            "argument out of range",
        ),
        (("prozess", "produce_partition_neg1_m1"), "RangeError"),
        (("prozess", "offsets_time"), "TODO: support unix timestamp"),
    ])
}

/// Follow-up requests (after the first) whose fields are facts about the peer: `(peer, case)`
/// → `(request index, field, value)`.
fn known_follow_ups() -> Vec<((&'static str, &'static str), usize, &'static str, i64)> {
    let mut v = vec![
        // samsa-5: a first message larger than the response: FETCH again with size * 1.5.
        (("samsa", "fetch_cut_first"), 1, "max_size", 1_572_864),
        // brod steps the fetch size 100, 200, 300 until something is returned.
        (("brod", "fetch_size_steps"), 1, "max_size", 200),
        (("brod", "fetch_size_steps"), 2, "max_size", 300),
        // prozess advances to the reference offset, and consumes from OFFSETS(-1)'s answer.
        (("prozess", "fetch_then_fetch"), 1, "offset", 30),
        (
            ("prozess", "consume_from_latest"),
            1,
            "offset",
            (1i64 << 32) + 7,
        ),
        // franz-kafka-11: round robin starts at partition 1.
        (("franz-kafka", "produce_round_robin"), 1, "partition", 2),
        (("franz-kafka", "produce_round_robin"), 2, "partition", 0),
    ];
    // franz-kafka polls: its second FETCH is at the offset it advanced to, the reference's
    // next offset (franz-kafka-12) - including after a cut message and past a bad CRC or an
    // unknown magic it delivered anyway (franz-kafka-5, -8).
    for (case, offset) in [
        ("fetch_hello_there", 30),
        ("fetch_hello_there_chunked", 30),
        ("fetch_empty", 0),
        ("fetch_cut_trailing", 15),
        ("fetch_bad_crc", 30),
        ("fetch_gzip_between", 87),
        ("fetch_gzip_only", 57),
        ("fetch_snappy_raw", 42),
        ("fetch_snappy_xerial", 62),
        ("fetch_magic0", 28),
        ("fetch_magic0_bad_crc", 28),
        ("fetch_magic0_cut_trailing", 14),
        ("fetch_mixed_magic", 29),
        ("fetch_empty_payload", 25),
        ("fetch_binary_payload", 293),
        ("fetch_high_crc", 32),
        ("fetch_unknown_magic", 30),
        ("fetch_offset_above_2_32", (1 << 32) + 37),
    ] {
        v.push(((FRANZ.id, case), 1, "offset", offset));
    }
    v
}

fn field(req: &Request<'_>, name: &str) -> Option<i64> {
    match (req, name) {
        (Request::Fetch(f), "offset") => Some(f.offset),
        (Request::Fetch(f), "max_size") => Some(i64::from(f.max_size)),
        (Request::Fetch(f), "partition") => Some(i64::from(f.partition)),
        (Request::Produce(p), "partition") => Some(i64::from(p.partition)),
        _ => None,
    }
}

/// Decodes every capture of one peer and checks every field; returns the rows for the
/// evidence file. Panics listing every unexpected result.
fn check_peer(peer: Peer) {
    let all = cases();
    let cases = &all[peer.id];
    let deviations = known_deviations();
    let unsent = known_unsent();
    let follow_ups = known_follow_ups();
    let mut failures = Vec::new();
    let mut rows = Vec::new();
    let (mut matched, mut deviating, mut not_sent, mut requests) = (0, 0, 0, 0);
    assert!(!cases.is_empty(), "{}: no captures", peer.id);
    for (name, meta) in cases {
        let key = (peer.id, name.as_str());
        cmp(
            &mut failures,
            &format!("{name}: peer version"),
            Some(peer.version),
            meta["peer_version"].as_str(),
        );
        let Some(bin) = bin_of(peer.id, meta) else {
            match unsent.get(&key) {
                Some(text) if meta["calls"].to_string().contains(text) => {
                    not_sent += 1;
                    rows.push(
                        json!({"case": name, "verdict": "not sent (peer bug)", "detail": text}),
                    );
                }
                _ => failures.push(format!(
                    "{name}: no bytes were sent; calls {}",
                    meta["calls"]
                )),
            }
            continue;
        };
        if unsent.contains_key(&key) {
            failures.push(format!(
                "{name}: documented as never sent, but {} bytes were",
                bin.len()
            ));
        }
        let reqs = match decode_all(&bin) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        requests += reqs.len();
        if reqs.is_empty() {
            failures.push(format!("{name}: no complete request"));
            continue;
        }
        let expect = &meta["expect"];
        let problems = if expect["split_over_frames"].as_bool() == Some(true) {
            // pykafka-2: the payloads are spread over several PRODUCE requests.
            let mut merged = Vec::new();
            let mut problems = Vec::new();
            for r in &reqs {
                let Request::Produce(p) = r else {
                    problems.push("not a PRODUCE".to_owned());
                    continue;
                };
                let mut sub = Vec::new();
                let part = json!({"topic": expect["topic"], "partition": expect["partition"],
                                  "count": null, "payloads_hex": []});
                check_produce(p, &part, 0, 0, &mut sub);
                // Only the payload comparison differs per request; keep the rest.
                problems.extend(
                    sub.into_iter()
                        .filter(|s| !s.starts_with("payloads") && !s.starts_with("count")),
                );
                let mut scratch = vec![0u8; 1 << 16];
                for m in p.message_set().deep(&mut scratch, DecodeOptions::default()) {
                    merged.push(hex(m.expect("deep").message.payload()));
                }
            }
            let want: Vec<String> = expect["payloads_hex"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h.as_str().unwrap().to_owned())
                .collect();
            cmp(&mut problems, "payloads over all requests", want, merged);
            problems
        } else {
            check_request(&reqs[0], expect)
        };
        // kafka_npm-3: OFFSETS carries the client's clock in seconds, split with 32-bit
        // operators: (t & 0xffff0000) << 32 | (t & 0xffff).
        if peer.id == "kafka_npm" && expect["type"] == "OFFSETS" {
            if let Request::Offsets(o) = &reqs[0] {
                let (hi, lo) = ((o.time >> 32) as u64, (o.time & 0xffff_ffff) as u64);
                let secs = hi | lo;
                if hi & 0xffff != 0
                    || lo > 0xffff
                    || !(1_600_000_000..4_000_000_000).contains(&secs)
                {
                    failures.push(format!(
                        "{name}: OFFSETS time {:#x} is not the documented split clock",
                        o.time
                    ));
                }
            }
        }
        let documented: Vec<String> = deviations
            .get(&key)
            .map(|v| v.iter().map(|s| s.to_string()).collect())
            .unwrap_or_default();
        if problems != documented {
            failures.push(format!(
                "{name}: our decoder found {problems:?}, documented {documented:?}"
            ));
        }
        if documented.is_empty() {
            matched += 1;
        } else {
            deviating += 1;
        }
        for (k, idx, fname, value) in &follow_ups {
            if *k == key {
                let got = reqs.get(*idx).and_then(|r| field(r, fname));
                if got != Some(*value) {
                    failures.push(format!(
                        "{name}: request {idx} {fname} {got:?}, documented {value}"
                    ));
                }
            }
        }
        // Every follow-up request must itself be well formed (decode_all was strict).
        rows.push(json!({
            "case": name,
            "verdict": if documented.is_empty() { "matches expect" } else { "peer bug (documented)" },
            "requests": reqs.iter().map(|r| r.request_type().name()).collect::<Vec<_>>(),
            "problems": problems,
        }));
    }
    for key in deviations
        .keys()
        .chain(unsent.keys())
        .filter(|k| k.0 == peer.id)
    {
        if !cases.contains_key(key.1) {
            failures.push(format!(
                "documented case {} is missing from the captures",
                key.1
            ));
        }
    }
    let (dir, kind) = captures();
    let path = save_evidence(
        &format!("decode_{}.json", peer.id),
        &json!({"peer": peer.id, "captures": dir, "kind": kind, "rows": rows}),
    );
    loud(&format!(
        "   decode {:<12} {kind:<6} {:>2} cases: {matched} match, {deviating} documented peer bugs, {not_sent} not sent; {requests} requests decoded ({})\n",
        peer.id,
        cases.len(),
        path.display()
    ));
    assert!(
        failures.is_empty(),
        "{} ({kind} captures in {}): {} unexpected result(s):\n  {}",
        peer.id,
        dir.display(),
        failures.len(),
        failures.join("\n  ")
    );
}

#[test]
fn decode_samsa_requests() {
    check_peer(SAMSA);
}

#[test]
fn decode_brod_requests() {
    check_peer(BROD);
}

#[test]
fn decode_pykafka_requests() {
    check_peer(PYKAFKA);
}

#[test]
fn decode_prozess_requests() {
    check_peer(PROZESS);
}

#[test]
fn decode_franz_kafka_requests() {
    check_peer(FRANZ);
}

#[test]
fn decode_kafka_npm_requests() {
    check_peer(KAFKA_NPM);
}

/// The fresh captures must equal the golden snapshot byte for byte (except the one request
/// that carries the peer's clock): a difference means a peer or the harness changed, and the
/// golden snapshot must be refreshed (see INTEROP.md).
#[test]
fn golden_snapshot_matches_fresh_captures() {
    let (dir, kind) = captures();
    if *kind != "FRESH" {
        loud("\n!!!! SKIPPED (NOT verified) golden_snapshot_matches_fresh_captures: no fresh captures (KAFKA07_INTEROP_CAPTURES unset; run scripts/interop.sh)\n");
        record_outcome(
            "golden_snapshot_matches_fresh_captures",
            "skipped",
            "no fresh captures",
        );
        return;
    }
    let golden = harness_dir().join("golden");
    let mut differ = Vec::new();
    let mut compared = 0;
    for peer in PEERS {
        let names = |d: &Path| -> Vec<String> {
            let mut v: Vec<String> = fs::read_dir(d.join(peer.id))
                .map(|r| {
                    r.filter_map(|e| e.ok()?.file_name().into_string().ok())
                        .filter(|n| n.ends_with(".bin"))
                        .collect()
                })
                .unwrap_or_default();
            v.sort();
            v
        };
        let (g, f) = (names(&golden), names(dir));
        if g != f {
            differ.push(format!("{}: golden has {g:?}, fresh has {f:?}", peer.id));
            continue;
        }
        for n in g {
            compared += 1;
            let a = fs::read(golden.join(peer.id).join(&n)).unwrap();
            let b = fs::read(dir.join(peer.id).join(&n)).unwrap();
            let clock = peer.id == "kafka_npm" && n.starts_with("offsets_");
            if clock {
                // Same bytes except the 8-byte time field.
                if a.len() != b.len()
                    || a[..a.len() - 12] != b[..b.len() - 12]
                    || a[a.len() - 4..] != b[b.len() - 4..]
                {
                    differ.push(format!("{}/{n}: differs outside the clock field", peer.id));
                }
            } else if a != b {
                differ.push(format!("{}/{n}: {} vs {} bytes", peer.id, a.len(), b.len()));
            }
        }
    }
    record_outcome(
        "golden_snapshot_matches_fresh_captures",
        if differ.is_empty() {
            "passed"
        } else {
            "failed"
        },
        "",
    );
    assert!(
        differ.is_empty(),
        "fresh captures differ from tests/interop/golden ({} files compared); refresh the snapshot with scripts/interop.sh --refresh-golden if the change is understood:\n  {}",
        compared,
        differ.join("\n  ")
    );
    loud(&format!(
        "   golden snapshot == fresh captures ({compared} .bin files)\n"
    ));
}
