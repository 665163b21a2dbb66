//! The truncation matrix over the peers' corpus: every capture cut to snap lengths 14, 34, 54,
//! 60, 64 and 96 in its own container (`rsthound::testkit::snap`: pcap and pcapng, the
//! captured lengths rewritten in memory) and read by rsthound: no panic, no error the uncut file
//! does not have, RST counts equal tshark's on the same bytes (`tests/data/truncation-tshark.tsv`,
//! made by `bench/truncation-tshark.sh`; a capture without RSTs has none when cut) plus the RSTs
//! whose header kept only 14 or 15 bytes (tshark throws before it counts those), every RST
//! in a partly captured TCP header counted and marked, and no verdict drawn from a window that
//! was not captured.

mod common;

use rsthound::command::read::{ReadOptions, read_files};
use rsthound::testkit::snap::{CutError, cut_to_snap};
use std::collections::BTreeMap;

const SNAPS: [u32; 6] = [14, 34, 54, 60, 64, 96];

/// Files and snap lengths where tshark's count is not the truth, with the reason.
const TSHARK_IS_WRONG: &[(&str, u32, u64, &str)] = &[];

/// tshark's count per (file, snap), from the recorded table.
fn tshark_counts() -> BTreeMap<(String, u32), u64> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/truncation-tshark.tsv"
    );
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .skip(1)
        .filter_map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            // "-": a file the cutter does not take (not pcap/pcapng).
            Some(((c[0].to_string(), c[1].parse().ok()?), c[2].parse().ok()?))
        })
        .collect()
}

struct Run {
    rsts: u64,
    errors: Vec<String>,
    rows: Vec<serde_json::Value>,
}

fn read(path: &str) -> Run {
    let opts = ReadOptions {
        json: true,
        quiet: true,
        ..ReadOptions::default()
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let report = read_files(&[path], &opts, &mut out, &mut err);
    let rows = String::from_utf8_lossy(&out)
        .lines()
        .filter(|l| l.starts_with(r#"{"type":"rst""#))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    Run {
        rsts: report.stats.rsts,
        errors: report.errors,
        rows,
    }
}

#[test]
fn every_peer_capture_cut_to_every_snap_length_counts_what_tshark_counts() {
    let Some(dir) = common::peers_corpus() else {
        return;
    };
    let started = std::time::Instant::now();
    let expected = tshark_counts();
    let index = std::fs::read_to_string(dir.join("rst_counts.tsv")).unwrap();
    let tmp = common::TempDir::new("truncation-matrix");
    let cut_path = tmp.0.join("cut").to_string_lossy().into_owned();
    let (mut files, mut cuts, mut not_cut, mut rsts, mut partly) = (0, 0, 0, 0u64, 0u64);
    let mut flags_only_rsts = 0u64;
    let mut wrong = Vec::new();
    for line in index.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (file, full_tshark): (&str, u64) = (cols[0], cols[4].parse().unwrap());
        let path = dir.join(file);
        let bytes = std::fs::read(&path).unwrap();
        files += 1;
        let full = read(&path.to_string_lossy());
        for snap in SNAPS {
            let cut = match cut_to_snap(&bytes, snap) {
                Ok(c) => c,
                Err(CutError::NotACapture) => {
                    // Not pcap or pcapng (snoop): rsthound refuses it whole, as it is.
                    assert!(!full.errors.is_empty(), "{file}: read but not cut");
                    not_cut += 1;
                    break;
                }
                Err(e) => panic!("{file}: {e}"),
            };
            std::fs::write(&cut_path, &cut).unwrap();
            let got = std::panic::catch_unwind(|| read(&cut_path))
                .unwrap_or_else(|_| panic!("{file} at snap {snap}: panicked"));
            cuts += 1;
            let what = format!("{file} at snap {snap}");
            if full.errors.is_empty() && !got.errors.is_empty() {
                wrong.push(format!("{what}: new error {:?}", got.errors));
            }
            let want = match expected.get(&(file.to_string(), snap)) {
                Some(n) => *n,
                None if full_tshark == 0 => 0,
                None => panic!("{what}: no recorded tshark count (run bench/truncation-tshark.sh)"),
            };
            let want = TSHARK_IS_WRONG
                .iter()
                .find(|w| w.0 == file && w.1 == snap)
                .map_or(want, |w| w.2);
            // tshark reads the window (header bytes 14-15) before it puts the flags in its
            // tree: a header cut after 14 or 15 bytes throws there, and its RST is not counted
            // though its flags byte (13) was captured. rsthound counts it, marked.
            let flags_only = got
                .rows
                .iter()
                .filter(|r| r["header_captured"].as_u64().is_some_and(|n| n < 16))
                .count() as u64;
            flags_only_rsts += flags_only;
            if got.rsts != want + flags_only {
                wrong.push(format!(
                    "{what}: rsthound {} RSTs ({flags_only} with only 14-15 header bytes), tshark {want}",
                    got.rsts
                ));
            }
            if got.rows.len() as u64 != got.rsts {
                wrong.push(format!(
                    "{what}: {} RSTs counted, {} shown",
                    got.rsts,
                    got.rows.len()
                ));
            }
            rsts += got.rsts;
            for r in &got.rows {
                let Some(captured) = r.get("header_captured").and_then(|c| c.as_u64()) else {
                    continue;
                };
                partly += 1;
                // Marked only when the header really was cut; flags (byte 13) captured.
                if !(14..20).contains(&captured) {
                    wrong.push(format!("{what}: header_captured {captured}: {r}"));
                }
                // The window (bytes 14-15) and its scale option were not both captured: no
                // out-of-window verdict.
                if r["verdict"] == "out_of_window" {
                    wrong.push(format!("{what}: verdict from a cut header: {r}"));
                }
            }
        }
    }
    println!(
        "{files} captures, {cuts} cut captures read ({not_cut} files not pcap/pcapng), {rsts} RSTs \
         counted of which {partly} in partly captured headers ({flags_only_rsts} with 14-15 bytes, \
         which tshark does not count), {} disagreements, in {:.1} s",
        wrong.len(),
        started.elapsed().as_secs_f64()
    );
    for w in &wrong {
        println!("WRONG {w}");
    }
    assert!(wrong.is_empty(), "{} disagreements (above)", wrong.len());
    assert!(
        cuts >= files * 5,
        "the matrix covers the corpus ({cuts} cuts)"
    );
    assert!(partly > 0, "the matrix reaches partly captured headers");
}
