//! The pipeline shared by `read` and `watch`: segments go through the tracker, and what it
//! concludes goes to the report, the line renderers and the optional pcapng writer. No IO but
//! the output it is given; time comes from the segments.

use crate::decode::TcpSegment;
use crate::keep::{Keeper, Source};
use crate::output::{
    write_conn_json, write_conn_text, write_note_json, write_note_text, write_rst_json,
    write_rst_text, write_unanswered_text,
};
use crate::report::Report;
use crate::sanitize::sanitize_text;
use crate::services::Services;
use crate::track::{Event, SegMeta, Tracker, TrackerConfig};
use std::fs::File;
use std::io::{self, BufWriter, Write};

/// Flush rendered lines in chunks of about this size.
pub const OUT_CHUNK: usize = 64 << 10;
/// Connections ended (and rendered) at a time at the end of the input.
const FINISH_BATCH: usize = 4096;

/// `--write FILE.pcapng`: opens the file; the error is one line naming it.
pub fn open_keeper(path: &str) -> Result<Keeper<BufWriter<File>>, String> {
    File::create(path)
        .and_then(|f| Keeper::new(BufWriter::new(f)))
        .map_err(|e| format!("{}: cannot write: {e}", sanitize_text(path.as_bytes(), 256)))
}

/// Finishes the `--write` file: `(path, packets written, packets dropped by the memory cap)`,
/// or the error line.
pub fn close_keeper(
    keeper: Keeper<BufWriter<File>>,
    path: &str,
) -> Result<(String, u64, u64), String> {
    let (written, dropped) = (keeper.written, keeper.dropped);
    let shown = sanitize_text(path.as_bytes(), 256);
    match keeper.finish().and_then(|mut w| w.flush()) {
        Ok(()) => Ok((shown, written, dropped)),
        Err(e) => Err(format!("{shown}: cannot write: {e}")),
    }
}

/// What to print per event.
#[derive(Debug, Clone, Copy, Default)]
pub struct Render {
    pub json: bool,
    /// List every connection (conn.log-like) instead of RST lines.
    pub connections: bool,
}

/// The pipeline of one run: tracker, report, renderers and the optional pcapng writer.
pub struct Engine<'o> {
    pub render: Render,
    pub tracker: Tracker,
    pub report: Report,
    pub keeper: Option<Keeper<BufWriter<File>>>,
    /// Rendered lines not yet written to `out`.
    pub buf: Vec<u8>,
    pub out: &'o mut dyn Write,
    pub unanswered: u64,
    /// Reused event buffer (swapped with the tracker's each packet).
    events: Vec<Event>,
}

impl Engine<'_> {
    pub fn new(
        cfg: TrackerConfig,
        services: Services,
        keeper: Option<Keeper<BufWriter<File>>>,
        render: Render,
        out: &'_ mut dyn Write,
    ) -> Engine<'_> {
        Engine {
            render,
            tracker: Tracker::new(cfg),
            report: Report::new(services),
            keeper,
            buf: Vec::with_capacity(OUT_CHUNK + 4096),
            out,
            unanswered: 0,
            events: Vec::new(),
        }
    }

    /// Tracks one segment, keeps its packet for `--write` and renders what it caused.
    #[allow(clippy::too_many_arguments)]
    pub fn segment(
        &mut self,
        meta: &SegMeta<'_>,
        seg: &TcpSegment<'_>,
        src: &Source<'_>,
        data: &[u8],
        orig_len: u32,
        file: &str,
        prefix: Option<&str>,
    ) -> io::Result<()> {
        let conn = self.tracker.observe(meta, seg);
        if let Some(k) = self.keeper.as_mut()
            && !seg.flags.rst()
        {
            k.offer(conn, src, meta.ts, data, orig_len)?;
        }
        self.drain(file, prefix, Some((src, data, orig_len)))
    }

    /// Renders and accounts the tracker's events; `current` is the packet that produced them.
    pub fn drain(
        &mut self,
        file: &str,
        prefix: Option<&str>,
        current: Option<(&Source<'_>, &[u8], u32)>,
    ) -> io::Result<()> {
        let mut events = std::mem::take(&mut self.events);
        self.tracker.take_events(&mut events);
        for ev in events.drain(..) {
            match ev {
                Event::Rst(r) => {
                    self.report.add_rst(&r);
                    if let (Some(k), Some((src, data, orig_len))) = (self.keeper.as_mut(), current)
                    {
                        k.rst(&r, src, data, orig_len)?;
                    }
                    if !self.render.connections {
                        if self.render.json {
                            write_rst_json(&mut self.buf, file, &r)?;
                        } else {
                            write_rst_text(&mut self.buf, prefix, &r)?;
                        }
                    }
                }
                Event::Ended(c) => {
                    self.report.add_ended(&c);
                    if let Some(k) = self.keeper.as_mut() {
                        k.ended(&c)?;
                    }
                    let unanswered = c.conn_state == "S0";
                    self.unanswered += u64::from(unanswered);
                    if self.render.connections {
                        if self.render.json {
                            write_conn_json(&mut self.buf, "conn", &c)?;
                        } else {
                            write_conn_text(&mut self.buf, &c)?;
                        }
                    } else if unanswered {
                        if self.render.json {
                            write_conn_json(&mut self.buf, "unanswered", &c)?;
                        } else {
                            write_unanswered_text(&mut self.buf, &c)?;
                        }
                    }
                }
                Event::Closed(c) => {
                    self.report.add_closed(&c);
                    if let Some(k) = self.keeper.as_mut() {
                        k.forget(c.id);
                    }
                }
                Event::KeptTalking {
                    ts,
                    conn_id,
                    sender,
                } => {
                    self.report.add_kept_talking(ts, sender);
                    if !self.render.connections {
                        if self.render.json {
                            write_note_json(&mut self.buf, ts, conn_id, &sender)?;
                        } else {
                            write_note_text(&mut self.buf, ts, &sender)?;
                        }
                    }
                }
            }
        }
        self.events = events;
        if self.buf.len() >= OUT_CHUNK {
            self.flush()?;
        }
        Ok(())
    }

    /// Ends every connection, a batch at a time so that the summaries of a full table never
    /// all exist at once, rendering each batch unless `render` is false (the output is gone).
    pub fn finish(&mut self, render: bool) -> io::Result<()> {
        let mut r = Ok(());
        loop {
            let more = self.tracker.finish_some(FINISH_BATCH);
            if render && r.is_ok() {
                r = self.drain("", None, None);
            } else {
                let _ = self.tracker.drain().count();
            }
            if !more {
                break;
            }
        }
        if render {
            r = r.and_then(|_| self.flush()).and_then(|_| self.out.flush());
        }
        r
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }
}
