//! The monitoring-plugins range parser (`check --warn/--crit`) on arbitrary text: never a
//! panic, and a range it accepts keeps its text and orders its ends. Run on stable:
//! `cargo fuzz run -s none threshold_range`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rsthound::engine::diagnosis::range::Range;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(r) = Range::parse(text) {
        assert_eq!(r.as_str(), text.trim());
        if let (Some(s), Some(e)) = (r.start, r.end) {
            assert!(s <= e);
        }
        let _ = r.alerts(0.0);
        let _ = r.alerts(f64::MAX);
    }
});
