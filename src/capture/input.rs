//! Opening a capture: a path or `-` for stdin, decompressed when its content (not its name) says
//! gzip or zstd, with a byte counter for progress reporting.

use super::CaptureError;
use std::cell::Cell;
use std::fs::File;
use std::io::{self, Cursor, Read};
use std::rc::Rc;

/// An opened, decompressed byte stream and what we know about where it came from.
pub struct Input {
    pub reader: Box<dyn Read>,
    /// `Some("gzip")` / `Some("zstd")` when the content was compressed.
    pub compression: Option<&'static str>,
    /// Size of the underlying file, when it is a regular file.
    pub size: Option<u64>,
    /// Bytes read so far from the underlying file (compressed bytes for compressed input).
    pub consumed: Rc<Cell<u64>>,
}

struct Counting<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// Opens `path` (`-` is standard input). Errors are one line, without the path.
pub fn open_input(path: &str) -> Result<Input, CaptureError> {
    let consumed = Rc::new(Cell::new(0));
    let (raw, size): (Box<dyn Read>, Option<u64>) = if path == "-" {
        (Box::new(io::stdin()), None)
    } else {
        let meta = std::fs::metadata(path)
            .map_err(|e| CaptureError::new(0, format!("cannot open: {e}")))?;
        if meta.is_dir() {
            return Err(CaptureError::new(0, "is a directory, not a capture file"));
        }
        let file =
            File::open(path).map_err(|e| CaptureError::new(0, format!("cannot open: {e}")))?;
        let size = meta.is_file().then_some(meta.len());
        (Box::new(file), size)
    };
    let mut counted = Counting {
        inner: raw,
        count: consumed.clone(),
    };
    let mut magic = [0u8; 4];
    let mut have = 0;
    while have < magic.len() {
        match counted.read(&mut magic[have..]) {
            Ok(0) => break,
            Ok(n) => have += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(CaptureError::io(have as u64, &e)),
        }
    }
    let head = Cursor::new(magic[..have].to_vec());
    let stream = head.chain(counted);
    let (reader, compression): (Box<dyn Read>, _) = match magic[..have] {
        [0x1f, 0x8b, ..] => (
            Box::new(flate2::read::MultiGzDecoder::new(stream)),
            Some("gzip"),
        ),
        [0x28, 0xb5, 0x2f, 0xfd] => {
            let dec = ruzstd::decoding::StreamingDecoder::new(stream)
                .map_err(|e| CaptureError::new(0, format!("bad zstd stream: {e}")))?;
            (Box::new(ZstdRead(dec)), Some("zstd"))
        }
        _ => (Box::new(stream), None),
    };
    Ok(Input {
        reader,
        compression,
        size,
        consumed,
    })
}

/// ruzstd reports its errors as `io::Error`s already; this wrapper only erases the type.
struct ZstdRead<R: Read>(ruzstd::decoding::StreamingDecoder<R, ruzstd::decoding::FrameDecoder>);

impl<R: Read> Read for ZstdRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}
