//! The summary report: who resets whom and how often, and the findings ranked by how much they
//! matter, in plain words (text for a terminal, JSON for `--json`).
//!
//! Owns the aggregation of classified RSTs, ended connections and kept-talking notes into groups
//! (by the endpoint that resets, by service port, by peer), the pattern rules (service down, port
//! scan, many sources refused on one port, RST storm, unanswered SYNs, suspected injection,
//! routine resets) and their rendering. Pure and bounded: every table has a key cap and an
//! overflow counter that the rendered report mentions; distinct-peer sets share one entry budget.
//! Events are added through hash indexes (an RST costs a few hash lookups, not walks down
//! ordered trees), and a key seen once costs a compact record (see `groups`); everything
//! rendered is put in key order first, so all output is deterministic.

mod clients;
mod groups;

use crate::engine::services::Services;
use crate::engine::track::{
    ClosedConn, ConnState, ConnSummary, Endpoint, Evidence, NoReply, RstEvent, Verdict,
};
use crate::model::timestamp::Timestamp;
use crate::sanitize::sanitize_text;
use serde::Serialize;
use serde_json::{Value, json};
use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::hash::Hash;
use std::net::IpAddr;
use std::ops::Deref;

use groups::{Budget, Distinct, Group, Groups, HashIndex, Hit, Keys, Peak, top};

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

/// Findings shown in the text (all of them are in the JSON).
const MAX_TEXT_FINDINGS: usize = 20;
/// Evidence lines listing endpoints or ports, per finding.
const MAX_LISTED: usize = 5;
/// Rows per grouping in the JSON.
const MAX_JSON_ROWS: usize = 1000;
/// Storm episodes reported one by one.
const MAX_STORMS: usize = 10;
/// Characters kept of one evidence sample.
const MAX_SAMPLE_CHARS: usize = 200;

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

/// How much a finding matters. Orders alarming first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Alarming,
    Warning,
    Routine,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Alarming => "alarming",
            Severity::Warning => "warning",
            Severity::Routine => "routine",
        }
    }
}

/// One thing the report found, in plain words.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// Which rule found it.
    pub kind: FindingKind,
    /// Events behind it (RSTs, attempts), for ranking.
    pub count: u64,
    pub title: String,
    pub evidence: Vec<String>,
    pub next_steps: Vec<String>,
}

/// Which rule made a finding. Serialized (and compared in tests) by [`FindingKind::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FindingKind {
    /// One endpoint refused repeated attempts while nothing listened.
    ServiceDown,
    /// Several hosts refused the same port.
    RefusedOnManyHosts,
    /// Refused attempts that fit no sharper pattern.
    Refused,
    /// One source refused or unanswered on many ports.
    PortScan,
    /// A second with far more RSTs than usual.
    RstStorm,
    /// Attempts never answered, to a few destinations or many.
    Unanswered,
    UnansweredFew,
    /// RSTs that look forged.
    SuspectedInjection,
    /// RSTs of one verdict (handshake resets, aborts, strays, out of window).
    Verdict(Verdict),
    /// Resets that are part of normal operation.
    RoutineResets,
}

impl FindingKind {
    /// The rule's name in snake case (`service_down`, a verdict such as `reset_by_server`).
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::ServiceDown => "service_down",
            FindingKind::RefusedOnManyHosts => "refused_on_many_hosts",
            FindingKind::Refused => "refused",
            FindingKind::PortScan => "port_scan",
            FindingKind::RstStorm => "rst_storm",
            FindingKind::Unanswered => "unanswered",
            FindingKind::UnansweredFew => "unanswered_few",
            FindingKind::SuspectedInjection => "suspected_injection",
            FindingKind::Verdict(v) => snake(v),
            FindingKind::RoutineResets => "routine_resets",
        }
    }
}

impl PartialEq<&str> for FindingKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for FindingKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// What a group counts: RSTs of one verdict, or unanswered attempts (S0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Kind {
    Rst(Verdict),
    Unanswered,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Rst(v) => v.as_str(),
            Kind::Unanswered => "unanswered",
        }
    }

    /// As the event JSON names verdicts (`reset_after_close`), or `unanswered`.
    fn json_name(self) -> &'static str {
        match self {
            Kind::Rst(v) => snake(v),
            Kind::Unanswered => "unanswered",
        }
    }
}

const REFUSED: Kind = Kind::Rst(Verdict::Refused);

/// A group's earliest evidence, kept as numbers: written in words only if a finding shows it.
#[derive(Debug, Clone)]
enum Sample {
    Rst(Evidence),
    /// An unanswered attempt: its fate.
    NoReply(NoReply),
}

impl std::fmt::Display for Sample {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let words = match self {
            Sample::Rst(e) => e.to_string(),
            Sample::NoReply(n) => n.to_string(),
        };
        f.write_str(&clean(&words))
    }
}

fn rate(count: u64, first: Timestamp, last: Timestamp) -> Option<f64> {
    let span = i128::from(last.nanos()) - i128::from(first.nanos());
    (count >= 2 && span > 0).then(|| (count - 1) as f64 / (span as f64 / NS as f64))
}

/// Tallies by key: a hash index (healthy connections come to their servers in any order, and a
/// search tree cost a few hundred instructions per connection in its key comparisons); put in
/// key order only when shown.
type Tallies<K> = HashIndex<K, Tally>;

/// Count and time range, for healthy connections and kept-talking notes.
#[derive(Debug, Clone, Copy)]
struct Tally {
    count: u64,
    first: Timestamp,
    last: Timestamp,
}

impl Tally {
    fn add(&mut self, first: Timestamp, last: Timestamp) {
        self.count = self.count.saturating_add(1);
        self.first = self.first.min(first);
        self.last = self.last.max(last);
    }
}

/// Events a full table could not group.
#[derive(Debug, Clone, Default, Serialize)]
struct Overflow {
    by_endpoint: u64,
    by_service: u64,
    by_peer: u64,
    healthy: u64,
    kept_talking: u64,
    seconds: u64,
    distinct: u64,
}

impl Overflow {
    fn any(&self) -> bool {
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

/// The aggregate of a run: feed it events, then ask for findings, text or JSON.
#[derive(Debug, Clone)]
pub struct Report {
    services: Services,
    limits: Limits,
    budget: Budget,
    /// Earliest and latest time seen in any event.
    span: Option<(Timestamp, Timestamp)>,
    rsts: u64,
    ended: u64,
    healthy: u64,
    unanswered: u64,
    kept_talking: u64,
    by_kind: Groups<Kind>,
    /// Keyed by the endpoint that resets (for unanswered attempts: the silent destination).
    by_endpoint: Groups<(Endpoint, Kind)>,
    /// Keyed by the connection's responder port; the other side is the client.
    by_service: Groups<(u16, Kind)>,
    /// Keyed by the host that received the RSTs (for unanswered attempts: the client).
    by_peer: Groups<(IpAddr, Kind)>,
    healthy_by_endpoint: Tallies<Endpoint>,
    /// `healthy_by_endpoint` in endpoint order, made when a finding first asks what else a host
    /// completed, and dropped when a healthy connection is added.
    healthy_in_order: OnceCell<Vec<(Endpoint, Tally)>>,
    healthy_by_port: Tallies<u16>,
    kept_by_sender: Tallies<Endpoint>,
    /// RSTs per second of capture time.
    seconds: PerSecond,
    overflow: Overflow,
    /// The client processes behind each endpoint's RSTs, when the kernel named them.
    clients: clients::ClientTallies,
}

/// RSTs per second of capture time, at most `max` seconds (the RSTs of the others are counted
/// as dropped). The current second's RSTs are counted on the side and added to its entry when
/// another second begins, so that an RST costs an addition, not a lookup; which seconds have an
/// entry is decided at once, so the table's size and the drop count are always exact.
#[derive(Debug, Clone, Default)]
struct PerSecond {
    table: BTreeMap<i64, u64>,
    /// The second being counted, its RSTs not yet in the table, and whether it has an entry.
    cur: Option<(i64, u64, bool)>,
}

impl PerSecond {
    fn add(&mut self, sec: i64, max: usize, dropped: &mut u64) {
        if let Some((s, n, kept)) = &mut self.cur
            && *s == sec
        {
            if *kept {
                *n = n.saturating_add(1);
            } else {
                *dropped += 1;
            }
            return;
        }
        self.settle();
        let kept = self.table.len() < max || self.table.contains_key(&sec);
        if kept {
            self.table.entry(sec).or_insert(0);
        } else {
            *dropped += 1;
        }
        self.cur = Some((sec, u64::from(kept), kept));
    }

    /// Adds the current second's count to its entry.
    fn settle(&mut self) {
        if let Some((sec, n, true)) = self.cur.take()
            && let Some(e) = self.table.get_mut(&sec)
        {
            *e = e.saturating_add(n);
        }
    }

    fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// (second, RSTs) in time order.
    fn iter(&self) -> impl Iterator<Item = (i64, u64)> + '_ {
        let cur = self.cur.filter(|c| c.2);
        self.table.iter().map(move |(&sec, &n)| match cur {
            Some((s, pending, _)) if s == sec => (sec, n.saturating_add(pending)),
            _ => (sec, n),
        })
    }
}

fn tally<K: Hash + Eq>(
    map: &mut Tallies<K>,
    key: K,
    first: Timestamp,
    last: Timestamp,
    cap: usize,
    dropped: &mut u64,
) {
    if map.len() >= cap && !map.contains_key(&key) {
        *dropped += 1;
        return;
    }
    map.entry(key)
        .or_insert(Tally {
            count: 0,
            first,
            last,
        })
        .add(first, last);
}

impl Report {
    pub fn new(services: Services) -> Self {
        Report::with_limits(services, Limits::default())
    }

    pub fn with_limits(services: Services, limits: Limits) -> Self {
        let keys = limits.max_keys;
        Report {
            services,
            budget: Budget {
                left: limits.distinct_budget,
                per_set: limits.max_distinct,
                refused: 0,
            },
            limits,
            span: None,
            rsts: 0,
            ended: 0,
            healthy: 0,
            unanswered: 0,
            kept_talking: 0,
            by_kind: Groups::unbounded(),
            by_endpoint: Groups::bounded(keys, Keys::SinglesWithSamples),
            // Services: few ports, each with many events.
            by_service: Groups::bounded(keys, Keys::Groups),
            by_peer: Groups::bounded(keys, Keys::Singles),
            healthy_by_endpoint: Tallies::default(),
            healthy_in_order: OnceCell::new(),
            healthy_by_port: Tallies::default(),
            kept_by_sender: Tallies::default(),
            seconds: PerSecond::default(),
            overflow: Overflow::default(),
            clients: clients::ClientTallies::default(),
        }
    }

    fn observe(&mut self, ts: Timestamp) {
        self.span = Some(match self.span {
            None => (ts, ts),
            Some((a, b)) => (a.min(ts), b.max(ts)),
        });
    }

    /// Starts loading the index buckets that [`Report::add_rst`] of `ev` will read first: for
    /// an event some places ahead (then [`Report::prefetch_rst_groups`], then the add).
    #[inline]
    pub fn prefetch_rst_index(&self, ev: &RstEvent) {
        let (endpoint, peer) = event_keys(Kind::Rst(ev.verdict), ev.from, ev.to);
        self.by_endpoint.prefetch(&endpoint);
        self.by_peer.prefetch(&peer);
    }

    /// Starts loading the groups that [`Report::add_rst`] of `ev` will add to.
    #[inline]
    pub fn prefetch_rst_groups(&self, ev: &RstEvent) {
        let (endpoint, peer) = event_keys(Kind::Rst(ev.verdict), ev.from, ev.to);
        self.by_endpoint.prefetch_slot(&endpoint);
        self.by_peer.prefetch_slot(&peer);
    }

    /// A classified RST.
    pub fn add_rst(&mut self, ev: &RstEvent) {
        self.observe(ev.ts);
        self.rsts = self.rsts.saturating_add(1);
        let hit = Hit {
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
                self.clients.add(ev.from, c);
            }
            if let Some(p) = &k.past_listener {
                self.clients.add_past_listener(ev.from, p);
            }
            if let Some(l) = &k.listener_reset {
                self.clients.add_listener_reset(ev.from, l);
            }
        }
        self.seconds.add(
            ev.ts.secs(),
            self.limits.max_seconds,
            &mut self.overflow.seconds,
        );
    }

    /// Records an event of `kind` in the four groupings: by kind; by `by`, the endpoint that
    /// sent the RST or did not answer (with `sample`, made only if it is the key's earliest);
    /// by the service port as its client saw it (`service`: the port and the client); and by
    /// the peer, `hit.other`.
    fn group(
        &mut self,
        kind: Kind,
        hit: Hit,
        by: Endpoint,
        service: (u16, Endpoint),
        sample: impl FnOnce() -> Option<Sample>,
    ) {
        let sec = hit.ts.secs();
        let (endpoint, peer) = event_keys(kind, by, hit.other);
        let b = &mut self.budget;
        let o = &mut self.overflow;
        // Unbounded: nothing is dropped.
        self.by_kind.add(kind, &hit, sec, &mut 0, b);
        self.by_endpoint
            .add_sampled(endpoint, &hit, sec, &mut o.by_endpoint, b, sample);
        let client = Hit {
            other: service.1,
            ..hit
        };
        self.by_service
            .add((service.0, kind), &client, sec, &mut o.by_service, b);
        let sender = Hit { other: by, ..hit };
        self.by_peer.add(peer, &sender, sec, &mut o.by_peer, b);
        self.overflow.distinct = self.budget.refused;
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
                let hit = Hit {
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
        self.healthy_in_order.take();
        tally(
            &mut self.healthy_by_endpoint,
            resp,
            start,
            last,
            cap,
            &mut self.overflow.healthy,
        );
        tally(
            &mut self.healthy_by_port,
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
        self.kept_talking = self.kept_talking.saturating_add(1);
        tally(
            &mut self.kept_by_sender,
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
        self.clients.add_hints(e, hints);
    }

    /// RSTs added with verdict `v`.
    pub fn rsts_with(&self, v: Verdict) -> u64 {
        self.by_kind.get(&Kind::Rst(v)).map_or(0, |g| g.count)
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

    /// Everything found, most important first: severity, then events behind it, then title.
    pub fn findings(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        let scanners = self.port_scans(&mut out);
        self.refused(&scanners, &mut out);
        self.unanswered_attempts(&scanners, &mut out);
        self.storms(&mut out);
        self.injection(&mut out);
        self.other_verdicts(&mut out);
        self.routine(&mut out);
        out.sort_by(|a, b| {
            a.severity
                .cmp(&b.severity)
                .then(b.count.cmp(&a.count))
                .then_with(|| a.title.cmp(&b.title))
        });
        out
    }

    // ---- rules ----

    /// One source refused or unanswered on many ports. Returns the scanners.
    fn port_scans(&self, out: &mut Vec<Finding>) -> BTreeSet<IpAddr> {
        struct Scan {
            ports: BTreeSet<u16>,
            saturated: bool,
            hosts: BTreeSet<IpAddr>,
            refused: u64,
            unanswered: u64,
            first: Timestamp,
            last: Timestamp,
        }
        let mut scans: BTreeMap<IpAddr, Scan> = BTreeMap::new();
        for ((ip, kind), slot) in self.by_peer.entries() {
            let other = match *kind {
                REFUSED => Kind::Unanswered,
                Kind::Unanswered => REFUSED,
                _ => continue,
            };
            // Its refused and its unanswered attempts together cannot name more ports than
            // their two sets hold: most clients tried one port, and are passed over here
            // without building their sets (the scans are in address order anyway).
            let at_most = slot.ports() + self.by_peer.find(&(*ip, other)).map_or(0, |o| o.ports());
            if at_most < PORT_SCAN_PORTS {
                continue;
            }
            let g = slot.group();
            let s = scans.entry(*ip).or_insert_with(|| Scan {
                ports: BTreeSet::new(),
                saturated: false,
                hosts: BTreeSet::new(),
                refused: 0,
                unanswered: 0,
                first: g.first,
                last: g.last,
            });
            s.ports.extend(g.ports.iter().copied());
            s.saturated |= g.ports.saturated;
            s.hosts.extend(g.peers.iter().copied());
            if *kind == REFUSED {
                s.refused += g.count;
            } else {
                s.unanswered += g.count;
            }
            s.first = s.first.min(g.first);
            s.last = s.last.max(g.last);
        }
        let mut scanners = BTreeSet::new();
        for (ip, s) in scans {
            if s.ports.len() < PORT_SCAN_PORTS {
                continue;
            }
            scanners.insert(ip);
            let n = s.refused + s.unanswered;
            let how = match (s.refused > 0, s.unanswered > 0) {
                (true, true) => "refused or ignored",
                (true, false) => "refused",
                _ => "ignored",
            };
            let ports_text = if s.saturated {
                format!("at least {}", s.ports.len())
            } else {
                s.ports.len().to_string()
            };
            let title = format!(
                "{ip} was {how} on {ports_text} ports of {} ({}): looks like a port scan",
                count_noun(s.hosts.len() as u64, "host", "hosts"),
                rate_when(n, s.first, s.last)
            );
            let listed: Vec<String> = s.ports.iter().take(12).map(|p| p.to_string()).collect();
            let mut evidence = vec![format!(
                "ports tried: {}{}",
                listed.join(", "),
                if s.ports.len() > listed.len() {
                    ", …"
                } else {
                    ""
                }
            )];
            evidence.push(format!(
                "{} refused (RST), {} unanswered",
                count_noun(s.refused, "attempt", "attempts"),
                s.unanswered
            ));
            evidence.push(format!("hosts: {}", list_ips(&s.hosts, MAX_LISTED)));
            out.push(Finding {
                severity: Severity::Warning,
                kind: FindingKind::PortScan,
                count: n,
                title,
                evidence,
                next_steps: vec![
                    format!(
                        "find out who {ip} is (asset inventory, DNS, `whois {ip}`); if the scan is not expected, block it at the firewall"
                    ),
                    "its refused attempts are not an outage of those services".to_string(),
                ],
            });
        }
        scanners
    }

    /// Refused attempts: one port refused across many hosts, each endpoint refused repeatedly
    /// (service down), and the rest together.
    fn refused(&self, scanners: &BTreeSet<IpAddr>, out: &mut Vec<Finding>) {
        let refused: Vec<(Endpoint, Cow<'_, Group>)> = self
            .by_endpoint
            .iter_where(|(_, k)| *k == REFUSED)
            .map(|((e, _), g)| (*e, g))
            .collect();
        let mut per_port: BTreeMap<u16, Vec<(Endpoint, &Group)>> = BTreeMap::new();
        for (e, g) in &refused {
            per_port.entry(e.port).or_default().push((*e, g));
        }
        let mut covered = BTreeSet::new();
        for ((port, _), g) in self.by_service.iter_where(|(_, k)| *k == REFUSED) {
            if g.peers.n() < MANY_SOURCES {
                continue;
            }
            let Some(eps) = per_port.get(port).filter(|e| e.len() >= 2) else {
                continue;
            };
            covered.insert(*port);
            out.push(self.refused_on_many_hosts(*port, &g, eps));
        }
        let mut few = Vec::new();
        for (port, eps) in &per_port {
            if covered.contains(port) {
                continue;
            }
            for &(e, g) in eps {
                if g.count >= SERVICE_DOWN_REPEATS {
                    out.push(self.service_down(e, g));
                } else if !g.peers.saturated
                    && g.peers.n() > 0
                    && g.peers.iter().all(|ip| scanners.contains(ip))
                {
                    // Told in the port-scan finding.
                } else {
                    few.push((e, g));
                }
            }
        }
        if let [(e, g)] = few.as_slice() {
            let (e, g) = (*e, *g);
            let mut evidence = self.sample_line(g);
            evidence.extend(self.client_lines(e));
            evidence.extend(self.contrast(e, g, "has no listener"));
            out.push(Finding {
                severity: Severity::Warning,
                kind: FindingKind::Refused,
                count: g.count,
                title: format!(
                    "{e} refused {} from {} ({}): nothing accepted connections on {}",
                    count_noun(g.count, "connection attempt", "connection attempts"),
                    who(&g.peers, "client", "clients"),
                    rate_when(g.count, g.first, g.last),
                    self.services.describe(e.port)
                ),
                evidence,
                next_steps: vec![format!(
                    "{}check that the service on tcp/{} runs and listens (`ss -ltnp 'sport = :{}'`), or that the client uses the right host and port",
                    on_host(e.ip),
                    e.port,
                    e.port
                )],
            });
        } else if !few.is_empty() {
            let n: u64 = few.iter().map(|(_, g)| g.count).sum();
            let (first, last) = range(few.iter().map(|(_, g)| *g));
            let title = format!(
                "{} at {} ({}; fewer than {SERVICE_DOWN_REPEATS} each): nothing accepted connections there, or a firewall REJECT rule answered",
                count_noun(
                    n,
                    "refused connection attempt",
                    "refused connection attempts"
                ),
                count_noun(few.len() as u64, "endpoint", "endpoints"),
                when(first, last)
            );
            out.push(Finding {
                severity: Severity::Warning,
                kind: FindingKind::Refused,
                count: n,
                title,
                evidence: self.endpoint_lines(&few, "attempt", "attempts"),
                next_steps: vec![
                    "check that these services run and listen (`ss -ltnp`) and that clients use the right host and port".to_string(),
                ],
            });
        }
    }

    /// `e.g. at 13:15:42.507657: answers the SYN from …`, from the group's earliest event.
    fn sample_line(&self, g: &Group) -> Vec<String> {
        g.sample
            .iter()
            .map(|s| format!("e.g. at {}: {}", s.0.time_of_day(), s.1))
            .collect()
    }

    /// The founding story: one ip:port refusing attempts again and again.
    fn service_down(&self, e: Endpoint, g: &Group) -> Finding {
        let desc = self.services.describe(e.port);
        let title = format!(
            "{e} refused {} from {} ({}): nothing accepted connections on {desc}",
            count_noun(g.count, "connection attempt", "connection attempts"),
            who(&g.peers, "client", "clients"),
            rate_when(g.count, g.first, g.last)
        );
        let mut evidence = Vec::new();
        if let Some(s) = &g.sample {
            evidence.push(format!(
                "each RST answered a SYN that got no SYN-ACK, e.g. at {}: {}",
                s.0.time_of_day(),
                s.1
            ));
        }
        let one_client = g.peers.n() == 1 && !g.peers.saturated;
        evidence.push(format!(
            "{} from {} source {}; {}; the {} retrying",
            count_noun(g.count, "attempt", "attempts"),
            g.ports.text(),
            if g.ports.n() == 1 && !g.ports.saturated {
                "port"
            } else {
                "ports"
            },
            peak_text(&g.peak),
            if one_client {
                "client keeps"
            } else {
                "clients keep"
            }
        ));
        evidence.extend(self.client_lines(e));
        evidence.extend(self.contrast(e, g, "has no listener"));
        Finding {
            severity: Severity::Alarming,
            kind: FindingKind::ServiceDown,
            count: g.count,
            title,
            evidence,
            next_steps: vec![
                format!(
                    "{}check what should listen on tcp/{}: `ss -ltnp 'sport = :{}'`, the service's logs, `systemctl --failed`",
                    on_host(e.ip),
                    e.port,
                    e.port
                ),
                "if a firewall rule should reject these clients, find it: `nft list ruleset | grep -n reject` (or `iptables-save | grep REJECT`)".to_string(),
            ],
        }
    }

    fn refused_on_many_hosts(&self, port: u16, g: &Group, eps: &[(Endpoint, &Group)]) -> Finding {
        let desc = self.services.describe(port);
        let title = format!(
            "{} hosts refused {} on {desc} from {} ({}): nothing accepted connections on that port there, or a firewall rejects it",
            eps.len(),
            count_noun(g.count, "connection attempt", "connection attempts"),
            who(&g.peers, "client", "clients"),
            rate_when(g.count, g.first, g.last)
        );
        let mut evidence = self.endpoint_lines(eps, "attempt", "attempts");
        evidence.push(peak_text(&g.peak));
        Finding {
            severity: Severity::Alarming,
            kind: FindingKind::RefusedOnManyHosts,
            count: g.count,
            title,
            evidence,
            next_steps: vec![
                format!(
                    "check what should listen on {desc} on those hosts (`ss -ltnp 'sport = :{port}'`) and whether a firewall rule rejects it (`nft list ruleset | grep -n reject`)"
                ),
                "if the clients should not connect there, fix their configuration (wrong port or host list)".to_string(),
            ],
        }
    }

    /// What worked while this endpoint failed: itself earlier, or other ports of the same host.
    /// Empty when nothing to that host completed.
    fn contrast(&self, e: Endpoint, g: &Group, failing: &str) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(h) = self.healthy_by_endpoint.get(&e) {
            if h.last <= g.first {
                lines.push(format!(
                    "{e} had accepted {} normally until {}: its listener went away after that",
                    count_noun(h.count, "connection", "connections"),
                    hms(h.last)
                ));
            } else {
                lines.push(format!(
                    "{e} also completed {} normally ({}): the listener comes and goes, is overloaded, or a firewall treats some clients differently",
                    count_noun(h.count, "connection", "connections"),
                    when(h.first, h.last)
                ));
            }
        }
        let in_order = self.healthy_in_order.get_or_init(|| {
            let mut v: Vec<(Endpoint, Tally)> = self
                .healthy_by_endpoint
                .iter()
                .map(|(o, t)| (*o, *t))
                .collect();
            v.sort_unstable_by_key(|(o, _)| *o);
            v
        });
        // The host's endpoints are together, from its lowest port on.
        let from = in_order.partition_point(|(o, _)| *o < Endpoint { ip: e.ip, port: 0 });
        let mut others: Vec<(Endpoint, Tally)> = in_order[from..]
            .iter()
            .take_while(|(o, _)| o.ip == e.ip)
            .filter(|(o, _)| o.port != e.port)
            .copied()
            .collect();
        others.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(&b.0)));
        match others.as_slice() {
            [] => {}
            [(o, t)] => lines.push(format!(
                "meanwhile {} completed {} normally: the host is up, only tcp/{} {failing}",
                self.endpoint_desc(*o),
                count_noun(t.count, "connection", "connections"),
                e.port
            )),
            many => {
                let list: Vec<String> = many
                    .iter()
                    .take(3)
                    .map(|(o, t)| format!("{}: {}", self.services.describe(o.port), t.count))
                    .collect();
                lines.push(format!(
                    "meanwhile {} completed connections normally on {} other ports ({}{}): the host is up, only tcp/{} {failing}",
                    e.ip,
                    many.len(),
                    list.join(", "),
                    if many.len() > 3 { ", …" } else { "" },
                    e.port
                ));
            }
        }
        lines
    }

    /// SYNs never answered, by destination.
    fn unanswered_attempts(&self, scanners: &BTreeSet<IpAddr>, out: &mut Vec<Finding>) {
        let mut few = Vec::new();
        for ((e, _), g) in self.by_endpoint.iter_where(|(_, k)| *k == Kind::Unanswered) {
            let e = *e;
            if g.count < SERVICE_DOWN_REPEATS {
                if !(!g.peers.saturated
                    && g.peers.n() > 0
                    && g.peers.iter().all(|ip| scanners.contains(ip)))
                {
                    few.push((e, g));
                }
                continue;
            }
            let desc = self.services.describe(e.port);
            let title = format!(
                "{e} never answered {} from {} ({}): SYNs to {desc} were filtered or dropped, or the host is down",
                count_noun(g.count, "connection attempt", "connection attempts"),
                who(&g.peers, "client", "clients"),
                rate_when(g.count, g.first, g.last)
            );
            let mut evidence = vec![format!(
                "SYN sent {} times in all (retransmissions included); no SYN-ACK and no RST came back; {}",
                g.syns,
                peak_text(&g.peak)
            )];
            let contrast = self.contrast(e, &g, "gets no answer (a firewall probably drops it)");
            if contrast.is_empty() {
                evidence.push(format!(
                    "no connection to {} completed in this capture: the host may be down or unreachable, or everything to it is filtered",
                    e.ip
                ));
            }
            evidence.extend(contrast);
            out.push(Finding {
                severity: Severity::Alarming,
                kind: FindingKind::Unanswered,
                count: g.count,
                title,
                evidence,
                next_steps: unanswered_steps(Some(e)),
            });
        }
        if let [(e, g)] = few.as_slice() {
            let (e, g) = (*e, &**g);
            let mut evidence = vec![format!(
                "SYN sent {} in all; no SYN-ACK and no RST came back",
                count_noun(g.syns, "time", "times")
            )];
            evidence.extend(self.contrast(e, g, "gets no answer (a firewall probably drops it)"));
            out.push(Finding {
                severity: Severity::Warning,
                kind: FindingKind::UnansweredFew,
                count: g.count,
                title: format!(
                    "{e} never answered {} from {} ({}): SYNs to {} were filtered or dropped, or the host is down",
                    count_noun(g.count, "connection attempt", "connection attempts"),
                    who(&g.peers, "client", "clients"),
                    rate_when(g.count, g.first, g.last),
                    self.services.describe(e.port)
                ),
                evidence,
                next_steps: unanswered_steps(Some(e)),
            });
        } else if !few.is_empty() {
            let n: u64 = few.iter().map(|(_, g)| g.count).sum();
            let (first, last) = range(few.iter().map(|(_, g)| &**g));
            out.push(Finding {
                severity: Severity::Warning,
                kind: FindingKind::UnansweredFew,
                count: n,
                title: format!(
                    "{} at {} ({}; fewer than {SERVICE_DOWN_REPEATS} each): filtered or dropped, or the host is down",
                    count_noun(n, "unanswered connection attempt", "unanswered connection attempts"),
                    count_noun(few.len() as u64, "endpoint", "endpoints"),
                    when(first, last)
                ),
                evidence: self.endpoint_lines(&few, "attempt", "attempts"),
                next_steps: unanswered_steps(None),
            });
        }
    }

    /// Seconds with far more RSTs than usual.
    fn storms(&self, out: &mut Vec<Finding>) {
        let Some((a, b)) = self.span else { return };
        if self.seconds.is_empty() {
            return;
        }
        // The typical second over the whole capture, quiet seconds included: a lone burst in a
        // quiet capture is a storm, a steady high rate is not.
        let span_secs = (i128::from(b.secs()) - i128::from(a.secs()) + 1).max(1);
        let mut busy: Vec<u64> = self.seconds.iter().map(|(_, n)| n).collect();
        busy.sort_unstable();
        let zeros = (span_secs - busy.len() as i128).max(0);
        let total = zeros + busy.len() as i128;
        let mid = (total - 1) / 2;
        let median = if mid < zeros {
            0
        } else {
            busy[(mid - zeros) as usize]
        };
        let burst = STORM_MIN_RSTS.max(median.saturating_mul(STORM_FACTOR));
        let threshold = burst.min(STEADY_STORM_RSTS);
        // Runs of storm seconds (gaps up to one second joined).
        let mut episodes: Vec<Vec<(i64, u64)>> = Vec::new();
        for (sec, n) in self.seconds.iter() {
            if n < threshold {
                continue;
            }
            match episodes.last_mut() {
                Some(ep) if ep.last().is_some_and(|&(s, _)| sec - s <= 2) => ep.push((sec, n)),
                _ => episodes.push(vec![(sec, n)]),
            }
        }
        let extra = episodes.len().saturating_sub(MAX_STORMS);
        for (i, ep) in episodes.iter().enumerate().take(MAX_STORMS) {
            let n: u64 = ep.iter().map(|&(_, n)| n).sum();
            let (s0, s1) = (ep[0].0, ep[ep.len() - 1].0);
            let peak = ep.iter().map(|&(_, n)| n).max().unwrap_or(0);
            let title = format!(
                "RST storm: {n} RSTs in {} ({}), peak {peak} in one second",
                count_noun((s1 - s0 + 1) as u64, "second", "seconds"),
                when(sec_ts(s0), sec_ts(s1))
            );
            let mut evidence = vec![if median == 0 {
                "most seconds of the capture had no RST".to_string()
            } else {
                format!(
                    "a typical second of the capture had {}",
                    count_noun(median, "RST", "RSTs")
                )
            }];
            if peak < burst {
                evidence.push(format!(
                    "a steady storm: {STEADY_STORM_RSTS} RSTs or more a second is far above what a healthy service resets, however long it lasts"
                ));
            }
            let mut busiest = ep.clone();
            busiest.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
            let list: Vec<String> = busiest
                .iter()
                .take(3)
                .map(|&(s, n)| format!("{} ({n})", hms(sec_ts(s))))
                .collect();
            evidence.push(format!("busiest seconds: {}", list.join(", ")));
            // Busiest first; ties by endpoint, then kind. Only RST groups whose busiest second
            // falls in the episode are candidates (their key is read only then).
            let candidates: Vec<(&Endpoint, Kind, Peak)> = self
                .by_endpoint
                .entries()
                .filter(|((_, k), _)| matches!(k, Kind::Rst(_)))
                .map(|((e, k), g)| (e, *k, g.peak()))
                .filter(|(_, _, p)| (s0..=s1).contains(&p.best_sec))
                .collect();
            let senders = top(candidates, 3, |x, y| {
                y.2.best_n
                    .cmp(&x.2.best_n)
                    .then(x.0.cmp(y.0))
                    .then(x.1.cmp(&y.1))
            });
            for (e, k, peak) in &senders {
                evidence.push(format!(
                    "{} sent {} ({}) in its busiest second ({})",
                    self.endpoint_desc(**e),
                    count_noun(peak.best_n.into(), "RST", "RSTs"),
                    k.as_str(),
                    hms(sec_ts(peak.best_sec))
                ));
            }
            if i + 1 == MAX_STORMS && extra > 0 {
                evidence.push(format!("and {extra} more storms (see --json)"));
            }
            out.push(Finding {
                severity: Severity::Alarming,
                kind: FindingKind::RstStorm,
                count: n,
                title,
                evidence,
                next_steps: vec![
                    format!(
                        "look at what happened at {}: a restart or failover, a flood of connections answered by RSTs, or a firewall/IDS resetting many connections at once",
                        hms(sec_ts(s0))
                    ),
                    "on the resetting host: `nstat -az TcpOutRsts TcpExtTCPAbortOnData TcpExtTCPAbortOnClose TcpExtListenOverflows`".to_string(),
                ],
            });
        }
    }

    /// RSTs that look forged: TTL or sequence evidence, or the sender kept talking afterwards.
    fn injection(&self, out: &mut Vec<Finding>) {
        let kind = Kind::Rst(Verdict::SuspectedInjected);
        let n_injected = self.by_kind.get(&kind).map_or(0, |g| g.count);
        if n_injected == 0 && self.kept_talking == 0 {
            return;
        }
        // Only the injected ones are picked out (and ranked below): the endpoint groups of
        // every kind can be a hundred thousand.
        let senders = self
            .by_endpoint
            .entries()
            .filter(|((_, k), _)| *k == kind)
            .count();
        let ranked = self.by_endpoint.top_where(|(_, k)| *k == kind, MAX_LISTED);
        let mut parts = Vec::new();
        if n_injected > 0 {
            parts.push(count_noun(
                n_injected,
                "RST looks injected",
                "RSTs look injected",
            ));
        }
        if self.kept_talking > 0 {
            parts.push(format!(
                "{} kept sending after {} own RST",
                count_noun(self.kept_by_sender.len() as u64, "sender", "senders"),
                if self.kept_by_sender.len() == 1 {
                    "its"
                } else {
                    "their"
                }
            ));
        }
        let title = format!(
            "{}: {}",
            parts.join(", and "),
            Verdict::SuspectedInjected.meaning()
        );
        let mut evidence = Vec::new();
        for ((e, _), g) in &ranked {
            let mut line = format!(
                "{}: {} ({})",
                self.endpoint_desc(*e),
                count_noun(g.count, "RST", "RSTs"),
                when(g.first, g.last)
            );
            if let Some(s) = &g.sample {
                let _ = write!(line, ", e.g. at {}: {}", s.0.time_of_day(), s.1);
            }
            evidence.push(line);
        }
        if senders > MAX_LISTED {
            evidence.push(format!("and {} more senders", senders - MAX_LISTED));
        }
        let mut kept: Vec<(&Endpoint, &Tally)> = self.kept_by_sender.iter().collect();
        kept.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
        for (e, t) in kept.iter().take(MAX_LISTED) {
            evidence.push(format!(
                "{} kept sending after its RST ({}, {}): a real RST would have ended its connection",
                self.endpoint_desc(**e),
                count_noun(t.count, "time", "times"),
                when(t.first, t.last)
            ));
        }
        if kept.len() > MAX_LISTED {
            evidence.push(format!(
                "and {} more senders kept talking",
                kept.len() - MAX_LISTED
            ));
        }
        out.push(Finding {
            severity: Severity::Alarming,
            kind: FindingKind::SuspectedInjection,
            count: n_injected.saturating_add(self.kept_talking),
            title,
            evidence,
            next_steps: vec![
                "compare the RSTs' TTL/hop limit with the sender's other packets (Wireshark: `tcp.flags.reset == 1`, column `ip.ttl`); capture at both ends: a RST the sender never sent was forged on the path".to_string(),
                "check IDS/IPS, firewalls and load balancers between the hosts for TCP reset actions".to_string(),
            ],
        });
    }

    /// Handshake resets, aborts, strays, out-of-window RSTs: one finding per verdict.
    fn other_verdicts(&self, out: &mut Vec<Finding>) {
        for (kind, g) in self.by_kind.iter() {
            let Kind::Rst(v) = *kind else { continue };
            let (what, steps): (String, Vec<String>) = match v {
                Verdict::HandshakeReset => (
                    count_noun(g.count, "handshake reset", "handshake resets"),
                    vec![
                        "check the listen queue on the server: `ss -ltn` (Recv-Q against Send-Q), `nstat -az TcpExtListenOverflows TcpExtListenDrops`, `sysctl net.ipv4.tcp_abort_on_overflow net.core.somaxconn`".to_string(),
                        "on the client: connect timeouts shorter than the round trip give up mid-handshake".to_string(),
                    ],
                ),
                Verdict::ResetByClient => (
                    count_noun(g.count, "connection reset by the client", "connections reset by the client"),
                    vec![
                        "look in the client's logs around those times for crashes, restarts or timeouts; closing a socket with unread data or with SO_LINGER 0 sends a RST".to_string(),
                        "on the client host: `nstat -az TcpExtTCPAbortOnData TcpExtTCPAbortOnClose TcpExtTCPAbortOnTimeout`".to_string(),
                    ],
                ),
                Verdict::ResetByServer => (
                    count_noun(g.count, "connection reset by the server", "connections reset by the server"),
                    vec![
                        "look in the server's logs around those times for crashes, restarts or timeouts; closing a socket with unread data or with SO_LINGER 0 sends a RST".to_string(),
                        "on the server host: `nstat -az TcpExtTCPAbortOnData TcpExtTCPAbortOnClose TcpExtTCPAbortOnTimeout`".to_string(),
                    ],
                ),
                Verdict::Stray => (
                    count_noun(g.count, "stray RST", "stray RSTs"),
                    vec![
                        "usually connections that began before the capture; if they persist, a peer keeps sending to a connection that no longer exists (check NAT/conntrack and idle timeouts)".to_string(),
                    ],
                ),
                Verdict::OutOfWindow => (
                    count_noun(g.count, "out-of-window RST", "out-of-window RSTs"),
                    vec![
                        "the receiver ignores these; if they are frequent, look for a confused middlebox or injection (compare TTLs)".to_string(),
                    ],
                ),
                Verdict::FirewallReject => (
                    count_noun(
                        g.count,
                        "RST forged by a local firewall rule",
                        "RSTs forged by a local firewall rule",
                    ),
                    vec![
                        "find the rule: `nft list ruleset | grep -n 'reject with tcp reset'` (or `iptables-save | grep -e REJECT -e tcp-reset`); something may well listen behind it: `ss -ltnp`".to_string(),
                        "if the clients should get through, remove or narrow the rule; if not, fix the clients' configuration".to_string(),
                    ],
                ),
                Verdict::Refused | Verdict::SuspectedInjected | Verdict::ResetAfterClose => {
                    continue;
                }
            };
            let title = format!(
                "{what} ({}): {}",
                rate_when(g.count, g.first, g.last),
                v.meaning()
            );
            let mut evidence = self.service_lines(*kind);
            let eps = self.top_endpoints(*kind, 3);
            for (e, g) in &eps {
                let mut line = format!(
                    "{} sent {} to {}",
                    self.endpoint_desc(*e),
                    count_noun(g.count, "RST", "RSTs"),
                    who(&g.peers, "peer", "peers")
                );
                if let Some(s) = &g.sample {
                    let _ = write!(line, ", e.g. at {}: {}", s.0.time_of_day(), s.1);
                }
                evidence.push(line);
                evidence.extend(self.client_lines(*e));
            }
            evidence.push(peak_text(&g.peak));
            out.push(Finding {
                // A local rule refusing clients is as urgent as a service down.
                severity: if v == Verdict::FirewallReject {
                    Severity::Alarming
                } else {
                    Severity::Warning
                },
                kind: FindingKind::Verdict(v),
                count: g.count,
                title,
                evidence,
                next_steps: steps,
            });
        }
    }

    /// Resets after close: normal.
    fn routine(&self, out: &mut Vec<Finding>) {
        for (kind, g) in self.by_kind.iter() {
            let Kind::Rst(v) = *kind else { continue };
            if !v.is_routine() {
                continue;
            }
            let why = if g.from_orig.saturating_mul(2) < g.count {
                "server closing idle keep-alive connections"
            } else {
                "the client had closed before the server finished sending"
            };
            let title = format!(
                "{} ({why}): normal",
                count_noun(g.count, "reset after close", "resets after close")
            );
            let mut evidence = self.service_lines(*kind);
            evidence.push(format!("{}: {}", v.as_str(), v.meaning()));
            out.push(Finding {
                severity: Severity::Routine,
                kind: FindingKind::RoutineResets,
                count: g.count,
                title,
                evidence,
                next_steps: vec![
                    "nothing to do unless clients report errors on reused connections; then make the client's idle timeout shorter than the server's".to_string(),
                ],
            });
        }
    }

    // ---- helpers ----

    /// The client processes behind `e`'s RSTs, as the kernel named them, and who listened on
    /// `e` before (live runs).
    fn client_lines(&self, e: Endpoint) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some((l, n)) = self.clients.listener_reset(e) {
            lines.push(format!(
                "{} (kernel: {} sent by the listening socket)",
                l.words(),
                count_noun(*n, "RST", "RSTs")
            ));
        }
        if let Some(p) = self.clients.past_listener(e) {
            lines.push(format!(
                "nothing listens on {e} now; {} listened there until {}{}",
                p.who,
                p.until.time_of_day(),
                if p.exact {
                    " (kernel: its socket left LISTEN then)"
                } else {
                    " at the latest (gone from the listener list)"
                }
            ));
        }
        lines.extend(self.clients.hints(e).iter().cloned());
        let groups = self.clients.of(e);
        if groups.is_empty() {
            return lines;
        }
        let mut parts: Vec<String> = groups.iter().take(3).map(clients::describe).collect();
        if groups.len() > 3 {
            parts.push(format!("and {} more", groups.len() - 3));
        }
        lines.push(format!(
            "the clients behind them (kernel: the connect() callers): {}",
            parts.join("; ")
        ));
        lines
    }

    fn endpoint_desc(&self, e: Endpoint) -> String {
        match self.services.name(e.port) {
            Some(n) => format!("{e} ({n})"),
            None => e.to_string(),
        }
    }

    fn top_endpoints(&self, kind: Kind, n: usize) -> Vec<(Endpoint, Cow<'_, Group>)> {
        self.by_endpoint
            .top_where(|(_, k)| *k == kind, n)
            .into_iter()
            .map(|((e, _), g)| (*e, g))
            .collect()
    }

    /// Up to three services with the most events of this kind.
    fn service_lines(&self, kind: Kind) -> Vec<String> {
        let mut v: Vec<(u16, Cow<'_, Group>)> = self
            .by_service
            .iter_where(|(_, k)| *k == kind)
            .map(|((p, _), g)| (*p, g))
            .collect();
        v.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(&b.0)));
        let more = v.len().saturating_sub(3);
        let mut lines: Vec<String> = v
            .iter()
            .take(3)
            .map(|(p, g)| {
                format!(
                    "on {}: {} with {} ({})",
                    self.services.describe(*p),
                    count_noun(g.count, "RST", "RSTs"),
                    who(&g.peers, "client", "clients"),
                    rate_when(g.count, g.first, g.last)
                )
            })
            .collect();
        if more > 0 {
            lines.push(format!(
                "and on {}",
                count_noun(more as u64, "more port", "more ports")
            ));
        }
        lines
    }

    /// One line per endpoint (largest first, at most `MAX_LISTED`, then "and N more").
    fn endpoint_lines(
        &self,
        eps: &[(Endpoint, impl Deref<Target = Group>)],
        one: &str,
        many: &str,
    ) -> Vec<String> {
        let mut v: Vec<(Endpoint, &Group)> = eps.iter().map(|(e, g)| (*e, &**g)).collect();
        v.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(&b.0)));
        let mut lines: Vec<String> = v
            .iter()
            .take(MAX_LISTED)
            .map(|(e, g)| {
                let mut line = format!(
                    "{}: {} from {} ({})",
                    self.endpoint_desc(*e),
                    count_noun(g.count, one, many),
                    who(&g.peers, "client", "clients"),
                    rate_when(g.count, g.first, g.last)
                );
                if g.syns > 0 {
                    let _ = write!(
                        line,
                        ", SYN sent {} in all",
                        count_noun(g.syns, "time", "times")
                    );
                }
                line
            })
            .collect();
        if v.len() > MAX_LISTED {
            lines.push(format!("and {} more", v.len() - MAX_LISTED));
        }
        lines
    }

    // ---- rendering ----

    /// The ranked findings in plain words for a terminal (times in UTC).
    pub fn render_text(&self) -> String {
        let findings = self.findings();
        let (normal, issues): (Vec<&Finding>, Vec<&Finding>) = findings
            .iter()
            .partition(|f| f.severity == Severity::Routine);
        let mut s = String::new();
        if issues.is_empty() && normal.is_empty() {
            let _ = writeln!(
                s,
                "nothing failed: no RSTs and no unanswered connection attempts ({} completed normally)",
                count_noun(self.healthy, "connection", "connections")
            );
        } else {
            if issues.is_empty() {
                s.push_str("nothing failed: only routine resets (times UTC)\n");
            } else {
                s.push_str("findings, most important first (times UTC):\n");
            }
            for f in issues.iter().take(MAX_TEXT_FINDINGS) {
                let _ = writeln!(s, "[{}] {}", f.severity.as_str(), f.title);
                for e in &f.evidence {
                    let _ = writeln!(s, "    {e}");
                }
                for n in &f.next_steps {
                    let _ = writeln!(s, "    next: {n}");
                }
            }
            if issues.len() > MAX_TEXT_FINDINGS {
                let _ = writeln!(
                    s,
                    "… and {} more (see --json)",
                    count_noun(
                        (issues.len() - MAX_TEXT_FINDINGS) as u64,
                        "finding",
                        "findings"
                    )
                );
            }
            if !normal.is_empty() {
                s.push_str("normal:\n");
                for f in &normal {
                    let _ = writeln!(s, "    {}", f.title);
                }
            }
        }
        if self.overflow.any() {
            let o = &self.overflow;
            let mut parts = Vec::new();
            for (n, what) in [
                (o.by_endpoint, "by endpoint"),
                (o.by_service, "by service"),
                (o.by_peer, "by peer"),
                (o.healthy, "healthy connections"),
                (o.kept_talking, "kept-talking notes"),
                (o.seconds, "per second (storm detection)"),
            ] {
                if n > 0 {
                    parts.push(format!("{n} {what}"));
                }
            }
            if !parts.is_empty() {
                let _ = writeln!(
                    s,
                    "note: report tables full ({} keys each): events not grouped: {}; totals still count them",
                    self.limits.max_keys,
                    parts.join(", ")
                );
            }
            if o.distinct > 0 {
                let _ = writeln!(
                    s,
                    "note: distinct-peer memory full ({} entries): {} not kept; counts shown as \"at least\"",
                    self.limits.distinct_budget, o.distinct
                );
            }
        }
        s
    }

    /// The findings and the groupings, for `--json`.
    pub fn to_json(&self) -> Value {
        let by_verdict: serde_json::Map<String, Value> = self
            .by_kind
            .iter()
            .filter(|(k, _)| matches!(k, Kind::Rst(_)))
            .map(|(k, g)| (k.json_name().to_string(), json!(g.count)))
            .collect();
        let healthy: Vec<Value> = {
            let mut v: Vec<(&u16, &Tally)> = self.healthy_by_port.iter().collect();
            v.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
            v.iter()
                .take(MAX_JSON_ROWS)
                .map(|(p, t)| {
                    json!({
                        "port": p,
                        "service": self.services.name(**p),
                        "connections": t.count,
                        "first": t.first,
                        "last": t.last,
                    })
                })
                .collect()
        };
        let kept: Vec<Value> = {
            let mut v: Vec<(&Endpoint, &Tally)> = self.kept_by_sender.iter().collect();
            v.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
            v.iter()
                .take(MAX_JSON_ROWS)
                .map(|(e, t)| {
                    json!({
                        "sender": e.to_string(),
                        "notes": t.count,
                        "first": t.first,
                        "last": t.last,
                    })
                })
                .collect()
        };
        json!({
            "times": "UTC",
            "totals": {
                "rsts": self.rsts,
                "rsts_by_verdict": by_verdict,
                "connections_ended": self.ended,
                "healthy": self.healthy,
                "unanswered": self.unanswered,
                "kept_talking": self.kept_talking,
            },
            "findings": self.findings(),
            "by_endpoint": self.rows(&self.by_endpoint, |(e, k)| json!({
                "endpoint": e.to_string(), "ip": e.ip.to_string(), "port": e.port,
                "service": self.services.name(e.port), "kind": k.json_name(),
            })),
            "by_service": self.rows(&self.by_service, |(p, k)| json!({
                "port": p, "service": self.services.name(*p),
                "description": self.services.describe(*p), "kind": k.json_name(),
            })),
            "by_peer": self.rows(&self.by_peer, |(ip, k)| json!({
                "peer": ip.to_string(), "kind": k.json_name(),
            })),
            "healthy_by_service": healthy,
            "kept_talking": kept,
            "overflow": self.overflow,
            "limits": {
                "max_keys": self.limits.max_keys,
                "max_distinct": self.limits.max_distinct,
                "distinct_budget": self.limits.distinct_budget,
                "max_seconds": self.limits.max_seconds,
                "rows_per_grouping": MAX_JSON_ROWS,
            },
        })
    }

    /// Rows of one grouping, largest first (ties in key order), at most `MAX_JSON_ROWS`.
    fn rows<K: Ord + Hash + Copy>(&self, map: &Groups<K>, key: impl Fn(&K) -> Value) -> Value {
        let v = map.top_where(|_| true, MAX_JSON_ROWS);
        let omitted = map.len().saturating_sub(MAX_JSON_ROWS);
        let rows: Vec<Value> = v
            .iter()
            .map(|(k, g)| {
                let mut row = key(k);
                if let Value::Object(m) = &mut row {
                    m.insert("count".into(), json!(g.count));
                    m.insert("distinct_peers".into(), json!(g.peers.n()));
                    m.insert("distinct_peer_ports".into(), json!(g.ports.n()));
                    m.insert(
                        "distinct_at_least".into(),
                        json!(g.peers.saturated || g.ports.saturated),
                    );
                    m.insert("first".into(), json!(g.first));
                    m.insert("last".into(), json!(g.last));
                    m.insert(
                        "rate_per_sec".into(),
                        json!(g.rate().map(|r| (r * 1000.0).round() / 1000.0)),
                    );
                    m.insert("peak_per_sec".into(), json!(g.peak.best_n));
                    m.insert("peak_at".into(), json!(sec_ts(g.peak.best_sec)));
                    if g.syns > 0 {
                        m.insert("syns".into(), json!(g.syns));
                    }
                }
                row
            })
            .collect();
        json!({ "rows": rows, "omitted": omitted, "keys": map.len() })
    }
}

fn unanswered_steps(e: Option<Endpoint>) -> Vec<String> {
    let (ip, port) = match e {
        Some(e) => (e.ip.to_string(), e.port.to_string()),
        None => ("HOST".to_string(), "PORT".to_string()),
    };
    vec![
        format!(
            "test from the client: `nc -vz -w 3 {ip} {port}`; check that the host is up (`ping {ip}`)"
        ),
        format!(
            "look for firewall rules that drop tcp/{port} on the path and on the host (`nft list ruleset | grep -n drop`, cloud security groups)"
        ),
        "if the host answers on other ports, check its SYN backlog: `nstat -az TcpExtListenOverflows TcpExtListenDrops`".to_string(),
    ]
}

fn snake(v: Verdict) -> &'static str {
    match v {
        Verdict::Refused => "refused",
        Verdict::HandshakeReset => "handshake_reset",
        Verdict::ResetByClient => "reset_by_client",
        Verdict::ResetByServer => "reset_by_server",
        Verdict::ResetAfterClose => "reset_after_close",
        Verdict::Stray => "stray",
        Verdict::OutOfWindow => "out_of_window",
        Verdict::SuspectedInjected => "suspected_injected",
        Verdict::FirewallReject => "firewall_reject",
    }
}

/// Evidence from the producer should already be safe; make sure, without escaping twice.
fn clean(text: &str) -> String {
    let unsafe_char = |c: char| {
        c.is_control()
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
    };
    if text.chars().any(unsafe_char) {
        sanitize_text(text.as_bytes(), MAX_SAMPLE_CHARS)
    } else if text.chars().count() > MAX_SAMPLE_CHARS {
        let mut s: String = text.chars().take(MAX_SAMPLE_CHARS).collect();
        s.push('…');
        s
    } else {
        text.to_string()
    }
}

fn sec_ts(sec: i64) -> Timestamp {
    Timestamp::from_nanos(sec.saturating_mul(NS), 0)
}

/// `HH:MM:SS` (UTC).
fn hms(ts: Timestamp) -> String {
    sec_ts(ts.secs()).time_of_day()
}

/// `13:15:42`, `13:15:42–13:15:47`, or full dates when the range crosses midnight.
fn when(first: Timestamp, last: Timestamp) -> String {
    let (a, b) = (first.secs(), last.secs());
    if a == b {
        hms(first)
    } else if a.div_euclid(86_400) == b.div_euclid(86_400) {
        format!("{}–{}", hms(first), hms(last))
    } else {
        format!("{}–{}", sec_ts(a).rfc3339(), sec_ts(b).rfc3339())
    }
}

/// `2.0/s`, `1.5/min`, `0.3/h`.
fn rate_text(r: f64) -> String {
    if r >= 0.1 {
        format!("{r:.1}/s")
    } else if r * 60.0 >= 0.1 {
        format!("{:.1}/min", r * 60.0)
    } else {
        format!("{:.1}/h", r * 3600.0)
    }
}

/// `2.0/s, 13:15:42–13:15:47`, or just the time when there is no rate.
fn rate_when(count: u64, first: Timestamp, last: Timestamp) -> String {
    match rate(count, first, last) {
        Some(r) => format!("{}, {}", rate_text(r), when(first, last)),
        None => when(first, last),
    }
}

fn peak_text(p: &Peak) -> String {
    format!(
        "peak {} in one second ({})",
        p.best_n,
        hms(sec_ts(p.best_sec))
    )
}

fn count_noun(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `127.0.0.1`, `10.0.0.1, 10.0.0.2`, or `12 clients`.
fn who(peers: &Distinct<IpAddr>, one: &str, many: &str) -> String {
    if !peers.saturated && (1..=3).contains(&peers.n()) {
        peers
            .iter()
            .map(|ip| ip.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    } else if peers.saturated {
        format!("{} {many}", peers.text())
    } else {
        count_noun(peers.n() as u64, one, many)
    }
}

fn list_ips(ips: &BTreeSet<IpAddr>, n: usize) -> String {
    let mut list: Vec<String> = ips.iter().take(n).map(|ip| ip.to_string()).collect();
    if ips.len() > n {
        list.push(format!("and {} more", ips.len() - n));
    }
    list.join(", ")
}

/// Earliest first and latest last of some groups.
fn range<'a>(groups: impl Iterator<Item = &'a Group>) -> (Timestamp, Timestamp) {
    let mut r: Option<(Timestamp, Timestamp)> = None;
    for g in groups {
        r = Some(match r {
            None => (g.first, g.last),
            Some((a, b)) => (a.min(g.first), b.max(g.last)),
        });
    }
    r.unwrap_or((sec_ts(0), sec_ts(0)))
}

/// The endpoint and peer groupings' keys of an event of `kind` by endpoint `by`, to (or from)
/// `other`: what [`Report::group`] adds to, and what the report prefetches ahead of it.
fn event_keys(kind: Kind, by: Endpoint, other: Endpoint) -> ((Endpoint, Kind), (IpAddr, Kind)) {
    ((by, kind), (other.ip, kind))
}

/// `on 10.0.0.5, ` for a remote host; nothing for loopback.
fn on_host(ip: IpAddr) -> String {
    if ip.is_loopback() {
        String::new()
    } else {
        format!("on {ip}, ")
    }
}

#[cfg(test)]
mod tests {
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
        assert_eq!(rate_text(2.0), "2.0/s");
        assert_eq!(rate_text(1.0 / 60.0), "1.0/min");
        assert_eq!(rate_text(1.0 / 3600.0), "1.0/h");
    }

    #[test]
    fn time_ranges() {
        assert_eq!(when(ts(47_742, 507_000), ts(47_742, 900_000)), "13:15:42");
        assert_eq!(
            when(ts(47_742, 507_000), ts(47_747, 7_000)),
            "13:15:42–13:15:47"
        );
        assert_eq!(
            when(ts(86_399, 0), ts(86_401, 0)),
            "1970-01-01T23:59:59Z–1970-01-02T00:00:01Z"
        );
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

    #[test]
    fn clean_escapes_only_unsafe_text() {
        assert_eq!(clean("a\\x1b b"), "a\\x1b b");
        assert_eq!(clean("a\x1b[31m"), "a\\x1b[31m");
        assert!(clean(&"x".repeat(500)).ends_with('…'));
    }
}
