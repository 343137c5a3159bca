//! Writes the seed corpora: `fuzz/corpus/<target>/seed-*`, made from real bytes only — the
//! files under `tests/data/` (the Kafka 0.7.2 reference's segment, the Perl and PHP 0.7
//! clients' wire fixtures) and the spec §12 vectors — plus what our own codec derives from
//! them (the message sets inside frames, the wrapper payloads inside those sets, and gzip,
//! xerial and raw snappy encodings and wrappers of those sets).
//!
//! Each seed is a vector behind one of the target's parameter prefixes
//! (`checks::SEED_PARAMS`). Old `seed-*` files are replaced; files the fuzzer added are kept.
//!
//! ```sh
//! cargo run --manifest-path fuzz/Cargo.toml --example make_seeds
//! ```

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use kafka07_proto::{
    gzip, wrap, xerial, Codec, CrcPolicy, DecodeOptions, Expect, MessageRepr, MessageSet, Request,
    Response,
};
use kafka07_proto_fuzz::checks::{SEED_PARAMS, TARGETS};

/// Vectors longer than this are cut to [`SEGMENT_HEAD`] bytes.
const MAX_SEED: usize = 4096;
/// What is kept of a long vector.
const SEGMENT_HEAD: usize = 1200;

/// Bytes from hex; whitespace is ignored.
fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

const HELLO: &str = "0000000b 01 00 3610a686 68656c6c6f";
const THERE: &str = "0000000b 01 00 5a2fe996 7468657265";
const GZ_HELLO_THERE: &str =
    "1f8b 0800 0000 0000 00ff 6360 60e0 6664 3013 58d6 9691 9a93 93cf 00e6 46e9 \
     bf9c 5692 915a 940a 0085 ba71 2c1e 0000 00";

/// The spec §12.2 and §12.3 vectors (and the §5.4 example), by name.
fn spec_vectors() -> Vec<(String, Vec<u8>)> {
    let gz_wrapper = format!("00000035 01 01 d9f37125 {GZ_HELLO_THERE}");
    let deep_example = format!("{HELLO} {gz_wrapper} {THERE}");
    let v = [
        (
            "12.2-magic0-testing",
            "0000000c 00 e8f35a06 74657374696e67".to_string(),
        ),
        (
            "12.2-magic1-testing",
            "0000000d 01 00 e8f35a06 74657374696e67".to_string(),
        ),
        (
            "12.2-gzip-wrapper",
            "0000002f 01 01 07fdc376 1f8b08000000000004ff626060e0656478f1398aad24b5b824332f1d\
             100000ffff0c6a829111000000"
                .to_string(),
        ),
        (
            "12.2-produce",
            "00000021 0000 0004 74657374 00000000 00000011 0000000d 01 00 e8f35a06 74657374696e67"
                .to_string(),
        ),
        (
            "12.2-fetch",
            "00000018 0001 0004 74657374 00000000 0000000000000000 00100000".to_string(),
        ),
        ("12.3-hello", HELLO.to_string()),
        ("12.3-there", THERE.to_string()),
        ("12.3-empty-payload", "00000006 01 00 00000000".to_string()),
        (
            "12.3-produce",
            format!("0000001f 0000 0004 74657374 00000000 0000000f {HELLO}"),
        ),
        (
            "12.3-fetch-response",
            format!("00000020 0000 {HELLO} {THERE}"),
        ),
        ("12.3-fetch-error", "00000002 0001".to_string()),
        (
            "12.3-offsets-request",
            "00000018 0004 0004 74657374 00000000 ffffffffffffffff 0000000a".to_string(),
        ),
        (
            "12.3-offsets-response",
            "00000026 0000 00000004 00000000000000f0 00000000000000d8 000000000000006c \
             0000000000000000"
                .to_string(),
        ),
        (
            "12.3-multifetch-request",
            "0000002a 0002 0002 0001 61 00000000 0000000000000000 0004b000 \
             0001 62 00000000 0000000000000000 0004b000"
                .to_string(),
        ),
        (
            "12.3-multifetch-response",
            format!("0000001d 0000 00000011 0000 {HELLO} 00000002 0001"),
        ),
        (
            "12.3-multiproduce",
            format!(
                "00000038 0003 0002 0001 61 00000000 0000000f {HELLO} \
                 0001 62 ffffffff 0000000f {THERE}"
            ),
        ),
        ("12.3-gzip-wrapper", gz_wrapper),
        (
            "12.3-snappy-wrapper",
            format!(
                "0000003a 01 02 507fed60 8253 4e41 5050 5900 00000001 00000001 00000020 1e74 \
                 {HELLO} {THERE}"
            ),
        ),
        ("5.4-deep-example-set", deep_example.clone()),
        (
            "5.4-deep-example-fetch",
            format!("00000059 0000 {deep_example}"),
        ),
    ];
    v.into_iter()
        .map(|(name, h)| (format!("spec-{name}"), hex(&h)))
        .collect()
}

/// Every file under `dir` (recursively) except manifests and READMEs, by file stem.
fn data_files(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            data_files(&path, out);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("bin" | "kafka")
        ) {
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            out.push((stem, fs::read(&path).unwrap()));
        }
    }
}

/// Byte strings by kind, derived from the vectors.
#[derive(Default)]
struct Views {
    frames: Vec<(String, Vec<u8>)>,
    sets: Vec<(String, Vec<u8>)>,
    gzip: Vec<(String, Vec<u8>)>,
    xerial: Vec<(String, Vec<u8>)>,
    blocks: Vec<(String, Vec<u8>)>,
}

/// Adds `bytes` unless present; a name already taken gets a number.
fn push_unique(list: &mut Vec<(String, Vec<u8>)>, name: String, bytes: Vec<u8>) {
    if bytes.is_empty() || list.iter().any(|(_, b)| *b == bytes) {
        return;
    }
    let mut unique = name.clone();
    let mut k = 2;
    while list.iter().any(|(n, _)| *n == unique) {
        unique = format!("{name}-{k}");
        k += 1;
    }
    list.push((unique, bytes));
}

fn views(vectors: &[(String, Vec<u8>)]) -> Views {
    let skip = DecodeOptions::default().crc(CrcPolicy::Skip);
    let mut v = Views::default();
    for (name, bytes) in vectors {
        push_unique(&mut v.frames, name.clone(), bytes.clone());
        if let Ok((Response::Fetch(f), _)) = Response::decode(bytes, Expect::Fetch) {
            push_unique(&mut v.sets, format!("{name}-set"), f.messages.to_vec());
        }
        for n in 1..=3 {
            if let Ok((Response::MultiFetch(m), _)) = Response::decode(bytes, Expect::MultiFetch(n))
            {
                for (i, p) in m.parts.iter().enumerate() {
                    push_unique(&mut v.sets, format!("{name}-part{i}"), p.messages.to_vec());
                }
            }
        }
        match Request::decode(bytes) {
            Ok((Request::Produce(p), _)) => {
                push_unique(&mut v.sets, format!("{name}-set"), p.messages.to_vec());
            }
            Ok((Request::MultiProduce(m), _)) => {
                for (i, p) in m.parts.iter().enumerate() {
                    push_unique(&mut v.sets, format!("{name}-part{i}"), p.messages.to_vec());
                }
            }
            _ => {}
        }
        if MessageSet::new(bytes, 0)
            .valid_bytes_with(skip)
            .unwrap_or(0)
            > 0
        {
            push_unique(&mut v.sets, name.clone(), bytes.clone());
        }
    }
    // Wrappers of the real sets, one of them nested, and the sets compressed on their own.
    for (name, set) in v.sets.clone() {
        let msgs: Vec<MessageRepr<&[u8]>> = MessageSet::new(&set, 0)
            .shallow_with(skip)
            .map_while(Result::ok)
            .map(|m| m.message.into())
            .collect();
        for codec in [Codec::Gzip, Codec::Snappy] {
            if let Ok(Some(w)) = wrap(codec, &msgs) {
                let bytes = w.to_vec().unwrap();
                push_unique(&mut v.sets, format!("{name}-in-{codec}"), bytes.clone());
                if codec == Codec::Snappy {
                    let outer = [MessageRepr::new(&bytes[..])];
                    let nested = wrap(Codec::Gzip, &outer)
                        .unwrap()
                        .unwrap()
                        .to_vec()
                        .unwrap();
                    push_unique(&mut v.sets, format!("{name}-in-snappy-in-gzip"), nested);
                }
            }
        }
        let mut gz = Vec::new();
        gzip::compress(&set, &mut gz);
        push_unique(&mut v.gzip, format!("{name}-gzip"), gz);
        let mut sn = Vec::new();
        xerial::compress(&set, &mut sn);
        push_unique(&mut v.xerial, format!("{name}-xerial"), sn);
        let block = snap::raw::Encoder::new().compress_vec(&set).unwrap();
        push_unique(&mut v.blocks, format!("{name}-snappy"), block);
    }
    // The payloads of every wrapper in every set (real and derived), and their blocks.
    for (name, set) in v.sets.clone() {
        for (i, m) in MessageSet::new(&set, 0)
            .shallow_with(skip)
            .map_while(Result::ok)
            .enumerate()
        {
            let payload = m.message.payload().to_vec();
            match m.message.codec() {
                Codec::Gzip => push_unique(&mut v.gzip, format!("{name}-{i}-payload"), payload),
                Codec::Snappy => {
                    if xerial::detect(&payload).is_some() {
                        if let Some(block) = payload.get(20..) {
                            push_unique(&mut v.blocks, format!("{name}-{i}-block"), block.to_vec());
                        }
                    }
                    push_unique(&mut v.xerial, format!("{name}-{i}-payload"), payload);
                }
                Codec::None => {}
            }
        }
    }
    v
}

fn main() {
    let fuzz_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut vectors = Vec::new();
    data_files(&fuzz_dir.join("../tests/data"), &mut vectors);
    vectors.extend(spec_vectors());
    // Keep seeds small (libFuzzer's default input size is 4 KiB): the 10,900-byte reference
    // segment becomes its first 1,200 bytes, 11 entries and a cut 12th.
    for (name, bytes) in &mut vectors {
        if bytes.len() > MAX_SEED {
            bytes.truncate(SEGMENT_HEAD);
            name.push_str("-head");
        }
    }
    let v = views(&vectors);
    // Fetch responses for the stream target: the real ones, and each set as a response.
    let mut responses: Vec<(String, Vec<u8>)> = Vec::new();
    for (name, bytes) in &v.frames {
        if Response::decode(bytes, Expect::Fetch).is_ok() {
            push_unique(&mut responses, name.clone(), bytes.clone());
        }
    }
    for (name, set) in &v.sets {
        let resp = Response::Fetch(kafka07_proto::FetchResponse {
            error: kafka07_proto::ErrorCode(0),
            messages: set,
        });
        push_unique(
            &mut responses,
            format!("{name}-response"),
            resp.to_vec().unwrap(),
        );
    }
    let mut frames_and_sets = v.frames.clone();
    for (name, set) in &v.sets {
        push_unique(&mut frames_and_sets, name.clone(), set.clone());
    }
    for (target, _) in TARGETS {
        let inputs: Vec<&(String, Vec<u8>)> = match *target {
            "frame" | "request" | "response" => v.frames.iter().collect(),
            "roundtrip" => frames_and_sets.iter().collect(),
            "shallow" | "deep" | "deep_cursor" => v.sets.iter().collect(),
            "gzip" => v.gzip.iter().collect(),
            "xerial" => v.xerial.iter().collect(),
            "snappy_diff" => v.blocks.iter().collect(),
            "stream" => responses.iter().collect(),
            other => panic!("no seeds for target {other}"),
        };
        let (_, prefixes) = SEED_PARAMS
            .iter()
            .find(|(t, _)| t == target)
            .expect("every target has seed parameters");
        let dir = fuzz_dir.join("corpus").join(target);
        fs::create_dir_all(&dir).unwrap();
        for old in fs::read_dir(&dir).unwrap() {
            let path = old.unwrap().path();
            if path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("seed-")
            {
                fs::remove_file(path).unwrap();
            }
        }
        let mut written = BTreeSet::new();
        for (name, bytes) in inputs {
            for (k, prefix) in prefixes.iter().enumerate() {
                let seed = [*prefix, &bytes[..]].concat();
                let file = format!("seed-{name}-p{k}");
                assert!(written.insert(file.clone()), "duplicate seed name {file}");
                fs::write(dir.join(file), seed).unwrap();
            }
        }
        println!("{target}: {} seeds", written.len());
    }
}
