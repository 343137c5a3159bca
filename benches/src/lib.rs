//! Shared pieces of the `kafka07-proto` benchmarks: the inputs, and the ratio measurement that
//! sets every figure against its physical baseline on the same bytes in the same run.
//!
//! Each bench file (`benches/*.rs`) first lets criterion measure every function with
//! `Throughput::Bytes`, then calls [`Ratios::measure`] for each (ours, baseline) pair: both are
//! timed in alternating rounds and the ratio (our throughput / the baseline's) is the median of
//! the rounds' ratios, which cancels most of the drift a shared machine adds. The bench prints
//! one `RATIO` line per pair; `scripts/bench.sh` collects them into a table.
#![warn(missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use kafka07_proto::{
    emit_set, set_wire_len, wrap, Codec, ErrorCode, FetchResponse, MessageRepr, Response,
};

pub mod work;

/// The realistic payloads: 1 MiB of JSON access-log lines, one message per line (see
/// `benches/data/README.md`).
pub const JSON_LOG_LINES: &[u8] = include_bytes!("../data/json-log-lines.txt");

/// The lines of [`JSON_LOG_LINES`], without their newlines.
pub fn json_lines() -> Vec<&'static [u8]> {
    JSON_LOG_LINES
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect()
}

/// Deterministic incompressible payloads of `size` bytes, about `total` bytes of them.
pub fn synthetic_payloads(size: usize, total: usize) -> Vec<Vec<u8>> {
    let mut state = 0x9e37_79b9_u32;
    (0..total.div_ceil(size))
        .map(|_| {
            (0..size)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    state as u8
                })
                .collect()
        })
        .collect()
}

/// A message set of plain magic-1 messages holding `payloads`.
pub fn plain_set<P: AsRef<[u8]>>(payloads: &[P]) -> Vec<u8> {
    let msgs: Vec<MessageRepr<&[u8]>> = payloads
        .iter()
        .map(|p| MessageRepr::new(p.as_ref()))
        .collect();
    let mut set = vec![0u8; set_wire_len(&msgs)];
    emit_set(&msgs, &mut set).expect("sized");
    set
}

/// A message set of `codec` wrappers, each holding `per_wrapper` plain messages of `payloads`
/// (the way a 0.7 producer batches).
pub fn wrapped_set(codec: Codec, payloads: &[&[u8]], per_wrapper: usize) -> Vec<u8> {
    let mut set = Vec::new();
    for batch in payloads.chunks(per_wrapper) {
        let msgs: Vec<MessageRepr<&[u8]>> = batch.iter().map(|p| MessageRepr::new(*p)).collect();
        let wrapper = wrap(codec, &msgs).expect("wrap").expect("non-empty batch");
        set.extend(wrapper.to_vec().expect("encode"));
    }
    set
}

/// A FETCH response frame (error 0) around `set`.
pub fn fetch_response(set: &[u8]) -> Vec<u8> {
    Response::Fetch(FetchResponse {
        error: ErrorCode(0),
        messages: set,
    })
    .to_vec()
    .expect("encode")
}

/// The `(start, end)` of every entry's payload in a set of plain messages (for baselines that
/// touch exactly the bytes the decoder checks).
pub fn payload_ranges(set: &[u8]) -> Vec<(usize, usize)> {
    kafka07_proto::MessageSet::new(set, 0)
        .shallow()
        .map(|m| {
            let m = m.expect("a valid set");
            let start = (m.position as usize) + m.message.wire_len() - m.message.payload().len();
            (start, m.offset as usize)
        })
        .collect()
}

/// Decompressed bytes of a set, as deep iteration yields them (inner entries, whole).
pub fn inner_bytes(set: &[u8]) -> u64 {
    let mut scratch = vec![0u8; 1 << 20];
    let mut cursor = kafka07_proto::DeepCursor::new(
        kafka07_proto::MessageSet::new(set, 0),
        &mut scratch,
        kafka07_proto::DecodeOptions::default(),
    );
    let mut total = 0u64;
    while let Some(entry) = cursor.next_entry() {
        for m in entry.expect("valid") {
            total += m.expect("valid").message.wire_len() as u64;
        }
    }
    total
}

/// One measured pair.
#[derive(Clone, Debug)]
pub struct Row {
    /// What we measured.
    pub name: String,
    /// What it is set against.
    pub baseline: String,
    /// Bytes one call processes (for MB/s).
    pub bytes: u64,
    /// Our throughput, MB/s (median round).
    pub ours_mbps: f64,
    /// The baseline's throughput, MB/s (median round).
    pub baseline_mbps: f64,
    /// Median over rounds of (baseline time / our time) = our throughput / the baseline's.
    pub ratio: f64,
    /// The goal for the ratio, if there is one.
    pub target: Option<f64>,
}

/// Collects the ratio rows of one bench and prints them.
#[derive(Debug)]
pub struct Ratios {
    bench: &'static str,
    rows: Vec<Row>,
    rounds: usize,
    round_time: Duration,
}

impl Ratios {
    /// Ratios of one bench file. `KAFKA07_BENCH_ROUNDS` (default 15) and
    /// `KAFKA07_BENCH_ROUND_MS` (default 20) set how long each pair is timed.
    pub fn new(bench: &'static str) -> Self {
        let env = |k: &str, d: u64| {
            std::env::var(k)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(d)
        };
        Ratios {
            bench,
            rows: Vec::new(),
            rounds: env("KAFKA07_BENCH_ROUNDS", 15) as usize,
            round_time: Duration::from_millis(env("KAFKA07_BENCH_ROUND_MS", 20)),
        }
    }

    /// Times `ours` and `baseline` (each processing `bytes` bytes per call) in alternating
    /// rounds and records the ratio of their throughputs.
    pub fn measure(
        &mut self,
        name: &str,
        baseline: &str,
        bytes: u64,
        target: Option<f64>,
        mut ours: impl FnMut(),
        mut base: impl FnMut(),
    ) {
        // Calibrate: calls per round so that a round of the slower one lasts ~round_time.
        let once = |f: &mut dyn FnMut()| {
            let t = Instant::now();
            f();
            t.elapsed()
        };
        once(&mut ours);
        once(&mut base);
        let slower = once(&mut ours)
            .max(once(&mut base))
            .max(Duration::from_nanos(50));
        let calls = (self.round_time.as_nanos() / slower.as_nanos()).clamp(1, 1_000_000) as u32;
        let time = |f: &mut dyn FnMut()| {
            let t = Instant::now();
            for _ in 0..calls {
                f();
            }
            t.elapsed().as_secs_f64() / f64::from(calls)
        };
        let (mut ratios, mut ours_t, mut base_t) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..self.rounds {
            let (o, b) = if round % 2 == 0 {
                let o = time(&mut ours);
                (o, time(&mut base))
            } else {
                let b = time(&mut base);
                (time(&mut ours), b)
            };
            ratios.push(b / o);
            ours_t.push(o);
            base_t.push(b);
        }
        let mbps = |t: f64| bytes as f64 / t / 1e6;
        let row = Row {
            name: name.to_string(),
            baseline: baseline.to_string(),
            bytes,
            ours_mbps: mbps(median(&mut ours_t)),
            baseline_mbps: mbps(median(&mut base_t)),
            ratio: median(&mut ratios),
            target,
        };
        println!("{}", Self::line(self.bench, &row));
        self.rows.push(row);
    }

    /// The machine-readable line `scripts/bench.sh` collects.
    fn line(bench: &str, r: &Row) -> String {
        let verdict = match r.target {
            Some(t) if r.ratio >= t => format!(">= {t:.2} met"),
            Some(t) => format!(">= {t:.2} MISSED"),
            None => "-".to_string(),
        };
        format!(
            "RATIO | {bench} | {} | {} | {:.0} | {:.0} | {:.3} | {verdict} |",
            r.name, r.baseline, r.ours_mbps, r.baseline_mbps, r.ratio
        )
    }

    /// Prints the table of this bench's ratios.
    pub fn print(&self) {
        println!();
        println!(
            "ratios of bench `{}` (ours / baseline, same bytes, same run):",
            self.bench
        );
        println!("| what | baseline | ours MB/s | baseline MB/s | ratio | target |");
        println!("|---|---|---:|---:|---:|---|");
        for r in &self.rows {
            let line = Self::line(self.bench, r);
            println!(
                "{}",
                line.trim_start_matches("RATIO | ").replacen(
                    &format!("{} | ", self.bench),
                    "| ",
                    1
                )
            );
        }
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Whether to time the ratio pairs after criterion: not when criterion only profiles
/// (`--profile-time`), lists (`--list`) or runs as a test (`--test`, as `cargo test --benches`
/// does).
pub fn ratios_wanted() -> bool {
    !std::env::args().any(|a| matches!(a.as_str(), "--profile-time" | "--list" | "--test"))
}

/// Short criterion settings: the whole bench run must stay within a few minutes.
pub fn criterion() -> criterion::Criterion {
    criterion::Criterion::default()
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_millis(700))
        .sample_size(10)
        .configure_from_args()
}

/// Keeps a value alive and opaque to the optimiser.
pub fn sink<T>(v: T) -> T {
    black_box(v)
}
