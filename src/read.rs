//! `rsthound read`: every RST in one or more capture files, classified and explained, the
//! connection attempts that were never answered, and a ranked summary of what went wrong.

use crate::capture::{CaptureError, CaptureReader, open_input};
use crate::decode::{Outcome, decode};
use crate::keep::{Keeper, Source};
use crate::output::{
    write_conn_json, write_conn_text, write_note_json, write_note_text, write_raw_json,
    write_raw_text, write_rst_json, write_rst_text, write_unanswered_text,
};
use crate::report::Report;
use crate::sanitize::sanitize_text;
use crate::services::Services;
use crate::stats::DecodeStats;
use crate::track::{Event, SegMeta, Tracker, TrackerConfig, TrackerStats};
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};

/// Files at least this large get a progress bar (when stderr is a terminal).
const PROGRESS_MIN_BYTES: u64 = 64 << 20;
/// Flush rendered lines in chunks of about this size.
const OUT_CHUNK: usize = 64 << 10;
/// Connections ended (and rendered) at a time at the end of the input.
const FINISH_BATCH: usize = 4096;
/// Update the progress bar every this many packets: the update itself is not free.
const PROGRESS_EVERY: u64 = 1 << 15;

#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    pub json: bool,
    /// No summary on stderr.
    pub quiet: bool,
    /// Allow a progress bar when stderr is a terminal.
    pub progress: bool,
    /// List every connection (conn.log-like) instead of RST lines.
    pub connections: bool,
    /// Write the packets of failed and reset connections to this pcapng.
    pub write: Option<String>,
    /// Cap on tracked connections (default: sized for about 256 MiB).
    pub max_conns: Option<usize>,
    /// Services file to name ports (default `/etc/services`).
    pub services: Option<Services>,
    /// Only list RST segments, without tracking connections (no verdicts, no findings): the
    /// fastest way through a very large capture.
    pub raw: bool,
}

/// What a `read` run saw, for the summary and the exit code.
#[derive(Debug, Default)]
pub struct ReadReport {
    pub stats: DecodeStats,
    pub files: usize,
    /// One line per file that could not be read to its end: `FILE: offset N: what`.
    pub errors: Vec<String>,
    /// The output was closed early (e.g. piped into `head`); not an error.
    pub stopped_by_reader: bool,
    pub tracker: TrackerStats,
    /// Connections the tracker could hold at once.
    pub max_conns: usize,
    pub unanswered: u64,
    pub written: Option<(String, u64, u64)>,
    /// The ranked findings, rendered as text.
    pub findings_text: String,
    pub findings_json: serde_json::Value,
}

impl ReadReport {
    pub fn exit_code(&self) -> i32 {
        if self.errors.is_empty() { 0 } else { 1 }
    }
}

/// The pipeline of one run: tracker, report, renderers and the optional pcapng writer.
struct Engine<'o> {
    opts: &'o ReadOptions,
    tracker: Tracker,
    report: Report,
    keeper: Option<Keeper<BufWriter<File>>>,
    buf: Vec<u8>,
    out: &'o mut dyn Write,
    unanswered: u64,
    /// Reused event buffer (swapped with the tracker's each packet).
    events: Vec<Event>,
}

enum ReadError {
    Capture(CaptureError),
    Output(io::Error),
}

impl From<CaptureError> for ReadError {
    fn from(e: CaptureError) -> Self {
        ReadError::Capture(e)
    }
}

impl Engine<'_> {
    /// Renders and accounts the tracker's events; `current` is the packet that produced them.
    fn drain(
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
                    if !self.opts.connections {
                        if self.opts.json {
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
                    if self.opts.connections {
                        if self.opts.json {
                            write_conn_json(&mut self.buf, "conn", &c)?;
                        } else {
                            write_conn_text(&mut self.buf, &c)?;
                        }
                    } else if unanswered {
                        if self.opts.json {
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
                    if !self.opts.connections {
                        if self.opts.json {
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

    fn flush(&mut self) -> io::Result<()> {
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }
}

/// Reads `paths` in order, writing lines to `out` and error lines to `err` as they happen.
pub fn read_files(
    paths: &[String],
    opts: &ReadOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> ReadReport {
    let mut report = ReadReport::default();
    let mut cfg = TrackerConfig {
        // The RST lines and the findings only need the full summary of unanswered attempts.
        summarize_all_ended: opts.connections,
        ..TrackerConfig::default()
    };
    if let Some(m) = opts.max_conns {
        cfg.max_conns = m.max(1);
    }
    report.max_conns = cfg.max_conns;
    let keeper = match &opts.write {
        Some(path) => match File::create(path).and_then(|f| Keeper::new(BufWriter::new(f))) {
            Ok(k) => Some(k),
            Err(e) => {
                let line = format!("{}: cannot write: {e}", sanitize_text(path.as_bytes(), 256));
                let _ = writeln!(err, "rsthound: {line}");
                report.errors.push(line);
                return report;
            }
        },
        None => None,
    };
    let mut engine = Engine {
        opts,
        tracker: Tracker::new(cfg),
        report: Report::new(opts.services.clone().unwrap_or_else(Services::load)),
        keeper,
        buf: Vec::with_capacity(OUT_CHUNK + 4096),
        out,
        unanswered: 0,
        events: Vec::new(),
    };
    let multi = paths.len() > 1;
    for (file_no, path) in paths.iter().enumerate() {
        let name = if path == "-" {
            "<stdin>".to_string()
        } else {
            sanitize_text(path.as_bytes(), 256)
        };
        report.files += 1;
        let mut stats = DecodeStats::default();
        let result = read_one(path, &name, file_no, multi, &mut engine, &mut stats);
        report.stats.merge(&stats);
        match result {
            Ok(()) => {}
            Err(ReadError::Output(e)) => {
                if e.kind() == io::ErrorKind::BrokenPipe {
                    report.stopped_by_reader = true;
                } else {
                    let line = format!("<output>: {e}");
                    let _ = writeln!(err, "rsthound: {line}");
                    report.errors.push(line);
                }
                return finish(engine, report, false);
            }
            Err(ReadError::Capture(e)) => {
                // Flush what was found before the damage, then say where the damage is.
                if let Err(e) = engine.flush() {
                    report.stopped_by_reader = e.kind() == io::ErrorKind::BrokenPipe;
                    return finish(engine, report, false);
                }
                let line = format!("{name}: {e}");
                let _ = writeln!(err, "rsthound: {line}");
                report.errors.push(line);
            }
        }
    }
    finish(engine, report, true)
}

/// Ends all connections, renders the last events and fills in the report.
fn finish(mut engine: Engine<'_>, mut report: ReadReport, render: bool) -> ReadReport {
    // End the connections a batch at a time, rendering each batch, so that the summaries of a
    // full table never all exist at once.
    let mut r = Ok(());
    loop {
        let more = engine.tracker.finish_some(FINISH_BATCH);
        if render && r.is_ok() {
            r = engine.drain("", None, None);
        } else {
            let _ = engine.tracker.drain().count();
        }
        if !more {
            break;
        }
    }
    if render {
        r = r
            .and_then(|_| engine.flush())
            .and_then(|_| engine.out.flush());
    }
    if let Err(e) = r {
        if e.kind() == io::ErrorKind::BrokenPipe {
            report.stopped_by_reader = true;
        } else {
            report.errors.push(format!("<output>: {e}"));
        }
    }
    report.tracker = engine.tracker.stats.clone();
    report.unanswered = engine.unanswered;
    if !engine.opts.raw {
        report.findings_text = engine.report.render_text();
    }
    report.findings_json = engine.report.to_json();
    if let (Some(k), Some(path)) = (engine.keeper.take(), engine.opts.write.as_ref()) {
        let (written, dropped) = (k.written, k.dropped);
        match k.finish().and_then(|mut w| w.flush()) {
            Ok(()) => {
                report.written = Some((sanitize_text(path.as_bytes(), 256), written, dropped))
            }
            Err(e) => report.errors.push(format!(
                "{}: cannot write: {e}",
                sanitize_text(path.as_bytes(), 256)
            )),
        }
    }
    report
}

fn read_one(
    path: &str,
    name: &str,
    file_no: usize,
    multi: bool,
    engine: &mut Engine<'_>,
    stats: &mut DecodeStats,
) -> Result<(), ReadError> {
    let input = open_input(path)?;
    let progress = progress_bar(engine.opts, input.size, name);
    let consumed = input.consumed.clone();
    let mut reader = CaptureReader::new(input.reader)?;
    let prefix = multi.then_some(name);
    let mut frame = 0u64;
    let result = loop {
        let packet = match reader.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break Ok(()),
            Err(e) => break Err(ReadError::Capture(e)),
        };
        frame += 1;
        stats.packets += 1;
        stats.bytes += packet.data.len() as u64;
        let outcome = decode(packet.link_type, packet.data);
        stats.count(&outcome);
        if engine.opts.raw {
            if let Outcome::Tcp(seg) = &outcome
                && seg.flags.rst()
            {
                let r = if engine.opts.json {
                    write_raw_json(&mut engine.buf, name, frame, &packet, seg)
                } else {
                    write_raw_text(&mut engine.buf, prefix, &packet, seg)
                };
                r.map_err(ReadError::Output)?;
                if engine.buf.len() >= OUT_CHUNK {
                    engine.flush().map_err(ReadError::Output)?;
                }
            }
        } else if let Outcome::Tcp(seg) = &outcome {
            let meta = SegMeta {
                ts: packet.ts,
                frame,
                link_type: packet.link_type,
                iface: packet.iface as u32,
                iface_name: packet.iface_name,
                direction: packet.direction,
            };
            let conn = engine.tracker.observe(&meta, seg);
            let src = Source {
                file: file_no,
                iface: packet.iface,
                link_type: packet.link_type,
                name: packet.iface_name,
            };
            if let Some(k) = engine.keeper.as_mut()
                && !seg.flags.rst()
            {
                k.offer(conn, &src, packet.ts, packet.data, packet.orig_len)
                    .map_err(ReadError::Output)?;
            }
            engine
                .drain(name, prefix, Some((&src, packet.data, packet.orig_len)))
                .map_err(ReadError::Output)?;
        }
        if frame.is_multiple_of(PROGRESS_EVERY)
            && let Some(bar) = &progress
        {
            bar.set_position(consumed.get());
        }
    };
    stats
        .link_types
        .extend(reader.interfaces().iter().map(|i| i.link_type));
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    result
}

fn progress_bar(
    opts: &ReadOptions,
    size: Option<u64>,
    name: &str,
) -> Option<indicatif::ProgressBar> {
    if !opts.progress || opts.quiet || !io::stderr().is_terminal() {
        return None;
    }
    let size = size.filter(|s| *s >= PROGRESS_MIN_BYTES)?;
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(size),
        indicatif::ProgressDrawTarget::stderr(),
    );
    let style = indicatif::ProgressStyle::with_template(
        "{msg} {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(name.to_string());
    Some(bar)
}

/// The summary printed on stderr after the lines: what was read, what could not be seen, and
/// the ranked findings.
pub fn summary(report: &ReadReport) -> String {
    let s = &report.stats;
    let mut text = format!(
        "rsthound: {} file{}, {} packets ({}), {} TCP segments, {} RSTs, {} connections, {} unanswered\n",
        report.files,
        if report.files == 1 { "" } else { "s" },
        s.packets,
        human_bytes(s.bytes),
        s.tcp,
        s.rsts,
        report.tracker.conns,
        report.unanswered
    );
    if !s.not_tcp.is_empty() {
        let parts: Vec<String> = s
            .not_tcp
            .iter()
            .map(|(k, v)| format!("{v} {}", k.as_str()))
            .collect();
        text.push_str(&format!("  not TCP: {}\n", parts.join(", ")));
    }
    let undecodable = s.undecodable_total();
    if undecodable > 0 {
        let mut parts: Vec<(u64, String)> = s
            .undecodable
            .iter()
            .map(|(k, v)| (*v, k.to_string()))
            .collect();
        parts.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let mut list: Vec<String> = parts.into_iter().map(|(v, k)| format!("{v} {k}")).collect();
        if s.undecodable_other > 0 {
            list.push(format!(
                "{} for other reasons (reason table full)",
                s.undecodable_other
            ));
        }
        text.push_str(&format!(
            "  not decoded: {undecodable} packet{} ({}); RSTs inside them are not counted\n",
            if undecodable == 1 { "" } else { "s" },
            list.join(", ")
        ));
    }
    let t = &report.tracker;
    if t.evicted > 0 {
        text.push_str(&format!(
            "  connection table full ({} connections max, --max-conns): {} connections evicted early; their later packets were tracked as new connections\n",
            report.max_conns, t.evicted
        ));
    }
    if let Some((path, written, dropped)) = &report.written {
        text.push_str(&format!(
            "  wrote {written} packets of failed and reset connections to {path}\n"
        ));
        if *dropped > 0 {
            text.push_str(&format!(
                "  {dropped} packets were not kept for {path}: pending-packet memory cap reached\n"
            ));
        }
    }
    if !report.errors.is_empty() {
        text.push_str(&format!(
            "  {} input{} could not be read to the end (see the error lines above)\n",
            report.errors.len(),
            if report.errors.len() == 1 { "" } else { "s" }
        ));
    }
    if report.stopped_by_reader {
        text.push_str("  output closed early: the counts cover only what was read until then\n");
    }
    if !report.findings_text.is_empty() {
        text.push('\n');
        text.push_str(&report.findings_text);
        if !report.findings_text.ends_with('\n') {
            text.push('\n');
        }
    }
    text
}

fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}
