//! The verdict on one RST: what the wire says it is, with the evidence. Decided before the RST
//! updates the connection, from what each side had sent until then.

use super::{Conn, Endpoint, Evidence, SegView, Verdict};

/// RSTs from one side at most this far apart, with nothing from the peer in between, make a
/// burst. A burst with different sequence numbers is an injector guessing at the window, unless
/// each RST answers a segment the peer sent: a closed socket's stack answers every segment that
/// still arrives with a RST whose sequence number is that segment's ACK (RFC 9293 §3.10.7.1),
/// so several segments in flight when a host closed draw as many RSTs, their sequence numbers
/// the peer's successive ACKs.
pub(super) const INJECTION_BURST_NS: i64 = 100_000_000;

pub(super) fn classify(
    conn: &Conn,
    orig_ep: Endpoint,
    from_orig: bool,
    seg: &SegView<'_>,
    now: i64,
    is_new: bool,
    headers_only: bool,
) -> (Verdict, Evidence) {
    let (me, peer) = conn.sides(from_orig);
    let (orig, resp) = (conn.orig_side(), conn.resp_side());
    if is_new {
        // RFC 9293 §3.10.7.1: a stack answers a segment without ACK (a SYN) with
        // <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. Such a RST refuses an attempt whose SYN
        // is not in the table: not captured, or superseded on the same 5-tuple by a newer
        // attempt (a flood of refused connections reuses source ports within milliseconds).
        if answers_unseen_syn(seg) {
            return (
                Verdict::Refused,
                Evidence::AnswersUnseenSyn {
                    ack: seg.ack.wrapping_sub(1),
                },
            );
        }
        return (Verdict::Stray, Evidence::NoEarlierPacket);
    }
    // Injection evidence outranks the position in the conversation.
    let (ttl_min, ttl_max) = (me.hot.ttl_min, me.hot.ttl_max);
    if me.ttl_samples() > 0
        && (seg.ttl < ttl_min.saturating_sub(1) || seg.ttl > ttl_max.saturating_add(1))
    {
        return (
            Verdict::SuspectedInjected,
            Evidence::TtlUnlike {
                ttl: seg.ttl,
                min: ttl_min,
                max: ttl_max,
                samples: me.ttl_samples(),
            },
        );
    }
    // Without the data segments (live capture sees SYN, FIN and RST only), what the peer sent
    // is unknown, so a burst cannot be told from the stack's answers: no verdict from it.
    if !headers_only
        && let Some((prev_seq, _)) = me.last_rst()
        && prev_seq != seg.seq
        && me.burst_continues(now)
        && !answers_peer(me, peer, seg.seq)
    {
        let (rsts, span_ns) = me.burst_with(now, conn.start_ns);
        return (
            Verdict::SuspectedInjected,
            Evidence::RstBurst {
                rsts,
                span_ns,
                prev_seq,
                seq: seg.seq,
                peer_ack: peer.last_ack(),
            },
        );
    }
    let synchronized = peer.sent_synack() || me.sent_synack();
    if !from_orig && orig.syns() > 0 && !resp.sent_synack() {
        return (
            Verdict::Refused,
            Evidence::AnswersSyn {
                syns: orig.syns(),
                orig: orig_ep,
                with_ack: seg.flags.ack(),
            },
        );
    }
    // tcp_abort_on_overflow: the server answers the handshake's final ACK with a RST when its
    // accept queue is full; so does a listener that closed between SYN-ACK and ACK.
    // With headers only (live capture), the client's data is not seen: the RST's ACK says
    // whether the client had sent any.
    let client_sent_data = headers_only
        && seg.flags.ack()
        && orig
            .isn()
            .is_some_and(|isn| (seg.ack.wrapping_sub(isn.wrapping_add(1)) as i32) > 0);
    if !from_orig
        && resp.sent_synack()
        && resp.pkts() == 1
        && orig.bytes() == 0
        && !client_sent_data
    {
        return (Verdict::HandshakeReset, Evidence::AfterHandshake);
    }
    if resp.sent_synack() && !conn.handshake_done() {
        return (
            Verdict::HandshakeReset,
            Evidence::DuringHandshake {
                by_client: from_orig,
            },
        );
    }
    if let Some(fin_at) = me.fin_at() {
        return (
            Verdict::ResetAfterClose,
            Evidence::AfterFin {
                ms: now.saturating_sub(fin_at) / 1_000_000,
            },
        );
    }
    // The receiver's window is only known from the segments seen: without the ACKs of a live
    // capture's data segments, it would be stale.
    if synchronized
        && !headers_only
        && let Some(out) = out_of_window(peer, seg)
    {
        return (Verdict::OutOfWindow, out);
    }
    if !synchronized && orig.syns() == 0 {
        // Mid-stream connection (began before the capture).
        let who = if from_orig {
            Verdict::ResetByClient
        } else {
            Verdict::ResetByServer
        };
        return (
            who,
            Evidence::MidStream {
                packets: me.pkts() + peer.pkts(),
            },
        );
    }
    let aborted = Evidence::Aborted {
        by_client: from_orig,
        packets: me.pkts(),
        bytes: me.bytes(),
    };
    if from_orig {
        (Verdict::ResetByClient, aborted)
    } else {
        (Verdict::ResetByServer, aborted)
    }
}

/// A RST/ACK with sequence number 0: a stack's answer to a segment without ACK, a SYN.
pub(super) fn answers_unseen_syn(seg: &SegView<'_>) -> bool {
    seg.flags.rst() && seg.flags.ack() && !seg.flags.syn() && seg.seq == 0
}

/// Whether a RST with sequence number `seq` from `me` can be its stack's answer to a segment
/// `peer` sent (RFC 9293 §3.10.7.1: the RST takes the answered segment's ACK as its sequence
/// number). The peer's ACKs only grow, and the capture saw the answered segment before the RST
/// (it was sent first, on the same path): so `seq` is at most the peer's last ACK, and at most
/// the sequence space `me` was seen to use (its data, SYN and FIN) below it. Only the last ACK
/// is kept per side, so an ACK in that range is taken as sent; a guess at the window from
/// elsewhere lands there about once in 2^32 / (bytes sent) tries.
fn answers_peer(me: super::SideRef<'_>, peer: super::SideRef<'_>, seq: u32) -> bool {
    let Some(last_ack) = peer.last_ack() else {
        return false;
    };
    let below = u64::from(last_ack.wrapping_sub(seq));
    let used = me.bytes().saturating_add(2).min(i32::MAX as u64);
    below <= used
}

/// RFC 9293 §3.10.7.4: a RST is acceptable when RCV.NXT ≤ SEG.SEQ < RCV.NXT + RCV.WND. The
/// receiver's RCV.NXT and window are its last ACK and advertised window.
fn out_of_window(receiver: super::SideRef<'_>, seg: &SegView<'_>) -> Option<Evidence> {
    // A window that was not captured is no evidence.
    if receiver.window_unknown() {
        return None;
    }
    let rcv_nxt = receiver.last_ack()?;
    let scale = receiver.wscale().unwrap_or(0);
    let wnd = u64::from(receiver.hot.last_win) << scale;
    let diff = seg.seq.wrapping_sub(rcv_nxt) as i32;
    // Allow one byte below: a RST after our FIN may use the sequence number the FIN consumed.
    let ok = if wnd == 0 {
        (-1..=0).contains(&diff)
    } else {
        diff >= -1 && (diff as i64) < wnd.max(1) as i64
    };
    (!ok).then_some(Evidence::OutOfWindow {
        seq: seg.seq,
        diff,
        rcv_nxt,
        wnd: wnd.min(u64::from(u32::MAX)) as u32,
    })
}
