//! Hostile and random input: no panics, bounded work, and whatever is
//! delivered is correct.

#[path = "capture_common/mod.rs"]
mod common;

use common::*;
use kafka07_io::capture::writer::{write_capture, write_pcapng, PcapRecord, WriteOptions};
use kafka07_io::capture::{
    linktype, CaptureConfig, CaptureEvent, CaptureFormat, CaptureReader, ConnId, Direction,
    Timestamp,
};
use proptest::prelude::*;

/// Drains a reader completely (continuing after errors, which flush and
/// end the stream). Panics only if the reader never ends.
fn drain(file: &[u8], cfg: CaptureConfig) -> Vec<CaptureEvent> {
    let mut evs = Vec::new();
    let Ok(mut reader) = CaptureReader::with_config(file, cfg) else {
        return evs;
    };
    let mut errors = 0;
    for _ in 0..1_000_000 {
        match reader.next_event() {
            Ok(Some(e)) => evs.push(e),
            Ok(None) => return evs,
            Err(_) => {
                errors += 1;
                assert!(errors <= 1, "more than one error");
            }
        }
    }
    panic!("reader did not terminate");
}

/// Checks every Data event against the true streams.
fn check_against(evs: &[CaptureEvent], truth: &[(Direction, &[u8])]) {
    for e in evs {
        if let CaptureEvent::Data {
            conn,
            dir,
            offset,
            bytes,
            ..
        } = e
        {
            assert_eq!(*conn, ConnId(0));
            let want = truth.iter().find(|(d, _)| d == dir).unwrap().1;
            let start = *offset as usize;
            assert!(start + bytes.len() <= want.len(), "data beyond the stream");
            assert_eq!(&want[start..start + bytes.len()], &bytes[..]);
        }
    }
}

const UP_LEN: usize = 5000;
const DOWN_LEN: usize = 3000;

/// A valid capture: handshake, data both ways (some out of order and
/// retransmitted), FINs.
fn sample(format: CaptureFormat, big_endian: bool) -> Vec<u8> {
    let f = Flow::eth("10.0.0.1:40000", "10.0.0.2:9092");
    let up = payload(UP_LEN, 1);
    let down = payload(DOWN_LEN, 2);
    let mut cap = Cap::default();
    cap.push(f.c(999, 0, syn(), b""));
    cap.push(f.s(4999, 1000, synack(), b""));
    cap.push(f.c(1000, 5000, ack(), b""));
    for (i, chunk) in up.chunks(700).enumerate().rev() {
        cap.push(f.c(1000 + (i * 700) as u32, 5000, psh(), chunk));
    }
    for (i, chunk) in down.chunks(1000).enumerate() {
        cap.push(f.s(5000 + (i * 1000) as u32, 6000, psh(), chunk));
        cap.push(f.s(5000 + (i * 1000) as u32, 6000, psh(), chunk));
    }
    cap.push(f.c(6000, 8000, fin(), b""));
    cap.push(f.s(8000, 6001, fin(), b""));
    let records: Vec<_> = cap
        .frames
        .iter()
        .map(|(ts, b)| PcapRecord::new(*ts, b))
        .collect();
    let mut out = Vec::new();
    let opts = WriteOptions {
        format,
        big_endian,
        ..WriteOptions::default()
    };
    write_capture(&mut out, &opts, linktype::ETHERNET, &records).unwrap();
    out
}

fn truth() -> (Vec<u8>, Vec<u8>) {
    (payload(UP_LEN, 1), payload(DOWN_LEN, 2))
}

#[test]
fn sample_is_read_completely() {
    let (up, down) = truth();
    for format in [CaptureFormat::Pcap, CaptureFormat::Pcapng] {
        let evs = events(&sample(format, false));
        assert_eq!(stream(&evs, ConnId(0), Direction::ToServer).bytes, up);
        assert_eq!(stream(&evs, ConnId(0), Direction::ToClient).bytes, down);
    }
}

fn valid_prefix() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // pcap headers, both byte orders, with random link type bytes.
        Just(vec![
            0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 1, 0, 0, 0
        ]),
        Just(vec![
            0xa1, 0xb2, 0xc3, 0xd4, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 113
        ]),
        // A pcapng SHB + IDB (link type 1), as our writer produces them.
        Just({
            let mut v = Vec::new();
            write_pcapng::<_, &[u8]>(&mut v, linktype::ETHERNET, &[]).unwrap();
            v
        }),
        Just(Vec::new()),
    ]
}

proptest! {

    #[test]
    fn garbage_never_panics(prefix in valid_prefix(), tail in proptest::collection::vec(any::<u8>(), 0..3000)) {
        let mut file = prefix;
        file.extend_from_slice(&tail);
        drain(&file, CaptureConfig::default());
    }

    #[test]
    fn truncated_capture_never_panics_and_delivers_only_true_bytes(
        cut in 0usize..20_000,
        format in prop_oneof![Just(CaptureFormat::Pcap), Just(CaptureFormat::Pcapng)],
        big_endian in any::<bool>(),
    ) {
        let file = sample(format, big_endian);
        let cut = cut % (file.len() + 1);
        let evs = drain(&file[..cut], CaptureConfig::default());
        let (up, down) = truth();
        check_against(&evs, &[(Direction::ToServer, &up), (Direction::ToClient, &down)]);
    }

    #[test]
    fn mutated_capture_never_panics(
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..12),
        format in prop_oneof![Just(CaptureFormat::Pcap), Just(CaptureFormat::Pcapng)],
    ) {
        let mut file = sample(format, false);
        let len = file.len();
        for (at, v) in flips {
            file[at % len] = v;
        }
        let cfg = CaptureConfig { max_record_len: 70_000, ..CaptureConfig::default() };
        drain(&file, cfg);
    }

    /// Random segments (flags, sequence and acknowledgment numbers, sizes,
    /// snap-length cuts) on every link type never panic, and the offsets
    /// stay contiguous.
    #[test]
    fn random_segments_never_panic(
        link in prop_oneof![
            Just(linktype::ETHERNET), Just(linktype::LINUX_SLL), Just(linktype::LINUX_SLL2),
            Just(linktype::NULL), Just(linktype::LOOP), Just(linktype::RAW)
        ],
        v6 in any::<bool>(),
        segs in proptest::collection::vec(
            (any::<bool>(), 0u32..80, 0u32..80, 0u8..32, 0usize..90, 0usize..200), 1..25),
        ack_gaps in any::<bool>(),
    ) {
        let f = if v6 {
            Flow::new(link, "[fe80::1]:40000", "[fe80::2]:9092")
        } else {
            Flow::new(link, "10.0.0.1:40000", "10.0.0.2:9092")
        };
        let frames: Vec<Vec<u8>> = segs
            .iter()
            .map(|&(up, seq, ack, flags, len, _)| {
                let mut fl = kafka07_io::capture::writer::TcpFlags::NONE;
                for (bit, flag) in [
                    (1, kafka07_io::capture::writer::TcpFlags::FIN),
                    (2, kafka07_io::capture::writer::TcpFlags::SYN),
                    (4, kafka07_io::capture::writer::TcpFlags::RST),
                    (8, kafka07_io::capture::writer::TcpFlags::PSH),
                    (16, kafka07_io::capture::writer::TcpFlags::ACK),
                ] {
                    if flags & bit != 0 {
                        fl = fl | flag;
                    }
                }
                let body = payload(len, seq as u8);
                if up { f.c(seq, ack, fl, &body) } else { f.s(seq, ack, fl, &body) }
            })
            .collect();
        let records: Vec<_> = frames
            .iter()
            .zip(&segs)
            .map(|(fr, s)| PcapRecord::truncated(Timestamp::new(1, 0), fr, s.5 + 20))
            .collect();
        let mut file = Vec::new();
        write_capture(&mut file, &WriteOptions::default(), link, &records).unwrap();
        let cfg = CaptureConfig { ack_gaps, ..CaptureConfig::default() };
        let evs = drain(&file, cfg);
        for id in 0..4 {
            for dir in [Direction::ToServer, Direction::ToClient] {
                stream(&evs, ConnId(id), dir); // asserts contiguity
            }
        }
    }

    /// Random segmentation, order, duplication and loss of one direction:
    /// delivered bytes always match the stream, offsets are contiguous,
    /// and data plus gaps account for everything up to the last byte sent.
    #[test]
    fn reassembly_matches_stream(
        isn in any::<u32>(),
        cuts in proptest::collection::vec(1usize..400, 1..30),
        order in proptest::collection::vec(any::<u16>(), 0..60),
        drop_mask in any::<u64>(),
        window_kib in 64usize..80,
    ) {
        let data = payload(cuts.iter().sum(), 7);
        let f = Flow::eth("10.9.9.9:45000", "10.8.8.8:9092");
        // Segments as (offset, len).
        let mut segs = Vec::new();
        let mut off = 0;
        for c in &cuts {
            segs.push((off, *c));
            off += c;
        }
        // Shuffle deterministically by `order`, duplicating some, dropping
        // some (but never all).
        let mut sequence: Vec<(usize, usize)> = segs
            .iter()
            .enumerate()
            .filter(|(i, _)| drop_mask >> (i % 64) & 1 == 0 || *i == 0)
            .map(|(_, s)| *s)
            .collect();
        for (k, o) in order.iter().enumerate() {
            let n = sequence.len();
            let (a, b) = (k % n, *o as usize % n);
            if o % 5 == 0 {
                let dup = sequence[b];
                sequence.push(dup);
            } else {
                sequence.swap(a, b);
            }
        }
        let mut cap = Cap::default();
        cap.push(f.c(isn, 0, syn(), b""));
        for (o, l) in &sequence {
            let seq = isn.wrapping_add(1).wrapping_add(*o as u32);
            cap.push(f.c(seq, 1, psh(), &data[*o..*o + *l]));
        }
        let cfg = CaptureConfig { window: window_kib * 1024, ..CaptureConfig::default() };
        let evs = events_with(&cap.pcap(linktype::ETHERNET), cfg);
        let up = stream(&evs, ConnId(0), Direction::ToServer);
        let last_end = sequence.iter().map(|(o, l)| o + l).max().unwrap();
        let gap_total: u64 = up.gaps.iter().map(|g| g.1).sum();
        prop_assert_eq!(up.bytes.len() as u64 + gap_total, last_end as u64);
        // Rebuild with gaps as holes and compare the known bytes.
        let mut pos = 0usize;
        let mut gi = 0;
        let mut bi = 0;
        while pos < last_end {
            if gi < up.gaps.len() && up.gaps[gi].0 as usize == pos {
                pos += up.gaps[gi].1 as usize;
                gi += 1;
            } else {
                prop_assert_eq!(up.bytes[bi], data[pos]);
                bi += 1;
                pos += 1;
            }
        }
        // Every segment that was captured lies outside the gaps.
        for (o, l) in &sequence {
            for g in &up.gaps {
                let (gs, ge) = (g.0 as usize, (g.0 + g.1) as usize);
                prop_assert!(o + l <= gs || *o >= ge, "captured bytes reported missing");
            }
        }
    }
}

#[test]
fn random_timestamps_resolutions_do_not_overflow() {
    // pcapng IDB with a 10^-19 resolution and a huge EPB timestamp.
    let f = Flow::eth("10.0.0.1:40000", "10.0.0.2:9092");
    let mut file = Vec::new();
    write_pcapng(
        &mut file,
        linktype::ETHERNET,
        &[(Timestamp::new(u32::MAX, 999_999), f.c(1, 1, psh(), b"x"))],
    )
    .unwrap();
    // IDB option value at SHB(28) + 16 (header) + 4 (option header).
    file[28 + 20] = 19;
    let evs = events(&file);
    assert_eq!(stream(&evs, ConnId(0), Direction::ToServer).bytes, b"x");
}
