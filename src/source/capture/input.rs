//! Opening a capture: a path or `-` for stdin, decompressed when its content (not its name) says
//! gzip or zstd, with a byte counter for progress reporting. A plain (uncompressed), non-empty
//! regular file is memory-mapped unless [`FileAccess::Read`] is asked for (and then parsed in
//! place, or read stretch by stretch with `pread()` where the mapping turns out slower: see
//! `source.rs`); everything else (stdin, FIFOs, devices, compressed files, files that cannot be
//! mapped) is read with `read()`.

use super::CaptureError;
use super::source::ByteSource;
use crate::sanitize::sanitize_os;
use crate::sys::mmap::Mapping;
use std::cell::Cell;
use std::fs::File;
use std::io::{self, Cursor, Read};
use std::path::Path;
use std::rc::Rc;

/// How the bytes of a regular file reach the parser.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FileAccess {
    /// Memory-map plain, non-empty regular files (no copy out of the page cache); `read()` the
    /// rest.
    #[default]
    Mmap,
    /// Always `read()` (`read --no-mmap`).
    Read,
}

/// An opened, decompressed capture and what we know about where it came from; hand it to
/// [`super::CaptureReader::from_input`].
pub struct Input {
    pub(crate) source: ByteSource,
    /// `Some("gzip")` / `Some("zstd")` when the content was compressed.
    pub compression: Option<&'static str>,
    /// Size of the underlying file, when it is a regular file.
    pub size: Option<u64>,
    /// Bytes read so far from the underlying file (compressed bytes for compressed input; for a
    /// mapped file, updated every few MiB).
    pub consumed: Rc<Cell<u64>>,
    /// Whether the file was memory-mapped (as opposed to read with `read()` throughout).
    pub mapped: bool,
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
pub fn open_input(path: impl AsRef<Path>, access: FileAccess) -> Result<Input, CaptureError> {
    let path = path.as_ref();
    if path == Path::new("-") {
        return input_from(Box::new(io::stdin()), None);
    }
    input_from_file(open_file(path)?, path, access)
}

/// Opens the file `path` names, without reading a byte of it: a command that gives up its
/// privileges before parsing opens its inputs first (root reading another user's 0600 file
/// needs CAP_DAC_OVERRIDE for the open only). Errors are one line, without the path.
pub fn open_file(path: &Path) -> Result<File, CaptureError> {
    let meta =
        std::fs::metadata(path).map_err(|e| CaptureError::new(0, format!("cannot open: {e}")))?;
    if meta.is_dir() {
        return Err(CaptureError::new(0, "is a directory, not a capture file"));
    }
    File::open(path).map_err(|e| CaptureError::new(0, format!("cannot open: {e}")))
}

/// An input over a file [`open_file`] opened (`path` only names it in messages): mapped or
/// read as `access` says, decompressed when its content is compressed.
pub fn input_from_file(file: File, path: &Path, access: FileAccess) -> Result<Input, CaptureError> {
    // What was opened, not what the path names now.
    let meta = file
        .metadata()
        .map_err(|e| CaptureError::new(0, format!("cannot open: {e}")))?;
    if meta.is_dir() {
        return Err(CaptureError::new(0, "is a directory, not a capture file"));
    }
    let size = meta.is_file().then_some(meta.len());
    // A compressed file is left to the decoders, which read it from its start (nothing was
    // read yet).
    if access == FileAccess::Mmap
        && let Some(len) = size.filter(|l| *l > 0)
        && let Ok(map) = Mapping::map(&file, len, &sanitize_os(path.as_os_str(), 256))
        && compression_of(&map[..map.len().min(4)]).is_none()
    {
        let consumed = Rc::new(Cell::new(0));
        return Ok(Input {
            source: ByteSource::file(map, file, consumed.clone()),
            compression: None,
            size,
            consumed,
            mapped: true,
        });
    }
    input_from(Box::new(file), size)
}

/// An input read with `read()` from `raw` (`size`: the regular file's, if it is one).
fn input_from(raw: Box<dyn Read>, size: Option<u64>) -> Result<Input, CaptureError> {
    let consumed = Rc::new(Cell::new(0));
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
    let compression = compression_of(&magic[..have]);
    let reader: Box<dyn Read> = match compression {
        Some("gzip") => Box::new(flate2::read::MultiGzDecoder::new(stream)),
        Some(_) => {
            let dec = ruzstd::decoding::StreamingDecoder::new_with_max_window_size(
                stream,
                MAX_ZSTD_WINDOW,
            )
            .map_err(|e| CaptureError::new(0, zstd_error_text(&e)))?;
            Box::new(ZstdRead(dec))
        }
        None => Box::new(stream),
    };
    Ok(Input {
        source: ByteSource::new(reader),
        compression,
        size,
        consumed,
        mapped: false,
    })
}

/// The largest zstd window a frame may ask for. The decoder allocates the window up front, beside
/// the 256 MiB the connection table and the report are sized for: `zstd --long=27` asks for
/// 128 MiB. 32 MiB (window log 25) admits every standard level up to `zstd --ultra -20`
/// (`-19` uses 8 MiB); larger frames are refused with one line saying how to recompress.
pub const MAX_ZSTD_WINDOW: u64 = 32 << 20;

/// `Some("gzip")` / `Some("zstd")` when a stream starting with `magic` is compressed.
fn compression_of(magic: &[u8]) -> Option<&'static str> {
    match magic {
        [0x1f, 0x8b, ..] => Some("gzip"),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Some("zstd"),
        _ => None,
    }
}

/// ruzstd reports its errors as `io::Error`s; this wrapper erases the type and rewords them
/// (ruzstd's own wording is a Rust debug dump of nested enums).
struct ZstdRead<R: Read>(ruzstd::decoding::StreamingDecoder<R, ruzstd::decoding::FrameDecoder>);

impl<R: Read> Read for ZstdRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0
            .read(buf)
            .map_err(|e| io::Error::new(e.kind(), zstd_error_text(&e)))
    }
}

/// One sentence for what went wrong in a zstd stream.
fn zstd_error_text(e: &(dyn std::error::Error + 'static)) -> String {
    use ruzstd::decoding::errors::FrameDecoderError;
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<io::Error>() {
            if io.kind() == io::ErrorKind::UnexpectedEof {
                return "the zstd stream ends in the middle of a frame: the file was cut short"
                    .to_string();
            }
            // ruzstd wraps its own error in an io::Error: look inside it.
            if let Some(inner) = io.get_ref() {
                cause = Some(inner);
                continue;
            }
        }
        if let Some(FrameDecoderError::WindowSizeTooBig { requested, max }) =
            c.downcast_ref::<FrameDecoderError>()
        {
            return format!(
                "the zstd frame needs a {} MiB window, over rsthound's limit of {} MiB (made with `zstd --long` or `--ultra`?): decompress it into rsthound (`zstd -dc --long=31 FILE | rsthound read -`), or recompress with `zstd -19`",
                requested.div_ceil(1 << 20),
                max >> 20
            );
        }
        cause = c.source();
    }
    "damaged zstd data: the decompressor cannot decode it".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_nonempty_regular_files_are_mapped() {
        let dir = std::env::temp_dir();
        let pid = std::process::id();
        let plain = dir.join(format!("rsthound-input-plain-{pid}.pcap"));
        let gz = dir.join(format!("rsthound-input-gz-{pid}.pcap.gz"));
        let empty = dir.join(format!("rsthound-input-empty-{pid}.pcap"));
        std::fs::write(&plain, [0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0]).unwrap();
        std::fs::write(&gz, [0x1f, 0x8b, 8, 0, 0, 0]).unwrap();
        std::fs::write(&empty, []).unwrap();
        let mapped = |p: &std::path::Path, access| {
            let i = open_input(p.to_str().unwrap(), access).unwrap();
            (i.mapped, i.compression, i.size)
        };
        assert_eq!(mapped(&plain, FileAccess::Mmap), (true, None, Some(8)));
        assert_eq!(mapped(&plain, FileAccess::Read), (false, None, Some(8)));
        assert_eq!(
            mapped(&gz, FileAccess::Mmap),
            (false, Some("gzip"), Some(6))
        );
        assert_eq!(mapped(&empty, FileAccess::Mmap), (false, None, Some(0)));
        let dev = std::path::Path::new("/dev/null");
        assert_eq!(mapped(dev, FileAccess::Mmap), (false, None, None));
        for p in [plain, gz, empty] {
            std::fs::remove_file(p).unwrap();
        }
    }
}
