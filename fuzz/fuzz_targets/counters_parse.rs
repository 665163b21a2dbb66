//! The counters parser (`/proc/net/snmp`, `/proc/net/netstat`) on arbitrary bytes: never a
//! panic, and whatever it accepts is usable by the engine. Run on stable:
//! `cargo fuzz run -s none counters_parse`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rsthound::engine::counters::rates;
use rsthound::source::counters::{parse_netstat, parse_snmp, parse_uptime, sample_from};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = parse_snmp(data) {
        assert!(p.values.keys().all(|k| !k.is_empty() && k.is_ascii()));
    }
    let _ = parse_netstat(data);
    let _ = parse_uptime(data);
    // Split the input in two files, as a sample reads them.
    let mid = data.len() / 2;
    if let Ok(s) = sample_from(&data[..mid], Ok(&data[mid..])) {
        let _ = rates(&s, &s, 1.0).expect("a positive interval has rates");
    }
});
