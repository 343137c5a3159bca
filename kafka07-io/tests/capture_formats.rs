//! Container formats, link types, address families and damaged input.

#[path = "capture_common/mod.rs"]
mod common;

use std::io::{self, Read};

use common::*;
use kafka07_io::capture::writer::{write_capture, write_pcapng, PcapRecord, WriteOptions};
use kafka07_io::capture::{
    linktype, CaptureConfig, CaptureError, CaptureEvent, CaptureFormat, CaptureReader, ConnId,
    ConnKey, Direction, ServerReason, SkipReason, Timestamp,
};

/// A short conversation on the given link type: returns the frames.
fn conversation(link: u32, client: &str, server: &str) -> Cap {
    let f = Flow::new(link, client, server);
    let mut cap = Cap::default();
    cap.push(f.c(41, 0, syn(), b""));
    cap.push(f.s(70, 42, synack(), b""));
    cap.push(f.c(42, 71, ack(), b""));
    cap.push(f.c(42, 71, psh(), b"produce"));
    cap.push(f.s(71, 49, psh(), b"ok"));
    cap
}

fn check_conversation(evs: &[CaptureEvent], client: &str, server: &str) {
    assert_eq!(
        evs[0],
        CaptureEvent::Open {
            conn: ConnId(0),
            key: ConnKey {
                client: addr(client),
                server: addr(server)
            },
            reason: ServerReason::BrokerPort,
            ts: Timestamp::new(1_700_000_000, 0),
        }
    );
    assert_eq!(
        stream(evs, ConnId(0), Direction::ToServer).bytes,
        b"produce"
    );
    assert_eq!(stream(evs, ConnId(0), Direction::ToClient).bytes, b"ok");
    assert!(
        !evs.iter()
            .any(|e| matches!(e, CaptureEvent::Skipped { .. })),
        "{evs:#?}"
    );
}

#[test]
fn ipv6_over_ethernet() {
    let (c, s) = ("[2001:db8::1]:40000", "[2001:db8::2]:9092");
    let cap = conversation(linktype::ETHERNET, c, s);
    check_conversation(&events(&cap.pcap(linktype::ETHERNET)), c, s);
}

#[test]
fn every_supported_link_type_v4_and_v6() {
    for link in [
        linktype::ETHERNET,
        linktype::LINUX_SLL,
        linktype::LINUX_SLL2,
        linktype::NULL,
        linktype::LOOP,
        linktype::RAW,
    ] {
        for (c, s) in [
            ("127.0.0.1:50000", "127.0.0.1:9092"),
            ("[::1]:50000", "[::1]:9092"),
        ] {
            let cap = conversation(link, c, s);
            let evs = events(&cap.pcap(link));
            check_conversation(&evs, c, s);
        }
    }
    let cap = conversation(linktype::IPV4, "127.0.0.1:1", "127.0.0.1:9092");
    check_conversation(
        &events(&cap.pcap(linktype::IPV4)),
        "127.0.0.1:1",
        "127.0.0.1:9092",
    );
}

#[test]
fn linux_cooked_header_is_parsed_by_hand() {
    // ARPHRD_LOOPBACK (772) is what `tcpdump -i any` writes for lo; check
    // the exact header layout the reader expects.
    let f = Flow::new(linktype::LINUX_SLL, "127.0.0.1:50000", "127.0.0.1:9092");
    let frame = f.c(1, 0, psh(), b"x");
    assert_eq!(&frame[..4], &[0, 4, 3, 4]);
    assert_eq!(&frame[14..16], &[0x08, 0x00]);
    assert_eq!(frame[16] >> 4, 4, "IPv4 header follows");
    // BSD loopback written by a big-endian host is recognised too.
    let mut be =
        Flow::new(linktype::NULL, "127.0.0.1:50000", "127.0.0.1:9092").c(1, 0, psh(), b"y");
    be[..4].copy_from_slice(&2u32.to_be_bytes());
    let mut cap = Cap::default();
    cap.push(be);
    let evs = events(&cap.pcap(linktype::NULL));
    assert_eq!(stream(&evs, ConnId(0), Direction::ToServer).bytes, b"y");
}

#[test]
fn pcapng_with_interface_block() {
    let (c, s) = ("10.1.1.1:33000", "10.1.1.2:9092");
    let cap = conversation(linktype::ETHERNET, c, s);
    let mut file = Vec::new();
    write_pcapng(&mut file, linktype::ETHERNET, &cap.frames).unwrap();
    let reader = CaptureReader::new(&file[..]).unwrap();
    assert_eq!(reader.format(), CaptureFormat::Pcapng);
    let evs: Vec<_> = reader.map(Result::unwrap).collect();
    check_conversation(&evs, c, s);
    // Timestamps survive the microsecond resolution round trip.
    let data_ts: Vec<_> = evs
        .iter()
        .filter_map(|e| match e {
            CaptureEvent::Data { ts, .. } => Some(*ts),
            _ => None,
        })
        .collect();
    assert_eq!(data_ts, vec![cap.frames[3].0, cap.frames[4].0]);
}

#[test]
fn both_byte_orders_and_nanosecond_timestamps() {
    let (c, s) = ("10.1.1.1:33000", "10.1.1.2:9092");
    let cap = conversation(linktype::LINUX_SLL2, c, s);
    let records: Vec<_> = cap
        .frames
        .iter()
        .map(|(ts, f)| PcapRecord::new(Timestamp::new(ts.secs, ts.micros + 7), f))
        .collect();
    for format in [CaptureFormat::Pcap, CaptureFormat::Pcapng] {
        for big_endian in [false, true] {
            for nanosecond in [false, true] {
                let opts = WriteOptions {
                    format,
                    big_endian,
                    nanosecond,
                    ..WriteOptions::default()
                };
                let mut file = Vec::new();
                write_capture(&mut file, &opts, linktype::LINUX_SLL2, &records).unwrap();
                let reader = CaptureReader::new(&file[..]).unwrap();
                assert_eq!(reader.format(), format);
                let evs: Vec<_> = reader.map(Result::unwrap).collect();
                assert_eq!(
                    stream(&evs, ConnId(0), Direction::ToServer).bytes,
                    b"produce",
                    "{opts:?}"
                );
                let first_data_ts = evs.iter().find_map(|e| match e {
                    CaptureEvent::Data { ts, .. } => Some(*ts),
                    _ => None,
                });
                assert_eq!(first_data_ts, Some(records[3].ts), "{opts:?}");
            }
        }
    }
}

#[test]
fn neither_pcap_nor_pcapng_is_rejected_clearly() {
    for input in [
        &b"<!DOCTYPE html><html>"[..],
        b"\x00\x00\x00\x00rest",
        b"PK\x03\x04zip",
        b"ab",
        b"",
    ] {
        match CaptureReader::new(input) {
            Err(e @ CaptureError::NotACapture { .. }) => {
                let msg = e.to_string();
                assert!(msg.starts_with("not a capture file"), "{msg}");
                assert!(msg.contains("pcapng"), "{msg}");
            }
            Err(other) => panic!("wrong error {other:?}"),
            Ok(_) => panic!("accepted {input:?}"),
        }
    }
    let e = CaptureReader::new(&b"<!DOCTYPE"[..]).err().unwrap();
    assert!(e.to_string().contains("3c 21 44 4f"), "{e}");
    let e = CaptureReader::new(&b""[..]).err().unwrap();
    assert!(e.to_string().contains("empty"), "{e}");
}

#[test]
fn truncated_headers_are_errors() {
    let cap = conversation(linktype::ETHERNET, "10.0.0.1:1", "10.0.0.2:9092");
    let pcap = cap.pcap(linktype::ETHERNET);
    assert!(matches!(
        CaptureReader::new(&pcap[..10]),
        Err(CaptureError::BadHeader { format: "pcap", .. })
    ));
    let mut ng = Vec::new();
    write_pcapng(&mut ng, linktype::ETHERNET, &cap.frames).unwrap();
    assert!(matches!(
        CaptureReader::new(&ng[..20]),
        Err(CaptureError::BadHeader {
            format: "pcapng",
            ..
        })
    ));
    let mut bad_bom = ng.clone();
    bad_bom[8] ^= 0xff;
    assert!(matches!(
        CaptureReader::new(&bad_bom[..]),
        Err(CaptureError::BadHeader {
            format: "pcapng",
            ..
        })
    ));
}

#[test]
fn non_tcp_and_non_ip_frames_are_skipped_and_counted() {
    let f = Flow::eth("10.0.0.1:40000", "10.0.0.2:9092");
    let udp = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .udp(53, 53);
    let mut udp_frame = Vec::new();
    udp.write(&mut udp_frame, b"dns").unwrap();
    let mut arp = vec![0xff; 6];
    arp.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x06]);
    arp.extend_from_slice(&[0u8; 28]);
    let mut bad_ip = f.c(1, 1, psh(), b"zz");
    bad_ip[14] = 0x75; // IP version 7

    let mut cap = Cap::default();
    cap.push(udp_frame);
    cap.push(f.c(1, 1, psh(), b"abc"));
    cap.push(arp);
    cap.push(bad_ip);
    cap.push(vec![0x01, 0x02]); // runt: shorter than an Ethernet header
    cap.push(f.c(4, 1, psh(), b"def"));
    let file = cap.pcap(linktype::ETHERNET);
    let mut reader = CaptureReader::new(&file[..]).unwrap();
    let evs: Vec<_> = reader.by_ref().map(Result::unwrap).collect();
    let skipped: Vec<_> = evs
        .iter()
        .filter_map(|e| match e {
            CaptureEvent::Skipped {
                frame_index,
                reason,
            } => Some((*frame_index, reason.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(skipped.len(), 4, "{skipped:?}");
    assert_eq!(skipped[0], (0, SkipReason::NotTcp(17)));
    assert_eq!(skipped[1], (2, SkipReason::NotIp(0x0806)));
    assert!(matches!(
        &skipped[2],
        (3, SkipReason::Malformed { layer: "ip", .. })
    ));
    assert!(matches!(
        &skipped[3],
        (4, SkipReason::Malformed { layer: "link", .. })
    ));
    assert_eq!(
        stream(&evs, ConnId(0), Direction::ToServer).bytes,
        b"abcdef"
    );
    let stats = reader.stats();
    assert_eq!(stats.frames, 6);
    assert_eq!(stats.skipped, 4);
    assert_eq!(stats.skipped_by_reason.get("malformed"), Some(&2));
    assert_eq!(stats.skipped_by_reason.get("not-tcp"), Some(&1));
    assert_eq!(stats.skipped_by_reason.get("not-ip"), Some(&1));
}

#[test]
fn ip_fragments_and_unsupported_link_types_are_skipped() {
    let f = Flow::new(linktype::RAW, "10.0.0.1:40000", "10.0.0.2:9092");
    let mut frag = f.c(1, 1, psh(), b"fragment");
    frag[6] |= 0x20; // more fragments
    let mut cap = Cap::default();
    cap.push(frag);
    let evs = events(&cap.pcap(linktype::RAW));
    assert_eq!(
        evs,
        vec![CaptureEvent::Skipped {
            frame_index: 0,
            reason: SkipReason::IpFragment
        }]
    );
    let evs = events(&cap.pcap(147));
    assert_eq!(
        evs,
        vec![CaptureEvent::Skipped {
            frame_index: 0,
            reason: SkipReason::UnsupportedLinkType(147)
        }]
    );
}

/// Returns at most `n` bytes per read.
struct Trickle<'a> {
    data: &'a [u8],
    n: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let k = self.n.min(buf.len()).min(self.data.len());
        buf[..k].copy_from_slice(&self.data[..k]);
        self.data = &self.data[k..];
        Ok(k)
    }
}

#[test]
fn short_reads_give_the_same_events() {
    let f = Flow::eth("10.0.0.1:40000", "10.0.0.2:9092");
    let mut cap = conversation(linktype::ETHERNET, "10.0.0.1:40000", "10.0.0.2:9092");
    cap.push(f.c(49, 73, psh(), &payload(3000, 4)));
    for pcapng in [false, true] {
        let file = if pcapng {
            let mut v = Vec::new();
            write_pcapng(&mut v, linktype::ETHERNET, &cap.frames).unwrap();
            v
        } else {
            cap.pcap(linktype::ETHERNET)
        };
        let whole = events(&file);
        for n in [1, 3, 7, 1000] {
            let r = CaptureReader::new(Trickle { data: &file, n }).unwrap();
            let evs: Vec<_> = r.map(Result::unwrap).collect();
            assert_eq!(evs, whole, "chunk size {n}, pcapng {pcapng}");
        }
    }
}

struct FailAfter<'a> {
    data: &'a [u8],
}

impl Read for FailAfter<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.data.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "disk on fire",
            ));
        }
        let k = buf.len().min(self.data.len());
        buf[..k].copy_from_slice(&self.data[..k]);
        self.data = &self.data[k..];
        Ok(k)
    }
}

#[test]
fn io_errors_are_reported_then_connections_flushed() {
    let cap = conversation(linktype::ETHERNET, "10.0.0.1:40000", "10.0.0.2:9092");
    let file = cap.pcap(linktype::ETHERNET);
    let mut reader = CaptureReader::new(FailAfter { data: &file }).unwrap();
    let mut evs = Vec::new();
    let err = loop {
        match reader.next_event() {
            Ok(Some(e)) => evs.push(e),
            Ok(None) => panic!("no error"),
            Err(e) => break e,
        }
    };
    match err {
        CaptureError::Io(e) => {
            assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
            assert!(e.to_string().contains("disk on fire"));
        }
        other => panic!("{other:?}"),
    }
    // After the error, the open connection is flushed and closed.
    let rest: Vec<_> = reader.map(Result::unwrap).collect();
    assert!(matches!(
        rest.last(),
        Some(CaptureEvent::Close {
            cause: kafka07_io::capture::CloseCause::EndOfCapture,
            ..
        })
    ));
}

#[test]
fn oversized_record_is_an_error_without_huge_allocation() {
    let cap = conversation(linktype::ETHERNET, "10.0.0.1:40000", "10.0.0.2:9092");
    let mut file = cap.pcap(linktype::ETHERNET);
    // Set the first record's caplen to 3 GB.
    file[24 + 8..24 + 12].copy_from_slice(&3_000_000_000u32.to_le_bytes());
    let mut reader = CaptureReader::new(&file[..]).unwrap();
    match reader.next_event() {
        Err(CaptureError::RecordTooLarge {
            offset,
            frame_index,
            declared,
            limit,
        }) => {
            assert_eq!(offset, 24);
            assert_eq!(frame_index, 0);
            assert_eq!(declared, 3_000_000_016);
            assert_eq!(limit, 1 << 20);
        }
        other => panic!("{other:?}"),
    }
    assert!(reader.next_event().unwrap().is_none());
}

#[test]
fn large_record_within_limit_grows_the_buffer() {
    // A 200 KB frame (above the initial 64 KiB buffer, below the limit).
    let f = Flow::new(linktype::RAW, "10.0.0.1:40000", "10.0.0.2:9092");
    let mut big = f.c(1, 1, psh(), &payload(60_000, 1));
    big.resize(200_000, 0xee); // trailing bytes beyond the IP total length
    let mut cap = Cap::default();
    cap.push(big);
    let evs = events(&cap.pcap(linktype::RAW));
    assert_eq!(
        stream(&evs, ConnId(0), Direction::ToServer).bytes,
        payload(60_000, 1)
    );
    let cfg = CaptureConfig {
        max_record_len: 100_000,
        ..CaptureConfig::default()
    };
    let file = cap.pcap(linktype::RAW);
    let mut reader = CaptureReader::with_config(&file[..], cfg).unwrap();
    assert!(matches!(
        reader.next_event(),
        Err(CaptureError::RecordTooLarge { .. })
    ));
}

#[test]
fn file_ending_inside_a_record_keeps_what_came_before() {
    let f = Flow::eth("10.0.0.1:40000", "10.0.0.2:9092");
    let mut cap = Cap::default();
    cap.push(f.c(1, 1, psh(), b"complete"));
    cap.push(f.c(9, 1, psh(), b"cut off"));
    let file = cap.pcap(linktype::ETHERNET);
    let evs = events(&file[..file.len() - 3]);
    assert_eq!(
        stream(&evs, ConnId(0), Direction::ToServer).bytes,
        b"complete"
    );
    assert!(evs.contains(&CaptureEvent::Skipped {
        frame_index: 1,
        reason: SkipReason::TruncatedRecord
    }));
    assert!(matches!(evs.last(), Some(CaptureEvent::Close { .. })));
}

/// A pcapng of three client packets ("one", "two", "three") whose second enhanced packet
/// block claims a captured length (5000, at byte 20 of the block) larger than the block.
fn pcapng_with_corrupt_second_packet() -> Vec<u8> {
    let f = Flow::eth("10.0.0.1:40000", "10.0.0.2:9092");
    let frames = [
        (Timestamp::new(1, 0), f.c(1, 1, psh(), b"one")),
        (Timestamp::new(2, 0), f.c(4, 1, psh(), b"two")),
        (Timestamp::new(3, 0), f.c(7, 1, psh(), b"three")),
    ];
    let mut file = Vec::new();
    write_pcapng(&mut file, linktype::ETHERNET, &frames).unwrap();
    // Blocks: SHB (28) + IDB (32), then EPBs.
    let first_epb = 28 + 32;
    let first_len = u32::from_le_bytes(file[first_epb + 4..first_epb + 8].try_into().unwrap());
    let second = first_epb + first_len as usize;
    file[second + 20..second + 24].copy_from_slice(&5000u32.to_le_bytes());
    file
}

#[test]
fn corrupt_pcapng_block_is_skipped() {
    let file = pcapng_with_corrupt_second_packet();
    let evs = events(&file);
    assert!(
        evs.iter().any(|e| matches!(
            e,
            CaptureEvent::Skipped {
                frame_index: 1,
                reason: SkipReason::CorruptBlock(_)
            }
        )),
        "{evs:#?}"
    );
    let up = stream(&evs, ConnId(0), Direction::ToServer);
    assert_eq!(up.bytes, b"onethree");
    assert_eq!(up.gaps.len(), 1);
    // A packet on an undescribed interface is skipped as well.
    let f = Flow::eth("10.0.0.1:40000", "10.0.0.2:9092");
    let one = [(Timestamp::new(1, 0), f.c(1, 1, psh(), b"one"))];
    let first_epb = 28 + 32; // after the SHB (28) and the IDB (32)
    let mut file2 = Vec::new();
    write_pcapng(&mut file2, linktype::ETHERNET, &one).unwrap();
    file2[first_epb + 8..first_epb + 12].copy_from_slice(&3u32.to_le_bytes());
    assert_eq!(
        events(&file2),
        vec![CaptureEvent::Skipped {
            frame_index: 0,
            reason: SkipReason::UnknownInterface(3)
        }]
    );
}

#[test]
fn vlan_tags_and_fcs_link_type_bits() {
    let f = Flow::eth("10.0.0.1:40000", "10.0.0.2:9092");
    let mut tagged = f.c(1, 1, psh(), b"vlan");
    tagged.splice(12..12, [0x81, 0x00, 0x00, 0x05]); // 802.1Q, VLAN 5
    tagged.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]); // FCS
    let mut cap = Cap::default();
    cap.push(tagged);
    // Link type 1 with "FCS present, 4 bytes" in the upper bits.
    let link = linktype::ETHERNET | 1 << 28 | 2 << 29;
    let evs = events(&cap.pcap(link));
    assert_eq!(stream(&evs, ConnId(0), Direction::ToServer).bytes, b"vlan");
}

#[test]
fn reset_of_unknown_connection_is_ignored() {
    let f = Flow::eth("10.0.0.1:40000", "10.0.0.2:9092");
    let mut cap = Cap::default();
    cap.push(f.s(77, 0, rst(), b""));
    let file = cap.pcap(linktype::ETHERNET);
    let mut reader = CaptureReader::new(&file[..]).unwrap();
    assert!(reader.next_event().unwrap().is_none());
    assert_eq!(reader.stats().ignored_segments, 1);
    assert_eq!(reader.stats().connections, 0);
}

#[test]
fn pcapng_section_header_larger_than_initial_buffer() {
    let f = Flow::eth("10.0.0.1:40000", "10.0.0.2:9092");
    let mut file = Vec::new();
    write_pcapng(
        &mut file,
        linktype::ETHERNET,
        &[(Timestamp::new(1, 0), f.c(1, 1, psh(), b"big shb"))],
    )
    .unwrap();
    // Grow the SHB (28 bytes, no options) with a 100 000-byte comment.
    let comment_len = 100_000usize;
    // Option lengths are 16-bit: write several opt_comment options.
    let mut option = Vec::new();
    let mut remaining = comment_len;
    while remaining > 0 {
        let n = remaining.min(60_000);
        option.extend_from_slice(&1u16.to_le_bytes());
        option.extend_from_slice(&(n as u16).to_le_bytes());
        option.extend(std::iter::repeat_n(b'c', n));
        option.extend(std::iter::repeat_n(0, (4 - n % 4) % 4));
        remaining -= n;
    }
    option.extend_from_slice(&[0, 0, 0, 0]); // opt_endofopt
    let new_len = (28 + option.len()) as u32;
    let mut shb = file[..24].to_vec();
    shb[4..8].copy_from_slice(&new_len.to_le_bytes());
    shb.extend_from_slice(&option);
    shb.extend_from_slice(&new_len.to_le_bytes());
    let mut big = shb;
    big.extend_from_slice(&file[28..]);
    let evs = events(&big);
    assert_eq!(
        stream(&evs, ConnId(0), Direction::ToServer).bytes,
        b"big shb"
    );
}

// ---------------------------------------------------------------------------------------------
// Damaged pcapng framing: the outcome must not depend on how the bytes arrive
// ---------------------------------------------------------------------------------------------

/// One complete read of a capture: the events with the error in its place (as its message),
/// the error itself and the final counters.
struct Run {
    items: Vec<Result<CaptureEvent, String>>,
    error: Option<CaptureError>,
    stats: kafka07_io::capture::CaptureStats,
}

impl Run {
    /// Asserts the read ended with `CaptureError::Corrupt` with these values.
    fn assert_corrupt(&self, offset: usize, frame_index: u64, detail: &str) {
        match &self.error {
            Some(CaptureError::Corrupt {
                offset: o,
                frame_index: f,
                detail: d,
            }) => assert_eq!((*o, *f, d.as_str()), (offset as u64, frame_index, detail)),
            other => panic!("expected Corrupt at {offset} ({detail}), got {other:?}"),
        }
    }
}

fn read_run<R: Read>(input: R) -> Run {
    let mut reader = CaptureReader::new(input).expect("open capture");
    let mut items = Vec::new();
    let mut error = None;
    loop {
        match reader.next_event() {
            Ok(Some(ev)) => items.push(Ok(ev)),
            Ok(None) => break,
            Err(e) => {
                assert!(error.is_none(), "a second error: {e}");
                items.push(Err(e.to_string()));
                error = Some(e);
            }
        }
    }
    Run {
        items,
        error,
        stats: reader.stats().clone(),
    }
}

/// Reads `file` from a slice in one go, then through reads of at most 1, 2, 3 and 7 bytes;
/// every read must give the same events, error and counters. Returns the whole read.
fn read_every_way(file: &[u8]) -> Run {
    let whole = read_run(file);
    for n in [1, 2, 3, 7] {
        let run = read_run(Trickle { data: file, n });
        assert_eq!(run.items, whole.items, "reads of at most {n} bytes");
        assert_eq!(run.stats, whole.stats, "reads of at most {n} bytes");
    }
    whole
}

/// A pcapng file (one section: SHB of 28 bytes, IDB of 32, one EPB) of one frame carrying
/// `payload` at sequence number `seq`, timestamped `seq` seconds.
fn one_frame_pcapng(seq: u32, payload: &[u8], big_endian: bool) -> Vec<u8> {
    let f = Flow::eth("10.0.0.1:40000", "10.0.0.2:9092");
    let frame = f.c(seq, 1, psh(), payload);
    let opts = WriteOptions {
        format: CaptureFormat::Pcapng,
        big_endian,
        ..WriteOptions::default()
    };
    let mut out = Vec::new();
    write_capture(
        &mut out,
        &opts,
        linktype::ETHERNET,
        &[PcapRecord::new(Timestamp::new(seq, 0), &frame)],
    )
    .unwrap();
    out
}

/// `section` (a pcapng file as `one_frame_pcapng` writes it) with `n` bytes of
/// `opt_comment` options in its section header.
fn with_shb_comment(section: &[u8], big_endian: bool, n: usize) -> Vec<u8> {
    let u16b = |v: u16| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let u32b = |v: u32| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    // Option lengths are 16-bit: several opt_comment options.
    let mut options = Vec::new();
    let mut remaining = n;
    while remaining > 0 {
        let k = remaining.min(60_000);
        options.extend_from_slice(&u16b(1));
        options.extend_from_slice(&u16b(k as u16));
        options.extend(std::iter::repeat_n(b'c', k));
        options.extend(std::iter::repeat_n(0, (4 - k % 4) % 4));
        remaining -= k;
    }
    options.extend_from_slice(&[0, 0, 0, 0]); // opt_endofopt
    let len = (28 + options.len()) as u32;
    let mut out = section[..24].to_vec();
    out[4..8].copy_from_slice(&u32b(len));
    out.extend_from_slice(&options);
    out.extend_from_slice(&u32b(len));
    out.extend_from_slice(&section[28..]);
    out
}

#[test]
fn pcapng_sections_of_either_byte_order_are_read_at_every_read_size() {
    // A little-endian section, then a big-endian one (as `cat a.pcapng b.pcapng` makes):
    // the second section's interface 0 is its own IDB.
    let first = one_frame_pcapng(1, b"one", false);
    let second = one_frame_pcapng(4, b"two", true);
    // The second section's header also larger than the initial 64 KiB buffer: its length
    // must be read in its own byte order, not in the first section's.
    let big_second = with_shb_comment(&second, true, 100_000);
    for second in [second, big_second] {
        let mut file = first.clone();
        file.extend_from_slice(&second);
        let run = read_every_way(&file);
        assert!(run.error.is_none(), "{:?}", run.error);
        let evs: Vec<CaptureEvent> = run.items.into_iter().map(Result::unwrap).collect();
        assert_eq!(
            stream(&evs, ConnId(0), Direction::ToServer).bytes,
            b"onetwo"
        );
        assert_eq!(run.stats.frames, 2);
        assert_eq!(run.stats.skipped, 0);
    }
}

/// The fuzz finding `fuzz/regressions/capture/pcapng-second-shb-bad-byte-order-magic.bin`:
/// a second section header whose byte-order magic is wrong (framing otherwise intact). The
/// section's byte order, and with it every length that follows, is unknown: the reader stops
/// with `Corrupt` at the header's offset, whatever the read size (it used to skip the block
/// and go on with the previous section's interfaces when the whole block happened to be
/// buffered, and fail when only its first bytes were).
#[test]
fn pcapng_second_section_with_bad_byte_order_magic_is_fatal_at_every_read_size() {
    let first = one_frame_pcapng(1, b"one", false);
    let mut second = one_frame_pcapng(4, b"two", false);
    second[8..12].copy_from_slice(&[0xa9, 0x3c, 0x2b, 0x1a]);
    let mut file = first.clone();
    file.extend_from_slice(&second);
    let run = read_every_way(&file);
    run.assert_corrupt(
        first.len(),
        1,
        "section header block: byte-order magic a9 3c 2b 1a is not 1a2b3c4d",
    );
    let evs: Vec<&CaptureEvent> = run.items.iter().filter_map(|i| i.as_ref().ok()).collect();
    // The first section's frame, then the error, then only the flush.
    assert!(matches!(
        evs[0],
        CaptureEvent::Open {
            conn: ConnId(0),
            ..
        }
    ));
    assert!(matches!(
        &run.items[1],
        Ok(CaptureEvent::Data { offset: 0, bytes, .. }) if bytes == b"one"
    ));
    assert!(run.items[2].is_err());
    assert_eq!(
        run.items[3..],
        [Ok(CaptureEvent::Close {
            conn: ConnId(0),
            reset: false,
            cause: kafka07_io::capture::CloseCause::EndOfCapture
        })]
    );
    assert_eq!(run.stats.frames, 1);
    assert_eq!(run.stats.skipped, 0);
    assert_eq!(run.stats.bytes_delivered, 3);

    // A second section header with a good magic but a length below 28 (with a trailing
    // length that matches it, so that its framing looks intact): fatal as well, never
    // skipped (the previous reader skipped it and read the second section's packets with the
    // first section's interfaces).
    let mut short = second[..24].to_vec();
    short[4..8].copy_from_slice(&24u32.to_le_bytes());
    short[20..24].copy_from_slice(&24u32.to_le_bytes());
    short[8..12].copy_from_slice(&0x1a2b_3c4du32.to_le_bytes());
    short.extend_from_slice(&second[28..]);
    let mut file = first.clone();
    file.extend_from_slice(&short);
    let run = read_every_way(&file);
    run.assert_corrupt(first.len(), 1, "section header block length 24 is invalid");
    assert_eq!(run.stats.frames, 1);
    assert_eq!(run.stats.skipped, 0);

    // The same bytes as the fuzz finding, without its two parameter bytes.
    let finding =
        include_bytes!("../../fuzz/regressions/capture/pcapng-second-shb-bad-byte-order-magic.bin");
    let run = read_every_way(&finding[2..]);
    assert_eq!(
        run.items,
        [Err(
            "corrupt capture at byte 60 (frame 0): section header block: byte-order \
              magic a9 3c 2b 1a is not 1a2b3c4d"
                .to_string()
        )]
    );
    assert_eq!(run.stats, Default::default());
}

/// A block whose length field is below the 12 bytes of any block's framing cannot be
/// skipped (the next block cannot be found) nor parsed: `Corrupt` at its offset, at every
/// read size. Type 0x80000001 (process information) is the one whose parser in
/// `pcap-parser` 0.17 subtracts 12 from such a length.
#[test]
fn pcapng_block_length_below_twelve_is_fatal_at_every_read_size() {
    for (block_type, len) in [(6u32, 0u32), (6, 8), (0x8000_0001, 4), (0x8000_0001, 8)] {
        let mut file = one_frame_pcapng(1, b"one", false);
        let at = file.len();
        file.extend_from_slice(&block_type.to_le_bytes());
        file.extend_from_slice(&len.to_le_bytes());
        file.extend_from_slice(&len.to_le_bytes());
        file.extend_from_slice(&[0; 20]);
        let run = read_every_way(&file);
        run.assert_corrupt(
            at,
            1,
            &format!("block type {block_type:#x}: block length {len} is below the 12-byte minimum"),
        );
        assert_eq!(run.stats.frames, 1);
        assert_eq!(run.stats.bytes_delivered, 3);
    }
}

/// A packet block that fails to parse but whose framing is intact is skipped, at every read
/// size, and reading goes on to a clean end (the reader used to add a `TruncatedRecord`
/// for a record after the last one, counted as a frame: the skip had found the input
/// exhausted, and `pcap-parser` then reports its end as `UnexpectedEof`).
#[test]
fn pcapng_corrupt_packet_block_is_skipped_at_every_read_size() {
    let file = pcapng_with_corrupt_second_packet();
    let run = read_every_way(&file);
    assert!(run.error.is_none(), "{:?}", run.error);
    let evs: Vec<CaptureEvent> = run.items.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        evs.iter()
            .filter(|e| matches!(e, CaptureEvent::Skipped { .. }))
            .collect::<Vec<_>>(),
        [&CaptureEvent::Skipped {
            frame_index: 1,
            reason: SkipReason::CorruptBlock("block type 0x6: contents overrun the block".into())
        }]
    );
    assert_eq!(
        stream(&evs, ConnId(0), Direction::ToServer).bytes,
        b"onethree"
    );
    assert_eq!(run.stats.frames, 3);
}
