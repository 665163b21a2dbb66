//! Tunnels whose inner packets may hold the RST we look for: GRE (with ERSPAN types I–III and
//! PPTP's enhanced GRE), and UDP-carried VXLAN, GENEVE, GTP-U and Teredo. UDP tunnels are only
//! entered when the header validates, so ordinary traffic on those ports stays "UDP".

use super::link::{ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_TEB};
use super::{Context, Encap, Next, NotTcp, Step, Tunnel, Undecodable, be16, be32};

const UDP_HEADER: usize = 8;
const PORT_VXLAN: u16 = 4789;
const PORT_VXLAN_LINUX: u16 = 8472;
const PORT_GENEVE: u16 = 6081;
const PORT_GTP_U: u16 = 2152;
const PORT_TEREDO: u16 = 3544;
const PORT_AYIYA: u16 = 5072;
const PORT_GRE_IN_UDP: u16 = 4754;
const PORT_VXLAN_GPE: u16 = 4790;
const PORT_MPLS_IN_UDP: u16 = 6635;
const PORT_L2TP: u16 = 1701;
const PORT_CAPWAP_DATA: u16 = 5247;
const PORT_LISP_DATA: u16 = 4341;

const GRE_ARUBA_FIRST: u16 = 0x8200;
const GRE_ARUBA_LAST: u16 = 0x8370;
const GRE_MIKROTIK_EOIP: u16 = 0x6400;
const GRE_FRAME_RELAY: u16 = 0x6559;
const GRE_WCCP: u16 = 0x883e;
const GRE_CISCO_METADATA: u16 = 0x8909;
const WCCP_REDIRECT_HEADER: usize = 4;
/// Type, version, length, option type and SGT.
const CMD_IN_GRE_LEN: usize = 8;
const LISP_HEADER: usize = 8;

pub(super) fn gre<'a>(d: &'a [u8], ctx: &mut Context) -> Step<'a> {
    let flags = be16(d, 0).ok_or(Undecodable::Truncated("GRE header"))?;
    let proto = be16(d, 2).ok_or(Undecodable::Truncated("GRE header"))?;
    let version = flags & 0x7;
    let mut len = 4;
    if flags & 0x8000 != 0 || flags & 0x4000 != 0 {
        len += 4; // checksum (+ reserved), or routing offset
    }
    if flags & 0x2000 != 0 {
        len += 4; // key (PPTP: payload length + call id)
    }
    let has_seq = flags & 0x1000 != 0;
    if has_seq {
        len += 4;
    }
    if version == 1 && flags & 0x0080 != 0 {
        len += 4; // PPTP acknowledgment number
    }
    if flags & 0x4000 != 0 {
        return Err(Undecodable::Malformed(
            "GRE header (source routing is not supported)",
        ));
    }
    let rest = d.get(len..).ok_or(Undecodable::Truncated("GRE header"))?;
    ctx.push(Encap::Gre);
    match proto {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => Ok(Next::Ip(rest)),
        ETHERTYPE_TEB => Ok(Next::Ethernet(rest)),
        // PPTP carries PPP, usually with the HDLC address and control bytes.
        0x880b => Ok(Next::Ppp(super::link::strip_hdlc_address(rest))),
        // ERSPAN type II has an 8-byte header when GRE carries a sequence number; type I has none.
        0x88be => {
            ctx.push(Encap::Erspan);
            let skip = if has_seq { 8 } else { 0 };
            Ok(Next::Ethernet(
                rest.get(skip..)
                    .ok_or(Undecodable::Truncated("ERSPAN header"))?,
            ))
        }
        // ERSPAN type III: 12 bytes, plus an 8-byte platform subheader when the O bit is set.
        0x22eb => {
            ctx.push(Encap::Erspan);
            let b = *rest
                .get(11)
                .ok_or(Undecodable::Truncated("ERSPAN III header"))?;
            let skip = if b & 0x01 != 0 { 20 } else { 12 };
            Ok(Next::Ethernet(
                rest.get(skip..)
                    .ok_or(Undecodable::Truncated("ERSPAN III header"))?,
            ))
        }
        0x8847 | 0x8848 => Ok(Next::EtherType(proto, rest)),
        // Aruba access points tunnel raw 802.11 frames to their controller, one protocol number
        // per tunnel kind, 0x8200 to 0x8370 in steps of 0x10 (tshark registers all 24).
        GRE_ARUBA_FIRST..=GRE_ARUBA_LAST if proto & 0xf == 0 => super::link::ieee80211(rest),
        // MikroTik EoIP: version-1 GRE whose key holds length and tunnel id, then Ethernet.
        GRE_MIKROTIK_EOIP => {
            ctx.push(Encap::Other(Tunnel::Eoip));
            Ok(Next::Ethernet(rest))
        }
        GRE_FRAME_RELAY => super::link::frame_relay(rest),
        // WCCP redirection: IPv4, after a 4-byte redirect header in WCCPv2 (told apart as tshark
        // does: by whether an IPv4 header starts at once).
        GRE_WCCP => {
            ctx.push(Encap::Other(Tunnel::Wccp));
            let first = *rest.first().ok_or(Undecodable::Truncated("WCCP payload"))?;
            let skip = if first >> 4 == 4 {
                0
            } else {
                WCCP_REDIRECT_HEADER
            };
            Ok(Next::Ip(
                rest.get(skip..)
                    .ok_or(Undecodable::Truncated("WCCP redirect header"))?,
            ))
        }
        // Cisco MetaData in GRE: the payload's type first, then version, length, option, SGT.
        GRE_CISCO_METADATA => {
            let inner = be16(rest, 0).ok_or(Undecodable::Truncated("Cisco MetaData header"))?;
            ctx.push(Encap::Other(Tunnel::CiscoMetadata));
            let body = rest
                .get(CMD_IN_GRE_LEN..)
                .ok_or(Undecodable::Truncated("Cisco MetaData header"))?;
            Ok(match inner {
                ETHERTYPE_TEB => Next::Ethernet(body),
                _ => Next::EtherType(inner, body),
            })
        }
        super::layer2::ETHERTYPE_NSH => super::layer2::nsh(rest, ctx),
        _ => super::names::other_gre(proto),
    }
}

/// A UDP datagram: a tunnel when the ports and header say so, plain UDP otherwise.
pub(super) fn udp<'a>(d: &'a [u8], ctx: &mut Context) -> Next<'a> {
    let plain = Next::NotTcp(NotTcp::Udp);
    let (Some(sport), Some(dport)) = (be16(d, 0), be16(d, 2)) else {
        return plain;
    };
    let Some(body) = d.get(UDP_HEADER..) else {
        return plain;
    };
    let is = |p: u16| sport == p || dport == p;
    let inner = if dport == PORT_VXLAN || dport == PORT_VXLAN_LINUX {
        vxlan(body, ctx)
    } else if dport == PORT_GENEVE {
        geneve(body, ctx)
    } else if is(PORT_GTP_U) {
        gtp_u(body, ctx)
    } else if is(PORT_TEREDO) {
        teredo(body, ctx)
    } else if is(PORT_AYIYA) {
        ayiya(body, ctx)
    } else if dport == PORT_GRE_IN_UDP {
        // RFC 8086: a GRE header directly in UDP.
        gre(body, ctx).ok()
    } else if dport == PORT_VXLAN_GPE {
        vxlan_gpe(body, ctx)
    } else if dport == PORT_MPLS_IN_UDP {
        // RFC 7510: a label stack directly in UDP.
        ctx.push(Encap::Other(Tunnel::MplsInUdp));
        Some(Next::EtherType(0x8847, body))
    } else if is(PORT_L2TP) {
        l2tp(body, ctx)
    } else if dport == PORT_CAPWAP_DATA || sport == PORT_CAPWAP_DATA {
        capwap_data(body, ctx)
    } else if dport == PORT_LISP_DATA {
        lisp(body, ctx)
    } else {
        teredo_by_shape(body, ctx)
    };
    inner.unwrap_or(plain)
}

fn vxlan<'a>(d: &'a [u8], ctx: &mut Context) -> Option<Next<'a>> {
    let h = d.get(..8)?;
    // The I flag must be set; reserved bits in the first word are zero in practice.
    if h[0] & 0x08 == 0 {
        return None;
    }
    ctx.push(Encap::Vxlan(be32(h, 4)? >> 8));
    Some(Next::Ethernet(&d[8..]))
}

fn geneve<'a>(d: &'a [u8], ctx: &mut Context) -> Option<Next<'a>> {
    let h = d.get(..8)?;
    if h[0] >> 6 != 0 {
        return None; // unknown version
    }
    let opt_len = usize::from(h[0] & 0x3f) * 4;
    let proto = be16(h, 2)?;
    let inner = d.get(8 + opt_len..)?;
    ctx.push(Encap::Geneve(be32(h, 4)? >> 8));
    Some(match proto {
        ETHERTYPE_TEB => Next::Ethernet(inner),
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => Next::Ip(inner),
        _ => Next::NotTcp(NotTcp::NonIp),
    })
}

fn gtp_u<'a>(d: &'a [u8], ctx: &mut Context) -> Option<Next<'a>> {
    let h = d.get(..8)?;
    // Version 1, protocol type GTP; only T-PDUs (type 255) carry user packets.
    if h[0] >> 5 != 1 || h[0] & 0x10 == 0 {
        return None;
    }
    let teid = be32(h, 4)?;
    if h[1] != 0xff {
        ctx.push(Encap::GtpU(teid));
        return Some(Next::NotTcp(NotTcp::Udp));
    }
    let mut off = 8;
    if h[0] & 0x07 != 0 {
        // Sequence number, N-PDU number and next-extension type are present together.
        let mut next_ext = *d.get(11)?;
        off = 12;
        let mut guard = 0;
        while next_ext != 0 {
            let len = usize::from(*d.get(off)?) * 4;
            if len == 0 || guard > 16 {
                return None;
            }
            next_ext = *d.get(off + len - 1)?;
            off += len;
            guard += 1;
        }
    }
    let inner = d.get(off..)?;
    match inner.first()? >> 4 {
        4 | 6 => {
            ctx.push(Encap::GtpU(teid));
            Some(Next::Ip(inner))
        }
        _ => None,
    }
}

fn teredo<'a>(d: &'a [u8], ctx: &mut Context) -> Option<Next<'a>> {
    let mut d = d;
    // Optional authentication (0x0001) and origin indication (0x0000) headers.
    if d.get(..2)? == [0x00, 0x01] {
        let id_len = usize::from(*d.get(2)?);
        let auth_len = usize::from(*d.get(3)?);
        d = d.get(4 + id_len + auth_len + 9..)?;
    }
    if d.get(..2)? == [0x00, 0x00] {
        d = d.get(8..)?;
    }
    if d.first()? >> 4 != 6 || d.len() < 40 {
        return None;
    }
    ctx.push(Encap::Teredo);
    Some(Next::Ip(d))
}

/// AYIYA ("anything in anything", SixXS): identity and signature of announced lengths, then the
/// inner packet when the opcode is "forward".
fn ayiya<'a>(d: &'a [u8], ctx: &mut Context) -> Option<Next<'a>> {
    let h = d.get(..8)?;
    let identity_len = 1usize << (h[0] >> 4);
    let signature_len = usize::from(h[1] >> 4) * 4;
    let opcode = h[2] & 0x0f;
    if opcode != 1 || !(h[3] == 4 || h[3] == 41) {
        return None;
    }
    let inner = d.get(8 + identity_len + signature_len..)?;
    ctx.push(Encap::Ayiya);
    Some(Next::Ip(inner))
}

/// Teredo relays use ephemeral ports, so a datagram that is exactly one IPv6 packet (version 6,
/// payload length matching the datagram) is taken as Teredo wherever it travels, as Zeek does
/// for confirmed Teredo flows.
fn teredo_by_shape<'a>(d: &'a [u8], ctx: &mut Context) -> Option<Next<'a>> {
    if d.len() < 40 || d[0] >> 4 != 6 {
        return None;
    }
    let plen = usize::from(be16(d, 4)?);
    if plen + 40 != d.len() {
        return None;
    }
    ctx.push(Encap::Teredo);
    Some(Next::Ip(d))
}

/// VXLAN-GPE (draft-ietf-nvo3-vxlan-gpe): the P flag says a next-protocol byte is present.
fn vxlan_gpe<'a>(d: &'a [u8], ctx: &mut Context) -> Option<Next<'a>> {
    let h = d.get(..8)?;
    if h[0] & 0x08 == 0 {
        return None; // no VNI: not VXLAN-GPE
    }
    ctx.push(Encap::Other(Tunnel::VxlanGpe));
    let inner = &d[8..];
    if h[0] & 0x04 == 0 {
        return Some(Next::Ethernet(inner));
    }
    Some(match h[3] {
        1 | 2 => Next::Ip(inner),
        3 => Next::Ethernet(inner),
        4 => Next::EtherType(super::layer2::ETHERTYPE_NSH, inner),
        5 => Next::EtherType(0x8847, inner),
        _ => Next::NotTcp(NotTcp::Udp),
    })
}

/// L2TPv2 (RFC 2661) data messages carry PPP; control messages (T bit) and L2TPv3 stay UDP.
fn l2tp<'a>(d: &'a [u8], ctx: &mut Context) -> Option<Next<'a>> {
    let flags = be16(d, 0)?;
    const T: u16 = 0x8000;
    const L: u16 = 0x4000;
    const S: u16 = 0x0800;
    const O: u16 = 0x0200;
    if flags & 0x000f != 2 || flags & T != 0 {
        return None;
    }
    let mut off = 2;
    if flags & L != 0 {
        off += 2;
    }
    off += 4; // tunnel and session ids
    if flags & S != 0 {
        off += 4;
    }
    if flags & O != 0 {
        off += 2 + usize::from(be16(d, off)?);
    }
    let ppp = d.get(off..)?;
    ctx.push(Encap::Other(Tunnel::L2tp));
    Some(Next::Ppp(super::link::strip_hdlc_address(ppp)))
}

/// CAPWAP data channel (RFC 5415): an IEEE 802.11 frame when the T bit says "native" and the
/// binding is 802.11, an Ethernet frame otherwise. Fragments and keep-alives carry no frame
/// we can read whole.
fn capwap_data<'a>(d: &'a [u8], ctx: &mut Context) -> Option<Next<'a>> {
    let h = d.get(..8)?;
    if h[0] != 0 {
        return None; // preamble: version 0, type 0 (not DTLS)
    }
    let hlen = usize::from(h[1] >> 3) * 4;
    let wbid = (h[2] >> 1) & 0x1f;
    let native = h[2] & 0x01 != 0;
    let fragment = h[3] & 0x80 != 0;
    let keepalive = h[3] & 0x08 != 0;
    if hlen < 8 {
        return None;
    }
    let inner = d.get(hlen..)?;
    ctx.push(Encap::Other(Tunnel::Capwap));
    if keepalive {
        return Some(Next::NotTcp(NotTcp::Udp));
    }
    if fragment {
        return Some(Next::NotTcp(NotTcp::Fragment));
    }
    if native && wbid == 1 {
        // Cisco controllers send the frame control field byte-swapped, and tshark swaps it
        // back by default (`capwap.swap_fc`); a frame that only reads as data unswapped is
        // taken unswapped.
        let fc = inner.get(..2)?;
        let is_data = |b: u8| (b >> 2) & 3 == 2;
        let fc = if !is_data(fc[1]) && is_data(fc[0]) {
            [fc[0], fc[1]]
        } else {
            [fc[1], fc[0]]
        };
        return Some(super::link::ieee80211_fc(fc, inner).unwrap_or(Next::NotTcp(NotTcp::Udp)));
    }
    Some(Next::Ethernet(inner))
}

/// LISP data plane (RFC 9300): an 8-byte header (flags, nonce, instance), then an IP packet.
fn lisp<'a>(d: &'a [u8], ctx: &mut Context) -> Option<Next<'a>> {
    let inner = d.get(LISP_HEADER..)?;
    if !matches!(inner.first().map(|b| b >> 4), Some(4 | 6)) {
        return None;
    }
    ctx.push(Encap::Other(Tunnel::Lisp));
    Some(Next::Ip(inner))
}
