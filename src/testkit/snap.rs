//! A capture as it would have been taken with a smaller snap length: every packet's captured
//! bytes cut to `snap`, its original length kept, in the file's own container (classic pcap in
//! either byte order, with or without the "modified" record header; pcapng with its sections,
//! interfaces and enhanced, simple and obsolete packet blocks). A compressed capture is
//! decompressed first and comes out plain. The truncation matrix
//! (`tests/truncation_matrix.rs`) and the script that records tshark's counts of the same bytes
//! (`bench/truncation-tshark.sh`, through `examples/snap_cut.rs`) both use it.
//!
//! Where the container itself is damaged (a length running past the end, an unknown magic
//! mid-file), the rest is copied as it is: the reader then meets the same damage.

use std::io::Read;

/// The most a compressed capture may decompress to here.
const MAX_PLAIN: u64 = 512 << 20;

const PCAP_MAGICS: [(u32, bool, usize); 4] = [
    // (magic as read little-endian, big-endian file, record header bytes)
    (0xa1b2_c3d4, false, 16),
    (0xa1b2_3c4d, false, 16),
    (0xa1b2_cd34, false, 24),
    (0xd4c3_b2a1, true, 16),
];
const PCAP_BE_NS: u32 = 0x4d3c_b2a1;
const PCAP_BE_MODIFIED: u32 = 0x34cd_b2a1;
const PCAP_HEADER: usize = 24;
/// Offset of the snap length in the pcap file header.
const PCAP_SNAPLEN: usize = 16;
/// Offsets of the captured and original lengths in a pcap record header.
const REC_CAPLEN: usize = 8;

const SHB: u32 = 0x0a0d_0d0a;
const IDB: u32 = 1;
const OBSOLETE_PB: u32 = 2;
const SPB: u32 = 3;
const EPB: u32 = 6;
const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;

/// Why a capture could not be cut.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CutError {
    #[error("not a pcap or pcapng capture (nor a compressed one)")]
    NotACapture,
    #[error("cannot decompress: {0}")]
    Decompress(String),
}

/// `capture` with every packet's captured bytes cut to at most `snap` (see the module doc).
pub fn cut_to_snap(capture: &[u8], snap: u32) -> Result<Vec<u8>, CutError> {
    let plain = decompressed(capture)?;
    let bytes = plain.as_deref().unwrap_or(capture);
    if bytes.len() < 4 {
        return Err(CutError::NotACapture);
    }
    let magic = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if magic == SHB {
        return Ok(cut_pcapng(bytes, snap));
    }
    let (big, rec_header) = match magic {
        PCAP_BE_NS => (true, 16),
        PCAP_BE_MODIFIED => (true, 24),
        m => match PCAP_MAGICS.iter().find(|(x, _, _)| *x == m) {
            Some(&(_, big, rec)) => (big, rec),
            None => return Err(CutError::NotACapture),
        },
    };
    Ok(cut_pcap(bytes, snap, big, rec_header))
}

/// The decompressed bytes of a gzip or zstd capture; `None` when it is not compressed.
fn decompressed(capture: &[u8]) -> Result<Option<Vec<u8>>, CutError> {
    let mut out = Vec::new();
    let result = match capture {
        [0x1f, 0x8b, ..] => flate2::read::MultiGzDecoder::new(capture)
            .take(MAX_PLAIN)
            .read_to_end(&mut out),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => ruzstd::decoding::StreamingDecoder::new(capture)
            .map_err(|e| CutError::Decompress(e.to_string()))?
            .take(MAX_PLAIN)
            .read_to_end(&mut out),
        _ => return Ok(None),
    };
    result.map_err(|e| CutError::Decompress(e.to_string()))?;
    Ok(Some(out))
}

fn u32_at(b: &[u8], at: usize, big: bool) -> Option<u32> {
    let w: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if big {
        u32::from_be_bytes(w)
    } else {
        u32::from_le_bytes(w)
    })
}

fn put_u32(out: &mut [u8], at: usize, v: u32, big: bool) {
    let w = if big {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    };
    out[at..at + 4].copy_from_slice(&w);
}

fn cut_pcap(b: &[u8], snap: u32, big: bool, rec_header: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    if b.len() < PCAP_HEADER {
        out.extend_from_slice(b);
        return out;
    }
    out.extend_from_slice(&b[..PCAP_HEADER]);
    let file_snap = u32_at(b, PCAP_SNAPLEN, big).unwrap_or(0);
    put_u32(
        &mut out,
        PCAP_SNAPLEN,
        if file_snap == 0 {
            snap
        } else {
            file_snap.min(snap)
        },
        big,
    );
    let mut at = PCAP_HEADER;
    while at < b.len() {
        let Some(caplen) = u32_at(b, at + REC_CAPLEN, big) else {
            break;
        };
        let data = at + rec_header;
        let Some(end) = data.checked_add(caplen as usize).filter(|e| *e <= b.len()) else {
            break;
        };
        let keep = caplen.min(snap);
        let head = out.len();
        out.extend_from_slice(&b[at..data]);
        put_u32(&mut out, head + REC_CAPLEN, keep, big);
        out.extend_from_slice(&b[data..data + keep as usize]);
        at = end;
    }
    // A record cut short or damaged: as it was.
    out.extend_from_slice(&b[at.min(b.len())..]);
    out
}

fn cut_pcapng(b: &[u8], snap: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut big = false;
    let mut at = 0;
    while at + 12 <= b.len() {
        let kind = u32_at(b, at, false).unwrap_or(0);
        if kind == SHB {
            match u32_at(b, at + 8, false) {
                Some(BYTE_ORDER_MAGIC) => big = false,
                Some(m) if m.swap_bytes() == BYTE_ORDER_MAGIC => big = true,
                _ => break,
            }
        }
        let kind = if kind == SHB {
            SHB
        } else {
            u32_at(b, at, big).unwrap_or(0)
        };
        let Some(len) = u32_at(b, at + 4, big).map(|l| l as usize) else {
            break;
        };
        if len < 12 || len % 4 != 0 || at + len > b.len() {
            break;
        }
        let block = &b[at..at + len];
        let body = &block[8..len - 4];
        match kind {
            IDB if body.len() >= 8 => {
                let mut body = body.to_vec();
                let s = u32_at(&body, 4, big).unwrap_or(0);
                put_u32(&mut body, 4, if s == 0 { snap } else { s.min(snap) }, big);
                push_block(&mut out, kind, &body, big);
            }
            // Enhanced: interface, ts hi, ts lo, captured, original, data, options.
            // Obsolete: interface (2) + drops (2), ts hi, ts lo, captured, original, data, options.
            EPB | OBSOLETE_PB if body.len() >= 20 => {
                let caplen = u32_at(body, 12, big).unwrap_or(0) as usize;
                let padded = caplen.div_ceil(4) * 4;
                if 20 + padded > body.len() {
                    break;
                }
                let keep = caplen.min(snap as usize);
                let mut new = body[..20].to_vec();
                put_u32(&mut new, 12, keep as u32, big);
                new.extend_from_slice(&body[20..20 + keep]);
                new.resize(20 + keep.div_ceil(4) * 4, 0);
                new.extend_from_slice(&body[20 + padded..]);
                push_block(&mut out, kind, &new, big);
            }
            // Simple: original length, data (captured: the original up to the interface's snap
            // length, which is cut above).
            SPB if body.len() >= 4 => {
                let orig = u32_at(body, 0, big).unwrap_or(0) as usize;
                let data = (body.len() - 4).min(orig);
                let keep = data.min(snap as usize);
                let mut new = body[..4].to_vec();
                new.extend_from_slice(&body[4..4 + keep]);
                new.resize(4 + keep.div_ceil(4) * 4, 0);
                push_block(&mut out, kind, &new, big);
            }
            _ => out.extend_from_slice(block),
        }
        at += len;
    }
    out.extend_from_slice(&b[at.min(b.len())..]);
    out
}

/// Appends a block of `kind` with `body` (a multiple of 4 bytes), its lengths around it.
fn push_block(out: &mut Vec<u8>, kind: u32, body: &[u8], big: bool) {
    let len = (body.len() + 12) as u32;
    let start = out.len();
    out.resize(start + 8, 0);
    put_u32(out, start, kind, big);
    put_u32(out, start + 4, len, big);
    out.extend_from_slice(body);
    let end = out.len();
    out.resize(end + 4, 0);
    put_u32(out, end, len, big);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LinkType;
    use crate::model::timestamp::Timestamp;
    use crate::sink::pcapng_writer::PcapWriter;
    use crate::source::capture::CaptureReader;
    use std::io::Cursor;

    fn lengths(capture: Vec<u8>) -> Vec<(usize, u32)> {
        let mut r = CaptureReader::new(Box::new(Cursor::new(capture))).unwrap();
        let mut out = Vec::new();
        while let Some(p) = r.next_packet().unwrap() {
            out.push((p.data.len(), p.orig_len));
        }
        out
    }

    #[test]
    fn a_pcap_cut_keeps_original_lengths_and_reads_back() {
        let mut w = PcapWriter::new(Vec::new(), LinkType::ETHERNET, 65535).unwrap();
        for n in [10usize, 54, 60, 100] {
            w.write_packet(Timestamp::from_nanos(1, 9), &vec![7u8; n], n as u32)
                .unwrap();
        }
        let cut = cut_to_snap(&w.into_inner(), 54).unwrap();
        assert_eq!(lengths(cut), [(10, 10), (54, 54), (54, 60), (54, 100)]);
    }

    #[test]
    fn a_pcapng_cut_keeps_every_block_and_pads_the_data() {
        let mut w = crate::sink::pcapng_writer::PcapngWriter::new(Vec::new(), true).unwrap();
        w.interface(LinkType::ETHERNET, 0, Some("eth0"), None)
            .unwrap();
        for n in [13usize, 14, 61, 200] {
            w.packet_comments(0, 1, &vec![1u8; n], n as u32, Some(true), &["kept"])
                .unwrap();
        }
        w.simple_packet(&[2u8; 99]).unwrap();
        let cut = cut_to_snap(&w.into_inner(), 14).unwrap();
        assert_eq!(
            lengths(cut),
            [(13, 13), (14, 14), (14, 61), (14, 200), (14, 99)]
        );
    }

    #[test]
    fn not_a_capture_is_refused() {
        assert_eq!(cut_to_snap(b"hello world", 54), Err(CutError::NotACapture));
    }
}
