//! Rendering RST segments: a tcpdump-like text line, or one JSON object per line.
//!
//! Text lines are written with `write!` into a reused buffer; this is the hot path of `read`.

use crate::capture::{Direction, LinkType};
use crate::decode::TcpSegment;
use crate::sanitize::sanitize_text;
use crate::timestamp::Timestamp;
use serde::Serialize;
use std::io::{self, Write};
use std::net::IpAddr;

/// RST payloads (RFC 9293 §3.5.3 diagnostic text) longer than this are cut in the output.
const MAX_PAYLOAD_TEXT: usize = 120;

/// Where a packet came from: everything about it that is not in the TCP segment.
#[derive(Debug, Clone, Copy)]
pub struct PacketMeta<'a> {
    pub ts: Timestamp,
    /// Display name of the capture file.
    pub file: &'a str,
    /// 1-based frame number in its file, as Wireshark numbers them.
    pub frame: u64,
    pub iface: Option<&'a str>,
    pub direction: Option<Direction>,
    pub link_type: LinkType,
}

impl PacketMeta<'_> {
    /// Direction from the capture format, else from a cooked link-layer header.
    pub fn direction_of(&self, seg: &TcpSegment<'_>) -> Option<Direction> {
        self.direction.or(seg.ctx.direction)
    }
}

struct Endpoint(IpAddr, u16);

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            IpAddr::V4(a) => write!(f, "{a}:{}", self.1),
            IpAddr::V6(a) => write!(f, "[{a}]:{}", self.1),
        }
    }
}

/// The text form of an address and port: `10.0.0.1:80`, `[::1]:80`.
pub fn endpoint(ip: IpAddr, port: u16) -> String {
    Endpoint(ip, port).to_string()
}

/// Payload text of a RST, if it carries any captured bytes.
pub fn payload_text(seg: &TcpSegment<'_>) -> Option<String> {
    (!seg.payload.is_empty()).then(|| sanitize_text(seg.payload, MAX_PAYLOAD_TEXT))
}

/// `13:15:42.507657 lo In 127.0.0.1:7211 > 127.0.0.1:57340 [R.] seq 0 ack 1082312303 win 0 ttl 64`
pub fn write_text_line(
    out: &mut Vec<u8>,
    prefix: Option<&str>,
    meta: &PacketMeta<'_>,
    seg: &TcpSegment<'_>,
) -> io::Result<()> {
    if let Some(p) = prefix {
        write!(out, "{p}: ")?;
    }
    let mut t = String::with_capacity(20);
    meta.ts.write_time_of_day(&mut t);
    out.extend_from_slice(t.as_bytes());
    if let Some(name) = meta.iface {
        write!(out, " {name}")?;
    } else if let Some(idx) = seg.ctx.ifindex {
        write!(out, " ifindex {idx}")?;
    }
    if let Some(d) = meta.direction_of(seg) {
        write!(out, " {}", d.as_str())?;
    }
    write!(
        out,
        " {} > {} [{}] seq {}",
        Endpoint(seg.src, seg.sport),
        Endpoint(seg.dst, seg.dport),
        seg.flags,
        seg.seq
    )?;
    if seg.flags.ack() {
        write!(out, " ack {}", seg.ack)?;
    }
    write!(out, " win {} ttl {}", seg.window, seg.ttl)?;
    for e in seg.ctx.encaps() {
        write!(out, " {e}")?;
    }
    if seg.payload_len > 0 {
        write!(out, " len {}", seg.payload_len)?;
        if let Some(text) = payload_text(seg) {
            write!(out, " \"{text}\"")?;
        }
    }
    out.push(b'\n');
    Ok(())
}

#[derive(Serialize)]
struct EncapJson {
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<u32>,
}

/// The `--json` record of one RST segment (schema in the README).
#[derive(Serialize)]
pub struct RstJson<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    ts: String,
    file: &'a str,
    frame: u64,
    link_type: String,
    interface: Option<&'a str>,
    ifindex: Option<u32>,
    direction: Option<&'static str>,
    ip_version: u8,
    src: IpAddr,
    sport: u16,
    dst: IpAddr,
    dport: u16,
    flags: String,
    seq: u32,
    ack: Option<u32>,
    window: u16,
    ttl: u8,
    ip_id: Option<u16>,
    payload_len: u32,
    payload_text: Option<String>,
    encap: Vec<EncapJson>,
}

impl<'a> RstJson<'a> {
    pub fn new(meta: &PacketMeta<'a>, seg: &TcpSegment<'_>) -> Self {
        RstJson {
            kind: "rst",
            ts: meta.ts.rfc3339(),
            file: meta.file,
            frame: meta.frame,
            link_type: meta.link_type.to_string(),
            interface: meta.iface,
            ifindex: seg.ctx.ifindex,
            direction: meta
                .direction_of(seg)
                .map(|d| if d == Direction::In { "in" } else { "out" }),
            ip_version: if seg.src.is_ipv4() { 4 } else { 6 },
            src: seg.src,
            sport: seg.sport,
            dst: seg.dst,
            dport: seg.dport,
            flags: seg.flags.to_string(),
            seq: seg.seq,
            ack: seg.flags.ack().then_some(seg.ack),
            window: seg.window,
            ttl: seg.ttl,
            ip_id: seg.ip_id,
            payload_len: seg.payload_len,
            payload_text: payload_text(seg),
            encap: seg
                .ctx
                .encaps()
                .map(|e| EncapJson {
                    kind: e.kind(),
                    id: e.id(),
                })
                .collect(),
        }
    }
}

pub fn write_json_line(
    out: &mut Vec<u8>,
    meta: &PacketMeta<'_>,
    seg: &TcpSegment<'_>,
) -> io::Result<()> {
    serde_json::to_writer(&mut *out, &RstJson::new(meta, seg))?;
    out.push(b'\n');
    Ok(())
}
