//! What one run saw, for its summary and its exit code — one type for every command. A count
//! that a command does not have stays zero (`files` for a live run, the kernel's counts for a
//! file read); [`RunSummary::live`] says which kind of run it was.

use crate::engine::counters::{Disagreement, IntervalRates};
use crate::engine::fusion::FailedConnects;
use crate::engine::listeners::{ListenSysctls, OverflowAttribution, Span};
use crate::engine::stats::DecodeStats;
use crate::engine::storm::StormStats;
use crate::engine::track::TrackerStats;

/// What `--write FILE.pcapng` produced: the file (sanitized for the terminal), packets written,
/// and packets the pending-memory cap dropped.
pub type Written = (String, u64, u64);

#[derive(Debug, Default)]
pub struct RunSummary {
    /// A live run (`watch`): the kernel's counts and the interfaces below apply.
    pub live: bool,
    pub stats: DecodeStats,
    /// Capture files read.
    pub files: usize,
    /// Seconds watched (live).
    pub seconds: f64,
    /// Interfaces watched (live).
    pub watched: Vec<String>,
    /// Frames that passed the kernel filter, as the kernel counts them (incl. dropped ones).
    pub kernel_packets: u64,
    /// Frames the kernel had to drop: the ring was full.
    pub kernel_drops: u64,
    /// Frames on interfaces outside `-i`.
    pub other_interfaces: u64,
    /// Loopback's outgoing copies that got past the kernel filter anyway (should stay 0).
    pub loopback_copies: u64,
    /// Ring blocks that could not be parsed to their end.
    pub malformed_blocks: u64,
    /// Interfaces the interface table had no room to name.
    pub interface_overflow: u64,
    /// What storm mode counted instead of showing.
    pub storm: StormStats,
    pub tracker: TrackerStats,
    /// Connections the tracker could hold at once.
    pub max_conns: usize,
    pub unanswered: u64,
    pub written: Option<Written>,
    /// The ranked findings, typed, with what the text says around them (`read --raw` has
    /// none); `diagnose` takes them.
    pub findings: Option<crate::engine::report::FindingsView>,
    /// The whole report, typed, for the JSON summary (made only when that is written).
    pub report: Option<crate::engine::report::ReportView>,
    /// `diagnose`: the typed tally of RSTs and failed attempts.
    pub tally: Option<crate::engine::diagnosis::tally::Tally>,
    /// The kernel's TCP counters over a live run, and where they disagree with the capture.
    pub counters: Option<CountersOverRun>,
    /// Live runs with kernel events: what was read, lost, and the failed connects by process.
    pub kernel: Option<KernelSummary>,
    /// Live runs: the listeners at the start and the end, those that stopped during the run,
    /// and whose accept queue overflowed.
    pub listeners: Option<ListenersOverRun>,
    /// One line per input that failed: `FILE: offset N: what`.
    pub errors: Vec<String>,
    /// One line per output that failed (standard output, the `--write` file), counted apart
    /// from the inputs.
    pub output_errors: Vec<String>,
    /// The output was closed early (e.g. piped into `head`); not an error.
    pub stopped_by_reader: bool,
}

/// The listening sockets over a live run.
#[derive(Debug, Default)]
pub struct ListenersOverRun {
    pub sysctls: ListenSysctls,
    /// Listeners full or overflowing at the end, most drops first, with the ListenDrops delta.
    pub overflow: Option<OverflowAttribution>,
    /// Listeners that stopped while the run watched (from the kernel's events or the two
    /// snapshots).
    pub stopped: Vec<Span>,
    /// What could not be seen (snapshot errors, processes not readable).
    pub notes: Vec<String>,
}

/// The kernel's events over a live run.
#[derive(Debug, Default)]
pub struct KernelSummary {
    pub events: u64,
    /// Records the kernel dropped (its rings were full): RSTs and processes may be missing.
    pub lost_records: u64,
    /// `tcp_send_reset` events no captured packet claimed (an interface not watched, a drop).
    pub resets_unclaimed: u64,
    /// Facts a full table could not keep.
    pub overflow: u64,
    /// Failed connects whose SYN the capture did not see (another namespace, an interface not
    /// watched): not counted per process.
    pub failed_elsewhere: u64,
    /// Failed connection attempts (SYN_SENT → CLOSE) by process and destination, most first.
    pub failed_connects: Vec<FailedConnects>,
    /// Failed `connect()` calls by process and errno, most first (`syscalls:sys_exit_connect`).
    pub connect_errors: Vec<crate::engine::fusion::ConnectErrors>,
    /// Whether connect() errors were watched (the system call tracepoint exists and opened).
    pub connect_errors_watched: bool,
    /// connect() errors of processes in other network namespaces: left out.
    pub connect_errors_elsewhere: u64,
    /// LISTEN transitions of other namespaces' sockets (the tracepoints are host-wide): left
    /// out of who listened where.
    pub listen_elsewhere: u64,
    /// LISTEN transitions taken without asking the namespace's sockets (unreadable), or not
    /// taken (too many at once).
    pub listen_unconfirmed: u64,
    pub listen_dropped: u64,
    /// Why the events stopped, if they did.
    pub stopped: Option<String>,
}

/// The namespace's TCP counters between the start and the end of a live run.
#[derive(Debug)]
pub enum CountersOverRun {
    Compared {
        run: IntervalRates,
        disagreements: Vec<Disagreement>,
    },
    /// The counters could not be read (why).
    Unavailable(String),
}

impl RunSummary {
    /// 0 when every input was read (or watched) to its end and every output written; 1 when
    /// one failed.
    pub fn exit_code(&self) -> i32 {
        if self.errors.is_empty() && self.output_errors.is_empty() {
            0
        } else {
            1
        }
    }
}
