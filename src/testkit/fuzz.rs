//! The bodies of the cargo-fuzz targets, in one place: each target in `fuzz/fuzz_targets/` is
//! one line calling its function here, and `tests/fuzz_regressions.rs` replays every saved crash
//! input (`fuzz/regressions/TARGET/`) through the same function, so a target and its
//! regression test cannot drift apart. [`TARGETS`] lists them by the fuzz binaries' names.
//!
//! Each function panics when it finds a defect (a panic of the code under test, or an
//! assertion about its result); on any input that is not a defect it returns.

use crate::engine::counters::rates;
use crate::engine::decode::{Context, Outcome, TcpFlags, TcpSegment, decode, ethernet_ipv4_tcp};
use crate::engine::diagnosis::range::Range;
use crate::engine::kevent::TaskContext;
use crate::engine::track::{Event, SegMeta, Tracker, TrackerConfig};
use crate::model::LinkType;
use crate::model::timestamp::Timestamp;
use crate::source::capture::{
    CaptureReader, MAX_KERNEL_COMMENT, option_list, packet_options, parse_kernel_note,
};
use crate::source::counters::{parse_netstat, parse_snmp, parse_uptime, sample_from};
use crate::source::kernel::format::parse;
use crate::source::kernel::record::{Decoder, PerfRecord, Tracepoint, parse_perf_record};
use crate::source::sockets::diag::{ends_dump, parse_reply};
use std::io::Cursor;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

/// A fuzz target's body: panics on a defect.
pub type Body = fn(&[u8]);

/// Every fuzz target by its binary's name (`fuzz/Cargo.toml`), with its body.
pub const TARGETS: &[(&str, Body)] = &[
    ("capture_read", capture_read),
    ("decode", decode_frame),
    ("counters_parse", counters_parse),
    ("sock_diag", sock_diag),
    ("threshold_range", threshold_range),
    ("tracepoint_format", tracepoint_format),
    ("tracepoint_record", tracepoint_record),
    ("kernel_note", kernel_note),
    ("tracker", tracker),
];

/// Packets looked at per capture input: enough for every block type, bounded for speed.
const MAX_PACKETS: usize = 4096;

/// The capture reader (pcap and pcapng, both byte orders, every block type) on arbitrary
/// bytes, every packet it hands out decoded: never a panic, every packet inside the input's
/// limits, every kernel note in a packet comment parsed.
pub fn capture_read(data: &[u8]) {
    let Ok(mut reader) = CaptureReader::new(Box::new(Cursor::new(data.to_vec()))) else {
        return;
    };
    let _ = reader.interfaces();
    let mut seen = 0;
    while seen < MAX_PACKETS {
        // Alternate the batched path (classic pcap) with the one-by-one path.
        let run = reader.next_run(&mut |p| -> Result<(), ()> {
            assert!(p.data.len() <= data.len());
            let _ = decode(p.link_type, p.data);
            Ok(())
        });
        seen += run.unwrap_or(0);
        match reader.next_packet() {
            Ok(Some(p)) => {
                assert!(p.data.len() <= data.len());
                if let Some(note) = p.kernel_note {
                    assert!(note.len() <= MAX_KERNEL_COMMENT);
                    let _ = parse_kernel_note(note);
                }
                if let Outcome::Tcp(seg) = decode(p.link_type, p.data) {
                    assert!(seg.payload.len() <= seg.raw.len());
                }
                seen += 1;
            }
            Ok(None) | Err(_) => break,
        }
    }
}

/// The link types the `decode` target's first byte picks from; the rest is the frame.
const LINKS: [LinkType; 20] = [
    LinkType::ETHERNET,
    LinkType::NULL,
    LinkType::PPP,
    LinkType::FDDI,
    LinkType::RAW_BSD12,
    LinkType::RAW_BSD14,
    LinkType::PPP_HDLC,
    LinkType::PPP_ETHER,
    LinkType::RAW,
    LinkType::C_HDLC,
    LinkType::IEEE802_11,
    LinkType::FRELAY,
    LinkType::LOOP,
    LinkType::LINUX_SLL,
    LinkType::IEEE802_11_RADIOTAP,
    LinkType::PPI,
    LinkType::IPV4,
    LinkType::IPV6,
    LinkType::NFLOG,
    LinkType(276), // LINUX_SLL2
];

fn within(inner: &[u8], outer: &[u8]) -> bool {
    let (o, i) = (outer.as_ptr() as usize, inner.as_ptr() as usize);
    inner.is_empty() || (i >= o && i + inner.len() <= o + outer.len())
}

/// The packet decoder (every link type, VLAN stacks, tunnels, IPv6 extension headers, TCP
/// headers cut anywhere) on arbitrary frames: never a panic, every slice inside the frame, and
/// the fast path agreeing with the general decoder.
pub fn decode_frame(data: &[u8]) {
    let Some((&pick, frame)) = data.split_first() else {
        return;
    };
    let link = LINKS[usize::from(pick) % LINKS.len()];
    let outcome = decode(link, frame);
    if let Outcome::Tcp(seg) = &outcome {
        assert!(within(seg.raw, frame) && within(seg.payload, frame) && within(seg.options, frame));
        assert!(seg.payload.len() as u64 <= u64::from(seg.payload_len));
        assert!(seg.header_cut.is_none_or(|n| (14..20).contains(&n)));
        let _ = seg.flags.to_string();
    }
    if link == LinkType::ETHERNET
        && let Some(fast) = ethernet_ipv4_tcp(frame)
    {
        let Outcome::Tcp(g) = outcome else {
            panic!("the fast path found a segment the general decoder did not");
        };
        let f = fast.segment();
        assert_eq!(
            (g.src, g.dst, g.sport, g.dport),
            (f.src, f.dst, f.sport, f.dport)
        );
        assert_eq!(
            (g.seq, g.ack, g.flags, g.window),
            (f.seq, f.ack, f.flags, f.window)
        );
        assert_eq!((g.payload_len, g.header_cut), (f.payload_len, f.header_cut));
    }
}

/// The counters parser (`/proc/net/snmp`, `/proc/net/netstat`, uptime) on arbitrary bytes:
/// never a panic, and whatever it accepts is usable by the engine.
pub fn counters_parse(data: &[u8]) {
    if let Ok(p) = parse_snmp(data) {
        assert!(p.values.keys().all(|k| !k.is_empty() && k.is_ascii()));
    }
    let _ = parse_netstat(data);
    let _ = parse_uptime(data);
    // Split the input in two files, as a sample reads them.
    let mid = data.len() / 2;
    if let Ok(s) = sample_from(&data[..mid], Ok(&data[mid..])) {
        let _ = rates(&s, &s, 1.0).expect("a positive interval has rates");
    }
}

/// The sock_diag reply parser on arbitrary bytes: never a panic, and a socket comes only from
/// a whole message.
pub fn sock_diag(data: &[u8]) {
    let mut out = Vec::new();
    let _ = parse_reply(data, &mut out);
    let _ = ends_dump(data);
    // A socket needs a 16-byte netlink header and a 72-byte inet_diag_msg.
    assert!(out.len() <= data.len() / 88);
}

/// The monitoring-plugins range parser (`check --warn/--crit`) on arbitrary text: never a
/// panic, and a range it accepts keeps its text and orders its ends.
pub fn threshold_range(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(r) = Range::parse(text) {
        assert_eq!(r.as_str(), text.trim());
        if let (Some(s), Some(e)) = (r.start, r.end) {
            assert!(s <= e);
        }
        let _ = r.alerts(0.0);
        let _ = r.alerts(f64::MAX);
    }
}

/// A tracefs `format` file of any content: parsed without panic; when it parses, a decoder
/// built from it (as each of the five events) decodes records of any content without panic.
pub fn tracepoint_format(data: &[u8]) {
    let (text, raw) = data.split_at(data.len() * 3 / 4);
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let Ok(f) = parse(text) else { return };
    for t in &f.tables {
        for (v, _) in t.entries() {
            let _ = t.name(v);
        }
    }
    for tp in Tracepoint::ALL {
        let mut d = Decoder::new();
        if d.add(tp, &f).is_ok() {
            let mut rec = raw.to_vec();
            if rec.len() >= 2 {
                rec[..2].copy_from_slice(&(f.id as u16).to_ne_bytes());
            }
            let _ = d.decode(TaskContext::default(), &rec);
        }
    }
}

const FORMATS: [(Tracepoint, &str); 7] = [
    (
        Tracepoint::SendReset,
        include_str!("../../tests/fixtures/tracepoints/6.18/tcp_send_reset.format"),
    ),
    (
        Tracepoint::ReceiveReset,
        include_str!("../../tests/fixtures/tracepoints/6.18/tcp_receive_reset.format"),
    ),
    (
        Tracepoint::SetState,
        include_str!("../../tests/fixtures/tracepoints/6.18/inet_sock_set_state.format"),
    ),
    (
        Tracepoint::RetransmitSynack,
        include_str!("../../tests/fixtures/tracepoints/6.18/tcp_retransmit_synack.format"),
    ),
    (
        Tracepoint::KfreeSkb,
        include_str!("../../tests/fixtures/tracepoints/6.18/kfree_skb.format"),
    ),
    (
        Tracepoint::SendReset,
        include_str!("../../tests/fixtures/tracepoints/pre-6.10/tcp_send_reset.format"),
    ),
    (
        Tracepoint::SendReset,
        include_str!("../../tests/fixtures/tracepoints/6.11-reasons/tcp_send_reset.format"),
    ),
];

/// Decoders by the layouts of 6.18's events and of the older kernels' fixtures.
fn decoders() -> &'static [Decoder; 3] {
    static D: OnceLock<[Decoder; 3]> = OnceLock::new();
    D.get_or_init(|| {
        let build = |formats: &[(Tracepoint, &str)]| {
            let mut d = Decoder::new();
            for (tp, text) in formats {
                let f = parse(text).expect("the fixtures parse");
                d.add(*tp, &f).expect("the fixtures fit their events");
            }
            d
        };
        [
            build(&FORMATS[..5]),
            build(&FORMATS[5..6]),
            build(&FORMATS[6..7]),
        ]
    })
}

/// A perf ring record of any content: framed without panic; a sample's raw bytes decoded
/// without panic by the layouts of 6.18's events and of the older kernels' fixtures.
pub fn tracepoint_record(data: &[u8]) {
    let raw = match parse_perf_record(data) {
        Ok(PerfRecord::Sample { raw, .. }) => raw,
        Ok(_) | Err(_) => data,
    };
    for d in decoders() {
        let _ = d.decode(TaskContext::default(), raw);
    }
}

/// A pcapng packet block's option list and the kernel note in its comment, on arbitrary
/// bytes: never a panic, every option inside the list, every name sanitized.
pub fn kernel_note(data: &[u8]) {
    let (big, opts) = match data.split_first() {
        Some((b, rest)) => (b & 1 == 1, rest),
        None => (false, data),
    };
    let mut used = 0usize;
    for (_, value) in option_list(opts, big).flatten() {
        used += 4 + value.len().div_ceil(4) * 4;
        assert!(used <= opts.len());
    }
    if let Some(json) = packet_options(opts, big).kernel {
        assert!(json.len() <= MAX_KERNEL_COMMENT);
    }
    // The JSON parser on its own, straight from the bytes.
    if let Ok(note) = parse_kernel_note(opts) {
        for p in [&note.client, &note.sender, &note.receiver]
            .into_iter()
            .flatten()
        {
            assert!(!p.comm.chars().any(char::is_control));
        }
    }
}

/// Bytes per segment in a [`tracker`] input (after the one-byte header).
pub const SEGMENT_BYTES: usize = 16;

/// The hosts a [`tracker`] input's segments run between: few, so that segments meet in the
/// same connections; an IPv6 pair too.
const HOSTS: [IpAddr; 6] = [
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
    IpAddr::V4(Ipv4Addr::new(192, 168, 1, 7)),
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)),
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1)),
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2)),
];
/// Ports: two well-known server ports, and clients'.
const PORTS: [u16; 8] = [80, 443, 40000, 40001, 55555, 7211, 22, 0];

/// One segment of a [`tracker`] input, as the tracker sees it, and what comes after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuzzSegment {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub flags: TcpFlags,
    pub seq: u32,
    pub ack: u32,
    pub window: u16,
    pub payload_len: u32,
    /// Capture time since the previous segment (may be zero; time never runs backwards in a
    /// tracker input, as the readers hand it on).
    pub gap_ns: i64,
    /// `Some(n)`: the TCP header was cut after `n` of its 20 bytes (14 to 19).
    pub header_cut: Option<u8>,
    pub ttl: u8,
    /// Let time pass (`advance`) after it, as a live capture on a quiet link does.
    pub advance: bool,
}

/// Reads one [`SEGMENT_BYTES`] record:
/// `[hosts, ports, flags lo, flags hi, seq×4, ack×4, window×2, gap, misc]`.
/// hosts: bits 0-2 the source, 3-5 the destination (IPv6 only with IPv6); ports: bits 0-2
/// source, 3-5 destination; gap: bits 6-7 the unit (µs, ms, s, min), bits 0-5 how many; misc:
/// bits 0-2 the payload length (0, 1, 100, 1460, 65535, …), bit 3 the header cut (then bits
/// 4-6 how far: 14 + n, at most 19), bit 7 advance.
pub fn fuzz_segment(rec: &[u8; SEGMENT_BYTES]) -> FuzzSegment {
    let word = |at: usize| u32::from_le_bytes([rec[at], rec[at + 1], rec[at + 2], rec[at + 3]]);
    let (s, d) = (
        usize::from(rec[0] & 7) % 6,
        usize::from(rec[0] >> 3 & 7) % 6,
    );
    // The two addresses of a segment are of one family.
    let d = match (s >= 4, d >= 4) {
        (true, false) => 4 + d % 2,
        (false, true) => d % 4,
        _ => d,
    };
    let unit: i64 = [1_000, 1_000_000, 1_000_000_000, 60_000_000_000][usize::from(rec[14] >> 6)];
    let lens = [0, 0, 1, 100, 536, 1460, 9000, 65535];
    FuzzSegment {
        src: HOSTS[s],
        dst: HOSTS[d],
        sport: PORTS[usize::from(rec[1] & 7)],
        dport: PORTS[usize::from(rec[1] >> 3 & 7)],
        flags: TcpFlags(u16::from_le_bytes([rec[2], rec[3]]) & 0x1ff),
        seq: word(4),
        ack: word(8),
        window: u16::from_le_bytes([rec[12], rec[13]]),
        gap_ns: i64::from(rec[14] & 0x3f) * unit,
        payload_len: lens[usize::from(rec[15] & 7)],
        header_cut: (rec[15] & 8 != 0).then(|| 14 + (rec[15] >> 4 & 7).min(5)),
        ttl: 64,
        advance: rec[15] & 0x80 != 0,
    }
}

/// What a [`tracker`] run saw: for the property test beside the target.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TrackerRun {
    pub segments: u64,
    pub rst_segments: u64,
    pub rst_events: u64,
    /// Connections that ended (`Ended` and `Closed` events).
    pub ended: u64,
    pub conns: u64,
    pub max_conns: usize,
    pub peak_conns: usize,
}

/// Feeds `segments` to a tracker holding at most `max_conns` connections, then ends the run;
/// checks as it goes that the table stays within its bound.
pub fn track_segments(segments: &[FuzzSegment], max_conns: usize) -> TrackerRun {
    let mut tracker = Tracker::new(TrackerConfig {
        max_conns,
        ..TrackerConfig::default()
    });
    let mut run = TrackerRun {
        max_conns: tracker.max_conns(),
        ..TrackerRun::default()
    };
    let count = |run: &mut TrackerRun, tracker: &mut Tracker| {
        for ev in tracker.drain() {
            match ev {
                Event::Rst(_) => run.rst_events += 1,
                Event::Ended(_) | Event::Closed(_) => run.ended += 1,
                Event::KeptTalking { .. } => {}
            }
        }
    };
    // A capture of 2026: timestamps far from the ends of the range.
    let mut now: i64 = 1_780_000_000_000_000_000;
    let payload = [0u8; 64];
    for (frame, s) in segments.iter().enumerate() {
        now = now.saturating_add(s.gap_ns);
        let captured = s.payload_len.min(payload.len() as u32) as usize;
        let seg = TcpSegment {
            src: s.src,
            dst: s.dst,
            sport: s.sport,
            dport: s.dport,
            seq: s.seq,
            ack: s.ack,
            flags: s.flags,
            // A cut header has no window from byte 16 on... nor before 16 (see `header_cut`).
            window: if s.header_cut.is_some_and(|n| n < 16) {
                0
            } else {
                s.window
            },
            ttl: s.ttl,
            ip_id: s.src.is_ipv4().then_some(frame as u16),
            options: &[],
            raw: &[],
            payload: if s.header_cut.is_some() {
                &[]
            } else {
                &payload[..captured]
            },
            payload_len: s.payload_len,
            header_cut: s.header_cut,
            ctx: Context::NONE,
        };
        let meta = SegMeta {
            ts: Timestamp::from_nanos(now, 9),
            frame: frame as u64 + 1,
            link_type: LinkType::ETHERNET,
            iface: 0,
            iface_name: None,
            direction: None,
            ifindex: None,
        };
        tracker.observe(&meta, &seg);
        run.segments += 1;
        run.rst_segments += u64::from(s.flags.rst());
        if s.advance {
            tracker.advance(now);
        }
        assert!(
            tracker.tracked() <= run.max_conns,
            "{} connections tracked, over the bound of {}",
            tracker.tracked(),
            run.max_conns
        );
        count(&mut run, &mut tracker);
    }
    tracker.finish();
    count(&mut run, &mut tracker);
    assert_eq!(tracker.tracked(), 0, "connections left after the end");
    run.conns = tracker.stats.conns;
    run.peak_conns = tracker.stats.peak_conns;
    run
}

/// The tracker fed a sequence of segments (see [`fuzz_segment`]; the first byte sets the table's
/// bound, 1 to 256 connections, so that evictions happen): never a panic, the table within its
/// bound, and the counts consistent: every RST segment makes exactly one RST event, and every
/// connection opened ends exactly once.
pub fn tracker(data: &[u8]) {
    let Some((&bound, body)) = data.split_first() else {
        return;
    };
    let segments: Vec<FuzzSegment> = body
        .chunks_exact(SEGMENT_BYTES)
        .map(|c| fuzz_segment(c.try_into().expect("chunks_exact gives whole records")))
        .collect();
    let run = track_segments(&segments, usize::from(bound) + 1);
    check_tracker_run(&run);
}

/// The counts of a [`track_segments`] run agree with each other.
pub fn check_tracker_run(run: &TrackerRun) {
    assert_eq!(
        run.rst_events, run.rst_segments,
        "every RST segment makes one RST event: {run:?}"
    );
    assert_eq!(
        run.ended, run.conns,
        "every connection ends exactly once: {run:?}"
    );
    assert!(run.peak_conns <= run.max_conns, "{run:?}");
    assert!(run.conns <= run.segments, "{run:?}");
}

/// A [`tracker`] input made from a capture: the first byte a table bound of 256, then each TCP
/// segment of the capture as a record, its hosts and ports mapped to the few a record can name
/// (in order of appearance). The peers' corpus seeds the `tracker` target this way. `None`
/// when the bytes are not a capture the reader opens.
pub fn tracker_input_from_capture(capture: &[u8]) -> Option<Vec<u8>> {
    let mut reader = CaptureReader::new(Box::new(Cursor::new(capture.to_vec()))).ok()?;
    let mut out = vec![255u8];
    let (mut hosts, mut ports): (Vec<IpAddr>, Vec<u16>) = (Vec::new(), Vec::new());
    let mut last: Option<i64> = None;
    while let Ok(Some(p)) = reader.next_packet() {
        let Outcome::Tcp(seg) = decode(p.link_type, p.data) else {
            continue;
        };
        let mut index_of = |ip: IpAddr| -> u8 {
            let v6 = ip.is_ipv6();
            let at = hosts.iter().position(|h| *h == ip).unwrap_or_else(|| {
                hosts.push(ip);
                hosts.len() - 1
            });
            // IPv4 hosts are 0-3, IPv6 4-5.
            if v6 {
                4 + (at % 2) as u8
            } else {
                (at % 4) as u8
            }
        };
        let (s, d) = (index_of(seg.src), index_of(seg.dst));
        let mut port_of = |port: u16| -> u8 {
            if let Some(known) = PORTS.iter().position(|p| *p == port) {
                return known as u8;
            }
            let at = ports.iter().position(|p| *p == port).unwrap_or_else(|| {
                ports.push(port);
                ports.len() - 1
            });
            // The client ports of [`PORTS`].
            [2, 3, 4][at % 3]
        };
        let (sp, dp) = (port_of(seg.sport), port_of(seg.dport));
        let ts = p.ts.nanos();
        let gap = last.map_or(0, |l| ts.saturating_sub(l).max(0));
        last = Some(ts);
        // The coarsest unit that keeps the gap under 64 of it.
        let (unit, n) = [1_000i64, 1_000_000, 1_000_000_000, 60_000_000_000]
            .iter()
            .enumerate()
            .find(|(_, u)| gap / **u < 64)
            .map_or((3, 63), |(i, u)| (i as u8, (gap / u) as u8));
        let len_code = match seg.payload_len {
            0 => 0,
            1 => 2,
            2..=100 => 3,
            101..=536 => 4,
            537..=1460 => 5,
            1461..=9000 => 6,
            _ => 7,
        };
        let cut = seg.header_cut.map_or(0, |n| 8 | ((n - 14).min(5) << 4));
        out.push(s | d << 3);
        out.push(sp | dp << 3);
        out.extend_from_slice(&seg.flags.0.to_le_bytes());
        out.extend_from_slice(&seg.seq.to_le_bytes());
        out.extend_from_slice(&seg.ack.to_le_bytes());
        out.extend_from_slice(&seg.window.to_le_bytes());
        out.push(unit << 6 | n);
        out.push(len_code | cut);
    }
    (out.len() > 1).then_some(out)
}
