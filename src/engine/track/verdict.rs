//! The verdict on one RST: what the wire says it is, with the evidence. Decided before the RST
//! updates the connection, from what each side had sent until then.

use super::{Conn, Endpoint, Evidence, SegView, Verdict};

/// Two RSTs from one side this close together, with different sequence numbers and nothing
/// from the peer in between, look like a burst from an injector (which guesses at the window).
const INJECTION_BURST_NS: i64 = 100_000_000;

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
    if let Some((prev_seq, prev_at)) = me.last_rst()
        && prev_seq != seg.seq
        && !me.peer_spoke_since_rst()
        && now.saturating_sub(prev_at) <= INJECTION_BURST_NS
    {
        return (
            Verdict::SuspectedInjected,
            Evidence::RstBurst {
                rsts: me.rsts() + 1,
                ms: now.saturating_sub(prev_at) / 1_000_000,
                prev_seq,
                seq: seg.seq,
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
