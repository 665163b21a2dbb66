//! RSTs of one verdict: handshake resets, aborts by either side, strays, out-of-window RSTs,
//! a local firewall's forged ones (one finding per verdict), and the routine resets after close.

use super::super::finding::{Fact, Finding, FindingKind, Headline, Severity, Step, Subject};
use super::super::snapshot::{Kind, Snapshot, peers};
use super::evidence::{self, example, peak, span, top_endpoints};
use crate::engine::track::Verdict;

/// The steps for RSTs of verdict `v`; `None` for verdicts other rules tell.
fn steps(v: Verdict) -> Option<Vec<Step>> {
    Some(match v {
        Verdict::HandshakeReset => vec![Step::CheckListenQueue, Step::ClientConnectTimeout],
        Verdict::ResetByClient => vec![
            Step::ResetterLogs { client: true },
            Step::AbortCounters { client: true },
        ],
        Verdict::ResetByServer => vec![
            Step::ResetterLogs { client: false },
            Step::AbortCounters { client: false },
        ],
        Verdict::Stray => vec![Step::StrayOrigin],
        Verdict::OutOfWindow => vec![Step::OutOfWindowOrigin],
        Verdict::FirewallReject => vec![Step::FindResetRule, Step::NarrowResetRule],
        Verdict::Refused | Verdict::SuspectedInjected | Verdict::ResetAfterClose => return None,
    })
}

/// One finding per verdict that no sharper rule tells: the busiest services and senders.
pub fn other_verdicts(s: &Snapshot) -> Vec<Finding> {
    let mut out = Vec::new();
    for (kind, g) in s.by_kind.iter() {
        let Kind::Rst(v) = *kind else { continue };
        let Some(next_steps) = steps(v) else { continue };
        let mut facts = evidence::services(s, *kind);
        for (e, g) in &top_endpoints(s, *kind, 3) {
            facts.push(Fact::SentBy {
                sender: s.named(*e),
                rsts: g.count,
                peers: peers(g),
                example: example(g),
            });
            facts.extend(evidence::clients(s, *e));
        }
        facts.push(Fact::Peak(peak(&g)));
        out.push(Finding {
            // A local rule refusing clients is as urgent as a service down.
            severity: if v == Verdict::FirewallReject {
                Severity::Alarming
            } else {
                Severity::Warning
            },
            kind: FindingKind::Verdict(v),
            count: g.count,
            subject: Subject::Verdict(v),
            headline: Headline::Verdict {
                verdict: v,
                span: span(&g),
            },
            facts,
            next_steps,
        });
    }
    out
}

/// Resets after close: normal.
pub fn routine(s: &Snapshot) -> Vec<Finding> {
    let mut out = Vec::new();
    for (kind, g) in s.by_kind.iter() {
        let Kind::Rst(v) = *kind else { continue };
        if !v.is_routine() {
            continue;
        }
        let mut facts = evidence::services(s, *kind);
        facts.push(Fact::Meaning(v));
        out.push(Finding {
            severity: Severity::Routine,
            kind: FindingKind::RoutineResets,
            count: g.count,
            subject: Subject::Verdict(v),
            headline: Headline::Routine {
                by_server: g.from_orig.saturating_mul(2) < g.count,
            },
            facts,
            next_steps: vec![Step::NothingToDo],
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::super::finding::{PeakSecond, Span};
    use super::super::testing::*;
    use super::*;

    #[test]
    fn resets_by_the_server_with_their_service_and_sender() {
        let mut s = snapshot();
        for i in 0..4u16 {
            add_rst(
                &mut s,
                Verdict::ResetByServer,
                ep("10.0.0.1", 80),
                ep("10.0.0.2", 5000 + i),
                t(10 + i64::from(i)),
            );
        }
        add_rst(
            &mut s,
            Verdict::ResetAfterClose,
            ep("10.0.0.1", 80),
            ep("10.0.0.2", 6000),
            t(20),
        );
        let f = other_verdicts(&s);
        assert_eq!(f.len(), 1, "reset after close is routine: {f:?}");
        let f = &f[0];
        assert_eq!(
            (f.kind, f.severity, f.count),
            (
                FindingKind::Verdict(Verdict::ResetByServer),
                Severity::Warning,
                4
            )
        );
        assert_eq!(
            f.headline,
            Headline::Verdict {
                verdict: Verdict::ResetByServer,
                span: Span {
                    first: t(10),
                    last: t(13)
                }
            }
        );
        assert!(
            matches!(&f.facts[0], Fact::OnService { service, rsts: 4, .. } if service.name.as_deref() == Some("http"))
        );
        assert!(
            matches!(&f.facts[1], Fact::SentBy { rsts: 4, example: Some(x), .. } if x.at == t(10))
        );
        assert_eq!(f.facts[2], Fact::Peak(PeakSecond { sec: 10, events: 1 }));
        assert_eq!(f.next_steps[0], Step::ResetterLogs { client: false });
    }

    #[test]
    fn a_local_firewall_s_resets_are_alarming() {
        let mut s = snapshot();
        add_rst(
            &mut s,
            Verdict::FirewallReject,
            ep("127.0.0.1", 22),
            ep("127.0.0.1", 5000),
            t(1),
        );
        let f = other_verdicts(&s);
        assert_eq!(f[0].severity, Severity::Alarming);
        assert_eq!(
            f[0].next_steps,
            vec![Step::FindResetRule, Step::NarrowResetRule]
        );
    }

    #[test]
    fn resets_after_close_are_routine() {
        let mut s = snapshot();
        add_rst(
            &mut s,
            Verdict::ResetAfterClose,
            ep("10.0.0.1", 80),
            ep("10.0.0.2", 6000),
            t(20),
        );
        let f = routine(&s);
        assert_eq!(f.len(), 1);
        assert_eq!(
            (f[0].kind, f[0].severity),
            (FindingKind::RoutineResets, Severity::Routine)
        );
        // Sent by the server (not the originator).
        assert_eq!(f[0].headline, Headline::Routine { by_server: true });
        assert_eq!(
            f[0].facts.last(),
            Some(&Fact::Meaning(Verdict::ResetAfterClose))
        );
    }
}
