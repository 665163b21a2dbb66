//! One scenario capture per verdict (made by `rsthound::testkit::scenario`, shipped in `samples/`): the
//! verdicts, findings and JSON a user gets, checked against expectations and snapshots.
//! Set `UPDATE_SNAPSHOTS=1` to rewrite `tests/snapshots/` after an intended change.

mod common;

use common::*;
use rsthound::engine::track::ConnState;
use std::path::PathBuf;

fn sample(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// Runs `read --json` and returns (rst verdicts in order, all JSON lines with the file path
/// replaced by the file name so snapshots do not depend on the checkout's location).
fn run(name: &str) -> (Vec<String>, String) {
    let o = rsthound(&["read", "--json", &sample(name)], None);
    assert!(o.status.success(), "{name}: {}", stderr(&o));
    let verdicts = rst_rows(&o)
        .iter()
        .map(|v| v["verdict"].as_str().unwrap().to_string())
        .collect();
    (verdicts, stdout(&o).replace(&sample(name), name))
}

fn snapshot(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(format!("{name}.jsonl"));
    if std::env::var("UPDATE_SNAPSHOTS").is_ok() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_SNAPSHOTS=1)", path.display()));
    assert_eq!(actual, expected, "{name}: output differs from the snapshot");
}

fn text(name: &str) -> (String, String) {
    let o = rsthound(&["read", &sample(name)], None);
    (stdout(&o), stderr(&o))
}

#[test]
fn founding_story_names_the_closed_port_and_its_rate() {
    let (verdicts, json) = run("founding-story.pcapng");
    assert_eq!(verdicts, vec!["refused"; 10]);
    snapshot("founding-story", &json);
    let (out, err) = text("founding-story.pcapng");
    assert!(
        out.lines()
            .all(|l| l.contains(" | refused: answers the SYN from 127.0.0.1:")),
        "{out}"
    );
    let first_finding = err.lines().find(|l| l.starts_with('[')).unwrap();
    assert_eq!(
        first_finding,
        "[alarming] 127.0.0.1:7211 refused 10 connection attempts from 127.0.0.1 (2.0/s, 13:15:42–13:15:47): nothing accepted connections on tcp/7211 (no well-known service)"
    );
    assert!(
        err.contains("127.0.0.1:8080 (http-alt) completed 5 connections normally"),
        "{err}"
    );
}

#[test]
fn handshake_reset() {
    let (verdicts, json) = run("handshake-reset.pcapng");
    assert_eq!(verdicts, ["handshake_reset"]);
    snapshot("handshake-reset", &json);
}

#[test]
fn reset_by_client_and_by_server() {
    let (verdicts, json) = run("reset-by-client.pcapng");
    assert_eq!(verdicts, ["reset_by_client"]);
    snapshot("reset-by-client", &json);
    let (verdicts, json) = run("reset-by-server.pcapng");
    assert_eq!(verdicts, ["reset_by_server"]);
    snapshot("reset-by-server", &json);
    let (_, err) = text("reset-by-server.pcapng");
    assert!(err.contains("tcp/5432 (postgresql)"), "{err}");
}

#[test]
fn reset_after_close_is_routine() {
    let (verdicts, json) = run("reset-after-close.pcapng");
    assert_eq!(verdicts, ["reset_after_close"]);
    snapshot("reset-after-close", &json);
    let (_, err) = text("reset-after-close.pcapng");
    assert!(
        !err.contains("[alarming]") && !err.contains("[warning]"),
        "{err}"
    );
    assert!(err.contains("normal"), "{err}");
}

#[test]
fn stray_and_out_of_window() {
    let (verdicts, json) = run("stray.pcapng");
    assert_eq!(verdicts, ["stray"]);
    snapshot("stray", &json);
    let (verdicts, json) = run("out-of-window.pcapng");
    assert_eq!(verdicts, ["out_of_window"]);
    snapshot("out-of-window", &json);
}

#[test]
fn injected_rst_by_ttl_and_by_the_sender_talking_on() {
    let (verdicts, json) = run("injected.pcapng");
    assert_eq!(verdicts, ["suspected_injected"]);
    assert!(json.contains(r#""type":"note""#), "{json}");
    snapshot("injected", &json);
}

#[test]
fn unanswered_syns_are_failed_connections_too() {
    let (verdicts, json) = run("unanswered.pcapng");
    assert!(verdicts.is_empty());
    let rows: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let u = rows
        .iter()
        .find(|v| v["type"] == "unanswered")
        .expect("an unanswered record");
    assert_eq!(u["conn_state"], "S0");
    assert_eq!(u["syns"], 4);
    snapshot("unanswered", &json);
}

#[test]
fn connections_view_lists_every_connection_with_zeek_states() {
    let o = rsthound(
        &["read", "--connections", &sample("founding-story.pcapng")],
        None,
    );
    let out = stdout(&o);
    assert_eq!(out.lines().count(), 15, "{out}");
    assert_eq!(
        out.lines().filter(|l| l.contains(" REJ Sr ")).count(),
        10,
        "{out}"
    );
    assert_eq!(
        out.lines().filter(|l| l.contains(" SF ShADdFf ")).count(),
        5,
        "{out}"
    );
    let o = rsthound(
        &[
            "read",
            "--connections",
            "--json",
            &sample("founding-story.pcapng"),
        ],
        None,
    );
    let conns: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["type"] == "conn")
        .collect();
    assert_eq!(conns.len(), 15);
    assert!(conns.iter().any(|c| c["conn_state"] == "REJ"
        && c["resp_p"] == 7211
        && c["fate"] == "refused by 127.0.0.1:7211"));
}

#[test]
fn write_keeps_the_failed_handshakes_with_verdict_comments() {
    let d = TempDir::new("write");
    let out = d.0.join("failed.pcapng").to_string_lossy().into_owned();
    let o = rsthound(
        &["read", "--write", &out, &sample("founding-story.pcapng")],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("wrote 20 packets of failed and reset connections"),
        "{}",
        stderr(&o)
    );
    // The written file is itself a capture: 10 SYNs and their 10 RSTs, nothing of the healthy service.
    let o = rsthound(&["read", "--json", &out], None);
    assert!(stderr(&o).contains("1 file, 20 packets"), "{}", stderr(&o));
    let rows = rst_rows(&o);
    assert_eq!(rows.len(), 10);
    assert!(
        rows.iter()
            .all(|r| r["verdict"] == "refused" && r["interface"] == "lo")
    );
    let bytes = std::fs::read(&out).unwrap();
    let comment = b"rsthound: refused: answers the SYN from 127.0.0.1:57340 (no SYN-ACK)";
    assert!(
        bytes.windows(comment.len()).any(|w| w == comment),
        "packet comment with the verdict"
    );
}

/// A SYN flood from far more distinct (spoofed) sources than `--max-conns`: the table stays at
/// the cap, the summary says how many connections were evicted, every attempt is still reported
/// as unanswered, and the report's tables, capped, count what they could not group.
#[test]
fn syn_flood_from_many_sources_keeps_the_table_at_the_cap() {
    use rsthound::engine::decode::{Outcome, decode};
    use rsthound::engine::report::{Limits, Report};
    use rsthound::engine::services::Services;
    use rsthound::engine::track::{Event, SegMeta, Tracker, TrackerConfig};

    const SOURCES: u32 = 5000;
    const CAP: usize = 200;
    let frames: Vec<_> = (0..SOURCES)
        .map(|i| (ts(1_763_730_942, u64::from(i) * 10), spoofed_syn(i)))
        .collect();

    // The tracker itself: never more than the cap, evictions counted.
    let mut t = Tracker::new(TrackerConfig {
        max_conns: CAP,
        summarize_all_ended: false,
        ..TrackerConfig::default()
    });
    let mut r = Report::with_limits(
        Services::builtin(),
        Limits {
            max_keys: 1000,
            ..Limits::default()
        },
    );
    let mut ended = 0u64;
    for (n, (when, f)) in frames.iter().enumerate() {
        let Outcome::Tcp(seg) = decode(rsthound::model::LinkType::ETHERNET, f) else {
            panic!("not TCP");
        };
        let meta = SegMeta {
            ts: *when,
            frame: n as u64 + 1,
            link_type: rsthound::model::LinkType::ETHERNET,
            iface: 0,
            iface_name: None,
            direction: None,
            ifindex: None,
        };
        t.observe(&meta, &seg);
        assert!(t.tracked() <= CAP, "{} tracked > cap {CAP}", t.tracked());
        for e in t.drain() {
            if let Event::Ended(c) = e {
                assert_eq!(c.conn_state, ConnState::S0);
                r.add_ended(&c);
                ended += 1;
            }
        }
    }
    assert_eq!(t.stats.peak_conns, CAP);
    assert_eq!(t.stats.evicted, ended);
    assert!(t.stats.evicted >= u64::from(SOURCES) - CAP as u64);
    while t.finish_some(64) {
        for e in t.drain() {
            if let Event::Ended(c) = e {
                r.add_ended(&c);
                ended += 1;
            }
        }
    }
    for e in t.drain() {
        if let Event::Ended(c) = e {
            r.add_ended(&c);
            ended += 1;
        }
    }
    assert_eq!(ended, u64::from(SOURCES));
    assert_eq!(t.tracked(), 0);
    // The report's per-peer table holds 1000 sources and counts the other 4000.
    let j = r.to_json();
    assert_eq!(j["totals"]["unanswered"], SOURCES);
    assert_eq!(j["by_peer"]["keys"], 1000);
    assert_eq!(j["overflow"]["by_peer"], SOURCES - 1000);
    assert!(
        r.render_text().contains(
            "note: report tables full (1000 keys each): events not grouped: 4000 by peer"
        ),
        "{}",
        r.render_text()
    );

    // The command: the summary reports the evictions and the cap.
    let dir = TempDir::new("flood");
    let path = dir.write("flood.pcap", &pcap_of(&frames));
    let o = rsthound(&["read", "--max-conns", &CAP.to_string(), &path], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "connection table full ({CAP} connections max, --max-conns): "
        )) && err.contains(" connections evicted early"),
        "{err}"
    );
    assert_eq!(
        stdout(&o)
            .lines()
            .filter(|l| l.contains("| unanswered: "))
            .count(),
        SOURCES as usize
    );
    let o = rsthound(
        &["read", "--json", "--max-conns", &CAP.to_string(), &path],
        None,
    );
    let summary: serde_json::Value =
        serde_json::from_str(stdout(&o).lines().last().unwrap()).unwrap();
    assert_eq!(summary["max_connections"], CAP);
    assert!(summary["evicted_connections"].as_u64().unwrap() >= u64::from(SOURCES) - CAP as u64);
    // A cap beyond what slot numbers can address is brought down to the largest one, and says so.
    let o = rsthound(
        &[
            "read",
            "--json",
            "--max-conns",
            &usize::MAX.to_string(),
            &path,
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value =
        serde_json::from_str(stdout(&o).lines().last().unwrap()).unwrap();
    assert_eq!(
        summary["max_connections"],
        rsthound::engine::track::MAX_CONNS
    );
    assert_eq!(summary["evicted_connections"], 0);
}

/// Live mode's `refused_ends_at_rst`: a refused attempt leaves the table at its RST (a storm
/// of refused connections keeps only the attempts in flight), and the next attempt on the same
/// 4-tuple, a new SYN, is refused again on its own connection.
#[test]
fn refused_attempts_end_at_their_rst_in_live_mode() {
    use rsthound::engine::decode::{Outcome, TcpFlags, decode};
    use rsthound::engine::track::{Event, SegMeta, Tracker, TrackerConfig, Verdict};
    use rsthound::testkit::synth::TcpSpec;

    for ends_at_rst in [false, true] {
        let mut t = Tracker::new(TrackerConfig {
            headers_only: true,
            summarize_all_ended: false,
            refused_ends_at_rst: ends_at_rst,
            ..TrackerConfig::default()
        });
        let lo: std::sync::Arc<str> = "lo".into();
        let mut verdicts = Vec::new();
        let mut closed = 0;
        for attempt in 0..3u32 {
            let isn = 1000 + attempt * 7919;
            let syn = TcpSpec::new(ip("127.0.0.1"), 40000, ip("127.0.0.1"), 7211, TcpFlags::SYN)
                .seq(isn)
                .ethernet();
            let rst = TcpSpec::new(
                ip("127.0.0.1"),
                7211,
                ip("127.0.0.1"),
                40000,
                TcpFlags::RST | TcpFlags::ACK,
            )
            .ack(isn + 1)
            .ethernet();
            for (k, f) in [syn, rst].iter().enumerate() {
                let Outcome::Tcp(seg) = decode(rsthound::model::LinkType::ETHERNET, f) else {
                    panic!("not TCP");
                };
                let meta = SegMeta {
                    ts: ts(1_763_730_942, u64::from(attempt) * 500_000 + k as u64 * 20),
                    frame: u64::from(attempt) * 2 + k as u64 + 1,
                    link_type: rsthound::model::LinkType::ETHERNET,
                    iface: 1,
                    iface_name: Some(&lo),
                    direction: None,
                    ifindex: Some(1),
                };
                t.observe(&meta, &seg);
                for e in t.drain() {
                    match e {
                        Event::Rst(r) => verdicts.push((r.verdict, r.conn.id)),
                        Event::Closed(c) => {
                            assert_eq!(c.conn_state, ConnState::Rej);
                            closed += 1;
                        }
                        other => panic!("unexpected {other:?}"),
                    }
                }
            }
            if ends_at_rst {
                assert_eq!(t.tracked(), 0, "the refused attempt left the table");
            }
        }
        let ids: Vec<u64> = verdicts.iter().map(|v| v.1).collect();
        assert_eq!(ids, [1, 2, 3], "three attempts, three connections");
        assert!(
            verdicts.iter().all(|v| v.0 == Verdict::Refused),
            "{verdicts:?}"
        );
        // Lingering: each attempt ends when the next SYN reuses the tuple (the last one
        // lingers); ending at the RST: every attempt ended at once.
        assert_eq!(closed, if ends_at_rst { 3 } else { 2 });
    }
}
