//! Zeek's connection rules (docs/zeek-rules.md), one crafted capture each, checked through
//! `read --connections --json`: when a 5-tuple is one record and when it is two, and the
//! `conn_state` each record gets.

mod common;

use common::*;
use rsthound::engine::decode::TcpFlags;
use rsthound::testkit::scenario::{Conn, Script, Side};
use rsthound::testkit::synth::TcpSpec;

const SEC: i64 = 1_000_000_000;
const MS: i64 = 1_000_000;
const T0: i64 = 1_765_000_000 * SEC;

fn conn() -> Conn {
    // A client port that is no likely server port, a server port that is.
    Conn::new((ip("10.3.0.2"), 50_000), (ip("10.3.0.1"), 443), 100, 900)
}

/// The records of `read --connections --json`: (conn_state, history).
fn records(tmp: &TempDir, name: &str, s: Script) -> Vec<(String, String)> {
    let path = tmp.write(name, &s.pcapng("eth0"));
    let o = rsthound(&["read", "--connections", "--json", &path], None);
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["type"] == "conn")
        .map(|v| {
            (
                v["conn_state"].as_str().unwrap().to_string(),
                v["history"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn data(s: &mut Script, c: &mut Conn, side: Side, at: i64) {
    let seg = c.segment(side, TcpFlags::ACK | TcpFlags::PSH, b"hello");
    s.push(at, &seg);
}

fn flags(s: &mut Script, c: &mut Conn, side: Side, f: u16, at: i64) {
    let seg = c.segment(side, f, &[]);
    s.push(at, &seg);
}

/// ExpireTimer: the client sent FIN, the server keeps sending for a minute and closes much
/// later. Neither both closed, nor a reset, nor a silent side: one record, SF.
#[test]
fn half_closed_connection_stays_whole() {
    let tmp = TempDir::new("zr-halfclose");
    let (mut s, mut c) = (Script::default(), conn());
    s.handshake(T0, &mut c, MS);
    data(&mut s, &mut c, Side::Client, T0 + 2 * MS);
    flags(
        &mut s,
        &mut c,
        Side::Client,
        TcpFlags::FIN | TcpFlags::ACK,
        T0 + 3 * MS,
    );
    for i in 1..=6 {
        data(&mut s, &mut c, Side::Server, T0 + i * 10 * SEC);
    }
    flags(
        &mut s,
        &mut c,
        Side::Server,
        TcpFlags::FIN | TcpFlags::ACK,
        T0 + 70 * SEC,
    );
    flags(
        &mut s,
        &mut c,
        Side::Client,
        TcpFlags::ACK,
        T0 + 70 * SEC + MS,
    );
    let got = records(&tmp, "halfclose.pcapng", s);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "SF", "{got:?}");
}

/// ExpireTimer / close_complete: both sides closed; a packet 10 s later (more than
/// tcp_close_delay) is a record of its own.
#[test]
fn after_both_closed_a_late_packet_is_a_new_record() {
    let tmp = TempDir::new("zr-bothclosed");
    let (mut s, mut c) = (Script::default(), conn());
    s.handshake(T0, &mut c, MS);
    flags(
        &mut s,
        &mut c,
        Side::Client,
        TcpFlags::FIN | TcpFlags::ACK,
        T0 + 2 * MS,
    );
    flags(
        &mut s,
        &mut c,
        Side::Server,
        TcpFlags::FIN | TcpFlags::ACK,
        T0 + 3 * MS,
    );
    flags(&mut s, &mut c, Side::Client, TcpFlags::ACK, T0 + 4 * MS);
    data(&mut s, &mut c, Side::Server, T0 + 10 * SEC);
    let got = records(&tmp, "bothclosed.pcapng", s);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].0, "SF");
    assert_eq!(got[1].0, "OTH");
}

/// close_complete: a reset ends the record; a packet 10 s later starts another.
#[test]
fn after_a_reset_a_late_packet_is_a_new_record() {
    let tmp = TempDir::new("zr-reset");
    let (mut s, mut c) = (Script::default(), conn());
    s.handshake(T0, &mut c, MS);
    data(&mut s, &mut c, Side::Client, T0 + 2 * MS);
    flags(
        &mut s,
        &mut c,
        Side::Server,
        TcpFlags::RST | TcpFlags::ACK,
        T0 + 3 * MS,
    );
    data(&mut s, &mut c, Side::Client, T0 + 10 * SEC);
    let got = records(&tmp, "reset.pcapng", s);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].0, "RSTR");
}

/// close_complete: one side closed while the other had sent nothing (Zeek's SHR): the record
/// ends tcp_close_delay after that FIN, so the other side's ACK 7 s later is a record of its
/// own.
#[test]
fn a_close_with_a_silent_peer_ends_the_record() {
    let tmp = TempDir::new("zr-silent");
    let mut s = Script::default();
    // Capture began mid-connection: the server's FIN first, the client's ACK 7 s later.
    let fin = TcpSpec::new(
        ip("10.3.0.1"),
        80,
        ip("10.3.0.2"),
        1577,
        TcpFlags::FIN | TcpFlags::ACK,
    )
    .seq(5_000)
    .ack(7_000);
    s.push(T0, &fin);
    let ack = TcpSpec::new(ip("10.3.0.2"), 1577, ip("10.3.0.1"), 80, TcpFlags::ACK)
        .seq(7_000)
        .ack(5_001);
    s.push(T0 + 7 * SEC, &ack);
    let got = records(&tmp, "silent.pcapng", s);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0], ("SHR".to_string(), "^f".to_string()), "{got:?}");
}

/// UpdateEstablishedState: FIN then RST from one side, then the peer's FIN: a normal close (SF),
/// not RSTO.
#[test]
fn fin_rst_then_the_peers_fin_is_a_normal_close() {
    let tmp = TempDir::new("zr-finrst");
    let (mut s, mut c) = (Script::default(), conn());
    s.handshake(T0, &mut c, MS);
    data(&mut s, &mut c, Side::Client, T0 + 2 * MS);
    flags(
        &mut s,
        &mut c,
        Side::Client,
        TcpFlags::FIN | TcpFlags::ACK,
        T0 + 3 * MS,
    );
    flags(&mut s, &mut c, Side::Client, TcpFlags::RST, T0 + 4 * MS);
    flags(
        &mut s,
        &mut c,
        Side::Server,
        TcpFlags::FIN | TcpFlags::ACK,
        T0 + 5 * MS,
    );
    let got = records(&tmp, "finrst.pcapng", s);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "SF", "{got:?}");
}

/// WantConnection: a SYN-ACK first, between two ports that are no likely servers, does not
/// flip roles (Zeek: flipping on SYN-ACKs "doesn't work for stealth scans"): its sender is the
/// originator, history `H`.
#[test]
fn a_lone_syn_ack_is_not_flipped() {
    let tmp = TempDir::new("zr-synack");
    let mut s = Script::default();
    let synack = TcpSpec::new(
        ip("10.3.0.1"),
        40_001,
        ip("10.3.0.2"),
        40_002,
        TcpFlags::SYN | TcpFlags::ACK,
    )
    .seq(1)
    .ack(2);
    s.push(T0, &synack);
    let got = records(&tmp, "synack.pcapng", s);
    assert_eq!(got, vec![("OTH".to_string(), "H".to_string())]);
}

/// tcp_attempt_delay: SYNs retransmitted with one ISN at 0, 1, 3, 7 s get no answer. Zeek
/// logs the attempt 5 s after it began and the SYN at 7 s starts another record: two S0
/// records in `--connections`, while the unanswered lines keep one attempt of 4 SYNs.
#[test]
fn attempt_delay_splits_connections_but_not_the_attempt() {
    let tmp = TempDir::new("zr-attempt");
    let mut s = Script::default();
    for t in [0, 1, 3, 7] {
        let syn =
            TcpSpec::new(ip("10.3.0.2"), 50_500, ip("10.3.0.1"), 443, TcpFlags::SYN).seq(4242);
        s.push(T0 + t * SEC, &syn);
    }
    let bytes = s.pcapng("eth0");
    let path = tmp.write("attempt.pcapng", &bytes);
    let o = rsthound(&["read", "--connections", "--json", &path], None);
    let conns: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["type"] == "conn")
        .collect();
    assert_eq!(conns.len(), 2, "{conns:?}");
    assert!(conns.iter().all(|c| c["conn_state"] == "S0"), "{conns:?}");
    let o = rsthound(&["read", &path], None);
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().filter(|l| l.contains("unanswered")).collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(lines[0].contains("unanswered: 4 SYNs over 7.0 s"), "{out}");
}
