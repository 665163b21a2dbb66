//! The counters parsers (`/proc/net/snmp`, `/proc/net/netstat`, uptime) on arbitrary bytes. The body is `rsthound::testkit::fuzz::counters_parse`, which
//! `tests/fuzz_regressions.rs` also replays the saved crashes through. Run on stable:
//! `cargo fuzz run -s none counters_parse`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rsthound::testkit::fuzz::counters_parse(data));
