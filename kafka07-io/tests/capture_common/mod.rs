//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::net::SocketAddr;

use kafka07_io::capture::writer::{write_pcap, FrameBuilder, TcpFlags};
use kafka07_io::capture::{
    linktype, CaptureConfig, CaptureEvent, CaptureReader, ConnId, Direction, GapCause, Timestamp,
};

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A capture under construction: frames with increasing timestamps.
#[derive(Default)]
pub struct Cap {
    pub frames: Vec<(Timestamp, Vec<u8>)>,
}

impl Cap {
    pub fn push(&mut self, frame: Vec<u8>) {
        let n = self.frames.len() as u32;
        self.frames.push((
            Timestamp::new(1_700_000_000 + n / 10, (n % 10) * 1000),
            frame,
        ));
    }

    pub fn pcap(&self, link: u32) -> Vec<u8> {
        let mut out = Vec::new();
        write_pcap(&mut out, link, &self.frames).unwrap();
        out
    }
}

/// Both directions of one connection.
pub struct Flow {
    pub c2s: FrameBuilder,
    pub s2c: FrameBuilder,
}

impl Flow {
    pub fn new(link: u32, client: &str, server: &str) -> Flow {
        let c2s = FrameBuilder::new(link, addr(client), addr(server)).unwrap();
        let s2c = c2s.reverse();
        Flow { c2s, s2c }
    }

    pub fn eth(client: &str, server: &str) -> Flow {
        Flow::new(linktype::ETHERNET, client, server)
    }

    /// Client → server segment.
    pub fn c(&self, seq: u32, ack: u32, flags: TcpFlags, payload: &[u8]) -> Vec<u8> {
        self.c2s.tcp(seq, ack, flags, payload).unwrap()
    }

    /// Server → client segment.
    pub fn s(&self, seq: u32, ack: u32, flags: TcpFlags, payload: &[u8]) -> Vec<u8> {
        self.s2c.tcp(seq, ack, flags, payload).unwrap()
    }
}

pub fn syn() -> TcpFlags {
    TcpFlags::SYN
}
pub fn synack() -> TcpFlags {
    TcpFlags::SYN | TcpFlags::ACK
}
pub fn ack() -> TcpFlags {
    TcpFlags::ACK
}
pub fn psh() -> TcpFlags {
    TcpFlags::ACK | TcpFlags::PSH
}
pub fn fin() -> TcpFlags {
    TcpFlags::ACK | TcpFlags::FIN
}
pub fn rst() -> TcpFlags {
    TcpFlags::RST
}

/// All events of a capture, panicking on error.
pub fn events(file: &[u8]) -> Vec<CaptureEvent> {
    events_with(file, CaptureConfig::default())
}

pub fn events_with(file: &[u8], cfg: CaptureConfig) -> Vec<CaptureEvent> {
    let reader = CaptureReader::with_config(file, cfg).expect("open capture");
    reader.collect::<Result<Vec<_>, _>>().expect("read capture")
}

/// What one direction of a connection delivered.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Stream {
    pub bytes: Vec<u8>,
    /// (offset, missing, cause) of each gap.
    pub gaps: Vec<(u64, u64, GapCause)>,
    /// Number of Data events.
    pub chunks: usize,
}

/// Reassembles one direction from the events, checking that offsets are
/// contiguous and that nothing follows the Close.
pub fn stream(events: &[CaptureEvent], conn: ConnId, dir: Direction) -> Stream {
    let mut s = Stream::default();
    let mut next = 0u64;
    let mut closed = false;
    for e in events {
        match e {
            CaptureEvent::Data {
                conn: c,
                dir: d,
                offset,
                bytes,
                ..
            } if *c == conn && *d == dir => {
                assert!(!closed, "data after close");
                assert_eq!(*offset, next, "data offset not contiguous");
                assert!(!bytes.is_empty(), "empty data event");
                next += bytes.len() as u64;
                s.bytes.extend_from_slice(bytes);
                s.chunks += 1;
            }
            CaptureEvent::Gap {
                conn: c,
                dir: d,
                missing,
                at_stream_offset,
                cause,
            } if *c == conn && *d == dir => {
                assert!(!closed, "gap after close");
                assert_eq!(*at_stream_offset, next, "gap offset not contiguous");
                assert!(*missing > 0);
                next += missing;
                s.gaps.push((*at_stream_offset, *missing, *cause));
            }
            CaptureEvent::Close { conn: c, .. } if *c == conn => closed = true,
            _ => {}
        }
    }
    s
}

/// The ids of the connections opened, in order.
pub fn opened(events: &[CaptureEvent]) -> Vec<ConnId> {
    events
        .iter()
        .filter_map(|e| match e {
            CaptureEvent::Open { conn, .. } => Some(*conn),
            _ => None,
        })
        .collect()
}

/// Payload of `n` bytes, deterministic and position-dependent.
pub fn payload(n: usize, salt: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(salt))
        .collect()
}
