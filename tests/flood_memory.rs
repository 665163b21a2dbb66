//! The memory promise, checked on a real run: `rsthound read` on a SYN flood from a million
//! spoofed sources, with the default connection cap, stays under the 256 MiB it is sized for,
//! evicts what does not fit and says so, and still reports every attempt.
//!
//! A file of its own: the kernel reports the peak memory of all the children a process waited
//! for together, and here the one child is the run under test.

mod common;

use common::{TempDir, spoofed_syn, ts};
use rsthound::engine::track::{MEMORY_BUDGET, TrackerConfig};
use rsthound::model::LinkType;
use rsthound::sink::pcapng_writer::PcapWriter;
use std::io::{BufWriter, Write};
use std::process::{Command, Stdio};

const SOURCES: u32 = 1_000_000;

/// One SYN from each of `SOURCES` distinct addresses in 10.0.0.0/8 to 10.0.0.1:80, a
/// microsecond apart (all within the 30 s an attempt is waited for: only eviction makes room).
fn write_flood(path: &std::path::Path) {
    let file = std::fs::File::create(path).unwrap();
    let mut w = PcapWriter::new(BufWriter::new(file), LinkType::ETHERNET, 262_144).unwrap();
    for i in 0..SOURCES {
        let frame = spoofed_syn(i);
        w.write_packet(ts(1_763_730_942, u64::from(i)), &frame, frame.len() as u32)
            .unwrap();
    }
    w.into_inner().flush().unwrap();
}

#[test]
fn a_million_spoofed_sources_stay_under_the_memory_budget() {
    let dir = TempDir::new("flood-memory");
    let path = dir.0.join("flood.pcap");
    write_flood(&path);

    let out = Command::new(env!("CARGO_BIN_EXE_rsthound"))
        .arg("read")
        .arg(&path)
        // A million unanswered lines: not what this test reads.
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "rsthound failed: {stderr}");

    let peak = rsthound::sys::usage::children_peak_rss_bytes().expect("getrusage");
    eprintln!(
        "peak RSS {:.1} MiB of a {} MiB budget",
        peak as f64 / f64::from(1 << 20),
        MEMORY_BUDGET >> 20
    );
    assert!(
        peak < MEMORY_BUDGET as u64,
        "peak RSS {peak} bytes is over the {MEMORY_BUDGET}-byte budget"
    );

    // The table was full: the summary says so, with the cap in effect, and nothing was lost.
    let cap = TrackerConfig::default().max_conns;
    assert!(
        stderr.contains("1000000 TCP segments, 0 RSTs, 1000000 connections, 1000000 unanswered"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "connection table full ({cap} connections max, --max-conns)"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("[alarming] 10.0.0.1:80 never answered 1000000 connection attempts"),
        "{stderr}"
    );
}
