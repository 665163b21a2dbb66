//! Untrusted text (interface names from a file, RST payloads, process names) made safe for a
//! terminal: control characters, escape sequences and invalid UTF-8 become visible `\xNN` escapes.

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
            if c.is_control() || is_bidi_control(c) {
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

/// Bidirectional overrides can make a terminal show text in another order than it is.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
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
    }
}
