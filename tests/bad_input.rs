//! Damaged and hostile inputs: one clear line (file, byte offset, what is wrong), a non-zero exit,
//! the packets before the damage still reported, the next file still read, never a panic or hang.

mod common;

use common::*;
use rsthound::model::LinkType;

/// Runs `read` on one bad file followed by a good one and returns (stdout, the error lines).
fn read_bad(name: &str, data: &[u8]) -> (String, Vec<String>) {
    let d = TempDir::new(&format!("bad-{}", name.replace('.', "-")));
    let bad = d.write(name, data);
    let good = d.write("good.pcap", &small_capture());
    let o = rsthound(&["read", &bad, &good], None);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{name}: exit code; stderr: {}",
        stderr(&o)
    );
    let err = stderr(&o);
    assert!(!err.contains("panicked"), "{err}");
    let lines: Vec<String> = err
        .lines()
        .filter(|l| l.starts_with("rsthound: ") && l.contains(&bad))
        .map(String::from)
        .collect();
    assert_eq!(lines.len(), 1, "{name}: exactly one error line: {err}");
    assert!(
        lines[0].starts_with(&format!("rsthound: {bad}: ")),
        "{}",
        lines[0]
    );
    // The good file after it is still read.
    let out = stdout(&o);
    assert!(
        out.lines()
            .any(|l| l.starts_with(&format!("{good}: ")) && l.contains("[R.]")),
        "{name}: {out}"
    );
    (out, lines)
}

fn assert_error(name: &str, data: &[u8], offset: u64, what: &str) -> String {
    let (out, lines) = read_bad(name, data);
    let expect = format!("offset {offset}: {what}");
    assert!(
        lines[0].contains(&expect),
        "{name}: want {expect:?} in {:?}",
        lines[0]
    );
    out
}

#[test]
fn not_a_capture() {
    assert_error(
        "notes.txt",
        b"hello, this is text\n",
        0,
        "not a pcap or pcapng file (starts with 68 65 6c 6c)",
    );
    assert_error("empty.pcap", b"", 0, "empty file");
    assert_error(
        "short.pcap",
        b"\xd4\xc3",
        0,
        "not a capture file: only 2 byte(s) long",
    );
}

#[test]
fn truncated_pcap_keeps_the_packets_before_the_damage() {
    let full = small_capture();
    // Cut inside the third record's data: the RST (second record) must still be reported.
    let cut = &full[..full.len() - 10];
    let out = assert_error(
        "cut.pcap",
        cut,
        24 + 2 * 16 + 2 * 54,
        "truncated packet: record says 54 bytes, file ends after 44",
    );
    assert!(
        out.lines()
            .any(|l| l.contains("cut.pcap: ") && l.contains("[R.]")),
        "{out}"
    );
    // Cut inside a record header.
    let cut = &full[..24 + 16 + 54 + 7];
    assert_error(
        "cuthdr.pcap",
        cut,
        24 + 16 + 54,
        "truncated record header: file ends after 7 of 16 bytes",
    );
    // Cut inside the file header.
    assert_error(
        "cutfile.pcap",
        &full[..10],
        0,
        "truncated pcap file header: 10 of 24 bytes",
    );
}

#[test]
fn record_length_beyond_the_snapshot_length() {
    let mut data = small_capture();
    // First record's caplen field: a corrupt, enormous length.
    data[24 + 8..24 + 12].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
    assert_error(
        "huge.pcap",
        &data,
        24,
        "record length 2147483632 is larger than the snapshot length 262144",
    );
}

fn ng_good() -> Vec<u8> {
    pcapng_with(false, |w| {
        w.interface(LinkType::ETHERNET, 0, Some("eth0"), None)
            .unwrap();
        w.packet(
            0,
            ts(1_763_730_942, 1),
            &refused_rst(1).ethernet(),
            None,
            None,
        )
        .unwrap();
        w.packet(
            0,
            ts(1_763_730_942, 2),
            &refused_rst(2).ethernet(),
            None,
            None,
        )
        .unwrap();
    })
}

/// Offset of the n-th block (0 = SHB) in a little-endian pcapng.
fn block_offset(data: &[u8], n: usize) -> usize {
    let mut off = 0;
    for _ in 0..n {
        off += u32::from_le_bytes(data[off + 4..off + 8].try_into().unwrap()) as usize;
    }
    off
}

#[test]
fn corrupt_pcapng_block_lengths() {
    let good = ng_good();
    let epb2 = block_offset(&good, 3);
    let set_len = |v: u32| {
        let mut d = good.clone();
        d[epb2 + 4..epb2 + 8].copy_from_slice(&v.to_le_bytes());
        d
    };
    for (name, len, what) in [
        (
            "zero.pcapng",
            0,
            "block length 0 is too small (a block is at least 12 bytes)".to_string(),
        ),
        (
            "odd.pcapng",
            101,
            "block length 101 is not a multiple of 4".to_string(),
        ),
        (
            "huge.pcapng",
            0xffff_fff0,
            "block length 4294967280 exceeds the 16777216-byte limit".to_string(),
        ),
        (
            "long.pcapng",
            1000,
            "truncated block: its header says 1000 bytes, file ends after".to_string(),
        ),
    ] {
        let out = assert_error(name, &set_len(len), epb2 as u64, &what);
        // The first packet, before the damage, is still reported.
        assert!(
            out.lines()
                .any(|l| l.contains(name) && l.contains(":7211 > 127.0.0.1:1 ")),
            "{name}: {out}"
        );
    }
    // Trailer disagreeing with the header.
    let mut d = good.clone();
    let end = d.len();
    d[end - 4..].copy_from_slice(&8u32.to_le_bytes());
    assert_error(
        "trailer.pcapng",
        &d,
        epb2 as u64,
        "block length 88 in the header does not match 8 in the trailer",
    );
}

#[test]
fn packet_longer_than_its_block() {
    let mut d = ng_good();
    let epb = block_offset(&d, 2);
    // caplen field of the first EPB (block header 8 + iface 4 + ts 8).
    d[epb + 20..epb + 24].copy_from_slice(&5000u32.to_le_bytes());
    assert_error(
        "caplen.pcapng",
        &d,
        epb as u64,
        "packet length 5000 runs past the end of its block (room for 56 bytes)",
    );
}

#[test]
fn packet_on_an_undescribed_interface() {
    let d = pcapng_with(false, |w| {
        w.interface(LinkType::ETHERNET, 0, None, None).unwrap();
        w.packet(3, ts(1, 0), &refused_rst(1).ethernet(), None, None)
            .unwrap();
    });
    let epb = block_offset(&d, 2);
    assert_error(
        "iface.pcapng",
        &d,
        epb as u64,
        "packet refers to interface 3, but its section describes only 1",
    );
}

#[test]
fn corrupt_compressed_stream() {
    let (_, lines) = read_bad("bad.gz", b"\x1f\x8b\x08\x00garbage-garbage-garbage");
    assert!(lines[0].contains("read error"), "{}", lines[0]);
}

#[test]
fn dev_zero_directory_and_missing_file_fail_fast() {
    let o = rsthound(&["read", "/dev/zero"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(
            "rsthound: /dev/zero: offset 0: not a pcap or pcapng file (starts with 00 00 00 00)"
        ),
        "{}",
        stderr(&o)
    );
    let d = TempDir::new("dir");
    let dir = d.0.to_string_lossy().into_owned();
    let o = rsthound(&["read", &dir], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("is a directory"), "{}", stderr(&o));
    let o = rsthound(&["read", "/nonexistent/x.pcap"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("cannot open: No such file or directory"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn hostile_interface_names_are_sanitized() {
    let d = pcapng_with(false, |w| {
        w.interface(LinkType::ETHERNET, 0, Some("eth0\x1b]0;pwned\x07"), None)
            .unwrap();
        w.packet(0, ts(1, 0), &refused_rst(1).ethernet(), None, None)
            .unwrap();
    });
    let t = TempDir::new("hostile");
    let f = t.write("h.pcapng", &d);
    let o = rsthound(&["read", &f], None);
    let out = stdout(&o);
    assert!(!out.contains('\x1b') && !out.contains('\x07'), "{out:?}");
    assert!(out.contains("eth0\\x1b]0;pwned\\x07"), "{out}");
}

#[test]
fn broken_pipe_is_not_an_error() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    // Many RSTs, and a reader that closes its end after the first bytes.
    let frames: Vec<_> = (0..20_000)
        .map(|i| (ts(1, i), refused_rst(i as u16).ethernet()))
        .collect();
    let t = TempDir::new("pipe");
    let f = t.write("many.pcap", &pcap_of(&frames));
    let mut child = Command::new(env!("CARGO_BIN_EXE_rsthound"))
        .args(["read", "-q", &f])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
}

/// A capture cut short by someone else while rsthound reads it through its memory mapping: one
/// error line naming the file, where its bytes now end and what happened, the RSTs before the
/// cut, exit status 1. Two cuts: inside the stretch being parsed straight from the mapping (the
/// SIGBUS path: the handler in `sys::mmap` turns the fault into zero pages and a recorded offset)
/// and far beyond it (noticed at a later step, before the missing bytes are touched).
#[test]
fn a_capture_that_shrinks_while_it_is_read() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let frames: Vec<_> = (0..220_000u32)
        .map(|i| {
            (
                ts(1, u64::from(i)),
                refused_rst((i % 60_000) as u16 + 1).ethernet(),
            )
        })
        .collect();
    let data = pcap_of(&frames);
    let rec = 16 + frames[0].1.len();
    let t = TempDir::new("shrink");
    for k in [40_000, 150_000] {
        let f = t.write(&format!("shrink-{k}.pcap"), &data);
        let cut = 24 + k * rec;
        let mut child = Command::new(env!("CARGO_BIN_EXE_rsthound"))
            .args(["read", "--raw", &f])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = child.stdout.take().unwrap();
        // Its first output means the file is mapped and being parsed. Output is larger than
        // input here and nobody reads it yet, so rsthound soon waits on the full pipe, some
        // 100 KB into the file: far from either cut, whatever the timing.
        let mut text = vec![0u8; 1];
        out.read_exact(&mut text).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&f)
            .unwrap()
            .set_len(cut as u64)
            .unwrap();
        out.read_to_end(&mut text).unwrap();
        let o = child.wait_with_output().unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "cut at {cut}: {err}");
        let rsts = String::from_utf8_lossy(&text)
            .lines()
            .filter(|l| l.contains("[R.]"))
            .count();
        assert_eq!(rsts, k, "cut at {cut}: {err}");
        let lines: Vec<&str> = err.lines().filter(|l| l.contains(&f)).collect();
        assert_eq!(
            lines,
            [format!(
                "rsthound: {f}: offset {cut}: the file shrank from {} to {cut} bytes while it was being read (memory-mapped); rerun with --no-mmap",
                data.len()
            )],
            "{err}"
        );
        assert!(
            err.contains("1 input could not be read to the end"),
            "{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// Mapped (the default for a regular file), read with `read()` (`--no-mmap`) and piped through
/// standard input: the same lines.
#[test]
fn mapped_read_and_piped_input_give_the_same_lines() {
    let frames: Vec<_> = (0..60_000u32)
        .map(|i| {
            let f = if i % 7 == 0 {
                refused_rst((i % 60_000) as u16 + 1).ethernet()
            } else {
                syn((i % 60_000) as u16 + 1).ethernet()
            };
            (ts(1, u64::from(i) * 10), f)
        })
        .collect();
    let data = pcap_of(&frames);
    let t = TempDir::new("same");
    let f = t.write("same.pcap", &data);
    for extra in [&[][..], &["--raw"][..], &["--json"][..]] {
        let run = |more: &[&str], stdin: Option<&[u8]>| {
            let mut args = vec!["read"];
            args.extend_from_slice(extra);
            args.extend_from_slice(more);
            let o = rsthound(&args, stdin);
            assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
            stdout(&o)
        };
        let mapped = run(&[&f], None);
        assert!(mapped.lines().count() >= 60_000 / 7, "{extra:?}");
        assert_eq!(run(&["--no-mmap", &f], None), mapped, "{extra:?}");
        if extra != ["--json"] {
            // (--json names the file in every record)
            assert_eq!(run(&["-"], Some(&data)), mapped, "{extra:?}");
        }
    }
}
