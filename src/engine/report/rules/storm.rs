//! Seconds with far more RSTs than usual: RST storms.

use super::super::finding::{
    Fact, Finding, FindingKind, Headline, PeakSecond, Severity, Step, Subject,
};
use super::super::groups::{Peak, top};
use super::super::snapshot::{Kind, Snapshot};
use super::super::{STEADY_STORM_RSTS, STORM_FACTOR, STORM_MIN_RSTS};
use crate::engine::track::Endpoint;

/// Storm episodes reported one by one.
const MAX_STORMS: usize = 10;

/// One finding per storm episode (runs of storm seconds, gaps up to one second joined), at
/// most [`MAX_STORMS`]; the last says how many more there were.
pub fn storms(s: &Snapshot) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some((a, b)) = s.span else { return out };
    if s.seconds.is_empty() {
        return out;
    }
    // The typical second over the whole capture, quiet seconds included: a lone burst in a
    // quiet capture is a storm, a steady high rate is not.
    let span_secs = (i128::from(b.secs()) - i128::from(a.secs()) + 1).max(1);
    let mut busy: Vec<u64> = s.seconds.iter().map(|(_, n)| n).collect();
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
    let mut episodes: Vec<Vec<(i64, u64)>> = Vec::new();
    for (sec, n) in s.seconds.iter() {
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
        let mut facts = vec![Fact::TypicalSecond { rsts: median }];
        if peak < burst {
            facts.push(Fact::SteadyStorm {
                per_second: STEADY_STORM_RSTS,
            });
        }
        let mut busiest = ep.clone();
        busiest.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
        facts.push(Fact::BusiestSeconds(
            busiest
                .iter()
                .take(3)
                .map(|&(sec, events)| PeakSecond { sec, events })
                .collect(),
        ));
        // Busiest first; ties by endpoint, then kind. Only RST groups whose busiest second
        // falls in the episode are candidates (their key is read only then).
        let candidates: Vec<(&Endpoint, Kind, Peak)> = s
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
        for (e, k, p) in &senders {
            let Kind::Rst(verdict) = *k else { continue };
            facts.push(Fact::StormSender {
                sender: s.named(**e),
                verdict,
                peak: PeakSecond {
                    sec: p.best_sec,
                    events: p.best_n.into(),
                },
            });
        }
        if i + 1 == MAX_STORMS && extra > 0 {
            facts.push(Fact::MoreStorms(extra));
        }
        out.push(Finding {
            severity: Severity::Alarming,
            kind: FindingKind::RstStorm,
            count: n,
            subject: Subject::Seconds {
                first: s0,
                last: s1,
            },
            headline: Headline::Storm {
                first: s0,
                last: s1,
                peak,
            },
            facts,
            next_steps: vec![Step::StormStart(s0), Step::StormCounters],
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::engine::track::Verdict;

    #[test]
    fn a_burst_in_a_quiet_capture_is_a_storm_with_its_senders() {
        let mut s = snapshot();
        // One RST a second for a minute, then 150 from one server in second 70.
        for sec in 0..60 {
            add_rst(
                &mut s,
                Verdict::Stray,
                ep("10.0.0.1", 80),
                ep("10.0.0.2", 5000),
                t(sec),
            );
        }
        for i in 0..150u16 {
            add_rst(
                &mut s,
                Verdict::ResetByServer,
                ep("10.0.0.3", 443),
                ep("10.0.0.4", 1000 + i),
                t(70),
            );
        }
        let f = storms(&s);
        assert_eq!(f.len(), 1);
        assert_eq!((f[0].kind, f[0].count), (FindingKind::RstStorm, 150));
        assert_eq!(
            f[0].subject,
            Subject::Seconds {
                first: 70,
                last: 70
            }
        );
        assert_eq!(
            f[0].headline,
            Headline::Storm {
                first: 70,
                last: 70,
                peak: 150
            }
        );
        assert_eq!(
            f[0].facts,
            vec![
                Fact::TypicalSecond { rsts: 1 },
                Fact::BusiestSeconds(vec![PeakSecond {
                    sec: 70,
                    events: 150
                }]),
                Fact::StormSender {
                    sender: s.named(ep("10.0.0.3", 443)),
                    verdict: Verdict::ResetByServer,
                    peak: PeakSecond {
                        sec: 70,
                        events: 150
                    },
                },
            ]
        );
        assert_eq!(f[0].next_steps[0], Step::StormStart(70));
    }

    #[test]
    fn a_steady_rate_below_the_steady_limit_is_no_storm() {
        let mut s = snapshot();
        for sec in 0..10 {
            for i in 0..200u16 {
                add_rst(
                    &mut s,
                    Verdict::Stray,
                    ep("10.0.0.1", 80),
                    ep("10.0.0.2", i),
                    t(sec),
                );
            }
        }
        assert!(storms(&s).is_empty());
    }
}
