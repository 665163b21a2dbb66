//! The summary report: who resets whom and how often, and the findings ranked by how much they
//! matter, as typed data (the words come from `sink::findings`).
//!
//! Owns the aggregation of classified RSTs, ended connections and kept-talking notes into groups
//! (by the endpoint that resets, by service port, by peer; `snapshot.rs`), the pattern rules
//! (`rules/`: service down, port scan, many sources refused on one port, RST storm, unanswered
//! SYNs, suspected injection, routine resets), the typed findings they make (`finding.rs`) and
//! what a run hands to its sinks (`view.rs`). Pure and bounded: every table has a key cap and an
//! overflow counter that the sinks mention; distinct-peer sets share one entry budget.
//! Events are added through hash indexes (an RST costs a few hash lookups, not walks down
//! ordered trees), and a key seen once costs a compact record (see `groups`); everything
//! shown is put in key order first, so all output is deterministic.

mod clients;
pub mod finding;
mod groups;
pub mod rules;
mod snapshot;
pub mod view;

pub use clients::ClientGroup;
pub use finding::{Finding, FindingKind, Severity};
pub use snapshot::{Kind, Snapshot};
pub use view::{FindingsView, ReportView};

use crate::engine::services::Services;
use crate::engine::track::{
    ClosedConn, ConnState, ConnSummary, Endpoint, NoReply, RstEvent, Verdict,
};
use crate::model::timestamp::Timestamp;
use finding::{Sample, Span};
use groups::{Budget, Group, Groups};
use snapshot::{Tally, event_keys, tally};
use std::hash::Hash;
use std::net::IpAddr;

const NS: i64 = 1_000_000_000;

/// Refused (or unanswered) attempts on one ip:port at least this often: the service is down.
pub const SERVICE_DOWN_REPEATS: u64 = 3;
/// One source refused (or unanswered) on at least this many distinct ports: a port scan.
pub const PORT_SCAN_PORTS: usize = 10;
/// At least this many sources refused on one port across several hosts.
pub const MANY_SOURCES: usize = 10;
/// A second with at least this many RSTs…
pub const STORM_MIN_RSTS: u64 = 100;
/// …and at least this many times the typical second of the capture is a storm.
pub const STORM_FACTOR: u64 = 10;
/// A second with at least this many RSTs is a storm whatever the capture's typical second: a
/// healthy host does not reset a thousand connections a second, so a steady flood (100,000 a
/// second for ten seconds) is a storm too, though every second of it is typical.
pub const STEADY_STORM_RSTS: u64 = 1_000;

/// Rows per grouping in the JSON.
pub const MAX_JSON_ROWS: usize = 1000;

/// The report's bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Keys per table (endpoints, services, peers, healthy endpoints, kept-talking senders).
    pub max_keys: usize,
    /// Distinct peers (or ports) remembered per group.
    pub max_distinct: usize,
    /// Distinct-set entries for all groups together.
    pub distinct_budget: usize,
    /// Seconds with RSTs remembered for storm detection.
    pub max_seconds: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_keys: 100_000,
            max_distinct: 1024,
            distinct_budget: 2_000_000,
            max_seconds: 100_000,
        }
    }
}

impl Limits {
    /// Memory the report's tables take when a flood of one kind of event (RSTs, or unanswered
    /// attempts, from or to endpoints all different, each seen twice) fills the three groupings
    /// to `max_keys`, each endpoint group with an evidence sample. A grouping is made with room
    /// for `max_keys` keys (see `Groups::bounded`): an index of numbers (a word per bucket, at
    /// a load of 6/8 at most; see `slot_index`), and its keys and groups in vectors; the
    /// endpoint and peer groupings also keep a key's first event as a single (whose place stays
    /// when a second event makes it a group). The default connection cap is
    /// what remains of the memory budget after this. (Filling every table at once, healthy
    /// tallies and distinct-peer sets included, would take more; those are bounded by their
    /// own caps.)
    pub fn reserve_bytes(&self) -> usize {
        use std::mem::size_of;
        let index = crate::engine::slot_index::bytes_for(self.max_keys);
        fn grouping<K>(keys: usize, index: usize, single: usize) -> usize {
            index + keys * (size_of::<K>() + size_of::<Group>() + single)
        }
        type Single<K> = groups::Single<K>;
        // A single's sample; the group's, boxed, with its allocator header; and room for
        // evidence given as text.
        let sample = size_of::<Option<Sample>>() + size_of::<(Timestamp, Sample)>() + 16 + 128;
        let endpoints = size_of::<Single<(Endpoint, Kind)>>() + sample;
        grouping::<(Endpoint, Kind)>(self.max_keys, index, endpoints)
            + grouping::<(u16, Kind)>(self.max_keys, index, 0)
            + grouping::<(IpAddr, Kind)>(self.max_keys, index, size_of::<Single<(IpAddr, Kind)>>())
            + self.max_seconds * 3 * size_of::<(i64, u64)>()
    }
}

/// Events a full table could not group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overflow {
    pub by_endpoint: u64,
    pub by_service: u64,
    pub by_peer: u64,
    pub healthy: u64,
    pub kept_talking: u64,
    pub seconds: u64,
    pub distinct: u64,
}

impl Overflow {
    pub fn any(&self) -> bool {
        self.by_endpoint
            + self.by_service
            + self.by_peer
            + self.healthy
            + self.kept_talking
            + self.seconds
            + self.distinct
            > 0
    }
}

/// The aggregate of a run: feed it events, then ask for the findings or the whole view.
#[derive(Debug, Clone)]
pub struct Report {
    limits: Limits,
    rsts: u64,
    ended: u64,
    healthy: u64,
    unanswered: u64,
    /// The groupings the rules read.
    snap: Snapshot,
    overflow: Overflow,
}

impl Report {
    pub fn new(services: Services) -> Self {
        Report::with_limits(services, Limits::default())
    }

    pub fn with_limits(services: Services, limits: Limits) -> Self {
        let budget = Budget {
            left: limits.distinct_budget,
            per_set: limits.max_distinct,
            refused: 0,
        };
        Report {
            snap: Snapshot::new(services, limits.max_keys, budget),
            limits,
            rsts: 0,
            ended: 0,
            healthy: 0,
            unanswered: 0,
            overflow: Overflow::default(),
        }
    }

    fn observe(&mut self, ts: Timestamp) {
        self.snap.observe(ts);
    }

    /// Starts loading the index buckets that [`Report::add_rst`] of `ev` will read first: for
    /// an event some places ahead (then [`Report::prefetch_rst_groups`], then the add).
    #[inline]
    pub fn prefetch_rst_index(&self, ev: &RstEvent) {
        let (endpoint, peer) = event_keys(Kind::Rst(ev.verdict), ev.from, ev.to);
        self.snap.by_endpoint.prefetch(&endpoint);
        self.snap.by_peer.prefetch(&peer);
    }

    /// Starts loading the groups that [`Report::add_rst`] of `ev` will add to.
    #[inline]
    pub fn prefetch_rst_groups(&self, ev: &RstEvent) {
        let (endpoint, peer) = event_keys(Kind::Rst(ev.verdict), ev.from, ev.to);
        self.snap.by_endpoint.prefetch_slot(&endpoint);
        self.snap.by_peer.prefetch_slot(&peer);
    }

    /// A classified RST.
    pub fn add_rst(&mut self, ev: &RstEvent) {
        self.observe(ev.ts);
        self.rsts = self.rsts.saturating_add(1);
        let hit = groups::Hit {
            ts: ev.ts,
            other: ev.to,
            syns: 0,
            from_orig: ev.from_orig,
        };
        let service = (ev.conn.resp.port, ev.conn.orig);
        self.group(Kind::Rst(ev.verdict), hit, ev.from, service, || {
            Some(Sample::Rst(ev.evidence.clone()))
        });
        if let Some(k) = &ev.kernel {
            if let Some(c) = &k.client {
                self.snap.clients.add(ev.from, c);
            }
            if let Some(p) = &k.past_listener {
                self.snap.clients.add_past_listener(ev.from, p);
            }
            if let Some(l) = &k.listener_reset {
                self.snap.clients.add_listener_reset(ev.from, l);
            }
        }
        self.snap.seconds.add(
            ev.ts.secs(),
            self.limits.max_seconds,
            &mut self.overflow.seconds,
        );
    }

    /// Records an event of `kind` in the groupings (see [`Snapshot::record`]).
    fn group(
        &mut self,
        kind: Kind,
        hit: groups::Hit,
        by: Endpoint,
        service: (u16, Endpoint),
        sample: impl FnOnce() -> Option<Sample>,
    ) {
        self.snap
            .record(kind, hit, by, service, sample, &mut self.overflow);
    }

    /// A connection that ended: unanswered attempts (S0) become failures, connections that
    /// completed their handshake count as healthy (to contrast a failing service with working
    /// ones); the rest were already reported through their RSTs.
    pub fn add_ended(&mut self, c: &ConnSummary) {
        self.observe(c.start);
        self.observe(c.last);
        self.ended = self.ended.saturating_add(1);
        match c.conn_state {
            ConnState::S0 => {
                self.unanswered = self.unanswered.saturating_add(1);
                let hit = groups::Hit {
                    ts: c.start,
                    other: c.orig,
                    syns: c.syns.max(1),
                    from_orig: false,
                };
                self.group(Kind::Unanswered, hit, c.resp, (c.resp.port, c.orig), || {
                    Some(Sample::NoReply(NoReply::of(c)))
                });
            }
            state => self.add_healthy(state, c.resp, c.start, c.last),
        }
    }

    /// A connection that ended, in brief (never an unanswered attempt): the same as
    /// [`Report::add_ended`] for it.
    pub fn add_closed(&mut self, c: &ClosedConn) {
        debug_assert!(!c.conn_state.is_unanswered());
        self.observe(c.start);
        self.observe(c.last);
        self.ended = self.ended.saturating_add(1);
        self.add_healthy(c.conn_state, c.resp, c.start, c.last);
    }

    /// Connections that completed their handshake count as healthy.
    fn add_healthy(&mut self, state: ConnState, resp: Endpoint, start: Timestamp, last: Timestamp) {
        if !matches!(
            state,
            ConnState::Sf | ConnState::S1 | ConnState::S2 | ConnState::S3
        ) {
            return;
        }
        let cap = self.limits.max_keys;
        self.healthy = self.healthy.saturating_add(1);
        self.snap.healthy_in_order.take();
        tally(
            &mut self.snap.healthy_by_endpoint,
            resp,
            start,
            last,
            cap,
            &mut self.overflow.healthy,
        );
        tally(
            &mut self.snap.healthy_by_port,
            resp.port,
            start,
            last,
            cap,
            &mut self.overflow.healthy,
        );
    }

    /// Late evidence that `sender`'s earlier RST was forged: it kept sending after it.
    pub fn add_kept_talking(&mut self, ts: Timestamp, sender: Endpoint) {
        self.observe(ts);
        self.snap.kept_talking = self.snap.kept_talking.saturating_add(1);
        tally(
            &mut self.snap.kept_by_sender,
            sender,
            ts,
            ts,
            self.limits.max_keys,
            &mut self.overflow.kept_talking,
        );
    }

    /// RSTs added.
    pub fn rsts(&self) -> u64 {
        self.rsts
    }

    /// Hints about what a refused endpoint's port was for (live runs: looked up once per
    /// port at the end, from /etc/services, socket units and command lines).
    pub fn add_port_hints(&mut self, e: Endpoint, hints: &[String]) {
        self.snap.clients.add_hints(e, hints);
    }

    /// RSTs added with verdict `v`.
    pub fn rsts_with(&self, v: Verdict) -> u64 {
        self.snap.by_kind.get(&Kind::Rst(v)).map_or(0, |g| g.count)
    }

    /// Unanswered attempts (S0) added.
    pub fn unanswered(&self) -> u64 {
        self.unanswered
    }

    /// Events a full table could not group (all tables together).
    pub fn overflowed(&self) -> u64 {
        let o = &self.overflow;
        o.by_endpoint + o.by_service + o.by_peer + o.healthy + o.kept_talking + o.seconds
    }

    /// Everything found, most important first (see [`rules::all`]).
    pub fn findings(&self) -> Vec<Finding> {
        rules::all(&self.snap)
    }

    /// The groupings the rules read.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snap
    }

    /// The ranked findings with what the text block says around them.
    pub fn findings_view(&self) -> FindingsView {
        FindingsView {
            findings: self.findings(),
            healthy: self.healthy,
            overflow: self.overflow.clone(),
            limits: self.limits.clone(),
        }
    }

    /// The findings and the groupings, for `--json` (on a large report this is not free).
    pub fn view(&self) -> ReportView {
        let s = &self.snap;
        let rsts_by_verdict = s
            .by_kind
            .iter()
            .filter_map(|(k, g)| match k {
                Kind::Rst(v) => Some((*v, g.count)),
                Kind::Unanswered => None,
            })
            .collect();
        let mut healthy: Vec<(&u16, &Tally)> = s.healthy_by_port.iter().collect();
        healthy.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
        let mut kept: Vec<(&Endpoint, &Tally)> = s.kept_by_sender.iter().collect();
        kept.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
        ReportView {
            totals: view::Totals {
                rsts: self.rsts,
                rsts_by_verdict,
                connections_ended: self.ended,
                healthy: self.healthy,
                unanswered: self.unanswered,
                kept_talking: s.kept_talking,
            },
            findings: self.findings(),
            by_endpoint: rows(&s.by_endpoint, |(e, k)| (s.named(*e), *k)),
            by_service: rows(&s.by_service, |(p, k)| (s.service(*p), *k)),
            by_peer: rows(&s.by_peer, |k| *k),
            healthy_by_service: healthy
                .iter()
                .take(MAX_JSON_ROWS)
                .map(|(p, t)| view::Healthy {
                    service: s.service(**p),
                    connections: t.count,
                    first: t.first,
                    last: t.last,
                })
                .collect(),
            kept_talking: kept
                .iter()
                .take(MAX_JSON_ROWS)
                .map(|(e, t)| view::KeptTalking {
                    sender: **e,
                    notes: t.count,
                    first: t.first,
                    last: t.last,
                })
                .collect(),
            overflow: self.overflow.clone(),
            limits: self.limits.clone(),
            rows_per_grouping: MAX_JSON_ROWS,
        }
    }
}

/// Rows of one grouping, largest first (ties in key order), at most [`MAX_JSON_ROWS`].
fn rows<K: Ord + Hash + Copy, T>(map: &Groups<K>, key: impl Fn(&K) -> T) -> view::Rows<T> {
    let top = map.top_where(|_| true, MAX_JSON_ROWS);
    view::Rows {
        rows: top.iter().map(|(k, g)| row(key(k), g)).collect(),
        omitted: map.len().saturating_sub(MAX_JSON_ROWS),
        keys: map.len(),
    }
}

fn row<T>(key: T, g: &Group) -> view::Row<T> {
    view::Row {
        key,
        count: g.count,
        peers: snapshot::distinct(&g.peers),
        peer_ports: snapshot::distinct(&g.ports),
        span: Span {
            first: g.first,
            last: g.last,
        },
        rate: g.rate(),
        peak: finding::PeakSecond {
            sec: g.peak.best_sec,
            events: g.peak.best_n.into(),
        },
        syns: g.syns,
    }
}

/// The start of a second (Unix seconds) as a timestamp.
pub fn sec_ts(sec: i64) -> Timestamp {
    Timestamp::from_nanos(sec.saturating_mul(NS), 0)
}

#[cfg(test)]
mod tests {
    use super::finding::rate;
    use super::snapshot::PerSecond;
    use super::*;

    fn ts(secs: i64, micros: u64) -> Timestamp {
        Timestamp::from_parts(secs, micros, 6)
    }

    #[test]
    fn rate_uses_intervals_and_guards_zero_spans() {
        let a = ts(100, 0);
        assert_eq!(rate(1, a, a), None);
        assert_eq!(rate(5, a, a), None);
        assert_eq!(rate(10, a, ts(104, 500_000)), Some(2.0));
        assert!(rate(2, ts(i64::MIN / NS, 0), ts(i64::MAX / NS, 0)).is_some());
    }

    #[test]
    fn per_second_counts_the_current_second_on_the_side_exactly() {
        let mut p = PerSecond::default();
        let mut dropped = 0;
        // Time goes back once (5 after 6) and the table holds two seconds.
        for sec in [5, 5, 6, 6, 6, 5, 7, 7, 5] {
            p.add(sec, 2, &mut dropped);
        }
        assert_eq!(dropped, 2, "second 7 had no room");
        assert_eq!(p.iter().collect::<Vec<_>>(), vec![(5, 4), (6, 3)]);
        p.settle();
        assert_eq!(p.iter().collect::<Vec<_>>(), vec![(5, 4), (6, 3)]);
        assert!(!p.is_empty());
    }
}
