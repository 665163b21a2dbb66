//! One attempt stays one attempt: SYNs retransmitted with the same initial sequence number
//! belong to one attempt however long the backoff (Linux: 1, 2, 4 … 32 s apart, giving up
//! 64 s after the last), and its unanswered line is written when the attempt has ended, with
//! the SYN count and the backoff seen. Crafted captures.

mod common;

use common::*;
use rsthound::engine::decode::TcpFlags;
use rsthound::testkit::scenario::{Conn, Script};
use rsthound::testkit::synth::TcpSpec;

const SEC: i64 = 1_000_000_000;
const MS: i64 = 1_000_000;
const T0: i64 = 1_765_000_000 * SEC;

/// Linux's SYN times with tcp_syn_retries=6: 0, 1, 3, 7, 15, 31, 63 s.
const LINUX_SYNS: [i64; 7] = [0, 1, 3, 7, 15, 31, 63];

fn syn(isn: u32) -> TcpSpec {
    TcpSpec::new(ip("10.2.0.2"), 45_000, ip("10.2.0.9"), 8443, TcpFlags::SYN).seq(isn)
}

/// Another client refused by a closed port at `at` seconds: a RST line that marks the time in
/// the output (and packets that make the tracker sweep).
fn refused_at(s: &mut Script, at: i64, port: u16) {
    let mut c = Conn::new((ip("10.2.0.3"), port), (ip("10.2.0.1"), 7211), 9, 0);
    s.refused(T0 + at * SEC, &mut c, MS);
}

fn text(tmp: &TempDir, name: &str, s: Script) -> Vec<String> {
    let path = tmp.write(name, &s.pcapng("eth0"));
    let o = rsthound(&["read", &path], None);
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o).lines().map(str::to_string).collect()
}

/// Seven SYNs over 63 s, then silence while other traffic goes on: one unanswered line, with
/// the count and the backoff, written after the kernel would have given up (64 s after the
/// last SYN), not before.
#[test]
fn linux_backoff_is_one_attempt_ended_when_it_really_ends() {
    let tmp = TempDir::new("attempt-backoff");
    let mut s = Script::default();
    for t in LINUX_SYNS {
        s.push(T0 + t * SEC, &syn(77_000));
    }
    // Markers: refused attempts elsewhere at 100 s and at 140 s.
    refused_at(&mut s, 100, 50_001);
    refused_at(&mut s, 140, 50_002);
    let lines = text(&tmp, "backoff.pcapng", s);
    let unanswered: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].contains("unanswered"))
        .collect();
    assert_eq!(unanswered.len(), 1, "{lines:#?}");
    let line = &lines[unanswered[0]];
    assert!(
        line.contains(
            "unanswered: 7 SYNs over 63.0 s (retransmitted after 1.0 s, the last after 32.0 s)"
        ),
        "{line}"
    );
    // Written between the marker at 100 s and the one at 140 s (63 + 65 = 128 s).
    let at = |port: &str| lines.iter().position(|l| l.contains(port)).unwrap();
    assert!(
        at("50001") < unanswered[0] && unanswered[0] < at("50002"),
        "{lines:#?}"
    );
}

/// The client gives up 31 s after its sixth SYN and resets: the RST belongs to the attempt
/// (not "stray"), and there is no unanswered line for a piece of the attempt.
#[test]
fn the_clients_final_rst_belongs_to_its_attempt() {
    let tmp = TempDir::new("attempt-rst");
    let mut s = Script::default();
    for t in &LINUX_SYNS[..6] {
        s.push(T0 + t * SEC, &syn(5_000));
    }
    let rst = TcpSpec::new(ip("10.2.0.2"), 45_000, ip("10.2.0.9"), 8443, TcpFlags::RST).seq(5_001);
    s.push(T0 + 62 * SEC, &rst);
    refused_at(&mut s, 45, 50_003);
    let lines = text(&tmp, "rst.pcapng", s);
    assert!(
        !lines.iter().any(|l| l.contains("unanswered")),
        "{lines:#?}"
    );
    let rst_line = lines
        .iter()
        .find(|l| l.contains("10.2.0.2:45000 > "))
        .unwrap();
    assert!(!rst_line.contains("stray"), "{rst_line}");
    assert!(rst_line.contains("reset by client"), "{rst_line}");
}

/// A SYN with a new initial sequence number is a new attempt, however soon it comes.
#[test]
fn a_new_isn_is_a_new_attempt() {
    let tmp = TempDir::new("attempt-isn");
    let mut s = Script::default();
    s.push(T0, &syn(1_000));
    s.push(T0 + SEC, &syn(1_000));
    s.push(T0 + 2 * SEC, &syn(9_999_000));
    let lines = text(&tmp, "isn.pcapng", s);
    let unanswered: Vec<&String> = lines.iter().filter(|l| l.contains("unanswered")).collect();
    assert_eq!(unanswered.len(), 2, "{lines:#?}");
    assert!(
        unanswered[0].contains("2 SYNs over 1.0 s (retransmitted after 1.0 s)"),
        "{unanswered:?}"
    );
    assert!(
        unanswered[1].contains("1 SYN over 0.0 s, no reply"),
        "{unanswered:?}"
    );
}

/// Live capture ends a refused attempt at its RST. Under a flood, a 5-tuple's next attempt
/// (new ISN) can come before the first attempt's RST: SYN A, SYN B, RST A, RST B. RST B then
/// finds no connection; as a RST/ACK with sequence number 0 it is the stack refusing a SYN,
/// never "stray".
#[test]
fn a_refusal_whose_syn_was_superseded_is_still_refused() {
    use rsthound::engine::decode::{Outcome, decode};
    use rsthound::engine::track::{Event, SegMeta, Tracker, TrackerConfig};
    let mut t = Tracker::new(TrackerConfig {
        headers_only: true,
        summarize_all_ended: false,
        refused_ends_at_rst: true,
        ..TrackerConfig::default()
    });
    let syn = |isn: u32| {
        TcpSpec::new(
            ip("127.0.0.1"),
            40_000,
            ip("127.0.0.1"),
            7211,
            TcpFlags::SYN,
        )
        .seq(isn)
    };
    let rst = |isn: u32| {
        TcpSpec::new(
            ip("127.0.0.1"),
            7211,
            ip("127.0.0.1"),
            40_000,
            TcpFlags::RST | TcpFlags::ACK,
        )
        .ack(isn + 1)
    };
    let frames = [syn(1000), syn(9000), rst(1000), rst(9000)];
    let mut verdicts = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        let bytes = f.ethernet();
        let Outcome::Tcp(seg) = decode(rsthound::model::LinkType::ETHERNET, &bytes) else {
            panic!("not TCP");
        };
        let meta = SegMeta {
            ts: ts(1_765_000_000, i as u64 * 10),
            frame: i as u64 + 1,
            link_type: rsthound::model::LinkType::ETHERNET,
            iface: 1,
            iface_name: None,
            direction: None,
            ifindex: Some(1),
        };
        t.observe(&meta, &seg);
        for e in t.drain() {
            if let Event::Rst(r) = e {
                verdicts.push((r.verdict.as_str(), r.evidence.to_string(), r.from));
            }
        }
    }
    assert_eq!(verdicts.len(), 2, "{verdicts:?}");
    for (v, e, from) in &verdicts {
        assert_eq!(*v, "refused", "{e}");
        assert_eq!(from.port, 7211);
    }
    assert!(
        verdicts[1]
            .1
            .contains("answers a SYN (seq 9000) not in the table"),
        "{verdicts:?}"
    );
}
