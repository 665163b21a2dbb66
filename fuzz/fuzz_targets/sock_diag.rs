//! The netlink sock_diag reply parser on arbitrary bytes. The body is `rsthound::testkit::fuzz::sock_diag`, which
//! `tests/fuzz_regressions.rs` also replays the saved crashes through. Run on stable:
//! `cargo fuzz run -s none sock_diag`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rsthound::testkit::fuzz::sock_diag(data));
