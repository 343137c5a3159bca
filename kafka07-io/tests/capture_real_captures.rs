//! Captures written by tcpdump 4.x on Linux loopback (a client sends 20 000
//! bytes `(i * 13) % 256` to 127.0.0.1:9092, the server answers 10 000 bytes
//! `(i * 7) % 251`, both close): `-i lo` (Ethernet), `-i any` (Linux cooked
//! v2), and `-i lo -s 100 --time-stamp-precision=nano`.

#[path = "capture_common/mod.rs"]
mod common;

use common::*;
use kafka07_io::capture::{
    CaptureEvent, CaptureReader, CloseCause, ConnId, Direction, GapCause, ServerReason,
};

fn up() -> Vec<u8> {
    (0..20_000u32).map(|i| (i * 13 % 256) as u8).collect()
}

fn down() -> Vec<u8> {
    (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect()
}

fn read(name: &str) -> Vec<CaptureEvent> {
    let path = format!(
        "{}/../tests/data/captures/transport/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let reader = CaptureReader::open(path).unwrap();
    reader.map(Result::unwrap).collect()
}

fn check_open_and_close(evs: &[CaptureEvent]) {
    assert!(matches!(
        &evs[0],
        CaptureEvent::Open { key, reason: ServerReason::BrokerPort, .. }
            if key.server == addr("127.0.0.1:9092") && key.client.ip() == key.server.ip()
    ));
    assert_eq!(
        evs.last(),
        Some(&CaptureEvent::Close {
            conn: ConnId(0),
            reset: false,
            cause: CloseCause::Fin
        })
    );
    assert_eq!(opened(evs), vec![ConnId(0)]);
}

#[test]
fn tcpdump_loopback_ethernet_and_any_sll2() {
    for name in ["tcpdump_lo_ethernet.pcap", "tcpdump_any_sll2.pcap"] {
        let evs = read(name);
        check_open_and_close(&evs);
        let to_server = stream(&evs, ConnId(0), Direction::ToServer);
        let to_client = stream(&evs, ConnId(0), Direction::ToClient);
        assert_eq!(to_server.bytes, up(), "{name}");
        assert_eq!(to_client.bytes, down(), "{name}");
        assert!(to_server.gaps.is_empty() && to_client.gaps.is_empty());
    }
}

#[test]
fn tcpdump_snaplen_100_nanosecond() {
    let evs = read("tcpdump_lo_snaplen100_nano.pcap");
    check_open_and_close(&evs);
    for (dir, truth) in [(Direction::ToServer, up()), (Direction::ToClient, down())] {
        let s = stream(&evs, ConnId(0), dir);
        // Every byte is either delivered (and correct) or inside a gap.
        let missing: u64 = s.gaps.iter().map(|g| g.1).sum();
        assert_eq!(s.bytes.len() as u64 + missing, truth.len() as u64);
        assert!(s.gaps.iter().all(|g| g.2 == GapCause::Snaplen));
        let mut pos = 0usize;
        let mut delivered = s.bytes.iter();
        for (at, len, _) in &s.gaps {
            while pos < *at as usize {
                assert_eq!(delivered.next(), Some(&truth[pos]));
                pos += 1;
            }
            pos += *len as usize;
        }
        for b in delivered {
            assert_eq!(*b, truth[pos]);
            pos += 1;
        }
        assert_eq!(pos, truth.len());
    }
    // Nanosecond timestamps are converted to microseconds.
    assert!(evs.iter().all(|e| match e {
        CaptureEvent::Data { ts, .. } => ts.micros < 1_000_000,
        _ => true,
    }));
}

// ---------------------------------------------------------------------------------------------
// Snap-length captures of a kafka07 session (tests/data/captures/snaplen/, tcpdump -s 96 on
// Linux loopback) and the files scripts/derive-snaplen-captures.py makes from them by changing
// IPv4 length fields only: the bytes a snap length cut off come from the record's original
// length.
// ---------------------------------------------------------------------------------------------

fn snaplen_file(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../tests/data/captures/snaplen/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(path).unwrap()
}

/// Every event and the reader's counters.
fn read_all(file: &[u8]) -> (Vec<CaptureEvent>, kafka07_io::capture::CaptureStats) {
    let mut reader = CaptureReader::new(file).unwrap();
    let mut evs = Vec::new();
    while let Some(e) = reader.next_event().unwrap() {
        evs.push(e);
    }
    (evs, reader.stats().clone())
}

/// The records of a little-endian microsecond pcap: (timestamp, captured bytes, orig_len).
fn pcap_records(file: &[u8]) -> Vec<(kafka07_io::capture::Timestamp, &[u8], u32)> {
    let u32_at = |at: usize| u32::from_le_bytes(file[at..at + 4].try_into().unwrap());
    assert_eq!(u32_at(0), 0xa1b2_c3d4, "little-endian microsecond pcap");
    let mut out = Vec::new();
    let mut pos = 24;
    while pos + 16 <= file.len() {
        let (secs, micros, caplen, orig) = (
            u32_at(pos),
            u32_at(pos + 4),
            u32_at(pos + 8) as usize,
            u32_at(pos + 12),
        );
        out.push((
            kafka07_io::capture::Timestamp::new(secs, micros),
            &file[pos + 16..pos + 16 + caplen],
            orig,
        ));
        pos += 16 + caplen;
    }
    assert_eq!(pos, file.len());
    out
}

/// The payload bytes of the packets the snap length cut, by the records: original length
/// less 66 header bytes (Ethernet 14, IPv4 20, TCP with timestamps 32) less what was kept.
fn cut_bytes_by_records(file: &[u8]) -> (u64, u64) {
    let cut: Vec<_> = pcap_records(file)
        .into_iter()
        .filter(|(_, data, orig)| (data.len() as u32) < *orig)
        .collect();
    let bytes = cut
        .iter()
        .map(|(_, data, orig)| u64::from(*orig) - data.len() as u64)
        .sum();
    (cut.len() as u64, bytes)
}

#[test]
fn snap_length_gaps_are_the_records_original_lengths() {
    // IPv4 (s96: 66 header bytes, 30 payload bytes kept) and IPv6 (v6-s96: 86 header bytes,
    // 10 kept): every cut packet is cut inside its TCP payload, so the gap bytes are exactly
    // the records' orig_len - caplen.
    for name in ["s96.pcap", "v6-s96.pcap"] {
        let file = snaplen_file(name);
        let (evs, stats) = read_all(&file);
        let (cut_frames, cut_bytes) = cut_bytes_by_records(&file);
        assert!(cut_frames > 10, "{name}: {cut_frames}");
        let snap_gaps: u64 = evs
            .iter()
            .filter_map(|e| match e {
                CaptureEvent::Gap {
                    missing,
                    cause: GapCause::Snaplen,
                    ..
                } => Some(*missing),
                _ => None,
            })
            .sum();
        assert_eq!(snap_gaps, cut_bytes, "{name}");
        assert_eq!(stats.gap_bytes, cut_bytes, "{name}");
        assert_eq!((stats.ip_length_zero, stats.length_mismatches), (0, 0));
        // The SYNs (their TCP options kept whole at 96) and every other frame are used.
        assert_eq!(stats.skipped, 0, "{name}");
        assert_eq!(stats.connections, 10, "{name}");
    }
}

#[test]
fn frames_cut_inside_their_tcp_header_are_skipped_as_cut_not_malformed() {
    // v6-s68.pcap: IPv6 with TCP timestamps, -s 68: 14 of the 32 TCP header bytes kept, not
    // even the sequence number. Every frame is skipped, as cut by the snap length.
    let file = snaplen_file("v6-s68.pcap");
    let (evs, stats) = read_all(&file);
    let frames = pcap_records(&file).len() as u64;
    assert_eq!(frames, 134);
    assert_eq!(stats.skipped, frames);
    assert_eq!(stats.skipped_by_reason.get("cut-by-snaplen"), Some(&frames));
    assert!(evs.iter().all(|e| matches!(
        e,
        CaptureEvent::Skipped {
            reason: kafka07_io::capture::SkipReason::CutBySnaplen { layer: "tcp" },
            ..
        }
    )));
}

#[test]
fn tso_capture_with_ip_lengths_zero_is_read_by_the_records_lengths() {
    // tso-s96.pcap: s96.pcap with every IPv4 total length 0 (what a capture taken before
    // TSO/GSO splitting holds). Only the records say how long the packets were; the
    // reader must deliver exactly what it delivers for the original.
    let (orig, orig_stats) = read_all(&snaplen_file("s96.pcap"));
    let tso_file = snaplen_file("tso-s96.pcap");
    let (tso, tso_stats) = read_all(&tso_file);
    assert_eq!(tso, orig);
    assert_eq!(tso_stats.gap_bytes, orig_stats.gap_bytes);
    // Every cut packet with payload had its IP length zeroed, and is counted.
    let (cut_frames, _) = cut_bytes_by_records(&tso_file);
    assert_eq!(tso_stats.ip_length_zero, cut_frames);
    assert_eq!(tso_stats.length_mismatches, 0);
}

#[test]
fn ip_and_record_lengths_that_disagree_are_reported_and_the_record_wins() {
    // mismatch-s96.pcap: one cut packet's IPv4 total length raised by 1000.
    let (orig, _) = read_all(&snaplen_file("s96.pcap"));
    let file = snaplen_file("mismatch-s96.pcap");
    let (evs, stats) = read_all(&file);
    let reports: Vec<_> = evs
        .iter()
        .filter_map(|e| match e {
            CaptureEvent::LengthMismatch {
                frame_index,
                mismatch,
            } => Some((*frame_index, *mismatch)),
            _ => None,
        })
        .collect();
    // The packet changed: the first one cut with more than 200 bytes on the wire.
    let records = pcap_records(&file);
    let (index, (_, data, orig_len)) = records
        .iter()
        .enumerate()
        .find(|(_, (_, d, o))| *o > 200 && (d.len() as u32) < *o)
        .unwrap();
    let record_payload = u64::from(*orig_len) - 66;
    assert_eq!(data.len(), 96);
    assert_eq!(
        reports,
        [(
            index as u64,
            kafka07_io::capture::LengthMismatch::IpAndRecord {
                ip: record_payload + 1000,
                record: record_payload,
            }
        )]
    );
    assert_eq!(stats.length_mismatches, 1);
    // Apart from the report, the stream is the original's: the record's length was used.
    let without: Vec<_> = evs
        .into_iter()
        .filter(|e| !matches!(e, CaptureEvent::LengthMismatch { .. }))
        .collect();
    assert_eq!(without, orig);
}

#[test]
fn pcapng_original_packet_lengths_are_used_like_pcap_orig_len() {
    // The records of the real s96.pcap written again as pcapng enhanced packet blocks
    // (original packet length = the pcap orig_len), and of tso-s96.pcap: read the same.
    use kafka07_io::capture::writer::{write_capture, PcapRecord, WriteOptions};
    use kafka07_io::capture::{linktype, CaptureFormat};
    for name in ["s96.pcap", "tso-s96.pcap"] {
        let file = snaplen_file(name);
        let records: Vec<PcapRecord<'_>> = pcap_records(&file)
            .into_iter()
            .map(|(ts, data, orig_len)| PcapRecord { ts, data, orig_len })
            .collect();
        let mut ng = Vec::new();
        let opts = WriteOptions {
            format: CaptureFormat::Pcapng,
            snaplen: 96,
            ..WriteOptions::default()
        };
        write_capture(&mut ng, &opts, linktype::ETHERNET, &records).unwrap();
        let (from_pcap, pcap_stats) = read_all(&file);
        let (from_ng, ng_stats) = read_all(&ng);
        assert_eq!(from_ng, from_pcap, "{name}");
        assert_eq!(ng_stats.gap_bytes, pcap_stats.gap_bytes, "{name}");
        assert_eq!(ng_stats.ip_length_zero, pcap_stats.ip_length_zero, "{name}");
    }
}

#[test]
fn syn_whose_tcp_options_were_cut_is_still_a_segment() {
    // -s 68 with TCP timestamps: a SYN's 40-byte TCP header is cut after 34 bytes. Its
    // fixed 20 bytes (ports, sequence number, flags) are there: the SYN is used, not
    // skipped as malformed.
    let (evs, stats) = read_all(&snaplen_file("s68.pcap"));
    assert_eq!(stats.skipped, 0, "{:?}", stats.skipped_by_reason);
    assert_eq!(stats.connections, 10);
    // Each connection's stream offsets start after its SYN: the first request at 0.
    let first = evs.iter().find_map(|e| match e {
        CaptureEvent::Data {
            conn: ConnId(0),
            dir: Direction::ToServer,
            offset,
            bytes,
            ..
        } => Some((*offset, bytes.clone())),
        _ => None,
    });
    assert_eq!(first, Some((0, vec![0, 0])));
}
