//! The packet decoder on arbitrary frames (the first byte picks one of 20 link types), checked
//! against the fast path. The body is `rsthound::testkit::fuzz::decode_frame`, which
//! `tests/fuzz_regressions.rs` also replays the saved crashes through. Run on stable:
//! `cargo fuzz run -s none decode`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rsthound::testkit::fuzz::decode_frame(data));
