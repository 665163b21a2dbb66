//! Zeek-compatible TCP endpoint states, `conn_state` and `history`, so that users of Zeek can line
//! our connections up against their conn.log. The state machine follows Zeek's
//! TCPSessionAdapter (UpdateInactiveState, UpdateSYN_SentState, …) and `conn_state()` in
//! base/protocols/conn/main.zeek; comments name the Zeek function each part mirrors.

use crate::engine::decode::TcpFlags;

/// Zeek's `TCP_ENDPOINT_*` states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EpState {
    #[default]
    Inactive,
    SynSent,
    SynAckSent,
    Partial,
    Established,
    Closed,
    Reset,
}

/// One direction of a connection as Zeek sees it (8 bytes: it lives in every tracked connection).
#[derive(Debug, Clone, Copy, Default)]
pub struct ZeekEndpoint {
    pub state: EpState,
    /// Whether `start_seq` holds the first sequence number.
    has_start: bool,
    /// Whether any payload was seen (Zeek's `size` is sequence-space based; the REJ test only
    /// asks whether it is zero).
    has_data: bool,
    /// Reset while closed: Zeek's `state == RESET && prev_state == CLOSED` (a FIN then a RST),
    /// which the peer's FIN turns back into a normal close.
    reset_after_close: bool,
    start_seq: u32,
}

impl ZeekEndpoint {
    fn set(&mut self, s: EpState) {
        self.state = s;
        self.reset_after_close = false;
    }

    fn inactive(&self) -> bool {
        matches!(self.state, EpState::Inactive | EpState::Partial)
    }

    pub fn start_seq(&self) -> Option<u32> {
        self.has_start.then_some(self.start_seq)
    }

    fn set_start(&mut self, seq: u32) {
        self.has_start = true;
        self.start_seq = seq;
    }
}

/// Bounded history string, inline (no allocation per connection): Zeek records each letter once
/// per direction.
///
/// Laid out in C order, `seen` first: each segment reads `seen`, the letters only change when
/// a new one appears (see [`HOT_BYTES`]).
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
pub struct History {
    /// Bits 0-25: letters seen from the originator; bits 26-51: from the responder.
    seen: u64,
    len: u8,
    /// Up to `MAX_HISTORY` letters plus the `^` flip marker.
    letters: [u8; MAX_HISTORY + 1],
}

impl std::fmt::Display for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Letters a history can hold: each of the eight letters `update_history` records (s h a d f r q
/// i) at most once per direction, so sixteen. (Kept exact: the bytes it saves hold the RST burst
/// counters in the tracker's 256-byte record.)
const MAX_HISTORY: usize = 16;
const LOW26: u64 = (1 << 26) - 1;

impl History {
    /// Records `c` (lower case; upper-cased for the originator) unless already recorded.
    fn once(&mut self, c: u8, from_orig: bool) {
        let bit = u64::from(c - b'a') + if from_orig { 0 } else { 26 };
        if self.seen & (1 << bit) == 0 {
            self.seen |= 1 << bit;
            if usize::from(self.len) < MAX_HISTORY {
                self.letters[usize::from(self.len)] =
                    if from_orig { c.to_ascii_uppercase() } else { c };
                self.len += 1;
            }
        }
    }

    fn starts_flipped(&self) -> bool {
        self.len > 0 && self.letters[0] == b'^'
    }

    /// Swaps case, as Zeek does when it flips originator and responder, and marks the flip.
    fn flip(&mut self) {
        let n = usize::from(self.len);
        for c in &mut self.letters[..n] {
            *c = if c.is_ascii_uppercase() {
                c.to_ascii_lowercase()
            } else {
                c.to_ascii_uppercase()
            };
        }
        self.mark_flipped();
        self.seen = (self.seen >> 26) | ((self.seen & LOW26) << 26);
    }

    fn mark_flipped(&mut self) {
        if !self.starts_flipped() {
            let n = usize::from(self.len);
            self.letters.copy_within(0..n, 1);
            self.letters[0] = b'^';
            self.len += 1;
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII letters and `^` are ever stored.
        std::str::from_utf8(&self.letters[..usize::from(self.len)]).unwrap_or("")
    }
}

/// How many bytes at the start of a [`ZeekConn`] every segment reads or writes: the endpoint
/// states and the history's set of letters seen (the tracker keeps them in its records' first
/// cache lines).
pub const HOT_BYTES: usize =
    std::mem::offset_of!(ZeekConn, history) + std::mem::offset_of!(History, seen) + 8;

/// Zeek's per-connection TCP analysis: two endpoints and the history (in this order: see
/// [`HOT_BYTES`]).
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
pub struct ZeekConn {
    pub orig: ZeekEndpoint,
    pub resp: ZeekEndpoint,
    pub history: History,
}

/// What the state machine needs of a segment.
#[derive(Debug, Clone, Copy)]
pub struct SegFacts {
    pub flags: TcpFlags,
    pub seq: u32,
    pub payload_len: u32,
}

impl ZeekConn {
    /// Zeek's update_history: a packet with several of SYN/FIN/RST is `q` (`i` for FIN+RST).
    #[inline(always)]
    fn update_history(&mut self, from_orig: bool, f: &SegFacts) {
        let flags = f.flags;
        let bits = u8::from(flags.syn()) + u8::from(flags.fin()) + u8::from(flags.rst());
        if bits > 1 {
            self.history.once(
                if flags.fin() && flags.rst() {
                    b'i'
                } else {
                    b'q'
                },
                from_orig,
            );
        } else if bits == 1 {
            if flags.syn() {
                self.history
                    .once(if flags.ack() { b'h' } else { b's' }, from_orig);
            }
            if flags.fin() {
                self.history.once(b'f', from_orig);
            }
            if flags.rst() {
                self.history.once(b'r', from_orig);
            }
        } else if f.payload_len > 0 {
            self.history.once(b'd', from_orig);
        } else if flags.ack() {
            self.history.once(b'a', from_orig);
        }
    }

    /// Marks a connection whose roles were decided by the port heuristic (Zeek's `^`).
    pub fn history_flip_marker(&mut self) {
        self.history.mark_flipped();
    }

    /// Zeek's "SYN/SYN-ACK reversal": flips roles and returns true so the caller swaps its view.
    pub fn flip(&mut self) {
        std::mem::swap(&mut self.orig, &mut self.resp);
        self.history.flip();
    }

    /// Feeds one segment; returns true when Zeek would flip originator and responder (the
    /// caller then swaps its own endpoint data; this struct has already flipped itself).
    #[inline(always)]
    pub fn update(&mut self, from_orig: bool, f: &SegFacts) -> bool {
        self.update_history(from_orig, f);
        let (ep, peer) = if from_orig {
            (&mut self.orig, &mut self.resp)
        } else {
            (&mut self.resp, &mut self.orig)
        };
        // The first segment sets the start; a SYN from an endpoint not yet active resets it.
        if !ep.has_start || (f.flags.syn() && ep.state == EpState::Inactive) {
            ep.set_start(f.seq);
        }
        ep.has_data |= f.payload_len > 0;
        let mut flip = false;
        match ep.state {
            EpState::Inactive => flip = Self::inactive_state(ep, peer, from_orig, f),
            EpState::SynSent | EpState::SynAckSent => Self::syn_sent_state(ep, f),
            EpState::Established | EpState::Partial => Self::established_state(ep, peer, f),
            EpState::Closed => Self::closed_state(ep, peer, f),
            EpState::Reset => {}
        }
        if flip {
            self.flip();
        }
        flip
    }

    /// Zeek's UpdateInactiveState.
    fn inactive_state(
        ep: &mut ZeekEndpoint,
        peer: &mut ZeekEndpoint,
        from_orig: bool,
        f: &SegFacts,
    ) -> bool {
        let flags = f.flags;
        let mut flip = false;
        if flags.syn() {
            if from_orig {
                ep.set(if flags.ack() {
                    EpState::SynAckSent
                } else {
                    EpState::SynSent
                });
            } else {
                if !flags.ack()
                    && peer.state == EpState::SynAckSent
                    && Some(f.seq) == ep.start_seq()
                {
                    // SYN and SYN-ACK seen in reverse order: the roles were wrong.
                    peer.set(EpState::SynSent);
                    flip = true;
                }
                if peer.state == EpState::SynSent {
                    peer.set(EpState::Established);
                }
                ep.set(EpState::Established);
            }
        }
        if flags.fin() {
            ep.set(EpState::Closed);
        }
        if flags.rst() {
            ep.set(EpState::Reset);
        }
        if ep.state == EpState::Inactive {
            if !from_orig && f.payload_len == 0 && peer.state == EpState::SynSent {
                // An ACK of the SYN before the SYN-ACK: not a partial connection.
            } else if flags.ack() && peer.state == EpState::Established {
                ep.set(EpState::Established);
            } else {
                ep.set(EpState::Partial);
            }
        }
        flip
    }

    /// Zeek's UpdateSYN_SentState.
    fn syn_sent_state(ep: &mut ZeekEndpoint, f: &SegFacts) {
        if f.flags.syn() && ep.start_seq() != Some(f.seq) {
            ep.set_start(f.seq);
        }
        if f.flags.fin() {
            ep.set(EpState::Closed);
        }
        if f.flags.rst() {
            ep.set(EpState::Reset);
        }
    }

    /// Zeek's UpdateEstablishedState.
    fn established_state(ep: &mut ZeekEndpoint, peer: &mut ZeekEndpoint, f: &SegFacts) {
        if f.flags.syn()
            && ep.state == EpState::Partial
            && peer.state == EpState::Inactive
            && !f.flags.ack()
        {
            ep.set(EpState::SynSent);
        }
        if f.flags.fin() && !f.flags.rst() {
            ep.set(EpState::Closed);
            if peer.state == EpState::Reset && peer.reset_after_close {
                // The peer sent a FIN, then a RST: with this FIN, a normal termination.
                peer.set(EpState::Closed);
            }
        }
        if f.flags.rst() {
            ep.set(EpState::Reset);
        }
    }

    /// Zeek's UpdateClosedState. A RST after both sides sent FIN leaves the connection closed
    /// (Zeek's baselines log those as SF).
    fn closed_state(ep: &mut ZeekEndpoint, peer: &ZeekEndpoint, f: &SegFacts) {
        if f.flags.rst() && peer.state != EpState::Closed {
            ep.set(EpState::Reset);
            ep.reset_after_close = true;
        }
    }

    /// Zeek's IsReuse: a SYN that starts a new connection on this 5-tuple.
    pub fn is_reuse(&self, from_orig: bool, f: &SegFacts) -> bool {
        if !f.flags.syn() {
            return false;
        }
        let conn_orig = if f.flags.ack() {
            if self.orig.state != EpState::Inactive {
                return false;
            }
            &self.resp
        } else {
            &self.orig
        };
        let _ = from_orig;
        if !self.is_closed() {
            if Some(f.seq) == conn_orig.start_seq() {
                return false;
            }
            if !f.flags.ack()
                && conn_orig.state == EpState::SynAckSent
                && self.resp.state == EpState::Inactive
                && Some(f.seq) == self.resp.start_seq()
            {
                return false;
            }
        }
        true
    }

    /// Whether Zeek's ExpireTimer would end the connection once it has been quiet for
    /// `tcp_connection_linger`: a side has closed (FIN or RST), and both have, or one reset, or
    /// one never sent anything. A connection where one side sent FIN and the other is still open
    /// (half closed) is not: it lasts until `tcp_inactivity_timeout`.
    pub fn expires_when_quiet(&self) -> bool {
        use EpState::*;
        let closed = |s: EpState| matches!(s, Closed | Reset);
        let (o, r) = (self.orig.state, self.resp.state);
        (closed(o) || closed(r))
            && ((closed(o) && closed(r))
                || o == Reset
                || r == Reset
                || o == Inactive
                || r == Inactive)
    }

    /// Zeek's `close_complete` in ConnectionClosed, asked after a FIN or RST from the originator
    /// (`from_orig`) or the responder: the sender reset, or its peer had closed too, or its peer
    /// never sent anything. Zeek then deletes the connection `tcp_close_delay` after this
    /// packet, whatever follows; a later packet on the 5-tuple is a connection of its own.
    pub fn close_complete(&self, from_orig: bool) -> bool {
        use EpState::*;
        let (ep, peer) = if from_orig {
            (&self.orig, &self.resp)
        } else {
            (&self.resp, &self.orig)
        };
        match ep.state {
            Reset => true,
            Closed => matches!(peer.state, Closed | Reset | Inactive),
            _ => false,
        }
    }

    /// Zeek's AttemptTimer condition: the originator sent a SYN (or SYN-ACK) and the responder
    /// nothing. Zeek logs such a connection `tcp_attempt_delay` after it began, whatever comes
    /// later on the 5-tuple.
    pub fn attempt_pending(&self) -> bool {
        matches!(self.orig.state, EpState::SynSent | EpState::SynAckSent)
            && self.resp.state == EpState::Inactive
    }

    /// Zeek's IsClosed: both sides closed or reset, or one reset and the other inactive.
    pub fn is_closed(&self) -> bool {
        use EpState::*;
        let done = |s: EpState| matches!(s, Closed | Reset);
        (done(self.orig.state) && done(self.resp.state))
            || (self.orig.state == Reset && matches!(self.resp.state, Inactive))
            // A rejected attempt: a retransmitted SYN starts a new connection (Zeek logs one
            // REJ per attempt).
            || (self.resp.state == Reset && matches!(self.orig.state, Inactive | SynSent))
    }

    /// Whether [`ZeekConn::conn_state`] is `S0` (an attempt with no reply), without working
    /// out the whole state: the sweeps ask it of every connection whose time may have come.
    /// Only a SYN makes it true (nothing else sets `SynSent`).
    pub fn is_s0(&self) -> bool {
        self.orig.state == EpState::SynSent && self.resp.state == EpState::Inactive
    }

    /// Zeek's `conn_state()` for TCP.
    pub fn conn_state(&self) -> ConnState {
        use EpState::*;
        let (os, rs) = (self.orig.state, self.resp.state);
        let o_inactive = self.orig.inactive();
        let r_inactive = self.resp.inactive();
        if rs == Reset {
            if os == SynSent
                || os == SynAckSent
                || (os == Reset && !self.orig.has_data && !self.resp.has_data)
            {
                return ConnState::Rej;
            }
            return if o_inactive {
                ConnState::Rstrh
            } else {
                ConnState::Rstr
            };
        }
        if os == Reset {
            if r_inactive {
                if rsto_s0(self.history.as_str()) {
                    return ConnState::RstoS0;
                }
            } else {
                return ConnState::Rsto;
            }
        } else if rs == Closed && os == Closed {
            return ConnState::Sf;
        } else if os == Closed {
            return if r_inactive {
                ConnState::Sh
            } else {
                ConnState::S2
            };
        } else if rs == Closed {
            return if o_inactive {
                ConnState::Shr
            } else {
                ConnState::S3
            };
        } else if os == SynSent && rs == Inactive {
            return ConnState::S0;
        } else if os == Established && rs == Established {
            return ConnState::S1;
        }
        ConnState::Oth
    }
}

/// Zeek: `/\^?S[^HAFGIQ]*R.*/ == history`.
fn rsto_s0(h: &str) -> bool {
    let h = h.strip_prefix('^').unwrap_or(h);
    let Some(rest) = h.strip_prefix('S') else {
        return false;
    };
    for c in rest.chars() {
        if c == 'R' {
            return true;
        }
        if "HAFGIQ".contains(c) {
            return false;
        }
    }
    false
}

/// Zeek's `conn_state` of a TCP connection: how far each side got and how it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConnState {
    /// Attempt seen, no reply.
    S0,
    /// Established, not terminated.
    S1,
    /// Normal establishment and termination.
    Sf,
    /// Attempt rejected (a RST answered the SYN).
    Rej,
    /// Established, the originator closed (FIN), no reply from the responder.
    S2,
    /// Established, the responder closed, no reply from the originator.
    S3,
    /// Established, the originator aborted (RST).
    Rsto,
    /// Established, the responder aborted.
    Rstr,
    /// The originator sent a SYN then a RST; no SYN-ACK from the responder.
    RstoS0,
    /// The responder sent a SYN-ACK then a RST; no SYN from the originator.
    Rstrh,
    /// The originator sent a SYN then a FIN; no SYN-ACK from the responder.
    Sh,
    /// The responder sent a SYN-ACK then a FIN; no SYN from the originator.
    Shr,
    /// No SYN seen, just midstream traffic.
    Oth,
}

impl ConnState {
    /// The name Zeek's conn.log uses.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnState::S0 => "S0",
            ConnState::S1 => "S1",
            ConnState::Sf => "SF",
            ConnState::Rej => "REJ",
            ConnState::S2 => "S2",
            ConnState::S3 => "S3",
            ConnState::Rsto => "RSTO",
            ConnState::Rstr => "RSTR",
            ConnState::RstoS0 => "RSTOS0",
            ConnState::Rstrh => "RSTRH",
            ConnState::Sh => "SH",
            ConnState::Shr => "SHR",
            ConnState::Oth => "OTH",
        }
    }

    /// An attempt that got no reply at all (S0).
    pub fn is_unanswered(self) -> bool {
        self == ConnState::S0
    }
}

impl std::fmt::Display for ConnState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ConnState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}
