//! The pipeline shared by `read` and `watch`: segments go through the tracker, and what it
//! concludes goes to the report, the line renderers and the optional pcapng writer. No IO but
//! the output it is given; time comes from the segments.

pub mod attribution;
pub mod kevent;

use crate::decode::TcpSegment;
use crate::keep::{Keeper, Source};
use crate::output::{
    write_conn_json, write_conn_text, write_note_json, write_note_text, write_rst_json,
    write_rst_text, write_storm_json, write_storm_text, write_unanswered_text,
};
use crate::report::Report;
use crate::sanitize::sanitize_text;
use crate::services::Services;
use crate::storm::{StormGate, StormLine};
use crate::track::{Event, RstBoxes, SPARE_RSTS, SegMeta, Tracker, TrackerConfig};
use std::fs::File;
use std::io::{self, BufWriter, Write};

/// Flush rendered lines in chunks of about this size.
pub const OUT_CHUNK: usize = 64 << 10;
/// How many events ahead [`Engine::consume`] prefetches the report's index buckets for an RST
/// (and half as far ahead, its groups).
const REPORT_AHEAD: usize = 8;
/// Connections ended (and rendered) at a time at the end of the input.
pub const FINISH_BATCH: usize = 4096;

/// What `--write FILE.pcapng` produced: the file (sanitized for the terminal), packets written,
/// and packets the pending-memory cap dropped.
pub type Written = (String, u64, u64);

/// Appends the summary lines about the `--write` file, if any.
pub fn push_written(text: &mut String, written: Option<&Written>) {
    if let Some((path, written, dropped)) = written {
        text.push_str(&format!(
            "  wrote {written} packets of failed and reset connections to {path}\n"
        ));
        if *dropped > 0 {
            text.push_str(&format!(
                "  {dropped} packets were not kept for {path}: pending-packet memory cap reached\n"
            ));
        }
    }
}

/// Appends the ranked findings, after a blank line, ending with a newline.
pub fn push_findings(text: &mut String, findings: &str) {
    if !findings.is_empty() {
        text.push('\n');
        text.push_str(findings);
        if !findings.ends_with('\n') {
            text.push('\n');
        }
    }
}

/// What a command asks of the engine, from its options.
pub struct Setup<'a> {
    pub cfg: TrackerConfig,
    /// `--max-conns`, overriding `cfg.max_conns`.
    pub max_conns: Option<usize>,
    /// `--write FILE.pcapng`.
    pub write: Option<&'a str>,
    /// Port names; `None` reads `/etc/services`.
    pub services: Option<&'a Services>,
    pub render: Render,
    /// Storm mode: RST lines per second per resetting endpoint and verdict; 0 shows every RST.
    pub storm_limit: u32,
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
    /// Connections the tracker holds at once.
    pub max_conns: usize,
    pub tracker: Tracker,
    pub report: Report,
    keeper: Option<(Keeper<BufWriter<File>>, String)>,
    /// Rendered lines not yet written to `out`.
    pub buf: Vec<u8>,
    pub out: &'o mut dyn Write,
    pub unanswered: u64,
    /// Reused event buffer (swapped with the tracker's each packet).
    events: Vec<Event>,
    /// Boxes of RST events rendered and added to the report, for the tracker to reuse.
    spent_rsts: RstBoxes,
    /// Which RST lines are shown one by one (storm mode).
    pub storm: StormGate,
    /// Storm lines due, reused.
    storm_due: Vec<StormLine>,
}

impl Engine<'_> {
    /// Builds the pipeline: applies `--max-conns`, opens the `--write` file, reads the
    /// services. The error is one line naming the file.
    pub fn open<'o>(setup: Setup<'_>, out: &'o mut dyn Write) -> Result<Engine<'o>, String> {
        let mut cfg = setup.cfg;
        if let Some(m) = setup.max_conns {
            cfg.max_conns = m;
        }
        let keeper = match setup.write {
            Some(path) => Some((
                File::create(path)
                    .and_then(|f| Keeper::new(BufWriter::new(f)))
                    .map_err(|e| {
                        format!("{}: cannot write: {e}", sanitize_text(path.as_bytes(), 256))
                    })?,
                path.to_string(),
            )),
            None => None,
        };
        // The tracker brings the cap within what it can hold; the summary says the one in effect.
        let tracker = Tracker::new(cfg);
        Ok(Engine {
            render: setup.render,
            max_conns: tracker.max_conns(),
            tracker,
            report: Report::new(setup.services.cloned().unwrap_or_else(Services::load)),
            keeper,
            buf: Vec::with_capacity(OUT_CHUNK + 4096),
            out,
            unanswered: 0,
            events: Vec::new(),
            spent_rsts: Vec::new(),
            storm: StormGate::new(setup.storm_limit),
            storm_due: Vec::new(),
        })
    }

    /// [`Engine::open`] for a command: the error line goes to `err` (after `rsthound: `) and
    /// into `errors`, and there is no engine.
    pub fn open_or_report<'o>(
        setup: Setup<'_>,
        out: &'o mut dyn Write,
        err: &mut dyn Write,
        errors: &mut Vec<String>,
    ) -> Option<Engine<'o>> {
        match Engine::open(setup, out) {
            Ok(e) => Some(e),
            Err(line) => {
                let _ = writeln!(err, "rsthound: {line}");
                errors.push(line);
                None
            }
        }
    }

    /// Finishes the `--write` file, if there is one: what it holds, or the error line.
    pub fn close_write(&mut self) -> Option<Result<Written, String>> {
        let (keeper, path) = self.keeper.take()?;
        let (written, dropped) = (keeper.written, keeper.dropped);
        let shown = sanitize_text(path.as_bytes(), 256);
        Some(match keeper.finish().and_then(|mut w| w.flush()) {
            Ok(()) => Ok((shown, written, dropped)),
            Err(e) => Err(format!("{shown}: cannot write: {e}")),
        })
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
        if let Some((k, _)) = self.keeper.as_mut()
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
        // Most segments (a SYN, a FIN) produce no event: nothing to swap or render.
        if !self.tracker.has_events() {
            return Ok(());
        }
        let mut events = std::mem::take(&mut self.events);
        self.tracker.take_events(&mut events);
        let r = self.consume(&mut events, file, prefix, current);
        self.events = events;
        self.tracker.recycle_rsts(&mut self.spent_rsts);
        r
    }

    /// Moves the boxes of the RST events [`Engine::consume`] is done with into `into`, for the
    /// tracker that made them (on another thread: [`Tracker::recycle_rsts`] there).
    pub fn hand_back_rsts(&mut self, into: &mut RstBoxes) {
        into.append(&mut self.spent_rsts);
    }

    /// Renders and accounts events a tracker produced (here, or on another thread), in their
    /// order; leaves `events` empty.
    pub fn consume(
        &mut self,
        events: &mut Vec<Event>,
        file: &str,
        prefix: Option<&str>,
        current: Option<(&Source<'_>, &[u8], u32)>,
    ) -> io::Result<()> {
        // The report's groups are cache misses (tens of thousands of keys): their index
        // buckets are prefetched for the RST some events ahead, and the groups themselves for
        // the one half as far ahead.
        let mut rest = events.drain(..);
        loop {
            let ahead = rest.as_slice();
            if let Some(Event::Rst(r)) = ahead.get(REPORT_AHEAD) {
                self.report.prefetch_rst_index(r);
            }
            if let Some(Event::Rst(r)) = ahead.get(REPORT_AHEAD / 2) {
                self.report.prefetch_rst_groups(r);
            }
            let Some(ev) = rest.next() else { break };
            match ev {
                Event::Rst(r) => {
                    self.report.add_rst(&r);
                    if let (Some((k, _)), Some((src, data, orig_len))) =
                        (self.keeper.as_mut(), current)
                    {
                        k.rst(&r, src, data, orig_len)?;
                    }
                    let shown = !self.render.connections
                        && self
                            .storm
                            .admit(r.ts, r.from, r.verdict, r.to.ip, &mut self.storm_due);
                    if !self.storm_due.is_empty() {
                        self.render_storms(prefix)?;
                    }
                    if shown {
                        if self.render.json {
                            write_rst_json(&mut self.buf, file, &r)?;
                        } else {
                            write_rst_text(&mut self.buf, prefix, &r)?;
                        }
                    }
                    if self.spent_rsts.len() < SPARE_RSTS {
                        self.spent_rsts.push(r);
                    }
                }
                Event::Ended(c) => {
                    self.report.add_ended(&c);
                    if let Some((k, _)) = self.keeper.as_mut() {
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
                    if let Some((k, _)) = self.keeper.as_mut() {
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
        if self.buf.len() >= OUT_CHUNK {
            self.flush()?;
        }
        Ok(())
    }

    /// Storm lines for seconds that ended before `now_secs` (wall clock: a storm that stopped).
    pub fn storm_tick(&mut self, now_secs: i64) -> io::Result<()> {
        self.storm.tick(now_secs, &mut self.storm_due);
        self.render_storms(None)
    }

    fn render_storms(&mut self, prefix: Option<&str>) -> io::Result<()> {
        for line in self.storm_due.drain(..) {
            if self.render.json {
                write_storm_json(&mut self.buf, &line)?;
            } else {
                write_storm_text(&mut self.buf, prefix, &line)?;
            }
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
        self.storm.finish(&mut self.storm_due);
        if render {
            r = r.and_then(|_| self.render_storms(None));
        } else {
            self.storm_due.clear();
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
