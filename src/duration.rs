//! Durations as people type them on a command line, like `timeout(1)` and systemd: `2` and
//! `1.5` are seconds; `500ms`, `90s`, `2m`, `1h`, `1d`, and sums such as `1m30s`. Usable as a
//! clap `value_parser`.

use std::time::Duration;

/// The units accepted, longest spelling first so `ms` is not read as `m` + garbage.
/// Each unit in nanoseconds: integer arithmetic, so `0.1s` is exactly 100 ms.
const UNITS: &[(&str, u128)] = &[
    ("usec", 1_000),
    ("msec", 1_000_000),
    ("min", 60 * SEC),
    ("sec", SEC),
    ("hr", 3600 * SEC),
    ("us", 1_000),
    ("ms", 1_000_000),
    ("ns", 1),
    ("s", SEC),
    ("m", 60 * SEC),
    ("h", 3600 * SEC),
    ("d", 86_400 * SEC),
];

const SEC: u128 = 1_000_000_000;

/// Fraction digits beyond this are below a nanosecond for every unit but days: ignored.
const MAX_FRACTION_DIGITS: usize = 18;

/// Parses `2`, `1.5`, `500ms`, `90s`, `2m`, `1h`, `1d`, `1m30s`. Rejects empty text, signs,
/// `nan`, `inf`, exponents, unknown units and durations too large, with a one-line message.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err(
            "empty duration: give seconds (2, 1.5) or a number with a unit (500ms, 90s, 2m, 1h)"
                .into(),
        );
    }
    let bad = || {
        format!(
            "invalid duration {:?}: give seconds (2, 1.5) or a number with a unit (500ms, 90s, 2m, 1h)",
            crate::sanitize::sanitize_text(t.as_bytes(), 40)
        )
    };
    let too_large = || {
        format!(
            "duration {:?} is too large",
            crate::sanitize::sanitize_text(t.as_bytes(), 40)
        )
    };
    let mut rest = t;
    let mut total: u128 = 0;
    let mut parts = 0;
    while !rest.is_empty() {
        let num_len = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        let (num, after) = rest.split_at(num_len);
        if !num.bytes().any(|b| b.is_ascii_digit())
            || num.bytes().filter(|b| *b == b'.').count() > 1
        {
            return Err(bad());
        }
        let (int, frac) = num.split_once('.').unwrap_or((num, ""));
        let after = after.trim_start();
        let unit_len = after.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, after) = after.split_at(unit_len);
        let scale = if unit.is_empty() {
            // A bare number is seconds, and only on its own (`1m30` is ambiguous).
            if parts > 0 || !after.trim().is_empty() {
                return Err(bad());
            }
            SEC
        } else {
            UNITS
                .iter()
                .find(|(u, _)| *u == unit)
                .map(|(_, s)| *s)
                .ok_or_else(bad)?
        };
        total = total
            .checked_add(nanos(int, frac, scale).ok_or_else(too_large)?)
            .ok_or_else(too_large)?;
        parts += 1;
        rest = after.trim_start();
    }
    let secs = u64::try_from(total / SEC).map_err(|_| too_large())?;
    Ok(Duration::new(secs, (total % SEC) as u32))
}

/// `INT.FRAC` units of `scale` ns each, in ns (fraction rounded down to the nanosecond).
fn nanos(int: &str, frac: &str, scale: u128) -> Option<u128> {
    let int: u128 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let frac = &frac[..frac.len().min(MAX_FRACTION_DIGITS)];
    let frac_ns = if frac.is_empty() {
        0
    } else {
        frac.parse::<u128>().ok()? * scale / 10u128.pow(frac.len() as u32)
    };
    int.checked_mul(scale)?.checked_add(frac_ns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn what_people_type() {
        let ok = [
            ("2", Duration::from_secs(2)),
            ("1.5", Duration::from_millis(1500)),
            ("0.5", Duration::from_millis(500)),
            (".5", Duration::from_millis(500)),
            ("500ms", Duration::from_millis(500)),
            ("90s", Duration::from_secs(90)),
            ("2m", Duration::from_secs(120)),
            ("1h", Duration::from_secs(3600)),
            ("1d", Duration::from_secs(86_400)),
            ("1m30s", Duration::from_secs(90)),
            ("1 min", Duration::from_secs(60)),
            (" 3s ", Duration::from_secs(3)),
            ("250us", Duration::from_micros(250)),
            ("0", Duration::ZERO),
        ];
        for (text, want) in ok {
            assert_eq!(parse_duration(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn rejects_with_one_line() {
        for bad in [
            "",
            " ",
            "nan",
            "inf",
            "-1",
            "+1",
            "1e3",
            "1..2",
            ".",
            "s",
            "2x",
            "1m30",
            "1 2",
            "NaN",
            "infinity",
            "1.2.3s",
            "5 parsecs",
            "\u{1b}[31m",
            "9999999999999999999999d",
        ] {
            let e = parse_duration(bad).expect_err(bad);
            assert!(!e.contains('\n') && !e.contains('\u{1b}'), "{bad}: {e}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") {
            let _ = parse_duration(&s);
        }

        #[test]
        fn millis_round_trip(ms in 0u64..10_000_000) {
            prop_assert_eq!(parse_duration(&format!("{ms}ms")), Ok(Duration::from_millis(ms)));
        }

        #[test]
        fn bare_seconds_equal_s_suffix(s in 0u32..1_000_000) {
            prop_assert_eq!(parse_duration(&s.to_string()), parse_duration(&format!("{s}s")));
            prop_assert_eq!(parse_duration(&s.to_string()), Ok(Duration::from_secs(u64::from(s))));
        }

        #[test]
        fn sums_add_up(h in 0u64..100, m in 0u64..60, s in 0u64..60) {
            prop_assert_eq!(
                parse_duration(&format!("{h}h{m}m{s}s")),
                Ok(Duration::from_secs(h * 3600 + m * 60 + s))
            );
        }

        #[test]
        fn negative_is_rejected(x in 0.001f64..1e6) {
            let text = format!("-{x}");
            prop_assert!(parse_duration(&text).is_err());
        }
    }
}
