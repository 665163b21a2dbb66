//! The report's groupings as the rules read them: events by kind, by the endpoint that resets
//! (or never answered), by service port and by peer; healthy connections by endpoint and port;
//! kept-talking notes; RSTs per second; the kernel's client attribution; the services table.
//! The report fills one while events stream by; a test builds one by hand (see
//! [`Snapshot::record`]) and hands it to a rule, with no capture and no tracker.

use super::Overflow;
use super::clients::ClientTallies;
use super::finding::{Distinct, Named, Peers, Sample, Service};
use super::groups::{self, Budget, Group, Groups, HashIndex, Hit, Keys};
use crate::engine::services::Services;
use crate::engine::track::{Endpoint, Verdict};
use crate::model::timestamp::Timestamp;
use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::hash::Hash;
use std::net::IpAddr;

/// What a group counts: RSTs of one verdict, or unanswered attempts (S0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Rst(Verdict),
    Unanswered,
}

impl Kind {
    /// As the event JSON names verdicts (`reset_after_close`), or `unanswered`.
    pub fn json_name(self) -> &'static str {
        match self {
            Kind::Rst(v) => super::finding::snake(v),
            Kind::Unanswered => "unanswered",
        }
    }
}

pub(super) const REFUSED: Kind = Kind::Rst(Verdict::Refused);

/// Tallies by key: a hash index (healthy connections come to their servers in any order, and a
/// search tree cost a few hundred instructions per connection in its key comparisons); put in
/// key order only when shown.
pub(super) type Tallies<K> = HashIndex<K, Tally>;

/// Count and time range, for healthy connections and kept-talking notes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Tally {
    pub(super) count: u64,
    pub(super) first: Timestamp,
    pub(super) last: Timestamp,
}

impl Tally {
    fn add(&mut self, first: Timestamp, last: Timestamp) {
        self.count = self.count.saturating_add(1);
        self.first = self.first.min(first);
        self.last = self.last.max(last);
    }
}

/// Adds one to `key`'s tally, unless the map is full (then counts it in `dropped`).
pub(super) fn tally<K: Hash + Eq>(
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

/// RSTs per second of capture time, at most `max` seconds (the RSTs of the others are counted
/// as dropped). The current second's RSTs are counted on the side and added to its entry when
/// another second begins, so that an RST costs an addition, not a lookup; which seconds have an
/// entry is decided at once, so the table's size and the drop count are always exact.
#[derive(Debug, Clone, Default)]
pub(super) struct PerSecond {
    table: BTreeMap<i64, u64>,
    /// The second being counted, its RSTs not yet in the table, and whether it has an entry.
    cur: Option<(i64, u64, bool)>,
}

impl PerSecond {
    pub(super) fn add(&mut self, sec: i64, max: usize, dropped: &mut u64) {
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
    pub(super) fn settle(&mut self) {
        if let Some((sec, n, true)) = self.cur.take()
            && let Some(e) = self.table.get_mut(&sec)
        {
            *e = e.saturating_add(n);
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// (second, RSTs) in time order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (i64, u64)> + '_ {
        let cur = self.cur.filter(|c| c.2);
        self.table.iter().map(move |(&sec, &n)| match cur {
            Some((s, pending, _)) if s == sec => (sec, n.saturating_add(pending)),
            _ => (sec, n),
        })
    }
}

/// The groupings the rules read.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub(super) services: Services,
    /// The distinct sets' shared allowance.
    pub(super) budget: Budget,
    /// Earliest and latest time seen in any event.
    pub(super) span: Option<(Timestamp, Timestamp)>,
    /// Kept-talking notes.
    pub(super) kept_talking: u64,
    pub(super) by_kind: Groups<Kind>,
    /// Keyed by the endpoint that resets (for unanswered attempts: the silent destination).
    pub(super) by_endpoint: Groups<(Endpoint, Kind)>,
    /// Keyed by the connection's responder port; the other side is the client.
    pub(super) by_service: Groups<(u16, Kind)>,
    /// Keyed by the host that received the RSTs (for unanswered attempts: the client).
    pub(super) by_peer: Groups<(IpAddr, Kind)>,
    pub(super) healthy_by_endpoint: Tallies<Endpoint>,
    /// `healthy_by_endpoint` in endpoint order, made when a finding first asks what else a host
    /// completed, and dropped when a healthy connection is added.
    pub(super) healthy_in_order: OnceCell<Vec<(Endpoint, Tally)>>,
    pub(super) healthy_by_port: Tallies<u16>,
    pub(super) kept_by_sender: Tallies<Endpoint>,
    /// RSTs per second of capture time.
    pub(super) seconds: PerSecond,
    /// The client processes behind each endpoint's RSTs, when the kernel named them.
    pub(super) clients: ClientTallies,
}

impl Snapshot {
    /// Empty groupings; the endpoint, service and peer ones hold at most `max_keys` keys, and
    /// their distinct sets share `budget`.
    pub(super) fn new(services: Services, max_keys: usize, budget: Budget) -> Self {
        Snapshot {
            services,
            budget,
            span: None,
            kept_talking: 0,
            by_kind: Groups::unbounded(),
            by_endpoint: Groups::bounded(max_keys, Keys::SinglesWithSamples),
            // Services: few ports, each with many events.
            by_service: Groups::bounded(max_keys, Keys::Groups),
            by_peer: Groups::bounded(max_keys, Keys::Singles),
            healthy_by_endpoint: Tallies::default(),
            healthy_in_order: OnceCell::new(),
            healthy_by_port: Tallies::default(),
            kept_by_sender: Tallies::default(),
            seconds: PerSecond::default(),
            clients: ClientTallies::default(),
        }
    }

    pub(super) fn observe(&mut self, ts: Timestamp) {
        self.span = Some(match self.span {
            None => (ts, ts),
            Some((a, b)) => (a.min(ts), b.max(ts)),
        });
    }

    /// Records an event of `kind` in the four groupings: by kind; by `by`, the endpoint that
    /// sent the RST or did not answer (with `sample`, made only if it is the key's earliest);
    /// by the service port as its client saw it (`service`: the port and the client); and by
    /// the peer, `hit.other`. What a full table cannot take is counted in `overflow`.
    pub(super) fn record(
        &mut self,
        kind: Kind,
        hit: Hit,
        by: Endpoint,
        service: (u16, Endpoint),
        sample: impl FnOnce() -> Option<Sample>,
        o: &mut Overflow,
    ) {
        let sec = hit.ts.secs();
        let b = &mut self.budget;
        let (endpoint, peer) = event_keys(kind, by, hit.other);
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
        o.distinct = b.refused;
    }

    /// The healthy tallies in endpoint order (made once).
    pub(super) fn healthy_in_order(&self) -> &[(Endpoint, Tally)] {
        self.healthy_in_order.get_or_init(|| {
            let mut v: Vec<(Endpoint, Tally)> = self
                .healthy_by_endpoint
                .iter()
                .map(|(o, t)| (*o, *t))
                .collect();
            v.sort_unstable_by_key(|(o, _)| *o);
            v
        })
    }

    /// A port with its name from the services table.
    pub(super) fn service(&self, port: u16) -> Service {
        Service {
            port,
            name: self.services.name(port).map(str::to_string),
        }
    }

    /// An endpoint with its port's name from the services table.
    pub(super) fn named(&self, endpoint: Endpoint) -> Named {
        Named {
            endpoint,
            service: self.services.name(endpoint.port).map(str::to_string),
        }
    }
}

/// A group's distinct peers: how many, and which when one to three.
pub(super) fn peers(g: &Group) -> Peers {
    let count = distinct(&g.peers);
    let listed = if !count.at_least && (1..=3).contains(&count.n) {
        g.peers.iter().copied().collect()
    } else {
        Vec::new()
    };
    Peers { count, listed }
}

pub(super) fn distinct<T: Ord + Hash + Copy>(d: &groups::Distinct<T>) -> Distinct {
    Distinct {
        n: d.n(),
        at_least: d.saturated,
    }
}

/// The endpoint and peer groupings' keys of an event of `kind` by endpoint `by`, to (or from)
/// `other`: what [`Snapshot::record`] adds to, and what the report prefetches ahead of it.
pub(super) fn event_keys(
    kind: Kind,
    by: Endpoint,
    other: Endpoint,
) -> ((Endpoint, Kind), (IpAddr, Kind)) {
    ((by, kind), (other.ip, kind))
}
