//! Frame decoding: link layer → IP → TCP, using `etherparse`'s lax slicing
//! so that frames cut by the snap length still yield what was captured.

use std::net::{IpAddr, SocketAddr};

use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, LinkSlice, TransportSlice};

use super::{linktype, LengthMismatch, SkipReason};

/// A decoded TCP segment, borrowing its payload from the frame.
#[derive(Debug)]
pub(crate) struct TcpSegment<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    /// Acknowledgment number, when the ACK flag is set.
    pub ack: Option<u32>,
    pub syn: bool,
    pub fin: bool,
    pub rst: bool,
    /// The captured payload.
    pub payload: &'a [u8],
    /// Payload bytes the packet had but the capture cut off (snap length): from the
    /// record's original length, cross-checked with the IP length (see [`LengthCheck`]).
    pub missing: u64,
    /// How the two lengths compared.
    pub check: LengthCheck,
}

/// How the TCP payload length the capture record implies (its original length less the
/// headers) compared with the one the IP header declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LengthCheck {
    /// They agree, or nothing was cut and nothing is in doubt.
    Agree,
    /// The IP length field is 0 (TSO/GSO: the packet was captured before the NIC split it),
    /// so the record's original length alone gives the length.
    IpLengthZero,
    /// They disagree (reported as a [`CaptureEvent::LengthMismatch`](super::CaptureEvent)).
    Mismatch(LengthMismatch),
}

/// Ethernet's shortest frame without FCS: shorter packets are padded to it, so bytes after
/// the IP packet in a frame this short are a trailer, not lost payload.
const ETHERNET_MIN_FRAME: u64 = 64;

const SLL_HEADER_LEN: usize = 16;
const SLL2_HEADER_LEN: usize = 20;
const LOOPBACK_HEADER_LEN: usize = 4;

/// Address family values used by the loopback link types.
const AF_INET: u32 = 2;
/// AF_INET6 differs between systems: Linux, NetBSD/OpenBSD, FreeBSD, macOS.
const AF_INET6: [u32; 4] = [10, 24, 28, 30];

fn malformed(layer: &'static str, detail: impl ToString) -> SkipReason {
    SkipReason::Malformed {
        layer,
        detail: detail.to_string(),
    }
}

/// Names the layer at which etherparse stopped.
fn layer_name(layer: etherparse::err::Layer) -> &'static str {
    use etherparse::err::Layer as L;
    match layer {
        L::IpHeader
        | L::Ipv4Header
        | L::Ipv4Packet
        | L::IpAuthHeader
        | L::Ipv6Header
        | L::Ipv6Packet
        | L::Ipv6ExtHeader
        | L::Ipv6HopByHopHeader
        | L::Ipv6DestOptionsHeader
        | L::Ipv6RouteHeader
        | L::Ipv6FragHeader => "ip",
        L::TcpHeader => "tcp",
        _ => "link",
    }
}

/// Why slicing stopped: a header the snap length cut (`cut`: the record is shorter than the
/// packet, and what failed is a length check) or a malformed one.
fn stopped(p: &LaxSlicedPacket<'_>, cut: bool) -> Option<SkipReason> {
    p.stop_err.as_ref().map(|(e, layer)| {
        if cut && matches!(e, etherparse::err::packet::SliceError::Len(_)) {
            SkipReason::CutBySnaplen {
                layer: layer_name(*layer),
            }
        } else {
            malformed(layer_name(*layer), e)
        }
    })
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

/// Slices a frame of the given link type down to TCP. `orig_len` is the packet's original
/// length as the capture record gives it (pcap `orig_len`, pcapng EPB original packet
/// length).
pub(crate) fn decode_frame(
    link: u32,
    data: &[u8],
    orig_len: u64,
) -> Result<TcpSegment<'_>, SkipReason> {
    let packet = match link {
        linktype::ETHERNET => {
            LaxSlicedPacket::from_ethernet(data).map_err(|e| malformed("link", e))?
        }
        linktype::LINUX_SLL => {
            // Linux cooked v1: packet type, ARPHRD type, address length,
            // 8 address bytes, protocol. The protocol is an EtherType for the
            // hardware types that carry IP (Ethernet, loopback, tun, ...).
            // Parsed here rather than with etherparse, which rejects the
            // loopback and "none" hardware types that local Kafka traffic
            // uses.
            let proto =
                be16(data, 14).ok_or_else(|| malformed("link", "truncated Linux cooked header"))?;
            LaxSlicedPacket::from_ether_type(EtherType(proto), &data[SLL_HEADER_LEN..])
        }
        linktype::LINUX_SLL2 => {
            // Linux cooked v2: protocol first, then reserved, interface
            // index, ARPHRD type, packet type, address length, 8 address bytes.
            if data.len() < SLL2_HEADER_LEN {
                return Err(malformed("link", "truncated Linux cooked v2 header"));
            }
            let proto = be16(data, 0).unwrap_or(0);
            LaxSlicedPacket::from_ether_type(EtherType(proto), &data[SLL2_HEADER_LEN..])
        }
        linktype::NULL | linktype::LOOP => {
            let header: [u8; 4] = data
                .get(..LOOPBACK_HEADER_LEN)
                .and_then(|h| h.try_into().ok())
                .ok_or_else(|| malformed("link", "truncated loopback header"))?;
            let family = if link == linktype::LOOP {
                u32::from_be_bytes(header)
            } else {
                // Host byte order of the machine that captured: a value
                // above 0xffff means the other order.
                let v = u32::from_le_bytes(header);
                if v > 0xffff {
                    v.swap_bytes()
                } else {
                    v
                }
            };
            if family != AF_INET && !AF_INET6.contains(&family) {
                return Err(SkipReason::NotIp(family));
            }
            LaxSlicedPacket::from_ip(&data[LOOPBACK_HEADER_LEN..])
                .map_err(|e| malformed("ip", e))?
        }
        linktype::RAW | linktype::IPV4 | linktype::IPV6 => {
            LaxSlicedPacket::from_ip(data).map_err(|e| malformed("ip", e))?
        }
        other => return Err(SkipReason::UnsupportedLinkType(other)),
    };
    tcp_of(&packet, data, orig_len, link == linktype::ETHERNET)
}

/// The EtherType of the innermost link header, for "not IP" reports.
fn ether_type_of(p: &LaxSlicedPacket<'_>) -> u32 {
    let outer = match &p.link {
        Some(LinkSlice::Ethernet2(e)) => Some(e.ether_type()),
        Some(LinkSlice::EtherPayload(e)) => Some(e.ether_type),
        _ => None,
    };
    let inner = match &p.vlan {
        Some(etherparse::VlanSlice::SingleVlan(v)) => Some(v.ether_type()),
        Some(etherparse::VlanSlice::DoubleVlan(v)) => Some(v.inner().ether_type()),
        None => None,
    };
    inner.or(outer).map_or(0, |t| u32::from(t.0))
}

/// Where `inner` starts in `outer` (`inner` is a subslice of `outer`).
fn offset_in(outer: &[u8], inner: &[u8]) -> u64 {
    (inner.as_ptr() as usize).saturating_sub(outer.as_ptr() as usize) as u64
}

/// The TCP payload bytes the packet had that the capture does not hold, and how the
/// record's and the IP header's accounts of it compare. `payload_at` is where the TCP
/// payload starts in the frame, `captured` how much of it the frame holds, `ip_tcp` the
/// payload length the IP header declares (`None` when its length field is 0).
fn missing_bytes(
    frame_len: u64,
    orig_len: u64,
    payload_at: u64,
    captured: u64,
    ip_tcp: Option<u64>,
    ethernet: bool,
) -> (u64, LengthCheck) {
    if orig_len < frame_len {
        // A record claiming fewer bytes than it holds: damaged; the IP header alone counts.
        let missing = ip_tcp.map_or(0, |ip| ip.saturating_sub(captured));
        return (
            missing,
            LengthCheck::Mismatch(LengthMismatch::RecordShorterThanCaptured {
                orig_len,
                captured: frame_len,
            }),
        );
    }
    let record_tcp = orig_len.saturating_sub(payload_at);
    let record_missing = record_tcp.saturating_sub(captured);
    let Some(ip) = ip_tcp else {
        return (
            record_missing,
            if record_missing > 0 {
                LengthCheck::IpLengthZero
            } else {
                LengthCheck::Agree
            },
        );
    };
    if ip == record_tcp {
        return (record_missing, LengthCheck::Agree);
    }
    if ip < record_tcp && (ip <= captured || (ethernet && orig_len <= ETHERNET_MIN_FRAME)) {
        // Bytes after the IP packet: a link-layer trailer (Ethernet padding, FCS), not
        // payload; whatever of the IP packet is missing is what the IP header says.
        return (ip.saturating_sub(captured), LengthCheck::Agree);
    }
    (
        record_missing,
        LengthCheck::Mismatch(LengthMismatch::IpAndRecord {
            ip,
            record: record_tcp,
        }),
    )
}

/// The 20-byte fixed TCP header when the capture cut the frame inside the TCP options (a
/// SYN's options with `-s 68`): ports, sequence and acknowledgment numbers and flags are
/// there; the payload is all missing.
fn cut_tcp_header(
    ip_payload: &[u8],
    src: IpAddr,
    dst: IpAddr,
) -> Option<(SocketAddr, SocketAddr, u32, Option<u32>, u8, u64)> {
    let h: &[u8; 20] = ip_payload.first_chunk::<20>()?;
    let header_len = u64::from(h[12] >> 4) * 4;
    if header_len < 20 || header_len as usize <= ip_payload.len() {
        // A header that claims less than the minimum, or one that was captured whole (so
        // not cut by the snap length: etherparse rejected it for another reason).
        return None;
    }
    let flags = h[13];
    let ack_flag = flags & 0x10 != 0;
    let seq = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
    let ack = u32::from_be_bytes([h[8], h[9], h[10], h[11]]);
    Some((
        SocketAddr::new(src, u16::from_be_bytes([h[0], h[1]])),
        SocketAddr::new(dst, u16::from_be_bytes([h[2], h[3]])),
        seq,
        ack_flag.then_some(ack),
        flags,
        header_len,
    ))
}

fn tcp_of<'a>(
    p: &LaxSlicedPacket<'a>,
    frame: &'a [u8],
    orig_len: u64,
    ethernet: bool,
) -> Result<TcpSegment<'a>, SkipReason> {
    let cut = orig_len > frame.len() as u64;
    let net = match &p.net {
        Some(net) => net,
        None => {
            return Err(stopped(p, cut).unwrap_or_else(|| SkipReason::NotIp(ether_type_of(p))));
        }
    };
    let (src, dst, declared_ip_payload, exts_len) = match net {
        LaxNetSlice::Ipv4(v4) => {
            let h = v4.header();
            let ihl = usize::from(h.ihl()) * 4;
            // A total length of 0 (TSO/GSO) declares nothing: `None` below.
            let declared = usize::from(h.total_len()).saturating_sub(ihl);
            let exts = v4.extensions().auth.map_or(0, |a| a.slice().len());
            (
                IpAddr::V4(h.source_addr()),
                IpAddr::V4(h.destination_addr()),
                declared,
                exts,
            )
        }
        LaxNetSlice::Ipv6(v6) => {
            let h = v6.header();
            (
                IpAddr::V6(h.source_addr()),
                IpAddr::V6(h.destination_addr()),
                usize::from(h.payload_length()),
                v6.extensions().slice().len(),
            )
        }
        LaxNetSlice::Arp(_) => return Err(SkipReason::NotIp(0x0806)),
    };
    let ip_payload = match net {
        LaxNetSlice::Ipv4(v4) => v4.payload(),
        LaxNetSlice::Ipv6(v6) => v6.payload(),
        LaxNetSlice::Arp(_) => return Err(SkipReason::NotIp(0x0806)),
    };
    if ip_payload.fragmented {
        return Err(SkipReason::IpFragment);
    }
    if ip_payload.ip_number != etherparse::IpNumber::TCP {
        if let Some(reason) = stopped(p, cut) {
            return Err(reason);
        }
        return Err(SkipReason::NotTcp(ip_payload.ip_number.0));
    }
    // The IP length field, unless it is 0 (or shorter than the IP header): then the
    // slice's length stood in for it.
    let ip_declares =
        ip_payload.len_source != etherparse::LenSource::Slice || ip_payload.incomplete;
    let frame_len = frame.len() as u64;
    let tcp = match &p.transport {
        Some(TransportSlice::Tcp(tcp)) => tcp,
        _ => {
            if let (true, Some((src, dst, seq, ack, flags, header_len))) =
                (cut, cut_tcp_header(ip_payload.payload, src, dst))
            {
                let payload_at = offset_in(frame, ip_payload.payload) + header_len;
                let ip_tcp = ip_declares.then(|| {
                    (declared_ip_payload.saturating_sub(exts_len) as u64).saturating_sub(header_len)
                });
                let (missing, check) =
                    missing_bytes(frame_len, orig_len, payload_at, 0, ip_tcp, ethernet);
                return Ok(TcpSegment {
                    src,
                    dst,
                    seq,
                    ack,
                    syn: flags & 0x02 != 0,
                    fin: flags & 0x01 != 0,
                    rst: flags & 0x04 != 0,
                    payload: &[],
                    missing,
                    check,
                });
            }
            return Err(stopped(p, cut).unwrap_or_else(|| malformed("tcp", "no TCP header")));
        }
    };
    let payload = tcp.payload();
    let ip_tcp = ip_declares.then(|| {
        (declared_ip_payload.saturating_sub(exts_len) as u64)
            .saturating_sub(tcp.header_len() as u64)
    });
    let (missing, check) = missing_bytes(
        frame_len,
        orig_len,
        offset_in(frame, payload),
        payload.len() as u64,
        ip_tcp,
        ethernet,
    );
    Ok(TcpSegment {
        src: SocketAddr::new(src, tcp.source_port()),
        dst: SocketAddr::new(dst, tcp.destination_port()),
        seq: tcp.sequence_number(),
        ack: tcp.ack().then(|| tcp.acknowledgment_number()),
        syn: tcp.syn(),
        fin: tcp.fin(),
        rst: tcp.rst(),
        payload,
        missing,
        check,
    })
}

#[cfg(test)]
mod tests {
    use super::{missing_bytes, LengthCheck, LengthMismatch};

    // Frames of 14 (Ethernet) + 20 (IPv4) + 20 (TCP) header bytes: the payload starts at 54.

    #[test]
    fn lengths_that_agree() {
        // 1054-byte packet cut at 96: 42 payload bytes kept, 958 missing by both accounts.
        assert_eq!(
            missing_bytes(96, 1054, 54, 42, Some(1000), true),
            (958, LengthCheck::Agree)
        );
        // Whole frame: nothing missing.
        assert_eq!(
            missing_bytes(1054, 1054, 54, 1000, Some(1000), true),
            (0, LengthCheck::Agree)
        );
    }

    #[test]
    fn ip_length_zero_leaves_the_record_to_decide() {
        assert_eq!(
            missing_bytes(96, 65_590, 54, 42, None, true),
            (65_494, LengthCheck::IpLengthZero)
        );
        // Nothing cut: nothing to report.
        assert_eq!(
            missing_bytes(96, 96, 54, 42, None, true),
            (0, LengthCheck::Agree)
        );
    }

    #[test]
    fn ethernet_padding_is_a_trailer_not_payload() {
        // 1 payload byte padded to the 60-byte minimum, captured whole (the IP payload ends
        // at 55; 5 padding bytes follow), and the same frame cut at 58 by a snap length.
        assert_eq!(
            missing_bytes(60, 60, 54, 1, Some(1), true),
            (0, LengthCheck::Agree)
        );
        assert_eq!(
            missing_bytes(58, 60, 54, 1, Some(1), true),
            (0, LengthCheck::Agree)
        );
        // A short frame cut inside its payload: the IP length says how much is missing.
        assert_eq!(
            missing_bytes(55, 60, 54, 1, Some(4), true),
            (3, LengthCheck::Agree)
        );
    }

    #[test]
    fn disagreement_is_reported_and_the_record_wins() {
        assert_eq!(
            missing_bytes(96, 1054, 54, 42, Some(2000), true),
            (
                958,
                LengthCheck::Mismatch(LengthMismatch::IpAndRecord {
                    ip: 2000,
                    record: 1000
                })
            )
        );
        // The IP header claims less than the record, and the cut is inside the IP packet:
        // not a trailer (the frame is long), so the record decides too.
        assert_eq!(
            missing_bytes(96, 1054, 54, 42, Some(500), false),
            (
                958,
                LengthCheck::Mismatch(LengthMismatch::IpAndRecord {
                    ip: 500,
                    record: 1000
                })
            )
        );
    }

    #[test]
    fn record_shorter_than_its_bytes_is_ignored() {
        assert_eq!(
            missing_bytes(96, 50, 54, 42, Some(1000), true),
            (
                958,
                LengthCheck::Mismatch(LengthMismatch::RecordShorterThanCaptured {
                    orig_len: 50,
                    captured: 96
                })
            )
        );
    }
}
