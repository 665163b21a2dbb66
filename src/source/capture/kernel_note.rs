//! The kernel's note on an RST as `watch --write` keeps it in a pcapng packet comment
//! (`rsthound-kernel: {JSON}`, the `kernel` object of the JSON output): read back into a
//! [`KernelNote`] so that `read` of such a file says what `watch` said. The comment is untrusted
//! (anyone can write a pcapng): its size is capped, unknown origins are refused, every string is
//! sanitized and cut.

use super::pcapng::MAX_KERNEL_COMMENT;
use crate::engine::fusion::{KernelNote, RstOrigin};
use crate::engine::kevent::Process;
use crate::sanitize::sanitize_text;
use serde::Deserialize;
use std::sync::Arc;

/// Longest command name kept (the kernel's own is 16 bytes; a little room for escapes).
const MAX_COMM: usize = 64;
const MAX_CMDLINE: usize = 512;
const MAX_CGROUP: usize = 256;
/// `enum sk_rst_reason` names are short (`TCP_ABORT_ON_CLOSE`).
const MAX_REASON: usize = 64;

/// Why a kernel comment was not taken.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KernelNoteError {
    #[error("kernel comment of {0} bytes is over the {MAX_KERNEL_COMMENT}-byte limit")]
    TooLong(usize),
    #[error("kernel comment is not valid JSON of the expected shape: {0}")]
    Shape(String),
    #[error("kernel comment has an unknown origin")]
    Origin,
}

#[derive(Deserialize)]
struct NoteIn {
    origin: String,
    reason: Option<String>,
    client: Option<ProcessIn>,
    sender: Option<ProcessIn>,
    receiver: Option<ProcessIn>,
}

#[derive(Deserialize)]
struct ProcessIn {
    pid: u32,
    comm: String,
    cmdline: Option<String>,
    uid: Option<u32>,
    cgroup: Option<String>,
}

/// Text the writer already sanitized, made safe again without escaping it twice: the writer's
/// escapes (`\x0a`, `\\`) stay as they are, since a backslash is harmless on a terminal, while
/// anything else [`sanitize_text`] escapes (control, format, bidi characters) is escaped; cut
/// after `max` characters.
fn clean(s: &str, max: usize) -> String {
    let mut out: String = s
        .split('\\')
        .map(|piece| sanitize_text(piece.as_bytes(), MAX_KERNEL_COMMENT))
        .collect::<Vec<_>>()
        .join("\\");
    if let Some((at, _)) = out.char_indices().nth(max) {
        out.truncate(at);
        out.push('…');
    }
    out
}

impl ProcessIn {
    fn into_process(self) -> Arc<Process> {
        Arc::new(Process {
            pid: self.pid,
            comm: clean(&self.comm, MAX_COMM),
            cmdline: self.cmdline.map(|c| clean(&c, MAX_CMDLINE)),
            uid: self.uid,
            cgroup: self.cgroup.map(|c| clean(&c, MAX_CGROUP)),
            ..Process::default()
        })
    }
}

/// Parses the JSON of a `rsthound-kernel:` comment (the bytes after the prefix).
pub fn parse_kernel_note(json: &[u8]) -> Result<KernelNote, KernelNoteError> {
    if json.len() > MAX_KERNEL_COMMENT {
        return Err(KernelNoteError::TooLong(json.len()));
    }
    let raw: NoteIn = serde_json::from_slice(json).map_err(|e| {
        // serde's message may quote the input: cut and sanitized like any untrusted text.
        KernelNoteError::Shape(sanitize_text(e.to_string().as_bytes(), 120))
    })?;
    let origin = match raw.origin.as_str() {
        "stack" => RstOrigin::Stack,
        "forged_locally" => RstOrigin::ForgedLocally,
        "remote" => RstOrigin::Remote,
        "unknown" => RstOrigin::Unknown,
        _ => return Err(KernelNoteError::Origin),
    };
    Ok(KernelNote {
        origin,
        reason: raw.reason.map(|r| Arc::from(clean(&r, MAX_REASON))),
        client: raw.client.map(ProcessIn::into_process),
        sender: raw.sender.map(ProcessIn::into_process),
        receiver: raw.receiver.map(ProcessIn::into_process),
        // Not kept in the file: they name this host's listeners and files.
        past_listener: None,
        listener_reset: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_what_watch_writes() {
        let json = br#"{"origin":"stack","reason":"NO_SOCKET","client":{"pid":4711,"comm":"collectord","cmdline":"collectord --push","uid":0,"cgroup":null},"sender":null,"receiver":null}"#;
        let note = parse_kernel_note(json).unwrap();
        assert_eq!(note.origin, RstOrigin::Stack);
        assert_eq!(note.reason.as_deref(), Some("NO_SOCKET"));
        let c = note.client.unwrap();
        assert_eq!(
            (c.pid, c.comm.as_str(), c.uid),
            (4711, "collectord", Some(0))
        );
        assert_eq!(c.cmdline.as_deref(), Some("collectord --push"));
        assert!(note.sender.is_none() && note.receiver.is_none());
    }

    #[test]
    fn control_bytes_in_names_are_escaped() {
        let json = br#"{"origin":"remote","reason":"X\u001b[31m","client":{"pid":1,"comm":"ev\u001bil\n"}}"#;
        let note = parse_kernel_note(json).unwrap();
        let comm = &note.client.unwrap().comm;
        assert!(!comm.contains('\u{1b}') && !comm.contains('\n'), "{comm:?}");
        assert!(!note.reason.unwrap().contains('\u{1b}'));
    }

    #[test]
    fn text_the_writer_escaped_is_not_escaped_twice() {
        let shown = sanitize_text(b"collectord -c \nimport\\x", 512);
        let json = serde_json::json!({"origin": "stack", "client": {"pid": 1, "comm": "c", "cmdline": shown}});
        let note = parse_kernel_note(json.to_string().as_bytes()).unwrap();
        assert_eq!(
            note.client.unwrap().cmdline.as_deref(),
            Some(shown.as_str())
        );
    }

    #[test]
    fn long_strings_are_cut() {
        let long = "a".repeat(3000);
        let json = format!(r#"{{"origin":"stack","client":{{"pid":1,"comm":"{long}"}}}}"#);
        let note = parse_kernel_note(json.as_bytes()).unwrap();
        assert!(note.client.unwrap().comm.chars().count() <= MAX_COMM + 1);
    }

    #[test]
    fn refuses_oversized_unknown_and_malformed() {
        let big = vec![b' '; MAX_KERNEL_COMMENT + 1];
        assert_eq!(
            parse_kernel_note(&big),
            Err(KernelNoteError::TooLong(MAX_KERNEL_COMMENT + 1))
        );
        assert_eq!(
            parse_kernel_note(br#"{"origin":"elsewhere"}"#),
            Err(KernelNoteError::Origin)
        );
        assert!(matches!(
            parse_kernel_note(br#"{"origin":"stack","client":{"pid":-1,"comm":"x"}}"#),
            Err(KernelNoteError::Shape(_))
        ));
        assert!(matches!(
            parse_kernel_note(b"[[[[[[[[[[[[[[[["),
            Err(KernelNoteError::Shape(_))
        ));
    }

    proptest! {
        #[test]
        fn never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse_kernel_note(&bytes);
        }

        #[test]
        fn names_survive_sanitized(comm in "\\PC{0,40}", pid in any::<u32>(), reason in "[A-Z_]{1,30}") {
            let json = serde_json::json!({
                "origin": "stack", "reason": reason,
                "client": {"pid": pid, "comm": comm},
            });
            let note = parse_kernel_note(json.to_string().as_bytes()).unwrap();
            let c = note.client.unwrap();
            prop_assert_eq!(c.pid, pid);
            prop_assert!(!c.comm.chars().any(char::is_control));
            prop_assert_eq!(note.reason.as_deref(), Some(reason.as_str()));
        }
    }
}
