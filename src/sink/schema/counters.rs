//! Every JSON record `rsthound counters --json` writes, in one place: `"type":"counters"` per
//! interval and `"type":"summary"` at the end. Times are Unix seconds (floats) plus `HH:MM:SS`
//! UTC; rates are per second; a counter this kernel lacks has `"available":false` and no
//! numbers (never 0); a counter that went down has `"reset":{"before":…,"after":…}` and no rate.

use crate::engine::counters::{
    Change, CounterChange, CountersStart, Episode, IntervalRates, IntervalView, Level, Novelty,
    OnsetEvent, RunView, Verdict, time_of_day_utc,
};
use serde::Serialize;

#[derive(Serialize)]
pub struct CounterJson {
    pub name: &'static str,
    /// `Tcp` or `TcpExt`.
    pub section: &'static str,
    pub file: &'static str,
    pub available: bool,
    /// Value at the end of the interval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delta: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_second: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reset: Option<ResetJson>,
    pub meaning: &'static str,
}

#[derive(Serialize)]
pub struct ResetJson {
    pub before: u64,
    pub after: u64,
}

#[derive(Serialize)]
pub struct NoveltyJson {
    pub now_per_second: f64,
    /// Average from the counters' start to the first sample; absent when the start is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub average_per_second: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub over_seconds: Option<f64>,
    /// AttemptFails at the first sample.
    pub total_before: u64,
    /// `none_now`, `new`, `higher`, `usual`, `too_short`, `unknown`.
    pub verdict: &'static str,
}

#[derive(Serialize)]
pub struct OnsetJson {
    /// Start of the first interval above warn (Unix seconds).
    pub since: f64,
    pub since_utc: String,
    pub first_per_second: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crit_since: Option<f64>,
    /// Already above in the run's first interval: it began then or earlier.
    pub before_run: bool,
}

#[derive(Serialize)]
pub struct IntervalJson {
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// End of the interval.
    pub time: f64,
    pub time_utc: String,
    pub seconds: f64,
    /// ΔAttemptFails/Δt; absent when AttemptFails is n/a or was reset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_connections_per_second: Option<f64>,
    /// `ok`, `warn`, `crit` (of this interval's rate).
    pub level: &'static str,
    /// `crossed`, `escalated`, `eased`, `cleared` when this interval changed the level.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub onset: Option<OnsetJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub novelty: Option<NoveltyJson>,
    /// Non-zero first, then unchanged, then not available.
    pub counters: Vec<CounterJson>,
}

#[derive(Serialize)]
pub struct SummaryJson {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub command: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netns: Option<String>,
    /// Seconds the counters had been counting at the first sample; absent when unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counters_started_seconds_before: Option<f64>,
    pub intervals: u64,
    pub start: f64,
    pub end: f64,
    pub seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_connections_per_second: Option<f64>,
    pub warn: f64,
    pub crit: f64,
    /// The worst interval's level.
    pub worst_level: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub onset: Option<OnsetJson>,
    pub above_warn_at_end: bool,
    pub episodes: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub novelty: Option<NoveltyJson>,
    /// Over the whole run (first to last sample).
    pub counters: Vec<CounterJson>,
    pub notes: Vec<String>,
    pub errors: Vec<String>,
}

pub fn counters_json(rates: &IntervalRates) -> Vec<CounterJson> {
    rates.rows.iter().map(counter_json).collect()
}

fn counter_json(row: &CounterChange) -> CounterJson {
    let (delta, per_second, reset) = match row.change {
        Change::Moved { delta, per_second } => (Some(delta), Some(per_second), None),
        Change::Reset { before, after } => (None, None, Some(ResetJson { before, after })),
        Change::NotAvailable => (None, None, None),
    };
    CounterJson {
        name: row.info.name,
        section: row.info.section.prefix(),
        file: row.info.section.file(),
        available: row.change != Change::NotAvailable,
        total: row.total,
        delta,
        per_second,
        reset,
        meaning: row.info.meaning,
    }
}

fn novelty_json(n: &Novelty) -> NoveltyJson {
    NoveltyJson {
        now_per_second: n.now,
        average_per_second: n.average,
        over_seconds: n.over_seconds,
        total_before: n.total_before,
        verdict: match n.verdict {
            Verdict::NoneNow => "none_now",
            Verdict::New => "new",
            Verdict::Higher => "higher",
            Verdict::Usual => "usual",
            Verdict::TooShort => "too_short",
            Verdict::Unknown => "unknown",
        },
    }
}

fn onset_json(ep: &Episode) -> OnsetJson {
    OnsetJson {
        since: ep.since,
        since_utc: time_of_day_utc(ep.since),
        first_per_second: ep.first_rate,
        crit_since: ep.crit_since,
        before_run: ep.before_run,
    }
}

fn event_name(e: OnsetEvent) -> Option<&'static str> {
    match e {
        OnsetEvent::Same => None,
        OnsetEvent::Crossed(_) => Some("crossed"),
        OnsetEvent::Escalated(_) => Some("escalated"),
        OnsetEvent::Eased(_) => Some("eased"),
        OnsetEvent::Cleared { .. } => Some("cleared"),
    }
}

pub fn interval_json(v: &IntervalView<'_>) -> IntervalJson {
    let rate = v.rates.failed_connections().rate();
    IntervalJson {
        kind: "counters",
        time: v.end_unix,
        time_utc: time_of_day_utc(v.end_unix),
        seconds: v.rates.seconds,
        failed_connections_per_second: rate,
        level: rate
            .map_or(Level::Ok, |r| v.onset.thresholds.level(r))
            .as_str(),
        event: event_name(v.event),
        onset: v.onset.current().as_ref().map(onset_json),
        novelty: v.novelty.as_ref().map(novelty_json),
        counters: counters_json(v.rates),
    }
}

pub fn summary_json(r: &RunView<'_>) -> SummaryJson {
    SummaryJson {
        kind: "summary",
        command: "counters",
        netns: r.scope.netns.clone(),
        counters_started_seconds_before: match r.scope.start {
            CountersStart::Known { seconds } => Some(seconds),
            CountersStart::Unknown => None,
        },
        intervals: r.intervals,
        start: r.start_unix,
        end: r.end_unix,
        seconds: r.rates.map_or(0.0, |x| x.seconds),
        failed_connections_per_second: r.rates.and_then(|x| x.failed_connections().rate()),
        warn: r.thresholds.warn,
        crit: r.thresholds.crit,
        worst_level: r.onset.worst().as_str(),
        onset: r.onset.first().as_ref().map(onset_json),
        above_warn_at_end: r.onset.current().is_some(),
        episodes: r.onset.episodes(),
        novelty: r.novelty.as_ref().map(novelty_json),
        counters: r.rates.map(counters_json).unwrap_or_default(),
        notes: r.scope.notes.clone(),
        errors: r.errors.to_vec(),
    }
}
