//! RSTs that look forged: TTL or sequence evidence, or the sender kept talking afterwards.

use super::super::finding::{Fact, Finding, FindingKind, Headline, Severity, Span, Step, Subject};
use super::super::snapshot::{Kind, Snapshot, Tally};
use super::evidence::{MAX_LISTED, example, span};
use crate::engine::track::{Endpoint, Verdict};

/// One finding for every RST that looks injected and every sender that kept talking.
pub fn injection(s: &Snapshot) -> Vec<Finding> {
    let kind = Kind::Rst(Verdict::SuspectedInjected);
    let injected = s.by_kind.get(&kind).map_or(0, |g| g.count);
    if injected == 0 && s.kept_talking == 0 {
        return Vec::new();
    }
    // Only the injected ones are picked out (and ranked below): the endpoint groups of
    // every kind can be a hundred thousand.
    let senders = s
        .by_endpoint
        .entries()
        .filter(|((_, k), _)| *k == kind)
        .count();
    let ranked = s.by_endpoint.top_where(|(_, k)| *k == kind, MAX_LISTED);
    let mut facts: Vec<Fact> = ranked
        .iter()
        .map(|((e, _), g)| Fact::InjectedBy {
            sender: s.named(*e),
            rsts: g.count,
            span: span(g),
            example: example(g),
        })
        .collect();
    if senders > MAX_LISTED {
        facts.push(Fact::MoreInjectors(senders - MAX_LISTED));
    }
    let mut kept: Vec<(&Endpoint, &Tally)> = s.kept_by_sender.iter().collect();
    kept.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
    for (e, t) in kept.iter().take(MAX_LISTED) {
        facts.push(Fact::KeptTalking {
            sender: s.named(**e),
            times: t.count,
            span: Span {
                first: t.first,
                last: t.last,
            },
        });
    }
    if kept.len() > MAX_LISTED {
        facts.push(Fact::MoreKeptTalking(kept.len() - MAX_LISTED));
    }
    vec![Finding {
        severity: Severity::Alarming,
        kind: FindingKind::SuspectedInjection,
        count: injected.saturating_add(s.kept_talking),
        subject: Subject::Verdict(Verdict::SuspectedInjected),
        headline: Headline::Injection {
            injected,
            kept_senders: s.kept_by_sender.len(),
        },
        facts,
        next_steps: vec![Step::CompareTtls, Step::CheckMiddleboxes],
    }]
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::engine::track::Evidence;

    #[test]
    fn injected_rsts_and_a_sender_that_kept_talking() {
        let mut s = snapshot();
        assert!(injection(&s).is_empty());
        let ttl = Evidence::TtlUnlike {
            ttl: 250,
            min: 60,
            max: 64,
            samples: 9,
        };
        add_rst_with(
            &mut s,
            Verdict::SuspectedInjected,
            ep("10.0.0.1", 443),
            ep("10.0.0.2", 5000),
            t(3),
            ttl.clone(),
        );
        add_rst(
            &mut s,
            Verdict::SuspectedInjected,
            ep("10.0.0.1", 443),
            ep("10.0.0.2", 5001),
            t(4),
        );
        add_kept_talking(&mut s, ep("10.0.0.1", 443), t(5));
        let f = injection(&s);
        assert_eq!(f.len(), 1);
        assert_eq!((f[0].count, f[0].severity), (3, Severity::Alarming));
        assert_eq!(
            f[0].headline,
            Headline::Injection {
                injected: 2,
                kept_senders: 1
            }
        );
        let Fact::InjectedBy {
            sender,
            rsts: 2,
            span,
            example: Some(x),
        } = &f[0].facts[0]
        else {
            panic!("{:?}", f[0].facts)
        };
        assert_eq!(sender.service.as_deref(), Some("https"));
        assert_eq!((span.first, span.last, x.at), (t(3), t(4), t(3)));
        assert_eq!(x.sample, super::super::super::finding::Sample::Rst(ttl));
        assert_eq!(
            f[0].facts[1],
            Fact::KeptTalking {
                sender: s.named(ep("10.0.0.1", 443)),
                times: 1,
                span: Span {
                    first: t(5),
                    last: t(5)
                }
            }
        );
    }
}
