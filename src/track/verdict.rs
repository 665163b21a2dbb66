//! The verdict on one RST: what the wire says it is, with the evidence. Decided before the RST
//! updates the connection, from what each side had sent until then.

use super::{Conn, Endpoint, Verdict};
use crate::decode::TcpSegment;

/// Two RSTs from one side this close together, with different sequence numbers and nothing
/// from the peer in between, look like a burst from an injector (which guesses at the window).
const INJECTION_BURST_NS: i64 = 100_000_000;

pub(super) fn classify(
    conn: &Conn,
    orig_ep: Endpoint,
    from_orig: bool,
    seg: &TcpSegment<'_>,
    now: i64,
    is_new: bool,
    headers_only: bool,
) -> (Verdict, String) {
    let (me, peer) = if from_orig {
        (&conn.orig, &conn.resp)
    } else {
        (&conn.resp, &conn.orig)
    };
    if is_new {
        return (
            Verdict::Stray,
            "no earlier packet of this connection in the capture".to_string(),
        );
    }
    // Injection evidence outranks the position in the conversation.
    if me.ttl_samples > 0
        && (seg.ttl < me.ttl_min.saturating_sub(1) || seg.ttl > me.ttl_max.saturating_add(1))
    {
        let usual = if me.ttl_min == me.ttl_max {
            me.ttl_min.to_string()
        } else {
            format!("{}-{}", me.ttl_min, me.ttl_max)
        };
        return (
            Verdict::SuspectedInjected,
            format!(
                "TTL {} unlike the {usual} of the sender's {} other packet{}",
                seg.ttl,
                me.ttl_samples,
                plural(me.ttl_samples)
            ),
        );
    }
    if let Some((prev_seq, prev_at)) = me.last_rst()
        && prev_seq != seg.seq
        && !me.peer_spoke_since_rst()
        && now.saturating_sub(prev_at) <= INJECTION_BURST_NS
    {
        return (
            Verdict::SuspectedInjected,
            format!(
                "{} RSTs within {} ms with different sequence numbers ({prev_seq}, {})",
                me.rsts + 1,
                now.saturating_sub(prev_at) / 1_000_000,
                seg.seq
            ),
        );
    }
    let synchronized = peer.sent_synack() || me.sent_synack();
    if !from_orig && conn.orig.syns > 0 && !conn.resp.sent_synack() {
        let acks_syn = seg.flags.ack();
        return (
            Verdict::Refused,
            format!(
                "answers the SYN{} from {} (no SYN-ACK){}",
                if conn.orig.syns > 1 {
                    format!(" ({} sent)", conn.orig.syns)
                } else {
                    String::new()
                },
                orig_ep,
                if acks_syn { "" } else { "; RST without ACK" }
            ),
        );
    }
    // tcp_abort_on_overflow: the server answers the handshake's final ACK with a RST when its
    // accept queue is full; so does a listener that closed between SYN-ACK and ACK.
    // With headers only (live capture), the client's data is not seen: the RST's ACK says
    // whether the client had sent any.
    let client_sent_data = headers_only
        && seg.flags.ack()
        && conn
            .orig
            .isn()
            .is_some_and(|isn| (seg.ack.wrapping_sub(isn.wrapping_add(1)) as i32) > 0);
    if !from_orig
        && conn.resp.sent_synack()
        && conn.resp.pkts == 1
        && conn.orig.bytes == 0
        && !client_sent_data
    {
        return (
            Verdict::HandshakeReset,
            "server reset right after the handshake, before any data (accept queue overflow with tcp_abort_on_overflow=1, or the listener closed)".to_string(),
        );
    }
    if conn.resp.sent_synack() && !conn.handshake_done() {
        let who = if from_orig { "client" } else { "server" };
        return (
            Verdict::HandshakeReset,
            format!("{who} reset after the SYN-ACK, before the handshake completed"),
        );
    }
    if let Some(fin_at) = me.fin_at() {
        return (
            Verdict::ResetAfterClose,
            format!(
                "the sender had closed (FIN) {} ms earlier; the peer sent more after that",
                now.saturating_sub(fin_at) / 1_000_000
            ),
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
    if !synchronized && conn.orig.syns == 0 {
        // Mid-stream connection (began before the capture).
        let who = if from_orig {
            Verdict::ResetByClient
        } else {
            Verdict::ResetByServer
        };
        return (
            who,
            format!(
                "on a connection that began before the capture ({} earlier packets)",
                me.pkts + peer.pkts
            ),
        );
    }
    if from_orig {
        (
            Verdict::ResetByClient,
            format!(
                "client aborted after {} packets, {} bytes sent",
                me.pkts, me.bytes
            ),
        )
    } else {
        (
            Verdict::ResetByServer,
            format!(
                "server aborted after {} packets, {} bytes sent",
                me.pkts, me.bytes
            ),
        )
    }
}

/// RFC 9293 §3.10.7.4: a RST is acceptable when RCV.NXT ≤ SEG.SEQ < RCV.NXT + RCV.WND. The
/// receiver's RCV.NXT and window are its last ACK and advertised window.
fn out_of_window(receiver: &super::Side, seg: &TcpSegment<'_>) -> Option<String> {
    let rcv_nxt = receiver.last_ack()?;
    let scale = receiver.wscale().unwrap_or(0);
    let wnd = u64::from(receiver.last_win) << scale;
    let diff = seg.seq.wrapping_sub(rcv_nxt) as i32;
    // Allow one byte below: a RST after our FIN may use the sequence number the FIN consumed.
    let ok = if wnd == 0 {
        (-1..=0).contains(&diff)
    } else {
        diff >= -1 && (diff as i64) < wnd.max(1) as i64
    };
    (!ok).then(|| {
        format!(
            "seq {} is {} bytes {} the window {}..{} the receiver advertised",
            seg.seq,
            diff.unsigned_abs(),
            if diff < 0 { "before" } else { "beyond" },
            rcv_nxt,
            rcv_nxt.wrapping_add(wnd.min(u64::from(u32::MAX)) as u32)
        )
    })
}

fn plural(n: u32) -> &'static str {
    if n == 1 { "" } else { "s" }
}
