//! Crafted frames, one or more per link type and encapsulation, each checked for what a user
//! reads off a decoded segment: addresses, ports, numbers, flags, TTL, the encapsulations it was
//! found in, and the direction / interface a Linux cooked header records.

use super::*;
use crate::model::{Direction, LinkType};
use crate::testkit::synth::{self, TcpSpec};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const CLIENT4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
const SERVER4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);
const CLIENT6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10);
const SERVER6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xbeef, 0, 0, 0, 0, 7);
/// Outer (tunnel endpoint) addresses, distinct from the inner ones so a test notices which
/// header the decoder reported.
const OUTER_A: Ipv4Addr = Ipv4Addr::new(10, 1, 1, 1);
const OUTER_B: Ipv4Addr = Ipv4Addr::new(10, 2, 2, 2);

const RST_ACK: u16 = TcpFlags::RST | TcpFlags::ACK;

/// The server's RST/ACK to the client: 198.51.100.7:443 → 192.0.2.10:51000, TTL 57.
fn rst4() -> TcpSpec {
    TcpSpec::new(
        IpAddr::V4(SERVER4),
        443,
        IpAddr::V4(CLIENT4),
        51_000,
        RST_ACK,
    )
    .seq(0x1122_3344)
    .ack(0x5566_7788)
    .ttl(57)
}

/// The same over IPv6, hop limit 61.
fn rst6() -> TcpSpec {
    TcpSpec::new(
        IpAddr::V6(SERVER6),
        8443,
        IpAddr::V6(CLIENT6),
        40_000,
        RST_ACK,
    )
    .seq(0xdead_beef)
    .ack(0x0102_0304)
    .ttl(61)
}

fn ip4(a: Ipv4Addr) -> IpAddr {
    IpAddr::V4(a)
}

/// An outer IPv4 header from OUTER_A to OUTER_B (TTL 200) around `payload`.
fn outer4(proto: u8, payload: &[u8]) -> Vec<u8> {
    synth::ip_packet(ip4(OUTER_A), ip4(OUTER_B), proto, 200, payload)
}

/// Ethernet + outer IPv4 + UDP around `payload`.
fn eth_udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    synth::ethernet(0x0800, &outer4(17, &synth::udp(sport, dport, payload)))
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

const LLC_SNAP_IPV4: [u8; 8] = [0xaa, 0xaa, 0x03, 0x00, 0x00, 0x00, 0x08, 0x00];

/// A hand-built IPv4 header: `options` (a multiple of 4 bytes) and the flags/fragment word.
fn ipv4_custom(options: &[u8], frag: u16, proto: u8, ttl: u8, payload: &[u8]) -> Vec<u8> {
    assert!(options.len().is_multiple_of(4));
    let ihl = 5 + options.len() / 4;
    let total = (ihl * 4 + payload.len()) as u16;
    let mut h = vec![0x40 | ihl as u8, 0];
    h.extend_from_slice(&total.to_be_bytes());
    h.extend_from_slice(&[0xab, 0xcd]);
    h.extend_from_slice(&frag.to_be_bytes());
    h.extend_from_slice(&[ttl, proto, 0, 0]);
    h.extend_from_slice(&SERVER4.octets());
    h.extend_from_slice(&CLIENT4.octets());
    h.extend_from_slice(options);
    h.extend_from_slice(payload);
    h
}

/// A hand-built IPv6 header with first next-header `next` and a body (extension headers + L4).
fn ipv6_custom(next: u8, body: &[u8]) -> Vec<u8> {
    let mut h = vec![0x60, 0, 0, 0];
    h.extend_from_slice(&(body.len() as u16).to_be_bytes());
    h.extend_from_slice(&[next, 61]);
    h.extend_from_slice(&SERVER6.octets());
    h.extend_from_slice(&CLIENT6.octets());
    h.extend_from_slice(body);
    h
}

/// A QoS data frame to the AP (To DS), with `flags` as the second frame-control byte.
fn wifi_qos_data(flags: u8, body: &[u8]) -> Vec<u8> {
    let mut f = vec![0x88, flags, 0x2c, 0x00];
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0xaa]); // BSSID
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0xbb]); // source
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0xcc]); // destination
    f.extend_from_slice(&[0x10, 0x00]); // sequence control
    f.extend_from_slice(&[0x00, 0x00]); // QoS control
    f.extend_from_slice(body);
    f
}

#[track_caller]
fn tcp(link: LinkType, frame: &[u8]) -> TcpSegment<'_> {
    match decode(link, frame) {
        Outcome::Tcp(seg) => seg,
        other => panic!("expected a TCP segment from {link:?}, got {other:?}"),
    }
}

#[track_caller]
fn not_tcp(link: LinkType, frame: &[u8]) -> NotTcp {
    match decode(link, frame) {
        Outcome::NotTcp(n) => n,
        other => panic!("expected NotTcp from {link:?}, got {other:?}"),
    }
}

#[track_caller]
fn undecodable(link: LinkType, frame: &[u8]) -> Undecodable {
    match decode(link, frame) {
        Outcome::Undecodable(u) => u,
        other => panic!("expected Undecodable from {link:?}, got {other:?}"),
    }
}

#[track_caller]
fn assert_malformed(link: LinkType, frame: &[u8]) {
    let u = undecodable(link, frame);
    assert!(
        matches!(u, Undecodable::Malformed(_)),
        "expected Malformed, got {u:?}"
    );
}

fn encaps(seg: &TcpSegment<'_>) -> Vec<Encap> {
    seg.ctx.encaps().collect()
}

/// Everything `rst4()` put in its TCP and IP headers.
#[track_caller]
fn assert_rst4(seg: &TcpSegment<'_>) {
    assert_eq!(seg.src, ip4(SERVER4));
    assert_eq!(seg.dst, ip4(CLIENT4));
    assert_eq!((seg.sport, seg.dport), (443, 51_000));
    assert_eq!(seg.seq, 0x1122_3344);
    assert_eq!(seg.ack, 0x5566_7788);
    assert!(seg.flags.rst() && seg.flags.ack());
    assert!(!seg.flags.syn() && !seg.flags.fin());
    assert_eq!(seg.flags, TcpFlags(RST_ACK));
    assert_eq!(seg.window, 0);
    assert_eq!(seg.ttl, 57);
    assert!(seg.payload.is_empty());
    assert_eq!(seg.payload_len, 0);
}

#[track_caller]
fn assert_rst6(seg: &TcpSegment<'_>) {
    assert_eq!(seg.src, IpAddr::V6(SERVER6));
    assert_eq!(seg.dst, IpAddr::V6(CLIENT6));
    assert_eq!((seg.sport, seg.dport), (8443, 40_000));
    assert_eq!(seg.seq, 0xdead_beef);
    assert_eq!(seg.ack, 0x0102_0304);
    assert_eq!(seg.flags, TcpFlags(RST_ACK));
    assert_eq!(seg.ttl, 61);
    assert_eq!(seg.ip_id, None);
    assert!(seg.payload.is_empty());
    assert_eq!(seg.payload_len, 0);
}

// ---------------------------------------------------------------------------------------------
// Ethernet, VLANs, MPLS, PPPoE, LLC
// ---------------------------------------------------------------------------------------------

#[test]
fn ethernet_ipv4_rst_ack() {
    let frame = rst4().ethernet();
    let seg = tcp(LinkType::ETHERNET, &frame);
    assert_rst4(&seg);
    assert_eq!(seg.ip_id, Some(0x1234));
    assert!(seg.options.is_empty());
    assert_eq!(encaps(&seg), []);
    assert_eq!(seg.ctx.vlan(), None);
    assert_eq!(seg.ctx.direction, None);
    assert_eq!(seg.ctx.ifindex, None);
}

#[test]
fn ethernet_ipv6_rst_ack() {
    let frame = rst6().ethernet();
    assert_rst6(&tcp(LinkType::ETHERNET, &frame));
}

#[test]
fn ethernet_padding_is_not_payload() {
    // A 54-byte RST padded to the 60-byte minimum: the 6 zero bytes are not TCP payload.
    let mut frame = rst4().ethernet();
    assert_eq!(frame.len(), 54);
    frame.resize(60, 0);
    let seg = tcp(LinkType::ETHERNET, &frame);
    assert_rst4(&seg);
}

#[test]
fn payload_and_options_are_reported() {
    let spec = rst4()
        .options(&[0x02, 0x04, 0x05, 0xb4, 0x01, 0x01, 0x04, 0x02])
        .payload(b"bye");
    let frame = spec.ethernet();
    let seg = tcp(LinkType::ETHERNET, &frame);
    assert_eq!(
        seg.options,
        [0x02, 0x04, 0x05, 0xb4, 0x01, 0x01, 0x04, 0x02]
    );
    assert_eq!(seg.payload, b"bye");
    assert_eq!(seg.payload_len, 3);
}

#[test]
fn vlan_8021q() {
    let ip = rst4().ip_packet();
    // PCP 3, VID 100.
    let frame = synth::ethernet(0x8100, &cat(&[&[0x60, 0x64, 0x08, 0x00], &ip]));
    let seg = tcp(LinkType::ETHERNET, &frame);
    assert_rst4(&seg);
    assert_eq!(encaps(&seg), [Encap::Vlan(100)]);
    assert_eq!(seg.ctx.vlan(), Some(100));
}

#[test]
fn qinq_innermost_vlan_wins() {
    let ip = rst4().ip_packet();
    // S-tag 0x88a8 VID 200, C-tag 0x8100 VID 100 (with DEI and PCP bits set, which are not VID).
    let frame = synth::ethernet(
        0x88a8,
        &cat(&[&[0x00, 0xc8, 0x81, 0x00], &[0xf0, 0x64, 0x08, 0x00], &ip]),
    );
    let seg = tcp(LinkType::ETHERNET, &frame);
    assert_rst4(&seg);
    assert_eq!(encaps(&seg), [Encap::Vlan(200), Encap::Vlan(100)]);
    assert_eq!(seg.ctx.vlan(), Some(100));
}

#[test]
fn mpls_two_labels() {
    let ip = rst4().ip_packet();
    let top: u32 = (1000 << 12) | 64; // label 1000, not bottom of stack, TTL 64
    let bottom: u32 = (20 << 12) | 0x100 | 64; // label 20, bottom of stack
    let frame = synth::ethernet(
        0x8847,
        &cat(&[&top.to_be_bytes(), &bottom.to_be_bytes(), &ip]),
    );
    let seg = tcp(LinkType::ETHERNET, &frame);
    assert_rst4(&seg);
    assert_eq!(encaps(&seg), [Encap::Mpls(1000), Encap::Mpls(20)]);
}

#[test]
fn pppoe_session() {
    let ip = rst4().ip_packet();
    let len = (2 + ip.len()) as u16;
    let mut pppoe = vec![0x11, 0x00, 0x12, 0x34];
    pppoe.extend_from_slice(&len.to_be_bytes());
    pppoe.extend_from_slice(&[0x00, 0x21]);
    pppoe.extend_from_slice(&ip);
    let frame = synth::ethernet(0x8864, &pppoe);
    let seg = tcp(LinkType::ETHERNET, &frame);
    assert_rst4(&seg);
    assert_eq!(encaps(&seg), [Encap::Pppoe]);
    assert!(seg.ctx.encaps().any(|e| e == Encap::Pppoe));
}

#[test]
fn ieee8023_length_frame_with_llc_snap() {
    let ip = rst4().ip_packet();
    let body = cat(&[&LLC_SNAP_IPV4, &ip]);
    let frame = synth::ethernet(body.len() as u16, &body);
    assert!(body.len() <= 1500);
    assert_rst4(&tcp(LinkType::ETHERNET, &frame));
}

#[test]
fn ieee8023_frame_with_stp_llc_is_not_ip() {
    let body = [0x42, 0x42, 0x03, 0, 0, 0, 0, 0];
    let frame = synth::ethernet(body.len() as u16, &body);
    assert_eq!(not_tcp(LinkType::ETHERNET, &frame), NotTcp::NonIp);
}

#[test]
fn arp_is_non_ip() {
    let frame = synth::ethernet(0x0806, &[0u8; 28]);
    assert_eq!(not_tcp(LinkType::ETHERNET, &frame), NotTcp::NonIp);
}

// ---------------------------------------------------------------------------------------------
// Linux cooked, raw IP, loopback
// ---------------------------------------------------------------------------------------------

fn sll_header(packet_type: u16, protocol: u16) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&packet_type.to_be_bytes());
    h.extend_from_slice(&1u16.to_be_bytes()); // ARPHRD_ETHER
    h.extend_from_slice(&6u16.to_be_bytes());
    h.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01, 0, 0]);
    h.extend_from_slice(&protocol.to_be_bytes());
    h
}

#[test]
fn linux_sll_outgoing() {
    let frame = cat(&[&sll_header(4, 0x0800), &rst4().ip_packet()]);
    let seg = tcp(LinkType::LINUX_SLL, &frame);
    assert_rst4(&seg);
    assert_eq!(seg.ctx.direction, Some(Direction::Out));
    assert_eq!(seg.ctx.ifindex, None);
}

#[test]
fn linux_sll_to_host_is_incoming() {
    let frame = cat(&[&sll_header(0, 0x86dd), &rst6().ip_packet()]);
    let seg = tcp(LinkType::LINUX_SLL, &frame);
    assert_rst6(&seg);
    assert_eq!(seg.ctx.direction, Some(Direction::In));
}

#[test]
fn linux_sll_netlink_is_non_ip() {
    let mut h = sll_header(4, 0x0000);
    h[2..4].copy_from_slice(&824u16.to_be_bytes()); // ARPHRD_NETLINK
    let frame = cat(&[&h, &[0u8; 20]]);
    assert_eq!(not_tcp(LinkType::LINUX_SLL, &frame), NotTcp::NonIp);
}

fn sll2_header(protocol: u16, ifindex: u32, packet_type: u8) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&protocol.to_be_bytes());
    h.extend_from_slice(&[0, 0]);
    h.extend_from_slice(&ifindex.to_be_bytes());
    h.extend_from_slice(&1u16.to_be_bytes()); // ARPHRD_ETHER
    h.push(packet_type);
    h.push(6);
    h.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01, 0, 0]);
    h
}

#[test]
fn linux_sll2_ifindex_and_direction() {
    let frame = cat(&[&sll2_header(0x0800, 7, 4), &rst4().ip_packet()]);
    let seg = tcp(LinkType::LINUX_SLL2, &frame);
    assert_rst4(&seg);
    assert_eq!(seg.ctx.ifindex, Some(7));
    assert_eq!(seg.ctx.direction, Some(Direction::Out));

    let frame = cat(&[&sll2_header(0x86dd, 0x0001_0203, 0), &rst6().ip_packet()]);
    let seg = tcp(LinkType::LINUX_SLL2, &frame);
    assert_rst6(&seg);
    assert_eq!(seg.ctx.ifindex, Some(0x0001_0203));
    assert_eq!(seg.ctx.direction, Some(Direction::In));
}

#[test]
fn raw_ipv4_and_ipv6() {
    let v4 = rst4().ip_packet();
    let v6 = rst6().ip_packet();
    for link in [LinkType::RAW, LinkType::RAW_BSD12, LinkType::RAW_BSD14] {
        assert_rst4(&tcp(link, &v4));
        assert_rst6(&tcp(link, &v6));
    }
}

#[test]
fn linktype_ipv4_and_ipv6() {
    assert_rst4(&tcp(LinkType::IPV4, &rst4().ip_packet()));
    assert_rst6(&tcp(LinkType::IPV6, &rst6().ip_packet()));
}

#[test]
fn null_af_inet_little_endian() {
    let frame = cat(&[&[2, 0, 0, 0], &rst4().ip_packet()]);
    assert_rst4(&tcp(LinkType::NULL, &frame));
}

#[test]
fn null_af_inet6_big_endian_host() {
    // AF_INET6 on Darwin is 30, written by a big-endian host.
    let frame = cat(&[&[0, 0, 0, 30], &rst6().ip_packet()]);
    assert_rst6(&tcp(LinkType::NULL, &frame));
    // And the same family from a little-endian host; FreeBSD's 28 and the BSDs' 24 too.
    for family in [30u32, 28, 24] {
        let frame = cat(&[&family.to_le_bytes(), &rst6().ip_packet()]);
        assert_rst6(&tcp(LinkType::NULL, &frame));
    }
}

#[test]
fn null_unknown_family_is_non_ip() {
    let frame = cat(&[&7u32.to_le_bytes(), &[0u8; 40]]);
    assert_eq!(not_tcp(LinkType::NULL, &frame), NotTcp::NonIp);
}

#[test]
fn loop_is_big_endian() {
    let frame = cat(&[&2u32.to_be_bytes(), &rst4().ip_packet()]);
    assert_rst4(&tcp(LinkType::LOOP, &frame));
    let frame = cat(&[&24u32.to_be_bytes(), &rst6().ip_packet()]);
    assert_rst6(&tcp(LinkType::LOOP, &frame));
}

// ---------------------------------------------------------------------------------------------
// IPv4 and IPv6 details
// ---------------------------------------------------------------------------------------------

#[test]
fn ipv4_with_options_ihl_7() {
    let tcp_bytes = rst4().tcp_bytes();
    // Router alert, then NOP NOP NOP EOL: 8 bytes of options, IHL 7.
    let opts = [0x94, 0x04, 0x00, 0x00, 0x01, 0x01, 0x01, 0x00];
    let ip = ipv4_custom(&opts, 0x4000, 6, 57, &tcp_bytes);
    assert_eq!(ip[0], 0x47);
    let seg = tcp(LinkType::RAW, &ip);
    assert_rst4(&seg);
    assert_eq!(seg.ip_id, Some(0xabcd));
}

#[test]
fn ipv4_first_fragment_still_yields_tcp() {
    let t = rst4().payload(&[7; 16]).tcp_bytes();
    let ip = ipv4_custom(&[], 0x2000, 6, 57, &t); // MF, offset 0
    let seg = tcp(LinkType::RAW, &ip);
    assert_eq!((seg.sport, seg.dport), (443, 51_000));
    assert!(seg.flags.rst());
    assert_eq!(seg.payload, [7; 16]);
    assert_eq!(seg.payload_len, 16);
}

#[test]
fn ipv4_non_first_fragment() {
    let t = rst4().tcp_bytes();
    // Offset 185 (×8 bytes), with and without MF.
    for frag in [0x00b9, 0x20b9] {
        let ip = ipv4_custom(&[], frag, 6, 57, &t);
        assert_eq!(not_tcp(LinkType::RAW, &ip), NotTcp::Fragment);
    }
}

#[test]
fn ipv6_extension_headers_then_tcp() {
    let t = rst6().payload(b"hello").tcp_bytes();
    // Hop-by-hop (router alert + PadN) → destination options (PadN) → fragment (offset 0, M).
    let hbh = [60, 0, 0x05, 0x02, 0x00, 0x00, 0x01, 0x00];
    let dst = [44, 0, 0x01, 0x04, 0, 0, 0, 0];
    let frag = [6, 0, 0x00, 0x01, 0x12, 0x34, 0x56, 0x78];
    let ip = ipv6_custom(0, &cat(&[&hbh, &dst, &frag, &t]));
    let seg = tcp(LinkType::RAW, &ip);
    assert_eq!(seg.src, IpAddr::V6(SERVER6));
    assert_eq!(seg.dst, IpAddr::V6(CLIENT6));
    assert_eq!((seg.sport, seg.dport), (8443, 40_000));
    assert_eq!(seg.flags, TcpFlags(RST_ACK));
    assert_eq!(seg.ttl, 61);
    assert_eq!(seg.payload, b"hello");
    assert_eq!(seg.payload_len, 5);
}

#[test]
fn ipv6_longer_extension_header() {
    // A 16-byte hop-by-hop header (length field 1) before TCP.
    let t = rst6().tcp_bytes();
    let hbh = [6, 1, 0x01, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    let ip = ipv6_custom(0, &cat(&[&hbh, &t]));
    assert_rst6(&tcp(LinkType::RAW, &ip));
}

#[test]
fn ipv6_non_first_fragment() {
    let t = rst6().tcp_bytes();
    let frag = [6, 0, 0x05, 0xc8, 0x12, 0x34, 0x56, 0x78]; // offset 185, M clear
    let ip = ipv6_custom(44, &cat(&[&frag, &t]));
    assert_eq!(not_tcp(LinkType::RAW, &ip), NotTcp::Fragment);
}

#[test]
fn other_ip_protocols() {
    assert_eq!(
        not_tcp(LinkType::RAW, &outer4(1, &[8, 0, 0, 0, 0, 0, 0, 0])),
        NotTcp::Icmp
    );
    assert_eq!(
        not_tcp(LinkType::RAW, &outer4(50, &[0; 16])),
        NotTcp::Encrypted
    );
    assert_eq!(
        not_tcp(LinkType::RAW, &outer4(132, &[0; 16])),
        NotTcp::OtherIp
    );
    assert_eq!(
        not_tcp(LinkType::RAW, &outer4(17, &synth::udp(53, 5353, b"x"))),
        NotTcp::Udp
    );
}

// ---------------------------------------------------------------------------------------------
// GRE and ERSPAN
// ---------------------------------------------------------------------------------------------

#[test]
fn gre_plain() {
    let inner = rst4().ip_packet();
    let frame = synth::ethernet(0x0800, &outer4(47, &cat(&[&[0, 0, 0x08, 0x00], &inner])));
    let seg = tcp(LinkType::ETHERNET, &frame);
    assert_rst4(&seg); // addresses and TTL are the inner header's
    assert_eq!(encaps(&seg), [Encap::Gre]);
}

#[test]
fn gre_with_checksum_key_and_sequence() {
    let inner = rst6().ip_packet();
    let gre = cat(&[
        &[0xb0, 0x00, 0x86, 0xdd],
        &[0xaa, 0xbb, 0, 0], // checksum + reserved
        &[0, 0, 0x30, 0x39], // key
        &[0, 0, 0, 42],      // sequence
        &inner,
    ]);
    let frame = synth::ethernet(0x0800, &outer4(47, &gre));
    let seg = tcp(LinkType::ETHERNET, &frame);
    assert_rst6(&seg);
    assert_eq!(encaps(&seg), [Encap::Gre]);
}

#[test]
fn gre_transparent_ethernet_bridging() {
    let inner = synth::ethernet(
        0x8100,
        &cat(&[&[0x00, 0x0a, 0x08, 0x00], &rst4().ip_packet()]),
    );
    let gre = cat(&[&[0x20, 0x00, 0x65, 0x58], &[0, 0, 0, 1], &inner]); // with key
    let frame = synth::ethernet(0x0800, &outer4(47, &gre));
    let seg = tcp(LinkType::ETHERNET, &frame);
    assert_rst4(&seg);
    assert_eq!(encaps(&seg), [Encap::Gre, Encap::Vlan(10)]);
    assert_eq!(seg.ctx.vlan(), Some(10));
}

#[test]
fn erspan_type_ii() {
    let mirrored = rst4().ethernet();
    // GRE with S flag, ERSPAN II header: version 1, VLAN 0, session 5.
    let gre = cat(&[
        &[0x10, 0x00, 0x88, 0xbe],
        &[0, 0, 0, 9],
        &[0x10, 0x00, 0x00, 0x05, 0, 0, 0, 0],
        &mirrored,
    ]);
    let frame = synth::ethernet(0x0800, &outer4(47, &gre));
    let seg = tcp(LinkType::ETHERNET, &frame);
    assert_rst4(&seg);
    assert_eq!(encaps(&seg), [Encap::Gre, Encap::Erspan]);
}

#[test]
fn erspan_type_i() {
    let mirrored = rst6().ethernet();
    let gre = cat(&[&[0x00, 0x00, 0x88, 0xbe], &mirrored]);
    let frame = synth::ethernet(0x0800, &outer4(47, &gre));
    let seg = tcp(LinkType::ETHERNET, &frame);
    assert_rst6(&seg);
    assert_eq!(encaps(&seg), [Encap::Gre, Encap::Erspan]);
}

#[test]
fn erspan_type_iii() {
    let mirrored = rst4().ethernet();
    let header = [0x20, 0x00, 0x00, 0x05, 1, 2, 3, 4, 0, 0, 0x00, 0x00];
    let gre = cat(&[&[0x10, 0x00, 0x22, 0xeb], &[0, 0, 0, 9], &header, &mirrored]);
    let frame = synth::ethernet(0x0800, &outer4(47, &gre));
    let seg = tcp(LinkType::ETHERNET, &frame);
    assert_rst4(&seg);
    assert_eq!(encaps(&seg), [Encap::Gre, Encap::Erspan]);
}

#[test]
fn erspan_type_iii_with_platform_subheader() {
    let mirrored = rst4().ethernet();
    let header = [0x20, 0x00, 0x00, 0x05, 1, 2, 3, 4, 0, 0, 0x00, 0x01]; // O bit
    let platform = [0x08, 0, 0, 0, 0, 0, 0, 0];
    let gre = cat(&[
        &[0x10, 0x00, 0x22, 0xeb],
        &[0, 0, 0, 9],
        &header,
        &platform,
        &mirrored,
    ]);
    let frame = synth::ethernet(0x0800, &outer4(47, &gre));
    let seg = tcp(LinkType::ETHERNET, &frame);
    assert_rst4(&seg);
    assert_eq!(encaps(&seg), [Encap::Gre, Encap::Erspan]);
}

#[test]
fn aruba_gre_carrying_80211() {
    let wifi = wifi_qos_data(0x01, &cat(&[&LLC_SNAP_IPV4, &rst4().ip_packet()]));
    let gre = cat(&[&[0x00, 0x00, 0x82, 0x00], &wifi]);
    let frame = synth::ethernet(0x0800, &outer4(47, &gre));
    let seg = tcp(LinkType::ETHERNET, &frame);
    assert_rst4(&seg);
    assert_eq!(encaps(&seg), [Encap::Gre]);
}

#[test]
fn gre_source_routing_is_malformed() {
    let gre = cat(&[&[0x40, 0x00, 0x08, 0x00], &[0; 4], &rst4().ip_packet()]);
    assert_malformed(LinkType::RAW, &outer4(47, &gre));
}

#[test]
fn deep_gre_nest_is_too_deep() {
    let mut pkt = rst4().ip_packet();
    for _ in 0..20 {
        pkt = outer4(47, &cat(&[&[0, 0, 0x08, 0x00], &pkt]));
    }
    let frame = synth::ethernet(0x0800, &pkt);
    assert_eq!(
        undecodable(LinkType::ETHERNET, &frame),
        Undecodable::TooDeep
    );
    assert_eq!(undecodable(LinkType::RAW, &pkt), Undecodable::TooDeep);
}

#[test]
fn moderate_gre_nest_decodes_and_lists_at_most_six() {
    let mut pkt = rst4().ip_packet();
    for _ in 0..8 {
        pkt = outer4(47, &cat(&[&[0, 0, 0x08, 0x00], &pkt]));
    }
    let seg = tcp(LinkType::RAW, &pkt);
    assert_rst4(&seg);
    assert_eq!(encaps(&seg), [Encap::Gre; 6]);
}

// ---------------------------------------------------------------------------------------------
// UDP tunnels
// ---------------------------------------------------------------------------------------------

fn vxlan_header(vni: u32) -> [u8; 8] {
    let v = (vni << 8).to_be_bytes();
    [0x08, 0, 0, 0, v[0], v[1], v[2], 0]
}

#[test]
fn vxlan_4789() {
    let inner = rst4().ethernet();
    let frame = eth_udp(50_123, 4789, &cat(&[&vxlan_header(0x12_3456), &inner]));
    let seg = tcp(LinkType::ETHERNET, &frame);
    assert_rst4(&seg);
    assert_eq!(encaps(&seg), [Encap::Vxlan(0x12_3456)]);
    assert_eq!(Encap::Vxlan(0x12_3456).id(), Some(0x12_3456));
}

#[test]
fn vxlan_linux_port_8472() {
    let inner = rst6().ethernet();
    let frame = eth_udp(50_123, 8472, &cat(&[&vxlan_header(42), &inner]));
    let seg = tcp(LinkType::ETHERNET, &frame);
    assert_rst6(&seg);
    assert_eq!(encaps(&seg), [Encap::Vxlan(42)]);
}

#[test]
fn udp_4789_without_i_flag_stays_udp() {
    let inner = rst4().ethernet();
    let mut hdr = vxlan_header(7);
    hdr[0] = 0x00;
    let frame = eth_udp(50_123, 4789, &cat(&[&hdr, &inner]));
    assert_eq!(not_tcp(LinkType::ETHERNET, &frame), NotTcp::Udp);
}

#[test]
fn geneve_with_options_carrying_ethernet() {
    let inner = rst4().ethernet();
    // Option length 2 words; protocol 0x6558; VNI 0xabcdef.
    let header = [0x02, 0x00, 0x65, 0x58, 0xab, 0xcd, 0xef, 0x00];
    let option = [0x01, 0x02, 0x80, 0x01, 0xde, 0xad, 0xbe, 0xef];
    let frame = eth_udp(50_123, 6081, &cat(&[&header, &option, &inner]));
    let seg = tcp(LinkType::ETHERNET, &frame);
    assert_rst4(&seg);
    assert_eq!(encaps(&seg), [Encap::Geneve(0xab_cdef)]);
}

#[test]
fn geneve_carrying_ip() {
    let header = [0x00, 0x00, 0x86, 0xdd, 0x00, 0x00, 0x05, 0x00];
    let frame = eth_udp(50_123, 6081, &cat(&[&header, &rst6().ip_packet()]));
    let seg = tcp(LinkType::ETHERNET, &frame);
    assert_rst6(&seg);
    assert_eq!(encaps(&seg), [Encap::Geneve(5)]);
}

fn gtp_u(flags: u8, msg_type: u8, teid: u32, rest: &[u8]) -> Vec<u8> {
    let mut g = vec![flags, msg_type];
    g.extend_from_slice(&(rest.len() as u16).to_be_bytes());
    g.extend_from_slice(&teid.to_be_bytes());
    g.extend_from_slice(rest);
    g
}

#[test]
fn gtp_u_plain() {
    let frame = eth_udp(
        2152,
        2152,
        &gtp_u(0x30, 0xff, 0x0bad_cafe, &rst4().ip_packet()),
    );
    let seg = tcp(LinkType::ETHERNET, &frame);
    assert_rst4(&seg);
    assert_eq!(encaps(&seg), [Encap::GtpU(0x0bad_cafe)]);
}

#[test]
fn gtp_u_with_extension_header() {
    // E flag: sequence number, N-PDU number, next extension 0x85 (PDU session container),
    // then one 4-byte extension whose last byte says no more follow.
    let ext = cat(&[
        &[0x00, 0x01, 0x00, 0x85],
        &[0x01, 0x00, 0x09, 0x00],
        &rst6().ip_packet(),
    ]);
    let frame = eth_udp(40_000, 2152, &gtp_u(0x34, 0xff, 77, &ext));
    let seg = tcp(LinkType::ETHERNET, &frame);
    assert_rst6(&seg);
    assert_eq!(encaps(&seg), [Encap::GtpU(77)]);
}

#[test]
fn gtp_u_non_tpdu_is_udp() {
    // Echo request (type 1) on the GTP-U port.
    let frame = eth_udp(2152, 2152, &gtp_u(0x32, 0x01, 0, &[0, 1, 0, 0]));
    assert_eq!(not_tcp(LinkType::ETHERNET, &frame), NotTcp::Udp);
}

#[test]
fn ip_in_ip_and_6in4() {
    let frame = synth::ethernet(0x0800, &outer4(4, &rst4().ip_packet()));
    let seg = tcp(LinkType::ETHERNET, &frame);
    assert_rst4(&seg);
    assert_eq!(encaps(&seg), [Encap::IpInIp]);

    let frame = synth::ethernet(0x0800, &outer4(41, &rst6().ip_packet()));
    let seg = tcp(LinkType::ETHERNET, &frame);
    assert_rst6(&seg);
    assert_eq!(encaps(&seg), [Encap::IpInIp]);
}

#[test]
fn teredo() {
    let frame = eth_udp(3544, 50_000, &rst6().ip_packet());
    let seg = tcp(LinkType::ETHERNET, &frame);
    assert_rst6(&seg);
    assert_eq!(encaps(&seg), [Encap::Teredo]);

    // With an origin indication before the IPv6 packet.
    let origin = [0x00, 0x00, 0xf2, 0x27, 0x3f, 0xff, 0xff, 0xfe];
    let frame = eth_udp(50_000, 3544, &cat(&[&origin, &rst6().ip_packet()]));
    let seg = tcp(LinkType::ETHERNET, &frame);
    assert_rst6(&seg);
    assert_eq!(encaps(&seg), [Encap::Teredo]);
}

// ---------------------------------------------------------------------------------------------
// Other link types
// ---------------------------------------------------------------------------------------------

#[test]
fn fddi_with_llc_snap() {
    let mut frame = vec![0x50];
    frame.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01]);
    frame.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x02]);
    frame.extend_from_slice(&LLC_SNAP_IPV4);
    frame.extend_from_slice(&rst4().ip_packet());
    assert_rst4(&tcp(LinkType::FDDI, &frame));
}

#[test]
fn ppp_with_and_without_address_control() {
    let ip = rst4().ip_packet();
    let full = cat(&[&[0xff, 0x03, 0x00, 0x21], &ip]);
    let bare = cat(&[&[0x00, 0x21], &ip]);
    let compressed = cat(&[&[0x21], &ip]);
    let compressed_with_ac = cat(&[&[0xff, 0x03, 0x21], &ip]);
    for frame in [&full, &bare, &compressed, &compressed_with_ac] {
        assert_rst4(&tcp(LinkType::PPP, frame));
        assert_rst4(&tcp(LinkType::PPP_HDLC, frame));
    }
    let v6 = cat(&[&[0xff, 0x03, 0x00, 0x57], &rst6().ip_packet()]);
    assert_rst6(&tcp(LinkType::PPP, &v6));
    // LCP is not IP.
    let lcp = [0xff, 0x03, 0xc0, 0x21, 0x01, 0x01, 0x00, 0x04];
    assert_eq!(not_tcp(LinkType::PPP, &lcp), NotTcp::NonIp);
}

#[test]
fn cisco_hdlc() {
    let frame = cat(&[&[0x0f, 0x00, 0x08, 0x00], &rst4().ip_packet()]);
    assert_rst4(&tcp(LinkType::C_HDLC, &frame));
    let frame = cat(&[&[0x8f, 0x00, 0x86, 0xdd], &rst6().ip_packet()]);
    assert_rst6(&tcp(LinkType::C_HDLC, &frame));
}

#[test]
fn frame_relay_rfc2427_nlpid() {
    // DLCI 100: Q.922 address 0x18 0x41; UI control 0x03; NLPID 0xcc (IPv4).
    let frame = cat(&[&[0x18, 0x41, 0x03, 0xcc], &rst4().ip_packet()]);
    assert_rst4(&tcp(LinkType::FRELAY, &frame));
    let frame = cat(&[&[0x18, 0x41, 0x03, 0x8e], &rst6().ip_packet()]);
    assert_rst6(&tcp(LinkType::FRELAY, &frame));
}

#[test]
fn ieee80211_qos_data_with_llc_snap() {
    let frame = wifi_qos_data(0x01, &cat(&[&LLC_SNAP_IPV4, &rst4().ip_packet()]));
    let seg = tcp(LinkType::IEEE802_11, &frame);
    assert_rst4(&seg);
    assert_eq!(encaps(&seg), []);
}

#[test]
fn ieee80211_protected_frame_is_encrypted() {
    let frame = wifi_qos_data(0x41, &[0x5a; 64]);
    assert_eq!(not_tcp(LinkType::IEEE802_11, &frame), NotTcp::Encrypted);
}

#[test]
fn ieee80211_beacon_is_non_ip() {
    let mut frame = vec![0x80, 0x00];
    frame.extend_from_slice(&[0; 40]);
    assert_eq!(not_tcp(LinkType::IEEE802_11, &frame), NotTcp::NonIp);
}

#[test]
fn radiotap_wrapper() {
    // Version 0, pad, length 12 (LE), present bitmap with only Flags, then flags + padding.
    let radiotap = [
        0x00, 0x00, 0x0c, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0, 0, 0,
    ];
    let wifi = wifi_qos_data(0x01, &cat(&[&LLC_SNAP_IPV4, &rst4().ip_packet()]));
    let frame = cat(&[&radiotap, &wifi]);
    assert_rst4(&tcp(LinkType::IEEE802_11_RADIOTAP, &frame));
}

#[test]
fn ppi_wrapping_80211_and_ethernet() {
    let wifi = wifi_qos_data(0x01, &cat(&[&LLC_SNAP_IPV4, &rst4().ip_packet()]));
    let frame = cat(&[&[0x00, 0x00, 0x08, 0x00], &105u32.to_le_bytes(), &wifi]);
    assert_rst4(&tcp(LinkType::PPI, &frame));

    let frame = cat(&[
        &[0x00, 0x00, 0x08, 0x00],
        &1u32.to_le_bytes(),
        &rst6().ethernet(),
    ]);
    assert_rst6(&tcp(LinkType::PPI, &frame));
}

#[test]
fn nflog_payload_tlv() {
    let ip = rst4().ip_packet();
    let mut frame = vec![2, 0, 0x00, 0x05]; // AF_INET, version 0, resource id 5
    // NFULA_PACKET_HDR (1): hw protocol 0x0800, hook 1, pad.
    frame.extend_from_slice(&8u16.to_le_bytes());
    frame.extend_from_slice(&1u16.to_le_bytes());
    frame.extend_from_slice(&[0x08, 0x00, 0x01, 0x00]);
    // NFULA_PREFIX (10): "drop\0" + padding to a multiple of 4.
    frame.extend_from_slice(&9u16.to_le_bytes());
    frame.extend_from_slice(&10u16.to_le_bytes());
    frame.extend_from_slice(b"drop\0\0\0\0");
    // NFULA_PAYLOAD (9).
    frame.extend_from_slice(&((4 + ip.len()) as u16).to_le_bytes());
    frame.extend_from_slice(&9u16.to_le_bytes());
    frame.extend_from_slice(&ip);
    assert_rst4(&tcp(LinkType::NFLOG, &frame));
}

#[test]
fn nflog_without_payload_is_non_ip() {
    let frame = [2, 0, 0, 0, 8, 0, 1, 0, 0x08, 0x00, 0x01, 0x00];
    assert_eq!(not_tcp(LinkType::NFLOG, &frame), NotTcp::NonIp);
}

#[test]
fn unknown_link_type_is_unsupported() {
    let frame = rst4().ethernet();
    assert_eq!(
        undecodable(LinkType(147), &frame),
        Undecodable::UnsupportedLink(LinkType(147))
    );
}

// ---------------------------------------------------------------------------------------------
// Damaged input
// ---------------------------------------------------------------------------------------------

#[test]
fn truncated_tcp_header() {
    let frame = rst4().ethernet();
    let cut = &frame[..14 + 20 + 10];
    assert_eq!(
        undecodable(LinkType::ETHERNET, cut),
        Undecodable::Truncated("TCP header")
    );
}

#[test]
fn truncated_everything_else_is_undecodable_not_a_panic() {
    let frame = rst4().ethernet();
    // Up to the TCP flags byte (offset 13 of the TCP header) nothing can be counted.
    for len in 0..14 + 20 + 14 {
        let cut = &frame[..len];
        match decode(LinkType::ETHERNET, cut) {
            Outcome::Undecodable(Undecodable::Truncated(_)) => {}
            other => panic!("{len} bytes: expected truncated, got {other:?}"),
        }
    }
}

#[test]
fn a_tcp_header_cut_after_its_flags_is_a_segment_marked_partly_captured() {
    let frame = rst4().ethernet();
    let Outcome::Tcp(whole) = decode(LinkType::ETHERNET, &frame) else {
        panic!("whole frame")
    };
    for captured in 14..20 {
        let cut = &frame[..14 + 20 + captured];
        let Outcome::Tcp(seg) = decode(LinkType::ETHERNET, cut) else {
            panic!("{captured} bytes of TCP header")
        };
        assert_eq!(seg.header_cut, Some(captured as u8));
        assert_eq!(
            (seg.sport, seg.dport, seg.seq, seg.ack, seg.flags),
            (whole.sport, whole.dport, whole.seq, whole.ack, whole.flags)
        );
        // The window is bytes 14 and 15; below that it reads 0.
        let window = if captured >= 16 { whole.window } else { 0 };
        assert_eq!(seg.window, window);
        assert!(seg.options.is_empty() && seg.payload.is_empty());
        assert_eq!(tcp_checksum_ok(&seg), None, "a cut header is never checked");
    }
    assert_eq!(whole.header_cut, None);
}

#[test]
fn ipv4_ihl_below_5_is_malformed() {
    let mut ip = rst4().ip_packet();
    ip[0] = 0x44;
    assert_malformed(LinkType::RAW, &ip);
}

#[test]
fn ip_version_neither_4_nor_6_is_malformed() {
    let mut ip = rst4().ip_packet();
    ip[0] = 0x55;
    assert_malformed(LinkType::RAW, &ip);
}

#[test]
fn tcp_data_offset_below_5_is_malformed() {
    let mut ip = rst4().ip_packet();
    ip[20 + 12] = 0x40; // data offset 4
    assert_malformed(LinkType::RAW, &ip);
}

#[test]
fn tcp_header_cut_inside_options_still_yields_flags() {
    let spec = rst4().options(&[1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]); // hlen 32
    let ip = spec.ip_packet();
    let cut = &ip[..20 + 24];
    let seg = tcp(LinkType::RAW, cut);
    assert_eq!((seg.sport, seg.dport), (443, 51_000));
    assert_eq!(seg.seq, 0x1122_3344);
    assert_eq!(seg.flags, TcpFlags(RST_ACK));
    assert_eq!(seg.options, [1, 1, 8, 10]);
    assert!(seg.payload.is_empty());
    assert_eq!(seg.payload_len, 0);
}

#[test]
fn payload_len_from_ip_total_length_when_capture_is_cut() {
    let spec = rst4().payload(&[0x41; 100]);
    let frame = spec.ethernet();
    let cut = &frame[..14 + 20 + 20 + 10];
    let seg = tcp(LinkType::ETHERNET, cut);
    assert_eq!(seg.payload, [0x41; 10]);
    assert_eq!(seg.payload_len, 100);

    let spec = rst6().payload(&[0x42; 100]);
    let frame = spec.ethernet();
    let cut = &frame[..14 + 40 + 20 + 10];
    let seg = tcp(LinkType::ETHERNET, cut);
    assert_eq!(seg.payload, [0x42; 10]);
    assert_eq!(seg.payload_len, 100);
}

#[test]
fn ipv4_total_length_zero_trusts_the_capture() {
    // Segmentation offload leaves total length 0.
    let mut ip = rst4().payload(&[1; 30]).ip_packet();
    ip[2] = 0;
    ip[3] = 0;
    let seg = tcp(LinkType::RAW, &ip);
    assert_eq!(seg.payload.len(), 30);
    assert_eq!(seg.payload_len, 30);
}

#[test]
fn ipv4_total_length_below_header_is_malformed() {
    let mut ip = rst4().ip_packet();
    ip[2] = 0;
    ip[3] = 12;
    assert_malformed(LinkType::RAW, &ip);
}

// ---------------------------------------------------------------------------------------------
// TcpFlags
// ---------------------------------------------------------------------------------------------

#[test]
fn tcp_flags_display_like_tcpdump() {
    assert_eq!(TcpFlags(TcpFlags::RST | TcpFlags::ACK).to_string(), "R.");
    assert_eq!(TcpFlags(TcpFlags::RST).to_string(), "R");
    assert_eq!(TcpFlags(TcpFlags::SYN).to_string(), "S");
    assert_eq!(TcpFlags(TcpFlags::SYN | TcpFlags::ACK).to_string(), "S.");
    assert_eq!(TcpFlags(0).to_string(), "none");
    assert_eq!(
        TcpFlags(TcpFlags::FIN | TcpFlags::PSH | TcpFlags::ACK).to_string(),
        "FP."
    );
    assert_eq!(TcpFlags(TcpFlags::ACK).to_string(), ".");
    assert_eq!(
        TcpFlags(TcpFlags::SYN | TcpFlags::ECE | TcpFlags::CWR).to_string(),
        "SEW"
    );
}

/// tcpdump prints flags in the order of its `tcp_flag_values` table: F S R P . U E W e.
#[test]
fn tcp_flags_display_follows_tcpdump_order_for_combinations() {
    assert_eq!(
        TcpFlags(TcpFlags::SYN | TcpFlags::ACK | TcpFlags::ECE).to_string(),
        "S.E"
    );
    assert_eq!(
        TcpFlags(TcpFlags::RST | TcpFlags::PSH | TcpFlags::ACK).to_string(),
        "RP."
    );
    assert_eq!(TcpFlags(TcpFlags::SYN | TcpFlags::FIN).to_string(), "FS");
    assert_eq!(
        TcpFlags(TcpFlags::ACK | TcpFlags::URG | TcpFlags::PSH).to_string(),
        "P.U"
    );
}

#[test]
fn tcp_flags_accessors() {
    let f = TcpFlags(TcpFlags::RST | TcpFlags::ACK);
    assert!(f.rst() && f.ack() && !f.syn() && !f.fin());
    assert!(f.has(TcpFlags::RST));
    assert!(!f.has(TcpFlags::URG));
}

#[test]
fn ae_flag_is_decoded() {
    let mut ip = rst4().ip_packet();
    ip[20 + 12] |= 0x01; // AE (formerly NS) bit
    let seg = tcp(LinkType::RAW, &ip);
    assert!(seg.flags.has(TcpFlags::AE));
    assert!(seg.flags.rst());
}

// ---------------------------------------------------------------------------------------------
// PPTP, AH, A-MSDU: places where a RST that tshark shows is missed
// ---------------------------------------------------------------------------------------------

/// PPTP's enhanced GRE (version 1, key + sequence) around a PPP frame.
fn pptp(ppp: &[u8]) -> Vec<u8> {
    let mut gre = vec![0x30, 0x01, 0x88, 0x0b];
    gre.extend_from_slice(&(ppp.len() as u16).to_be_bytes());
    gre.extend_from_slice(&[0x00, 0x07]); // call id
    gre.extend_from_slice(&[0, 0, 0, 1]); // sequence
    gre.extend_from_slice(ppp);
    outer4(47, &gre)
}

#[test]
fn pptp_gre_without_address_control() {
    let ip = rst4().ip_packet();
    for ppp in [cat(&[&[0x00, 0x21], &ip]), cat(&[&[0x21], &ip])] {
        let frame = pptp(&ppp);
        let seg = tcp(LinkType::RAW, &frame);
        assert_rst4(&seg);
        assert_eq!(encaps(&seg), [Encap::Gre]);
    }
}

#[test]
fn pptp_gre_with_address_control() {
    let ppp = cat(&[&[0xff, 0x03, 0x00, 0x21], &rst4().ip_packet()]);
    let frame = pptp(&ppp);
    let seg = tcp(LinkType::RAW, &frame);
    assert_rst4(&seg);
    assert_eq!(encaps(&seg), [Encap::Gre]);
}

#[test]
fn ipv6_authentication_header_then_tcp() {
    // AH: next header TCP, payload length 4 (→ 24 bytes), SPI, sequence, 12-byte ICV.
    let ah = cat(&[&[6, 4, 0, 0], &[0, 0, 1, 0], &[0, 0, 0, 1], &[0; 12]]);
    let ip = ipv6_custom(51, &cat(&[&ah, &rst6().tcp_bytes()]));
    let seg = tcp(LinkType::RAW, &ip);
    assert_eq!((seg.sport, seg.dport), (8443, 40_000));
    assert_eq!(seg.flags, TcpFlags(RST_ACK));
    assert_eq!(seg.payload_len, 0);
}

#[test]
fn ipv4_authentication_header_then_tcp() {
    let ah = cat(&[&[6, 4, 0, 0], &[0, 0, 1, 0], &[0, 0, 0, 1], &[0; 12]]);
    let ip = ipv4_custom(&[], 0, 51, 57, &cat(&[&ah, &rst4().tcp_bytes()]));
    let seg = tcp(LinkType::RAW, &ip);
    assert_eq!(seg.src, ip4(SERVER4));
    assert_eq!((seg.sport, seg.dport), (443, 51_000));
    assert!(seg.flags.rst());
}

#[test]
fn ieee80211_amsdu_subframe() {
    let ip = rst4().ip_packet();
    let sub = cat(&[
        &[0x02, 0, 0, 0, 0, 0xcc, 0x02, 0, 0, 0, 0, 0xbb],
        &((LLC_SNAP_IPV4.len() + ip.len()) as u16).to_be_bytes(),
        &LLC_SNAP_IPV4,
        &ip,
    ]);
    let mut frame = wifi_qos_data(0x01, &sub);
    frame[24] = 0x80; // QoS control: A-MSDU present
    assert_rst4(&tcp(LinkType::IEEE802_11, &frame));
}
