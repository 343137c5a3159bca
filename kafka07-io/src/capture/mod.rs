//! Capture reader: turns pcap / pcapng files into per-connection,
//! per-direction TCP byte streams.
//!
//! The entry point is [`CaptureReader`]. It reads a capture lazily, frame by
//! frame, from any [`std::io::Read`], slices each frame down to TCP
//! (Ethernet, Linux cooked SLL / SLL2, BSD loopback, OpenBSD loopback and raw
//! IP link types; IPv4 and IPv6), reassembles every TCP connection in both
//! directions and hands out [`CaptureEvent`]s:
//!
//! * [`CaptureEvent::Open`] when a connection is first seen, with the chosen
//!   client/server orientation and the reason for it ([`ServerReason`]);
//! * [`CaptureEvent::Data`] with in-order, de-duplicated stream bytes;
//! * [`CaptureEvent::Gap`] when bytes of a stream are known to be missing
//!   (never captured, or cut by the snap length); delivery resumes after it;
//! * [`CaptureEvent::Close`] when a connection ends (FIN both ways, RST, or
//!   end of capture);
//! * [`CaptureEvent::Skipped`] for frames that carry no usable TCP segment;
//! * [`CaptureEvent::LengthMismatch`] for a frame whose record and IP header disagree on
//!   the packet's length.
//!
//! The bytes a snap length cut off a packet are counted from the record's original
//! length (pcap `orig_len`, pcapng original packet length) and cross-checked with the IP
//! header's length: an IP length of 0 (TSO/GSO captures, taken before the NIC split the
//! packet) leaves the record's length alone to decide ([`CaptureStats::ip_length_zero`]);
//! when the two disagree the record decides and the frame is reported. Bytes after the IP
//! packet in a frame the capture holds whole, or in an Ethernet frame of at most 64 bytes,
//! are a link trailer (padding, FCS), not payload.
//!
//! Memory is bounded: the file is read through `pcap-parser`'s streaming
//! readers with a buffer capped at [`CaptureConfig::max_record_len`], and
//! out-of-order data is buffered per direction only within
//! [`CaptureConfig::window`] bytes (and [`CaptureConfig::max_buffered_total`]
//! bytes over all connections); beyond that the oldest hole is given up and
//! reported as a [`GapCause::WindowExceeded`] gap.
//!
//! Hostile input never panics: every length read from the file is checked,
//! corrupt frames are skipped with their frame index, and only damage that
//! makes the rest of the file unreadable is returned as a [`CaptureError`].
//!
//! The [`writer`] submodule writes pcap / pcapng files and synthesizes
//! Ethernet/IPv4/IPv6/TCP frames; tests and test-capture tooling use it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod decode;
mod error;
mod reader;
mod reassembly;
mod source;
mod tracker;
pub mod writer;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;

pub use error::CaptureError;
pub use reader::CaptureReader;
pub use source::CaptureFormat;

/// Link-layer header type numbers (the pcap `LINKTYPE_*` registry) that the
/// reader understands.
pub mod linktype {
    /// BSD loopback: 4-byte address family in the capturing host's byte order.
    pub const NULL: u32 = 0;
    /// Ethernet II (with optional 802.1Q VLAN tags).
    pub const ETHERNET: u32 = 1;
    /// Raw IPv4 or IPv6 packet, no link header.
    pub const RAW: u32 = 101;
    /// OpenBSD loopback: 4-byte address family in network byte order.
    pub const LOOP: u32 = 108;
    /// Linux "cooked" capture, version 1 (16-byte header).
    pub const LINUX_SLL: u32 = 113;
    /// Raw IPv4 packet, no link header.
    pub const IPV4: u32 = 228;
    /// Raw IPv6 packet, no link header.
    pub const IPV6: u32 = 229;
    /// Linux "cooked" capture, version 2 (20-byte header).
    pub const LINUX_SLL2: u32 = 276;
}

/// Identifier of one TCP connection within a capture.
///
/// Ids are assigned in order of first appearance, starting at 0. A 4-tuple
/// that is reused after its connection closed gets a new id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u64);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// The two endpoints of a connection, oriented client → server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConnKey {
    /// The endpoint judged to be the client.
    pub client: SocketAddr,
    /// The endpoint judged to be the server (the Kafka broker).
    pub server: SocketAddr,
}

impl fmt::Display for ConnKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -> {}", self.client, self.server)
    }
}

/// Why one endpoint of a connection was taken to be the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServerReason {
    /// Its port is one of [`CaptureConfig::broker_ports`] (and the other
    /// endpoint's port is not).
    BrokerPort,
    /// It received the first SYN of the connection (SYN without ACK).
    ReceivedSyn,
    /// It sent a SYN+ACK, the first packet seen (the client's SYN was not
    /// captured).
    SentSynAck,
    /// No port or handshake evidence: it has the lower port number.
    LowerPort,
    /// No evidence at all and both ports are equal: it is the destination of
    /// the first packet seen.
    FirstDestination,
}

impl fmt::Display for ServerReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ServerReason::BrokerPort => "its port is a configured broker port",
            ServerReason::ReceivedSyn => "it received the first SYN",
            ServerReason::SentSynAck => "it sent the first SYN+ACK",
            ServerReason::LowerPort => "it has the lower port",
            ServerReason::FirstDestination => "it is the destination of the first packet",
        })
    }
}

/// Direction of a byte stream within a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    /// Client → server (requests).
    ToServer,
    /// Server → client (responses).
    ToClient,
}

impl Direction {
    /// The opposite direction.
    pub fn reverse(self) -> Direction {
        match self {
            Direction::ToServer => Direction::ToClient,
            Direction::ToClient => Direction::ToServer,
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            Direction::ToServer => 0,
            Direction::ToClient => 1,
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::ToServer => "to-server",
            Direction::ToClient => "to-client",
        })
    }
}

/// Capture timestamp of a frame: seconds and microseconds since the Unix
/// epoch (nanosecond and other pcapng resolutions are converted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// Whole seconds.
    pub secs: u32,
    /// Microseconds within the second (`0..1_000_000`).
    pub micros: u32,
}

impl Timestamp {
    /// Builds a timestamp, carrying whole seconds out of `micros`.
    pub fn new(secs: u32, micros: u32) -> Timestamp {
        Timestamp {
            secs: secs.wrapping_add(micros / 1_000_000),
            micros: micros % 1_000_000,
        }
    }
}

impl From<(u32, u32)> for Timestamp {
    fn from((secs, micros): (u32, u32)) -> Timestamp {
        Timestamp::new(secs, micros)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}", self.secs, self.micros)
    }
}

/// Why a [`CaptureEvent::Gap`] was reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GapCause {
    /// The frame was cut by the snap length (captured length < original
    /// length): the tail of its TCP payload is missing.
    Snaplen,
    /// A hole that was still unfilled when the connection closed (FIN both
    /// ways or RST) or the capture ended; also the missing tail before a
    /// FIN whose data was never seen.
    Unfilled,
    /// Out-of-order data reached the reassembly window (or the global
    /// buffer limit), so the oldest hole was given up.
    WindowExceeded,
    /// The peer acknowledged bytes that were never captured (only with
    /// [`CaptureConfig::ack_gaps`]).
    AckedNotCaptured,
}

impl fmt::Display for GapCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GapCause::Snaplen => "frame truncated by snap length",
            GapCause::Unfilled => "hole never filled",
            GapCause::WindowExceeded => "reassembly window exceeded",
            GapCause::AckedNotCaptured => "acknowledged by the peer but not captured",
        })
    }
}

/// Why a [`CaptureEvent::Close`] was reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CloseCause {
    /// Both directions sent FIN and every byte up to each FIN was delivered.
    Fin,
    /// A RST was seen (either direction).
    Reset,
    /// A new SYN reused the 4-tuple of a connection that had not closed.
    Reused,
    /// The capture ended (or became unreadable) while the connection was open.
    EndOfCapture,
    /// Closed to make room: [`CaptureConfig::max_connections`] connections
    /// were open. Later segments of its 4-tuple open a new connection that
    /// starts mid-stream.
    Evicted,
}

/// Why a frame was skipped. Skipped frames are counted in
/// [`CaptureStats::skipped`] and never stop the reader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// The interface's link type is not one the reader decodes.
    UnsupportedLinkType(u32),
    /// Not an IP packet. The value is the EtherType (Ethernet, SLL, SLL2) or
    /// the address family (loopback link types).
    NotIp(u32),
    /// An IP packet that is not TCP; the value is the IP protocol number.
    NotTcp(u8),
    /// An IP fragment (IP reassembly is not supported).
    IpFragment,
    /// The snap length cut the frame inside a header (the record is shorter
    /// than the packet, and the header needs more bytes than were kept), so
    /// not even where its payload belongs in the stream is known. Not damage:
    /// the capture was taken that way (IPv6 with TCP timestamps and `-s 68`
    /// keeps 14 of the 32 TCP header bytes).
    CutBySnaplen {
        /// The layer whose header was cut: "link", "ip" or "tcp".
        layer: &'static str,
    },
    /// A header is truncated or invalid.
    Malformed {
        /// The layer that failed: "link", "ip" or "tcp".
        layer: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// A pcapng packet refers to an interface that was never described.
    UnknownInterface(u32),
    /// A pcapng block that could not be parsed was skipped whole (its
    /// leading and trailing lengths agree). Never a section header block:
    /// the blocks after one depend on it (byte order, interfaces), so a
    /// damaged one is a [`CaptureError::Corrupt`].
    CorruptBlock(String),
    /// The file ends in the middle of a record; that last record is dropped.
    TruncatedRecord,
    /// Neither port is a broker port and [`CaptureConfig::only_broker_ports`]
    /// is set.
    NotBrokerPort,
    /// A segment with payload for a connection that has already closed.
    AfterClose,
}

impl SkipReason {
    /// A short stable label, used as key of [`CaptureStats::skipped_by_reason`].
    pub fn label(&self) -> &'static str {
        match self {
            SkipReason::UnsupportedLinkType(_) => "unsupported-link-type",
            SkipReason::NotIp(_) => "not-ip",
            SkipReason::NotTcp(_) => "not-tcp",
            SkipReason::IpFragment => "ip-fragment",
            SkipReason::CutBySnaplen { .. } => "cut-by-snaplen",
            SkipReason::Malformed { .. } => "malformed",
            SkipReason::UnknownInterface(_) => "unknown-interface",
            SkipReason::CorruptBlock(_) => "corrupt-block",
            SkipReason::TruncatedRecord => "truncated-record",
            SkipReason::NotBrokerPort => "not-broker-port",
            SkipReason::AfterClose => "after-close",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::UnsupportedLinkType(l) => write!(f, "unsupported link type {l}"),
            SkipReason::NotIp(p) => write!(f, "not IP (link protocol {p:#06x})"),
            SkipReason::NotTcp(p) => write!(f, "not TCP (IP protocol {p})"),
            SkipReason::IpFragment => f.write_str("IP fragment (not reassembled)"),
            SkipReason::CutBySnaplen { layer } => {
                write!(f, "cut by the snap length inside its {layer} header")
            }
            SkipReason::Malformed { layer, detail } => write!(f, "malformed {layer}: {detail}"),
            SkipReason::UnknownInterface(i) => write!(f, "unknown pcapng interface {i}"),
            SkipReason::CorruptBlock(d) => write!(f, "corrupt pcapng block: {d}"),
            SkipReason::TruncatedRecord => f.write_str("file ends inside this record"),
            SkipReason::NotBrokerPort => f.write_str("no broker port"),
            SkipReason::AfterClose => f.write_str("data after the connection closed"),
        }
    }
}

/// How a frame's record and its IP header disagreed on the packet's length (see
/// [`CaptureEvent::LengthMismatch`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LengthMismatch {
    /// The TCP payload length implied by the record's original length (less the link, IP
    /// and TCP headers) is not the one the IP header declares. The record's was used: it is
    /// what the capturing host saw on the wire.
    IpAndRecord {
        /// TCP payload bytes by the IP header's length field.
        ip: u64,
        /// TCP payload bytes by the record's original length.
        record: u64,
    },
    /// The record's original length is below the bytes it holds (a damaged record): it was
    /// ignored, and the IP header's length used.
    RecordShorterThanCaptured {
        /// The record's original length.
        orig_len: u64,
        /// Bytes the record holds.
        captured: u64,
    },
}

impl fmt::Display for LengthMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LengthMismatch::IpAndRecord { ip, record } => write!(
                f,
                "the IP header declares {ip} TCP payload bytes, the capture record's original \
                 length {record}; the record's length was used"
            ),
            LengthMismatch::RecordShorterThanCaptured { orig_len, captured } => write!(
                f,
                "the capture record's original length {orig_len} is below the {captured} bytes \
                 it holds; the IP header's length was used"
            ),
        }
    }
}

/// One thing the reader found. See the [module documentation](self).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaptureEvent {
    /// A connection was seen for the first time. Always precedes its other
    /// events.
    Open {
        /// The new connection's id.
        conn: ConnId,
        /// Its endpoints, oriented client → server.
        key: ConnKey,
        /// Why `key.server` was chosen as the server.
        reason: ServerReason,
        /// Timestamp of the frame that opened it.
        ts: Timestamp,
    },
    /// In-order stream bytes. Within one direction, `offset` of each `Data`
    /// or `Gap` event is the end of the previous one.
    Data {
        /// Connection.
        conn: ConnId,
        /// Direction of the stream.
        dir: Direction,
        /// Stream offset of `bytes[0]` (0 = first byte after the SYN, or the
        /// first byte seen when the capture starts mid-connection).
        offset: u64,
        /// The bytes (never empty).
        bytes: Vec<u8>,
        /// Timestamp of the frame that carried them.
        ts: Timestamp,
    },
    /// `missing` bytes of the stream are lost; delivery resumes at
    /// `at_stream_offset + missing`.
    Gap {
        /// Connection.
        conn: ConnId,
        /// Direction of the stream.
        dir: Direction,
        /// Number of bytes lost (never 0).
        missing: u64,
        /// Stream offset of the first lost byte.
        at_stream_offset: u64,
        /// Why the bytes are considered lost.
        cause: GapCause,
    },
    /// The connection ended; no further event names it.
    Close {
        /// Connection.
        conn: ConnId,
        /// True when the connection was reset (`cause == CloseCause::Reset`).
        reset: bool,
        /// How it ended.
        cause: CloseCause,
    },
    /// A frame was skipped.
    Skipped {
        /// Index of the packet record in the file, counting from 0 (Wireshark
        /// shows `frame_index + 1`).
        frame_index: u64,
        /// Why.
        reason: SkipReason,
    },
    /// A frame's record and IP header disagree on its length. Comes before the
    /// frame's own events; the frame is used, with the length said in `mismatch`.
    LengthMismatch {
        /// Index of the packet record in the file, counting from 0.
        frame_index: u64,
        /// What disagreed, and which length was used.
        mismatch: LengthMismatch,
    },
}

/// Tuning of a [`CaptureReader`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptureConfig {
    /// Ports that identify the server side of a connection. Default `[9092]`.
    pub broker_ports: Vec<u16>,
    /// Only track connections with a broker port on one side; other TCP
    /// frames are skipped with [`SkipReason::NotBrokerPort`]. Default false.
    pub only_broker_ports: bool,
    /// Per-direction reassembly window in bytes: out-of-order data is kept
    /// only while it lies within this many bytes of the next expected byte,
    /// and while it holds at most this much memory (payload plus a fixed
    /// cost per buffered segment). Default 4 MiB; values below 64 KiB are
    /// raised to 64 KiB.
    pub window: usize,
    /// Limit on out-of-order data buffered over all connections (counted
    /// as for `window`). When it is reached, the direction that just grew
    /// gives up all its holes. Default 64 MiB.
    pub max_buffered_total: usize,
    /// Largest capture record (pcap frame record or pcapng block) accepted,
    /// which is also the largest read buffer. Default 1 MiB; values below
    /// 64 KiB are raised to 64 KiB.
    pub max_record_len: usize,
    /// Connections tracked at once. Opening one more first closes the least
    /// recently active eighth of them ([`CloseCause::Evicted`]); recently
    /// closed 4-tuples are remembered up to the same number. Default
    /// 100 000.
    pub max_connections: usize,
    /// Report a hole as soon as the peer acknowledges bytes beyond it
    /// ([`GapCause::AckedNotCaptured`]), instead of waiting for close, window
    /// or end of file. Faster and cheaper on lossy captures, but trusts the
    /// ACK numbers in the file. Default false.
    pub ack_gaps: bool,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        CaptureConfig {
            broker_ports: vec![9092],
            only_broker_ports: false,
            window: 4 << 20,
            max_buffered_total: 64 << 20,
            max_record_len: 1 << 20,
            max_connections: 100_000,
            ack_gaps: false,
        }
    }
}

/// Counters kept by a [`CaptureReader`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Packet records read (pcap records, pcapng EPB and SPB).
    pub frames: u64,
    /// Frames decoded down to a TCP segment.
    pub tcp_segments: u64,
    /// Frames skipped (one [`CaptureEvent::Skipped`] each).
    pub skipped: u64,
    /// Skipped frames by [`SkipReason::label`].
    pub skipped_by_reason: BTreeMap<&'static str, u64>,
    /// Connections opened.
    pub connections: u64,
    /// Stream bytes delivered in [`CaptureEvent::Data`].
    pub bytes_delivered: u64,
    /// [`CaptureEvent::Gap`] events.
    pub gaps: u64,
    /// Bytes reported missing by gaps.
    pub gap_bytes: u64,
    /// Payload bytes dropped as retransmissions or overlaps.
    pub duplicate_bytes: u64,
    /// Frames cut by the snap length whose IP length field was 0 (TSO/GSO), so
    /// that the record's original length alone gave the missing bytes.
    pub ip_length_zero: u64,
    /// Frames whose record and IP header disagreed on the length
    /// ([`CaptureEvent::LengthMismatch`]).
    pub length_mismatches: u64,
    /// Segments without payload that arrived after their connection closed
    /// (final ACKs and the like), and resets of connections never seen;
    /// ignored without an event.
    pub ignored_segments: u64,
}
