//! Our connection states against Zeek's own conn.log baselines (`zeek/EXPECTED_CONNS.tsv`):
//! every TCP connection, matched on the 5-tuple in order, honouring the notes in INDEX.md (`-C`:
//! without it Zeek drops packets with bad checksums; `-f`: a BPF filter limited the input).

mod common;

use rsthound::engine::decode::{Outcome, decode, tcp_checksum_ok};
use rsthound::engine::track::{ConnSummary, Event, SegMeta, Tracker, TrackerConfig};
use rsthound::source::capture::{CaptureReader, FileAccess, open_input};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// (trace, ignore checksums, bare mode, filter ports): what decides our result for a trace.
type CacheKey = (String, bool, bool, Option<Vec<u16>>);

struct Baseline {
    ignore_checksums: bool,
    /// `zeek -b`: bare mode loads no protocol analyzers, so no port counts as a likely server.
    bare: bool,
    filter_ports: Option<Vec<u16>>,
}

/// The three BPF filters the baselines use are all port filters.
fn parse_filter(f: &str) -> Option<Vec<u16>> {
    if f == "-" {
        return None;
    }
    Some(
        f.split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect(),
    )
}

fn track(path: &Path, b: &Baseline) -> Vec<ConnSummary> {
    let input = open_input(path, FileAccess::Mmap).unwrap();
    let mut reader = CaptureReader::from_input(input).unwrap();
    let mut tracker = Tracker::new(TrackerConfig {
        port_heuristic: !b.bare,
        // As `read --connections` runs it.
        zeek_attempt_delay_ns: Some(rsthound::engine::track::ZEEK_ATTEMPT_DELAY_NS),
        ..TrackerConfig::default()
    });
    let mut out = Vec::new();
    let mut frame = 0;
    while let Ok(Some(p)) = reader.next_packet() {
        frame += 1;
        let Outcome::Tcp(seg) = decode(p.link_type, p.data) else {
            continue;
        };
        // Zeek ignores a segment whose header (options included) was not captured whole.
        if usize::from(seg.raw[12] >> 4) * 4 > seg.raw.len() {
            continue;
        }
        if !b.ignore_checksums && tcp_checksum_ok(&seg) == Some(false) {
            continue;
        }
        if let Some(ports) = &b.filter_ports
            && !ports.contains(&seg.sport)
            && !ports.contains(&seg.dport)
        {
            continue;
        }
        let meta = SegMeta {
            ts: p.ts,
            frame,
            link_type: p.link_type,
            iface: 0,
            iface_name: None,
            direction: p.direction,
            ifindex: None,
        };
        tracker.observe(&meta, &seg);
        out.extend(tracker.drain().filter_map(|e| {
            if let Event::Ended(c) = e {
                Some(*c)
            } else {
                None
            }
        }));
    }
    tracker.finish();
    out.extend(tracker.drain().filter_map(|e| {
        if let Event::Ended(c) = e {
            Some(*c)
        } else {
            None
        }
    }));
    out.sort_by_key(|c| (c.start, c.id));
    out
}

/// Whether a Zeek test script loads protocol analyzers (whose ports then count as likely
/// server ports, even in bare mode).
fn loads_protocols(test: &Path) -> bool {
    std::fs::read_to_string(test).is_ok_and(|t| {
        t.lines().any(|l| {
            let l = l.trim_start();
            // base/protocols/conn is the conn.log itself: no analyzer, no ports.
            (l.starts_with("@load base/protocols/") && !l.starts_with("@load base/protocols/conn"))
                || l.starts_with("@load base/frameworks/analyzer")
        })
    })
}

#[test]
fn conn_state_agrees_with_zeek() {
    let Some(dir) = common::peers_corpus() else {
        return;
    };
    let zeek = dir.join("zeek");
    let index = std::fs::read_to_string(zeek.join("INDEX.tsv")).unwrap();
    let mut baselines: HashMap<(String, String), Baseline> = HashMap::new();
    for line in index.lines().skip(1) {
        let c: Vec<&str> = line.split('\t').collect();
        baselines.insert(
            (c[0].to_string(), c[2].to_string()),
            Baseline {
                ignore_checksums: c[6] == "yes",
                // `-b` loads no analyzers, so Zeek's likely_server_ports is empty, unless the
                // test script loads protocol scripts, which register their ports.
                bare: c[5] == "yes" && !loads_protocols(&zeek.join(c[3])),
                filter_ports: parse_filter(c[7]),
            },
        );
    }
    let expected = std::fs::read_to_string(zeek.join("EXPECTED_CONNS.tsv")).unwrap();
    // (trace, baseline) -> rows in log order.
    let mut groups: BTreeMap<(String, String), Vec<Vec<String>>> = BTreeMap::new();
    for line in expected.lines().skip(1) {
        let c: Vec<String> = line.split('\t').map(String::from).collect();
        if c[7] == "tcp" {
            groups
                .entry((c[0].clone(), c[1].clone()))
                .or_default()
                .push(c);
        }
    }
    let (mut total, mut agree) = (0usize, 0usize);
    let mut disagreements = Vec::new();
    let mut cache: HashMap<CacheKey, Vec<ConnSummary>> = HashMap::new();
    for ((trace, baseline), rows) in &groups {
        let b = &baselines[&(trace.clone(), baseline.clone())];
        let key = (
            trace.clone(),
            b.ignore_checksums,
            b.bare,
            b.filter_ports.clone(),
        );
        let ours = cache
            .entry(key)
            .or_insert_with(|| track(&zeek.join("Traces").join(trace), b));
        let mut used = vec![false; ours.len()];
        for row in rows {
            total += 1;
            let (oh, op, rh, rp) = (&row[3], &row[4], &row[5], &row[6]);
            // Some baselines renamed the address columns away ("-"): match those on ports.
            let addr = |ip: std::net::IpAddr, want: &str| want == "-" || ip.to_string() == want;
            let same = |c: &ConnSummary, a: &str, ap: &str, z: &str, zp: &str| {
                addr(c.orig.ip, a)
                    && c.orig.port.to_string() == *ap
                    && addr(c.resp.ip, z)
                    && c.resp.port.to_string() == *zp
            };
            let found = (0..ours.len()).find(|&i| !used[i] && same(&ours[i], oh, op, rh, rp));
            let reason = match found {
                Some(i) => {
                    used[i] = true;
                    if ours[i].conn_state.as_str() == row[8] {
                        agree += 1;
                        continue;
                    }
                    format!(
                        "ours {} history {} vs zeek {} history {}",
                        ours[i].conn_state, ours[i].history, row[8], row[9]
                    )
                }
                None => match (0..ours.len()).find(|&i| !used[i] && same(&ours[i], rh, rp, oh, op))
                {
                    Some(i) => {
                        used[i] = true;
                        format!(
                            "roles reversed: ours {} {} vs zeek {} {}",
                            ours[i].conn_state, ours[i].history, row[8], row[9]
                        )
                    }
                    None => format!("no such connection in ours (zeek {} {})", row[8], row[9]),
                },
            };
            disagreements.push(format!(
                "{trace} [{baseline}] {oh}:{op} > {rh}:{rp}: {reason}"
            ));
        }
    }
    let rate = agree as f64 * 100.0 / total as f64;
    println!("conn_state agrees with Zeek on {agree} of {total} TCP connections ({rate:.1} %)");
    for d in &disagreements {
        println!("DISAGREE {d}");
    }
    assert!(rate >= 97.0, "agreement {rate:.1} % is below 97 %");
}
