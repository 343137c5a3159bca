//! TCP reassembly behaviour, checked on synthesized pcap files.

#[path = "capture_common/mod.rs"]
mod common;

use common::*;
use kafka07_io::capture::writer::{write_capture, PcapRecord, WriteOptions};
use kafka07_io::capture::{
    linktype, CaptureConfig, CaptureEvent, CaptureReader, CloseCause, ConnId, ConnKey, Direction,
    GapCause, ServerReason, SkipReason, Timestamp,
};

const CLIENT: &str = "10.0.0.1:40000";
const SERVER: &str = "10.0.0.2:9092";
const C0: ConnId = ConnId(0);

/// SYN, SYN+ACK, ACK with client ISN `ci` and server ISN `si`.
fn handshake(cap: &mut Cap, f: &Flow, ci: u32, si: u32) {
    cap.push(f.c(ci, 0, syn(), b""));
    cap.push(f.s(si, ci.wrapping_add(1), synack(), b""));
    cap.push(f.c(ci.wrapping_add(1), si.wrapping_add(1), ack(), b""));
}

#[test]
fn in_order_stream_with_handshake_and_fin() {
    let f = Flow::eth(CLIENT, SERVER);
    let mut cap = Cap::default();
    handshake(&mut cap, &f, 1000, 5000);
    cap.push(f.c(1001, 5001, psh(), b"hello "));
    cap.push(f.c(1007, 5001, psh(), b"broker"));
    cap.push(f.s(5001, 1013, psh(), b"hi client"));
    cap.push(f.c(1013, 5010, fin(), b""));
    cap.push(f.s(5010, 1014, fin(), b""));
    cap.push(f.c(1014, 5011, ack(), b"")); // final ACK, after the close
    let file = cap.pcap(linktype::ETHERNET);

    let mut reader = CaptureReader::new(&file[..]).unwrap();
    let mut evs = Vec::new();
    while let Some(e) = reader.next_event().unwrap() {
        evs.push(e);
    }
    assert_eq!(
        evs[0],
        CaptureEvent::Open {
            conn: C0,
            key: ConnKey {
                client: addr(CLIENT),
                server: addr(SERVER)
            },
            reason: ServerReason::BrokerPort,
            ts: cap.frames[0].0,
        }
    );
    assert_eq!(
        evs[1],
        CaptureEvent::Data {
            conn: C0,
            dir: Direction::ToServer,
            offset: 0,
            bytes: b"hello ".to_vec(),
            ts: cap.frames[3].0,
        }
    );
    let up = stream(&evs, C0, Direction::ToServer);
    let down = stream(&evs, C0, Direction::ToClient);
    assert_eq!(up.bytes, b"hello broker");
    assert_eq!(up.chunks, 2);
    assert!(up.gaps.is_empty());
    assert_eq!(down.bytes, b"hi client");
    assert!(down.gaps.is_empty());
    assert_eq!(
        evs.last().unwrap(),
        &CaptureEvent::Close {
            conn: C0,
            reset: false,
            cause: CloseCause::Fin
        }
    );
    assert_eq!(evs.len(), 5, "{evs:#?}");
    let stats = reader.stats();
    assert_eq!(stats.frames, 9);
    assert_eq!(stats.tcp_segments, 9);
    assert_eq!(stats.ignored_segments, 1);
    assert_eq!(stats.bytes_delivered, 21);
    assert_eq!(stats.connections, 1);
    assert_eq!(stats.skipped, 0);
}

#[test]
fn out_of_order_segments_are_delivered_in_order() {
    let f = Flow::eth(CLIENT, SERVER);
    let mut cap = Cap::default();
    handshake(&mut cap, &f, 0, 0);
    cap.push(f.c(11, 1, psh(), b"CCCCC")); // 10..15
    cap.push(f.c(6, 1, psh(), b"BBBBB")); // 5..10
    cap.push(f.c(16, 1, psh(), b"DDD")); // 15..18
    cap.push(f.c(1, 1, psh(), b"AAAAA")); // 0..5
    let evs = events(&cap.pcap(linktype::ETHERNET));
    let up = stream(&evs, C0, Direction::ToServer);
    assert_eq!(up.bytes, b"AAAAABBBBBCCCCCDDD");
    assert!(up.gaps.is_empty());
    // Nothing is delivered before the first segment arrives; then all four
    // come out at once, each with its own frame's timestamp.
    let data: Vec<_> = evs
        .iter()
        .filter_map(|e| match e {
            CaptureEvent::Data { offset, ts, .. } => Some((*offset, *ts)),
            _ => None,
        })
        .collect();
    assert_eq!(
        data,
        vec![
            (0, cap.frames[6].0),
            (5, cap.frames[4].0),
            (10, cap.frames[3].0),
            (15, cap.frames[5].0)
        ]
    );
}

#[test]
fn retransmissions_and_overlaps_keep_first_copy() {
    let f = Flow::eth(CLIENT, SERVER);
    let mut cap = Cap::default();
    handshake(&mut cap, &f, 100, 900);
    cap.push(f.c(101, 901, psh(), b"abcdef")); // 0..6
    cap.push(f.c(101, 901, psh(), b"abcdef")); // exact retransmission
    cap.push(f.c(104, 901, psh(), b"XYZghi")); // overlaps 3..6, new 6..9
    cap.push(f.c(113, 901, psh(), b"mno")); // 12..15, out of order
    cap.push(f.c(111, 901, psh(), b"QQQQ")); // 10..14: overlaps pending 12..14
    cap.push(f.c(110, 901, psh(), b"j")); // 9..10 fills the hole
    let file = cap.pcap(linktype::ETHERNET);
    let mut reader = CaptureReader::new(&file[..]).unwrap();
    let evs: Vec<_> = reader.by_ref().map(Result::unwrap).collect();
    let up = stream(&evs, C0, Direction::ToServer);
    assert_eq!(up.bytes, b"abcdefghijQQmno");
    assert!(up.gaps.is_empty());
    // 6 (retransmission) + 3 (XYZ) + 2 (QQ over "mn")
    assert_eq!(reader.stats().duplicate_bytes, 11);
}

#[test]
fn sequence_numbers_wrap_around() {
    let f = Flow::eth(CLIENT, SERVER);
    let mut cap = Cap::default();
    let isn = u32::MAX - 9; // data starts at 2^32 - 9
    handshake(&mut cap, &f, isn, 7);
    let data = payload(40, 3);
    // Offsets 0..8, 16..24 (crosses 2^32 at offset 9), 8..16, 24..40.
    let seq = |off: u32| isn.wrapping_add(1).wrapping_add(off);
    cap.push(f.c(seq(0), 8, psh(), &data[0..8]));
    cap.push(f.c(seq(16), 8, psh(), &data[16..24]));
    cap.push(f.c(seq(8), 8, psh(), &data[8..16]));
    cap.push(f.c(seq(24), 8, psh(), &data[24..40]));
    assert_eq!(seq(9), 0, "the test must cross 2^32");
    // Server side wraps too: ISN 7 is fine, but send a retransmission of a
    // segment from before the wrap after it.
    cap.push(f.c(seq(4), 8, psh(), &data[4..12]));
    cap.push(f.c(seq(40), 8, fin(), b""));
    cap.push(f.s(8, seq(41), fin(), b""));
    let evs = events(&cap.pcap(linktype::ETHERNET));
    let up = stream(&evs, C0, Direction::ToServer);
    assert_eq!(up.bytes, data);
    assert!(up.gaps.is_empty());
    assert!(matches!(
        evs.last(),
        Some(CaptureEvent::Close {
            cause: CloseCause::Fin,
            ..
        })
    ));
}

#[test]
fn unfilled_hole_becomes_gap_at_close_and_delivery_resumes() {
    let f = Flow::eth(CLIENT, SERVER);
    let mut cap = Cap::default();
    handshake(&mut cap, &f, 0, 0);
    cap.push(f.c(1, 1, psh(), b"0123456789")); // 0..10
                                               // 10..27 is never captured.
    cap.push(f.c(28, 1, psh(), b"later")); // 27..32
    cap.push(f.c(33, 1, psh(), b"!")); // 32..33
    cap.push(f.c(34, 1, fin(), b""));
    cap.push(f.s(1, 35, fin(), b""));
    let evs = events(&cap.pcap(linktype::ETHERNET));
    let up = stream(&evs, C0, Direction::ToServer);
    assert_eq!(up.gaps, vec![(10, 17, GapCause::Unfilled)]);
    assert_eq!(up.bytes, b"0123456789later!");
    let gap_pos = evs
        .iter()
        .position(|e| matches!(e, CaptureEvent::Gap { .. }))
        .unwrap();
    assert_eq!(
        evs[gap_pos],
        CaptureEvent::Gap {
            conn: C0,
            dir: Direction::ToServer,
            missing: 17,
            at_stream_offset: 10,
            cause: GapCause::Unfilled,
        }
    );
    assert!(matches!(
        &evs[gap_pos + 1],
        CaptureEvent::Data { offset: 27, bytes, .. } if bytes == b"later"
    ));
    assert!(matches!(
        evs.last(),
        Some(CaptureEvent::Close {
            cause: CloseCause::Fin,
            reset: false,
            ..
        })
    ));
}

#[test]
fn unfilled_hole_is_reported_at_end_of_file() {
    let f = Flow::eth(CLIENT, SERVER);
    let mut cap = Cap::default();
    handshake(&mut cap, &f, 0, 0);
    cap.push(f.c(1, 1, psh(), b"abc"));
    cap.push(f.c(10, 1, psh(), b"xyz")); // hole 3..9
    let evs = events(&cap.pcap(linktype::ETHERNET));
    let up = stream(&evs, C0, Direction::ToServer);
    assert_eq!(up.gaps, vec![(3, 6, GapCause::Unfilled)]);
    assert_eq!(up.bytes, b"abcxyz");
    assert_eq!(
        evs.last(),
        Some(&CaptureEvent::Close {
            conn: C0,
            reset: false,
            cause: CloseCause::EndOfCapture
        })
    );
}

#[test]
fn missing_tail_before_fin_is_a_gap() {
    let f = Flow::eth(CLIENT, SERVER);
    let mut cap = Cap::default();
    handshake(&mut cap, &f, 0, 0);
    cap.push(f.c(1, 1, psh(), b"abc"));
    cap.push(f.c(11, 1, fin(), b"")); // FIN at offset 10: 3..10 never seen
    cap.push(f.s(1, 12, fin(), b"")); // acknowledges the client's FIN
    let evs = events(&cap.pcap(linktype::ETHERNET));
    let up = stream(&evs, C0, Direction::ToServer);
    assert_eq!(up.gaps, vec![(3, 7, GapCause::Unfilled)]);
    assert!(matches!(
        evs.last(),
        Some(CaptureEvent::Close {
            cause: CloseCause::Fin,
            ..
        })
    ));
}

#[test]
fn window_limit_gives_up_hole_and_continues() {
    let f = Flow::eth(CLIENT, SERVER);
    let mut cap = Cap::default();
    handshake(&mut cap, &f, 0, 0);
    let window = 64 * 1024;
    cap.push(f.c(1, 1, psh(), b"head")); // 0..4
                                         // Hole 4..1004, then 70 segments of 1000 bytes (1004..71004).
    let body = payload(70_000, 9);
    for (i, chunk) in body.chunks(1000).enumerate() {
        cap.push(f.c(1005 + (i as u32) * 1000, 1, psh(), chunk));
    }
    cap.push(f.c(500, 1, psh(), b"too late")); // inside the hole, after give-up
    let cfg = CaptureConfig {
        window,
        ..CaptureConfig::default()
    };
    let file = cap.pcap(linktype::ETHERNET);
    let mut reader = CaptureReader::with_config(&file[..], cfg).unwrap();
    let evs: Vec<_> = reader.by_ref().map(Result::unwrap).collect();
    let up = stream(&evs, C0, Direction::ToServer);
    assert_eq!(up.gaps, vec![(4, 1000, GapCause::WindowExceeded)]);
    let mut expected = b"head".to_vec();
    expected.extend_from_slice(&body);
    assert_eq!(up.bytes, expected);
    // The gap was reported when the span first exceeded the window, before
    // the end of the capture.
    let gap_at = evs
        .iter()
        .position(|e| matches!(e, CaptureEvent::Gap { .. }))
        .unwrap();
    let data_after_gap = evs[gap_at..]
        .iter()
        .filter(|e| matches!(e, CaptureEvent::Data { .. }))
        .count();
    assert_eq!(data_after_gap, 70);
    assert_eq!(reader.stats().duplicate_bytes, 8);
    assert_eq!(reader.stats().gap_bytes, 1000);
}

#[test]
fn global_buffer_limit_releases_holes() {
    let f = Flow::eth(CLIENT, SERVER);
    let mut cap = Cap::default();
    handshake(&mut cap, &f, 0, 0);
    cap.push(f.c(1, 1, psh(), b"a"));
    cap.push(f.c(3, 1, psh(), &payload(900, 1))); // offset 2, hole 1..2
    cap.push(f.c(903, 1, psh(), &payload(900, 2))); // buffered total 1800 > 1000
    let cfg = CaptureConfig {
        max_buffered_total: 1000,
        ..CaptureConfig::default()
    };
    let evs = events_with(&cap.pcap(linktype::ETHERNET), cfg);
    let up = stream(&evs, C0, Direction::ToServer);
    assert_eq!(up.gaps, vec![(1, 1, GapCause::WindowExceeded)]);
    assert_eq!(up.bytes.len(), 1801);
}

#[test]
fn snaplen_truncated_frame_delivers_captured_part_and_gap() {
    let f = Flow::eth(CLIENT, SERVER);
    let frames = [
        f.c(0, 0, syn(), b""),
        f.s(0, 1, synack(), b""),
        f.c(1, 1, psh(), &payload(100, 1)), // offset 0..100, cut below
        f.c(101, 1, psh(), b"tail"),        // offset 100..104
    ];
    // 14 Ethernet + 20 IPv4 + 20 TCP = 54 header bytes; keep 60 of 100.
    let ts = Timestamp::new(5, 0);
    let records = [
        PcapRecord::new(ts, &frames[0]),
        PcapRecord::new(ts, &frames[1]),
        PcapRecord::truncated(ts, &frames[2], 54 + 60),
        PcapRecord::new(ts, &frames[3]),
    ];
    let mut file = Vec::new();
    let opts = WriteOptions {
        snaplen: 114,
        ..WriteOptions::default()
    };
    write_capture(&mut file, &opts, linktype::ETHERNET, &records).unwrap();
    let evs = events(&file);
    let up = stream(&evs, C0, Direction::ToServer);
    assert_eq!(up.gaps, vec![(60, 40, GapCause::Snaplen)]);
    let mut expected = payload(100, 1)[..60].to_vec();
    expected.extend_from_slice(b"tail");
    assert_eq!(up.bytes, expected);
}

/// A pcap file of Ethernet `records` with the default options.
fn ethernet_pcap(records: &[PcapRecord<'_>]) -> Vec<u8> {
    let mut file = Vec::new();
    write_capture(
        &mut file,
        &WriteOptions::default(),
        linktype::ETHERNET,
        records,
    )
    .unwrap();
    file
}

#[test]
fn snaplen_cutting_only_headers_is_skipped() {
    // 40 bytes of a 58-byte frame: the TCP header is cut after 6 bytes. Skipped, as cut by
    // the snap length (not as malformed: nothing in it is wrong).
    let f = Flow::eth(CLIENT, SERVER);
    let frame = f.c(1, 1, psh(), b"data");
    let records = [PcapRecord::truncated(Timestamp::new(1, 0), &frame, 40)];
    let file = ethernet_pcap(&records);
    let evs = events(&file);
    assert_eq!(evs.len(), 1);
    assert!(matches!(
        &evs[0],
        CaptureEvent::Skipped {
            frame_index: 0,
            reason: SkipReason::CutBySnaplen { layer: "tcp" }
        }
    ));
    // The same bytes in a record that says nothing was cut: malformed.
    let records = [PcapRecord::new(Timestamp::new(1, 0), &frame[..40])];
    let file = ethernet_pcap(&records);
    assert!(matches!(
        &events(&file)[0],
        CaptureEvent::Skipped {
            frame_index: 0,
            reason: SkipReason::Malformed { layer: "tcp", .. }
        }
    ));
}

#[test]
fn capture_starting_mid_connection_and_reset() {
    // No handshake and no broker port: the lower port is the server, and
    // the stream starts at the first sequence number seen.
    let f = Flow::eth("192.168.1.5:51000", "192.168.1.9:7000");
    let mut cap = Cap::default();
    cap.push(f.s(777_000, 3_000_000, psh(), b"response-tail"));
    cap.push(f.c(3_000_000, 777_013, psh(), b"next request"));
    cap.push(f.c(2_999_990, 777_013, psh(), b"0123456789")); // before the start: dropped
    cap.push(f.s(777_013, 3_000_012, TcpFlags::RST | TcpFlags::ACK, b""));
    cap.push(f.c(3_000_012, 777_013, psh(), b"after reset"));
    let evs = events(&cap.pcap(linktype::ETHERNET));
    assert_eq!(
        evs[0],
        CaptureEvent::Open {
            conn: C0,
            key: ConnKey {
                client: addr("192.168.1.5:51000"),
                server: addr("192.168.1.9:7000")
            },
            reason: ServerReason::LowerPort,
            ts: cap.frames[0].0,
        }
    );
    assert_eq!(
        stream(&evs, C0, Direction::ToClient).bytes,
        b"response-tail"
    );
    assert_eq!(stream(&evs, C0, Direction::ToServer).bytes, b"next request");
    let close = evs
        .iter()
        .position(|e| matches!(e, CaptureEvent::Close { .. }))
        .unwrap();
    assert_eq!(
        evs[close],
        CaptureEvent::Close {
            conn: C0,
            reset: true,
            cause: CloseCause::Reset
        }
    );
    assert_eq!(
        evs[close + 1],
        CaptureEvent::Skipped {
            frame_index: 4,
            reason: SkipReason::AfterClose
        }
    );
    assert_eq!(evs.len(), close + 2);
}

use kafka07_io::capture::writer::TcpFlags;

#[test]
fn connection_cut_mid_stream_at_end_of_capture() {
    let f = Flow::eth(CLIENT, SERVER);
    let mut cap = Cap::default();
    handshake(&mut cap, &f, 10, 20);
    cap.push(f.c(11, 21, psh(), b"request-1"));
    cap.push(f.s(21, 20, psh(), b"resp"));
    let evs = events(&cap.pcap(linktype::ETHERNET));
    assert_eq!(stream(&evs, C0, Direction::ToServer).bytes, b"request-1");
    assert_eq!(stream(&evs, C0, Direction::ToClient).bytes, b"resp");
    assert_eq!(
        evs.last(),
        Some(&CaptureEvent::Close {
            conn: C0,
            reset: false,
            cause: CloseCause::EndOfCapture
        })
    );
}

#[test]
fn two_interleaved_connections() {
    let a = Flow::eth("10.0.0.1:40000", SERVER);
    let b = Flow::eth("10.0.0.3:40000", SERVER);
    let mut cap = Cap::default();
    cap.push(a.c(100, 0, syn(), b""));
    cap.push(b.c(500, 0, syn(), b""));
    cap.push(b.s(900, 501, synack(), b""));
    cap.push(a.s(300, 101, synack(), b""));
    cap.push(a.c(101, 301, psh(), b"A1"));
    cap.push(b.c(501, 901, psh(), b"B1"));
    cap.push(b.s(901, 503, psh(), b"b-resp"));
    cap.push(a.c(103, 301, psh(), b"A2"));
    cap.push(a.s(301, 105, psh(), b"a-resp"));
    cap.push(b.c(503, 907, psh(), b"B2"));
    let evs = events(&cap.pcap(linktype::ETHERNET));
    assert_eq!(opened(&evs), vec![ConnId(0), ConnId(1)]);
    let keys: Vec<_> = evs
        .iter()
        .filter_map(|e| match e {
            CaptureEvent::Open { key, .. } => Some(key.client),
            _ => None,
        })
        .collect();
    assert_eq!(keys, vec![addr("10.0.0.1:40000"), addr("10.0.0.3:40000")]);
    assert_eq!(stream(&evs, ConnId(0), Direction::ToServer).bytes, b"A1A2");
    assert_eq!(
        stream(&evs, ConnId(0), Direction::ToClient).bytes,
        b"a-resp"
    );
    assert_eq!(stream(&evs, ConnId(1), Direction::ToServer).bytes, b"B1B2");
    assert_eq!(
        stream(&evs, ConnId(1), Direction::ToClient).bytes,
        b"b-resp"
    );
    // End of capture closes both, in id order.
    let closes: Vec<_> = evs
        .iter()
        .filter_map(|e| match e {
            CaptureEvent::Close { conn, cause, .. } => Some((*conn, *cause)),
            _ => None,
        })
        .collect();
    assert_eq!(
        closes,
        vec![
            (ConnId(0), CloseCause::EndOfCapture),
            (ConnId(1), CloseCause::EndOfCapture)
        ]
    );
}

#[test]
fn server_choice_without_broker_port() {
    let cfg = || CaptureConfig {
        broker_ports: vec![],
        ..CaptureConfig::default()
    };
    // SYN seen: its receiver is the server even with the higher port.
    let f = Flow::eth("10.0.0.1:80", "10.0.0.2:50000");
    let mut cap = Cap::default();
    cap.push(f.c(1, 0, syn(), b""));
    let evs = events_with(&cap.pcap(linktype::ETHERNET), cfg());
    assert!(matches!(
        &evs[0],
        CaptureEvent::Open { key, reason: ServerReason::ReceivedSyn, .. }
            if key.server == addr("10.0.0.2:50000")
    ));
    // SYN+ACK first: its sender is the server.
    let mut cap = Cap::default();
    cap.push(f.s(1, 2, synack(), b""));
    let evs = events_with(&cap.pcap(linktype::ETHERNET), cfg());
    assert!(matches!(
        &evs[0],
        CaptureEvent::Open { key, reason: ServerReason::SentSynAck, .. }
            if key.server == addr("10.0.0.2:50000")
    ));
    // A broker port wins over the SYN: here the SYN goes *from* 9092.
    let g = Flow::eth("10.0.0.1:9092", "10.0.0.2:50000");
    let mut cap = Cap::default();
    cap.push(g.c(1, 0, syn(), b""));
    let evs = events(&cap.pcap(linktype::ETHERNET));
    assert!(matches!(
        &evs[0],
        CaptureEvent::Open { key, reason: ServerReason::BrokerPort, .. }
            if key.server == addr("10.0.0.1:9092")
    ));
}

#[test]
fn tuple_reuse_after_close_opens_new_connection() {
    let f = Flow::eth(CLIENT, SERVER);
    let mut cap = Cap::default();
    handshake(&mut cap, &f, 0, 0);
    cap.push(f.c(1, 1, psh(), b"first"));
    cap.push(f.c(6, 1, fin(), b""));
    cap.push(f.s(1, 7, fin(), b""));
    cap.push(f.c(7, 2, ack(), b""));
    handshake(&mut cap, &f, 90_000, 40_000);
    cap.push(f.c(90_001, 40_001, psh(), b"second"));
    let evs = events(&cap.pcap(linktype::ETHERNET));
    assert_eq!(opened(&evs), vec![ConnId(0), ConnId(1)]);
    assert_eq!(stream(&evs, ConnId(0), Direction::ToServer).bytes, b"first");
    assert_eq!(
        stream(&evs, ConnId(1), Direction::ToServer).bytes,
        b"second"
    );
}

#[test]
fn new_syn_on_open_tuple_supersedes_old_connection() {
    let f = Flow::eth(CLIENT, SERVER);
    let mut cap = Cap::default();
    handshake(&mut cap, &f, 0, 0);
    cap.push(f.c(1, 1, psh(), b"old"));
    cap.push(f.c(0, 0, syn(), b"")); // SYN retransmission: same ISN, ignored
    handshake(&mut cap, &f, 1_000_000, 0);
    cap.push(f.c(1_000_001, 1, psh(), b"new"));
    let evs = events(&cap.pcap(linktype::ETHERNET));
    assert_eq!(opened(&evs), vec![ConnId(0), ConnId(1)]);
    assert!(evs.contains(&CaptureEvent::Close {
        conn: ConnId(0),
        reset: false,
        cause: CloseCause::Reused
    }));
    assert_eq!(stream(&evs, ConnId(0), Direction::ToServer).bytes, b"old");
    assert_eq!(stream(&evs, ConnId(1), Direction::ToServer).bytes, b"new");
}

#[test]
fn ack_gaps_reports_hole_when_peer_acknowledges_it() {
    let f = Flow::eth(CLIENT, SERVER);
    let mut cap = Cap::default();
    handshake(&mut cap, &f, 0, 0);
    cap.push(f.c(1, 1, psh(), b"abc")); // 0..3
    cap.push(f.c(9, 1, psh(), b"ijk")); // 8..11, hole 3..8
    cap.push(f.s(1, 12, ack(), b"")); // server has everything up to 11
    cap.push(f.c(12, 1, psh(), b"lmn"));
    let cfg = CaptureConfig {
        ack_gaps: true,
        ..CaptureConfig::default()
    };
    let evs = events_with(&cap.pcap(linktype::ETHERNET), cfg);
    let up = stream(&evs, C0, Direction::ToServer);
    assert_eq!(up.gaps, vec![(3, 5, GapCause::AckedNotCaptured)]);
    assert_eq!(up.bytes, b"abcijklmn");
    // The gap comes before the last frame's data, not at end of file.
    let gap = evs
        .iter()
        .position(|e| matches!(e, CaptureEvent::Gap { .. }))
        .unwrap();
    assert!(matches!(&evs[gap + 2], CaptureEvent::Data { bytes, .. } if bytes == b"lmn"));
}

#[test]
fn only_broker_ports_skips_other_traffic() {
    let kafka = Flow::eth(CLIENT, SERVER);
    let other = Flow::eth("10.0.0.1:40001", "10.0.0.2:22");
    let mut cap = Cap::default();
    cap.push(other.c(1, 1, psh(), b"ssh"));
    cap.push(kafka.c(1, 1, psh(), b"kafka"));
    let cfg = CaptureConfig {
        only_broker_ports: true,
        ..CaptureConfig::default()
    };
    let evs = events_with(&cap.pcap(linktype::ETHERNET), cfg);
    assert_eq!(
        evs[0],
        CaptureEvent::Skipped {
            frame_index: 0,
            reason: SkipReason::NotBrokerPort
        }
    );
    assert_eq!(opened(&evs), vec![C0]);
    assert_eq!(stream(&evs, C0, Direction::ToServer).bytes, b"kafka");
}

#[test]
fn hole_filled_by_retransmission_after_fins() {
    let f = Flow::eth(CLIENT, SERVER);
    let mut cap = Cap::default();
    handshake(&mut cap, &f, 0, 0);
    cap.push(f.c(1, 1, psh(), b"abc"));
    cap.push(f.c(7, 1, psh(), b"ghi")); // hole 3..6
    cap.push(f.c(10, 1, fin(), b""));
    cap.push(f.s(1, 4, fin(), b"")); // acks only up to the hole: not the FIN
    cap.push(f.c(4, 2, psh(), b"def")); // retransmission fills the hole
    cap.push(f.s(2, 11, ack(), b""));
    let evs = events(&cap.pcap(linktype::ETHERNET));
    let up = stream(&evs, C0, Direction::ToServer);
    assert_eq!(up.bytes, b"abcdefghi");
    assert!(up.gaps.is_empty());
    let close = evs
        .iter()
        .position(|e| matches!(e, CaptureEvent::Close { .. }))
        .unwrap();
    // Closed as soon as the retransmission completed the client's stream.
    assert!(matches!(
        &evs[close - 1],
        CaptureEvent::Data { bytes, .. } if bytes == b"ghi"
    ));
    assert_eq!(
        evs[close],
        CaptureEvent::Close {
            conn: C0,
            reset: false,
            cause: CloseCause::Fin
        }
    );
}

#[test]
fn least_recently_active_connections_are_evicted_at_the_limit() {
    let flows: Vec<Flow> = (0..6)
        .map(|i| Flow::eth(&format!("10.0.1.{}:40000", i + 1), SERVER))
        .collect();
    let mut cap = Cap::default();
    for f in &flows[..4] {
        cap.push(f.c(1, 1, psh(), b"a"));
    }
    cap.push(flows[0].c(2, 1, psh(), b"b")); // conn 0 is now the most recent
    cap.push(flows[4].c(1, 1, psh(), b"a")); // 5th: evicts conn 1
    cap.push(flows[1].c(2, 1, psh(), b"b")); // conn 1's flow again: new conn
    let cfg = CaptureConfig {
        max_connections: 4,
        ..CaptureConfig::default()
    };
    let evs = events_with(&cap.pcap(linktype::ETHERNET), cfg);
    let closes: Vec<_> = evs
        .iter()
        .filter_map(|e| match e {
            CaptureEvent::Close { conn, cause, .. } => Some((*conn, *cause)),
            _ => None,
        })
        .collect();
    assert_eq!(closes[0], (ConnId(1), CloseCause::Evicted));
    assert_eq!(closes[1], (ConnId(2), CloseCause::Evicted));
    assert_eq!(opened(&evs), (0..6).map(ConnId).collect::<Vec<_>>());
    assert_eq!(stream(&evs, ConnId(0), Direction::ToServer).bytes, b"ab");
    assert_eq!(stream(&evs, ConnId(5), Direction::ToServer).bytes, b"b");
}
