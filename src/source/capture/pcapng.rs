//! pcapng: several sections (each with its own byte order), several interfaces per section with
//! their own link types, snap lengths and timestamp resolutions.
//!
//! Every block is `type, total_length, body, total_length`; the length is checked (≥ 12, a
//! multiple of 4, ≤ [`MAX_RECORD_LEN`], equal in header and trailer) before the body is read.

use super::{ByteSource, CaptureError, Direction, Interface, LinkType, MAX_RECORD_LEN, Packet};
use crate::model::timestamp::Timestamp;
use crate::sanitize::sanitize_text;

/// Section Header Block type, which reads the same in both byte orders.
pub(crate) const SHB_TYPE_BYTES: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;

const BLOCK_SHB: u32 = 0x0a0d_0d0a;
const BLOCK_IDB: u32 = 1;
const BLOCK_OPB: u32 = 2; // obsolete Packet Block
const BLOCK_SPB: u32 = 3;
const BLOCK_EPB: u32 = 6;

const OPT_END: u16 = 0;
const OPT_IF_NAME: u16 = 2;
const OPT_IF_TSRESOL: u16 = 9;
const OPT_IF_TSOFFSET: u16 = 14;
const OPT_EPB_FLAGS: u16 = 2;
const OPT_COMMENT: u16 = 1;
const OPT_SHB_USERAPPL: u16 = 4;

/// The prefix of the packet comment in which `watch --write` keeps what the kernel said about
/// an RST, as JSON (see [`super::kernel_note`]).
pub const KERNEL_COMMENT_PREFIX: &[u8] = b"rsthound-kernel: ";
/// A kernel comment longer than this is not ours (the writer keeps them under it): ignored.
pub const MAX_KERNEL_COMMENT: usize = 4096;

/// Why a packet's option list stopped being read (the packet itself is kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionError {
    /// Fewer than 4 bytes left for an option header.
    ShortHeader,
    /// The option's value runs past the end of the list.
    ValueTooLong,
    /// The value fits but its padding to 4 bytes does not.
    BadPadding,
}

/// What a packet block's options say that rsthound uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PacketOptions<'b> {
    pub direction: Option<Direction>,
    /// The JSON after [`KERNEL_COMMENT_PREFIX`] of the first such comment, if within
    /// [`MAX_KERNEL_COMMENT`].
    pub kernel: Option<&'b [u8]>,
    /// Set when the list was damaged: options before the damage are kept.
    pub damaged: Option<OptionError>,
}

/// Walks an option list, each length checked against what is left: the code and length
/// (4 bytes), the value, its padding to a multiple of 4. Stops at `opt_endofopt`, at the end of
/// the list, or at the first damage (returned as the last item).
pub fn option_list(
    mut opts: &[u8],
    big_endian: bool,
) -> impl Iterator<Item = Result<(u16, &[u8]), OptionError>> {
    let mut done = false;
    std::iter::from_fn(move || {
        if done || opts.is_empty() {
            return None;
        }
        let Some(head) = opts.get(..4) else {
            done = true;
            return Some(Err(OptionError::ShortHeader));
        };
        let rd = |o: usize| {
            let b = [head[o], head[o + 1]];
            if big_endian {
                u16::from_be_bytes(b)
            } else {
                u16::from_le_bytes(b)
            }
        };
        let (code, olen) = (rd(0), usize::from(rd(2)));
        if code == OPT_END {
            done = true;
            return None;
        }
        let rest = &opts[4..];
        if olen > rest.len() {
            done = true;
            return Some(Err(OptionError::ValueTooLong));
        }
        let padded = olen.div_ceil(4) * 4;
        if padded > rest.len() {
            done = true;
            return Some(Err(OptionError::BadPadding));
        }
        let value = &rest[..olen];
        opts = &rest[padded..];
        Some(Ok((code, value)))
    })
}

/// Reads an enhanced packet block's options: `epb_flags` (direction) and the first
/// `opt_comment` holding the kernel's note. Allocates nothing.
pub fn packet_options(opts: &[u8], big_endian: bool) -> PacketOptions<'_> {
    let mut out = PacketOptions::default();
    for item in option_list(opts, big_endian) {
        match item {
            Ok((OPT_EPB_FLAGS, value)) if value.len() == 4 => {
                let b = [value[0], value[1], value[2], value[3]];
                let flags = if big_endian {
                    u32::from_be_bytes(b)
                } else {
                    u32::from_le_bytes(b)
                };
                out.direction = match flags & 3 {
                    1 => Some(Direction::In),
                    2 => Some(Direction::Out),
                    _ => None,
                };
            }
            Ok((OPT_COMMENT, value)) if out.kernel.is_none() => {
                if let Some(json) = value.strip_prefix(KERNEL_COMMENT_PREFIX)
                    && json.len() <= MAX_KERNEL_COMMENT
                {
                    out.kernel = Some(json);
                }
            }
            Ok(_) => {}
            Err(e) => out.damaged = Some(e),
        }
    }
    out
}

/// How one interface's timestamp units become nanoseconds.
#[derive(Debug, Clone, Copy)]
enum Resolution {
    /// Units of 10^-n seconds.
    Decimal(u8),
    /// Units of 2^-n seconds.
    Binary(u8),
}

impl Resolution {
    fn from_option(v: u8) -> Self {
        if v & 0x80 != 0 {
            Resolution::Binary(v & 0x7f)
        } else {
            Resolution::Decimal(v)
        }
    }

    fn digits(self) -> u8 {
        match self {
            Resolution::Decimal(n) => n.min(9),
            // 2^-n needs about n·log10(2) decimal digits.
            Resolution::Binary(n) => ((u32::from(n) * 30103).div_ceil(100_000) as u8).min(9),
        }
    }

    fn to_nanos(self, units: u64) -> i128 {
        let units = i128::from(units);
        match self {
            Resolution::Decimal(n) if n <= 9 => units * 10i128.pow(9 - u32::from(n)),
            Resolution::Decimal(n) => units / 10i128.pow(u32::from(n.min(38)) - 9),
            Resolution::Binary(n) if n < 64 => (units * 1_000_000_000) >> n,
            Resolution::Binary(_) => 0,
        }
    }
}

/// A packet block read: (interface, time, data offset within the block, caplen, original
/// length, direction, offset of its options within the block or `usize::MAX` for none).
type PacketAt = (
    usize,
    Timestamp,
    usize,
    usize,
    u32,
    Option<Direction>,
    usize,
);

#[derive(Debug, Clone, Copy)]
struct IfaceTiming {
    resolution: Resolution,
    offset_secs: i64,
}

pub(crate) struct PcapngReader {
    src: ByteSource,
    big_endian: bool,
    /// All interfaces of all sections, in order; a packet's id is relative to `section_base`.
    interfaces: Vec<Interface>,
    timing: Vec<IfaceTiming>,
    section_base: usize,
    last_ts: Timestamp,
    /// The current section's `shb_userappl`, sanitized.
    application: Option<String>,
}

/// A cap on interfaces across all sections: each costs a little memory, and a crafted file could
/// otherwise declare millions.
const MAX_INTERFACES: usize = 65_536;

impl PcapngReader {
    pub fn new(src: ByteSource) -> Result<Self, CaptureError> {
        let mut r = PcapngReader {
            src,
            big_endian: false,
            interfaces: Vec::new(),
            timing: Vec::new(),
            section_base: 0,
            last_ts: Timestamp::from_nanos(0, 6),
            application: None,
        };
        // The first block must be a section header; read it eagerly so that a file that is not
        // pcapng after all fails at open.
        let at = r.src.offset();
        match r.read_block()? {
            Some((BLOCK_SHB, _)) => Ok(r),
            _ => Err(CaptureError::new(
                at,
                "pcapng file does not start with a section header",
            )),
        }
    }

    pub fn interfaces(&self) -> &[Interface] {
        &self.interfaces
    }

    pub fn offset(&self) -> u64 {
        self.src.offset()
    }

    /// The application that wrote the current section (`shb_userappl`), sanitized.
    pub fn application(&self) -> Option<&str> {
        self.application.as_deref()
    }

    fn rd16(&self, b: &[u8], o: usize) -> u16 {
        let v = [b[o], b[o + 1]];
        if self.big_endian {
            u16::from_be_bytes(v)
        } else {
            u16::from_le_bytes(v)
        }
    }

    fn rd32(&self, b: &[u8], o: usize) -> u32 {
        let v = [b[o], b[o + 1], b[o + 2], b[o + 3]];
        if self.big_endian {
            u32::from_be_bytes(v)
        } else {
            u32::from_le_bytes(v)
        }
    }

    /// Reads one block's framing and handles section and interface blocks. Returns the block
    /// type and the stream offset of its start; the body stays in the buffer for the caller,
    /// consumed up to `body_end` after the call (see `next_packet`).
    fn read_block(&mut self) -> Result<Option<(u32, u64)>, CaptureError> {
        let at = self.src.offset();
        let have = self.src.fill(12)?;
        if have == 0 {
            return Ok(None);
        }
        if have < 12 {
            return Err(CaptureError::new(
                at,
                format!("truncated block header: file ends after {have} bytes"),
            ));
        }
        let head = self.src.peek();
        let raw_type = [head[0], head[1], head[2], head[3]];
        if raw_type == SHB_TYPE_BYTES {
            // The byte-order magic decides how this section (and this very block) is read.
            let m = [head[8], head[9], head[10], head[11]];
            self.big_endian = if u32::from_be_bytes(m) == BYTE_ORDER_MAGIC {
                true
            } else if u32::from_le_bytes(m) == BYTE_ORDER_MAGIC {
                false
            } else {
                return Err(CaptureError::new(
                    at + 8,
                    format!(
                        "section header has a bad byte-order magic {:02x}{:02x}{:02x}{:02x}",
                        m[0], m[1], m[2], m[3]
                    ),
                ));
            };
        }
        let head = self.src.peek();
        let block_type = self.rd32(head, 0);
        let len = self.rd32(head, 4) as usize;
        if len < 12 {
            return Err(CaptureError::new(
                at,
                format!("block length {len} is too small (a block is at least 12 bytes)"),
            ));
        }
        if !len.is_multiple_of(4) {
            return Err(CaptureError::new(
                at,
                format!("block length {len} is not a multiple of 4"),
            ));
        }
        if len > MAX_RECORD_LEN {
            return Err(CaptureError::new(
                at,
                format!(
                    "block length {len} exceeds the {MAX_RECORD_LEN}-byte limit: corrupt block header"
                ),
            ));
        }
        let have = self.src.fill(len)?;
        if have < len {
            return Err(CaptureError::new(
                at,
                format!("truncated block: its header says {len} bytes, file ends after {have}"),
            ));
        }
        let block = &self.src.peek()[..len];
        let trailer = self.rd32(block, len - 4) as usize;
        if trailer != len {
            return Err(CaptureError::new(
                at,
                format!("block length {len} in the header does not match {trailer} in the trailer"),
            ));
        }
        match block_type {
            BLOCK_SHB => self.section_header(at)?,
            BLOCK_IDB => self.interface_description(at)?,
            _ => {}
        }
        Ok(Some((block_type, at)))
    }

    fn section_header(&mut self, at: u64) -> Result<(), CaptureError> {
        let block = self.src.peek();
        let len = self.rd32(block, 4) as usize;
        if len < 28 {
            return Err(CaptureError::new(
                at,
                format!("section header block of {len} bytes is too short (minimum 28)"),
            ));
        }
        let (major, minor) = (self.rd16(block, 12), self.rd16(block, 14));
        if major != 1 || (minor != 0 && minor != 2) {
            return Err(CaptureError::new(
                at + 12,
                format!("unsupported pcapng version {major}.{minor} (expected 1.0)"),
            ));
        }
        let opts = &block[24..len - 4];
        self.check_options(opts, at + 24)?;
        let application = self
            .options(opts)
            .find(|(code, _)| *code == OPT_SHB_USERAPPL)
            .map(|(_, v)| sanitize_text(v, 64));
        self.application = application;
        self.section_base = self.interfaces.len();
        self.src.take(len);
        Ok(())
    }

    fn interface_description(&mut self, at: u64) -> Result<(), CaptureError> {
        let block = self.src.peek();
        let len = self.rd32(block, 4) as usize;
        if len < 20 {
            return Err(CaptureError::new(
                at,
                format!("interface description block of {len} bytes is too short (minimum 20)"),
            ));
        }
        if self.interfaces.len() >= MAX_INTERFACES {
            return Err(CaptureError::new(
                at,
                format!("more than {MAX_INTERFACES} interface descriptions"),
            ));
        }
        let link_type = LinkType(u32::from(self.rd16(block, 8)));
        let snaplen = self.rd32(block, 12);
        let opts = &block[16..len - 4];
        self.check_options(opts, at + 16)?;
        let mut name = None;
        let mut timing = IfaceTiming {
            resolution: Resolution::Decimal(6),
            offset_secs: 0,
        };
        for (code, value) in self.options(opts) {
            match code {
                OPT_IF_NAME => name = Some(sanitize_text(value, 64).into()),
                OPT_IF_TSRESOL if !value.is_empty() => {
                    timing.resolution = Resolution::from_option(value[0])
                }
                OPT_IF_TSOFFSET if value.len() == 8 => {
                    let b: [u8; 8] = value.try_into().unwrap_or_default();
                    timing.offset_secs = if self.big_endian {
                        i64::from_be_bytes(b)
                    } else {
                        i64::from_le_bytes(b)
                    };
                }
                _ => {}
            }
        }
        self.interfaces.push(Interface {
            link_type,
            snaplen,
            name,
        });
        self.timing.push(timing);
        self.src.take(len);
        Ok(())
    }

    /// Checks that the option list's lengths stay inside the block.
    fn check_options(&self, mut opts: &[u8], mut at: u64) -> Result<(), CaptureError> {
        while opts.len() >= 4 {
            let code = self.rd16(opts, 0);
            let olen = usize::from(self.rd16(opts, 2));
            if code == OPT_END {
                return Ok(());
            }
            let padded = 4 + olen.div_ceil(4) * 4;
            if padded > opts.len() {
                return Err(CaptureError::new(
                    at,
                    format!("option {code} of length {olen} runs past the end of its block"),
                ));
            }
            opts = &opts[padded..];
            at += padded as u64;
        }
        Ok(())
    }

    /// The options of a list [`Self::check_options`] accepted: [`option_list`] finds no
    /// damage in it, so its well-formed items are all there is.
    fn options<'b>(&self, opts: &'b [u8]) -> impl Iterator<Item = (u16, &'b [u8])> + 'b {
        option_list(opts, self.big_endian).map_while(Result::ok)
    }

    fn interface(&self, id: usize, at: u64) -> Result<usize, CaptureError> {
        let global = self.section_base + id;
        if id >= self.interfaces.len() - self.section_base {
            return Err(CaptureError::new(
                at,
                format!(
                    "packet refers to interface {id}, but its section describes only {}",
                    self.interfaces.len() - self.section_base
                ),
            ));
        }
        Ok(global)
    }

    fn timestamp(&self, iface: usize, hi: u32, lo: u32) -> Timestamp {
        let t = self.timing[iface];
        let units = (u64::from(hi) << 32) | u64::from(lo);
        let nanos = t.resolution.to_nanos(units) + i128::from(t.offset_secs) * 1_000_000_000;
        let nanos = nanos.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
        Timestamp::from_nanos(nanos, t.resolution.digits())
    }

    #[inline(never)]
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        loop {
            let Some((block_type, at)) = self.read_block()? else {
                return Ok(None);
            };
            if block_type == BLOCK_SHB || block_type == BLOCK_IDB {
                continue; // already consumed by read_block
            }
            let block = self.src.peek();
            let len = self.rd32(block, 4) as usize;
            let body = &block[8..len - 4];
            let packet = match block_type {
                BLOCK_EPB => self.enhanced_packet(body, at)?,
                BLOCK_OPB => self.obsolete_packet(body, at)?,
                BLOCK_SPB => self.simple_packet(body, at)?,
                _ => None,
            };
            let Some((iface, ts, data_off, caplen, orig_len, direction, opts_off)) = packet else {
                self.src.take(len);
                continue;
            };
            self.last_ts = ts;
            let big_endian = self.big_endian;
            let link_type = self.interfaces[iface].link_type;
            let block = self.src.take(len);
            // Options sit between the padded data and the trailer; a block without them costs
            // one comparison.
            let opts = block.get(opts_off..len - 4).unwrap_or(&[]);
            let (direction, kernel_note) = if opts.is_empty() {
                (direction, None)
            } else {
                let o = packet_options(opts, big_endian);
                (o.direction, o.kernel)
            };
            return Ok(Some(Packet {
                ts,
                iface,
                link_type,
                orig_len,
                direction,
                iface_name: self.interfaces[iface].name.as_ref(),
                data: &block[data_off..data_off + caplen],
                kernel_note,
            }));
        }
    }

    /// Returns (interface, time, data offset within the block, caplen, original length, direction).
    #[allow(clippy::type_complexity)]
    fn enhanced_packet(&self, body: &[u8], at: u64) -> Result<Option<PacketAt>, CaptureError> {
        if body.len() < 20 {
            return Err(CaptureError::new(
                at,
                format!(
                    "enhanced packet block body of {} bytes is too short (minimum 20)",
                    body.len()
                ),
            ));
        }
        let iface = self.interface(self.rd32(body, 0) as usize, at)?;
        let ts = self.timestamp(iface, self.rd32(body, 4), self.rd32(body, 8));
        let caplen = self.rd32(body, 12) as usize;
        let orig_len = self.rd32(body, 16);
        let room = body.len() - 20;
        if caplen > room {
            return Err(CaptureError::new(
                at,
                format!(
                    "packet length {caplen} runs past the end of its block (room for {room} bytes)"
                ),
            ));
        }
        // Options start after the data padded to 4 bytes (offset within the block).
        let opts_off = 8 + 20 + caplen.div_ceil(4) * 4;
        Ok(Some((iface, ts, 8 + 20, caplen, orig_len, None, opts_off)))
    }

    #[allow(clippy::type_complexity)]
    fn obsolete_packet(&self, body: &[u8], at: u64) -> Result<Option<PacketAt>, CaptureError> {
        if body.len() < 20 {
            return Err(CaptureError::new(
                at,
                format!(
                    "packet block body of {} bytes is too short (minimum 20)",
                    body.len()
                ),
            ));
        }
        let iface = self.interface(usize::from(self.rd16(body, 0)), at)?;
        let ts = self.timestamp(iface, self.rd32(body, 4), self.rd32(body, 8));
        let caplen = self.rd32(body, 12) as usize;
        let orig_len = self.rd32(body, 16);
        let room = body.len() - 20;
        if caplen > room {
            return Err(CaptureError::new(
                at,
                format!(
                    "packet length {caplen} runs past the end of its block (room for {room} bytes)"
                ),
            ));
        }
        Ok(Some((
            iface,
            ts,
            8 + 20,
            caplen,
            orig_len,
            None,
            usize::MAX,
        )))
    }

    #[allow(clippy::type_complexity)]
    fn simple_packet(&self, body: &[u8], at: u64) -> Result<Option<PacketAt>, CaptureError> {
        if body.len() < 4 {
            return Err(CaptureError::new(at, "simple packet block is too short"));
        }
        // A simple packet always belongs to the section's first interface and has no timestamp:
        // it inherits the previous packet's time.
        let iface = self.interface(0, at)?;
        let orig_len = self.rd32(body, 0);
        let snap = self.interfaces[iface].snaplen as usize;
        let mut caplen = (orig_len as usize).min(body.len() - 4);
        if snap != 0 {
            caplen = caplen.min(snap);
        }
        Ok(Some((
            iface,
            self.last_ts,
            8 + 4,
            caplen,
            orig_len,
            None,
            usize::MAX,
        )))
    }
}

#[cfg(test)]
mod option_tests {
    use super::*;
    use proptest::prelude::*;

    /// One little-endian option, padded.
    fn opt(code: u16, value: &[u8]) -> Vec<u8> {
        let mut v = code.to_le_bytes().to_vec();
        v.extend_from_slice(&(value.len() as u16).to_le_bytes());
        v.extend_from_slice(value);
        v.resize(v.len().div_ceil(4) * 4, 0);
        v
    }

    fn kernel_comment(json: &[u8]) -> Vec<u8> {
        [KERNEL_COMMENT_PREFIX, json].concat()
    }

    #[test]
    fn finds_the_kernel_comment_among_others() {
        let mut list = opt(OPT_COMMENT, b"rsthound: refused: nothing listens");
        list.extend(opt(OPT_COMMENT, &kernel_comment(br#"{"origin":"stack"}"#)));
        list.extend(opt(OPT_EPB_FLAGS, &2u32.to_le_bytes()));
        list.extend(opt(OPT_END, b""));
        let o = packet_options(&list, false);
        assert_eq!(o.kernel, Some(&br#"{"origin":"stack"}"#[..]));
        assert_eq!(o.direction, Some(Direction::Out));
        assert_eq!(o.damaged, None);
    }

    #[test]
    fn big_endian_lists_read_the_same() {
        let value = kernel_comment(b"{}");
        let mut list = OPT_COMMENT.to_be_bytes().to_vec();
        list.extend((value.len() as u16).to_be_bytes());
        list.extend(&value);
        list.resize(list.len().div_ceil(4) * 4, 0);
        assert_eq!(packet_options(&list, true).kernel, Some(&b"{}"[..]));
    }

    #[test]
    fn truncated_option_is_damage_not_a_value() {
        let mut list = opt(OPT_COMMENT, &kernel_comment(b"{}"));
        // Header claims 40 bytes, only 8 follow.
        let mut bad = OPT_COMMENT.to_le_bytes().to_vec();
        bad.extend(40u16.to_le_bytes());
        bad.extend([b'x'; 8]);
        list.extend(bad);
        let o = packet_options(&list, false);
        assert_eq!(
            o.kernel,
            Some(&b"{}"[..]),
            "options before the damage are kept"
        );
        assert_eq!(o.damaged, Some(OptionError::ValueTooLong));
        let short = [1u8, 0];
        assert_eq!(
            packet_options(&short, false).damaged,
            Some(OptionError::ShortHeader)
        );
    }

    #[test]
    fn missing_padding_is_damage() {
        // A 17-byte comment whose padding (3 bytes) is missing at the end of the list.
        let value = kernel_comment(b"");
        assert_eq!(value.len() % 4, 1);
        let mut list = OPT_COMMENT.to_le_bytes().to_vec();
        list.extend((value.len() as u16).to_le_bytes());
        list.extend(&value);
        let o = packet_options(&list, false);
        assert_eq!(o.kernel, None);
        assert_eq!(o.damaged, Some(OptionError::BadPadding));
    }

    #[test]
    fn oversized_kernel_comment_is_ignored() {
        let json = vec![b' '; MAX_KERNEL_COMMENT + 1];
        let list = opt(OPT_COMMENT, &kernel_comment(&json));
        let o = packet_options(&list, false);
        assert_eq!((o.kernel, o.damaged), (None, None));
        let json = vec![b' '; MAX_KERNEL_COMMENT];
        let list = opt(OPT_COMMENT, &kernel_comment(&json));
        assert_eq!(
            packet_options(&list, false).kernel.map(<[u8]>::len),
            Some(MAX_KERNEL_COMMENT)
        );
    }

    #[test]
    fn end_of_options_stops_the_walk() {
        let mut list = opt(OPT_END, b"");
        list.extend(opt(OPT_COMMENT, &kernel_comment(b"{}")));
        assert_eq!(packet_options(&list, false), PacketOptions::default());
    }

    proptest! {
        #[test]
        fn any_bytes_stay_inside_the_list(bytes in proptest::collection::vec(any::<u8>(), 0..300), big in any::<bool>()) {
            let mut total = 0usize;
            for (_, v) in option_list(&bytes, big).flatten() {
                total += 4 + v.len().div_ceil(4) * 4;
                prop_assert!(total <= bytes.len());
            }
            let o = packet_options(&bytes, big);
            if let Some(k) = o.kernel {
                prop_assert!(k.len() <= MAX_KERNEL_COMMENT && k.len() < bytes.len());
            }
        }

        #[test]
        fn well_formed_lists_round_trip(values in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..50), 0..8)) {
            let list: Vec<u8> = values.iter().flat_map(|v| opt(3, v)).collect();
            let got: Vec<_> = option_list(&list, false).collect();
            prop_assert_eq!(got.len(), values.len());
            for (g, v) in got.iter().zip(&values) {
                prop_assert_eq!(g, &Ok((3u16, &v[..])));
            }
        }
    }
}
