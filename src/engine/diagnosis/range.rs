//! Threshold ranges in the monitoring-plugins syntax (`[@][start:][end]`, the Nagios plugin
//! guidelines): `10` alerts outside 0..10, `10:` below 10, `~:10` above 10, `10:20` outside
//! 10..20, `@10:20` inside 10..20 (ends included). And the plugin status a check returns.

use std::fmt;

/// A parsed range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    /// `None`: negative infinity (`~`).
    pub start: Option<f64>,
    /// `None`: positive infinity (nothing after the colon).
    pub end: Option<f64>,
    /// `@`: alert when inside the range instead of outside.
    pub inside: bool,
    /// The text as given, for the performance data.
    text: RangeText,
}

/// The range as the user wrote it (bounded: ranges are short).
#[derive(Debug, Clone, Copy, PartialEq)]
struct RangeText {
    bytes: [u8; MAX_RANGE_LEN],
    len: u8,
}

/// Longest range accepted, in bytes.
pub const MAX_RANGE_LEN: usize = 48;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("empty range")]
    Empty,
    #[error("range longer than {MAX_RANGE_LEN} characters")]
    TooLong,
    #[error("not a number: {0:?}")]
    NotANumber(String),
    #[error("the range's start is above its end")]
    StartAboveEnd,
}

fn number(t: &str) -> Result<f64, RangeError> {
    let ok = !t.is_empty()
        && t.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'));
    match t.parse::<f64>() {
        Ok(v) if ok && v.is_finite() => Ok(v),
        _ => Err(RangeError::NotANumber(crate::sanitize::sanitize_text(
            t.as_bytes(),
            MAX_RANGE_LEN,
        ))),
    }
}

impl Range {
    /// Parses `[@][start:][end]`; `~` as start is negative infinity; an empty end is positive
    /// infinity; without a colon the start is 0.
    pub fn parse(text: &str) -> Result<Range, RangeError> {
        let t = text.trim();
        if t.is_empty() {
            return Err(RangeError::Empty);
        }
        if t.len() > MAX_RANGE_LEN {
            return Err(RangeError::TooLong);
        }
        let (inside, body) = match t.strip_prefix('@') {
            Some(rest) => (true, rest),
            None => (false, t),
        };
        let (start, end) = match body.split_once(':') {
            Some((s, e)) => {
                let start = if s == "~" {
                    None
                } else if s.is_empty() {
                    Some(0.0)
                } else {
                    Some(number(s)?)
                };
                let end = if e.is_empty() { None } else { Some(number(e)?) };
                (start, end)
            }
            None => (Some(0.0), Some(number(body)?)),
        };
        if let (Some(s), Some(e)) = (start, end)
            && s > e
        {
            return Err(RangeError::StartAboveEnd);
        }
        let mut bytes = [0u8; MAX_RANGE_LEN];
        bytes[..t.len()].copy_from_slice(t.as_bytes());
        Ok(Range {
            start,
            end,
            inside,
            text: RangeText {
                bytes,
                len: t.len() as u8,
            },
        })
    }

    /// `0:N` (alert above N), as `--warn N` means.
    pub fn above(n: f64) -> Range {
        Range::parse(&format_number(n)).unwrap_or(Range {
            start: Some(0.0),
            end: Some(n),
            inside: false,
            text: RangeText {
                bytes: [0; MAX_RANGE_LEN],
                len: 0,
            },
        })
    }

    /// Whether `value` raises the alert.
    pub fn alerts(&self, value: f64) -> bool {
        let within = self.start.is_none_or(|s| value >= s) && self.end.is_none_or(|e| value <= e);
        if self.inside { within } else { !within }
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.text.bytes[..usize::from(self.text.len)]).unwrap_or("")
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A number as short as it can be written (`1`, `0.5`).
pub fn format_number(n: f64) -> String {
    let s = format!("{n}");
    if s.len() > 16 { format!("{n:.6}") } else { s }
}

/// The status of a monitoring plugin, its exit code and its word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Ok = 0,
    Warning = 1,
    Critical = 2,
    Unknown = 3,
}

impl Status {
    pub fn code(self) -> i32 {
        self as i32
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warning => "WARNING",
            Status::Critical => "CRITICAL",
            Status::Unknown => "UNKNOWN",
        }
    }
    /// The worse of two known statuses (UNKNOWN is decided separately).
    pub fn worst(self, other: Status) -> Status {
        self.max(other)
    }
}

/// The status from a value against the warning and critical ranges.
pub fn status_of(value: f64, warn: &Range, crit: &Range) -> Status {
    if crit.alerts(value) {
        Status::Critical
    } else if warn.alerts(value) {
        Status::Warning
    } else {
        Status::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_guidelines_examples() {
        let r = Range::parse("10").unwrap();
        assert!(r.alerts(-1.0) && r.alerts(10.5) && !r.alerts(0.0) && !r.alerts(10.0));
        let r = Range::parse("10:").unwrap();
        assert!(r.alerts(9.9) && !r.alerts(10.0) && !r.alerts(1e9));
        let r = Range::parse("~:10").unwrap();
        assert!(!r.alerts(-1e9) && r.alerts(10.1));
        let r = Range::parse("10:20").unwrap();
        assert!(r.alerts(9.0) && r.alerts(21.0) && !r.alerts(15.0) && !r.alerts(20.0));
        let r = Range::parse("@10:20").unwrap();
        assert!(!r.alerts(9.0) && r.alerts(10.0) && r.alerts(20.0) && !r.alerts(20.5));
        assert_eq!(r.as_str(), "@10:20");
        assert!(Range::parse("0.5").unwrap().alerts(0.6));
    }

    #[test]
    fn bad_ranges_are_errors() {
        assert_eq!(Range::parse(""), Err(RangeError::Empty));
        assert_eq!(Range::parse("20:10"), Err(RangeError::StartAboveEnd));
        assert!(matches!(Range::parse("x"), Err(RangeError::NotANumber(_))));
        assert!(matches!(
            Range::parse("1:2:3"),
            Err(RangeError::NotANumber(_))
        ));
        assert!(matches!(
            Range::parse("nan"),
            Err(RangeError::NotANumber(_))
        ));
        assert!(matches!(
            Range::parse("inf"),
            Err(RangeError::NotANumber(_))
        ));
        assert_eq!(Range::parse(&"1".repeat(60)), Err(RangeError::TooLong));
    }

    #[test]
    fn status_from_ranges() {
        let (w, c) = (Range::above(1.0), Range::above(10.0));
        assert_eq!(status_of(0.5, &w, &c), Status::Ok);
        assert_eq!(status_of(2.0, &w, &c), Status::Warning);
        assert_eq!(status_of(10.5, &w, &c), Status::Critical);
        assert_eq!(w.as_str(), "1");
    }

    proptest! {
        /// Any text: parsing never panics, and a parsed range keeps its text and its order.
        #[test]
        fn parse_never_panics(t in "\\PC{0,60}") {
            if let Ok(r) = Range::parse(&t) {
                prop_assert_eq!(r.as_str(), t.trim());
                if let (Some(s), Some(e)) = (r.start, r.end) {
                    prop_assert!(s <= e);
                }
            }
        }

        /// `start:end` alerts exactly outside [start, end], and `@` is its opposite.
        #[test]
        fn inside_is_the_opposite(a in -1e6f64..1e6, b in -1e6f64..1e6, v in -2e6f64..2e6) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            let r = Range::parse(&format!("{lo}:{hi}")).unwrap();
            let at = Range::parse(&format!("@{lo}:{hi}")).unwrap();
            prop_assert_eq!(r.alerts(v), v < lo || v > hi);
            prop_assert_eq!(at.alerts(v), !r.alerts(v));
        }
    }
}
