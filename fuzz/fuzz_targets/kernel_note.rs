//! A pcapng packet block's option list and the kernel note in its comment. The body is `rsthound::testkit::fuzz::kernel_note`, which
//! `tests/fuzz_regressions.rs` also replays the saved crashes through. Run on stable:
//! `cargo fuzz run -s none kernel_note`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rsthound::testkit::fuzz::kernel_note(data));
