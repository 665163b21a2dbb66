//! The capture reader (pcap and pcapng, both byte orders, every block type) on arbitrary bytes,
//! every packet decoded. The body is `rsthound::testkit::fuzz::capture_read`, which
//! `tests/fuzz_regressions.rs` also replays the saved crashes through. Run on stable:
//! `cargo fuzz run -s none capture_read`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rsthound::testkit::fuzz::capture_read(data));
