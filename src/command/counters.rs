//! `rsthound counters`: samples the kernel's TCP failure counters every interval and says what
//! moved, in plain words: the headline "failed connections/s" as monitoring agents compute it,
//! whether that is new, when it crossed `--warn`/`--crit`, and every counter's rate.
//!
//! Wiring only: a [`CounterSource`] (this namespace, or another one through a thread that
//! entered it), the pure engine (`crate::engine::counters`), and the text or JSON renderers.
//!
//! Exit status: 0 when every sample was read, 1 when the counters could not be read (at start
//! or later: what was measured until then is still reported), 2 on a usage error. Exceeding
//! `--crit` does NOT change the exit status: `counters` is for looking, and its JSON records
//! carry `"level"` for scripts that want to act on it.

use crate::duration::parse_duration;
use crate::engine::counters::{
    self as engine, CounterSample, DEFAULT_CRIT, DEFAULT_WARN, IntervalView, OnsetTracker, RunView,
    Scope, Thresholds,
};
use crate::sink::counters::{text, write_interval, write_summary};
use crate::source::counters::{CounterSource, NetnsCounters, ProcCounters, counters_start};
use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The command line of `rsthound counters`.
#[derive(Debug, Clone, clap::Args)]
pub struct CountersArgs {
    /// Time between samples: seconds (1, 0.5) or with a unit (500ms, 10s, 1m).
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    pub interval: Duration,
    /// Stop after N intervals (N+1 samples). Without it, runs until Ctrl-C.
    #[arg(short = 'c', long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
    /// Read the counters of another network namespace: a name from `ip netns`, a path such as
    /// /proc/PID/ns/net, or the PID of a process in it (a container's). Needs CAP_SYS_ADMIN.
    #[arg(long, value_name = "NAME|PATH|PID")]
    pub netns: Option<String>,
    /// One JSON object per line: `"type":"counters"` per interval, `"type":"summary"` at the end.
    #[arg(long)]
    pub json: bool,
    /// Warn when failed connections/s is above this rate.
    #[arg(long, value_name = "PER_SECOND", default_value_t = DEFAULT_WARN, value_parser = parse_rate)]
    pub warn: f64,
    /// Critical when failed connections/s is above this rate.
    #[arg(long, value_name = "PER_SECOND", default_value_t = DEFAULT_CRIT, value_parser = parse_rate)]
    pub crit: f64,
}

/// A threshold: a finite, non-negative rate per second.
pub fn parse_rate(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let ok = !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    match t.parse::<f64>() {
        Ok(v) if ok && v.is_finite() => Ok(v),
        _ => Err(format!(
            "invalid rate {:?}: give failed connections per second, like 1 or 0.5",
            crate::sanitize::sanitize_text(t.as_bytes(), 40)
        )),
    }
}

/// Shortest interval accepted: below it the rates are mostly rounding of single events.
pub const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// Time for the command: monotonic seconds for the rates, Unix seconds for the output.
pub trait Clock {
    /// (monotonic seconds since an origin, Unix seconds)
    fn now(&mut self) -> (f64, f64);
    /// Sleeps until monotonic `at`; false when `stop` was set first.
    fn sleep_until(&mut self, at: f64, stop: &AtomicBool) -> bool;
}

pub struct SystemClock {
    origin: Instant,
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock {
            origin: Instant::now(),
        }
    }
}

impl Clock for SystemClock {
    fn now(&mut self) -> (f64, f64) {
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        (self.origin.elapsed().as_secs_f64(), unix)
    }

    fn sleep_until(&mut self, at: f64, stop: &AtomicBool) -> bool {
        loop {
            if stop.load(Ordering::Relaxed) {
                return false;
            }
            let left = at - self.origin.elapsed().as_secs_f64();
            if left <= 0.0 {
                return true;
            }
            // Wake up often enough to answer Ctrl-C at once.
            std::thread::sleep(Duration::from_secs_f64(left.min(0.1)));
        }
    }
}

/// Validates the arguments, opens the source and runs. Returns the exit code.
pub fn run(args: &CountersArgs) -> i32 {
    let mut err = io::stderr();
    if let Err(e) = check_args(args) {
        let _ = writeln!(err, "rsthound: {e}");
        return 2;
    }
    let netns_path = args.netns.as_deref().map(crate::command::watch::netns_path);
    let mut source: Box<dyn CounterSource> = match &netns_path {
        Some(path) => match NetnsCounters::start(path) {
            Ok(s) => Box::new(s),
            Err(e) => {
                let _ = writeln!(err, "rsthound: {e}");
                return 1;
            }
        },
        None => Box::new(ProcCounters::default()),
    };
    let (start, note) = counters_start(netns_path.as_deref());
    let scope = Scope {
        netns: args
            .netns
            .as_deref()
            .map(|n| crate::sanitize::sanitize_text(n.as_bytes(), 256)),
        start,
        notes: note.into_iter().collect(),
    };
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register(sig, Arc::clone(&stop)) {
            let _ = writeln!(err, "rsthound: warning: cannot catch signal {sig}: {e}");
        }
    }
    let stdout = io::stdout();
    let mut out = stdout.lock();
    run_with(
        args,
        source.as_mut(),
        &mut SystemClock::default(),
        &scope,
        &stop,
        &mut out,
        &mut err,
    )
}

fn check_args(args: &CountersArgs) -> Result<(), String> {
    if args.interval < MIN_INTERVAL {
        return Err(format!(
            "--interval must be at least {} ms",
            MIN_INTERVAL.as_millis()
        ));
    }
    if args.warn > args.crit {
        return Err(format!(
            "--warn ({}) is above --crit ({}): warn must be the lower threshold",
            args.warn, args.crit
        ));
    }
    Ok(())
}

/// The sampling loop, with every input passed in (tests drive it with fakes).
pub fn run_with(
    args: &CountersArgs,
    source: &mut dyn CounterSource,
    clock: &mut dyn Clock,
    scope: &Scope,
    stop: &AtomicBool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let thresholds = Thresholds {
        warn: args.warn,
        crit: args.crit,
    };
    let (first, (m0, u0)) = match timed_sample(source, clock) {
        (Ok(s), at) => (s, at),
        (Err(e), _) => {
            let _ = writeln!(err, "rsthound: {e}");
            return 1;
        }
    };
    let _ = err
        .write_all(text::banner(args.interval, args.count, scope, &thresholds, &first).as_bytes());
    let total_before = first.get(engine::Section::Tcp, engine::ATTEMPT_FAILS);
    let mut onset = OnsetTracker::new(thresholds);
    let mut prev: CounterSample = first.clone();
    let (mut prev_m, mut prev_u) = (m0, u0);
    let mut errors = Vec::new();
    let mut intervals = 0u64;
    let mut last_novelty = None;
    let step = args.interval.as_secs_f64();
    let mut writing = true;
    while args.count.is_none_or(|n| intervals < n) {
        if !clock.sleep_until(m0 + step * (intervals + 1) as f64, stop) {
            break;
        }
        let (sample, (m, u)) = match timed_sample(source, clock) {
            (Ok(s), at) => (s, at),
            (Err(e), _) => {
                let _ = writeln!(err, "rsthound: {e}");
                errors.push(e.to_string());
                break;
            }
        };
        let rates = match engine::rates(&prev, &sample, m - prev_m) {
            Ok(r) => r,
            Err(e) => {
                // A clock that did not move: skip the interval, keep the earlier sample.
                let _ = writeln!(err, "rsthound: warning: {e}");
                continue;
            }
        };
        intervals += 1;
        let rate = rates.failed_connections().rate();
        let event = onset.observe(prev_u, u, rate);
        let novelty = rate
            .zip(total_before)
            .map(|(now, total)| engine::novelty(now, total, scope.start));
        if novelty.is_some() {
            last_novelty = novelty;
        }
        let view = IntervalView {
            start_unix: prev_u,
            end_unix: u,
            rates: &rates,
            novelty,
            event,
            onset: &onset,
        };
        let written = if args.json {
            write_interval(out, &view)
        } else {
            out.write_all(text::interval(&view, &thresholds).as_bytes())
        }
        .and_then(|()| out.flush());
        if let Err(e) = written {
            // A closed pipe (`| head`) is how a reader says it has seen enough.
            if e.kind() != io::ErrorKind::BrokenPipe {
                errors.push(format!("cannot write the output: {e}"));
            }
            writing = false;
            break;
        }
        prev = sample;
        (prev_m, prev_u) = (m, u);
    }
    let run_rates = (intervals > 0)
        .then(|| engine::rates(&first, &prev, prev_m - m0).ok())
        .flatten();
    // "Is it new" for the whole run: the run's average against the history before it.
    let run_novelty = run_rates
        .as_ref()
        .and_then(|r| r.failed_connections().rate())
        .zip(total_before)
        .map(|(now, total)| engine::novelty(now, total, scope.start))
        .or(last_novelty);
    let view = RunView {
        scope,
        intervals,
        start_unix: u0,
        end_unix: prev_u,
        rates: run_rates.as_ref(),
        novelty: run_novelty,
        onset: &onset,
        thresholds,
        errors: &errors,
    };
    if writing {
        let _ = if args.json {
            write_summary(out, &view)
        } else {
            out.write_all(text::summary(&view).as_bytes())
        }
        .and_then(|()| out.flush());
    }
    i32::from(!errors.is_empty())
}

/// A sample with the time it was taken: the middle of the read (through another namespace's
/// thread a read takes a few milliseconds, more the first time), so read latency does not leak
/// into the interval lengths.
fn timed_sample(
    source: &mut dyn CounterSource,
    clock: &mut dyn Clock,
) -> (
    Result<CounterSample, crate::source::counters::CounterError>,
    (f64, f64),
) {
    let (m1, u1) = clock.now();
    let sample = source.sample();
    let (m2, u2) = clock.now();
    (sample, ((m1 + m2) / 2.0, (u1 + u2) / 2.0))
}

#[cfg(test)]
mod tests;
