//! `rsthound read`: every RST in one or more capture files, classified and explained, the
//! connection attempts that were never answered, and a ranked summary of what went wrong.

use crate::capture::{CaptureError, CaptureReader, FileAccess, LinkType, Packet, open_input};
use crate::decode::{Outcome, Tcp4, decode, ethernet_ipv4_tcp};
use crate::engine::{Engine, OUT_CHUNK, Render, Setup, Written, push_findings, push_written};
use crate::keep::Source;
use crate::output::{write_raw_json, write_raw_text};
use crate::pipeline::{self, Tracked};
use crate::sanitize::sanitize_text;
use crate::services::Services;
use crate::stats::DecodeStats;
use crate::track::{SegMeta, Tracker, TrackerConfig, TrackerStats};
use std::io::{self, IsTerminal, Write};

/// Files at least this large get a progress bar (when stderr is a terminal).
const PROGRESS_MIN_BYTES: u64 = 64 << 20;
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
    /// Read regular files with `read()` instead of memory-mapping them.
    pub no_mmap: bool,
    /// Decode, track and report on one thread (otherwise tracked reading uses three when the
    /// machine has more than one CPU).
    pub single_thread: bool,
    /// The process exits once the summary is written: the connection table and the report's
    /// groupings are then left for the exit to take back instead of being freed one by one
    /// (hundreds of thousands of allocations, all after the last packet, where nothing else
    /// runs beside it).
    pub exiting: bool,
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
    pub written: Option<Written>,
    /// The ranked findings, rendered as text.
    pub findings_text: String,
    pub findings_json: serde_json::Value,
}

impl ReadReport {
    pub fn exit_code(&self) -> i32 {
        if self.errors.is_empty() { 0 } else { 1 }
    }
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

/// Reads `paths` in order, writing lines to `out` and error lines to `err` as they happen.
pub fn read_files(
    paths: &[String],
    opts: &ReadOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> ReadReport {
    let mut report = ReadReport::default();
    let setup = Setup {
        cfg: TrackerConfig {
            // The RST lines and the findings only need the full summary of unanswered attempts.
            summarize_all_ended: opts.connections,
            ..TrackerConfig::default()
        },
        max_conns: opts.max_conns,
        write: opts.write.as_deref(),
        services: opts.services.as_ref(),
        render: Render {
            json: opts.json,
            connections: opts.connections,
        },
        // A capture is read to be searched: every RST gets its line.
        storm_limit: 0,
    };
    let Some(mut engine) = Engine::open_or_report(setup, out, err, &mut report.errors) else {
        return report;
    };
    report.max_conns = engine.max_conns;
    let multi = paths.len() > 1;
    // `--write` keeps packets' bytes, which the decoding thread does not hand on.
    let pipelined = !opts.raw
        && opts.write.is_none()
        && !opts.single_thread
        && std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
    if pipelined && let Some(render) = read_pipelined(paths, opts, &mut engine, &mut report, err) {
        return finish(engine, opts, report, render);
    }
    for (file_no, path) in paths.iter().enumerate() {
        let name = display_name(path);
        report.files += 1;
        let mut stats = DecodeStats::default();
        let result = read_one(path, &name, file_no, multi, opts, &mut engine, &mut stats);
        report.stats.merge(&stats);
        match result {
            Ok(()) => {}
            Err(ReadError::Output(e)) => {
                output_failed(&mut report, err, &e);
                return finish(engine, opts, report, false);
            }
            Err(ReadError::Capture(e)) => {
                if let Err(e) = file_failed(&mut engine, &mut report, err, &name, &e) {
                    output_failed(&mut report, err, &e);
                    return finish(engine, opts, report, false);
                }
            }
        }
    }
    finish(engine, opts, report, true)
}

/// A file's name as the output shows it.
pub(crate) fn display_name(path: &str) -> String {
    if path == "-" {
        "<stdin>".to_string()
    } else {
        sanitize_text(path.as_bytes(), 256)
    }
}

/// [`read_files`] with decoding and tracking on threads of their own (see [`crate::pipeline`]):
/// the same output, handled here in the same order as the loop over files does. Returns
/// whether the output is still open, or `None` (nothing done) if the threads could not start.
fn read_pipelined(
    paths: &[String],
    opts: &ReadOptions,
    engine: &mut Engine<'_>,
    report: &mut ReadReport,
    err: &mut dyn Write,
) -> Option<bool> {
    let names: Vec<String> = paths.iter().map(|p| display_name(p)).collect();
    let multi = paths.len() > 1;
    let tracker = std::mem::replace(&mut engine.tracker, Tracker::new(TrackerConfig::default()));
    let mut render = true;
    let (tracker, ran) = pipeline::run(paths, opts, tracker, |msg| {
        let output = match msg {
            Tracked::Events {
                file_no,
                events,
                spent,
            } => {
                let (file, prefix) = match file_no {
                    Some(i) => (names[*i].as_str(), multi.then_some(names[*i].as_str())),
                    None => ("", None),
                };
                let done = engine.consume(events, file, prefix, None);
                engine.hand_back_rsts(spent);
                done
            }
            Tracked::FileEnd(end) => {
                report.files += 1;
                report.stats.merge(&end.stats);
                let Err(e) = std::mem::replace(&mut end.result, Ok(())) else {
                    return true;
                };
                file_failed(engine, report, err, &names[end.file_no], &e)
            }
        };
        match output {
            Ok(()) => true,
            Err(e) => {
                output_failed(report, err, &e);
                render = false;
                false
            }
        }
    });
    engine.tracker = tracker;
    ran.then_some(render)
}

/// Ends all connections, renders the last events and fills in the report.
fn finish(
    mut engine: Engine<'_>,
    opts: &ReadOptions,
    mut report: ReadReport,
    render: bool,
) -> ReadReport {
    let r = engine.finish(render);
    if let Err(e) = r {
        if e.kind() == io::ErrorKind::BrokenPipe {
            report.stopped_by_reader = true;
        } else {
            report.errors.push(format!("<output>: {e}"));
        }
    }
    report.tracker = engine.tracker.stats.clone();
    report.unanswered = engine.unanswered;
    if !opts.raw {
        report.findings_text = engine.report.render_text();
    }
    if opts.json {
        // Only the JSON summary line shows it, and on a large report it is not free.
        report.findings_json = engine.report.to_json();
    }
    match engine.close_write() {
        Some(Ok(w)) => report.written = Some(w),
        Some(Err(line)) => report.errors.push(line),
        None => {}
    }
    if opts.exiting {
        // The capture file (if written) is closed above; all that is left is memory.
        std::mem::forget(engine);
    }
    report
}

/// [`read_one`]'s sink: RST lines (`--raw`) or the engine.
struct OneFile<'a, 'e> {
    name: &'a str,
    /// The file's name before each line, when several are read.
    prefix: Option<&'a str>,
    file_no: usize,
    opts: &'a ReadOptions,
    engine: &'a mut Engine<'e>,
}

impl PacketSink for OneFile<'_, '_> {
    type Stop = io::Error;

    fn packet(&mut self, frame: u64, packet: &Packet<'_>, outcome: &Outcome<'_>) -> io::Result<()> {
        let Outcome::Tcp(seg) = outcome else {
            return Ok(());
        };
        let (opts, engine) = (self.opts, &mut *self.engine);
        if opts.raw {
            if seg.flags.rst() {
                if opts.json {
                    write_raw_json(&mut engine.buf, self.name, frame, packet, seg)?;
                } else {
                    write_raw_text(&mut engine.buf, self.prefix, packet, seg)?;
                }
                if engine.buf.len() >= OUT_CHUNK {
                    engine.flush()?;
                }
            }
            return Ok(());
        }
        let meta = SegMeta {
            ts: packet.ts,
            frame,
            link_type: packet.link_type,
            iface: packet.iface as u32,
            iface_name: packet.iface_name,
            direction: packet.direction,
            ifindex: None,
        };
        let src = Source {
            file: self.file_no,
            iface: packet.iface,
            link_type: packet.link_type,
            name: packet.iface_name.map(|n| &**n),
        };
        let (name, prefix) = (self.name, self.prefix);
        engine.segment(&meta, seg, &src, packet.data, packet.orig_len, name, prefix)
    }

    #[inline]
    fn tcp4(&mut self, frame: u64, packet: &Packet<'_>, seg: &Tcp4<'_>) -> io::Result<()> {
        // `--raw` shows RSTs only: the others need no segment made.
        if self.opts.raw && !seg.flags.rst() {
            return Ok(());
        }
        self.packet(frame, packet, &Outcome::Tcp(seg.segment()))
    }
}

fn read_one(
    path: &str,
    name: &str,
    file_no: usize,
    multi: bool,
    opts: &ReadOptions,
    engine: &mut Engine<'_>,
    stats: &mut DecodeStats,
) -> Result<(), ReadError> {
    let mut sink = OneFile {
        name,
        prefix: multi.then_some(name),
        file_no,
        opts,
        engine,
    };
    let read = for_each_packet(path, name, opts, stats, &mut sink);
    match read {
        Ok(capture) => capture.map_err(ReadError::Capture),
        Err(e) => Err(ReadError::Output(e)),
    }
}

/// What [`for_each_packet`] hands every packet to, with its frame number. Returning an error
/// stops the read.
pub(crate) trait PacketSink {
    type Stop;

    /// A packet and what the general decoder made of it.
    fn packet(
        &mut self,
        frame: u64,
        packet: &Packet<'_>,
        outcome: &Outcome<'_>,
    ) -> Result<(), Self::Stop>;

    /// A packet the fast path decoded: a TCP segment over IPv4 in an untagged Ethernet frame,
    /// most traffic. By default, handed on as the general decoder would have made it; a sink
    /// that needs less of it can take it as it is.
    #[inline]
    fn tcp4(&mut self, frame: u64, packet: &Packet<'_>, seg: &Tcp4<'_>) -> Result<(), Self::Stop> {
        self.packet(frame, packet, &Outcome::Tcp(seg.segment()))
    }
}

/// Reads one capture file (`name` is how the output shows it): every packet is decoded,
/// counted into `stats`, and handed to `sink` while the progress bar (if any) follows. The sink
/// stops the read by returning an error, which comes back as the outer one; the inner result is
/// the file's: `Ok` at its end, the error where it is damaged.
pub(crate) fn for_each_packet<S: PacketSink>(
    path: &str,
    name: &str,
    opts: &ReadOptions,
    stats: &mut DecodeStats,
    sink: &mut S,
) -> Result<Result<(), CaptureError>, S::Stop> {
    let access = if opts.no_mmap {
        FileAccess::Read
    } else {
        FileAccess::Mmap
    };
    let input = match open_input(path, access) {
        Ok(i) => i,
        Err(e) => return Ok(Err(e)),
    };
    let progress = progress_bar(opts, input.size, name);
    let consumed = input.consumed.clone();
    let mut reader = match CaptureReader::from_input(input) {
        Ok(r) => r,
        Err(e) => return Ok(Err(e)),
    };
    let mut frame = 0u64;
    // Written out in both places below (a closure called from both would be a call per
    // packet: about 30 instructions of a few hundred).
    macro_rules! handle {
        ($packet:expr) => {{
            let packet: Packet<'_> = $packet;
            frame += 1;
            stats.packets += 1;
            stats.bytes += packet.data.len() as u64;
            if packet.link_type == LinkType::ETHERNET
                && let Some(seg) = ethernet_ipv4_tcp(packet.data)
            {
                stats.count_tcp(seg.flags);
                sink.tcp4(frame, &packet, &seg)?;
            } else {
                let outcome = decode(packet.link_type, packet.data);
                stats.count(&outcome);
                sink.packet(frame, &packet, &outcome)?;
            }
            if frame.is_multiple_of(PROGRESS_EVERY)
                && let Some(bar) = &progress
            {
                bar.set_position(consumed.get());
            }
            Ok(())
        }};
    }
    let result = loop {
        // The records at hand in one go (classic pcap), then one the general way: a refill,
        // a damaged record, the end, or any pcapng block.
        if reader.next_run(&mut |p| handle!(p))? > 0 {
            continue;
        }
        match reader.next_packet() {
            Ok(Some(p)) => {
                let handled: Result<(), S::Stop> = handle!(p);
                handled?;
            }
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    stats
        .link_types
        .extend(reader.interfaces().iter().map(|i| i.link_type));
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    Ok(result)
}

/// A file turned out damaged: flushes what was found before the damage, then says where the
/// damage is. The error is the output's, if the flush failed.
fn file_failed(
    engine: &mut Engine<'_>,
    report: &mut ReadReport,
    err: &mut dyn Write,
    name: &str,
    e: &CaptureError,
) -> io::Result<()> {
    engine.flush()?;
    let line = format!("{name}: {e}");
    let _ = writeln!(err, "rsthound: {line}");
    report.errors.push(line);
    Ok(())
}

/// The output could not be written: a closed pipe (the reader, `head` say, has what it wanted)
/// ends the run quietly; anything else is an error line.
fn output_failed(report: &mut ReadReport, err: &mut dyn Write, e: &io::Error) {
    if e.kind() == io::ErrorKind::BrokenPipe {
        report.stopped_by_reader = true;
    } else {
        let line = format!("<output>: {e}");
        let _ = writeln!(err, "rsthound: {line}");
        report.errors.push(line);
    }
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
    push_written(&mut text, report.written.as_ref());
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
    push_findings(&mut text, &report.findings_text);
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
