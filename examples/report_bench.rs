//! Times the report's grouping alone, over the real event stream of a capture.
//!
//! ```text
//! cargo run --release --example report_bench -- CAPTURE [ROUNDS]
//! ```
//!
//! The capture is decoded and tracked once (as `rsthound read` does), its events are kept, and
//! then fed to a fresh [`Report`] `ROUNDS` times (default 5): one line per round with the time
//! taken to add the events and to draw the findings. In `rsthound read` the report runs on its
//! own thread beside decoding and tracking; this shows its cost without them, so that a change
//! to the groupings can be measured in seconds instead of through the whole pipeline (whose
//! other threads make the report's share noisy on a small machine).
//!
//! Each round starts from fresh memory (the report of a round is leaked, as `rsthound read`
//! leaks its own at exit), so first-touch page faults are counted as they are in a real run.

use rsthound::command::read::ReadOptions;
use rsthound::command::read::pipeline::{self, Tracked};
use rsthound::engine::report::Report;
use rsthound::engine::services::Services;
use rsthound::engine::track::{Event, Tracker, TrackerConfig};
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(path), rounds) = (args.next(), args.next()) else {
        eprintln!("usage: report_bench CAPTURE [ROUNDS]");
        return ExitCode::from(2);
    };
    let rounds: usize = match rounds.map(|r| r.parse()) {
        None => 5,
        Some(Ok(r)) if r > 0 => r,
        Some(_) => {
            eprintln!("report_bench: ROUNDS must be a positive integer");
            return ExitCode::from(2);
        }
    };
    let mut events: Vec<Event> = Vec::new();
    let mut failed = None;
    let tracker = Tracker::new(TrackerConfig::default());
    let (_, ran) = pipeline::run(
        &[std::ffi::OsString::from(&path)],
        &ReadOptions::default(),
        tracker,
        |m| {
            match m {
                Tracked::Events { events: e, .. } => events.append(e),
                Tracked::FileEnd(end) => {
                    if let Err(e) = &end.result {
                        failed = Some(e.to_string());
                    }
                }
            }
            true
        },
    );
    if !ran {
        eprintln!("report_bench: the decoding and tracking threads could not start");
        return ExitCode::FAILURE;
    }
    if let Some(e) = failed {
        eprintln!("report_bench: {path}: {e}");
        return ExitCode::FAILURE;
    }
    println!("{path}: {} events", events.len());
    for _ in 0..rounds {
        let mut report = Report::new(Services::default());
        let t0 = Instant::now();
        for ev in &events {
            match ev {
                Event::Rst(e) => report.add_rst(e),
                Event::Ended(c) => report.add_ended(c),
                Event::Closed(c) => report.add_closed(c),
                Event::KeptTalking { ts, sender, .. } => report.add_kept_talking(*ts, *sender),
            }
        }
        let t1 = Instant::now();
        let findings = report.findings().len();
        let t2 = Instant::now();
        println!(
            "add {:7.1} ms   findings {:6.1} ms   ({findings} findings)",
            (t1 - t0).as_secs_f64() * 1e3,
            (t2 - t1).as_secs_f64() * 1e3,
        );
        std::mem::forget(report);
    }
    ExitCode::SUCCESS
}
