//! The pattern rules: one pure function per rule, each reading a [`Snapshot`] of the report's
//! groupings and making typed [`Finding`]s (no words: `sink::findings` makes them). Each rule
//! is tested from a snapshot built by hand.

mod evidence;
mod injection;
mod port_scan;
mod refused;
mod storm;
mod unanswered;
mod verdicts;

#[cfg(test)]
mod testing;

pub use injection::injection;
pub use port_scan::port_scans;
pub use refused::refused;
pub use storm::storms;
pub use unanswered::unanswered;
pub use verdicts::{other_verdicts, routine};

use super::finding::Finding;
use super::snapshot::Snapshot;

/// Everything found, most important first: severity, then events behind it, then subject,
/// then rule.
pub fn all(s: &Snapshot) -> Vec<Finding> {
    let (mut out, scanners) = port_scans(s);
    out.extend(refused(s, &scanners));
    out.extend(unanswered(s, &scanners));
    out.extend(storms(s));
    out.extend(injection(s));
    out.extend(other_verdicts(s));
    out.extend(routine(s));
    out.sort_by(|a, b| {
        a.severity
            .cmp(&b.severity)
            .then(b.count.cmp(&a.count))
            .then_with(|| a.subject.cmp(&b.subject))
            .then(a.kind.cmp(&b.kind))
    });
    out
}
