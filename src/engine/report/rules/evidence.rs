//! Evidence several rules share: a group's example, busiest second and peers; what else the
//! failing host completed; the kernel's clients; the busiest services and endpoints of a kind.

use super::super::finding::{EndpointLine, Example, Fact, Failing, PeakSecond, Span};
use super::super::groups::Group;
use super::super::snapshot::{Kind, Snapshot, Tally, peers};
use crate::engine::track::Endpoint;
use std::borrow::Cow;
use std::ops::Deref;

/// Endpoints or ports listed per finding.
pub(super) const MAX_LISTED: usize = 5;

pub(super) fn span(g: &Group) -> Span {
    Span {
        first: g.first,
        last: g.last,
    }
}

pub(super) fn peak(g: &Group) -> PeakSecond {
    PeakSecond {
        sec: g.peak.best_sec,
        events: g.peak.best_n.into(),
    }
}

/// The group's earliest event, if it kept one.
pub(super) fn example(g: &Group) -> Option<Example> {
    g.sample.as_ref().map(|s| Example {
        at: s.0,
        sample: s.1.clone(),
    })
}

/// Earliest first and latest last of some groups.
pub(super) fn range<'a>(groups: impl Iterator<Item = &'a Group>) -> Span {
    let mut r: Option<Span> = None;
    for g in groups {
        r = Some(match r {
            None => span(g),
            Some(s) => Span {
                first: s.first.min(g.first),
                last: s.last.max(g.last),
            },
        });
    }
    r.unwrap_or(Span {
        first: super::super::sec_ts(0),
        last: super::super::sec_ts(0),
    })
}

/// The client processes behind `e`'s RSTs, as the kernel named them, who listened on `e`
/// before (live runs), and what its port was for.
pub(super) fn clients(s: &Snapshot, e: Endpoint) -> Vec<Fact> {
    let mut facts = Vec::new();
    if let Some((l, n)) = s.clients.listener_reset(e) {
        facts.push(Fact::ListenerReset {
            reset: l.clone(),
            rsts: *n,
        });
    }
    if let Some(p) = s.clients.past_listener(e) {
        facts.push(Fact::PastListener {
            endpoint: e,
            listener: p.clone(),
        });
    }
    facts.extend(s.clients.hints(e).iter().cloned().map(Fact::Hint));
    let groups = s.clients.of(e);
    if !groups.is_empty() {
        let more = groups.len().saturating_sub(3);
        facts.push(Fact::Clients {
            listed: groups.into_iter().take(3).collect(),
            more,
        });
    }
    facts
}

/// What worked while this endpoint failed: itself earlier, or other ports of the same host.
/// Empty when nothing to that host completed.
pub(super) fn contrast(s: &Snapshot, e: Endpoint, g: &Group, failing: Failing) -> Vec<Fact> {
    let mut facts = Vec::new();
    if let Some(h) = s.healthy_by_endpoint.get(&e) {
        if h.last <= g.first {
            facts.push(Fact::HealthyUntil {
                endpoint: e,
                connections: h.count,
                until: h.last,
            });
        } else {
            facts.push(Fact::HealthyToo {
                endpoint: e,
                connections: h.count,
                span: Span {
                    first: h.first,
                    last: h.last,
                },
            });
        }
    }
    let in_order = s.healthy_in_order();
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
        [(o, t)] => facts.push(Fact::HostUpOnePort {
            other: s.named(*o),
            connections: t.count,
            port: e.port,
            failing,
        }),
        many => facts.push(Fact::HostUpManyPorts {
            ip: e.ip,
            ports: many.len(),
            busiest: many
                .iter()
                .take(3)
                .map(|(o, t)| (s.service(o.port), t.count))
                .collect(),
            port: e.port,
            failing,
        }),
    }
    facts
}

/// The `n` endpoints with the most events of `kind`, largest first.
pub(super) fn top_endpoints(s: &Snapshot, kind: Kind, n: usize) -> Vec<(Endpoint, Cow<'_, Group>)> {
    s.by_endpoint
        .top_where(|(_, k)| *k == kind, n)
        .into_iter()
        .map(|((e, _), g)| (*e, g))
        .collect()
}

/// Up to three services with the most events of this kind, and how many more.
pub(super) fn services(s: &Snapshot, kind: Kind) -> Vec<Fact> {
    let mut v: Vec<(u16, Cow<'_, Group>)> = s
        .by_service
        .iter_where(|(_, k)| *k == kind)
        .map(|((p, _), g)| (*p, g))
        .collect();
    v.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(&b.0)));
    let more = v.len().saturating_sub(3);
    let mut facts: Vec<Fact> = v
        .iter()
        .take(3)
        .map(|(p, g)| Fact::OnService {
            service: s.service(*p),
            rsts: g.count,
            peers: peers(g),
            span: span(g),
        })
        .collect();
    if more > 0 {
        facts.push(Fact::MorePorts(more));
    }
    facts
}

/// One fact per endpoint (largest first, at most [`MAX_LISTED`], then how many more).
pub(super) fn endpoints(s: &Snapshot, eps: &[(Endpoint, impl Deref<Target = Group>)]) -> Vec<Fact> {
    let mut v: Vec<(Endpoint, &Group)> = eps.iter().map(|(e, g)| (*e, &**g)).collect();
    v.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(&b.0)));
    let mut facts: Vec<Fact> = v
        .iter()
        .take(MAX_LISTED)
        .map(|(e, g)| {
            Fact::Endpoint(EndpointLine {
                endpoint: s.named(*e),
                attempts: g.count,
                peers: peers(g),
                span: span(g),
                syns: g.syns,
            })
        })
        .collect();
    if v.len() > MAX_LISTED {
        facts.push(Fact::MoreEndpoints(v.len() - MAX_LISTED));
    }
    facts
}

/// Whether every peer of a group is a scanner (its refusals are told in the port-scan finding).
pub(super) fn only_scanners(
    g: &Group,
    scanners: &std::collections::BTreeSet<std::net::IpAddr>,
) -> bool {
    !g.peers.saturated && g.peers.n() > 0 && g.peers.iter().all(|ip| scanners.contains(ip))
}
