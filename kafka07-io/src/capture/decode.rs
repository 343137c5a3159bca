//! Frame decoding: link layer → IP → TCP, using `etherparse`'s lax slicing
//! so that frames cut by the snap length still yield what was captured.

use std::net::{IpAddr, SocketAddr};

use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, LinkSlice, TransportSlice};

use super::{linktype, SkipReason};

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
    /// Payload bytes the IP header declares but the capture cut off.
    pub missing: u64,
}

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

fn stopped(p: &LaxSlicedPacket<'_>) -> Option<SkipReason> {
    p.stop_err
        .as_ref()
        .map(|(e, layer)| malformed(layer_name(*layer), e))
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

/// Slices a frame of the given link type down to TCP.
pub(crate) fn decode_frame(link: u32, data: &[u8]) -> Result<TcpSegment<'_>, SkipReason> {
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
    tcp_of(&packet)
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

fn tcp_of<'a>(p: &LaxSlicedPacket<'a>) -> Result<TcpSegment<'a>, SkipReason> {
    let net = match &p.net {
        Some(net) => net,
        None => {
            return Err(stopped(p).unwrap_or_else(|| SkipReason::NotIp(ether_type_of(p))));
        }
    };
    let (src, dst, declared_ip_payload, exts_len) = match net {
        LaxNetSlice::Ipv4(v4) => {
            let h = v4.header();
            let ihl = usize::from(h.ihl()) * 4;
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
        if let Some(reason) = stopped(p) {
            return Err(reason);
        }
        return Err(SkipReason::NotTcp(ip_payload.ip_number.0));
    }
    let tcp = match &p.transport {
        Some(TransportSlice::Tcp(tcp)) => tcp,
        _ => {
            return Err(stopped(p).unwrap_or_else(|| malformed("tcp", "no TCP header")));
        }
    };
    let payload = tcp.payload();
    let missing = if ip_payload.incomplete {
        // The IP header declares more than was captured; everything after
        // the TCP header that is missing belongs to the TCP payload.
        let declared_tcp = declared_ip_payload
            .saturating_sub(exts_len)
            .saturating_sub(tcp.header_len());
        declared_tcp.saturating_sub(payload.len()) as u64
    } else {
        0
    };
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
    })
}
