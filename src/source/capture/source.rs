//! The byte window every capture reader parses in place: a refillable buffer over any reader, or
//! a regular file read through a memory mapping (no copy at all) where that is cheaper.

use super::{CaptureError, MAX_RECORD_LEN};
use crate::sys::mmap::{Mapping, minor_faults, prefetch};
use std::cell::Cell;
use std::fs::File;
use std::io::{ErrorKind, Read};
use std::os::unix::fs::FileExt;
use std::rc::Rc;

const INITIAL_BUF: usize = 1 << 20;

/// A file source looks at the file every this many bytes: is it still as long, should the next
/// stretch be read through the mapping or with `read()`, what can be released (see [`FileSource`]).
const STEP: usize = 4 << 20;
/// A new mapped stretch is probed one byte every this many: in small folios every probe takes a
/// page fault, as the kernel maps at most this much around a faulting address (its fault-around
/// window); in the 2 MiB folios of a file read in from disk, a fault maps a whole folio, and
/// nearly every probe finds its page mapped already.
const PROBE_STRIDE: usize = 64 << 10;
/// A stretch where more than this share of the probes faulted was mostly mapped in small pieces:
/// the page cache holds that part of the file in small folios (it was written recently, in small
/// writes), so every 4 KiB page costs a share of a fault, a TLB entry and an unmap, and reading
/// it with `read()` is faster (the kernel copies through its own huge-page mapping). Measured
/// per 4 MiB stretch: 2-3 faults in 2 MiB folios, 64-68 in small ones, about 33 half and half
/// (where the mapping still wins).
///
/// Only the probes' own faults count: the thread's fault count over a whole stretch also takes
/// in its first touches of new heap memory (326 faults in the first stretch of a read, where
/// the probes count 63), enough to tip a stretch in large folios over the line.
const SMALL_PIECES_SHARE: (u64, u64) = (3, 4);
/// After a stretch mapped in small pieces, the next ones are read with `read()`: one step, then
/// the mapping is tried again, and each time it is still in small pieces twice as many, up to
/// this many (1 GiB). A file in small folios was usually written that way from end to end, and
/// each retry maps a whole step the slow way: with a fixed 16 steps (one retry in 17) a
/// small-folio capture took 0.64-0.69 s against 0.48-0.54 s with 256, in alternating runs. But a
/// file read in from disk starts in small folios too, for its first few MiB, while readahead
/// ramps up: a fixed 256 read its first gigabyte the slow way.
const READ_STEPS: u32 = 256;
/// Mapped stretches are prefetched this far ahead of the read position, a little at a time: the
/// parser then finds the next record headers in cache instead of waiting for memory at each one
/// (a `read()` copy gets that for free, as the kernel has just written the buffer).
const PREFETCH_AHEAD: usize = 4 << 10;
const PREFETCH_CHUNK: usize = 1 << 10;

pub(crate) struct ByteSource {
    inner: Inner,
}

enum Inner {
    Stream(Buffered),
    File(FileSource),
}

impl ByteSource {
    pub fn new(reader: Box<dyn Read>) -> Self {
        ByteSource {
            inner: Inner::Stream(Buffered {
                reader,
                buf: vec![0; INITIAL_BUF],
                start: 0,
                end: 0,
                offset: 0,
                eof: false,
            }),
        }
    }

    /// A source over the whole of `file`, mapped as `map`. `consumed` is kept near the read
    /// position for progress reporting.
    pub fn file(map: Mapping, file: File, consumed: Rc<Cell<u64>>) -> Self {
        Self::file_with(map, file, consumed, Policy::Adaptive)
    }

    fn file_with(map: Mapping, file: File, consumed: Rc<Cell<u64>>, policy: Policy) -> Self {
        let limit = map.len();
        ByteSource {
            inner: Inner::File(FileSource {
                map,
                file,
                pos: 0,
                ready: 0,
                mode: Mode::Map,
                policy,
                buf: Vec::new(),
                buf_at: 0,
                limit,
                released: 0,
                prefetched: 0,
                decided_at: None,
                probes: 0,
                probe_faults: 0,
                read_steps_left: 0,
                read_run: 1,
                consumed,
            }),
        }
    }

    /// Tries to make `n` bytes available; returns how many are (less than `n` only at end of
    /// stream). `n` must not exceed [`MAX_RECORD_LEN`] plus a header: callers check lengths first.
    #[inline]
    pub fn fill(&mut self, n: usize) -> Result<usize, CaptureError> {
        match &mut self.inner {
            Inner::Stream(b) => b.fill(n),
            Inner::File(f) => f.fill(n),
        }
    }

    /// [`ByteSource::fill`], then [`ByteSource::peek`]: the available bytes, at least `n` of them
    /// unless the stream ends first.
    #[inline]
    pub fn window(&mut self, n: usize) -> Result<&[u8], CaptureError> {
        self.fill(n)?;
        Ok(self.peek())
    }

    /// Readies the next `max` bytes at hand for [`ByteSource::at_hand`]: a mapped file's are
    /// prefetched, and the usual distance beyond them. Never refills.
    #[inline]
    pub fn prepare(&mut self, max: usize) {
        if let Inner::File(f) = &mut self.inner {
            f.prepare(max);
        }
    }

    /// Up to `max` of the bytes at hand, without a refill: for a reader that parses the records
    /// lying whole in them in one go, checks [`ByteSource::intact`] before handing each out and
    /// then [`ByteSource::take`]s what it used. Whatever is not at hand is left to
    /// [`ByteSource::fill`].
    #[inline]
    pub fn at_hand(&self, max: usize) -> &[u8] {
        let w = self.peek();
        &w[..w.len().min(max)]
    }

    /// Whether the bytes at hand still read as the file's: false once a mapped file was found
    /// to have lost bytes (see [`crate::sys::mmap::Mapping::fault`]); [`ByteSource::fill`] then
    /// says where.
    #[inline]
    pub fn intact(&self) -> bool {
        match &self.inner {
            Inner::Stream(_) => true,
            Inner::File(f) => f.mode == Mode::Read || f.map.fault().is_none(),
        }
    }

    /// The available bytes (at least what the last successful [`ByteSource::fill`] promised).
    #[inline]
    pub fn peek(&self) -> &[u8] {
        match &self.inner {
            Inner::Stream(b) => &b.buf[b.start..b.end],
            Inner::File(f) => f.bytes(f.pos, f.ready),
        }
    }

    /// Consumes `n` available bytes and returns them.
    #[inline]
    pub fn take(&mut self, n: usize) -> &[u8] {
        match &mut self.inner {
            Inner::Stream(b) => {
                let s = b.start;
                b.start += n;
                b.offset += n as u64;
                &b.buf[s..s + n]
            }
            Inner::File(f) => {
                let s = f.pos;
                f.pos += n;
                f.bytes(s, s + n)
            }
        }
    }

    /// Stream offset of the next unread byte.
    pub fn offset(&self) -> u64 {
        match &self.inner {
            Inner::Stream(b) => b.offset,
            Inner::File(f) => f.pos as u64,
        }
    }
}

struct Buffered {
    reader: Box<dyn Read>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Stream offset of `buf[start]`.
    offset: u64,
    eof: bool,
}

impl Buffered {
    #[inline]
    fn fill(&mut self, n: usize) -> Result<usize, CaptureError> {
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
}

/// How a [`FileSource`] chooses between mapping and reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Policy {
    /// Map, except after a stretch that mapped in small pieces (see [`SMALL_PIECES_SHARE`]).
    Adaptive,
    /// Tests: always map.
    #[cfg(test)]
    Map,
    /// Tests: map and read in turn, a step each.
    #[cfg(test)]
    Alternate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Bytes come straight from the mapping.
    Map,
    /// Bytes are copied into `buf` with `pread()`.
    Read,
}

/// A regular file, read front to back through its mapping or, stretch by stretch, with `pread()`
/// when the mapping turns out to be the slower way (see [`SMALL_PIECES_SHARE`]). Either way it is
/// read up to the length it had when it was opened. Every [`STEP`] bytes it
///
/// - checks that the file is still that long: a file that shrank ends the read with an error at
///   the first record it cut, instead of a SIGBUS (a file that shrinks between two checks is caught
///   by the SIGBUS handler in [`crate::sys::mmap`], which [`Mapping::fault`] reports);
/// - releases the mapped pages already read, so memory does not grow with the file;
/// - updates the progress counter, and chooses how to read the next stretch.
struct FileSource {
    map: Mapping,
    file: File,
    /// File offset of the next unread byte.
    pos: usize,
    /// `fill` hands out bytes up to here without another step (`pos <= ready`): from the mapping,
    /// or from `buf`.
    ready: usize,
    mode: Mode,
    policy: Policy,
    /// [`Mode::Read`]: the file's bytes from `buf_at` to `ready`.
    buf: Vec<u8>,
    buf_at: usize,
    /// The file's length as far as we know: the mapping's, or less once it is seen to shrink.
    limit: usize,
    /// Mapped pages before this have been released.
    released: usize,
    /// Mapped bytes before this have been prefetched.
    prefetched: usize,
    /// Where the read mode was last chosen.
    decided_at: Option<usize>,
    /// The last mapped stretch's probes (see [`PROBE_STRIDE`]), and how many of them faulted.
    probes: u64,
    probe_faults: u64,
    read_steps_left: u32,
    /// How many steps the next stretch found in small pieces sends through `read()`.
    read_run: u32,
    consumed: Rc<Cell<u64>>,
}

impl FileSource {
    #[inline]
    fn bytes(&self, from: usize, to: usize) -> &[u8] {
        match self.mode {
            Mode::Map => &self.map[from..to],
            Mode::Read => &self.buf[from - self.buf_at..to - self.buf_at],
        }
    }

    #[inline]
    fn fill(&mut self, n: usize) -> Result<usize, CaptureError> {
        if self.ready - self.pos >= n {
            match self.mode {
                Mode::Read => return Ok(n),
                Mode::Map => {
                    if self.pos + PREFETCH_AHEAD > self.prefetched {
                        self.prefetch();
                    }
                    if self.map.fault().is_none() {
                        return Ok(n);
                    }
                }
            }
        }
        self.step(n)
    }

    /// [`ByteSource::prepare`]: the next `max` mapped bytes are prefetched, and
    /// [`PREFETCH_AHEAD`] beyond them, as [`FileSource::fill`] keeps them record by record.
    #[inline]
    fn prepare(&mut self, max: usize) {
        if self.mode == Mode::Map {
            let want = self
                .pos
                .saturating_add(max + PREFETCH_AHEAD)
                .min(self.ready);
            while self.prefetched < want {
                self.prefetch();
            }
        }
    }

    #[inline(never)]
    fn prefetch(&mut self) {
        let from = self.prefetched.max(self.pos);
        let to = (from + PREFETCH_CHUNK).min(self.ready);
        if from < to {
            prefetch(&self.map[from..to]);
        }
        self.prefetched = to.max(from);
    }

    #[cold]
    fn step(&mut self, n: usize) -> Result<usize, CaptureError> {
        if let Some(at) = self.map.fault() {
            // Bytes at `at` were gone when something touched them: if the record there was
            // already handed out, the error points at the damage, else at the record.
            return Err(self.shrank((self.pos as u64).min(at)));
        }
        // A mapped stretch ends when its window is used up; a read one spans several refills.
        if self
            .decided_at
            .is_none_or(|at| self.mode == Mode::Map || self.pos - at >= STEP)
        {
            self.choose_mode();
            self.check_length()?;
            if self.pos - self.released >= STEP {
                self.map.release(self.released..self.pos);
                self.released = self.pos;
            }
            self.consumed.set(self.pos as u64);
        }
        match self.mode {
            Mode::Map => {
                self.ready = self
                    .pos
                    .saturating_add(n.max(STEP))
                    .min(self.limit)
                    .max(self.pos);
                self.probe();
                if let Some(at) = self.map.fault() {
                    // A probe found bytes gone (the file shrank): nothing of them is handed out.
                    return Err(self.shrank((self.pos as u64).min(at)));
                }
            }
            Mode::Read => self.read_at_pos(n)?,
        }
        let have = self.ready - self.pos;
        if have >= n {
            Ok(n)
        } else if self.limit < self.map.len() {
            Err(self.shrank(self.pos as u64))
        } else {
            Ok(have)
        }
    }

    /// Map or read the next stretch: a mapped stretch mostly in small pieces (see
    /// [`SMALL_PIECES_SHARE`]) is followed by a run of read ones (see [`READ_STEPS`]), then the
    /// mapping is tried again.
    fn choose_mode(&mut self) {
        let next = match (self.decided_at, self.policy, self.mode) {
            (None, ..) => Mode::Map,
            #[cfg(test)]
            (_, Policy::Map, _) => Mode::Map,
            #[cfg(test)]
            (_, Policy::Alternate, Mode::Map) => Mode::Read,
            #[cfg(test)]
            (_, Policy::Alternate, Mode::Read) => Mode::Map,
            (Some(_), Policy::Adaptive, Mode::Map) => {
                let (num, den) = SMALL_PIECES_SHARE;
                if self.probe_faults * den > self.probes * num {
                    self.read_steps_left = self.read_run;
                    self.read_run = (self.read_run * 2).min(READ_STEPS);
                    Mode::Read
                } else {
                    self.read_run = 1;
                    Mode::Map
                }
            }
            (Some(_), Policy::Adaptive, Mode::Read) => {
                self.read_steps_left = self.read_steps_left.saturating_sub(1);
                if self.read_steps_left == 0 {
                    Mode::Map
                } else {
                    Mode::Read
                }
            }
        };
        if next != self.mode {
            // Nothing is handed out across a switch: the next window starts at `pos`.
            self.mode = next;
            self.ready = self.pos;
            self.prefetched = self.pos;
        }
        self.decided_at = Some(self.pos);
    }

    /// Touches the new mapped window every [`PROBE_STRIDE`] bytes and counts the faults that
    /// took. (The parser would fault these pages in anyway, a little later.)
    fn probe(&mut self) {
        let before = minor_faults();
        let mut probes = 0;
        let mut sum = 0u8;
        for at in (self.pos..self.ready).step_by(PROBE_STRIDE) {
            sum ^= self.map[at];
            probes += 1;
        }
        std::hint::black_box(sum);
        self.probes = probes;
        self.probe_faults = minor_faults().saturating_sub(before);
    }

    /// Lowers `limit` if the file is now shorter.
    fn check_length(&mut self) -> Result<(), CaptureError> {
        match self.file.metadata() {
            Ok(m) => {
                if m.len() < self.limit as u64 {
                    self.limit = m.len() as usize;
                }
                Ok(())
            }
            Err(e) => Err(CaptureError::io(self.pos as u64, &e)),
        }
    }

    /// [`Mode::Read`]: reads from `pos` into `buf`, at least `n` bytes unless the file ends.
    fn read_at_pos(&mut self, n: usize) -> Result<(), CaptureError> {
        let want = INITIAL_BUF.max(n).min(self.limit.saturating_sub(self.pos));
        if self.buf.len() < want {
            self.buf.resize(want.next_power_of_two(), 0);
        }
        let mut got = 0;
        while got < want {
            match self
                .file
                .read_at(&mut self.buf[got..want], (self.pos + got) as u64)
            {
                Ok(0) => break,
                Ok(k) => got += k,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(CaptureError::io((self.pos + got) as u64, &e)),
            }
        }
        self.buf_at = self.pos;
        self.ready = self.pos + got;
        if got < want {
            // The file ended early: it shrank.
            self.check_length()?;
        }
        Ok(())
    }

    /// The error for a file that shrank (or whose mapped bytes could not be read) while being
    /// read. `at` is the record that needed the missing bytes, or the first byte found missing;
    /// the offset reported is never past the file's new end.
    fn shrank(&self, at: u64) -> CaptureError {
        let was = self.map.len();
        match self.file.metadata() {
            Ok(m) if m.len() < was as u64 => CaptureError::new(
                at.min(m.len()),
                format!(
                    "the file shrank from {was} to {} bytes while it was being read (memory-mapped); rerun with --no-mmap",
                    m.len()
                ),
            ),
            _ => CaptureError::new(
                at,
                "the file changed while it was being read (memory-mapped): these bytes could no \
                 longer be read; rerun with --no-mmap",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::timestamp::Timestamp;
    use crate::source::capture::{CaptureReader, LinkType};
    use crate::testkit::PcapWriter;
    use std::path::PathBuf;
    use std::process::Command;

    /// Frames of 40 to 1,439 bytes, each starting with its index.
    fn frames(n: u32) -> Vec<Vec<u8>> {
        (0..n)
            .map(|i| {
                let len = 40 + (i as usize * 37) % 1400;
                let mut f: Vec<u8> = (0..len).map(|j| (j as u32 ^ i) as u8).collect();
                f[..4].copy_from_slice(&i.to_le_bytes());
                f
            })
            .collect()
    }

    /// A pcap of `frames`, and the file offset where each record starts.
    fn pcap(frames: &[Vec<u8>]) -> (Vec<u8>, Vec<usize>) {
        let mut w = PcapWriter::new(Vec::new(), LinkType::ETHERNET, 65535).unwrap();
        let mut starts = Vec::new();
        let mut at = 24;
        for (i, f) in frames.iter().enumerate() {
            starts.push(at);
            at += 16 + f.len();
            w.write_packet(Timestamp::from_parts(i as i64, 0, 9), f, f.len() as u32)
                .unwrap();
        }
        (w.into_inner(), starts)
    }

    fn temp(tag: &str, data: &[u8]) -> PathBuf {
        let p = std::env::temp_dir().join(format!("rsthound-src-{tag}-{}", std::process::id()));
        std::fs::write(&p, data).unwrap();
        p
    }

    /// The adaptive policy on a file whose stretches map in small pieces, then in large ones:
    /// the runs of `read()` double while the mapping stays slow, and the mapping comes back
    /// at once when a stretch maps in large pieces.
    #[test]
    fn stretches_in_small_pieces_are_read_in_doubling_runs_until_one_maps_well() {
        let path = temp("policy", &[0u8; 3 * PROBE_STRIDE]);
        let file = File::open(&path).unwrap();
        let map = Mapping::map(&file, 3 * PROBE_STRIDE as u64, "test").unwrap();
        let mut f = match ByteSource::file_with(map, file, Rc::default(), Policy::Adaptive).inner {
            Inner::File(f) => f,
            Inner::Stream(_) => unreachable!(),
        };
        // The first window is mapped and probed: three probes over three strides.
        f.choose_mode();
        assert_eq!(f.mode, Mode::Map);
        f.ready = f.limit;
        f.probe();
        assert_eq!(f.probes, 3);
        // One mode decision per stretch, given how its probes went (`None`: a read stretch).
        let mut modes = Vec::new();
        for small in [true, true, true, true, false, true] {
            loop {
                if f.mode == Mode::Map {
                    (f.probes, f.probe_faults) = (64, if small { 64 } else { 2 });
                }
                f.choose_mode();
                modes.push(f.mode);
                if f.mode == Mode::Map {
                    break;
                }
            }
        }
        let runs: Vec<usize> = modes
            .split(|m| *m == Mode::Map)
            .map(|reads| reads.len())
            .collect();
        // After each small stretch: 1, 2, 4, 8 read steps; a good one maps on; then 1 again.
        assert_eq!(runs, [1, 2, 4, 8, 0, 1, 0]);
        std::fs::remove_file(&path).unwrap();
    }

    fn mapped(path: &PathBuf, policy: Policy) -> (CaptureReader, Rc<Cell<u64>>) {
        let file = File::open(path).unwrap();
        let len = file.metadata().unwrap().len();
        let map = Mapping::map(&file, len, "test").unwrap();
        let consumed = Rc::new(Cell::new(0));
        let src = ByteSource::file_with(map, file, consumed.clone(), policy);
        (CaptureReader::from_source(src).unwrap(), consumed)
    }

    /// Reads to the end or the first error, in runs where the reader can (as `rsthound read`
    /// does) or record by record: the packets' bytes, and the error.
    fn drain_with(r: &mut CaptureReader, runs: bool) -> (Vec<Vec<u8>>, Option<CaptureError>) {
        let mut out = Vec::new();
        loop {
            if runs
                && r.next_run(&mut |p| {
                    out.push(p.data.to_vec());
                    Ok::<(), ()>(())
                })
                .unwrap()
                    > 0
            {
                continue;
            }
            match r.next_packet() {
                Ok(Some(p)) => out.push(p.data.to_vec()),
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(e)),
            }
        }
    }

    /// `data` read in runs and record by record, from memory and through a mapping: the four
    /// must agree on the packets and on the error.
    fn agree(data: &[u8], mapped_too: bool) {
        let read =
            |runs: bool| match CaptureReader::new(Box::new(std::io::Cursor::new(data.to_vec()))) {
                Ok(mut r) => drain_with(&mut r, runs),
                Err(e) => (Vec::new(), Some(e)),
            };
        let want = read(false);
        assert!(
            read(true) == want,
            "in memory, {} bytes: runs differ",
            data.len()
        );
        if mapped_too && data.len() >= 24 {
            let p = temp(&format!("agree-{}", data.len()), data);
            for runs in [true, false] {
                let (mut r, _) = mapped(&p, Policy::Map);
                assert!(
                    drain_with(&mut r, runs) == want,
                    "mapped, runs {runs}: differs"
                );
            }
            std::fs::remove_file(p).unwrap();
        }
    }

    /// The bulk path hands out exactly what record-by-record reading does, and stops with the
    /// same error at the same offset, wherever the file is cut and whichever record's length
    /// is corrupt, in both byte orders.
    #[test]
    fn runs_and_single_records_agree_on_every_cut_and_every_corrupt_length() {
        let want = frames(24); // 40 to 891 bytes: about 11 KB, several 4 KiB runs
        let (little, starts) = pcap(&want);
        // The same file in big-endian order: the headers' fields swapped.
        let mut big = little.clone();
        let swap = |b: &mut [u8], at: usize| b[at..at + 4].reverse();
        for at in [0, 8, 12, 16, 20] {
            swap(&mut big, at);
        }
        big[4..6].reverse();
        big[6..8].reverse();
        for &s in &starts {
            for at in [0, 4, 8, 12] {
                swap(&mut big, s + at);
            }
        }
        for (data, be) in [(little, false), (big, true)] {
            for n in 0..=data.len() {
                agree(&data[..n], n % 97 == 0);
            }
            for &s in &starts {
                for caplen in [0x7fff_fff0u32, 262_145, 1 << 20] {
                    let mut bad = data.clone();
                    let v = if be {
                        caplen.to_be_bytes()
                    } else {
                        caplen.to_le_bytes()
                    };
                    bad[s + 8..s + 12].copy_from_slice(&v);
                    agree(&bad, true);
                }
            }
        }
    }

    fn truncate(path: &PathBuf, len: usize) {
        std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .unwrap()
            .set_len(len as u64)
            .unwrap();
    }

    #[test]
    fn mapping_reading_and_switching_between_them_give_the_same_packets() {
        let want = frames(20_000); // about 15 MB: several steps
        let (data, _) = pcap(&want);
        let p = temp("same", &data);
        for policy in [Policy::Map, Policy::Alternate, Policy::Adaptive] {
            for runs in [true, false] {
                let (mut r, consumed) = mapped(&p, policy);
                let (got, err) = drain_with(&mut r, runs);
                assert!(err.is_none(), "{policy:?} {runs}: {err:?}");
                assert!(got == want, "{policy:?} {runs}: packets differ");
                assert_eq!(r.offset(), data.len() as u64);
                assert!(
                    consumed.get() > (data.len() - 2 * STEP) as u64,
                    "{policy:?} {runs}"
                );
            }
        }
        for runs in [true, false] {
            let mut r = CaptureReader::new(Box::new(File::open(&p).unwrap())).unwrap();
            assert!(drain_with(&mut r, runs).0 == want);
        }
        std::fs::remove_file(p).unwrap();
    }

    /// Shrinking beyond the current window: seen at the next step (fstat, or a short pread),
    /// before any byte past the new end is touched.
    #[test]
    fn a_file_that_shrinks_ahead_of_the_reader_ends_with_an_error_at_the_cut() {
        let want = frames(20_000);
        let (data, starts) = pcap(&want);
        let k = starts.iter().position(|s| *s > 9_000_000).unwrap();
        for (policy, runs) in [
            (Policy::Map, true),
            (Policy::Map, false),
            (Policy::Alternate, true),
            (Policy::Alternate, false),
        ] {
            let p = temp(&format!("ahead-{policy:?}-{runs}"), &data);
            let (mut r, _) = mapped(&p, policy);
            for _ in 0..100 {
                r.next_packet().unwrap().unwrap();
            }
            truncate(&p, starts[k]);
            let (got, err) = drain_with(&mut r, runs);
            assert_eq!(got.len() + 100, k, "{policy:?}");
            assert!(got[..] == want[100..k], "{policy:?}");
            let err = err.expect("an error");
            assert_eq!(err.offset, starts[k] as u64, "{policy:?}");
            assert_eq!(
                err.message,
                format!(
                    "the file shrank from {} to {} bytes while it was being read (memory-mapped); rerun with --no-mmap",
                    data.len(),
                    starts[k]
                )
            );
            std::fs::remove_file(p).unwrap();
        }
    }

    /// Shrinking inside the window being parsed: the bytes past the new end within its last page
    /// read as zeros (as they would for any reader of a mapped file), the page after it raises
    /// SIGBUS, which the handler turns into zero pages and a recorded fault, and the reader stops
    /// with the same error. Run in a child process: were the handler wrong, SIGBUS would kill it,
    /// not the test harness.
    #[test]
    fn a_file_that_shrinks_under_the_reader_ends_with_an_error_at_the_cut() {
        const NAME: &str = "source::capture::source::tests::a_file_that_shrinks_under_the_reader_ends_with_an_error_at_the_cut";
        if std::env::var_os("RSTHOUND_SOURCE_CHILD").is_none() {
            let out = Command::new(std::env::current_exe().unwrap())
                .args(["--exact", NAME, "--nocapture", "--test-threads=1"])
                .env("RSTHOUND_SOURCE_CHILD", "1")
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "child: {:?}\n{text}", out.status);
            assert!(text.contains("child: done"), "{text}");
            return;
        }
        let want = frames(5_000); // about 3.6 MB: inside the first window
        let (data, starts) = pcap(&want);
        assert!(data.len() < STEP);
        let k = starts.iter().position(|s| *s > 2_000_000).unwrap();
        let p = temp("under", &data);
        let (mut r, _) = mapped(&p, Policy::Map);
        for _ in 0..100 {
            r.next_packet().unwrap().unwrap();
        }
        truncate(&p, starts[k]);
        let (got, err) = drain_with(&mut r, true);
        assert!(got[..k - 100] == want[100..k]);
        // What the reader made of the zeros between the cut and the end of its page: empty
        // records (16 zero bytes each), at most a page's worth.
        assert!(got[k - 100..].iter().all(|f| f.is_empty()));
        assert!(got.len() - (k - 100) <= 4096 / 16);
        let err = err.expect("an error");
        assert_eq!(err.offset, starts[k] as u64);
        assert!(
            err.message.starts_with(&format!(
                "the file shrank from {} to {} bytes",
                data.len(),
                starts[k]
            )),
            "{}",
            err.message
        );
        std::fs::remove_file(p).unwrap();
        println!("child: done");
    }
}
