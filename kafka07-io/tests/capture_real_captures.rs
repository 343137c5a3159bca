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
