//! Link layers and the layer-2.5 headers between them and IP: Ethernet with VLAN stacks, LLC/SNAP,
//! Linux cooked (SLL, SLL2), BSD loopback, PPP and PPPoE, Cisco HDLC, Frame Relay, FDDI,
//! 802.11 data frames (plain, radiotap, PPI), NFLOG, MPLS.

use super::{Context, Encap, Next, NotTcp, Step, Undecodable, be16, be32};
use crate::model::{Direction, LinkType};

const ETH_HEADER_LEN: usize = 14;
const SLL_HEADER_LEN: usize = 16;
const SLL2_HEADER_LEN: usize = 20;

pub(super) const ETHERTYPE_IPV4: u16 = 0x0800;
pub(super) const ETHERTYPE_IPV6: u16 = 0x86dd;
pub(super) const ETHERTYPE_TEB: u16 = 0x6558;

fn truncated(what: &'static str) -> Undecodable {
    Undecodable::Truncated(what)
}

fn done<'a>(n: NotTcp) -> Step<'a> {
    Ok(Next::NotTcp(n))
}

pub(super) fn link_layer<'a>(link: LinkType, d: &'a [u8], ctx: &mut Context) -> Step<'a> {
    match link.0 {
        1 => Ok(Next::Ethernet(d)),
        // 802.3br mPacket: 7 bytes preamble and the SMD before an ordinary frame.
        274 => Ok(Next::Ethernet(
            d.get(8..).ok_or(truncated("mPacket preamble"))?,
        )),
        12 | 14 | 101 => Ok(Next::Ip(d)),
        228 => Ok(Next::EtherType(super::link::ETHERTYPE_IPV4, d)),
        229 => Ok(Next::EtherType(ETHERTYPE_IPV6, d)),
        0 | 108 => null_loopback(link, d),
        113 => sll(d, ctx),
        276 => sll2(d, ctx),
        9 | 50 => Ok(Next::Ppp(strip_hdlc_address(d))),
        51 => pppoe_session(d.get(..).unwrap_or(&[]), ctx),
        104 => {
            // Cisco HDLC: address, control, then an Ethertype.
            let t = be16(d, 2).ok_or(truncated("Cisco HDLC header"))?;
            Ok(Next::EtherType(t, &d[4..]))
        }
        8 => Ok(Next::Ip(d.get(16..).ok_or(truncated("SLIP header"))?)),
        10 => {
            // FDDI: frame control, destination, source, then LLC.
            Ok(Next::Llc(d.get(13..).ok_or(truncated("FDDI header"))?))
        }
        107 => frame_relay(d),
        105 => ieee80211(d),
        127 => {
            let len = usize::from(u16::from_le_bytes([
                *d.get(2).ok_or(truncated("radiotap header"))?,
                *d.get(3).ok_or(truncated("radiotap header"))?,
            ]));
            ieee80211(d.get(len..).ok_or(truncated("radiotap header"))?)
        }
        192 => {
            // PPI: little-endian header length and the link type that follows.
            let h = d.get(..8).ok_or(truncated("PPI header"))?;
            let len = usize::from(u16::from_le_bytes([h[2], h[3]]));
            let inner = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
            if inner == 192 {
                return Err(Undecodable::Malformed("PPI header (nested PPI)"));
            }
            Ok(Next::Link(
                LinkType(inner),
                d.get(len..).ok_or(truncated("PPI header"))?,
            ))
        }
        239 => nflog(d),
        226 => {
            // Solaris ipnet: 24-byte header, address family in byte 1.
            let family = *d.get(1).ok_or(truncated("ipnet header"))?;
            let rest = d.get(24..).ok_or(truncated("ipnet header"))?;
            match family {
                2 | 26 => Ok(Next::Ip(rest)),
                _ => done(NotTcp::NonIp),
            }
        }
        258 => {
            // Apple PKTAP: host-order (little-endian in practice) header length and inner DLT.
            let h = d.get(..8).ok_or(truncated("PKTAP header"))?;
            let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
            let inner = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
            if inner == 258 || inner == 149 {
                return Err(Undecodable::Malformed("PKTAP header (nested PKTAP)"));
            }
            Ok(Next::Link(
                dlt_to_linktype(inner),
                d.get(len..).ok_or(truncated("PKTAP header"))?,
            ))
        }
        _ => Err(Undecodable::UnsupportedLink(link)),
    }
}

/// PKTAP carries DLT_ values; the few that differ from LINKTYPE_ values matter here.
fn dlt_to_linktype(dlt: u32) -> LinkType {
    match dlt {
        12 | 14 => LinkType::RAW,
        other => LinkType(other),
    }
}

fn null_loopback(link: LinkType, d: &[u8]) -> Step<'_> {
    let h = d.get(..4).ok_or(truncated("loopback header"))?;
    let family = if link == LinkType::LOOP {
        u32::from_be_bytes([h[0], h[1], h[2], h[3]])
    } else {
        // DLT_NULL is in the capturing host's byte order; families are small numbers, so the
        // order whose value fits in 16 bits is the right one.
        let le = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        if le <= 0xffff {
            le
        } else {
            u32::from_be_bytes([h[0], h[1], h[2], h[3]])
        }
    };
    match family {
        // AF_INET everywhere; AF_INET6 on NetBSD/OpenBSD (24), FreeBSD (28), Darwin (30).
        2 | 24 | 28 | 30 => Ok(Next::Ip(&d[4..])),
        // OSI and others.
        _ => done(NotTcp::NonIp),
    }
}

fn sll_direction(packet_type: u16) -> Option<Direction> {
    match packet_type {
        0..=3 => Some(Direction::In),
        4 => Some(Direction::Out),
        _ => None,
    }
}

/// ARPHRD types whose "protocol" field is not an Ethertype.
fn sll_payload<'a>(arphrd: u16, protocol: u16, rest: &'a [u8]) -> Step<'a> {
    match (arphrd, protocol) {
        // Netlink, CAN, IEEE 802.15.4 and other non-IP devices.
        (824 | 280 | 804 | 805, _) => done(NotTcp::NonIp),
        // ETH_P_802_2: an LLC header follows; ETH_P_802_3: Novell raw.
        (_, 0x0004) => Ok(Next::Llc(rest)),
        (_, 0x0001 | 0x0003 | 0x0005..=0x00ff) => done(NotTcp::NonIp),
        (_, t) => Ok(Next::EtherType(t, rest)),
    }
}

fn sll<'a>(d: &'a [u8], ctx: &mut Context) -> Step<'a> {
    let h = d
        .get(..SLL_HEADER_LEN)
        .ok_or(truncated("Linux cooked header"))?;
    let packet_type = u16::from_be_bytes([h[0], h[1]]);
    let arphrd = u16::from_be_bytes([h[2], h[3]]);
    let protocol = u16::from_be_bytes([h[14], h[15]]);
    ctx.direction = sll_direction(packet_type);
    sll_payload(arphrd, protocol, &d[SLL_HEADER_LEN..])
}

fn sll2<'a>(d: &'a [u8], ctx: &mut Context) -> Step<'a> {
    let h = d
        .get(..SLL2_HEADER_LEN)
        .ok_or(truncated("Linux cooked v2 header"))?;
    let protocol = u16::from_be_bytes([h[0], h[1]]);
    ctx.ifindex = Some(u32::from_be_bytes([h[4], h[5], h[6], h[7]]));
    let arphrd = u16::from_be_bytes([h[8], h[9]]);
    ctx.direction = sll_direction(u16::from(h[10]));
    sll_payload(arphrd, protocol, &d[SLL2_HEADER_LEN..])
}

pub(super) fn ethernet<'a>(d: &'a [u8], _ctx: &mut Context) -> Step<'a> {
    let t = be16(d, 12).ok_or(truncated("Ethernet header"))?;
    let rest = &d[ETH_HEADER_LEN..];
    if t <= 1500 {
        // 802.3 length field: an LLC header follows.
        return Ok(Next::Llc(rest));
    }
    Ok(Next::EtherType(t, rest))
}

pub(super) fn ethertype<'a>(t: u16, d: &'a [u8], ctx: &mut Context) -> Step<'a> {
    match t {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => Ok(Next::Ip(d)),
        // 802.1Q, 802.1ad and the pre-standard QinQ types.
        0x8100 | 0x88a8 | 0x9100 | 0x9200 | 0x9300 => {
            let tci = be16(d, 0).ok_or(truncated("VLAN tag"))?;
            let inner = be16(d, 2).ok_or(truncated("VLAN tag"))?;
            ctx.push(Encap::Vlan(tci & 0x0fff));
            if inner <= 1500 {
                return Ok(Next::Llc(&d[4..]));
            }
            Ok(Next::EtherType(inner, &d[4..]))
        }
        0x8847 | 0x8848 => mpls(d, ctx),
        0x8864 => pppoe_session(d, ctx),
        ETHERTYPE_TEB => Ok(Next::Ethernet(d)),
        // Cisco VN-Tag (fabric extenders, also between VLAN tags): a 4-byte tag, then the
        // frame's own type.
        0x8926 => {
            let inner = be16(d, 4).ok_or(truncated("VN-Tag"))?;
            Ok(Next::EtherType(inner, &d[6..]))
        }
        // IEEE 802.1BR E-Tag (port extenders): a 6-byte tag, then the frame's own type.
        0x893f => {
            let inner = be16(d, 6).ok_or(truncated("E-Tag"))?;
            Ok(Next::EtherType(inner, &d[8..]))
        }
        // 802.1ah provider backbone bridging: a 4-byte I-TAG, then the customer's frame.
        0x88e7 => Ok(Next::Ethernet(d.get(4..).ok_or(truncated("PBB I-TAG"))?)),
        // Cisco FabricPath: a 16-byte outer header (addresses, type, FTag/TTL) before the frame.
        0x8903 => Ok(Next::Ethernet(
            d.get(2..).ok_or(truncated("FabricPath header"))?,
        )),
        _ => super::layer2::ethertype(t, d, ctx),
    }
}

fn mpls<'a>(d: &'a [u8], ctx: &mut Context) -> Step<'a> {
    let mut off = 0;
    loop {
        let entry = be32(d, off).ok_or(truncated("MPLS label stack"))?;
        ctx.push(Encap::Mpls(entry >> 12));
        off += 4;
        if entry & 0x100 != 0 {
            break;
        }
        if off > 64 {
            return Err(Undecodable::Malformed(
                "MPLS label stack (no bottom of stack)",
            ));
        }
    }
    let rest = &d[off..];
    match rest.first().map(|b| b >> 4) {
        Some(4 | 6) => Ok(Next::Ip(rest)),
        // Ethernet pseudowire with a control word.
        Some(0) => Ok(Next::Ethernet(
            rest.get(4..).ok_or(truncated("MPLS control word"))?,
        )),
        Some(_) => done(NotTcp::NonIp),
        None => Err(truncated("MPLS payload")),
    }
}

fn pppoe_session<'a>(d: &'a [u8], ctx: &mut Context) -> Step<'a> {
    let h = d.get(..6).ok_or(truncated("PPPoE header"))?;
    if h[0] != 0x11 {
        return Err(Undecodable::Malformed(
            "PPPoE header (version/type is not 1/1)",
        ));
    }
    ctx.push(Encap::Pppoe);
    Ok(Next::Ppp(&d[6..]))
}

pub(super) fn strip_hdlc_address(d: &[u8]) -> &[u8] {
    match d {
        [0xff, 0x03, rest @ ..] => rest,
        _ => d,
    }
}

pub(super) fn ppp(d: &[u8]) -> Step<'_> {
    let first = *d.first().ok_or(truncated("PPP header"))?;
    // Protocol field compression: an odd first byte is a one-byte protocol.
    let (proto, rest) = if first & 1 == 1 {
        (u16::from(first), &d[1..])
    } else {
        (be16(d, 0).ok_or(truncated("PPP header"))?, &d[2..])
    };
    match proto {
        0x0021 | 0x0057 => Ok(Next::Ip(rest)),
        0x0281 | 0x0283 => Ok(Next::EtherType(0x8847, rest)),
        0x0031 => Ok(Next::Ethernet(
            rest.get(2..).ok_or(truncated("PPP bridged header"))?,
        )),
        _ => super::names::other_ppp(proto),
    }
}

pub(super) fn llc(d: &[u8]) -> Step<'_> {
    let h = d.get(..3).ok_or(truncated("LLC header"))?;
    match (h[0], h[1], h[2]) {
        (0xaa, 0xaa, 0x03) => {
            let t = be16(d, 6).ok_or(truncated("SNAP header"))?;
            // The PID is an Ethertype only under OUI 00-00-00 (RFC 1042) and 00-00-f8 (802.1H);
            // under a vendor's OUI it is the vendor's (Cisco's CDP, VTP, DTP, PVST+: control).
            if d[3..6] != [0, 0, 0] && d[3..6] != [0, 0, 0xf8] {
                return done(NotTcp::NonIp);
            }
            Ok(Next::EtherType(t, &d[8..]))
        }
        (0x06, 0x06, 0x03) => Ok(Next::Ip(&d[3..])),
        _ => done(NotTcp::NonIp),
    }
}

pub(super) fn frame_relay(d: &[u8]) -> Step<'_> {
    // Q.922 address (2 bytes), then either RFC 2427 (control 0x03 + NLPID) or Cisco's Ethertype.
    let rest = d.get(2..).ok_or(truncated("Frame Relay header"))?;
    match rest {
        [0x03, 0xcc, ip @ ..] => Ok(Next::EtherType(ETHERTYPE_IPV4, ip)),
        [0x03, 0x8e, ip @ ..] => Ok(Next::EtherType(ETHERTYPE_IPV6, ip)),
        [0x03, 0x00, 0x80, snap @ ..] | [0x03, 0x80, snap @ ..] => {
            let t = be16(snap, 3).ok_or(truncated("Frame Relay SNAP header"))?;
            Ok(Next::EtherType(t, &snap[5..]))
        }
        [0x03, ..] => done(NotTcp::NonIp),
        _ => {
            let t = be16(rest, 0).ok_or(truncated("Frame Relay header"))?;
            Ok(Next::EtherType(t, &rest[2..]))
        }
    }
}

pub(super) fn ieee80211(d: &[u8]) -> Step<'_> {
    let fc = d.get(..2).ok_or(truncated("802.11 header"))?;
    ieee80211_fc([fc[0], fc[1]], d)
}

/// An 802.11 frame whose frame control field is `fc` (Cisco's CAPWAP sends it byte-swapped).
pub(super) fn ieee80211_fc(fc: [u8; 2], d: &[u8]) -> Step<'_> {
    let frame_type = (fc[0] >> 2) & 3;
    let subtype = fc[0] >> 4;
    if frame_type != 2 {
        return done(NotTcp::NonIp); // management or control
    }
    if subtype & 0x4 != 0 {
        return done(NotTcp::NonIp); // null data: no body
    }
    let flags = fc[1];
    let mut len = 24;
    if flags & 0x03 == 0x03 {
        len += 6; // four addresses (WDS)
    }
    let qos = subtype & 0x8 != 0;
    let mut amsdu = false;
    if qos {
        amsdu = d.get(len).ok_or(truncated("802.11 QoS control"))? & 0x80 != 0;
        len += 2;
        if flags & 0x80 != 0 {
            len += 4; // HT control
        }
    }
    if flags & 0x40 != 0 {
        return done(NotTcp::Encrypted);
    }
    if amsdu {
        // An A-MSDU: the first subframe's header (DA, SA, length) precedes its LLC header.
        len += 14;
    }
    Ok(Next::Llc(d.get(len..).ok_or(truncated("802.11 header"))?))
}

fn nflog(d: &[u8]) -> Step<'_> {
    let family = *d.first().ok_or(truncated("NFLOG header"))?;
    if family != 2 && family != 10 {
        return done(NotTcp::NonIp);
    }
    let mut tlvs = d.get(4..).ok_or(truncated("NFLOG header"))?;
    // TLVs are in host byte order (little-endian on the hosts that write these files).
    while tlvs.len() >= 4 {
        let len = usize::from(u16::from_le_bytes([tlvs[0], tlvs[1]]));
        let kind = u16::from_le_bytes([tlvs[2], tlvs[3]]);
        if len < 4 {
            return Err(Undecodable::Malformed("NFLOG TLV (length below 4)"));
        }
        let value = tlvs.get(4..len).ok_or(truncated("NFLOG TLV"))?;
        if kind == 9 {
            return Ok(Next::Ip(value));
        }
        tlvs = tlvs.get(len.div_ceil(4) * 4..).unwrap_or(&[]);
    }
    done(NotTcp::NonIp)
}
