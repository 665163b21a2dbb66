//! `--write FILE.pcapng`: the packets of failed and reset connections — their handshake and the
//! RST — for Wireshark, each RST with a packet comment giving rsthound's verdict. The first few
//! packets of every connection are kept (cut to their headers) until its fate is known; the
//! memory this takes is capped and what the cap dropped is counted.

use crate::engine::storm::StormLine;
use crate::engine::track::{ClosedConn, ConnSummary, Endpoint, RstEvent};
use crate::engine::{EventSink, PacketRef, Place};
use crate::model::timestamp::Timestamp;
use crate::model::{LinkType, Origin};
use crate::sanitize::sanitize_os;
use crate::sink::pcapng_writer::PcapngWriter;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Packets kept per connection before its fate is known (the handshake and a little more).
const KEPT_PER_CONN: usize = 6;
/// Bytes kept of each packet: enough for every header, not for bulk payload.
const SNAP: usize = 256;
/// All pending packets together stay under this.
const MAX_PENDING_BYTES: usize = 32 << 20;

struct Kept {
    ts: Timestamp,
    iface: u32,
    orig_len: u32,
    data: Vec<u8>,
}

pub struct Keeper<W: Write> {
    out: PcapngWriter<W>,
    ifaces: HashMap<(usize, usize, LinkType), u32>,
    pending: HashMap<u64, Vec<Kept>>,
    pending_bytes: usize,
    /// Packets not kept because the pending-memory cap was reached.
    pub dropped: u64,
    /// Packets written.
    pub written: u64,
}

impl<W: Write> Keeper<W> {
    pub fn new(out: W) -> io::Result<Self> {
        Ok(Keeper {
            out: PcapngWriter::new(out, false)?,
            ifaces: HashMap::new(),
            pending: HashMap::new(),
            pending_bytes: 0,
            dropped: 0,
            written: 0,
        })
    }

    fn iface(&mut self, src: &Origin<'_>) -> io::Result<u32> {
        let key = (src.file, src.iface, src.link_type);
        if let Some(id) = self.ifaces.get(&key) {
            return Ok(*id);
        }
        let id = self.ifaces.len() as u32;
        self.out
            .interface(src.link_type, SNAP as u32, src.name, Some(9))?;
        self.ifaces.insert(key, id);
        Ok(id)
    }

    /// Offers a packet of connection `conn`; kept if the connection is young and memory allows.
    pub fn offer(
        &mut self,
        conn: u64,
        src: &Origin<'_>,
        ts: Timestamp,
        data: &[u8],
        orig_len: u32,
    ) -> io::Result<()> {
        let list = self.pending.entry(conn).or_default();
        if list.len() >= KEPT_PER_CONN {
            return Ok(());
        }
        let cut = &data[..data.len().min(SNAP)];
        if self.pending_bytes + cut.len() > MAX_PENDING_BYTES {
            self.dropped += 1;
            return Ok(());
        }
        self.pending_bytes += cut.len();
        let iface = self.iface(src)?;
        let list = self.pending.entry(conn).or_default();
        list.push(Kept {
            ts,
            iface,
            orig_len,
            data: cut.to_vec(),
        });
        Ok(())
    }

    fn flush_conn(&mut self, conn: u64, comment_last: Option<&str>) -> io::Result<()> {
        let Some(list) = self.pending.remove(&conn) else {
            return Ok(());
        };
        let n = list.len();
        for (i, k) in list.into_iter().enumerate() {
            self.pending_bytes -= k.data.len();
            let comment = if i + 1 == n { comment_last } else { None };
            self.out.packet_units(
                k.iface,
                k.ts.nanos().max(0) as u64,
                &k.data,
                k.orig_len,
                None,
                comment,
            )?;
            self.written += 1;
        }
        Ok(())
    }

    /// A RST: writes the connection's kept packets, then the RST with its verdict as comment.
    /// The RST itself must not have been offered.
    pub fn rst(
        &mut self,
        ev: &RstEvent,
        src: &Origin<'_>,
        data: &[u8],
        orig_len: u32,
    ) -> io::Result<()> {
        self.flush_conn(ev.conn.id, None)?;
        let iface = self.iface(src)?;
        let mut comment = format!("rsthound: {}: {}", ev.verdict.as_str(), ev.evidence);
        let mut machine = None;
        if let Some(k) = &ev.kernel {
            comment.push_str(&crate::sink::text::kernel_words(k));
            machine = kernel_comment(k);
        }
        let cut = &data[..data.len().min(SNAP)];
        let comments: &[&str] = match &machine {
            Some(m) => &[&comment, m],
            None => &[&comment],
        };
        self.out.packet_comments(
            iface,
            ev.ts.nanos().max(0) as u64,
            cut,
            orig_len,
            None,
            comments,
        )?;
        self.written += 1;
        Ok(())
    }

    /// A connection ended: unanswered attempts are written, the rest forgotten.
    pub fn ended(&mut self, c: &ConnSummary) -> io::Result<()> {
        if c.conn_state.is_unanswered() {
            let comment = format!("rsthound: {}", c.fate());
            self.flush_conn(c.id, Some(&comment))
        } else {
            self.forget(c.id);
            Ok(())
        }
    }

    /// A connection that ended without failing: its kept packets are dropped.
    pub fn forget(&mut self, conn: u64) {
        if let Some(list) = self.pending.remove(&conn) {
            self.pending_bytes -= list.iter().map(|k| k.data.len()).sum::<usize>();
        }
    }

    /// Ends the file. Packets still pending belong to connections whose fate was never a failure.
    pub fn finish(self) -> io::Result<W> {
        Ok(self.out.into_inner())
    }
}

/// The machine-readable comment `read` takes back (see
/// `source::capture::parse_kernel_note`): `rsthound-kernel: ` and the JSON output's `kernel`
/// object. Skipped when over the size a reader accepts (long command lines), so that the human
/// comment still says it.
fn kernel_comment(k: &crate::engine::fusion::KernelNote) -> Option<String> {
    let json = serde_json::to_string(&crate::sink::schema::KernelRecord::new(k)).ok()?;
    (json.len() <= MAX_KERNEL_COMMENT).then(|| format!("{KERNEL_COMMENT_PREFIX}{json}"))
}

/// Keep in step with `source::capture::KERNEL_COMMENT_PREFIX` and `MAX_KERNEL_COMMENT` (a sink
/// does not import sources; a test checks they agree).
pub const KERNEL_COMMENT_PREFIX: &str = "rsthound-kernel: ";
pub const MAX_KERNEL_COMMENT: usize = 4096;

pub use crate::engine::summary::Written;

/// Why a `--write` path was refused before anything was opened for writing.
#[derive(Debug, thiserror::Error)]
pub enum OutputRefused {
    #[error("{output}: is the same file as the input {input}; refusing to overwrite an input")]
    SameAsInput { output: String, input: String },
    #[error(
        "{output}: exists and is not a capture rsthound wrote; refusing to overwrite it (give --force to replace it)"
    )]
    NotOurs { output: String },
    #[error("{output}: cannot check it before writing: {source}")]
    Unreadable { output: String, source: io::Error },
}

/// Checks that writing `output` loses nothing: it must not be any of `inputs` under another name
/// (a hard link, a symlink, `/proc/self/fd/N`, or standard input redirected from it), and an
/// existing non-empty file is replaced only when it is a pcapng that rsthound wrote, or with
/// `force`. Files are compared by device and inode, so every name of one file is caught.
pub fn check_output(
    output: &Path,
    inputs: &[&std::ffi::OsStr],
    force: bool,
) -> Result<(), OutputRefused> {
    use std::os::unix::fs::MetadataExt;
    let shown = |p: &Path| sanitize_os(p.as_os_str(), 256);
    let meta = match std::fs::metadata(output) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(OutputRefused::Unreadable {
                output: shown(output),
                source,
            });
        }
    };
    let id = (meta.dev(), meta.ino());
    for input in inputs {
        let same = if *input == "-" {
            stdin_identity() == Some(id)
        } else {
            std::fs::metadata(input).is_ok_and(|m| (m.dev(), m.ino()) == id)
        };
        if same {
            return Err(OutputRefused::SameAsInput {
                output: shown(output),
                input: if *input == "-" {
                    "<stdin>".to_string()
                } else {
                    sanitize_os(input, 256)
                },
            });
        }
    }
    if force || !meta.is_file() || meta.len() == 0 {
        return Ok(());
    }
    match written_by_us(output) {
        Ok(true) => Ok(()),
        Ok(false) => Err(OutputRefused::NotOurs {
            output: shown(output),
        }),
        Err(source) => Err(OutputRefused::Unreadable {
            output: shown(output),
            source,
        }),
    }
}

/// Device and inode of what standard input reads from.
fn stdin_identity() -> Option<(u64, u64)> {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    let fd = io::stdin().as_fd().try_clone_to_owned().ok()?;
    let m = File::from(fd).metadata().ok()?;
    Some((m.dev(), m.ino()))
}

/// Whether `path` starts with the section header [`PcapngWriter`] writes: the pcapng block type,
/// then at byte 24 the `shb_userappl` option (code 4, length 8) saying `rsthound`, in either
/// byte order.
fn written_by_us(path: &Path) -> io::Result<bool> {
    use std::io::Read;
    let mut head = [0u8; 36];
    let mut f = File::open(path)?;
    let mut got = 0;
    while got < head.len() {
        match f.read(&mut head[got..])? {
            0 => break,
            n => got += n,
        }
    }
    if got < head.len() || head[..4] != [0x0a, 0x0d, 0x0d, 0x0a] {
        return Ok(false);
    }
    let option = &head[24..28];
    let ours = option == [4, 0, 8, 0] || option == [0, 4, 0, 8];
    Ok(ours && &head[28..36] == b"rsthound")
}

/// The `--write` file could not be written.
#[derive(Debug, thiserror::Error)]
#[error("{path}: cannot write: {source}")]
pub struct WriteError {
    /// The path, sanitized for the terminal.
    pub path: String,
    pub source: io::Error,
}

/// The pcapng sink: a [`Keeper`] writing to a file.
pub struct PcapngSink {
    keeper: Keeper<BufWriter<File>>,
    path: PathBuf,
}

impl PcapngSink {
    /// Creates the file.
    pub fn create(path: &Path) -> Result<PcapngSink, WriteError> {
        let keeper = File::create(path)
            .and_then(|f| Keeper::new(BufWriter::new(f)))
            .map_err(|source| WriteError {
                path: sanitize_os(path.as_os_str(), 256),
                source,
            })?;
        Ok(PcapngSink {
            keeper,
            path: path.to_path_buf(),
        })
    }

    /// Ends the file: what it holds.
    pub fn close(self) -> Result<Written, WriteError> {
        let (written, dropped) = (self.keeper.written, self.keeper.dropped);
        let shown = sanitize_os(self.path.as_os_str(), 256);
        match self.keeper.finish().and_then(|mut w| w.flush()) {
            Ok(()) => Ok((shown, written, dropped)),
            Err(source) => Err(WriteError {
                path: shown,
                source,
            }),
        }
    }
}

impl EventSink for PcapngSink {
    fn wants_packets(&self) -> bool {
        true
    }

    fn packet(&mut self, conn: u64, ts: Timestamp, packet: PacketRef<'_>) -> io::Result<()> {
        let (origin, data, orig_len) = packet;
        self.keeper.offer(conn, origin, ts, data, orig_len)
    }

    fn rst(
        &mut self,
        _place: Place<'_>,
        ev: &RstEvent,
        _shown: bool,
        packet: Option<PacketRef<'_>>,
    ) -> io::Result<()> {
        match packet {
            Some((origin, data, orig_len)) => self.keeper.rst(ev, origin, data, orig_len),
            None => Ok(()),
        }
    }

    fn ended(&mut self, c: &ConnSummary) -> io::Result<()> {
        self.keeper.ended(c)
    }

    fn closed(&mut self, c: &ClosedConn) -> io::Result<()> {
        self.keeper.forget(c.id);
        Ok(())
    }

    fn kept_talking(&mut self, _ts: Timestamp, _conn: u64, _sender: &Endpoint) -> io::Result<()> {
        Ok(())
    }

    fn storm(&mut self, _place: Place<'_>, _line: &StormLine) -> io::Result<()> {
        Ok(())
    }

    fn flush(&mut self, _all: bool) -> io::Result<()> {
        Ok(())
    }
}
