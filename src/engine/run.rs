//! One run of the engine: segments go through the tracker, and what it concludes goes to the
//! report (groupings and findings) and, as typed events, to an [`EventSink`] that decides how
//! they look. No IO but what the sink does; time comes from the segments.

use crate::engine::decode::TcpSegment;
use crate::engine::fusion::{KernelNote, RstOrigin};
use crate::engine::report::Report;
use crate::engine::services::Services;
use crate::engine::storm::{StormGate, StormLine};
use crate::engine::track::{
    ClosedConn, ConnSummary, Endpoint, Event, Evidence, RstBoxes, RstEvent, SPARE_RSTS, SegMeta,
    Tracker, TrackerConfig, Verdict,
};
use crate::model::{Origin, Timestamp};
use std::io;

/// How many events ahead [`Engine::consume`] prefetches the report's index buckets for an RST
/// (and half as far ahead, its groups).
const REPORT_AHEAD: usize = 8;
/// Connections ended (and rendered) at a time at the end of the input.
pub const FINISH_BATCH: usize = 4096;

/// Where events are labelled as coming from: the capture file (JSON records name it) and the
/// prefix text lines carry when several files are read.
#[derive(Debug, Clone, Copy, Default)]
pub struct Place<'a> {
    pub file: &'a str,
    pub prefix: Option<&'a str>,
}

/// The packet that produced an event: where it came from, its captured bytes and its length on
/// the wire.
pub type PacketRef<'a> = (&'a Origin<'a>, &'a [u8], u32);

/// Where the engine's conclusions go. Each output format implements it (`crate::sink`); the
/// engine never knows which one it feeds.
pub trait EventSink {
    /// Whether [`EventSink::packet`] wants every tracked segment (a packet writer does).
    fn wants_packets(&self) -> bool {
        false
    }
    /// A non-RST segment the tracker placed in connection `conn`.
    fn packet(&mut self, _conn: u64, _ts: Timestamp, _packet: PacketRef<'_>) -> io::Result<()> {
        Ok(())
    }
    /// An RST and its verdict; `shown` is false when storm mode folds it into a storm line.
    fn rst(
        &mut self,
        place: Place<'_>,
        ev: &RstEvent,
        shown: bool,
        packet: Option<PacketRef<'_>>,
    ) -> io::Result<()>;
    /// A connection the tracker ended, with its Zeek-like state.
    fn ended(&mut self, c: &ConnSummary) -> io::Result<()>;
    /// A connection that closed normally (nothing to show, but packets kept for it can go).
    fn closed(&mut self, _c: &ClosedConn) -> io::Result<()> {
        Ok(())
    }
    /// A host kept sending after it reset the connection.
    fn kept_talking(&mut self, ts: Timestamp, conn_id: u64, sender: &Endpoint) -> io::Result<()>;
    /// One second of an RST storm, folded into one line.
    fn storm(&mut self, place: Place<'_>, line: &StormLine) -> io::Result<()>;
    /// Writes what is buffered when enough has gathered (`all`: everything, and flush).
    fn flush(&mut self, all: bool) -> io::Result<()>;
}

/// What a command asks of the engine, from its options.
pub struct Setup {
    pub cfg: TrackerConfig,
    /// `--max-conns`, overriding `cfg.max_conns`.
    pub max_conns: Option<usize>,
    /// Port names for the findings.
    pub services: Services,
    /// Whether RST lines are shown one by one (through the storm gate). Off when connections
    /// are listed instead.
    pub rst_lines: bool,
    /// Storm mode: RST lines per second per resetting endpoint and verdict; 0 shows every RST.
    pub storm_limit: u32,
}

/// The engine of one run: tracker, report and storm gate, feeding the sink `S`.
pub struct Engine<S: EventSink> {
    /// Connections the tracker holds at once.
    pub max_conns: usize,
    pub tracker: Tracker,
    pub report: Report,
    pub sink: S,
    /// Whether the sink takes every tracked segment (read once: it does not change).
    packets: bool,
    rst_lines: bool,
    pub unanswered: u64,
    /// Reused event buffer (swapped with the tracker's each packet).
    events: Vec<Event>,
    /// Boxes of RST events rendered and added to the report, for the tracker to reuse.
    spent_rsts: RstBoxes,
    /// Which RST lines are shown one by one (storm mode).
    pub storm: StormGate,
    /// Storm lines due, reused.
    storm_due: Vec<StormLine>,
    /// What the kernel said about the segment being tracked, for the RST it may cause.
    pending_note: Option<KernelNote>,
}

impl<S: EventSink> Engine<S> {
    /// Builds the engine: applies `--max-conns` (the tracker brings the cap within what it can
    /// hold; [`Engine::max_conns`] is the one in effect).
    pub fn new(setup: Setup, sink: S) -> Engine<S> {
        let mut cfg = setup.cfg;
        if let Some(m) = setup.max_conns {
            cfg.max_conns = m;
        }
        let tracker = Tracker::new(cfg);
        Engine {
            max_conns: tracker.max_conns(),
            tracker,
            report: Report::new(setup.services),
            packets: sink.wants_packets(),
            sink,
            rst_lines: setup.rst_lines,
            unanswered: 0,
            events: Vec::new(),
            spent_rsts: Vec::new(),
            storm: StormGate::new(setup.storm_limit),
            storm_due: Vec::new(),
            pending_note: None,
        }
    }

    /// Tracks one segment, hands its packet to a sink that keeps packets, and passes on what
    /// it caused.
    pub fn segment(
        &mut self,
        meta: &SegMeta<'_>,
        seg: &TcpSegment<'_>,
        packet: PacketRef<'_>,
        place: Place<'_>,
    ) -> io::Result<()> {
        let conn = self.tracker.observe(meta, seg);
        if self.packets && !seg.flags.rst() {
            self.sink.packet(conn, meta.ts, packet)?;
        }
        self.drain(place, Some(packet))
    }

    /// [`Engine::segment`] for an RST the kernel said something about (live, with kernel
    /// events): the RST's event carries the note, and an RST forged by a local firewall rule
    /// gets that verdict instead of the one the wire alone suggests.
    pub fn segment_noted(
        &mut self,
        meta: &SegMeta<'_>,
        seg: &TcpSegment<'_>,
        packet: PacketRef<'_>,
        place: Place<'_>,
        note: KernelNote,
    ) -> io::Result<()> {
        self.pending_note = Some(note);
        let r = self.segment(meta, seg, packet, place);
        self.pending_note = None;
        r
    }

    /// Passes on and accounts the tracker's events; `current` is the packet that produced them.
    pub fn drain(&mut self, place: Place<'_>, current: Option<PacketRef<'_>>) -> io::Result<()> {
        // Most segments (a SYN, a FIN) produce no event: nothing to swap or pass on.
        if !self.tracker.has_events() {
            return Ok(());
        }
        let mut events = std::mem::take(&mut self.events);
        self.tracker.take_events(&mut events);
        let r = self.consume(&mut events, place, current);
        self.events = events;
        self.tracker.recycle_rsts(&mut self.spent_rsts);
        r
    }

    /// Moves the boxes of the RST events [`Engine::consume`] is done with into `into`, for the
    /// tracker that made them (on another thread: [`Tracker::recycle_rsts`] there).
    pub(crate) fn hand_back_rsts(&mut self, into: &mut RstBoxes) {
        into.append(&mut self.spent_rsts);
    }

    /// Accounts and passes on events a tracker produced (here, or on another thread), in their
    /// order; leaves `events` empty.
    pub fn consume(
        &mut self,
        events: &mut Vec<Event>,
        place: Place<'_>,
        current: Option<PacketRef<'_>>,
    ) -> io::Result<()> {
        // The report's groups are cache misses (tens of thousands of keys): their index
        // buckets are prefetched for the RST some events ahead, and the groups themselves for
        // the one half as far ahead.
        let mut rest = events.drain(..);
        loop {
            let ahead = rest.as_slice();
            if let Some(Event::Rst(r)) = ahead.get(REPORT_AHEAD) {
                self.report.prefetch_rst_index(r);
            }
            if let Some(Event::Rst(r)) = ahead.get(REPORT_AHEAD / 2) {
                self.report.prefetch_rst_groups(r);
            }
            let Some(ev) = rest.next() else { break };
            match ev {
                Event::Rst(mut r) => {
                    if let Some(note) = self.pending_note.take() {
                        r.kernel = Some(Box::new(note));
                    }
                    // The note came with the segment, or (the threaded `read`) with the event.
                    if r.kernel
                        .as_ref()
                        .is_some_and(|n| n.origin == RstOrigin::ForgedLocally)
                    {
                        r.verdict = Verdict::FirewallReject;
                        r.evidence = Evidence::Text(
                            "it left this host, but the TCP stack sent no RST (no tcp_send_reset)"
                                .into(),
                        );
                    }
                    self.report.add_rst(&r);
                    let shown = self.rst_lines
                        && self
                            .storm
                            .admit(r.ts, r.from, r.verdict, r.to.ip, &mut self.storm_due);
                    if !self.storm_due.is_empty() {
                        self.pass_storms(place)?;
                    }
                    self.sink.rst(place, &r, shown, current)?;
                    if self.spent_rsts.len() < SPARE_RSTS {
                        self.spent_rsts.push(r);
                    }
                }
                Event::Ended(c) => {
                    self.report.add_ended(&c);
                    self.unanswered += u64::from(c.conn_state.is_unanswered());
                    self.sink.ended(&c)?;
                }
                Event::Closed(c) => {
                    self.report.add_closed(&c);
                    self.sink.closed(&c)?;
                }
                Event::KeptTalking {
                    ts,
                    conn_id,
                    sender,
                } => {
                    self.report.add_kept_talking(ts, sender);
                    self.sink.kept_talking(ts, conn_id, &sender)?;
                }
            }
        }
        self.sink.flush(false)
    }

    /// Storm lines for seconds that ended before `now_secs` (wall clock: a storm that stopped).
    pub fn storm_tick(&mut self, now_secs: i64) -> io::Result<()> {
        self.storm.tick(now_secs, &mut self.storm_due);
        self.pass_storms(Place::default())
    }

    fn pass_storms(&mut self, place: Place<'_>) -> io::Result<()> {
        for line in self.storm_due.drain(..) {
            self.sink.storm(place, &line)?;
        }
        Ok(())
    }

    /// Ends every connection, a batch at a time so that the summaries of a full table never
    /// all exist at once, passing each batch on unless `pass` is false (the output is gone).
    pub fn finish(&mut self, pass: bool) -> io::Result<()> {
        let mut r = Ok(());
        loop {
            let more = self.tracker.finish_some(FINISH_BATCH);
            if pass && r.is_ok() {
                r = self.drain(Place::default(), None);
            } else {
                let _ = self.tracker.drain().count();
            }
            if !more {
                break;
            }
        }
        self.storm.finish(&mut self.storm_due);
        if pass {
            r = r.and_then(|_| self.pass_storms(Place::default()));
            r = r.and_then(|_| self.sink.flush(true));
        } else {
            self.storm_due.clear();
        }
        r
    }
}
