//! Every encapsulation added from the inventory in docs/encapsulations.md, on a crafted capture:
//! each case wraps one RST (and a SYN before it) in its headers, `rsthound read` must count
//! exactly the RSTs built, and tshark (when installed) must count the same frames as RSTs.
//! A frame nobody decodes is counted by the name of what stopped us, never dropped silently.

mod common;

use common::{TempDir, ip, pcap_of, rsthound, stderr, ts};
use rsthound::engine::decode::{Outcome, TcpFlags, decode};
use rsthound::model::LinkType;
use rsthound::testkit::synth::{self, TcpSpec};
use std::net::IpAddr;

const OUTER_SRC: &str = "192.0.2.1";
const OUTER_DST: &str = "192.0.2.2";
const PROTO_UDP: u8 = 17;
const PROTO_GRE: u8 = 47;

fn inner(flags: u16, seq: u32) -> TcpSpec {
    TcpSpec::new(ip("10.9.0.1"), 40_000, ip("10.9.0.2"), 443, flags).seq(seq)
}

fn inner6(flags: u16, seq: u32) -> TcpSpec {
    TcpSpec::new(ip("fd00::1"), 40_000, ip("fd00::2"), 443, flags).seq(seq)
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn outer_ip(proto: u8, payload: &[u8]) -> Vec<u8> {
    synth::ip_packet(ip(OUTER_SRC), ip(OUTER_DST), proto, 64, payload)
}

fn outer_ip6(proto: u8, payload: &[u8]) -> Vec<u8> {
    synth::ip_packet(ip("2001:db8::1"), ip("2001:db8::2"), proto, 64, payload)
}

/// An outer Ethernet/IPv4/GRE frame with protocol `proto` (flags word `flags`, plus `extra`
/// header words) around `payload`.
fn gre(flags: u16, proto: u16, extra: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut g = flags.to_be_bytes().to_vec();
    g.extend_from_slice(&proto.to_be_bytes());
    g.extend_from_slice(extra);
    g.extend_from_slice(payload);
    synth::ethernet(0x0800, &outer_ip(PROTO_GRE, &g))
}

fn udp_tunnel(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    synth::ethernet(
        0x0800,
        &outer_ip(PROTO_UDP, &synth::udp(sport, dport, payload)),
    )
}

/// An 802.11 QoS data frame from the distribution system, with LLC/SNAP and `ip` inside.
fn wlan_data(ip_packet: &[u8], ethertype: u16) -> Vec<u8> {
    let mut f = vec![0x88, 0x02, 0x00, 0x00];
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 1]); // address 1
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 2]); // address 2
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 3]); // address 3
    f.extend_from_slice(&[0x10, 0x00]); // sequence control
    f.extend_from_slice(&[0x00, 0x00]); // QoS control
    f.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0]);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(ip_packet);
    f
}

/// Cisco's CAPWAP byte order for the frame control field.
fn swap_fc(mut f: Vec<u8>) -> Vec<u8> {
    f.swap(0, 1);
    f
}

/// One encapsulation: a name and how to wrap an inner IP packet (v4 or v6) in it.
struct Case {
    name: &'static str,
    wrap: fn(&TcpSpec) -> Vec<u8>,
    v6: bool,
}

fn ip_of(s: &TcpSpec) -> Vec<u8> {
    s.ip_packet()
}

fn eth_of(s: &TcpSpec) -> Vec<u8> {
    s.ethernet()
}

fn et(s: &TcpSpec) -> [u8; 2] {
    let v6 = s.ip_packet()[0] >> 4 == 6;
    if v6 { [0x86, 0xdd] } else { [0x08, 0x00] }
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "Cisco MetaData (SGT) on Ethernet",
            wrap: |s| {
                synth::ethernet(
                    0x8909,
                    &cat(&[&[0x01, 0x01, 0x00, 0x01, 0x00, 0x0a], &et(s), &ip_of(s)]),
                )
            },
            v6: false,
        },
        Case {
            name: "Cisco MetaData inside an 802.1Q tag",
            wrap: |s| {
                synth::ethernet(
                    0x8100,
                    &cat(&[
                        &[0x00, 0x64, 0x89, 0x09],
                        &[0x01, 0x01, 0x00, 0x01, 0x00, 0x0a],
                        &et(s),
                        &ip_of(s),
                    ]),
                )
            },
            v6: false,
        },
        Case {
            name: "HSR tag",
            wrap: |s| {
                synth::ethernet(
                    0x892f,
                    &cat(&[&[0x00, 0x40, 0x00, 0x07], &et(s), &ip_of(s)]),
                )
            },
            v6: false,
        },
        Case {
            name: "802.1CB R-TAG",
            wrap: |s| {
                synth::ethernet(
                    0xf1c1,
                    &cat(&[&[0x00, 0x00, 0x00, 0x07], &et(s), &ip_of(s)]),
                )
            },
            v6: false,
        },
        Case {
            name: "MACsec, integrity only, with SCI",
            wrap: |s| {
                let mut f = synth::ethernet(
                    0x88e5,
                    &cat(&[
                        &[0x20, 0x00, 0x00, 0x00, 0x00, 0x01],
                        &[0x02, 0, 0, 0, 0, 2, 0x00, 0x01],
                        &et(s),
                        &ip_of(s),
                    ]),
                );
                f.extend_from_slice(&[0u8; 16]); // ICV
                f
            },
            v6: false,
        },
        Case {
            name: "TRILL",
            wrap: |s| {
                synth::ethernet(
                    0x22f3,
                    &cat(&[&[0x00, 0x3f, 0x00, 0x01, 0x00, 0x02], &eth_of(s)]),
                )
            },
            v6: false,
        },
        Case {
            name: "NSH on Ethernet, IPv4 next",
            wrap: |s| {
                synth::ethernet(
                    0x894f,
                    &cat(&[
                        &[0x0f, 0xc6, 0x01, 0x01],
                        &[0, 0, 0x01, 0xff],
                        &[0u8; 16],
                        &ip_of(s),
                    ]),
                )
            },
            v6: false,
        },
        Case {
            name: "Aruba GRE 0x8210 carrying 802.11",
            wrap: |s| gre(0, 0x8210, &[], &wlan_data(&ip_of(s), 0x0800)),
            v6: false,
        },
        Case {
            name: "Aruba GRE 0x8300 carrying 802.11, IPv6 inside",
            wrap: |s| gre(0, 0x8300, &[], &wlan_data(&ip_of(s), 0x86dd)),
            v6: true,
        },
        Case {
            name: "MikroTik EoIP",
            wrap: |s| {
                let e = eth_of(s);
                let mut key = (e.len() as u16).to_be_bytes().to_vec();
                key.extend_from_slice(&[0x2a, 0x00]);
                gre(0x2001, 0x6400, &key, &e)
            },
            v6: false,
        },
        Case {
            name: "WCCPv2 GRE (redirect header)",
            wrap: |s| gre(0, 0x883e, &[0x00, 0x00, 0x00, 0x00], &ip_of(s)),
            v6: false,
        },
        Case {
            name: "WCCPv1 GRE (no redirect header)",
            wrap: |s| gre(0, 0x883e, &[], &ip_of(s)),
            v6: false,
        },
        Case {
            name: "GRE Frame Relay (RFC 2427 NLPID IPv4)",
            wrap: |s| {
                gre(
                    0,
                    0x6559,
                    &[],
                    &cat(&[&[0x18, 0x41, 0x03, 0xcc], &ip_of(s)]),
                )
            },
            v6: false,
        },
        Case {
            name: "Cisco MetaData in GRE",
            wrap: |s| {
                gre(
                    0,
                    0x8909,
                    &[],
                    &cat(&[&et(s), &[0x01, 0x01, 0x00, 0x01, 0x00, 0x0a], &ip_of(s)]),
                )
            },
            v6: false,
        },
        Case {
            name: "NSH in GRE, Ethernet next",
            wrap: |s| {
                gre(
                    0,
                    0x894f,
                    &[],
                    &cat(&[&[0x0f, 0xc2, 0x02, 0x03], &[0, 0, 0x01, 0xff], &eth_of(s)]),
                )
            },
            v6: false,
        },
        Case {
            name: "VXLAN-GPE, IPv6 next",
            wrap: |s| {
                udp_tunnel(
                    50_000,
                    4790,
                    &cat(&[&[0x0c, 0, 0, 0x02, 0, 0, 0x2a, 0], &ip_of(s)]),
                )
            },
            v6: true,
        },
        Case {
            name: "VXLAN-GPE, Ethernet next",
            wrap: |s| {
                udp_tunnel(
                    50_000,
                    4790,
                    &cat(&[&[0x0c, 0, 0, 0x03, 0, 0, 0x2a, 0], &eth_of(s)]),
                )
            },
            v6: false,
        },
        Case {
            name: "MPLS-in-UDP",
            wrap: |s| udp_tunnel(50_000, 6635, &cat(&[&[0x00, 0x01, 0x41, 0x40], &ip_of(s)])),
            v6: false,
        },
        Case {
            name: "L2TPv2 data with length and sequence",
            wrap: |s| {
                let ppp = cat(&[&[0xff, 0x03, 0x00, 0x21], &ip_of(s)]);
                let len = (12 + ppp.len()) as u16;
                let mut h = vec![0x48, 0x02];
                h.extend_from_slice(&len.to_be_bytes());
                h.extend_from_slice(&[0x00, 0x07, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00]);
                udp_tunnel(1701, 1701, &cat(&[&h, &ppp]))
            },
            v6: false,
        },
        Case {
            name: "L2TPv2 data, minimal header, IPv6",
            wrap: |s| {
                udp_tunnel(
                    1701,
                    1701,
                    &cat(&[
                        &[0x00, 0x02, 0x00, 0x07, 0x00, 0x09],
                        &[0xff, 0x03, 0x00, 0x57],
                        &ip_of(s),
                    ]),
                )
            },
            v6: true,
        },
        Case {
            name: "CAPWAP data, 802.3 frame",
            wrap: |s| {
                udp_tunnel(
                    5247,
                    5247,
                    &cat(&[&[0x00, 0x10, 0x02, 0x00, 0, 0, 0, 0], &eth_of(s)]),
                )
            },
            v6: false,
        },
        Case {
            name: "CAPWAP data, native 802.11 frame (Cisco: frame control swapped)",
            wrap: |s| {
                udp_tunnel(
                    5247,
                    5247,
                    &cat(&[
                        &[0x00, 0x10, 0x03, 0x00, 0, 0, 0, 0],
                        &swap_fc(wlan_data(&ip_of(s), 0x0800)),
                    ]),
                )
            },
            v6: false,
        },
        Case {
            name: "LISP data",
            wrap: |s| {
                udp_tunnel(
                    50_000,
                    4341,
                    &cat(&[&[0x88, 0, 0, 0x01, 0, 0, 0, 0x01], &ip_of(s)]),
                )
            },
            v6: false,
        },
        Case {
            name: "EtherIP",
            wrap: |s| synth::ethernet(0x0800, &outer_ip(97, &cat(&[&[0x30, 0x00], &eth_of(s)]))),
            v6: false,
        },
        Case {
            name: "MPLS-in-IP",
            wrap: |s| {
                synth::ethernet(
                    0x0800,
                    &outer_ip(137, &cat(&[&[0x00, 0x01, 0x41, 0x40], &ip_of(s)])),
                )
            },
            v6: false,
        },
        Case {
            name: "Ethernet in IPv6 (next header 143)",
            wrap: |s| synth::ethernet(0x86dd, &outer_ip6(143, &eth_of(s))),
            v6: false,
        },
    ]
}

fn spec(case: &Case, flags: u16, seq: u32) -> TcpSpec {
    if case.v6 {
        inner6(flags, seq)
    } else {
        inner(flags, seq)
    }
}

#[test]
fn each_encapsulation_yields_its_rst() {
    for case in cases() {
        let frame = (case.wrap)(&spec(&case, TcpFlags::RST, 77));
        match decode(LinkType::ETHERNET, &frame) {
            Outcome::Tcp(seg) => {
                assert!(seg.flags.rst(), "{}", case.name);
                assert_eq!(
                    (seg.sport, seg.dport, seg.seq),
                    (40_000, 443, 77),
                    "{}",
                    case.name
                );
                let want: IpAddr = if case.v6 {
                    ip("fd00::2")
                } else {
                    ip("10.9.0.2")
                };
                assert_eq!(seg.dst, want, "{}", case.name);
            }
            other => panic!("{}: not decoded: {other:?}", case.name),
        }
    }
}

/// The capture: per case a SYN and its RST/ACK, in order; returns it and the RST frame numbers
/// (1-based, as tshark numbers them).
fn capture() -> (Vec<u8>, Vec<u32>) {
    let mut frames = Vec::new();
    let mut rst_frames = Vec::new();
    for (i, case) in cases().iter().enumerate() {
        let t = 1_763_730_942 + i as i64;
        let syn = spec(case, TcpFlags::SYN, 1000);
        let rst =
            TcpSpec::new(syn.dst, 443, syn.src, 40_000, TcpFlags::RST | TcpFlags::ACK).ack(1001);
        frames.push((ts(t, 0), (case.wrap)(&syn)));
        frames.push((ts(t, 100), (case.wrap)(&rst)));
        rst_frames.push(frames.len() as u32);
    }
    (pcap_of(&frames), rst_frames)
}

#[test]
fn read_counts_every_rst_and_calls_each_refused() {
    let (pcap, rst_frames) = capture();
    let d = TempDir::new("encap-tunnels");
    if let Ok(p) = std::env::var("ENCAP_KEEP") {
        std::fs::write(p, &pcap).unwrap();
    }
    let f = d.write("tunnels.pcap", &pcap);
    let o = rsthound(&["read", "--json", &f], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let rsts: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with(r#"{"type":"rst""#))
        .collect();
    assert_eq!(rsts.len(), rst_frames.len(), "{out}");
    assert!(
        rsts.iter().all(|l| l.contains(r#""verdict":"refused""#)),
        "{out}"
    );
    let summary = out.lines().last().unwrap();
    assert!(summary.contains(r#""not_decoded":{}"#), "{summary}");
    assert!(summary.contains(&format!(r#""rsts":{}"#, rst_frames.len())));

    // tshark, when installed, must find the RSTs in the very same frames.
    match std::process::Command::new("tshark")
        .args(["-n", "-r", &f, "-Y", "tcp.flags.reset == 1", "-T", "fields"])
        .args(["-e", "frame.number"])
        .output()
    {
        Ok(t) if t.status.success() => {
            let theirs: Vec<u32> = String::from_utf8_lossy(&t.stdout)
                .lines()
                .filter_map(|l| l.trim().parse().ok())
                .collect();
            assert_eq!(theirs, rst_frames, "tshark finds RSTs in other frames");
        }
        _ => eprintln!("tshark not installed: RST frames not cross-checked"),
    }
}

#[test]
fn frames_nobody_decodes_are_counted_by_name() {
    let ipx = synth::ethernet(0x8137, &[0xff, 0xff, 0x00, 0x1e, 0, 0x04, 0, 0, 0, 0]);
    let unknown = synth::ethernet(0x1234, &[0u8; 20]);
    let gre_unknown = gre(0, 0x8881, &[], &[0x7e, 0xff, 0x03, 0x00, 0x21, 0x7e]);
    let arp = synth::ethernet(0x0806, &[0u8; 28]);
    let pcap = pcap_of(&[
        (ts(1, 0), ipx),
        (ts(2, 0), unknown),
        (ts(3, 0), gre_unknown),
        (ts(4, 0), arp),
        (ts(5, 0), inner(TcpFlags::RST, 1).ethernet()),
    ]);
    let d = TempDir::new("encap-unknown");
    let f = d.write("unknown.pcap", &pcap);
    let o = rsthound(&["read", &f], None);
    assert!(o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains(
            "not decoded: 3 packets (1 CDMA2000 A10, PPP in HDLC-like framing (GRE protocol 0x8881), \
             1 IPX (ethertype 0x8137), 1 unknown ethertype 0x1234)"
        ),
        "{err}"
    );
    assert!(err.contains("not TCP: 1 non-IP"), "{err}");
    let o = rsthound(&["read", "--json", &f], None);
    let out = String::from_utf8_lossy(&o.stdout);
    let summary = out.lines().last().unwrap();
    assert!(
        summary.contains(r#""IPX (ethertype 0x8137)":1"#)
            && summary.contains(r#""unknown ethertype 0x1234":1"#),
        "{summary}"
    );
}

#[test]
fn vendor_snap_is_control_not_an_ethertype() {
    // CDP: 802.3 + LLC/SNAP under Cisco's OUI, PID 0x2000; not "ethertype 0x2000".
    let body = [
        0xaa, 0xaa, 0x03, 0x00, 0x00, 0x0c, 0x20, 0x00, 0x02, 0xb4, 0, 0,
    ];
    let frame = synth::ethernet(body.len() as u16, &body);
    assert!(matches!(
        decode(LinkType::ETHERNET, &frame),
        Outcome::NotTcp(rsthound::engine::decode::NotTcp::NonIp)
    ));
}

fn within(inner: &[u8], outer: &[u8]) -> bool {
    let (o, i) = (outer.as_ptr() as usize, inner.as_ptr() as usize);
    inner.is_empty() || (i >= o && i + inner.len() <= o + outer.len())
}

mod damaged {
    use super::*;
    use proptest::prelude::*;
    use proptest::sample::Index;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4096, failure_persistence: None, ..ProptestConfig::default() })]

        /// Each new encapsulation, its bytes overwritten and cut anywhere: never a panic, every
        /// slice of a segment inside the frame, and the frame either a segment, not TCP, or
        /// undecodable with a reason that can be put in words.
        #[test]
        fn damaged_encapsulations_never_panic(
            which in any::<Index>(),
            flips in prop::collection::vec((any::<Index>(), any::<u8>()), 0..8),
            cut in prop::option::of(any::<Index>()),
        ) {
            let cases = cases();
            let case = &cases[which.index(cases.len())];
            let mut frame = (case.wrap)(&spec(case, TcpFlags::RST, 77));
            for (at, b) in &flips {
                let i = at.index(frame.len());
                frame[i] = *b;
            }
            if let Some(c) = cut {
                frame.truncate(c.index(frame.len() + 1));
            }
            match decode(LinkType::ETHERNET, &frame) {
                Outcome::Tcp(seg) => {
                    prop_assert!(within(seg.raw, &frame) && within(seg.payload, &frame));
                    prop_assert!(within(seg.options, &frame));
                }
                Outcome::NotTcp(_) => {}
                Outcome::Undecodable(u) => prop_assert!(!u.to_string().is_empty()),
            }
        }
    }
}
