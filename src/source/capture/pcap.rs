//! Classic libpcap files: µs or ns timestamps, either byte order.
//!
//! Layout: a 24-byte file header, then records of a 16-byte header and `caplen` bytes.

use super::{ByteSource, CaptureError, Interface, LinkType, MAX_RECORD_LEN, Packet};
use crate::model::timestamp::Timestamp;

const FILE_HEADER_LEN: usize = 24;
const RECORD_HEADER_LEN: usize = 16;
const MAGIC_US: u32 = 0xa1b2_c3d4;
const MAGIC_NS: u32 = 0xa1b2_3c4d;
/// libpcap's largest snapshot length for ordinary link types; a caplen beyond both this and the
/// file's snaplen cannot have been written by a capture tool.
const MAX_SNAPLEN: u32 = 262_144;
/// Bytes a run of records parsed in one go spans at most ([`PcapReader::next_run`]): a few
/// dozen small packets, a couple of full-size ones, at the prefetch distance ahead of them.
const RUN_BYTES: usize = 4 << 10;

pub(crate) fn is_magic(b: [u8; 4]) -> bool {
    let le = u32::from_le_bytes(b);
    let be = u32::from_be_bytes(b);
    [MAGIC_US, MAGIC_NS].contains(&le) || [MAGIC_US, MAGIC_NS].contains(&be)
}

pub(crate) struct PcapReader {
    src: ByteSource,
    big_endian: bool,
    digits: u8,
    /// [`Timestamp::scale`] of `digits`.
    scale: u64,
    snaplen: u32,
    /// The one interface's, kept at hand.
    link_type: LinkType,
    interfaces: Vec<Interface>,
}

impl PcapReader {
    pub fn new(mut src: ByteSource) -> Result<Self, CaptureError> {
        let have = src.fill(FILE_HEADER_LEN)?;
        if have < FILE_HEADER_LEN {
            return Err(CaptureError::new(
                0,
                format!("truncated pcap file header: {have} of {FILE_HEADER_LEN} bytes"),
            ));
        }
        let h = src.take(FILE_HEADER_LEN);
        let magic_le = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let big_endian = !(magic_le == MAGIC_US || magic_le == MAGIC_NS);
        let rd16 = |o: usize| {
            let b = [h[o], h[o + 1]];
            if big_endian {
                u16::from_be_bytes(b)
            } else {
                u16::from_le_bytes(b)
            }
        };
        let rd32 = |o: usize| {
            let b = [h[o], h[o + 1], h[o + 2], h[o + 3]];
            if big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        let magic = rd32(0);
        let digits = if magic == MAGIC_NS { 9 } else { 6 };
        let (major, minor) = (rd16(4), rd16(6));
        if major != 2 || minor > 4 {
            return Err(CaptureError::new(
                4,
                format!("unsupported pcap version {major}.{minor} (expected 2.4)"),
            ));
        }
        let snaplen = rd32(16);
        let raw_link = rd32(20);
        // Bits 16-25 are reserved and must be zero; bits 26-31 carry the FCS length, which
        // does not change where headers start, so it is ignored.
        if raw_link & 0x03ff_0000 != 0 {
            return Err(CaptureError::new(
                20,
                format!("invalid link-type field 0x{raw_link:08x}: reserved bits are set"),
            ));
        }
        let link_type = LinkType(raw_link & 0xffff);
        Ok(PcapReader {
            src,
            big_endian,
            digits,
            scale: Timestamp::scale(digits),
            snaplen,
            link_type,
            interfaces: vec![Interface {
                link_type,
                snaplen,
                name: None,
            }],
        })
    }

    pub fn interfaces(&self) -> &[Interface] {
        &self.interfaces
    }

    pub fn offset(&self) -> u64 {
        self.src.offset()
    }

    /// A record header's fields in the file's byte order: seconds, fraction, captured length,
    /// original length.
    #[inline(always)]
    fn record_header(&self, h: &[u8; RECORD_HEADER_LEN]) -> [u32; 4] {
        let le = |o: usize| u32::from_le_bytes([h[o], h[o + 1], h[o + 2], h[o + 3]]);
        let fields = [le(0), le(4), le(8), le(12)];
        if self.big_endian {
            fields.map(u32::swap_bytes)
        } else {
            fields
        }
    }

    /// The records lying whole in the next [`RUN_BYTES`] at hand, parsed where they lie and
    /// handed to `f` in order, as [`PcapReader::next_packet`] would hand them; returns how many
    /// were. It stops early at anything that one has to deal with: a record not wholly at hand
    /// (a refill), a length past the limits (an error), bytes found gone, the end of the file.
    /// An error from `f` stops the run after the record it was handed.
    #[inline(always)]
    pub fn next_run<E>(
        &mut self,
        f: &mut impl FnMut(Packet<'_>) -> Result<(), E>,
    ) -> Result<usize, E> {
        self.src.prepare(RUN_BYTES);
        let src = &self.src;
        let w = src.at_hand(RUN_BYTES);
        let limit = self.snaplen.max(MAX_SNAPLEN).min(MAX_RECORD_LEN as u32);
        let (mut at, mut n) = (0, 0);
        let result = loop {
            let Some(h) = w
                .get(at..)
                .and_then(|r| r.first_chunk::<RECORD_HEADER_LEN>())
            else {
                break Ok(());
            };
            let [secs, frac, caplen, orig_len] = self.record_header(h);
            let end = at + RECORD_HEADER_LEN + caplen as usize;
            if caplen > limit || !src.intact() {
                break Ok(());
            }
            let Some(data) = w.get(at + RECORD_HEADER_LEN..end) else {
                break Ok(());
            };
            at = end;
            n += 1;
            let packet = Packet {
                ts: Timestamp::from_scaled(
                    i64::from(secs),
                    u64::from(frac),
                    self.scale,
                    self.digits,
                ),
                iface: 0,
                link_type: self.link_type,
                orig_len,
                direction: None,
                iface_name: None,
                data,
                kernel_note: None,
            };
            if let Err(e) = f(packet) {
                break Err(e);
            }
        };
        // Past the records handed out (their bytes were borrowed from the window above).
        self.src.take(at);
        result.map(|()| n)
    }

    #[inline(always)]
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        let w = self.src.window(RECORD_HEADER_LEN)?;
        let in_window = w.len();
        let Some(&h) = w.first_chunk::<RECORD_HEADER_LEN>() else {
            if in_window == 0 {
                return Ok(None);
            }
            return Err(CaptureError::new(
                self.src.offset(),
                format!(
                    "truncated record header: file ends after {in_window} of {RECORD_HEADER_LEN} bytes"
                ),
            ));
        };
        let [secs, frac, caplen, orig_len] = self.record_header(&h);
        if caplen > self.snaplen.max(MAX_SNAPLEN) || caplen as usize > MAX_RECORD_LEN {
            return Err(CaptureError::new(
                self.src.offset(),
                format!(
                    "record length {caplen} is larger than the snapshot length {} (and than {MAX_SNAPLEN}): corrupt record header",
                    self.snaplen
                ),
            ));
        }
        let total = RECORD_HEADER_LEN + caplen as usize;
        // Most records lie whole in the window at hand.
        if in_window < total {
            let have = self.src.fill(total)?;
            if have < total {
                return Err(CaptureError::new(
                    self.src.offset(),
                    format!(
                        "truncated packet: record says {caplen} bytes, file ends after {}",
                        have - RECORD_HEADER_LEN
                    ),
                ));
            }
        }
        let rec = self.src.take(total);
        Ok(Some(Packet {
            ts: Timestamp::from_scaled(i64::from(secs), u64::from(frac), self.scale, self.digits),
            iface: 0,
            link_type: self.link_type,
            orig_len,
            direction: None,
            iface_name: None,
            data: &rec[RECORD_HEADER_LEN..],
            kernel_note: None,
        }))
    }
}
