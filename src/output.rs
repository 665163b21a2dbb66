//! Rendering what the tracker found: a tcpdump-like text line per RST (with its verdict), per
//! unanswered connection attempt and per note, a conn.log-like line per connection; or the same
//! as one JSON object per line (schema in the README).

use crate::capture::Direction;
use crate::decode::{TcpFlags, TcpSegment};
use crate::sanitize::sanitize_text;
use crate::timestamp::Timestamp;
use crate::track::{ConnSummary, Endpoint, RstEvent, TextOut};
use serde::Serialize;
use std::io::{self, Write};
use std::net::IpAddr;

/// RST payloads (RFC 9293 §3.5.3 diagnostic text) longer than this are cut in the output.
const MAX_PAYLOAD_TEXT: usize = 120;
/// The bytes of a payload its text can depend on: the characters shown (at most 4 bytes each),
/// one more (which decides the `…`), and the 4 bytes after, which decide how those split
/// into valid UTF-8 and invalid bytes.
pub const PAYLOAD_TEXT_BYTES: usize = 4 * (MAX_PAYLOAD_TEXT + 1) + 4;

/// Payload text of a segment, if it carries any captured bytes (sanitized).
pub fn payload_text(payload: &[u8]) -> Option<String> {
    (!payload.is_empty()).then(|| sanitize_text(payload, MAX_PAYLOAD_TEXT))
}

/// Appends `n` in decimal.
fn push_num(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// An output line's bytes as the place evidence is written to.
impl TextOut for Vec<u8> {
    fn text(&mut self, s: &str) {
        self.extend_from_slice(s.as_bytes());
    }

    fn num(&mut self, n: u64) {
        push_num(self, n);
    }

    fn endpoint(&mut self, e: &Endpoint) {
        push_endpoint(self, e);
    }
}

/// Appends an endpoint as its `Display` writes it (`10.0.0.1:80`, `[2001:db8::1]:80`).
fn push_endpoint(out: &mut Vec<u8>, ep: &Endpoint) {
    match ep.ip {
        IpAddr::V4(a) => {
            push_ipv4(out, a);
            out.push(b':');
            push_num(out, ep.port.into());
        }
        IpAddr::V6(a) => {
            out.push(b'[');
            push_ipv6(out, &a);
            out.extend_from_slice(b"]:");
            push_num(out, ep.port.into());
        }
    }
}

/// Appends an IPv6 address as `Ipv6Addr`'s `Display` writes it (RFC 5952: lower-case hex
/// without leading zeros, the first longest run of two or more zero groups as `::`, and an
/// IPv4-mapped address as `::ffff:a.b.c.d`), without the formatting machinery: in a capture with
/// IPv6 traffic, most of an RST line's cost was there.
fn push_ipv6(out: &mut Vec<u8>, a: &std::net::Ipv6Addr) {
    if let Some(v4) = a.to_ipv4_mapped() {
        out.extend_from_slice(b"::ffff:");
        push_ipv4(out, v4);
        return;
    }
    let groups = a.segments();
    // The first longest run of zero groups: (start, len).
    let (mut best, mut run) = ((0, 0), (0, 0));
    for (i, &g) in groups.iter().enumerate() {
        if g != 0 {
            run = (i + 1, 0);
            continue;
        }
        run.1 += 1;
        if run.1 > best.1 {
            best = run;
        }
    }
    let push_groups = |out: &mut Vec<u8>, gs: &[u16]| {
        for (i, &g) in gs.iter().enumerate() {
            if i > 0 {
                out.push(b':');
            }
            push_hex(out, g);
        }
    };
    if best.1 > 1 {
        push_groups(out, &groups[..best.0]);
        out.extend_from_slice(b"::");
        push_groups(out, &groups[best.0 + best.1..]);
    } else {
        push_groups(out, &groups);
    }
}

/// Appends `n` in lower-case hex without leading zeros.
fn push_hex(out: &mut Vec<u8>, n: u16) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let nibbles = (16 - n.leading_zeros()).div_ceil(4).max(1);
    for k in (0..nibbles).rev() {
        out.push(DIGITS[usize::from((n >> (4 * k)) & 0xf)]);
    }
}

/// Appends `a.b.c.d`: each octet's digits come from a table, and the address is put together
/// in a buffer and appended at once (one of these per endpoint, two per RST line).
fn push_ipv4(out: &mut Vec<u8>, a: std::net::Ipv4Addr) {
    let mut buf = [0u8; 16];
    let mut at = 0;
    for octet in a.octets() {
        let [n, d0, d1, d2] = OCTETS[usize::from(octet)];
        // Three digits are written whatever the octet's length; the next octet or the end
        // overwrites what is past it (the buffer has room for the last one's).
        buf[at..at + 3].copy_from_slice(&[d0, d1, d2]);
        at += usize::from(n);
        buf[at] = b'.';
        at += 1;
    }
    // Without the last dot.
    out.extend_from_slice(&buf[..at - 1]);
}

/// Each octet's decimal digits: `[length, digit, digit, digit]`.
static OCTETS: [[u8; 4]; 256] = {
    let mut t = [[0u8; 4]; 256];
    let mut i = 0;
    while i < 256 {
        let (h, te, o) = ((i / 100) as u8, (i / 10 % 10) as u8, (i % 10) as u8);
        t[i] = if i >= 100 {
            [3, b'0' + h, b'0' + te, b'0' + o]
        } else if i >= 10 {
            [2, b'0' + te, b'0' + o, 0]
        } else {
            [1, b'0' + o, 0, 0]
        };
        i += 1;
    }
    t
};

fn dir_word(d: Direction) -> &'static str {
    if d == Direction::In { "in" } else { "out" }
}

/// The fields of one segment line, from a tracked RST event or straight from a decoded segment.
struct SegLine<'a> {
    ts: Timestamp,
    iface: Option<&'a str>,
    ifindex: Option<u32>,
    direction: Option<Direction>,
    from: Endpoint,
    to: Endpoint,
    flags: TcpFlags,
    seq: u32,
    ack: Option<u32>,
    window: u16,
    ttl: u8,
    payload_len: u32,
    payload_text: Option<&'a str>,
}

impl SegLine<'_> {
    /// `13:15:42.507657 lo In 127.0.0.1:7211 > 127.0.0.1:57340 [R.] seq 0 ack 1082312303 win 0 ttl 64`
    /// (no newline), prefixed by `prefix: ` when several files are read.
    fn write(
        &self,
        out: &mut Vec<u8>,
        prefix: Option<&str>,
        encaps: impl Iterator<Item = crate::decode::Encap>,
    ) -> io::Result<()> {
        if let Some(p) = prefix {
            write!(out, "{p}: ")?;
        }
        self.ts.write_time_of_day(out);
        if let Some(name) = self.iface {
            write!(out, " {name}")?;
        } else if let Some(idx) = self.ifindex {
            write!(out, " ifindex {idx}")?;
        }
        if let Some(d) = self.direction {
            write!(out, " {}", d.as_str())?;
        }
        // Field by field: one of these lines per RST, and `write!` would cost several times
        // more than the rest of the line's work.
        out.push(b' ');
        push_endpoint(out, &self.from);
        out.extend_from_slice(b" > ");
        push_endpoint(out, &self.to);
        out.extend_from_slice(b" [");
        let (letters, n) = self.flags.letters();
        out.extend_from_slice(&letters[..n]);
        out.extend_from_slice(b"] seq ");
        push_num(out, self.seq.into());
        if let Some(ack) = self.ack {
            out.extend_from_slice(b" ack ");
            push_num(out, ack.into());
        }
        out.extend_from_slice(b" win ");
        push_num(out, self.window.into());
        out.extend_from_slice(b" ttl ");
        push_num(out, self.ttl.into());
        for e in encaps {
            write!(out, " {e}")?;
        }
        if self.payload_len > 0 {
            write!(out, " len {}", self.payload_len)?;
            if let Some(text) = self.payload_text {
                write!(out, " \"{text}\"")?;
            }
        }
        Ok(())
    }
}

/// `13:15:42.507657 lo In 127.0.0.1:7211 > 127.0.0.1:57340 [R.] seq 0 ack 1082312303 win 0 ttl 64 | refused: …`
pub fn write_rst_text(out: &mut Vec<u8>, prefix: Option<&str>, ev: &RstEvent) -> io::Result<()> {
    let line = SegLine {
        ts: ev.ts,
        iface: ev.iface.as_deref(),
        ifindex: ev.ifindex,
        direction: ev.direction,
        from: ev.from,
        to: ev.to,
        flags: ev.flags,
        seq: ev.seq,
        ack: ev.ack,
        window: ev.window,
        ttl: ev.ttl,
        payload_len: ev.payload_len,
        payload_text: ev.payload_text.as_deref(),
    };
    line.write(out, prefix, ev.encap.iter().copied())?;
    out.extend_from_slice(b" | ");
    out.extend_from_slice(ev.verdict.as_str().as_bytes());
    out.extend_from_slice(b": ");
    ev.evidence.write_to(out);
    out.push(b'\n');
    Ok(())
}

/// `13:15:40.000000 10.0.0.5:41000 > 10.0.0.1:80 [S] | unanswered: 3 SYNs over 7.0 s, …`
pub fn write_unanswered_text(out: &mut Vec<u8>, c: &ConnSummary) -> io::Result<()> {
    writeln!(
        out,
        "{} {} > {} [S] | {}",
        c.start.time_of_day(),
        c.orig,
        c.resp,
        c.fate()
    )
}

pub fn write_note_text(out: &mut Vec<u8>, ts: Timestamp, sender: &Endpoint) -> io::Result<()> {
    writeln!(
        out,
        "{} note: {sender} kept sending data after its own RST: that RST was probably forged by a middlebox (suspected injected)",
        ts.time_of_day()
    )
}

/// A conn.log-like line: id, start, duration, endpoints, state, history, packets/bytes, fate.
pub fn write_conn_text(out: &mut Vec<u8>, c: &ConnSummary) -> io::Result<()> {
    let dur = c.last.nanos().saturating_sub(c.start.nanos()) as f64 / 1e9;
    writeln!(
        out,
        "C{} {} {dur:.6}s {} > {}{} {} {} orig {}p/{}B resp {}p/{}B | {}",
        c.id,
        c.start.rfc3339(),
        c.orig,
        c.resp,
        c.vlan.map(|v| format!(" vlan {v}")).unwrap_or_default(),
        c.conn_state,
        if c.history.as_str().is_empty() {
            "-"
        } else {
            c.history.as_str()
        },
        c.orig_pkts,
        c.orig_bytes,
        c.resp_pkts,
        c.resp_bytes,
        c.fate()
    )
}

/// A value written in JSON as the string its `Display` gives, without an intermediate `String`.
struct Shown<T>(T);

impl<T: std::fmt::Display> Serialize for Shown<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

#[derive(Serialize)]
struct EncapJson {
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<u32>,
}

/// The `--json` record of one RST segment (schema in the README).
#[derive(Serialize)]
struct RstJson<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    ts: Timestamp,
    #[serde(skip_serializing_if = "str::is_empty")]
    file: &'a str,
    frame: u64,
    link_type: String,
    interface: Option<&'a str>,
    ifindex: Option<u32>,
    direction: Option<&'static str>,
    ip_version: u8,
    src: std::net::IpAddr,
    sport: u16,
    dst: std::net::IpAddr,
    dport: u16,
    flags: Shown<crate::decode::TcpFlags>,
    seq: u32,
    ack: Option<u32>,
    window: u16,
    ttl: u8,
    ip_id: Option<u16>,
    payload_len: u32,
    payload_text: Option<&'a str>,
    encap: Vec<EncapJson>,
    verdict: crate::track::Verdict,
    evidence: Shown<&'a crate::track::Evidence>,
    /// Whether the RST came from the connection's originator (client).
    from_originator: bool,
    conn: ConnJson<'a>,
}

#[derive(Serialize)]
struct ConnJson<'a> {
    id: String,
    orig: String,
    resp: String,
    orig_h: std::net::IpAddr,
    orig_p: u16,
    resp_h: std::net::IpAddr,
    resp_p: u16,
    vlan: Option<u16>,
    start: Timestamp,
    duration: f64,
    orig_pkts: u64,
    orig_bytes: u64,
    resp_pkts: u64,
    resp_bytes: u64,
    conn_state: &'a str,
    history: &'a str,
    syns: u32,
    fate: Shown<crate::track::Fate<'a>>,
}

impl<'a> ConnJson<'a> {
    fn new(c: &'a ConnSummary) -> Self {
        ConnJson {
            id: format!("C{}", c.id),
            orig: c.orig.to_string(),
            resp: c.resp.to_string(),
            orig_h: c.orig.ip,
            orig_p: c.orig.port,
            resp_h: c.resp.ip,
            resp_p: c.resp.port,
            vlan: c.vlan,
            start: c.start,
            duration: c.last.nanos().saturating_sub(c.start.nanos()) as f64 / 1e9,
            orig_pkts: c.orig_pkts,
            orig_bytes: c.orig_bytes,
            resp_pkts: c.resp_pkts,
            resp_bytes: c.resp_bytes,
            conn_state: c.conn_state,
            history: c.history.as_str(),
            syns: c.syns,
            fate: Shown(c.fate()),
        }
    }
}

pub fn write_rst_json(out: &mut Vec<u8>, file: &str, ev: &RstEvent) -> io::Result<()> {
    let j = RstJson {
        kind: "rst",
        ts: ev.ts,
        file,
        frame: ev.frame,
        link_type: ev.link_type.to_string(),
        interface: ev.iface.as_deref(),
        ifindex: ev.ifindex,
        direction: ev.direction.map(dir_word),
        ip_version: if ev.from.ip.is_ipv4() { 4 } else { 6 },
        src: ev.from.ip,
        sport: ev.from.port,
        dst: ev.to.ip,
        dport: ev.to.port,
        flags: Shown(ev.flags),
        seq: ev.seq,
        ack: ev.ack,
        window: ev.window,
        ttl: ev.ttl,
        ip_id: ev.ip_id,
        payload_len: ev.payload_len,
        payload_text: ev.payload_text.as_deref(),
        encap: ev
            .encap
            .iter()
            .map(|e| EncapJson {
                kind: e.kind(),
                id: e.id(),
            })
            .collect(),
        verdict: ev.verdict,
        evidence: Shown(&ev.evidence),
        from_originator: ev.from_orig,
        conn: ConnJson::new(&ev.conn),
    };
    serde_json::to_writer(&mut *out, &j)?;
    out.push(b'\n');
    Ok(())
}

#[derive(Serialize)]
struct TypedConn<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    conn: ConnJson<'a>,
}

/// `{"type":"unanswered",…}` or `{"type":"conn",…}` with the connection's fields.
pub fn write_conn_json(out: &mut Vec<u8>, kind: &'static str, c: &ConnSummary) -> io::Result<()> {
    serde_json::to_writer(
        &mut *out,
        &TypedConn {
            kind,
            conn: ConnJson::new(c),
        },
    )?;
    out.push(b'\n');
    Ok(())
}

pub fn write_note_json(
    out: &mut Vec<u8>,
    ts: Timestamp,
    conn_id: u64,
    sender: &Endpoint,
) -> io::Result<()> {
    let v = serde_json::json!({
        "type": "note",
        "ts": ts,
        "conn": format!("C{conn_id}"),
        "sender": sender.to_string(),
        "verdict": "suspected_injected",
        "text": "the sender kept sending data after its own RST: that RST was probably forged by a middlebox",
    });
    serde_json::to_writer(&mut *out, &v)?;
    out.push(b'\n');
    Ok(())
}

/// `--raw`: the RST line straight from the decoded segment, without tracking.
pub fn write_raw_text(
    out: &mut Vec<u8>,
    prefix: Option<&str>,
    p: &crate::capture::Packet<'_>,
    seg: &TcpSegment<'_>,
) -> io::Result<()> {
    let text = payload_text(seg.payload);
    let line = SegLine {
        ts: p.ts,
        iface: p.iface_name.map(|n| &**n),
        ifindex: seg.ctx.ifindex,
        direction: p.direction.or(seg.ctx.direction),
        from: Endpoint::source(seg),
        to: Endpoint::destination(seg),
        flags: seg.flags,
        seq: seg.seq,
        ack: seg.flags.ack().then_some(seg.ack),
        window: seg.window,
        ttl: seg.ttl,
        payload_len: seg.payload_len,
        payload_text: text.as_deref(),
    };
    line.write(out, prefix, seg.ctx.encaps())?;
    out.push(b'\n');
    Ok(())
}

/// `--raw --json`: the RST record without verdict or connection.
pub fn write_raw_json(
    out: &mut Vec<u8>,
    file: &str,
    frame: u64,
    p: &crate::capture::Packet<'_>,
    seg: &TcpSegment<'_>,
) -> io::Result<()> {
    let v = serde_json::json!({
        "type": "rst",
        "ts": p.ts,
        "file": file,
        "frame": frame,
        "link_type": p.link_type.to_string(),
        "interface": p.iface_name.map(|n| &**n),
        "ifindex": seg.ctx.ifindex,
        "direction": p.direction.or(seg.ctx.direction).map(dir_word),
        "ip_version": if seg.src.is_ipv4() { 4 } else { 6 },
        "src": seg.src,
        "sport": seg.sport,
        "dst": seg.dst,
        "dport": seg.dport,
        "flags": seg.flags.to_string(),
        "seq": seg.seq,
        "ack": seg.flags.ack().then_some(seg.ack),
        "window": seg.window,
        "ttl": seg.ttl,
        "ip_id": seg.ip_id,
        "payload_len": seg.payload_len,
        "payload_text": payload_text(seg.payload),
        "encap": seg.ctx.encaps().map(|e| EncapJson { kind: e.kind(), id: e.id() }).collect::<Vec<_>>(),
    });
    serde_json::to_writer(&mut *out, &v)?;
    out.push(b'\n');
    Ok(())
}

/// Storm mode's line for one second of one endpoint's RSTs beyond the lines shown:
/// `15:25:33 storm: 185073 more RSTs from 127.0.0.1:7211 (refused) to 1 host in this second, not shown one by one (20 were)`.
pub fn write_storm_text(
    out: &mut Vec<u8>,
    prefix: Option<&str>,
    s: &crate::storm::StormLine,
) -> io::Result<()> {
    if let Some(p) = prefix {
        write!(out, "{p}: ")?;
    }
    let hosts = match (s.peers, s.peers_saturated) {
        (n, true) => format!("more than {n} hosts"),
        (1, false) => "1 host".to_string(),
        (n, false) => format!("{n} hosts"),
    };
    writeln!(
        out,
        "{} storm: {} more RSTs from {} ({}) to {hosts} in this second, not shown one by one ({} were)",
        s.second_start().time_of_day(),
        s.suppressed,
        s.from,
        s.verdict.as_str(),
        s.shown
    )
}

/// `{"type":"rst_storm",…}`: the same as [`write_storm_text`]; `count` is exact.
pub fn write_storm_json(out: &mut Vec<u8>, s: &crate::storm::StormLine) -> io::Result<()> {
    #[derive(Serialize)]
    struct StormJson {
        #[serde(rename = "type")]
        kind: &'static str,
        second: Timestamp,
        from: Shown<Endpoint>,
        src: std::net::IpAddr,
        sport: u16,
        verdict: crate::track::Verdict,
        count: u64,
        shown: u32,
        peers: usize,
        peers_saturated: bool,
        first: Timestamp,
        last: Timestamp,
    }
    let j = StormJson {
        kind: "rst_storm",
        second: s.second_start(),
        from: Shown(s.from),
        src: s.from.ip,
        sport: s.from.port,
        verdict: s.verdict,
        count: s.suppressed,
        shown: s.shown,
        peers: s.peers,
        peers_saturated: s.peers_saturated,
        first: s.first,
        last: s.last,
    };
    serde_json::to_writer(&mut *out, &j)?;
    out.push(b'\n');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Any IPv6 address, with zero groups made common (the compression is what can go
        /// wrong), written as bytes reads as `Display` writes it.
        #[test]
        fn ipv6_endpoints_read_as_display_writes_them(
            groups in proptest::array::uniform8(proptest::prop_oneof![
                proptest::strategy::Just(0u16),
                proptest::strategy::Just(1u16),
                proptest::strategy::Just(0xffffu16),
                proptest::num::u16::ANY,
            ]),
            port: u16,
        ) {
            let ep = Endpoint { ip: IpAddr::V6(std::net::Ipv6Addr::from(groups)), port };
            let mut out = Vec::new();
            push_endpoint(&mut out, &ep);
            proptest::prop_assert_eq!(String::from_utf8(out).unwrap(), ep.to_string());
        }

        /// Any IPv4 address likewise (octets of one, two and three digits side by side).
        #[test]
        fn ipv4_endpoints_read_as_display_writes_them(octets: [u8; 4], port: u16) {
            let ep = Endpoint { ip: IpAddr::V4(octets.into()), port };
            let mut out = b"x".to_vec();
            push_endpoint(&mut out, &ep);
            proptest::prop_assert_eq!(String::from_utf8(out).unwrap(), format!("x{ep}"));
        }
    }

    #[test]
    fn fast_numbers_and_endpoints_read_as_display_writes_them() {
        for n in [0, 1, 9, 10, 99, 100, 65_535, 4_294_967_295, u64::MAX] {
            let mut out = Vec::new();
            push_num(&mut out, n);
            assert_eq!(out, n.to_string().into_bytes());
        }
        for (ip, port) in [
            ("0.0.0.0", 0),
            ("127.0.0.1", 7211),
            ("255.255.255.255", 65_535),
            ("10.200.1.5", 80),
            ("2001:db8::1", 443),
            ("::ffff:10.0.0.1", 1),
            ("::", 0),
            ("::1", 22),
            ("1::", 22),
            ("fe80::1:0:0:1", 22),
            ("1:0:0:1:0:0:0:1", 22),
            ("1:0:1:0:1:0:1:0", 22),
            ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 22),
            ("::ffff:0:0", 22),
            ("::1.2.3.4", 22),
        ] {
            let ep = Endpoint {
                ip: ip.parse().unwrap(),
                port,
            };
            let mut out = Vec::new();
            push_endpoint(&mut out, &ep);
            assert_eq!(String::from_utf8(out).unwrap(), ep.to_string());
        }
    }

    #[test]
    fn evidence_reads_the_same_written_as_bytes_and_through_display() {
        use crate::track::Evidence as E;
        let v6 = Endpoint {
            ip: "2001:db8::7".parse().unwrap(),
            port: 5000,
        };
        let cases = [
            (
                E::NoEarlierPacket,
                "no earlier packet of this connection in the capture",
            ),
            (
                E::TtlUnlike {
                    ttl: 250,
                    min: 64,
                    max: 64,
                    samples: 1,
                },
                "TTL 250 unlike the 64 of the sender's 1 other packet",
            ),
            (
                E::TtlUnlike {
                    ttl: 9,
                    min: 60,
                    max: 64,
                    samples: 12,
                },
                "TTL 9 unlike the 60-64 of the sender's 12 other packets",
            ),
            (
                E::RstBurst {
                    rsts: 3,
                    ms: -2,
                    prev_seq: 7,
                    seq: u32::MAX,
                },
                "3 RSTs within -2 ms with different sequence numbers (7, 4294967295)",
            ),
            (
                E::AnswersSyn {
                    syns: 1,
                    orig: v6,
                    with_ack: true,
                },
                "answers the SYN from [2001:db8::7]:5000 (no SYN-ACK)",
            ),
            (
                E::AnswersSyn {
                    syns: 4,
                    orig: v6,
                    with_ack: false,
                },
                "answers the SYN (4 sent) from [2001:db8::7]:5000 (no SYN-ACK); RST without ACK",
            ),
            (
                E::DuringHandshake { by_client: true },
                "client reset after the SYN-ACK, before the handshake completed",
            ),
            (
                E::AfterFin { ms: 1500 },
                "the sender had closed (FIN) 1500 ms earlier; the peer sent more after that",
            ),
            (
                E::OutOfWindow {
                    seq: 10,
                    diff: -5,
                    rcv_nxt: 15,
                    wnd: u32::MAX,
                },
                "seq 10 is 5 bytes before the window 15..14 the receiver advertised",
            ),
            (
                E::OutOfWindow {
                    seq: 100,
                    diff: i32::MIN,
                    rcv_nxt: 1,
                    wnd: 9,
                },
                "seq 100 is 2147483648 bytes before the window 1..10 the receiver advertised",
            ),
            (
                E::OutOfWindow {
                    seq: 7,
                    diff: 3,
                    rcv_nxt: 4,
                    wnd: 0,
                },
                "seq 7 is 3 bytes beyond the window 4..4 the receiver advertised",
            ),
            (
                E::MidStream { packets: 0 },
                "on a connection that began before the capture (0 earlier packets)",
            ),
            (
                E::Aborted {
                    by_client: false,
                    packets: u64::MAX,
                    bytes: 0,
                },
                "server aborted after 18446744073709551615 packets, 0 bytes sent",
            ),
            (E::Text("from \"elsewhere\"".into()), "from \"elsewhere\""),
        ];
        for (e, want) in cases {
            let mut out = Vec::new();
            e.write_to(&mut out);
            assert_eq!(String::from_utf8(out).unwrap(), want);
            assert_eq!(e.to_string(), want);
        }
    }
}
