//! `rsthound watch`: RSTs and failed connections as they happen, on every interface of a
//! network namespace at once (loopback and interfaces created later included), through the
//! same tracker, verdicts and report as `read`.
//!
//! [`start`] does the privileged part (enter the namespace, open the packet socket, drop
//! capabilities); [`watch`] is the loop, generic over its sources so that tests can drive it
//! with fakes and a fake clock.

use crate::engine::attribution::Attributed;
use crate::engine::counters::{self, CaptureSeen, CounterSample};
use crate::engine::decode::{Outcome, decode};
use crate::engine::fusion::{KernelFacts, PastListener};
use crate::engine::kevent::{EventKind, TcpState};
use crate::engine::listeners::{
    HISTORY_CAP, ListenerHistory, ListenerKey, Owner, Until, attribute_overflow,
};
use crate::engine::services::Services;
use crate::engine::summary::{CountersOverRun, KernelSummary, ListenersOverRun, RunSummary};
use crate::engine::track::Verdict;
use crate::engine::track::{SegMeta, TrackerConfig};
use crate::engine::{Engine, Place, Setup};
use crate::model::Origin;
use crate::model::timestamp::Timestamp;
use crate::model::{Direction, LinkType};
use crate::sanitize::sanitize_text;
use crate::sink::json::write_record;
use crate::sink::pcapng::PcapngSink;
use crate::sink::schema::{DropsRecord, InterfaceRecord};
use crate::sink::{Lines, Output};
use crate::source::counters::{CounterError, CounterSource};
use crate::source::kernel::procs::{ProcReader, Procfs};
use crate::source::kernel::{KernelEventSource, KernelView, Note, SourceConfig, Tracepoints};
use crate::source::live::filter::{self, SNAPLEN};
use crate::source::live::ifaces::{Change, Interfaces};
use crate::source::live::ring::{Frame, PACKET_OUTGOING};
use crate::source::live::{FrameSource, InterfaceSource, RingSource};
use crate::source::sockets::{
    NetlinkSockets, Snapshot as SocketSnapshot, SocketSource, SourceError as SocketError,
};
use crate::sys::packet::{PacketRing, RingConfig};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

const ARPHRD_ETHER: u16 = 1;
const ARPHRD_LOOPBACK: u16 = 772;
/// Ring block size; blocks are handed over when full or after [`RETIRE_MS`].
const BLOCK_SIZE: u32 = 1 << 20;
/// A quiet link's RSTs still show within this many milliseconds.
const RETIRE_MS: u32 = 50;
/// Housekeeping (interfaces, kernel statistics, idle connections) runs this often.
const TICK_NS: i64 = 1_000_000_000;
/// An unknown interface index triggers a re-read of the interface list at most this often.
const RELIST_MIN_NS: i64 = 100_000_000;

#[derive(Debug, Clone, Default)]
pub struct WatchOptions {
    pub json: bool,
    /// No banner, no summary.
    pub quiet: bool,
    /// `-i`: only these interfaces (by name); empty = all.
    pub interfaces: Vec<String>,
    /// Stop after this many seconds.
    pub duration: Option<f64>,
    /// Stop after this many RSTs and failed connections reported.
    pub count: Option<u64>,
    pub write: Option<std::path::PathBuf>,
    /// `--netns NAME|PATH|PID`.
    pub netns: Option<String>,
    pub max_conns: Option<usize>,
    pub services: Option<Services>,
    /// Ring size in MiB.
    pub buffer_mib: u32,
    /// Storm mode: RST lines per second per resetting endpoint and verdict (0: every RST).
    pub storm_limit: u32,
    /// Read the kernel's events (tracepoints) besides the packets.
    pub kernel_events: bool,
    /// `diagnose`: keep the typed tally of RSTs and failed attempts in the summary.
    pub tally: bool,
}

/// Why watching could not start, in words a user can act on.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartError(pub String);

/// Where `--netns` points: a name from `ip netns`, a path, or a process id.
pub fn netns_path(spec: &str) -> PathBuf {
    if !spec.is_empty() && spec.bytes().all(|b| b.is_ascii_digit()) {
        PathBuf::from(format!("/proc/{spec}/ns/net"))
    } else if spec.contains('/') {
        PathBuf::from(spec)
    } else {
        PathBuf::from(format!("/run/netns/{spec}"))
    }
}

fn exe_path() -> String {
    std::env::current_exe()
        .map(|p| sanitize_text(p.to_string_lossy().as_bytes(), 256))
        .unwrap_or_else(|_| "$(command -v rsthound)".to_string())
}

/// What [`start`] opened.
pub struct Started {
    pub ring: RingSource,
    /// The namespace's listening sockets, read before the capabilities were dropped.
    pub listeners: Result<SocketSnapshot, SocketError>,
    /// The kernel's events, when they could be opened (`None`: packets alone, and the
    /// warnings say why).
    pub kernel: Option<OpenedKernel>,
    /// Lines worth printing: what is off, what was done.
    pub warnings: Vec<String>,
}

/// Enters the namespace, opens the ring and the kernel events, and drops every capability.
pub fn start(opts: &WatchOptions) -> Result<Started, StartError> {
    let mut warnings = Vec::new();
    if let Some(spec) = &opts.netns {
        let path = netns_path(spec);
        let shown = sanitize_text(path.to_string_lossy().as_bytes(), 256);
        if let Err(e) = crate::sys::netns::enter(&path) {
            let hint = match e.kind() {
                io::ErrorKind::NotFound => {
                    " (`ip netns list` shows the names; a PID or a path like /proc/PID/ns/net also works)"
                        .to_string()
                }
                io::ErrorKind::PermissionDenied => format!(
                    ": entering another network namespace needs CAP_SYS_ADMIN: run as root, or sudo setcap cap_net_raw,cap_sys_admin+ep {}",
                    exe_path()
                ),
                _ => String::new(),
            };
            return Err(StartError(format!(
                "cannot enter network namespace {shown}: {e}{hint}"
            )));
        }
    }
    let mib = opts.buffer_mib.clamp(1, 4096);
    let cfg = RingConfig {
        block_size: BLOCK_SIZE,
        block_count: mib,
        retire_ms: RETIRE_MS,
    };
    let ring = PacketRing::open(&cfg, &filter::syn_fin_rst()).map_err(|e| {
        if matches!(
            e.error.raw_os_error(),
            Some(libc::EPERM) | Some(libc::EACCES)
        ) {
            StartError(format!(
                "cannot open a packet socket ({}: {}): capturing needs the CAP_NET_RAW capability. Run as root (sudo rsthound watch), or grant it once: sudo setcap cap_net_raw+ep {}",
                e.step,
                e.error,
                exe_path()
            ))
        } else {
            StartError(format!("cannot start capturing: {}: {}", e.step, e.error))
        }
    })?;
    let kernel = if opts.kernel_events {
        match OpenedKernel::open() {
            Ok((k, notes)) => {
                warnings.extend(notes);
                Some(k)
            }
            Err(notes) => {
                warnings.extend(notes);
                warnings.push(
                    "kernel events off: RSTs are shown without the kernel's reason and processes"
                        .into(),
                );
                None
            }
        }
    } else {
        None
    };
    // Read while other processes' descriptors can still be read, to name every owner.
    let listeners = NetlinkSockets::new(None).snapshot();
    // From here on nothing needs a privilege: give them all up before parsing any packet.
    if let Err(e) = crate::sys::caps::drop_all() {
        warnings.push(format!("could not drop capabilities: {e}"));
    }
    Ok(Started {
        listeners,
        ring: RingSource::new(ring, mib as usize),
        kernel,
        warnings,
    })
}

/// The loop's view of time: wall-clock nanoseconds since the Unix epoch (the kernel stamps
/// packets with the same clock).
pub trait Clock {
    fn now_ns(&mut self) -> i64;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ns(&mut self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i64)
    }
}

/// Everything `watch` needs besides its sources.
pub struct Sinks<'a> {
    pub out: &'a mut dyn Write,
    pub err: &'a mut dyn Write,
}

struct Session<'o> {
    engine: Engine<Output<'o>>,
    ifaces: Interfaces,
    report: RunSummary,
    frame_no: u64,
    last_relist: i64,
    json: bool,
    /// `--count`: frames after the limit was reached (in the same ring block) are not shown.
    limit: Option<u64>,
    /// RSTs seen leaving this namespace's stack (on loopback, or outgoing), to compare with the
    /// stack's own OutRsts counter.
    rsts_leaving: u64,
    /// When the counters were first read (wall-clock ns): RSTs before it are not compared.
    counters_from_ns: i64,
}

impl Session<'_> {
    fn announce(&mut self, err: &mut dyn Write, changes: &[Change], now: i64) {
        for c in changes {
            let (what, index, name) = match c {
                Change::Appeared { index, name } => ("appeared", index, name),
                Change::Disappeared { index, name } => ("disappeared", index, name),
            };
            let watched = matches!(c, Change::Appeared { .. }) && self.ifaces.watched(*index);
            let _ = writeln!(
                err,
                "rsthound: interface {name} (index {index}) {what}{}",
                if watched {
                    ": watching it"
                } else if matches!(c, Change::Appeared { .. }) {
                    ": not watched (-i)"
                } else {
                    ""
                }
            );
            if self.json {
                let mut ts = String::new();
                Timestamp::from_nanos(now, 9).write_rfc3339(&mut ts);
                let record = InterfaceRecord {
                    change: what,
                    index: *index,
                    name,
                    ts,
                    kind: "interface",
                    watched,
                };
                let _ = write_record(&mut self.engine.sink.lines.buf().buf, &record);
            }
        }
    }

    fn frame(
        &mut self,
        f: &Frame<'_>,
        err: &mut dyn Write,
        lister: &mut dyn InterfaceSource,
        kernel: Option<&mut KernelState<'_>>,
    ) {
        if self.limit.is_some_and(|c| self.reported() >= c) {
            return;
        }
        self.report.stats.packets += 1;
        self.report.stats.bytes += f.data.len() as u64;
        let mut iface = self.ifaces.get(f.ifindex);
        if iface.is_none() && f.ts.nanos().saturating_sub(self.last_relist) >= RELIST_MIN_NS {
            // A packet from an interface we have not listed yet: it just appeared.
            self.last_relist = f.ts.nanos();
            if let Ok(list) = lister.list() {
                let changes = self.ifaces.update(&list);
                self.announce(err, &changes, f.ts.nanos());
            }
            iface = self.ifaces.get(f.ifindex);
        }
        if !self.ifaces.wants(iface) {
            self.report.other_interfaces += 1;
            return;
        }
        if f.pkttype == PACKET_OUTGOING && f.hatype == ARPHRD_LOOPBACK {
            self.report.loopback_copies += 1;
            return;
        }
        let (link_type, data) = match f.hatype {
            ARPHRD_ETHER | ARPHRD_LOOPBACK => (LinkType::ETHERNET, f.data),
            _ => (LinkType::RAW, &f.data[f.net_offset..]),
        };
        let outcome = decode(link_type, data);
        self.report.stats.count(&outcome);
        let Outcome::Tcp(seg) = &outcome else {
            return;
        };
        // Loopback's outgoing copies were dropped above: an RST seen on `lo` left this
        // namespace's stack, as does one going out of any other interface.
        let left_host = f.hatype == ARPHRD_LOOPBACK || f.pkttype == PACKET_OUTGOING;
        // Only RSTs sent after the counters' first sample are compared with them: the ring
        // was open before, and an RST in between is in the capture but not in the delta.
        if seg.flags.rst() && left_host && f.ts.nanos() >= self.counters_from_ns {
            self.rsts_leaving += 1;
        }
        let mut kernel = kernel;
        if left_host
            && seg.flags.syn()
            && !seg.flags.ack()
            && let Some(k) = kernel.as_mut()
        {
            // A connect() from this namespace: its failure, if it fails, is counted.
            k.facts.saw_syn(
                std::net::SocketAddr::new(seg.src, seg.sport),
                std::net::SocketAddr::new(seg.dst, seg.dport),
                f.ts.nanos().max(0) as u64,
            );
        }
        let note = match kernel {
            Some(k) if seg.flags.rst() => {
                let from = std::net::SocketAddr::new(seg.src, seg.sport);
                let to = std::net::SocketAddr::new(seg.dst, seg.dport);
                // Events recorded while this ring block filled are read now, unless the one
                // that explains this RST is already here: the loop drained the rings before
                // the block, and draining for every RST of a storm costs more than the rest of
                // its handling.
                if !(left_host && k.facts.has_reset(from, to, f.ts.nanos().max(0) as u64))
                    && k.feed.pending()
                {
                    k.drain();
                }
                let answers_syn = seg.flags.ack() && seg.seq == 0;
                let mut note = k.facts.note_for_rst(
                    from,
                    to,
                    left_host,
                    answers_syn,
                    f.ts.nanos().max(0) as u64,
                );
                if left_host {
                    note.past_listener = past_listener(&k.history, from);
                }
                if left_host
                    && note.origin == crate::engine::fusion::RstOrigin::Stack
                    && note.reason.as_deref() == Some("NO_SOCKET")
                {
                    // Looked up once per port at the end: scanning files and /proc has no
                    // place in the packet loop.
                    k.want_hints(from);
                }
                if let Some(l) = note.listener_reset.as_mut() {
                    l.abort_on_overflow = k.abort_on_overflow;
                    let found = k.history.lookup(from.ip(), from.port());
                    // A listener the snapshot saw (it has an inode) is certainly this
                    // namespace's; one known only from a LISTEN event may be another
                    // namespace's on the same address (the events are global).
                    l.owner = found
                        .listening
                        .iter()
                        .filter(|s| !s.owners.is_empty())
                        .max_by_key(|s| s.inode.is_some())
                        .and_then(|s| s.owners.first())
                        .map(|o| (o.comm.clone(), o.pid));
                }
                Some(note)
            }
            _ => None,
        };
        self.frame_no += 1;
        let name = iface.map(|i| &i.name);
        let meta = SegMeta {
            ts: f.ts,
            frame: self.frame_no,
            link_type,
            iface: f.ifindex,
            iface_name: name,
            direction: Some(if f.pkttype == PACKET_OUTGOING {
                Direction::Out
            } else {
                Direction::In
            }),
            ifindex: Some(f.ifindex),
        };
        let src = Origin {
            file: 0,
            iface: f.ifindex as usize,
            link_type,
            name: name.map(|n| &**n),
        };
        let packet = (&src, data, f.orig_len);
        let done = match note {
            Some(n) if n.is_informative() => {
                self.engine
                    .segment_noted(&meta, seg, packet, Place::default(), n)
            }
            _ => self.engine.segment(&meta, seg, packet, Place::default()),
        };
        if let Err(e) = done {
            self.output_error(e);
        }
    }

    fn output_error(&mut self, e: io::Error) {
        if e.kind() == io::ErrorKind::BrokenPipe {
            self.report.stopped_by_reader = true;
        } else if self.report.output_errors.is_empty() {
            self.report.output_errors.push(format!("<output>: {e}"));
        }
    }

    fn reported(&self) -> u64 {
        self.engine.report.rsts() + self.engine.unanswered
    }
}

/// Watches until `stop` is set, `--duration` passes, `--count` is reached or the output is
/// closed; then prints the summary's ingredients into the returned report.
/// The kernel's events as `watch` reads them: attributed to processes, drained without waiting.
pub trait KernelFeed {
    /// Hands every event that arrived since the last call to `each`, oldest first.
    fn drain(&mut self, each: &mut dyn FnMut(Attributed)) -> io::Result<()>;
    /// Whether records wait to be drained (a look at the rings, no system call).
    fn pending(&self) -> bool {
        true
    }
    /// Records the kernel lost so far (its rings were full).
    fn lost_records(&self) -> u64;
    /// Events read so far.
    fn events(&self) -> u64;
    /// Whether every RST the TCP stack sends is reported (`tcp_send_reset` with its reason,
    /// 6.10+): only then does a missing event prove an RST was forged.
    fn complete(&self) -> bool;
    /// Whether failed connect() calls are reported (`syscalls:sys_exit_connect`).
    fn watches_connect_errors(&self) -> bool {
        true
    }
    /// The watched network namespace's inode, when known.
    fn home_netns(&self) -> Option<u64> {
        None
    }
}

impl<S: KernelEventSource, R: ProcReader> KernelFeed for KernelView<S, R> {
    fn drain(&mut self, each: &mut dyn FnMut(Attributed)) -> io::Result<()> {
        self.poll_each(std::time::Duration::ZERO, each)
    }
    fn lost_records(&self) -> u64 {
        self.stats().source.lost_records
    }
    fn events(&self) -> u64 {
        self.stats().source.events
    }
    /// A view built by hand (a fake source in tests) is taken as complete; the real one is
    /// wrapped in [`OpenedKernel`], which knows from its notes whether it is.
    fn complete(&self) -> bool {
        true
    }
}

/// The real kernel view, with what the notes at opening said about it.
pub struct OpenedKernel {
    pub view: KernelView<Tracepoints, Procfs>,
    complete: bool,
    connect_errors: bool,
    /// `/proc/self/ns/net` when opened (inside the watched namespace).
    netns: Option<u64>,
}

impl OpenedKernel {
    /// Opens the tracepoints (before capabilities are dropped). `Err`: the lines saying what is
    /// off; `watch` runs on packets alone.
    pub fn open() -> Result<(OpenedKernel, Vec<String>), Vec<String>> {
        // watch drains the rings on every pass of its loop (at least every 200 ms, and every
        // ring block of packets): no wake-up per record is needed, and each wake-up costs the
        // task that fired the event. 4 MiB per CPU holds a storm of refused connections
        // (about 400 bytes of records each) between two passes.
        let cfg = SourceConfig {
            ring_pages: 1024,
            wakeup_bytes: 1 << 20,
            ..SourceConfig::default()
        };
        match KernelView::open(&cfg) {
            Ok(view) => {
                // Only what is off, or was done to the system, is worth a line.
                let notes: Vec<String> = view
                    .notes()
                    .iter()
                    .filter(|n| n.is_off() || matches!(n, Note::TracefsMounted(_)))
                    .map(|n| n.to_string())
                    .collect();
                let complete = !view.notes().iter().any(|n| match n {
                    Note::TracepointMissing { path, .. } => path.contains("tcp_send_reset"),
                    Note::FieldMissing { path, .. } => path.contains("tcp_send_reset"),
                    Note::OpenFailed { path, .. } => path.contains("tcp_send_reset"),
                    _ => false,
                });
                let connect_errors = !view.notes().iter().any(|n| match n {
                    Note::TracepointMissing { path, .. } | Note::OpenFailed { path, .. } => {
                        path.starts_with("syscalls/")
                    }
                    _ => false,
                });
                let netns = std::fs::read_link("/proc/self/ns/net").ok().and_then(|l| {
                    crate::source::kernel::procs::parse_ns_link(&l.to_string_lossy())
                });
                Ok((
                    OpenedKernel {
                        view,
                        complete,
                        connect_errors,
                        netns,
                    },
                    notes,
                ))
            }
            Err(e) => Err(e.notes.iter().map(|n| n.to_string()).collect()),
        }
    }
}

impl KernelFeed for OpenedKernel {
    fn drain(&mut self, each: &mut dyn FnMut(Attributed)) -> io::Result<()> {
        self.view.drain(each)
    }
    fn pending(&self) -> bool {
        self.view.source.pending()
    }
    fn watches_connect_errors(&self) -> bool {
        self.connect_errors
    }
    fn home_netns(&self) -> Option<u64> {
        self.netns
    }
    fn lost_records(&self) -> u64 {
        KernelFeed::lost_records(&self.view)
    }
    fn events(&self) -> u64 {
        KernelFeed::events(&self.view)
    }
    fn complete(&self) -> bool {
        self.complete
    }
}

/// The kernel feed during a run, and the facts gathered from it.
struct KernelState<'a> {
    feed: &'a mut dyn KernelFeed,
    facts: KernelFacts,
    /// Who listened where, from the first snapshot and LISTEN transitions.
    history: ListenerHistory,
    /// A read error, reported once.
    failed: Option<String>,
    /// `net.ipv4.tcp_abort_on_overflow` of the namespace at start: whether a listener's RST
    /// means its accept queue was full.
    abort_on_overflow: Option<u32>,
    /// Local endpoints the stack refused (NO_SOCKET), whose ports get hints at the end.
    hints_wanted: std::collections::BTreeSet<std::net::SocketAddr>,
    /// The watched namespace's sockets, asked whether a LISTEN transition happened there.
    sockets: Option<&'a mut dyn SocketSource>,
    /// LISTEN transitions read in one drain, waiting for that answer.
    listen_changes: Vec<ListenChange>,
    pub listen_seen: ListenConfirmations,
}

/// A socket entering or leaving LISTEN, as a tracepoint reported it.
struct ListenChange {
    at: Timestamp,
    key: ListenerKey,
    owner: Option<Owner>,
    pid: Option<u32>,
    listens: bool,
}

/// LISTEN transitions at most kept per drain; beyond, they are counted and left out.
const MAX_LISTEN_CHANGES: usize = 4096;

/// What became of the kernel's LISTEN transitions.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListenConfirmations {
    /// Not reflected in the watched namespace's sockets: they happened in another namespace
    /// (the tracepoints are global).
    pub elsewhere: u64,
    /// Taken without confirmation: the namespace's sockets could not be read.
    pub unconfirmed: u64,
    /// Beyond [`MAX_LISTEN_CHANGES`] in one drain.
    pub dropped: u64,
}

/// Refused ports whose hints are remembered; beyond, hints are not looked up (each lookup
/// scans files and /proc).
const MAX_HINTED_PORTS: usize = 256;

impl KernelState<'_> {
    /// Remembers a refused local endpoint for its port's hints (at most [`MAX_HINTED_PORTS`]).
    fn want_hints(&mut self, e: std::net::SocketAddr) {
        if self.hints_wanted.len() < MAX_HINTED_PORTS {
            self.hints_wanted.insert(e);
        }
    }

    /// Hints about what `port` was for (a bounded scan of files and /proc).
    fn port_hints(port: u16) -> Vec<String> {
        let found = crate::source::port_hints::hints_for(
            &crate::source::port_hints::HintPaths::default(),
            port,
        );
        let mut h = found.hints;
        if found.skipped > 0 {
            h.push(format!(
                "hint search for tcp/{port} cut short: {} files or processes not read (bounds)",
                found.skipped
            ));
        }
        h
    }
    fn drain(&mut self) {
        if self.failed.is_some() {
            return;
        }
        let (facts, changes, seen) = (
            &mut self.facts,
            &mut self.listen_changes,
            &mut self.listen_seen,
        );
        let done = self.feed.drain(&mut |a: Attributed| {
            facts.observe(&a);
            if let EventKind::SetState(st) = &a.event.kind
                && let Some(local) = st.local
                && (st.new == TcpState::LISTEN
                    || (st.old == TcpState::LISTEN && st.new == TcpState::CLOSE))
            {
                if changes.len() >= MAX_LISTEN_CHANGES {
                    seen.dropped += 1;
                    return;
                }
                let listens = st.new == TcpState::LISTEN;
                // Both transitions run in the listening process's own system call.
                changes.push(ListenChange {
                    at: Timestamp::from_nanos(a.event.ctx.time_ns as i64, 9),
                    key: ListenerKey {
                        addr: local.ip(),
                        port: local.port(),
                    },
                    owner: a.actor.as_deref().filter(|_| listens).map(|p| Owner {
                        pid: p.pid,
                        comm: p.comm.clone(),
                        cmdline: p.cmdline.clone().unwrap_or_default(),
                        uid: p.uid,
                        cgroup: p.cgroup.clone(),
                    }),
                    pid: a.actor.as_deref().map(|p| p.pid),
                    listens,
                });
            }
        });
        self.confirm_listen_changes();
        if let Err(e) = done {
            self.failed = Some(format!("kernel events stopped: {e}"));
        }
        if self.feed.lost_records() > 0 {
            self.facts.lost_records();
        }
    }

    /// Applies the LISTEN transitions that happened in the watched namespace to the history.
    /// The tracepoints report every namespace's sockets, and the events do not say which: a
    /// service starting on 127.0.0.1:7211 in a container is not one of ours. The namespace's own
    /// sock_diag answers: a socket that entered LISTEN here is listed, one that left is not.
    fn confirm_listen_changes(&mut self) {
        if self.listen_changes.is_empty() {
            return;
        }
        let here: Option<std::collections::HashSet<ListenerKey>> = self
            .sockets
            .as_mut()
            .and_then(|s| s.listening().ok())
            .map(|keys| keys.into_iter().collect());
        for c in self.listen_changes.drain(..) {
            match &here {
                Some(here) if here.contains(&c.key) != c.listens => {
                    self.listen_seen.elsewhere += 1;
                    continue;
                }
                Some(_) => {}
                None => self.listen_seen.unconfirmed += 1,
            }
            if c.listens {
                self.history.listened(c.at, c.key, c.owner);
            } else {
                self.history.unlistened(c.at, c.key, c.pid);
            }
        }
    }
}

/// What `watch` reads: frames, the interface list, the clock, and the namespace's TCP
/// counters (compared with what was captured at the end; `None` leaves them out).
pub struct Sources<'a> {
    pub frames: &'a mut dyn FrameSource,
    pub interfaces: &'a mut dyn InterfaceSource,
    pub clock: &'a mut dyn Clock,
    pub counters: Option<&'a mut dyn CounterSource>,
    /// The kernel's events (`None`: packets alone).
    pub kernel: Option<&'a mut dyn KernelFeed>,
    /// The namespace's listening sockets, read at the end (`None`: not read).
    pub sockets: Option<&'a mut dyn SocketSource>,
    /// The listening sockets read by [`start`] while it could still name every owner (other
    /// processes' descriptors need privileges `watch` gives up); `None`: read them at the
    /// start of the loop from `sockets`.
    pub listeners_at_start: Option<Result<SocketSnapshot, SocketError>>,
}

pub fn watch(
    opts: &WatchOptions,
    sources: Sources<'_>,
    stop: &AtomicBool,
    sinks: Sinks<'_>,
) -> RunSummary {
    let Sinks { out, err } = sinks;
    let Sources {
        frames: source,
        interfaces: lister,
        clock,
        mut counters,
        kernel,
        mut sockets,
        listeners_at_start,
    } = sources;
    let first_listeners = match listeners_at_start {
        Some(first) => sockets.is_some().then_some(first),
        None => sockets.as_mut().map(|s| s.snapshot()),
    };
    let mut history = ListenerHistory::new(HISTORY_CAP);
    if let Some(Ok(snap)) = &first_listeners {
        history.snapshot(Timestamp::from_nanos(clock.now_ns(), 9), &snap.listeners);
    }
    // The feed is open: its events are on from now (packet time), while the ring may hold
    // frames captured before.
    let events_on_ns = clock.now_ns().max(0) as u64;
    let mut kernel = kernel.map(|feed| KernelState {
        history: history.clone(),
        facts: {
            let mut facts = KernelFacts::new(feed.complete());
            facts.watched_since(events_on_ns);
            facts.set_home_netns(feed.home_netns());
            facts
        },
        feed,
        failed: None,
        abort_on_overflow: match &first_listeners {
            Some(Ok(snap)) => snap.sysctls.tcp_abort_on_overflow,
            _ => None,
        },
        hints_wanted: std::collections::BTreeSet::new(),
        sockets: None,
        listen_changes: Vec::new(),
        listen_seen: ListenConfirmations::default(),
    });
    // The kernel's LISTEN transitions are confirmed against the namespace's own sockets.
    if let Some(k) = kernel.as_mut() {
        k.sockets = sockets.take();
    }
    let mut report = RunSummary {
        live: true,
        ..RunSummary::default()
    };
    let setup = Setup {
        cfg: TrackerConfig {
            headers_only: true,
            summarize_all_ended: false,
            refused_ends_at_rst: true,
            ..TrackerConfig::default()
        },
        max_conns: opts.max_conns,
        services: opts
            .services
            .clone()
            .unwrap_or_else(crate::source::services::load),
        rst_lines: true,
        storm_limit: opts.storm_limit,
    };
    let pcapng = match opts.write.as_deref().map(PcapngSink::create) {
        None => None,
        Some(Ok(sink)) => Some(sink),
        Some(Err(line)) => {
            let _ = writeln!(err, "rsthound: {line}");
            report.output_errors.push(line.to_string());
            return report;
        }
    };
    let output = Output {
        lines: Lines::new(opts.json, false, out),
        pcapng,
        tally: opts.tally.then(Default::default),
    };
    let engine = Engine::new(setup, output);
    report.max_conns = engine.max_conns;
    let mut s = Session {
        engine,
        ifaces: Interfaces::new(opts.interfaces.clone()),
        report,
        frame_no: 0,
        last_relist: i64::MIN,
        json: opts.json,
        limit: opts.count,
        rsts_leaving: 0,
        counters_from_ns: i64::MAX,
    };

    let started = clock.now_ns();
    let first = counters.as_mut().map(|c| c.sample());
    s.counters_from_ns = clock.now_ns();
    match lister.list() {
        Ok(list) => {
            s.ifaces.update(&list);
        }
        Err(e) => {
            let _ = writeln!(
                err,
                "rsthound: warning: cannot list interfaces ({e}): packets are shown with their interface index"
            );
        }
    }
    if !opts.quiet {
        let _ = writeln!(err, "{}", banner(&s.ifaces, opts));
    }
    let deadline = opts
        .duration
        .map(|d| started.saturating_add((d * 1e9) as i64));
    let mut next_tick = started + TICK_NS;
    loop {
        if stop.load(Ordering::Relaxed) || s.report.stopped_by_reader {
            break;
        }
        let now = clock.now_ns();
        if deadline.is_some_and(|d| now >= d) {
            break;
        }
        if opts.count.is_some_and(|c| s.reported() >= c) {
            break;
        }
        let timeout = deadline.map_or(200, |d| ((d - now) / 1_000_000).clamp(0, 200) as i32);
        // Kernel events first: a tcp_send_reset is recorded before its packet reaches the ring.
        if let Some(k) = kernel.as_mut() {
            k.drain();
        }
        let polled = source.poll(timeout, &mut |f| s.frame(f, err, lister, kernel.as_mut()));
        if let Err(e) = polled {
            let line = format!("capture failed: {e}");
            let _ = writeln!(err, "rsthound: {line}");
            s.report.errors.push(line);
            break;
        }
        let now = clock.now_ns();
        if now >= next_tick {
            next_tick = now + TICK_NS;
            housekeeping(&mut s, source, lister, err, now);
            if let Some(k) = kernel.as_mut() {
                k.facts.expire(now.max(0) as u64);
                k.facts.settle(now.max(0) as u64, false);
            }
        }
        if let Err(e) = s.engine.sink.lines.buf().flush(true) {
            s.output_error(e);
        }
    }
    let ended = clock.now_ns();
    if let Some(k) = kernel.as_mut() {
        k.drain();
    }
    housekeeping(&mut s, source, lister, err, ended);
    s.report.seconds = (ended - started) as f64 / 1e9;
    let last = counters.as_mut().map(|c| c.sample());
    if let Some(k) = kernel.as_mut() {
        // One scan per refused port, before the findings are worded.
        let mut by_port: std::collections::BTreeMap<u16, Vec<String>> = Default::default();
        for e in std::mem::take(&mut k.hints_wanted) {
            let hints = by_port
                .entry(e.port())
                .or_insert_with(|| KernelState::port_hints(e.port()));
            let endpoint = crate::engine::track::Endpoint {
                ip: e.ip(),
                port: e.port(),
            };
            s.engine.report.add_port_hints(endpoint, hints);
        }
    }
    let rsts_leaving = s.rsts_leaving;
    let history = kernel.as_ref().map_or(history, |k| k.history.clone());
    if let Some(k) = kernel.as_mut() {
        sockets = k.sockets.take();
    }
    let last_listeners = sockets.as_mut().map(|s| s.snapshot());
    if let Some(k) = kernel.as_mut() {
        k.facts.settle(ended.max(0) as u64, true);
    }
    let kernel_summary = kernel.map(|k| KernelSummary {
        failed_elsewhere: k.facts.stats.failed_elsewhere,
        listen_elsewhere: k.listen_seen.elsewhere,
        listen_unconfirmed: k.listen_seen.unconfirmed,
        listen_dropped: k.listen_seen.dropped,
        events: k.feed.events(),
        lost_records: k.feed.lost_records(),
        resets_unclaimed: k.facts.stats.resets_unclaimed,
        overflow: k.facts.stats.overflow,
        failed_connects: k.facts.failed_connects(),
        connect_errors: k.facts.connect_errors(),
        connect_errors_watched: k.feed.watches_connect_errors(),
        connect_errors_elsewhere: k.facts.stats.connect_errors_elsewhere,
        stopped: k.failed,
    });
    // A firewall's forged RST answers a SYN as a refusal does: the attempt failed all the same.
    let refused = s.engine.report.rsts_with(Verdict::Refused)
        + s.engine.report.rsts_with(Verdict::FirewallReject);
    let mut report = finish(s);
    if let (Some(first), Some(last)) = (first, last) {
        let seen = CaptureSeen {
            rsts_leaving,
            rsts_from_stack: None,
            failed_attempts: refused + report.unanswered,
            tcp_segments: report.stats.tcp,
            kernel_drops: report.kernel_drops,
            interfaces_filtered: !opts.interfaces.is_empty(),
            netns: opts.netns.clone(),
            other_netns: other_namespaces(opts.netns.as_deref()),
        };
        report.counters = Some(compare_counters(first, last, report.seconds, &seen));
    }
    report.kernel = kernel_summary;
    if let (Some(first), Some(last)) = (first_listeners, last_listeners) {
        report.listeners = Some(listeners_over_run(first, last, history, ended, &report));
    }
    report
}

/// Who listened on `local` before an RST refused a connection there, when nothing listens now.
fn past_listener(history: &ListenerHistory, local: std::net::SocketAddr) -> Option<PastListener> {
    let found = history.lookup(local.ip(), local.port());
    if !found.listening.is_empty() {
        return None;
    }
    let span = found.ended.first()?;
    let who = match span.owners.first() {
        Some(o) => format!("{} (pid {})", o.comm, o.pid),
        None => "an unknown process".to_string(),
    };
    let (until, exact) = match span.until? {
        Until::At(t) => (t, true),
        Until::Between(_, t) => (t, false),
    };
    Some(PastListener { who, until, exact })
}

/// The listeners over the run: which stopped, and whose queue overflowed (tied to the
/// ListenDrops delta of the counters when they were read).
fn listeners_over_run(
    first: Result<SocketSnapshot, SocketError>,
    last: Result<SocketSnapshot, SocketError>,
    mut history: ListenerHistory,
    ended_ns: i64,
    report: &RunSummary,
) -> ListenersOverRun {
    let mut out = ListenersOverRun::default();
    let (first, mut last) = match (first, last) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            out.notes.push(format!("listeners not read: {e}"));
            return out;
        }
    };
    // The end snapshot runs without privileges: a socket that was there at the start keeps
    // the owners the start could name.
    for l in last.listeners.iter_mut().filter(|l| l.owners.is_empty()) {
        if let Some(b) = first.listeners.iter().find(|b| b.inode == l.inode) {
            l.owners = b.owners.clone();
        }
    }
    history.snapshot(Timestamp::from_nanos(ended_ns, 9), &last.listeners);
    out.stopped = history.ended().cloned().collect();
    let drops = match &report.counters {
        Some(CountersOverRun::Compared { run, .. }) => run.delta("ListenDrops"),
        _ => None,
    };
    let overflow = attribute_overflow(&first.listeners, &last.listeners, &last.sysctls, drops);
    if !overflow.listeners.is_empty() {
        out.overflow = Some(overflow);
    }
    out.sysctls = last.sysctls;
    out.notes = last.notes;
    out
}

/// The counters' change over the run, and where it disagrees with what was captured.
fn compare_counters(
    first: Result<CounterSample, CounterError>,
    last: Result<CounterSample, CounterError>,
    seconds: f64,
    seen: &CaptureSeen,
) -> CountersOverRun {
    let (first, last) = match (first, last) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return CountersOverRun::Unavailable(e.to_string()),
    };
    match counters::rates(&first, &last, seconds) {
        Ok(run) => CountersOverRun::Compared {
            disagreements: counters::cross_check(&run, seen),
            run,
        },
        Err(e) => CountersOverRun::Unavailable(e.to_string()),
    }
}

/// Named network namespaces (`ip netns`) other than the one watched, to suggest when the
/// counters moved and the capture saw nothing. At most a few, sanitized.
fn other_namespaces(watched: Option<&str>) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/run/netns") else {
        return Vec::new();
    };
    let mut names: Vec<String> = dir
        .filter_map(|e| e.ok())
        .map(|e| sanitize_text(e.file_name().as_encoded_bytes(), 64))
        .filter(|n| Some(n.as_str()) != watched)
        .take(64)
        .collect();
    names.sort();
    names.truncate(5);
    names
}

/// Once a second: interface changes, kernel drops, and connections that ended in silence.
fn housekeeping(
    s: &mut Session<'_>,
    source: &mut dyn FrameSource,
    lister: &mut dyn InterfaceSource,
    err: &mut dyn Write,
    now: i64,
) {
    if let Ok(list) = lister.list() {
        let changes = s.ifaces.update(&list);
        s.announce(err, &changes, now);
    }
    match source.stats() {
        Ok(st) => {
            s.report.kernel_packets += st.packets;
            if st.drops > 0 {
                s.report.kernel_drops += st.drops;
                let _ = writeln!(
                    err,
                    "rsthound: warning: the kernel dropped {} packets (ring full; {} so far): RSTs may be missing; a larger --buffer-size helps",
                    st.drops, s.report.kernel_drops
                );
                if s.json {
                    let record = DropsRecord {
                        count: st.drops,
                        total: s.report.kernel_drops,
                        kind: "drops",
                    };
                    let _ = write_record(&mut s.engine.sink.lines.buf().buf, &record);
                }
            }
        }
        Err(e) => {
            let line = format!("cannot read the kernel's drop counter: {e}");
            if !s.report.errors.contains(&line) {
                let _ = writeln!(err, "rsthound: {line}");
                s.report.errors.push(line);
            }
        }
    }
    s.report.malformed_blocks = source.malformed_blocks();
    s.engine.tracker.advance(now);
    // A second's storm line waits one more second for RSTs in ring blocks not yet handed over.
    let storm_secs = now.div_euclid(1_000_000_000) - 1;
    let drained = s.engine.drain(Place::default(), None);
    if let Err(e) = drained.and_then(|_| s.engine.storm_tick(storm_secs)) {
        s.output_error(e);
    }
}

fn banner(ifaces: &Interfaces, opts: &WatchOptions) -> String {
    let names = ifaces.watched_names();
    let mut text = if ifaces.wanted().is_empty() {
        format!(
            "rsthound: watching {} interface{} ({}) and any created later",
            names.len(),
            if names.len() == 1 { "" } else { "s" },
            names.join(", ")
        )
    } else {
        format!("rsthound: watching {} (-i)", names.join(", "))
    };
    if let Some(ns) = &opts.netns {
        text.push_str(&format!(
            " in network namespace {}",
            sanitize_text(ns.as_bytes(), 128)
        ));
    }
    let missing = ifaces.missing();
    if !missing.is_empty() {
        text.push_str(&format!(
            "; not present now, watched if they appear: {}",
            missing
                .iter()
                .map(|m| sanitize_text(m.as_bytes(), 64))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    text.push_str(&format!(
        "\nrsthound: kernel filter: TCP segments with SYN, FIN or RST only, first {SNAPLEN} bytes; data segments are not captured, so byte counts are not known"
    ));
    text
}

fn finish(mut s: Session<'_>) -> RunSummary {
    let rendered = s.engine.finish(true);
    if let Err(e) = rendered {
        s.output_error(e);
    }
    let mut report = s.report;
    report.tracker = s.engine.tracker.stats.clone();
    report.unanswered = s.engine.unanswered;
    report.storm = s.engine.storm.stats;
    report.watched = s
        .ifaces
        .watched_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    report.interface_overflow = s.ifaces.overflow;
    report.findings = Some(s.engine.report.findings_view());
    report.tally = s.engine.sink.tally.take();
    report.report = Some(s.engine.report.view());
    match s.engine.sink.close_write() {
        Some(Ok(w)) => report.written = Some(w),
        Some(Err(line)) => report.output_errors.push(line.to_string()),
        None => {}
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::decode::TcpFlags;
    use crate::source::live::ring::PACKET_HOST;
    use crate::sys::packet::RingStats;
    use crate::testkit::synth::TcpSpec;
    use std::net::IpAddr;

    /// A scripted frame: time, ifindex, pkttype, bytes.
    type Scripted = (i64, u32, u8, Vec<u8>);

    /// Frames scripted per poll, and kernel statistics per call.
    struct FakeRing {
        polls: Vec<Vec<Scripted>>,
        drops: Vec<u64>,
    }

    impl FrameSource for FakeRing {
        fn poll(&mut self, _ms: i32, f: &mut dyn FnMut(&Frame<'_>)) -> io::Result<usize> {
            if self.polls.is_empty() {
                return Ok(0);
            }
            let batch = self.polls.remove(0);
            for (ns, ifindex, pkttype, data) in &batch {
                f(&Frame {
                    ts: Timestamp::from_nanos(*ns, 9),
                    ifindex: *ifindex,
                    pkttype: *pkttype,
                    hatype: ARPHRD_ETHER,
                    protocol: 0x0800,
                    vlan: None,
                    orig_len: data.len() as u32,
                    data,
                    net_offset: 14,
                });
            }
            Ok(batch.len())
        }
        fn stats(&mut self) -> io::Result<RingStats> {
            let drops = if self.drops.is_empty() {
                0
            } else {
                self.drops.remove(0)
            };
            Ok(RingStats {
                packets: 2 + drops,
                drops,
            })
        }
    }

    /// Interface lists, one per call (the last one repeats).
    struct FakeIfaces(Vec<Vec<(u32, &'static str)>>);

    impl InterfaceSource for FakeIfaces {
        fn list(&mut self) -> io::Result<Vec<(u32, Vec<u8>)>> {
            let l = if self.0.len() > 1 {
                self.0.remove(0)
            } else {
                self.0[0].clone()
            };
            Ok(l.iter().map(|(i, n)| (*i, n.as_bytes().to_vec())).collect())
        }
    }

    /// Each call moves time 300 ms on.
    struct FakeClock(i64);

    impl Clock for FakeClock {
        fn now_ns(&mut self) -> i64 {
            self.0 += 300_000_000;
            self.0
        }
    }

    const T0: i64 = 1_763_730_942_000_000_000;

    fn refused_pair(sport: u16, at: i64, ifindex: u32) -> Vec<Scripted> {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let syn = TcpSpec::new(ip("10.0.0.1"), sport, ip("10.0.0.2"), 7211, TcpFlags::SYN)
            .seq(1000)
            .ethernet();
        let rst = TcpSpec::new(
            ip("10.0.0.2"),
            7211,
            ip("10.0.0.1"),
            sport,
            TcpFlags::RST | TcpFlags::ACK,
        )
        .ack(1001)
        .ethernet();
        vec![
            (at, ifindex, PACKET_HOST, syn),
            (at + 1000, ifindex, PACKET_OUTGOING, rst),
        ]
    }

    fn run(
        opts: &WatchOptions,
        ring: &mut FakeRing,
        ifaces: &mut FakeIfaces,
    ) -> (RunSummary, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let stop = AtomicBool::new(false);
        let report = watch(
            opts,
            Sources {
                frames: ring,
                interfaces: ifaces,
                clock: &mut FakeClock(T0),
                counters: None,
                kernel: None,
                sockets: None,
                listeners_at_start: None,
            },
            &stop,
            Sinks {
                out: &mut out,
                err: &mut err,
            },
        );
        (
            report,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    fn opts() -> WatchOptions {
        WatchOptions {
            duration: Some(3.0),
            services: Some(Services::default()),
            ..Default::default()
        }
    }

    #[test]
    fn reports_rsts_with_interface_and_direction_and_new_interfaces() {
        let mut ring = FakeRing {
            polls: vec![
                refused_pair(40000, T0, 1),
                refused_pair(40001, T0 + 5e8 as i64, 7),
            ],
            drops: vec![],
        };
        let mut ifaces = FakeIfaces(vec![vec![(1, "lo")], vec![(1, "lo"), (7, "veth7")]]);
        let (report, out, err) = run(&opts(), &mut ring, &mut ifaces);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert!(
            lines[0].contains(" lo Out 10.0.0.2:7211 > 10.0.0.1:40000 [R.]"),
            "{out}"
        );
        assert!(lines[0].contains("refused"), "{out}");
        assert!(lines[1].contains(" veth7 Out "), "{out}");
        assert!(
            err.contains("watching 1 interface (lo) and any created later"),
            "{err}"
        );
        assert!(
            err.contains("interface veth7 (index 7) appeared: watching it"),
            "{err}"
        );
        assert_eq!(report.watched, vec!["lo", "veth7"]);
        assert_eq!(report.stats.rsts, 2);
        assert!(crate::sink::text::watch_summary(&report).contains("kernel drops: 0 of"));
    }

    /// Two RSTs left the host on the wire, but the stack's OutRsts counted one: the other was
    /// forged (a firewall's `reject with tcp reset`), and the summary says so; AttemptFails
    /// agreeing with the capture raises nothing else.
    #[test]
    fn counters_that_disagree_with_the_capture_are_reported() {
        use crate::engine::counters::CounterSample;
        use crate::source::counters::FakeCounters;
        let sample = |out_rsts: u64, fails: u64| CounterSample {
            tcp: [("OutRsts", out_rsts), ("AttemptFails", fails)]
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            ..CounterSample::default()
        };
        let mut counters = FakeCounters::new([sample(100, 50), sample(101, 52)]);
        // The fake clock reads T0 + 0.6 s when the counters are first sampled: the RSTs come
        // after it (one before it would be left out of the comparison).
        let mut ring = FakeRing {
            polls: vec![
                refused_pair(39999, T0 + 1e8 as i64, 1),
                refused_pair(40000, T0 + 1e9 as i64, 1),
                refused_pair(40001, T0 + 15e8 as i64, 1),
            ],
            drops: vec![],
        };
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let report = watch(
            &opts(),
            Sources {
                frames: &mut ring,
                interfaces: &mut FakeIfaces(vec![vec![(1, "eth0")]]),
                clock: &mut FakeClock(T0),
                counters: Some(&mut counters),
                kernel: None,
                sockets: None,
                listeners_at_start: None,
            },
            &AtomicBool::new(false),
            Sinks {
                out: &mut out,
                err: &mut err,
            },
        );
        let text = crate::sink::text::watch_summary(&report);
        assert!(text.contains("AttemptFails +2"), "{text}");
        assert!(
            text.contains("2 RSTs left this host but its TCP stack sent only 1 (OutRsts)"),
            "{text}"
        );
        assert!(!text.contains("AttemptFails rose"), "{text}");
        let json = crate::sink::json::summary_record(&report);
        let v = serde_json::to_value(&json).unwrap();
        assert_eq!(v["counters"]["OutRsts"], 1, "{v}");
        assert_eq!(v["disagreements"][0]["kind"], "rsts_not_from_stack", "{v}");
    }

    #[test]
    fn kernel_drops_warned_when_they_happen_and_summed() {
        let mut ring = FakeRing {
            polls: vec![refused_pair(40000, T0, 1)],
            drops: vec![0, 5, 0, 7],
        };
        let mut ifaces = FakeIfaces(vec![vec![(1, "lo")]]);
        let o = WatchOptions {
            json: true,
            duration: Some(6.0),
            ..opts()
        };
        let (report, out, err) = run(&o, &mut ring, &mut ifaces);
        assert_eq!(report.kernel_drops, 12);
        assert!(err.contains("the kernel dropped 5 packets"), "{err}");
        assert!(
            err.contains("the kernel dropped 7 packets (ring full; 12 so far)"),
            "{err}"
        );
        assert!(out.contains(r#""type":"drops""#), "{out}");
        assert!(crate::sink::text::watch_summary(&report).contains("kernel drops: 12 of"));
    }

    #[test]
    fn interface_filter_and_count() {
        let mut polls = vec![refused_pair(40000, T0, 2)];
        for i in 0..3 {
            polls.push(refused_pair(41000 + i, T0 + i64::from(i) * 1000, 1));
        }
        // A burst in one ring block: --count still stops exactly.
        let mut burst = Vec::new();
        for i in 0..5 {
            burst.extend(refused_pair(
                42000 + i,
                T0 + 10_000 + i64::from(i) * 1000,
                1,
            ));
        }
        polls.insert(1, burst);
        let mut ring = FakeRing {
            polls,
            drops: vec![],
        };
        let mut ifaces = FakeIfaces(vec![vec![(1, "lo"), (2, "eth0")]]);
        let o = WatchOptions {
            interfaces: vec!["lo".into()],
            count: Some(2),
            duration: None,
            ..opts()
        };
        let (report, out, err) = run(&o, &mut ring, &mut ifaces);
        assert_eq!(out.lines().count(), 2, "--count 2 stops after two: {out}");
        assert!(out.lines().all(|l| l.contains(" lo ")), "{out}");
        assert_eq!(report.other_interfaces, 2);
        assert!(err.contains("watching lo (-i)"), "{err}");
    }
}
