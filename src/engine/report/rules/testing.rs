//! Snapshots built by hand for the rules' tests: events given as the groupings record them,
//! with no capture and no tracker.

use super::super::Overflow;
use super::super::finding::Sample;
use super::super::groups::{Budget, Hit};
use super::super::snapshot::{Kind, Snapshot, tally};
use crate::engine::services::Services;
use crate::engine::track::{Endpoint, Evidence, NoReply, Verdict};
use crate::model::timestamp::Timestamp;
use std::net::IpAddr;

pub fn snapshot() -> Snapshot {
    let budget = Budget {
        left: 1_000_000,
        per_set: 1024,
        refused: 0,
    };
    Snapshot::new(Services::builtin(), 100_000, budget)
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub fn ep(s: &str, port: u16) -> Endpoint {
    Endpoint { ip: ip(s), port }
}

/// Whole seconds (with microsecond digits).
pub fn t(secs: i64) -> Timestamp {
    Timestamp::from_parts(secs, 0, 6)
}

/// An RST of verdict `v` sent by `by` to `to`, `to` being the client.
pub fn add_rst(s: &mut Snapshot, v: Verdict, by: Endpoint, to: Endpoint, ts: Timestamp) {
    add_rst_with(s, v, by, to, ts, Evidence::NoEarlierPacket);
}

pub fn add_rst_with(
    s: &mut Snapshot,
    v: Verdict,
    by: Endpoint,
    to: Endpoint,
    ts: Timestamp,
    evidence: Evidence,
) {
    s.observe(ts);
    let hit = Hit {
        ts,
        other: to,
        syns: 0,
        from_orig: false,
    };
    s.record(
        Kind::Rst(v),
        hit,
        by,
        (by.port, to),
        || Some(Sample::Rst(evidence)),
        &mut Overflow::default(),
    );
    s.seconds.add(ts.secs(), 100_000, &mut 0);
}

/// `server` refused `client`'s attempt.
pub fn add_refused(s: &mut Snapshot, server: Endpoint, client: Endpoint, ts: Timestamp) {
    add_rst(s, Verdict::Refused, server, client, ts);
}

/// `client`'s attempt to `server` got no answer (two SYNs).
pub fn add_unanswered(s: &mut Snapshot, server: Endpoint, client: Endpoint, ts: Timestamp) {
    s.observe(ts);
    let hit = Hit {
        ts,
        other: client,
        syns: 2,
        from_orig: false,
    };
    let fate = NoReply {
        syns: 2,
        syn_gaps: Some((1_000_000_000, 1_000_000_000)),
        span_ns: 1_000_000_000,
        evicted: false,
    };
    s.record(
        Kind::Unanswered,
        hit,
        server,
        (server.port, client),
        || Some(Sample::NoReply(fate)),
        &mut Overflow::default(),
    );
}

/// A connection to `server` that completed its handshake.
pub fn add_healthy(s: &mut Snapshot, server: Endpoint, first: Timestamp, last: Timestamp) {
    s.observe(first);
    s.observe(last);
    s.healthy_in_order.take();
    tally(&mut s.healthy_by_endpoint, server, first, last, 100, &mut 0);
    tally(
        &mut s.healthy_by_port,
        server.port,
        first,
        last,
        100,
        &mut 0,
    );
}

/// `sender` kept sending after its own RST.
pub fn add_kept_talking(s: &mut Snapshot, sender: Endpoint, ts: Timestamp) {
    s.observe(ts);
    s.kept_talking += 1;
    tally(&mut s.kept_by_sender, sender, ts, ts, 100, &mut 0);
}
