//! The connection tracker: a bounded flow table over decoded segments, Zeek-compatible connection
//! states, and a verdict for every RST. Pure: time comes from packet timestamps only, so a
//! capture gives the same result on every run, and `watch` and `read` share this code.

pub mod event;
mod verdict;
pub mod zeek;

pub use event::{ConnSummary, Endpoint, Event, RstEvent, Verdict};

use crate::capture::Direction;
use crate::decode::TcpSegment;
use crate::output::payload_text;
use crate::timestamp::Timestamp;
use std::collections::HashMap;
use std::net::IpAddr;
use zeek::{SegFacts, ZeekConn};

const SEC: i64 = 1_000_000_000;

/// Limits and timeouts, in capture time.
#[derive(Debug, Clone)]
pub struct TrackerConfig {
    /// Connections tracked at once; beyond it the least recently active are evicted.
    pub max_conns: usize,
    /// A connection with no packet for this long has ended (Zeek's tcp_inactivity_timeout).
    pub idle_timeout_ns: i64,
    /// How long a closed or reset connection is kept, to attach stragglers (Zeek's
    /// tcp_close_delay / tcp_reset_delay).
    pub linger_ns: i64,
    /// An unanswered SYN is reported as a failed attempt after this long without a reply.
    pub attempt_timeout_ns: i64,
    /// Decide roles of connections whose SYN was not seen by well-known server ports.
    pub port_heuristic: bool,
    /// Only SYN, FIN and RST segments are seen (live capture behind the kernel filter): the
    /// handshake's completion is inferred from sequence numbers instead of the final ACK, and
    /// window checks, which need the data segments' ACKs, are off.
    pub headers_only: bool,
}

/// Bytes one tracked connection costs: the entry, twice over because the hash table doubles
/// as it grows, plus what the events and findings keep per connection.
pub const BYTES_PER_CONN: usize =
    2 * (std::mem::size_of::<Conn>() + std::mem::size_of::<FlowKey>()) + 256;

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            max_conns: (256 << 20) / BYTES_PER_CONN,
            idle_timeout_ns: 300 * SEC,
            linger_ns: 5 * SEC,
            attempt_timeout_ns: 30 * SEC,
            port_heuristic: true,
            headers_only: false,
        }
    }
}

/// A connection's identity: the two endpoints in canonical order, plus VLAN and interface so that
/// the same addresses on different networks stay apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    lo: (IpAddr, u16),
    hi: (IpAddr, u16),
    vlan: u16,
    iface: u32,
}

impl FlowKey {
    pub fn new(a: (IpAddr, u16), b: (IpAddr, u16), vlan: Option<u16>, iface: u32) -> Self {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        FlowKey {
            lo,
            hi,
            vlan: vlan.unwrap_or(0xffff),
            iface,
        }
    }
}

/// What the tracker keeps of one direction.
#[derive(Debug, Clone, Copy)]
struct Side {
    ep: Endpoint,
    pkts: u64,
    bytes: u64,
    syns: u32,
    sent_synack: bool,
    /// Initial sequence number (from this side's SYN or SYN-ACK).
    isn: Option<u32>,
    /// Non-RST segments seen (for the TTL baseline).
    ttl_samples: u32,
    ttl_min: u8,
    ttl_max: u8,
    last_ack: Option<u32>,
    last_win: u16,
    wscale: Option<u8>,
    fin_at: Option<i64>,
    /// Sequence number and time of the last RST this side sent.
    last_rst: Option<(u32, i64)>,
    rsts: u32,
    /// Packets this side sent after its first RST (a real stack sends none).
    after_rst: u32,
    /// Whether the peer sent anything since this side's last RST.
    peer_spoke_since_rst: bool,
}

impl Side {
    fn new(ip: IpAddr, port: u16) -> Self {
        Side {
            ep: Endpoint { ip, port },
            pkts: 0,
            bytes: 0,
            syns: 0,
            sent_synack: false,
            isn: None,
            ttl_samples: 0,
            ttl_min: u8::MAX,
            ttl_max: 0,
            last_ack: None,
            last_win: 0,
            wscale: None,
            fin_at: None,
            last_rst: None,
            rsts: 0,
            after_rst: 0,
            peer_spoke_since_rst: false,
        }
    }
}

/// One tracked connection.
#[derive(Debug, Clone)]
struct Conn {
    id: u64,
    orig: Side,
    resp: Side,
    vlan: Option<u16>,
    start: Timestamp,
    last: Timestamp,
    zeek: ZeekConn,
    /// The client acknowledged the SYN-ACK (or sent data after it).
    handshake_done: bool,
    closed_at: Option<i64>,
    kept_talking_reported: bool,
    /// The first RST's verdict, for the fate.
    first_verdict: Option<Verdict>,
}

impl Conn {
    /// A side has sent FIN or RST.
    fn closing(&self) -> bool {
        self.orig.fin_at.is_some()
            || self.resp.fin_at.is_some()
            || self.orig.rsts > 0
            || self.resp.rsts > 0
    }
}

/// Counters the summary reports, so that nothing the tracker dropped goes unmentioned.
#[derive(Debug, Clone, Default)]
pub struct TrackerStats {
    pub conns: u64,
    pub evicted: u64,
    pub expired_idle: u64,
    pub peak_conns: usize,
}

/// The flow table and the state machine around it.
pub struct Tracker {
    cfg: TrackerConfig,
    table: HashMap<FlowKey, Conn, foldhash::fast::FixedState>,
    next_id: u64,
    last_sweep: i64,
    since_sweep: u64,
    now: i64,
    pub stats: TrackerStats,
    events: Vec<Event>,
}

/// Where a segment was seen, beyond the segment itself.
#[derive(Debug, Clone, Copy)]
pub struct SegMeta<'a> {
    pub ts: Timestamp,
    pub frame: u64,
    pub link_type: crate::capture::LinkType,
    pub iface: u32,
    pub iface_name: Option<&'a str>,
    pub direction: Option<Direction>,
    /// The kernel's interface index, when known (live capture).
    pub ifindex: Option<u32>,
}

/// Ports where a service usually listens: decides who is the server when the SYN was not seen.
pub fn likely_server_port(port: u16) -> bool {
    port < 1024
        || matches!(
            port,
            1080 | 1433
                | 1521
                | 1812
                | 1883
                | 2049
                | 2181
                | 3128
                | 3306
                | 3389
                | 5060
                | 5222
                | 5269
                | 5432
                | 5672
                | 5900
                | 6379
                | 6443
                | 6666
                ..=6669
                    | 6697
                    | 7000
                    | 7001
                    | 8000
                    | 8008
                    | 8080
                    | 8081
                    | 8443
                    | 8888
                    | 9000
                    | 9042
                    | 9090
                    | 9092
                    | 9200
                    | 9300
                    | 11211
                    | 27017
        )
}

impl Tracker {
    pub fn new(cfg: TrackerConfig) -> Self {
        Tracker {
            table: HashMap::with_capacity_and_hasher(
                1024,
                foldhash::fast::FixedState::with_seed(0x5eed),
            ),
            cfg,
            next_id: 1,
            last_sweep: i64::MIN,
            since_sweep: 0,
            now: i64::MIN,
            stats: TrackerStats::default(),
            events: Vec::new(),
        }
    }

    /// Events produced since the last call.
    pub fn drain(&mut self) -> std::vec::Drain<'_, Event> {
        self.events.drain(..)
    }

    /// Moves the events produced since the last call into `into` (emptied first), swapping
    /// buffers so that the per-packet call allocates nothing.
    pub fn take_events(&mut self, into: &mut Vec<Event>) {
        into.clear();
        std::mem::swap(&mut self.events, into);
    }

    pub fn tracked(&self) -> usize {
        self.table.len()
    }

    /// Feeds one segment.
    /// Feeds one segment; returns the id of the connection it belongs to.
    pub fn observe(&mut self, meta: &SegMeta<'_>, seg: &TcpSegment<'_>) -> u64 {
        let now = meta.ts.nanos();
        self.now = self.now.max(now);
        self.since_sweep += 1;
        // Sweeping walks the whole table: do it at most once a second of capture time, and only
        // after as many packets as a quarter of the table, so its cost per packet stays bounded.
        if self.now.saturating_sub(self.last_sweep) >= SEC
            && self.since_sweep >= (self.table.len() / 4) as u64
        {
            self.sweep();
            self.last_sweep = self.now;
            self.since_sweep = 0;
        }
        let key = FlowKey::new(
            (seg.src, seg.sport),
            (seg.dst, seg.dport),
            seg.ctx.vlan(),
            meta.iface,
        );
        let sender = Endpoint {
            ip: seg.src,
            port: seg.sport,
        };
        let facts = SegFacts {
            flags: seg.flags,
            seq: seg.seq,
            payload_len: seg.payload_len,
        };
        // A SYN with a new sequence number, or a packet long after the end, starts over.
        let restart = match self.table.get(&key) {
            Some(c) => {
                let from_orig = c.orig.ep == sender;
                c.zeek.is_reuse(from_orig, &facts)
                    || c.closed_at.is_some_and(|t| now.saturating_sub(t) > self.cfg.linger_ns)
                    // Once a side closed or reset, a long silence ends it: what follows is a
                    // straggler, counted as a connection of its own (as Zeek does).
                    || (c.closing() && now.saturating_sub(c.last.nanos()) > self.cfg.linger_ns)
                    || now.saturating_sub(c.last.nanos()) > self.cfg.idle_timeout_ns
            }
            None => false,
        };
        if restart && let Some(old) = self.table.remove(&key) {
            self.end(old, "");
        }
        let is_new = !self.table.contains_key(&key);
        if is_new {
            if self.table.len() >= self.cfg.max_conns {
                self.evict();
            }
            let conn = self.create(meta, seg);
            self.table.insert(key, conn);
            self.stats.conns += 1;
            self.stats.peak_conns = self.stats.peak_conns.max(self.table.len());
        }
        let Some(conn) = self.table.get_mut(&key) else {
            return 0;
        };
        let from_orig = conn.orig.ep == sender;
        let headers_only = self.cfg.headers_only;
        if headers_only && !conn.handshake_done && conn.resp.sent_synack {
            conn.handshake_done = inferred_established(conn, from_orig, seg);
        }
        let rst_event = seg
            .flags
            .rst()
            .then(|| verdict::classify(conn, from_orig, seg, now, is_new, headers_only));
        update_sides(conn, from_orig, seg, now);
        if let Some((sender, ts)) = kept_talking(conn, from_orig, seg, meta.ts) {
            self.events.push(Event::KeptTalking {
                ts,
                conn_id: conn.id,
                sender,
            });
        }
        if conn.zeek.update(from_orig, &facts) {
            std::mem::swap(&mut conn.orig, &mut conn.resp);
        }
        conn.last = conn.last.max(meta.ts);
        if conn.closed_at.is_none() && conn.zeek.is_closed() {
            conn.closed_at = Some(now);
        }
        if let Some((verdict, evidence)) = rst_event {
            conn.first_verdict.get_or_insert(verdict);
            let ev = RstEvent {
                ts: meta.ts,
                frame: meta.frame,
                link_type: meta.link_type,
                iface: meta.iface_name.map(str::to_string),
                ifindex: seg.ctx.ifindex.or(meta.ifindex),
                direction: meta.direction.or(seg.ctx.direction),
                from: sender,
                to: Endpoint {
                    ip: seg.dst,
                    port: seg.dport,
                },
                from_orig: conn.orig.ep == sender,
                flags: seg.flags.to_string(),
                seq: seg.seq,
                ack: seg.flags.ack().then_some(seg.ack),
                window: seg.window,
                ttl: seg.ttl,
                ip_id: seg.ip_id,
                payload_len: seg.payload_len,
                payload_text: payload_text(seg),
                encap: seg.ctx.encaps().collect(),
                verdict,
                evidence,
                conn: summarize(conn, ""),
            };
            self.events.push(Event::Rst(Box::new(ev)));
        }
        conn.id
    }

    /// Moves time forward without a packet (live capture on a quiet link), so that unanswered
    /// attempts and idle connections end on time rather than at the next packet.
    pub fn advance(&mut self, now_ns: i64) {
        self.now = self.now.max(now_ns);
        if self.now.saturating_sub(self.last_sweep) >= SEC {
            self.sweep();
            self.last_sweep = self.now;
            self.since_sweep = 0;
        }
    }

    /// Ends every connection (end of capture, or of a live session).
    pub fn finish(&mut self) {
        let mut all: Vec<Conn> = self.table.drain().map(|(_, c)| c).collect();
        all.sort_by_key(|c| (c.start, c.id));
        for c in all {
            self.end(c, "");
        }
    }

    fn create(&mut self, meta: &SegMeta<'_>, seg: &TcpSegment<'_>) -> Conn {
        // The SYN's sender is the client. Without a SYN (capture began mid-connection, or a
        // SYN-ACK first), guess by ports as Zeek does: a likely server port is the responder.
        // Zeek's WantConnection: when both ports are plausible servers, flip only a non-SYN
        // segment travelling from the lower port.
        let pure_syn = seg.flags.syn() && !seg.flags.ack();
        let likely = |p: u16| self.cfg.port_heuristic && likely_server_port(p);
        // A SYN-ACK's sender is the responder whatever the ports say.
        let synack = seg.flags.syn() && seg.flags.ack();
        let flip = synack
            || (!pure_syn
                && likely(seg.sport)
                && (!likely(seg.dport) || (!seg.flags.syn() && seg.sport < seg.dport)));
        let (o, r) = if flip {
            ((seg.dst, seg.dport), (seg.src, seg.sport))
        } else {
            ((seg.src, seg.sport), (seg.dst, seg.dport))
        };
        let id = self.next_id;
        self.next_id += 1;
        let mut zeek = ZeekConn::default();
        if flip {
            zeek.history_flip_marker();
        }
        Conn {
            id,
            orig: Side::new(o.0, o.1),
            resp: Side::new(r.0, r.1),
            vlan: seg.ctx.vlan(),
            start: meta.ts,
            last: meta.ts,
            zeek,
            handshake_done: false,
            closed_at: None,
            kept_talking_reported: false,
            first_verdict: None,
        }
    }

    /// Ends connections that closed (after the linger time) or went idle.
    fn sweep(&mut self) {
        let now = self.now;
        let (linger, idle, attempt) = (
            self.cfg.linger_ns,
            self.cfg.idle_timeout_ns,
            self.cfg.attempt_timeout_ns,
        );
        let mut done: Vec<FlowKey> = Vec::new();
        for (k, c) in &self.table {
            let quiet = now.saturating_sub(c.last.nanos());
            let unanswered = c.zeek.conn_state() == "S0" && quiet > attempt;
            if c.closed_at.is_some_and(|t| now.saturating_sub(t) > linger)
                || quiet > idle
                || unanswered
            {
                done.push(*k);
            }
        }
        let mut ended: Vec<Conn> = done.iter().filter_map(|k| self.table.remove(k)).collect();
        ended.sort_by_key(|c| (c.start, c.id));
        for c in ended {
            if now.saturating_sub(c.last.nanos()) > idle {
                self.stats.expired_idle += 1;
            }
            self.end(c, "");
        }
    }

    /// Makes room: evicts the least recently active eighth of the table.
    fn evict(&mut self) {
        let mut by_age: Vec<(i64, u64, FlowKey)> = self
            .table
            .iter()
            .map(|(k, c)| (c.last.nanos(), c.id, *k))
            .collect();
        let n = (by_age.len() / 8).max(1);
        by_age.select_nth_unstable_by_key(n - 1, |e| (e.0, e.1));
        let mut victims: Vec<Conn> = by_age[..n]
            .iter()
            .filter_map(|(_, _, k)| self.table.remove(k))
            .collect();
        victims.sort_by_key(|c| (c.start, c.id));
        for c in victims {
            self.stats.evicted += 1;
            self.end(c, " (evicted: connection table full)");
        }
    }

    fn end(&mut self, c: Conn, note: &str) {
        self.events
            .push(Event::Ended(Box::new(summarize(&c, note))));
    }
}

/// Without the handshake's final ACK (live capture sees only SYN, FIN and RST), a segment shows
/// that the connection was established when its sender had moved past its initial sequence
/// number (it sent data), or when the client acknowledges the SYN-ACK on a FIN or RST (a client
/// that rejects a SYN-ACK sends a bare RST, without ACK).
fn inferred_established(conn: &Conn, from_orig: bool, seg: &TcpSegment<'_>) -> bool {
    let past = |a: u32, isn: Option<u32>| {
        isn.is_some_and(|isn| (a.wrapping_sub(isn.wrapping_add(1)) as i32) > 0)
    };
    let (me, peer) = if from_orig {
        (&conn.orig, &conn.resp)
    } else {
        (&conn.resp, &conn.orig)
    };
    if seg.flags.syn() {
        return false;
    }
    past(seg.seq, me.isn)
        || (seg.flags.ack() && past(seg.ack, peer.isn))
        || (from_orig && seg.flags.ack())
}

fn update_sides(conn: &mut Conn, from_orig: bool, seg: &TcpSegment<'_>, now: i64) {
    let flags = seg.flags;
    let (me, peer) = if from_orig {
        (&mut conn.orig, &mut conn.resp)
    } else {
        (&mut conn.resp, &mut conn.orig)
    };
    me.pkts += 1;
    me.bytes += u64::from(seg.payload_len);
    if flags.syn() {
        me.isn = Some(seg.seq);
        if flags.ack() {
            me.sent_synack = true;
        } else {
            me.syns += 1;
        }
        me.wscale = window_scale(seg.options);
    }
    if !flags.rst() {
        me.ttl_samples += 1;
        me.ttl_min = me.ttl_min.min(seg.ttl);
        me.ttl_max = me.ttl_max.max(seg.ttl);
        if me.last_rst.is_some() {
            me.after_rst += 1;
        }
    }
    if flags.ack() && !flags.rst() {
        me.last_ack = Some(seg.ack);
        me.last_win = seg.window;
    }
    if flags.fin() && me.fin_at.is_none() {
        me.fin_at = Some(now);
    }
    if flags.rst() {
        me.rsts += 1;
        me.last_rst = Some((seg.seq, now));
        me.peer_spoke_since_rst = false;
    } else {
        peer.peer_spoke_since_rst = true;
    }
    if from_orig
        && peer.sent_synack
        && !flags.syn()
        && (flags.ack() || seg.payload_len > 0)
        && !flags.rst()
    {
        conn.handshake_done = true;
    }
}

/// A side that sent a RST and then kept sending data: its RST was probably forged by someone else.
fn kept_talking(
    conn: &mut Conn,
    from_orig: bool,
    seg: &TcpSegment<'_>,
    ts: Timestamp,
) -> Option<(Endpoint, Timestamp)> {
    let me = if from_orig { &conn.orig } else { &conn.resp };
    if conn.kept_talking_reported
        || seg.flags.rst()
        || me.last_rst.is_none()
        || seg.payload_len == 0
    {
        return None;
    }
    conn.kept_talking_reported = true;
    Some((me.ep, ts))
}

/// The window-scale option of a SYN, if present.
fn window_scale(mut opts: &[u8]) -> Option<u8> {
    while let Some(&kind) = opts.first() {
        match kind {
            0 => return None,
            1 => opts = &opts[1..],
            _ => {
                let len = usize::from(*opts.get(1)?);
                if len < 2 || len > opts.len() {
                    return None;
                }
                if kind == 3 && len == 3 {
                    return Some(opts[2].min(14));
                }
                opts = &opts[len..];
            }
        }
    }
    None
}

fn summarize(c: &Conn, note: &str) -> ConnSummary {
    let state = c.zeek.conn_state();
    ConnSummary {
        id: c.id,
        orig: c.orig.ep,
        resp: c.resp.ep,
        vlan: c.vlan,
        start: c.start,
        last: c.last,
        orig_pkts: c.orig.pkts,
        orig_bytes: c.orig.bytes,
        resp_pkts: c.resp.pkts,
        resp_bytes: c.resp.bytes,
        conn_state: state,
        history: c.zeek.history.as_str().to_string(),
        syns: c.orig.syns,
        fate: format!("{}{note}", fate(c, state)),
    }
}

/// The connection's fate in plain words.
fn fate(c: &Conn, state: &str) -> String {
    let secs = c.last.nanos().saturating_sub(c.start.nanos()) as f64 / 1e9;
    match state {
        "S0" => format!(
            "unanswered: {} SYN{} over {secs:.1} s, no reply (filtered, dropped, or host down)",
            c.orig.syns,
            if c.orig.syns == 1 { "" } else { "s" }
        ),
        "REJ" => format!("refused by {}", c.resp.ep),
        "SF" => "closed normally".to_string(),
        "S1" => "established, still open".to_string(),
        "S2" | "S3" => "established, half closed".to_string(),
        "SH" => "originator sent SYN then FIN, no reply".to_string(),
        "SHR" => "responder sent SYN-ACK then FIN, originator's SYN not seen".to_string(),
        "RSTOS0" => "originator sent SYN then RST, no reply".to_string(),
        "RSTRH" => "responder sent SYN-ACK then RST, originator's SYN not seen".to_string(),
        "RSTO" | "RSTR" => match c.first_verdict {
            Some(v) => v.as_str().to_string(),
            None if state == "RSTO" => "reset by client".to_string(),
            None => "reset by server".to_string(),
        },
        _ => "no handshake seen (began before the capture, or one direction only)".to_string(),
    }
}
