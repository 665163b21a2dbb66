//! Refused attempts: one port refused across many hosts, one endpoint refused again and again
//! (the service is down), and the rest together.

use super::super::finding::{
    Fact, Failing, Finding, FindingKind, Headline, Severity, Step, Subject,
};
use super::super::groups::Group;
use super::super::snapshot::{REFUSED, Snapshot, peers};
use super::super::{MANY_SOURCES, SERVICE_DOWN_REPEATS};
use super::evidence::{self, example, only_scanners, peak, range, span};
use crate::engine::track::Endpoint;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// The refusal findings. Endpoints whose every client is a scanner are passed over (the
/// port-scan finding tells them).
pub fn refused(s: &Snapshot, scanners: &BTreeSet<IpAddr>) -> Vec<Finding> {
    let mut out = Vec::new();
    let refused: Vec<(Endpoint, Cow<'_, Group>)> = s
        .by_endpoint
        .iter_where(|(_, k)| *k == REFUSED)
        .map(|((e, _), g)| (*e, g))
        .collect();
    let mut per_port: BTreeMap<u16, Vec<(Endpoint, &Group)>> = BTreeMap::new();
    for (e, g) in &refused {
        per_port.entry(e.port).or_default().push((*e, g));
    }
    let mut covered = BTreeSet::new();
    for ((port, _), g) in s.by_service.iter_where(|(_, k)| *k == REFUSED) {
        if g.peers.n() < MANY_SOURCES {
            continue;
        }
        let Some(eps) = per_port.get(port).filter(|e| e.len() >= 2) else {
            continue;
        };
        covered.insert(*port);
        out.push(refused_on_many_hosts(s, *port, &g, eps));
    }
    let mut few = Vec::new();
    for (port, eps) in &per_port {
        if covered.contains(port) {
            continue;
        }
        for &(e, g) in eps {
            if g.count >= SERVICE_DOWN_REPEATS {
                out.push(service_down(s, e, g));
            } else if !only_scanners(g, scanners) {
                few.push((e, g));
            }
        }
    }
    if let [(e, g)] = few.as_slice() {
        out.push(refused_once(s, *e, g));
    } else if !few.is_empty() {
        out.push(refused_at_few(s, &few));
    }
    out
}

/// The founding story: one ip:port refusing attempts again and again.
pub fn service_down(s: &Snapshot, e: Endpoint, g: &Group) -> Finding {
    let mut facts = Vec::new();
    if let Some(x) = example(g) {
        facts.push(Fact::RefusedExample(x));
    }
    facts.push(Fact::Retrying {
        attempts: g.count,
        source_ports: super::super::snapshot::distinct(&g.ports),
        peak: peak(g),
        clients: super::super::snapshot::distinct(&g.peers),
    });
    facts.extend(evidence::clients(s, e));
    facts.extend(evidence::contrast(s, e, g, Failing::NoListener));
    Finding {
        severity: Severity::Alarming,
        kind: FindingKind::ServiceDown,
        count: g.count,
        subject: Subject::Endpoint(e),
        headline: Headline::Refused {
            endpoint: e,
            peers: peers(g),
            span: span(g),
            service: s.service(e.port),
        },
        facts,
        next_steps: vec![Step::CheckWhatListens(e), Step::FindRejectRule],
    }
}

/// Several hosts refused the same port, from many clients.
pub fn refused_on_many_hosts(
    s: &Snapshot,
    port: u16,
    g: &Group,
    eps: &[(Endpoint, &Group)],
) -> Finding {
    let mut facts = evidence::endpoints(s, eps);
    facts.push(Fact::Peak(peak(g)));
    let service = s.service(port);
    Finding {
        severity: Severity::Alarming,
        kind: FindingKind::RefusedOnManyHosts,
        count: g.count,
        subject: Subject::ServicePort(port),
        headline: Headline::RefusedOnManyHosts {
            hosts: eps.len(),
            service: service.clone(),
            peers: peers(g),
            span: span(g),
        },
        facts,
        next_steps: vec![Step::CheckPortOnHosts(service), Step::FixClientConfig],
    }
}

/// The only endpoint that refused, fewer times than a service-down finding needs.
pub fn refused_once(s: &Snapshot, e: Endpoint, g: &Group) -> Finding {
    let mut facts: Vec<Fact> = example(g).into_iter().map(Fact::Example).collect();
    facts.extend(evidence::clients(s, e));
    facts.extend(evidence::contrast(s, e, g, Failing::NoListener));
    Finding {
        severity: Severity::Warning,
        kind: FindingKind::Refused,
        count: g.count,
        subject: Subject::Endpoint(e),
        headline: Headline::Refused {
            endpoint: e,
            peers: peers(g),
            span: span(g),
            service: s.service(e.port),
        },
        facts,
        next_steps: vec![Step::CheckListening(e)],
    }
}

/// Several endpoints that refused, each fewer times than a service-down finding needs.
pub fn refused_at_few(s: &Snapshot, few: &[(Endpoint, &Group)]) -> Finding {
    let n: u64 = few.iter().map(|(_, g)| g.count).sum();
    Finding {
        severity: Severity::Warning,
        kind: FindingKind::Refused,
        count: n,
        subject: Subject::Endpoints(few.iter().map(|(e, _)| *e).collect()),
        headline: Headline::RefusedAtFew {
            endpoints: few.len(),
            span: range(few.iter().map(|(_, g)| *g)),
        },
        facts: evidence::endpoints(s, few),
        next_steps: vec![Step::CheckListeningAll],
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::finding::{Distinct, EndpointLine, PeakSecond, Span};
    use super::super::testing::*;
    use super::*;

    #[test]
    fn an_endpoint_refused_three_times_is_a_service_down_with_its_contrast() {
        let mut s = snapshot();
        let server = ep("10.0.0.5", 7211);
        add_healthy(&mut s, server, t(50), t(60));
        add_healthy(&mut s, ep("10.0.0.5", 22), t(50), t(70));
        for i in 0..3 {
            add_refused(
                &mut s,
                server,
                ep("10.0.0.9", 40000 + i),
                t(100 + i64::from(i)),
            );
        }
        let f = refused(&s, &BTreeSet::new());
        assert_eq!(f.len(), 1);
        let f = &f[0];
        assert_eq!(
            (f.kind, f.severity, f.count),
            (FindingKind::ServiceDown, Severity::Alarming, 3)
        );
        assert_eq!(f.subject, Subject::Endpoint(server));
        let Headline::Refused { peers, service, .. } = &f.headline else {
            panic!("{:?}", f.headline)
        };
        assert_eq!(peers.listed, vec![ip("10.0.0.9")]);
        assert_eq!((service.port, service.name.as_deref()), (7211, None));
        assert!(matches!(f.facts[0], Fact::RefusedExample(ref x) if x.at == t(100)));
        assert_eq!(
            f.facts[1],
            Fact::Retrying {
                attempts: 3,
                source_ports: Distinct {
                    n: 3,
                    at_least: false
                },
                peak: PeakSecond {
                    sec: 100,
                    events: 1
                },
                clients: Distinct {
                    n: 1,
                    at_least: false
                },
            }
        );
        assert_eq!(
            f.facts[2],
            Fact::HealthyUntil {
                endpoint: server,
                connections: 1,
                until: t(60)
            }
        );
        assert!(matches!(
            &f.facts[3],
            Fact::HostUpOnePort { other, connections: 1, port: 7211, failing: Failing::NoListener }
                if other.endpoint.port == 22 && other.service.as_deref() == Some("ssh")
        ));
        assert_eq!(
            f.next_steps,
            vec![Step::CheckWhatListens(server), Step::FindRejectRule]
        );
    }

    #[test]
    fn one_port_refused_by_several_hosts_to_many_clients() {
        let mut s = snapshot();
        for c in 0..12u8 {
            let client = ep(&format!("10.1.0.{c}"), 5000);
            let host = if c % 2 == 0 { "10.0.0.1" } else { "10.0.0.2" };
            add_refused(&mut s, ep(host, 5432), client, t(10));
        }
        let f = refused(&s, &BTreeSet::new());
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].kind, FindingKind::RefusedOnManyHosts);
        assert_eq!(f[0].subject, Subject::ServicePort(5432));
        let Headline::RefusedOnManyHosts {
            hosts,
            service,
            peers,
            ..
        } = &f[0].headline
        else {
            panic!()
        };
        assert_eq!((*hosts, service.name.as_deref()), (2, Some("postgresql")));
        assert_eq!(
            peers.count,
            Distinct {
                n: 12,
                at_least: false
            }
        );
        assert!(peers.listed.is_empty());
        assert!(matches!(
            &f[0].facts[0],
            Fact::Endpoint(EndpointLine { attempts: 6, .. })
        ));
        assert_eq!(
            f[0].facts[2],
            Fact::Peak(PeakSecond {
                sec: 10,
                events: 12
            })
        );
    }

    #[test]
    fn a_single_refusal_and_several_few_ones() {
        let mut s = snapshot();
        add_refused(&mut s, ep("127.0.0.1", 9), ep("127.0.0.1", 5000), t(1));
        let f = refused(&s, &BTreeSet::new());
        assert_eq!((f.len(), f[0].kind), (1, FindingKind::Refused));
        assert_eq!(f[0].subject, Subject::Endpoint(ep("127.0.0.1", 9)));
        assert_eq!(
            f[0].next_steps,
            vec![Step::CheckListening(ep("127.0.0.1", 9))]
        );

        add_refused(&mut s, ep("127.0.0.1", 10), ep("127.0.0.1", 5001), t(3));
        add_refused(&mut s, ep("127.0.0.1", 10), ep("127.0.0.1", 5002), t(4));
        let f = refused(&s, &BTreeSet::new());
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].count, 3);
        assert_eq!(
            f[0].subject,
            Subject::Endpoints(vec![ep("127.0.0.1", 9), ep("127.0.0.1", 10)])
        );
        assert_eq!(
            f[0].headline,
            Headline::RefusedAtFew {
                endpoints: 2,
                span: Span {
                    first: t(1),
                    last: t(4)
                }
            }
        );
        // Largest first.
        assert!(
            matches!(&f[0].facts[0], Fact::Endpoint(l) if l.endpoint.endpoint.port == 10 && l.attempts == 2)
        );
    }

    #[test]
    fn refusals_of_scanners_only_are_left_to_the_scan() {
        let mut s = snapshot();
        add_refused(&mut s, ep("10.0.0.1", 9), ep("10.0.0.66", 5000), t(1));
        let scanners = BTreeSet::from([ip("10.0.0.66")]);
        assert!(refused(&s, &scanners).is_empty());
    }
}
