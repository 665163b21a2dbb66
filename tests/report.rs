//! The summary report, fed by hand-built events: the founding story, port scans, unanswered
//! SYNs, routine resets, storms, suspected injection, and the tables' caps.

use rsthound::engine::decode::TcpFlags;
use rsthound::engine::report::{Limits, Report, Severity};
use rsthound::engine::services::Services;
use rsthound::engine::track::zeek::History;
use rsthound::engine::track::{ConnState, ConnSummary, Endpoint, Evidence, RstEvent, Verdict};
use rsthound::model::LinkType;
use rsthound::model::timestamp::Timestamp;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

mod common;

use common::Shown;

/// 2025-11-21 13:15:42 UTC.
const T0: i64 = 1_763_730_942;

fn ep(s: &str) -> Endpoint {
    let a: SocketAddr = s.parse().unwrap();
    Endpoint {
        ip: a.ip(),
        port: a.port(),
    }
}

fn v4(a: u8, b: u8, c: u8, d: u8, port: u16) -> Endpoint {
    Endpoint {
        ip: IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
        port,
    }
}

/// T0 + `ms` milliseconds, microsecond precision.
fn at(ms: i64) -> Timestamp {
    Timestamp::from_nanos(T0 * 1_000_000_000 + ms * 1_000_000, 6)
}

fn conn(
    id: u64,
    orig: Endpoint,
    resp: Endpoint,
    start: Timestamp,
    last: Timestamp,
    state: ConnState,
) -> ConnSummary {
    ConnSummary {
        id,
        orig,
        resp,
        vlan: None,
        start,
        last,
        orig_pkts: 1,
        orig_bytes: 0,
        resp_pkts: 1,
        resp_bytes: 0,
        conn_state: state,
        history: History::default(),
        syns: 1,
        syn_gaps: None,
        first_verdict: None,
        evicted: false,
    }
}

fn rst(
    ts: Timestamp,
    from: Endpoint,
    to: Endpoint,
    from_orig: bool,
    verdict: Verdict,
    evidence: &str,
) -> RstEvent {
    let (orig, resp) = if from_orig { (from, to) } else { (to, from) };
    RstEvent {
        ts,
        frame: 0,
        link_type: LinkType::ETHERNET,
        iface: None,
        ifindex: None,
        direction: None,
        from,
        to,
        from_orig,
        flags: TcpFlags(TcpFlags::RST | TcpFlags::ACK),
        seq: 0,
        ack: Some(1),
        window: 0,
        ttl: 64,
        ip_id: None,
        payload_len: 0,
        payload_text: None,
        encap: Vec::new(),
        header_cut: None,
        verdict,
        evidence: Evidence::Text(evidence.to_string()),
        conn: conn(0, orig, resp, ts, ts, ConnState::Rstr),
        kernel: None,
    }
}

const FOUNDING_LINE: &str = "127.0.0.1:7211 refused 10 connection attempts from 127.0.0.1 (2.0/s, 13:15:42–13:15:47): nothing accepted connections on tcp/7211 (no well-known service)";

/// The founding story: a client hitting closed 127.0.0.1:7211 twice a second, while 5
/// connections to a healthy service on :8080 complete. Events in `order`.
fn founding_story(reverse: bool) -> Report {
    let mut events: Vec<(Option<RstEvent>, Option<ConnSummary>)> = Vec::new();
    let server = ep("127.0.0.1:7211");
    for i in 0..10 {
        let t = at(507 + 500 * i);
        let client = ep(&format!("127.0.0.1:{}", 41838 + i * 2));
        let mut r = rst(
            t,
            server,
            client,
            false,
            Verdict::Refused,
            &format!("answers the SYN from {client} (no SYN-ACK)"),
        );
        r.conn = conn(i as u64 + 1, client, server, t, t, ConnState::Rej);
        let ended = r.conn.clone();
        events.push((Some(r), None));
        events.push((None, Some(ended)));
    }
    for i in 0..5 {
        let client = ep(&format!("127.0.0.1:{}", 50000 + i));
        let c = conn(
            100 + i as u64,
            client,
            ep("127.0.0.1:8080"),
            at(300 + 900 * i),
            at(400 + 900 * i),
            ConnState::Sf,
        );
        events.push((None, Some(c)));
    }
    if reverse {
        events.reverse();
    }
    let mut report = Report::new(Services::builtin());
    for (r, c) in &events {
        if let Some(r) = r {
            report.add_rst(r);
        }
        if let Some(c) = c {
            report.add_ended(c);
        }
    }
    report
}

#[test]
fn founding_story_names_the_dead_service_first() {
    let report = founding_story(false);
    let text = report.render_text();
    eprintln!("{text}");
    assert!(text.contains(FOUNDING_LINE), "{text}");
    assert!(
        text.contains("next: check what should listen on tcp/7211: `ss -ltnp 'sport = :7211'`, the service's logs, `systemctl --failed`"),
        "{text}"
    );
    assert!(
        text.contains("meanwhile 127.0.0.1:8080 (http-alt) completed 5 connections normally: the host is up, only tcp/7211 has no listener"),
        "{text}"
    );
    assert!(text.contains("peak 2 in one second"), "{text}");
    assert!(text.contains("10 attempts from 10 source ports"), "{text}");

    let findings = report.worded();
    assert_eq!(findings[0].kind, "service_down");
    assert_eq!(findings[0].severity, Severity::Alarming);
    assert_eq!(findings[0].count, 10);
    assert!(findings[0].title.contains(FOUNDING_LINE));
    assert_eq!(findings.len(), 1, "{findings:#?}");

    let j = report.to_json();
    assert_eq!(j["findings"][0]["severity"], "alarming");
    assert_eq!(j["findings"][0]["kind"], "service_down");
    let row = &j["by_endpoint"]["rows"][0];
    assert_eq!(row["endpoint"], "127.0.0.1:7211");
    assert_eq!(row["kind"], "refused");
    assert_eq!(j["totals"]["rsts_by_verdict"]["refused"], 10);
    assert_eq!(row["count"], 10);
    assert_eq!(row["rate_per_sec"], 2.0);
    assert_eq!(row["peak_per_sec"], 2);
    assert_eq!(row["distinct_peers"], 1);
    assert_eq!(row["distinct_peer_ports"], 10);
    assert_eq!(row["first"], "2025-11-21T13:15:42.507000Z");
    assert_eq!(row["last"], "2025-11-21T13:15:47.007000Z");
    assert_eq!(
        j["by_service"]["rows"][0]["description"],
        "tcp/7211 (no well-known service)"
    );
    assert_eq!(j["by_peer"]["rows"][0]["peer"], "127.0.0.1");
    assert_eq!(j["totals"]["rsts"], 10);
    assert_eq!(j["totals"]["healthy"], 5);
    assert_eq!(j["totals"]["connections_ended"], 15);
    assert_eq!(j["healthy_by_service"][0]["service"], "http-alt");
}

#[test]
fn output_is_deterministic_and_independent_of_event_order() {
    let a = founding_story(false);
    let b = founding_story(true);
    assert_eq!(a.render_text(), a.render_text());
    assert_eq!(a.render_text(), b.render_text());
    assert_eq!(a.to_json(), b.to_json());
}

#[test]
fn a_single_refusal_has_no_rate() {
    let mut r = Report::new(Services::builtin());
    r.add_rst(&rst(
        at(0),
        ep("10.0.0.5:5432"),
        ep("10.0.0.7:40000"),
        false,
        Verdict::Refused,
        "answers the SYN",
    ));
    let text = r.render_text();
    assert!(
        text.contains("[warning] 10.0.0.5:5432 refused 1 connection attempt from 10.0.0.7 (13:15:42): nothing accepted connections on tcp/5432 (postgresql)\n"),
        "{text}"
    );
    assert!(!text.contains("/s"), "{text}");
    assert_eq!(
        r.to_json()["by_endpoint"]["rows"][0]["rate_per_sec"],
        serde_json::Value::Null
    );
    // A second endpoint refused once: one warning for both.
    r.add_rst(&rst(
        at(700),
        ep("10.0.0.6:6379"),
        ep("10.0.0.7:40001"),
        false,
        Verdict::Refused,
        "answers the SYN",
    ));
    let text = r.render_text();
    assert!(
        text.contains(
            "[warning] 2 refused connection attempts at 2 endpoints (13:15:42; fewer than 3 each)"
        ),
        "{text}"
    );
    assert!(
        text.contains("    10.0.0.6:6379 (redis): 1 attempt from 10.0.0.7 (13:15:42)\n"),
        "{text}"
    );
}

#[test]
fn port_scan_is_one_finding_not_thirty() {
    let mut r = Report::new(Services::builtin());
    for (i, port) in (1..=30u16).enumerate() {
        r.add_rst(&rst(
            at(i as i64 * 10),
            v4(10, 0, 0, 5, port),
            v4(10, 9, 9, 9, 60000),
            false,
            Verdict::Refused,
            "answers the SYN",
        ));
    }
    let findings = r.worded();
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].kind, "port_scan");
    assert!(
        findings[0]
            .title
            .starts_with("10.9.9.9 was refused on 30 ports of 1 host ("),
        "{}",
        findings[0].title
    );
    assert!(findings[0].evidence[0].starts_with("ports tried: 1, 2, 3,"));
    let text = r.render_text();
    eprintln!("{text}");
    assert!(text.contains("looks like a port scan"), "{text}");
}

#[test]
fn many_sources_refused_on_one_port_of_several_hosts() {
    let mut r = Report::new(Services::builtin());
    for i in 0..40u8 {
        let server = v4(10, 0, 0, 1 + i % 4, 445);
        r.add_rst(&rst(
            at(i64::from(i) * 100),
            server,
            v4(192, 168, 1, i, 50000),
            false,
            Verdict::Refused,
            "answers the SYN",
        ));
    }
    let f = r.worded();
    assert_eq!(f[0].kind, "refused_on_many_hosts", "{f:#?}");
    assert!(
        f[0].title
            .starts_with("4 hosts refused 40 connection attempts on tcp/445 (smb) from 40 clients"),
        "{}",
        f[0].title
    );
    assert!(!f.iter().any(|x| x.kind == "service_down"), "{f:#?}");
}

#[test]
fn unanswered_syns_are_grouped_by_destination() {
    let mut r = Report::new(Services::builtin());
    let dst = ep("10.0.0.9:443");
    for i in 0..4 {
        let mut c = conn(
            i,
            v4(10, 0, 0, 7, 40000 + i as u16),
            dst,
            at(i as i64 * 2000),
            at(i as i64 * 2000 + 3000),
            ConnState::S0,
        );
        c.syns = 3;
        r.add_ended(&c);
    }
    r.add_ended(&conn(
        9,
        ep("10.0.0.7:39999"),
        ep("10.0.0.9:22"),
        at(0),
        at(100),
        ConnState::Sf,
    ));
    let f = r.worded();
    assert_eq!(f[0].kind, "unanswered");
    assert_eq!(f[0].severity, Severity::Alarming);
    assert!(
        f[0].title.starts_with("10.0.0.9:443 never answered 4 connection attempts from 10.0.0.7 (0.5/s, 13:15:42–13:15:48): SYNs to tcp/443 (https) were filtered or dropped, or the host is down"),
        "{}",
        f[0].title
    );
    let text = r.render_text();
    eprintln!("{text}");
    assert!(text.contains("SYN sent 12 times in all"), "{text}");
    assert!(
        text.contains("meanwhile 10.0.0.9:22 (ssh) completed 1 connection normally"),
        "{text}"
    );
    assert!(text.contains("`nc -vz -w 3 10.0.0.9 443`"), "{text}");
    assert_eq!(r.to_json()["by_endpoint"]["rows"][0]["syns"], 12);
}

#[test]
fn unanswered_host_with_nothing_working_says_so() {
    let mut r = Report::new(Services::builtin());
    for i in 0..3 {
        r.add_ended(&conn(
            i,
            ep("10.0.0.7:40000"),
            ep("10.0.0.99:80"),
            at(i as i64 * 1000),
            at(i as i64 * 1000),
            ConnState::S0,
        ));
    }
    let text = r.render_text();
    assert!(
        text.contains("no connection to 10.0.0.99 completed in this capture"),
        "{text}"
    );
}

#[test]
fn routine_resets_are_normal_and_rank_below_alarms() {
    let mut r = Report::new(Services::builtin());
    let server = ep("10.0.0.5:80");
    for i in 0..50 {
        r.add_rst(&rst(
            at(i * 1000),
            server,
            v4(10, 0, 1, (i % 200) as u8, 40000 + i as u16),
            false,
            Verdict::ResetAfterClose,
            "the sender had closed (FIN) 5000 ms earlier; the peer sent more after that",
        ));
    }
    for i in 0..3 {
        r.add_rst(&rst(
            at(i * 1000),
            ep("10.0.0.5:9999"),
            ep("10.0.0.8:41000"),
            false,
            Verdict::Refused,
            "answers the SYN",
        ));
    }
    let f = r.worded();
    assert_eq!(f[0].kind, "service_down");
    assert_eq!(f.last().unwrap().severity, Severity::Routine);
    let text = r.render_text();
    eprintln!("{text}");
    let normal = text.find("normal:\n").expect(&text);
    let alarm = text
        .find("[alarming] 10.0.0.5:9999 refused 3")
        .expect(&text);
    assert!(alarm < normal, "{text}");
    assert!(
        text.contains(
            "    50 resets after close (server closing idle keep-alive connections): normal\n"
        ),
        "{text}"
    );
    assert!(!text.contains("[routine]"), "{text}");
}

#[test]
fn only_routine_resets_means_nothing_failed() {
    let mut r = Report::new(Services::builtin());
    for i in 0..12 {
        r.add_rst(&rst(
            at(i * 100),
            ep("10.0.0.5:80"),
            ep("10.0.0.6:40000"),
            false,
            Verdict::ResetAfterClose,
            "after FIN",
        ));
    }
    let text = r.render_text();
    assert!(
        text.starts_with("nothing failed: only routine resets"),
        "{text}"
    );
    assert!(
        text.contains("12 resets after close (server closing idle keep-alive connections): normal"),
        "{text}"
    );
    let j = r.to_json();
    assert_eq!(j["by_endpoint"]["rows"][0]["kind"], "reset_after_close");
    assert_eq!(j["totals"]["rsts_by_verdict"]["reset_after_close"], 12);
    assert_eq!(j["findings"][0]["severity"], "routine");
}

#[test]
fn nothing_failed_is_one_line() {
    let mut r = Report::new(Services::builtin());
    for i in 0..3 {
        r.add_ended(&conn(
            i,
            ep("10.0.0.7:40000"),
            ep("10.0.0.9:443"),
            at(0),
            at(10),
            ConnState::Sf,
        ));
    }
    let text = r.render_text();
    assert_eq!(
        text,
        "nothing failed: no RSTs and no unanswered connection attempts (3 connections completed normally)\n"
    );
    assert!(r.worded().is_empty());
    assert_eq!(
        Report::new(Services::builtin())
            .render_text()
            .lines()
            .count(),
        1
    );
}

#[test]
fn storm_is_a_burst_far_above_the_typical_second() {
    let mut r = Report::new(Services::builtin());
    let server = ep("10.0.0.5:443");
    // One abort per second for a minute, and 300 more in second 30 (in time order).
    for s in 0..60 {
        r.add_rst(&rst(
            at(s * 1000 + 100),
            server,
            v4(10, 0, 1, 1, 40000),
            false,
            Verdict::ResetByServer,
            "server aborted",
        ));
        if s == 30 {
            for i in 0..300 {
                r.add_rst(&rst(
                    at(30_000 + 200 + i),
                    server,
                    v4(10, 0, 2, (i % 250) as u8, 40000 + i as u16),
                    false,
                    Verdict::ResetByServer,
                    "server aborted",
                ));
            }
        }
    }
    let f = r.worded();
    let storm = f.iter().find(|x| x.kind == "rst_storm").expect("storm");
    assert_eq!(storm.severity, Severity::Alarming);
    assert_eq!(
        storm.title,
        "RST storm: 301 RSTs in 1 second (13:16:12), peak 301 in one second"
    );
    assert!(
        storm
            .evidence
            .iter()
            .any(|e| e == "a typical second of the capture had 1 RST"),
        "{storm:#?}"
    );
    assert!(
        storm.evidence.iter().any(|e| e == "10.0.0.5:443 (https) sent 301 RSTs (reset by server) in its busiest second (13:16:12)"),
        "{storm:#?}"
    );
    assert_eq!(f[0].kind, "rst_storm");
    let text = r.render_text();
    eprintln!("{text}");
    assert!(
        text.contains("[warning] 360 connections reset by the server"),
        "{text}"
    );
}

#[test]
fn a_steady_high_rate_is_not_a_storm_but_a_lone_burst_is() {
    let mut r = Report::new(Services::builtin());
    for s in 0..20 {
        for i in 0..150 {
            r.add_rst(&rst(
                at(s * 1000 + i),
                ep("10.0.0.5:80"),
                ep("10.0.0.6:40000"),
                false,
                Verdict::ResetByServer,
                "x",
            ));
        }
    }
    assert!(!r.worded().iter().any(|f| f.kind == "rst_storm"));

    let mut r = Report::new(Services::builtin());
    // Quiet capture: healthy connections for a minute, and one burst.
    for s in 0..60 {
        r.add_ended(&conn(
            s as u64,
            ep("10.0.0.6:40000"),
            ep("10.0.0.5:80"),
            at(s * 1000),
            at(s * 1000 + 10),
            ConnState::Sf,
        ));
    }
    for i in 0..120 {
        r.add_rst(&rst(
            at(10_000 + i),
            ep("10.0.0.5:80"),
            ep("10.0.0.6:40000"),
            false,
            Verdict::ResetByServer,
            "x",
        ));
    }
    let f = r.worded();
    let storm = f.iter().find(|x| x.kind == "rst_storm").expect("storm");
    assert!(
        storm
            .evidence
            .iter()
            .any(|e| e == "most seconds of the capture had no RST")
    );
}

#[test]
fn suspected_injection_and_kept_talking_are_alarming() {
    let mut r = Report::new(Services::builtin());
    let web = ep("93.184.216.34:443");
    r.add_rst(&rst(
        at(0),
        web,
        ep("10.0.0.6:40000"),
        false,
        Verdict::SuspectedInjected,
        "TTL 250 unlike the 52 of the sender's 8 other packets",
    ));
    r.add_kept_talking(at(40), web);
    for i in 0..20 {
        r.add_rst(&rst(
            at(i * 10),
            ep("10.0.0.5:80"),
            ep("10.0.0.6:40001"),
            false,
            Verdict::ResetAfterClose,
            "after FIN",
        ));
    }
    let f = r.worded();
    assert_eq!(f[0].kind, "suspected_injection");
    assert_eq!(f[0].severity, Severity::Alarming);
    assert_eq!(
        f[0].title,
        "1 RST looks injected, and 1 sender kept sending after its own RST: a middlebox, IDS or censor may have forged it"
    );
    let text = r.render_text();
    eprintln!("{text}");
    assert!(text.contains("TTL 250 unlike the 52"), "{text}");
    assert!(
        text.contains("kept sending after its RST (1 time, 13:15:42)"),
        "{text}"
    );
}

#[test]
fn hostile_evidence_never_reaches_the_terminal_raw() {
    let mut r = Report::new(Services::builtin());
    for i in 0..3 {
        r.add_rst(&rst(
            at(i * 10),
            ep("10.0.0.5:80"),
            ep("10.0.0.6:40000"),
            false,
            Verdict::Refused,
            "bad \x1b[2J\u{202e} text\r\n",
        ));
    }
    let text = r.render_text();
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "{text:?}"
    );
    assert!(!text.contains('\u{202e}'));
    assert!(text.contains("bad \\x1b[2J"), "{text}");
}

#[test]
fn full_tables_are_reported() {
    let limits = Limits {
        max_keys: 50,
        ..Limits::default()
    };
    let mut r = Report::with_limits(Services::builtin(), limits);
    for i in 0..60u8 {
        r.add_rst(&rst(
            at(i64::from(i)),
            v4(10, 1, 0, i, 80),
            v4(10, 2, 0, i, 40000),
            false,
            Verdict::Refused,
            "answers the SYN",
        ));
    }
    assert_eq!(r.rsts(), 60);
    let text = r.render_text();
    assert!(
        text.contains("note: report tables full (50 keys each): events not grouped: 10 by endpoint, 10 by peer; totals still count them"),
        "{text}"
    );
    let j = r.to_json();
    assert_eq!(j["overflow"]["by_endpoint"], 10);
    assert_eq!(j["overflow"]["by_peer"], 10);
    assert_eq!(j["by_endpoint"]["keys"], 50);
    assert_eq!(j["totals"]["rsts"], 60);
    // What fits is still told: 60 clients refused on tcp/80 by the 50 hosts the table holds.
    assert!(
        text.contains(
            "[alarming] 50 hosts refused 60 connection attempts on tcp/80 (http) from 60 clients"
        ),
        "{text}"
    );
}

#[test]
fn default_cap_of_distinct_endpoints_holds() {
    let mut r = Report::new(Services::builtin());
    let cap = Limits::default().max_keys;
    let n = cap + 7;
    for i in 0..n {
        let ip = IpAddr::V4(Ipv4Addr::from(0x0a00_0000u32 + i as u32));
        r.add_rst(&rst(
            at(i as i64 / 100),
            Endpoint { ip, port: 80 },
            ep("192.168.0.1:40000"),
            false,
            Verdict::Refused,
            "answers the SYN",
        ));
    }
    let j = r.to_json();
    assert_eq!(j["by_endpoint"]["keys"], cap);
    assert_eq!(j["overflow"]["by_endpoint"], 7);
    assert_eq!(j["by_endpoint"]["rows"].as_array().unwrap().len(), 1000);
    assert_eq!(j["by_endpoint"]["omitted"], cap - 1000);
    assert!(r.render_text().contains("7 by endpoint"));
}

#[test]
fn distinct_budget_makes_counts_lower_bounds() {
    let limits = Limits {
        distinct_budget: 10,
        ..Limits::default()
    };
    let mut r = Report::with_limits(Services::builtin(), limits);
    for i in 0..20u8 {
        r.add_rst(&rst(
            at(i64::from(i) * 100),
            ep("10.0.0.5:5432"),
            v4(10, 2, 0, i, 40000),
            false,
            Verdict::Refused,
            "answers the SYN",
        ));
    }
    let text = r.render_text();
    assert!(
        text.contains("note: distinct-peer memory full (10 entries)"),
        "{text}"
    );
    assert!(text.contains("from at least"), "{text}");
}

#[test]
fn severity_serializes_lower_case() {
    assert_eq!(
        serde_json::to_value(Severity::Alarming).unwrap(),
        "alarming"
    );
    assert_eq!(serde_json::to_value(Severity::Warning).unwrap(), "warning");
    assert_eq!(serde_json::to_value(Severity::Routine).unwrap(), "routine");
    assert!(Severity::Alarming < Severity::Warning && Severity::Warning < Severity::Routine);
}
