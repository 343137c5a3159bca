//! Shared plumbing of the interop tests (`tests/interop_*.rs`): where the peer cache and the
//! harness live, the loud skip, running a peer driver as a bounded child process, a broker
//! seeded with hand-made segments, and the reference view of a message set.
//!
//! See INTEROP.md for what the tests establish and how a skip shows up.
#![allow(dead_code)] // each test binary uses a different part of this module

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kafka07::io::{Broker, BrokerConfig, Client, CLEAN_SHUTDOWN_FILE};
use kafka07::proto::{wrap, Codec, MessageRepr, MessageSet};
use serde_json::{json, Value};

// ------------------------------------------------------------------------------------ places

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `tests/interop/`: setup.sh, the drivers, the recorder, the golden snapshot.
pub fn harness_dir() -> PathBuf {
    repo().join("tests/interop")
}

/// Where the peers are installed: `$KAFKA07_INTEROP_CACHE`, else `target/interop-cache`.
pub fn cache_dir() -> PathBuf {
    match std::env::var_os("KAFKA07_INTEROP_CACHE") {
        Some(p) if !p.is_empty() => absolute(PathBuf::from(p)),
        _ => repo().join("target/interop-cache"),
    }
}

/// Where the tests write their evidence: `$KAFKA07_INTEROP_RESULTS`, else
/// `target/interop-results`.
pub fn results_dir() -> PathBuf {
    let d = match std::env::var_os("KAFKA07_INTEROP_RESULTS") {
        Some(p) if !p.is_empty() => absolute(PathBuf::from(p)),
        _ => repo().join("target/interop-results"),
    };
    let _ = fs::create_dir_all(&d);
    d
}

fn absolute(p: PathBuf) -> PathBuf {
    if p.is_absolute() {
        p
    } else {
        repo().join(p)
    }
}

// ------------------------------------------------------------------------------ loud output

/// Writes straight to the process's stderr. libtest captures only the `print!`/`eprint!`
/// macros, so these lines show in `cargo test` output even when the test passes.
pub fn loud(text: &str) {
    let mut e = std::io::stderr().lock();
    let _ = e.write_all(text.as_bytes());
    let _ = e.flush();
}

static OUTCOMES: Mutex<()> = Mutex::new(());

/// Appends `{test, status, detail}` to `results_dir()/outcomes.jsonl` (read by
/// scripts/interop.sh for its summary line).
pub fn record_outcome(test: &str, status: &str, detail: &str) {
    let _guard = OUTCOMES.lock().unwrap_or_else(|e| e.into_inner());
    let line = json!({"test": test, "status": status, "detail": detail}).to_string();
    if let Ok(mut f) = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(results_dir().join("outcomes.jsonl"))
    {
        let _ = writeln!(f, "{line}");
    }
}

/// Saves a JSON document as evidence under `results_dir()`.
pub fn save_evidence(name: &str, doc: &Value) -> PathBuf {
    let path = results_dir().join(name);
    if let Some(dir) = path.parent() {
        let _ = fs::create_dir_all(dir);
    }
    let _ = fs::write(
        &path,
        serde_json::to_string_pretty(doc).unwrap_or_default() + "\n",
    );
    path
}

// ------------------------------------------------------------------------------- the peers

/// How a peer is run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// The interop venv's python3.11 with `peer_ops.py`.
    Python,
    /// node with `peer_ops.js`.
    Node,
}

/// One third-party peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer {
    /// The harness's id (directory name under `golden/`).
    pub id: &'static str,
    /// Its pinned version.
    pub version: &'static str,
    /// How it is run.
    pub lang: Lang,
}

pub const SAMSA: Peer = Peer {
    id: "samsa",
    version: "0.3.11",
    lang: Lang::Python,
};
pub const BROD: Peer = Peer {
    id: "brod",
    version: "0.4.3",
    lang: Lang::Python,
};
pub const PYKAFKA: Peer = Peer {
    id: "pykafka",
    version: "0.1.3",
    lang: Lang::Python,
};
pub const PROZESS: Peer = Peer {
    id: "prozess",
    version: "0.7.0",
    lang: Lang::Node,
};
pub const FRANZ: Peer = Peer {
    id: "franz-kafka",
    version: "0.7.5",
    lang: Lang::Node,
};
pub const KAFKA_NPM: Peer = Peer {
    id: "kafka_npm",
    version: "0.2.3",
    lang: Lang::Node,
};
pub const PEERS: [Peer; 6] = [SAMSA, BROD, PYKAFKA, PROZESS, FRANZ, KAFKA_NPM];

/// `KAFKA07_INTEROP`: unset/`auto` (run when the cache is ready, else skip loudly),
/// `require` (a missing cache is a failure), `off` (skip loudly).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Auto,
    Require,
    Off,
}

pub fn mode() -> Mode {
    match std::env::var("KAFKA07_INTEROP").as_deref() {
        Ok("require") | Ok("1") => Mode::Require,
        Ok("off") | Ok("0") => Mode::Off,
        _ => Mode::Auto,
    }
}

/// An installed peer cache.
#[derive(Clone, Debug)]
pub struct Installed {
    pub cache: PathBuf,
    pub python: PathBuf,
    pub npm_prefix: PathBuf,
}

/// Checks the peer cache that `tests/interop/setup.sh` creates; `Err` says what is missing.
pub fn installed() -> Result<Installed, String> {
    if mode() == Mode::Off {
        return Err("disabled by KAFKA07_INTEROP=off".into());
    }
    let cache = cache_dir();
    let python = cache.join("venv/bin/python");
    let npm_prefix = cache.join("npm");
    let hint = format!(
        "the peer cache {} is not installed (run `tests/interop/setup.sh {}` or scripts/interop.sh)",
        cache.display(),
        cache.display()
    );
    for needed in [
        cache.join("env.sh"),
        cache.join("venv/.interop-stamp"),
        npm_prefix.join(".interop-stamp"),
        python.clone(),
        npm_prefix.join("node_modules/prozess/package.json"),
        npm_prefix.join("node_modules/franz-kafka/package.json"),
        npm_prefix.join("node_modules/kafka/package.json"),
    ] {
        if !needed.exists() {
            return Err(format!("{hint}: {} is missing", needed.display()));
        }
    }
    let node_ok = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !node_ok {
        return Err("`node` is not on PATH".into());
    }
    Ok(Installed {
        cache,
        python,
        npm_prefix,
    })
}

/// The peers, or a loud SKIPPED line (and `None`). Under `KAFKA07_INTEROP=require` a missing
/// cache panics instead.
pub fn peers_or_skip(test: &str) -> Option<Installed> {
    match installed() {
        Ok(i) => {
            record_outcome(test, "ran", &i.cache.display().to_string());
            Some(i)
        }
        Err(reason) => {
            if mode() == Mode::Require {
                panic!(
                    "KAFKA07_INTEROP=require, but the interop peers are not available: {reason}"
                );
            }
            loud(&format!(
                "\n!!!! SKIPPED (NOT verified) interop peer test `{test}`: {reason}\n"
            ));
            record_outcome(test, "skipped", &reason);
            None
        }
    }
}

/// What one run of a peer driver returned.
#[derive(Debug, Clone)]
pub struct PeerRun {
    pub peer: Peer,
    pub version: String,
    pub results: Vec<Value>,
    pub seconds: f64,
}

impl PeerRun {
    /// The result of the operation with this id.
    pub fn get(&self, id: &str) -> &Value {
        self.results
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("{}: no result for operation {id}", self.peer.id))
    }
}

/// Runs `ops` with `peer` against 127.0.0.1:`port` (tests/interop/peer_ops.{py,js}) as a child
/// process bounded by a deadline; saves the plan and the results as `<label>.json` under
/// `results_dir()`.
pub fn run_peer(inst: &Installed, peer: Peer, port: u16, ops: &[Value], label: &str) -> PeerRun {
    const OP_TIMEOUT: u64 = 6;
    let tmp = tempfile::tempdir().expect("tempdir");
    let plan_path = tmp.path().join("plan.json");
    let out_path = tmp.path().join("out.json");
    let plan = json!({"peer": peer.id, "port": port, "op_timeout": OP_TIMEOUT, "ops": ops});
    fs::write(&plan_path, plan.to_string()).expect("write plan");
    let (program, script) = match peer.lang {
        Lang::Python => (inst.python.clone(), harness_dir().join("peer_ops.py")),
        Lang::Node => (PathBuf::from("node"), harness_dir().join("peer_ops.js")),
    };
    let stdout = fs::File::create(tmp.path().join("stdout")).expect("stdout file");
    let stderr = fs::File::create(tmp.path().join("stderr")).expect("stderr file");
    let started = Instant::now();
    let mut child = Command::new(&program)
        .arg(&script)
        .arg("--plan")
        .arg(&plan_path)
        .arg("--out")
        .arg(&out_path)
        .env("INTEROP_NPM_PREFIX", &inst.npm_prefix)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
    let deadline = started + Duration::from_secs(20 + ops.len() as u64 * (OP_TIMEOUT + 2));
    let status = loop {
        match child.try_wait().expect("wait for the peer driver") {
            Some(s) => break s,
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{} driver did not finish within {:?} (killed); stderr:\n{}",
                    peer.id,
                    deadline - started,
                    tail(&tmp.path().join("stderr"))
                );
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let text = fs::read_to_string(&out_path).unwrap_or_else(|e| {
        panic!(
            "{} driver wrote no result ({e}; exit {status}); stderr:\n{}",
            peer.id,
            tail(&tmp.path().join("stderr"))
        )
    });
    let out: Value = serde_json::from_str(&text).expect("driver result is JSON");
    assert!(
        out.get("driver_error").is_none(),
        "{} driver failed: {}\nstderr:\n{}",
        peer.id,
        out["driver_error"],
        tail(&tmp.path().join("stderr"))
    );
    let version = out["peer_version"].as_str().unwrap_or("?").to_owned();
    assert_eq!(
        version, peer.version,
        "{}: unexpected installed version",
        peer.id
    );
    save_evidence(
        &format!("{label}.json"),
        &json!({"peer": peer.id, "peer_version": version, "port": port,
                "seconds": seconds, "plan": ops, "results": out["results"]}),
    );
    PeerRun {
        peer,
        version,
        results: out["results"].as_array().cloned().unwrap_or_default(),
        seconds,
    }
}

fn tail(path: &Path) -> String {
    let s = fs::read_to_string(path).unwrap_or_default();
    let start = s.len().saturating_sub(3000);
    let start = (start..s.len())
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(s.len());
    s[start..].to_owned()
}

// ---------------------------------------------------------------------------------- values

/// An offset that a driver reported as a JSON number or a decimal string.
pub fn as_offset(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

/// The payloads a fetch-like result holds (`messages[].payload_hex`).
pub fn payloads_of(result: &Value) -> Vec<Vec<u8>> {
    result["value"]["messages"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| unhex(m["payload_hex"].as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default()
}

/// Short text for a list of payloads (assertion messages).
pub fn show(payloads: &[Vec<u8>]) -> String {
    let parts: Vec<String> = payloads
        .iter()
        .map(|p| match std::str::from_utf8(p) {
            Ok(s) if p.len() <= 24 && s.chars().all(|c| !c.is_control()) => format!("{s:?}"),
            _ if p.len() <= 16 => format!("0x{}", hex(p)),
            _ => format!("<{} bytes>", p.len()),
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

// ------------------------------------------------------------------------ payloads, entries

pub const HELLO: &[u8] = b"hello";
pub const THERE: &[u8] = b"there";
pub const TESTING: &[u8] = b"testing"; // CRC 0xe8f35a06 (>= 2^31)
pub const UTF8: &str = "h\u{e9}llo w\u{f6}rld \u{20ac}";

pub fn binary() -> Vec<u8> {
    (0..=255u8).collect()
}

/// `[hello, there, testing, ""]`: ASCII payloads every peer's API can carry.
pub fn plain_payloads() -> Vec<Vec<u8>> {
    vec![HELLO.to_vec(), THERE.to_vec(), TESTING.to_vec(), Vec::new()]
}

/// `[bytes 00..ff, UTF-8 text]`.
pub fn binary_payloads() -> Vec<Vec<u8>> {
    vec![binary(), UTF8.as_bytes().to_vec()]
}

/// One magic-1 entry.
pub fn m1(p: &[u8]) -> Vec<u8> {
    MessageRepr::new(p).to_vec().expect("encode")
}

/// One magic-0 entry.
pub fn m0(p: &[u8]) -> Vec<u8> {
    MessageRepr::magic0(p).to_vec().expect("encode")
}

/// An entry with the first CRC byte flipped.
pub fn flip_crc(mut entry: Vec<u8>) -> Vec<u8> {
    let at = if entry[4] == 0 { 5 } else { 6 };
    entry[at] ^= 0xff;
    entry
}

/// A message set of entries of one magic.
pub fn set_of(payloads: &[Vec<u8>], magic: u8) -> Vec<u8> {
    payloads
        .iter()
        .flat_map(|p| if magic == 0 { m0(p) } else { m1(p) })
        .collect()
}

/// A compressed wrapper (magic 1) holding entries of `inner_magic`.
pub fn wrapper(codec: Codec, payloads: &[Vec<u8>], inner_magic: u8) -> Vec<u8> {
    let reprs: Vec<MessageRepr<&[u8]>> = payloads
        .iter()
        .map(|p| {
            if inner_magic == 0 {
                MessageRepr::magic0(p.as_slice())
            } else {
                MessageRepr::new(p.as_slice())
            }
        })
        .collect();
    wrap(codec, &reprs)
        .expect("wrap")
        .expect("non-empty")
        .to_vec()
        .expect("encode")
}

// --------------------------------------------------------------------- the reference view

/// A message as the 0.7.2 reference consumer sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefMsg {
    pub payload: Vec<u8>,
    /// The reference offset: where a consumer resumes after this message (spec §5.2, §5.3).
    pub offset: u64,
    /// Where its entry starts (for a message inside a wrapper: the wrapper's start).
    pub start: u64,
    /// Its CRC matches its payload.
    pub crc_ok: bool,
}

/// The reference view of a message set fetched at `base`, computed from the *shallow* entry
/// layout and the spec's offset rules (§5.2: a plain entry's offset is its end; §5.3: inside
/// a wrapper every message but the last gets the wrapper's start, the last its end). A cut
/// trailing entry ends the set (§3.2 step 4). CRCs are checked here, not enforced. Inner
/// payloads of a wrapper come from our deep iterator.
pub fn reference_view(set: &[u8], base: u64) -> Vec<RefMsg> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while set.len() - pos >= 4 {
        let n = u32::from_be_bytes(set[pos..pos + 4].try_into().unwrap()) as usize;
        if set.len() - pos - 4 < n {
            break;
        }
        let entry = &set[pos..pos + 4 + n];
        let start = base + pos as u64;
        let end = start + entry.len() as u64;
        let magic = entry[4];
        let codec = if magic == 1 { entry[5] & 3 } else { 0 };
        let header = if magic == 0 { 9 } else { 10 };
        let payload = &entry[header..];
        let stored = u32::from_be_bytes(entry[header - 4..header].try_into().unwrap());
        let crc_ok = stored == kafka07::proto::crc32(payload);
        if codec == 0 || !crc_ok {
            out.push(RefMsg {
                payload: payload.to_vec(),
                offset: end,
                start,
                crc_ok,
            });
        } else {
            let inner = our_view(entry, 0);
            let k = inner.len();
            for (i, (p, _)) in inner.into_iter().enumerate() {
                out.push(RefMsg {
                    payload: p,
                    offset: if i + 1 == k { end } else { start },
                    start,
                    crc_ok: true,
                });
            }
        }
        pos += 4 + n;
    }
    out
}

/// What the 0.7.1+ reference consumer does with a fetched set: the messages it hands out
/// before an `InvalidMessageException` (bad CRC, spec §2.5), whether that exception comes,
/// and the offset it would fetch next.
#[derive(Clone, Debug)]
pub struct Reference {
    pub delivered: Vec<RefMsg>,
    pub crc_error: bool,
    pub end: u64,
}

pub fn reference_outcome(set: &[u8], base: u64) -> Reference {
    let all = reference_view(set, base);
    let good = all.iter().take_while(|m| m.crc_ok).count();
    let delivered: Vec<RefMsg> = all[..good].to_vec();
    let end = delivered.last().map_or(base, |m| m.offset);
    Reference {
        crc_error: good < all.len(),
        delivered,
        end,
    }
}

/// A message as a consumer reports it: payload and offset.
pub type Seen = (Vec<u8>, u64);

/// Our deep iterator's view (CRCs verified; panics on an error).
pub fn our_view(set: &[u8], base: u64) -> Vec<Seen> {
    let mut scratch = vec![0u8; 1 << 20];
    MessageSet::new(set, base)
        .deep(&mut scratch, Default::default())
        .map(|m| {
            let m = m.expect("our deep iteration");
            (m.message.payload().to_vec(), m.offset)
        })
        .collect()
}

// ------------------------------------------------------------------------------- a broker

/// A partition log to lay down before the broker starts.
pub struct Seed {
    pub topic: &'static str,
    pub partition: u32,
    /// The segment's start offset (its file name).
    pub start: u64,
    pub bytes: Vec<u8>,
}

/// Our broker on 127.0.0.1 (ephemeral port), on disk in a temporary directory that holds
/// `seeds` as real 0.7 segment files; a clean-shutdown marker is written so the broker serves
/// them exactly as they are (no recovery truncates a bad CRC). Appends are visible at once.
pub struct TestBroker {
    pub broker: Broker,
    pub dir: tempfile::TempDir,
}

impl TestBroker {
    pub fn start(seeds: &[Seed], partitions: &[(&str, u32)]) -> TestBroker {
        let dir = tempfile::tempdir().expect("tempdir");
        for s in seeds {
            let pdir = dir.path().join(format!("{}-{}", s.topic, s.partition));
            fs::create_dir_all(&pdir).expect("partition dir");
            fs::write(pdir.join(format!("{:020}.kafka", s.start)), &s.bytes).expect("segment");
        }
        if !seeds.is_empty() {
            fs::write(dir.path().join(CLEAN_SHUTDOWN_FILE), b"").expect("marker");
        }
        let mut cfg = BrokerConfig::on_disk(dir.path()).visible_on_append(true);
        for (t, n) in partitions {
            cfg = cfg.topic_partitions(t, *n);
        }
        let broker = Broker::start(cfg).expect("start our broker");
        TestBroker { broker, dir }
    }

    pub fn port(&self) -> u16 {
        self.broker.local_addr().port()
    }

    pub fn client(&self) -> Client {
        Client::connect(self.broker.local_addr()).expect("connect to our broker")
    }

    /// The raw message set of `topic`/`partition` from `offset` (up to 1 MiB), polling until
    /// it holds at least `min_messages` deep messages or `within` passed.
    pub fn read_until(
        &self,
        topic: &str,
        partition: i32,
        offset: u64,
        min_messages: usize,
        within: Duration,
    ) -> Vec<u8> {
        let deadline = Instant::now() + within;
        let mut client = self.client();
        loop {
            let data = match client.fetch(topic, partition, offset, 1 << 20) {
                Ok(f) => f.data,
                Err(_) => Vec::new(),
            };
            let n = std::panic::catch_unwind(|| reference_view(&data, offset).len()).unwrap_or(0);
            if n >= min_messages || Instant::now() >= deadline {
                return data;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Loud note of where a test's evidence went.
pub fn note_evidence(path: &Path) {
    loud(&format!("   evidence: {}\n", path.display()));
}
