//! A fixed workload for instruction-level profiling (callgrind counts instructions, so the
//! result does not depend on what else the machine is doing):
//!
//! ```sh
//! cargo build --release -p kafka07-benches --example profile
//! valgrind --tool=callgrind target/release/examples/profile shallow-100 20
//! callgrind_annotate --inclusive=yes callgrind.out.*
//! ```
//!
//! Workloads: `shallow-100`, `shallow-1024`, `crc-100`, `crc-1024` (crc32fast per payload),
//! `skip-100` (CRC skipped), `walk-100` (length walk), `deep-gzip`, `deep-snappy` (100 messages per wrapper; `deep-snappy-1` for 1; `deep-gzipkb`, `deep-snappykb`: ~1.1 KB payloads, 20 per wrapper), `inflate`,
//! `snap`, `encode-plain`, `stream`, `stream-all` (`decode_all`), `one-shot`,
//! `crcclone-100` (one cloned `crc32fast::Hasher` per payload), `crcbase-100` (crc32fast's
//! table-only baseline, what a no_std build without target features gets). Prints instructions'
//! denominators: the number of messages processed.

use kafka07_benches::{
    fetch_response, json_lines, plain_set, sink, synthetic_payloads, wrapped_set,
};
use kafka07_proto::{
    emit_set, set_wire_len, Codec, CrcPolicy, DecodeOptions, DeepCursor, Expect, FetchStream,
    MessageRepr, MessageSet, ProduceRequest, Request, Response, StreamEvent,
};

fn shallow(resp: &[u8], policy: CrcPolicy) -> usize {
    let Ok((Response::Fetch(f), _)) = Response::decode(resp, Expect::Fetch) else {
        panic!()
    };
    let mut n = 0;
    for m in f
        .message_set(0)
        .shallow_with(DecodeOptions::default().crc(policy))
    {
        n += m.expect("valid").message.payload().len();
    }
    n
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let what = args.get(1).map_or("shallow-100", String::as_str);
    let reps: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(10);
    let size = |w: &str| {
        w.rsplit('-')
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or(100)
    };
    let lines = json_lines();
    let mut messages = 0usize;
    match what {
        w if w.starts_with("shallow-")
            || w.starts_with("skip-")
            || w.starts_with("crc-")
            || w.starts_with("crcclone-")
            || w.starts_with("crcbase-")
            || w.starts_with("walk-") =>
        {
            let set = plain_set(&synthetic_payloads(size(w), 1 << 20));
            let resp = fetch_response(&set);
            let ranges = kafka07_benches::payload_ranges(&set);
            for _ in 0..reps {
                if w.starts_with("shallow-") {
                    sink(shallow(sink(&resp), CrcPolicy::Verify));
                } else if w.starts_with("skip-") {
                    sink(shallow(sink(&resp), CrcPolicy::Skip));
                } else if w.starts_with("crcclone-") {
                    let t = crc32fast::Hasher::new();
                    let x = ranges.iter().fold(0, |a, &(s, e)| {
                        let mut h = t.clone();
                        h.update(&set[s..e]);
                        a ^ h.finalize()
                    });
                    sink(x);
                } else if w.starts_with("crcbase-") {
                    let x = ranges.iter().fold(0, |a, &(s, e)| {
                        let mut h = crc32fast::Hasher::internal_new_baseline(0, 0);
                        h.update(&set[s..e]);
                        a ^ h.finalize()
                    });
                    sink(x);
                } else if w.starts_with("crc-") {
                    let x = ranges
                        .iter()
                        .fold(0, |a, &(s, e)| a ^ crc32fast::hash(&set[s..e]));
                    sink(x);
                } else {
                    let (mut pos, mut k) = (0, 0);
                    while let Some(p) = set.get(pos..pos + 4) {
                        pos += 4 + u32::from_be_bytes([p[0], p[1], p[2], p[3]]) as usize;
                        k += 1;
                    }
                    sink(k);
                }
                messages += ranges.len();
            }
        }
        w if w.starts_with("deep-gzip") || w.starts_with("deep-snappy") => {
            let codec = if w.starts_with("deep-gzip") {
                Codec::Gzip
            } else {
                Codec::Snappy
            };
            // `deep-gzip-10`: 10 messages per wrapper (default 100).
            let per = w
                .rsplit('-')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(100);
            // `deep-gzipkb`, `deep-snappykb`: ~1.1 KB payloads (six lines each), 20 per wrapper.
            // (`PROFILE_JOIN=k` joins k lines instead.)
            let join = std::env::var("PROFILE_JOIN")
                .ok()
                .and_then(|j| j.parse().ok())
                .unwrap_or(6);
            let joined: Vec<Vec<u8>> = lines.chunks(join).map(|c| c.join(&b'\n')).collect();
            let set = if w.contains("kb") {
                let big: Vec<&[u8]> = joined.iter().map(Vec::as_slice).collect();
                wrapped_set(codec, &big, per.min(20))
            } else {
                wrapped_set(codec, &lines, per)
            };
            let mut scratch = vec![0u8; 64 * 1024];
            for _ in 0..reps {
                let mut c = DeepCursor::new(
                    MessageSet::new(&set, 0),
                    &mut scratch,
                    DecodeOptions::default(),
                );
                while let Some(e) = c.next_entry() {
                    for m in e.unwrap() {
                        sink(m.unwrap().message.payload().len());
                        messages += 1;
                    }
                }
            }
        }
        "encode-plain" => {
            let batches: Vec<Vec<&[u8]>> = lines.chunks(100).map(<[_]>::to_vec).collect();
            let (mut set, mut out) = (Vec::new(), Vec::new());
            for _ in 0..reps {
                for b in &batches {
                    let msgs: Vec<MessageRepr<&[u8]>> =
                        b.iter().map(|p| MessageRepr::new(*p)).collect();
                    set.resize(set_wire_len(&msgs), 0);
                    emit_set(&msgs, &mut set).unwrap();
                    let req = Request::Produce(ProduceRequest::new("bench", 0, &set));
                    out.resize(req.wire_len(), 0);
                    sink(req.emit(&mut out).unwrap());
                }
                messages += lines.len();
            }
        }
        "encode-snappy" => {
            let batches: Vec<Vec<&[u8]>> = lines.chunks(100).map(<[_]>::to_vec).collect();
            let mut out = Vec::new();
            for _ in 0..reps {
                for b in &batches {
                    let msgs: Vec<MessageRepr<&[u8]>> =
                        b.iter().map(|p| MessageRepr::new(*p)).collect();
                    let w = kafka07_proto::wrap(Codec::Snappy, &msgs).unwrap().unwrap();
                    let set = w.to_vec().unwrap();
                    let req = Request::Produce(ProduceRequest::new("bench", 0, &set));
                    out.resize(req.wire_len(), 0);
                    sink(req.emit(&mut out).unwrap());
                }
                messages += lines.len();
            }
        }
        "stream" | "stream-all" | "one-shot" => {
            let resp = fetch_response(&plain_set(&lines));
            let mut dec = FetchStream::new(vec![0u8; 64 * 1024], 0);
            for _ in 0..reps {
                if what == "one-shot" {
                    sink(shallow(&resp, CrcPolicy::Verify));
                } else if what == "stream-all" {
                    dec.reset(0);
                    for piece in resp.chunks(1500) {
                        dec.decode_all(piece, |ev| {
                            if let StreamEvent::Message(m) = ev {
                                sink(m.message.payload().len());
                            }
                        })
                        .unwrap();
                    }
                } else {
                    dec.reset(0);
                    for piece in resp.chunks(1500) {
                        let mut input = piece;
                        loop {
                            let (used, ev) = dec.decode(input).unwrap();
                            if let Some(StreamEvent::Message(m)) = ev {
                                sink(m.message.payload().len());
                            } else if used == 0 && ev.is_none() {
                                break;
                            }
                            input = &input[used..];
                        }
                    }
                }
                messages += lines.len();
            }
        }
        other => panic!("unknown workload {other}"),
    }
    println!("{what}: {messages} messages");
}
