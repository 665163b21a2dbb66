//! Writing captures: classic pcap (for the project's own test scenarios) and pcapng with
//! per-packet comments (for `--write`), both little-endian.

use std::io::{self, Write};

use super::LinkType;
use crate::timestamp::Timestamp;

/// A classic pcap writer with nanosecond timestamps.
pub struct PcapWriter<W: Write> {
    out: W,
}

impl<W: Write> PcapWriter<W> {
    pub fn new(mut out: W, link_type: LinkType, snaplen: u32) -> io::Result<Self> {
        out.write_all(&0xa1b2_3c4du32.to_le_bytes())?;
        out.write_all(&2u16.to_le_bytes())?;
        out.write_all(&4u16.to_le_bytes())?;
        out.write_all(&0i32.to_le_bytes())?;
        out.write_all(&0u32.to_le_bytes())?;
        out.write_all(&snaplen.to_le_bytes())?;
        out.write_all(&link_type.0.to_le_bytes())?;
        Ok(PcapWriter { out })
    }

    pub fn write_packet(&mut self, ts: Timestamp, data: &[u8], orig_len: u32) -> io::Result<()> {
        let secs = ts.secs().clamp(0, i64::from(u32::MAX)) as u32;
        let nanos = ts.nanos().rem_euclid(1_000_000_000) as u32;
        self.out.write_all(&secs.to_le_bytes())?;
        self.out.write_all(&nanos.to_le_bytes())?;
        self.out.write_all(&(data.len() as u32).to_le_bytes())?;
        self.out.write_all(&orig_len.to_le_bytes())?;
        self.out.write_all(data)
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}
