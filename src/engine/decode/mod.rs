//! Packet decoding: from a captured frame of any supported link type, through VLAN and other
//! tags, MPLS, PPPoE and tunnels (GRE and what it carries, VXLAN, GENEVE, GTP-U, L2TP, CAPWAP,
//! LISP, Teredo, IP-in-IP, EtherIP; docs/encapsulations.md has the list), down to the TCP
//! segment inside. Every read is bounds-checked; bad input yields [`Outcome::Undecodable`] with a
//! reason, never a panic; a header whose payload is not decoded is named
//! ([`Undecodable::Unsupported`]) so the summary can count the frame under that name. Decoding
//! borrows from the frame and allocates nothing.

mod fast;
mod ip;
mod layer2;
mod link;
mod names;
mod tunnel;

pub use fast::{Tcp4, ethernet_ipv4_tcp};
pub use ip::{TcpFlags, tcp_checksum_ok};
pub use names::{Unsupported, ethertype_name};

use crate::model::{Direction, LinkType};
use std::fmt;
use std::net::IpAddr;

/// Tunnels, tags and labels nest; a crafted frame could nest them forever.
const MAX_LAYERS: usize = 16;
/// Encapsulations remembered per segment (deeper ones are still decoded, just not listed).
const MAX_ENCAPS: usize = 6;

/// One encapsulation a segment was found inside, outermost first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encap {
    Vlan(u16),
    Mpls(u32),
    Pppoe,
    Gre,
    Erspan,
    Vxlan(u32),
    Geneve(u32),
    GtpU(u32),
    Teredo,
    Ayiya,
    IpInIp,
    /// The rarer encapsulations (a fieldless enum keeps `Encap`, copied with every segment,
    /// at 8 bytes).
    Other(Tunnel),
}

/// The rarer encapsulations, each named by [`Tunnel::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tunnel {
    CiscoMetadata,
    Macsec,
    Trill,
    Nsh,
    Eoip,
    Wccp,
    VxlanGpe,
    MplsInUdp,
    L2tp,
    Capwap,
    Lisp,
    EtherIp,
}

impl Tunnel {
    pub fn name(self) -> &'static str {
        match self {
            Tunnel::Capwap => "capwap",
            Tunnel::CiscoMetadata => "cmd",
            Tunnel::Eoip => "eoip",
            Tunnel::EtherIp => "etherip",
            Tunnel::L2tp => "l2tp",
            Tunnel::Lisp => "lisp",
            Tunnel::Macsec => "macsec",
            Tunnel::MplsInUdp => "mpls-in-udp",
            Tunnel::Nsh => "nsh",
            Tunnel::Trill => "trill",
            Tunnel::VxlanGpe => "vxlan-gpe",
            Tunnel::Wccp => "wccp",
        }
    }
}

impl fmt::Display for Encap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Encap::Vlan(id) => write!(f, "vlan {id}"),
            Encap::Mpls(l) => write!(f, "mpls {l}"),
            Encap::Pppoe => f.write_str("pppoe"),
            Encap::Gre => f.write_str("gre"),
            Encap::Erspan => f.write_str("erspan"),
            Encap::Vxlan(v) => write!(f, "vxlan {v}"),
            Encap::Geneve(v) => write!(f, "geneve {v}"),
            Encap::GtpU(t) => write!(f, "gtp-u teid {t}"),
            Encap::Teredo => f.write_str("teredo"),
            Encap::Ayiya => f.write_str("ayiya"),
            Encap::IpInIp => f.write_str("ip-in-ip"),
            Encap::Other(t) => f.write_str(t.name()),
        }
    }
}

impl Encap {
    /// The kind without its identifier, for JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            Encap::Vlan(_) => "vlan",
            Encap::Mpls(_) => "mpls",
            Encap::Pppoe => "pppoe",
            Encap::Gre => "gre",
            Encap::Erspan => "erspan",
            Encap::Vxlan(_) => "vxlan",
            Encap::Geneve(_) => "geneve",
            Encap::GtpU(_) => "gtp-u",
            Encap::Teredo => "teredo",
            Encap::Ayiya => "ayiya",
            Encap::IpInIp => "ip-in-ip",
            Encap::Other(t) => t.name(),
        }
    }

    pub fn id(&self) -> Option<u32> {
        match *self {
            Encap::Vlan(v) => Some(u32::from(v)),
            Encap::Mpls(v) | Encap::Vxlan(v) | Encap::Geneve(v) | Encap::GtpU(v) => Some(v),
            _ => None,
        }
    }
}

/// What surrounds the segment: link-layer facts and encapsulations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Context {
    encaps: [Option<Encap>; MAX_ENCAPS],
    /// Direction from a Linux cooked header (`tcpdump -i any`).
    pub direction: Option<Direction>,
    /// Interface index from a LINUX_SLL2 header.
    pub ifindex: Option<u32>,
}

impl Context {
    /// No encapsulation, no link-layer facts (what [`Context::default`] gives), as a constant.
    pub const NONE: Context = Context {
        encaps: [None; MAX_ENCAPS],
        direction: None,
        ifindex: None,
    };

    fn push(&mut self, e: Encap) {
        if let Some(slot) = self.encaps.iter_mut().find(|s| s.is_none()) {
            *slot = Some(e);
        }
    }

    pub fn encaps(&self) -> impl Iterator<Item = Encap> + '_ {
        self.encaps.iter().map_while(|e| *e)
    }

    /// The innermost VLAN ID, which is what identifies the segment's network.
    pub fn vlan(&self) -> Option<u16> {
        self.encaps()
            .filter_map(|e| match e {
                Encap::Vlan(v) => Some(v),
                _ => None,
            })
            .last()
    }
}

/// A decoded TCP segment. Addresses and TTL are those of the innermost IP header.
#[derive(Debug, Clone, Copy)]
pub struct TcpSegment<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// IPv4 identification (absent for IPv6).
    pub ip_id: Option<u16>,
    pub options: &'a [u8],
    /// The TCP header and captured payload, as on the wire (for checksums and `--write`).
    pub raw: &'a [u8],
    /// The captured part of the payload.
    pub payload: &'a [u8],
    /// The payload length the IP header declares (may exceed what was captured).
    pub payload_len: u32,
    /// `Some(n)` when the snap length cut the TCP header after `n` of its 20 fixed bytes
    /// (14 to 19: ports, numbers and flags were captured; the window only from 16 on; options,
    /// checksum and payload never). Fields not captured read as 0 and must not be judged.
    pub header_cut: Option<u8>,
    pub ctx: Context,
}

/// Packets that decoded fine but carry no TCP segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NotTcp {
    Udp,
    Icmp,
    OtherIp,
    /// A non-first IP fragment: the TCP header is in the first one.
    Fragment,
    /// ESP or an encrypted 802.11 frame.
    Encrypted,
    /// ARP, LLDP, STP and other non-IP frames.
    NonIp,
}

impl NotTcp {
    pub fn as_str(self) -> &'static str {
        match self {
            NotTcp::Udp => "UDP",
            NotTcp::Icmp => "ICMP",
            NotTcp::OtherIp => "other IP protocols",
            NotTcp::Fragment => "non-first IP fragments",
            NotTcp::Encrypted => "encrypted (ESP, WEP/WPA)",
            NotTcp::NonIp => "non-IP (ARP, STP, …)",
        }
    }
}

/// Why a frame could not be decoded, in words fit for the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Undecodable {
    UnsupportedLink(LinkType),
    Truncated(&'static str),
    Malformed(&'static str),
    TooDeep,
    /// A header whose payload rsthound does not look inside, by its number.
    Unsupported(Unsupported),
}

impl fmt::Display for Undecodable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Undecodable::UnsupportedLink(l) => write!(f, "unsupported link type {l} ({})", l.0),
            Undecodable::Truncated(what) => write!(f, "truncated {what}"),
            Undecodable::Malformed(what) => write!(f, "malformed {what}"),
            Undecodable::TooDeep => write!(f, "more than {MAX_LAYERS} nested headers"),
            Undecodable::Unsupported(u) => u.fmt(f),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Outcome<'a> {
    Tcp(TcpSegment<'a>),
    NotTcp(NotTcp),
    Undecodable(Undecodable),
}

/// What the next header is, as the decoder walks inwards.
#[derive(Debug, Clone, Copy)]
enum Next<'a> {
    Link(LinkType, &'a [u8]),
    Ethernet(&'a [u8]),
    EtherType(u16, &'a [u8]),
    Llc(&'a [u8]),
    Ppp(&'a [u8]),
    /// IPv4 or IPv6, decided by the version nibble.
    Ip(&'a [u8]),
    NotTcp(NotTcp),
    /// The TCP header and what follows, with the payload length its IP header declares; the IP
    /// facts wait in the decoder's `IpInfo` so that this enum stays small (it is moved per layer).
    Tcp(&'a [u8], usize),
}

type Step<'a> = Result<Next<'a>, Undecodable>;

/// Decodes one frame down to TCP.
pub fn decode(link: LinkType, frame: &[u8]) -> Outcome<'_> {
    let mut ctx = Context::default();
    let mut ip = ip::IpInfo::default();
    let mut next = Next::Link(link, frame);
    // Fast path for untagged Ethernet, which is most traffic: straight to IP, skipping the
    // dispatch loop whose indirect jumps cost more than the parsing itself.
    if link == LinkType::ETHERNET
        && let Some(t) = be16(frame, 12)
        && (t == link::ETHERTYPE_IPV4 || t == link::ETHERTYPE_IPV6)
    {
        next = match ip::ip(&frame[14..], &mut ctx, &mut ip) {
            Ok(Next::Tcp(d, declared)) => return ip::tcp(d, declared, &ip, &ctx),
            Ok(n) => n,
            Err(e) => return Outcome::Undecodable(e),
        };
    }
    for _ in 0..=MAX_LAYERS {
        let step = match next {
            Next::Link(l, d) => link::link_layer(l, d, &mut ctx),
            Next::Ethernet(d) => link::ethernet(d, &mut ctx),
            Next::EtherType(t, d) => link::ethertype(t, d, &mut ctx),
            Next::Llc(d) => link::llc(d),
            Next::Ppp(d) => link::ppp(d),
            Next::Ip(d) => ip::ip(d, &mut ctx, &mut ip),
            Next::NotTcp(n) => return Outcome::NotTcp(n),
            Next::Tcp(d, declared) => return ip::tcp(d, declared, &ip, &ctx),
        };
        next = match step {
            Ok(n) => n,
            Err(e) => return Outcome::Undecodable(e),
        };
    }
    Outcome::Undecodable(Undecodable::TooDeep)
}

/// Bounds-checked big-endian reads; `None` past the end.
pub(crate) fn be16(d: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*d.get(o)?, *d.get(o + 1)?]))
}

pub(crate) fn be32(d: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_be_bytes(d.get(o..o + 4)?.try_into().ok()?))
}

#[cfg(test)]
mod tests;
