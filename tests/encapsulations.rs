//! Tags between Ethernet headers that carry IP in real networks: Cisco VN-Tag (0x8926, fabric
//! extenders) and IEEE 802.1BR E-Tag (0x893f, port extenders), alone and between VLAN tags.
//! Each is decoded to the TCP segment inside; a cut tag is a located error, not a silent drop.

mod common;

use common::ip;
use rsthound::engine::decode::{Outcome, TcpFlags, decode};
use rsthound::model::LinkType;
use rsthound::testkit::synth::{self, TcpSpec};

fn rst_ip() -> Vec<u8> {
    TcpSpec::new(ip("10.9.0.1"), 443, ip("10.9.0.2"), 40_000, TcpFlags::RST)
        .seq(77)
        .ip_packet()
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn assert_rst(frame: &[u8], vlan: Option<u16>) {
    match decode(LinkType::ETHERNET, frame) {
        Outcome::Tcp(seg) => {
            assert!(seg.flags.rst());
            assert_eq!((seg.sport, seg.dport, seg.seq), (443, 40_000, 77));
            assert_eq!(seg.ctx.vlan(), vlan);
        }
        other => panic!("not decoded: {other:?}"),
    }
}

#[test]
fn vn_tag_then_ipv4() {
    // VN-Tag: d/p/dst-vif/looped/r/ver/src-vif (4 bytes), then the frame's type.
    let frame = synth::ethernet(
        0x8926,
        &cat(&[&[0x80, 0x05, 0x00, 0x2a, 0x08, 0x00], &rst_ip()]),
    );
    assert_rst(&frame, None);
}

#[test]
fn vn_tag_between_vlan_tags() {
    // S-tag 200, VN-Tag, C-tag 100.
    let frame = synth::ethernet(
        0x88a8,
        &cat(&[
            &[0x00, 0xc8, 0x89, 0x26],
            &[0x80, 0x05, 0x00, 0x2a, 0x81, 0x00],
            &[0x00, 0x64, 0x08, 0x00],
            &rst_ip(),
        ]),
    );
    assert_rst(&frame, Some(100));
}

#[test]
fn e_tag_then_vlan_then_ipv4() {
    // E-Tag: 6 bytes (PCP/DEI, ingress and E-CID fields), then a C-tag 300.
    let frame = synth::ethernet(
        0x893f,
        &cat(&[
            &[0x20, 0x01, 0x00, 0x10, 0x00, 0x00, 0x81, 0x00],
            &[0x01, 0x2c, 0x08, 0x00],
            &rst_ip(),
        ]),
    );
    assert_rst(&frame, Some(300));
}

#[test]
fn a_cut_tag_is_an_error_not_a_drop() {
    for (t, tag) in [
        (0x8926u16, &[0x80, 0x05, 0x00][..]),
        (0x893f, &[0x20, 0x01, 0x00, 0x10][..]),
    ] {
        let frame = synth::ethernet(t, tag);
        match decode(LinkType::ETHERNET, &frame) {
            Outcome::Undecodable(_) => {}
            other => panic!("{t:#x}: {other:?}"),
        }
    }
}
