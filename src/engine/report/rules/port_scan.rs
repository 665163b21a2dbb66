//! One source refused or unanswered on many ports: a port scan.

use super::super::PORT_SCAN_PORTS;
use super::super::finding::{
    Distinct, Fact, Finding, FindingKind, Headline, Severity, Span, Step, Subject,
};
use super::super::snapshot::{Kind, REFUSED, Snapshot};
use super::evidence::MAX_LISTED;
use crate::model::timestamp::Timestamp;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// Ports listed in a scan's evidence.
const PORTS_LISTED: usize = 12;

/// One finding per host refused or unanswered on at least [`PORT_SCAN_PORTS`] ports; also
/// returns those hosts (the scanners), whose refusals the other rules pass over.
pub fn port_scans(s: &Snapshot) -> (Vec<Finding>, BTreeSet<IpAddr>) {
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
    for ((ip, kind), slot) in s.by_peer.entries() {
        let other = match *kind {
            REFUSED => Kind::Unanswered,
            Kind::Unanswered => REFUSED,
            _ => continue,
        };
        // Its refused and its unanswered attempts together cannot name more ports than
        // their two sets hold: most clients tried one port, and are passed over here
        // without building their sets (the scans are in address order anyway).
        let at_most = slot.ports() + s.by_peer.find(&(*ip, other)).map_or(0, |o| o.ports());
        if at_most < PORT_SCAN_PORTS {
            continue;
        }
        let g = slot.group();
        let scan = scans.entry(*ip).or_insert_with(|| Scan {
            ports: BTreeSet::new(),
            saturated: false,
            hosts: BTreeSet::new(),
            refused: 0,
            unanswered: 0,
            first: g.first,
            last: g.last,
        });
        scan.ports.extend(g.ports.iter().copied());
        scan.saturated |= g.ports.saturated;
        scan.hosts.extend(g.peers.iter().copied());
        if *kind == REFUSED {
            scan.refused += g.count;
        } else {
            scan.unanswered += g.count;
        }
        scan.first = scan.first.min(g.first);
        scan.last = scan.last.max(g.last);
    }
    let mut scanners = BTreeSet::new();
    let mut out = Vec::new();
    for (ip, scan) in scans {
        if scan.ports.len() < PORT_SCAN_PORTS {
            continue;
        }
        scanners.insert(ip);
        out.push(Finding {
            severity: Severity::Warning,
            kind: FindingKind::PortScan,
            count: scan.refused + scan.unanswered,
            subject: Subject::Peer(ip),
            headline: Headline::PortScan {
                scanner: ip,
                refused: scan.refused,
                unanswered: scan.unanswered,
                ports: Distinct {
                    n: scan.ports.len(),
                    at_least: scan.saturated,
                },
                hosts: scan.hosts.len(),
                span: Span {
                    first: scan.first,
                    last: scan.last,
                },
            },
            facts: vec![
                Fact::PortsTried {
                    listed: scan.ports.iter().take(PORTS_LISTED).copied().collect(),
                    total: scan.ports.len(),
                },
                Fact::ScanAttempts {
                    refused: scan.refused,
                    unanswered: scan.unanswered,
                },
                Fact::ScannedHosts {
                    listed: scan.hosts.iter().take(MAX_LISTED).copied().collect(),
                    more: scan.hosts.len().saturating_sub(MAX_LISTED),
                },
            ],
            next_steps: vec![Step::IdentifyScanner(ip), Step::ScanIsNoOutage],
        });
    }
    (out, scanners)
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn a_host_refused_on_many_ports_is_a_scan_and_a_scanner() {
        let mut s = snapshot();
        let scanner = ep("10.0.0.66", 40000);
        // Refused on 8 ports of one host, unanswered on 4 of another: 12 ports in all.
        for port in 1..=8 {
            add_refused(
                &mut s,
                ep("10.0.0.1", port),
                scanner,
                t(100 + i64::from(port)),
            );
        }
        for port in 20..24 {
            add_unanswered(&mut s, ep("10.0.0.2", port), scanner, t(200));
        }
        // One refusal of another client is no scan.
        add_refused(&mut s, ep("10.0.0.1", 80), ep("10.0.0.7", 5000), t(100));
        let (f, scanners) = port_scans(&s);
        assert_eq!(
            scanners.into_iter().collect::<Vec<_>>(),
            vec![ip("10.0.0.66")]
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].subject, Subject::Peer(ip("10.0.0.66")));
        assert_eq!(f[0].count, 12);
        assert_eq!(
            f[0].headline,
            Headline::PortScan {
                scanner: ip("10.0.0.66"),
                refused: 8,
                unanswered: 4,
                ports: Distinct {
                    n: 12,
                    at_least: false
                },
                hosts: 2,
                span: Span {
                    first: t(101),
                    last: t(200)
                },
            }
        );
        assert_eq!(
            f[0].facts[0],
            Fact::PortsTried {
                listed: vec![1, 2, 3, 4, 5, 6, 7, 8, 20, 21, 22, 23],
                total: 12
            }
        );
        assert_eq!(
            f[0].facts[2],
            Fact::ScannedHosts {
                listed: vec![ip("10.0.0.1"), ip("10.0.0.2")],
                more: 0
            }
        );
        assert_eq!(f[0].next_steps[0], Step::IdentifyScanner(ip("10.0.0.66")));
    }
}
