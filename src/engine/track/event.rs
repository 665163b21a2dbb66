//! What the tracker reports: RST events with their verdict, connections that ended (for the
//! conn.log-like view and for unanswered attempts), and late evidence about earlier RSTs.

use super::zeek::{ConnState, History};
use crate::engine::decode::{TcpFlags, TcpSegment};
use crate::model::Direction;
use crate::model::timestamp::Timestamp;
use serde::Serialize;
use std::fmt;
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
    /// TTL unlike the sender's other packets, or a burst of RSTs with different sequence numbers
    /// that answer nothing the peer sent (a closed socket's answers carry the peer's ACKs).
    SuspectedInjected,
    /// Live only: the RST left this host, but its TCP stack did not send it (no
    /// `tcp:tcp_send_reset`): a local firewall rule (`reject with tcp reset`) forged it.
    FirewallReject,
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
            Verdict::FirewallReject => "forged by a local firewall rule",
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
            Verdict::FirewallReject => {
                "an nftables/iptables rule on this host answered with `reject with tcp reset`: the TCP stack never saw the connection"
            }
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

/// A summary of a connection as it stands (at a RST, or when it ended). Plain data: its words
/// ([`ConnSummary::fate`]) are only written when shown, because most summaries never are.
#[derive(Debug, Clone)]
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
    pub conn_state: ConnState,
    /// Zeek-compatible history letters.
    pub history: History,
    /// SYNs the originator sent (retransmissions included).
    pub syns: u32,
    /// For an attempt with no reply and more than one SYN: the nanoseconds between its first two
    /// SYNs and between its last two (the backoff seen).
    pub syn_gaps: Option<(i64, i64)>,
    /// The verdict on the connection's first RST, if any.
    pub first_verdict: Option<Verdict>,
    /// Ended early because the connection table was full.
    pub evicted: bool,
}

impl ConnSummary {
    /// The fate in plain words, e.g. `refused by 127.0.0.1:7211`.
    pub fn fate(&self) -> Fate<'_> {
        Fate(self)
    }
}

/// A connection's fate in plain words (see [`ConnSummary::fate`]).
pub struct Fate<'a>(&'a ConnSummary);

impl fmt::Display for Fate<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.0;
        let words = match c.conn_state {
            ConnState::S0 => return NoReply::of(c).fmt(f),
            ConnState::Rej => {
                write!(f, "refused by {}", c.resp)?;
                ""
            }
            ConnState::Sf => "closed normally",
            ConnState::S1 => "established, still open",
            ConnState::S2 | ConnState::S3 => "established, half closed",
            ConnState::Sh => "originator sent SYN then FIN, no reply",
            ConnState::Shr => "responder sent SYN-ACK then FIN, originator's SYN not seen",
            ConnState::RstoS0 => "originator sent SYN then RST, no reply",
            ConnState::Rstrh => "responder sent SYN-ACK then RST, originator's SYN not seen",
            ConnState::Rsto | ConnState::Rstr => match c.first_verdict {
                Some(v) => v.as_str(),
                None if c.conn_state == ConnState::Rsto => "reset by client",
                None => "reset by server",
            },
            _ => "no handshake seen (began before the capture, or one direction only)",
        };
        f.write_str(words)?;
        if c.evicted {
            f.write_str(EVICTED)?;
        }
        Ok(())
    }
}

/// Said of a connection the full table ended early.
const EVICTED: &str = " (evicted: connection table full)";

/// The fate of an attempt that got no answer (S0): all its words need, and what the report
/// keeps of one as evidence (a fraction of the whole summary).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoReply {
    pub syns: u32,
    /// Nanoseconds between the first two SYNs and between the last two.
    pub syn_gaps: Option<(i64, i64)>,
    /// From the first SYN to the last packet.
    pub span_ns: i64,
    pub evicted: bool,
}

impl NoReply {
    pub fn of(c: &ConnSummary) -> Self {
        NoReply {
            syns: c.syns,
            syn_gaps: c.syn_gaps,
            span_ns: c.last.nanos().saturating_sub(c.start.nanos()),
            evicted: c.evicted,
        }
    }
}

impl fmt::Display for NoReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.span_ns as f64 / 1e9;
        write!(
            f,
            "unanswered: {} SYN{} over {secs:.1} s",
            self.syns,
            if self.syns == 1 { "" } else { "s" }
        )?;
        if let Some((first, last)) = self.syn_gaps {
            write!(f, " (retransmitted after {:.1} s", first as f64 / 1e9)?;
            if self.syns > 2 {
                write!(f, ", the last after {:.1} s", last as f64 / 1e9)?;
            }
            f.write_str(")")?;
        }
        f.write_str(", no reply (filtered, dropped, or host down)")?;
        if self.evicted {
            f.write_str(EVICTED)?;
        }
        Ok(())
    }
}

/// Why a RST got its verdict: the wire evidence, kept as numbers and written in words only
/// when shown (a storm of RSTs is mostly counted, not shown).
#[derive(Debug, Clone, PartialEq)]
pub enum Evidence {
    /// No earlier packet of the connection.
    NoEarlierPacket,
    /// TTL outside what the sender's other packets had.
    TtlUnlike {
        ttl: u8,
        min: u8,
        max: u8,
        samples: u32,
    },
    /// A burst of RSTs (at most 100 ms apart, nothing from the peer in between) with
    /// different sequence numbers that answer no segment the peer sent.
    RstBurst {
        /// RSTs in the burst so far, this one included.
        rsts: u32,
        /// From the burst's first RST to this one.
        span_ns: i64,
        prev_seq: u32,
        seq: u32,
        /// The peer's last ACK: a RST answering the peer would carry one it sent.
        peer_ack: Option<u32>,
    },
    /// Answers the originator's SYN(s), no SYN-ACK seen.
    AnswersSyn {
        syns: u32,
        orig: Endpoint,
        with_ack: bool,
    },
    /// A RST/ACK with sequence number 0 (the answer to a SYN) on a connection whose SYN is not
    /// in the table: `ack` is that SYN's sequence number.
    AnswersUnseenSyn { ack: u32 },
    /// The server reset right after the handshake, before any data.
    AfterHandshake,
    /// Reset after the SYN-ACK, before the handshake completed.
    DuringHandshake { by_client: bool },
    /// The sender had sent FIN this long before.
    AfterFin { ms: i64 },
    /// Sequence number outside the receiver's window.
    OutOfWindow {
        seq: u32,
        diff: i32,
        rcv_nxt: u32,
        wnd: u32,
    },
    /// On a connection that began before the capture.
    MidStream { packets: u64 },
    /// An established connection aborted by one side.
    Aborted {
        by_client: bool,
        packets: u64,
        bytes: u64,
    },
    /// Evidence given in words by another source.
    Text(String),
}

/// Where evidence text goes: a formatter (for `Display`), or the bytes of an output line,
/// written without the formatting machinery (one line per RST shown).
pub trait TextOut {
    fn text(&mut self, s: &str);
    fn num(&mut self, n: u64);
    fn endpoint(&mut self, e: &Endpoint);

    fn int(&mut self, n: i64) {
        if n < 0 {
            self.text("-");
        }
        self.num(n.unsigned_abs());
    }
}

/// A formatter as a [`TextOut`]: the first error is kept and later writes are skipped.
struct FmtOut<'a, 'b> {
    f: &'a mut fmt::Formatter<'b>,
    result: fmt::Result,
}

impl TextOut for FmtOut<'_, '_> {
    fn text(&mut self, s: &str) {
        if self.result.is_ok() {
            self.result = self.f.write_str(s);
        }
    }

    fn num(&mut self, n: u64) {
        if self.result.is_ok() {
            self.result = write!(self.f, "{n}");
        }
    }

    fn endpoint(&mut self, e: &Endpoint) {
        if self.result.is_ok() {
            self.result = write!(self.f, "{e}");
        }
    }
}

impl Evidence {
    /// The evidence in words (what `Display` shows).
    pub fn write_to(&self, out: &mut impl TextOut) {
        let plural = |n: u32| if n == 1 { "" } else { "s" };
        let who = |by_client: bool| if by_client { "client" } else { "server" };
        match self {
            Evidence::NoEarlierPacket => {
                out.text("no earlier packet of this connection in the capture")
            }
            Evidence::TtlUnlike { ttl, min, max, samples } => {
                out.text("TTL ");
                out.num((*ttl).into());
                out.text(" unlike the ");
                out.num((*min).into());
                if min != max {
                    out.text("-");
                    out.num((*max).into());
                }
                out.text(" of the sender's ");
                out.num((*samples).into());
                out.text(" other packet");
                out.text(plural(*samples));
            }
            Evidence::RstBurst {
                rsts,
                span_ns,
                prev_seq,
                seq,
                peer_ack,
            } => {
                out.num((*rsts).into());
                out.text(" RSTs over ");
                write_span(out, *span_ns);
                out.text(" with different sequence numbers (");
                out.num((*prev_seq).into());
                out.text(", ");
                out.num((*seq).into());
                match peer_ack {
                    Some(a) => {
                        out.text("), none an ACK the peer sent (its last ");
                        out.num((*a).into());
                        out.text(")");
                    }
                    None => out.text("); the peer sent no ACK they could answer"),
                }
            }
            Evidence::AnswersSyn { syns, orig, with_ack } => {
                out.text("answers the SYN");
                if *syns > 1 {
                    out.text(" (");
                    out.num((*syns).into());
                    out.text(" sent)");
                }
                out.text(" from ");
                out.endpoint(orig);
                out.text(" (no SYN-ACK)");
                if !with_ack {
                    out.text("; RST without ACK");
                }
            }
            Evidence::AnswersUnseenSyn { ack } => {
                out.text("answers a SYN (seq ");
                out.num((*ack).into());
                out.text(") not in the table: RST seq 0 with ACK, a stack's reply to a SYN");
            }
            Evidence::AfterHandshake => out.text(
                "server reset right after the handshake, before any data (accept queue overflow with tcp_abort_on_overflow=1, or the listener closed)",
            ),
            Evidence::DuringHandshake { by_client } => {
                out.text(who(*by_client));
                out.text(" reset after the SYN-ACK, before the handshake completed");
            }
            Evidence::AfterFin { ms } => {
                out.text("the sender had closed (FIN) ");
                out.int(*ms);
                out.text(" ms earlier; the peer sent more after that");
            }
            Evidence::OutOfWindow { seq, diff, rcv_nxt, wnd } => {
                out.text("seq ");
                out.num((*seq).into());
                out.text(" is ");
                out.num(diff.unsigned_abs().into());
                out.text(if *diff < 0 {
                    " bytes before the window "
                } else {
                    " bytes beyond the window "
                });
                out.num((*rcv_nxt).into());
                out.text("..");
                out.num(rcv_nxt.wrapping_add(*wnd).into());
                out.text(" the receiver advertised");
            }
            Evidence::MidStream { packets } => {
                out.text("on a connection that began before the capture (");
                out.num(*packets);
                out.text(" earlier packets)");
            }
            Evidence::Aborted { by_client, packets, bytes } => {
                out.text(who(*by_client));
                out.text(" aborted after ");
                out.num(*packets);
                out.text(" packets, ");
                out.num(*bytes);
                out.text(" bytes sent");
            }
            Evidence::Text(t) => out.text(t),
        }
    }
}

/// A span of time in the unit that shows it: µs below a millisecond, ms below ten seconds,
/// then seconds with one decimal.
fn write_span(out: &mut impl TextOut, ns: i64) {
    let ns = ns.max(0).unsigned_abs();
    if ns < 1_000_000 {
        out.num(ns / 1_000);
        out.text(" µs");
    } else if ns < 10_000_000_000 {
        out.num(ns / 1_000_000);
        out.text(" ms");
    } else {
        out.num(ns / 1_000_000_000);
        out.text(".");
        out.num(ns / 100_000_000 % 10);
        out.text(" s");
    }
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = FmtOut { f, result: Ok(()) };
        self.write_to(&mut out);
        out.result
    }
}

/// A RST segment, classified.
#[derive(Debug, Clone)]
pub struct RstEvent {
    pub ts: Timestamp,
    pub frame: u64,
    pub link_type: crate::model::LinkType,
    /// Shared with every other event on the interface: no allocation per RST.
    pub iface: Option<std::sync::Arc<str>>,
    /// Interface index from a LINUX_SLL2 header.
    pub ifindex: Option<u32>,
    pub direction: Option<Direction>,
    /// The sender and receiver of this RST.
    pub from: Endpoint,
    pub to: Endpoint,
    /// Whether the sender is the connection's originator.
    pub from_orig: bool,
    pub flags: TcpFlags,
    pub seq: u32,
    pub ack: Option<u32>,
    pub window: u16,
    pub ttl: u8,
    pub ip_id: Option<u16>,
    pub payload_len: u32,
    pub payload_text: Option<String>,
    pub encap: Vec<crate::engine::decode::Encap>,
    /// The TCP header's captured length when the snap length cut it below 20 bytes: the RST
    /// is counted and shown, its window is unknown (below 16) and no verdict reads it.
    pub header_cut: Option<u8>,
    pub verdict: Verdict,
    /// Why the verdict (the wire evidence).
    pub evidence: Evidence,
    pub conn: ConnSummary,
    /// Live with kernel events: whether the stack sent it, why, and the processes involved.
    pub kernel: Option<Box<crate::engine::fusion::KernelNote>>,
}

/// A connection that ended, in brief: what the findings need of a connection that was not an
/// unanswered attempt (see `TrackerConfig::summarize_all_ended`). No allocation.
#[derive(Debug, Clone, Copy)]
pub struct ClosedConn {
    pub id: u64,
    pub resp: Endpoint,
    pub start: Timestamp,
    pub last: Timestamp,
    pub conn_state: ConnState,
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
