//! What the tracker reports: RST events with their verdict, connections that ended (for the
//! conn.log-like view and for unanswered attempts), and late evidence about earlier RSTs.

use crate::capture::Direction;
use crate::decode::TcpSegment;
use crate::timestamp::Timestamp;
use serde::Serialize;
use std::net::IpAddr;

/// The class of one RST, in plain words (DESIGN.md's verdict table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The RST answers a SYN: nothing listening, or a firewall REJECT.
    Refused,
    /// RST after the SYN-ACK, before the handshake completed.
    HandshakeReset,
    /// The originator aborted an established connection.
    ResetByClient,
    /// The responder aborted an established connection.
    ResetByServer,
    /// The sender had already closed (sent FIN); data arrived after close.
    ResetAfterClose,
    /// No connection known for it (began before the capture, or a stale peer).
    Stray,
    /// Its sequence number is outside the receiver's window: ignored by the receiver.
    OutOfWindow,
    /// TTL unlike the sender's other packets, or several RSTs with different sequence numbers.
    SuspectedInjected,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Refused => "refused",
            Verdict::HandshakeReset => "handshake reset",
            Verdict::ResetByClient => "reset by client",
            Verdict::ResetByServer => "reset by server",
            Verdict::ResetAfterClose => "reset after close",
            Verdict::Stray => "stray",
            Verdict::OutOfWindow => "out of window",
            Verdict::SuspectedInjected => "suspected injected",
        }
    }

    /// What it usually means, for the summary.
    pub fn meaning(self) -> &'static str {
        match self {
            Verdict::Refused => {
                "nothing accepted connections there (no listener), or a firewall REJECT rule answered"
            }
            Verdict::HandshakeReset => {
                "the client gave up during the handshake, or the listen queue overflowed with tcp_abort_on_overflow"
            }
            Verdict::ResetByClient => {
                "the client aborted: process exit or crash, SO_LINGER 0, close with unread data, or a timeout"
            }
            Verdict::ResetByServer => {
                "the server aborted: process exit or crash, SO_LINGER 0, close with unread data, or a timeout"
            }
            Verdict::ResetAfterClose => {
                "the socket was already closed when more data arrived (often an idle keep-alive closed by the server): usually harmless"
            }
            Verdict::Stray => {
                "the connection began before the capture, or a peer sent to a connection that no longer exists"
            }
            Verdict::OutOfWindow => {
                "the sequence number is not acceptable to the receiver: stale or spoofed; the receiver ignores it"
            }
            Verdict::SuspectedInjected => "a middlebox, IDS or censor may have forged it",
        }
    }

    /// Whether a RST of this class is routine (shown, but not alarming).
    pub fn is_routine(self) -> bool {
        matches!(self, Verdict::ResetAfterClose)
    }
}

/// One side of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: u16,
}

impl Endpoint {
    /// The segment's sender.
    pub fn source(seg: &TcpSegment<'_>) -> Self {
        Endpoint {
            ip: seg.src,
            port: seg.sport,
        }
    }

    /// The segment's receiver.
    pub fn destination(seg: &TcpSegment<'_>) -> Self {
        Endpoint {
            ip: seg.dst,
            port: seg.dport,
        }
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.ip {
            IpAddr::V4(a) => write!(f, "{a}:{}", self.port),
            IpAddr::V6(a) => write!(f, "[{a}]:{}", self.port),
        }
    }
}

/// A summary of a connection as it stands (at a RST, or when it ended).
#[derive(Debug, Clone, Serialize)]
pub struct ConnSummary {
    /// Sequential id within the run (`C1`, `C2`, …).
    pub id: u64,
    pub orig: Endpoint,
    pub resp: Endpoint,
    pub vlan: Option<u16>,
    pub start: Timestamp,
    pub last: Timestamp,
    pub orig_pkts: u64,
    pub orig_bytes: u64,
    pub resp_pkts: u64,
    pub resp_bytes: u64,
    /// Zeek-compatible `conn_state` (S0, S1, SF, REJ, RSTO, …).
    pub conn_state: &'static str,
    /// Zeek-compatible history letters.
    pub history: String,
    /// SYNs the originator sent (retransmissions included).
    pub syns: u32,
    /// The fate in plain words.
    pub fate: String,
}

/// A RST segment, classified.
#[derive(Debug, Clone)]
pub struct RstEvent {
    pub ts: Timestamp,
    pub frame: u64,
    pub link_type: crate::capture::LinkType,
    pub iface: Option<String>,
    /// Interface index from a LINUX_SLL2 header.
    pub ifindex: Option<u32>,
    pub direction: Option<Direction>,
    /// The sender and receiver of this RST.
    pub from: Endpoint,
    pub to: Endpoint,
    /// Whether the sender is the connection's originator.
    pub from_orig: bool,
    pub flags: String,
    pub seq: u32,
    pub ack: Option<u32>,
    pub window: u16,
    pub ttl: u8,
    pub ip_id: Option<u16>,
    pub payload_len: u32,
    pub payload_text: Option<String>,
    pub encap: Vec<crate::decode::Encap>,
    pub verdict: Verdict,
    /// Why the verdict, in words (the wire evidence).
    pub evidence: String,
    pub conn: ConnSummary,
}

/// A connection that ended, in brief: what the findings need of a connection that was not an
/// unanswered attempt (see `TrackerConfig::summarize_all_ended`). No allocation.
#[derive(Debug, Clone, Copy)]
pub struct ClosedConn {
    pub id: u64,
    pub resp: Endpoint,
    pub start: Timestamp,
    pub last: Timestamp,
    pub conn_state: &'static str,
}

/// Something the tracker found out.
#[derive(Debug, Clone)]
pub enum Event {
    Rst(Box<RstEvent>),
    /// A connection ended (closed, reset and lingered, expired, evicted, or the capture ended).
    Ended(Box<ConnSummary>),
    /// A connection that ended, in brief (only when full summaries are not asked for; never an
    /// unanswered attempt, which is always an `Ended`).
    Closed(ClosedConn),
    /// Later evidence that an earlier RST was probably forged: its sender kept talking.
    KeptTalking {
        ts: Timestamp,
        conn_id: u64,
        sender: Endpoint,
    },
}
