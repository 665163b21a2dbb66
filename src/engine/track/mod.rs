//! The connection tracker: a bounded flow table over decoded segments, Zeek-compatible connection
//! states, and a verdict for every RST. Pure: time comes from packet timestamps only, so a
//! capture gives the same result on every run, and `watch` and `read` share this code.

pub mod event;
mod slab;
mod verdict;
pub mod zeek;

pub use event::{
    ClosedConn, ConnSummary, Endpoint, Event, Evidence, Fate, NoReply, RstEvent, TextOut, Verdict,
};
pub use zeek::ConnState;

use crate::engine::decode::{Context, Tcp4, TcpFlags, TcpSegment};
use crate::engine::payload::payload_text;
use crate::model::Direction;
use crate::model::timestamp::Timestamp;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
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
    /// The longest silence an unanswered attempt (S0) outlasts: a retransmitted SYN with the
    /// same ISN belongs to the same attempt however long the backoff, up to this bound
    /// ([`attempt_quiet_limit`] works out the silence that ends one attempt).
    pub attempt_timeout_ns: i64,
    /// Decide roles of connections whose SYN was not seen by well-known server ports.
    pub port_heuristic: bool,
    /// Only SYN, FIN and RST segments are seen (live capture behind the kernel filter): the
    /// handshake's completion is inferred from sequence numbers instead of the final ACK, and
    /// window checks, which need the data segments' ACKs, are off.
    pub headers_only: bool,
    /// Report every ended connection as a full [`Event::Ended`] summary. When false, only
    /// unanswered attempts (S0) are; the others end as a compact [`Event::Closed`] without
    /// allocation (what the RST lines and the findings need).
    pub summarize_all_ended: bool,
    /// A refused attempt (SYN answered by RST, `REJ`) ends at its RST instead of lingering for
    /// stragglers. Live capture sets it: a storm of refused connections then stays in a table
    /// that holds only the attempts in flight, which halves the tracker's cost per RST (the
    /// lingering records of a 200,000/s storm are cache misses on every new SYN). What it
    /// gives up: a retransmission of the same SYN after the RST counts as a new attempt, and a
    /// second RST to the same SYN is a stray.
    pub refused_ends_at_rst: bool,
    /// Zeek's `tcp_attempt_delay`, for a conn.log-like view (`--connections`): an attempt whose
    /// responder has sent nothing this long after it began is a record of its own, and what
    /// follows on the 5-tuple (a retransmitted SYN, or the rest of a connection captured in one
    /// direction only) starts another, as in Zeek's conn.log. None (the default) keeps one
    /// attempt whole for the RST and unanswered lines.
    pub zeek_attempt_delay_ns: Option<i64>,
}

/// Zeek's `tcp_attempt_delay` (scripts/base/init-bare.zeek): 5 s.
pub const ZEEK_ATTEMPT_DELAY_NS: i64 = 5 * SEC;

/// The longest gap between two SYNs of one attempt: Linux doubles the SYN's retransmission
/// timeout from 1 s up to TCP_RTO_MAX, 120 s (tcp_syn_retries=6, the default, gives gaps of
/// 1, 2, 4 … 32 s and gives up 64 s after the last SYN, 127 s in all), plus a second of slack.
pub const ATTEMPT_BOUND_NS: i64 = 121 * SEC;

/// Silence that ends an attempt whose only SYN got no reply: the 30 s this tracker always
/// waited (Linux retransmits after 1 s, older stacks after 3 s).
const ATTEMPT_FIRST_QUIET_NS: i64 = 30 * SEC;

/// The silence after which an unanswered attempt (S0) has ended: the sender would have sent its
/// next SYN by then. Backoff doubles, so that is twice the last gap between SYNs seen (plus a
/// second); at least [`ATTEMPT_FIRST_QUIET_NS`], at most `cfg.attempt_timeout_ns`.
fn attempt_quiet_limit(cfg: &TrackerConfig, c: &Conn) -> i64 {
    let next = c
        .syn_gaps()
        .map_or(0, |(_, last)| last.saturating_mul(2).saturating_add(SEC));
    next.max(ATTEMPT_FIRST_QUIET_NS).min(cfg.attempt_timeout_ns)
}

/// Bytes one tracked connection costs: its record in the slab, its due time (for the sweeps),
/// its free-list entry, its index entry at worst ([`crate::engine::slot_index::BYTES_PER_ENTRY`]: the
/// index doubles as it grows, and old and new tables both exist while it does), and its share of an
/// eviction's events (a full table ends an eighth of its connections at once, and their events
/// exist together until the report has them). What the report keeps is bounded separately, by
/// its own key caps ([`crate::engine::report::Limits::reserve_bytes`]), and taken off the budget before
/// dividing.
pub const BYTES_PER_CONN: usize = std::mem::size_of::<Conn>()
    + std::mem::size_of::<i64>()
    + crate::engine::slot_index::BYTES_PER_ENTRY
    + std::mem::size_of::<u32>()
    + ENDED_EVENT_BYTES.div_ceil(EVICTED_PART);

/// A full table evicts this part of its connections at once (an eighth): one pass over the
/// table makes room for many new connections.
const EVICTED_PART: usize = 8;

/// An ended connection's event until the report has taken it: its place in an event list and
/// its boxed summary with the allocator's header.
pub const ENDED_EVENT_BYTES: usize =
    std::mem::size_of::<Event>() + std::mem::size_of::<ConnSummary>() + 16;

/// An RST's event, likewise: the largest event.
pub const RST_EVENT_BYTES: usize =
    std::mem::size_of::<Event>() + std::mem::size_of::<RstEvent>() + 16;

/// Boxes of RST events, kept for their memory: the report hands back those it is done with,
/// and the tracker makes its next RST events in them ([`Tracker::recycle_rsts`]).
#[allow(clippy::vec_box)]
pub(crate) type RstBoxes = Vec<Box<RstEvent>>;

/// Boxes of spent RST events a tracker keeps for reuse ([`Tracker::recycle_rsts`]), and that
/// the report hands back at a time: a few batches' worth of RSTs (a batch of 4,096 segments of
/// the small-packet benchmark has about 60); in a storm, the rest are freed.
pub(crate) const SPARE_RSTS: usize = 256;

/// The largest connection cap: slots are numbered with 32 bits in the flow index (and the
/// memory four billion records would take runs out long before).
pub const MAX_CONNS: usize = u32::MAX as usize - 1;

/// Memory the default connection cap is sized for: flow table, report tables and buffers.
pub const MEMORY_BUDGET: usize = 256 << 20;

/// Memory outside the flow table and the report: buffers, the events in flight between the
/// threads of `read` (`crate::command::read::pipeline` checks that they take at most half of it), decoder,
/// code, allocator slack.
pub const FIXED_BYTES: usize = 16 << 20;

/// The connection cap that keeps the flow table, a report within `report_bytes`, and the fixed
/// overhead inside `budget` bytes.
pub fn max_conns_for(budget: usize, report_bytes: usize) -> usize {
    (budget.saturating_sub(report_bytes + FIXED_BYTES) / BYTES_PER_CONN).max(1024)
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            max_conns: max_conns_for(
                MEMORY_BUDGET,
                crate::engine::report::Limits::default().reserve_bytes(),
            ),
            idle_timeout_ns: 300 * SEC,
            linger_ns: 5 * SEC,
            attempt_timeout_ns: ATTEMPT_BOUND_NS,
            port_heuristic: true,
            headers_only: false,
            summarize_all_ended: true,
            refused_ends_at_rst: false,
            zeek_attempt_delay_ns: None,
        }
    }
}

/// A connection's identity: the two endpoints in canonical order, plus VLAN and interface so that
/// the same addresses on different networks stay apart. Compact (44 bytes: addresses as 32-bit
/// words, most significant first, an IPv4 address in the last word) and cheap to order and hash:
/// endpoints are compared as integers, which orders them as their bytes would be.
///
/// Kept as one array of words (see the `W_*` positions) so that the flow table's key
/// comparison, made for every segment, is one comparison of 44 bytes rather than seven of
/// fields.
#[derive(Debug, Clone, Copy, Eq)]
pub struct FlowKey {
    w: [u32; 11],
}

impl PartialEq for FlowKey {
    /// The words' differences folded into one: a few vector instructions in line. (The derived
    /// comparison of the array called `memcmp`, about 15 instructions per segment on the
    /// tracking thread for the call alone.)
    #[inline(always)]
    fn eq(&self, other: &Self) -> bool {
        self.w.iter().zip(&other.w).fold(0, |d, (a, b)| d | (a ^ b)) == 0
    }
}

/// Where a [`FlowKey`]'s parts are: the `lo` address (4 words), the `hi` address (4 words),
/// the interface, the ports (`lo` in the low half), the VLAN (0xffff for none, low half) and
/// the family (1 for IPv6, high half).
const W_LO: usize = 0;
const W_HI: usize = 4;
const W_IFACE: usize = 8;
const W_PORTS: usize = 9;
const W_VLAN_V6: usize = 10;

/// The hash of a flow key: computed once per packet and used for every store it is looked up in.
type KeyHash = u64;

/// A segment's flow key, which of its endpoints sent it, and the key's hash: what the tracker
/// computes first for every segment, made apart so that another thread can do it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SegKey {
    key: FlowKey,
    sender_is_lo: bool,
    hash: KeyHash,
}

impl SegKey {
    /// The key of `seg`, seen on capture interface `iface`.
    #[inline]
    pub fn of(iface: u32, seg: &TcpSegment<'_>) -> SegKey {
        let (key, sender_is_lo, hash) = FlowKey::with_sender(
            (seg.src, seg.sport),
            (seg.dst, seg.dport),
            seg.ctx.vlan(),
            iface,
        );
        SegKey {
            key,
            sender_is_lo,
            hash,
        }
    }

    /// The key of an untagged IPv4 segment found by the fast decoder: the same as
    /// [`SegKey::of`] gives for its [`Tcp4::segment`].
    #[inline]
    pub fn of_v4(iface: u32, seg: &Tcp4<'_>) -> SegKey {
        let (key, sender_is_lo, hash) =
            FlowKey::v4_with_sender((seg.src, seg.sport), (seg.dst, seg.dport), 0xffff, iface);
        SegKey {
            key,
            sender_is_lo,
            hash,
        }
    }

    /// The capture interface the key was made for.
    pub fn iface(&self) -> u32 {
        self.key.iface()
    }
}

/// What the tracker reads of a segment besides its key (which holds its addresses and ports):
/// its numbers, a SYN's window scale, and what only an RST's event shows. Made apart from a
/// [`TcpSegment`] so that the tracking thread makes it from a batch record, without the addresses.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SegView<'a> {
    pub seq: u32,
    pub ack: u32,
    /// The payload length the IP header declares.
    pub payload_len: u32,
    pub flags: TcpFlags,
    pub window: u16,
    pub ttl: u8,
    pub ip_id: Option<u16>,
    /// A SYN's window-scale option, or [`NO_WSCALE`].
    pub wscale: u8,
    /// The captured payload (shown for an RST).
    pub payload: &'a [u8],
    /// Encapsulations, interface index and direction (shown for an RST).
    pub ctx: &'a Context,
    /// The TCP header's captured length when the snap length cut it (see
    /// [`TcpSegment::header_cut`]): its window and options are unknown.
    pub header_cut: Option<u8>,
}

impl<'a> SegView<'a> {
    /// What Zeek's state machine reads of the segment.
    #[inline(always)]
    fn facts(&self) -> SegFacts {
        SegFacts {
            flags: self.flags,
            seq: self.seq,
            payload_len: self.payload_len,
        }
    }

    pub fn of(seg: &'a TcpSegment<'_>) -> Self {
        SegView {
            seq: seg.seq,
            ack: seg.ack,
            payload_len: seg.payload_len,
            flags: seg.flags,
            window: seg.window,
            ttl: seg.ttl,
            ip_id: seg.ip_id,
            wscale: syn_window_scale(seg.flags, seg.options),
            payload: seg.payload,
            ctx: &seg.ctx,
            header_cut: seg.header_cut,
        }
    }

    /// The view of a segment the fast decoder found: the same as [`SegView::of`] gives for its
    /// [`Tcp4::segment`].
    #[inline]
    pub fn of_v4(seg: &'a Tcp4<'_>) -> Self {
        SegView {
            seq: seg.seq,
            ack: seg.ack,
            payload_len: seg.payload_len,
            flags: seg.flags,
            window: seg.window,
            ttl: seg.ttl,
            ip_id: Some(seg.ip_id),
            wscale: syn_window_scale(seg.flags, seg.options),
            payload: seg.payload,
            ctx: &Context::NONE,
            header_cut: None,
        }
    }
}

/// The window scale a segment announces: only a SYN's counts.
#[inline]
fn syn_window_scale(flags: TcpFlags, options: &[u8]) -> u8 {
    if flags.syn() {
        window_scale(options).unwrap_or(NO_WSCALE)
    } else {
        NO_WSCALE
    }
}

/// The seed of the flow-key hash, drawn once per run. With a seed anyone could read in this
/// source, a capture could be crafted whose flows all start their index probes in one place
/// (the index probes linearly), and every packet would then walk a run of thousands of
/// buckets. No output depends on the seed: connections are ended and shown in order of start
/// and id, never in index order.
///
/// Read for every segment, so kept in an atomic (0 until drawn) rather than a `OnceLock`,
/// whose check cost about 8 instructions per segment: two threads drawing at once agree
/// through the compare-exchange.
#[inline(always)]
fn hash_seed() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEED: AtomicU64 = AtomicU64::new(0);
    match SEED.load(Ordering::Relaxed) {
        0 => draw_seed(&SEED),
        seed => seed,
    }
}

#[cold]
fn draw_seed(seed: &std::sync::atomic::AtomicU64) -> u64 {
    use std::hash::BuildHasher;
    use std::sync::atomic::Ordering;
    let drawn = std::hash::RandomState::new().hash_one(0x5eed_u64) | 1;
    match seed.compare_exchange(0, drawn, Ordering::Relaxed, Ordering::Relaxed) {
        Ok(_) => drawn,
        Err(theirs) => theirs,
    }
}

/// Hashes a key's parts: the two addresses as numbers, ports and VLAN packed in one word (for
/// IPv4, all of them in one), and the interface.
#[inline]
fn hash_parts(
    lo_ip: u128,
    hi_ip: u128,
    lo_port: u16,
    hi_port: u16,
    vlan: u16,
    v6: bool,
    iface: u32,
) -> KeyHash {
    use std::hash::{BuildHasher, Hasher};
    let mut h = foldhash::fast::FixedState::with_seed(hash_seed()).build_hasher();
    if v6 {
        h.write_u128(lo_ip);
        h.write_u128(hi_ip);
        h.write_u64(u64::from(lo_port) | u64::from(hi_port) << 16 | u64::from(vlan) << 32);
    } else {
        debug_assert!(lo_ip >> 32 == 0 && hi_ip >> 32 == 0);
        // Both IPv4 endpoints and the VLAN fit in one word: one multiplication fewer per
        // segment. (Which way a key hashes only has to be the same each time: stored keys are
        // rehashed through this function too.)
        h.write_u128(
            lo_ip << 96
                | hi_ip << 64
                | u128::from(lo_port) << 48
                | u128::from(hi_port) << 32
                | u128::from(vlan) << 16,
        );
    }
    h.write_u32(iface);
    h.finish()
}

/// A stored key's hash (when the index grows), the same as [`FlowKey::with_sender`] computed.
fn key_hash(k: &FlowKey) -> KeyHash {
    hash_parts(
        from_words(k.lo_ip()),
        from_words(k.hi_ip()),
        k.lo_port(),
        k.hi_port(),
        k.vlan_raw(),
        k.v6(),
        k.iface(),
    )
}

/// An address as a number, and whether it is IPv6.
fn ip_num(ip: IpAddr) -> (u128, bool) {
    match ip {
        IpAddr::V4(a) => (u128::from(u32::from(a)), false),
        IpAddr::V6(a) => (u128::from(a), true),
    }
}

/// An address in 32-bit words (4-byte aligned, so that the key stays 44 bytes).
type Words = [u32; 4];

fn to_words(n: u128) -> Words {
    [
        (n >> 96) as u32,
        (n >> 64) as u32,
        (n >> 32) as u32,
        n as u32,
    ]
}

fn from_words(w: Words) -> u128 {
    u128::from(w[0]) << 96 | u128::from(w[1]) << 64 | u128::from(w[2]) << 32 | u128::from(w[3])
}

impl FlowKey {
    /// The key of these parts (`vlan` 0xffff for none).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn of_parts(
        lo_ip: Words,
        hi_ip: Words,
        lo_port: u16,
        hi_port: u16,
        vlan: u16,
        v6: bool,
        iface: u32,
    ) -> Self {
        let [l0, l1, l2, l3] = lo_ip;
        let [h0, h1, h2, h3] = hi_ip;
        FlowKey {
            w: [
                l0,
                l1,
                l2,
                l3,
                h0,
                h1,
                h2,
                h3,
                iface,
                u32::from(lo_port) | u32::from(hi_port) << 16,
                u32::from(vlan) | u32::from(v6) << 16,
            ],
        }
    }

    /// The address whose words start at `at` (`W_LO` or `W_HI`).
    fn ip_words(&self, at: usize) -> Words {
        [self.w[at], self.w[at + 1], self.w[at + 2], self.w[at + 3]]
    }

    fn lo_ip(&self) -> Words {
        self.ip_words(W_LO)
    }

    fn hi_ip(&self) -> Words {
        self.ip_words(W_HI)
    }

    fn iface(&self) -> u32 {
        self.w[W_IFACE]
    }

    fn lo_port(&self) -> u16 {
        self.w[W_PORTS] as u16
    }

    fn hi_port(&self) -> u16 {
        (self.w[W_PORTS] >> 16) as u16
    }

    /// The VLAN, 0xffff for none.
    fn vlan_raw(&self) -> u16 {
        self.w[W_VLAN_V6] as u16
    }

    fn v6(&self) -> bool {
        self.w[W_VLAN_V6] >> 16 != 0
    }

    pub fn new(a: (IpAddr, u16), b: (IpAddr, u16), vlan: Option<u16>, iface: u32) -> Self {
        Self::with_sender(a, b, vlan, iface).0
    }

    /// [`FlowKey::with_sender`] for IPv4 (`vlan` 0xffff for none): the same key and hash, from
    /// 48-bit (address, port) numbers compared in one go instead of 128-bit addresses.
    #[inline(always)]
    fn v4_with_sender(
        a: (u32, u16),
        b: (u32, u16),
        vlan: u16,
        iface: u32,
    ) -> (Self, bool, KeyHash) {
        let an = u64::from(a.0) << 16 | u64::from(a.1);
        let bn = u64::from(b.0) << 16 | u64::from(b.1);
        let a_lo = an <= bn;
        let (lo, hi) = if a_lo { (an, bn) } else { (bn, an) };
        let (lo_ip, hi_ip) = ((lo >> 16) as u32, (hi >> 16) as u32);
        let (lo_port, hi_port) = (lo as u16, hi as u16);
        (
            FlowKey::of_parts(
                [0, 0, 0, lo_ip],
                [0, 0, 0, hi_ip],
                lo_port,
                hi_port,
                vlan,
                false,
                iface,
            ),
            a_lo,
            hash_parts(
                u128::from(lo_ip),
                u128::from(hi_ip),
                lo_port,
                hi_port,
                vlan,
                false,
                iface,
            ),
        )
    }

    /// The key, whether `a` (the sender) is its `lo` endpoint, and the key's hash (computed from
    /// the integers at hand: hashing the key once stored costs a stall on reading back what
    /// was just written in other widths).
    #[inline(always)]
    fn with_sender(
        a: (IpAddr, u16),
        b: (IpAddr, u16),
        vlan: Option<u16>,
        iface: u32,
    ) -> (Self, bool, KeyHash) {
        let vlan = vlan.unwrap_or(0xffff);
        // IPv4, most traffic. (Kept apart from the general path on purpose: sharing the key's
        // assembly with it cost 22 of the 37 instructions per segment this saves, measured
        // with callgrind.)
        if let (IpAddr::V4(x), IpAddr::V4(y)) = (a.0, b.0) {
            return Self::v4_with_sender((u32::from(x), a.1), (u32::from(y), b.1), vlan, iface);
        }
        let (an, a6) = ip_num(a.0);
        let (bn, b6) = ip_num(b.0);
        // One comparison of plain integers: the order of (family, address, port).
        let a_lo = (a6, an, a.1) <= (b6, bn, b.1);
        let ((lo_ip, lo_port), (hi_ip, hi_port)) = if a_lo {
            ((an, a.1), (bn, b.1))
        } else {
            ((bn, b.1), (an, a.1))
        };
        let v6 = a6 || b6;
        (
            FlowKey::of_parts(
                to_words(lo_ip),
                to_words(hi_ip),
                lo_port,
                hi_port,
                vlan,
                v6,
                iface,
            ),
            a_lo,
            hash_parts(lo_ip, hi_ip, lo_port, hi_port, vlan, v6, iface),
        )
    }

    fn ip(&self, w: Words) -> IpAddr {
        let n = from_words(w);
        if self.v6() {
            IpAddr::V6(Ipv6Addr::from(n))
        } else {
            IpAddr::V4(Ipv4Addr::from(n as u32))
        }
    }

    /// The (sender, receiver) endpoints of a segment whose sender is the `lo` one or not.
    fn endpoints(&self, sender_is_lo: bool) -> (Endpoint, Endpoint) {
        if sender_is_lo {
            (self.lo(), self.hi())
        } else {
            (self.hi(), self.lo())
        }
    }

    /// The (sender, receiver) ports.
    fn ports(&self, sender_is_lo: bool) -> (u16, u16) {
        if sender_is_lo {
            (self.lo_port(), self.hi_port())
        } else {
            (self.hi_port(), self.lo_port())
        }
    }

    fn lo(&self) -> Endpoint {
        Endpoint {
            ip: self.ip(self.lo_ip()),
            port: self.lo_port(),
        }
    }

    fn hi(&self) -> Endpoint {
        Endpoint {
            ip: self.ip(self.hi_ip()),
            port: self.hi_port(),
        }
    }

    fn vlan(&self) -> Option<u16> {
        let vlan = self.vlan_raw();
        (vlan != 0xffff).then_some(vlan)
    }

    /// Both endpoints are the same (a segment to itself).
    fn is_loop(&self) -> bool {
        self.lo_port() == self.hi_port() && self.lo_ip() == self.hi_ip()
    }
}

// Side flags.
const SENT_SYNACK: u8 = 1;
const HAS_ACK: u8 = 2;
const HAS_FIN: u8 = 4;
const HAS_RST: u8 = 8;
/// The peer sent anything since this side's last RST.
const PEER_SPOKE: u8 = 16;
/// `isn` holds the side's initial sequence number.
const HAS_ISN: u8 = 32;
/// The side's advertised window or window scale is not known: a segment of it had its header
/// cut by the snap length before the window or the options. No out-of-window verdict against it.
const WINDOW_UNKNOWN: u8 = 64;

/// What every segment touches of one direction (24 bytes; the endpoint itself is in the key).
/// What only SYN, FIN and RST segments and the verdicts need is in its [`SideLog`].
#[derive(Debug, Clone, Copy)]
struct Side {
    bytes: u64,
    /// Packets, modulo 2^32 (`pkts_wraps` counts the wraps): with the wraps, a connection's
    /// packet count needs only 6 bytes of the record's first cache lines.
    pkts_lo: u32,
    /// The last acknowledgment number (if `HAS_ACK`).
    last_ack_no: u32,
    last_win: u16,
    pkts_wraps: u16,
    ttl_min: u8,
    ttl_max: u8,
    flags: u8,
    /// Window scale from the SYN; `NO_WSCALE` when absent.
    wscale_opt: u8,
}

/// What SYN, FIN and RST segments change of one direction (32 bytes, in the record's last
/// cache line).
#[derive(Debug, Clone, Copy)]
struct SideLog {
    /// When this side first sent FIN (if `HAS_FIN`).
    fin_at_ns: i64,
    /// When this side last sent a RST (if `HAS_RST`).
    last_rst_at: i64,
    syns: u32,
    /// Initial sequence number, from this side's SYN or SYN-ACK (if `HAS_ISN`).
    isn_no: u32,
    last_rst_seq: u32,
    rsts: u32,
    /// RSTs in this side's current burst: RSTs at most [`verdict::INJECTION_BURST_NS`] apart
    /// with nothing from the peer in between (1 after a lone RST).
    burst_rsts: u32,
    /// When the current burst began, as an offset from the connection's start
    /// ([`burst_offset`]).
    burst_first_off: u32,
}

/// A side's window scale when its SYN had none.
pub(crate) const NO_WSCALE: u8 = u8::MAX;

impl Side {
    const NEW: Side = Side {
        bytes: 0,
        pkts_lo: 0,
        last_ack_no: 0,
        last_win: 0,
        pkts_wraps: 0,
        ttl_min: u8::MAX,
        ttl_max: 0,
        flags: 0,
        wscale_opt: NO_WSCALE,
    };

    fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }

    fn add_packet(&mut self) {
        self.pkts_lo = self.pkts_lo.wrapping_add(1);
        if self.pkts_lo == 0 {
            self.pkts_wraps = self.pkts_wraps.saturating_add(1);
        }
    }
}

impl SideLog {
    const NEW: SideLog = SideLog {
        fin_at_ns: 0,
        last_rst_at: 0,
        syns: 0,
        isn_no: 0,
        last_rst_seq: 0,
        rsts: 0,
        burst_rsts: 0,
        burst_first_off: 0,
    };
}

/// One direction, both parts: what the verdicts and summaries read.
#[derive(Clone, Copy)]
struct SideRef<'a> {
    hot: &'a Side,
    log: &'a SideLog,
}

impl SideRef<'_> {
    fn has(&self, f: u8) -> bool {
        self.hot.has(f)
    }

    fn sent_synack(&self) -> bool {
        self.has(SENT_SYNACK)
    }

    fn pkts(&self) -> u64 {
        u64::from(self.hot.pkts_wraps) << 32 | u64::from(self.hot.pkts_lo)
    }

    fn bytes(&self) -> u64 {
        self.hot.bytes
    }

    fn syns(&self) -> u32 {
        self.log.syns
    }

    /// Non-RST segments seen (for the TTL baseline): every segment is one or the other.
    fn ttl_samples(&self) -> u32 {
        let n = self.pkts().saturating_sub(u64::from(self.log.rsts));
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    fn isn(&self) -> Option<u32> {
        self.has(HAS_ISN).then_some(self.log.isn_no)
    }

    fn fin_at(&self) -> Option<i64> {
        self.has(HAS_FIN).then_some(self.log.fin_at_ns)
    }

    /// Sequence number and time of the last RST this side sent.
    fn last_rst(&self) -> Option<(u32, i64)> {
        self.has(HAS_RST)
            .then_some((self.log.last_rst_seq, self.log.last_rst_at))
    }

    fn peer_spoke_since_rst(&self) -> bool {
        self.has(PEER_SPOKE)
    }

    /// Whether a RST from this side at `now` continues its burst: its last RST was at most
    /// [`verdict::INJECTION_BURST_NS`] before, and the peer sent nothing since.
    fn burst_continues(&self, now: i64) -> bool {
        self.last_rst().is_some_and(|(_, at)| {
            !self.peer_spoke_since_rst() && now.saturating_sub(at) <= verdict::INJECTION_BURST_NS
        })
    }

    /// The RSTs of the burst a RST at `now` belongs to (itself included), and the nanoseconds
    /// from the burst's first RST to it; `conn_start` is the connection's start.
    fn burst_with(&self, now: i64, conn_start: i64) -> (u32, i64) {
        if self.burst_continues(now) {
            let first = burst_time(conn_start, self.log.burst_first_off);
            (
                self.log.burst_rsts.saturating_add(1),
                now.saturating_sub(first).max(0),
            )
        } else {
            (1, 0)
        }
    }

    fn last_ack(&self) -> Option<u32> {
        self.has(HAS_ACK).then_some(self.hot.last_ack_no)
    }

    /// Whether its window or window scale was cut from a captured header.
    fn window_unknown(&self) -> bool {
        self.has(WINDOW_UNKNOWN)
    }

    fn wscale(&self) -> Option<u8> {
        (self.hot.wscale_opt != NO_WSCALE).then_some(self.hot.wscale_opt)
    }
}

// Conn flags.
/// The client acknowledged the SYN-ACK (or sent data after it).
const HANDSHAKE_DONE: u8 = 1;
const KEPT_TALKING_REPORTED: u8 = 2;
/// The originator is the key's `lo` endpoint.
const ORIG_IS_LO: u8 = 4;
/// `closed_ns` is set.
const CLOSED: u8 = 8;

/// One tracked connection and its key: a flat, copyable record (no heap data) of four cache
/// lines. Laid out by use: a segment of an established connection reads and writes only the
/// first two lines (key, flags, last time, both sides' counters, Zeek's endpoint states and
/// the history's letter set), so that a busy table costs two cache misses per segment, not
/// five, and the tracker prefetches just those. The history's letters, the times and the
/// per-side log follow.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
struct Conn {
    key: FlowKey,
    flags: u8,
    /// The first RST's verdict, for the fate.
    first_verdict: Option<Verdict>,
    start_digits: u8,
    last_digits: u8,
    last_ns: i64,
    orig: Side,
    resp: Side,
    zeek: ZeekConn,
    // Lines 2-3.
    id: u64,
    start_ns: i64,
    /// When Zeek's state machine first saw it closed (if `CLOSED`).
    closed_ns: i64,
    orig_log: SideLog,
    resp_log: SideLog,
}

/// The bytes of a record that every segment touches.
const HOT_BYTES: usize = 128;
const _: () = {
    assert!(std::mem::size_of::<Conn>() == 256);
    assert!(std::mem::offset_of!(Conn, zeek) + zeek::HOT_BYTES <= HOT_BYTES);
};

impl Conn {
    fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }

    fn handshake_done(&self) -> bool {
        self.has(HANDSHAKE_DONE)
    }

    fn closed_at(&self) -> Option<i64> {
        self.has(CLOSED).then_some(self.closed_ns)
    }

    fn orig_is_lo(&self) -> bool {
        self.has(ORIG_IS_LO)
    }

    /// The gaps between the originator's first two SYNs and its last two, while the responder
    /// has sent nothing (see [`record_syn_gap`]).
    fn syn_gaps(&self) -> Option<(i64, i64)> {
        (self.orig_log.syns > 1 && self.resp.pkts_lo == 0 && self.resp.pkts_wraps == 0)
            .then_some((self.resp_log.fin_at_ns, self.resp_log.last_rst_at))
    }

    fn start(&self) -> Timestamp {
        Timestamp::from_nanos(self.start_ns, self.start_digits)
    }

    fn last(&self) -> Timestamp {
        Timestamp::from_nanos(self.last_ns, self.last_digits)
    }

    fn orig_side(&self) -> SideRef<'_> {
        SideRef {
            hot: &self.orig,
            log: &self.orig_log,
        }
    }

    fn resp_side(&self) -> SideRef<'_> {
        SideRef {
            hot: &self.resp,
            log: &self.resp_log,
        }
    }

    /// (sender, receiver) of a segment from the originator or not.
    fn sides(&self, from_orig: bool) -> (SideRef<'_>, SideRef<'_>) {
        if from_orig {
            (self.orig_side(), self.resp_side())
        } else {
            (self.resp_side(), self.orig_side())
        }
    }

    fn orig_ep(&self) -> Endpoint {
        if self.orig_is_lo() {
            self.key.lo()
        } else {
            self.key.hi()
        }
    }

    fn resp_ep(&self) -> Endpoint {
        if self.orig_is_lo() {
            self.key.hi()
        } else {
            self.key.lo()
        }
    }

    /// A side has sent FIN or RST.
    fn closing(&self) -> bool {
        (self.orig.flags | self.resp.flags) & (HAS_FIN | HAS_RST) != 0
    }

    /// Whether the connection should start over with this segment (Zeek's reuse, or a packet long
    /// after the end).
    #[inline(always)]
    fn restarts(&self, facts: &SegFacts, now: i64, cfg: &TrackerConfig) -> bool {
        let quiet = now.saturating_sub(self.last_ns);
        self.zeek.is_reuse(false, facts)
            || self
                .closed_at()
                .is_some_and(|t| now.saturating_sub(t) > cfg.linger_ns)
            // Zeek's ExpireTimer: once a side closed, a silence longer than
            // tcp_connection_linger ends the connection if both closed, one reset, or one never
            // sent anything; what follows is a connection of its own. A half-closed one stays.
            || (self.closing() && quiet > cfg.linger_ns && self.zeek.expires_when_quiet())
            // Zeek's AttemptTimer (`--connections` only).
            || cfg.zeek_attempt_delay_ns.is_some_and(|d| {
                self.zeek.attempt_pending() && now.saturating_sub(self.start_ns) > d
            })
            || quiet > cfg.idle_timeout_ns
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

/// Records in a [`slab::Slab`] (freed slots are reused first, so live records stay packed), found
/// through a [`crate::engine::slot_index::SlotIndex`] of slot numbers: a word per bucket, so the index of
/// a busy table stays in cache, and a key is compared only where 32 bits of its hash already
/// match.
/// A free slot has `id == 0`.
struct Store {
    index: crate::engine::slot_index::SlotIndex,
    slots: slab::Slab<Conn>,
    /// Per slot: a capture time before which its connection cannot be due to end ([`due`];
    /// `i64::MAX` for a free slot). A sweep reads these 8 bytes per slot and looks only at the
    /// records whose time has come, instead of at every 256-byte record every second (a tenth
    /// of the tracking thread's time on a busy capture).
    due: slab::Slab<i64>,
    free: Vec<u32>,
}

impl Store {
    fn new() -> Self {
        Store {
            index: crate::engine::slot_index::SlotIndex::new(),
            slots: slab::Slab::new(),
            due: slab::Slab::new(),
            free: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        self.index.len()
    }

    /// The slot holding `key` (whose hash is `h`).
    #[inline]
    fn find(&self, key: &FlowKey, h: KeyHash) -> Option<u32> {
        let slots = &self.slots;
        self.index.find(h, |i| slots[i as usize].key == *key)
    }

    /// Adds `conn` (whose key hashes to `h`), written straight into its slot, with the time
    /// before which it cannot end (`i64::MIN`: look at it at the next sweep).
    #[inline(always)]
    fn insert(&mut self, h: KeyHash, conn: Conn, due: i64) -> (&mut Conn, u32) {
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = conn;
                self.due[i as usize] = due;
                i
            }
            None => {
                self.due.push(due);
                self.slots.push(conn) as u32
            }
        };
        self.index.insert(h, i);
        (&mut self.slots[i as usize], i)
    }

    /// Removes the connection at slot `i`, whose key hashes to `h`; returns a copy of it.
    fn remove_at(&mut self, h: KeyHash, i: u32) -> Option<Conn> {
        // Copied before the slot is marked free (which clears the record's id).
        let c = *self.slots.get(i as usize)?;
        self.forget_at(h, i).then_some(c)
    }

    /// Removes the connection at slot `i`, whose key hashes to `h`, without copying it out (the
    /// record stays readable in its slot until the slot is reused); returns whether it was there.
    fn forget_at(&mut self, h: KeyHash, i: u32) -> bool {
        if !self.index.remove(h, i) {
            return false;
        }
        self.slots[i as usize].id = 0;
        self.due[i as usize] = i64::MAX;
        self.free.push(i);
        true
    }

    /// Adds to `into` (as [`Picked`], with `store` in the low bit) the connections that a sweep
    /// at `now` ends; every other connection whose [`due`] time has come gets its next one.
    fn sweep_into(&mut self, store: u32, now: i64, cfg: &TrackerConfig, into: &mut Vec<Picked>) {
        for (i, due_at) in self.due.iter_mut().enumerate() {
            if *due_at > now {
                continue;
            }
            let c = &self.slots[i];
            if c.id == 0 {
                *due_at = i64::MAX;
            } else if ends_by(cfg, c, now) {
                into.push((c.start_ns, c.id, (i as u32) << 1 | store));
            } else {
                *due_at = due(cfg, c);
                debug_assert!(*due_at > now, "a connection not ending is due later");
            }
        }
    }

    fn live(&self) -> impl Iterator<Item = (u32, &Conn)> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, c)| c.id != 0)
            .map(|(i, c)| (i as u32, c))
    }
}

/// The flow table. Connections still open live in `open`; once a side has sent FIN or RST a
/// connection moves to `closing`, where it waits out its linger time (or its idle timeout) for
/// stragglers. Packets mostly go to open connections, so `open` stays small and hot in the
/// cache however many closed connections wait: one lookup per packet, two for a straggler or a
/// new connection.
struct Table {
    open: Store,
    closing: Store,
}

impl Table {
    fn len(&self) -> usize {
        self.open.len() + self.closing.len()
    }

    /// Where the connections `done` picks are, as [`Picked`], in the order they are ended: by
    /// start, then id. The records stay where they are (a few bytes each, not a copy of each).
    fn pick(&self, mut done: impl FnMut(&Conn) -> bool) -> Vec<Picked> {
        let mut v = Vec::new();
        for (store, s) in [(0u32, &self.open), (1, &self.closing)] {
            v.extend(
                s.live()
                    .filter(|(_, c)| done(c))
                    .map(|(i, c)| (c.start_ns, c.id, i << 1 | store)),
            );
        }
        v.sort_unstable();
        v
    }

    fn live(&self) -> impl Iterator<Item = &Conn> {
        self.open.live().chain(self.closing.live()).map(|(_, s)| s)
    }

    /// The store a [`Picked`] connection is in.
    fn store(&self, at: u32) -> &Store {
        if at & 1 == 0 {
            &self.open
        } else {
            &self.closing
        }
    }

    fn store_mut(&mut self, at: u32) -> &mut Store {
        if at & 1 == 0 {
            &mut self.open
        } else {
            &mut self.closing
        }
    }

    /// Moves an open connection that started closing.
    fn move_to_closing(&mut self, h: KeyHash, i: u32, cfg: &TrackerConfig) {
        if let Some(c) = self.open.remove_at(h, i) {
            let due_at = due(cfg, &c);
            self.closing.insert(h, c, due_at);
        }
    }
}

/// Where [`Tracker::prefetch`] found a segment's open connection, if it did.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SlotHint(Option<u32>);

/// How many connections ahead the end of the capture prefetches the records of.
const FINISH_AHEAD: usize = 8;

/// A connection picked to end: its start, id, and slot (shifted left, with the store in the low
/// bit: 0 for `open`, 1 for `closing`).
type Picked = (i64, u64, u32);

/// The flow table and the state machine around it.
pub struct Tracker {
    cfg: TrackerConfig,
    table: Table,
    next_id: u64,
    last_sweep: i64,
    /// `last_sweep` plus a second (saturating): no sweep is due before. (Never later than the
    /// exact test in [`Tracker::sweep_if_due`], which decides.)
    sweep_at: i64,
    since_sweep: u64,
    now: i64,
    pub stats: TrackerStats,
    events: Vec<Event>,
    /// Boxes of RST events the report is done with, for the next ones (see
    /// [`Tracker::recycle_rsts`]).
    spare_rsts: RstBoxes,
    /// Connections left to end at the end of the capture, last first.
    finishing: Option<Vec<Picked>>,
}

/// Where a segment was seen, beyond the segment itself.
#[derive(Debug, Clone, Copy)]
pub struct SegMeta<'a> {
    pub ts: Timestamp,
    pub frame: u64,
    pub link_type: crate::model::LinkType,
    pub iface: u32,
    pub iface_name: Option<&'a std::sync::Arc<str>>,
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
    pub fn new(mut cfg: TrackerConfig) -> Self {
        cfg.max_conns = cfg.max_conns.clamp(1, MAX_CONNS);
        Tracker {
            table: Table {
                open: Store::new(),
                closing: Store::new(),
            },
            cfg,
            next_id: 1,
            last_sweep: i64::MIN,
            sweep_at: i64::MIN.saturating_add(SEC),
            since_sweep: 0,
            now: i64::MIN,
            stats: TrackerStats::default(),
            events: Vec::new(),
            spare_rsts: Vec::new(),
            finishing: None,
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

    /// How many events wait to be taken.
    pub fn events_waiting(&self) -> usize {
        self.events.len()
    }

    /// Whether events wait to be taken.
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// Takes back the boxes of RST events the report is done with (emptying `spent`), to make
    /// the next RST events in: an RST's event is then written into memory this thread already
    /// had, instead of being allocated here and freed on the report's thread (which takes the
    /// allocator's lock for this thread's arena, and a fresh page now and then, for every RST).
    /// At most [`SPARE_RSTS`] are kept; the rest are freed.
    pub(crate) fn recycle_rsts(&mut self, spent: &mut RstBoxes) {
        let room = SPARE_RSTS.saturating_sub(self.spare_rsts.len());
        let keep = spent.len().min(room);
        self.spare_rsts.extend(spent.drain(..keep));
        spent.clear();
    }

    /// The connection cap in effect (`TrackerConfig::max_conns`, brought within 1..=`MAX_CONNS`).
    pub fn max_conns(&self) -> usize {
        self.cfg.max_conns
    }

    pub fn tracked(&self) -> usize {
        self.table.len()
    }

    /// Feeds one segment; returns the id of the connection it belongs to.
    pub fn observe(&mut self, meta: &SegMeta<'_>, seg: &TcpSegment<'_>) -> u64 {
        let k = SegKey::of(meta.iface, seg);
        self.observe_hinted(meta, &SegView::of(seg), &k, SlotHint(None))
    }

    /// Starts loading the index bucket where the lookup of `k` begins: the first of two
    /// prefetches for a segment some places ahead of the one being observed. Changes nothing.
    #[inline]
    pub(crate) fn prefetch_index(&self, k: &SegKey) {
        crate::mem::prefetch_bytes(self.table.open.index.first_bucket(k.hash), 8);
    }

    /// Starts loading the first cache lines of the open connection whose index entry matches
    /// `k` (the bucket, prefetched earlier by [`Tracker::prefetch_index`], should be in the
    /// cache by now): the second prefetch, for a segment a few places ahead. Returns its slot
    /// as a hint for [`Tracker::observe_hinted`], which then need not look it up again.
    /// Changes nothing.
    #[inline]
    pub(crate) fn prefetch(&self, k: &SegKey) -> SlotHint {
        let open = &self.table.open;
        // The first slot whose 32 hash bits match is almost surely the one (another one matches
        // one lookup in thousands, and then the hint fails its check): it is prefetched, not
        // read, and the walk stops there instead of running to the end of the probe run.
        let first = open.index.find(k.hash, |i| {
            if let Some(conn) = open.slots.get(i as usize) {
                crate::mem::prefetch_bytes(conn, HOT_BYTES);
            }
            true
        });
        SlotHint(first)
    }

    /// [`Tracker::observe`] with the segment's key already computed (by the decoding thread),
    /// and the hint [`Tracker::prefetch`] gave for it. The
    /// table may have changed since (a hint is checked before it is used: the slot must hold an
    /// open connection with the segment's key), so a stale hint only costs the lookup it was
    /// meant to save.
    ///
    /// Inlined into the caller's loop for the commonest segment, a plain one (no SYN, FIN or
    /// RST) to an open connection, so that its view and metadata need not be written out for
    /// a call; every other segment takes [`Tracker::observe_found`].
    #[inline(always)]
    pub(crate) fn observe_hinted(
        &mut self,
        meta: &SegMeta<'_>,
        seg: &SegView<'_>,
        k: &SegKey,
        hint: SlotHint,
    ) -> u64 {
        self.observe_made(k, hint, || (*meta, *seg))
    }

    /// [`Tracker::observe_hinted`] with the segment's metadata and view made by `made`, called
    /// where they are needed: the commonest segment's copy is then never written out, only
    /// the one handed to [`Tracker::observe_found`] is.
    #[inline(always)]
    pub(crate) fn observe_made<'m, 's>(
        &mut self,
        k: &SegKey,
        hint: SlotHint,
        made: impl Fn() -> (SegMeta<'m>, SegView<'s>),
    ) -> u64 {
        debug_assert!(
            self.finishing.is_none(),
            "a segment after the end of the input"
        );
        let (meta, seg) = made();
        let (meta, seg) = (&meta, &seg);
        let now = meta.ts.nanos();
        self.now = self.now.max(now);
        self.since_sweep += 1;
        // Sweeping walks the whole table: do it at most once a second of capture time, and only
        // after as many packets as a quarter of the table, so its cost per packet stays bounded.
        // (The time is compared first, with the second worked out at the last sweep: within a
        // second that one comparison is all a segment costs here.)
        if self.now >= self.sweep_at && self.since_sweep >= (self.table.len() / 4) as u64 {
            self.sweep_if_due();
        }
        let open = &mut self.table.open;
        // The hinted slot, if it still holds the connection; else a lookup. One access to the
        // record either way.
        let hinted = hint.0.and_then(|i| {
            open.slots
                .get_mut(i as usize)
                .filter(|c| c.id != 0 && c.key == k.key)
                .map(|c| (i, c))
        });
        let (found, conn) = match hinted {
            Some((i, c)) => (Some(i), Some(c)),
            None => {
                let found = open.find(&k.key, k.hash);
                (found, found.and_then(|i| open.slots.get_mut(i as usize)))
            }
        };
        if seg.flags.plain()
            && let Some(conn) = conn
        {
            // A segment without SYN, FIN or RST to an open connection cannot start it over
            // (only a SYN or a long silence does) nor close it, so it stays where it is.
            let a = Arrival::of(meta, seg, k, self.cfg.headers_only);
            // What `Conn::restarts` comes to for it: a connection in `open` has not closed
            // (it moves to `closing` at its first FIN or RST).
            debug_assert!(!conn.closing() && !conn.has(CLOSED));
            if now.saturating_sub(conn.last_ns) <= self.cfg.idle_timeout_ns {
                return update::<true>(conn, &a, false, &mut self.events, &mut self.spare_rsts);
            }
        }
        let (meta, seg) = made();
        self.observe_found(&meta, &seg, k, found)
    }

    /// [`Tracker::observe_hinted`] for every other segment: `found` is the slot of its open
    /// connection, if it has one.
    #[inline(never)]
    fn observe_found(
        &mut self,
        meta: &SegMeta<'_>,
        seg: &SegView<'_>,
        k: &SegKey,
        found: Option<u32>,
    ) -> u64 {
        let now = meta.ts.nanos();
        let &SegKey {
            ref key,
            sender_is_lo,
            hash: h,
        } = k;
        let a = Arrival::of(meta, seg, k, self.cfg.headers_only);
        let mut old = None;
        if let Some(i) = found {
            let conn = &mut self.table.open.slots[i as usize];
            if !conn.restarts(&seg.facts(), now, &self.cfg) {
                let id = update::<false>(conn, &a, false, &mut self.events, &mut self.spare_rsts);
                if conn.closing() {
                    if self.cfg.refused_ends_at_rst && conn.zeek.conn_state() == ConnState::Rej {
                        // Ended where it lies: the record is not copied out.
                        end(&self.cfg, &mut self.events, conn, false);
                        self.table.open.forget_at(h, i);
                    } else {
                        self.table.move_to_closing(h, i, &self.cfg);
                    }
                } else {
                    self.table.open.due[i as usize] = due(&self.cfg, conn);
                }
                return id;
            }
            old = self.table.open.remove_at(h, i);
        } else if let Some(i) = self.table.closing.find(key, h) {
            let conn = &mut self.table.closing.slots[i as usize];
            if !conn.restarts(&seg.facts(), now, &self.cfg) {
                let id = update::<false>(conn, &a, false, &mut self.events, &mut self.spare_rsts);
                self.table.closing.due[i as usize] = due(&self.cfg, conn);
                return id;
            }
            old = self.table.closing.remove_at(h, i);
        }
        // A SYN with a new sequence number, or a packet long after the end, starts over.
        if let Some(old) = old {
            self.end(&old, false);
        }
        if self.table.len() >= self.cfg.max_conns {
            self.evict();
        }
        let conn = self.create(meta, seg, *key, sender_is_lo);
        self.stats.conns += 1;
        let (conn, i) = self.table.open.insert(h, conn, i64::MIN);
        let id = update::<false>(conn, &a, true, &mut self.events, &mut self.spare_rsts);
        if conn.closing() {
            self.table.move_to_closing(h, i, &self.cfg);
        } else {
            self.table.open.due[i as usize] = due(&self.cfg, conn);
        }
        self.stats.peak_conns = self.stats.peak_conns.max(self.table.len());
        id
    }

    /// Moves time forward without a packet (live capture on a quiet link), so that unanswered
    /// attempts and idle connections end on time rather than at the next packet.
    pub fn advance(&mut self, now_ns: i64) {
        self.now = self.now.max(now_ns);
        self.sweep_if_due();
    }

    /// Sweeps when a second of capture time has passed since the last sweep.
    fn sweep_if_due(&mut self) {
        if self.now.saturating_sub(self.last_sweep) >= SEC {
            self.sweep();
            self.last_sweep = self.now;
            self.sweep_at = self.now.saturating_add(SEC);
            self.since_sweep = 0;
        }
    }

    /// Ends every connection (end of capture, or of a live session).
    pub fn finish(&mut self) {
        while self.finish_some(usize::MAX) {}
    }

    /// Ends up to `max` of the remaining connections, oldest first, as [`Tracker::finish`] does;
    /// returns whether some remain. Draining the events between calls keeps the memory of the
    /// end-of-capture summaries bounded. The first call ends the input: from then on the
    /// connections are found by their slots, not by key, and no segment may follow.
    pub fn finish_some(&mut self, max: usize) -> bool {
        if self.finishing.is_none() {
            let mut order = self.table.pick(|_| true);
            order.reverse();
            self.finishing = Some(order);
            // Every connection ends now, found by its slot: the indexes are not needed any more,
            // and taking each connection out of its index (a hash and a cache miss each, for
            // a hundred thousand connections in the serial end of a read) would be wasted.
            for store in [&mut self.table.open, &mut self.table.closing] {
                store.index = crate::engine::slot_index::SlotIndex::new();
            }
        }
        let mut order = self.finishing.take().unwrap_or_default();
        for _ in 0..max {
            // Taken in order of start, the records lie all over the table: the one a few
            // places ahead is loaded while this one ends.
            if let Some(&(_, _, ahead)) = order
                .len()
                .checked_sub(FINISH_AHEAD + 1)
                .and_then(|k| order.get(k))
                && let Some(c) = self.table.store(ahead).slots.get((ahead >> 1) as usize)
            {
                crate::mem::prefetch(c);
            }
            let Some((_, _, at)) = order.pop() else {
                break;
            };
            if let Some(c) = self.table.store_mut(at).slots.get_mut((at >> 1) as usize)
                && c.id != 0
            {
                end(&self.cfg, &mut self.events, c, false);
                c.id = 0;
            }
        }
        if order.is_empty() {
            for store in [&mut self.table.open, &mut self.table.closing] {
                store.slots = slab::Slab::new();
                store.due = slab::Slab::new();
                store.free = Vec::new();
            }
            false
        } else {
            self.finishing = Some(order);
            true
        }
    }

    #[inline(always)]
    fn create(
        &mut self,
        meta: &SegMeta<'_>,
        seg: &SegView<'_>,
        key: FlowKey,
        sender_is_lo: bool,
    ) -> Conn {
        // The SYN's sender is the client. Without a SYN (capture began mid-connection, or a
        // SYN-ACK first), guess by ports as Zeek's WantConnection does: a likely server port
        // is the responder; when both ports are plausible servers, flip only a non-SYN segment
        // travelling from the lower port. A SYN-ACK alone does not flip (Zeek: "that doesn't
        // work for stealth scans"); if its SYN follows, the SYN/SYN-ACK reversal does.
        let (sport, dport) = key.ports(sender_is_lo);
        let pure_syn = seg.flags.syn() && !seg.flags.ack();
        let likely = |p: u16| self.cfg.port_heuristic && likely_server_port(p);
        // A RST answering a SYN that is not in the table: its sender is the responder.
        let flip = verdict::answers_unseen_syn(seg)
            || (!pure_syn
                && likely(sport)
                && (!likely(dport) || (!seg.flags.syn() && sport < dport)));
        // The originator is the sender unless flipped. (A segment to itself has both
        // endpoints equal; then orig and resp are the same endpoint either way.)
        let orig_is_lo = sender_is_lo != flip || key.is_loop();
        let id = self.next_id;
        self.next_id += 1;
        let mut zeek = ZeekConn::default();
        if flip {
            zeek.history_flip_marker();
        }
        Conn {
            key,
            flags: if orig_is_lo { ORIG_IS_LO } else { 0 },
            first_verdict: None,
            start_digits: meta.ts.digits(),
            last_digits: meta.ts.digits(),
            last_ns: meta.ts.nanos(),
            orig: Side::NEW,
            resp: Side::NEW,
            zeek,
            id,
            start_ns: meta.ts.nanos(),
            closed_ns: 0,
            orig_log: SideLog::NEW,
            resp_log: SideLog::NEW,
        }
    }

    /// Ends connections that closed (after the linger time) or went idle, in order of start
    /// (as [`Table::pick`] orders them).
    fn sweep(&mut self) {
        let now = self.now;
        let mut ended = Vec::new();
        self.table.open.sweep_into(0, now, &self.cfg, &mut ended);
        self.table.closing.sweep_into(1, now, &self.cfg, &mut ended);
        ended.sort_unstable();
        #[cfg(debug_assertions)]
        {
            // Every test that tracks connections checks the due times against a look at every
            // record: a path that changes a connection and forgets its due time fails here.
            let all = self.table.pick(|c| ends_by(&self.cfg, c, now));
            assert_eq!(ended, all, "the sweep at {now} missed or added connections");
        }
        for (_, _, at) in ended {
            if self
                .end_picked(at, false)
                .is_some_and(|last| now.saturating_sub(last) > self.cfg.idle_timeout_ns)
            {
                self.stats.expired_idle += 1;
            }
        }
    }

    /// Makes room: evicts the least recently active eighth of the table.
    fn evict(&mut self) {
        // Sized at once: grown by doubling, a table of more than 2^19 connections would
        // briefly hold the old and the new buffer.
        let mut by_age: Vec<(i64, u64)> = Vec::with_capacity(self.table.len());
        by_age.extend(self.table.live().map(|c| (c.last_ns, c.id)));
        let n = (by_age.len() / EVICTED_PART).max(1);
        by_age.select_nth_unstable(n - 1);
        // Ids are unique, so the cut-off (time, id) picks exactly n connections.
        let cut = by_age[n - 1];
        for (_, _, at) in self.table.pick(|c| (c.last_ns, c.id) <= cut) {
            self.stats.evicted += 1;
            self.end_picked(at, true);
        }
    }

    /// A connection ended; `evicted` when the table had to make room.
    fn end(&mut self, c: &Conn, evicted: bool) {
        end(&self.cfg, &mut self.events, c, evicted);
    }

    /// Ends the picked connection at `at` where it lies and frees its slot; returns its last
    /// time (None if the slot was free).
    fn end_picked(&mut self, at: u32, evicted: bool) -> Option<i64> {
        let store = self.table.store_mut(at);
        let i = at >> 1;
        let c = store.slots.get(i as usize).filter(|c| c.id != 0)?;
        end(&self.cfg, &mut self.events, c, evicted);
        let (last, h) = (c.last_ns, key_hash(&c.key));
        store.forget_at(h, i);
        Some(last)
    }
}

/// Whether a sweep at `now` ends `c`: closed longer ago than the linger time, quiet for longer
/// than the idle timeout, or an unanswered attempt quiet for longer than the attempt timeout.
fn ends_by(cfg: &TrackerConfig, c: &Conn, now: i64) -> bool {
    let quiet = now.saturating_sub(c.last_ns);
    c.closed_at()
        .is_some_and(|t| now.saturating_sub(t) > cfg.linger_ns)
        || quiet > cfg.idle_timeout_ns
        || (c.zeek.is_s0() && quiet > attempt_quiet_limit(cfg, c))
}

/// The first capture time at which [`ends_by`] can hold for `c`, unless a segment changes it
/// before. Only segments that go through [`Tracker::observe_found`] can bring it forward (they
/// set it again); the others (plain segments to an open connection) move the last time on,
/// and can neither close a connection nor make it an unanswered attempt (only a SYN does), so
/// a time worked out before them is still not too late.
fn due(cfg: &TrackerConfig, c: &Conn) -> i64 {
    // `ends_by` holds once `now - t > timeout`, that is from `t + timeout + 1` on.
    let after = |t: i64, timeout: i64| t.saturating_add(timeout).saturating_add(1);
    let mut at = after(c.last_ns, cfg.idle_timeout_ns);
    if let Some(t) = c.closed_at() {
        at = at.min(after(t, cfg.linger_ns));
    }
    if c.zeek.is_s0() {
        at = at.min(after(c.last_ns, attempt_quiet_limit(cfg, c)));
    }
    at
}

/// A connection ended: its event. (A function of its own so that a record can be ended in its
/// slot while the table is borrowed.)
fn end(cfg: &TrackerConfig, events: &mut Vec<Event>, c: &Conn, evicted: bool) {
    let conn_state = c.zeek.conn_state();
    if cfg.summarize_all_ended || conn_state.is_unanswered() {
        events.push(Event::Ended(Box::new(summarize(c, evicted))));
    } else {
        events.push(Event::Closed(ClosedConn {
            id: c.id,
            resp: c.resp_ep(),
            start: c.start(),
            last: c.last(),
            conn_state,
        }));
    }
}

/// One segment on its way into the table: what `update` needs besides the connection.
struct Arrival<'a, 'm, 's> {
    key: &'a FlowKey,
    /// The sender is the key's lower endpoint.
    sender_is_lo: bool,
    meta: &'a SegMeta<'m>,
    seg: &'a SegView<'s>,
    headers_only: bool,
}

impl<'a, 'm, 's> Arrival<'a, 'm, 's> {
    #[inline(always)]
    fn of(meta: &'a SegMeta<'m>, seg: &'a SegView<'s>, k: &'a SegKey, headers_only: bool) -> Self {
        Arrival {
            key: &k.key,
            sender_is_lo: k.sender_is_lo,
            meta,
            seg,
            headers_only,
        }
    }
}

/// Applies one segment to its connection, pushing the events it causes; returns the id.
///
/// `PLAIN`: the caller found that the segment has none of SYN, FIN and RST ([`TcpFlags::plain`],
/// most segments). Those flags are then masked off here, which changes nothing for such a
/// segment but lets the compiler drop every branch they take: the plain segment's own copy
/// of this function is about a third shorter.
#[inline(always)]
fn update<const PLAIN: bool>(
    conn: &mut Conn,
    a: &Arrival<'_, '_, '_>,
    is_new: bool,
    events: &mut Vec<Event>,
    spare_rsts: &mut RstBoxes,
) -> u64 {
    let Arrival {
        key,
        sender_is_lo,
        meta,
        seg,
        headers_only,
    } = *a;
    let plain_seg;
    let seg = if PLAIN {
        plain_seg = SegView {
            flags: seg.flags.masked_plain(),
            ..*seg
        };
        &plain_seg
    } else {
        seg
    };
    let facts = &seg.facts();
    let now = meta.ts.nanos();
    // For a segment to itself (both endpoints equal) the originator sends: its sender is the
    // key's `lo` endpoint (ties go to `lo`), so is its originator (see `create`), and Zeek
    // never flips roles on a segment from the originator.
    debug_assert!(!key.is_loop() || (sender_is_lo && conn.orig_is_lo()));
    let from_orig = conn.orig_is_lo() == sender_is_lo;
    if headers_only
        && !conn.has(HANDSHAKE_DONE)
        && conn.resp.has(SENT_SYNACK)
        && inferred_established(conn, from_orig, seg)
    {
        conn.flags |= HANDSHAKE_DONE;
    }
    let rst_event = seg.flags.rst().then(|| {
        let orig = conn.orig_ep();
        verdict::classify(conn, orig, from_orig, seg, now, is_new, headers_only)
    });
    update_sides(conn, from_orig, seg, now);
    if !conn.has(KEPT_TALKING_REPORTED)
        && !seg.flags.rst()
        && seg.payload_len > 0
        && (if from_orig { &conn.orig } else { &conn.resp }).has(HAS_RST)
    {
        // A side that sent a RST and then kept sending data: its RST was probably forged.
        conn.flags |= KEPT_TALKING_REPORTED;
        events.push(Event::KeptTalking {
            ts: meta.ts,
            conn_id: conn.id,
            sender: key.endpoints(sender_is_lo).0,
        });
    }
    if conn.zeek.update(from_orig, facts) {
        std::mem::swap(&mut conn.orig, &mut conn.resp);
        std::mem::swap(&mut conn.orig_log, &mut conn.resp_log);
        conn.flags ^= ORIG_IS_LO;
    }
    if meta.ts > conn.last() {
        conn.last_ns = meta.ts.nanos();
        conn.last_digits = meta.ts.digits();
    }
    // A plain segment never closes a connection: it can only move an endpoint out of Zeek's
    // inactive state, which never turns `is_closed` true.
    if !PLAIN
        && !conn.has(CLOSED)
        && (conn.zeek.is_closed()
            || ((seg.flags.fin() || seg.flags.rst())
                && conn.zeek.close_complete(conn.orig_is_lo() == sender_is_lo)))
    {
        conn.flags |= CLOSED;
        conn.closed_ns = now;
    }
    if let Some((verdict, evidence)) = rst_event {
        conn.first_verdict.get_or_insert(verdict);
        let (from, to) = key.endpoints(sender_is_lo);
        let ev = RstEvent {
            ts: meta.ts,
            frame: meta.frame,
            link_type: meta.link_type,
            iface: meta.iface_name.cloned(),
            ifindex: seg.ctx.ifindex.or(meta.ifindex),
            direction: meta.direction.or(seg.ctx.direction),
            from,
            to,
            // Roles as they are now: a SYN+RST may have flipped them.
            from_orig: conn.orig_is_lo() == sender_is_lo,
            flags: seg.flags,
            seq: seg.seq,
            ack: seg.flags.ack().then_some(seg.ack),
            window: seg.window,
            ttl: seg.ttl,
            ip_id: seg.ip_id,
            payload_len: seg.payload_len,
            payload_text: payload_text(seg.payload),
            encap: seg.ctx.encaps().collect(),
            header_cut: seg.header_cut,
            verdict,
            evidence,
            conn: summarize(conn, false),
            kernel: None,
        };
        let boxed = match spare_rsts.pop() {
            Some(mut b) => {
                *b = ev;
                b
            }
            None => Box::new(ev),
        };
        events.push(Event::Rst(boxed));
    }
    conn.id
}

/// Without the handshake's final ACK (live capture sees only SYN, FIN and RST), a segment shows
/// that the connection was established when its sender had moved past its initial sequence
/// number (it sent data), or when the client acknowledges the SYN-ACK on a FIN or RST (a client
/// that rejects a SYN-ACK sends a bare RST, without ACK).
fn inferred_established(conn: &Conn, from_orig: bool, seg: &SegView<'_>) -> bool {
    let past = |a: u32, isn: Option<u32>| {
        isn.is_some_and(|isn| (a.wrapping_sub(isn.wrapping_add(1)) as i32) > 0)
    };
    let (me, peer) = conn.sides(from_orig);
    !seg.flags.syn()
        && (past(seg.seq, me.isn())
            || (seg.flags.ack() && past(seg.ack, peer.isn()))
            || (from_orig && seg.flags.ack()))
}

#[inline(always)]
fn update_sides(conn: &mut Conn, from_orig: bool, seg: &SegView<'_>, now: i64) {
    let flags = seg.flags;
    if from_orig && flags.syn() && !flags.ack() && conn.orig_log.syns > 0 {
        let gap = now.saturating_sub(conn.last_ns);
        record_syn_gap(&mut conn.resp_log, &conn.resp, conn.orig_log.syns, gap);
    }
    let (me, me_log, peer) = if from_orig {
        (&mut conn.orig, &mut conn.orig_log, &mut conn.resp)
    } else {
        (&mut conn.resp, &mut conn.resp_log, &mut conn.orig)
    };
    me.add_packet();
    me.bytes += u64::from(seg.payload_len);
    if flags.syn() {
        me_log.isn_no = seg.seq;
        me.flags |= HAS_ISN;
        if flags.ack() {
            me.flags |= SENT_SYNACK;
        } else {
            me_log.syns += 1;
        }
        me.wscale_opt = seg.wscale;
    }
    if seg.header_cut.is_some() {
        me.flags |= WINDOW_UNKNOWN;
    }
    if flags.rst() {
        let continues = SideRef {
            hot: me,
            log: me_log,
        }
        .burst_continues(now);
        if continues {
            me_log.burst_rsts = me_log.burst_rsts.saturating_add(1);
        } else {
            me_log.burst_rsts = 1;
            me_log.burst_first_off = burst_offset(conn.start_ns, now);
        }
        me_log.rsts += 1;
        me_log.last_rst_seq = seg.seq;
        me_log.last_rst_at = now;
        me.flags = (me.flags | HAS_RST) & !PEER_SPOKE;
    } else {
        me.ttl_min = me.ttl_min.min(seg.ttl);
        me.ttl_max = me.ttl_max.max(seg.ttl);
        if flags.ack() {
            me.last_ack_no = seg.ack;
            me.last_win = seg.window;
            me.flags |= HAS_ACK;
        }
        peer.flags |= PEER_SPOKE;
    }
    if flags.fin() && !me.has(HAS_FIN) {
        me_log.fin_at_ns = now;
        me.flags |= HAS_FIN;
    }
    if from_orig
        && peer.has(SENT_SYNACK)
        && !flags.syn()
        && (flags.ack() || seg.payload_len > 0)
        && !flags.rst()
    {
        conn.flags |= HANDSHAKE_DONE;
    }
}

/// Notes the gap before the originator's SYN number `syns + 1` (a retransmission: a new ISN
/// starts a new connection). Kept in the responder's log while the responder has sent nothing:
/// its FIN and RST times are unused until it does, and the record has no room to spare
/// ([`Conn::syn_gaps`] reads them back only under the same condition).
fn record_syn_gap(resp_log: &mut SideLog, resp: &Side, syns: u32, gap: i64) {
    if resp.pkts_lo != 0 || resp.pkts_wraps != 0 {
        return;
    }
    let gap = gap.max(0);
    if syns == 1 {
        resp_log.fin_at_ns = gap;
    }
    resp_log.last_rst_at = gap;
}

/// A time as an offset from a connection's start, in 32 bits: microseconds up to 2^31 µs (about
/// 36 minutes), then milliseconds with the top bit set (up to about 24 days, then saturated).
/// Microseconds keep a burst of RSTs within one millisecond measurable; the offset is taken
/// once per burst, so its rounding does not add up over the burst.
fn burst_offset(start: i64, at: i64) -> u32 {
    const MS_SCALE: u32 = 1 << 31;
    let d = at.saturating_sub(start).max(0);
    let us = d / 1_000;
    if us < i64::from(MS_SCALE) {
        us as u32
    } else {
        MS_SCALE | (d / 1_000_000).min(i64::from(MS_SCALE - 1)) as u32
    }
}

/// The time a [`burst_offset`] stands for.
fn burst_time(start: i64, off: u32) -> i64 {
    const MS_SCALE: u32 = 1 << 31;
    let ns = if off & MS_SCALE == 0 {
        i64::from(off) * 1_000
    } else {
        i64::from(off & !MS_SCALE) * 1_000_000
    };
    start.saturating_add(ns)
}

/// The window-scale option of a SYN, if present.
pub fn window_scale(mut opts: &[u8]) -> Option<u8> {
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

fn summarize(c: &Conn, evicted: bool) -> ConnSummary {
    let (orig, resp) = (c.orig_side(), c.resp_side());
    ConnSummary {
        id: c.id,
        orig: c.orig_ep(),
        resp: c.resp_ep(),
        vlan: c.key.vlan(),
        start: c.start(),
        last: c.last(),
        orig_pkts: orig.pkts(),
        orig_bytes: orig.bytes(),
        resp_pkts: resp.pkts(),
        resp_bytes: resp.bytes(),
        conn_state: c.zeek.conn_state(),
        history: c.zeek.history,
        syns: orig.syns(),
        syn_gaps: c.syn_gaps(),
        first_verdict: c.first_verdict,
        evicted,
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_the_same_from_both_sides_and_hashes_as_stored() {
        let v4 = |s: &str| s.parse::<IpAddr>().unwrap();
        let cases = [
            ((v4("10.0.0.1"), 40000), (v4("10.0.0.2"), 80), None, 1),
            ((v4("10.0.0.2"), 80), (v4("10.0.0.2"), 80), Some(7), 3),
            (
                (v4("192.168.1.9"), 1),
                (v4("10.0.0.1"), 2),
                Some(0),
                u32::MAX,
            ),
            ((v4("2001:db8::1"), 443), (v4("fe80::2"), 50000), None, 2),
            ((v4("10.0.0.7"), 5000), (v4("10.0.0.7"), 80), None, 0),
            (
                (v4("255.255.255.255"), 1),
                (v4("0.0.0.0"), 65535),
                Some(4095),
                9,
            ),
        ];
        for (a, b, vlan, iface) in cases {
            let (k1, a_lo, h1) = FlowKey::with_sender(a, b, vlan, iface);
            let (k2, b_lo, h2) = FlowKey::with_sender(b, a, vlan, iface);
            assert_eq!(k1, k2);
            assert_eq!(h1, h2);
            assert!(a_lo != b_lo || k1.is_loop());
            // What the index recomputes when it grows must be what the packet path computed.
            assert_eq!(key_hash(&k1), h1);
            let (lo, hi) = if a_lo { (a, b) } else { (b, a) };
            assert_eq!((k1.lo().ip, k1.lo().port), lo);
            assert_eq!((k1.hi().ip, k1.hi().port), hi);
            assert_eq!(k1.vlan(), vlan);
        }
    }

    /// Decodes the Ethernet frame `bytes` and has `t` observe it at `nanos`, as frame `frame`.
    fn observe_frame(t: &mut Tracker, bytes: &[u8], nanos: i64, frame: u64) {
        let link = crate::model::LinkType::ETHERNET;
        let crate::engine::decode::Outcome::Tcp(seg) = crate::engine::decode::decode(link, bytes)
        else {
            panic!("not TCP");
        };
        let meta = SegMeta {
            ts: Timestamp::from_nanos(nanos, 6),
            frame,
            link_type: link,
            iface: 0,
            iface_name: None,
            direction: None,
            ifindex: None,
        };
        t.observe(&meta, &seg);
    }

    /// An RST's event is made in a box the report handed back, when there is one, and holds
    /// that RST's fields only (nothing left from the event the box held before); the tracker
    /// keeps at most `SPARE_RSTS` boxes, and takes every box it is given.
    #[test]
    fn rst_events_are_made_in_recycled_boxes() {
        use crate::engine::decode::TcpFlags;
        use crate::testkit::synth::TcpSpec;
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // A stray RST with diagnostic text, then one without, on another connection.
        let rsts = [
            TcpSpec::new(ip("10.0.0.1"), 80, ip("10.0.0.2"), 40000, TcpFlags::RST)
                .seq(7)
                .payload(b"connection refused by policy")
                .ethernet(),
            TcpSpec::new(ip("fd00::9"), 443, ip("fd00::8"), 50000, TcpFlags::RST)
                .seq(9)
                .ethernet(),
        ];
        let feed = |t: &mut Tracker, i: usize| -> Box<RstEvent> {
            observe_frame(t, &rsts[i], SEC * (i as i64 + 1), i as u64 + 1);
            let mut rst = t.drain().filter_map(|e| match e {
                Event::Rst(r) => Some(r),
                _ => None,
            });
            let r = rst.next().expect("an RST event");
            assert!(rst.next().is_none());
            r
        };
        // Without recycling, for comparison.
        let mut fresh = Tracker::new(TrackerConfig::default());
        let first = feed(&mut fresh, 0);
        assert!(first.payload_text.is_some());
        let want = format!("{:?}", feed(&mut fresh, 1));

        let mut t = Tracker::new(TrackerConfig::default());
        let first = feed(&mut t, 0);
        let at: *const RstEvent = &*first;
        let mut spent: RstBoxes = vec![first];
        t.recycle_rsts(&mut spent);
        assert!(spent.is_empty());
        let second = feed(&mut t, 1);
        assert!(t.spare_rsts.is_empty(), "the box was taken");
        assert!(std::ptr::eq(&*second, at), "made in the box handed back");
        assert_eq!(format!("{second:?}"), want);
        assert!(second.payload_text.is_none());

        let mut many: RstBoxes = (0..2 * SPARE_RSTS).map(|_| second.clone()).collect();
        t.recycle_rsts(&mut many);
        assert!(many.is_empty(), "the boxes not kept are freed");
        assert_eq!(t.spare_rsts.len(), SPARE_RSTS);
    }

    /// The sweeps look only at the records whose due time has come. Random conversations on
    /// a few 4-tuples, with timeouts of a few seconds, time that jumps ahead and goes back, and
    /// a table small enough to evict: in debug builds every sweep checks its choice against a
    /// look at every record (`Tracker::sweep`), so a path that changes a connection without
    /// setting its due time fails here. The test also counts what the sweeps of `advance` (which
    /// only sweeps) ended, and what eviction ended, so that both surely happened.
    #[test]
    fn sweeps_by_due_time_end_what_a_full_look_would() {
        use crate::engine::decode::TcpFlags;
        use crate::testkit::synth::TcpSpec;
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % n
        };
        let pairs: [(IpAddr, IpAddr); 2] = [
            ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap()),
            ("fd00::3".parse().unwrap(), "fd00::4".parse().unwrap()),
        ];
        let flags = [
            TcpFlags::SYN,
            TcpFlags::SYN | TcpFlags::ACK,
            TcpFlags::ACK,
            TcpFlags::ACK | TcpFlags::PSH,
            TcpFlags::FIN | TcpFlags::ACK,
            TcpFlags::RST,
            TcpFlags::RST | TcpFlags::ACK,
        ];
        let (mut swept, mut evicted) = (0u64, 0u64);
        for _ in 0..300 {
            let mut t = Tracker::new(TrackerConfig {
                max_conns: [4, 64][next(2) as usize],
                idle_timeout_ns: [1, 3, 8][next(3) as usize] * SEC,
                linger_ns: [0, 1, 4][next(3) as usize] * SEC,
                attempt_timeout_ns: [1, 2, 30][next(3) as usize] * SEC,
                headers_only: next(4) == 0,
                summarize_all_ended: next(2) == 0,
                refused_ends_at_rst: next(3) == 0,
                ..TrackerConfig::default()
            });
            let mut now = 1_763_730_942 * SEC;
            let mut seq = [0u32; 2];
            for frame in 1..=400u64 {
                now += match next(10) {
                    0 => 2 * SEC + 500_000_000,
                    1 => 1_200_000_000,
                    2 => -700_000_000,
                    3 => 9 * SEC,
                    _ => next(300_000_000) as i64,
                };
                let (a, b) = pairs[next(2) as usize];
                let (ap, bp) = (40_000 + next(3) as u16, 80);
                let f = flags[next(flags.len() as u64) as usize];
                let dir = next(2) as usize;
                let spec = if dir == 0 {
                    TcpSpec::new(a, ap, b, bp, f)
                } else {
                    TcpSpec::new(b, bp, a, ap, f)
                };
                let data: &[u8] = if f & TcpFlags::PSH != 0 { b"hi" } else { b"" };
                seq[dir] = seq[dir].wrapping_add(next(4) as u32);
                let frame_bytes = spec
                    .seq(seq[dir])
                    .ack(seq[1 - dir].wrapping_add(1))
                    .payload(data)
                    .ethernet();
                let before = t.stats.evicted;
                observe_frame(&mut t, &frame_bytes, now, frame);
                t.drain().for_each(drop);
                evicted += t.stats.evicted - before;
                if next(10) == 0 {
                    t.advance(now + next(3) as i64 * SEC);
                    swept += t
                        .drain()
                        .filter(|e| matches!(e, Event::Ended(_) | Event::Closed(_)))
                        .count() as u64;
                }
            }
            t.finish();
        }
        eprintln!("ended by sweeps: {swept}, evicted: {evicted}");
        assert!(swept > 1000, "sweeps ended too little: {swept}");
        assert!(evicted > 1000, "the small tables did not evict: {evicted}");
    }
}
