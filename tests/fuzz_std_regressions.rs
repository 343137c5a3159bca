//! Replays the corpora and the recorded crashers of the std fuzz targets (`capture`: the
//! pcap/pcapng reader of `kafka07-io`; `dump`: the `kafka07 decode` pipeline) through the
//! targets' own checks, on stable, as an ordinary `cargo test` (no libFuzzer).
//!
//! The checks are `fuzz/src/checks_std.rs`, included below as a module: the fuzz targets and
//! this test share one copy of every oracle. Each file under `fuzz/corpus/<target>/` and
//! `fuzz/regressions/<target>/` goes through `<target>`'s check. See `FUZZING.md`.
//!
//! `cargo test --test fuzz_std_regressions -- --ignored write_seeds` rewrites the
//! synthesized `seed-*` files of both corpora.

use std::fs;
use std::panic;
use std::path::{Path, PathBuf};

#[path = "../fuzz/src/checks_std.rs"]
mod checks_std;

use checks_std::{synthesized_captures, SEED_PARAMS, TARGETS};

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz")
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

fn check_of(target: &str) -> checks_std::Check {
    TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .unwrap_or_else(|| panic!("no target {target}"))
        .1
}

/// Feeds every corpus and regression file of `target` to its check; fails naming the files
/// whose check panicked.
fn replay(target: &str) {
    let check = check_of(target);
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

/// `capture`: its corpus and its recorded crashers.
#[test]
fn capture() {
    replay("capture");
}

/// `dump`: its corpus and its recorded crashers.
#[test]
fn dump() {
    replay("dump");
}

/// The two tests above name every target, and each has a fuzz target file and seed
/// parameters.
#[test]
fn targets_are_wired_up() {
    let names: Vec<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["capture", "dump"]);
    for target in names {
        let source = fuzz_dir().join("fuzz_targets").join(format!("{target}.rs"));
        let text = fs::read_to_string(&source).unwrap_or_else(|e| panic!("{target}: {e}"));
        assert!(text.contains("fuzz_target!"), "{}", source.display());
        assert!(
            SEED_PARAMS.iter().any(|(t, _)| *t == target),
            "{target} has no seed parameters"
        );
    }
}

/// The seeds as `write_seeds` makes them: (target, file name, bytes).
fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let data = root.join("tests/data");
    let mut real: Vec<(String, Vec<u8>)> = Vec::new();
    for dir in ["captures/cli", "captures/transport"] {
        for path in files(&data.join(dir)) {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            real.push((name, fs::read(&path).unwrap()));
        }
    }
    let mut captures: Vec<(String, Vec<u8>)> = real.clone();
    for (name, bytes) in synthesized_captures() {
        if name != "requests" && name != "responses" {
            captures.push((format!("synth-{name}"), bytes));
        }
    }
    // The large tcpdump captures seed `capture` only: `dump` reads captures through the same
    // reader, and its corpus stays small.
    let mut dump_inputs: Vec<(String, Vec<u8>)> = captures
        .iter()
        .filter(|(_, bytes)| bytes.len() <= 8192)
        .cloned()
        .collect();
    for (name, bytes) in synthesized_captures() {
        if name == "requests" || name == "responses" {
            dump_inputs.push((format!("synth-{name}"), bytes));
        }
    }
    for suite in ["perl-kafka-0.12", "kafka-php"] {
        for path in files(&data.join("peer-test-suites").join(suite)) {
            if path.extension().is_some_and(|e| e == "bin") {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                dump_inputs.push((format!("{suite}-{name}"), fs::read(&path).unwrap()));
            }
        }
    }
    for path in files(&data.join("reference/MagicByte0-0")) {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = fs::read(&path).unwrap();
        // Cut, as the codec seeds are, to stay near libFuzzer's default input size.
        let cut = bytes.len().min(1200);
        dump_inputs.push((format!("segment-{name}"), bytes[..cut].to_vec()));
    }
    let mut out = Vec::new();
    for (target, inputs) in [("capture", &captures), ("dump", &dump_inputs)] {
        let params = SEED_PARAMS.iter().find(|(t, _)| *t == target).unwrap().1;
        for (i, p) in params.iter().enumerate() {
            for (name, bytes) in inputs.iter() {
                // The variant prefixes only on the small inputs: the corpora stay small.
                if i > 0 && bytes.len() > 8192 {
                    continue;
                }
                let mut file = p.to_vec();
                file.extend_from_slice(bytes);
                out.push((target, format!("seed-{i}-{name}"), file));
            }
        }
    }
    out
}

/// The synthesized captures and every seed pass their checks, whatever the corpus holds.
#[test]
fn seeds_pass() {
    for (target, name, bytes) in seeds() {
        let check = check_of(target);
        if panic::catch_unwind(|| check(&bytes)).is_err() {
            panic!("{target}: seed {name} fails its check");
        }
    }
}

/// Rewrites `fuzz/corpus/{capture,dump}/seed-*` (other corpus files are kept).
#[test]
#[ignore = "writes the seed corpora"]
fn write_seeds() {
    for target in ["capture", "dump"] {
        let dir = fuzz_dir().join("corpus").join(target);
        fs::create_dir_all(&dir).unwrap();
        for path in files(&dir) {
            if path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("seed-"))
            {
                fs::remove_file(path).unwrap();
            }
        }
    }
    for (target, name, bytes) in seeds() {
        fs::write(fuzz_dir().join("corpus").join(target).join(name), bytes).unwrap();
    }
}
