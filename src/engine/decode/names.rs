//! Names for the headers rsthound does not look inside, so that a frame it cannot decode is
//! counted under the name of what stopped it ("IPX (ethertype 0x8137)") instead of vanishing,
//! and the link-control protocols that never carry an IP packet (ARP, LLDP, LACP, …), which are
//! counted as non-IP. The Ethertype names are tshark's (TShark 4.0.17, `tshark -G decodes` joined
//! with `tshark -G protocols`, a few shortened: IPX, IS-IS, XNS IDP, AppleTalk); see
//! docs/encapsulations.md.

use super::{Next, NotTcp, Step, Undecodable};
use std::fmt;

/// A header whose payload rsthound does not decode, by its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Unsupported {
    EtherType(u16),
    /// GRE's protocol type: an Ethertype, or one of the GRE-only numbers below.
    GreProtocol(u16),
    PppProtocol(u16),
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Unsupported::EtherType(t) => match ethertype_name(t) {
                Some(n) => write!(f, "{n} (ethertype {t:#06x})"),
                None => write!(f, "unknown ethertype {t:#06x}"),
            },
            Unsupported::GreProtocol(p) => match gre_name(p).or_else(|| ethertype_name(p)) {
                Some(n) => write!(f, "{n} (GRE protocol {p:#06x})"),
                None => write!(f, "unknown GRE protocol {p:#06x}"),
            },
            Unsupported::PppProtocol(p) => match ppp_name(p) {
                Some(n) => write!(f, "{n} (PPP protocol {p:#06x})"),
                None => write!(f, "unknown PPP protocol {p:#06x}"),
            },
        }
    }
}

/// Link-control Ethertypes: protocols of the link itself, which never carry an IP packet.
const LINK_CONTROL: &[u16] = &[
    0x0806, // ARP
    0x0842, // Wake-on-LAN
    0x2000, // CDP (as Cisco HDLC carries it)
    0x22ea, // MSRP
    0x8035, // RARP
    0x80e1, // Device Level Ring
    0x8808, // MAC control (pause)
    0x8809, // slow protocols: LACP, marker, OAM
    0x8863, // PPPoE discovery
    0x888e, // 802.1X
    0x88c7, // 802.11i pre-authentication
    0x88cc, // LLDP
    0x88e3, // PROFINET MRP
    0x88ee, // E-LMI
    0x88f5, // MVRP
    0x88f6, // MMRP
    0x88f7, // PTP
    0x88fb, // HSR/PRP supervision
    0x8902, // CFM / Y.1731
    0x893a, // IEEE 1905.1
    0x8940, // Edge Control Protocol
    0x9000, // configuration test (loopback)
];

/// An Ethertype the decoder has no case for: link control is non-IP, anything else is counted
/// by name as not decoded.
pub(super) fn other_ethertype<'a>(t: u16) -> Step<'a> {
    if LINK_CONTROL.contains(&t) {
        Ok(Next::NotTcp(NotTcp::NonIp))
    } else {
        Err(Undecodable::Unsupported(Unsupported::EtherType(t)))
    }
}

/// A GRE protocol type the decoder has no case for: the tunnel's own control traffic (keepalives,
/// NHRP, CDP, bonding control, ARP) is non-IP; anything else is counted by name as not decoded.
pub(super) fn other_gre<'a>(p: u16) -> Step<'a> {
    match p {
        0x0000 | 0x0101 | 0x0806 | 0x2000 | 0x2001 | 0xb7ea => Ok(Next::NotTcp(NotTcp::NonIp)),
        _ => Err(Undecodable::Unsupported(Unsupported::GreProtocol(p))),
    }
}

/// A PPP protocol the decoder has no case for: LCP, the network control protocols and the
/// authentication protocols (0x8000 and up) are non-IP; a data protocol is not decoded.
pub(super) fn other_ppp<'a>(p: u16) -> Step<'a> {
    if p >= 0x8000 {
        Ok(Next::NotTcp(NotTcp::NonIp))
    } else {
        Err(Undecodable::Unsupported(Unsupported::PppProtocol(p)))
    }
}

pub fn ethertype_name(t: u16) -> Option<&'static str> {
    ETHERTYPE_NAMES
        .binary_search_by_key(&t, |&(n, _)| n)
        .ok()
        .map(|i| ETHERTYPE_NAMES[i].1)
}

fn gre_name(p: u16) -> Option<&'static str> {
    Some(match p {
        0x0000 => "GRE keepalive",
        0x00fe => "OSI",
        0x0101 | 0xb7ea => "GRE bonding",
        0x2000 => "Cisco Discovery Protocol",
        0x2001 => "NBMA Next Hop Resolution Protocol",
        0x8881 => "CDMA2000 A10, PPP in HDLC-like framing",
        0x88d2 => "3GPP2 A11, PPP in HDLC-like framing",
        0xfeae => "Aerohive",
        _ => return None,
    })
}

fn ppp_name(p: u16) -> Option<&'static str> {
    Some(match p {
        0x002b => "IPX",
        0x003d => "PPP Multilink",
        0x0059 => "PPP Multiplexing",
        0x0061 | 0x0063..=0x0067 => "CRTP",
        0x00fb | 0x00fd => "PPP Compressed Datagram",
        _ => return None,
    })
}

/// tshark's names for the Ethertypes it dissects, sorted by number.
static ETHERTYPE_NAMES: &[(u16, &str)] = &[
    (0x0600, "XNS IDP"),
    (0x0641, "Roofnet Protocol"),
    (0x0643, "Roofnet Protocol"),
    (0x0644, "Roofnet Protocol"),
    (0x0645, "Roofnet Protocol"),
    (0x0712, "Meraki Discovery Protocol"),
    (0x0713, "Meraki Discovery Protocol"),
    (0x0800, "Internet Protocol Version 4"),
    (0x0806, "Address Resolution Protocol"),
    (0x0842, "Wake On LAN"),
    (0x08f0, "WiMax Mac to Mac Packet"),
    (0x08ff, "Amateur Radio BPQ"),
    (0x0bad, "Banyan Vines IP"),
    (0x0baf, "Banyan Vines Echo"),
    (0x0c15, "C15 Call History Heartbeat Protocol"),
    (0x2001, "Cisco Group Management Protocol"),
    (0x2065, "CRTP (CS)"),
    (0x2067, "CRTP (CUDP 16)"),
    (0x22e5, "Gigamon Header"),
    (0x22ea, "Multiple Stream Reservation Protocol"),
    (0x22f0, "IEEE 1722 Audio Video Transport Protocol (AVTP)"),
    (0x22f1, "RObust Header Compression (ROHC)"),
    (0x22f3, "TRILL"),
    (0x22f4, "IS-IS"),
    (0x2323, "DECT Protocol"),
    (0x2452, "IEEE 802.11 wireless LAN (Centrino)"),
    (0x3e3f, "ETHERNET Powerlink V1.0"),
    (0x4305, "B.A.T.M.A.N. Advanced Protocol"),
    (0x4742, "C15 Call History Common Header Protocol"),
    (
        0x6000,
        "Link Access Procedure Balanced Ethernet (LAPBETHER)",
    ),
    (0x6003, "DEC DNA Routing Protocol"),
    (0x6004, "Local Area Transport"),
    (0x6558, "Ethernet"),
    (0x8021, "PPP IP Control Protocol"),
    (0x8023, "PPP OSI Network Layer Control Protocol"),
    (0x8035, "Address Resolution Protocol"),
    (0x8038, "DEC Spanning Tree Protocol"),
    (0x8057, "PPP IPv6 Control Protocol"),
    (0x8059, "PPPMux Control Protocol"),
    (0x809a, "IEEE 802.15.4 Low-Rate Wireless PAN"),
    (0x809b, "AppleTalk"),
    (0x80d5, "SNA-over-Ethernet"),
    (0x80e1, "Device Level Ring"),
    (0x80f3, "Appletalk Address Resolution Protocol"),
    (0x80fd, "PPP Compression Control Protocol"),
    (0x80ff, "Wellfleet Compression"),
    (0x8100, "802.1Q Virtual LAN"),
    (0x8102, "Wellfleet Breath of Life"),
    (0x8103, "LACP"),
    (0x8133, "Juniper Netscreen Redundant Protocol"),
    (0x8137, "IPX"),
    (0x814c, "Simple Network Management Protocol"),
    (0x8181, "Spanning Tree Protocol"),
    (0x81fd, "InterSwitch Message Protocol"),
    (0x8204, "QNX6 QNET LWL4 protocol"),
    (0x8207, "PPP CDP Control Protocol"),
    (0x8281, "PPP MPLS Control Protocol"),
    (0x86dd, "Internet Protocol Version 6"),
    (0x872d, "Cisco Wireless LAN Context Control Protocol"),
    (0x8783, "Media Independent Network Transport"),
    (0x8808, "MAC Control"),
    (0x8809, "Slow Protocols"),
    (0x8847, "MultiProtocol Label Switching Header"),
    (0x8848, "MultiProtocol Label Switching Header"),
    (0x8863, "PPP-over-Ethernet Discovery"),
    (0x8864, "PPPoE session"),
    (0x886c, "HomePNA, wlan link local tunnel"),
    (0x886d, "Intel ANS probe"),
    (0x886f, "MS Network Load Balancing"),
    (0x8870, "Logical-Link Control"),
    (0x8874, "Broadcom tag protocol"),
    (0x887b, "HomePlug protocol"),
    (0x888e, "802.1X Authentication"),
    (0x8892, "PROFINET Real-Time Protocol"),
    (0x8899, "Realtek Layer 2 Protocols"),
    (0x889a, "HyperSCSI"),
    (0x889b, "CSM_ENCAPS"),
    (0x88a1, "Telkonet powerline"),
    (0x88a2, "ATAoverEthernet"),
    (0x88a4, "EtherCAT frame header"),
    (0x88a8, "IEEE 802.1ad"),
    (0x88a9, "Extreme Mesh"),
    (0x88ab, "Ethernet POWERLINK"),
    (0x88ae, "Boardwalk"),
    (0x88b4, "WAI Protocol"),
    (0x88b7, "IEEE802a OUI Extended Ethertype"),
    (0x88b8, "GOOSE"),
    (0x88ba, "IEC61850 Sampled Values"),
    (0x88bb, "LWAPP Encapsulated Packet"),
    (0x88c7, "802.1X Authentication"),
    (0x88ca, "Transparent Inter Process Communication(TIPC)"),
    (0x88cc, "Link Layer Discovery Protocol"),
    (0x88cd, "SERCOS III V1.1"),
    (0x88d8, "Circuit Emulation Service over Ethernet"),
    (0x88d9, "Link Layer Topology Discovery"),
    (0x88dc, "Wave Short Message Protocol(IEEE P1609.3)"),
    (0x88de, "VMware Lab Manager"),
    (0x88e1, "HomePlug AV protocol"),
    (0x88e3, "PROFINET MRP"),
    (0x88e5, "802.1AE Security tag"),
    (0x88e7, "IEEE 802.1ah"),
    (0x88ee, "Ethernet Local Management Interface"),
    (0x88f5, "Multiple VLAN Registration Protocol"),
    (0x88f6, "Multiple Mac Registration Protocol"),
    (0x88f7, "Precision Time Protocol (IEEE1588)"),
    (0x88f8, "NCSI"),
    (0x88fb, "HSR/PRP Supervision (IEC62439 Part 3)"),
    (0x8901, "NSN FLIP"),
    (0x8902, "CFM EOAM 802.1ag/ITU Protocol"),
    (0x8906, "Fibre Channel over Ethernet"),
    (0x8909, "Cisco MetaData"),
    (0x890d, "IEEE 802.11 wireless LAN"),
    (0x8911, "ENEA LINX"),
    (0x8914, "FCoE Initialization Protocol"),
    (0x8915, "InfiniBand"),
    (0x8917, "Media-Independent Handover"),
    (0x891d, "TTEthernet Protocol Control Frame"),
    (0x8926, "VN-Tag"),
    (0x892d, "bluecom Protocol"),
    (
        0x892f,
        "High-availability Seamless Redundancy (IEC62439 Part 3 Chapter 5)",
    ),
    (0x893a, "IEEE 1905.1a"),
    (0x893f, "802.1BR E-Tag"),
    (0x8940, "Edge Control Protocol"),
    (0x8942, "Link Layer Discovery Protocol"),
    (0x8947, "GeoNetworking"),
    (0x894f, "Network Service Header"),
    (0x8988, "Palo Alto Heartbeat Backup"),
    (0x8ffd, "Aruba Instant AP Protocol"),
    (0x9000, "Configuration Test Protocol (loopback)"),
    (0x9021, "Real-Time Media Access Control"),
    (0x9022, "RTcfg"),
    (0x9100, "802.1Q Virtual LAN"),
    (0x9104, "EERO Protocol"),
    (0x99fe, "Technically Enhanced Capture Module Protocol"),
    (
        0xa0ed,
        "IPv6 over Low power Wireless Personal Area Networks",
    ),
    (0xaaaa, "WSE remote ethernet"),
    (0xabcd, "Boardwalk"),
    (0xaefe, "evolved Common Public Radio Interface"),
    (0xb4e3, "CableLabs Layer 3 Protocol"),
    (0xbbbb, "LWAPP Encapsulated Packet"),
    (0xc021, "PPP Link Control Protocol"),
    (0xc023, "PPP Password Authentication Protocol"),
    (0xc029, "PPP Callback Control Protocol"),
    (0xc02b, "PPP Bandwidth Allocation Control Protocol"),
    (0xc02d, "PPP Bandwidth Allocation Protocol"),
    (0xc0de, "eXpressive Internet Protocol"),
    (0xc0df, "Neighborhood Watch Protocol"),
    (0xc223, "PPP Challenge Handshake Authentication Protocol"),
    (0xcafe, "Veritas Low Latency Transport (LLT)"),
    (0xd00d, "Digium TDMoE Protocol"),
    (0xd28b, "Arista Vendor Specific Protocol"),
    (0xe555, "EXtreme extra Eth Header"),
    (0xf052, "Hotline Command-Response Transaction protocol"),
    (0xf1c1, "802.1CB Redundancy Tag"),
    (0xfcfc, "MDS Header"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sorted_for_the_binary_search() {
        assert!(ETHERTYPE_NAMES.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(ethertype_name(0x8137), Some("IPX"));
    }

    #[test]
    fn unknown_numbers_are_shown_as_numbers() {
        assert_eq!(
            Unsupported::EtherType(0x1234).to_string(),
            "unknown ethertype 0x1234"
        );
        assert_eq!(
            Unsupported::GreProtocol(0x8881).to_string(),
            "CDMA2000 A10, PPP in HDLC-like framing (GRE protocol 0x8881)"
        );
    }
}
