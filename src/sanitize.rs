//! Untrusted text made safe for a terminal and for JSON: THE one sanitizer for every string that
//! comes from outside (interface names, RST payloads, file names, process names and command
//! lines, namespace names). Control, format and bidi characters (Unicode general categories Cc,
//! Cf, Zl, Zp), backslashes and invalid UTF-8 become visible `\xNN` / `\\` escapes.

use std::ffi::OsStr;

/// Printable text with every control or non-UTF-8 byte escaped, cut after `max_chars` characters
/// (an ellipsis marks the cut).
pub fn sanitize_text(raw: &[u8], max_chars: usize) -> String {
    let mut out = String::with_capacity(raw.len().min(max_chars) + 8);
    let mut chars = 0;
    for chunk in raw.utf8_chunks() {
        for c in chunk.valid().chars() {
            if chars >= max_chars {
                out.push('…');
                return out;
            }
            if is_escaped(c) {
                push_escaped_char(&mut out, c);
            } else if c == '\\' {
                out.push_str("\\\\");
            } else {
                out.push(c);
            }
            chars += 1;
        }
        for b in chunk.invalid() {
            if chars >= max_chars {
                out.push('…');
                return out;
            }
            out.push_str(&format!("\\x{b:02x}"));
            chars += 1;
        }
    }
    out
}

/// Every code point of general category Cf (format), Zl (line separator) or Zp (paragraph
/// separator), as inclusive ranges in ascending order; Cc is `char::is_control`.
///
/// Generated from Unicode 16.0.0 `UnicodeData.txt` (field 2, General_Category), as tabulated by
/// the `unicode-general-category` 1.1.0 crate; `tests/escaping.rs` checks every code point against
/// that crate, so a newer Unicode shows up there as a failure naming the code point.
const FORMAT_AND_SEPARATORS: [(u32, u32); 21] = [
    (0x00AD, 0x00AD),   // Cf soft hyphen
    (0x0600, 0x0605),   // Cf Arabic number signs
    (0x061C, 0x061C),   // Cf Arabic letter mark (bidi)
    (0x06DD, 0x06DD),   // Cf
    (0x070F, 0x070F),   // Cf
    (0x0890, 0x0891),   // Cf
    (0x08E2, 0x08E2),   // Cf
    (0x180E, 0x180E),   // Cf Mongolian vowel separator
    (0x200B, 0x200F),   // Cf zero width space, ZWNJ, ZWJ, LRM, RLM
    (0x2028, 0x202E),   // Zl U+2028, Zp U+2029, Cf bidi embeddings and overrides
    (0x2060, 0x2064),   // Cf word joiner, invisible operators
    (0x2066, 0x206F),   // Cf bidi isolates and deprecated format characters
    (0xFEFF, 0xFEFF),   // Cf zero width no-break space (BOM)
    (0xFFF9, 0xFFFB),   // Cf interlinear annotation
    (0x110BD, 0x110BD), // Cf
    (0x110CD, 0x110CD), // Cf
    (0x13430, 0x1343F), // Cf Egyptian hieroglyph format controls
    (0x1BCA0, 0x1BCA3), // Cf shorthand format controls
    (0x1D173, 0x1D17A), // Cf musical symbol format controls
    (0xE0001, 0xE0001), // Cf language tag
    (0xE0020, 0xE007F), // Cf tag characters
];

/// Whether `c` is shown as escapes: a control (Cc), format (Cf, the bidi marks, overrides and
/// isolates among them) or line/paragraph separator (Zl, Zp) character. Each of them can move the
/// cursor, hide text, reorder what is shown or end a line where a reader of JSON or a terminal
/// does not expect one.
pub fn is_escaped(c: char) -> bool {
    if c.is_control() {
        return true;
    }
    let cp = u32::from(c);
    // Ranges are sorted and disjoint: the last one starting at or below `cp` is the candidate.
    let i = FORMAT_AND_SEPARATORS.partition_point(|&(start, _)| start <= cp);
    i > 0 && cp <= FORMAT_AND_SEPARATORS[i - 1].1
}

/// A path or other OS string (bytes on Linux, not necessarily UTF-8) shown escaped.
pub fn sanitize_os(raw: &OsStr, max_chars: usize) -> String {
    sanitize_text(raw.as_encoded_bytes(), max_chars)
}

fn push_escaped_char(out: &mut String, c: char) {
    let mut buf = [0u8; 4];
    for b in c.encode_utf8(&mut buf).bytes() {
        out.push_str(&format!("\\x{b:02x}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_controls_and_bad_utf8() {
        assert_eq!(sanitize_text(b"eth0", 64), "eth0");
        assert_eq!(sanitize_text(b"\x1b[31mred", 64), "\\x1b[31mred");
        assert_eq!(sanitize_text(b"a\xffb", 64), "a\\xffb");
        assert_eq!(
            sanitize_text("x\u{202e}y".as_bytes(), 64),
            "x\\xe2\\x80\\xaey"
        );
        assert_eq!(sanitize_text(b"abcdef", 3), "abc…");
        assert_eq!(sanitize_text(b"a\\x", 8), "a\\\\x");
        // The ones the hostile-input review found reaching the terminal and JSON unescaped.
        assert_eq!(sanitize_text("a\u{61c}b".as_bytes(), 64), "a\\xd8\\x9cb");
        assert_eq!(sanitize_text("\u{2028}".as_bytes(), 64), "\\xe2\\x80\\xa8");
        assert_eq!(sanitize_text("\u{200b}".as_bytes(), 64), "\\xe2\\x80\\x8b");
        assert_eq!(sanitize_text("\u{feff}".as_bytes(), 64), "\\xef\\xbb\\xbf");
        assert_eq!(sanitize_text("é€😀".as_bytes(), 64), "é€😀");
    }

    #[test]
    fn table_is_sorted_and_disjoint() {
        for w in FORMAT_AND_SEPARATORS.windows(2) {
            assert!(w[0].0 <= w[0].1 && w[0].1 < w[1].0, "{w:x?}");
        }
    }
}
