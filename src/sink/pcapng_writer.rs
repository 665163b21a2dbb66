//! Writing captures: classic pcap (for the project's own test scenarios) and pcapng with
//! per-packet comments (for `--write`), both little-endian.

use std::io::{self, Write};

use crate::model::LinkType;
use crate::model::timestamp::Timestamp;

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

/// A pcapng writer: one section, interfaces added on the fly, nanosecond timestamps, optional
/// packet comments and direction flags. `big_endian` exists so tests can cover both orders.
pub struct PcapngWriter<W: Write> {
    out: W,
    big_endian: bool,
}

impl<W: Write> PcapngWriter<W> {
    pub fn new(out: W, big_endian: bool) -> io::Result<Self> {
        let mut w = PcapngWriter { out, big_endian };
        w.section()?;
        Ok(w)
    }

    fn u16b(&self, v: u16) -> [u8; 2] {
        if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    fn u32b(&self, v: u32) -> [u8; 4] {
        if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    fn option(&self, body: &mut Vec<u8>, code: u16, value: &[u8]) {
        let len = value.len().min(0xfff0);
        body.extend_from_slice(&self.u16b(code));
        body.extend_from_slice(&self.u16b(len as u16));
        body.extend_from_slice(&value[..len]);
        body.resize(body.len() + (4 - len % 4) % 4, 0);
    }

    fn end_options(&self, body: &mut Vec<u8>) {
        body.extend_from_slice(&[0, 0, 0, 0]);
    }

    fn block(&mut self, block_type: u32, body: &[u8]) -> io::Result<()> {
        let len = (12 + body.len()) as u32;
        let (t, l) = (self.u32b(block_type), self.u32b(len));
        self.out.write_all(&t)?;
        self.out.write_all(&l)?;
        self.out.write_all(body)?;
        self.out.write_all(&l)
    }

    /// Starts a new section (the first is written by `new`); interface ids restart at 0.
    pub fn section(&mut self) -> io::Result<()> {
        let mut body = Vec::new();
        body.extend_from_slice(&self.u32b(0x1a2b_3c4d));
        body.extend_from_slice(&self.u16b(1));
        body.extend_from_slice(&self.u16b(0));
        body.extend_from_slice(&[0xff; 8]); // section length unknown
        self.option(&mut body, 4, b"rsthound");
        self.end_options(&mut body);
        self.block(0x0a0d_0d0a, &body)
    }

    /// Describes an interface with nanosecond timestamps (`tsresol` overrides, pcapng encoding).
    pub fn interface(
        &mut self,
        link_type: LinkType,
        snaplen: u32,
        name: Option<&str>,
        tsresol: Option<u8>,
    ) -> io::Result<()> {
        let mut body = Vec::new();
        body.extend_from_slice(&self.u16b(link_type.0 as u16));
        body.extend_from_slice(&[0, 0]);
        body.extend_from_slice(&self.u32b(snaplen));
        if let Some(n) = name {
            self.option(&mut body, 2, n.as_bytes());
        }
        self.option(&mut body, 9, &[tsresol.unwrap_or(9)]);
        self.end_options(&mut body);
        self.block(1, &body)
    }

    /// Writes an Enhanced Packet Block. `units` is the timestamp in the interface's resolution.
    pub fn packet_units(
        &mut self,
        iface: u32,
        units: u64,
        data: &[u8],
        orig_len: u32,
        inbound: Option<bool>,
        comment: Option<&str>,
    ) -> io::Result<()> {
        let comments = comment.as_slice();
        self.packet_comments(iface, units, data, orig_len, inbound, comments)
    }

    /// [`Self::packet_units`] with any number of `opt_comment`s, in order.
    pub fn packet_comments(
        &mut self,
        iface: u32,
        units: u64,
        data: &[u8],
        orig_len: u32,
        inbound: Option<bool>,
        comments: &[&str],
    ) -> io::Result<()> {
        let mut body = Vec::with_capacity(32 + data.len());
        body.extend_from_slice(&self.u32b(iface));
        body.extend_from_slice(&self.u32b((units >> 32) as u32));
        body.extend_from_slice(&self.u32b(units as u32));
        body.extend_from_slice(&self.u32b(data.len() as u32));
        body.extend_from_slice(&self.u32b(orig_len));
        body.extend_from_slice(data);
        body.resize(body.len() + (4 - data.len() % 4) % 4, 0);
        let mut has_opts = false;
        for c in comments {
            self.option(&mut body, 1, c.as_bytes());
            has_opts = true;
        }
        if let Some(inb) = inbound {
            let flags = self.u32b(if inb { 1 } else { 2 });
            self.option(&mut body, 2, &flags);
            has_opts = true;
        }
        if has_opts {
            self.end_options(&mut body);
        }
        self.block(6, &body)
    }

    /// Writes a packet on an interface with nanosecond resolution.
    pub fn packet(
        &mut self,
        iface: u32,
        ts: Timestamp,
        data: &[u8],
        inbound: Option<bool>,
        comment: Option<&str>,
    ) -> io::Result<()> {
        let units = ts.nanos().max(0) as u64;
        self.packet_units(iface, units, data, data.len() as u32, inbound, comment)
    }

    /// Writes a Simple Packet Block (interface 0, no timestamp).
    pub fn simple_packet(&mut self, data: &[u8]) -> io::Result<()> {
        let mut body = Vec::with_capacity(4 + data.len());
        body.extend_from_slice(&self.u32b(data.len() as u32));
        body.extend_from_slice(data);
        body.resize(body.len() + (4 - data.len() % 4) % 4, 0);
        self.block(3, &body)
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}
