//! The words of the report's findings: a typed [`Finding`] made into its title, evidence lines
//! and next-step lines ([`Worded`]), and the findings block the text summary ends with (times
//! UTC). The JSON summary words its findings with the same functions, so both say the same.

use crate::engine::fusion::ListenerReset;
use crate::engine::report::finding::{
    Distinct, EndpointLine, Example, Fact, Failing, Headline, Named, PeakSecond, Peers, Sample,
    Service, Span, Step,
};
use crate::engine::report::{
    ClientGroup, Finding, FindingsView, SERVICE_DOWN_REPEATS, Severity, sec_ts,
};
use crate::model::timestamp::Timestamp;
use crate::sanitize::sanitize_text;
use std::fmt::Write as _;
use std::net::IpAddr;

/// Findings shown in the text (all of them are in the JSON).
const MAX_TEXT_FINDINGS: usize = 20;
/// Characters kept of one evidence sample.
const MAX_SAMPLE_CHARS: usize = 200;

/// A finding in words.
#[derive(Debug, Clone, PartialEq)]
pub struct Worded<'a> {
    pub finding: &'a Finding,
    pub title: String,
    pub evidence: Vec<String>,
    pub next_steps: Vec<String>,
}

/// One finding in words.
pub fn word(f: &Finding) -> Worded<'_> {
    Worded {
        finding: f,
        title: title(f),
        evidence: f.facts.iter().map(fact).collect(),
        next_steps: f.next_steps.iter().map(step).collect(),
    }
}

/// The findings in words, in the order they are shown: severity, then events behind them, then
/// title (the engine's order refines ties by subject; shown, ties read in title order).
pub fn ranked(findings: &[Finding]) -> Vec<Worded<'_>> {
    let mut v: Vec<Worded<'_>> = findings.iter().map(word).collect();
    v.sort_by(|a, b| {
        a.finding
            .severity
            .cmp(&b.finding.severity)
            .then(b.finding.count.cmp(&a.finding.count))
            .then_with(|| a.title.cmp(&b.title))
    });
    v
}

/// The ranked findings in plain words for a terminal (times in UTC), with what the report's
/// full tables left out.
pub fn block(view: &FindingsView) -> String {
    let findings = ranked(&view.findings);
    let (normal, issues): (Vec<&Worded<'_>>, Vec<&Worded<'_>>) = findings
        .iter()
        .partition(|f| f.finding.severity == Severity::Routine);
    let mut s = String::new();
    if issues.is_empty() && normal.is_empty() {
        let _ = writeln!(
            s,
            "nothing failed: no RSTs and no unanswered connection attempts ({} completed normally)",
            count_noun(view.healthy, "connection", "connections")
        );
    } else {
        if issues.is_empty() {
            s.push_str("nothing failed: only routine resets (times UTC)\n");
        } else {
            s.push_str("findings, most important first (times UTC):\n");
        }
        for f in issues.iter().take(MAX_TEXT_FINDINGS) {
            let _ = writeln!(s, "[{}] {}", f.finding.severity.as_str(), f.title);
            for e in &f.evidence {
                let _ = writeln!(s, "    {e}");
            }
            for n in &f.next_steps {
                let _ = writeln!(s, "    next: {n}");
            }
        }
        if issues.len() > MAX_TEXT_FINDINGS {
            let _ = writeln!(
                s,
                "… and {} more (see --json)",
                count_noun(
                    (issues.len() - MAX_TEXT_FINDINGS) as u64,
                    "finding",
                    "findings"
                )
            );
        }
        if !normal.is_empty() {
            s.push_str("normal:\n");
            for f in &normal {
                let _ = writeln!(s, "    {}", f.title);
            }
        }
    }
    let o = &view.overflow;
    if o.any() {
        let mut parts = Vec::new();
        for (n, what) in [
            (o.by_endpoint, "by endpoint"),
            (o.by_service, "by service"),
            (o.by_peer, "by peer"),
            (o.healthy, "healthy connections"),
            (o.kept_talking, "kept-talking notes"),
            (o.seconds, "per second (storm detection)"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        }
        if !parts.is_empty() {
            let _ = writeln!(
                s,
                "note: report tables full ({} keys each): events not grouped: {}; totals still count them",
                view.limits.max_keys,
                parts.join(", ")
            );
        }
        if o.distinct > 0 {
            let _ = writeln!(
                s,
                "note: distinct-peer memory full ({} entries): {} not kept; counts shown as \"at least\"",
                view.limits.distinct_budget, o.distinct
            );
        }
    }
    s
}

/// A finding's headline.
pub fn title(f: &Finding) -> String {
    let n = f.count;
    match &f.headline {
        Headline::PortScan {
            scanner: ip,
            refused,
            unanswered,
            ports,
            hosts,
            span,
        } => {
            let how = match (*refused > 0, *unanswered > 0) {
                (true, true) => "refused or ignored",
                (true, false) => "refused",
                _ => "ignored",
            };
            format!(
                "{ip} was {how} on {} ports of {} ({}): looks like a port scan",
                distinct(*ports),
                count_noun(*hosts as u64, "host", "hosts"),
                rate_when(n, *span)
            )
        }
        Headline::Refused {
            endpoint: e,
            peers,
            span,
            service,
        } => format!(
            "{e} refused {} from {} ({}): nothing accepted connections on {}",
            count_noun(n, "connection attempt", "connection attempts"),
            who(peers, "client", "clients"),
            rate_when(n, *span),
            describe(service)
        ),
        Headline::RefusedAtFew { endpoints, span } => format!(
            "{} at {} ({}; fewer than {SERVICE_DOWN_REPEATS} each): nothing accepted connections there, or a firewall REJECT rule answered",
            count_noun(
                n,
                "refused connection attempt",
                "refused connection attempts"
            ),
            count_noun(*endpoints as u64, "endpoint", "endpoints"),
            when(span.first, span.last)
        ),
        Headline::RefusedOnManyHosts {
            hosts,
            service,
            peers,
            span,
        } => format!(
            "{hosts} hosts refused {} on {} from {} ({}): nothing accepted connections on that port there, or a firewall rejects it",
            count_noun(n, "connection attempt", "connection attempts"),
            describe(service),
            who(peers, "client", "clients"),
            rate_when(n, *span)
        ),
        Headline::Unanswered {
            endpoint: e,
            peers,
            span,
            service,
        } => format!(
            "{e} never answered {} from {} ({}): SYNs to {} were filtered or dropped, or the host is down",
            count_noun(n, "connection attempt", "connection attempts"),
            who(peers, "client", "clients"),
            rate_when(n, *span),
            describe(service)
        ),
        Headline::UnansweredAtFew { endpoints, span } => format!(
            "{} at {} ({}; fewer than {SERVICE_DOWN_REPEATS} each): filtered or dropped, or the host is down",
            count_noun(
                n,
                "unanswered connection attempt",
                "unanswered connection attempts"
            ),
            count_noun(*endpoints as u64, "endpoint", "endpoints"),
            when(span.first, span.last)
        ),
        Headline::Storm { first, last, peak } => format!(
            "RST storm: {n} RSTs in {} ({}), peak {peak} in one second",
            count_noun((last - first + 1) as u64, "second", "seconds"),
            when(sec_ts(*first), sec_ts(*last))
        ),
        Headline::Injection {
            injected,
            kept_senders,
        } => {
            let mut parts = Vec::new();
            if *injected > 0 {
                parts.push(count_noun(
                    *injected,
                    "RST looks injected",
                    "RSTs look injected",
                ));
            }
            // The notes are the rest of the count (a sender not kept by a full table is still
            // counted there).
            if f.count > *injected {
                parts.push(format!(
                    "{} kept sending after {} own RST",
                    count_noun(*kept_senders as u64, "sender", "senders"),
                    if *kept_senders == 1 { "its" } else { "their" }
                ));
            }
            format!(
                "{}: {}",
                parts.join(", and "),
                crate::engine::track::Verdict::SuspectedInjected.meaning()
            )
        }
        Headline::Verdict { verdict, span } => {
            use crate::engine::track::Verdict as V;
            let (one, many) = match verdict {
                V::HandshakeReset => ("handshake reset", "handshake resets"),
                V::ResetByClient => (
                    "connection reset by the client",
                    "connections reset by the client",
                ),
                V::ResetByServer => (
                    "connection reset by the server",
                    "connections reset by the server",
                ),
                V::Stray => ("stray RST", "stray RSTs"),
                V::OutOfWindow => ("out-of-window RST", "out-of-window RSTs"),
                V::FirewallReject => (
                    "RST forged by a local firewall rule",
                    "RSTs forged by a local firewall rule",
                ),
                V::Refused | V::SuspectedInjected | V::ResetAfterClose => {
                    (verdict.as_str(), verdict.as_str())
                }
            };
            format!(
                "{} ({}): {}",
                count_noun(n, one, many),
                rate_when(n, *span),
                verdict.meaning()
            )
        }
        Headline::Routine { by_server } => {
            let why = if *by_server {
                "server closing idle keep-alive connections"
            } else {
                "the client had closed before the server finished sending"
            };
            format!(
                "{} ({why}): normal",
                count_noun(n, "reset after close", "resets after close")
            )
        }
    }
}

/// One evidence line.
pub fn fact(f: &Fact) -> String {
    match f {
        Fact::PortsTried { listed, total } => {
            let list: Vec<String> = listed.iter().map(|p| p.to_string()).collect();
            format!(
                "ports tried: {}{}",
                list.join(", "),
                if *total > listed.len() { ", …" } else { "" }
            )
        }
        Fact::ScanAttempts {
            refused,
            unanswered,
        } => format!(
            "{} refused (RST), {unanswered} unanswered",
            count_noun(*refused, "attempt", "attempts")
        ),
        Fact::ScannedHosts { listed, more } => {
            let mut list: Vec<String> = listed.iter().map(|ip| ip.to_string()).collect();
            if *more > 0 {
                list.push(format!("and {more} more"));
            }
            format!("hosts: {}", list.join(", "))
        }
        Fact::Example(x) => format!("e.g. {}", example(x)),
        Fact::RefusedExample(x) => format!(
            "each RST answered a SYN that got no SYN-ACK, e.g. {}",
            example(x)
        ),
        Fact::Retrying {
            attempts,
            source_ports,
            peak: p,
            clients,
        } => format!(
            "{} from {} source {}; {}; the {} retrying",
            count_noun(*attempts, "attempt", "attempts"),
            distinct(*source_ports),
            if source_ports.n == 1 && !source_ports.at_least {
                "port"
            } else {
                "ports"
            },
            peak(*p),
            if clients.n == 1 && !clients.at_least {
                "client keeps"
            } else {
                "clients keep"
            }
        ),
        Fact::Peak(p) => peak(*p),
        Fact::HealthyUntil {
            endpoint,
            connections,
            until,
        } => format!(
            "{endpoint} had accepted {} normally until {}: its listener went away after that",
            count_noun(*connections, "connection", "connections"),
            hms(*until)
        ),
        Fact::HealthyToo {
            endpoint,
            connections,
            span,
        } => format!(
            "{endpoint} also completed {} normally ({}): the listener comes and goes, is overloaded, or a firewall treats some clients differently",
            count_noun(*connections, "connection", "connections"),
            when(span.first, span.last)
        ),
        Fact::HostUpOnePort {
            other,
            connections,
            port,
            failing: how,
        } => format!(
            "meanwhile {} completed {} normally: the host is up, only tcp/{port} {}",
            named(other),
            count_noun(*connections, "connection", "connections"),
            failing(*how)
        ),
        Fact::HostUpManyPorts {
            ip,
            ports,
            busiest,
            port,
            failing: how,
        } => {
            let list: Vec<String> = busiest
                .iter()
                .map(|(s, n)| format!("{}: {n}", describe(s)))
                .collect();
            format!(
                "meanwhile {ip} completed connections normally on {ports} other ports ({}{}): the host is up, only tcp/{port} {}",
                list.join(", "),
                if *ports > busiest.len() { ", …" } else { "" },
                failing(*how)
            )
        }
        Fact::SynsUnanswered { syns, peak: p } => format!(
            "SYN sent {syns} times in all (retransmissions included); no SYN-ACK and no RST came back; {}",
            peak(*p)
        ),
        Fact::SynsSent { syns } => format!(
            "SYN sent {} in all; no SYN-ACK and no RST came back",
            count_noun(*syns, "time", "times")
        ),
        Fact::NothingCompleted { ip } => format!(
            "no connection to {ip} completed in this capture: the host may be down or unreachable, or everything to it is filtered"
        ),
        Fact::Endpoint(l) => endpoint_line(l),
        Fact::MoreInjectors(n) => format!("and {n} more senders"),
        Fact::MoreEndpoints(n) => format!("and {n} more"),
        Fact::TypicalSecond { rsts } => {
            if *rsts == 0 {
                "most seconds of the capture had no RST".to_string()
            } else {
                format!(
                    "a typical second of the capture had {}",
                    count_noun(*rsts, "RST", "RSTs")
                )
            }
        }
        Fact::SteadyStorm { per_second } => format!(
            "a steady storm: {per_second} RSTs or more a second is far above what a healthy service resets, however long it lasts"
        ),
        Fact::BusiestSeconds(secs) => {
            let list: Vec<String> = secs
                .iter()
                .map(|p| format!("{} ({})", hms(sec_ts(p.sec)), p.events))
                .collect();
            format!("busiest seconds: {}", list.join(", "))
        }
        Fact::StormSender {
            sender,
            verdict,
            peak: p,
        } => format!(
            "{} sent {} ({}) in its busiest second ({})",
            named(sender),
            count_noun(p.events, "RST", "RSTs"),
            verdict.as_str(),
            hms(sec_ts(p.sec))
        ),
        Fact::MoreStorms(n) => format!("and {n} more storms (see --json)"),
        Fact::InjectedBy {
            sender,
            rsts,
            span,
            example: x,
        } => {
            let mut line = format!(
                "{}: {} ({})",
                named(sender),
                count_noun(*rsts, "RST", "RSTs"),
                when(span.first, span.last)
            );
            if let Some(x) = x {
                let _ = write!(line, ", e.g. {}", example(x));
            }
            line
        }
        Fact::KeptTalking {
            sender,
            times,
            span,
        } => format!(
            "{} kept sending after its RST ({}, {}): a real RST would have ended its connection",
            named(sender),
            count_noun(*times, "time", "times"),
            when(span.first, span.last)
        ),
        Fact::MoreKeptTalking(n) => format!("and {n} more senders kept talking"),
        Fact::OnService {
            service,
            rsts,
            peers,
            span,
        } => format!(
            "on {}: {} with {} ({})",
            describe(service),
            count_noun(*rsts, "RST", "RSTs"),
            who(peers, "client", "clients"),
            rate_when(*rsts, *span)
        ),
        Fact::MorePorts(n) => format!(
            "and on {}",
            count_noun(*n as u64, "more port", "more ports")
        ),
        Fact::SentBy {
            sender,
            rsts,
            peers,
            example: x,
        } => {
            let mut line = format!(
                "{} sent {} to {}",
                named(sender),
                count_noun(*rsts, "RST", "RSTs"),
                who(peers, "peer", "peers")
            );
            if let Some(x) = x {
                let _ = write!(line, ", e.g. {}", example(x));
            }
            line
        }
        Fact::Meaning(v) => format!("{}: {}", v.as_str(), v.meaning()),
        Fact::ListenerReset { reset, rsts } => format!(
            "{} (kernel: {} sent by the listening socket)",
            listener_reset(reset),
            count_noun(*rsts, "RST", "RSTs")
        ),
        Fact::PastListener { endpoint, listener } => format!(
            "nothing listens on {endpoint} now; {} listened there until {}{}",
            listener.who,
            listener.until.time_of_day(),
            if listener.exact {
                " (kernel: its socket left LISTEN then)"
            } else {
                " at the latest (gone from the listener list)"
            }
        ),
        Fact::Hint(h) => h.clone(),
        Fact::Clients { listed, more } => {
            let mut parts: Vec<String> = listed.iter().map(client).collect();
            if *more > 0 {
                parts.push(format!("and {more} more"));
            }
            format!(
                "the clients behind them (kernel: the connect() callers): {}",
                parts.join("; ")
            )
        }
    }
}

/// One next step.
pub fn step(s: &Step) -> String {
    match s {
        Step::IdentifyScanner(ip) => format!(
            "find out who {ip} is (asset inventory, DNS, `whois {ip}`); if the scan is not expected, block it at the firewall"
        ),
        Step::ScanIsNoOutage => "its refused attempts are not an outage of those services".to_string(),
        Step::CheckListening(e) => format!(
            "{}check that the service on tcp/{} runs and listens (`ss -ltnp 'sport = :{}'`), or that the client uses the right host and port",
            on_host(e.ip),
            e.port,
            e.port
        ),
        Step::CheckListeningAll => "check that these services run and listen (`ss -ltnp`) and that clients use the right host and port".to_string(),
        Step::CheckWhatListens(e) => format!(
            "{}check what should listen on tcp/{}: `ss -ltnp 'sport = :{}'`, the service's logs, `systemctl --failed`",
            on_host(e.ip),
            e.port,
            e.port
        ),
        Step::FindRejectRule => "if a firewall rule should reject these clients, find it: `nft list ruleset | grep -n reject` (or `iptables-save | grep REJECT`)".to_string(),
        Step::CheckPortOnHosts(service) => format!(
            "check what should listen on {} on those hosts (`ss -ltnp 'sport = :{}'`) and whether a firewall rule rejects it (`nft list ruleset | grep -n reject`)",
            describe(service),
            service.port
        ),
        Step::FixClientConfig => "if the clients should not connect there, fix their configuration (wrong port or host list)".to_string(),
        Step::TestReachability(e) => {
            let (ip, port) = match e {
                Some(e) => (e.ip.to_string(), e.port.to_string()),
                None => ("HOST".to_string(), "PORT".to_string()),
            };
            format!(
                "test from the client: `nc -vz -w 3 {ip} {port}`; check that the host is up (`ping {ip}`)"
            )
        }
        Step::FindDropRule(port) => {
            let port = port.map_or("PORT".to_string(), |p| p.to_string());
            format!(
                "look for firewall rules that drop tcp/{port} on the path and on the host (`nft list ruleset | grep -n drop`, cloud security groups)"
            )
        }
        Step::CheckSynBacklog => "if the host answers on other ports, check its SYN backlog: `nstat -az TcpExtListenOverflows TcpExtListenDrops`".to_string(),
        Step::StormStart(sec) => format!(
            "look at what happened at {}: a restart or failover, a flood of connections answered by RSTs, or a firewall/IDS resetting many connections at once",
            hms(sec_ts(*sec))
        ),
        Step::StormCounters => "on the resetting host: `nstat -az TcpOutRsts TcpExtTCPAbortOnData TcpExtTCPAbortOnClose TcpExtListenOverflows`".to_string(),
        Step::CompareTtls => "compare the RSTs' TTL/hop limit with the sender's other packets (Wireshark: `tcp.flags.reset == 1`, column `ip.ttl`); capture at both ends: a RST the sender never sent was forged on the path".to_string(),
        Step::CheckMiddleboxes => "check IDS/IPS, firewalls and load balancers between the hosts for TCP reset actions".to_string(),
        Step::CheckListenQueue => "check the listen queue on the server: `ss -ltn` (Recv-Q against Send-Q), `nstat -az TcpExtListenOverflows TcpExtListenDrops`, `sysctl net.ipv4.tcp_abort_on_overflow net.core.somaxconn`".to_string(),
        Step::ClientConnectTimeout => "on the client: connect timeouts shorter than the round trip give up mid-handshake".to_string(),
        Step::ResetterLogs { client } => format!(
            "look in the {}'s logs around those times for crashes, restarts or timeouts; closing a socket with unread data or with SO_LINGER 0 sends a RST",
            side(*client)
        ),
        Step::AbortCounters { client } => format!(
            "on the {} host: `nstat -az TcpExtTCPAbortOnData TcpExtTCPAbortOnClose TcpExtTCPAbortOnTimeout`",
            side(*client)
        ),
        Step::StrayOrigin => "usually connections that began before the capture; if they persist, a peer keeps sending to a connection that no longer exists (check NAT/conntrack and idle timeouts)".to_string(),
        Step::OutOfWindowOrigin => "the receiver ignores these; if they are frequent, look for a confused middlebox or injection (compare TTLs)".to_string(),
        Step::FindResetRule => "find the rule: `nft list ruleset | grep -n 'reject with tcp reset'` (or `iptables-save | grep -e REJECT -e tcp-reset`); something may well listen behind it: `ss -ltnp`".to_string(),
        Step::NarrowResetRule => "if the clients should get through, remove or narrow the rule; if not, fix the clients' configuration".to_string(),
        Step::NothingToDo => "nothing to do unless clients report errors on reused connections; then make the client's idle timeout shorter than the server's".to_string(),
    }
}

fn side(client: bool) -> &'static str {
    if client { "client" } else { "server" }
}

/// `accept queue of 127.0.0.1:7300 (slowacceptd pid 812) full: tcp_abort_on_overflow=1
/// resets clients`; without the sysctl at 1, the plain fact.
pub fn listener_reset(l: &ListenerReset) -> String {
    let who = match &l.owner {
        Some((comm, pid)) => format!(" ({comm} pid {pid})"),
        None => String::new(),
    };
    if l.abort_on_overflow == Some(1) {
        format!(
            "accept queue of {}{who} full: tcp_abort_on_overflow=1 resets clients",
            l.listener
        )
    } else {
        // Without the sysctl at 1, INVALID_SYN from a listener is another refusal of the
        // handshake's last step (a bad ACK number, bad flags).
        format!(
            "the listener {}{who} reset the handshake's final ACK",
            l.listener
        )
    }
}

/// `collectord[4711] (uid 0, cgroup /system.slice/c.service): 120 attempts` or, for several
/// processes of one name, `collectord (6 processes: pids 1, 2, 3, …; uid 0): 6 attempts`.
pub fn client(g: &ClientGroup) -> String {
    let mut extra = Vec::new();
    if let Some(uid) = g.uid {
        extra.push(format!("uid {uid}"));
    }
    if let Some(cg) = g.cgroup.as_deref().filter(|c| !c.is_empty() && *c != "/") {
        extra.push(format!("cgroup {cg}"));
    }
    let who = if g.processes == 1 {
        match g.pids.first() {
            Some(pid) => format!("{}[{pid}]", g.comm),
            None => g.comm.clone(),
        }
    } else {
        let pids: Vec<String> = g.pids.iter().map(|p| p.to_string()).collect();
        extra.insert(
            0,
            format!(
                "{} processes: pids {}{}",
                g.processes,
                pids.join(", "),
                if g.processes as usize > g.pids.len() {
                    ", …"
                } else {
                    ""
                }
            ),
        );
        g.comm.clone()
    };
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!(" ({})", extra.join("; "))
    };
    format!(
        "{who}{extra}: {} attempt{}",
        g.count,
        if g.count == 1 { "" } else { "s" }
    )
}

fn failing(f: Failing) -> &'static str {
    match f {
        Failing::NoListener => "has no listener",
        Failing::NoAnswer => "gets no answer (a firewall probably drops it)",
    }
}

/// `at 13:15:42.507657: answers the SYN from …`.
fn example(x: &Example) -> String {
    format!("at {}: {}", x.at.time_of_day(), sample(&x.sample))
}

/// A sample's evidence in words, made safe for a terminal.
fn sample(s: &Sample) -> String {
    let words = match s {
        Sample::Rst(e) => e.to_string(),
        Sample::NoReply(n) => n.to_string(),
    };
    clean(&words)
}

fn endpoint_line(l: &EndpointLine) -> String {
    let mut line = format!(
        "{}: {} from {} ({})",
        named(&l.endpoint),
        count_noun(l.attempts, "attempt", "attempts"),
        who(&l.peers, "client", "clients"),
        rate_when(l.attempts, l.span)
    );
    if l.syns > 0 {
        let _ = write!(
            line,
            ", SYN sent {} in all",
            count_noun(l.syns, "time", "times")
        );
    }
    line
}

/// `tcp/5432 (postgresql)` or `tcp/7211 (no well-known service)`.
pub fn describe(s: &Service) -> String {
    match &s.name {
        Some(n) => format!("tcp/{} ({n})", s.port),
        None => format!("tcp/{} (no well-known service)", s.port),
    }
}

/// `10.0.0.5:5432 (postgresql)`, or the endpoint alone for a port without a name.
fn named(n: &Named) -> String {
    match &n.service {
        Some(s) => format!("{} ({s})", n.endpoint),
        None => n.endpoint.to_string(),
    }
}

/// Evidence from the producer should already be safe; make sure, without escaping twice.
fn clean(text: &str) -> String {
    let unsafe_char = |c: char| {
        c.is_control()
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
    };
    if text.chars().any(unsafe_char) {
        sanitize_text(text.as_bytes(), MAX_SAMPLE_CHARS)
    } else if text.chars().count() > MAX_SAMPLE_CHARS {
        let mut s: String = text.chars().take(MAX_SAMPLE_CHARS).collect();
        s.push('…');
        s
    } else {
        text.to_string()
    }
}

/// `12` or `at least 1024`.
fn distinct(d: Distinct) -> String {
    if d.at_least {
        format!("at least {}", d.n)
    } else {
        d.n.to_string()
    }
}

/// `HH:MM:SS` (UTC).
fn hms(ts: Timestamp) -> String {
    sec_ts(ts.secs()).time_of_day()
}

/// `13:15:42`, `13:15:42–13:15:47`, or full dates when the range crosses midnight.
fn when(first: Timestamp, last: Timestamp) -> String {
    let (a, b) = (first.secs(), last.secs());
    if a == b {
        hms(first)
    } else if a.div_euclid(86_400) == b.div_euclid(86_400) {
        format!("{}–{}", hms(first), hms(last))
    } else {
        format!("{}–{}", sec_ts(a).rfc3339(), sec_ts(b).rfc3339())
    }
}

/// `2.0/s`, `1.5/min`, `0.3/h`.
fn rate_text(r: f64) -> String {
    if r >= 0.1 {
        format!("{r:.1}/s")
    } else if r * 60.0 >= 0.1 {
        format!("{:.1}/min", r * 60.0)
    } else {
        format!("{:.1}/h", r * 3600.0)
    }
}

/// `2.0/s, 13:15:42–13:15:47`; `within 150 µs, 01:51:55` when the events came less than a
/// second apart (three attempts 50 µs apart are not "40,000/s"); or just the time.
fn rate_when(count: u64, span: Span) -> String {
    let ns = span.last.nanos().saturating_sub(span.first.nanos());
    if count >= 2 && (0..1_000_000_000).contains(&ns) {
        return format!("within {}, {}", short_span(ns), when(span.first, span.last));
    }
    match span.rate(count) {
        Some(r) => format!("{}, {}", rate_text(r), when(span.first, span.last)),
        None => when(span.first, span.last),
    }
}

/// `150 µs`, `12 ms`, `0 µs` (below a second).
fn short_span(ns: i64) -> String {
    if ns < 1_000_000 {
        format!("{} µs", ns / 1_000)
    } else {
        format!("{} ms", ns / 1_000_000)
    }
}

fn peak(p: PeakSecond) -> String {
    format!("peak {} in one second ({})", p.events, hms(sec_ts(p.sec)))
}

fn count_noun(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `127.0.0.1`, `10.0.0.1, 10.0.0.2`, or `12 clients`.
fn who(peers: &Peers, one: &str, many: &str) -> String {
    if !peers.listed.is_empty() {
        peers
            .listed
            .iter()
            .map(IpAddr::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    } else if peers.count.at_least {
        format!("{} {many}", distinct(peers.count))
    } else {
        count_noun(peers.count.n as u64, one, many)
    }
}

/// `on 10.0.0.5, ` for a remote host; nothing for loopback.
fn on_host(ip: IpAddr) -> String {
    if ip.is_loopback() {
        String::new()
    } else {
        format!("on {ip}, ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::report::ClientGroup;

    fn ts(secs: i64, micros: u64) -> Timestamp {
        Timestamp::from_parts(secs, micros, 6)
    }

    #[test]
    fn rates_and_time_ranges() {
        assert_eq!(rate_text(2.0), "2.0/s");
        assert_eq!(rate_text(1.0 / 60.0), "1.0/min");
        assert_eq!(rate_text(1.0 / 3600.0), "1.0/h");
        assert_eq!(when(ts(47_742, 507_000), ts(47_742, 900_000)), "13:15:42");
        assert_eq!(
            when(ts(47_742, 507_000), ts(47_747, 7_000)),
            "13:15:42–13:15:47"
        );
        assert_eq!(
            when(ts(86_399, 0), ts(86_401, 0)),
            "1970-01-01T23:59:59Z–1970-01-02T00:00:01Z"
        );
    }

    #[test]
    fn clean_escapes_only_unsafe_text() {
        assert_eq!(clean("a\\x1b b"), "a\\x1b b");
        assert_eq!(clean("a\x1b[31m"), "a\\x1b[31m");
        assert!(clean(&"x".repeat(500)).ends_with('…'));
    }

    #[test]
    fn a_hand_made_finding_in_words() {
        use crate::engine::report::FindingKind;
        use crate::engine::track::Endpoint;
        let e = Endpoint {
            ip: "10.0.0.5".parse().unwrap(),
            port: 5432,
        };
        let span = Span {
            first: ts(47_742, 507_000),
            last: ts(47_747, 7_000),
        };
        let f = Finding {
            severity: Severity::Alarming,
            kind: FindingKind::ServiceDown,
            count: 10,
            subject: crate::engine::report::finding::Subject::Endpoint(e),
            headline: Headline::Refused {
                endpoint: e,
                peers: Peers {
                    count: Distinct {
                        n: 1,
                        at_least: false,
                    },
                    listed: vec!["10.0.0.9".parse().unwrap()],
                },
                span,
                service: Service {
                    port: 5432,
                    name: Some("postgresql".into()),
                },
            },
            facts: vec![Fact::Retrying {
                attempts: 10,
                source_ports: Distinct {
                    n: 1024,
                    at_least: true,
                },
                peak: PeakSecond {
                    sec: 47_743,
                    events: 2,
                },
                clients: Distinct {
                    n: 1,
                    at_least: false,
                },
            }],
            next_steps: vec![Step::CheckWhatListens(e)],
        };
        let w = word(&f);
        assert_eq!(
            w.title,
            "10.0.0.5:5432 refused 10 connection attempts from 10.0.0.9 (2.0/s, 13:15:42–13:15:47): nothing accepted connections on tcp/5432 (postgresql)"
        );
        assert_eq!(
            w.evidence,
            vec![
                "10 attempts from at least 1024 source ports; peak 2 in one second (13:15:43); the client keeps retrying"
            ]
        );
        assert_eq!(
            w.next_steps,
            vec![
                "on 10.0.0.5, check what should listen on tcp/5432: `ss -ltnp 'sport = :5432'`, the service's logs, `systemctl --failed`"
            ]
        );
    }

    #[test]
    fn clients_by_name() {
        let g = ClientGroup {
            comm: "collectord".into(),
            uid: Some(0),
            cgroup: None,
            count: 6,
            processes: 6,
            pids: vec![10, 11, 12],
        };
        assert_eq!(
            client(&g),
            "collectord (6 processes: pids 10, 11, 12, …; uid 0): 6 attempts"
        );
        let one = ClientGroup {
            comm: "curl".into(),
            count: 1,
            processes: 1,
            pids: vec![99],
            ..g
        };
        assert_eq!(client(&one), "curl[99] (uid 0): 1 attempt");
    }

    #[test]
    fn the_listener_words_name_the_sysctl_only_when_it_is_on() {
        let mut l = ListenerReset {
            listener: "127.0.0.1:7300".parse().unwrap(),
            owner: Some(("slowacceptd".into(), 812)),
            abort_on_overflow: Some(1),
        };
        assert_eq!(
            listener_reset(&l),
            "accept queue of 127.0.0.1:7300 (slowacceptd pid 812) full: tcp_abort_on_overflow=1 resets clients"
        );
        l.abort_on_overflow = Some(0);
        assert!(
            listener_reset(&l)
                .starts_with("the listener 127.0.0.1:7300 (slowacceptd pid 812) reset")
        );
    }
}
