//! Writing captures: pcap / pcapng files and synthesized TCP frames.
//!
//! Used by the tests and by test-capture tooling:
//!
//! ```
//! use kafka07_io::capture::writer::{write_pcap, FrameBuilder, TcpFlags};
//! use kafka07_io::capture::{linktype, CaptureReader, Timestamp};
//!
//! let client = "10.0.0.1:40000".parse().unwrap();
//! let server = "10.0.0.2:9092".parse().unwrap();
//! let c2s = FrameBuilder::new(linktype::ETHERNET, client, server).unwrap();
//! let frame = c2s.tcp(1000, 0, TcpFlags::ACK | TcpFlags::PSH, b"hello").unwrap();
//! let mut file = Vec::new();
//! write_pcap(&mut file, linktype::ETHERNET, &[(Timestamp::new(1, 0), frame)]).unwrap();
//! let events: Vec<_> = CaptureReader::new(&file[..]).unwrap().collect();
//! assert_eq!(events.len(), 3); // Open, Data, Close (end of capture)
//! ```

use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::ops::BitOr;

use etherparse::{PacketBuilder, PacketBuilderStep, TcpHeader};

use super::{linktype, CaptureFormat, Timestamp};

/// One packet record to write.
#[derive(Clone, Copy, Debug)]
pub struct PcapRecord<'a> {
    /// Capture timestamp.
    pub ts: Timestamp,
    /// Captured bytes.
    pub data: &'a [u8],
    /// Length of the packet on the wire; more than `data.len()` for a frame
    /// truncated by the snap length.
    pub orig_len: u32,
}

impl<'a> PcapRecord<'a> {
    /// A complete (untruncated) record.
    pub fn new(ts: Timestamp, data: &'a [u8]) -> PcapRecord<'a> {
        PcapRecord {
            ts,
            data,
            orig_len: u32::try_from(data.len()).unwrap_or(u32::MAX),
        }
    }

    /// A record whose first `caplen` bytes were captured (as with a snap
    /// length of `caplen`).
    pub fn truncated(ts: Timestamp, frame: &'a [u8], caplen: usize) -> PcapRecord<'a> {
        PcapRecord {
            ts,
            data: &frame[..caplen.min(frame.len())],
            orig_len: u32::try_from(frame.len()).unwrap_or(u32::MAX),
        }
    }
}

/// Layout of a written capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteOptions {
    /// pcap or pcapng.
    pub format: CaptureFormat,
    /// Write big-endian (the byte order of the file, not of the packets).
    pub big_endian: bool,
    /// Nanosecond timestamps (pcap: the nanosecond magic; pcapng:
    /// `if_tsresol` 9) instead of microseconds.
    pub nanosecond: bool,
    /// Snap length written in the header (pcap) or interface block (pcapng).
    pub snaplen: u32,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            format: CaptureFormat::Pcap,
            big_endian: false,
            nanosecond: false,
            snaplen: 262_144,
        }
    }
}

struct Out<W> {
    w: W,
    big_endian: bool,
}

impl<W: Write> Out<W> {
    fn u16(&mut self, v: u16) -> io::Result<()> {
        let b = if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.w.write_all(&b)
    }

    fn u32(&mut self, v: u32) -> io::Result<()> {
        let b = if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.w.write_all(&b)
    }

    fn bytes(&mut self, b: &[u8]) -> io::Result<()> {
        self.w.write_all(b)
    }
}

fn too_long() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "record too long for a capture file",
    )
}

/// Writes `records` as a capture file with the given link type.
pub fn write_capture<W: Write>(
    w: W,
    opts: &WriteOptions,
    linktype: u32,
    records: &[PcapRecord<'_>],
) -> io::Result<()> {
    let mut out = Out {
        w,
        big_endian: opts.big_endian,
    };
    match opts.format {
        CaptureFormat::Pcap => write_pcap_body(&mut out, opts, linktype, records),
        CaptureFormat::Pcapng => write_pcapng_body(&mut out, opts, linktype, records),
    }
}

fn write_pcap_body<W: Write>(
    out: &mut Out<W>,
    opts: &WriteOptions,
    linktype: u32,
    records: &[PcapRecord<'_>],
) -> io::Result<()> {
    out.u32(if opts.nanosecond {
        0xA1B2_3C4D
    } else {
        0xA1B2_C3D4
    })?;
    out.u16(2)?;
    out.u16(4)?;
    out.u32(0)?; // thiszone
    out.u32(0)?; // sigfigs
    out.u32(opts.snaplen)?;
    out.u32(linktype)?;
    for r in records {
        let caplen = u32::try_from(r.data.len()).map_err(|_| too_long())?;
        let sub = if opts.nanosecond {
            r.ts.micros.saturating_mul(1000)
        } else {
            r.ts.micros
        };
        out.u32(r.ts.secs)?;
        out.u32(sub)?;
        out.u32(caplen)?;
        out.u32(r.orig_len)?;
        out.bytes(r.data)?;
    }
    Ok(())
}

fn write_pcapng_body<W: Write>(
    out: &mut Out<W>,
    opts: &WriteOptions,
    linktype: u32,
    records: &[PcapRecord<'_>],
) -> io::Result<()> {
    // Section header block: no options, unknown section length.
    out.u32(0x0A0D_0D0A)?;
    out.u32(28)?;
    out.u32(0x1A2B_3C4D)?;
    out.u16(1)?;
    out.u16(0)?;
    out.u32(u32::MAX)?;
    out.u32(u32::MAX)?;
    out.u32(28)?;
    // Interface description block with if_tsresol.
    let linktype = u16::try_from(linktype)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "pcapng link types are 16-bit"))?;
    out.u32(1)?;
    out.u32(32)?;
    out.u16(linktype)?;
    out.u16(0)?;
    out.u32(opts.snaplen)?;
    out.u16(9)?; // if_tsresol
    out.u16(1)?;
    out.bytes(&[if opts.nanosecond { 9 } else { 6 }, 0, 0, 0])?;
    out.u32(0)?; // opt_endofopt
    out.u32(32)?;
    let per_sec: u64 = if opts.nanosecond {
        1_000_000_000
    } else {
        1_000_000
    };
    for r in records {
        let caplen = u32::try_from(r.data.len()).map_err(|_| too_long())?;
        let padded = r.data.len().div_ceil(4) * 4;
        let block_len = u32::try_from(32 + padded).map_err(|_| too_long())?;
        let units = u64::from(r.ts.secs) * per_sec + u64::from(r.ts.micros) * (per_sec / 1_000_000);
        out.u32(6)?;
        out.u32(block_len)?;
        out.u32(0)?; // interface id
        out.u32((units >> 32) as u32)?;
        out.u32(units as u32)?;
        out.u32(caplen)?;
        out.u32(r.orig_len)?;
        out.bytes(r.data)?;
        out.bytes(&[0u8; 3][..padded - r.data.len()])?;
        out.u32(block_len)?;
    }
    Ok(())
}

/// Writes a little-endian, microsecond pcap file of complete frames.
pub fn write_pcap<W: Write, B: AsRef<[u8]>>(
    w: W,
    linktype: u32,
    frames: &[(Timestamp, B)],
) -> io::Result<()> {
    let records: Vec<PcapRecord<'_>> = frames
        .iter()
        .map(|(ts, b)| PcapRecord::new(*ts, b.as_ref()))
        .collect();
    write_capture(w, &WriteOptions::default(), linktype, &records)
}

/// Writes a little-endian pcapng file (one section, one interface,
/// microsecond timestamps) of complete frames.
pub fn write_pcapng<W: Write, B: AsRef<[u8]>>(
    w: W,
    linktype: u32,
    frames: &[(Timestamp, B)],
) -> io::Result<()> {
    let records: Vec<PcapRecord<'_>> = frames
        .iter()
        .map(|(ts, b)| PcapRecord::new(*ts, b.as_ref()))
        .collect();
    let opts = WriteOptions {
        format: CaptureFormat::Pcapng,
        ..WriteOptions::default()
    };
    write_capture(w, &opts, linktype, &records)
}

/// TCP flags for [`FrameBuilder::tcp`]; combine with `|`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TcpFlags(u8);

impl TcpFlags {
    /// No flag.
    pub const NONE: TcpFlags = TcpFlags(0);
    /// FIN.
    pub const FIN: TcpFlags = TcpFlags(0x01);
    /// SYN.
    pub const SYN: TcpFlags = TcpFlags(0x02);
    /// RST.
    pub const RST: TcpFlags = TcpFlags(0x04);
    /// PSH.
    pub const PSH: TcpFlags = TcpFlags(0x08);
    /// ACK.
    pub const ACK: TcpFlags = TcpFlags(0x10);

    /// Whether every flag of `other` is set.
    pub fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for TcpFlags {
    type Output = TcpFlags;

    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | rhs.0)
    }
}

/// Why a frame could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Source and destination are not both IPv4 or both IPv6.
    #[error("source and destination must be of the same IP version")]
    MixedFamilies,
    /// [`FrameBuilder`] does not write this link type.
    #[error("cannot build frames of link type {0}")]
    UnsupportedLinkType(u32),
    /// `etherparse` refused the packet (for example, a payload too large).
    #[error("cannot build packet: {0}")]
    Packet(String),
}

/// Synthesizes frames of one direction of a TCP connection (Ethernet, raw
/// IP, Linux cooked SLL/SLL2 or loopback link types, IPv4 or IPv6), using
/// `etherparse`'s `PacketBuilder` for the IP and TCP headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameBuilder {
    linktype: u32,
    src: SocketAddr,
    dst: SocketAddr,
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
}

impl FrameBuilder {
    /// A builder for frames from `src` to `dst`.
    pub fn new(
        linktype: u32,
        src: SocketAddr,
        dst: SocketAddr,
    ) -> Result<FrameBuilder, BuildError> {
        if src.is_ipv4() != dst.is_ipv4() {
            return Err(BuildError::MixedFamilies);
        }
        match linktype {
            linktype::ETHERNET
            | linktype::RAW
            | linktype::LINUX_SLL
            | linktype::LINUX_SLL2
            | linktype::NULL
            | linktype::LOOP => {}
            linktype::IPV4 if src.is_ipv4() => {}
            linktype::IPV6 if src.is_ipv6() => {}
            other => return Err(BuildError::UnsupportedLinkType(other)),
        }
        Ok(FrameBuilder {
            linktype,
            src,
            dst,
            src_mac: [0x02, 0, 0, 0, 0, 0x01],
            dst_mac: [0x02, 0, 0, 0, 0, 0x02],
        })
    }

    /// The builder for the opposite direction.
    pub fn reverse(&self) -> FrameBuilder {
        FrameBuilder {
            linktype: self.linktype,
            src: self.dst,
            dst: self.src,
            src_mac: self.dst_mac,
            dst_mac: self.src_mac,
        }
    }

    /// The link type of the frames built.
    pub fn linktype(&self) -> u32 {
        self.linktype
    }

    /// Builds one TCP segment. `ack` is written whatever the flags; it is
    /// meaningful only with [`TcpFlags::ACK`].
    pub fn tcp(
        &self,
        seq: u32,
        ack: u32,
        flags: TcpFlags,
        payload: &[u8],
    ) -> Result<Vec<u8>, BuildError> {
        let mut tcp = TcpHeader::new(self.src.port(), self.dst.port(), seq, 65_535);
        tcp.acknowledgment_number = ack;
        tcp.syn = flags.contains(TcpFlags::SYN);
        tcp.ack = flags.contains(TcpFlags::ACK);
        tcp.fin = flags.contains(TcpFlags::FIN);
        tcp.rst = flags.contains(TcpFlags::RST);
        tcp.psh = flags.contains(TcpFlags::PSH);

        let v4 = self.src.is_ipv4();
        let mut frame = Vec::new();
        match self.linktype {
            linktype::ETHERNET => {
                let eth = PacketBuilder::ethernet2(self.src_mac, self.dst_mac);
                let step = match (self.src.ip(), self.dst.ip()) {
                    (IpAddr::V4(s), IpAddr::V4(d)) => eth.ipv4(s.octets(), d.octets(), 64),
                    (IpAddr::V6(s), IpAddr::V6(d)) => eth.ipv6(s.octets(), d.octets(), 64),
                    _ => return Err(BuildError::MixedFamilies),
                };
                write_tcp(step, tcp, payload, &mut frame)?;
                return Ok(frame);
            }
            linktype::LINUX_SLL => {
                frame.extend_from_slice(&4u16.to_be_bytes()); // sent by us
                frame.extend_from_slice(&772u16.to_be_bytes()); // ARPHRD_LOOPBACK
                frame.extend_from_slice(&6u16.to_be_bytes());
                frame.extend_from_slice(&self.src_mac);
                frame.extend_from_slice(&[0, 0]);
                frame.extend_from_slice(&ether_type(v4).to_be_bytes());
            }
            linktype::LINUX_SLL2 => {
                frame.extend_from_slice(&ether_type(v4).to_be_bytes());
                frame.extend_from_slice(&[0, 0]); // reserved
                frame.extend_from_slice(&1u32.to_be_bytes()); // interface index
                frame.extend_from_slice(&772u16.to_be_bytes());
                frame.push(4); // sent by us
                frame.push(6);
                frame.extend_from_slice(&self.src_mac);
                frame.extend_from_slice(&[0, 0]);
            }
            linktype::NULL => {
                // Written as by a little-endian macOS host.
                let af: u32 = if v4 { 2 } else { 30 };
                frame.extend_from_slice(&af.to_le_bytes());
            }
            linktype::LOOP => {
                let af: u32 = if v4 { 2 } else { 24 };
                frame.extend_from_slice(&af.to_be_bytes());
            }
            _ => {}
        }
        let step = match (self.src.ip(), self.dst.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => PacketBuilder::ipv4(s.octets(), d.octets(), 64),
            (IpAddr::V6(s), IpAddr::V6(d)) => PacketBuilder::ipv6(s.octets(), d.octets(), 64),
            _ => return Err(BuildError::MixedFamilies),
        };
        write_tcp(step, tcp, payload, &mut frame)?;
        Ok(frame)
    }
}

fn ether_type(v4: bool) -> u16 {
    if v4 {
        0x0800
    } else {
        0x86DD
    }
}

fn write_tcp(
    step: PacketBuilderStep<etherparse::IpHeaders>,
    tcp: TcpHeader,
    payload: &[u8],
    frame: &mut Vec<u8>,
) -> Result<(), BuildError> {
    step.tcp_header(tcp)
        .write(frame, payload)
        .map_err(|e| BuildError::Packet(e.to_string()))
}
