//! Output formats. Each implements [`crate::engine::EventSink`]: the engine hands over typed
//! events (RSTs, ended connections, storm lines) and a sink decides how they look.
//!
//! - [`text`]: one line per event for a terminal, and the run's summary;
//! - [`json`]: one JSON object per line, every record type defined in [`schema`];
//! - [`pcapng`]: the packets of failed and reset connections, with verdict comments.
//!
//! A command picks one line sink (text or JSON) and optionally the pcapng sink; [`Output`]
//! feeds both.

pub mod connect_errors;
pub mod counters;
pub mod diagnosis;
pub mod findings;
pub mod json;
pub mod listeners;
pub mod pcapng;
pub mod pcapng_writer;
pub mod schema;
pub mod text;

use crate::engine::storm::StormLine;
use crate::engine::track::{ClosedConn, ConnSummary, Endpoint, RstEvent};
use crate::engine::{EventSink, PacketRef, Place};
use crate::model::Timestamp;
use json::JsonSink;
use pcapng::{PcapngSink, Written};
use std::io::{self, Write};
use text::TextSink;

/// Write rendered lines in chunks of about this size.
pub const OUT_CHUNK: usize = 64 << 10;

/// Rendered lines on their way to the output, written in chunks.
pub struct LineBuf<'o> {
    pub buf: Vec<u8>,
    pub out: &'o mut dyn Write,
}

impl<'o> LineBuf<'o> {
    pub fn new(out: &'o mut dyn Write) -> Self {
        LineBuf {
            buf: Vec::with_capacity(OUT_CHUNK + 4096),
            out,
        }
    }

    /// Writes what gathered once it fills a chunk; `all`: everything now, and flushes.
    pub fn flush(&mut self, all: bool) -> io::Result<()> {
        if all || self.buf.len() >= OUT_CHUNK {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        if all {
            self.out.flush()?;
        }
        Ok(())
    }
}

/// The line format a command chose.
pub enum Lines<'o> {
    Text(TextSink<'o>),
    Json(JsonSink<'o>),
}

impl<'o> Lines<'o> {
    /// Text or JSON lines to `out`; `connections` lists connections instead of RSTs.
    pub fn new(json: bool, connections: bool, out: &'o mut dyn Write) -> Self {
        let out = LineBuf::new(out);
        if json {
            Lines::Json(JsonSink { out, connections })
        } else {
            Lines::Text(TextSink { out, connections })
        }
    }

    /// The buffer lines go through, for records a command writes itself.
    pub fn buf(&mut self) -> &mut LineBuf<'o> {
        match self {
            Lines::Text(t) => &mut t.out,
            Lines::Json(j) => &mut j.out,
        }
    }

    fn sink(&mut self) -> &mut dyn EventSink {
        match self {
            Lines::Text(t) => t,
            Lines::Json(j) => j,
        }
    }
}

/// What a `read` or `watch` run writes: its lines, and the pcapng file of `--write`.
pub struct Output<'o> {
    pub lines: Lines<'o>,
    pub pcapng: Option<PcapngSink>,
    /// `diagnose`: the typed tally of every RST and failed attempt.
    pub tally: Option<crate::engine::diagnosis::tally::Tally>,
}

impl Output<'_> {
    /// Ends the `--write` file, if there is one: what it holds, or the error line.
    pub fn close_write(&mut self) -> Option<Result<Written, pcapng::WriteError>> {
        self.pcapng.take().map(PcapngSink::close)
    }
}

impl EventSink for Output<'_> {
    fn wants_packets(&self) -> bool {
        self.pcapng.is_some()
    }

    fn packet(&mut self, conn: u64, ts: Timestamp, packet: PacketRef<'_>) -> io::Result<()> {
        match &mut self.pcapng {
            Some(p) => p.packet(conn, ts, packet),
            None => Ok(()),
        }
    }

    fn rst(
        &mut self,
        place: Place<'_>,
        ev: &RstEvent,
        shown: bool,
        packet: Option<PacketRef<'_>>,
    ) -> io::Result<()> {
        if let Some(t) = &mut self.tally {
            t.rst(ev);
        }
        if let Some(p) = &mut self.pcapng {
            p.rst(place, ev, shown, packet)?;
        }
        self.lines.sink().rst(place, ev, shown, packet)
    }

    fn ended(&mut self, c: &ConnSummary) -> io::Result<()> {
        if let Some(t) = &mut self.tally {
            t.ended(c);
        }
        if let Some(p) = &mut self.pcapng {
            p.ended(c)?;
        }
        self.lines.sink().ended(c)
    }

    fn closed(&mut self, c: &ClosedConn) -> io::Result<()> {
        if let Some(t) = &mut self.tally {
            t.closed(c);
        }
        if let Some(p) = &mut self.pcapng {
            p.closed(c)?;
        }
        Ok(())
    }

    fn kept_talking(&mut self, ts: Timestamp, conn_id: u64, sender: &Endpoint) -> io::Result<()> {
        self.lines.sink().kept_talking(ts, conn_id, sender)
    }

    fn storm(&mut self, place: Place<'_>, line: &StormLine) -> io::Result<()> {
        self.lines.sink().storm(place, line)
    }

    fn flush(&mut self, all: bool) -> io::Result<()> {
        self.lines.sink().flush(all)
    }
}

#[cfg(test)]
mod storm_tests {
    use crate::engine::storm::StormLine;
    use crate::engine::track::{Endpoint, Verdict};
    use crate::model::Timestamp;

    #[test]
    fn storm_lines_in_text_and_json() {
        let line = StormLine {
            second: 1_763_730_942, // 13:15:42 UTC
            from: Endpoint {
                ip: "127.0.0.1".parse().unwrap(),
                port: 7211,
            },
            verdict: Verdict::Refused,
            shown: 20,
            suppressed: 185_073,
            peers: 1,
            peers_saturated: false,
            first: Timestamp::from_nanos(1_763_730_942_100_000_000, 9),
            last: Timestamp::from_nanos(1_763_730_942_999_000_000, 9),
        };
        let mut out = Vec::new();
        crate::sink::text::write_storm_text(&mut out, None, &line).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "13:15:42 storm: 185073 more RSTs from 127.0.0.1:7211 (refused) to 1 host in this second, not shown one by one (20 were)\n"
        );
        let mut out = Vec::new();
        crate::sink::json::write_storm_json(&mut out, &line).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with(
                r#"{"type":"rst_storm","second":"2025-11-21T13:15:42Z","from":"127.0.0.1:7211","#
            ),
            "{text}"
        );
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["count"], 185_073);
        assert_eq!(v["verdict"], "refused");
        assert_eq!(v["first"], "2025-11-21T13:15:42.100000000Z");
    }
}
