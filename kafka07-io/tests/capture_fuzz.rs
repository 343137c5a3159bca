//! Long random fuzzing of whole captures (ignored by default; run with
//! `cargo test --test fuzz -- --ignored`, `FUZZ_SEED` and `FUZZ_ITERS`
//! vary it).

#[path = "capture_common/mod.rs"]
mod common;

use common::*;
use kafka07_io::capture::writer::{write_capture, PcapRecord, TcpFlags, WriteOptions};
use kafka07_io::capture::{linktype, CaptureConfig, CaptureFormat, CaptureReader, Timestamp};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// xorshift64
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn drain(file: &[u8], cfg: CaptureConfig) {
    let Ok(mut reader) = CaptureReader::with_config(file, cfg) else {
        return;
    };
    for _ in 0..1_000_000 {
        if let Ok(None) = reader.next_event() {
            return;
        }
    }
    panic!("reader did not terminate");
}

#[test]
#[ignore = "long-running; run explicitly"]
fn random_mutated_captures() {
    let mut rng = Rng(env_u64("FUZZ_SEED", 0x1234_5678_9abc_def0).max(1));
    let links = [
        linktype::ETHERNET,
        linktype::LINUX_SLL,
        linktype::LINUX_SLL2,
        linktype::NULL,
        linktype::LOOP,
        linktype::RAW,
    ];
    for _ in 0..env_u64("FUZZ_ITERS", 60_000) {
        let link = links[rng.below(links.len() as u64) as usize];
        let f = if rng.below(2) == 0 {
            Flow::new(link, "[::1]:40000", "[::2]:9092")
        } else {
            Flow::new(link, "10.0.0.1:40000", "10.0.0.2:9092")
        };
        let mut frames = Vec::new();
        for _ in 0..1 + rng.below(8) {
            let seq = rng.below(50) as u32;
            let ack = rng.below(60) as u32;
            let len = rng.below(60) as usize;
            let flags = match rng.below(6) {
                0 => TcpFlags::SYN,
                1 => TcpFlags::SYN | TcpFlags::ACK,
                2 => TcpFlags::FIN | TcpFlags::ACK,
                3 => TcpFlags::RST,
                _ => TcpFlags::PSH | TcpFlags::ACK,
            };
            frames.push(if rng.below(2) == 0 {
                f.c(seq, ack, flags, &payload(len, 1))
            } else {
                f.s(seq, ack, flags, &payload(len, 2))
            });
        }
        for frame in frames.iter_mut() {
            for _ in 0..rng.below(4) {
                let at = rng.below(frame.len() as u64) as usize;
                frame[at] = rng.next() as u8;
            }
            if rng.below(4) == 0 {
                let keep = rng.below(frame.len() as u64 + 1) as usize;
                frame.truncate(keep);
            }
        }
        let records: Vec<_> = frames
            .iter()
            .map(|frame| {
                let mut r =
                    PcapRecord::new(Timestamp::new(rng.next() as u32, rng.next() as u32), frame);
                if rng.below(3) == 0 {
                    r.orig_len = rng.next() as u32;
                }
                r
            })
            .collect();
        let opts = WriteOptions {
            format: if rng.below(2) == 0 {
                CaptureFormat::Pcap
            } else {
                CaptureFormat::Pcapng
            },
            big_endian: rng.below(2) == 0,
            nanosecond: rng.below(2) == 0,
            snaplen: rng.next() as u32,
        };
        let mut file = Vec::new();
        write_capture(&mut file, &opts, link, &records).unwrap();
        if rng.below(3) == 0 {
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(file.len() as u64) as usize;
                file[at] = rng.next() as u8;
            }
        }
        if rng.below(5) == 0 {
            let keep = rng.below(file.len() as u64 + 1) as usize;
            file.truncate(keep);
        }
        let cfg = CaptureConfig {
            ack_gaps: rng.below(2) == 0,
            broker_ports: vec![],
            ..CaptureConfig::default()
        };
        drain(&file, cfg);
    }
}
