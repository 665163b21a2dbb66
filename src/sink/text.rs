//! The text sink: a tcpdump-like line per RST (with its verdict), per unanswered connection
//! attempt, per note and per storm second, or a conn.log-like line per connection.

use crate::engine::counters::{Change, Disagreement, MissedCause};
use crate::engine::decode::{TcpFlags, TcpSegment};
use crate::engine::fusion::{KernelNote, RstOrigin};
use crate::engine::kevent::Process;
use crate::engine::listeners::Until;
use crate::engine::listeners::{Advice, ListenSysctls, Listener, QueueVerdict};
use crate::engine::payload::payload_text;
use crate::engine::storm::StormLine;
use crate::engine::summary::{
    CountersOverRun, KernelSummary, ListenersOverRun, RunSummary, Written,
};
use crate::engine::track::{ConnSummary, Endpoint, RstEvent, SegMeta, TextOut};
use crate::engine::{EventSink, PacketRef, Place};
use crate::model::Direction;
use crate::model::timestamp::Timestamp;
use crate::sink::LineBuf;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::IpAddr;

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
    /// The captured length of a TCP header the snap length cut.
    header_cut: Option<u8>,
}

impl SegLine<'_> {
    /// `13:15:42.507657 lo In 127.0.0.1:7211 > 127.0.0.1:57340 [R.] seq 0 ack 1082312303 win 0 ttl 64`
    /// (no newline), prefixed by `prefix: ` when several files are read.
    fn write(
        &self,
        out: &mut Vec<u8>,
        prefix: Option<&str>,
        encaps: impl Iterator<Item = crate::engine::decode::Encap>,
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
        match self.header_cut {
            // The window is bytes 14 and 15 of the header.
            Some(n) if n < 16 => out.push(b'?'),
            _ => push_num(out, self.window.into()),
        }
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
        if let Some(n) = self.header_cut {
            write!(out, " (TCP header partly captured: {n} of 20 bytes)")?;
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
        header_cut: ev.header_cut,
    };
    line.write(out, prefix, ev.encap.iter().copied())?;
    out.extend_from_slice(b" | ");
    out.extend_from_slice(ev.verdict.as_str().as_bytes());
    out.extend_from_slice(b": ");
    ev.evidence.write_to(out);
    if let Some(k) = &ev.kernel {
        out.extend_from_slice(kernel_words(k).as_bytes());
    }
    out.push(b'\n');
    Ok(())
}

/// What the kernel said about an RST, appended to its line: ` · kernel: NO_SOCKET · client
/// collectord[4711] (uid 0, cgroup /system.slice/x.service)`. Empty when it said nothing.
pub fn kernel_words(k: &KernelNote) -> String {
    let mut s = String::new();
    match (k.origin, &k.reason) {
        (RstOrigin::Stack, Some(r)) => {
            let _ = write!(s, " · kernel: {r}");
        }
        (RstOrigin::Stack, None) => s.push_str(" · kernel: sent by the TCP stack"),
        (RstOrigin::ForgedLocally, _) => {
            s.push_str(" · kernel: no tcp_send_reset (not the TCP stack's)")
        }
        (RstOrigin::Remote | RstOrigin::Unknown, _) => {}
    }
    if let Some(l) = &k.listener_reset {
        let _ = write!(s, " · {}", crate::sink::findings::listener_reset(l));
    }
    if let Some(p) = &k.client {
        let _ = write!(s, " · client {}", process_words(p));
    }
    if let Some(p) = &k.sender
        && k.client.as_ref().is_none_or(|c| c.pid != p.pid)
    {
        let _ = write!(s, " · sent by {}", process_words(p));
    }
    if let Some(p) = &k.receiver
        && k.client.as_ref().is_none_or(|c| c.pid != p.pid)
    {
        let _ = write!(s, " · received by {}", process_words(p));
    }
    s
}

/// `collectord[4711] (uid 0, cgroup /system.slice/x.service)`.
pub fn process_words(p: &Process) -> String {
    let mut s = p.label();
    let mut extra = Vec::new();
    if let Some(uid) = p.uid {
        extra.push(format!("uid {uid}"));
    }
    if let Some(cg) = p.cgroup.as_deref().filter(|c| !c.is_empty() && *c != "/") {
        extra.push(format!("cgroup {cg}"));
    }
    if !extra.is_empty() {
        let _ = write!(s, " ({})", extra.join(", "));
    }
    s
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

/// `--raw`: the RST line straight from the decoded segment, without tracking.
pub fn write_raw_text(
    out: &mut Vec<u8>,
    prefix: Option<&str>,
    p: &SegMeta<'_>,
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
        header_cut: seg.header_cut,
    };
    line.write(out, prefix, seg.ctx.encaps())?;
    out.push(b'\n');
    Ok(())
}

/// Storm mode's line for one second of one endpoint's RSTs beyond the lines shown:
/// `15:25:33 storm: 185073 more RSTs from 127.0.0.1:7211 (refused) to 1 host in this second, not shown one by one (20 were)`.
pub fn write_storm_text(out: &mut Vec<u8>, prefix: Option<&str>, s: &StormLine) -> io::Result<()> {
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

/// Appends the summary lines about the `--write` file, if any.
pub fn push_written(text: &mut String, written: Option<&Written>) {
    if let Some((path, written, dropped)) = written {
        text.push_str(&format!(
            "  wrote {written} packets of failed and reset connections to {path}\n"
        ));
        if *dropped > 0 {
            text.push_str(&format!(
                "  {dropped} packets were not kept for {path}: pending-packet memory cap reached\n"
            ));
        }
    }
}

/// Appends the ranked findings, after a blank line, ending with a newline.
pub fn push_findings(text: &mut String, findings: &str) {
    if !findings.is_empty() {
        text.push('\n');
        text.push_str(findings);
        if !findings.ends_with('\n') {
            text.push('\n');
        }
    }
}

/// The frames that could not be decoded, by what stopped the decoder (an Ethertype or GRE
/// protocol by name, a truncated header, …), most first.
fn push_not_decoded(text: &mut String, s: &crate::engine::stats::DecodeStats) {
    let undecodable = s.undecodable_total();
    if undecodable == 0 {
        return;
    }
    let mut parts: Vec<(u64, String)> = s
        .undecodable
        .iter()
        .map(|(k, v)| (*v, k.to_string()))
        .collect();
    parts.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let mut list: Vec<String> = parts.into_iter().map(|(v, k)| format!("{v} {k}")).collect();
    if s.undecodable_other > 0 {
        list.push(format!(
            "{} for other reasons (reason table full)",
            s.undecodable_other
        ));
    }
    text.push_str(&format!(
        "  not decoded: {undecodable} packet{} ({}); RSTs inside them are not counted\n",
        if undecodable == 1 { "" } else { "s" },
        list.join(", ")
    ));
}

/// The summary printed on stderr after the lines: what was read, what could not be seen, and
/// the ranked findings.
pub fn read_summary(report: &RunSummary) -> String {
    let s = &report.stats;
    let mut text = format!(
        "rsthound: {} file{}, {} packets ({}), {} TCP segments, {} RSTs, {} connections, {} unanswered\n",
        report.files,
        if report.files == 1 { "" } else { "s" },
        s.packets,
        human_bytes(s.bytes),
        s.tcp,
        s.rsts,
        report.tracker.conns,
        report.unanswered
    );
    if !s.not_tcp.is_empty() {
        let parts: Vec<String> = s
            .not_tcp
            .iter()
            .map(|(k, v)| format!("{v} {}", k.as_str()))
            .collect();
        text.push_str(&format!("  not TCP: {}\n", parts.join(", ")));
    }
    push_not_decoded(&mut text, s);
    let t = &report.tracker;
    if t.evicted > 0 {
        text.push_str(&format!(
            "  connection table full ({} connections max, --max-conns): {} connections evicted early; their later packets were tracked as new connections\n",
            report.max_conns, t.evicted
        ));
    }
    push_written(&mut text, report.written.as_ref());
    if !report.errors.is_empty() {
        text.push_str(&format!(
            "  {} input{} could not be read to the end (see the error lines above)\n",
            report.errors.len(),
            if report.errors.len() == 1 { "" } else { "s" }
        ));
    }
    if !report.output_errors.is_empty() {
        text.push_str(&format!(
            "  {} output{} could not be written (see the error lines above)\n",
            report.output_errors.len(),
            if report.output_errors.len() == 1 {
                ""
            } else {
                "s"
            }
        ));
    }
    if report.stopped_by_reader {
        text.push_str("  output closed early: the counts cover only what was read until then\n");
    }
    if let Some(f) = &report.findings {
        push_findings(&mut text, &crate::sink::findings::block(f));
    }
    text
}

fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// The summary printed on stderr at the end: what was watched, what could not be seen, and
/// the ranked findings.
pub fn watch_summary(r: &RunSummary) -> String {
    let mut text = format!(
        "rsthound: watched {:.1} s on {} interface{} ({}): {} packets passed the kernel filter, {} TCP segments, {} RSTs, {} connections, {} unanswered\n",
        r.seconds,
        r.watched.len(),
        if r.watched.len() == 1 { "" } else { "s" },
        r.watched.join(", "),
        r.stats.packets,
        r.stats.tcp,
        r.stats.rsts,
        r.tracker.conns,
        r.unanswered,
    );
    text.push_str(&format!(
        "  kernel drops: {} of {} packets (PACKET_STATISTICS){}\n",
        r.kernel_drops,
        r.kernel_packets,
        if r.kernel_drops > 0 {
            ": some RSTs were missed; a larger --buffer-size helps"
        } else {
            ""
        }
    ));
    if r.storm.suppressed > 0 {
        text.push_str(&format!(
            "  storm mode: {} RSTs were counted in {} storm lines instead of shown one by one (--storm-limit 0 shows every RST)\n",
            r.storm.suppressed, r.storm.lines
        ));
    }
    if r.storm.overflow > 0 {
        text.push_str(&format!(
            "  storm mode: {} RSTs from too many different endpoints in one second were shown one by one\n",
            r.storm.overflow
        ));
    }
    if r.other_interfaces > 0 {
        text.push_str(&format!(
            "  {} packets on interfaces outside -i were ignored\n",
            r.other_interfaces
        ));
    }
    if r.loopback_copies > 0 {
        text.push_str(&format!(
            "  {} outgoing loopback copies dropped in user space\n",
            r.loopback_copies
        ));
    }
    if r.malformed_blocks > 0 {
        text.push_str(&format!(
            "  {} ring blocks could not be parsed to their end: some packets were not seen\n",
            r.malformed_blocks
        ));
    }
    if r.interface_overflow > 0 {
        text.push_str(&format!(
            "  interface table full: {} interfaces not named\n",
            r.interface_overflow
        ));
    }
    if r.tracker.evicted > 0 {
        text.push_str(&format!(
            "  connection table full ({} connections max, --max-conns): {} connections evicted early\n",
            r.max_conns, r.tracker.evicted
        ));
    }
    push_not_decoded(&mut text, &r.stats);
    push_kernel(&mut text, r.kernel.as_ref());
    push_listeners(&mut text, r.listeners.as_ref());
    push_counters(&mut text, r.counters.as_ref());
    push_written(&mut text, r.written.as_ref());
    if r.stopped_by_reader {
        text.push_str("  output closed early\n");
    }
    if let Some(f) = &r.findings {
        push_findings(&mut text, &crate::sink::findings::block(f));
    }
    text
}

/// The listeners that stopped during a live run, and those whose accept queue overflowed.
fn push_listeners(text: &mut String, listeners: Option<&ListenersOverRun>) {
    let Some(l) = listeners else { return };
    for n in &l.notes {
        let _ = writeln!(text, "  listeners: {n}");
    }
    for span in &l.stopped {
        let who = match span.owners.first() {
            Some(o) => format!("{} (pid {})", o.comm, o.pid),
            None => "an unknown process".to_string(),
        };
        let when = match span.until {
            Some(Until::At(t)) => format!("at {}", t.time_of_day()),
            Some(Until::Between(a, b)) => {
                format!("between {} and {}", a.time_of_day(), b.time_of_day())
            }
            None => "?".to_string(),
        };
        let _ = writeln!(
            text,
            "  stopped listening during the run: {} ({who}) {when}",
            std::net::SocketAddr::new(span.key.addr, span.key.port)
        );
    }
    if let Some(o) = &l.overflow {
        for share in &o.listeners {
            let li = &share.listener;
            let who = li
                .owners
                .first()
                .map(|o| format!(" ({} (pid {}))", o.comm, o.pid))
                .unwrap_or_default();
            let _ = writeln!(
                text,
                "  accept queue full: {}{who}: {} waiting, backlog {}{}",
                std::net::SocketAddr::new(li.key.addr, li.key.port),
                li.queue,
                li.backlog,
                match (share.verdict.drops_delta, li.drops) {
                    (Some(d), _) => format!(", {d} packets dropped on it during the run"),
                    (None, Some(d)) => format!(", {d} packets dropped on it"),
                    _ => String::new(),
                }
            );
            for a in &share.verdict.advice {
                let _ = writeln!(
                    text,
                    "    next: {}",
                    advice_text(a, li, &l.sysctls, &share.verdict)
                );
            }
        }
    }
}

/// What the kernel's events gave over a live run: how many, how many lost, and the failed
/// connection attempts by process.
fn push_kernel(text: &mut String, kernel: Option<&KernelSummary>) {
    let Some(k) = kernel else {
        text.push_str("  kernel events: off (packets alone: no reasons, no processes)\n");
        return;
    };
    let _ = write!(
        text,
        "  kernel events: {} read, {} lost records{}",
        k.events,
        k.lost_records,
        if k.lost_records > 0 {
            " (the kernel's rings were full: some RSTs have no reason or process)"
        } else {
            ""
        }
    );
    if k.resets_unclaimed > 0 {
        let _ = write!(
            text,
            "; {} RSTs the stack sent were not seen on a watched interface",
            k.resets_unclaimed
        );
    }
    if k.overflow > 0 {
        let _ = write!(text, "; {} facts not kept (tables full)", k.overflow);
    }
    if k.failed_elsewhere > 0 {
        let _ = write!(
            text,
            "; {} failed connects outside this capture (other namespaces, or interfaces not watched) left out",
            k.failed_elsewhere
        );
    }
    if k.listen_elsewhere > 0 {
        let _ = write!(
            text,
            "; {} sockets of other namespaces entering or leaving LISTEN left out",
            k.listen_elsewhere
        );
    }
    if k.listen_unconfirmed + k.listen_dropped > 0 {
        let _ = write!(
            text,
            "; {} LISTEN changes taken unchecked and {} not taken (this namespace's sockets unreadable, or too many at once)",
            k.listen_unconfirmed, k.listen_dropped
        );
    }
    text.push('\n');
    if let Some(why) = &k.stopped {
        let _ = writeln!(text, "  {why}");
    }
    for l in crate::sink::connect_errors::connect_error_lines(k, 10) {
        let _ = writeln!(text, "  {l}");
    }
    if !k.failed_connects.is_empty() {
        text.push_str("  failed connection attempts by process (kernel: SYN_SENT -> CLOSE):\n");
        for f in k.failed_connects.iter().take(10) {
            let who = if f.processes == 1 {
                process_words(&f.process)
            } else {
                let pids: Vec<String> = f.pids.iter().map(|p| p.to_string()).collect();
                format!(
                    "{} ({} processes: pids {}{})",
                    f.process.comm,
                    f.processes,
                    pids.join(", "),
                    if f.processes as usize > f.pids.len() {
                        ", …"
                    } else {
                        ""
                    }
                )
            };
            let _ = writeln!(
                text,
                "    {who} failed {} to {}",
                if f.count == 1 {
                    "1 connection".to_string()
                } else {
                    format!("{} connections", f.count)
                },
                f.remote
            );
        }
        if k.failed_connects.len() > 10 {
            let _ = writeln!(
                text,
                "    … and {} more (see --json)",
                k.failed_connects.len() - 10
            );
        }
    }
}

/// The counters' change over a live run, and where they disagree with the capture.
fn push_counters(text: &mut String, counters: Option<&CountersOverRun>) {
    match counters {
        None => {}
        Some(CountersOverRun::Unavailable(why)) => {
            let _ = writeln!(text, "  kernel counters: not read ({why})");
        }
        Some(CountersOverRun::Compared { run, disagreements }) => {
            let moved: Vec<String> = run
                .rows
                .iter()
                .filter(|r| r.change.is_nonzero())
                .take(10)
                .map(|r| match r.change {
                    Change::Moved { delta, per_second } => {
                        format!("{} +{delta} ({per_second:.1}/s)", r.info.name)
                    }
                    _ => format!("{} reset", r.info.name),
                })
                .collect();
            if moved.is_empty() {
                text.push_str("  kernel counters over the run: no TCP failure counter moved\n");
            } else {
                let _ = writeln!(
                    text,
                    "  kernel counters over the run: {} (`rsthound counters` explains each)",
                    moved.join(", ")
                );
            }
            for d in disagreements {
                let _ = writeln!(text, "  counters vs capture: {}", disagreement(d));
            }
        }
    }
}

/// One piece of advice in words.
pub fn advice_text(a: &Advice, l: &Listener, s: &ListenSysctls, v: &QueueVerdict) -> String {
    let first = v.advice.first() == Some(a);
    match *a {
        Advice::AcceptFaster if first => {
            "the queue stayed full: the application accepts too slowly (a larger backlog only absorbs bursts)".into()
        }
        Advice::AcceptFaster => {
            "if the queue stays full, the application accepts too slowly: a larger backlog only absorbs bursts".into()
        }
        Advice::RaiseListenBacklog { now } => match s.somaxconn {
            Some(max) => format!(
                "raise the backlog the application passes to listen() (now {now}; net.core.somaxconn = {max} allows up to {max})"
            ),
            None => format!("raise the backlog the application passes to listen() (now {now})"),
        },
        Advice::RaiseSomaxconn { now } => format!(
            "raise net.core.somaxconn (now {now}, it caps this listener's backlog) and restart the listener, with a listen() backlog at least as large"
        ),
        Advice::SomaxconnLoweredSince { now } => format!(
            "net.core.somaxconn ({now}) was lowered after this listener started: it keeps its backlog of {} until it listens again",
            l.backlog
        ),
        Advice::AbortOnOverflowResets => {
            "net.ipv4.tcp_abort_on_overflow = 1: clients whose final ACK finds the queue full get a RST".into()
        }
    }
}

/// One disagreement between the counters and a capture, in words (for `watch`'s and
/// `diagnose`'s summaries).
pub fn disagreement(d: &Disagreement) -> String {
    match d {
        Disagreement::RstsNotFromStack {
            seen,
            out_rsts,
            forged,
        } => format!(
            "{seen} RSTs left this host but its TCP stack sent only {out_rsts} (OutRsts): at least \
             {forged} were not sent by the TCP stack but forged by a firewall rule (nftables/iptables \
             `reject with tcp reset`); `nft list ruleset` / `iptables -S` show it"
        ),
        Disagreement::FailuresNotCaptured {
            attempt_fails,
            captured,
            causes,
        } => {
            let mut s = format!(
                "AttemptFails rose by {attempt_fails} but the capture saw {captured} failed \
                 attempts"
            );
            for c in causes {
                s.push_str("; ");
                match c {
                    MissedCause::OtherNamespace { candidates } if candidates.is_empty() => s
                        .push_str(
                            "nothing TCP was captured: the traffic is probably in another network \
                             namespace (a container's): try --netns NAME|PID",
                        ),
                    MissedCause::OtherNamespace { candidates } => {
                        let _ = write!(
                            s,
                            "nothing TCP was captured: the traffic is probably in another network \
                             namespace: try --netns {}",
                            candidates.join(" or --netns ")
                        );
                    }
                    MissedCause::InterfacesFiltered => {
                        s.push_str("only some interfaces were watched: try without -i")
                    }
                    MissedCause::KernelDrops(n) => {
                        let _ = write!(
                            s,
                            "the kernel dropped {n} packets before rsthound read them"
                        );
                    }
                    MissedCause::NeverOnWire => s.push_str(
                        "or the SYNs never reached the wire (a local firewall dropped them, or \
                         connect() failed on an ICMP error or a missing route)",
                    ),
                }
            }
            s
        }
        Disagreement::AcceptQueueFull { overflows, drops } => {
            let mut s = format!(
                "ListenOverflows rose by {overflows}: a listener's accept queue was full (the \
                 application calls accept() too slowly or its backlog is too small)"
            );
            if let Some(d) = drops {
                let _ = write!(s, "; ListenDrops +{d}");
            }
            s.push_str("; `ss -ltn` shows Recv-Q (queued) against Send-Q (backlog)");
            s
        }
    }
}

/// Text lines for a terminal: RST lines and unanswered attempts, or with `connections` one
/// conn.log-like line per connection instead.
pub struct TextSink<'o> {
    pub out: LineBuf<'o>,
    pub connections: bool,
}

impl EventSink for TextSink<'_> {
    fn rst(
        &mut self,
        place: Place<'_>,
        ev: &RstEvent,
        shown: bool,
        _packet: Option<PacketRef<'_>>,
    ) -> io::Result<()> {
        if shown {
            write_rst_text(&mut self.out.buf, place.prefix, ev)?;
        }
        Ok(())
    }

    fn ended(&mut self, c: &ConnSummary) -> io::Result<()> {
        if self.connections {
            write_conn_text(&mut self.out.buf, c)
        } else if c.conn_state.is_unanswered() {
            write_unanswered_text(&mut self.out.buf, c)
        } else {
            Ok(())
        }
    }

    fn kept_talking(&mut self, ts: Timestamp, _conn_id: u64, sender: &Endpoint) -> io::Result<()> {
        if self.connections {
            return Ok(());
        }
        write_note_text(&mut self.out.buf, ts, sender)
    }

    fn storm(&mut self, place: Place<'_>, line: &StormLine) -> io::Result<()> {
        write_storm_text(&mut self.out.buf, place.prefix, line)
    }

    fn flush(&mut self, all: bool) -> io::Result<()> {
        self.out.flush(all)
    }
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
        use crate::engine::track::Evidence as E;
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
                    rsts: 300,
                    span_ns: 2_990_000_000,
                    prev_seq: 7,
                    seq: u32::MAX,
                    peer_ack: Some(5001),
                },
                "300 RSTs over 2990 ms with different sequence numbers (7, 4294967295), none an ACK the peer sent (its last 5001)",
            ),
            (
                E::RstBurst {
                    rsts: 2,
                    span_ns: 21_000,
                    prev_seq: 7,
                    seq: 9,
                    peer_ack: None,
                },
                "2 RSTs over 21 µs with different sequence numbers (7, 9); the peer sent no ACK they could answer",
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
