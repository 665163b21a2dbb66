//! A refillable byte window over any reader: the one buffer every capture reader parses in place.

use super::{CaptureError, MAX_RECORD_LEN};
use std::io::{ErrorKind, Read};

const INITIAL_BUF: usize = 1 << 20;

pub(crate) struct ByteSource {
    reader: Box<dyn Read>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Stream offset of `buf[start]`.
    offset: u64,
    eof: bool,
}

impl ByteSource {
    pub fn new(reader: Box<dyn Read>) -> Self {
        ByteSource {
            reader,
            buf: vec![0; INITIAL_BUF],
            start: 0,
            end: 0,
            offset: 0,
            eof: false,
        }
    }

    /// Tries to make `n` bytes available; returns how many are (less than `n` only at end of
    /// stream). `n` must not exceed [`MAX_RECORD_LEN`] plus a header: callers check lengths first.
    #[inline]
    pub fn fill(&mut self, n: usize) -> Result<usize, CaptureError> {
        if self.end - self.start >= n {
            return Ok(n);
        }
        self.refill(n)
    }

    #[cold]
    fn refill(&mut self, n: usize) -> Result<usize, CaptureError> {
        debug_assert!(n <= MAX_RECORD_LEN + 64);
        if self.start + n > self.buf.len() {
            // Move the unread tail to the front; grow only when one record needs more room.
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if n > self.buf.len() {
                self.buf.resize(n.next_power_of_two(), 0);
            }
        }
        while self.end - self.start < n && !self.eof {
            match self.reader.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end += k,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(CaptureError::io(
                        self.offset + (self.end - self.start) as u64,
                        &e,
                    ));
                }
            }
        }
        Ok((self.end - self.start).min(n))
    }

    #[inline]
    pub fn peek(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Consumes `n` available bytes and returns them.
    #[inline]
    pub fn take(&mut self, n: usize) -> &[u8] {
        let s = self.start;
        self.start += n;
        self.offset += n as u64;
        &self.buf[s..s + n]
    }

    pub fn offset(&self) -> u64 {
        self.offset
    }
}
