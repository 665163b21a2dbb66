//! The rules: each a small pure function from the [`Snapshot`] to the diagnoses it finds,
//! with the evidence as data, the probable causes and the commands to run next.

use super::tally::{Class, Group, ProcRef};
use super::{Cause, Diagnosis, Fact, Healthy, Kind, Part, Role, Severity, Snapshot, Subject};
use crate::engine::counters::{DEFAULT_WARN, Disagreement, MissedCause};
use crate::engine::listeners::{QueueState, attribute_overflow, verdict};
use crate::engine::report::finding::Subject as ReportSubject;
use crate::engine::report::{FindingKind, PORT_SCAN_PORTS, SERVICE_DOWN_REPEATS};
use crate::engine::track::Endpoint;
use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};

/// A rule.
pub type Rule = fn(&Snapshot) -> Vec<Diagnosis>;

/// Every rule, in no particular order (the diagnoses are ranked afterwards).
pub const ALL: &[Rule] = &[
    refused_local,
    refused_remote,
    listen_overflow,
    abort_on_close,
    abort_on_linger,
    abort_on_memory,
    firewall_reject,
    port_scan,
    suspected_injection,
    unanswered,
    peer_resets,
    counters_unseen,
    failures_counted_only,
    connect_errors,
];

/// Peer resets at or above this many make a warning, below a notice.
pub const PEER_RESETS_WARN: u64 = 10;

/// A command run inside the diagnosed namespace.
fn in_ns(s: &Snapshot, cmd: &str) -> String {
    match s.netns.as_deref() {
        None => cmd.to_string(),
        Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
            format!("nsenter -t {n} -n {cmd}")
        }
        Some(n) if n.contains('/') => format!("nsenter --net={n} {cmd}"),
        Some(n) => format!("ip netns exec {n} {cmd}"),
    }
}

/// Sources that tried many ports (scans): their refused and unanswered attempts are told once,
/// in the scan's diagnosis.
pub fn scanners(s: &Snapshot) -> BTreeSet<IpAddr> {
    s.tally
        .sources
        .iter()
        .filter(|(_, p)| p.ports.len() >= PORT_SCAN_PORTS)
        .map(|(ip, _)| *ip)
        .collect()
}

fn only_scanners(peers: &BTreeSet<IpAddr>, saturated: bool, scanners: &BTreeSet<IpAddr>) -> bool {
    !saturated && !peers.is_empty() && peers.iter().all(|p| scanners.contains(p))
}

fn sock(e: Endpoint) -> SocketAddr {
    SocketAddr::new(e.ip, e.port)
}

/// The processes of a group and of the kernel's failed connects to the same endpoint.
fn clients(s: &Snapshot, e: Endpoint, g: &Group) -> Fact {
    let mut procs = s.here(&g.processes);
    let mut more = g.processes_more;
    for f in s.connects_to(sock(e)) {
        for pid in &f.pids {
            if procs.iter().any(|p| p.pid == *pid) {
                continue;
            }
            if procs.len() < super::tally::MAX_PROCESSES {
                let mut p = ProcRef::of(&f.process);
                p.pid = *pid;
                procs.push(p);
            } else {
                more += 1;
            }
        }
    }
    Fact::Processes {
        role: Role::Clients,
        procs,
        more,
    }
}

fn peers(g: &Group) -> Fact {
    Fact::Peers {
        hosts: g.peers.iter().copied().collect(),
        saturated: g.peers_saturated,
    }
}

fn reasons(g: &Group) -> impl Iterator<Item = Fact> + '_ {
    g.reasons.iter().map(|(r, c)| Fact::KernelReason {
        reason: r.clone(),
        count: *c,
    })
}

fn events(g: &Group) -> Fact {
    Fact::Events {
        count: g.count,
        per_second: g.rate(),
    }
}

fn novelty(s: &Snapshot) -> Option<Fact> {
    s.counters.as_ref()?.novelty.map(Fact::Novelty)
}

/// The packet report's finding of one of `kinds` (about endpoint `e`, when given).
fn report_line(s: &Snapshot, kinds: &[FindingKind], e: Option<Endpoint>) -> Option<Fact> {
    s.findings
        .iter()
        .find(|f| {
            kinds.contains(&f.kind) && e.is_none_or(|e| f.subject == ReportSubject::Endpoint(e))
        })
        .map(|f| Fact::Report(Box::new(f.clone())))
}

/// Refused by this host: nothing listened on the port (the founding story).
pub fn refused_local(s: &Snapshot) -> Vec<Diagnosis> {
    let scanners = scanners(s);
    let mut out = Vec::new();
    for (_, e, g) in s.tally.of(|c| *c == Class::Refused) {
        if !g.local || only_scanners(&g.peers, g.peers_saturated, &scanners) {
            continue;
        }
        let mut evidence = vec![events(g), clients(s, e, g), peers(g)];
        let listening = s.listeners_for(e.ip, e.port);
        if s.listeners_known() && listening.is_empty() {
            evidence.push(Fact::NothingListening { port: e.port });
        }
        if let Some(name) = s.service_name(e.port) {
            evidence.push(Fact::Service { port: e.port, name });
        }
        evidence.extend(reasons(g));
        evidence.extend(novelty(s));
        evidence.extend(report_line(
            s,
            &[FindingKind::ServiceDown, FindingKind::Refused],
            Some(e),
        ));
        let mut causes = vec![Cause::ServiceNotRunning, Cause::WrongPortOrHost];
        if !listening.is_empty() {
            // Something listens now: it came back, or it is bound elsewhere.
            causes.insert(0, Cause::LocalFirewallRule);
        }
        let mut next = vec![
            in_ns(s, &format!("ss -ltnp 'sport = :{}'", e.port)),
            "systemctl --failed".to_string(),
        ];
        if let Some(name) = s.service_name(e.port) {
            next.push(format!("journalctl -u '{name}*' --since -1h"));
        }
        if let Fact::Processes { procs, .. } = &evidence[1]
            && let Some(p) = procs.first()
        {
            next.push(format!("ps -o pid,user,args -p {}", p.pid));
        }
        out.push(Diagnosis {
            severity: if g.count >= SERVICE_DOWN_REPEATS {
                Severity::Warning
            } else {
                Severity::Notice
            },
            kind: Kind::RefusedLocal,
            subject: Subject::Endpoint(e),
            count: g.count,
            per_second: g.rate(),
            evidence,
            causes,
            next,
        });
    }
    out
}

/// Refused by another host.
pub fn refused_remote(s: &Snapshot) -> Vec<Diagnosis> {
    let scanners = scanners(s);
    let mut out = Vec::new();
    for (_, e, g) in s.tally.of(|c| *c == Class::Refused) {
        if g.local || only_scanners(&g.peers, g.peers_saturated, &scanners) {
            continue;
        }
        let mut evidence = vec![events(g), clients(s, e, g), peers(g)];
        if let Some(name) = s.service_name(e.port) {
            evidence.push(Fact::Service { port: e.port, name });
        }
        evidence.extend(novelty(s));
        out.push(Diagnosis {
            severity: if g.count >= SERVICE_DOWN_REPEATS {
                Severity::Warning
            } else {
                Severity::Notice
            },
            kind: Kind::RefusedRemote,
            subject: Subject::Endpoint(e),
            count: g.count,
            per_second: g.rate(),
            evidence,
            causes: vec![
                Cause::RemoteServiceDown,
                Cause::RemoteFirewallReject,
                Cause::WrongPortOrHost,
            ],
            next: vec![
                format!("ssh {} ss -ltnp 'sport = :{}'", e.ip, e.port),
                in_ns(s, &format!("nc -vz -w 2 {} {}", e.ip, e.port)),
            ],
        });
    }
    out
}

/// Accept queues that are full or dropping.
pub fn listen_overflow(s: &Snapshot) -> Vec<Diagnosis> {
    let (Some(start), Some(end)) = (&s.listeners_start, &s.listeners_end) else {
        return Vec::new();
    };
    let counters = s.counters.as_ref();
    let overflows = counters.map(|c| c.delta("ListenOverflows"));
    let att = attribute_overflow(start, end, &s.sysctls, overflows);
    let mut out = Vec::new();
    for share in &att.listeners {
        let l = &share.listener;
        let v = &share.verdict;
        let drops = v.drops_delta.unwrap_or(0);
        let mut evidence = vec![
            Fact::Queue {
                queue: l.queue,
                backlog: l.backlog,
                somaxconn: s.sysctls.somaxconn,
                limit: v.limit,
                drops: v.drops_delta,
            },
            Fact::Processes {
                role: Role::ListenerOwners,
                procs: owners(l),
                more: 0,
            },
        ];
        if let Some(c) = counters {
            for name in ["ListenOverflows", "ListenDrops"] {
                let delta = c.delta(name);
                if delta > 0 {
                    evidence.push(Fact::Counter {
                        name: static_name(name),
                        delta,
                        per_second: c.rate(name),
                    });
                }
            }
        }
        let mut next = vec![in_ns(s, &format!("ss -ltn 'sport = :{}'", l.key.port))];
        for a in &v.advice {
            if let crate::engine::listeners::Advice::RaiseSomaxconn { now } = a {
                next.push(in_ns(
                    s,
                    &format!(
                        "sysctl -w net.core.somaxconn={}",
                        now.saturating_mul(4).max(4096)
                    ),
                ));
            }
        }
        if let Some(p) = l.owners.first() {
            next.push(format!("ps -o pid,user,args -p {}", p.pid));
        }
        out.push(Diagnosis {
            severity: Severity::Warning,
            kind: Kind::ListenOverflow,
            subject: Subject::Listener(l.key),
            count: drops.max(overflows.unwrap_or(0)).max(1),
            per_second: counters.and_then(|c| c.rate("ListenOverflows")),
            evidence,
            causes: v.advice.iter().map(|a| Cause::QueueAdvice(*a)).collect(),
            next,
        });
    }
    out
}

fn static_name(name: &str) -> &'static str {
    crate::engine::counters::info(name).map_or("", |i| i.name)
}

fn owners(l: &crate::engine::listeners::Listener) -> Vec<ProcRef> {
    l.owners
        .iter()
        .map(|o| ProcRef {
            pid: o.pid,
            comm: o.comm.clone(),
            cmdline: Some(o.cmdline.clone()).filter(|c| !c.is_empty()),
            netns: None,
        })
        .collect()
}

/// The stack aborted connections for one of `reasons`; without kernel events, the counter.
fn aborts(
    s: &Snapshot,
    reasons_wanted: &[&str],
    counter: &'static str,
    kind: Kind,
    severity: Severity,
    causes: Vec<Cause>,
) -> Vec<Diagnosis> {
    let mut out = Vec::new();
    for (_, e, g) in s.tally.of(|c| match c {
        Class::Aborted(Some(r)) => reasons_wanted.contains(&&**r),
        _ => false,
    }) {
        let mut evidence = vec![
            events(g),
            Fact::Processes {
                role: Role::Closer,
                procs: s.here(&g.processes),
                more: g.processes_more,
            },
            peers(g),
        ];
        evidence.extend(reasons(g));
        if let Some(c) = &s.counters {
            let delta = c.delta(counter);
            if delta > 0 {
                evidence.push(Fact::Counter {
                    name: counter,
                    delta,
                    per_second: c.rate(counter),
                });
            }
        }
        let mut next = vec![in_ns(s, &format!("ss -tnp 'sport = :{}'", e.port))];
        if let Some(p) = s.here(&g.processes).first() {
            next.push(format!("ps -o pid,user,args -p {}", p.pid));
        }
        out.push(Diagnosis {
            severity,
            kind,
            subject: Subject::Endpoint(e),
            count: g.count,
            per_second: g.rate(),
            evidence,
            causes: causes.clone(),
            next,
        });
    }
    // No RST with that reason was seen (kernel events off, or the RSTs went unseen), but the
    // counter rose.
    if out.is_empty()
        && let Some(c) = &s.counters
        && c.delta(counter) > 0
    {
        let delta = c.delta(counter);
        out.push(Diagnosis {
            severity,
            kind,
            subject: Subject::Namespace,
            count: delta,
            per_second: c.rate(counter),
            evidence: vec![Fact::Counter {
                name: counter,
                delta,
                per_second: c.rate(counter),
            }],
            causes,
            next: vec![in_ns(s, "ss -tnpi state established")],
        });
    }
    out
}

/// An application closed sockets with unread data: the stack reset them (an application bug).
pub fn abort_on_close(s: &Snapshot) -> Vec<Diagnosis> {
    aborts(
        s,
        &[
            "TCP_ABORT_ON_CLOSE",
            "TCP_ABORT_ON_DATA",
            "TCP_DISCONNECT_WITH_DATA",
        ],
        "TCPAbortOnClose",
        Kind::AbortOnClose,
        Severity::Warning,
        vec![Cause::ClosesWithUnreadData],
    )
}

/// Closes with SO_LINGER {1, 0}: deliberate aborts, often a load balancer's or a pool's.
pub fn abort_on_linger(s: &Snapshot) -> Vec<Diagnosis> {
    aborts(
        s,
        &["TCP_STATE", "TCP_ABORT_ON_LINGER"],
        "TCPAbortOnLinger",
        Kind::AbortOnLinger,
        Severity::Notice,
        vec![Cause::LingerZeroAbort],
    )
}

/// The stack ran out of socket memory and aborted connections.
pub fn abort_on_memory(s: &Snapshot) -> Vec<Diagnosis> {
    let mut d = aborts(
        s,
        &["TCP_ABORT_ON_MEMORY"],
        "TCPAbortOnMemory",
        Kind::AbortOnMemory,
        Severity::Critical,
        vec![Cause::MemoryPressure],
    );
    for x in &mut d {
        x.next.push("cat /proc/net/sockstat".to_string());
        x.next.push("sysctl net.ipv4.tcp_mem".to_string());
    }
    d
}

/// RSTs that left this host without its TCP stack sending them: a firewall rule.
pub fn firewall_reject(s: &Snapshot) -> Vec<Diagnosis> {
    let scanners = scanners(s);
    let mut out = Vec::new();
    let next = |s: &Snapshot| {
        vec![
            in_ns(s, "nft list ruleset | grep -n reject"),
            in_ns(s, "iptables-save | grep -n REJECT"),
        ]
    };
    for (_, e, g) in s.tally.of(|c| *c == Class::Forged) {
        if only_scanners(&g.peers, g.peers_saturated, &scanners) {
            continue;
        }
        let mut evidence = vec![events(g), clients(s, e, g), peers(g)];
        let listening = s.listeners_for(e.ip, e.port);
        match listening.first() {
            Some(l) => evidence.push(Fact::Listening {
                key: l.key,
                owners: owners(l),
            }),
            None if s.listeners_known() => evidence.push(Fact::NothingListening { port: e.port }),
            None => {}
        }
        if let Some(Disagreement::RstsNotFromStack {
            seen,
            out_rsts,
            forged,
        }) = disagreement(s, |d| matches!(d, Disagreement::RstsNotFromStack { .. }))
        {
            evidence.push(Fact::NotFromStack {
                seen: *seen,
                out_rsts: *out_rsts,
                forged: *forged,
            });
        }
        out.push(Diagnosis {
            severity: Severity::Warning,
            kind: Kind::FirewallReject,
            subject: Subject::Endpoint(e),
            count: g.count,
            per_second: g.rate(),
            evidence,
            causes: vec![Cause::LocalFirewallRule],
            next: next(s),
        });
    }
    // Without kernel events: the counters still show RSTs the stack did not send.
    if out.is_empty()
        && let Some(Disagreement::RstsNotFromStack {
            seen,
            out_rsts,
            forged,
        }) = disagreement(s, |d| matches!(d, Disagreement::RstsNotFromStack { .. }))
    {
        out.push(Diagnosis {
            severity: Severity::Warning,
            kind: Kind::FirewallReject,
            subject: Subject::Namespace,
            count: *forged,
            per_second: Some(*forged as f64 / s.seconds.max(1e-3)),
            evidence: vec![Fact::NotFromStack {
                seen: *seen,
                out_rsts: *out_rsts,
                forged: *forged,
            }],
            causes: vec![Cause::LocalFirewallRule],
            next: next(s),
        });
    }
    out
}

fn disagreement(s: &Snapshot, f: impl Fn(&Disagreement) -> bool) -> Option<&Disagreement> {
    s.counters.as_ref()?.disagreements.iter().find(|d| f(d))
}

/// One source tried many ports.
pub fn port_scan(s: &Snapshot) -> Vec<Diagnosis> {
    let mut v: Vec<_> = s
        .tally
        .sources
        .iter()
        .filter(|(_, p)| p.ports.len() >= PORT_SCAN_PORTS)
        .collect();
    v.sort_by(|a, b| b.1.attempts.cmp(&a.1.attempts).then(a.0.cmp(b.0)));
    v.into_iter()
        .map(|(ip, p)| Diagnosis {
            severity: Severity::Warning,
            kind: Kind::PortScan,
            subject: Subject::Host(*ip),
            count: p.attempts,
            per_second: Some(p.attempts as f64 / s.seconds.max(1e-3)),
            evidence: vec![
                Fact::Ports {
                    count: p.ports.len(),
                    saturated: p.saturated,
                    sample: p.ports.iter().take(12).copied().collect(),
                },
                Fact::Events {
                    count: p.attempts,
                    per_second: None,
                },
                Fact::Peers {
                    hosts: p.hosts.iter().copied().collect(),
                    saturated: false,
                },
            ],
            causes: vec![Cause::Scan],
            next: vec![
                format!("whois {ip}"),
                in_ns(s, &format!("ss -tnp dst {ip}")),
            ],
        })
        .collect()
}

/// RSTs that look forged by a middlebox.
pub fn suspected_injection(s: &Snapshot) -> Vec<Diagnosis> {
    s.tally
        .of(|c| *c == Class::Injected)
        .into_iter()
        .map(|(_, e, g)| {
            let mut evidence = vec![events(g), peers(g)];
            evidence.extend(report_line(s, &[FindingKind::SuspectedInjection], None));
            Diagnosis {
                severity: Severity::Warning,
                kind: Kind::SuspectedInjection,
                subject: Subject::Endpoint(e),
                count: g.count,
                per_second: g.rate(),
                evidence,
                causes: vec![Cause::Middlebox],
                next: vec![format!(
                    "sudo rsthound watch --write rst-{}.pcapng (then compare TTLs in Wireshark)",
                    e.port
                )],
            }
        })
        .collect()
}

/// SYNs never answered.
pub fn unanswered(s: &Snapshot) -> Vec<Diagnosis> {
    let scanners = scanners(s);
    let mut v: Vec<_> = s.tally.silent.iter().collect();
    v.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
    let mut out = Vec::new();
    for (e, g) in v {
        let e = *e;
        if only_scanners(&g.peers, false, &scanners) || overflowing(s, e) {
            // Told by the scan, or by the listen-queue overflow that dropped the SYNs.
            continue;
        }
        let mut procs = Vec::new();
        let mut count = g.count;
        for f in s.connects_to(sock(e)) {
            count = count.max(f.count);
            for pid in f.pids.iter().take(super::tally::MAX_PROCESSES) {
                let mut p = ProcRef::of(&f.process);
                p.pid = *pid;
                procs.push(p);
            }
        }
        let rate = (g.count >= 2 && g.last_ns > g.first_ns)
            .then(|| (g.count - 1) as f64 / ((g.last_ns - g.first_ns) as f64 / 1e9));
        let mut evidence = vec![
            Fact::Events {
                count,
                per_second: rate,
            },
            Fact::Processes {
                role: Role::Clients,
                procs,
                more: 0,
            },
            Fact::Peers {
                hosts: g.peers.iter().copied().collect(),
                saturated: false,
            },
        ];
        if let Some(name) = s.service_name(e.port) {
            evidence.push(Fact::Service { port: e.port, name });
        }
        out.push(Diagnosis {
            severity: if count >= SERVICE_DOWN_REPEATS {
                Severity::Warning
            } else {
                Severity::Notice
            },
            kind: Kind::Unanswered,
            subject: Subject::Endpoint(e),
            count,
            per_second: rate,
            evidence,
            causes: vec![Cause::FilteredOrDown],
            next: vec![
                in_ns(s, &format!("ping -c 3 {}", e.ip)),
                in_ns(s, "nft list ruleset | grep -n drop"),
                in_ns(s, &format!("ip route get {}", e.ip)),
            ],
        });
    }
    out
}

/// A listener for `e` whose accept queue is full at the end: its SYNs were dropped there.
fn overflowing(s: &Snapshot, e: Endpoint) -> bool {
    s.listeners_for(e.ip, e.port)
        .iter()
        .any(|l| l.queue >= l.backlog)
}

/// Other hosts resetting this host's established connections.
pub fn peer_resets(s: &Snapshot) -> Vec<Diagnosis> {
    s.tally
        .of(|c| *c == Class::PeerReset)
        .into_iter()
        .map(|(_, e, g)| Diagnosis {
            severity: if g.count >= PEER_RESETS_WARN {
                Severity::Warning
            } else {
                Severity::Notice
            },
            kind: Kind::PeerResets,
            subject: Subject::Endpoint(e),
            count: g.count,
            per_second: g.rate(),
            evidence: vec![
                events(g),
                Fact::Processes {
                    role: Role::Receivers,
                    procs: s.here(&g.processes),
                    more: g.processes_more,
                },
                peers(g),
            ],
            causes: vec![Cause::PeerAborts, Cause::Middlebox],
            next: vec![format!("ssh {} ss -tnp 'sport = :{}'", e.ip, e.port)],
        })
        .collect()
}

/// The counters saw failed connections that the capture did not.
pub fn counters_unseen(s: &Snapshot) -> Vec<Diagnosis> {
    if s.capture.is_none() {
        return Vec::new();
    }
    let Some(Disagreement::FailuresNotCaptured {
        attempt_fails,
        captured,
        causes,
    }) = disagreement(s, |d| matches!(d, Disagreement::FailuresNotCaptured { .. }))
    else {
        return Vec::new();
    };
    let segments = s.capture.as_ref().map_or(0, |c| c.tcp_segments);
    let mut out_causes = Vec::new();
    let mut next = Vec::new();
    for c in causes {
        match c {
            MissedCause::OtherNamespace { candidates } => {
                let mut all = candidates.clone();
                for n in &s.other_netns {
                    if !all.contains(n) {
                        all.push(n.clone());
                    }
                }
                for n in all.iter().take(3) {
                    next.push(format!("sudo rsthound diagnose --netns {n}"));
                }
                out_causes.push(Cause::OtherNamespace { candidates: all });
            }
            MissedCause::NeverOnWire => out_causes.push(Cause::NeverOnWire),
            _ => {}
        }
    }
    next.push("lsns -t net".to_string());
    let per_second = s.counters.as_ref().and_then(|c| c.failed_per_s());
    let mut evidence = vec![
        Fact::Counter {
            name: crate::engine::counters::ATTEMPT_FAILS,
            delta: *attempt_fails,
            per_second,
        },
        Fact::Captured {
            failed: *captured,
            segments,
        },
    ];
    evidence.extend(novelty(s));
    vec![Diagnosis {
        severity: Severity::Warning,
        kind: Kind::CountersUnseen,
        subject: Subject::Namespace,
        count: *attempt_fails,
        per_second,
        evidence,
        causes: out_causes,
        next,
    }]
}

/// Without packets (no privilege): the counters alone say connections fail, not where.
pub fn failures_counted_only(s: &Snapshot) -> Vec<Diagnosis> {
    if s.capture.is_some() {
        return Vec::new();
    }
    let Some(c) = &s.counters else {
        return Vec::new();
    };
    let delta = c.delta(crate::engine::counters::ATTEMPT_FAILS);
    if delta == 0 {
        return Vec::new();
    }
    let per_second = c.failed_per_s();
    let mut evidence = vec![Fact::Counter {
        name: crate::engine::counters::ATTEMPT_FAILS,
        delta,
        per_second,
    }];
    for name in ["OutRsts", "EstabResets", "ListenOverflows"] {
        let d = c.delta(name);
        if d > 0 {
            evidence.push(Fact::Counter {
                name: static_name(name),
                delta: d,
                per_second: c.rate(name),
            });
        }
    }
    evidence.extend(novelty(s));
    vec![Diagnosis {
        severity: if per_second.unwrap_or(0.0) >= DEFAULT_WARN {
            Severity::Warning
        } else {
            Severity::Notice
        },
        kind: Kind::CountersUnseen,
        subject: Subject::Namespace,
        count: delta,
        per_second,
        evidence,
        causes: vec![Cause::ServiceNotRunning, Cause::WrongPortOrHost],
        next: vec![
            "sudo rsthound diagnose".to_string(),
            in_ns(s, "ss -tan state syn-sent"),
        ],
    }]
}

/// Linux errno numbers of the connect() failures that never reach the wire.
const EPERM: i32 = 1;
const EACCES: i32 = 13;
const EADDRNOTAVAIL: i32 = 99;
const ENETUNREACH: i32 = 101;

/// connect() calls that failed before TCP sent anything: no SYN on the wire, no RST, not in
/// AttemptFails, so no other rule sees them. Ephemeral ports exhausted (EADDRNOTAVAIL) is the
/// classic; no route and a local denial are the others. Refused and timed-out connects are
/// left to the packet rules, which see them on the wire. One diagnosis per errno, with the
/// processes of this namespace that got it.
pub fn connect_errors(s: &Snapshot) -> Vec<Diagnosis> {
    let Some(k) = &s.kernel else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (errno, cause) in [
        (EADDRNOTAVAIL, Cause::PortsExhausted),
        (ENETUNREACH, Cause::NoRoute),
        (EACCES, Cause::ConnectDenied),
        (EPERM, Cause::ConnectDenied),
    ] {
        let mut count = 0u64;
        let mut procs: Vec<ProcRef> = Vec::new();
        let mut more = 0u64;
        for e in k
            .connect_errors
            .iter()
            .filter(|e| e.errno == errno && s.is_here(e.process.netns))
        {
            count += e.count;
            for &pid in &e.pids {
                if procs.len() < super::tally::MAX_PROCESSES {
                    let mut p = ProcRef::of(&e.process);
                    p.pid = pid;
                    procs.push(p);
                } else {
                    more += 1;
                }
            }
            more += e.processes.saturating_sub(e.pids.len() as u64);
        }
        if count == 0 {
            continue;
        }
        let next = match cause {
            Cause::PortsExhausted => vec![
                in_ns(s, "sysctl net.ipv4.ip_local_port_range"),
                in_ns(s, "ss -tan state time-wait | wc -l"),
                in_ns(
                    s,
                    "ss -tan | awk 'NR>1 {print $5}' | sort | uniq -c | sort -rn | head",
                ),
            ],
            Cause::NoRoute => vec![in_ns(s, "ip route"), in_ns(s, "ip -6 route")],
            _ => vec![
                in_ns(s, "nft list ruleset"),
                "bpftool cgroup tree".to_string(),
            ],
        };
        out.push(Diagnosis {
            severity: Severity::Warning,
            kind: Kind::ConnectErrors,
            subject: Subject::Namespace,
            count,
            per_second: (s.seconds > 0.0).then(|| count as f64 / s.seconds),
            evidence: vec![
                Fact::ConnectErrors { errno, count },
                Fact::Processes {
                    role: Role::Clients,
                    procs,
                    more,
                },
            ],
            causes: vec![cause],
            next,
        });
    }
    out
}

/// What was checked and found fine, given the diagnoses made.
pub fn healthy(s: &Snapshot, d: &[Diagnosis]) -> Vec<Healthy> {
    let mut out = Vec::new();
    let bad = |k: &[Kind]| {
        d.iter()
            .any(|x| k.contains(&x.kind) && x.severity != Severity::Notice)
    };
    if let Some(c) = &s.counters
        && let Some(r) = c.failed_per_s()
        && r < DEFAULT_WARN
    {
        out.push(Healthy::FailedConnections { per_second: r });
    }
    if s.capture.is_some() && !d.iter().any(|x| x.severity != Severity::Notice) {
        out.push(Healthy::Connections {
            closed_ok: s.tally.closed_ok,
            rsts: s.tally.rsts,
        });
    }
    if let Some(l) = &s.listeners_end
        && !bad(&[Kind::ListenOverflow])
    {
        let before = s.listeners_start.as_deref().unwrap_or(&[]);
        let fine = l.iter().all(|x| {
            let b = before.iter().find(|b| b.inode == x.inode);
            matches!(
                verdict(x, b, &s.sysctls).state,
                QueueState::Ok | QueueState::DroppedBefore
            )
        });
        if fine {
            out.push(Healthy::Listeners { count: l.len() });
        }
    }
    if let Some(c) = &s.capture
        && c.kernel_drops == 0
        && !s.unavailable.iter().any(|u| u.part == Part::Packets)
    {
        out.push(Healthy::Capture {
            segments: c.tcp_segments,
        });
    }
    if let Some(k) = &s.kernel
        && k.lost_records == 0
        && k.stopped.is_none()
    {
        out.push(Healthy::KernelEvents { events: k.events });
    }
    out
}

#[cfg(test)]
mod tests;
