//! The rarer Ethertypes that carry IP in real networks, between the Ethernet header and IP:
//! Cisco MetaData (TrustSec SGT tags), the redundancy tags of HSR and 802.1CB, integrity-only
//! MACsec, TRILL, the Network Service Header and jumbo LLC. Anything else is named and counted
//! as not decoded (or, for link control such as ARP and LLDP, as non-IP) by [`super::names`].
//! Only reached once the common Ethertypes (IP, VLAN, MPLS, PPPoE, …) have been ruled out, so
//! the hot path pays nothing for them.

use super::{Context, Encap, Next, NotTcp, Step, Tunnel, Undecodable, be16};

const ETHERTYPE_CISCO_METADATA: u16 = 0x8909;
const ETHERTYPE_HSR: u16 = 0x892f;
const ETHERTYPE_RTAG: u16 = 0xf1c1;
const ETHERTYPE_MACSEC: u16 = 0x88e5;
const ETHERTYPE_TRILL: u16 = 0x22f3;
pub(super) const ETHERTYPE_NSH: u16 = 0x894f;
const ETHERTYPE_LLC: u16 = 0x8870;

/// Cisco MetaData on Ethernet: version, length, option type, SGT, then the frame's own type.
const CMD_ETHERTYPE: usize = 6;
/// HSR and 802.1CB R-TAG: path/size (or reserved) and sequence number, then the frame's type.
const SEQ_TAG_ETHERTYPE: usize = 4;
/// MACsec SecTAG: TCI/AN, short length, packet number, and the 8-byte SCI when TCI.SC is set.
const SECTAG_LEN: usize = 6;
const SCI_LEN: usize = 8;
const TCI_SC: u8 = 0x20;
const TCI_E: u8 = 0x08;
const TCI_C: u8 = 0x04;
/// TRILL: version/flags/option length/hop count, egress and ingress nicknames.
const TRILL_HEADER: usize = 6;
/// NSH base header length field, in 4-byte words.
const NSH_LEN_MASK: u8 = 0x3f;

fn truncated(what: &'static str) -> Undecodable {
    Undecodable::Truncated(what)
}

pub(super) fn ethertype<'a>(t: u16, d: &'a [u8], ctx: &mut Context) -> Step<'a> {
    match t {
        ETHERTYPE_CISCO_METADATA => {
            let inner = be16(d, CMD_ETHERTYPE).ok_or(truncated("Cisco MetaData header"))?;
            ctx.push(Encap::Other(Tunnel::CiscoMetadata));
            Ok(Next::EtherType(inner, &d[CMD_ETHERTYPE + 2..]))
        }
        ETHERTYPE_HSR | ETHERTYPE_RTAG => {
            let what = if t == ETHERTYPE_HSR {
                "HSR tag"
            } else {
                "802.1CB R-TAG"
            };
            let inner = be16(d, SEQ_TAG_ETHERTYPE).ok_or(truncated(what))?;
            Ok(Next::EtherType(inner, &d[SEQ_TAG_ETHERTYPE + 2..]))
        }
        ETHERTYPE_MACSEC => macsec(d, ctx),
        ETHERTYPE_TRILL => {
            let h = d.get(..TRILL_HEADER).ok_or(truncated("TRILL header"))?;
            let options = usize::from((u16::from_be_bytes([h[0], h[1]]) >> 6) & 0x1f) * 4;
            ctx.push(Encap::Other(Tunnel::Trill));
            Ok(Next::Ethernet(
                d.get(TRILL_HEADER + options..)
                    .ok_or(truncated("TRILL options"))?,
            ))
        }
        ETHERTYPE_NSH => nsh(d, ctx),
        ETHERTYPE_LLC => Ok(Next::Llc(d)),
        _ => super::names::other_ethertype(t),
    }
}

/// 802.1AE: an encrypted (or modified) payload is out of reach; an integrity-only one is the
/// frame's own Ethertype and payload, with the 16-byte ICV after it (IP's length excludes it).
fn macsec<'a>(d: &'a [u8], ctx: &mut Context) -> Step<'a> {
    let tci = *d.first().ok_or(truncated("MACsec SecTAG"))?;
    ctx.push(Encap::Other(Tunnel::Macsec));
    if tci & (TCI_E | TCI_C) != 0 {
        return Ok(Next::NotTcp(NotTcp::Encrypted));
    }
    let len = SECTAG_LEN + if tci & TCI_SC != 0 { SCI_LEN } else { 0 };
    let inner = be16(d, len).ok_or(truncated("MACsec SecTAG"))?;
    Ok(Next::EtherType(inner, &d[len + 2..]))
}

/// RFC 8300 Network Service Header: base header with its total length, then the next protocol.
pub(super) fn nsh<'a>(d: &'a [u8], ctx: &mut Context) -> Step<'a> {
    let h = d.get(..8).ok_or(truncated("NSH header"))?;
    if h[0] >> 6 != 0 {
        return Err(Undecodable::Malformed("NSH header (version is not 0)"));
    }
    let len = usize::from(h[1] & NSH_LEN_MASK) * 4;
    if len < 8 {
        return Err(Undecodable::Malformed("NSH header (length below 8)"));
    }
    let rest = d.get(len..).ok_or(truncated("NSH header"))?;
    ctx.push(Encap::Other(Tunnel::Nsh));
    match h[3] {
        1 | 2 => Ok(Next::Ip(rest)),
        3 => Ok(Next::Ethernet(rest)),
        4 => Ok(Next::EtherType(ETHERTYPE_NSH, rest)),
        5 => Ok(Next::EtherType(0x8847, rest)),
        _ => Ok(Next::NotTcp(NotTcp::NonIp)),
    }
}
