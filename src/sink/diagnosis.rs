//! The words of a diagnosis: the text `diagnose` prints (severity, one-sentence headline,
//! evidence, causes, `next:` commands; then what could not be checked and what was healthy),
//! the JSON records (types in [`super::schema`]), and `check`'s plugin lines.

use super::schema::{DiagnosisRecord, DiagnosisSummaryRecord, FactRecord, UnavailableRecord};
use crate::engine::counters::Verdict as NoveltyVerdict;
use crate::engine::diagnosis::range::{Range, Status, format_number};
use crate::engine::diagnosis::tally::ProcRef;
use crate::engine::diagnosis::{
    Cause, Diagnosis, Fact, Healthy, Kind, Outcome, Role, Subject, Unavailable,
};
use crate::engine::listeners::{Advice, BacklogLimit};
use crate::sink::connect_errors::errno_words;
use std::fmt::Write as _;

fn rate(r: Option<f64>) -> String {
    match r {
        Some(r) if r >= 10.0 => format!("{r:.0}/s"),
        Some(r) => format!("{r:.1}/s"),
        None => "once".to_string(),
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

pub fn proc_text(p: &ProcRef) -> String {
    match &p.cmdline {
        Some(c) if !c.is_empty() && c != &p.comm => format!("{}[{}] ({c})", p.comm, p.pid),
        _ => format!("{}[{}]", p.comm, p.pid),
    }
}

fn procs_text(procs: &[ProcRef], more: u64) -> String {
    let mut t: Vec<String> = procs.iter().map(proc_text).collect();
    if more > 0 {
        t.push(format!("{more} more"));
    }
    t.join(", ")
}

fn subject_text(s: &Subject) -> String {
    match s {
        Subject::Endpoint(e) => e.to_string(),
        Subject::Listener(k) => crate::engine::track::Endpoint {
            ip: k.addr,
            port: k.port,
        }
        .to_string(),
        Subject::Host(ip) => ip.to_string(),
        Subject::Namespace => "this network namespace".to_string(),
    }
}

fn find<'a, T>(d: &'a Diagnosis, f: impl Fn(&'a Fact) -> Option<T>) -> Option<T> {
    d.evidence.iter().find_map(f)
}

fn who(d: &Diagnosis) -> String {
    find(d, |f| match f {
        Fact::Processes { procs, more, .. } if !procs.is_empty() => {
            let first: Vec<String> = procs
                .iter()
                .take(2)
                .map(|p| format!("{}[{}]", p.comm, p.pid))
                .collect();
            let rest = procs.len().saturating_sub(2) as u64 + more;
            Some(if rest > 0 {
                format!("{} and {rest} more", first.join(", "))
            } else {
                first.join(", ")
            })
        }
        _ => None,
    })
    .or_else(|| {
        find(d, |f| match f {
            Fact::Peers { hosts, saturated } if !hosts.is_empty() => Some(if hosts.len() == 1 {
                hosts[0].to_string()
            } else {
                format!(
                    "{}{} hosts",
                    if *saturated { "over " } else { "" },
                    hosts.len()
                )
            }),
            _ => None,
        })
    })
    .unwrap_or_else(|| "unknown clients".to_string())
}

fn service(d: &Diagnosis, port: u16) -> String {
    find(d, |f| match f {
        Fact::Service { name, .. } => Some(format!("tcp/{port} ({name})")),
        _ => None,
    })
    .unwrap_or_else(|| format!("tcp/{port}"))
}

fn port_of(s: &Subject) -> u16 {
    match s {
        Subject::Endpoint(e) => e.port,
        Subject::Listener(k) => k.port,
        _ => 0,
    }
}

/// One sentence saying what is wrong.
pub fn headline(d: &Diagnosis) -> String {
    let subj = subject_text(&d.subject);
    let n = d.count;
    let r = rate(d.per_second);
    let port = port_of(&d.subject);
    match d.kind {
        Kind::RefusedLocal => {
            let nothing = find(d, |f| {
                matches!(f, Fact::NothingListening { .. }).then_some(())
            });
            format!(
                "{subj} refused {} from {} ({r}): {}",
                plural(n, "connection attempt", "connection attempts"),
                who(d),
                if nothing.is_some() {
                    format!("nothing listens on {}", service(d, port))
                } else {
                    format!("nothing accepted connections on {}", service(d, port))
                }
            )
        }
        Kind::RefusedRemote => format!(
            "remote host {subj} refused {} from {} ({r}): its {} is down or a firewall there rejects it",
            plural(n, "connection attempt", "connection attempts"),
            who(d),
            service(d, port)
        ),
        Kind::ListenOverflow => {
            let q = find(d, |f| match f {
                Fact::Queue { queue, backlog, .. } => Some((*queue, *backlog)),
                _ => None,
            });
            let (queue, backlog) = q.unwrap_or((0, 0));
            let owner = find(d, |f| match f {
                Fact::Processes { procs, .. } => {
                    procs.first().map(|p| format!(" of {}[{}]", p.comm, p.pid))
                }
                _ => None,
            })
            .unwrap_or_default();
            format!(
                "the accept queue of listener {subj}{owner} overflows ({queue} waiting, backlog {backlog}): the kernel drops new connections"
            )
        }
        Kind::AbortOnClose => format!(
            "{} closed {} on {subj} with unread data ({r}): the kernel reset them (TCP_ABORT_ON_CLOSE), an application bug",
            who(d),
            plural(n, "connection", "connections")
        ),
        Kind::AbortOnLinger => format!(
            "{} aborted {} on {subj} with SO_LINGER 0 ({r}): deliberate resets instead of a normal close",
            who(d),
            plural(n, "connection", "connections")
        ),
        Kind::AbortOnMemory => format!(
            "the kernel aborted {} for lack of socket memory ({r}): TCP memory pressure",
            plural(n, "connection", "connections")
        ),
        Kind::FirewallReject => match d.subject {
            Subject::Namespace => format!(
                "a local firewall rule forged at least {} (they left this host but its TCP stack did not send them)",
                plural(n, "RST", "RSTs")
            ),
            _ => {
                let listener = find(d, |f| match f {
                    Fact::Listening { owners, .. } => Some(match owners.first() {
                        Some(p) => format!(" although {}[{}] listens there", p.comm, p.pid),
                        None => " although a listener is there".to_string(),
                    }),
                    _ => None,
                })
                .unwrap_or_default();
                format!(
                    "a local firewall rule rejected {} to {subj} from {} ({r}) with forged RSTs{listener}",
                    plural(n, "connection", "connections"),
                    who(d)
                )
            }
        },
        Kind::PortScan => {
            let ports = find(d, |f| match f {
                Fact::Ports {
                    count, saturated, ..
                } => Some(format!(
                    "{}{count}",
                    if *saturated { "at least " } else { "" }
                )),
                _ => None,
            })
            .unwrap_or_default();
            format!(
                "{subj} tried {ports} ports ({} attempts, refused or unanswered): a port scan",
                n
            )
        }
        Kind::SuspectedInjection => format!(
            "{} from {subj} look injected by a middlebox ({r})",
            plural(n, "RST", "RSTs")
        ),
        Kind::Unanswered => format!(
            "{subj} never answered {} from {} ({r}): SYNs filtered or dropped, or the host is down",
            plural(n, "connection attempt", "connection attempts"),
            who(d)
        ),
        Kind::PeerResets => format!(
            "{subj} reset {} of this host ({r})",
            plural(n, "established connection", "established connections")
        ),
        Kind::ConnectErrors => {
            let (name, meaning) = find(d, |f| match f {
                Fact::ConnectErrors { errno, .. } => Some(errno_words(*errno)),
                _ => None,
            })
            .unwrap_or(("", "another error"));
            format!(
                "{} could not connect: {} failed with {} ({r}) before TCP sent anything: {meaning}",
                who(d),
                plural(n, "connect() call", "connect() calls"),
                if name.is_empty() { "an error" } else { name }
            )
        }
        Kind::CountersUnseen => {
            let unseen = find(d, |f| matches!(f, Fact::Captured { .. }).then_some(()));
            if unseen.is_some() {
                format!(
                    "the kernel counted {} (AttemptFails, {r}) that no packet here showed: they happen in another network namespace, or never reached the wire",
                    plural(n, "failed connection", "failed connections")
                )
            } else {
                format!(
                    "the kernel counted {} ({r}; AttemptFails) in this namespace; without packets and kernel events, not where",
                    plural(n, "failed connection", "failed connections")
                )
            }
        }
    }
}

/// One evidence line.
pub fn fact_text(f: &Fact) -> Option<String> {
    Some(match f {
        Fact::Events { count, per_second } => match per_second {
            Some(r) => format!(
                "{} over the run, {}",
                plural(*count, "event", "events"),
                rate(Some(*r))
            ),
            None => plural(*count, "event", "events"),
        },
        Fact::Processes { role, procs, more } => {
            if procs.is_empty() {
                return None;
            }
            let what = match role {
                Role::Clients => "client processes",
                Role::Closer => "closing process",
                Role::Receivers => "local processes",
                Role::ListenerOwners => "listener held by",
            };
            format!("{what}: {}", procs_text(procs, *more))
        }
        Fact::Peers { hosts, saturated } => {
            if hosts.is_empty() {
                return None;
            }
            let list: Vec<String> = hosts.iter().take(5).map(|h| h.to_string()).collect();
            format!(
                "peers: {}{}",
                list.join(", "),
                if hosts.len() > 5 || *saturated {
                    ", …"
                } else {
                    ""
                }
            )
        }
        Fact::NothingListening { port } => {
            format!("no socket listened on tcp/{port} at the start or the end of the run")
        }
        Fact::Listening { key, owners } => format!(
            "a listener is there: {} {}",
            crate::engine::track::Endpoint {
                ip: key.addr,
                port: key.port
            },
            if owners.is_empty() {
                "(process not found)".to_string()
            } else {
                format!("held by {}", procs_text(owners, 0))
            }
        ),
        Fact::KernelReason { reason, count } => {
            format!(
                "kernel reason: {reason} ({})",
                plural(*count, "RST", "RSTs")
            )
        }
        Fact::Service { port, name } => format!("tcp/{port} is {name} in /etc/services"),
        Fact::Queue {
            queue,
            backlog,
            somaxconn,
            limit,
            drops,
        } => {
            let lim = match limit {
                BacklogLimit::Application => "the application's listen() backlog",
                BacklogLimit::Somaxconn => "net.core.somaxconn",
                BacklogLimit::SomaxconnLoweredSince => "a somaxconn since lowered",
                BacklogLimit::Unknown => "unknown",
            };
            format!(
                "accept queue {queue} / backlog {backlog} (limited by {lim}; somaxconn {}){}",
                somaxconn.map_or("unknown".to_string(), |s| s.to_string()),
                drops.map_or(String::new(), |d| format!(
                    "; {} dropped on it during the run",
                    plural(d, "packet", "packets")
                ))
            )
        }
        Fact::Counter {
            name,
            delta,
            per_second,
        } => format!("counter {name} +{delta} ({})", rate(*per_second)),
        Fact::NotFromStack {
            seen,
            out_rsts,
            forged,
        } => format!(
            "{seen} RSTs left this host, its TCP stack sent {out_rsts} (OutRsts): at least {forged} forged"
        ),
        Fact::Ports {
            count,
            saturated,
            sample,
        } => {
            let list: Vec<String> = sample.iter().map(|p| p.to_string()).collect();
            format!(
                "{}{count} distinct ports, e.g. {}",
                if *saturated { "at least " } else { "" },
                list.join(", ")
            )
        }
        Fact::ConnectErrors { errno, count } => {
            let (name, meaning) = errno_words(*errno);
            format!(
                "kernel: {count} connect() calls returned {} (errno {errno}: {meaning}); no packet left this host for them",
                if name.is_empty() { "an error" } else { name }
            )
        }
        Fact::Captured { failed, segments } => {
            format!("captured here: {failed} failed attempts among {segments} TCP segments")
        }
        Fact::FailedConnects {
            remote,
            procs,
            count,
        } => format!(
            "{count} failed connects to {remote} by {}",
            procs_text(procs, 0)
        ),
        Fact::Novelty(n) => match n.verdict {
            NoveltyVerdict::New => format!(
                "new: {} failed connections/s now, {} before",
                rate(Some(n.now)),
                n.average.map_or("none".to_string(), |a| format!(
                    "{a:.3}/s on average since the counters started"
                ))
            ),
            NoveltyVerdict::Higher => format!(
                "higher than usual: {} now, {:.3}/s on average",
                rate(Some(n.now)),
                n.average.unwrap_or(0.0)
            ),
            NoveltyVerdict::Usual => format!(
                "not new: about the long-term average ({:.3}/s)",
                n.average.unwrap_or(0.0)
            ),
            _ => return None,
        },
        Fact::Report(f) => format!("the packets say: {}", crate::sink::findings::title(f)),
    })
}

pub fn cause_text(c: &Cause) -> String {
    match c {
        Cause::ServiceNotRunning => {
            "the service that should listen there is not running (crashed, failed to start, not up yet)".into()
        }
        Cause::WrongPortOrHost => "the client is configured with the wrong port or host".into(),
        Cause::RemoteServiceDown => "the service on the remote host is down".into(),
        Cause::RemoteFirewallReject => "a firewall on the remote host rejects it".into(),
        Cause::LocalFirewallRule => {
            "a firewall rule on this host (nftables/iptables `reject with tcp reset`)".into()
        }
        Cause::QueueAdvice(a) => match a {
            Advice::AcceptFaster => "the application accepts connections too slowly (the queue stays full)".into(),
            Advice::RaiseListenBacklog { now } => {
                format!("the application's listen() backlog ({now}) is too small for its bursts")
            }
            Advice::RaiseSomaxconn { now } => format!(
                "net.core.somaxconn ({now}) caps the backlog: raise it, then restart the listener"
            ),
            Advice::SomaxconnLoweredSince { now } => format!(
                "somaxconn was lowered to {now} after the listener started: it will be capped when it restarts"
            ),
            Advice::AbortOnOverflowResets => {
                "net.ipv4.tcp_abort_on_overflow=1 turns the overflow into RSTs to clients".into()
            }
        },
        Cause::ClosesWithUnreadData => {
            "the application calls close() before reading everything the peer sent (an application bug; read to EOF or shutdown() first)".into()
        }
        Cause::LingerZeroAbort => {
            "the application sets SO_LINGER {on, 0} to abort instead of closing (load balancers and pools do it on purpose)".into()
        }
        Cause::MemoryPressure => "TCP memory (net.ipv4.tcp_mem) is exhausted: too many sockets or buffers".into(),
        Cause::Scan => "a port scan (a security scanner, an inventory tool, or an attacker)".into(),
        Cause::Middlebox => "a middlebox (IDS, firewall, censor) injecting RSTs".into(),
        Cause::FilteredOrDown => {
            "a firewall drops the SYNs (locally, on the path or at the destination), or the host is down".into()
        }
        Cause::PeerAborts => "the peer's application aborts connections (crash, timeout, SO_LINGER 0)".into(),
        Cause::OtherNamespace { candidates } => {
            if candidates.is_empty() {
                "the failures happen in another network namespace (a container's)".into()
            } else {
                format!(
                    "the failures happen in another network namespace: try {}",
                    candidates.join(", ")
                )
            }
        }
        Cause::PortsExhausted => {
            "no free local port for the destination: ephemeral ports exhausted (many connections, or many in TIME-WAIT, to one address and port; a narrow net.ipv4.ip_local_port_range), or a bind to an address not on this host".into()
        }
        Cause::NoRoute => "no route to the destination network from this namespace".into(),
        Cause::ConnectDenied => {
            "denied before TCP: a local firewall rule (an nftables/iptables reject with an ICMP admin-prohibited, or a drop in output) or a cgroup BPF program".into()
        }
        Cause::NeverOnWire => {
            "the SYNs never reached the wire (a local drop rule, no route, an ICMP error)".into()
        }
    }
}

fn healthy_text(h: &Healthy) -> String {
    match h {
        Healthy::FailedConnections { per_second } => format!(
            "failed connections: {} (below 1/s)",
            rate(Some(*per_second)).replace("once", "0/s")
        ),
        Healthy::Connections { closed_ok, rsts } => format!(
            "connections: {} closed normally, {} seen, nothing wrong among them",
            plural(*closed_ok, "connection", "connections"),
            plural(*rsts, "RST", "RSTs")
        ),
        Healthy::Listeners { count } => {
            format!("listeners: {count}, no accept queue full or dropping")
        }
        Healthy::Capture { segments } => {
            format!("capture: {segments} TCP segments, none dropped by the kernel")
        }
        Healthy::KernelEvents { events } => format!("kernel events: {events}, none lost"),
    }
}

fn unavailable_text(u: &Unavailable) -> String {
    let part = match u.part {
        crate::engine::diagnosis::Part::Packets => "packets",
        crate::engine::diagnosis::Part::KernelEvents => "kernel events (reasons, processes)",
        crate::engine::diagnosis::Part::Counters => "TCP counters",
        crate::engine::diagnosis::Part::Listeners => "listeners",
        crate::engine::diagnosis::Part::ListenerOwners => "listener processes",
        crate::engine::diagnosis::Part::Sysctls => "sysctls",
    };
    match &u.fix {
        Some(fix) => format!("{part}: {}\n      enable: {fix}", u.why),
        None => format!("{part}: {}", u.why),
    }
}

fn severity_word(d: &Diagnosis) -> &'static str {
    match d.severity {
        crate::engine::diagnosis::Severity::Critical => "CRITICAL",
        crate::engine::diagnosis::Severity::Warning => "WARNING ",
        crate::engine::diagnosis::Severity::Notice => "NOTICE  ",
    }
}

/// The whole text report.
pub fn text(o: &Outcome, intro: &str) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "{intro}");
    if o.diagnoses.is_empty() {
        let _ = writeln!(t, "\nno problem found");
    }
    for d in &o.diagnoses {
        let _ = writeln!(t, "\n{} {}", severity_word(d), headline(d));
        for f in &d.evidence {
            if let Some(line) = fact_text(f) {
                let _ = writeln!(t, "  evidence: {line}");
            }
        }
        for c in &d.causes {
            let _ = writeln!(t, "  cause:    {}", cause_text(c));
        }
        for n in &d.next {
            let _ = writeln!(t, "  next:     {n}");
        }
    }
    if !o.unavailable.is_empty() {
        let _ = writeln!(t, "\ncould not check:");
        for u in &o.unavailable {
            let _ = writeln!(t, "  {}", unavailable_text(u));
        }
    }
    if !o.healthy.is_empty() {
        let _ = writeln!(t, "\nchecked and healthy:");
        for h in &o.healthy {
            let _ = writeln!(t, "  {}", healthy_text(h));
        }
    }
    t
}

/// One JSON record per diagnosis.
pub fn records(o: &Outcome) -> Vec<DiagnosisRecord> {
    o.diagnoses
        .iter()
        .enumerate()
        .map(|(i, d)| DiagnosisRecord {
            kind: "diagnosis",
            rank: i + 1,
            severity: d.severity.as_str(),
            rule: d.kind.as_str(),
            subject: subject_text(&d.subject),
            headline: headline(d),
            count: d.count,
            per_second: d.per_second,
            evidence: d
                .evidence
                .iter()
                .filter_map(|f| {
                    fact_text(f).map(|text| FactRecord {
                        fact: fact_name(f),
                        text,
                        processes: match f {
                            Fact::Processes { procs, .. }
                            | Fact::Listening { owners: procs, .. } => procs
                                .iter()
                                .map(super::schema::ProcRefRecord::new)
                                .collect(),
                            _ => Vec::new(),
                        },
                    })
                })
                .collect(),
            causes: d.causes.iter().map(cause_text).collect(),
            next: d.next.clone(),
        })
        .collect()
}

fn fact_name(f: &Fact) -> &'static str {
    match f {
        Fact::Events { .. } => "events",
        Fact::Processes { .. } => "processes",
        Fact::Peers { .. } => "peers",
        Fact::NothingListening { .. } => "nothing_listening",
        Fact::Listening { .. } => "listening",
        Fact::KernelReason { .. } => "kernel_reason",
        Fact::Service { .. } => "service",
        Fact::Queue { .. } => "queue",
        Fact::Counter { .. } => "counter",
        Fact::NotFromStack { .. } => "not_from_stack",
        Fact::Ports { .. } => "ports",
        Fact::Captured { .. } => "captured",
        Fact::FailedConnects { .. } => "failed_connects",
        Fact::ConnectErrors { .. } => "connect_errors",
        Fact::Novelty(_) => "novelty",
        Fact::Report(_) => "report",
    }
}

/// The closing record.
pub fn summary_record(
    o: &Outcome,
    seconds: f64,
    netns: Option<&str>,
    perf: &Perf,
) -> DiagnosisSummaryRecord {
    DiagnosisSummaryRecord {
        kind: "summary",
        seconds,
        netns: netns.map(str::to_string),
        diagnoses: o.diagnoses.len(),
        worst: o.diagnoses.first().map(|d| d.severity.as_str()),
        failed_conn_per_s: perf.failed_conn_per_s,
        rst_per_s: perf.rst_per_s,
        listen_overflows_per_s: perf.listen_overflows_per_s,
        unavailable: o
            .unavailable
            .iter()
            .map(|u| UnavailableRecord {
                part: u.part.as_str(),
                why: u.why.clone(),
                fix: u.fix.clone(),
            })
            .collect(),
        healthy: o.healthy.iter().map(healthy_text).collect(),
    }
}

/// The numbers `check` reports as performance data.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Perf {
    pub failed_conn_per_s: Option<f64>,
    pub rst_per_s: Option<f64>,
    pub listen_overflows_per_s: Option<f64>,
}

fn perf_value(v: Option<f64>) -> String {
    // Monitoring-plugins: "U" for a value that could not be determined.
    v.map_or("U".to_string(), |v| format!("{v:.1}"))
}

/// `check`'s output: the status line with performance data, then one line per other
/// diagnosis (and per skipped part).
pub fn check_text(
    status: Status,
    o: &Outcome,
    perf: &Perf,
    warn: &Range,
    crit: &Range,
    why_unknown: Option<&str>,
) -> String {
    let top = match (why_unknown, o.diagnoses.first()) {
        (Some(w), _) => w.to_string(),
        (None, Some(d))
            if d.severity != crate::engine::diagnosis::Severity::Notice || status != Status::Ok =>
        {
            headline(d)
        }
        _ => match perf.failed_conn_per_s {
            Some(r) => format!(
                "no problem found ({} failed connections/s)",
                format_number((r * 10.0).round() / 10.0)
            ),
            None => "no problem found".to_string(),
        },
    };
    let mut t = format!(
        "RSTHOUND {} - {} | failed_conn_per_s={};{};{};0 rst_per_s={};;;0 listen_overflows_per_s={};;;0\n",
        status.as_str(),
        top.replace('|', "/"),
        perf_value(perf.failed_conn_per_s),
        warn,
        crit,
        perf_value(perf.rst_per_s),
        perf_value(perf.listen_overflows_per_s),
    );
    for d in o.diagnoses.iter().skip(usize::from(why_unknown.is_none())) {
        let _ = writeln!(
            t,
            "{}: {}",
            d.severity.as_str(),
            headline(d).replace('|', "/")
        );
    }
    for u in &o.unavailable {
        let _ = writeln!(
            t,
            "not checked: {}",
            unavailable_text(u)
                .replace("\n      ", "; ")
                .replace('|', "/")
        );
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::diagnosis::{Part, Severity};

    fn outcome(d: Vec<Diagnosis>) -> Outcome {
        Outcome {
            diagnoses: d,
            healthy: vec![],
            unavailable: vec![Unavailable {
                part: Part::KernelEvents,
                why: "no CAP_PERFMON".into(),
                fix: Some("sudo setcap cap_perfmon+ep /x".into()),
            }],
        }
    }

    /// The founding story's headline, in words made here from the typed diagnosis.
    #[test]
    fn refused_local_headline() {
        use crate::engine::diagnosis::tally::ProcRef;
        let d = Diagnosis {
            severity: Severity::Warning,
            kind: Kind::RefusedLocal,
            subject: Subject::Endpoint(crate::engine::track::Endpoint {
                ip: "127.0.0.1".parse().unwrap(),
                port: 7211,
            }),
            count: 10,
            per_second: Some(2.0),
            evidence: vec![
                Fact::Processes {
                    role: Role::Clients,
                    procs: vec![ProcRef {
                        pid: 4242,
                        comm: "collectord".into(),
                        cmdline: None,
                        netns: None,
                    }],
                    more: 0,
                },
                Fact::NothingListening { port: 7211 },
            ],
            causes: vec![Cause::ServiceNotRunning],
            next: vec!["ss -ltnp 'sport = :7211'".into()],
        };
        assert_eq!(
            headline(&d),
            "127.0.0.1:7211 refused 10 connection attempts from collectord[4242] (2.0/s): nothing listens on tcp/7211"
        );
        let text = text(&outcome(vec![d]), "intro");
        assert!(text.contains("\nWARNING  127.0.0.1:7211 refused"), "{text}");
        assert!(
            text.contains("  next:     ss -ltnp 'sport = :7211'\n"),
            "{text}"
        );
        assert!(text.contains("could not check:\n  kernel events"), "{text}");
    }

    #[test]
    fn check_line_has_status_headline_and_perfdata_in_plugin_syntax() {
        let d = Diagnosis {
            severity: Severity::Warning,
            kind: Kind::Unanswered,
            subject: Subject::Endpoint(crate::engine::track::Endpoint {
                ip: "10.0.0.2".parse().unwrap(),
                port: 9000,
            }),
            count: 4,
            per_second: Some(1.0),
            evidence: vec![],
            causes: vec![],
            next: vec![],
        };
        let perf = Perf {
            failed_conn_per_s: Some(2.04),
            rst_per_s: None,
            listen_overflows_per_s: Some(0.0),
        };
        let text = check_text(
            Status::Warning,
            &outcome(vec![d]),
            &perf,
            &Range::parse("1").unwrap(),
            &Range::parse("@10:20").unwrap(),
            None,
        );
        let mut lines = text.lines();
        assert_eq!(
            lines.next().unwrap(),
            "RSTHOUND WARNING - 10.0.0.2:9000 never answered 4 connection attempts from unknown clients (1.0/s): SYNs filtered or dropped, or the host is down | failed_conn_per_s=2.0;1;@10:20;0 rst_per_s=U;;;0 listen_overflows_per_s=0.0;;;0"
        );
        assert_eq!(
            lines.next().unwrap(),
            "not checked: kernel events (reasons, processes): no CAP_PERFMON; enable: sudo setcap cap_perfmon+ep /x"
        );
        let unknown = check_text(
            Status::Unknown,
            &outcome(vec![]),
            &Perf::default(),
            &Range::parse("1").unwrap(),
            &Range::parse("10").unwrap(),
            Some("the TCP counters could not be read: gone"),
        );
        assert!(unknown.starts_with(
            "RSTHOUND UNKNOWN - the TCP counters could not be read: gone | failed_conn_per_s=U;1;10;0"
        ));
    }
}
