//! SYNs never answered, by destination: one endpoint ignoring attempts again and again (or the
//! only one that ignored any), and the rest together.

use super::super::SERVICE_DOWN_REPEATS;
use super::super::finding::{
    Fact, Failing, Finding, FindingKind, Headline, Severity, Step, Subject,
};
use super::super::groups::Group;
use super::super::snapshot::{Kind, Snapshot, peers};
use super::evidence::{self, only_scanners, peak, range, span};
use crate::engine::track::Endpoint;
use std::collections::BTreeSet;
use std::net::IpAddr;

/// The unanswered-attempt findings. Endpoints whose every client is a scanner are passed over.
pub fn unanswered(s: &Snapshot, scanners: &BTreeSet<IpAddr>) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut few = Vec::new();
    for ((e, _), g) in s.by_endpoint.iter_where(|(_, k)| *k == Kind::Unanswered) {
        if g.count < SERVICE_DOWN_REPEATS {
            if !only_scanners(&g, scanners) {
                few.push((*e, g));
            }
            continue;
        }
        out.push(ignored(s, *e, &g));
    }
    if let [(e, g)] = few.as_slice() {
        out.push(ignored_once(s, *e, g));
    } else if !few.is_empty() {
        out.push(ignored_at_few(s, &few));
    }
    out
}

/// One endpoint that never answered repeated attempts.
pub fn ignored(s: &Snapshot, e: Endpoint, g: &Group) -> Finding {
    let mut facts = vec![Fact::SynsUnanswered {
        syns: g.syns,
        peak: peak(g),
    }];
    let contrast = evidence::contrast(s, e, g, Failing::NoAnswer);
    if contrast.is_empty() {
        facts.push(Fact::NothingCompleted { ip: e.ip });
    }
    facts.extend(contrast);
    Finding {
        severity: Severity::Alarming,
        kind: FindingKind::Unanswered,
        count: g.count,
        subject: Subject::Endpoint(e),
        headline: Headline::Unanswered {
            endpoint: e,
            peers: peers(g),
            span: span(g),
            service: s.service(e.port),
        },
        facts,
        next_steps: steps(Some(e)),
    }
}

/// The only endpoint that ignored attempts, fewer times than a finding of its own needs.
pub fn ignored_once(s: &Snapshot, e: Endpoint, g: &Group) -> Finding {
    let mut facts = vec![Fact::SynsSent { syns: g.syns }];
    facts.extend(evidence::contrast(s, e, g, Failing::NoAnswer));
    Finding {
        severity: Severity::Warning,
        kind: FindingKind::UnansweredFew,
        count: g.count,
        subject: Subject::Endpoint(e),
        headline: Headline::Unanswered {
            endpoint: e,
            peers: peers(g),
            span: span(g),
            service: s.service(e.port),
        },
        facts,
        next_steps: steps(Some(e)),
    }
}

/// Several endpoints that ignored attempts, each fewer times than a finding of its own needs.
pub fn ignored_at_few<G: std::ops::Deref<Target = Group>>(
    s: &Snapshot,
    few: &[(Endpoint, G)],
) -> Finding {
    let n: u64 = few.iter().map(|(_, g)| g.count).sum();
    Finding {
        severity: Severity::Warning,
        kind: FindingKind::UnansweredFew,
        count: n,
        subject: Subject::Endpoints(few.iter().map(|(e, _)| *e).collect()),
        headline: Headline::UnansweredAtFew {
            endpoints: few.len(),
            span: range(few.iter().map(|(_, g)| &**g)),
        },
        facts: evidence::endpoints(s, few),
        next_steps: steps(None),
    }
}

fn steps(e: Option<Endpoint>) -> Vec<Step> {
    vec![
        Step::TestReachability(e),
        Step::FindDropRule(e.map(|e| e.port)),
        Step::CheckSynBacklog,
    ]
}

#[cfg(test)]
mod tests {
    use super::super::super::finding::{PeakSecond, Span};
    use super::super::testing::*;
    use super::*;

    #[test]
    fn an_endpoint_that_never_answered_three_attempts() {
        let mut s = snapshot();
        let server = ep("192.0.2.10", 443);
        for i in 0..3 {
            add_unanswered(&mut s, server, ep("10.0.0.9", 40000 + i), t(100));
        }
        let f = unanswered(&s, &BTreeSet::new());
        assert_eq!(f.len(), 1);
        assert_eq!(
            (f[0].kind, f[0].severity, f[0].count),
            (FindingKind::Unanswered, Severity::Alarming, 3)
        );
        assert_eq!(f[0].subject, Subject::Endpoint(server));
        assert_eq!(
            f[0].facts,
            vec![
                Fact::SynsUnanswered {
                    syns: 6,
                    peak: PeakSecond {
                        sec: 100,
                        events: 3
                    }
                },
                Fact::NothingCompleted {
                    ip: ip("192.0.2.10")
                },
            ]
        );
        assert_eq!(f[0].next_steps[1], Step::FindDropRule(Some(443)));
    }

    #[test]
    fn one_ignored_attempt_contrasts_with_the_host_s_other_ports() {
        let mut s = snapshot();
        let server = ep("192.0.2.10", 8443);
        for port in [22, 80, 443, 25] {
            add_healthy(&mut s, ep("192.0.2.10", port), t(1), t(2));
        }
        add_healthy(&mut s, ep("192.0.2.10", 80), t(1), t(3));
        add_unanswered(&mut s, server, ep("10.0.0.9", 40000), t(5));
        let f = unanswered(&s, &BTreeSet::new());
        assert_eq!((f.len(), f[0].kind), (1, FindingKind::UnansweredFew));
        assert_eq!(f[0].facts[0], Fact::SynsSent { syns: 2 });
        let Fact::HostUpManyPorts {
            ports,
            busiest,
            port,
            failing,
            ..
        } = &f[0].facts[1]
        else {
            panic!("{:?}", f[0].facts)
        };
        assert_eq!((*ports, *port, *failing), (4, 8443, Failing::NoAnswer));
        assert_eq!(busiest[0].0.port, 80);
        assert_eq!(busiest[0].1, 2);
        assert_eq!(busiest.len(), 3);
    }

    #[test]
    fn several_endpoints_ignored_once_each() {
        let mut s = snapshot();
        add_unanswered(&mut s, ep("192.0.2.1", 80), ep("10.0.0.9", 40000), t(5));
        add_unanswered(&mut s, ep("192.0.2.2", 80), ep("10.0.0.9", 40001), t(9));
        let f = unanswered(&s, &BTreeSet::new());
        assert_eq!(f.len(), 1);
        assert_eq!(
            f[0].headline,
            Headline::UnansweredAtFew {
                endpoints: 2,
                span: Span {
                    first: t(5),
                    last: t(9)
                }
            }
        );
        assert_eq!(f[0].next_steps[0], Step::TestReachability(None));
        assert!(matches!(&f[0].facts[0], Fact::Endpoint(l) if l.syns == 2));
    }
}
