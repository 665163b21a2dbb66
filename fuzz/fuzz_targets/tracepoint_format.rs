//! A tracefs `format` file of any content, and records decoded by what it describes. The body is `rsthound::testkit::fuzz::tracepoint_format`, which
//! `tests/fuzz_regressions.rs` also replays the saved crashes through. Run on stable:
//! `cargo fuzz run -s none tracepoint_format`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rsthound::testkit::fuzz::tracepoint_format(data));
