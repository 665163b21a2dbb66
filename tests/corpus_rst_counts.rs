//! Every capture in the peers' corpus: our RST count equals tshark's (`rst_counts.tsv`), no panics,
//! and the files that are broken on purpose fail with a clear, located error.

mod common;

use rsthound::command::read::{ReadOptions, read_files};

/// Files where tshark's count is not the truth, with the reason.
const TSHARK_IS_WRONG: &[(&str, u64, &str)] = &[];

#[test]
fn rst_counts_match_tshark_on_every_peer_capture() {
    let Some(dir) = common::peers_corpus() else {
        return;
    };
    let index = std::fs::read_to_string(dir.join("rst_counts.tsv")).unwrap();
    let opts = ReadOptions {
        json: true,
        quiet: true,
        ..ReadOptions::default()
    };
    let (mut files, mut agree, mut rsts) = (0, 0, 0);
    let mut mismatches = Vec::new();
    for line in index.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (file, expected): (&str, u64) = (cols[0], cols[4].parse().unwrap());
        let path = dir.join(file).to_string_lossy().into_owned();
        let mut out = Vec::new();
        let mut err = Vec::new();
        let report = read_files(&[path], &opts, &mut out, &mut err);
        files += 1;
        let got = report.stats.rsts;
        // Every RST counted is reported, one JSON line each, with a verdict.
        let text = String::from_utf8_lossy(&out);
        let rst_lines = text
            .lines()
            .filter(|l| l.starts_with(r#"{"type":"rst""#))
            .count() as u64;
        assert_eq!(rst_lines, got, "{file}: RST lines vs count");
        let expected = TSHARK_IS_WRONG
            .iter()
            .find(|e| e.0 == file)
            .map_or(expected, |e| e.1);
        if got == expected {
            agree += 1;
            rsts += got;
        } else {
            mismatches.push(format!(
                "{file}: rsthound {got}, tshark {expected} [{}] {}",
                cols[1],
                String::from_utf8_lossy(&err).trim()
            ));
        }
    }
    println!("{agree}/{files} files agree with tshark ({rsts} RSTs)");
    for m in &mismatches {
        println!("MISMATCH {m}");
    }
    assert!(
        mismatches.is_empty(),
        "{} files disagree with tshark",
        mismatches.len()
    );
}
