//! Replays the fuzz corpora and the recorded crashers through the fuzz targets' own checks,
//! on stable, as an ordinary `cargo test` (no libFuzzer).
//!
//! The checks are `fuzz/src/checks.rs`, included below as a module: the fuzz targets and this
//! test share one copy of every oracle. Each file under `fuzz/corpus/<target>/` and
//! `fuzz/regressions/<target>/` goes through `<target>`'s check. The named tests at the end
//! pin the bugs found while writing and running the fuzz oracles, with the behaviour the spec
//! (or the crate's documented contract) asks for. See `FUZZING.md`.

use std::fs;
use std::panic;
use std::path::{Path, PathBuf};

#[path = "../../fuzz/src/checks.rs"]
mod checks;

use checks::{SEED_PARAMS, TARGETS};

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// The files of `dir`, sorted; none if it does not exist.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("readable directory").path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != ".keep"))
        .collect();
    files.sort();
    files
}

/// Feeds every corpus and regression file of `target` to its check; fails naming the files
/// whose check panicked.
fn replay(target: &str) {
    let (_, check) = TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .unwrap_or_else(|| panic!("no target {target}"));
    let corpus = files(&fuzz_dir().join("corpus").join(target));
    assert!(!corpus.is_empty(), "fuzz/corpus/{target}/ is empty");
    let regressions = files(&fuzz_dir().join("regressions").join(target));
    let failed: Vec<String> = corpus
        .iter()
        .chain(&regressions)
        .filter(|path| {
            let data = fs::read(path).expect("readable corpus file");
            panic::catch_unwind(|| check(&data)).is_err()
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(
        failed.is_empty(),
        "{target}: the check fails on {failed:#?}"
    );
}

macro_rules! replay_tests {
    ($($target:ident),* $(,)?) => {
        /// One test per fuzz target: its corpus and its recorded crashers.
        mod replay {
            $(
                #[test]
                fn $target() {
                    super::replay(stringify!($target));
                }
            )*

            /// The list above names every target.
            #[test]
            fn covers_every_target() {
                let listed = [$(stringify!($target)),*];
                let targets: Vec<&str> = super::TARGETS.iter().map(|(n, _)| *n).collect();
                assert_eq!(listed.to_vec(), targets);
            }
        }
    };
}

replay_tests!(
    frame,
    request,
    response,
    shallow,
    deep,
    deep_cursor,
    gzip,
    xerial,
    snappy_diff,
    roundtrip,
    stream,
);

/// Every target has a fuzz target file and seed parameters whose prefixes parse as intended,
/// and `fuzz/regressions/` holds only directories named after targets.
#[test]
fn targets_are_wired_up() {
    for (target, _) in TARGETS {
        let source = fuzz_dir().join("fuzz_targets").join(format!("{target}.rs"));
        let text = fs::read_to_string(&source).unwrap_or_else(|e| panic!("{target}: {e}"));
        assert!(text.contains("fuzz_target!"), "{}", source.display());
        assert!(
            SEED_PARAMS.iter().any(|(t, _)| t == target),
            "{target} has no seed parameters"
        );
    }
    assert_eq!(SEED_PARAMS.len(), TARGETS.len());
    let Ok(dirs) = fs::read_dir(fuzz_dir().join("regressions")) else {
        return;
    };
    for dir in dirs {
        let name = dir.unwrap().file_name().to_string_lossy().into_owned();
        // `capture` and `dump` are the std-side targets, replayed by the root package's
        // `fuzz_std_regressions` test.
        let known = TARGETS.iter().any(|(t, _)| *t == name)
            || ["README.md", "capture", "dump"].contains(&name.as_str());
        assert!(known, "fuzz/regressions/{name} names no target");
    }
}

// ---------------------------------------------------------------------------------------------
// Bugs found, pinned with the expected behaviour
// ---------------------------------------------------------------------------------------------

use kafka07_proto::{
    gzip, Codec, DecodeOptions, DeepCursor, ErrorKind, FetchStream, Layer, MessageRepr, MessageSet,
    Stop, StreamEvent,
};

/// Bytes from hex; whitespace is ignored.
fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

/// Spec §12.3: the magic-1 entry "hello".
const HELLO: &str = "0000000b 01 00 3610a686 68656c6c6f";

/// A FETCH response frame around `set`.
fn fetch_response(set: &[u8]) -> Vec<u8> {
    [&(set.len() as u32 + 2).to_be_bytes()[..], &[0, 0], set].concat()
}

/// How a stream fed one response in one piece ended.
#[derive(Debug, PartialEq)]
enum Ended {
    /// `End { valid_bytes, stop }`.
    End(u64, Stop),
    /// An error from `decode`.
    Failed(kafka07_proto::Error),
    /// It asked for more input.
    Stalled,
}

/// Feeds `resp` to a fresh stream in one piece; returns the number of messages and how it
/// ended.
fn stream_once(resp: &[u8], base: u64, opts: DecodeOptions) -> (usize, Ended) {
    let mut dec = FetchStream::with_options(vec![0u8; 256], base, opts, 1 << 20);
    let mut input = resp;
    let mut messages = 0;
    loop {
        match dec.decode(input) {
            Ok((_, Some(StreamEvent::End { valid_bytes, stop }))) => {
                return (messages, Ended::End(valid_bytes, stop));
            }
            Ok((used, event)) => {
                if matches!(event, Some(StreamEvent::Message(_))) {
                    messages += 1;
                }
                if used == 0 && event.is_none() {
                    return (messages, Ended::Stalled);
                }
                input = &input[used..];
            }
            Err(e) => return (messages, Ended::Failed(e)),
        }
    }
}

/// Bug 1 (fixed in 70a5512): the caller's base offset was added to byte positions unchecked.
/// A base near `u64::MAX` (a FETCH offset of -1 read from a captured request and cast, say)
/// overflowed: a panic in debug builds, wrapped offsets in release builds. Spec §5.1/§6.5:
/// offsets are int64 byte positions; the decoder must not fall over on any caller input.
/// Expected: no panic, and no yielded offset smaller than its position (now an
/// `OffsetOverflow` error).
#[test]
fn base_offset_near_u64_max() {
    let hello = hex(HELLO);
    let base = u64::MAX - 3;
    let shallow = panic::catch_unwind(|| {
        MessageSet::new(&hello, base)
            .shallow()
            .map(|m| m.map(|m| (m.position, m.offset)))
            .collect::<Vec<_>>()
    });
    let deep = panic::catch_unwind(|| {
        let mut scratch = [0u8; 64];
        MessageSet::new(&hello, base)
            .deep(&mut scratch, DecodeOptions::default())
            .map(|m| m.map(|m| (m.position, m.offset)))
            .collect::<Vec<_>>()
    });
    let stream = panic::catch_unwind(|| {
        stream_once(&fetch_response(&hello), base, DecodeOptions::default())
    });
    for (what, result) in [("shallow", shallow), ("deep", deep)] {
        let items = result.unwrap_or_else(|_| panic!("{what} iteration panicked"));
        for (position, offset) in items.into_iter().flatten() {
            assert!(
                offset >= position,
                "{what}: offset {offset} wrapped below {position}"
            );
        }
    }
    assert!(stream.is_ok(), "FetchStream panicked");
}

/// A gzip wrapper whose deflate data is corrupt (block type 3), with a valid message CRC.
fn corrupt_gzip_wrapper() -> Vec<u8> {
    let payload = [&gzip::JDK_HEADER[..], &[0xff; 16]].concat();
    MessageRepr::with_codec(Codec::Gzip, &payload[..])
        .to_vec()
        .unwrap()
}

/// Bug 2 (fixed in 70a5512): an error inside a wrapper that `DeepCursor` yielded carried an
/// offset relative to that top-level entry, not to the message set the caller handed in,
/// unlike the same error from `MessageSet::deep` (the `Error` docs: "the absolute byte
/// position from the start of the input the caller handed in"). Input: [hello entry (15
/// bytes), gzip wrapper with corrupt deflate data]. Expected: the cursor reports the error
/// where `deep` does (byte 36, not 21).
#[test]
fn deep_cursor_error_offsets() {
    let set = [hex(HELLO), corrupt_gzip_wrapper()].concat();
    let opts = DecodeOptions::default();
    let mut scratch = [0u8; 1024];
    let whole = MessageSet::new(&set, 0)
        .deep(&mut scratch, opts)
        .find_map(Result::err)
        .expect("deep fails on the corrupt wrapper");
    assert_eq!(
        (whole.layer(), whole.kind()),
        (Layer::Gzip, ErrorKind::Gzip(gzip::GzipErrorKind::Inflate))
    );
    let mut scratch = [0u8; 1024];
    let mut cursor = DeepCursor::new(MessageSet::new(&set, 0), &mut scratch, opts);
    let mut from_cursor = None;
    while let Some(entry) = cursor.next_entry() {
        if let Some(e) = entry.unwrap().find_map(Result::err) {
            from_cursor = Some(e);
            break;
        }
    }
    let from_cursor = from_cursor.expect("the cursor fails on the corrupt wrapper");
    assert_eq!(from_cursor.kind(), whole.kind());
    assert_eq!(
        from_cursor.offset(),
        whole.offset(),
        "DeepCursor error offset is relative to the entry, not the set"
    );
}

/// Bug 3 (fixed in 70a5512): `FetchStream` honoured `DecodeOptions::lax` only for a cut first
/// entry: any other entry error (bad CRC, unknown magic, negative length, ...) was returned
/// as an error and left the decoder failed, where the one-shot decoder in lax mode "stops and
/// says where and why" (`DecodeOptions::lax` docs). Input: FETCH response [hello, an entry with magic
/// 7], lax. Expected, as `MessageSet::shallow_with(lax)`: one message, then `End` with
/// valid bytes 15 and `Stop::Error(UnknownMagic(7) at byte 6 + 15 + 4)`, the rest of the
/// response skipped so that the connection stays in step.
#[test]
fn stream_lax_error() {
    let bad = hex("00000006 07 00 00000000");
    let set = [hex(HELLO), bad].concat();
    let lax = DecodeOptions::default().lax(true);
    let mut one_shot = MessageSet::new(&set, 0).shallow_with(lax);
    assert_eq!(one_shot.by_ref().count(), 1);
    let Stop::Error(e) = one_shot.stop() else {
        panic!("one-shot lax stop: {:?}", one_shot.stop())
    };
    assert_eq!((e.kind(), e.offset()), (ErrorKind::UnknownMagic(7), 19));
    let (messages, ended) = stream_once(&fetch_response(&set), 0, lax);
    assert_eq!(messages, 1);
    let Ended::End(15, Stop::Error(s)) = ended else {
        panic!("lax stream ended with {ended:?}, expected End(15, Stop::Error(..))");
    };
    // The layer may name the stream or the message; kind and position must match.
    assert_eq!((s.kind(), s.offset()), (e.kind(), e.offset() + 6));
}
