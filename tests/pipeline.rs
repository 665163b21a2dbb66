//! Tracked `read` on three threads (decode, track, report) must say exactly what it says on one:
//! same lines in the same order, same errors at the same places between them, same summary.
//! Checked on generated captures (many interleaved connections of every fate, several files, a
//! damaged one in the middle, output closed early) and on every capture of the peers' corpus.

mod common;

use common::{ip, pcap_of, ts};
use rsthound::command::read::{ReadOptions, read_files};
use rsthound::engine::decode::TcpFlags;
use rsthound::engine::summary::RunSummary as ReadReport;
use rsthound::testkit::synth::TcpSpec;
use std::cell::RefCell;
use std::io::{self, Write};
use std::rc::Rc;

/// Whether this machine runs the pipeline at all (it needs more than one CPU). Under `CI=true`
/// a machine with one CPU fails the test: it would compare one thread with itself.
fn pipelined_here() -> bool {
    if std::thread::available_parallelism().is_ok_and(|n| n.get() > 1) {
        return true;
    }
    assert!(
        !std::env::var("CI").is_ok_and(|v| v == "true"),
        "CI=true but this machine has one CPU: the three-thread read cannot be compared"
    );
    eprintln!("SKIPPED: one CPU, so `read` never runs on three threads here");
    false
}

/// One stream that stdout and stderr both write to, so that the test sees where error lines
/// fall between the output lines.
#[derive(Clone, Default)]
struct Combined(Rc<RefCell<Vec<u8>>>);

impl Write for Combined {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// stdout and stderr interleaved, the summary, and the report, of one `read`.
fn run(paths: &[String], opts: &ReadOptions) -> (String, String, ReadReport) {
    let stream = Combined::default();
    let report = read_files(paths, opts, &mut stream.clone(), &mut stream.clone());
    let text = String::from_utf8_lossy(&stream.0.borrow()).into_owned();
    (text, rsthound::sink::text::read_summary(&report), report)
}

/// Runs `paths` both ways in text, JSON and `--connections`; fails on the first difference.
fn assert_same_both_ways(paths: &[String], what: &str) {
    for (mode, json, connections) in [
        ("text", false, false),
        ("json", true, false),
        ("connections", false, true),
    ] {
        let base = ReadOptions {
            json,
            connections,
            quiet: true,
            ..ReadOptions::default()
        };
        let one = run(
            paths,
            &ReadOptions {
                single_thread: true,
                ..base.clone()
            },
        );
        let three = run(paths, &base);
        assert_eq!(three.0, one.0, "{what} ({mode}): output differs");
        assert_eq!(three.1, one.1, "{what} ({mode}): summary differs");
        assert_eq!(three.2.exit_code(), one.2.exit_code(), "{what} ({mode})");
        assert_eq!(three.2.errors, one.2.errors, "{what} ({mode})");
    }
}

/// `n` connections interleaved, each with a fate of its own: refused, unanswered, closed
/// normally, reset by the client or the server mid-transfer, and a few stray RSTs; IPv4 and
/// IPv6; a SYN with a window scale, a RST with text in it.
fn busy_capture(n: u16, first_port: u16) -> Vec<u8> {
    let mut frames = Vec::new();
    let mut t = 0u64;
    let mut at = || {
        t += 137;
        ts(1_763_730_000 + (t / 1_000_000) as i64, t % 1_000_000)
    };
    let (a4, b4) = (ip("10.0.0.1"), ip("10.0.0.2"));
    let (a6, b6) = (ip("2001:db8::1"), ip("2001:db8::2"));
    let flags = |f: u16| f;
    let long_text = "é".repeat(400).into_bytes();
    // Four rounds: every connection takes a step per round, so their packets interleave.
    for round in 0..4 {
        for i in 0..n {
            let port = first_port.wrapping_add(i);
            let (c, s) = if i % 3 == 0 { (a6, b6) } else { (a4, b4) };
            let dport = [80, 443, 7211, 8080][usize::from(i % 4)];
            let to_s = |f: u16| TcpSpec::new(c, port, s, dport, flags(f));
            let to_c = |f: u16| TcpSpec::new(s, dport, c, port, flags(f));
            let isn = 1000 + u32::from(i) * 7919;
            let step = match (i % 6, round) {
                // Refused.
                (0, 0) => vec![to_s(TcpFlags::SYN).seq(isn).options(&[3, 3, 7, 0])],
                (0, 1) => vec![to_c(TcpFlags::RST | TcpFlags::ACK).ack(isn + 1)],
                // Unanswered, retried.
                (1, 0..=2) => vec![to_s(TcpFlags::SYN).seq(isn)],
                // Closed normally, or reset by either side after some data.
                (2..=4, 0) => vec![to_s(TcpFlags::SYN).seq(isn)],
                (2..=4, 1) => vec![
                    to_c(TcpFlags::SYN | TcpFlags::ACK)
                        .seq(9000)
                        .ack(isn + 1)
                        .options(&[3, 3, 2]),
                    to_s(TcpFlags::ACK).seq(isn + 1).ack(9001),
                ],
                (2..=4, 2) => vec![
                    to_s(TcpFlags::ACK | TcpFlags::PSH)
                        .seq(isn + 1)
                        .ack(9001)
                        .payload(b"GET / HTTP/1.1\r\n\r\n"),
                    to_c(TcpFlags::ACK).seq(9001).ack(isn + 19),
                ],
                (2, 3) => vec![
                    to_s(TcpFlags::FIN | TcpFlags::ACK).seq(isn + 19).ack(9001),
                    to_c(TcpFlags::FIN | TcpFlags::ACK).seq(9001).ack(isn + 20),
                    to_s(TcpFlags::ACK).seq(isn + 20).ack(9002),
                ],
                (3, 3) => vec![to_s(TcpFlags::RST | TcpFlags::ACK).seq(isn + 19).ack(9001)],
                (4, 3) => vec![
                    to_c(TcpFlags::RST)
                        .seq(9001)
                        .payload(b"\x1b[31mconnection reset by policy"),
                ],
                // A RST to a connection never seen, and one with a long text, cut where shown
                // (the three-thread read keeps only what the text can show).
                (5, 2) => vec![to_c(TcpFlags::RST).seq(4242)],
                (5, 3) => vec![to_s(TcpFlags::RST).seq(4243).payload(&long_text)],
                _ => vec![],
            };
            for spec in step {
                frames.push((at(), spec.ethernet()));
            }
        }
    }
    pcap_of(&frames)
}

#[test]
fn three_threads_say_what_one_says_on_busy_captures_and_several_files() {
    if !pipelined_here() {
        return;
    }
    let dir = common::TempDir::new("pipeline");
    // More segments than several batches hold, so that batches and event buffers are reused.
    let a = dir.write("a.pcap", &busy_capture(3000, 20_000));
    let b = dir.write("b.pcap", &busy_capture(500, 40_000));
    let whole = busy_capture(800, 50_000);
    // Damaged: cut in the middle of a record, so it ends with an error after its packets.
    let damaged = dir.write("damaged.pcap", &whole[..whole.len() * 2 / 3 + 5]);
    let missing = dir.0.join("missing.pcap").to_string_lossy().into_owned();
    assert_same_both_ways(std::slice::from_ref(&a), "one busy capture");
    let several = [a.clone(), damaged.clone(), missing, b];
    assert_same_both_ways(&several, "four files, one damaged and one missing");
    // What the comparison stands on: the run found every fate and reported both bad files.
    let (text, summary, report) = run(&several, &ReadOptions::default());
    assert_eq!(report.files, 4);
    assert_eq!(report.errors.len(), 2, "{:?}", report.errors);
    for verdict in ["refused", "reset by client", "reset by server", "stray"] {
        assert!(text.contains(verdict), "no {verdict} line in:\n{text}");
    }
    assert!(text.contains("unanswered"), "{text}");
    assert!(
        text.contains("\\x1b[31mconnection reset by policy"),
        "RST text: {text}"
    );
    assert!(text.contains(&format!("{}…", "é".repeat(120))), "{text}");
    // The damaged file's error comes after its RST lines and before the next file's.
    let err_at = text.find("rsthound: ").expect("an error line");
    let (before, after) = text.split_at(err_at);
    assert!(before.contains("damaged.pcap"), "{before}");
    assert!(after.contains("b.pcap"), "{after}");
    assert!(summary.contains("2 inputs could not be read"), "{summary}");
}

/// A writer that takes `left` bytes and then fails as a closed pipe does.
struct ClosesAfter(usize);

impl Write for ClosesAfter {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        if self.0 == 0 {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        let n = b.len().min(self.0);
        self.0 -= n;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A writer whose every write fails, as a full disk's does.
struct Full;

impl Write for Full {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::ErrorKind::StorageFull.into())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The output fails when a damaged file makes the read flush what it found before the damage:
/// the failure is an error line and a failed exit, on one thread as on three (one thread once
/// dropped it and exited 0).
#[test]
fn output_failing_at_a_damaged_file_is_reported_both_ways() {
    if !pipelined_here() {
        return;
    }
    let dir = common::TempDir::new("pipeline-full");
    let a = dir.write("a.pcap", &busy_capture(20, 1_000));
    let whole = busy_capture(20, 2_000);
    let damaged = dir.write("damaged.pcap", &whole[..whole.len() / 2 + 5]);
    let paths = [a, damaged];
    for single_thread in [true, false] {
        let opts = ReadOptions {
            single_thread,
            quiet: true,
            ..ReadOptions::default()
        };
        let mut err = Vec::new();
        let report = read_files(&paths, &opts, &mut Full, &mut err);
        let err = String::from_utf8_lossy(&err);
        assert!(!report.stopped_by_reader, "single thread: {single_thread}");
        assert_eq!(
            report.exit_code(),
            1,
            "single thread: {single_thread}: {err}"
        );
        assert!(
            report
                .output_errors
                .iter()
                .any(|e| e.starts_with("<output>: ")),
            "single thread: {single_thread}: {:?}",
            report.output_errors
        );
        assert!(
            err.contains("rsthound: <output>: "),
            "single thread: {single_thread}: {err}"
        );
    }
}

#[test]
fn output_closed_early_stops_all_three_threads() {
    if !pipelined_here() {
        return;
    }
    let dir = common::TempDir::new("pipeline-closed");
    let a = dir.write("a.pcap", &busy_capture(6000, 1_000));
    let paths = [a.clone(), a];
    // The lines fill the first 64 KiB chunk long before the end of the input: the reader is
    // then mid-file, and must stop instead of waiting forever for the tracker to take more.
    let report = read_files(
        &paths,
        &ReadOptions::default(),
        &mut ClosesAfter(1000),
        &mut io::sink(),
    );
    assert!(report.stopped_by_reader);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let s = rsthound::sink::text::read_summary(&report);
    assert!(s.contains("output closed early"), "{s}");
}

#[test]
fn three_threads_say_what_one_says_on_every_peer_capture() {
    let Some(dir) = common::peers_corpus() else {
        return;
    };
    if !pipelined_here() {
        return;
    }
    let index = std::fs::read_to_string(dir.join("rst_counts.tsv")).unwrap();
    let mut files = 0;
    for line in index.lines().skip(1) {
        let file = line.split('\t').next().unwrap();
        let path = dir.join(file).to_string_lossy().into_owned();
        assert_same_both_ways(&[path], file);
        files += 1;
    }
    println!("{files} peer captures: the same output on one thread and on three");
    assert!(files > 0);
}
