//! Tracked `read` on three threads: one reads and decodes the captures, one tracks connections,
//! and the calling thread keeps the report and writes the lines. Each stage does what one
//! thread did, in the same order: segments go down in batches of owned records, events go down
//! in the order the tracker made them, and file boundaries travel between the batches, so the
//! output is byte for byte that of [`crate::command::read`] on one thread. Emptied batches go back up,
//! so that nothing is allocated per packet.
//!
//! Why three: on the small-packet benchmark decoding is about a quarter of the work, tracking
//! about half and the report the rest, so two stages would leave one thread with three
//! quarters of it.

use crate::command::read::handoff;
use crate::command::read::{PacketSink, ReadOptions, for_each_packet};
use crate::engine::FINISH_BATCH;
use crate::engine::decode::{Context, Outcome, Tcp4, TcpFlags};
use crate::engine::fusion::KernelNote;
use crate::engine::payload::PAYLOAD_TEXT_BYTES;
use crate::engine::stats::DecodeStats;
use crate::engine::track::{Event, RstBoxes, SegKey, SegMeta, SegView, SlotHint, Tracker};
use crate::model::timestamp::Timestamp;
use crate::model::{Direction, LinkType};
use crate::source::capture::{CaptureError, Packet, parse_kernel_note};
use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// Segments per batch: large enough that handing a batch over costs nothing per packet, small
/// enough that the batches in flight stay in the shared cache.
const BATCH: usize = 4096;
/// Batches in flight between two stages.
const IN_FLIGHT: usize = 4;
/// How many segments ahead the tracker prefetches connection records: about as many as it
/// observes in the time one cache miss takes. The index bucket of a segment is prefetched
/// twice as far ahead, so that finding the record to prefetch does not wait for it either.
const PREFETCH_AHEAD: usize = 8;
/// Room for events a reused event list keeps.
const SPARE_EVENTS: usize = 1024;
/// Event lists in flight between the tracking and the report stage.
const LISTS_IN_FLIGHT: usize = IN_FLIGHT * 4;
/// Events per list sent to the report stage, at most. An eviction ends an eighth of the table
/// at once (tens of thousands of connections); sent as one list, each of the lists in flight
/// could hold that many, and how many were waiting depended on which thread ran ahead. In
/// lists of this size, what waits between the two is bounded by a number of events. (A batch
/// of segments rarely ends or resets this many connections: most batches make one list.)
const EVENTS_PER_LIST: usize = 1024;
// The events in flight, at their largest, within their share of the memory budget. The boxes
// of spent RST events that come back with an emptied list (at most `SPARE_RSTS` with each)
// stand in for a list going out: the tracker takes a list back before it sends one on, and
// makes a new one only when none came back, so the lists going out and those coming back are
// never more than `LISTS_IN_FLIGHT` together (beside the one each thread holds, as before).
// The tracker's spares come on top.
const _: () = assert!(
    crate::engine::track::SPARE_RSTS <= EVENTS_PER_LIST
        && (LISTS_IN_FLIGHT * EVENTS_PER_LIST + crate::engine::track::SPARE_RSTS)
            * crate::engine::track::RST_EVENT_BYTES
            <= crate::engine::track::FIXED_BYTES / 2
);
/// Hints kept between the prefetch of a segment's record and its observation (a power of two
/// above `PREFETCH_AHEAD`).
const HINTS: usize = 16;
const _: () = assert!(HINTS.is_power_of_two() && HINTS > PREFETCH_AHEAD);

/// One decoded TCP segment as the tracker needs it, in 120 bytes (two cache lines): its
/// addresses and ports are in its flow key, computed here. What only an RST's event shows (the
/// encapsulations, the payload) is kept aside, in [`RstExtra`]; of the options only a SYN's
/// window scale is kept.
struct SegRecord {
    ts: Timestamp,
    frame: u64,
    /// Computed here, on the decoding thread, to take work off the tracking one.
    key: SegKey,
    seq: u32,
    ack: u32,
    payload_len: u32,
    /// Index into the batch's interface names, or `NONE`.
    name: u32,
    /// Index into the batch's RST extras, or `NONE`.
    extra: u32,
    link_type: LinkType,
    flags: TcpFlags,
    window: u16,
    ip_id: Option<u16>,
    ttl: u8,
    /// A SYN's window-scale option, or [`crate::engine::track::NO_WSCALE`].
    wscale: u8,
    direction: Option<Direction>,
    /// See [`SegView::header_cut`].
    header_cut: Option<u8>,
}

const NONE: u32 = u32::MAX;

/// What an RST's event shows beyond the record: encapsulations, interface index and direction
/// from the headers, and where its payload is in the batch's bytes.
struct RstExtra {
    ctx: Context,
    payload: (u32, u32),
}

/// Segments of one file, in capture order.
#[derive(Default)]
struct SegBatch {
    file_no: usize,
    records: Vec<SegRecord>,
    /// Interface names the records point to (one clone per name per batch, not per packet).
    names: Vec<Arc<str>>,
    rst_extras: Vec<RstExtra>,
    /// RST payloads.
    bytes: Vec<u8>,
    /// What the kernel said of an RST, kept by `watch --write` in its packet comment, by the
    /// RST's frame number (in frame order).
    notes: Vec<(u64, KernelNote)>,
}

impl SegBatch {
    fn clear(&mut self, file_no: usize) {
        self.file_no = file_no;
        self.records.clear();
        self.names.clear();
        self.rst_extras.clear();
        self.bytes.clear();
        self.notes.clear();
    }

    fn name_index(&mut self, name: &Arc<str>) -> u32 {
        // Packets of one interface come in runs: compare with the last name first.
        match self.names.iter().rposition(|n| Arc::ptr_eq(n, name)) {
            Some(i) => i as u32,
            None => {
                self.names.push(name.clone());
                (self.names.len() - 1) as u32
            }
        }
    }

    /// Adds the record of a segment: its key, and what the tracker reads of it.
    #[inline(always)]
    fn push(&mut self, packet: &Packet<'_>, frame: u64, key: SegKey, seg: &SegView<'_>) {
        let name = packet.iface_name.map_or(NONE, |n| self.name_index(n));
        let extra = self.rst_extra(seg);
        self.records.push(SegRecord {
            ts: packet.ts,
            frame,
            key,
            seq: seg.seq,
            ack: seg.ack,
            payload_len: seg.payload_len,
            name,
            extra,
            link_type: packet.link_type,
            flags: seg.flags,
            window: seg.window,
            ip_id: seg.ip_id,
            ttl: seg.ttl,
            wscale: seg.wscale,
            direction: packet.direction,
            header_cut: seg.header_cut,
        });
    }

    /// Keeps what an RST's event shows beyond its record; returns where, or `NONE`.
    #[inline]
    fn rst_extra(&mut self, seg: &SegView<'_>) -> u32 {
        if !seg.flags.rst() {
            return NONE;
        }
        // Only what its text shows: a batch of RSTs with large payloads stays small.
        let start = self.bytes.len();
        let shown = seg.payload.len().min(PAYLOAD_TEXT_BYTES);
        self.bytes.extend_from_slice(&seg.payload[..shown]);
        self.rst_extras.push(RstExtra {
            ctx: *seg.ctx,
            payload: (start as u32, self.bytes.len() as u32),
        });
        (self.rst_extras.len() - 1) as u32
    }

    /// Feeds the batch's segments to `tracker`, in order.
    fn observe(&self, tracker: &mut Tracker) {
        let mut hints = [SlotHint::default(); HINTS];
        for (i, r) in self.records.iter().enumerate() {
            if let Some(rec) = self.records.get(i + 4 * PREFETCH_AHEAD) {
                crate::sys::prefetch::prefetch(rec);
            }
            if let Some(far) = self.records.get(i + 2 * PREFETCH_AHEAD) {
                tracker.prefetch_index(&far.key);
            }
            if let Some(ahead) = self.records.get(i + PREFETCH_AHEAD) {
                hints[(i + PREFETCH_AHEAD) % HINTS] = tracker.prefetch(&ahead.key);
            }
            // The first segments of a batch have no hint (the default: look up).
            let hint = std::mem::take(&mut hints[i % HINTS]);
            tracker.observe_made(&r.key, hint, || self.made(r));
        }
    }

    /// What the tracker reads of record `r`, besides its key.
    #[inline(always)]
    fn made<'b>(&'b self, r: &SegRecord) -> (SegMeta<'b>, SegView<'b>) {
        let (ctx, payload) = match self.rst_extras.get(r.extra as usize) {
            Some(x) => (
                &x.ctx,
                self.bytes
                    .get(x.payload.0 as usize..x.payload.1 as usize)
                    .unwrap_or(&[]),
            ),
            None => (&Context::NONE, &[][..]),
        };
        let seg = SegView {
            seq: r.seq,
            ack: r.ack,
            payload_len: r.payload_len,
            flags: r.flags,
            window: r.window,
            ttl: r.ttl,
            ip_id: r.ip_id,
            wscale: r.wscale,
            payload,
            ctx,
            header_cut: r.header_cut,
        };
        let meta = SegMeta {
            ts: r.ts,
            frame: r.frame,
            link_type: r.link_type,
            iface: r.key.iface(),
            iface_name: self.names.get(r.name as usize),
            direction: r.direction,
            ifindex: None,
        };
        (meta, seg)
    }
}

/// How reading one file ended: what the single-threaded loop learns after `read_one`.
pub struct FileEnd {
    pub file_no: usize,
    pub stats: DecodeStats,
    pub result: Result<(), CaptureError>,
}

/// From the decoding stage to the tracking stage.
enum Decoded {
    Batch(SegBatch),
    FileEnd(FileEnd),
}

/// From the tracking stage to the report stage. `file_no` is `None` for the connections ended
/// at the end of the input.
pub enum Tracked {
    Events {
        file_no: Option<usize>,
        events: Vec<Event>,
        /// Empty when sent: the report stage puts in it the boxes of the RST events it is done
        /// with (`Engine::hand_back_rsts`), and they go back to the tracker with the emptied
        /// list, to hold its next RST events ([`Tracker::recycle_rsts`]).
        spent: RstBoxes,
    },
    FileEnd(FileEnd),
}

/// Runs the decoding and tracking stages on two threads and hands what they produce, in order,
/// to `report` on this one (which takes what it keeps out of the message, and leaves the events
/// emptied). `report` returns `false` to stop early (the output was closed); the other stages
/// then stop at their next hand-over. Returns the tracker, to be put back into the engine, and
/// whether it ran: then all its connections are ended (unless stopped early); if a thread could
/// not be started, it is untouched.
pub fn run(
    paths: &[OsString],
    opts: &ReadOptions,
    tracker: Tracker,
    mut report: impl FnMut(&mut Tracked) -> bool,
) -> (Tracker, bool) {
    let (start_tx, start_rx) = sync_channel::<Tracker>(1);
    // The decoder, faster than the tracker, is woken to refill the queue once it is down to
    // one batch (see `crate::command::read::handoff`).
    let (decoded_tx, decoded_rx) = handoff::bounded::<Decoded>(IN_FLIGHT, 1);
    let (batch_back_tx, batch_back_rx) = sync_channel::<SegBatch>(IN_FLIGHT + 2);
    let (tracked_tx, tracked_rx) = sync_channel::<Tracked>(LISTS_IN_FLIGHT);
    let (events_back_tx, events_back_rx) = sync_channel::<Returned>(LISTS_IN_FLIGHT + 2);
    std::thread::scope(|s| {
        // The tracker is handed over only once both threads run, so that it can be given back
        // if one cannot be started. (Named for `top -H` and profilers.)
        let tracking = std::thread::Builder::new()
            .name("rsthound-track".into())
            .spawn_scoped(s, move || {
                let tracker = start_rx.recv().ok()?;
                Some(track_stage(
                    tracker,
                    decoded_rx,
                    batch_back_tx,
                    tracked_tx,
                    events_back_rx,
                ))
            });
        let decoding = std::thread::Builder::new()
            .name("rsthound-decode".into())
            .spawn_scoped(s, move || {
                decode_stage(paths, opts, decoded_tx, batch_back_rx)
            });
        let (Ok(tracking), Ok(_)) = (tracking, decoding) else {
            // Dropping `start_tx` ends whichever thread did start.
            return (tracker, false);
        };
        if let Err(e) = start_tx.send(tracker) {
            return (e.0, false);
        }
        for mut msg in tracked_rx.iter() {
            let go_on = report(&mut msg);
            if let Tracked::Events {
                mut events, spent, ..
            } = msg
            {
                // Emptied by the report: back to the tracker for reuse, but no larger than a
                // batch's worth (an eviction ends tens of thousands of connections at once, and
                // a spare list that kept room for them would hold megabytes for nothing).
                events.shrink_to(SPARE_EVENTS);
                let _ = events_back_tx.try_send((events, spent));
            }
            if !go_on {
                break;
            }
        }
        // Dropping the receiver stops the tracking stage at its next hand-over.
        drop(tracked_rx);
        match tracking.join() {
            Ok(Some(tracker)) => (tracker, true),
            // It was handed the tracker above, so it returns it unless it panicked.
            Ok(None) => unreachable!("the tracking thread got the tracker"),
            Err(e) => std::panic::resume_unwind(e),
        }
    })
}

/// Reads and decodes every file in order; sends its TCP segments in batches and how each file
/// ended. Stops when the tracking stage is gone.
fn decode_stage(
    paths: &[OsString],
    opts: &ReadOptions,
    tx: handoff::Sender<Decoded>,
    back: Receiver<SegBatch>,
) {
    for (file_no, path) in paths.iter().enumerate() {
        let mut stats = DecodeStats::default();
        let mut batch = back.try_recv().unwrap_or_default();
        batch.clear(file_no);
        let result = decode_file(path, opts, &mut stats, &mut batch, &tx, &back);
        let Ok(result) = result else { return };
        if !batch.records.is_empty() && tx.send(Decoded::Batch(batch)).is_err() {
            return;
        }
        let end = FileEnd {
            file_no,
            stats,
            result,
        };
        if tx.send(Decoded::FileEnd(end)).is_err() {
            return;
        }
    }
}

/// One file through the decoder. The outer error means the tracking stage is gone.
fn decode_file(
    path: &OsStr,
    opts: &ReadOptions,
    stats: &mut DecodeStats,
    batch: &mut SegBatch,
    tx: &handoff::Sender<Decoded>,
    back: &Receiver<SegBatch>,
) -> Result<Result<(), CaptureError>, ()> {
    let name = crate::command::read::display_name(path);
    let mut sink = Batcher {
        batch,
        tx,
        back,
        bad_notes: 0,
    };
    let read = for_each_packet(path, &name, opts, stats, &mut sink);
    if sink.bad_notes > 0 {
        // As the one-thread reader says it.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "rsthound: {name}: {} kernel note(s) in packet comments could not be read; their RSTs are shown without them",
            sink.bad_notes
        );
    }
    read
}

/// The decoding stage's sink: records into the batch, and each full batch to the tracker.
struct Batcher<'a> {
    batch: &'a mut SegBatch,
    tx: &'a handoff::Sender<Decoded>,
    back: &'a Receiver<SegBatch>,
    /// `rsthound-kernel:` comments that could not be read (their RSTs are shown without).
    bad_notes: u64,
}

impl Batcher<'_> {
    /// Keeps the kernel's note an RST's packet comment carries (a capture `watch --write`
    /// made); only RSTs have one. Out of line: most packets have no comment.
    #[inline(never)]
    fn note(&mut self, frame: u64, json: &[u8]) {
        match parse_kernel_note(json) {
            Ok(note) => self.batch.notes.push((frame, note)),
            Err(_) => self.bad_notes += 1,
        }
    }

    /// Sends the batch when full. The error means the tracking stage is gone.
    #[inline(always)]
    fn sent_if_full(&mut self) -> Result<(), ()> {
        if self.batch.records.len() < BATCH {
            return Ok(());
        }
        self.send()
    }

    /// Sends the full batch, and starts the next one. Kept out of line: the check above is
    /// made for every segment, this once a batch.
    #[inline(never)]
    fn send(&mut self) -> Result<(), ()> {
        let file_no = self.batch.file_no;
        // A batch the tracker emptied, else a new one while the first few are in flight.
        let next = self.back.try_recv().unwrap_or_default();
        let full = std::mem::replace(self.batch, next);
        self.batch.clear(file_no);
        self.tx.send(Decoded::Batch(full)).map_err(drop)
    }
}

impl PacketSink for Batcher<'_> {
    type Stop = ();

    fn packet(&mut self, frame: u64, packet: &Packet<'_>, outcome: &Outcome<'_>) -> Result<(), ()> {
        let Outcome::Tcp(seg) = outcome else {
            return Ok(());
        };
        let key = SegKey::of(packet.iface as u32, seg);
        if let Some(json) = packet.kernel_note
            && seg.flags.rst()
        {
            self.note(frame, json);
        }
        self.batch.push(packet, frame, key, &SegView::of(seg));
        self.sent_if_full()
    }

    #[inline(always)]
    fn tcp4(&mut self, frame: u64, packet: &Packet<'_>, seg: &Tcp4<'_>) -> Result<(), ()> {
        let key = SegKey::of_v4(packet.iface as u32, seg);
        if let Some(json) = packet.kernel_note
            && seg.flags.rst()
        {
            self.note(frame, json);
        }
        self.batch.push(packet, frame, key, &SegView::of_v4(seg));
        self.sent_if_full()
    }
}

/// Feeds every batch to the tracker in order and sends on the events of each, then ends the
/// remaining connections. Stops when the report stage is gone.
fn track_stage(
    mut tracker: Tracker,
    rx: handoff::Receiver<Decoded>,
    batch_back: SyncSender<SegBatch>,
    tx: SyncSender<Tracked>,
    events_back: Receiver<Returned>,
) -> Tracker {
    let mut out = EventSender {
        tx: &tx,
        back: &events_back,
        notes: VecDeque::new(),
    };
    let mut next = rx.recv();
    while let Some(msg) = next.take() {
        match msg {
            Decoded::Batch(mut batch) => {
                out.notes.extend(batch.notes.drain(..));
                batch.observe(&mut tracker);
                let file_no = Some(batch.file_no);
                // The decoder may be gone (it finished): then the batch is simply dropped.
                let _ = batch_back.try_send(batch);
                // Events wait in the tracker while the next batch of the same file is already
                // here, until there are a list's worth: each list sent wakes the report's
                // thread, and on a virtual machine a wake-up is an interrupt to the other CPU
                // (thousands of them a run, when every batch sent its few dozen events). A
                // batch not yet decoded, or a file's end, sends them at once.
                next = rx.try_recv();
                let same_file_waiting =
                    matches!(&next, Some(Decoded::Batch(b)) if Some(b.file_no) == file_no);
                if tracker.has_events()
                    && (!same_file_waiting || tracker.events_waiting() >= EVENTS_PER_LIST / 2)
                    && out.send(&mut tracker, file_no).is_err()
                {
                    return tracker;
                }
            }
            Decoded::FileEnd(end) => {
                // Its events are sent (a file's end sends them at once): frame numbers start
                // over with the next file.
                out.notes.clear();
                if tx.send(Tracked::FileEnd(end)).is_err() {
                    return tracker;
                }
            }
        }
        if next.is_none() {
            next = rx.recv();
        }
    }
    loop {
        let more = tracker.finish_some(FINISH_BATCH);
        if tracker.has_events() && out.send(&mut tracker, None).is_err() {
            return tracker;
        }
        if !more {
            return tracker;
        }
    }
}

/// What the report stage hands back: an emptied event list, and the boxes of the RST events it
/// is done with.
type Returned = (Vec<Event>, RstBoxes);

/// The tracking stage's side of the events channel.
struct EventSender<'a> {
    tx: &'a SyncSender<Tracked>,
    back: &'a Receiver<Returned>,
    /// Kernel notes of the current file's RSTs not yet given to their events, by frame.
    notes: VecDeque<(u64, KernelNote)>,
}

/// Gives each RST event the kernel's note its packet carried (by frame number: the tracker
/// makes the events of a file's segments in frame order). The report stage then treats it as
/// the one-thread reader treats a note handed in with the segment.
fn attach_notes(events: &mut [Event], notes: &mut VecDeque<(u64, KernelNote)>) {
    if notes.is_empty() {
        return;
    }
    for ev in events {
        let Event::Rst(r) = ev else { continue };
        // A note whose RST made no event (none is expected) is dropped on the way.
        while notes.front().is_some_and(|(f, _)| *f < r.frame) {
            notes.pop_front();
        }
        if notes.front().is_some_and(|(f, _)| *f == r.frame)
            && let Some((_, note)) = notes.pop_front()
        {
            r.kernel = Some(Box::new(note));
        }
    }
}

impl EventSender<'_> {
    /// Sends the tracker's events in lists of at most [`EVENTS_PER_LIST`]. The error means the
    /// report stage is gone.
    fn send(&mut self, tracker: &mut Tracker, file_no: Option<usize>) -> Result<(), ()> {
        let (mut events, spent) = self.spare(tracker);
        tracker.take_events(&mut events);
        attach_notes(&mut events, &mut self.notes);
        if events.len() <= EVENTS_PER_LIST {
            return self.send_list(file_no, events, spent);
        }
        // Each send waits while the lists in flight are full, so the rest waits here, in the
        // list the tracker made, and not in the channel.
        let mut rest = events.drain(..);
        let mut spent = Some(spent);
        while !rest.as_slice().is_empty() {
            let (mut list, more) = self.spare(tracker);
            list.extend(rest.by_ref().take(EVENTS_PER_LIST));
            self.send_list(file_no, list, spent.take().unwrap_or(more))?;
        }
        drop(rest);
        // The long list, emptied, is the tracker's next one (no larger than a spare).
        events.shrink_to(SPARE_EVENTS);
        tracker.take_events(&mut events);
        Ok(())
    }

    fn send_list(
        &self,
        file_no: Option<usize>,
        events: Vec<Event>,
        spent: RstBoxes,
    ) -> Result<(), ()> {
        self.tx
            .send(Tracked::Events {
                file_no,
                events,
                spent,
            })
            .map_err(drop)
    }

    /// A list the report stage emptied, with an empty vector for the next spent boxes; the
    /// boxes that came back with it go to `tracker`.
    fn spare(&self, tracker: &mut Tracker) -> Returned {
        let (events, mut spent) = self.back.try_recv().unwrap_or_default();
        tracker.recycle_rsts(&mut spent);
        (events, spent)
    }
}
