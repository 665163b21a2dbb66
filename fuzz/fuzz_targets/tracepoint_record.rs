//! A perf ring record of any content, decoded by the fixtures' layouts. The body is `rsthound::testkit::fuzz::tracepoint_record`, which
//! `tests/fuzz_regressions.rs` also replays the saved crashes through. Run on stable:
//! `cargo fuzz run -s none tracepoint_record`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rsthound::testkit::fuzz::tracepoint_record(data));
