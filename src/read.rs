//! `rsthound read`: every RST in one or more capture files, then a summary of what was read.

use crate::capture::{CaptureError, CaptureReader, open_input};
use crate::decode::{Outcome, decode};
use crate::output::{PacketMeta, write_json_line, write_text_line};
use crate::sanitize::sanitize_text;
use crate::stats::DecodeStats;
use std::io::{self, IsTerminal, Write};

/// Files at least this large get a progress bar (when stderr is a terminal).
const PROGRESS_MIN_BYTES: u64 = 64 << 20;
/// Flush rendered lines in chunks of about this size.
const OUT_CHUNK: usize = 64 << 10;
/// Update the progress bar every this many packets: the update itself is not free.
const PROGRESS_EVERY: u64 = 1 << 15;

#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    pub json: bool,
    /// No summary on stderr.
    pub quiet: bool,
    /// Allow a progress bar when stderr is a terminal.
    pub progress: bool,
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
}

impl ReadReport {
    pub fn exit_code(&self) -> i32 {
        if self.errors.is_empty() { 0 } else { 1 }
    }
}

/// Reads `paths` in order, writing RST lines to `out` and error lines to `err` as they happen.
pub fn read_files(
    paths: &[String],
    opts: &ReadOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> ReadReport {
    let mut report = ReadReport::default();
    let multi = paths.len() > 1;
    let mut buf = Vec::with_capacity(OUT_CHUNK + 4096);
    for path in paths {
        let name = if path == "-" {
            "<stdin>".to_string()
        } else {
            sanitize_text(path.as_bytes(), 256)
        };
        report.files += 1;
        let mut stats = DecodeStats::default();
        let result = read_one(path, &name, multi, opts, &mut stats, &mut buf, out);
        report.stats.merge(&stats);
        match result {
            Ok(()) => {}
            Err(ReadError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
                report.stopped_by_reader = true;
                return report;
            }
            Err(ReadError::Output(e)) => {
                let line = format!("<output>: {e}");
                let _ = writeln!(err, "rsthound: {line}");
                report.errors.push(line);
                return report;
            }
            Err(ReadError::Capture(e)) => {
                // Flush what was found before the damage, then say where the damage is.
                if let Err(e) = out.write_all(&buf).and_then(|_| out.flush()) {
                    if e.kind() == io::ErrorKind::BrokenPipe {
                        report.stopped_by_reader = true;
                        return report;
                    }
                }
                buf.clear();
                let line = format!("{name}: {e}");
                let _ = writeln!(err, "rsthound: {line}");
                report.errors.push(line);
            }
        }
    }
    if let Err(e) = out.write_all(&buf).and_then(|_| out.flush()) {
        if e.kind() == io::ErrorKind::BrokenPipe {
            report.stopped_by_reader = true;
        } else {
            report.errors.push(format!("<output>: {e}"));
        }
    }
    report
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

fn read_one(
    path: &str,
    name: &str,
    multi: bool,
    opts: &ReadOptions,
    stats: &mut DecodeStats,
    buf: &mut Vec<u8>,
    out: &mut dyn Write,
) -> Result<(), ReadError> {
    let input = open_input(path)?;
    let progress = progress_bar(opts, input.size, name);
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
        if let Outcome::Tcp(seg) = &outcome
            && seg.flags.rst()
        {
            let meta = PacketMeta {
                ts: packet.ts,
                file: name,
                frame,
                iface: packet.iface_name,
                direction: packet.direction,
                link_type: packet.link_type,
            };
            let r = if opts.json {
                write_json_line(buf, &meta, seg)
            } else {
                write_text_line(buf, prefix, &meta, seg)
            };
            r.map_err(ReadError::Output)?;
            if buf.len() >= OUT_CHUNK {
                out.write_all(buf).map_err(ReadError::Output)?;
                buf.clear();
            }
        }
        if frame % PROGRESS_EVERY == 0
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

/// The summary printed on stderr after the RST lines.
pub fn summary(report: &ReadReport) -> String {
    let s = &report.stats;
    let mut text = format!(
        "rsthound: {} file{}, {} packets ({}), {} TCP segments, {} RSTs\n",
        report.files,
        if report.files == 1 { "" } else { "s" },
        s.packets,
        human_bytes(s.bytes),
        s.tcp,
        s.rsts
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
    if !report.errors.is_empty() {
        text.push_str(&format!(
            "  {} file{} could not be read to the end (see the error lines above)\n",
            report.errors.len(),
            if report.errors.len() == 1 { "" } else { "s" }
        ));
    }
    if report.stopped_by_reader {
        text.push_str("  output closed early: the counts cover only what was read until then\n");
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
