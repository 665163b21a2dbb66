//! Every saved fuzz input is replayed by `cargo test`: each file in `fuzz/regressions/TARGET/`
//! goes through the same function the cargo-fuzz target `TARGET` calls
//! (`rsthound::testkit::fuzz`), so a crash once found stays fixed. Also checks that the fuzz
//! crate's targets and that list are the same, and that each target is only its one call.

use rsthound::testkit::fuzz::TARGETS;
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The inputs saved for `target`, sorted by name.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.is_file() && p.file_name().is_some_and(|n| n != "README.md"));
    files.sort();
    files
}

#[test]
fn every_saved_fuzz_input_replays_without_a_defect() {
    let root = fuzz_dir().join("regressions");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let (mut replayed, mut failed) = (0, Vec::new());
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let Some((_, body)) = TARGETS.iter().find(|(t, _)| *t == name) else {
            panic!("fuzz/regressions/{name}: no fuzz target of that name");
        };
        for file in inputs(dir) {
            let data = std::fs::read(&file).unwrap();
            replayed += 1;
            if std::panic::catch_unwind(|| body(&data)).is_err() {
                failed.push(file.display().to_string());
            }
        }
    }
    println!(
        "{replayed} saved inputs replayed over {} targets",
        dirs.len()
    );
    assert!(replayed > 0, "no saved input under {}", root.display());
    assert!(failed.is_empty(), "defects found again: {failed:?}");
}

#[test]
fn the_fuzz_targets_are_the_shared_bodies() {
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
    let mut bins: Vec<&str> = manifest
        .split("[[bin]]")
        .skip(1)
        .filter_map(|b| {
            b.lines()
                .find_map(|l| l.trim().strip_prefix("name = "))
                .map(|n| n.trim_matches('"'))
        })
        .collect();
    bins.sort_unstable();
    let mut listed: Vec<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
    listed.sort_unstable();
    assert_eq!(
        bins, listed,
        "fuzz/Cargo.toml's targets vs testkit::fuzz::TARGETS"
    );
    for name in bins {
        let path = fuzz_dir().join(format!("fuzz_targets/{name}.rs"));
        let text = std::fs::read_to_string(&path).unwrap();
        let code: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("//"))
            .collect();
        assert!(
            code.len() == 3
                && code[2].starts_with("fuzz_target!(|data: &[u8]| rsthound::testkit::fuzz::"),
            "{}: a target is one call of its body in rsthound::testkit::fuzz, not code of its own: {code:?}",
            path.display()
        );
    }
}
