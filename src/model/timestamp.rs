//! Capture timestamps: nanoseconds since the Unix epoch plus the precision the capture recorded,
//! so that output never invents digits (a µs pcap prints 6 digits, a ns pcap 9).

use std::fmt::Write as _;

/// A point in capture time. Ordering ignores precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timestamp {
    nanos: i64,
    digits: u8,
}

impl PartialOrd for Timestamp {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Timestamp {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

impl Timestamp {
    /// `digits` is the number of fractional digits the source can express (clamped to 0..=9).
    pub fn from_nanos(nanos: i64, digits: u8) -> Self {
        Timestamp {
            nanos,
            digits: digits.min(9),
        }
    }

    /// Seconds and a fraction in units of `10^-digits` (pcap µs/ns records).
    pub fn from_parts(secs: i64, frac: u64, digits: u8) -> Self {
        let digits = digits.min(9);
        Self::from_scaled(secs, frac, Self::scale(digits), digits)
    }

    /// Nanoseconds per unit of a fraction with `digits` digits (at most 9).
    pub fn scale(digits: u8) -> u64 {
        10u64.pow(9 - u32::from(digits.min(9)))
    }

    /// [`Timestamp::from_parts`] with the fraction's [`Timestamp::scale`] worked out already,
    /// for readers that make millions of timestamps of one precision.
    #[inline]
    pub fn from_scaled(secs: i64, frac: u64, scale: u64, digits: u8) -> Self {
        let nanos = secs
            .saturating_mul(1_000_000_000)
            .saturating_add(frac.saturating_mul(scale).min(i64::MAX as u64) as i64);
        Timestamp { nanos, digits }
    }

    pub fn nanos(self) -> i64 {
        self.nanos
    }

    pub fn digits(self) -> u8 {
        self.digits
    }

    pub fn secs(self) -> i64 {
        self.nanos.div_euclid(1_000_000_000)
    }

    fn subsec_nanos(self) -> u32 {
        self.nanos.rem_euclid(1_000_000_000) as u32
    }

    /// Appends `HH:MM:SS.ffffff` (UTC) like tcpdump's default time column. (Digit by digit:
    /// it starts every output line, and `write!` costs several times more.)
    pub fn write_time_of_day(self, out: &mut Vec<u8>) {
        let sod = self.secs().rem_euclid(86_400) as u32;
        push_padded(out, sod / 3600, 2);
        out.push(b':');
        push_padded(out, (sod / 60) % 60, 2);
        out.push(b':');
        push_padded(out, sod % 60, 2);
        let (frac, n) = self.fraction();
        out.extend_from_slice(&frac[..n]);
    }

    /// Appends RFC 3339 in UTC with the capture's full precision, e.g. `2026-11-21T13:15:42.507657Z`.
    pub fn write_rfc3339(self, out: &mut String) {
        let secs = self.secs();
        let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
        let sod = secs.rem_euclid(86_400);
        let _ = write!(
            out,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
            sod / 3600,
            (sod / 60) % 60,
            sod % 60
        );
        let (frac, n) = self.fraction();
        // Only '.' and ASCII digits.
        out.push_str(std::str::from_utf8(&frac[..n]).unwrap_or_default());
        out.push('Z');
    }

    pub fn rfc3339(self) -> String {
        let mut s = String::with_capacity(32);
        self.write_rfc3339(&mut s);
        s
    }

    pub fn time_of_day(self) -> String {
        let mut s = Vec::with_capacity(16);
        self.write_time_of_day(&mut s);
        // Only ASCII digits, ':' and '.' are written.
        String::from_utf8(s).unwrap_or_default()
    }

    /// `.ffffff` with the capture's precision (nothing without one), in a buffer of its own:
    /// both the byte and the `String` writers take it from there.
    fn fraction(self) -> ([u8; 10], usize) {
        let mut buf = [b'.'; 10];
        if self.digits == 0 {
            return (buf, 0);
        }
        let div = 10u32.pow(9 - u32::from(self.digits));
        let (digits, n) = padded(self.subsec_nanos() / div, usize::from(self.digits));
        buf[1..=n].copy_from_slice(&digits[..n]);
        (buf, n + 1)
    }
}

/// `n` in decimal, zero-padded to `width` digits, and that width (at most 9, all a fraction
/// needs; higher digits of `n` are not written, so `n` must be below 10^width).
fn padded(mut n: u32, width: usize) -> ([u8; 9], usize) {
    let mut digits = [b'0'; 9];
    let width = width.min(digits.len());
    for d in digits[..width].iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    (digits, width)
}

/// Appends `n` zero-padded to `width` digits (see [`padded`]).
fn push_padded(out: &mut Vec<u8>, n: u32, width: usize) {
    let (digits, width) = padded(n, width);
    out.extend_from_slice(&digits[..width]);
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

impl serde::Serialize for Timestamp {
    /// As RFC 3339 text, with the capture's precision.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_micro_and_nano_precision() {
        let t = Timestamp::from_parts(1_763_730_942, 507_657, 6);
        assert_eq!(t.rfc3339(), "2025-11-21T13:15:42.507657Z");
        assert_eq!(t.time_of_day(), "13:15:42.507657");
        let t = Timestamp::from_parts(0, 1, 9);
        assert_eq!(t.rfc3339(), "1970-01-01T00:00:00.000000001Z");
    }

    #[test]
    fn handles_dates_before_epoch_and_leap_years() {
        assert_eq!(
            Timestamp::from_parts(-1, 0, 0).rfc3339(),
            "1969-12-31T23:59:59Z"
        );
        assert_eq!(
            Timestamp::from_parts(951_782_400, 0, 3).rfc3339(),
            "2000-02-29T00:00:00.000Z"
        );
    }

    #[test]
    fn time_of_day_matches_the_formatting_machinery() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for digits in 0..=9u8 {
            for _ in 0..500 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let t = Timestamp::from_nanos((x >> 2) as i64 - (1 << 61), digits);
                let sod = t.secs().rem_euclid(86_400);
                let mut want = format!("{:02}:{:02}:{:02}", sod / 3600, (sod / 60) % 60, sod % 60);
                if digits > 0 {
                    let frac = t.subsec_nanos() / 10u32.pow(9 - u32::from(digits));
                    want += &format!(".{frac:0width$}", width = usize::from(digits));
                }
                assert_eq!(t.time_of_day(), want);
            }
        }
    }

    #[test]
    fn extreme_values_do_not_panic() {
        let t = Timestamp::from_parts(i64::MAX, u64::MAX, 9);
        let _ = t.rfc3339();
        let t = Timestamp::from_nanos(i64::MIN, 9);
        let _ = t.rfc3339();
    }
}
