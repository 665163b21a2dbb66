//! The connection tracker fed arbitrary segment sequences (16 bytes a segment, the first
//! byte the table's bound): never a panic, the table within its bound, every RST one RST event,
//! every connection ended once. The body is `rsthound::testkit::fuzz::tracker`, which
//! `tests/fuzz_regressions.rs` also replays the saved crashes through. Run on stable:
//! `cargo fuzz run -s none tracker`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rsthound::testkit::fuzz::tracker(data));
