//! `rsthound read` on every container variant: pcap µs/ns in both byte orders, pcapng with several
//! sections, interfaces, link types and timestamp resolutions in both byte orders, gzip, zstd,
//! standard input; and the text and JSON output a user reads.

mod common;

use common::*;
use rsthound::engine::decode::TcpFlags;
use rsthound::model::LinkType;
use rsthound::testkit::synth::{TcpSpec, ip_packet};

#[test]
fn text_line_reads_like_tcpdump() {
    let d = TempDir::new("text");
    let f = d.write("story.pcap", &small_capture());
    let o = rsthound(&["read", &f], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "13:15:42.507657000 127.0.0.1:7211 > 127.0.0.1:57340 [R.] seq 0 ack 1082312303 win 0 ttl 64 | refused: answers the SYN from 127.0.0.1:57340 (no SYN-ACK)"
    );
    // The second SYN got no answer at all: reported when the capture ends.
    assert_eq!(
        lines[1],
        "13:15:43.000000000 127.0.0.1:57341 > 127.0.0.1:7211 [S] | unanswered: 1 SYN over 0.0 s, no reply (filtered, dropped, or host down)"
    );
    let err = stderr(&o);
    assert!(err.contains("1 file, 3 packets"), "{err}");
    assert!(err.contains("3 TCP segments, 1 RSTs"), "{err}");
}

/// A classic pcap written by hand in every magic/byte-order combination.
fn classic_pcap(big_endian: bool, nanos: bool, frames: &[(u32, u32, Vec<u8>)]) -> Vec<u8> {
    let w32 = |v: u32| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let w16 = |v: u16| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut out = Vec::new();
    out.extend_from_slice(&w32(if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
    out.extend_from_slice(&w16(2));
    out.extend_from_slice(&w16(4));
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&w32(65_535));
    out.extend_from_slice(&w32(1));
    for (s, frac, f) in frames {
        out.extend_from_slice(&w32(*s));
        out.extend_from_slice(&w32(*frac));
        out.extend_from_slice(&w32(f.len() as u32));
        out.extend_from_slice(&w32(f.len() as u32));
        out.extend_from_slice(f);
    }
    out
}

#[test]
fn classic_pcap_both_byte_orders_and_precisions() {
    let d = TempDir::new("classic");
    for (be, ns, frac, want) in [
        (false, false, 507_657, "2025-11-21T13:15:42.507657Z"),
        (true, false, 507_657, "2025-11-21T13:15:42.507657Z"),
        (false, true, 507_657_123, "2025-11-21T13:15:42.507657123Z"),
        (true, true, 507_657_123, "2025-11-21T13:15:42.507657123Z"),
    ] {
        let f = d.write(
            "c.pcap",
            &classic_pcap(
                be,
                ns,
                &[(1_763_730_942, frac, refused_rst(40_000).ethernet())],
            ),
        );
        let o = rsthound(&["read", "--json", &f], None);
        assert!(o.status.success(), "{}", stderr(&o));
        let v = &rst_rows(&o)[0];
        assert_eq!(v["ts"], want, "be={be} ns={ns}");
        assert_eq!(v["sport"], 7211);
    }
}

#[test]
fn pcapng_sections_interfaces_link_types_and_resolutions_in_both_byte_orders() {
    for big_endian in [false, true] {
        let data = pcapng_with(big_endian, |w| {
            w.interface(LinkType::ETHERNET, 0, Some("eth0"), Some(6))
                .unwrap();
            w.interface(LinkType::RAW, 0, Some("tun0"), Some(9))
                .unwrap();
            // 1_763_730_942.5 s in µs on eth0, inbound.
            w.packet_units(
                0,
                1_763_730_942_500_000,
                &refused_rst(1).ethernet(),
                60,
                Some(true),
                None,
            )
            .unwrap();
            // ns on the raw IP interface, outbound.
            w.packet_units(
                1,
                1_763_730_942_600_000_001,
                &refused_rst(2).ip_packet(),
                40,
                Some(false),
                None,
            )
            .unwrap();
            // A second section: the ids restart, with a binary (2^-10 s) resolution.
            w.section().unwrap();
            w.interface(LinkType::LINUX_SLL, 0, Some("lo"), Some(0x80 | 10))
                .unwrap();
            let mut sll = vec![0, 4, 0x03, 0x04, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00];
            sll.extend_from_slice(&refused_rst(3).ip_packet());
            w.packet_units(0, 1_763_730_943 * 1024 + 512, &sll, 56, None, None)
                .unwrap();
            w.simple_packet(&sll).unwrap();
        });
        let d = TempDir::new(if big_endian { "ngbe" } else { "ngle" });
        let f = d.write("multi.pcapng", &data);
        let o = rsthound(&["read", "--json", &f], None);
        assert!(o.status.success(), "{}", stderr(&o));
        let rows = rst_rows(&o);
        assert_eq!(rows.len(), 4, "{}", stdout(&o));
        assert_eq!(rows[0]["interface"], "eth0");
        assert_eq!(rows[0]["direction"], "in");
        assert_eq!(rows[0]["ts"], "2025-11-21T13:15:42.500000Z");
        assert_eq!(rows[1]["interface"], "tun0");
        assert_eq!(rows[1]["direction"], "out");
        assert_eq!(rows[1]["link_type"], "RAW");
        assert_eq!(rows[1]["ts"], "2025-11-21T13:15:42.600000001Z");
        assert_eq!(rows[2]["interface"], "lo");
        assert_eq!(rows[2]["direction"], "out", "from the SLL packet type");
        assert_eq!(
            rows[2]["ts"], "2025-11-21T13:15:43.5000Z",
            "2^-10 s needs 4 digits"
        );
        assert_eq!(rows[2]["dport"], 3);
        // The simple packet block has no time of its own: it inherits the previous one.
        assert_eq!(rows[3]["ts"], rows[2]["ts"]);
    }
}

#[test]
fn gzip_and_zstd_are_detected_by_content_not_name() {
    use std::io::Write;
    let plain = small_capture();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&plain).unwrap();
    let gz = gz.finish().unwrap();
    let zst =
        ruzstd::encoding::compress_to_vec(&plain[..], ruzstd::encoding::CompressionLevel::Fastest);
    let d = TempDir::new("compressed");
    for (name, data) in [("a.pcap", &gz), ("b.bin", &zst)] {
        let f = d.write(name, data);
        let o = rsthound(&["read", &f], None);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        assert!(
            stdout(&o).contains("127.0.0.1:7211 > 127.0.0.1:57340 [R.]"),
            "{name}"
        );
    }
    // Compressed input on stdin, too.
    let o = rsthound(&["read", "-"], Some(&gz));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().filter(|l| l.contains("[R.]")).count(), 1);
}

#[test]
fn json_carries_every_field_of_the_schema() {
    let seg = TcpSpec::new(
        ip("2001:db8::1"),
        443,
        ip("2001:db8::2"),
        50_000,
        TcpFlags::RST,
    )
    .seq(77)
    .ttl(57)
    .payload(b"bad\x1b[2Jmac");
    let mut frame = rsthound::testkit::synth::ethernet(0x8100, &[0x00, 0x64, 0x86, 0xdd]);
    frame.extend_from_slice(&seg.ip_packet());
    let d = TempDir::new("json");
    let f = d.write("v6.pcap", &pcap_of(&[(ts(1_763_730_942, 1), frame)]));
    let o = rsthound(&["read", "--json", &f], None);
    let rows = rst_rows(&o);
    let v = &rows[0];
    assert_eq!(v["type"], "rst");
    assert_eq!(v["frame"], 1);
    assert_eq!(v["ip_version"], 6);
    assert_eq!(v["src"], "2001:db8::1");
    assert_eq!(v["flags"], "R");
    assert_eq!(
        v["ack"],
        serde_json::Value::Null,
        "no ACK flag, no ack number"
    );
    assert_eq!(v["ttl"], 57);
    assert_eq!(v["payload_len"], 10);
    assert_eq!(
        v["payload_text"], "bad\\x1b[2Jmac",
        "escape sequences are neutralised"
    );
    assert_eq!(v["encap"], serde_json::json!([{"kind": "vlan", "id": 100}]));
    let o = rsthound(&["read", &f], None);
    assert_eq!(
        stdout(&o),
        "13:15:42.000001000 [2001:db8::1]:443 > [2001:db8::2]:50000 [R] seq 77 win 0 ttl 57 vlan 100 len 10 \"bad\\x1b[2Jmac\" | stray: no earlier packet of this connection in the capture\n"
    );
}

#[test]
fn several_files_prefix_lines_with_the_file_name() {
    let d = TempDir::new("multi");
    let a = d.write("a.pcap", &small_capture());
    let b = d.write("b.pcap", &small_capture());
    let o = rsthound(&["read", &a, &b], None);
    let out = stdout(&o);
    let rsts: Vec<&str> = out.lines().filter(|l| l.contains("[R.]")).collect();
    assert_eq!(rsts.len(), 2);
    assert!(rsts[0].starts_with(&format!("{a}: ")));
    assert!(stderr(&o).contains("2 files, 6 packets"));
}

#[test]
fn undecodable_packets_are_counted_with_their_reason() {
    let mut w =
        rsthound::sink::pcapng_writer::PcapWriter::new(Vec::new(), LinkType(147), 65_535).unwrap();
    w.write_packet(ts(1, 0), &[1, 2, 3], 3).unwrap();
    let d = TempDir::new("undecodable");
    let f = d.write("user0.pcap", &w.into_inner());
    let o = rsthound(&["read", &f], None);
    assert!(o.status.success());
    assert!(
        stderr(&o).contains("not decoded: 1 packet (1 unsupported link type LINKTYPE 147 (147))"),
        "{}",
        stderr(&o)
    );
    // And a truncated TCP header inside a valid IPv4 packet.
    let mut pkt = ip_packet(ip("10.0.0.1"), ip("10.0.0.2"), 6, 64, &[0; 10]);
    pkt.truncate(30);
    let f = d.write(
        "trunc.pcap",
        &pcap_of(&[(ts(1, 0), rsthound::testkit::synth::ethernet(0x0800, &pkt))]),
    );
    let o = rsthound(&["read", &f], None);
    assert!(
        stderr(&o).contains("1 truncated TCP header"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn help_and_version() {
    let o = rsthound(&["--version"], None);
    assert!(stdout(&o).starts_with("rsthound "));
    let o = rsthound(&["read", "--help"], None);
    assert!(stdout(&o).contains("--json"));
    let o = rsthound(&["read"], None);
    assert_eq!(o.status.code(), Some(2), "a usage error");
}

#[test]
fn raw_mode_lists_rsts_without_tracking() {
    let d = TempDir::new("raw");
    let f = d.write("story.pcap", &small_capture());
    let o = rsthound(&["read", "--raw", &f], None);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "13:15:42.507657000 127.0.0.1:7211 > 127.0.0.1:57340 [R.] seq 0 ack 1082312303 win 0 ttl 64\n"
    );
    assert!(!stderr(&o).contains("findings"), "{}", stderr(&o));
    let o = rsthound(&["read", "--raw", "--json", &f], None);
    let rows = rst_rows(&o);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["sport"], 7211);
    assert!(rows[0].get("verdict").is_none());
}
