//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// The peers' corpus in `../shared`, which a user's clone does not have. Returns `None` (after
/// saying so) when it is absent and CI is unset; under `CI=true` its absence fails the test.
pub fn peers_corpus() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/peers");
    if dir.join("rst_counts.tsv").is_file() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "CI=true but the peers' corpus is missing at {}",
            dir.display()
        );
    }
    eprintln!(
        "SKIPPED: the peers' corpus is not at {} (it ships beside the project, not in it)",
        dir.display()
    );
    None
}
