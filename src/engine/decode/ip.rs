//! IPv4 (options, fragments), IPv6 (extension headers) and the TCP header.

use super::{
    Context, Encap, Next, NotTcp, Outcome, Step, TcpSegment, Tunnel, Undecodable, be16, be32,
    tunnel,
};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const IPV4_MIN_HEADER: usize = 20;
const IPV6_HEADER: usize = 40;
const TCP_MIN_HEADER: usize = 20;
/// TCP header offsets: data offset and flags (two bytes), then the window.
const TCP_OFF_FLAGS: usize = 12;
const TCP_WINDOW: usize = 14;

const PROTO_ICMP: u8 = 1;
const PROTO_IPIP: u8 = 4;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const PROTO_IPV6: u8 = 41;
const PROTO_GRE: u8 = 47;
const PROTO_ESP: u8 = 50;
const PROTO_AH: u8 = 51;
const PROTO_ICMPV6: u8 = 58;
const PROTO_ETHERIP: u8 = 97;
const PROTO_MPLS_IN_IP: u8 = 137;
const PROTO_ETHERNET: u8 = 143;
const ETHERIP_HEADER: usize = 2;

/// TCP flag bits (the low 9 bits of the data-offset/flags word).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(pub u16);

impl TcpFlags {
    pub const FIN: u16 = 0x001;
    pub const SYN: u16 = 0x002;
    pub const RST: u16 = 0x004;
    pub const PSH: u16 = 0x008;
    pub const ACK: u16 = 0x010;
    pub const URG: u16 = 0x020;
    pub const ECE: u16 = 0x040;
    pub const CWR: u16 = 0x080;
    pub const AE: u16 = 0x100;

    pub fn has(self, bit: u16) -> bool {
        self.0 & bit != 0
    }
    pub fn rst(self) -> bool {
        self.has(Self::RST)
    }
    pub fn syn(self) -> bool {
        self.has(Self::SYN)
    }
    pub fn fin(self) -> bool {
        self.has(Self::FIN)
    }
    pub fn ack(self) -> bool {
        self.has(Self::ACK)
    }
    /// None of SYN, FIN and RST: a segment that neither opens nor closes anything.
    #[inline]
    pub fn plain(self) -> bool {
        self.0 & (Self::SYN | Self::FIN | Self::RST) == 0
    }
    /// The flags without SYN, FIN and RST (the same flags, for a [`TcpFlags::plain`] segment).
    #[inline]
    pub fn masked_plain(self) -> TcpFlags {
        TcpFlags(self.0 & !(Self::SYN | Self::FIN | Self::RST))
    }
}

impl TcpFlags {
    /// tcpdump's notation and order: `F S R P . U E W e`, where `.` is ACK; `none` if empty.
    pub fn letters(self) -> ([u8; 9], usize) {
        const LETTERS: [(u16, u8); 9] = [
            (TcpFlags::FIN, b'F'),
            (TcpFlags::SYN, b'S'),
            (TcpFlags::RST, b'R'),
            (TcpFlags::PSH, b'P'),
            (TcpFlags::ACK, b'.'),
            (TcpFlags::URG, b'U'),
            (TcpFlags::ECE, b'E'),
            (TcpFlags::CWR, b'W'),
            (TcpFlags::AE, b'e'),
        ];
        let mut out = [0u8; 9];
        if self.0 & 0x1ff == 0 {
            out[..4].copy_from_slice(b"none");
            return (out, 4);
        }
        let mut n = 0;
        for (bit, c) in LETTERS {
            if self.has(bit) {
                out[n] = c;
                n += 1;
            }
        }
        (out, n)
    }
}

impl fmt::Display for TcpFlags {
    /// See [`TcpFlags::letters`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (letters, n) = self.letters();
        // Only ASCII is ever stored.
        f.write_str(std::str::from_utf8(&letters[..n]).unwrap_or("?"))
    }
}

/// The innermost IP header's facts, kept aside while the walk goes on.
pub(super) struct IpInfo {
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
    ip_id: Option<u16>,
}

impl Default for IpInfo {
    fn default() -> Self {
        IpInfo {
            src: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            dst: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            ttl: 0,
            ip_id: None,
        }
    }
}

pub(super) fn ip<'a>(d: &'a [u8], ctx: &mut Context, out: &mut IpInfo) -> Step<'a> {
    match d.first().map(|b| b >> 4) {
        Some(4) => ipv4(d, ctx, out),
        Some(6) => ipv6(d, ctx, out),
        Some(_) => Err(Undecodable::Malformed(
            "IP header (version is neither 4 nor 6)",
        )),
        None => Err(Undecodable::Truncated("IP header")),
    }
}

fn ipv4<'a>(d: &'a [u8], ctx: &mut Context, out: &mut IpInfo) -> Step<'a> {
    let h = d
        .get(..IPV4_MIN_HEADER)
        .ok_or(Undecodable::Truncated("IPv4 header"))?;
    let ihl = usize::from(h[0] & 0x0f) * 4;
    if ihl < IPV4_MIN_HEADER {
        return Err(Undecodable::Malformed(
            "IPv4 header (header length below 20)",
        ));
    }
    if d.len() < ihl {
        return Err(Undecodable::Truncated("IPv4 options"));
    }
    let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
    // Segmentation offload on the capturing host leaves total length 0: trust the capture.
    let end = if total == 0 {
        d.len()
    } else if total < ihl {
        return Err(Undecodable::Malformed(
            "IPv4 header (total length shorter than header)",
        ));
    } else {
        total.min(d.len())
    };
    let declared = if total == 0 {
        d.len() - ihl
    } else {
        total - ihl
    };
    let frag = u16::from_be_bytes([h[6], h[7]]);
    if frag & 0x1fff != 0 {
        return Ok(Next::NotTcp(NotTcp::Fragment));
    }
    *out = IpInfo {
        src: IpAddr::V4(Ipv4Addr::new(h[12], h[13], h[14], h[15])),
        dst: IpAddr::V4(Ipv4Addr::new(h[16], h[17], h[18], h[19])),
        ttl: h[8],
        ip_id: Some(u16::from_be_bytes([h[4], h[5]])),
    };
    transport(h[9], &d[ihl..end], declared, ctx)
}

fn ipv6<'a>(d: &'a [u8], ctx: &mut Context, out: &mut IpInfo) -> Step<'a> {
    let h = d
        .get(..IPV6_HEADER)
        .ok_or(Undecodable::Truncated("IPv6 header"))?;
    let plen = usize::from(u16::from_be_bytes([h[4], h[5]]));
    let body = &d[IPV6_HEADER..];
    // Zero means a jumbogram or segmentation offload: trust the capture.
    let (mut body, mut declared) = if plen == 0 {
        (body, body.len())
    } else {
        (&body[..plen.min(body.len())], plen)
    };
    let mut src = [0u8; 16];
    let mut dst = [0u8; 16];
    src.copy_from_slice(&h[8..24]);
    dst.copy_from_slice(&h[24..40]);
    *out = IpInfo {
        src: IpAddr::V6(Ipv6Addr::from(src)),
        dst: IpAddr::V6(Ipv6Addr::from(dst)),
        ttl: h[7],
        ip_id: None,
    };
    let mut next = h[6];
    for _ in 0..super::MAX_LAYERS {
        let len = match next {
            // Hop-by-hop, routing, destination options, mobility, HIP, shim6.
            0 | 43 | 60 | 135 | 139 | 140 => {
                usize::from(
                    *body
                        .get(1)
                        .ok_or(Undecodable::Truncated("IPv6 extension header"))?,
                ) * 8
                    + 8
            }
            44 => {
                let off = be16(body, 2).ok_or(Undecodable::Truncated("IPv6 fragment header"))?;
                if off >> 3 != 0 {
                    return Ok(Next::NotTcp(NotTcp::Fragment));
                }
                8
            }
            51 => {
                usize::from(
                    *body
                        .get(1)
                        .ok_or(Undecodable::Truncated("IPv6 AH header"))?,
                ) * 4
                    + 8
            }
            _ => return transport(next, body, declared, ctx),
        };
        next = *body
            .first()
            .ok_or(Undecodable::Truncated("IPv6 extension header"))?;
        body = body
            .get(len..)
            .ok_or(Undecodable::Truncated("IPv6 extension header"))?;
        declared = declared.saturating_sub(len);
    }
    Err(Undecodable::TooDeep)
}

fn transport<'a>(proto: u8, d: &'a [u8], declared: usize, ctx: &mut Context) -> Step<'a> {
    if proto == PROTO_GRE {
        return tunnel::gre(d, ctx);
    }
    if proto == PROTO_AH {
        // IPv4 authentication header: its own length field, then the next protocol.
        let next = *d.first().ok_or(Undecodable::Truncated("AH header"))?;
        let len = usize::from(*d.get(1).ok_or(Undecodable::Truncated("AH header"))?) * 4 + 8;
        let rest = d.get(len..).ok_or(Undecodable::Truncated("AH header"))?;
        if next == PROTO_AH {
            return Err(Undecodable::Malformed("AH header (nested AH)"));
        }
        return transport(next, rest, declared.saturating_sub(len), ctx);
    }
    match proto {
        PROTO_TCP => Ok(Next::Tcp(d, declared)),
        PROTO_UDP => Ok(tunnel::udp(d, ctx)),
        PROTO_IPIP | PROTO_IPV6 => {
            ctx.push(Encap::IpInIp);
            Ok(Next::Ip(d))
        }
        PROTO_ICMP | PROTO_ICMPV6 => Ok(Next::NotTcp(NotTcp::Icmp)),
        // RFC 3378 EtherIP: a 2-byte header (version 3), then an Ethernet frame.
        PROTO_ETHERIP => {
            ctx.push(Encap::Other(Tunnel::EtherIp));
            Ok(Next::Ethernet(
                d.get(ETHERIP_HEADER..)
                    .ok_or(Undecodable::Truncated("EtherIP header"))?,
            ))
        }
        // RFC 4023 MPLS-in-IP.
        PROTO_MPLS_IN_IP => Ok(Next::EtherType(0x8847, d)),
        // Ethernet directly in IPv6 (RFC 8986's next header 143, SRv6 L2 services).
        PROTO_ETHERNET => Ok(Next::Ethernet(d)),
        PROTO_ESP => Ok(Next::NotTcp(NotTcp::Encrypted)),
        _ => Ok(Next::NotTcp(NotTcp::OtherIp)),
    }
}

/// Builds the segment once the walk has reached TCP.
pub(super) fn tcp<'a>(d: &'a [u8], declared: usize, ip: &IpInfo, ctx: &Context) -> Outcome<'a> {
    // Without the flags byte there is nothing to count; with it (a snap length cutting the
    // fixed header, as tshark still counts it) ports, numbers and flags are known.
    let Some(&[off, flag_bits]) = d.get(TCP_OFF_FLAGS..TCP_OFF_FLAGS + 2) else {
        return Outcome::Undecodable(Undecodable::Truncated("TCP header"));
    };
    let off_flags = u16::from_be_bytes([off, flag_bits]);
    let hlen = usize::from(off_flags >> 12) * 4;
    if hlen < TCP_MIN_HEADER {
        return Outcome::Undecodable(Undecodable::Malformed("TCP header (data offset below 5)"));
    }
    let header_cut = (d.len() < TCP_MIN_HEADER).then_some(d.len() as u8);
    // A header cut short by the snap length still tells us ports, numbers and flags.
    let options = d.get(TCP_MIN_HEADER..hlen.min(d.len())).unwrap_or(&[]);
    let payload = d.get(hlen..).unwrap_or(&[]);
    Outcome::Tcp(TcpSegment {
        src: ip.src,
        dst: ip.dst,
        sport: u16::from_be_bytes([d[0], d[1]]),
        dport: u16::from_be_bytes([d[2], d[3]]),
        seq: be32(d, 4).unwrap_or(0),
        ack: be32(d, 8).unwrap_or(0),
        flags: TcpFlags(off_flags & 0x01ff),
        window: be16(d, TCP_WINDOW).unwrap_or(0),
        ttl: ip.ttl,
        ip_id: ip.ip_id,
        options,
        raw: d,
        payload,
        payload_len: declared.saturating_sub(hlen) as u32,
        header_cut,
        ctx: *ctx,
    })
}

/// Verifies the TCP checksum over the pseudo-header, when the whole segment was captured.
/// `None` when it cannot be checked (cut by the snap length). Captures taken on the sending host
/// often show bad checksums because the NIC fills them in later (offload), so this is a test aid
/// and a Zeek-compatibility switch, not a filter `read` applies.
pub fn tcp_checksum_ok(seg: &TcpSegment<'_>) -> Option<bool> {
    if seg.header_cut.is_some() {
        return None;
    }
    let hlen = seg.raw.len() - seg.payload.len();
    let total = hlen + seg.payload_len as usize;
    if seg.raw.len() < total {
        return None;
    }
    // The pseudo-header: both addresses, then protocol and length.
    let mut addrs = [0u8; 32];
    let n = match (seg.src, seg.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            addrs[..4].copy_from_slice(&s.octets());
            addrs[4..8].copy_from_slice(&d.octets());
            8
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            addrs[..16].copy_from_slice(&s.octets());
            addrs[16..].copy_from_slice(&d.octets());
            32
        }
        _ => return None,
    };
    let mut sum = u64::from(PROTO_TCP) + total as u64;
    for c in addrs[..n].chunks(2).chain(seg.raw[..total].chunks(2)) {
        sum += u64::from(if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from(c[0]) << 8
        });
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    Some(sum == 0xffff)
}
