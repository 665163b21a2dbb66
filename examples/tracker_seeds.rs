//! Makes seeds for the `tracker` fuzz target from captures: each capture's TCP segments as a
//! segment sequence (`rsthound::testkit::fuzz::tracker_input_from_capture`).
//!
//! `cargo run --example tracker_seeds -- OUT_DIR CAPTURE_OR_DIR...` (directories are walked;
//! files that are not captures the reader opens, compressed ones included, are passed over).

use std::path::{Path, PathBuf};

fn walk(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        entries.sort();
        for e in entries {
            walk(&e, out);
        }
    } else {
        out.push(path.to_path_buf());
    }
}

fn main() {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let Some((out_dir, inputs)) = args.split_first() else {
        eprintln!("usage: tracker_seeds OUT_DIR CAPTURE_OR_DIR...");
        std::process::exit(2);
    };
    std::fs::create_dir_all(out_dir).expect("the output directory can be made");
    let mut files = Vec::new();
    for i in inputs {
        walk(i, &mut files);
    }
    let mut made = 0;
    for f in &files {
        let Ok(bytes) = std::fs::read(f) else {
            continue;
        };
        let Some(seed) = rsthound::testkit::fuzz::tracker_input_from_capture(&bytes) else {
            continue;
        };
        let name: String = f
            .to_string_lossy()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        std::fs::write(out_dir.join(name.trim_start_matches(['.', '_'])), seed)
            .expect("the seed can be written");
        made += 1;
    }
    println!("{made} tracker seeds from {} files", files.len());
}
