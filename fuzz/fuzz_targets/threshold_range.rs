//! The monitoring-plugins range parser (`check --warn/--crit`) on arbitrary text. The body is `rsthound::testkit::fuzz::threshold_range`, which
//! `tests/fuzz_regressions.rs` also replays the saved crashes through. Run on stable:
//! `cargo fuzz run -s none threshold_range`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rsthound::testkit::fuzz::threshold_range(data));
