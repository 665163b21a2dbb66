//! Capture files: format detection, decompression and streaming record readers for classic pcap
//! and pcapng. Readers hand out borrowed [`Packet`]s from one reusable buffer, or straight from a
//! memory-mapped file whose pages are released behind the read position, so memory does not grow
//! with the file; every length field is checked against the block that holds it and against
//! [`MAX_RECORD_LEN`] before anything is read or allocated.

mod error;
mod input;
mod kernel_note;
mod pcap;
mod pcapng;
mod source;

pub use crate::model::{Direction, LinkType};
pub use error::CaptureError;
pub use input::{FileAccess, Input, input_from_file, open_file, open_input};
pub use kernel_note::{KernelNoteError, parse_kernel_note};
pub use pcapng::{
    KERNEL_COMMENT_PREFIX, MAX_KERNEL_COMMENT, OptionError, PacketOptions, option_list,
    packet_options,
};

use crate::model::timestamp::Timestamp;
use source::ByteSource;
use std::io::Read;

/// Largest record or block we accept. Wireshark's own cap for pcapng blocks is 16 MiB; a length
/// beyond it means the framing is broken, and allocating it would let a file choose our memory use.
pub const MAX_RECORD_LEN: usize = 16 * 1024 * 1024;

/// What the capture file says about one interface (a pcap file has exactly one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    pub link_type: LinkType,
    pub snaplen: u32,
    /// `if_name`, already sanitized for terminals.
    pub name: Option<std::sync::Arc<str>>,
}

/// One captured frame, borrowed from the reader's buffer until the next call.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    pub ts: Timestamp,
    /// Index into [`CaptureReader::interfaces`].
    pub iface: usize,
    pub link_type: LinkType,
    pub orig_len: u32,
    pub direction: Option<Direction>,
    /// The interface's name, when the file records one (pcapng `if_name`), sanitized.
    pub iface_name: Option<&'a std::sync::Arc<str>>,
    pub data: &'a [u8],
    /// pcapng: the JSON of the packet's `rsthound-kernel:` comment (what the kernel said about
    /// this RST when `watch --write` kept it), unparsed and untrusted.
    pub kernel_note: Option<&'a [u8]>,
}

/// The container format of a capture, as detected from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pcap,
    Pcapng,
}

enum Inner {
    Pcap(pcap::PcapReader),
    Pcapng(pcapng::PcapngReader),
}

/// A streaming reader over one capture (already decompressed).
pub struct CaptureReader {
    inner: Inner,
}

impl CaptureReader {
    /// Detects the format from the first bytes and reads the file header.
    pub fn new(reader: Box<dyn Read>) -> Result<Self, CaptureError> {
        Self::from_source(ByteSource::new(reader))
    }

    /// A reader over an opened input (see [`open_input`]): mapped or read, decompressed.
    pub fn from_input(input: Input) -> Result<Self, CaptureError> {
        Self::from_source(input.source)
    }

    fn from_source(mut src: ByteSource) -> Result<Self, CaptureError> {
        let have = src.fill(4)?;
        if have == 0 {
            return Err(CaptureError::new(0, "empty file: not a capture"));
        }
        let head = src.peek();
        let magic = [
            head[0],
            head.get(1).copied().unwrap_or(0),
            head.get(2).copied().unwrap_or(0),
            head.get(3).copied().unwrap_or(0),
        ];
        let inner = if pcap::is_magic(magic) {
            Inner::Pcap(pcap::PcapReader::new(src)?)
        } else if magic == pcapng::SHB_TYPE_BYTES {
            Inner::Pcapng(pcapng::PcapngReader::new(src)?)
        } else {
            return Err(CaptureError::new(0, not_a_capture(magic, have)));
        };
        Ok(CaptureReader { inner })
    }

    pub fn format(&self) -> Format {
        match self.inner {
            Inner::Pcap(_) => Format::Pcap,
            Inner::Pcapng(_) => Format::Pcapng,
        }
    }

    /// The next packet, `Ok(None)` at a clean end of file.
    /// The packets the reader can hand out in one go, without a refill, in order; returns how
    /// many it did (0: take [`CaptureReader::next_packet`], which deals with everything else).
    /// Classic pcap files only: pcapng blocks come one by one.
    #[inline(always)]
    pub fn next_run<E>(
        &mut self,
        f: &mut impl FnMut(Packet<'_>) -> Result<(), E>,
    ) -> Result<usize, E> {
        match &mut self.inner {
            Inner::Pcap(r) => r.next_run(f),
            Inner::Pcapng(_) => Ok(0),
        }
    }

    #[inline(always)]
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        match &mut self.inner {
            Inner::Pcap(r) => r.next_packet(),
            Inner::Pcapng(r) => r.next_packet(),
        }
    }

    pub fn interfaces(&self) -> &[Interface] {
        match &self.inner {
            Inner::Pcap(r) => r.interfaces(),
            Inner::Pcapng(r) => r.interfaces(),
        }
    }

    /// The application that wrote the capture's current section (pcapng `shb_userappl`),
    /// sanitized; `None` for classic pcap.
    pub fn application(&self) -> Option<&str> {
        match &self.inner {
            Inner::Pcap(_) => None,
            Inner::Pcapng(r) => r.application(),
        }
    }

    /// Byte offset (in the decompressed stream) of the next unread byte.
    pub fn offset(&self) -> u64 {
        match &self.inner {
            Inner::Pcap(r) => r.offset(),
            Inner::Pcapng(r) => r.offset(),
        }
    }
}

fn not_a_capture(magic: [u8; 4], have: usize) -> String {
    if have < 4 {
        return format!("not a capture file: only {have} byte(s) long");
    }
    let known = match &magic {
        b"snoo" => Some("Solaris snoop"),
        [0xd4, 0xc3, 0xb2, 0xa1] | [0xa1, 0xb2, 0xc3, 0xd4] => None,
        [0x34, 0xcd, 0xb2, 0xa1] | [0xa1, 0xb2, 0xcd, 0x34] => Some("Kuznetsov's modified pcap"),
        [0x58, 0x43, 0x50, 0x00] => Some("NetXray/Sniffer"),
        [0x52, 0x54, 0x53, 0x53] => Some("Windows Network Monitor"),
        _ => None,
    };
    let hex = format!(
        "{:02x} {:02x} {:02x} {:02x}",
        magic[0], magic[1], magic[2], magic[3]
    );
    match known {
        Some(name) => format!(
            "{name} format is not supported (starts with {hex}); convert it with `editcap -F pcapng`"
        ),
        None => format!("not a pcap or pcapng file (starts with {hex})"),
    }
}
