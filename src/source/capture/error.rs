//! The error a capture reader stops on: where in the file, and what is wrong there.

/// A damaged or unreadable capture. `offset` is the byte offset in the (decompressed) stream of
/// the record or block at fault, so a user can look at it with `xxd -s`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("offset {offset}: {message}")]
pub struct CaptureError {
    pub offset: u64,
    pub message: String,
}

impl CaptureError {
    pub fn new(offset: u64, message: impl Into<String>) -> Self {
        CaptureError {
            offset,
            message: message.into(),
        }
    }

    pub(crate) fn io(offset: u64, err: &std::io::Error) -> Self {
        CaptureError::new(offset, format!("read error: {err}"))
    }
}
