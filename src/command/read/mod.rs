//! `rsthound read`: every RST in one or more capture files, classified and explained, the
//! connection attempts that were never answered, and a ranked summary of what went wrong.

use crate::engine::decode::{Outcome, Tcp4, decode, ethernet_ipv4_tcp};
use crate::engine::services::Services;
use crate::engine::stats::DecodeStats;
use crate::engine::summary::RunSummary;
use crate::engine::track::{SegMeta, Tracker, TrackerConfig};
use crate::engine::{Engine, Place, Setup};
use crate::model::LinkType;
use crate::model::Origin;
use crate::sanitize::sanitize_os;
use crate::sink::json::write_raw_json;
use crate::sink::pcapng::PcapngSink;
use crate::sink::text::write_raw_text;
use crate::sink::{Lines, Output};
use crate::source::capture::{
    CaptureError, CaptureReader, FileAccess, Input, Packet, input_from_file, open_file, open_input,
    parse_kernel_note,
};
use pipeline::Tracked;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

mod handoff;
pub mod pipeline;

/// The engine of a `read` run, feeding its output.
type ReadEngine<'o> = Engine<Output<'o>>;

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
    /// Write the packets of failed and reset connections to this pcapng (a path is bytes).
    pub write: Option<std::path::PathBuf>,
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
    /// Inputs opened before the command gave up its privileges (see [`OpenedInputs`]); a path
    /// not among them is opened when its turn comes.
    pub opened: OpenedInputs,
}

/// The input files of a run, opened before any byte of them is read: `rsthound read` opens
/// them all, then drops every capability (root reading another user's 0600 capture needs
/// CAP_DAC_OVERRIDE for the open, and nothing after it), then parses. Standard input (`-`) is
/// open already and is not among them.
#[derive(Debug, Clone, Default)]
pub struct OpenedInputs(Arc<Mutex<Vec<OpenedInput>>>);

/// A path and what opening it gave.
type OpenedInput = (OsString, Result<File, CaptureError>);

impl OpenedInputs {
    /// Opens every path but `-`, in order; a failure is kept and reported at the path's turn,
    /// as if the path were opened then. A FIFO's open waits for its writer, as reading would.
    pub fn open<P: AsRef<OsStr>>(paths: &[P]) -> Self {
        let opened = paths
            .iter()
            .map(|p| p.as_ref())
            .filter(|p| *p != "-")
            .map(|p| (p.to_owned(), open_file(Path::new(p))))
            .collect();
        OpenedInputs(Arc::new(Mutex::new(opened)))
    }

    /// The first file opened for `path` not taken yet (a path given twice was opened twice).
    fn take(&self, path: &OsStr) -> Option<Result<File, CaptureError>> {
        let mut opened = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let at = opened.iter().position(|(p, _)| p == path)?;
        Some(opened.remove(at).1)
    }
}

/// Opens `path` for reading: the file opened beforehand when there is one, else by its path.
fn open_read(path: &OsStr, opts: &ReadOptions) -> Result<Input, CaptureError> {
    let access = if opts.no_mmap {
        FileAccess::Read
    } else {
        FileAccess::Mmap
    };
    match opts.opened.take(path) {
        Some(file) => input_from_file(file?, Path::new(path), access),
        None => open_input(path, access),
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
///
/// A path is bytes (`&str`, `String`, `PathBuf` and `OsString` all do): it need not be UTF-8,
/// and is shown escaped.
pub fn read_files<P: AsRef<OsStr>>(
    paths: &[P],
    opts: &ReadOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> RunSummary {
    let paths: Vec<OsString> = paths.iter().map(|p| p.as_ref().to_owned()).collect();
    let paths = &paths[..];
    let mut report = RunSummary::default();
    let setup = Setup {
        cfg: TrackerConfig {
            // The RST lines and the findings only need the full summary of unanswered attempts.
            summarize_all_ended: opts.connections,
            // The conn.log-like view splits a 5-tuple where Zeek's conn.log does.
            zeek_attempt_delay_ns: opts
                .connections
                .then_some(crate::engine::track::ZEEK_ATTEMPT_DELAY_NS),
            ..TrackerConfig::default()
        },
        max_conns: opts.max_conns,
        services: opts
            .services
            .clone()
            .unwrap_or_else(crate::source::services::load),
        rst_lines: !opts.connections,
        // A capture is read to be searched: every RST gets its line.
        storm_limit: 0,
    };
    let pcapng = match opts.write.as_deref().map(PcapngSink::create) {
        None => None,
        Some(Ok(sink)) => Some(sink),
        Some(Err(line)) => {
            let _ = writeln!(err, "rsthound: {line}");
            report.output_errors.push(line.to_string());
            return report;
        }
    };
    let output = Output {
        lines: Lines::new(opts.json, opts.connections, out),
        pcapng,
        tally: None,
    };
    let mut engine = Engine::new(setup, output);
    report.max_conns = engine.max_conns;
    let multi = paths.len() > 1;
    // `--write` keeps packets' bytes, which the decoding thread does not hand on (it does hand
    // on the kernel notes of a capture `watch --write` made).
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
pub(crate) fn display_name(path: &OsStr) -> String {
    if path == "-" {
        "<stdin>".to_string()
    } else {
        sanitize_os(path, 256)
    }
}

/// [`read_files`] with decoding and tracking on threads of their own (see [`crate::command::read::pipeline`]):
/// the same output, handled here in the same order as the loop over files does. Returns
/// whether the output is still open, or `None` (nothing done) if the threads could not start.
fn read_pipelined(
    paths: &[OsString],
    opts: &ReadOptions,
    engine: &mut ReadEngine<'_>,
    report: &mut RunSummary,
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
                let done = engine.consume(events, Place { file, prefix }, None);
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
    mut engine: ReadEngine<'_>,
    opts: &ReadOptions,
    mut report: RunSummary,
    render: bool,
) -> RunSummary {
    let r = engine.finish(render);
    if let Err(e) = r {
        if e.kind() == io::ErrorKind::BrokenPipe {
            report.stopped_by_reader = true;
        } else {
            report.output_errors.push(format!("<output>: {e}"));
        }
    }
    report.tracker = engine.tracker.stats.clone();
    report.unanswered = engine.unanswered;
    if !opts.raw {
        report.findings = Some(engine.report.findings_view());
    }
    if opts.json {
        // Only the JSON summary line shows it, and on a large report it is not free.
        report.report = Some(engine.report.view());
    }
    match engine.sink.close_write() {
        Some(Ok(w)) => report.written = Some(w),
        Some(Err(line)) => report.output_errors.push(line.to_string()),
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
    engine: &'a mut ReadEngine<'e>,
    /// `rsthound-kernel:` comments that could not be read (their RSTs are shown without).
    bad_notes: u64,
}

impl PacketSink for OneFile<'_, '_> {
    type Stop = io::Error;

    fn packet(&mut self, frame: u64, packet: &Packet<'_>, outcome: &Outcome<'_>) -> io::Result<()> {
        let Outcome::Tcp(seg) = outcome else {
            return Ok(());
        };
        let (opts, engine) = (self.opts, &mut *self.engine);
        let meta = SegMeta {
            ts: packet.ts,
            frame,
            link_type: packet.link_type,
            iface: packet.iface as u32,
            iface_name: packet.iface_name,
            direction: packet.direction,
            ifindex: None,
        };
        if opts.raw {
            if seg.flags.rst() {
                let out = engine.sink.lines.buf();
                if opts.json {
                    write_raw_json(&mut out.buf, self.name, &meta, seg)?;
                } else {
                    write_raw_text(&mut out.buf, self.prefix, &meta, seg)?;
                }
                out.flush(false)?;
            }
            return Ok(());
        }
        let src = Origin {
            file: self.file_no,
            iface: packet.iface,
            link_type: packet.link_type,
            name: packet.iface_name.map(|n| &**n),
        };
        let (name, prefix) = (self.name, self.prefix);
        let place = Place { file: name, prefix };
        let bytes = (&src, packet.data, packet.orig_len);
        // An RST `watch --write` kept with what the kernel said: shown as watch showed it.
        if let Some(json) = packet.kernel_note
            && seg.flags.rst()
        {
            match parse_kernel_note(json) {
                Ok(note) => return engine.segment_noted(&meta, seg, bytes, place, note),
                Err(_) => self.bad_notes += 1,
            }
        }
        engine.segment(&meta, seg, bytes, place)
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
    path: &OsStr,
    name: &str,
    file_no: usize,
    multi: bool,
    opts: &ReadOptions,
    engine: &mut ReadEngine<'_>,
    stats: &mut DecodeStats,
) -> Result<(), ReadError> {
    let mut sink = OneFile {
        name,
        prefix: multi.then_some(name),
        file_no,
        opts,
        engine,
        bad_notes: 0,
    };
    let read = for_each_packet(path, name, opts, stats, &mut sink);
    if sink.bad_notes > 0 {
        let _ = writeln!(
            std::io::stderr(),
            "rsthound: {name}: {} kernel note(s) in packet comments could not be read; their RSTs are shown without them",
            sink.bad_notes
        );
    }
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
    path: &OsStr,
    name: &str,
    opts: &ReadOptions,
    stats: &mut DecodeStats,
    sink: &mut S,
) -> Result<Result<(), CaptureError>, S::Stop> {
    let input = match open_read(path, opts) {
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
    engine: &mut ReadEngine<'_>,
    report: &mut RunSummary,
    err: &mut dyn Write,
    name: &str,
    e: &CaptureError,
) -> io::Result<()> {
    engine.sink.lines.buf().flush(true)?;
    let line = format!("{name}: {e}");
    let _ = writeln!(err, "rsthound: {line}");
    report.errors.push(line);
    Ok(())
}

/// The output could not be written: a closed pipe (the reader, `head` say, has what it wanted)
/// ends the run quietly; anything else is an error line.
fn output_failed(report: &mut RunSummary, err: &mut dyn Write, e: &io::Error) {
    if e.kind() == io::ErrorKind::BrokenPipe {
        report.stopped_by_reader = true;
    } else {
        let line = format!("<output>: {e}");
        let _ = writeln!(err, "rsthound: {line}");
        report.output_errors.push(line);
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
