//! The command driven by a fake source and a fake clock: no root, no /proc.

use super::*;
use crate::engine::counters::{CountersStart, Section};
use crate::source::counters::{CounterError, FakeCounters};

/// Advances exactly to each deadline; starts at 13:15:41 UTC.
struct FakeClock {
    mono: f64,
    stop_after: Option<usize>,
    sleeps: usize,
}

const T0: f64 = 1_763_730_941.0; // 13:15:41 UTC

impl Clock for FakeClock {
    fn now(&mut self) -> (f64, f64) {
        (self.mono, T0 + self.mono)
    }
    fn sleep_until(&mut self, at: f64, _stop: &AtomicBool) -> bool {
        self.sleeps += 1;
        if self.stop_after.is_some_and(|n| self.sleeps > n) {
            return false;
        }
        self.mono = self.mono.max(at);
        true
    }
}

fn sample(attempt_fails: u64, overflows: Option<u64>) -> CounterSample {
    let mut s = CounterSample::default();
    s.tcp.insert("AttemptFails".into(), attempt_fails);
    s.tcp.insert("OutRsts".into(), attempt_fails * 2);
    s.tcp.insert("EstabResets".into(), 7);
    if let Some(o) = overflows {
        s.tcp_ext.insert("ListenOverflows".into(), o);
        s.tcp_ext.insert("ListenDrops".into(), o);
    }
    s
}

fn args(json: bool, count: Option<u64>) -> CountersArgs {
    CountersArgs {
        interval: Duration::from_secs(1),
        count,
        netns: None,
        json,
        warn: DEFAULT_WARN,
        crit: DEFAULT_CRIT,
    }
}

fn host() -> Scope {
    Scope {
        netns: None,
        start: CountersStart::Known {
            seconds: 12.0 * 86_400.0,
        },
        notes: vec![],
    }
}

fn go(
    a: &CountersArgs,
    samples: Vec<Result<CounterSample, CounterError>>,
    scope: &Scope,
    stop_after: Option<usize>,
) -> (i32, String, String) {
    let mut src = FakeCounters {
        samples: samples.into(),
    };
    let mut clock = FakeClock {
        mono: 0.0,
        stop_after,
        sleeps: 0,
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run_with(
        a,
        &mut src,
        &mut clock,
        scope,
        &AtomicBool::new(false),
        &mut out,
        &mut err,
    );
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

/// 1037 failures over 12 days, then 0/s, then 2/s from the second interval on.
fn story() -> Vec<Result<CounterSample, CounterError>> {
    [1037, 1037, 1039, 1041, 1043]
        .into_iter()
        .map(|n| Ok(sample(n, Some(0))))
        .collect()
}

#[test]
fn text_headline_is_it_new_and_onset() {
    let (code, out, err) = go(&args(false, Some(4)), story(), &host(), None);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("warn above 1/s, crit above 10/s"), "{err}");
    assert!(err.contains("not available on this kernel"), "{err}");
    let blocks: Vec<&str> = out.split(" UTC  failed").collect();
    assert_eq!(blocks.len(), 5, "{out}");
    assert!(
        out.contains(
            "13:15:43 UTC  failed connections/s: 2.0 (AttemptFails +2 in 1.00 s)  WARN (above 1/s)"
        ),
        "{out}"
    );
    assert!(
        out.contains("is it new? 2.0/s now, 0.001/s on average over 12 days: new"),
        "{out}"
    );
    assert!(
        out.contains("onset: 2.0 failed connections/s since 13:15:42 UTC (above --warn 1/s)"),
        "{out}"
    );
    // Non-zero counters carry their meaning; unchanged ones are counted.
    assert!(
        out.contains("2.0/s       +2  AttemptFails          connection attempts that failed"),
        "{out}"
    );
    assert!(out.contains("other counters did not move"), "{out}");
    // The summary lists every counter, n/a included.
    let summary = out.split("rsthound: 4 intervals").nth(1).expect(&out);
    assert!(
        summary.contains("failed connections/s on average: 1.5 (AttemptFails +6 in 4.00 s)"),
        "{summary}"
    );
    assert!(
        summary.contains("onset: above --warn 1/s since 13:15:42 UTC, still above at the end"),
        "{summary}"
    );
    assert!(summary.contains("n/a"), "{summary}");
    assert!(summary.contains("EstabResets"), "{summary}");
}

#[test]
fn json_records_per_interval_and_summary() {
    let (code, out, _) = go(&args(true, Some(4)), story(), &host(), None);
    assert_eq!(code, 0);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);
    assert!(lines[..4].iter().all(|l| l["type"] == "counters"));
    assert_eq!(lines[0]["failed_connections_per_second"], 0.0);
    assert_eq!(lines[0]["level"], "ok");
    assert_eq!(lines[1]["failed_connections_per_second"], 2.0);
    assert_eq!(lines[1]["level"], "warn");
    assert_eq!(lines[1]["event"], "crossed");
    assert_eq!(lines[1]["onset"]["since_utc"], "13:15:42");
    assert_eq!(lines[1]["novelty"]["verdict"], "new");
    let first = &lines[1]["counters"][0];
    assert_eq!(first["name"], "OutRsts");
    assert_eq!(first["delta"], 4);
    let na = lines[1]["counters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "TCPAbortFailed")
        .unwrap();
    assert_eq!(na["available"], false);
    assert!(na.get("per_second").is_none() && na.get("total").is_none());
    let s = &lines[4];
    assert_eq!(s["type"], "summary");
    assert_eq!(s["intervals"], 4);
    assert_eq!(s["worst_level"], "warn");
    assert_eq!(s["onset"]["since"], T0 + 1.0);
    assert_eq!(s["above_warn_at_end"], true);
    assert_eq!(s["failed_connections_per_second"], 1.5);
}

#[test]
fn a_reset_is_said_not_turned_into_a_rate() {
    let samples = [100, 102, 1, 3]
        .into_iter()
        .map(|n| Ok(sample(n, None)))
        .collect();
    let (code, out, _) = go(&args(false, Some(3)), samples, &host(), None);
    assert_eq!(code, 0);
    assert!(
        out.contains("no rate: AttemptFails went down from 102 to 1, the counters were reset"),
        "{out}"
    );
    let (_, out, _) = go(
        &args(true, Some(3)),
        [100, 102, 1, 3]
            .into_iter()
            .map(|n| Ok(sample(n, None)))
            .collect(),
        &host(),
        None,
    );
    let l: serde_json::Value = serde_json::from_str(out.lines().nth(1).unwrap()).unwrap();
    assert!(l.get("failed_connections_per_second").is_none());
    assert_eq!(l["counters"][0]["reset"]["before"], 102);
}

#[test]
fn another_namespace_says_the_start_is_unknown() {
    let scope = Scope {
        netns: Some("web".into()),
        start: CountersStart::Unknown,
        notes: vec![],
    };
    let (_, out, err) = go(&args(false, Some(2)), story(), &scope, None);
    assert!(err.contains("network namespace web"), "{err}");
    assert!(err.contains("Linux does not say when"), "{err}");
    assert!(
        out.contains("2.0/s now, 1037 before that since this namespace's counters started"),
        "{out}"
    );
}

#[test]
fn source_failure_exits_1_and_keeps_what_was_measured() {
    let mut samples = story();
    samples.truncate(3);
    let (code, out, err) = go(&args(false, None), samples, &host(), None);
    assert_eq!(code, 1);
    assert!(err.contains("rsthound: the thread reading"), "{err}");
    assert!(out.contains("rsthound: 2 intervals"), "{out}");
    // Nothing at all: exit 1 with one line.
    let (code, out, err) = go(&args(false, None), vec![], &host(), None);
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(err.lines().count(), 1);
}

#[test]
fn ctrl_c_ends_with_the_summary() {
    let (code, out, _) = go(&args(true, None), story(), &host(), Some(2));
    assert_eq!(code, 0);
    let last: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(
        (last["type"].as_str(), last["intervals"].as_u64()),
        (Some("summary"), Some(2))
    );
}

#[test]
fn crit_is_reported_and_does_not_change_the_exit_code() {
    let samples = [0, 0, 50, 100]
        .into_iter()
        .map(|n| Ok(sample(n, Some(0))))
        .collect();
    let (code, out, _) = go(&args(false, Some(3)), samples, &host(), None);
    assert_eq!(code, 0);
    assert!(out.contains("CRIT (above 10/s)"), "{out}");
    assert!(
        out.contains("above --crit 10/s since 13:15:42 UTC"),
        "{out}"
    );
}

#[test]
fn usage_errors() {
    let mut a = args(false, None);
    a.warn = 20.0;
    assert!(
        check_args(&a)
            .unwrap_err()
            .contains("--warn (20) is above --crit (10)")
    );
    let mut a = args(false, None);
    a.interval = Duration::from_millis(1);
    assert!(check_args(&a).is_err());
    assert!(parse_rate("nan").is_err());
    assert!(parse_rate("-1").is_err());
    assert!(parse_rate("inf").is_err());
    assert_eq!(parse_rate("0.5"), Ok(0.5));
}

#[test]
fn listen_overflows_move_with_their_meaning() {
    let samples = [Some(0), Some(49)]
        .into_iter()
        .map(|o| Ok(sample(0, o)))
        .collect();
    let (_, out, _) = go(&args(false, Some(1)), samples, &host(), None);
    let line = out
        .lines()
        .find(|l| l.contains("ListenOverflows"))
        .expect(&out);
    assert!(
        line.contains("49.0/s") && line.contains("accept queue was full"),
        "{line}"
    );
    let _ = Section::TcpExt;
}
