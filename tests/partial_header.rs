//! RSTs whose TCP header the snap length cut below its 20 bytes, the flags byte (offset 13)
//! still captured, are counted and shown, marked as partly captured, as tshark counts them; no
//! verdict is drawn from what was not captured (the window and its scale option).

mod common;

use common::*;
use rsthound::engine::decode::{Outcome, decode};
use rsthound::source::capture::{CaptureReader, FileAccess, open_input};

const SAMPLES: [&str; 7] = [
    "founding-story",
    "handshake-reset",
    "injected",
    "out-of-window",
    "reset-after-close",
    "reset-by-client",
    "reset-by-server",
];

fn sample_path(name: &str) -> String {
    format!("{}/samples/{name}.pcapng", env!("CARGO_MANIFEST_DIR"))
}

/// The sample cut at `snap` bytes per packet, as a pcap; and per RST of the whole capture,
/// where its TCP header starts in the frame.
fn cut(name: &str, snap: usize) -> (Vec<u8>, Vec<usize>) {
    let input = open_input(sample_path(name), FileAccess::Read).unwrap();
    let mut reader = CaptureReader::from_input(input).unwrap();
    let mut frames = Vec::new();
    let mut rst_offsets = Vec::new();
    let mut link = None;
    while let Some(p) = reader.next_packet().unwrap() {
        assert!(
            link.is_none_or(|l| l == p.link_type),
            "{name}: one link type"
        );
        link = Some(p.link_type);
        if let Outcome::Tcp(seg) = decode(p.link_type, p.data)
            && seg.flags.rst()
        {
            rst_offsets.push(seg.raw.as_ptr() as usize - p.data.as_ptr() as usize);
        }
        frames.push((p.ts, p.data[..p.data.len().min(snap)].to_vec(), p.orig_len));
    }
    let mut w =
        rsthound::sink::pcapng_writer::PcapWriter::new(Vec::new(), link.unwrap(), snap as u32)
            .unwrap();
    for (ts, data, orig) in &frames {
        w.write_packet(*ts, data, *orig).unwrap();
    }
    (w.into_inner(), rst_offsets)
}

fn rst_records(path: &str) -> Vec<serde_json::Value> {
    let o = rsthound(&["read", "--json", path], None);
    assert_ne!(o.status.code(), Some(2), "{}", stderr(&o));
    stdout(&o)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["type"] == "rst")
        .collect()
}

#[test]
fn rsts_in_cut_headers_are_counted_marked_and_not_judged_on_what_is_missing() {
    let d = TempDir::new("partial-header");
    let mut partly = 0;
    for name in SAMPLES {
        for snap in [14, 34, 46, 47, 48, 50, 53, 54, 60, 64, 96] {
            let (pcap, offsets) = cut(name, snap);
            let path = d.write(&format!("{name}-{snap}.pcap"), &pcap);
            let rsts = rst_records(&path);
            // tshark's rule: counted when the flags byte was captured.
            let want: Vec<usize> = offsets.into_iter().filter(|o| o + 14 <= snap).collect();
            assert_eq!(rsts.len(), want.len(), "{name} at snap {snap}");
            for (r, off) in rsts.iter().zip(&want) {
                let captured = snap - off;
                if captured < 20 {
                    partly += 1;
                    assert_eq!(r["header_captured"], captured, "{name} at {snap}: {r}");
                    // Neither the window nor its scale option was captured whole.
                    assert_ne!(r["verdict"], "out_of_window", "{name} at {snap}: {r}");
                } else {
                    assert!(r.get("header_captured").is_none(), "{name} at {snap}: {r}");
                }
            }
        }
    }
    assert!(partly >= 20, "the matrix reaches cut headers ({partly})");
}

#[test]
fn an_out_of_window_rst_is_not_judged_from_a_window_that_was_not_captured() {
    let d = TempDir::new("partial-window");
    let full = rst_records(&sample_path("out-of-window"));
    assert_eq!(full.len(), 1);
    assert_eq!(full[0]["verdict"], "out_of_window");
    // Ethernet (14) + IPv4 (20): the TCP header starts at 34; 50 keeps 16 bytes, the window
    // but not the SYN's window scale option.
    let (pcap, offsets) = cut("out-of-window", 50);
    assert_eq!(offsets, [34]);
    let path = d.write("oow-50.pcap", &pcap);
    let cut_rsts = rst_records(&path);
    assert_eq!(cut_rsts.len(), 1);
    assert_eq!(cut_rsts[0]["header_captured"], 16);
    assert_ne!(cut_rsts[0]["verdict"], "out_of_window", "{}", cut_rsts[0]);
    let text = stdout(&rsthound(&["read", &path], None));
    assert!(
        text.contains("(TCP header partly captured: 16 of 20 bytes)"),
        "{text}"
    );
    // At 48 the window itself is gone: shown as unknown.
    let (pcap, _) = cut("out-of-window", 48);
    let path = d.write("oow-48.pcap", &pcap);
    let text = stdout(&rsthound(&["read", &path], None));
    let line = text.lines().find(|l| l.contains("[R]")).unwrap();
    assert!(line.contains(" win ? "), "{line}");
    assert!(
        line.contains("(TCP header partly captured: 14 of 20 bytes)"),
        "{line}"
    );
}

#[test]
fn the_vlan_snap54_reproducer_counts_what_tshark_counts() {
    let Some(repro) = repro_file("vlan-snap54-missed-rst.pcap") else {
        return;
    };
    let path = repro.to_string_lossy();
    // tshark -Y 'tcp.flags.reset==1' lists frames 9 and 10 (the reproducer's README).
    let rsts = rst_records(&path);
    let frames: Vec<u64> = rsts.iter().map(|r| r["frame"].as_u64().unwrap()).collect();
    assert_eq!(frames, [9, 10]);
    for r in &rsts {
        assert_eq!(r["header_captured"], 16, "{r}");
    }
    let o = rsthound(&["read", "--raw", &path], None);
    assert_eq!(stdout(&o).lines().count(), 2);
    assert!(stderr(&o).contains(" 2 RSTs"), "{}", stderr(&o));
}
