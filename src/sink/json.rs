//! The JSON sink: one object per line, each a record type of [`crate::sink::schema`].

use crate::engine::counters::{Change, Disagreement};
use crate::engine::decode::TcpSegment;
use crate::engine::listeners::Until;
use crate::engine::payload::payload_text;
use crate::engine::storm::StormLine;
use crate::engine::summary::{CountersOverRun, RunSummary};
use crate::engine::track::{ConnSummary, Endpoint, RstEvent, SegMeta};
use crate::engine::{EventSink, PacketRef, Place};
use crate::model::timestamp::Timestamp;
use crate::sink::LineBuf;
use crate::sink::schema::*;
use serde::Serialize;
use std::io;

/// Appends `record` and a newline.
pub fn write_record(out: &mut Vec<u8>, record: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *out, record)?;
    out.push(b'\n');
    Ok(())
}

pub fn write_rst_json(out: &mut Vec<u8>, file: &str, ev: &RstEvent) -> io::Result<()> {
    let j = RstRecord {
        kind: "rst",
        ts: ev.ts,
        file,
        frame: ev.frame,
        link_type: ev.link_type.to_string(),
        interface: ev.iface.as_deref(),
        ifindex: ev.ifindex,
        direction: ev.direction.map(direction_word),
        ip_version: if ev.from.ip.is_ipv4() { 4 } else { 6 },
        src: ev.from.ip,
        sport: ev.from.port,
        dst: ev.to.ip,
        dport: ev.to.port,
        flags: Shown(ev.flags),
        seq: ev.seq,
        ack: ev.ack,
        window: ev.window,
        ttl: ev.ttl,
        ip_id: ev.ip_id,
        payload_len: ev.payload_len,
        payload_text: ev.payload_text.as_deref(),
        encap: ev
            .encap
            .iter()
            .map(|e| Encap {
                kind: e.kind(),
                id: e.id(),
            })
            .collect(),
        header_captured: ev.header_cut,
        verdict: ev.verdict,
        evidence: Shown(&ev.evidence),
        from_originator: ev.from_orig,
        conn: ConnRecord::new(&ev.conn),
        kernel: ev.kernel.as_deref().map(KernelRecord::new),
    };
    serde_json::to_writer(&mut *out, &j)?;
    out.push(b'\n');
    Ok(())
}

/// `{"type":"unanswered",…}` or `{"type":"conn",…}` with the connection's fields.
pub fn write_conn_json(out: &mut Vec<u8>, kind: &'static str, c: &ConnSummary) -> io::Result<()> {
    serde_json::to_writer(
        &mut *out,
        &TypedConnRecord {
            kind,
            conn: ConnRecord::new(c),
        },
    )?;
    out.push(b'\n');
    Ok(())
}

/// `{"type":"note",…}`: the sender of an RST kept sending afterwards.
pub fn write_note_json(
    out: &mut Vec<u8>,
    ts: Timestamp,
    conn_id: u64,
    sender: &Endpoint,
) -> io::Result<()> {
    write_record(
        out,
        &NoteRecord {
            conn: format!("C{conn_id}"),
            sender: sender.to_string(),
            text: "the sender kept sending data after its own RST: that RST was probably forged by a middlebox",
            ts,
            kind: "note",
            verdict: "suspected_injected",
        },
    )
}

/// `--raw --json`: the RST record without verdict or connection.
pub fn write_raw_json(
    out: &mut Vec<u8>,
    file: &str,
    p: &SegMeta<'_>,
    seg: &TcpSegment<'_>,
) -> io::Result<()> {
    write_record(
        out,
        &RawRstRecord {
            ack: seg.flags.ack().then_some(seg.ack),
            direction: p.direction.or(seg.ctx.direction).map(direction_word),
            dport: seg.dport,
            dst: seg.dst,
            encap: seg
                .ctx
                .encaps()
                .map(|e| RawEncap {
                    id: e.id(),
                    kind: e.kind(),
                })
                .collect(),
            file,
            header_captured: seg.header_cut,
            flags: seg.flags.to_string(),
            frame: p.frame,
            ifindex: seg.ctx.ifindex,
            interface: p.iface_name.map(|n| &**n),
            ip_id: seg.ip_id,
            ip_version: if seg.src.is_ipv4() { 4 } else { 6 },
            link_type: p.link_type.to_string(),
            payload_len: seg.payload_len,
            payload_text: payload_text(seg.payload),
            seq: seg.seq,
            sport: seg.sport,
            src: seg.src,
            ts: p.ts,
            ttl: seg.ttl,
            kind: "rst",
            window: seg.window,
        },
    )
}

/// `{"type":"rst_storm",…}`: the same as the text sink's storm line; `count` is exact.
pub fn write_storm_json(out: &mut Vec<u8>, s: &StormLine) -> io::Result<()> {
    write_record(out, &StormRecord::new(s))
}

/// Writes `record` and a newline straight to `out` (for records outside the line buffer).
pub fn write_line(out: &mut dyn io::Write, record: &impl Serialize) -> io::Result<()> {
    let mut line = Vec::new();
    write_record(&mut line, record)?;
    out.write_all(&line)
}

/// The last `--json` line: `{"type":"summary",…}` with the run's counts and ranked findings.
pub fn summary_record(r: &RunSummary) -> SummaryRecord {
    let s = &r.stats;
    let mut record = SummaryRecord {
        connections: r.tracker.conns,
        errors: r.errors.clone(),
        output_errors: r.output_errors.clone(),
        evicted_connections: r.tracker.evicted,
        findings: r
            .report
            .as_ref()
            .map(crate::sink::schema::ReportRecord::new),
        max_connections: r.max_conns,
        packets: s.packets,
        rsts: s.rsts,
        tcp_segments: s.tcp,
        kind: "summary",
        unanswered: r.unanswered,
        ..SummaryRecord::default()
    };
    if r.live {
        match &r.counters {
            Some(CountersOverRun::Compared { run, disagreements }) => {
                record.counters = Some(CountersRecord::Moved(
                    run.rows
                        .iter()
                        .filter_map(|row| match row.change {
                            Change::Moved { delta, .. } if delta > 0 => {
                                Some((row.info.name, delta as i64))
                            }
                            // A reset shows as the (negative) difference.
                            Change::Reset { before, after } => {
                                Some((row.info.name, after as i64 - before as i64))
                            }
                            _ => None,
                        })
                        .collect(),
                ));
                record.disagreements = Some(
                    disagreements
                        .iter()
                        .map(|d| DisagreementRecord {
                            kind: match d {
                                Disagreement::RstsNotFromStack { .. } => "rsts_not_from_stack",
                                Disagreement::FailuresNotCaptured { .. } => "failures_not_captured",
                                Disagreement::AcceptQueueFull { .. } => "accept_queue_full",
                            },
                            text: crate::sink::text::disagreement(d),
                        })
                        .collect(),
                );
            }
            Some(CountersOverRun::Unavailable(why)) => {
                record.counters = Some(CountersRecord::Unavailable {
                    unavailable: why.clone(),
                });
            }
            None => {}
        }
        record.kernel = r.kernel.as_ref().map(|k| KernelSummaryRecord {
            events: k.events,
            lost_records: k.lost_records,
            resets_unclaimed: k.resets_unclaimed,
            overflow: k.overflow,
            failed_elsewhere: k.failed_elsewhere,
            listen_elsewhere: k.listen_elsewhere,
            listen_unconfirmed: k.listen_unconfirmed,
            listen_dropped: k.listen_dropped,
            failed_connects: k
                .failed_connects
                .iter()
                .map(|f| FailedConnectsRecord {
                    process: ProcessRecordOwned::new(&f.process),
                    processes: f.processes,
                    pids: f.pids.clone(),
                    remote: f.remote.to_string(),
                    count: f.count,
                })
                .collect(),
            connect_errors: k
                .connect_errors
                .iter()
                .map(|e| {
                    let (error, meaning) = crate::sink::connect_errors::errno_words(e.errno);
                    crate::sink::schema::ConnectErrorsRecord {
                        process: ProcessRecordOwned::new(&e.process),
                        named: e.named,
                        errno: e.errno,
                        error: error.to_string(),
                        meaning: meaning.to_string(),
                        count: e.count,
                        processes: e.processes,
                        pids: e.pids.clone(),
                    }
                })
                .collect(),
            connect_errors_watched: k.connect_errors_watched,
            connect_errors_elsewhere: k.connect_errors_elsewhere,
            stopped: k.stopped.clone(),
        });
        record.listeners = r.listeners.as_ref().map(|l| ListenersRecord {
            stopped: l
                .stopped
                .iter()
                .map(|s| {
                    let (until, exact) = match s.until {
                        Some(Until::At(t)) => (Some(t), true),
                        Some(Until::Between(_, t)) => (Some(t), false),
                        None => (None, false),
                    };
                    StoppedListenerRecord {
                        address: std::net::SocketAddr::new(s.key.addr, s.key.port).to_string(),
                        process: s.owners.first().map(|o| o.comm.clone()),
                        pid: s.owners.first().map(|o| o.pid),
                        until,
                        exact,
                    }
                })
                .collect(),
            overflowing: l
                .overflow
                .iter()
                .flat_map(|o| o.listeners.iter())
                .map(|share| {
                    let li = &share.listener;
                    OverflowRecord {
                        address: std::net::SocketAddr::new(li.key.addr, li.key.port).to_string(),
                        process: li.owners.first().map(|o| o.comm.clone()),
                        pid: li.owners.first().map(|o| o.pid),
                        queue: li.queue,
                        backlog: li.backlog,
                        drops_during_run: share.verdict.drops_delta,
                        advice: share
                            .verdict
                            .advice
                            .iter()
                            .map(|a| {
                                crate::sink::text::advice_text(a, li, &l.sysctls, &share.verdict)
                            })
                            .collect(),
                    }
                })
                .collect(),
            notes: l.notes.clone(),
        });
        record.seconds = Some(r.seconds);
        record.interfaces = Some(r.watched.clone());
        record.kernel_packets = Some(r.kernel_packets);
        record.kernel_drops = Some(r.kernel_drops);
        record.storm_suppressed = Some(r.storm.suppressed);
        record.storm_lines = Some(r.storm.lines);
        record.other_interfaces = Some(r.other_interfaces);
    } else {
        record.files = Some(r.files);
        record.bytes = Some(s.bytes);
        record.not_tcp = Some(
            s.not_tcp
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), *v))
                .collect(),
        );
    }
    // Read and watch alike: what stopped the decoder, by name, and what the bounded table of
    // reasons had no room for.
    record.not_decoded = Some(
        s.undecodable
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect(),
    );
    record.not_decoded_other = s.undecodable_other;
    record
}

/// JSON lines: RST, unanswered and note records, or with `connections` a `conn` record per
/// connection instead.
pub struct JsonSink<'o> {
    pub out: LineBuf<'o>,
    pub connections: bool,
}

impl EventSink for JsonSink<'_> {
    fn rst(
        &mut self,
        place: Place<'_>,
        ev: &RstEvent,
        shown: bool,
        _packet: Option<PacketRef<'_>>,
    ) -> io::Result<()> {
        if shown {
            write_rst_json(&mut self.out.buf, place.file, ev)?;
        }
        Ok(())
    }

    fn ended(&mut self, c: &ConnSummary) -> io::Result<()> {
        if self.connections {
            write_conn_json(&mut self.out.buf, "conn", c)
        } else if c.conn_state.is_unanswered() {
            write_conn_json(&mut self.out.buf, "unanswered", c)
        } else {
            Ok(())
        }
    }

    fn kept_talking(&mut self, ts: Timestamp, conn_id: u64, sender: &Endpoint) -> io::Result<()> {
        if self.connections {
            return Ok(());
        }
        write_note_json(&mut self.out.buf, ts, conn_id, sender)
    }

    fn storm(&mut self, _place: Place<'_>, line: &StormLine) -> io::Result<()> {
        write_storm_json(&mut self.out.buf, line)
    }

    fn flush(&mut self, all: bool) -> io::Result<()> {
        self.out.flush(all)
    }
}
