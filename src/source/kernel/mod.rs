//! The kernel's own view of TCP, from tracepoints read with plain `perf_event_open` (no eBPF):
//! every RST the stack sent and why (`tcp:tcp_send_reset`), RSTs local sockets received, socket
//! state changes (connect, failed connect, close), SYN-ACK retransmissions and packet drops with
//! a reason. Finds (or mounts) tracefs, parses each event's `format` file, opens one ring per CPU
//! with kernel-side filters, and hands out time-ordered records; [`KernelView`] adds process
//! attribution. What is unavailable (no privilege, no tracefs, an event or field this kernel
//! lacks, records lost) is said in typed [`Note`]s and counters, never silently.

pub mod format;
pub mod privilege;
pub mod procs;
pub mod record;

use crate::engine::attribution::{Attributed, Attribution, AttributionConfig, AttributionStats};
use crate::engine::kevent::{KernelEvent, TaskContext};
use crate::sys::perf::{self, Event, EventSpec, Ring, Wakeup};
use format::Format;
use procs::{ProcReader, ProcStats, ProcTable, Procfs};
use record::{Decoder, PerfRecord, Tracepoint};
use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;
use thiserror::Error;

/// Where tracefs lives (and is mounted when absent); the debugfs path is older kernels' home.
pub const TRACEFS: &str = "/sys/kernel/tracing";
const TRACEFS_DEBUGFS: &str = "/sys/kernel/debug/tracing";

/// Something about the kernel view the user should know: what is off, or what was done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// One line per missing capability, with the `setcap` hint.
    MissingCapability(String),
    /// tracefs was not mounted; it was mounted here.
    TracefsMounted(PathBuf),
    /// No tracefs, and mounting it failed.
    NoTracefs(String),
    /// tracefs is there but this process may not read it.
    TracefsUnreadable(String),
    /// This kernel has no such tracepoint (or its format was unreadable).
    TracepointMissing { path: &'static str, error: String },
    /// A field this kernel's event lacks, and what is lost without it.
    FieldMissing {
        path: &'static str,
        field: &'static str,
        consequence: &'static str,
    },
    /// The kernel refused the filter: the event is read unfiltered (more records).
    Unfiltered { path: &'static str, error: String },
    /// Opening an event failed on a CPU.
    OpenFailed {
        path: &'static str,
        cpu: i32,
        error: String,
    },
    /// The kernel refused CLOCK_REALTIME: sample times are CLOCK_MONOTONIC shifted by the
    /// offset at start.
    MonotonicClock,
}

impl Note {
    /// Whether this note means part of the kernel view is off.
    pub fn is_off(&self) -> bool {
        !matches!(self, Note::TracefsMounted(_) | Note::MonotonicClock)
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::MissingCapability(line) => f.write_str(line),
            Note::TracefsMounted(p) => write!(f, "mounted tracefs at {}", p.display()),
            Note::NoTracefs(e) => write!(
                f,
                "kernel events off: tracefs is not mounted and mounting it at {TRACEFS} failed: {e}"
            ),
            Note::TracefsUnreadable(e) => write!(f, "kernel events off: tracefs not readable: {e}"),
            Note::TracepointMissing { path, error } if path.starts_with("syscalls/") => write!(
                f,
                "kernel event {path} unavailable ({error}): connect() errors per process (EADDRNOTAVAIL, ECONNREFUSED, …) are not reported; system call tracepoints need a kernel built with CONFIG_FTRACE_SYSCALLS"
            ),
            Note::TracepointMissing { path, error } => {
                write!(f, "kernel event {path} unavailable: {error}")
            }
            Note::FieldMissing {
                path,
                field,
                consequence,
            } => write!(
                f,
                "kernel event {path} has no `{field}` field on this kernel: {consequence}"
            ),
            Note::Unfiltered { path, error } => write!(
                f,
                "kernel event {path}: the kernel refused its filter ({error}); reading it unfiltered"
            ),
            Note::OpenFailed { path, cpu, error } => {
                write!(f, "kernel event {path} not opened on CPU {cpu}: {error}")
            }
            Note::MonotonicClock => f.write_str(
                "kernel event times are CLOCK_MONOTONIC shifted to wall-clock time at start (this kernel refuses CLOCK_REALTIME for tracepoints)",
            ),
        }
    }
}

/// What a missing field costs.
fn consequence(tp: Tracepoint, field: &str) -> &'static str {
    match (tp, field) {
        (Tracepoint::SendReset, "reason") => {
            "RSTs carry no reason (added in 6.10), and RSTs sent for no socket (refused connections) are not reported by this event"
        }
        (Tracepoint::KfreeSkb, "reason") => "drops carry no reason (added in 5.17)",
        _ => "addresses are not decoded",
    }
}

/// A time-ordered record from the rings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelRecord {
    Event(KernelEvent),
    /// A task got a name (raw bytes: sanitized by whoever shows them).
    Comm {
        pid: u32,
        tid: u32,
        comm: Vec<u8>,
        exec: bool,
        time_ns: u64,
    },
    Fork {
        pid: u32,
        ppid: u32,
        tid: u32,
        time_ns: u64,
    },
    Exit {
        pid: u32,
        tid: u32,
        time_ns: u64,
    },
}

impl KernelRecord {
    fn shift_time(&mut self, by: i64) {
        let t = match self {
            KernelRecord::Event(e) => &mut e.ctx.time_ns,
            KernelRecord::Comm { time_ns, .. }
            | KernelRecord::Fork { time_ns, .. }
            | KernelRecord::Exit { time_ns, .. } => time_ns,
        };
        *t = t.saturating_add_signed(by);
    }

    /// Nanoseconds since the Unix epoch (wall clock).
    pub fn time_ns(&self) -> u64 {
        match self {
            KernelRecord::Event(e) => e.ctx.time_ns,
            KernelRecord::Comm { time_ns, .. }
            | KernelRecord::Fork { time_ns, .. }
            | KernelRecord::Exit { time_ns, .. } => *time_ns,
        }
    }
}

/// Counters of a source, shown with the output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SourceStats {
    /// Records the kernel dropped because a ring was full (PERF_RECORD_LOST).
    pub lost_records: u64,
    /// Records that did not decode (short, unknown event) or ring headers that made no sense.
    pub bad_records: u64,
    pub events: u64,
}

/// A source of kernel records. The real one reads perf rings; [`FakeSource`] replays.
pub trait KernelEventSource {
    /// Waits up to `timeout` for records and appends what arrived, oldest first.
    fn poll(&mut self, timeout: Duration, out: &mut Vec<KernelRecord>) -> io::Result<()>;
    fn stats(&self) -> SourceStats;
    /// Descriptors that become readable when records wait, for a caller's own poll loop.
    fn fds(&self) -> Vec<RawFd>;
}

/// Replays records given to it; for tests of what consumes a source.
#[derive(Debug, Default)]
pub struct FakeSource {
    pub queue: VecDeque<Vec<KernelRecord>>,
    pub stats: SourceStats,
}

impl KernelEventSource for FakeSource {
    fn poll(&mut self, _timeout: Duration, out: &mut Vec<KernelRecord>) -> io::Result<()> {
        if let Some(batch) = self.queue.pop_front() {
            self.stats.events += batch.len() as u64;
            out.extend(batch);
        }
        Ok(())
    }

    fn stats(&self) -> SourceStats {
        self.stats
    }

    fn fds(&self) -> Vec<RawFd> {
        Vec::new()
    }
}

/// What to open.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    pub tracepoints: Vec<Tracepoint>,
    /// Data pages per CPU ring (a power of two).
    pub ring_pages: usize,
    /// Wake a poller when this many bytes wait (1 = every record: lowest latency).
    pub wakeup_bytes: u32,
    /// Follow exec/fork/exit (COMM/FORK/EXIT records) to name short-lived processes.
    pub track_tasks: bool,
    /// The binary named in the `setcap` hint.
    pub binary: String,
}

impl Default for SourceConfig {
    fn default() -> Self {
        SourceConfig {
            tracepoints: Tracepoint::ALL.to_vec(),
            ring_pages: 64,
            wakeup_bytes: 1,
            track_tasks: true,
            binary: std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| "rsthound".into()),
        }
    }
}

/// Why the source did not open at all; the notes say what is off.
#[derive(Debug, Error)]
#[error("{}", .notes.iter().filter(|n| n.is_off()).map(|n| n.to_string()).collect::<Vec<_>>().join("; "))]
pub struct OpenError {
    pub notes: Vec<Note>,
}

/// Finds tracefs, mounting it at [`TRACEFS`] when absent.
pub fn locate_tracefs(notes: &mut Vec<Note>) -> Result<PathBuf, Note> {
    for p in [TRACEFS, TRACEFS_DEBUGFS] {
        match std::fs::metadata(Path::new(p).join("events")) {
            Ok(m) if m.is_dir() => return Ok(PathBuf::from(p)),
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                return Err(Note::TracefsUnreadable(format!("{p}: {e}")));
            }
            _ => {}
        }
    }
    let target = Path::new(TRACEFS);
    match perf::mount_tracefs(target) {
        Ok(()) if target.join("events").is_dir() => {
            notes.push(Note::TracefsMounted(target.to_path_buf()));
            Ok(target.to_path_buf())
        }
        Ok(()) => Err(Note::NoTracefs("mounted, but it has no events/".into())),
        Err(e) => Err(Note::NoTracefs(e.to_string())),
    }
}

/// The ftrace filter for an event, built from the names in its format (never numbers).
fn filter_for(tp: Tracepoint, f: &Format, send_reset_has_reason: bool) -> Option<String> {
    match tp {
        Tracepoint::SetState => {
            let close = f.table("oldstate")?.value("TCP_CLOSE")?;
            let tcp = f.table("protocol").and_then(|t| t.value("IPPROTO_TCP"));
            let states = format!("(oldstate == {close} || newstate == {close})");
            Some(match tcp {
                Some(tcp) => format!("protocol == {tcp} && {states}"),
                None => states,
            })
        }
        Tracepoint::KfreeSkb => {
            let t = f.table("reason")?;
            let mut names = vec!["TCP_LISTEN_OVERFLOW"];
            // Without send_reset's reason, kfree_skb's NO_SOCKET is what shows refused SYNs.
            if !send_reset_has_reason {
                names.push("NO_SOCKET");
            }
            let parts: Vec<String> = names
                .iter()
                .filter_map(|n| t.value(n))
                .map(|v| format!("reason == {v}"))
                .collect();
            (!parts.is_empty()).then(|| parts.join(" || "))
        }
        // Successful connects, non-blocking ones under way and errors not counted cost
        // nothing: the kernel drops their records before writing them.
        Tracepoint::ExitConnect => f.field("ret").map(|_| {
            crate::engine::kevent::CONNECT_ERRNOS
                .iter()
                .map(|e| format!("ret == -{e}"))
                .collect::<Vec<_>>()
                .join(" || ")
        }),
        _ => None,
    }
}

/// The real source: tracepoints on perf rings, one ring per CPU.
pub struct Tracepoints {
    decoder: Decoder,
    /// Every event opened (kept open); the first of each CPU owns the ring.
    events: Vec<Event>,
    rings: Vec<Ring>,
    /// The descriptor of each ring's owner (what polls readable for it).
    ring_fds: Vec<RawFd>,
    /// Room for a record split by the ring's wrap.
    buf: Vec<u8>,
    stats: SourceStats,
    notes: Vec<Note>,
    /// Added to sample and task-record times to make them wall-clock nanoseconds.
    time_shift_ns: i64,
}

impl Tracepoints {
    /// Opens and enables the tracepoints. Succeeds when at least one event opened; the notes
    /// ([`Tracepoints::notes`]) say what is off.
    pub fn open(cfg: &SourceConfig) -> Result<Tracepoints, OpenError> {
        let mut notes: Vec<Note> = privilege::check_kernel_events(Path::new(TRACEFS), &cfg.binary)
            .into_iter()
            .map(Note::MissingCapability)
            .collect();
        if !notes.is_empty() {
            return Err(OpenError { notes });
        }
        let root = match locate_tracefs(&mut notes) {
            Ok(r) => r,
            Err(n) => {
                notes.push(n);
                return Err(OpenError { notes });
            }
        };
        let mut decoder = Decoder::new();
        let mut formats = Vec::new();
        for &tp in &cfg.tracepoints {
            let path = root.join("events").join(tp.path()).join("format");
            let parsed = std::fs::read_to_string(&path)
                .map_err(|e| e.to_string())
                .and_then(|t| format::parse(&t).map_err(|e| e.to_string()));
            let f = match parsed {
                Ok(f) => f,
                Err(error) => {
                    notes.push(Note::TracepointMissing {
                        path: tp.path(),
                        error,
                    });
                    continue;
                }
            };
            match decoder.add(tp, &f) {
                Ok(missing) => {
                    for m in missing {
                        notes.push(Note::FieldMissing {
                            path: tp.path(),
                            field: m.field,
                            consequence: consequence(tp, m.field),
                        });
                    }
                    formats.push((tp, f));
                }
                Err(e) => notes.push(Note::TracepointMissing {
                    path: tp.path(),
                    error: e.to_string(),
                }),
            }
        }
        let reason_ok = formats
            .iter()
            .any(|(tp, f)| *tp == Tracepoint::SendReset && f.table("reason").is_some());
        // kfree_skb fires for every dropped packet on the host: read it filtered or not at all.
        formats.retain(|(tp, f)| {
            let keep = *tp != Tracepoint::KfreeSkb || filter_for(*tp, f, reason_ok).is_some();
            if !keep {
                notes.push(Note::TracepointMissing {
                    path: tp.path(),
                    error: "none of the drop reasons it is read for (TCP_LISTEN_OVERFLOW) exists on this kernel".into(),
                });
            }
            keep
        });
        let mut clock = libc::CLOCK_REALTIME;
        let mut events = Vec::new();
        let mut rings = Vec::new();
        let mut ring_fds = Vec::new();
        for cpu in perf::online_cpus() {
            let mut ring_owner: Option<usize> = None;
            for (tp, f) in &formats {
                let spec = |clock| EventSpec {
                    id: u64::from(f.id),
                    cpu,
                    wakeup: Wakeup::Bytes(cfg.wakeup_bytes),
                    track_tasks: cfg.track_tasks && ring_owner.is_none(),
                    clock,
                };
                let ev = match Event::open(&spec(clock)) {
                    Err(e)
                        if e.raw_os_error() == Some(libc::EINVAL)
                            && clock != libc::CLOCK_MONOTONIC =>
                    {
                        // Some kernels refuse a non-NMI-safe clock for this PMU.
                        clock = libc::CLOCK_MONOTONIC;
                        notes.push(Note::MonotonicClock);
                        Event::open(&spec(clock))
                    }
                    r => r,
                };
                let ev = match ev {
                    Ok(ev) => ev,
                    Err(e) => {
                        let denied = matches!(e.raw_os_error(), Some(libc::EACCES | libc::EPERM));
                        notes.push(Note::OpenFailed {
                            path: tp.path(),
                            cpu,
                            error: e.to_string(),
                        });
                        if denied {
                            notes.extend(
                                privilege::missing_for_kernel_events(0, false, &cfg.binary)
                                    .into_iter()
                                    .map(Note::MissingCapability),
                            );
                            return Err(OpenError { notes });
                        }
                        continue;
                    }
                };
                if let Some(filter) = filter_for(*tp, f, reason_ok)
                    && let Err(e) = ev.set_filter(&filter)
                    && !notes
                        .iter()
                        .any(|n| matches!(n, Note::Unfiltered { path, .. } if *path == tp.path()))
                {
                    notes.push(Note::Unfiltered {
                        path: tp.path(),
                        error: e.to_string(),
                    });
                }
                match ring_owner {
                    None => match Ring::map(&ev, cfg.ring_pages) {
                        Ok(r) => {
                            rings.push(r);
                            ring_fds.push(ev.raw_fd());
                            ring_owner = Some(events.len());
                        }
                        Err(e) => {
                            notes.push(Note::OpenFailed {
                                path: tp.path(),
                                cpu,
                                error: format!("mmap: {e}"),
                            });
                            continue;
                        }
                    },
                    Some(owner) => {
                        if let Err(e) = ev.output_to(&events[owner]) {
                            notes.push(Note::OpenFailed {
                                path: tp.path(),
                                cpu,
                                error: format!("sharing the ring: {e}"),
                            });
                            continue;
                        }
                    }
                }
                events.push(ev);
            }
        }
        if events.is_empty() {
            return Err(OpenError { notes });
        }
        for ev in &events {
            if let Err(e) = ev.enable() {
                notes.push(Note::OpenFailed {
                    path: "(enable)",
                    cpu: -1,
                    error: e.to_string(),
                });
            }
        }
        Ok(Tracepoints {
            decoder,
            events,
            rings,
            ring_fds,
            buf: Vec::new(),
            stats: SourceStats::default(),
            notes,
            time_shift_ns: if clock == libc::CLOCK_REALTIME {
                0
            } else {
                perf::realtime_minus_monotonic_ns()
            },
        })
    }

    pub fn notes(&self) -> &[Note] {
        &self.notes
    }

    /// Whether any ring holds records not yet read (shared memory only: no system call).
    pub fn pending(&self) -> bool {
        self.rings.iter().any(|r| r.pending() != 0)
    }

    /// Stops the kernel writing records (they stay readable).
    pub fn disable(&self) {
        for ev in &self.events {
            let _ = ev.disable();
        }
    }

    /// Reads every ring once, without waiting.
    fn drain(&mut self, out: &mut Vec<KernelRecord>) {
        let Tracepoints {
            decoder,
            rings,
            buf,
            stats,
            ..
        } = self;
        let start = out.len();
        for ring in rings.iter_mut() {
            // Decoded where the kernel wrote it, straight into `out`: no copy of the ring,
            // and no list in between.
            let read = ring.for_each_record(buf, &mut |bytes| {
                take_record(decoder, stats, out, bytes);
            });
            stats.bad_records += read.corrupt as u64;
        }
        // Rings are per CPU: merge them into one timeline (a task's exec on one CPU precedes
        // its connect on another). Each ring is in time order already, so most batches need
        // no sort at all (one ring had records), and the rest are a merge of sorted runs.
        let new = &mut out[start..];
        if !new.is_sorted_by_key(KernelRecord::time_ns) {
            new.sort_by_key(KernelRecord::time_ns);
        }
        if self.time_shift_ns != 0 {
            for r in new {
                r.shift_time(self.time_shift_ns);
            }
        }
    }
}

/// Frames and decodes one ring record into `batch`, counting what does not decode.
fn take_record(
    decoder: &Decoder,
    stats: &mut SourceStats,
    batch: &mut Vec<KernelRecord>,
    bytes: &[u8],
) {
    match record::parse_perf_record(bytes) {
        Ok(PerfRecord::Sample {
            pid,
            tid,
            time_ns,
            cpu,
            raw,
        }) => {
            let ctx = TaskContext {
                pid,
                tid,
                time_ns,
                cpu,
                in_irq: false,
            };
            match decoder.decode(ctx, raw) {
                Ok(ev) => {
                    stats.events += 1;
                    batch.push(KernelRecord::Event(ev));
                }
                Err(_) => stats.bad_records += 1,
            }
        }
        Ok(PerfRecord::Comm {
            pid,
            tid,
            comm,
            exec,
            time_ns,
        }) => batch.push(KernelRecord::Comm {
            pid,
            tid,
            comm: comm.to_vec(),
            exec,
            time_ns,
        }),
        Ok(PerfRecord::Fork {
            pid,
            ppid,
            tid,
            time_ns,
        }) => batch.push(KernelRecord::Fork {
            pid,
            ppid,
            tid,
            time_ns,
        }),
        Ok(PerfRecord::Exit { pid, tid, time_ns }) => {
            batch.push(KernelRecord::Exit { pid, tid, time_ns })
        }
        Ok(PerfRecord::Lost { lost }) => stats.lost_records += lost,
        Ok(PerfRecord::Other { .. }) => {}
        Err(_) => stats.bad_records += 1,
    }
}

impl KernelEventSource for Tracepoints {
    fn poll(&mut self, timeout: Duration, out: &mut Vec<KernelRecord>) -> io::Result<()> {
        // A caller that only drains (a zero timeout) needs no system call: the rings are
        // read from shared memory.
        if !timeout.is_zero() && self.rings.iter().all(|r| r.pending() == 0) {
            let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
            perf::poll_readable(&self.fds(), ms)?;
        }
        self.drain(out);
        Ok(())
    }

    fn stats(&self) -> SourceStats {
        self.stats
    }

    fn fds(&self) -> Vec<RawFd> {
        self.ring_fds.clone()
    }
}

/// Counters of the whole kernel view.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KernelStats {
    pub source: SourceStats,
    pub procs: ProcStats,
    pub attribution: AttributionStats,
}

/// A source with process attribution: what `watch` polls.
pub struct KernelView<S, R> {
    pub source: S,
    procs: ProcTable<R>,
    attribution: Attribution,
    records: Vec<KernelRecord>,
}

/// Processes remembered at once.
pub const MAX_PROCS: usize = 16_384;

impl KernelView<Tracepoints, Procfs> {
    /// Opens the real source with procfs lookups.
    pub fn open(cfg: &SourceConfig) -> Result<Self, OpenError> {
        Ok(KernelView::new(
            Tracepoints::open(cfg)?,
            Procfs::default(),
            AttributionConfig::default(),
        ))
    }

    pub fn notes(&self) -> &[Note] {
        self.source.notes()
    }
}

impl<S: KernelEventSource, R: ProcReader> KernelView<S, R> {
    pub fn new(source: S, reader: R, cfg: AttributionConfig) -> Self {
        KernelView {
            source,
            procs: ProcTable::new(reader, MAX_PROCS),
            attribution: Attribution::new(cfg),
            records: Vec::new(),
        }
    }

    /// Waits up to `timeout`, then appends every event that arrived, attributed, oldest first.
    pub fn poll(&mut self, timeout: Duration, out: &mut Vec<Attributed>) -> io::Result<()> {
        self.poll_each(timeout, &mut |a| out.push(a))
    }

    /// [`KernelView::poll`], handing each event to `each` as it is attributed (nothing is
    /// collected: at tens of thousands of events a second, moving each through one more list
    /// costs as much as using it).
    pub fn poll_each(
        &mut self,
        timeout: Duration,
        each: &mut dyn FnMut(Attributed),
    ) -> io::Result<()> {
        self.source.poll(timeout, &mut self.records)?;
        for r in self.records.drain(..) {
            match r {
                KernelRecord::Comm {
                    pid,
                    tid,
                    comm,
                    exec,
                    ..
                } => self.procs.on_comm(pid, tid, &comm, exec),
                KernelRecord::Fork { pid, ppid, tid, .. } => self.procs.on_fork(pid, ppid, tid),
                KernelRecord::Exit { pid, tid, .. } => self.procs.on_exit(pid, tid),
                KernelRecord::Event(ev) => {
                    let procs = &mut self.procs;
                    each(
                        self.attribution
                            .observe(ev, &mut |c: &TaskContext| procs.resolve(c.pid)),
                    );
                }
            }
        }
        Ok(())
    }

    pub fn stats(&self) -> KernelStats {
        KernelStats {
            source: self.source.stats(),
            procs: self.procs.stats(),
            attribution: self.attribution.stats(),
        }
    }

    /// Descriptors to add to a caller's poll loop.
    pub fn fds(&self) -> Vec<RawFd> {
        self.source.fds()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::kevent::{EventKind, Process, SendReset, SetState, TcpState};

    struct NoProcs;
    impl ProcReader for NoProcs {
        fn read(&mut self, _pid: u32) -> Option<Process> {
            None
        }
    }

    #[test]
    fn a_view_names_a_client_from_its_exec_record_alone() {
        let ctx = |t, in_irq| TaskContext {
            pid: 321,
            tid: 321,
            time_ns: t,
            cpu: 1,
            in_irq,
        };
        let mut fake = FakeSource::default();
        fake.queue.push_back(vec![
            KernelRecord::Fork {
                pid: 321,
                ppid: 1,
                tid: 321,
                time_ns: 1,
            },
            KernelRecord::Comm {
                pid: 321,
                tid: 321,
                comm: b"collectord".to_vec(),
                exec: true,
                time_ns: 2,
            },
            KernelRecord::Event(KernelEvent {
                ctx: ctx(3, false),
                kind: EventKind::SetState(SetState {
                    skaddr: 5,
                    old: TcpState::CLOSE,
                    new: TcpState::SYN_SENT,
                    protocol: 6,
                    local: Some("127.0.0.1:0".parse().unwrap()),
                    remote: Some("127.0.0.1:7211".parse().unwrap()),
                }),
            }),
            KernelRecord::Event(KernelEvent {
                ctx: ctx(4, true),
                kind: EventKind::SendReset(SendReset {
                    skaddr: 0,
                    state: None,
                    reason: Some("NO_SOCKET".into()),
                    src: Some("127.0.0.1:7211".parse().unwrap()),
                    dst: Some("127.0.0.1:40000".parse().unwrap()),
                }),
            }),
            KernelRecord::Exit {
                pid: 321,
                tid: 321,
                time_ns: 5,
            },
        ]);
        let mut view = KernelView::new(fake, NoProcs, AttributionConfig::default());
        let mut out = Vec::new();
        view.poll(Duration::ZERO, &mut out).unwrap();
        assert_eq!(out.len(), 2);
        let (who, _) = out[1].client.as_ref().unwrap();
        assert_eq!((who.pid, who.comm.as_str()), (321, "collectord"));
        assert_eq!(view.stats().source.events, 5);
    }

    #[test]
    fn filters_are_built_from_names() {
        let fix = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/tracepoints/6.18"
        );
        let f = |n: &str| {
            format::parse(&std::fs::read_to_string(format!("{fix}/{n}.format")).unwrap()).unwrap()
        };
        assert_eq!(
            filter_for(Tracepoint::SetState, &f("inet_sock_set_state"), true).as_deref(),
            Some("protocol == 6 && (oldstate == 7 || newstate == 7)")
        );
        assert_eq!(
            filter_for(Tracepoint::KfreeSkb, &f("kfree_skb"), true).as_deref(),
            Some("reason == 40")
        );
        assert_eq!(
            filter_for(Tracepoint::KfreeSkb, &f("kfree_skb"), false).as_deref(),
            Some("reason == 40 || reason == 3")
        );
        assert_eq!(
            filter_for(Tracepoint::SendReset, &f("tcp_send_reset"), true),
            None
        );
        let connect = filter_for(Tracepoint::ExitConnect, &f("sys_exit_connect"), true).unwrap();
        assert!(
            connect.starts_with("ret == -1 || ret == -13 || "),
            "{connect}"
        );
        assert!(
            connect.contains("ret == -99") && !connect.contains("-115"),
            "{connect}"
        );
    }
}
