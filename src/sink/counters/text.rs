//! The words of `rsthound counters` for a terminal: the banner (stderr), one block per interval
//! and the run's summary (stdout).

use crate::engine::counters::{
    CATALOGUE, Change, CounterChange, CounterSample, CountersStart, Episode, IntervalView, Level,
    Novelty, OnsetEvent, OnsetTracker, RunView, Scope, Thresholds, Verdict, time_of_day_utc,
};
use std::fmt::Write as _;
use std::time::Duration;

/// A rate for people: `2.0`, `15`, `0.0012`, `0`.
pub fn fmt_rate(x: f64) -> String {
    if !x.is_finite() {
        return "?".into();
    }
    if x == 0.0 {
        "0".into()
    } else if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 1.0 {
        format!("{x:.1}")
    } else {
        // Two significant digits, trailing zeros dropped.
        let decimals = ((-x.log10()).floor() as usize + 2).min(9);
        let s = format!("{x:.decimals$}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        if s == "1" {
            // 0.99998 rounds up: say it as the rates from 1 up are said.
            "1.0".into()
        } else if s == "0" {
            format!("{x:.9}")
        } else {
            s.into()
        }
    }
}

/// A threshold as given: `1`, `0.5`, `10`.
pub fn fmt_threshold(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        fmt_rate(x)
    }
}

/// A span of time for people: `40 s`, `12 min`, `5 h`, `12 days`.
pub fn human_span(seconds: f64) -> String {
    let s = seconds.max(0.0);
    if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 2.0 * 3600.0 {
        format!("{:.0} min", s / 60.0)
    } else if s < 2.0 * 86_400.0 {
        format!("{:.0} h", s / 3600.0)
    } else {
        format!("{:.0} days", s / 86_400.0)
    }
}

fn where_from(scope: &Scope) -> String {
    match &scope.netns {
        Some(n) => format!("network namespace {n}"),
        None if matches!(scope.start, CountersStart::Known { .. }) => {
            "the host's network namespace".into()
        }
        None => "this network namespace".into(),
    }
}

/// The first lines on stderr: what is read, how often, the thresholds, what is not available.
pub fn banner(
    interval: Duration,
    count: Option<u64>,
    scope: &Scope,
    t: &Thresholds,
    first: &CounterSample,
) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "rsthound: TCP counters of {} every {}",
        where_from(scope),
        fmt_interval(interval.as_secs_f64())
    );
    match count {
        Some(n) => {
            let _ = writeln!(s, ", {n} interval{}", if n == 1 { "" } else { "s" });
        }
        None => s.push_str(" until Ctrl-C\n"),
    }
    let _ = writeln!(
        s,
        "rsthound: failed connections/s = ΔAttemptFails/Δt; warn above {}/s, crit above {}/s",
        fmt_threshold(t.warn),
        fmt_threshold(t.crit)
    );
    if scope.start == CountersStart::Unknown && scope.netns.is_some() {
        s.push_str(
            "rsthound: another namespace's counters start when it is created, and Linux does not \
             say when: \"is it new?\" cannot compare with a long-term average\n",
        );
    }
    for note in &scope.notes {
        let _ = writeln!(s, "rsthound: note: {note}");
    }
    for (section, why) in &first.unreadable {
        let _ = writeln!(
            s,
            "rsthound: warning: the {} counters are not available: {why}",
            section.prefix()
        );
    }
    let na: Vec<&str> = CATALOGUE
        .iter()
        .filter(|c| first.get(c.section, c.name).is_none())
        .map(|c| c.name)
        .collect();
    if !na.is_empty() {
        let _ = writeln!(
            s,
            "rsthound: not available on this kernel (shown n/a): {}",
            na.join(", ")
        );
    }
    s
}

fn fmt_interval(secs: f64) -> String {
    if secs < 1.0 {
        format!("{:.0} ms", secs * 1000.0)
    } else {
        format!("{} s", fmt_rate(secs).trim_end_matches(".0"))
    }
}

fn level_tag(level: Level, t: &Thresholds) -> String {
    match level {
        Level::Ok => String::new(),
        Level::Warn => format!("  WARN (above {}/s)", fmt_threshold(t.warn)),
        Level::Crit => format!("  CRIT (above {}/s)", fmt_threshold(t.crit)),
    }
}

/// The headline of an interval or a run.
fn headline(change: Change, seconds: f64) -> String {
    match change {
        Change::Moved { delta, per_second } => format!(
            "failed connections/s: {} (AttemptFails +{delta} in {:.2} s)",
            fmt_rate(per_second),
            seconds
        ),
        Change::Reset { before, after } => format!(
            "failed connections/s: no rate: AttemptFails went down from {before} to {after}, \
             the counters were reset"
        ),
        Change::NotAvailable => "failed connections/s: n/a (no AttemptFails counter)".into(),
    }
}

/// "2.0/s now, 0.001/s on average over 12 days: new"
pub fn novelty_sentence(n: &Novelty) -> Option<String> {
    novelty_words(n, "now")
}

/// The same for a stretch of time (`when`: "now", "during the run").
fn novelty_words(n: &Novelty, when: &str) -> Option<String> {
    let now = format!("{}/s {when}", fmt_rate(n.now));
    let over = |avg: f64, s: f64| format!("{}/s on average over {}", fmt_rate(avg), human_span(s));
    Some(match (n.verdict, n.average, n.over_seconds) {
        (Verdict::NoneNow, _, _) => return None,
        (Verdict::New, Some(avg), Some(s)) if avg <= 0.0 => {
            format!("{now}, none at all in the {} before: new", human_span(s))
        }
        (Verdict::New, None, _) => {
            format!("{now}, none at all since this namespace's counters started: new")
        }
        (Verdict::New, Some(avg), Some(s)) => format!("{now}, {}: new", over(avg, s)),
        (Verdict::Higher, Some(avg), Some(s)) => {
            format!("{now}, {}: higher than usual", over(avg, s))
        }
        (Verdict::Usual, Some(avg), Some(s)) => format!(
            "{now}, {}: not new, it has been like this all along",
            over(avg, s)
        ),
        (Verdict::TooShort, _, Some(s)) => format!(
            "{now}; the counters started only {} ago: too short a history to tell",
            human_span(s)
        ),
        _ => format!(
            "{now}, {} before that since this namespace's counters started, and Linux does not \
             say when that was: cannot tell",
            n.total_before
        ),
    })
}

fn since(ep: &Episode) -> String {
    let mut s = format!("since {} UTC", time_of_day_utc(ep.since));
    if ep.before_run {
        s.push_str(" or earlier (already above when rsthound started)");
    }
    s
}

/// "2.0 failed connections/s since 13:15:42 UTC (above --warn 1/s)"
fn onset_sentence(rate: Option<f64>, tracker: &OnsetTracker) -> Option<String> {
    let ep = tracker.current()?;
    let t = tracker.thresholds;
    let rate = rate.map_or("?".to_string(), fmt_rate);
    let mut s = format!(
        "{rate} failed connections/s {} (above --warn {}/s)",
        since(&ep),
        fmt_threshold(t.warn)
    );
    if let Some(c) = ep.crit_since {
        let _ = write!(
            s,
            ", above --crit {}/s since {} UTC",
            fmt_threshold(t.crit),
            time_of_day_utc(c)
        );
    }
    Some(s)
}

fn counter_line(s: &mut String, row: &CounterChange) {
    let (rate, change) = match row.change {
        Change::Moved { delta, per_second } => {
            (format!("{}/s", fmt_rate(per_second)), format!("+{delta}"))
        }
        Change::Reset { before, after } => ("reset".to_string(), format!("{before}→{after}")),
        Change::NotAvailable => ("n/a".to_string(), String::new()),
    };
    let _ = writeln!(
        s,
        "  {rate:>9} {change:>8}  {:<21} {}",
        row.info.name, row.info.meaning
    );
}

/// One interval's block.
pub fn interval(v: &IntervalView<'_>, t: &Thresholds) -> String {
    let mut s = String::new();
    let change = v.rates.failed_connections();
    let level = change.rate().map_or(Level::Ok, |r| t.level(r));
    let _ = writeln!(
        s,
        "{} UTC  {}{}",
        time_of_day_utc(v.end_unix),
        headline(change, v.rates.seconds),
        level_tag(level, t)
    );
    if let Some(n) = v.novelty.as_ref().and_then(novelty_sentence) {
        let _ = writeln!(s, "  is it new? {n}");
    }
    match v.event {
        OnsetEvent::Cleared { at, lasted } => {
            let _ = writeln!(
                s,
                "  back under --warn {}/s at {} UTC, after {} above it",
                fmt_threshold(t.warn),
                time_of_day_utc(at),
                human_span(lasted)
            );
        }
        _ => {
            if let Some(o) = onset_sentence(change.rate(), v.onset) {
                let _ = writeln!(s, "  onset: {o}");
            }
        }
    }
    let mut quiet = 0;
    for row in &v.rates.rows {
        if row.change.is_nonzero() {
            counter_line(&mut s, row);
        } else if matches!(row.change, Change::Moved { .. }) {
            quiet += 1;
        }
    }
    if quiet > 0 {
        let _ = writeln!(s, "  {quiet} other counters did not move");
    }
    s
}

/// The summary after the last interval: the whole run, every counter with its meaning.
pub fn summary(r: &RunView<'_>) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\nrsthound: {} interval{} over {} in {}",
        r.intervals,
        if r.intervals == 1 { "" } else { "s" },
        human_span(r.end_unix - r.start_unix),
        where_from(r.scope)
    );
    let Some(rates) = r.rates else {
        s.push_str("  no interval completed: no rates\n");
        for e in r.errors {
            let _ = writeln!(s, "  error: {e}");
        }
        return s;
    };
    let change = rates.failed_connections();
    let _ = writeln!(
        s,
        "  {}{}",
        headline(change, rates.seconds).replacen(": ", " on average: ", 1),
        level_tag(r.onset.worst(), &r.thresholds).replacen("  ", "  worst interval ", 1)
    );
    if let Some(n) = r
        .novelty
        .as_ref()
        .and_then(|n| novelty_words(n, "during the run"))
    {
        let _ = writeln!(s, "  is it new? {n}");
    }
    match (r.onset.first(), r.onset.current()) {
        (Some(first), Some(_)) => {
            let _ = writeln!(
                s,
                "  onset: above --warn {}/s {}, still above at the end",
                fmt_threshold(r.thresholds.warn),
                since(&first)
            );
        }
        (Some(first), None) => {
            let _ = writeln!(
                s,
                "  onset: first above --warn {}/s {}; back under it at the end ({} episode{})",
                fmt_threshold(r.thresholds.warn),
                since(&first),
                r.onset.episodes(),
                if r.onset.episodes() == 1 { "" } else { "s" }
            );
        }
        _ => {
            let _ = writeln!(
                s,
                "  never above --warn {}/s",
                fmt_threshold(r.thresholds.warn)
            );
        }
    }
    let _ = writeln!(
        s,
        "  {:>9} {:>8}  {:<21} what it counts",
        "rate", "change", "counter"
    );
    for row in &rates.rows {
        counter_line(&mut s, row);
    }
    for e in r.errors {
        let _ = writeln!(s, "  error: {e}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_for_people() {
        assert_eq!(fmt_rate(2.0), "2.0");
        assert_eq!(fmt_rate(1.9994), "2.0");
        assert_eq!(fmt_rate(0.001), "0.001");
        assert_eq!(fmt_rate(0.00123), "0.0012");
        assert_eq!(fmt_rate(0.5), "0.5");
        assert_eq!(fmt_rate(0.99998), "1.0");
        assert_eq!(fmt_rate(0.0), "0");
        assert_eq!(fmt_rate(250.4), "250");
        assert_eq!(fmt_rate(f64::NAN), "?");
    }

    #[test]
    fn spans_for_people() {
        assert_eq!(human_span(12.0 * 86_400.0), "12 days");
        assert_eq!(human_span(40.0), "40 s");
        assert_eq!(human_span(600.0), "10 min");
        assert_eq!(human_span(5.0 * 3600.0), "5 h");
    }

    #[test]
    fn the_issue_sentence() {
        let n = crate::engine::counters::novelty(
            2.0,
            1037,
            CountersStart::Known {
                seconds: 12.0 * 86_400.0,
            },
        );
        assert_eq!(
            novelty_sentence(&n).unwrap(),
            "2.0/s now, 0.001/s on average over 12 days: new"
        );
        let n = crate::engine::counters::novelty(2.0, 1037, CountersStart::Unknown);
        assert!(novelty_sentence(&n).unwrap().contains("cannot tell"));
    }

    #[test]
    fn disagreements_in_words() {
        use crate::engine::counters::{Disagreement, MissedCause};
        use crate::sink::text::disagreement;
        let forged = disagreement(&Disagreement::RstsNotFromStack {
            seen: 7,
            out_rsts: 2,
            forged: 5,
        });
        assert!(
            forged.contains("at least 5 were not sent by the TCP stack"),
            "{forged}"
        );
        let missed = disagreement(&Disagreement::FailuresNotCaptured {
            attempt_fails: 20,
            captured: 0,
            causes: vec![
                MissedCause::OtherNamespace {
                    candidates: vec!["web".into()],
                },
                MissedCause::NeverOnWire,
            ],
        });
        assert!(missed.contains("try --netns web"), "{missed}");
        let full = disagreement(&Disagreement::AcceptQueueFull {
            overflows: 50,
            drops: Some(50),
        });
        assert!(full.contains("accept queue was full"), "{full}");
    }
}
