//! Each rule from a hand-built snapshot: no root, no kernel.

use super::super::tally::{Class, Group, ProcRef, SourcePorts};
use super::super::*;
use super::{firewall_reject, refused_local};
use crate::engine::counters::{CounterSample, CountersStart, Disagreement, MissedCause, rates};
use crate::engine::fusion::{ConnectErrors, FailedConnects};
use crate::engine::kevent::Process;
use crate::engine::listeners::{ListenSysctls, Listener, ListenerKey, Owner};
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;

const T0: i64 = 1_763_730_942_000_000_000;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn ep(s: &str, port: u16) -> Endpoint {
    Endpoint { ip: ip(s), port }
}

fn proc_ref(pid: u32, comm: &str) -> ProcRef {
    ProcRef {
        pid,
        comm: comm.into(),
        cmdline: Some(format!("/usr/bin/{comm} --config /etc/{comm}.conf")),
        netns: Some(4_026_531_840),
    }
}

/// `count` events, `per_s` apart, from `peers`.
fn group(count: u64, per_s: f64, local: bool, peers: &[&str], procs: Vec<ProcRef>) -> Group {
    Group {
        count,
        first_ns: T0,
        last_ns: T0 + ((count.saturating_sub(1)) as f64 / per_s * 1e9) as i64,
        local,
        reasons: Vec::new(),
        processes: procs,
        processes_more: 0,
        peers: peers.iter().map(|p| ip(p)).collect(),
        peers_saturated: false,
    }
}

fn counters(before: &[(&str, u64)], after: &[(&str, u64)], seconds: f64) -> CountersView {
    let sample = |v: &[(&str, u64)]| {
        let mut s = CounterSample::default();
        for (k, n) in v {
            if ["AttemptFails", "OutRsts", "EstabResets"].contains(k) {
                s.tcp.insert(k.to_string(), *n);
            } else {
                s.tcp_ext.insert(k.to_string(), *n);
            }
        }
        s
    };
    let run = rates(&sample(before), &sample(after), seconds).unwrap();
    let now = run.failed_connections().rate().unwrap_or(0.0);
    let total = before
        .iter()
        .find(|(k, _)| *k == "AttemptFails")
        .map_or(0, |x| x.1);
    CountersView {
        novelty: Some(crate::engine::counters::novelty(
            now,
            total,
            CountersStart::Known { seconds: 86_400.0 },
        )),
        rates: run,
        disagreements: Vec::new(),
    }
}

fn listener(addr: &str, port: u16, queue: u32, backlog: u32, drops: u64, inode: u32) -> Listener {
    Listener {
        key: ListenerKey {
            addr: ip(addr),
            port,
        },
        inode,
        uid: 0,
        ifindex: 0,
        queue,
        backlog,
        drops: Some(drops),
        owners: vec![Owner {
            pid: 300,
            comm: "slowd".into(),
            cmdline: "/usr/bin/slowd".into(),
            uid: Some(0),
            cgroup: None,
        }],
    }
}

fn base() -> Snapshot {
    Snapshot {
        seconds: 5.0,
        capture: Some(CaptureView {
            tcp_segments: 100,
            rsts: 10,
            kernel_drops: 0,
            interfaces: vec!["lo".into()],
        }),
        listeners_start: Some(vec![]),
        listeners_end: Some(vec![]),
        sysctls: ListenSysctls {
            somaxconn: Some(4096),
            ..Default::default()
        },
        services: Services::default(),
        ..Default::default()
    }
}

fn kinds(o: &Outcome) -> Vec<Kind> {
    o.diagnoses.iter().map(|d| d.kind).collect()
}

/// The founding story: a local client refused twice a second on 7211, nothing listening.
#[test]
fn refused_local_names_port_rate_client_and_no_listener() {
    let mut s = base();
    let mut g = group(
        10,
        2.0,
        true,
        &["127.0.0.1"],
        vec![proc_ref(4242, "collectord")],
    );
    g.reasons.push((Arc::from("NO_SOCKET"), 10));
    s.tally
        .groups
        .insert((Class::Refused, ep("127.0.0.1", 7211)), g);
    s.counters = Some(counters(
        &[("AttemptFails", 0)],
        &[("AttemptFails", 10)],
        5.0,
    ));
    let o = diagnose(&s);
    let top = &o.diagnoses[0];
    assert_eq!(top.kind, Kind::RefusedLocal);
    assert_eq!(top.severity, Severity::Warning);
    assert_eq!(top.subject, Subject::Endpoint(ep("127.0.0.1", 7211)));
    assert!((top.per_second.unwrap() - 2.0).abs() < 0.01);
    assert!(
        top.evidence
            .contains(&Fact::NothingListening { port: 7211 })
    );
    assert!(top.evidence.iter().any(|f| matches!(f,
        Fact::Processes { role: Role::Clients, procs, .. } if procs[0].pid == 4242 && procs[0].comm == "collectord")));
    assert!(
        top.evidence
            .iter()
            .any(|f| matches!(f, Fact::KernelReason { reason, .. } if &**reason == "NO_SOCKET"))
    );
    assert!(top.evidence.iter().any(
        |f| matches!(f, Fact::Novelty(n) if n.verdict == crate::engine::counters::Verdict::New)
    ));
    assert!(
        top.next.iter().any(|n| n == "ss -ltnp 'sport = :7211'"),
        "{:?}",
        top.next
    );
}

/// The kernel's failed connects add the clients the RSTs could not name; the namespace name
/// prefixes the commands.
#[test]
fn refused_local_takes_clients_from_failed_connects_and_commands_enter_the_namespace() {
    let mut s = base();
    s.netns = Some("web".into());
    s.tally.groups.insert(
        (Class::Refused, ep("127.0.0.1", 5432)),
        group(4, 1.0, true, &["127.0.0.1"], vec![]),
    );
    s.kernel = Some(KernelView {
        failed_connects: vec![FailedConnects {
            process: Arc::new(Process {
                pid: 77,
                comm: "app".into(),
                cmdline: None,
                uid: None,
                cgroup: None,
                start_time: None,
                netns: None,
            }),
            processes: 2,
            pids: vec![77, 78],
            remote: "127.0.0.1:5432".parse().unwrap(),
            count: 4,
            first_ns: 0,
            last_ns: 0,
        }],
        ..Default::default()
    });
    let d = &refused_local(&s)[0];
    assert!(d.evidence.iter().any(|f| matches!(f,
        Fact::Processes { procs, .. } if procs.iter().map(|p| p.pid).collect::<Vec<_>>() == vec![77, 78])));
    assert_eq!(d.next[0], "ip netns exec web ss -ltnp 'sport = :5432'");
}

#[test]
fn a_single_refusal_is_a_notice_and_a_listener_there_suggests_a_firewall() {
    let mut s = base();
    s.listeners_end = Some(vec![listener("0.0.0.0", 80, 0, 128, 0, 1)]);
    s.tally.groups.insert(
        (Class::Refused, ep("10.0.0.1", 80)),
        group(1, 1.0, true, &["10.0.0.9"], vec![]),
    );
    let d = &refused_local(&s)[0];
    assert_eq!(d.severity, Severity::Notice);
    assert_eq!(d.causes[0], Cause::LocalFirewallRule);
    assert!(
        !d.evidence
            .iter()
            .any(|f| matches!(f, Fact::NothingListening { .. }))
    );
}

#[test]
fn refused_remote_is_about_the_other_host() {
    let mut s = base();
    s.tally.groups.insert(
        (Class::Refused, ep("10.9.0.2", 8080)),
        group(6, 2.0, false, &["10.9.0.1"], vec![proc_ref(9, "fetcher")]),
    );
    let o = diagnose(&s);
    assert_eq!(kinds(&o), vec![Kind::RefusedRemote]);
    assert!(refused_local(&s).is_empty());
    assert!(o.diagnoses[0].next[0].starts_with("ssh 10.9.0.2"));
}

#[test]
fn listen_overflow_names_the_listener_queue_backlog_and_what_to_raise() {
    let mut s = base();
    s.listeners_start = Some(vec![listener("127.0.0.1", 7300, 2, 1, 0, 9)]);
    s.listeners_end = Some(vec![listener("127.0.0.1", 7300, 2, 1, 40, 9)]);
    s.counters = Some(counters(
        &[
            ("ListenOverflows", 0),
            ("ListenDrops", 0),
            ("AttemptFails", 0),
        ],
        &[
            ("ListenOverflows", 40),
            ("ListenDrops", 40),
            ("AttemptFails", 0),
        ],
        5.0,
    ));
    let o = diagnose(&s);
    let d = &o.diagnoses[0];
    assert_eq!(d.kind, Kind::ListenOverflow);
    assert_eq!(
        d.subject,
        Subject::Listener(ListenerKey {
            addr: ip("127.0.0.1"),
            port: 7300
        })
    );
    assert_eq!(d.count, 40);
    assert!(d.evidence.iter().any(|f| matches!(
        f,
        Fact::Queue {
            queue: 2,
            backlog: 1,
            somaxconn: Some(4096),
            drops: Some(40),
            ..
        }
    )));
    assert!(d.causes.contains(&Cause::QueueAdvice(
        crate::engine::listeners::Advice::AcceptFaster
    )));
    assert!(d.causes.contains(&Cause::QueueAdvice(
        crate::engine::listeners::Advice::RaiseListenBacklog { now: 1 }
    )));
    assert!(
        !o.healthy
            .iter()
            .any(|h| matches!(h, Healthy::Listeners { .. }))
    );
}

#[test]
fn close_with_unread_data_names_the_closing_process() {
    let mut s = base();
    let mut g = group(3, 1.0, true, &["127.0.0.1"], vec![proc_ref(55, "abortd")]);
    g.reasons.push((Arc::from("TCP_ABORT_ON_CLOSE"), 3));
    s.tally.groups.insert(
        (
            Class::Aborted(Some(Arc::from("TCP_ABORT_ON_CLOSE"))),
            ep("127.0.0.1", 7400),
        ),
        g,
    );
    let o = diagnose(&s);
    let d = &o.diagnoses[0];
    assert_eq!(d.kind, Kind::AbortOnClose);
    assert_eq!(d.causes, vec![Cause::ClosesWithUnreadData]);
    assert!(d.evidence.iter().any(|f| matches!(f,
        Fact::Processes { role: Role::Closer, procs, .. } if procs[0].comm == "abortd")));
}

#[test]
fn linger_zero_is_a_notice() {
    let mut s = base();
    s.tally.groups.insert(
        (
            Class::Aborted(Some(Arc::from("TCP_STATE"))),
            ep("127.0.0.1", 40000),
        ),
        group(5, 1.0, true, &["127.0.0.1"], vec![proc_ref(56, "lingerer")]),
    );
    let d = &diagnose(&s).diagnoses[0];
    assert_eq!(
        (d.kind, d.severity),
        (Kind::AbortOnLinger, Severity::Notice)
    );
}

/// Without kernel events, the counter alone still tells of memory pressure.
#[test]
fn memory_pressure_from_the_counter_is_critical() {
    let mut s = base();
    s.counters = Some(counters(
        &[("TCPAbortOnMemory", 5)],
        &[("TCPAbortOnMemory", 25)],
        5.0,
    ));
    let o = diagnose(&s);
    assert_eq!(kinds(&o), vec![Kind::AbortOnMemory]);
    assert_eq!(o.diagnoses[0].severity, Severity::Critical);
    assert_eq!(o.diagnoses[0].count, 20);
}

#[test]
fn firewall_reject_names_the_listener_behind_the_rule() {
    let mut s = base();
    s.listeners_end = Some(vec![listener("0.0.0.0", 7500, 0, 128, 0, 3)]);
    s.tally.groups.insert(
        (Class::Forged, ep("127.0.0.1", 7500)),
        group(8, 2.0, true, &["127.0.0.1"], vec![proc_ref(60, "poller")]),
    );
    let d = &diagnose(&s).diagnoses[0];
    assert_eq!(d.kind, Kind::FirewallReject);
    assert!(d.evidence.iter().any(|f| matches!(f,
        Fact::Listening { key, owners } if key.port == 7500 && owners[0].comm == "slowd")));
    assert!(d.next.iter().any(|n| n.contains("nft list ruleset")));
}

/// Without kernel events the counters' disagreement alone says a rule forged RSTs.
#[test]
fn firewall_reject_from_the_counters_alone() {
    let mut s = base();
    let mut c = counters(&[("OutRsts", 0)], &[("OutRsts", 0)], 5.0);
    c.disagreements.push(Disagreement::RstsNotFromStack {
        seen: 9,
        out_rsts: 0,
        forged: 9,
    });
    s.counters = Some(c);
    let d = &firewall_reject(&s)[0];
    assert_eq!((d.subject.clone(), d.count), (Subject::Namespace, 9));
}

/// 200 closed ports from one source: one scan, not 200 refusals.
#[test]
fn a_port_scan_is_one_diagnosis() {
    let mut s = base();
    let mut ports = SourcePorts::default();
    for p in 0..200u16 {
        let e = ep("127.0.0.1", 20000 + p);
        s.tally.groups.insert(
            (Class::Refused, e),
            group(1, 1.0, true, &["127.0.0.2"], vec![]),
        );
        ports.ports.insert(20000 + p);
    }
    ports.attempts = 200;
    ports.hosts = BTreeSet::from([ip("127.0.0.1")]);
    s.tally.sources.insert(ip("127.0.0.2"), ports);
    let o = diagnose(&s);
    assert_eq!(kinds(&o), vec![Kind::PortScan]);
    assert_eq!(o.diagnoses[0].subject, Subject::Host(ip("127.0.0.2")));
}

#[test]
fn injected_resets_and_peer_resets() {
    let mut s = base();
    s.tally.groups.insert(
        (Class::Injected, ep("93.184.216.34", 443)),
        group(3, 1.0, false, &["10.0.0.5"], vec![]),
    );
    s.tally.groups.insert(
        (Class::PeerReset, ep("10.0.0.7", 6379)),
        group(12, 3.0, false, &["10.0.0.5"], vec![proc_ref(8, "worker")]),
    );
    let o = diagnose(&s);
    let mut k = kinds(&o);
    k.sort();
    assert_eq!(k, vec![Kind::SuspectedInjection, Kind::PeerResets]);
    assert!(o.diagnoses.iter().all(|d| d.severity == Severity::Warning));
}

#[test]
fn unanswered_syns_by_destination_and_process() {
    let mut s = base();
    s.tally.silent.insert(
        ep("10.8.0.2", 9000),
        super::super::tally::Silent {
            count: 4,
            first_ns: T0,
            last_ns: T0 + 3_000_000_000,
            peers: BTreeSet::from([ip("10.8.0.1")]),
        },
    );
    let d = &diagnose(&s).diagnoses[0];
    assert_eq!(d.kind, Kind::Unanswered);
    assert_eq!(d.causes, vec![Cause::FilteredOrDown]);
    assert!((d.per_second.unwrap() - 1.0).abs() < 0.01);
}

/// The counters rose, the capture saw nothing: say which namespaces to try.
#[test]
fn counters_rising_with_nothing_seen_suggest_other_namespaces() {
    let mut s = base();
    let mut c = counters(&[("AttemptFails", 100)], &[("AttemptFails", 110)], 5.0);
    c.disagreements.push(Disagreement::FailuresNotCaptured {
        attempt_fails: 10,
        captured: 0,
        causes: vec![
            MissedCause::OtherNamespace {
                candidates: vec!["web".into()],
            },
            MissedCause::NeverOnWire,
        ],
    });
    s.counters = Some(c);
    s.other_netns = vec!["db".into()];
    let d = &diagnose(&s).diagnoses[0];
    assert_eq!(d.kind, Kind::CountersUnseen);
    assert_eq!(
        d.causes[0],
        Cause::OtherNamespace {
            candidates: vec!["web".into(), "db".into()]
        }
    );
    assert_eq!(d.next[0], "sudo rsthound diagnose --netns web");
}

/// Without packets the counters still say that connections fail.
#[test]
fn without_packets_the_counters_alone() {
    let mut s = base();
    s.capture = None;
    s.counters = Some(counters(
        &[("AttemptFails", 0)],
        &[("AttemptFails", 10)],
        5.0,
    ));
    s.unavailable.push(Unavailable {
        part: Part::Packets,
        why: "no CAP_NET_RAW".into(),
        fix: Some("sudo setcap cap_net_raw+ep x".into()),
    });
    let o = diagnose(&s);
    assert_eq!(kinds(&o), vec![Kind::CountersUnseen]);
    assert_eq!(o.diagnoses[0].severity, Severity::Warning);
    assert_eq!(o.unavailable.len(), 1);
}

/// A healthy namespace: nothing to say but what was checked.
#[test]
fn healthy_namespace() {
    let mut s = base();
    s.tally.closed_ok = 3000;
    s.listeners_end = Some(vec![listener("0.0.0.0", 80, 0, 4096, 0, 1)]);
    s.listeners_start = s.listeners_end.clone();
    s.kernel = Some(KernelView {
        events: 12000,
        ..Default::default()
    });
    s.counters = Some(counters(
        &[("AttemptFails", 3)],
        &[("AttemptFails", 3)],
        5.0,
    ));
    let o = diagnose(&s);
    assert!(o.diagnoses.is_empty(), "{:?}", o.diagnoses);
    assert_eq!(
        o.healthy,
        vec![
            Healthy::FailedConnections { per_second: 0.0 },
            Healthy::Connections {
                closed_ok: 3000,
                rsts: 0
            },
            Healthy::Listeners { count: 1 },
            Healthy::Capture { segments: 100 },
            Healthy::KernelEvents { events: 12000 },
        ]
    );
}

/// Ranking: critical first, then by events.
#[test]
fn ranking() {
    let mut s = base();
    s.tally.groups.insert(
        (Class::Refused, ep("127.0.0.1", 1)),
        group(50, 5.0, true, &["127.0.0.1"], vec![]),
    );
    s.tally.groups.insert(
        (Class::Refused, ep("127.0.0.1", 2)),
        group(500, 50.0, true, &["127.0.0.1"], vec![]),
    );
    s.counters = Some(counters(
        &[("TCPAbortOnMemory", 0)],
        &[("TCPAbortOnMemory", 1)],
        5.0,
    ));
    let o = diagnose(&s);
    assert_eq!(
        kinds(&o),
        vec![Kind::AbortOnMemory, Kind::RefusedLocal, Kind::RefusedLocal]
    );
    assert_eq!(o.diagnoses[1].count, 500);
}

/// Tracepoints are global: a client of another namespace connecting to its own 127.0.0.1:7211
/// is not one of this namespace's clients.
#[test]
fn processes_of_other_namespaces_are_left_out() {
    let mut s = base();
    s.netns_inode = Some(4_026_531_840);
    let mut stranger = proc_ref(999, "elsewhere");
    stranger.netns = Some(4_026_532_999);
    s.tally.groups.insert(
        (Class::Refused, ep("127.0.0.1", 7211)),
        group(
            5,
            2.0,
            true,
            &["127.0.0.1"],
            vec![proc_ref(4242, "collectord"), stranger],
        ),
    );
    let d = &refused_local(&s)[0];
    assert!(d.evidence.iter().any(|f| matches!(f,
        Fact::Processes { procs, .. } if procs.len() == 1 && procs[0].pid == 4242)));
}

fn connect_error(pid: u32, comm: &str, netns: u64, errno: i32, count: u64) -> ConnectErrors {
    ConnectErrors {
        process: Arc::new(Process {
            pid,
            comm: comm.into(),
            cmdline: None,
            uid: Some(0),
            cgroup: None,
            start_time: None,
            netns: Some(netns),
        }),
        named: true,
        errno,
        count,
        processes: 1,
        pids: vec![pid],
        first_ns: 0,
        last_ns: 0,
    }
}

#[test]
fn ports_exhausted_is_diagnosed_with_its_processes_and_nothing_else_from_connect_errors() {
    let mut s = base();
    s.netns_inode = Some(4_026_531_840);
    s.kernel = Some(KernelView {
        connect_errors: vec![
            connect_error(4711, "poller", 4_026_531_840, 99, 120),
            // Another namespace's process, and errors the packet rules see on the wire.
            connect_error(999, "elsewhere", 4_026_532_999, 99, 50),
            connect_error(4712, "poller", 4_026_531_840, 111, 7),
            connect_error(4713, "poller", 4_026_531_840, 110, 3),
        ],
        ..Default::default()
    });
    let d = super::connect_errors(&s);
    assert_eq!(d.len(), 1, "{d:?}");
    let d = &d[0];
    assert_eq!(d.kind, Kind::ConnectErrors);
    assert_eq!(d.severity, Severity::Warning);
    assert_eq!(d.count, 120);
    assert_eq!(d.per_second, Some(24.0));
    assert_eq!(d.causes, vec![Cause::PortsExhausted]);
    assert!(d.evidence.contains(&Fact::ConnectErrors {
        errno: 99,
        count: 120
    }));
    assert!(d.evidence.iter().any(|f| matches!(f,
        Fact::Processes { procs, .. } if procs.len() == 1 && procs[0].pid == 4711)));
    assert!(d.next.iter().any(|n| n.contains("ip_local_port_range")));
}
