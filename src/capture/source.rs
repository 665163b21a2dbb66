//! A refillable byte window over any reader: the one buffer every capture reader parses in place.
//!
//! Large inputs are read ahead on a second thread: copying a file out of the page cache (or
//! inflating gzip) costs as much as parsing it, and on a machine with two cores the two can
//! overlap. Small inputs never start the thread: it only starts at the first refill after the
//! initial buffer has been parsed.

use super::{CaptureError, MAX_RECORD_LEN};
use std::io::{self, ErrorKind, Read};
use std::sync::mpsc::{Receiver, Sender, SyncSender, TryRecvError, channel, sync_channel};

const INITIAL_BUF: usize = 1 << 20;
/// Bytes of file per read-ahead chunk: small enough to still be in cache when parsed.
const CHUNK: usize = 512 << 10;
/// Room in front of each chunk for the unparsed tail of the previous one (a record that
/// straddles two chunks); longer tails take the slow path.
const HEADROOM: usize = 64 << 10;
/// Chunks in flight between the threads.
const DEPTH: usize = 4;

/// The reader, either read directly or handed to the read-ahead thread.
enum Feed {
    Direct(Box<dyn Read + Send>),
    Ahead(ReadAhead),
    Done,
}

pub(crate) struct ByteSource {
    feed: Feed,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Stream offset of `buf[start]`.
    offset: u64,
    eof: bool,
    refills: u32,
}

impl ByteSource {
    pub fn new(reader: Box<dyn Read + Send>) -> Self {
        ByteSource {
            feed: Feed::Direct(reader),
            buf: vec![0; INITIAL_BUF],
            start: 0,
            end: 0,
            offset: 0,
            eof: false,
            refills: 0,
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
        self.refills += 1;
        // The second refill means the input is bigger than the first buffer: read ahead.
        if self.refills >= 2
            && matches!(self.feed, Feed::Direct(_))
            && let Feed::Direct(reader) = std::mem::replace(&mut self.feed, Feed::Done)
        {
            self.feed = Feed::Ahead(ReadAhead::start(reader));
        }
        let result = match &mut self.feed {
            Feed::Ahead(_) => self.refill_ahead(n),
            _ => self.refill_direct(n),
        };
        result.map_err(|e| CaptureError::io(self.offset + (self.end - self.start) as u64, &e))?;
        Ok((self.end - self.start).min(n))
    }

    fn refill_direct(&mut self, n: usize) -> io::Result<()> {
        let Feed::Direct(reader) = &mut self.feed else {
            self.eof = true;
            return Ok(());
        };
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
            match reader.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end += k,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn refill_ahead(&mut self, n: usize) -> io::Result<()> {
        while self.end - self.start < n && !self.eof {
            let Feed::Ahead(ahead) = &mut self.feed else {
                return Ok(());
            };
            let Some((mut chunk, len)) = ahead.next()? else {
                self.eof = true;
                break;
            };
            let tail = self.end - self.start;
            if tail <= HEADROOM {
                // The usual case: the partial record moves into the new chunk's headroom.
                chunk[HEADROOM - tail..HEADROOM].copy_from_slice(&self.buf[self.start..self.end]);
                let old = std::mem::replace(&mut self.buf, chunk);
                ahead.recycle(old);
                self.start = HEADROOM - tail;
                self.end = HEADROOM + len;
            } else {
                // A record longer than the headroom: append the chunk to what we have.
                self.buf.copy_within(self.start..self.end, 0);
                self.buf.truncate(tail);
                self.buf.extend_from_slice(&chunk[HEADROOM..HEADROOM + len]);
                self.start = 0;
                self.end = self.buf.len();
                ahead.recycle(chunk);
            }
        }
        Ok(())
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

/// A filled chunk: the buffer and how many bytes after the headroom are data.
type Filled = io::Result<(Vec<u8>, usize)>;

/// The read-ahead thread's two ends: filled chunks come in, parsed ones go back for reuse.
/// Dropping it ends the thread (its next send fails), so a reader abandoned mid-file costs
/// nothing further.
struct ReadAhead {
    filled: Receiver<Filled>,
    empty: Sender<Vec<u8>>,
}

impl ReadAhead {
    fn start(mut reader: Box<dyn Read + Send>) -> Self {
        let (filled_tx, filled) = sync_channel::<Filled>(DEPTH);
        let (empty, empty_rx) = channel::<Vec<u8>>();
        let spawned = std::thread::Builder::new()
            .name("read-ahead".into())
            .spawn(move || read_ahead(&mut *reader, &filled_tx, &empty_rx));
        if let Err(e) = spawned {
            // No thread: report it as the read error it effectively is.
            let (tx, rx) = sync_channel::<Filled>(1);
            let _ = tx.send(Err(e));
            return ReadAhead { filled: rx, empty };
        }
        ReadAhead { filled, empty }
    }

    /// The next chunk, or `None` at end of input.
    fn next(&mut self) -> io::Result<Option<(Vec<u8>, usize)>> {
        match self.filled.recv() {
            Ok(Ok(c)) => Ok(Some(c)),
            Ok(Err(e)) => Err(e),
            Err(_) => Ok(None),
        }
    }

    fn recycle(&self, buf: Vec<u8>) {
        if buf.len() >= HEADROOM + CHUNK {
            let _ = self.empty.send(buf);
        }
    }
}

fn read_ahead(reader: &mut dyn Read, filled: &SyncSender<Filled>, empty: &Receiver<Vec<u8>>) {
    // Buffers in circulation: the channel's, the one being parsed, the one being filled, and
    // one the parser holds while it moves a tail. Beyond that, wait for one to come back.
    let mut allocated = 0;
    loop {
        let mut chunk = match empty.try_recv() {
            Ok(b) => b,
            Err(TryRecvError::Empty) if allocated < DEPTH + 3 => {
                allocated += 1;
                vec![0; HEADROOM + CHUNK]
            }
            Err(TryRecvError::Empty) => match empty.recv() {
                Ok(b) => b,
                Err(_) => return,
            },
            Err(TryRecvError::Disconnected) => return,
        };
        let mut len = 0;
        while len < CHUNK {
            match reader.read(&mut chunk[HEADROOM + len..HEADROOM + CHUNK]) {
                Ok(0) => break,
                Ok(k) => len += k,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    if len > 0 {
                        let _ = filled.send(Ok((chunk, len)));
                    }
                    let _ = filled.send(Err(e));
                    return;
                }
            }
        }
        if len == 0 || filled.send(Ok((chunk, len))).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic bytes, handed out in awkward read sizes, optionally failing at one offset.
    struct Pattern {
        pos: usize,
        len: usize,
        step: usize,
        fail_at: Option<usize>,
    }

    fn byte_at(i: usize) -> u8 {
        (i.wrapping_mul(2_654_435_761) >> 13) as u8
    }

    impl Read for Pattern {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if Some(self.pos) == self.fail_at {
                return Err(io::Error::other("disk on fire"));
            }
            let mut n = buf.len().min(self.len - self.pos).min(self.step);
            if let Some(f) = self.fail_at {
                n = n.min(f - self.pos);
            }
            for (k, b) in buf[..n].iter_mut().enumerate() {
                *b = byte_at(self.pos + k);
            }
            self.pos += n;
            Ok(n)
        }
    }

    /// Records of many sizes, some longer than the headroom and the chunk, parsed across the
    /// switch to read-ahead: every byte arrives in order and offsets stay exact.
    #[test]
    fn read_ahead_delivers_every_byte_in_order() {
        let len = 9 << 20;
        let mut src = ByteSource::new(Box::new(Pattern {
            pos: 0,
            len,
            step: 7_777,
            fail_at: None,
        }));
        let sizes = [1, 16, 1500, 65_535, 70_000, 9, 600_000, 3, 2_000_000, 40];
        let mut pos = 0;
        let mut k = 0;
        while pos < len {
            let want = sizes[k % sizes.len()];
            k += 1;
            let have = src.fill(want).unwrap();
            assert_eq!(have, want.min(len - pos));
            assert_eq!(src.offset(), pos as u64);
            let got = src.take(have);
            for (i, b) in got.iter().enumerate() {
                assert_eq!(*b, byte_at(pos + i), "byte {}", pos + i);
            }
            pos += have;
        }
        assert_eq!(src.fill(1).unwrap(), 0);
        assert!(
            matches!(src.feed, Feed::Ahead(_)),
            "large input reads ahead"
        );
    }

    #[test]
    fn read_error_in_read_ahead_is_located() {
        let fail = 3 << 20;
        let mut src = ByteSource::new(Box::new(Pattern {
            pos: 0,
            len: 8 << 20,
            step: 65_536,
            fail_at: Some(fail),
        }));
        let mut pos = 0u64;
        let err = loop {
            match src.fill(1000) {
                Ok(n) => {
                    src.take(n);
                    pos += n as u64;
                }
                Err(e) => break e,
            }
        };
        assert!(pos <= fail as u64);
        // The offset names the first byte that could not be read.
        assert_eq!(err.offset, fail as u64);
        assert!(err.message.contains("disk on fire"), "{}", err.message);
    }
}
