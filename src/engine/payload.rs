//! The text of an RST's payload: RFC 9293 §3.5.3 lets a reset carry diagnostic text, which
//! the peer chose and which is therefore sanitized and cut before anyone sees it.

use crate::sanitize::sanitize_text;

/// RST payloads (RFC 9293 §3.5.3 diagnostic text) longer than this are cut in the output.
const MAX_PAYLOAD_TEXT: usize = 120;
/// The bytes of a payload its text can depend on: the characters shown (at most 4 bytes each),
/// one more (which decides the `…`), and the 4 bytes after, which decide how those split
/// into valid UTF-8 and invalid bytes.
pub const PAYLOAD_TEXT_BYTES: usize = 4 * (MAX_PAYLOAD_TEXT + 1) + 4;

/// Payload text of a segment, if it carries any captured bytes (sanitized).
pub fn payload_text(payload: &[u8]) -> Option<String> {
    (!payload.is_empty()).then(|| sanitize_text(payload, MAX_PAYLOAD_TEXT))
}
