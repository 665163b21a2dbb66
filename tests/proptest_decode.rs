//! Property tests: the decoder and the capture readers never panic on hostile input, and a
//! decoded segment's slices always point into the frame they came from.
//!
//! (a) random bytes under every supported link type (and random ones);
//! (b) valid frames of many encapsulations, built with `rsthound::testkit::synth`, then damaged;
//! (c) random and damaged pcap / pcapng streams through `CaptureReader`.

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::Config as ProptestConfig;
use rsthound::engine::decode::{Encap, Outcome, TcpFlags, TcpSegment, decode, ethernet_ipv4_tcp};
use rsthound::model::timestamp::Timestamp;
use rsthound::sink::pcapng_writer::{PcapWriter, PcapngWriter};
use rsthound::source::capture::{CaptureReader, LinkType};
use rsthound::testkit::synth::{self, TcpSpec};
use std::io::Cursor;
use std::net::IpAddr;

/// Every link type the decoder has a branch for.
const SUPPORTED: &[u32] = &[
    0, 1, 8, 9, 10, 12, 14, 50, 51, 101, 104, 105, 107, 108, 113, 127, 192, 226, 228, 229, 239,
    258, 274, 276,
];

/// How many packets a fuzzed capture may yield before the test stops reading it.
const MAX_PACKETS: usize = 2_000;

/// Decoding a frame costs microseconds, so the decoder properties run more cases than the
/// capture ones (each of which sets up a reader with its 1 MiB buffer). `PROPTEST_CASES`
/// overrides both for a longer hunt.
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        // Don't write regression files into the source tree; a failure prints its input.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn link_type() -> impl Strategy<Value = LinkType> {
    prop_oneof![
        6 => prop::sample::select(SUPPORTED).prop_map(LinkType),
        1 => any::<u32>().prop_map(LinkType),
    ]
}

/// `inner` lies inside `outer` (an empty slice may point anywhere).
fn within(inner: &[u8], outer: &[u8]) -> bool {
    if inner.is_empty() {
        return true;
    }
    let (o, i) = (outer.as_ptr_range(), inner.as_ptr_range());
    i.start >= o.start && i.end <= o.end
}

/// The same slice: same place, same length.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.as_ptr() == b.as_ptr() && a.len() == b.len()
}

/// The fast IPv4 path finds exactly the segments of untagged Ethernet IPv4 frames that the
/// general decoder finds, with the same fields, and nothing else.
fn check_fast_path(link: LinkType, frame: &[u8]) -> Result<(), TestCaseError> {
    let general = decode(link, frame);
    let fast = (link == LinkType::ETHERNET)
        .then(|| ethernet_ipv4_tcp(frame))
        .flatten();
    match (&general, fast) {
        (Outcome::Tcp(g), Some(f)) => {
            let f: TcpSegment<'_> = f.segment();
            prop_assert_eq!(
                (g.src, g.dst, g.sport, g.dport),
                (f.src, f.dst, f.sport, f.dport)
            );
            prop_assert_eq!(
                (g.seq, g.ack, g.flags, g.window),
                (f.seq, f.ack, f.flags, f.window)
            );
            prop_assert_eq!(
                (g.ttl, g.ip_id, g.payload_len),
                (f.ttl, f.ip_id, f.payload_len)
            );
            prop_assert!(
                same(g.options, f.options) && same(g.raw, f.raw) && same(g.payload, f.payload)
            );
            prop_assert_eq!(g.ctx, f.ctx);
        }
        (Outcome::Tcp(g), None) => {
            // Only what the fast path leaves alone on purpose: other link types, tags and
            // tunnels, IPv6 (also behind an IPv4 ethertype), TCP headers cut below 20 bytes.
            let plain_v4 = link == LinkType::ETHERNET
                && frame.get(12..14) == Some(&[0x08, 0x00][..])
                && frame.get(14).is_some_and(|b| b >> 4 == 4)
                && g.ctx.encaps().next().is_none()
                && g.src.is_ipv4()
                && g.header_cut.is_none();
            prop_assert!(!plain_v4, "the fast path missed a plain IPv4 segment");
        }
        (other, Some(_)) => prop_assert!(false, "the fast path found a segment in {other:?}"),
        (_, None) => {}
    }
    Ok(())
}

/// Decodes and checks what must hold for any input.
fn check_decode(link: LinkType, frame: &[u8]) -> Result<(), TestCaseError> {
    check_fast_path(link, frame)?;
    if let Outcome::Tcp(seg) = decode(link, frame) {
        prop_assert!(
            within(seg.payload, frame),
            "payload outside the frame ({link:?})"
        );
        prop_assert!(
            within(seg.options, frame),
            "options outside the frame ({link:?})"
        );
        prop_assert!(seg.options.len() <= 40);
        prop_assert!(
            seg.payload.len() as u64 <= u64::from(seg.payload_len),
            "captured payload {} exceeds declared {} ({link:?})",
            seg.payload.len(),
            seg.payload_len
        );
        prop_assert!(seg.flags.0 <= 0x1ff);
        // Display must not panic either.
        let _ = seg.flags.to_string();
        for e in seg.ctx.encaps() {
            let _ = (e.to_string(), e.kind(), e.id());
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Valid frames to damage
// ---------------------------------------------------------------------------------------------

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

const PAYLOAD: &[u8] = b"payload bytes";

fn rst4() -> TcpSpec {
    TcpSpec::new(
        ip("192.0.2.1"),
        443,
        ip("192.0.2.2"),
        50_000,
        TcpFlags::RST | TcpFlags::ACK,
    )
    .seq(1)
    .ack(2)
    .options(&[0x02, 0x04, 0x05, 0xb4])
    .payload(PAYLOAD)
}

fn rst6() -> TcpSpec {
    TcpSpec::new(
        ip("2001:db8::1"),
        443,
        ip("2001:db8::2"),
        50_000,
        TcpFlags::RST | TcpFlags::ACK,
    )
    .seq(3)
    .ack(4)
    .payload(PAYLOAD)
}

fn outer4(proto: u8, payload: &[u8]) -> Vec<u8> {
    synth::ip_packet(ip("10.0.0.1"), ip("10.0.0.2"), proto, 64, payload)
}

fn eth_udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    synth::ethernet(0x0800, &outer4(17, &synth::udp(sport, dport, payload)))
}

const LLC_SNAP_IPV4: [u8; 8] = [0xaa, 0xaa, 0x03, 0x00, 0x00, 0x00, 0x08, 0x00];

fn wifi_qos_data(body: &[u8]) -> Vec<u8> {
    let mut f = vec![0x88, 0x01, 0, 0];
    f.extend_from_slice(&[2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 3]);
    f.extend_from_slice(&[0x10, 0, 0, 0]);
    f.extend_from_slice(body);
    f
}

/// One valid frame per encapsulation, each carrying an RST with `PAYLOAD`, and the
/// encapsulations the decoder should list.
fn valid_frames() -> Vec<(&'static str, LinkType, Vec<u8>, Vec<Encap>)> {
    let v4 = rst4().ip_packet();
    let v6 = rst6().ip_packet();
    let mut frames = vec![
        ("ethernet v4", LinkType::ETHERNET, rst4().ethernet(), vec![]),
        ("ethernet v6", LinkType::ETHERNET, rst6().ethernet(), vec![]),
        (
            "qinq",
            LinkType::ETHERNET,
            synth::ethernet(
                0x88a8,
                &[&[0, 200, 0x81, 0, 0, 100, 0x08, 0][..], &v4].concat(),
            ),
            vec![Encap::Vlan(200), Encap::Vlan(100)],
        ),
        (
            "mpls",
            LinkType::ETHERNET,
            synth::ethernet(
                0x8847,
                &[&[0, 0x01, 0x00, 0x40, 0, 0x02, 0x01, 0x40][..], &v4].concat(),
            ),
            vec![Encap::Mpls(16), Encap::Mpls(32)],
        ),
        (
            "pppoe",
            LinkType::ETHERNET,
            synth::ethernet(
                0x8864,
                &[&[0x11, 0, 0, 1, 0, 0, 0x00, 0x21][..], &v4].concat(),
            ),
            vec![Encap::Pppoe],
        ),
        (
            "sll",
            LinkType::LINUX_SLL,
            [
                &[0, 4, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0][..],
                &v4,
            ]
            .concat(),
            vec![],
        ),
        (
            "sll2",
            LinkType::LINUX_SLL2,
            [
                &[
                    0x86, 0xdd, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0,
                ][..],
                &v6,
            ]
            .concat(),
            vec![],
        ),
        (
            "gre csum+key+seq",
            LinkType::ETHERNET,
            synth::ethernet(
                0x0800,
                &outer4(47, &[&[0xb0, 0, 0x08, 0][..], &[0; 12], &v4].concat()),
            ),
            vec![Encap::Gre],
        ),
        (
            "erspan ii",
            LinkType::ETHERNET,
            synth::ethernet(
                0x0800,
                &outer4(
                    47,
                    &[
                        &[0x10, 0, 0x88, 0xbe, 0, 0, 0, 1][..],
                        &[0x10, 0, 0, 5, 0, 0, 0, 0],
                        &rst4().ethernet(),
                    ]
                    .concat(),
                ),
            ),
            vec![Encap::Gre, Encap::Erspan],
        ),
        (
            "erspan iii + platform",
            LinkType::ETHERNET,
            synth::ethernet(
                0x0800,
                &outer4(
                    47,
                    &[
                        &[0x10, 0, 0x22, 0xeb, 0, 0, 0, 1][..],
                        &[0x20, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 1],
                        &[0; 8],
                        &rst6().ethernet(),
                    ]
                    .concat(),
                ),
            ),
            vec![Encap::Gre, Encap::Erspan],
        ),
        (
            "vxlan",
            LinkType::ETHERNET,
            eth_udp(
                1234,
                4789,
                &[&[0x08, 0, 0, 0, 0, 0, 42, 0][..], &rst4().ethernet()].concat(),
            ),
            vec![Encap::Vxlan(42)],
        ),
        (
            "geneve + options",
            LinkType::ETHERNET,
            eth_udp(
                1234,
                6081,
                &[
                    &[0x01, 0, 0x65, 0x58, 0, 0, 9, 0][..],
                    &[0, 1, 2, 0],
                    &rst4().ethernet(),
                ]
                .concat(),
            ),
            vec![Encap::Geneve(9)],
        ),
        (
            "gtp-u + extension",
            LinkType::ETHERNET,
            eth_udp(
                2152,
                2152,
                &[
                    &[0x34, 0xff, 0, 0, 0, 0, 0, 7][..],
                    &[0, 1, 0, 0x85, 1, 0, 9, 0],
                    &v6,
                ]
                .concat(),
            ),
            vec![Encap::GtpU(7)],
        ),
        (
            "teredo",
            LinkType::ETHERNET,
            eth_udp(3544, 40_000, &v6),
            vec![Encap::Teredo],
        ),
        (
            "ipv6 ext headers",
            LinkType::RAW,
            {
                let t = rst6().tcp_bytes();
                let body = [
                    &[60, 0, 1, 4, 0, 0, 0, 0][..],
                    &[44, 0, 1, 4, 0, 0, 0, 0],
                    &[6, 0, 0, 1, 0, 0, 0, 9],
                ]
                .concat();
                let mut p = synth::ip_packet(ip("2001:db8::1"), ip("2001:db8::2"), 0, 64, &body);
                p.extend_from_slice(&t);
                let plen = (p.len() - 40) as u16;
                p[4..6].copy_from_slice(&plen.to_be_bytes());
                p
            },
            vec![],
        ),
        ("6in4", LinkType::RAW, outer4(41, &v6), vec![Encap::IpInIp]),
        (
            "radiotap 802.11",
            LinkType::IEEE802_11_RADIOTAP,
            [
                &[0, 0, 8, 0, 0, 0, 0, 0][..],
                &wifi_qos_data(&[&LLC_SNAP_IPV4[..], &v4].concat()),
            ]
            .concat(),
            vec![],
        ),
        (
            "ppi ethernet",
            LinkType::PPI,
            [&[0, 0, 8, 0, 1, 0, 0, 0][..], &rst4().ethernet()].concat(),
            vec![],
        ),
        (
            "nflog",
            LinkType::NFLOG,
            {
                let mut f = vec![2, 0, 0, 0, 8, 0, 1, 0, 8, 0, 1, 0];
                f.extend_from_slice(&((4 + v4.len()) as u16).to_le_bytes());
                f.extend_from_slice(&9u16.to_le_bytes());
                f.extend_from_slice(&v4);
                f
            },
            vec![],
        ),
        (
            "ppp",
            LinkType::PPP,
            [&[0xff, 0x03, 0x00, 0x21][..], &v4].concat(),
            vec![],
        ),
        (
            "frame relay",
            LinkType::FRELAY,
            [&[0x18, 0x41, 0x03, 0xcc][..], &v4].concat(),
            vec![],
        ),
        (
            "null",
            LinkType::NULL,
            [&[2, 0, 0, 0][..], &v4].concat(),
            vec![],
        ),
        (
            "fddi",
            LinkType::FDDI,
            [&[0x50][..], &[0; 12], &LLC_SNAP_IPV4, &v4].concat(),
            vec![],
        ),
    ];
    // A VLAN inside a VXLAN inside a VLAN: encapsulations listed outermost first.
    let inner = synth::ethernet(0x8100, &[&[0, 30, 0x08, 0][..], &v4].concat());
    let vx = eth_udp(
        1,
        4789,
        &[&[0x08, 0, 0, 0, 0, 0, 5, 0][..], &inner].concat(),
    );
    let tagged = [&vx[..12], &[0x81, 0, 0, 20], &vx[12..]].concat();
    frames.push((
        "vlan/vxlan/vlan",
        LinkType::ETHERNET,
        tagged,
        vec![Encap::Vlan(20), Encap::Vxlan(5), Encap::Vlan(30)],
    ));
    frames
}

/// The builders above are right: each frame decodes to the RST it carries.
#[test]
fn valid_frames_decode_to_their_rst() {
    let frames = valid_frames();
    assert!(frames.len() >= 12);
    for (name, link, frame, expected) in &frames {
        match decode(*link, frame) {
            Outcome::Tcp(seg) => {
                assert!(seg.flags.rst() && seg.flags.ack(), "{name}");
                assert_eq!((seg.sport, seg.dport), (443, 50_000), "{name}");
                assert_eq!(seg.payload, PAYLOAD, "{name}");
                assert_eq!(seg.payload_len as usize, PAYLOAD.len(), "{name}");
                let encaps: Vec<Encap> = seg.ctx.encaps().collect();
                assert_eq!(&encaps, expected, "{name}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Capture streams
// ---------------------------------------------------------------------------------------------

fn pcap_header(big_endian: bool, nanos: bool, snaplen: u32, link: u32) -> Vec<u8> {
    let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
    let fields32 = |v: u32| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let fields16 = |v: u16| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut h = Vec::with_capacity(24);
    h.extend_from_slice(&fields32(magic));
    h.extend_from_slice(&fields16(2));
    h.extend_from_slice(&fields16(4));
    h.extend_from_slice(&fields32(0));
    h.extend_from_slice(&fields32(0));
    h.extend_from_slice(&fields32(snaplen));
    h.extend_from_slice(&fields32(link));
    h
}

/// A pcapng section header (28 bytes, no options), optionally followed by an interface
/// description block for `link`.
fn pcapng_head(big_endian: bool, idb_link: Option<u16>) -> Vec<u8> {
    let u32b = |v: u32| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let u16b = |v: u16| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut h = Vec::new();
    h.extend_from_slice(&[0x0a, 0x0d, 0x0d, 0x0a]);
    h.extend_from_slice(&u32b(28));
    h.extend_from_slice(&u32b(0x1a2b_3c4d));
    h.extend_from_slice(&u16b(1));
    h.extend_from_slice(&u16b(0));
    h.extend_from_slice(&[0xff; 8]);
    h.extend_from_slice(&u32b(28));
    if let Some(link) = idb_link {
        h.extend_from_slice(&u32b(1));
        h.extend_from_slice(&u32b(20));
        h.extend_from_slice(&u16b(link));
        h.extend_from_slice(&[0, 0]);
        h.extend_from_slice(&u32b(262_144));
        h.extend_from_slice(&u32b(20));
    }
    h
}

/// Reads a stream to its end or first error, decoding every packet; returns how many it read.
fn drain(bytes: Vec<u8>) -> Result<usize, TestCaseError> {
    let total = bytes.len();
    let Ok(mut reader) = CaptureReader::new(Box::new(Cursor::new(bytes))) else {
        return Ok(0);
    };
    let _ = (reader.format(), reader.interfaces().len());
    let mut n = 0;
    while n < MAX_PACKETS {
        match reader.next_packet() {
            Ok(Some(p)) => {
                prop_assert!(p.data.len() <= total);
                let (iface, link, data) = (p.iface, p.link_type, p.data.to_vec());
                prop_assert!(iface < reader.interfaces().len());
                prop_assert_eq!(reader.interfaces()[iface].link_type, link);
                check_decode(link, &data)?;
                n += 1;
            }
            Ok(None) | Err(_) => break,
        }
        prop_assert!(reader.offset() <= total as u64);
    }
    Ok(n)
}

/// A small valid capture of the valid frames, in pcap or pcapng.
fn valid_capture(pcapng: bool, big_endian: bool) -> Vec<u8> {
    let frames = valid_frames();
    let ts = |i: usize| Timestamp::from_nanos(1_700_000_000_000_000_000 + i as i64 * 1_000, 9);
    if pcapng {
        let mut w = PcapngWriter::new(Vec::new(), big_endian).unwrap();
        let mut links: Vec<LinkType> = Vec::new();
        for (i, (_, link, frame, _)) in frames.iter().take(8).enumerate() {
            let id = match links.iter().position(|l| l == link) {
                Some(id) => id,
                None => {
                    w.interface(*link, 262_144, Some("eth0"), Some(6)).unwrap();
                    links.push(*link);
                    links.len() - 1
                }
            };
            w.packet(
                id as u32,
                ts(i),
                frame,
                Some(i.is_multiple_of(2)),
                Some("c"),
            )
            .unwrap();
        }
        w.simple_packet(&frames[0].2).unwrap();
        w.into_inner()
    } else {
        let mut w = PcapWriter::new(Vec::new(), LinkType::ETHERNET, 262_144).unwrap();
        for (i, (_, link, frame, _)) in frames.iter().enumerate() {
            if *link == LinkType::ETHERNET {
                w.write_packet(ts(i), frame, frame.len() as u32).unwrap();
            }
        }
        w.into_inner()
    }
}

#[test]
fn valid_captures_read_back() {
    for (pcapng, be) in [(false, false), (true, false), (true, true)] {
        let n = drain(valid_capture(pcapng, be)).unwrap();
        assert!(n >= 8, "pcapng={pcapng} be={be}: {n} packets");
    }
}

/// One pcapng block to fuzz the reader with.
#[derive(Debug, Clone)]
struct Block {
    kind: u32,
    /// Random fixed fields (interface id, timestamps, lengths, link type, snap length).
    fields: [u32; 5],
    /// Use `fields` as they are instead of making them consistent with `data`.
    raw_fields: bool,
    options: Vec<(u16, Vec<u8>)>,
    end_option: bool,
    data: Vec<u8>,
}

fn block() -> impl Strategy<Value = Block> {
    let option = (
        prop_oneof![
            3 => prop::sample::select(&[1u16, 2, 9, 14, 2988][..]),
            1 => any::<u16>(),
        ],
        prop::collection::vec(any::<u8>(), 0..12),
    );
    (
        prop::sample::select(BLOCK_TYPES),
        any::<[u32; 5]>(),
        prop::bool::weighted(0.2),
        prop::collection::vec(option, 0..4),
        any::<bool>(),
        prop::collection::vec(any::<u8>(), 0..120),
    )
        .prop_map(
            |(kind, fields, raw_fields, options, end_option, data)| Block {
                kind,
                fields,
                raw_fields,
                options,
                end_option,
                data,
            },
        )
}

impl Block {
    fn encode(&self, big_endian: bool) -> Vec<u8> {
        let u32b = |v: u32| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let u16b = |v: u16| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let f = self.fields;
        let caplen = if self.raw_fields {
            f[3]
        } else {
            self.data.len() as u32
        };
        let mut body = Vec::new();
        let padded_data = |body: &mut Vec<u8>| {
            body.extend_from_slice(&self.data);
            body.resize(body.len().div_ceil(4) * 4, 0);
        };
        match self.kind {
            0x0a0d_0d0a => {
                body.extend_from_slice(&u32b(0x1a2b_3c4d));
                if self.raw_fields {
                    body.extend_from_slice(&u32b(f[0]));
                } else {
                    body.extend_from_slice(&u16b(1));
                    body.extend_from_slice(&u16b(0));
                }
                body.extend_from_slice(&[0xff; 8]);
            }
            1 => {
                let link = if self.raw_fields {
                    f[0] as u16
                } else {
                    SUPPORTED[f[0] as usize % SUPPORTED.len()] as u16
                };
                body.extend_from_slice(&u16b(link));
                body.extend_from_slice(&[0, 0]);
                body.extend_from_slice(&u32b(f[1]));
            }
            6 | 2 => {
                if self.kind == 6 {
                    body.extend_from_slice(&u32b(if self.raw_fields {
                        f[0]
                    } else {
                        u32::from(f[0].is_multiple_of(8))
                    }));
                } else {
                    body.extend_from_slice(&u16b(if self.raw_fields { f[0] as u16 } else { 0 }));
                    body.extend_from_slice(&u16b(0));
                }
                body.extend_from_slice(&u32b(f[1]));
                body.extend_from_slice(&u32b(f[2]));
                body.extend_from_slice(&u32b(caplen));
                body.extend_from_slice(&u32b(f[4]));
                padded_data(&mut body);
            }
            3 => {
                body.extend_from_slice(&u32b(if self.raw_fields { f[4] } else { caplen }));
                padded_data(&mut body);
            }
            _ => padded_data(&mut body),
        }
        if self.kind != 3 {
            for (code, value) in &self.options {
                body.extend_from_slice(&u16b(*code));
                body.extend_from_slice(&u16b(value.len() as u16));
                body.extend_from_slice(value);
                body.resize(body.len().div_ceil(4) * 4, 0);
            }
            if self.end_option {
                body.extend_from_slice(&[0; 4]);
            }
        }
        let len = (12 + body.len()) as u32;
        let mut out = Vec::with_capacity(len as usize);
        out.extend_from_slice(&u32b(self.kind));
        out.extend_from_slice(&u32b(len));
        out.extend_from_slice(&body);
        out.extend_from_slice(&u32b(len));
        out
    }
}

/// Overwrites bytes at the chosen positions and optionally cuts the buffer.
fn damage(mut bytes: Vec<u8>, flips: &[(Index, u8)], cut: Option<Index>) -> Vec<u8> {
    if !bytes.is_empty() {
        for (at, v) in flips {
            let i = at.index(bytes.len());
            bytes[i] = *v;
        }
    }
    if let Some(c) = cut {
        let len = c.index(bytes.len() + 1);
        bytes.truncate(len);
    }
    bytes
}

/// Byte values that mean something to some header (versions, lengths, protocols, flags).
const FLIP_VALUES: &[u8] = &[
    0x00, 0x01, 0x03, 0x04, 0x06, 0x08, 0x2f, 0x45, 0x60, 0x88, 0xff,
];

/// pcapng block types: IDB, OPB, SPB, EPB (weighted), SHB, ISB, and a custom one.
const BLOCK_TYPES: &[u32] = &[1, 2, 3, 6, 6, 6, 0x0a0d_0d0a, 5, 0x8000_0001];

fn flips(max: usize) -> impl Strategy<Value = Vec<(Index, u8)>> {
    prop::collection::vec(
        (
            any::<Index>(),
            prop_oneof![any::<u8>(), prop::sample::select(FLIP_VALUES),],
        ),
        0..max,
    )
}

proptest! {
    #![proptest_config(config(2048))]

    /// (a) Any bytes under any link type: no panic, slices stay inside the frame.
    #[test]
    fn random_bytes_never_panic(link in link_type(), bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        check_decode(link, &bytes)?;
    }

    /// (a') Random bytes behind a plausible first header, so the walk gets past layer 2.
    #[test]
    fn random_bytes_after_valid_prefix_never_panic(
        which in any::<Index>(),
        keep in any::<Index>(),
        tail in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        let frames = valid_frames();
        let (_, link, frame, _) = &frames[which.index(frames.len())];
        let mut bytes = frame[..keep.index(frame.len().min(80) + 1)].to_vec();
        bytes.extend_from_slice(&tail);
        check_decode(*link, &bytes)?;
    }

    /// (b) A valid frame of some encapsulation, with bytes overwritten and/or cut short.
    #[test]
    fn damaged_valid_frames_never_panic(
        which in any::<Index>(),
        flips in flips(8),
        cut in prop::option::of(any::<Index>()),
        relink in prop::option::weighted(0.1, link_type()),
    ) {
        let frames = valid_frames();
        let (_, link, frame, _) = &frames[which.index(frames.len())];
        let bytes = damage(frame.clone(), &flips, cut);
        check_decode(relink.unwrap_or(*link), &bytes)?;
    }

    /// (b') An Ethernet IPv4 TCP frame with its length fields, fragment word, header lengths and
    /// protocol set at random, and cut anywhere: where the fast path's checks lie.
    #[test]
    fn fast_path_agrees_with_the_general_decoder(
        ihl in prop_oneof![Just(5u8), Just(6), 0u8..16],
        total in prop_oneof![Just(None), Just(Some(0u16)), any::<u16>().prop_map(Some), (0u16..120).prop_map(Some)],
        frag in prop_oneof![Just(0u16), Just(0x4000), Just(0x2000), any::<u16>()],
        proto in prop_oneof![8 => Just(6u8), 1 => any::<u8>()],
        offset in prop_oneof![Just(None), (0u8..16).prop_map(Some)],
        version in prop_oneof![8 => Just(4u8), 1 => Just(6), 1 => 0u8..16],
        cut in prop::option::of(any::<Index>()),
    ) {
        // 4 bytes of IP options (NOPs) stand ready for an IHL of 6.
        let tcp = rst4().tcp_bytes();
        let mut ipv4 = synth::ip_packet(ip("192.0.2.1"), ip("192.0.2.2"), 6, 64, &tcp);
        ipv4.splice(20..20, [1u8; 4]);
        let len = ipv4.len() as u16;
        ipv4[0] = version << 4 | ihl;
        ipv4[2..4].copy_from_slice(&total.unwrap_or(len).to_be_bytes());
        ipv4[6..8].copy_from_slice(&frag.to_be_bytes());
        ipv4[9] = proto;
        if let Some(o) = offset {
            ipv4[24 + 12] = o << 4 | (ipv4[24 + 12] & 0x0f);
        }
        let mut frame = synth::ethernet(0x0800, &ipv4);
        if let Some(c) = cut {
            frame.truncate(c.index(frame.len() + 1));
        }
        check_fast_path(LinkType::ETHERNET, &frame)?;
    }

}

proptest! {
    #![proptest_config(config(512))]

    /// (c) Random bytes as a capture file.
    #[test]
    fn random_capture_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        drain(bytes)?;
    }

    /// (c) A valid pcap file header, then random bytes.
    #[test]
    fn pcap_header_then_random_bytes_never_panic(
        big_endian in any::<bool>(),
        nanos in any::<bool>(),
        snaplen in prop_oneof![Just(65_535u32), Just(262_144), Just(0), any::<u32>()],
        link in prop_oneof![4 => prop::sample::select(SUPPORTED), 1 => any::<u32>()],
        tail in prop::collection::vec(any::<u8>(), 0..4096),
    ) {
        let mut bytes = pcap_header(big_endian, nanos, snaplen, link);
        bytes.extend_from_slice(&tail);
        drain(bytes)?;
    }

    /// (c) A pcap record header that fits, then random packet bytes: the decoder sees them.
    #[test]
    fn pcap_records_of_random_bytes_never_panic(
        big_endian in any::<bool>(),
        link in prop::sample::select(SUPPORTED),
        packets in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..8),
    ) {
        let mut bytes = pcap_header(big_endian, false, 262_144, link);
        let u32b = |v: u32| if big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
        for p in &packets {
            bytes.extend_from_slice(&u32b(1_700_000_000));
            bytes.extend_from_slice(&u32b(999_999));
            bytes.extend_from_slice(&u32b(p.len() as u32));
            bytes.extend_from_slice(&u32b(p.len() as u32 + 10));
            bytes.extend_from_slice(p);
        }
        prop_assert_eq!(drain(bytes)?, packets.len());
    }

    /// (c) A valid pcapng section header (and maybe an interface), then random bytes.
    #[test]
    fn pcapng_shb_then_random_bytes_never_panic(
        big_endian in any::<bool>(),
        idb in prop::option::of(prop::sample::select(SUPPORTED)),
        tail in prop::collection::vec(any::<u8>(), 0..4096),
    ) {
        let mut bytes = pcapng_head(big_endian, idb.map(|l| l as u16));
        bytes.extend_from_slice(&tail);
        drain(bytes)?;
    }

    /// (c) pcapng blocks whose framing is right and whose bodies are mostly well-formed, with
    /// random fields, option lists (interface name, timestamp resolution and offset, flags) and
    /// packet data, so the reader's option parsing, interface lookup and timestamps get fuzzed.
    #[test]
    fn pcapng_plausible_blocks_never_panic(
        big_endian in any::<bool>(),
        blocks in prop::collection::vec(block(), 0..12),
    ) {
        let mut bytes = pcapng_head(big_endian, Some(1));
        for b in &blocks {
            bytes.extend_from_slice(&b.encode(big_endian));
        }
        drain(bytes)?;
    }

    /// (c) A valid pcap or pcapng capture with bytes overwritten and/or cut short.
    #[test]
    fn damaged_valid_captures_never_panic(
        pcapng in any::<bool>(),
        big_endian in any::<bool>(),
        flips in flips(6),
        cut in prop::option::of(any::<Index>()),
    ) {
        let bytes = damage(valid_capture(pcapng, big_endian), &flips, cut);
        drain(bytes)?;
    }
}
