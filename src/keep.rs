//! `--write FILE.pcapng`: the packets of failed and reset connections — their handshake and the
//! RST — for Wireshark, each RST with a packet comment giving rsthound's verdict. The first few
//! packets of every connection are kept (cut to their headers) until its fate is known; the
//! memory this takes is capped and what the cap dropped is counted.

use crate::capture::LinkType;
use crate::capture::writer::PcapngWriter;
use crate::timestamp::Timestamp;
use crate::track::{ConnSummary, RstEvent};
use std::collections::HashMap;
use std::io::{self, Write};

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

/// Where a packet came from, for the output's interface table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Source<'a> {
    pub file: usize,
    pub iface: usize,
    pub link_type: LinkType,
    pub name: Option<&'a str>,
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

    fn iface(&mut self, src: &Source<'_>) -> io::Result<u32> {
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
        src: &Source<'_>,
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
        src: &Source<'_>,
        data: &[u8],
        orig_len: u32,
    ) -> io::Result<()> {
        self.flush_conn(ev.conn.id, None)?;
        let iface = self.iface(src)?;
        let comment = format!("rsthound: {}: {}", ev.verdict.as_str(), ev.evidence);
        let cut = &data[..data.len().min(SNAP)];
        self.out.packet_units(
            iface,
            ev.ts.nanos().max(0) as u64,
            cut,
            orig_len,
            None,
            Some(&comment),
        )?;
        self.written += 1;
        Ok(())
    }

    /// A connection ended: unanswered attempts are written, the rest forgotten.
    pub fn ended(&mut self, c: &ConnSummary) -> io::Result<()> {
        if c.conn_state == "S0" {
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
